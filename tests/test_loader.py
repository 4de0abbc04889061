"""cpu.loader: valid images, every kind of malformed ELF, symbols and symbolize()."""

import os
import random
import struct
from pathlib import Path

import pytest

from cpu.faults import ELFError, MemoryFault
from cpu.loader import Image, Symbol, load_elf

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny.elf"
HELLO = DATA / "hello_float.elf"


class FakeMachine:
    def __init__(self, mem_size=0x40000, fill=0xAA):
        self.mem_size = mem_size
        self.mem = bytearray([fill]) * mem_size
        self.writes = []

    def read(self, addr, n):
        if addr < 0 or addr + n > self.mem_size:
            raise MemoryFault("read outside memory", addr=addr)
        return bytes(self.mem[addr:addr + n])

    def write(self, addr, data):
        if addr < 0 or addr + len(data) > self.mem_size:
            raise MemoryFault("write outside memory", addr=addr)
        self.mem[addr:addr + len(data)] = data
        self.writes.append((addr, len(data)))


def phdrs(data):
    """(offset of the phdr, p_type, p_offset, p_vaddr, p_filesz, p_memsz, p_flags) from raw bytes."""
    phoff, = struct.unpack_from("<I", data, 28)
    phnum, = struct.unpack_from("<H", data, 44)
    out = []
    for i in range(phnum):
        at = phoff + 32 * i
        p_type, p_offset, p_vaddr, _, p_filesz, p_memsz, p_flags, _ = struct.unpack_from("<8I", data, at)
        out.append((at, p_type, p_offset, p_vaddr, p_filesz, p_memsz, p_flags))
    return out


@pytest.fixture
def tiny_bytes():
    return TINY.read_bytes()


def write_variant(tmp_path, data, name="bad.elf"):
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def patched(data, offset, fmt, value):
    data = bytearray(data)
    struct.pack_into(fmt, data, offset, value)
    return data


# -- valid images ----------------------------------------------------------------------------

def test_tiny_image_fields():
    m = FakeMachine()
    image = load_elf(m, TINY)
    assert isinstance(image, Image)
    assert image.path == str(TINY)
    assert image.entry == 0x10001                         # Thumb bit kept
    assert image.segments == [(0x10000, 0x5C, 5), (0x20000, 0x104, 6)]
    assert image.end == 0x20104
    assert image.text_range == (0x10000, 0x1005C)


def test_tiny_segments_copied_and_zero_filled(tiny_bytes):
    m = FakeMachine(fill=0xAA)
    load_elf(m, TINY)
    for _, p_type, off, vaddr, filesz, memsz, _ in phdrs(tiny_bytes):
        assert p_type == 1
        assert m.mem[vaddr:vaddr + filesz] == tiny_bytes[off:off + filesz]
        assert m.mem[vaddr + filesz:vaddr + memsz] == bytes(memsz - filesz)
        assert m.mem[vaddr + memsz] == 0xAA                  # nothing past memsz
    assert struct.unpack_from("<i", m.mem, 0x20000)[0] == 5   # counter = 5 in .data
    assert m.mem[0x10000 - 1] == 0xAA


def test_tiny_symbols():
    image = load_elf(FakeMachine(), TINY)
    syms = image.symbols
    assert syms["main"] == Symbol("main", 0x1002C, 48, "func")
    assert syms["_start"].addr == 0x10000                  # Thumb bit cleared
    assert syms["nosize"] == Symbol("nosize", 0x10010, 0, "func")
    assert syms["counter"] == Symbol("counter", 0x20000, 4, "object")
    assert syms["table"] == Symbol("table", 0x20004, 256, "object")
    assert "_stack_top" not in syms                        # STT_NOTYPE
    assert not any(name.startswith("$") for name in syms)  # mapping symbols
    assert [s.name for s in image.funcs] == ["_start", "nosize", "add", "sh_exit", "main"]
    assert all(s.kind == "func" for s in image.funcs)


def test_tiny_symbolize():
    image = load_elf(FakeMachine(), TINY)
    assert image.symbolize(image.entry) == ("_start", 0)
    assert image.symbolize(0x1002C + 4) == ("main", 4)
    assert image.symbolize(0x1002C + 5) == ("main", 4)    # an LR value: Thumb bit ignored
    assert image.symbolize(0x10012) == ("nosize", 2)       # unsized: runs to the next function
    assert image.symbolize(0x10014) == ("add", 0)
    assert image.symbolize(0x1005B) == ("main", 46)
    assert image.symbolize(0x1005C) is None                # past main's size
    assert image.symbolize(0xFFFF) is None
    assert image.symbolize(0x20000) is None                # data is not a function
    assert image.symbolize(0) is None


def test_symbolize_aliases_gaps_and_unsized_last():
    funcs = [Symbol("a", 0x100, 0x10, "func"), Symbol("a_alias", 0x100, 0, "func"),
             Symbol("b", 0x120, 0, "func")]
    image = Image("x", 0x101, [(0x100, 0x40, 5), (0x200, 0x10, 6)], {}, funcs)
    assert image.symbolize(0x100) == ("a", 0)              # the first listed names the address
    assert image.symbolize(0x10E) == ("a", 0xE)
    assert image.symbolize(0x110) is None                  # gap after a's size
    assert image.symbolize(0x13E) == ("b", 0x1E)           # unsized last: to its segment's end
    assert image.symbolize(0x140) is None
    assert image.text_range == (0x100, 0x140)
    assert image.end == 0x210


def test_hello_aliases_prefer_global_and_lookup_is_consistent():
    image = load_elf(FakeMachine(mem_size=1 << 20), HELLO)
    addrs = [s.addr for s in image.funcs]
    assert addrs == sorted(addrs)
    assert len(image.funcs) > 100
    names_at = {}
    for sym in image.funcs:
        names_at.setdefault(sym.addr, set()).add(sym.name)
    for sym in image.funcs:
        name, offset = image.symbolize(sym.addr)
        assert offset == 0 and name in names_at[sym.addr]
        nested = any(sym.addr < a < sym.addr + sym.size for a in names_at)    # libgcc fall-throughs
        if sym.size and not nested:
            assert image.symbolize(sym.addr + sym.size - 2) == (name, sym.size - 2)
    # static functions of the same name in two files: both are in funcs, the dict keeps one
    assert [s.name for s in image.funcs].count("__sbprintf") == 2
    assert image.symbols["__sbprintf"].addr in {s.addr for s in image.funcs if s.name == "__sbprintf"}
    lo, hi = image.text_range
    assert lo <= image.symbols["main"].addr < hi
    assert image.symbolize(image.entry) in (("_start", 0), ("_mainCRTStartup", 0))


def test_no_section_headers_means_no_symbols(tmp_path, tiny_bytes):
    data = patched(patched(tiny_bytes, 32, "<I", 0), 48, "<H", 0)     # e_shoff = e_shnum = 0
    image = load_elf(FakeMachine(), write_variant(tmp_path, data))
    assert image.symbols == {} and image.funcs == []
    assert image.symbolize(0x10000) is None
    assert image.entry == 0x10001 and image.end == 0x20104


def test_parse_is_cached_by_content_not_by_path(tmp_path, tiny_bytes):
    """An explorer loads one ELF thousands of times: the parse is kept per file content.  A copy at another path
    gives the same image; a file rewritten in place with other content is parsed anew; a bad file is refused
    every time."""
    first = load_elf(FakeMachine(), TINY)
    copy = load_elf(FakeMachine(), write_variant(tmp_path, tiny_bytes, "copy.elf"))
    assert (copy.entry, copy.segments, copy.symbols) == (first.entry, first.segments, first.symbols)
    path = write_variant(tmp_path, tiny_bytes, "changing.elf")
    load_elf(FakeMachine(), path)
    path.write_bytes(bytes(patched(patched(tiny_bytes, 32, "<I", 0), 48, "<H", 0)))
    assert load_elf(FakeMachine(), path).symbols == {}
    bad = write_variant(tmp_path, patched(tiny_bytes, 4, "<B", 2))
    for _ in range(2):
        with pytest.raises(ELFError, match="ELF64"):
            load_elf(FakeMachine(), bad)


def test_missing_file_is_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_elf(FakeMachine(), tmp_path / "nope.elf")


# -- malformed files ---------------------------------------------------------------------------

def check_rejected(tmp_path, data, match, machine=None):
    m = machine or FakeMachine()
    with pytest.raises(ELFError, match=match):
        load_elf(m, write_variant(tmp_path, data))
    assert m.writes == []                                  # nothing loaded on error


@pytest.mark.parametrize("data", [b"", b"hello world\n", b"\x7fELX" + bytes(60), b"MZ\x90\x00"])
def test_not_an_elf(tmp_path, data):
    check_rejected(tmp_path, data, "not an ELF file")


def test_truncated_ident(tmp_path, tiny_bytes):
    check_rejected(tmp_path, tiny_bytes[:6], r"truncated file: 6 bytes, shorter than e_ident")


def test_truncated_header(tmp_path, tiny_bytes):
    check_rejected(tmp_path, tiny_bytes[:40], r"truncated file: 40 bytes, shorter than the ELF header")


def test_wrong_class_patched(tmp_path, tiny_bytes):
    check_rejected(tmp_path, patched(tiny_bytes, 4, "B", 2), "wrong class ELF64, expected ELF32")
    check_rejected(tmp_path, patched(tiny_bytes, 4, "B", 0), "wrong class invalid EI_CLASS 0")


@pytest.mark.skipif(not os.path.exists("/bin/true"), reason="no host /bin/true")
def test_wrong_class_host_binary(tmp_path):
    data = Path("/bin/true").read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        pytest.skip("host /bin/true is not ELF64")
    check_rejected(tmp_path, data, "wrong class ELF64")


def test_big_endian(tmp_path, tiny_bytes):
    check_rejected(tmp_path, patched(tiny_bytes, 5, "B", 2), "big-endian ELF, expected little-endian")
    check_rejected(tmp_path, patched(tiny_bytes, 5, "B", 7), "invalid EI_DATA 7")


@pytest.mark.parametrize("machine, name", [(3, "EM_386"), (62, "EM_X86_64"), (243, "EM_RISCV"),
                                           (0x7777, "30583")])
def test_wrong_machine(tmp_path, tiny_bytes, machine, name):
    check_rejected(tmp_path, patched(tiny_bytes, 18, "<H", machine),
                   rf"wrong machine {name} \({machine}\), expected EM_ARM \(40\)")


@pytest.mark.parametrize("e_type, name", [(1, "ET_REL"), (3, "ET_DYN"), (4, "ET_CORE"), (0, "ET_NONE")])
def test_not_an_executable(tmp_path, tiny_bytes, e_type, name):
    check_rejected(tmp_path, patched(tiny_bytes, 16, "<H", e_type),
                   rf"not an executable: e_type {name} \({e_type}\), expected ET_EXEC")


def test_truncated_program_headers(tmp_path, tiny_bytes):
    check_rejected(tmp_path, tiny_bytes[:60], r"truncated file: program headers at 0x34\+2x32")


def test_truncated_segment_data(tmp_path, tiny_bytes):
    _, _, off, _, filesz, _, _ = phdrs(tiny_bytes)[0]
    data = patched(tiny_bytes, 32, "<I", 0)                # no section headers: only segment data matters
    check_rejected(tmp_path, data[:off + filesz - 1],
                   rf"truncated file: PT_LOAD segment 0 data \[0x{off:x}, 0x{off + filesz:x}\) past end of file")


def test_truncated_section_headers(tmp_path, tiny_bytes):
    check_rejected(tmp_path, tiny_bytes[:-8], r"truncated file: section headers at")


def test_every_truncation_rejected(tmp_path, tiny_bytes):
    for n in range(len(tiny_bytes)):
        with pytest.raises(ELFError):
            load_elf(FakeMachine(), write_variant(tmp_path, tiny_bytes[:n]))


def test_segment_outside_memory(tmp_path, tiny_bytes):
    check_rejected(tmp_path, tiny_bytes,
                   r"PT_LOAD segment 1 \[0x00020000, 0x00020104\) is outside guest memory \[0, 0x00020100\)",
                   machine=FakeMachine(mem_size=0x20100))


def test_segment_past_4gib(tmp_path, tiny_bytes):
    at = phdrs(tiny_bytes)[1][0]
    check_rejected(tmp_path, patched(tiny_bytes, at + 8, "<I", 0xFFFFFF00),
                   r"PT_LOAD segment 1 \[0xffffff00, 0x100000004\) is outside guest memory")


def test_no_pt_load(tmp_path, tiny_bytes):
    data = tiny_bytes
    for at, *_ in phdrs(tiny_bytes):
        data = patched(data, at, "<I", 4)                  # PT_NOTE
    check_rejected(tmp_path, data, "no PT_LOAD segment")


def test_only_empty_pt_load(tmp_path, tiny_bytes):
    data = tiny_bytes
    for at, *_ in phdrs(tiny_bytes):
        data = patched(patched(data, at + 16, "<I", 0), at + 20, "<I", 0)
    check_rejected(tmp_path, data, "no PT_LOAD segment")


def test_filesz_above_memsz(tmp_path, tiny_bytes):
    at = phdrs(tiny_bytes)[1][0]
    check_rejected(tmp_path, patched(tiny_bytes, at + 16, "<I", 0x200),
                   r"PT_LOAD segment 1: p_filesz 0x200 > p_memsz 0x104")


def test_bad_phentsize(tmp_path, tiny_bytes):
    check_rejected(tmp_path, patched(tiny_bytes, 42, "<H", 40), "e_phentsize 40, expected 32")


def test_damaged_section_headers_wrapped(tmp_path, tiny_bytes):
    check_rejected(tmp_path, patched(tiny_bytes, 50, "<H", 300), "malformed ELF")   # e_shstrndx


def test_random_corruption_never_leaks_other_exceptions(tmp_path, tiny_bytes):
    rng = random.Random(1234)
    outcomes = {"ok": 0, "rejected": 0}
    for _ in range(400):
        data = bytearray(tiny_bytes)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            load_elf(FakeMachine(), write_variant(tmp_path, data))
            outcomes["ok"] += 1
        except ELFError:
            outcomes["rejected"] += 1
    assert outcomes["rejected"] > 0
