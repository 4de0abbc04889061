"""Load an ELF32 little-endian ARM executable into flat guest memory (each PT_LOAD at p_vaddr)."""

import bisect
import hashlib
import io
import os
import struct
from typing import NamedTuple

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from .faults import ELFError

EHDR_SIZE = 52          # sizeof(Elf32_Ehdr)
PHDR_SIZE = 32          # sizeof(Elf32_Phdr)
PF_X = 0x1
BIND_RANK = {"STB_GLOBAL": 0, "STB_WEAK": 1}   # anything else (STB_LOCAL) ranks 2
KINDS = {"STT_FUNC": "func", "STT_OBJECT": "object"}


class Symbol(NamedTuple):
    name: str
    addr: int       # Thumb bit cleared for functions
    size: int       # 0 when the symbol has no .size
    kind: str       # 'func' or 'object'


class Image:
    """What load_elf put in memory, plus the symbol table and a fast address -> function lookup.

    segments: [(vaddr, memsz, p_flags)]; end: highest loaded address (exclusive);
    text_range: (lowest, highest exclusive) address of the executable segments, or None.
    """

    def __init__(self, path, entry, segments, symbols, funcs):
        """funcs: sorted by address; where several share an address the first one names it."""
        self.path = path
        self.entry = entry
        self.segments = segments
        self.end = max(vaddr + memsz for vaddr, memsz, _ in segments)
        text = [(vaddr, vaddr + memsz) for vaddr, memsz, flags in segments if flags & PF_X]
        self.text_range = (min(s for s, _ in text), max(e for _, e in text)) if text else None
        self.symbols = symbols
        self.funcs = funcs
        # One entry per address; an unsized function extends to the next one or to its segment's end.
        self._starts, self._names, self._ends = [], [], []
        for sym in funcs:
            if not self._starts or sym.addr != self._starts[-1]:
                self._starts.append(sym.addr)
                self._names.append(sym.name)
                self._ends.append(sym.addr + sym.size if sym.size else None)
        n = len(self._starts)
        for i in range(n):
            if self._ends[i] is None:
                self._ends[i] = self._starts[i + 1] if i + 1 < n else self._segment_end(self._starts[i])

    def _segment_end(self, addr):
        for vaddr, memsz, _ in self.segments:
            if vaddr <= addr < vaddr + memsz:
                return vaddr + memsz
        return addr

    def symbolize(self, addr):
        """(function name, offset) for the function containing addr (Thumb bit ignored), or None."""
        addr &= ~1
        i = bisect.bisect_right(self._starts, addr) - 1
        if i < 0 or addr >= self._ends[i]:
            return None
        return self._names[i], addr - self._starts[i]

    def __repr__(self):
        return (f"Image({self.path!r}, entry=0x{self.entry:08x}, segments={len(self.segments)}, "
                f"symbols={len(self.symbols)})")


def load_elf(machine, path):
    """Validate the ELF at path, copy its PT_LOAD segments into machine memory, return an Image.

    Raises cpu.faults.ELFError (nothing is written to memory then); OSError if the file cannot be read.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    entry, loads, syms = _parse_cached(data, path)
    for index, vaddr, memsz, _, _ in loads:
        if vaddr + memsz > machine.mem_size:
            raise ELFError(f"{path}: PT_LOAD segment {index} [0x{vaddr:08x}, 0x{vaddr + memsz:08x}) "
                           f"is outside guest memory [0, 0x{machine.mem_size:08x})")
    for _, vaddr, memsz, _, payload in loads:
        machine.write(vaddr, payload + bytes(memsz - len(payload)))
    symbols = {}
    for sym, _ in sorted(syms, key=lambda sr: sr[1]):      # global beats weak beats local
        symbols.setdefault(sym.name, sym)
    # At a shared address: best binding, then sized, then by name.
    funcs = [s for s, _ in sorted((sr for sr in syms if sr[0].kind == "func"),
                                  key=lambda sr: (sr[0].addr, sr[1], sr[0].size == 0, sr[0].name))]
    return Image(path, entry, [(v, m, fl) for _, v, m, fl, _ in loads], symbols, funcs)


class ContentCache:
    """fn(data, *args), computed once per distinct (content of data, args) and kept for the newest `size`; fn's
    results must be immutable.  A call that raises is not kept: a bad file is refused every time.  The explorer
    and the model checker load one ELF thousands of times."""

    def __init__(self, fn, size=16):
        self.fn, self.size, self.table = fn, size, {}

    def __call__(self, data, *args):
        key = (hashlib.blake2b(data, digest_size=16).digest(), *args)
        hit = self.table.get(key)
        if hit is None:
            hit = self.fn(data, *args)
            if len(self.table) >= self.size:
                del self.table[next(iter(self.table))]
            self.table[key] = hit
        return hit


def _parse(data, path):
    """-> (entry, [(phdr index, vaddr, memsz, flags, file bytes)], [(Symbol, binding rank)])."""
    if data[:4] != b"\x7fELF":
        raise ELFError(f"{path}: not an ELF file ({f'magic {data[:4]!r}' if data else 'empty'})")
    if len(data) < 16:
        raise ELFError(f"{path}: truncated file: {len(data)} bytes, shorter than e_ident")
    if data[4] != 1:
        cls = {2: "ELF64"}.get(data[4], f"invalid EI_CLASS {data[4]}")
        raise ELFError(f"{path}: wrong class {cls}, expected ELF32")
    if data[5] != 1:
        order = {2: "big-endian"}.get(data[5], f"invalid EI_DATA {data[5]}")
        raise ELFError(f"{path}: {order} ELF, expected little-endian")
    if len(data) < EHDR_SIZE:
        raise ELFError(f"{path}: truncated file: {len(data)} bytes, shorter than the ELF header")
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    try:
        elf = ELFFile(io.BytesIO(data))
        if e_machine != 40:
            raise ELFError(f"{path}: wrong machine {elf['e_machine']} ({e_machine}), expected EM_ARM (40)")
        if e_type != 2:
            raise ELFError(f"{path}: not an executable: e_type {elf['e_type']} ({e_type}), expected ET_EXEC")
        phoff, phnum, phentsize = elf["e_phoff"], elf["e_phnum"], elf["e_phentsize"]
        if phnum and phentsize != PHDR_SIZE:
            raise ELFError(f"{path}: e_phentsize {phentsize}, expected {PHDR_SIZE}")
        if phoff + phnum * phentsize > len(data):
            raise ELFError(f"{path}: truncated file: program headers at 0x{phoff:x}+{phnum}x{phentsize} "
                           f"past end of file ({len(data)} bytes)")
        shoff, shnum, shentsize = elf["e_shoff"], elf["e_shnum"], elf["e_shentsize"]
        if shoff and shoff + shnum * shentsize > len(data):
            raise ELFError(f"{path}: truncated file: section headers at 0x{shoff:x}+{shnum}x{shentsize} "
                           f"past end of file ({len(data)} bytes)")
        loads = []
        for index, seg in enumerate(elf.iter_segments()):
            if seg["p_type"] != "PT_LOAD":
                continue
            offset, filesz, memsz = seg["p_offset"], seg["p_filesz"], seg["p_memsz"]
            vaddr, flags = seg["p_vaddr"], seg["p_flags"]
            if filesz > memsz:
                raise ELFError(f"{path}: PT_LOAD segment {index}: p_filesz 0x{filesz:x} > p_memsz 0x{memsz:x}")
            if offset + filesz > len(data):
                raise ELFError(f"{path}: truncated file: PT_LOAD segment {index} data "
                               f"[0x{offset:x}, 0x{offset + filesz:x}) past end of file ({len(data)} bytes)")
            if memsz:
                loads.append((index, vaddr, memsz, flags, data[offset:offset + filesz]))
        if not loads:
            raise ELFError(f"{path}: no PT_LOAD segment")
        syms = []
        for section in elf.iter_sections():
            if not isinstance(section, SymbolTableSection) or section["sh_type"] != "SHT_SYMTAB":
                continue
            for sym in section.iter_symbols():
                kind = KINDS.get(sym["st_info"]["type"])
                if kind is None or not sym.name or sym["st_shndx"] == "SHN_UNDEF":
                    continue
                addr = sym["st_value"] & ~1 if kind == "func" else sym["st_value"]
                syms.append((Symbol(sym.name, addr, sym["st_size"], kind),
                             BIND_RANK.get(sym["st_info"]["bind"], 2)))
        return elf["e_entry"], loads, syms
    except ELFError:
        raise
    except Exception as exc:    # pyelftools reports damage with many exception types
        raise ELFError(f"{path}: malformed ELF: {type(exc).__name__}: {exc}") from exc


_parse_cached = ContentCache(_parse)     # _parse's results are tuples, bytes and Symbols
