"""Mutants: a built-in suite of deliberate bugs, each a named deviation switched on at run time (a dropped step,
or a flag on the patcher, the breakpoint handler or the method object), never a source edit.  A checker that
misses one of them is too weak to trust with its "no violation"; one that flags `control` is wrong.

    from ftrace.explore.mutants import MUTANTS, measure
    rows = measure(runs=20)          # one row per mutant: explore's detection rate and first seed

Each mutant runs under the model it needs (a verdict names its model): a bug that only a relaxation exposes is
measured there, not on the ideal machine.

The verify column: when ftrace.explore.verify is importable and offers `verify_mutant(mutant)` (returning
(caught, detail)), each mutant is also put to the bounded model checker; otherwise the column reads '-' with
the reason.
"""
import multiprocessing
from dataclasses import dataclass
from typing import Callable, Optional

from ftrace.explore.run import Config, run_one


def _handler_skips(ft):
    ft.bkpt_handler.skip_without_pop = True


def _first_line_only(ft):
    line = ft.m.line_size
    ft.patcher.sync_skips = frozenset(r.ip + 2 for r in ft.records if r.ip % line == line - 2)


def _push_before_bl(ft):
    ft.method.push_before_bl = True


def _no_self_flush(ft):
    ft.patcher.no_self_flush = True


@dataclass(frozen=True)
class Mutant:
    name: str
    method: str
    description: str                # what deviates, and the real-world bug it stands for
    drop: tuple = ()
    model: str = "ideal"
    switch: Optional[Callable] = None       # switch(ft) after boot: the flag it sets

    @property
    def how(self):
        return (f"drop {','.join(self.drop)}" if self.drop else
                self.switch.__name__.strip("_").replace("_", "-") if self.switch else "none")


MUTANTS = {m.name: m for m in (
    Mutant("control", "breakpoint", "no bug: the breakpoint method as shipped"),
    Mutant("handler-skips-without-pop", "breakpoint",
           "the int3 handler skips the site without emulating the displaced `pop {lr}` (an emulation that "
           "forgets the instruction's side effect, as early kprobes single-step shortcuts did)",
           switch=_handler_skips),
    Mutant("disarm-early", "breakpoint",
           "the handler is disarmed before the last sync's acknowledgements (x86 285a54efe386: a core still "
           "inside or about to take the int3 finds no handler)", drop=("keep-armed",), model="ipi-latency"),
    Mutant("stop-machine-release-before-flush", "stop_machine",
           "stop_machine releases the parked cores without the broadcast icache invalidate (ARM32 patching "
           "that relies on the local flush_icache_range alone)", drop=("release-flush",)),
    Mutant("sync-first-line-only", "breakpoint",
           "the sync IPI invalidates by MVA and leaves the second line of a site that straddles two lines (a "
           "maintenance loop that rounds the range's end down)", switch=_first_line_only),
    Mutant("branch-over-push-before-bl", "branch_over",
           "branch_over turns the branch back into `push {lr}` before the BL is written and synced (the "
           "two-step enable done in the wrong order)", switch=_push_before_bl),
    Mutant("patcher-no-self-flush", "breakpoint",
           "the patching core never invalidates its own icache (IPIs to the others only: on_each_cpu without "
           "the local call, smp_call_function for on_each_cpu)", switch=_no_self_flush),
    Mutant("no-pou-clean", "breakpoint",
           "no clean to the PoU before the invalidate (a v7 flush_icache_range without DCCMVAU: the new code "
           "still sits in the patcher's dcache)", drop=("pou-clean",), model="pou"),
)}


def run_mutant(name, seed, config=Config()):
    """One explorer run of mutant `name` under its model."""
    mu = MUTANTS[name]
    return run_one(mu.method, seed, mu.drop, config, model=mu.model, mutate=mu.switch)


def _caught(args):
    name, seed = args
    return name, seed, bool(run_mutant(name, seed).violations)


def verify_hook():
    """(verify_mutant, None) when the bounded model checker is in this tree, else (None, why not)."""
    try:
        from ftrace.explore import verify
    except ImportError:
        return None, "ftrace.explore.verify is not in this tree"
    fn = getattr(verify, "verify_mutant", None)
    return (fn, None) if fn is not None else (None, "ftrace.explore.verify has no verify_mutant")


@dataclass
class Row:
    mutant: Mutant
    runs: int
    caught: int = 0
    first: Optional[int] = None     # the first seed whose run had a violation
    verify: str = "-"

    @property
    def rate(self):
        return self.caught / self.runs


def measure(names=None, runs=20, seed=0, jobs=None):
    """Explore each mutant over seeds seed .. seed + runs - 1 (a process pool when jobs != 1); returns Rows in
    registry order, the verify column filled when verify_hook() finds the checker."""
    names = list(names or MUTANTS)
    for n in names:
        if n not in MUTANTS:
            raise ValueError(f"unknown mutant {n!r}; mutants: {', '.join(MUTANTS)}")
    rows = {n: Row(MUTANTS[n], runs) for n in names}
    tasks = [(n, s) for n in names for s in range(seed, seed + runs)]
    if jobs == 1:
        out = map(_caught, tasks)
    else:
        pool = multiprocessing.get_context("fork").Pool(jobs)
        out = pool.imap(_caught, tasks)
    for n, s, hit in out:
        if hit:
            rows[n].caught += 1
            if rows[n].first is None:
                rows[n].first = s
    if jobs != 1:
        pool.close()
        pool.join()
    fn, _ = verify_hook()
    for r in rows.values():
        if fn is not None:
            caught, detail = fn(r.mutant)
            r.verify = ("caught" if caught else "missed") + (f": {detail}" if detail else "")
    return list(rows.values())


def table(rows):
    """The mutation table's lines: one per mutant, then the verdict line."""
    lines = ["| mutant | method | model | switch | explore caught | first seed | verify |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        mu = r.mutant
        lines.append(f"| {mu.name} | {mu.method} | {mu.model} | {mu.how} | {r.caught}/{r.runs} ({r.rate:.0%}) | "
                     f"{'-' if r.first is None else r.first} | {r.verify} |")
    bugs = [r for r in rows if r.mutant.name != "control"]
    control = [r for r in rows if r.mutant.name == "control"]
    fn, why = verify_hook()
    verified = sum(1 for r in bugs if r.verify.startswith("caught"))
    if fn is None:
        lines.append(f"verify: - ({why})")
    lines.append(f"mutants: caught {verified} of {len(bugs)} (verify), "
                 f"{sum(1 for r in bugs if r.caught)} of {len(bugs)} (explore); "
                 f"control: {sum(r.caught for r in control)} false positives")
    return lines
