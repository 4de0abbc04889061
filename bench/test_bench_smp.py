"""Aggregate simulated MIPS with 1, 4 and 16 cores (the SMP counter program), random interleaving."""
import io
import os
import time

import pytest

import cpu

SMP_BIN = os.path.join(os.path.dirname(cpu.__file__), "guest", "smp", "bin")


BEST = {}


def run(cores):
    t0 = time.perf_counter()
    m = cpu.Machine(cores=cores, schedule="random", quantum=200, seed=1)
    m.load_elf(os.path.join(SMP_BIN, "counter.elf"), argv=["counter", "20000", str(cores)],
               stdout=io.BytesIO(), stderr=io.BytesIO(), stdin=io.BytesIO())
    assert m.run() == 0
    BEST[cores] = min(BEST.get(cores, 1e9), time.perf_counter() - t0)
    return m.instructions


@pytest.mark.parametrize("cores", [1, 4, 16])
def test_aggregate_mips(benchmark, cores):
    n = benchmark.pedantic(run, args=(cores,), rounds=3, iterations=1)
    mips = n / BEST[cores] / 1e6
    benchmark.extra_info.update(instructions=n, mips=round(mips, 1))
    print(f"\n{cores} cores, random schedule, quantum 200: {n} instructions, {mips:.1f} aggregate MIPS")
