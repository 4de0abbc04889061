"""recordmcount.py: the mcount call sites of every -pg image, their functions, and the saved-LR slot the
function_graph tracer hijacks (lr_offset), checked statically against objdump and dynamically on cpu.Machine.

    python tests/test_recordmcount.py --regen    rewrites tests/data/mcount_sites.json from the current ELFs
"""
import collections
import hashlib
import io
import json
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ftrace.kernel.recordmcount import (McountMismatch, McountSite, PrologueError,  # noqa: E402
                                 RecordMcountError, analyse_prologue, decode_bl, record_mcount,
                                 thumb_expand_imm)

CPU_GUEST = ROOT / "src" / "cpu" / "guest"
FTRACE_GUEST = ROOT / "src" / "ftrace" / "guest"
GOLDEN = ROOT / "tests" / "data" / "mcount_sites.json"
CORPUS = sorted((CPU_GUEST / "bin").glob("*-pg.elf"))
SMP = sorted((CPU_GUEST / "smp" / "bin").glob("*-pg.elf"))
OURS = sorted((FTRACE_GUEST / "bin").glob("*.elf"))
ALL = CORPUS + SMP + OURS
GOLDEN_SET = CORPUS + SMP + [p for p in OURS if p.name.startswith("workload")]
OBJDUMP = shutil.which("arm-none-eabi-objdump")
GCC = shutil.which("arm-none-eabi-gcc")
KINDS = {"none", "push", "push.w", "str-pre", "sub", "sub.w", "subw", "fp"}

# Arguments for the corpus programs, as tests/test_programs.py runs them.
ARGS = {"fib": ["18"], "loop": ["50000"], "args": ["7", "-3", "hello", "40000000000"]}
STDIN = b"the quick brown fox\njumps over\n\nthe lazy dog\n"


def rel(p):
    return str(Path(p).relative_to(ROOT))


def ids(paths):
    return [rel(p) for p in paths]


# ---- a tiny Thumb-2 encoder ----

def thumb_bl(pc, target, link=True):
    """BL (T1) or B.W (T4) at pc to target: offset = target - (pc + 4); I1 = NOT(J1 XOR S), I2 = NOT(J2 XOR S)."""
    off = (target & ~1) - (pc + 4)
    assert -(1 << 24) <= off < (1 << 24) and off % 2 == 0, "out of BL range"
    s = (off >> 24) & 1
    i1, i2 = (off >> 23) & 1, (off >> 22) & 1
    j1, j2 = (1 - i1) ^ s, (1 - i2) ^ s
    hw1 = 0xF000 | s << 10 | (off >> 12) & 0x3FF
    hw2 = (0xD000 if link else 0x9000) | j1 << 13 | j2 << 11 | (off >> 1) & 0x7FF
    return hw1, hw2


def halfwords(*hws):
    return b"".join(h.to_bytes(2, "little") for h in hws)


# ---- static checks ----

@pytest.fixture(scope="module")
def infos():
    cache = {}

    def get(path):
        if path not in cache:
            cache[path] = record_mcount(path)
        return cache[path]
    return get


def test_images_exist():
    assert len(CORPUS) >= 36 and SMP and len(OURS) >= 4


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_sites_are_sound(path, infos):
    info = infos(path)
    assert len(info) > 0 and not info.excluded and not info.unknown and not info.fake
    ips = info.ips
    assert ips == sorted(set(ips))
    for s in info:
        assert isinstance(s, McountSite)
        assert s.ip % 2 == 0
        assert 2 <= s.ip - s.func_addr <= 10, s       # after 0..8 bytes of prologue
        assert s.prologue_kind == "none" or set(s.prologue_kind.split("+")) <= KINDS, s
        assert (s.prologue_kind == "none") == (s.ip - s.func_addr == 2)
        assert s.frame_size is not None and s.frame_size >= 0 and s.frame_size % 4 == 0
        if s.lr_offset is not None:
            # the saved LR lies inside the frame the prologue built, in its top word for every gcc prologue
            assert s.lr_offset == s.frame_size - 4, s
        assert info.site(s.ip) is s and info.site(s.ip | 1) is s


@pytest.mark.skipif(OBJDUMP is None,
                    reason="arm-none-eabi-objdump not on PATH (apt-get install binutils-arm-none-eabi)")
@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_sites_equal_objdump(path, infos):
    """Every `R_ARM_THM_CALL __gnu_mcount_nc` that objdump -dr lists, in the function objdump names."""
    out = subprocess.run([OBJDUMP, "-dr", str(path)], capture_output=True, text=True, check=True).stdout
    func, want = None, {}
    for line in out.splitlines():
        m = re.match(r"^([0-9a-f]{8}) <([^>]+)>:$", line)
        if m:
            func = m.group(2)
            continue
        m = re.match(r"^\s+([0-9a-f]+): R_ARM_THM_CALL\s+__gnu_mcount_nc$", line)
        if m:
            want[int(m.group(1), 16)] = func
    info = infos(path)
    assert {s.ip: s.func_name for s in info} == want


def test_golden_list(infos):
    """The committed list (tests/data/mcount_sites.json) for images that still have the recorded contents."""
    golden = json.loads(GOLDEN.read_text())
    checked = 0
    for path in GOLDEN_SET:
        entry = golden.get(rel(path))
        if entry is None or entry["sha256"] != hashlib.sha256(path.read_bytes()).hexdigest():
            continue        # rebuilt since the list was made: the objdump test still covers it
        assert [list(s) for s in infos(path)] == entry["sites"], rel(path)
        checked += 1
    assert checked > 0, "no image matches tests/data/mcount_sites.json: regenerate it (see the module docstring)"


def test_prologue_kinds_across_images(infos):
    """The histogram of prologue shapes gcc produced (reported by -rs), and that the interesting ones occur."""
    kinds = collections.Counter()
    for path in ALL:
        kinds.update(infos(path).kinds())
    print("\nprologue kinds over", len(ALL), "images:")
    for (kind, saved), n in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {kind}{' (lr saved)' if saved else ''}")
    seen = {k for k, _ in kinds}
    for k in ("none", "push", "push.w", "push+sub+fp", "push.w+sub", "push.w+subw", "push+sub.w+fp"):
        assert k in seen, k
    assert ("push", False) in kinds and ("push", True) in kinds    # push {r3, r4} vs push {r4, lr}


def test_workload_shapes(infos):
    """workload.c's functions have the prologues its comment promises, at -O2."""
    info = infos(FTRACE_GUEST / "bin" / "workload-O2.elf")
    by = {s.func_name: s for s in info}
    assert set(by) == {"main", "worker", "do_round", "fib", "sort_small", "swap_ints", "hash_str", "interp_step",
                       "big_frame", "fill_buf", "leaf_mix", "tail_caller", "tail_target", "pop_pc", "pop_pc_inner"}
    assert by["leaf_mix"].prologue_kind == "none" and by["leaf_mix"].ip == by["leaf_mix"].func_addr + 2
    assert by["big_frame"].prologue_kind == "push.w+subw" and by["big_frame"].lr_offset > 1024
    assert by["pop_pc"].prologue_kind == "push" and by["pop_pc"].lr_offset == 4
    assert by["interp_step"].lr_offset is None and by["interp_step"].prologue_kind == "push"
    assert by["tail_caller"].lr_offset is None
    assert by["fib"].lr_offset is not None


def test_bigfuncs_site_counts(infos):
    for path in OURS:
        m = re.match(r"bigfuncs-(\d+)k\.elf", path.name)
        if m:
            info = infos(path)
            n = int(m.group(1)) * 1000
            assert len(info) == n + 2         # f0..f{n-1}, worker, main
            assert sum(s.func_name.startswith("f") and s.func_name[1:].isdigit() for s in info) == n


# ---- unit tests of the decoders ----

@pytest.mark.parametrize("delta", [0, 2, -4, 0x1234, -0x1234, (1 << 24) - 2, -(1 << 24), 0x3FFFFE, -0x400000])
def test_decode_bl_inverts_the_encoder(delta):
    pc = 0x01000000
    target = pc + 4 + delta
    hw1, hw2 = thumb_bl(pc, target)
    assert decode_bl(pc, hw1, hw2) == target
    assert decode_bl(pc, *thumb_bl(pc, target, link=False)) is None      # B.W is not a BL
    assert decode_bl(pc, 0xB500, hw2) is None


def test_thumb_bl_matches_the_assembler():
    # from objdump of the corpus: 8018: f000 fcee bl 89f8 <__gnu_mcount_nc>; 83b4: f7ff ffe0 bl 8378 <fib>
    assert thumb_bl(0x8018, 0x89F8) == (0xF000, 0xFCEE)
    assert thumb_bl(0x83B4, 0x8378) == (0xF7FF, 0xFFE0)


def test_thumb_expand_imm():
    assert thumb_expand_imm(0x0AB) == 0xAB
    assert thumb_expand_imm(0x1AB) == 0x00AB00AB
    assert thumb_expand_imm(0x2AB) == 0xAB00AB00
    assert thumb_expand_imm(0x3AB) == 0xABABABAB
    assert thumb_expand_imm(0x4FF) == 0x7F800000      # 0xFF ror 9 ('1':imm7 = 0xff, rot 9)
    assert thumb_expand_imm(0xE80) == 0x400           # 0x80 ror 29: sub.w sp, sp, #1024


def prologue(*hws):
    code = halfwords(*hws, 0xB500)
    lr_offset, kind, frame = analyse_prologue(lambda a: struct.unpack_from("<H", code, a)[0], 0, len(code) - 2)
    return lr_offset, kind, frame


@pytest.mark.parametrize("hws, want", [
    ((), (None, "none", 0)),
    ((0xB510,), (4, "push", 8)),                                   # push {r4, lr}
    ((0xB418,), (None, "push", 8)),                                # push {r3, r4}
    ((0xB508, 0xB082), (12, "push+sub", 16)),                      # push {r3, lr}; sub sp, #8
    ((0xB580, 0xB082, 0xAF00), (12, "push+sub+fp", 16)),           # -O0: push {r7, lr}; sub sp, #8; add r7, sp, #0
    ((0xB580, 0x466F), (4, "push+fp", 8)),                         # push {r7, lr}; mov r7, sp
    ((0xE92D, 0x4FF0, 0xB097), (124, "push.w+sub", 128)),          # stmdb sp!, {r4-fp, lr}; sub sp, #92
    ((0xE92D, 0x4FF0, 0xF2AD, 0x4D0C), (1068, "push.w+subw", 1072)),   # ...; subw sp, sp, #1036
    ((0xB580, 0xF5AD, 0x6D80, 0xAF00), (1028, "push+sub.w+fp", 1032)),  # ...; sub.w sp, sp, #1024; add r7, sp, #0
    ((0xF84D, 0xED04), (0, "str-pre", 4)),                        # str.w lr, [sp, #-4]!
    ((0xB082, 0xB510), (4, "sub+push", 16)),                       # sub sp, #8; push {r4, lr}
    ((0xF10D, 0x0708), (None, "fp", 0)),                          # add.w r7, sp, #8
    ((0x4604,), (None, "unknown", None)),                          # mov r4, r0: not a prologue instruction
    ((0xE92D, 0xC000), (None, "unknown", None)),                  # stmdb sp!, {lr, pc}: not a valid push
    ((0xF1AD, 0x0D08, 0x0000), (None, "unknown", None)),           # sub.w sp, sp, #8; movs r0, r0
])
def test_analyse_prologue(hws, want):
    assert prologue(*hws) == want


# ---- error paths ----

def test_not_a_pg_program():
    with pytest.raises(RecordMcountError, match="no __gnu_mcount_nc"):
        record_mcount(CPU_GUEST / "bin" / "fib-O2.elf")
    with pytest.raises(RecordMcountError, match="not an ELF"):
        record_mcount(CPU_GUEST / "corpus" / "fib.c")


def patched_copy(tmp_path, path, addr, data):
    """A copy of the ELF with `data` written at virtual address addr (in its executable section)."""
    from elftools.elf.elffile import ELFFile
    blob = bytearray(path.read_bytes())
    elf = ELFFile(io.BytesIO(bytes(blob)))
    for sec in elf.iter_sections():
        if sec["sh_type"] == "SHT_PROGBITS" and sec["sh_addr"] <= addr < sec["sh_addr"] + sec["sh_size"]:
            off = sec["sh_offset"] + addr - sec["sh_addr"]
            blob[off:off + len(data)] = data
            out = tmp_path / path.name
            out.write_bytes(bytes(blob))
            return out
    raise AssertionError(f"0x{addr:x} not in a section")


def test_relocation_without_the_byte_pattern(tmp_path, infos):
    path = CPU_GUEST / "bin" / "sort-O2-pg.elf"
    site = infos(path)[1]
    bad = patched_copy(tmp_path, path, site.ip - 2, halfwords(0xBF00))      # push {lr} -> nop
    with pytest.raises(McountMismatch, match=rf"relocation but no push \{{lr\}}; bl pair: 0x{site.ip:x} "
                                            rf"\({site.func_name}\+0x{site.ip - site.func_addr:x}\)"):
        record_mcount(bad)


def test_byte_pattern_without_a_relocation(tmp_path, infos):
    path = CPU_GUEST / "bin" / "sort-O2-pg.elf"
    info = infos(path)
    main = next(s for s in info if s.func_name == "main")
    at = main.ip + 16                                   # somewhere in main's body, after its site
    bad = patched_copy(tmp_path, path, at, halfwords(0xB500, *thumb_bl(at + 2, info.mcount_addr)))
    with pytest.raises(McountMismatch, match=rf"push \{{lr\}}; bl pair but no relocation: 0x{at + 2:x} \(main\+"):
        record_mcount(bad)


def test_unknown_prologue_is_reported_or_raised(tmp_path, infos):
    path = CPU_GUEST / "bin" / "sort-O2-pg.elf"
    site = next(s for s in infos(path) if s.prologue_kind != "none")
    bad = patched_copy(tmp_path, path, site.func_addr, halfwords(0x4604))   # first prologue insn -> mov r4, r0
    info = record_mcount(bad)
    assert [s.ip for s in info.unknown] == [site.ip]
    assert info.site(site.ip).lr_offset is None and info.site(site.ip).frame_size is None
    with pytest.raises(PrologueError, match=site.func_name):
        record_mcount(bad, strict=True)


@pytest.mark.skipif(GCC is None, reason="arm-none-eabi-gcc not on PATH")
def test_no_relocations_and_runtime_exclusion(tmp_path):
    src = tmp_path / "t.c"
    src.write_text("int ftrace_tramp_99(int x) { return x + 1; }\n"
                   "int prepare_ftrace_return(int x) { return ftrace_tramp_99(x) * 2; }\n"
                   "int traced(int x) { return prepare_ftrace_return(x) - 1; }\n"
                   "int main(void) { return traced(1) != 3; }\n")
    cc = [GCC, "-mthumb", "-march=armv7-m", "-O2", "--specs=rdimon.specs"]
    subprocess.run(cc + ["-pg", "-c", str(src), "-o", str(tmp_path / "t.o")], check=True)
    subprocess.run(cc + ["-c", str(CPU_GUEST / "mcount.S"), "-o", str(tmp_path / "m.o")], check=True)
    objs = [str(tmp_path / "t.o"), str(tmp_path / "m.o")]
    subprocess.run(cc + ["-Wl,-q"] + objs + ["-o", str(tmp_path / "q.elf")], check=True)
    subprocess.run(cc + objs + ["-o", str(tmp_path / "noq.elf")], check=True)
    info = record_mcount(tmp_path / "q.elf")
    assert sorted(s.func_name for s in info.excluded) == ["ftrace_tramp_99", "prepare_ftrace_return"]
    assert sorted(s.func_name for s in info) == ["main", "traced"]
    with pytest.raises(RecordMcountError, match="-Wl,-q"):
        record_mcount(tmp_path / "noq.elf")


# ---- dynamic check: lr_offset and frame_size on the running machine ----

def ldr_w_ip_literal(pc, lit):
    """ldr.w ip, [pc, #off] loading the word at lit."""
    off = lit - ((pc + 4) & ~3)
    assert 0 <= off < 4096
    return 0xF8DF, 0xC000 | off


class GraphHook:
    """Replaces __gnu_mcount_nc with a host call that checks each site against its record and hijacks the
    return the way the graph tracer does: the pushed word and, when lr_offset is known, the prologue's saved-LR
    slot get the address of a second host call, which pops a per-core shadow stack and returns to the real
    address.  Its checks: the word at (sp at the site) + lr_offset is the parent's return address; the function
    returns with sp = (sp at the site) + frame_size (entries below it were skipped by longjmp)."""

    def __init__(self, machine, info):
        self.m, self.info = machine, info
        self.hits = collections.Counter()
        self.errors = []
        self.stacks = collections.defaultdict(list)
        self.longjmp_skips = 0
        self.counter = machine.image.symbols.get("__mcount_calls")
        self.ret_slot = machine.register_hostcall(self.on_return)
        slot = machine.register_hostcall(self.on_mcount)
        mc = info.mcount_addr
        assert mc % 4 == 0
        machine.write(mc, halfwords(*ldr_w_ip_literal(mc, mc + 8), 0x4760, 0xBF00, slot & 0xFFFF, slot >> 16))
        machine.flush_icache()

    def on_mcount(self, core):
        m = self.m
        sp, lr = core.get_reg(13), core.get_reg(14)
        ip = (lr & ~1) - 4
        parent = m.read32(sp)
        site = self.info.site(ip)
        if site is None:
            self.errors.append(f"core {core.id}: mcount called from 0x{ip:x}, not a recorded site")
        else:
            self.hits[ip] += 1
            sp_site = sp + 4
            if site.lr_offset is not None and m.read32(sp_site + site.lr_offset) != parent:
                self.errors.append(f"{site}: [sp+{site.lr_offset}] = 0x{m.read32(sp_site + site.lr_offset):x}, "
                                   f"parent 0x{parent:x}")
            self.stacks[core.id].append((ip, parent, sp_site + site.frame_size))
            if site.lr_offset is not None:
                m.write32(sp_site + site.lr_offset, self.ret_slot)
            parent = self.ret_slot
        if self.counter is not None:
            m.write32(self.counter.addr, m.read32(self.counter.addr) + 1)
        # what __gnu_mcount_nc does: pop the pushed word into lr, return into the function
        core.set_reg(14, parent)
        core.set_reg(13, sp + 4)
        core.pc = lr

    def on_return(self, core):
        sp = core.get_reg(13)
        stack = self.stacks[core.id]
        while stack and stack[-1][2] < sp:
            stack.pop()
            self.longjmp_skips += 1
        if not stack or stack[-1][2] != sp:
            self.errors.append(f"core {core.id}: return with sp 0x{sp:x}, shadow stack top {stack[-1:]}")
            self.m.halt(125)
            return
        _, ret, _ = stack.pop()
        core.pc = ret


def run_machine(path, argv, cores=1, hook=False, **kw):
    import cpu
    m = cpu.Machine(cores=cores, **kw)
    out, err = io.BytesIO(), io.BytesIO()
    m.load_elf(str(path), argv=argv, stdin=io.BytesIO(STDIN), stdout=out, stderr=err)
    h = GraphHook(m, record_mcount(path)) if hook else None
    code = m.run(max_instructions=50_000_000)
    return (out.getvalue(), err.getvalue(), code), m, h


def dynamic_cases():
    cases = []
    for p in CORPUS:
        name = p.name.split("-")[0]
        cases.append(pytest.param(p, [name] + ARGS.get(name, []), 1, id=rel(p)))
    for p in SMP:
        cases.append(pytest.param(p, [p.stem], 4, id=rel(p)))
    for p in OURS:
        cases.append(pytest.param(p, [p.stem, "2" if p.stem.startswith("workload") else "1"], 4, id=rel(p)))
    return cases


@pytest.mark.parametrize("path, argv, cores", dynamic_cases())
def test_lr_offset_dynamically(path, argv, cores):
    pytest.importorskip("cpu.core")
    kw = dict(schedule="random", quantum=50, seed=3) if cores > 1 else {}
    ref, m0, _ = run_machine(path, argv, cores, **kw)
    got, m, h = run_machine(path, argv, cores, hook=True, **kw)
    assert h.errors == []
    assert all(not s for s in h.stacks.values()), "every hijacked return came back"
    # the same run: output (timing-dependent numbers of the SMP programs aside), exit status
    def strip(r):
        return re.sub(rb"racy \d+|\d+ cycles", b"#", r[0]), r[1], r[2]
    assert strip(got) == strip(ref)
    info = h.info
    assert set(h.hits) <= set(info.ips)
    if "__mcount_calls" in m0.image.symbols:         # the corpus runtime's own count of mcount calls
        assert sum(h.hits.values()) == m0.read32(m0.image.symbols["__mcount_calls"].addr)
    if path.name.startswith("jmp"):
        assert h.longjmp_skips > 0
    if path in CORPUS or path in OURS:
        assert set(h.hits) == set(info.ips), "every site ran"


def regenerate():
    golden = {}
    for path in GOLDEN_SET:
        golden[rel(path)] = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                             "sites": [list(s) for s in record_mcount(path)]}
    GOLDEN.write_text(json.dumps(golden, indent=0, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}: {sum(len(v['sites']) for v in golden.values())} sites in {len(golden)} images")


if __name__ == "__main__":
    if sys.argv[1:] == ["--regen"]:
        regenerate()
    else:
        print(__doc__)
