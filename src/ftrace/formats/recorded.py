"""The two views ``ftrace show`` and ``ftrace report`` print from a trace.dat that ``ftrace record`` wrote (read
by :func:`ftrace.formats.tracedat.load`, re-exported here).

    rec = load("trace.dat")          # -> Recording (ValueError naming what was expected if the file is not one)
    print(show(rec))                 # the kernel's `trace` text, as Ftrace.trace printed it for the run
    print(report(rec, sort="self"))  # per-function Total time / Self time / Calls, like `uftrace report`

:func:`show` prints what ``Ftrace.trace`` printed for the run, with one exception the file cannot carry: after
an ftrace_bug (ftrace_is_dead) the live header has the "FUNCTION TRACING IS CORRUPTED" warning pair; the file
has no place for that flag, so show() never prints it.
"""
from ftrace.formats import text as trace_output
from ftrace.kernel.events import TRACE_FN, TRACE_GRAPH_ENT, TRACE_GRAPH_RET
from ftrace.formats.common import matching_entry
from ftrace.formats.tracedat import Recording, load

__all__ = ["Recording", "load", "show", "report", "format_time", "function_stats"]

_U64 = 0xFFFFFFFFFFFFFFFF


# --------------------------------------------------------------------------------------------------------- show

def show(rec, options=None):
    """The kernel `trace` text of the recording: trace_output.trace_header (entries/written from the file)
    and format_graph or format_function of the merged events -- for a file ``ftrace record`` wrote, what
    ``Ftrace.trace`` printed for that run.  `options`: trace_options as trace_output.resolve_options takes."""
    head = trace_output.trace_header(rec.tracer, rec.entries, rec.written, rec.ncpus, options=options)
    if rec.tracer == "function_graph":
        body = trace_output.format_graph(rec.events, rec.symbolize, rec.ncpus, options=options,
                                         comm_of_pid=rec.comm_of_pid)
    else:
        body = trace_output.format_function(rec.events, rec.symbolize, rec.comm_of_pid, options=options)
    return head + body


# ------------------------------------------------------------------------------------------------------- report

_UNITS = ("us", "ms", " s", " m", " h")
_LIMITS = (1000, 1000, 1000, 60, 24, 1 << 31)


def format_time(ns):
    """A duration as uftrace prints it (utils.c print_time_unit): ``%3d.%03d unit``, 10 characters, units us,
    ms, s, m, h (e.g. ``  1.234 us``, `` 12.345 ms``); 0 prints as blanks; None (not measured) as ``-``."""
    if ns is None:
        return "%10s" % "-"
    if ns == 0:
        return " " * 10
    delta, small = ns, 0
    for idx in range(len(_UNITS)):
        small = delta % _LIMITS[idx]
        delta //= _LIMITS[idx]
        if delta < _LIMITS[idx + 1]:
            break
    if delta > 999:
        delta = small = 999
    return "%3d.%03d %s" % (delta, small, _UNITS[idx])


class _Stat:
    __slots__ = ("total", "self", "calls")

    def __init__(self):
        self.total = 0
        self.self = 0
        self.calls = 0


def function_stats(rec):
    """{function name: (total ns, self ns, calls)}; the times are None for the function tracer.

    function_graph, per CPU: entries and returns are paired on a reconstructed call stack (a return closes the
    innermost open entry of its function at its depth).  A call's time is its return's rettime - calltime;
    its self time is that minus the times of its direct children.  As in uftrace, the total time of a
    function counts its outermost calls only: a call made while the same function is already on the stack
    (recursion) adds to Calls and Self time but not to Total time.

    Incomplete pairs: a return whose entry is not in the trace (overwritten at the start of the buffer, or
    tracing_thresh, which records returns only) is a call too; the calls that completed within its
    [calltime, rettime] at that point of the stack are its children.  An entry whose return is not in the trace
    counts as a call with the time up to where the trace shows it over: the next entry or return at the same or
    a lower depth on its CPU, or that CPU's last timestamp."""
    stats = {}
    name_of = {}

    def name(addr):
        s = name_of.get(addr)
        if s is None:
            sym = rec.symbolize(addr)
            s = name_of[addr] = sym[0] if sym is not None else "0x%x" % addr
        return s

    graph = rec.tracer == "function_graph"
    if not graph:
        for evs in rec.cpu_events:
            for e in evs:
                if e.type == TRACE_FN:
                    n = name(e.ip)
                    s = stats.get(n)
                    if s is None:
                        s = stats[n] = _Stat()
                    s.calls += 1
        return {n: (None, None, s.calls) for n, s in stats.items()}

    def finish(func, depth, start, dur, kids, into):
        """Account one completed call; `kids`: its completed direct children as (start, dur, depth, counted),
        `counted`: {name: total time counted for that name in the subtree}; appends the call to `into`."""
        n = name(func)
        s = stats.get(n)
        if s is None:
            s = stats[n] = _Stat()
        s.calls += 1
        child = 0
        counted = {}
        for k in kids:
            child += k[1]
            for kn, kt in k[3].items():
                counted[kn] = counted.get(kn, 0) + kt
        s.self += dur - child if dur > child else 0
        inner = counted.get(n)
        if inner:
            s.total -= inner            # recursion: the inner calls were not outermost after all
        counted[n] = dur
        s.total += dur
        into.append((start, dur, depth, counted))

    for evs in rec.cpu_events:
        stack = []          # open entries: [func, depth, entry ts, completed direct children]
        top = []            # completed calls with no open entry above them
        last_ts = 0

        def close_top(ts):
            func, depth, start, kids = stack.pop()
            finish(func, depth, start, ts - start if ts > start else 0, kids, stack[-1][3] if stack else top)

        for e in evs:
            ts = e.ts
            if ts > last_ts:
                last_ts = ts
            depth = e.depth
            if e.type == TRACE_GRAPH_ENT:
                while stack and stack[-1][1] >= depth:       # their returns are not in the trace
                    close_top(ts)
                stack.append([e.ip, depth, ts, []])
                continue
            if e.type != TRACE_GRAPH_RET:
                continue
            dur = (ts - e.calltime) & _U64
            i = matching_entry(stack, e.ip, depth)
            if i >= 0:
                while len(stack) - 1 > i:
                    close_top(ts)
                func, _, start, kids = stack.pop()
                finish(func, depth, start, dur, kids, stack[-1][3] if stack else top)
                continue
            # the entry is not in the trace: its children are the calls completed within [calltime, rettime]
            while stack and stack[-1][1] >= depth:
                close_top(ts)
            into = stack[-1][3] if stack else top
            n = len(into)
            while n and into[n - 1][0] >= e.calltime and into[n - 1][2] > depth:
                n -= 1
            kids = into[n:]
            del into[n:]
            finish(e.ip, depth, e.calltime, dur, kids, into)
        while stack:
            close_top(last_ts)
    return {n: (s.total, s.self, s.calls) for n, s in stats.items()}


_SORT_KEYS = {
    "total": lambda item: (-(item[1][0] or 0), -item[1][2], item[0]),
    "self": lambda item: (-(item[1][1] or 0), -item[1][2], item[0]),
    "calls": lambda item: (-item[1][2], -(item[1][0] or 0), item[0]),
    "func": lambda item: item[0],
}
_SORT_KEYS["call"] = _SORT_KEYS["calls"]


def report(rec, sort="total"):
    """A `uftrace report`-like table: Total time, Self time and Calls per function (see function_stats),
    sorted by `sort`: "total" (default), "self", "calls" (or "call"), all descending, or "func" (by name).
    For the function tracer the time columns are "-" and "total"/"self" sort by calls."""
    key = _SORT_KEYS.get(sort)
    if key is None:
        raise ValueError(f"sort key {sort!r}: expected one of total, self, calls, func")
    stats = function_stats(rec)
    lines = ["  Total time   Self time       Calls  Function",
             "  ==========  ==========  ==========  ===================="]
    for fname, (total, self_ns, calls) in sorted(stats.items(), key=key):
        lines.append("  %s  %s  %10d  %s" % (format_time(total), format_time(self_ns), calls, fname))
    return "\n".join(lines) + "\n"
