"""`ftrace mutants`: the mutation table -- every built-in deliberate bug (ftrace.explore.mutants) put to the
explorer (and to `verify` when it is in the tree), each under the model it needs.

    python -m ftrace mutants --runs 20
    python -m ftrace mutants --mutant disarm-early --mutant control --runs 100 --seed 1000
"""
import sys

from ftrace.explore.mutants import MUTANTS, measure, table


def add_mutants_parser(subparsers):
    p = subparsers.add_parser(
        "mutants", help="the mutation table: deliberate bugs, and whether the explorer (and verify) catch them",
        description="Run each built-in mutant (a named deliberate bug, switched on at run time) under its model "
                    "for seeds S..S+N-1 and report how often the explorer catches it; the control must show "
                    "none.",
        epilog="mutants: " + "; ".join(f"{m.name}: {m.description}" for m in MUTANTS.values()))
    p.add_argument("--runs", type=int, default=20, metavar="N", help="runs per mutant (default 20)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="first seed (default 0)")
    p.add_argument("--mutant", action="append", metavar="NAME", choices=MUTANTS,
                   help=f"one of {', '.join(MUTANTS)}; repeatable (default: all)")
    p.add_argument("--jobs", type=int, default=None, metavar="J", help="worker processes (default: all CPUs)")
    return p


def cmd_mutants(args):
    if args.runs < 1:
        print("ftrace: --runs must be at least 1", file=sys.stderr)
        return 2
    for line in table(measure(args.mutant, args.runs, args.seed, args.jobs)):
        print(line)
    return 0
