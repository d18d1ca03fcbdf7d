/*
 * bitmap.c - growable sets of small non-negative integers (node ids).
 *
 * A bitmap grows to exactly the words its highest set bit needs, so a
 * corrupt input can make it no larger than the caller's max id allows (the
 * parsers bound ids before setting them).  Not thread-safe: a bitmap has
 * one owner at a time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define WORD_BITS 64u

void pmn__bitmap_free(struct pmn__bitmap *b)
{
    if (b == NULL)
        return;
    free(b->words);
    b->words = NULL;
    b->nwords = 0;
}

/* Make room for @bit; grows to exactly the words needed, so a bitmap is
 * never larger than its highest set bit requires. */
static int bitmap_reserve(struct pmn__bitmap *b, unsigned bit)
{
    size_t need = (size_t)(bit / WORD_BITS) + 1;
    if (need <= b->nwords)
        return 0;
    uint64_t *w = realloc(b->words, need * sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    memset(w + b->nwords, 0, (need - b->nwords) * sizeof(*w));
    b->words = w;
    b->nwords = need;
    return 0;
}

int pmn__bitmap_set(struct pmn__bitmap *b, unsigned bit)
{
    int rc = bitmap_reserve(b, bit);
    if (rc < 0)
        return rc;
    b->words[bit / WORD_BITS] |= UINT64_C(1) << (bit % WORD_BITS);
    return 0;
}

/* Set bits lo..hi inclusive (lo <= hi), a word at a time. */
int pmn__bitmap_set_range(struct pmn__bitmap *b, unsigned lo, unsigned hi)
{
    int rc = bitmap_reserve(b, hi);
    if (rc < 0)
        return rc;
    size_t wlo = lo / WORD_BITS, whi = hi / WORD_BITS;
    uint64_t first = ~UINT64_C(0) << (lo % WORD_BITS);
    uint64_t last = ~UINT64_C(0) >> (WORD_BITS - 1 - hi % WORD_BITS);
    if (wlo == whi) {
        b->words[wlo] |= first & last;
        return 0;
    }
    b->words[wlo] |= first;
    for (size_t i = wlo + 1; i < whi; i++)
        b->words[i] = ~UINT64_C(0);
    b->words[whi] |= last;
    return 0;
}

bool pmn__bitmap_test(const struct pmn__bitmap *b, unsigned bit)
{
    size_t w = bit / WORD_BITS;
    if (b == NULL || w >= b->nwords)
        return false;
    return (b->words[w] >> (bit % WORD_BITS)) & 1u;
}

size_t pmn__bitmap_weight(const struct pmn__bitmap *b)
{
    size_t n = 0;
    if (b == NULL)
        return 0;
    for (size_t i = 0; i < b->nwords; i++)
        n += (size_t)__builtin_popcountll(b->words[i]);
    return n;
}

long pmn__bitmap_next(const struct pmn__bitmap *b, unsigned from)
{
    if (b == NULL)
        return -1;
    size_t w = from / WORD_BITS;
    if (w >= b->nwords)
        return -1;
    uint64_t cur = b->words[w] & (~UINT64_C(0) << (from % WORD_BITS));
    for (;;) {
        if (cur != 0)
            return (long)(w * WORD_BITS + (size_t)__builtin_ctzll(cur));
        if (++w >= b->nwords)
            return -1;
        cur = b->words[w];
    }
}

int pmn__bitmap_or(struct pmn__bitmap *dst, const struct pmn__bitmap *src)
{
    int rc = src->nwords ? bitmap_reserve(dst, (unsigned)(src->nwords * WORD_BITS - 1)) : 0;

    for (size_t i = 0; rc == 0 && i < src->nwords; i++)
        dst->words[i] |= src->words[i];
    return rc;
}
