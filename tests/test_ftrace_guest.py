"""The guest half of ftrace (src/ftrace/guest): entry.S's layout and contract, and the -pg programs built on it
(workload.c, bigfuncs.py), run on cpu.Machine unpatched, with one site patched to ftrace_caller by hand, and with
every site going through ftrace_caller and the graph caller."""
import collections
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
cpu = pytest.importorskip("cpu")

from cpu.faults import GuestFault  # noqa: E402
from ftrace.kernel.recordmcount import decode_bl, record_mcount  # noqa: E402

GUEST = ROOT / "src" / "ftrace" / "guest"
BIN = GUEST / "bin"
ELFS = sorted(BIN.glob("*.elf"))
WORKLOADS = ["O2", "O0"]
RUNTIME = ["__gnu_mcount_nc", "ftrace_caller", "ftrace_call", "ftrace_graph_call", "ftrace_graph_caller",
           "return_to_handler", "ftrace_stub", "prepare_ftrace_return", "ftrace_return_to_handler"]
TRAMPOLINES = ["prepare_ftrace_return", "ftrace_return_to_handler"] + [f"ftrace_tramp_{i}" for i in range(16)]
TRAMP_LITERAL = 8       # a host trampoline's literal is at symbol + 8 (entry.S)
NOP_W = (0xF3AF, 0x8000)
FUNCS = ["main", "worker", "do_round", "fib", "sort_small", "swap_ints", "hash_str", "interp_step", "big_frame",
         "fill_buf", "leaf_mix", "tail_caller", "tail_target", "pop_pc", "pop_pc_inner"]   # workload.c's F_* order
# workload-{O2,O0}.elf: each core's checksum for ITERATIONS 4 and for the default (32)
CHECKSUMS = {4: ["0xb8755080", "0xe48bce91", "0x2dd942a2", "0xcb395cb3"],
             32: ["0xbce5e1c0", "0x482a8241", "0x3afd7202", "0xb491a743"]}


# ---- helpers ----

def thumb_bl(pc, target, link=True):
    """BL (T1), or B.W (T4) with link=False, at pc to target: offset = target - (pc + 4);
    I1 = NOT(J1 XOR S), I2 = NOT(J2 XOR S), so J1 = NOT(I1) XOR S and J2 = NOT(I2) XOR S."""
    off = (target & ~1) - (pc + 4)
    assert -(1 << 24) <= off < (1 << 24), "out of BL range"
    s = (off >> 24) & 1
    j1 = (1 - ((off >> 23) & 1)) ^ s
    j2 = (1 - ((off >> 22) & 1)) ^ s
    return (0xF000 | s << 10 | (off >> 12) & 0x3FF,
            (0xD000 if link else 0x9000) | j1 << 13 | j2 << 11 | (off >> 1) & 0x7FF)


def write_insn(m, addr, hws):
    m.write(addr, b"".join(h.to_bytes(2, "little") for h in hws))


def read_hws(m, addr, n):
    return tuple(m.read16(addr + 2 * i) for i in range(n))


def load(elf, args=(), cores=1, **kw):
    m = cpu.Machine(cores=cores, **kw)
    out, err = io.BytesIO(), io.BytesIO()
    m.load_elf(str(elf), argv=[elf.stem, *map(str, args)], stdout=out, stderr=err, stdin=io.BytesIO())
    return m, out, err


def run(m, out, err, limit=60_000_000):
    code = m.run(max_instructions=limit)
    return code, out.getvalue().decode(), err.getvalue().decode()


def parse(out):
    cpus = {int(c): (cs, int(n))
            for c, cs, n in re.findall(r"^cpu (\d+) checksum (0x[0-9a-f]+) calls (\d+)$", out, re.M)}
    funcs = {f: int(n) for f, n in re.findall(r"^func (\w+) (\d+)$", out, re.M)}
    return cpus, funcs


def expected_calls(iterations, cores):
    """workload.c's call counts, from its source: per function, summed over cores."""
    def fib_calls(n):           # calls of the doubly recursive fib(n): 2 fib(n + 1) - 1
        a, b = 0, 1
        for _ in range(n + 1):
            a, b = b, a + b
        return 2 * a - 1
    per_round = {"do_round": 1, "sort_small": 1, "swap_ints": 15, "hash_str": 8, "interp_step": 75,
                 "big_frame": 1, "fill_buf": 2, "leaf_mix": 32, "tail_caller": 32, "tail_target": 32, "pop_pc": 32,
                 "pop_pc_inner": 32}
    per_core = {f: n * iterations for f, n in per_round.items()}
    per_core["worker"] = 1
    per_core["fib"] = sum(fib_calls(10 + (r & 3)) for r in range(iterations))
    total = {f: n * cores for f, n in per_core.items()}
    total["main"] = 1
    return total


def guest_calls(m):
    """workload_calls[cpu][F] from guest memory: {cpu: {func: count}}."""
    base = m.image.symbols["workload_calls"].addr
    return {c: {f: m.read32(base + 4 * (c * len(FUNCS) + i)) for i, f in enumerate(FUNCS)} for c in range(m.ncores)}


# ---- entry.S ----

@pytest.mark.parametrize("elf", ELFS, ids=[p.name for p in ELFS])
def test_entry_layout(elf):
    m, _, _ = load(elf)
    sym = m.image.symbols
    for name in RUNTIME + TRAMPOLINES:
        assert name in sym and sym[name].kind == "func", name
    call, graph = sym["ftrace_call"].addr, sym["ftrace_graph_call"].addr
    assert call % 4 == 0 and graph == call + 4, "patch sites must be single aligned words"
    assert read_hws(m, call, 2) == thumb_bl(call, sym["ftrace_stub"].addr)
    assert decode_bl(call, *read_hws(m, call, 2)) == sym["ftrace_stub"].addr
    assert read_hws(m, graph, 2) == NOP_W
    caller = sym["ftrace_caller"].addr
    assert read_hws(m, caller, 2) == (0xE92D, 0x400F)                  # stmdb sp!, {r0-r3, lr}
    assert read_hws(m, graph + 4, 3) == (0xE8BD, 0x500F, 0x4760)       # ldmia sp!, {r0-r3, ip, lr}; bx ip
    assert read_hws(m, sym["__gnu_mcount_nc"].addr, 4) == (0x46F4, 0xF85D, 0xEB04, 0x4760)
    assert read_hws(m, sym["ftrace_stub"].addr, 1) == (0x4770,)        # bx lr
    for name in TRAMPOLINES:
        a = sym[name].addr
        assert a % 4 == 0 and sym[name].size == 12, name
        assert read_hws(m, a, 4) == (0xF8DF, 0xC004, 0x4760, 0xBF00), name      # ldr.w ip, [pc, #4]; bx ip; nop
        assert m.read32(a + TRAMP_LITERAL) == 0, name
    assert not any(s.func_name in RUNTIME + TRAMPOLINES for s in record_mcount(elf))


def test_unfilled_trampoline_faults():
    """A trampoline whose literal was never filled must fail loudly, not run off somewhere."""
    m, out, err = load(BIN / "workload-O2.elf", [1])
    site = next(s for s in record_mcount(m.image.path) if s.func_name == "leaf_mix")
    sym = m.image.symbols
    write_insn(m, site.ip, thumb_bl(site.ip, sym["ftrace_caller"].addr))
    write_insn(m, sym["ftrace_call"].addr, thumb_bl(sym["ftrace_call"].addr, sym["ftrace_tramp_3"].addr))
    with pytest.raises(GuestFault):
        run(m, out, err)


# ---- the programs, unpatched ----

@pytest.mark.parametrize("variant", WORKLOADS)
@pytest.mark.parametrize("cores, iterations, kw", [
    (1, 4, {}),
    (4, 4, {}),
    (4, 4, dict(schedule="random", quantum=37, seed=11)),
    (4, None, dict(schedule="random", quantum=200, seed=1)),
])
def test_workload_unpatched(variant, cores, iterations, kw):
    m, out, err = load(BIN / f"workload-{variant}.elf", [] if iterations is None else [iterations], cores, **kw)
    code, out, err = run(m, out, err)
    assert (code, err) == (0, ""), out + err
    iterations = iterations or 32
    assert f"workload: cores {cores} iterations {iterations}\n" in out
    cpus, funcs = parse(out)
    want = expected_calls(iterations, cores)
    assert funcs == want
    assert {c: cs for c, (cs, _) in cpus.items()} == dict(enumerate(CHECKSUMS[iterations][:cores]))
    assert sum(n for _, n in cpus.values()) == sum(want.values())
    g = guest_calls(m)
    assert {f: sum(g[c][f] for c in range(cores)) for f in FUNCS} == want
    if "random" in kw.values():
        assert all(c.instructions > 15_000 * iterations for c in m.cores), "every core took part"


@pytest.mark.parametrize("name, cores, iterations", [("bigfuncs-1k", 4, 2), ("bigfuncs-10k", 2, 1)])
def test_bigfuncs_unpatched(name, cores, iterations):
    n = int(name.split("-")[1][:-1]) * 1000
    m, out, err = load(BIN / f"{name}.elf", [iterations], cores, schedule="random", quantum=100)
    code, out, err = run(m, out, err)
    assert (code, err) == (0, ""), out + err
    cpus, _ = parse(out)
    assert sorted(cpus) == list(range(cores))
    assert all(calls == n * iterations for _, calls in cpus.values())
    assert len({cs for cs, _ in cpus.values()}) == cores       # seeded per core


# ---- one site patched by hand to ftrace_caller ----

class Recorder:
    """The tracer function behind ftrace_tramp_N: records (cpu, ip, parent_ip) and then clobbers every register
    AAPCS lets a callee clobber, so that ftrace_caller's mcount_exit must restore the traced function's r0-r3."""

    def __init__(self):
        self.events = []

    def __call__(self, core):
        self.events.append((core.id, core.get_reg(0), core.get_reg(1)))
        for r, v in ((0, 0xDEAD0000), (1, 0xDEAD0001), (2, 0xDEAD0002), (3, 0xDEAD0003), (12, 0xDEAD000C)):
            core.set_reg(r, v)


def patch_for_tracing(m, sites, tramp="ftrace_tramp_0"):
    """What ftrace_init + ftrace_update_ftrace_func + ftrace_make_call do, by hand, before any core runs:
    fill the trampoline's literal, `bl <tramp>` at ftrace_call, `bl ftrace_caller` at each site."""
    sym = m.image.symbols
    rec = Recorder()
    m.write32(sym[tramp].addr + TRAMP_LITERAL, m.register_hostcall(rec))
    call = sym["ftrace_call"].addr
    write_insn(m, call, thumb_bl(call, sym[tramp].addr))
    for s in sites:
        assert read_hws(m, s.ip, 2) == thumb_bl(s.ip, sym["__gnu_mcount_nc"].addr), "site holds bl __gnu_mcount_nc"
        assert m.read16(s.ip - 2) == 0xB500
        write_insn(m, s.ip, thumb_bl(s.ip, sym["ftrace_caller"].addr))
    m.flush_icache()        # every core's icache (flush_icache_range on each, as after a kernel patch)
    return rec


# (build, function, {caller: the function the caller's BL just before parent_ip calls}): at -O2 tail_caller
# reaches tail_target with b.w, so tail_target's parent_ip is a return address into do_round.
PATCH_CASES = [
    ("O2", "pop_pc", {"do_round": "pop_pc"}),
    ("O2", "tail_target", {"do_round": "tail_caller"}),
    ("O2", "swap_ints", {"sort_small": "swap_ints"}),
    ("O2", "big_frame", {"do_round": "big_frame"}),
    ("O2", "interp_step", {"do_round": "interp_step"}),
    ("O2", "fib", {"do_round": "fib", "fib": "fib"}),
    ("O0", "tail_target", {"tail_caller": "tail_target"}),
    ("O0", "fib", {"do_round": "fib", "fib": "fib"}),
    ("O0", "sort_small", {"do_round": "sort_small"}),
]


@pytest.mark.parametrize("cores", [1, 4])
@pytest.mark.parametrize("variant, func, callers", PATCH_CASES)
def test_one_site_patched_to_ftrace_caller(variant, func, callers, cores):
    elf = BIN / f"workload-{variant}.elf"
    kw = dict(schedule="random", quantum=41, seed=7) if cores > 1 else {}
    ref = run(*load(elf, [3], cores, **kw))
    m, out, err = load(elf, [3], cores, **kw)
    info = record_mcount(elf)
    site = next(s for s in info if s.func_name == func)
    rec = patch_for_tracing(m, [site])
    got = run(m, out, err)
    assert got == ref, "r0-r3 reached the traced function intact and its results are the same"
    counts = guest_calls(m)
    assert collections.Counter(c for c, _, _ in rec.events) == \
        collections.Counter({c: counts[c][func] for c in range(cores) if counts[c][func]})
    assert len(rec.events) == expected_calls(3, cores)[func]
    assert {ip for _, ip, _ in rec.events} == {site.ip}, "r0 = (lr & ~1) - 4 = the site"
    sym = m.image.symbols
    seen = set()
    for parent in {p for _, _, p in rec.events}:
        assert parent & 1, "a Thumb return address"
        name, off = m.image.symbolize(parent)
        assert name in callers and off > 0
        seen.add(name)
        bl = parent - 1 - 4
        assert decode_bl(bl, *read_hws(m, bl, 2)) == sym[callers[name]].addr, "parent_ip returns just after a BL"
    assert seen == set(callers)
    # only the patched site changed
    for s in info:
        if s is not site:
            assert read_hws(m, s.ip, 2) == thumb_bl(s.ip, sym["__gnu_mcount_nc"].addr)


# ---- every site through ftrace_caller, with the graph caller enabled ----

class Graph:
    """Host halves of the graph tracer behind the prepare_ftrace_return / ftrace_return_to_handler trampolines,
    with v3.6 semantics and the Thumb-2 frame rule: hijack the slot the function returns through (the site's
    pushed word, or the prologue's saved LR at frame + lr_offset), and on return check the frame pointer
    (the sp at return must be frame + frame_size)."""

    def __init__(self, m, info):
        self.m, self.info = m, info
        self.ret_to_handler = m.image.symbols["return_to_handler"].addr | 1
        self.stacks = collections.defaultdict(list)
        self.entries = collections.Counter()
        self.returns = collections.Counter()
        self.errors = []
        self.max_depth = 0

    def prepare(self, core):
        m = self.m
        parent_slot, self_addr, frame = core.get_reg(0), core.get_reg(1), core.get_reg(2)
        site = self.info.site(self_addr)
        if site is None:
            self.errors.append(f"prepare_ftrace_return: 0x{self_addr:x} is not a site")
            return
        if parent_slot != frame - 4 or frame != core.get_reg(13) + 24:
            self.errors.append(f"prepare_ftrace_return: parent 0x{parent_slot:x}, frame 0x{frame:x}, "
                               f"sp 0x{core.get_reg(13):x}")
        slot = parent_slot if site.lr_offset is None else frame + site.lr_offset
        old = m.read32(slot)
        if old != m.read32(parent_slot):
            self.errors.append(f"{site}: saved LR 0x{old:x} != pushed 0x{m.read32(parent_slot):x}")
        m.write32(slot, self.ret_to_handler)
        st = self.stacks[core.id]
        st.append((old, site, frame + site.frame_size))
        self.max_depth = max(self.max_depth, len(st))
        self.entries[site.func_name] += 1

    def ret(self, core):
        sp_at_return = core.get_reg(0)
        st = self.stacks[core.id]
        if not st:
            self.errors.append("return with an empty ret_stack")
            self.m.halt(125)
            return
        old, site, fp = st.pop()
        if fp != sp_at_return:
            self.errors.append(f"{site.func_name}: Bad frame pointer: expected {fp:x}, received {sp_at_return:x}")
        self.returns[site.func_name] += 1
        core.set_reg(0, old)
        for r in (1, 2, 3, 12):
            core.set_reg(r, 0xBAD00000 | r)


@pytest.mark.parametrize("variant", WORKLOADS)
def test_all_sites_with_graph_caller(variant):
    elf = BIN / f"workload-{variant}.elf"
    kw = dict(schedule="random", quantum=29, seed=5)
    ref = run(*load(elf, [2], 4, **kw))
    m, out, err = load(elf, [2], 4, **kw)
    info = record_mcount(elf)
    rec = patch_for_tracing(m, info, tramp="ftrace_tramp_5")
    sym = m.image.symbols
    g = Graph(m, info)
    m.write32(sym["prepare_ftrace_return"].addr + TRAMP_LITERAL, m.register_hostcall(g.prepare))
    m.write32(sym["ftrace_return_to_handler"].addr + TRAMP_LITERAL, m.register_hostcall(g.ret))
    gc = sym["ftrace_graph_call"].addr
    write_insn(m, gc, thumb_bl(gc, sym["ftrace_graph_caller"].addr, link=False))      # b.w ftrace_graph_caller
    m.flush_icache()
    got = run(m, out, err)
    assert g.errors == []
    assert got == ref
    want = expected_calls(2, 4)
    assert collections.Counter(info.site(ip).func_name for _, ip, _ in rec.events) == want
    assert g.entries == want
    assert g.returns == want, "every hijacked return came back through return_to_handler"
    assert not any(g.stacks.values())
    assert g.max_depth >= 10        # fib's recursion


needs_toolchain = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("make") is None,
                                     reason="arm-none-eabi-gcc or make not on PATH (apt-get install "
                                            "gcc-arm-none-eabi libnewlib-arm-none-eabi)")


def copy_guest(tmp_path):
    """src/ftrace/guest and what it builds against, copied elsewhere: the bytes must not depend on the path."""
    copy = tmp_path / "elsewhere" / "ftrace" / "guest"
    shutil.copytree(GUEST, copy, ignore=shutil.ignore_patterns("build"))
    shutil.copytree(ROOT / "src" / "cpu" / "guest", tmp_path / "elsewhere" / "cpu" / "guest",
                    ignore=shutil.ignore_patterns("build", "bin", "corpus", "smp"))
    return copy


@needs_toolchain
def test_workload_elfs_reproduce(tmp_path):
    copy = copy_guest(tmp_path)
    out = tmp_path / "out"
    targets = [str(out / f"workload-{v}.elf") for v in WORKLOADS]
    r = subprocess.run(["make", "-C", str(copy), "-s", f"BIN={out}", f"OBJ={tmp_path / 'obj'}"] + targets,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    for v in WORKLOADS:
        assert (out / f"workload-{v}.elf").read_bytes() == (BIN / f"workload-{v}.elf").read_bytes(), \
            f"bin/workload-{v}.elf differs from a fresh build: run make -C src/ftrace/guest and commit it"


@pytest.mark.slow
@needs_toolchain
def test_committed_elfs_reproduce(tmp_path):
    """make check: every ELF in bin/ (bigfuncs-10k takes about 25 s of gcc)."""
    r = subprocess.run(["make", "-C", str(copy_guest(tmp_path)), "-j2", "check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "reproduce byte-for-byte" in r.stdout
