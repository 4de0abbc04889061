"""The protocol explorer: one randomized run of a code-patching method under live load, checked for violations.

A run boots the explorer's workload on 4 cores (hot.elf, src/ftrace/guest/hot: 64 small traced functions that
every core calls in a hot loop, so every site runs every ~1500 instructions on every core; 42 of the 64 sites
straddle a 32-byte icache line), traces the 32 even-numbered functions (21 straddling sites) with the function
tracer, and every `toggle_every` instructions changes the code while the cores run, in the cycle

    ftrace_enabled=0, ftrace_enabled=1, set_ftrace_filter '' (all 64), set_ftrace_filter back to the 32

(Config.refilter; with refilter=() the toggles only alternate ftrace_enabled).  The filter changes matter: an
ftrace_enabled=1 update also rewrites ftrace_call, and that write's own syncs cover whatever the call-site pass
left unsynced, so a protocol whose last sync is missing only shows it on a plain call-site update; and the first
widening of the filter enables 32 sites for the first time while the cores run.  The schedule is random (random
quanta), with random icache evictions, and the patching agent is interleaved with the cores at every write.
Everything derives from (config, method, drop, seed, model), so any run replays exactly.

The machine model (cpu.model: ideal, armv7 or one relaxation alone) is what a verdict holds under; the ideal
default leaves every earlier label, key and result as it was.

Violations, in order of precedence:
  fault         the guest faulted (an undefined, misaligned or wild instruction: usually a torn or mixed BL)
  torn          a core executed a 32-bit instruction whose halves never stood together in memory (the machine's
                check, plus the explorer's own for a mixed nop/call at a site the machine missed: see site_mixed)
  mixed         a relaxed fetch (a "cff" event: the fill could have returned several encodings) executed at a
                site an instruction that is neither the site's old one, its new one nor the breakpoint
  late-stale    a core executed bytes that a completed update had overwritten (its syncs did not reach it)
  stack         a core's stack pointer is off when the program ends
  wrong-result  the program's output differs from the untraced run
  ftrace-bug    ftrace_bug() killed ftrace: a site held what an update did not expect

Apart from the violations, a run relies on UNPREDICTABLE when some fetch could have returned two encodings that
the configured CMODX list (Config.cmodx, ftrace.kernel.cmodx) does not let another core swap live: its own
verdict class, never a pass and never a crash.  On a model whose fills may return several values (cff events)
the fetches' could-fetch-from sets decide; on one with line-atomic fills, the update's CMODX audit does (a fetch
of a rewritten instruction between the update's first write and its last sync, old/new not covered).
"""
import hashlib
import io
import os
import random
import time
from dataclasses import dataclass, field

import cpu
import cpu.model
from cpu.core import FetchViolation
from ftrace.explore.adversary import AdversarialMachine, Coverage
from ftrace.kernel import cmodx as cmodx_lists
from ftrace.kernel.methods import METHODS, check_drop
from ftrace.kernel.ops import FtraceError
from ftrace.kernel.trace import Ftrace

GUEST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "guest", "bin")


HALF = "*0 *2 *4 *6 *8"             # hot.elf's 32 even-numbered functions h0, h2, ... h62


@dataclass(frozen=True)
class Config:
    program: str = "hot.elf"
    argv: tuple = ("24",)           # rounds of the 64 calls per core: ~0.15 s of host time for a clean run
    cores: int = 4
    quantum: int = 40
    evict_rate: int = 6000          # per scheduler step, in 1/65536
    toggle_every: int = 5000
    filter: str = HALF              # the initial filter ('' = every function)
    refilter: tuple = ("", HALF)    # after each off/on pair, these filters in turn (see the module docstring)
    max_instructions: int = 20_000_000
    cmodx: str = "v7"               # the CMODX list a fetch relies on UNPREDICTABLE against (ftrace.kernel.cmodx)
    # adversarial options (ftrace.explore.adversary), off by default: today's runs exactly
    evict_sites: int = 0            # per step, in 1/65536: evict a line holding a site, on a random core
    desched_rate: int = 0           # per step, in 1/65536: deschedule a random core for a Pareto number of steps
    desched_alpha: float = 1.2      # the Pareto shape: smaller is heavier-tailed
    desched_min: int = 20           # the Pareto scale: the shortest descheduling, in steps
    patch_cpu: int = 0              # the patching core; -1: a random one per run (from the seed)
    coverage: bool = False          # observe what the run exercised (ftrace.explore.adversary.Coverage)

    def adversarial(self):
        return bool(self.evict_sites or self.desched_rate)

    def path(self):
        return self.program if os.path.isabs(self.program) else os.path.join(GUEST, self.program)


VIOLATION_EVENTS = ("torn", "stale-after-sync")
EVENTS_KEPT = 64                    # violating fetch events kept per run


@dataclass
class RunResult:
    """What one run found.  Everything but host_seconds is a function of (config, method, drop, seed).

    model, cmodx   the machine model the run ran on and the CMODX list its fetches were judged against
    torn        torn fetches the machine detected; torn_missed: mixed instructions it did not flag (site_mixed)
    mixed       relaxed fetches that executed a mixed instruction at a site (site_mixed)
    unpredictable   fetches that relied on UNPREDICTABLE (cff events with a pair outside the list, or the CMODX
                audit's count on a line-atomic model); unpredictable_where: at most EVENTS_KEPT of them, dicts
                like `where`'s with source ('cff' or 'audit'), rule and the candidates (or the update and count)
    events      the violating fetches (torn, stale-after-sync, mixed), at most EVENTS_KEPT, in order: dicts with
                kind, core, pc, seen and memory (halfwords), cycles, instructions (and missed=True for torn_missed)
    where       one entry per violating fetch event and one for a guest fault: kind, core, pc, site (the mcount
                site's ip the pc belongs to, or None), func, straddles (the site's BL crosses an icache line)
    schedule_len, schedule_hash   the recorded schedule (Machine.record): its length and a hash, to tell that a
                replay followed the same interleaving
    coverage    {phase: [site-update windows, covered ones, breakpoint hits]} (ftrace.explore.adversary.Coverage);
                split_fetches: reported fetches at straddling sites; site_evictions, descheduled_steps: what the
                adversarial options did; patch_cpu: the patching core
    """
    method: str
    drop: tuple
    seed: int
    model: str = "ideal"
    cmodx: str = "v7"
    violations: list = field(default_factory=list)
    error: str = ""
    toggles: int = 0
    instructions: int = 0
    torn: int = 0
    torn_missed: int = 0
    mixed: int = 0
    unpredictable: int = 0
    violation_events: int = 0
    stale: int = 0
    late_stale: int = 0
    cmodx_fetches: int = 0
    bkpt_hits: int = 0
    updates: int = 0
    events: list = field(default_factory=list)
    where: list = field(default_factory=list)
    unpredictable_where: list = field(default_factory=list)
    schedule_len: int = 0
    schedule_hash: str = ""
    coverage: dict = field(default_factory=dict)
    split_fetches: int = 0
    site_evictions: int = 0
    descheduled_steps: int = 0
    patch_cpu: int = 0
    host_seconds: float = 0.0

    @property
    def cell(self):
        """The method and its dropped steps, without the model."""
        return self.method + "".join(f"-no-{d}" for d in self.drop)

    @property
    def label(self):
        """cell, with ` [model]` unless the model is ideal (so earlier labels stay as they were)."""
        return self.cell if self.model == "ideal" else self.named

    @property
    def named(self):
        """cell [model]: the label that always names the model."""
        return f"{self.cell} [{self.model}]"

    @property
    def key(self):
        return run_key(self.method, self.drop, self.seed, self.model)

    @property
    def verdict(self):
        """'violating', 'unpredictable' (relies on UNPREDICTABLE, no violation) or 'clean'."""
        return "violating" if self.violations else "unpredictable" if self.unpredictable else "clean"

    def as_dict(self):
        d = dict(self.__dict__)
        d["drop"] = list(self.drop)
        d["label"] = self.label
        return d

    @classmethod
    def from_dict(cls, d):
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        d["drop"] = tuple(d.get("drop", ()))
        return cls(**d)

    def outcome(self):
        """The run's result without the host time: equal for equal (config, method, drop, seed)."""
        d = self.as_dict()
        d.pop("host_seconds")
        return d


def run_key(method, drop, seed, model="ideal"):
    """A run's key: (method, drop, seed), with the model appended unless it is ideal."""
    return (method, tuple(drop), seed) + (() if model == "ideal" else (model,))


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


def build(config, method, drop, seed, stop_on_violation=False, model="ideal"):
    machine = AdversarialMachine if config.adversarial() else cpu.Machine
    m = machine(cores=config.cores, seed=seed, schedule="random", quantum=config.quantum,
                evict_rate=config.evict_rate, replacement="random", model=model)
    m.stop_on_violation = stop_on_violation
    out = io.BytesIO()
    m.load_elf(config.path(), argv=[config.program, *config.argv], stdout=out, stderr=out)
    patch_cpu = config.patch_cpu if config.patch_cpu >= 0 else random.Random(seed).randrange(config.cores)
    ft = Ftrace(m, method=method, drop=drop, buffer_size_kb=64, patch_cpu=patch_cpu, cmodx_list=config.cmodx)
    return m, ft, out


def has_cff(model):
    """Whether the model's fills may return more than one value (a granule below the line, or fills that see
    only what was cleaned to the PoU): the machine then reports each such fetch's could-fetch-from set."""
    model = cpu.model.get_model(model)
    return model.fetch_granule != "line" or model.pou


def site_of(ft, pc):
    """The mcount record whose site holds pc: its BL (ip, ip + 2) or, for branch_over, the push before it."""
    for ip in (pc, pc - 2, pc + 2):
        rec = ft.records.lookup(ip)
        if rec is not None:
            return rec
    return None


def locate(ft, kind, core, pc):
    rec = site_of(ft, pc) if pc is not None else None
    line = ft.m.line_size
    return {"kind": kind, "core": core, "pc": pc, "site": rec.ip if rec else None,
            "func": rec.func if rec else None,
            "straddles": bool(rec is not None and rec.ip % line == line - 2)}


def schedule_hash(record):
    return hashlib.sha256(repr(record).encode()).hexdigest()[:16]


def site_mixed(ft, e):
    """A fetch at an mcount site that executed neither the site's nop, its call nor the method's trap: half of one
    and half of another (relaxed fills), or a tear the machine's own check misses -- a whole-instruction store
    (direct, unsynced) lands in its write log as two halfword writes, so the check believes the
    new-first-half/old-second-half pair stood in memory between them."""
    rec = ft.records.lookup(e["pc"])
    if rec is None:
        return False
    nop, call = ft.nop_insn(), ft.call_insn(rec)
    return tuple(e["seen"]) not in {(nop >> 16, nop & 0xFFFF), (call >> 16, call & 0xFFFF), (ft.method.trap_insn,)}


def _install_harvest(m, ft, res, observe=None):
    """Keep the violating fetch events through the machine's fetch hook: torn and stale-after-sync as the machine
    flags them, an in-window stale 32-bit fetch that executed a mixed instruction (site_mixed) as a torn one the machine
    missed, and a relaxed fetch (any other kind: "cff") at a site as mixed (site_mixed); a relaxed fetch whose
    could-fetch-from set holds a pair outside Config.cmodx's list relies on UNPREDICTABLE.  observe(), if given,
    runs after every batch of scheduler steps (the advance hook)."""
    last = None
    rule = f"cmodx {res.cmodx}"

    def on_fetch(core, e):
        nonlocal last
        kind = e["kind"]
        same = (e["core"], e["pc"], e["instructions"]) == last
        last = (e["core"], e["pc"], e["instructions"])
        if kind not in VIOLATION_EVENTS and kind != "stale":
            pair = cmodx_lists.forbidden_pair(res.cmodx, e.get("candidates", ()))
            if pair is not None:
                res.unpredictable += 1
                if len(res.unpredictable_where) < EVENTS_KEPT:
                    res.unpredictable_where.append(dict(
                        locate(ft, "unpredictable", e["core"], e["pc"]), source="cff", rule=rule,
                        candidates=[list(c) for c in e["candidates"]], pair=[list(p) for p in pair]))
            if same or not site_mixed(ft, e):       # same: the fetch was counted as a stale one
                return
            e = dict(e, kind="mixed")
            res.mixed += 1
        elif kind == "stale" and not same and len(e["seen"]) == 2 and site_mixed(ft, e):
            e = dict(e, kind="torn", missed=True)
            res.torn_missed += 1
        elif kind not in VIOLATION_EVENTS:
            return
        else:
            res.violation_events += 1
        if len(res.events) < EVENTS_KEPT:
            res.events.append(e)
    m.hook_add("fetch", on_fetch)
    if observe is not None:
        m.hook_add("advance", lambda machine: observe())


def toggle(ft, config, n):
    """The n-th code change of a run (n from 0): off, on, then the refilter patterns, in a cycle."""
    k = n % (2 + len(config.refilter))
    if k == 0:
        ft.ftrace_disable()
    elif k == 1:
        ft.ftrace_enable()
    else:
        ft.set_ftrace_filter(config.refilter[k - 2])


def run_one(method, seed, drop=(), config=Config(), stop_on_violation=False, keep=None, observe=None,
            model="ideal", mutate=None):
    """One randomized run on machine model `model` (a cpu.model name or Model); returns a RunResult (and, with
    keep=dict, the machine and ftrace in it).

    observe(m, ft), if given, is called once after boot and returns a callable run after every scheduler step
    (explain() watches the violating site with it).  mutate(ft), if given, switches a deliberate bug on after
    boot (ftrace.explore.mutants)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    check_drop(method, drop)
    model = cpu.model.get_model(model)
    ref_code, ref_out, ref_sp = reference_output(config)
    t0 = time.perf_counter()
    m, ft, out = build(config, method, tuple(drop), seed, stop_on_violation, model)
    if mutate is not None:
        mutate(ft)
    res = RunResult(method, tuple(drop), seed, model.name, config.cmodx, patch_cpu=ft.patch_cpu)
    if config.coverage:
        Coverage(m, ft, res)
    if config.adversarial():
        m.adversary(ft, config, seed, res)
    _install_harvest(m, ft, res, observe(m, ft) if observe is not None else None)
    fault = None
    try:
        if config.filter:
            ft.set_ftrace_filter(config.filter)
        ft.current_tracer = "function"
        while m.exit_code is None:
            if m.instructions > config.max_instructions:
                raise cpu.InstructionLimit(f"no exit after {config.max_instructions} instructions")
            ft.run_for(config.toggle_every)
            if m.exit_code is not None:
                break
            toggle(ft, config, res.toggles)
            res.toggles += 1
    except cpu.GuestFault as e:
        res.error = str(e)
        fault = e
    except cpu.InstructionLimit as e:
        res.error = str(e)
    except FtraceError as e:        # ftrace_bug killed ftrace (a site held what the update did not expect)
        res.error = f"ftrace-bug: {e}"
    st = m.stats()
    res.coverage = dict(sorted(res.coverage.items(), key=lambda kv: int(kv[0])))
    res.instructions = m.instructions
    res.torn = sum(s["torn_fetches"] for s in st)
    res.stale = sum(s["stale_fetches"] for s in st)
    res.late_stale = sum(s["late_stale_fetches"] for s in st)
    res.cmodx_fetches = sum(u.get("cmodx_fetches", 0) for u in ft.update_log)
    res.bkpt_hits = ft.bkpt_handler.hits
    res.updates = len(ft.update_log)
    if not has_cff(model):
        _audit_verdict(ft, res)
    res.events = [_plain(e) for e in res.events]
    res.where = [locate(ft, e["kind"], e["core"], e["pc"]) for e in res.events]
    if fault is not None and not isinstance(fault, FetchViolation):
        res.where.append(locate(ft, "fault", fault.core, fault.pc))
    res.schedule_len = len(m.record)
    res.schedule_hash = schedule_hash(m.record)
    if res.error.startswith("ftrace-bug"):
        res.violations.append("ftrace-bug")
    elif res.error and not isinstance(fault, FetchViolation):     # stop_on_violation's stop is not a fault
        res.violations.append("fault")
    if res.torn or res.torn_missed:
        res.violations.append("torn")
    if res.mixed:
        res.violations.append("mixed")
    if res.late_stale:
        res.violations.append("late-stale")
    if not res.error:
        if [c.get_reg(13) for c in m.cores] != ref_sp:
            res.violations.append("stack")
        if m.exit_code != ref_code or out.getvalue() != ref_out:
            res.violations.append("wrong-result")
    res.host_seconds = time.perf_counter() - t0
    if keep is not None:
        keep.update(machine=m, ftrace=ft, output=out.getvalue(), fault=fault)
    return res


def _plain(e):
    """A fetch event as JSON-ready lists."""
    e = dict(e, seen=list(e["seen"]), memory=list(e["memory"]))
    if "candidates" in e:
        e["candidates"] = [list(c) for c in e["candidates"]]
    return e


def _audit_verdict(ft, res):
    """Line-atomic fills: the CMODX audit's fetches are the ones that relied on UNPREDICTABLE, one where-entry
    per update that had any (the audit counts, it does not say which core fetched where)."""
    res.unpredictable = res.cmodx_fetches
    rule = f"cmodx {res.cmodx}"
    res.unpredictable_where = [
        {"kind": "unpredictable", "core": None, "pc": None, "site": None, "func": None, "straddles": False,
         "source": "audit", "rule": rule, "update": i, "fetches": u["cmodx_fetches"]}
        for i, u in enumerate(ft.update_log) if u.get("cmodx_fetches")][:EVENTS_KEPT]


def _unpredictable_text(w):
    if w["source"] == "audit":
        return f"update #{w['update'] + 1}: {w['fetches']} fetches of instructions it rewrote (CMODX audit)"
    cands = " or ".join("[" + " ".join(map(_hw, c)) + "]" for c in w["candidates"])
    return f"core {w['core']} at 0x{w['pc']:x} could fetch {cands}"


def _hw(v):
    return "----" if v is None else f"{v:04x}"


def explain(method, seed, drop=(), config=Config(), max_lines=40, model="ideal", named=False, mutate=None):
    """Re-run a run exactly, stopping at its first torn or late-stale fetch (or fault), and tell what happened:
    which core fetched which halfwords at what time, what memory held, and the interleaving that led there --
    scheduler step by step, every write to the site and every change of what each core's icache holds for it,
    the updates' start and end (their last sync returned).  Returns (RunResult, text).

    Two passes over the same seed: the first finds the violating address, the second watches it.  The first
    line names the model when named=True or the model is not ideal, with the run's UNPREDICTABLE count."""
    first = run_one(method, seed, drop, config, stop_on_violation=True, model=model, mutate=mutate)
    target = None
    if first.where:
        w = first.where[0]
        target = w["site"] if w["site"] is not None else w["pc"]
    timeline = []
    watched = []

    def observe(m, ft):
        if target is None:
            return None
        addrs = ft.method.site_halfwords(target)
        watched.extend(addrs)
        state = {"mem": [m.read16(a) for a in addrs],
                 "ic": [[c.icache_contents(a) for a in addrs] for c in m.cores],
                 "ipis": [c.ipis_taken for c in m.cores], "busy": False, "steps": 0, "violator": None}

        def on_violation(core, e):
            if e["kind"] in VIOLATION_EVENTS:
                state["violator"] = core.id

        def on_fault(core, fault):
            state["violator"] = core.id
            return False                    # noted, not handled: it stops the run as before
        m.hook_add("fetch", on_violation)
        m.hook_add("fault", on_fault)

        def after_step():
            n = len(m.record)
            batch = [a for a, _ in m.record[state["steps"]:n]]
            step, who = n, (batch[0] if len(batch) == 1 else "")
            state["steps"] = n
            actor = "steps" if who == "" else who if isinstance(who, str) else f"core{who}"
            v = state["violator"]

            def own(core):
                """(step, actor) of a change to core's icache: the violating step (which raised, so is not
                recorded) when core is the violator and had no other step since the last look."""
                if v == core and v not in batch:
                    return n + 1, f"core{v}"
                return step, actor
            mem = [m.read16(a) for a in addrs]
            if mem != state["mem"]:
                for a, old, new in zip(addrs, state["mem"], mem):
                    if old != new:
                        timeline.append((step, f"[{actor}] memory 0x{a:x}: {old:04x} -> {new:04x}"))
                state["mem"] = mem
            for c in m.cores:
                ic = [c.icache_contents(a) for a in addrs]
                ipi = c.ipis_taken != state["ipis"][c.id]
                state["ipis"][c.id] = c.ipis_taken
                if ic != state["ic"][c.id]:
                    was = state["ic"][c.id]
                    refilled = [f"0x{a:x}" for a, y in zip(addrs, ic) if y is not None]
                    if ipi and refilled:     # the IPI's ICIALLU emptied the line: what it holds now came after
                        why = f"IPI: icache invalidated, then refilled: {' '.join(refilled)} from memory"
                    elif any(x is not None and y is None for x, y in zip(was, ic)):
                        why = ("IPI: icache invalidated" if ipi else
                               "local flush by the patcher" if who == f"agent:{c.id}" else
                               "local flush by the patcher or random eviction" if who == "" and m.agents
                               and c.id == ft.patch_cpu else "random eviction")
                    else:
                        why = "line fill from memory"
                    at, by = own(c.id)
                    timeline.append((at, f"[{by}] core {c.id} icache [{' '.join(map(_hw, was))}] -> "
                                           f"[{' '.join(map(_hw, ic))}] ({why}), core cycle {c.cycles}"))
                    state["ic"][c.id] = ic
            busy = bool(m.agents)
            if busy != state["busy"]:
                if busy:
                    timeline.append((step, f"update #{len(ft.update_log) + 1} starts on cpu{ft.patch_cpu}"))
                else:
                    timeline.append((step, f"update #{len(ft.update_log) + 1} ends: its last sync returned, "
                                           "its writes must now be seen by every core"))
                state["busy"] = busy
        return after_step

    keep = {}
    res = run_one(method, seed, drop, config, stop_on_violation=True, keep=keep, observe=observe, model=model,
                  mutate=mutate)
    m, ft = keep["machine"], keep["ftrace"]
    named = named or res.model != "ideal"
    lines = [f"replay of {res.named if named else res.label} seed {seed}: "
             f"{', '.join(res.violations) or 'no violation'}; "
             f"schedule of {res.schedule_len} steps, hash {res.schedule_hash}"]
    if named:
        lines.append(f"  relies on UNPREDICTABLE (cmodx {res.cmodx}): {res.unpredictable} fetches"
                     + "".join(f"; first: {_unpredictable_text(w)}" for w in res.unpredictable_where[:1]))
    if res.error:
        lines.append(f"  stopped by: {res.error}")
    for e in res.events[:1]:
        seen = " ".join(f"{h:04x}" for h in e["seen"])
        mem = " ".join(f"{h:04x}" for h in e["memory"])
        sym = ft.symbolize(e["pc"])
        where = f"{sym[0]}+0x{sym[1]:x}" if sym else hex(e["pc"])
        lines.append(f"  core {e['core']} fetched [{seen}] at 0x{e['pc']:x} ({where}) at core cycle {e['cycles']}: "
                     f"{e['kind']}; memory holds [{mem}]")
    if res.where:
        w = res.where[0]
        if w["site"] is not None:
            lines.append(f"  the site is {w['func']}'s mcount BL at 0x{w['site']:x}; it straddles two icache "
                         f"lines: {'yes' if w['straddles'] else 'no'}")
        elif w["pc"] is not None:
            lines.append(f"  the fault is at 0x{w['pc']:x}, not at an mcount site (a wild branch after a mixed "
                         "instruction, most likely)")
    if timeline:
        shown = timeline[-max_lines:]
        lines.append(f"  the interleaving at {' '.join(hex(a) for a in watched)} (scheduler step [actor]: what "
                     f"changed; last {len(shown)} of {len(timeline)}):")
        lines += [f"    {step:6d}  {text}" for step, text in shown]
    steps = m.record[-12:]
    lines.append("  last scheduler steps (actor, quantum or instructions run): " +
                 ", ".join(f"{a}:{n}" for a, n in steps))
    for u in ft.update_log[-1:]:
        lines.append(f"  last completed update: {u}")
    return res, "\n".join(lines)


@dataclass
class Tally:
    """One label's runs: how many, how many violating, {kind: runs that showed it} in first-seen order, the
    CMODX-uncovered fetches, how many runs without a violation relied on UNPREDICTABLE (rely) and against which
    CMODX lists (lists), and the label's cell (method and drops) and model."""
    runs: int = 0
    bad: int = 0
    kinds: dict = field(default_factory=dict)
    cmodx: int = 0
    rely: int = 0
    lists: dict = field(default_factory=dict)
    cell: str = ""
    model: str = "ideal"

    @property
    def clean(self):
        return self.runs - self.bad - self.rely


def tally(results):
    """{label: Tally} over RunResults (or a {key: RunResult} dict), labels in first-seen order: the count that
    summarize, campaign.violation_rates and the report share."""
    by = {}
    for r in (results.values() if isinstance(results, dict) else results):
        t = by.setdefault(r.label, Tally(cell=r.cell, model=r.model))
        t.runs += 1
        t.cmodx += r.cmodx_fetches
        t.lists[r.cmodx] = True
        if r.verdict == "unpredictable":
            t.rely += 1
        if r.violations:
            t.bad += 1
            for k in r.violations:
                t.kinds[k] = t.kinds.get(k, 0) + 1
    return by


def summarize(results, named=False):
    """`METHOD: violations V of R runs` lines with the breakdown by kind, in first-seen order of labels; with
    named=True (or any model but ideal) the three verdict classes under the model named, as
    `METHOD [MODEL]: V violating (kind n, ...), U relying on UNPREDICTABLE (cmodx v7), C clean of R runs`."""
    lines = []
    for label, t in tally(results).items():
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(t.kinds.items()))
        if named or t.model != "ideal":
            lines.append(f"{t.cell} [{t.model}]: {t.bad} violating" + (f" ({kinds})" if kinds else "")
                         + f", {t.rely} relying on UNPREDICTABLE (cmodx {'/'.join(t.lists)}), {t.clean} clean "
                         f"of {t.runs} runs; CMODX-uncovered fetches {t.cmodx}")
        else:
            lines.append(f"{label}: violations {t.bad} of {t.runs} runs" + (f" ({kinds})" if kinds else "")
                         + f"; CMODX-uncovered fetches {t.cmodx}")
    return lines
