/*
 * STUB (issue 16, being written): access tracking.
 */
#include "pmnode.h"
#include <errno.h>

int pmn_track_new(struct pmn_ctx *ctx, const struct pmn_track_opts *opts, struct pmn_track **out)
{
    (void)ctx, (void)opts, (void)out;
    return -ENOSYS;
}
void pmn_track_free(struct pmn_track *t) { (void)t; }
enum pmn_track_mode pmn_track_mode(const struct pmn_track *t)
{
    (void)t;
    return PMN_TRACK_AUTO;
}
const char *pmn_track_mode_name(enum pmn_track_mode m)
{
    (void)m;
    return "unknown";
}
int pmn_track_add(struct pmn_track *t, void *addr, size_t len)
{
    (void)t, (void)addr, (void)len;
    return -ENOSYS;
}
int pmn_track_remove(struct pmn_track *t, void *addr, size_t len)
{
    (void)t, (void)addr, (void)len;
    return -ENOSYS;
}
int pmn_track_scan(struct pmn_track *t, struct pmn_track_report *rep)
{
    (void)t, (void)rep;
    return -ENOSYS;
}
long pmn_track_extents(struct pmn_track *t, struct pmn_track_extent *out, size_t max)
{
    (void)t, (void)out, (void)max;
    return -ENOSYS;
}
