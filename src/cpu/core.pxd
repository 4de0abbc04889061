# One Thumb-2 core (registers, executor) and the machine state the cores share (memory, handler chains, hooks).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int32_t, uint64_t, int64_t
from cpu.decode cimport insn_t
from cpu.icache cimport line_t, icache_t, INVALID_TAG
from cpu.codelog cimport codelog_t, cleans_t

cpdef enum MemoryMap:
    # The guest-visible memory map, for C and Python (cpu/memmap.py documents it and derives its names).
    SMP_BASE = 0x40000000         # the SMP block (this machine's own registers, offsets SmpReg)
    SMP_SIZE = 0x1000
    SCS_BASE = 0xE000E000         # System Control Space
    SCS_END = 0xE000F000
    SCS_CPUID = 0xE000ED00
    SCS_ICIALLU = 0xE000EF50
    SCS_ICIMVAU = 0xE000EF58
    SCS_DCCMVAU = 0xE000EF64
    HOSTCALL_BASE = 0xF0000000    # a branch to slot k (HOSTCALL_BASE + 4k) runs host function k
    HOSTCALL_SLOTS = 4096

cpdef enum SmpReg:
    # Offsets of the SMP block's registers (see cpu/memmap.py).
    SMP_CPU_ID = 0x00
    SMP_NUM_CPUS = 0x04
    SMP_CYCLES = 0x08
    SMP_BOOT_PC = 0x10
    SMP_BOOT_SP = 0x14
    SMP_BOOT_ARG = 0x18
    SMP_START = 0x1C
    SMP_STATE = 0x100

cpdef enum CoreState:
    # Core power states (the guest reads them in the SMP block's STATE registers).
    CORE_OFF = 0
    CORE_RUNNING = 1
    CORE_STOPPED = 2   # returned from its start function, or the machine halted
    CORE_PARKED = 3    # held by the host (stop_machine): neither runs nor counts as running

cdef enum:
    # Bits of Core.attention: reasons to leave the fast path at the next instruction boundary.
    ATTN_IPI = 1
    ATTN_STOP = 2
    ATTN_HANDLER = 4    # inside a host handler that takes time (handler_cycles > 0)

cdef enum:
    # Bits of MachineCore.hook_mask: which observer hooks are installed (each tested before any work).
    HOOK_FETCH = 1
    HOOK_IPI = 2
    HOOK_CODE_WRITE = 4
    HOOK_FAULT = 8


cdef class MachineCore
cdef class Core

ctypedef struct prefetch_t:
    # An instruction a core fetched and decoded before an icache invalidate, kept until its next context
    # synchronization event (model_prefetch)
    uint32_t pc
    uint64_t filled       # its line's `filled`, for the stale verdict
    insn_t insn


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
    cdef icache_t ic
    cdef line_t* cur_line         # the line the core fetches from, valid while cur_tag is its tag
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
    # relaxed fetch (cpu.model): when this core last lost its copy of each watched line, and of all of them
    cdef uint64_t* gone
    cdef uint64_t gone_all
    cdef prefetch_t* pref         # up to model_prefetch instructions that survived an invalidate
    cdef int npref
    cdef dict cff_cands           # tag -> {first halfword of a granule: its candidate versions} (fetch hooks only)
    cdef public object ipi_queue
    cdef readonly uint64_t ipi_due   # the pending IPI may be taken once instructions reaches this (ipi_latency)
    # A host handler that takes time (handler_cycles > 0): cycles left, and the body run at its end, either an
    # exception chain (handler_exc, imm, pc) or the IPI functions taken (handler_ipis)
    cdef readonly bint in_handler
    cdef readonly uint64_t handler_time     # cycles spent inside host handlers
    cdef readonly uint64_t handler_left
    cdef str handler_exc
    cdef uint32_t handler_imm, handler_pc
    cdef list handler_ipis

    cdef long run(self, long budget) except -1
    cdef line_t* icache_line(self, uint32_t addr) except NULL
    cdef insn_t* decode_at(self, uint32_t pc) except NULL
    cdef int check_fetch(self, uint32_t pc, insn_t* d) except -1
    cdef int relaxed_fill(self, line_t* line, uint32_t tag) except -1
    cdef int cff_event(self, uint32_t pc, uint32_t hw1, int64_t hw2, line_t* line, line_t* line2) except -1
    cdef object granule_versions(self, line_t* line, uint32_t idx)
    cdef void lose(self, uint32_t tag) noexcept
    cdef int icache_invalidate_all(self, bint host=*) except -1
    cdef int icache_invalidate_mva(self, uint32_t addr, bint host=*) except -1
    cdef int prefetch_on_invalidate(self, line_t* line, bint host) except -1
    cdef bint prefetch_hit(self, uint32_t pc) except -1
    cdef int context_sync(self) except -1
    cdef int dsb(self) except -1
    cdef void evict_line(self) noexcept
    cdef int take_attention(self) except -1
    cdef int run_ipis(self, list queue) except -1
    cdef void enter_handler(self, str exc, uint32_t imm, uint32_t pc, list ipis) noexcept
    cdef int64_t handler_tick(self, int64_t room) except -1
    cdef int exception(self, str kind, uint32_t imm, uint32_t pc) except -1
    cdef int exception_body(self, str kind, uint32_t imm, uint32_t pc) except -1
    cdef int fetch_event(self, str kind, uint32_t pc, uint32_t hw1, int64_t hw2, bint violation,
                         object candidates=*) except -1
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
    cdef codelog_t log         # writes to watched code, for the torn / stale / late-stale fetch checks
    cdef int n_excl
    cdef dict hook_lists          # kind -> its hooks in calling order (the exception chains among them)
    cdef readonly int hook_mask   # HOOK_* bits: the C paths test this before building anything for a hook
    cdef dict hooks               # handle -> (kind, callback)
    cdef Py_ssize_t next_hook
    cdef public list hostcalls
    cdef public object semihost
    cdef public object exit_code
    cdef public uint32_t hostcall_cost, ipi_cost
    # The machine model's knobs (cpu.model.Model, set by Machine.__init__); all 0 is the ideal machine
    cdef readonly int model_ipi_latency       # a target takes an IPI after 0..N of its own instructions
    cdef readonly int model_granule           # fill granule: 0 line, 1 word, 2 halfword
    cdef readonly int model_pou               # fills see code stores only once cleaned to the PoU
    cdef readonly int model_store_order       # code stores may reach the PoU out of order until a DSB
    cdef readonly int model_prefetch          # prefetched instructions that survive an IC until a CSE
    cdef readonly int model_ic_clears_prefetch
    cdef readonly int model_handler_cycles    # host handlers take this many cycles, IPIs masked
    cdef readonly object model              # the cpu.model.Model
    cdef readonly int handlers_active       # cores inside a host handler now
    cdef public object chooser              # None, or fn(kind, n) -> [0, n) for the relaxed choices (set_chooser)
    cdef cleans_t* cleans         # per core, then the host's: DCCMVAU requests waiting for a DSB
    cdef uint64_t* dsb_seq        # per core: wseq at its last DSB (its code stores up to there reach fills)
    cdef uint64_t* first_undsb    # per core: its first logged write since that DSB (0: none)

    cdef uint64_t random(self) noexcept
    cdef uint64_t ipi_delay(self) except? 0xFFFFFFFFFFFFFFFF
    cdef uint32_t choose(self, uint32_t n, str kind=*) except? 0xFFFFFFFF
    cdef uint32_t ask(self, str kind, uint32_t n) except? 0xFFFFFFFF
    cdef int clear_prefetch(self, Core keep) except -1
    cdef void update_hook_mask(self) noexcept
    cdef int logged_store(self, Core writer, uint32_t a, uint32_t v, int size) except -1
    cdef int clear_monitors(self, Core writer, uint32_t a) except -1
    cdef int check_range(self, uint64_t addr, uint64_t n) except -1
