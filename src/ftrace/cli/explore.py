"""`ftrace explore` and `ftrace replay --seed S`: the code-patching protocol explorer on the command line.

    python -m ftrace explore --method breakpoint --runs 1000 --seed 0
    python -m ftrace explore --method all --drop each --runs 50
    python -m ftrace explore --report out/ --runs 10000      # Markdown + PNGs, with the cost figures
    python -m ftrace replay --method direct --seed 3         # the interleaving that broke, exactly again
    python -m ftrace explore --matrix --runs 100 --report docs/explore     # every method x every model

explore prints one line per method (and dropped step): `METHOD: violations V of R runs (kind n, ...)`, then a
replay command for the first violating seed of each, and exits 0 whether or not violations were found (2 on a
usage error).  With --model (or --cmodx) each line names the model and splits the runs into the three verdict
classes: `METHOD [MODEL]: V violating (kind n, ...), U relying on UNPREDICTABLE (cmodx v7), C clean of R runs`;
without, the lines are the ideal machine's as they always were (the header on stderr names the model).
ftrace.cli (the `ftrace` command) calls add_explore_parsers(subparsers) and dispatches to cmd_explore /
cmd_replay.
"""
import sys
import time

import cpu.model
from ftrace.explore.campaign import (BACKENDS, CampaignError, JsonlWriter, labels_for, models_for, replay_command,
                                     run_campaign, tasks_for)
from ftrace.explore.adversary import WORKLOADS, coverage_lines
from ftrace.explore.run import Config, explain, summarize
from ftrace.kernel.cmodx import CMODX, SOURCES
from ftrace.kernel.methods import METHODS, check_drop, droppable_help


def add_explore_parsers(subparsers):
    e = subparsers.add_parser(
        "explore", help="randomized runs of the patching methods under live load, checked for violations",
        description="Run many randomized executions of each patching method (seeds S..S+N-1) while tracing is "
                    "switched on and off under a 4-core hot loop, and report violations per method and kind.",
        epilog="droppable steps: " + droppable_help())
    e.add_argument("--method", action="append", metavar="M",
                   help=f"a method ({', '.join(METHODS)}) or 'all'; repeatable (default: all)")
    e.add_argument("--drop", metavar="STEP",
                   help="ablation: drop STEP (or STEP,STEP) from every method that has it; 'each' = each method "
                        "as is and with each of its droppable steps dropped, as separate labels")
    e.add_argument("--model", action="append", metavar="M", choices=(*cpu.model.MODELS, "all"),
                   help=f"the machine model ({', '.join(cpu.model.MODELS)}) or 'all'; repeatable (default: ideal)")
    e.add_argument("--cmodx", choices=CMODX, default=None,
                   help="the concurrent-modification list a fetch relies on UNPREDICTABLE against: "
                        + "; ".join(f"{k}: {v}" for k, v in SOURCES.items()) + " (default v7)")
    e.add_argument("--matrix", action="store_true",
                   help="the verdict matrix: every method x every model with each drop ablation "
                        "(--method all --model all --drop each, unless given otherwise)")
    e.add_argument("--runs", type=int, default=100, metavar="N", help="runs per method/drop label (default 100)")
    e.add_argument("--drop-runs", type=int, default=None, metavar="N",
                   help="runs per label that drops a step, when it should differ from --runs")
    e.add_argument("--seed", type=int, default=0, metavar="S", help="first seed; runs use S..S+N-1 (default 0)")
    e.add_argument("--jobs", type=int, default=None, metavar="J",
                   help="worker processes (process backend) or local Dask workers (default: os.cpu_count())")
    e.add_argument("--backend", choices=BACKENDS, default=None,
                   help="serial, process (default) or dask (default with --dask-scheduler)")
    e.add_argument("--dask-scheduler", metavar="ADDR",
                   help="a running Dask scheduler (tcp://host:8786); without it --backend dask starts a "
                        "LocalCluster")
    e.add_argument("--report", metavar="DIR", help="write DIR/README.md and PNG plots, with the cost figures")
    e.add_argument("--cost-cores", default="2,4,16,64", metavar="N,N",
                   help="--report: core counts of the cost measurements ('none' to skip them)")
    e.add_argument("--cost-programs", default=None, metavar="P,P",
                   help="--report: bigfuncs programs of the cost measurements (default: 1k, 10k, and 50k if built)")
    e.add_argument("--save", metavar="FILE", help="write every result as a JSON line (violating runs with their "
                                                  "events and the recorded schedule's length and hash)")
    e.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    a = e.add_argument_group("coverage and adversarial options (default off: today's runs exactly)")
    a.add_argument("--coverage", action="store_true",
                   help="per method and phase: the share of site-update windows some core fetched the site in, "
                        "breakpoint hits per window, split fetches and site-line evictions per run")
    a.add_argument("--workload", choices=WORKLOADS, default="hot", help="the guest program (default hot)")
    a.add_argument("--cores", type=int, default=4, metavar="N", help="cores, 2 to 16 (default 4)")
    a.add_argument("--patch-cpu", default="0", metavar="C",
                   help="the patching core, or 'random' (one per run, from the seed; default 0)")
    a.add_argument("--evict-sites", type=int, default=0, metavar="P",
                   help="per step, in 1/65536: evict a line holding a site on a random core")
    a.add_argument("--desched-rate", type=int, default=0, metavar="P",
                   help="per step, in 1/65536: deschedule a random core for a Pareto-distributed number of steps")
    a.add_argument("--desched-alpha", type=float, default=1.2, metavar="A", help="the Pareto shape (default 1.2)")
    a.add_argument("--desched-min", type=int, default=20, metavar="S", help="the shortest descheduling (steps)")
    r = subparsers.add_parser(
        "replay", help="re-run one explorer run exactly and show the interleaving that broke (or print a "
                       "recorded trace file with -i)",
        description="With --seed: re-run explorer run (method, drop, seed) exactly, stopping at its first torn or "
                    "late-stale fetch or fault, and print which core fetched which halfwords when.  Without "
                    "--seed (or with -i FILE): print a recorded trace.dat.",
        epilog="droppable steps: " + droppable_help())
    r.add_argument("--method", default="breakpoint", help=f"one of {', '.join(METHODS)} (default breakpoint)")
    r.add_argument("--seed", type=int, default=None, metavar="S")
    r.add_argument("--drop", default=None, metavar="STEP", help="the dropped step(s), comma-separated")
    r.add_argument("--model", default=None, choices=cpu.model.MODELS, metavar="M",
                   help=f"the machine model the run ran on ({', '.join(cpu.model.MODELS)}; default ideal)")
    r.add_argument("--cmodx", choices=CMODX, default=None, help="the CMODX list (default v7)")
    r.add_argument("--lines", type=int, default=40, help="timeline lines to show (default 40)")
    r.add_argument("-i", "--input", default=None, help="a recorded trace file to print instead")
    return e, r


def _usage(msg):
    print(f"ftrace: {msg}", file=sys.stderr)
    return 2


def _int_list(text, what):
    try:
        vals = [int(x) for x in text.split(",") if x]
    except ValueError:
        raise CampaignError(f"{what} wants numbers separated by commas, got {text!r}")
    if not vals or any(v < 1 for v in vals):
        raise CampaignError(f"{what} wants positive numbers, got {text!r}")
    return vals


def cmd_explore(args):
    methods = args.method or ["all"]
    if args.matrix:
        args.model = args.model or ["all"]
        args.drop = args.drop or "each"
    backend = args.backend or ("dask" if args.dask_scheduler else "process")
    try:
        if args.runs < 1:
            raise CampaignError("--runs must be at least 1")
        if args.jobs is not None and args.jobs < 1:
            raise CampaignError("--jobs must be at least 1")
        if args.dask_scheduler and backend != "dask":
            raise CampaignError("--dask-scheduler goes with --backend dask")
        labels = labels_for(methods, args.drop)
        models = models_for(args.model)
        tasks = tasks_for(methods, args.drop, args.runs, args.seed, args.drop_runs, models)
        if args.report:
            try:
                from ftrace.explore.report import write_report
            except ImportError as e:         # before the campaign, not after it
                raise CampaignError(str(e))
        cost_cores = None
        if args.report and args.cost_cores != "none":
            cost_cores = _int_list(args.cost_cores, "--cost-cores")
        cost_programs = None
        if args.cost_programs:
            cost_programs = [p if p.endswith(".elf") else p + ".elf" for p in args.cost_programs.split(",") if p]
            from ftrace.explore.costs import program_path
            missing = [p for p in cost_programs if program_path(p) is None]
            if missing:
                raise CampaignError(f"--cost-programs: {', '.join(missing)} not found")
    except CampaignError as e:
        return _usage(str(e))
    try:
        config = explore_config(args)
    except CampaignError as e:
        return _usage(str(e))
    named = bool(args.model or args.cmodx)
    writer = None
    if args.save:
        try:
            writer = JsonlWriter(args.save)
        except OSError as e:
            return _usage(f"--save: {e}")
    print(f"explore: {len(labels)} label(s), {len(tasks)} runs (seeds from {args.seed}), {backend} backend; "
          + (f"model{'s' if len(models) > 1 else ''} {', '.join(models)}" if args.model else "model ideal (default)")
          + f", cmodx {config.cmodx}", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        results = run_campaign(tasks, config, backend=backend, jobs=args.jobs, scheduler=args.dask_scheduler,
                               progress=not args.quiet, on_result=writer)
    except CampaignError as e:
        return _usage(str(e))
    finally:
        if writer is not None:
            writer.close()
    elapsed = time.perf_counter() - t0
    for line in summarize(list(results.values()), named=named):
        print(line)
    shown = set()
    for r in results.values():
        if r.violations and r.label not in shown:
            shown.add(r.label)
            print(f"  {r.named if named else r.label}: first violation at seed {r.seed} ({', '.join(r.violations)}): "
                  f"{replay_command(r)}")
    if args.coverage:
        for line in coverage_lines(results):
            print(line)
    print(f"explore: {len(results)} runs in {elapsed:.1f} s ({len(results) / max(elapsed, 1e-9):.1f} runs/s)",
          file=sys.stderr)
    if args.report:
        rows = []
        if cost_cores:
            from ftrace.explore import costs
            progs = cost_programs or costs.available_programs()
            n = len(progs) * len(cost_cores) * len(METHODS)
            print(f"explore: cost figures, {n} measurements ({', '.join(progs)} x {cost_cores} cores)",
                  file=sys.stderr)
            from ftrace.explore.campaign import Progress
            bar = Progress(n, desc="costs", enabled=not args.quiet, unit="measurement")
            rows = costs.cost_matrix_parallel(tuple(METHODS), progs, tuple(cost_cores), jobs=args.jobs,
                                              progress=lambda row: bar.advance())
            bar.close()
        path = write_report(args.report, results, rows, command=_command_line(args), config=config,
                            elapsed=elapsed, backend=backend)
        print(f"explore: report written to {path}", file=sys.stderr)
    return 0


def explore_config(args):
    """The run Config of the explore options."""
    if not 2 <= args.cores <= 16:
        raise CampaignError("--cores wants 2 to 16")
    if args.patch_cpu == "random":
        patch_cpu = -1
    elif args.patch_cpu.isdigit() and int(args.patch_cpu) < args.cores:
        patch_cpu = int(args.patch_cpu)
    else:
        raise CampaignError(f"--patch-cpu wants a core below {args.cores} or 'random', got {args.patch_cpu!r}")
    if not (0 <= args.evict_sites <= 65536 and 0 <= args.desched_rate <= 65536):
        raise CampaignError("--evict-sites and --desched-rate are in 1/65536: 0 to 65536")
    if args.desched_alpha <= 0 or args.desched_min < 1:
        raise CampaignError("--desched-alpha wants a positive shape, --desched-min at least 1 step")
    return Config(cmodx=args.cmodx or "v7", cores=args.cores, patch_cpu=patch_cpu, evict_sites=args.evict_sites,
                  desched_rate=args.desched_rate, desched_alpha=args.desched_alpha, desched_min=args.desched_min,
                  coverage=bool(args.coverage or args.report), **WORKLOADS[args.workload])


def _command_line(args):
    parts = ["python -m ftrace explore"]
    for m in args.method or []:
        parts.append(f"--method {m}")
    for m in args.model or []:
        parts.append(f"--model {m}")
    if args.cmodx:
        parts.append(f"--cmodx {args.cmodx}")
    if args.drop:
        parts.append(f"--drop {args.drop}")
    for flag, default in (("workload", "hot"), ("cores", 4), ("patch_cpu", "0"), ("evict_sites", 0),
                          ("desched_rate", 0), ("desched_alpha", 1.2), ("desched_min", 20)):
        if getattr(args, flag) != default:
            parts.append(f"--{flag.replace('_', '-')} {getattr(args, flag)}")
    if args.coverage:
        parts.append("--coverage")
    parts.append(f"--runs {args.runs}")
    if args.drop_runs is not None:
        parts.append(f"--drop-runs {args.drop_runs}")
    if args.seed:
        parts.append(f"--seed {args.seed}")
    if args.report:
        parts.append(f"--report {args.report}")
        if args.cost_cores != "2,4,16,64":
            parts.append(f"--cost-cores {args.cost_cores}")
        if args.cost_programs:
            parts.append(f"--cost-programs {args.cost_programs}")
    return " ".join(parts)


def cmd_replay(args):
    if args.method not in METHODS:
        return _usage(f"unknown method {args.method!r}; choose from {', '.join(METHODS)}")
    if args.seed is None:
        return _usage("replay of an explorer run needs --seed")
    drop = tuple(s for s in (args.drop or "").split(",") if s)
    try:
        check_drop(args.method, drop)
    except ValueError as e:
        return _usage(str(e))
    _, text = explain(args.method, args.seed, drop, Config(cmodx=args.cmodx or "v7"),
                      max_lines=getattr(args, "lines", 40), model=args.model or "ideal",
                      named=bool(args.model or args.cmodx))
    print(text)
    return 0
