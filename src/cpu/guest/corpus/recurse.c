/* Recursion: Ackermann, Towers of Hanoi, Fibonacci, N-Queens, permutations, mutual recursion and a
   recursive-descent expression evaluator. */
#include <stdio.h> /* first: newlib PRI*64 need <sys/_stdint.h>, which gcc's <stdint.h> skips */
#include <inttypes.h>
#include <stdint.h>

static uint32_t calls;

static uint32_t ackermann(uint32_t m, uint32_t n)
{
    calls++;
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

static uint32_t hanoi_moves, hanoi_sig;

static void hanoi(int n, int from, int to, int via)
{
    if (n == 0)
        return;
    hanoi(n - 1, from, via, to);
    hanoi_moves++;
    hanoi_sig = hanoi_sig * 31u + (uint32_t)(n * 9 + from * 3 + to);
    hanoi(n - 1, via, to, from);
}

static uint32_t fib(uint32_t n)
{
    calls++;
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static int queens(int row, int n, uint32_t cols, uint32_t d1, uint32_t d2)
{
    if (row == n)
        return 1;
    int count = 0;
    for (int c = 0; c < n; c++) {
        uint32_t bc = 1u << c, b1 = 1u << (row + c), b2 = 1u << (row - c + n - 1);
        if ((cols & bc) || (d1 & b1) || (d2 & b2))
            continue;
        count += queens(row + 1, n, cols | bc, d1 | b1, d2 | b2);
    }
    return count;
}

static uint32_t perm_count, perm_sig;

static void permute(int *a, int k, int n)
{
    if (k == n) {
        int fixed = 0;
        for (int i = 0; i < n; i++)
            fixed += a[i] == i;
        if (fixed == 0) {
            perm_count++;
            for (int i = 0; i < n; i++)
                perm_sig = perm_sig * 7u + (uint32_t)a[i];
        }
        return;
    }
    for (int i = k; i < n; i++) {
        int t = a[k]; a[k] = a[i]; a[i] = t;
        permute(a, k + 1, n);
        t = a[k]; a[k] = a[i]; a[i] = t;
    }
}

static int is_odd(uint32_t n);

static int is_even(uint32_t n)
{
    return n == 0 ? 1 : is_odd(n - 1);
}

static int is_odd(uint32_t n)
{
    return n == 0 ? 0 : is_even(n - 1);
}

/* expr := term (('+'|'-') term)* ; term := factor (('*'|'/'|'%') factor)* ; factor := num | '-' factor | '(' expr ')' */
static const char *src;
static int parse_error;

static int32_t expr(void);

static int32_t factor(void)
{
    while (*src == ' ')
        src++;
    if (*src == '-') {
        src++;
        return -factor();
    }
    if (*src == '(') {
        src++;
        int32_t v = expr();
        while (*src == ' ')
            src++;
        if (*src == ')')
            src++;
        else
            parse_error = 1;
        return v;
    }
    if (*src < '0' || *src > '9') {
        parse_error = 1;
        return 0;
    }
    int32_t v = 0;
    while (*src >= '0' && *src <= '9')
        v = v * 10 + (*src++ - '0');
    return v;
}

static int32_t term(void)
{
    int32_t v = factor();
    for (;;) {
        while (*src == ' ')
            src++;
        char op = *src;
        if (op != '*' && op != '/' && op != '%')
            return v;
        src++;
        int32_t r = factor();
        if (op == '*')
            v *= r;
        else if (r == 0)
            parse_error = 1;
        else if (op == '/')
            v /= r;
        else
            v %= r;
    }
}

static int32_t expr(void)
{
    int32_t v = term();
    for (;;) {
        while (*src == ' ')
            src++;
        char op = *src;
        if (op != '+' && op != '-')
            return v;
        src++;
        int32_t r = term();
        v = op == '+' ? v + r : v - r;
    }
}

int main(void)
{
    uint32_t check = 0;
    for (uint32_t m = 0; m <= 3; m++) {
        for (uint32_t n = 0; n <= 5; n++) {
            calls = 0;
            uint32_t a = ackermann(m, n);
            printf("ack(%" PRIu32 ",%" PRIu32 ") = %" PRIu32 " [%" PRIu32 " calls]\n", m, n, a, calls);
            check += a + calls;
        }
    }
    static const int discs[] = {3, 10, 14};
    for (unsigned i = 0; i < sizeof discs / sizeof discs[0]; i++) {
        int n = discs[i];
        hanoi_moves = hanoi_sig = 0;
        hanoi(n, 0, 2, 1);
        printf("hanoi(%d): %" PRIu32 " moves, sig %08" PRIx32 "\n", n, hanoi_moves, hanoi_sig);
        check ^= hanoi_sig;
    }
    calls = 0;
    uint32_t f = fib(20);
    printf("fib(20) = %" PRIu32 " [%" PRIu32 " calls]\n", f, calls);
    check += f;
    for (int n = 4; n <= 8; n++) {
        int q = queens(0, n, 0, 0, 0);
        printf("queens(%d) = %d\n", n, q);
        check += (uint32_t)q;
    }
    int a[7] = {0, 1, 2, 3, 4, 5, 6};
    permute(a, 0, 7);
    printf("derangements(7) = %" PRIu32 ", sig %08" PRIx32 "\n", perm_count, perm_sig);
    check ^= perm_sig;
    printf("is_even(1001) = %d, is_odd(777) = %d\n", is_even(1001), is_odd(777));
    static const char *const exprs[] = {
        "1 + 2 * 3", "(1 + 2) * 3", "-(4 - 10) * (7 % 4) / 2", "((((((42))))))",
        "100 / 7 - 100 % 7 * -3", "2 * (3 + 4 * (5 - 6 * (7 + 8)))", "1 / 0", "(1 + 2",
    };
    for (unsigned i = 0; i < sizeof exprs / sizeof exprs[0]; i++) {
        src = exprs[i];
        parse_error = 0;
        int32_t v = expr();
        if (*src != '\0')
            parse_error = 1;
        if (parse_error)
            printf("%-34s => error\n", exprs[i]);
        else
            printf("%-34s => %" PRId32 "\n", exprs[i], v);
        check += (uint32_t)v;
    }
    printf("check %08" PRIx32 "\n", check);
    return (int)(check & 0x7f);
}
