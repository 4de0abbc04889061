"""Fixtures shared by the instruction tests: the cpu package and a one-shot runner."""
import pytest


@pytest.fixture(scope="session")
def cpu():
    import cpu
    return cpu


@pytest.fixture
def run(cpu):
    """run(hw, regs={n: v}, apsr=0, mem={addr: bytes}, steps=1, addr=0x1000, mem_size=1 MiB) -> (machine, core).

    A fresh 1-core Machine with the halfwords `hw` at `addr`, after `steps` calls of core.step(1).
    """
    def run(hw, regs=None, apsr=0, mem=None, steps=1, addr=0x1000, mem_size=1 << 20):
        m = cpu.Machine(cores=1, mem_size=mem_size, icache=True)
        for a, data in (mem or {}).items():
            m.write(a, data)
        m.write(addr, b"".join(h.to_bytes(2, "little") for h in hw))
        c = m.cores[0]
        for n, v in (regs or {}).items():
            c.set_reg(n, v)
        c.set_reg(15, addr)
        c.apsr = apsr
        for _ in range(steps):
            c.step(1)
        return m, c
    return run
