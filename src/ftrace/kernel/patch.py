"""The arch layer's writes and syncs (patch.c, ftrace_modify_code, on_each_cpu, stop_machine) that the update
methods (methods.py) build on.

Every write is made from a generator run as a host agent on the patching core (cpu.machine.Machine.spawn): it
yields after each write, so the scheduler can put other cores' instructions between any two writes.  Cache
maintenance is v7m_coherent_user_range on the patching core (flush_icache_range: clean to the PoU, DSB,
invalidate, DSB, ISB), each operation its own agent step only where the machine's model gives it an effect; a
sync is `yield from run_sync()`: that, plus an IPI to every other core that invalidates its icache and returns
(an exception return: a context synchronization event), waiting for all of them (x86 on_each_cpu(do_sync_core,
NULL, 1), arm64 kick_all_cpus_sync).
"""
import errno

from ftrace.kernel.insn import halves, mem_to_opcode, opcode_to_mem

from cpu.machine import CORE_RUNNING, CORE_PARKED



def do_sync_core(core):
    """The sync IPI's handler (x86 do_sync_core; arm64 kick_all_cpus_sync's do_nothing): ICIALLU on this core;
    its return from the exception is the context synchronization event."""
    core.flush_icache()


def do_nothing(core):
    """kick_all_cpus_sync()'s IPI handler: taking the IPI and returning is the context synchronization."""


class PatchStats:
    """What one update cost: writes, syncs, IPIs, breakpoint hits, cycles (patcher and others)."""

    def __init__(self):
        self.writes = 0
        self.syncs = 0
        self.ipis = 0
        self.sites = 0

    def as_dict(self):
        return dict(self.__dict__)


class CodePatcher:
    """The arch layer's writes and syncs for one Ftrace instance, on its machine."""

    def __init__(self, machine, cpu, write_cost=4, drop=()):
        self.m = machine
        self.cpu = cpu
        self.write_cost = write_cost
        self.drop = frozenset(drop)     # 'pou-clean', 'isb': maintenance steps an ablation skips
        self.stats = PatchStats()
        self.pending_watch = None
        self.dirty = None               # [lo, hi) of the code written since the last sync (run_sync cleans it)
        self.sync_observers = []        # f(event) at each sync's 'start' and 'end' (explorer coverage)
        self.write_observers = []       # f(ip, size) just before each store to code (the checker's evictions)
        # mutant switches (ftrace.explore.mutants), off by default:
        self.no_self_flush = False      # the patching core never invalidates its own icache
        self.sync_skips = frozenset()   # lines the sync IPI leaves valid (then it invalidates by MVA, not ICIALLU)

    def watch_on_first_write(self, locations):
        """The CMODX audit counts fetches of `locations` from this update's first write on (None: stop):
        fetches before any write, while a stop_machine is still parking the cores, modify nothing."""
        self.pending_watch = locations
        if locations is None:
            self.m.set_fetch_watch(())

    def _writing(self, ip, size):
        for f in self.write_observers:
            f(ip, size)

    def _written(self, ip, size):
        lo, hi = self.dirty or (ip, ip + size)
        self.dirty = (min(lo, ip), max(hi, ip + size))
        self.stats.writes += 1
        self.m.cores[self.cpu].charge(self.write_cost)
        if self.pending_watch:
            self.m.set_fetch_watch(self.pending_watch)
            self.pending_watch = ()

    # ---- primitive writes (probe_kernel_read / probe_kernel_write / __patch_text) ----

    def read_insn(self, ip):
        """-EFAULT if the four bytes cannot be read, else the canonical opcode."""
        if ip + 4 > self.m.mem_size:
            return -errno.EFAULT
        return mem_to_opcode(self.m.read(ip, 4))

    def write16(self, ip, hw):
        if ip + 2 > self.m.mem_size:
            return -errno.EPERM
        self._writing(ip, 2)
        self.m.write16(ip, hw)
        self._written(ip, 2)
        return 0

    def patch_text(self, ip, opcode):
        """__patch_text: a site with addr & 2 is two halfword stores (a yield between them); else one word."""
        if ip + 4 > self.m.mem_size:
            return -errno.EPERM
        first, second = halves(opcode)
        if ip & 2:
            self.write16(ip, first)
            yield
            self.write16(ip + 2, second)
        else:
            self._writing(ip, 4)
            self.m.write(ip, opcode_to_mem(opcode))
            self._written(ip, 4)
        yield
        return 0

    def coherent_range(self, start, end, invalidate):
        """arch/arm/mm/cache-v7m.S v7m_coherent_user_range on the patching core: DCCMVAU over [start, end), DSB,
        `invalidate` (ICIMVAU over the range, or ICIALLU), DSB, ISB.

        An operation is its own agent step (a yield after it) only when the machine's model gives it an effect:
        the clean and the DSBs under a PoU or reordered code stores, the ISB under prefetch, the invalidate when
        any of these splits the sequence.  A no-op needs no scheduling point, so under `ideal` the whole
        sequence is one step, as it always was, and every seeded schedule and result is unchanged.
        """
        model = self.m.model
        ordered = model.pou or model.store_order
        me = self.m.cores[self.cpu]
        if "pou-clean" not in self.drop:
            self.m.clean_dcache_range(start, end)
            if ordered:
                yield
        self.m.dsb(self.cpu)
        if ordered:
            yield
        if not self.no_self_flush:
            invalidate(me)
        if ordered or model.prefetch:
            yield
        self.m.dsb(self.cpu)
        if ordered:
            yield
        if "isb" not in self.drop:
            me.isb()
            if model.prefetch:
                yield

    def flush_icache_range(self, start, end):
        """arch/arm/mm/cache-v7m.S v7m_coherent_user_range(start, end) on the patching core (ICIMVAU: local)."""
        yield from self.coherent_range(start, end, lambda core: core.flush_icache_range(start, end))

    def run_sync(self):
        """x86 run_sync(): on_each_cpu(do_sync_core, NULL, 1), as arm64's flush_icache_range ends in
        kick_all_cpus_sync(): the written code cleaned and this core's icache invalidated (ICIALLU), then every
        other running core IPIed to invalidate its own (v7-M's maintenance is local) and return from the IPI
        (a context synchronization event), waiting for every acknowledgement.  Then the writes made before the
        sync began are claimed visible: a later fetch of bytes they overwrote is late-stale."""
        start = self.m.wseq
        lo, hi = self.dirty or (0, 0)
        self.dirty = None
        self.stats.syncs += 1
        for f in self.sync_observers:
            f("start")
        yield from self.coherent_range(lo, hi, lambda core: core.flush_icache())
        yield from self.kick_all_cpus_sync(self._sync_by_mva(lo, hi) if self.sync_skips else do_sync_core)
        self.m.completed_wseq = start
        for f in self.sync_observers:
            f("end")

    def _sync_by_mva(self, lo, hi):
        """The sync IPI as ICIMVAU over the written lines, leaving out sync_skips."""
        size = self.m.line_size

        def handler(core):
            for a in range(lo & -size, hi, size):
                if a not in self.sync_skips:
                    core.flush_icache_range(a, a + size)
        return handler

    def kick_all_cpus_sync(self, fn):
        """IPI every other running core with fn and wait until all have taken it (smp_call_function(fn, NULL,
        1))."""
        others = [c.id for c in self.m.cores if c.state == CORE_RUNNING and c.id != self.cpu]
        self.stats.ipis += len(others)
        yield self.m.send_ipi(others, fn)

    def write32_atomic(self, ip, opcode):
        """One 32-bit store of a whole instruction (direct/unsynced): memory never holds half of it."""
        if ip + 4 > self.m.mem_size:
            return -errno.EPERM
        self._writing(ip, 4)
        self.m.write(ip, opcode_to_mem(opcode))
        self._written(ip, 4)
        return 0

    def quiesce(self, ip):
        """Wait until no running core is about to execute the instruction at ip."""
        yield lambda: all(c.pc != ip or c.state != CORE_RUNNING for c in self.m.cores if c.id != self.cpu)

    def ftrace_modify_code(self, ip, old, new, validate=True):
        """arch/arm/kernel/ftrace.c ftrace_modify_code: read, compare, write, flush; 0/-EFAULT/-EINVAL/-EPERM.

        A generator (yields between stores); its return value is the kernel's.
        """
        if validate:
            cur = self.read_insn(ip)
            if cur < 0:
                return cur
            if cur != old:
                return -errno.EINVAL
        ret = yield from self.patch_text(ip, new)
        if ret:
            return ret
        yield from self.flush_icache_range(ip, ip + 4)
        return 0

    # ---- stop_machine ----

    def stop_machine(self, fn, release_flush=True, waiters_isb=False):
        """kernel/stop_machine.c stop_machine(fn, NULL, NULL): park every other core in multi_cpu_stop with IRQs
        off, run fn (a generator) on this one, release.  release_flush=False leaves out the broadcast icache
        invalidate (ablation).  The waiters return with no context synchronization (ARM32: nothing in patch.c or
        ftrace.c gives them one) unless waiters_isb: arm64 aarch64_insn_patch_text_cb()'s isb() once the
        patcher is done.

        Parked cores are charged the cycles the patcher spends until the release.
        """
        me = self.m.cores[self.cpu]
        parked = {}

        def park(core):
            parked[core.id] = me.cycles
            core.state = CORE_PARKED
            core.request_stop()
        others = [c.id for c in self.m.cores if c.state == CORE_RUNNING and c.id != self.cpu]
        self.stats.ipis += len(others)
        acked = self.m.send_ipi(others, park)
        yield acked
        ret = yield from fn()
        self.m.cores[self.cpu].flush_icache()
        if release_flush:
            for c in self.m.cores:
                c.flush_icache()             # the invalidate broadcast to the inner shareable domain (v7-A MP)
        # every write is done and flushed while no other core ran: nothing is modified while they execute it,
        # so the CMODX audit's window closes here (arm64's kick after the release modifies nothing)
        self.watch_on_first_write(None)
        for f in self.sync_observers:
            f("end")                         # the release: the parked cores' windows close here
        for cpu, since in parked.items():
            core = self.m.cores[cpu]
            core.charge(me.cycles - since)
            if waiters_isb and "isb" not in self.drop:
                core.isb()
            core.state = CORE_RUNNING
        return ret
