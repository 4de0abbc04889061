"""The generic dynamic ftrace core on the simulated SMP (kernel/trace/ftrace.c v3.6, with the ARM arch layer of
arch/arm/kernel/ftrace.c and the x86 v3.6 breakpoint method as the default update method; its trap is BKPT, on
the BKPT chain as x86's int3, or UDF, through arch/arm/kernel/traps.c's undef hooks as ARM's kprobes).

Names follow the kernel: ftrace_init, ftrace_update_code, register_ftrace_function, ftrace_startup,
ftrace_shutdown, update_ftrace_function, ftrace_run_update_code, ftrace_modify_all_code,
 ftrace_update_ftrace_func, ftrace_enable_ftrace_graph_caller, ftrace_bug, ftrace_kill,
ftrace_enable_sysctl.  Code changes run as host agents on the patching core while the other cores run; how the
sites change is the arch layer's, an update method object from methods.METHODS whose hooks the generic code calls.
"""
import errno

from cpu.loader import ContentCache
from cpu.machine import CORE_RUNNING
from ftrace.kernel import cmodx, insn
from ftrace.kernel.ops import (FTRACE_OPS_FL_ENABLED, FTRACE_OPS_FL_GLOBAL, FtraceError, ftrace_ops, hash_rec_update)
from ftrace.kernel.methods import METHODS, UDF_INSN, FtraceServices, check_trap
from ftrace.kernel.patch import CodePatcher
from ftrace.kernel.recordmcount import record_mcount
from ftrace.kernel.records import FtracePages, dyn_ftrace
from ftrace.kernel.traps import PSR_T_BIT, undef_hook, undef_hooks
from ftrace.kernel.tracers import (FtraceBreakpoint, IpSet, ListCall, ListEntry, OpsCall, LR_IN_REGISTER, LR_UNKNOWN)

# scripts/recordmcount runs once per build; a checker boots one image thousands of times (McountInfo is immutable)
_record_mcount = ContentCache(lambda data, path: record_mcount(path, data=data))

FTRACE_UPDATE_CALLS = 1 << 0
FTRACE_DISABLE_CALLS = 1 << 1
FTRACE_UPDATE_TRACE_FUNC = 1 << 2
FTRACE_START_FUNC_RET = 1 << 3
FTRACE_STOP_FUNC_RET = 1 << 4

# the kernel era reproduced: v3.6; modern (the add.w nop, the v4.1+ duration marks, set_graph_notrace and
# max_graph_depth); mixed, the default: v3.6 with modern's marks and graph files (the results recorded so far)
ERAS = ("mixed", "v3.6", "modern")

HOST_TRAMPOLINES = 16
# what guest/entry.S's patchable caller sites hold before and after an update, as (size, kind), either way round
CALLER_SITE_REWRITES = {"ftrace_call": ((4, "bl"), (4, "bl")), "ftrace_graph_call": ((4, "nop"), (4, "b"))}
TRAMP_LITERAL = 8          # the host-call literal's offset in a trampoline (entry.S)


class FtraceCore:
    """Dynamic ftrace on one machine and image: records, ops, code modification."""

    def __init__(self, machine, image, method="breakpoint", patch_cpu=0, emulate="nop", bkpt_cost=50, drop=(),
                 cmodx_list="v7", trap="bkpt", era="mixed"):
        check_trap(trap)
        if era not in ERAS:
            raise ValueError(f"era must be one of {', '.join(ERAS)}, got {era!r}")
        self.era = era
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if emulate not in ("nop", "call"):
            raise ValueError(f"emulate must be 'nop' or 'call', got {emulate!r}")
        if not 0 <= patch_cpu < machine.ncores:
            raise ValueError(f"patch_cpu {patch_cpu} is not a core of this machine")
        self.m = machine
        self.image = image
        self.patch_cpu = patch_cpu
        self.dmesg = []
        self.ftrace_disabled = 0
        self.ftrace_enabled = 1
        self.last_ftrace_enabled = 1
        self.ftrace_start_up = 0
        self.global_start_up = 0
        self.ftrace_ops_list = []
        self.ftrace_global_list = []
        self.global_ops = ftrace_ops(None, "global_ops", FTRACE_OPS_FL_GLOBAL)
        self.graph_caller_on = False
        self.last_update = None
        self.update_log = []
        sym = {name: s.addr for name, s in image.symbols.items()}
        missing = [n for n in ("ftrace_caller", "ftrace_call", "ftrace_graph_call", "ftrace_graph_caller",
                               "ftrace_stub", "__gnu_mcount_nc", "return_to_handler", "prepare_ftrace_return",
                               "ftrace_return_to_handler", "ftrace_tramp_0") if n not in sym]
        if missing:
            raise FtraceError("ENODEV", f"{image.path} is not linked with ftrace's entry code "
                                        f"(missing {', '.join(missing)}): build it with `python -m ftrace ldflags`")
        self.sym = sym
        self.MCOUNT_ADDR = sym["__gnu_mcount_nc"]
        self.FTRACE_ADDR = sym["ftrace_caller"]
        self.patcher = CodePatcher(machine, patch_cpu, drop=drop)
        with open(image.path, "rb") as f:
            sites = _record_mcount(f.read(), image.path).sites
        self.records = FtracePages(
            dyn_ftrace(s.ip, s.func_name, s.func_addr,
                       LR_UNKNOWN if s.prologue_kind == "unknown" else
                       (LR_IN_REGISTER if s.lr_offset is None else s.lr_offset),
                       getattr(s, "frame_size", None)) for s in sites)
        self.bkpt_handler = FtraceBreakpoint(IpSet([r.ip for r in self.records]), bkpt_cost)
        self.bkpt_handler.caller_sites = IpSet([sym["ftrace_call"], sym["ftrace_graph_call"]])
        self.bkpt_handler.emulate_call = emulate == "call"
        self.bkpt_handler.call_target = self.FTRACE_ADDR
        self.bkpt_handler.nop_loads_lr = self.nop_insn() == insn.FTRACE_NOP
        if trap == "bkpt":
            machine.hook_add("bkpt", self.bkpt_handler, first=True)
        else:
            undef_hooks(machine).register_undef_hook(undef_hook(0xFFFF, UDF_INSN, PSR_T_BIT, PSR_T_BIT,
                                                                self.bkpt_handler.undef_hook_fn))
        self.method = METHODS[method](machine, self.patcher, self.records,
                                      FtraceServices(self.ftrace_bug, self.printk, self.ftrace_modify_all_code,
                                                     self.nop_insn, self.call_insn),
                                      self.bkpt_handler, drop, cmodx_list, trap)
        self.tramp_calls = [None] * HOST_TRAMPOLINES
        self.list_call = ListCall()
        self.stub = sym["ftrace_stub"]
        self.ftrace_trace_function = self.stub
        self.saved_ftrace_func = self.stub
        self.ftrace_init()

    # ---- messages and failure (ftrace_bug / FTRACE_WARN_ON / ftrace_kill) ----

    def printk(self, msg):
        self.dmesg.append(msg)

    def print_ip_sym(self, ip):
        s = self.image.symbolize(ip)
        where = f"{s[0]}+0x{s[1]:x}" if s else f"0x{ip:x}"
        return f"[<{ip:08x}>] {where}"

    def ftrace_bug(self, failed, ip):
        """v3.6 ftrace_bug(): say what failed where, then FTRACE_WARN_ON_ONCE(1) kills ftrace for good."""
        if failed == -errno.EFAULT:
            self.printk("ftrace faulted on modifying " + self.print_ip_sym(ip))
        elif failed == -errno.EINVAL:
            data = self.m.read(ip, insn.MCOUNT_INSN_SIZE) if ip + 4 <= self.m.mem_size else b""
            actual = ":".join(f"{b:02x}" for b in data)
            self.printk("ftrace failed to modify " + self.print_ip_sym(ip) + " actual: " + actual)
        elif failed == -errno.EPERM:
            self.printk("ftrace faulted on writing " + self.print_ip_sym(ip))
        else:
            self.printk("ftrace faulted on unknown error " + self.print_ip_sym(ip))
        self.printk("WARNING: at kernel/trace/ftrace.c: ftrace_bug()")
        self.ftrace_kill()

    def FTRACE_WARN_ON(self, cond):
        """include/linux/ftrace.h v3.6: WARN_ON(cond), and ftrace_kill() when it fires; returns cond."""
        if cond:
            self.printk("WARNING: at kernel/trace/ftrace.c: __ftrace_hash_rec_update()")
            self.ftrace_kill()
        return cond

    def ftrace_kill(self):
        self.ftrace_disabled = 1
        self.ftrace_enabled = 0
        self.clear_ftrace_function()

    def clear_ftrace_function(self):
        self.ftrace_trace_function = self.stub
        for call in self.tramp_calls:
            if call is not None:
                call.stopped = True

    def ftrace_is_dead(self):
        return bool(self.ftrace_disabled)

    def check_alive(self):
        if self.ftrace_disabled:
            raise FtraceError("ENODEV", "ftrace is disabled after ftrace_bug (see dmesg); every use is refused")

    # ---- instructions of this arch (ftrace_nop_replace / ftrace_call_replace) ----

    def nop_insn(self):
        """ftrace_nop_replace(): the era's nop."""
        return insn.FTRACE_NOP_MODERN if self.era == "modern" else insn.FTRACE_NOP

    def call_insn(self, rec):
        return insn.thumb_bl(rec.ip, self.FTRACE_ADDR)

    # ---- boot: ftrace_init ----

    def bind_trampoline(self, name, call):
        """Fill a host trampoline's literal with a host-call slot bound to `call` (ftrace_dyn_arch_init)."""
        addr = self.m.register_hostcall(call)
        self.m.write32(self.sym[name] + TRAMP_LITERAL, addr)
        return addr

    def ftrace_init(self):
        """Before the secondary cores start: convert every site from `bl __gnu_mcount_nc` to the nop."""
        if any(c.state == CORE_RUNNING and c.id != 0 for c in self.m.cores) or self.m.instructions:
            raise FtraceError("EBUSY", "ftrace_init must run at boot, before the program or secondary cores run")
        self.tramp_calls[0] = self.list_call
        self.bind_trampoline("ftrace_tramp_0", self.list_call)
        n = len(self.records)
        if n == 0:
            self.printk("ftrace: No functions to be traced?")
        else:
            pages = len(self.records.pages)
            self.printk(f"ftrace: allocating {n} entries in {pages} pages")
        for rec in self.records:
            ret = self.run_now(self.method.ftrace_code_disable(rec, self.MCOUNT_ADDR))
            if ret:
                self.ftrace_bug(ret, rec.ip)
                break
        self.m.flush_icache()
        self.m.completed_wseq = self.m.wseq

    @staticmethod
    def run_now(gen):
        """Drive a code-modification generator to completion at once (boot: nothing else runs)."""
        try:
            while True:
                out = next(gen)
                if callable(out) and not out():
                    raise RuntimeError("a boot-time modification waited on other cores")
        except StopIteration as e:
            return e.value

    # ---- which tracer function ftrace_call calls (update_ftrace_function) ----

    def tramp_for(self, call):
        for i, c in enumerate(self.tramp_calls):
            if c is call:
                return i
        for i in range(1, HOST_TRAMPOLINES):
            if self.tramp_calls[i] is None:
                self.tramp_calls[i] = call
                self.bind_trampoline(f"ftrace_tramp_{i}", call)
                return i
        raise FtraceError("ENOSPC", f"more than {HOST_TRAMPOLINES - 1} directly called ops")

    def list_entries(self):
        entries = []
        for ops in self.ftrace_ops_list:
            users = self.ftrace_global_list if ops is self.global_ops else [ops]
            h = ops.filter_hash
            n = ops.notrace_hash
            for u in users:
                entries.append(ListEntry(u.func, IpSet(h.ips) if h.count else None,
                                         IpSet(n.ips) if n.count else None))
        return entries

    def update_ftrace_function(self):
        """One ops (or one global user) is called directly; several go through ftrace_ops_list_func."""
        self.list_call.entries = self.list_entries()
        ops_list = self.ftrace_ops_list
        if not ops_list:
            func = self.stub
        elif len(ops_list) == 1 and (ops_list[0] is not self.global_ops or len(self.ftrace_global_list) == 1):
            ops = ops_list[0] if ops_list[0] is not self.global_ops else self.ftrace_global_list[0]
            if ops.tramp is None:
                ops.tramp = self.tramp_for(OpsCall(ops.func))
            func = self.sym[f"ftrace_tramp_{ops.tramp}"]
        else:
            func = self.sym["ftrace_tramp_0"]
        self.ftrace_trace_function = func

    # ---- registering users ----

    def register_ftrace_function(self, ops):
        self.check_alive()
        if ops in self.ftrace_ops_list or ops in self.ftrace_global_list:
            raise FtraceError("EBUSY", f"{ops.name} is already registered")
        if ops.flags & FTRACE_OPS_FL_GLOBAL:
            self.ftrace_global_list.append(ops)
            if self.global_ops not in self.ftrace_ops_list:
                self.ftrace_ops_list.append(self.global_ops)
        else:
            self.ftrace_ops_list.append(ops)
        if self.ftrace_enabled:
            self.update_ftrace_function()
        self.ftrace_startup(ops, 0)

    def unregister_ftrace_function(self, ops):
        self.check_alive()
        if ops.flags & FTRACE_OPS_FL_GLOBAL:
            if ops not in self.ftrace_global_list:
                raise FtraceError("EINVAL", f"{ops.name} is not registered")
            self.ftrace_global_list.remove(ops)
            if not self.ftrace_global_list:
                self.ftrace_ops_list.remove(self.global_ops)
        else:
            if ops not in self.ftrace_ops_list:
                raise FtraceError("EINVAL", f"{ops.name} is not registered")
            self.ftrace_ops_list.remove(ops)
        if self.ftrace_enabled:
            self.update_ftrace_function()
        self.ftrace_shutdown(ops, 0)

    def ftrace_startup(self, ops, command):
        self.check_alive()
        self.ftrace_start_up += 1
        command |= FTRACE_UPDATE_CALLS
        hash_enable = True
        if ops.flags & FTRACE_OPS_FL_GLOBAL:
            ops = self.global_ops
            if self.global_start_up:
                hash_enable = False
            self.global_start_up += 1
        ops.flags |= FTRACE_OPS_FL_ENABLED
        if hash_enable:
            hash_rec_update(ops, self.records, True, True, self.FTRACE_WARN_ON)
        self.ftrace_startup_enable(command)

    def ftrace_shutdown(self, ops, command):
        self.check_alive()
        self.ftrace_start_up -= 1
        hash_disable = True
        if ops.flags & FTRACE_OPS_FL_GLOBAL:
            ops = self.global_ops
            self.global_start_up -= 1
            if self.global_start_up:
                hash_disable = False
        if hash_disable:
            hash_rec_update(ops, self.records, True, False, self.FTRACE_WARN_ON)
        if ops is not self.global_ops or not self.global_start_up:
            ops.flags &= ~FTRACE_OPS_FL_ENABLED
        self.ftrace_startup_enable(command | FTRACE_UPDATE_CALLS)

    def ftrace_startup_enable(self, command):
        if self.saved_ftrace_func != self.ftrace_trace_function:
            self.saved_ftrace_func = self.ftrace_trace_function
            command |= FTRACE_UPDATE_TRACE_FUNC
        if not self.ftrace_enabled:
            return
        self.ftrace_run_update_code(command)

    def ftrace_hash_move(self, ops, which, new_hash):
        """Commit a filter/notrace hash (on close of set_ftrace_filter), moving record refcounts with it."""
        self.check_alive()
        enabled = ops.flags & FTRACE_OPS_FL_ENABLED
        filter_hash = which == "filter_hash"
        if enabled:
            hash_rec_update(ops, self.records, filter_hash, False, self.FTRACE_WARN_ON)
        setattr(ops, which, new_hash)
        if enabled:
            hash_rec_update(ops, self.records, filter_hash, True, self.FTRACE_WARN_ON)
        self.list_call.entries = self.list_entries()
        if enabled and self.ftrace_enabled:
            self.ftrace_run_update_code(FTRACE_UPDATE_CALLS)

    # ---- the ftrace_enabled sysctl (ftrace_enable_sysctl) ----

    def ftrace_enable_sysctl(self, value):
        self.check_alive()
        self.ftrace_enabled = 1 if value else 0
        if self.last_ftrace_enabled == self.ftrace_enabled:
            return
        self.last_ftrace_enabled = self.ftrace_enabled
        if self.ftrace_enabled:
            self.saved_ftrace_func = None
            self.update_ftrace_function()
            if self.ftrace_start_up:
                self.ftrace_startup_enable(FTRACE_UPDATE_CALLS)
        else:
            self.ftrace_trace_function = self.stub
            if self.ftrace_start_up:
                self.ftrace_run_update_code(FTRACE_DISABLE_CALLS)

    # ---- running an update ----

    def ftrace_run_update_code(self, command):
        """function_trace_stop around arch_ftrace_update_code, run as an agent while the other cores go on."""
        calls = [c for c in self.tramp_calls if c is not None]
        for c in calls:
            c.stopped = True
        cpu = self.m.cores[self.patch_cpu]
        start = (cpu.cycles, [c.stall_cycles for c in self.m.cores], self.bkpt_handler.hits,
                 sum(c.ipis_taken for c in self.m.cores))
        self.patcher.stats = type(self.patcher.stats)()
        self.patcher.watch_on_first_write(self.cmodx_locations(command))
        watched = sum(c.watched_fetches for c in self.m.cores)
        agent = self.m.spawn(self.method.arch_ftrace_update_code(command), cpu=self.patch_cpu, name="ftrace")
        self.m.run_until(lambda: agent.done)
        while not agent.done:               # the program exited: nothing else runs, finish the agent alone
            if not agent.ready():
                raise RuntimeError("the patching agent waits on cores that can no longer run")
            agent.step()
        if agent in self.m.agents:
            self.m.agents.remove(agent)
        self.m.completed_wseq = self.m.wseq  # the update returned: all its writes must be seen (each sync
                                             # claimed those before it: CodePatcher.run_sync)
        self.patcher.watch_on_first_write(None)
        for c in calls:
            c.stopped = bool(self.ftrace_disabled)
        st = self.patcher.stats.as_dict()
        st.update(method=self.method.name, command=command, result=agent.result,
                  cycles=cpu.cycles - start[0],
                  others_lost_cycles=sum(c.stall_cycles - s for c, s in zip(self.m.cores, start[1])
                                         if c.id != self.patch_cpu),
                  bkpt_hits=self.bkpt_handler.hits - start[2],
                  cmodx_fetches=sum(c.watched_fetches for c in self.m.cores) - watched,
                  ipis_taken=sum(c.ipis_taken for c in self.m.cores) - start[3])
        self.last_update = st
        self.update_log.append(st)
        return agent.result

    def cmodx_locations(self, command):
        """Instruction addresses this update rewrites where the method's CMODX list does not let another core
        fetch while old becomes new: a fetch of one of them while the update runs is a concurrent modification
        the architecture leaves UNPREDICTABLE."""
        locs = []
        if command & (FTRACE_UPDATE_CALLS | FTRACE_DISABLE_CALLS):
            locs += self.method.cmodx_locations(1 if command & FTRACE_UPDATE_CALLS else 0)
        for name, bits in (("ftrace_call", FTRACE_UPDATE_TRACE_FUNC),
                           ("ftrace_graph_call", FTRACE_START_FUNC_RET | FTRACE_STOP_FUNC_RET)):
            if command & bits and not cmodx.allows(self.method.cmodx, *CALLER_SITE_REWRITES[name]):
                locs.append(self.sym[name])
        return locs

    def ftrace_replace_code(self, enable):
        if self.ftrace_disabled:
            return 0
        return (yield from self.method.ftrace_replace_code(enable))

    def ftrace_modify_all_code(self, command):
        """__ftrace_modify_code (v3.6): calls, then the trace function, then the graph caller."""
        ret = 0
        if command & FTRACE_UPDATE_CALLS:
            ret = yield from self.ftrace_replace_code(1)
        elif command & FTRACE_DISABLE_CALLS:
            ret = yield from self.ftrace_replace_code(0)
        if ret or self.ftrace_disabled:
            return ret
        if command & FTRACE_UPDATE_TRACE_FUNC:
            ret = yield from self.ftrace_update_ftrace_func(self.ftrace_trace_function)
        if command & FTRACE_START_FUNC_RET:
            ret = ret or (yield from self.ftrace_modify_graph_caller(True))
        elif command & FTRACE_STOP_FUNC_RET:
            ret = ret or (yield from self.ftrace_modify_graph_caller(False))
        return ret

    def ftrace_update_ftrace_func(self, func):
        ip = self.sym["ftrace_call"]
        return (yield from self.method.ftrace_modify_code(ip, insn.thumb_bl(ip, func)))

    def ftrace_modify_graph_caller(self, enable):
        """ftrace_enable_ftrace_graph_caller / ftrace_disable_ftrace_graph_caller."""
        ip = self.sym["ftrace_graph_call"]
        new = insn.thumb_bl(ip, self.sym["ftrace_graph_caller"], link=False) if enable else insn.NOP_W
        self.graph_caller_on = enable
        return (yield from self.method.ftrace_modify_code(ip, new))

    # ---- graph users (register_ftrace_graph / unregister_ftrace_graph) ----

    def register_ftrace_graph(self):
        self.check_alive()
        self.ftrace_startup(self.global_ops_user(), FTRACE_START_FUNC_RET)

    def unregister_ftrace_graph(self):
        self.check_alive()
        self.ftrace_shutdown(self.global_ops_user(), FTRACE_STOP_FUNC_RET)

    def global_ops_user(self):
        """The graph tracer starts global_ops itself (v3.6), without adding a function to the lists."""
        return self.global_ops

    # ---- tracefs-like views ----

    def available_filter_functions(self):
        return [r.func or f"0x{r.ip:x}" for r in self.records]

    def available_filter_functions_addrs(self):
        """The modern tracefs file: "%lx %s" per record (v3.6 has only available_filter_functions)."""
        return [f"{r.ip:x} {r.func or hex(r.ip)}" for r in self.records]

    def enabled_functions(self):
        return [f"{r.func or hex(r.ip)} ({r.refcount})" for r in self.records if r.refcount]

    def site_state(self, rec):
        """What the site holds now: 'nop', 'call', 'bkpt' or 'other'."""
        return self.method.site_state(rec)
