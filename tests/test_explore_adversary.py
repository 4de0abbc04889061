"""Coverage figures and the adversarial explorer options: opt-in, deterministic, and off by default."""
from ftrace.cli import main
from ftrace.explore import Config, run_one
from ftrace.explore.adversary import coverage_lines


COVER = Config(coverage=True)


def test_coverage_per_phase():
    assert run_one("breakpoint", 0).coverage == {}                  # opt-in: a default run observes nothing more
    r = run_one("breakpoint", 0, config=COVER)
    assert list(r.coverage) == ["1", "2", "3"]
    windows, covered, hits = r.coverage["1"]
    assert windows == r.coverage["2"][0] == r.coverage["3"][0] > 0 and 0 < covered < windows
    assert r.coverage["2"][1] == 0 and r.coverage["2"][2] > 0       # phase 2: the breakpoint is what cores fetch
    assert r.split_fetches > 0 and r.site_evictions == 0
    assert run_one("stop_machine", 0, config=COVER).coverage["1"][1] == 0          # the parked cores fetch nothing
    assert coverage_lines([r])[0].startswith("breakpoint coverage: phase 1 ")


def test_adversarial_options_replay_and_act():
    cfg = Config(evict_sites=3000, desched_rate=2000, patch_cpu=-1, cores=8)
    a, b = run_one("breakpoint", 3, config=cfg), run_one("breakpoint", 3, config=cfg)
    assert a.outcome() == b.outcome()
    assert not a.violations and a.site_evictions > 0 and a.descheduled_steps > 0 and a.patch_cpu == 3
    assert run_one("breakpoint", 3, ("sync3",), config=cfg).violations


def test_explore_coverage_flag(capsys):
    assert main(["explore", "--method", "breakpoint", "--runs", "2", "--jobs", "1", "-q", "--coverage",
                 "--cores", "2", "--patch-cpu", "random", "--evict-sites", "500"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "breakpoint: violations 0 of 2 runs; CMODX-uncovered fetches " + out[0].split()[-1]
    assert out[1].startswith("breakpoint coverage: phase 1 ") and "site evictions" in out[1]
    assert main(["explore", "--cores", "17"]) == 2
