"""Chrome trace-event JSON of trace events (the Trace Event Format that chrome://tracing and Perfetto load).

The writer takes an iterable of events in display order (e.g. ``events.merge(...)`` or ``Ftrace.raw_events()``,
any kind :func:`ftrace.formats.common.rows` accepts) and streams it: events are read one at a time, and the only
state kept is an open-slice stack per CPU and symbol/comm strings cached per address/pid.

``symbolize(addr) -> (name, offset[, size]) | None`` names addresses; unknown addresses print as ``0x%x``.

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
"""
import json

from ftrace.formats.common import Names, matching_entry, open_text, rows
from ftrace.kernel.events import TRACE_FN, TRACE_GRAPH_ENT, TRACE_GRAPH_RET

__all__ = ["write_chrome_json"]


def _us(ns):
    """ns as a JSON number of microseconds with three decimals (exact)."""
    if ns < 0:
        return "-" + _us(-ns)
    return "%d.%03d" % divmod(ns, 1000)


class _Slices:
    """Per-CPU open-slice bookkeeping of the JSON writer."""

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
    f, close = open_text(path_or_file)
    name = Names(symbolize)
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
