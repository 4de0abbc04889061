# The ARM ARM's pseudocode helpers (DDI 0403E: A2.2.1 integer arithmetic, A2.3.1 PC writes, A7.3 conditional
# execution, A7.4.2 shifts), by their manual names, for the instruction pages in insns.pxi.  A tuple result
# (result, carry_out) is the return value plus an out-parameter.

cdef extern from *:
    # The pages and the dispatch are one switch in Core.run, as a hand-written chain would be: gcc must not
    # outline them (a call per instruction) for growing the already large run().
    """
    #if defined(__GNUC__)
    #undef CYTHON_INLINE
    #define CYTHON_INLINE inline __attribute__((always_inline))
    #endif
    """
    int __builtin_clz(unsigned int x) nogil
    int __builtin_popcount(unsigned int x) nogil
    uint32_t __builtin_bswap32(uint32_t x) nogil


cdef inline uint32_t AddWithCarry(uint32_t x, uint32_t y, uint32_t carry_in, uint32_t* carry_out,
                                  uint32_t* overflow) noexcept:
    cdef uint64_t unsigned_sum = <uint64_t>x + y + carry_in
    cdef uint32_t result = <uint32_t>unsigned_sum
    carry_out[0] = <uint32_t>(unsigned_sum >> 32)
    overflow[0] = ((x ^ result) & (y ^ result)) >> 31
    return result


cdef inline uint32_t Shift_C(uint32_t value, int type, uint32_t amount, uint32_t carry_in,
                             uint32_t* carry_out) noexcept:
    cdef uint32_t m
    if type == SH_RRX:
        carry_out[0] = value & 1
        return (carry_in << 31) | (value >> 1)
    if amount == 0:
        carry_out[0] = carry_in
        return value
    if type == SH_LSL:
        if amount < 32:
            carry_out[0] = (value >> (32 - amount)) & 1
            return value << amount
        carry_out[0] = (value & 1) if amount == 32 else 0
        return 0
    if type == SH_LSR:
        if amount < 32:
            carry_out[0] = (value >> (amount - 1)) & 1
            return value >> amount
        carry_out[0] = (value >> 31) if amount == 32 else 0
        return 0
    if type == SH_ASR:
        if amount < 32:
            carry_out[0] = (value >> (amount - 1)) & 1
            return <uint32_t>(<int32_t>value >> amount)
        carry_out[0] = value >> 31
        return 0xffffffffu if (value >> 31) else 0
    m = amount & 31
    if m:
        value = (value >> m) | (value << (32 - m))
    carry_out[0] = value >> 31
    return value


cdef inline uint32_t Shift(uint32_t value, int type, uint32_t amount, uint32_t carry_in) noexcept:
    cdef uint32_t carry_out
    return Shift_C(value, type, amount, carry_in, &carry_out)


cdef inline uint32_t ROR(uint32_t x, uint32_t shift) noexcept:
    return x if shift == 0 else (x >> shift) | (x << (32 - shift))


cdef inline uint32_t ThumbExpandImm_C(insn_t* d, uint32_t carry_in, uint32_t* carry_out) noexcept:
    """The decoder expanded the constant (decode.pyx); the carry out is 2 where it is carry_in."""
    carry_out[0] = carry_in if d.cimm == 2 else d.cimm
    return d.imm


cdef inline int64_t SignedSatQ(int64_t i, uint32_t N, bint* saturated) noexcept:
    cdef int64_t hi = (<int64_t>1 << (N - 1)) - 1, lo = -(<int64_t>1 << (N - 1))
    saturated[0] = i > hi or i < lo
    return hi if i > hi else (lo if i < lo else i)


cdef inline int64_t UnsignedSatQ(int64_t i, uint32_t N, bint* saturated) noexcept:
    cdef int64_t hi = (<int64_t>1 << N) - 1
    saturated[0] = i > hi or i < 0
    return hi if i > hi else (0 if i < 0 else i)


cdef inline uint32_t CountLeadingZeroBits(uint32_t x) noexcept:
    return 32 if x == 0 else __builtin_clz(x)


cdef inline uint32_t BitCount(uint32_t x) noexcept:
    return __builtin_popcount(x)


cdef inline uint32_t Align(uint32_t x, uint32_t y) noexcept:
    return x & ~(y - 1)


cdef inline bint ConditionPassed(Core c, uint32_t cond) noexcept:
    """cond is CurrentCond(): the IT block's condition, or a B encoding's own."""
    cdef bint result
    cdef uint32_t cb = cond >> 1
    if cb == 0:
        result = c.z
    elif cb == 1:
        result = c.c
    elif cb == 2:
        result = c.n
    elif cb == 3:
        result = c.v
    elif cb == 4:
        result = c.c and not c.z
    elif cb == 5:
        result = c.n == c.v
    elif cb == 6:
        result = (c.n == c.v) and not c.z
    else:
        return 1
    return (not result) if (cond & 1) else result


cdef inline bint setflags(insn_t* d, bint InITBlock) noexcept:
    """The encodings' setflags: S, or for most 16-bit data processing !InITBlock(), known only at execution."""
    return (d.flags & F_S) or ((d.flags & F_S_OUT_IT) and not InITBlock)


cdef inline void APSR_NZC(Core c, uint32_t result, uint32_t carry) noexcept:
    """APSR.N = result<31>; APSR.Z = IsZeroBit(result); APSR.C = carry."""
    c.n = result >> 31
    c.z = result == 0
    c.c = carry


cdef inline void APSR_NZCV(Core c, uint32_t result, uint32_t carry, uint32_t overflow) noexcept:
    """APSR_NZC, and APSR.V = overflow."""
    APSR_NZC(c, result, carry)
    c.v = overflow


cdef inline void BranchWritePC(Core c, uint32_t address) noexcept:
    c.pc = address & 0xfffffffeu


cdef inline void ALUWritePC(Core c, uint32_t address) noexcept:
    BranchWritePC(c, address)


cdef inline int BXWritePC(Core c, uint32_t address) except -1:
    if not (address & 1):
        c.fault(InvalidStateFault, "BX/BLX to an even address (no ARM state on v7-M)", address)
    c.pc = address & 0xfffffffeu
    return 0


cdef inline int LoadWritePC(Core c, uint32_t address) except -1:
    return c.load_write_pc(address)


cdef inline uint32_t address(Core c, insn_t* d, uint32_t* offset_addr) noexcept:
    """The immediate-offset loads' and stores' address: offset_addr = R[n] +/- imm32 (Align(PC,4) for the
    literal forms), address = index ? offset_addr : R[n]."""
    cdef uint32_t base = c.r[d.rn]
    if d.rn == 15:
        base = Align(base, 4)
    offset_addr[0] = (base + d.imm) if (d.flags & F_U) else (base - d.imm)
    return offset_addr[0] if (d.flags & F_P) else base
