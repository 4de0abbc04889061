"""The breakpoint method's trap: BKPT on the BKPT chain (x86's int3) or UDF through arch/arm/kernel/traps.c's undef
hooks (ftrace/kernel/traps.py), and what the CMODX audit and a live run make of each."""
import io
import subprocess
import sys

import pytest

import cpu
import ftrace
from cpu.faults import UndefinedInstruction
from ftrace.kernel import cmodx
from ftrace.kernel.methods import BKPT_INSN, TRAPS, UDF_INSN
from ftrace.kernel.records import FTRACE_UPDATE_MAKE_CALL, FTRACE_UPDATE_MAKE_NOP
from ftrace.kernel.traps import PSR_T_BIT, undef_hook, undef_hooks
from ftrace_cli import env


def boot(trap, cores=4, seed=1, iterations="6"):
    m = cpu.Machine(cores=cores, seed=seed, schedule="random", quantum=50)
    out = io.BytesIO()
    m.load_elf(ftrace.DEMO_PROGRAM, argv=["workload", iterations], stdout=out, stderr=out)
    ft = ftrace.Ftrace(m, trap=trap)
    return m, ft, out


def toggle(ft, times=6, step=50_000):
    for _ in range(times):
        ft.run_for(step)
        ft.ftrace_disable()
        ft.run_for(step)
        ft.ftrace_enable()


def test_encodings():
    # bkpt #0xf7 and udf #0xf7 (T1, cond 1110 of the B<c> space); the UDF imm is clear of ptrace's 0xde01,
    # BUG()'s 0xde02, kprobes' 0xde18 and KGDB's 0xdefe
    assert TRAPS == {"bkpt": 0xBEF7, "udf": 0xDEF7}
    assert (BKPT_INSN, UDF_INSN) == (0xBEF7, 0xDEF7)
    assert UDF_INSN not in (0xDE01, 0xDE02, 0xDE18, 0xDEFE)


def test_call_undef_hook_matches_instr_and_cpsr_and_calls_the_first_registered():
    m = cpu.Machine(cores=1)
    m.load_elf(ftrace.DEMO_PROGRAM, argv=["workload", "1"])
    hooks = undef_hooks(m)
    calls = []
    first = undef_hook(0xFFFF, 0xDE18, PSR_T_BIT, PSR_T_BIT, lambda c, i, pc: calls.append(("first", i)) or pc + 2)
    second = undef_hook(0xFF00, 0xDE00, PSR_T_BIT, PSR_T_BIT, lambda c, i, pc: calls.append(("second", i)) or pc + 2)
    wrong_mode = undef_hook(0xFFFFFFFF, 0xF7F0A019, PSR_T_BIT, 0, lambda c, i, pc: pc + 2)
    for h in (first, second, wrong_mode):
        hooks.register_undef_hook(h)
    core = m.cores[0]
    # v3.6 walks the whole list (list_add puts the newest first) and keeps the last match: the first registered
    assert hooks.call_undef_hook(core, 0xDE18, 0x100) == 0x102
    assert hooks.call_undef_hook(core, 0xDE05, 0x100) == 0x102
    assert calls == [("first", 0xDE18), ("second", 0xDE05)]
    assert hooks.call_undef_hook(core, 0xF7F0A019, 0x100) is None      # instr matches wrong_mode only: cpsr does not
    for h in (first, second, wrong_mode):
        hooks.unregister_undef_hook(h)
    assert hooks.handle is None


def test_do_undefinstr_reads_the_instruction_from_memory():
    m = cpu.Machine(cores=1)
    m.load_elf(ftrace.DEMO_PROGRAM, argv=["workload", "1"])
    seen = []
    undef_hooks(m).register_undef_hook(undef_hook(0, 0, 0, 0, lambda c, i, pc: seen.append(i)))
    pc = m.image.symbols["fib"].addr & ~1
    m.write16(pc, 0xDE42)
    assert undef_hooks(m).do_undefinstr(m.cores[0], 0x42, pc) is None
    m.write16(pc, 0xF85D)
    m.write16(pc + 2, 0xEB04)
    undef_hooks(m).do_undefinstr(m.cores[0], 0x42, pc)
    assert seen == [0xDE42, 0xF85DEB04]       # a 32-bit instruction is composed, first halfword high


def test_udf_trap_is_written_and_handled_like_bkpt_on_one_core():
    traces = {}
    for trap in TRAPS:
        m, ft, out = boot(trap, cores=1)
        written = []
        m.hook_add("code_write", lambda core, addr, old, new, seq: written.append(new))
        ft.set_ftrace_filter("fib* hash_str")
        ft.current_tracer = "function_graph"
        toggle(ft)
        assert m.run(max_instructions=10**8) == 0
        assert TRAPS[trap] in written and TRAPS[{"bkpt": "udf", "udf": "bkpt"}[trap]] not in written
        traces[trap] = (ft.trace, out.getvalue())
    assert traces["udf"] == traces["bkpt"]


def test_a_stale_udf_finds_no_hook_once_pass_3_rewrote_memory():
    """The finding: do_undefinstr reads memory, not what the core fetched.  A core still fetching the trap from its
    icache after pass 3 wrote the new first halfword (before sync 3 reached it) finds the new instruction there,
    no hook matches, and the kernel dies with "Oops - undefined instruction".  ftrace_int3_handler on the BKPT
    chain looks at ftrace_location(pc) only, so the same schedule runs clean with BKPT."""
    m, ft, _ = boot("bkpt")
    ft.set_ftrace_filter("fib* hash_str")
    ft.current_tracer = "function_graph"
    toggle(ft)
    assert m.run(max_instructions=10**8) == 0 and ft.bkpt_handler.hits > 0
    m, ft, _ = boot("udf")
    ft.set_ftrace_filter("fib* hash_str")
    ft.current_tracer = "function_graph"
    with pytest.raises(UndefinedInstruction) as e:
        toggle(ft)
    pc = e.value.pc
    assert e.value.insn == UDF_INSN and pc in {r.ip for r in ft.records}
    assert ft.site_state(next(r for r in ft.records if r.ip == pc)) in ("call", "nop")    # memory moved on


def test_cmodx_audit_names_the_trap():
    # BKPT is on the CMODX lists, UDF is not; M.a.a lets a BL's first halfword become BKPT, never UDF
    for lst in cmodx.CMODX:
        assert cmodx.allows(lst, (2, "bkpt"), (2, "b")) and not cmodx.allows(lst, (2, "udf"), (2, "b"))
    assert cmodx.allows("maa", (4, "bl"), (2, "bkpt")) and not cmodx.allows("maa", (4, "bl"), (2, "udf"))
    locs = {}
    for trap in TRAPS:
        m, ft, _ = boot(trap)
        rec = next(iter(ft.records))
        assert ft.method.site_writes(rec, FTRACE_UPDATE_MAKE_CALL) == [
            (rec.ip, (4, "ldr"), (2, trap)), (rec.ip, (2, trap), (4, "bl"))]
        assert ft.method.site_writes(rec, FTRACE_UPDATE_MAKE_NOP) == [
            (rec.ip, (4, "bl"), (2, trap)), (rec.ip, (2, trap), (4, "ldr"))]
        ft.current_tracer = "function"
        locs[trap] = ft.method.cmodx_locations(0)      # what ftrace_enabled = 0 would rewrite
    # every swap is with the first halfword of a 32-bit instruction, which the v7 list never covers: the same
    # sites are uncovered with either trap, each once
    assert locs["bkpt"] == locs["udf"] == [r.ip for r in ft.records]


def test_unknown_trap_is_refused():
    m = cpu.Machine(cores=1)
    m.load_elf(ftrace.DEMO_PROGRAM, argv=["workload", "1"])
    with pytest.raises(ValueError, match="trap must be one of bkpt, udf"):
        ftrace.Ftrace(m, trap="int3")


def test_cli_run_trap_udf():
    r = subprocess.run([sys.executable, "-m", "ftrace", "run", "--tracer", "function", "--filter", "fib*",
                        "--trap", "udf"], capture_output=True, text=True, env=env(), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "fib <-do_round" in r.stdout
    r = subprocess.run([sys.executable, "-m", "ftrace", "run", "--trap", "int3"], capture_output=True, text=True,
                       env=env(), timeout=60)
    assert r.returncode == 2 and "invalid choice: 'int3'" in r.stderr
