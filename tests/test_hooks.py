"""Machine.hook_add / hook_del for every kind, the scheduler's Outcome enum and the CoreState enum."""
import pytest

import cpu
from cpu import memmap
from cpu.machine import CORE_PARKED, CORE_RUNNING
from cpu.scheduler import Mode

NOP, ADDS_R1_R1_R0, B_LOOP = 0xBF00, 0x1809, 0xE7ED
PAIRS = [(0xF240, 0x0001), (0xF241, 0x0002)]        # movw r0, #1 / movw r0, #0x1002


def hw_bytes(*hws):
    return b"".join(h.to_bytes(2, "little") for h in hws)


def one_core(*hws):
    m = cpu.Machine(cores=1, mem_size=1 << 20)
    m.write(0x1000, hw_bytes(*hws))
    c = m.cores[0]
    c.pc = 0x1000
    c.state = CORE_RUNNING
    return m, c


def test_bad_hook_arguments_are_refused():
    m = cpu.Machine()
    with pytest.raises(ValueError, match="unknown hook kind"):
        m.hook_add("mem_read", print)
    with pytest.raises(TypeError, match="callable"):
        m.hook_add("fetch", 42)
    with pytest.raises(TypeError, match="ExceptionHandler"):
        m.hook_add("bkpt", "handler")
    with pytest.raises(ValueError, match="no hook"):
        m.hook_del(12345)
    h = m.hook_add("fetch", print)
    m.hook_del(h)
    with pytest.raises(ValueError):
        m.hook_del(h)


@pytest.mark.parametrize("kind,hw", [("bkpt", 0xBE01), ("svc", 0xDF01), ("udf", 0xDE01)])
def test_exception_chain_order_first_and_removal(kind, hw):
    m, c = one_core(hw, hw)
    seen = []
    m.hook_add(kind, lambda core, imm, pc: seen.append(("a", imm, pc)))
    h_take = m.hook_add(kind, lambda core, imm, pc: seen.append(("take", imm, pc)) or pc + 2)
    m.hook_add(kind, lambda core, imm, pc: seen.append(("first", imm, pc)), first=True)
    m.hook_add(kind, cpu.ExceptionHandler())          # the C base class passes every exception on
    c.step(1)
    assert seen == [("first", 1, 0x1000), ("a", 1, 0x1000), ("take", 1, 0x1000)]
    assert c.pc == 0x1002
    m.hook_del(h_take)
    with pytest.raises(cpu.GuestFault, match="no handler"):
        c.step(1)
    assert [s[0] for s in seen[3:]] == ["first", "a"]


def straddle_machine():
    m, c = one_core(*([NOP] * 15), *PAIRS[0], ADDS_R1_R1_R0, B_LOOP)
    m.watch_code(0x1000, 0x1040)
    return m, c


def tear(m, c, rounds):
    """Rewrite the straddling movw at 0x101E halfword by halfword while the core holds its old first half:
    at least one torn (and one stale) fetch per round."""
    for k in range(rounds):
        m.flush_icache()
        c.step(18)                                    # one loop: both lines filled with the current pair
        hw1, hw2 = PAIRS[(k + 1) % 2]
        m.write16(0x101E, hw1)
        m.write16(0x1020, hw2)
        m.flush_icache_range(0x1020, 0x1040)          # only the second line refills: old hw1, new hw2
        c.step(18)


def test_fetch_hook_gets_every_event_uncapped():
    m, c = straddle_machine()
    events = []
    h = m.hook_add("fetch", lambda core, e: events.append(e))
    tear(m, c, 40)
    torn = [e for e in events if e["kind"] == "torn"]
    stale = [e for e in events if e["kind"] in ("stale", "stale-after-sync")]
    assert len(torn) == c.torn_fetches >= 40
    assert len(stale) == c.stale_fetches >= 40
    assert all(e["pc"] == 0x101E and e["core"] == 0 and len(e["seen"]) == 2 for e in torn)
    m.hook_del(h)
    n, before = len(events), c.torn_fetches
    tear(m, c, 2)
    assert c.torn_fetches > before and len(events) == n     # counted, not delivered: the hook is gone


def test_ipi_hook():
    m, c = one_core(NOP, 0xE7FD)                      # nop; b .-2
    taken = []
    h = m.hook_add("ipi", lambda core, fn: taken.append((core.id, fn)))
    fn = lambda core: None                            # noqa: E731
    c.send_ipi(fn)
    c.step(2)
    assert taken == [(0, fn)] and c.ipis_taken == 1
    m.hook_del(h)
    c.send_ipi(fn)
    c.step(2)
    assert len(taken) == 1 and c.ipis_taken == 2


def test_code_write_hook():
    m, c = one_core(0x8008, 0xE7FE)                   # strh r0, [r1]; b .
    m.watch_code(0x1000, 0x1100)
    writes = []
    h = m.hook_add("code_write", lambda core, a, old, new, seq: writes.append((core, a, old, new, seq)))
    m.write16(0x1010, 0xBF00)                         # host write
    c.set_reg(0, 0xBE01)
    c.set_reg(1, 0x1012)
    c.step(1)                                         # guest store
    # a host write is logged byte by byte (each as its halfword), a guest halfword store once
    assert writes == [(None, 0x1010, 0, 0x0000, 1), (None, 0x1010, 0, 0xBF00, 2), (c, 0x1012, 0, 0xBE01, 3)]
    assert m.wseq == 3
    m.hook_del(h)
    m.write16(0x1014, 1)
    assert len(writes) == 3
    m.write16(0x2000, 1)                              # outside the watch: never logged


def test_advance_hook_runs_after_each_advance():
    m, c = one_core(NOP, 0xE7FD)
    calls = []
    h = m.hook_add("advance", lambda machine: calls.append(machine.instructions))
    m.advance(3, until=100)
    m.advance(3, until=200)
    assert calls == [100, 200]
    m.hook_del(h)
    m.advance(1, until=300)
    assert len(calls) == 2


def test_fault_hook_restarts_a_core_and_declines_propagate():
    """A fault hook that deals with a fault (restarts the core past it) keeps the machine going; one that
    declines, or none at all, lets the fault propagate."""
    m, c = one_core(0xDE01, ADDS_R1_R1_R0, 0xE7FD)       # udf #1; adds r1, r1, r0; b .-2 (back to the adds)
    c.set_reg(0, 1)
    seen = []

    def restart(core, fault):
        seen.append((core.id, fault.pc, type(fault).__name__))
        core.pc = 0x1002
        return True
    declined = m.hook_add("fault", lambda core, fault: None)
    h = m.hook_add("fault", restart)
    m.advance(10, until=m.instructions + 11)
    assert seen == [(0, 0x1000, "UndefinedInstruction")]
    assert c.get_reg(1) == 5 and c.pc in (0x1002, 0x1004)    # the loop ran after the restart
    m.hook_del(h)
    c.pc = 0x1000
    with pytest.raises(cpu.GuestFault, match="undefined"):
        m.advance(1, until=m.instructions + 3)
    m.hook_del(declined)
    c.pc = 0x1000
    with pytest.raises(cpu.GuestFault, match="undefined"):
        m.advance(1, until=m.instructions + 3)


def test_scheduler_outcomes():
    m = cpu.Machine(cores=2)
    sched = m.scheduler
    assert sched.run(Mode.ROUND_ROBIN, 10, (), m.record, 5, 0, 0) == cpu.Outcome.DEADLOCK
    m.write(0x1000, hw_bytes(NOP, 0xE7FD))
    m.start_cpu(1, 0x1001)
    assert sched.run(Mode.TIMED, 10, (), m.record, 5, 0, 0) == cpu.Outcome.DONE
    assert sched.steps == 5 and m.record[-1] == (1, 10)
    assert sched.run(Mode.TIMED, 10, (0,), m.record, 5, 0, 0) == cpu.Outcome.AGENT   # core 0 is behind
    assert sched.agent == 0 and sched.quantum == 10
    assert [o.name for o in cpu.Outcome] == ["DONE", "AGENT", "DEADLOCK"]


def test_core_states_one_enum():
    assert [(s.name, int(s)) for s in cpu.CoreState] == [
        ("CORE_OFF", 0), ("CORE_RUNNING", 1), ("CORE_STOPPED", 2), ("CORE_PARKED", 3)]
    assert CORE_RUNNING is cpu.CoreState.CORE_RUNNING and CORE_PARKED == 3
    from ftrace.kernel import patch
    assert patch.CORE_PARKED is cpu.CoreState.CORE_PARKED
    m = cpu.Machine(cores=2)
    assert m.cores[1].state == cpu.CoreState.CORE_OFF


def test_memory_map_defined_once():
    from cpu.core import MemoryMap, SmpReg
    assert memmap.SMP_BASE == MemoryMap.SMP_BASE == 0x40000000
    assert memmap.HOSTCALL_BASE == 0xF0000000 and memmap.HOSTCALL_SLOTS == 4096
    assert memmap.SMP_STATE == SmpReg.SMP_STATE == 0x100
