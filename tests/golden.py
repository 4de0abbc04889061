"""Fingerprints of seeded runs, recorded once so that refactors and speed work can show they changed no result.

Each fingerprint is a pure function of (program, configuration, seed): the schedule's hash and length, every
core's statistics, the exit code and a hash of the output; for ftrace runs also the trace text and every
update's statistics; for explorer runs the whole RunResult but its host time.

    python tests/golden.py --write      # regenerate tests/data/golden.json (only for a deliberate change)
"""
import hashlib
import io
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "data", "golden.json")


def _h(data):
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()[:16]


def _record_hash(record):
    return _h(repr([tuple(r) for r in record]))


def cpu_runs():
    import cpu
    base = os.path.join(os.path.dirname(cpu.__file__), "guest")
    cases = [("smp/bin/counter.elf", 4, "random", 20, 3000, seed) for seed in (1, 2)]
    cases += [("smp/bin/pingpong.elf", 2, "random", 7, 0, 3), ("smp/bin/selftest.elf", 4, "round-robin", 50, 0, 0),
              ("bin/fib-O2-pg.elf", 1, "round-robin", 1000, 0, 0)]
    out = {}
    for prog, cores, sched, quantum, evict, seed in cases:
        m = cpu.Machine(cores=cores, seed=seed, schedule=sched, quantum=quantum, evict_rate=evict)
        so = io.BytesIO()
        m.load_elf(os.path.join(base, prog), argv=[os.path.basename(prog), "18"], stdout=so, stderr=so)
        code = m.run(max_instructions=10**8)
        out[f"{prog}:{cores}:{sched}:{quantum}:{evict}:{seed}"] = dict(
            exit=code, output=_h(so.getvalue()), schedule=_record_hash(m.record), steps=len(m.record),
            stats=m.stats())
    return out


def ftrace_runs():
    import cpu
    import ftrace
    out = {}
    for method in ("breakpoint", "stop_machine", "branch_over", "direct"):
        for tracer in ("function", "function_graph"):
            m = cpu.Machine(cores=4, seed=1, schedule="random", quantum=50)
            so = io.BytesIO()
            m.load_elf(ftrace.DEMO_PROGRAM, argv=["workload", "6"], stdout=so, stderr=so)
            ft = ftrace.Ftrace(m, method=method)
            ft.set_ftrace_filter("fib* hash_str")
            ft.current_tracer = tracer
            ft.run_for(200_000)
            ft.ftrace_disable()
            ft.run_for(200_000)
            ft.ftrace_enable()
            code = m.run(max_instructions=10**8)
            updates = [{k: v for k, v in u.items() if k != "result" or isinstance(v, (int, type(None)))}
                       for u in ft.update_log]
            out[f"{method}:{tracer}"] = dict(
                exit=code, output=_h(so.getvalue()), schedule=_record_hash(m.record), steps=len(m.record),
                stats=m.stats(), trace=_h(ft.trace), updates=updates)
    return out


# The methods and droppable steps of the recording: methods and steps added since are not fingerprinted.
RECORDED_STEPS = {"breakpoint": ("sync1", "sync2", "sync3"), "stop_machine": ("release-flush",),
                  "branch_over": ("sync1", "sync2", "quiesce"), "direct": ("sync1",), "unsynced": ()}

# RunResult fields added after the fingerprints were recorded (the machine model, the CMODX list, the mixed and
# relies-on-UNPREDICTABLE verdicts): not part of the recorded results, so left out of the comparison.
# Then the coverage figures, what the adversarial options did and the patching core.
NEW_RUN_FIELDS = ("model", "cmodx", "mixed", "unpredictable", "unpredictable_where", "coverage", "split_fetches",
                  "site_evictions", "descheduled_steps", "patch_cpu")


def explore_runs():
    from ftrace.explore import run_one
    out = {}
    cells = [(m, (), s) for m in RECORDED_STEPS for s in (0, 1, 2, 3)]
    cells += [(m, (d,), 0) for m in RECORDED_STEPS for d in RECORDED_STEPS[m]]
    for method, drop, seed in cells:
        d = run_one(method, seed, drop).as_dict()
        d.pop("host_seconds")
        for k in NEW_RUN_FIELDS:
            d.pop(k)
        out[f"{method}:{','.join(drop)}:{seed}"] = d
    return out


SECTIONS = {"cpu": cpu_runs, "ftrace": ftrace_runs, "explore": explore_runs}


def compute(section):
    return json.loads(json.dumps(SECTIONS[section]()))


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/golden.py --write")
    data = {name: compute(name) for name in SECTIONS}
    with open(GOLDEN, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    print(f"wrote {GOLDEN}: " + ", ".join(f"{k} {len(v)}" for k, v in data.items()))
