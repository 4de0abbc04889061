# Decoded Thumb instructions: the layout the icache keeps per halfword slot and the executor dispatches on.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t

cdef enum:
    F_S = 1          # set flags
    F_S_OUT_IT = 2   # set flags only outside an IT block
    F_P = 4          # pre-indexed
    F_U = 8          # add the offset
    F_W = 16         # write back

cdef enum:
    SH_LSL = 0
    SH_LSR = 1
    SH_ASR = 2
    SH_ROR = 3
    SH_RRX = 4

# OP_UNDECODED (0, an empty icache slot), OP_UNDEFINED and one op per instruction page: generated from isa.py.
include "ops.pxi"

ctypedef struct insn_t:
    uint16_t op
    uint8_t size       # 2 or 4 bytes
    uint8_t flags      # F_*
    uint8_t rd, rn, rm, ra
    uint8_t shift_t    # SH_*
    uint8_t shift_n
    uint8_t cond       # B<c> condition (14 = always)
    uint8_t cimm       # carry out of ThumbExpandImm_C: 0, 1, or 2 = C unchanged
    uint32_t imm
    uint32_t raw       # the instruction as objdump prints it: first halfword in bits 31..16 for 32-bit ones

cdef bint is_thumb32(uint32_t hw1) noexcept nogil
cdef int decode(uint32_t hw1, uint32_t hw2, insn_t* d) noexcept nogil
