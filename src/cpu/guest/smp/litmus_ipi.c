/* litmus_ipi [MASK_FROM [MASK_LEN [LIMIT]]]: the guest of the IPI-latency and masking litmus tests
 * (tests/test_model.py).  Core 0 counts in `counter` until the host sets `stop` (or LIMIT counts, default 10000,
 * so that it also ends alone); from count MASK_FROM for MASK_LEN counts it runs with PRIMASK set (CPSID i), and
 * `masked` says so.  There is no guest IPI API: the tests' host agents send IPIs and record when they are taken. */
#include <stdlib.h>

volatile unsigned counter, masked, stop;

int main(int argc, char **argv)
{
    unsigned from = argc > 1 ? strtoul(argv[1], NULL, 0) : ~0u;
    unsigned len = argc > 2 ? strtoul(argv[2], NULL, 0) : 0;
    unsigned limit = argc > 3 ? strtoul(argv[3], NULL, 0) : 10000;
    while (!stop && counter < limit) {
        if (counter == from) {
            __asm__ volatile("cpsid i" ::: "memory");
            masked = 1;
        }
        if (counter == from + len) {
            masked = 0;
            __asm__ volatile("cpsie i" ::: "memory");
        }
        counter++;
    }
    return 0;
}
