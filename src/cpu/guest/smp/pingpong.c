/* pingpong [ROUNDS]: cores 0 and 1 hand a ball back and forth with atomic_cmpxchg, ROUNDS (default 100) times
 * each; prints the rounds and core 0's cycles per round.  Needs 2 cores; exit status 0 iff the ball came back. */
#include <stdio.h>
#include <stdlib.h>

#include "smp.h"

static atomic_t ball = ATOMIC_INIT(0);     /* even: core 0 holds it, odd: core 1 */
static unsigned rounds = 100;

static void play(void *arg)
{
    int me = (int)(unsigned)arg;
    for (unsigned i = 0; i < rounds; i++) {
        int mine = 2 * (int)i + me;
        while (atomic_cmpxchg(&ball, mine, mine + 1) != mine)
            cpu_relax();
    }
}

int main(int argc, char **argv)
{
    if (argc > 1)
        rounds = strtoul(argv[1], NULL, 0);
    if (smp_num_cpus() < 2) {
        fprintf(stderr, "pingpong: needs 2 cores\n");
        return 2;
    }
    uint32_t t0 = smp_cycles();
    if (smp_start_cpu(1, play, (void *)1)) {
        fprintf(stderr, "pingpong: cannot start core 1\n");
        return 2;
    }
    play((void *)0);
    smp_wait_cpu(1);
    uint32_t t = smp_cycles() - t0;
    printf("pingpong %u rounds, ball %d, %lu cycles per round on cpu 0\n", rounds, atomic_read(&ball),
           rounds ? (unsigned long)(t / rounds) : 0ul);
    return atomic_read(&ball) == (int)(2 * rounds) ? 0 : 1;
}
