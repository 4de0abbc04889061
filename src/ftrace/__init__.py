"""Linux v3.6-era dynamic ftrace, ported onto the simulated Thumb-2 SMP of the `cpu` package."""
from ftrace.ops import FtraceError
from ftrace.trace import Ftrace, TRACERS

__all__ = ["Ftrace", "FtraceError", "TRACERS"]
