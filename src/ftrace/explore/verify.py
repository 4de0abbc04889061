"""`ftrace verify`: a stateless model checker over the simulated machine -- every interleaving of a litmus
workload with one enable and one disable update, within a bound, instead of random ones.

Workload: litmus-O2.elf (src/ftrace/guest/litmus.c).  Core 0 starts `cores` workers and hosts the patching
agent; each worker calls lit_a and lit_b `iters` times, counting its calls in litmus_calls[cpu].  lit_a's mcount
BL straddles a 32-byte icache line (tests/test_verify.py checks it), lit_b's does not.  Before the search: the
function tracer registered with ftrace_enabled 0 and the filter 'lit_a lit_b'; the patcher (an actor) then runs
ftrace_enabled 0->1 and 1->0, each an update by the method under test.

Choice points (one compact choice vector per execution, replayed by re-execution from a freshly booted machine):
  * which actor runs next: a worker core or the patcher, and for a core optionally first evicting one of the site
    lines it holds (evictions are explicit choices: Core.evict; which ones, Cell.evictions).  A core's step runs its instructions until, and
    including, the next one that matters: an instruction at a site halfword, one that fills a site line (a line
    holding a site), a host call (the tracer), an IPI or handler; between those, nothing a patcher does can be
    seen, so they run atomically.  A patcher step is one agent step (a write, a maintenance operation, an IPI
    send: Agent.step), or starting the next update; an agent that waits is not enabled.
  * the relaxed machine's choices, through Machine.set_chooser: a relaxed fill's version ('cff'), how many
    instructions survive an invalidate ('prefetch'), an IPI's delay ('ipi': the extremes 0 and ipi_latency only,
    a bound this checker states).
Evictions ('lazy', the default): a core may lose a stale copy of a site line (one that differs from memory)
before any of its steps, and any copy it holds just before each patcher store to that line (a binary choice
inside the patcher's step, through CodePatcher.write_observers).  Why no other moment is needed: losing a current
copy at time t and losing it just before the line's next write w differ only if the core fetches from the line in
between, and then the refill returns the same halfwords as the copy it replaced (no write came between); its
filled version is newer, but the stale and late-stale verdicts compare it only with writes to the line, of which
none fall between the two versions.  The loss time a relaxed fill takes as its floor (Core.gone) likewise has no
write to the line between t and w.  'all' offers every held line before every step (the reference: the same
violation kinds, tests/test_verify.py); 'none' no eviction.
Search: depth-first over choice vectors.  State hashing: at each scheduling point the state that determines the
future (worker registers and flags, their stacks and sink slots, the call-count margins the final check compares (_count_key), the site halfwords and ftrace_call in
memory, each worker's copy of the site lines with its log version and loss time, prefetch buffer, pending IPI and
handler, the patcher's update and step count, the records' flags, the traced-event counts, the log's write and
completed sequence numbers) is hashed; a state already reached with at least the same remaining bound and a
sleep set no larger is pruned.  Sleep sets: after exploring a step from a node, a sibling explored later puts it
to sleep while the two are independent (Cell.sleep=False, --no-sleep-sets: off).  Independence is judged from
what each step read and wrote, recorded as it ran (Footprint):
  * a worker step: the site-line halfwords it executed (the stale check reads their memory), the site lines it
    filled (a fill reads the whole line), every site line it executed from, filled or evicted (its own icache),
    whether it made a host call or hit the breakpoint handler (host state), took an IPI, ran a handler or
    changed state, made a stale/torn fetch (its verdict reads the write log) or evicted a line (its loss time is
    a log version);
  * a patcher step: the halfwords it wrote, per worker core the site lines whose copy (or filled/loss version)
    it changed, the cores whose IPI queue, state, handler or prefetch buffer it changed, whether wseq or
    completed_wseq moved.  Starting an update (the tracer's host state changes; it reads every worker's
    counter) and ending one (its completion claims every write visible) are dependent on everything, as is a
    write outside the site lines.
Two workers' steps are independent unless both ran host code: litmus.c gives each worker its own counter, sink
slot and stack, and a fill or an eviction changes only the core's own icache (a line's filled version is the
log's wseq, which no worker step moves).  A worker step and a patcher step are independent unless the worker
ran host code, took an IPI, ran a handler or changed state; or the patcher changed that core's IPI queue,
state, handler or prefetch buffer, or a site line the step touched; or it wrote a halfword the step executed
or a line the step filled; or it moved the log while the step made a stale fetch or evicted.  Why that is
enough on the ideal machine: a step's extent depends only on site_hw (fixed) and its own icache's contents;
what an executed instruction does depends on its icache copy and, through the stale check, on memory at its
halfwords and on the log; a fill on memory of its line.  A patcher invalidation of a line a core does not
hold is invisible to the snapshot diff, but cross-core invalidations happen only in stop_machine's release,
while the workers are parked (not enabled).  On a relaxed model (fills weigh the log, prefetch reads ahead)
every site line a worker touched counts as read from memory and the log: dependent on any patcher write to
it and on any log move.  Only steps without relaxed choices inside are put to sleep.  Sleep sets cut
equivalent schedules, so the violating-schedule count is smaller than without them; the violations found (by
kind) and the verdict must not change (tests/test_verify.py compares).  With a preemption bound, sleep sets
can in principle hide a schedule whose only equivalent representative exceeds the bound (the known
interaction of bounding and partial-order reduction); an exhaustive search (bound -1) has no such gap.  So by
default (Cell.sleep None) sleep sets are on only for an unbounded search; measured on breakpoint, 2 workers,
bound 1, evictions, they also cost more than they save there: the state cache, whose entries then cover only
the options not asleep, prunes less (2,295 schedules, 77,594 states with them; 1,656 and 64,259 without).
Bound: preemptions (choosing another actor while the last one could go on), `bound`; None for none.  A search
is `exhaustive` when no bound cut a path.  Violations: a guest fault, a torn or mixed fetch at a site, a
late-stale fetch, ftrace_bug, a site in an unexpected state after an update, a worker's stack pointer off when it
returns, a deadlock, and a wrong count: a worker's traced events must equal its calls counted while tracing was
on (litmus_calls between the enable's end and the disable's start; one call in flight at each end may go either
way, since a worker counts a call just before making it), and at most its calls counted from the enable's start
to the disable's end (plus the one in flight): a call may be made and traced whole inside an update, once its
site is live (the unbounded search found that schedule; the first version's check called it a wrong count).
"""
import io
import os
from dataclasses import dataclass, field

import cpu
from cpu import memmap
from cpu.machine import CORE_RUNNING, CORE_STOPPED
from ftrace.explore.run import site_mixed
from ftrace.kernel import cmodx
from ftrace.kernel.methods import METHODS, check_drop
from ftrace.kernel.ops import FtraceError
from ftrace.kernel.records import FTRACE_FL_ENABLED
from ftrace.kernel.trace import Ftrace

GUEST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "guest", "bin")
LITMUS = os.path.join(GUEST, "litmus-O2.elf")
FILTER = "lit_a lit_b"
SLOT = 8                    # litmus.c: words per core in its arrays
STEP_CAP = 100_000          # instructions in one core step without an event that matters: a livelock
UPDATES = ("enable", "disable")
EVICTIONS = ("lazy", "all", "none")


@dataclass(frozen=True)
class Cell:
    """What one search covers: a method (with dropped steps) on a model, `cores` workers, `iters` rounds each,
    at most `bound` preemptions (None: unbounded), evictions offered as choices or not."""
    method: str
    model: str = "ideal"
    drop: tuple = ()
    cores: int = 2
    iters: int = 1
    bound: object = 2
    evictions: str = "lazy"    # 'lazy', 'all' or 'none' (EVICTIONS)
    cmodx: str = "v7"          # the CMODX list a could-fetch-from set is judged by (ftrace.kernel.cmodx)
    sleep: object = None       # sleep sets: True, False (the reference search they must agree with), None:
                               # on only for an unbounded search (see the module docstring)

    def __post_init__(self):
        if self.evictions not in EVICTIONS:
            raise ValueError(f"evictions must be one of {', '.join(EVICTIONS)}, not {self.evictions!r}")

    def sleep_on(self):
        return self.bound is None if self.sleep is None else bool(self.sleep)

    def label(self):
        return self.method + "".join(f" --drop {d}" for d in self.drop)


class Stop(Exception):
    """An execution ends early: reason is 'violation', 'state', 'sleep' or 'depth'."""

    def __init__(self, reason, detail=""):
        super().__init__(reason, detail)
        self.reason, self.detail = reason, detail


class Footprint:
    """What a step read and wrote, for the independence test (see the module docstring)."""
    __slots__ = ("actor", "exec_hw", "filled", "lines", "host", "event", "stale", "evicted",
                 "whw", "wlines", "clines", "cother", "cores", "logchg", "glob", "det", "mask", "ideal")

    def __init__(self, actor, mask=~31, ideal=True):
        self.actor, self.mask, self.ideal = actor, mask, ideal
        # a worker's step
        self.exec_hw = set()    # site-line halfwords it executed (their memory is read by the stale check)
        self.filled = set()     # site lines it filled (a fill reads the whole line from memory)
        self.lines = set()      # site lines it executed from, filled or evicted (its own icache's copies)
        self.host = False       # a host call (the tracer) or a host exception handler (a breakpoint hit)
        self.event = False      # an IPI taken, a handler, a state change
        self.stale = False      # a stale, late-stale or torn fetch (its verdict reads the write log)
        self.evicted = False    # an explicit eviction (records the loss time: a log version)
        # the patcher's step
        self.whw = set()        # halfwords it wrote
        self.wlines = set()     # their lines
        self.clines = {}        # worker core -> site lines whose copy (or its filled/loss versions) it changed
        self.cother = set()     # worker cores whose IPI queue, state or prefetch buffer it changed
        self.cores = set()      # for the replay's log: every worker core it changed
        self.logchg = False     # it changed the write log's wseq or completed_wseq
        self.glob = False       # dependent on every step
        self.det = True         # no relaxed choice inside

    def independent(self, o):
        if self.actor == o.actor or self.glob or o.glob:
            return False
        if self.actor != "p" and o.actor != "p":
            # workers share no guest data (litmus.c: own counter, sink slot and stack) and each fills only its
            # own icache: only two host calls (the tracer's shared host state) are kept dependent
            return not (self.host and o.host)
        w, p = (self, o) if o.actor == "p" else (o, self)
        if w.host or w.event or w.actor in p.cother:
            return False
        if p.clines.get(w.actor, set()) & w.lines:
            return False
        if not w.ideal:             # relaxed fills and prefetch: any touched line reads memory and the log
            return not (w.lines & p.wlines or (p.logchg and w.lines))
        if p.whw & w.exec_hw or p.wlines & w.filled:
            return False
        return not (p.logchg and (w.stale or w.evicted))


def encode(choices):
    """The compact choice vector: one base-36 digit per choice, (N) for larger ones."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    return "".join(digits[c] if c < 36 else f"({c})" for c in choices) or "-"


def decode(text):
    out, i = [], 0
    text = "" if text == "-" else text
    while i < len(text):
        if text[i] == "(":
            j = text.index(")", i)
            out.append(int(text[i + 1:j]))
            i = j + 1
        else:
            out.append(int(text[i], 36))
            i += 1
    return out


class Execution:
    """One execution of a cell along a choice vector: prefix choices first, then the first option not asleep
    (or 0 for a relaxed choice).  trace: [(kind, n, value, asleep)] per choice point."""

    def __init__(self, search, prefix, log=None):
        self.s, self.cell, self.prefix = search, search.cell, list(prefix)
        self.sleep_on = self.cell.sleep_on()
        self.trace, self.choices = [], []
        self.log = log                  # a list: the replay's explanation, step by step
        self.preempt, self.last = 0, None
        self.sleep = {}                 # option key -> Footprint
        self.update = 0                 # updates started
        self.agent = None
        self.step_fp = None
        self.counts = {}                # litmus_calls snapshots: 'on' (enable done), 'off' (disable starting)
        c = self.cell
        m = cpu.Machine(cores=c.cores + 1, mem_size=4 << 20, model=c.model)
        out = io.BytesIO()
        m.load_elf(LITMUS, argv=["litmus", str(c.iters)], stdout=out, stderr=out)
        ft = Ftrace(m, method=c.method, drop=c.drop, buffer_size_kb=4)
        self.m, self.ft = m, ft
        ft.ftrace_disable()
        ft.set_ftrace_filter(FILTER)
        ft.current_tracer = "function"
        c0 = m.cores[0]
        while not all(x.state == CORE_RUNNING for x in m.cores):
            c0.step(100)                # main starts the workers (deterministic: no other core runs yet)
        self.workers = list(range(1, c.cores + 1))
        self.tops = {i: m.cores[i].get_reg(13) for i in self.workers}
        sym = m.image.symbols
        self.data = [(sym[n].addr, 4 * SLOT * (c.cores + 1)) for n in ("litmus_sink",)]
        self.calls_addr = sym["litmus_calls"].addr
        self.site_hw = set()
        for rec in ft.records:
            self.site_hw.update(ft.method.site_halfwords(rec.ip))
        for n in ("ftrace_call", "ftrace_graph_call"):
            self.site_hw.update((ft.sym[n], ft.sym[n] + 2))
        mask = ~(m.line_size - 1)
        self.mask = mask
        self.site_lines = sorted({a & mask for a in self.site_hw} | {(a + 2) & mask for a in self.site_hw})
        self.site_list = sorted(self.site_hw)
        m.hook_add("fetch", self._on_fetch)
        m.hook_add("code_write", self._on_write)
        self.unpredictable = 0
        self.writes = []
        m.set_chooser(self._choose)
        if c.evictions == "lazy":
            ft.patcher.write_observers.append(self._before_write)
        m.run_until = self._drive       # the update's wait for its agent: the search schedules it

    # ---- choices ----

    def _next(self, kind, n, asleep=()):
        i = len(self.choices)
        if i < len(self.prefix):
            v = self.prefix[i]
            if v >= n:
                raise ValueError(f"choice {i} is {v}, but there are only {n} options ({kind})")
        else:
            v = next((k for k in range(n) if k not in asleep), None)
            if v is None:
                raise Stop("sleep")
        self.choices.append(v)
        self.trace.append((kind, n, v, frozenset(asleep)))
        return v

    def _choose(self, kind, n):
        if self.step_fp is not None:
            self.step_fp.det = False
        if kind == "ipi":               # the extremes only
            v = self._next(kind, 2)
            if self.log is not None:
                self.log.append(f"      choice ipi delay: {(0, n - 1)[v]}")
            return (0, n - 1)[v]
        v = self._next(kind, n)
        if self.log is not None:
            self.log.append(f"      choice {kind}: {v} of {n}")
        return v

    # ---- observation ----

    def _on_fetch(self, core, e):
        kind = e["kind"]
        if kind == "cff":
            if e["pc"] in self.site_hw and cmodx.forbidden_pair(self.cell.cmodx, e["candidates"]):
                self.unpredictable += 1
            return
        if self.step_fp is not None:
            self.step_fp.stale = True
        if kind == "stale" and len(e["seen"]) == 2 and site_mixed(self.ft, e):
            kind = "torn"
        if kind in ("torn", "stale-after-sync"):
            seen = " ".join(f"{h:04x}" for h in e["seen"])
            mem = " ".join(f"{h:04x}" for h in e["memory"])
            self.violation(kind if kind == "torn" else "late-stale",
                           f"core {e['core']} executed [{seen}] at 0x{e['pc']:x}, memory holds [{mem}]")

    def _on_write(self, core, addr, old, new, seq):
        self.writes.append((addr, old, new))

    def violation(self, kind, detail):
        raise Stop("violation", f"{kind}: {detail}")

    # ---- the scheduler ----

    def enabled(self):
        """Option keys at this point: ('p', None), (core, None), (core, line) to evict line first."""
        opts = []
        if self.agent is not None and self.agent.ready() or self.agent is None and self.update < len(UPDATES):
            opts.append(("p", None))
        for i in self.workers:
            c = self.m.cores[i]
            if c.state != CORE_RUNNING:
                continue
            opts.append((i, None))
            if self.cell.evictions != "none" and not c.in_handler:
                opts += [(i, line) for line in self.site_lines if self._evictable(c, line)]
        # the last actor first: its steps need no preemption, so a path's default continuation has none
        opts.sort(key=lambda o: (o[0] != self.last, o[0] != "p", o[1] is not None, str(o)))
        return opts

    def _evictable(self, c, line):
        """A site line core c holds, offered for eviction before its step: any ('all'), or ('lazy') only a stale
        copy (one that differs from memory); see the module docstring."""
        held = c.line_state(line)[0]
        if held is None:
            return False
        return self.cell.evictions == "all" or held != tuple(memoryview(self.m.read(line, 2 * len(held))).cast("H"))

    def _before_write(self, ip, size):
        """Lazy evictions: before the patcher stores to a site line, each worker holding it may lose it first."""
        for line in sorted({ip & self.mask, (ip + size - 1) & self.mask}):
            if line not in self.site_lines:
                continue
            for i in self.workers:
                c = self.m.cores[i]
                if c.state == CORE_STOPPED or c.in_handler or c.icache_contents(line) is None:
                    continue
                if self._next("evict", 2):
                    c.evict(line)
                    if self.step_fp is not None:
                        self.step_fp.det = False
                    if self.log is not None:
                        self.log.append(f"      choice evict: core {i} loses line 0x{line:x} before the write")

    def _drive(self, cond, max_steps=None):
        while cond is None or not cond():
            self._close_step()
            opts = self.enabled()
            if not opts:
                if cond is None and self.update == len(UPDATES) and self.agent is None:
                    return True
                self.violation("deadlock", "no actor can go on: " + ("the patcher waits" if self.agent else
                                                                       "the workers are done"))
            self._node(opts)
        self._close_step()
        return True

    def _node(self, opts):
        s, cell = self.s, self.cell
        last_on = any(o[0] == self.last for o in opts)
        rem = None if cell.bound is None else cell.bound - self.preempt
        if rem is not None and last_on:
            allowed = [o for o in opts if o[0] == self.last or rem > 0]
            if len(allowed) < len(opts):
                s.cut = True
            opts = allowed
        if s.frontier is not None and len(self.choices) >= s.frontier:
            raise Stop("frontier")
        if s.max_depth is not None and len(self.choices) >= s.max_depth:
            s.cut = True
            raise Stop("depth")
        key = self.state_key()
        depth_rem = None if s.max_depth is None else s.max_depth - len(self.choices)
        node = tuple(self.choices)
        if len(self.choices) >= len(self.prefix):      # the prefix's nodes were recorded when first reached
            # the state cache with sleep sets (Godefroid's scheme): an option an earlier visit of this state (with
            # at least this bound and depth left) did not have asleep is explored from there already; if that
            # covers every option not asleep here, prune; else those options join this visit's sleep set
            # (with their footprints from there: the same state, the same steps)
            entries = [e for e in s.visited.get(key, ()) if (rem is None or e[0] >= rem)
                       and (depth_rem is None or e[1] >= depth_rem)]
            extra = {}
            covered = set()
            for r, d, z, enode, eopts in entries:
                for k, o in enumerate(eopts):
                    if o not in z:
                        covered.add(o)
                        fp = s.fp.get((enode, k))
                        if self.sleep_on and o not in self.sleep and fp is not None and fp.det:
                            extra[o] = fp
            if entries and all(o in covered or o in self.sleep for o in opts):
                raise Stop("state")
            if extra:
                s.extra[node] = extra
                self.sleep = {**self.sleep, **extra}
            s.visited.setdefault(key, []).append((rem if rem is not None else 1 << 30,
                                                  depth_rem if depth_rem is not None else 1 << 30,
                                                  frozenset(self.sleep), node, tuple(opts)))
        elif node in s.extra:
            self.sleep = {**self.sleep, **s.extra[node]}
        asleep = {k for k, o in enumerate(opts) if o in self.sleep}
        v = self._next("sched", len(opts), asleep)
        if v in asleep:
            raise Stop("sleep")
        opt = opts[v]
        # the child's sleep set: asleep and explored siblings independent of this step, once it is known
        done = {}
        for k in range(v if self.sleep_on else 0):
            fp = s.fp.get((node, k))
            if fp is not None and fp.det and k not in asleep:
                done[opts[k]] = fp
        if last_on and opt[0] != self.last:
            self.preempt += 1
        self.last = opt[0]
        self.step_fp = Footprint(opt[0], self.mask, self.cell.model == "ideal")
        self.pending = (node, v, {**self.sleep, **done})
        if opt[0] == "p":
            self._patcher_step()
        else:
            self._core_step(opt[0], opt[1])

    def _close_step(self):
        fp = self.step_fp
        if fp is None:
            return
        self.step_fp = None
        node, v, cand = self.pending
        if self.sleep_on:
            self.s.fp[(node, v)] = fp
        self.sleep = {k: f for k, f in cand.items() if f.independent(fp)}

    def _core_step(self, i, evict):
        fp, c = self.step_fp, self.m.cores[i]
        if evict is not None:
            c.evict(evict)
            fp.evicted = True
            fp.lines.add(evict)
            if self.log is not None:
                self.log.append(f"  core {i}: evicts its icache line 0x{evict:x}")
        ipis, state, pc0 = c.ipis_taken, c.state, c.pc
        hits = self.ft.bkpt_handler.hits
        fp.event = c.in_handler
        lines = self.site_lines
        explain = []
        for n in range(STEP_CAP):
            pc = c.pc
            if c.in_handler:
                fp.event = True
                self._run(c, max(1, c.handler_left))
                explain.append("finishes its handler")
                break
            vis = pc >= memmap.HOSTCALL_BASE
            for a in (pc, pc + 2):
                line = a & self.mask
                if line in lines:
                    fp.lines.add(line)
                    fp.exec_hw.add(a)
                    if c.icache_contents(a) is None:
                        fp.filled.add(line)
                        vis = True
                    elif a in self.site_hw:
                        vis = True
            if pc >= memmap.HOSTCALL_BASE:
                fp.host = True
            held = c.icache_contents(pc) if vis and self.log is not None and pc < memmap.HOSTCALL_BASE else None
            self._run(c, 1)
            if vis and self.log is not None:
                explain.append(self._fetched(c, pc, held))
            if c.ipis_taken != ipis or c.in_handler or c.state != state:
                fp.event = True
                explain.append("takes an IPI" if c.ipis_taken != ipis else
                               "enters a handler" if c.in_handler else "stops")
                break
            if vis:
                break
        else:
            raise RuntimeError(f"core {i} ran {STEP_CAP} instructions without an event that matters")
        if self.ft.bkpt_handler.hits != hits:
            fp.host = True          # the breakpoint handler (host code) ran
        if c.state == CORE_STOPPED and c.get_reg(13) != self.tops[i]:
            self.violation("stack", f"core {i} returned with sp 0x{c.get_reg(13):x}, "
                                    f"started with 0x{self.tops[i]:x}")
        if self.log is not None:
            self.log.append(f"  core {i} (pc 0x{pc0:x}): " + "; ".join(explain) + f"; now at 0x{c.pc:x}")

    def _fetched(self, c, pc, held):
        """What the replay says of a visible instruction: where, what the icache gave, what memory holds."""
        if pc >= memmap.HOSTCALL_BASE:
            return "calls the host (the tracer)" if pc >> 2 != memmap.HOSTCALL_BASE >> 2 else "returns (exit)"
        sym = self.ft.symbolize(pc)
        where = f"0x{pc:x} ({sym[0]}+0x{sym[1]:x})" if sym else f"0x{pc:x}"
        now = c.icache_contents(pc)
        return (f"executes {where}: fetched {now if now is None else format(now, '04x')}"
                f"{' after a fill' if held is None else ''}, memory {self.m.read16(pc):04x}")

    def _run(self, c, n):
        try:
            c.step(n)
        except cpu.GuestFault as e:
            self.violation("fault", str(e))

    def _snapshot(self):
        """Per worker core: each site line's state (halfwords held, filled and loss versions), and the rest a
        patcher can change of it (IPI queue and due time, state, handler, prefetch buffer)."""
        out = {}
        for i in self.workers:
            c = self.m.cores[i]
            out[i] = ({a: c.line_state(a) for a in self.site_lines},
                      (len(c.ipi_queue), c.ipi_due if c.ipi_queue else 0, c.state, c.in_handler, c.primask,
                       c.prefetched))
        return out, self.m.wseq, self.m.completed_wseq

    def _patcher_step(self):
        fp = self.step_fp
        (before, w0, cw0) = self._snapshot()
        self.writes = []
        if self.agent is None:
            fp.glob = True      # the host state the tracer reads changes; it reads every worker's counter
            self._start_update()
            return
        self.agent.step()
        after, w1, cw1 = self._snapshot()
        for i in self.workers:
            changed = {a for a in self.site_lines if before[i][0][a] != after[i][0][a]}
            if changed:
                fp.clines[i] = changed
            if before[i][1] != after[i][1]:
                fp.cother.add(i)
        fp.cores = set(fp.clines) | fp.cother
        fp.logchg = (w0, cw0) != (w1, cw1)
        fp.whw = {a for a, _, _ in self.writes} | {a + 2 for a, o, n in self.writes if o > 0xffff or n > 0xffff}
        fp.wlines = {a & self.mask for a in fp.whw}
        if not fp.wlines <= set(self.site_lines):
            fp.glob = True      # a write outside the site lines: no worker step's footprint records it
        if self.log is not None:
            what = [f"0x{a:x}: {o:04x} -> {n:04x}" for a, o, n in self.writes]
            what += [f"changes core {i}" for i in sorted(fp.cores)]
            self.log.append(f"  patcher: step {self.agent.steps} of the {UPDATES[self.update - 1]} update"
                            + (": " + ", ".join(what) if what else "")
                            + (" (then waits)" if self.agent.wait is not None else ""))
        if self.agent.done:
            fp.glob = True          # the update returns: its completion claims every write visible
            self.m.agents.remove(self.agent)

    def _start_update(self):
        which = UPDATES[self.update]
        self.update += 1
        if self.log is not None:
            self.log.append(f"  patcher: starts the {which} update (ftrace_enabled {int(which == 'disable')} -> "
                            f"{int(which == 'enable')})")
        orig = self.m.spawn

        def spawn(gen, cpu=0, name="agent"):
            self.agent = orig(gen, cpu, name)
            return self.agent
        self.m.spawn = spawn
        if which == "disable":
            self.counts["off"] = self.calls()
        else:
            self.counts["on0"] = self.calls()
        try:
            if which == "enable":
                self.ft.ftrace_enable()
            else:
                self.ft.ftrace_disable()
        except FtraceError as e:
            self.violation("ftrace-bug", str(e))
        finally:
            del self.m.spawn
        self.agent = None
        if self.log is not None:
            self.log.append(f"  patcher: the {which} update returned")
        for rec in self.ft.records:
            want = "call" if which == "enable" and rec.flags & FTRACE_FL_ENABLED else "nop"
            got = self.ft.site_state(rec)
            if got != want:
                self.violation("site", f"after the {which} update {rec.func}'s site holds {got}, not {want}")
        if which == "enable":
            self.counts["on"] = self.calls()
        else:
            self.counts["off1"] = self.calls()

    def calls(self):
        return tuple(self.m.read32(self.calls_addr + 4 * SLOT * i) for i in range(self.m.ncores))

    # ---- the state hash ----

    def state_key(self):
        m = self.m
        parts = [self.update, self.agent.steps if self.agent else -1, self.agent is not None and self.agent.wait
                 is not None, self.last if self.cell.bound is not None else None,
                 m.read(self.site_list[0], self.site_list[-1] + 2 - self.site_list[0]),
                 tuple(m.read(a, n) for a, n in self.data), m.wseq, m.completed_wseq,
                 tuple(r.flags for r in self.ft.records), tuple(self.ft.rb.written(i) for i in range(m.ncores)),
                 self._count_key()]
        for i in self.workers:
            c = m.cores[i]
            sp = c.get_reg(13)
            parts.append((tuple(c.regs), c.apsr, c.itstate, c.state, c.primask, c.in_handler, c.handler_left,
                          len(c.ipi_queue), max(0, c.ipi_due - c.instructions) if c.ipi_queue else 0,
                          c.prefetched, c.exclusive, tuple(c.line_state(a) for a in self.site_lines),
                          m.read(sp, self.tops[i] - sp) if c.state == CORE_RUNNING and sp <= self.tops[i] else b""))
        return hash(tuple(parts))

    def _count_key(self):
        """What of the call counters the future depends on: only the final check reads them (a worker never
        reads its counter back; main, which does, runs no more), so per worker the two margins it compares --
        traced minus the calls counted since the enable's start (up to the disable's end), and traced minus
        those since the enable's end (up to the disable's start) -- not the raw counts or snapshots (those
        would keep apart states whose every future has the same verdict)."""
        c, now = self.counts, self.calls()
        out = []
        for i in self.workers:
            t = self.ft.rb.written(i)
            up = t - (c["off1"][i] if "off1" in c else now[i]) + c["on0"][i] if "on0" in c else None
            lo = t - (c["off"][i] if "off" in c else now[i]) + c["on"][i] if "on" in c else None
            out.append((up, lo))
        return tuple(out)

    # ---- the whole execution ----

    def run(self):
        """-> (outcome, detail): 'ok', 'violation' or a pruning reason."""
        try:
            self._drive(None)
            self.final_check()
        except Stop as e:
            return e.reason, e.detail
        return "ok", ""

    def final_check(self):
        c = self.counts
        for i in self.workers:
            traced = self.ft.rb.written(i)
            want = c["off"][i] - c["on"][i]             # counted while tracing was surely on
            most = c["off1"][i] - c["on0"][i]           # counted while it was on at all (inside the updates too)
            if not want - 1 <= traced <= most + 1:
                self.violation("wrong-count", f"core {i} traced {traced} calls, made {want} while tracing was on "
                                              f"and {most} from the enable's start to the disable's end")


@dataclass
class Result:
    """A search's totals: schedules (complete executions), states (distinct hashed), pruned by the state cache
    and by sleep sets, violating schedules (and the first one's choices), schedules relying on UNPREDICTABLE."""
    schedules: int = 0
    states: int = 0
    pruned_state: int = 0
    pruned_sleep: int = 0
    violating: int = 0
    unpredictable: int = 0
    executions: int = 0
    cut: bool = False
    first: str = ""             # choices of the first violating schedule
    first_detail: str = ""
    kinds: dict = field(default_factory=dict)

    def merge(self, o):
        for k in ("schedules", "states", "pruned_state", "pruned_sleep", "violating", "unpredictable", "executions"):
            setattr(self, k, getattr(self, k) + getattr(o, k))
        self.cut = self.cut or o.cut
        if not self.first and o.first:
            self.first, self.first_detail = o.first, o.first_detail
        for k, n in o.kinds.items():
            self.kinds[k] = self.kinds.get(k, 0) + n


class Search:
    """Depth-first search over choice vectors from `root` (a prefix: the subtree below it)."""

    def __init__(self, cell, max_depth=None, fp=None, extra=None):
        check_drop(cell.method, cell.drop)
        if cell.method not in METHODS:
            raise ValueError(f"unknown method {cell.method!r}")
        self.cell, self.max_depth = cell, max_depth
        self.visited = {}
        self.fp = dict(fp or {})
        self.extra = dict(extra or {})  # node -> sleep entries the state cache added there (replayed prefixes)
        self.cut = False
        self.frontier = None

    def run(self, root=(), stop_at_violation=False, frontier=None):
        """Explore below root; with frontier=K, stop every execution at K choices and return their prefixes."""
        self.frontier = frontier
        res = Result()
        stack = [list(root)]
        found = []
        while stack:
            prefix = stack.pop()
            ex = Execution(self, prefix)
            outcome, detail = ex.run()
            res.executions += 1
            if outcome == "frontier":
                found.append(ex.choices)
            elif outcome == "ok":
                res.schedules += 1
                res.unpredictable += ex.unpredictable > 0
            elif outcome == "violation":
                res.schedules += 1
                res.violating += 1
                res.unpredictable += ex.unpredictable > 0
                kind = detail.split(":")[0]
                res.kinds[kind] = res.kinds.get(kind, 0) + 1
                if not res.first:
                    res.first, res.first_detail = encode(ex.choices), detail
                if stop_at_violation:
                    break
            elif outcome == "state":
                res.pruned_state += 1
            elif outcome == "sleep":
                res.pruned_sleep += 1
            # alternatives at the choice points this execution added, deepest first on top
            for i in range(len(prefix), len(ex.trace)):
                kind, n, v, asleep = ex.trace[i]
                for alt in range(n - 1, v, -1):
                    if alt in asleep:
                        res.pruned_sleep += 1
                    else:
                        stack.append(ex.choices[:i] + [alt])
        res.states = len(self.visited)
        res.cut = self.cut
        return (res, found) if frontier is not None else res


def _job(args):
    cell, prefix, fp, extra = args
    s = Search(cell, fp=fp, extra=extra)
    return s.run(prefix)


def verify(cell, jobs=1, split=None, pool=None):
    """The whole search of a cell: serial, or split at `split` choices into subtrees run by `jobs` processes
    (each with its own state cache; the results merge in frontier order, so jobs=1 with the same split gives
    the same numbers)."""
    if split is None:
        return Search(cell).run()
    top = Search(cell)
    res, frontier = top.run(frontier=split)
    work = [(cell, tuple(p), top.fp, top.extra) for p in frontier]
    if jobs > 1:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(jobs) as p:
            parts = p.map(_job, work, chunksize=1)
    else:
        parts = [_job(w) for w in work]
    for r in parts:
        res.merge(r)
    return res


def shortest(cell, first=None):
    """A shortest violating choice vector: the first violation found (or `first`), then depth-first searches
    bounded by one choice less than the best so far, each stopping at its first violation, until one finds
    none.  -> (choices, detail) or None."""
    if first is None:
        res = Search(cell).run(stop_at_violation=True)
        if not res.violating:
            return None
        first = (decode(res.first), res.first_detail)
    best = first
    while True:
        res = Search(cell, max_depth=len(best[0]) - 1).run(stop_at_violation=True)
        if not res.violating:
            return best
        best = (decode(res.first), res.first_detail)


def replay(cell, choices):
    """Re-run one choice vector; -> (outcome, detail, lines explaining it step by step)."""
    log = []
    ex = Execution(Search(cell), choices, log=log)
    outcome, detail = ex.run()
    if len(ex.choices) < len(choices):
        log.append(f"  (the execution ended after {len(ex.choices)} of {len(choices)} choices)")
    return outcome, detail, log


def header(cell):
    return f"{cell.method}{''.join('-no-' + d for d in cell.drop)} [{cell.model}]"


def summary(cell, res):
    """The verdict line: under which model it holds, whether exhaustive or bounded."""
    scope = f"bounded ({cell.bound})" if res.cut else "exhaustive"
    return (f"{header(cell)}: {scope}: {res.schedules} schedules ({res.states} states, "
            f"{res.pruned_state + res.pruned_sleep} pruned: {res.pruned_state} by state, {res.pruned_sleep} by "
            f"sleep sets), {res.violating} violating, {res.unpredictable} relying on UNPREDICTABLE")
