/* litmus_prefetch [isb|noisb [ITERATIONS]]: a function rewrites an instruction a few bytes ahead of itself in
 * the same icache line (STRH; DCCMVAU; DSB; ICIMVAU; DSB; then ISB or not) and runs into it.  Instructions
 * fetched since the last context synchronization event may execute without being fetched again (Arm ARM
 * E2.5.3.2): without the ISB the old instruction may run (model prefetch), with it never.  Prints "stale N of
 * ITERATIONS". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smp.h"

/* r0: the new halfword for the target, r1: its address; returns what the target computes */
int pf_isb(unsigned insn, volatile uint16_t *target);
int pf_noisb(unsigned insn, volatile uint16_t *target);
extern uint16_t pf_isb_target[], pf_noisb_target[];
#define PF(name, sync) \
    ".balign 32\n.global " name "\n.thumb_func\n.type " name ", %function\n" name ":\n" \
    "\tstrh r0, [r1]\n\tmovw r2, #0xef58\n\tmovt r2, #0xe000\n\tstr r1, [r2, #12]\n\tdsb\n\tstr r1, [r2]\n\tdsb\n" \
    sync ".global " name "_target\n" name "_target:\n\tmovs r0, #1\n\tbx lr\n.balign 32\n"
__asm__(".syntax unified\n.thumb\n.text\n" PF("pf_isb", "\tisb\n") PF("pf_noisb", ""));

int main(int argc, char **argv)
{
    int isb = argc < 2 || !strcmp(argv[1], "isb");
    unsigned iterations = argc > 2 ? strtoul(argv[2], 0, 0) : 20, stale = 0;
    if (argc > 1 && strcmp(argv[1], "isb") && strcmp(argv[1], "noisb")) {
        fprintf(stderr, "usage: litmus_prefetch [isb|noisb [ITERATIONS]]\n");
        return 2;
    }
    for (unsigned i = 0; i < iterations; i++) {
        unsigned v = 2 + (i & 1);
        int r = isb ? pf_isb(0x2000 | v, pf_isb_target) : pf_noisb(0x2000 | v, pf_noisb_target);
        if (r != (int)v)
            stale++;
    }
    printf("stale %u of %u\n", stale, iterations);
    return 0;
}
