# cython: language_level=3
"""The per-core instruction cache's maintenance: allocation, fill, invalidation (ICIALLU, ICIMVAU), eviction."""
from libc.stdint cimport uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset
from cpu.decode cimport insn_t


cdef int icache_init(icache_t* ic, uint32_t sets, uint32_t ways, uint32_t line_size) except -1:
    cdef uint32_t i, nlines = sets * ways, slots = line_size // 2
    ic.nsets = sets
    ic.ways = ways
    ic.line_shift = 0
    while (1u << ic.line_shift) < line_size:
        ic.line_shift += 1
    ic.line_mask = line_size - 1
    ic.lines = <line_t*>calloc(nlines, sizeof(line_t))
    ic.hw_store = <uint16_t*>calloc(nlines * slots, sizeof(uint16_t))
    ic.insn_store = <insn_t*>calloc(nlines * slots, sizeof(insn_t))
    ic.victim = <uint32_t*>calloc(sets, sizeof(uint32_t))
    if not ic.lines or not ic.hw_store or not ic.insn_store or not ic.victim:
        raise MemoryError("icache allocation failed")
    for i in range(nlines):
        ic.lines[i].hw = ic.hw_store + i * slots
        ic.lines[i].insn = ic.insn_store + i * slots
    icache_invalidate_all(ic)
    return 0


cdef void icache_free(icache_t* ic) noexcept:
    free(ic.lines)
    free(ic.hw_store)
    free(ic.insn_store)
    free(ic.victim)


cdef void icache_invalidate_all(icache_t* ic) noexcept:
    cdef uint32_t i
    for i in range(ic.nsets * ic.ways):
        ic.lines[i].tag = INVALID_TAG


cdef void icache_invalidate_mva(icache_t* ic, uint32_t addr) noexcept:
    cdef line_t* line = icache_lookup(ic, addr >> ic.line_shift)
    if line != NULL:
        line.tag = INVALID_TAG


cdef uint32_t icache_evict(icache_t* ic, uint64_t r) noexcept:
    """Invalidate line r % lines (r from the machine's generator); returns the tag it held."""
    cdef line_t* line = &ic.lines[r % (ic.nsets * ic.ways)]
    cdef uint32_t tag = line.tag
    line.tag = INVALID_TAG
    return tag


cdef uint32_t icache_rr_victim(icache_t* ic, uint32_t tag) noexcept:
    cdef uint32_t s = tag & (ic.nsets - 1), w = ic.victim[s]
    ic.victim[s] = (w + 1) % ic.ways
    return w


cdef line_t* icache_fill(icache_t* ic, uint32_t tag, uint32_t way, const void* src, uint64_t filled) noexcept:
    """Refill way `way` of tag's set with the line at src (memory as it is now); its decodings are dropped."""
    cdef line_t* line = &icache_set(ic, tag)[way]
    cdef uint32_t size = ic.line_mask + 1
    line.tag = tag
    line.filled = filled
    line.at = filled
    line.cff = 0
    memcpy(line.hw, src, size)
    memset(line.insn, 0, (size // 2) * sizeof(insn_t))
    return line


cdef int64_t icache_contents(icache_t* ic, uint32_t addr) noexcept:
    """The halfword the cache holds for addr, or -1 on a miss (no fill)."""
    cdef line_t* line = icache_lookup(ic, addr >> ic.line_shift)
    return -1 if line == NULL else line.hw[(addr & ic.line_mask) >> 1]
