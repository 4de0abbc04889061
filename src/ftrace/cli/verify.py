"""`ftrace verify`: the exhaustive checker (ftrace.explore.verify) from the command line."""
import time

from cpu.model import MODELS
from ftrace.explore import verify as V
from ftrace.kernel.cmodx import CMODX, SOURCES
from ftrace.kernel.methods import METHODS


def add_verify_parser(sub):
    p = sub.add_parser("verify", help="check every interleaving of the litmus workload with one enable and one "
                                      "disable update, within a preemption bound (stateless model checking)")
    p.add_argument("--method", required=True, choices=list(METHODS))
    p.add_argument("--model", default="ideal", choices=list(MODELS))
    p.add_argument("--drop", action="append", default=[], metavar="STEP", help="a step of the method to leave out")
    p.add_argument("--cores", type=int, default=2, help="worker cores calling the traced functions (default 2)")
    p.add_argument("--iters", type=int, default=1, help="rounds of calls per worker (default 1)")
    p.add_argument("--bound", type=int, default=1, help="preemption bound (default 1; -1: none)")
    p.add_argument("--evictions", choices=V.EVICTIONS, default="lazy",
                   help="site-line evictions offered as choices: lazy (default: a stale copy before a core's step, "
                        "any copy just before a write to its line), all (any copy before any step), none")
    p.add_argument("--cmodx", choices=CMODX, default="v7",
                   help="the concurrent-modification list a fetch relies on UNPREDICTABLE against (default v7)")
    p.add_argument("--jobs", type=int, default=1, help="processes; the space is split by schedule prefix")
    p.add_argument("--split", type=int, default=None, help="choices in a split prefix (default 6 with --jobs)")
    p.add_argument("--replay", metavar="CHOICES", help="re-run one choice vector and explain it step by step")
    p.add_argument("--sleep-sets", choices=("auto", "on", "off"), default="auto",
                   help="sleep sets (default auto: on only with --bound -1, where they are sound and pay)")
    p.add_argument("--no-shortest", action="store_true", help="skip the search for a shortest counterexample")


def cell_of(args):
    return V.Cell(args.method, model=args.model, drop=tuple(args.drop), cores=args.cores, iters=args.iters,
                  bound=None if args.bound < 0 else args.bound, evictions=args.evictions, cmodx=args.cmodx,
                  sleep={'auto': None, 'on': True, 'off': False}[args.sleep_sets])


def command(cell, choices):
    drop = "".join(f" --drop {d}" for d in cell.drop)
    return (f"python -m ftrace verify --method {cell.method} --model {cell.model}{drop} --cores {cell.cores} "
            f"--iters {cell.iters} --bound {-1 if cell.bound is None else cell.bound}"
            f"{'' if cell.evictions == 'lazy' else ' --evictions ' + cell.evictions}"
            f"{'' if cell.cmodx == 'v7' else ' --cmodx ' + cell.cmodx}"
            f" --replay {V.encode(choices)}")


def cmd_verify(args):
    cell = cell_of(args)
    if args.replay is not None:
        outcome, detail, log = V.replay(cell, V.decode(args.replay))
        print(f"replay of {V.header(cell)} {args.replay}:")
        print("\n".join(log))
        print(f"  => {detail if outcome == 'violation' else outcome}")
        return 1 if outcome == "violation" else 0
    print(f"UNPREDICTABLE: schedules with a fetch at a site that could return two encodings the CMODX list "
          f"({SOURCES[cell.cmodx]}) does not let another core swap live")
    t0 = time.perf_counter()
    split = args.split if args.split is not None else (6 if args.jobs > 1 else None)
    res = V.verify(cell, jobs=args.jobs, split=split)
    print(V.summary(cell, res) + f"; {res.executions} executions, {time.perf_counter() - t0:.1f} s")
    if res.violating:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(res.kinds.items()))
        print(f"  violations: {kinds}; first: {res.first_detail}")
        if not args.no_shortest:
            short = V.shortest(cell, (V.decode(res.first), res.first_detail))
            if short is not None:
                choices, detail = short
                print(f"shortest counterexample: {len(choices)} steps: {command(cell, choices)}")
                print(f"  {detail}")
        return 1
    return 0
