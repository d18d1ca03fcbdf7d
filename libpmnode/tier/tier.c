/*
 * STUB (issue 16, being written): the tiering helper.
 */
#include "pmnode.h"
#include <errno.h>

int pmn_tier_new(struct pmn_ctx *ctx, const struct pmn_tier_opts *opts, struct pmn_tier **out)
{
    (void)ctx, (void)opts, (void)out;
    return -ENOSYS;
}
void pmn_tier_free(struct pmn_tier *t) { (void)t; }
int pmn_tier_add(struct pmn_tier *t, void *addr, size_t len)
{
    (void)t, (void)addr, (void)len;
    return -ENOSYS;
}
int pmn_tier_remove(struct pmn_tier *t, void *addr, size_t len)
{
    (void)t, (void)addr, (void)len;
    return -ENOSYS;
}
int pmn_tier_step(struct pmn_tier *t, struct pmn_tier_stats *delta)
{
    (void)t, (void)delta;
    return -ENOSYS;
}
int pmn_tier_stats(struct pmn_tier *t, struct pmn_tier_stats *out)
{
    (void)t, (void)out;
    return -ENOSYS;
}
int pmn_tier_stats_json(const struct pmn_tier_stats *st, char *buf, size_t len)
{
    (void)st, (void)buf, (void)len;
    return -ENOSYS;
}
struct pmn_track *pmn_tier_tracker(struct pmn_tier *t)
{
    (void)t;
    return NULL;
}
