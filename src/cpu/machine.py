"""The simulated SMP machine: cores, loading, semihosting, the SMP block and the deterministic scheduler.

The scheduler advances the machine in steps.  Each step picks one actor: a core runs a quantum of instructions,
or a host agent (a generator: the code that patches, for instance) runs one action on the core it occupies.
All choices come from the machine's seeded generator, and every step is recorded, so a run replays exactly
from (program, configuration, seed) or from its recorded schedule.
"""
import sys

from cpu.core import MachineCore, CoreState
from cpu.faults import GuestFault, InstructionLimit, MemoryFault
from cpu.loader import load_elf
from cpu.scheduler import Scheduler, Outcome, Mode
from cpu.semihosting import Semihosting
from cpu import memmap

CORE_OFF, CORE_RUNNING = CoreState.CORE_OFF, CoreState.CORE_RUNNING
CORE_STOPPED, CORE_PARKED = CoreState.CORE_STOPPED, CoreState.CORE_PARKED
SCHEDULES = ("round-robin", "random", "timed")
MODES = {"round-robin": Mode.ROUND_ROBIN, "random": Mode.RANDOM, "timed": Mode.TIMED}


class Deadlock(GuestFault):
    """No core can run and the program has not exited."""
    kind = "deadlock"


class Agent:
    """A host actor occupying one core: `gen` yields after each action, or yields a callable to wait on."""

    def __init__(self, gen, cpu, name):
        self.gen, self.cpu, self.name = gen, cpu, name
        self.wait = None
        self.done = False
        self.steps = 0
        self.result = None

    def ready(self):
        if self.wait is not None and self.wait():
            self.wait = None
        return self.wait is None

    def step(self):
        self.steps += 1
        try:
            out = next(self.gen)
        except StopIteration as e:
            self.done = True
            self.result = e.value
            return
        if callable(out):
            self.wait = out


class Machine(MachineCore):
    """`Machine(cores=N)`: N Thumb-2 cores sharing one memory, each with its own non-coherent icache.

    Keyword arguments: model (a cpu.model.Model or a preset name, default 'ideal': how far fetch, IPIs and
    handlers are relaxed; m.model), mem_size, icache (False = always coherent baseline), icache_size,
    icache_ways, line_size (the model's unless given), replacement ('round-robin' or 'random'), seed, schedule ('round-robin', 'random', or 'timed':
    the actor with the fewest cycles runs next, for cost measurements),
    quantum (instructions per step; the mean for 'random'), evict_rate (per-step chance, in 1/65536, of evicting
    a random icache line on the running core), and the costs miss_cost, ipi_cost, hostcall_cost (cycles).
    """

    def __init__(self, cores=1, mem_size=64 << 20, icache=True, icache_size=32768, icache_ways=4,
                 line_size=None, replacement="round-robin", seed=0, schedule="round-robin", quantum=1000,
                 evict_rate=0, miss_cost=0, ipi_cost=0, hostcall_cost=1, cpu_hz=100_000_000, *, model="ideal"):
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
        if quantum < 1:
            raise ValueError(f"quantum must be at least 1, got {quantum}")
        self.seed = seed
        self.scheduler = Scheduler(self, seed)
        self.schedule_mode = schedule
        self.quantum = quantum
        self.evict_rate = evict_rate
        self.miss_cost, self.ipi_cost, self.hostcall_cost = miss_cost, ipi_cost, hostcall_cost
        self.cpu_hz = cpu_hz
        self.image = None
        self.semihosting = None
        self.agents = []
        self.record = []          # [(actor, count)]: actor is a core number or "agent:<cpu>"
        self.replay_schedule = None
        self.boot = [dict(pc=0, sp=0, arg=0, status=0) for _ in range(cores)]
        self.hostcalls.append(self._cpu_exit)   # slot 0: where a started core's function returns

    # ---- loading ----

    def load_elf(self, path, argv=None, stdin=None, stdout=None, stderr=None):
        """Load an ARM ELF executable, point core 0 at its entry and attach semihosting (rdimon)."""
        image = load_elf(self, path)
        self.image = image
        if image.text_range:
            self.watch_code(*image.text_range)
        heap_base = (image.end + 7) & ~7
        heap_limit = memmap.stack_limit(self.mem_size, self.ncores)
        if heap_base >= heap_limit:
            raise MemoryFault(f"program ends at 0x{image.end:x}: no room for heap and stacks in "
                              f"{self.mem_size} bytes of memory")
        top = memmap.stack_top(self.mem_size, 0)
        self.semihosting = Semihosting(
            self.read, self.write, list(argv) if argv else [str(path)],
            stdin if stdin is not None else sys.stdin.buffer,
            stdout if stdout is not None else sys.stdout.buffer,
            stderr if stderr is not None else sys.stderr.buffer,
            (heap_base, heap_limit, top, memmap.stack_top(self.mem_size, 1)),
            clock=self.seconds)
        self.semihost = self._semihost
        c0 = self.cores[0]
        c0.pc = image.entry
        c0.set_reg(13, top)
        c0.state = CORE_RUNNING
        return image

    def _semihost(self, core):
        return self.semihosting.call(core)

    def seconds(self):
        """Simulated time: core 0's cycles at cpu_hz."""
        return self.cores[0].cycles / self.cpu_hz

    # ---- the SMP block (see memmap.py) ----

    def smp_read(self, core, offset):
        if offset == memmap.SMP_CPU_ID:
            return core.id
        if offset == memmap.SMP_NUM_CPUS:
            return self.ncores
        if offset == memmap.SMP_CYCLES:
            return core.cycles & 0xffffffff
        if offset == memmap.SMP_START:
            return self.boot[core.id]["status"] & 0xffffffff
        if memmap.SMP_STATE <= offset < memmap.SMP_STATE + 4 * self.ncores and offset % 4 == 0:
            return self.cores[(offset - memmap.SMP_STATE) // 4].state
        raise MemoryFault("load from an unassigned SMP block register", core=core.id,
                          addr=memmap.SMP_BASE + offset)

    def smp_write(self, core, offset, value):
        boot = self.boot[core.id]
        if offset == memmap.SMP_BOOT_PC:
            boot["pc"] = value
        elif offset == memmap.SMP_BOOT_SP:
            boot["sp"] = value
        elif offset == memmap.SMP_BOOT_ARG:
            boot["arg"] = value
        elif offset == memmap.SMP_START:
            boot["status"] = self.start_cpu(value, boot["pc"], boot["arg"], boot["sp"])
            core.request_stop()      # end the quantum: a lone core's long quantum must not outlive the others' start
        else:
            raise MemoryFault("store to an unassigned or read-only SMP block register", core=core.id,
                              addr=memmap.SMP_BASE + offset)

    def start_cpu(self, cpu, pc, arg=0, sp=0):
        """Power on core `cpu` at pc (Thumb bit set) with r0=arg; it stops when that function returns.

        A core comes up with its icache invalidated, as an ARM secondary does (arch/arm/mm/proc-v7.S
        __v7_setup invalidates the L1 caches before the MMU is on): code patched while it was stopped, which no
        IPI of the patcher reached, is fetched fresh.

        Returns 0, or a negative error as smp_start_cpu() reports it: -1 no such core, -2 already running,
        -3 pc without the Thumb bit.
        """
        if not 0 <= cpu < self.ncores or cpu == 0:
            return -1
        c = self.cores[cpu]
        if c.state == CORE_RUNNING:
            return -2
        if not pc & 1:
            return -3
        c.set_reg(0, arg)
        c.set_reg(13, sp or memmap.stack_top(self.mem_size, cpu))
        c.set_reg(14, memmap.HOSTCALL_BASE | 1)
        c.pc = pc
        c.itstate = 0
        c.flush_icache()
        c.state = CORE_RUNNING
        return 0

    def _cpu_exit(self, core):
        core.state = CORE_STOPPED
        core.request_stop()

    def register_hostcall(self, fn):
        """Bind fn(core) to a new host-call slot; returns the address a guest branches to (Thumb bit set)."""
        if len(self.hostcalls) >= memmap.HOSTCALL_SLOTS:
            raise ValueError("no free host-call slot")
        self.hostcalls.append(fn)
        return memmap.HOSTCALL_BASE + 4 * (len(self.hostcalls) - 1) + 1

    # ---- IPIs ----

    def send_ipi(self, cpus, fn):
        """Queue fn(core) on each of cpus; returns a callable that is true once all have run it.

        Each target takes it at an unmasked instruction boundary after a delay drawn from the machine's
        generator now, in cpus' order (0 on the ideal machine; 0..ipi_latency otherwise, see Core.send_ipi), and
        under handler_cycles fn's effect comes at the end of that handler.  Only the acknowledgement orders
        anything, as on_each_cpu(fn, NULL, 1) is all a kernel relies on."""
        pending = set()
        for i in cpus:
            c = self.cores[i]
            pending.add(i)

            def done(core, fn=fn, i=i):
                fn(core)
                pending.discard(i)
            c.send_ipi(done)
        return lambda: not pending or all(self.cores[i].state != CORE_RUNNING for i in pending)

    def on_each_cpu(self, fn, wait=True, exclude=None):
        """Agent helper (kernel on_each_cpu): IPI every other running core, then wait for all to acknowledge.

        Use as ``yield from machine.on_each_cpu(fn)`` inside an agent; the agent's own core runs fn directly.
        """
        others = [c.id for c in self.cores if c.state == CORE_RUNNING and c.id != exclude]
        acked = self.send_ipi(others, fn)
        if exclude is not None:
            fn(self.cores[exclude])
        if wait:
            yield acked

    def handlers_drained(self):
        """Agent wait condition (``yield m.handlers_drained``): no core is inside a host handler, as x86's
        text_poke_bp waits for its handler count to drop (commit 1f676247f36a) before freeing what it reads."""
        return self.handlers_active == 0

    # ---- a choice source for a model checker ----

    def set_chooser(self, fn):
        """Take the relaxed machine's choices from fn(kind, n) -> index in [0, n) instead of the seed (None: back
        to the seed).  Kinds: 'cff' (a relaxed fill's version of a granule, 0 the oldest: MachineCore.choose),
        'prefetch' (how many instructions survive an invalidate, 0..model prefetch) and 'ipi' (an IPI's delay in
        the target's instructions, 0..ipi_latency, drawn when it is sent).  The scheduler's choices are not
        among them: a checker picks actors itself (Scheduler.run_core, Agent.step) and evicts with Core.evict.
        Unset, the C paths test one pointer and run as before."""
        self.chooser = fn

    # ---- host agents ----

    def spawn(self, gen, cpu=0, name="agent"):
        """Run generator `gen` as a host agent on core `cpu`: while it lives, that core runs it, not guest code."""
        agent = Agent(gen, cpu, name)
        self.agents.append(agent)
        return agent

    # ---- the scheduler ----

    def _run_agent(self, agent, quantum):
        """One action of the agent if it can go on; otherwise its core busy-waits for the quantum."""
        if agent.ready():
            agent.step()
            if agent.done:
                self.agents.remove(agent)
        else:
            if not any(a.ready() for a in self.agents) and not any(
                    c.state == CORE_RUNNING and c.id not in {a.cpu for a in self.agents} for c in self.cores):
                raise Deadlock("every agent waits and no core can run to satisfy it")
            self.cores[agent.cpu].charge(quantum)
        self.record.append((f"agent:{agent.cpu}", quantum))

    def advance(self, max_steps, until=None, stop_on_agent=False):
        """Run up to max_steps scheduler steps (until the machine has run `until` instructions in all, if given);
        returns the guest instructions run.  The choice of actors is made in C (Scheduler.run); the "advance"
        hooks run as it returns."""
        start = self.instructions
        steps = 0
        try:
            while steps < max_steps and self.exit_code is None:
                if until is not None and self.instructions >= until:
                    break
                if self.replay_schedule is not None:
                    self._replay_step()
                    steps += 1
                    continue
                sched = self.scheduler
                outcome = sched.run(MODES[self.schedule_mode], self.quantum, tuple(a.cpu for a in self.agents),
                                    self.record, max_steps - steps, 0 if until is None else until, self.evict_rate)
                steps += sched.steps
                if outcome == Outcome.DEADLOCK:
                    raise Deadlock("all cores stopped and the program has not exited")
                if outcome == Outcome.AGENT:
                    self._run_agent(self.agents[sched.agent], sched.quantum)
                    steps += 1
                    if stop_on_agent:
                        break
                else:
                    break
        finally:
            self.run_advance_hooks()
        return self.instructions - start

    def step(self, limit=None):
        """One scheduler step (at most `limit` instructions); returns the guest instructions it ran."""
        return self.advance(1, None if limit is None else self.instructions + limit)

    def _replay_step(self):
        if self._replay_pos >= len(self.replay_schedule):
            raise Deadlock("the recorded schedule ended before the program exited")
        who, count = self.replay_schedule[self._replay_pos]
        self._replay_pos += 1
        if isinstance(who, str):
            cpu = int(who.split(":")[1])
            return self._run_agent(next(a for a in self.agents if a.cpu == cpu), count)
        ran = self.scheduler.run_core(who, count, self.evict_rate)
        self.record.append((who, ran))

    def replay(self, schedule):
        """Follow a recorded schedule instead of choosing: the run repeats exactly."""
        self.replay_schedule = list(schedule)
        self._replay_pos = 0

    def run(self, max_instructions=None):
        """Run until the program exits; returns its exit code."""
        limit = None if max_instructions is None else self.instructions + max_instructions
        while self.exit_code is None:
            if limit is not None and self.instructions >= limit:
                raise InstructionLimit(f"stopped after {max_instructions} instructions without the guest exiting")
            self.advance(1 << 30, limit)
        return self.exit_code

    def run_for(self, instructions):
        """Run about this many more instructions (all cores together), or until the program exits."""
        self.advance(1 << 30, self.instructions + instructions)

    def run_until(self, cond, max_steps=10_000_000):
        """Step until cond() is true or the program exits (cond is checked after every agent action and
        every 64 core steps); returns cond()."""
        steps = 0
        while not cond() and self.exit_code is None and steps < max_steps:
            self.advance(64, stop_on_agent=True)
            steps += 64
        return cond()

    # ---- statistics ----

    def stats(self):
        return [c.stats() for c in self.cores]
