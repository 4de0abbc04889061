"""Update methods as objects: the registry, adding a method by one class, and no method named in the sources."""
import io
import os
import re

import pytest

import cpu
import ftrace
from ftrace import explore
from ftrace.explore.campaign import labels_for
from ftrace.kernel.methods import METHODS, Direct, UpdateMethod, register

PACKAGES = [os.path.dirname(os.path.abspath(pkg.__file__)) for pkg in (cpu, ftrace)]
SRC = os.path.dirname(PACKAGES[1])
NAMES = "breakpoint|stop_machine|branch_over|direct|unsynced"


def boot(method, drop=()):
    m = cpu.Machine(cores=4, seed=1, schedule="random", quantum=30)
    out = io.BytesIO()
    m.load_elf(ftrace.DEMO_PROGRAM, argv=["workload", "3"], stdout=out, stderr=out)
    return m, ftrace.Ftrace(m, method=method, drop=drop)


def test_registry():
    assert ftrace.METHODS is METHODS
    assert list(METHODS) == ["breakpoint", "stop_machine", "branch_over", "direct", "unsynced", "stop_machine_arm64"]
    assert all(issubclass(cls, UpdateMethod) and cls.name == name for name, cls in METHODS.items())
    assert {n: c.droppable for n, c in METHODS.items()} == {
        "breakpoint": ("sync1", "sync2", "sync3", "keep-armed", "pou-clean", "isb"),
        "stop_machine": ("release-flush", "pou-clean", "isb"),
        "branch_over": ("sync1", "sync2", "quiesce", "pou-clean", "isb"), "direct": ("sync1", "pou-clean", "isb"),
        "unsynced": ("pou-clean", "isb"), "stop_machine_arm64": ("release-flush", "pou-clean", "isb")}
    m, ft = boot("branch_over", drop=("quiesce",))
    assert ft.method.name == "branch_over" and ft.method.drop == {"quiesce"}


def test_unknown_method_and_step_are_refused_clearly():
    with pytest.raises(ValueError, match="method must be one of breakpoint, stop_machine"):
        boot("nope")
    with pytest.raises(ValueError, match=r"direct has no step 'sync2' to drop; droppable: sync1, pou-clean, isb"):
        boot("direct", drop=("sync2",))
    with pytest.raises(ValueError, match=r"unsynced has no step 'sync1' to drop; droppable: pou-clean, isb"):
        explore.run_one("unsynced", 0, ("sync1",))


class Copy(Direct):
    """A method defined outside the package: Direct's protocol under another name."""
    name = "direct_copy"


def test_a_new_method_is_one_registered_class(monkeypatch):
    monkeypatch.setitem(METHODS, Copy.name, Copy)
    assert register(Copy) is Copy
    m, ft = boot("direct_copy")
    assert isinstance(ft.method, Copy)
    ft.current_tracer = "function"
    ft.run_for(20_000)
    ft.ftrace_disable()
    ft.ftrace_enable()
    assert [u["method"] for u in ft.update_log] == ["direct_copy"] * 3
    assert {ft.site_state(r) for r in ft.records} == {"call"}
    assert labels_for(["direct_copy"], "each") == [("direct_copy", ()), ("direct_copy", ("sync1",)),
                                                   ("direct_copy", ("pou-clean",)), ("direct_copy", ("isb",))]
    got, want = explore.run_one("direct_copy", 1).outcome(), explore.run_one("direct", 1).outcome()
    assert got.pop("method") == "direct_copy" and got.pop("label") == "direct_copy"
    want.pop("method"), want.pop("label")
    assert got == want and want["violations"]


def sources():
    """The source files of the two packages (wherever they are installed: not their neighbours in site-packages)."""
    for root, _, files in (w for pkg in PACKAGES for w in os.walk(pkg)):
        for f in files:
            if f.endswith((".py", ".pyx", ".pxd")):
                path = os.path.join(root, f)
                with open(path) as fh:
                    yield os.path.relpath(path, SRC), fh.read()


def test_no_source_compares_a_method_name():
    """The generic code calls the method object's hooks: no `== "direct"`, no `method in (...)` anywhere."""
    patterns = [re.compile(rf"""[=!]=\s*["']({NAMES})["']"""), re.compile(rf"""["']({NAMES})["']\s*[=!]="""),
                re.compile(r"method\w*\s+(not\s+)?in\s+[(\[{]"),
                re.compile(rf"""\bin\s+[(\[{{]\s*["']({NAMES})["']""")]
    found = [(path, line.strip()) for path, text in sources() for line in text.splitlines()
             if any(p.search(line) for p in patterns)]
    assert not found, found
