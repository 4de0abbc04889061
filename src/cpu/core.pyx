# cython: language_level=3
"""The Thumb-2 core: fetch through a per-core non-coherent icache, decode lazily into the line, execute.

Execution follows the ARMv7-M ARM pseudocode: one function per instruction page (A7.7) in insns.pxi, with the
manual's helpers (AddWithCarry, Shift_C, ConditionPassed...) in pseudocode.pxi.  Nothing here allocates Python objects on the per-instruction path:
Python is only reached for faults, BKPT/SVC/UDF chains, semihosting, host calls, MMIO blocks and IPIs.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int8_t, int16_t, int32_t, uint64_t, int64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset

from cpu.decode cimport *
from cpu.memory cimport ld32, ld16, ld8, st32, st16, st8
from cpu.addrset cimport find_u32

from cpu.faults import (GuestFault, MemoryFault, AlignmentFault, UndefinedInstruction, InvalidStateFault,
                        UnhandledException)
from cpu.faults import insn_hex


class FetchViolation(GuestFault):
    """A core executed a torn or stale instruction and the machine was told to stop at the first one."""
    kind = "fetch violation"


cdef uint32_t INVALID_TAG = 0xffffffffu
DEF MAX_ACTORS = 512
cdef uint32_t SEMIHOSTING_BKPT = 0xab
cdef int EVENTS_KEPT = 16


include "pseudocode.pxi"
include "insns.pxi"
include "dispatch.pxi"


cdef class ExceptionHandler:
    cdef int64_t handle(self, Core core, uint32_t imm, uint32_t pc) except -2:
        return -1


cdef class HostCall:
    cdef int call(self, Core core) except -1:
        return 0


cdef class Core:
    """One ARMv7-M core: r0-r15, APSR, ITSTATE, its own instruction cache and exclusive monitor."""

    def __cinit__(self, MachineCore m, int id, uint32_t sets, uint32_t ways, uint32_t line_size):
        cdef uint32_t i, nlines = sets * ways, slots = line_size // 2
        self.m = m
        self.id = id
        self.nsets = sets
        self.ways = ways
        self.line_shift = 0
        while (1u << self.line_shift) < line_size:
            self.line_shift += 1
        self.line_mask = line_size - 1
        self.lines = <line_t*>calloc(nlines, sizeof(line_t))
        self.line_hw = <uint16_t*>calloc(nlines * slots, sizeof(uint16_t))
        self.line_insn = <insn_t*>calloc(nlines * slots, sizeof(insn_t))
        self.victim = <uint32_t*>calloc(sets, sizeof(uint32_t))
        if not self.lines or not self.line_hw or not self.line_insn or not self.victim:
            raise MemoryError("icache allocation failed")
        for i in range(nlines):
            self.lines[i].hw = self.line_hw + i * slots
            self.lines[i].insn = self.line_insn + i * slots
        self.icache_invalidate_all()
        self.ipi_queue = []
        self.state = CORE_OFF

    def __dealloc__(self):
        free(self.lines)
        free(self.line_hw)
        free(self.line_insn)
        free(self.victim)

    # ---- the icache ----

    cdef void icache_invalidate_all(self) noexcept:
        cdef uint32_t i
        for i in range(self.nsets * self.ways):
            self.lines[i].tag = INVALID_TAG
        self.cur_tag = INVALID_TAG

    cdef void icache_invalidate_mva(self, uint32_t addr) noexcept:
        cdef uint32_t tag = addr >> self.line_shift, w
        cdef line_t* base = &self.lines[(tag & (self.nsets - 1)) * self.ways]
        for w in range(self.ways):
            if base[w].tag == tag:
                base[w].tag = INVALID_TAG
        if tag == self.cur_tag:
            self.cur_tag = INVALID_TAG

    cdef line_t* icache_line(self, uint32_t addr) except NULL:
        """The line holding addr; on a miss, fill a victim way from memory as it is now."""
        cdef uint32_t tag = addr >> self.line_shift, w, size = self.line_mask + 1
        cdef line_t* base = &self.lines[(tag & (self.nsets - 1)) * self.ways]
        cdef line_t* line
        for w in range(self.ways):
            if base[w].tag == tag:
                return &base[w]
        if addr >= self.m.mem_size:
            self.fault(MemoryFault, "instruction fetch outside memory", addr)
        self.icache_misses += 1
        self.stall_cycles += self.m.miss_cost
        if self.m.replacement:
            w = self.m.random() % self.ways
        else:
            w = self.victim[tag & (self.nsets - 1)]
            self.victim[tag & (self.nsets - 1)] = (w + 1) % self.ways
        line = &base[w]
        line.tag = tag
        line.filled = self.m.wseq
        memcpy(line.hw, self.m.mem + (tag << self.line_shift), size)
        memset(line.insn, 0, (size // 2) * sizeof(insn_t))
        return line

    cdef insn_t* decode_at(self, uint32_t pc) except NULL:
        """Decode the instruction at pc from the current line (and the next one, for a straddling 32-bit one)."""
        cdef line_t* line = self.cur_line
        cdef line_t* line2
        cdef uint32_t idx = (pc & self.line_mask) >> 1, hw1 = line.hw[idx], hw2 = 0
        cdef uint64_t t1, t2, f1 = line.filled
        if is_thumb32(hw1):
            if idx == (self.line_mask >> 1):
                # Straddles two lines: decoded afresh at every execution, never cached, so it cannot outlive
                # either line.  The halves may come from fills at different times: that is where tearing lives.
                line2 = self.icache_line(pc + 2)
                hw2 = line2.hw[0]
                self.cur_tag = INVALID_TAG
                decode(hw1, hw2, &self.scratch)
                self.scratch_filled = f1 if f1 < line2.filled else line2.filled
                if self.m.detect and f1 != line2.filled:
                    t1 = f1 if f1 < line2.filled else line2.filled
                    t2 = line2.filled if f1 < line2.filled else f1
                    if not self.m.coexisted(pc, hw1, hw2, t1, t2):
                        self.torn_fetches += 1
                        self.fetch_event("torn", pc, hw1, hw2, 1)
                return &self.scratch
            hw2 = line.hw[idx + 1]
        decode(hw1, hw2, &line.insn[idx])
        return &line.insn[idx]

    cdef int check_fetch(self, uint32_t pc, insn_t* d) except -1:
        """Compare what the core is about to execute with memory: stale (icache on) or refill (icache off).

        A stale fetch inside an update's window (between a write and the sync that follows it) is what every
        patching protocol expects; one whose bytes were overwritten by a write that a completed sync claimed
        visible everywhere (Machine.completed_wseq) is a violation: late_stale_fetches.
        """
        cdef uint32_t now = ld16(self, pc)
        cdef uint64_t filled
        cdef bint late
        if d.size == 4:
            now = (now << 16) | ld16(self, pc + 2)
        if now == d.raw:
            return 0
        if not self.m.icache:
            self.icache_invalidate_mva(pc)
            self.icache_invalidate_mva(pc + 2)
            return 1
        self.stale_fetches += 1
        filled = self.scratch_filled if d == &self.scratch else self.cur_line.filled
        late = self.m.completed_wseq > filled and \
            self.m.written_between(pc, pc + d.size, filled, self.m.completed_wseq)
        if late:
            self.late_stale_fetches += 1
        self.fetch_event("stale-after-sync" if late else "stale", pc,
                         d.raw >> 16 if d.size == 4 else d.raw, d.raw & 0xffff if d.size == 4 else -1, late)
        return 0

    cdef fetch_event(self, str kind, uint32_t pc, uint32_t hw1, int64_t hw2, bint violation):
        cdef uint32_t m1 = ld16(self, pc)
        cdef object seen, memory
        if hw2 < 0:
            seen, memory = (hw1,), (m1,)
        else:
            seen, memory = (hw1, <uint32_t>hw2), (m1, ld16(self, pc + 2))
        ev = {"kind": kind, "core": self.id, "pc": pc, "seen": seen, "memory": memory,
              "cycles": self.cycles, "instructions": self.instructions}
        if len(self.m.fetch_events) < EVENTS_KEPT:
            self.m.fetch_events.append(ev)
        if violation and self.m.stop_on_violation:
            words = " ".join(f"{h:04x}" for h in seen)
            mem = " ".join(f"{h:04x}" for h in memory)
            raise FetchViolation(f"{kind} fetch: executed {words}, memory holds {mem}",
                                 core=self.id, pc=pc, insn=(hw1 << 16 | <uint32_t>hw2) if hw2 >= 0 else hw1)

    # ---- faults, exceptions, host calls, MMIO ----

    cdef int fault(self, type cls, str msg, object addr=None) except -1:
        raise cls(msg, core=self.id, pc=self.cur_pc, insn=self.cur_raw, addr=addr)

    cdef int exception(self, list chain, uint32_t imm, uint32_t pc, str what) except -1:
        """Offer the exception to each handler in order; the first that takes it says where to resume."""
        cdef int64_t r
        for h in chain:
            if isinstance(h, ExceptionHandler):
                r = (<ExceptionHandler>h).handle(self, imm, pc)
            else:
                res = h(self, imm, pc)
                r = -1 if res is None else <int64_t>res
            if r >= 0:
                self.pc = <uint32_t>r & 0xfffffffeu
                return 0
        if what == "UDF":
            self.fault(UndefinedInstruction, f"UDF #{imm} with no handler")
        self.fault(UnhandledException, f"{what} #{imm} with no handler")

    cdef int host_call(self, uint32_t pc) except -1:
        cdef uint32_t slot = (pc - HOSTCALL_BASE) >> 2
        self.cur_pc = pc
        self.cur_raw = 0
        if slot >= <uint32_t>len(self.m.hostcalls) or self.m.hostcalls[slot] is None:
            self.fault(MemoryFault, "branch to an unbound host-call slot", pc)
        h = self.m.hostcalls[slot]
        if isinstance(h, HostCall):
            (<HostCall>h).call(self)
        else:
            h(self)
        self.instructions += 1
        self.stall_cycles += self.m.hostcall_cost
        if self.state != CORE_RUNNING:
            return 0
        if self.pc == pc:
            if not (self.r[14] & 1):
                self.fault(InvalidStateFault, "host call returning to an even lr", self.r[14])
            self.pc = self.r[14] & 0xfffffffeu
        return 0

    cdef uint32_t mmio_read(self, uint32_t a, int size) except? 0xA5A5A5A5:
        if SMP_BASE <= a < SMP_BASE + SMP_SIZE:
            return self.m.smp_read(self, a - SMP_BASE)
        if 0xE000E000u <= a < 0xE000F000u:
            return 0x412FC230 if a == 0xE000ED00u else 0
        self.fault(MemoryFault, f"{size * 8}-bit load outside memory", a)

    cdef int mmio_write(self, uint32_t a, uint32_t v, int size) except -1:
        if SMP_BASE <= a < SMP_BASE + SMP_SIZE:
            self.m.smp_write(self, a - SMP_BASE, v)
        elif a == SCS_ICIALLU:
            self.icache_invalidate_all()
        elif a == SCS_ICIMVAU:
            self.icache_invalidate_mva(v)
        elif not (0xE000E000u <= a < 0xE000F000u):
            self.fault(MemoryFault, f"{size * 8}-bit store outside memory", a)
        return 0

    cdef int store_slow(self, uint32_t a, uint32_t v, int size) except -1:
        if a > self.m.mem_size - size:
            return self.mmio_write(a, v, size)
        if self.m.n_excl:
            self.m.clear_monitors(self, a)
        if (a - self.m.watch_fast_lo) < self.m.watch_fast_len:
            return self.m.logged_store(a, v, size)
        if size == 4:
            memcpy(self.m.mem + a, &v, 4)
        elif size == 2:
            memcpy(self.m.mem + a, &v, 2)
        else:
            self.m.mem[a] = <uint8_t>v
        return 0

    cdef int take_attention(self) except -1:
        """Called at an instruction boundary when something is pending; returns 1 to end the quantum."""
        cdef int a = self.attention
        if a & ATTN_IPI:
            self.attention &= ~ATTN_IPI
            queue, self.ipi_queue = self.ipi_queue, []
            if self.excl_valid:
                self.excl_valid = 0
                self.m.n_excl -= 1
            for fn in queue:
                self.ipis_taken += 1
                self.stall_cycles += self.m.ipi_cost
                fn(self)
        if self.attention & ATTN_STOP:
            self.attention &= ~ATTN_STOP
            return 1
        return self.state != CORE_RUNNING

    # ---- the interpreter ----

    cdef long run(self, long budget) except -1:
        """Execute up to budget instructions; returns how many ran. Stops early when the core stops."""
        cdef uint64_t start = self.instructions, limit = <uint64_t>budget
        cdef insn_t* d
        cdef uint32_t pc, op, a, b, r, carry, wb, i, lst, addr
        cdef uint64_t u
        cdef int64_t s64
        cdef bint in_it
        cdef MachineCore m = self.m
        # With the icache on, a line can only differ from memory after a watched code write (wseq moved since
        # its fill); with it off, every fetch is checked, and a difference refills.
        cdef bint check_all = not m.icache
        while self.instructions - start < limit:
            if self.attention:
                if self.take_attention():
                    break
            pc = self.pc
            if (pc >> self.line_shift) != self.cur_tag:
                if pc >= m.mem_size:
                    if HOSTCALL_BASE <= pc < HOSTCALL_BASE + 4 * HOSTCALL_SLOTS:
                        self.host_call(pc)
                        continue
                    self.cur_pc = pc
                    self.cur_raw = 0
                    self.fault(MemoryFault, "instruction fetch outside memory", pc)
                self.cur_line = self.icache_line(pc)
                self.cur_tag = pc >> self.line_shift
            d = &self.cur_line.insn[(pc & self.line_mask) >> 1]
            if d.op == OP_UNDECODED:
                d = self.decode_at(pc)
            self.cur_pc = pc
            self.cur_raw = d.raw
            if m.n_fetch_watch and m.fetch_watched(pc):
                self.watched_fetches += 1
            if check_all or self.cur_line.filled != m.wseq or d == &self.scratch:
                if (m.detect or check_all) and self.check_fetch(pc, d):
                    continue
            self.instructions += 1
            self.r[15] = pc + 4
            self.pc = pc + d.size
            in_it = self.itstate != 0
            if in_it:
                r = self.itstate >> 4
                if (self.itstate & 7) == 0:
                    self.itstate = 0
                else:
                    self.itstate = (self.itstate & 0xe0) | ((self.itstate << 1) & 0x1f)
                if not ConditionPassed(self, r):
                    continue
            if execute(self, d, pc, in_it):
                break
        self.attention &= ~ATTN_STOP    # a stop request ends the quantum it was made in, never a later one
        return self.instructions - start

    cdef int load_write_pc(self, uint32_t v) except -1:
        if not (v & 1):
            self.fault(InvalidStateFault, "load to pc of an even address (no ARM state on v7-M)", v)
        self.pc = v & 0xfffffffeu
        return 0

    cdef uint32_t read_special(self, uint32_t sysm) noexcept:
        if sysm <= 3:
            return self.apsr_value()
        if sysm == 8 or sysm == 9:
            return self.r[13]
        if sysm == 16:
            return self.primask
        if sysm == 20:
            return self.control
        return 0

    cdef void write_special(self, uint32_t sysm, uint32_t mask, uint32_t v) noexcept:
        if sysm <= 3 and (mask & 2):
            self.n = v >> 31
            self.z = (v >> 30) & 1
            self.c = (v >> 29) & 1
            self.v = (v >> 28) & 1
            self.q = (v >> 27) & 1
        elif sysm == 8 or sysm == 9:
            self.r[13] = v & 0xfffffffcu
        elif sysm == 16:
            self.primask = v & 1
        elif sysm == 20:
            self.control = v & 3

    cdef uint32_t apsr_value(self) noexcept:
        return (<uint32_t>self.n << 31) | (<uint32_t>self.z << 30) | (<uint32_t>self.c << 29) \
            | (<uint32_t>self.v << 28) | (<uint32_t>self.q << 27)

    # ---- Python API ----

    def get_reg(self, int n):
        """r0-r15; r15 reads as the address of the next instruction to execute."""
        if not 0 <= n <= 15:
            raise ValueError(f"register number {n} out of range 0..15")
        return self.pc if n == 15 else self.r[n]

    def set_reg(self, int n, uint32_t value):
        if not 0 <= n <= 15:
            raise ValueError(f"register number {n} out of range 0..15")
        if n == 15:
            self.pc = value & 0xfffffffeu
        else:
            self.r[n] = value

    @property
    def pc(self):
        return self.pc

    @pc.setter
    def pc(self, uint32_t value):
        self.pc = value & 0xfffffffeu

    @property
    def apsr(self):
        """N, Z, C, V, Q in bits 31..27."""
        return self.apsr_value()

    @apsr.setter
    def apsr(self, uint32_t v):
        self.write_special(0, 2, v)

    @property
    def cycles(self):
        """One per instruction plus the configured stall costs (icache misses, IPIs, host calls)."""
        return self.instructions + self.stall_cycles

    @property
    def regs(self):
        return [self.get_reg(i) for i in range(16)]

    @property
    def exclusive(self):
        """The local exclusive monitor: the address LDREX marked, or None."""
        return self.excl_addr if self.excl_valid else None

    def charge(self, uint64_t cycles):
        """Account cycles this core spent outside guest code (a host agent's work, a parked wait, a handler)."""
        self.stall_cycles += cycles

    def step(self, long count=1):
        """Run up to count instructions on this core alone; returns how many ran."""
        if self.state == CORE_OFF:
            self.state = CORE_RUNNING
        return self.run(count)

    def flush_icache(self):
        self.icache_invalidate_all()

    def flush_icache_range(self, uint32_t start, uint32_t end):
        cdef uint32_t a = start & ~self.line_mask
        if end > start and end - start >= (self.line_mask + 1) * self.nsets * self.ways:
            self.icache_invalidate_all()      # a range as big as the cache: flush_cache_all, not a long walk
            return
        while a < end:
            self.icache_invalidate_mva(a)
            if a + self.line_mask + 1 < a:
                break
            a += self.line_mask + 1

    def send_ipi(self, fn):
        """Queue fn(core) to run on this core at its next instruction boundary."""
        self.ipi_queue.append(fn)
        self.attention |= ATTN_IPI

    def request_stop(self):
        self.attention |= ATTN_STOP

    @property
    def ipi_pending(self):
        return bool(self.ipi_queue)

    cdef void evict_line(self) noexcept:
        cdef uint32_t i = self.m.random() % (self.nsets * self.ways)
        if self.lines[i].tag == self.cur_tag:
            self.cur_tag = INVALID_TAG
        self.lines[i].tag = INVALID_TAG

    def evict_random_line(self):
        """Invalidate one line chosen by the machine's generator (widens the windows stale lines survive in)."""
        self.evict_line()

    def icache_contents(self, uint32_t addr):
        """The halfword the icache holds for addr, or None on a miss (no fill: for tests and the explorer)."""
        cdef uint32_t tag = addr >> self.line_shift, w
        cdef line_t* base = &self.lines[(tag & (self.nsets - 1)) * self.ways]
        for w in range(self.ways):
            if base[w].tag == tag:
                return base[w].hw[(addr & self.line_mask) >> 1]
        return None

    def stats(self):
        return {"core": self.id, "instructions": self.instructions, "cycles": self.cycles,
                "icache_misses": self.icache_misses,
                "icache_hits": self.instructions - self.icache_misses, "ipis": self.ipis_taken,
                "bkpt_hits": self.bkpt_hits, "stale_fetches": self.stale_fetches,
                "late_stale_fetches": self.late_stale_fetches,
                "torn_fetches": self.torn_fetches}


cdef class MachineCore:
    """Shared state of the simulated SMP: coherent memory, the cores, handler chains and the code-write log."""

    def __cinit__(self, int cores=1, uint32_t mem_size=64 << 20, bint icache=True, uint32_t icache_size=32768,
                  uint32_t icache_ways=4, uint32_t line_size=32, str replacement="round-robin",
                  uint64_t seed=0, *args, **kwargs):
        cdef uint32_t sets
        if not 1 <= cores <= 256:
            raise ValueError(f"cores must be 1..256, got {cores}")
        if mem_size < 4096 or mem_size % 4096 or mem_size > 0xC0000000u:
            raise ValueError(f"mem_size must be a multiple of 4096 between 4 KiB and 3 GiB, got {mem_size}")
        if line_size < 8 or line_size > 256 or line_size & (line_size - 1):
            raise ValueError(f"line_size must be a power of two from 8 to 256, got {line_size}")
        if icache_ways < 1 or icache_size % (line_size * icache_ways):
            raise ValueError("icache_size must be a multiple of line_size * icache_ways")
        sets = icache_size // (line_size * icache_ways)
        if sets & (sets - 1):
            raise ValueError(f"icache sets ({sets}) must be a power of two")
        if replacement not in ("round-robin", "random"):
            raise ValueError(f"replacement must be 'round-robin' or 'random', got {replacement!r}")
        self.mem = <uint8_t*>calloc(mem_size + 8, 1)
        if not self.mem:
            raise MemoryError(f"cannot allocate {mem_size} bytes of guest memory")
        self.mem_size = mem_size
        self.icache = icache
        self.detect = True
        self.line_size = line_size
        self.icache_sets = sets
        self.icache_ways = icache_ways
        self.replacement = 1 if replacement == "random" else 0
        self.rng = seed * 0x9E3779B97F4A7C15u + 0x2545F4914F6CDD1Du
        self.sched_rng = seed * 0xD1B54A32D192ED03u + 0x8CB92BA72F3D8DD7u
        self.miss_cost = 0
        self.ipi_cost = 0
        self.hostcall_cost = 1
        self.log_cap = 1 << 16
        self.log_addr = <uint32_t*>calloc(self.log_cap, sizeof(uint32_t))
        self.log_old = <uint16_t*>calloc(self.log_cap, sizeof(uint16_t))
        self.log_new = <uint16_t*>calloc(self.log_cap, sizeof(uint16_t))
        self.log_seq = <uint64_t*>calloc(self.log_cap, sizeof(uint64_t))
        self.ncores = cores
        self.cores = [Core(self, i, sets, icache_ways, line_size) for i in range(cores)]
        self.bkpt_handlers = []
        self.svc_handlers = []
        self.udf_handlers = []
        self.hostcalls = []
        self.fetch_events = []
        self.exit_code = None

    def __dealloc__(self):
        free(self.fetch_watch)
        free(self.mem)
        free(self.log_addr)
        free(self.log_old)
        free(self.log_new)
        free(self.log_seq)

    cdef uint64_t random(self) noexcept:
        # xorshift64*: the machine's only source of randomness, so a seed replays a run exactly
        self.rng ^= self.rng >> 12
        self.rng ^= self.rng << 25
        self.rng ^= self.rng >> 27
        return (self.rng * 0x2545F4914F6CDD1Du) >> 11

    cdef uint64_t sched_random(self) noexcept:
        self.sched_rng ^= self.sched_rng >> 12
        self.sched_rng ^= self.sched_rng << 25
        self.sched_rng ^= self.sched_rng >> 27
        return (self.sched_rng * 0x2545F4914F6CDD1Du) >> 11

    def rand(self, uint64_t n):
        """A number in [0, n) from the machine's seeded generator."""
        if n == 0:
            raise ValueError("rand(0)")
        return self.random() % n

    # ---- memory seen from the host ----

    cdef int check_range(self, uint64_t addr, uint64_t n) except -1:
        if addr + n > self.mem_size:
            raise MemoryFault(f"host access of {n} bytes outside guest memory (size 0x{self.mem_size:x})", addr=addr)
        return 0

    def read(self, uint64_t addr, uint64_t n):
        self.check_range(addr, n)
        return (<char*>self.mem)[addr:addr + n]

    def write(self, uint64_t addr, const unsigned char[:] data):
        """Host write into guest memory: coherent with data accesses, invisible to icaches until invalidated."""
        cdef uint64_t n = data.shape[0], i
        self.check_range(addr, n)
        if n == 0:
            return
        if self.watch_len and addr < self.watch_lo + self.watch_len and addr + n > self.watch_lo:
            for i in range(n):
                self.logged_store(<uint32_t>(addr + i), data[i], 1)
        else:
            memcpy(self.mem + addr, &data[0], n)
        if self.n_excl:
            for i in range(0, n, 4):
                self.clear_monitors(None, <uint32_t>(addr + i))

    def read16(self, uint32_t addr):
        return int.from_bytes(self.read(addr, 2), "little")

    def read32(self, uint32_t addr):
        return int.from_bytes(self.read(addr, 4), "little")

    def write16(self, uint32_t addr, uint32_t v):
        self.write(addr, (v & 0xffff).to_bytes(2, "little"))

    def write32(self, uint32_t addr, uint32_t v):
        self.write(addr, v.to_bytes(4, "little"))

    # ---- code-write log and torn-fetch detection ----

    def watch_code(self, uint32_t lo, uint32_t hi):
        """Log every write to [lo, hi) so a straddling instruction's halves can be checked for tearing."""
        if hi <= lo:
            raise ValueError("empty watch range")
        self.watch_lo = lo & ~1u
        self.watch_len = hi - self.watch_lo
        self.watch_fast_lo = self.watch_lo - 3
        self.watch_fast_len = self.watch_len + 3

    cdef int logged_store(self, uint32_t a, uint32_t v, int size) except -1:
        cdef uint32_t h = a & ~1u, end = a + size, k
        cdef uint16_t old
        cdef uint8_t bytes_[4]
        memcpy(bytes_, &v, 4)
        while h < end:
            memcpy(&old, self.mem + h, 2)
            for k in range(2):
                if a <= h + k < end:
                    self.mem[h + k] = bytes_[h + k - a]
            if h - self.watch_lo < self.watch_len:
                self.wseq += 1
                k = self.wseq % self.log_cap
                self.log_seq[k] = self.wseq
                self.log_addr[k] = h
                self.log_old[k] = old
                memcpy(&self.log_new[k], self.mem + h, 2)
            h += 2
        return 0

    cdef uint32_t value_at(self, uint32_t a, uint64_t t) noexcept:
        """The halfword at a as memory held it just after write number t (from the log and current memory)."""
        cdef uint64_t s
        cdef uint32_t k
        cdef uint16_t v
        for s in range(t + 1, self.wseq + 1):
            k = s % self.log_cap
            if self.log_addr[k] == a:
                return self.log_old[k]
        memcpy(&v, self.mem + a, 2)
        return v

    def set_fetch_watch(self, addrs):
        """Count every core's fetches of these instruction addresses in Core.watched_fetches (empty: off)."""
        cdef Py_ssize_t i
        addrs = sorted(set(addrs))
        free(self.fetch_watch)
        self.fetch_watch = NULL
        self.n_fetch_watch = 0
        if addrs:
            self.fetch_watch = <uint32_t*>calloc(len(addrs), sizeof(uint32_t))
            if not self.fetch_watch:
                raise MemoryError()
            for i in range(len(addrs)):
                self.fetch_watch[i] = addrs[i]
            self.n_fetch_watch = len(addrs)

    cdef bint fetch_watched(self, uint32_t pc) noexcept:
        return find_u32(self.fetch_watch, self.n_fetch_watch, pc) >= 0

    cdef bint written_between(self, uint32_t lo, uint32_t hi, uint64_t after, uint64_t upto) noexcept:
        """Was any halfword in [lo, hi) written by a logged write numbered in (after, upto]?"""
        cdef uint64_t s, first = after + 1
        cdef uint32_t a
        if self.wseq >= self.log_cap and first <= self.wseq - self.log_cap:
            first = self.wseq - self.log_cap + 1
        for s in range(first, upto + 1):
            a = self.log_addr[s % self.log_cap]
            if lo <= a < hi:
                return 1
        return 0

    cdef bint coexisted(self, uint32_t pc, uint32_t hw1, uint32_t hw2, uint64_t t1, uint64_t t2) noexcept:
        """Did memory hold hw1 at pc and hw2 at pc+2 at some moment between writes t1 and t2?"""
        cdef uint64_t t
        if self.wseq >= self.log_cap and t1 <= self.wseq - self.log_cap:
            return 1   # history no longer logged: do not claim a tear we cannot prove
        for t in range(t1, t2 + 1):
            if t > t1 and self.log_addr[t % self.log_cap] != pc and self.log_addr[t % self.log_cap] != pc + 2:
                continue
            if self.value_at(pc, t) == hw1 and self.value_at(pc + 2, t) == hw2:
                return 1
        return 0

    cdef int clear_monitors(self, Core writer, uint32_t a) except -1:
        cdef Core c
        for c in self.cores:
            if c is not writer and c.excl_valid and (c.excl_addr & ~7u) == (a & ~7u):
                c.excl_valid = 0
                self.n_excl -= 1
        return 0

    # ---- icaches seen from the host ----

    def flush_icache_range(self, uint32_t start, uint32_t end, cores=None):
        """Invalidate [start, end) in the icaches of the given cores (all by default)."""
        for c in (self.cores if cores is None else [self.cores[i] for i in cores]):
            c.flush_icache_range(start, end)

    def flush_icache(self, cores=None):
        for c in (self.cores if cores is None else [self.cores[i] for i in cores]):
            c.flush_icache()

    # ---- hooks the Python Machine provides ----

    def smp_read(self, core, uint32_t offset):
        raise MemoryFault("load from the SMP block with no SMP runtime attached", core=core.id,
                          addr=SMP_BASE + offset)

    def smp_write(self, core, uint32_t offset, uint32_t value):
        raise MemoryFault("store to the SMP block with no SMP runtime attached", core=core.id,
                          addr=SMP_BASE + offset)

    def halt(self, code):
        """End the run: every core stops and run() returns code."""
        cdef Core c
        self.exit_code = code
        for c in self.cores:
            if c.state == CORE_RUNNING:
                c.state = CORE_STOPPED
            c.attention |= ATTN_STOP

    # ---- the scheduler's inner loop ----

    def run_core(self, int i, long budget, uint32_t evict_rate=0):
        """Let core i run up to budget instructions (it leaves early if it stops); returns how many ran.
        With evict_rate (in 1/65536) the machine's generator may first evict one of its icache lines."""
        cdef Core c = self.cores[i]
        if evict_rate and self.random() % 65536 < evict_rate:
            c.evict_line()
        return c.run(budget)

    def schedule(self, int mode, long quantum, tuple agent_cpus, list record, long max_steps,
                 uint64_t until_instructions, uint32_t evict_rate):
        """The scheduler's loop: up to max_steps steps, each letting one actor run (mode 0 round-robin,
        1 random, 2 timed).  Returns (0, 0, 0) when the steps or the instruction target are used up or the
        program exited, (1, k, quantum) when agent k (of agent_cpus) is chosen (the caller runs it), and
        (2, 0, 0) when nothing can run, each with the number of core steps taken appended.  Core steps are
        appended to record as (core, instructions run)."""
        cdef int actors[MAX_ACTORS]
        cdef bint busy[MAX_ACTORS]
        cdef int nact, na = len(agent_cpus), i, pick
        cdef long steps = 0, q
        cdef uint64_t total = 0, best, cyc
        cdef Core c
        if na > self.ncores:
            raise ValueError("more agents than cores")
        for c in self.cores:
            total += c.instructions
            busy[c.id] = 0
        for i in range(na):
            busy[<int>agent_cpus[i]] = 1
        while steps < max_steps and self.exit_code is None:
            if until_instructions and total >= until_instructions:
                break
            nact = 0
            for i in range(na):
                actors[nact] = -1 - i
                nact += 1
            for c in self.cores:
                if c.state == CORE_RUNNING and not busy[c.id]:
                    actors[nact] = c.id
                    nact += 1
            if nact == 0:
                return (2, 0, 0, steps)
            if mode == 1:
                pick = self.sched_random() % nact
                q = 1 + self.sched_random() % (2 * quantum)
            elif mode == 2:
                # discrete-event order: whoever is furthest behind in cycles runs next (agents first on ties),
                # so an agent's writes and the cores' instructions advance at the rates their costs say
                pick = 0
                best = 0xFFFFFFFFFFFFFFFFu
                for i in range(nact):
                    c = self.cores[<int>agent_cpus[-1 - actors[i]] if actors[i] < 0 else actors[i]]
                    cyc = c.instructions + c.stall_cycles
                    if cyc < best:
                        best, pick = cyc, i
                q = quantum
            else:
                pick = self.rr_pos % nact
                self.rr_pos += 1
                q = quantum if nact > 1 else 1 << 20
            if until_instructions and q > <long>(until_instructions - total):
                q = <long>(until_instructions - total)
            if actors[pick] < 0:
                return (1, -1 - actors[pick], q, steps)
            c = self.cores[actors[pick]]
            if evict_rate and self.random() % 65536 < evict_rate:
                c.evict_line()
            q = c.run(q)
            record.append((c.id, q))
            total += q
            steps += 1
        return (0, 0, 0, steps)
