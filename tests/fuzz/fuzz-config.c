/*
 * fuzz-config.c - configuration file parser (pmn__parse_config).
 *
 * Checks: 0 or a documented error; on error the config is empty, the
 * bad line lies within the input and a reason is given; on success the
 * bad line is 0 and the reason empty, every private node and kind
 * override is within PMN__MAX_NODE_ID, override nodes are distinct with
 * valid kinds, and the table is no larger than the number of lines.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct pmn__config c;
    struct pmn__config_error bad = {12345, "x"};
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += s[i] == '\n';

    int r = pmn__parse_config(s, size, &c, &bad);
    FUZZ_CHECK(FUZZ_RC_OK(r));
    FUZZ_CHECK(memchr(bad.why, '\0', sizeof(bad.why)) != NULL);
    if (r != 0) {
        FUZZ_CHECK(bad.line >= 1 && bad.line <= lines);
        FUZZ_CHECK(bad.why[0] != '\0');
        FUZZ_CHECK(!c.private_set && c.kinds == NULL && c.nkinds == 0);
        FUZZ_CHECK(c.private_nodes.words == NULL);
        return 0;
    }
    FUZZ_CHECK(bad.line == 0 && bad.why[0] == '\0');
    FUZZ_CHECK(c.nkinds <= lines);
    FUZZ_CHECK(c.private_nodes.nwords <= PMN__MAX_NODE_ID / 64 + 1);
    if (!c.private_set)
        FUZZ_CHECK(pmn__bitmap_weight(&c.private_nodes) == 0);
    for (size_t i = 0; i < c.nkinds; i++) {
        FUZZ_CHECK(c.kinds[i].node >= 0 && c.kinds[i].node <= PMN__MAX_NODE_ID);
        FUZZ_CHECK((unsigned)c.kinds[i].kind < PMN_KIND__COUNT);
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(c.kinds[i].node != c.kinds[j].node);
    }
    pmn__config_free(&c);
    FUZZ_CHECK(c.kinds == NULL && c.private_nodes.words == NULL);
    return 0;
}
