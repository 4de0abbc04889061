"""Output formats of trace events.

    text.py       the kernel's `trace` / `trace_pipe` text (kernel/trace/trace_output.c, trace_functions_graph.c)
    tracedat.py   trace-cmd trace.dat: writer and reader
    chrome.py     Chrome trace-event JSON (chrome://tracing, Perfetto)
    folded.py     folded stacks (flamegraph.pl, inferno, speedscope)
    recorded.py   the `ftrace show` / `ftrace report` views of a trace.dat
    common.py     what they share: any kind of event as a row tuple, cached symbol names
"""
