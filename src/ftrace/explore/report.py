"""The explorer's report: a Markdown summary with tables and PNG plots comparing the patching methods.

    python -m ftrace explore --report DIR [--runs N] [--method ...] [--drop each]

writes DIR/README.md (what was run, the violations per method and kind, where they were, the expected answers
confirmed or refuted, a replayable counterexample per broken method, the CMODX audit, the cost tables and the
cost ranking; for a campaign over several machine models also the verdict matrix, each method's hardware
assumptions, a counterexample per failing cell and what the theory predicts, confirmed or refuted from the data)
and DIR/*.png (violations.png, cmodx.png, cost_cycles.png, cost_lost.png, cost_scaling.png).
write_report() is the API: it takes campaign results ({key: RunResult}) and cost rows (costs.measure dicts).
"""
import os
import platform
import time

try:
    import matplotlib
except ImportError:
    raise ImportError("the report's plots need matplotlib: pip install matplotlib "
                      "(or this package's `explore` extra)") from None
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import cpu.model  # noqa: E402
from ftrace.explore.adversary import coverage_lines  # noqa: E402
from ftrace.explore.campaign import replay_command  # noqa: E402
from ftrace.explore.run import tally  # noqa: E402
from ftrace.kernel.methods import METHODS  # noqa: E402

KINDS = ("fault", "torn", "mixed", "late-stale", "stack", "wrong-result", "ftrace-bug")
SHOWN = KINDS[:6]           # the kinds the tables and the plot break down
COLORS = {"fault": "#d62728", "torn": "#ff7f0e", "mixed": "#bcbd22", "late-stale": "#9467bd", "stack": "#8c564b",
          "wrong-result": "#e377c2", "ftrace-bug": "#7f7f7f"}


def by_label(results):
    """{label: [RunResult]} in first-seen order."""
    out = {}
    for r in (results.values() if isinstance(results, dict) else results):
        out.setdefault(r.label, []).append(r)
    return out


def label_stats(rs):
    t, = tally(rs).values()
    bad = [r for r in rs if r.violations]
    first = [r.where[0] for r in bad if r.where]
    return {
        "method": rs[0].method, "drop": rs[0].drop, "model": rs[0].model, "cell": rs[0].cell,
        "runs": t.runs, "bad": t.bad, "rely": t.rely, "clean": t.clean, "cmodx_lists": list(t.lists),
        "kinds": {k: t.kinds.get(k, 0) for k in KINDS},
        "seeds": (min(r.seed for r in rs), max(r.seed for r in rs)),
        "first_seed": min((r.seed for r in bad), default=None),
        "cmodx": t.cmodx, "updates": sum(r.updates for r in rs),
        "host": sum(r.host_seconds for r in rs) / len(rs),
        "instructions": sum(r.instructions for r in rs),
        "torn_missed": sum(r.torn_missed for r in rs),
        # where each violating run's first violation was
        "first_straddling": sum(1 for w in first if w["straddles"]),
        "first_other_site": sum(1 for w in first if w["site"] is not None and not w["straddles"]),
        "first_no_site": sum(1 for w in first if w["site"] is None),
        # every torn fetch and every fault, wherever in the run
        "torn_events": [w for r in rs for w in r.where if w["kind"] == "torn"],
        "mixed_events": [w for r in rs for w in r.where if w["kind"] == "mixed"],
        "stale_events": [w for r in rs for w in r.where if w["kind"] == "stale-after-sync"],
    }


def _pct(a, b):
    return f"{100 * a / b:.1f}%" if b else "-"


def violations_table(stats):
    head = (["label", "runs", "violating runs", "rate"] + list(SHOWN)
            + ["relies on UNPREDICTABLE (runs)", "CMODX-uncovered fetches / update", "host s / run"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, s in stats.items():
        lines.append(f"| {label} | {s['runs']} | {s['bad']} | {_pct(s['bad'], s['runs'])} | "
                     + " | ".join(str(s["kinds"][k]) for k in SHOWN)
                     + f" | {s['rely']} | {s['cmodx'] / max(1, s['updates']):.1f} | {s['host']:.3f} |")
    return "\n".join(lines)


def where_table(stats):
    lines = ["| label | violating runs | first violation at a straddling site | at another site | "
             "not at a site | torn fetches: at straddling sites / all | late-stale fetches: at straddling sites / all |",
             "|---|---|---|---|---|---|---|"]
    for label, s in stats.items():
        if not s["bad"]:
            continue
        te, se = s["torn_events"], s["stale_events"]
        lines.append(f"| {label} | {s['bad']} | {s['first_straddling']} | {s['first_other_site']} | "
                     f"{s['first_no_site']} | {sum(w['straddles'] for w in te)} / {len(te)} | "
                     f"{sum(w['straddles'] for w in se)} / {len(se)} |")
    return "\n".join(lines)


def expected_answers(stats):
    """[(claim, verdict, evidence)] for the issue's expected answers that the campaign covers: each method's
    class says what is expected of it (UpdateMethod.expected, expected_when_dropped)."""
    out = []
    for m, cls in METHODS.items():
        s = stats.get(m)
        if s is None:
            continue
        if cls.expected == "safe":
            ok = s["bad"] == 0
            out.append((f"{m}: zero violations", "confirmed" if ok else "REFUTED",
                        f"{s['bad']} violating of {s['runs']} runs (seeds {s['seeds'][0]}..{s['seeds'][1]})"
                        + ("" if s["runs"] >= 10_000 else "; fewer than the 10,000 runs the claim asks for")))
        elif cls.expected == "straddling":
            te = s["torn_events"]
            only = all(w["straddles"] for w in te) and s["first_other_site"] == 0 and s["first_no_site"] == 0
            found = s["bad"] > 0
            out.append((f"{m}: violations at sites that straddle an icache line, and only there",
                        "confirmed" if found and only else ("REFUTED" if found else "not shown"),
                        f"{s['bad']} violating of {s['runs']} runs; first violation at a straddling site in "
                        f"{s['first_straddling']}, at another site in {s['first_other_site']}, not at a site in "
                        f"{s['first_no_site']}; torn fetches at straddling sites "
                        f"{sum(w['straddles'] for w in te)} of {len(te)}"))
        elif cls.expected == "stale-and-torn":
            st, tn = s["kinds"]["late-stale"], s["kinds"]["torn"]
            out.append((f"{m}: stale and torn fetches", "confirmed" if st and tn else "REFUTED",
                        f"late-stale in {st}, torn in {tn} of {s['runs']} runs"))
    for m, cls in METHODS.items():
        for step in cls.expected_when_dropped:
            s = stats.get(f"{m}-no-{step}")
            if s is None:
                continue
            out.append((f"{m} without {step}: a violation the explorer finds by itself",
                        "confirmed" if s["bad"] else "REFUTED",
                        f"{s['bad']} violating of {s['runs']} runs; first at seed {s['first_seed']}; kinds "
                        + ", ".join(f"{k} {n}" for k, n in s["kinds"].items() if n)))
    return out


# ---- the verdict matrix: every method x every machine model ----

# what each single relaxation denies: the hardware assumption a method needs when that relaxation alone breaks it
ASSUMPTIONS = {"ipi_latency": "IPIs taken at once", "fetch_granule": "line-atomic instruction fills",
               "pou": "fills see code stores without a clean to the PoU",
               "store_order": "code stores reach the PoU in program order",
               "prefetch": "an icache invalidate also discards fetched instructions",
               "handler_cycles": "host handlers run atomically"}


def models_of(stats):
    """The models in the campaign, in cpu.model.MODELS order (others after)."""
    present = list(dict.fromkeys(s["model"] for s in stats.values()))
    return [m for m in cpu.model.MODELS if m in present] + [m for m in present if m not in cpu.model.MODELS]


def cells_of(stats):
    return list(dict.fromkeys(s["cell"] for s in stats.values()))


def cell_stats(stats):
    """{(cell, model): stats}."""
    return {(s["cell"], s["model"]): s for s in stats.values()}


def matrix_table(stats):
    """Rows: method (and dropped step); columns: models; each entry `V / U / C` = violating / relying on
    UNPREDICTABLE / clean runs."""
    models, by = models_of(stats), cell_stats(stats)
    lines = ["| method | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for cell in cells_of(stats):
        row = []
        for model in models:
            s = by.get((cell, model))
            row.append("" if s is None else
                       f"{'**' + str(s['bad']) + '**' if s['bad'] else 0} / {s['rely']} / {s['clean']}")
        lines.append(f"| {cell} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def assumptions(stats):
    """[(method, breaking single relaxations, what it needs)] for each undropped method in the campaign: the
    single-relaxation models under which it has violations, each one a hardware assumption it needs."""
    by = cell_stats(stats)
    singles = [(knob, m.name) for knob, m in cpu.model.SINGLE.items()]
    out = []
    for cell in cells_of(stats):
        if any(s["drop"] for (c, _), s in by.items() if c == cell):
            continue
        ran = [(knob, name) for knob, name in singles if (cell, name) in by]
        broken = [(knob, name) for knob, name in ran if by[(cell, name)]["bad"]]
        ideal = by.get((cell, "ideal"))
        if ideal is not None and ideal["bad"]:      # no assumption about the hardware makes it safe
            need, broken = "fails on the ideal machine already", []
        elif not ran:
            need = "no data (no single-relaxation model in the campaign)"
        elif broken:
            need = "; ".join(ASSUMPTIONS[knob] for knob, _ in broken)
        else:
            armv7 = by.get((cell, "armv7"))
            need = ("none of the single relaxations breaks it" + (
                "; only their combination (armv7) does" if armv7 and armv7["bad"] else ""))
        out.append((cell, [name for _, name in broken], need))
    return out


def failing_cells(stats, groups):
    """[(cell, model, RunResult of the first violating seed)] for every cell with a violation."""
    out = []
    for lb, s in stats.items():
        if s["bad"]:
            r = next(r for r in groups[lb] if r.seed == s["first_seed"])
            out.append((s["cell"], s["model"], r))
    return out


def _verdict(found, runs):
    return "no data" if not runs else "confirmed" if found else "refuted"


# the dropped steps the relaxed-machine issue predicts break a method, and the models under which they must show
STEP_PREDICTIONS = (("pou-clean", ("armv7", "pou"), "without pou-clean: violations (it relies on the clean)"),
                    ("isb", ("armv7", "prefetch"), "without isb: violations (it relies on the ISB)"),
                    ("keep-armed", ("ipi-latency",),
                     "without keep-armed (the breakpoint handler disarmed early): violations under IPI latency"))


def predictions(stats):
    """[(prediction, verdict, evidence)]: the relaxed-machine issue's predictions, read from each method's class
    (UpdateMethod.expected, droppable) and computed from the campaign's cells ('no data' when the cells it needs
    were not run): a method expected safe has 0 violations under armv7; one expected to fail at straddling
    sites fails under halfword atomicity (fetch-granule) at sites that do not straddle too; dropping a step of
    STEP_PREDICTIONS breaks it under the models named there."""
    by = cell_stats(stats)
    out = []
    for m, cls in METHODS.items():
        if cls.expected == "safe":
            s = by.get((m, "armv7"))
            out.append((f"{m}: 0 violations under armv7", _verdict(s is not None and s["bad"] == 0, s and s["runs"]),
                        f"{s['bad']} violating, {s['rely']} relying on UNPREDICTABLE of {s['runs']} runs" if s else
                        "cell not run"))
        elif cls.expected == "straddling":
            claim = (f"{m}: violations under halfword atomicity (fetch-granule) at sites that do not straddle a "
                     "line too")
            s = by.get((m, "fetch-granule"))
            if s is None:
                out.append((claim, "no data", "cell not run"))
                continue
            te = s["torn_events"] + s["mixed_events"]
            inside = [w for w in te if w["site"] is not None and not w["straddles"]]
            out.append((claim, _verdict(bool(inside), s["runs"]),
                        f"{s['bad']} violating of {s['runs']} runs; torn or mixed fetches at non-straddling sites "
                        f"{len(inside)} of {len(te)}"))
    for step, models, what in STEP_PREDICTIONS:
        for m, cls in METHODS.items():
            if step not in cls.droppable:
                continue
            cell = f"{m}-no-{step}"
            ran = [mo for mo in models if (cell, mo) in by]
            out.append((f"{m} {what}", _verdict(any(by[(cell, mo)]["bad"] for mo in ran), len(ran)),
                        "; ".join(f"[{mo}] {by[(cell, mo)]['bad']} violating of {by[(cell, mo)]['runs']} runs"
                                  for mo in ran) or f"no run under {' or '.join(models)}"))
        if not any(step in cls.droppable for cls in METHODS.values()):
            out.append((f"any method {what}", "no data", f"no method has a step {step} to drop"))
    return out


def matrix_sections(stats, groups):
    """The Markdown of the verdict matrix, the assumptions, the failing cells' counterexamples and the
    predictions."""
    lists = sorted({x for s in stats.values() for x in s["cmodx_lists"]})
    md = ["## The verdict matrix", "",
          "Each method (and dropped step) under each machine model (cpu.model: `ideal`, `armv7`, and each "
          "relaxation alone at its armv7 setting): `violating / relying on UNPREDICTABLE / clean` runs.  A run "
          "relies on UNPREDICTABLE when a fetch could have returned two encodings the CMODX list "
          f"({', '.join(lists)}; ftrace.kernel.cmodx) does not let another core swap live; that is neither a pass "
          "nor a crash, and a run with a violation counts as violating only.", "", matrix_table(stats), ""]
    md += ["## Hardware assumptions per method", "",
           "The single-relaxation models under which a method has violations: each is an assumption about the "
           "hardware the method needs.", "", "| method | broken by | needs |", "|---|---|---|"]
    md += [f"| {c} | {', '.join(b) or '-'} | {need} |" for c, b, need in assumptions(stats)]
    md.append("")
    fails = failing_cells(stats, groups)
    if fails:
        md += ["## Counterexamples per failing cell (replay exactly)", ""]
        md += [f"* {c} [{mo}], seed {r.seed}: {', '.join(r.violations)} -- `{replay_command(r)}`"
               for c, mo, r in fails]
        md.append("")
    md += ["## What the theory predicts", "", "Computed from the cells above, not asserted.", "",
           "| prediction | verdict | evidence |", "|---|---|---|"]
    md += [f"| {p} | **{v}** | {e} |" for p, v, e in predictions(stats)]
    md.append("")
    return md


# ---- plots ----

def plot_violations(stats, path, title=None):
    labels = list(stats)
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(labels) + 2), 4.5))
    x = range(len(labels))
    width = 0.8 / len(SHOWN)
    for i, k in enumerate(SHOWN):
        ax.bar([j + i * width - 0.4 + width / 2 for j in x],
               [100 * stats[lb]["kinds"][k] / stats[lb]["runs"] for lb in labels], width, label=k, color=COLORS[k])
    ax.plot(list(x), [100 * stats[lb]["bad"] / stats[lb]["runs"] for lb in labels], "k_", markersize=18,
            label="any violation")
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("% of runs")
    ax.set_ylim(0, 105)
    ax.set_title("Runs with a violation, by kind" + (f" [{title}]" if title else ""))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_cmodx(stats, path):
    labels = [lb for lb in stats if not stats[lb]["drop"]]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(labels, [stats[lb]["cmodx"] / max(1, stats[lb]["updates"]) for lb in labels], color="#1f77b4")
    ax.set_ylabel("fetches per update")
    ax.set_title("CMODX audit: fetches of concurrently modified\ninstructions the ARMv7 rules do not cover")
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cost_groups(rows):
    programs = list(dict.fromkeys(r["program"] for r in rows))
    cores = sorted({r["cores"] for r in rows})
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    return programs, cores, methods


def _get(rows, prog, n, meth):
    for r in rows:
        if r["program"] == prog and r["cores"] == n and r["method"] == meth:
            return r
    return None


def plot_cost_bars(rows, path, key, title):
    programs, cores, methods = _cost_groups(rows)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    groups = [(p, n) for p in programs for n in cores]
    for ax, what in zip(axes, ("enable", "disable")):
        width = 0.8 / max(1, len(methods))
        for i, meth in enumerate(methods):
            vals = [(_get(rows, p, n, meth) or {}).get(what, {}).get(key, 0) for p, n in groups]
            ax.bar([j + i * width - 0.4 + width / 2 for j in range(len(groups))], vals, width, label=meth)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([f"{p.replace('bigfuncs-', '').replace('.elf', '')} x{n}" for p, n in groups],
                           fontsize=7, rotation=45, ha="right")
        ax.set_yscale("log")
        ax.set_title(what)
    axes[0].set_ylabel(title)
    axes[1].legend(fontsize=8)
    axes[0].set_xlabel("program x cores")
    fig.suptitle(title + " per update (log scale)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_cost_scaling(rows, path):
    programs, cores, methods = _cost_groups(rows)
    fig, axes = plt.subplots(1, len(programs), figsize=(4.5 * len(programs), 3.8), squeeze=False)
    for ax, prog in zip(axes[0], programs):
        for meth in methods:
            pts = [(n, _get(rows, prog, n, meth)) for n in cores]
            pts = [(n, r["enable"]["others_lost_cycles"] + r["disable"]["others_lost_cycles"]) for n, r in pts if r]
            ax.plot([p[0] for p in pts], [max(1, p[1]) for p in pts], "o-", label=meth)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(cores)
        ax.set_xticklabels([str(c) for c in cores])
        ax.set_xlabel("cores")
        ax.set_title(prog.replace(".elf", ""))
    axes[0][0].set_ylabel("cycles lost by the other cores\n(enable + disable)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- the document ----

def cost_tables(rows):
    from ftrace.explore.costs import format_table
    return format_table(rows, "enable"), format_table(rows, "disable")


def cost_ranking(rows):
    """Methods by the sum over every measurement of enable + disable: patcher cycles and others' lost cycles."""
    tot = {}
    for r in rows:
        t = tot.setdefault(r["method"], [0, 0, 0, 0, 0.0])
        for what in ("enable", "disable"):
            u = r[what]
            t[0] += u["cycles"]
            t[1] += u["others_lost_cycles"]
            t[2] += u["ipis"]
            t[3] += u["bkpt_hits"]
            t[4] += u["host_seconds"]
    return sorted(tot.items(), key=lambda kv: kv[1][0] + kv[1][1])


def write_report(outdir, results, cost_rows=(), command=None, config=None, elapsed=None, backend=None):
    """Write outdir/README.md and the PNGs; returns the Markdown path."""
    os.makedirs(outdir, exist_ok=True)
    groups = by_label(results)
    stats = {lb: label_stats(rs) for lb, rs in groups.items()}
    md = ["# Live code patching on a Thumb-2 SMP: protocols side by side", ""]
    if command:
        md += ["Produced by", "", "    " + command, ""]
    nruns = sum(s["runs"] for s in stats.values())
    md += [f"{nruns} randomized runs over {len(stats)} labels"
           + (f" in {elapsed:.0f} s of wall time" if elapsed else "")
           + (f" ({backend} backend)" if backend else "")
           + f", on {platform.node() or 'this machine'} ({os.cpu_count()} CPUs), {time.strftime('%Y-%m-%d')}.", ""]
    if config is not None:
        md += ["Workload (explore.Config): " + ", ".join(f"{k}={v!r}" for k, v in config.__dict__.items()), ""]
    md += ["## Violations per method and kind", "",
           "A run counts once per kind it showed; `rate` is the share of runs with any violation.  "
           "Kinds: fault (the guest faulted), torn (a 32-bit instruction executed whose halves never stood "
           "together in memory), mixed (a relaxed fetch executed at a site an instruction that is neither the "
           "site's old one, its new one nor the breakpoint), late-stale (bytes executed that a completed update "
           "had overwritten), stack "
           "(a core's sp off at the end), wrong-result (output differs from the untraced run).  A run that relies "
           "on UNPREDICTABLE (see the CMODX audit) is counted apart, and only when it has no violation.", "",
           violations_table(stats), "", "![violations](violations.png)", ""]
    if any(s["bad"] for s in stats.values()):
        md += ["## Where the violations were", "",
               "A site straddles when its BL's two halfwords sit in two 32-byte icache lines "
               "(ip % 32 == 30).  A fault not at a site is downstream of an earlier mixed instruction "
               "(a wild branch or a corrupted sp).", "", where_table(stats), ""]
    if models_of(stats) != ["ideal"]:
        md += matrix_sections(stats, groups)
    ans = expected_answers(stats)
    if ans:
        md += ["## The expected answers", "", "| claim | verdict | evidence |", "|---|---|---|"]
        md += [f"| {c} | **{v}** | {e} |" for c, v, e in ans]
        md.append("")
    bad = [(lb, s) for lb, s in stats.items() if s["bad"]]
    if bad:
        md += ["## Counterexamples (replay exactly)", ""]
        for lb, s in bad:
            r = next(r for r in groups[lb] if r.seed == s["first_seed"])
            md.append(f"* {lb}, seed {r.seed}: {', '.join(r.violations)} -- `{replay_command(r)}`")
        md.append("")
    runs = list(results.values()) if isinstance(results, dict) else list(results)
    if any(r.coverage for r in runs):
        md += ["## Coverage", "",
               "Per update phase k (the k-th sync of an update; stop_machine's release closes its one window): "
               "the share of site-update windows -- from the site's write to the end of sync k -- in which some "
               "core fetched the site as the machine reports fetches (stale, torn or relaxed), the breakpoint hits "
               "per window, and per run the reported fetches at straddling sites and the targeted evictions of "
               "site lines (ftrace.explore.adversary).", ""]
        md += [f"* {line}" for line in coverage_lines(runs)] + [""]
    md += ["## CMODX audit", "",
           "On a model with line-atomic fills (ideal, and each relaxation that keeps them) this audit is the "
           "relies-on-UNPREDICTABLE check; a model whose fills may return several values judges each fetch's "
           "could-fetch-from set instead.  Under the v7 list (`--cmodx maa` judges by DDI0487 M.a.a E2.2.5's): "
           "fetches, while an update ran, of instructions being modified where old and new are not both among "
           "the 16-bit B, NOP, BKPT and SVC that the ARMv7 concurrent-modification rules cover for Thumb.  "
           "Every method here rewrites 32-bit BLs (or, for branch_over, swaps a 16-bit B with a 16-bit PUSH), so "
           "every one of them relies on behaviour the architecture leaves UNPREDICTABLE when another core "
           "fetches the instruction meanwhile.  The window counted is the whole update "
           "(ftrace_run_update_code), so stop_machine's count holds the fetches before the other cores took "
           "the parking IPI and after their release, not during its writes.", "", "![cmodx](cmodx.png)", ""]
    # the plots show one model's labels (ideal's, when there): the matrix holds the others
    models = models_of(stats)
    shown = {lb: s for lb, s in stats.items() if s["model"] == ("ideal" if "ideal" in models else models[0])}
    plot_violations(shown, os.path.join(outdir, "violations.png"),
                    title=None if models == ["ideal"] else next(iter(shown.values()))["model"])
    plot_cmodx(shown, os.path.join(outdir, "cmodx.png"))
    if cost_rows:
        en, dis = cost_tables(cost_rows)
        cfg = cost_rows[0].get("config", {})
        md += ["## Cost per method", "",
               "One ftrace_enabled=1 (every site to the call, plus ftrace_call) and one ftrace_enabled=0 (every "
               "site to the nop) while every core runs the bigfuncs call tree in a loop (ftrace/explore/costs.py).  "
               "cycles: the patching core's, from start to end of the update (its writes and its waits for IPI "
               "acknowledgements); others lost: what the other cores spent in the breakpoint handler, parked by "
               "stop_machine, taking IPIs and in tracer host calls; their icache refills are counted, not "
               "charged (bigfuncs-10k and -50k overflow the 32 KiB icache, so the cores miss all the time "
               "anyway); crashes: other cores that faulted on a torn site and were restarted.  Schedule and cost "
               "model: " + ", ".join(f"{k}={v}" for k, v in cfg.items()) + ".", "", "### Enable", "", en, "",
               "### Disable", "", dis, "",
               "### Ranking (sum over every measurement above, enable + disable)", "",
               "| rank | method | patcher cycles | others' lost cycles | IPIs | breakpoint hits | host s |",
               "|---|---|---|---|---|---|---|"]
        for i, (meth, t) in enumerate(cost_ranking(cost_rows), 1):
            md.append(f"| {i} | {meth} | {t[0]:,} | {t[1]:,} | {t[2]:,} | {t[3]:,} | {t[4]:.1f} |")
        md += ["", "![cycles](cost_cycles.png)", "", "![lost](cost_lost.png)", "", "![scaling](cost_scaling.png)",
               ""]
        plot_cost_bars(cost_rows, os.path.join(outdir, "cost_cycles.png"), "cycles", "patcher cycles")
        plot_cost_bars(cost_rows, os.path.join(outdir, "cost_lost.png"), "others_lost_cycles",
                       "cycles the other cores lost")
        plot_cost_scaling(cost_rows, os.path.join(outdir, "cost_scaling.png"))
    path = os.path.join(outdir, "README.md")
    with open(path, "w") as f:
        f.write("\n".join(md))
    return path
