/*
 * extents.c - which memory an arena or slab holds, for registering it with
 * a device (pmnode.h, "Registration").
 *
 * A heap's memory is its segments: small ones on h->segments (in use or
 * kept empty), large ones on h->large and h->large_cache.  Each is one
 * region of the backing, whose extents (one, or two around an alignment
 * hole) backing.c knows how to describe.  The walk copies them under the
 * heap lock and calls the caller's function after letting go, so the
 * function may allocate from the same arena: the list it sees is a
 * snapshot.  The map/unmap hooks themselves live on the backing.
 */
#include <errno.h>
#include <stdlib.h>

#include "alloc/heap.h"

static size_t seg_count(const struct pmn__segment *s)
{
    size_t n = 0;

    for (; s != NULL; s = s->next)
        n++;
    return n;
}

static size_t seg_fill(const struct pmn__segment *s, struct pmn_extent *v)
{
    size_t n = 0;

    for (; s != NULL; s = s->next)
        n += pmn__region_extents(s->region, v + n);
    return n;
}

int pmn__heap_extents(struct pmn__heap *h, pmn_extent_fn fn, void *arg)
{
    struct pmn_extent *v = NULL;
    size_t cap, n = 0;
    int err;

    if (fn == NULL)
        return -EINVAL;
    pthread_mutex_lock(&h->lock);
    cap = 2 * (seg_count(h->segments) + seg_count(h->large) + seg_count(h->large_cache));
    if (cap > 0 && (v = malloc(cap * sizeof(*v))) == NULL) {
        pthread_mutex_unlock(&h->lock);
        return -ENOMEM;
    }
    n += seg_fill(h->segments, v + n);
    n += seg_fill(h->large, v + n);
    n += seg_fill(h->large_cache, v + n);
    pthread_mutex_unlock(&h->lock);
    err = pmn__extents_call(v, n, fn, arg);
    free(v);
    return err;
}

int pmn_arena_extents(struct pmn_arena *a, pmn_extent_fn fn, void *arg)
{
    return a != NULL ? pmn__heap_extents(pmn__arena_heap(a), fn, arg) : -EINVAL;
}

int pmn_slab_extents(struct pmn_slab *s, pmn_extent_fn fn, void *arg)
{
    return s != NULL ? pmn__heap_extents(pmn__slab_heap(s), fn, arg) : -EINVAL;
}
