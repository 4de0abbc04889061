/* litmus_granule [ITERATIONS]: core 1 calls litmus_movw, a word-aligned 32-bit MOVW r0 alone in its icache
 * line, ITERATIONS times, invalidating the line (flush_icache_range) and waiting before each call; core 0
 * meanwhile rewrites the MOVW back and forth with single word stores (#1 <-> #0x1002).  Prints "torn N of
 * ITERATIONS": calls that returned a mix of the two (2 or 0x1001).  T32 fetch is single-copy atomic per
 * halfword only (Arm ARM E2.2.1): possible with the halfword granule, never with the word or line granule. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "smp.h"

#define OLD 0x0001f240u     /* movw r0, #1 */
#define NEW 0x0002f241u     /* movw r0, #0x1002 */

int litmus_movw(void);
__asm__(".syntax unified\n.thumb\n.text\n.balign 32\n.global litmus_movw\n.thumb_func\n.type litmus_movw, %function\n"
        "litmus_movw:\n\tmovw r0, #1\n\tbx lr\n.balign 32\n");

static unsigned iterations = 40, torn;
static volatile unsigned done;

static void runner(void *arg)
{
    uintptr_t a = (uintptr_t)litmus_movw & ~(uintptr_t)1;
    (void)arg;
    for (unsigned i = 0; i < iterations; i++) {
        flush_icache_range(a, a + 8);
        for (volatile unsigned d = 0; d < 10; d++)
            ;
        int r = litmus_movw();
        if (r != 1 && r != 0x1002)
            torn++;
    }
    done = 1;
}

int main(int argc, char **argv)
{
    volatile uint32_t *insn = (volatile uint32_t *)((uintptr_t)litmus_movw & ~(uintptr_t)1);
    if (argc > 1)
        iterations = strtoul(argv[1], 0, 0);
    if (smp_num_cpus() < 2) {
        fprintf(stderr, "litmus_granule needs 2 cores\n");
        return 2;
    }
    smp_start_cpu(1, runner, 0);
    for (unsigned j = 0; !done; j++) {
        *insn = (j & 1) ? OLD : NEW;
        for (volatile unsigned d = 0; d < 5; d++)
            ;
    }
    smp_wait_cpu(1);
    printf("torn %u of %u\n", torn, iterations);
    return 0;
}
