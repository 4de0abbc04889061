"""Kernel eras (`Ftrace(era=...)`, `--era`): v3.6, modern, and mixed (the default: v3.6 with modern's duration
marks and graph files, the results recorded so far).

v3.6's function_graph overhead marks, Documentation/trace/ftrace.txt of v3.6 (funcgraph-overhead):

    + means that the function exceeded 10 usecs.
    ! means that the function exceeded 100 usecs.

(v3.6 print_graph_duration: `duration > 100000ULL` -> "! ", `> 10000ULL` -> "+ ", in ns.)  The modern marks are
Documentation/trace/ftrace.rst's (4.13), whose samples test_trace_output.py checks line for line, e.g.

    3) # 1837.709 us |          } /* __switch_to */
    3) * 33998.59 us |  } /* schedule_preempt_disabled */
    1) @ 119760.2 us |  }
"""
import io

import pytest

import cpu
import ftrace
from ftrace.formats.text import graph_duration, graph_duration_v3_6, iter_graph_lines
from ftrace.kernel import insn
from ftrace.kernel.events import TRACE_GRAPH_RET
from ftrace.kernel.ops import FtraceError
from ftrace_cli import ftrace_cmd
from test_cli import ok
from test_sites import parse


class Ret:
    type = TRACE_GRAPH_RET
    cpu, pid, ip, depth = 0, 1, 0x1000, 0

    def __init__(self, duration):
        self.ts, self.calltime = 10**12 + duration, 10**12


def marks(era, durations):
    lines = list(iter_graph_lines([Ret(d) for d in durations], lambda a: ("f", 0), ncpus=4, era=era))
    return [ln[4] for ln in lines]


DURATIONS = [5_000, 58_628, 115_305, 1_837_709, 33_998_590, 119_760_200, 3_594_274_000]


def test_v3_6_marks_are_plus_and_bang_only():
    assert marks("v3.6", DURATIONS) == [" ", "+", "!", "!", "!", "!", "!"]
    assert marks("modern", DURATIONS) == [" ", "+", "!", "#", "*", "@", "$"]


def test_v3_6_duration_column_width_7_without_the_dot():
    # below a second the two columns agree; a 7-digit duration has no fraction and v3.6 pads to 7 digits, not 8
    for d in DURATIONS[:-1]:
        assert graph_duration_v3_6(d) == graph_duration(d)
    assert graph_duration_v3_6(3_594_274_000) == "3594274 us "
    assert graph_duration(3_594_274_000) == "3594274 us  "


def boot(era, cores=4):
    m = cpu.Machine(cores=cores, seed=1, schedule="random", quantum=50)
    out = io.BytesIO()
    m.load_elf(ftrace.DEMO_PROGRAM, argv=["workload", "6"], stdout=out, stderr=out)
    return m, ftrace.Ftrace(m, era=era), out


def test_v3_6_has_no_set_graph_notrace_or_max_graph_depth():
    m, ft, _ = boot("v3.6")
    with pytest.raises(FtraceError, match=r"set_graph_notrace: no such file in v3.6's tracefs \(era v3.6\)"):
        ft.set_graph_notrace("fib")
    with pytest.raises(FtraceError, match="max_graph_depth: no such file in v3.6's tracefs"):
        ft.max_graph_depth = 2
    for era in ("modern", "mixed"):
        m, ft, _ = boot(era)
        ft.set_graph_notrace("fib")
        ft.max_graph_depth = 2
        assert ft.max_graph_depth == 2
    r = ftrace_cmd("run", "--era", "v3.6", "--max-graph-depth", "2")
    assert r.returncode == 2 and "max_graph_depth: no such file in v3.6's tracefs (era v3.6)" in r.stderr


def test_the_eras_nops_are_patched_live_and_emulated():
    """Every era runs the toggled workload to the same output; modern's sites hold add.w sp, sp, #4 and its
    breakpoint handler only drops the pushed word."""
    results = {}
    for era in ("mixed", "v3.6", "modern"):
        m, ft, out = boot(era)
        nop = insn.halves(insn.FTRACE_NOP_MODERN if era == "modern" else insn.FTRACE_NOP)
        assert {(m.read16(r.ip), m.read16(r.ip + 2)) for r in ft.records} == {nop}
        assert ft.bkpt_handler.nop_loads_lr == (era != "modern")
        ft.current_tracer = "function_graph"
        for _ in range(4):
            ft.run_for(50_000)
            ft.ftrace_disable()
            ft.run_for(50_000)
            ft.ftrace_enable()
        assert m.run(max_instructions=10**8) == 0
        assert sum(u["bkpt_hits"] for u in ft.update_log) > 0
        results[era] = out.getvalue(), ft.trace
    assert results["mixed"][0] == results["v3.6"][0] == results["modern"][0]
    assert results["mixed"][1] == results["modern"][1] != results["v3.6"][1]      # '#' marks for > 1000 us
    assert results["v3.6"][1] == results["mixed"][1].replace(" # ", " ! ")


def test_sites_era_modern():
    rows = parse(ok("sites", "--era", "modern").stdout)
    assert {hws for _, _, hws, _, _ in rows} == {(0xF10D, 0x0D04)}


def test_unknown_era_is_refused():
    m = cpu.Machine(cores=1)
    m.load_elf(ftrace.DEMO_PROGRAM, argv=["workload", "1"])
    with pytest.raises(ValueError, match="era must be one of mixed, v3.6, modern"):
        ftrace.Ftrace(m, era="v2.6")
