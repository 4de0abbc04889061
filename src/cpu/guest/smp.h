/* smp.h: the SMP runtime of the simulated Thumb-2 (ARMv7-M) machine, for newlib programs built with
 * --specs=rdimon.specs and linked with lib/libsmp.a (see `python -m cpu cflags` / `ldflags`).
 *
 * main() runs on core 0; the other cores stay powered down until smp_start_cpu() starts one on a function,
 * with its own stack (64 KiB below core 0's 1 MiB at the top of RAM).  A started core stops when its function
 * returns; the whole run ends when any core exits (main returning on core 0, or exit()).
 *
 * newlib is built single-threaded: stdio, malloc and errno are shared by every core and not locked, so
 * serialise their use with a spinlock.
 *
 * Memory map (src/cpu/memmap.py):
 *   0x40000000 SMP block, 32-bit registers at these offsets:
 *     0x00 CPU_ID    R  the reading core's number
 *     0x04 NUM_CPUS  R  number of cores
 *     0x08 CYCLES    R  the reading core's cycle counter (low 32 bits)
 *     0x10 BOOT_PC   W  entry (Thumb bit set) staged for the next START (staging is per reading core)
 *     0x14 BOOT_SP   W  stack top staged for the next START (0: the core's default stack)
 *     0x18 BOOT_ARG  W  r0 staged for the next START
 *     0x1C START     W  start core n with the staged values; R: the result (0, or SMP_E*)
 *     0x100 + 4n     R  STATE of core n (SMP_CPU_OFF, SMP_CPU_RUNNING, SMP_CPU_STOPPED)
 *   0xE000EF50 ICIALLU  W  invalidate this core's whole icache
 *   0xE000EF58 ICIMVAU  W  invalidate the icache line holding the written address (this core only)
 *   0xE000EF64 DCCMVAU  W  clean the data line holding the written address to the PoU (a no-op on the ideal
 *                          machine; on a relaxed model fills are sure to see code only after it and a DSB)
 *
 * Each core's icache is not coherent with memory: after writing code, a core must invalidate the range in its
 * own icache (flush_icache_range) and other cores must do the same on theirs before executing it.
 *
 * Every function here is no_instrument_function, so programs built with -pg do not trace the runtime.
 */
#ifndef SMP_H
#define SMP_H

#include <stdint.h>

#define SMP_BASE        0x40000000u
#define SMP_CPU_ID      0x00u
#define SMP_NUM_CPUS    0x04u
#define SMP_CYCLES      0x08u
#define SMP_BOOT_PC     0x10u
#define SMP_BOOT_SP     0x14u
#define SMP_BOOT_ARG    0x18u
#define SMP_START       0x1Cu
#define SMP_STATE(n)    (0x100u + 4u * (n))
#define SMP_REG(off)    (*(volatile uint32_t *)(SMP_BASE + (off)))

#define SCS_ICIALLU     0xE000EF50u
#define SCS_ICIMVAU     0xE000EF58u
#define SCS_DCCMVAU     0xE000EF64u
#define SMP_ICACHE_LINE 32u

/* smp_cpu_state() */
#define SMP_CPU_OFF     0
#define SMP_CPU_RUNNING 1
#define SMP_CPU_STOPPED 2

/* smp_start_cpu() errors (the START register's read-back) */
#define SMP_ENOCPU      (-1)    /* no such core, or core 0 */
#define SMP_EBUSY       (-2)    /* the core is running */
#define SMP_EPC         (-3)    /* fn without the Thumb bit */

#define SMP_NOTRACE     __attribute__((no_instrument_function))
#define SMP_INLINE      static inline __attribute__((always_inline, no_instrument_function))

#ifdef __cplusplus
extern "C" {
#endif

unsigned smp_processor_id(void) SMP_NOTRACE;
unsigned smp_num_cpus(void) SMP_NOTRACE;
/* The calling core's cycle counter (low 32 bits). */
uint32_t smp_cycles(void) SMP_NOTRACE;
/* Start core `cpu` on fn(arg) with its default stack; it stops when fn returns.  0 or SMP_E*. */
int smp_start_cpu(unsigned cpu, void (*fn)(void *), void *arg) SMP_NOTRACE;
/* SMP_CPU_OFF, SMP_CPU_RUNNING or SMP_CPU_STOPPED; -1 for no such core. */
int smp_cpu_state(unsigned cpu) SMP_NOTRACE;
/* Spin until core `cpu` is not running (stopped, or never started); its writes are then visible. */
void smp_wait_cpu(unsigned cpu) SMP_NOTRACE;
/* Make code written to [start, end) fetchable on this core, as Linux's v7m_coherent_user_range: DCCMVAU per
 * 32-byte line, dsb, ICIMVAU per line, dsb, isb.  ICIMVAU is local on v7-M: other cores flush their own. */
void flush_icache_range(unsigned long start, unsigned long end) SMP_NOTRACE;
/* Invalidate this core's whole icache (ICIALLU), then dsb; isb. */
void flush_icache_all(void) SMP_NOTRACE;

#ifdef __cplusplus
}
#endif

/* ---- barriers ---- */

SMP_INLINE void smp_mb(void)
{
    __asm__ volatile("dmb ish" ::: "memory");
}

SMP_INLINE void cpu_relax(void)
{
    __asm__ volatile("yield" ::: "memory");
}

/* ---- spinlocks (test-and-set on LDREX/STREX, as Linux's ARMv6 arch_spin_lock) ---- */

typedef struct {
    volatile uint32_t lock;     /* 0 free, 1 held */
} spinlock_t;

#define SPIN_LOCK_UNLOCKED { 0 }

SMP_INLINE void spin_lock_init(spinlock_t *l)
{
    l->lock = 0;
}

SMP_INLINE void spin_lock(spinlock_t *l)
{
    uint32_t tmp;
    __asm__ volatile(
        "1:     ldrex   %0, [%1]\n"
        "       cmp     %0, #0\n"
        "       itt     eq\n"
        "       strexeq %0, %2, [%1]\n"
        "       cmpeq   %0, #0\n"
        "       bne     1b\n"
        : "=&r"(tmp)
        : "r"(&l->lock), "r"(1)
        : "cc", "memory");
    smp_mb();
}

/* 1 if the lock was taken, 0 if it is held (never fails spuriously). */
SMP_INLINE int spin_trylock(spinlock_t *l)
{
    uint32_t tmp;
    __asm__ volatile(
        "1:     ldrex   %0, [%1]\n"
        "       cmp     %0, #0\n"
        "       bne     2f\n"
        "       strex   %0, %2, [%1]\n"
        "       cmp     %0, #0\n"
        "       bne     1b\n"
        "       movs    %0, #1\n"
        "       b       3f\n"
        "2:     clrex\n"
        "       movs    %0, #0\n"
        "3:\n"
        : "=&r"(tmp)
        : "r"(&l->lock), "r"(1)
        : "cc", "memory");
    smp_mb();
    return (int)tmp;
}

SMP_INLINE void spin_unlock(spinlock_t *l)
{
    smp_mb();
    l->lock = 0;
}

/* ---- atomics (fully ordered where they return a value, as Linux's) ---- */

typedef struct {
    volatile int counter;
} atomic_t;

#define ATOMIC_INIT(i) { (i) }

SMP_INLINE int atomic_read(const atomic_t *v)
{
    return v->counter;
}

SMP_INLINE void atomic_set(atomic_t *v, int i)
{
    v->counter = i;
}

/* Add i without ordering other accesses. */
SMP_INLINE void atomic_add(int i, atomic_t *v)
{
    int result;
    uint32_t tmp;
    __asm__ volatile(
        "1:     ldrex   %0, [%2]\n"
        "       add     %0, %0, %3\n"
        "       strex   %1, %0, [%2]\n"
        "       cmp     %1, #0\n"
        "       bne     1b\n"
        : "=&r"(result), "=&r"(tmp)
        : "r"(&v->counter), "r"(i)
        : "cc", "memory");
}

SMP_INLINE int atomic_add_return(int i, atomic_t *v)
{
    int result;
    uint32_t tmp;
    smp_mb();
    __asm__ volatile(
        "1:     ldrex   %0, [%2]\n"
        "       add     %0, %0, %3\n"
        "       strex   %1, %0, [%2]\n"
        "       cmp     %1, #0\n"
        "       bne     1b\n"
        : "=&r"(result), "=&r"(tmp)
        : "r"(&v->counter), "r"(i)
        : "cc", "memory");
    smp_mb();
    return result;
}

SMP_INLINE void atomic_inc(atomic_t *v)
{
    atomic_add(1, v);
}

SMP_INLINE void atomic_dec(atomic_t *v)
{
    atomic_add(-1, v);
}

/* If v == old, set it to new; returns the value v held. */
SMP_INLINE int atomic_cmpxchg(atomic_t *v, int old, int new_)
{
    int prev;
    uint32_t res;
    smp_mb();
    __asm__ volatile(
        "1:     ldrex   %0, [%2]\n"
        "       cmp     %0, %3\n"
        "       bne     2f\n"
        "       strex   %1, %4, [%2]\n"
        "       cmp     %1, #0\n"
        "       bne     1b\n"
        "       b       3f\n"
        "2:     clrex\n"
        "3:\n"
        : "=&r"(prev), "=&r"(res)
        : "r"(&v->counter), "r"(old), "r"(new_)
        : "cc", "memory");
    smp_mb();
    return prev;
}

#endif /* SMP_H */
