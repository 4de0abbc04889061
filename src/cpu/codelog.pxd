# The code-write log and the fetch checks built on it.  Every write to watched code (the text segment) is
# logged per halfword with its old and new value and a sequence number (wseq); an icache line remembers the
# wseq it was filled at.  From that, a fetch can be judged: stale (the line is older than memory), late-stale
# (older than a write a completed sync claimed visible everywhere) or torn (a straddling instruction whose
# halves never stood together in memory).
#
# The log is also what relaxed fills choose from (Core.relaxed_fill): each write remembers its writer and the
# previous write to its line, each watched line its newest write and how far it is cleaned to the PoU, so a
# fill finds the writes it may still miss by walking one line's chain, and pays nothing when there are none.
from libc.stdint cimport uint8_t, int16_t, uint16_t, uint32_t, uint64_t, int64_t
from cpu.addrset cimport find_u32

cdef enum FetchVerdict:
    FETCH_OK = 0            # what the core fetched is what memory holds
    FETCH_STALE = 1         # older than memory, inside an update's window (no sync has claimed the write yet)
    FETCH_LATE_STALE = 2    # older than a write that a completed sync claimed visible everywhere

ctypedef struct cleans_t:
    # DCCMVAU cleans a core (or the host) requested and no DSB of its has completed yet: (line, wseq at the clean)
    uint32_t* line
    uint64_t* seq
    uint32_t n, cap

ctypedef struct codelog_t:
    uint32_t watch_lo, watch_len
    uint32_t fast_lo, fast_len     # the watch widened by 3 so a store's fast path needs one compare
    uint64_t wseq                  # number of logged halfword writes so far
    uint64_t completed             # writes up to here are claimed visible to every core (a sync returned)
    uint32_t* addr                 # ring of the last cap writes, indexed by wseq % cap
    uint16_t* old
    uint16_t* new
    int16_t* who                   # the writing core, -1 for the host
    uint8_t* more                  # the next write belongs to the same store (one store is one moment)
    uint64_t* prev                 # the previous write to the same line (0: none)
    uint32_t cap
    uint32_t line_shift, line0, nlines   # watched lines: (addr >> line_shift) - line0 in [0, nlines)
    uint64_t* line_written         # per watched line: its newest write (0: none)
    uint64_t* line_cleaned         # per watched line: writes up to here are cleaned to the PoU and a DSB completed
    uint32_t* fetch_watch          # sorted addresses whose fetches are counted (Core.watched_fetches)
    Py_ssize_t n_fetch_watch


cdef int codelog_init(codelog_t* log, uint32_t cap) except -1
cdef void codelog_free(codelog_t* log) noexcept
cdef int codelog_watch(codelog_t* log, uint32_t lo, uint32_t hi, uint32_t line_shift) except -1
cdef int codelog_set_fetch_watch(codelog_t* log, addrs) except -1
cdef uint32_t logged_store(codelog_t* log, uint8_t* mem, uint32_t a, uint32_t v, int size, int writer) noexcept
cdef int clean_request(codelog_t* log, cleans_t* p, uint32_t addr) except -1
cdef void clean_complete(codelog_t* log, cleans_t* p) noexcept
cdef uint32_t value_at(codelog_t* log, const uint8_t* mem, uint32_t a, uint64_t t) noexcept
cdef bint written_between(codelog_t* log, uint32_t lo, uint32_t hi, uint64_t after, uint64_t upto) noexcept
cdef bint coexisted(codelog_t* log, const uint8_t* mem, uint32_t pc, uint32_t hw1, uint32_t hw2,
                    uint64_t t1, uint64_t t2) noexcept
cdef bint torn(codelog_t* log, const uint8_t* mem, uint32_t pc, uint32_t hw1, uint32_t hw2,
               uint64_t f1, uint64_t f2) noexcept
cdef FetchVerdict stale_verdict(codelog_t* log, uint32_t pc, uint32_t size, uint64_t filled) noexcept


cdef inline bint fetch_watched(codelog_t* log, uint32_t pc) noexcept:
    return find_u32(log.fetch_watch, log.n_fetch_watch, pc) >= 0


cdef inline int64_t codelog_line(codelog_t* log, uint32_t tag) noexcept:
    """The watched-line index of the line with this tag (addr >> line_shift), or -1 when it is not watched."""
    cdef uint32_t i = tag - log.line0
    return i if i < log.nlines else -1
