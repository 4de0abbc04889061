/* setjmp/longjmp: unwinding out of deep recursion (odd limits throw, even ones return), nested handlers,
   longjmp(env, 0) returning 1, volatile locals surviving the jump, and a retry loop driven by longjmp. */
#include <stdio.h> /* first: newlib PRI*64 need <sys/_stdint.h>, which gcc's <stdint.h> skips */
#include <inttypes.h>
#include <setjmp.h>
#include <stdint.h>

static jmp_buf *handler;
static int thrown;
static uint32_t depth_reached, trace, returned;

static _Noreturn void throw_error(int code)
{
    thrown = code;
    trace = trace * 7u + (uint32_t)code;
    longjmp(*handler, code);
}

static uint32_t descend(uint32_t depth, uint32_t limit, uint32_t acc)
{
    depth_reached = depth;
    if (depth == limit && limit % 2 == 0)
        return acc;
    if (depth == limit)
        throw_error((int)(acc % 97) + 1);
    return descend(depth + 1, limit, acc * 31u + depth) + 1;
}

/* Runs fn under a fresh handler; returns the code thrown, or 0 if fn returned normally. */
static int try_call(void (*fn)(int), int arg)
{
    jmp_buf env, *saved = handler;
    int rc = 0;
    if (setjmp(env) == 0) {
        handler = &env;
        fn(arg);
    } else {
        rc = thrown;
    }
    handler = saved;
    return rc;
}

static void run_descend(int limit)
{
    returned = descend(0, (uint32_t)limit, 17);
}

static void inner(int arg)
{
    if (arg % 3 == 0)
        throw_error(100 + arg);
}

static void outer(int arg)
{
    int rc = try_call(inner, arg);
    trace = trace * 5u + (uint32_t)rc;
    if (rc && arg % 2 == 0)
        throw_error(rc + 1000);
}

int main(void)
{
    static const int limits[] = {1, 400, 801, 1200, 2001};
    for (unsigned i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        returned = 0;
        int rc = try_call(run_descend, limits[i]);
        printf("descend(limit %4d): thrown %d, returned %08" PRIx32 " at depth %" PRIu32 "\n", limits[i], rc,
               returned, depth_reached);
    }

    for (int arg = 0; arg < 8; arg++)
        printf("nested(%d) -> %d\n", arg, try_call(outer, arg));

    jmp_buf env;
    switch (setjmp(env)) {
    case 0:
        longjmp(env, 0);
    case 1:
        puts("longjmp(env, 0) makes setjmp return 1");
        break;
    default:
        puts("longjmp(env, 0) returned an unexpected value");
    }

    volatile int attempts = 0;
    volatile uint32_t acc = 1;
    handler = &env;
    thrown = 0;
    setjmp(env);
    attempts++;
    acc = acc * 3u + (uint32_t)thrown;
    if (attempts < 10)
        throw_error(attempts);
    printf("retry loop: %d attempts, last thrown %d, acc %" PRIu32 "\n", attempts, thrown, acc);
    printf("trace %08" PRIx32 "\n", trace);
    return (int)((trace ^ acc) & 0x7f);
}
