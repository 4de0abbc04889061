"""Zero-copy Python access to trace records (struct trace_event, trace_event.h) through cffi.

The record layout is defined once, in trace_event.h: ring_buffer.pxd includes it for the C writers, and this module
hands the same header (minus its preprocessor lines) to ``cffi.FFI().cdef`` (ABI mode, nothing is compiled).

Sources of events, as accepted by :func:`iter_events` and :func:`merge`:

* a bytes-like object holding whole records (a memoryview from ``RingBuffer.consume``, ``bytes``, ...);
* a tuple or list of such pieces, in order (what ``RingBuffer.snapshot`` returns: one piece, or two when the
  ring wraps, or none);
* a cdata ``struct trace_event[]`` (from :func:`as_events`);
* ``None`` (no events).

Events come out as cdata ``struct trace_event`` items that point into the ring buffer memory; read their fields
(``ev.ts``, ``ev.ip``, ...) while formatting, and convert with :func:`to_dict` / :meth:`Event.from_cdata` to keep
them beyond the buffer's next write (see ring_buffer.pyx about view lifetimes).
"""
import dataclasses
import heapq
import operator
import os

import cffi

__all__ = ["ffi", "EVENT_SIZE", "TRACE_FN", "TRACE_GRAPH_ENT", "TRACE_GRAPH_RET", "TYPE_NAMES",
           "as_events", "iter_events", "merge", "to_dict", "Event"]

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trace_event.h")


def _cdef_source(path):
    """The header without its preprocessor lines (include guard, #include <stdint.h>): cffi knows stdint."""
    with open(path) as f:
        return "".join(line for line in f if not line.lstrip().startswith("#"))


ffi = cffi.FFI()
ffi.cdef(_cdef_source(HEADER))

EVENT_SIZE = ffi.sizeof("struct trace_event")
_ENUM = ffi.typeof("enum trace_type").relements          # name -> value, straight from the header
TRACE_FN = _ENUM["TRACE_FN"]
TRACE_GRAPH_ENT = _ENUM["TRACE_GRAPH_ENT"]
TRACE_GRAPH_RET = _ENUM["TRACE_GRAPH_RET"]
# the kernel's event names (kernel/trace/trace_entries.h FTRACE_ENTRY(function / funcgraph_entry / funcgraph_exit))
TYPE_NAMES = {TRACE_FN: "function", TRACE_GRAPH_ENT: "funcgraph_entry", TRACE_GRAPH_RET: "funcgraph_exit"}

_TS = operator.attrgetter("ts")


def as_events(view):
    """A cdata ``struct trace_event[]`` over the bytes of `view`, without copying (``ffi.from_buffer``).

    The array keeps `view` alive.  Raises ValueError if the size is not a whole number of records."""
    n = memoryview(view).nbytes
    if n % EVENT_SIZE:
        raise ValueError(f"buffer of {n} bytes is not a whole number of {EVENT_SIZE}-byte trace events")
    return ffi.from_buffer("struct trace_event[]", view)


def _arrays(source):
    """The cdata arrays of one source (see the module docstring)."""
    if source is None:
        return []
    if isinstance(source, ffi.CData):
        return [source]
    if isinstance(source, (tuple, list)):
        return [as_events(piece) for piece in source]
    return [as_events(source)]


def iter_events(source):
    """The events of one source, in buffer order (zero-copy cdata items)."""
    arrays = _arrays(source)
    if len(arrays) == 1:
        return iter(arrays[0])
    return (ev for arr in arrays for ev in arr)


def merge(buffers):
    """Events of several per-CPU sources in timestamp order, like the kernel's trace iterator.

    `buffers[i]` is the source of CPU i.  At each step the event with the smallest ``ts`` among the next
    events of every CPU comes out; on equal timestamps the lower CPU (index in `buffers`) wins
    (kernel/trace/trace.c __find_next_entry: ``if (ent && (!next || ts < next_ts))`` over CPUs in order).
    Events of one CPU keep their buffer order."""
    iters = [iter_events(src) for src in buffers]
    if len(iters) == 1:
        return iters[0]
    # heapq.merge breaks key ties by iterable position: the same rule
    return heapq.merge(*iters, key=_TS)


def _sym(symbolize, addr):
    if symbolize is not None:
        s = symbolize(addr)
        if s is not None:
            return s[0]
    return "0x%x" % addr


def to_dict(ev, symbolize=None):
    """A plain dict for programs (copies the fields; safe to keep).

    Keys: type (kernel event name), cpu, pid, ts (ns), ip, func; then per type:
    function: parent_ip, parent; funcgraph_entry: depth; funcgraph_exit: depth, calltime, rettime, duration
    (ns), overrun.  func/parent are symbol names when `symbolize(addr) -> (name, offset[, size]) | None` knows
    the address, else "0x..." hex."""
    t = ev.type
    d = {"type": TYPE_NAMES.get(t, t), "cpu": ev.cpu, "pid": ev.pid, "ts": ev.ts, "ip": ev.ip,
         "func": _sym(symbolize, ev.ip)}
    if t == TRACE_FN:
        d["parent_ip"] = ev.parent_ip
        d["parent"] = _sym(symbolize, ev.parent_ip) if ev.parent_ip else None
    elif t == TRACE_GRAPH_ENT:
        d["depth"] = ev.depth
    elif t == TRACE_GRAPH_RET:
        d["depth"] = ev.depth
        d["calltime"] = ev.calltime
        d["rettime"] = ev.ts
        d["duration"] = (ev.ts - ev.calltime) & 0xFFFFFFFFFFFFFFFF
        d["overrun"] = ev.parent_ip
    return d


@dataclasses.dataclass(frozen=True)
class Event:
    """A copied, immutable trace event (field names as in trace_event.h)."""
    type: int
    cpu: int
    pid: int
    ts: int
    ip: int
    parent_ip: int = 0
    depth: int = 0
    calltime: int = 0

    @classmethod
    def from_cdata(cls, ev):
        return cls(ev.type, ev.cpu, ev.pid, ev.ts, ev.ip, ev.parent_ip, ev.depth, ev.calltime)

    @property
    def type_name(self):
        return TYPE_NAMES.get(self.type, str(self.type))

    @property
    def duration(self):
        """rettime - calltime (ns) of a funcgraph_exit event."""
        return (self.ts - self.calltime) & 0xFFFFFFFFFFFFFFFF

