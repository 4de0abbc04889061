"""The `bench` fixture and the summary of the figures the README's "Benchmarks" section quotes.

``bench(run, setup, rounds, section, key, **info)`` times `run` alone with pytest-benchmark's pedantic mode
(`setup` builds fresh state, untimed, before each round and returns run's arguments).  It also keeps the best
run and set-up times on its own clock, because under --benchmark-disable pytest-benchmark runs `run` once and
keeps no statistics: the summary printed at the end of the session is computed in both modes.
"""
import math
import time

import pytest

FIGURES = pytest.StashKey[dict]()


class Bench:
    def __init__(self, benchmark, figures):
        self.benchmark = benchmark
        self.figures = figures

    def __call__(self, run, setup, rounds, section, key, **info):
        best = {"run": math.inf, "setup": math.inf}

        def timed_setup():
            t = time.perf_counter()
            args = setup()
            best["setup"] = min(best["setup"], time.perf_counter() - t)
            return args, {}

        def timed_run(*args):
            t = time.perf_counter()
            result = run(*args)
            best["run"] = min(best["run"], time.perf_counter() - t)
            return result

        result = self.benchmark.pedantic(timed_run, setup=timed_setup, rounds=rounds)
        self.note(section, key, run_s=best["run"], setup_s=best["setup"], **info)
        return result

    def note(self, section, key, **info):
        """Add figures to the summary's entry (section, key) and to the benchmark's extra_info."""
        self.figures.setdefault(section, {}).setdefault(key, {}).update(info)
        self.benchmark.extra_info.update(info)


@pytest.fixture
def bench(benchmark, request):
    return Bench(benchmark, request.config.stash.setdefault(FIGURES, {}))


def _mips(n, seconds):
    return n / seconds / 1e6


def pytest_terminal_summary(terminalreporter, config):
    # entries of failed benchmarks lack figures: leave them out
    figs = {section: {k: f for k, f in entries.items() if "run_s" in f and len(f) > 2}
            for section, entries in config.stash.get(FIGURES, {}).items()}
    if not figs:
        return
    w = terminalreporter.write_line
    terminalreporter.section("benchmark figures (best round; \"whole\" includes set-up and ELF loading)")
    mips = figs.get("mips", {})
    programs = list(dict.fromkeys(p for p, _ in mips))
    if programs:
        w("%-12s %12s  %-20s %-22s %s" % ("program", "instructions", "ours MIPS run/whole", "Unicorn MIPS run/whole",
                                         "ours/Unicorn run/whole"))
        for p in programs:
            o, u = mips.get((p, "ours")), mips.get((p, "unicorn"))
            if o is None or u is None:
                continue
            n = o["instructions"]
            r = [_mips(n, x["run_s"]) for x in (o, u)]
            t = [_mips(n, x["run_s"] + x["setup_s"]) for x in (o, u)]
            w("%-12s %12d  %8.1f / %-9.1f %8.1f / %-11.1f %6.2f / %.2f"
              % (p, n, r[0], t[0], r[1], t[1], r[0] / r[1], t[0] / t[1]))
    ic = figs.get("icache", {})
    if len(ic) == 2:
        on, off = (_mips(ic[k]["instructions"], ic[k]["run_s"]) for k in ("on", "off"))
        w(f"icache (fib-O2-pg): on {on:.1f} MIPS, off {off:.1f} MIPS, off/on {off / on:.2f}")
    smp = figs.get("smp", {})
    if smp:
        w("SMP counter, aggregate MIPS run/whole: " + ", ".join(
            f"{c} cores {_mips(f['instructions'], f['run_s']):.1f}/"
            f"{_mips(f['instructions'], f['run_s'] + f['setup_s']):.1f}" for c, f in sorted(smp.items())))
    tr = figs.get("tracing", {})
    base = tr.get("nop")
    for tracer in ("function", "function_graph"):
        f = tr.get(tracer)
        if base and f:
            per = (f["run_s"] - base["run_s"]) / f["events"]
            w(f"{tracer}: {f['events']} events, {per * 1e6:.3f} us/event over the untraced run, "
              f"host x{f['run_s'] / base['run_s']:.2f}, simulated instructions "
              f"x{f['instructions'] / base['instructions']:.2f}")
    hook = figs.get("unicorn_hook", {})
    if len(hook) == 2:
        per = (hook[True]["run_s"] - hook[False]["run_s"]) / hook[True]["calls"]
        w(f"Unicorn + Python hook on __gnu_mcount_nc: {hook[True]['calls']} calls, {per * 1e6:.2f} us/call")
    for (program, method), f in sorted(figs.get("patch", {}).items()):
        w(f"{program} {method}: " + "; ".join(
            f"{what} {u['cycles']:,} cycles, {u['others_lost_cycles']:,} lost, {u['ipis']} IPIs, "
            f"{u['bkpt_hits']:,} bkpt hits" for what, u in (("enable", f["enable"]), ("disable", f["disable"]))))
    models = figs.get("models", {})
    if "ideal" in models:
        base = models["ideal"]["run_s"] / models["ideal"]["runs"]
        w("explorer run (breakpoint, hot.elf, 4 cores) per model, ms and x ideal: " + ", ".join(
            f"{name} {f['run_s'] / f['runs'] * 1e3:.0f} (x{f['run_s'] / f['runs'] / base:.2f})"
            for name, f in models.items()))
