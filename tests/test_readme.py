"""Every shell command of README.md's ```sh blocks and every ```python example is exercised.

Shell commands: each line of a ```sh block, its comment removed, split at ``&&``, is one command.  Each one
must be in exactly one of

* RUN: run here, as written, by /bin/sh in a scratch directory whose PATH starts with shims that map
  ``python`` to this interpreter and ``ftrace`` to ``python -m ftrace`` (PYTHONPATH: the package under
  test), with a check of its result.  The commands of a block run in README order (``trace-cmd report -i
  trace.dat`` reads the file ``ftrace record`` wrote; the README's C program is written to prog.c for the
  gcc lines).  Those needing arm-none-eabi-gcc or trace-cmd are skipped, with the reason, when it is missing.
* COVERED: not run here; mapped to the test (``file::function``) that exercises it, which must exist.
* CI_RUNS: run by CI itself (``pip install ...``, the suite).

test_every_readme_command_is_accounted_for fails for a README command in none of them.

Python examples run as written, each in a fresh interpreter (so nothing this process imported helps them), in
a scratch directory; the cpu example gets the prog.elf it loads (built from the README's C program as the
README says, or the bundled hello_smp.elf when arm-none-eabi-gcc is missing).
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cpu
import ftrace

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(ftrace.__file__)))
CPU_DIR = os.path.dirname(os.path.abspath(cpu.__file__))
GCC = shutil.which("arm-none-eabi-gcc")
TRACE_CMD = shutil.which("trace-cmd")
NO_GCC = "arm-none-eabi-gcc is not installed (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi; CI has it)"
NO_TRACE_CMD = "trace-cmd is not installed (CI installs it)"


# ------------------------------------------------------------------------------------------- README parsing

def readme_blocks(lang):
    text = README.read_text()
    return [m.group(1) for m in re.finditer(r"^```%s\n(.*?)^```[ \t]*$" % re.escape(lang), text, re.M | re.S)]


def split_command(line):
    """The commands of one shell line: the comment removed, split at && outside quotes and $(...)."""
    out, cur, quote, depth, i = [], "", None, 0, 0
    while i < len(line):
        ch = line[i]
        if quote:
            cur += ch
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            cur += ch
        elif line.startswith("$(", i):
            depth += 1
            cur += "$("
            i += 2
            continue
        elif ch == ")" and depth:
            depth -= 1
            cur += ch
        elif ch == "#" and depth == 0 and (not cur or cur[-1].isspace()):
            break
        elif line.startswith("&&", i) and depth == 0:
            out.append(cur.strip())
            cur = ""
            i += 2
            continue
        else:
            cur += ch
        i += 1
    out.append(cur.strip())
    return [p for p in out if p]


def readme_commands():
    """[(block index, command)] in README order."""
    return [(b, cmd) for b, block in enumerate(readme_blocks("sh"))
            for line in block.splitlines() for cmd in split_command(line)]


def test_split_command():
    assert split_command("a 'x && y' && b $(c && d) # e && f") == ["a 'x && y'", "b $(c && d)"]
    assert split_command("# only a comment") == []
    assert split_command("ftrace run --filter 'fib*'   # the # inside") == ["ftrace run --filter 'fib*'"]


# ------------------------------------------------------------------------------------------ what is checked

FIB20 = 6765


def check_demo(r, ws):
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("# tracer: function_graph\n")
    assert "# patching: method breakpoint" in r.stdout and "#   at instruction " in r.stdout
    assert re.search(r"^ cpu +instructions +cycles +icache hit", r.stdout, re.M)


def check_run_fib(r, ws):
    assert r.returncode == 0, r.stderr
    trace = r.stdout[r.stdout.index("# tracer: function\n"):r.stdout.index("# patching:")]
    lines = [ln for ln in trace.splitlines() if not ln.startswith("#")]
    assert lines and all(re.search(r"\] \.\.\.\. +\d+\.\d{6}: fib <-\w+$", ln) for ln in lines)


def check_record(r, ws):
    assert r.returncode == 0, r.stderr
    assert re.search(r"^ftrace: recorded \d+ events \(function_graph\) to trace\.dat$", r.stderr, re.M)
    assert (ws / "trace.dat").read_bytes()[:10] == b"\x17\x08\x44tracing"


def check_trace_cmd_report(r, ws):
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "cpus=4"
    assert "funcgraph_entry" in r.stdout and "funcgraph_exit" in r.stdout and "worker" in r.stdout


def check_cpu_run_fib(r, ws):
    # the exit status is the guest's: fib.c returns fib(n) & 0x7f
    assert r.returncode == FIB20 & 0x7F, r.stderr
    assert r.stdout == f"fib(20) = {FIB20}\n"
    assert re.search(r"^ cpu +instructions", r.stderr, re.M)


def check_built(name):
    def check(r, ws):
        assert r.returncode == 0, r.stderr
        assert (ws / name).read_bytes()[:4] == b"\x7fELF"
    return check


def check_cpu_run_prog(r, ws):
    assert r.returncode == 0, r.stderr
    assert r.stdout == "3\n"                     # the README program: cores 1..3 each increment the counter
    assert re.search(r"^ +3 +\d+", r.stderr, re.M)


def check_ftrace_run_prog(r, ws):
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("3\n# tracer: function_graph\n")
    assert re.search(r"^ 0\) .*\|  main\(\);$", r.stdout, re.M)
    assert len(re.findall(r"^ [123]\) .*\|  work\(\);$", r.stdout, re.M)) == 3
    assert "# patching: method breakpoint, 2 mcount sites, 2 selected" in r.stdout


def check_json(r, ws):
    import json
    assert r.returncode == 0, r.stderr
    doc = json.loads((ws / "trace.json").read_text())
    assert {e["ph"] for e in doc["traceEvents"]} >= {"M", "B", "E"}


def check_folded(r, ws):
    assert r.returncode == 0, r.stderr
    lines = (ws / "trace.folded").read_text().splitlines()
    assert lines and all(re.fullmatch(r"cpu\d+(;[\w.]+)+ \d+", ln) for ln in lines)


def check_report(r, ws):
    assert r.returncode == 0, r.stderr
    assert re.search(r"^ +Total time +Self time +Calls +Function$", r.stdout, re.M) and "fib" in r.stdout


def check_explore(r, ws):
    assert r.returncode == 0, r.stderr
    assert "breakpoint: violations 0 of 20 runs" in r.stdout
    assert re.search(r"^direct: violations [1-9]\d* of 20 runs \(.*torn", r.stdout, re.M)


def check_replay(r, ws):
    assert r.returncode == 0, r.stderr
    assert "torn" in r.stdout and "memory" in r.stdout


# command -> (needs, check); needs: "gcc" / "trace-cmd" / None
RUN = {
    "ftrace record -F json -o trace.json": (None, check_json),
    "ftrace record -F folded -o trace.folded": (None, check_folded),
    "ftrace report -i trace.dat": (None, check_report),
    "ftrace explore --method breakpoint --method direct --runs 20 --seed 1": (None, check_explore),
    "ftrace replay --method direct --seed 1": (None, check_replay),
    "ftrace demo": (None, check_demo),
    "ftrace run --tracer function --filter 'fib*'": (None, check_run_fib),
    "ftrace record -o trace.dat": (None, check_record),
    "trace-cmd report -i trace.dat": ("trace-cmd", check_trace_cmd_report),
    "python -m cpu run $(python -c 'import cpu,os;print(os.path.dirname(cpu.__file__))')/guest/bin/fib-O2.elf 20 "
    "--stats": (None, check_cpu_run_fib),
    "arm-none-eabi-gcc $(python -m cpu cflags) -O2 prog.c $(python -m cpu ldflags) -o prog.elf":
        ("gcc", check_built("prog.elf")),
    "python -m cpu run prog.elf --cores 4 --seed 3 --schedule random --quantum 20 --stats": ("gcc", check_cpu_run_prog),
    "arm-none-eabi-gcc $(ftrace cflags) -O2 prog.c $(ftrace ldflags) -o prog-pg.elf":
        ("gcc", check_built("prog-pg.elf")),
    "ftrace run prog-pg.elf --cores 4 --tracer function_graph": ("gcc", check_ftrace_run_prog),
}
# command -> the test that exercises it
COVERED = {"ftrace sites hot": "tests/test_sites.py::test_sites_after_ftrace_init_match_recordmcount_and_the_elf"}
# command -> why CI's own steps cover it
CI_RUNS = {
    "pip install .": "CI installs the package",
    'pip install ".[test]"': "CI installs the test extras",
    "python -m pytest": "CI runs the suite (this file is part of it)",
    "python -m pytest bench -s": "CI runs every benchmark once, untimed (--benchmark-disable), as a smoke test",
}


def test_every_readme_command_is_accounted_for():
    cmds = [c for _, c in readme_commands()]
    assert cmds, "no ```sh block found in README.md"
    missing = [c for c in cmds if c not in RUN and c not in COVERED and c not in CI_RUNS]
    assert not missing, f"README commands neither run here nor mapped to a covering test: {missing}"
    stale = [c for c in list(RUN) + list(COVERED) + list(CI_RUNS) if c not in cmds]
    assert not stale, f"commands listed here that README.md no longer has: {stale}"
    for cmd, node in COVERED.items():
        path, _, func = node.partition("::")
        assert re.search(r"^def %s\(" % re.escape(func), (ROOT / path).read_text(), re.M), (cmd, node)


# ---------------------------------------------------------------------------------------------- running

def _env(extra_path=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if extra_path:
        env["PATH"] = str(extra_path) + os.pathsep + env.get("PATH", "")
    return env


class Workspace:
    """A scratch directory per README block, the shims, and the results of the commands run so far."""

    def __init__(self, root):
        self.root = root
        self.shims = root / "shims"
        self.shims.mkdir()
        for name, cmd in (("python", f'exec "{sys.executable}" "$@"'),
                          ("ftrace", f'exec "{sys.executable}" -m ftrace "$@"')):
            p = self.shims / name
            p.write_text("#!/bin/sh\n" + cmd + "\n")
            p.chmod(0o755)
        self.results = {}

    def dir(self, block):
        d = self.root / f"block{block}"
        if not d.exists():
            d.mkdir()
            c = readme_blocks("c")
            if c:
                (d / "prog.c").write_text(c[0])
        return d

    def run(self, block, cmd):
        key = (block, cmd)
        if key not in self.results:
            self.results[key] = subprocess.run(["/bin/sh", "-c", cmd], cwd=self.dir(block), env=_env(self.shims),
                                               capture_output=True, text=True, timeout=300)
        return self.results[key]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    return Workspace(tmp_path_factory.mktemp("readme"))


def _skip_reason(cmd):
    if cmd in CI_RUNS:
        return f"{CI_RUNS[cmd]}"
    if cmd in COVERED:
        return f"covered by {COVERED[cmd]}"
    needs = RUN[cmd][0] if cmd in RUN else None
    if needs == "gcc" and GCC is None:
        return NO_GCC
    if needs == "trace-cmd" and TRACE_CMD is None:
        return NO_TRACE_CMD
    return None


@pytest.mark.parametrize("block,cmd", readme_commands(), ids=[f"{b}:{c[:60]}" for b, c in readme_commands()])
def test_readme_command(ws, block, cmd):
    if cmd not in RUN and cmd not in COVERED and cmd not in CI_RUNS:
        pytest.fail(f"README command not accounted for: {cmd}")
    reason = _skip_reason(cmd)
    if reason:
        pytest.skip(reason)
    # the commands before it in its block, as a reader runs them (their own checks are their own tests)
    for b, prev in readme_commands():
        if b == block and prev == cmd:
            break
        if b == block and prev in RUN and _skip_reason(prev) is None:
            ws.run(b, prev)
    r = ws.run(block, cmd)
    assert "Traceback" not in r.stderr, r.stderr
    RUN[cmd][1](r, ws.dir(block))


# ------------------------------------------------------------------------------------------ Python examples

def run_python(code, cwd, timeout=120):
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory):
    """A directory with the prog.elf the examples load: built from the README's C program as the README says,
    or the bundled hello_smp.elf when arm-none-eabi-gcc is missing.  Returns (dir, built from the README?)."""
    d = tmp_path_factory.mktemp("pyexample")
    if GCC is None:
        shutil.copy(os.path.join(CPU_DIR, "guest", "smp", "bin", "hello_smp.elf"), d / "prog.elf")
        return d, False
    (d / "prog.c").write_text(readme_blocks("c")[0])
    r = subprocess.run(f'{GCC} $("{sys.executable}" -m cpu cflags) -O2 prog.c $("{sys.executable}" -m cpu ldflags) '
                       f"-o prog.elf", shell=True, cwd=d, env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return d, True


def check_cpu_example(r, from_readme):
    assert re.search(r"^0 \[\{'core': 0, 'instructions': \d+", r.stdout, re.M)     # exit code, then m.stats()


def check_ftrace_example(r, from_readme):
    assert r.stdout.startswith("['main', 'fib', 'swap_ints', 'sort_small', 'hash_str']\n")
    assert "# tracer: function_graph" in r.stdout
    assert re.search(r"\|  +fib\(\) \{$", r.stdout, re.M) and re.search(r"hash_str\(\);$", r.stdout, re.M)


# a line that identifies a known example -> the check of its output (every example runs and must exit 0)
PYTHON_CHECKS = {
    'm.load_elf(prog, argv=["hello_smp"])': check_cpu_example,
    "ft = ftrace.Ftrace(m)": check_ftrace_example,
}


@pytest.mark.parametrize("index", range(len(readme_blocks("python"))))
def test_python_example(example_dir, index):
    d, from_readme = example_dir
    code = readme_blocks("python")[index]
    try:
        r = run_python(code, d, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"README Python example {index} did not finish in 120 s:\n{code}")
    assert r.returncode == 0, f"README Python example {index} failed:\n{code}\n{r.stderr}"
    checks = [check for marker, check in PYTHON_CHECKS.items() if marker in code]
    for check in checks:
        check(r, from_readme)


def test_known_python_examples_are_still_there():
    blocks = readme_blocks("python")
    assert blocks, "no ```python block in README.md"
    for marker in PYTHON_CHECKS:
        assert sum(marker in b for b in blocks) == 1, f"README.md no longer has the example with {marker!r}"
