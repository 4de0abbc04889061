"""Tracing costs (pytest-benchmark): host time per traced event against the untraced run and against a Python
hook per call under Unicorn; and the cost of enabling/disabling many sites with each update method."""
import io
import os
import time

import pytest

import cpu
import ftrace
from reference.unicorn_run import run_unicorn

GUEST = os.path.join(os.path.dirname(ftrace.__file__), "guest", "bin")
WORKLOAD = os.path.join(GUEST, "workload-O2.elf")
FIB_PG = os.path.join(os.path.dirname(cpu.__file__), "guest", "bin", "fib-O2-pg.elf")


def traced(tracer, iters=100):
    m = cpu.Machine(cores=1)
    m.load_elf(WORKLOAD, argv=["w", str(iters)], stdout=io.BytesIO(), stderr=io.BytesIO())
    ft = ftrace.Ftrace(m, buffer_size_kb=1408)
    ft.current_tracer = tracer
    t = time.perf_counter()
    m.run()
    dt = time.perf_counter() - t
    return dt, m.instructions, ft.rb.entries(0) + ft.rb.overrun(0)


@pytest.mark.parametrize("tracer", ["function", "function_graph"])
def test_host_time_per_event(benchmark, tracer):
    base = min(traced("nop") for _ in range(3))
    result = benchmark.pedantic(traced, args=(tracer,), rounds=3, iterations=1)
    best = min([result] + [traced(tracer) for _ in range(2)])
    per_event = (best[0] - base[0]) / best[2]
    benchmark.extra_info.update(events=best[2], us_per_event=round(per_event * 1e6, 3),
                                host_slowdown=round(best[0] / base[0], 2),
                                instruction_slowdown=round(best[1] / base[1], 2))
    print(f"\n{tracer}: {best[2]} events, {per_event * 1e6:.3f} us/event over the untraced run, "
          f"host x{best[0] / base[0]:.2f}, simulated instructions x{best[1] / base[1]:.2f}")


def test_unicorn_python_hook_per_call(benchmark):
    """The alternative: a Python hook on __gnu_mcount_nc under Unicorn that reads LR, SP and [SP]."""
    from unicorn.arm_const import UC_ARM_REG_LR, UC_ARM_REG_SP
    m = cpu.Machine()
    m.load_elf(FIB_PG, stdout=io.BytesIO())
    target = m.image.symbols["__gnu_mcount_nc"].addr
    calls = []

    def hook(uc, addr, size, _):
        sp = uc.reg_read(UC_ARM_REG_SP)
        calls.append((uc.reg_read(UC_ARM_REG_LR), int.from_bytes(uc.mem_read(sp, 4), "little")))

    def run(with_hook):
        calls.clear()
        t = time.perf_counter()
        run_unicorn(FIB_PG, argv=["fib", "22"], code_hook=(hook, target, target) if with_hook else None)
        return time.perf_counter() - t
    base = min(run(False) for _ in range(3))
    hooked = benchmark.pedantic(run, args=(True,), rounds=3, iterations=1)
    per_call = (hooked - base) / len(calls)
    benchmark.extra_info.update(calls=len(calls), us_per_call=round(per_call * 1e6, 2))
    print(f"\nUnicorn + Python hook: {len(calls)} calls, {per_call * 1e6:.2f} us/call")


def patch_cost(program, cores, method):
    m = cpu.Machine(cores=cores, schedule="timed", quantum=100, seed=1)
    m.load_elf(os.path.join(GUEST, program), argv=["b", "0"], stdout=io.BytesIO(), stderr=io.BytesIO())
    ft = ftrace.Ftrace(m, method=method)
    ft.current_tracer = "function"
    ft.run_for(50_000 * cores)
    t = time.perf_counter()
    ft.ftrace_disable()
    off = dict(ft.last_update, host_seconds=time.perf_counter() - t)
    t = time.perf_counter()
    ft.ftrace_enable()
    on = dict(ft.last_update, host_seconds=time.perf_counter() - t)
    return on, off


@pytest.mark.parametrize("program", ["bigfuncs-1k.elf", "bigfuncs-10k.elf"])
@pytest.mark.parametrize("method", ["breakpoint", "stop_machine"])
def test_enable_disable_cost(benchmark, program, method):
    on, off = benchmark.pedantic(patch_cost, args=(program, 4, method), rounds=1, iterations=1)
    for name, u in (("enable", on), ("disable", off)):
        benchmark.extra_info[name] = {k: u[k] for k in ("sites", "writes", "syncs", "ipis", "cycles",
                                                        "others_lost_cycles", "bkpt_hits", "host_seconds")}
        print(f"\n{program} {method} {name}: {benchmark.extra_info[name]}")
