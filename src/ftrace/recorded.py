"""Reading back a trace.dat written by :func:`ftrace.export.write_trace_dat` (``ftrace record``), and the two
views ``ftrace show`` and ``ftrace report`` print from it.

    rec = load("trace.dat")          # -> Recording (ValueError naming what was expected if the file is not one)
    print(show(rec))                 # the kernel's `trace` text, as Ftrace.trace printed it for the run
    print(report(rec, sort="self"))  # per-function Total time / Self time / Calls, like `uftrace report`

:func:`load` follows trace-cmd.dat.v6(5) (trace-cmd's lib/trace-cmd/trace-input.c is the reference reader):
the initial format (magic ``\\x17\\x08\\x44tracing``, version ``6``, endianness, long size, page size), the
``header_page``/``header_event`` texts (the page layout -- timestamp, commit and data offsets -- is taken from
header_page), the ftrace event formats (each event's fields are decoded at the offsets its format states, so the
IDs and layouts are read, not assumed), event systems (skipped), kallsyms, printk formats (skipped), the
saved cmdlines, the CPU count, the options (TRACECLOCK, UNAME, any other is kept raw) and ``flyrecord`` with
its per-CPU page table and the trace_clock text.  Each CPU's ring-buffer pages (4096 bytes from ftrace record)
are decoded like libtraceevent's kbuffer: u64 page timestamp, commit (RB_MISSED_EVENTS / RB_MISSED_STORED flags
and the lost count stored after the data), events with a 5-bit type_len / 27-bit time_delta header (type_len 0:
length in array[0]; 29 padding; 30 time extend; 31 v3.6 time stamp, skipped).

The records come back as :class:`ftrace.events.Event` (trace_event.h field names and types: function = 1,
funcgraph_entry = 2, funcgraph_exit = 3; ``ts`` ns from the ring buffer, for a funcgraph_exit the rettime, its
``parent_ip`` the overrun count and ``calltime`` from the record), per CPU in buffer order and merged over
CPUs in timestamp order with ties to the lower CPU, as :func:`ftrace.events.merge` does.

Symbols: :meth:`Recording.symbolize` answers like ``cpu.loader.Image.symbolize`` from the file's kallsyms
alone: ``(name, offset)`` of the symbol with the highest address <= addr (Thumb bit ignored), nothing below
the first symbol, and nothing at or past the end marker that write_trace_dat puts after the last function
(``_etext``).  kallsyms carries no sizes, so an address in padding between two functions names the function
before it (Image, which knows ELF sizes, says None there; return addresses and mcount sites are always inside
a function, so traces do not meet this), and where several names share an address the alphabetically first
one is used (the Image prefers global over weak over local symbols, then sized ones, then the name; the file
marks every symbol ``T``).  ``ftrace record`` also lists the host-call slots Ftrace.symbolize names
(``smp_cpu_exit``, ``hostcall``), so the names match the live trace's.

:func:`show` prints what ``Ftrace.trace`` printed for the run, with one exception the file cannot carry: after
an ftrace_bug (ftrace_is_dead) the live header has the "FUNCTION TRACING IS CORRUPTED" warning pair; the file
has no place for that flag, so show() never prints it.

The tracer is taken from the events (any funcgraph record: function_graph; else function records: function),
and for a file without events from the ``tracer NAME`` that write_trace_dat puts in the UNAME option.
"""
import heapq
import operator
import os
import re
import struct
from bisect import bisect_right

from ftrace import trace_output
from ftrace.export import matching_entry
from ftrace.events import TRACE_FN, TRACE_GRAPH_ENT, TRACE_GRAPH_RET, Event

__all__ = ["Recording", "load", "show", "report", "format_time", "function_stats"]

MAGIC = b"\x17\x08\x44tracing"
SUPPORTED_VERSION = b"6"
COMMIT_MASK = (1 << 27) - 1
RB_MISSED_EVENTS = 1 << 31
RB_MISSED_STORED = 1 << 30
RINGBUF_TYPE_PADDING = 29
RINGBUF_TYPE_TIME_EXTEND = 30
RINGBUF_TYPE_TIME_STAMP = 31
TS_SHIFT = 27
TRACECMD_OPTION_TRACECLOCK = 4
TRACECMD_OPTION_UNAME = 5
END_MARKER = "_etext"
_U64 = 0xFFFFFFFFFFFFFFFF
_TRACERS = ("function_graph", "function", "nop")
# the ftrace events this reader turns into trace_event.h records, and the fields each needs
_KNOWN_EVENTS = {"function": ("ip", "parent_ip"),
                 "funcgraph_entry": ("func", "depth"),
                 "funcgraph_exit": ("func", "calltime", "overrun", "depth")}
_KINDS = {"function": TRACE_FN, "funcgraph_entry": TRACE_GRAPH_ENT, "funcgraph_exit": TRACE_GRAPH_RET}
_TS = operator.attrgetter("ts")


class Recording:
    """What a trace.dat holds.

    Attributes: ``path``; ``version`` (6); ``long_size``; ``page_size``; ``tracer``; ``ncpus``; ``kallsyms``
    (sorted ``[(addr, type, name)]`` as in the file); ``comms`` ({pid: comm}); ``cpu_events`` (per CPU, the
    :class:`~ftrace.events.Event` records in buffer order); ``events`` (all of them merged in timestamp
    order); ``lost`` ({cpu: events the writer recorded as lost before that CPU's data}); ``clock`` (the trace
    clock, e.g. "local"); ``uname``; ``options`` ({option id: raw bytes}); ``formats`` ({event id: (name,
    {field: (offset, size, signed)})})."""

    def __init__(self, path):
        self.path = path
        self.version = None
        self.long_size = None
        self.page_size = None
        self.tracer = "nop"
        self.ncpus = 0
        self.kallsyms = []
        self.comms = {}
        self.cpu_events = []
        self.events = []
        self.lost = {}
        self.clock = None
        self.uname = None
        self.options = {}
        self.formats = {}
        self._starts = []
        self._names = []
        self._end = None

    # ---- the numbers of the `trace` header ----

    @property
    def entries(self):
        """entries-in-buffer: the records in the file."""
        return len(self.events)

    @property
    def written(self):
        """entries-written: the records plus those recorded as lost (overwritten before they were read)."""
        return len(self.events) + sum(self.lost.values())

    # ---- names ----

    def _index_symbols(self):
        names = {}
        for addr, _, name in self.kallsyms:
            if addr not in names or name < names[addr]:
                names[addr] = name
        starts = sorted(names)
        self._end = None
        if starts and names[starts[-1]] == END_MARKER:
            self._end = starts.pop()
        self._starts = starts
        self._names = [names[a] for a in starts]

    def symbolize(self, addr):
        """(name, offset) of the function holding addr, or None (see the module docstring)."""
        addr &= ~1
        i = bisect_right(self._starts, addr) - 1
        if i < 0:
            return None
        if self._end is not None:
            if addr >= self._end:
                return None
        elif i == len(self._starts) - 1 and addr != self._starts[i]:
            return None                 # past the last symbol: libtraceevent matches it exactly only
        return self._names[i], addr - self._starts[i]

    def comm_of_pid(self, pid):
        return self.comms.get(pid)

    def __repr__(self):
        return (f"Recording({self.path!r}, tracer={self.tracer!r}, ncpus={self.ncpus}, events={len(self.events)}, "
                f"lost={sum(self.lost.values())}, symbols={len(self._starts)})")


# ------------------------------------------------------------------------------------------------------ reading

class _Reader:
    """Bounds-checked little-endian reads; every failure names what was expected where."""

    def __init__(self, data, path):
        self.data = data
        self.path = path
        self.p = 0
        self.endian = "<"

    def fail(self, msg):
        raise ValueError(f"{self.path}: {msg}")

    def take(self, n, what):
        p = self.p
        if n < 0 or p + n > len(self.data):
            self.fail(f"truncated trace.dat: expected the {what} ({n} bytes) at offset {p}, "
                      f"but the file ends at {len(self.data)}")
        self.p = p + n
        return self.data[p:p + n]

    def num(self, size, what):
        return int.from_bytes(self.take(size, what), "little" if self.endian == "<" else "big")

    def cstring(self, what):
        end = self.data.find(b"\0", self.p)
        if end < 0:
            self.fail(f"truncated trace.dat: expected a NUL-terminated {what} at offset {self.p}, "
                      f"but the file ends at {len(self.data)}")
        s = self.data[self.p:end]
        self.p = end + 1
        return s

    def expect(self, token, what):
        at = self.p
        got = self.take(len(token), what)
        if got != token:
            self.fail(f"expected the {what} at offset {at}, found {got!r}")

    def text(self, size_bytes, what):
        n = self.num(size_bytes, what + " size")
        return self.take(n, what).decode("utf-8", "replace")


_FIELD_RE = re.compile(r"field:(?P<decl>[^;]*);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);"
                       r"(?:\s*signed:(?P<signed>-?\d+);)?")


def _parse_fields(text):
    """{field name: (offset, size, signed)} of an events/*/format or header_page text."""
    fields = {}
    for m in _FIELD_RE.finditer(text):
        decl = m.group("decl").strip()
        name = re.split(r"[\s*]+", decl.split("[")[0].strip())[-1]
        fields[name] = (int(m.group("off")), int(m.group("size")), int(m.group("signed") or 0))
    return fields


def _parse_format(r, text):
    name = re.search(r"^name:\s*(\S+)", text, re.M)
    ident = re.search(r"^ID:\s*(\d+)", text, re.M)
    if not name or not ident:
        r.fail("malformed ftrace event format (expected 'name:' and 'ID:' lines): %r" % text[:60])
    return int(ident.group(1)), name.group(1), _parse_fields(text)


_CODES = {1: "b", 2: "h", 4: "i", 8: "q"}


def _decoder(r, ident, name, fields):
    """A struct reading (common_type, common_pid, the event's needed fields) of event `name`."""
    want = ("common_type", "common_pid") + _KNOWN_EVENTS[name]
    layout = []
    for f in want:
        if f not in fields:
            r.fail(f"the format of event {name!r} (ID {ident}) has no field {f!r}")
        off, size, signed = fields[f]
        if size not in _CODES:
            r.fail(f"field {name}.{f} has size {size}, expected 1, 2, 4 or 8")
        code = _CODES[size]
        layout.append((off, code if signed else code.upper()))
    order = sorted(range(len(want)), key=lambda i: layout[i][0])
    fmt, pos = r.endian, 0
    for i in order:
        off, code = layout[i]
        if off < pos:
            r.fail(f"fields of event {name!r} overlap")
        fmt += "%dx%s" % (off - pos, code) if off > pos else code
        pos = off + struct.calcsize("<" + code)
    st = struct.Struct(fmt)
    # unpack gives the fields in offset order; map them back to `want` order (None: already in that order)
    inverse = [order.index(i) for i in range(len(want))]
    return st, (None if inverse == list(range(len(want))) else inverse)


def load(path):
    """Read a trace.dat written by export.write_trace_dat (or another v6 trace-cmd file with the ftrace
    function / funcgraph events) and return a :class:`Recording`.

    `path`: a file name, or a binary file object.  Raises ValueError (message: the file and what was expected)
    for anything that is not such a file -- wrong magic, version, endianness or long size, a truncated or
    corrupt section or page, an event ID without a format -- and OSError when it cannot be read."""
    if hasattr(path, "read"):
        data = path.read()
        name = getattr(path, "name", "<file>")
    else:
        name = os.fspath(path)
        with open(name, "rb") as f:
            data = f.read()
    rec = Recording(name)
    r = _Reader(data, name)

    # ---- initial format ----
    if not data:
        r.fail("empty file: expected a trace-cmd trace.dat")
    if data[:len(MAGIC)] != MAGIC:
        r.fail("not a trace-cmd trace.dat file: expected the magic bytes 17 08 44 'tracing' at offset 0, "
               f"found {data[:len(MAGIC)]!r}")
    r.p = len(MAGIC)
    version = r.cstring("version string")
    if version != SUPPORTED_VERSION:
        r.fail(f"unsupported trace.dat version {version.decode('ascii', 'replace')!r}: expected version 6 "
               "(what ftrace record and trace-cmd 2.x write)")
    rec.version = 6
    endian = r.take(1, "endianness")[0]
    if endian != 0:
        r.fail(f"big-endian trace.dat (endianness byte {endian}) is not supported: expected 0 (little-endian, "
               "as an ARM kernel writes)")
    rec.long_size = r.take(1, "long size")[0]
    if rec.long_size not in (4, 8):
        r.fail(f"long size {rec.long_size}: expected 4 (32-bit ARM) or 8")
    rec.page_size = r.num(4, "page size")
    if not 64 <= rec.page_size <= 1 << 20 or rec.page_size & (rec.page_size - 1):
        r.fail(f"page size {rec.page_size}: expected a power of two such as 4096")

    # ---- header_page / header_event ----
    r.expect(b"header_page\0", "'header_page' section")
    hp = _parse_fields(r.text(8, "header_page"))
    for f in ("timestamp", "commit", "data"):
        if f not in hp:
            r.fail(f"header_page has no {f!r} field (expected the ring_buffer_print_page_header() text)")
    page_ts_off, page_ts_size = hp["timestamp"][:2]
    commit_off, commit_size = hp["commit"][:2]
    data_off = hp["data"][0]
    if page_ts_size != 8 or commit_size not in (4, 8) or data_off >= rec.page_size:
        r.fail(f"unexpected header_page layout (timestamp size {page_ts_size}, commit size {commit_size}, "
               f"data at {data_off}): expected u64 timestamp, a 4- or 8-byte commit and data inside the page")
    r.expect(b"header_event\0", "'header_event' section")
    r.text(8, "header_event")

    # ---- ftrace event formats ----
    decoders = {}
    for _ in range(r.num(4, "ftrace event format count")):
        ident, ename, fields = _parse_format(r, r.text(8, "ftrace event format"))
        rec.formats[ident] = (ename, fields)
        if ename in _KNOWN_EVENTS:
            decoders[ident] = (_KINDS[ename],) + _decoder(r, ident, ename, fields)

    # ---- event systems (other events: their formats are read and skipped) ----
    for _ in range(r.num(4, "event system count")):
        system = r.cstring("event system name").decode("utf-8", "replace")
        for _ in range(r.num(4, f"event format count of system {system!r}")):
            ident, ename, fields = _parse_format(r, r.text(8, f"event format of system {system!r}"))
            rec.formats[ident] = (f"{system}:{ename}", fields)

    # ---- kallsyms, printk formats, saved cmdlines ----
    syms = []
    for line in r.text(4, "kallsyms").splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        try:
            syms.append((int(parts[0], 16), parts[1], parts[2]))
        except ValueError:
            r.fail(f"malformed kallsyms line {line!r}: expected 'ADDRESS TYPE NAME'")
    rec.kallsyms = sorted(syms)
    rec._index_symbols()
    r.text(4, "printk formats")
    for line in r.text(8, "saved cmdlines").splitlines():
        pid, _, comm = line.strip().partition(" ")
        if pid.lstrip("-").isdigit() and comm:
            rec.comms[int(pid)] = comm
    rec.ncpus = r.num(4, "CPU count")
    if not 1 <= rec.ncpus <= 4096:
        r.fail(f"CPU count {rec.ncpus}: expected 1 to 4096")

    # ---- options, then the CPU data ----
    at = r.p
    section = r.take(10, "'options  ' or 'flyrecord' section name")
    if section == b"options  \0":
        while True:
            oid = r.num(2, "option id")
            if oid == 0:
                break
            rec.options[oid] = r.take(r.num(4, f"option {oid} size"), f"option {oid}")
        at = r.p
        section = r.take(10, "'flyrecord' section name")
    if section == b"latency  \0":
        r.fail("latency-format trace.dat (text data) is not supported: expected 'flyrecord' (binary CPU data)")
    if section != b"flyrecord\0":
        r.fail(f"expected 'flyrecord' at offset {at}, found {section!r}")
    table = [(r.num(8, f"cpu{c} data offset"), r.num(8, f"cpu{c} data size")) for c in range(rec.ncpus)]
    if TRACECMD_OPTION_TRACECLOCK in rec.options:
        clock = r.text(8, "trace_clock")
        m = re.search(r"\[([^\]]+)\]", clock)
        rec.clock = m.group(1) if m else clock.strip() or None
    uname = rec.options.get(TRACECMD_OPTION_UNAME)
    if uname is not None:
        rec.uname = uname.rstrip(b"\0").decode("utf-8", "replace")

    seen = set()
    for cpu, (off, size) in enumerate(table):
        evs, lost = _read_cpu(r, rec, cpu, off, size, page_ts_off, commit_off, commit_size, data_off, decoders)
        rec.cpu_events.append(evs)
        if lost:
            rec.lost[cpu] = lost
        seen.update(e.type for e in evs)
    rec.events = (rec.cpu_events[0] if rec.ncpus == 1 else
                  list(heapq.merge(*rec.cpu_events, key=_TS)))

    # ---- which tracer ----
    m = re.search(r"\btracer (\w+)", rec.uname or "")
    if TRACE_GRAPH_ENT in seen or TRACE_GRAPH_RET in seen:
        rec.tracer = "function_graph"
    elif TRACE_FN in seen:
        rec.tracer = "function"
    elif m and m.group(1) in _TRACERS:
        rec.tracer = m.group(1)
    return rec


def _read_cpu(r, rec, cpu, off, size, page_ts_off, commit_off, commit_size, data_off, decoders):
    """The records of one CPU's pages and the lost count its pages carry."""
    data = r.data
    psize = rec.page_size
    if size == 0:
        return [], 0
    if off + size > len(data):
        r.fail(f"truncated trace.dat: expected the cpu{cpu} data ({size} bytes) at offset {off}, "
               f"but the file ends at {len(data)}")
    if size % psize:
        r.fail(f"cpu{cpu} data is {size} bytes: expected a whole number of {psize}-byte pages")
    page_hdr = struct.Struct("<QI" if commit_size == 4 else "<QQ")
    if page_ts_off != 0 or commit_off != 8:
        r.fail("unexpected header_page layout: expected the timestamp at 0 and commit at 8")
    u32 = struct.Struct("<I")
    lsize = rec.long_size
    events = []
    append = events.append
    lost = 0
    limit = psize - data_off
    for po in range(off, off + size, psize):
        ts, commit = page_hdr.unpack_from(data, po)
        flags = commit & (RB_MISSED_EVENTS | RB_MISSED_STORED)
        n = commit & COMMIT_MASK
        if n > limit:
            r.fail(f"corrupt page at offset {po} (cpu{cpu}): commit {n} is larger than the page's "
                   f"{limit} data bytes")
        if flags & RB_MISSED_STORED:
            lo = po + data_off + n
            if n + lsize <= limit:
                lost += int.from_bytes(data[lo:lo + lsize], "little")
        q = po + data_off
        end = q + n
        while q < end:
            if q + 4 > end:
                r.fail(f"corrupt page at offset {po} (cpu{cpu}): event header at {q} runs past the commit")
            hdr, = u32.unpack_from(data, q)
            type_len = hdr & 31
            delta = hdr >> 5
            if type_len == RINGBUF_TYPE_TIME_EXTEND:
                if q + 8 > end:
                    r.fail(f"corrupt page at offset {po} (cpu{cpu}): time extend at {q} runs past the commit")
                ts += (u32.unpack_from(data, q + 4)[0] << TS_SHIFT) + delta
                q += 8
                continue
            if type_len == RINGBUF_TYPE_PADDING:
                if delta == 0:
                    break                                   # the rest of the page is padding
                if q + 8 > end:
                    r.fail(f"corrupt page at offset {po} (cpu{cpu}): padding at {q} runs past the commit")
                q += 4 + u32.unpack_from(data, q + 4)[0]
                continue
            if type_len == RINGBUF_TYPE_TIME_STAMP:
                q += 16                                     # v3.6: RB_LEN_TIME_STAMP, not used
                continue
            if type_len == 0:
                if q + 8 > end:
                    r.fail(f"corrupt page at offset {po} (cpu{cpu}): event at {q} runs past the commit")
                length = u32.unpack_from(data, q + 4)[0] - 4
                start = q + 8
            else:
                length = type_len * 4
                start = q + 4
            q = start + length
            if length < 4 or q > end:
                r.fail(f"corrupt page at offset {po} (cpu{cpu}): event at {start - 4} of {length} bytes "
                       f"runs past the commit ({end - po - data_off} bytes)")
            ts += delta
            ident = data[start] | data[start + 1] << 8
            dec = decoders.get(ident)
            if dec is None:
                known = rec.formats.get(ident)
                if known is None:
                    r.fail(f"cpu{cpu} page at offset {po}: event ID {ident} has no format in the file")
                r.fail(f"cpu{cpu} page at offset {po}: event {known[0]!r} (ID {ident}) is not one of the ftrace "
                       "function/funcgraph events this reader knows")
            kind, st, inv = dec
            if st.size > length:
                r.fail(f"cpu{cpu} page at offset {po}: a {rec.formats[ident][0]} record of {length} bytes, "
                       f"its format needs {st.size}")
            v = st.unpack_from(data, start)
            if inv is not None:
                v = [v[i] for i in inv]
            if kind == TRACE_FN:                    # common_type, common_pid, ip, parent_ip
                append(Event(TRACE_FN, cpu, v[1], ts, v[2], v[3], 0, 0))
            elif kind == TRACE_GRAPH_ENT:           # common_type, common_pid, func, depth
                append(Event(TRACE_GRAPH_ENT, cpu, v[1], ts, v[2], 0, v[3], 0))
            else:                                   # common_type, common_pid, func, calltime, overrun, depth
                append(Event(TRACE_GRAPH_RET, cpu, v[1], ts, v[2], v[4], v[5], v[3]))
    return events, lost


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
