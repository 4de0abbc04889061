/* restart [ROUNDS [CALLS]]: core 1 is started ROUNDS times (default 2, at most 8); each time it calls the traced
 * branch(), which calls leaf() twice, CALLS times (default 200) and returns, so between two rounds core 1 is
 * stopped with its icache as it left it.  Core 0 starts round r only once the host has set `restart_go` to r or
 * more, so the host can change the code while core 1 is stopped.  restart_calls[r] counts core 1's calls of
 * branch and leaf in round r, for checking a trace against. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "smp.h"

#define MAX_ROUNDS 8

volatile unsigned restart_go;               /* written by the host */
unsigned restart_calls[MAX_ROUNDS];
static unsigned calls_per_round = 200;
static volatile unsigned sink;

__attribute__((noinline)) void leaf(unsigned x)
{
    sink += x;
}

__attribute__((noinline)) void branch(unsigned x)
{
    leaf(x);
    leaf(x + 1);
}

static void worker(void *arg)
{
    unsigned round = (unsigned)(uintptr_t)arg;
    for (unsigned i = 0; i < calls_per_round; i++) {
        branch(i);
        restart_calls[round] += 3;
    }
}

int main(int argc, char **argv)
{
    unsigned rounds = argc > 1 ? strtoul(argv[1], NULL, 0) : 2;
    if (argc > 2)
        calls_per_round = strtoul(argv[2], NULL, 0);
    if (rounds > MAX_ROUNDS || smp_num_cpus() < 2) {
        fprintf(stderr, "restart: at most %u rounds on at least 2 cores\n", MAX_ROUNDS);
        return 2;
    }
    for (unsigned r = 0; r < rounds; r++) {
        while (restart_go < r)
            ;
        int e = smp_start_cpu(1, worker, (void *)(uintptr_t)r);
        if (e) {
            fprintf(stderr, "restart: smp_start_cpu(1) = %d\n", e);
            return 2;
        }
        smp_wait_cpu(1);
    }
    for (unsigned r = 0; r < rounds; r++)
        printf("round %u calls %u\n", r, restart_calls[r]);
    return 0;
}
