"""Per-CPU trace ring buffers (src/ftrace/kernel/ring_buffer.pyx) and the cffi record view
(src/ftrace/kernel/events.py).

Semantics checked against kernel/trace/ring_buffer.c and trace.c as summarised in ftrace-kernel.md §5-§6:
overwrite vs producer/consumer mode, overrun/dropped/entries/written, tracing_on, consuming reads with lost
counts, per-CPU isolation, the per_cpu/cpuN/stats text.
"""
import pytest

from ftrace.kernel.events import (EVENT_SIZE, TRACE_FN, TRACE_GRAPH_ENT, TRACE_GRAPH_RET, Event, as_events, ffi,
                           iter_events, merge, to_dict)
from ftrace.kernel.ring_buffer import RingBuffer

KB = 1                    # 1 KiB per CPU = 32 records: small rings make wrap-around cheap to test
CAP = KB * 1024 // 32


def ts_of(source):
    return [ev.ts for ev in iter_events(source)]


def fill(rb, cpu, n, start=0, **kw):
    return [rb._write(cpu, ts=start + i, ip=0x1000 + i, **kw) for i in range(n)]


# ---------------------------------------------------------------------------------------------- layout, sizes

def test_record_layout_is_the_header():
    assert EVENT_SIZE == 32
    assert ffi.sizeof("struct trace_event") == 32
    assert ffi.offsetof("struct trace_event", "ts") == 0
    assert ffi.offsetof("struct trace_event", "calltime") == 8
    assert ffi.offsetof("struct trace_event", "ip") == 16
    assert ffi.offsetof("struct trace_event", "parent_ip") == 20
    assert ffi.offsetof("struct trace_event", "pid") == 24
    assert ffi.offsetof("struct trace_event", "depth") == 28
    assert ffi.offsetof("struct trace_event", "type") == 30
    assert ffi.offsetof("struct trace_event", "cpu") == 31
    assert (TRACE_FN, TRACE_GRAPH_ENT, TRACE_GRAPH_RET) == (1, 2, 3)


def test_sizes_default_and_total():
    rb = RingBuffer(4)
    assert rb.buffer_size_kb == 1408                      # the kernel's default per-CPU size
    assert rb.buffer_total_size_kb == 4 * 1408
    assert rb.capacity == 1408 * 1024 // 32
    assert rb.overwrite and rb.record_on
    rb = RingBuffer(2, buffer_size_kb=3, overwrite=False)
    assert (rb.buffer_size_kb, rb.buffer_total_size_kb, rb.capacity, rb.overwrite) == (3, 6, 96, False)


@pytest.mark.parametrize("kw", [dict(ncpus=0), dict(ncpus=-1), dict(ncpus=257),
                                dict(ncpus=1, buffer_size_kb=0), dict(ncpus=1, buffer_size_kb=-5)])
def test_constructor_validation(kw):
    with pytest.raises(ValueError):
        RingBuffer(**kw)


def test_cpu_argument_validation():
    rb = RingBuffer(2, KB)
    for bad in (-1, 2, 100):
        for call in (rb.entries, rb.overrun, rb.dropped, rb.written, rb.read_events, rb.snapshot, rb.consume,
                     rb.stats, rb.reset, rb._write):
            with pytest.raises(ValueError):
                call(bad)
    with pytest.raises(TypeError):
        rb.entries("0")
    with pytest.raises(ValueError):
        rb.consume(0, -1)


# ------------------------------------------------------------------------------------------------ overwrite

def test_overwrite_mode_keeps_newest_and_counts_overrun():
    rb = RingBuffer(1, KB)
    assert all(fill(rb, 0, CAP + 7))
    assert rb.entries(0) == CAP
    assert rb.overrun(0) == 7
    assert rb.dropped(0) == 0
    assert rb.written(0) == CAP + 7                     # entries + overrun
    assert ts_of(rb.snapshot(0)) == list(range(7, CAP + 7))


def test_producer_consumer_mode_drops_newest():
    rb = RingBuffer(1, KB, overwrite=False)
    ok = fill(rb, 0, CAP + 5)
    assert ok == [True] * CAP + [False] * 5
    assert (rb.entries(0), rb.overrun(0), rb.dropped(0), rb.written(0)) == (CAP, 0, 5, CAP)
    assert ts_of(rb.snapshot(0)) == list(range(CAP))
    # room again after a consuming read
    view, lost = rb.consume(0, 3)
    assert lost == 0 and ts_of(view) == [0, 1, 2]
    assert fill(rb, 0, 4, start=1000) == [True, True, True, False]
    assert rb.dropped(0) == 6
    assert ts_of(rb.snapshot(0))[-3:] == [1000, 1001, 1002]


def test_switching_mode_at_runtime():
    rb = RingBuffer(1, KB, overwrite=False)
    fill(rb, 0, CAP + 1)
    rb.overwrite = True
    assert rb._write(0, ts=999)
    assert (rb.dropped(0), rb.overrun(0)) == (1, 1)
    assert ts_of(rb.snapshot(0))[-1] == 999 and ts_of(rb.snapshot(0))[0] == 1


@pytest.mark.parametrize("n", [0, 1, CAP - 1, CAP, CAP + 1, 2 * CAP - 1, 2 * CAP, 5 * CAP + 13])
def test_wrap_around_order(n):
    rb = RingBuffer(1, KB)
    fill(rb, 0, n)
    pieces = rb.snapshot(0)
    assert len(pieces) <= 2
    assert all(len(p) > 0 and len(p) % EVENT_SIZE == 0 for p in pieces)
    assert ts_of(pieces) == list(range(max(0, n - CAP), n))
    wrapped = n > CAP and (n % CAP) != 0
    assert len(pieces) == (0 if n == 0 else 2 if wrapped else 1)


# ------------------------------------------------------------------------------------------- resize, reset

def test_resize_clears_and_old_views_stay_valid():
    rb = RingBuffer(2, KB)
    fill(rb, 0, CAP + 3)
    fill(rb, 1, 5)
    (old,) = rb.snapshot(1)
    rb.buffer_size_kb = 2
    assert (rb.buffer_size_kb, rb.buffer_total_size_kb, rb.capacity) == (2, 4, 64)
    for cpu in (0, 1):
        assert (rb.entries(cpu), rb.overrun(cpu), rb.written(cpu), rb.snapshot(cpu)) == (0, 0, 0, ())
    # the old view keeps its (old) memory alive: no dangling pointer
    assert ts_of(old) == [0, 1, 2, 3, 4]
    assert fill(rb, 0, 64) == [True] * 64 and rb.overrun(0) == 0
    with pytest.raises(ValueError):
        rb.buffer_size_kb = 0
    assert rb.buffer_size_kb == 2 and rb.entries(0) == 64      # a refused resize changes nothing


def test_reset_one_cpu_or_all():
    rb = RingBuffer(3, KB, overwrite=False)
    for cpu in range(3):
        fill(rb, cpu, CAP + 2)
    rb.consume(2, 4)
    rb.reset(1)                                            # per_cpu/cpu1/trace O_TRUNC
    assert (rb.entries(1), rb.dropped(1)) == (0, 0)
    assert (rb.entries(0), rb.dropped(0)) == (CAP, 2)
    rb.reset()                                             # echo > trace
    for cpu in range(3):
        assert (rb.entries(cpu), rb.overrun(cpu), rb.dropped(cpu), rb.read_events(cpu)) == (0, 0, 0, 0)


def test_tracing_off_drops_silently():
    rb = RingBuffer(2, KB)
    fill(rb, 0, 3)
    rb.record_on = False
    assert fill(rb, 0, CAP + 10, start=100) == [False] * (CAP + 10)
    assert (rb.entries(0), rb.overrun(0), rb.dropped(0), rb.written(0)) == (3, 0, 0, 3)
    rb.record_on = True
    assert rb._write(0, ts=7)
    assert ts_of(rb.snapshot(0)) == [0, 1, 2, 7]


# ------------------------------------------------------------------------------------------- consuming reads

def test_consume_takes_oldest_and_reports_lost():
    rb = RingBuffer(1, KB)
    fill(rb, 0, CAP + 5)                                   # 5 overwritten before any read
    view, lost = rb.consume(0, 10)
    assert lost == 5 and ts_of(view) == list(range(5, 15))
    assert (rb.entries(0), rb.read_events(0), rb.overrun(0)) == (CAP - 10, 10, 5)
    assert rb.written(0) == CAP - 10 + 5                   # the kernel does not count read events as written
    view, lost = rb.consume(0, 1)
    assert lost == 0 and ts_of(view) == [15]
    # overwrite again: only the events lost since the last read are reported
    fill(rb, 0, 11 + 3, start=1000)                        # 11 free slots, then 3 overwrites
    assert rb.overrun(0) == 8
    view, lost = rb.consume(0)
    assert lost == 3
    assert ts_of(view)[0] == 19


def test_consume_wrapped_buffer_takes_two_calls():
    rb = RingBuffer(1, KB)
    fill(rb, 0, CAP + 10)
    v1, l1 = rb.consume(0)
    v2, l2 = rb.consume(0)
    v3, l3 = rb.consume(0)
    assert (l1, l2, l3) == (10, 0, 0)
    assert ts_of(v1) + ts_of(v2) == list(range(10, CAP + 10))
    assert len(v1) // EVENT_SIZE == CAP - 10 and len(v3) == 0
    assert rb.entries(0) == 0 and rb.read_events(0) == CAP


def test_consume_in_producer_consumer_mode_reports_no_lost():
    rb = RingBuffer(1, KB, overwrite=False)
    fill(rb, 0, CAP + 9)
    view, lost = rb.consume(0)
    assert lost == 0 and len(view) == CAP * EVENT_SIZE and rb.dropped(0) == 9


def test_consume_zero_events():
    rb = RingBuffer(1, KB)
    fill(rb, 0, CAP + 2)
    view, lost = rb.consume(0, 0)
    assert len(view) == 0 and lost == 2 and rb.entries(0) == CAP


# ------------------------------------------------------------------------------------------------ zero-copy

def test_snapshot_is_zero_copy_and_read_only():
    rb = RingBuffer(1, KB)
    fill(rb, 0, 4)
    (view,) = rb.snapshot(0)
    assert view.readonly
    with pytest.raises(TypeError):
        view[0] = 1
    arr = as_events(view)
    assert [e.ts for e in arr] == [0, 1, 2, 3]
    # a later write through the C writer is visible through the earlier view: same memory, no copy
    rb.reset()
    rb._write(0, ts=4242, ip=0xbeef)
    assert arr[0].ts == 4242 and arr[0].ip == 0xbeef
    # two snapshots map the same address
    (again,) = rb.snapshot(0)
    p1 = int(ffi.cast("uintptr_t", ffi.from_buffer(view)))
    p2 = int(ffi.cast("uintptr_t", ffi.from_buffer(again)))
    assert p1 == p2


def test_consume_view_is_zero_copy():
    rb = RingBuffer(1, KB)
    fill(rb, 0, 3)
    (snap,) = rb.snapshot(0)
    view, _ = rb.consume(0, 2)
    assert int(ffi.cast("uintptr_t", ffi.from_buffer(view))) == int(ffi.cast("uintptr_t", ffi.from_buffer(snap)))


def test_fields_round_trip_and_cpu_is_set_by_reserve():
    rb = RingBuffer(4, KB)
    assert rb._write(3, ts=(1 << 64) - 1, calltime=123456789012, ip=0xFFFFFFFF, parent_ip=0x80001234, pid=-7,
                     depth=65535, type=TRACE_GRAPH_RET)
    (ev,) = list(iter_events(rb.snapshot(3)))
    assert (ev.ts, ev.calltime, ev.ip, ev.parent_ip, ev.pid, ev.depth, ev.type, ev.cpu) == (
        (1 << 64) - 1, 123456789012, 0xFFFFFFFF, 0x80001234, -7, 65535, TRACE_GRAPH_RET, 3)


# ------------------------------------------------------------------------------------------- per-CPU isolation

def test_per_cpu_isolation():
    rb = RingBuffer(4, KB, overwrite=False)
    fill(rb, 1, CAP + 4)
    fill(rb, 2, 3, start=500)
    assert [rb.entries(c) for c in range(4)] == [0, CAP, 3, 0]
    assert [rb.dropped(c) for c in range(4)] == [0, 4, 0, 0]
    assert rb.snapshot(0) == () and rb.snapshot(3) == ()
    assert ts_of(rb.snapshot(2)) == [500, 501, 502]
    assert {ev.cpu for ev in iter_events(rb.snapshot(1))} == {1}
    rb.consume(1)
    assert rb.entries(2) == 3 and rb.read_events(2) == 0


# ----------------------------------------------------------------------------------------------------- stats

def test_stats_text():
    rb = RingBuffer(2, KB)
    fill(rb, 0, CAP + 3, start=3_000_000_000)            # ts 3000000000.., 3 overwritten
    rb.consume(0, 2)                                       # oldest left: ts 3000000005 ns
    # kernel trace.c tracing_stats_read (v3.10+ lines); times through ns2usecs() (rounded to the microsecond)
    assert rb.stats(0, now_ts=4_123_456_789) == (
        "entries: 30\n"
        "overrun: 3\n"
        "commit overrun: 0\n"
        "bytes: 960\n"
        "oldest event ts:     3.000000\n"
        "now ts:     4.123457\n"
        "dropped events: 0\n"
        "read events: 2\n")
    rb2 = RingBuffer(1, KB, overwrite=False)
    fill(rb2, 0, CAP + 1, start=12345_678_901_499)
    assert rb2.stats(0, now_ts=99999_999_999_500).splitlines() == [
        "entries: 32", "overrun: 0", "commit overrun: 0", "bytes: 1024",
        "oldest event ts: 12345.678901", "now ts: 100000.000000", "dropped events: 1", "read events: 0"]
    assert rb.stats(1).splitlines()[3:6] == ["bytes: 0", "oldest event ts:     0.000000", "now ts:     0.000000"]


# --------------------------------------------------------------------------------------------- events module

def test_merge_timestamp_order_ties_lower_cpu_first():
    rb = RingBuffer(3, KB)
    for cpu, tss in ((0, [5, 10, 10, 30]), (1, [1, 10, 40]), (2, [10, 11])):
        for t in tss:
            rb._write(cpu, ts=t)
    out = [(e.cpu, e.ts) for e in merge([rb.snapshot(c) for c in range(3)])]
    assert out == [(1, 1), (0, 5), (0, 10), (0, 10), (1, 10), (2, 10), (2, 11), (0, 30), (1, 40)]


def test_merge_across_wrapped_pieces_and_mixed_sources():
    rb = RingBuffer(2, KB)
    fill(rb, 0, CAP + 5)                                    # wraps: two pieces
    rb._write(1, ts=6)
    rb._write(1, ts=CAP + 100)
    snaps = [rb.snapshot(0), rb.snapshot(1)]
    assert len(snaps[0]) == 2
    got = [(e.cpu, e.ts) for e in merge(snaps)]
    assert got[:3] == [(0, 5), (0, 6), (1, 6)] and got[-1] == (1, CAP + 100) and len(got) == CAP + 2
    # a cdata array, bytes and None are sources too
    arr = as_events(rb.snapshot(1)[0])
    assert [e.ts for e in merge([None, arr, bytes(rb.snapshot(1)[0])])] == [6, 6, CAP + 100, CAP + 100]


def test_as_events_rejects_partial_records():
    with pytest.raises(ValueError):
        as_events(b"\0" * 33)
    assert len(as_events(b"")) == 0


def test_to_dict_and_event():
    rb = RingBuffer(1, KB)
    sym = {0x1000: ("foo", 0, 0x40), 0x2000: ("bar", 0, 0x10)}
    rb._write(0, ts=10, ip=0x1004, parent_ip=0x2008, pid=42, type=TRACE_FN)
    rb._write(0, ts=20, ip=0x1000, depth=3, pid=42, type=TRACE_GRAPH_ENT)
    rb._write(0, ts=50, calltime=20, ip=0x1000, depth=3, pid=42, parent_ip=0, type=TRACE_GRAPH_RET)

    def symbolize(addr):
        base = addr & ~0xFFF
        return (sym[base][0], addr - base) if base in sym else None

    fn, ent, ret = [to_dict(e, symbolize) for e in iter_events(rb.snapshot(0))]
    assert fn == {"type": "function", "cpu": 0, "pid": 42, "ts": 10, "ip": 0x1004, "func": "foo",
                  "parent_ip": 0x2008, "parent": "bar"}
    assert ent == {"type": "funcgraph_entry", "cpu": 0, "pid": 42, "ts": 20, "ip": 0x1000, "func": "foo",
                   "depth": 3}
    assert ret["duration"] == 30 and ret["rettime"] == 50 and ret["overrun"] == 0 and ret["type"] == "funcgraph_exit"
    assert to_dict(next(iter_events(rb.snapshot(0))))["func"] == "0x1004"     # no symbolizer: hex
    with pytest.raises(OverflowError):
        rb._write(0, ts=60, ip=1 << 32)
    assert rb.entries(0) == 3                               # nothing reserved for a bad value
    e = Event.from_cdata(list(iter_events(rb.snapshot(0)))[2])
    rb.reset()
    rb._write(0, ts=1)
    assert (e.ts, e.duration, e.type_name, e.depth) == (50, 30, "funcgraph_exit", 3)   # a copy: unaffected
