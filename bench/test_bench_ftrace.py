"""Tracing costs (pytest-benchmark): host time per traced event against the untraced run and against a Python
hook per call under Unicorn; and the cost of enabling/disabling many sites with each update method."""
import io
import os

import pytest

import cpu
import ftrace
from reference.unicorn_run import prepare_unicorn

GUEST = os.path.join(os.path.dirname(ftrace.__file__), "guest", "bin")
WORKLOAD = os.path.join(GUEST, "workload-O2.elf")
FIB_PG = os.path.join(os.path.dirname(cpu.__file__), "guest", "bin", "fib-O2-pg.elf")


def load_traced(tracer, iters=100):
    m = cpu.Machine(cores=1)
    m.load_elf(WORKLOAD, argv=["w", str(iters)], stdout=io.BytesIO(), stderr=io.BytesIO())
    ft = ftrace.Ftrace(m, buffer_size_kb=1408)
    ft.current_tracer = tracer
    return m, ft


def run_traced(m, ft):
    assert m.run() == 0
    return m.instructions, ft.rb.entries(0) + ft.rb.overrun(0)


@pytest.mark.parametrize("tracer", ["nop", "function", "function_graph"])
def test_host_time_per_event(bench, benchmark, tracer):
    """The summary's us/event: (traced run - untraced run) / events recorded."""
    benchmark.group = "tracing"
    n, events = bench(run_traced, lambda: load_traced(tracer), 3, "tracing", tracer)
    assert (events > 10_000) == (tracer != "nop")
    bench.note("tracing", tracer, instructions=n, events=events)


@pytest.mark.parametrize("hook", [False, True], ids=["no-hook", "mcount-hook"])
def test_unicorn_python_hook_per_call(bench, benchmark, hook):
    """The alternative: a Python hook on __gnu_mcount_nc under Unicorn that reads LR, SP and [SP]."""
    from unicorn.arm_const import UC_ARM_REG_LR, UC_ARM_REG_SP
    benchmark.group = "unicorn-mcount-hook"
    m = cpu.Machine()
    m.load_elf(FIB_PG, argv=["fib", "22"], stdout=io.BytesIO())
    target = m.image.symbols["__gnu_mcount_nc"].addr
    exit_code = m.run()
    calls = []

    def on_mcount(uc, addr, size, _):
        sp = uc.reg_read(UC_ARM_REG_SP)
        calls.append((uc.reg_read(UC_ARM_REG_LR), int.from_bytes(uc.mem_read(sp, 4), "little")))

    def load():
        calls.clear()
        return (prepare_unicorn(FIB_PG, argv=["fib", "22"], code_hook=(on_mcount, target, target) if hook else None),)

    assert bench(lambda start: start().exit_code, load, 3, "unicorn_hook", hook) == exit_code
    assert (len(calls) > 1000) == hook
    bench.note("unicorn_hook", hook, calls=len(calls))


def load_patching(program, cores, method):
    m = cpu.Machine(cores=cores, schedule="timed", quantum=100, seed=1)
    m.load_elf(os.path.join(GUEST, program), argv=["b", "0"], stdout=io.BytesIO(), stderr=io.BytesIO())
    ft = ftrace.Ftrace(m, method=method)
    ft.current_tracer = "function"
    ft.run_for(50_000 * cores)
    return (ft,)


def disable_enable(ft):
    ft.ftrace_disable()
    off = dict(ft.last_update)
    ft.ftrace_enable()
    return dict(ft.last_update), off


@pytest.mark.parametrize("method", ["breakpoint", "stop_machine"])
@pytest.mark.parametrize("program", ["bigfuncs-1k.elf", "bigfuncs-10k.elf"])
def test_enable_disable_cost(bench, benchmark, program, method):
    """One disable then one enable of every site on 4 cores, timed together; their figures in extra_info."""
    benchmark.group = "patch " + program
    on, off = bench(disable_enable, lambda: load_patching(program, 4, method), 1, "patch", (program, method))
    keys = ("sites", "writes", "syncs", "ipis", "cycles", "others_lost_cycles", "bkpt_hits")
    assert on["sites"] == off["sites"] > 1000 and not on.get("result") and not off.get("result")
    bench.note("patch", (program, method), enable={k: on[k] for k in keys}, disable={k: off[k] for k in keys})
