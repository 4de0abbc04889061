/* counter [ITERATIONS [CORES]]: each core adds ITERATIONS (default 1000) to three shared counters, one under a
 * spinlock, one atomically, one with plain loads and stores; CORES defaults to every core of the machine.
 * Exit status 0 iff the locked and atomic totals are exact; the racy one may lose updates. */
#include <stdio.h>
#include <stdlib.h>

#include "smp.h"

static spinlock_t lock = SPIN_LOCK_UNLOCKED;
static unsigned locked_total;
static atomic_t atomic_total = ATOMIC_INIT(0);
static volatile unsigned racy_total;
static unsigned iterations = 1000;

static void work(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < iterations; i++) {
        spin_lock(&lock);
        locked_total++;
        spin_unlock(&lock);
        atomic_inc(&atomic_total);
        racy_total = racy_total + 1;
    }
}

int main(int argc, char **argv)
{
    unsigned ncores = smp_num_cpus();
    if (argc > 1)
        iterations = strtoul(argv[1], NULL, 0);
    if (argc > 2)
        ncores = strtoul(argv[2], NULL, 0);
    if (ncores < 1 || ncores > smp_num_cpus()) {
        fprintf(stderr, "counter: %u cores asked, the machine has %u\n", ncores, smp_num_cpus());
        return 2;
    }
    for (unsigned cpu = 1; cpu < ncores; cpu++) {
        int r = smp_start_cpu(cpu, work, NULL);
        if (r) {
            fprintf(stderr, "counter: smp_start_cpu(%u) = %d\n", cpu, r);
            return 2;
        }
    }
    work(NULL);
    for (unsigned cpu = 1; cpu < ncores; cpu++)
        smp_wait_cpu(cpu);
    unsigned expect = ncores * iterations;
    printf("cores %u iterations %u expect %u\n", ncores, iterations, expect);
    printf("locked %u\natomic %d\nracy %u\n", locked_total, atomic_read(&atomic_total), racy_total);
    return locked_total == expect && (unsigned)atomic_read(&atomic_total) == expect ? 0 : 1;
}
