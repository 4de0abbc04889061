"""The update methods: how the call sites change while the other cores run, one class each, in METHODS.

The generic core (core.py, kernel/trace/ftrace.c) calls the arch hooks of its method object, as the kernel's
generic code calls the __weak functions an arch overrides (arch/x86/kernel/ftrace.c): ftrace_code_disable at
boot, arch_ftrace_update_code around ftrace_modify_all_code, ftrace_replace_code for the call sites and
ftrace_modify_code for ftrace_call / ftrace_graph_call.  Every code-changing hook is a generator run as a host
agent on the patching core: it yields after each write, and a sync is `yield from patcher.run_sync()`.

* breakpoint: arch/x86/kernel/ftrace.c v3.6 ftrace_replace_code(): add breakpoints, sync, update all but the
  breakpoint halfword, sync, remove breakpoints with the new first halfword, sync.  The handler stays armed
  until the last sync is acknowledged and no core is inside it (x86 285a54efe386, 1f676247f36a).
* stop_machine: the generic arch_ftrace_update_code() ARM mainline keeps: every other core parked in
  multi_cpu_stop, direct writes each with flush_icache_range, the invalidate broadcast, release; the waiters
  return with no ISB (ARM32's patch.c and ftrace.c give them none).
* stop_machine_arm64: the same with arm64's aarch64_insn_patch_text_cb(): the waiters isb() once the patcher is
  done, and kick_all_cpus_sync() at the end.
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

Cache maintenance and syncs are patch.py's (flush_icache_range = v7m_coherent_user_range; run_sync = that plus
on_each_cpu(do_sync_core, NULL, 1)).  Any method can be weakened for ablation by naming steps to drop (`drop`,
from its class's `droppable`): 'sync1', 'sync2', 'sync3' (the n-th sync of the replace-code passes), 'quiesce'
(branch_over's wait), 'release-flush' (stop_machine's broadcast invalidate), 'keep-armed' (breakpoint: disarm
the handler right after the last write, before the final sync), 'pou-clean' (the clean to the PoU before each
invalidate) and 'isb' (the patcher's ISB; stop_machine_arm64's waiters' too).  A new method is one class, added
to METHODS with register().
"""
import errno
from typing import Callable, NamedTuple

from ftrace.kernel import cmodx, insn
from ftrace.kernel.patch import do_nothing
from ftrace.kernel.records import (FTRACE_UPDATE_IGNORE, FTRACE_UPDATE_MAKE_CALL, ftrace_test_record,
                            ftrace_update_record)
from ftrace.kernel.tracers import FTRACE_BKPT_IMM

BKPT_INSN = insn.BKPT | FTRACE_BKPT_IMM
UDF_INSN = insn.UDF | FTRACE_BKPT_IMM      # udf #0xf7: clear of ptrace's 0xde01, BUG()'s 0xde02, kprobes' 0xde18,
                                           # KGDB's 0xdefe, so an undef hook matching 0xffff catches ftrace's alone
TRAPS = {"bkpt": BKPT_INSN, "udf": UDF_INSN}   # the breakpoint method's trap -> the halfword it writes
B_OVER = 0xE001            # b.n .+6 from the push {lr}: over the push and the 32-bit slot (branch_over's nop)

METHODS = {}               # name -> class, in the order the CLI and campaigns list them


def register(cls):
    """Make an UpdateMethod subclass selectable by its name (Ftrace(method=...), the CLI, the explorer)."""
    METHODS[cls.name] = cls
    return cls


def check_drop(name, drop):
    """ValueError unless method `name` has every step of `drop` to drop."""
    droppable = METHODS[name].droppable
    bad = [d for d in drop if d not in droppable]
    if bad:
        raise ValueError(f"{name} has no step {bad[0]!r} to drop; droppable: {', '.join(droppable) or 'none'}")


def check_trap(trap):
    """ValueError unless `trap` names one of TRAPS."""
    if trap not in TRAPS:
        raise ValueError(f"trap must be one of {', '.join(TRAPS)}, got {trap!r}")


def droppable_help(names=None):
    """'method: step, step; method: none' for the named methods (default: every one)."""
    return "; ".join(f"{m}: {', '.join(METHODS[m].droppable) or 'none'}" for m in (names or METHODS))


class FtraceServices(NamedTuple):
    """What the generic core lends a method: ftrace_bug, printk and ftrace_modify_all_code of
    kernel/trace/ftrace.c, and the arch's ftrace_nop_replace / ftrace_call_replace (nop_insn, call_insn)."""
    ftrace_bug: Callable
    printk: Callable
    ftrace_modify_all_code: Callable
    nop_insn: Callable
    call_insn: Callable


class UpdateMethod:
    """The default arch layer: the generic ftrace_replace_code over ARM's ftrace_modify_code, inside x86 v3.6's
    arch_ftrace_update_code.  A method overrides the hooks that differ."""

    name = None
    droppable = ()          # the steps `drop` may name
    # what the 2012 question expects of the method, which the explorer's report checks: 'safe' (no violation),
    # 'straddling' (torn only at sites across an icache line), 'stale-and-torn'; and the dropped steps it
    # expects the explorer to catch
    expected = None
    expected_when_dropped = ()

    def __init__(self, machine, patcher, records, services, bkpt_handler, drop=(), cmodx_list="v7", trap="bkpt"):
        check_drop(self.name, drop)
        cmodx.check(cmodx_list)
        check_trap(trap)
        self.cmodx = cmodx_list             # the CMODX list the audit judges rewrites by (ftrace.kernel.cmodx)
        self.m = machine
        self.patcher = patcher
        self.records = records
        self.ft = services
        self.bkpt = bkpt_handler
        self.drop = frozenset(drop)
        self.trap = trap
        self.trap_insn = TRAPS[trap]
        self.modifying_ftrace_code = 0

    def sync(self, n):
        """The n-th sync of a replace-code pass, unless ablation drops it."""
        if f"sync{n}" not in self.drop:
            yield from self.patcher.run_sync()

    def bug(self, err, rec):
        self.ft.ftrace_bug(err, rec.ip)
        return err

    # ---- boot ----

    def ftrace_code_disable(self, rec, mcount_addr):
        """kernel/trace/ftrace.c ftrace_code_disable(): `bl __gnu_mcount_nc` becomes the disabled site."""
        return (yield from self.patcher.ftrace_modify_code(rec.ip, insn.thumb_bl(rec.ip, mcount_addr),
                                                           self.ft.nop_insn()))

    # ---- updates ----

    def arch_ftrace_update_code(self, command):
        """arch/x86/kernel/ftrace.c v3.6 arch_ftrace_update_code(): modifying_ftrace_code++ makes the breakpoint
        handler consult ftrace."""
        self.modifying_ftrace_code += 1
        self.bkpt.modifying_ftrace_code = True
        try:
            return (yield from self.ft.ftrace_modify_all_code(command))
        finally:
            self.modifying_ftrace_code -= 1
            self.bkpt.modifying_ftrace_code = self.modifying_ftrace_code > 0

    def ftrace_replace_code(self, enable):
        """kernel/trace/ftrace.c ftrace_replace_code(): __ftrace_replace_code per record, stop at the first
        failure."""
        p = self.patcher
        for rec in self.records:
            ret = ftrace_update_record(rec, enable)
            if ret == FTRACE_UPDATE_IGNORE:
                continue
            if ret == FTRACE_UPDATE_MAKE_CALL:
                err = yield from p.ftrace_modify_code(rec.ip, self.ft.nop_insn(), self.ft.call_insn(rec))
            else:
                err = yield from p.ftrace_modify_code(rec.ip, self.ft.call_insn(rec), self.ft.nop_insn())
            p.stats.sites += 1
            if err:
                return self.bug(err, rec)
        return 0

    def ftrace_modify_code(self, ip, new):
        """ftrace_call / ftrace_graph_call: arch/arm/kernel/ftrace.c ftrace_update_ftrace_func()'s
        ftrace_modify_code(pc, 0, new, false) (4-byte aligned, not validated)."""
        return (yield from self.patcher.ftrace_modify_code(ip, 0, new, validate=False))

    # ---- what a site holds ----

    def site_state(self, rec):
        """What the site holds now: 'nop', 'call' or 'other' (and 'bkpt' for the breakpoint method)."""
        op = insn.mem_to_opcode(self.m.read(rec.ip, 4))
        if op == self.ft.nop_insn():
            return "nop"
        return "call" if op == self.ft.call_insn(rec) else "other"

    def nop_kind(self):
        """The era's nop as the CMODX audit names it."""
        return 4, insn.NOP_KIND[self.ft.nop_insn()]

    def site_halfwords(self, ip):
        """The halfwords an update of the site at ip may rewrite."""
        return [ip, ip + 2]

    def site_writes(self, rec, ret):
        """[(address, (size, kind) before, (size, kind) after)] of the instructions an update `ret` rewrites."""
        return [(rec.ip, self.nop_kind(), (4, "bl"))]

    def cmodx_locations(self, enable):
        """The sites' instruction addresses this pass rewrites where the CMODX list does not let another core
        fetch while old becomes new."""
        locs = []
        for rec in self.records:
            ret = ftrace_test_record(rec, enable)
            if ret != FTRACE_UPDATE_IGNORE:
                locs += dict.fromkeys(a for a, old, new in self.site_writes(rec, ret)
                                      if not cmodx.allows(self.cmodx, old, new))
        return locs


class Breakpoint(UpdateMethod):
    """x86 v3.6's breakpoint method on Thumb-2 halfwords (arch/x86/kernel/ftrace.c)."""

    name = "breakpoint"
    droppable = ("sync1", "sync2", "sync3", "keep-armed", "pou-clean", "isb")
    expected = "safe"
    expected_when_dropped = ("sync1", "sync2", "sync3")     # on the ideal machine; keep-armed needs IPI latency
                                                            # or handler time, pou-clean a PoU, isb prefetch

    def arch_ftrace_update_code(self, command):
        """arch/x86/kernel/ftrace.c v3.6 arch_ftrace_update_code(), with the handler kept armed until the last
        sync is acknowledged and no core is still inside it (x86 285a54efe386; 1f676247f36a waits for the count
        of active handlers to drain)."""
        self.modifying_ftrace_code += 1
        self.bkpt.modifying_ftrace_code = True
        try:
            ret = yield from self.ft.ftrace_modify_all_code(command)
            if "keep-armed" not in self.drop and self.m.handlers_active:
                yield self.m.handlers_drained
            return ret
        finally:
            self.modifying_ftrace_code -= 1
            self.bkpt.modifying_ftrace_code = self.modifying_ftrace_code > 0

    def arm(self):
        """Without keep-armed the handler is armed per batch of breakpoints (as text_poke_bp arms its vector)."""
        if "keep-armed" in self.drop:
            self.bkpt.modifying_ftrace_code = True

    def final_sync(self, sync):
        """The sync after which no breakpoint is left in memory.  Without keep-armed the handler is disarmed
        right after the last write, before this sync: the bug 285a54efe386 fixed."""
        if "keep-armed" in self.drop:
            self.bkpt.modifying_ftrace_code = False
        yield from sync

    def ftrace_replace_code(self, enable):
        """arch/x86/kernel/ftrace.c v3.6 ftrace_replace_code(): three passes, a sync after each."""
        p = self.patcher
        self.arm()
        count = 0
        report = "adding breakpoints"
        failed = None
        for rec in self.records:
            ret = ftrace_test_record(rec, enable)
            if ret == FTRACE_UPDATE_IGNORE:
                continue
            old = self.ft.nop_insn() if ret == FTRACE_UPDATE_MAKE_CALL else self.ft.call_insn(rec)
            cur = p.read_insn(rec.ip)
            err = cur if cur < 0 else (0 if cur == old else -errno.EINVAL)
            if not err:
                err = p.write16(rec.ip, self.trap_insn)
                yield
            if err:
                failed = (err, rec)
                break
            count += 1
        p.stats.sites = count
        if failed is None:
            yield from self.sync(1)
            report = "updating code"
            count, failed = yield from self.new_halfword_pass(enable, ftrace_test_record, 1)
        if failed is None:
            yield from self.sync(2)
            report = "removing breakpoints"
            count, failed = yield from self.new_halfword_pass(enable, ftrace_update_record, 0)
        if failed is None:
            yield from self.final_sync(self.sync(3))
            return 0
        err, rec = failed
        self.ft.ftrace_bug(err, rec.ip)
        self.ft.printk(f"Failed on {report} ({count}):")
        for r in self.records:
            self.remove_breakpoint(r)
        yield from p.run_sync()
        return err

    def new_halfword_pass(self, enable, check, half):
        """Write halfword `half` (0 first, 1 second) of every changing site's new instruction, a yield after
        each; `check` is ftrace_test_record (pass 2) or ftrace_update_record (pass 3, which commits the flags)."""
        count = 0
        for rec in self.records:
            ret = check(rec, enable)
            if ret == FTRACE_UPDATE_IGNORE:
                continue
            new = self.ft.call_insn(rec) if ret == FTRACE_UPDATE_MAKE_CALL else self.ft.nop_insn()
            err = self.patcher.write16(rec.ip + 2 * half, insn.halves(new)[half])
            yield
            if err:
                return count, (err, rec)
            count += 1
        return count, None

    def remove_breakpoint(self, rec):
        """x86 remove_breakpoint(): restore the first halfword according to what the second one holds."""
        data = self.m.read(rec.ip, 4)
        first = int.from_bytes(data[:2], "little")
        second = int.from_bytes(data[2:], "little")
        if first != self.trap_insn:
            return 0
        nop, call = self.ft.nop_insn(), self.ft.call_insn(rec)
        if second == insn.halves(nop)[1]:
            self.m.write16(rec.ip, insn.halves(nop)[0])
        elif second == insn.halves(call)[1]:
            self.m.write16(rec.ip, insn.halves(call)[0])
        else:
            return -errno.EINVAL
        return 0

    def ftrace_modify_code(self, ip, new):
        """arch/x86/kernel/ftrace.c v3.6 ftrace_modify_code(): breakpoint, sync, second halfword, sync, first
        halfword, sync."""
        first, second = insn.halves(new)
        self.arm()
        for addr, hw in ((ip, self.trap_insn), (ip + 2, second), (ip, first)):
            err = self.patcher.write16(addr, hw)
            if err:
                self.ft.ftrace_bug(err, ip)
                return err
            yield
            if hw == first:
                yield from self.final_sync(self.patcher.run_sync())
            else:
                yield from self.patcher.run_sync()
        return 0

    def site_state(self, rec):
        if insn.mem_to_opcode(self.m.read(rec.ip, 4)) >> 16 == self.trap_insn:
            return "bkpt"
        return super().site_state(rec)

    def site_writes(self, rec, ret):
        """The trap over the first halfword (pass 1) and the new first halfword over the trap (pass 3); the
        second halfword changes behind the trap, where no fetch starts."""
        old, new = ((self.nop_kind(), (4, "bl")) if ret == FTRACE_UPDATE_MAKE_CALL
                    else ((4, "bl"), self.nop_kind()))
        return [(rec.ip, old, (2, self.trap)), (rec.ip, (2, self.trap), new)]


class StopMachine(UpdateMethod):
    """The generic stop_machine update ARM mainline keeps, over the generic ftrace_replace_code."""

    name = "stop_machine"
    droppable = ("release-flush", "pou-clean", "isb")
    expected = "safe"
    waiters_isb = False      # multi_cpu_stop's waiters return with no ISB (ARM32)

    def arch_ftrace_update_code(self, command):
        """kernel/trace/ftrace.c v3.6 __weak arch_ftrace_update_code(): ftrace_run_stop_machine()."""
        return (yield from self.patcher.stop_machine(lambda: self.ft.ftrace_modify_all_code(command),
                                                     release_flush="release-flush" not in self.drop,
                                                     waiters_isb=self.waiters_isb))


class StopMachineArm64(StopMachine):
    """arm64's stop_machine patching (arch/arm64/kernel/patching.c aarch64_insn_patch_text_cb): as ARM32, but the
    waiters isb() once the patcher is done, and the update ends with kick_all_cpus_sync(), as arm64's
    flush_icache_range() does, so that every core undergoes a context synchronization event."""

    name = "stop_machine_arm64"
    waiters_isb = True

    def arch_ftrace_update_code(self, command):
        """stop_machine as ARM32's, then kick_all_cpus_sync()."""
        ret = yield from super().arch_ftrace_update_code(command)
        yield from self.patcher.kick_all_cpus_sync(do_nothing)
        return ret


class SyncedCallerUpdate:
    """Mixin: ftrace_call / ftrace_graph_call by the ARM write, then a sync (every core runs the caller site)."""

    def ftrace_modify_code(self, ip, new):
        ret = yield from super().ftrace_modify_code(ip, new)
        if not ret:
            yield from self.patcher.run_sync()
        return ret


class BranchOver(SyncedCallerUpdate, UpdateMethod):
    """The 16-bit branch over the whole `push {lr}; bl` site (see the module docstring)."""

    name = "branch_over"
    droppable = ("sync1", "sync2", "quiesce", "pou-clean", "isb")
    expected = "safe"
    push_before_bl = False      # mutant branch-over-push-before-bl: the push enabled before the BL is written

    def ftrace_code_disable(self, rec, mcount_addr):
        """The nop, then the branch over the site (a boot-time store: nothing runs yet)."""
        ret = yield from super().ftrace_code_disable(rec, mcount_addr)
        if not ret:
            self.m.write16(rec.ip - 2, B_OVER)
        return ret

    def quiesce(self, ip):
        if "quiesce" not in self.drop:
            yield from self.patcher.quiesce(ip)

    def ftrace_replace_code(self, enable):
        """Two passes, a sync after each."""
        p = self.patcher
        changing = []
        for rec in self.records:
            ret = ftrace_test_record(rec, enable)
            if ret == FTRACE_UPDATE_IGNORE:
                continue
            head = self.m.read16(rec.ip - 2)
            call = self.ft.call_insn(rec)
            if ret == FTRACE_UPDATE_MAKE_CALL:
                if head != B_OVER:
                    return self.bug(-errno.EINVAL, rec)
                if self.push_before_bl:
                    p.write16(rec.ip - 2, insn.PUSH_LR)
                    yield
                if p.read_insn(rec.ip) != call:
                    yield from self.quiesce(rec.ip)
                    err = yield from p.patch_text(rec.ip, call)
                    if err:
                        return self.bug(err, rec)
            else:
                if head != insn.PUSH_LR or p.read_insn(rec.ip) != call:
                    return self.bug(-errno.EINVAL, rec)
                err = p.write16(rec.ip - 2, B_OVER)
                yield
                if err:
                    return self.bug(err, rec)
            changing.append(rec)
        p.stats.sites = len(changing)
        yield from self.sync(1)
        for rec in changing:
            if ftrace_update_record(rec, enable) == FTRACE_UPDATE_MAKE_CALL:
                err = p.write16(rec.ip - 2, insn.PUSH_LR)
                yield
                if err:
                    return self.bug(err, rec)
        yield from self.sync(2)
        return 0

    def site_state(self, rec):
        head = self.m.read16(rec.ip - 2)
        if head == B_OVER:
            return "nop"
        op = insn.mem_to_opcode(self.m.read(rec.ip, 4))
        return "call" if head == insn.PUSH_LR and op == self.ft.call_insn(rec) else "other"

    def site_halfwords(self, ip):
        return [ip - 2, ip, ip + 2]

    def site_writes(self, rec, ret):
        """The branch swapped with the push; on enable also the BL written into the slot."""
        return ([(rec.ip - 2, (2, "b"), (2, "push"))]
                + ([(rec.ip, self.nop_kind(), (4, "bl"))] if ret == FTRACE_UPDATE_MAKE_CALL else []))


class Unsynced(UpdateMethod):
    """Whole-instruction stores with only local cache maintenance on the patching core."""

    name = "unsynced"
    droppable = ("pou-clean", "isb")
    expected = "stale-and-torn"

    def ftrace_replace_code(self, enable):
        """Each changing site by one 32-bit store (powerpc's patch_instruction), then its local flush."""
        p = self.patcher
        n = 0
        for rec in self.records:
            ret = ftrace_update_record(rec, enable)
            if ret == FTRACE_UPDATE_IGNORE:
                continue
            old, new = ((self.ft.nop_insn(), self.ft.call_insn(rec)) if ret == FTRACE_UPDATE_MAKE_CALL
                        else (self.ft.call_insn(rec), self.ft.nop_insn()))
            cur = p.read_insn(rec.ip)
            if cur != old:
                return self.bug(cur if cur < 0 else -errno.EINVAL, rec)
            err = p.write32_atomic(rec.ip, new)
            yield
            if err:
                return self.bug(err, rec)
            yield from p.flush_icache_range(rec.ip, rec.ip + 4)
            n += 1
        p.stats.sites = n
        return 0


class Direct(SyncedCallerUpdate, Unsynced):
    """powerpc's way: whole-instruction stores, then one sync (arch/powerpc/kernel/ftrace.c)."""

    name = "direct"
    droppable = ("sync1", "pou-clean", "isb")
    expected = "straddling"

    def ftrace_replace_code(self, enable):
        """The whole-instruction stores, then one sync (arch/powerpc/kernel/ftrace.c's patch_instruction and
        flush)."""
        ret = yield from super().ftrace_replace_code(enable)
        if ret:
            return ret
        yield from self.sync(1)
        return 0


for _cls in (Breakpoint, StopMachine, BranchOver, Direct, Unsynced, StopMachineArm64):     # the order the CLI lists them
    register(_cls)
del _cls
