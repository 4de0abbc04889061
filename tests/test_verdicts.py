"""The verdict classes: violations, relies on UNPREDICTABLE, clean; the CMODX lists they are judged against; the
machine model through the explorer and the command line; the verdict matrix report."""
import json

import pytest

from ftrace.explore import run as explore_run
from ftrace.explore.campaign import models_for, replay_command, save_record, tasks_for
from ftrace.explore.run import Config, RunResult, build, has_cff, run_one, summarize
from ftrace.kernel import cmodx, insn
from ftrace.kernel.methods import BKPT_INSN, METHODS
from ftrace_cli import ftrace_cmd

BL = insn.halves(insn.thumb_bl(0x8000, 0x9000))
BL2 = insn.halves(insn.thumb_bl(0x8000, 0xA000))
POP_W = (0xF85D, 0xEB04)            # Linux v3.6's Thumb-2 mcount nop
NOP_W = (0xF3AF, 0x8000)
B16 = (0xE001,)
BKPT = (BKPT_INSN,)
PUSH = (0xB500,)
NOP16 = (0xBF00,)
SVC = (0xDF00,)
BX = (0x4770,)


# ---- the CMODX tables ----

def test_classify():
    assert cmodx.classify(BL) == (4, "bl") and cmodx.classify(POP_W) == (4, "ldr")
    assert cmodx.classify(NOP_W) == (4, "nop") and cmodx.classify(insn.halves(insn.thumb_bl(0x8000, 0x9000,
                                                                                            link=False))) == (4, "b")
    assert [cmodx.classify(e)[1] for e in (B16, BKPT, PUSH, NOP16, SVC, BX, (0xD101,), (0xDE00,))] == \
        ["b", "bkpt", "push", "nop", "svc", "bx", "b", "udf"]


@pytest.mark.parametrize("a, b, v7, maa", [
    (BL, BKPT, False, True),        # M.a.a: hw1 of BL <-> BKPT; the v7 list has no 32-bit instruction
    (POP_W, BKPT, False, False),    # the nop's hw1 is on no list
    (B16, BKPT, True, True),        # 16-bit B <-> BKPT: both lists
    (B16, PUSH, False, False),      # branch_over's swap: PUSH is on no list
    (POP_W, BL, False, False),      # direct's swap: outside the architecture
    (BL, BL2, False, True),         # M.a.a: BL -> another BL (hw1 and hw2 rules)
    (BL, NOP16, False, False),      # M.a.a's hw1 list has no NOP
    (NOP16, BKPT, True, True),
    (SVC, BKPT, True, True),
    (BX, BKPT, False, True),        # BX: M.a.a only
    (B16, BL, False, True),         # a 16-bit B over BL.hw1: M.a.a
    (B16, POP_W, False, False),     # ... over a 32-bit nop: neither
    (NOP_W, insn.halves(insn.thumb_bl(0x8000, 0x9000, link=False)), False, False),   # ftrace_graph_call's swap
])
def test_cmodx_pairs(a, b, v7, maa):
    for x, y in ((a, b), (b, a)):
        assert cmodx.permitted("v7", x, y) is v7, (x, y)
        assert cmodx.permitted("maa", x, y) is maa, (x, y)
    assert (cmodx.forbidden_pair("v7", [a, b]) is None) is v7


def test_maa_halfword_rules():
    bw = insn.halves(insn.thumb_bl(0x8000, 0x9000, link=False))
    bw_hw2 = (bw[0], bw[1] ^ 0x0001)            # a 32-bit B whose hw2 only changes: the hw2 rule
    bw_hw1 = (bw[0] ^ 0x0001, bw[1])            # ... whose hw1 changes: not listed
    assert cmodx.permitted("maa", bw, bw_hw2) and not cmodx.permitted("maa", bw, bw_hw1)
    bl_as_b = (BL[0], BL[1] & ~0x4000)          # hw2 of a BL -> hw2 of a B: not the same kind
    assert cmodx.classify(bl_as_b) == (4, "b") and not cmodx.permitted("maa", BL, bl_as_b)
    assert cmodx.forbidden_pair("maa", [BL]) is None and cmodx.forbidden_pair("maa", [BL, BL]) is None


def test_unknown_list_is_refused():
    with pytest.raises(ValueError, match="unknown CMODX list"):
        cmodx.allows("v9", (2, "b"), (2, "b"))


def test_audit_locations_follow_the_list():
    """The updates' audit watches what the run's CMODX list leaves uncovered: the sites' rewrites under both
    lists; ftrace_call (BL -> BL) only under v7, ftrace_graph_call (nop.w <-> b.w) under both."""
    for name in METHODS:
        fts = {lst: build(Config(cmodx=lst), name, (), 0)[1] for lst in ("v7", "maa")}
        for enable in (0, 1):
            assert fts["v7"].method.cmodx_locations(enable) == fts["maa"].method.cmodx_locations(enable), name
        assert fts["v7"].sym["ftrace_call"] in fts["v7"].cmodx_locations(0xFF)
        assert fts["maa"].sym["ftrace_call"] not in fts["maa"].cmodx_locations(0xFF)
        assert fts["maa"].sym["ftrace_graph_call"] in fts["maa"].cmodx_locations(0xFF)


# ---- the verdicts of a run ----

def test_models_and_cff():
    assert not has_cff("ideal") and has_cff("armv7") and has_cff("fetch-granule") and has_cff("pou")
    assert not has_cff("ipi-latency")
    assert models_for(None) == ["ideal"] and models_for(["all"])[:2] == ["ideal", "armv7"]
    assert tasks_for("direct", None, 1, 0, models=["ideal", "armv7"]) == [("direct", (), 0),
                                                                          ("direct", (), 0, "armv7")]


def _harvest(method="breakpoint"):
    """The explorer's fetch hook on a booted run, and the result it fills."""
    _, ft, _ = build(Config(), method, (), 0)
    hooks = []

    class M:
        def hook_add(self, kind, cb):
            hooks.append(cb)
    res = RunResult(method, (), 0, "armv7")
    explore_run._install_harvest(M(), ft, res)
    return ft, res, hooks[0]


def test_cff_event_relies_on_unpredictable_not_a_violation():
    ft, res, hook = _harvest()
    rec = next(iter(ft.records))
    nop, call = insn.halves(ft.nop_insn()), insn.halves(ft.call_insn(rec))
    e = {"kind": "cff", "core": 1, "pc": rec.ip, "seen": nop, "memory": BKPT + (nop[1],),
         "candidates": [nop, BKPT], "cycles": 10, "instructions": 10}
    hook(None, e)
    assert res.unpredictable == 1 and res.mixed == 0 and res.events == []
    w = res.unpredictable_where[0]
    assert (w["kind"], w["source"], w["rule"], w["site"]) == ("unpredictable", "cff", "cmodx v7", rec.ip)
    assert res.verdict == "unpredictable" and not res.violations
    # a covered pair is not UNPREDICTABLE; a mixed instruction at the site is a violation of its own
    hook(None, dict(e, candidates=[B16, BKPT], instructions=11))
    assert res.unpredictable == 1
    hook(None, dict(e, seen=(call[0], nop[1]), candidates=[nop, call], instructions=12))
    assert res.unpredictable == 2 and res.mixed == 1 and res.events[-1]["kind"] == "mixed"
    assert res.torn_missed == 0


def test_ideal_run_relies_on_unpredictable_through_the_audit():
    r = run_one("breakpoint", 0)
    assert (r.model, r.cmodx, r.violations, r.mixed) == ("ideal", "v7", [], 0)
    assert r.unpredictable == r.cmodx_fetches > 0 and r.verdict == "unpredictable"
    assert {w["source"] for w in r.unpredictable_where} == {"audit"}
    assert r.key == ("breakpoint", (), 0) and r.label == "breakpoint"
    s = run_one("stop_machine", 0)
    assert s.verdict == "clean" and s.unpredictable == 0


def _synthetic(model="armv7"):
    bad = RunResult("breakpoint", (), 0, model, violations=["mixed"], mixed=2)
    rely = RunResult("breakpoint", (), 1, model, unpredictable=3, unpredictable_where=[
        {"kind": "unpredictable", "core": 1, "pc": 0x8000, "site": 0x8000, "func": "h0", "straddles": False,
         "source": "cff", "rule": "cmodx v7", "candidates": [list(POP_W), list(BKPT)], "pair": []}])
    clean = RunResult("breakpoint", (), 2, model)
    return [bad, rely, clean]


def test_summary_and_json_keep_unpredictable_apart():
    rs = _synthetic()
    assert summarize(rs) == ["breakpoint [armv7]: 1 violating (mixed 1), 1 relying on UNPREDICTABLE (cmodx v7), "
                             "1 clean of 3 runs; CMODX-uncovered fetches 0"]
    ideal = _synthetic("ideal")
    assert summarize(ideal)[0].startswith("breakpoint: violations 1 of 3 runs (mixed 1)")
    assert summarize(ideal, named=True)[0].startswith("breakpoint [ideal]: 1 violating")
    d = save_record(rs[1])
    assert d["violations"] == [] and d["unpredictable"] == 3 and d["unpredictable_where"][0]["source"] == "cff"
    assert json.loads(json.dumps(d))["model"] == "armv7"
    assert RunResult.from_dict(d).verdict == "unpredictable"
    assert replay_command(rs[0]) == "python -m ftrace replay --method breakpoint --model armv7 --seed 0"
    assert replay_command(ideal[0]) == "python -m ftrace replay --method breakpoint --seed 0"


# ---- the matrix report ----

def _where(kind, straddles):
    return {"kind": kind, "core": 0, "pc": 0x8000, "site": 0x8000, "func": "h0", "straddles": straddles}


def test_matrix_report(tmp_path):
    pytest.importorskip("matplotlib")
    from ftrace.explore.report import write_report
    results = []
    for model in ("ideal", "armv7", "fetch-granule", "ipi-latency"):
        for seed in (0, 1):
            results.append(RunResult("breakpoint", (), seed, model, unpredictable=1))
            bad = model in ("armv7", "fetch-granule") or (model, seed) == ("ipi-latency", 0)
            results.append(RunResult("direct", (), seed, model, violations=["torn"] if bad else [], torn=int(bad),
                                     where=[_where("torn", model == "ideal")] if bad else []))
            results.append(RunResult("breakpoint", ("sync1",), seed, model,
                                     violations=["torn"] if model == "ipi-latency" else []))
    text = open(write_report(str(tmp_path), {r.key: r for r in results})).read()
    for head in ("## The verdict matrix", "## Hardware assumptions per method",
                 "## Counterexamples per failing cell", "## What the theory predicts"):
        assert head in text, head
    assert "| method | ideal | armv7 | ipi-latency | fetch-granule |" in text        # cpu.model.MODELS order
    assert "| breakpoint | 0 / 2 / 0 | 0 / 2 / 0 | 0 / 2 / 0 | 0 / 2 / 0 |" in text
    assert "| direct | 0 / 0 / 2 | **2** / 0 / 0 | **1** / 0 / 1 | **2** / 0 / 0 |" in text
    assert "| direct | ipi-latency, fetch-granule | IPIs taken at once; line-atomic instruction fills |" in text
    assert "| breakpoint | - | none of the single relaxations breaks it |" in text
    results.append(RunResult("unsynced", (), 0, "ideal", violations=["late-stale"]))
    text = open(write_report(str(tmp_path), {r.key: r for r in results})).read()
    assert "| unsynced | - | fails on the ideal machine already |" in text
    assert "`python -m ftrace replay --method direct --model fetch-granule --seed 0`" in text
    assert "`python -m ftrace replay --method breakpoint --model ipi-latency --seed 0 --drop sync1`" in text
    assert "| breakpoint: 0 violations under armv7 | **confirmed** |" in text
    assert "| stop_machine: 0 violations under armv7 | **no data** |" in text
    assert ("| direct: violations under halfword atomicity (fetch-granule) at sites that do not straddle a line "
            "too | **confirmed** |") in text
    assert ("| breakpoint without keep-armed (the breakpoint handler disarmed early): violations under IPI latency "
            "| **no data** |") in text


# ---- the command line ----

def test_cli_model(tmp_path):
    save = tmp_path / "runs.jsonl"
    p = ftrace_cmd("explore", "--method", "direct", "--method", "stop_machine", "--model", "armv7", "--model",
                   "ideal", "--runs", "1", "--backend", "serial", "-q", "--save", str(save))
    assert p.returncode == 0, p.stderr
    assert "direct [armv7]: 1 violating (" in p.stdout and "direct [ideal]: 1 violating (" in p.stdout
    assert "stop_machine [ideal]: 0 violating, 0 relying on UNPREDICTABLE (cmodx v7), 1 clean of 1 runs" in p.stdout
    assert "python -m ftrace replay --method direct --model armv7 --seed 0" in p.stdout
    assert "models armv7, ideal, cmodx v7" in p.stderr
    rows = [json.loads(line) for line in save.read_text().splitlines()]
    assert sorted(r["model"] for r in rows) == ["armv7", "armv7", "ideal", "ideal"]
    assert all("unpredictable" in r and "unpredictable" not in r["violations"] for r in rows)
    # without --model: the lines as they always were, the default named in the header
    q = ftrace_cmd("explore", "--method", "direct", "--runs", "1", "--backend", "serial", "-q")
    assert q.stdout.startswith("direct: violations 1 of 1 runs (") and "[ideal]" not in q.stdout
    assert "model ideal (default), cmodx v7" in q.stderr
    r = ftrace_cmd("replay", "--method", "direct", "--model", "armv7", "--seed", "0")
    assert r.returncode == 0 and r.stdout.startswith("replay of direct [armv7] seed 0: "), r.stderr
    assert "relies on UNPREDICTABLE (cmodx v7)" in r.stdout
    for args in (("explore", "--model", "nope"), ("replay", "--method", "direct", "--seed", "0", "--model", "x"),
                 ("explore", "--cmodx", "v9"), ("run", "--model", "nope")):
        assert ftrace_cmd(*args).returncode == 2, args
    t = ftrace_cmd("run", "workload", "--model", "armv7", "--toggle-at", "100000", "--", "2")
    assert t.returncode == 0 and "# patching: method breakpoint, model armv7, " in t.stdout, t.stderr
    u = ftrace_cmd("run", "workload", "--toggle-at", "100000", "--", "2")
    assert "# patching: method breakpoint, 15 mcount sites" in u.stdout
