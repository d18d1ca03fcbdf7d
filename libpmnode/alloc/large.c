/*
 * large.c - objects larger than a page class (PMN__SMALL_MAX): each has a
 * segment of its own, and freed ones wait in a per-heap cache for reuse.
 *
 * The segment primitives (map, release, the lists) are heap.c's; this
 * file decides the shape of a large segment, when a cached one fits, and
 * what a free does with it.  Everything here runs under the heap lock
 * except the map of a new segment.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/heap.h"
#include "alloc/publish.h"
#include "os/prim.h"

/*
 * A large object has a segment of its own: the header at the segment's
 * start (found by masking, as for any segment), the object at offset off.
 * With U the segment unit, max(4 MiB, the backing's granule):
 *
 *   align <= U   the segment is U-aligned, off = max(64 KiB, align);
 *   align >  U   off = U, and the segment is placed so that seg + U is a
 *                multiple of align (pmn__region_map_holed's skew): the
 *                segment is U + size long whatever the alignment, and the
 *                segment map finds the header one slot back from the
 *                object, never align / 4 MiB slots back.
 *
 * Between the header slice and the object lies a hole of up to
 * U - 64 KiB that is address space only: never populated, never counted
 * (device-dax has no unpopulated memory, so there the hole is device
 * memory, at most one unit).  posix_memalign(&p, 256 MiB, 64) costs the
 * header slice and one page, not 256 MiB.
 */
struct large_shape {
    size_t off;                /* the object's offset in the segment */
    size_t seg_align, skew;    /* seg + skew is a multiple of seg_align */
    size_t hole_off, hole_len; /* never populated */
};

static void large_shape(const struct pmn__heap *h, size_t align, struct large_shape *ls)
{
    size_t g = pmn_backing_granule(h->b);
    size_t unit = g > PMN__SEG_SIZE ? g : PMN__SEG_SIZE;
    size_t head = (PMN__SLICE_SIZE + g - 1) / g * g, obj;

    if (align <= unit) {
        ls->off = align > PMN__SLICE_SIZE ? align : PMN__SLICE_SIZE;
        ls->seg_align = unit;
        ls->skew = 0;
    } else {
        ls->off = unit;
        ls->seg_align = align;
        ls->skew = unit;
    }
    obj = ls->off / g * g;
    ls->hole_off = head;
    ls->hole_len = obj > head && pmn__backing_can_hole(h->b) ? obj - head : 0;
}

/* Bytes of a sparse large segment's header the library populates: the
 * segment struct, to the granule (the object's own pages are the
 * program's to fault in). */
static size_t sparse_head(const struct pmn_backing *b)
{
    size_t g = pmn_backing_granule(b);

    return (sizeof(struct pmn__segment) + g - 1) / g * g;
}

int pmn__large_region(struct pmn__heap *h, size_t size, size_t align, struct pmn_region **r)
{
    struct large_shape ls;
    int err;

    large_shape(h, align, &ls);
    err = pmn__region_map_holed(h->b, size, ls.seg_align, ls.skew, ls.hole_off, ls.hole_len,
                                !h->large_populate, r);
    /* Sparse: bound to the node, nothing populated yet.  The header is
     * ours to write now: populated and verified like any piece. */
    if (err == 0 && (*r)->sparse && (err = pmn__region_populate(*r, 0, sparse_head(h->b))) != 0) {
        pmn_region_unmap(*r);
        *r = NULL;
    }
    return err;
}

uint64_t pmn__large_populated(const struct pmn__segment *seg)
{
    const struct pmn_region *r = seg->region;

    return r->sparse ? sparse_head(r->b) : pmn__region_committed(r);
}

/* A cached extent unused this long goes back to the backing, unless the
 * caller sized the cache (PMN_ARENA_LARGE_CACHE) or the heap keeps what it
 * frees (PMN_PURGE_KEEP): a program whose large blocks are
 * rare (mstress: a few hundred in 0.6 s, most never reused) kept up to the
 * whole bound resident, 101.9 MiB peak against 81.4 with an 8 MiB bound,
 * while one that churns them (bench/shim large, malloc-large) reuses an
 * extent within milliseconds, and a smaller bound cost it 2.4x its time. */
#define PMN__LARGE_CACHE_AGE_NS ((uint64_t)100 * 1000 * 1000)

/* Give cached segments back, least recently freed first, while the cache
 * holds more than @max bytes or (@now non-zero) its oldest extent joined it
 * PMN__LARGE_CACHE_AGE_NS or more before @now and the cache ages (see
 * above); lock held.  The cache is ordered by free time, the most recent
 * first, so the walk stops at the first extent that may stay. */
static void cache_trim(struct pmn__heap *h, uint64_t max, uint64_t now)
{
    struct pmn__segment *last = h->large_cache, *prev;
    bool ages = now != 0 && h->release_empty && !h->large_cache_sized;

    while (last != NULL && last->next != NULL)
        last = last->next;
    for (; last != NULL && (h->large_cache_bytes > max ||
                            (ages && now - last->pages[0].born_ns >= PMN__LARGE_CACHE_AGE_NS));
         last = prev) {
        prev = last->prev;
        pmn__seg_unlink(&h->large_cache, last);
        h->large_cache_bytes -= pmn__region_committed(last->region);
        pmn__seg_release(h, last);
    }
}

void pmn__large_cache_trim(struct pmn__heap *h, uint64_t max)
{
    cache_trim(h, max, 0);
}

/* A cached segment can take an object at @ls->off aligned to @align when
 * the object lands in its populated part, after its hole. */
static bool large_fits(const struct pmn__segment *c, size_t total, size_t align,
                       const struct large_shape *ls)
{
    const struct pmn_region *r = c->region;

    return c->size >= total && c->size / 4 <= total && ((uintptr_t)c + ls->off) % align == 0 &&
           r->hole_off + r->hole_len <= ls->off;
}

/* A large object; *@zero (when not NULL) says whether its memory is known
 * to read as zeros (a fresh private anonymous map). */
static void *alloc_large(struct pmn__heap *h, size_t size, size_t align, bool *zero)
{
    size_t total, g = pmn_backing_granule(h->b);
    struct large_shape ls;
    struct pmn__segment *seg;
    struct pmn__page *pg;
    int why = -ENOMEM;

    if (align == 0)
        align = 1;
    if (h->forked) { /* a forked child's heap on its parent's shared file */
        pmn__set_last_error(-EBUSY);
        errno = EBUSY;
        return NULL;
    }
    large_shape(h, align, &ls);
    if (size > SIZE_MAX - ls.off - PMN__SEG_SIZE) {
        atomic_fetch_add_explicit(&h->failures, 1, memory_order_relaxed);
        pmn__set_last_error(-ENOMEM);
        errno = ENOMEM;
        return NULL;
    }
    /* Only as long as the object needs: physical memory is not rounded to
     * 4 MiB. */
    total = (ls.off + (size ? size : 1) + g - 1) / g * g;
    pthread_mutex_lock(&h->lock);
    cache_trim(h, UINT64_MAX, pmn_prim_now_ns()); /* extents gone idle */
    /* A recently freed large segment of a fitting size saves a map,
     * populate and verify of the whole object. */
    seg = NULL;
    for (struct pmn__segment *c = h->large_cache; c && !h->dead; c = c->next) {
        if (large_fits(c, total, align, &ls)) {
            /* The first fit, or better one on the preferred node. */
            if (seg == NULL || !pmn__seg_preferred(h, seg))
                seg = c;
            if (pmn__seg_preferred(h, seg))
                break;
        }
    }
    if (seg != NULL && pmn__heap_over_cap(h, pmn__region_committed(seg->region))) {
        seg = NULL;
        pthread_mutex_unlock(&h->lock);
        atomic_fetch_add_explicit(&h->failures, 1, memory_order_relaxed);
        pmn__set_last_error(PMN_E_CAP_REACHED);
        errno = ENOMEM;
        return NULL;
    }
    if (seg != NULL) {
        pmn__seg_unlink(&h->large_cache, seg);
        h->large_cache_bytes -= pmn__region_committed(seg->region);
        if (zero != NULL)
            *zero = false; /* the last object's bytes are still there */
    }
    if (seg == NULL)
        why = h->dead ? PMN_E_DESTROYED : PMN_E_CAP_REACHED;
    if (seg == NULL && !h->dead && !pmn__heap_over_cap(h, total - ls.hole_len)) {
        /* Map, populate and verify without the lock: other threads keep
         * allocating meanwhile (the cap check is a snapshot). */
        pthread_mutex_unlock(&h->lock);
        seg = pmn__seg_map(h, total, align, true, &why);
        if (zero != NULL)
            *zero = pmn_backing_type(h->b) == PMN_BACKING_ANON && h->b->sh == NULL;
        pthread_mutex_lock(&h->lock);
        if (seg != NULL && h->dead) {
            pmn__seg_release(h, seg);
            seg = NULL;
        }
    }
    if (seg != NULL) {
        pmn__seg_link(&h->large, seg);
        atomic_fetch_add_explicit(&h->active, pmn__region_committed(seg->region),
                                  memory_order_relaxed);
    }
    pthread_mutex_unlock(&h->lock);
    if (seg == NULL) {
        atomic_fetch_add_explicit(&h->failures, 1, memory_order_relaxed);
        pmn__set_last_error(why);
        errno = ENOMEM;
        return NULL;
    }
    pg = &seg->pages[0];
    pg->live = 1;
    pg->start = (char *)seg + ls.off;
    pg->block_size = (uint32_t)(size > UINT32_MAX ? UINT32_MAX : size);
    pg->capacity = pg->used = 1;
    pg->alloc_tp = pmn__tp();
    seg->slice_page[0] = pg;
    atomic_fetch_add_explicit(&h->large_c.allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->large_c.alloc_bytes, seg->size - ls.off, memory_order_relaxed);
    VG_ALLOC(pg->start, seg->size - ls.off);
    pmn__publish_tick(); /* issue 18: published stats, from this slow path */
    return pg->start;
}

void *pmn__heap_alloc_large(struct pmn__heap *h, size_t size, size_t align)
{
    return alloc_large(h, size, align, NULL);
}

void *pmn__heap_calloc_large(struct pmn__heap *h, size_t size)
{
    bool zero = false;
    void *p = alloc_large(h, size, 0, &zero);

    /* A fresh anonymous extent reads as zeros already: clearing it would
     * fault in every page the program may never touch. */
    if (p != NULL && !zero)
        memset(p, 0, size);
    return p;
}

int pmn__heap_free_large(struct pmn__segment *seg, void *p)
{
    struct pmn__heap *h = seg->heap;
    size_t usable = seg->size - (size_t)((char *)seg->pages[0].start - (char *)seg);

    /* Under the lock: two threads freeing the object at once must not both
     * unlink it. */
    pthread_mutex_lock(&h->lock);
    if (!seg->pages[0].live || p != seg->pages[0].start) {
        pthread_mutex_unlock(&h->lock);
        /* live 0: a cached segment, freed already */
        return !seg->pages[0].live ? PMN_E_DOUBLE_FREE : PMN_E_INTERIOR;
    }
    VG_FREE(p);
    if (seg->pages[0].alloc_tp != pmn__tp())
        atomic_fetch_add_explicit(&h->large_c.remote_frees, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->large_c.frees, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->large_c.free_bytes, usable, memory_order_relaxed);
    pmn__seg_unlink(&h->large, seg);
    atomic_fetch_sub_explicit(&h->active, pmn__region_committed(seg->region),
                              memory_order_relaxed);
    if (h->release_empty && pmn__region_committed(seg->region) > h->large_cache_max) {
        pmn__seg_release(h, seg);
    } else {
        /* The most recently freed first: the search finds it first, and
         * the trim gives back the least recently freed. */
        uint64_t now = pmn_prim_now_ns();

        seg->pages[0].live = 0;      /* a stale pointer into it is not an object */
        seg->pages[0].born_ns = now; /* when it joined the cache (cache_trim) */
        pmn__seg_link(&h->large_cache, seg);
        h->large_cache_bytes += pmn__region_committed(seg->region);
        /* One walk: the bound, and extents gone idle; a heap that keeps
         * what it frees (PMN_PURGE_KEEP) does neither. */
        cache_trim(h, h->release_empty ? h->large_cache_max : UINT64_MAX, now);
    }
    pthread_mutex_unlock(&h->lock);
    return 0;
}
