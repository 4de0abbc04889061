"""Nothing a guest does may crash, hang or corrupt the host: random code, wild addresses, runaway programs."""
import os
import random
import re
import subprocess
import sys

import pytest

import cpu

GUEST_BIN = os.path.join(os.path.dirname(cpu.__file__), "guest", "bin")


@pytest.mark.parametrize("seed", range(6))
def test_random_code_only_ever_raises_guest_faults(seed):
    rng = random.Random(seed)
    faults = {}
    for _ in range(300):
        m = cpu.Machine(cores=2, mem_size=1 << 16, icache=rng.random() < 0.7)
        m.write(0x100, bytes(rng.getrandbits(8) for _ in range(512)))
        for c in m.cores:
            c.pc = 0x100 + 2 * rng.randrange(64)
            for r in range(13):
                c.set_reg(r, rng.choice([0, 0x200, 0xFFFF, 0xFFFFFFFF, rng.getrandbits(32)]))
            c.set_reg(13, 0x8000)
            c.state = 1
        try:
            for _ in range(20):
                m.step()
        except cpu.GuestFault as e:
            faults[type(e).__name__] = faults.get(type(e).__name__, 0) + 1
            assert "pc=0x" in str(e)
        except cpu.Deadlock:
            pass
    assert "UndefinedInstruction" in faults and "MemoryFault" in faults


def test_store_outside_memory_leaves_memory_and_host_intact():
    m = cpu.Machine(cores=1, mem_size=1 << 16)
    m.write(0x100, bytes.fromhex("0860"))          # str r0, [r1]
    c = m.cores[0]
    c.set_reg(0, 0xDEADBEEF)
    c.set_reg(1, 0xFFFFFFFE)
    c.pc = 0x100
    with pytest.raises(cpu.MemoryFault) as e:
        c.step(1)
    assert e.value.addr == 0xFFFFFFFE and e.value.core == 0 and e.value.pc == 0x100 and e.value.insn == 0x6008
    assert m.read(0, 1 << 16) == bytes(0x100) + bytes.fromhex("0860") + bytes((1 << 16) - 0x102)


def test_host_access_errors_are_clear():
    m = cpu.Machine(cores=1, mem_size=1 << 16)
    with pytest.raises(cpu.MemoryFault, match="outside guest memory"):
        m.read((1 << 16) - 2, 4)
    with pytest.raises(cpu.MemoryFault):
        m.write(1 << 16, b"x")
    with pytest.raises(ValueError, match="register number"):
        m.cores[0].set_reg(16, 0)
    with pytest.raises(ValueError, match="cores must be"):
        cpu.Machine(cores=0)
    with pytest.raises(ValueError, match="mem_size"):
        cpu.Machine(mem_size=1000)
    with pytest.raises(ValueError, match="line_size"):
        cpu.Machine(line_size=24)


def test_runaway_program_is_bounded():
    m = cpu.Machine(cores=1, mem_size=1 << 16)
    m.write(0x100, bytes.fromhex("fee7"))          # b .
    m.cores[0].pc = 0x100
    m.cores[0].state = 1
    with pytest.raises(cpu.InstructionLimit, match="1000 instructions"):
        m.run(max_instructions=1000)
    assert m.instructions == 1000


def test_cli_runaway_and_fault_messages(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(cpu.__file__)))
    prog = os.path.join(GUEST_BIN, "loop-O2.elf")
    p = subprocess.run([sys.executable, "-m", "cpu", "run", prog, "100000000", "--max-instructions", "5000"],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 124 and p.stderr.strip().splitlines()[-1].startswith("cpu: stopped after 5000")
    bad = tmp_path / "bad.elf"
    bad.write_bytes(b"\x7fELF" + bytes(60))
    p = subprocess.run([sys.executable, "-m", "cpu", "run", str(bad)], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and p.stderr.startswith("cpu: ") and "Traceback" not in p.stderr


def test_semihosting_exit_code_and_stats_from_cli():
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(cpu.__file__)))
    p = subprocess.run([sys.executable, "-m", "cpu", "run", os.path.join(GUEST_BIN, "args-O2.elf"), "a", "b",
                        "--stats"], capture_output=True, text=True, env=env)
    assert p.returncode == 2
    assert p.stdout == ('argc-1 = 2\nargv[1] = "a" (len 1)\nargv[2] = "b" (len 1)\n'
                        "numeric args: 0, sum = 0\n")
    # --stats: a row per core under the column names, then the total, which is that core's instruction count
    head, row, total = p.stderr.strip().splitlines()[-3:]
    assert head.split() == ["cpu", "instructions", "cycles", "icache", "hit", "miss", "ipis", "bkpt", "stale",
                            "late", "torn"]
    cpu0, n, cycles, hits, misses = (int(x) for x in row.split()[:5])
    assert cpu0 == 0 and n > 1000 and cycles >= n and hits + misses > 0
    assert re.fullmatch(r"total %d instructions in [\d.]+ s host time: [\d.]+ simulated MIPS" % n, total)
