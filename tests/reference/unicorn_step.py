"""Unicorn Cortex-M3 oracle: run one instruction (or one IT block with its body) from a given state.

One Uc instance is reused across cases.  Between cases the memory the previous case changed (stores, code,
overrides) is restored from the baseline image and registers/flags are rewritten.

Unicorn 2.1.4 pitfalls handled here:
- Host writes do not invalidate translated code, and a single step also translates the block at the next pc, so
  the translation cache is flushed whenever a case starts at an address where an earlier case executed or stopped.
- emu_start(count=N) does not reliably stop after an IT block: Unicorn suppresses its stop request inside IT
  blocks by a flag set at translation time, and with `itete ls; strls; umlalhi; lslls.w; tbhhi` (TBH skipped) it
  went on to run the instructions after the block; after a taken branch ending a block it ran on at the target,
  sometimes treating the first target instructions as still inside the IT block (no UC_HOOK_CODE call, pc moved
  on).  So emu_start also gets until=<end of the code>, and a UC_HOOK_BLOCK hook snapshots the state on entry to
  the first translation block that does not start at a later instruction of the case's own code, and stops there.
"""
from dataclasses import dataclass

from unicorn import UC_ARCH_ARM, UC_HOOK_BLOCK, UC_HOOK_MEM_WRITE, UC_MODE_MCLASS, UC_MODE_THUMB, Uc, UcError
from unicorn.arm_const import (UC_ARM_REG_APSR, UC_ARM_REG_LR, UC_ARM_REG_PC, UC_ARM_REG_R0, UC_ARM_REG_SP,
                               UC_CPU_ARM_CORTEX_M3)

REG_IDS = [UC_ARM_REG_R0 + i for i in range(13)] + [UC_ARM_REG_SP, UC_ARM_REG_LR, UC_ARM_REG_PC]
APSR_MASK = 0xF8000000          # N Z C V Q


@dataclass
class Result:
    regs: tuple                 # r0..r15 (r15 = address of the next instruction)
    apsr: int                   # N Z C V Q in bits 31..27
    writes: list                # [(addr, size, value)] in program order
    windows: list               # contents of every window afterwards
    error: str = None           # UcError text if Unicorn stopped on an exception


def insn_starts(addr, code):
    """Addresses of the Thumb instructions in code."""
    out, off = [], 0
    while off < len(code):
        out.append(addr + off)
        off += 4 if code[off + 1] >> 3 in (0b11101, 0b11110, 0b11111) else 2
    return out


class UnicornStepper:
    def __init__(self, mem_size, windows):
        """windows: [(base, size)] regions whose contents load_image() sets; everything else is zero."""
        self.uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        self.uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M3)    # must precede any mem_map / reg access
        self.uc.mem_map(0, mem_size)
        self.mem_size = mem_size
        self.windows = windows
        self.image = [bytes(size) for _, size in windows]
        self.writes, self.blocks, self.dirty = [], [], []
        self.tb_starts = set()
        self.starts, self.pos, self.captured = {}, -1, None
        self.uc.hook_add(UC_HOOK_MEM_WRITE, self._on_write)
        self.uc.hook_add(UC_HOOK_BLOCK, self._on_block)

    def _on_write(self, uc, access, addr, size, value, user):
        self.writes.append((addr, size, value & ((1 << 8 * size) - 1)))

    def _on_block(self, uc, addr, size, user):
        self.blocks.append(addr)
        if self.captured is not None:
            return
        i = self.starts.get(addr, -1)
        if i > self.pos:
            self.pos = i
            return
        self.captured = self._state(len(self.writes))
        uc.emu_stop()

    def _state(self, n_writes):
        regs = tuple(self.uc.reg_read(r) for r in REG_IDS)
        return (regs, self.uc.reg_read(UC_ARM_REG_APSR) & APSR_MASK, self.writes[:n_writes],
                [bytes(self.uc.mem_read(base, size)) for base, size in self.windows])

    def load_image(self, contents):
        """Set the baseline contents of every window (list of bytes, same order as windows)."""
        for (base, _), data in zip(self.windows, contents):
            self.uc.mem_write(base, data)
        self.image = list(contents)
        self.dirty = []
        self.uc.ctl_flush_tb()
        self.tb_starts.clear()

    def baseline(self, addr, n):
        for (base, size), data in zip(self.windows, self.image):
            if base <= addr and addr + n <= base + size:
                return data[addr - base:addr - base + n]
        return bytes(n)

    def run(self, addr, code, regs, apsr, mem=(), steps=1):
        """Execute `steps` instructions (an IT block counts as one) of `code` placed at `addr`.

        regs: r0..r12, sp, lr; apsr: NZCVQ in bits 31..27; mem: ((addr, bytes), ...) written first.
        """
        uc = self.uc
        for a, n in self.dirty:
            if a + n <= self.mem_size:
                uc.mem_write(a, self.baseline(a, n))
        self.dirty = [(a, len(b)) for a, b in mem] + [(addr, len(code))]
        for a, b in mem:
            uc.mem_write(a, b)
        uc.mem_write(addr, code)
        if addr in self.tb_starts:
            uc.ctl_flush_tb()
            self.tb_starts.clear()
        for rid, v in zip(REG_IDS, regs):
            uc.reg_write(rid, v)
        uc.reg_write(UC_ARM_REG_APSR, apsr & APSR_MASK)
        self.writes, self.blocks = [], []
        self.starts = {a: i for i, a in enumerate(insn_starts(addr, code))}
        self.pos, self.captured = -1, None
        error = None
        try:
            uc.emu_start(addr | 1, addr + len(code), count=steps)
        except UcError as e:
            error = str(e)
        self.dirty += [(a, n) for a, n, _ in self.writes]
        if self.captured is not None:
            out, error = self.captured, None
        else:
            out = self._state(len(self.writes))
        self.tb_starts.update(range(addr, addr + len(code) + 1, 2))
        self.tb_starts.update(self.blocks)
        self.tb_starts.add(out[0][15])
        return Result(*out, error=error)
