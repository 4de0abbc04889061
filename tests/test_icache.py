"""Litmus tests for the non-coherent instruction caches, IPIs and torn/stale fetch detection."""
import pytest

import cpu
from cpu.machine import CORE_RUNNING

MOVS_R0_1, MOVS_R0_2 = 0x2001, 0x2002
ADDS_R1_R1_R0 = 0x1809
B_BACK_4 = 0xE7FC          # b . - 4 (back to the movs)
NOP = 0xBF00


def hw_bytes(*hws):
    return b"".join(h.to_bytes(2, "little") for h in hws)


def loop_machine(cores=2, **kw):
    """Every core spins on: movs r0, #1; adds r1, r1, r0; b loop  (at 0x1000)."""
    m = cpu.Machine(cores=cores, mem_size=1 << 20, quantum=30, **kw)
    m.write(0x1000, hw_bytes(MOVS_R0_1, ADDS_R1_R1_R0, B_BACK_4))
    m.watch_code(0x1000, 0x1100)       # load_elf watches the text segment; here the loop is the text
    for c in m.cores:
        c.pc = 0x1000
        c.state = CORE_RUNNING
    return m


def increments(m, core, steps=60):
    """r1 growth per loop iteration on `core` over a few scheduler rounds."""
    c = m.cores[core]
    before = c.get_reg(1), c.instructions
    for _ in range(steps):
        m.step()
    loops = (c.instructions - before[1]) // 3
    return (c.get_reg(1) - before[0]) / loops


def test_stale_instruction_survives_a_write_until_invalidated():
    m = loop_machine()
    assert increments(m, 0) == pytest.approx(1, abs=0.05)
    m.write16(0x1000, MOVS_R0_2)                      # another agent rewrites the instruction in memory
    assert increments(m, 0) == pytest.approx(1, abs=0.05)   # both cores keep the old one
    assert increments(m, 1) == pytest.approx(1, abs=0.05)
    assert m.cores[0].stale_fetches > 0 and m.cores[1].stale_fetches > 0
    m.flush_icache_range(0x1000, 0x1002, cores=[0])   # local maintenance on core 0 only
    assert increments(m, 0) == pytest.approx(2, abs=0.05)
    assert increments(m, 1) == pytest.approx(1, abs=0.05)


def test_ipi_invalidation_reaches_every_core():
    m = loop_machine(cores=4)
    for _ in range(20):
        m.step()
    m.write16(0x1000, MOVS_R0_2)

    def patcher():
        yield from m.on_each_cpu(lambda core: core.flush_icache(), exclude=0)
    agent = m.spawn(patcher(), cpu=0)
    assert m.run_until(lambda: agent.done)
    assert all(c.ipis_taken == 1 for c in m.cores[1:])
    for i in range(4):
        assert increments(m, i) == pytest.approx(2, abs=0.05)


def test_ipi_is_taken_only_at_an_instruction_boundary_and_the_sender_waits():
    m = loop_machine(cores=2)
    seen = []

    def patcher():
        acked = m.send_ipi([1], lambda core: seen.append(core.instructions))
        assert not acked()
        yield acked
        seen.append("acked")
    agent = m.spawn(patcher(), cpu=0)
    m.run_until(lambda: agent.done)
    assert seen[-1] == "acked" and isinstance(seen[0], int)


def test_icache_off_is_coherent():
    m = loop_machine(icache=False)
    for _ in range(10):
        m.step()
    m.write16(0x1000, MOVS_R0_2)
    assert increments(m, 0) == pytest.approx(2, abs=0.05)
    assert m.cores[0].stale_fetches == 0


def straddle_machine(**kw):
    """A 32-bit movw at 0x101e straddles the 32-byte lines 0x1000 and 0x1020: nops; movw r0,#1; adds; b."""
    m = cpu.Machine(cores=1, mem_size=1 << 20, **kw)
    code = hw_bytes(*([NOP] * 15)) + hw_bytes(0xF240, 0x0001)        # movw r0, #1
    code += hw_bytes(ADDS_R1_R1_R0)
    code += hw_bytes(0xE7ED)                                         # b 0x1000
    m.write(0x1000, code)
    m.watch_code(0x1000, 0x1040)
    c = m.cores[0]
    c.pc = 0x1000
    c.state = CORE_RUNNING
    return m, c


def test_straddling_instruction_torn_by_halfword_writes_is_detected():
    m, c = straddle_machine()
    events = []
    m.hook_add("fetch", lambda core, e: events.append(e))
    c.step(40)                                        # both lines filled with the old instruction
    m.write16(0x101E, 0xF240)                         # movw r0, #0x101: first halfword unchanged here
    m.write16(0x101E, 0xF241)                         # movw r0, #0x1001 (new first half: imm4=1)
    m.write16(0x1020, 0x0002)                         # ... and new second half: #0x1002
    m.flush_icache_range(0x1020, 0x1040)              # only the second line refills: new hw2, old hw1
    before = c.get_reg(1)
    c.step(17)
    assert c.torn_fetches == 1
    assert c.get_reg(1) - before == 2                 # executed the torn pair movw r0, #2 (old hw1 + new hw2)
    ev = [e for e in events if e["kind"] == "torn"][0]
    assert ev["pc"] == 0x101E and ev["seen"] == (0xF240, 0x0002) and ev["memory"] == (0xF241, 0x0002)


def test_straddling_instruction_from_one_moment_is_not_torn():
    m, c = straddle_machine()
    c.step(40)
    m.write16(0x1020, 0x0002)                         # second half first: (old, new) did stand together
    m.flush_icache_range(0x1020, 0x1040)
    c.step(17)
    assert c.torn_fetches == 0


def test_stop_on_first_violation():
    m, c = straddle_machine()
    m.stop_on_violation = True
    c.step(40)
    m.write16(0x101E, 0xF241)
    m.write16(0x1020, 0x0002)
    m.flush_icache_range(0x1020, 0x1040)
    with pytest.raises(cpu.FetchViolation) as e:
        c.step(17)
    assert "torn fetch" in str(e.value) and "pc=0x0000101e" in str(e.value)


def test_guest_icimvau_invalidates_only_the_local_core():
    m = loop_machine()
    for _ in range(10):
        m.step()
    assert all(c.icache_contents(0x1000) == MOVS_R0_1 for c in m.cores)
    # core 1 executes: str r3, [r2]  with r2 = ICIMVAU, r3 = the line to invalidate
    m.write(0x2000, hw_bytes(0x6013))
    m.flush_icache_range(0x2000, 0x2002)
    c1 = m.cores[1]
    c1.set_reg(2, 0xE000EF58)
    c1.set_reg(3, 0x1000)
    c1.pc = 0x2000
    c1.step(1)
    assert c1.icache_contents(0x1000) is None
    assert m.cores[0].icache_contents(0x1000) == MOVS_R0_1


def test_guest_iciallu_invalidates_everything_local():
    m = loop_machine()
    for _ in range(10):
        m.step()
    m.write(0x2000, hw_bytes(0x6013))                 # str r3, [r2] with r2 = ICIALLU
    m.flush_icache_range(0x2000, 0x2002)
    c1 = m.cores[1]
    c1.set_reg(2, 0xE000EF50)
    c1.pc = 0x2000
    c1.step(1)
    assert c1.icache_contents(0x1000) is None and c1.icache_contents(0x2000) is None
    assert m.cores[0].icache_contents(0x1000) == MOVS_R0_1


def test_same_seed_same_run_different_seed_different_interleaving():
    def run(seed):
        m = loop_machine(cores=3, schedule="random", seed=seed, evict_rate=2000, replacement="random")
        for _ in range(200):
            m.step()
        return m.record, [c.regs for c in m.cores], [c.icache_misses for c in m.cores]
    assert run(5) == run(5)
    assert run(5)[0] != run(6)[0]


def test_recorded_schedule_replays_exactly():
    m = loop_machine(cores=3, schedule="random", seed=11, evict_rate=3000)
    for _ in range(100):
        m.step()
    rec = list(m.record)
    state = [c.regs for c in m.cores]
    m2 = loop_machine(cores=3, schedule="round-robin")
    m2.replay(rec)
    for _ in range(len(rec)):
        m2.step()
    assert [c.regs for c in m2.cores] == state
