"""Whole programs: the C corpus at -O0/-O2/-Os, with and without -pg, run here, under Unicorn, and built for the
host with its own gcc.  stdout, stderr and the exit code must agree three ways."""
import io
import os
import shutil
import subprocess

import pytest

import cpu
from reference.unicorn_run import run_unicorn

GUEST = os.path.join(os.path.dirname(cpu.__file__), "guest")
CORPUS = os.path.join(GUEST, "corpus")
PROGRAMS = sorted(f[:-2] for f in os.listdir(CORPUS) if f.endswith(".c"))
VARIANTS = ["O0", "O2", "Os", "O0-pg", "O2-pg", "Os-pg"]
# Small arguments keep the -O0 benchmarks short; the others take their own defaults or these.
ARGS = {"fib": ["18"], "loop": ["50000"], "args": ["7", "-3", "hello", "40000000000"]}
STDIN = b"the quick brown fox\njumps over\n\nthe lazy dog\n"


def run_ours(path, argv, icache=True):
    out, err = io.BytesIO(), io.BytesIO()
    m = cpu.Machine(icache=icache)
    m.load_elf(path, argv=argv, stdin=io.BytesIO(STDIN), stdout=out, stderr=err)
    code = m.run(max_instructions=100_000_000)
    return out.getvalue(), err.getvalue(), code, m


@pytest.fixture(scope="module")
def host_results(tmp_path_factory):
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    d = tmp_path_factory.mktemp("host")
    results = {}
    for prog in PROGRAMS:
        exe = d / prog
        subprocess.run([gcc, "-O2", "-std=c11", "-o", str(exe), os.path.join(CORPUS, prog + ".c")], check=True)
        p = subprocess.run([str(exe)] + ARGS.get(prog, []), input=STDIN, capture_output=True)
        results[prog] = (p.stdout, p.stderr, p.returncode)
    return results


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("prog", PROGRAMS)
def test_program_matches_unicorn_and_host(prog, variant, host_results):
    path = os.path.join(GUEST, "bin", f"{prog}-{variant}.elf")
    argv = [prog] + ARGS.get(prog, [])
    out, err, code, m = run_ours(path, argv)
    ref = run_unicorn(path, argv=argv, stdin=STDIN)
    assert (out, err, code) == (ref.stdout, ref.stderr, ref.exit_code), f"{prog}-{variant} differs from Unicorn"
    if host_results is not None:
        assert (out, err, code) == host_results[prog], f"{prog}-{variant} differs from the host build"
    s = m.stats()[0]
    assert s["stale_fetches"] == 0 and s["torn_fetches"] == 0


@pytest.mark.parametrize("prog", ["interp", "sort", "strfmt"])
def test_icache_off_is_the_same_machine(prog):
    path = os.path.join(GUEST, "bin", f"{prog}-O2-pg.elf")
    argv = [prog] + ARGS.get(prog, [])
    on = run_ours(path, argv, icache=True)
    off = run_ours(path, argv, icache=False)
    assert on[:3] == off[:3]
    assert on[3].instructions == off[3].instructions


def test_mcount_counts_match_unicorn_hook():
    """The -pg build's own __gnu_mcount_nc counter equals the number of mcount calls Unicorn sees."""
    from unicorn import UC_HOOK_CODE
    path = os.path.join(GUEST, "bin", "fib-O2-pg.elf")
    out, err, code, m = run_ours(path, ["fib", "15"])
    counter = m.image.symbols["__mcount_calls"].addr
    ours = m.read32(counter)
    hits = []
    target = m.image.symbols["__gnu_mcount_nc"].addr

    def hook(uc, addr, size, _):
        hits.append(addr)
    ref = run_unicorn(path, argv=["fib", "15"], code_hook=(hook, target, target))
    assert len(hits) == ours > 0
    assert out == ref.stdout
