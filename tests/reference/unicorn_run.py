"""Whole-program reference: run an ELF on Unicorn's Cortex-M3 with our loader and semihosting.

Memory is one flat RAM region [0, mem_size); the stack is its top MiB (stack base = mem_size), the
heap runs from the image end (rounded up to 8) to the stack limit.
"""

import io
import os
from typing import NamedTuple, Optional

import capstone
from unicorn import (UC_ARCH_ARM, UC_ERR_EXCEPTION, UC_ERR_FETCH_UNMAPPED, UC_ERR_INSN_INVALID,
                     UC_ERR_READ_UNALIGNED, UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNALIGNED,
                     UC_ERR_WRITE_UNMAPPED, UC_HOOK_BLOCK, UC_HOOK_CODE, UC_HOOK_INTR, UC_HOOK_MEM_INVALID,
                     UC_MODE_MCLASS, UC_MODE_THUMB, Uc, UcError)
from unicorn.arm_const import (UC_ARM_REG_LR, UC_ARM_REG_PC, UC_ARM_REG_R0, UC_ARM_REG_SP,
                               UC_CPU_ARM_CORTEX_M3)

from cpu.faults import (AlignmentFault, GuestFault, InstructionLimit, MemoryFault,
                        UndefinedInstruction, UnhandledException)
from cpu.loader import load_elf
from cpu.semihosting import Semihosting

STACK_SIZE = 1 << 20
EXCP_SWI, EXCP_BKPT = 2, 7       # UC_HOOK_INTR intnos; for BKPT pc is the BKPT itself
SEMIHOSTING_BKPT = 0xAB
REG_IDS = [UC_ARM_REG_R0 + n for n in range(13)] + [UC_ARM_REG_SP, UC_ARM_REG_LR, UC_ARM_REG_PC]
FAULTS = {
    UC_ERR_READ_UNMAPPED: MemoryFault, UC_ERR_WRITE_UNMAPPED: MemoryFault,
    UC_ERR_FETCH_UNMAPPED: MemoryFault, UC_ERR_READ_UNALIGNED: AlignmentFault,
    UC_ERR_WRITE_UNALIGNED: AlignmentFault, UC_ERR_INSN_INVALID: UndefinedInstruction,
    UC_ERR_EXCEPTION: UnhandledException,
}


class Result(NamedTuple):
    stdout: bytes
    stderr: bytes
    exit_code: int
    instructions: Optional[int]     # counted only with count_instructions or max_instructions


class UnicornMachine:
    """The loader's and semihosting's view of a Unicorn instance: memory plus r0-r15."""

    def __init__(self, uc, mem_size):
        self.uc = uc
        self.mem_size = mem_size

    def _check(self, addr, n, what):
        if addr < 0 or n < 0 or addr + n > self.mem_size:
            raise MemoryFault(f"{what} of {n} bytes outside guest memory", addr=addr & 0xFFFFFFFF)

    def read(self, addr, n):
        self._check(addr, n, "read")
        return bytes(self.uc.mem_read(addr, n))

    def write(self, addr, data):
        self._check(addr, len(data), "write")
        self.uc.mem_write(addr, bytes(data))

    def get_reg(self, n):
        return self.uc.reg_read(REG_IDS[n])

    def set_reg(self, n, value):
        self.uc.reg_write(REG_IDS[n], value)


def run_unicorn(elf_path, argv=None, stdin=b"", mem_size=64 << 20, max_instructions=None,
                count_instructions=False, code_hook=None, smp_block=False):
    """Run the ELF to its semihosting exit. Guest faults raise cpu.faults.GuestFault subclasses;
    more than max_instructions raises InstructionLimit. Instructions are counted per translated
    block (capstone, cached per block: not for self-modifying code), so IT-skipped instructions
    count as executed."""
    return prepare_unicorn(elf_path, argv, stdin, mem_size, max_instructions, count_instructions, code_hook,
                           smp_block)()


def prepare_unicorn(elf_path, argv=None, stdin=b"", mem_size=64 << 20, max_instructions=None,
                    count_instructions=False, code_hook=None, smp_block=False):
    """run_unicorn in two parts (the benchmarks time the second alone): set up Unicorn and load the ELF, then
    return the function that runs it to its exit and returns the Result."""
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M3)      # before any mem_map / reg access
    uc.mem_map(0, mem_size)
    if smp_block:                   # a one-core view of the SMP block: CPU_ID 0, NUM_CPUS 1
        uc.mem_map(0x40000000, 0x1000)
        uc.mem_write(0x40000004, (1).to_bytes(4, "little"))
    if code_hook is not None:       # (fn(uc, addr, size, data), begin, end): an independent observer
        uc.hook_add(UC_HOOK_CODE, code_hook[0], None, code_hook[1], code_hook[2])
    machine = UnicornMachine(uc, mem_size)
    image = load_elf(machine, elf_path)
    stdout, stderr = io.BytesIO(), io.BytesIO()
    heap_base = (image.end + 7) & ~7
    stack_limit = mem_size - STACK_SIZE
    semi = Semihosting(machine.read, machine.write, argv or [os.path.basename(elf_path)],
                       io.BytesIO(stdin), stdout, stderr, (heap_base, stack_limit, mem_size, stack_limit))
    state = {"error": None, "bad_addr": None, "count": 0}

    def on_intr(uc, intno, _):
        try:
            pc = uc.reg_read(UC_ARM_REG_PC) & ~1
            if intno != EXCP_BKPT:
                what = " (svc)" if intno == EXCP_SWI else ""
                raise UnhandledException(f"exception {intno}{what}", pc=pc)
            insn = int.from_bytes(machine.read(pc, 2), "little")
            if insn >> 8 != 0xBE or insn & 0xFF != SEMIHOSTING_BKPT:
                raise UnhandledException(f"bkpt #{insn & 0xFF}", pc=pc, insn=insn)
            code = semi.call(machine)
            if code is None:
                uc.reg_write(UC_ARM_REG_PC, (pc + 2) | 1)
            else:
                uc.emu_stop()
        except Exception as exc:        # recorded here: older bindings swallow hook exceptions
            state["error"] = exc
            uc.emu_stop()

    def on_invalid(uc, access, addr, size, value, _):
        state["bad_addr"] = addr
        return False

    uc.hook_add(UC_HOOK_INTR, on_intr)
    uc.hook_add(UC_HOOK_MEM_INVALID, on_invalid)
    counting = count_instructions or max_instructions is not None
    if counting:
        md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
        sizes = {}

        def on_block(uc, addr, size, _):
            n = sizes.get((addr, size))
            if n is None:
                n = sizes[(addr, size)] = sum(1 for _ in md.disasm_lite(machine.read(addr, size), addr))
            state["count"] += n
            if max_instructions is not None and state["count"] > max_instructions:
                uc.emu_stop()

        uc.hook_add(UC_HOOK_BLOCK, on_block)
    def start():
        uc.reg_write(UC_ARM_REG_SP, mem_size)
        try:
            uc.emu_start(image.entry | 1, 0xFFFFFFFF)
        except UcError as exc:
            pc = uc.reg_read(UC_ARM_REG_PC)
            raise FAULTS.get(exc.errno, GuestFault)(f"unicorn: {exc}", pc=pc, addr=state["bad_addr"]) from exc
        if max_instructions is not None and state["count"] > max_instructions:
            raise InstructionLimit(f"more than {max_instructions} instructions")
        if state["error"] is not None:
            raise state["error"]
        if semi.exit_code is None:
            raise GuestFault("emulation stopped without a semihosting exit",
                             pc=uc.reg_read(UC_ARM_REG_PC))
        return Result(stdout.getvalue(), stderr.getvalue(), semi.exit_code,
                      state["count"] if counting else None)
    return start
