"""Campaigns: many explorer runs (explore.run_one), serially, over a process pool or over a Dask cluster.

    from ftrace.explore.campaign import tasks_for, run_campaign
    tasks = tasks_for(["breakpoint", "direct"], drop="each", runs=100, seed=0)
    results = run_campaign(tasks, backend="process")        # {(method, drop, seed): RunResult}
    tasks = tasks_for("all", drop="each", runs=10, models=["all"])     # the verdict matrix: every model

A task is (method, drop, seed) on the ideal machine, or (method, drop, seed, model) on another (cpu.model
MODELS), as RunResult.key is; its outcome is a function of (config, task) alone, so whichever
backend ran it -- serial, a multiprocessing pool sized to the machine (os.cpu_count()), or Dask distributed
workers anywhere -- the results are the same (RunResult.outcome() compares them without the host time), and any
run can be replayed alone from its key (explore.explain, `python -m ftrace replay`).

Backends:
  serial    in this process
  process   a multiprocessing pool of `jobs` processes (default os.cpu_count()), tasks in chunks
  dask      a dask.distributed Client: on `scheduler` (an address such as tcp://host:8786, for a cluster bigger
            than this machine; the workers need this package importable, e.g. `pip install .[explore]`), or a
            LocalCluster of `jobs` single-threaded worker processes when no scheduler is given
            (`pip install "dask[distributed]"`, the `explore` extra)

A progress bar goes to stderr (tqdm when installed, else a plain one) unless progress=False.
"""
import multiprocessing
import os
import sys
import threading
import time

import cpu.model
from ftrace.explore.run import Config, RunResult, run_key, run_one, tally
from ftrace.kernel.methods import METHODS, droppable_help

BACKENDS = ("serial", "process", "dask")


class CampaignError(ValueError):
    """A campaign that cannot run as asked (unknown method or step, missing backend)."""


# ---- what to run ----

def labels_for(methods, drop=None):
    """[(method, drop tuple)] for the methods and a drop spec: None/'' (none), 'each' (each method as is and
    with each of its droppable steps dropped alone), or 'STEP[,STEP...]' (dropped together, for the methods
    that have every one of them)."""
    if isinstance(methods, str):
        methods = [methods]
    methods = list(METHODS) if "all" in methods else list(dict.fromkeys(methods))
    for m in methods:
        if m not in METHODS:
            raise CampaignError(f"unknown method {m!r}; choose from {', '.join(METHODS)} or all")
    if not drop:
        return [(m, ()) for m in methods]
    if drop == "each":
        return [(m, d) for m in methods for d in [()] + [(s,) for s in METHODS[m].droppable]]
    steps = tuple(s for s in drop.split(",") if s)
    known = {s for cls in METHODS.values() for s in cls.droppable}
    for s in steps:
        if s not in known:
            raise CampaignError(f"no method has a step {s!r} to drop; droppable: " + droppable_help())
    out = [(m, steps) for m in methods if all(s in METHODS[m].droppable for s in steps)]
    if not out:
        raise CampaignError(f"none of {', '.join(methods)} has {', '.join(steps)} to drop; droppable: "
                            + droppable_help(methods))
    return out


def models_for(models):
    """The model names of a --model spec: None (ideal), names, 'all' (every cpu.model preset)."""
    if not models:
        return ["ideal"]
    if isinstance(models, str):
        models = [models]
    models = list(cpu.model.MODELS) if "all" in models else list(dict.fromkeys(models))
    for m in models:
        if m not in cpu.model.MODELS:
            raise CampaignError(f"unknown model {m!r}; choose from {', '.join(cpu.model.MODELS)} or all")
    return models


def tasks_for(methods, drop=None, runs=100, seed=0, drop_runs=None, models=None):
    """Every (method, drop, seed) for seeds seed .. seed + runs - 1, label by label (drop_runs: how many for the
    labels that drop a step, when they should differ from runs), model by model (models_for; a task on a model
    other than ideal carries it as a fourth element)."""
    if runs < 1 or (drop_runs is not None and drop_runs < 1):
        raise CampaignError("runs must be at least 1")
    return [run_key(m, d, s, model) for model in models_for(models) for m, d in labels_for(methods, drop)
            for s in range(seed, seed + (runs if not d or drop_runs is None else drop_runs))]


# ---- running ----

def run_task(task, config=Config()):
    method, drop, seed, *model = task
    return run_one(method, seed, tuple(drop), config, model=model[0] if model else "ideal")


def run_chunk(chunk, config=Config()):
    """Run a list of tasks; returns their results as plain dicts (what crosses process and network borders)."""
    return [run_task(t, config).as_dict() for t in chunk]


def _chunks(tasks, size):
    return [tasks[i:i + size] for i in range(0, len(tasks), size)]


class Progress:
    """A progress bar on stderr: tqdm if it is installed, else a plain one."""

    def __init__(self, total, desc="explore", enabled=True, stream=None, unit="run"):
        self.total, self.n, self.bad = total, 0, 0
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()
        self.bar = None
        self.last = 0.0
        if enabled:
            try:
                from tqdm import tqdm
                tqdm.monitor_interval = 0       # no monitor thread (it would make a later fork unsafe)
                self.bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream, dynamic_ncols=True)
            except ImportError:
                pass
        self.desc, self.unit = desc, unit

    def update(self, results):
        """Count finished runs (RunResults: their violations are tallied too)."""
        self.advance(len(results), sum(1 for r in results if r.violations))

    def advance(self, n=1, bad=0):
        self.n += n
        self.bad += bad
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
            if self.unit == "run":
                self.bar.set_postfix(violating=self.bad, refresh=False)
            return
        now = time.perf_counter()
        if now - self.last < 0.2 and self.n < self.total:
            return
        self.last = now
        width = 30
        done = int(width * self.n / max(1, self.total))
        rate = self.n / max(1e-9, now - self.t0)
        tail = f", {self.bad} violating" if self.unit == "run" else ""
        self.stream.write(f"\r{self.desc} [{'#' * done}{'.' * (width - done)}] {self.n}/{self.total} "
                          f"{self.unit}s{tail}, {rate:.1f} {self.unit}s/s")
        self.stream.flush()

    def close(self):
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        else:
            self.stream.write("\n")
            self.stream.flush()


def _pool_context():
    # fork is cheapest (workers inherit the loaded extensions and the reference-output cache), but forking a
    # process that runs other threads (a Dask client, say) can deadlock: spawn then.
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _serial(tasks, config, progress):
    for t in tasks:
        r = run_task(t, config)
        progress.update([r])
        yield r


def _process(tasks, config, progress, jobs, chunk, ctx):
    with ctx.Pool(jobs) as pool:
        args = [(c, config) for c in _chunks(tasks, chunk)]
        for out in pool.imap_unordered(_run_chunk_star, args):
            rs = [RunResult.from_dict(d) for d in out]
            progress.update(rs)
            yield from rs


def _run_chunk_star(a):
    return run_chunk(*a)


def dask_client(scheduler=None, jobs=None):
    """A dask.distributed Client on `scheduler`, or on a new LocalCluster of `jobs` single-threaded worker
    processes; returns (client, cluster or None).  Close both when done."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise CampaignError('the dask backend needs dask.distributed: pip install "dask[distributed]" '
                            "(or this package's `explore` extra)")
    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    return Client(cluster), cluster


def _dask(tasks, config, progress, jobs, chunk, scheduler, client):
    from dask.distributed import as_completed
    own = client is None
    cluster = None
    if own:
        client, cluster = dask_client(scheduler, jobs)
    try:
        futures = client.map(run_chunk, _chunks(tasks, chunk), config=config, pure=False)
        for fut in as_completed(futures):
            rs = [RunResult.from_dict(d) for d in fut.result()]
            progress.update(rs)
            yield from rs
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()


def run_campaign(tasks, config=Config(), backend="process", jobs=None, chunk=None, scheduler=None, client=None,
                 progress=True, on_result=None):
    """Run every task; returns {RunResult.key: RunResult} in the order of `tasks`.

    jobs: processes (process backend) or LocalCluster workers (dask without a scheduler); default os.cpu_count().
    chunk: tasks per unit of work sent to a worker (default: about 4 units per worker, at most 16 tasks).
    scheduler / client: a Dask scheduler address or an existing dask.distributed Client (dask backend).
    on_result(result): called for each result as it arrives (e.g. to save it).
    """
    if backend not in BACKENDS:
        raise CampaignError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    tasks = [run_key(*t) for t in tasks]
    if len(set(tasks)) != len(tasks):
        raise CampaignError("a campaign's tasks must be distinct")
    jobs = max(1, jobs or os.cpu_count() or 1)
    if chunk is None:
        chunk = max(1, min(16, len(tasks) // (4 * jobs) or 1))
    ctx = _pool_context() if backend == "process" else None     # before the progress bar starts a thread
    bar = Progress(len(tasks), enabled=progress) if not isinstance(progress, Progress) else progress
    if backend == "serial" or (backend == "process" and (jobs == 1 or len(tasks) == 1)):
        stream = _serial(tasks, config, bar)
    elif backend == "process":
        stream = _process(tasks, config, bar, jobs, chunk, ctx)
    else:
        stream = _dask(tasks, config, bar, jobs, chunk, scheduler, client)
    got = {}
    try:
        for r in stream:
            got[r.key] = r
            if on_result is not None:
                on_result(r)
    finally:
        if bar is not progress:
            bar.close()
    return {t: got[t] for t in tasks}


def violation_rates(results):
    """{label: (violating runs, runs, {kind: runs})} in first-seen label order."""
    return {label: (t.bad, t.runs, t.kinds) for label, t in tally(results).items()}


# ---- saving ----

def save_record(r):
    """The JSON line of one result: its key and outcome; for a violating run also the violating events, where
    they were and the recorded schedule's length and hash (replay it with `python -m ftrace replay`).  A run
    that relies on UNPREDICTABLE says so in its own fields (unpredictable, unpredictable_where), never in
    violations."""
    d = r.as_dict()
    d["unpredictable_where"] = d["unpredictable_where"][:8]
    if not r.violations:
        for k in ("events", "where", "schedule_len", "schedule_hash"):
            d.pop(k)
    else:
        d["events"] = d["events"][:8]
        d["replay"] = replay_command(r)
    return d


def replay_command(r):
    return (f"python -m ftrace replay --method {r.method}"
            + (f" --model {r.model}" if r.model != "ideal" else "")
            + (f" --cmodx {r.cmodx}" if r.cmodx != "v7" else "")
            + f" --seed {r.seed}" + (f" --drop {','.join(r.drop)}" if r.drop else ""))


class JsonlWriter:
    """Append results to a JSON-lines file as they arrive (usable as run_campaign's on_result)."""

    def __init__(self, path):
        import json
        self.json = json
        self.f = open(path, "w")

    def __call__(self, r):
        self.f.write(self.json.dumps(save_record(r), sort_keys=True) + "\n")
        self.f.flush()

    def close(self):
        self.f.close()


def load_jsonl(path):
    """Read a file JsonlWriter wrote back into RunResults (clean runs come back without events/schedule)."""
    import json
    with open(path) as f:
        return [RunResult.from_dict(json.loads(line)) for line in f if line.strip()]
