/*
 * fuzz-device.c - device names (pmn_device_node, device.c): any string a
 * caller may pass, against the two-socket-cxl fixture tree (the directory
 * PMN_FUZZ_FIXTURE names at build time, or $PMN_FIXTURES).
 *
 * The input is cut at its first NUL, as a C caller's string would be.
 * Checks: the answer is 0 with a node id in range, or one of the codes the
 * header documents (-EINVAL, PMN_E_NO_DEVICE, PMN_E_UNKNOWN, PMN_E_PARSE);
 * the node is untouched on error; the same name asked twice answers the
 * same.  A name that resolves outside the tree never answers 0.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "fuzz.h"
#include "pmnode.h"

static struct pmn_ctx *fixture_ctx(void)
{
    static struct pmn_ctx *ctx; /* one tree for the whole run: a harness, not library state */
    char root[PATH_MAX];
    const char *base = getenv("PMN_FIXTURES");

    if (ctx != NULL)
        return ctx;
#ifdef PMN_FUZZ_FIXTURE
    if (base == NULL)
        base = PMN_FUZZ_FIXTURE;
#endif
    FUZZ_CHECK(base != NULL);
    snprintf(root, sizeof(root), "%s/two-socket-cxl/root", base);
    FUZZ_CHECK(pmn_ctx_new_at(&ctx, root) == 0);
    return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pmn_ctx *ctx = fixture_ctx();
    char *s = malloc(size + 1);
    int node = -7, again = -7, r, r2;

    FUZZ_CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    r = pmn_device_node(ctx, s, &node);
    FUZZ_CHECK(r == 0 || r == -EINVAL || r == PMN_E_NO_DEVICE || r == PMN_E_UNKNOWN ||
               r == PMN_E_PARSE);
    if (r == 0)
        FUZZ_CHECK(node >= 0 && node <= 65535);
    else
        FUZZ_CHECK(node == -7);
    r2 = pmn_device_node(ctx, s, &again);
    FUZZ_CHECK(r2 == r && (r != 0 || again == node));
    free(s);
    return 0;
}
