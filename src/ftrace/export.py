"""Exporters for trace events: Chrome trace-event JSON and folded stacks (trace-cmd ``trace.dat``: ftrace.tracedat,
whose writer is re-exported here for ``ftrace record``).

Every writer takes an iterable of events in display order (e.g. ``events.merge(...)`` or ``Ftrace.raw_events()``,
any kind :func:`ftrace.events.rows` accepts) and streams it: events are read one at a time, and the only state
kept is what the output needs (a call stack per CPU, the aggregated stacks for folded output, and symbol/comm
strings cached per address/pid).

``symbolize(addr) -> (name, offset[, size]) | None`` names addresses; unknown addresses print as ``0x%x``.

Chrome JSON (:func:`write_chrome_json`)
---------------------------------------
``{"traceEvents": [...], "displayTimeUnit": "ns"}`` in the Trace Event Format: one process (pid 1, named
"simulated SMP"), one thread per simulated CPU (tid = cpu + `tid_base`, default tid = cpu, named "cpu N", sorted
by CPU; Perfetto UI releases before mid-2025 merge tid 0 into tid 1 -- google/perfetto#2278 -- so pass
``tid_base=1`` for those).  ``ts``/``dur`` are microseconds written with exactly three decimals (ns precision, no
float rounding); metadata events have ts 0.

* function_graph: an entry opens a ``B`` slice and its return closes it with ``E`` (same name, ts = rettime),
  streamed in order, so B/E are balanced, properly nested and non-decreasing in ts on each tid (a timestamp
  lower than the previous one of its CPU, which the simulator does not produce, is raised to it).
* a return whose entry is not in the trace (overwritten, or otherwise lost) becomes a complete ``X`` event
  [calltime, rettime] (the return carries both), with ``args.entry_lost = true`` -- when that slice nests with
  everything already on its CPU's track (the usual case: entries are lost at the start of the buffer, so such
  a return encloses everything seen before it); otherwise it is dropped and counted.
* an entry whose return never comes is closed by an ``E`` with ``args.unfinished = true``: at the end of the
  trace (at the last timestamp seen on its CPU), or earlier when the record stream shows the return was lost
  (an entry or return at the same or a lower depth on that CPU closes the open deeper slices first, at its ts).
* function tracer events are thread-scoped instant events (``"ph": "i", "s": "t"``) named after the function,
  with ``args.parent``.
* a change of guest task on a CPU is marked by an instant event ``comm-pid`` (category ``task``), like the
  kernel's function_graph context-switch banner.

Folded stacks (:func:`write_folded`)
------------------------------------
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
import json

from ftrace.events import TRACE_FN, TRACE_GRAPH_ENT, TRACE_GRAPH_RET, rows
from ftrace.tracedat import write_trace_dat

__all__ = ["write_trace_dat", "write_chrome_json", "write_folded", "matching_entry"]

class _Names:
    """Symbol names cached per address (``%ps``: name only, or 0x%x)."""

    def __init__(self, symbolize):
        self.symbolize = symbolize
        self.cache = {}

    def __call__(self, addr):
        s = self.cache.get(addr)
        if s is None:
            sym = self.symbolize(addr) if self.symbolize is not None and addr else None
            s = self.cache[addr] = sym[0] if sym is not None else "0x%x" % addr
        return s


def _open_text(path_or_file):
    """(file, close?) for a path or an already open text file."""
    if hasattr(path_or_file, "write"):
        return path_or_file, False
    return open(path_or_file, "w", encoding="utf-8", newline="\n"), True


def matching_entry(stack, ip, depth):
    """Index of the innermost open (ip, depth, ...) entry a graph return closes, or -1 if its entry was lost
    (searching stops at a shallower entry: the return cannot belong above it)."""
    i = len(stack) - 1
    while i >= 0 and not (stack[i][0] == ip and stack[i][1] == depth):
        if stack[i][1] < depth:
            return -1
        i -= 1
    return i


# ================================================================================================== Chrome JSON

def _us(ns):
    """ns as a JSON number of microseconds with three decimals (exact)."""
    if ns < 0:
        return "-" + _us(-ns)
    return "%d.%03d" % divmod(ns, 1000)


class _Slices:
    """Per-CPU open-slice bookkeeping shared by the JSON and folded writers."""

    __slots__ = ("stack", "last_ts", "first_start", "last_end", "pid")

    def __init__(self):
        self.stack = []          # [func, depth, ts, child_ns] of open entries
        self.last_ts = None      # last timestamp seen on this CPU
        self.first_start = None  # earliest slice start emitted on this track
        self.last_end = None     # latest slice end emitted on this track
        self.pid = None


def write_chrome_json(path_or_file, events, symbolize, ncpus, comms=None, process_name="simulated SMP", tid_base=0):
    """Write `events` as Chrome trace-event JSON (see the module docstring).

    `path_or_file`: a path or an open text file; `ncpus`: the CPU tracks to declare (tracks of CPUs seen beyond
    it are declared when first seen); `comms`: {pid: comm} for the task markers; `tid_base`: tid of CPU 0.
    Returns stats: {"events": JSON events written, "slices": B/E pairs and X events, "instants",
    "entry_lost": returns written as X, "dropped_returns", "unfinished": slices closed without their return}."""
    f, close = _open_text(path_or_file)
    name = _Names(symbolize)
    jname = {}

    def jn(addr):
        s = jname.get(addr)
        if s is None:
            s = jname[addr] = json.dumps(name(addr))
        return s

    comms = comms or {}
    tasks = {}

    def task(pid):
        s = tasks.get(pid)
        if s is None:
            comm = "<idle>" if pid == 0 else comms.get(pid) or "<...>"
            s = tasks[pid] = json.dumps("%s-%d" % (comm, pid))
        return s

    stats = {"events": 0, "slices": 0, "instants": 0, "entry_lost": 0, "dropped_returns": 0, "unfinished": 0}
    cpus = {}
    tids = {}
    first = [True]
    w = f.write

    def emit(s):
        if first[0]:
            w("\n" + s)
            first[0] = False
        else:
            w(",\n" + s)
        stats["events"] += 1

    def declare(cpu):
        tid = tids[cpu] = cpu + tid_base
        emit('{"ph":"M","pid":1,"tid":%d,"ts":0,"name":"thread_name","args":{"name":"cpu %d"}}' % (tid, cpu))
        emit('{"ph":"M","pid":1,"tid":%d,"ts":0,"name":"thread_sort_index","args":{"sort_index":%d}}' % (tid, cpu))
        st = cpus[cpu] = _Slices()
        return st

    def close_top(st, tid, ts):
        func = st.stack.pop()[0]
        emit('{"ph":"E","pid":1,"tid":%d,"ts":%s,"name":%s,"args":{"unfinished":true}}' % (tid, _us(ts), jn(func)))
        stats["unfinished"] += 1
        stats["slices"] += 1
        if st.last_end is None or ts > st.last_end:
            st.last_end = ts

    try:
        w('{"displayTimeUnit":"ns","traceEvents":[')
        emit('{"ph":"M","pid":1,"tid":%d,"ts":0,"name":"process_name","args":{"name":%s}}'
             % (tid_base, json.dumps(process_name)))
        for cpu in range(ncpus):
            declare(cpu)
        for t, cpu, pid, ts, ip, pip, depth, calltime in rows(events):
            if t != TRACE_FN and t != TRACE_GRAPH_ENT and t != TRACE_GRAPH_RET:
                continue
            st = cpus.get(cpu)
            if st is None:
                st = declare(cpu)
            tid = tids[cpu]
            # the B/E events of a track must not go back in time
            if st.last_ts is not None and ts < st.last_ts:
                ts = st.last_ts
            st.last_ts = ts
            if pid != st.pid:
                st.pid = pid
                emit('{"ph":"i","s":"t","pid":1,"tid":%d,"ts":%s,"name":%s,"cat":"task"}' % (tid, _us(ts), task(pid)))
                stats["instants"] += 1
            stack = st.stack
            if t == TRACE_GRAPH_ENT:
                while stack and stack[-1][1] >= depth:        # their returns were lost
                    close_top(st, tid, ts)
                stack.append([ip, depth, ts, 0])
                emit('{"ph":"B","pid":1,"tid":%d,"ts":%s,"name":%s}' % (tid, _us(ts), jn(ip)))
                if st.first_start is None or ts < st.first_start:
                    st.first_start = ts
            elif t == TRACE_GRAPH_RET:
                # the innermost open entry of this function at this depth
                i = matching_entry(stack, ip, depth)
                if i >= 0:
                    while len(stack) - 1 > i:
                        close_top(st, tid, ts)
                    stack.pop()
                    emit('{"ph":"E","pid":1,"tid":%d,"ts":%s,"name":%s}' % (tid, _us(ts), jn(ip)))
                    stats["slices"] += 1
                    if st.last_end is None or ts > st.last_end:
                        st.last_end = ts
                    continue
                # the entry is not in the trace: a complete event [calltime, rettime], if it nests with the track
                start = calltime if calltime <= ts else ts
                while stack and stack[-1][1] >= depth:
                    close_top(st, tid, ts)
                if stack:       # a child of the innermost open slice, after everything closed so far
                    ok = start >= stack[-1][2] and (st.last_end is None or start >= st.last_end)
                else:           # encloses everything so far (the usual case), or comes after all of it
                    ok = (st.first_start is None or start <= st.first_start or start >= st.last_end)
                if ok:
                    emit('{"ph":"X","pid":1,"tid":%d,"ts":%s,"dur":%s,"name":%s,"args":{"entry_lost":true}}'
                         % (tid, _us(start), _us(ts - start), jn(ip)))
                    stats["slices"] += 1
                    stats["entry_lost"] += 1
                    if st.first_start is None or start < st.first_start:
                        st.first_start = start
                    if st.last_end is None or ts > st.last_end:
                        st.last_end = ts
                else:
                    stats["dropped_returns"] += 1
            else:
                emit('{"ph":"i","s":"t","pid":1,"tid":%d,"ts":%s,"name":%s,"args":{"parent":%s}}'
                     % (tid, _us(ts), jn(ip), jn(pip)))
                stats["instants"] += 1
        # end of the trace: close what is still open, innermost first, at the CPU's last timestamp
        for cpu in sorted(cpus):
            st = cpus[cpu]
            while st.stack:
                close_top(st, tids[cpu], st.last_ts)
        w("\n]}\n")
    finally:
        if close:
            f.close()
    return stats


# =============================================================================================== folded stacks

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
    name = _Names(symbolize)
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

    f, close = _open_text(path_or_file)
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
