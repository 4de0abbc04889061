/* malloc/calloc/realloc/free churn: random-size blocks with content checks, a realloc-grown string builder,
   and a chained hash table of malloc'ed nodes. Nothing printed depends on addresses. */
#include <stdio.h> /* first: newlib PRI*64 need <sys/_stdint.h>, which gcc's <stdint.h> skips */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng = 12345u;

static uint32_t next(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

struct block {
    uint8_t *p;
    uint32_t size, seed;
};

static void fill(uint8_t *p, uint32_t size, uint32_t seed)
{
    for (uint32_t i = 0; i < size; i++)
        p[i] = (uint8_t)(seed + i * 13);
}

static int verify(const uint8_t *p, uint32_t size, uint32_t seed)
{
    for (uint32_t i = 0; i < size; i++)
        if (p[i] != (uint8_t)(seed + i * 13))
            return 0;
    return 1;
}

#define SLOTS 48

static uint32_t churn(uint32_t *errors)
{
    struct block b[SLOTS] = {{0}};
    uint32_t mallocs = 0, callocs = 0, reallocs = 0, frees = 0, live = 0, peak = 0, sum = 0;
    for (int iter = 0; iter < 2000; iter++) {
        struct block *s = &b[next() % SLOTS];
        uint32_t action = next() % 8;
        if (s->p && action < 3) {
            *errors += !verify(s->p, s->size, s->seed);
            sum += s->size;
            free(s->p);
            frees++;
            live -= s->size;
            s->p = NULL;
        } else if (s->p && action < 6) {
            uint32_t size = 1 + next() % (action == 5 ? 1024 : 96);
            uint8_t *q = realloc(s->p, size);
            if (!q) {
                (*errors)++;
                continue;
            }
            reallocs++;
            uint32_t keep = size < s->size ? size : s->size;
            *errors += !verify(q, keep, s->seed);
            fill(q, size, s->seed);
            live += size - s->size;
            s->p = q;
            s->size = size;
        } else if (!s->p) {
            uint32_t limit = next() % 4 ? 128 : 2000;
            uint32_t size = 1 + next() % limit;
            if (action & 1) {
                s->p = calloc(size, 1);
                callocs++;
                for (uint32_t i = 0; s->p && i < size; i++)
                    *errors += s->p[i] != 0;
            } else {
                s->p = malloc(size);
                mallocs++;
            }
            if (!s->p) {
                (*errors)++;
                continue;
            }
            s->size = size;
            s->seed = next();
            fill(s->p, size, s->seed);
            live += size;
        }
        if (live > peak)
            peak = live;
    }
    for (int i = 0; i < SLOTS; i++) {
        if (b[i].p) {
            *errors += !verify(b[i].p, b[i].size, b[i].seed);
            free(b[i].p);
            frees++;
        }
    }
    printf("churn: %" PRIu32 " malloc, %" PRIu32 " calloc, %" PRIu32 " realloc, %" PRIu32 " free, peak %" PRIu32
           " bytes live\n", mallocs, callocs, reallocs, frees, peak);
    return sum ^ peak;
}

struct sb {
    char *s;
    size_t len, cap;
    uint32_t grows;
};

static int sb_append(struct sb *b, const char *t)
{
    size_t n = strlen(t);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 8;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s)
            return -1;
        b->s = s;
        b->cap = cap;
        b->grows++;
    }
    memcpy(b->s + b->len, t, n + 1);
    b->len += n;
    return 0;
}

struct node {
    struct node *next;
    uint32_t key, count;
    char word[];
};

#define BUCKETS 61

static uint32_t hash_table(void)
{
    static const char *const words[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
                                        "iota", "kappa", "lambda", "mu"};
    struct node *table[BUCKETS] = {0};
    uint32_t nodes = 0, sum = 0;
    char w[24];
    for (int i = 0; i < 1500; i++) {
        uint32_t r = next();
        snprintf(w, sizeof w, "%s%" PRIu32, words[r % 12], (r >> 4) % 40);
        uint32_t h = 2166136261u;
        for (const char *c = w; *c; c++)
            h = (h ^ (unsigned char)*c) * 16777619u;
        struct node **pp = &table[h % BUCKETS];
        while (*pp && strcmp((*pp)->word, w) != 0)
            pp = &(*pp)->next;
        if (*pp) {
            (*pp)->count++;
            if ((*pp)->count % 7 == 0) { /* evict */
                struct node *dead = *pp;
                *pp = dead->next;
                sum += dead->count;
                free(dead);
                nodes--;
            }
            continue;
        }
        struct node *n = malloc(sizeof *n + strlen(w) + 1);
        if (!n)
            return 0;
        n->next = NULL;
        n->key = h;
        n->count = 1;
        strcpy(n->word, w);
        *pp = n;
        nodes++;
    }
    uint32_t longest = 0, used = 0;
    for (int i = 0; i < BUCKETS; i++) {
        uint32_t len = 0;
        for (struct node *n = table[i]; n;) {
            struct node *nx = n->next;
            sum = sum * 3u + n->count + n->key;
            len++;
            free(n);
            n = nx;
        }
        used += len > 0;
        if (len > longest)
            longest = len;
    }
    printf("hash table: %" PRIu32 " nodes in %" PRIu32 "/%d buckets, longest chain %" PRIu32 "\n", nodes, used,
           BUCKETS, longest);
    return sum;
}

int main(void)
{
    uint32_t errors = 0, check = churn(&errors);
    struct sb b = {0};
    for (int i = 0; i < 400; i++) {
        char piece[16];
        snprintf(piece, sizeof piece, "%d,", i * i);
        if (sb_append(&b, piece) != 0)
            errors++;
    }
    uint32_t h = 0;
    for (size_t i = 0; i < b.len; i++)
        h = h * 131u + (unsigned char)b.s[i];
    printf("string builder: %u bytes, %" PRIu32 " grows, capacity %u, tail \"%s\", hash %08" PRIx32 "\n",
           (unsigned)b.len, b.grows, (unsigned)b.cap, b.s + b.len - 12, h);
    free(b.s);
    check ^= h ^ hash_table();
    printf("%" PRIu32 " errors, check %08" PRIx32 "\n", errors, check);
    return errors ? 1 : (int)(check & 0x7f);
}
