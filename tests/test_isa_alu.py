"""Data processing: AddWithCarry flags, ThumbExpandImm_C carry-out, Shift_C, MOVW/MOVT, ADR, ADDW/SUBW, logic ops.

Expected values are worked out by hand from the ARMv7-M ARM pseudocode; encodings from arm-none-eabi-as.
"""
import pytest

N, Z, C, V, Q = 1 << 31, 1 << 30, 1 << 29, 1 << 28, 1 << 27

# (asm, halfwords, registers in, APSR in, registers expected, APSR expected)
CASES = [
    # AddWithCarry(x, y, 0) for ADDS; x + NOT(y) + 1 for SUBS/CMP/NEG
    ("adds r0, r1, r2", [0x1888], {1: 0x7FFFFFFF, 2: 1}, 0, {0: 0x80000000}, N | V),
    ("adds r0, r1, r2", [0x1888], {1: 0xFFFFFFFF, 2: 1}, 0, {0: 0}, Z | C),
    ("adds r0, r1, r2", [0x1888], {1: 0x80000000, 2: 0x80000000}, 0, {0: 0}, Z | C | V),
    ("adds r0, r1, r2", [0x1888], {1: 0xFFFFFFFF, 2: 0xFFFFFFFF}, 0, {0: 0xFFFFFFFE}, N | C),
    ("adds r0, r1, r2", [0x1888], {1: 1, 2: 2}, N | Z | C | V, {0: 3}, 0),
    ("subs r0, r1, r2", [0x1A88], {1: 0, 2: 1}, 0, {0: 0xFFFFFFFF}, N),
    ("subs r0, r1, r2", [0x1A88], {1: 5, 2: 5}, 0, {0: 0}, Z | C),
    ("subs r0, r1, r2", [0x1A88], {1: 0x80000000, 2: 1}, 0, {0: 0x7FFFFFFF}, C | V),
    ("subs r0, r1, r2", [0x1A88], {1: 0x7FFFFFFF, 2: 0xFFFFFFFF}, 0, {0: 0x80000000}, N | V),
    ("subs r0, r1, r2", [0x1A88], {1: 3, 2: 2}, 0, {0: 1}, C),
    ("cmp r1, r2", [0x4291], {0: 0x55, 1: 5, 2: 5}, N, {0: 0x55}, Z | C),
    ("cmn r1, r2", [0x42D1], {1: 0xFFFFFFFF, 2: 1}, 0, {}, Z | C),
    ("adcs r0, r1", [0x4148], {0: 0xFFFFFFFF, 1: 0}, C, {0: 0}, Z | C),
    ("adcs r0, r1", [0x4148], {0: 1, 1: 1}, C, {0: 3}, 0),
    ("adcs r0, r1", [0x4148], {0: 0x7FFFFFFF, 1: 0}, C, {0: 0x80000000}, N | V),
    ("sbcs r0, r1", [0x4188], {0: 5, 1: 5}, 0, {0: 0xFFFFFFFF}, N),
    ("sbcs r0, r1", [0x4188], {0: 5, 1: 5}, C, {0: 0}, Z | C),
    ("negs r0, r1", [0x4248], {1: 0}, 0, {0: 0}, Z | C),
    ("negs r0, r1", [0x4248], {1: 0x80000000}, 0, {0: 0x80000000}, N | V),
    ("negs r0, r1", [0x4248], {1: 1}, 0, {0: 0xFFFFFFFF}, N),
    ("sbcs.w r0, r1, r2, asr #4", [0xEB71, 0x1022], {1: 0, 2: 0x80000000}, C, {0: 0x08000000}, 0),
    ("adds.w r0, r1, #0xff000000", [0xF111, 0x407F], {1: 0x01000000}, 0, {0: 0}, Z | C),
    ("adds.w r0, r1, #0xff000000", [0xF111, 0x407F], {1: 1}, C, {0: 0xFF000001}, N),
    # ThumbExpandImm_C: rotated constants set C to bit 31, the 00XY/XYXY patterns leave C alone
    ("ands.w r0, r1, #0xff000000", [0xF011, 0x407F], {1: 0x12345678}, V, {0: 0x12000000}, C | V),
    ("ands.w r0, r1, #0x00ff00ff", [0xF011, 0x10FF], {1: 0x12345678}, C, {0: 0x00340078}, C),
    ("ands.w r0, r1, #0x00ff00ff", [0xF011, 0x10FF], {1: 0x12345678}, 0, {0: 0x00340078}, 0),
    ("movs.w r0, #0x3fc", [0xF45F, 0x707F], {0: 5}, C | Z, {0: 0x3FC}, 0),
    ("teq.w r1, #0x80000000", [0xF091, 0x4F00], {1: 0x80000000}, 0, {}, Z | C),
    ("bics.w r0, r1, #0xff", [0xF031, 0x00FF], {1: 0xFFFFFFFF}, C, {0: 0xFFFFFF00}, N | C),
    # Shift_C, immediate: LSL #0 keeps C; LSR/ASR #32 are encoded as imm5 = 0
    ("movs r0, r1", [0x0008], {1: 0x80000000}, C, {0: 0x80000000}, N | C),
    ("movs r0, r1", [0x0008], {1: 0x80000000}, 0, {0: 0x80000000}, N),
    ("lsls r0, r1, #1", [0x0048], {1: 0x80000001}, 0, {0: 2}, C),
    ("lsrs r0, r1, #32", [0x0808], {1: 0x80000000}, 0, {0: 0}, Z | C),
    ("asrs r0, r1, #32", [0x1008], {1: 0x80000000}, 0, {0: 0xFFFFFFFF}, N | C),
    ("asrs r0, r1, #32", [0x1008], {1: 0x7FFFFFFF}, C, {0: 0}, Z),
    # Shift_C, register: the amount is Rm[7:0]; 0 keeps C, >= 32 shifts everything out
    ("lsls r0, r2", [0x4090], {0: 1, 2: 32}, 0, {0: 0}, Z | C),
    ("lsls r0, r2", [0x4090], {0: 1, 2: 33}, C, {0: 0}, Z),
    ("lsls r0, r2", [0x4090], {0: 0x80000001, 2: 0x100}, 0, {0: 0x80000001}, N),
    ("lsls r0, r2", [0x4090], {0: 0x80000001, 2: 0xFF01}, 0, {0: 2}, C),
    ("lsrs r0, r2", [0x40D0], {0: 0x80000000, 2: 32}, 0, {0: 0}, Z | C),
    ("lsrs r0, r2", [0x40D0], {0: 0x80000000, 2: 33}, C, {0: 0}, Z),
    ("asrs r0, r2", [0x4110], {0: 0x80000000, 2: 40}, 0, {0: 0xFFFFFFFF}, N | C),
    ("asrs r0, r2", [0x4110], {0: 0x80000000, 2: 0}, C, {0: 0x80000000}, N | C),
    ("rors r0, r2", [0x41D0], {0: 0x80000001, 2: 32}, 0, {0: 0x80000001}, N | C),
    ("rors r0, r2", [0x41D0], {0: 0x80000001, 2: 0}, 0, {0: 0x80000001}, N),
    ("rors r0, r2", [0x41D0], {0: 0x80000001, 2: 33}, 0, {0: 0xC0000000}, N | C),
    ("rors r0, r2", [0x41D0], {0: 0x80000001, 2: 4}, C, {0: 0x18000000}, 0),
    ("movs.w r0, r1, rrx", [0xEA5F, 0x0031], {1: 3}, C, {0: 0x80000001}, N | C),
    ("movs.w r0, r1, rrx", [0xEA5F, 0x0031], {1: 2}, 0, {0: 1}, 0),
    ("orrs.w r0, r1, r2, lsr #1", [0xEA51, 0x0052], {1: 0, 2: 3}, 0, {0: 1}, C),
    ("orrs.w r0, r1, r2, lsr #1", [0xEA51, 0x0052], {1: 0, 2: 2}, C, {0: 1}, 0),
    # logic and moves without flags
    ("mvns r0, r1", [0x43C8], {1: 0}, C, {0: 0xFFFFFFFF}, N | C),
    ("orn r0, r1, r2", [0xEA61, 0x0002], {1: 0x0F, 2: 0xFFFFFF00}, Z, {0: 0xFF}, Z),
    ("tst r1, r2", [0x4211], {1: 0xF0, 2: 0x0F}, C | V, {}, Z | C | V),
    ("movw r0, #0x1234", [0xF241, 0x2034], {0: 0xFFFFFFFF}, N, {0: 0x1234}, N),
    ("movt r0, #0xabcd", [0xF6CA, 0x30CD], {0: 0xFFFF5678}, 0, {0: 0xABCD5678}, 0),
    ("addw r0, r1, #0xfff", [0xF601, 0x70FF], {1: 0xFFFFF001}, 0, {0: 0}, 0),
    ("subw r0, r1, #0xfff", [0xF6A1, 0x70FF], {1: 0}, 0, {0: 0xFFFFF001}, 0),
]


@pytest.mark.parametrize("asm,hw,regs,apsr,want,flags", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_alu(run, asm, hw, regs, apsr, want, flags):
    _, c = run(hw, regs=regs, apsr=apsr)
    got = {n: c.get_reg(n) for n in want}
    assert got == want, asm
    assert c.apsr == flags, f"{asm}: NZCVQ {c.apsr >> 27:05b}, want {flags >> 27:05b}"
    assert c.get_reg(15) == 0x1000 + 2 * len(hw)


# ADR uses Align(PC, 4): the result depends on the instruction's address
@pytest.mark.parametrize("asm,hw,addr,want", [
    ("adr r0, #8", [0xA002], 0x1000, 0x100C),
    ("adr r0, #8", [0xA002], 0x1002, 0x100C),
    ("addw r0, pc, #6", [0xF20F, 0x0006], 0x1002, 0x100A),
    ("subw r0, pc, #4", [0xF2AF, 0x0004], 0x1000, 0x1000),
    ("add r0, pc", [0x4478], 0x1002, 0x1006 + 0x10),
])
def test_pc_relative(run, asm, hw, addr, want):
    _, c = run(hw, regs={0: 0x10}, addr=addr)
    assert c.get_reg(0) == want, asm
