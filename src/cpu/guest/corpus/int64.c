/* 64-bit integer arithmetic: mul/div/mod (libgcc __aeabi_ldivmod/__aeabi_uldivmod), shifts by variable
   amounts, signed/unsigned compares, conversions, gcd, modular exponentiation and an integer sqrt. */
#include <stdio.h> /* first: newlib PRI*64 need <sys/_stdint.h>, which gcc's <stdint.h> skips */
#include <inttypes.h>
#include <stdint.h>

static uint64_t state = 0x0123456789abcdefull;

static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static uint64_t powmod(uint64_t b, uint64_t e, uint64_t m)
{
    uint64_t r = 1 % m;
    b %= m;
    while (e) {
        if (e & 1)
            r = r * b % m;
        b = b * b % m;
        e >>= 1;
    }
    return r;
}

static uint64_t isqrt(uint64_t n)
{
    uint64_t r = 0, bit = 1ull << 62;
    while (bit > n)
        bit >>= 2;
    while (bit) {
        if (n >= r + bit) {
            n -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

int main(void)
{
    uint64_t h = 0;
    static const int64_t sv[] = {0, 1, -1, 7, -7, 1000000007, -999999999999ll, INT64_MAX, INT64_MIN + 1,
                                 0x100000000ll, -0x123456789abll, 3};
    const int ns = (int)(sizeof sv / sizeof sv[0]);
    for (int i = 0; i < ns; i++) {
        for (int j = 0; j < ns; j++) {
            int64_t a = sv[i], b = sv[j];
            if (b == 0)
                continue;
            int64_t q = a / b, r = a % b;
            uint64_t uq = (uint64_t)a / (uint64_t)b, ur = (uint64_t)a % (uint64_t)b;
            h = mix(mix(mix(mix(h, (uint64_t)q), (uint64_t)r), uq), ur);
            if (i == j + 1 || i == 9)
                printf("%" PRId64 " /%% %" PRId64 " = %" PRId64 " r %" PRId64 "; unsigned %" PRIu64 " r %" PRIu64 "\n",
                       a, b, q, r, uq, ur);
            if (q * b + r != a)
                printf("identity failed for %" PRId64 ", %" PRId64 "\n", a, b);
        }
    }
    printf("table hash %016" PRIx64 "\n", h);

    uint64_t mulh = 0, divh = 0, shh = 0;
    int cmp_signed = 0, cmp_unsigned = 0;
    for (int i = 0; i < 2000; i++) {
        uint64_t a = next(), b = next();
        b >>= next() & 63;
        int64_t sa = (int64_t)a, sb = (int64_t)b;
        unsigned s = (unsigned)(a & 63);
        mulh = mix(mulh, a * b);
        mulh = mix(mulh, (uint64_t)((int64_t)(int32_t)a * (int64_t)(int32_t)(b | 1)));
        mulh = mix(mulh, (uint64_t)(uint32_t)a * (uint32_t)(a >> 32));
        if (b != 0) {
            divh = mix(divh, a / b);
            divh = mix(divh, a % b);
            if (!(sa == INT64_MIN && sb == -1)) {
                divh = mix(divh, (uint64_t)(sa / sb));
                divh = mix(divh, (uint64_t)(sa % sb));
            }
        }
        shh = mix(shh, a << s);
        shh = mix(shh, a >> s);
        shh = mix(shh, (uint64_t)(sa >> s));
        shh = mix(shh, a >> (64 - s) % 64 | a << s);
        cmp_signed += sa < sb;
        cmp_unsigned += a < b;
    }
    printf("mul %016" PRIx64 "\ndiv %016" PRIx64 "\nshift %016" PRIx64 "\n", mulh, divh, shh);
    printf("signed a<b: %d, unsigned a<b: %d\n", cmp_signed, cmp_unsigned);

    int64_t neg = -5;
    uint32_t u32 = 0xfffffff0u;
    int32_t s32 = -16;
    printf("sext %016" PRIx64 " zext %016" PRIx64 " trunc %" PRId32 " %08" PRIx32 "\n", (uint64_t)(int64_t)s32,
           (uint64_t)u32, (int32_t)(uint32_t)0xfffffffbu, (uint32_t)(uint64_t)neg);
    printf("-7 >> 1 = %" PRId64 ", -7 / 2 = %" PRId64 ", -7 %% 2 = %" PRId64 "\n", (int64_t)-7 >> 1, (int64_t)-7 / 2,
           (int64_t)-7 % 2);
    printf("INT64_MAX %" PRId64 " INT64_MIN %" PRId64 " UINT64_MAX %" PRIu64 "\n", INT64_MAX, INT64_MIN, UINT64_MAX);

    double d = (double)(int64_t)-123456789012345ll;
    int64_t back = (int64_t)(d / 3.0);
    uint64_t big = (uint64_t)1e19;
    printf("conv %" PRId64 " %" PRIu64 " %.1f\n", back, big, (double)UINT64_MAX);

    uint64_t g = gcd(2ull * 3 * 5 * 7 * 11 * 13 * 17 * 19 * 23 * 29 * 31 * 37, 3ull * 7 * 19 * 41 * 43 * 47 * 53);
    printf("gcd %" PRIu64 "\n", g);
    uint64_t p = 4294967291u; /* largest prime below 2^32 */
    uint64_t fermat = powmod(2, p - 1, p), pm = powmod(123456789, 987654321, 1000000007);
    printf("2^(p-1) mod p = %" PRIu64 ", 123456789^987654321 mod 1e9+7 = %" PRIu64 "\n", fermat, pm);
    uint64_t r1 = isqrt(UINT64_MAX), r2 = isqrt(1000000000000000000ull), r3 = isqrt(999999999999999999ull);
    printf("isqrt %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", r1, r2, r3);

    uint64_t check = mix(mix(mix(h, mulh), divh), shh) ^ g ^ pm ^ r1;
    printf("check %016" PRIx64 "\n", check);
    return (int)(check & 0x7f);
}
