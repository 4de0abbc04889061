"""ftrace verify: the stateless model checker (src/ftrace/explore/verify.py) on tiny cells."""
import dataclasses

import pytest

from ftrace.explore import verify as V
from ftrace.kernel.recordmcount import record_mcount

PLANTED = V.Cell("unsynced", cores=1, bound=2, evictions="none")       # writes with only a local flush


def test_litmus_site_straddles_a_line():
    sites = {s.func_name: s.ip for s in record_mcount(V.LITMUS).sites}
    assert set(sites) == {"lit_a", "lit_b"}
    assert sites["lit_a"] % 32 == 30            # its BL's halves are in two 32-byte lines
    assert sites["lit_b"] % 32 <= 28


def test_planted_bug_found_and_replayed():
    res = V.verify(PLANTED)
    assert res.violating and res.first
    outcome, detail, log = V.replay(PLANTED, V.decode(res.first))
    assert outcome == "violation" and detail == res.first_detail
    assert any("patcher" in line for line in log) and any("core 1" in line for line in log)


def test_correct_method_has_no_violation_on_a_tiny_bound():
    res = V.verify(V.Cell("breakpoint", cores=1, bound=2, evictions="none"))
    assert res.violating == 0 and res.schedules > 1


def test_processes_equal_serial():
    cell = V.Cell("unsynced", cores=1, bound=1, evictions="none")
    serial = V.verify(cell, jobs=1, split=4)
    procs = V.verify(cell, jobs=2, split=4)
    assert serial.__dict__ == procs.__dict__


def test_choice_vector_encoding():
    assert V.decode(V.encode([0, 3, 35, 40, 1])) == [0, 3, 35, 40, 1]
    assert V.decode(V.encode([])) == []


@pytest.mark.slow
def test_shortest_counterexample_replays():
    choices, detail = V.shortest(PLANTED)
    assert V.replay(PLANTED, choices)[0] == "violation"


@pytest.mark.parametrize("cell", [V.Cell("unsynced", cores=1, bound=2, evictions="none"),
                                  V.Cell("breakpoint", cores=2, bound=1, evictions="none"),
                                  V.Cell("unsynced", cores=2, bound=1, evictions="none"),
                                  pytest.param(V.Cell("unsynced", cores=1, bound=None, evictions="none"),
                                               marks=pytest.mark.slow)])
def test_sleep_sets_prune_and_keep_the_verdict(cell):
    """Sleep sets (the footprint independence) cut equivalent schedules only: the kinds of violation found and
    whether one is found are those of the search without them."""
    on = V.verify(dataclasses.replace(cell, sleep=True))
    off = V.verify(dataclasses.replace(cell, sleep=False))
    assert off.pruned_sleep == 0
    assert on.pruned_sleep > 0 and on.schedules <= off.schedules
    assert bool(on.violating) == bool(off.violating) and bool(on.first) == bool(off.first)
    assert set(on.kinds) == set(off.kinds)


def test_independence_of_footprints():
    w1, w2, p = V.Footprint(1), V.Footprint(2), V.Footprint("p")
    w1.exec_hw, w1.lines = {0x100}, {0x100}
    assert w1.independent(w2) and w1.independent(p)
    w1.host = w2.host = True
    assert not w1.independent(w2) and not w1.independent(p)
    w1.host = w2.host = False
    p.whw, p.wlines = {0x100}, {0x100}
    assert not w1.independent(p)
    p.whw, p.wlines = {0x104}, {0x100}
    assert w1.independent(p)                    # another halfword of a line it executed from (no fill)
    w1.filled = {0x100}
    assert not w1.independent(p)
    q = V.Footprint("p")
    q.clines = {1: {0x100}}
    assert not w1.independent(q) and w2.independent(q)
    q = V.Footprint("p")
    q.glob = True
    assert not w2.independent(q)


def test_sleep_sets_default_to_unbounded_searches():
    assert V.Cell("breakpoint", bound=None).sleep_on() and not V.Cell("breakpoint", bound=1).sleep_on()
    assert V.Cell("breakpoint", bound=1, sleep=True).sleep_on()


def test_stop_machine_parked_core_is_not_a_stack_violation():
    """A core parked by stop_machine sits inside its IPI frame: only a core that returned (STOPPED) has its sp
    checked.  Before the fix every schedule through a parking reported 'stack'."""
    res = V.verify(V.Cell("stop_machine", cores=1, bound=1))
    assert res.violating == 0, res.first_detail


def test_evictions_value_is_checked():
    with pytest.raises(ValueError, match="evictions must be one of"):
        V.Cell("breakpoint", evictions=True)


def test_lazy_evictions_offer_a_loss_before_each_write_to_a_held_line():
    """The pre-write choice is there (the write observer is installed) and widens the search beyond 'none'."""
    cell = V.Cell("unsynced", cores=1, bound=1)

    def kinds(c):       # the worker runs until it holds lit_a's lines, then the patcher writes them
        ex = V.Execution(V.Search(c), [1, 0, 0, 1])
        ex.run()
        return {kind for kind, *_ in ex.trace}
    assert "evict" in kinds(cell) and "evict" not in kinds(dataclasses.replace(cell, evictions="none"))
    assert V.verify(cell).schedules > V.verify(V.Cell("unsynced", cores=1, bound=1, evictions="none")).schedules


@pytest.mark.slow
def test_lazy_evictions_keep_the_verdict_of_all():
    """Lazy evictions leave out only losses that reach the same states (module docstring): the violation kinds
    must equal those found when every held line is offered before every step (2,658 of 18,023 schedules)."""
    lazy = V.verify(dataclasses.replace(PLANTED, evictions="lazy"))
    full = V.verify(dataclasses.replace(PLANTED, evictions="all"))
    assert lazy.violating and set(lazy.kinds) == set(full.kinds)
