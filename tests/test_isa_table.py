"""The decode tables enforce their rules: encodings overlap only inside a `{ }` group, ops are generated."""
import importlib.util
import os

import pytest

from cpu.decode import OP_NAMES, decode_fields

# Load isa.py alone, as setup.py does: the generator must not need the built package.
_spec = importlib.util.spec_from_file_location(
    "isa_alone", os.path.join(os.path.dirname(__file__), "..", "src", "cpu", "isa.py"))
isa = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(isa)

# LDR (literal) T2 matches the LDR (immediate) T3 encodings with Rn == 1111.
LITERAL = "LDR_lit_T2    LDR_literal     1 1 1 1 1 0 0 0 U:1 1 0 1 1 1 1 1 | Rt:4 i:12  rd=Rt rn=15 imm=i flags=P|U*U"
IMMEDIATE = "LDR_imm_T3    LDR_immediate   1 1 1 1 1 0 0 0 1 1 0 1 Rn:4 | Rt:4 i:12  rd=Rt rn=Rn imm=i flags=P|U"


def test_overlap_outside_a_group_fails_naming_both():
    with pytest.raises(isa.OverlapError, match="LDR_lit_T2 and LDR_imm_T3 overlap"):
        isa.generate(isa.T16, LITERAL + "\n" + IMMEDIATE)


def test_overlap_across_two_groups_fails():
    with pytest.raises(isa.OverlapError, match="LDR_lit_T2 and LDR_imm_T3"):
        isa.generate(isa.T16, "{\n" + LITERAL + "\n}\n{\n" + IMMEDIATE + "\n}")


def test_overlap_inside_a_group_resolves_in_order():
    code = isa.generate(isa.T16, "{   # Rn == 1111: LDR (literal)\n" + LITERAL + "\n" + IMMEDIATE + "\n}")
    table = code["decode_table.pxi"]
    assert table.index("# LDR_lit_T2") < table.index("# LDR_imm_T3")


def test_real_table_overlaps_only_in_groups():
    for text, width in ((isa.T16, 16), (isa.T32, 32)):
        isa.check_overlaps(isa.parse(text, width))


def test_unbalanced_group_rejected():
    with pytest.raises(ValueError, match="unclosed"):
        isa.parse("{\n" + IMMEDIATE, 32)
    with pytest.raises(ValueError, match="outside"):
        isa.parse(IMMEDIATE + "\n}", 32)


def test_ops_are_the_pages_and_generated_in_step():
    pages = sorted({e.op for e in isa.parse(isa.T16, 16) + isa.parse(isa.T32, 32)} - {"UNDEF"})
    assert OP_NAMES == ["UNDECODED", "UNDEFINED"] + pages
    assert decode_fields(0xF85F, 0x0004)["op"] == "LDR_literal"     # ldr.w r0, [pc, #-4]
    assert decode_fields(0xF8D1, 0x0004)["op"] == "LDR_immediate"   # ldr.w r0, [r1, #4]
