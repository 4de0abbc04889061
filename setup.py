"""Extension modules only; everything else is in pyproject.toml."""
import importlib.util
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

# The decode tables generate part of the decoder; load isa.py alone (the package needs the extensions).
_spec = importlib.util.spec_from_file_location("isa", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                   "src", "cpu", "isa.py"))
isa = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(isa)

CFLAGS = ["-O3", "-fno-strict-aliasing", "-Wno-unused-function", "-Wno-unreachable-code"]


def generate_decoder():
    """Write the generated sources (build outputs, not in git) when they changed; a bad table fails the build."""
    try:
        files = isa.generate()
    except ValueError as e:
        raise SystemExit(f"src/cpu/isa.py: {e}")
    for name, text in files.items():
        path = os.path.join("src", "cpu", name)
        if not os.path.exists(path) or open(path).read() != text:
            with open(path, "w") as f:
                f.write(text)


def pyx(name):
    """src/a/b/c.pyx of the extension a.b.c."""
    return f"src/{name.replace('.', '/')}.pyx"


def ext(name):
    # its own directory for the C headers its .pxd files include (ftrace/kernel/trace_event.h)
    return Extension(name, [pyx(name)], extra_compile_args=CFLAGS, include_dirs=[os.path.dirname(pyx(name))])


EXTENSIONS = ["cpu.decode", "cpu.icache", "cpu.codelog", "cpu.core", "cpu.scheduler",
              "ftrace.kernel.ring_buffer", "ftrace.kernel.tracers"]


generate_decoder()
setup(
    ext_modules=cythonize(
        [ext(name) for name in EXTENSIONS if os.path.exists(pyx(name))],
        compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False,
                             "cdivision": True, "initializedcheck": False},
    ),
)
