# One Thumb-2 core (registers, icache, executor) and the machine state the cores share (memory, write log).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, uint64_t, int64_t
from cpu.decode cimport insn_t

cdef enum:
    # Guest-visible memory map (documented in cpu/memmap.py).
    SCS_ICIALLU = 0xE000EF50
    SCS_ICIMVAU = 0xE000EF58
    SMP_BASE = 0x40000000
    SMP_SIZE = 0x1000
    HOSTCALL_BASE = 0xF0000000
    HOSTCALL_SLOTS = 4096

cdef enum:
    # Core power states.
    CORE_OFF = 0
    CORE_RUNNING = 1
    CORE_STOPPED = 2   # returned from its start function, or the machine halted

cdef enum:
    # Bits of Core.attention: reasons to leave the fast path at the next instruction boundary.
    ATTN_IPI = 1
    ATTN_STOP = 2

ctypedef struct line_t:
    uint32_t tag          # line address >> line_shift; 0xffffffff when invalid
    uint32_t pad
    uint64_t filled       # Machine.wseq when the line was filled (torn-fetch detection)
    uint16_t* hw          # the halfwords copied from memory at fill time
    insn_t* insn          # decoded lazily, one slot per halfword


cdef class MachineCore
cdef class Core


cdef class ExceptionHandler:
    """A handler on a BKPT/SVC/UDF chain implemented in C: return the resume pc, or -1 to pass it on."""
    cdef int64_t handle(self, Core core, uint32_t imm, uint32_t pc) except -2


cdef class HostCall:
    """Host code reached by a guest branch into the host-call range (returns to lr unless it sets pc)."""
    cdef int call(self, Core core) except -1


cdef class Core:
    cdef readonly int id
    cdef MachineCore m
    cdef uint32_t r[16]
    cdef uint32_t scratch_regs[16]
    cdef uint32_t pc
    cdef uint8_t n, z, c, v, q
    cdef public uint8_t itstate
    cdef uint32_t primask, control
    cdef public int state
    cdef int attention
    # icache
    cdef line_t* lines
    cdef uint16_t* line_hw
    cdef insn_t* line_insn
    cdef uint32_t* victim
    cdef uint32_t nsets, ways, line_shift, line_mask
    cdef line_t* cur_line
    cdef uint32_t cur_tag
    cdef insn_t scratch
    # exclusive monitor
    cdef bint excl_valid
    cdef uint32_t excl_addr
    # context for fault messages
    cdef uint32_t cur_pc, cur_raw
    # statistics
    cdef readonly uint64_t instructions, stall_cycles, icache_misses, ipis_taken
    cdef readonly uint64_t bkpt_hits, stale_fetches, torn_fetches, late_stale_fetches
    cdef public uint64_t watched_fetches    # fetches of addresses in the machine's fetch watch (CMODX audit)
    cdef uint64_t scratch_filled   # the older fill of the two lines a straddling instruction came from
    cdef public object ipi_queue

    cdef long run(self, long budget) except -1
    cdef line_t* icache_line(self, uint32_t addr) except NULL
    cdef insn_t* decode_at(self, uint32_t pc) except NULL
    cdef int check_fetch(self, uint32_t pc, insn_t* d) except -1
    cdef void icache_invalidate_all(self) noexcept
    cdef void icache_invalidate_mva(self, uint32_t addr) noexcept
    cdef void evict_line(self) noexcept
    cdef int take_attention(self) except -1
    cdef int exception(self, list chain, uint32_t imm, uint32_t pc, str what) except -1
    cdef fetch_event(self, str kind, uint32_t pc, uint32_t hw1, int64_t hw2, bint violation)
    cdef int load_write_pc(self, uint32_t v) except -1
    cdef uint32_t read_special(self, uint32_t sysm) noexcept
    cdef void write_special(self, uint32_t sysm, uint32_t mask, uint32_t v) noexcept
    cdef uint32_t apsr_value(self) noexcept
    cdef int host_call(self, uint32_t pc) except -1
    cdef int fault(self, type cls, str msg, object addr=*) except -1
    cdef uint32_t mmio_read(self, uint32_t a, int size) except? 0xA5A5A5A5
    cdef int mmio_write(self, uint32_t a, uint32_t v, int size) except -1
    cdef int store_slow(self, uint32_t a, uint32_t v, int size) except -1


cdef class MachineCore:
    cdef uint8_t* mem
    cdef readonly uint32_t mem_size
    cdef public list cores
    cdef readonly int ncores
    cdef readonly bint icache
    cdef public bint detect
    cdef public bint stop_on_violation
    cdef readonly uint32_t line_size, icache_sets, icache_ways
    cdef int replacement       # 0 round-robin, 1 random
    cdef public uint32_t miss_cost
    cdef uint64_t rng
    cdef uint64_t sched_rng       # the scheduler's own stream: replaying a record leaves `rng` in step
    cdef public uint64_t rr_pos
    # code-write log for torn-fetch detection: writes to [watch_lo, watch_lo + watch_len)
    cdef uint32_t watch_lo, watch_len
    cdef uint32_t watch_fast_lo, watch_fast_len   # widened by 3 so the store fast path needs one compare
    cdef readonly uint64_t wseq
    cdef uint32_t* log_addr
    cdef uint16_t* log_old
    cdef uint16_t* log_new
    cdef uint64_t* log_seq
    cdef uint32_t log_cap
    cdef int n_excl
    cdef public list bkpt_handlers, svc_handlers, udf_handlers
    cdef public list hostcalls
    cdef public object semihost
    cdef public object exit_code
    cdef public list fetch_events
    cdef public uint32_t hostcall_cost, ipi_cost
    cdef public uint64_t completed_wseq   # writes up to here are claimed visible to every core (a sync returned)
    cdef uint32_t* fetch_watch            # sorted addresses whose fetches are counted (Core.watched_fetches)
    cdef Py_ssize_t n_fetch_watch

    cdef uint64_t random(self) noexcept
    cdef uint64_t sched_random(self) noexcept
    cdef int logged_store(self, uint32_t a, uint32_t v, int size) except -1
    cdef int clear_monitors(self, Core writer, uint32_t a) except -1
    cdef int check_range(self, uint64_t addr, uint64_t n) except -1
    cdef uint32_t value_at(self, uint32_t a, uint64_t t) noexcept
    cdef bint fetch_watched(self, uint32_t pc) noexcept
    cdef bint written_between(self, uint32_t lo, uint32_t hi, uint64_t after, uint64_t upto) noexcept
    cdef bint coexisted(self, uint32_t pc, uint32_t hw1, uint32_t hw2, uint64_t t1, uint64_t t2) noexcept
