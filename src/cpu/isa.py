"""The ARMv7-M Thumb instruction encodings, one line per encoding, as the ARM ARM (DDI 0403E, A5/A7) lists them.

Each line is ``NAME  PAGE  pattern  [assignments]``:

* ``PAGE`` is the instruction's page in A7.7 (``ADD_register`` for "ADD (register)"): its op, and the function in
  insns.pxi that executes it.  Encodings of one page share it.
* ``pattern`` is 16 or 32 bits written left to right as tokens: ``0``/``1`` fixed bits, ``-`` don't care,
  ``field:N`` an N-bit field.  A field named twice is the concatenation of its pieces, in order
  (``i:1 ... imm3:3 ... imm8:8`` with the same name gives ``i:imm3:imm8``).  A ``|`` separates the two halfwords
  of a 32-bit encoding and is only for the reader.
* ``assignments`` set the decoded fields (``rd rn rm ra imm shift_t shift_n cond flags cimm``) from the pattern's
  fields with the ARM ARM's helper functions: ``expand_imm`` (ThumbExpandImm), ``imm_shift`` (DecodeImmShift),
  ``sext`` (SignExtend) and ``branch_t3``/``branch_t4`` (the J1/J2 offset rules).  An ``UNDEF`` entry marks
  encodings the ARM ARM reserves inside a space a later entry would otherwise match.

As in QEMU's decodetree, encodings may overlap (some instruction matches both) only inside a ``{ }`` overlap group,
where the first match wins; the group's comment says which case of the manual the earlier entries are.  Any other
overlap fails the build.  setup.py writes the decoder, the op enum and the executor's dispatch from these tables.
"""
import os
import re
import sys

# Decoded flag bits (mirrored in decode.pxd).
FLAGS = {
    "S": 1,        # set flags
    "S_OUT_IT": 2,  # set flags only outside an IT block (16-bit ALU ops)
    "P": 4,        # index (pre-indexed addressing)
    "U": 8,        # add offset
    "W": 16,       # write back
}

T16 = r"""
# A5.2.1 shift (immediate), add, subtract, move and compare
{   # imm5 == 00000: MOV (register) (A7.7.67)
MOV_reg_T2    MOV_register    0 0 0 0 0 0 0 0 0 0 Rm:3 Rd:3             rd=Rd rm=Rm flags=S_OUT_IT
LSL_imm_T1    LSL_immediate   0 0 0 0 0 imm5:5 Rm:3 Rd:3               rd=Rd rm=Rm shift=imm_shift(0,imm5) flags=S_OUT_IT
}
LSR_imm_T1    LSR_immediate   0 0 0 0 1 imm5:5 Rm:3 Rd:3               rd=Rd rm=Rm shift=imm_shift(1,imm5) flags=S_OUT_IT
ASR_imm_T1    ASR_immediate   0 0 0 1 0 imm5:5 Rm:3 Rd:3               rd=Rd rm=Rm shift=imm_shift(2,imm5) flags=S_OUT_IT
ADD_reg_T1    ADD_register    0 0 0 1 1 0 0 Rm:3 Rn:3 Rd:3             rd=Rd rn=Rn rm=Rm flags=S_OUT_IT
SUB_reg_T1    SUB_register    0 0 0 1 1 0 1 Rm:3 Rn:3 Rd:3             rd=Rd rn=Rn rm=Rm flags=S_OUT_IT
ADD_imm_T1    ADD_immediate   0 0 0 1 1 1 0 imm3:3 Rn:3 Rd:3           rd=Rd rn=Rn imm=imm3 flags=S_OUT_IT
SUB_imm_T1    SUB_immediate   0 0 0 1 1 1 1 imm3:3 Rn:3 Rd:3           rd=Rd rn=Rn imm=imm3 flags=S_OUT_IT
MOV_imm_T1    MOV_immediate   0 0 1 0 0 Rd:3 imm8:8                    rd=Rd imm=imm8 flags=S_OUT_IT cimm=2
CMP_imm_T1    CMP_immediate   0 0 1 0 1 Rn:3 imm8:8                    rn=Rn imm=imm8
ADD_imm_T2    ADD_immediate   0 0 1 1 0 Rdn:3 imm8:8                   rd=Rdn rn=Rdn imm=imm8 flags=S_OUT_IT
SUB_imm_T2    SUB_immediate   0 0 1 1 1 Rdn:3 imm8:8                   rd=Rdn rn=Rdn imm=imm8 flags=S_OUT_IT
# A5.2.2 data processing
AND_reg_T1    AND_register    0 1 0 0 0 0 0 0 0 0 Rm:3 Rdn:3           rd=Rdn rn=Rdn rm=Rm flags=S_OUT_IT
EOR_reg_T1    EOR_register    0 1 0 0 0 0 0 0 0 1 Rm:3 Rdn:3           rd=Rdn rn=Rdn rm=Rm flags=S_OUT_IT
LSL_reg_T1    LSL_register    0 1 0 0 0 0 0 0 1 0 Rm:3 Rdn:3           rd=Rdn rn=Rdn rm=Rm flags=S_OUT_IT
LSR_reg_T1    LSR_register    0 1 0 0 0 0 0 0 1 1 Rm:3 Rdn:3           rd=Rdn rn=Rdn rm=Rm flags=S_OUT_IT
ASR_reg_T1    ASR_register    0 1 0 0 0 0 0 1 0 0 Rm:3 Rdn:3           rd=Rdn rn=Rdn rm=Rm flags=S_OUT_IT
ADC_reg_T1    ADC_register    0 1 0 0 0 0 0 1 0 1 Rm:3 Rdn:3           rd=Rdn rn=Rdn rm=Rm flags=S_OUT_IT
SBC_reg_T1    SBC_register    0 1 0 0 0 0 0 1 1 0 Rm:3 Rdn:3           rd=Rdn rn=Rdn rm=Rm flags=S_OUT_IT
ROR_reg_T1    ROR_register    0 1 0 0 0 0 0 1 1 1 Rm:3 Rdn:3           rd=Rdn rn=Rdn rm=Rm flags=S_OUT_IT
TST_reg_T1    TST_register    0 1 0 0 0 0 1 0 0 0 Rm:3 Rn:3            rn=Rn rm=Rm
RSB_imm_T1    RSB_immediate   0 1 0 0 0 0 1 0 0 1 Rn:3 Rd:3            rd=Rd rn=Rn imm=0 flags=S_OUT_IT
CMP_reg_T1    CMP_register    0 1 0 0 0 0 1 0 1 0 Rm:3 Rn:3            rn=Rn rm=Rm
CMN_reg_T1    CMN_register    0 1 0 0 0 0 1 0 1 1 Rm:3 Rn:3            rn=Rn rm=Rm
ORR_reg_T1    ORR_register    0 1 0 0 0 0 1 1 0 0 Rm:3 Rdn:3           rd=Rdn rn=Rdn rm=Rm flags=S_OUT_IT
MUL_T1        MUL             0 1 0 0 0 0 1 1 0 1 Rn:3 Rdm:3           rd=Rdm rn=Rn rm=Rdm flags=S_OUT_IT
BIC_reg_T1    BIC_register    0 1 0 0 0 0 1 1 1 0 Rm:3 Rdn:3           rd=Rdn rn=Rdn rm=Rm flags=S_OUT_IT
MVN_reg_T1    MVN_register    0 1 0 0 0 0 1 1 1 1 Rm:3 Rd:3            rd=Rd rm=Rm flags=S_OUT_IT
# A5.2.3 special data instructions and branch and exchange
ADD_reg_T2    ADD_register    0 1 0 0 0 1 0 0 Rdn:1 Rm:4 Rdn:3         rd=Rdn rn=Rdn rm=Rm
CMP_reg_T2    CMP_register    0 1 0 0 0 1 0 1 Rn:1 Rm:4 Rn:3           rn=Rn rm=Rm
MOV_reg_T1    MOV_register    0 1 0 0 0 1 1 0 Rd:1 Rm:4 Rd:3           rd=Rd rm=Rm
BX_T1         BX              0 1 0 0 0 1 1 1 0 Rm:4 0 0 0             rm=Rm
BLX_reg_T1    BLX_register    0 1 0 0 0 1 1 1 1 Rm:4 0 0 0             rm=Rm
LDR_lit_T1    LDR_literal     0 1 0 0 1 Rt:3 imm8:8                    rd=Rt rn=15 imm=imm8<<2 flags=P|U
# A5.2.4 load/store single data item
STR_reg_T1    STR_register    0 1 0 1 0 0 0 Rm:3 Rn:3 Rt:3             rd=Rt rn=Rn rm=Rm
STRH_reg_T1   STRH_register   0 1 0 1 0 0 1 Rm:3 Rn:3 Rt:3             rd=Rt rn=Rn rm=Rm
STRB_reg_T1   STRB_register   0 1 0 1 0 1 0 Rm:3 Rn:3 Rt:3             rd=Rt rn=Rn rm=Rm
LDRSB_reg_T1  LDRSB_register  0 1 0 1 0 1 1 Rm:3 Rn:3 Rt:3             rd=Rt rn=Rn rm=Rm
LDR_reg_T1    LDR_register    0 1 0 1 1 0 0 Rm:3 Rn:3 Rt:3             rd=Rt rn=Rn rm=Rm
LDRH_reg_T1   LDRH_register   0 1 0 1 1 0 1 Rm:3 Rn:3 Rt:3             rd=Rt rn=Rn rm=Rm
LDRB_reg_T1   LDRB_register   0 1 0 1 1 1 0 Rm:3 Rn:3 Rt:3             rd=Rt rn=Rn rm=Rm
LDRSH_reg_T1  LDRSH_register  0 1 0 1 1 1 1 Rm:3 Rn:3 Rt:3             rd=Rt rn=Rn rm=Rm
STR_imm_T1    STR_immediate   0 1 1 0 0 imm5:5 Rn:3 Rt:3               rd=Rt rn=Rn imm=imm5<<2 flags=P|U
LDR_imm_T1    LDR_immediate   0 1 1 0 1 imm5:5 Rn:3 Rt:3               rd=Rt rn=Rn imm=imm5<<2 flags=P|U
STRB_imm_T1   STRB_immediate  0 1 1 1 0 imm5:5 Rn:3 Rt:3               rd=Rt rn=Rn imm=imm5 flags=P|U
LDRB_imm_T1   LDRB_immediate  0 1 1 1 1 imm5:5 Rn:3 Rt:3               rd=Rt rn=Rn imm=imm5 flags=P|U
STRH_imm_T1   STRH_immediate  1 0 0 0 0 imm5:5 Rn:3 Rt:3               rd=Rt rn=Rn imm=imm5<<1 flags=P|U
LDRH_imm_T1   LDRH_immediate  1 0 0 0 1 imm5:5 Rn:3 Rt:3               rd=Rt rn=Rn imm=imm5<<1 flags=P|U
STR_imm_T2    STR_immediate   1 0 0 1 0 Rt:3 imm8:8                    rd=Rt rn=13 imm=imm8<<2 flags=P|U
LDR_imm_T2    LDR_immediate   1 0 0 1 1 Rt:3 imm8:8                    rd=Rt rn=13 imm=imm8<<2 flags=P|U
# A5.2 PC- and SP-relative address generation
ADR_T1        ADR             1 0 1 0 0 Rd:3 imm8:8                    rd=Rd imm=imm8<<2
ADD_sp_T1     ADD_immediate   1 0 1 0 1 Rd:3 imm8:8                    rd=Rd rn=13 imm=imm8<<2
# A5.2.5 miscellaneous 16-bit instructions
ADD_sp_T2     ADD_immediate   1 0 1 1 0 0 0 0 0 imm7:7                 rd=13 rn=13 imm=imm7<<2
SUB_sp_T1     SUB_immediate   1 0 1 1 0 0 0 0 1 imm7:7                 rd=13 rn=13 imm=imm7<<2
CBZ_T1        CBZ             1 0 1 1 0 0 i:1 1 i:5 Rn:3               rn=Rn imm=i<<1
CBNZ_T1       CBNZ            1 0 1 1 1 0 i:1 1 i:5 Rn:3               rn=Rn imm=i<<1
SXTH_T1       SXTH            1 0 1 1 0 0 1 0 0 0 Rm:3 Rd:3            rd=Rd rm=Rm
SXTB_T1       SXTB            1 0 1 1 0 0 1 0 0 1 Rm:3 Rd:3            rd=Rd rm=Rm
UXTH_T1       UXTH            1 0 1 1 0 0 1 0 1 0 Rm:3 Rd:3            rd=Rd rm=Rm
UXTB_T1       UXTB            1 0 1 1 0 0 1 0 1 1 Rm:3 Rd:3            rd=Rd rm=Rm
PUSH_T1       STMDB           1 0 1 1 0 1 0 M:1 list:8                 rn=13 imm=(M<<14)|list flags=W
CPS_T1        CPS             1 0 1 1 0 1 1 0 0 1 1 im:1 0 0 I:1 F:1   imm=(im<<2)|(I<<1)|F
REV_T1        REV             1 0 1 1 1 0 1 0 0 0 Rm:3 Rd:3            rd=Rd rm=Rm
REV16_T1      REV16           1 0 1 1 1 0 1 0 0 1 Rm:3 Rd:3            rd=Rd rm=Rm
REVSH_T1      REVSH           1 0 1 1 1 0 1 0 1 1 Rm:3 Rd:3            rd=Rd rm=Rm
POP_T1        LDM             1 0 1 1 1 1 0 P:1 list:8                 rn=13 imm=(P<<15)|list flags=W
BKPT_T1       BKPT            1 0 1 1 1 1 1 0 imm8:8                   imm=imm8
{   # mask == 0000: the hints NOP, YIELD, WFE, WFI, SEV (A5.2.5)
HINT_T1       NOP             1 0 1 1 1 1 1 1 hint:4 0 0 0 0           imm=hint
IT_T1         IT              1 0 1 1 1 1 1 1 it:8                     imm=it
}
# A5.2 load/store multiple, conditional branch, supervisor call, unconditional branch
STM_T1        STM             1 1 0 0 0 Rn:3 list:8                    rn=Rn imm=list flags=W
LDM_T1        LDM             1 1 0 0 1 Rn:3 list:8                    rn=Rn imm=list flags=W
{   # cond == 1110: UDF, cond == 1111: SVC (A5.2.6)
UDF_T1        UDF             1 1 0 1 1 1 1 0 imm8:8                   imm=imm8
SVC_T1        SVC             1 1 0 1 1 1 1 1 imm8:8                   imm=imm8
B_T1          B               1 1 0 1 cond:4 imm8:8                    cond=cond imm=sext(imm8<<1,9)
}
B_T2          B               1 1 1 0 0 imm11:11                       cond=14 imm=sext(imm11<<1,12)
"""

T32 = r"""
# A5.3.5 load/store multiple
{   # LDM SP! is POP (A5.3.5)
POP_T2        LDM             1 1 1 0 1 0 0 0 1 0 1 1 1 1 0 1 | P:1 M:1 0 list:13              rn=13 imm=(P<<15)|(M<<14)|list flags=W
LDM_T2        LDM             1 1 1 0 1 0 0 0 1 0 W:1 1 Rn:4 | P:1 M:1 0 list:13               rn=Rn imm=(P<<15)|(M<<14)|list flags=W*W
}
STM_T2        STM             1 1 1 0 1 0 0 0 1 0 W:1 0 Rn:4 | 0 M:1 0 list:13                 rn=Rn imm=(M<<14)|list flags=W*W
LDMDB_T1      LDMDB           1 1 1 0 1 0 0 1 0 0 W:1 1 Rn:4 | P:1 M:1 0 list:13               rn=Rn imm=(P<<15)|(M<<14)|list flags=W*W
STMDB_T1      STMDB           1 1 1 0 1 0 0 1 0 0 W:1 0 Rn:4 | 0 M:1 0 list:13                 rn=Rn imm=(M<<14)|list flags=W*W
# A5.3.6 load/store dual, load/store exclusive, table branch
STREX_T1      STREX           1 1 1 0 1 0 0 0 0 1 0 0 Rn:4 | Rt:4 Rd:4 imm8:8                 rd=Rd rm=Rt rn=Rn imm=imm8<<2
LDREX_T1      LDREX           1 1 1 0 1 0 0 0 0 1 0 1 Rn:4 | Rt:4 1 1 1 1 imm8:8              rd=Rt rn=Rn imm=imm8<<2
STREXB_T1     STREXB          1 1 1 0 1 0 0 0 1 1 0 0 Rn:4 | Rt:4 1 1 1 1 0 1 0 0 Rd:4        rd=Rd rm=Rt rn=Rn
STREXH_T1     STREXH          1 1 1 0 1 0 0 0 1 1 0 0 Rn:4 | Rt:4 1 1 1 1 0 1 0 1 Rd:4        rd=Rd rm=Rt rn=Rn
TBB_T1        TBB             1 1 1 0 1 0 0 0 1 1 0 1 Rn:4 | 1 1 1 1 0 0 0 0 0 0 0 0 Rm:4     rn=Rn rm=Rm
TBH_T1        TBH             1 1 1 0 1 0 0 0 1 1 0 1 Rn:4 | 1 1 1 1 0 0 0 0 0 0 0 1 Rm:4     rn=Rn rm=Rm
LDREXB_T1     LDREXB          1 1 1 0 1 0 0 0 1 1 0 1 Rn:4 | Rt:4 1 1 1 1 0 1 0 0 1 1 1 1    rd=Rt rn=Rn
LDREXH_T1     LDREXH          1 1 1 0 1 0 0 0 1 1 0 1 Rn:4 | Rt:4 1 1 1 1 0 1 0 1 1 1 1 1    rd=Rt rn=Rn
STRD_post_T1  STRD_immediate  1 1 1 0 1 0 0 0 U:1 1 1 0 Rn:4 | Rt:4 Rt2:4 imm8:8              rd=Rt ra=Rt2 rn=Rn imm=imm8<<2 flags=U*U|W
LDRD_post_T1  LDRD_immediate  1 1 1 0 1 0 0 0 U:1 1 1 1 Rn:4 | Rt:4 Rt2:4 imm8:8              rd=Rt ra=Rt2 rn=Rn imm=imm8<<2 flags=U*U|W
STRD_imm_T1   STRD_immediate  1 1 1 0 1 0 0 1 U:1 1 W:1 0 Rn:4 | Rt:4 Rt2:4 imm8:8            rd=Rt ra=Rt2 rn=Rn imm=imm8<<2 flags=P|U*U|W*W
LDRD_imm_T1   LDRD_immediate  1 1 1 0 1 0 0 1 U:1 1 W:1 1 Rn:4 | Rt:4 Rt2:4 imm8:8            rd=Rt ra=Rt2 rn=Rn imm=imm8<<2 flags=P|U*U|W*W
# A5.3.11 data processing (shifted register); Rd == 1111 with S forms the compare, Rn == 1111 the moves
{   # Rd == 1111 and S == 1: TST (A5.3.11)
TST_reg_T2    TST_register    1 1 1 0 1 0 1 0 0 0 0 1 Rn:4 | 0 s:3 1 1 1 1 s:2 t:2 Rm:4       rn=Rn rm=Rm shift=imm_shift(t,s)
AND_reg_T2    AND_register    1 1 1 0 1 0 1 0 0 0 0 S:1 Rn:4 | 0 s:3 Rd:4 s:2 t:2 Rm:4         rd=Rd rn=Rn rm=Rm shift=imm_shift(t,s) flags=S*S
}
BIC_reg_T2    BIC_register    1 1 1 0 1 0 1 0 0 0 1 S:1 Rn:4 | 0 s:3 Rd:4 s:2 t:2 Rm:4         rd=Rd rn=Rn rm=Rm shift=imm_shift(t,s) flags=S*S
{   # Rn == 1111: MOV and the immediate shifts (A5.3.11)
MOV_reg_T3    MOV_register    1 1 1 0 1 0 1 0 0 1 0 S:1 1 1 1 1 | 0 s:3 Rd:4 s:2 t:2 Rm:4      rd=Rd rm=Rm shift=imm_shift(t,s) flags=S*S
ORR_reg_T2    ORR_register    1 1 1 0 1 0 1 0 0 1 0 S:1 Rn:4 | 0 s:3 Rd:4 s:2 t:2 Rm:4         rd=Rd rn=Rn rm=Rm shift=imm_shift(t,s) flags=S*S
}
{   # Rn == 1111: MVN (A5.3.11)
MVN_reg_T2    MVN_register    1 1 1 0 1 0 1 0 0 1 1 S:1 1 1 1 1 | 0 s:3 Rd:4 s:2 t:2 Rm:4      rd=Rd rm=Rm shift=imm_shift(t,s) flags=S*S
ORN_reg_T1    ORN_register    1 1 1 0 1 0 1 0 0 1 1 S:1 Rn:4 | 0 s:3 Rd:4 s:2 t:2 Rm:4         rd=Rd rn=Rn rm=Rm shift=imm_shift(t,s) flags=S*S
}
{   # Rd == 1111 and S == 1: TEQ (A5.3.11)
TEQ_reg_T1    TEQ_register    1 1 1 0 1 0 1 0 1 0 0 1 Rn:4 | 0 s:3 1 1 1 1 s:2 t:2 Rm:4       rn=Rn rm=Rm shift=imm_shift(t,s)
EOR_reg_T2    EOR_register    1 1 1 0 1 0 1 0 1 0 0 S:1 Rn:4 | 0 s:3 Rd:4 s:2 t:2 Rm:4         rd=Rd rn=Rn rm=Rm shift=imm_shift(t,s) flags=S*S
}
{   # Rd == 1111 and S == 1: CMN (A5.3.11)
CMN_reg_T2    CMN_register    1 1 1 0 1 0 1 1 0 0 0 1 Rn:4 | 0 s:3 1 1 1 1 s:2 t:2 Rm:4       rn=Rn rm=Rm shift=imm_shift(t,s)
ADD_reg_T3    ADD_register    1 1 1 0 1 0 1 1 0 0 0 S:1 Rn:4 | 0 s:3 Rd:4 s:2 t:2 Rm:4         rd=Rd rn=Rn rm=Rm shift=imm_shift(t,s) flags=S*S
}
ADC_reg_T2    ADC_register    1 1 1 0 1 0 1 1 0 1 0 S:1 Rn:4 | 0 s:3 Rd:4 s:2 t:2 Rm:4         rd=Rd rn=Rn rm=Rm shift=imm_shift(t,s) flags=S*S
SBC_reg_T2    SBC_register    1 1 1 0 1 0 1 1 0 1 1 S:1 Rn:4 | 0 s:3 Rd:4 s:2 t:2 Rm:4         rd=Rd rn=Rn rm=Rm shift=imm_shift(t,s) flags=S*S
{   # Rd == 1111 and S == 1: CMP (A5.3.11)
CMP_reg_T3    CMP_register    1 1 1 0 1 0 1 1 1 0 1 1 Rn:4 | 0 s:3 1 1 1 1 s:2 t:2 Rm:4       rn=Rn rm=Rm shift=imm_shift(t,s)
SUB_reg_T2    SUB_register    1 1 1 0 1 0 1 1 1 0 1 S:1 Rn:4 | 0 s:3 Rd:4 s:2 t:2 Rm:4         rd=Rd rn=Rn rm=Rm shift=imm_shift(t,s) flags=S*S
}
RSB_reg_T1    RSB_register    1 1 1 0 1 0 1 1 1 1 0 S:1 Rn:4 | 0 s:3 Rd:4 s:2 t:2 Rm:4         rd=Rd rn=Rn rm=Rm shift=imm_shift(t,s) flags=S*S
# A5.3.1 data processing (modified immediate); Rd == 1111 with S forms the compare, Rn == 1111 the moves
{   # Rd == 1111 and S == 1: TST (A5.3.1)
TST_imm_T1    TST_immediate   1 1 1 1 0 i:1 0 0 0 0 0 1 Rn:4 | 0 i:3 1 1 1 1 i:8              rn=Rn imm=expand_imm(i)
AND_imm_T1    AND_immediate   1 1 1 1 0 i:1 0 0 0 0 0 S:1 Rn:4 | 0 i:3 Rd:4 i:8                rd=Rd rn=Rn imm=expand_imm(i) flags=S*S
}
BIC_imm_T1    BIC_immediate   1 1 1 1 0 i:1 0 0 0 0 1 S:1 Rn:4 | 0 i:3 Rd:4 i:8                rd=Rd rn=Rn imm=expand_imm(i) flags=S*S
{   # Rn == 1111: MOV (A5.3.1)
MOV_imm_T2    MOV_immediate   1 1 1 1 0 i:1 0 0 0 1 0 S:1 1 1 1 1 | 0 i:3 Rd:4 i:8             rd=Rd imm=expand_imm(i) flags=S*S
ORR_imm_T1    ORR_immediate   1 1 1 1 0 i:1 0 0 0 1 0 S:1 Rn:4 | 0 i:3 Rd:4 i:8                rd=Rd rn=Rn imm=expand_imm(i) flags=S*S
}
{   # Rn == 1111: MVN (A5.3.1)
MVN_imm_T1    MVN_immediate   1 1 1 1 0 i:1 0 0 0 1 1 S:1 1 1 1 1 | 0 i:3 Rd:4 i:8             rd=Rd imm=expand_imm(i) flags=S*S
ORN_imm_T1    ORN_immediate   1 1 1 1 0 i:1 0 0 0 1 1 S:1 Rn:4 | 0 i:3 Rd:4 i:8                rd=Rd rn=Rn imm=expand_imm(i) flags=S*S
}
{   # Rd == 1111 and S == 1: TEQ (A5.3.1)
TEQ_imm_T1    TEQ_immediate   1 1 1 1 0 i:1 0 0 1 0 0 1 Rn:4 | 0 i:3 1 1 1 1 i:8              rn=Rn imm=expand_imm(i)
EOR_imm_T1    EOR_immediate   1 1 1 1 0 i:1 0 0 1 0 0 S:1 Rn:4 | 0 i:3 Rd:4 i:8                rd=Rd rn=Rn imm=expand_imm(i) flags=S*S
}
{   # Rd == 1111 and S == 1: CMN (A5.3.1)
CMN_imm_T1    CMN_immediate   1 1 1 1 0 i:1 0 1 0 0 0 1 Rn:4 | 0 i:3 1 1 1 1 i:8              rn=Rn imm=expand_imm(i)
ADD_imm_T3    ADD_immediate   1 1 1 1 0 i:1 0 1 0 0 0 S:1 Rn:4 | 0 i:3 Rd:4 i:8                rd=Rd rn=Rn imm=expand_imm(i) flags=S*S
}
ADC_imm_T1    ADC_immediate   1 1 1 1 0 i:1 0 1 0 1 0 S:1 Rn:4 | 0 i:3 Rd:4 i:8                rd=Rd rn=Rn imm=expand_imm(i) flags=S*S
SBC_imm_T1    SBC_immediate   1 1 1 1 0 i:1 0 1 0 1 1 S:1 Rn:4 | 0 i:3 Rd:4 i:8                rd=Rd rn=Rn imm=expand_imm(i) flags=S*S
{   # Rd == 1111 and S == 1: CMP (A5.3.1)
CMP_imm_T2    CMP_immediate   1 1 1 1 0 i:1 0 1 1 0 1 1 Rn:4 | 0 i:3 1 1 1 1 i:8              rn=Rn imm=expand_imm(i)
SUB_imm_T3    SUB_immediate   1 1 1 1 0 i:1 0 1 1 0 1 S:1 Rn:4 | 0 i:3 Rd:4 i:8                rd=Rd rn=Rn imm=expand_imm(i) flags=S*S
}
RSB_imm_T2    RSB_immediate   1 1 1 1 0 i:1 0 1 1 1 0 S:1 Rn:4 | 0 i:3 Rd:4 i:8                rd=Rd rn=Rn imm=expand_imm(i) flags=S*S
# A5.3.3 data processing (plain binary immediate)
{   # Rn == 1111: ADR (A5.3.3)
ADR_T3        ADR             1 1 1 1 0 i:1 1 0 0 0 0 0 1 1 1 1 | 0 i:3 Rd:4 i:8               rd=Rd imm=i
ADDW_T4       ADD_immediate   1 1 1 1 0 i:1 1 0 0 0 0 0 Rn:4 | 0 i:3 Rd:4 i:8                  rd=Rd rn=Rn imm=i
}
MOVW_T3       MOV_immediate   1 1 1 1 0 i:1 1 0 0 1 0 0 imm4:4 | 0 imm3:3 Rd:4 imm8:8         rd=Rd imm=(imm4<<12)|(i<<11)|(imm3<<8)|imm8 cimm=2
{   # Rn == 1111: ADR (A5.3.3)
ADR_T2        ADR             1 1 1 1 0 i:1 1 0 1 0 1 0 1 1 1 1 | 0 i:3 Rd:4 i:8               rd=Rd imm=-i
SUBW_T4       SUB_immediate   1 1 1 1 0 i:1 1 0 1 0 1 0 Rn:4 | 0 i:3 Rd:4 i:8                  rd=Rd rn=Rn imm=i
}
MOVT_T1       MOVT            1 1 1 1 0 i:1 1 0 1 1 0 0 imm4:4 | 0 imm3:3 Rd:4 imm8:8         rd=Rd imm=(imm4<<12)|(i<<11)|(imm3<<8)|imm8
SSAT_T1       SSAT            1 1 1 1 0 0 1 1 0 0 sh:1 0 Rn:4 | 0 s:3 Rd:4 s:2 0 sat:5        rd=Rd rn=Rn imm=sat+1 shift=imm_shift(sh<<1,s)
SBFX_T1       SBFX            1 1 1 1 0 0 1 1 0 1 0 0 Rn:4 | 0 s:3 Rd:4 s:2 0 w:5             rd=Rd rn=Rn imm=w+1 shift_n=s
{   # Rn == 1111: BFC (A5.3.3)
BFC_T1        BFC             1 1 1 1 0 0 1 1 0 1 1 0 1 1 1 1 | 0 s:3 Rd:4 s:2 0 msb:5        rd=Rd imm=msb shift_n=s
BFI_T1        BFI             1 1 1 1 0 0 1 1 0 1 1 0 Rn:4 | 0 s:3 Rd:4 s:2 0 msb:5           rd=Rd rn=Rn imm=msb shift_n=s
}
USAT_T1       USAT            1 1 1 1 0 0 1 1 1 0 sh:1 0 Rn:4 | 0 s:3 Rd:4 s:2 0 sat:5        rd=Rd rn=Rn imm=sat shift=imm_shift(sh<<1,s)
UBFX_T1       UBFX            1 1 1 1 0 0 1 1 1 1 0 0 Rn:4 | 0 s:3 Rd:4 s:2 0 w:5             rd=Rd rn=Rn imm=w+1 shift_n=s
# A5.3.4 branches and miscellaneous control
{   # op1 == x111 (cond 111x) is not B but the miscellaneous control space (A5.3.4), UNDEFINED where unlisted
MSR_T1        MSR             1 1 1 1 0 0 1 1 1 0 0 0 Rn:4 | 1 0 0 0 mask:2 0 0 SYSm:8         rn=Rn imm=SYSm ra=mask
HINT_T2       NOP             1 1 1 1 0 0 1 1 1 0 1 0 1 1 1 1 | 1 0 0 0 0 0 0 0 hint:8       imm=hint
CLREX_T1      CLREX           1 1 1 1 0 0 1 1 1 0 1 1 1 1 1 1 | 1 0 0 0 1 1 1 1 0 0 1 0 opt:4
DSB_T1        DSB             1 1 1 1 0 0 1 1 1 0 1 1 1 1 1 1 | 1 0 0 0 1 1 1 1 0 1 0 0 opt:4
DMB_T1        DMB             1 1 1 1 0 0 1 1 1 0 1 1 1 1 1 1 | 1 0 0 0 1 1 1 1 0 1 0 1 opt:4
ISB_T1        ISB             1 1 1 1 0 0 1 1 1 0 1 1 1 1 1 1 | 1 0 0 0 1 1 1 1 0 1 1 0 opt:4
MRS_T1        MRS             1 1 1 1 0 0 1 1 1 1 1 0 1 1 1 1 | 1 0 0 0 Rd:4 SYSm:8           rd=Rd imm=SYSm
UDF_T2        UDF             1 1 1 1 0 1 1 1 1 1 1 1 i:4 | 1 0 1 0 i:12                      imm=i
B_T3_undef    UNDEF           1 1 1 1 0 - 1 1 1 - - - - - - - | 1 0 - 0 - - - - - - - - - - - -
B_T3          B               1 1 1 1 0 S:1 cond:4 i6:6 | 1 0 J1:1 0 J2:1 i11:11             cond=cond imm=branch_t3(S,J1,J2,i6,i11)
}
B_T4          B               1 1 1 1 0 S:1 i10:10 | 1 0 J1:1 1 J2:1 i11:11                   cond=14 imm=branch_t4(S,J1,J2,i10,i11)
BL_T1         BL              1 1 1 1 0 S:1 i10:10 | 1 1 J1:1 1 J2:1 i11:11                   imm=branch_t4(S,J1,J2,i10,i11)
# A5.3.7-A5.3.10 load/store single
STRB_imm_T2   STRB_immediate  1 1 1 1 1 0 0 0 1 0 0 0 Rn:4 | Rt:4 i:12                        rd=Rt rn=Rn imm=i flags=P|U
STRH_imm_T2   STRH_immediate  1 1 1 1 1 0 0 0 1 0 1 0 Rn:4 | Rt:4 i:12                        rd=Rt rn=Rn imm=i flags=P|U
STR_imm_T3    STR_immediate   1 1 1 1 1 0 0 0 1 1 0 0 Rn:4 | Rt:4 i:12                        rd=Rt rn=Rn imm=i flags=P|U
STRB_imm_T3   STRB_immediate  1 1 1 1 1 0 0 0 0 0 0 0 Rn:4 | Rt:4 1 P:1 U:1 W:1 i:8           rd=Rt rn=Rn imm=i flags=P*P|U*U|W*W
STRH_imm_T3   STRH_immediate  1 1 1 1 1 0 0 0 0 0 1 0 Rn:4 | Rt:4 1 P:1 U:1 W:1 i:8           rd=Rt rn=Rn imm=i flags=P*P|U*U|W*W
STR_imm_T4    STR_immediate   1 1 1 1 1 0 0 0 0 1 0 0 Rn:4 | Rt:4 1 P:1 U:1 W:1 i:8           rd=Rt rn=Rn imm=i flags=P*P|U*U|W*W
STRB_reg_T2   STRB_register   1 1 1 1 1 0 0 0 0 0 0 0 Rn:4 | Rt:4 0 0 0 0 0 0 sh:2 Rm:4       rd=Rt rn=Rn rm=Rm shift_n=sh
STRH_reg_T2   STRH_register   1 1 1 1 1 0 0 0 0 0 1 0 Rn:4 | Rt:4 0 0 0 0 0 0 sh:2 Rm:4       rd=Rt rn=Rn rm=Rm shift_n=sh
STR_reg_T2    STR_register    1 1 1 1 1 0 0 0 0 1 0 0 Rn:4 | Rt:4 0 0 0 0 0 0 sh:2 Rm:4       rd=Rt rn=Rn rm=Rm shift_n=sh
{   # Rn == 1111: LDR (literal) (A5.3.7)
LDR_lit_T2    LDR_literal     1 1 1 1 1 0 0 0 U:1 1 0 1 1 1 1 1 | Rt:4 i:12                   rd=Rt rn=15 imm=i flags=P|U*U
LDR_imm_T3    LDR_immediate   1 1 1 1 1 0 0 0 1 1 0 1 Rn:4 | Rt:4 i:12                        rd=Rt rn=Rn imm=i flags=P|U
LDR_imm_T4    LDR_immediate   1 1 1 1 1 0 0 0 0 1 0 1 Rn:4 | Rt:4 1 P:1 U:1 W:1 i:8           rd=Rt rn=Rn imm=i flags=P*P|U*U|W*W
LDR_reg_T2    LDR_register    1 1 1 1 1 0 0 0 0 1 0 1 Rn:4 | Rt:4 0 0 0 0 0 0 sh:2 Rm:4       rd=Rt rn=Rn rm=Rm shift_n=sh
}
{   # Rt == 1111: PLD, PLI (the hints); else Rn == 1111: the literal forms (A5.3.8-A5.3.10)
PLD_lit       PLD             1 1 1 1 1 0 0 - - 0 - 1 1 1 1 1 | 1 1 1 1 - - - - - - - - - - - -
PLD_imm12     PLD             1 1 1 1 1 0 0 - 1 0 - 1 Rn:4 | 1 1 1 1 - - - - - - - - - - - -
PLD_imm8      PLD             1 1 1 1 1 0 0 - 0 0 - 1 Rn:4 | 1 1 1 1 1 1 0 0 - - - - - - - -
PLD_reg       PLD             1 1 1 1 1 0 0 - 0 0 - 1 Rn:4 | 1 1 1 1 0 0 0 0 0 0 - - - - - -
LDRB_lit_T1   LDRB_literal    1 1 1 1 1 0 0 0 U:1 0 0 1 1 1 1 1 | Rt:4 i:12                   rd=Rt rn=15 imm=i flags=P|U*U
LDRH_lit_T1   LDRH_literal    1 1 1 1 1 0 0 0 U:1 0 1 1 1 1 1 1 | Rt:4 i:12                   rd=Rt rn=15 imm=i flags=P|U*U
LDRSB_lit_T1  LDRSB_literal   1 1 1 1 1 0 0 1 U:1 0 0 1 1 1 1 1 | Rt:4 i:12                   rd=Rt rn=15 imm=i flags=P|U*U
LDRSH_lit_T1  LDRSH_literal   1 1 1 1 1 0 0 1 U:1 0 1 1 1 1 1 1 | Rt:4 i:12                   rd=Rt rn=15 imm=i flags=P|U*U
LDRB_imm_T2   LDRB_immediate  1 1 1 1 1 0 0 0 1 0 0 1 Rn:4 | Rt:4 i:12                        rd=Rt rn=Rn imm=i flags=P|U
LDRH_imm_T2   LDRH_immediate  1 1 1 1 1 0 0 0 1 0 1 1 Rn:4 | Rt:4 i:12                        rd=Rt rn=Rn imm=i flags=P|U
LDRSB_imm_T1  LDRSB_immediate 1 1 1 1 1 0 0 1 1 0 0 1 Rn:4 | Rt:4 i:12                        rd=Rt rn=Rn imm=i flags=P|U
LDRSH_imm_T1  LDRSH_immediate 1 1 1 1 1 0 0 1 1 0 1 1 Rn:4 | Rt:4 i:12                        rd=Rt rn=Rn imm=i flags=P|U
LDRB_imm_T3   LDRB_immediate  1 1 1 1 1 0 0 0 0 0 0 1 Rn:4 | Rt:4 1 P:1 U:1 W:1 i:8           rd=Rt rn=Rn imm=i flags=P*P|U*U|W*W
LDRH_imm_T3   LDRH_immediate  1 1 1 1 1 0 0 0 0 0 1 1 Rn:4 | Rt:4 1 P:1 U:1 W:1 i:8           rd=Rt rn=Rn imm=i flags=P*P|U*U|W*W
LDRSB_imm_T2  LDRSB_immediate 1 1 1 1 1 0 0 1 0 0 0 1 Rn:4 | Rt:4 1 P:1 U:1 W:1 i:8           rd=Rt rn=Rn imm=i flags=P*P|U*U|W*W
LDRSH_imm_T2  LDRSH_immediate 1 1 1 1 1 0 0 1 0 0 1 1 Rn:4 | Rt:4 1 P:1 U:1 W:1 i:8           rd=Rt rn=Rn imm=i flags=P*P|U*U|W*W
LDRB_reg_T2   LDRB_register   1 1 1 1 1 0 0 0 0 0 0 1 Rn:4 | Rt:4 0 0 0 0 0 0 sh:2 Rm:4       rd=Rt rn=Rn rm=Rm shift_n=sh
LDRH_reg_T2   LDRH_register   1 1 1 1 1 0 0 0 0 0 1 1 Rn:4 | Rt:4 0 0 0 0 0 0 sh:2 Rm:4       rd=Rt rn=Rn rm=Rm shift_n=sh
LDRSB_reg_T2  LDRSB_register  1 1 1 1 1 0 0 1 0 0 0 1 Rn:4 | Rt:4 0 0 0 0 0 0 sh:2 Rm:4       rd=Rt rn=Rn rm=Rm shift_n=sh
LDRSH_reg_T2  LDRSH_register  1 1 1 1 1 0 0 1 0 0 1 1 Rn:4 | Rt:4 0 0 0 0 0 0 sh:2 Rm:4       rd=Rt rn=Rn rm=Rm shift_n=sh
}
# A5.3.12 data processing (register), A5.3.15 miscellaneous operations
LSL_reg_T2    LSL_register    1 1 1 1 1 0 1 0 0 0 0 S:1 Rn:4 | 1 1 1 1 Rd:4 0 0 0 0 Rm:4     rd=Rd rn=Rn rm=Rm flags=S*S
LSR_reg_T2    LSR_register    1 1 1 1 1 0 1 0 0 0 1 S:1 Rn:4 | 1 1 1 1 Rd:4 0 0 0 0 Rm:4     rd=Rd rn=Rn rm=Rm flags=S*S
ASR_reg_T2    ASR_register    1 1 1 1 1 0 1 0 0 1 0 S:1 Rn:4 | 1 1 1 1 Rd:4 0 0 0 0 Rm:4     rd=Rd rn=Rn rm=Rm flags=S*S
ROR_reg_T2    ROR_register    1 1 1 1 1 0 1 0 0 1 1 S:1 Rn:4 | 1 1 1 1 Rd:4 0 0 0 0 Rm:4     rd=Rd rn=Rn rm=Rm flags=S*S
SXTH_T2       SXTH            1 1 1 1 1 0 1 0 0 0 0 0 1 1 1 1 | 1 1 1 1 Rd:4 1 0 rot:2 Rm:4   rd=Rd rm=Rm shift_n=rot<<3
UXTH_T2       UXTH            1 1 1 1 1 0 1 0 0 0 0 1 1 1 1 1 | 1 1 1 1 Rd:4 1 0 rot:2 Rm:4   rd=Rd rm=Rm shift_n=rot<<3
SXTB_T2       SXTB            1 1 1 1 1 0 1 0 0 1 0 0 1 1 1 1 | 1 1 1 1 Rd:4 1 0 rot:2 Rm:4   rd=Rd rm=Rm shift_n=rot<<3
UXTB_T2       UXTB            1 1 1 1 1 0 1 0 0 1 0 1 1 1 1 1 | 1 1 1 1 Rd:4 1 0 rot:2 Rm:4   rd=Rd rm=Rm shift_n=rot<<3
REV_T2        REV             1 1 1 1 1 0 1 0 1 0 0 1 Rm:4 | 1 1 1 1 Rd:4 1 0 0 0 Rm2:4       rd=Rd rm=Rm
REV16_T2      REV16           1 1 1 1 1 0 1 0 1 0 0 1 Rm:4 | 1 1 1 1 Rd:4 1 0 0 1 Rm2:4       rd=Rd rm=Rm
RBIT_T1       RBIT            1 1 1 1 1 0 1 0 1 0 0 1 Rm:4 | 1 1 1 1 Rd:4 1 0 1 0 Rm2:4       rd=Rd rm=Rm
REVSH_T2      REVSH           1 1 1 1 1 0 1 0 1 0 0 1 Rm:4 | 1 1 1 1 Rd:4 1 0 1 1 Rm2:4       rd=Rd rm=Rm
CLZ_T1        CLZ             1 1 1 1 1 0 1 0 1 0 1 1 Rm:4 | 1 1 1 1 Rd:4 1 0 0 0 Rm2:4       rd=Rd rm=Rm
# A5.3.16 multiply, A5.3.17 long multiply and divide
{   # Ra == 1111: MUL (A5.3.16)
MUL_T2        MUL             1 1 1 1 1 0 1 1 0 0 0 0 Rn:4 | 1 1 1 1 Rd:4 0 0 0 0 Rm:4       rd=Rd rn=Rn rm=Rm
MLA_T1        MLA             1 1 1 1 1 0 1 1 0 0 0 0 Rn:4 | Ra:4 Rd:4 0 0 0 0 Rm:4          rd=Rd rn=Rn rm=Rm ra=Ra
}
MLS_T1        MLS             1 1 1 1 1 0 1 1 0 0 0 0 Rn:4 | Ra:4 Rd:4 0 0 0 1 Rm:4          rd=Rd rn=Rn rm=Rm ra=Ra
SMULL_T1      SMULL           1 1 1 1 1 0 1 1 1 0 0 0 Rn:4 | Lo:4 Hi:4 0 0 0 0 Rm:4          rd=Lo ra=Hi rn=Rn rm=Rm
SDIV_T1       SDIV            1 1 1 1 1 0 1 1 1 0 0 1 Rn:4 | 1 1 1 1 Rd:4 1 1 1 1 Rm:4       rd=Rd rn=Rn rm=Rm
UMULL_T1      UMULL           1 1 1 1 1 0 1 1 1 0 1 0 Rn:4 | Lo:4 Hi:4 0 0 0 0 Rm:4          rd=Lo ra=Hi rn=Rn rm=Rm
UDIV_T1       UDIV            1 1 1 1 1 0 1 1 1 0 1 1 Rn:4 | 1 1 1 1 Rd:4 1 1 1 1 Rm:4       rd=Rd rn=Rn rm=Rm
SMLAL_T1      SMLAL           1 1 1 1 1 0 1 1 1 1 0 0 Rn:4 | Lo:4 Hi:4 0 0 0 0 Rm:4          rd=Lo ra=Hi rn=Rn rm=Rm
UMLAL_T1      UMLAL           1 1 1 1 1 0 1 1 1 1 1 0 Rn:4 | Lo:4 Hi:4 0 0 0 0 Rm:4          rd=Lo ra=Hi rn=Rn rm=Rm
"""

class Encoding:
    """One table line: fixed bits as mask/match and the named fields as (name, [(lsb, width), ...])."""

    def __init__(self, name, op, pattern, assigns, width, group):
        self.name, self.op, self.assigns, self.width, self.group = name, op, assigns, width, group
        self.mask = self.match = 0
        self.fields = {}
        bit = width
        for tok in pattern.replace("|", " ").split():
            if tok in ("0", "1", "-"):
                bit -= 1
                if tok != "-":
                    self.mask |= 1 << bit
                    self.match |= int(tok) << bit
            else:
                fname, n = tok.split(":")
                bit -= int(n)
                self.fields.setdefault(fname, []).append((bit, int(n)))
        if bit != 0:
            raise ValueError(f"{name}: pattern is {width - bit} bits, expected {width}")

    def overlaps(self, other):
        """Some instruction matches both: the bits both patterns fix agree."""
        return (self.mask & other.mask & (self.match ^ other.match)) == 0


class OverlapError(ValueError):
    pass


def parse(text, width):
    """The table's encodings, each with the number of its `{ }` group (None outside any)."""
    out = []
    group = None
    ngroups = 0
    for line in text.strip().splitlines():
        line = line.split("#", 1)[0].strip()
        if line == "{":
            if group is not None:
                raise ValueError("nested overlap groups")
            ngroups += 1
            group = ngroups
        elif line == "}":
            if group is None:
                raise ValueError("'}' outside an overlap group")
            group = None
        elif line:
            name, op, rest = line.split(None, 2)
            toks = rest.split()
            pat = [t for t in toks if "=" not in t]
            assigns = [t for t in toks if "=" in t]
            out.append(Encoding(name, op, " ".join(pat), assigns, width, group))
    if group is not None:
        raise ValueError("unclosed overlap group")
    return out


def check_overlaps(encs):
    """Only encodings of one group may overlap (its order resolves them); any other overlap is a table error."""
    for i, a in enumerate(encs):
        for b in encs[i + 1:]:
            if a.overlaps(b) and (a.group is None or a.group != b.group):
                raise OverlapError(f"{a.name} and {b.name} overlap outside an overlap group")


def field_expr(enc, var):
    """C expression extracting each field (concatenated pieces) from `var`."""
    exprs = {}
    for fname, pieces in enc.fields.items():
        total = sum(w for _, w in pieces)
        parts = []
        for lsb, w in pieces:
            total -= w
            piece = f"((({var}) >> {lsb}) & {(1 << w) - 1}u)"
            parts.append(f"({piece} << {total})" if total else piece)
        exprs[fname] = "(" + " | ".join(parts) + ")"
    return exprs


def c_value(expr, fields):
    """Translate an assignment's right-hand side into C: field names become their extraction."""
    def sub(m):
        word = m.group(0)
        return fields.get(word, word)
    expr = expr.replace("|", " | ")
    return re.sub(r"\b[A-Za-z_][A-Za-z0-9_]*\b", sub, expr)


def flags_expr(val, fields):
    # "P|U*U|W*W": a bare name is always set, NAME*field sets it when the field is 1
    terms = []
    for term in val.split("|"):
        if "*" in term:
            flag, fld = term.split("*")
            terms.append(f"({fields[fld]} * {FLAGS[flag]}u)")
        else:
            terms.append(f"{FLAGS[term]}u")
    return " | ".join(terms)


def gen_case(enc, var):
    fields = field_expr(enc, var)
    lines = [f"d.op = OP_{enc.op}"]
    for a in enc.assigns:
        key, val = a.split("=", 1)
        if key == "flags":
            lines.append(f"d.flags = {flags_expr(val, fields)}")
        elif key == "shift":
            m = re.fullmatch(r"imm_shift\((.+),(.+)\)", val)
            lines.append(f"imm_shift(d, {c_value(m.group(1), fields)}, {c_value(m.group(2), fields)})")
        elif key == "imm" and val.startswith("expand_imm("):
            inner = val[len("expand_imm("):-1]
            lines.append(f"expand_imm(d, {c_value(inner, fields)})")
        elif key == "imm" and val.startswith("branch_t"):
            m = re.fullmatch(r"(branch_t[34])\((.+)\)", val)
            args = ", ".join(c_value(x, fields) for x in m.group(2).split(","))
            lines.append(f"d.imm = {m.group(1)}({args})")
        elif key == "imm" and val.startswith("sext("):
            m = re.fullmatch(r"sext\((.+),(\d+)\)", val)
            lines.append(f"d.imm = sext({c_value(m.group(1), fields)}, {m.group(2)})")
        elif key == "imm" and val.startswith("-"):
            lines.append(f"d.imm = <uint32_t>(-<int32_t>{c_value(val[1:], fields)})")
        else:
            lines.append(f"d.{key} = {c_value(val, fields)}")
    return lines


def gen_decoder(encs, var, digits):
    out = []
    for enc in encs:
        out.append(f"    if ({var} & 0x{enc.mask:0{digits}x}u) == 0x{enc.match:0{digits}x}u:  # {enc.name}")
        if enc.op == "UNDEF":
            out.append("        return 0")
            continue
        out += ["        " + s for s in gen_case(enc, var)]
        out.append("        return 1")
    out.append("    return 0")
    return out


HEADER = "# Generated by setup.py (cpu.isa.generate) from src/cpu/isa.py: do not edit."


def generate(t16=T16, t32=T32):
    """The generated sources, {file name in src/cpu: text}: the decoder (decode_table.pxi), the op enum
    (ops.pxi, for decode.pxd) and the executor's dispatch on it (dispatch.pxi: execute(), one call per page)."""
    t16, t32 = parse(t16, 16), parse(t32, 32)
    check_overlaps(t16)
    check_overlaps(t32)
    pages = sorted({e.op for e in t16 + t32} - {"UNDEF"})
    names = ["UNDECODED", "UNDEFINED"] + pages   # OP_UNDECODED marks an empty icache slot and must be 0
    table = [HEADER, "",
             "cdef int decode16(uint32_t hw, insn_t* d) noexcept nogil:",
             "    \"\"\"Decode a 16-bit Thumb instruction; 0 if UNDEFINED.\"\"\""]
    table += gen_decoder(t16, "hw", 4)
    table += ["", "",
              "cdef int decode32(uint32_t w, insn_t* d) noexcept nogil:",
              "    \"\"\"Decode a 32-bit Thumb instruction (first halfword in bits 31..16); 0 if UNDEFINED.\"\"\""]
    table += gen_decoder(t32, "w", 8)
    table += ["", "", "OP_NAMES = [" + ", ".join(f'"{n}"' for n in names) + "]"]
    ops = [HEADER, "# One op per instruction page of the ARM ARM; the encodings of a page share it.", "",
           "cdef enum:"]
    ops += [f"    OP_{n}" for n in names] + ["    OP_COUNT"]
    dispatch = [HEADER, "", "",
                "cdef inline int execute(Core c, insn_t* d, uint32_t pc, bint in_it) except -1:",
                "    \"\"\"Run the page of d, the instruction at pc; nonzero ends the quantum.\"\"\"",
                "    cdef uint32_t op = d.op"]
    for i, n in enumerate(pages):
        dispatch += [f"    {'if' if i == 0 else 'elif'} op == OP_{n}:", f"        return {n}(c, d, pc, in_it)"]
    dispatch += ["    return UNDEFINED(c, d, pc, in_it)"]
    return {name: "\n".join(lines) + "\n" for name, lines in
            (("decode_table.pxi", table), ("ops.pxi", ops), ("dispatch.pxi", dispatch))}


if __name__ == "__main__":
    for name, text in generate().items():
        with open(os.path.join(sys.argv[1], name), "w") as f:
            f.write(text)
