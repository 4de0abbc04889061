"""Exporters for trace events: trace-cmd ``trace.dat``, Chrome trace-event JSON, and folded stacks.

Every writer takes an iterable of events in display order (e.g. ``events.merge(...)`` or ``Ftrace.raw_events()``)
and streams it: events are read one at a time, and the only state kept is what the output needs (a page per CPU
for trace.dat, a call stack per CPU for JSON and folded stacks, the aggregated stacks for folded output, and
symbol/comm strings cached per address/pid).  An event is any of

* a cffi ``struct trace_event`` (trace_event.h; what ``events.iter_events``/``merge`` yield),
* an object with the trace_event.h field names (``events.Event``, ``types.SimpleNamespace``, ...): ``type``,
  ``cpu``, ``pid``, ``ts`` (ns), ``ip``, ``parent_ip``, ``depth``, ``calltime`` (ns); missing ones read as 0,
* a dict with those keys, or a dict from ``events.to_dict`` (``type`` given by name, ``overrun`` for the
  funcgraph_exit overrun count).

For graph returns (TRACE_GRAPH_RET) ``ts`` is rettime and ``parent_ip`` the overrun count, as in trace_event.h.

``symbolize(addr) -> (name, offset[, size]) | None`` names addresses; unknown addresses print as ``0x%x``.

trace.dat (:func:`write_trace_dat`)
-----------------------------------
trace-cmd file format version 6 (trace-cmd.dat.v6(5); trace-cmd's lib/trace-cmd/trace-input.c is the reader),
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
import io
import itertools
import json
import shutil
import struct
import tempfile

from ftrace.events import TRACE_FN, TRACE_GRAPH_ENT, TRACE_GRAPH_RET, TYPE_NAMES, ffi

__all__ = ["write_trace_dat", "write_chrome_json", "write_folded",
           "KERNEL_TRACE_FN", "KERNEL_TRACE_GRAPH_RET", "KERNEL_TRACE_GRAPH_ENT",
           "PAGE_SIZE", "BUF_PAGE_HDR_SIZE", "BUF_PAGE_SIZE",
           "header_page_text", "header_event_text", "ftrace_format_texts"]

_U64 = 0xFFFFFFFFFFFFFFFF
_TYPE_OF_NAME = {name: t for t, name in TYPE_NAMES.items()}

# ------------------------------------------------------------------------------------------------ event adapter

_FIELDS = ("type", "cpu", "pid", "ts", "ip", "parent_ip", "depth", "calltime")


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


def _cdata_row(ev):
    return (ev.type, ev.cpu, ev.pid, ev.ts, ev.ip, ev.parent_ip, ev.depth, ev.calltime)


def _rows(events):
    """The events as field tuples (one transient tuple at a time; cdata records take the direct path)."""
    it = iter(events)
    for first in it:
        if isinstance(first, ffi.CData):
            yield _cdata_row(first)
            for ev in it:
                yield (ev.type, ev.cpu, ev.pid, ev.ts, ev.ip, ev.parent_ip, ev.depth, ev.calltime)
        else:
            yield _row(first)
            for ev in it:
                yield _row(ev)


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


# ==================================================================================================== trace.dat

KERNEL_TRACE_FN = 1          # kernel/trace/trace.h enum trace_type (v3.6)
KERNEL_TRACE_GRAPH_RET = 10
KERNEL_TRACE_GRAPH_ENT = 11

PAGE_SIZE = 4096
LONG_SIZE = 4
BUF_PAGE_HDR_SIZE = 8 + LONG_SIZE            # offsetof(struct buffer_data_page, data): u64 time_stamp, local_t
BUF_PAGE_SIZE = PAGE_SIZE - BUF_PAGE_HDR_SIZE
RINGBUF_TYPE_PADDING = 29
RINGBUF_TYPE_TIME_EXTEND = 30
RINGBUF_TYPE_DATA_TYPE_LEN_MAX = 28
TS_SHIFT = 27
TS_MASK = (1 << TS_SHIFT) - 1
RB_MISSED_EVENTS = 1 << 31
RB_MISSED_STORED = 1 << 30

TRACECMD_OPTION_TRACECLOCK = 4
TRACECMD_OPTION_UNAME = 5

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
        entries.append((end, "_etext"))
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
        for t, cpu, pid, ts, ip, pip, depth, calltime in _rows(events):
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
    w(b"\x17\x08\x44tracing6\0")
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
        for t, cpu, pid, ts, ip, pip, depth, calltime in _rows(events):
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

    rows = _rows(events)
    if mode is None:
        mode = "time"
        for first in rows:
            if first[0] == TRACE_FN:
                mode = "calls"
            rows = itertools.chain((first,), rows)
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

    for t, cpu, pid, ts, ip, pip, depth, calltime in rows:
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
