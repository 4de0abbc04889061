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
