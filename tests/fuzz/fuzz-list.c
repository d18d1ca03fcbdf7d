/*
 * fuzz-list.c - node/cpu list parser (pmn__parse_list).
 *
 * Parses the input under three limits and checks: every result is 0 or a
 * documented error; -EINVAL does not depend on the limit; a list accepted
 * under a small limit is accepted, with the same set, under a larger one;
 * no set bit exceeds the limit; a failed parse leaves the set empty; and
 * printing the set back in kernel format and parsing that gives the same
 * set (round trip).
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"

static size_t format_list(const struct pmn__bitmap *b, char *buf, size_t cap)
{
    size_t len = 0;
    long i = pmn__bitmap_next(b, 0);
    while (i >= 0) {
        long j = i;
        long k;
        while ((k = pmn__bitmap_next(b, (unsigned)j + 1)) == j + 1)
            j = k;
        int w = j == i ? snprintf(buf + len, cap - len, "%s%ld", len ? "," : "", i)
                       : snprintf(buf + len, cap - len, "%s%ld-%ld", len ? "," : "", i, j);
        FUZZ_CHECK(w > 0 && (size_t)w < cap - len);
        len += (size_t)w;
        i = k;
    }
    return len;
}

static bool same_set(const struct pmn__bitmap *a, const struct pmn__bitmap *b)
{
    long i = pmn__bitmap_next(a, 0), j = pmn__bitmap_next(b, 0);
    while (i >= 0 && i == j) {
        i = pmn__bitmap_next(a, (unsigned)i + 1);
        j = pmn__bitmap_next(b, (unsigned)j + 1);
    }
    return i == j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct pmn__bitmap small = {0}, node = {0}, cpu = {0}, again = {0};

    int rs = pmn__parse_list(s, size, 64, &small);
    int rn = pmn__parse_list(s, size, PMN__MAX_NODE_ID, &node);
    int rc = pmn__parse_list(s, size, PMN__MAX_CPU_ID, &cpu);
    FUZZ_CHECK(FUZZ_RC_OK(rs) && FUZZ_RC_OK(rn) && FUZZ_RC_OK(rc));
    FUZZ_CHECK((rs == -EINVAL) == (rn == -EINVAL));
    FUZZ_CHECK((rn == -EINVAL) == (rc == -EINVAL));
    if (rs == 0)
        FUZZ_CHECK(rn == 0 && same_set(&small, &node));
    if (rn == 0)
        FUZZ_CHECK(rc == 0 && same_set(&node, &cpu));
    if (rs != 0)
        FUZZ_CHECK(pmn__bitmap_weight(&small) == 0);
    if (rn != 0)
        FUZZ_CHECK(pmn__bitmap_weight(&node) == 0);
    FUZZ_CHECK(small.nwords <= 64 / 64 + 1);
    FUZZ_CHECK(node.nwords <= PMN__MAX_NODE_ID / 64 + 1);
    FUZZ_CHECK(cpu.nwords <= PMN__MAX_CPU_ID / 64 + 1);

    if (rn == 0) {
        /* each printed run costs at most 13 bytes, and there are at most
         * as many runs as input groups, i.e. (size + 1) / 2 */
        size_t cap = 13 * (size + 1) + 16;
        char *buf = malloc(cap);
        FUZZ_CHECK(buf != NULL);
        size_t len = format_list(&node, buf, cap);
        FUZZ_CHECK(pmn__parse_list(buf, len, PMN__MAX_NODE_ID, &again) == 0);
        FUZZ_CHECK(same_set(&node, &again));
        free(buf);
    }
    pmn__bitmap_free(&small);
    pmn__bitmap_free(&node);
    pmn__bitmap_free(&cpu);
    pmn__bitmap_free(&again);
    return 0;
}
