"""A Thumb-2 (ARMv7-M) SMP machine: cores with non-coherent instruction caches over one coherent memory."""
from cpu.faults import (GuestFault, MemoryFault, AlignmentFault, UndefinedInstruction, InvalidStateFault,
                        UnhandledException, SemihostingError, InstructionLimit, ELFError)
from cpu.machine import Machine, Deadlock
from cpu.core import FetchViolation, CoreState, ExceptionHandler
from cpu.scheduler import Outcome
from cpu.loader import load_elf, Image
from cpu.model import Model, MODELS, get_model

__all__ = ["Machine", "Model", "MODELS", "get_model", "Deadlock", "FetchViolation", "CoreState", "ExceptionHandler", "Outcome", "GuestFault",
           "MemoryFault", "AlignmentFault",
           "UndefinedInstruction", "InvalidStateFault", "UnhandledException", "SemihostingError",
           "InstructionLimit", "ELFError", "load_elf", "Image"]
