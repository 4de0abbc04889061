"""Loads and stores: every addressing form, sign extension, unaligned LDR/STR, LDRD/STRD, LDM/STM order,
PUSH/POP, LDREX/STREX, and the faults (alignment, memory) with what their message must name.

Expected values worked out by hand from the ARMv7-M ARM; encodings from arm-none-eabi-as.
"""
import pytest

D = 0x8000
DATA = bytes([0x11, 0x22, 0x33, 0x44, 0x85, 0x96, 0xA7, 0xB8, 0xC9, 0xDA, 0xEB, 0xFC, 0x0D, 0x1E, 0x2F, 0x30] * 4)
W0, W4, W8, W12 = 0x44332211, 0xB8A79685, 0xFCEBDAC9, 0x302F1E0D      # words at D, D+4, D+8, D+12
MEM = {D: DATA}

LOADS = [
    ("ldr r0, [r1, #4]", [0x6848], {1: D}, {0: W4}),
    ("ldrb r0, [r1, #1]", [0x7848], {1: D}, {0: 0x22}),
    ("ldrh r0, [r1, #2]", [0x8848], {1: D}, {0: 0x4433}),
    ("ldrsb r0, [r1, r2]", [0x5688], {1: D, 2: 4}, {0: 0xFFFFFF85}),
    ("ldrsb r0, [r1, r2] (negative index)", [0x5688], {1: D + 8, 2: 0xFFFFFFFC}, {0: 0xFFFFFF85}),
    ("ldrsh r0, [r1, r2]", [0x5E88], {1: D, 2: 6}, {0: 0xFFFFB8A7}),
    ("ldrsh r0, [r1, r2]", [0x5E88], {1: D, 2: 12}, {0: 0x1E0D}),
    ("ldr.w r0, [r1, #-4]!", [0xF851, 0x0D04], {1: D + 8}, {0: W4, 1: D + 4}),
    ("ldr.w r0, [r1], #4", [0xF851, 0x0B04], {1: D}, {0: W0, 1: D + 4}),
    ("ldr.w r0, [r1, #-8]", [0xF851, 0x0C08], {1: D + 16}, {0: W8, 1: D + 16}),
    ("ldr.w r0, [r1, #0xfff]", [0xF8D1, 0x0FFF], {1: D + 4 - 0xFFF}, {0: W4}),
    ("ldr.w r0, [r1, r2, lsl #2]", [0xF851, 0x0022], {1: D, 2: 2}, {0: W8}),
    ("ldr.w r0, [r1, r2, lsl #2] (negative index)", [0xF851, 0x0022], {1: D + 8, 2: 0xFFFFFFFF}, {0: W4}),
    ("ldrsh.w r0, [r1, #-2]", [0xF931, 0x0C02], {1: D + 8}, {0: 0xFFFFB8A7}),
    # unaligned LDR/LDRH are allowed on v7-M (CCR.UNALIGN_TRP clear)
    ("ldr r0, [r1] (unaligned)", [0x6808], {1: D + 1}, {0: 0x85443322}),
    ("ldrh r0, [r1, #2] (unaligned)", [0x8848], {1: D + 1}, {0: 0x8544}),
    ("ldrd r2, r3, [r0, #8]", [0xE9D0, 0x2302], {0: D}, {2: W8, 3: W12}),
    ("ldrd r2, r3, [r0, #8] (word aligned only)", [0xE9D0, 0x2302], {0: D + 4}, {2: W12, 3: W0}),
    ("ldrd r2, r3, [r0], #16", [0xE8F0, 0x2304], {0: D}, {0: D + 16, 2: W0, 3: W4}),
    # LDM: lowest register from the lowest address; Rn in the list of the 16-bit form means no writeback
    ("ldmdb r0!, {r1, r2, r3}", [0xE930, 0x000E], {0: D + 12}, {0: D, 1: W0, 2: W4, 3: W8}),
    ("ldmia.w r0, {r1, r2, r3}", [0xE890, 0x000E], {0: D}, {0: D, 1: W0, 2: W4, 3: W8}),
    ("ldm r0!, {r1, r2}", [0xC806], {0: D}, {0: D + 8, 1: W0, 2: W4}),
    ("ldm r0, {r0, r1}", [0xC803], {0: D}, {0: W0, 1: W4}),
]


@pytest.mark.parametrize("asm,hw,regs,want", LOADS, ids=[f"{c[0]}-{i}" for i, c in enumerate(LOADS)])
def test_load(run, asm, hw, regs, want):
    _, c = run(hw, regs=regs, mem=MEM)
    assert {n: c.get_reg(n) for n in want} == want, asm


# PC-relative literal loads use Align(PC, 4)
@pytest.mark.parametrize("addr", [0x1000, 0x1002])
def test_ldr_literal_16(run, addr):
    _, c = run([0x4801], mem={0x1008: (0xDEADBEEF).to_bytes(4, "little")}, addr=addr)
    assert c.get_reg(0) == 0xDEADBEEF


def test_ldr_literal_negative(run):
    _, c = run([0xF85F, 0x0008], mem={0xFFC: (0x01020304).to_bytes(4, "little")})
    assert c.get_reg(0) == 0x01020304


def test_ldrd_literal_reads_itself(run):
    # ldrd r2, r3, [pc, #-4] at 0x1000 reads the words at 0x1000 (the instruction) and 0x1004
    _, c = run([0xE95F, 0x2301], mem={0x1004: (0x12345678).to_bytes(4, "little")})
    assert (c.get_reg(2), c.get_reg(3)) == (0x2301E95F, 0x12345678)


R0 = 0x12345678
STORES = [
    # (asm, hw, registers, registers expected, (addr, bytes expected))
    ("strb r0, [r1, #3]", [0x70C8], {0: R0, 1: D}, {}, (D, "11223378")),
    ("strh r0, [r1, #2]", [0x8048], {0: R0, 1: D}, {}, (D, "11227856")),
    ("str r0, [sp, #8]", [0x9002], {0: R0, 13: D}, {}, (D + 8, "78563412")),
    ("str.w r0, [r1, #-4]!", [0xF841, 0x0D04], {0: R0, 1: D + 8}, {1: D + 4}, (D + 4, "78563412")),
    ("strb.w r0, [r1], #-1", [0xF801, 0x0901], {0: R0, 1: D + 4}, {1: D + 3}, (D + 3, "447896")),
    ("str r0, [r1] (unaligned)", [0x6008], {0: R0, 1: D + 1}, {}, (D, "117856341296")),
    ("strd r2, r3, [r0, #-8]!", [0xE960, 0x2302], {0: D + 16, 2: 0xA1A2A3A4, 3: 0xB1B2B3B4}, {0: D + 8},
     (D + 8, "a4a3a2a1b4b3b2b1")),
    ("stmia r0!, {r1, r2, r3}", [0xC00E], {0: D, 1: 0xA1, 2: 0xA2, 3: 0xA3}, {0: D + 12},
     (D, "a1000000a2000000a3000000")),
    ("stmdb r0!, {r1, r2, r3}", [0xE920, 0x000E], {0: D + 12, 1: 0xA1, 2: 0xA2, 3: 0xA3}, {0: D},
     (D, "a1000000a2000000a3000000")),
    ("stm r0!, {r0, r1} (Rn lowest: stores the original Rn)", [0xC003], {0: D, 1: 0xA1}, {0: D + 8},
     (D, "00800000a1000000")),
    ("push {r4, lr}", [0xB510], {4: 0x44, 13: D + 16, 14: 0x1235}, {13: D + 8}, (D + 8, "4400000035120000")),
]


@pytest.mark.parametrize("asm,hw,regs,want,mem", STORES, ids=[f"{c[0]}-{i}" for i, c in enumerate(STORES)])
def test_store(run, asm, hw, regs, want, mem):
    m, c = run(hw, regs=regs, mem=MEM)
    assert {n: c.get_reg(n) for n in want} == want, asm
    addr, hexbytes = mem
    assert m.read(addr, len(hexbytes) // 2).hex() == hexbytes, asm


def test_pop_pc_interworking(run):
    # pop {r4, pc} with an odd return address: pc = address & ~1
    mem = {D: (0x44).to_bytes(4, "little") + (0x2001).to_bytes(4, "little")}
    _, c = run([0xBD10], regs={13: D}, mem=mem)
    assert (c.get_reg(4), c.get_reg(13), c.get_reg(15)) == (0x44, D + 8, 0x2000)


LDREX, STREX, CLREX = [0xE850, 0x1F00], [0xE840, 0x3200], [0xF3BF, 0x8F2F]


@pytest.mark.parametrize("name,hw,steps,loaded,status,stored", [
    ("ldrex; strex", LDREX + STREX, 2, W0, 0, "0df0feca"),
    ("strex alone (monitor open since reset)", STREX, 1, None, 1, "11223344"),
    ("ldrex; clrex; strex", LDREX + CLREX + STREX, 3, W0, 1, "11223344"),
    ("ldrexb; strexb", [0xE8D0, 0x1F4F, 0xE8C0, 0x3F42], 2, 0x11, 0, "0d223344"),
    ("ldrexh; strexh", [0xE8D0, 0x1F5F, 0xE8C0, 0x3F52], 2, 0x2211, 0, "0df03344"),
])
def test_exclusive(run, name, hw, steps, loaded, status, stored):
    m, c = run(hw, regs={0: D, 1: 0x55, 2: 0x77, 3: 0xCAFEF00D}, mem=MEM, steps=steps)
    if loaded is not None:
        assert c.get_reg(1) == loaded, name
    assert c.get_reg(2) == status, name
    assert m.read(D, 4).hex() == stored, name


def test_ldrex_offset(run):
    _, c = run([0xE850, 0x1F02], regs={0: D}, mem=MEM)      # ldrex r1, [r0, #8]
    assert c.get_reg(1) == W8


def fault_of(run, cpu, hw, regs, steps=1, **kw):
    with pytest.raises(cpu.GuestFault) as e:
        run(hw, regs=regs, mem=MEM, steps=steps, **kw)
    return e.value


def check_message(e, pc, insn, addr):
    """The message and attributes name the core, the pc, the instruction and the address."""
    text = str(e)
    assert "core 0" in text and f"pc=0x{pc:08x}" in text and f"insn={insn}" in text and f"addr=0x{addr:08x}" in text, \
        text
    assert (e.core, e.pc, e.addr) == (0, pc, addr)


@pytest.mark.parametrize("asm,hw,regs,addr,steps", [
    ("ldrd r2, r3, [r0, #8]", [0xE9D0, 0x2302], {0: D + 2}, D + 10, 1),
    ("ldrd r2, r3, [r0], #16", [0xE8F0, 0x2304], {0: D + 1}, D + 1, 1),
    ("strd r2, r3, [r0, #-8]!", [0xE960, 0x2302], {0: D + 6}, D - 2, 1),
    ("ldm r0!, {r1, r2}", [0xC806], {0: D + 1}, D + 1, 1),
    ("stmia r0!, {r1, r2, r3}", [0xC00E], {0: D + 2}, D + 2, 1),
    ("ldmdb r0!, {r1, r2, r3}", [0xE930, 0x000E], {0: D + 14}, D + 2, 1),
    ("ldrex r1, [r0]", LDREX, {0: D + 2}, D + 2, 1),
    ("ldrexh r1, [r0]", [0xE8D0, 0x1F5F], {0: D + 1}, D + 1, 1),
    ("strex r2, r3, [r0] (monitor clear: still an alignment fault)", STREX, {0: D + 2}, D + 2, 1),
])
def test_alignment_fault(run, cpu, asm, hw, regs, addr, steps):
    e = fault_of(run, cpu, hw, regs, steps)
    assert isinstance(e, cpu.AlignmentFault), f"{asm}: {type(e).__name__}: {e}"
    check_message(e, 0x1000, " ".join(f"{h:04x}" for h in hw), addr)


def test_ldrexb_any_alignment(run):
    _, c = run([0xE8D0, 0x1F4F], regs={0: D + 3}, mem=MEM)
    assert c.get_reg(1) == 0x44


@pytest.mark.parametrize("asm,hw,regs,addr", [
    ("ldr r0, [r1]", [0x6808], {1: 1 << 20}, 1 << 20),
    ("ldr r0, [r1] (straddles the end)", [0x6808], {1: (1 << 20) - 2}, (1 << 20) - 2),
    ("str r0, [r1]", [0x6008], {1: (1 << 20) + 0x100}, (1 << 20) + 0x100),
    ("ldr.w r0, [r1, #0xfff]", [0xF8D1, 0x0FFF], {1: (1 << 20) - 0xFFF}, 1 << 20),
])
def test_memory_fault(run, cpu, asm, hw, regs, addr):
    e = fault_of(run, cpu, hw, regs)
    assert isinstance(e, cpu.MemoryFault), f"{asm}: {type(e).__name__}: {e}"
    check_message(e, 0x1000, " ".join(f"{h:04x}" for h in hw), addr)
