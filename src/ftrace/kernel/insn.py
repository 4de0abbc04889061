"""Instruction encodings ftrace writes (arch/arm/kernel/insn.c, arch/arm/include/asm/ftrace.h, opcodes.h).

Opcodes are canonical Thumb-2 values, first halfword in bits 31..16 (__opcode_thumb32_compose); in memory the
first halfword comes first (__opcode_to_mem_thumb32 on little-endian).
"""

MCOUNT_INSN_SIZE = 4
FTRACE_NOP = 0xF85DEB04          # ldr.w lr, [sp], #4  (pop.w {lr}): undoes the site's push {lr} (v3.6)
FTRACE_NOP_MODERN = 0xF10D0D04   # add.w sp, sp, #4: the same without reloading lr (modern asm/ftrace.h)
NOP_KIND = {FTRACE_NOP: "ldr", FTRACE_NOP_MODERN: "add"}     # (size, kind) names for the CMODX audit
NOP_W = 0xF3AF8000               # nop.w: ftrace_graph_call when the graph caller is off
PUSH_LR = 0xB500                 # push {lr}, the halfword before every mcount site
BKPT = 0xBE00                    # bkpt #imm8 (16-bit): imm in the low byte
UDF = 0xDE00                     # udf #imm8 (16-bit, T1): imm in the low byte


def thumb_bl(pc, target, link=True):
    """arm_gen_branch_link() for Thumb-2: BL (or B.W) T4 from pc to target; ValueError if out of +-16 MiB."""
    offset = (target & ~1) - (pc + 4)
    if not -16777216 <= offset <= 16777214:
        raise ValueError(f"branch from 0x{pc:x} to 0x{target:x} out of range")
    s = (offset >> 24) & 1
    i1 = (offset >> 23) & 1
    i2 = (offset >> 22) & 1
    imm10 = (offset >> 12) & 0x3FF
    imm11 = (offset >> 1) & 0x7FF
    j1 = (~i1 ^ s) & 1
    j2 = (~i2 ^ s) & 1
    first = 0xF000 | (s << 10) | imm10
    second = (0xD000 if link else 0x9000) | (j1 << 13) | (j2 << 11) | imm11
    return (first << 16) | second


def thumb_b16(pc, target):
    """B T2 (16-bit unconditional branch) from pc to target; ValueError if out of range."""
    offset = target - (pc + 4)
    if not -2048 <= offset <= 2046 or offset & 1:
        raise ValueError(f"16-bit branch from 0x{pc:x} to 0x{target:x} out of range")
    return 0xE000 | ((offset >> 1) & 0x7FF)


def bl_target(pc, opcode):
    """Where a Thumb-2 BL/B.W opcode at pc goes (None if it is not one)."""
    first, second = opcode >> 16, opcode & 0xFFFF
    if first >> 11 != 0x1E or (second & 0xD000) not in (0xD000, 0x9000):
        return None
    s = (first >> 10) & 1
    j1, j2 = (second >> 13) & 1, (second >> 11) & 1
    i1, i2 = (~(j1 ^ s)) & 1, (~(j2 ^ s)) & 1
    offset = (s << 24) | (i1 << 23) | (i2 << 22) | ((first & 0x3FF) << 12) | ((second & 0x7FF) << 1)
    if s:
        offset -= 1 << 25
    return pc + 4 + offset


def halves(opcode):
    """A 32-bit opcode as (first, second) halfwords, memory order."""
    return opcode >> 16, opcode & 0xFFFF


def opcode_to_mem(opcode):
    """__opcode_to_mem_thumb32: the four bytes as they lie in memory."""
    return (opcode >> 16).to_bytes(2, "little") + (opcode & 0xFFFF).to_bytes(2, "little")


def mem_to_opcode(data):
    return (int.from_bytes(data[0:2], "little") << 16) | int.from_bytes(data[2:4], "little")
