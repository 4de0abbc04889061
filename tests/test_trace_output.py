"""Text formats of the `trace` file (src/ftrace/formats/text.py) against the kernel documentation.

Every expected block marked DOC is copied character for character from Documentation/trace/ftrace.rst of the
4-flag era: the reStructuredText version headed "Written for: 2.6.28-rc2 / Updated for: 3.10 / Updated for: 4.13"
(converted to rst by Changbin Du), as shipped before v5.13 replaced the ||||-header by the 5-flag one.  Sections
quoted: "function" (first sample), "dynamic ftrace" (sys_nanosleep/hrtimer_interrupt sample, set_ftrace_notrace
sample), "function graph tracer" (first sample and the funcgraph-overhead / funcgraph-proc / funcgraph-abstime /
funcgraph-tail samples), "Single thread tracing" (irq-info off lines).

The blocks are kept with their rst indentation and `unindent()` removes it.  rst literal blocks are indented 2
columns at top level and 4 inside the option list; some samples inside the option list were pasted without
their first column(s), which we name where it happens.

The events are written through RingBuffer._write (the same reserve() the C tracers use), read back with
snapshot(), merged with events.merge() and formatted: the whole reading path is exercised.
"""

import pytest

from ftrace.kernel.events import TRACE_FN, TRACE_GRAPH_ENT, TRACE_GRAPH_RET, merge
from ftrace.kernel.ring_buffer import RingBuffer
from ftrace.formats.text import (DEFAULT_OPTIONS, format_function, format_graph, format_lost, graph_duration,
                                 iter_graph_lines, resolve_options, trace_find_mark, trace_header)


def unindent(block, n):
    """The lines of an rst literal block with its first n columns removed (they must be blanks)."""
    lines = block.strip("\n").split("\n")
    assert all(line[:n] == " " * n for line in lines if line), "indentation is not what the comment says"
    return [line[n:] for line in lines]


class Symbols:
    """A toy kallsyms: every name gets a 0x100-byte function, in order of first use."""
    BASE = 0x8000
    SIZE = 0x100

    def __init__(self, with_size=True):
        self.names = []
        self.index = {}
        self.with_size = with_size

    def addr(self, name, offset=0):
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.names)
            self.names.append(name)
        return self.BASE + i * self.SIZE + offset

    def __call__(self, addr):
        i, off = divmod(addr - self.BASE, self.SIZE)
        if addr < self.BASE or i >= len(self.names):
            return None
        return (self.names[i], off, self.SIZE) if self.with_size else (self.names[i], off)


class Builder:
    """Writes function / function_graph records into a RingBuffer and formats them like `cat trace`."""

    def __init__(self, ncpus=4, buffer_size_kb=64):
        self.rb = RingBuffer(ncpus, buffer_size_kb=buffer_size_kb)
        self.sym = Symbols()
        self.ncpus = ncpus

    # function tracer: ip is the mcount call site (function + 4), parent_ip a return address in the caller
    def fn(self, cpu, pid, ts, func, parent=None):
        assert self.rb._write(cpu, ts=ts, ip=self.sym.addr(func, 4),
                              parent_ip=self.sym.addr(parent, 0x24) if parent else 0, pid=pid, type=TRACE_FN)

    # function_graph: entry {func, depth}, return {func, depth, calltime, rettime = ts}
    def ent(self, cpu, ts, func, depth, pid=1):
        assert self.rb._write(cpu, ts=ts, ip=self.sym.addr(func), depth=depth, pid=pid, type=TRACE_GRAPH_ENT)

    def ret(self, cpu, ts, func, depth, duration, pid=1):
        assert self.rb._write(cpu, ts=ts, calltime=ts - duration, ip=self.sym.addr(func), depth=depth, pid=pid,
                              type=TRACE_GRAPH_RET)

    def leaf(self, cpu, ts, func, depth, duration, pid=1):
        self.ent(cpu, ts, func, depth, pid)
        self.ret(cpu, ts + duration, func, depth, duration, pid)

    def events(self):
        return merge([self.rb.snapshot(c) for c in range(self.ncpus)])

    def header(self, tracer, **kw):
        entries = sum(self.rb.entries(c) for c in range(self.ncpus))
        written = sum(self.rb.written(c) for c in range(self.ncpus))
        return trace_header(tracer, entries, written, self.ncpus, **kw).splitlines()

    def function(self, comm, **kw):
        return format_function(self.events(), self.sym, comm, **kw).splitlines()

    def graph(self, **kw):
        return format_graph(self.events(), self.sym, self.ncpus, **kw).splitlines()


# ================================================================================================ function

# DOC ftrace.rst, section "function"
DOC_FUNCTION = """
  # tracer: function
  #
  # entries-in-buffer/entries-written: 24799/24799   #P:4
  #
  #                              _-----=> irqs-off
  #                             / _----=> need-resched
  #                            | / _---=> hardirq/softirq
  #                            || / _--=> preempt-depth
  #                            ||| /     delay
  #           TASK-PID   CPU#  ||||    TIMESTAMP  FUNCTION
  #              | |       |   ||||       |         |
              bash-1994  [002] ....  3082.063030: mutex_unlock <-rb_simple_write
              bash-1994  [002] ....  3082.063031: __mutex_unlock_slowpath <-mutex_unlock
              bash-1994  [002] ....  3082.063031: __fsnotify_parent <-fsnotify_modify
              bash-1994  [002] ....  3082.063032: fsnotify <-fsnotify_modify
              bash-1994  [002] ....  3082.063032: __srcu_read_lock <-fsnotify
              bash-1994  [002] ....  3082.063032: add_preempt_count <-__srcu_read_lock
              bash-1994  [002] ...1  3082.063032: sub_preempt_count <-__srcu_read_lock
              bash-1994  [002] ....  3082.063033: __srcu_read_unlock <-fsnotify
"""


def test_function_doc_sample():
    expected = unindent(DOC_FUNCTION, 2)
    b = Builder(ncpus=4)
    # timestamps in ns that ns2usecs() rounds to the documented microseconds (-400..+499 ns around them)
    for ts, func, parent in [(3082063030_000, "mutex_unlock", "rb_simple_write"),
                             (3082063030_700, "__mutex_unlock_slowpath", "mutex_unlock"),
                             (3082063031_499, "__fsnotify_parent", "fsnotify_modify"),
                             (3082063031_500, "fsnotify", "fsnotify_modify"),
                             (3082063032_000, "__srcu_read_lock", "fsnotify"),
                             (3082063032_100, "add_preempt_count", "__srcu_read_lock"),
                             (3082063032_200, "sub_preempt_count", "__srcu_read_lock"),
                             (3082063032_600, "__srcu_read_unlock", "fsnotify")]:
        b.fn(2, 1994, ts, func, parent)
    # the records carry no preempt count: the sample's one "...1" line comes from the flags hook
    flags = lambda ev: "...1" if b.sym(ev.ip)[0] == "sub_preempt_count" else "...."  # noqa: E731
    header = trace_header("function", 24799, 24799, 4).splitlines()
    assert header + b.function({1994: "bash"}, flags_of=flags) == expected


# DOC ftrace.rst, section "dynamic ftrace" (echo sys_nanosleep hrtimer_interrupt > set_ftrace_filter)
DOC_FILTERED = """
  # tracer: function
  #
  # entries-in-buffer/entries-written: 5/5   #P:4
  #
  #                              _-----=> irqs-off
  #                             / _----=> need-resched
  #                            | / _---=> hardirq/softirq
  #                            || / _--=> preempt-depth
  #                            ||| /     delay
  #           TASK-PID   CPU#  ||||    TIMESTAMP  FUNCTION
  #              | |       |   ||||       |         |
            usleep-2665  [001] ....  4186.475355: sys_nanosleep <-system_call_fastpath
            <idle>-0     [001] d.h1  4186.475409: hrtimer_interrupt <-smp_apic_timer_interrupt
            usleep-2665  [001] d.h1  4186.475426: hrtimer_interrupt <-smp_apic_timer_interrupt
            <idle>-0     [003] d.h1  4186.475426: hrtimer_interrupt <-smp_apic_timer_interrupt
            <idle>-0     [002] d.h1  4186.475427: hrtimer_interrupt <-smp_apic_timer_interrupt
"""


def test_function_doc_sample_multi_cpu_merge_and_header_counts():
    expected = unindent(DOC_FILTERED, 2)
    b = Builder(ncpus=4)
    # written per CPU, in CPU order; the two events at 4186.475426 have the same ns timestamp: CPU 1 first
    b.fn(1, 2665, 4186475355_000, "sys_nanosleep", "system_call_fastpath")
    b.fn(1, 0, 4186475409_000, "hrtimer_interrupt", "smp_apic_timer_interrupt")
    b.fn(1, 2665, 4186475426_000, "hrtimer_interrupt", "smp_apic_timer_interrupt")
    b.fn(2, 0, 4186475427_000, "hrtimer_interrupt", "smp_apic_timer_interrupt")
    b.fn(3, 0, 4186475426_000, "hrtimer_interrupt", "smp_apic_timer_interrupt")
    flags = lambda ev: "...." if b.sym(ev.ip)[0] == "sys_nanosleep" else "d.h1"  # noqa: E731
    # pid 0 is <idle> without asking comm_of_pid (trace_find_cmdline)
    assert b.header("function") + b.function({2665: "usleep"}, flags_of=flags) == expected


# DOC ftrace.rst, section "dynamic ftrace" (echo '*preempt*' '*lock*' > set_ftrace_notrace), first lines
DOC_NOTRACE = """
  # tracer: function
  #
  # entries-in-buffer/entries-written: 39608/39608   #P:4
  #
  #                              _-----=> irqs-off
  #                             / _----=> need-resched
  #                            | / _---=> hardirq/softirq
  #                            || / _--=> preempt-depth
  #                            ||| /     delay
  #           TASK-PID   CPU#  ||||    TIMESTAMP  FUNCTION
  #              | |       |   ||||       |         |
              bash-1994  [000] ....  4342.324896: file_ra_state_init <-do_dentry_open
              bash-1994  [000] ....  4342.324897: open_check_o_direct <-do_last
              bash-1994  [000] ....  4342.324897: ima_file_check <-do_last
              bash-1994  [000] ....  4342.324898: process_measurement <-ima_file_check
"""


def test_function_doc_sample_header_from_buffer_counts():
    expected = unindent(DOC_NOTRACE, 2)
    b = Builder(ncpus=4, buffer_size_kb=1408)                  # room for all 39608 records
    for ts, func, parent in [(4342324896_000, "file_ra_state_init", "do_dentry_open"),
                             (4342324897_000, "open_check_o_direct", "do_last"),
                             (4342324897_000, "ima_file_check", "do_last"),
                             (4342324898_000, "process_measurement", "ima_file_check")]:
        b.fn(0, 1994, ts, func, parent)
    for i in range(39608 - 4):                         # the rest of the documented 39608 entries, later in time
        b.rb._write(1 + i % 3, ts=5000_000_000_000 + i, ip=b.sym.addr("x"), pid=1, type=TRACE_FN)
    lines = b.header("function") + b.function({1994: "bash"})
    assert lines[:len(expected)] == expected


# DOC ftrace.rst, section "Single thread tracing": a trace printed without the latency-flags field.  This sample
# is older than the code we follow: since trace_print_context() has the irq-info option, it prints
# "[%03d] " and then " %5lu.%06lu: ", i.e. three blanks before a 4-digit seconds field where the sample has two
# (and its header is not print_func_help_header()'s).  Compared with that one blank put back.
DOC_NOIRQ = """
      yum-updatesd-3111  [003]  1637.254676: finish_task_switch <-thread_return
      yum-updatesd-3111  [003]  1637.254681: hrtimer_cancel <-schedule_hrtimeout_range
      yum-updatesd-3111  [003]  1637.254682: hrtimer_try_to_cancel <-hrtimer_cancel
"""


def test_function_without_irq_info():
    expected = [line.replace("]  ", "]   ") for line in unindent(DOC_NOIRQ, 2)]
    b = Builder(ncpus=4)
    for ts, func, parent in [(1637254676_000, "finish_task_switch", "thread_return"),
                             (1637254681_000, "hrtimer_cancel", "schedule_hrtimeout_range"),
                             (1637254682_000, "hrtimer_try_to_cancel", "hrtimer_cancel")]:
        b.fn(3, 3111, ts, func, parent)
    assert b.function({3111: "yum-updatesd"}, options=["noirq-info"]) == expected
    # trace.c print_func_help_header()
    assert b.header("function", options={"irq-info": False})[-2:] == [
        "#           TASK-PID   CPU#      TIMESTAMP  FUNCTION",
        "#              | |       |          |         |"]


def test_function_options_and_symbols():
    b = Builder(ncpus=2)
    b.fn(0, 7, 5_000_000_000, "foo", "bar")
    b.rb._write(0, ts=5_000_000_001, ip=0x1234, parent_ip=0, pid=8, type=TRACE_FN)      # unknown ip, no parent
    b.rb._write(1, ts=5_000_000_002, ip=b.sym.addr("foo", 0x1a), parent_ip=0x4321, pid=9, type=TRACE_FN)
    comm = {7: "a-very-long-command-name"}.get                                             # TASK_COMM_LEN 16
    assert b.function(comm) == [
        " a-very-long-com-7     [000] ....     5.000000: foo <-bar",
        "           <...>-8     [000] ....     5.000000: 0x1234",
        "           <...>-9     [001] ....     5.000000: foo <-0x4321"]
    assert b.function(comm, options={"print-parent": False})[0].endswith(": foo")
    assert b.function(comm, options=["sym-offset"])[::2] == [
        " a-very-long-com-7     [000] ....     5.000000: foo+0x4/0x100 <-bar+0x24/0x100",
        "           <...>-9     [001] ....     5.000000: foo+0x1a/0x100 <-0x4321"]
    assert b.function(comm, options=["sym-offset", "sym-addr"])[0].endswith(
        ": foo+0x4/0x100 <00008004> <-bar+0x24/0x100 <00008124>")
    assert b.function(comm, options=["sym-addr"])[0].endswith(": foo <00008004> <-bar <00008124>")
    assert b.function(comm, options=["nocontext-info"]) == ["foo <-bar", "0x1234", "foo <-0x4321"]
    # a symbolizer returning (name, offset) only, like cpu.loader.Image.symbolize: no "/size"
    b.sym.with_size = False
    assert b.function(comm, options=["sym-offset"])[0].endswith(": foo+0x4 <-bar+0x24")


def test_function_timestamp_rounding_and_width():
    b = Builder(ncpus=1)
    for ts in (0, 499, 500, 999_999_499, 999_999_500, 123456_000_000_000):
        b.fn(0, 1, ts, "f")
    assert [line.split("] .... ")[1].split(":")[0] for line in b.function(None)] == [
        "    0.000000", "    0.000000", "    0.000001", "    0.999999", "    1.000000", "123456.000000"]


def test_lost_events_line():
    assert format_lost(3, 1234) == "CPU:3 [LOST 1234 EVENTS]"
    rb = RingBuffer(2, buffer_size_kb=1)                       # 32 records per CPU
    sym = Symbols()
    for i in range(40):
        rb._write(1, ts=1000 + i, ip=sym.addr("f"), pid=5, type=TRACE_FN)
    rb._write(0, ts=1005, ip=sym.addr("g"), pid=5, type=TRACE_FN)
    view1, lost1 = rb.consume(1, 2)
    view0, lost0 = rb.consume(0)
    lines = format_function(merge([view0, view1]), sym, {5: "t"}, lost={0: lost0, 1: lost1}).splitlines()
    assert lost1 == 8 and lost0 == 0
    assert lines == ["               t-5     [000] ....     0.000001: g",
                     "CPU:1 [LOST 8 EVENTS]",
                     "               t-5     [001] ....     0.000001: f",
                     "               t-5     [001] ....     0.000001: f"]


def test_header_warning_when_dead_and_options():
    lines = trace_header("function", 3, 10, 2, dead=True).splitlines()
    # s_show(): "# tracer:", "#", then test_ftrace_alive()
    assert lines[:5] == ["# tracer: function", "#", "# WARNING: FUNCTION TRACING IS CORRUPTED",
                         "#          MAY BE MISSING FUNCTION EVENTS",
                         "# entries-in-buffer/entries-written: 3/10   #P:2"]
    assert trace_header("nop", 0, 0, 1).splitlines()[2] == "# entries-in-buffer/entries-written: 0/0   #P:1"
    assert trace_header("function", 0, 0, 1, options=["nocontext-info"]) == "# tracer: function\n#\n"
    with pytest.raises(ValueError):
        resolve_options(["funcgraph-bogus"])
    assert resolve_options("nofuncgraph-cpu funcgraph-tail")["funcgraph-cpu"] is False
    assert resolve_options(None) == DEFAULT_OPTIONS


# ========================================================================================== function_graph

# DOC ftrace.rst, section "function graph tracer", first sample
DOC_GRAPH = """
  # tracer: function_graph
  #
  # CPU  DURATION                  FUNCTION CALLS
  # |     |   |                     |   |   |   |

   0)               |  sys_open() {
   0)               |    do_sys_open() {
   0)               |      getname() {
   0)               |        kmem_cache_alloc() {
   0)   1.382 us    |          __might_sleep();
   0)   2.478 us    |        }
   0)               |        strncpy_from_user() {
   0)               |          might_fault() {
   0)   1.389 us    |            __might_sleep();
   0)   2.553 us    |          }
   0)   3.807 us    |        }
   0)   7.876 us    |      }
   0)               |      alloc_fd() {
   0)   0.668 us    |        _spin_lock();
   0)   0.570 us    |        expand_files();
   0)   0.586 us    |        _spin_unlock();
"""


def test_graph_doc_sample():
    expected = unindent(DOC_GRAPH, 2)
    b = Builder(ncpus=4)
    t = 1_000_000_000
    steps = [("ent", "sys_open", 0, 0), ("ent", "do_sys_open", 1, 0), ("ent", "getname", 2, 0),
             ("ent", "kmem_cache_alloc", 3, 0), ("leaf", "__might_sleep", 4, 1382),
             ("ret", "kmem_cache_alloc", 3, 2478), ("ent", "strncpy_from_user", 3, 0),
             ("ent", "might_fault", 4, 0), ("leaf", "__might_sleep", 5, 1389), ("ret", "might_fault", 4, 2553),
             ("ret", "strncpy_from_user", 3, 3807), ("ret", "getname", 2, 7876), ("ent", "alloc_fd", 2, 0),
             ("leaf", "_spin_lock", 3, 668), ("leaf", "expand_files", 3, 570), ("leaf", "_spin_unlock", 3, 586)]
    for kind, func, depth, dur in steps:
        t += 10_000
        getattr(b, kind)(*((0, t, func, depth) + ((dur,) if kind != "ent" else ())))
    lines = b.header("function_graph") + b.graph()
    # the sample's empty line between header and trace is not printed by trace_functions_graph.c
    assert lines == expected[:4] + expected[5:]


# DOC ftrace.rst, funcgraph-overhead sample, first part (rst indent 4; pasted without the kernel's leading
# space of " %*d) ", so 3 columns are removed)
DOC_OVERHEAD_1 = """
    3) # 1837.709 us |          } /* __switch_to */
    3)               |          finish_task_switch() {
    3)   0.313 us    |            _raw_spin_unlock_irq();
    3)   3.177 us    |          }
    3) # 1889.063 us |        } /* __schedule */
    3) ! 140.417 us  |      } /* __schedule */
    3) # 2034.948 us |    } /* schedule */
    3) * 33998.59 us |  } /* schedule_preempt_disabled */
"""


def test_graph_doc_overhead_marks_and_lost_entries():
    expected = unindent(DOC_OVERHEAD_1, 3)
    b = Builder(ncpus=4)
    t = 50_000_000_000
    # the entries of __switch_to, __schedule, schedule, ... are not in the buffer: "} /* func */"
    b.ret(3, t + 1, "__switch_to", 4, 1837709)
    b.ent(3, t + 2, "finish_task_switch", 4)
    b.leaf(3, t + 3, "_raw_spin_unlock_irq", 5, 313)
    b.ret(3, t + 4000, "finish_task_switch", 4, 3177)
    b.ret(3, t + 5000, "__schedule", 3, 1889063)
    b.ret(3, t + 6000, "__schedule", 2, 140417)
    b.ret(3, t + 7000, "schedule", 1, 2034948)
    b.ret(3, t + 8000, "schedule_preempt_disabled", 0, 33998590)
    assert b.graph() == expected


# DOC ftrace.rst, funcgraph-overhead sample, second part (after "[...]"; same 3-column removal)
DOC_OVERHEAD_2 = """
    1)   0.260 us    |              msecs_to_jiffies();
    1)   0.313 us    |              __rcu_read_unlock();
    1) + 61.770 us   |            }
    1) + 64.479 us   |          }
    1)   0.313 us    |          rcu_bh_qs();
    1)   0.313 us    |          __local_bh_enable();
    1) ! 217.240 us  |        }
    1)   0.365 us    |        idle_cpu();
    1)               |        rcu_irq_exit() {
    1)   0.417 us    |          rcu_eqs_enter_common.isra.47();
    1)   3.125 us    |        }
    1) ! 227.812 us  |      }
    1) ! 457.395 us  |    }
    1) @ 119760.2 us |  }
"""


def test_graph_doc_overhead_second_part():
    expected = unindent(DOC_OVERHEAD_2, 3)
    b = Builder(ncpus=4)
    t = 70_000_000_000
    for depth in range(6):                       # the entries shown before "[...]"
        b.ent(1, t + depth, "outer%d" % depth, depth)
    t += 1_000_000
    b.leaf(1, t + 1000, "msecs_to_jiffies", 6, 260)
    b.leaf(1, t + 2000, "__rcu_read_unlock", 6, 313)
    b.ret(1, t + 3000, "outer5", 5, 61770)
    b.ret(1, t + 4000, "outer4", 4, 64479)
    b.leaf(1, t + 5000, "rcu_bh_qs", 4, 313)
    b.leaf(1, t + 6000, "__local_bh_enable", 4, 313)
    b.ret(1, t + 7000, "outer3", 3, 217240)
    b.leaf(1, t + 8000, "idle_cpu", 3, 365)
    b.ent(1, t + 9000, "rcu_irq_exit", 3)
    b.leaf(1, t + 10000, "rcu_eqs_enter_common.isra.47", 4, 417)
    b.ret(1, t + 11000, "rcu_irq_exit", 3, 3125)
    b.ret(1, t + 12000, "outer2", 2, 227812)
    b.ret(1, t + 13000, "outer1", 1, 457395)
    b.ret(1, t + 14000, "outer0", 0, 119760200)
    lines = b.graph()
    assert lines[:6] == [" 1)               |  " + "  " * d + "outer%d() {" % d for d in range(6)]
    assert lines[6:] == expected


# DOC ftrace.rst, funcgraph-overhead sample, third part: two CPUs interleaved (same 3-column removal)
DOC_OVERHEAD_3 = """
    2)               |    handle_IPI() {
    1)   6.979 us    |                  }
    2)   0.417 us    |      scheduler_ipi();
    1)   9.791 us    |                }
    1) + 12.917 us   |              }
    2)   3.490 us    |    }
    1) + 15.729 us   |            }
    1) + 18.542 us   |          }
    2) $ 3594274 us  |  }
"""


def test_graph_doc_overhead_interleaved_cpus_and_seven_digits():
    expected = unindent(DOC_OVERHEAD_3, 3)
    b = Builder(ncpus=4)
    t = 90_000_000_000
    for depth in range(9):
        b.ent(1, t + depth, "c1_%d" % depth, depth)
    b.leaf(1, t + 50, "c1_9", 9, 10)                      # so that c1_8 is not a leaf
    b.ent(2, t + 100, "c2_0", 0)
    t += 10_000_000
    step = 10_000
    b.ent(2, t + 1 * step, "handle_IPI", 1)
    b.ret(1, t + 2 * step, "c1_8", 8, 6979)
    b.leaf(2, t + 3 * step, "scheduler_ipi", 2, 417)
    b.ret(1, t + 4 * step, "c1_7", 7, 9791)
    b.ret(1, t + 5 * step, "c1_6", 6, 12917)
    b.ret(2, t + 6 * step, "handle_IPI", 1, 3490)
    b.ret(1, t + 7 * step, "c1_5", 5, 15729)
    b.ret(1, t + 8 * step, "c1_4", 4, 18542)
    b.ret(2, t + 9 * step, "c2_0", 0, 3594274000)
    assert b.graph()[-len(expected):] == expected


# DOC ftrace.rst, funcgraph-proc sample (rst indent 4, pasted without the leading space: 3 columns removed)
DOC_PROC = """
    0)    sh-4802     |               |                  d_free() {
    0)    sh-4802     |               |                    call_rcu() {
    0)    sh-4802     |               |                      __call_rcu() {
    0)    sh-4802     |   0.616 us    |                        rcu_process_gp_end();
    0)    sh-4802     |   0.586 us    |                        check_for_new_grace_period();
    0)    sh-4802     |   2.899 us    |                      }
    0)    sh-4802     |   4.040 us    |                    }
    0)    sh-4802     |   5.151 us    |                  }
    0)    sh-4802     | + 49.370 us   |                }
"""


def test_graph_doc_proc_column():
    expected = unindent(DOC_PROC, 3)
    b = Builder(ncpus=4)
    t = 10_000_000_000
    b.ent(0, t, "dput", 7, pid=4802)
    b.ent(0, t + 100, "d_free", 8, pid=4802)
    b.ent(0, t + 200, "call_rcu", 9, pid=4802)
    b.ent(0, t + 300, "__call_rcu", 10, pid=4802)
    b.leaf(0, t + 1000, "rcu_process_gp_end", 11, 616, pid=4802)
    b.leaf(0, t + 2000, "check_for_new_grace_period", 11, 586, pid=4802)
    b.ret(0, t + 3000, "__call_rcu", 10, 2899, pid=4802)
    b.ret(0, t + 4000, "call_rcu", 9, 4040, pid=4802)
    b.ret(0, t + 5000, "d_free", 8, 5151, pid=4802)
    b.ret(0, t + 60000, "dput", 7, 49370, pid=4802)
    lines = format_graph(b.events(), b.sym, 4, options=["funcgraph-proc"], comm_of_pid={4802: "sh"}).splitlines()
    assert lines[1:] == expected
    # the sample's header was edited by hand; trace_functions_graph.c prints these pieces:
    assert trace_header("function_graph", 0, 0, 4, options=["funcgraph-proc"]).splitlines()[2:] == [
        "# CPU  TASK/PID         DURATION                  FUNCTION CALLS",
        "# |     |    |           |   |                     |   |   |   |"]


# DOC ftrace.rst, funcgraph-abstime sample (rst indent 4; "%5lu" prints 360 as "  360", the sample was pasted
# without those two blanks: 4 columns removed, 2 blanks put back)
DOC_ABSTIME = """
    360.774522 |   1)   0.541 us    |                                          }
    360.774522 |   1)   4.663 us    |                                        }
    360.774523 |   1)   0.541 us    |                                        __wake_up_bit();
    360.774524 |   1)   6.796 us    |                                      }
    360.774524 |   1)   7.952 us    |                                    }
    360.774525 |   1)   9.063 us    |                                  }
    360.774525 |   1)   0.615 us    |                                  journal_mark_dirty();
    360.774527 |   1)   0.578 us    |                                  __brelse();
    360.774528 |   1)               |                                  reiserfs_prepare_for_journal() {
    360.774528 |   1)               |                                    unlock_buffer() {
    360.774529 |   1)               |                                      wake_up_bit() {
    360.774529 |   1)               |                                        bit_waitqueue() {
    360.774530 |   1)   0.594 us    |                                          __phys_addr();
"""


def test_graph_doc_abstime_column():
    expected = ["  " + line for line in unindent(DOC_ABSTIME, 4)]
    b = Builder(ncpus=4)
    s = 360_000_000_000
    for depth in range(21):
        b.ent(1, s + 774_000_000 + depth, "f%d" % depth, depth)
    b.leaf(1, s + 774_000_100, "inner", 21, 50)           # so that f20 is not a leaf
    us = s + 774_000_000                                  # 360.774000 s
    b.ret(1, us + 522_100, "f20", 20, 541)                # abstime is truncated, not rounded: 360.774522
    b.ret(1, us + 522_999, "f19", 19, 4663)
    b.leaf(1, us + 523_000, "__wake_up_bit", 19, 541)     # a leaf shows its entry's time
    b.ret(1, us + 524_100, "f18", 18, 6796)
    b.ret(1, us + 524_200, "f17", 17, 7952)
    b.ret(1, us + 525_100, "f16", 16, 9063)
    b.leaf(1, us + 525_200, "journal_mark_dirty", 16, 615)
    b.leaf(1, us + 527_000, "__brelse", 16, 578)
    b.ent(1, us + 528_100, "reiserfs_prepare_for_journal", 16)
    b.ent(1, us + 528_200, "unlock_buffer", 17)
    b.ent(1, us + 529_100, "wake_up_bit", 18)
    b.ent(1, us + 529_200, "bit_waitqueue", 19)
    b.leaf(1, us + 530_000, "__phys_addr", 20, 594)
    lines = b.graph(options=["funcgraph-abstime"])
    assert lines[-len(expected):] == expected
    assert b.header("function_graph", options=["funcgraph-abstime"])[2:] == [
        "#     TIME        CPU  DURATION                  FUNCTION CALLS",
        "#      |          |     |   |                     |   |   |   |"]


# DOC ftrace.rst, funcgraph-tail samples (rst indent 4, 3 columns removed)
DOC_NOTAIL = """
    0)               |      putname() {
    0)               |        kmem_cache_free() {
    0)   0.518 us    |          __phys_addr();
    0)   1.757 us    |        }
    0)   2.861 us    |      }
"""
DOC_TAIL = """
    0)               |      putname() {
    0)               |        kmem_cache_free() {
    0)   0.518 us    |          __phys_addr();
    0)   1.757 us    |        } /* kmem_cache_free() */
    0)   2.861 us    |      } /* putname() */
"""


def test_graph_doc_tail_option():
    b = Builder(ncpus=4)
    b.ent(0, 1000, "putname", 2)
    b.ent(0, 1100, "kmem_cache_free", 3)
    b.leaf(0, 1200, "__phys_addr", 4, 518)
    b.ret(0, 3000, "kmem_cache_free", 3, 1757)
    b.ret(0, 4000, "putname", 2, 2861)
    assert b.graph() == unindent(DOC_NOTAIL, 3)
    # the code prints "} /* %ps */" (trace_functions_graph.c print_graph_return): no "()" as in the doc text
    assert b.graph(options=["funcgraph-tail"]) == [
        line.replace("() */", " */") for line in unindent(DOC_TAIL, 3)]


@pytest.mark.parametrize("ns, text", [
    (10000, "  10.000 us   |"), (10001, "+ 10.001 us   |"),              # "+": > 10 us
    (100000, "+ 100.000 us  |"), (100001, "! 100.001 us  |"),           # "!": > 100 us
    (1000000, "! 1000.000 us |"), (1000001, "# 1000.001 us |"),         # "#": > 1000 us
    (10000000, "# 10000.00 us |"), (10000001, "* 10000.00 us |"),       # "*": > 10 ms
    (100000000, "* 100000.0 us |"), (100000001, "@ 100000.0 us |"),     # "@": > 100 ms
    (1000000000, "@ 1000000 us  |"), (1000000001, "$ 1000000 us  |"),   # "$": > 1 s
    (0, "  0.000 us    |"), (999, "  0.999 us    |"), (12345678999, "$ 12345678 us |"),
])
def test_graph_duration_column_boundaries(ns, text):
    assert trace_find_mark(ns) + " " + graph_duration(ns) + "|" == text
    b = Builder(ncpus=2)
    b.leaf(0, 5_000_000_000, "f", 0, ns)
    b.ent(1, 5_000_000_000, "g", 0)
    b.leaf(1, 5_000_000_001, "h", 1, 1)
    b.ret(1, 6_000_000_000 + ns, "g", 0, ns + 1)           # a closing brace: same column
    lines = b.graph()
    assert lines[0] == " 0) " + text + "  f();"
    assert lines[-1] == " 1) " + trace_find_mark(ns + 1) + " " + graph_duration(ns + 1) + "|  }"


def test_graph_leaf_detection_peeks_the_same_cpu():
    b = Builder(ncpus=2)
    b.ent(0, 100, "a", 0)
    b.ent(1, 150, "b", 0)              # another CPU's event between a's entry and return in merged order
    b.ret(0, 200, "a", 0, 100)         # a is still a leaf: the peek looks at CPU 0's next event
    b.ent(1, 250, "c", 1)
    b.ret(1, 300, "d", 1, 50)          # return of another function: c is not a leaf, d's entry was lost
    b.ent(0, 400, "e", 0, pid=1)
    b.ret(0, 500, "e", 0, 100, pid=2)  # other pid: not a leaf (get_return_for_leaf compares pid and func)
    assert b.graph() == [
        " 0)   0.100 us    |  a();",
        " 1)               |  b() {",
        " 1)               |    c() {",
        " 1)   0.050 us    |    } /* d */",
        " 0)               |  e() {",
        " 0)   0.100 us    |  }"]


def test_graph_options_cpu_duration_overhead_overrun_width():
    b = Builder(ncpus=12)                                  # CPU column width: digits of nr_cpu_ids - 1 = 2
    b.ent(3, 100, "outer", 0)
    b.leaf(3, 200, "inner", 1, 20000)
    b.rb._write(3, ts=30000, calltime=100, ip=b.sym.addr("outer"), depth=0, parent_ip=7, type=TRACE_GRAPH_RET)
    assert b.graph() == ["  3)               |  outer() {",
                         "  3) + 20.000 us   |    inner();",
                         "  3) + 29.900 us   |  }"]
    assert b.graph(options=["nofuncgraph-overhead"])[1] == "  3)   20.000 us   |    inner();"
    assert b.graph(options=["nofuncgraph-cpu"]) == ["              |  outer() {",
                                                     "+ 20.000 us   |    inner();",
                                                     "+ 29.900 us   |  }"]
    # print_graph_duration() prints nothing at all without funcgraph-duration
    assert b.graph(options=["nofuncgraph-duration"]) == ["  3) outer() {", "  3)   inner();", "  3) }"]
    assert b.graph(options=["funcgraph-overrun"])[-2:] == ["  3) + 29.900 us   |  }", " (Overruns: 7)"]
    assert b.header("function_graph", options=["nofuncgraph-cpu", "nofuncgraph-duration"])[2:] == [
        "#               FUNCTION CALLS", "#               |   |   |   |"]
    assert b.graph(options=["nocontext-info"]) == ["outer() {", "  inner();", "}"]


def test_graph_lost_line_unknown_symbol_and_function_records():
    b = Builder(ncpus=2)
    b.rb._write(0, ts=10, ip=0x4444, depth=0, type=TRACE_GRAPH_ENT)
    b.rb._write(0, ts=20, calltime=10, ip=0x4444, depth=0, type=TRACE_GRAPH_RET)
    b.fn(1, 0, 15, "f", "g")
    lines = list(iter_graph_lines(b.events(), b.sym, 2, lost={0: 3}))
    assert lines == ["CPU:0 [LOST 3 EVENTS]",
                     " 0)   0.010 us    |  0x4444();",
                     "          <idle>-0     [001] ....     0.000000: f <-g"]


def test_graph_deep_nesting_beyond_retfunc_depth():
    # enter_funcs[] has FTRACE_RETFUNC_DEPTH = 50 slots; deeper returns always print a plain "}"
    b = Builder(ncpus=1)
    b.ent(0, 1, "deep", 60)
    b.ent(0, 2, "x", 61)
    b.ret(0, 3, "other", 60, 2)
    assert b.graph()[-1] == " 0)   0.002 us    |" + " " * (2 + 120) + "}"


def test_format_large_trace_reads_cdata_directly():
    # a smoke test of the hot loops on a full 1408 KiB per-CPU buffer (45056 records per CPU, 2 CPUs)
    rb = RingBuffer(2)
    sym = Symbols()
    funcs = [sym.addr("f%d" % i) for i in range(64)]
    for cpu in range(2):
        for i in range(rb.capacity // 2):
            f = funcs[i % 64]
            rb._write(cpu, ts=2 * i * 1000 + cpu, ip=f, depth=1, type=TRACE_GRAPH_ENT)
            rb._write(cpu, ts=2 * i * 1000 + 500 + cpu, calltime=2 * i * 1000 + cpu, ip=f, depth=1,
                      type=TRACE_GRAPH_RET)
    text = format_graph(merge([rb.snapshot(c) for c in range(2)]), sym, 2)
    assert text.count("\n") == rb.capacity
    assert text.startswith(" 0)   0.500 us    |    f0();\n 1)   0.500 us    |    f0();\n")
    text = format_function(merge([rb.snapshot(c) for c in range(2)]), sym, None)
    assert text.count("Unknown type") == 2 * rb.capacity
