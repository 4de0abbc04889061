# cython: language_level=3
"""The code-write log (see codelog.pxd) and the torn / late-stale judgements made from it."""
from libc.stdint cimport uint8_t, int16_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memcpy


cdef int codelog_init(codelog_t* log, uint32_t cap) except -1:
    log.cap = cap
    log.addr = <uint32_t*>calloc(cap, sizeof(uint32_t))
    log.old = <uint16_t*>calloc(cap, sizeof(uint16_t))
    log.new = <uint16_t*>calloc(cap, sizeof(uint16_t))
    log.who = <int16_t*>calloc(cap, sizeof(int16_t))
    log.more = <uint8_t*>calloc(cap, sizeof(uint8_t))
    log.prev = <uint64_t*>calloc(cap, sizeof(uint64_t))
    if not log.addr or not log.old or not log.new or not log.who or not log.more or not log.prev:
        raise MemoryError("code-write log allocation failed")
    return 0


cdef void codelog_free(codelog_t* log) noexcept:
    free(log.addr)
    free(log.old)
    free(log.new)
    free(log.who)
    free(log.more)
    free(log.prev)
    free(log.line_written)
    free(log.line_cleaned)
    free(log.fetch_watch)


cdef int codelog_watch(codelog_t* log, uint32_t lo, uint32_t hi, uint32_t line_shift) except -1:
    if hi <= lo:
        raise ValueError("empty watch range")
    log.watch_lo = lo & ~1u
    log.watch_len = hi - log.watch_lo
    log.fast_lo = log.watch_lo - 3
    log.fast_len = log.watch_len + 3
    free(log.line_written)
    free(log.line_cleaned)
    log.line_shift = line_shift
    log.line0 = log.watch_lo >> line_shift
    log.nlines = ((hi - 1) >> line_shift) - log.line0 + 1
    log.line_written = <uint64_t*>calloc(log.nlines, sizeof(uint64_t))
    log.line_cleaned = <uint64_t*>calloc(log.nlines, sizeof(uint64_t))
    if not log.line_written or not log.line_cleaned:
        log.nlines = 0
        raise MemoryError("code-write log allocation failed")
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


cdef uint32_t logged_store(codelog_t* log, uint8_t* mem, uint32_t a, uint32_t v, int size, int writer) noexcept:
    """Store size bytes of v at a (in RAM), logging each watched halfword it changes (writer: the core, -1 for
    the host); returns how many."""
    cdef uint32_t h = a & ~1u, end = a + size, k, n = 0
    cdef int64_t li
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
            log.who[k] = writer
            log.more[k] = 0
            if n:
                log.more[(log.wseq - 1) % log.cap] = 1
            li = codelog_line(log, h >> log.line_shift)
            log.prev[k] = log.line_written[li]
            log.line_written[li] = log.wseq
            n += 1
        h += 2
    return n


cdef int clean_request(codelog_t* log, cleans_t* p, uint32_t addr) except -1:
    """DCCMVAU addr: the line's writes so far reach the PoU once a later DSB of the same requester completes
    (E2.5.3.2: the clean must be complete before the invalidate; ESOP §2: the DSB is what waits for it)."""
    cdef int64_t li = codelog_line(log, addr >> log.line_shift)
    if li < 0:
        return 0
    if p.n and p.line[p.n - 1] == li:
        p.seq[p.n - 1] = log.wseq        # a loop cleaning one line twice: one request
        return 0
    if p.n == p.cap:
        p.cap = 2 * p.cap + 8
        p.line = <uint32_t*>realloc(p.line, p.cap * sizeof(uint32_t))
        p.seq = <uint64_t*>realloc(p.seq, p.cap * sizeof(uint64_t))
        if not p.line or not p.seq:
            raise MemoryError()
    p.line[p.n] = li
    p.seq[p.n] = log.wseq
    p.n += 1
    return 0


cdef void clean_complete(codelog_t* log, cleans_t* p) noexcept:
    """A DSB completed: the requester's pending cleans are done."""
    cdef uint32_t i
    for i in range(p.n):
        if p.line[i] < log.nlines and log.line_cleaned[p.line[i]] < p.seq[i]:
            log.line_cleaned[p.line[i]] = p.seq[i]
    p.n = 0


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
