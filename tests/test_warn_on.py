"""FTRACE_WARN_ON in __ftrace_hash_rec_update (kernel/trace/ftrace.c v3.6): a refcount reaching FTRACE_REF_MAX, or
one that would go below zero, warns and kills ftrace (ftrace_kill) instead of failing the call."""
import cpu
import ftrace
from ftrace.kernel.ops import FTRACE_OPS_FL_ENABLED, ftrace_ops, hash_rec_update
from ftrace.kernel.records import FTRACE_FL_MASK, FTRACE_REF_MAX


def boot():
    m = cpu.Machine(cores=1)
    m.load_elf(ftrace.DEMO_PROGRAM, argv=["workload", "1"])
    return ftrace.Ftrace(m)


def test_refcount_overflow_kills_ftrace():
    ft = boot()
    rec = next(r for r in ft.records if r.func == "fib")
    rec.flags = FTRACE_REF_MAX - 1
    ft.register_function(lambda ip, parent, cpu: None, filter="fib")      # rec->flags++ reaches FTRACE_REF_MAX
    assert rec.flags & ~FTRACE_FL_MASK == FTRACE_REF_MAX
    assert ft.ftrace_is_dead() and ft.ftrace_enabled == 0
    assert "WARNING: at kernel/trace/ftrace.c: __ftrace_hash_rec_update()" in ft.dmesg
    assert ft.trace.startswith("# tracer: nop\n#\n# WARNING: FUNCTION TRACING IS CORRUPTED\n")


def test_refcount_underflow_kills_ftrace_and_leaves_the_count():
    ft = boot()
    ops = ftrace_ops(None, "forged")
    ops.flags |= FTRACE_OPS_FL_ENABLED
    hash_rec_update(ops, ft.records, True, False, ft.FTRACE_WARN_ON)       # every refcount is 0: the first warns
    assert ft.ftrace_is_dead()
    assert all(r.flags & ~FTRACE_FL_MASK == 0 for r in ft.records)
