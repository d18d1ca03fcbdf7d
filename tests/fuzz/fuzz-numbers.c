/*
 * fuzz-numbers.c - pmn__parse_u64 (bases 0, 8, 10, 16), pmn__parse_s64,
 * pmn__parse_size and pmn__parse_distances.
 *
 * Checks: results are 0 or a documented error; outputs are untouched on
 * error; a decimal value that parses prints back as the same digits (less
 * leading zeros and the one newline); base 0 agrees with the explicit base
 * its prefix names; a size without suffix equals the decimal/hex value;
 * distances never exceed @max and are never negative.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "fuzz.h"

/* Input without the one trailing newline and without leading zeros
 * (keeping a last "0"), for comparison with a printed value. */
static void canonical(const char *s, size_t len, const char **cs, size_t *clen)
{
    if (len > 0 && s[len - 1] == '\n')
        len--;
    while (len > 1 && s[0] == '0') {
        s++;
        len--;
    }
    *cs = s;
    *clen = len;
}

static void check_u64(const char *s, size_t size)
{
    static const int bases[] = {0, 8, 10, 16};
    uint64_t v[4];
    int r[4];
    for (int i = 0; i < 4; i++) {
        v[i] = 0x5a5a5a5a5a5a5a5aULL;
        r[i] = pmn__parse_u64(s, size, bases[i], &v[i]);
        FUZZ_CHECK(r[i] == 0 || r[i] == -EINVAL || r[i] == -ERANGE);
        if (r[i] != 0)
            FUZZ_CHECK(v[i] == 0x5a5a5a5a5a5a5a5aULL);
    }
    if (r[2] == 0) {
        char buf[32];
        int w = snprintf(buf, sizeof(buf), "%" PRIu64, v[2]);
        const char *cs;
        size_t clen;
        canonical(s, size, &cs, &clen);
        FUZZ_CHECK((size_t)w == clen && memcmp(buf, cs, clen) == 0);
        /* every decimal is also octal-or-decimal-or-hex digits */
        FUZZ_CHECK(r[3] == 0 || r[3] == -ERANGE);
    }
    /* base 0: "0x" -> 16, leading 0 -> 8, else 10 */
    size_t len = size > 0 && s[size - 1] == '\n' ? size - 1 : size;
    if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        FUZZ_CHECK(r[0] == r[3] && (r[0] != 0 || v[0] == v[3]));
    } else if (len > 1 && s[0] == '0') {
        FUZZ_CHECK(r[0] == r[1] && (r[0] != 0 || v[0] == v[1]));
    } else {
        FUZZ_CHECK(r[0] == r[2] && (r[0] != 0 || v[0] == v[2]));
    }
}

static void check_s64(const char *s, size_t size)
{
    int64_t v = 77;
    int r = pmn__parse_s64(s, size, &v);
    FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
    if (r != 0) {
        FUZZ_CHECK(v == 77);
        return;
    }
    /* agrees with the unsigned parser on non-negative input */
    uint64_t u;
    if (size > 0 && s[0] != '-')
        FUZZ_CHECK(pmn__parse_u64(s, size, 10, &u) == 0 && u == (uint64_t)v);
    char buf[32];
    int w = snprintf(buf, sizeof(buf), "%" PRId64, v);
    FUZZ_CHECK(w > 0);
    if (size > 0 && s[0] == '-' && v != 0) {
        const char *cs;
        size_t clen;
        canonical(s + 1, size - 1, &cs, &clen);
        FUZZ_CHECK((size_t)w == clen + 1 && memcmp(buf + 1, cs, clen) == 0);
    }
}

static void check_size(const char *s, size_t size)
{
    uint64_t v = 99, u;
    int r = pmn__parse_size(s, size, &v);
    FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
    if (r != 0) {
        FUZZ_CHECK(v == 99);
        return;
    }
    size_t len = size > 0 && s[size - 1] == '\n' ? size - 1 : size;
    FUZZ_CHECK(len > 0);
    char last = s[len - 1];
    if (last >= '0' && last <= '9' && !(len >= 2 && (s[1] == 'x' || s[1] == 'X')))
        FUZZ_CHECK(pmn__parse_u64(s, size, 10, &u) == 0 && u == v);
    if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        FUZZ_CHECK(pmn__parse_u64(s, size, 16, &u) == 0 && u == v);
}

static void check_distances(const char *s, size_t size)
{
    int d[8];
    size_t n = 1234;
    for (size_t max = 0; max <= 8; max += 4) {
        int r = pmn__parse_distances(s, size, max ? d : NULL, max, &n);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
        if (r == 0) {
            FUZZ_CHECK(n >= 1 && n <= max);
            for (size_t i = 0; i < n; i++)
                FUZZ_CHECK(d[i] >= 0);
        } else {
            FUZZ_CHECK(n == 1234);
        }
        n = 1234;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_u64(s, size);
    check_s64(s, size);
    check_size(s, size);
    check_distances(s, size);
    return 0;
}
