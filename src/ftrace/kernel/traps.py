"""The undefined-instruction hooks of arch/arm/kernel/traps.c (v3.6): register_undef_hook, unregister_undef_hook,
call_undef_hook and do_undefinstr, over the machine's "udf" exception chain.

As on ARMv7 there is no syndrome: do_undefinstr reads the instruction from memory at the faulting pc (a Thumb
halfword, composed with the next one when it is the first of a 32-bit instruction) and offers it to the hooks.
On v7-M the "cpsr" a hook tests is the xPSR (EPSR.T is bit 24; ARMv7-A's PSR_T_BIT is bit 5).
"""
from typing import Callable, NamedTuple

PSR_T_BIT = 1 << 24         # xPSR.T: always set on v7-M (Thumb only)


class undef_hook(NamedTuple):
    """struct undef_hook: fn(core, instr, pc) returns the pc to resume at, or None (the kernel's non-zero)."""
    instr_mask: int
    instr_val: int
    cpsr_mask: int
    cpsr_val: int
    fn: Callable


def is_wide_instruction(hw):
    """asm/opcodes.h __opcode_is_thumb32 on the first halfword (bits 15..11 = 0b11101, 0b11110, 0b11111)."""
    return hw >= 0xE800


class UndefHooks:
    """The undef_hook list of one machine; do_undefinstr is first on its "udf" chain once a hook is registered."""

    def __init__(self, machine):
        self.m = machine
        self.hooks = []
        self.handle = None

    def register_undef_hook(self, hook):
        """list_add: the newest hook heads the list."""
        self.hooks.insert(0, hook)
        if self.handle is None:
            self.handle = self.m.hook_add("udf", self.do_undefinstr, first=True)

    def unregister_undef_hook(self, hook):
        self.hooks.remove(hook)
        if not self.hooks:
            self.m.hook_del(self.handle)
            self.handle = None

    def call_undef_hook(self, core, instr, pc):
        """v3.6 call_undef_hook: the last matching hook in list order (the first registered) is called."""
        cpsr = core.apsr | PSR_T_BIT
        fn = None
        for hook in self.hooks:
            if instr & hook.instr_mask == hook.instr_val and cpsr & hook.cpsr_mask == hook.cpsr_val:
                fn = hook.fn
        return None if fn is None else fn(core, instr, pc)

    def do_undefinstr(self, core, imm, pc):
        """The instruction as memory holds it now, not as the core fetched it; None (no hook took it) goes on to
        the machine's "Oops - undefined instruction" (UndefinedInstruction)."""
        instr = self.m.read16(pc)
        if is_wide_instruction(instr):
            instr = (instr << 16) | self.m.read16(pc + 2)
        return self.call_undef_hook(core, instr, pc)


def undef_hooks(machine):
    """The machine's undef_hook list (one per machine, as the kernel has one)."""
    hooks = getattr(machine, "undef_hooks", None)
    if hooks is None:
        hooks = machine.undef_hooks = UndefHooks(machine)
    return hooks
