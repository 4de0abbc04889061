"""Extension modules only; everything else is in pyproject.toml."""
from Cython.Build import cythonize
from setuptools import Extension, setup

CFLAGS = ["-O3", "-fno-strict-aliasing", "-Wno-unused-function"]


def ext(name):
    return Extension(name, [f"src/{name.replace('.', '/')}.pyx"], extra_compile_args=CFLAGS)


setup(
    ext_modules=cythonize(
        [ext("cpu.decode"), ext("cpu.core")],
        compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False,
                             "cdivision": True, "initializedcheck": False},
    ),
)
