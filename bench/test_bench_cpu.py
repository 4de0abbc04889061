"""Interpreter speed against Unicorn in the same session (pytest-benchmark; run: python -m pytest bench).

Each case runs one guest program to completion on our machine and on Unicorn's Cortex-M3 and records both
rates in extra_info, with the ratio; no timing is asserted.
"""
import io
import os
import platform
import time

import pytest

import cpu
from reference.unicorn_run import run_unicorn

BIN = os.path.join(os.path.dirname(cpu.__file__), "guest", "bin")
CASES = {
    "loop-O2": ["loop", "2000000"],          # tight arithmetic loop
    "fib-O2-pg": ["fib", "25"],              # call-heavy, the shape of traced kernel code
    "fib-O2": ["fib", "25"],
    "sort-O2": ["sort"],
    "interp-O2": ["interp"],
    "strfmt-O2": ["strfmt"],
}


RUN_SECONDS = {}
TOTAL_SECONDS = {}


def run_ours(path, argv, cores=1, icache=True):
    """The whole program, set-up included (as run_unicorn is timed), into TOTAL_SECONDS; the run alone into
    RUN_SECONDS (our own clocks, so the numbers exist under --benchmark-disable too)."""
    t0 = time.perf_counter()
    m = cpu.Machine(cores=cores, icache=icache)
    m.load_elf(path, argv=argv, stdout=io.BytesIO(), stderr=io.BytesIO(), stdin=io.BytesIO())
    t = time.perf_counter()
    m.run()
    key = (path, icache)
    RUN_SECONDS[key] = min(RUN_SECONDS.get(key, 1e9), time.perf_counter() - t)
    TOTAL_SECONDS[key] = min(TOTAL_SECONDS.get(key, 1e9), time.perf_counter() - t0)
    return m.instructions


def machine_info():
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}"


@pytest.mark.parametrize("name", list(CASES))
def test_mips_vs_unicorn(benchmark, name):
    path = os.path.join(BIN, name + ".elf")
    argv = CASES[name]
    n = benchmark.pedantic(run_ours, args=(path, argv), rounds=5, iterations=1)
    ours = n / TOTAL_SECONDS[(path, True)] / 1e6
    best = None
    for _ in range(5):
        t = time.perf_counter()
        run_unicorn(path, argv=argv)
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    uc = n / best / 1e6
    run_only = n / RUN_SECONDS[(path, True)] / 1e6
    benchmark.extra_info.update(instructions=n, ours_mips=round(ours, 1), ours_run_mips=round(run_only, 1),
                                unicorn_mips=round(uc, 1), ratio=round(ours / uc, 2), machine=machine_info())
    print(f"\n{name}: {n} instructions, ours {ours:.1f} MIPS ({run_only:.1f} MIPS without loading), "
          f"Unicorn {uc:.1f} MIPS, ratio {ours / uc:.2f}")


@pytest.mark.parametrize("icache", [True, False], ids=["icache-on", "icache-off"])
def test_icache_cost(benchmark, icache):
    path = os.path.join(BIN, "fib-O2-pg.elf")
    n = benchmark.pedantic(run_ours, args=(path, ["fib", "25"]), kwargs={"icache": icache}, rounds=5, iterations=1)
    mips = n / RUN_SECONDS[(path, icache)] / 1e6
    benchmark.extra_info.update(instructions=n, mips=round(mips, 1), machine=machine_info())
    print(f"\nfib-O2-pg icache {'on' if icache else 'off'}: {mips:.1f} MIPS")
