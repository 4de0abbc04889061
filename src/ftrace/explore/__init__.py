"""The code-patching protocol explorer: randomized runs of each update method under live load, checked for
violations, and what patching costs.

    run.py        one run (run_one), its replay with an explanation (explain), and tallies (summarize, tally)
    campaign.py   many runs: serially, over a process pool or over a Dask cluster
    costs.py      the patching cost of each method (cycles, lost cycles, IPIs) under load
    report.py     the Markdown + PNG report comparing the methods (needs matplotlib)

The API of one run is importable from here: ``from ftrace.explore import Config, run_one``.
"""
from ftrace.explore.run import Config, RunResult, explain, reference_output, run_one, summarize, tally

__all__ = ["Config", "RunResult", "explain", "reference_output", "run_one", "summarize", "tally"]
