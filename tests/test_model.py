"""Machine models (cpu.model): validation, presets, Machine(model=) plumbing and the CLI, and the litmus tests
of the knobs the core implements: IPI latency, IPI masking (PRIMASK, handlers) and handlers that take time."""
import io
import os
import subprocess
import sys

import pytest

import cpu
from cpu.model import ARMV7, GRANULES, IDEAL, Model, get_model

SMP_BIN = os.path.join(os.path.dirname(cpu.__file__), "guest", "smp", "bin")
LITMUS_IPI = os.path.join(SMP_BIN, "litmus_ipi.elf")
LITMUS_HANDLER = os.path.join(SMP_BIN, "litmus_handler.elf")
NOP16, BKPT1, CPSIE_I = 0xBF00, 0xBE01, 0xB662
LATENCY = 64
H = cpu.MODELS["handler-cycles"].handler_cycles


# ---- the model itself ----

@pytest.mark.parametrize("kw,msg", [
    (dict(fetch_granule="byte"), "fetch_granule must be one of line, word, halfword"),
    (dict(ipi_latency=-1), "ipi_latency must be between 0"),
    (dict(prefetch=1 << 21), "prefetch must be between 0"),
    (dict(handler_cycles=-5), "handler_cycles must be between 0"),
    (dict(line_size=48), "line_size must be 32 or 64"),
])
def test_model_validation(kw, msg):
    with pytest.raises(ValueError, match=msg):
        Model("bad", **kw)


def test_unknown_model_names_the_presets():
    for bad in ("x86", 5, None):
        with pytest.raises(ValueError, match="unknown model .*; models: ideal, armv7"):
            get_model(bad)
        with pytest.raises(ValueError, match="unknown model"):
            cpu.Machine(model=bad)


def test_presets():
    assert cpu.Model is Model and cpu.MODELS["ideal"] is IDEAL and cpu.MODELS["armv7"] is ARMV7
    assert IDEAL.relaxations == ()
    assert set(ARMV7.relaxations) == {"ipi_latency", "fetch_granule", "pou", "store_order", "prefetch",
                                      "handler_cycles"}
    for name, m in cpu.MODELS.items():
        assert m.name == name and get_model(name) is m
        if name not in ("ideal", "armv7"):
            assert len(m.relaxations) == 1       # each relaxation alone, at its armv7 setting


C_FIELDS = ("model_ipi_latency", "model_granule", "model_pou", "model_store_order", "model_prefetch",
            "model_ic_clears_prefetch", "model_handler_cycles")


def test_machine_model_plumbing():
    m = cpu.Machine()
    assert m.model is IDEAL and m.line_size == 32 and all(getattr(m, f) == 0 for f in C_FIELDS)
    assert m.handlers_active == 0 and not m.cores[0].in_handler
    m = cpu.Machine(model="armv7")
    assert m.model is ARMV7
    assert [getattr(m, f) for f in C_FIELDS] == [64, GRANULES.index("halfword"), 1, 1, 4, 0, 50]
    wide = Model("wide", fetch_granule="word", ic_clears_prefetch=True, line_size=64)
    m = cpu.Machine(model=wide)
    assert m.model is wide and m.line_size == 64 and m.model_granule == 1 and m.model_ic_clears_prefetch == 1
    assert cpu.Machine(line_size=64).line_size == 64                     # an explicit line size wins
    assert cpu.Machine(model=wide, line_size=32).line_size == 32
    with pytest.raises(ValueError, match="line_size must be a power of two"):
        cpu.Machine(line_size=24)


def test_explicit_ideal_model_reproduces_the_golden_fingerprints():
    """Machine(model="ideal") is today's machine: a golden SMP run and a golden ftrace update (breakpoint method:
    BKPT handlers and syncs) give the recorded fingerprints."""
    import json
    import ftrace
    import golden
    with open(golden.GOLDEN) as f:
        want = json.load(f)
    base = os.path.join(os.path.dirname(cpu.__file__), "guest")
    m = cpu.Machine(cores=4, seed=1, schedule="random", quantum=20, evict_rate=3000, model="ideal")
    so = io.BytesIO()
    m.load_elf(os.path.join(base, "smp/bin/counter.elf"), argv=["counter.elf", "18"], stdout=so, stderr=so)
    code = m.run(max_instructions=10**8)
    assert dict(exit=code, output=golden._h(so.getvalue()), schedule=golden._record_hash(m.record),
                steps=len(m.record), stats=m.stats()) == want["cpu"]["smp/bin/counter.elf:4:random:20:3000:1"]
    m = cpu.Machine(cores=4, seed=1, schedule="random", quantum=50, model=Model())
    m.load_elf(ftrace.DEMO_PROGRAM, argv=["workload", "6"], stdout=io.BytesIO(), stderr=io.BytesIO())
    ft = ftrace.Ftrace(m, method="breakpoint")
    ft.set_ftrace_filter("fib* hash_str")
    ft.current_tracer = "function"
    ft.run_for(200_000)
    ft.ftrace_disable()
    ft.run_for(200_000)
    ft.ftrace_enable()
    m.run(max_instructions=10**8)
    g = want["ftrace"]["breakpoint:function"]
    assert (golden._record_hash(m.record), m.stats(), golden._h(ft.trace)) == (g["schedule"], g["stats"], g["trace"])
    assert m.handlers_active == 0 and all(c.handler_time == 0 for c in m.cores)


def cli(*args):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(cpu.__file__)))
    return subprocess.run([sys.executable, "-m", "cpu", "run", *args], capture_output=True, text=True, env=env)


def test_cli_model():
    prog = os.path.join(SMP_BIN, "hello_smp.elf")
    p = cli(prog, "--cores", "2", "--model", "armv7", "--stats")
    assert p.returncode == 0
    head = p.stderr.splitlines()[0]
    assert head.startswith("model armv7 (ipi_latency=64, fetch_granule=halfword, ") and "handler_cycles=50" in head
    p = cli(prog, "--stats")
    assert p.returncode == 0 and p.stderr.splitlines()[0] == "model ideal"
    p = cli(prog, "--model", "sequential")
    assert p.returncode == 2 and "invalid choice: 'sequential'" in p.stderr


# ---- IPI latency and masking: core 0 counts, a host agent on core 1 sends IPIs ----

def litmus(prog, model, seed, argv=(), schedule="random", quantum=20):
    m = cpu.Machine(cores=2, seed=seed, schedule=schedule, quantum=quantum, model=model)
    m.load_elf(prog, argv=[os.path.basename(prog), *argv], stdout=io.BytesIO(), stderr=io.BytesIO())
    return m


def sym(m, name):
    return m.image.symbols[name].addr


def ipi_delays(model, seed, n=5, replay=None):
    """Send core 0 n IPIs; each records how many of its instructions ran between send and take."""
    m = litmus(LITMUS_IPI, model, seed)
    if replay is not None:
        m.replay(replay)
    c0, out = m.cores[0], []

    def agent():
        for _ in range(n):
            yield
            sent = c0.instructions
            yield m.send_ipi([0], lambda core: out.append(core.instructions - sent))
        m.write32(sym(m, "stop"), 1)
    m.spawn(agent(), cpu=1)
    assert m.run(max_instructions=10**6) == 0
    return out, m


def test_ideal_ipi_is_taken_at_the_next_instruction():
    for seed in range(5):
        assert ipi_delays("ideal", seed)[0] == [0] * 5


def test_ipi_latency_reaches_both_extremes():
    model = Model("lat", ipi_latency=LATENCY)
    delays = [d for seed in range(20) for d in ipi_delays(model, seed)[0]]
    assert all(0 <= d <= LATENCY for d in delays)
    assert 0 in delays and LATENCY in delays and any(0 < d < LATENCY for d in delays)


@pytest.mark.parametrize("model", ["ipi-latency", "handler-cycles", "armv7"])
def test_replay_is_exact_under_relaxations(model):
    delays, m = ipi_delays(model, seed=7)
    again, m2 = ipi_delays(model, seed=7, replay=m.record)
    assert again == delays and m2.record == m.record and m2.stats() == m.stats()
    assert [c.handler_time for c in m2.cores] == [c.handler_time for c in m.cores]


@pytest.mark.parametrize("model", ["ideal", "ipi-latency"])
def test_primask_holds_an_ipi_until_cpsie(model):
    """The guest runs counts 200..499 with CPSID i; an IPI sent meanwhile is taken only after CPSIE i (B1.5),
    on the ideal machine at the very next boundary."""
    for seed in range(4):
        m = litmus(LITMUS_IPI, model, seed, argv=("200", "300"))
        text = m.read(sym(m, "main"), 0x100)
        cpsie = sym(m, "main") + [i for i in range(0, len(text), 2)
                                  if int.from_bytes(text[i:i + 2], "little") == CPSIE_I][0]
        seen = []

        def agent():
            yield lambda: m.read32(sym(m, "masked")) == 1
            seen.append(m.cores[0].primask)
            yield m.send_ipi([0], lambda core: seen.append(
                (m.read32(sym(m, "counter")), m.read32(sym(m, "masked")), core.primask, core.pc)))
            m.write32(sym(m, "stop"), 1)
        m.spawn(agent(), cpu=1)
        assert m.run(max_instructions=10**6) == 0
        (was_masked, (counter, masked, primask, pc)) = seen
        assert was_masked == 1 and counter >= 500 and masked == 0 and primask == 0
        if model == "ideal":
            assert pc == cpsie + 2


# ---- handlers that take time: core 0 calls litmus_site, which the host patches into a BKPT ----

def handler_machine(model, seed, quantum=10):
    m = litmus(LITMUS_HANDLER, model, seed, quantum=quantum)
    site = sym(m, "litmus_site")
    hits = []

    def handler(core, imm, pc):
        if pc != site:
            return None
        hits.append((core.instructions, core.handler_time))
        return pc + 2                                    # emulate the NOP the BKPT replaced
    return m, site, hits, m.hook_add("bkpt", handler)


def arm(m, site):
    """Patch the site into a BKPT and make every core see it."""
    m.write16(site, BKPT1)
    m.flush_icache()


def test_handler_body_runs_handler_cycles_after_entry_while_agents_run():
    m, site, hits, _ = handler_machine("handler-cycles", seed=1, quantum=7)
    c0, seen = m.cores[0], []

    def agent():
        arm(m, site)
        yield lambda: hits                             # past the boot
        for _ in range(200):
            seen.append((c0.in_handler, m.handlers_active, c0.instructions, c0.handler_time))
            yield
        m.write32(sym(m, "stop"), 1)
    m.spawn(agent(), cpu=1, name="observer")
    assert m.run(max_instructions=10**6) == 0 and not m.agents
    # every body ran exactly H handler cycles after its entry
    assert len(hits) > 3 and [t for _, t in hits] == [H * (k + 1) for k in range(len(hits))]
    inside = [s for s in seen if s[0]]
    assert inside and all(active == 1 for _, active, _, _ in inside)
    # the agent took several steps inside one handler: same instruction count, handler time advancing
    runs = {}
    for _, _, insns, t in inside:
        runs.setdefault(insns, []).append(t)
    assert max(len(ts) for ts in runs.values()) >= 3 and all(ts == sorted(ts) for ts in runs.values())


def test_ipis_wait_for_the_handler_and_take_handler_cycles():
    """An IPI sent while core 0 is in the BKPT handler is taken after that handler's body, then runs H cycles
    itself: a completed sync proves no core is still inside (x86 285a54efe386)."""
    m, site, hits, _ = handler_machine("handler-cycles", seed=3)
    c0, events = m.cores[0], []

    def agent():
        arm(m, site)
        yield lambda: c0.in_handler
        events.append(("send", len(hits), c0.handler_time))
        yield m.send_ipi([0], lambda core: events.append(("ipi", len(hits), core.handler_time)))
        events.append(("acked", len(hits), c0.in_handler))
        m.write32(sym(m, "stop"), 1)
    m.spawn(agent(), cpu=1)
    assert m.run(max_instructions=10**6) == 0
    (_, n0, t0), (_, n1, t1), (_, _, inside) = events
    assert n1 == n0 + 1 and t1 == (n1 + 1) * H and t0 < n1 * H and not inside


@pytest.mark.parametrize("model,protocol,faults", [
    ("ideal", "none", False),                # handlers are atomic: no core is ever inside one
    ("handler-cycles", "none", True),        # the hazard: the handler is disarmed under a core inside it
    ("handler-cycles", "drain", False),      # wait for no core inside (x86 1f676247f36a)
    ("handler-cycles", "sync", False),       # a sync: IPIs are masked inside, so its ack proves the exit
])
def test_disarming_a_handler_with_a_core_inside(model, protocol, faults):
    """Remove the BKPT (host write and flush), then disarm its handler: a core still inside the handler finds
    none when its body runs and the BKPT is unhandled."""
    outcomes = []
    for seed in range(8):
        m, site, hits, hook = handler_machine(model, seed)

        def agent():
            arm(m, site)
            yield lambda: len(hits) >= 3
            m.write16(site, NOP16)
            m.flush_icache()
            if protocol == "drain":
                yield m.handlers_drained
            elif protocol == "sync":
                yield from m.on_each_cpu(lambda core: None)
            m.hook_del(hook)
            after = m.read32(sym(m, "counter"))
            yield lambda: m.read32(sym(m, "counter")) > after + 10
            m.write32(sym(m, "stop"), 1)
        m.spawn(agent(), cpu=1)
        try:
            assert m.run(max_instructions=10**6) == 0 and not m.agents      # ended by the agent's stop
            outcomes.append(False)
        except cpu.UnhandledException as e:
            assert "BKPT #1 with no handler" in str(e)
            outcomes.append(True)
    assert any(outcomes) if faults else not any(outcomes)
