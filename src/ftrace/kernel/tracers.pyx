# cython: language_level=3
"""The host side of ftrace, at C level: what the guest trampolines reach, and the breakpoint handler.

* OpsCall / ListCall: what `ftrace_call` branches to (one ops called directly, several through
  ftrace_ops_list_func with its recursion guard: kernel/trace/ftrace.c).
* FunctionTrace: the function tracer's callback, function_trace_call (kernel/trace/trace_functions.c).
* FGraph with PrepareFtraceReturn / FtraceReturnToHandler: function_graph's per-task return stack,
  prepare_ftrace_return (arch/arm/kernel/ftrace.c) and ftrace_return_to_handler (kernel/trace/ftrace.c), with
  trace_graph_entry/trace_graph_return's filters (kernel/trace/trace_functions_graph.c).
* FtraceBreakpoint: ftrace_int3_handler (arch/x86/kernel/ftrace.c v3.6), first on the BKPT chain, or an undef
  hook's fn (traps.py) with the UDF trap.

No Python object is created per traced event on the built-in paths.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, uint64_t, int64_t, uintptr_t
from libc.stdlib cimport malloc, calloc, free

from cpu.core cimport Core, HostCall, ExceptionHandler
from cpu.memory cimport ld32, st32
from cpu.addrset cimport find_u32
from ftrace.kernel.ring_buffer cimport RingBuffer, trace_event, TRACE_FN, TRACE_GRAPH_ENT, TRACE_GRAPH_RET

from cpu.faults import GuestFault

DEF FTRACE_RETFUNC_DEPTH = 50
DEF MAX_CPUS = 256

FTRACE_BKPT_IMM = 0xF7     # the trap's imm: bkpt #0xf7 (0xbef7) or udf #0xf7 (0xdef7)
LR_IN_REGISTER = -1        # the function did not save LR in its prologue: the site's pushed word is its LR
LR_UNKNOWN = -2            # a prologue recordmcount could not analyse: the graph tracer leaves it alone


cdef class IpSet:
    """A sorted array of addresses with bsearch: ftrace_location() and the ops hashes, usable at C level."""
    cdef uint32_t* ips
    cdef int32_t* vals
    cdef Py_ssize_t n

    def __cinit__(self, ips=(), vals=None):
        items = sorted(set(ips)) if vals is None else sorted(zip(ips, vals))
        self.n = len(items)
        self.ips = <uint32_t*>malloc(max(1, self.n) * sizeof(uint32_t))
        self.vals = <int32_t*>malloc(max(1, self.n) * sizeof(int32_t))
        if not self.ips or not self.vals:
            raise MemoryError()
        for i, it in enumerate(items):
            if vals is None:
                self.ips[i] = it
                self.vals[i] = 0
            else:
                self.ips[i] = it[0]
                self.vals[i] = it[1]

    def __dealloc__(self):
        free(self.ips)
        free(self.vals)

    cdef Py_ssize_t find(self, uint32_t ip) noexcept:
        return find_u32(self.ips, self.n, ip)

    cdef bint contains(self, uint32_t ip) noexcept:
        return self.find(ip) >= 0

    def __contains__(self, uint32_t ip):
        return self.contains(ip)

    def __len__(self):
        return self.n

    def value(self, uint32_t ip):
        cdef Py_ssize_t i = self.find(ip)
        if i < 0:
            raise KeyError(hex(ip))
        return self.vals[i]


cdef class TraceClock:
    """trace_clock_local: a core's cycle counter scaled to ns (the machine's cpu_hz)."""
    cdef public uint64_t ns_per_cycle

    def __cinit__(self, uint64_t ns_per_cycle=10):
        self.ns_per_cycle = ns_per_cycle

    cdef inline uint64_t now(self, Core core) noexcept:
        return (core.instructions + core.stall_cycles) * self.ns_per_cycle


cdef class Tasks:
    """One task per core (its pid for the trace), and the per-task state the kernel keeps in task_struct."""
    cdef int32_t pid[MAX_CPUS]
    cdef public int ncpus

    def __cinit__(self, int ncpus, int first_pid=1000):
        if not 1 <= ncpus <= MAX_CPUS:
            raise ValueError("ncpus out of range")
        self.ncpus = ncpus
        for i in range(ncpus):
            self.pid[i] = first_pid + i

    def pid_of(self, int cpu):
        return self.pid[cpu]


cdef class OpsFunc:
    """An ftrace_ops' func(ip, parent_ip): built in, a cffi C function (fast path) or a Python callable."""
    cdef public uint64_t calls

    cdef int call(self, Core core, uint32_t ip, uint32_t parent_ip) except -1:
        return 0


cdef class FunctionTrace(OpsFunc):
    """function_trace_call: one TRACE_FN record {ip, parent_ip} per call."""
    cdef RingBuffer rb
    cdef TraceClock clock
    cdef Tasks tasks

    def __cinit__(self, RingBuffer rb, TraceClock clock, Tasks tasks):
        self.rb, self.clock, self.tasks = rb, clock, tasks

    cdef int call(self, Core core, uint32_t ip, uint32_t parent_ip) except -1:
        cdef trace_event* ev = self.rb.reserve(core.id)
        self.calls += 1
        if ev != NULL:
            ev.ts = self.clock.now(core)
            ev.calltime = 0
            ev.ip = ip
            ev.parent_ip = parent_ip
            ev.pid = self.tasks.pid[core.id]
            ev.depth = 0
            ev.type = TRACE_FN
            ev.cpu = core.id
        return 0


ctypedef void (*c_ftrace_func_t)(uint32_t ip, uint32_t parent_ip, int cpu, void* data) noexcept


cdef class CffiOpsFunc(OpsFunc):
    """A C callback `void f(uint32_t ip, uint32_t parent_ip, int cpu, void *data)` given as an address."""
    cdef c_ftrace_func_t fn
    cdef void* data
    cdef object keep

    def __cinit__(self, uintptr_t fn, uintptr_t data=0, keep=None):
        if fn == 0:
            raise ValueError("NULL callback")
        self.fn = <c_ftrace_func_t>fn
        self.data = <void*>data
        self.keep = keep

    cdef int call(self, Core core, uint32_t ip, uint32_t parent_ip) except -1:
        self.calls += 1
        self.fn(ip, parent_ip, core.id, self.data)
        return 0


cdef class PyOpsFunc(OpsFunc):
    """The slow path: a Python callable fn(ip, parent_ip, cpu)."""
    cdef object fn

    def __cinit__(self, fn):
        self.fn = fn

    cdef int call(self, Core core, uint32_t ip, uint32_t parent_ip) except -1:
        self.calls += 1
        self.fn(ip, parent_ip, core.id)
        return 0


cdef class OpsCall(HostCall):
    """ftrace_call -> a single ops' func, called directly (its sites are the only ones enabled)."""
    cdef public OpsFunc func
    cdef int recursion[MAX_CPUS]
    cdef public bint stopped        # function_trace_stop

    def __cinit__(self, OpsFunc func):
        self.func = func

    cdef int call(self, Core core) except -1:
        if self.stopped or self.recursion[core.id]:
            return 0
        self.recursion[core.id] = 1
        try:
            self.func.call(core, core.r[0], core.r[1])
        finally:
            self.recursion[core.id] = 0
        return 0


cdef class ListEntry:
    cdef public OpsFunc func
    cdef public IpSet filter      # None: all functions
    cdef public IpSet notrace     # None: none excluded

    def __cinit__(self, OpsFunc func, IpSet filter=None, IpSet notrace=None):
        self.func, self.filter, self.notrace = func, filter, notrace


cdef class ListCall(HostCall):
    """ftrace_ops_list_func: with several ops, test each one's hashes (ftrace_ops_test) and call it."""
    cdef public list entries
    cdef int recursion[MAX_CPUS]    # TRACE_INTERNAL_BIT
    cdef public bint stopped

    def __cinit__(self):
        self.entries = []

    cdef int call(self, Core core) except -1:
        cdef ListEntry e
        cdef uint32_t ip = core.r[0], parent = core.r[1]
        if self.stopped or self.recursion[core.id]:
            return 0
        self.recursion[core.id] = 1
        try:
            for e in self.entries:
                if (e.filter is None or e.filter.contains(ip)) and (e.notrace is None or not e.notrace.contains(ip)):
                    e.func.call(core, ip, parent)
        finally:
            self.recursion[core.id] = 0
        return 0


ctypedef struct ftrace_ret_stack:
    uint32_t ret
    uint32_t func
    uint64_t calltime
    uint32_t fp          # the sp the traced function returns with (its entry sp), for the frame test
    uint32_t slot        # where the return address was hijacked (for restore on rejection)


cdef class FGraph:
    """function_graph's state: a ret_stack of FTRACE_RETFUNC_DEPTH per task, filters, and the tracer."""
    cdef ftrace_ret_stack stack[MAX_CPUS][FTRACE_RETFUNC_DEPTH]
    cdef int curr[MAX_CPUS]              # curr_ret_stack, -1 when empty
    cdef uint64_t overrun[MAX_CPUS]      # trace_overrun
    cdef int notrace_depth[MAX_CPUS]     # TRACE_GRAPH_NOTRACE_BIT: ret_stack index of the notrace function, or -1
    cdef RingBuffer rb
    cdef TraceClock clock
    cdef Tasks tasks
    cdef public IpSet records           # rec->ip -> lr_offset (LR_IN_REGISTER / LR_UNKNOWN / >= 0)
    cdef public IpSet frames            # rec->ip -> bytes the prologue took off sp before the site (None: no test)
    cdef public IpSet graph_filter      # set_graph_function (None: all)
    cdef public IpSet graph_notrace     # set_graph_notrace
    cdef public int max_depth           # max_graph_depth, 0 = unlimited
    cdef public uint64_t thresh_ns      # tracing_thresh (0 = off): only returns at least this long
    cdef public uint32_t return_to_handler
    cdef public bint stopped            # ftrace_graph_stop()
    cdef public uint64_t skipped_unknown
    cdef public uint64_t entries, returns

    def __cinit__(self, RingBuffer rb, TraceClock clock, Tasks tasks, IpSet records, uint32_t return_to_handler):
        self.rb, self.clock, self.tasks, self.records = rb, clock, tasks, records
        self.return_to_handler = return_to_handler | 1
        for i in range(MAX_CPUS):
            self.curr[i] = -1
            self.notrace_depth[i] = -1

    def overruns(self, int cpu):
        return self.overrun[cpu]

    def depth(self, int cpu):
        return self.curr[cpu] + 1

    cdef bint graph_entry(self, Core core, uint32_t func, int depth) noexcept:
        """trace_graph_entry: may this call be traced (and record its entry)?"""
        cdef trace_event* ev
        cdef int cpu = core.id
        if self.notrace_depth[cpu] >= 0:
            return 0
        if not (depth > 0 or self.graph_filter is None or self.graph_filter.contains(func)):
            return 0
        if self.max_depth and depth >= self.max_depth:
            return 0
        if self.graph_notrace is not None and self.graph_notrace.contains(func):
            self.notrace_depth[cpu] = depth
            return 1
        if self.thresh_ns == 0:
            ev = self.rb.reserve(cpu)
            if ev != NULL:
                ev.ts = self.clock.now(core)
                ev.calltime = 0
                ev.ip = func
                ev.parent_ip = 0
                ev.pid = self.tasks.pid[cpu]
                ev.depth = depth
                ev.type = TRACE_GRAPH_ENT
                ev.cpu = cpu
        self.entries += 1
        return 1

    cdef int prepare(self, Core core) except -1:
        """prepare_ftrace_return(parent, self_addr, frame): hijack the return address, push the ret_stack."""
        cdef uint32_t parent_slot = core.r[0], self_addr = core.r[1], frame = core.r[2], slot, old
        cdef int cpu = core.id, idx
        cdef Py_ssize_t k
        cdef int32_t lr_off
        if self.stopped:
            return 0
        k = self.records.find(self_addr)
        if k < 0:
            return 0
        lr_off = self.records.vals[k]
        if lr_off == LR_UNKNOWN:
            self.skipped_unknown += 1
            return 0
        slot = parent_slot if lr_off == LR_IN_REGISTER else frame + <uint32_t>lr_off
        old = ld32(core, slot)
        if self.curr[cpu] >= FTRACE_RETFUNC_DEPTH - 1:
            self.overrun[cpu] += 1
            return 0
        if not self.graph_entry(core, self_addr, self.curr[cpu] + 1):
            return 0
        st32(core, slot, self.return_to_handler)
        self.curr[cpu] += 1
        idx = self.curr[cpu]
        self.stack[cpu][idx].ret = old
        self.stack[cpu][idx].func = self_addr
        self.stack[cpu][idx].calltime = self.clock.now(core)
        k = -1 if self.frames is None else self.frames.find(self_addr)
        self.stack[cpu][idx].fp = 0 if k < 0 else frame + <uint32_t>self.frames.vals[k]
        self.stack[cpu][idx].slot = slot
        return 0

    cdef int ret(self, Core core) except -1:
        """ftrace_return_to_handler(sp): pop, record the return, hand back the real return address in r0."""
        cdef int cpu = core.id, idx = self.curr[cpu]
        cdef uint64_t rettime
        cdef trace_event* ev
        cdef ftrace_ret_stack* e
        if idx < 0:
            self.stopped = True
            raise GuestFault("ftrace_return_to_handler: return with an empty ret_stack (ftrace_graph_stop)",
                             core=cpu, pc=core.pc)
        e = &self.stack[cpu][idx]
        if e.fp and e.fp != core.r[0]:
            self.stopped = True
            raise GuestFault(f"ftrace_return_to_handler: Bad frame pointer: expected {e.fp:x}, received "
                             f"{core.r[0]:x} (ftrace_graph_stop)", core=cpu, pc=core.pc)
        rettime = self.clock.now(core)
        if self.notrace_depth[cpu] == idx:
            self.notrace_depth[cpu] = -1
        elif self.stopped:
            pass        # unregistered: ftrace_graph_return is the stub, returns still unwind the ret_stack
        elif self.notrace_depth[cpu] < 0 and (self.thresh_ns == 0 or rettime - e.calltime >= self.thresh_ns):
            ev = self.rb.reserve(cpu)
            if ev != NULL:
                ev.ts = rettime
                ev.calltime = e.calltime
                ev.ip = e.func
                ev.parent_ip = <uint32_t>self.overrun[cpu]
                ev.pid = self.tasks.pid[cpu]
                ev.depth = idx
                ev.type = TRACE_GRAPH_RET
                ev.cpu = cpu
        self.returns += 1
        self.curr[cpu] = idx - 1
        core.r[0] = e.ret
        return 0

    def reset(self):
        """Drop every pending return (the tracer is being switched while nothing is on the ret_stacks)."""
        for i in range(MAX_CPUS):
            self.curr[i] = -1
            self.notrace_depth[i] = -1
            self.overrun[i] = 0

    def pending(self):
        """Total ret_stack entries still waiting for their return."""
        return sum(self.curr[i] + 1 for i in range(self.tasks.ncpus))


cdef class PrepareFtraceReturn(HostCall):
    cdef FGraph graph

    def __cinit__(self, FGraph graph):
        self.graph = graph

    cdef int call(self, Core core) except -1:
        return self.graph.prepare(core)


cdef class FtraceReturnToHandler(HostCall):
    cdef FGraph graph

    def __cinit__(self, FGraph graph):
        self.graph = graph

    cdef int call(self, Core core) except -1:
        return self.graph.ret(core)


cdef class FtraceBreakpoint(ExceptionHandler):
    """ftrace_int3_handler: while modifying_ftrace_code, a breakpoint at an ftrace site stands for the
    instruction the site had (the nop `ldr.w lr, [sp], #4`: pop the lr the site pushed and skip the site; the
    modern era's `add.w sp, sp, #4`: drop it), or,
    with emulate_call, for the new call (text_poke_bp style: `bl target`)."""
    cdef public bint modifying_ftrace_code
    cdef public IpSet locations
    cdef public IpSet caller_sites      # ftrace_call / ftrace_graph_call: skipping them skips one call, no stack effect
    cdef public bint emulate_call
    cdef public bint skip_without_pop   # mutant handler-skips-without-pop: skip the site, leave the pushed lr
    cdef public bint nop_loads_lr       # v3.6's nop pops lr; modern's add.w sp, sp, #4 only drops the word
    cdef public uint32_t call_target
    cdef public uint32_t cost
    cdef public uint64_t hits

    def __cinit__(self, IpSet locations, uint32_t cost=0):
        self.locations = locations
        self.cost = cost
        self.nop_loads_lr = 1

    cdef int64_t handle(self, Core core, uint32_t imm, uint32_t pc) except -2:
        cdef uint32_t sp
        if imm != FTRACE_BKPT_IMM or not self.modifying_ftrace_code:
            return -1
        if self.caller_sites is not None and self.caller_sites.contains(pc):
            self.hits += 1
            core.stall_cycles += self.cost
            return pc + 4
        if not self.locations.contains(pc):
            return -1
        self.hits += 1
        core.stall_cycles += self.cost
        if self.emulate_call:
            core.r[14] = (pc + 4) | 1
            return self.call_target & 0xfffffffeu
        if self.skip_without_pop:
            return pc + 4
        sp = core.r[13]
        if self.nop_loads_lr:
            core.r[14] = ld32(core, sp)
        core.r[13] = sp + 4
        return pc + 4

    def undef_hook_fn(self, Core core, uint32_t instr, uint32_t pc):
        """struct undef_hook's fn (traps.py): the same handler, reached through call_undef_hook."""
        cdef int64_t r = self.handle(core, FTRACE_BKPT_IMM, pc)
        return None if r < 0 else r
