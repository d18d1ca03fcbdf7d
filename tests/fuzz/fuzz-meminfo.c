/*
 * fuzz-meminfo.c - nodeN/meminfo and /proc/meminfo (pmn__parse_meminfo).
 *
 * Checks: 0 or a documented error; output untouched on error; a known
 * value is a whole number of KiB (so never PMN_UNKNOWN by accident); and
 * parsing is stable under appending an unrelated line.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct pmn__meminfo m = {11, 13};

    int r = pmn__parse_meminfo(s, size, &m);
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
