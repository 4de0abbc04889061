"""What a run exercised (Coverage) and the explorer's adversarial scheduler (AdversarialMachine), both opt-in beyond the
default run: Coverage only observes; AdversarialMachine, a Machine subclass with its own scheduler, is built only
when a Config asks for targeted eviction or descheduling, so the default runs stay exactly as they were.

Coverage, per update phase k (the k-th sync of an update; stop_machine's release closes its one window): a
site-update's window runs from its first write in phase k to the end of sync k, and is covered when some core
fetched the site inside it as the machine reports fetches (stale, torn or relaxed: bytes that differ from
memory's, or could) -- the fetches that make a window matter.  Also the breakpoint hits per window, the fetches
at straddling sites (split) and the targeted evictions of site lines.
"""
import random

from cpu.machine import CORE_RUNNING, Deadlock, Machine


class Coverage:
    """Installs code_write, fetch and sync observers filling res.coverage {phase: [windows, covered, bkpt hits]}
    and res.split_fetches."""

    def __init__(self, m, ft, res):
        self.m, self.ft, self.res = m, ft, res
        line = m.line_size
        self.site = {}                      # halfword address -> the site's ip
        self.straddles = set()
        for r in ft.records:
            for a in ft.method.site_halfwords(r.ip):
                self.site[a] = r.ip
            if r.ip % line == line - 2:
                self.straddles.add(r.ip)
        self.open = {}                      # site ip -> covered yet
        self.update = None
        self.phase = 1
        self.hits = 0
        m.hook_add("code_write", self.on_write)
        m.hook_add("fetch", self.on_fetch)
        ft.patcher.sync_observers.append(self.on_sync)

    def on_write(self, core, addr, old, new, seq):
        ip = self.site.get(addr)
        if ip is None:
            return
        if self.update != len(self.ft.update_log):      # a new update: its phases count from 1
            self.close()
            self.update, self.phase = len(self.ft.update_log), 1
        if not self.open:
            self.hits = self.ft.bkpt_handler.hits
        self.open.setdefault(ip, False)

    def on_fetch(self, core, e):
        ip = self.site.get(e["pc"])
        if ip is None:
            return
        if ip in self.open:
            self.open[ip] = True
        if ip in self.straddles:
            self.res.split_fetches += 1

    def on_sync(self, event):
        if event == "end":
            self.close()
            self.phase += 1

    def close(self):
        """End the open windows in the current phase (at a sync's end, or an update that had none left)."""
        if not self.open:
            return
        c = self.res.coverage.setdefault(str(self.phase), [0, 0, 0])
        c[0] += len(self.open)
        c[1] += sum(self.open.values())
        c[2] += self.ft.bkpt_handler.hits - self.hits
        self.open = {}


class AdversarialMachine(Machine):
    """The machine with the explorer's adversarial scheduler: the random one (as the C one: a random actor, a
    random quantum of 1..2*quantum) with its own generator, plus: each step, with probability evict_sites/65536 a
    line holding a site is evicted on a random core (res.site_evictions); with probability desched_rate/65536 a
    random core is descheduled for a Pareto(desched_alpha)-distributed number of steps (at least desched_min).
    A subclass, so the schedule is the machine's own; until adversary() arms it, it schedules as Machine."""

    armed = False

    def adversary(self, ft, config, seed, res):
        self.config, self.res = config, res
        self.rng = random.Random(seed * 0x9E3779B1 + 0xADE)
        line = self.line_size
        self.lines = sorted({a & -line for r in ft.records for a in ft.method.site_halfwords(r.ip)})
        self.away = [0] * self.ncores
        self.armed = True

    def advance(self, max_steps, until=None, stop_on_agent=False):
        if not self.armed:
            return super().advance(max_steps, until, stop_on_agent)
        cfg, rng = self.config, self.rng
        start = self.instructions
        steps = 0
        try:
            while steps < max_steps and self.exit_code is None:
                if until is not None and self.instructions >= until:
                    break
                busy = {a.cpu for a in self.agents}
                cores = [c.id for c in self.cores if c.state == CORE_RUNNING and c.id not in busy]
                ready = [i for i in cores if not self.away[i]] or cores
                actors = [-1 - i for i in range(len(self.agents))] + ready
                if not actors:
                    raise Deadlock("all cores stopped and the program has not exited")
                pick = actors[rng.randrange(len(actors))]
                q = 1 + rng.randrange(2 * self.quantum)
                if until is not None:
                    q = min(q, until - self.instructions)
                self.away = [max(0, n - 1) for n in self.away]
                if cfg.evict_sites and rng.randrange(65536) < cfg.evict_sites:
                    a = self.lines[rng.randrange(len(self.lines))]
                    self.cores[rng.randrange(self.ncores)].flush_icache_range(a, a + 1)
                    self.res.site_evictions += 1
                if cfg.desched_rate and cores and rng.randrange(65536) < cfg.desched_rate:
                    victim = cores[rng.randrange(len(cores))]
                    self.away[victim] = int(cfg.desched_min * rng.paretovariate(cfg.desched_alpha))
                    self.res.descheduled_steps += self.away[victim]
                steps += 1
                if pick < 0:
                    self._run_agent(self.agents[-1 - pick], q)
                    if stop_on_agent:
                        break
                    continue
                ran = self.scheduler.run_core(pick, q, self.evict_rate)
                self.record.append((pick, ran))
        finally:
            self.run_advance_hooks()
        return self.instructions - start


WORKLOADS = {"hot": {}, "bigfuncs-1k": {"program": "bigfuncs-1k.elf", "argv": ("3",)}}     # Config overrides


def coverage_totals(results):
    """{label: (runs, {phase: [windows, covered, bkpt hits]}, split fetches, site evictions)} in first-seen
    label order."""
    by = {}
    for r in (results.values() if isinstance(results, dict) else results):
        runs, phases, split, evicted = by.get(r.label, (0, {}, 0, 0))
        for k, (w, c, h) in r.coverage.items():
            t = phases.setdefault(k, [0, 0, 0])
            t[0] += w
            t[1] += c
            t[2] += h
        by[r.label] = (runs + 1, phases, split + r.split_fetches, evicted + r.site_evictions)
    return by


def coverage_lines(results):
    """`LABEL coverage: phase 1 C/W windows fetched (P%, H bkpt hits/window), ...; split fetches S/run; site
    evictions E/run` per label."""
    lines = []
    for label, (runs, phases, split, evicted) in coverage_totals(results).items():
        ph = ", ".join(f"phase {k} {c}/{w} windows fetched ({c / max(w, 1):.0%}, {h / max(w, 1):.2f} bkpt hits/window)"
                       for k, (w, c, h) in sorted(phases.items(), key=lambda kv: int(kv[0])))
        lines.append(f"{label} coverage: {ph or 'no site updates'}; split fetches {split / runs:.1f}/run; "
                     f"site evictions {evicted / runs:.1f}/run")
    return lines
