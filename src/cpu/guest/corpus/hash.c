/* Hashing: CRC-32 (table), FNV-1a 32/64, MurmurHash3 x86_32 and SHA-256, with known-answer tests. */
#include <stdio.h> /* first: newlib PRI*64 need <sys/_stdint.h>, which gcc's <stdint.h> skips */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

static uint32_t crc_table[256];

static void crc32_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--)
        c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static uint32_t fnv1a32(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    while (n--)
        h = (h ^ *p++) * 16777619u;
    return h;
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    while (n--)
        h = (h ^ *p++) * 1099511628211ull;
    return h;
}

static uint32_t rotl32(uint32_t x, int r)
{
    return x << r | x >> (32 - r);
}

static uint32_t murmur3_32(const uint8_t *p, size_t n, uint32_t seed)
{
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    uint32_t h = seed, k;
    size_t i;
    for (i = 0; i + 4 <= n; i += 4) {
        k = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24;
        h ^= rotl32(k * c1, 15) * c2;
        h = rotl32(h, 13) * 5 + 0xe6546b64u;
    }
    k = 0;
    switch (n & 3) {
    case 3:
        k ^= (uint32_t)p[i + 2] << 16; /* fall through */
    case 2:
        k ^= (uint32_t)p[i + 1] << 8; /* fall through */
    case 1:
        k ^= p[i];
        h ^= rotl32(k * c1, 15) * c2;
    }
    h ^= (uint32_t)n;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

struct sha256 {
    uint32_t h[8];
    uint8_t buf[64];
    uint64_t len;
};

static uint32_t rotr32(uint32_t x, int r)
{
    return x >> r | x << (32 - r);
}

static void sha256_block(struct sha256 *s, const uint8_t *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, h;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr32(w[i - 15], 7) ^ rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
    e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
    s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void sha256_init(struct sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->len = 0;
}

static void sha256_update(struct sha256 *s, const uint8_t *p, size_t n)
{
    while (n--) {
        s->buf[s->len++ % 64] = *p++;
        if (s->len % 64 == 0)
            sha256_block(s, s->buf);
    }
}

static void sha256_final(struct sha256 *s, char hex[65])
{
    uint64_t bits = s->len * 8;
    uint8_t pad = 0x80;
    sha256_update(s, &pad, 1);
    pad = 0;
    while (s->len % 64 != 56)
        sha256_update(s, &pad, 1);
    for (int i = 7; i >= 0; i--) {
        uint8_t b = (uint8_t)(bits >> (8 * i));
        sha256_update(s, &b, 1);
    }
    for (int i = 0; i < 8; i++)
        snprintf(hex + 8 * i, 9, "%08" PRIx32, s->h[i]);
}

static uint8_t big[3000];

int main(void)
{
    static const char *const msgs[] = {
        "", "a", "abc", "message digest", "123456789", "The quick brown fox jumps over the lazy dog",
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    };
    uint32_t check = 0;
    crc32_init();
    for (unsigned i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        const uint8_t *m = (const uint8_t *)msgs[i];
        size_t n = strlen(msgs[i]);
        struct sha256 s;
        char hex[65];
        sha256_init(&s);
        sha256_update(&s, m, n);
        sha256_final(&s, hex);
        uint32_t c = crc32(m, n), f = fnv1a32(m, n), mm = murmur3_32(m, n, 0x9747b28cu);
        uint64_t f64 = fnv1a64(m, n);
        printf("\"%.20s\"%s\n", msgs[i], n > 20 ? "..." : "");
        printf("  crc32 %08" PRIx32 " fnv1a32 %08" PRIx32 " fnv1a64 %016" PRIx64 " murmur3 %08" PRIx32 "\n", c, f,
               f64, mm);
        printf("  sha256 %s\n", hex);
        check = check * 33u ^ c ^ f ^ mm ^ (uint32_t)(f64 >> 32);
    }
    /* Known answers: CRC-32 check value, FNV-1a of "a", SHA-256("abc"). */
    struct sha256 s;
    char hex[65];
    sha256_init(&s);
    sha256_update(&s, (const uint8_t *)"abc", 3);
    sha256_final(&s, hex);
    int ok = crc32((const uint8_t *)"123456789", 9) == 0xcbf43926u && fnv1a32((const uint8_t *)"a", 1) == 0xe40c292cu
             && strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0;
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7 + (i >> 8));
    sha256_init(&s);
    for (size_t off = 0; off < sizeof big; off += 1000)
        sha256_update(&s, big + off, 1000);
    sha256_final(&s, hex);
    printf("3000 bytes: crc32 %08" PRIx32 " murmur3 %08" PRIx32 " sha256 %s\n", crc32(big, sizeof big),
           murmur3_32(big, sizeof big, 1), hex);
    printf("known answers %s, check %08" PRIx32 "\n", ok ? "ok" : "FAILED", check);
    return ok ? (int)(check & 0x7f) : 1;
}
