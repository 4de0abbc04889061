"""Interpreter speed against Unicorn in the same session (pytest-benchmark; run: python -m pytest bench).

One group per guest program, our interpreter and Unicorn's Cortex-M3 side by side; each round times the run
alone, after a fresh machine is set up and the ELF loaded (the summary adds the set-up for whole-program
figures).  Both engines must print the same output; MIPS are our instruction count over each one's time.
"""
import functools
import io
import os

import pytest

import cpu
from reference.unicorn_run import prepare_unicorn

BIN = os.path.join(os.path.dirname(cpu.__file__), "guest", "bin")
CASES = {
    "loop-O2": ["loop", "2000000"],          # tight arithmetic loop
    "fib-O2-pg": ["fib", "25"],              # call-heavy, the shape of traced kernel code
    "fib-O2": ["fib", "25"],
    "sort-O2": ["sort"],
    "interp-O2": ["interp"],
    "strfmt-O2": ["strfmt"],
}


def load_ours(program, icache=True):
    m = cpu.Machine(cores=1, icache=icache)
    out = io.BytesIO()
    m.load_elf(os.path.join(BIN, program + ".elf"), argv=CASES[program], stdout=out, stderr=io.BytesIO(),
               stdin=io.BytesIO())
    return m, out


def run_ours(m, out):
    return m.run(), out.getvalue(), m.instructions


def load_unicorn(program):
    return (prepare_unicorn(os.path.join(BIN, program + ".elf"), argv=CASES[program]),)


def run_unicorn(start):
    r = start()
    return r.exit_code, r.stdout, None


@functools.lru_cache(maxsize=None)
def reference(program):
    """(exit code, output, instructions) of an untimed run of ours."""
    return run_ours(*load_ours(program))


@pytest.mark.parametrize("engine", ["ours", "unicorn"])
@pytest.mark.parametrize("program", list(CASES))
def test_mips(bench, benchmark, program, engine):
    benchmark.group = program
    load, run = (load_ours, run_ours) if engine == "ours" else (load_unicorn, run_unicorn)
    code, out, _ = bench(run, lambda: load(program), 5, "mips", (program, engine))
    want_code, want_out, n = reference(program)
    assert (code, out) == (want_code, want_out)
    bench.note("mips", (program, engine), instructions=n)


@pytest.mark.parametrize("icache", [True, False], ids=["icache-on", "icache-off"])
def test_icache_cost(bench, benchmark, icache):
    benchmark.group = "icache"
    _, _, n = bench(run_ours, lambda: load_ours("fib-O2-pg", icache), 5, "icache", "on" if icache else "off")
    assert n == reference("fib-O2-pg")[2]
    bench.note("icache", "on" if icache else "off", instructions=n)
