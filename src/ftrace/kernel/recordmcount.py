"""recordmcount for linked Thumb-2 images: find every mcount call site, the function it belongs to, and where
that function keeps its return address.

Linux's scripts/recordmcount.c runs on each object file: it keeps the relocations of type R_ARM_PC24, R_ARM_CALL
or R_ARM_THM_CALL (type 10) against `__gnu_mcount_nc` in the text sections (any other type is a "fake mcount",
`arm_is_fake_mcount`) and writes their addresses into a `__mcount_loc` section that `ftrace_init` reads.  This
image has no such section, so `record_mcount()` does the same on the final link instead: programs are linked
with `-Wl,-q` (--emit-relocs), which keeps `.rel.text` with every R_ARM_THM_CALL at its final address.  The
result is cross-checked against a byte scan of the executable sections for `push {lr}` (0xb500) followed by a
BL (T1) whose decoded target is `__gnu_mcount_nc`; the two must agree exactly (McountMismatch otherwise).

A site's `ip` is the BL's address (rec->ip: even, MCOUNT_INSN_SIZE = 4 bytes), the address `ftrace_caller`
reports as `(lr & ~1) - 4`.  gcc places `push {lr}; bl __gnu_mcount_nc` after the function's own prologue
(0..8 bytes of it at -O2, more at -O0), so the function is found through the symbol table, never as ip - 2.

The prologue between the function's start and the site's `push {lr}` is decoded to find where the function
saved its own LR, as `lr_offset`: the offset from the sp at the site (just before its push {lr}) to the stack
slot holding the saved LR, or None when the prologue did not save LR (the function then returns through the LR
register, i.e. through the word the site pushed, which mcount_exit reloads into lr).  This is what a
function_graph tracer must hijack on Thumb-2.  The kernel's ARM graph tracer finds the return-address slot
through the APCS frame pointer (`ftrace_graph_caller`: `sub r0, fp, #4`); Thumb-2 code has no APCS frame, and
mainline ARM long made function_graph unavailable on Thumb-2 kernels (`HAVE_FUNCTION_GRAPH_TRACER if
!THUMB2_KERNEL`) until prepare_ftrace_return could use the unwinder.  Offering function_graph on Thumb-2 here,
with the return slot located by prologue analysis, goes beyond the v3.6 kernel.

prologue_kind names the prologue's instructions in order, joined by '+': 'push' (16-bit push), 'push.w'
(stmdb sp!, {...} / push.w), 'str-pre' (str.w rt, [sp, #-4]!), 'sub' (sub sp, #n), 'sub.w' (sub.w sp, sp,
#const), 'subw' (subw sp, sp, #imm12), 'fp' (add rd, sp, #n / mov rd, sp: a frame pointer, no sp change);
'none' when the site's push {lr} is the function's first instruction; 'unknown' when the prologue holds an
instruction the analysis does not model (lr_offset is then None and the site is listed in McountInfo.unknown;
record_mcount(strict=True) raises PrologueError instead).

    python src/ftrace/kernel/recordmcount.py ELF...
        prints the sites (like available_filter_functions) and a summary of the prologue kinds (also as
        python -m ftrace.kernel.recordmcount)
"""
import bisect
import io
import re
import struct
import sys
from collections import Counter
from typing import NamedTuple, Optional

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

MCOUNT_NAME = "__gnu_mcount_nc"
MCOUNT_INSN_SIZE = 4
PUSH_LR = 0xB500
R_ARM_PC24, R_ARM_THM_CALL, R_ARM_CALL = 1, 10, 28

# ftrace's own guest runtime (src/ftrace/guest/entry.S) and the SMP runtime: never traced.  They are not built
# with -pg, so they have no sites; a site found in one would be a build error, and it is excluded (reported in
# McountInfo.excluded) rather than patched.
RUNTIME_FUNCTIONS = frozenset({
    MCOUNT_NAME, "ftrace_caller", "ftrace_call", "ftrace_graph_call", "ftrace_graph_caller",
    "return_to_handler", "ftrace_stub", "prepare_ftrace_return", "ftrace_return_to_handler",
})
RUNTIME_PATTERN = re.compile(r"ftrace_tramp_\d+$")


class RecordMcountError(Exception):
    """The image cannot be processed (not an ARM ELF, no __gnu_mcount_nc, no relocations, ...)."""


class McountMismatch(RecordMcountError):
    """The relocations and the byte scan disagree about the call sites."""


class PrologueError(RecordMcountError):
    """strict=True and a prologue holds an instruction the analysis does not model."""


class McountSite(NamedTuple):
    """One mcount call site (one dyn_ftrace record).

    ip              the BL's address (even): rec->ip
    func_name       the function containing it (symbol table)
    func_addr       the function's start (Thumb bit cleared)
    lr_offset       the function's saved LR is at (sp at the site, before its push {lr}) + lr_offset; None when
                    the prologue did not save LR (or could not be analysed)
    prologue_kind   the prologue's instructions (module docstring); 'unknown' if they could not be analysed
    frame_size      bytes the prologue took off sp before the site: the sp the function was entered with, and
                    returns with, is the sp at the site + frame_size; None for an 'unknown' prologue
    """
    ip: int
    func_name: str
    func_addr: int
    lr_offset: Optional[int]
    prologue_kind: str
    frame_size: Optional[int] = None


class McountInfo:
    """The result of record_mcount(): `sites` sorted by ip (iterate, index or len() the object itself).

    Attributes: path, mcount_addr (__gnu_mcount_nc, Thumb bit cleared), sites, excluded (sites inside ftrace's
    runtime, not in `sites`), unknown (the sites whose prologue_kind is 'unknown'), fake (addresses of
    relocations against __gnu_mcount_nc of other types than a call, ignored like arm_is_fake_mcount).
    """

    def __init__(self, path, mcount_addr, sites, excluded, fake):
        self.path = path
        self.mcount_addr = mcount_addr
        self.sites = tuple(sites)
        self.excluded = tuple(excluded)
        self.fake = tuple(fake)
        self.unknown = tuple(s for s in self.sites if s.prologue_kind == "unknown")
        self._by_ip = {s.ip: s for s in self.sites}

    def __len__(self):
        return len(self.sites)

    def __iter__(self):
        return iter(self.sites)

    def __getitem__(self, i):
        return self.sites[i]

    @property
    def ips(self):
        return [s.ip for s in self.sites]

    def site(self, ip):
        """The site whose BL is at ip (Thumb bit ignored), or None."""
        return self._by_ip.get(ip & ~1)

    def kinds(self):
        """Counter of (prologue_kind, LR saved in the prologue?) over the sites."""
        return Counter((s.prologue_kind, s.lr_offset is not None) for s in self.sites)

    def __repr__(self):
        return (f"McountInfo({self.path!r}, sites={len(self.sites)}, excluded={len(self.excluded)}, "
                f"unknown={len(self.unknown)})")


# ---- Thumb-2 decoding helpers ----

def is_thumb32(hw1):
    """A 32-bit Thumb instruction starts with 0b11101, 0b11110 or 0b11111 in bits 15..11."""
    return (hw1 >> 11) in (0b11101, 0b11110, 0b11111)


def decode_bl(pc, hw1, hw2):
    """Target of BL (T1) at pc, or None if (hw1, hw2) is not a BL T1."""
    if (hw1 & 0xF800) != 0xF000 or (hw2 & 0xD000) != 0xD000:
        return None
    s = (hw1 >> 10) & 1
    i1 = 1 - (((hw2 >> 13) & 1) ^ s)
    i2 = 1 - (((hw2 >> 11) & 1) ^ s)
    imm = (s << 24) | (i1 << 23) | (i2 << 22) | ((hw1 & 0x3FF) << 12) | ((hw2 & 0x7FF) << 1)
    if s:
        imm -= 1 << 25
    return (pc + 4 + imm) & 0xFFFFFFFF


def thumb_expand_imm(imm12):
    """ThumbExpandImm (ARM ARM A6.3.2) for the data-processing modified immediates."""
    if imm12 >> 10 == 0:
        imm8 = imm12 & 0xFF
        kind = (imm12 >> 8) & 3
        if kind == 0:
            return imm8
        if kind == 1:
            return imm8 << 16 | imm8
        if kind == 2:
            return imm8 << 24 | imm8 << 8
        return imm8 * 0x01010101
    value, rot = 0x80 | (imm12 & 0x7F), imm12 >> 7
    return ((value >> rot) | (value << (32 - rot))) & 0xFFFFFFFF


FP_RD = frozenset(r << 8 for r in range(13))    # hw2 & 0x8f00 of ADD.W/ADDW rd, sp, #imm with rd in r0-r12


def analyse_prologue(read16, start, push_addr):
    """Decode [start, push_addr) as a prologue; returns (lr_offset or None, prologue_kind, frame_size or None).

    read16(addr) gives the halfword at addr.  The stack is tracked as an offset from the sp at entry; a store of
    LR records its slot; lr_offset is that slot minus the sp at push_addr (the site's sp before its push {lr}).
    """
    sp = 0
    lr_slot = None
    ops = []
    pc = start
    while pc < push_addr:
        hw1 = read16(pc)
        hw2 = read16(pc + 2) if is_thumb32(hw1) else None
        size = 4 if hw2 is not None else 2
        if pc + size > push_addr:
            return None, "unknown", None
        if hw2 is None and (hw1 & 0xFE00) == 0xB400:                        # PUSH T1: push {r0-r7[, lr]}
            regs = (hw1 & 0xFF) | ((hw1 & 0x100) << 6)
            op = "push"
        elif hw1 == 0xE92D and not hw2 & 0xA000:                             # STMDB sp!, {...} (PUSH T2)
            regs = hw2 & 0x5FFF
            op = "push.w"
        elif hw1 == 0xF84D and (hw2 & 0x0FFF) == 0x0D04:                     # STR.W rt, [sp, #-4]! (PUSH T3)
            regs = 1 << (hw2 >> 12)
            op = "str-pre"
        elif hw2 is None and (hw1 & 0xFF80) == 0xB080:                       # SUB sp, sp, #imm7*4 (T1)
            sp -= (hw1 & 0x7F) * 4
            ops.append("sub")
            pc += size
            continue
        elif hw2 is not None and (hw1 & 0xFBFF) == 0xF1AD and (hw2 & 0x8F00) == 0x0D00:   # SUB.W sp, sp, #const
            sp -= thumb_expand_imm(((hw1 >> 10) & 1) << 11 | ((hw2 >> 12) & 7) << 8 | (hw2 & 0xFF))
            ops.append("sub.w")
            pc += size
            continue
        elif hw2 is not None and (hw1 & 0xFBFF) == 0xF2AD and (hw2 & 0x8F00) == 0x0D00:   # SUBW sp, sp, #imm12
            sp -= ((hw1 >> 10) & 1) << 11 | ((hw2 >> 12) & 7) << 8 | (hw2 & 0xFF)
            ops.append("subw")
            pc += size
            continue
        elif (hw2 is None and ((hw1 & 0xF800) == 0xA800                     # ADD rd, sp, #imm8*4 (T1)
                               or ((hw1 & 0xFF78) == 0x4668 and (hw1 & 0x87) != 0x85))  # MOV rd, sp (rd != sp)
              or hw2 is not None and (hw1 & 0xFBEF) == 0xF10D and (hw2 & 0x8F00) in FP_RD
              or hw2 is not None and (hw1 & 0xFBFF) == 0xF20D and (hw2 & 0x8F00) in FP_RD):
            ops.append("fp")                                                 # ADD.W / ADDW rd, sp, #imm
            pc += size
            continue
        else:
            return None, "unknown", None
        n = bin(regs).count("1")
        if n == 0:
            return None, "unknown", None
        sp -= 4 * n
        if regs & (1 << 14):                  # lr is the highest register stored, so the highest slot
            lr_slot = sp + 4 * (n - 1)
        ops.append(op)
        pc += size
    kind = "+".join(ops) if ops else "none"
    return (None if lr_slot is None else lr_slot - sp), kind, -sp


# ---- the ELF side ----

def _load(path, data):
    if data[:4] != b"\x7fELF":
        raise RecordMcountError(f"{path}: not an ELF file")
    try:
        elf = ELFFile(io.BytesIO(data))
    except Exception as exc:
        raise RecordMcountError(f"{path}: malformed ELF: {exc}") from exc
    if elf["e_machine"] != "EM_ARM" or elf.elfclass != 32 or not elf.little_endian:
        raise RecordMcountError(f"{path}: not a little-endian 32-bit ARM ELF")
    return elf


STT_FUNC, SHN_UNDEF = 2, 0
BIND_RANK = {1: 0, 2: 1}        # STB_GLOBAL, STB_WEAK; anything else (STB_LOCAL) ranks 2


def _symbols(elf, symtab):
    """[(name, value, size, type, bind, shndx)] of .symtab, parsed with struct (pyelftools is slow per symbol)."""
    strtab = elf.get_section(symtab["sh_link"]).data()
    data = symtab.data()
    out = []
    for name_off, value, size, info, _, shndx in struct.iter_unpack("<IIIBBH", data[:len(data) // 16 * 16]):
        end = strtab.find(b"\0", name_off)
        out.append((strtab[name_off:end].decode("utf-8", "replace"), value, size, info & 15, info >> 4, shndx))
    return out


def _functions(symbols):
    """Function symbols as (addr, end or None, name), one per address: global > weak > local, sized, by name."""
    best = {}
    for name, value, size, typ, bind, shndx in symbols:
        if typ != STT_FUNC or not name or shndx == SHN_UNDEF:
            continue
        addr = value & ~1
        key = (BIND_RANK.get(bind, 2), size == 0, name)
        if addr not in best or key < best[addr][0]:
            best[addr] = (key, size, name)
    return [(addr, addr + size if size else None, name) for addr, (_, size, name) in sorted(best.items())]


def _scan(sections, mcount_addr):
    """Byte scan: addresses of BLs to mcount_addr preceded by push {lr}, in the executable sections."""
    found = set()
    for base, data in sections:
        i = data.find(b"\x00\xb5")
        while i >= 0:
            if i % 2 == 0 and i + 6 <= len(data):
                hw1, hw2 = struct.unpack_from("<HH", data, i + 2)
                if decode_bl(base + i + 2, hw1, hw2) == mcount_addr:
                    found.add(base + i + 2)
            i = data.find(b"\x00\xb5", i + 1)
    return found


def _fmt(addrs, where):
    shown = ", ".join(f"0x{a:x} ({where(a)})" for a in sorted(addrs)[:8])
    return shown + (f" and {len(addrs) - 8} more" if len(addrs) > 8 else "")


def record_mcount(image_path, strict=False, data=None):
    """The mcount call sites of a linked -pg Thumb-2 ELF (built with -Wl,-q), as an McountInfo.

    Each site is an McountSite(ip, func_name, func_addr, lr_offset, prologue_kind, frame_size), sorted by ip.  Raises
    RecordMcountError for an unusable image (no __gnu_mcount_nc, no relocations, ARM-state calls, a site outside
    every function symbol), McountMismatch when relocations and byte scan disagree, and with strict=True
    PrologueError for a prologue the analysis cannot model (otherwise that site has kind 'unknown').  `data`: the
    file's bytes when the caller has them already.
    """
    path = str(image_path)
    if data is None:
        with open(path, "rb") as f:
            data = f.read()
    elf = _load(path, data)
    symtab = elf.get_section_by_name(".symtab")
    if not isinstance(symtab, SymbolTableSection):
        raise RecordMcountError(f"{path}: no symbol table")
    symbols = _symbols(elf, symtab)
    mcount_idx = {i for i, sym in enumerate(symbols) if sym[0] == MCOUNT_NAME and sym[5] != SHN_UNDEF}
    if not mcount_idx:
        raise RecordMcountError(f"{path}: no {MCOUNT_NAME} symbol: not a -pg program")
    mcount_addr = symbols[min(mcount_idx)][1] & ~1

    text = []
    for sec in elf.iter_sections():
        if sec["sh_flags"] & SH_FLAGS.SHF_EXECINSTR and sec["sh_type"] == "SHT_PROGBITS" and sec["sh_size"]:
            text.append((sec["sh_addr"], sec.data()))
    if not text:
        raise RecordMcountError(f"{path}: no executable section")
    text.sort()

    def read16(addr):
        for base, data in text:
            if base <= addr and addr + 2 <= base + len(data):
                return struct.unpack_from("<H", data, addr - base)[0]
        raise RecordMcountError(f"{path}: address 0x{addr:x} is outside the executable sections")

    reloc_sites, fake, saw_relocs = set(), [], False
    for sec in elf.iter_sections():
        if sec["sh_type"] != "SHT_REL":
            continue
        target = elf.get_section(sec["sh_info"])
        if not target["sh_flags"] & SH_FLAGS.SHF_EXECINSTR:
            continue
        saw_relocs = True
        data = sec.data()
        for off, info in struct.iter_unpack("<II", data[:len(data) // 8 * 8]):
            if info >> 8 not in mcount_idx:
                continue
            rtype = info & 0xFF
            if rtype == R_ARM_THM_CALL:
                reloc_sites.add(off)
            elif rtype in (R_ARM_CALL, R_ARM_PC24):
                raise RecordMcountError(f"{path}: ARM-state mcount call at 0x{off:x}: only Thumb-2 is supported")
            else:
                fake.append(off)
    if not saw_relocs:
        raise RecordMcountError(f"{path}: no relocations for the executable sections: link with -Wl,-q "
                                "(--emit-relocs) so that the R_ARM_THM_CALL relocations are kept")

    funcs = _functions(symbols)
    starts = [f[0] for f in funcs]

    def function_of(addr):
        i = bisect.bisect_right(starts, addr) - 1
        if i < 0:
            return None
        start, end, name = funcs[i]
        if end is None:
            end = starts[i + 1] if i + 1 < len(starts) else None
        return (start, name) if end is None or addr < end else None

    def where(addr):
        f = function_of(addr)
        return f"{f[1]}+0x{addr - f[0]:x}" if f else "no function"

    scan_sites = _scan(text, mcount_addr)
    if reloc_sites != scan_sites:
        only_rel, only_scan = reloc_sites - scan_sites, scan_sites - reloc_sites
        msg = [f"{path}: the R_ARM_THM_CALL relocations against {MCOUNT_NAME} and the byte scan for "
               f"push {{lr}}; bl {MCOUNT_NAME} disagree"]
        if only_rel:
            msg.append(f"relocation but no push {{lr}}; bl pair: {_fmt(only_rel, where)}")
        if only_scan:
            msg.append(f"push {{lr}}; bl pair but no relocation: {_fmt(only_scan, where)}")
        raise McountMismatch("; ".join(msg))

    sites, excluded = [], []
    for ip in sorted(reloc_sites):
        if ip & 1:
            raise RecordMcountError(f"{path}: odd mcount call site address 0x{ip:x}")
        f = function_of(ip - 2)
        if f is None:
            raise RecordMcountError(f"{path}: mcount call site 0x{ip:x} is not inside any function symbol")
        start, name = f
        lr_offset, kind, frame_size = analyse_prologue(read16, start, ip - 2)
        site = McountSite(ip, name, start, lr_offset, kind, frame_size)
        if name in RUNTIME_FUNCTIONS or RUNTIME_PATTERN.match(name):
            excluded.append(site)
            continue
        if kind == "unknown" and strict:
            raise PrologueError(f"{path}: cannot analyse the prologue of {name} (0x{start:x}) before its mcount "
                                f"site at 0x{ip:x}: " + " ".join(f"{read16(a):04x}" for a in range(start, ip - 2, 2)))
        sites.append(site)
    return McountInfo(path, mcount_addr, sites, excluded, fake)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m ftrace.kernel.recordmcount ELF...", file=sys.stderr)
        return 2
    status = 0
    for path in argv:
        try:
            info = record_mcount(path)
        except RecordMcountError as e:
            print(f"recordmcount: {e}", file=sys.stderr)
            status = 1
            continue
        print(f"# {path}: {len(info)} sites, {MCOUNT_NAME} at 0x{info.mcount_addr:x}")
        for s in info:
            lr = "-" if s.lr_offset is None else f"sp+{s.lr_offset}"
            print(f"0x{s.ip:08x} {s.func_name}+0x{s.ip - s.func_addr:x} lr={lr} {s.prologue_kind}")
        for (kind, saved), n in sorted(info.kinds().items()):
            print(f"# {n:6d} {kind}{' (lr saved)' if saved else ''}")
    return status


if __name__ == "__main__":
    sys.exit(main())
