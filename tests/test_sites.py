"""`ftrace sites`: every mcount site as the loaded image holds it, checked against recordmcount and the ELF."""
import os

from elftools.elf.elffile import ELFFile

from ftrace.cli import GUEST_BIN
from ftrace.kernel import insn
from ftrace.kernel.recordmcount import record_mcount
from ftrace_cli import ftrace_cmd
from test_cli import ok

HOT = os.path.join(GUEST_BIN, "hot.elf")


def elf_halfwords(path, addr):
    with open(path, "rb") as f:
        elf = ELFFile(f)
        for sec in elf.iter_sections():
            if sec["sh_addr"] <= addr < sec["sh_addr"] + sec["sh_size"] and sec["sh_type"] == "SHT_PROGBITS":
                data = sec.data()[addr - sec["sh_addr"]:addr - sec["sh_addr"] + 4]
                return int.from_bytes(data[:2], "little"), int.from_bytes(data[2:], "little")


def parse(stdout):
    rows = [ln.split() for ln in stdout.splitlines() if not ln.startswith("#")]
    return [(int(r[0], 16), r[1], (int(r[2], 16), int(r[3], 16)), r[4], r[5:]) for r in rows]


def test_sites_after_ftrace_init_match_recordmcount_and_the_elf():
    r = ok("sites", "hot")
    assert r.stdout.startswith("# 64 mcount sites, icache line 32 bytes, tracer nop\n")
    rows = parse(r.stdout)
    info = record_mcount(HOT)
    assert [(ip, func) for ip, func, *_ in rows] == [(s.ip, s.func_name) for s in info.sites]
    mcount = info.mcount_addr
    for ip, func, hws, straddle, flags in rows:
        # the ELF holds the compiler's `bl __gnu_mcount_nc`; ftrace_init made it the v3.6 nop
        hw1, hw2 = elf_halfwords(HOT, ip)
        assert insn.bl_target(ip, hw1 << 16 | hw2) == mcount
        assert hws == insn.halves(insn.FTRACE_NOP)
        assert straddle == ("straddles" if ip % 32 == 30 else "-")
        assert flags == ["(0)"]
    assert sum(s == "straddles" for *_, s, _ in rows) == 42
    # a 64-byte line: only the sites at 62 mod 64 straddle
    rows64 = parse(ok("sites", "hot", "--line-size", "64").stdout)
    assert [s == "straddles" for *_, s, _ in rows64] == [ip % 64 == 62 for ip, *_ in rows64]


def test_sites_show_the_enabled_records_and_their_calls():
    rows = parse(ok("sites", "--tracer", "function", "--filter", "fib*", "--filter", "hash_str").stdout)
    caller = None
    for ip, func, hws, _, flags in rows:
        if func in ("fib", "hash_str"):
            assert flags == ["(1)", "E"]           # enabled_functions' refcount, FTRACE_FL_ENABLED
            target = insn.bl_target(ip, hws[0] << 16 | hws[1])
            assert caller in (None, target)
            caller = target
        else:
            assert flags == ["(0)"] and hws == insn.halves(insn.FTRACE_NOP)
    assert caller is not None


def test_sites_bad_input():
    r = ftrace_cmd("sites", "--line-size", "33")
    assert r.returncode == 2 and "line_size must be a power of two" in r.stderr
    r = ftrace_cmd("sites", "nosuch")
    assert r.returncode == 2 and "nosuch: no such file" in r.stderr
