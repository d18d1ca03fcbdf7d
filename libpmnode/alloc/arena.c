/*
 * arena.c - malloc-style allocation over a backing: size classes on top of
 * the heap engine (heap.c), plus the pointer-only calls (pmn_free,
 * pmn_realloc, pmn_usable_size) that find an object's heap from its
 * address.
 *
 * Size classes: 16-byte steps to 128 bytes, then four classes per power
 * of two up to 256 KiB (52 classes, at most 25% internal waste); larger
 * objects get a segment of their own.  An aligned request takes the first
 * class at or above its size whose block size is a multiple of the
 * alignment: pages start on 64 KiB boundaries, so every block of such a
 * class is aligned and free() needs no per-object header.  The 2 KiB
 * class is a cache line longer (2112 bytes, pmn__block_spread), so a
 * request aligned to 128 bytes or more that would land there takes the
 * next class that is a multiple of the alignment: 2560 bytes for 128 to
 * 512, 3 KiB for 1 KiB, 4 KiB for 2 KiB.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/heap.h"

/* The heap comes first, in the same allocation (pmn__heap_new): the
 * fast paths reach it at the arena's own address, not through a pointer
 * loaded first, one dependent load fewer on every malloc.  It is freed
 * with the heap, when the last thread bound to it lets go. */
struct pmn_arena {
    struct pmn__heap h;
    struct pmn_backing *b;
};
_Static_assert(__builtin_offsetof(struct pmn_arena, h) == 0, "the heap starts the arena");

static uint32_t class_bytes(unsigned c)
{
    unsigned k, j;

    if (c < 8)
        return (c + 1) * 16;
    k = (c - 8) / 4;
    j = (c - 8) % 4;
    return (uint32_t)((128u << k) + (j + 1) * (32u << k));
}

/* pmn__arena_class() of every 16-byte step to PMN__CLASS_LUT_MAX (entry i:
 * requests of 16 * (i - 1) + 1 .. 16 * i bytes; entry 0: 0 bytes), as
 * pmn__arena_class_calc() gives them. */
const uint8_t pmn__class_lut[PMN__CLASS_LUT_MAX / 16 + 1] = {
    0,  0,  1,  2,  3,  4,  5,  6,  7,  8,  8,  9,  9,  10, 10, 11, 11, 12, 12, 12, 12, 13, 13, 13,
    13, 14, 14, 14, 14, 15, 15, 15, 15, 16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 17, 17,
    17, 18, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19, 19, 20, 20, 20, 20, 20, 20, 20,
    20, 20, 20, 20, 20, 20, 20, 20, 20, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21,
    21, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 23, 23, 23, 23, 23, 23, 23,
    23, 23, 23, 23, 23, 23, 23, 23, 23, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
    24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 25, 25, 25, 25, 25, 25, 25,
    25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25,
    25, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26,
    26, 26, 26, 26, 26, 26, 26, 26, 26, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27,
    27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27,
};

int pmn_arena_new(struct pmn_backing *b, const struct pmn_arena_opts *o, struct pmn_arena **out)
{
    struct pmn_arena_opts opts = {.struct_size = sizeof(opts), .retain = 2};
    uint32_t sizes[PMN__NCLASSES];
    unsigned n = pmn__arena_class(PMN__SMALL_MAX) + 1;
    struct pmn_arena *a;
    bool release;
    int err;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (b == NULL)
        return -EINVAL;
    if (o != NULL) {
        if (o->struct_size < sizeof(size_t) || (unsigned)o->purge > PMN_PURGE_KEEP)
            return -EINVAL;
        memcpy(&opts, o, o->struct_size < sizeof(opts) ? o->struct_size : sizeof(opts));
        if (opts.flags &
            ~(unsigned)(PMN_ARENA_POPULATE | PMN_ARENA_LARGE_CACHE | PMN_ARENA_SMALL_CACHE))
            return -EINVAL;
    }
    release = opts.purge == PMN_PURGE_RELEASE ||
              (opts.purge == PMN_PURGE_DEFAULT && pmn_backing_type(b) != PMN_BACKING_DAX);
    for (unsigned c = 0; c < n; c++)
        sizes[c] = pmn__block_spread(class_bytes(c), 16);
    err = pmn__heap_new(b, false, opts.retain, release, opts.cap_bytes, sizes, n, sizeof(*a),
                        (struct pmn__heap **)&a);
    if (err)
        return err;
    a->b = b;
    a->h.large_populate = (opts.flags & PMN_ARENA_POPULATE) != 0;
    if (opts.flags & PMN_ARENA_LARGE_CACHE) {
        a->h.large_cache_max = opts.large_cache_bytes;
        a->h.large_cache_sized = true; /* kept to its bound, never aged (large.c) */
    }
    if (opts.flags & PMN_ARENA_SMALL_CACHE)
        a->h.small_cache_max = opts.small_cache_bytes;
    if (opts.reserve_bytes != 0 && (err = pmn_arena_reserve(a, opts.reserve_bytes)) != 0) {
        pmn_arena_destroy(a);
        return err;
    }
    *out = a;
    return 0;
}

void pmn__arena_on_misuse(struct pmn_arena *a, void (*fn)(void *p))
{
    a->h.on_misuse = fn;
}

void pmn_arena_destroy(struct pmn_arena *a)
{
    if (a == NULL)
        return;
    pmn__heap_destroy(&a->h); /* frees @a with the heap, now or at the last unbind */
}

int pmn_arena_reserve(struct pmn_arena *a, size_t bytes)
{
    size_t slices;

    if (a == NULL) {
        pmn__set_last_error(-EINVAL);
        return -EINVAL;
    }
    slices = bytes / PMN__SLICE_SIZE + (bytes % PMN__SLICE_SIZE != 0);
    /* slices * 64 KiB > cap, without the product (it wraps for SIZE_MAX). */
    if (a->h.cap != 0 && slices > a->h.cap / PMN__SLICE_SIZE) {
        pmn__set_last_error(PMN_E_CAP_REACHED);
        return PMN_E_CAP_REACHED;
    }
    return pmn__heap_reserve(&a->h, slices, 1);
}

void pmn_arena_reset(struct pmn_arena *a)
{
    if (a != NULL)
        pmn__heap_reset(&a->h);
}

int pmn_arena_trim(struct pmn_arena *a, uint64_t *released)
{
    return a != NULL ? pmn__heap_trim(&a->h, released) : -EINVAL;
}

/* Everything pmn_arena_malloc()'s leaf does not serve. */
static __attribute__((noinline)) void *arena_malloc_rest(struct pmn_arena *a, size_t size)
{
    if (__builtin_expect(a == NULL, 0)) {
        pmn__set_last_error(-EINVAL);
        errno = EINVAL;
        return NULL;
    }
    if (__builtin_expect(size <= PMN__SMALL_MAX, 1))
        return pmn__heap_alloc(&a->h, pmn__arena_class(size));
    return pmn__heap_alloc_large(&a->h, size, 0);
}

/* The common case, a small size and a block in the calling thread's free
 * cache or on its current page of the class, is a leaf (no call, so no
 * stack frame); anything else, errors included, is arena_malloc_rest's,
 * a tail call that decides from scratch.  Sizes past the class table take
 * the formula's bit scan here rather than the call: a third of bench/alloc's
 * random sizes are over 4 KiB, and the call's frame and second thread
 * lookup were a quarter of its time (when the table stopped at 1 KiB).
 *
 * hot (this, pmn_free, pmn_slab_alloc and pmn_slab_free): GCC puts them in
 * .text.hot, which the linker places together at the start of .text, so
 * where they land no longer moves with every change elsewhere in the
 * library.  0.9.4's first build, its fast paths byte for byte 0.9.3's,
 * read 5-10 % slower at fixed sizes only because they had moved
 * (build/bench/alloc-ab, bench/README.md "0.9.4"). */
__attribute__((hot)) void *pmn_arena_malloc(struct pmn_arena *a, size_t size)
{
    struct pmn__theap *th;
    unsigned cls;
    void *b;

    /* The table's sizes first: one compare, where the small bound's and
     * then the table's were two. */
    if (__builtin_expect(size <= PMN__CLASS_LUT_MAX, 1))
        cls = pmn__class_lut[(size + 15) >> 4];
    else if (size <= PMN__SMALL_MAX)
        cls = pmn__arena_class_calc(size);
    else
        return arena_malloc_rest(a, size);
    if (__builtin_expect(a != NULL, 1) && pmn__theap_hit(&a->h, &th) &&
        (b = pmn__theap_pop(th, cls)) != NULL)
        return b;
    return arena_malloc_rest(a, size);
}

void *pmn_arena_calloc(struct pmn_arena *a, size_t n, size_t size)
{
    size_t total;
    void *p;

    if (__builtin_mul_overflow(n, size, &total)) {
        pmn__set_last_error(-ENOMEM);
        errno = ENOMEM;
        return NULL;
    }
    /* A large object is cleared unless it is a fresh anonymous extent
     * (large.c), which reads as zeros without being touched. */
    if (total > PMN__SMALL_MAX && a != NULL)
        return pmn__heap_calloc_large(&a->h, total);
    p = pmn_arena_malloc(a, total);
    /* Always clear: blocks are reused, and dax extents keep what the
     * device held. */
    if (p != NULL)
        memset(p, 0, total);
    return p;
}

void *pmn_arena_aligned_alloc(struct pmn_arena *a, size_t align, size_t size)
{
    unsigned c;

    if (a == NULL || align == 0 || (align & (align - 1))) {
        pmn__set_last_error(-EINVAL);
        errno = EINVAL;
        return NULL;
    }
    if (align <= 16)
        return pmn_arena_malloc(a, size);
    if (size <= PMN__SMALL_MAX && align <= PMN__SLICE_SIZE) {
        for (c = pmn__arena_class(size < align ? align : size); c < a->h.nclasses; c++)
            if (a->h.class_size[c] % align == 0)
                return pmn__heap_alloc(&a->h, c);
    }
    return pmn__heap_alloc_large(&a->h, size, align);
}

static void *realloc_in(struct pmn_arena *a, void *p, size_t size)
{
    size_t have;
    void *q;

    if (p == NULL)
        return pmn_arena_malloc(a, size);
    have = pmn__usable(p);
    if (have == 0) {
        pmn__set_last_error(-EINVAL);
        errno = EINVAL; /* not ours: never touch it */
        return NULL;
    }
    if (size == 0) {
        (void)pmn__heap_free(p, NULL, NULL); /* ours: pmn__usable() said so */
        return pmn_arena_malloc(a, 0);
    }
    /* Keep the object when it fits and does not waste more than half. */
    if (size <= have && (have <= PMN__SMALL_MAX ? size > have / 2 : size > have - PMN__SEG_SIZE))
        return p;
    q = pmn_arena_malloc(a, size);
    if (q == NULL)
        return NULL; /* the old object stays valid, as realloc promises */
    memcpy(q, p, size < have ? size : have);
    (void)pmn__heap_free(p, NULL, NULL);
    return q;
}

void *pmn_arena_realloc(struct pmn_arena *a, void *p, size_t size)
{
    if (a == NULL) {
        pmn__set_last_error(-EINVAL);
        errno = EINVAL;
        return NULL;
    }
    return realloc_in(a, p, size);
}

__attribute__((hot)) int pmn_free(void *p)
{
    return pmn__heap_free(p, NULL, NULL);
}

struct pmn_arena *pmn_arena_of(const void *p)
{
    struct pmn__segment *seg = p ? pmn__segment_of(p) : NULL;

    if (seg == NULL || seg->heap->is_slab)
        return NULL;
    return (struct pmn_arena *)seg->heap; /* it starts the arena */
}

void *pmn_realloc(void *p, size_t size)
{
    struct pmn__segment *seg;

    if (p == NULL) {
        pmn__set_last_error(-EINVAL);
        errno = EINVAL; /* no arena to allocate from */
        return NULL;
    }
    seg = pmn__segment_of(p);
    if (seg == NULL) {
        pmn__set_last_error(-EINVAL);
        errno = EINVAL;
        return NULL;
    }
    if (seg->heap->is_slab) {
        /* A slab object has one size: shrinking keeps it, growing cannot. */
        if (size != 0 && size <= pmn__usable(p))
            return p;
        pmn__set_last_error(-EINVAL);
        errno = EINVAL;
        return NULL;
    }
    return realloc_in((struct pmn_arena *)seg->heap, p, size);
}

size_t pmn_usable_size(const void *p)
{
    return p ? pmn__usable(p) : 0;
}

int pmn_arena_stats(struct pmn_arena *a, struct pmn_alloc_stats *out)
{
    return a != NULL ? pmn__heap_stats(&a->h, out) : -EINVAL;
}
PMN__SYMVER_DEFAULT(pmn_arena_stats, "PMNODE_0.2");

/* One vocabulary: every key is the name of the struct field it prints
 * (the backing's flattened beside the arena's; nnodes and node[] as
 * bytes_per_node), tests/unit/test-stats-names.c walks both.  Keys are
 * only ever added (after the others), as the fields are. */
int pmn_alloc_stats_json(const struct pmn_alloc_stats *user, char *buf, size_t len)
{
    char nodes[PMN_STATS_MAX_NODES * 48 + 8], tail[64] = "";
    struct pmn_alloc_stats copy = {0}, *st = &copy;
    size_t used = 0;
    int n;

    /* Read only as much as the caller's struct holds. */
    if (!pmn__out_ok(user, PMN__SIZE_TO(struct pmn_alloc_stats, backing)) || (buf == NULL && len))
        return -EINVAL;
    memcpy(st, user, user->struct_size < sizeof(*st) ? user->struct_size : sizeof(*st));
    nodes[0] = '\0';
    for (size_t i = 0; i < st->backing.nnodes && i < PMN_STATS_MAX_NODES; i++) {
        n = snprintf(nodes + used, sizeof(nodes) - used, "%s\"%d\": %llu", i ? ", " : "",
                     st->backing.node[i].node, (unsigned long long)st->backing.node[i].bytes);
        if (n < 0 || (size_t)n >= sizeof(nodes) - used)
            break;
        used += (size_t)n;
    }
    /* Fields added after the first version: only when the caller has them. */
    if (user->struct_size >= PMN__SIZE_TO(struct pmn_alloc_stats, populated))
        snprintf(tail, sizeof(tail), ", \"populated\": %llu", (unsigned long long)st->populated);
    n = snprintf(buf, len,
                 "{\"allocated\": %llu, \"objects\": %llu, \"active\": %llu, \"resident\": %llu, "
                 "\"peak\": %llu, \"allocs\": %llu, \"frees\": %llu, \"remote_frees\": %llu, "
                 "\"failures\": %llu, \"mapped_bytes\": %llu, \"mapped_peak_bytes\": %llu, "
                 "\"region_maps\": %llu, \"region_map_failures\": %llu, "
                 "\"spilled_bytes\": %llu, \"bytes_per_node\": {%s}%s}",
                 (unsigned long long)st->allocated, (unsigned long long)st->objects,
                 (unsigned long long)st->active, (unsigned long long)st->resident,
                 (unsigned long long)st->peak, (unsigned long long)st->allocs,
                 (unsigned long long)st->frees, (unsigned long long)st->remote_frees,
                 (unsigned long long)st->failures, (unsigned long long)st->backing.mapped_bytes,
                 (unsigned long long)st->backing.mapped_peak_bytes,
                 (unsigned long long)st->backing.region_maps,
                 (unsigned long long)st->backing.region_map_failures,
                 (unsigned long long)st->backing.spilled_bytes, nodes, tail);
    return n < 0 ? -EINVAL : n;
}
PMN__SYMVER_DEFAULT(pmn_alloc_stats_json, "PMNODE_0.2");

/* Registration (alloc/extents.c) reaches the heap through this. */
struct pmn__heap *pmn__arena_heap(struct pmn_arena *a)
{
    return &a->h;
}
