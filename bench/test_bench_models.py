"""What each relaxation costs: one explorer run (breakpoint method, hot.elf on 4 cores, the default explorer
configuration) under every machine model, against the ideal machine in the same session."""
import pytest

from cpu.model import MODELS
from ftrace.explore import run_one

SEEDS = range(3)


def run(model):
    return sum(run_one("breakpoint", seed, model=model).instructions for seed in SEEDS)


@pytest.mark.parametrize("model", list(MODELS))
def test_explorer_run_per_model(bench, benchmark, model):
    benchmark.group = "models"
    n = bench(run, lambda: (model,), 3, "models", model)
    bench.note("models", model, instructions=n, runs=len(SEEDS))
