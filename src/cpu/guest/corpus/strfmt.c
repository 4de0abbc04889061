/* Strings and formatting: printf/snprintf with integer, string and double conversions (%f %e %g), string.h,
   strtol/strtoul/strtoll/atoi/strtod and sscanf. */
#include <ctype.h>
#include <stdio.h> /* first: newlib PRI*64 need <sys/_stdint.h>, which gcc's <stdint.h> skips */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The truncations below are deliberate. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#pragma GCC diagnostic ignored "-Wstringop-truncation"

static uint32_t check = 5381;

static void note(const char *s)
{
    while (*s)
        check = check * 33u ^ (unsigned char)*s++;
}

/* snprintf into a buffer, print it and fold it into the checksum. */
#define SHOW(...)                                                                                                  \
    do {                                                                                                           \
        char buf_[160];                                                                                            \
        int n_ = snprintf(buf_, sizeof buf_, __VA_ARGS__);                                                         \
        printf("[%3d] %s\n", n_, buf_);                                                                            \
        note(buf_);                                                                                                \
    } while (0)

static void integers(void)
{
    int64_t big = -9007199254740993ll;
    uint64_t ubig = 0xfedcba9876543210ull;
    SHOW("%d|%i|%u|%x|%X|%o|%c|%%", -42, 17, 3000000000u, 0xbeefu, 0xbeefu, 8u, 'Z');
    SHOW("%5d|%-5d|%05d|%+d|% d|%+5d|%-+5d|", 42, 42, 42, 42, 42, -42, 42);
    SHOW("%#x|%#o|%#X|%08x|%-8x|%.5d|%8.3d|", 255u, 8u, 255u, 0xabcu, 0xabcu, 42, -7);
    SHOW("%" PRId64 "|%" PRIu64 "|%" PRIx64 "|%" PRIX64 "|%" PRIo64, big, ubig, ubig, ubig, ubig);
    SHOW("%lld|%llu|%20lld|%-20lld|", (long long)big, (unsigned long long)ubig, (long long)big, 1234567890123ll);
    /* Debian's newlib is built without _WANT_IO_C99_FORMATS: no %hh, %z, %t, %j. */
    SHOW("%hd|%hu|%hx", (short)-12345, (unsigned short)54321, (unsigned short)0xffff);
    SHOW("%" PRId8 "|%" PRIu16 "|%" PRId32 "|%" PRIx32 "|%" PRIu32, (int8_t)-8, (uint16_t)65535, INT32_MIN,
         UINT32_MAX, (uint32_t)123456789);
    SHOW("%*d|%-*d|%.*d|%*s|", 6, 7, 6, 7, 4, 7, -6, "ab");
}

static void strings(void)
{
    const char *s = "thumb-2";
    SHOW("%s|%10s|%-10s|%.3s|%10.3s|%-10.3s|", s, s, s, s, s, s);
    SHOW("%c%c%c|%5c|%-5c|", 'a', 'b', 'c', 'x', 'y');
    SHOW("%s", "");
    char small[8];
    int n = snprintf(small, sizeof small, "%s-%d", "truncated", 12345);
    printf("snprintf truncation: \"%s\" wanted %d\n", small, n);
    n = snprintf(NULL, 0, "%d %s %x", 123456, "abc", 0xdeadu);
    printf("snprintf(NULL, 0) = %d\n", n);

    char buf[64];
    strcpy(buf, "hello");
    strcat(buf, ", ");
    strncat(buf, "world!!!", 5);
    printf("strcat: %s (len %u)\n", buf, (unsigned)strlen(buf));
    printf("strchr: %s | strrchr: %s | strstr: %s\n", strchr(buf, 'l'), strrchr(buf, 'l'), strstr(buf, "wor"));
    printf("strcmp signs: %d %d %d\n", strcmp("abc", "abd") < 0, strcmp("b", "a") > 0, strcmp("same", "same") == 0);
    printf("strncmp: %d memcmp high byte: %d\n", strncmp("abcdef", "abcxyz", 3), memcmp("\x01", "\xff", 1) < 0);
    printf("strspn %u strcspn %u\n", (unsigned)strspn("aabbcx", "ab"), (unsigned)strcspn("hello world", " "));
    memmove(buf + 2, buf, 10);
    buf[12] = '\0';
    printf("memmove overlap: %s\n", buf);
    memset(buf, '*', 5);
    printf("memset: %.8s\n", buf);
    char tok[] = "  alpha, beta,,gamma ;delta  ";
    int count = 0;
    for (char *t = strtok(tok, " ,;"); t; t = strtok(NULL, " ,;"))
        printf("token %d: '%s'\n", ++count, t);
    char up[32];
    const char *mixed = "Mixed Case 123 xyz";
    size_t i;
    for (i = 0; mixed[i]; i++)
        up[i] = (char)toupper((unsigned char)mixed[i]);
    up[i] = '\0';
    printf("toupper: %s | ctype ok: %d\n", up, isdigit('7') != 0 && isalpha('q') != 0 && !isspace('x'));
    note(up);
}

static void conversions(void)
{
    static const char *const nums[] = {"0", "42", "-17", "  +99abc", "0x1F", "0777", "z", "2147483647",
                                       "-2147483648", "1010"};
    for (unsigned i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        char *end;
        long v0 = strtol(nums[i], &end, 0);
        long v10 = strtol(nums[i], NULL, 10);
        long v2 = strtol(nums[i], NULL, 2);
        printf("strtol(\"%s\"): base0 %" PRId32 " (consumed %d) base10 %" PRId32 " base2 %" PRId32 " atoi %d\n",
               nums[i], (int32_t)v0, (int)(end - nums[i]), (int32_t)v10, (int32_t)v2, atoi(nums[i]));
        check += (uint32_t)v0;
    }
    printf("strtoul(\"ffffffff\", 16) = %" PRIu32 ", strtol(\"zz\", 36) = %" PRId32 "\n",
           (uint32_t)strtoul("ffffffff", NULL, 16), (int32_t)strtol("zz", NULL, 36));
    printf("strtoll = %lld, strtoull = %llu\n", strtoll("-9223372036854775807", NULL, 10),
           strtoull("18446744073709551615", NULL, 0));
    int a, b;
    unsigned x;
    char word[16];
    int got = sscanf("12 -34 0x1f word rest", "%d %d %x %15s", &a, &b, &x, word);
    printf("sscanf: %d fields: %d %d %u %s\n", got, a, b, x, word);
    static const char *const dbl[] = {"3.14159", "1e-3", "-2.5e10", "0.1", "123456789.125", "6.02214076e23"};
    for (unsigned i = 0; i < sizeof dbl / sizeof dbl[0]; i++)
        SHOW("strtod(%s) = %.17g", dbl[i], strtod(dbl[i], NULL));
}

static void doubles(void)
{
    double third = 1.0 / 3.0, big = 1e10 / 7.0, tiny = 1.0 / 65536.0 / 1024.0, x = 123456.789;
    SHOW("%f|%.0f|%.1f|%.3f|%.10f|", third, third, third, third, third);
    SHOW("%e|%.0e|%.3e|%E|%.12e|", big, big, big, big, big);
    SHOW("%g|%g|%g|%g|%G|", third, big, tiny, x, tiny);
    SHOW("%.3g|%.10g|%#g|%#.3g|%g|", x, x, 1.0, 2.0, 100000.0);
    SHOW("%12.4f|%-12.4f|%+.2f|% .2f|%012.3f|", x, x, x, x, -x);
    SHOW("%f|%e|%g|%f|%g|", 0.0, 0.0, 0.0, -0.0, -0.0);
    SHOW("%.0f %.0f %.0f %.0f %.2f %.2f %.1f", 0.5, 1.5, 2.5, 3.5, 0.125, 0.375, 0.25);
    SHOW("%g %g %g %g %g", 1e-4, 1e-5, 123456.0, 1234567.0, 1e100);
    SHOW("%.17g %.17g %.17g", 0.1, 0.1 + 0.2, 1.0 - 1e-16);
    SHOW("%f %e", 1e300 * 1e10, -1e300 * 1e10);
    SHOW("%.15f %.20e", 2.0 / 7.0, 1.0 / 3.0);

    /* Arithmetic in double: Newton sqrt(2), a Leibniz pi series, a harmonic sum and float <-> int. */
    double r = 1.0;
    for (int i = 0; i < 6; i++)
        r = 0.5 * (r + 2.0 / r);
    double pi = 0.0;
    for (int k = 0; k < 2000; k++)
        pi += (k % 2 ? -4.0 : 4.0) / (2 * k + 1);
    double harm = 0.0;
    for (int k = 1; k <= 1000; k++)
        harm += 1.0 / k;
    float f = 1.0f / 3.0f;
    SHOW("sqrt2 %.15f pi~ %.12f H1000 %.12f", r, pi, harm);
    SHOW("float %.9g as double %.17g (int)%d (int64)%" PRId64, f, (double)f, (int)(-x), (int64_t)(x * 1e6));
    SHOW("%8.3f|%-8.2e|%8.3g|", 1.0 / 16, 1.0 / 16, 1.0 / 16);
}

int main(void)
{
    integers();
    strings();
    conversions();
    doubles();
    printf("check %08" PRIx32 "\n", check);
    return (int)(check & 0x7f);
}
