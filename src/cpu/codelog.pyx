# cython: language_level=3
"""The code-write log (see codelog.pxd) and the torn / late-stale judgements made from it."""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy


cdef int codelog_init(codelog_t* log, uint32_t cap) except -1:
    log.cap = cap
    log.addr = <uint32_t*>calloc(cap, sizeof(uint32_t))
    log.old = <uint16_t*>calloc(cap, sizeof(uint16_t))
    log.new = <uint16_t*>calloc(cap, sizeof(uint16_t))
    if not log.addr or not log.old or not log.new:
        raise MemoryError("code-write log allocation failed")
    return 0


cdef void codelog_free(codelog_t* log) noexcept:
    free(log.addr)
    free(log.old)
    free(log.new)
    free(log.fetch_watch)


cdef int codelog_watch(codelog_t* log, uint32_t lo, uint32_t hi) except -1:
    if hi <= lo:
        raise ValueError("empty watch range")
    log.watch_lo = lo & ~1u
    log.watch_len = hi - log.watch_lo
    log.fast_lo = log.watch_lo - 3
    log.fast_len = log.watch_len + 3
    return 0


cdef int codelog_set_fetch_watch(codelog_t* log, addrs) except -1:
    cdef Py_ssize_t i
    addrs = sorted(set(addrs))
    free(log.fetch_watch)
    log.fetch_watch = NULL
    log.n_fetch_watch = 0
    if addrs:
        log.fetch_watch = <uint32_t*>calloc(len(addrs), sizeof(uint32_t))
        if not log.fetch_watch:
            raise MemoryError()
        for i in range(len(addrs)):
            log.fetch_watch[i] = addrs[i]
        log.n_fetch_watch = len(addrs)
    return 0


cdef uint32_t logged_store(codelog_t* log, uint8_t* mem, uint32_t a, uint32_t v, int size) noexcept:
    """Store size bytes of v at a (in RAM), logging each watched halfword it changes; returns how many."""
    cdef uint32_t h = a & ~1u, end = a + size, k, n = 0
    cdef uint16_t old
    cdef uint8_t bytes_[4]
    memcpy(bytes_, &v, 4)
    while h < end:
        memcpy(&old, mem + h, 2)
        for k in range(2):
            if a <= h + k < end:
                mem[h + k] = bytes_[h + k - a]
        if h - log.watch_lo < log.watch_len:
            log.wseq += 1
            k = log.wseq % log.cap
            log.addr[k] = h
            log.old[k] = old
            memcpy(&log.new[k], mem + h, 2)
            n += 1
        h += 2
    return n


cdef uint32_t value_at(codelog_t* log, const uint8_t* mem, uint32_t a, uint64_t t) noexcept:
    """The halfword at a as memory held it just after write number t (from the log and current memory)."""
    cdef uint64_t s
    cdef uint32_t k
    cdef uint16_t v
    for s in range(t + 1, log.wseq + 1):
        k = s % log.cap
        if log.addr[k] == a:
            return log.old[k]
    memcpy(&v, mem + a, 2)
    return v


cdef bint written_between(codelog_t* log, uint32_t lo, uint32_t hi, uint64_t after, uint64_t upto) noexcept:
    """Was any halfword in [lo, hi) written by a logged write numbered in (after, upto]?"""
    cdef uint64_t s, first = after + 1
    cdef uint32_t a
    if log.wseq >= log.cap and first <= log.wseq - log.cap:
        first = log.wseq - log.cap + 1
    for s in range(first, upto + 1):
        a = log.addr[s % log.cap]
        if lo <= a < hi:
            return 1
    return 0


cdef bint coexisted(codelog_t* log, const uint8_t* mem, uint32_t pc, uint32_t hw1, uint32_t hw2,
                    uint64_t t1, uint64_t t2) noexcept:
    """Did memory hold hw1 at pc and hw2 at pc+2 at some moment between writes t1 and t2?"""
    cdef uint64_t t
    if log.wseq >= log.cap and t1 <= log.wseq - log.cap:
        return 1   # history no longer logged: do not claim a tear we cannot prove
    for t in range(t1, t2 + 1):
        if t > t1 and log.addr[t % log.cap] != pc and log.addr[t % log.cap] != pc + 2:
            continue
        if value_at(log, mem, pc, t) == hw1 and value_at(log, mem, pc + 2, t) == hw2:
            return 1
    return 0


cdef bint torn(codelog_t* log, const uint8_t* mem, uint32_t pc, uint32_t hw1, uint32_t hw2,
               uint64_t f1, uint64_t f2) noexcept:
    """A straddling instruction's halves came from lines filled at f1 and f2: were they never together?"""
    if f1 == f2:
        return 0
    return not coexisted(log, mem, pc, hw1, hw2, f1 if f1 < f2 else f2, f2 if f1 < f2 else f1)


cdef FetchVerdict stale_verdict(codelog_t* log, uint32_t pc, uint32_t size, uint64_t filled) noexcept:
    """An instruction from a line filled at `filled` differs from memory: stale, or late-stale when a write a
    completed sync claimed visible everywhere (log.completed) overwrote its bytes after the fill."""
    if log.completed > filled and written_between(log, pc, pc + size, filled, log.completed):
        return FETCH_LATE_STALE
    return FETCH_STALE
