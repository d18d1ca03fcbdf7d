/*
 * espresso.c - cube covers, in the spirit of espresso: many small bit-set
 * objects of a few sizes, created by set operations and freed soon after,
 * and cover arrays that grow with realloc.
 *
 * For FUNCTIONS random Boolean functions of 16..96 variables, each given
 * as a cover of COVER cubes, the program finds all prime implicants by
 * iterated consensus: for every pair of cubes at distance 1 it builds the
 * consensus cube (a new malloc'd object); a consensus already covered by a
 * cube of the cover is freed at once, otherwise it joins the cover and the
 * cubes it covers are freed.  This repeats until nothing changes.
 *
 * A cube is positional notation, two bits per variable (01 = x', 10 = x,
 * 11 = either), in 1..3 64-bit words after a small header, so objects are
 * 16..32 bytes; the cover is a malloc'd array of pointers that grows with
 * realloc.  The checksum sums a hash of every prime (order-independent)
 * and the number of primes.
 */
#include "workload.h"

enum { COVER = 14, MAX_WORDS = 3, MAX_ROUNDS = 64 };

typedef struct cube {
    uint32_t words;
    uint32_t pad;
    uint64_t w[];
} cube;

static uint64_t care_mask[MAX_WORDS];
static uint32_t nwords;

static cube *cube_new(void)
{
    cube *c = wl_malloc(sizeof(cube) + nwords * sizeof(uint64_t));
    c->words = nwords;
    c->pad = 0;
    return c;
}

/* b inside a */
static int contains(const cube *a, const cube *b)
{
    for (uint32_t i = 0; i < nwords; i++)
        if (b->w[i] & ~a->w[i])
            return 0;
    return 1;
}

/* Consensus of a and b if they conflict in exactly one variable, or NULL. */
static cube *consensus(const cube *a, const cube *b)
{
    int conflicts = 0;
    uint32_t at_word = 0;
    uint64_t at_bits = 0;
    for (uint32_t i = 0; i < nwords; i++) {
        uint64_t x = a->w[i] & b->w[i];
        /* a variable is empty when both of its bits are 0 */
        uint64_t empty = ~(x | (x >> 1)) & 0x5555555555555555ULL & care_mask[i];
        int n = __builtin_popcountll(empty);
        conflicts += n;
        if (conflicts > 1)
            return NULL;
        if (n == 1) {
            at_word = i;
            at_bits = empty | (empty << 1);
        }
    }
    if (conflicts != 1)
        return NULL;
    cube *c = cube_new();
    for (uint32_t i = 0; i < nwords; i++)
        c->w[i] = a->w[i] & b->w[i];
    c->w[at_word] |= at_bits;
    return c;
}

static uint64_t cube_hash(const cube *c)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (uint32_t i = 0; i < nwords; i++) {
        h ^= c->w[i];
        h *= 0x100000001b3ULL;
        h ^= h >> 29;
    }
    return h;
}

struct cover {
    cube **c;
    size_t n, cap;
};

static void cover_add(struct cover *f, cube *c)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        cube **g = realloc(f->c, f->cap * sizeof(cube *));
        if (g == NULL) {
            fprintf(stderr, "espresso: realloc failed\n");
            exit(1);
        }
        f->c = g;
    }
    f->c[f->n++] = c;
}

int main(int argc, char **argv)
{
    long scale = wl_scale(
        argc, argv, "espresso-like: prime implicants of random covers by iterated consensus.\n");
    uint64_t functions = wl_scaled(4000, scale), sum = 0, rng = 0xe5;

    for (uint64_t k = 0; k < functions; k++) {
        uint32_t vars = (uint32_t)wl_range(&rng, 16, 96);
        nwords = (vars + 31) / 32;
        for (uint32_t i = 0; i < MAX_WORDS; i++) {
            uint32_t in = vars > 32 * i ? vars - 32 * i : 0;
            care_mask[i] = in >= 32 ? ~0ULL : (((uint64_t)1 << (2 * in)) - 1);
        }
        struct cover f = {NULL, 0, 0};
        for (int j = 0; j < COVER; j++) {
            cube *c = cube_new();
            for (uint32_t i = 0; i < nwords; i++)
                c->w[i] = care_mask[i];
            /* about 5 literals per cube, over a narrow range of variables */
            uint32_t base = (uint32_t)wl_range(&rng, 0, vars - 12);
            for (int l = 0; l < 5; l++) {
                uint32_t v = base + (uint32_t)wl_range(&rng, 0, 11);
                uint64_t lit = (wl_next(&rng) & 1) ? 1 : 2;
                c->w[v / 32] &= ~((uint64_t)3 << (2 * (v % 32)));
                c->w[v / 32] |= lit << (2 * (v % 32));
            }
            cover_add(&f, c);
        }
        for (int round = 0, changed = 1; changed && round < MAX_ROUNDS; round++) {
            changed = 0;
            for (size_t a = 0; a < f.n; a++) {
                for (size_t b = a + 1; b < f.n; b++) {
                    cube *c = consensus(f.c[a], f.c[b]);
                    if (c == NULL)
                        continue;
                    int covered = 0;
                    for (size_t j = 0; j < f.n && !covered; j++)
                        covered = contains(f.c[j], c);
                    if (covered) {
                        free(c);
                        continue;
                    }
                    /* drop what c covers, keeping a and b's positions valid */
                    size_t out = 0;
                    for (size_t j = 0; j < f.n; j++) {
                        if (contains(c, f.c[j])) {
                            free(f.c[j]);
                            if (j < a)
                                a--;
                            if (j < b)
                                b--;
                        } else {
                            f.c[out++] = f.c[j];
                        }
                    }
                    f.n = out;
                    cover_add(&f, c);
                    changed = 1;
                }
            }
        }
        sum += f.n;
        for (size_t j = 0; j < f.n; j++) {
            sum += cube_hash(f.c[j]);
            free(f.c[j]);
        }
        free(f.c);
    }
    wl_checksum("espresso", sum);
    return 0;
}
