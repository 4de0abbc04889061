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

# One per operation; the encodings that share semantics share an op (see isa.py).  OP_UNDECODED marks an
# empty icache slot and must stay 0.
cdef enum:
    OP_UNDECODED = 0
    OP_UNDEFINED
    OP_ADC_IMM, OP_ADC_REG, OP_ADD_IMM, OP_ADD_REG, OP_ADR, OP_AND_IMM, OP_AND_REG, OP_ASR_REGS, OP_B, OP_BFC,
    OP_BFI, OP_BIC_IMM, OP_BIC_REG, OP_BKPT, OP_BL, OP_BLX, OP_BX, OP_CBNZ, OP_CBZ, OP_CLREX, OP_CLZ,
    OP_CMN_IMM, OP_CMN_REG, OP_CMP_IMM, OP_CMP_REG, OP_CPS, OP_DMB, OP_DSB, OP_EOR_IMM, OP_EOR_REG, OP_ISB,
    OP_IT, OP_LDMDB, OP_LDMIA, OP_LDRB_IMM, OP_LDRB_REG, OP_LDRD, OP_LDREX, OP_LDREXB, OP_LDREXH, OP_LDRH_IMM,
    OP_LDRH_REG, OP_LDRSB_IMM, OP_LDRSB_REG, OP_LDRSH_IMM, OP_LDRSH_REG, OP_LDR_IMM, OP_LDR_REG, OP_LSL_REGS,
    OP_LSR_REGS, OP_MLA, OP_MLS, OP_MOVT, OP_MOV_IMM, OP_MOV_REG, OP_MRS, OP_MSR, OP_MUL, OP_MVN_IMM,
    OP_MVN_REG, OP_NOP, OP_ORN_IMM, OP_ORN_REG, OP_ORR_IMM, OP_ORR_REG, OP_RBIT, OP_REV, OP_REV16, OP_REVSH,
    OP_ROR_REGS, OP_RSB_IMM, OP_RSB_REG, OP_SBC_IMM, OP_SBC_REG, OP_SBFX, OP_SDIV, OP_SMLAL, OP_SMULL, OP_SSAT,
    OP_STMDB, OP_STMIA, OP_STRB_IMM, OP_STRB_REG, OP_STRD, OP_STREX, OP_STREXB, OP_STREXH, OP_STRH_IMM,
    OP_STRH_REG, OP_STR_IMM, OP_STR_REG, OP_SUB_IMM, OP_SUB_REG, OP_SVC, OP_SXTB, OP_SXTH, OP_TBB, OP_TBH,
    OP_TEQ_IMM, OP_TEQ_REG, OP_TST_IMM, OP_TST_REG, OP_UBFX, OP_UDF, OP_UDIV, OP_UMLAL, OP_UMULL, OP_USAT,
    OP_UXTB, OP_UXTH,
    OP_COUNT

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
