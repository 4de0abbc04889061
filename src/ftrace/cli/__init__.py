"""The `ftrace` command (also `python -m ftrace`): trace-cmd/uftrace-style subcommands over the simulated SMP.

    ftrace demo                          the bundled 4-core workload traced live, switched on and off
    ftrace run PROG.elf [options]        run a program with a tracer and print the trace
    ftrace record [-o trace.dat] [PROG]  like trace-cmd record: write a trace-cmd trace.dat
    ftrace sites [PROG]                  every mcount site: address, function, halfwords, icache straddle, flags
    ftrace report [-i trace.dat]         per-function calls, total and self time (like uftrace report)
    ftrace show [-i trace.dat]           the kernel text format from a recorded file (also: replay -i FILE)
    ftrace explore / replay --seed S     the code-patching protocol explorer (see ftrace/explore)
    ftrace mutants [--runs N]            the mutation table: deliberate bugs the explorer must catch
    ftrace verify --method M             every interleaving of a litmus workload, within a bound
    ftrace cflags / ldflags              how to build a program for it (like pkg-config)
"""
import argparse
import io
import os
import sys
import time

import cpu
import cpu.model
from cpu import memmap
from cpu.__main__ import format_stats
from cpu.faults import ELFError, GuestFault, InstructionLimit
from ftrace.cli.explore import add_explore_parsers, cmd_explore
from ftrace.cli.explore import cmd_replay as explorer_replay
from ftrace.cli.mutants import add_mutants_parser, cmd_mutants
from ftrace.cli.verify import add_verify_parser, cmd_verify
from ftrace.kernel.core import ERAS
from ftrace.kernel.methods import METHODS, TRAPS
from ftrace.kernel.ops import FtraceError
from ftrace.kernel.records import FTRACE_FL_ENABLED, FTRACE_FL_MASK
from ftrace.kernel.trace import TRACERS, Ftrace

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))     # the ftrace package
GUEST_BIN = os.path.join(HERE, "guest", "bin")
DEMO_PROGRAM = os.path.join(GUEST_BIN, "workload-O2.elf")   # = ftrace.DEMO_PROGRAM
CPU_GUEST = os.path.join(os.path.dirname(os.path.abspath(cpu.__file__)), "guest")


class UsageError(Exception):
    """A command-line mistake: one line on stderr, exit status 2."""


# ---- building ----

def cflags():
    return f"-mthumb -march=armv7-m -mfloat-abi=soft -pg -I{CPU_GUEST}"


def ldflags():
    """-L finds lib/libc_p.a, a linker script standing in for the profiling libc that -pg asks for at link time
    (newlib in Debian has none); -Wl,-q keeps the relocations recordmcount reads."""
    lib = os.path.join(HERE, "guest", "lib")
    return (f"-mthumb -march=armv7-m -mfloat-abi=soft --specs=rdimon.specs -Wl,-q -L{lib} "
            f"{os.path.join(lib, 'libftrace.a')} {os.path.join(CPU_GUEST, 'lib', 'libsmp.a')}")


# ---- a traced run ----

def parse_times(text):
    if not text:
        return []
    try:
        times = [int(x.replace("_", ""), 0) for x in text.split(",")]
    except ValueError:
        raise UsageError(f"--toggle-at wants instruction counts separated by commas, got {text!r}")
    if times != sorted(times) or any(t < 0 for t in times):
        raise UsageError("--toggle-at counts must be non-negative and increasing")
    return times


def traced_run(args, program, argv, stdout):
    """Boot, configure ftrace from the options, run with the requested on/off switches; returns (m, ft, log)."""
    m = cpu.Machine(cores=args.cores, seed=args.seed, schedule=args.schedule, quantum=args.quantum,
                    evict_rate=args.evict_rate, model=args.model or "ideal")
    m.load_elf(program, argv=[program] + argv, stdout=stdout, stderr=sys.stderr.buffer)
    ft = Ftrace(m, method=args.method, buffer_size_kb=args.buffer_size_kb, trap=args.trap, era=args.era)
    for opt, setter in ((args.filter, ft.set_ftrace_filter), (args.notrace, ft.set_ftrace_notrace),
                        (args.graph_function, ft.set_graph_function), (args.graph_notrace, ft.set_graph_notrace)):
        if opt:
            setter(" ".join(opt))
    if args.max_graph_depth:
        ft.max_graph_depth = args.max_graph_depth
    ft.tracing_thresh = args.tracing_thresh
    ft.current_tracer = args.tracer
    log = []
    for i, at in enumerate(parse_times(args.toggle_at)):
        if not m.run_until(lambda: m.instructions >= at) or m.exit_code is not None:
            break
        on = i % 2 == 1
        started = m.instructions
        (ft.ftrace_enable if on else ft.ftrace_disable)()
        log.append((started, "ftrace_enable" if on else "ftrace_disable", dict(ft.last_update)))
    run_with_progress(m, args.max_instructions)
    return m, ft, log


def run_with_progress(m, max_instructions, chunk=2_000_000):
    """m.run(), with a progress line on a terminal's stderr for long runs (instructions, events, MIPS)."""
    if not sys.stderr.isatty():
        m.run(max_instructions=max_instructions)
        return
    start, t0 = m.instructions, time.perf_counter()
    limit = None if max_instructions is None else start + max_instructions
    while m.exit_code is None:
        if limit is not None and m.instructions >= limit:
            m.run(max_instructions=0)
        m.run_for(chunk if limit is None else min(chunk, limit - m.instructions))
        done = m.instructions - start
        print(f"\r  running: {done:>12,} instructions, {done / (time.perf_counter() - t0) / 1e6:6.1f} MIPS",
              end="", file=sys.stderr, flush=True)
    print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)


def patch_summary(ft, log, model=None):
    """The updates' statistics as trace comments; `model`, when given (--model), is named on the first line."""
    lines = [f"# patching: method {ft.method.name}" + (f", model {model}" if model else "")
             + f", {len(ft.records)} mcount sites, "
             f"{sum(1 for r in ft.records if r.refcount)} selected"]
    for u in ft.update_log:
        lines.append(f"#   update cmd={u['command']:#x}: {u['sites']} sites, {u['writes']} writes, {u['syncs']} syncs, "
                     f"{u['ipis']} IPIs, {u['cycles']} cycles on cpu{ft.patch_cpu}, others lost "
                     f"{u['others_lost_cycles']} cycles, {u['bkpt_hits']} breakpoint hits")
    for at, what, _ in log:
        lines.append(f"#   at instruction {at}: {what}")
    return "\n".join(lines) + "\n"


def add_trace_options(p, program_required):
    if program_required:
        p.add_argument("program", metavar="PROG.elf", help="a program built with `ftrace cflags`/`ldflags`")
    else:
        p.add_argument("program", metavar="PROG.elf", nargs="?", default=None,
                       help="the program to trace: a path or a bundled program's name (default: workload)")
    p.add_argument("args", nargs="*", help="arguments for the guest program (after --)")
    p.add_argument("--cores", type=int, default=4, help="simulated cores (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the interleaving (default 0)")
    p.add_argument("--schedule", choices=("round-robin", "random", "timed"), default="random")
    p.add_argument("--quantum", type=int, default=200, help="instructions per scheduling step (default 200)")
    p.add_argument("--evict-rate", type=int, default=0, help="random icache evictions per step, in 1/65536")
    p.add_argument("--tracer", "-p", choices=TRACERS, default="function_graph", help="current_tracer")
    p.add_argument("--filter", "-l", action="append", metavar="GLOB", help="set_ftrace_filter (repeatable)")
    p.add_argument("--notrace", "-n", action="append", metavar="GLOB", help="set_ftrace_notrace")
    p.add_argument("--graph-function", "-g", action="append", metavar="GLOB", help="set_graph_function")
    p.add_argument("--graph-notrace", action="append", metavar="GLOB", help="set_graph_notrace")
    p.add_argument("--max-graph-depth", type=int, default=0, help="max_graph_depth (0: unlimited)")
    p.add_argument("--tracing-thresh", type=int, default=0, metavar="USECS", help="tracing_thresh")
    p.add_argument("--buffer-size-kb", type=int, default=1408, help="per-CPU ring buffer size")
    p.add_argument("--method", choices=METHODS, default="breakpoint", help="how live patching is done")
    p.add_argument("--model", choices=cpu.model.MODELS, default=None, metavar="M",
                   help=f"the machine model ({', '.join(cpu.model.MODELS)}; default ideal)")
    p.add_argument("--trap", choices=TRAPS, default="bkpt",
                   help="the breakpoint method's trap: bkpt (BKPT chain, as x86's int3) or udf (an undef hook, "
                        "arch/arm/kernel/traps.c)")
    p.add_argument("--era", choices=ERAS, default="mixed",
                   help="kernel era: v3.6, modern (add.w nop, $@*#!+ marks) or mixed (v3.6 with modern's marks and "
                        "graph files; default)")
    p.add_argument("--toggle-at", metavar="N1,N2,...",
                   help="switch ftrace_enabled off at N1 instructions, on at N2, off at N3 ... while running")
    p.add_argument("--max-instructions", type=int, default=None, help="stop with an error after N instructions")


def program_of(args):
    """The program to trace: a path, the name of a bundled one (workload, bigfuncs-1k, hot ...), or the
    bundled workload when none is given."""
    if args.program is None:
        return DEMO_PROGRAM, args.args or ["8"]
    if os.path.exists(args.program):
        return args.program, args.args
    bundled = os.path.join(GUEST_BIN, args.program if args.program.endswith(".elf") else args.program + ".elf")
    if args.program == "workload":
        bundled = DEMO_PROGRAM
    if os.path.exists(bundled):
        return bundled, args.args
    names = sorted(f[:-4] for f in os.listdir(GUEST_BIN) if f.endswith(".elf"))
    raise UsageError(f"{args.program}: no such file (bundled programs: workload, {', '.join(names)})")


# ---- subcommands ----

def cmd_demo(args):
    args.program, args.args = None, [str(args.iterations)]
    if args.toggle_at is None:
        args.toggle_at = "150000,450000,700000,1000000"
    t0 = time.perf_counter()
    out = io.BytesIO()
    m, ft, log = traced_run(args, DEMO_PROGRAM, [str(args.iterations)], out)
    text = ft.trace
    lines = text.splitlines()
    head = [ln for ln in lines if ln.startswith("#")]
    body = [ln for ln in lines if not ln.startswith("#")]
    shown = body if args.lines <= 0 else body[:args.lines]
    sys.stdout.write("\n".join(head + shown) + "\n")
    if len(shown) < len(body):
        print(f"... {len(body) - len(shown)} more lines (ftrace run --lines 0 shows all)")
    print()
    sys.stdout.write(patch_summary(ft, log, args.model))
    print("# program output:")
    sys.stdout.write("".join("#   " + ln + "\n" for ln in out.getvalue().decode(errors="replace").splitlines()))
    print(format_stats(m, time.perf_counter() - t0))
    print_overruns(ft)
    return 0 if m.exit_code == 0 else 1


def print_overruns(ft):
    n = ft.m.ncores
    print("events recorded: " + ", ".join(f"cpu{c} {ft.rb.entries(c)} (overrun {ft.rb.overrun(c)})"
                                           for c in range(n)))


def cmd_run(args):
    program, argv = program_of(args)
    t0 = time.perf_counter()
    m, ft, log = traced_run(args, program, argv, sys.stdout.buffer)
    sys.stdout.flush()
    if args.output:
        with open(args.output, "w") as f:
            f.write(ft.trace)
    else:
        sys.stdout.write(ft.trace)
    sys.stdout.write(patch_summary(ft, log, args.model))
    print(format_stats(m, time.perf_counter() - t0), file=sys.stderr)
    return m.exit_code & 0xff


def cmd_record(args):
    from ftrace.formats.chrome import write_chrome_json
    from ftrace.formats.folded import write_folded
    from ftrace.formats.tracedat import write_trace_dat
    program, argv = program_of(args)
    m, ft, log = traced_run(args, program, argv, sys.stdout.buffer)
    funcs = [(s.addr, s.size, s.name) for s in m.image.funcs]
    # the host-call slots Ftrace.symbolize names (smp_cpu_exit: the return address of a secondary core's entry)
    funcs += [(memmap.HOSTCALL_BASE, 4, "smp_cpu_exit"),
              (memmap.HOSTCALL_BASE + 4, 4 * (memmap.HOSTCALL_SLOTS - 1), "hostcall")]
    comms = {ft.tasks.pid_of(c): ft.comm for c in range(m.ncores)}
    # overwritten events, so that the file's entries-written is the run's (write_trace_dat stores them as the
    # kernel's reader does: trace-cmd reports "CPU:N [n EVENTS DROPPED]")
    lost = {c: ft.rb.overrun(c) for c in range(m.ncores) if ft.rb.overrun(c)}
    output = args.output or {"dat": "trace.dat", "json": "trace.json", "folded": "trace.folded"}[args.format]
    if args.format == "dat":
        write_trace_dat(output, ft.raw_events(), ft.symbolize, m.ncores, comms, funcs=funcs,
                        tracer=ft.current_tracer, clock_hz=m.cpu_hz, lost=lost)
    elif args.format == "json":
        write_chrome_json(output, ft.raw_events(), ft.symbolize, m.ncores, comms)
    else:
        write_folded(output, ft.raw_events(), ft.symbolize)
    print(f"ftrace: recorded {sum(ft.rb.entries(c) for c in range(m.ncores))} events "
          f"({ft.current_tracer}) to {output}", file=sys.stderr)
    return 0


def cmd_sites(args):
    """available_filter_functions_addrs' "%lx %s", then the site's halfwords after ftrace_init, whether it
    straddles an icache line, and enabled_functions' " (%ld)" refcount with E for FTRACE_FL_ENABLED."""
    program, argv = program_of(args)
    m = cpu.Machine(cores=1, line_size=args.line_size)
    m.load_elf(program, argv=[program] + argv)
    ft = Ftrace(m, trap=args.trap, era=args.era)
    if args.filter:
        ft.set_ftrace_filter(" ".join(args.filter))
    ft.current_tracer = args.tracer
    print(f"# {len(ft.records)} mcount sites, icache line {m.line_size} bytes, tracer {args.tracer}")
    print("# ADDR FUNCTION INSN STRADDLES (REFCOUNT) FLAGS")
    for ip, func, (hw1, hw2), straddles, flags in ft.sites():
        print(f"{ip:x} {func} {hw1:04x} {hw2:04x} {'straddles' if straddles else '-'} ({flags & ~FTRACE_FL_MASK})"
              + (" E" if flags & FTRACE_FL_ENABLED else ""))
    return 0


def cmd_report(args):
    from ftrace.formats import recorded
    rec = recorded.load(args.input)
    sys.stdout.write(recorded.report(rec, sort=args.sort))
    return 0


def cmd_show(args):
    from ftrace.formats import recorded
    rec = recorded.load(args.input)
    sys.stdout.write(recorded.show(rec))
    return 0


def cmd_replay(args):
    if args.input or args.seed is None:
        args.input = args.input or "trace.dat"
        return cmd_show(args)
    return explorer_replay(args)


def main(argv=None):
    p = argparse.ArgumentParser(prog="ftrace", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    d = sub.add_parser("demo", help="trace the bundled 4-core workload live, switched on and off while it runs")
    add_trace_options(d, program_required=False)
    d.add_argument("--iterations", type=int, default=8, help="workload rounds per core (default 8)")
    d.add_argument("--lines", type=int, default=60, help="trace lines to print (0: all; default 60)")
    r = sub.add_parser("run", help="run a program traced and print the kernel-format trace")
    add_trace_options(r, program_required=False)
    r.add_argument("-o", "--output", help="write the trace text to this file instead of stdout")
    rec = sub.add_parser("record", help="trace a program and write a trace-cmd trace.dat (like trace-cmd record)")
    add_trace_options(rec, program_required=False)
    rec.add_argument("-o", "--output", default=None,
                     help="output file (default trace.dat, trace.json or trace.folded by --format)")
    rec.add_argument("-F", "--format", choices=("dat", "json", "folded"), default="dat",
                     help="dat: trace-cmd's trace.dat (trace-cmd report, KernelShark); json: Chrome trace-event "
                          "JSON (Perfetto UI, chrome://tracing); folded: folded stacks (flamegraph.pl, speedscope)")
    st = sub.add_parser("sites", help="every mcount site: address, function, its halfwords after ftrace_init, "
                                      "whether it straddles an icache line, its record flags")
    st.add_argument("program", metavar="PROG.elf", nargs="?", default=None,
                    help="a path or a bundled program's name (default: workload)")
    st.set_defaults(args=[])
    st.add_argument("--line-size", type=int, default=None, help="icache line size (default: the machine's, 32)")
    st.add_argument("--tracer", "-p", choices=TRACERS, default="nop", help="current_tracer before listing")
    st.add_argument("--filter", "-l", action="append", metavar="GLOB", help="set_ftrace_filter (repeatable)")
    st.add_argument("--trap", choices=TRAPS, default="bkpt", help="the breakpoint method's trap")
    st.add_argument("--era", choices=ERAS, default="mixed", help="kernel era (its nop)")
    rep = sub.add_parser("report", help="per-function call counts, total and self time from a recorded file")
    rep.add_argument("-i", "--input", default="trace.dat")
    rep.add_argument("-s", "--sort", choices=("total", "self", "calls", "func"), default="total")
    sh = sub.add_parser("show", help="print a recorded file in the kernel's trace format")
    sh.add_argument("-i", "--input", default="trace.dat")
    add_explore_parsers(sub)
    add_mutants_parser(sub)
    add_verify_parser(sub)
    sub.add_parser("cflags", help="compiler flags for a traceable program (like pkg-config --cflags)")
    sub.add_parser("ldflags", help="linker flags for a traceable program (like pkg-config --libs)")
    args, extra = p.parse_known_args(argv)
    if extra:
        if args.cmd in ("run", "record", "demo"):
            args.args = list(args.args) + [a for a in extra if a != "--"]
        else:
            p.error(f"unrecognized arguments: {' '.join(extra)}")
    handlers = {"demo": cmd_demo, "run": cmd_run, "record": cmd_record, "sites": cmd_sites, "report": cmd_report,
                "show": cmd_show, "replay": cmd_replay, "explore": cmd_explore, "mutants": cmd_mutants,
                "verify": cmd_verify}
    try:
        if args.cmd == "cflags":
            print(cflags())
            return 0
        if args.cmd == "ldflags":
            print(ldflags())
            return 0
        return handlers[args.cmd](args)
    except UsageError as e:
        print(f"ftrace: {e}", file=sys.stderr)
        return 2
    except (FtraceError, ELFError, OSError, ValueError) as e:
        print(f"ftrace: {e}", file=sys.stderr)
        return 2
    except InstructionLimit as e:
        print(f"ftrace: {e}", file=sys.stderr)
        return 124
    except GuestFault as e:
        print(f"ftrace: {e}", file=sys.stderr)
        return 139


if __name__ == "__main__":
    sys.exit(main())
