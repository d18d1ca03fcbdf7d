/*
 * slab.c - fixed-size objects with bulk calls, on the heap engine.
 *
 * A slab is a heap with one class.  The per-thread "magazine" is the
 * thread's own page: alloc pops its free list, free by the same thread
 * pushes onto it, and bulk calls run that loop without re-entering the
 * thread lookup, which is what network stacks moving 32 buffers at a time
 * need.  Frees, single or bulk, take the heap's one free path
 * (pmn__heap_free in heap.h), told which heap the object must belong to,
 * so a slab reports a double or foreign free exactly as pmn_free() does.
 * Objects are aligned by choosing a block size that is a multiple of the
 * alignment (pages start on 64 KiB boundaries) and of 16 bytes, room for
 * the link and mark a free block carries (heap.h, "Misuse"): an 8-byte
 * object takes 16 bytes, as with malloc.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/heap.h"

/* The heap first, in the same allocation, as an arena's (arena.c). */
struct pmn_slab {
    struct pmn__heap h;
    size_t obj_size;
};
_Static_assert(__builtin_offsetof(struct pmn_slab, h) == 0, "the heap starts the slab");

/* A slab's heap: at its own address, so never NULL for a slab, which lets
 * the compiler drop the "object of any heap" case from the inlined free
 * path. */
static inline struct pmn__heap *slab_heap(struct pmn_slab *s)
{
    return &s->h;
}

/* A page of the slab's one class: its slices and how many objects. */
static unsigned page_slices(const struct pmn_slab *s)
{
    return s->h.class_slices[0];
}

static size_t page_objs(const struct pmn_slab *s)
{
    return ((size_t)page_slices(s) << PMN__SLICE_SHIFT) / s->h.class_size[0];
}

int pmn_slab_new_opts(struct pmn_backing *b, size_t obj_size, const struct pmn_slab_opts *o,
                      struct pmn_slab **out)
{
    struct pmn_slab_opts opts = {.struct_size = sizeof(opts), .retain = 1};
    struct pmn_slab *s;
    uint64_t cap;
    uint32_t bs;
    size_t a;
    bool release;
    int err;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (o != NULL) {
        if (o->struct_size < sizeof(size_t) || (unsigned)o->purge > PMN_PURGE_KEEP)
            return -EINVAL;
        memcpy(&opts, o, o->struct_size < sizeof(opts) ? o->struct_size : sizeof(opts));
        if (opts.flags & ~(unsigned)PMN_SLAB_CACHE)
            return -EINVAL;
    }
    if (b == NULL || obj_size == 0 || (opts.align & (opts.align - 1)) ||
        opts.align > PMN__SLICE_SIZE)
        return -EINVAL;
    a = opts.align > 16 ? opts.align : 16;
    if (obj_size > PMN__SMALL_MAX)
        return -EINVAL;
    bs = (uint32_t)((obj_size + a - 1) / a * a);
    bs = pmn__block_spread(bs, a);
    release = opts.purge == PMN_PURGE_RELEASE ||
              (opts.purge == PMN_PURGE_DEFAULT && pmn_backing_type(b) != PMN_BACKING_DAX);
    err = pmn__heap_new(b, true, opts.retain, release, 0, &bs, 1, sizeof(*s),
                        (struct pmn__heap **)&s);
    if (err)
        return err;
    s->obj_size = obj_size;
    if (opts.flags & PMN_SLAB_CACHE)
        s->h.small_cache_max = opts.cache_bytes;
    /* The cap counts whole pages: cap_objects rounds up to them, and the
     * smaller of the two caps wins. */
    cap = opts.cap_bytes;
    if (opts.cap_objects != 0) {
        /* Without a sum or product that wraps: a count near 2^64 is a cap
         * beyond any memory (UINT64_MAX), never a small one or none. */
        uint64_t page_bytes = (uint64_t)page_slices(s) << PMN__SLICE_SHIFT;
        uint64_t pages = opts.cap_objects / page_objs(s) + (opts.cap_objects % page_objs(s) != 0);
        uint64_t by_objs = pages > UINT64_MAX / page_bytes ? UINT64_MAX : pages * page_bytes;
        cap = cap == 0 || by_objs < cap ? by_objs : cap;
    }
    s->h.cap = cap;
    if (opts.reserve_objects != 0 && (err = pmn_slab_reserve(s, opts.reserve_objects)) != 0) {
        pmn_slab_destroy(s);
        return err;
    }
    *out = s;
    return 0;
}

int pmn_slab_new(struct pmn_backing *b, size_t obj_size, size_t align, uint64_t cap_bytes,
                 struct pmn_slab **out)
{
    const struct pmn_slab_opts o = {
        .struct_size = sizeof(o), .align = align, .cap_bytes = cap_bytes, .retain = 1};

    return pmn_slab_new_opts(b, obj_size, &o, out);
}

int pmn_slab_trim(struct pmn_slab *s, uint64_t *released)
{
    return s != NULL ? pmn__heap_trim(&s->h, released) : -EINVAL;
}

int pmn_slab_reserve(struct pmn_slab *s, size_t nobjs)
{
    size_t pages;

    if (s == NULL) {
        pmn__set_last_error(-EINVAL);
        return -EINVAL;
    }
    pages = nobjs / page_objs(s) + (nobjs % page_objs(s) != 0);
    /* pages * page bytes > cap, without the product (it wraps for SIZE_MAX). */
    if (s->h.cap != 0 && pages > s->h.cap / ((uint64_t)page_slices(s) << PMN__SLICE_SHIFT)) {
        pmn__set_last_error(PMN_E_CAP_REACHED);
        return PMN_E_CAP_REACHED;
    }
    if (pages > SIZE_MAX / page_slices(s)) { /* more slices than address space */
        pmn__set_last_error(-ENOMEM);
        return -ENOMEM;
    }
    return pmn__heap_reserve(&s->h, pages * page_slices(s), page_slices(s));
}

void pmn_slab_destroy(struct pmn_slab *s)
{
    if (s == NULL)
        return;
    pmn__heap_destroy(&s->h); /* frees @s with the heap, now or at the last unbind */
}

/* Everything pmn_slab_alloc()'s leaf does not serve. */
static __attribute__((noinline)) void *slab_alloc_rest(struct pmn_slab *s)
{
    if (__builtin_expect(s == NULL, 0)) {
        pmn__set_last_error(-EINVAL);
        errno = EINVAL;
        return NULL;
    }
    return pmn__heap_alloc(&s->h, 0);
}

/* A block on the calling thread's current page is a leaf (no call, so no
 * stack frame); a refill or a first call from this thread is
 * slab_alloc_rest's tail call. */
__attribute__((hot)) void *pmn_slab_alloc(struct pmn_slab *s)
{
    struct pmn__theap *th;
    void *b;

    if (__builtin_expect(s != NULL, 1) && pmn__theap_hit(&s->h, &th) &&
        (b = pmn__theap_pop(th, 0)) != NULL)
        return b;
    return slab_alloc_rest(s);
}

__attribute__((hot)) int pmn_slab_free(struct pmn_slab *s, void *p)
{
    if (__builtin_expect(s == NULL, 0))
        return -EINVAL;
    return pmn__heap_free(p, slab_heap(s), NULL);
}

size_t pmn_slab_alloc_bulk(struct pmn_slab *s, void **objs, size_t n)
{
    struct pmn__heap *h;
    struct pmn__theap *th;
    size_t i = 0;

    if (s == NULL || (objs == NULL && n != 0)) {
        pmn__set_last_error(-EINVAL);
        errno = EINVAL;
        return 0;
    }
    h = &s->h;
    th = pmn__theap_find(h);

    /* The thread's free cache first (pmn__theap_pop takes from it alone
     * while it holds blocks), then whole runs off the current page. */
    while (i < n && th != NULL && th->cl[0].fc.head != NULL)
        objs[i++] = pmn__theap_pop(th, 0);
    while (i < n) {
        struct pmn__page *pg = th ? th->cl[0].pages.head : NULL;
        size_t start = i;
        void *p;

        if (pg != NULL) {
            while (i < n && pg->free != NULL) {
                p = pg->free;
                UNPOISON(p, pg->block_size);
                pg->free = *(void **)p;
                atomic_store_explicit(pmn__mark(p), 0, memory_order_relaxed);
                VG_ALLOC(p, pg->block_size);
                objs[i++] = p;
            }
            pg->used += (uint32_t)(i - start);
            pmn__cnt_add(&pg->nalloc, i - start);
        }
        if (i == n)
            break;
        p = pmn__heap_alloc_slow(h, th, 0);
        if (p == NULL)
            break; /* errno from the slow path */
        objs[i++] = p;
        th = pmn__theap_find(h);
    }
    return i;
}

int pmn_slab_free_bulk(struct pmn_slab *s, void *const *objs, size_t n)
{
    struct pmn__heap *h;
    struct pmn__theap *th;
    int first = 0;

    if (s == NULL || (objs == NULL && n != 0))
        return -EINVAL;
    h = slab_heap(s);
    /* The thread is looked up once for the batch, not once per object. */
    th = pmn__theap_find(h);
    for (size_t i = 0; i < n; i++) {
        int err = pmn__heap_free(objs[i], h, th);
        if (__builtin_expect(err != 0, 0) && first == 0)
            first = err;
    }
    return first;
}

size_t pmn_slab_obj_size(const struct pmn_slab *s)
{
    return s ? s->obj_size : 0;
}

int pmn_slab_stats(struct pmn_slab *s, struct pmn_alloc_stats *out)
{
    return s != NULL ? pmn__heap_stats(&s->h, out) : -EINVAL;
}
PMN__SYMVER_DEFAULT(pmn_slab_stats, "PMNODE_0.2");

/* Registration (alloc/extents.c) reaches the heap through this. */
struct pmn__heap *pmn__slab_heap(struct pmn_slab *s)
{
    return &s->h;
}
