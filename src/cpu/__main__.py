"""python -m cpu: run Thumb-2 programs on the simulated SMP, and print the flags to build them."""
import argparse
import os
import sys
import time

from cpu.faults import GuestFault, InstructionLimit, ELFError
from cpu.machine import Machine, SCHEDULES
from cpu.model import MODELS

GUEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guest")
ARCH_FLAGS = "-mthumb -march=armv7-m -mfloat-abi=soft"


def cflags():
    return f"{ARCH_FLAGS} -I{GUEST}"


def ldflags():
    return f"{ARCH_FLAGS} --specs=rdimon.specs {os.path.join(GUEST, 'lib', 'libsmp.a')}"


def format_stats(machine, seconds):
    model = machine.model
    relax = ", ".join(f"{k}={getattr(model, k)}" for k in model.relaxations)
    lines = [f"model {model.name}" + (f" ({relax})" if relax else ""),
             f"{'cpu':>4} {'instructions':>14} {'cycles':>14} {'icache hit':>12} {'miss':>8} {'ipis':>6} "
             f"{'bkpt':>6} {'stale':>6} {'late':>6} {'torn':>6}"]
    for s in machine.stats():
        lines.append(f"{s['core']:>4} {s['instructions']:>14} {s['cycles']:>14} {s['icache_hits']:>12} "
                     f"{s['icache_misses']:>8} {s['ipis']:>6} {s['bkpt_hits']:>6} {s['stale_fetches']:>6} "
                     f"{s['late_stale_fetches']:>6} {s['torn_fetches']:>6}")
    total = machine.instructions
    mips = total / seconds / 1e6 if seconds > 0 else 0.0
    lines.append(f"total {total} instructions in {seconds:.3f} s host time: {mips:.1f} simulated MIPS")
    return "\n".join(lines)


def add_machine_args(p):
    p.add_argument("--cores", type=int, default=1, help="number of cores (1-256, default 1)")
    p.add_argument("--model", choices=list(MODELS), default="ideal",
                   help="machine model: how far IPIs, handlers and instruction fetch are relaxed (default ideal)")
    p.add_argument("--seed", type=int, default=0, help="seed for every random choice (default 0)")
    p.add_argument("--schedule", choices=SCHEDULES, default="round-robin",
                   help="interleaving of the cores (default round-robin)")
    p.add_argument("--quantum", type=int, default=1000,
                   help="instructions per scheduling step; the mean for --schedule random (default 1000)")
    p.add_argument("--mem-size", type=int, default=64 << 20, help="guest memory in bytes (default 64 MiB)")
    p.add_argument("--no-icache", action="store_true", help="coherent fetches (the baseline without icaches)")
    p.add_argument("--max-instructions", type=int, default=None, metavar="N",
                   help="stop with an error after N instructions")
    p.add_argument("--stats", action="store_true", help="print per-core statistics to stderr at the end")


def make_machine(args):
    return Machine(cores=args.cores, model=args.model, seed=args.seed, schedule=args.schedule, quantum=args.quantum,
                   mem_size=args.mem_size, icache=not args.no_icache)


def cmd_run(args):
    try:
        m = make_machine(args)
        m.load_elf(args.program, argv=[args.program] + args.args)
    except (ValueError, ELFError, OSError) as e:
        print(f"cpu: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    status = None
    try:
        status = m.run(max_instructions=args.max_instructions)
    except InstructionLimit as e:
        print(f"cpu: {e}", file=sys.stderr)
        status = 124
    except GuestFault as e:
        print(f"cpu: {e}", file=sys.stderr)
        status = 139
    finally:
        sys.stdout.flush()
        if args.stats:
            print(format_stats(m, time.perf_counter() - t0), file=sys.stderr)
    return status & 0xff if status >= 0 else 1


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m cpu", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run an ARM ELF program to completion",
                       description="Run PROG.elf; guest stdout/stderr go to ours, the exit status is the guest's "
                                   "(124 when --max-instructions is hit, 139 on a guest fault).")
    r.add_argument("program", metavar="PROG.elf")
    r.add_argument("args", nargs="*", help="arguments passed to the guest program (put them after -- if they "
                                           "start with a dash)")
    add_machine_args(r)
    sub.add_parser("cflags", help="compiler flags for a program using smp.h (like pkg-config --cflags)")
    sub.add_parser("ldflags", help="linker flags for such a program (like pkg-config --libs)")
    args, extra = p.parse_known_args(argv)
    if extra and args.cmd != "run":
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.cmd == "run":
        args.args += [a for a in extra if a != "--"]
    if args.cmd == "cflags":
        print(cflags())
        return 0
    if args.cmd == "ldflags":
        print(ldflags())
        return 0
    return cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
