/*
 * test-byom.c - bring your own memory: providers and user-supplied memory
 * (issue 15; suite 'system').
 *
 * A provider written here manages a big anonymous mapping of its own (bump
 * allocation, a count of live extents) and runs an arena and a slab;
 * variants cannot align, fail to map, report misplaced pages, or are
 * compiled against an older, shorter ops table.  User-supplied memory comes
 * from an anonymous mmap, a memfd and a hugetlb mapping; arenas and slabs
 * over each keep every object inside the caller's range, on node 0.  What
 * needs a second node (a page elsewhere refused) is the vm lane's
 * vm-user.c.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define POOL (256 * MiB) /* bump allocation: never reused */
#define PMN__SIZE_TO_TEST(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* ---- a provider over an anonymous mapping of its own ---- */

struct prov {
    char *base;
    size_t len, used;
    int maps, unmaps, live, populates, verifies, releases;
    bool misalign;     /* hand out addresses 1 page off any 4 MiB boundary */
    int fail;          /* map() returns this when nonzero */
    uint64_t misplace; /* verify() reports this many pages elsewhere */
};

static void prov_init(struct prov *pv)
{
    memset(pv, 0, sizeof(*pv));
    pv->len = POOL;
    pv->base = mmap(NULL, POOL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(pv->base, MAP_FAILED);
}

static int p_map(void *state, const struct pmn_provider_request *req, struct pmn_extent *out)
{
    struct prov *pv = state;
    size_t len = req->len, align = req->align;
    int node = req->node;
    uintptr_t at = (uintptr_t)pv->base + pv->used;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    if (pv->fail)
        return pv->fail;
    if (pv->misalign)
        at = (at + 4 * MiB - 1) / (4 * MiB) * (4 * MiB) + page;
    else
        at = (at + align - 1) & ~(uintptr_t)(align - 1);
    if (at + len > (uintptr_t)pv->base + pv->len)
        return -ENOMEM;
    /* populated here (no populate op), preferring nothing: node 0 is the
     * only node of this host's test */
    if (madvise((void *)at, len, MADV_POPULATE_WRITE) != 0)
        memset((void *)at, 0, len);
    pv->used = at + len - (uintptr_t)pv->base;
    out->addr = (void *)at;
    out->len = len;
    out->node = node;
    pv->maps++;
    pv->live++;
    return 0;
}

static int p_unmap(void *state, const struct pmn_extent *e)
{
    struct prov *pv = state;

    cr_assert((char *)e->addr >= pv->base && (char *)e->addr + e->len <= pv->base + pv->len);
    pv->unmaps++;
    pv->live--;
    return 0;
}

static int p_populate(void *state, const struct pmn_extent *e, size_t off, size_t len)
{
    struct prov *pv = state;

    cr_assert_leq(off + len, e->len);
    pv->populates++;
    return 0;
}

static int p_verify(void *state, const struct pmn_extent *e, uint64_t *misplaced)
{
    struct prov *pv = state;

    (void)e;
    pv->verifies++;
    *misplaced = pv->misplace;
    return 0;
}

static void p_release(void *state)
{
    ((struct prov *)state)->releases++;
}

static int bad_op(void *state, const struct pmn_extent *e, size_t off, size_t len)
{
    (void)state, (void)e, (void)off, (void)len;
    cr_assert_fail("an op beyond the table's struct_size was called");
    return -EIO;
}

static struct pmn_backing *provider_on0(struct pmn_ctx *ctx, const struct pmn_provider_ops *ops,
                                        struct prov *pv)
{
    struct pmn_backing_params *p;
    struct pmn_backing *b = NULL;
    int err;

    cr_assert_eq(pmn_backing_params_new(&p), 0);
    cr_assert_eq(pmn_backing_params_set_node(p, 0), 0);
    err = pmn_backing_new_provider(ctx, p, ops, pv, &b);
    pmn_backing_params_free(p);
    cr_assert_eq(err, 0, "pmn_backing_new_provider: %s", pmn_strerror(err));
    cr_assert_eq(pmn_backing_type(b), PMN_BACKING_PROVIDER);
    cr_assert(strcmp(pmn_backing_type_name(PMN_BACKING_PROVIDER), "provider") == 0);
    return b;
}

/* Every page of [p, p + len) present and on node 0. */
static void on_node0(const void *p, size_t len)
{
    struct pmn_where w = {.struct_size = sizeof(w)};

    cr_assert_eq(pmn_where(p, len, &w), 0);
    cr_assert(w.pages > 0 && pmn_where_pages_on(&w, 0) == w.pages,
              "%p (%zu bytes): %llu pages, %llu on node 0, %llu not present", p, len, ull(w.pages),
              ull(pmn_where_pages_on(&w, 0)), ull(w.not_present));
}

static void inside(const void *p, size_t n, const void *base, size_t len)
{
    cr_assert((const char *)p >= (const char *)base &&
                  (const char *)p + n <= (const char *)base + len,
              "object %p+%zu outside the range %p+%zu", p, n, base, len);
}

/* An arena and a slab over @b, every object inside [base, base + len). */
static void run_allocators(struct pmn_backing *b, const void *base, size_t len)
{
    enum { N = 400 };
    static void *obj[N], *so[N];
    struct pmn_arena *a;
    struct pmn_slab *s;
    struct pmn_backing_stats bs = {.struct_size = sizeof(bs)};
    int err;

    err = pmn_arena_new(b, NULL, &a);
    cr_assert_eq(err, 0, "pmn_arena_new: %s", pmn_strerror(err));
    cr_assert_eq(pmn_slab_new(b, 192, 0, 0, &s), 0);
    for (size_t i = 0; i < N; i++) {
        size_t n = 16 + (i * 97) % 20000;
        obj[i] = pmn_arena_malloc(a, n);
        cr_assert_not_null(obj[i], "arena object %zu (%zu bytes): %s", i, n,
                           pmn_strerror(pmn_last_error()));
        inside(obj[i], n, base, len);
        pat_fill(obj[i], n, i);
        so[i] = pmn_slab_alloc(s);
        cr_assert_not_null(so[i], "slab object %zu: %s", i, pmn_strerror(pmn_last_error()));
        inside(so[i], 192, base, len);
        memset(so[i], (int)i, 192);
    }
    on_node0(obj[0], 16);
    on_node0(so[N - 1], 192);
    void *big = pmn_arena_malloc(a, 5 * MiB); /* an extent of its own */
    cr_assert_not_null(big, "large object: %s", pmn_strerror(pmn_last_error()));
    inside(big, 5 * MiB, base, len);
    memset(big, 1, 5 * MiB);
    cr_assert_eq(pmn_backing_stats(b, &bs), 0);
    cr_assert_eq(bs.nnodes, 1);
    cr_assert_eq(bs.node[0].node, 0);
    cr_assert_gt(bs.node[0].bytes, 0);
    cr_assert_eq(bs.node[0].bytes, bs.mapped_bytes);
    for (size_t i = 0; i < N; i++) {
        assert_pattern(obj[i], 16 + (i * 97) % 20000, i, "arena object %zu", i);
        pmn_free(obj[i]);
        cr_assert_eq(pmn_slab_free(s, so[i]), 0);
    }
    pmn_free(big);
    pmn_arena_destroy(a);
    pmn_slab_destroy(s);
    cr_assert_eq(pmn_backing_stats(b, &bs), 0);
    cr_assert_eq(bs.mapped_bytes, 0, "%llu bytes still mapped after destroy",
                 ull(bs.mapped_bytes));
}

static const struct pmn_provider_ops full_ops = {
    .struct_size = sizeof(struct pmn_provider_ops),
    .name = "test-pool",
    .map = p_map,
    .unmap = p_unmap,
    .populate = p_populate,
    .verify = p_verify,
    .release = p_release,
};

Test(byom, provider_arena_slab)
{
    struct pmn_ctx *ctx = local_ctx();
    struct prov pv;
    struct pmn_backing *b;

    prov_init(&pv);
    b = provider_on0(ctx, &full_ops, &pv);
    cr_assert(pmn_backing_verified(b));
    run_allocators(b, pv.base, pv.len);
    cr_assert_gt(pv.maps, 0);
    cr_assert_eq(pv.maps, pv.unmaps, "%d maps, %d unmaps", pv.maps, pv.unmaps);
    cr_assert_eq(pv.populates, pv.maps);
    cr_assert_eq(pv.verifies, pv.maps);
    /* Reset with PMN_PURGE_RELEASE and nothing retained gives every
     * extent back through unmap() while the arena lives on. */
    struct pmn_arena_opts o = {.struct_size = sizeof(o), .purge = PMN_PURGE_RELEASE, .retain = 0};
    struct pmn_arena *a;
    cr_assert_eq(pmn_arena_new(b, &o, &a), 0);
    for (int i = 0; i < 50; i++)
        cr_assert_not_null(pmn_arena_malloc(a, 3000));
    cr_assert_not_null(pmn_arena_malloc(a, 6 * MiB));
    cr_assert_gt(pv.live, 1);
    pmn_arena_reset(a);
    cr_assert_eq(pv.live, 0, "%d extents kept by a reset that retains none", pv.live);
    cr_assert_not_null(pmn_arena_malloc(a, 100)); /* and maps again */
    cr_assert_eq(pv.live, 1);
    pmn_arena_destroy(a);
    cr_assert_eq(pv.live, 0);
    pmn_backing_free(b);
    cr_assert_eq(pv.releases, 1);
    pmn_ctx_unref(ctx);
    munmap(pv.base, pv.len);
}

/* No verify op: the library checks with move_pages; a provider that cannot
 * align gets asked for more and the library uses an aligned part. */
Test(byom, provider_unaligned_library_verifies)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_provider_ops ops = {
        .struct_size = sizeof(ops), .map = p_map, .unmap = p_unmap, .release = p_release};
    struct prov pv;
    struct pmn_backing *b;

    prov_init(&pv);
    pv.misalign = true;
    b = provider_on0(ctx, &ops, &pv);
    run_allocators(b, pv.base, pv.len);
    cr_assert_gt(pv.maps, 0);
    cr_assert_eq(pv.live, 0, "%d extents never given back", pv.live);
    cr_assert_eq(pv.verifies, 0);
    pmn_backing_free(b);
    cr_assert_eq(pv.releases, 1);
    pmn_ctx_unref(ctx);
    munmap(pv.base, pv.len);
}

/* A table of 0.4's first layout (map took len, align, node; no caps):
 * refused by its size with -EPROTO, never called through the wrong type;
 * bad caps are -EINVAL. */
Test(byom, provider_old_size_table)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_provider_ops ops = {.struct_size = offsetof(struct pmn_provider_ops, caps),
                                   .map = p_map,
                                   .unmap = p_unmap,
                                   .populate = bad_op,
                                   .purge = bad_op};
    struct pmn_backing_params *p;
    struct prov pv;
    struct pmn_backing *b = (struct pmn_backing *)&pv;

    prov_init(&pv);
    cr_assert_eq(pmn_backing_params_new(&p), 0);
    cr_assert_eq(pmn_backing_params_set_node(p, 0), 0);
    /* The first layout's whole table (8 pointer-sized fields), and the
     * shortest it allowed (up to unmap). */
    cr_assert_eq(offsetof(struct pmn_provider_ops, caps), 8 * sizeof(void *));
    cr_assert_eq(pmn_backing_new_provider(ctx, p, &ops, &pv, &b), -EPROTO);
    cr_assert_null(b);
    ops.struct_size = PMN__SIZE_TO_TEST(struct pmn_provider_ops, unmap);
    cr_assert_eq(pmn_backing_new_provider(ctx, p, &ops, &pv, &b), -EPROTO);
    cr_assert_eq(pmn_backing_new_provider(ctx, p, &full_ops, &pv, &b), 0, "the current layout");
    pmn_backing_free(b);
    /* Unknown caps, CAN_LAZY without populate, no unmap: -EINVAL. */
    ops = full_ops;
    ops.caps = 0x100;
    cr_assert_eq(pmn_backing_new_provider(ctx, p, &ops, &pv, &b), -EINVAL);
    ops.caps = PMN_PROVIDER_CAN_LAZY;
    ops.populate = NULL;
    cr_assert_eq(pmn_backing_new_provider(ctx, p, &ops, &pv, &b), -EINVAL);
    ops = full_ops;
    ops.unmap = NULL;
    cr_assert_eq(pmn_backing_new_provider(ctx, p, &ops, &pv, &b), -EINVAL);
    cr_assert_null(b);
    cr_assert_eq(pv.maps, 0);
    pmn_backing_params_free(p);
    pmn_ctx_unref(ctx);
    munmap(pv.base, pv.len);
}

/* ---- the request's fields: lazy and skew-capable providers ---- */

/* A provider that honours what its caps say: skew (addr + skew a multiple
 * of align) and lazy (map and bind nothing, populate() per piece). */
struct rprov {
    struct prov pv;
    size_t max_len;      /* largest len asked for */
    size_t last_skew;    /* skew of the last request with one */
    int lazy_maps, pops; /* LAZY requests, populate() calls */
    size_t pop_max;      /* largest piece populated */
    int verifies, purges;
    size_t fail_over;        /* populate() of more than this fails (0: never) */
    size_t verify_max;       /* largest extent verify() was given */
    bool hole_seen;          /* a LAZY request carried a hole */
    char *hole_lo, *hole_hi; /* the last hole's address range */
    uint64_t misplace;       /* verify() reports this many pages elsewhere */
};

static int r_map(void *state, const struct pmn_provider_request *req, struct pmn_extent *out)
{
    struct rprov *rp = state;
    struct prov *pv = &rp->pv;
    uintptr_t at = (uintptr_t)pv->base + pv->used;

    cr_assert_geq(req->struct_size, sizeof(*req));
    cr_assert_eq(req->node, 0);
    cr_assert_eq(req->flags & PMN_PROVIDER_AT, 0);
    at = ((at + req->skew + req->align - 1) & ~(uintptr_t)(req->align - 1)) - req->skew;
    if (at < (uintptr_t)pv->base + pv->used)
        at += req->align;
    if (at + req->len > (uintptr_t)pv->base + pv->len)
        return -ENOMEM;
    if (req->len > rp->max_len)
        rp->max_len = req->len;
    if (req->skew)
        rp->last_skew = req->skew;
    if (req->flags & PMN_PROVIDER_LAZY) {
        rp->lazy_maps++;
        if (req->hole_len) {
            rp->hole_seen = true;
            rp->hole_lo = (char *)at + req->hole_off;
            rp->hole_hi = rp->hole_lo + req->hole_len;
        }
    } else {
        cr_assert_eq(madvise((void *)at, req->len, MADV_POPULATE_WRITE), 0);
    }
    pv->used = at + req->len - (uintptr_t)pv->base;
    out->addr = (void *)at;
    out->len = req->len;
    pv->maps++;
    pv->live++;
    return 0;
}

static int r_unmap(void *state, const struct pmn_extent *e)
{
    struct rprov *rp = state;

    /* Given back: a real pool would reuse it; this one drops the pages. */
    madvise(e->addr, e->len, MADV_DONTNEED);
    return p_unmap(&rp->pv, e);
}

static int r_populate(void *state, const struct pmn_extent *e, size_t off, size_t len)
{
    struct rprov *rp = state;
    char *at = (char *)e->addr + off;

    cr_assert_leq(off + len, e->len);
    cr_assert(!rp->hole_seen || at + len <= rp->hole_lo || at >= rp->hole_hi,
              "populate() over the hole");
    rp->pops++;
    if (len > rp->pop_max)
        rp->pop_max = len;
    if (rp->fail_over && len > rp->fail_over)
        return -ENOMEM; /* a node with less room than asked for */
    return madvise(at, len, MADV_POPULATE_WRITE) == 0 ? 0 : -errno;
}

static int r_verify(void *state, const struct pmn_extent *e, uint64_t *misplaced)
{
    struct rprov *rp = state;
    struct pmn_where w = {.struct_size = sizeof(w)};

    rp->verifies++;
    if (e->len > rp->verify_max)
        rp->verify_max = e->len;
    cr_assert_eq(pmn_where(e->addr, e->len, &w), 0);
    cr_assert_eq(w.not_present, 0, "verify() of a piece not populated");
    *misplaced = rp->misplace;
    return 0;
}

static int r_purge(void *state, const struct pmn_extent *e, size_t off, size_t len)
{
    struct rprov *rp = state;

    rp->purges++;
    return madvise((char *)e->addr + off, len, MADV_DONTNEED) == 0 ? 0 : -errno;
}

static const struct pmn_provider_ops lazy_ops = {
    .struct_size = sizeof(struct pmn_provider_ops),
    .name = "test-lazy",
    .map = r_map,
    .unmap = r_unmap,
    .populate = r_populate,
    .verify = r_verify,
    .purge = r_purge,
    .caps = PMN_PROVIDER_CAN_LAZY | PMN_PROVIDER_CAN_SKEW,
};

/* Destroy @a, check the provider got every extent back, free @b and the
 * provider's pool. */
static void lazy_close(struct rprov *rp, struct pmn_arena *a, struct pmn_backing *b)
{
    pmn_arena_destroy(a);
    cr_assert_eq(rp->pv.live, 0);
    pmn_backing_free(b);
    munmap(rp->pv.base, rp->pv.len);
}

/* A lazy provider: the arena's 4 MiB extents are mapped LAZY and populate()
 * is called for slices as pages are handed out (as the built-in anon
 * backing does), each piece verified on its own; the arena's resident
 * memory is a fraction of its extents. */
Test(byom, provider_lazy_populates_slices)
{
    struct pmn_ctx *ctx = local_ctx();
    struct rprov rp = {0};
    struct pmn_backing *b;
    struct pmn_arena *a;
    struct pmn_where w = {.struct_size = sizeof(w)};
    void *obj[64];

    prov_init(&rp.pv);
    b = provider_on0(ctx, &lazy_ops, &rp.pv);
    cr_assert_eq(pmn_arena_new(b, NULL, &a), 0);
    for (int i = 0; i < 64; i++) {
        obj[i] = pmn_arena_malloc(a, 100);
        cr_assert_not_null(obj[i], "%s", pmn_strerror(pmn_last_error()));
        inside(obj[i], 100, rp.pv.base, rp.pv.len);
        memset(obj[i], i, 100);
    }
    on_node0(obj[0], 100);
    cr_assert_eq(rp.pv.maps, 1, "%d extents for 64 small objects", rp.pv.maps);
    cr_assert_eq(rp.lazy_maps, 1, "the arena's extent was not asked for lazily");
    cr_assert_geq(rp.pops, 2, "populate() was called %d times", rp.pops);
    cr_assert_lt(rp.pop_max, 4 * MiB, "a piece of %zu bytes: the whole extent", rp.pop_max);
    cr_assert_eq(rp.verifies, rp.pops, "each populated piece verified");
    cr_assert_lt(rp.verify_max, 4 * MiB);
    /* Most of the extent is still address space. */
    cr_assert_eq(pmn_where(rp.pv.base, 4 * MiB + 4 * MiB, &w), 0);
    cr_assert_gt(w.not_present, w.pages / 2, "%llu of %llu pages present",
                 ull(w.pages - w.not_present), ull(w.pages));
    /* A piece whose verify() finds pages elsewhere: the allocation fails
     * with PMN_E_MISPLACED and the piece goes back through purge(). */
    rp.misplace = 1;
    void *more = NULL;
    for (int i = 0; i < 200; i++) /* until a new slice is needed */
        if ((more = pmn_arena_malloc(a, 60000)) == NULL)
            break;
    cr_assert_null(more, "no new slice in 200 objects of 60000 bytes");
    cr_assert_eq(pmn_last_error(), PMN_E_MISPLACED, "%s", pmn_err_name(pmn_last_error()));
    cr_assert_geq(rp.purges, 1);
    rp.misplace = 0;
    for (int i = 0; i < 64; i++)
        pmn_free(obj[i]);
    lazy_close(&rp, a, b);
    pmn_ctx_unref(ctx);
}

/* A heap that grows populates ahead (alloc/heap.c page_populate): past
 * its first MiB, a page taken at its extent's frontier is populated whole
 * with the free slices after it, so filling 8 MiB with 64-byte objects
 * takes fewer populate() calls than pages (until 0.12.7 each page took
 * three: 16, 32 and 64 KiB).  When the provider cannot give the slices
 * ahead, the page alone is populated and every allocation still succeeds;
 * either way the arena counts as populated what is present. */
Test(byom, provider_lazy_populates_ahead)
{
    struct pmn_ctx *ctx = local_ctx();
    enum { N = 8 * MiB / 64 };

    for (int fail = 0; fail < 2; fail++) {
        struct rprov rp = {.fail_over = fail ? 64 * 1024 : 0};
        struct pmn_alloc_stats st = {.struct_size = sizeof(st)};
        struct pmn_where w = {.struct_size = sizeof(w)};
        struct pmn_backing *b;
        struct pmn_arena *a;
        void **obj = calloc(N, sizeof(*obj));
        size_t pages = 8 * MiB / (64 * 1024);

        cr_assert_not_null(obj);
        prov_init(&rp.pv);
        b = provider_on0(ctx, &lazy_ops, &rp.pv);
        cr_assert_eq(pmn_arena_new(b, NULL, &a), 0);
        for (int i = 0; i < N; i++) {
            obj[i] = pmn_arena_malloc(a, 64);
            cr_assert_not_null(obj[i], "object %d (fail %d): %s", i, fail,
                               pmn_strerror(pmn_last_error()));
            memset(obj[i], i, 64);
        }
        cr_assert_eq(rp.verifies + (fail ? rp.purges : 0), rp.pops, "each piece verified");
        if (fail) {
            cr_assert_gt(rp.purges, 0, "no populate ahead was refused");
            cr_assert_gt(rp.pop_max, rp.fail_over, "no piece past a page was asked for");
        } else {
            cr_assert_lt((size_t)rp.pops, pages, "%d populate calls for %zu pages", rp.pops,
                         pages);
            cr_assert_gt(rp.pop_max, 64 * 1024, "no piece past a page: nothing ahead");
            cr_assert_eq(rp.purges, 0);
        }
        /* What the arena counts as populated is what is present in its
         * extents (the provider's pool holds nothing else). */
        cr_assert_eq(pmn_arena_stats(a, &st), 0);
        cr_assert_eq(pmn_where(rp.pv.base, rp.pv.used, &w), 0);
        cr_assert_eq(st.populated, (uint64_t)(w.pages - w.not_present) * (uint64_t)w.page_size,
                     "fail %d: %llu bytes counted, %llu present", fail, ull(st.populated),
                     ull((w.pages - w.not_present) * w.page_size));
        for (int i = 0; i < N; i++)
            cr_assert_eq(pmn_free(obj[i]), 0);
        free(obj);
        lazy_close(&rp, a, b);
    }
    pmn_ctx_unref(ctx);
}

/* An over-aligned large object: a skew-capable provider is asked for
 * exactly the segment (len = 4 MiB + size, with a skew), and a lazy one
 * leaves the hole before the object unpopulated; a provider without caps
 * gets the same object by an extent len + align long. */
Test(byom, provider_skew_over_aligned)
{
    struct pmn_ctx *ctx = local_ctx();
    const size_t align = 64 * MiB, size = 2 * MiB;

    for (int caps = 0; caps < 2; caps++) {
        struct rprov rp = {0};
        struct pmn_provider_ops ops = lazy_ops;
        struct pmn_backing *b;
        struct pmn_arena *a;
        struct pmn_backing_stats bs = {.struct_size = sizeof(bs)};

        if (!caps) {
            ops.caps = 0;
            ops.populate = NULL; /* map() populates: the first layout's simple provider */
        }
        prov_init(&rp.pv);
        b = provider_on0(ctx, &ops, &rp.pv);
        cr_assert_eq(pmn_arena_new(b, NULL, &a), 0);
        char *p = pmn_arena_aligned_alloc(a, align, size);
        cr_assert_not_null(p, "caps %d: %s", caps, pmn_strerror(pmn_last_error()));
        cr_assert_eq((uintptr_t)p % align, 0);
        inside(p, size, rp.pv.base, rp.pv.len);
        memset(p, 0x5c, size);
        on_node0(p, size);
        cr_assert_eq(pmn_backing_stats(b, &bs), 0);
        if (caps) {
            cr_assert_eq(rp.max_len, 4 * MiB + size, "asked for %zu bytes", rp.max_len);
            cr_assert_eq(rp.last_skew, 4 * MiB);
            cr_assert(rp.hole_seen, "no hole in the request");
            /* Memory: the header slice and the object, not the hole. */
            cr_assert_lt(bs.mapped_bytes, size + MiB, "%llu bytes counted", ull(bs.mapped_bytes));
        } else {
            cr_assert_eq(rp.max_len, 4 * MiB + size + align, "asked for %zu bytes", rp.max_len);
            cr_assert_eq(rp.last_skew, 0);
            cr_assert_eq(rp.lazy_maps, 0);
        }
        pmn_free(p);
        lazy_close(&rp, a, b);
    }
    pmn_ctx_unref(ctx);
}

/* map() fails: the allocation fails with its code, nothing stays. */
Test(byom, provider_map_fails)
{
    struct pmn_ctx *ctx = local_ctx();
    struct prov pv;
    struct pmn_backing *b;
    struct pmn_arena *a;
    struct pmn_region *r = NULL;
    struct pmn_backing_stats bs = {.struct_size = sizeof(bs)};

    prov_init(&pv);
    pv.fail = -EADDRNOTAVAIL;
    b = provider_on0(ctx, &full_ops, &pv);
    cr_assert_eq(pmn_arena_new(b, NULL, &a), 0);
    errno = 0;
    cr_assert_null(pmn_arena_malloc(a, 100));
    cr_assert_eq(errno, ENOMEM);
    cr_assert_eq(pmn_last_error(), -EADDRNOTAVAIL, "last error %s",
                 pmn_err_name(pmn_last_error()));
    cr_assert_eq(pmn_region_map(b, MiB, &r), -EADDRNOTAVAIL);
    cr_assert_null(r);
    /* Misplaced pages reported by verify(): PMN_E_MISPLACED, extent back. */
    pv.fail = 0;
    pv.misplace = 3;
    cr_assert_eq(pmn_region_map(b, MiB, &r), PMN_E_MISPLACED);
    cr_assert_eq(pv.live, 0);
    cr_assert_eq(pmn_backing_stats(b, &bs), 0);
    cr_assert_eq(bs.mapped_bytes, 0);
    cr_assert_eq(bs.failures, 3);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    cr_assert_eq(pv.maps, pv.unmaps);
    cr_assert_eq(pv.releases, 1);
    pmn_ctx_unref(ctx);
    munmap(pv.base, pv.len);
}

/* ---- user-supplied memory ---- */

/* @len bytes at a 4 MiB-aligned address (huge: MAP_HUGETLB of 2 MiB). */
static void *map_aligned(size_t len, int flags, int fd)
{
    size_t al = 4 * MiB;
    char *p = mmap(NULL, len + al, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    char *at;

    cr_assert_neq(p, MAP_FAILED);
    at = (char *)(((uintptr_t)p + al - 1) & ~(uintptr_t)(al - 1));
    if (at > p)
        munmap(p, (size_t)(at - p));
    munmap(at + len, (size_t)(p + len + al - (at + len)));
    if (mmap(at, len, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0) == MAP_FAILED) {
        munmap(at, len);
        return NULL;
    }
    return at;
}

static struct pmn_backing *user_on0(struct pmn_ctx *ctx, void *addr, size_t len, int fd,
                                    unsigned flags, int *errp)
{
    struct pmn_backing_params *p;
    struct pmn_backing *b = NULL;

    cr_assert_eq(pmn_backing_params_new(&p), 0);
    cr_assert_eq(pmn_backing_params_set_node(p, 0), 0);
    cr_assert_eq(pmn_backing_params_set_user(p, addr, len, fd, 0, flags), 0);
    *errp = pmn_backing_new(ctx, p, &b);
    pmn_backing_params_free(p);
    return b;
}

static int first_extent(const struct pmn_extent *e, void *arg)
{
    *(struct pmn_extent *)arg = *e;
    return 1;
}

static void user_case(void *addr, size_t len, int fd)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b;
    struct pmn_region *r;
    struct pmn_extent e = {0};
    int err;

    b = user_on0(ctx, addr, len, fd, 0, &err);
    cr_assert_eq(err, 0, "user backing: %s", pmn_strerror(err));
    cr_assert_eq(pmn_backing_type(b), PMN_BACKING_USER);
    cr_assert(pmn_backing_verified(b));
    on_node0(addr, len); /* populated and checked at creation */
    run_allocators(b, addr, len);
    /* Regions are carved out and given back; extents name the file. */
    cr_assert_eq(pmn_region_map(b, 4 * MiB, &r), 0);
    inside(pmn_region_addr(r), 4 * MiB, addr, len);
    cr_assert_eq(pmn_backing_extents(b, first_extent, &e), 1);
    cr_assert_eq(e.fd, fd);
    if (fd >= 0)
        cr_assert_eq(e.offset, (uint64_t)((char *)e.addr - (char *)addr));
    cr_assert_eq(pmn_region_map(b, len, &r), -ENOMEM, "a map beyond the range");
    cr_assert_null(r);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
    /* The caller's memory is still the caller's: mapped and writable. */
    memset(addr, 7, len);
}

Test(byom, user_anon)
{
    size_t len = 32 * MiB;
    void *m = map_aligned(len, MAP_PRIVATE | MAP_ANONYMOUS, -1);

    cr_assert_not_null(m);
    user_case(m, len, -1);
    munmap(m, len);
}

Test(byom, user_memfd)
{
    size_t len = 32 * MiB;
    int fd = memfd_create("byom", MFD_CLOEXEC);
    void *m;

    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)len), 0);
    m = map_aligned(len, MAP_SHARED, fd);
    cr_assert_not_null(m);
    user_case(m, len, fd);
    munmap(m, len);
    close(fd);
}

#define HUGE_DIR "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/"
static long long huge_restore = -1;

static long long read_ll(const char *path)
{
    long long v = -1;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return -1;
    if (fscanf(f, "%lld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

static void huge_fini(void)
{
    FILE *f;

    if (huge_restore < 0 || (f = fopen(HUGE_DIR "nr_hugepages", "w")) == NULL)
        return;
    fprintf(f, "%lld\n", huge_restore);
    fclose(f);
    huge_restore = -1;
}

/* The node 0 2 MiB pool is shared by test-backing, test-byom and
 * test-ipc, which run side by side: each holds this lock while it uses or
 * resizes the pool (flock on the pool's own sysfs file, released when
 * the test's process ends).  Without it one test gave back the pages
 * another had just seen free (ENOMEM). */
static void huge_pool_lock(void)
{
    int fd = open("/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages",
                  O_RDONLY | O_CLOEXEC);

    if (fd >= 0)
        (void)flock(fd, LOCK_EX); /* kept open: held to the end of the test */
}

Test(byom, user_hugetlb, .fini = huge_fini, .timeout = 120)
{
    size_t len = 32 * MiB;
    long long need = (long long)(len / (2 * MiB)), nr, fr;
    void *m;

    huge_pool_lock();
    nr = read_ll(HUGE_DIR "nr_hugepages");
    fr = read_ll(HUGE_DIR "free_hugepages");
    if (nr < 0 || fr < 0)
        cr_skip_test("node 0 has no 2 MiB hugetlb pool (no " HUGE_DIR ")");
    if (fr < need) {
        FILE *f;
        if (geteuid() != 0)
            cr_skip_test("node 0 has %lld free 2 MiB pages, %lld needed; reserving needs root", fr,
                         need);
        huge_restore = nr;
        f = fopen(HUGE_DIR "nr_hugepages", "w");
        cr_assert_not_null(f);
        fprintf(f, "%lld\n", nr + need - fr);
        fclose(f);
        if (read_ll(HUGE_DIR "free_hugepages") < need)
            cr_skip_test("the kernel would not give %lld huge pages on node 0", need);
    }
    m = map_aligned(len, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1);
    if (m == NULL)
        cr_skip_test("MAP_HUGETLB of %zu bytes failed: %s", len, strerror(errno));
    user_case(m, len, -1);
    munmap(m, len);
    huge_fini(); /* also here: the harness's own runner (TSan builds) has no .fini */
}

/* Too small or misaligned for a 4 MiB extent: the arena says -ENOMEM. */
Test(byom, user_full_and_params)
{
    struct pmn_ctx *ctx = local_ctx();
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len = 4 * MiB;
    char *m = map_aligned(len + 4 * MiB, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    struct pmn_backing_params *p;
    struct pmn_backing *b;
    struct pmn_arena *a;
    int err;

    cr_assert_not_null(m);
    b = user_on0(ctx, m + page, len, -1, 0, &err); /* no 4 MiB-aligned 4 MiB inside */
    cr_assert_eq(err, 0, "%s", pmn_strerror(err));
    cr_assert_eq(pmn_arena_new(b, NULL, &a), 0);
    cr_assert_null(pmn_arena_malloc(a, 64));
    cr_assert_eq(pmn_last_error(), -ENOMEM, "%s", pmn_err_name(pmn_last_error()));
    pmn_arena_destroy(a);
    pmn_backing_free(b);

    cr_assert_eq(pmn_backing_params_new(&p), 0);
    cr_assert_eq(pmn_backing_params_set_user(p, m + 1, len, -1, 0, 0), -EINVAL);
    cr_assert_eq(pmn_backing_params_set_user(p, m, len + 1, -1, 0, 0), -EINVAL);
    cr_assert_eq(pmn_backing_params_set_user(p, NULL, len, -1, 0, 0), -EINVAL);
    cr_assert_eq(pmn_backing_params_set_user(p, m, len, -1, 0, 0x80), -EINVAL);
    cr_assert_eq(pmn_backing_params_set_type(p, PMN_BACKING_USER), -EINVAL);
    cr_assert_eq(pmn_backing_params_set_user(p, m, len, -1, 0, 0), 0);
    int two[] = {0, 1};
    if (pmn_node_get(ctx, 1) != NULL) {
        cr_assert_eq(pmn_backing_params_set_spill(p, two, 2), 0);
        cr_assert_eq(pmn_backing_new(ctx, p, &b), -EINVAL, "a spill list for user memory");
    }
    pmn_backing_params_free(p);

    /* Unverified: nothing touched, the caller's word taken. */
    char *fresh = map_aligned(8 * MiB, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    struct pmn_where w = {.struct_size = sizeof(w)};
    b = user_on0(ctx, fresh, 8 * MiB, -1, PMN_USER_UNVERIFIED, &err);
    cr_assert_eq(err, 0);
    cr_assert_not(pmn_backing_verified(b));
    cr_assert_eq(pmn_where(fresh, 8 * MiB, &w), 0);
    cr_assert_eq(w.not_present, w.pages, "an unverified range was touched");
    pmn_backing_free(b);
    munmap(fresh, 8 * MiB);
    munmap(m, len + 4 * MiB);
    pmn_ctx_unref(ctx);
}

/* A reserve the backing cannot complete keeps nothing it mapped (what an
 * earlier reserve holds stays): a request past the memory there used to
 * hold all of it until destroy.  A slab count whose slices pass the
 * address space is -ENOMEM before anything is mapped. */
Test(byom, user_reserve_all_or_nothing, .timeout = 60)
{
    struct pmn_ctx *ctx = local_ctx();
    const size_t len = 16 * MiB;
    char *m = map_aligned(len, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    struct pmn_backing *b;
    struct pmn_arena *a;
    struct pmn_slab *s;
    uint64_t held;
    int err;

    cr_assert_not_null(m);
    b = user_on0(ctx, m, len, -1, 0, &err);
    cr_assert_eq(err, 0, "%s", pmn_strerror(err));
    cr_assert_eq(pmn_arena_new(b, NULL, &a), 0);
    cr_assert_eq(pmn_arena_reserve(a, 4 * MiB), 0, "a reserve that fits: %s",
                 pmn_err_name(pmn_last_error()));
    held = backing_mapped(b);
    cr_assert_gt(held, 0);
    err = pmn_arena_reserve(a, 64 * MiB);
    cr_assert_neq(err, 0, "64 MiB reserved from 16 MiB");
    cr_assert_eq(backing_mapped(b), held, "a failed reserve kept %llu bytes beyond %llu",
                 ull(backing_mapped(b) - held), ull(held));
    cr_assert_eq(pmn_arena_reserve(a, 8 * MiB), 0, "the room is still there: %s",
                 pmn_err_name(pmn_last_error()));
    pmn_arena_destroy(a);
    cr_assert_eq(backing_mapped(b), 0);

    cr_assert_eq(pmn_slab_new(b, 64, 0, 0, &s), 0);
    err = pmn_slab_reserve(s, 1000000);
    cr_assert_neq(err, 0, "a million 64 B objects reserved from 16 MiB");
    cr_assert_eq(backing_mapped(b), 0, "a failed slab reserve kept %llu bytes",
                 ull(backing_mapped(b)));
    pmn_slab_destroy(s);
    cr_assert_eq(pmn_slab_new(b, 256 * KiB, 0, 0, &s), 0);
    cr_assert_eq(pmn_slab_reserve(s, SIZE_MAX), -ENOMEM, "SIZE_MAX objects: %s",
                 pmn_err_name(pmn_last_error()));
    cr_assert_eq(backing_mapped(b), 0);
    pmn_slab_destroy(s);
    pmn_backing_free(b);
    munmap(m, len);
    pmn_ctx_unref(ctx);
}

/* PMN_USER_PURGE: extents given back are decommitted, and populated and
 * verified again when carved anew; without it they keep their pages. */
Test(byom, user_purge)
{
    struct pmn_ctx *ctx = local_ctx();
    size_t len = 8 * MiB;
    char *m = map_aligned(len, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    struct pmn_backing *b;
    struct pmn_region *r;
    struct pmn_where w = {.struct_size = sizeof(w)};
    int err;

    for (int purge = 0; purge < 2; purge++) {
        b = user_on0(ctx, m, len, -1, purge ? PMN_USER_PURGE : 0, &err);
        cr_assert_eq(err, 0);
        cr_assert_eq(pmn_region_map(b, len, &r), 0);
        cr_assert_eq((char *)pmn_region_addr(r), m);
        memset(m, 0x33, len);
        cr_assert_eq(pmn_region_unmap(r), 0);
        cr_assert_eq(pmn_where(m, len, &w), 0);
        if (purge)
            cr_assert_eq(w.not_present, w.pages, "purged pages still present");
        else
            cr_assert(w.not_present == 0 && m[len - 1] == 0x33, "the caller's pages were dropped");
        cr_assert_eq(pmn_region_map(b, len, &r), 0);
        on_node0(m, len);
        cr_assert_eq(pmn_region_unmap(r), 0);
        pmn_backing_free(b);
    }
    munmap(m, len);
    pmn_ctx_unref(ctx);
}

/* Eight threads allocate and free large objects (each an extent carved out
 * of the range and given back) and small ones from one arena over a user
 * range, and map and unmap bare regions: the range's free list under
 * contention (run under ThreadSanitizer in the threads suite). */
struct th {
    struct pmn_arena *a;
    struct pmn_backing *b;
    char *base;
    size_t len;
    int id;
};

static void *churn(void *arg)
{
    struct th *t = arg;

    for (int i = 0; i < 40; i++) {
        size_t n = (size_t)(4 + (t->id + i) % 3) * MiB;
        char *big = pmn_arena_malloc(t->a, n), *small = pmn_arena_malloc(t->a, 200);
        struct pmn_region *r = NULL;
        int err = pmn_region_map(t->b, MiB, &r);

        /* The range may be momentarily full: -ENOMEM is an answer, not a bug. */
        if (big != NULL) {
            inside(big, n, t->base, t->len);
            big[0] = big[n - 1] = (char)t->id;
            pmn_free(big);
        }
        if (small != NULL) {
            inside(small, 200, t->base, t->len);
            pmn_free(small);
        }
        if (err == 0) {
            inside(pmn_region_addr(r), MiB, t->base, t->len);
            pmn_region_unmap(r);
        } else if (err != -ENOMEM) {
            return (void *)(intptr_t)err;
        }
    }
    return NULL;
}

Test(byom, user_threads, .timeout = 120)
{
    struct pmn_ctx *ctx = local_ctx();
    size_t len = 96 * MiB;
    char *m = map_aligned(len, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    struct pmn_backing *b;
    struct pmn_arena *a;
    struct pmn_backing_stats bs = {.struct_size = sizeof(bs)};
    pthread_t tid[8];
    struct th t[8];
    int err;

    cr_assert_not_null(m);
    b = user_on0(ctx, m, len, -1, 0, &err);
    cr_assert_eq(err, 0, "%s", pmn_strerror(err));
    cr_assert_eq(pmn_arena_new(b, NULL, &a), 0);
    for (int i = 0; i < 8; i++) {
        t[i] = (struct th){.a = a, .b = b, .base = m, .len = len, .id = i};
        cr_assert_eq(pthread_create(&tid[i], NULL, churn, &t[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        void *rc;
        pthread_join(tid[i], &rc);
        cr_assert_null(rc, "thread %d: %s", i, pmn_strerror((int)(intptr_t)rc));
    }
    pmn_arena_destroy(a);
    cr_assert_eq(pmn_backing_stats(b, &bs), 0);
    cr_assert_eq(bs.mapped_bytes, 0);
    /* Every piece came back: the whole range is one free piece again. */
    struct pmn_region *r;
    cr_assert_eq(pmn_region_map(b, len, &r), 0, "the range did not coalesce");
    pmn_region_unmap(r);
    pmn_backing_free(b);
    munmap(m, len);
    pmn_ctx_unref(ctx);
}

/* ---- fork while another thread carves the range ----
 *
 * A region map or an arena's next segment on a user range carves the range
 * under its lock.  Nothing held that lock across fork: a child forked while
 * another thread was carving found it held for ever, and its first map
 * hung.  The library now takes it with the backing's, for every live
 * backing (place/backing.c, "fork"), whether an arena uses it or only the
 * caller's regions do. */
struct carver {
    struct pmn_backing *b;
    size_t size;
    atomic_bool stop;
};

static void *carve_loop(void *arg)
{
    struct carver *c = arg;
    struct pmn_region *r;

    while (!atomic_load(&c->stop)) {
        if (pmn_region_map(c->b, c->size, &r) == 0)
            pmn_region_unmap(r);
        if (RUNNING_ON_VALGRIND)
            sched_yield(); /* valgrind runs one thread at a time: let the forker in */
    }
    return NULL;
}

static int carve_once(int i, void *arg)
{
    struct carver *c = arg;
    struct pmn_region *r;
    int err = pmn_region_map(c->b, c->size, &r);

    (void)i;
    if (err == 0)
        pmn_region_unmap(r);
    /* The carving thread's region of the moment is in the child's heap
     * with no thread left to free it: not a leak to report. */
    VALGRIND_CLO_CHANGE("--leak-check=no");
    return err == 0 ? 0 : 1;
}

static void fork_while_carving(bool with_arena)
{
    struct pmn_ctx *ctx = local_ctx();
    size_t len = 32 * MiB;
    char *m = map_aligned(len, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    struct carver c = {.stop = false};
    struct pmn_arena *a = NULL;
    pthread_t tid;
    /* Under valgrind a fork costs seconds (and one thread runs at a
     * time, so there is no race to catch): two, and a longer alarm for a
     * child that is slow, not hung. */
    int err, hung, failed, forks = (int)scaled(200, 100);
    unsigned wait_s = RUNNING_ON_VALGRIND ? 60 : 5;

    cr_assert_not_null(m);
    c.b = user_on0(ctx, m, len, -1, 0, &err);
    cr_assert_eq(err, 0, "%s", pmn_strerror(err));
    c.size = pmn_backing_granule(c.b);
    if (with_arena)
        cr_assert_eq(pmn_arena_new(c.b, NULL, &a), 0);
    cr_assert_eq(pthread_create(&tid, NULL, carve_loop, &c), 0);
    cr_assert_eq(fork_children(forks, wait_s, carve_once, &c, &hung, &failed), 0);
    atomic_store(&c.stop, true);
    pthread_join(tid, NULL);
    cr_assert_eq(hung, 0, "a child's region map hung (the range's lock held across fork)");
    cr_assert_eq(failed, 0, "%d of the children's maps failed", failed);
    if (with_arena)
        pmn_arena_destroy(a);
    pmn_backing_free(c.b);
    munmap(m, len);
    pmn_ctx_unref(ctx);
}

Test(byom, user_fork_while_carving, .timeout = 120)
{
    fork_while_carving(false); /* regions only */
    fork_while_carving(true);
}
