/* workload [ITERATIONS]: the multi-core -pg program dynamic ftrace is exercised on.
 *
 * Core 0 (main) starts cores 1..N-1 (N = smp_num_cpus()) on worker(), runs worker() itself, waits for the others
 * and prints, per core, a checksum of its results and its number of traced calls, then the total per traced
 * function over all cores.  Exit status 0 (1 if a core could not be started or the cores' call counts differ).
 *
 * ITERATIONS (default 32) is the number of rounds of the mix each core runs: about 0.7 M instructions per core
 * at -O2 (a 4-core run is 2.9-3.9 M instructions, depending on how long core 0 spins waiting), 1.8 M at -O0.
 * ITERATIONS 0 runs rounds until the host sets `workload_stop` (for live-patching runs; the output then depends
 * on when it was set).
 *
 * Every core does the same sequence of calls on its own data (seeded by its cpu number): its checksum depends
 * only on the cpu number and ITERATIONS, never on the interleaving, and its call counts do not depend on the
 * cpu number at all, so the per-function totals are N times a 1-core run's.
 *
 * Every function compiled here with -pg (so every mcount site of this file, main and worker included) counts
 * its own calls in workload_calls[cpu][F_...], a row per core written only by that core, so a test can
 * compare the events a tracer recorded (per function, per cpu) with what the guest counted.
 *
 * The traced functions cover the shapes the mcount-site analysis and the graph tracer must handle at -O2:
 *   fib           doubly recursive, push {r4, lr} prologue, returns with pop {r4, pc}
 *   sort_small    insertion sort, calls swap_ints (a leaf)
 *   hash_str      FNV-1a over a string
 *   interp_step   one step of a switch-based byte-code interpreter (a tbb/tbh jump table)
 *   big_frame     a large frame (stmdb sp!, {..., lr}; sub.w sp, sp, #n) that calls fill_buf
 *   leaf_mix      a leaf without a frame: push {lr} of the site at entry + 0, returns with bx lr
 *   tail_caller   ends in a tail call (b.w tail_target at -O2)
 *   pop_pc        a non-leaf that saves lr in its prologue (push {r3, lr}) and returns with pop {r3, pc}
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smp.h"

#define MAX_CPUS 32
#define NOINLINE __attribute__((noinline))
/* Inlined (always, even at -O0), so it is part of its caller and has no mcount site of its own. */
#define INLINE static inline __attribute__((always_inline))

enum {
    F_MAIN, F_WORKER, F_ROUND,
    F_FIB, F_SORT, F_SWAP, F_HASH, F_INTERP, F_BIG, F_FILL, F_LEAF, F_TAIL, F_TAIL_TARGET, F_POP_PC,
    F_POP_PC_INNER,
    NFUNCS
};

static const char *const func_names[NFUNCS] = {
    "main", "worker", "do_round",
    "fib", "sort_small", "swap_ints", "hash_str", "interp_step", "big_frame", "fill_buf", "leaf_mix",
    "tail_caller", "tail_target", "pop_pc", "pop_pc_inner",
};

/* Row per core; a core writes only its own row (no atomics needed, no interleaving dependence). */
unsigned workload_calls[MAX_CPUS][NFUNCS];
uint32_t workload_checksum[MAX_CPUS];
unsigned workload_iterations = 32;
volatile unsigned workload_stop;

/* The calling core's number straight from the SMP block: an inline load, no call (so leaf_mix stays a leaf). */
#define CPU() (SMP_REG(SMP_CPU_ID))
#define COUNT(f) (workload_calls[CPU()][f]++)

/* ---- the traced functions ---- */

NOINLINE unsigned fib(unsigned n)
{
    COUNT(F_FIB);
    if (n < 2)
        return n;
    unsigned a = fib(n - 1), b = fib(n - 2);
    /* Without this barrier gcc -O2 turns the second call into a loop (tail recursion with an accumulator): the
     * function would then be entered fewer times than it counts, and a tracer would see fewer calls. */
    __asm__("" : "+r"(b));
    return a + b;
}

NOINLINE void swap_ints(int *a, int *b)
{
    COUNT(F_SWAP);
    int t = *a;
    *a = *b;
    *b = t;
}

/* Insertion sort by adjacent swaps, except that it always makes n - 1 calls of swap_ints (swapping an element
 * with itself when it is already in place), so the call count does not depend on the data. */
NOINLINE void sort_small(int *a, int n)
{
    COUNT(F_SORT);
    for (int i = 1; i < n; i++) {
        int j = i;
        while (j > 0 && a[j - 1] > a[j]) {
            int t = a[j - 1];
            a[j - 1] = a[j];
            a[j] = t;
            j--;
        }
        swap_ints(&a[j], &a[j]);
    }
}

NOINLINE uint32_t hash_str(const char *s)
{
    COUNT(F_HASH);
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

/* A tiny stack machine; interp_step executes one instruction and returns the new pc (-1 to halt). */
enum { OP_PUSH, OP_ADD, OP_SUB, OP_MUL, OP_DUP, OP_SWAP, OP_OVER, OP_DROP, OP_JNZ, OP_DEC, OP_XOR, OP_ROT,
       OP_HALT };

struct vm {
    int32_t stack[16];
    int sp;
    const uint8_t *code;
};

NOINLINE int interp_step(struct vm *vm, int pc)
{
    COUNT(F_INTERP);
    int32_t *s = vm->stack;
    int32_t t;
    uint8_t op = vm->code[pc++];
    switch (op) {
    case OP_PUSH: s[vm->sp++] = (int8_t)vm->code[pc++]; break;
    case OP_ADD: vm->sp--; s[vm->sp - 1] += s[vm->sp]; break;
    case OP_SUB: vm->sp--; s[vm->sp - 1] -= s[vm->sp]; break;
    case OP_MUL: vm->sp--; s[vm->sp - 1] *= s[vm->sp]; break;
    case OP_DUP: s[vm->sp] = s[vm->sp - 1]; vm->sp++; break;
    case OP_SWAP: t = s[vm->sp - 1]; s[vm->sp - 1] = s[vm->sp - 2]; s[vm->sp - 2] = t; break;
    case OP_OVER: s[vm->sp] = s[vm->sp - 2]; vm->sp++; break;
    case OP_DROP: vm->sp--; break;
    case OP_JNZ: t = s[--vm->sp]; if (t) pc = vm->code[pc]; else pc++; break;
    case OP_DEC: s[vm->sp - 1]--; break;
    case OP_XOR: vm->sp--; s[vm->sp - 1] ^= s[vm->sp]; break;
    case OP_ROT: t = s[vm->sp - 1]; s[vm->sp - 1] = (int32_t)(((uint32_t)t << 5) | ((uint32_t)t >> 27)); break;
    case OP_HALT: default: return -1;
    }
    return pc;
}

/* Stack [acc]; for (n = 6; n; n--) acc = (rot5(acc * 3) ^ n) + n.  75 interp_step calls per run. */
static const uint8_t vm_program[] = {
    /*  0 */ OP_PUSH, 6,                /* [acc, n] */
    /*  2 */ OP_SWAP, OP_PUSH, 3, OP_MUL, /* [n, acc * 3] */
    /*  6 */ OP_ROT, OP_OVER, OP_XOR,   /* [n, r ^ n] */
    /*  9 */ OP_OVER, OP_ADD, OP_SWAP,  /* [acc', n] */
    /* 12 */ OP_DEC, OP_DUP, OP_JNZ, 2, /* [acc', n - 1], loop while n - 1 != 0 */
    /* 16 */ OP_DROP, OP_HALT,
};

INLINE int32_t run_vm(int32_t seed)
{
    struct vm vm = { .sp = 0, .code = vm_program };
    int pc = 0;
    vm.stack[vm.sp++] = seed;
    while ((pc = interp_step(&vm, pc)) >= 0)
        ;
    return vm.stack[0] * 31 + vm.sp;
}

NOINLINE void fill_buf(uint8_t *buf, unsigned n, unsigned seed)
{
    COUNT(F_FILL);
    for (unsigned i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
}

/* A big frame: many live values across calls (callee-saved r4-r11: stmdb sp!, {...}) and a 1 KiB buffer
 * (sub.w sp, sp, #...). */
NOINLINE uint32_t big_frame(unsigned seed)
{
    COUNT(F_BIG);
    uint8_t buf[1024];
    uint32_t a = seed, b = seed * 3, c = seed ^ 0x5555, d = seed + 77, e = seed * 7, f = seed >> 3, g = ~seed;
    uint32_t h = seed * 11, k = seed + 1;
    fill_buf(buf, 256, seed);
    for (int i = 0; i < 256; i += 4) {
        a += buf[i]; b ^= buf[i + 1] * a; c += b >> 3; d ^= c * 5; e += d + buf[i + 2];
        f ^= e << 1; g += f ^ buf[i + 3]; h ^= g * 3; k += h;
    }
    fill_buf(buf + 512, 64, a ^ k);
    return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ k ^ buf[512 + (k & 63)];
}

/* A leaf with no frame: gcc puts the site's push {lr} at entry + 0 and returns with bx lr. */
NOINLINE uint32_t leaf_mix(uint32_t x)
{
    COUNT(F_LEAF);
    x ^= x >> 13;
    x *= 0x5bd1e995u;
    return x ^ (x >> 15);
}

NOINLINE uint32_t tail_target(uint32_t x, uint32_t y)
{
    COUNT(F_TAIL_TARGET);
    return (x << 3) ^ (y * 2654435761u);
}

/* Ends in a tail call: at -O2 gcc emits b.w tail_target after the site, with no frame of its own. */
NOINLINE uint32_t tail_caller(uint32_t x)
{
    COUNT(F_TAIL);
    return tail_target(x + 1, x ^ 0xa5a5a5a5u);
}

NOINLINE uint32_t pop_pc_inner(uint32_t x)
{
    COUNT(F_POP_PC_INNER);
    return x * 2246822519u + 1;
}

/* A non-leaf with no callee-saved registers to speak of: push {r3, lr} ... pop {r3, pc}. */
NOINLINE uint32_t pop_pc(uint32_t x)
{
    COUNT(F_POP_PC);
    return pop_pc_inner(x) + 7;
}

/* ---- one round of the mix and the per-core driver ---- */

INLINE uint32_t rng_next(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return *state;
}

NOINLINE uint32_t do_round(uint32_t *state, unsigned r)
{
    COUNT(F_ROUND);
    uint32_t sum = 0;
    int arr[16];
    char str[24];

    sum += fib(10 + (r & 3));                   /* 177, 287, 465 or 753 calls */

    for (int i = 0; i < 16; i++)
        arr[i] = (int)(rng_next(state) >> 20);
    sort_small(arr, 16);
    for (int i = 0; i < 16; i++)
        sum = sum * 33 + (uint32_t)arr[i];

    for (int i = 0; i < 8; i++) {
        uint32_t v = rng_next(state);
        for (int j = 0; j < 23; j++)
            str[j] = (char)('a' + (v >> (j % 28)) % 26);
        str[23 - (i & 7)] = 0;
        sum ^= hash_str(str);
    }

    sum += (uint32_t)run_vm((int32_t)rng_next(state));
    sum ^= big_frame(rng_next(state));
    for (int i = 0; i < 32; i++) {
        sum += leaf_mix(sum + i);
        sum ^= tail_caller(sum);
        sum += pop_pc(sum);
    }
    return sum;
}

NOINLINE void worker(void *arg)
{
    COUNT(F_WORKER);
    unsigned cpu = (unsigned)(uintptr_t)arg;
    uint32_t state = 0x9e3779b9u * (cpu + 1);
    uint32_t sum = cpu;
    for (unsigned r = 0; workload_iterations ? r < workload_iterations : !workload_stop; r++)
        sum = sum * 0x01000193u ^ do_round(&state, r);
    workload_checksum[cpu] = sum;
}

int main(int argc, char **argv)
{
    unsigned ncpus = smp_num_cpus();
    int status = 0;

    COUNT(F_MAIN);
    if (argc > 1)
        workload_iterations = strtoul(argv[1], NULL, 0);
    if (ncpus > MAX_CPUS) {
        fprintf(stderr, "workload: %u cores, at most %u supported\n", ncpus, MAX_CPUS);
        return 1;
    }
    for (unsigned cpu = 1; cpu < ncpus; cpu++) {
        int r = smp_start_cpu(cpu, worker, (void *)(uintptr_t)cpu);
        if (r) {
            fprintf(stderr, "workload: smp_start_cpu(%u) = %d\n", cpu, r);
            return 1;
        }
    }
    worker((void *)0);
    for (unsigned cpu = 1; cpu < ncpus; cpu++)
        smp_wait_cpu(cpu);

    printf("workload: cores %u iterations %u\n", ncpus, workload_iterations);
    unsigned total = 0;
    for (unsigned cpu = 0; cpu < ncpus; cpu++) {
        unsigned n = 0;
        for (int f = 0; f < NFUNCS; f++)
            n += workload_calls[cpu][f];
        total += n;
        printf("cpu %u checksum 0x%08lx calls %u\n", cpu, (unsigned long)workload_checksum[cpu], n);
        /* every core made the same calls, except main (core 0 only); not when stopped by the host */
        for (int f = F_WORKER; f < NFUNCS && workload_iterations; f++)
            if (workload_calls[cpu][f] != workload_calls[0][f]) {
                printf("cpu %u: %s called %u times, cpu 0 %u\n", cpu, func_names[f], workload_calls[cpu][f],
                       workload_calls[0][f]);
                status = 1;
            }
    }
    for (int f = 0; f < NFUNCS; f++) {
        unsigned n = 0;
        for (unsigned cpu = 0; cpu < ncpus; cpu++)
            n += workload_calls[cpu][f];
        printf("func %s %u\n", func_names[f], n);
    }
    printf("total %u\n", total);
    return status;
}
