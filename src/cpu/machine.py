"""The simulated SMP machine: cores, loading, semihosting, the SMP block and the deterministic scheduler.

The scheduler advances the machine in steps.  Each step picks one actor: a core runs a quantum of instructions,
or a host agent (a generator: the code that patches, for instance) runs one action on the core it occupies.
All choices come from the machine's seeded generator, and every step is recorded, so a run replays exactly
from (program, configuration, seed) or from its recorded schedule.
"""
import random
import sys

from cpu.core import MachineCore
from cpu.faults import GuestFault, InstructionLimit, MemoryFault
from cpu.loader import load_elf
from cpu.semihosting import Semihosting
from cpu import memmap

CORE_OFF, CORE_RUNNING, CORE_STOPPED = 0, 1, 2
SCHEDULES = ("round-robin", "random", "timed")


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

    Keyword arguments: mem_size, icache (False = always coherent baseline), icache_size, icache_ways,
    line_size, replacement ('round-robin' or 'random'), seed, schedule ('round-robin', 'random', or 'timed':
    the actor with the fewest cycles runs next, for cost measurements),
    quantum (instructions per step; the mean for 'random'), evict_rate (per-step chance, in 1/65536, of evicting
    a random icache line on the running core), and the costs miss_cost, ipi_cost, hostcall_cost (cycles).
    """

    def __init__(self, cores=1, mem_size=64 << 20, icache=True, icache_size=32768, icache_ways=4,
                 line_size=32, replacement="round-robin", seed=0, schedule="round-robin", quantum=1000,
                 evict_rate=0, miss_cost=0, ipi_cost=0, hostcall_cost=1, cpu_hz=100_000_000):
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
        if quantum < 1:
            raise ValueError(f"quantum must be at least 1, got {quantum}")
        self.seed = seed
        self.schedule = schedule
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
        # Scheduling decisions have their own generator, so replaying a recorded schedule (which makes none)
        # leaves the machine's generator (cache replacement, evictions) on the same sequence.
        self.sched_rng = random.Random(seed)
        self.hostcalls.append(self._cpu_exit)   # slot 0: where a started core's function returns
        self._rr = 0

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
        """Queue fn(core) on each of cpus; returns a callable that is true once all have run it."""
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

    # ---- host agents ----

    def spawn(self, gen, cpu=0, name="agent"):
        """Run generator `gen` as a host agent on core `cpu`: while it lives, that core runs it, not guest code."""
        agent = Agent(gen, cpu, name)
        self.agents.append(agent)
        return agent

    # ---- the scheduler ----

    def _actors(self):
        busy = {a.cpu for a in self.agents}
        actors = [("agent", a) for a in self.agents]
        actors += [("core", c) for c in self.cores if c.state == CORE_RUNNING and c.id not in busy]
        return actors

    def step(self, limit=None):
        """One scheduler step (at most `limit` instructions); returns the number of guest instructions it ran."""
        if self.replay_schedule is not None:
            return self._replay_step()
        actors = self._actors()
        if not any(kind == "core" or actor.ready() for kind, actor in actors):
            if actors:
                raise Deadlock("every agent waits and no core can run to satisfy it")
            raise Deadlock("all cores stopped and the program has not exited")
        if self.schedule == "random":
            kind, actor = actors[self.sched_rng.randrange(len(actors))]
            quantum = 1 + self.sched_rng.randrange(2 * self.quantum)
        elif self.schedule == "timed":
            # discrete-event order: whoever is furthest behind in cycles goes next, so a host agent's writes
            # and the other cores' instructions advance at the rates their cycle costs say
            kind, actor = min(actors, key=lambda a: (self.cores[a[1].cpu if a[0] == "agent" else a[1].id].cycles,
                                                     a[0] != "agent"))
            quantum = self.quantum
        else:
            self._rr %= len(actors)
            kind, actor = actors[self._rr]
            self._rr += 1
            # a lone core needs no interleaving: long quanta keep the scheduler off the profile
            quantum = self.quantum if len(actors) > 1 else 1 << 20
        if limit is not None:
            quantum = min(quantum, limit)
        return self._run_actor(kind, actor, quantum)

    def _run_actor(self, kind, actor, quantum):
        if kind == "agent":
            # One action if it can go on; otherwise its core busy-waits for the quantum.
            if actor.ready():
                actor.step()
                if actor.done:
                    self.agents.remove(actor)
            else:
                self.cores[actor.cpu].charge(quantum)
            self.record.append((f"agent:{actor.cpu}", quantum))
            return 0
        if self.evict_rate and self.rand(65536) < self.evict_rate:
            actor.evict_random_line()
        ran = self.run_core(actor.id, quantum)
        self.record.append((actor.id, ran))
        return ran

    def _replay_step(self):
        if self._replay_pos >= len(self.replay_schedule):
            raise Deadlock("the recorded schedule ended before the program exited")
        who, count = self.replay_schedule[self._replay_pos]
        self._replay_pos += 1
        if isinstance(who, str):
            cpu = int(who.split(":")[1])
            return self._run_actor("agent", next(a for a in self.agents if a.cpu == cpu), count)
        return self._run_actor("core", self.cores[who], count)

    def replay(self, schedule):
        """Follow a recorded schedule instead of choosing: the run repeats exactly."""
        self.replay_schedule = list(schedule)
        self._replay_pos = 0

    def run(self, max_instructions=None):
        """Run until the program exits; returns its exit code."""
        total = 0
        while self.exit_code is None:
            left = None if max_instructions is None else max_instructions - total
            if left is not None and left <= 0:
                raise InstructionLimit(f"stopped after {max_instructions} instructions without the guest exiting")
            total += self.step(left)
        return self.exit_code

    def run_until(self, cond, max_steps=10_000_000):
        """Step until cond() is true or the program exits; returns cond()."""
        for _ in range(max_steps):
            if cond() or self.exit_code is not None:
                break
            self.step()
        return cond()

    # ---- statistics ----

    def stats(self):
        return [c.stats() for c in self.cores]

    @property
    def instructions(self):
        return sum(c.instructions for c in self.cores)
