/* litmus_pou [MODE [ITERATIONS]]: code written through the data side, then executed on the same core (the
 * issue's example; ESOP SM+cachesync-isb).  Each iteration stores a new MOVS r0 into litmus_ret, makes it
 * fetchable as MODE says and calls it:
 *   none  STRH; ICIMVAU; ISB                       (no clean, no DSB)
 *   nodc  STRH; ICIMVAU; DSB; ISB                  (no clean to the PoU)
 *   full  STRH; flush_icache_range                 (DCCMVAU; DSB; ICIMVAU; DSB; ISB)
 * Prints "stale N of ITERATIONS": calls that ran an older MOVS.  Ideal machine: never.  model pou: possible
 * under none and nodc; store_order: possible under none.  Under full: never, on any model. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smp.h"

int litmus_ret(void);
__asm__(".syntax unified\n.thumb\n.text\n.balign 32\n.global litmus_ret\n.thumb_func\n.type litmus_ret, %function\n"
        "litmus_ret:\n\tmovs r0, #1\n\tbx lr\n.balign 32\n");

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "full";
    unsigned iterations = argc > 2 ? strtoul(argv[2], 0, 0) : 20, stale = 0;
    volatile uint16_t *insn = (volatile uint16_t *)((uintptr_t)litmus_ret & ~(uintptr_t)1);
    uintptr_t a = (uintptr_t)insn;
    if (strcmp(mode, "none") && strcmp(mode, "nodc") && strcmp(mode, "full")) {
        fprintf(stderr, "usage: litmus_pou [none|nodc|full [ITERATIONS]]\n");
        return 2;
    }
    litmus_ret();                               /* its line is in the icache */
    for (unsigned i = 0; i < iterations; i++) {
        unsigned v = 2 + (i & 1);
        *insn = 0x2000 | v;                     /* movs r0, #v */
        if (!strcmp(mode, "full")) {
            flush_icache_range(a, a + 4);
        } else {
            *(volatile uint32_t *)SCS_ICIMVAU = a;
            if (!strcmp(mode, "nodc"))
                __asm__ volatile("dsb" ::: "memory");
            __asm__ volatile("isb" ::: "memory");
        }
        if (litmus_ret() != (int)v)
            stale++;
    }
    printf("stale %u of %u\n", stale, iterations);
    return 0;
}
