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
    code, ops = isa.generate()
    pxd = open("src/cpu/decode.pxd").read()
    missing = [op for op in ops if f"OP_{op}," not in pxd and not pxd.rstrip().endswith(f"OP_{op}")]
    if missing:
        raise SystemExit(f"decode.pxd lacks ops used by isa.py: {missing}")
    path = "src/cpu/decode_table.pxi"
    if not os.path.exists(path) or open(path).read() != code:
        with open(path, "w") as f:
            f.write(code)


def ext(name):
    pkg = name.split(".")[0]
    return Extension(name, [f"src/{name.replace('.', '/')}.pyx"], extra_compile_args=CFLAGS,
                     include_dirs=[f"src/{pkg}"])


EXTENSIONS = ["cpu.decode", "cpu.icache", "cpu.codelog", "cpu.core", "cpu.scheduler", "ftrace.ring_buffer", "ftrace.tracers"]


generate_decoder()
setup(
    ext_modules=cythonize(
        [ext(name) for name in EXTENSIONS if os.path.exists(f"src/{name.replace('.', '/')}.pyx")],
        compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False,
                             "cdivision": True, "initializedcheck": False},
    ),
)
