"""Linux v3.6-era dynamic ftrace, ported onto the simulated Thumb-2 SMP of the `cpu` package."""
import os

from ftrace.kernel.methods import METHODS
from ftrace.kernel.ops import FtraceError
from ftrace.kernel.trace import Ftrace, TRACERS

# The bundled multi-core -pg workload (`ftrace demo` traces it).
DEMO_PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guest", "bin", "workload-O2.elf")

__all__ = ["Ftrace", "FtraceError", "METHODS", "TRACERS", "DEMO_PROGRAM"]
