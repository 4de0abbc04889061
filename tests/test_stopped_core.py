"""A core that is stopped while the code changes runs the new code once started again, under every method.

restart-O2.elf stops core 1 between rounds.  Round 0 runs with ftrace_enabled=0 (every site the nop), so core 1's
icache holds the nop; while it is stopped the sites are enabled, and no sync of the update reaches it (a sync
IPIs the running cores, as on_each_cpu does online CPUs).  A core comes up with its icache invalidated
(Machine.start_cpu, as arch/arm/mm/proc-v7.S __v7_setup), so round 1 fetches the calls: every one of core 1's
calls is traced, and no core fetches stale code after the update.
"""
import io
import os

import pytest

import cpu
import ftrace

PROG = os.path.join(os.path.dirname(ftrace.__file__), "guest", "bin", "restart-O2.elf")
CALLS = 50


@pytest.mark.parametrize("method", list(ftrace.METHODS))
@pytest.mark.parametrize("seed", [1, 2])
def test_core_stopped_across_an_update_runs_the_new_code(method, seed):
    m = cpu.Machine(cores=2, seed=seed, schedule="random", quantum=30)
    out = io.BytesIO()
    m.load_elf(PROG, argv=["restart", "2", str(CALLS)], stdout=out, stderr=out)
    go = m.image.symbols["restart_go"].addr
    calls = m.image.symbols["restart_calls"].addr
    ft = ftrace.Ftrace(m, method=method)
    ft.ftrace_disable()
    ft.set_ftrace_filter("branch leaf")
    ft.current_tracer = "function"
    # round 0, untraced: core 1 runs the nops, returns and stops
    assert m.run_until(lambda: m.read32(calls) == 3 * CALLS and m.cores[1].state == cpu.CoreState.CORE_STOPPED)
    assert ft.events() == []
    ft.ftrace_enable()                           # the update runs while core 1 is stopped
    m.write32(go, 1)
    assert m.run(max_instructions=10**7) == 0
    assert m.read32(calls + 4) == 3 * CALLS
    on_core1 = [e for e in ft.events() if e["cpu"] == 1]
    assert len(on_core1) == 3 * CALLS, out.getvalue()
    assert {e["func"] for e in on_core1} == {"branch", "leaf"}
    st = m.stats()
    assert sum(s["late_stale_fetches"] for s in st) == 0
    assert sum(s["torn_fetches"] for s in st) == 0
