/*
 * STUB (issue 16, being written): moving a region, an arena's or slab's
 * extents, or one object's extent, to another node of its backing.
 */
#include "pmnode.h"
#include <errno.h>

int pmn_region_migrate(struct pmn_region *r, int node, unsigned flags,
                       struct pmn_migrate_report *rep)
{
    (void)r, (void)node, (void)flags, (void)rep;
    return -ENOSYS;
}

int pmn_arena_migrate(struct pmn_arena *a, int from, int node, unsigned flags,
                      struct pmn_migrate_report *rep)
{
    (void)a, (void)from, (void)node, (void)flags, (void)rep;
    return -ENOSYS;
}

int pmn_slab_migrate(struct pmn_slab *s, int from, int node, unsigned flags,
                     struct pmn_migrate_report *rep)
{
    (void)s, (void)from, (void)node, (void)flags, (void)rep;
    return -ENOSYS;
}

int pmn_migrate_object(void *p, int node, unsigned flags, struct pmn_migrate_report *rep)
{
    (void)p, (void)node, (void)flags, (void)rep;
    return -ENOSYS;
}
