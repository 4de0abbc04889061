# One function per instruction page of the ARM ARM (DDI 0403E A7.7), written as its Operation pseudocode
# after the encoding-specific decoding, which decode.pyx has done into d (R[d] is c.r[d.rd], PC reads as
# c.r[15]).  Core.run calls them through the generated dispatch.pxi; a nonzero return ends the quantum.


cdef inline void SetExclusiveMonitors(Core c, uint32_t address) noexcept:
    if not c.excl_valid:
        c.excl_valid = 1
        c.m.n_excl += 1
    c.excl_addr = address


cdef inline void ClearExclusiveLocal(Core c) noexcept:
    if c.excl_valid:
        c.excl_valid = 0
        c.m.n_excl -= 1


cdef inline bint ExclusiveMonitorsPass(Core c, uint32_t address) noexcept:
    """Whether the store may go ahead; the local monitor is cleared either way."""
    cdef bint passed = c.excl_valid and c.excl_addr == address
    ClearExclusiveLocal(c)
    return passed


# ---- A7.7 data processing, register forms: shifted = Shift(R[m], shift_t, shift_n, APSR.C) ----


cdef inline int ADD_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, overflow, shifted = Shift(c.r[d.rm], d.shift_t, d.shift_n, c.c)
    cdef uint32_t result = AddWithCarry(c.r[d.rn], shifted, 0, &carry, &overflow)
    if setflags(d, in_it):
        APSR_NZCV(c, result, carry, overflow)
    if d.rd == 15:
        ALUWritePC(c, result)
    else:
        c.r[d.rd] = result
    return 0


cdef inline int ADC_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, overflow, shifted = Shift(c.r[d.rm], d.shift_t, d.shift_n, c.c)
    cdef uint32_t result = AddWithCarry(c.r[d.rn], shifted, c.c, &carry, &overflow)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZCV(c, result, carry, overflow)
    return 0


cdef inline int SUB_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, overflow, shifted = Shift(c.r[d.rm], d.shift_t, d.shift_n, c.c)
    cdef uint32_t result = AddWithCarry(c.r[d.rn], ~shifted, 1, &carry, &overflow)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZCV(c, result, carry, overflow)
    return 0


cdef inline int SBC_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, overflow, shifted = Shift(c.r[d.rm], d.shift_t, d.shift_n, c.c)
    cdef uint32_t result = AddWithCarry(c.r[d.rn], ~shifted, c.c, &carry, &overflow)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZCV(c, result, carry, overflow)
    return 0


cdef inline int RSB_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, overflow, shifted = Shift(c.r[d.rm], d.shift_t, d.shift_n, c.c)
    cdef uint32_t result = AddWithCarry(~c.r[d.rn], shifted, 1, &carry, &overflow)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZCV(c, result, carry, overflow)
    return 0


cdef inline int CMP_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, overflow, shifted = Shift(c.r[d.rm], d.shift_t, d.shift_n, c.c)
    cdef uint32_t result = AddWithCarry(c.r[d.rn], ~shifted, 1, &carry, &overflow)
    APSR_NZCV(c, result, carry, overflow)
    return 0


cdef inline int CMN_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, overflow, shifted = Shift(c.r[d.rm], d.shift_t, d.shift_n, c.c)
    cdef uint32_t result = AddWithCarry(c.r[d.rn], shifted, 0, &carry, &overflow)
    APSR_NZCV(c, result, carry, overflow)
    return 0


cdef inline int AND_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, shifted = Shift_C(c.r[d.rm], d.shift_t, d.shift_n, c.c, &carry)
    cdef uint32_t result = c.r[d.rn] & shifted
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int BIC_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, shifted = Shift_C(c.r[d.rm], d.shift_t, d.shift_n, c.c, &carry)
    cdef uint32_t result = c.r[d.rn] & ~shifted
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int ORR_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, shifted = Shift_C(c.r[d.rm], d.shift_t, d.shift_n, c.c, &carry)
    cdef uint32_t result = c.r[d.rn] | shifted
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int ORN_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, shifted = Shift_C(c.r[d.rm], d.shift_t, d.shift_n, c.c, &carry)
    cdef uint32_t result = c.r[d.rn] | ~shifted
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int EOR_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, shifted = Shift_C(c.r[d.rm], d.shift_t, d.shift_n, c.c, &carry)
    cdef uint32_t result = c.r[d.rn] ^ shifted
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int MVN_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, shifted = Shift_C(c.r[d.rm], d.shift_t, d.shift_n, c.c, &carry)
    cdef uint32_t result = ~shifted
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int TST_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, shifted = Shift_C(c.r[d.rm], d.shift_t, d.shift_n, c.c, &carry)
    APSR_NZC(c, c.r[d.rn] & shifted, carry)
    return 0


cdef inline int TEQ_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, shifted = Shift_C(c.r[d.rm], d.shift_t, d.shift_n, c.c, &carry)
    APSR_NZC(c, c.r[d.rn] ^ shifted, carry)
    return 0


cdef inline int MOV_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    # the 32-bit encoding carries the immediate shifts (LSL, LSR, ASR, ROR, RRX) of A5.3.11 too
    cdef uint32_t carry, result = Shift_C(c.r[d.rm], d.shift_t, d.shift_n, c.c, &carry)
    if d.rd == 15:
        ALUWritePC(c, result)
    else:
        c.r[d.rd] = result
        if setflags(d, in_it):
            APSR_NZC(c, result, carry)
    return 0


cdef inline int LSL_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, result = Shift_C(c.r[d.rm], SH_LSL, d.shift_n, c.c, &carry)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int LSR_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, result = Shift_C(c.r[d.rm], SH_LSR, d.shift_n, c.c, &carry)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int ASR_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, result = Shift_C(c.r[d.rm], SH_ASR, d.shift_n, c.c, &carry)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int LSL_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, result = Shift_C(c.r[d.rn], SH_LSL, c.r[d.rm] & 0xff, c.c, &carry)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int LSR_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, result = Shift_C(c.r[d.rn], SH_LSR, c.r[d.rm] & 0xff, c.c, &carry)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int ASR_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, result = Shift_C(c.r[d.rn], SH_ASR, c.r[d.rm] & 0xff, c.c, &carry)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int ROR_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, result = Shift_C(c.r[d.rn], SH_ROR, c.r[d.rm] & 0xff, c.c, &carry)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


# ---- data processing, immediate forms: (imm32, carry) = ThumbExpandImm_C(...) where the encoding has it ----


cdef inline int ADD_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, overflow, result = AddWithCarry(c.r[d.rn], d.imm, 0, &carry, &overflow)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZCV(c, result, carry, overflow)
    return 0


cdef inline int ADC_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, overflow, result = AddWithCarry(c.r[d.rn], d.imm, c.c, &carry, &overflow)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZCV(c, result, carry, overflow)
    return 0


cdef inline int SUB_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, overflow, result = AddWithCarry(c.r[d.rn], ~d.imm, 1, &carry, &overflow)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZCV(c, result, carry, overflow)
    return 0


cdef inline int SBC_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, overflow, result = AddWithCarry(c.r[d.rn], ~d.imm, c.c, &carry, &overflow)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZCV(c, result, carry, overflow)
    return 0


cdef inline int RSB_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, overflow, result = AddWithCarry(~c.r[d.rn], d.imm, 1, &carry, &overflow)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZCV(c, result, carry, overflow)
    return 0


cdef inline int CMP_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, overflow, result = AddWithCarry(c.r[d.rn], ~d.imm, 1, &carry, &overflow)
    APSR_NZCV(c, result, carry, overflow)
    return 0


cdef inline int CMN_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, overflow, result = AddWithCarry(c.r[d.rn], d.imm, 0, &carry, &overflow)
    APSR_NZCV(c, result, carry, overflow)
    return 0


cdef inline int AND_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, imm32 = ThumbExpandImm_C(d, c.c, &carry), result = c.r[d.rn] & imm32
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int BIC_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, imm32 = ThumbExpandImm_C(d, c.c, &carry), result = c.r[d.rn] & ~imm32
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int ORR_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, imm32 = ThumbExpandImm_C(d, c.c, &carry), result = c.r[d.rn] | imm32
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int ORN_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, imm32 = ThumbExpandImm_C(d, c.c, &carry), result = c.r[d.rn] | ~imm32
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int EOR_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, imm32 = ThumbExpandImm_C(d, c.c, &carry), result = c.r[d.rn] ^ imm32
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int MVN_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, result = ~ThumbExpandImm_C(d, c.c, &carry)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int MOV_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, result = ThumbExpandImm_C(d, c.c, &carry)
    c.r[d.rd] = result
    if setflags(d, in_it):
        APSR_NZC(c, result, carry)
    return 0


cdef inline int TST_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, imm32 = ThumbExpandImm_C(d, c.c, &carry)
    APSR_NZC(c, c.r[d.rn] & imm32, carry)
    return 0


cdef inline int TEQ_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry, imm32 = ThumbExpandImm_C(d, c.c, &carry)
    APSR_NZC(c, c.r[d.rn] ^ imm32, carry)
    return 0


cdef inline int ADR(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = Align(c.r[15], 4) + d.imm
    return 0


cdef inline int MOVT(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = (c.r[d.rd] & 0xffff) | (d.imm << 16)
    return 0


# ---- loads and stores (A7.7): address() is offset_addr/address of the immediate forms ----


cdef inline int LDR_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t offset_addr, data = ld32(c, address(c, d, &offset_addr))
    if d.flags & F_W:
        c.r[d.rn] = offset_addr
    if d.rd == 15:
        LoadWritePC(c, data)
    else:
        c.r[d.rd] = data
    return 0


cdef inline int LDR_literal(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t base = Align(c.r[15], 4)
    cdef uint32_t data = ld32(c, (base + d.imm) if (d.flags & F_U) else (base - d.imm))
    if d.rd == 15:
        LoadWritePC(c, data)
    else:
        c.r[d.rd] = data
    return 0


cdef inline int LDR_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t data = ld32(c, c.r[d.rn] + (c.r[d.rm] << d.shift_n))
    if d.rd == 15:
        LoadWritePC(c, data)
    else:
        c.r[d.rd] = data
    return 0


cdef inline int LDRB_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t offset_addr, data = ld8(c, address(c, d, &offset_addr))
    if d.flags & F_W:
        c.r[d.rn] = offset_addr
    c.r[d.rd] = data
    return 0


cdef inline int LDRB_literal(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t base = Align(c.r[15], 4)
    c.r[d.rd] = ld8(c, (base + d.imm) if (d.flags & F_U) else (base - d.imm))
    return 0


cdef inline int LDRB_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = ld8(c, c.r[d.rn] + (c.r[d.rm] << d.shift_n))
    return 0


cdef inline int LDRH_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t offset_addr, data = ld16(c, address(c, d, &offset_addr))
    if d.flags & F_W:
        c.r[d.rn] = offset_addr
    c.r[d.rd] = data
    return 0


cdef inline int LDRH_literal(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t base = Align(c.r[15], 4)
    c.r[d.rd] = ld16(c, (base + d.imm) if (d.flags & F_U) else (base - d.imm))
    return 0


cdef inline int LDRH_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = ld16(c, c.r[d.rn] + (c.r[d.rm] << d.shift_n))
    return 0


cdef inline int LDRSB_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t offset_addr, data = <uint32_t>(<int32_t>(<int8_t>ld8(c, address(c, d, &offset_addr))))
    if d.flags & F_W:
        c.r[d.rn] = offset_addr
    c.r[d.rd] = data
    return 0


cdef inline int LDRSB_literal(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t base = Align(c.r[15], 4)
    c.r[d.rd] = <uint32_t>(<int32_t>(<int8_t>ld8(c, (base + d.imm) if (d.flags & F_U) else (base - d.imm))))
    return 0


cdef inline int LDRSB_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = <uint32_t>(<int32_t>(<int8_t>ld8(c, c.r[d.rn] + (c.r[d.rm] << d.shift_n))))
    return 0


cdef inline int LDRSH_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t offset_addr, data = <uint32_t>(<int32_t>(<int16_t>ld16(c, address(c, d, &offset_addr))))
    if d.flags & F_W:
        c.r[d.rn] = offset_addr
    c.r[d.rd] = data
    return 0


cdef inline int LDRSH_literal(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t base = Align(c.r[15], 4)
    c.r[d.rd] = <uint32_t>(<int32_t>(<int16_t>ld16(c, (base + d.imm) if (d.flags & F_U) else (base - d.imm))))
    return 0


cdef inline int LDRSH_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = <uint32_t>(<int32_t>(<int16_t>ld16(c, c.r[d.rn] + (c.r[d.rm] << d.shift_n))))
    return 0


cdef inline int STR_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t offset_addr
    st32(c, address(c, d, &offset_addr), c.r[d.rd])
    if d.flags & F_W:
        c.r[d.rn] = offset_addr
    return 0


cdef inline int STR_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    st32(c, c.r[d.rn] + (c.r[d.rm] << d.shift_n), c.r[d.rd])
    return 0


cdef inline int STRB_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t offset_addr
    st8(c, address(c, d, &offset_addr), c.r[d.rd])
    if d.flags & F_W:
        c.r[d.rn] = offset_addr
    return 0


cdef inline int STRB_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    st8(c, c.r[d.rn] + (c.r[d.rm] << d.shift_n), c.r[d.rd])
    return 0


cdef inline int STRH_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t offset_addr
    st16(c, address(c, d, &offset_addr), c.r[d.rd])
    if d.flags & F_W:
        c.r[d.rn] = offset_addr
    return 0


cdef inline int STRH_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    st16(c, c.r[d.rn] + (c.r[d.rm] << d.shift_n), c.r[d.rd])
    return 0


cdef inline int LDRD_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t offset_addr, addr = address(c, d, &offset_addr), data, data2
    if addr & 3:
        c.fault(AlignmentFault, "unaligned LDRD/STRD", addr)
    data = ld32(c, addr)
    data2 = ld32(c, addr + 4)
    if d.flags & F_W:
        c.r[d.rn] = offset_addr
    c.r[d.rd] = data
    c.r[d.ra] = data2
    return 0


cdef inline int STRD_immediate(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t offset_addr, addr = address(c, d, &offset_addr)
    if addr & 3:
        c.fault(AlignmentFault, "unaligned LDRD/STRD", addr)
    st32(c, addr, c.r[d.rd])
    st32(c, addr + 4, c.r[d.ra])
    if d.flags & F_W:
        c.r[d.rn] = offset_addr
    return 0


cdef inline int LDM(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    # also POP; every load precedes every register write, so a faulting load leaves the registers as they were
    cdef uint32_t registers = d.imm, addr = c.r[d.rn], i, pc_data = 0
    if addr & 3:
        c.fault(AlignmentFault, "unaligned LDM", addr)
    for i in range(15):
        if registers & (1u << i):
            c.scratch_regs[i] = ld32(c, addr)
            addr += 4
    if registers & 0x8000:
        pc_data = ld32(c, addr)
        addr += 4
    if (d.flags & F_W) and not (registers & (1u << d.rn)):
        c.r[d.rn] = addr
    for i in range(15):
        if registers & (1u << i):
            c.r[i] = c.scratch_regs[i]
    if registers & 0x8000:
        LoadWritePC(c, pc_data)
    return 0


cdef inline int LDMDB(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t registers = d.imm, start = c.r[d.rn] - 4 * BitCount(registers), addr = start, i, pc_data = 0
    if addr & 3:
        c.fault(AlignmentFault, "unaligned LDM", addr)
    for i in range(15):
        if registers & (1u << i):
            c.scratch_regs[i] = ld32(c, addr)
            addr += 4
    if registers & 0x8000:
        pc_data = ld32(c, addr)
    if (d.flags & F_W) and not (registers & (1u << d.rn)):
        c.r[d.rn] = start
    for i in range(15):
        if registers & (1u << i):
            c.r[i] = c.scratch_regs[i]
    if registers & 0x8000:
        LoadWritePC(c, pc_data)
    return 0


cdef inline int STM(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t registers = d.imm, addr = c.r[d.rn], i
    if addr & 3:
        c.fault(AlignmentFault, "unaligned STM", addr)
    for i in range(15):
        if registers & (1u << i):
            st32(c, addr, c.r[i])
            addr += 4
    if d.flags & F_W:
        c.r[d.rn] = addr
    return 0


cdef inline int STMDB(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    # also PUSH
    cdef uint32_t registers = d.imm, start = c.r[d.rn] - 4 * BitCount(registers), addr = start, i
    if addr & 3:
        c.fault(AlignmentFault, "unaligned STM", addr)
    for i in range(15):
        if registers & (1u << i):
            st32(c, addr, c.r[i])
            addr += 4
    if d.flags & F_W:
        c.r[d.rn] = start
    return 0


# ---- exclusives (A3.4): one local monitor per core; the machine counts the open ones ----


cdef inline int LDREX(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t addr = c.r[d.rn] + d.imm
    if addr & 3:
        c.fault(AlignmentFault, "unaligned LDREX", addr)
    c.r[d.rd] = ld32(c, addr)
    SetExclusiveMonitors(c, addr)
    return 0


cdef inline int LDREXB(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t addr = c.r[d.rn] + d.imm
    c.r[d.rd] = ld8(c, addr)
    SetExclusiveMonitors(c, addr)
    return 0


cdef inline int LDREXH(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t addr = c.r[d.rn] + d.imm
    if addr & 1:
        c.fault(AlignmentFault, "unaligned LDREXH", addr)
    c.r[d.rd] = ld16(c, addr)
    SetExclusiveMonitors(c, addr)
    return 0


cdef inline int STREX(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t addr = c.r[d.rn] + d.imm
    if addr & 3:
        c.fault(AlignmentFault, "unaligned STREX", addr)
    if ExclusiveMonitorsPass(c, addr):
        st32(c, addr, c.r[d.rm])
        c.r[d.rd] = 0
    else:
        c.r[d.rd] = 1
    return 0


cdef inline int STREXB(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t addr = c.r[d.rn] + d.imm
    if ExclusiveMonitorsPass(c, addr):
        st8(c, addr, c.r[d.rm])
        c.r[d.rd] = 0
    else:
        c.r[d.rd] = 1
    return 0


cdef inline int STREXH(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t addr = c.r[d.rn] + d.imm
    if addr & 1:
        c.fault(AlignmentFault, "unaligned STREX", addr)
    if ExclusiveMonitorsPass(c, addr):
        st16(c, addr, c.r[d.rm])
        c.r[d.rd] = 0
    else:
        c.r[d.rd] = 1
    return 0


cdef inline int CLREX(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    ClearExclusiveLocal(c)
    return 0


# ---- branches ----


cdef inline int B(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    if d.cond == 14 or ConditionPassed(c, d.cond):
        BranchWritePC(c, c.r[15] + d.imm)
    return 0


cdef inline int BL(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[14] = c.r[15] | 1
    BranchWritePC(c, c.r[15] + d.imm)
    return 0


cdef inline int BX(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    BXWritePC(c, c.r[d.rm])
    return 0


cdef inline int BLX_register(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t target = c.r[d.rm]
    if not (target & 1):    # BLXWritePC's fault, taken before LR changes
        BXWritePC(c, target)
    c.r[14] = (c.r[15] - 2) | 1
    BXWritePC(c, target)
    return 0


cdef inline int CBZ(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    if c.r[d.rn] == 0:
        BranchWritePC(c, c.r[15] + d.imm)
    return 0


cdef inline int CBNZ(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    if c.r[d.rn] != 0:
        BranchWritePC(c, c.r[15] + d.imm)
    return 0


cdef inline int TBB(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    BranchWritePC(c, c.r[15] + 2 * ld8(c, c.r[d.rn] + c.r[d.rm]))
    return 0


cdef inline int TBH(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    BranchWritePC(c, c.r[15] + 2 * ld16(c, c.r[d.rn] + (c.r[d.rm] << 1)))
    return 0


cdef inline int IT(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.itstate = d.imm    # ITSTATE.IT<7:0> = firstcond:mask
    return 0


# ---- multiply and divide ----


cdef inline int MUL(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t result = c.r[d.rn] * c.r[d.rm]
    c.r[d.rd] = result
    if setflags(d, in_it):
        c.n = result >> 31
        c.z = result == 0
    return 0


cdef inline int MLA(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = c.r[d.rn] * c.r[d.rm] + c.r[d.ra]
    return 0


cdef inline int MLS(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = c.r[d.ra] - c.r[d.rn] * c.r[d.rm]
    return 0


cdef inline int UMULL(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    # rd is RdLo, ra RdHi
    cdef uint64_t result = <uint64_t>c.r[d.rn] * c.r[d.rm]
    c.r[d.rd] = <uint32_t>result
    c.r[d.ra] = <uint32_t>(result >> 32)
    return 0


cdef inline int UMLAL(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint64_t result = <uint64_t>c.r[d.rn] * c.r[d.rm] + ((<uint64_t>c.r[d.ra] << 32) | c.r[d.rd])
    c.r[d.rd] = <uint32_t>result
    c.r[d.ra] = <uint32_t>(result >> 32)
    return 0


cdef inline int SMULL(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef int64_t result = <int64_t>(<int32_t>c.r[d.rn]) * <int64_t>(<int32_t>c.r[d.rm])
    c.r[d.rd] = <uint32_t>result
    c.r[d.ra] = <uint32_t>(<uint64_t>result >> 32)
    return 0


cdef inline int SMLAL(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef int64_t result = <int64_t>(<int32_t>c.r[d.rn]) * <int64_t>(<int32_t>c.r[d.rm]) \
        + <int64_t>((<uint64_t>c.r[d.ra] << 32) | c.r[d.rd])
    c.r[d.rd] = <uint32_t>result
    c.r[d.ra] = <uint32_t>(<uint64_t>result >> 32)
    return 0


cdef inline int SDIV(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    # division by zero gives 0 (DIV_0_TRP clear); the one overflowing quotient wraps
    cdef uint32_t n = c.r[d.rn], m = c.r[d.rm]
    if m == 0:
        c.r[d.rd] = 0
    elif n == 0x80000000u and m == 0xffffffffu:
        c.r[d.rd] = n
    else:
        c.r[d.rd] = <uint32_t>(<int32_t>n / <int32_t>m)
    return 0


cdef inline int UDIV(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t m = c.r[d.rm]
    c.r[d.rd] = 0 if m == 0 else c.r[d.rn] / m
    return 0


# ---- bit fields (lsbit in shift_n; widthminus1 + 1, or msbit, in imm), extends, reversal, saturation ----


cdef inline int UBFX(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t result = c.r[d.rn] >> d.shift_n
    c.r[d.rd] = result if d.imm >= 32 else result & ((1u << d.imm) - 1)
    return 0


cdef inline int SBFX(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t result = c.r[d.rn] << (32 - d.shift_n - d.imm) if d.shift_n + d.imm < 32 else c.r[d.rn]
    c.r[d.rd] = <uint32_t>(<int32_t>result >> (32 - d.imm))
    return 0


cdef inline int BFI(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t mask
    if d.imm >= d.shift_n:
        mask = (0xffffffffu >> (31 - d.imm)) & (0xffffffffu << d.shift_n)
        c.r[d.rd] = (c.r[d.rd] & ~mask) | ((c.r[d.rn] << d.shift_n) & mask)
    return 0


cdef inline int BFC(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    if d.imm >= d.shift_n:
        c.r[d.rd] &= ~((0xffffffffu >> (31 - d.imm)) & (0xffffffffu << d.shift_n))
    return 0


cdef inline int UXTB(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = ROR(c.r[d.rm], d.shift_n) & 0xff
    return 0


cdef inline int UXTH(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = ROR(c.r[d.rm], d.shift_n) & 0xffff
    return 0


cdef inline int SXTB(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = <uint32_t>(<int32_t>(<int8_t>ROR(c.r[d.rm], d.shift_n)))
    return 0


cdef inline int SXTH(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = <uint32_t>(<int32_t>(<int16_t>ROR(c.r[d.rm], d.shift_n)))
    return 0


cdef inline int CLZ(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = CountLeadingZeroBits(c.r[d.rm])
    return 0


cdef inline int RBIT(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t value = c.r[d.rm], result = 0, i
    for i in range(32):
        result = (result << 1) | ((value >> i) & 1)
    c.r[d.rd] = result
    return 0


cdef inline int REV(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = __builtin_bswap32(c.r[d.rm])
    return 0


cdef inline int REV16(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t value = c.r[d.rm]
    c.r[d.rd] = ((value & 0x00ff00ffu) << 8) | ((value >> 8) & 0x00ff00ffu)
    return 0


cdef inline int REVSH(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t value = c.r[d.rm]
    c.r[d.rd] = <uint32_t>(<int32_t>(<int16_t>(((value & 0xff) << 8) | ((value >> 8) & 0xff))))
    return 0


cdef inline int SSAT(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry
    cdef bint sat
    cdef int64_t operand = <int32_t>Shift_C(c.r[d.rn], d.shift_t, d.shift_n, c.c, &carry)
    c.r[d.rd] = <uint32_t>SignedSatQ(operand, d.imm, &sat)
    if sat:
        c.q = 1
    return 0


cdef inline int USAT(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    cdef uint32_t carry
    cdef bint sat
    cdef int64_t operand = <int32_t>Shift_C(c.r[d.rn], d.shift_t, d.shift_n, c.c, &carry)
    c.r[d.rd] = <uint32_t>UnsignedSatQ(operand, d.imm, &sat)
    if sat:
        c.q = 1
    return 0


# ---- hints, barriers, system ----


cdef inline int NOP(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    # also YIELD, WFE, WFI, SEV: a single core model has nothing to wait for
    return 0


cdef inline int PLD(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    # also PLI
    return 0


cdef inline int DMB(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    return 0


cdef inline int DSB(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    # earlier cache maintenance completes and earlier stores are visible, to fills too (cpu.model)
    return c.dsb()


cdef inline int ISB(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    # refetch from the next instruction on (the icache may have been invalidated)
    return c.context_sync()


cdef inline int MRS(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.r[d.rd] = c.read_special(d.imm)
    return 0


cdef inline int MSR(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.write_special(d.imm, d.ra, c.r[d.rn])
    return 0


cdef inline int CPS(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    # imm is im:I:F; PRIMASK is the only mask modelled
    if d.imm & 2:
        c.primask = 1 if d.imm & 4 else 0
    return 0


cdef inline int BKPT(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    # BKPT 0xab is a semihosting call when the machine has a semihost (always atomic: it is the runtime, not a
    # handler a patcher races); returning 1 ends the quantum on exit
    c.bkpt_hits += 1
    if d.imm == SEMIHOSTING_BKPT and c.m.semihost is not None:
        c.pc = pc + 2
        res = c.m.semihost(c)
        if res is not None:
            c.m.halt(res)
            return 1
    else:
        c.pc = pc
        c.exception("bkpt", d.imm, pc)
    return 0


cdef inline int SVC(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.exception("svc", d.imm, pc)
    return 0


cdef inline int UDF(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.pc = pc
    c.exception("udf", d.imm, pc)
    return 0


cdef inline int UNDEFINED(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:
    c.pc = pc
    c.fault(UndefinedInstruction, "undefined or unsupported encoding")
    return 0
