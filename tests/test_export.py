"""ftrace.formats (tracedat, chrome, folded): trace-cmd trace.dat (written and read back by tracedat, both checked
against the real trace-cmd), Chrome trace-event JSON (checked against the Trace Event Format's rules by a
validator here) and folded stacks.

Fixtures (tests/data/export/): windows of a real trace of src/ftrace/guest/bin/workload-O2.elf on 2 cores, as raw
``struct trace_event`` records (trace_event.h), and the program's function symbols.  The windows start in the
middle of the run, so each CPU begins with returns whose entries are not in the trace and ends with entries
whose returns are not.  The trace-cmd tests are skipped when trace-cmd is not installed (CI installs it).
"""
import bisect
import collections
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import types

import pytest

from ftrace.formats import text as trace_output
from ftrace.formats import tracedat
from ftrace.formats.chrome import write_chrome_json
from ftrace.formats.folded import write_folded
from ftrace.kernel import events as E

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "export")
TRACE_CMD = shutil.which("trace-cmd")
needs_trace_cmd = pytest.mark.skipif(TRACE_CMD is None, reason="trace-cmd is not installed")

FN, ENT, RET = E.TRACE_FN, E.TRACE_GRAPH_ENT, E.TRACE_GRAPH_RET


# ------------------------------------------------------------------------------------------------------ helpers

class Symbols:
    """symbolize() over (addr, size, name) like cpu.loader.Image.symbolize (an unsized function runs to the
    next one)."""

    def __init__(self, funcs):
        self.funcs = sorted(funcs)
        self.starts = [f[0] for f in self.funcs]

    def __call__(self, addr):
        addr &= ~1
        i = bisect.bisect_right(self.starts, addr) - 1
        if i < 0:
            return None
        start, size, name = self.funcs[i]
        end = start + size if size else (self.starts[i + 1] if i + 1 < len(self.starts) else start + 2)
        return (name, addr - start) if addr < end else None


def ev(t, cpu, ts, ip=0, parent_ip=0, depth=0, calltime=0, pid=100):
    return E.Event(t, cpu, pid, ts, ip, parent_ip, depth, calltime)


def ent(cpu, ts, ip, depth, pid=100):
    return ev(ENT, cpu, ts, ip, 0, depth, 0, pid)


def ret(cpu, calltime, rettime, ip, depth, pid=100, overrun=0):
    return ev(RET, cpu, rettime, ip, overrun, depth, calltime, pid)


def fn(cpu, ts, ip, parent, pid=100):
    return ev(FN, cpu, ts, ip, parent, 0, 0, pid)


SYN_FUNCS = [(0x8000, 0x20, "main"), (0x8020, 0x40, "work"), (0x8060, 0x10, "leaf"), (0x8100, 0x10, "last")]
SYN_SYMS = Symbols(SYN_FUNCS)
MAIN, WORK, LEAF, LAST = 0x8008, 0x8028, 0x8066, 0x8104


@pytest.fixture(scope="module")
def workload():
    with open(os.path.join(DATA, "workload_symbols.json")) as f:
        meta = json.load(f)

    def load(name):
        with gzip.open(os.path.join(DATA, name), "rb") as f:
            return E.as_events(f.read())

    funcs = [tuple(x) for x in meta["funcs"]]
    return types.SimpleNamespace(
        ncpus=meta["ncpus"], comms={int(k): v for k, v in meta["comms"].items()}, funcs=funcs,
        symbolize=Symbols(funcs), graph=load("workload_graph.events.gz"),
        function=load("workload_function.events.gz"))


def per_cpu(events):
    out = collections.defaultdict(list)
    for e in events:
        out[e.cpu].append(e)
    return out


def expected_event(e):
    """What the reader gives back for an event: the fields its kernel record carries."""
    if e.type == FN:
        return E.Event(FN, e.cpu, e.pid, e.ts, e.ip, e.parent_ip)
    if e.type == ENT:
        return E.Event(ENT, e.cpu, e.pid, e.ts, e.ip, 0, e.depth)
    return E.Event(RET, e.cpu, e.pid, e.ts, e.ip, e.parent_ip, e.depth, e.calltime)


def write_dat(tmp_path, events, name="t.dat", **kw):
    path = tmp_path / name
    kw.setdefault("ncpus", 2)
    kw.setdefault("comms", {100: "proc"})
    tracedat.write_trace_dat(str(path), events, kw.pop("symbolize", SYN_SYMS), **kw)
    return path


def load_dat(tmp_path, events, **kw):
    return tracedat.load(str(write_dat(tmp_path, events, **kw)))


# ----------------------------------------------------------------------------------------- format texts, layout

EXPECTED_HEADER_PAGE = (
    "\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;\n"
    "\tfield: local_t commit;\toffset:8;\tsize:4;\tsigned:1;\n"
    "\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;\n"
    "\tfield: char data;\toffset:12;\tsize:4084;\tsigned:0;\n")

EXPECTED_HEADER_EVENT = (
    "# compressed entry header\n"
    "\ttype_len    :    5 bits\n"
    "\ttime_delta  :   27 bits\n"
    "\tarray       :   32 bits\n"
    "\n"
    "\tpadding     : type == 29\n"
    "\ttime_extend : type == 30\n"
    "\tdata max type_len  == 28\n")

COMMON = (
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
    "\tfield:int common_padding;\toffset:8;\tsize:4;\tsigned:1;\n"
    "\n")

EXPECTED_FORMATS = {
    "function": (
        "name: function\nID: 1\nformat:\n" + COMMON +
        "\tfield:unsigned long ip;\toffset:12;\tsize:4;\tsigned:0;\n"
        "\tfield:unsigned long parent_ip;\toffset:16;\tsize:4;\tsigned:0;\n"
        "\nprint fmt: \" %lx <-- %lx\", REC->ip, REC->parent_ip\n"),
    "funcgraph_entry": (
        "name: funcgraph_entry\nID: 11\nformat:\n" + COMMON +
        "\tfield:unsigned long func;\toffset:12;\tsize:4;\tsigned:0;\n"
        "\tfield:int depth;\toffset:16;\tsize:4;\tsigned:1;\n"
        "\nprint fmt: \"--> %lx (%d)\", REC->func, REC->depth\n"),
    "funcgraph_exit": (
        "name: funcgraph_exit\nID: 10\nformat:\n" + COMMON +
        "\tfield:unsigned long func;\toffset:16;\tsize:4;\tsigned:0;\n"
        "\tfield:unsigned long long calltime;\toffset:24;\tsize:8;\tsigned:0;\n"
        "\tfield:unsigned long long rettime;\toffset:32;\tsize:8;\tsigned:0;\n"
        "\tfield:unsigned long overrun;\toffset:40;\tsize:4;\tsigned:0;\n"
        "\tfield:int depth;\toffset:44;\tsize:4;\tsigned:1;\n"
        "\nprint fmt: \"<-- %lx (%d) (start: %llx  end: %llx) over: %d\", REC->func, REC->depth, "
        "REC->calltime, REC->rettime, REC->depth\n"),
}


def test_format_texts_are_the_v3_6_arm_ones():
    assert tracedat.header_page_text() == EXPECTED_HEADER_PAGE
    assert tracedat.header_event_text() == EXPECTED_HEADER_EVENT
    assert tracedat.ftrace_format_texts() == EXPECTED_FORMATS


def test_layout_round_trip(tmp_path, workload):
    rec = load_dat(tmp_path, workload.graph, ncpus=workload.ncpus, comms=workload.comms,
                   symbolize=workload.symbolize, funcs=workload.funcs, tracer="function_graph")
    assert (rec.version, rec.long_size, rec.page_size) == (6, 4, 4096)
    assert rec.header_page == EXPECTED_HEADER_PAGE and rec.header_event == EXPECTED_HEADER_EVENT
    assert rec.format_texts == list(EXPECTED_FORMATS.values())
    assert (rec.systems, rec.printk) == ({}, "")
    assert rec.comms == {1000: "workload-O2", 1001: "workload-O2"}
    assert rec.ncpus == 2 and rec.clock == "local" and rec.tracer == "function_graph"
    assert list(rec.options) == [4, 5] and rec.options[4] == b"[local]\0"
    assert rec.options[5].endswith(b"\0") and b"function_graph" in rec.options[5]
    # kallsyms: every function, sorted (the last one, _fini, has no size: no _etext after it)
    expect = sorted({(a, n) for a, _, n in workload.funcs})
    assert expect[-1][1] == "_fini" and max(a + s for a, s, _ in workload.funcs) == expect[-1][0]
    assert rec.kallsyms == [(a, "T", n) for a, n in expect]
    # the CPU data starts on a page boundary after the header and the CPUs follow each other
    assert rec.cpu_table[0][0] == (rec.headers_end + 4095) // 4096 * 4096
    assert rec.cpu_table[1][0] == rec.cpu_table[0][0] + rec.cpu_table[0][1]
    for cpu, evs in per_cpu(workload.graph).items():
        assert rec.cpu_events[cpu] == [expected_event(e) for e in evs]
        pages = rec.pages[cpu]
        assert all(p.lost is None and p.flags == 0 for p in pages)
        assert pages[0].ts == evs[0].ts
        assert len(pages) == rec.cpu_table[cpu][1] // 4096 > 1
    assert rec.lost == {}


def test_time_extend_backwards_and_full_pages(tmp_path):
    big = 1 << 27
    ts = [5, 5 + big - 1, 5 + 2 * big - 1, (1 << 40) + 77, (1 << 40) + 70, (1 << 40) + 70, 3 << 50]
    evs = [fn(0, t, MAIN, WORK) for t in ts]
    rec = load_dat(tmp_path, evs, ncpus=1)
    assert [e.ts for e in rec.events] == ts
    pages = rec.pages[0]
    # a delta of 2^27 - 1 fits, 2^27 and more take a TIME_EXTEND; going back in time starts a page
    assert len(pages) == 2 and pages[1].ts == (1 << 40) + 70
    assert pages[0].extends == 2 and pages[1].extends == 1
    # pages fill up to BUF_PAGE_SIZE: 4084 // 24 = 170 function events a page
    many = [fn(0, 1000 + i, MAIN, WORK) for i in range(1000)]
    rec = load_dat(tmp_path, many, ncpus=1)
    assert [p.commit for p in rec.pages[0]] == [170 * 24] * 5 + [150 * 24]
    assert [e.ts for e in rec.events] == [1000 + i for i in range(1000)]
    # graph returns are 48 + 4 bytes: 78 a page
    rets = [ret(0, 10 * i, 10 * i + 5, LEAF, 1) for i in range(100)]
    rec = load_dat(tmp_path, rets, ncpus=1)
    assert [p.commit for p in rec.pages[0]] == [78 * 52, 22 * 52]
    assert rec.events == rets


def test_lost_events_are_stored_in_the_first_page(tmp_path):
    evs = [fn(1, 10, MAIN, WORK), fn(1, 20, WORK, MAIN)]
    rec = load_dat(tmp_path, evs, ncpus=3, lost={1: 5, 2: 7})
    assert rec.pages[0] == []
    p1 = rec.pages[1]
    assert (p1[0].flags, p1[0].lost) == (tracedat.RB_MISSED_EVENTS | tracedat.RB_MISSED_STORED, 5)
    assert rec.cpu_events[1] == evs
    # a CPU without events still carries its lost count in an empty page
    assert [(p.commit, p.lost) for p in rec.pages[2]] == [(0, 7)]
    assert rec.lost == {1: 5, 2: 7} and rec.written == 2 + 12


def _as_dicts(evs, **kw):
    return [dict(type=e.type, cpu=e.cpu, pid=e.pid, ts=e.ts, ip=e.ip, parent_ip=e.parent_ip, depth=e.depth,
                 calltime=e.calltime) for e in evs]


def test_event_adapters_give_identical_output(tmp_path, workload):
    raw = list(workload.graph)[:3000] + list(workload.function)[:500]
    variants = {
        "Event": lambda: [E.Event.from_cdata(e) for e in raw],
        "namespace": lambda: [types.SimpleNamespace(**d) for d in _as_dicts(raw)],
        "dict": lambda: _as_dicts(raw),
        "to_dict": lambda: [E.to_dict(e, workload.symbolize) for e in raw],
        "generator": lambda: (e for e in raw),           # a single pass is enough
    }

    def outputs(kind, make):
        path = write_dat(tmp_path, make(), name=kind + ".dat", symbolize=workload.symbolize, funcs=workload.funcs)
        js, fold = io.StringIO(), io.StringIO()
        write_chrome_json(js, make(), workload.symbolize, 2)
        write_folded(fold, make(), workload.symbolize)
        return path.read_bytes(), js.getvalue(), fold.getvalue()

    want = outputs("cdata", lambda: raw)
    for kind, make in variants.items():
        assert outputs(kind, make) == want, kind
    # namespaces may omit the fields their type does not use
    sparse = [types.SimpleNamespace(type=FN, cpu=0, pid=1, ts=5, ip=MAIN, parent_ip=WORK)]
    assert load_dat(tmp_path, sparse, ncpus=1).events == [E.Event(FN, 0, 1, 5, MAIN, WORK)]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        write_dat(tmp_path, [fn(2, 1, MAIN, WORK)], ncpus=2)
    with pytest.raises(ValueError):
        write_dat(tmp_path, [], tracer="irqsoff")
    with pytest.raises(ValueError):
        write_folded(io.StringIO(), [], SYN_SYMS, mode="bytes")


def test_trace_dat_to_a_binary_file_object(tmp_path):
    evs = [fn(0, 10, MAIN, WORK), fn(1, 11, LEAF, WORK)]
    buf = io.BytesIO()
    tracedat.write_trace_dat(buf, evs, SYN_SYMS, 2, {100: "proc"}, funcs=SYN_FUNCS)
    assert buf.getvalue() == write_dat(tmp_path, evs, funcs=SYN_FUNCS).read_bytes()


def test_derived_kallsyms(tmp_path):
    evs = [fn(0, 10, MAIN, WORK), fn(0, 11, LAST, 0xF0000001), ent(1, 12, LEAF, 0)]
    rec = load_dat(tmp_path, evs)
    # function starts from symbolize()'s offsets; the end marker after the highest address seen in the last one
    assert rec.kallsyms == [(0x8000, "T", "main"), (0x8020, "T", "work"), (0x8060, "T", "leaf"),
                            (0x8100, "T", "last"), (0x8106, "T", "_etext")]


# ---------------------------------------------------------------------------------------------------- trace-cmd

def trace_cmd(*args):
    r = subprocess.run([TRACE_CMD] + [str(a) for a in args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    return r.stdout


def report(path, *args, ncpus=2):
    lines = trace_cmd("report", "-i", path, *args).splitlines()
    assert lines[0] == "cpus=%d" % ncpus
    return lines[1:]


def trace_cmd_order(events):
    """The order trace-cmd prints records in: the lowest next timestamp over the CPUs, ties to the lower CPU,
    each CPU read in its buffer order."""
    queues = per_cpu(events)
    heads = {c: 0 for c in queues}
    out = []
    while True:
        best = None
        for c in sorted(queues):
            i = heads[c]
            if i < len(queues[c]) and (best is None or queues[c][i].ts < queues[best][heads[best]].ts):
                best = c
        if best is None:
            return out
        out.append(queues[best][heads[best]])
        heads[best] += 1


TC_FN_LINE = re.compile(r"^\s*(.+)-(\d+)\s+\[(\d{3})\]\s+(\d+\.\d+): function:\s+(\S+)(?: <-- (\S+))?$")
KERNEL_FN_LINE = re.compile(r"^\s*(.+)-(\d+)\s+\[(\d{3})\] \.\.\.\. +(\d+\.\d+): (\S+) <-(\S+)$")


@needs_trace_cmd
def test_trace_cmd_version():
    out = subprocess.run([TRACE_CMD, "--version"], capture_output=True, text=True).stdout
    assert re.match(r"trace-cmd version \d+\.\d+", out.strip())


@needs_trace_cmd
def test_trace_cmd_function_report_matches_kernel_text(tmp_path, workload):
    path = write_dat(tmp_path, workload.function, ncpus=2, comms=workload.comms, symbolize=workload.symbolize,
                     funcs=workload.funcs)
    assert trace_cmd("dump", "-v", "-i", path).strip() == "File %s is a valid trace-cmd file" % path
    got = [TC_FN_LINE.match(line).groups() for line in report(path, "-O", "parent=1")]
    kernel = trace_output.format_function(workload.function, workload.symbolize, workload.comms).splitlines()
    want = [KERNEL_FN_LINE.match(line).groups() for line in kernel]
    assert len(got) == len(want) == len(workload.function)
    assert [(c.strip(), *rest) for c, *rest in got] == [(c.strip(), *rest) for c, *rest in want]
    # full-precision timestamps
    got_ns = [TC_FN_LINE.match(line).group(4) for line in report(path, "-t")]
    assert got_ns == ["%d.%09d" % divmod(e.ts, 10 ** 9) for e in workload.function]
    # one CPU at a time: the same lines
    full = report(path)
    for cpu in range(2):
        assert report(path, "--cpu", cpu) == [ln for ln in full if "[%03d]" % cpu in ln]
    # raw fields (-R reads the format's offsets, not the function plugin)
    raw = report(path, "-R")
    for line, e in zip(raw, workload.function):
        assert re.search(r" function: +ip=%x parent_ip=%x$" % (e.ip, e.parent_ip), line), line


def tc_graph_duration(d):
    """trace-cmd's print_graph_duration(): usecs, and 3 ns digits while the usecs have fewer than 7 digits."""
    usecs, rem = divmod(d, 1000)
    s = "%d" % usecs
    return (s + ".%03d" % rem if len(s) < 7 else s) + " us"


def tc_mark(d):
    for limit, mark in ((10 ** 9, "$"), (10 ** 6, "#"), (10 ** 5, "!"), (10 ** 4, "+")):
        if d > limit:
            return mark + " "
    return ""


def trace_cmd_graph_model(events, symbolize):
    """(cpu, duration column, function column) per line of trace-cmd 3.x's function graph printer
    (lib/trace-cmd/trace-ftrace.c): an entry is a leaf when the *next record in the merged stream* (whatever
    its CPU) is a return of the same pid and function -- unlike the kernel, which looks at the same CPU."""
    evs = trace_cmd_order(events)
    name = lambda a: (symbolize(a) or ("%x" % a,))[0]     # noqa: E731
    out, i = [], 0
    while i < len(evs):
        e = evs[i]
        indent = "  " + " " * (2 * e.depth)
        if e.type == ENT:
            nx = evs[i + 1] if i + 1 < len(evs) else None
            if nx is not None and nx.type == RET and nx.pid == e.pid and nx.ip == e.ip:
                d = nx.ts - nx.calltime
                out.append((e.cpu, tc_mark(d) + tc_graph_duration(d), indent + name(e.ip) + "();"))
                i += 2
                continue
            out.append((e.cpu, "", indent + name(e.ip) + "() {"))
        elif e.type == RET:
            d = e.ts - e.calltime
            out.append((e.cpu, tc_mark(d) + tc_graph_duration(d), indent + "}"))
        i += 1
    return out


TC_GRAPH_LINE = re.compile(r"^\s*(.+)-(\d+)\s+\[(\d{3})\]\s+(\d+\.\d+): (funcgraph_entry|funcgraph_exit):"
                           r"\s+(.*?)\s*\|(.*)$")


def tc_graph_lines(lines):
    return [(int(m.group(3)), m.group(6).strip(), m.group(7).rstrip()) for m in map(TC_GRAPH_LINE.match, lines)]


@needs_trace_cmd
def test_trace_cmd_graph_report(tmp_path, workload):
    path = write_dat(tmp_path, workload.graph, ncpus=2, comms=workload.comms, symbolize=workload.symbolize,
                     funcs=workload.funcs, tracer="function_graph")
    lines = report(path)
    model = trace_cmd_graph_model(workload.graph, workload.symbolize)
    assert tc_graph_lines(lines) == model
    assert any(f.endswith("();") for _, _, f in model) and any(d.startswith("+ ") for _, d, _ in model)
    for cpu in range(2):
        assert tc_graph_lines(report(path, "--cpu", cpu)) == [m for m in model if m[0] == cpu]
    # raw fields of the entry and exit records
    raw = report(path, "-R")
    order = trace_cmd_order(workload.graph)
    assert len(raw) == len(order)
    for line, e in zip(raw, order):
        if e.type == ENT:
            assert re.search(r" funcgraph_entry: +func=%x depth=%d$" % (e.ip, e.depth), line), line
        else:
            assert re.search(r" funcgraph_exit: +func=%x calltime=%x rettime=%x overrun=0x%x depth=%d$"
                             % (e.ip, e.calltime, e.ts, e.parent_ip, e.depth), line), line


TC_RAW_LINE = re.compile(r"^\s*(.+)-(\d+)\s+\[(\d{3})\]\s+(\d+)\.(\d{9}): (\w+):\s+(.*)$")


def trace_cmd_raw_events(path, ncpus):
    """trace-cmd's own decoding of a file: ``report -R -t`` (every field at the offset its format states,
    full-precision timestamps) as Events, with the comm it printed per pid and the dropped counts per CPU."""
    events, comms, dropped = [], {}, {}
    for line in report(path, "-R", "-t", ncpus=ncpus):
        m = re.match(r"^CPU:(\d+) \[(\d+) EVENTS DROPPED\]$", line)
        if m:
            dropped[int(m.group(1))] = int(m.group(2))
            continue
        comm, pid, cpu, sec, nsec, name, fields = TC_RAW_LINE.match(line).groups()
        pid, cpu, ts = int(pid), int(cpu), int(sec) * 10 ** 9 + int(nsec)
        comms.setdefault(pid, comm.strip())
        f = dict(kv.split("=") for kv in fields.split())
        if name == "function":
            events.append(E.Event(FN, cpu, pid, ts, int(f["ip"], 16), int(f["parent_ip"], 16)))
        elif name == "funcgraph_entry":
            events.append(E.Event(ENT, cpu, pid, ts, int(f["func"], 16), 0, int(f["depth"])))
        else:
            assert name == "funcgraph_exit" and int(f["rettime"], 16) == ts, line
            events.append(E.Event(RET, cpu, pid, ts, int(f["func"], 16), int(f["overrun"], 16), int(f["depth"]),
                                  int(f["calltime"], 16)))
    return events, comms, dropped


def synthetic_mix():
    """Every kind of record on 4 CPUs, with idle and unknown pids, deltas that need TIME_EXTEND, time going
    back (a new page) and more records than a page holds."""
    big = 1 << 27
    evs = [fn(0, 5, MAIN, WORK), fn(1, 6, LEAF, WORK, pid=0), ent(2, 7, WORK, 0, pid=101),
           ret(2, 7, 7 + big, WORK, 0, pid=101, overrun=3), fn(0, 5 + big, WORK, MAIN),
           fn(1, 3 * 10 ** 9 + 123, LAST, 0xF0000001, pid=555), fn(0, (1 << 40) + 77, LAST, MAIN),
           fn(0, (1 << 40) + 70, MAIN, LAST)]
    evs += [ent(3, 1000 + 2 * i, LEAF, i % 7) for i in range(200)] + [ret(3, 1000, 2000 + i, LAST, 2) for i in range(100)]
    return evs


@needs_trace_cmd
@pytest.mark.parametrize("case", ["graph", "function", "synthetic"])
def test_reader_agrees_with_trace_cmd(tmp_path, workload, case):
    """Our reader against trace-cmd's on the same file: the same records (every field, in the same merged order),
    comms and dropped counts."""
    if case == "synthetic":
        path = write_dat(tmp_path, synthetic_mix(), ncpus=4, comms={100: "proc", 101: "other"},
                         lost={1: 5, 3: 9}, funcs=SYN_FUNCS)
    else:
        path = write_dat(tmp_path, getattr(workload, case), ncpus=2, comms=workload.comms,
                         symbolize=workload.symbolize, funcs=workload.funcs)
    rec = tracedat.load(str(path))
    events, comms, dropped = trace_cmd_raw_events(path, rec.ncpus)
    assert len(rec.events) > 100
    assert rec.events == events
    assert dropped == rec.lost
    assert comms == {pid: rec.comms.get(pid, "<idle>" if pid == 0 else "<...>") for pid in comms}


KERNEL_GRAPH_LINE = re.compile(r"^ (\d)\) +(.*?) *\|(.*)$")


def kernel_duration(tc):
    """trace-cmd's duration column, without its mark, cut to the digits of the kernel's
    trace_print_graph_duration() (7 at most: the '.' and the ns digits only while they fit)."""
    if not tc:
        return ""
    usecs, _, frac = tc.split()[-2].partition(".")
    frac = frac[:min(3, 7 - len(usecs))] if len(usecs) < 7 else ""
    return usecs + ("." + frac if frac else "") + " us"


@needs_trace_cmd
def test_trace_cmd_graph_report_matches_kernel_text_on_one_cpu(tmp_path, workload):
    """With one CPU trace-cmd's leaf rule is the kernel's, so the two printers agree line for line (modulo the
    overhead marks and the digits of long durations, which trace-cmd 3.1 prints its own way, and the kernel's
    "} /* func */" for returns whose entry is not in the trace)."""
    cpu0 = [e for e in workload.graph if e.cpu == 0]
    path = write_dat(tmp_path, cpu0, ncpus=1, comms=workload.comms, symbolize=workload.symbolize,
                     funcs=workload.funcs, tracer="function_graph")
    got = tc_graph_lines(report(path, ncpus=1))
    kernel = trace_output.format_graph(cpu0, workload.symbolize, ncpus=1).splitlines()
    want = []
    for line in kernel:
        m = KERNEL_GRAPH_LINE.match(line)
        func = re.sub(r"} /\* \S+ \*/$", "}", m.group(3).rstrip())
        want.append((int(m.group(1)), re.sub(r"^[-+!#*@$] ", "", m.group(2).strip()), func))
    got = [(c, kernel_duration(d), f) for c, d, f in got]
    assert got == want
    assert sum(1 for line in kernel if "/*" in line) > 0      # returns without their entry are in the window


@needs_trace_cmd
def test_trace_cmd_synthetic_timestamps_order_and_names(tmp_path):
    big = 1 << 27
    evs = [fn(0, 5, MAIN, WORK), fn(1, 6, LEAF, WORK, pid=0), fn(0, 5 + big, WORK, MAIN),
           fn(1, 3 * 10 ** 9 + 123, LAST, 0xF0000001, pid=101), fn(0, (1 << 40) + 77, LAST, MAIN),
           fn(0, (1 << 40) + 70, MAIN, LAST)]
    path = write_dat(tmp_path, evs, ncpus=4, comms={100: "proc", 101: "other"}, funcs=SYN_FUNCS)
    lines = report(path, "-t", "-O", "parent=1", ncpus=4)
    got = [TC_FN_LINE.match(line).groups() for line in lines]
    want = []
    for e in trace_cmd_order(evs):
        comm = {0: "<idle>", 100: "proc", 101: "other"}[e.pid]
        want.append((comm, str(e.pid), "%03d" % e.cpu, "%d.%09d" % divmod(e.ts, 10 ** 9),
                     SYN_SYMS(e.ip)[0], (SYN_SYMS(e.parent_ip) or ("0x%x" % e.parent_ip,))[0]))
    assert [(c.strip(), *rest) for c, *rest in got] == want
    # "last" is the last function: it resolves thanks to the _etext marker
    assert any(g[4] == "last" for g in got)
    assert "main\n" in trace_cmd("report", "-i", path, "-f") and "_etext" in trace_cmd("report", "-i", path, "-f")


@needs_trace_cmd
def test_trace_cmd_lost_events(tmp_path):
    evs = [fn(0, 10, MAIN, WORK), fn(1, 20, LEAF, WORK), fn(1, 30, WORK, MAIN)]
    path = write_dat(tmp_path, evs, ncpus=2, lost={1: 5}, funcs=SYN_FUNCS)
    lines = report(path)
    assert lines[1] == "CPU:1 [5 EVENTS DROPPED]"
    assert len(lines) == 4 and "[001]" in lines[2]


@needs_trace_cmd
def test_trace_cmd_dump_sections(tmp_path, workload):
    path = write_dat(tmp_path, workload.graph, ncpus=2, comms=workload.comms, symbolize=workload.symbolize,
                     funcs=workload.funcs, tracer="function_graph")
    out = trace_cmd("dump", "-i", path, "--ftrace-events")
    for text in EXPECTED_FORMATS.values():
        assert text.strip() in out
    assert "[local]" in trace_cmd("dump", "-i", path, "--clock")
    assert "1000 workload-O2" in trace_cmd("dump", "-i", path, "--cmd-lines")
    assert "size:4;" in trace_cmd("dump", "-i", path, "--head-page")


# -------------------------------------------------------------------------------------------------- Chrome JSON

def validate_chrome_json(text):
    """Check a trace against the Trace Event Format rules; return (events, {tid: [(start, end, name)]})."""
    doc = json.loads(text)
    assert doc["displayTimeUnit"] in ("ms", "ns")
    events = doc["traceEvents"]
    assert isinstance(events, list)
    open_b = collections.defaultdict(list)
    last_ts = {}
    slices = collections.defaultdict(list)
    for e in events:
        for key in ("ph", "ts", "pid", "tid", "name"):
            assert key in e, (key, e)
        assert isinstance(e["ts"], (int, float)) and isinstance(e["name"], str)
        tid = (e["pid"], e["tid"])
        ph = e["ph"]
        assert ph in ("B", "E", "X", "i", "M"), e
        if ph in ("B", "E"):
            # duration events of a thread must be in timestamp order
            assert e["ts"] >= last_ts.get(tid, float("-inf")), e
            last_ts[tid] = e["ts"]
        if ph == "B":
            open_b[tid].append(e)
        elif ph == "E":
            assert open_b[tid], "E without B: %r" % e
            b = open_b[tid].pop()
            assert b["name"] == e["name"], (b, e)
            slices[tid].append((b["ts"], e["ts"], e["name"]))
        elif ph == "X":
            assert e["dur"] >= 0, e
            slices[tid].append((e["ts"], e["ts"] + e["dur"], e["name"]))
        elif ph == "i":
            assert e.get("s", "t") in ("t", "p", "g"), e
        elif ph == "M":
            assert e["name"] in ("process_name", "thread_name", "thread_sort_index", "process_sort_index")
    for tid, stack in open_b.items():
        assert not stack, "unclosed B events on %r" % (tid,)
    # B/E and X slices of a thread: nested or disjoint, never overlapping
    for tid, ss in slices.items():
        stack = []
        for start, end, name in sorted(ss, key=lambda s: (s[0], -s[1])):
            while stack and stack[-1] <= start + 1e-9 and not (stack[-1] == start and end == start):
                stack.pop()
            if stack:
                assert end <= stack[-1] + 1e-9, ("overlapping slices", tid, start, end, name)
            stack.append(end)
    return events, slices


def chrome(events, symbolize=SYN_SYMS, ncpus=1, **kw):
    out = io.StringIO()
    stats = write_chrome_json(out, events, symbolize, ncpus, {100: "proc"}, **kw)
    evs, slices = validate_chrome_json(out.getvalue())
    return stats, evs, slices


def body(evs):
    """The non-metadata events as (ph, name, ts, dur-or-None, args)."""
    return [(e["ph"], e["name"], e["ts"], e.get("dur"), e.get("args")) for e in evs if e["ph"] != "M"]


def test_json_metadata_and_units():
    text = io.StringIO()
    write_chrome_json(text, [fn(1, 1_234_567_891, MAIN, WORK)], SYN_SYMS, 2, {100: "proc"})
    raw = text.getvalue()
    assert '"ts":1234567.891' in raw              # microseconds with exact ns digits
    evs, _ = validate_chrome_json(raw)
    meta = [(e["name"], e["tid"], e["args"]) for e in evs if e["ph"] == "M"]
    assert meta == [("process_name", 0, {"name": "simulated SMP"}),
                    ("thread_name", 0, {"name": "cpu 0"}), ("thread_sort_index", 0, {"sort_index": 0}),
                    ("thread_name", 1, {"name": "cpu 1"}), ("thread_sort_index", 1, {"sort_index": 1})]
    assert all(e["pid"] == 1 for e in evs)
    assert body(evs) == [("i", "proc-100", 1234567.891, None, None),
                         ("i", "main", 1234567.891, None, {"parent": "work"})]
    assert [e.get("s") for e in evs if e["ph"] == "i"] == ["t", "t"]
    # tid_base moves every track
    _, evs, _ = chrome([fn(1, 5, MAIN, WORK)], ncpus=2, tid_base=1)
    assert {e["tid"] for e in evs} == {1, 2} and [e["tid"] for e in evs if e["ph"] == "i"] == [2, 2]


def test_json_graph_pairs_lost_entries_and_unfinished():
    evs = [
        ret(0, 100, 150, LEAF, 2),               # entry overwritten: encloses nothing yet -> X
        ret(0, 50, 200, WORK, 1),                # entry overwritten, encloses the previous one -> X
        ent(0, 210, WORK, 1),
        ent(0, 220, LEAF, 2),
        ret(0, 220, 230, LEAF, 2),
        ent(0, 240, LEAF, 2),                    # its return is lost ...
        ent(0, 250, LAST, 2),                    # ... an entry at the same depth closes it
        ret(0, 250, 260, LAST, 2),
        ent(0, 270, LEAF, 2),                    # never returns: closed at the end of the trace
        ent(0, 280, LAST, 3),
        ret(0, 280, 290, LAST, 3),
    ]
    stats, out, slices = chrome(evs)
    assert body(out) == [
        ("i", "proc-100", 0.15, None, None),
        ("X", "leaf", 0.1, 0.05, {"entry_lost": True}),
        ("X", "work", 0.05, 0.15, {"entry_lost": True}),
        ("B", "work", 0.21, None, None),
        ("B", "leaf", 0.22, None, None), ("E", "leaf", 0.23, None, None),
        ("B", "leaf", 0.24, None, None), ("E", "leaf", 0.25, None, {"unfinished": True}),
        ("B", "last", 0.25, None, None), ("E", "last", 0.26, None, None),
        ("B", "leaf", 0.27, None, None),
        ("B", "last", 0.28, None, None), ("E", "last", 0.29, None, None),
        ("E", "leaf", 0.29, None, {"unfinished": True}), ("E", "work", 0.29, None, {"unfinished": True}),
    ]
    assert stats == {"events": 18, "slices": 8, "instants": 1, "entry_lost": 2, "dropped_returns": 0,
                     "unfinished": 3}


def test_json_return_that_cannot_nest_is_dropped():
    evs = [ent(0, 100, WORK, 1), ret(0, 100, 200, WORK, 1),
           ret(0, 150, 300, LEAF, 1)]            # starts inside the closed "work" slice and ends after it
    stats, out, _ = chrome(evs)
    assert stats["dropped_returns"] == 1 and stats["entry_lost"] == 0
    assert [e[0] for e in body(out)] == ["i", "B", "E"]
    # a lost-entry return that is a child of the open slice is kept
    evs = [ent(0, 100, WORK, 1), ret(0, 120, 130, LEAF, 2), ret(0, 100, 200, WORK, 1)]
    stats, out, slices = chrome(evs)
    assert stats["entry_lost"] == 1 and sorted(slices[(1, 0)]) == [(0.1, 0.2, "work"), (0.12, 0.13, "leaf")]


def test_json_clamps_time_going_backwards_on_a_cpu():
    evs = [ent(0, 100, WORK, 1), ent(0, 90, LEAF, 2), ret(0, 90, 95, LEAF, 2), ret(0, 100, 120, WORK, 1)]
    _, out, _ = chrome(evs)
    assert [(e[0], e[2]) for e in body(out)][1:] == [("B", 0.1), ("B", 0.1), ("E", 0.1), ("E", 0.12)]


def test_json_workload_graph(workload):
    stats, out, slices = chrome(workload.graph, workload.symbolize, workload.ncpus)
    n_ent = sum(1 for e in workload.graph if e.type == ENT)
    n_ret = sum(1 for e in workload.graph if e.type == RET)
    phs = collections.Counter(e["ph"] for e in out)
    assert phs["B"] == phs["E"] == n_ent
    assert phs["X"] == stats["entry_lost"] > 0 and stats["unfinished"] > 0
    assert stats["dropped_returns"] == 0
    # every return either closed its B or became an X
    assert n_ret == phs["E"] - stats["unfinished"] + phs["X"]
    assert set(tid for _, tid in slices) == {0, 1}
    # each X is exactly [calltime, rettime] of its return
    xs = sorted((e["ts"], e["dur"]) for e in out if e["ph"] == "X")
    lost = []
    for cpu, evs in per_cpu(workload.graph).items():
        depth_open = collections.Counter()
        for e in evs:
            if e.type == ENT:
                depth_open[(e.ip, e.depth)] += 1
            elif depth_open[(e.ip, e.depth)]:
                depth_open[(e.ip, e.depth)] -= 1
            else:
                lost.append((e.calltime / 1000, (e.ts - e.calltime) / 1000))
    assert [v for p in xs for v in p] == pytest.approx([v for p in sorted(lost) for v in p])


def test_json_workload_function(workload):
    stats, out, slices = chrome(workload.function, workload.symbolize, workload.ncpus)
    assert not slices
    inst = [e for e in out if e["ph"] == "i" and e.get("cat") != "task"]
    assert len(inst) == len(workload.function) == stats["instants"] - 2
    for j, e in zip(inst, workload.function):
        assert (j["tid"], j["ts"], j["name"], j["args"]["parent"]) == (
            e.cpu, e.ts / 1000, workload.symbolize(e.ip)[0],
            (workload.symbolize(e.parent_ip) or ("0x%x" % e.parent_ip,))[0])


def test_json_to_a_path(tmp_path, workload):
    path = tmp_path / "t.json"
    write_chrome_json(str(path), workload.graph, workload.symbolize, 2, workload.comms)
    validate_chrome_json(path.read_text())


# ------------------------------------------------------------------------------------------------ folded stacks

def folded(events, mode=None, symbolize=SYN_SYMS):
    out = io.StringIO()
    stats = write_folded(out, events, symbolize, mode=mode)
    lines = out.getvalue().splitlines()
    assert lines == sorted(lines)
    return stats, {ln.rsplit(" ", 1)[0]: int(ln.rsplit(" ", 1)[1]) for ln in lines}


def test_folded_self_time():
    evs = [ent(0, 0, MAIN, 0), ent(0, 10, WORK, 1), ent(0, 15, LEAF, 2), ret(0, 15, 25, LEAF, 2),
           ret(0, 10, 40, WORK, 1), ent(0, 50, LEAF, 1), ret(0, 50, 53, LEAF, 1), ret(0, 0, 100, MAIN, 0),
           ent(1, 5, WORK, 0), ret(1, 5, 9, WORK, 0)]
    stats, got = folded(evs)
    assert got == {"cpu0;main": 100 - 30 - 3, "cpu0;main;work": 30 - 10, "cpu0;main;work;leaf": 10,
                   "cpu0;main;leaf": 3, "cpu1;work": 4}
    assert stats["mode"] == "time" and stats["total"] == 104 and stats["stacks"] == 5


def test_folded_lost_entries_and_unfinished():
    evs = [ret(0, 10, 20, LEAF, 2),              # entry lost: a root-level frame
           ret(0, 12, 30, LAST, 2),
           ret(0, 0, 40, WORK, 1),               # entry lost: its children (depth 2) were 10 + 18
           ent(0, 50, WORK, 1), ent(0, 60, LEAF, 2),   # never return: closed at the CPU's last ts (70)
           ent(0, 65, LAST, 3), ret(0, 65, 70, LAST, 3)]
    stats, got = folded(evs)
    # "cpu0;work": 40 - 28 for the lost-entry return, 20 - 10 for the unfinished one
    assert got == {"cpu0;leaf": 10, "cpu0;last": 18, "cpu0;work": 12 + 10,
                   "cpu0;work;leaf;last": 5, "cpu0;work;leaf": 10 - 5}
    assert (stats["entry_lost"], stats["unfinished"]) == (3, 2)


def test_folded_calls():
    evs = [ent(0, 0, MAIN, 0), ent(0, 1, LEAF, 1), ret(0, 1, 2, LEAF, 1), ent(0, 3, LEAF, 1),
           ret(0, 3, 4, LEAF, 1), fn(0, 5, LEAF, MAIN)]
    # calls: graph entries under their stack and function events as cpu;parent;func (here the same key)
    stats, got = folded(evs, mode="calls")
    assert got == {"cpu0;main": 1, "cpu0;main;leaf": 3} and stats["ignored"] == 0
    stats, got = folded([fn(0, 1, LEAF, MAIN), fn(1, 2, LEAF, MAIN), fn(0, 3, LEAF, MAIN), ent(0, 4, MAIN, 0)])
    assert stats["mode"] == "calls" and got == {"cpu0;main;leaf": 2, "cpu1;main;leaf": 1, "cpu0;main": 1}
    stats, got = folded([ent(0, 4, MAIN, 0), fn(0, 5, LEAF, MAIN)])
    assert stats["mode"] == "time" and stats["ignored"] == 1 and got == {"cpu0;main": 0}


def test_folded_workload(workload):
    stats, got = folded(workload.graph, symbolize=workload.symbolize)
    assert all(v >= 0 for v in got.values()) and stats["dropped_returns"] == 0
    assert all(re.match(r"^cpu[01](;[A-Za-z_]\w*)+$", k) for k in got)
    # calls: every entry counted once under its stack
    _, calls = folded(workload.graph, mode="calls", symbolize=workload.symbolize)
    per_func = collections.Counter()
    for k, v in calls.items():
        per_func[k.rsplit(";", 1)[1]] += v
    want = collections.Counter(workload.symbolize(e.ip)[0] for e in workload.graph if e.type == ENT)
    assert per_func == want
    # function tracer: cpu;parent;func call counts
    stats, got = folded(workload.function, symbolize=workload.symbolize)
    name = lambda a: (workload.symbolize(a) or ("0x%x" % a,))[0]     # noqa: E731
    assert stats["mode"] == "calls"
    assert got == collections.Counter("cpu%d;%s;%s" % (e.cpu, name(e.parent_ip), name(e.ip))
                                      for e in workload.function)


def test_folded_to_a_path(tmp_path):
    path = tmp_path / "out.folded"
    write_folded(str(path), [ent(0, 0, MAIN, 0), ret(0, 0, 7, MAIN, 0)], SYN_SYMS)
    assert path.read_text() == "cpu0;main 7\n"


# ----------------------------------------------------------------------------------------- live simulator

def test_live_trace_exports(tmp_path):
    """The exporters on events straight from a running machine's ring buffers (zero-copy cdata): the trace.dat
    reads back as those events (by our reader and by trace-cmd), the JSON is valid, and the folded stacks agree
    with what the graph records say themselves (depths, durations of the depth-0 calls) and with ftrace report's
    self times of the same trace."""
    cpu = pytest.importorskip("cpu")
    from ftrace import DEMO_PROGRAM as elf        # guest/bin/workload-O2.elf
    from ftrace import Ftrace
    from ftrace.formats import recorded
    m = cpu.Machine(cores=2, seed=1)
    m.load_elf(elf)
    ft = Ftrace(m)
    ft.current_tracer = "function_graph"
    ft.run_for(200_000)
    comms = {ft.tasks.pid_of(c): ft.comm for c in range(m.ncores)}
    raw = [E.Event.from_cdata(e) for e in ft.raw_events()]
    assert len(raw) > 1000 and {e.cpu for e in raw} == {0, 1}
    assert all(ft.rb.overrun(c) == 0 for c in range(m.ncores))     # the whole run: no entry is lost

    path = tmp_path / "live.dat"
    st = tracedat.write_trace_dat(str(path), ft.raw_events(), ft.symbolize, m.ncores, comms, funcs=m.image.funcs,
                                  tracer="function_graph", clock_hz=m.cpu_hz)
    assert st["events"] == len(raw)
    rec = tracedat.load(str(path))
    assert rec.events == [expected_event(e) for e in raw]
    if TRACE_CMD:
        assert trace_cmd_raw_events(path, m.ncores)[0] == rec.events

    js = io.StringIO()
    write_chrome_json(js, ft.raw_events(), ft.symbolize, m.ncores, comms)
    validate_chrome_json(js.getvalue())

    # folded, time: "cpuN;f;g self_ns" lines; on each CPU the self times add up to the durations of the depth-0
    # calls (an unfinished one runs to the CPU's last timestamp)
    out = io.StringIO()
    stats = write_folded(out, ft.raw_events(), rec.symbolize)
    lines = out.getvalue().splitlines()
    assert all(re.fullmatch(r"cpu[01](;[A-Za-z_][\w.]*)+ \d+", ln) for ln in lines), lines
    got = {k: int(v) for k, v in (ln.rsplit(" ", 1) for ln in lines)}
    assert stats["total"] == sum(got.values()) and stats["entry_lost"] == stats["dropped_returns"] == 0
    for c in range(m.ncores):
        evs = [e for e in raw if e.cpu == c]
        roots, open_at = 0, None
        for e in evs:
            if e.depth == 0 and e.type == ENT:
                open_at = e.ts
            elif e.depth == 0 and e.type == RET:
                roots += e.ts - e.calltime
                open_at = None
        if open_at is not None:
            roots += evs[-1].ts - open_at
        assert sum(v for k, v in got.items() if k.startswith("cpu%d;" % c)) == roots > 0
    # self time per function: what ftrace report computes from the trace.dat (recorded.function_stats)
    self_ns = collections.Counter()
    for k, v in got.items():
        self_ns[k.rsplit(";", 1)[1]] += v
    assert dict(self_ns) == {f: s for f, (_, s, _) in recorded.function_stats(rec).items()}

    # folded, calls: each entry counted once, under a stack as deep as the depth the tracer recorded
    out = io.StringIO()
    write_folded(out, ft.raw_events(), rec.symbolize, mode="calls")
    calls = collections.Counter()
    for ln in out.getvalue().splitlines():
        stack, n = ln.rsplit(" ", 1)
        frames = stack.split(";")
        calls[(int(frames[0][3:]), len(frames) - 2, frames[-1])] += int(n)
    assert calls == collections.Counter((e.cpu, e.depth, rec.symbolize(e.ip)[0]) for e in raw if e.type == ENT)
