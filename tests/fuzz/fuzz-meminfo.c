/*
 * fuzz-meminfo.c - a node's memory text: nodeN/meminfo and /proc/meminfo
 * (pmn__parse_meminfo), and /proc/zoneinfo (pmn__parse_zoneinfo) on the
 * same input.
 *
 * Checks: 0 or a documented error; output untouched on error; a known
 * value is a whole number of KiB (so never PMN_UNKNOWN by accident);
 * parsing is stable under appending an unrelated line; zoneinfo gives at
 * most the room asked for, distinct nodes, each zone's reserve within
 * bounds.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct pmn__meminfo m = {.total = 11, .free = 13};
    struct pmn__zonewm w[4];
    size_t n = 5;

    int r = pmn__parse_zoneinfo(s, size, w, 4, &n);
    FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
    FUZZ_CHECK(r == 0 ? n <= 4 : n == 5);
    for (size_t i = 0; r == 0 && i < n; i++)
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(w[i].node != w[j].node);

    r = pmn__parse_meminfo(s, size, &m);
    FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
    if (r != 0) {
        FUZZ_CHECK(m.total == 11 && m.free == 13);
        return 0;
    }
    FUZZ_CHECK(m.total == PMN_UNKNOWN || m.total % 1024 == 0);
    FUZZ_CHECK(m.free == PMN_UNKNOWN || m.free % 1024 == 0);

    /* an unknown line after a complete last line changes nothing */
    if (size > 0 && s[size - 1] == '\n') {
        static const char extra[] = "Node 0 Active:     1 kB\n";
        char *buf = malloc(size + sizeof(extra));
        FUZZ_CHECK(buf != NULL);
        memcpy(buf, s, size);
        memcpy(buf + size, extra, sizeof(extra) - 1);
        struct pmn__meminfo m2;
        FUZZ_CHECK(pmn__parse_meminfo(buf, size + sizeof(extra) - 1, &m2) == 0);
        FUZZ_CHECK(m2.total == m.total && m2.free == m.free);
        free(buf);
    }
    return 0;
}
