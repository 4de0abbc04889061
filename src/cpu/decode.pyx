"""Thumb-2 decoder: the generated table (isa.py) plus the ARM ARM helper functions it calls."""
from libc.string cimport memset


cdef inline uint32_t sext(uint32_t v, int bits) noexcept nogil:
    cdef uint32_t m = 1u << (bits - 1)
    return (v ^ m) - m


cdef inline void imm_shift(insn_t* d, uint32_t t, uint32_t n) noexcept nogil:
    """DecodeImmShift (A7.4.2)."""
    d.shift_t = t
    d.shift_n = n
    if t == SH_LSR or t == SH_ASR:
        if n == 0:
            d.shift_n = 32
    elif t == SH_ROR and n == 0:
        d.shift_t = SH_RRX
        d.shift_n = 1


cdef inline void expand_imm(insn_t* d, uint32_t imm12) noexcept nogil:
    """ThumbExpandImm_C (A5.3.2): the value, and the carry out (2 = unchanged) for flag-setting logical ops."""
    cdef uint32_t b = imm12 & 0xff, rot, unrot
    d.cimm = 2
    if (imm12 >> 10) == 0:
        sel = (imm12 >> 8) & 3
        if sel == 0:
            d.imm = b
        elif sel == 1:
            d.imm = (b << 16) | b
        elif sel == 2:
            d.imm = (b << 24) | (b << 8)
        else:
            d.imm = (b << 24) | (b << 16) | (b << 8) | b
    else:
        unrot = 0x80 | (imm12 & 0x7f)
        rot = imm12 >> 7
        d.imm = (unrot >> rot) | (unrot << (32 - rot))
        d.cimm = d.imm >> 31


cdef inline uint32_t branch_t3(uint32_t s, uint32_t j1, uint32_t j2, uint32_t imm6, uint32_t imm11) noexcept nogil:
    return sext((s << 20) | (j2 << 19) | (j1 << 18) | (imm6 << 12) | (imm11 << 1), 21)


cdef inline uint32_t branch_t4(uint32_t s, uint32_t j1, uint32_t j2, uint32_t imm10, uint32_t imm11) noexcept nogil:
    cdef uint32_t i1 = (j1 ^ s) ^ 1, i2 = (j2 ^ s) ^ 1
    return sext((s << 24) | (i1 << 23) | (i2 << 22) | (imm10 << 12) | (imm11 << 1), 25)


include "decode_table.pxi"   # decode16, decode32 and OP_NAMES


cdef bint is_thumb32(uint32_t hw1) noexcept nogil:
    return (hw1 >> 11) >= 0x1d


cdef int decode(uint32_t hw1, uint32_t hw2, insn_t* d) noexcept nogil:
    """Fill `d`; returns the size in bytes. An UNDEFINED encoding decodes to OP_UNDEFINED, so it faults when executed."""
    memset(d, 0, sizeof(insn_t))
    d.cond = 14
    if is_thumb32(hw1):
        d.size = 4
        d.raw = (hw1 << 16) | hw2
        if not decode32(d.raw, d):
            d.op = OP_UNDEFINED
    else:
        d.size = 2
        d.raw = hw1
        if not decode16(hw1, d):
            d.op = OP_UNDEFINED
    return d.size


def decode_fields(int hw1, int hw2=0):
    """Decode one instruction into a dict of its fields (for tests, disassembly listings and error messages)."""
    cdef insn_t d
    decode(hw1, hw2, &d)
    return {"op": OP_NAMES[d.op], "size": d.size, "flags": d.flags, "rd": d.rd, "rn": d.rn, "rm": d.rm,
            "ra": d.ra, "shift_t": d.shift_t, "shift_n": d.shift_n, "cond": d.cond, "cimm": d.cimm,
            "imm": d.imm, "raw": d.raw}
