/*
 * numamaps.c - /proc/PID/numa_maps text to bytes per node.
 *
 * The kernel writes one line per mapping: the start address, the policy,
 * then space-separated tokens: "file=PATH" (the path with spaces, tabs,
 * newlines and '=' escaped, so a token never holds one), "anon=N",
 * "dirty=N", "N<node>=<pages>", "kernelpagesize_kB=K" and a few words
 * ("heap", "stack", "huge").  kernelpagesize_kB comes after the node
 * counts, so each line is read twice: once for the page size and whether
 * it is file-backed, once to add its node counts.  Numbers are decimal,
 * strictly: no sign, no space, no trailing garbage; anything else makes
 * the line bad, counted and skipped.  The text may be hostile or cut off
 * (a fixture, a process changing its maps while we read): nothing in it
 * can make the parser read past @len or overflow a sum.
 */
#include "numamaps.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* [p, end) as a decimal number without sign; false on anything else,
 * an empty string, or a value above UINT64_MAX. */
static bool dec(const char *p, const char *end, uint64_t *v)
{
    uint64_t x = 0;

    if (p == end)
        return false;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return false;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *v = x;
    return true;
}

static bool starts(const char *p, const char *end, const char *prefix)
{
    size_t n = strlen(prefix);
    return (size_t)(end - p) >= n && memcmp(p, prefix, n) == 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Grow @m's arrays to hold node @id. */
static int room(struct numamaps *m, size_t id)
{
    size_t n = m->nnodes;
    uint64_t *b, *a, *h;

    if (id < n)
        return 0;
    b = realloc(m->bytes, (id + 1) * sizeof(*b));
    if (b == NULL)
        return -ENOMEM;
    m->bytes = b;
    a = realloc(m->anon, (id + 1) * sizeof(*a));
    if (a == NULL)
        return -ENOMEM;
    m->anon = a;
    h = realloc(m->huge, (id + 1) * sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    m->huge = h;
    memset(b + n, 0, (id + 1 - n) * sizeof(*b));
    memset(a + n, 0, (id + 1 - n) * sizeof(*a));
    memset(h + n, 0, (id + 1 - n) * sizeof(*h));
    m->nnodes = id + 1;
    return 0;
}

/* The next token of [*p, end), skipping spaces and tabs: [*tok, *tend). */
static bool token(const char **p, const char *end, const char **tok, const char **tend)
{
    const char *q = *p;

    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    if (q == end)
        return false;
    *tok = q;
    while (q < end && *q != ' ' && *q != '\t')
        q++;
    *tend = q;
    *p = q;
    return true;
}

/* "N<id>=<pages>": false when @tok is not that shape at all; else *ok
 * says whether both numbers are well formed and in range. */
static bool node_token(const char *tok, const char *end, uint64_t *id, uint64_t *pages, bool *ok)
{
    const char *eq;

    if (end - tok < 2 || tok[0] != 'N' || tok[1] < '0' || tok[1] > '9')
        return false;
    eq = memchr(tok, '=', (size_t)(end - tok));
    *ok =
        eq != NULL && dec(tok + 1, eq, id) && *id <= NUMAMAPS_MAX_NODE && dec(eq + 1, end, pages);
    return true;
}

/* One line [p, end): 0 counted, 1 bad, -ENOMEM. */
static int parse_line(const char *p, const char *end, uint64_t default_page, struct numamaps *m)
{
    const char *q = p, *tok, *tend;
    uint64_t page = default_page, id, pages, kb, bytes;
    bool file = false, huge = false, ok;
    int ntok = 0;

    /* Pass 1: shape, page size, file-backed. */
    while (token(&q, end, &tok, &tend)) {
        ntok++;
        if (ntok == 1) {
            /* the start address, hexadecimal */
            for (const char *c = tok; c < tend; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
                    return 1;
        } else if (starts(tok, tend, "kernelpagesize_kB=")) {
            if (!dec(tok + 18, tend, &kb) || kb == 0 || kb > UINT64_MAX / 1024)
                return 1;
            page = kb * 1024;
        } else if (starts(tok, tend, "file=")) {
            file = true;
        } else if (tend - tok == 4 && memcmp(tok, "huge", 4) == 0) {
            huge = true;
        } else if (node_token(tok, tend, &id, &pages, &ok) && !ok) {
            return 1;
        }
    }
    if (ntok < 2)
        return 1;
    huge = huge || page > default_page;
    /* Pass 2: the node counts. */
    q = p;
    while (token(&q, end, &tok, &tend)) {
        if (!node_token(tok, tend, &id, &pages, &ok))
            continue;
        if (room(m, (size_t)id) != 0)
            return -ENOMEM;
        bytes = pages > UINT64_MAX / page ? UINT64_MAX : pages * page;
        m->bytes[id] = sat_add(m->bytes[id], bytes);
        if (!file)
            m->anon[id] = sat_add(m->anon[id], bytes);
        if (huge)
            m->huge[id] = sat_add(m->huge[id], bytes);
        m->total = sat_add(m->total, bytes);
    }
    return 0;
}

int numamaps_parse(const char *s, size_t len, uint64_t default_page, struct numamaps *m)
{
    const char *p = s, *end = s + len;

    if (m->nnodes > 0) {
        memset(m->bytes, 0, m->nnodes * sizeof(*m->bytes));
        memset(m->anon, 0, m->nnodes * sizeof(*m->anon));
        memset(m->huge, 0, m->nnodes * sizeof(*m->huge));
    }
    m->total = 0;
    m->lines = 0;
    m->bad_lines = 0;
    if (default_page == 0)
        default_page = 4096;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl != NULL ? nl : end;
        int r;

        if (le > p) {
            r = parse_line(p, le, default_page, m);
            if (r < 0)
                return r;
            if (r == 0)
                m->lines++;
            else
                m->bad_lines++;
        }
        p = nl != NULL ? nl + 1 : end;
    }
    return 0;
}

void numamaps_free(struct numamaps *m)
{
    free(m->bytes);
    free(m->anon);
    free(m->huge);
    memset(m, 0, sizeof(*m));
}
