"""How call sites change while other cores run: ftrace_modify_code and the update methods.

Every method is a generator run as a host agent on the patching core (cpu.machine.Machine.spawn): it yields
after each write, so the scheduler can put other cores' instructions between any two writes, and a sync is
`yield from run_sync()`: local icache maintenance plus an IPI to every other core that invalidates its icache,
waiting for all of them (the kernel's on_each_cpu(do_sync_core, NULL, 1)).

* breakpoint: arch/x86/kernel/ftrace.c v3.6 ftrace_replace_code(): add breakpoints, sync, update all but the
  breakpoint halfword, sync, remove breakpoints with the new first halfword, sync.
* stop_machine: the generic arch_ftrace_update_code() ARM mainline keeps: every other core parked, direct
  writes, cache maintenance broadcast, release.
"""
import errno

from ftrace.insn import BKPT, halves, mem_to_opcode, opcode_to_mem
from ftrace.records import (FTRACE_UPDATE_IGNORE, FTRACE_UPDATE_MAKE_CALL, FTRACE_UPDATE_MAKE_NOP,
                            ftrace_test_record, ftrace_update_record)
from ftrace.tracers import FTRACE_BKPT_IMM

from cpu.machine import CORE_RUNNING

CORE_PARKED = 3
BKPT_INSN = BKPT | FTRACE_BKPT_IMM
METHODS = ("breakpoint", "stop_machine")


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

    def __init__(self, machine, cpu, write_cost=4, spin_cost=1):
        self.m = machine
        self.cpu = cpu
        self.write_cost = write_cost
        self.stats = PatchStats()

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
        self.stats.writes += 1
        self.m.cores[self.cpu].charge(self.write_cost)
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
            self.stats.writes += 1
            self.m.cores[self.cpu].charge(self.write_cost)
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
        for c in self.m.cores:
            c.flush_icache()                 # the broadcast maintenance, then the exception return from the stopper
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
        yield from patcher.run_sync()
        report = "updating code"
        count = 0
        for rec in ft.records:
            ret = ftrace_test_record(rec, enable)
            if ret == FTRACE_UPDATE_IGNORE:
                continue
            new = ft.call_insn(rec) if ret == FTRACE_UPDATE_MAKE_CALL else ft.nop_insn()
            err = patcher.write16(rec.ip + 2, halves(new)[1])
            yield
            if err:
                failed = (err, rec)
                break
            count += 1
    if failed is None:
        yield from patcher.run_sync()
        report = "removing breakpoints"
        count = 0
        for rec in ft.records:
            ret = ftrace_update_record(rec, enable)
            if ret == FTRACE_UPDATE_IGNORE:
                continue
            new = ft.call_insn(rec) if ret == FTRACE_UPDATE_MAKE_CALL else ft.nop_insn()
            err = patcher.write16(rec.ip, halves(new)[0])
            yield
            if err:
                failed = (err, rec)
                break
            count += 1
    if failed is None:
        yield from patcher.run_sync()
        return 0
    err, rec = failed
    ft.ftrace_bug(err, rec.ip)
    ft.printk(f"Failed on {report} ({count}):")
    for r in ft.records:
        remove_breakpoint(ft, patcher, r)
    yield from patcher.run_sync()
    bp.modifying_ftrace_code = ft.modifying_ftrace_code > 0
    return err


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
