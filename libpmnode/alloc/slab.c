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
 * alignment (pages start on 64 KiB boundaries) and of 16 bytes, the
 * granule the heap's misuse bitmaps speak for (heap.h): an 8-byte object
 * takes 16 bytes, as with malloc.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/heap.h"

struct pmn_slab {
    struct pmn__heap *h;
    size_t obj_size;
};

/* A slab's heap is set at creation and never NULL; saying so lets the
 * compiler drop the "object of any heap" case from the inlined free path. */
static inline struct pmn__heap *slab_heap(const struct pmn_slab *s)
{
    struct pmn__heap *h = s->h;

    if (h == NULL)
        __builtin_unreachable();
    return h;
}

int pmn_slab_new(struct pmn_backing *b, size_t obj_size, size_t align, uint64_t cap_bytes,
                 struct pmn_slab **out)
{
    struct pmn_slab *s;
    uint32_t bs;
    size_t a;
    int err;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (b == NULL || obj_size == 0 || (align & (align - 1)) || align > PMN__SLICE_SIZE)
        return -EINVAL;
    a = align > 16 ? align : 16;
    if (obj_size > PMN__SMALL_MAX)
        return -EINVAL;
    bs = (uint32_t)((obj_size + a - 1) / a * a);
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    err = pmn__heap_new(b, true, 1, pmn_backing_type(b) != PMN_BACKING_DAX, cap_bytes, &bs, 1, s,
                        &s->h);
    if (err) {
        free(s);
        return err;
    }
    s->obj_size = obj_size;
    *out = s;
    return 0;
}

void pmn_slab_destroy(struct pmn_slab *s)
{
    if (s == NULL)
        return;
    pmn__heap_destroy(s->h);
    free(s);
}

void *pmn_slab_alloc(struct pmn_slab *s)
{
    return pmn__heap_alloc(s->h, 0);
}

int pmn_slab_free(struct pmn_slab *s, void *p)
{
    if (__builtin_expect(s == NULL, 0))
        return -EINVAL;
    return pmn__heap_free(p, slab_heap(s), NULL);
}

size_t pmn_slab_alloc_bulk(struct pmn_slab *s, void **objs, size_t n)
{
    struct pmn__heap *h = s->h;
    struct pmn__theap *th = pmn__theap_find(h);
    size_t i = 0;

    while (i < n) {
        struct pmn__page *pg = th ? th->pages[0].head : NULL;
        size_t start = i;
        void *p;

        if (pg != NULL) {
            while (i < n && pg->free != NULL) {
                p = pg->free;
                UNPOISON(p, pg->block_size);
                pg->free = *(void **)p;
                pmn__bm_mark(p);
                VG_ALLOC(p, pg->block_size);
                objs[i++] = p;
            }
            pg->used += (uint32_t)(i - start);
            pmn__cnt_add(&th->allocs[0], i - start);
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
    return s != NULL ? pmn__heap_stats(s->h, out) : -EINVAL;
}
PMN__SYMVER_DEFAULT(pmn_slab_stats, "PMNODE_0.2");

/* Registration (alloc/extents.c) reaches the heap through this. */
struct pmn__heap *pmn__slab_heap(const struct pmn_slab *s)
{
    return s->h;
}
