"""Branches: B (T1-T4), BL with J1/J2 (I1 = NOT(J1 XOR S)), BX/BLX interworking, CBZ/CBNZ, TBB/TBH, loads to PC,
and InvalidStateFault for even targets.

Expected values worked out by hand from the ARMv7-M ARM; encodings from arm-none-eabi-as (far BL/B.W by hand).
"""
import pytest

N, Z, C, V = 1 << 31, 1 << 30, 1 << 29, 1 << 28

BRANCHES = [
    # (asm, hw, address, APSR, pc expected)
    ("beq .+8 (taken)", [0xD002], 0x1000, Z, 0x1008),
    ("beq .+8 (not taken)", [0xD002], 0x1000, 0, 0x1002),
    ("b .-4", [0xE7FC], 0x1004, 0, 0x1000),
    ("bne.w .+0x1000 (taken)", [0xF040, 0x87FE], 0x1000, 0, 0x2000),
    ("bne.w .+0x1000 (not taken)", [0xF040, 0x87FE], 0x1000, Z, 0x1004),
    ("bhi.w .-0x40000 (T3: S=1 J2=1 J1=0)", [0xF63F, 0x8FFE], 0x80000, C, 0x40000),
    ("bhi.w .-0x40000 (not taken)", [0xF63F, 0x8FFE], 0x80000, C | Z, 0x80004),
    ("b.w .+0x12346", [0xF012, 0xB9A1], 0x1000, 0, 0x13346),
    # T4 offset = S:I1:I2:imm10:imm11:0 with I1 = NOT(J1 XOR S), I2 = NOT(J2 XOR S)
    ("b.w +0xc00000 (S=0 J1=0 J2=0)", [0xF000, 0x9000], 0x100000, 0, 0xD00004),
    ("b.w -0x400000 (S=1 J1=1 J2=1)", [0xF400, 0xB800], 0x800000, 0, 0x400004),
    ("cbz r0, .+8 (r0 = 0)", [0xB110], 0x1000, 0, 0x1008),
    ("cbnz r0, .+8 (r0 = 0)", [0xB910], 0x1000, 0, 0x1002),
    ("cbz r0, .+130 (i=1, imm5=31)", [0xB3F8], 0x1000, 0, 0x1082),
]


@pytest.mark.parametrize("asm,hw,addr,apsr,pc", BRANCHES, ids=[c[0] for c in BRANCHES])
def test_branch(run, asm, hw, addr, apsr, pc):
    _, c = run(hw, regs={0: 0}, apsr=apsr, addr=addr, mem_size=1 << 25)
    assert c.get_reg(15) == pc, f"{asm}: pc=0x{c.get_reg(15):x}"
    assert c.apsr == apsr


def test_cbnz_taken(run):
    _, c = run([0xB910], regs={0: 7})
    assert c.get_reg(15) == 0x1008


@pytest.mark.parametrize("asm,hw,addr,target", [
    ("bl .+0x100", [0xF000, 0xF87E], 0x1000, 0x1100),
    ("bl +0xc00000 (S=0 J1=0 J2=0)", [0xF000, 0xD000], 0x100000, 0xD00004),
    ("bl -0xc00000 (S=1 J1=0 J2=1)", [0xF400, 0xD800], 0xF00000, 0x300004),
])
def test_bl(run, asm, hw, addr, target):
    _, c = run(hw, addr=addr, mem_size=1 << 25)
    assert (c.get_reg(15), c.get_reg(14)) == (target, (addr + 4) | 1), asm


def test_blx_register(run):
    _, c = run([0x4790], regs={2: 0x2001})                     # blx r2
    assert (c.get_reg(15), c.get_reg(14)) == (0x2000, 0x1003)


def test_bx_lr(run):
    _, c = run([0x4770], regs={14: 0x3001})                    # bx lr
    assert c.get_reg(15) == 0x3000


def test_ldr_pc(run):
    _, c = run([0xF8D1, 0xF000], regs={1: 0x8000}, mem={0x8000: (0x4001).to_bytes(4, "little")})
    assert c.get_reg(15) == 0x4000


TBB_PC, TBH_PC, TBB_R2 = [0xE8DF, 0xF001], [0xE8DF, 0xF011], [0xE8D2, 0xF001]


@pytest.mark.parametrize("asm,hw,index,table_at,table,pc", [
    ("tbb [pc, r1]", TBB_PC, 2, 0x1004, bytes([3, 5, 7, 0x80]), 0x1004 + 14),
    ("tbb [pc, r1]", TBB_PC, 3, 0x1004, bytes([3, 5, 7, 0x80]), 0x1004 + 0x100),
    ("tbh [pc, r1, lsl #1]", TBH_PC, 0, 0x1004, bytes([0x10, 0, 0, 0x80]), 0x1004 + 0x20),
    ("tbh [pc, r1, lsl #1]", TBH_PC, 1, 0x1004, bytes([0x10, 0, 0, 0x80]), 0x1004 + 0x10000),
    ("tbb [r2, r1]", TBB_R2, 1, 0x8000, bytes([0x11, 0x22]), 0x1004 + 0x44),
])
def test_table_branch(run, asm, hw, index, table_at, table, pc):
    _, c = run(hw, regs={1: index, 2: 0x8000}, mem={table_at: table})
    assert c.get_reg(15) == pc, f"{asm}: pc=0x{c.get_reg(15):x}"


@pytest.mark.parametrize("asm,hw,regs,mem,target", [
    ("bx r0", [0x4700], {0: 0x2000}, {}, 0x2000),
    ("blx r2", [0x4790], {2: 0x2000}, {}, 0x2000),
    ("ldr.w pc, [r1]", [0xF8D1, 0xF000], {1: 0x8000}, {0x8000: (0x4000).to_bytes(4, "little")}, 0x4000),
    ("pop {pc}", [0xBD00], {13: 0x8000}, {0x8000: (0x4000).to_bytes(4, "little")}, 0x4000),
])
def test_even_target_faults(run, cpu, asm, hw, regs, mem, target):
    with pytest.raises(cpu.GuestFault) as e:
        run(hw, regs=regs, mem=mem)
    assert isinstance(e.value, cpu.InvalidStateFault), f"{asm}: {type(e.value).__name__}: {e.value}"
    text = str(e.value)
    insn = " ".join(f"{h:04x}" for h in hw)
    assert "core 0" in text and "pc=0x00001000" in text and f"insn={insn}" in text \
        and f"addr=0x{target:08x}" in text, text
