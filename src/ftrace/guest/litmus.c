/* litmus [ITERS]: the exhaustive checker's workload (src/ftrace/explore/verify.py).  Core 0 starts every other core
 * on worker(cpu) and waits; each worker calls the traced lit_a() and lit_b() ITERS times (default 2), counting
 * its calls in litmus_calls[cpu] just before each call.  Every datum a worker writes is its own (its counter,
 * its sink slot, its stack), so two workers' steps commute unless they meet in ftrace.
 *
 * lit_a's mcount BL straddles a 32-byte icache line: the top-level asm pads .text so that lit_a starts 28 bytes
 * into a line (-fno-toplevel-reorder keeps the order), its `push {lr}` at +28 and its BL at +30..+33.  lit_b's
 * site lies inside one line.  main and worker are notrace: the two sites are the only ones. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "smp.h"

#define MAX_CPUS 8
#define SLOT 8          /* words per core: no two cores' data share a word */

volatile unsigned litmus_calls[MAX_CPUS * SLOT];
volatile unsigned litmus_sink[MAX_CPUS * SLOT];
static unsigned iters = 2;

__asm__(".text\n.balign 32\n.space 28\n");

__attribute__((noinline)) void lit_a(unsigned cpu)
{
    litmus_sink[cpu * SLOT] += cpu;
}

__attribute__((noinline)) void lit_b(unsigned cpu)
{
    litmus_sink[cpu * SLOT + 1] += 1;
}

__attribute__((no_instrument_function)) static void worker(void *arg)
{
    unsigned cpu = (unsigned)(uintptr_t)arg;
    for (unsigned i = 0; i < iters; i++) {
        litmus_calls[cpu * SLOT]++;
        lit_a(cpu);
        litmus_calls[cpu * SLOT]++;
        lit_b(cpu);
    }
}

__attribute__((no_instrument_function)) int main(int argc, char **argv)
{
    unsigned n = smp_num_cpus();
    if (argc > 1)
        iters = strtoul(argv[1], NULL, 0);
    if (n > MAX_CPUS)
        n = MAX_CPUS;
    for (unsigned c = 1; c < n; c++)
        smp_start_cpu(c, worker, (void *)(uintptr_t)c);
    for (unsigned c = 1; c < n; c++)
        smp_wait_cpu(c);
    unsigned total = 0;
    for (unsigned c = 1; c < n; c++)
        total += litmus_calls[c * SLOT];
    printf("litmus calls %u\n", total);
    return 0;
}
