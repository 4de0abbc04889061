"""`python -m ftrace ARGS` in a subprocess that imports the package under test (other test modules put the
source tree on sys.path; the subprocess must see the same package)."""
import os
import subprocess
import sys

import ftrace

PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(ftrace.__file__)))


def env():
    """The environment with the package under test first on PYTHONPATH."""
    e = dict(os.environ)
    e["PYTHONPATH"] = PKG_DIR + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def ftrace_cmd(*args, cwd=None, timeout=120):
    """Run `python -m ftrace ARGS`; returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "ftrace", *map(str, args)], capture_output=True, text=True,
                          env=env(), cwd=cwd, timeout=timeout)
