/*
 * migrate-heap.c - moving an arena's or a slab's extents, or one object's
 * extent, to another node of its backing (pmn_arena_migrate,
 * pmn_slab_migrate, pmn_migrate_object).
 *
 * An extent is a segment: one region of the backing (place/), moved with
 * pmn__region_migrate(), which also keeps the backing's books.  Other
 * threads keep allocating and freeing meanwhile, so:
 *   - the segments to look at are a snapshot of their addresses, taken
 *     under the heap lock from every list (small segments, large ones,
 *     the large cache);
 *   - each is moved with the heap lock held, after checking that it is
 *     still one of this heap's segments.  Under the lock no segment can be
 *     released (every release path holds it) and no slice of it can be
 *     populated (slices_take holds it), so the extent stays while it
 *     moves and the slices populated after it follow r->node, the new
 *     node.  Objects' fast paths (pops, pushes, remote frees) take no lock
 *     and run on during the move: the kernel moves pages under them.
 *     What waits is what takes the lock: new pages, large objects, large
 *     frees, for one extent's move at most.
 * A segment mapped after the snapshot is not looked at (pmnode.h says so).
 * The membership check walks the heap's lists (it dereferences only our
 * own segments, never an address another heap may be releasing): a cost
 * linear in the number of segments per extent moved.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/heap.h"

static bool wanted(const struct pmn__segment *seg, int from, int node)
{
    int at = pmn_region_node(seg->region);

    return from < 0 ? at != node : at == from;
}

static size_t snap_list(const struct pmn__segment *s, int from, int node, uintptr_t *v, size_t n)
{
    for (; s != NULL; s = s->next)
        if (wanted(s, from, node)) {
            if (v != NULL)
                v[n] = (uintptr_t)s;
            n++;
        }
    return n;
}

static bool in_list(const struct pmn__segment *s, uintptr_t a)
{
    for (; s != NULL; s = s->next)
        if ((uintptr_t)s == a)
            return true;
    return false;
}

/* The segment at @a if it is still one of @h's; lock held. */
static struct pmn__segment *seg_find(struct pmn__heap *h, uintptr_t a)
{
    if (in_list(h->segments, a) || in_list(h->large, a) || in_list(h->large_cache, a))
        return (struct pmn__segment *)a;
    return NULL;
}

/* Move every segment of @h on @from (-1: not on @node) to @node; the sum
 * of their reports in *@sum (whole, always filled).  Arguments checked. */
static int heap_migrate(struct pmn__heap *h, int from, int node, unsigned flags,
                        struct pmn_migrate_report *sum)
{
    uintptr_t *v = NULL;
    size_t n;
    int err = 0;

    pthread_mutex_lock(&h->lock);
    n = snap_list(h->segments, from, node, NULL, 0);
    n = snap_list(h->large, from, node, NULL, n);
    n = snap_list(h->large_cache, from, node, NULL, n);
    if (n > 0 && (v = malloc(n * sizeof(*v))) == NULL) {
        pthread_mutex_unlock(&h->lock);
        return -ENOMEM;
    }
    n = snap_list(h->segments, from, node, v, 0);
    n = snap_list(h->large, from, node, v, n);
    n = snap_list(h->large_cache, from, node, v, n);
    pthread_mutex_unlock(&h->lock);

    for (size_t i = 0; i < n && err == 0; i++) {
        struct pmn_migrate_report one;
        struct pmn__segment *seg;

        pthread_mutex_lock(&h->lock);
        if (h->dead) {
            pthread_mutex_unlock(&h->lock);
            err = PMN_E_DESTROYED;
            break;
        }
        seg = seg_find(h, v[i]);
        if (seg == NULL || !wanted(seg, from, node)) {
            pthread_mutex_unlock(&h->lock); /* released, or moved, meanwhile */
            continue;
        }
        err = pmn__region_migrate(seg->region, node, flags, &one);
        pthread_mutex_unlock(&h->lock);
        if (one.struct_size != 0)
            pmn__migrate_report_add(sum, &one);
    }
    free(v);
    return err;
}

/* The public calls' common part: checks, then the heap's move. */
static int migrate_heap(struct pmn__heap *h, int from, int node, unsigned flags,
                        struct pmn_migrate_report *rep)
{
    struct pmn_migrate_report sum;
    int err;

    if (from < -1 || (rep != NULL && rep->struct_size < sizeof(size_t)))
        return -EINVAL;
    err = pmn__backing_migrate_check(h->b, node, flags);
    if (err)
        return err;
    memset(&sum, 0, sizeof(sum));
    sum.struct_size = sizeof(sum);
    err = heap_migrate(h, from, node, flags, &sum);
    if (rep != NULL)
        pmn__migrate_report_out(rep, &sum);
    return err;
}

int pmn_arena_migrate(struct pmn_arena *a, int from, int node, unsigned flags,
                      struct pmn_migrate_report *rep)
{
    if (a == NULL)
        return -EINVAL;
    return migrate_heap(pmn__arena_heap(a), from, node, flags, rep);
}

int pmn_slab_migrate(struct pmn_slab *s, int from, int node, unsigned flags,
                     struct pmn_migrate_report *rep)
{
    if (s == NULL)
        return -EINVAL;
    return migrate_heap(pmn__slab_heap(s), from, node, flags, rep);
}

/* Why @p is not a live object of @seg, as pmn_free() would say, or 0;
 * heap lock held (a large object's live flag is read under it). */
static int object_misuse(struct pmn__segment *seg, void *p)
{
    struct pmn__page *pg;

    if (seg->large) {
        if (!seg->pages[0].live)
            return PMN_E_DOUBLE_FREE;
        return p == seg->pages[0].start ? 0 : PMN_E_INTERIOR;
    }
    pg = seg->slice_page[((uintptr_t)p - (uintptr_t)seg) >> PMN__SLICE_SHIFT];
    if (!pg->live) /* pmn__no_page: never live */
        return PMN_E_FOREIGN;
    return pmn__block_live(pg, p) ? 0 : pmn__free_misuse(pg, p);
}

int pmn_migrate_object(void *p, int node, unsigned flags, struct pmn_migrate_report *rep)
{
    struct pmn_migrate_report one;
    struct pmn__segment *seg;
    struct pmn__heap *h;
    int err;

    if (p == NULL || (rep != NULL && rep->struct_size < sizeof(size_t)))
        return -EINVAL;
    seg = pmn__segment_of(p);
    if (seg == NULL)
        return PMN_E_FOREIGN;
    /* A live object keeps its segment: seg->heap is safe to read (a
     * pointer freed meanwhile by another thread is the caller's race, as
     * for pmn_free). */
    h = seg->heap;
    err = pmn__backing_migrate_check(h->b, node, flags);
    if (err)
        return err;
    pthread_mutex_lock(&h->lock);
    err = object_misuse(seg, p);
    if (err == 0)
        err = pmn__region_migrate(seg->region, node, flags, &one);
    else
        one.struct_size = 0;
    pthread_mutex_unlock(&h->lock);
    if (rep != NULL && one.struct_size != 0)
        pmn__migrate_report_out(rep, &one);
    return err;
}
