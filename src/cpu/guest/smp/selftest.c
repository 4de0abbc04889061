/* selftest: checks the smp.h API on a machine of 2 or more cores: prints "ok NAME" or "FAIL NAME ...";
 * the exit status is the number of failures. */
#include <stdio.h>
#include <stdint.h>

#include "smp.h"

static int failures;

static void check(int ok, const char *name, long got, long want)
{
    if (ok)
        printf("ok %s\n", name);
    else {
        printf("FAIL %s: got %ld, want %ld\n", name, got, want);
        failures++;
    }
}

#define CHECK_EQ(name, got, want) do { long g_ = (long)(got), w_ = (long)(want); check(g_ == w_, name, g_, w_); } while (0)

struct probe {
    volatile int go;
    volatile unsigned id;
    volatile uintptr_t sp;
    volatile unsigned runs;
};

static void spinner(void *arg)
{
    struct probe *p = arg;
    int local;
    p->id = smp_processor_id();
    p->sp = (uintptr_t)&local;
    p->runs++;
    while (!p->go)
        cpu_relax();
}

/* movs r0, #n; bx lr */
static uint16_t code[16] __attribute__((aligned(32)));

static int run_code(int n, int flush)
{
    code[0] = 0x2000 | n;
    code[1] = 0x4770;
    if (flush == 1)
        flush_icache_range((unsigned long)code, (unsigned long)(code + 2));
    else if (flush == 2)
        flush_icache_all();
    return ((int (*)(void))((uintptr_t)code | 1))();
}

int main(void)
{
    unsigned n = smp_num_cpus();
    struct probe p = { 0 };
    int local;

    CHECK_EQ("processor_id", smp_processor_id(), 0);
    if (n < 2) {
        printf("FAIL num_cpus: %u, selftest needs 2 or more\n", n);
        return 1;
    }
    CHECK_EQ("state_off", smp_cpu_state(1), SMP_CPU_OFF);
    CHECK_EQ("state_main", smp_cpu_state(0), SMP_CPU_RUNNING);
    CHECK_EQ("state_no_such_cpu", smp_cpu_state(n), -1);
    CHECK_EQ("start_cpu0", smp_start_cpu(0, spinner, &p), SMP_ENOCPU);
    CHECK_EQ("start_no_such_cpu", smp_start_cpu(n, spinner, &p), SMP_ENOCPU);
    CHECK_EQ("start_even_pc", smp_start_cpu(1, (void (*)(void *))((uintptr_t)spinner & ~1u), &p), SMP_EPC);
    CHECK_EQ("state_still_off", smp_cpu_state(1), SMP_CPU_OFF);

    CHECK_EQ("start", smp_start_cpu(1, spinner, &p), 0);
    CHECK_EQ("state_running", smp_cpu_state(1), SMP_CPU_RUNNING);
    CHECK_EQ("start_running", smp_start_cpu(1, spinner, &p), SMP_EBUSY);
    p.go = 1;
    smp_wait_cpu(1);
    CHECK_EQ("state_stopped", smp_cpu_state(1), SMP_CPU_STOPPED);
    CHECK_EQ("secondary_id", p.id, 1);
    CHECK_EQ("secondary_own_stack", p.sp < (uintptr_t)&local - 4096, 1);
    CHECK_EQ("restart", smp_start_cpu(1, spinner, &p), 0);
    smp_wait_cpu(1);
    CHECK_EQ("restart_ran", p.runs, 2);

    spinlock_t l = SPIN_LOCK_UNLOCKED;
    CHECK_EQ("trylock_free", spin_trylock(&l), 1);
    CHECK_EQ("trylock_held", spin_trylock(&l), 0);
    spin_unlock(&l);
    spin_lock(&l);
    CHECK_EQ("lock", l.lock, 1);
    spin_unlock(&l);
    CHECK_EQ("unlock", l.lock, 0);

    atomic_t a = ATOMIC_INIT(5);
    CHECK_EQ("add_return", atomic_add_return(3, &a), 8);
    atomic_inc(&a);
    atomic_dec(&a);
    atomic_dec(&a);
    CHECK_EQ("inc_dec", atomic_read(&a), 7);
    CHECK_EQ("cmpxchg_hit", atomic_cmpxchg(&a, 7, 11), 7);
    CHECK_EQ("cmpxchg_hit_value", atomic_read(&a), 11);
    CHECK_EQ("cmpxchg_miss", atomic_cmpxchg(&a, 7, 13), 11);
    CHECK_EQ("cmpxchg_miss_value", atomic_read(&a), 11);

    uint32_t c0 = smp_cycles();
    CHECK_EQ("cycles_advance", smp_cycles() - c0 > 0, 1);

    CHECK_EQ("icache_range", run_code(42, 1), 42);
    printf("stale %d\n", run_code(7, 0));   /* the icache still holds the old line: 42 unless icache is off */
    CHECK_EQ("icache_range_after_stale", run_code(7, 1), 7);
    CHECK_EQ("icache_all", run_code(9, 2), 9);

    printf("selftest: %d failures\n", failures);
    return failures;
}
