"""`Ftrace`: dynamic ftrace on a loaded machine, driven through tracefs-like attributes (kernel/trace/trace.c,
trace_functions.c, trace_functions_graph.c on top of the core in core.py).

    m = cpu.Machine(cores=4, seed=1)
    m.load_elf(path)
    ft = Ftrace(m)                       # ftrace_init: every mcount site becomes the nop, at boot
    ft.set_ftrace_filter("fib*")
    ft.current_tracer = "function_graph"
    m.run(max_instructions=...)          # or ft.run_for(n) / ft.ftrace_disable() while the cores run
    print(ft.trace)
"""
import os

from cpu import memmap
from ftrace.formats import text as trace_output
from ftrace.kernel import events as ev_mod
from ftrace.kernel.core import FtraceCore
from ftrace.kernel.ops import FTRACE_OPS_FL_GLOBAL, FtraceError, apply_filter, ftrace_hash, ftrace_ops
from ftrace.kernel.ring_buffer import RingBuffer
from ftrace.kernel.tracers import CffiOpsFunc, FGraph, FunctionTrace, IpSet, PyOpsFunc, Tasks, TraceClock

TRACERS = ("function_graph", "function", "nop")
FTRACE_GRAPH_MAX_FUNCS = 32


class Ftrace(FtraceCore):
    """Dynamic ftrace on a machine with a loaded image, as tracefs presents it."""

    def __init__(self, machine, image=None, method="breakpoint", patch_cpu=0, emulate="nop",
                 buffer_size_kb=1408, overwrite=True, comm=None, drop=(), cmodx_list="v7", trap="bkpt", era="mixed"):
        image = image or machine.image
        if image is None:
            raise ValueError("load a program first (machine.load_elf) or pass image=")
        super().__init__(machine, image, method=method, patch_cpu=patch_cpu, emulate=emulate, drop=drop,
                         cmodx_list=cmodx_list, trap=trap, era=era)
        self.rb = RingBuffer(machine.ncores, buffer_size_kb=buffer_size_kb, overwrite=overwrite)
        self.clock = TraceClock(max(1, 1_000_000_000 // machine.cpu_hz))
        self.tasks = Tasks(machine.ncores)
        self.comm = (comm or os.path.basename(image.path).rsplit(".", 1)[0])[:15]
        recs = list(self.records)
        self.graph = FGraph(self.rb, self.clock, self.tasks, IpSet([r.ip for r in recs], [r.lr_offset for r in recs]),
                            self.sym["return_to_handler"])
        frames = [(r.ip, r.frame_size) for r in recs if r.frame_size is not None]
        if frames:
            self.graph.frames = IpSet([f[0] for f in frames], [f[1] for f in frames])
        self.graph_bind = None
        self.function_ops = ftrace_ops(FunctionTrace(self.rb, self.clock, self.tasks), "function_trace",
                                       FTRACE_OPS_FL_GLOBAL)
        self._tracer = "nop"
        self.graph_funcs = ftrace_hash()
        self.graph_notrace_funcs = ftrace_hash()
        self.user_ops = []

    # ---- tracers ----

    @property
    def available_tracers(self):
        return " ".join(TRACERS)

    @property
    def current_tracer(self):
        return self._tracer

    @current_tracer.setter
    def current_tracer(self, name):
        name = name.strip()
        if name not in TRACERS:
            raise FtraceError("EINVAL", f"no tracer {name!r}; available_tracers: {self.available_tracers}")
        if name == self._tracer:
            return
        self.check_alive()
        if self._tracer == "function":
            self.unregister_ftrace_function(self.function_ops)
        elif self._tracer == "function_graph":
            self.unregister_ftrace_graph()
            self.graph.stopped = True
        self._tracer = "nop"
        self.rb.reset()
        if name == "function":
            self.register_ftrace_function(self.function_ops)
        elif name == "function_graph":
            if self.graph_bind is None:
                from ftrace.kernel.tracers import FtraceReturnToHandler, PrepareFtraceReturn
                self.graph_bind = (self.bind_trampoline("prepare_ftrace_return", PrepareFtraceReturn(self.graph)),
                                   self.bind_trampoline("ftrace_return_to_handler",
                                                        FtraceReturnToHandler(self.graph)))
            self.graph.stopped = False
            self.register_ftrace_graph()
        self._tracer = name

    # ---- filters (set_ftrace_filter, set_ftrace_notrace, set_graph_function, set_graph_notrace) ----

    def _set_hash(self, which, text, append):
        self.check_alive()
        ops = self.global_ops
        new = getattr(ops, which).copy() if append else ftrace_hash()
        apply_filter(new, self.records, text, which.replace("_hash", ""))
        self.ftrace_hash_move(ops, which, new)

    def set_ftrace_filter(self, text, append=False):
        """echo TEXT > set_ftrace_filter (append=True: >>); '' clears it (trace everything)."""
        self._set_hash("filter_hash", text, append)

    def set_ftrace_notrace(self, text, append=False):
        self._set_hash("notrace_hash", text, append)

    def _read_hash(self, h, empty):
        if h.empty():
            return empty
        return "\n".join(r.func for r in self.records if r.ip in h.ips) + "\n"

    @property
    def ftrace_filter(self):
        """cat set_ftrace_filter."""
        return self._read_hash(self.global_ops.filter_hash, "#### all functions enabled ####\n")

    @property
    def ftrace_notrace(self):
        return self._read_hash(self.global_ops.notrace_hash, "")

    def set_graph_function(self, text, append=False):
        self.check_alive()
        new = self.graph_funcs.copy() if append else ftrace_hash()
        apply_filter(new, self.records, text, "set_graph_function")
        if new.count > FTRACE_GRAPH_MAX_FUNCS:
            raise FtraceError("EBUSY", f"set_graph_function holds at most {FTRACE_GRAPH_MAX_FUNCS} functions")
        self.graph_funcs = new
        self.graph.graph_filter = IpSet(new.ips) if new.count else None

    def check_file(self, name):
        """A tracefs file v3.6 did not have: ENOENT in the v3.6 era."""
        if self.era == "v3.6":
            raise FtraceError("ENOENT", f"{name}: no such file in v3.6's tracefs (era v3.6)")

    def set_graph_notrace(self, text, append=False):
        self.check_file("set_graph_notrace")
        self.check_alive()
        new = self.graph_notrace_funcs.copy() if append else ftrace_hash()
        apply_filter(new, self.records, text, "set_graph_notrace")
        self.graph_notrace_funcs = new
        self.graph.graph_notrace = IpSet(new.ips) if new.count else None

    @property
    def graph_function(self):
        return self._read_hash(self.graph_funcs, "#### all functions enabled ####\n")

    @property
    def max_graph_depth(self):
        self.check_file("max_graph_depth")
        return self.graph.max_depth

    @max_graph_depth.setter
    def max_graph_depth(self, n):
        self.check_file("max_graph_depth")
        if n < 0:
            raise FtraceError("EINVAL", "max_graph_depth must be >= 0")
        self.graph.max_depth = n

    @property
    def tracing_thresh(self):
        """In microseconds, as the tracefs file."""
        return self.graph.thresh_ns // 1000

    @tracing_thresh.setter
    def tracing_thresh(self, usecs):
        if usecs < 0:
            raise FtraceError("EINVAL", "tracing_thresh must be >= 0")
        self.graph.thresh_ns = usecs * 1000

    # ---- the ring buffer files ----

    @property
    def tracing_on(self):
        return int(self.rb.record_on)

    @tracing_on.setter
    def tracing_on(self, v):
        self.rb.record_on = bool(v)

    @property
    def buffer_size_kb(self):
        return self.rb.buffer_size_kb

    @buffer_size_kb.setter
    def buffer_size_kb(self, kb):
        self.rb.buffer_size_kb = kb

    @property
    def overwrite(self):
        return int(self.rb.overwrite)

    @overwrite.setter
    def overwrite(self, v):
        self.rb.overwrite = bool(v)

    def clear(self):
        """echo > trace."""
        self.rb.reset()

    # ---- ftrace_enabled (/proc/sys/kernel/ftrace_enabled) ----

    def ftrace_enable(self):
        """Every site that a registered user wants calls again (ftrace_enabled = 1)."""
        self.ftrace_enable_sysctl(1)

    def ftrace_disable(self):
        """Every site back to the nop, registrations kept (ftrace_enabled = 0)."""
        self.ftrace_enable_sysctl(0)

    # ---- user callbacks ----

    def register_function(self, callback, name="user", filter=None, notrace=None, data=0):
        """register_ftrace_function with a Python callable fn(ip, parent_ip, cpu) (slow path) or a pointer to a C
        function `void f(uint32_t ip, uint32_t parent_ip, int cpu, void *data)` as cffi cdata, e.g.
        `ffi.addressof(lib, "f")` of a compiled cffi module (fast path: called at C level, `data` passed)."""
        func = self._ops_func(callback, data)
        ops = ftrace_ops(func, name)
        if filter:
            apply_filter(ops.filter_hash, self.records, filter, "filter")
        if notrace:
            apply_filter(ops.notrace_hash, self.records, notrace, "notrace")
        self.register_ftrace_function(ops)
        self.user_ops.append(ops)
        return ops

    @staticmethod
    def _ops_func(callback, data):
        ffi = ev_mod.ffi
        if isinstance(callback, ffi.CData):
            return CffiOpsFunc(int(ffi.cast("uintptr_t", callback)), data, keep=callback)
        if not callable(callback):
            raise TypeError("callback must be callable or a cffi function pointer")
        return PyOpsFunc(callback)

    def unregister_function(self, ops):
        self.unregister_ftrace_function(ops)
        self.user_ops.remove(ops)

    # ---- the sites ----

    def sites(self):
        """Every mcount site as the image holds it now: (ip, function, (first, second) halfword, whether its 4
        bytes straddle an icache line of this machine, rec->flags)."""
        line = self.m.line_size
        return [(r.ip, r.func, (self.m.read16(r.ip), self.m.read16(r.ip + 2)), r.ip // line != (r.ip + 3) // line,
                 r.flags) for r in self.records]

    # ---- reading the trace ----

    def symbolize(self, addr):
        if memmap.HOSTCALL_BASE <= addr < memmap.HOSTCALL_BASE + 4 * memmap.HOSTCALL_SLOTS:
            return ("smp_cpu_exit" if addr >> 2 == memmap.HOSTCALL_BASE >> 2 else "hostcall", addr & ~1 & 0xFFFF)
        return self.image.symbolize(addr)

    def comm_of_pid(self, pid):
        return self.comm

    def raw_events(self):
        """All events in the buffers, merged across CPUs in timestamp order (non-consuming)."""
        return ev_mod.merge([self.rb.snapshot(cpu) for cpu in range(self.m.ncores)])

    def events(self):
        """Structured events for programs: dicts with type, cpu, pid, ts (ns), func, parent, depth, ..."""
        return [ev_mod.to_dict(e, self.symbolize) for e in self.raw_events()]

    def _header(self):
        entries = sum(self.rb.entries(c) for c in range(self.m.ncores))
        written = sum(self.rb.written(c) for c in range(self.m.ncores))
        return trace_output.trace_header(self._tracer, entries, written, self.m.ncores,
                                         dead=self.ftrace_is_dead())

    @property
    def trace(self):
        """cat trace: header and every event still in the buffers (non-consuming)."""
        body = self._format(self.raw_events())
        return self._header() + body

    def trace_pipe(self, max_events=None):
        """Read and consume what is in the buffers now (cat trace_pipe, without blocking)."""
        views, lost = [], {}
        for cpu in range(self.m.ncores):
            while True:
                view, n = self.rb.consume(cpu, max_events)
                if n:
                    lost[cpu] = lost.get(cpu, 0) + n
                if not len(view):
                    break
                views.append(view)
                if max_events is not None:
                    break
        return self._format(ev_mod.merge(views), lost=lost)

    def _format(self, events, lost=None):
        if self._tracer == "function_graph":
            return trace_output.format_graph(events, self.symbolize, self.m.ncores, lost=lost,
                                             era="v3.6" if self.era == "v3.6" else "modern")
        return trace_output.format_function(events, self.symbolize, self.comm_of_pid, lost=lost)

    # ---- running ----

    def run_for(self, instructions):
        """Let the machine run about this many instructions (all cores together), or until the program exits."""
        self.m.run_for(instructions)
