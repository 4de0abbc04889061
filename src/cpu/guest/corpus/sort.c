/* Sorting: qsort (ints, 64-bit keys, records with tie-breaks, strings) checked against hand-written
   merge sort, heap sort and insertion sort on the same xorshift-generated data. */
#include <stdio.h> /* first: newlib PRI*64 need <sys/_stdint.h>, which gcc's <stdint.h> skips */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N 700
#define NSTR 200

static uint32_t rng = 0x9e3779b9u;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

struct rec {
    uint16_t key;
    uint32_t id;
};

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void merge_sort(int32_t *a, int32_t *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2, i = 0, j = h, k = 0;
    merge_sort(a, tmp, h);
    merge_sort(a + h, tmp, n - h);
    while (i < h && j < n)
        tmp[k++] = a[j] < a[i] ? a[j++] : a[i++];
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

static void sift_down(uint64_t *a, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && a[child + 1] > a[child])
            child++;
        if (a[root] >= a[child])
            return;
        uint64_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

static void heap_sort(uint64_t *a, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (size_t end = n; end-- > 1;) {
        uint64_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

static void insertion_sort_rec(struct rec *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct rec v = a[i];
        size_t j = i;
        while (j > 0 && cmp_rec(&v, &a[j - 1]) < 0) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static uint32_t fnv(const void *p, size_t n, uint32_t h)
{
    const unsigned char *s = p;
    while (n--)
        h = (h ^ *s++) * 16777619u;
    return h;
}

static int32_t ia[N], ib[N], itmp[N];
static uint64_t ua[N], ub[N];
static struct rec ra[N], rb[N];
static char strings[NSTR][12];
static char *sp[NSTR];

int main(void)
{
    uint32_t check = 2166136261u;
    int bad = 0;

    for (int i = 0; i < N; i++)
        ia[i] = ib[i] = (int32_t)(next() % 20001) - 10000;
    qsort(ia, N, sizeof ia[0], cmp_i32);
    merge_sort(ib, itmp, N);
    for (int i = 1; i < N; i++)
        bad += ia[i - 1] > ia[i];
    bad += memcmp(ia, ib, sizeof ia) != 0;
    printf("int32: min %" PRId32 " median %" PRId32 " max %" PRId32 "\n", ia[0], ia[N / 2], ia[N - 1]);
    check = fnv(ia, sizeof ia, check);

    for (int i = 0; i < N; i++) {
        uint64_t hi = next();
        ua[i] = ub[i] = hi << 32 | next();
    }
    qsort(ua, N, sizeof ua[0], cmp_u64);
    heap_sort(ub, N);
    for (int i = 1; i < N; i++)
        bad += ua[i - 1] > ua[i];
    bad += memcmp(ua, ub, sizeof ua) != 0;
    printf("uint64: min %016" PRIx64 " max %016" PRIx64 "\n", ua[0], ua[N - 1]);
    check = fnv(ua, sizeof ua, check);

    for (int i = 0; i < N; i++) {
        ra[i].key = (uint16_t)(next() % 50);
        ra[i].id = (uint32_t)i;
        rb[i] = ra[i];
    }
    qsort(ra, N, sizeof ra[0], cmp_rec);
    insertion_sort_rec(rb, N);
    for (int i = 0; i < N; i++)
        bad += ra[i].key != rb[i].key || ra[i].id != rb[i].id;
    printf("records: first (%u,%" PRIu32 ") last (%u,%" PRIu32 ")\n", ra[0].key, ra[0].id, ra[N - 1].key,
           ra[N - 1].id);
    for (int i = 0; i < N; i++)
        check = (check ^ ra[i].key ^ ra[i].id << 8) * 16777619u;

    for (int i = 0; i < NSTR; i++) {
        int len = 1 + (int)(next() % 10);
        for (int j = 0; j < len; j++)
            strings[i][j] = (char)('a' + next() % 26);
        strings[i][len] = '\0';
        sp[i] = strings[i];
    }
    qsort(sp, NSTR, sizeof sp[0], cmp_str);
    for (int i = 1; i < NSTR; i++)
        bad += strcmp(sp[i - 1], sp[i]) > 0;
    printf("strings:");
    for (int i = 0; i < NSTR; i += NSTR / 8)
        printf(" %s", sp[i]);
    printf(" ... %s\n", sp[NSTR - 1]);
    for (int i = 0; i < NSTR; i++)
        check = fnv(sp[i], strlen(sp[i]), check);

    printf("%s, check %08" PRIx32 "\n", bad ? "MISMATCH" : "all sorts agree", check);
    return bad ? 1 : (int)(check & 0x7f);
}
