"""The fetch-side relaxations of cpu.model (model_granule, model_pou, model_store_order, model_prefetch,
model_ic_clears_prefetch): the litmus programs in src/cpu/guest/smp over a range of seeds, and the host API."""
import io
from pathlib import Path

import pytest

import cpu

BIN = Path(__file__).resolve().parents[1] / "src" / "cpu" / "guest" / "smp" / "bin"
SEEDS = range(12)
GRANULE = {"line": 0, "word": 1, "halfword": 2}


def machine(cores=1, seed=0, granule="line", pou=False, store_order=False, prefetch=0, ic_clears_prefetch=False,
            **kw):
    """A Machine whose model has these fetch knobs (the rest ideal)."""
    model = cpu.Model("litmus", fetch_granule=granule, pou=pou, store_order=store_order, prefetch=prefetch,
                      ic_clears_prefetch=ic_clears_prefetch)
    m = cpu.Machine(cores=cores, seed=seed, schedule="random", quantum=20, model=model, **kw)
    assert m.model_granule == GRANULE[granule] and m.model_prefetch == prefetch
    return m


def litmus(name, *args, cores=1, seed=0, events=None, **knobs):
    """Run smp/bin/NAME.elf; returns (the count it prints, of how many) and the machine."""
    m = machine(cores, seed, **knobs)
    if events is not None:
        m.hook_add("fetch", lambda core, ev: events.append(ev))
    out = io.BytesIO()
    m.load_elf(str(BIN / f"{name}.elf"), argv=[name, *args], stdout=out, stderr=io.BytesIO(), stdin=io.BytesIO())
    assert m.run(max_instructions=5_000_000) == 0
    word, n, _, total = out.getvalue().decode().split()
    assert word in ("stale", "torn")
    return int(n), m


def counts(name, *args, **kw):
    return [litmus(name, *args, seed=s, **kw)[0] for s in SEEDS]


@pytest.mark.parametrize("mode", ["none", "nodc", "full"])
def test_ideal_fetches_the_new_code_after_any_invalidate(mode):
    assert counts("litmus_pou", mode) == [0] * len(SEEDS)


def test_pou_without_the_clean_can_fetch_the_old_code():
    for mode in ("none", "nodc"):
        assert any(counts("litmus_pou", mode, pou=True))
    assert counts("litmus_pou", "full", pou=True) == [0] * len(SEEDS)
    assert counts("litmus_pou", "full", pou=True, granule="halfword", store_order=True) == [0] * len(SEEDS)


def test_store_order_without_a_dsb_can_fetch_the_old_code():
    assert any(counts("litmus_pou", "none", store_order=True))
    assert counts("litmus_pou", "nodc", store_order=True) == [0] * len(SEEDS)
    assert counts("litmus_pou", "full", store_order=True) == [0] * len(SEEDS)


def test_halfword_granule_tears_an_aligned_32_bit_instruction():
    assert counts("litmus_granule", cores=2) == [0] * len(SEEDS)
    assert counts("litmus_granule", cores=2, granule="word") == [0] * len(SEEDS)
    torn = counts("litmus_granule", cores=2, granule="halfword")
    assert any(torn)
    n, m = litmus("litmus_granule", cores=2, seed=torn.index(max(torn)), granule="halfword")
    assert sum(c.torn_fetches for c in m.cores) > 0       # the torn verdict sees it too


@pytest.mark.parametrize("clears", [False, True])
def test_prefetch_survives_an_invalidate_until_the_isb(clears):
    assert counts("litmus_prefetch", "noisb") == [0] * len(SEEDS)
    assert any(counts("litmus_prefetch", "noisb", prefetch=4, ic_clears_prefetch=clears))
    assert counts("litmus_prefetch", "isb", prefetch=4, ic_clears_prefetch=clears) == [0] * len(SEEDS)


def test_cff_events_list_the_candidates():
    events = []
    litmus("litmus_pou", "none", events=events, pou=True)
    cff = [e for e in events if e["kind"] == "cff"]
    assert cff and all(len(e["candidates"]) >= 2 and e["seen"] in e["candidates"] for e in cff)
    assert all((0x2001,) in e["candidates"] for e in cff)     # the original MOVS is never cleaned away
    events = []
    litmus("litmus_prefetch", "noisb", seed=1, events=events, prefetch=4)
    cff = [e for e in events if e["kind"] == "cff"]
    assert cff and all(e["candidates"] == [e["seen"], e["memory"]] for e in cff)
    for name, args, cores in (("litmus_pou", ("none",), 1), ("litmus_granule", (), 2), ("litmus_prefetch", ("noisb",), 1)):
        events = []
        litmus(name, *args, cores=cores, events=events)
        assert not [e for e in events if e["kind"] == "cff"]      # never on the ideal machine


def test_runs_replay_from_the_seed():
    for knobs in ({"pou": True, "granule": "halfword"}, {"prefetch": 4}):
        a = [litmus("litmus_pou", "none", seed=s, **knobs)[0] for s in range(4)]
        assert a == [litmus("litmus_pou", "none", seed=s, **knobs)[0] for s in range(4)]


def host_machine(**knobs):
    """One core looping over `movs r0, #1; b .-2` style code at 0x1000 (watched), for the host API."""
    m = machine(**knobs)
    m.write(0x1000, bytes.fromhex("0120") + bytes.fromhex("fde7"))   # movs r0, #1; b 0x1000
    m.watch_code(0x1000, 0x1100)
    c = m.cores[0]
    c.pc = 0x1000
    c.state = cpu.CoreState.CORE_RUNNING
    return m, c


def test_host_clean_and_dsb_make_a_host_write_fetchable():
    for seed in SEEDS:
        m, c = host_machine(seed=seed, pou=True)
        c.step(4)
        m.write16(0x1000, 0x2002)                 # movs r0, #2
        m.clean_dcache_range(0x1000, 0x1004)
        m.dsb(0)
        m.flush_icache_range(0x1000, 0x1004)
        c.step(3)
        assert c.get_reg(0) == 2
    seen = set()
    for seed in SEEDS:
        m, c = host_machine(seed=seed, pou=True)
        c.step(4)
        m.write16(0x1000, 0x2002)
        m.clean_dcache_range(0x1000, 0x1004)      # no DSB: the clean is not known complete
        m.flush_icache_range(0x1000, 0x1004)
        c.step(3)
        seen.add(c.get_reg(0))
    assert seen == {1, 2}
    with pytest.raises(ValueError):
        m.dsb(1)


@pytest.mark.parametrize("invalidate", ["all", "mva", "start"])
def test_a_line_never_held_is_not_filled_from_before_an_invalidate(invalidate):
    """An invalidate removes speculative copies too: a core that did not hold the line when the code changed and was
    then invalidated (ICIALLU, ICIMVAU, or coming up: Machine.start_cpu) fills only versions written since.  (The
    bug this guards: only held lines were marked, so a core started after an update could fetch a breakpoint the
    update had written and removed before it started.)"""
    for seed in SEEDS:
        m, c = host_machine(seed=seed, granule="halfword")
        m.write16(0x1000, 0x2003)                 # movs r0, #3, then back: the line never in c's icache
        m.write16(0x1000, 0x2001)
        if invalidate == "all":
            c.flush_icache()
        elif invalidate == "mva":
            c.flush_icache_range(0x1000, 0x1004)
        c.step(3)
        if invalidate != "start":
            assert c.get_reg(0) == 1, seed
    if invalidate == "start":
        seen = set()
        for seed in SEEDS:
            m, c = host_machine(seed=seed, granule="halfword", cores=2)
            m.write16(0x1000, 0x2003)
            m.write16(0x1000, 0x2001)
            assert m.start_cpu(1, 0x1001) == 0
            m.cores[1].step(3)
            seen.add(m.cores[1].get_reg(0))
        assert seen == {1}


def test_host_flush_keeps_prefetched_instructions_until_a_context_sync():
    seen = set()
    for seed in SEEDS:
        m, c = host_machine(seed=seed, prefetch=2)
        c.step(4)
        m.write16(0x1000, 0x2002)
        m.flush_icache_range(0x1000, 0x1004)
        c.step(4)
        seen.add(c.get_reg(0))
        m, c = host_machine(seed=seed, prefetch=2, ic_clears_prefetch=True)
        c.step(4)
        m.write16(0x1000, 0x2002)
        m.flush_icache_range(0x1000, 0x1004)      # a host invalidate clears every core's prefetch
        c.step(4)
        assert c.get_reg(0) == 2
    assert seen == {1, 2}
