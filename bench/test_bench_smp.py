"""Aggregate simulated MIPS with 1, 4 and 16 cores (the SMP counter program), random interleaving."""
import io
import os

import pytest

import cpu

SMP_BIN = os.path.join(os.path.dirname(cpu.__file__), "guest", "smp", "bin")


def load(cores):
    m = cpu.Machine(cores=cores, schedule="random", quantum=200, seed=1)
    m.load_elf(os.path.join(SMP_BIN, "counter.elf"), argv=["counter", "20000", str(cores)],
               stdout=io.BytesIO(), stderr=io.BytesIO(), stdin=io.BytesIO())
    return (m,)


def run(m):
    assert m.run() == 0
    return m.instructions


@pytest.mark.parametrize("cores", [1, 4, 16])
def test_aggregate_mips(bench, benchmark, cores):
    benchmark.group = "smp"
    n = bench(run, lambda: load(cores), 3, "smp", cores)
    bench.note("smp", cores, instructions=n)
