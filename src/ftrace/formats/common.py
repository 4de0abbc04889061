"""What the output formats share: any kind of event as a row tuple, symbol names cached per address, and the
function_graph return matcher (the writers of chrome.py, folded.py and tracedat.py, and recorded.py)."""
from ftrace.kernel.events import TYPE_NAMES, ffi

__all__ = ["rows", "Names", "open_text", "matching_entry"]


# ---- any event kind as a field tuple, for the writers (chrome, folded, tracedat) ----

_FIELDS = ("type", "cpu", "pid", "ts", "ip", "parent_ip", "depth", "calltime")
_TYPE_OF_NAME = {name: t for t, name in TYPE_NAMES.items()}


def _row(ev):
    """(type, cpu, pid, ts, ip, parent_ip, depth, calltime) of one event of any accepted kind."""
    if isinstance(ev, dict):
        t = ev.get("type", 0)
        if isinstance(t, str):
            t = _TYPE_OF_NAME.get(t, 0)
        pip = ev.get("parent_ip")
        if pip is None:
            pip = ev.get("overrun", 0)
        ts = ev.get("ts")
        if ts is None:
            ts = ev.get("rettime", 0)
        return (t, ev.get("cpu", 0), ev.get("pid", 0), ts, ev.get("ip", 0), pip or 0,
                ev.get("depth", 0), ev.get("calltime", 0))
    try:
        return (ev.type, ev.cpu, ev.pid, ev.ts, ev.ip, ev.parent_ip, ev.depth, ev.calltime)
    except AttributeError:
        t = getattr(ev, "type", 0)
        if isinstance(t, str):
            t = _TYPE_OF_NAME.get(t, 0)
        return (t,) + tuple(getattr(ev, f, 0) or 0 for f in _FIELDS[1:])


def rows(events):
    """The events as (type, cpu, pid, ts, ip, parent_ip, depth, calltime) tuples, one transient tuple at a time.

    An event is any of: a cffi ``struct trace_event`` (what ``iter_events``/``merge`` of ftrace.kernel.events
    yield; they take the direct path); an object with the trace_event.h field names (``events.Event``,
    ``types.SimpleNamespace``, ...), missing ones reading as 0; a dict with those keys, or a dict from
    ``events.to_dict`` (``type`` given by name, ``overrun`` for the funcgraph_exit overrun count).  For graph
    returns ``ts`` is rettime and ``parent_ip`` the overrun count, as in trace_event.h."""
    it = iter(events)
    for first in it:
        if isinstance(first, ffi.CData):
            yield _row(first)
            for ev in it:
                yield (ev.type, ev.cpu, ev.pid, ev.ts, ev.ip, ev.parent_ip, ev.depth, ev.calltime)
        else:
            yield _row(first)
            for ev in it:
                yield _row(ev)


# ---- shared by the writers ----

class Names:
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


def open_text(path_or_file):
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
