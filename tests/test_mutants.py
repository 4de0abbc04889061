"""The mutation suite: every deliberate bug is caught by the explorer, the control by nothing."""
import pytest

from ftrace.cli import main
from ftrace.explore import run_one
from ftrace.explore.mutants import MUTANTS, measure, run_mutant, table

BUGS = [n for n in MUTANTS if n != "control"]

# Least runs of 20 (seeds 0..19) that must catch each mutant: measured 20/20 for all but
# branch-over-push-before-bl (6/20 at seeds 0..19, 39/100 at 0..99), with margin.
MIN_CAUGHT = dict({n: 16 for n in BUGS}, **{"branch-over-push-before-bl": 3})


def test_registry_names_the_required_mutants():
    assert {"control", "handler-skips-without-pop", "disarm-early", "stop-machine-release-before-flush",
            "sync-first-line-only", "branch-over-push-before-bl", "patcher-no-self-flush",
            "no-pou-clean"} <= set(MUTANTS)
    assert MUTANTS["disarm-early"].model in ("ipi-latency", "handler-cycles", "armv7")
    assert MUTANTS["no-pou-clean"].model in ("pou", "armv7")


@pytest.mark.parametrize("name", BUGS)
def test_each_mutant_caught_at_its_first_seed(name):
    assert run_mutant(name, 0).violations


def test_control_is_the_unmutated_method():
    r = run_mutant("control", 0)
    assert not r.violations
    assert r.outcome() == run_one("breakpoint", 0).outcome()


def test_mutants_cli_last_line(capsys):
    assert main(["mutants", "--runs", "1", "--jobs", "1", "--mutant", "control", "--mutant", "disarm-early"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "| disarm-early | breakpoint | ipi-latency | drop keep-armed | 1/1 (100%) | 0 | - |" in out
    assert out[-1] == "mutants: caught 0 of 1 (verify), 1 of 1 (explore); control: 0 false positives"


@pytest.mark.slow
def test_full_mutation_table():
    rows = measure(runs=20)
    for r in rows:
        if r.mutant.name == "control":
            assert r.caught == 0
        else:
            assert r.caught >= MIN_CAUGHT[r.mutant.name], r
    assert table(rows)[-1].endswith(f"{len(BUGS)} of {len(BUGS)} (explore); control: 0 false positives")
