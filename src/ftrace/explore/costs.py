"""What live patching costs, per method: one enable and one disable of every call site, measured while every
core runs traced code.

    from ftrace.explore.costs import measure, cost_matrix
    m = measure("breakpoint", "bigfuncs-1k.elf", cores=4)   # {"enable": {...}, "disable": {...}, ...}
    rows = cost_matrix()                                    # every method x program x core count

Setup of one measurement (everything deterministic: the figures are a function of the arguments):
  * the program is a bigfuncs-N.elf (src/ftrace/guest/bigfuncs.py: N traced functions in a binary call tree);
    every core -- the patching core 0 included, between updates -- calls its f0 in an endless loop (a host
    call restarts f0 when it returns), so every site runs once per loop on every core and no guest main or
    core limit is involved (bigfuncs' own main supports 32 cores; this needs none of it);
  * Ftrace(method) converts the sites at boot, the function tracer is registered with nothing else running
    (and, for branch_over, each site's BL written once), tracing is switched off, then the cores start;
  * after a warm-up, ftrace_enable() (ftrace_enabled=1: every site to the call, and ftrace_call to the tracer)
    and, after a pause, ftrace_disable() (every site back to the nop) each run as one update on core 0 while
    the other cores go on;
  * the schedule is "timed" (the actor furthest behind in cycles runs next) with a quantum equal to a code
    write's cost (CostConfig.quantum = 4 cycles): between two writes of the patcher every other core runs about
    as many cycles as the write took, so cycle counts of the patcher and of the others are on one time base,
    and a patcher waiting for IPI acknowledgements spends cycles waiting.

The figures of an update (core.FtraceCore.ftrace_run_update_code's ft.update_log entry, plus host time):
  cycles              simulated cycles on the patching core from the start to the end of the update (its
                      writes, its local cache maintenance, its waits for IPI acknowledgements)
  others_lost_cycles  cycles the other cores lost meanwhile: breakpoint handler runs (bkpt_cost each), parked in
                      stop_machine, taking IPIs (ipi_cost each), host calls of the tracer (hostcall_cost each)
                      and icache refills (miss_cost each: 0 by default, see CostConfig)
  others_icache_misses  their icache refills meanwhile (after the syncs' invalidations, and capacity misses)
  ipis                IPIs sent; syncs, writes, sites; bkpt_hits: breakpoints the other cores hit
  cmodx_fetches       fetches of instructions being concurrently modified outside the ARMv7 CMODX rules
  crashes             other cores that faulted during the update (a torn site: direct, unsynced), each
                      counted and restarted on its loop so that the update completes
  host_seconds        wall time the simulation of the update took
"""
import os
import time
from dataclasses import asdict, dataclass

import cpu
from cpu import memmap
from cpu.machine import Deadlock
from ftrace.kernel.methods import METHODS
from ftrace.kernel.trace import Ftrace

GUEST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "guest")
PROGRAMS = ("bigfuncs-1k.elf", "bigfuncs-10k.elf", "bigfuncs-50k.elf")
CORES = (2, 4, 16, 64)
FIGURES = ("cycles", "others_lost_cycles", "ipis", "syncs", "writes", "sites", "bkpt_hits", "cmodx_fetches",
           "ipis_taken", "others_icache_misses", "crashes", "host_seconds")


@dataclass(frozen=True)
class CostConfig:
    # "timed" (whoever is furthest behind in cycles runs next) puts the patcher and the other cores on one time
    # base, waits for IPI acknowledgements included
    schedule: str = "timed"
    quantum: int = 4                # instructions per core step: a write's cost (CodePatcher.write_cost)
    ipi_cost: int = 200             # cycles a core spends taking an IPI
    miss_cost: int = 0              # icache refills are counted (others_icache_misses), not charged: bigfuncs-10k
    #                                 and -50k overflow the 32 KiB icache, so their cores miss all the time anyway
    bkpt_cost: int = 50             # cycles of one run of the breakpoint handler (FtraceCore's default)
    warmup: int = 20_000            # instructions (all cores) before the enable, and between enable and disable


def program_path(name):
    """A bigfuncs ELF from guest/bin, or guest/build for those not committed (bigfuncs-50k: `make big50k`)."""
    if os.path.isabs(name):
        return name if os.path.exists(name) else None
    for d in ("bin", "build"):
        p = os.path.join(GUEST, d, name)
        if os.path.exists(p):
            return p
    return None


def available_programs(programs=PROGRAMS):
    return [p for p in programs if program_path(p)]


def _start_loops(m):
    """Every core calls f0 forever: a host call at f0's return sets up the next call."""
    f0 = m.image.symbols["f0"].addr | 1
    scratch = (m.image.end + 7) & ~7          # a calls counter per core (newlib's heap, unused here)
    rounds = [0] * m.ncores

    def again(core):
        rounds[core.id] += 1
        core.set_reg(0, (0x9E3779B9 * (core.id + 1) + rounds[core.id]) & 0xFFFFFFFF)
        core.set_reg(1, scratch + 4 * core.id)
        core.set_reg(14, slot)
        core.pc = f0
    slot = m.register_hostcall(again)

    def restart(core):
        core.set_reg(13, memmap.stack_top(m.mem_size, core.id) - 8)
        core.pc = slot            # the first instruction fetched is the host call: it enters f0
        core.set_reg(14, slot)
        core.itstate = 0
    for c in m.cores:
        if c.id:
            m.start_cpu(c.id, f0, 0)
        restart(c)
    return restart


def _survive_crashes(m, restart, crashes):
    """A core that faults (a torn call site under direct or unsynced) is counted and restarted on its loop, so
    the update being measured completes."""
    def on_fault(core, fault):
        crashes[0] += 1
        restart(core)
        return True
    m.hook_add("fault", on_fault)


def measure(method, program="bigfuncs-1k.elf", cores=4, config=CostConfig(), drop=()):
    """One enable and one disable of every site with `method` on `cores` cores; returns a dict with the
    method, program, sites, cores and the figures of each update under "enable" and "disable"."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    path = program_path(program)
    if path is None:
        raise FileNotFoundError(f"{program}: not in {GUEST}/bin or /build (bigfuncs-50k: make -C {GUEST} big50k)")
    t0 = time.perf_counter()
    m = cpu.Machine(cores=cores, schedule=config.schedule, quantum=config.quantum, seed=0,
                    ipi_cost=config.ipi_cost, miss_cost=config.miss_cost)
    m.load_elf(path, argv=[program], stdout=open(os.devnull, "wb"), stderr=open(os.devnull, "wb"))
    ft = Ftrace(m, method=method, buffer_size_kb=64, drop=drop)
    ft.bkpt_handler.cost = config.bkpt_cost
    ft.current_tracer = "function"            # at boot: nothing else runs (and branch_over's BLs get written)
    ft.ftrace_disable()
    boot = time.perf_counter() - t0
    crashes = [0]
    _survive_crashes(m, _start_loops(m), crashes)
    # The boot-time updates ran on core 0 alone: bring the others to its cycle count, or the timed scheduler
    # would let them run alone until they caught up -- in the middle of the measured update.
    top = max(c.cycles for c in m.cores)
    for c in m.cores:
        c.charge(top - c.cycles)
    out = {"method": method, "label": method + "".join(f"-no-{d}" for d in drop), "program": program,
           "sites": len(ft.records), "cores": cores, "boot_host_seconds": boot, "config": asdict(config)}
    others = [c for c in m.cores if c.id != ft.patch_cpu]
    for what, fn in (("enable", ft.ftrace_enable), ("disable", ft.ftrace_disable)):
        ft.run_for(config.warmup)
        misses = sum(c.icache_misses for c in others)
        t = time.perf_counter()
        crashes[0] = 0
        fn()
        host = time.perf_counter() - t
        u = dict(ft.last_update)
        if u.get("result"):
            raise RuntimeError(f"{method} {what} failed ({u['result']}): {ft.dmesg[-3:]}")
        u["host_seconds"] = host
        u["crashes"] = crashes[0]
        u["others_icache_misses"] = sum(c.icache_misses for c in others) - misses
        out[what] = {k: u.get(k, 0) for k in FIGURES}
    out["instructions"] = m.instructions
    out["host_seconds"] = time.perf_counter() - t0
    return out


def cost_matrix(methods=METHODS, programs=None, cores=CORES, config=CostConfig(), progress=None):
    """measure() over every method x program x core count (programs: those available of PROGRAMS)."""
    programs = available_programs() if programs is None else programs
    rows = []
    for prog in programs:
        for n in cores:
            for meth in methods:
                rows.append(measure(meth, prog, n, config))
                if progress is not None:
                    progress(rows[-1])
    return rows


def _measure_star(a):
    return measure(*a)


def cost_matrix_parallel(methods=METHODS, programs=None, cores=CORES, config=CostConfig(), jobs=None,
                         progress=None):
    """cost_matrix over a process pool (the measurements are independent and deterministic, except host time,
    which then shares the machine with the other measurements)."""
    import multiprocessing
    programs = available_programs() if programs is None else programs
    args = [(meth, prog, n, config) for prog in programs for n in cores for meth in methods]
    # the longest first (big programs on many cores), so the pool ends together
    order = sorted(range(len(args)), key=lambda i: -(args[i][2] * os.path.getsize(program_path(args[i][1]))))
    jobs = jobs or os.cpu_count() or 1
    rows = [None] * len(args)
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        for i, row in zip(order, pool.imap(_measure_star, [args[i] for i in order])):
            rows[i] = row
            if progress is not None:
                progress(row)
    return rows


def format_table(rows, what="enable"):
    """A Markdown table of one update kind: a row per (program, cores, method)."""
    head = ("| program | sites | cores | method | cycles | others lost | IPIs | syncs | writes | bkpt hits | "
            "others' icache misses | CMODX fetches | crashes | host s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        u = r[what]
        lines.append(f"| {r['program'].replace('.elf', '')} | {r['sites']} | {r['cores']} | {r['method']} | "
                     f"{u['cycles']:,} | {u['others_lost_cycles']:,} | {u['ipis']} | {u['syncs']} | {u['writes']:,} | "
                     f"{u['bkpt_hits']:,} | {u['others_icache_misses']:,} | {u['cmodx_fetches']:,} | {u['crashes']} | "
                     f"{u['host_seconds']:.2f} |")
    return "\n".join(lines)


def ranking(rows, what="enable", key="cycles"):
    """Methods ordered by their total `key` over all rows of `what` (cheapest first): [(method, total)]."""
    tot = {}
    for r in rows:
        tot[r["method"]] = tot.get(r["method"], 0) + r[what][key]
    return sorted(tot.items(), key=lambda kv: kv[1])


def main(argv=None):
    import argparse
    import json
    ap = argparse.ArgumentParser(prog="python -m ftrace.explore.costs", description="patching cost per method")
    ap.add_argument("--method", action="append", choices=(*METHODS, "all"))
    ap.add_argument("--program", action="append", help="bigfuncs ELF name (default: 1k, 10k, 50k if present)")
    ap.add_argument("--cores", default=",".join(map(str, CORES)))
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", metavar="FILE")
    a = ap.parse_args(argv)
    methods = tuple(METHODS) if not a.method or "all" in a.method else tuple(a.method)
    cores = tuple(int(x) for x in a.cores.split(","))
    prog = lambda r: print(f"{r['program']} x{r['cores']} {r['method']}: enable {r['enable']['cycles']} cycles, "  # noqa
                           f"disable {r['disable']['cycles']} cycles, {r['host_seconds']:.1f} s", flush=True)
    if a.jobs > 1:
        rows = cost_matrix_parallel(methods, a.program, cores, jobs=a.jobs, progress=prog)
    else:
        rows = cost_matrix(methods, a.program, cores, progress=prog)
    for what in ("enable", "disable"):
        print(f"\n{what}\n" + format_table(rows, what))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main())
