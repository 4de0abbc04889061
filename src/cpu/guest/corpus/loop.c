/* Benchmark: tight xorshift + multiply-accumulate loop, iterations from argv[1] (default 2000000). */
#include <stdio.h> /* first: newlib PRI*64 need <sys/_stdint.h>, which gcc's <stdint.h> skips */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    uint32_t iters = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 2000000;
    uint32_t x = 2463534242u, acc = 0;
    for (uint32_t i = 0; i < iters; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        acc += x * 2654435761u;
    }
    printf("loop(%" PRIu32 ") = %08" PRIx32 " %08" PRIx32 "\n", iters, x, acc);
    return (int)(acc & 0x7f);
}
