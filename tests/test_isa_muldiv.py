"""Multiply and divide: MUL(S) keeps C and V, 64-bit products and accumulates, SDIV/UDIV edge cases.

Expected values worked out by hand from the ARMv7-M ARM; encodings from arm-none-eabi-as.
"""
import pytest

N, Z, C, V, Q = 1 << 31, 1 << 30, 1 << 29, 1 << 28, 1 << 27
MULS, MUL, MLA, MLS = [0x4348], [0xFB01, 0xF002], [0xFB01, 0x3002], [0xFB01, 0x3012]
UMULL, SMULL, UMLAL, SMLAL = [0xFBA2, 0x0103], [0xFB82, 0x0103], [0xFBE2, 0x0103], [0xFBC2, 0x0103]
SDIV, UDIV = [0xFB91, 0xF0F2], [0xFBB1, 0xF0F2]

CASES = [
    # MULS sets N and Z only (v7: C and V unchanged)
    ("muls r0, r1, r0", MULS, {0: 0x10000, 1: 0x10000}, C | V, {0: 0}, Z | C | V),
    ("muls r0, r1, r0", MULS, {0: 0xFFFFFFFF, 1: 2}, C, {0: 0xFFFFFFFE}, N | C),
    ("mul.w r0, r1, r2", MUL, {1: 0x12345678, 2: 0x10}, N | Z, {0: 0x23456780}, N | Z),
    ("mla r0, r1, r2, r3", MLA, {1: 3, 2: 4, 3: 0xFFFFFFF0}, 0, {0: 0xFFFFFFFC}, 0),
    ("mls r0, r1, r2, r3", MLS, {1: 3, 2: 4, 3: 10}, 0, {0: 0xFFFFFFFE}, 0),
    # 32x32 -> 64 (RdLo = r0, RdHi = r1)
    ("umull r0, r1, r2, r3", UMULL, {2: 0xFFFFFFFF, 3: 0xFFFFFFFF}, 0, {0: 1, 1: 0xFFFFFFFE}, 0),
    ("smull r0, r1, r2, r3", SMULL, {2: 0xFFFFFFFF, 3: 0xFFFFFFFF}, 0, {0: 1, 1: 0}, 0),
    ("smull r0, r1, r2, r3", SMULL, {2: 0x80000000, 3: 0x80000000}, 0, {0: 0, 1: 0x40000000}, 0),
    ("smull r0, r1, r2, r3", SMULL, {2: 0x80000000, 3: 2}, Z, {0: 0, 1: 0xFFFFFFFF}, Z),
    ("umlal r0, r1, r2, r3", UMLAL, {0: 0xFFFFFFFF, 1: 1, 2: 1, 3: 1}, 0, {0: 0, 1: 2}, 0),
    ("umlal r0, r1, r2, r3", UMLAL, {0: 0, 1: 0, 2: 0xFFFFFFFF, 3: 0xFFFFFFFF}, 0, {0: 1, 1: 0xFFFFFFFE}, 0),
    ("smlal r0, r1, r2, r3", SMLAL, {0: 5, 1: 0, 2: 0xFFFFFFFF, 3: 3}, 0, {0: 2, 1: 0}, 0),
    ("smlal r0, r1, r2, r3", SMLAL, {0: 1, 1: 0, 2: 0xFFFFFFFF, 3: 3}, 0, {0: 0xFFFFFFFE, 1: 0xFFFFFFFF}, 0),
    # SDIV rounds toward zero; INT_MIN / -1 = INT_MIN; x / 0 = 0 (CCR.DIV_0_TRP clear); flags untouched
    ("sdiv r0, r1, r2", SDIV, {1: 7, 2: 2}, N | C | Q, {0: 3}, N | C | Q),
    ("sdiv r0, r1, r2", SDIV, {1: 0xFFFFFFF9, 2: 2}, 0, {0: 0xFFFFFFFD}, 0),
    ("sdiv r0, r1, r2", SDIV, {1: 7, 2: 0xFFFFFFFE}, 0, {0: 0xFFFFFFFD}, 0),
    ("sdiv r0, r1, r2", SDIV, {1: 0xFFFFFFF9, 2: 0xFFFFFFFE}, 0, {0: 3}, 0),
    ("sdiv r0, r1, r2", SDIV, {1: 0x80000000, 2: 0xFFFFFFFF}, V, {0: 0x80000000}, V),
    ("sdiv r0, r1, r2", SDIV, {0: 0x55, 1: 5, 2: 0}, Z, {0: 0}, Z),
    ("udiv r0, r1, r2", UDIV, {1: 0xFFFFFFFF, 2: 2}, 0, {0: 0x7FFFFFFF}, 0),
    ("udiv r0, r1, r2", UDIV, {1: 0x80000000, 2: 0xFFFFFFFF}, 0, {0: 0}, 0),
    ("udiv r0, r1, r2", UDIV, {1: 7, 2: 7}, 0, {0: 1}, 0),
    ("udiv r0, r1, r2", UDIV, {0: 0x55, 1: 5, 2: 0}, C, {0: 0}, C),
]


@pytest.mark.parametrize("asm,hw,regs,apsr,want,flags", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_muldiv(run, asm, hw, regs, apsr, want, flags):
    _, c = run(hw, regs=regs, apsr=apsr)
    assert {n: c.get_reg(n) for n in want} == want, asm
    assert c.apsr == flags, f"{asm}: NZCVQ {c.apsr >> 27:05b}, want {flags >> 27:05b}"
