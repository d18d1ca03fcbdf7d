/*
 * ctier-off.c - the compressed tier's entry points in a build without it.
 *
 * `meson setup -Dctier=false` builds libpmnode without ctier.c and without
 * liblz4.  The public API and the version script stay the same in both
 * builds, so a program linked against one runs against the other: here
 * every pmn_ctier_* call answers PMN_E_NO_CTIER ("this libpmnode was built
 * without the compressed tier"), which `pmnode ctier` and the bindings
 * report as is.  No tier can ever be opened, so the calls taking one never
 * see a real handle.
 */
#include <stddef.h>

#include "pmnode.h"

int pmn_ctier_open(struct pmn_ctx *ctx, const struct pmn_ctier_opts *opts, struct pmn_ctier **out)
{
    (void)ctx;
    (void)opts;
    if (out != NULL)
        *out = NULL;
    return PMN_E_NO_CTIER;
}

void pmn_ctier_close(struct pmn_ctier *t)
{
    (void)t;
}

int pmn_ctier_node(const struct pmn_ctier *t)
{
    (void)t;
    return -1;
}

const char *pmn_ctier_write_control(const struct pmn_ctier *t)
{
    (void)t;
    return NULL;
}

int pmn_ctier_demote(struct pmn_ctier *t, void *addr, size_t len)
{
    (void)t;
    (void)addr;
    (void)len;
    return PMN_E_NO_CTIER;
}
PMN__SYMVER_DEFAULT(pmn_ctier_stats_json, "PMNODE_0.2");

int pmn_ctier_promote(struct pmn_ctier *t, void *addr, size_t len, int node)
{
    (void)t;
    (void)addr;
    (void)len;
    (void)node;
    return PMN_E_NO_CTIER;
}

double pmn_ctier_estimate(const void *addr, size_t len, unsigned samples)
{
    (void)addr;
    (void)len;
    (void)samples;
    return PMN_E_NO_CTIER;
}

int pmn_ctier_stats(struct pmn_ctier *t, struct pmn_ctier_stats *out)
{
    (void)t;
    (void)out;
    return PMN_E_NO_CTIER;
}
PMN__SYMVER_DEFAULT(pmn_ctier_stats, "PMNODE_0.2");

int pmn_ctier_stats_json(const struct pmn_ctier_stats *st, char *buf, size_t len)
{
    (void)st;
    (void)buf;
    (void)len;
    return PMN_E_NO_CTIER;
}
