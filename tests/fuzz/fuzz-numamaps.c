/*
 * fuzz-numamaps.c - /proc/PID/numa_maps text as pmnode numa reads it
 * (tools/pmnode/numamaps.c, numamaps_parse).
 *
 * Checks: 0 or -ENOMEM; no node id above NUMAMAPS_MAX_NODE; anonymous
 * bytes never above a node's bytes; the total is the saturating sum of
 * the nodes; counted plus skipped lines at most the lines of the input;
 * parsing again into the same struct (as every sample does) gives the
 * same numbers.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "numamaps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct numamaps m = {0};
    uint64_t sum = 0, total, *copy;
    size_t nl = 1, n, lines, bad;

    int r = numamaps_parse(s, size, 4096, &m);
    FUZZ_CHECK(r == 0 || r == -ENOMEM);
    if (r != 0) {
        numamaps_free(&m);
        return 0;
    }
    FUZZ_CHECK(m.nnodes <= NUMAMAPS_MAX_NODE + 1);
    for (size_t i = 0; i < m.nnodes; i++) {
        FUZZ_CHECK(m.anon[i] <= m.bytes[i]);
        sum = sum > UINT64_MAX - m.bytes[i] ? UINT64_MAX : sum + m.bytes[i];
    }
    FUZZ_CHECK(sum == m.total);
    for (size_t i = 0; i < size; i++)
        nl += s[i] == '\n';
    FUZZ_CHECK(m.lines + m.bad_lines <= nl);

    n = m.nnodes;
    total = m.total;
    lines = m.lines;
    bad = m.bad_lines;
    copy = malloc((n + 1) * sizeof(*copy));
    FUZZ_CHECK(copy != NULL);
    if (n > 0)
        memcpy(copy, m.bytes, n * sizeof(*copy));
    FUZZ_CHECK(numamaps_parse(s, size, 4096, &m) == 0);
    FUZZ_CHECK(m.nnodes == n && m.total == total && m.lines == lines && m.bad_lines == bad);
    FUZZ_CHECK(n == 0 || memcmp(copy, m.bytes, n * sizeof(*copy)) == 0);
    free(copy);
    numamaps_free(&m);
    return 0;
}
