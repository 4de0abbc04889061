"""Seeded generator of random, architecturally valid ARMv7-M Thumb-2 test cases.

Every generated encoding avoids what the ARMv7-M ARM marks UNPREDICTABLE (BadReg operands, writeback with the
base in the list or equal to Rt, branches inside IT blocks except last, SP left unaligned, ...).  Base registers
are pinned so that every data access falls inside the data window and every branch target inside mapped memory; the
only deliberately out-of-spec accesses are the misaligned LDRD/STRD/LDM/STM/LDREX/STREX cases, which carry
``fault="AlignmentFault"``.

A Case is fully reproducible from its fields: the memory image is ``window_bytes(data_seed)`` plus ``mem``.
"""
import random
from dataclasses import dataclass

MEM_SIZE = 1 << 25                      # 32 MiB: room for B.W/BL offsets with every J1/J2/S combination
CODE_BASE, CODE_SIZE = 0x1000000, 0x8000
DATA_BASE, DATA_SIZE = 0x20000, 0x8000
CODE_LO, CODE_HI = CODE_BASE + 0x1000, CODE_BASE + CODE_SIZE - 0x1000   # where instructions are placed
EA_LO, EA_HI = DATA_BASE + 0x1000, DATA_BASE + DATA_SIZE - 0x1000       # effective addresses
TARGET_LO, TARGET_HI = 0x1000, MEM_SIZE - 0x1000                          # branch targets

M32 = 0xFFFFFFFF
GP = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14]                       # not BadReg (no SP, no PC)
LOW = list(range(8))
SP, LR, PC = 13, 14, 15
SPECIAL = [0, 1, 2, 31, 32, 33, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
           0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFF8000, 0xFFFFFF80]


@dataclass(frozen=True)
class Case:
    cls: str
    hw: tuple                 # halfwords of every instruction, in order
    addr: int                 # address of the first halfword
    regs: tuple               # r0..r12, sp, lr
    apsr: int                 # N Z C V Q in bits 31..27
    data_seed: int
    mem: tuple = ()           # ((addr, bytes), ...) written over window_bytes(data_seed)
    steps: int = 1            # Unicorn steps; an IT block with its body counts as one
    fault: str = None         # GuestFault subclass the architecture requires where Unicorn does not fault

    def repro(self):
        return ("Case(cls=%r, hw=(%s,), addr=0x%x, regs=(%s,), apsr=0x%08x, data_seed=%d, mem=%r, steps=%d, fault=%r)"
                % (self.cls, ", ".join("0x%04x" % h for h in self.hw), self.addr,
                   ", ".join("0x%x" % r for r in self.regs), self.apsr, self.data_seed,
                   tuple((hex(a), b.hex()) for a, b in self.mem), self.steps, self.fault))


def window_bytes(data_seed):
    """(code window, data window) contents for a seed."""
    r = random.Random(data_seed)
    return r.randbytes(CODE_SIZE), r.randbytes(DATA_SIZE)


def code_bytes(hw):
    return b"".join(h.to_bytes(2, "little") for h in hw)


_cs = None


def disasm(hw, addr):
    """capstone text of the halfwords, instructions joined by '; '."""
    global _cs
    if _cs is None:
        import capstone
        _cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    data = code_bytes(hw)
    parts, off = [], 0
    for i in _cs.disasm(data, addr):
        parts.append(f"{i.mnemonic} {i.op_str}".strip())
        off += i.size
    if off < len(data):
        parts.append("<undecodable %s>" % data[off:].hex())
    return "; ".join(parts)


def thumb_expand_imm(imm12):
    """ThumbExpandImm (used only to keep SP-relative constants word aligned)."""
    if imm12 >> 10 == 0:
        b = imm12 & 0xFF
        return [b, b | b << 16, b << 8 | b << 24, b * 0x01010101][(imm12 >> 8) & 3]
    v, rot = 0x80 | (imm12 & 0x7F), imm12 >> 7
    return ((v >> rot) | (v << (32 - rot))) & M32


class Reject(Exception):
    """The random choices cannot be satisfied; the case is drawn again."""


class Ctx:
    def __init__(self, rng, addr):
        self.rng = rng
        self.addr = addr
        self.hw = []
        self.init = [None] * 15           # pinned initial values
        self.written = set()              # registers with values unknown at generation time
        self.mem = {}                     # byte address -> value
        self.sp = rng.randrange(0x23800, 0x24800, 4)
        self.init[SP] = self.sp
        self.in_it = False
        self.sp_dirty = False             # SP changed by a conditional instruction: value unknown
        self.last = True                  # last instruction of the IT block (or not in one)
        self.fault = None
        self.steps = 1

    # --- registers
    def can_pin(self, r, v):
        return r != SP and r not in self.written and self.init[r] in (None, v)

    def is_free(self, r):
        return r != SP and r not in self.written and self.init[r] is None

    def pin(self, r, v):
        if not self.can_pin(r, v):
            raise Reject
        self.init[r] = v & M32

    def free(self, pool, exclude=()):
        """A register whose value we may still choose."""
        c = [r for r in pool if r not in exclude and r != SP and r not in self.written and self.init[r] is None]
        if not c:
            raise Reject
        return self.rng.choice(c)

    def pick(self, pool, exclude=()):
        c = [r for r in pool if r not in exclude]
        return self.rng.choice(c)

    def dst(self, *regs):
        for r in regs:
            if r == SP:
                raise AssertionError("SP writes go through set_sp")
            self.written.add(r)

    def set_sp(self, v):
        if v & 3 or not (EA_LO <= v < EA_HI) or self.sp_dirty:
            raise Reject
        self.sp = v
        self.sp_dirty = self.in_it

    # --- memory
    def ea(self, align=1, mis=False):
        """A random effective address in the data window; misaligned for `align` if mis."""
        a = self.rng.randrange(EA_LO, EA_HI)
        a -= a % align
        if mis:
            a += self.rng.randrange(1, align)
        return a

    def base(self, off, align=1, mis=False, pool=GP, exclude=()):
        """Choose Rn with Rn + off a window address (aligned as asked). Returns (Rn, ea)."""
        regs = [r for r in pool if r not in exclude and r not in self.written and not (r == SP and self.sp_dirty)]
        self.rng.shuffle(regs)
        for r in regs:
            v = self.sp if r == SP else self.init[r]
            if v is None:
                ea = self.ea(align, mis)
                self.pin(r, ea - off)
                return r, ea
            ea = (v + off) & M32
            if EA_LO <= ea < EA_HI and (ea % align != 0) == mis:
                return r, ea
        raise Reject

    def poke(self, addr, value):
        for i in range(4):
            self.mem[addr + i] = (value >> (8 * i)) & 0xFF

    # --- code
    def pc(self):
        """Address of the instruction being generated."""
        return self.addr + 2 * len(self.hw)

    def emit(self, *hws):
        self.hw.extend(h & 0xFFFF for h in hws)

    def target(self):
        return self.rng.randrange(TARGET_LO, TARGET_HI) & ~1


def rand_val(rng):
    x = rng.random()
    if x < 0.3:
        return rng.choice(SPECIAL)
    if x < 0.4:
        return rng.randrange(0, 64)
    return rng.getrandbits(32)


def rand_shift(rng):
    """(type, imm5) for a shifted-register operand; type 3 with imm5 0 is RRX."""
    t = rng.randrange(4)
    return t, rng.choice([0, 1, 31, rng.randrange(32)])


# ---------------------------------------------------------------- 16-bit data processing

def g_dp16_shift_imm(c):
    op = c.rng.randrange(3)
    imm5 = c.rng.choice([0, 1, 31, c.rng.randrange(32)])
    if op == 0 and imm5 == 0 and c.in_it:      # MOVS Rd, Rm (T2) is UNPREDICTABLE in an IT block
        imm5 = 1
    rd, rm = c.pick(LOW), c.pick(LOW)
    c.emit(op << 11 | imm5 << 6 | rm << 3 | rd)
    c.dst(rd)


def g_dp16_addsub(c):
    k = c.rng.randrange(6)
    rd, rn, rm = c.pick(LOW), c.pick(LOW), c.pick(LOW)
    if k == 0:
        c.emit(0x1800 | c.rng.randrange(2) << 9 | rm << 6 | rn << 3 | rd)     # ADDS/SUBS reg
    elif k == 1:
        c.emit(0x1C00 | c.rng.randrange(2) << 9 | c.rng.randrange(8) << 6 | rn << 3 | rd)   # ADDS/SUBS imm3
    else:
        op = c.rng.randrange(4)                                              # MOVS/CMP/ADDS/SUBS imm8
        c.emit(0x2000 | op << 11 | rd << 8 | c.rng.choice([0, 1, 0xFF, c.rng.randrange(256)]))
        if op == 1:
            return
    c.dst(rd)


def g_dp16_alu(c):
    op = c.rng.randrange(16)
    rdn, rm = c.pick(LOW), c.pick(LOW)
    if op in (2, 3, 4, 7) and c.rng.random() < 0.6:   # register shifts: amount from Rm[7:0]
        if c.is_free(rm) and rm != rdn:
            c.pin(rm, c.rng.choice([0, 1, 31, 32, 33, 255, 256, 0x120, c.rng.randrange(64), c.rng.getrandbits(32)]))
    c.emit(0x4000 | op << 6 | rm << 3 | rdn)
    if op not in (8, 10, 11):                          # TST, CMP, CMN
        c.dst(rdn)


def g_dp16_hireg(c):
    k = c.rng.randrange(3)
    high = [8, 9, 10, 11, 12, 14]
    if k == 0:                                          # ADD Rdn, Rm (T2), at least one high register; Rm may be PC
        rdn = c.pick(GP)
        rm = c.pick(GP + [PC] if rdn >= 8 else high + [PC])
        c.emit(0x4400 | (rdn >> 3) << 7 | rm << 3 | (rdn & 7))
        c.dst(rdn)
    elif k == 1:                                        # CMP Rn, Rm (T2), SP allowed, PC not
        rn = c.pick(GP + [SP])
        rm = c.pick(GP + [SP] if rn >= 8 else high + [SP])
        c.emit(0x4500 | (rn >> 3) << 7 | rm << 3 | (rn & 7))
    else:                                               # MOV Rd, Rm (T1), Rm may be SP or PC
        rd, rm = c.pick(GP), c.pick(list(range(16)))
        c.emit(0x4600 | (rd >> 3) << 7 | rm << 3 | (rd & 7))
        c.dst(rd)


def g_sp_arith(c):
    k = c.rng.randrange(10)
    sp = c.sp
    if k == 0:                                          # ADD/SUB SP, SP, #imm7*4
        sub, imm7 = c.rng.randrange(2), c.rng.randrange(128)
        c.set_sp(sp - 4 * imm7 if sub else sp + 4 * imm7)
        c.emit(0xB000 | sub << 7 | imm7)
    elif k == 1:                                        # ADD Rd, SP, #imm8*4
        rd = c.pick(LOW)
        c.emit(0xA800 | rd << 8 | c.rng.randrange(256))
        c.dst(rd)
    elif k == 2:                                        # ADD{S}.W / SUB{S}.W Rd, SP, #const
        op, s = c.rng.choice([8, 13]), c.rng.randrange(2)
        imm12, rd = rand_imm12(c.rng), c.pick(GP + [SP])
        if rd == SP:
            s = 0
            imm12 = c.rng.choice([c.rng.randrange(0, 256, 4), c.rng.randrange(0xC00, 0xF80)])   # rotation 24..30
            const = thumb_expand_imm(imm12)
            c.set_sp(sp + const if op == 8 else sp - const)
        else:
            c.dst(rd)
        c.emit(0xF000 | (imm12 >> 11) << 10 | op << 5 | s << 4 | SP, (imm12 >> 8 & 7) << 12 | rd << 8 | imm12 & 0xFF)
    elif k == 3:                                        # ADDW / SUBW Rd, SP, #imm12
        op, imm12, rd = c.rng.choice([0, 0b01010]), c.rng.getrandbits(12), c.pick(GP + [SP])
        if rd == SP:
            imm12 = c.rng.randrange(0, 0x800, 4)
            c.set_sp(sp + imm12 if op == 0 else sp - imm12)
        else:
            c.dst(rd)
        c.emit(0xF200 | (imm12 >> 11) << 10 | op << 4 | SP, (imm12 >> 8 & 7) << 12 | rd << 8 | imm12 & 0xFF)
    elif k == 4:                                        # ADD Rdm, SP, Rdm (T1)
        rdm = c.pick(GP)
        c.emit(0x4468 | (rdm >> 3) << 7 | rdm & 7)
        c.dst(rdm)
    elif k == 5:                                        # ADD SP, Rm (T2)
        rm = c.free(GP)
        d = c.rng.randrange(-0x400, 0x400, 4)
        c.pin(rm, d)
        c.set_sp(sp + d)
        c.emit(0x4485 | rm << 3)
    elif k == 6:                                        # ADD{S}.W / SUB{S}.W Rd, SP, Rm, shift
        op, s, rd, rm = c.rng.choice([8, 13]), c.rng.randrange(2), c.pick(GP), c.pick(GP)
        t, imm5 = rand_shift(c.rng)
        c.emit(0xEA00 | op << 5 | s << 4 | SP, (imm5 >> 2) << 12 | rd << 8 | (imm5 & 3) << 6 | t << 4 | rm)
        c.dst(rd)
    elif k == 7:                                        # ADD.W / SUB.W SP, SP, Rm, LSL #0-3
        op, sh, rm = c.rng.choice([8, 13]), c.rng.randrange(4), c.free(GP)
        d = c.rng.randrange(0, 0x100, 4) >> sh << sh
        c.pin(rm, d >> sh)
        c.set_sp(sp + d if op == 8 else sp - d)
        c.emit(0xEA00 | op << 5 | SP, (sh >> 2) << 12 | SP << 8 | (sh & 3) << 6 | rm)
    elif k == 8:                                        # MOV SP, Rm / MOV Rd, SP (16-bit and .W)
        if c.rng.randrange(2):
            rm = c.free(GP)
            v = c.ea(4)
            c.pin(rm, v)
            c.set_sp(v)
            c.emit(0x4685 | rm << 3) if c.rng.randrange(2) else c.emit(0xEA4F, SP << 8 | rm)
        else:
            rd = c.pick(GP)
            c.emit(0x4668 | (rd >> 3) << 7 | rd & 7) if c.rng.randrange(2) else c.emit(0xEA4F, rd << 8 | SP)
            c.dst(rd)
    else:                                               # CMP SP, #const / CMP.W SP, Rm
        if c.rng.randrange(2):
            imm12 = rand_imm12(c.rng)
            c.emit(0xF1B0 | (imm12 >> 11) << 10 | SP, (imm12 >> 8 & 7) << 12 | 0xF00 | imm12 & 0xFF)
        else:
            t, imm5 = rand_shift(c.rng)
            c.emit(0xEBB0 | SP, (imm5 >> 2) << 12 | 0xF00 | (imm5 & 3) << 6 | t << 4 | c.pick(GP))


def g_alu_pc(c):
    """ADD PC, Rm / MOV PC, Rm: ALUWritePC (BranchWritePC on v7-M, bit 0 ignored)."""
    if not c.last:
        raise Reject
    rm = c.free(GP)
    if c.rng.randrange(2):
        c.pin(rm, c.target() | c.rng.randrange(2))
        c.emit(0x4687 | rm << 3)
    else:
        c.pin(rm, c.target() - (c.pc() + 4) + c.rng.randrange(2))
        c.emit(0x4487 | rm << 3)


# ---------------------------------------------------------------- 32-bit data processing

DP_OPS = [0, 1, 2, 3, 4, 8, 10, 11, 13, 14]   # AND BIC ORR ORN EOR ADD ADC SBC SUB RSB


def rand_imm12(rng):
    k = rng.randrange(4)
    if k == 0:
        return rng.randrange(0x100)                                  # 000000XY
    if k == 1:
        return rng.randrange(1, 4) << 8 | rng.randrange(1, 0x100)    # 00XY00XY, XY00XY00, XYXYXYXY
    return rng.randrange(0x400, 0x1000)                             # rotated 1bcdefgh


def dp_fields(c, op):
    """(S, Rd, Rn) for op; Rd=PC means the compare form, Rn=PC the move form."""
    s = c.rng.randrange(2)
    rd, rn = c.pick(GP), c.pick(GP)
    if op in (0, 4, 8, 13) and c.rng.random() < 0.2:      # TST TEQ CMN CMP
        return 1, PC, rn
    if op in (2, 3) and c.rng.random() < 0.3:             # MOV MVN
        return s, rd, PC
    return s, rd, rn


def g_dp32_modimm(c):
    op = c.rng.choice(DP_OPS)
    s, rd, rn = dp_fields(c, op)
    imm12 = rand_imm12(c.rng)
    c.emit(0xF000 | (imm12 >> 11) << 10 | op << 5 | s << 4 | rn, (imm12 >> 8 & 7) << 12 | rd << 8 | imm12 & 0xFF)
    if rd != PC:
        c.dst(rd)


def g_dp32_shiftreg(c):
    op = c.rng.choice(DP_OPS)
    s, rd, rn = dp_fields(c, op)
    t, imm5 = rand_shift(c.rng)
    c.emit(0xEA00 | op << 5 | s << 4 | rn, (imm5 >> 2) << 12 | rd << 8 | (imm5 & 3) << 6 | t << 4 | c.pick(GP))
    if rd != PC:
        c.dst(rd)


def g_dp32_regshift(c):
    t, s, rd, rn, rm = c.rng.randrange(4), c.rng.randrange(2), c.pick(GP), c.pick(GP), c.pick(GP)
    if c.rng.random() < 0.6 and c.is_free(rm) and rm != rn:
        c.pin(rm, c.rng.choice([0, 1, 31, 32, 33, 255, 256, 0x1FF, c.rng.getrandbits(32)]))
    c.emit(0xFA00 | t << 5 | s << 4 | rn, 0xF000 | rd << 8 | rm)
    c.dst(rd)


def g_dp32_plainimm(c):
    k = c.rng.randrange(4)
    rd = c.pick(GP)
    if k < 2:                                                          # ADDW / SUBW
        imm12 = c.rng.getrandbits(12)
        c.emit(0xF200 | (imm12 >> 11) << 10 | (0b01010 if k else 0) << 4 | c.pick(GP),
               (imm12 >> 8 & 7) << 12 | rd << 8 | imm12 & 0xFF)
    else:                                                              # MOVW / MOVT
        imm16 = c.rng.choice([0, 0xFFFF, 0x8000, c.rng.getrandbits(16)])
        c.emit(0xF240 | (k == 3) << 7 | (imm16 >> 11 & 1) << 10 | imm16 >> 12,
               (imm16 >> 8 & 7) << 12 | rd << 8 | imm16 & 0xFF)
    c.dst(rd)


def g_adr(c):
    k = c.rng.randrange(3)
    if k == 0:
        rd = c.pick(LOW)
        c.emit(0xA000 | rd << 8 | c.rng.randrange(256))
    else:
        rd, imm12 = c.pick(GP), c.rng.getrandbits(12)
        c.emit(0xF20F | (imm12 >> 11) << 10 | (0b01010 if k == 1 else 0) << 4,
               (imm12 >> 8 & 7) << 12 | rd << 8 | imm12 & 0xFF)
    c.dst(rd)


# ---------------------------------------------------------------- multiply, divide, bit operations

def g_mul(c):
    k = c.rng.randrange(4)
    if k == 0:                                                         # MULS Rdm, Rn, Rdm (16-bit)
        rdm = c.pick(LOW)
        c.emit(0x4340 | c.pick(LOW) << 3 | rdm)
        c.dst(rdm)
        return
    rd, rn, rm, ra = c.pick(GP), c.pick(GP), c.pick(GP), c.pick(GP)
    if k == 1:
        c.emit(0xFB00 | rn, 0xF000 | rd << 8 | rm)                     # MUL
    else:
        c.emit(0xFB00 | rn, ra << 12 | rd << 8 | (k == 3) << 4 | rm)  # MLA / MLS
    c.dst(rd)


def g_longmul(c):
    op = c.rng.choice([0, 2, 4, 6])                                    # SMULL UMULL SMLAL UMLAL
    lo, hi = c.rng.sample(GP, 2)
    c.emit(0xFB80 | op << 4 | c.pick(GP), lo << 12 | hi << 8 | c.pick(GP))
    c.dst(lo, hi)


def g_div(c):
    signed = c.rng.randrange(2)
    rd = c.pick(GP)
    rn, rm = c.rng.sample(GP, 2)
    x = c.rng.random()
    if x < 0.25 and c.is_free(rm):
        c.pin(rm, 0)
    elif x < 0.45 and c.is_free(rm) and c.is_free(rn):
        c.pin(rn, 0x80000000)
        c.pin(rm, M32)
    elif x < 0.7 and c.is_free(rm):
        c.pin(rm, c.rng.choice([1, 2, 3, 7, M32, M32 - 6, 0x80000000]))
    c.emit(0xFB90 | (signed ^ 1) << 5 | rn, 0xF0F0 | rd << 8 | rm)
    c.dst(rd)


def g_bitfield(c):
    k = c.rng.randrange(4)
    rd, rn = c.pick(GP), c.pick(GP)
    lsb = c.rng.randrange(32)
    if k < 2:                                                          # SBFX / UBFX
        w = c.rng.randrange(1, 33 - lsb)
        c.emit((0xF340 if k == 0 else 0xF3C0) | rn, (lsb >> 2) << 12 | rd << 8 | (lsb & 3) << 6 | (w - 1))
    else:                                                              # BFI / BFC
        msb = c.rng.randrange(lsb, 32)
        c.emit(0xF360 | (rn if k == 2 else PC), (lsb >> 2) << 12 | rd << 8 | (lsb & 3) << 6 | msb)
    c.dst(rd)


def g_extend(c):
    op = c.rng.randrange(4)                                            # SXTH SXTB UXTH UXTB
    if c.rng.randrange(2):
        rd, rm = c.pick(LOW), c.pick(LOW)
        c.emit(0xB200 | op << 6 | rm << 3 | rd)
    else:
        rd, rm = c.pick(GP), c.pick(GP)
        c.emit(0xFA0F | [0, 4, 1, 5][op] << 4, 0xF080 | rd << 8 | c.rng.randrange(4) << 4 | rm)
    c.dst(rd)


def g_bitrev(c):
    k = c.rng.randrange(3)
    if k == 0:                                                         # REV / REV16 / REVSH (16-bit)
        rd, rm = c.pick(LOW), c.pick(LOW)
        c.emit(0xBA00 | c.rng.choice([0, 1, 3]) << 6 | rm << 3 | rd)
    else:
        rd, rm = c.pick(GP), c.pick(GP)
        if k == 1:                                                     # REV.W REV16.W RBIT REVSH.W
            c.emit(0xFA90 | rm, 0xF080 | rd << 8 | c.rng.randrange(4) << 4 | rm)
        else:                                                          # CLZ
            if c.rng.random() < 0.2 and c.is_free(rm):
                c.pin(rm, 0)
            c.emit(0xFAB0 | rm, 0xF080 | rd << 8 | rm)
    c.dst(rd)


def g_sat(c):
    u, sh = c.rng.randrange(2), c.rng.randrange(2)
    rd, rn = c.pick(GP), c.pick(GP)
    amt = c.rng.randrange(1 if sh else 0, 32)
    sat = c.rng.randrange(32)
    c.emit((0xF380 if u else 0xF300) | sh << 5 | rn, (amt >> 2) << 12 | rd << 8 | (amt & 3) << 6 | sat)
    c.dst(rd)


# ---------------------------------------------------------------- loads and stores

# (load, sign, size): STRB STRH STR LDRB LDRH LDR LDRSB LDRSH
LS_KINDS = [(0, 0, 0), (0, 0, 1), (0, 0, 2), (1, 0, 0), (1, 0, 1), (1, 0, 2), (1, 1, 0), (1, 1, 1)]


def ls_rt(c, load, size, wb_base=None):
    """A valid Rt: stores of bytes/halfwords and all loads here need non-BadReg; STR word may store SP."""
    pool = GP + [SP] if (not load and size == 2) else GP
    return c.pick(pool, exclude=() if wb_base is None else (wb_base,))


def ls_done(c, load, rt):
    if load:
        c.dst(rt)


def g_ldst16_imm(c):
    k = c.rng.randrange(4)
    load = c.rng.randrange(2)
    rt = c.pick(LOW)
    if k == 3:                                                         # STR/LDR Rt, [SP, #imm8*4]
        imm8 = c.rng.randrange(256)
        if c.sp_dirty or not EA_LO <= c.sp + 4 * imm8 < EA_HI:
            raise Reject
        c.emit(0x9000 | load << 11 | rt << 8 | imm8)
    else:
        size = [2, 0, 1][k]
        imm5 = c.rng.randrange(32)
        rn, _ = c.base(imm5 << size, align=1 << size if c.rng.random() < 0.7 else 1, pool=LOW)
        c.emit([0x6000, 0x7000, 0x8000][k] | load << 11 | imm5 << 6 | rn << 3 | rt)
    ls_done(c, load, rt)


def reg_offset(c, pool, shift, exclude=()):
    """Pin an index register Rm; returns (Rm, byte offset)."""
    rm = c.free(pool, exclude)
    v = c.rng.choice([0, 1, c.rng.randrange(-64, 64), c.rng.randrange(-0x200, 0x200)])
    c.pin(rm, v)
    return rm, v << shift


def g_ldst16_reg(c):
    opb = c.rng.randrange(8)
    rt = c.pick(LOW)
    rm, off = reg_offset(c, LOW, 0)
    rn, _ = c.base(off, pool=LOW, exclude=(rm,))
    c.emit(0x5000 | opb << 9 | rm << 6 | rn << 3 | rt)
    ls_done(c, opb >= 3, rt)


def g_ldst32_imm12(c):
    load, sign, size = c.rng.choice(LS_KINDS)
    imm12 = c.rng.choice([0, 0xFFF, c.rng.getrandbits(12), c.rng.randrange(64)])
    rt = ls_rt(c, load, size)
    rn, _ = c.base(imm12, pool=GP + [SP])
    c.emit(0xF880 | sign << 8 | size << 5 | load << 4 | rn, rt << 12 | imm12)
    ls_done(c, load, rt)


def g_ldst32_imm8(c):
    """Negative offset, pre-indexed and post-indexed with writeback; LDRT/STRT-style unprivileged forms."""
    load, sign, size = c.rng.choice(LS_KINDS)
    form = c.rng.randrange(4)                     # 0: [Rn,#-i]  1: [Rn,#+-i]!  2: [Rn],#+-i  3: unprivileged [Rn,#+i]
    p, w = [(1, 0), (1, 1), (0, 1), (1, 0)][form]
    u = 1 if form == 3 else (0 if form == 0 else c.rng.randrange(2))
    imm8 = c.rng.randrange(256)
    off = imm8 if u else -imm8
    pool = GP + [SP]
    if w and c.rng.random() < 0.3:                 # SP writeback (push/pop style): keep SP aligned
        imm8 &= ~3
        off = imm8 if u else -imm8
        pool = [SP]
    rn, ea = c.base(off if p else 0, pool=pool)
    if rn == SP and w:
        c.set_sp(c.sp + off)
    rt = c.pick(GP) if form == 3 else ls_rt(c, load, size, wb_base=rn if w else None)   # LDRT/STRT: BadReg(t)
    c.emit(0xF800 | sign << 8 | size << 5 | load << 4 | rn, rt << 12 | 0x800 | p << 10 | u << 9 | w << 8 | imm8)
    ls_done(c, load, rt)
    if w and rn != SP:
        c.dst(rn)


def g_ldst32_reg(c):
    load, sign, size = c.rng.choice(LS_KINDS)
    sh = c.rng.randrange(4)
    rt = ls_rt(c, load, size)
    rm, off = reg_offset(c, GP, sh)
    rn, _ = c.base(off, pool=GP + [SP], exclude=(rm,))
    c.emit(0xF800 | sign << 8 | size << 5 | load << 4 | rn, rt << 12 | sh << 4 | rm)
    ls_done(c, load, rt)


def g_literal(c):
    if c.rng.randrange(3) == 0:                                        # LDR Rt, [PC, #imm8*4]
        rt = c.pick(LOW)
        c.emit(0x4800 | rt << 8 | c.rng.randrange(256))
    else:
        _, sign, size = c.rng.choice([k for k in LS_KINDS if k[0]])
        u, imm12 = c.rng.randrange(2), c.rng.getrandbits(12)
        rt = c.pick(GP)
        c.emit(0xF81F | sign << 8 | u << 7 | size << 5, rt << 12 | imm12)
    c.dst(rt)


def odd_target(c):
    return c.target() | 1


def g_load_pc(c):
    """Loads into PC (LoadWritePC: interworking, the loaded address must be odd on v7-M)."""
    if not c.last:
        raise Reject
    k = c.rng.randrange(6)
    tgt = odd_target(c)
    if k == 0:                                                         # LDR PC, [Rn, #imm12]
        imm12 = c.rng.randrange(0, 0x1000, 4)
        rn, ea = c.base(imm12, align=4, pool=GP + [SP])
        c.emit(0xF8D0 | rn, 0xF000 | imm12)
    elif k == 1:                                                       # LDR PC, [Rn, #+-imm8]{!} / [Rn], #+-imm8
        p, u, w = c.rng.choice([(1, 0, 0), (1, 0, 1), (1, 1, 1), (0, 0, 1), (0, 1, 1)])   # (1,1,0) is LDRT
        imm8 = c.rng.randrange(0, 256, 4)
        rn, ea = c.base((imm8 if u else -imm8) if p else 0, align=4, pool=GP + [SP] if not w else GP)
        c.emit(0xF850 | rn, 0xF800 | p << 10 | u << 9 | w << 8 | imm8)
    elif k == 2:                                                       # LDR PC, [Rn, Rm, LSL #sh]
        sh = c.rng.randrange(4)
        rm = c.free(GP)
        v = c.rng.randrange(-16, 16) * 4 >> sh
        c.pin(rm, v)
        rn, ea = c.base(v << sh, align=4, pool=GP + [SP], exclude=(rm,))
        c.emit(0xF850 | rn, 0xF000 | sh << 4 | rm)
    elif k == 3:                                                       # LDR PC, [PC, #+-imm12]
        u, imm12 = c.rng.randrange(2), c.rng.randrange(0, 0x1000, 4)
        ea = ((c.pc() + 4) & ~3) + (imm12 if u else -imm12)
        c.emit(0xF85F | u << 7, 0xF000 | imm12)
    elif k == 4:                                                       # POP {..., pc} (16-bit and .W)
        lst = c.rng.getrandbits(8) if c.rng.randrange(2) else c.rng.getrandbits(13) & ~(1 << SP)
        regs = [r for r in range(13) if lst >> r & 1]
        if lst >> 8:
            c.emit(0xE8BD, 0x8000 | lst)                               # P and M together are UNPREDICTABLE
        else:
            c.emit(0xBD00 | lst)
        ea = c.sp + 4 * len(regs)
        c.set_sp(c.sp + 4 * len(regs) + 4)
        c.dst(*regs)
    else:                                                              # LDM{IA,DB}.W Rn{!}, {..., pc}
        db, w = c.rng.randrange(2), c.rng.randrange(2)
        lst = c.rng.getrandbits(13) & ~(1 << SP) & ~(1 << LR)
        regs = [r for r in range(13) if lst >> r & 1]
        if not regs:
            raise Reject
        n = len(regs) + 1
        rn, ea0 = c.base(-4 * n if db else 0, align=4, pool=GP)
        if rn in regs and w:
            raise Reject
        c.emit((0xE910 if db else 0xE890) | w << 5 | rn, 0x8000 | lst)
        ea = ea0 + 4 * (n - 1)
        c.dst(*regs)
        if w:
            c.dst(rn)
    c.poke(ea, tgt)


def g_ldrd_strd(c):
    load = c.rng.randrange(2)
    mis = not c.in_it and c.rng.random() < 0.12
    if load and c.rng.random() < 0.15 and not mis:                     # LDRD literal
        rt, rt2 = c.rng.sample(GP, 2)
        c.emit(0xE95F | c.rng.randrange(2) << 7, rt << 12 | rt2 << 8 | c.rng.randrange(256))
        c.dst(rt, rt2)
        return
    p, w = c.rng.choice([(1, 0), (1, 1), (0, 1)])
    u, imm8 = c.rng.randrange(2), c.rng.randrange(256)
    off = 4 * imm8 if u else -4 * imm8
    pool = GP + [SP]
    if w and c.rng.random() < 0.3:
        pool = [SP]
    rn, ea = c.base(off if p else 0, align=4, mis=mis, pool=pool)
    if w and rn == SP:
        c.set_sp(c.sp + off)
    if load:
        rt, rt2 = c.rng.sample([r for r in GP if not (w and r == rn)], 2)
    else:
        rt, rt2 = c.pick([r for r in GP if not (w and r == rn)]), c.pick([r for r in GP if not (w and r == rn)])
    c.emit(0xE840 | p << 8 | u << 7 | w << 5 | load << 4 | rn, rt << 12 | rt2 << 8 | imm8)
    if load:
        c.dst(rt, rt2)
    if w and rn != SP:
        c.dst(rn)
    if mis:
        c.fault = "AlignmentFault"


def reglist(rng, pool, lo=1):
    while True:
        regs = [r for r in pool if rng.random() < rng.choice([0.2, 0.5, 0.8])]
        if len(regs) >= lo:
            return regs


def g_ldm_stm(c):
    mis = not c.in_it and c.rng.random() < 0.12
    load = c.rng.randrange(2)
    if c.rng.randrange(3) == 0:                                        # 16-bit LDMIA/STMIA
        regs = reglist(c.rng, LOW)
        rn, ea = c.base(0, align=4, mis=mis, pool=LOW)
        if load:
            wback = rn not in regs
        else:
            wback = True
            if rn in regs and rn != min(regs):                         # only the lowest register may be Rn
                raise Reject
        c.emit((0xC800 if load else 0xC000) | rn << 8 | sum(1 << r for r in regs))
    else:
        db, wback = c.rng.randrange(2), c.rng.randrange(2)
        regs = reglist(c.rng, GP, lo=2)
        n = len(regs)
        rn, ea = c.base(-4 * n if db else 0, align=4, mis=mis, pool=GP + [SP])
        if wback and rn in regs:
            raise Reject
        if rn == SP and wback:
            c.set_sp(c.sp - 4 * n if db else c.sp + 4 * n)
        c.emit((0xE900 if db else 0xE880) | wback << 5 | load << 4 | rn, sum(1 << r for r in regs))
    if load:
        c.dst(*regs)
    if wback and rn != SP:
        c.dst(rn)
    if mis:
        c.fault = "AlignmentFault"


def g_push_pop(c):
    k = c.rng.randrange(4)
    if k == 0:                                                         # PUSH {..., lr}
        regs = reglist(c.rng, LOW + [LR])
        c.emit(0xB400 | (LR in regs) << 8 | sum(1 << r for r in regs if r < 8))
        c.set_sp(c.sp - 4 * len(regs))
    elif k == 1:                                                       # POP {...}
        regs = reglist(c.rng, LOW)
        c.emit(0xBC00 | sum(1 << r for r in regs))
        c.set_sp(c.sp + 4 * len(regs))
        c.dst(*regs)
    elif k == 2:                                                       # PUSH.W / POP.W (STMDB/LDMIA SP!)
        load = c.rng.randrange(2)
        regs = reglist(c.rng, GP, lo=2)
        c.emit(0xE8BD if load else 0xE92D, sum(1 << r for r in regs))
        c.set_sp(c.sp + 4 * len(regs) if load else c.sp - 4 * len(regs))
        if load:
            c.dst(*regs)
    else:                                                              # single-register PUSH/POP (STR/LDR SP writeback)
        load = c.rng.randrange(2)
        rt = c.pick(GP)
        c.emit(0xF85D, rt << 12 | 0xB04) if load else c.emit(0xF84D, rt << 12 | 0xD04)
        c.set_sp(c.sp + 4 if load else c.sp - 4)
        if load:
            c.dst(rt)


def g_excl(c):
    """LDREX{B,H} then STREX{B,H} to the same address (succeeds), with CLREX in between or alone first (fails)."""
    size = c.rng.randrange(3)                                          # 0 byte, 1 half, 2 word
    align = 1 << size
    mis = size and c.rng.random() < 0.12
    rn = c.free(GP)
    if size == 2:
        imm8 = c.rng.randrange(256)
        ea = c.ea(4, mis)
        c.pin(rn, ea - 4 * imm8)
    else:
        imm8 = 0
        ea = c.ea(align, mis)
        c.pin(rn, ea)
    rt, rt2, rd = c.rng.sample([r for r in GP if r != rn], 3)
    # a lone STREX would depend on the monitor state left by the previous case
    seq = c.rng.choice(["ldrex", "ldrex strex", "ldrex strex", "clrex strex", "ldrex clrex strex"])
    if mis:
        seq = c.rng.choice(["ldrex", "clrex strex"])
    for ins in seq.split():
        if ins == "clrex":
            c.emit(0xF3BF, 0x8F2F)
        elif ins == "ldrex" and size == 2:
            c.emit(0xE850 | rn, rt << 12 | 0xF00 | imm8)
        elif ins == "ldrex":
            c.emit(0xE8D0 | rn, rt << 12 | 0xF4F | size << 4)
        elif size == 2:
            c.emit(0xE840 | rn, rt2 << 12 | rd << 8 | imm8)
        else:
            c.emit(0xE8C0 | rn, rt2 << 12 | 0xF40 | size << 4 | rd)
    c.steps = len(seq.split())
    if mis:
        c.fault = "AlignmentFault"
        c.steps = 1 if seq == "ldrex" else 2


def g_barrier(c):
    k = c.rng.randrange(7)
    if k == 2 and c.in_it:                                             # Unicorn stops after an ISB in an IT block
        raise Reject
    if k < 3:                                                          # DSB / DMB (SY, ISH) / ISB (SY)
        c.emit(0xF3BF, 0x8F00 | (4 + k) << 4 | (0xF if k == 2 else c.rng.choice([0xF, 0xB])))
    elif k == 3:
        c.emit(0xF3BF, 0x8F2F)                                         # CLREX
    elif k == 4:
        c.emit(c.rng.choice([0xBF00, 0xBF40]))                         # NOP, SEV
    elif k == 5:
        c.emit(0xF3AF, c.rng.choice([0x8000, 0x8004]))                 # NOP.W, SEV.W
    else:                                                              # PLD / PLI [Rn, #imm12]
        imm12 = c.rng.getrandbits(12)
        rn, _ = c.base(imm12)
        c.emit((0xF990 if c.rng.randrange(2) else 0xF890) | rn, 0xF000 | imm12)


def g_sysreg(c):
    """MRS Rd, APSR; MSR APSR_nzcvq, Rn (SYSm 0-3 all write the APSR flags)."""
    if c.rng.randrange(2):
        rd = c.pick(GP)
        c.emit(0xF3EF, 0x8000 | rd << 8)
        c.dst(rd)
    else:
        c.emit(0xF380 | c.pick(GP), 0x8800 | c.rng.randrange(4))


# ---------------------------------------------------------------- branches

def enc_b_t4(off, link):
    s = off >> 24 & 1
    i1, i2 = off >> 23 & 1, off >> 22 & 1
    j1, j2 = (i1 ^ 1) ^ s, (i2 ^ 1) ^ s
    return (0xF000 | s << 10 | (off >> 12 & 0x3FF),
            (0xD000 if link else 0x9000) | j1 << 13 | j2 << 11 | (off >> 1 & 0x7FF))


def g_branch(c):
    k = c.rng.randrange(5)
    pc4 = c.pc() + 4
    if k == 0 and not c.in_it:                                         # B<c> T1
        off = c.rng.randrange(-256, 256, 2)
        c.emit(0xD000 | c.rng.randrange(14) << 8 | (off >> 1 & 0xFF))
    elif k == 1:                                                       # B T2
        off = c.rng.randrange(-2048, 2048, 2)
        c.emit(0xE000 | (off >> 1 & 0x7FF))
    elif k == 2 and not c.in_it:                                       # B<c>.W T3
        off = c.rng.choice([c.rng.randrange(-(1 << 20), 1 << 20, 2), c.rng.randrange(-64, 64, 2)])
        s, j2, j1 = off >> 20 & 1, off >> 19 & 1, off >> 18 & 1
        c.emit(0xF000 | s << 10 | c.rng.randrange(14) << 6 | (off >> 12 & 0x3F),
               0x8000 | j1 << 13 | j2 << 11 | (off >> 1 & 0x7FF))
    else:                                                              # B.W T4 / BL
        if not c.last:
            raise Reject
        off = c.rng.randrange(-(1 << 24), 1 << 24, 2) if c.rng.random() < 0.8 else c.rng.randrange(-4096, 4096, 2)
        if not TARGET_LO <= pc4 + off < TARGET_HI:
            raise Reject
        c.emit(*enc_b_t4(off, k == 4))
    if not c.last:
        raise Reject


def g_bx_blx(c):
    if not c.last:
        raise Reject
    rm = c.free(GP)
    c.pin(rm, odd_target(c))
    c.emit((0x4780 if c.rng.randrange(2) else 0x4700) | rm << 3)


def g_cbz(c):
    rn = c.free(LOW)
    c.pin(rn, 0 if c.rng.randrange(2) else rand_val(c.rng))
    c.emit(0xB100 | c.rng.randrange(2) << 11 | c.rng.randrange(2) << 9 | c.rng.randrange(32) << 3 | rn)


def g_tbb(c):
    if not c.last:
        raise Reject
    h = c.rng.randrange(2)
    rm = c.free(GP)
    idx = c.rng.randrange(0, 200)
    c.pin(rm, idx)
    if c.rng.randrange(2):
        rn = PC
    else:
        rn, _ = c.base(idx << h, pool=GP, exclude=(rm,))
    c.emit(0xE8D0 | rn, 0xF000 | h << 4 | rm)


# ---------------------------------------------------------------- IT blocks

IT_BODY = ["dp16_shift_imm", "dp16_addsub", "dp16_alu", "dp16_hireg", "dp32_modimm", "dp32_shiftreg",
           "dp32_regshift", "dp32_plainimm", "adr", "mul", "longmul", "div", "bitfield", "extend", "bitrev", "sat",
           "ldst16_imm", "ldst16_reg", "ldst32_imm12", "ldst32_imm8", "ldst32_reg", "literal", "ldrd_strd",
           "ldm_stm", "push_pop", "sp_arith", "barrier", "sysreg"]
IT_LAST = ["branch", "bx_blx", "load_pc", "tbb", "alu_pc"]


def g_it(c):
    n = c.rng.randrange(1, 5)
    firstcond = c.rng.randrange(15)
    if firstcond == 14:
        elses = [0] * (n - 1)                                          # AL: no else parts allowed
    else:
        elses = [c.rng.randrange(2) for _ in range(n - 1)]
    mask = 0
    for k, e in enumerate(elses):
        mask |= ((firstcond & 1) ^ e) << (3 - k)
    mask |= 1 << (4 - n)
    c.emit(0xBF00 | firstcond << 4 | mask)
    c.in_it = True
    for k in range(n):
        c.last = k == n - 1
        name = c.rng.choice(IT_LAST) if c.last and c.rng.random() < 0.25 else c.rng.choice(IT_BODY)
        GENERATORS[name](c)
    c.in_it, c.last = False, True


GENERATORS = {
    "dp16_shift_imm": g_dp16_shift_imm, "dp16_addsub": g_dp16_addsub, "dp16_alu": g_dp16_alu,
    "dp16_hireg": g_dp16_hireg, "sp_arith": g_sp_arith, "alu_pc": g_alu_pc,
    "dp32_modimm": g_dp32_modimm, "dp32_shiftreg": g_dp32_shiftreg, "dp32_regshift": g_dp32_regshift,
    "dp32_plainimm": g_dp32_plainimm, "adr": g_adr,
    "mul": g_mul, "longmul": g_longmul, "div": g_div, "bitfield": g_bitfield, "extend": g_extend,
    "bitrev": g_bitrev, "sat": g_sat,
    "ldst16_imm": g_ldst16_imm, "ldst16_reg": g_ldst16_reg, "ldst32_imm12": g_ldst32_imm12,
    "ldst32_imm8": g_ldst32_imm8, "ldst32_reg": g_ldst32_reg, "literal": g_literal, "load_pc": g_load_pc,
    "ldrd_strd": g_ldrd_strd, "ldm_stm": g_ldm_stm, "push_pop": g_push_pop, "excl": g_excl,
    "barrier": g_barrier, "sysreg": g_sysreg,
    "branch": g_branch, "bx_blx": g_bx_blx, "cbz": g_cbz, "tbb": g_tbb, "it": g_it,
}
CLASSES = list(GENERATORS)


def gen_case(cls, rng, data_seed):
    while True:
        c = Ctx(rng, rng.randrange(CODE_LO, CODE_HI, 2))
        try:
            GENERATORS[cls](c)
        except Reject:
            continue
        end = c.addr + 2 * len(c.hw)
        if any(c.addr <= a < end for a in c.mem):
            continue                                                   # a literal override would hit the code
        regs = tuple(rand_val(rng) if v is None else v for v in c.init[:13]) + (
            c.init[SP], rand_val(rng) if c.init[LR] is None else c.init[LR])
        mem, run = [], None
        for a in sorted(c.mem):
            if run and run[0] + len(run[1]) == a:
                run[1].append(c.mem[a])
            else:
                run = [a, bytearray([c.mem[a]])]
                mem.append(run)
        return Case(cls, tuple(c.hw), c.addr, regs, rng.getrandbits(5) << 27, data_seed,
                    tuple((a, bytes(b)) for a, b in mem), c.steps, c.fault)


def gen_cases(cls, seed, n):
    """n cases of one class; the seed also selects the memory image."""
    rng = random.Random(f"{cls}:{seed}")
    return [gen_case(cls, rng, seed) for _ in range(n)]
