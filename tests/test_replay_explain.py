"""explain(): the violating step carries its own core, and a refill after an IPI's invalidation says so."""
from ftrace.explore import explain


def test_violating_step_and_refill_labelled():
    # breakpoint without sync2, seed 0: core 1's torn fetch ends the run right after a step of core 2's; the
    # timeline used to put core 1's violating fill at step 2205 under [core2], and an IPI whose invalidate was
    # followed by a refill in the same batch read only "IPI: icache invalidated"
    res, text = explain("breakpoint", 0, ("sync2",))
    assert res.violations == ["torn"] and res.events[0]["core"] == 1
    assert ("  2206  [core1] core 1 icache [---- fbf1] -> [f85d fbf1] (line fill from memory), core cycle 31842"
            in text)
    assert "[core2] core 1 icache" not in text
    assert ("  2006  [steps] core 1 icache [f000 fbf1] -> [---- fbf1] (IPI: icache invalidated, then refilled: "
            "0x86a0 from memory), core cycle 28577" in text)


def test_violating_step_no_longer_unattributed():
    _, text = explain("direct", 0)
    assert "[core2] core 2 icache [f85d ----] -> [f85d fe01] (line fill from memory)" in text
    assert "[stopped]" not in text
