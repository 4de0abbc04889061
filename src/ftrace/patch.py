"""How call sites change while other cores run: ftrace_modify_code and the update methods.

Every method is a generator run as a host agent on the patching core (cpu.machine.Machine.spawn): it yields
after each write, so the scheduler can put other cores' instructions between any two writes, and a sync is
`yield from run_sync()`: local icache maintenance plus an IPI to every other core that invalidates its icache,
waiting for all of them (the kernel's on_each_cpu(do_sync_core, NULL, 1)).

* breakpoint: arch/x86/kernel/ftrace.c v3.6 ftrace_replace_code(): add breakpoints, sync, update all but the
  breakpoint halfword, sync, remove breakpoints with the new first halfword, sync.
* stop_machine: the generic arch_ftrace_update_code() ARM mainline keeps: every other core parked, direct
  writes, cache maintenance broadcast, release.
* branch_over: Tixy's 16-bit branch.  The disabled site is `b.n .+6` over the whole `push {lr}; bl` pair (the
  halfword before rec->ip becomes 0xe001), so skipping it leaves the stack balanced; the enabled site is the
  compiler's `push {lr}; bl ftrace_caller`.  Enabling writes the BL into the unreachable slot, syncs, then turns
  the branch back into `push {lr}` (one 16-bit store), syncs.  Disabling writes the branch, syncs, and leaves the
  BL in the slot.  A core can sit between a `push {lr}` it executed earlier and the slot for as long as it is
  not scheduled, so before rewriting a slot the method waits until no core's pc is on it (the kernel would need
  a quiescent state per task here: synchronize_rcu_tasks).
* direct: powerpc's way: each site rewritten by one 32-bit store (modelled single-copy atomic even at addr & 2,
  the most favourable case), then one sync.
* unsynced: the same writes with only local cache maintenance on the patching core.

Any method can be weakened for ablation by naming steps to drop (`drop`): 'sync1', 'sync2', 'sync3' (the n-th
sync of the replace-code passes), 'quiesce' (branch_over's wait), 'release-flush' (stop_machine's maintenance).
"""
import errno

from ftrace.insn import BKPT, PUSH_LR, halves, mem_to_opcode, opcode_to_mem
from ftrace.records import (FTRACE_UPDATE_IGNORE, FTRACE_UPDATE_MAKE_CALL, FTRACE_UPDATE_MAKE_NOP,
                            ftrace_test_record, ftrace_update_record)
from ftrace.tracers import FTRACE_BKPT_IMM

from cpu.machine import CORE_RUNNING, CORE_PARKED

BKPT_INSN = BKPT | FTRACE_BKPT_IMM
METHODS = ("breakpoint", "stop_machine", "branch_over", "direct", "unsynced")
B_OVER = 0xE001            # b.n .+6 from the push {lr}: over the push and the 32-bit slot (branch_over's nop)
CMODX_SAFE_16 = ("b", "nop", "bkpt", "svc")


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
        self.drop = frozenset(drop)
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

    def sync(self, n):
        """The n-th sync of a replace-code pass, unless ablation drops it."""
        if f"sync{n}" in self.drop:
            return
        yield from self.run_sync()

    def write32_atomic(self, ip, opcode):
        """One 32-bit store of a whole instruction (direct/unsynced): memory never holds half of it."""
        if ip + 4 > self.m.mem_size:
            return -errno.EPERM
        self.m.write(ip, opcode_to_mem(opcode))
        self._written()
        return 0

    def quiesce(self, ip):
        """Wait until no running core is about to execute the instruction at ip."""
        if "quiesce" in self.drop:
            return
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

    def stop_machine(self, fn):
        """stop_machine(fn, NULL, NULL): park every other core with IRQs off, run fn (a generator), release.

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
        if "release-flush" not in self.drop:
            for c in self.m.cores:
                c.flush_icache()             # the broadcast maintenance, then the exception return from the stopper
        for cpu, since in parked.items():
            core = self.m.cores[cpu]
            core.charge(me.cycles - since)
            core.state = CORE_RUNNING
        return ret


def breakpoint_replace_code(ft, patcher, enable):
    """x86 v3.6 ftrace_replace_code(enable) on Thumb-2 halfwords: three passes, a sync after each."""
    bp = ft.bkpt_handler
    count = 0
    report = "adding breakpoints"
    failed = None
    for rec in ft.records:
        ret = ftrace_test_record(rec, enable)
        if ret == FTRACE_UPDATE_IGNORE:
            continue
        old = ft.nop_insn() if ret == FTRACE_UPDATE_MAKE_CALL else ft.call_insn(rec)
        cur = patcher.read_insn(rec.ip)
        err = cur if cur < 0 else (0 if cur == old else -errno.EINVAL)
        if not err:
            err = patcher.write16(rec.ip, BKPT_INSN)
            yield
        if err:
            failed = (err, rec)
            break
        count += 1
    patcher.stats.sites = count
    if failed is None:
        yield from patcher.sync(1)
        report = "updating code"
        count, failed = yield from new_halfword_pass(ft, patcher, enable, ftrace_test_record, 1)
    if failed is None:
        yield from patcher.sync(2)
        report = "removing breakpoints"
        count, failed = yield from new_halfword_pass(ft, patcher, enable, ftrace_update_record, 0)
    if failed is None:
        yield from patcher.sync(3)
        return 0
    err, rec = failed
    ft.ftrace_bug(err, rec.ip)
    ft.printk(f"Failed on {report} ({count}):")
    for r in ft.records:
        remove_breakpoint(ft, patcher, r)
    yield from patcher.run_sync()
    bp.modifying_ftrace_code = ft.modifying_ftrace_code > 0
    return err


def new_halfword_pass(ft, patcher, enable, check, half):
    """Write halfword `half` (0 first, 1 second) of every changing site's new instruction, a yield after each;
    `check` is ftrace_test_record (pass 2) or ftrace_update_record (pass 3, which commits the flags)."""
    count = 0
    for rec in ft.records:
        ret = check(rec, enable)
        if ret == FTRACE_UPDATE_IGNORE:
            continue
        new = ft.call_insn(rec) if ret == FTRACE_UPDATE_MAKE_CALL else ft.nop_insn()
        err = patcher.write16(rec.ip + 2 * half, halves(new)[half])
        yield
        if err:
            return count, (err, rec)
        count += 1
    return count, None


def remove_breakpoint(ft, patcher, rec):
    """x86 remove_breakpoint(): restore the first halfword according to what the second one holds."""
    data = patcher.m.read(rec.ip, 4)
    first = int.from_bytes(data[:2], "little")
    second = int.from_bytes(data[2:], "little")
    if first != BKPT_INSN:
        return 0
    nop, call = ft.nop_insn(), ft.call_insn(rec)
    if second == halves(nop)[1]:
        patcher.m.write16(rec.ip, halves(nop)[0])
    elif second == halves(call)[1]:
        patcher.m.write16(rec.ip, halves(call)[0])
    else:
        return -errno.EINVAL
    return 0


def direct_replace_code(ft, patcher, enable):
    """The generic ftrace_replace_code(): __ftrace_replace_code per record, stop at the first failure."""
    for rec in ft.records:
        ret = ftrace_update_record(rec, enable)
        if ret == FTRACE_UPDATE_IGNORE:
            continue
        if ret == FTRACE_UPDATE_MAKE_CALL:
            err = yield from patcher.ftrace_modify_code(rec.ip, ft.nop_insn(), ft.call_insn(rec))
        else:
            err = yield from patcher.ftrace_modify_code(rec.ip, ft.call_insn(rec), ft.nop_insn())
        patcher.stats.sites += 1
        if err:
            ft.ftrace_bug(err, rec.ip)
            return err
    return 0


def branch_over_replace_code(ft, patcher, enable):
    """The 16-bit branch over the whole site (see the module docstring): two passes, a sync after each."""
    m = patcher.m
    changing = []
    for rec in ft.records:
        ret = ftrace_test_record(rec, enable)
        if ret == FTRACE_UPDATE_IGNORE:
            continue
        head = m.read16(rec.ip - 2)
        call = ft.call_insn(rec)
        if ret == FTRACE_UPDATE_MAKE_CALL:
            if head != B_OVER:
                return bug(ft, -errno.EINVAL, rec)
            if patcher.read_insn(rec.ip) != call:
                yield from patcher.quiesce(rec.ip)
                err = yield from patcher.patch_text(rec.ip, call)
                if err:
                    return bug(ft, err, rec)
        else:
            if head != PUSH_LR or patcher.read_insn(rec.ip) != call:
                return bug(ft, -errno.EINVAL, rec)
            err = patcher.write16(rec.ip - 2, B_OVER)
            yield
            if err:
                return bug(ft, err, rec)
        changing.append(rec)
    patcher.stats.sites = len(changing)
    yield from patcher.sync(1)
    for rec in changing:
        if ftrace_update_record(rec, enable) == FTRACE_UPDATE_MAKE_CALL:
            err = patcher.write16(rec.ip - 2, PUSH_LR)
            yield
            if err:
                return bug(ft, err, rec)
    yield from patcher.sync(2)
    return 0


def whole_insn_replace_code(ft, patcher, enable, synced):
    """direct (synced=True: one sync at the end) and unsynced (local maintenance only)."""
    n = 0
    for rec in ft.records:
        ret = ftrace_update_record(rec, enable)
        if ret == FTRACE_UPDATE_IGNORE:
            continue
        old, new = ((ft.nop_insn(), ft.call_insn(rec)) if ret == FTRACE_UPDATE_MAKE_CALL
                    else (ft.call_insn(rec), ft.nop_insn()))
        cur = patcher.read_insn(rec.ip)
        if cur != old:
            return bug(ft, cur if cur < 0 else -errno.EINVAL, rec)
        err = patcher.write32_atomic(rec.ip, new)
        yield
        if err:
            return bug(ft, err, rec)
        patcher.flush_local(rec.ip)
        n += 1
    patcher.stats.sites = n
    if synced:
        yield from patcher.sync(1)
    return 0


def bug(ft, err, rec):
    ft.ftrace_bug(err, rec.ip)
    return err


def cmodx_covered(old, new):
    """ARMv7 concurrent modification and execution: for Thumb only the 16-bit B, NOP, BKPT and SVC may be
    swapped for one another while another core executes them (old and new are (size, kind) pairs)."""
    return all(size == 2 and kind in CMODX_SAFE_16 for size, kind in (old, new))
