/*
 * migrate-region.c - moving a whole region to another node of its
 * backing (pmn_region_migrate), with its books.
 *
 * The pages move with the engine of pmn_migrate (migrate.c); what this
 * file adds is what a region knows and a bare range does not:
 *   - where it may go: its backing's node or a node of its spill list;
 *   - how to judge the target: as a region map does (pmn__backing_room:
 *     the cpuset, the backing's headroom, free huge pages for hugetlb);
 *   - the unit move_pages is asked about (a hugetlb region's huge page);
 *   - the books, on success only: r->node and r->slot (which the lazy
 *     population of arena slices binds to, so later slices land on the new
 *     node), and the backing's bytes per node and spilled bytes, under the
 *     backing's lock.  A region counts whole on one node, as it did when it
 *     was mapped; a failed move leaves it on its old node in the books and
 *     in its memory policy, and the report says which pages moved.
 * Device-dax, user and provider memory cannot move: the device or the
 * caller decides where it is.
 */
#include <errno.h>
#include <string.h>

#include "place/backing.h"

static int room_backing(void *arg, int node, uint64_t bytes, unsigned flags)
{
    return pmn__backing_room(arg, node, bytes, flags);
}

/* The checks before anything is looked at; the slot of @node in *@slot. */
static int region_check(struct pmn_backing *b, int node, unsigned flags, int *slot)
{
    if (node < 0 || (flags & ~PMN__MIGRATE_FLAGS))
        return -EINVAL;
    if (b->type != PMN_BACKING_ANON && b->type != PMN_BACKING_MEMFD &&
        b->type != PMN_BACKING_HUGETLB)
        return -EOPNOTSUPP;
    *slot = -1;
    for (size_t i = 0; i < b->nnodes; i++)
        if (b->nodes[i] == node)
            *slot = (int)i;
    if (*slot < 0)
        return PMN_E_NOT_ON_LIST;
    return pmn__migrate_check(b->ctx, node, flags);
}

/* The region now lives on b->nodes[@slot]: move its committed bytes there
 * in the backing's stats. */
static void books_move(struct pmn_region *r, int slot)
{
    struct pmn_backing *b = r->b;
    uint64_t bytes = pmn__region_committed(r);
    int old = r->slot < 0 ? 0 : r->slot;

    pthread_mutex_lock(&b->lock);
    b->stats.node[old].bytes -= bytes;
    if (old > 0)
        b->stats.spilled_bytes -= bytes;
    b->stats.node[slot].bytes += bytes;
    if (slot > 0)
        b->stats.spilled_bytes += bytes;
    r->slot = slot;
    r->node = b->nodes[slot];
    r->pext.node = r->node;
    pthread_mutex_unlock(&b->lock);
}

int pmn__backing_migrate_check(struct pmn_backing *b, int node, unsigned flags)
{
    int slot;

    return region_check(b, node, flags, &slot);
}

int pmn__region_migrate(struct pmn_region *r, int node, unsigned flags,
                        struct pmn_migrate_report *out)
{
    struct pmn_backing *b = r->b;
    size_t unit = b->huge_size ? b->huge_size : b->page;
    int slot, err;

    memset(out, 0, sizeof(*out));
    out->struct_size = sizeof(*out);
    out->pages = r->size / b->page;
    err = region_check(b, node, flags, &slot);
    if (err == 0 && ((uintptr_t)r->addr % unit || r->size % unit))
        err = -EINVAL; /* not a region this library mapped */
    if (err) {
        out->struct_size = 0; /* refused before looking: no report */
        return err;
    }
    err = pmn__migrate(b->ctx, r->addr, r->size, unit, node, flags, room_backing, b, out);
    if (err == 0 && slot != r->slot)
        books_move(r, slot);
    return err;
}

int pmn_region_migrate(struct pmn_region *r, int node, unsigned flags,
                       struct pmn_migrate_report *rep)
{
    struct pmn_migrate_report full;
    int err;

    if (r == NULL || (rep != NULL && rep->struct_size < sizeof(size_t)))
        return -EINVAL;
    err = pmn__region_migrate(r, node, flags, &full);
    if (rep != NULL && full.struct_size != 0)
        pmn__migrate_report_out(rep, &full);
    return err;
}
