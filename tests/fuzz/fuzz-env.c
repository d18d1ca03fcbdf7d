/*
 * fuzz-env.c - environment strings: PMNODE_LOG (pmn__parse_log_level) and
 * PMNODE_PRIVATE_NODES (pmn__parse_list over a C string, as ctx.c reads it).
 *
 * The input is cut at its first NUL, as getenv() would see it.  Checks: 0
 * or -EINVAL for the level, which is 0..4 and untouched on error; the list
 * parse agrees with a parse of the same bytes with an explicit length.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';

    int level = -7;
    int r = pmn__parse_log_level(s, strlen(s), &level);
    FUZZ_CHECK(r == 0 || r == -EINVAL);
    if (r == 0)
        FUZZ_CHECK(level >= 0 && level <= 4);
    else
        FUZZ_CHECK(level == -7);

    struct pmn__bitmap a = {0}, b = {0};
    size_t len = strlen(s);
    int ra = pmn__parse_list(s, len, PMN__MAX_NODE_ID, &a);
    FUZZ_CHECK(FUZZ_RC_OK(ra));
    /* the same bytes, not NUL-terminated, give the same answer */
    char *copy = malloc(len ? len : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, s, len);
    int rb = pmn__parse_list(copy, len, PMN__MAX_NODE_ID, &b);
    FUZZ_CHECK(ra == rb && pmn__bitmap_weight(&a) == pmn__bitmap_weight(&b));
    free(copy);
    pmn__bitmap_free(&a);
    pmn__bitmap_free(&b);
    free(s);
    return 0;
}
