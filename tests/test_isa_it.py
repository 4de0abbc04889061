"""IT blocks: ITSTATE after IT and its advance (ITAdvance), ConditionPassed for every condition, 16-bit
flag-setting encodings not setting flags inside a block, flags changed inside a block, branches as last.

Expected values worked out by hand from the ARMv7-M ARM; encodings from arm-none-eabi-as.
"""
import pytest

N, Z, C, V = 1 << 31, 1 << 30, 1 << 29, 1 << 28
MOV_R0_1 = 0x2001      # MOVS r0, #1 outside an IT block, MOV<c> r0, #1 inside one


def passed(cond, apsr):
    n, z, c, v = (apsr >> 31) & 1, (apsr >> 30) & 1, (apsr >> 29) & 1, (apsr >> 28) & 1
    return [z, not z, c, not c, n, not n, v, not v, c and not z, not c or z, n == v, n != v,
            not z and n == v, z or n != v, True][cond]


@pytest.mark.parametrize("cond", range(15))
def test_condition_passed(run, cond):
    for nzcv in range(16):
        apsr = nzcv << 28
        _, c = run([0xBF08 | cond << 4, MOV_R0_1], regs={0: 0}, apsr=apsr, steps=2)
        assert c.get_reg(0) == (1 if passed(cond, apsr) else 0), f"cond {cond:04b} NZCV {nzcv:04b}"
        assert (c.apsr, c.itstate, c.get_reg(15)) == (apsr, 0, 0x1004)


ITEET_LT = [0xBFB3, 0x2001, 0x2002, 0x2003, 0x2004]       # iteet lt; movlt r0,#1; movge #2; movge #3; movlt #4


@pytest.mark.parametrize("apsr,r0_after", [(N, [1, 1, 1, 4]), (0, [0, 2, 3, 3])])
def test_itstate_advance(run, cpu, apsr, r0_after):
    """ITSTATE = firstcond:mask after IT, then IT[4:0] shifts left per instruction until IT[2:0] == 0."""
    m, c = run(ITEET_LT, regs={0: 0}, apsr=apsr, steps=1)
    assert (c.itstate, c.get_reg(15)) == (0xB3, 0x1002)
    for k, (it, r0) in enumerate(zip([0xA6, 0xAC, 0xB8, 0x00], r0_after)):
        c.step(1)
        assert (c.itstate, c.get_reg(0), c.get_reg(15)) == (it, r0, 0x1004 + 2 * k)
    assert c.apsr == apsr


def test_itte_eq(run):
    _, c = run([0xBF06, 0x2001, 0x2102, 0x2203], regs={0: 0, 1: 0, 2: 0}, apsr=Z, steps=1)   # itte eq
    assert c.itstate == 0x06
    c.step(1)
    assert c.itstate == 0x0C
    c.step(1)
    assert c.itstate == 0x18
    c.step(1)
    assert (c.itstate, c.get_reg(0), c.get_reg(1), c.get_reg(2)) == (0, 1, 2, 0)


def test_16bit_adds_sets_no_flags_in_it(run):
    _, c = run([0xBF08, 0x1840], regs={0: 0xFFFFFFFF, 1: 1}, apsr=Z, steps=2)   # it eq; addeq r0, r0, r1
    assert (c.get_reg(0), c.apsr) == (0, Z)


@pytest.mark.parametrize("r0,r1", [(5, 7), (4, 0x55)])
def test_flags_change_inside_block(run, r0, r1):
    # itt eq; cmpeq r0, #5; moveq r1, #7: the second condition sees the CMP's flags
    _, c = run([0xBF04, 0x2805, 0x2107], regs={0: r0, 1: 0x55}, apsr=Z, steps=3)
    assert (c.get_reg(1), c.itstate) == (r1, 0)


def test_32bit_s_form_in_block(run):
    # ite ne; addsne.w r0, r0, #1; moveq r1, #1: ADDS sets Z and C, so the else part then passes
    _, c = run([0xBF14, 0xF110, 0x0001, 0x2101], regs={0: 0xFFFFFFFF, 1: 0}, apsr=0, steps=3)
    assert (c.get_reg(0), c.get_reg(1), c.apsr) == (0, 1, Z | C)


def test_it_al(run):
    _, c = run([0xBFE8, MOV_R0_1], regs={0: 0}, apsr=N, steps=1)
    assert c.itstate == 0xE8
    c.step(1)
    assert (c.get_reg(0), c.apsr, c.itstate) == (1, N, 0)


@pytest.mark.parametrize("apsr,pc", [(Z, 0x100A), (0, 0x1004)])
def test_branch_last_in_block(run, apsr, pc):
    _, c = run([0xBF08, 0xE002], apsr=apsr, steps=2)        # it eq; b .+8
    assert (c.get_reg(15), c.itstate) == (pc, 0)


@pytest.mark.parametrize("apsr,r0", [(Z, 1), (0, 0)])
def test_itstate_writable(run, apsr, r0):
    """A written ITSTATE (EQ, one instruction left) conditions the next instruction and makes MOVS a MOV."""
    _, c = run([MOV_R0_1], regs={0: 0}, apsr=apsr, steps=0)
    c.itstate = 0x08
    c.step(1)
    assert (c.get_reg(0), c.apsr, c.itstate, c.get_reg(15)) == (r0, apsr, 0, 0x1002)
