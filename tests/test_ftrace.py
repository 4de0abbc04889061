"""Dynamic ftrace on the simulated SMP: boot conversion, live patching, tracers, filters, failure semantics."""
import io
import os
import re

import pytest

import cpu
import ftrace
from ftrace.kernel import insn
from ftrace.kernel.ops import FtraceError
from unicorn import UC_HOOK_CODE

GUEST = os.path.join(os.path.dirname(ftrace.__file__), "guest", "bin")
WORKLOAD = os.path.join(GUEST, "workload-O2.elf")
ITERS = 3


def boot(cores=4, seed=1, iters=ITERS, method="breakpoint", quantum=30, evict_rate=0, **kw):
    m = cpu.Machine(cores=cores, seed=seed, schedule="random", quantum=quantum, evict_rate=evict_rate)
    out = io.BytesIO()
    m.load_elf(WORKLOAD, argv=["workload", str(iters)], stdout=out, stderr=out)
    return m, ftrace.Ftrace(m, method=method, **kw), out


def untraced(cores, iters=ITERS):
    m = cpu.Machine(cores=cores)
    out = io.BytesIO()
    m.load_elf(WORKLOAD, argv=["workload", str(iters)], stdout=out, stderr=out)
    assert m.run() == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def reference():
    return {n: untraced(n) for n in (1, 4)}


def violations(m):
    return sum(s["torn_fetches"] + s["late_stale_fetches"] for s in m.stats())


def toggling_run(m, ft, every=15000):
    """Run to the end, switching ftrace_enabled off and on every `every` instructions while the cores run."""
    k = 0
    while m.exit_code is None:
        ft.run_for(every)
        if m.exit_code is not None:
            break
        (ft.ftrace_disable if k % 2 == 0 else ft.ftrace_enable)()
        k += 1
    return k


# ---- boot ----

def test_boot_converts_every_site_to_the_nop():
    m, ft, _ = boot()
    assert ft.dmesg[0] == f"ftrace: allocating {len(ft.records)} entries in 1 pages"
    for rec in ft.records:
        assert m.read(rec.ip, 4) == bytes.fromhex("5df804eb")       # ldr.w lr, [sp], #4
        assert m.read16(rec.ip - 2) == insn.PUSH_LR
    names = ft.available_filter_functions()
    assert {"fib", "sort_small", "tail_target", "pop_pc"} <= set(names)
    assert "ftrace_caller" not in names and "__gnu_mcount_nc" not in names


def test_boot_refuses_a_site_that_is_not_bl_mcount():
    m = cpu.Machine(cores=1)
    m.load_elf(WORKLOAD, argv=["workload", "1"], stdout=io.BytesIO())
    from ftrace.kernel.recordmcount import record_mcount
    victim = record_mcount(WORKLOAD).sites[3]
    m.write(victim.ip, bytes.fromhex("00bf00bf"))                    # two nops: not what the compiler left
    ft = ftrace.Ftrace(m)
    assert ft.ftrace_is_dead()
    assert any(line.startswith("ftrace failed to modify [<") and "actual: 00:bf:00:bf" in line for line in ft.dmesg)
    with pytest.raises(FtraceError, match="ENODEV"):
        ft.current_tracer = "function"


# ---- tracing never changes what the guest computes ----

@pytest.mark.parametrize("method", ["breakpoint", "stop_machine"])
@pytest.mark.parametrize("tracer", ["function", "function_graph"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_live_toggling_keeps_results_and_fetches_whole(method, tracer, seed, reference):
    m, ft, out = boot(seed=seed, method=method, evict_rate=3000)
    ft.current_tracer = tracer
    toggles = toggling_run(m, ft)
    assert toggles >= 4
    assert m.exit_code == 0 and out.getvalue() == reference[4]
    assert violations(m) == 0
    if method == "breakpoint":
        assert ft.bkpt_handler.hits > 0                              # the cores really ran into patched sites
    else:
        assert sum(s["stale_fetches"] for s in m.stats()) == 0
    assert ft.graph.pending() == 0


def test_emulating_the_new_call_also_works(reference):
    m, ft, out = boot(seed=4, emulate="call", evict_rate=3000)
    ft.current_tracer = "function"
    toggling_run(m, ft)
    assert out.getvalue() == reference[4] and violations(m) == 0


# ---- counts against an independent observer ----

def unicorn_site_counts(records):
    """Run the workload on one Unicorn core with the sites as compiled, counting executions of each BL."""
    from reference.unicorn_run import run_unicorn
    counts = {}
    ips = {r.ip for r in records}

    def hook(uc, addr, size, _):
        if addr in ips:
            counts[addr] = counts.get(addr, 0) + 1
    res = run_unicorn(WORKLOAD, argv=["workload", str(ITERS)], code_hook=(hook, min(ips), max(ips)),
                      smp_block=True)
    assert res.exit_code == 0
    return counts


def test_function_events_equal_unicorn_call_site_counts(reference):
    m, ft, out = boot(cores=1)
    ft.current_tracer = "function"
    assert m.run() == 0 and out.getvalue() == reference[1]
    ours = {}
    for e in ft.events():
        ours[e["ip"]] = ours.get(e["ip"], 0) + 1
    assert ft.rb.overrun(0) == 0
    assert ours == unicorn_site_counts(list(ft.records))


def test_per_cpu_counts_on_four_cores(reference):
    m, ft, out = boot(cores=4)
    ft.current_tracer = "function"
    assert m.run() == 0 and out.getvalue() == reference[4]
    per_cpu = {}
    fib = [r.ip for r in ft.records if r.func == "fib"][0]
    for e in ft.events():
        if e["ip"] == fib:
            per_cpu[e["cpu"]] = per_cpu.get(e["cpu"], 0) + 1
    assert len(set(per_cpu.values())) == 1 and len(per_cpu) == 4


# ---- filters ----

def funcs_in(ft):
    return {e["func"] for e in ft.events()}


def test_set_ftrace_filter_globs_and_negation():
    m, ft, _ = boot()
    ft.set_ftrace_filter("*tail*")
    order = ft.available_filter_functions()
    assert ft.ftrace_filter.split() == sorted(["tail_caller", "tail_target"], key=order.index)
    ft.set_ftrace_filter("fib", append=True)
    ft.set_ftrace_filter("!tail_caller", append=True)
    assert ft.ftrace_filter.split() == sorted(["fib", "tail_target"], key=order.index)
    ft.current_tracer = "function"
    assert ft.enabled_functions() == [f"{n} (1)" for n in ft.ftrace_filter.split()]
    m.run()
    assert funcs_in(ft) == {"fib", "tail_target"}
    with pytest.raises(FtraceError, match="EINVAL"):
        ft.set_ftrace_filter("no_such_function")
    ft.set_ftrace_filter("")
    assert ft.ftrace_filter == "#### all functions enabled ####\n"


def test_notrace_wins_over_filter():
    m, ft, _ = boot()
    ft.set_ftrace_filter("fib pop_pc pop_pc_inner")
    ft.set_ftrace_notrace("pop_pc*")
    ft.current_tracer = "function"
    m.run()
    assert funcs_in(ft) == {"fib"}


def test_graph_function_notrace_depth_and_thresh():
    m, ft, _ = boot()
    ft.set_graph_function("big_frame")
    ft.current_tracer = "function_graph"
    m.run()
    assert funcs_in(ft) == {"big_frame", "fill_buf"}

    m, ft, _ = boot()
    ft.set_graph_notrace("do_round")
    ft.current_tracer = "function_graph"
    m.run()
    assert funcs_in(ft) == {"main", "worker"}

    m, ft, _ = boot()
    ft.max_graph_depth = 2
    ft.current_tracer = "function_graph"
    m.run()
    assert funcs_in(ft) == {"main", "worker", "do_round"}
    assert max(e["depth"] for e in ft.events()) == 1

    m, ft, _ = boot()
    ft.tracing_thresh = 5
    ft.current_tracer = "function_graph"
    m.run()
    evs = ft.events()
    assert evs and all(e["type"] == "funcgraph_exit" for e in evs)
    m, full, _ = boot()                  # the same run (same seed) without a threshold
    full.current_tracer = "function_graph"
    m.run()
    long_returns = [e for e in full.events() if e["type"] == "funcgraph_exit" and e["duration"] >= 5000]
    assert evs == long_returns and len(long_returns) < len(full.events()) // 4


def test_graph_durations_nest_and_returns_balance():
    m, ft, _ = boot(cores=2)
    ft.current_tracer = "function_graph"
    assert m.run() == 0
    stacks = {}
    for e in ft.events():
        st = stacks.setdefault(e["cpu"], [])
        if e["type"] == "funcgraph_entry":
            st.append(e)
        else:
            entry = st.pop()
            assert entry["func"] == e["func"] and entry["depth"] == e["depth"]
            assert entry["ts"] <= e["calltime"] < e["rettime"]
    assert all(not s for s in stacks.values())
    assert ft.graph.pending() == 0 and ft.graph.skipped_unknown == 0


# ---- ftrace_enabled, several ops ----

def test_ftrace_enabled_switch_keeps_registrations():
    m, ft, _ = boot()
    ft.set_ftrace_filter("fib hash_str")
    ft.current_tracer = "function"
    states = lambda: {ft.site_state(r) for r in ft.records if r.func in ("fib", "hash_str")}
    assert states() == {"call"}
    ft.ftrace_disable()
    assert {ft.site_state(r) for r in ft.records} == {"nop"}
    assert ft.enabled_functions() == ["fib (1)", "hash_str (1)"]
    ft.ftrace_enable()
    assert states() == {"call"}


def test_several_ops_go_through_the_list_function():
    m, ft, _ = boot(cores=2)
    seen = []
    ft.current_tracer = "function"
    ops = ft.register_function(lambda ip, parent, cpu: seen.append((ip, cpu)), filter="hash_str")
    assert ft.ftrace_trace_function == ft.sym["ftrace_tramp_0"]        # ftrace_ops_list_func
    ft.run_for(200000)
    assert seen and {ft.symbolize(ip)[0] for ip, _ in seen} == {"hash_str"}
    ft.unregister_function(ops)
    assert ft.ftrace_trace_function != ft.sym["ftrace_tramp_0"]        # back to the tracer, called directly
    n = len(seen)
    m.run()
    assert len(seen) == n


def test_cffi_callback_is_called_at_c_level():
    cffi = pytest.importorskip("cffi")
    ffi = cffi.FFI()
    hits = []

    @ffi.callback("void(uint32_t, uint32_t, int, void *)")
    def cb(ip, parent, cpu_, data):
        hits.append(ip)
    m, ft, _ = boot(cores=1)
    ft.register_function(cb, filter="fib")
    m.run()
    fib = [r.ip for r in ft.records if r.func == "fib"][0]
    assert hits and set(hits) == {fib}


# ---- ring buffer through the tracer ----

def test_overrun_and_header_counts():
    m, ft, _ = boot(cores=1, iters=6)
    ft.buffer_size_kb = 4
    ft.current_tracer = "function"
    m.run()
    entries, overrun = ft.rb.entries(0), ft.rb.overrun(0)
    assert overrun > 0 and entries == 4 * 1024 // 32
    assert f"# entries-in-buffer/entries-written: {entries}/{entries + overrun}   #P:1" in ft.trace


def test_trace_pipe_consumes_and_reports_lost_events():
    m, ft, _ = boot(cores=1)
    ft.buffer_size_kb = 4
    ft.current_tracer = "function"
    ft.run_for(300000)
    text = ft.trace_pipe()
    assert text.startswith("CPU:0 [LOST ") and "EVENTS]" in text.splitlines()[0]
    assert ft.rb.entries(0) == 0
    assert ft.trace_pipe() == ""


def test_function_trace_lines_have_the_kernel_layout():
    m, ft, _ = boot(cores=2)
    ft.set_ftrace_filter("fib")
    ft.current_tracer = "function"
    m.run()
    lines = ft.trace.splitlines()
    assert lines[0] == "# tracer: function"
    body = [ln for ln in lines if not ln.startswith("#")]
    pat = re.compile(r"^ {0,16}\S+-\d+ +\[\d{3}\] \.{4} +\d+\.\d{6}: fib <-(fib|do_round)$")
    assert body and all(pat.match(ln) for ln in body), body[:3]


# ---- failures ----

def test_ftrace_bug_on_a_tampered_site_kills_ftrace():
    m, ft, _ = boot()
    rec = [r for r in ft.records if r.func == "hash_str"][0]
    m.write(rec.ip, bytes.fromhex("00bf00bf"))
    ft.current_tracer = "function"
    assert ft.ftrace_is_dead()
    assert any("ftrace failed to modify" in line and "hash_str" in line for line in ft.dmesg)
    assert any(line.startswith("Failed on adding breakpoints") for line in ft.dmesg)
    assert ft.trace.splitlines()[1:4] == ["#", "# WARNING: FUNCTION TRACING IS CORRUPTED",
                                          "#          MAY BE MISSING FUNCTION EVENTS"]
    for use in (lambda: ft.set_ftrace_filter("fib"), ft.ftrace_disable,
                lambda: setattr(ft, "current_tracer", "function_graph")):
        with pytest.raises(FtraceError, match="ENODEV"):
            use()
    assert {ft.site_state(r) for r in ft.records if r is not rec} <= {"nop", "call"}   # breakpoints removed


def test_bad_arguments_are_refused_clearly():
    m, ft, _ = boot()
    with pytest.raises(FtraceError, match="no tracer 'blk'"):
        ft.current_tracer = "blk"
    with pytest.raises(ValueError, match="method"):
        ftrace.Ftrace(m, method="magic")
    with pytest.raises(FtraceError, match="EINVAL"):
        ft.max_graph_depth = -1
    plain = cpu.Machine()
    plain.load_elf(os.path.join(os.path.dirname(cpu.__file__), "guest", "bin", "fib-O2.elf"), stdout=io.BytesIO())
    with pytest.raises(FtraceError, match="not linked with ftrace's entry code"):
        ftrace.Ftrace(plain)


def test_compiled_cffi_callback_fast_path(tmp_path):
    """A real C function (cffi API mode, compiled here) as an ftrace_ops func: called at C level per event."""
    cffi = pytest.importorskip("cffi")
    import importlib.util
    ffi = cffi.FFI()
    ffi.cdef("void count_calls(uint32_t ip, uint32_t parent_ip, int cpu, void *data);")
    ffi.set_source("_ftrace_cb_test", """
        #include <stdint.h>
        void count_calls(uint32_t ip, uint32_t parent_ip, int cpu, void *data)
        { ((uint64_t *)data)[cpu]++; (void)ip; (void)parent_ip; }""")
    so = ffi.compile(tmpdir=str(tmp_path))
    spec = importlib.util.spec_from_file_location("_ftrace_cb_test", so)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    counts = mod.ffi.new("uint64_t[4]")
    m, ft, _ = boot(cores=4)
    fn = mod.ffi.addressof(mod.lib, "count_calls")           # a C function pointer (cdata)
    ft.register_function(fn, filter="fib", data=int(mod.ffi.cast("uintptr_t", counts)))
    m.run()
    fib = [r.ip for r in ft.records if r.func == "fib"][0]
    m2, ft2, _ = boot(cores=4)              # the same run, counted by the built-in function tracer
    ft2.set_ftrace_filter("fib")
    ft2.current_tracer = "function"
    m2.run()
    per_cpu = [sum(1 for e in ft2.events() if e["cpu"] == c and e["ip"] == fib) for c in range(4)]
    assert list(counts) == per_cpu and sum(per_cpu) > 0
