"""The protocol explorer: one randomized run of a code-patching method under live load, checked for violations.

A run boots the bundled multi-core workload (bigfuncs-1k: 1002 mcount sites, 71 of them straddling a 32-byte
icache line), traces the 111 functions matching f6* (16 straddling sites) with the function tracer, and switches ftrace_enabled off and on every `toggle_every`
instructions while the cores run, under a random schedule with random icache evictions, the patching agent
interleaved with the cores at every write.  Everything derives from (config, method, drop, seed), so any run
replays exactly.

Violations, in order of precedence:
  fault         the guest faulted (an undefined, misaligned or wild instruction: usually a torn or mixed BL)
  torn          a core executed a 32-bit instruction whose halves never stood together in memory
  late-stale    a core executed bytes that a completed update had overwritten (its syncs did not reach it)
  stack         a core's stack pointer is off when the program ends
  wrong-result  the program's output differs from the untraced run
"""
import io
import os
import time
from dataclasses import dataclass, field

import cpu
from ftrace.patch import METHODS
from ftrace.trace import Ftrace

GUEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guest", "bin")
DROPPABLE = {"breakpoint": ("sync1", "sync2", "sync3"), "branch_over": ("sync1", "sync2", "quiesce"),
             "direct": ("sync1",), "stop_machine": ("release-flush",), "unsynced": ()}


@dataclass(frozen=True)
class Config:
    program: str = "bigfuncs-1k.elf"
    argv: tuple = ("4",)
    cores: int = 4
    quantum: int = 40
    evict_rate: int = 6000          # per scheduler step, in 1/65536
    toggle_every: int = 5000
    filter: str = "f6*"             # 111 sites, 16 of them straddling a line: short updates, many per run
    max_instructions: int = 20_000_000

    def path(self):
        return self.program if os.path.isabs(self.program) else os.path.join(GUEST, self.program)


@dataclass
class RunResult:
    method: str
    drop: tuple
    seed: int
    violations: list = field(default_factory=list)
    error: str = ""
    toggles: int = 0
    instructions: int = 0
    torn: int = 0
    stale: int = 0
    late_stale: int = 0
    cmodx_fetches: int = 0
    bkpt_hits: int = 0
    events: list = field(default_factory=list)
    host_seconds: float = 0.0

    @property
    def label(self):
        return self.method + "".join(f"-no-{d}" for d in self.drop)

    def as_dict(self):
        d = dict(self.__dict__)
        d["label"] = self.label
        return d


_reference = {}


def reference_output(config):
    """The untraced run's output on the same machine shape (cached per config)."""
    key = (config.path(), config.argv, config.cores)
    if key not in _reference:
        m = cpu.Machine(cores=config.cores)
        out = io.BytesIO()
        m.load_elf(config.path(), argv=[config.program, *config.argv], stdout=out, stderr=out)
        code = m.run(max_instructions=config.max_instructions)
        _reference[key] = (code, out.getvalue(), [c.get_reg(13) for c in m.cores])
    return _reference[key]


def build(config, method, drop, seed, stop_on_violation=False):
    m = cpu.Machine(cores=config.cores, seed=seed, schedule="random", quantum=config.quantum,
                    evict_rate=config.evict_rate, replacement="random")
    m.stop_on_violation = stop_on_violation
    out = io.BytesIO()
    m.load_elf(config.path(), argv=[config.program, *config.argv], stdout=out, stderr=out)
    ft = Ftrace(m, method=method, drop=drop, buffer_size_kb=64)
    return m, ft, out


def run_one(method, seed, drop=(), config=Config(), stop_on_violation=False, keep=None):
    """One randomized run; returns a RunResult (and, with keep=dict, the machine and ftrace in it)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    bad = [d for d in drop if d not in DROPPABLE[method]]
    if bad:
        raise ValueError(f"{method} has no step {bad[0]!r} to drop; droppable: {', '.join(DROPPABLE[method]) or 'none'}")
    ref_code, ref_out, ref_sp = reference_output(config)
    t0 = time.perf_counter()
    m, ft, out = build(config, method, tuple(drop), seed, stop_on_violation)
    res = RunResult(method, tuple(drop), seed)
    if config.filter:
        ft.set_ftrace_filter(config.filter)
    ft.current_tracer = "function"
    try:
        while m.exit_code is None:
            if m.instructions > config.max_instructions:
                raise cpu.InstructionLimit(f"no exit after {config.max_instructions} instructions")
            ft.run_for(config.toggle_every)
            if m.exit_code is not None:
                break
            (ft.ftrace_disable if res.toggles % 2 == 0 else ft.ftrace_enable)()
            res.toggles += 1
    except (cpu.GuestFault, cpu.InstructionLimit) as e:
        res.error = str(e)
    st = m.stats()
    res.instructions = m.instructions
    res.torn = sum(s["torn_fetches"] for s in st)
    res.stale = sum(s["stale_fetches"] for s in st)
    res.late_stale = sum(s["late_stale_fetches"] for s in st)
    res.cmodx_fetches = sum(u.get("cmodx_fetches", 0) for u in ft.update_log)
    res.bkpt_hits = ft.bkpt_handler.hits
    res.events = list(m.fetch_events)
    if res.error:
        res.violations.append("fault")
    if res.torn:
        res.violations.append("torn")
    if res.late_stale:
        res.violations.append("late-stale")
    if not res.error:
        if [c.get_reg(13) for c in m.cores] != ref_sp:
            res.violations.append("stack")
        if m.exit_code != ref_code or out.getvalue() != ref_out:
            res.violations.append("wrong-result")
    res.host_seconds = time.perf_counter() - t0
    if keep is not None:
        keep.update(machine=m, ftrace=ft, output=out.getvalue())
    return res


def explain(method, seed, drop=(), config=Config()):
    """Re-run a run exactly, stopping at its first torn or late-stale fetch (or fault), and tell what happened:
    which core fetched which halfwords at what time, what memory held, the writes to that address, and the
    scheduler steps leading up to it."""
    keep = {}
    res = run_one(method, seed, drop, config, stop_on_violation=True, keep=keep)
    m, ft = keep["machine"], keep["ftrace"]
    lines = [f"replay of {res.label} seed {seed}: {', '.join(res.violations) or 'no violation'}"]
    if res.error:
        lines.append(f"  stopped by: {res.error}")
    viol = [e for e in res.events if e["kind"] in ("torn", "stale-after-sync")]
    for e in viol[:1] or res.events[-1:]:
        seen = " ".join(f"{h:04x}" for h in e["seen"])
        mem = " ".join(f"{h:04x}" for h in e["memory"])
        sym = ft.symbolize(e["pc"])
        where = f"{sym[0]}+0x{sym[1]:x}" if sym else hex(e["pc"])
        lines.append(f"  core {e['core']} fetched [{seen}] at 0x{e['pc']:x} ({where}) at cycle {e['cycles']}: "
                     f"{e['kind']}; memory holds [{mem}]")
        rec = ft.records.lookup(e["pc"])
        if rec is not None:
            straddles = rec.ip % m.line_size == m.line_size - 2
            lines.append(f"  the site is {rec.func}'s mcount BL; it straddles two icache lines: "
                         f"{'yes' if straddles else 'no'}")
    steps = m.record[-12:]
    lines.append("  last scheduler steps (actor, quantum or instructions run): " +
                 ", ".join(f"{a}:{n}" for a, n in steps))
    for u in ft.update_log[-1:]:
        lines.append(f"  last update: {u}")
    return res, "\n".join(lines)


def summarize(results):
    """`METHOD: violations V of R runs` lines with the breakdown by kind, in first-seen order of labels."""
    by = {}
    for r in results:
        s = by.setdefault(r.label, {"runs": 0, "bad": 0, "kinds": {}, "cmodx": 0})
        s["runs"] += 1
        s["cmodx"] += r.cmodx_fetches
        if r.violations:
            s["bad"] += 1
            for k in r.violations:
                s["kinds"][k] = s["kinds"].get(k, 0) + 1
    lines = []
    for label, s in by.items():
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(s["kinds"].items()))
        lines.append(f"{label}: violations {s['bad']} of {s['runs']} runs" + (f" ({kinds})" if kinds else "")
                     + f"; CMODX-uncovered fetches {s['cmodx']}")
    return lines
