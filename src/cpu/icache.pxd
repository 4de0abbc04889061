# The per-core instruction cache: set-associative, filled from memory as it is at the miss, never snooping
# stores (non-coherent, as an ARMv7-M core's icache is to data writes).  Each halfword slot holds the raw
# halfword and its lazily decoded instruction.  The hit test is inline here: the executor runs it per fetch.
from libc.stdint cimport uint16_t, uint32_t, uint64_t, int64_t
from cpu.decode cimport insn_t

cdef enum:
    INVALID_TAG = 0xffffffff    # the tag of an empty line (no real line address >> line_shift reaches it)

ctypedef struct line_t:
    uint32_t tag          # line address >> line_shift; INVALID_TAG when invalid
    uint32_t pad
    uint64_t filled       # the code-write log's sequence number when the line was filled (torn-fetch detection);
                          # after a relaxed fill that chose older versions, the oldest version's (Core.relaxed_fill)
    uint64_t at           # the log's sequence number at the fill itself
    uint64_t cff          # halfwords (bit i: slot i, 63: every slot from 63 on) whose granule had 2+ candidates
    uint16_t* hw          # the halfwords copied from memory at fill time
    insn_t* insn          # decoded lazily, one slot per halfword

ctypedef struct icache_t:
    line_t* lines         # nsets * ways, set-major
    uint16_t* hw_store
    insn_t* insn_store
    uint32_t* victim      # per set: the next round-robin victim way
    uint32_t nsets, ways, line_shift, line_mask


cdef int icache_init(icache_t* ic, uint32_t sets, uint32_t ways, uint32_t line_size) except -1
cdef void icache_free(icache_t* ic) noexcept
cdef void icache_invalidate_all(icache_t* ic) noexcept
cdef void icache_invalidate_mva(icache_t* ic, uint32_t addr) noexcept
cdef uint32_t icache_evict(icache_t* ic, uint64_t r) noexcept
cdef uint32_t icache_rr_victim(icache_t* ic, uint32_t tag) noexcept
cdef line_t* icache_fill(icache_t* ic, uint32_t tag, uint32_t way, const void* src, uint64_t filled) noexcept
cdef int64_t icache_contents(icache_t* ic, uint32_t addr) noexcept


cdef inline line_t* icache_set(icache_t* ic, uint32_t tag) noexcept:
    return &ic.lines[(tag & (ic.nsets - 1)) * ic.ways]


cdef inline line_t* icache_lookup(icache_t* ic, uint32_t tag) noexcept:
    """The valid line with this tag, or NULL (a miss)."""
    cdef line_t* base = icache_set(ic, tag)
    cdef uint32_t w
    for w in range(ic.ways):
        if base[w].tag == tag:
            return &base[w]
    return NULL
