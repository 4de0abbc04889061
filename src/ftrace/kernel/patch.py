"""The arch layer's writes and syncs (patch.c, ftrace_modify_code, on_each_cpu, stop_machine) that the update
methods (methods.py) build on.

Every write is made from a generator run as a host agent on the patching core (cpu.machine.Machine.spawn): it
yields after each write, so the scheduler can put other cores' instructions between any two writes, and a sync is
`yield from run_sync()`: local icache maintenance plus an IPI to every other core that invalidates its icache,
waiting for all of them (the kernel's on_each_cpu(do_sync_core, NULL, 1)).
"""
import errno

from ftrace.kernel.insn import halves, mem_to_opcode, opcode_to_mem

from cpu.machine import CORE_RUNNING, CORE_PARKED



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

    def __init__(self, machine, cpu, write_cost=4):
        self.m = machine
        self.cpu = cpu
        self.write_cost = write_cost
        self.stats = PatchStats()
        self.pending_watch = None

    def watch_on_first_write(self, locations):
        """The CMODX audit counts fetches of `locations` from this update's first write on (None: stop):
        fetches before any write, while a stop_machine is still parking the cores, modify nothing."""
        self.pending_watch = locations
        if locations is None:
            self.m.set_fetch_watch(())

    def _written(self):
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
        self.m.write16(ip, hw)
        self._written()
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
            self.m.write(ip, opcode_to_mem(opcode))
            self._written()
        yield
        return 0

    def flush_local(self, ip, size=4):
        self.m.cores[self.cpu].flush_icache_range(ip, ip + size)

    def run_sync(self):
        """on_each_cpu(do_sync_core, NULL, 1): every other running core invalidates its icache, and we wait."""
        self.stats.syncs += 1
        others = [c.id for c in self.m.cores if c.state == CORE_RUNNING and c.id != self.cpu]
        self.stats.ipis += len(others)
        self.m.cores[self.cpu].flush_icache()
        yield from self.m.on_each_cpu(lambda core: core.flush_icache(), exclude=self.cpu)

    def write32_atomic(self, ip, opcode):
        """One 32-bit store of a whole instruction (direct/unsynced): memory never holds half of it."""
        if ip + 4 > self.m.mem_size:
            return -errno.EPERM
        self.m.write(ip, opcode_to_mem(opcode))
        self._written()
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
        self.flush_local(ip)
        return 0

    # ---- stop_machine ----

    def stop_machine(self, fn, release_flush=True):
        """stop_machine(fn, NULL, NULL): park every other core with IRQs off, run fn (a generator), release
        (release_flush=False: without the broadcast cache maintenance, for ablation).

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
                c.flush_icache()             # the broadcast maintenance, then the exception return from the stopper
        for cpu, since in parked.items():
            core = self.m.cores[cpu]
            core.charge(me.cycles - since)
            core.state = CORE_RUNNING
        return ret

