"""Bit operations: UBFX/SBFX/BFI/BFC, extends with rotation, CLZ/RBIT/REV*, and SSAT/USAT saturation with Q.

Expected values worked out by hand from the ARMv7-M ARM; encodings from arm-none-eabi-as.
"""
import pytest

N, Z, C, V, Q = 1 << 31, 1 << 30, 1 << 29, 1 << 28, 1 << 27
NZCV = N | Z | C | V

CASES = [
    ("ubfx r0, r1, #4, #8", [0xF3C1, 0x1007], {1: 0x12345678}, 0x67),
    ("ubfx r0, r1, #0, #32", [0xF3C1, 0x001F], {1: 0x87654321}, 0x87654321),
    ("sbfx r0, r1, #4, #8", [0xF341, 0x1007], {1: 0x12345F78}, 0xFFFFFFF7),
    ("sbfx r0, r1, #4, #8", [0xF341, 0x1007], {1: 0x12345678}, 0x67),
    ("sbfx r0, r1, #31, #1", [0xF341, 0x70C0], {1: 0x80000000}, 0xFFFFFFFF),
    ("sbfx r0, r1, #31, #1", [0xF341, 0x70C0], {1: 0x7FFFFFFF}, 0),
    ("bfi r0, r1, #8, #8", [0xF361, 0x200F], {0: 0xFFFFFFFF, 1: 0xABCDEF12}, 0xFFFF12FF),
    ("bfi r0, r1, #0, #32", [0xF361, 0x001F], {0: 0, 1: 0xDEADBEEF}, 0xDEADBEEF),
    ("bfc r0, #4, #24", [0xF36F, 0x101B], {0: 0xFFFFFFFF}, 0xF000000F),
    ("sxtb.w r0, r1, ror #8", [0xFA4F, 0xF091], {1: 0x00008000}, 0xFFFFFF80),
    ("uxth.w r0, r1, ror #16", [0xFA1F, 0xF0A1], {1: 0x12345678}, 0x1234),
    ("sxth.w r0, r1, ror #24", [0xFA0F, 0xF0B1], {1: 0x12345680}, 0xFFFF8012),
    ("uxtb r0, r1", [0xB2C8], {1: 0x12345680}, 0x80),
    ("sxth r0, r1", [0xB208], {1: 0x0000FF00}, 0xFFFFFF00),
    ("clz r0, r1", [0xFAB1, 0xF081], {1: 0}, 32),
    ("clz r0, r1", [0xFAB1, 0xF081], {1: 1}, 31),
    ("clz r0, r1", [0xFAB1, 0xF081], {1: 0x80000000}, 0),
    ("clz r0, r1", [0xFAB1, 0xF081], {1: 0x00010000}, 15),
    ("rbit r0, r1", [0xFA91, 0xF0A1], {1: 1}, 0x80000000),
    ("rbit r0, r1", [0xFA91, 0xF0A1], {1: 0x12345678}, 0x1E6A2C48),
    ("rev r0, r1", [0xBA08], {1: 0x12345678}, 0x78563412),
    ("rev.w r0, r1", [0xFA91, 0xF081], {1: 0x11223344}, 0x44332211),
    ("rev16 r0, r1", [0xBA48], {1: 0x12345678}, 0x34127856),
    ("revsh r0, r1", [0xBAC8], {1: 0x12345680}, 0xFFFF8056),
    ("revsh r0, r1", [0xBAC8], {1: 0x1234007F}, 0x00007F00),
]


@pytest.mark.parametrize("asm,hw,regs,want", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bits(run, asm, hw, regs, want):
    _, c = run(hw, regs=regs, apsr=N | C)
    assert c.get_reg(0) == want, f"{asm}: 0x{c.get_reg(0):x}"
    assert c.apsr == N | C


SSAT8, USAT8 = [0xF301, 0x0007], [0xF381, 0x0008]
SAT = [
    # (asm, hw, r1, result, saturated): SSAT #n clamps to [-2^(n-1), 2^(n-1)-1], USAT #n to [0, 2^n-1]
    ("ssat r0, #8, r1", SSAT8, 1000, 127, True),
    ("ssat r0, #8, r1", SSAT8, 0xFFFFFC18, 0xFFFFFF80, True),
    ("ssat r0, #8, r1", SSAT8, 128, 127, True),
    ("ssat r0, #8, r1", SSAT8, 127, 127, False),
    ("ssat r0, #8, r1", SSAT8, 0xFFFFFF80, 0xFFFFFF80, False),
    ("ssat r0, #8, r1", SSAT8, 100, 100, False),
    ("ssat r0, #1, r1", [0xF301, 0x0000], 5, 0, True),
    ("ssat r0, #1, r1", [0xF301, 0x0000], 0xFFFFFFFE, 0xFFFFFFFF, True),
    ("ssat r0, #1, r1", [0xF301, 0x0000], 0xFFFFFFFF, 0xFFFFFFFF, False),
    ("ssat r0, #16, r1, lsl #4", [0xF301, 0x100F], 0x1000, 0x7FFF, True),
    ("ssat r0, #16, r1, lsl #4", [0xF301, 0x100F], 0x7FF, 0x7FF0, False),
    ("ssat r0, #32, r1, asr #31", [0xF321, 0x70DF], 0x80000000, 0xFFFFFFFF, False),
    ("usat r0, #8, r1", USAT8, 0xFFFFFFFB, 0, True),
    ("usat r0, #8, r1", USAT8, 300, 255, True),
    ("usat r0, #8, r1", USAT8, 255, 255, False),
    ("usat r0, #8, r1", USAT8, 200, 200, False),
    ("usat r0, #0, r1", [0xF381, 0x0000], 1, 0, True),
    ("usat r0, #0, r1", [0xF381, 0x0000], 0, 0, False),
    ("usat r0, #31, r1, asr #1", [0xF3A1, 0x005F], 0xFFFFFFFE, 0, True),
    ("usat r0, #31, r1, asr #1", [0xF3A1, 0x005F], 0x7FFFFFFF, 0x3FFFFFFF, False),
]


@pytest.mark.parametrize("q_in", [0, Q])
@pytest.mark.parametrize("asm,hw,r1,want,sat", SAT, ids=[f"{c[0]}-{i}" for i, c in enumerate(SAT)])
def test_saturate(run, asm, hw, r1, want, sat, q_in):
    """Q is set on saturation and is sticky otherwise; N Z C V are not touched."""
    _, c = run(hw, regs={1: r1}, apsr=N | V | q_in)
    assert c.get_reg(0) == want, f"{asm}: 0x{c.get_reg(0):x}"
    assert c.apsr == N | V | (Q if sat else q_in)
