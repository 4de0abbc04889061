"""ftrace.explore.costs: the patching cost of every method is a pure function of (method, program, cores, CostConfig),
so the figures are compared exactly with the values recorded in tests/data/costs.json (all but host time).

A deliberate change of the cost model or of a method's protocol changes them; regenerate with

    PYTHONPATH=src python tests/test_costs.py --write

and review the diff of tests/data/costs.json.
"""
import json
import os
import sys

import pytest

from ftrace.explore.costs import FIGURES, measure

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "costs.json")
PROGRAM = "bigfuncs-1k.elf"
CORES = (2, 4)
TIMED = {"cycles", "others_lost_cycles", "ipis", "syncs", "writes", "sites", "bkpt_hits", "cmodx_fetches",
         "ipis_taken", "others_icache_misses", "crashes"}
assert TIMED == set(FIGURES) - {"host_seconds"}
RECORDED = ("breakpoint", "stop_machine", "branch_over", "direct", "unsynced")   # methods added since: not recorded


def figures(method, cores):
    """measure() without its host times."""
    r = measure(method, PROGRAM, cores=cores)
    return {"sites": r["sites"], "instructions": r["instructions"],
            **{what: {k: r[what][k] for k in sorted(TIMED)} for what in ("enable", "disable")}}


def compute():
    return {f"{m}:{PROGRAM}:{n}": figures(m, n) for m in RECORDED for n in CORES}


@pytest.fixture(scope="module")
def golden():
    with open(GOLDEN) as f:
        return json.load(f)


@pytest.mark.parametrize("cores", CORES)
@pytest.mark.parametrize("method", RECORDED)
def test_cost_figures_match_golden(golden, method, cores):
    assert figures(method, cores) == golden[f"{method}:{PROGRAM}:{cores}"]


def test_golden_figures_obey_the_protocols(golden):
    """What each protocol implies for the recorded figures, so that a regenerated file cannot silently record a
    broken protocol.  breakpoint: three writes per site with a sync after each pass (enable runs that update
    twice: the sites, then ftrace_call to the tracer); stop_machine: one IPI parks each other core, no trap, no
    sync IPI, no concurrently modified fetch; every update touches every site; the safe methods never crash a
    core; breakpoint keeps the patcher longer than stop_machine."""
    for key, g in golden.items():
        method, _, cores = key.split(":")
        cores = int(cores)
        n = g["sites"]
        assert n == 1002, key                   # f0..f999, main and worker
        for what in ("enable", "disable"):
            u = g[what]
            assert u["sites"] == n and u["writes"] >= n, (key, what)
            if method == "breakpoint":
                want = (3 * (n + 1), 6) if what == "enable" else (3 * n, 3)
                assert (u["writes"], u["syncs"]) == want, (key, what)
                assert u["bkpt_hits"] > 0
                assert u["cycles"] > golden[f"stop_machine:{PROGRAM}:{cores}"][what]["cycles"]
            if method == "stop_machine":
                assert (u["ipis"], u["syncs"], u["bkpt_hits"], u["cmodx_fetches"]) == (cores - 1, 0, 0, 0), key
                assert u["others_lost_cycles"] > 0
            if method in ("breakpoint", "stop_machine", "branch_over"):
                assert u["crashes"] == 0, (key, what)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: PYTHONPATH=src python tests/test_costs.py --write")
    data = compute()
    with open(GOLDEN, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {GOLDEN}: {len(data)} measurements")
