"""Interpreter cost of two builds side by side, in host instructions per guest instruction (callgrind counts
instructions, not seconds: the figure does not move with the load of a shared machine).

    python bench/versions.py OLD_SRC NEW_SRC      # each a src/ tree with its extensions built in place

For each program the set-up (a 1-iteration run) is subtracted, so the figure is the run alone.
"""
import os
import re
import subprocess
import sys
import tempfile

CASES = [("loop-O2", "1", "200000"), ("fib-O2-pg", "1", "18")]
RUN = """
import io, os, sys
import cpu
name, argv = sys.argv[1], sys.argv[2:]
m = cpu.Machine(cores=1)
m.load_elf(os.path.join(os.path.dirname(cpu.__file__), "guest", "bin", name + ".elf"), argv=[name] + argv,
           stdout=io.BytesIO(), stderr=io.BytesIO(), stdin=io.BytesIO())
m.run()
print(m.instructions)
"""


def measure(src, name, *argv):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        p = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c", RUN,
                            name, *argv], env=dict(os.environ, PYTHONPATH=src), capture_output=True, text=True,
                           check=True)
        total = int(re.search(r"Collected : (\d+)", p.stderr).group(1))
        return total, int(p.stdout.split()[-1])


def main(old, new):
    print(f"{'program':12} {'old host/guest':>15} {'new host/guest':>15} {'new/old':>8}")
    for name, small, big in CASES:
        per = []
        for src in (old, new):
            base, n0 = measure(src, name, small)
            total, n = measure(src, name, big)
            per.append((total - base) / (n - n0))
        print(f"{name:12} {per[0]:15.1f} {per[1]:15.1f} {per[1] / per[0]:8.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
