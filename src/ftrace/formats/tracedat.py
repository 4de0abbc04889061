"""trace-cmd ``trace.dat`` (version 6): the format's constants, the writer (:func:`write_trace_dat`) and the reader
(:func:`load`, returning a :class:`Recording`).  ``ftrace record`` writes through the one and ``ftrace show`` /
``ftrace report`` (ftrace.formats.recorded) read through the other; the tests check both against trace-cmd itself.

    write_trace_dat("trace.dat", ft.raw_events(), ft.symbolize, ncpus, comms, funcs=image.funcs)
    rec = load("trace.dat")          # -> Recording (ValueError naming what was expected if the file is not one)

Writing
-------
trace-cmd file format version 6 (trace-cmd.dat.v6(5); trace-cmd's lib/trace-cmd/trace-input.c is the reference reader),
little-endian, written as a 32-bit ARM Linux v3.6 kernel would have produced it:

* long size 4, page size 4096.
* ``header_page``: v3.6 ``ring_buffer_print_page_header()`` for ARM: ``u64 timestamp`` at 0, ``local_t commit``
  at 8 with size 4 (a 32-bit long; trace-cmd takes the kernel's long size from this field), ``int overwrite``,
  ``char data`` at 12 with size 4084 (BUF_PAGE_SIZE = 4096 - 12; RB_ARCH_ALIGNMENT is 4 on ARM) and signed:0
  (``char`` is unsigned on ARM).
* ``header_event``: v3.6 ``ring_buffer_print_entry_header()`` (type_len 5 bits, time_delta 27 bits, padding 29,
  time_extend 30, data max type_len 28; v3.6 has no time_stamp line).
* ftrace event formats: ``function``, ``funcgraph_entry`` and ``funcgraph_exit`` exactly as v3.6's
  events/ftrace/*/format print them on 32-bit ARM EABI (trace_events.c f_show, trace_export.c, trace_entries.h).
  IDs are the kernel's ``enum trace_type`` values (kernel/trace/trace.h): TRACE_FN = 1, TRACE_GRAPH_RET = 10,
  TRACE_GRAPH_ENT = 11 (not the simulator's 1/2/3 of trace_event.h).  v3.6's struct trace_entry still has
  ``int padding`` (common_padding, 12-byte common header), so: function {ip @12, parent_ip @16}, 20 bytes;
  funcgraph_entry {func @12, depth @16}, 20 bytes; funcgraph_exit: struct ftrace_graph_ret holds u64s, so it is
  8-aligned (EABI) and starts at 16: {func @16, calltime @24, rettime @32, overrun @40, depth @44}, 48 bytes.
* no other event systems; kallsyms ``%08x T name`` lines (from `funcs`, or derived from `symbolize` over the
  traced addresses) plus ``_etext`` at the end of the last function (libtraceevent resolves an address past the
  last symbol to nothing); empty printk formats; saved_cmdlines ``pid comm`` lines; the CPU count; options
  (TRACECLOCK, whose text ``[local]`` follows the flyrecord CPU table as trace-cmd's save_clock() writes it,
  and UNAME); ``flyrecord``.
* per-CPU data: 4096-byte ring-buffer pages, page-aligned in the file: u64 page timestamp (the ts of the page's
  first event), u32 commit (bytes of events), then events: a u32 header (type_len:5 low bits, time_delta:27),
  type_len = payload length / 4 (all our payloads are <= 112 bytes), payload.  A delta that does not fit in 27
  bits gets a RINGBUF_TYPE_TIME_EXTEND event (type_len 30, time_delta = delta & (2^27 - 1), array[0] = delta >>
  27) in front of the event, which then has delta 0.  A timestamp lower than the previous one on its CPU starts
  a new page (deltas are unsigned).  `lost` events (per CPU) are stored in the CPU's first page as the kernel's
  reader does (RB_MISSED_EVENTS | RB_MISSED_STORED in commit, the count after the data), which trace-cmd
  reports as ``CPU:N [n EVENTS DROPPED]``.
* timestamps are the events' ns, with trace clock ``local``.

`events` is an iterable of events in display order, streamed (see :func:`ftrace.formats.common.rows` for the kinds of
event accepted); the only state kept is a page per CPU.

Reading
-------
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

The records come back as :class:`ftrace.kernel.events.Event` (trace_event.h field names and types: function = 1,
funcgraph_entry = 2, funcgraph_exit = 3; ``ts`` ns from the ring buffer, for a funcgraph_exit the rettime, its
``parent_ip`` the overrun count and ``calltime`` from the record), per CPU in buffer order and merged over
CPUs in timestamp order with ties to the lower CPU, as :func:`ftrace.kernel.events.merge` does.

Symbols: :meth:`Recording.symbolize` answers like ``cpu.loader.Image.symbolize`` from the file's kallsyms
alone: ``(name, offset)`` of the symbol with the highest address <= addr (Thumb bit ignored), nothing below
the first symbol, and nothing at or past the end marker that write_trace_dat puts after the last function
(``_etext``).  kallsyms carries no sizes, so an address in padding between two functions names the function
before it (Image, which knows ELF sizes, says None there; return addresses and mcount sites are always inside
a function, so traces do not meet this), and where several names share an address the alphabetically first
one is used (the Image prefers global over weak over local symbols, then sized ones, then the name; the file
marks every symbol ``T``).  ``ftrace record`` also lists the host-call slots Ftrace.symbolize names
(``smp_cpu_exit``, ``hostcall``), so the names match the live trace's.

The tracer is taken from the events (any funcgraph record: function_graph; else function records: function),
and for a file without events from the ``tracer NAME`` that write_trace_dat puts in the UNAME option.
"""
import heapq
import io
import operator
import os
import re
import shutil
import struct
import tempfile
from bisect import bisect_right
from typing import NamedTuple, Optional

from ftrace.formats.common import rows
from ftrace.kernel.events import TRACE_FN, TRACE_GRAPH_ENT, TRACE_GRAPH_RET, Event

__all__ = ["write_trace_dat", "load", "Recording", "Page",
           "KERNEL_TRACE_FN", "KERNEL_TRACE_GRAPH_RET", "KERNEL_TRACE_GRAPH_ENT",
           "PAGE_SIZE", "BUF_PAGE_HDR_SIZE", "BUF_PAGE_SIZE",
           "header_page_text", "header_event_text", "ftrace_format_texts"]

_U64 = 0xFFFFFFFFFFFFFFFF

# ==================================================================================================== the format

MAGIC = b"\x17\x08\x44tracing"
VERSION = b"6"
KERNEL_TRACE_FN = 1          # kernel/trace/trace.h enum trace_type (v3.6)
KERNEL_TRACE_GRAPH_RET = 10
KERNEL_TRACE_GRAPH_ENT = 11

PAGE_SIZE = 4096
LONG_SIZE = 4
BUF_PAGE_HDR_SIZE = 8 + LONG_SIZE            # offsetof(struct buffer_data_page, data): u64 time_stamp, local_t
BUF_PAGE_SIZE = PAGE_SIZE - BUF_PAGE_HDR_SIZE
RINGBUF_TYPE_PADDING = 29
RINGBUF_TYPE_TIME_EXTEND = 30
RINGBUF_TYPE_TIME_STAMP = 31
RINGBUF_TYPE_DATA_TYPE_LEN_MAX = 28
TS_SHIFT = 27
TS_MASK = (1 << TS_SHIFT) - 1
RB_MISSED_EVENTS = 1 << 31                   # commit flags of a page (ring_buffer.c rb_read_page)
RB_MISSED_STORED = 1 << 30
COMMIT_MASK = TS_MASK                        # the commit bytes under the flags

TRACECMD_OPTION_TRACECLOCK = 4
TRACECMD_OPTION_UNAME = 5
END_MARKER = "_etext"                        # kallsyms entry after the last function

# What trace-cmd's save_clock() writes after the flyrecord CPU table: "[%s]" of the clock in use, no newline.
# (Writing the whole v3.6 trace_clock file, "[local] global counter\n", makes trace-cmd 3.1.6 lose the clock in
# about 1% of runs and print raw timestamps.)
TRACE_CLOCK_TEXT = b"[local]"


def header_page_text():
    """events/header_page of v3.6 on 32-bit ARM (ring_buffer_print_page_header)."""
    return ("\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
            "\tfield: local_t commit;\toffset:8;\tsize:%d;\tsigned:1;\n"
            "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
            "\tfield: char data;\toffset:%d;\tsize:%d;\tsigned:0;\n"
            % (LONG_SIZE, BUF_PAGE_HDR_SIZE, BUF_PAGE_SIZE))


def header_event_text():
    """events/header_event of v3.6 (ring_buffer_print_entry_header)."""
    return ("# compressed entry header\n"
            "\ttype_len    :    5 bits\n"
            "\ttime_delta  :   27 bits\n"
            "\tarray       :   32 bits\n"
            "\n"
            "\tpadding     : type == %d\n"
            "\ttime_extend : type == %d\n"
            "\tdata max type_len  == %d\n"
            % (RINGBUF_TYPE_PADDING, RINGBUF_TYPE_TIME_EXTEND, RINGBUF_TYPE_DATA_TYPE_LEN_MAX))


# v3.6 trace_define_common_fields(): struct trace_entry {u16 type; u8 flags; u8 preempt_count; int pid; int padding}
_COMMON_FIELDS = [("unsigned short", "common_type", 0, 2, 0),
                  ("unsigned char", "common_flags", 2, 1, 0),
                  ("unsigned char", "common_preempt_count", 3, 1, 0),
                  ("int", "common_pid", 4, 4, 1),
                  ("int", "common_padding", 8, 4, 1)]
# (name, id, fields, print fmt): trace_entries.h through trace_export.c (F_printk -> __stringify, __entry -> REC),
# offsets/sizes of the 32-bit ARM EABI structs.
_FTRACE_EVENTS = [
    ("function", KERNEL_TRACE_FN,
     [("unsigned long", "ip", 12, 4, 0), ("unsigned long", "parent_ip", 16, 4, 0)],
     '" %lx <-- %lx", REC->ip, REC->parent_ip'),
    ("funcgraph_entry", KERNEL_TRACE_GRAPH_ENT,
     [("unsigned long", "func", 12, 4, 0), ("int", "depth", 16, 4, 1)],
     '"--> %lx (%d)", REC->func, REC->depth'),
    ("funcgraph_exit", KERNEL_TRACE_GRAPH_RET,
     [("unsigned long", "func", 16, 4, 0), ("unsigned long long", "calltime", 24, 8, 0),
      ("unsigned long long", "rettime", 32, 8, 0), ("unsigned long", "overrun", 40, 4, 0),
      ("int", "depth", 44, 4, 1)],
     '"<-- %lx (%d) (start: %llx  end: %llx) over: %d", REC->func, REC->depth, REC->calltime, REC->rettime, '
     'REC->depth'),
]


def _format_text(name, ident, fields, fmt):
    # trace_events.c f_show(): header, common fields, a blank line, the event's fields, "\nprint fmt: ..."
    out = ["name: %s\n" % name, "ID: %d\n" % ident, "format:\n"]
    for ftype, fname, off, size, signed in _COMMON_FIELDS:
        out.append("\tfield:%s %s;\toffset:%u;\tsize:%u;\tsigned:%d;\n" % (ftype, fname, off, size, signed))
    out.append("\n")
    for ftype, fname, off, size, signed in fields:
        out.append("\tfield:%s %s;\toffset:%u;\tsize:%u;\tsigned:%d;\n" % (ftype, fname, off, size, signed))
    out.append("\nprint fmt: %s\n" % fmt)
    return "".join(out)


def ftrace_format_texts():
    """{event name: events/ftrace/<name>/format text} for function, funcgraph_entry, funcgraph_exit."""
    return {name: _format_text(name, ident, fields, fmt) for name, ident, fields, fmt in _FTRACE_EVENTS}


# ====================================================================================================== writing

# Record payloads (after the ring-buffer event header), common header first: type, flags, preempt_count, pid,
# padding.  flags/preempt_count are 0: the simulator records no irq/preempt state.
_FN = struct.Struct("<HBBiiII")                  # 20 bytes: ... ip, parent_ip
_ENT = struct.Struct("<HBBiiIi")                 # 20 bytes: ... func, depth
_RET = struct.Struct("<HBBiiIIIQQIi")             # 48 bytes: ... (pad), func, (pad), calltime, rettime, overrun, depth
assert _FN.size == 20 and _ENT.size == 20 and _RET.size == 48
_FN_HDR = (_FN.size // 4) << 0                   # type_len in the low 5 bits, time_delta above
_ENT_HDR = _ENT.size // 4
_RET_HDR = _RET.size // 4
_U32 = struct.Struct("<I")
_EXTEND = struct.Struct("<II")
_PAGE_HDR = struct.Struct("<QI")


class _CpuPages:
    """The ring-buffer pages of one CPU, written to a temporary file as each one fills."""

    __slots__ = ("f", "page", "used", "page_ts", "last_ts", "npages", "lost", "events")

    def __init__(self, lost):
        self.f = None
        self.page = bytearray(PAGE_SIZE)
        self.used = -1                 # -1: no page open
        self.page_ts = 0
        self.last_ts = 0
        self.npages = 0
        self.lost = lost
        self.events = 0

    def _flush(self):
        commit = self.used
        if self.npages == 0 and self.lost:
            # rb_read_page(): the lost count is stored after the data when there is room
            if commit + LONG_SIZE <= BUF_PAGE_SIZE:
                _U32.pack_into(self.page, BUF_PAGE_HDR_SIZE + commit, self.lost & 0xFFFFFFFF)
                commit |= RB_MISSED_EVENTS | RB_MISSED_STORED
            else:
                commit |= RB_MISSED_EVENTS
        _PAGE_HDR.pack_into(self.page, 0, self.page_ts, commit)
        if self.f is None:
            self.f = tempfile.TemporaryFile()
        self.f.write(self.page)
        self.npages += 1
        self.page[:] = bytes(PAGE_SIZE)
        self.used = -1

    def _new_page(self, ts):
        if self.used >= 0:
            self._flush()
        self.used = 0
        self.page_ts = ts
        self.last_ts = ts

    def add(self, ts, hdr_len, st, values):
        """Append one event (payload struct `st` packed from `values`) with timestamp ts."""
        size = 4 + st.size
        if self.used < 0 or ts < self.last_ts:
            self._new_page(ts)
        delta = ts - self.last_ts
        if delta > TS_MASK:
            if self.used + 8 + size > BUF_PAGE_SIZE:
                self._new_page(ts)
                delta = 0
            else:
                _EXTEND.pack_into(self.page, BUF_PAGE_HDR_SIZE + self.used,
                                  RINGBUF_TYPE_TIME_EXTEND | ((delta & TS_MASK) << 5), delta >> TS_SHIFT)
                self.used += 8
                delta = 0
        elif self.used + size > BUF_PAGE_SIZE:
            self._new_page(ts)
            delta = 0
        off = BUF_PAGE_HDR_SIZE + self.used
        _U32.pack_into(self.page, off, hdr_len | (delta << 5))
        st.pack_into(self.page, off + 4, *values)
        self.used += size
        self.last_ts = ts
        self.events += 1

    def finish(self):
        if self.used < 0 and self.lost and self.npages == 0:
            self._new_page(0)            # an empty page to carry the lost count
        if self.used >= 0:
            self._flush()

    @property
    def size(self):
        return self.npages * PAGE_SIZE


def _funcs_list(funcs):
    """[(addr, size, name)] from (addr, size, name) tuples or objects with .addr/.size/.name (cpu.loader.Symbol)."""
    out = []
    for f in funcs:
        if hasattr(f, "addr"):
            out.append((f.addr, getattr(f, "size", 0) or 0, f.name))
        else:
            out.append((f[0], f[1] or 0, f[2]))
    return out


def _kallsyms_text(funcs):
    """/proc/kallsyms lines ``%08lx T name`` sorted by address, plus ``_etext`` at the end of the last function.

    libtraceevent resolves an address to the symbol with the highest address <= it, except past the last
    symbol, which only matches itself: the end marker lets addresses inside the last function resolve."""
    entries = sorted({(addr & 0xFFFFFFFF, name) for addr, _, name in funcs})
    end = max(((addr + size) & 0xFFFFFFFF for addr, size, _ in funcs), default=0)
    if entries and end > entries[-1][0]:
        entries.append((end, END_MARKER))
    return "".join("%08x T %s\n" % e for e in entries).encode()


def _cmdlines_text(comms):
    return "".join("%d %s\n" % (pid, comm[:15]) for pid, comm in sorted((comms or {}).items())).encode()


def write_trace_dat(path, events, symbolize, ncpus, comms=None, funcs=None, tracer="function", clock_hz=None,
                    lost=None, uname=None):
    """Write `events` as a trace-cmd v6 trace.dat file at `path` (see the module docstring for the layout).

    `symbolize`: used only to derive kallsyms when `funcs` is None (every traced address is looked up once);
    `ncpus`: the CPU count (events of CPUs >= ncpus raise ValueError); `comms`: {pid: comm} for the cmdlines
    section; `funcs`: the guest's functions as (addr, size, name) tuples (or cpu.loader.Symbol objects, e.g.
    ``image.funcs``) for kallsyms; `tracer`: "function" or "function_graph" (the current_tracer the trace came
    from; checked and recorded in the uname option text, the file format itself has no tracer field);
    `clock_hz`: the guest clock rate, recorded in the uname text only (timestamps are always the events' ns);
    `lost`: {cpu: n} events lost (overwritten) before the CPU's first event; `uname`: the UNAME option text.

    Returns {"events": n written, "pages": {cpu: pages}, "skipped": n of unknown type}."""
    if tracer not in ("function", "function_graph", "nop"):
        raise ValueError("tracer must be 'function' or 'function_graph', got %r" % (tracer,))
    ncpus = int(ncpus)
    if ncpus < 1:
        raise ValueError("ncpus must be >= 1")
    lost = lost or {}
    cpus = [_CpuPages(int(lost.get(c, 0) or 0)) for c in range(ncpus)]
    derive = funcs is None
    addrs = set()
    skipped = 0
    try:
        for t, cpu, pid, ts, ip, pip, depth, calltime in rows(events):
            if not 0 <= cpu < ncpus:
                raise ValueError("event on cpu %d, but ncpus is %d" % (cpu, ncpus))
            if t == TRACE_FN:
                cpus[cpu].add(ts, _FN_HDR, _FN, (KERNEL_TRACE_FN, 0, 0, pid, 0, ip, pip))
                if derive:
                    addrs.add(ip)
                    addrs.add(pip)
            elif t == TRACE_GRAPH_ENT:
                cpus[cpu].add(ts, _ENT_HDR, _ENT, (KERNEL_TRACE_GRAPH_ENT, 0, 0, pid, 0, ip, depth))
                if derive:
                    addrs.add(ip)
            elif t == TRACE_GRAPH_RET:
                cpus[cpu].add(ts, _RET_HDR, _RET, (KERNEL_TRACE_GRAPH_RET, 0, 0, pid, 0, 0, ip, 0,
                                                    calltime & _U64, ts & _U64, pip, depth))
                if derive:
                    addrs.add(ip)
            else:
                skipped += 1
        for c in cpus:
            c.finish()

        if derive:
            # start = addr - offset; the size from a 3-tuple, else up to the highest traced address in it
            ends = {}
            for a in addrs:
                sym = symbolize(a) if (symbolize is not None and a) else None
                if sym is not None:
                    key = ((a & ~1) - sym[1], sym[0])
                    end = key[0] + sym[2] if len(sym) > 2 and sym[2] else (a & ~1) + 2
                    ends[key] = max(ends.get(key, 0), end)
            funcs = [(addr, end - addr, name) for (addr, name), end in ends.items()]
        else:
            funcs = _funcs_list(funcs)
        if uname is None:
            uname = "Linux thumb2-sim 3.6.0 #1 SMP armv7 (simulated; tracer %s%s)" % (
                tracer, ", cpu_hz %d" % clock_hz if clock_hz else "")

        # everything before the CPU data is small: build it, then stream the pages (no seeking, so `path` may
        # also be an open binary file or pipe)
        head = io.BytesIO()
        _write_headers(head, ncpus, _kallsyms_text(funcs), _cmdlines_text(comms), uname)
        head.write(b"flyrecord\0")
        # flyrecord: per-CPU offsets and sizes, then the trace_clock text (TRACECLOCK option), then the
        # page-aligned CPU data
        offset = head.tell() + 16 * ncpus + 8 + len(TRACE_CLOCK_TEXT)
        offset = (offset + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
        offsets = []
        for c in cpus:
            offsets.append(offset)
            head.write(struct.pack("<QQ", offset, c.size))
            offset += c.size
        head.write(struct.pack("<Q", len(TRACE_CLOCK_TEXT)) + TRACE_CLOCK_TEXT)
        pos = head.tell()
        out = path if hasattr(path, "write") else open(path, "wb")
        try:
            out.write(head.getvalue())
            for c, off in zip(cpus, offsets):
                if not c.size:
                    continue
                out.write(bytes(off - pos))
                c.f.seek(0)
                shutil.copyfileobj(c.f, out, 1 << 20)
                pos = off + c.size
        finally:
            if out is not path:
                out.close()
    finally:
        for c in cpus:
            if c.f is not None:
                c.f.close()
    return {"events": sum(c.events for c in cpus), "pages": {i: c.npages for i, c in enumerate(cpus)},
            "skipped": skipped}


def _write_headers(out, ncpus, kallsyms, cmdlines, uname):
    w = out.write
    # initial format
    w(MAGIC + VERSION + b"\0")
    w(bytes([0, LONG_SIZE]))                       # little endian, 4-byte longs
    w(struct.pack("<I", PAGE_SIZE))
    # header info
    hp = header_page_text().encode()
    w(b"header_page\0" + struct.pack("<Q", len(hp)) + hp)
    he = header_event_text().encode()
    w(b"header_event\0" + struct.pack("<Q", len(he)) + he)
    # ftrace event formats
    texts = [t.encode() for t in ftrace_format_texts().values()]
    w(struct.pack("<I", len(texts)))
    for t in texts:
        w(struct.pack("<Q", len(t)) + t)
    # event systems: none
    w(struct.pack("<I", 0))
    # kallsyms, printk formats, cmdlines
    w(struct.pack("<I", len(kallsyms)) + kallsyms)
    w(struct.pack("<I", 0))
    w(struct.pack("<Q", len(cmdlines)) + cmdlines)
    # CPU count, options
    w(struct.pack("<I", ncpus))
    w(b"options  \0")
    # An empty TRACECLOCK option makes trace-cmd 3.1.6 read uninitialised memory and sometimes print raw
    # timestamps; giving it the clock's text as content avoids that.
    clock = TRACE_CLOCK_TEXT + b"\0"
    w(struct.pack("<HI", TRACECMD_OPTION_TRACECLOCK, len(clock)) + clock)
    u = uname.encode() + b"\0"
    w(struct.pack("<HI", TRACECMD_OPTION_UNAME, len(u)) + u)
    w(struct.pack("<H", 0))


# ====================================================================================================== reading

_TRACERS = ("function_graph", "function", "nop")
# the ftrace events this reader turns into trace_event.h records, and the fields each needs
_KNOWN_EVENTS = {"function": ("ip", "parent_ip"),
                 "funcgraph_entry": ("func", "depth"),
                 "funcgraph_exit": ("func", "calltime", "overrun", "depth")}
_KINDS = {"function": TRACE_FN, "funcgraph_entry": TRACE_GRAPH_ENT, "funcgraph_exit": TRACE_GRAPH_RET}
_TS = operator.attrgetter("ts")


class Page(NamedTuple):
    """One ring-buffer page as stored: its timestamp, commit (data bytes), commit flags (RB_MISSED_*), the lost
    count stored after the data (None if not stored) and the TIME_EXTEND events it holds."""
    ts: int
    commit: int
    flags: int
    lost: Optional[int]
    extends: int


class Recording:
    """What a trace.dat holds.

    Attributes: ``path``; ``version`` (6); ``long_size``; ``page_size``; ``tracer``; ``ncpus``; ``kallsyms``
    (sorted ``[(addr, type, name)]`` as in the file); ``comms`` ({pid: comm}); ``cpu_events`` (per CPU, the
    :class:`~ftrace.kernel.events.Event` records in buffer order); ``events`` (all of them merged in timestamp
    order); ``lost`` ({cpu: events the writer recorded as lost before that CPU's data}); ``clock`` (the trace
    clock, e.g. "local"); ``uname``; ``options`` ({option id: raw bytes}, in file order); ``formats`` ({event
    id: (name, {field: (offset, size, signed)})}).  The sections as stored: ``header_page``, ``header_event``,
    ``format_texts`` (the ftrace event formats), ``systems`` ({system: [format texts]}), ``printk`` (texts);
    ``cpu_table`` ([(offset, size)] of each CPU's data), ``headers_end`` (the offset where the headers end);
    ``pages`` (per CPU, a :class:`Page` per ring-buffer page)."""

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
        self.header_page = self.header_event = self.printk = None
        self.format_texts = []
        self.systems = {}
        self.cpu_table = []
        self.headers_end = None
        self.pages = []
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
    """Read a trace.dat written by write_trace_dat (or another v6 trace-cmd file with the ftrace
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
    if version != VERSION:
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
    rec.header_page = r.text(8, "header_page")
    hp = _parse_fields(rec.header_page)
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
    rec.header_event = r.text(8, "header_event")

    # ---- ftrace event formats ----
    decoders = {}
    for _ in range(r.num(4, "ftrace event format count")):
        rec.format_texts.append(r.text(8, "ftrace event format"))
        ident, ename, fields = _parse_format(r, rec.format_texts[-1])
        rec.formats[ident] = (ename, fields)
        if ename in _KNOWN_EVENTS:
            decoders[ident] = (_KINDS[ename],) + _decoder(r, ident, ename, fields)

    # ---- event systems (other events: their formats are read and skipped) ----
    for _ in range(r.num(4, "event system count")):
        system = r.cstring("event system name").decode("utf-8", "replace")
        texts = rec.systems[system] = []
        for _ in range(r.num(4, f"event format count of system {system!r}")):
            texts.append(r.text(8, f"event format of system {system!r}"))
            ident, ename, fields = _parse_format(r, texts[-1])
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
    rec.printk = r.text(4, "printk formats")
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
    rec.cpu_table = [(r.num(8, f"cpu{c} data offset"), r.num(8, f"cpu{c} data size")) for c in range(rec.ncpus)]
    if TRACECMD_OPTION_TRACECLOCK in rec.options:
        clock = r.text(8, "trace_clock")
        m = re.search(r"\[([^\]]+)\]", clock)
        rec.clock = m.group(1) if m else clock.strip() or None
    uname = rec.options.get(TRACECMD_OPTION_UNAME)
    if uname is not None:
        rec.uname = uname.rstrip(b"\0").decode("utf-8", "replace")

    seen = set()
    rec.headers_end = r.p
    for cpu, (off, size) in enumerate(rec.cpu_table):
        evs, pages, lost = _read_cpu(r, rec, cpu, off, size, page_ts_off, commit_off, commit_size, data_off,
                                     decoders)
        rec.cpu_events.append(evs)
        rec.pages.append(pages)
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
    """The records of one CPU's pages, the pages (:class:`Page`) and the lost count they carry."""
    data = r.data
    psize = rec.page_size
    if size == 0:
        return [], [], 0
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
    pages = []
    lost = 0
    limit = psize - data_off
    for po in range(off, off + size, psize):
        ts, commit = page_hdr.unpack_from(data, po)
        flags = commit & (RB_MISSED_EVENTS | RB_MISSED_STORED)
        n = commit & COMMIT_MASK
        if n > limit:
            r.fail(f"corrupt page at offset {po} (cpu{cpu}): commit {n} is larger than the page's "
                   f"{limit} data bytes")
        page_lost = None
        if flags & RB_MISSED_STORED:
            lo = po + data_off + n
            if n + lsize <= limit:
                page_lost = int.from_bytes(data[lo:lo + lsize], "little")
                lost += page_lost
        page_ts = ts
        extends = 0
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
                extends += 1
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
        pages.append(Page(page_ts, n, flags, page_lost, extends))
    return events, pages, lost
