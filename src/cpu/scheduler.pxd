# The deterministic scheduler's inner loop in C: picks the next actor (a core or a host agent) and runs cores'
# quanta until an agent is picked, the step budget or instruction target is used up, or nothing can run.
from libc.stdint cimport uint32_t, uint64_t
from cpu.core cimport MachineCore

cpdef enum Outcome:
    DONE = 0        # steps or instruction target used up, or the program exited
    AGENT = 1       # agent number Scheduler.agent was picked: the caller runs one action of it
    DEADLOCK = 2    # no core can run and no agent exists

cpdef enum Mode:
    ROUND_ROBIN = 0
    RANDOM = 1
    TIMED = 2       # the actor with the fewest cycles runs next (discrete-event order, for cost measurements)


cdef class Scheduler:
    cdef MachineCore m
    cdef uint64_t rng             # the scheduler's own stream: replaying a record leaves the machine's in step
    cdef public uint64_t rr_pos
    cdef readonly int agent       # after AGENT: which agent (index into the agent_cpus given) ...
    cdef readonly long quantum    # ... and the quantum it gets
    cdef readonly long steps      # core steps the last run() took

    cdef uint64_t random(self) noexcept
    cpdef Outcome run(self, Mode mode, long quantum, tuple agent_cpus, list record, long max_steps,
                      uint64_t until_instructions, uint32_t evict_rate) except *
    cpdef long run_core(self, int i, long budget, uint32_t evict_rate=*) except -1
