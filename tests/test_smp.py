"""The SMP guest runtime (src/cpu/guest/smp.h, lib/libsmp.a) and its programs in src/cpu/guest/smp/bin."""
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

import cpu
import cpu.__main__

GUEST = Path(__file__).resolve().parents[1] / "src" / "cpu" / "guest"
BIN = GUEST / "smp" / "bin"
ENV = dict(os.environ, PYTHONPATH=str(Path(cpu.__file__).resolve().parents[1]))
QUANTA = (7, 11, 20, 50)
needs_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                               reason="arm-none-eabi-gcc not on PATH (apt-get install gcc-arm-none-eabi "
                                      "libnewlib-arm-none-eabi)")


def run_elf(elf, *args, cores=4, seed=0, quantum=20, schedule="random", replay=None, **kw):
    m = cpu.Machine(cores=cores, seed=seed, schedule=schedule, quantum=quantum, **kw)
    out, err = io.BytesIO(), io.BytesIO()
    m.load_elf(str(elf), argv=[Path(elf).name, *map(str, args)], stdout=out, stderr=err, stdin=io.BytesIO())
    if replay is not None:
        m.replay(replay)
    code = m.run(max_instructions=20_000_000)
    return code, out.getvalue().decode(), err.getvalue().decode(), m


def totals(out):
    return {k: int(v) for k, v in re.findall(r"\b(locked|atomic|racy|expect) (\d+)", out)}


def check_counter(elf, cores, iterations, seed):
    code, out, err, m = run_elf(elf, iterations, cores=cores, seed=seed, quantum=QUANTA[seed % len(QUANTA)])
    t = totals(out)
    assert (code, err) == (0, ""), out + err
    assert t["locked"] == t["atomic"] == t["expect"] == cores * iterations, out
    assert all(c.instructions > 0 for c in m.cores), "every core took part"
    return t["racy"]


@pytest.mark.parametrize("seed", range(32))
def test_counter_4_cores_exact(seed):
    check_counter(BIN / ("counter-pg.elf" if seed % 4 == 3 else "counter.elf"), 4, 500, seed)


@pytest.mark.parametrize("seed", range(16))
def test_counter_16_cores_exact(seed):
    check_counter(BIN / ("counter-pg.elf" if seed % 4 == 3 else "counter.elf"), 16, 100, seed)


@pytest.mark.slow
@pytest.mark.parametrize("cores", [2, 4, 16])
def test_counter_exact_many_seeds(cores):
    for seed in range(100, 300):
        check_counter(BIN / "counter.elf", cores, 100, seed)


def test_racy_counter_loses_updates():
    lost = [300 * 4 - check_counter(BIN / "counter.elf", 4, 300, seed) for seed in range(4)]
    assert max(lost) > 0, "no seed interleaved the unlocked read-modify-write"


def test_same_seed_replays_identically():
    runs = [run_elf(BIN / "counter.elf", 200, seed=11, quantum=7) for _ in range(2)]
    code, out, err, m = runs[0]
    replayed = run_elf(BIN / "counter.elf", 200, seed=999, quantum=7, replay=m.record)
    for code2, out2, err2, m2 in runs[1:] + [replayed]:
        assert (code2, out2, err2) == (code, out, err)
        assert [c.instructions for c in m2.cores] == [c.instructions for c in m.cores]
        assert m2.record == m.record
        assert m2.stats() == m.stats()


def test_different_seeds_interleave_differently():
    records = {tuple(run_elf(BIN / "counter.elf", 100, seed=s, quantum=20)[3].record) for s in range(3)}
    assert len(records) == 3


@pytest.mark.parametrize("elf,cores,seed", [("selftest.elf", 2, 0), ("selftest.elf", 4, 1),
                                            ("selftest-pg.elf", 3, 2)])
def test_selftest(elf, cores, seed):
    code, out, err, m = run_elf(BIN / elf, cores=cores, seed=seed, quantum=9)
    assert "FAIL" not in out and code == 0, out + err
    for name in ("start_cpu0", "start_no_such_cpu", "start_even_pc", "start_running", "restart",
                 "state_off", "state_running", "state_stopped", "state_no_such_cpu", "secondary_id",
                 "secondary_own_stack", "trylock_held", "cmpxchg_miss", "icache_range", "icache_all"):
        assert f"ok {name}\n" in out
    # ICIMVAU/ICIALLU matter: without them the core runs the old instruction from its icache
    assert "stale 42\n" in out


def test_selftest_coherent_icache_sees_new_code():
    code, out, err, m = run_elf(BIN / "selftest.elf", cores=2, icache=False)
    assert code == 0 and "stale 7\n" in out, out + err


@pytest.mark.parametrize("elf", ["hello_smp.elf", "hello_smp-pg.elf"])
def test_hello_every_core_once(elf):
    code, out, err, _ = run_elf(BIN / elf, cores=8, seed=4, quantum=7)
    assert code == 0, out + err
    lines = out.splitlines()
    assert sorted(lines[:-1]) == sorted(f"hello from cpu {i} of 8" for i in range(8))
    assert lines[-1] == "8 cores said hello"


@pytest.mark.parametrize("elf", ["pingpong.elf", "pingpong-pg.elf"])
def test_pingpong(elf):
    code, out, err, _ = run_elf(BIN / elf, 50, cores=2, seed=6, quantum=13)
    assert code == 0 and out.startswith("pingpong 50 rounds, ball 100,"), out + err


def test_counter_rejects_more_cores_than_the_machine_has():
    code, out, err, _ = run_elf(BIN / "counter.elf", 10, 5, cores=4)
    assert code == 2 and "5 cores asked, the machine has 4" in err


def test_cli_run_prints_per_core_stats():
    r = subprocess.run([sys.executable, "-m", "cpu", "run", str(BIN / "counter.elf"), "--cores", "4", "--seed", "3",
                        "--schedule", "random", "--quantum", "20", "--stats"],
                       capture_output=True, text=True, env=ENV, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "locked 4000\natomic 4000\n" in r.stdout
    rows = [l.split() for l in r.stderr.splitlines() if re.match(r"\s+\d+\s+\d+", l)]
    assert [row[0] for row in rows] == ["0", "1", "2", "3"] and all(int(row[1]) > 0 for row in rows)
    assert "simulated MIPS" in r.stderr


USER_PROG = r"""
#include <stdio.h>
#include "smp.h"

static spinlock_t lock = SPIN_LOCK_UNLOCKED;
static atomic_t hits = ATOMIC_INIT(0);
static unsigned sum;

static void add(void *arg)
{
    for (int i = 0; i < 100; i++) {
        spin_lock(&lock);
        sum += (unsigned)arg;
        spin_unlock(&lock);
        atomic_add_return(1, &hits);
    }
}

int main(void)
{
    for (unsigned c = 1; c < smp_num_cpus(); c++)
        if (smp_start_cpu(c, add, (void *)c))
            return 2;
    add(0);
    for (unsigned c = 1; c < smp_num_cpus(); c++)
        smp_wait_cpu(c);
    printf("sum %u hits %d\n", sum, atomic_read(&hits));
    return 0;
}
"""


@needs_gcc
def test_user_program_from_the_recipe(tmp_path):
    # no -O: the header's inline assembly must also hold at -O0
    (tmp_path / "prog.c").write_text(USER_PROG)
    cmd = (f'arm-none-eabi-gcc $("{sys.executable}" -m cpu cflags) prog.c $("{sys.executable}" -m cpu ldflags) '
           f'-o prog.elf')
    r = subprocess.run(["sh", "-c", cmd], cwd=tmp_path, capture_output=True, text=True, env=ENV, timeout=60)
    assert r.returncode == 0, r.stderr
    for seed in range(3):
        code, out, err, _ = run_elf(tmp_path / "prog.elf", cores=5, seed=seed, quantum=QUANTA[seed])
        assert (code, out) == (0, f"sum {100 * (1 + 2 + 3 + 4)} hits 500\n"), err


RUNTIME = re.compile(r"(smp_|spin_|atomic_|cpu_relax|flush_icache)")


def mcount_callers(elf):
    """The functions holding a call to __gnu_mcount_nc (from the relocations -Wl,-q keeps), and every function."""
    with open(elf, "rb") as f:
        e = ELFFile(f)
        symtab = e.get_section_by_name(".symtab")
        funcs = [(s["st_value"] & ~1, s["st_size"], s.name) for s in symtab.iter_symbols()
                 if s["st_info"]["type"] == "STT_FUNC"]
        callers = {n for sec in e.iter_sections() if isinstance(sec, RelocationSection)
                   for r in sec.iter_relocations() if symtab.get_symbol(r["r_info_sym"]).name == "__gnu_mcount_nc"
                   for a, size, n in funcs if a <= r["r_offset"] < a + size}
        return callers, {n for _, _, n in funcs}


@pytest.mark.parametrize("name", ["counter", "hello_smp", "pingpong", "selftest"])
def test_pg_builds_trace_the_program_not_the_runtime(name):
    callers, funcs = mcount_callers(BIN / f"{name}-pg.elf")
    assert "main" in callers and {"smp_num_cpus", "smp_start_cpu"} <= funcs
    assert not {f for f in callers if RUNTIME.match(f)}


@needs_gcc
def test_header_is_not_traced_at_O0(tmp_path):
    # at -O0 static inline functions could be emitted out of line, and -pg would instrument them
    r = subprocess.run(["arm-none-eabi-gcc", *cpu.__main__.cflags().split(), "-O0", "-pg", "-S",
                        str(GUEST / "smp" / "selftest.c"), "-o", str(tmp_path / "t.s")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    traced, fn = set(), None
    for line in (tmp_path / "t.s").read_text().splitlines():
        if m := re.match(r"(\w+):$", line):
            fn = m.group(1)
        elif "__gnu_mcount_nc" in line:
            traced.add(fn)
    assert {"main", "spinner", "check", "run_code"} <= traced
    assert not {f for f in traced if RUNTIME.match(f)}
