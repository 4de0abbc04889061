/* hello_smp: every core says hello; stdio is serialised with a spinlock (newlib's is not thread-safe). */
#include <stdio.h>

#include "smp.h"

static spinlock_t io_lock = SPIN_LOCK_UNLOCKED;

static void hello(void *arg)
{
    (void)arg;
    spin_lock(&io_lock);
    printf("hello from cpu %u of %u\n", smp_processor_id(), smp_num_cpus());
    fflush(stdout);
    spin_unlock(&io_lock);
}

int main(void)
{
    unsigned n = smp_num_cpus();
    for (unsigned cpu = 1; cpu < n; cpu++)
        smp_start_cpu(cpu, hello, NULL);
    hello(NULL);
    for (unsigned cpu = 1; cpu < n; cpu++)
        smp_wait_cpu(cpu);
    printf("%u cores said hello\n", n);
    return 0;
}
