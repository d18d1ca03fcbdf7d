/*
 * cfrac.c - many small short-lived objects, in the spirit of cfrac: big
 * integers that are allocated for every intermediate result and freed as
 * soon as they are used.
 *
 * For NUMBERS random non-square integers N of 100..120 bits, the program
 * expands sqrt(N) as a continued fraction for TERMS terms (the first step
 * of cfrac's factoring method):
 *
 *     m' = d*a - m,   d' = (N - m'^2) / d,   a' = (a0 + m') / d'
 *
 * with immutable numbers of 32-bit limbs: every add, sub, mul, shift and
 * every step of the bitwise long division returns a freshly malloc'd
 * number of 8..28 bytes, and the operands die right away: hundreds of
 * tiny malloc/free pairs per term, single-threaded, with little other
 * work.  Every term is checked against the same recurrence in native
 * 128-bit arithmetic (N < 2^120 keeps it in range); the checksum mixes
 * all the terms a.
 */
#include <stdbool.h>

#include "workload.h"

typedef unsigned __int128 u128;

/* n limbs, least significant first, no leading zero limb (0 has n == 0). */
typedef struct bn {
    uint32_t n;
    uint32_t limb[];
} bn;

static bn *bn_new(uint32_t n)
{
    bn *r = wl_malloc(sizeof(bn) + (n ? n : 1) * sizeof(uint32_t));
    r->n = n;
    return r;
}

static bn *bn_trim(bn *r)
{
    while (r->n > 0 && r->limb[r->n - 1] == 0)
        r->n--;
    return r;
}

static bn *bn_from(u128 v)
{
    bn *r = bn_new(4);
    for (int i = 0; i < 4; i++)
        r->limb[i] = (uint32_t)(v >> (32 * i));
    return bn_trim(r);
}

static u128 bn_to(const bn *a)
{
    u128 v = 0;
    if (a->n > 4) {
        fprintf(stderr, "cfrac: value out of the checked range\n");
        exit(1);
    }
    for (uint32_t i = a->n; i-- > 0;)
        v = (v << 32) | a->limb[i];
    return v;
}

static int bn_cmp(const bn *a, const bn *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (uint32_t i = a->n; i-- > 0;)
        if (a->limb[i] != b->limb[i])
            return a->limb[i] < b->limb[i] ? -1 : 1;
    return 0;
}

static bn *bn_add(const bn *a, const bn *b)
{
    uint32_t n = (a->n > b->n ? a->n : b->n) + 1;
    bn *r = bn_new(n);
    uint64_t carry = 0;
    for (uint32_t i = 0; i < n; i++) {
        carry += (i < a->n ? a->limb[i] : 0) + (uint64_t)(i < b->n ? b->limb[i] : 0);
        r->limb[i] = (uint32_t)carry;
        carry >>= 32;
    }
    return bn_trim(r);
}

/* a - b, a >= b */
static bn *bn_sub(const bn *a, const bn *b)
{
    bn *r = bn_new(a->n);
    int64_t borrow = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        int64_t d = (int64_t)a->limb[i] - (i < b->n ? b->limb[i] : 0) - borrow;
        borrow = d < 0;
        r->limb[i] = (uint32_t)(d + (borrow ? ((int64_t)1 << 32) : 0));
    }
    return bn_trim(r);
}

static bn *bn_mul(const bn *a, const bn *b)
{
    bn *r = bn_new(a->n + b->n);
    memset(r->limb, 0, (a->n + b->n) * sizeof(uint32_t));
    for (uint32_t i = 0; i < a->n; i++) {
        uint64_t carry = 0;
        for (uint32_t j = 0; j < b->n; j++) {
            carry += (uint64_t)a->limb[i] * b->limb[j] + r->limb[i + j];
            r->limb[i + j] = (uint32_t)carry;
            carry >>= 32;
        }
        r->limb[i + b->n] = (uint32_t)carry;
    }
    return bn_trim(r);
}

/* 2a + bit */
static bn *bn_shl1(const bn *a, unsigned bit)
{
    bn *r = bn_new(a->n + 1);
    uint32_t carry = bit;
    for (uint32_t i = 0; i < a->n; i++) {
        r->limb[i] = (a->limb[i] << 1) | carry;
        carry = a->limb[i] >> 31;
    }
    r->limb[a->n] = carry;
    return bn_trim(r);
}

static unsigned bn_bit(const bn *a, uint32_t i)
{
    return (a->limb[i / 32] >> (i % 32)) & 1;
}

/* q = a / b by shift and subtract, one new remainder per bit; *rem too. */
static bn *bn_div(const bn *a, const bn *b, bn **rem)
{
    uint32_t bits = a->n * 32;
    bn *q = bn_new(a->n ? a->n : 1), *r = bn_new(0);
    memset(q->limb, 0, (a->n ? a->n : 1) * sizeof(uint32_t));
    for (uint32_t i = bits; i-- > 0;) {
        bn *t = bn_shl1(r, bn_bit(a, i));
        free(r);
        r = t;
        if (bn_cmp(r, b) >= 0) {
            t = bn_sub(r, b);
            free(r);
            r = t;
            q->limb[i / 32] |= (uint32_t)1 << (i % 32);
        }
    }
    *rem = r;
    return bn_trim(q);
}

static u128 isqrt128(u128 n)
{
    u128 x = 0;
    for (int b = 63; b >= 0; b--) {
        u128 y = x | ((u128)1 << b);
        if (y * y <= n)
            x = y;
    }
    return x;
}

int main(int argc, char **argv)
{
    long scale = wl_scale(
        argc, argv, "cfrac-like: continued fractions of sqrt(N) with malloc'd big integers.\n");
    uint64_t numbers = wl_scaled(4000, scale), sum = 0, rng = 0xcf7ac;
    enum { TERMS = 100 };

    for (uint64_t k = 0; k < numbers; k++) {
        int bits = (int)wl_range(&rng, 100, 120);
        u128 nn = (((u128)wl_next(&rng) << 64) | wl_next(&rng)) >> (128 - bits);
        nn |= (u128)1 << (bits - 1);
        u128 root = isqrt128(nn);
        if (root * root == nn)
            nn++;
        /* native state: m, d, a */
        u128 m = 0, d = 1, a = root;
        bn *N = bn_from(nn), *A0 = bn_from(root);
        bn *M = bn_from(0), *D = bn_from(1), *A = bn_from(root);

        for (int t = 0; t < TERMS; t++) {
            m = d * a - m;
            d = (nn - m * m) / d;
            a = (root + m) / d;

            bn *da = bn_mul(D, A), *m2 = bn_sub(da, M);
            free(da);
            free(M);
            M = m2;
            bn *mm = bn_mul(M, M), *num = bn_sub(N, mm), *rem;
            free(mm);
            bn *d2 = bn_div(num, D, &rem);
            free(num);
            if (rem->n != 0) {
                fprintf(stderr, "cfrac: inexact division at term %d\n", t);
                return 1;
            }
            free(rem);
            free(D);
            D = d2;
            bn *am = bn_add(A0, M), *a2 = bn_div(am, D, &rem);
            free(am);
            free(rem);
            free(A);
            A = a2;

            if (bn_to(M) != m || bn_to(D) != d || bn_to(A) != a) {
                fprintf(stderr,
                        "cfrac: term %d of number %llu differs from the "
                        "native computation\n",
                        t, (unsigned long long)k);
                return 1;
            }
            sum = sum * 0x100000001b3ULL + (uint64_t)a + (uint64_t)(a >> 64);
        }
        free(N);
        free(A0);
        free(M);
        free(D);
        free(A);
    }
    wl_checksum("cfrac", sum);
    return 0;
}
