"""The committed guest ELFs in src/cpu/guest/bin must match a fresh build of src/cpu/guest/corpus."""
import shutil
import subprocess
from pathlib import Path

import pytest

GUEST = Path(__file__).resolve().parents[1] / "src" / "cpu" / "guest"
OPTS = ("O0", "O2", "Os")


def test_every_program_has_all_builds():
    names = sorted(p.stem for p in (GUEST / "corpus").glob("*.c"))
    assert names
    want = {f"{n}-{o}{pg}.elf" for n in names for o in OPTS for pg in ("", "-pg")}
    have = {p.name for p in (GUEST / "bin").glob("*.elf")}
    assert want <= have, f"missing from bin/ (run make -C src/cpu/guest): {sorted(want - have)}"


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("make") is None,
                    reason="arm-none-eabi-gcc or make not on PATH (apt-get install gcc-arm-none-eabi "
                           "libnewlib-arm-none-eabi); CI installs them")
def test_committed_elfs_reproduce(tmp_path):
    # A copy at another path also proves that the bytes do not depend on where the tree lives.
    copy = tmp_path / "elsewhere" / "guest"
    shutil.copytree(GUEST, copy, ignore=shutil.ignore_patterns("build"))
    r = subprocess.run(["make", "-C", str(copy), "-j2", "check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "reproduce byte-for-byte" in r.stdout
