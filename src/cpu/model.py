"""Machine models: how far instruction fetch may be relaxed, one knob per relaxation, each with its basis.

A model is what a verdict holds under.  `ideal` is the machine every earlier result was obtained on: instant
IPIs, atomic host handlers, line-atomic fills that read memory at the miss, no PoU, no prefetch.  `armv7` sets
every knob to the most adversarial setting the architecture permits for an SMP with coherent data caches (within
the stated finite bounds): the strictest machine on which a correct protocol must still be safe.

Sources (see the README's "Machine models" section): the Arm ARM DDI0487 M.a.a E2.2.1 (T32 fetch single-copy
atomic per halfword), E2.5.3.2 (prefetch since the last context synchronization event; the clean to the PoU
before the invalidate), the glossary (context synchronization events); Simner et al., ESOP 2020 (fills may
return any write not yet cleaned to the PoU; CoFF); Linux arch/arm/mm/cache-v7m.S v7m_coherent_user_range, and
x86 commit 285a54efe386 (a completed sync proves no CPU is still in the int3 handler, because IPIs are masked
there).
"""
from dataclasses import asdict, dataclass, fields, replace

GRANULES = ("line", "word", "halfword")


@dataclass(frozen=True)
class Model:
    """One setting of every relaxation.  Every knob at its default is the ideal machine."""
    name: str = "ideal"
    # A target takes an IPI after 0..ipi_latency of its own instructions, chosen from the seed (adversarially:
    # the extremes as often as the values between).  v7-M has no architected IPI and no architected bound on
    # delivery (a pending interrupt is taken at some later boundary while unmasked: ARMv7-M ARM B1.5); kernels
    # rely only on the acknowledgement (on_each_cpu(..., 1)).  An IPI is never taken while the core masks
    # interrupts (PRIMASK) or is inside a host handler.
    ipi_latency: int = 0
    # The unit a fill reads from one memory version: "line" (the whole line at the miss), "word" or "halfword".
    # T32 instruction fetch is single-copy atomic per halfword only (E2.2.1), so under "halfword" the two
    # halves of any 32-bit instruction, straddling a line or not, may come from different versions.  Below
    # "line", a fill may have read each granule at any moment since the line was last invalidated on that core
    # (fills happen at any time, speculatively: E2.5.3.2), so it may return any value the granule held since.
    fetch_granule: str = "line"
    # Fills see a code store only once it has been cleaned to the PoU (DCCMVAU, 0xE000EF64, or the host's
    # clean_dcache_range) and a DSB completed; before that a fill may return the cleaned value or any uncleaned
    # newer one (ESOP §2, §4: the icache holds several candidate values per location, CoFF).
    pou: bool = False
    # A core's code stores may reach the PoU out of program order until a DSB (ARMv7 is weakly ordered and not
    # multi-copy atomic: ESOP §3.4; __patch_text_real's two halfword stores have no barrier between them).
    store_order: bool = False
    # Up to `prefetch` already-fetched instructions per core survive an icache invalidate until the core's next
    # context synchronization event: ISB, exception entry or return (taking an IPI or a breakpoint counts).
    prefetch: int = 0
    # An icache invalidate also clears other cores' prefetched instructions (what Arm discussed, ESOP
    # MP.FF+cachesync+fpo); the architecture text still asks for the ISB, so armv7 leaves this off.
    ic_clears_prefetch: bool = False
    # Host handlers (the breakpoint handler, the IPI handler) take this many cycles of the core that runs them,
    # with interrupts masked, and the patcher's steps interleave with them.  0: atomic.
    handler_cycles: int = 0
    # The icache line size in bytes (32 on Cortex-M7 and Cortex-A9; 64 on many v8 cores).
    line_size: int = 32

    def __post_init__(self):
        if self.fetch_granule not in GRANULES:
            raise ValueError(f"fetch_granule must be one of {', '.join(GRANULES)}, got {self.fetch_granule!r}")
        for knob in ("ipi_latency", "prefetch", "handler_cycles"):
            if not 0 <= getattr(self, knob) <= 1 << 20:
                raise ValueError(f"{knob} must be between 0 and {1 << 20}, got {getattr(self, knob)!r}")
        if self.line_size not in (32, 64):
            raise ValueError(f"line_size must be 32 or 64, got {self.line_size!r}")

    @property
    def relaxations(self):
        """The knobs that differ from the ideal machine, by name."""
        ideal = Model()
        return tuple(f.name for f in fields(self) if f.name != "name" and getattr(self, f.name) != getattr(ideal, f.name))

    def as_dict(self):
        return asdict(self)

    def __str__(self):
        return self.name


IDEAL = Model()
ARMV7 = Model("armv7", ipi_latency=64, fetch_granule="halfword", pou=True, store_order=True, prefetch=4,
              ic_clears_prefetch=False, handler_cycles=50)

# Each relaxation alone, at its armv7 setting: the verdict matrix's columns between ideal and armv7.
SINGLE = {knob: replace(IDEAL, name=knob.replace("_", "-"), **{knob: getattr(ARMV7, knob)})
          for knob in ("ipi_latency", "fetch_granule", "pou", "store_order", "prefetch", "handler_cycles")}

MODELS = {"ideal": IDEAL, "armv7": ARMV7, **{m.name: m for m in SINGLE.values()}}


def get_model(model):
    """A Model from a Model or a preset name (ValueError naming the presets otherwise)."""
    if isinstance(model, Model):
        return model
    if model in MODELS:
        return MODELS[model]
    raise ValueError(f"unknown model {model!r}; models: {', '.join(MODELS)}")
