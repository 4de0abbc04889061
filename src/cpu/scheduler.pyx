# cython: language_level=3
"""The scheduler's inner loop (the policy around it, agents and replay, is Machine.advance in machine.py)."""
from libc.stdint cimport uint32_t, uint64_t
from cpu.core cimport Core, MachineCore, CORE_RUNNING, HOOK_FAULT
from cpu.faults import GuestFault

DEF MAX_ACTORS = 512


cdef class Scheduler:
    """One per machine; all its choices come from its own seeded generator, so a seed replays a run."""

    def __cinit__(self, MachineCore m, uint64_t seed=0):
        self.m = m
        self.rng = seed * 0xD1B54A32D192ED03u + 0x8CB92BA72F3D8DD7u

    cdef uint64_t random(self) noexcept:
        # xorshift64*, as MachineCore.random
        self.rng ^= self.rng >> 12
        self.rng ^= self.rng << 25
        self.rng ^= self.rng >> 27
        return (self.rng * 0x2545F4914F6CDD1Du) >> 11

    cpdef long run_core(self, int i, long budget, uint32_t evict_rate=0) except -1:
        """Let core i run up to budget instructions (it leaves early if it stops); returns how many ran.
        With evict_rate (in 1/65536) the machine's generator may first evict one of its icache lines.
        A guest fault that a fault hook deals with ends the quantum; any other propagates."""
        cdef Core c = self.m.cores[i]
        cdef uint64_t start = c.instructions + c.handler_time     # the budget a quantum uses (Core.run)
        if evict_rate and self.m.random() % 65536 < evict_rate:
            c.evict_line()
        if not self.m.hook_mask & HOOK_FAULT:
            return c.run(budget)
        try:
            return c.run(budget)
        except GuestFault as e:
            if not self.m.fault_handled(c, e):
                raise
            return c.instructions + c.handler_time - start

    cpdef Outcome run(self, Mode mode, long quantum, tuple agent_cpus, list record, long max_steps,
                      uint64_t until_instructions, uint32_t evict_rate) except *:
        """Up to max_steps steps, each letting one actor run a quantum (until_instructions: stop once the
        cores have run that many in all, 0 for no target).  Core steps are appended to record as (core,
        instructions run) and counted in self.steps; an agent's step is left to the caller (AGENT)."""
        cdef int actors[MAX_ACTORS]
        cdef bint busy[MAX_ACTORS]
        cdef int nact, na = len(agent_cpus), i, pick
        cdef long q
        cdef uint64_t total = 0, best, cyc
        cdef MachineCore m = self.m
        cdef Core c
        if na > m.ncores:
            raise ValueError("more agents than cores")
        self.steps = 0
        for c in m.cores:
            total += c.instructions
            busy[c.id] = 0
        for i in range(na):
            busy[<int>agent_cpus[i]] = 1
        while self.steps < max_steps and m.exit_code is None:
            if until_instructions and total >= until_instructions:
                break
            nact = 0
            for i in range(na):
                actors[nact] = -1 - i
                nact += 1
            for c in m.cores:
                if c.state == CORE_RUNNING and not busy[c.id]:
                    actors[nact] = c.id
                    nact += 1
            if nact == 0:
                return DEADLOCK
            if mode == RANDOM:
                pick = self.random() % nact
                q = 1 + self.random() % (2 * quantum)
            elif mode == TIMED:
                # discrete-event order: whoever is furthest behind in cycles runs next (agents first on ties),
                # so an agent's writes and the cores' instructions advance at the rates their costs say
                pick = 0
                best = 0xFFFFFFFFFFFFFFFFu
                for i in range(nact):
                    c = m.cores[<int>agent_cpus[-1 - actors[i]] if actors[i] < 0 else actors[i]]
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
                self.agent = -1 - actors[pick]
                self.quantum = q
                return AGENT
            c = m.cores[actors[pick]]
            q = self.run_core(c.id, q, evict_rate)
            record.append((c.id, q))
            total += q
            self.steps += 1
        return DONE
