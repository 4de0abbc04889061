"""Hints and barriers (no state change), UDF routing through the handler chain, undefined encodings, BKPT/SVC
without handlers, and that the icache flush makes rewritten code visible.
"""
import pytest

N, Z, C, V = 1 << 31, 1 << 30, 1 << 29, 1 << 28


@pytest.mark.parametrize("asm,hw", [
    ("nop", [0xBF00]), ("nop.w", [0xF3AF, 0x8000]), ("yield", [0xBF10]), ("sev", [0xBF40]),
    ("dmb sy", [0xF3BF, 0x8F5F]), ("dmb ish", [0xF3BF, 0x8F5B]), ("dsb sy", [0xF3BF, 0x8F4F]),
    ("isb sy", [0xF3BF, 0x8F6F]), ("pld [r0]", [0xF890, 0xF000]), ("clrex", [0xF3BF, 0x8F2F]),
])
def test_no_state_change(run, asm, hw):
    regs = {n: 0x1111 * (n + 1) for n in range(13)}
    regs[0] = 0x8000
    _, c = run(hw, regs=regs, apsr=N | V)
    assert {n: c.get_reg(n) for n in regs} == regs, asm
    assert (c.apsr, c.get_reg(15)) == (N | V, 0x1000 + 2 * len(hw)), asm


def check_message(e, insn):
    text = str(e)
    assert "core 0" in text and "pc=0x00001000" in text and f"insn={insn}" in text, text
    assert (e.core, e.pc) == (0, 0x1000)


@pytest.mark.parametrize("asm,hw,insn", [
    ("udf #0", [0xDE00], "de00"),
    ("udf #42", [0xDE2A], "de2a"),
    ("udf.w #0x1234", [0xF7F1, 0xA234], "f7f1 a234"),
    ("f870 0000 (load/store space op2=00xx111: UNDEFINED)", [0xF870, 0x0000], "f870 0000"),
])
def test_undefined(run, cpu, asm, hw, insn):
    with pytest.raises(cpu.GuestFault) as e:
        run(hw)
    assert isinstance(e.value, cpu.UndefinedInstruction), f"{asm}: {type(e.value).__name__}: {e.value}"
    check_message(e.value, insn)


@pytest.mark.parametrize("hw,imm", [([0xDE2A], 42), ([0xF7F1, 0xA234], 0x1234)])
def test_udf_handler_chain(cpu, hw, imm):
    """The first handler returning an address takes the UDF; one returning None passes it on."""
    m = cpu.Machine(cores=1, mem_size=1 << 20)
    seen = []
    m.hook_add("udf", lambda core, i, pc: seen.append(("first", i, pc)))
    m.hook_add("udf", lambda core, i, pc: seen.append(("second", i, pc)) or 0x2001)
    m.write(0x1000, b"".join(h.to_bytes(2, "little") for h in hw))
    c = m.cores[0]
    c.set_reg(15, 0x1000)
    c.step(1)
    assert seen == [("first", imm, 0x1000), ("second", imm, 0x1000)]
    assert c.get_reg(15) == 0x2000


@pytest.mark.parametrize("asm,hw,insn", [("bkpt #1", [0xBE01], "be01"), ("svc #5", [0xDF05], "df05")])
def test_unhandled_exception(run, cpu, asm, hw, insn):
    with pytest.raises(cpu.GuestFault) as e:
        run(hw)
    assert isinstance(e.value, cpu.UnhandledException), f"{asm}: {type(e.value).__name__}: {e.value}"
    check_message(e.value, insn)


def test_flush_makes_new_code_visible(run):
    m, c = run([0x2001], regs={0: 0})                          # movs r0, #1
    assert c.get_reg(0) == 1
    m.write(0x1000, (0x2002).to_bytes(2, "little"))           # movs r0, #2 over it
    m.flush_icache_range(0x1000, 0x1002)
    c.set_reg(15, 0x1000)
    c.step(1)
    assert c.get_reg(0) == 2
