# cython: language_level=3
"""The Thumb-2 core: fetch through its non-coherent icache (icache.pyx), decode lazily into the line, execute.

Execution follows the ARMv7-M ARM pseudocode: one function per instruction page (A7.7) in insns.pxi, with the
manual's helpers (AddWithCarry, Shift_C, ConditionPassed...) in pseudocode.pxi.  Nothing here allocates Python
objects on the per-instruction path: Python is only reached for faults, BKPT/SVC/UDF chains, semihosting, host
calls, MMIO blocks, IPIs and hooks.  The fetch checks' judgements come from the code-write log (codelog.pyx); the
scheduler is scheduler.pyx.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, int8_t, int16_t, int32_t, uint64_t, int64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

from cpu.decode cimport *
from cpu.memory cimport ld32, ld16, ld8, st32, st16, st8
from cpu.icache cimport (icache_init, icache_free, icache_lookup, icache_fill, icache_rr_victim, icache_evict,
                         icache_contents, icache_set)
from cpu.icache cimport icache_invalidate_all as ic_invalidate_all, icache_invalidate_mva as ic_invalidate_mva
from cpu.codelog cimport (codelog_init, codelog_free, codelog_watch, codelog_set_fetch_watch, fetch_watched,
                          torn, stale_verdict, FETCH_LATE_STALE, codelog_line, clean_request, clean_complete)
from cpu.codelog cimport logged_store as log_store

from cpu.faults import (GuestFault, MemoryFault, AlignmentFault, UndefinedInstruction, InvalidStateFault,
                        UnhandledException)
from cpu.faults import insn_hex
from cpu.model import GRANULES, get_model


class FetchViolation(GuestFault):
    """A core executed a torn or stale instruction and the machine was told to stop at the first one."""
    kind = "fetch violation"


cdef uint32_t SEMIHOSTING_BKPT = 0xab
cdef enum:
    MAX_FILL_WRITES = 256   # a relaxed fill weighs at most this many of a line's newest writes (older: the floor)
# Every hook kind, with the hook_mask bit its C path tests (0: reached only on a path that is slow anyway).
HOOK_KINDS = {"fetch": HOOK_FETCH, "bkpt": 0, "udf": 0, "svc": 0, "ipi": HOOK_IPI, "code_write": HOOK_CODE_WRITE,
              "fault": HOOK_FAULT, "advance": 0}
EXCEPTION_CHAINS = ("bkpt", "udf", "svc")


cdef inline uint16_t granule_at(codelog_t* log, uint64_t* ws, uint32_t nw, uint16_t* base, uint32_t h,
                               uint32_t line_mask, uint64_t t) noexcept:
    """Halfword slot h of a line as memory held it just after write t, from the line's writes ws (newest
    first) and its values before the oldest of them (base)."""
    cdef uint32_t j
    for j in range(nw):
        if ws[j] <= t and ((log.addr[ws[j] % log.cap] & line_mask) >> 1) == h:
            return log.new[ws[j] % log.cap]
    return base[h]


cdef inline bint later_in_store(codelog_t* log, uint64_t s, uint32_t g, uint32_t gsize, uint32_t line_mask) noexcept:
    """Does the store that made write s write slots [g, g + gsize) of the line again after s?"""
    while s < log.wseq and log.more[s % log.cap]:
        s += 1
        if ((log.addr[s % log.cap] & line_mask) >> 1) - g < gsize:
            return 1
    return 0


cdef object encoding(uint32_t raw, uint32_t size):
    """An instruction's halfwords as a tuple, as fetch events give them."""
    if size == 4:
        return (raw >> 16, raw & 0xffff)
    return (raw,)


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
        self.m = m
        self.id = id
        icache_init(&self.ic, sets, ways, line_size)
        self.cur_tag = INVALID_TAG
        self.ipi_queue = []
        self.cff_cands = {}
        self.state = CORE_OFF

    def __dealloc__(self):
        icache_free(&self.ic)
        free(self.gone)
        free(self.pref)

    # ---- fetch: the icache and the checks against memory ----

    cdef void lose(self, uint32_t tag) noexcept:
        """This core no longer holds the line `tag`: a later fill may have read it at any moment from now on."""
        cdef int64_t li = codelog_line(&self.m.log, tag)
        if li >= 0 and self.gone != NULL:
            self.gone[li] = self.m.log.wseq

    cdef int icache_invalidate_all(self, bint host=False) except -1:
        """ICIALLU (host: by the host, for this core)."""
        cdef uint32_t i
        if self.m.model_prefetch:
            self.prefetch_on_invalidate(icache_lookup(&self.ic, self.pc >> self.ic.line_shift), host)
        # every line, held or not: a copy fetched speculatively before the invalidate is gone with it
        self.gone_all = self.m.log.wseq
        ic_invalidate_all(&self.ic)
        self.cur_tag = INVALID_TAG
        return 0

    cdef int icache_invalidate_mva(self, uint32_t addr, bint host=False) except -1:
        """ICIMVAU addr (host: by the host, for this core)."""
        cdef uint32_t tag = addr >> self.ic.line_shift
        if self.m.model_prefetch:
            self.prefetch_on_invalidate(icache_lookup(&self.ic, tag) if tag == self.pc >> self.ic.line_shift
                                        else NULL, host)
        self.lose(tag)          # held or not: a speculative copy from before the invalidate is gone too
        if icache_lookup(&self.ic, tag) != NULL:
            ic_invalidate_mva(&self.ic, addr)
        if tag == self.cur_tag:
            self.cur_tag = INVALID_TAG
        return 0

    cdef void evict_line(self) noexcept:
        cdef uint32_t tag = icache_evict(&self.ic, self.m.random())
        if tag != INVALID_TAG:
            self.lose(tag)
        if tag == self.cur_tag:
            self.cur_tag = INVALID_TAG

    # ---- prefetch (model_prefetch): decoded instructions that survive an invalidate until a context sync ----

    cdef int prefetch_on_invalidate(self, line_t* line, bint host) except -1:
        """An icache invalidate on this core, by itself or by the host; line: the line it removes that holds the
        next instruction, or NULL.  Instructions may be fetched at any time since the last context
        synchronization event and executed without being fetched again (E2.5.3.2): up to model_prefetch of those
        at and after pc in the line survive (how many: adversarially, from the seed), as do those already kept.
        With model_ic_clears_prefetch an invalidate also clears every other core's (ESOP MP.FF+cachesync+fpo);
        one by the host clears every core's, the executor keeps its own only until its ISB."""
        cdef MachineCore m = self.m
        cdef uint32_t a, idx, hw1, hw2, last = self.ic.line_mask >> 1
        cdef int i, n, k = m.model_prefetch
        if m.model_ic_clears_prefetch:
            m.clear_prefetch(None if host else self)
            self.npref = 0
            if host:
                return 0
        if line == NULL or not m.icache:
            return 0
        if self.pref == NULL:
            self.pref = <prefetch_t*>calloc(k, sizeof(prefetch_t))
            if self.pref == NULL:
                raise MemoryError()
        n = m.choose(k + 1, "prefetch")
        a = self.pc
        while n > 0 and self.npref < k and (a >> self.ic.line_shift) == line.tag:
            idx = (a & self.ic.line_mask) >> 1
            hw1, hw2 = line.hw[idx], 0
            if is_thumb32(hw1):
                if idx == last:
                    break     # straddles into the next line: not kept
                hw2 = line.hw[idx + 1]
            for i in range(self.npref):
                if self.pref[i].pc == a:
                    break
            else:
                self.pref[self.npref].pc = a
                self.pref[self.npref].filled = line.filled
                decode(hw1, hw2, &self.pref[self.npref].insn)
                self.npref += 1
            a += 4 if is_thumb32(hw1) else 2
            n -= 1
        if self.npref:
            self.cur_tag = INVALID_TAG    # every fetch takes the miss path while the buffer is not empty
        return 0

    cdef bint prefetch_hit(self, uint32_t pc) except -1:
        """Is pc's instruction one that survived an invalidate?  Then it is in scratch, to execute."""
        cdef int i
        cdef uint32_t raw, now
        for i in range(self.npref):
            if self.pref[i].pc == pc:
                self.scratch = self.pref[i].insn
                self.scratch_filled = self.pref[i].filled
                raw = self.scratch.raw
                if self.m.hook_mask & HOOK_FETCH:
                    now = ld16(self, pc)
                    if self.scratch.size == 4:
                        now = (now << 16) | ld16(self, pc + 2)
                    if now != raw:
                        self.fetch_event("cff", pc, raw >> 16 if self.scratch.size == 4 else raw,
                                         raw & 0xffff if self.scratch.size == 4 else -1, 0,
                                         [encoding(raw, self.scratch.size), encoding(now, self.scratch.size)])
                return 1
        return 0

    cdef int context_sync(self) except -1:
        """A context synchronization event (ISB; exception entry or return): fetch restarts from the next
        instruction, through the icache, and the prefetched instructions are dropped (E2.5.3.2)."""
        self.cur_tag = INVALID_TAG
        self.npref = 0
        return 0

    cdef int dsb(self) except -1:
        """DSB: this core's DCCMVAU cleans complete (model_pou), and its code stores are guaranteed visible to
        fills (model_store_order); until then a fill may miss them (ESOP §2, §3.4)."""
        cdef MachineCore m = self.m
        if m.model_pou:
            clean_complete(&m.log, &m.cleans[self.id])
        if m.model_store_order:
            m.dsb_seq[self.id] = m.log.wseq
            m.first_undsb[self.id] = 0
        return 0

    cdef line_t* icache_line(self, uint32_t addr) except NULL:
        """The line holding addr; on a miss, fill a victim way from memory as it is now."""
        cdef uint32_t tag = addr >> self.ic.line_shift, w
        cdef line_t* line = icache_lookup(&self.ic, tag)
        if line != NULL:
            return line
        if addr >= self.m.mem_size:
            self.fault(MemoryFault, "instruction fetch outside memory", addr)
        self.icache_misses += 1
        self.stall_cycles += self.m.miss_cost
        w = (self.m.random() % self.ic.ways) if self.m.replacement else icache_rr_victim(&self.ic, tag)
        line = &icache_set(&self.ic, tag)[w]
        if line.tag != INVALID_TAG:
            self.lose(line.tag)
        line = icache_fill(&self.ic, tag, w, self.m.mem + (tag << self.ic.line_shift), self.m.log.wseq)
        if self.m.model_granule or self.m.model_pou or self.m.model_store_order:
            self.relaxed_fill(line, tag)
        return line

    cdef int relaxed_fill(self, line_t* line, uint32_t tag) except -1:
        """Under a relaxed model, give each granule of a line just filled from memory as it is now a version
        from its could-fetch-from set (ESOP's cff), chosen adversarially from the seed.

        Version choice from the code-write log, not a timed non-atomic fill: the log holds every version with
        its number, so a fill costs nothing more when no write to its line is in doubt (the common case), and
        the candidates are explicit (the cff events, the UNPREDICTABLE check).  A granule (model_granule: the
        line, a word, a halfword; T32 fetch is single-copy atomic per halfword only, E2.2.1) may return the
        value it had at its floor or that of any later write to it, where the floor is its newest write the
        fill is sure to see:
          - below the line granule, only writes up to the moment this core last lost its copy of the line: the
            fill may have read the granule at any moment since (fills are speculative, E2.5.3.2);
          - model_pou: only writes cleaned to the PoU (DCCMVAU, clean_dcache_range) by a clean a DSB of the
            cleaner then completed; before that, the old value or any uncleaned newer one (ESOP §2, §4);
          - model_store_order (without pou): only a core's writes before its last DSB (ESOP §3.4); host writes
            are ordered.
        Several candidate values per location over time (CoFF) follow from refilling and choosing again.
        line.filled becomes the oldest chosen version's number (the stale and late-stale verdicts judge from
        it); the halfwords whose granule had two or more candidates are marked in line.cff.
        """
        cdef MachineCore m = self.m
        cdef codelog_t* log = &m.log
        cdef int64_t li = codelog_line(log, tag)
        cdef uint64_t now = log.wseq, bound, low, s, t, floor
        cdef uint64_t ws[MAX_FILL_WRITES]
        cdef uint64_t doubt[MAX_FILL_WRITES]
        cdef uint16_t base[128]
        cdef uint32_t nw = 0, slots = (self.ic.line_mask + 1) >> 1, gsize, g, h, j, n, pick, k
        cdef int c, who
        cdef bint sure
        if self.cff_cands:
            self.cff_cands.pop(tag, None)
        if li < 0 or log.line_written[li] == 0:
            return 0
        bound = now if m.model_granule == 0 or self.gone == NULL else max(self.gone[li], self.gone_all)
        low = bound
        if m.model_pou:
            low = min(low, log.line_cleaned[li])
        elif m.model_store_order:
            for c in range(m.ncores):
                if m.first_undsb[c] and m.first_undsb[c] - 1 < low:
                    low = m.first_undsb[c] - 1
        if log.line_written[li] <= low:
            return 0              # every write to the line is one the fill must see: it is exact
        if now > log.cap and low < now - log.cap:
            low = now - log.cap   # older history is overwritten: a later floor only drops candidates
        s = log.line_written[li]
        while s > low and nw < MAX_FILL_WRITES:
            ws[nw] = s
            nw += 1
            s = log.prev[s % log.cap]
        if s > low:
            low = s               # the line's older writes are below the floor (its value there is a candidate)
        # each halfword's value at `low`: the old value of its oldest write weighed, else memory's
        for h in range(slots):
            base[h] = line.hw[h]
        for j in range(nw):
            base[(log.addr[ws[j] % log.cap] & self.ic.line_mask) >> 1] = log.old[ws[j] % log.cap]
        gsize = slots if m.model_granule == 0 else 2 if m.model_granule == 1 else 1
        for g in range(0, slots, gsize):
            # the writes to the granule newer than its floor (newest first) and the floor itself
            n = 0
            floor = low
            for j in range(nw):
                s = ws[j]
                h = (log.addr[s % log.cap] & self.ic.line_mask) >> 1
                if h - g >= gsize:
                    continue
                sure = s <= bound
                if m.model_pou:
                    sure = sure and s <= log.line_cleaned[li]
                elif m.model_store_order:
                    who = log.who[s % log.cap]
                    sure = sure and (who < 0 or s <= m.dsb_seq[who])
                if sure:
                    floor = s
                    break
                if not later_in_store(log, s, g, gsize, self.ic.line_mask):
                    doubt[n] = s      # a moment between two halfwords of one store is no version
                    n += 1
            if n == 0:
                continue          # one candidate: memory's value
            if m.hook_mask & HOOK_FETCH:
                versions = [tuple(granule_at(log, ws, nw, base, g + k, self.ic.line_mask, floor)
                                  for k in range(gsize))]
                versions += [tuple(granule_at(log, ws, nw, base, g + k, self.ic.line_mask, doubt[n - 1 - j])
                                   for k in range(gsize)) for j in range(n)]
                self.cff_cands.setdefault(tag, {})[g] = versions
            for k in range(gsize):
                line.cff |= <uint64_t>1 << (g + k if g + k < 63 else 63)
            pick = m.choose(n + 1)          # 0: the floor; n: the newest write, memory's value
            if pick == n:
                continue
            t = floor if pick == 0 else doubt[n - pick]
            for k in range(gsize):
                line.hw[g + k] = granule_at(log, ws, nw, base, g + k, self.ic.line_mask, t)
            if t < line.filled:
                line.filled = t
        return 0

    cdef insn_t* decode_at(self, uint32_t pc) except NULL:
        """Decode the instruction at pc from the current line (and the next one, for a straddling 32-bit one)."""
        cdef line_t* line = self.cur_line
        cdef line_t* line2
        cdef uint32_t idx = (pc & self.ic.line_mask) >> 1, hw1 = line.hw[idx], hw2 = 0
        cdef uint64_t f1 = line.filled
        if is_thumb32(hw1):
            if idx == (self.ic.line_mask >> 1):
                # Straddles two lines: decoded afresh at every execution, never cached, so it cannot outlive
                # either line.  The halves may come from fills at different times: that is where tearing lives.
                line2 = self.icache_line(pc + 2)
                hw2 = line2.hw[0]
                self.cur_tag = INVALID_TAG
                decode(hw1, hw2, &self.scratch)
                self.scratch_filled = f1 if f1 < line2.filled else line2.filled
                if self.m.detect and torn(&self.m.log, self.m.mem, pc, hw1, hw2, self.scratch_filled,
                                          line.at if line.at > line2.at else line2.at):
                    self.torn_fetches += 1
                    self.fetch_event("torn", pc, hw1, hw2, 1)
                if (line.cff | line2.cff) and self.m.hook_mask & HOOK_FETCH:
                    self.cff_event(pc, hw1, hw2, line, line2)
                return &self.scratch
            hw2 = line.hw[idx + 1]
            # a relaxed fill may give the halves of one instruction different versions (E2.2.1)
            if line.filled != line.at and self.m.detect and torn(&self.m.log, self.m.mem, pc, hw1, hw2, line.filled,
                                                                 line.at):
                self.torn_fetches += 1
                self.fetch_event("torn", pc, hw1, hw2, 1)
        if line.cff and self.m.hook_mask & HOOK_FETCH:
            self.cff_event(pc, hw1, hw2 if is_thumb32(hw1) else -1, line, NULL)
        decode(hw1, hw2, &line.insn[idx])
        return &line.insn[idx]

    cdef int cff_event(self, uint32_t pc, uint32_t hw1, int64_t hw2, line_t* line, line_t* line2) except -1:
        """Deliver a "cff" fetch event when the instruction at pc (halfwords hw1, hw2 (-1: 16-bit) from line,
        and line2 when it straddles) could have been fetched as two or more encodings: its could-fetch-from set
        (ESOP's cff), from the candidate versions the relaxed fill weighed for its granules."""
        cdef uint32_t idx = (pc & self.ic.line_mask) >> 1, bit = idx if idx < 63 else 63
        cdef uint32_t idx2 = 0 if line2 != NULL else idx + 1
        cdef line_t* l2 = line2 if line2 != NULL else line
        if not ((line.cff >> bit) & 1 or (hw2 >= 0 and (l2.cff >> (idx2 if idx2 < 63 else 63)) & 1)):
            return 0
        first = self.granule_versions(line, idx)
        candidates = []
        for v1, g1 in first:
            a = v1[idx - g1]
            if not is_thumb32(a):
                enc = (a,)
                if enc not in candidates:
                    candidates.append(enc)
                continue
            if line2 == NULL and idx + 1 - g1 < len(v1):
                seconds = [v1[idx + 1 - g1]]          # the same granule: one version for both halves
            else:
                seconds = [v2[idx2 - g2] for v2, g2 in self.granule_versions(l2, idx2)]
            for b in seconds:
                if (a, b) not in candidates:
                    candidates.append((a, b))
        if len(candidates) >= 2:
            self.fetch_event("cff", pc, hw1, hw2, 0, candidates)
        return 0

    cdef object granule_versions(self, line_t* line, uint32_t idx):
        """[(version, first slot)] of the granule holding slot idx: its candidates, or what the line holds."""
        cands = self.cff_cands.get(line.tag, {})
        for g, versions in cands.items():
            if g <= idx < g + len(versions[0]):
                return [(v, g) for v in versions]
        return [((line.hw[idx],), idx)]

    cdef int check_fetch(self, uint32_t pc, insn_t* d) except -1:
        """Compare what the core is about to execute with memory: stale (icache on) or refill (icache off).

        A stale fetch inside an update's window (between a write and the sync that follows it) is what every
        patching protocol expects; one whose bytes were overwritten by a write that a completed sync claimed
        visible everywhere (Machine.completed_wseq) is a violation: late_stale_fetches.
        """
        cdef uint32_t now = ld16(self, pc)
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
        late = stale_verdict(&self.m.log, pc, d.size,
                             self.scratch_filled if d == &self.scratch else self.cur_line.filled) == FETCH_LATE_STALE
        if late:
            self.late_stale_fetches += 1
        self.fetch_event("stale-after-sync" if late else "stale", pc,
                         d.raw >> 16 if d.size == 4 else d.raw, d.raw & 0xffff if d.size == 4 else -1, late)
        return 0

    cdef int fetch_event(self, str kind, uint32_t pc, uint32_t hw1, int64_t hw2, bint violation,
                         object candidates=None) except -1:
        """Deliver a torn, stale or cff fetch to the fetch hooks (built only if there are any); a violation stops
        the run when the machine says so."""
        cdef object seen, memory
        cdef bint stop = violation and self.m.stop_on_violation
        if not (self.m.hook_mask & HOOK_FETCH or stop):
            return 0
        if hw2 < 0:
            seen, memory = (hw1,), (ld16(self, pc),)
        else:
            seen, memory = (hw1, <uint32_t>hw2), (ld16(self, pc), ld16(self, pc + 2))
        if self.m.hook_mask & HOOK_FETCH:
            ev = {"kind": kind, "core": self.id, "pc": pc, "seen": seen, "memory": memory,
                  "cycles": self.instructions + self.stall_cycles, "instructions": self.instructions}
            if candidates is not None:
                ev["candidates"] = candidates
            for h in list(self.m.hook_lists["fetch"]):
                h(self, ev)
        if stop:
            words = " ".join(f"{h:04x}" for h in seen)
            mem = " ".join(f"{h:04x}" for h in memory)
            raise FetchViolation(f"{kind} fetch: executed {words}, memory holds {mem}",
                                 core=self.id, pc=pc, insn=(hw1 << 16 | <uint32_t>hw2) if hw2 >= 0 else hw1)
        return 0

    # ---- faults, exceptions, host calls, MMIO ----

    cdef int fault(self, type cls, str msg, object addr=None) except -1:
        raise cls(msg, core=self.id, pc=self.cur_pc, insn=self.cur_raw, addr=addr)

    cdef int exception(self, str kind, uint32_t imm, uint32_t pc) except -1:
        """Take a BKPT/SVC/UDF exception to the host chain `kind`.  Atomic on the ideal machine; under
        handler_cycles the core spends that long in the handler first, and the chain is consulted at its end, as
        it then stands (a patcher that disarmed the handler meanwhile leaves the exception unhandled: the hazard
        of x86 commit 285a54efe386).  Entry and return are context synchronization events."""
        self.context_sync()
        if self.m.model_handler_cycles:
            self.enter_handler(kind, imm, pc, None)
            return 0
        self.exception_body(kind, imm, pc)
        self.context_sync()
        return 0

    cdef int exception_body(self, str kind, uint32_t imm, uint32_t pc) except -1:
        """Offer the exception to each handler in order; the first that takes it says where to resume."""
        cdef int64_t r
        for h in self.m.hook_lists[kind]:
            if isinstance(h, ExceptionHandler):
                r = (<ExceptionHandler>h).handle(self, imm, pc)
            else:
                res = h(self, imm, pc)
                r = -1 if res is None else <int64_t>res
            if r >= 0:
                self.pc = <uint32_t>r & 0xfffffffeu
                return 0
        if kind == "udf":
            self.fault(UndefinedInstruction, f"UDF #{imm} with no handler")
        self.fault(UnhandledException, f"{kind.upper()} #{imm} with no handler")

    cdef void enter_handler(self, str exc, uint32_t imm, uint32_t pc, list ipis) noexcept:
        """Enter a host handler that takes handler_cycles; its body (exception chain exc, or the IPI functions
        ipis) runs at the end.  IPIs stay pending meanwhile, as an int3 handler runs with IRQs off on x86."""
        self.in_handler = 1
        self.handler_left = self.m.model_handler_cycles
        self.handler_exc, self.handler_imm, self.handler_pc, self.handler_ipis = exc, imm, pc, ipis
        self.m.handlers_active += 1
        self.attention |= ATTN_HANDLER

    cdef int64_t handler_tick(self, int64_t room) except -1:
        """Spend up to room cycles of the current handler (charged as stall cycles); at its end run the body
        and return from the exception.  Returns the cycles spent."""
        cdef int64_t k = <int64_t>self.handler_left if <int64_t>self.handler_left < room else room
        self.handler_left -= k
        self.stall_cycles += k
        self.handler_time += k
        if self.handler_left:
            return k
        exc, ipis = self.handler_exc, self.handler_ipis
        self.handler_exc, self.handler_ipis = None, None
        self.in_handler = 0
        self.m.handlers_active -= 1
        self.attention &= ~ATTN_HANDLER
        if ipis is not None:
            self.run_ipis(ipis)
        else:
            self.exception_body(exc, self.handler_imm, self.handler_pc)
        self.context_sync()
        return k

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
        if SCS_BASE <= a < SCS_END:
            return 0x412FC230 if a == SCS_CPUID else 0
        self.fault(MemoryFault, f"{size * 8}-bit load outside memory", a)

    cdef int mmio_write(self, uint32_t a, uint32_t v, int size) except -1:
        if SMP_BASE <= a < SMP_BASE + SMP_SIZE:
            self.m.smp_write(self, a - SMP_BASE, v)
        elif a == SCS_ICIALLU:
            self.icache_invalidate_all()
        elif a == SCS_ICIMVAU:
            self.icache_invalidate_mva(v)
        elif a == SCS_DCCMVAU:
            if self.m.model_pou:      # with coherent data caches and no PoU buffer there is nothing to clean
                clean_request(&self.m.log, &self.m.cleans[self.id], v)
        elif not (SCS_BASE <= a < SCS_END):
            self.fault(MemoryFault, f"{size * 8}-bit store outside memory", a)
        return 0

    cdef int store_slow(self, uint32_t a, uint32_t v, int size) except -1:
        if a > self.m.mem_size - size:
            return self.mmio_write(a, v, size)
        if self.m.n_excl:
            self.m.clear_monitors(self, a)
        if (a - self.m.log.fast_lo) < self.m.log.fast_len:
            return self.m.logged_store(self, a, v, size)
        if size == 4:
            memcpy(self.m.mem + a, &v, 4)
        elif size == 2:
            memcpy(self.m.mem + a, &v, 2)
        else:
            self.m.mem[a] = <uint8_t>v
        return 0

    cdef int take_attention(self) except -1:
        """Called at an instruction boundary when something is pending; returns 1 to end the quantum.

        A pending IPI is taken once its delay has run, unless PRIMASK is set or the core is inside a host handler:
        a pending exception is taken only when its priority permits (ARMv7-M ARM B1.5).  Until then ATTN_IPI
        stays set, so only a core with an IPI pending comes here at every instruction.  Every queued function
        runs when the IPI is taken, as Linux's IPI handler flushes its whole call_single_queue.
        """
        if self.attention & ATTN_IPI and not self.primask and not self.in_handler \
                and self.instructions >= self.ipi_due:
            self.attention &= ~ATTN_IPI
            queue, self.ipi_queue = self.ipi_queue, []
            if self.excl_valid:
                self.excl_valid = 0
                self.m.n_excl -= 1
            self.context_sync()
            if self.m.model_handler_cycles:
                self.enter_handler(None, 0, 0, queue)
            else:
                self.run_ipis(queue)
                self.context_sync()
        if self.attention & ATTN_STOP:
            self.attention &= ~ATTN_STOP
            return 1
        return self.state != CORE_RUNNING

    cdef int run_ipis(self, list queue) except -1:
        for fn in queue:
            self.ipis_taken += 1
            self.stall_cycles += self.m.ipi_cost
            if self.m.hook_mask & HOOK_IPI:
                for h in list(self.m.hook_lists["ipi"]):
                    h(self, fn)
            fn(self)
        return 0

    # ---- the interpreter ----

    cdef long run(self, long budget) except -1:
        """Execute up to budget instructions; returns how many ran, plus the cycles spent inside host handlers
        (which use the budget too, so a recorded quantum replays exactly).  Stops early when the core stops."""
        cdef uint64_t start = self.instructions, limit = <uint64_t>budget, h0 = self.handler_time
        cdef insn_t* d
        cdef uint32_t pc, cond
        cdef bint in_it
        cdef MachineCore m = self.m
        # With the icache on, a line can only differ from memory after a watched code write (wseq moved since
        # its fill); with it off, every fetch is checked, and a difference refills.
        cdef bint check_all = not m.icache
        while self.instructions - start < limit:
            if self.attention:
                if self.take_attention():
                    break
                if self.in_handler:
                    limit -= self.handler_tick(limit - (self.instructions - start))
                    continue
            pc = self.pc
            if (pc >> self.ic.line_shift) != self.cur_tag:
                if pc >= m.mem_size:
                    if HOSTCALL_BASE <= pc < HOSTCALL_BASE + 4 * HOSTCALL_SLOTS:
                        self.host_call(pc)
                        continue
                    self.cur_pc = pc
                    self.cur_raw = 0
                    self.fault(MemoryFault, "instruction fetch outside memory", pc)
                if self.npref and self.prefetch_hit(pc):
                    d = &self.scratch
                else:
                    self.cur_line = self.icache_line(pc)
                    if not self.npref:
                        self.cur_tag = pc >> self.ic.line_shift
                    d = &self.cur_line.insn[(pc & self.ic.line_mask) >> 1]
            else:
                d = &self.cur_line.insn[(pc & self.ic.line_mask) >> 1]
            if d.op == OP_UNDECODED:
                d = self.decode_at(pc)
            self.cur_pc = pc
            self.cur_raw = d.raw
            if m.log.n_fetch_watch and fetch_watched(&m.log, pc):
                self.watched_fetches += 1
            if check_all or self.cur_line.filled != m.log.wseq or d == &self.scratch:
                if (m.detect or check_all) and self.check_fetch(pc, d):
                    continue
            self.instructions += 1
            self.r[15] = pc + 4
            self.pc = pc + d.size
            in_it = self.itstate != 0
            if in_it:
                cond = self.itstate >> 4
                if (self.itstate & 7) == 0:
                    self.itstate = 0
                else:
                    self.itstate = (self.itstate & 0xe0) | ((self.itstate << 1) & 0x1f)
                if not ConditionPassed(self, cond):
                    continue
            if execute(self, d, pc, in_it):
                break
        self.attention &= ~ATTN_STOP    # a stop request ends the quantum it was made in, never a later one
        return self.instructions - start + (self.handler_time - h0)

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
        """Run up to count instructions on this core alone; returns how many ran (plus handler cycles, see run)."""
        if self.state == CORE_OFF:
            self.state = CORE_RUNNING
        return self.run(count)

    def flush_icache(self):
        """Invalidate this core's whole icache (from the host: an IPI's handler, a stopper)."""
        self.icache_invalidate_all(True)

    def isb(self):
        """An ISB on this core from the host (a patcher's own, a released stop_machine waiter's): a context
        synchronization event."""
        self.context_sync()

    def flush_icache_range(self, uint32_t start, uint32_t end):
        """Invalidate the lines of [start, end) in this core's icache (from the host)."""
        cdef uint32_t size = self.ic.line_mask + 1, a = start & ~self.ic.line_mask
        if end > start and end - start >= size * self.ic.nsets * self.ic.ways:
            self.icache_invalidate_all(True)      # a range as big as the cache: flush_cache_all, not a long walk
            return
        while a < end:
            self.icache_invalidate_mva(a, True)
            if a + size < a:
                break
            a += size

    def send_ipi(self, fn):
        """Queue fn(core) to run on this core when it takes the IPI: at its next unmasked instruction boundary,
        after a delay of 0..ipi_latency of its own instructions (MachineCore.ipi_delay) drawn now."""
        cdef uint64_t due = self.instructions + self.m.ipi_delay()
        if not self.ipi_queue or due < self.ipi_due:
            self.ipi_due = due
        self.ipi_queue.append(fn)
        self.attention |= ATTN_IPI

    def request_stop(self):
        self.attention |= ATTN_STOP

    @property
    def ipi_pending(self):
        return bool(self.ipi_queue)

    @property
    def primask(self):
        """PRIMASK (CPSID i sets it): while 1 the core takes no IPI."""
        return self.primask

    def evict_random_line(self):
        """Invalidate one line chosen by the machine's generator (widens the windows stale lines survive in)."""
        self.evict_line()

    def evict(self, uint32_t addr):
        """Evict the line holding addr, as a replacement would (no prefetch effect); returns whether it was held.
        A model checker's explicit eviction choice (the seeded evict_rate draws its victim instead)."""
        cdef uint32_t tag = addr >> self.ic.line_shift
        if icache_lookup(&self.ic, tag) == NULL:
            return False
        self.lose(tag)
        ic_invalidate_mva(&self.ic, addr)
        if tag == self.cur_tag:
            self.cur_tag = INVALID_TAG
        return True

    def line_state(self, uint32_t addr):
        """(halfwords held or None, filled, gone) of the line holding addr, for a model checker's state hash:
        what this core caches of it, the log version it judges stale from, when the core last lost it."""
        cdef uint32_t tag = addr >> self.ic.line_shift
        cdef line_t* line = icache_lookup(&self.ic, tag)
        cdef int64_t li = codelog_line(&self.m.log, tag)
        gone = self.gone[li] if li >= 0 and self.gone != NULL else 0
        if line == NULL:
            return None, 0, gone
        return tuple(line.hw[i] for i in range((self.ic.line_mask + 1) >> 1)), line.filled, gone

    @property
    def prefetched(self):
        """((pc, raw), ...) of the instructions kept across an invalidate (model prefetch)."""
        return tuple((self.pref[i].pc, self.pref[i].insn.raw) for i in range(self.npref))

    def icache_contents(self, uint32_t addr):
        """The halfword the icache holds for addr, or None on a miss (no fill: for tests and the explorer)."""
        cdef int64_t hw = icache_contents(&self.ic, addr)
        return None if hw < 0 else hw

    def stats(self):
        return {"core": self.id, "instructions": self.instructions, "cycles": self.cycles,
                "icache_misses": self.icache_misses,
                "icache_hits": self.instructions - self.icache_misses, "ipis": self.ipis_taken,
                "bkpt_hits": self.bkpt_hits, "stale_fetches": self.stale_fetches,
                "late_stale_fetches": self.late_stale_fetches,
                "torn_fetches": self.torn_fetches}



cdef class MachineCore:
    """Shared state of the simulated SMP: coherent memory, the cores, the code-write log, handler chains, hooks."""

    def __cinit__(self, int cores=1, uint32_t mem_size=64 << 20, bint icache=True, uint32_t icache_size=32768,
                  uint32_t icache_ways=4, object line_size=None, str replacement="round-robin",
                  uint64_t seed=0, *args, model="ideal", **kwargs):
        cdef uint32_t sets
        self.model = get_model(model)
        # the knobs the C paths read, derived once from the model (read-only: m.model is what a verdict names)
        self.model_ipi_latency = self.model.ipi_latency
        self.model_granule = GRANULES.index(self.model.fetch_granule)
        self.model_pou = self.model.pou
        self.model_store_order = self.model.store_order
        self.model_prefetch = self.model.prefetch
        self.model_ic_clears_prefetch = self.model.ic_clears_prefetch
        self.model_handler_cycles = self.model.handler_cycles
        if line_size is None:
            line_size = self.model.line_size
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
        self.miss_cost = 0
        self.ipi_cost = 0
        self.hostcall_cost = 1
        codelog_init(&self.log, 1 << 16)
        self.cleans = <cleans_t*>calloc(cores + 1, sizeof(cleans_t))
        self.dsb_seq = <uint64_t*>calloc(cores, sizeof(uint64_t))
        self.first_undsb = <uint64_t*>calloc(cores, sizeof(uint64_t))
        if not self.cleans or not self.dsb_seq or not self.first_undsb:
            raise MemoryError()
        self.ncores = cores
        self.cores = [Core(self, i, sets, icache_ways, line_size) for i in range(cores)]
        self.hook_lists = {kind: [] for kind in HOOK_KINDS}
        self.hooks = {}
        self.hostcalls = []
        self.exit_code = None

    def __dealloc__(self):
        cdef int i
        codelog_free(&self.log)
        if self.cleans != NULL:
            for i in range(self.ncores + 1):
                free(self.cleans[i].line)
                free(self.cleans[i].seq)
        free(self.cleans)
        free(self.dsb_seq)
        free(self.first_undsb)
        free(self.mem)

    cdef uint64_t random(self) noexcept:
        # xorshift64*: the machine's only source of randomness but the scheduler's, so a seed replays a run
        self.rng ^= self.rng >> 12
        self.rng ^= self.rng << 25
        self.rng ^= self.rng >> 27
        return (self.rng * 0x2545F4914F6CDD1Du) >> 11

    cdef uint64_t ipi_delay(self) except? 0xFFFFFFFFFFFFFFFF:
        # Adversarial: 0 a quarter of the time, ipi_latency a quarter, otherwise uniform in 0..ipi_latency, so
        # both extremes are common.  Nothing is drawn on the ideal machine, which keeps its generator's stream.
        cdef uint64_t n = self.model_ipi_latency, r
        if n == 0:
            return 0
        if self.chooser is not None:
            return self.ask("ipi", n + 1)
        r = self.random() % 4
        if r == 0:
            return 0
        if r == 1:
            return n
        return self.random() % (n + 1)

    cdef uint32_t choose(self, uint32_t n, str kind="cff") except? 0xFFFFFFFF:
        """One of n candidates, 0 the oldest: adversarially, the oldest and the newest each a quarter of the time
        (the extremes are where protocols break), otherwise uniformly; from the seed, so a run replays.  kind
        ('cff': a relaxed fill's version, 'prefetch': how many instructions survive an invalidate) is for the
        chooser."""
        cdef uint64_t r
        if self.chooser is not None:
            return self.ask(kind, n)
        r = self.random()
        if r & 3 == 0:
            return 0
        if r & 3 == 1:
            return n - 1
        return (r >> 2) % n

    cdef uint32_t ask(self, str kind, uint32_t n) except? 0xFFFFFFFF:
        """The chooser's pick among n (Machine.set_chooser), which must be in [0, n)."""
        cdef object v = self.chooser(kind, n)
        if not 0 <= v < n:
            raise ValueError(f"chooser returned {v!r} for a {kind} choice among {n}")
        return v

    cdef int clear_prefetch(self, Core keep) except -1:
        """model_ic_clears_prefetch: an icache invalidate clears every core's prefetched instructions but keep's."""
        cdef Core c
        for c in self.cores:
            if c is not keep:
                c.npref = 0
        return 0

    @property
    def instructions(self):
        """Guest instructions run by all cores together (the scheduler's `until` compares against it each step)."""
        cdef uint64_t n = 0
        cdef Core c
        for c in self.cores:
            n += c.instructions
        return n

    def rand(self, uint64_t n):
        """A number in [0, n) from the machine's seeded generator."""
        if n == 0:
            raise ValueError("rand(0)")
        return self.random() % n

    # ---- hooks: hook_add returns a handle, hook_del removes it (as Unicorn's uc_hook_add / uc_hook_del) ----

    cdef void update_hook_mask(self) noexcept:
        self.hook_mask = 0
        for kind, bit in HOOK_KINDS.items():
            if self.hook_lists[kind]:
                self.hook_mask |= bit

    def hook_add(self, kind, callback, bint first=False):
        """Call `callback` on events of `kind`; returns a handle for hook_del.  Kinds and calls:

          "fetch"       callback(core, event) for every torn, stale and late-stale fetch, none dropped; event is
                        a dict: kind ("torn", "stale", "stale-after-sync", "cff"), core, pc, seen and memory (the
                        halfwords executed and those in memory), cycles, instructions.  "cff" (relaxed models
                        only): the instruction could have been fetched as two or more encodings, listed in
                        candidates (tuples of halfwords, oldest version first): at its first execution after a
                        fill that weighed several versions of its granules, or at each execution of a
                        prefetched instruction memory no longer holds
          "bkpt", "udf", "svc"   the exception chains: callback(core, imm, pc) returns the pc to resume at, or
                        None to offer the exception to the next handler; an ExceptionHandler (C) works the same
          "ipi"         callback(core, fn) as core takes the IPI fn, before fn runs (under handler_cycles: at the
                        end of the IPI handler's time)
          "code_write"  callback(core, addr, old, new, seq) for each logged halfword write to watched code (core
                        is None for a host write; seq is the write's number, Machine.wseq after it)
          "fault"       callback(core, fault) when a core's instructions raise a GuestFault: a true return says the
                        callback dealt with it (it restarted the core, say) and the machine goes on, as
                        Unicorn's invalid-access hooks do; otherwise the fault propagates
          "advance"     callback(machine) as Machine.advance returns (after an agent's action or a batch of
                        steps), also when it raises

        Hooks of one kind run in the order added; first=True puts this one ahead of those already there.
        A machine with no hook of a kind pays one flag test where the event happens.
        """
        if kind not in HOOK_KINDS:
            raise ValueError(f"unknown hook kind {kind!r}; kinds: {', '.join(HOOK_KINDS)}")
        if not callable(callback) and not (kind in EXCEPTION_CHAINS and isinstance(callback, ExceptionHandler)):
            raise TypeError(f"a {kind} hook must be callable"
                            + (" or an ExceptionHandler" if kind in EXCEPTION_CHAINS else "")
                            + f", got {type(callback).__name__}")
        hooks = self.hook_lists[kind]
        if first:
            hooks.insert(0, callback)
        else:
            hooks.append(callback)
        self.next_hook += 1
        self.hooks[self.next_hook] = (kind, callback)
        self.update_hook_mask()
        return self.next_hook

    def hook_del(self, handle):
        """Remove the hook hook_add returned `handle` for; it is not called again."""
        if handle not in self.hooks:
            raise ValueError(f"no hook with handle {handle!r}")
        kind, callback = self.hooks.pop(handle)
        hooks = self.hook_lists[kind]
        for i in range(len(hooks)):
            if hooks[i] is callback:
                del hooks[i]
                break
        self.update_hook_mask()

    def run_advance_hooks(self):
        for h in list(self.hook_lists["advance"]):
            h(self)

    def fault_handled(self, core, fault):
        """True when a fault hook dealt with `fault` raised by `core`'s instructions."""
        return any(h(core, fault) for h in list(self.hook_lists["fault"]))

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
        cdef uint64_t n = data.shape[0], i, first, s
        self.check_range(addr, n)
        if n == 0:
            return
        if self.log.watch_len and addr < self.log.watch_lo + self.log.watch_len and addr + n > self.log.watch_lo:
            first = self.log.wseq + 1
            for i in range(n):
                self.logged_store(None, <uint32_t>(addr + i), data[i], 1)
            for s in range(first, self.log.wseq):
                self.log.more[s % self.log.cap] = 1     # one host write is one moment for fills
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

    cdef int clear_monitors(self, Core writer, uint32_t a) except -1:
        cdef Core c
        for c in self.cores:
            if c is not writer and c.excl_valid and (c.excl_addr & ~7u) == (a & ~7u):
                c.excl_valid = 0
                self.n_excl -= 1
        return 0

    # ---- the code-write log (codelog.pyx) ----

    def watch_code(self, uint32_t lo, uint32_t hi):
        """Log every write to [lo, hi) so a straddling instruction's halves can be checked for tearing (and
        relaxed fills can choose among its versions)."""
        cdef Core c
        codelog_watch(&self.log, lo, hi, (<Core>self.cores[0]).ic.line_shift)
        for c in self.cores:
            free(c.gone)
            c.gone = <uint64_t*>calloc(self.log.nlines, sizeof(uint64_t))
            if c.gone == NULL:
                raise MemoryError()

    cdef int logged_store(self, Core writer, uint32_t a, uint32_t v, int size) except -1:
        cdef uint64_t s, first = self.log.wseq + 1
        cdef uint32_t k, n = log_store(&self.log, self.mem, a, v, size, -1 if writer is None else writer.id)
        if n and writer is not None and self.first_undsb[writer.id] == 0:
            self.first_undsb[writer.id] = first
        if n and self.hook_mask & HOOK_CODE_WRITE:
            for s in range(first, self.log.wseq + 1):
                k = s % self.log.cap
                for h in list(self.hook_lists["code_write"]):
                    h(writer, self.log.addr[k], self.log.old[k], self.log.new[k], s)
        return 0

    def set_fetch_watch(self, addrs):
        """Count every core's fetches of these instruction addresses in Core.watched_fetches (empty: off)."""
        codelog_set_fetch_watch(&self.log, addrs)

    @property
    def wseq(self):
        """The number of logged writes to watched code so far."""
        return self.log.wseq

    @property
    def completed_wseq(self):
        """Writes up to this number are claimed visible to every core (a sync returned): later fetches of bytes
        they overwrote are late-stale."""
        return self.log.completed

    @completed_wseq.setter
    def completed_wseq(self, uint64_t v):
        self.log.completed = v

    # ---- icaches seen from the host ----

    def flush_icache_range(self, uint32_t start, uint32_t end, cores=None):
        """Invalidate [start, end) in the icaches of the given cores (all by default)."""
        for c in (self.cores if cores is None else [self.cores[i] for i in cores]):
            c.flush_icache_range(start, end)

    def flush_icache(self, cores=None):
        for c in (self.cores if cores is None else [self.cores[i] for i in cores]):
            c.flush_icache()

    def clean_dcache_range(self, uint32_t start, uint32_t end):
        """Clean [start, end) to the PoU (DCCMVAU per line, by the host): under model_pou, fills are sure to see
        the code written there so far once a dsb() completes it (E2.5.3.2).  A no-op on other models."""
        cdef uint32_t size = self.line_size, a
        if not self.model_pou or not self.log.nlines:
            return
        start = max(start, self.log.watch_lo)        # only watched code has writes fills could miss
        end = min(end, self.log.watch_lo + self.log.watch_len)
        a = start & ~(size - 1)
        while a < end:
            clean_request(&self.log, &self.cleans[self.ncores], a)
            a += size

    def dsb(self, int cpu):
        """A DSB by the host agent on core `cpu`: completes the host's cleans and that core's (model_pou) and
        makes that core's code stores visible to fills (model_store_order).  A no-op on other models."""
        cdef Core c
        if not 0 <= cpu < self.ncores:
            raise ValueError(f"no core {cpu}")
        c = self.cores[cpu]
        c.dsb()
        if self.model_pou:
            clean_complete(&self.log, &self.cleans[self.ncores])

    # ---- what the Python Machine provides ----

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
