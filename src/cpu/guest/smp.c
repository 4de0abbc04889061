/* The SMP runtime behind smp.h: built into lib/libsmp.a (see the smp section of the Makefile). */
#include "smp.h"

/* START's read-back is one register for the whole machine: hold this from the write to the read. */
static spinlock_t start_lock = SPIN_LOCK_UNLOCKED;

unsigned smp_processor_id(void)
{
    return SMP_REG(SMP_CPU_ID);
}

unsigned smp_num_cpus(void)
{
    return SMP_REG(SMP_NUM_CPUS);
}

uint32_t smp_cycles(void)
{
    return SMP_REG(SMP_CYCLES);
}

int smp_start_cpu(unsigned cpu, void (*fn)(void *), void *arg)
{
    int r;
    spin_lock(&start_lock);
    SMP_REG(SMP_BOOT_PC) = (uint32_t)fn;
    SMP_REG(SMP_BOOT_ARG) = (uint32_t)arg;
    SMP_REG(SMP_BOOT_SP) = 0;
    smp_mb();   /* what the caller wrote before is visible to fn */
    SMP_REG(SMP_START) = cpu;
    r = (int)SMP_REG(SMP_START);
    spin_unlock(&start_lock);
    return r;
}

int smp_cpu_state(unsigned cpu)
{
    if (cpu >= smp_num_cpus())
        return -1;
    return (int)SMP_REG(SMP_STATE(cpu));
}

void smp_wait_cpu(unsigned cpu)
{
    while (smp_cpu_state(cpu) == SMP_CPU_RUNNING)
        cpu_relax();
    smp_mb();
}

void flush_icache_range(unsigned long start, unsigned long end)
{
    /* arch/arm/mm/cache-v7m.S v7m_coherent_user_range: the clean to the PoU must be complete before the
     * invalidate (Arm ARM E2.5.3.2), and the ISB makes this core fetch afresh */
    unsigned long first = start & ~(unsigned long)(SMP_ICACHE_LINE - 1), a;
    for (a = first; a < end; a += SMP_ICACHE_LINE)
        *(volatile uint32_t *)SCS_DCCMVAU = a;
    __asm__ volatile("dsb" ::: "memory");
    for (a = first; a < end; a += SMP_ICACHE_LINE)
        *(volatile uint32_t *)SCS_ICIMVAU = a;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}

void flush_icache_all(void)
{
    __asm__ volatile("dsb" ::: "memory");
    *(volatile uint32_t *)SCS_ICIALLU = 0;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}
