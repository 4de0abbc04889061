"""Guest faults: every way a guest can go wrong becomes one of these Python exceptions."""


class GuestFault(Exception):
    """A guest did something the architecture (or this machine) does not allow.

    Names the core, the pc, the instruction bits and the faulting address (where there is one).
    """

    kind = "guest fault"

    def __init__(self, message, core=None, pc=None, insn=None, addr=None):
        self.core = core
        self.pc = pc
        self.insn = insn
        self.addr = addr
        self.reason = message
        parts = [self.kind + ": " + message]
        if core is not None:
            parts.append(f"core {core}")
        if pc is not None:
            parts.append(f"pc=0x{pc:08x}")
        if insn is not None:
            parts.append(f"insn={insn_hex(insn)}")
        if addr is not None:
            parts.append(f"addr=0x{addr:08x}")
        super().__init__(", ".join(parts))


def insn_hex(insn):
    """Thumb instruction bits as objdump prints them: 'xxxx' or 'xxxx xxxx'."""
    if insn > 0xFFFF:
        return f"{insn >> 16:04x} {insn & 0xFFFF:04x}"
    return f"{insn:04x}"


class MemoryFault(GuestFault):
    """Access to an address outside guest memory and the memory-mapped blocks."""
    kind = "memory fault"


class AlignmentFault(GuestFault):
    """Unaligned LDRD/STRD/LDM/STM/LDREX/STREX (or unaligned SP/PC use) as v7-M faults it."""
    kind = "alignment fault"


class UndefinedInstruction(GuestFault):
    """An encoding that is UNDEFINED or UNPREDICTABLE on ARMv7-M, or a UDF no handler took."""
    kind = "undefined instruction"


class InvalidStateFault(GuestFault):
    """BX/BLX/POP {pc}/LDR pc to an even address: v7-M has no ARM state (INVSTATE)."""
    kind = "invalid state"


class UnhandledException(GuestFault):
    """A BKPT or SVC that no registered handler took."""
    kind = "unhandled exception"


class SemihostingError(GuestFault):
    """A semihosting call (bkpt 0xab) this machine does not implement, or with bad arguments."""
    kind = "semihosting error"


class InstructionLimit(Exception):
    """The run hit its --max-instructions bound before the guest exited."""


class ELFError(ValueError):
    """The file is not an ELF32 little-endian ARM executable this machine can load."""
