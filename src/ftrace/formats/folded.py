"""Folded stacks of trace events, for flamegraph.pl, inferno or speedscope.

The writer takes an iterable of events in display order (e.g. ``events.merge(...)`` or ``Ftrace.raw_events()``,
any kind :func:`ftrace.formats.common.rows` accepts) and streams it: events are read one at a time, and the only
state kept is a call stack per CPU, the aggregated stacks and symbol names cached per address.

``symbolize(addr) -> (name, offset[, size]) | None`` names addresses; unknown addresses print as ``0x%x``.

``cpu0;main;worker;fib 1234`` lines (frames joined by ';', a space, a count), sorted, for flamegraph.pl,
inferno or speedscope.  mode "time" (the default when the first event is a graph event): the count is the self
time in ns of that stack (return duration minus its children's), from function_graph entry/return pairs per
CPU; unfinished entries are closed at the CPU's last timestamp as in the JSON; a return whose entry was lost
and that has nothing open on its CPU becomes a root-level frame (``cpuN;func``) with the self time left after
its already-seen children (its children keep their truncated stacks); function events are ignored (counted in
the returned stats).  mode "calls" (the default when the first event is a function event): the count is a
number of calls -- function events count as ``cpuN;parent;func`` (the function tracer records no deeper stack),
graph entries count under their full stack.
"""
import itertools

from ftrace.formats.common import Names, matching_entry, open_text, rows
from ftrace.kernel.events import TRACE_FN, TRACE_GRAPH_ENT, TRACE_GRAPH_RET

__all__ = ["write_folded"]


def _frame(s):
    return s.replace(";", ":").replace(" ", "_")


class _Stacks:
    """Per-CPU call stack of the folded writer."""

    __slots__ = ("stack", "names", "last_ts", "orphans")

    def __init__(self, cpu):
        self.stack = []                  # [func, depth, entry ts, ns spent in children] of open entries
        self.names = ["cpu%d" % cpu]     # frame names of the open stack, root first
        self.last_ts = None
        self.orphans = {}                # depth -> ns of completed root-level frames not yet given a parent


def write_folded(path_or_file, events, symbolize, mode=None):
    """Write folded stacks (``cpu0;main;fib 1234``; see the module docstring for mode "time"/"calls").

    Returns stats: {"mode", "stacks": lines written, "total": sum of the counts, "entry_lost": returns whose
    entry is not in the trace (mode "time": counted as root-level frames), "dropped_returns", "unfinished",
    "ignored": events of the other kind}."""
    if mode not in (None, "time", "calls"):
        raise ValueError("mode must be 'time' or 'calls', got %r" % (mode,))
    name = Names(symbolize)
    fname = {}

    def fn(addr):
        s = fname.get(addr)
        if s is None:
            s = fname[addr] = _frame(name(addr))
        return s

    it = rows(events)
    if mode is None:
        mode = "time"
        for first in it:
            if first[0] == TRACE_FN:
                mode = "calls"
            it = itertools.chain((first,), it)
            break
    timed = mode == "time"
    counts = {}
    cpus = {}
    stats = {"mode": mode, "stacks": 0, "total": 0, "entry_lost": 0, "dropped_returns": 0, "unfinished": 0,
             "ignored": 0}

    def pop(st, ts, unfinished):
        func, depth, start, child = st.stack.pop()
        if timed:
            dur = ts - start if ts >= start else 0
            key = ";".join(st.names)
            counts[key] = counts.get(key, 0) + max(dur - child, 0)
            if st.stack:
                st.stack[-1][3] += dur
            else:
                st.orphans[depth] = st.orphans.get(depth, 0) + dur
        st.names.pop()
        if unfinished:
            stats["unfinished"] += 1

    for t, cpu, pid, ts, ip, pip, depth, calltime in it:
        if t == TRACE_FN:
            if timed:
                stats["ignored"] += 1
            else:
                key = "cpu%d;%s;%s" % (cpu, fn(pip), fn(ip))
                counts[key] = counts.get(key, 0) + 1
            continue
        if t != TRACE_GRAPH_ENT and t != TRACE_GRAPH_RET:
            continue
        st = cpus.get(cpu)
        if st is None:
            st = cpus[cpu] = _Stacks(cpu)
        if st.last_ts is not None and ts < st.last_ts:
            ts = st.last_ts
        st.last_ts = ts
        stack = st.stack
        if t == TRACE_GRAPH_ENT:
            while stack and stack[-1][1] >= depth:       # their returns were lost
                pop(st, ts, True)
            stack.append([ip, depth, ts, 0])
            st.names.append(fn(ip))
            if not timed:
                key = ";".join(st.names)
                counts[key] = counts.get(key, 0) + 1
            continue
        # TRACE_GRAPH_RET: the innermost open entry of this function at this depth
        i = matching_entry(stack, ip, depth)
        if i >= 0:
            while len(stack) - 1 > i:
                pop(st, ts, True)
            pop(st, ts, False)
            continue
        stats["entry_lost"] += 1
        while stack and stack[-1][1] >= depth:
            pop(st, ts, True)
        if not timed:
            continue
        if stack:
            stats["dropped_returns"] += 1
            continue
        # a root-level return whose entry was lost: its children completed earlier at depth + 1 (or deeper)
        dur = ts - calltime if calltime <= ts else 0
        child = 0
        for d in [d for d in st.orphans if d > depth]:
            child += st.orphans.pop(d)
        key = "cpu%d;%s" % (cpu, fn(ip))
        counts[key] = counts.get(key, 0) + max(dur - child, 0)
        st.orphans[depth] = st.orphans.get(depth, 0) + dur

    if timed:
        for cpu in sorted(cpus):
            st = cpus[cpu]
            while st.stack:
                pop(st, st.last_ts, True)

    f, close = open_text(path_or_file)
    try:
        for key in sorted(counts):
            v = counts[key]
            f.write("%s %d\n" % (key, v))
            stats["stacks"] += 1
            stats["total"] += v
    finally:
        if close:
            f.close()
    return stats
