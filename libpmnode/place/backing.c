/*
 * backing.c - backings and regions: the strict-placement front door.
 *
 * A backing holds one placement rule (a node, an ordered spill list, or a
 * dax device) and an ops table for its page source: the public provider
 * table, a built-in one (backing-node.c, backing-dax.c, backing-user.c) or
 * the caller's.  pmn_region_map() is the same for every type:
 *
 *   for each node in the rule, in order:
 *       cpuset check (Mems_allowed)      -> PMN_E_NOT_ALLOWED, next node
 *       available >= size + headroom     -> PMN_E_NODE_FULL, next node
 *         (pmn_node_read_available: MemFree less what the zones keep
 *         back, plus what the kernel can reclaim; memavail.c says why)
 *       ops map(): mmap, populate under a policy that may fall back,
 *       verify every page, bind          -> PMN_E_NODE_FULL (a page
 *                                           landed elsewhere: another
 *                                           process took the node's
 *                                           memory), -ENOMEM etc.,
 *                                           next node
 *
 * (a caller's provider without PMN_PROVIDER_VERIFIES: map(), then
 * populate() and verify() or move_pages here -> PMN_E_MISPLACED).
 * The request carries what the ops' caps allow: a skew (else an extent
 * len + align long is asked for and an aligned part used), lazy regions
 * and holes (else none: the heap asks pmn__backing_can_hole), an exact
 * place (pmn_region_map_at; else -EOPNOTSUPP).
 *
 * backing-node.c says why population never binds strictly first (the OOM
 * killer).  Whatever fails, nothing stays mapped.  Stats count live bytes per
 * node under the backing's mutex (a region map is a syscall-heavy slow
 * path; the lock is not on any allocator fast path).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc/heap.h"
#include "place/backing.h"
#include "os/prim.h"

#define DEFAULT_HEADROOM (64ull << 20)

struct pmn_backing_params {
    enum pmn_backing_type type;
    int nodes[PMN_STATS_MAX_NODES];
    size_t nnodes;
    char *dax;
    size_t page_size;
    bool thp;
    bool verify;
    bool headroom_set;
    uint64_t headroom;
    /* PMN_BACKING_USER (pmn_backing_params_set_user) */
    void *user_addr;
    size_t user_len;
    int user_fd;
    uint64_t user_off;
    unsigned user_flags;
    bool shareable;   /* pmnode.h, "Sharing with other processes" */
    size_t ipc_table; /* its table's bytes, 0: the default */
};

const char *pmn_backing_type_name(enum pmn_backing_type t)
{
    static const char *const names[] = {
        [PMN_BACKING_ANON] = "anon",       [PMN_BACKING_MEMFD] = "memfd",
        [PMN_BACKING_HUGETLB] = "hugetlb", [PMN_BACKING_DAX] = "dax",
        [PMN_BACKING_USER] = "user",       [PMN_BACKING_PROVIDER] = "provider",
    };

    return (unsigned)t < sizeof(names) / sizeof(names[0]) && names[t] ? names[t] : "unknown";
}

int pmn_backing_params_new(struct pmn_backing_params **out)
{
    if (out == NULL)
        return -EINVAL;
    *out = calloc(1, sizeof(**out));
    if (*out == NULL)
        return -ENOMEM;
    (*out)->verify = true;
    return 0;
}

void pmn_backing_params_free(struct pmn_backing_params *p)
{
    if (p != NULL)
        free(p->dax);
    free(p);
}

int pmn_backing_params_set_type(struct pmn_backing_params *p, enum pmn_backing_type t)
{
    if (p == NULL || (unsigned)t > PMN_BACKING_DAX)
        return -EINVAL;
    p->type = t;
    return 0;
}

int pmn_backing_params_set_node(struct pmn_backing_params *p, int node)
{
    return pmn_backing_params_set_spill(p, &node, 1);
}

int pmn_backing_params_set_spill(struct pmn_backing_params *p, const int *nodes, size_t n)
{
    if (p == NULL || nodes == NULL || n == 0 || n > PMN_STATS_MAX_NODES)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (nodes[i] < 0 || nodes[i] > PMN__MAX_NODE_ID)
            return -EINVAL;
        for (size_t j = 0; j < i; j++)
            if (nodes[j] == nodes[i])
                return -EINVAL;
    }
    memcpy(p->nodes, nodes, n * sizeof(*nodes));
    p->nnodes = n;
    return 0;
}

int pmn_backing_params_set_dax(struct pmn_backing_params *p, const char *dev)
{
    char *dup;

    if (p == NULL || dev == NULL || *dev == '\0')
        return -EINVAL;
    dup = strdup(dev);
    if (dup == NULL)
        return -ENOMEM;
    free(p->dax);
    p->dax = dup;
    return 0;
}

int pmn_backing_params_set_page_size(struct pmn_backing_params *p, size_t bytes)
{
    if (p == NULL || (bytes & (bytes - 1)))
        return -EINVAL;
    p->page_size = bytes;
    return 0;
}

/* A setter that only stores its value (after the NULL check). */
#define PARAM_SETTER(name, type, field)                                     \
    int pmn_backing_params_set_##name(struct pmn_backing_params *p, type v) \
    {                                                                       \
        if (p == NULL)                                                      \
            return -EINVAL;                                                 \
        p->field = v;                                                       \
        return 0;                                                           \
    }

PARAM_SETTER(thp, bool, thp)
PARAM_SETTER(verify, bool, verify)

int pmn_backing_params_set_headroom(struct pmn_backing_params *p, uint64_t bytes)
{
    if (p == NULL)
        return -EINVAL;
    p->headroom = bytes;
    p->headroom_set = true;
    return 0;
}

/* The node's hugetlb pool of @size, or NULL. */
static const struct pmn_hugepool *find_pool(const struct pmn_node *n, size_t size)
{
    for (size_t i = 0; i < n->npools; i++)
        if (n->pools[i].page_size == size)
            return &n->pools[i];
    return NULL;
}

/* ---- fork ----
 *
 * The PMN__FORK_BACKINGS layer of core/fork.c: a child of fork() has only
 * the thread that forked, so a backing's lock, its shared file's or its
 * user range's that another thread held then (a region being mapped or
 * given back, a heap's next segment) would stay held in the child for
 * ever.  The prepare holds every live backing's, whether an arena, a slab
 * or only the caller's regions use it: the list's lock, then for each
 * backing its lock, its shared file's (shared.c) and its user range's
 * (backing-user.c), never nested elsewhere in another order; the heaps'
 * locks come before these (a heap maps with its lock held).  Registered
 * when the first backing is made.
 *
 * Process-wide state (the list): the handlers take no argument, and the
 * locks are every backing's of the process.  Guarded by its lock. */
static void backings_prepare(void);
static void backings_release(int phase);
static struct pmn__fork_list backings =
    PMN__FORK_LIST_INIT(PMN__FORK_BACKINGS, backings_prepare, backings_release);

#define BACKING_OF(n) PMN__CONTAINER(n, struct pmn_backing, fork)

static void backings_prepare(void)
{
    pthread_mutex_lock(&backings.lock);
    for (struct pmn__fork_node *n = backings.head; n; n = n->next) {
        struct pmn_backing *b = BACKING_OF(n);

        pthread_mutex_lock(&b->lock);
        pmn__shfile_fork(b, 0);
        if (b->user != NULL)
            pmn__userrange_fork(b->user, 0);
    }
}

/* @phase 1 in the parent, 2 in the child. */
static void backings_release(int phase)
{
    for (struct pmn__fork_node *n = backings.head; n; n = n->next) {
        struct pmn_backing *b = BACKING_OF(n);

        if (b->user != NULL)
            pmn__userrange_fork(b->user, phase);
        pmn__shfile_fork(b, phase);
        pthread_mutex_unlock(&b->lock);
    }
    pthread_mutex_unlock(&backings.lock);
}

static void backing_release(struct pmn_backing *b)
{
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    pmn__fork_leave(&backings, &b->fork);
    if (b->type == PMN_BACKING_DAX)
        pmn__dax_detach(b);
    if (b->type == PMN_BACKING_USER)
        pmn__user_detach(b);
    if (b->pops.release != NULL)
        b->pops.release(b->pstate);
    free(b->pname);
    pmn__shfile_free(b);
    pthread_mutex_destroy(&b->lock);
    pmn_ctx_unref(b->ctx);
    free(b);
}

/* pmn_backing_new for @type (PMN_BACKING_PROVIDER comes only from
 * pmn_backing_new_provider, which fills the ops once this returns). */
static int backing_new(struct pmn_ctx *ctx, const struct pmn_backing_params *p,
                       enum pmn_backing_type type, struct pmn_backing **out)
{
    struct pmn_backing *b;
    int err;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (ctx == NULL || p == NULL)
        return -EINVAL;
    if (!ctx->local)
        return PMN_E_REMOTE_ROOT;
    if (type != PMN_BACKING_DAX && p->nnodes == 0)
        return -EINVAL;
    if (type == PMN_BACKING_DAX && p->dax == NULL)
        return -EINVAL;
    if (type == PMN_BACKING_USER && p->nnodes != 1)
        return -EINVAL; /* the caller's memory is on one node: nothing to spill to */
    /* The table cannot live in the caller's memory or a provider's (yet):
     * only the library's own memfd, or a device-dax device with its table
     * in a small memfd beside it (ipc-dax.c), is shareable. */
    if ((type == PMN_BACKING_USER || type == PMN_BACKING_PROVIDER) && p->shareable)
        return PMN_E_NOT_SHAREABLE;
    for (size_t i = 0; type != PMN_BACKING_DAX && i < p->nnodes; i++) {
        const struct pmn_node *n = pmn__node_find(ctx, p->nodes[i]);
        if (n == NULL)
            return PMN_E_NO_NODE;
        if (n->capacity == 0 || !n->has_memory)
            return PMN_E_NOT_MEMORY_NODE;
    }

    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return -ENOMEM;
    b->type = type;
    b->page = pmn_prim_page_size();
    b->granule = b->page;
    b->thp = p->thp;
    b->verify = p->verify;
    b->headroom = p->headroom;
    b->headroom_set = p->headroom_set;
    b->has_populate = pmn_prim_populate_supported();
    memcpy(b->nodes, p->nodes, p->nnodes * sizeof(*p->nodes));
    b->nnodes = p->nnodes;
    atomic_init(&b->refs, 1);
    pthread_mutex_init(&b->lock, NULL);
    b->ctx = pmn_ctx_ref(ctx);
    b->pstate = b; /* a built-in's state; a provider's is set by the caller */

    switch (type) {
    case PMN_BACKING_USER:
        b->pops = pmn__prov_user;
        b->verify = !(p->user_flags & PMN_USER_UNVERIFIED);
        err =
            pmn__user_attach(b, p->user_addr, p->user_len, p->user_fd, p->user_off, p->user_flags);
        if (err) {
            backing_release(b); /* b->user is NULL: detach has nothing to do */
            return err;
        }
        break;
    case PMN_BACKING_PROVIDER: break; /* pmn_backing_new_provider sets the ops */
    case PMN_BACKING_ANON: b->pops = pmn__prov_anon; break;
    case PMN_BACKING_MEMFD: b->pops = pmn__prov_memfd; break;
    case PMN_BACKING_HUGETLB: {
        size_t hs = p->page_size;
        const struct pmn_node *n0 = pmn__node_find(ctx, b->nodes[0]);
        if (hs == 0)
            hs = n0->npools ? (size_t)n0->pools[0].page_size : 0;
        for (size_t i = 0; i < b->nnodes; i++)
            if (hs == 0 || hs <= b->page || !find_pool(pmn__node_find(ctx, b->nodes[i]), hs)) {
                backing_release(b);
                return -EINVAL;
            }
        b->huge_size = b->granule = hs;
        b->pops = pmn__prov_hugetlb;
        break;
    }
    case PMN_BACKING_DAX:
        b->pops = pmn__prov_dax;
        err = pmn__dax_attach(b, p->dax);
        if (err) {
            backing_release(b); /* b->dax is NULL: detach has nothing to do */
            return err;
        }
        b->nnodes = 1;
        b->nodes[0] = pmn__dax_node(b);
        break;
    }
    if (b->type == PMN_BACKING_MEMFD || p->shareable) {
        /* One file for every region (shared.c); anon and hugetlb take the
         * memfd path over it. */
        err = pmn__shfile_new(b, p->ipc_table);
        if (err) {
            backing_release(b);
            return err;
        }
        if (b->type != PMN_BACKING_DAX) /* dax: the file holds the table only */
            b->pops = pmn__prov_memfd;
    }
    b->stats.nnodes = b->nnodes;
    for (size_t i = 0; i < b->nnodes; i++)
        b->stats.node[i].node = b->nodes[i];
    pmn__fork_join(&backings, &b->fork);
    *out = b;
    return 0;
}

int pmn_backing_new(struct pmn_ctx *ctx, const struct pmn_backing_params *p,
                    struct pmn_backing **out)
{
    if (p == NULL) {
        if (out != NULL)
            *out = NULL;
        return -EINVAL;
    }
    return backing_new(ctx, p, p->type, out);
}

void pmn_backing_free(struct pmn_backing *b)
{
    if (b != NULL)
        backing_release(b);
}

void pmn__backing_ref(struct pmn_backing *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void pmn__backing_unref(struct pmn_backing *b)
{
    backing_release(b);
}

enum pmn_backing_type pmn_backing_type(const struct pmn_backing *b)
{
    return b ? b->type : PMN_BACKING_ANON;
}

size_t pmn_backing_granule(const struct pmn_backing *b)
{
    return b ? b->granule : 0;
}

int pmn_backing_stats(const struct pmn_backing *b, struct pmn_backing_stats *out)
{
    struct pmn_backing_stats st;

    if (b == NULL || !pmn__out_ok(out, PMN__SIZE_TO(struct pmn_backing_stats, node)))
        return -EINVAL;
    pthread_mutex_lock((pthread_mutex_t *)&b->lock);
    st = b->stats;
    pthread_mutex_unlock((pthread_mutex_t *)&b->lock);
    pmn__out_put(out, &st, sizeof(st));
    return 0;
}
PMN__SYMVER_DEFAULT(pmn_backing_stats, "PMNODE_0.2");

static void account_locked(struct pmn_backing *b, int slot, int64_t delta, bool failed)
{
    if (failed) {
        b->stats.region_map_failures++;
    } else {
        b->stats.mapped_bytes += (uint64_t)delta;
        if (slot >= 0)
            b->stats.node[slot].bytes += (uint64_t)delta;
        if (slot > 0)
            b->stats.spilled_bytes += (uint64_t)delta;
        if (delta > 0) {
            b->stats.region_maps++;
            if (b->stats.mapped_bytes > b->stats.mapped_peak_bytes)
                b->stats.mapped_peak_bytes = b->stats.mapped_bytes;
        }
    }
}

static void account(struct pmn_backing *b, int slot, int64_t delta, bool failed)
{
    pthread_mutex_lock(&b->lock);
    account_locked(b, slot, delta, failed);
    pthread_mutex_unlock(&b->lock);
}

/* Can @node take @size more bytes right now?  (@headroom false: none.) */
static int check_node_h(struct pmn_backing *b, int node, uint64_t size, bool use_headroom)
{
    const struct pmn_node *n = pmn__node_find(b->ctx, node);
    struct pmn__bitmap allowed = {0};
    uint64_t headroom;
    int err;

    /* The caller's range and the device exist already; memory the kernel
     * cannot see (an unverified provider) is not in its counters either. */
    if (b->type == PMN_BACKING_USER || b->type == PMN_BACKING_DAX ||
        (b->type == PMN_BACKING_PROVIDER && !b->verify))
        return 0;

    err = pmn_prim_mems_allowed(&allowed);
    if (err == 0 && !pmn__bitmap_test(&allowed, (unsigned)node)) {
        pmn__bitmap_free(&allowed);
        return PMN_E_NOT_ALLOWED;
    }
    pmn__bitmap_free(&allowed);

    if (b->type == PMN_BACKING_HUGETLB) {
        char path[160];
        uint64_t freep;
        snprintf(path, sizeof(path),
                 "sys/devices/system/node/node%d/hugepages/hugepages-%zukB/free_hugepages", node,
                 b->huge_size >> 10);
        err = pmn__sysfs_read_u64(&b->ctx->fs, path, 10, &freep);
        if (err)
            return err == -ENOENT ? PMN_E_NO_HUGEPAGES : err;
        return freep >= size / b->huge_size ? 0 : PMN_E_NO_HUGEPAGES;
    }

    headroom = use_headroom ? b->headroom : 0;
    if (use_headroom && !b->headroom_set)
        headroom = pmn__default_headroom(n);
    return pmn__node_room(b->ctx, node, headroom, size);
}

uint64_t pmn__default_headroom(const struct pmn_node *n)
{
    uint64_t cap = n->capacity == PMN_UNKNOWN ? 0 : n->capacity;

    return cap / 100 > DEFAULT_HEADROOM ? cap / 100 : DEFAULT_HEADROOM;
}

static int check_node(struct pmn_backing *b, int node, size_t size)
{
    return check_node_h(b, node, size, true);
}

int pmn__backing_room(struct pmn_backing *b, int node, uint64_t bytes, unsigned flags)
{
    return check_node_h(b, node, bytes, !(flags & PMN_MIGRATE_NO_HEADROOM));
}

int pmn__node_room(const struct pmn_ctx *ctx, int node, uint64_t headroom, uint64_t size)
{
    uint64_t avail;
    int err = pmn_node_read_available(ctx, node, &avail);

    if (err)
        return err;
    if (avail < headroom || avail - headroom < size)
        return PMN_E_NODE_FULL;
    return 0;
}

/* Populate a holed region around its hole (the ops mapped it lazily). */
static int populate_around_hole(struct pmn_region *r)
{
    size_t end = r->hole_off + r->hole_len;
    int err = 0;

    if (r->hole_off > 0)
        err = pmn__region_populate(r, 0, r->hole_off);
    if (err == 0 && end < r->size)
        err = pmn__region_populate(r, end, r->size - end);
    return err;
}

/* A code from a caller's op: a positive value broke the contract. */
static int op_code(int err)
{
    return err > 0 ? -EIO : err;
}

/* map() into r->pext, checked: 0, or the op's code with nothing kept. */
static int ops_get(struct pmn_backing *b, struct pmn_region *r,
                   const struct pmn_provider_request *req)
{
    struct pmn_extent *e = &r->pext;
    int err;

    memset(e, 0, sizeof(*e));
    e->struct_size = sizeof(*e);
    e->fd = -1;
    e->node = req->node;
    err = op_code(b->pops.map(b->pstate, req, e));
    if (err == 0 && (e->addr == NULL || e->len < req->len)) {
        pmn__log(b->ctx, 3, "provider %s gave %zu bytes at %p for %zu", b->pops.name, e->len,
                 e->addr, req->len);
        (void)b->pops.unmap(b->pstate, e);
        err = -EINVAL;
    }
    if (err == 0) {
        e->struct_size = sizeof(*e);
        e->node = req->node;
    }
    return err;
}

/* Verify [addr, addr + len) of @r: the ops' verify(), else move_pages. */
static int ops_verify(struct pmn_backing *b, struct pmn_region *r, const struct pmn_extent *e,
                      void *addr, size_t len)
{
    uint64_t misplaced = 0, t0 = pmn_prim_now_ns();
    int err;

    err = b->pops.verify != NULL ? op_code(b->pops.verify(b->pstate, e, &misplaced))
                                 : pmn__verify(addr, len, b->page, r->node, &misplaced);
    r->verify_ns += pmn_prim_now_ns() - t0;
    if (err == 0 && misplaced) {
        pmn__log(b->ctx, 3, "provider %s: %llu pages of %zu not on node %d", b->pops.name,
                 (unsigned long long)misplaced, len / b->page, r->node);
        err = PMN_E_MISPLACED;
    }
    return err;
}

/*
 * Map @r for @node through b's ops (@flags: PMN_PROVIDER_AT with @offset,
 * or 0), populated and verified unless lazy.  The request asks only what
 * the caps allow: without CAN_SKEW an extent that does not fit goes back
 * and len + align bytes are asked for, of which an aligned part is used;
 * without VERIFIES populate() (unless CAN_LAZY: then map() populated) and
 * verify() or move_pages follow.  Nothing stays mapped on failure.
 */
static int ops_map(struct pmn_backing *b, struct pmn_region *r, int node, unsigned flags,
                   uint64_t offset)
{
    unsigned caps = b->pops.caps;
    size_t align = r->align > b->granule ? r->align : b->granule;
    struct pmn_provider_request req = {
        .struct_size = sizeof(req),
        .len = r->size,
        .align = align,
        .skew = (caps & PMN_PROVIDER_CAN_SKEW) ? r->skew : 0,
        .node = node,
        .flags = flags,
        .offset = offset,
    };
    struct pmn_extent *e = &r->pext;
    uintptr_t at;
    int err;

    if (r->lazy) { /* only with CAN_LAZY: pmn__backing_can_hole */
        req.flags |= PMN_PROVIDER_LAZY;
        req.hole_off = r->hole_off;
        req.hole_len = r->hole_len;
    }
    r->node = node;
    err = ops_get(b, r, &req);
    if (err)
        return err;
    if (flags & PMN_PROVIDER_AT) {
        at = (uintptr_t)e->addr; /* exactly there, or not at all */
    } else {
        at = pmn__extent_fit(e, r->size, align, r->skew);
        if (at == 0) {
            /* Not aligned: give it back, take more, use an aligned part. */
            (void)b->pops.unmap(b->pstate, e);
            if (r->size > SIZE_MAX - align)
                return -ENOMEM;
            req.len = r->size + align;
            req.align = b->page;
            req.skew = 0;
            if ((err = ops_get(b, r, &req)) != 0)
                return err;
            at = pmn__extent_fit(e, r->size, align, r->skew);
        }
    }
    if (at == 0) {
        (void)b->pops.unmap(b->pstate, e);
        return -EINVAL;
    }
    r->addr = (void *)at;
    if (b->type == PMN_BACKING_PROVIDER) { /* the built-ins set their region's file */
        r->fd = e->fd;
        r->fd_offset = e->fd >= 0 ? e->offset + (at - (uintptr_t)e->addr) : 0;
    }
    if (!(caps & PMN_PROVIDER_CAN_LAZY) && b->pops.populate != NULL)
        err = op_code(b->pops.populate(b->pstate, e, at - (uintptr_t)e->addr, r->size));
    if (err == 0 && !r->lazy && b->verify && !(caps & PMN_PROVIDER_VERIFIES))
        err = ops_verify(b, r, e, r->addr, r->size);
    if (err) {
        (void)b->pops.unmap(b->pstate, e);
        r->addr = NULL;
        r->fd = -1;
    }
    return err;
}

static int ops_unmap(struct pmn_backing *b, struct pmn_region *r)
{
    int err;

    if (r->addr == NULL)
        return 0;
    err = op_code(b->pops.unmap(b->pstate, &r->pext));
    r->addr = NULL;
    r->fd = -1;
    return err;
}

static int map_on(struct pmn_backing *b, struct pmn_region *r, int slot, unsigned flags,
                  uint64_t offset)
{
    int node = b->nodes[slot];
    uint64_t t0;
    int err;

    /* What will be memory: a hole never is. */
    err = check_node(b, node, pmn__region_committed(r));
    if (err)
        return err;
    t0 = pmn_prim_now_ns();
    r->verify_ns = 0;
    err = ops_map(b, r, node, flags, offset);
    if (err)
        return err;
    if (r->hole_len > 0 && !r->sparse && (err = populate_around_hole(r)) != 0) {
        (void)ops_unmap(b, r);
        return err;
    }
    r->populate_ns = pmn_prim_now_ns() - t0 - r->verify_ns;
    r->node = node;
    r->slot = slot;
    return 0;
}

static int region_new(struct pmn_backing *b, size_t size, struct pmn_region **out,
                      struct pmn_region **r)
{
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (b == NULL || size == 0)
        return -EINVAL;
    if (size > SIZE_MAX - b->granule)
        return -ENOMEM; /* as mmap and malloc answer an impossible size */
    *r = calloc(1, sizeof(**r));
    if (*r == NULL)
        return -ENOMEM;
    /* Counted from here: the hooks stay as they are until it is gone. */
    pthread_mutex_lock(&b->lock);
    b->nregions++;
    (*r)->hooked = atomic_load_explicit(&b->hooked, memory_order_relaxed);
    pthread_mutex_unlock(&b->lock);
    (*r)->b = b;
    (*r)->fd = -1;
    (*r)->slot = -1;
    (*r)->node = -1;
    (*r)->size = (size + b->granule - 1) / b->granule * b->granule;
    return 0;
}

/* A region that will not be: uncount it and free it. */
static void region_forget(struct pmn_backing *b, struct pmn_region *r)
{
    pthread_mutex_lock(&b->lock);
    b->nregions--;
    pthread_mutex_unlock(&b->lock);
    free(r);
}

/* on_unmap for the first @n extents of @r (in reverse order). */
static void hooks_unmap(struct pmn_backing *b, struct pmn_region *r, size_t n)
{
    struct pmn_extent e[2];
    size_t have = pmn__region_extents(r, e);

    if (n > have)
        n = have;
    while (n-- > 0)
        if (b->hooks.on_unmap != NULL)
            b->hooks.on_unmap(&e[n], b->hooks.arg);
}

/* on_map for each extent of @r: 0, or why the map fails (extents accepted
 * before the refusal are told on_unmap). */
static int hooks_map(struct pmn_backing *b, struct pmn_region *r)
{
    struct pmn_extent e[2];
    size_t n = pmn__region_extents(r, e);

    for (size_t i = 0; i < n && b->hooks.on_map != NULL; i++) {
        int rc = b->hooks.on_map(&e[i], b->hooks.arg);
        if (rc != 0) {
            pmn__log(b->ctx, 3, "on_map refused the extent at %p (%zu bytes): %d", e[i].addr,
                     e[i].len, rc);
            hooks_unmap(b, r, i);
            return rc < 0 ? rc : -ECANCELED;
        }
    }
    return 0;
}

static int region_done(struct pmn_backing *b, struct pmn_region *r, int err,
                       struct pmn_region **out)
{
    /* Mapped, populated and verified: the caller's device hears of it
     * before anyone can use it. */
    if (err == 0 && r->hooked && (err = hooks_map(b, r)) != 0)
        (void)ops_unmap(b, r);
    if (err) {
        account(b, -1, 0, true);
        region_forget(b, r);
        pmn__set_last_error(err); /* pmn_last_error(): why this thread's map failed */
        return err;
    }
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    pthread_mutex_lock(&b->lock);
    account_locked(b, r->slot < 0 ? 0 : r->slot, (int64_t)pmn__region_committed(r), false);
    r->prev = NULL;
    r->next = b->regions;
    if (b->regions != NULL)
        b->regions->prev = r;
    b->regions = r;
    pthread_mutex_unlock(&b->lock);
    *out = r;
    return 0;
}

size_t pmn__region_committed(const struct pmn_region *r)
{
    return r->size - r->hole_len;
}

/* Where and how to map a region (pmn__region_map_holed says what each is). */
struct region_shape {
    size_t align, skew, hole_off, hole_len;
    bool lazy, sparse;
};

static int region_map(struct pmn_backing *b, size_t size, const struct region_shape *sh,
                      struct pmn_region **out)
{
    struct pmn_region *r;
    int err, first = 0;

    err = region_new(b, size, out, &r);
    if (err)
        return err;
    r->align = sh->align;
    r->skew = sh->skew;
    if (sh->hole_len > 0 && pmn__backing_can_hole(b)) {
        if (sh->hole_off % b->granule || sh->hole_len % b->granule || sh->hole_off > r->size ||
            sh->hole_len > r->size - sh->hole_off) {
            region_forget(b, r);
            return -EINVAL;
        }
        r->hole_off = sh->hole_off;
        r->hole_len = sh->hole_len;
    }
    r->lazy = (sh->lazy || sh->sparse || r->hole_len > 0) && pmn__backing_can_hole(b);
    /* A registered extent is memory from end to end (a hole is not part of
     * any extent): no page of it is left to populate later. */
    if (r->hooked && r->hole_len == 0)
        r->lazy = false;
    /* Left to the program's first touch only where a fault can be trusted
     * to the bind policy and nothing else: anonymous and memfd memory (a
     * hugetlb fault the node cannot serve is a SIGBUS; a caller's provider
     * populates its own way). */
    r->sparse = sh->sparse && r->lazy && !r->hooked &&
                (b->type == PMN_BACKING_ANON || b->type == PMN_BACKING_MEMFD);
    for (size_t i = 0; i < b->nnodes; i++) {
        err = map_on(b, r, (int)i, 0, 0);
        if (err == 0)
            break;
        if (i == 0)
            first = err;
        pmn__log(b->ctx, 4, "node %d cannot take %zu bytes: %s", b->nodes[i], r->size,
                 pmn_strerror(err));
    }
    /* Report why the preferred node failed: later nodes are a fallback the
     * caller asked for, their reasons are secondary. */
    if (err && b->nnodes > 1)
        err = first;
    return region_done(b, r, err, out);
}

int pmn_region_map(struct pmn_backing *b, size_t size, struct pmn_region **out)
{
    const struct region_shape sh = {0};

    return region_map(b, size, &sh, out);
}

int pmn__region_map_lazy(struct pmn_backing *b, size_t size, size_t align, struct pmn_region **out)
{
    const struct region_shape sh = {.align = align, .lazy = true};

    if (align & (align - 1))
        return -EINVAL;
    return region_map(b, size, &sh, out);
}

int pmn__region_map_holed(struct pmn_backing *b, size_t size, size_t align, size_t skew,
                          size_t hole_off, size_t hole_len, bool sparse, struct pmn_region **out)
{
    const struct region_shape sh = {.align = align,
                                    .skew = skew,
                                    .hole_off = hole_off,
                                    .hole_len = hole_len,
                                    .sparse = sparse};

    if (out != NULL)
        *out = NULL;
    if ((align & (align - 1)) || (skew != 0 && skew >= align) || (b != NULL && skew % b->granule))
        return -EINVAL;
    return region_map(b, size, &sh, out);
}

int pmn__region_populate(struct pmn_region *r, size_t off, size_t len)
{
    struct pmn_backing *b = r->b;
    size_t eoff = (size_t)((char *)r->addr - (char *)r->pext.addr) + off;
    int err;

    if (!r->lazy)
        return 0;
    if (off > r->size || len > r->size - off)
        return -EINVAL;
    if (r->hole_len > 0 && off < r->hole_off + r->hole_len && off + len > r->hole_off)
        return -EINVAL; /* the hole stays address space */
    err = op_code(b->pops.populate(b->pstate, &r->pext, eoff, len));
    if (err == 0 && b->verify && !(b->pops.caps & PMN_PROVIDER_VERIFIES)) {
        struct pmn_extent piece;
        pmn__region_extent_at(r, &piece, off, len);
        err = ops_verify(b, r, &piece, piece.addr, len);
    }
    /* A caller's lazy provider gets the piece back to decommit (the
     * built-ins' populate gives back what it left itself). */
    if (err && b->type == PMN_BACKING_PROVIDER && b->pops.purge != NULL)
        (void)b->pops.purge(b->pstate, &r->pext, eoff, len);
    return err;
}

int pmn__region_purge(struct pmn_region *r, size_t off, size_t len)
{
    struct pmn_backing *b = r->b;
    char *at = (char *)r->addr + off;

    if (!r->lazy || r->hooked || b->huge_size != 0)
        return -EOPNOTSUPP;
    if (off > r->size || len > r->size - off || off % b->page || len % b->page)
        return -EINVAL;
    if (b->type == PMN_BACKING_PROVIDER) {
        size_t eoff = (size_t)((char *)r->addr - (char *)r->pext.addr) + off;
        return b->pops.purge != NULL ? op_code(b->pops.purge(b->pstate, &r->pext, eoff, len))
                                     : -EOPNOTSUPP;
    }
    if (b->type != PMN_BACKING_ANON && b->type != PMN_BACKING_MEMFD)
        return -EOPNOTSUPP;
    /* The range keeps its bind: a page faulted there again comes from
     * the node (and the heap populates and verifies it before reuse). */
    return pmn_prim_advise(at, len, r->fd >= 0 ? MADV_REMOVE : MADV_DONTNEED);
}

int pmn_region_map_at(struct pmn_backing *b, uint64_t offset, size_t size, struct pmn_region **out)
{
    struct pmn_region *r;
    int err;

    if (b != NULL && !(b->pops.caps & PMN_PROVIDER_CAN_AT)) {
        if (out)
            *out = NULL;
        return -EOPNOTSUPP;
    }
    err = region_new(b, size, out, &r);
    if (err)
        return err;
    if (r->size != size) { /* map_at is exact: no silent rounding */
        region_forget(b, r);
        return -EINVAL;
    }
    return region_done(b, r, map_on(b, r, 0, PMN_PROVIDER_AT, offset), out);
}

int pmn_region_unmap(struct pmn_region *r)
{
    struct pmn_backing *b;
    int err;

    if (r == NULL)
        return 0;
    b = r->b;
    pthread_mutex_lock(&b->lock);
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        b->regions = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    pthread_mutex_unlock(&b->lock);
    /* Handles to the region or to objects in it go stale before the
     * memory can be anyone else's. */
    if (atomic_load_explicit(&r->exported, memory_order_relaxed) > 0)
        pmn__shfile_forget_range(b, r->addr, r->size);
    /* The device lets go while the memory is still there. */
    if (r->hooked)
        hooks_unmap(b, r, 2);
    err = ops_unmap(b, r);
    account(b, r->slot < 0 ? 0 : r->slot, -(int64_t)pmn__region_committed(r), false);
    region_forget(b, r);
    backing_release(b);
    return err;
}

void *pmn_region_addr(const struct pmn_region *r)
{
    return r ? r->addr : NULL;
}

size_t pmn_region_size(const struct pmn_region *r)
{
    return r ? r->size : 0;
}

int pmn_region_node(const struct pmn_region *r)
{
    return r ? r->node : -1;
}

int pmn_region_fd(const struct pmn_region *r)
{
    return r ? r->fd : -1;
}
/* 0.4: the backing's file, mapped at pmn_region_offset(); programs built
 * before bind to compat-0.1.c's version. */
PMN__SYMVER_DEFAULT(pmn_region_fd, "PMNODE_0.4");

uint64_t pmn_region_offset(const struct pmn_region *r)
{
    if (r == NULL)
        return 0;
    return r->b->type == PMN_BACKING_DAX ? r->dax_offset : r->file_off;
}

int pmn_backing_params_set_shareable(struct pmn_backing_params *p, bool on)
{
    if (p == NULL)
        return -EINVAL;
    p->shareable = on;
    return 0;
}

int pmn_backing_params_set_ipc_table_size(struct pmn_backing_params *p, size_t bytes)
{
    size_t page = pmn_prim_page_size();

    if (p == NULL || bytes < 4096 || bytes > ((size_t)64 << 20) || bytes % page)
        return -EINVAL;
    p->ipc_table = bytes;
    return 0;
}

bool pmn_backing_shareable(const struct pmn_backing *b)
{
    return b != NULL && b->sh != NULL;
}

uint64_t pmn_region_populate_ns(const struct pmn_region *r)
{
    return r ? r->populate_ns : 0;
}

uint64_t pmn_region_verify_ns(const struct pmn_region *r)
{
    return r ? r->verify_ns : 0;
}

/* ---- registration ---- */

bool pmn__backing_has_hooks(const struct pmn_backing *b)
{
    return atomic_load_explicit(&((struct pmn_backing *)b)->hooked, memory_order_relaxed);
}

int pmn_backing_set_hooks(struct pmn_backing *b, const struct pmn_extent_hooks *hooks)
{
    struct pmn_extent_hooks h = {0};
    int err = 0;

    if (b == NULL || (hooks != NULL && hooks->struct_size < sizeof(size_t)))
        return -EINVAL;
    if (hooks != NULL)
        memcpy(&h, hooks, hooks->struct_size < sizeof(h) ? hooks->struct_size : sizeof(h));
    h.struct_size = sizeof(h);
    pthread_mutex_lock(&b->lock);
    /* No replay: a region mapped before the hooks would be memory the
     * device never heard of, and a lazily populated one would have holes. */
    if (b->nregions > 0) {
        err = -EBUSY;
    } else {
        b->hooks = h;
        atomic_store_explicit(&b->hooked, h.on_map != NULL || h.on_unmap != NULL,
                              memory_order_relaxed);
    }
    pthread_mutex_unlock(&b->lock);
    return err;
}

void pmn__region_extent_at(const struct pmn_region *r, struct pmn_extent *e, size_t off,
                           size_t len)
{
    const struct pmn_backing *b = r->b;

    memset(e, 0, sizeof(*e));
    e->struct_size = sizeof(*e);
    e->addr = (char *)r->addr + off;
    e->len = len;
    e->node = r->node;
    e->fd = -1;
    if (b->type == PMN_BACKING_DAX) {
        e->fd = pmn__dax_fd(b);
        e->offset = r->dax_offset + off;
    } else if (b->type == PMN_BACKING_USER || b->type == PMN_BACKING_PROVIDER) {
        e->fd = r->fd;
        e->offset = r->fd >= 0 ? r->fd_offset + off : 0;
    } else if (r->fd >= 0) {
        e->fd = r->fd;
        e->offset = r->file_off + off; /* the region is a range of the backing's file */
    }
}

size_t pmn__region_extents(const struct pmn_region *r, struct pmn_extent out[2])
{
    size_t end = r->hole_off + r->hole_len, n = 0;

    if (r->hole_len == 0) {
        pmn__region_extent_at(r, &out[0], 0, r->size);
        return 1;
    }
    if (r->hole_off > 0)
        pmn__region_extent_at(r, &out[n++], 0, r->hole_off);
    if (end < r->size)
        pmn__region_extent_at(r, &out[n++], end, r->size - end);
    return n;
}

int pmn__extents_call(const struct pmn_extent *v, size_t n, pmn_extent_fn fn, void *arg)
{
    for (size_t i = 0; i < n; i++) {
        int rc = fn(&v[i], arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int pmn_backing_extents(struct pmn_backing *b, pmn_extent_fn fn, void *arg)
{
    struct pmn_extent *v = NULL;
    size_t n = 0, cap = 0;
    int err;

    if (b == NULL || fn == NULL)
        return -EINVAL;
    /* A snapshot under the lock; fn runs without it (it may map). */
    pthread_mutex_lock(&b->lock);
    for (const struct pmn_region *r = b->regions; r != NULL; r = r->next)
        cap += 2;
    if (cap > 0 && (v = malloc(cap * sizeof(*v))) == NULL) {
        pthread_mutex_unlock(&b->lock);
        return -ENOMEM;
    }
    for (const struct pmn_region *r = b->regions; r != NULL; r = r->next)
        n += pmn__region_extents(r, v + n);
    pthread_mutex_unlock(&b->lock);
    err = pmn__extents_call(v, n, fn, arg);
    free(v);
    return err;
}

/* ---- user-supplied memory and providers (the rest is in backing-user.c) ---- */

bool pmn__backing_can_hole(const struct pmn_backing *b)
{
    return (b->pops.caps & PMN_PROVIDER_CAN_LAZY) != 0;
}

int pmn_backing_params_set_user(struct pmn_backing_params *p, void *addr, size_t len, int fd,
                                uint64_t offset, unsigned flags)
{
    size_t page = pmn_prim_page_size();

    if (p == NULL || addr == NULL || len == 0 || (uintptr_t)addr % page || len % page ||
        (uintptr_t)addr > UINTPTR_MAX - len || fd < -1 ||
        (flags & ~(PMN_USER_UNVERIFIED | PMN_USER_PURGE)))
        return -EINVAL;
    p->type = PMN_BACKING_USER;
    p->user_addr = addr;
    p->user_len = len;
    p->user_fd = fd;
    p->user_off = fd >= 0 ? offset : 0;
    p->user_flags = flags;
    return 0;
}

int pmn_backing_new_provider(struct pmn_ctx *ctx, const struct pmn_backing_params *p,
                             const struct pmn_provider_ops *ops, void *state,
                             struct pmn_backing **out)
{
    struct pmn_provider_ops o = {0};
    char *name;
    int err;

    if (out != NULL)
        *out = NULL;
    if (out == NULL || p == NULL || ops == NULL)
        return -EINVAL;
    /* 0.4's first layout ended before caps, and its map() took (state,
     * len, align, node, out): calling it with a request would be calling
     * a function through the wrong type.  Such a table is shorter than
     * this one (caps is last for that reason): refuse it by its size. */
    if (ops->struct_size < PMN__SIZE_TO(struct pmn_provider_ops, caps))
        return -EPROTO;
    memcpy(&o, ops, ops->struct_size < sizeof(o) ? ops->struct_size : sizeof(o));
    o.struct_size = sizeof(o);
    if (o.map == NULL || o.unmap == NULL ||
        (o.caps & ~(PMN_PROVIDER_CAN_SKEW | PMN_PROVIDER_CAN_LAZY | PMN_PROVIDER_CAN_AT |
                    PMN_PROVIDER_VERIFIES)) ||
        ((o.caps & PMN_PROVIDER_CAN_LAZY) && o.populate == NULL))
        return -EINVAL;
    name = strdup(o.name != NULL ? o.name : "provider");
    if (name == NULL)
        return -ENOMEM;
    o.name = name;
    err = backing_new(ctx, p, PMN_BACKING_PROVIDER, out);
    if (err) {
        free(name);
        return err;
    }
    (*out)->pops = o;
    (*out)->pstate = state;
    (*out)->pname = name;
    return 0;
}

bool pmn_backing_verified(const struct pmn_backing *b)
{
    return b != NULL && b->verify && b->type != PMN_BACKING_DAX;
}
