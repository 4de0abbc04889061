"""The guest's memory map (the values the C runtime in guest/smp.h uses too).

    0x00000000 .. mem_size      RAM: program, heap, then the per-core stacks at the top
    0x40000000 .. +0x1000       SMP block (this machine's own, 32-bit registers)
    0xE000E000 .. 0xE000EFFF    System Control Space: CPUID 0xE000ED00, ICIALLU 0xE000EF50, ICIMVAU 0xE000EF58,
                                DCCMVAU 0xE000EF64 (clean to the PoU: see cpu.model)
    0xF0000000 .. +0x4000       host-call slots: a branch to slot k runs host function k, then returns to lr

SMP block registers (offsets):
    0x00 CPU_ID     R   the reading core's number
    0x04 NUM_CPUS   R   number of cores
    0x08 CYCLES     R   the reading core's cycle counter (low 32 bits)
    0x10 BOOT_PC    W   staged entry (Thumb bit set) for the next START
    0x14 BOOT_SP    W   staged stack top (0: the core's default stack)
    0x18 BOOT_ARG   W   staged r0
    0x1C START      W   start core n with the staged values; R: the result (0, -1 bad core, -2 running, -3 even pc)
    0x100 + 4n      R   STATE of core n: 0 off, 1 running, 2 stopped, 3 parked (CoreState)
"""
from cpu.core import MemoryMap, SmpReg

# The values are defined once, in C (cpu/core.pxd); these are their names for Python.
globals().update({name: int(v) for enum in (MemoryMap, SmpReg) for name, v in enum.__members__.items()})

BOOT_STACK = 1 << 20        # core 0 (main)
SECONDARY_STACK = 64 << 10  # each other core


def stack_top(mem_size, cpu):
    """Initial sp of core `cpu`: core 0 at the top of RAM, the others below it, 8-byte aligned."""
    return mem_size if cpu == 0 else mem_size - BOOT_STACK - (cpu - 1) * SECONDARY_STACK


def stack_limit(mem_size, ncores):
    """Lowest address of any stack: the heap must end below it."""
    return mem_size - BOOT_STACK - (ncores - 1) * SECONDARY_STACK
