/* Benchmark: naive recursive Fibonacci, n from argv[1] (default 25). */
#include <stdio.h> /* first: newlib PRI*64 need <sys/_stdint.h>, which gcc's <stdint.h> skips */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

static uint32_t fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 25;
    uint32_t r = fib(n);
    printf("fib(%" PRIu32 ") = %" PRIu32 "\n", n, r);
    return (int)(r & 0x7f);
}
