/*
 * ctier-common.h - data generators shared by the compressed-tier tests
 * (tests/ctier and, without Criterion, tests/vm/guest/vm-ctier.c).
 *
 * Three kinds of content, each deterministic so a later check can rebuild
 * what a page must hold:
 *   text    a paragraph of English, repeated, each page starting with its
 *           own header and at its own offset into the paragraph (LZ4
 *           compresses it several times, but not to nothing)
 *   random  splitmix64 from a fixed seed (LZ4 cannot shrink it)
 *   zeros
 */
#ifndef PMN_TEST_CTIER_COMMON_H
#define PMN_TEST_CTIER_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char ctier_paragraph[] =
    "Cold data is the part of a working set that nobody has touched for a while: "
    "yesterday's session records, the tail of a log, the pages of a cache whose "
    "entries were popular an hour ago. Keeping it in ordinary memory wastes the "
    "fastest capacity the machine has, yet throwing it away costs a slow rebuild "
    "when somebody finally asks for it again. A compressed memory device sits in "
    "between: it stores each page in a fraction of the space, hands it back at "
    "memory speed, and only asks that writes go somewhere else first. The library "
    "moves such pages there on request, protects them, and brings back exactly the "
    "page a program writes to, while reads carry on without noticing anything. ";

static inline uint64_t ctier_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* @len bytes of random data from @seed. */
static inline void ctier_fill_random(void *buf, size_t len, uint64_t seed)
{
    unsigned char *p = buf;
    uint64_t s = seed;

    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = ctier_splitmix(&s);
        memcpy(p + i, &v, len - i < 8 ? len - i : 8);
    }
}

/* One page of text, distinct per @id. */
static inline void ctier_fill_text_page(char *page, size_t page_size, size_t id)
{
    size_t plen = sizeof(ctier_paragraph) - 1, off = (id * 37) % plen;
    int h = snprintf(page, page_size, "[page %zu of the cold set] ", id);
    size_t i = h > 0 ? (size_t)h : 0;

    for (; i < page_size; i++) {
        page[i] = ctier_paragraph[off];
        off = off + 1 == plen ? 0 : off + 1;
    }
}

/* [buf, buf + len) page by page, page ids from @first. */
static inline void ctier_fill_text(void *buf, size_t len, size_t page_size, size_t first)
{
    for (size_t i = 0; i * page_size < len; i++) {
        char tmp[65536];
        size_t n = len - i * page_size < page_size ? len - i * page_size : page_size;
        if (page_size <= sizeof(tmp) && n < page_size) {
            ctier_fill_text_page(tmp, page_size, first + i);
            memcpy((char *)buf + i * page_size, tmp, n);
        } else {
            ctier_fill_text_page((char *)buf + i * page_size, page_size, first + i);
        }
    }
}

#endif /* PMN_TEST_CTIER_COMMON_H */
