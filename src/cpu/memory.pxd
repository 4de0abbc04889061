# Guest data accesses: the flat little-endian RAM fast path, everything else (MMIO, watched code, exclusive
# monitors, faults) through Core's slow paths.  Unaligned word/halfword accesses are allowed, as on v7-M.
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t
from libc.string cimport memcpy
from cpu.core cimport Core, MachineCore


cdef inline uint32_t ld32(Core c, uint32_t a) except? 0xA5A5A5A5:
    cdef uint32_t v
    if a <= c.m.mem_size - 4:
        memcpy(&v, c.m.mem + a, 4)
        return v
    return c.mmio_read(a, 4)


cdef inline uint32_t ld16(Core c, uint32_t a) except? 0xA5A5A5A5:
    cdef uint16_t v
    if a <= c.m.mem_size - 2:
        memcpy(&v, c.m.mem + a, 2)
        return v
    return c.mmio_read(a, 2)


cdef inline uint32_t ld8(Core c, uint32_t a) except? 0xA5A5A5A5:
    if a < c.m.mem_size:
        return c.m.mem[a]
    return c.mmio_read(a, 1)


cdef inline bint plain_store(MachineCore m, uint32_t a, uint32_t size) noexcept:
    """True when a store needs none of the slow path: inside RAM, outside watched code, no exclusive monitors."""
    return a <= m.mem_size - size and (a - m.log.fast_lo) >= m.log.fast_len and m.n_excl == 0


cdef inline int st32(Core c, uint32_t a, uint32_t v) except -1:
    if plain_store(c.m, a, 4):
        memcpy(c.m.mem + a, &v, 4)
        return 0
    return c.store_slow(a, v, 4)


cdef inline int st16(Core c, uint32_t a, uint32_t v) except -1:
    cdef uint16_t h = <uint16_t>v
    if plain_store(c.m, a, 2):
        memcpy(c.m.mem + a, &h, 2)
        return 0
    return c.store_slow(a, v & 0xffff, 2)


cdef inline int st8(Core c, uint32_t a, uint32_t v) except -1:
    if plain_store(c.m, a, 1):
        c.m.mem[a] = <uint8_t>v
        return 0
    return c.store_slow(a, v & 0xff, 1)
