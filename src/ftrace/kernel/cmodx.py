"""Arch knowledge of which Thumb encodings may be swapped live: the concurrent-modification (CMODX) lists.

A core that fetches an instruction another core is modifying gets old or new only when both are on the
configured list; for any other pair the architecture leaves the result UNPREDICTABLE (any behaviour an
instruction sequence at the same privilege could have), so a run whose fetch could have returned such a pair
relies on UNPREDICTABLE: neither a pass nor an observed crash.

Two lists (the reference: /work/shared/reference/relaxed-machine.md §3, peers.md §2.2):

  v7    ARMv7-A/R ARM A3.5.4 (quoted second-hand): Thumb "the 16-bit encodings of B, NOP, BKPT and SVC".
  maa   Arm ARM DDI0487 M.a.a E2.2.5, AArch32 T32: 16-bit B, BKPT, BLX, BX, NOP, SVC, plus the halfword rules for
        32-bit BL, BLX and B (allows() below, one line per rule).

An instruction is abstracted as (size in bytes, kind), as UpdateMethod.site_writes names them; classify() maps
an encoding (a tuple of halfwords) to that pair.
"""

# the 16-bit kinds each list names
V7_16 = frozenset(("b", "nop", "bkpt", "svc"))                  # ARMv7-A/R A3.5.4: Thumb, 16-bit encodings
MAA_16 = frozenset(("b", "bkpt", "blx", "bx", "nop", "svc"))    # M.a.a E2.2.5: T32 16-bit list (not ISB)
MAA_HW1_16 = frozenset(("b", "bx", "blx", "bkpt", "svc"))       # M.a.a E2.2.5: what hw1 of BL/BLX may swap with
MAA_HW1_32 = frozenset(("bl", "blx"))                           # M.a.a E2.2.5: hw1 of BL -> another BL, BLX alike
MAA_HW2_32 = frozenset(("bl", "blx", "b"))                      # M.a.a E2.2.5: hw2 of BL, BLX, 32-bit B, same kind

CMODX = ("v7", "maa")
SOURCES = {"v7": "ARMv7-A/R ARM A3.5.4 (Thumb: 16-bit B, NOP, BKPT, SVC)",
           "maa": "Arm ARM DDI0487 M.a.a E2.2.5 (AArch32 T32 list and the BL/BLX/B halfword rules)"}


def is32(hw):
    """Whether a halfword is the first of a 32-bit Thumb instruction (0b11101, 0b11110, 0b11111)."""
    return hw >> 11 in (0x1D, 0x1E, 0x1F)


def classify(enc):
    """(size, kind) of an encoding given as a tuple of halfwords (one for 16-bit, two for 32-bit)."""
    hw = enc[0]
    if not is32(hw):
        if hw == 0xBF00:
            return 2, "nop"
        if hw & 0xFF00 == 0xBE00:
            return 2, "bkpt"
        if hw & 0xFF00 == 0xDF00:
            return 2, "svc"
        if hw & 0xFF00 == 0xDE00:
            return 2, "udf"             # on no list: the trap ARM Linux's kprobes use (ftrace --trap udf)
        if hw & 0xF800 == 0xE000 or (hw & 0xF000 == 0xD000 and (hw >> 8) & 0xF < 0xE):
            return 2, "b"               # T2, or T1 (B<c>: condition 1110 is UDF, 1111 SVC)
        if hw & 0xFF87 == 0x4700:
            return 2, "bx"
        if hw & 0xFF87 == 0x4780:
            return 2, "blx"
        if hw & 0xFE00 == 0xB400:
            return 2, "push"
        return 2, "other"
    hw2 = enc[1] if len(enc) > 1 else 0
    if hw & 0xF800 == 0xF000 and hw2 & 0x8000:
        if hw2 & 0xD000 == 0xD000:
            return 4, "bl"
        if hw2 & 0xD000 == 0xC000:
            return 4, "blx"
        if hw2 & 0xD000 == 0x9000 or (hw2 & 0xD000 == 0x8000 and (hw >> 6) & 0xE != 0xE):
            return 4, "b"               # T4, or T3 (B<c>.W: condition 111x is MSR, hints, ...)
        if hw == 0xF3AF and hw2 == 0x8000:
            return 4, "nop"
    if hw & 0xFFF0 == 0xF850:
        return 4, "ldr"                 # pop.w {lr} = ldr.w lr, [sp], #4: Linux's v3.6 Thumb-2 mcount nop
    return 4, "other"


def check(cmodx):
    """ValueError naming the lists unless `cmodx` is one."""
    if cmodx not in CMODX:
        raise ValueError(f"unknown CMODX list {cmodx!r}; lists: {', '.join(CMODX)}")


def allows(cmodx, old, new, halves=(0, 1)):
    """Whether list `cmodx` lets another core fetch while an instruction (size, kind) `old` becomes `new` (and
    back), `halves` being the halfword positions that differ (32-bit pairs; a kind-level question: both)."""
    (sa, ka), (sb, kb) = old, new
    if cmodx == "v7":
        return sa == sb == 2 and ka in V7_16 and kb in V7_16
    check(cmodx)
    if sa == sb == 2:
        return ka in MAA_16 and kb in MAA_16
    if sa != sb:                        # hw1 of a 32-bit instruction <-> a 16-bit one
        k32, k16 = (ka, kb) if sa == 4 else (kb, ka)
        return k32 in MAA_HW1_32 and k16 in MAA_HW1_16
    # both 32-bit; "anything else needs synchronisation" (M.a.a E2.2.5).  A conditional B's condition and target
    # changed together may mix old and new: the explorer's mixed check sees that, it is not UNPREDICTABLE.
    return ((0 not in halves or ka == kb and ka in MAA_HW1_32)
            and (1 not in halves or ka == kb and ka in MAA_HW2_32))


def permitted(cmodx, a, b):
    """Whether two encodings (tuples of halfwords) a fetch could have returned may be swapped live under list
    `cmodx` (equal encodings always)."""
    if tuple(a) == tuple(b):
        return True
    ka, kb = classify(a), classify(b)
    halves = tuple(i for i in (0, 1) if (a[i] if i < len(a) else None) != (b[i] if i < len(b) else None))
    return allows(cmodx, ka, kb, halves)


def forbidden_pair(cmodx, candidates):
    """The first pair of candidate encodings list `cmodx` does not cover, or None (fewer than two candidates, or
    every pair covered)."""
    cands = list(dict.fromkeys(tuple(c) for c in candidates))
    for i, a in enumerate(cands):
        for b in cands[i + 1:]:
            if not permitted(cmodx, a, b):
                return a, b
    return None
