"""The kernel's text formats for the tracefs `trace` / `trace_pipe` files (function and function_graph tracers).

Which kernel each piece follows (they are what the issue asked for; where eras differ the choice is stated):

* ``trace`` header (:func:`trace_header`): v3.6 kernel/trace/trace.c ``s_show`` + ``test_ftrace_alive`` +
  ``print_event_info`` + ``print_func_help_header_irq`` -- the 4-flag ``||||`` header with the
  irqs-off / need-resched / hardirq/softirq / preempt-depth / delay legend, used by v3.x to v5.12.  With
  ``noirq-info``: ``print_func_help_header``.  The WARNING pair follows the ``# tracer:`` line and its ``#`` line,
  as in ``s_show`` (``test_ftrace_alive`` runs after ``seq_puts(m, "#\\n")``).
* function lines (:func:`format_function`): v3.6 kernel/trace/trace_output.c ``trace_print_context`` +
  ``trace_print_lat_fmt`` + ``trace_fn_trace``: ``"%16s-%-5d [%03d] "`` comm-pid and CPU, the 4 latency-flag
  characters, ``" %5lu.%06lu: "`` (``ns2usecs()`` rounds to the nearest microsecond), ``func <-parent``.
  NOTE the pid field is ``%-5d``, as in every 4-flag-era kernel and its documentation (``bash-1994  [002]``); the
  ``%-7d`` width belongs to the later 5-flag era.  The records carry no irq/preempt state, so the flags field is
  ``....`` unless the caller supplies ``flags_of(ev)``.
  Symbols: ``%ps`` style (name only); option ``sym-offset`` gives ``%pS`` style ``name+0x1a/0x40`` (the size comes
  from a 3-tuple ``(name, offset, size)``; with a 2-tuple it is ``name+0x1a``), ``sym-addr`` appends
  ``" <%08lx>"`` (IP_FMT of a 32-bit kernel).  An address ``symbolize`` does not know prints as ``0x%lx`` (the
  kernel's sprint_symbol fallback; v3.6's short form printed an empty name there).  ip 0 prints ``0``
  (seq_print_ip_sym).
* function_graph (:func:`format_graph`): the structure of the late-v3.x kernel/trace/trace_functions_graph.c
  (the one with ``funcgraph-tail``): leaf detection by peeking at the next event of the same CPU,
  ``enter_funcs[]`` of FTRACE_RETFUNC_DEPTH = 50 for ``} /* func */`` on lost entries, ``funcgraph-tail``,
  ``" %*d) "`` CPU column as wide as nr_cpu_ids - 1; with the duration column of v4.1+ (``trace_find_mark``:
  ``$ @ * # ! +``, strictly greater than 1 s, 100 ms, 10 ms, 1000 us, 100 us, 10 us; v3.x had only ``!`` and
  ``+``) and the v4.x+ ``trace_print_graph_duration`` padding (the '.' counts in the width of 8, so a 7-digit
  duration such as ``$ 3594274 us  |`` keeps the column; v3.x padded to 7 without the '.', one space less for
  durations >= 1 s: ``era="v3.6"`` prints that column, with ``!`` and ``+`` only).
  The documentation samples with ``$``/``@``/``*`` marks (Documentation/trace/ftrace.rst) are printed by exactly
  this code.  Not implemented: irq entry/exit arrows, the task-switch banner (one task per CPU), trace_printk
  comments, the latency-format column.
* lost events: ``"CPU:%d [LOST %lu EVENTS]"`` (trace.c ``print_trace_line``), printed before the next event of
  that CPU.

Timestamps (``ev.ts``, ``ev.calltime``) are nanoseconds.  The ``format_*`` functions return the text with every
line newline-terminated; the ``iter_*_lines`` generators yield the lines without newlines.  The hot loops read
cdata fields directly and cache symbol and comm strings; they never build a dict per event.
"""
from ftrace.kernel.events import TRACE_FN, TRACE_GRAPH_ENT, TRACE_GRAPH_RET

__all__ = ["DEFAULT_OPTIONS", "resolve_options", "trace_header", "format_function", "iter_function_lines",
           "format_graph", "iter_graph_lines", "format_lost", "trace_find_mark", "graph_duration",
           "FTRACE_RETFUNC_DEPTH", "TRACE_GRAPH_INDENT"]

FTRACE_RETFUNC_DEPTH = 50
TRACE_GRAPH_INDENT = 2
TRACE_GRAPH_PROCINFO_LENGTH = 14
TASK_COMM_LEN = 16
_U64 = 0xFFFFFFFFFFFFFFFF

# Kernel defaults.  Generic trace_options that matter to these formats, then the function_graph tracer options
# (trace_functions_graph.c tracer_flags: cpu, overhead, duration, irqs on; overrun, proc, abstime, tail off).
DEFAULT_OPTIONS = {
    "print-parent": True,
    "sym-offset": False,
    "sym-addr": False,
    "context-info": True,
    "irq-info": True,
    "funcgraph-overrun": False,
    "funcgraph-cpu": True,
    "funcgraph-overhead": True,
    "funcgraph-proc": False,
    "funcgraph-duration": True,
    "funcgraph-abstime": False,
    "funcgraph-irqs": True,
    "funcgraph-tail": False,
}


def resolve_options(options=None):
    """Full option dict from None (kernel defaults), a dict {name: bool}, or trace_options-style strings
    (``["nofuncgraph-cpu", "funcgraph-proc"]``).  Unknown names raise ValueError (like -EINVAL)."""
    opts = dict(DEFAULT_OPTIONS)
    if options is None:
        return opts
    if isinstance(options, str):
        options = options.split()
    items = options.items() if isinstance(options, dict) else (
        (o[2:], False) if o.startswith("no") and o[2:] in opts else (o, True) for o in options)
    for name, value in items:
        if name not in opts:
            raise ValueError(f"unknown trace option {name!r}")
        opts[name] = bool(value)
    return opts


# ------------------------------------------------------------------------------------------------- small pieces

def format_lost(cpu, n):
    """``CPU:%d [LOST %lu EVENTS]`` (no newline)."""
    return "CPU:%d [LOST %d EVENTS]" % (cpu, n)


def trace_find_mark(duration):
    """The overhead mark of a duration in ns (trace.c trace_find_mark, v4.1+): strictly-greater thresholds."""
    if duration > 1000000000:
        return "$"
    if duration > 100000000:
        return "@"
    if duration > 10000000:
        return "*"
    if duration > 1000000:
        return "#"
    if duration > 100000:
        return "!"
    if duration > 10000:
        return "+"
    return " "


def trace_find_mark_v3_6(duration):
    """v3.6 print_graph_duration()'s overhead mark: only '!' (> 100 us) and '+' (> 10 us)."""
    if duration > 100000:
        return "!"
    if duration > 10000:
        return "+"
    return " "


def graph_duration_v3_6(duration):
    """v3.6 trace_print_graph_duration(): as graph_duration, but the '.' does not count and the width is 7."""
    usecs, nsecs_rem = divmod(duration, 1000)
    s = "%d" % usecs
    n = len(s)
    if n < 7:
        frac = ("%03d" % nsecs_rem)[:min(4, 7 - n)]
        s = s + "." + frac
        n += len(frac)
    return s + " us " + " " * (7 - n)


def graph_duration(duration):
    """trace_print_graph_duration(): usecs, then '.' and the ns remainder zero-padded to 3 digits but cut so
    that at most 7 digits are printed, then " us ", padded with spaces to a width of 8 (the '.' counts)."""
    usecs, nsecs_rem = divmod(duration, 1000)
    s = "%d" % usecs
    n = len(s)
    if n < 7:
        frac = ("%03d" % nsecs_rem)[:min(4, 7 - n)]     # snprintf(nsecs_str, min(sizeof 5, 8 - len), "%03lu")
        s = s + "." + frac
        n += len(frac) + 1
    return s + " us " + " " * (8 - n)             # for (i = len; i < 8; i++) putc(' ')


def _usecs(ns):
    t = (ns + 500) // 1000                                # ns2usecs() rounds
    return divmod(t, 1000000)


class _Names:
    """Cached symbol and comm strings for one formatting pass."""

    def __init__(self, symbolize, comm_of_pid=None, sym_offset=False, sym_addr=False):
        self.symbolize = symbolize
        self.sym_offset = sym_offset
        self.sym_addr = sym_addr
        if comm_of_pid is None:
            self.comm_of_pid = lambda pid: None
        elif callable(comm_of_pid):
            self.comm_of_pid = comm_of_pid
        else:
            self.comm_of_pid = comm_of_pid.get
        self._ip = {}
        self._ps = {}
        self._comm = {}

    def _lookup(self, addr):
        return self.symbolize(addr) if self.symbolize is not None else None

    def ps(self, addr):
        """``%ps``: the symbol name, or 0x%lx."""
        s = self._ps.get(addr)
        if s is None:
            sym = self._lookup(addr)
            s = self._ps[addr] = sym[0] if sym is not None else "0x%x" % addr
        return s

    def ip(self, addr):
        """seq_print_ip_sym(): %ps, or %pS with sym-offset, plus " <addr>" with sym-addr; "0" for 0."""
        s = self._ip.get(addr)
        if s is None:
            if not addr:
                s = "0"
            else:
                sym = self._lookup(addr)
                if sym is None:
                    s = "0x%x" % addr
                elif self.sym_offset:
                    s = "%s+%#x/%#x" % (sym[0], sym[1], sym[2]) if len(sym) > 2 else "%s+%#x" % (sym[0], sym[1])
                else:
                    s = sym[0]
                if self.sym_addr:
                    s += " <%08x>" % addr
            self._ip[addr] = s
        return s

    def comm(self, pid):
        """trace_find_cmdline(): <idle> for pid 0, <XXX> for a negative pid, <...> when unknown."""
        s = self._comm.get(pid)
        if s is None:
            if pid == 0:
                s = "<idle>"
            elif pid < 0:
                s = "<XXX>"
            else:
                s = self.comm_of_pid(pid) or "<...>"
                s = s[:TASK_COMM_LEN - 1]
            self._comm[pid] = s
        return s


# ------------------------------------------------------------------------------------------------------ header

_IRQ_HELP = [
    "#                              _-----=> irqs-off",
    "#                             / _----=> need-resched",
    "#                            | / _---=> hardirq/softirq",
    "#                            || / _--=> preempt-depth",
    "#                            ||| /     delay",
    "#           TASK-PID   CPU#  ||||    TIMESTAMP  FUNCTION",
    "#              | |       |   ||||       |         |",
]
_NOIRQ_HELP = [
    "#           TASK-PID   CPU#      TIMESTAMP  FUNCTION",
    "#              | |       |          |         |",
]


def _graph_header(opts):
    # __print_graph_headers_flags() (no latency-format)
    l1, l2 = ["#"], ["#"]
    if opts["funcgraph-abstime"]:
        l1.append("     TIME       ")
        l2.append("      |         ")
    if opts["funcgraph-cpu"]:
        l1.append(" CPU")
        l2.append(" |  ")
    if opts["funcgraph-proc"]:
        l1.append("  TASK/PID       ")
        l2.append("   |    |        ")
    if opts["funcgraph-duration"]:
        l1.append("  DURATION   ")
        l2.append("   |   |      ")
    l1.append("               FUNCTION CALLS")
    l2.append("               |   |   |   |")
    return ["".join(l1), "".join(l2)]


def trace_header(tracer, entries, written, ncpus, dead=False, options=None):
    """The header of the `trace` file (newline-terminated lines).

    `entries`/`written`: sums over CPUs of RingBuffer.entries()/written(); `ncpus`: the ``#P:`` count;
    `dead`: ftrace_is_dead() (adds the WARNING pair).  function_graph prints its column header instead of the
    entries line and the latency legend (print_graph_headers)."""
    opts = resolve_options(options)
    lines = ["# tracer: %s" % tracer, "#"]
    if dead:
        lines.append("# WARNING: FUNCTION TRACING IS CORRUPTED")
        lines.append("#          MAY BE MISSING FUNCTION EVENTS")
    if opts["context-info"]:
        if tracer == "function_graph":
            lines += _graph_header(opts)
        else:
            lines.append("# entries-in-buffer/entries-written: %d/%d   #P:%d" % (entries, written, ncpus))
            lines.append("#")
            lines += _IRQ_HELP if opts["irq-info"] else _NOIRQ_HELP
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------- function

def _function_line(ev, names, ctx, irq, parent, flags_of):
    fn = names.ip(ev.ip)
    if parent:
        pip = ev.parent_ip
        if pip:
            fn = fn + " <-" + names.ip(pip)
    if not ctx:
        return fn
    pid = ev.pid
    secs, usec = _usecs(ev.ts)
    if irq:
        return "%16s-%-5d [%03d] %s %5d.%06d: %s" % (
            names.comm(pid), pid, ev.cpu, flags_of(ev) if flags_of is not None else "....", secs, usec, fn)
    return "%16s-%-5d [%03d]  %5d.%06d: %s" % (names.comm(pid), pid, ev.cpu, secs, usec, fn)


def iter_function_lines(events, symbolize, comm_of_pid=None, options=None, lost=None, flags_of=None):
    """Lines (without newline) of the function tracer for `events` in display order (e.g. events.merge()).

    `symbolize(addr) -> (name, offset[, size]) | None`; `comm_of_pid`: callable or mapping pid -> comm (None or
    unknown -> ``<...>``); `lost`: {cpu: n} printed as ``CPU:%d [LOST %lu EVENTS]`` before that CPU's next event;
    `flags_of(ev) -> 4-char str` for the latency-flags field (default ``....``).  Records of other types print
    as the kernel's ``Unknown type %d``."""
    opts = resolve_options(options)
    names = _Names(symbolize, comm_of_pid, opts["sym-offset"], opts["sym-addr"])
    ctx, irq, parent = opts["context-info"], opts["irq-info"], opts["print-parent"]
    pending = {c: n for c, n in (lost or {}).items() if n}
    for ev in events:
        if pending:
            n = pending.pop(ev.cpu, 0)
            if n:
                yield format_lost(ev.cpu, n)
        if ev.type == TRACE_FN:
            yield _function_line(ev, names, ctx, irq, parent, flags_of)
        else:
            yield "Unknown type %d" % ev.type


def format_function(events, symbolize, comm_of_pid=None, options=None, lost=None, flags_of=None):
    """The function-tracer text of `events` (see iter_function_lines), every line newline-terminated."""
    out = "\n".join(iter_function_lines(events, symbolize, comm_of_pid, options, lost, flags_of))
    return out + "\n" if out else ""


# ---------------------------------------------------------------------------------------------- function_graph

def iter_graph_lines(events, symbolize, ncpus=None, options=None, lost=None, comm_of_pid=None, era="modern"):
    """Lines (without newline) of the function_graph tracer for `events` in display order (e.g. events.merge()).

    Leaf detection looks, like get_return_for_leaf(), at the next event *of the same CPU*: an entry immediately
    followed on its CPU by a return of the same pid and function prints ``func();`` with that return's duration,
    and the return is not printed again.  `ncpus` sets the CPU column width (digits of ncpus - 1, as
    max_bytes_for_cpu from nr_cpu_ids; default: from the highest CPU seen).  `comm_of_pid` is used by
    ``funcgraph-proc``; `lost` as in iter_function_lines; `era` "v3.6" prints v3.6's duration column (marks
    ``!`` and ``+`` only, width 7 without the '.')."""
    if era not in ("modern", "v3.6"):
        raise ValueError(f"era must be 'modern' or 'v3.6', got {era!r}")
    find_mark, print_duration = ((trace_find_mark, graph_duration) if era == "modern"
                                 else (trace_find_mark_v3_6, graph_duration_v3_6))
    opts = resolve_options(options)
    evs = events if isinstance(events, list) else list(events)
    n = len(evs)
    # next index on the same CPU, for the leaf peek
    nxt = [-1] * n
    last = {}
    cpus = [0] * n
    for i in range(n):
        c = evs[i].cpu
        cpus[i] = c
        j = last.get(c)
        if j is not None:
            nxt[j] = i
        last[c] = i
    if ncpus is None:
        ncpus = max(last) + 1 if last else 1
    width = len("%d" % max(ncpus - 1, 0))

    ctx = opts["context-info"]
    show_abs = ctx and opts["funcgraph-abstime"]
    show_cpu = ctx and opts["funcgraph-cpu"]
    show_proc = ctx and opts["funcgraph-proc"]
    show_dur = ctx and opts["funcgraph-duration"]
    overhead = opts["funcgraph-overhead"]
    tail = opts["funcgraph-tail"]
    show_overrun = opts["funcgraph-overrun"]
    fn_ctx, fn_irq, fn_parent = ctx, opts["irq-info"], opts["print-parent"]
    names = _Names(symbolize, comm_of_pid, opts["sym-offset"], opts["sym-addr"])
    ps = names.ps
    cpu_col = {}
    proc_col = {}
    enter_funcs = {}
    fill = "              |  " if show_dur else ""
    pending = {c: k for c, k in (lost or {}).items() if k}
    consumed = bytearray(n)

    def prefix(c, pid, ts):
        p = ""
        if show_abs:
            secs, rem = divmod(ts, 1000000000)
            p = "%5d.%06d |  " % (secs, rem // 1000)
        if show_cpu:
            s = cpu_col.get(c)
            if s is None:
                s = cpu_col[c] = " %*d) " % (width, c)
            p += s
        if show_proc:
            s = proc_col.get(pid)
            if s is None:
                comm = names.comm(pid)[:7]
                pid_str = "%d" % pid
                k = len(comm) + len(pid_str) + 1
                sp = TRACE_GRAPH_PROCINFO_LENGTH - k if k < TRACE_GRAPH_PROCINFO_LENGTH else 0
                s = proc_col[pid] = " " * (sp // 2) + comm + "-" + pid_str + " " * (sp - sp // 2) + " | "
            p += s
        return p

    def dur(duration):
        if not show_dur:
            return ""
        return (find_mark(duration) if overhead else " ") + " " + print_duration(duration) + "|  "

    for i in range(n):
        if consumed[i]:
            continue
        ev = evs[i]
        c = cpus[i]
        if pending:
            k = pending.pop(c, 0)
            if k:
                yield format_lost(c, k)
        t = ev.type
        if t == TRACE_GRAPH_ENT:
            depth = ev.depth
            func = ev.ip
            pid = ev.pid
            funcs = enter_funcs.get(c)
            if funcs is None:
                funcs = enter_funcs[c] = [0] * FTRACE_RETFUNC_DEPTH
            j = nxt[i]
            if j >= 0:
                r = evs[j]
                if r.type == TRACE_GRAPH_RET and r.pid == pid and r.ip == func:
                    # leaf: print with the return's duration, consume the return
                    consumed[j] = 1
                    if depth < FTRACE_RETFUNC_DEPTH:
                        funcs[depth] = 0
                    yield (prefix(c, pid, ev.ts) + dur((r.ts - r.calltime) & _U64)
                           + " " * (depth * TRACE_GRAPH_INDENT) + ps(func) + "();")
                    continue
            if depth < FTRACE_RETFUNC_DEPTH:
                funcs[depth] = func
            yield prefix(c, pid, ev.ts) + fill + " " * (depth * TRACE_GRAPH_INDENT) + ps(func) + "() {"
        elif t == TRACE_GRAPH_RET:
            depth = ev.depth
            func = ev.ip
            match = True
            if depth < FTRACE_RETFUNC_DEPTH:
                funcs = enter_funcs.get(c)
                if funcs is None:
                    funcs = enter_funcs[c] = [0] * FTRACE_RETFUNC_DEPTH
                match = funcs[depth] == func
                funcs[depth] = 0
            line = prefix(c, ev.pid, ev.ts) + dur((ev.ts - ev.calltime) & _U64) + " " * (depth * TRACE_GRAPH_INDENT)
            yield line + "}" if match and not tail else line + "} /* " + ps(func) + " */"
            if show_overrun:
                yield " (Overruns: %d)" % ev.parent_ip
        elif t == TRACE_FN:
            # the graph tracer leaves function records to the default printer (print_trace_fmt)
            yield _function_line(ev, names, fn_ctx, fn_irq, fn_parent, None)
        else:
            yield "Unknown type %d" % t


def format_graph(events, symbolize, ncpus=None, options=None, lost=None, comm_of_pid=None, era="modern"):
    """The function_graph text of `events` (see iter_graph_lines), every line newline-terminated."""
    out = "\n".join(iter_graph_lines(events, symbolize, ncpus, options, lost, comm_of_pid, era))
    return out + "\n" if out else ""
