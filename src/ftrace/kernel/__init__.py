"""The port of Linux v3.6 dynamic ftrace (kernel/trace/ftrace.c, trace.c, ring_buffer.c, trace_functions*.c and
the ARM/x86 arch layers) onto the simulated SMP.

    records.py        dyn_ftrace records and their pages
    ops.py            ftrace_ops, filter/notrace hashes, the filter syntax
    core.py           the generic core (ftrace_init, ftrace_startup/shutdown, ftrace_replace_code, ftrace_bug)
    methods.py        the update methods (breakpoint, stop_machine, branch_over, direct, unsynced) in METHODS
    patch.py          ftrace_modify_code, on_each_cpu syncs, stop_machine
    insn.py           the instruction encodings ftrace writes
    recordmcount.py   the mcount call sites of a linked image and each function's saved-LR slot
    tracers.pyx       the tracers at C level (function, function_graph, the breakpoint handler)
    ring_buffer.pyx   per-CPU ring buffers of struct trace_event (trace_event.h)
    events.py         zero-copy cffi access to those records
    trace.py          `Ftrace`, the tracefs-like front end
"""
