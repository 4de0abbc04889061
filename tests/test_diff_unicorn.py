"""Differential test: our interpreter against Unicorn 2.1.4 (Cortex-M3) on random valid Thumb-2 encodings.

Each case (tests/thumbgen.py) is run on Unicorn and on a cpu.Machine from the same registers, flags and memory
image; r0-r15, N Z C V Q, ITSTATE (must be 0 afterwards) and both memory windows must agree.  A failure prints one
line per case: class, halfwords, capstone text, the differing fields and a `Case(...)` reproducer, which
THUMB_REPRO='Case(...)' pytest tests/test_diff_unicorn.py -k replay runs again.

Where Unicorn deviates from the ARMv7-M architecture (EXCLUSIONS below), the case is either not generated or
judged against the architecture alone:
- Unicorn does not fault on unaligned LDRD/STRD/LDM/STM, and an unaligned STREX with the monitor clear just
  fails; v7-M takes an alignment UsageFault for all of them and for unaligned LDREX{H} (Unicorn faults on those).
  Such cases carry fault="AlignmentFault": our Machine must raise AlignmentFault, Unicorn is not consulted.
- emu_start(count=1) on an IT runs the IT and its whole block, so IT blocks are compared only as a whole (our
  Machine is stepped until ITSTATE is 0).  Count-based stopping is unreliable after an IT block: Unicorn ran on
  past the block, and after a taken branch ending a block it ran on at the target, sometimes treating the first
  target instructions as still inside the block.  The oracle passes until=<end of the code> and snapshots the
  state on entry to the first translation block outside the case's code (tests/reference/unicorn_step.py).
- UC_HOOK_CODE is not called for IT-skipped instructions, so per-instruction hooks cannot follow an IT block.
- An ISB inside an IT block ends Unicorn's translation block and it stops in mid-block: not generated.
"""
import ast
import os

import pytest

import thumbgen as tg
from reference.unicorn_step import UnicornStepper

EXCLUSIONS = {
    "unaligned LDRD/STRD/LDM/STM": "Unicorn performs the access; v7-M always faults (UsageFault UNALIGNED). "
                                   "Checked as Machine -> AlignmentFault without Unicorn.",
    "unaligned LDREX/LDREXH/STREX/STREXH": "Unicorn faults on LDREX, but a STREX with the monitor clear just "
                                           "returns 1; ExclusiveMonitorsPass checks alignment first. Checked as "
                                           "Machine -> AlignmentFault without Unicorn.",
    "stepping inside an IT block": "Unicorn runs IT + body as one step; compared per whole block.",
    "ISB inside an IT block": "Unicorn stops after it in mid-block (it ends the translation block): not generated; "
                              "ISB outside IT blocks is compared.",
    "YIELD, WFE": "Unicorn stops with UC_ERR_INSN_INVALID (QEMU's EXCP_YIELD is not handled): not generated "
                  "(YIELD is checked as a NOP in test_isa_misc.py).",
    "WFI": "sleeps until an interrupt: machine policy, not comparable with Unicorn's halt; not generated.",
    "BKPT, SVC, UDF": "go to the Machine's handler chains (unhandled -> GuestFault): not generated.",
    "lone STREX": "its result depends on the exclusive monitor left by the previous case: STREX is always "
                  "preceded by LDREX or CLREX in the same case.",
    "SP writes with bits[1:0] != 0": "UNPREDICTABLE; the generator keeps SP word-aligned.",
}

W = [(tg.CODE_BASE, tg.CODE_SIZE), (tg.DATA_BASE, tg.DATA_SIZE)]
# cases per (class, seed): IT blocks mix everything, so they get more
N_DEFAULT = {cls: 3000 if cls == "it" else 1200 for cls in tg.CLASSES}
SEEDS = [1, 2]
SLOW_SEEDS = list(range(100, 120))


@pytest.fixture(scope="module")
def oracle():
    return UnicornStepper(tg.MEM_SIZE, W)


class MachineRunner:
    def __init__(self, cpu):
        self.cpu = cpu
        self.m = cpu.Machine(cores=1, mem_size=tg.MEM_SIZE, icache=True)
        self.c = self.m.cores[0]
        self.image, self.seed, self.dirty = None, None, []

    def load(self, seed):
        if seed != self.seed:
            self.image = tg.window_bytes(seed)
            for (base, size), data in zip(W, self.image):
                self.m.write(base, data)
            self.m.flush_icache_range(tg.CODE_BASE, tg.CODE_BASE + tg.CODE_SIZE)
            self.seed, self.dirty = seed, []

    def restore(self):
        for (base, size), data in zip(W, self.image):
            for a, n in self.dirty:
                if base <= a < base + size:
                    lo, hi = a - base, min(a - base + n, size)
                    self.m.write(a, data[lo:hi])
        self.dirty = []

    def run(self, case, extra_dirty=()):
        """Run the case; returns (regs, apsr, itstate, windows) or raises the GuestFault."""
        self.load(case.data_seed)
        self.restore()
        code = tg.code_bytes(case.hw)
        self.dirty = [(a, len(b)) for a, b in case.mem] + [(case.addr, len(code))] + list(extra_dirty)
        for a, b in case.mem:
            self.m.write(a, b)
        self.m.write(case.addr, code)
        self.m.flush_icache_range(case.addr, case.addr + len(code))
        c = self.c
        for i, v in enumerate(case.regs):
            c.set_reg(i, v)
        c.set_reg(15, case.addr)
        c.apsr = case.apsr
        c.itstate = 0
        for _ in range(case.steps):
            c.step(1)
            for _ in range(4):
                if not c.itstate:
                    break
                c.step(1)
        return (tuple(c.get_reg(i) for i in range(16)), c.apsr, c.itstate,
                [self.m.read(base, size) for base, size in W])


@pytest.fixture(scope="module")
def machine(cpu):
    return MachineRunner(cpu)


REG_NAMES = [f"r{i}" for i in range(13)] + ["sp", "lr", "pc"]


def mem_diffs(ours, theirs):
    out = []
    for (base, _), a, b in zip(W, ours, theirs):
        if a == b:
            continue
        i = 0
        while i < len(a) and len(out) < 4:
            if a[i] != b[i]:
                j = i
                while j < len(a) and a[j] != b[j] and j - i < 8:
                    j += 1
                out.append(f"mem[0x{base + i:x}] uc={b[i:j].hex()} ours={a[i:j].hex()}")
                i = j
            else:
                i += 1
    return out


def describe(case, diffs):
    return "%s hw=%s asm='%s' | %s | repro=%s" % (
        case.cls, " ".join("%04x" % h for h in case.hw), tg.disasm(case.hw, case.addr), "; ".join(diffs),
        case.repro())


def check_case(case, oracle, machine):
    """Returns None if the Machine agrees, else the one-line description."""
    cpu = machine.cpu
    if case.fault:
        try:
            machine.run(case)
        except getattr(cpu, case.fault):
            return None
        except cpu.GuestFault as e:
            return describe(case, [f"expected {case.fault}, raised {type(e).__name__}: {e}"])
        finally:
            machine.dirty += W
        return describe(case, [f"expected {case.fault}, nothing raised"])
    r = oracle.run(case.addr, tg.code_bytes(case.hw), case.regs, case.apsr, case.mem, case.steps)
    if r.error:
        return describe(case, [f"oracle error (generator bug): {r.error}"])
    try:
        regs, apsr, it, windows = machine.run(case, [(a, n) for a, n, _ in r.writes])
    except cpu.GuestFault as e:
        machine.dirty += W
        return describe(case, [f"raised {type(e).__name__}: {e}"])
    diffs = [f"{REG_NAMES[i]} uc=0x{r.regs[i]:x} ours=0x{regs[i]:x}" for i in range(16) if r.regs[i] != regs[i]]
    if apsr != r.apsr:
        diffs.append("NZCVQ uc=%s ours=%s" % (format(r.apsr >> 27, "05b"), format(apsr >> 27, "05b")))
    if it:
        diffs.append(f"itstate=0x{it:02x} after the block")
    if windows != r.windows:
        diffs += mem_diffs(windows, r.windows)
        machine.dirty += [(base, size) for base, size in W]
    return describe(case, diffs) if diffs else None


def run_batch(cls, seed, n, oracle, machine):
    oracle.load_image(tg.window_bytes(seed))
    fails = [f for f in (check_case(c, oracle, machine) for c in tg.gen_cases(cls, seed, n)) if f]
    if fails:
        pytest.fail(f"{len(fails)}/{n} cases differ:\n" + "\n".join(fails[:25]), pytrace=False)


@pytest.mark.parametrize("cls,seed,n", [(cls, seed, N_DEFAULT[cls]) for cls in tg.CLASSES for seed in SEEDS])
def test_diff(cls, seed, n, oracle, machine):
    run_batch(cls, seed, n, oracle, machine)


@pytest.mark.slow
@pytest.mark.parametrize("cls,seed,n", [(cls, seed, N_DEFAULT[cls]) for cls in tg.CLASSES for seed in SLOW_SEEDS])
def test_diff_slow(cls, seed, n, oracle, machine):
    run_batch(cls, seed, n, oracle, machine)


@pytest.mark.parametrize("cls", tg.CLASSES)
def test_generator_sanity(cls, oracle):
    """Without our Machine: capstone decodes every case, Unicorn runs it cleanly, stores stay in the data window."""
    oracle.load_image(tg.window_bytes(0))
    for case in tg.gen_cases(cls, 0, 100):
        d = tg.disasm(case.hw, case.addr)
        assert "undecodable" not in d, case.repro()
        if case.fault:
            continue
        r = oracle.run(case.addr, tg.code_bytes(case.hw), case.regs, case.apsr, case.mem, case.steps)
        assert r.error is None, (d, r.error, case.repro())
        for a, n, _ in r.writes:
            assert tg.DATA_BASE <= a and a + n <= tg.DATA_BASE + tg.DATA_SIZE, (d, hex(a), case.repro())


@pytest.mark.skipif("THUMB_REPRO" not in os.environ, reason="set THUMB_REPRO='Case(...)' to replay one case")
def test_replay(oracle, machine):
    call = ast.parse(os.environ["THUMB_REPRO"], mode="eval").body
    kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    kw["mem"] = tuple((int(a, 16), bytes.fromhex(b)) for a, b in kw["mem"])
    case = tg.Case(**kw)
    oracle.load_image(tg.window_bytes(case.data_seed))
    fail = check_case(case, oracle, machine)
    assert fail is None, fail
