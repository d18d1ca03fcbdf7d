/*
 * backing-user.c - memory the library does not map itself: a caller's
 * provider (an ops table) and a caller's range (user-supplied memory).
 *
 * Both are page sources behind the public provider table
 * (struct pmn_provider_ops), as every built-in one is, so a region of either
 * goes through backing.c like any other: the spill list, the free-memory
 * check (skipped where it means nothing: the caller's range exists already,
 * and unverified provider memory is not in the kernel's counters), hooks,
 * stats and extents.  backing.c runs a caller's table (asking for an
 * aligned, skewed, lazy or placed extent only as its caps allow, trimming
 * an over-sized extent otherwise, then populate() and verify()); this file
 * holds what both kinds share (pmn__extent_fit) and the user range's table.
 *
 * User ranges: checked once, at creation: pages not present are populated
 * under a policy preferring the node (as backing-node.c populates, so the
 * library's own faults never invoke the OOM killer), every page is
 * queried, and the range is bound.  Regions are then carved out of it
 * first fit, aligned as asked, from a free list sorted by offset and
 * coalesced on return (a few dozen pieces at most: regions are 4 MiB and
 * up, so a linear list is simple and fast enough on this slow path).  The
 * caller's memory is never mapped, unmapped or (without PMN_USER_PURGE)
 * decommitted here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "place/backing.h"
#include "os/prim.h"

/* ---- providers ---- */

uintptr_t pmn__extent_fit(const struct pmn_extent *e, size_t size, size_t align, size_t skew)
{
    uintptr_t lo = (uintptr_t)e->addr, c;

    if (lo > UINTPTR_MAX - e->len || lo + skew < lo || lo + skew > UINTPTR_MAX - align)
        return 0;
    c = ((lo + skew + align - 1) & ~(uintptr_t)(align - 1)) - skew;
    if (c < lo || size > e->len || c - lo > e->len - size)
        return 0;
    return c;
}

/* ---- user-supplied memory ---- */

struct piece {
    size_t off, len;
};

struct pmn__userrange {
    char *base;
    size_t len;
    int fd;
    uint64_t off;
    unsigned flags;
    pthread_mutex_t lock; /* guards the free list */
    struct piece *free;   /* sorted by offset, never adjacent */
    size_t nfree, cap;
};

/* Room for one more piece (a carve may split one piece in two). */
static int pieces_grow(struct pmn__userrange *u)
{
    struct piece *v;

    if (u->nfree < u->cap)
        return 0;
    v = realloc(u->free, (u->cap ? u->cap * 2 : 8) * sizeof(*v));
    if (v == NULL)
        return -ENOMEM;
    u->free = v;
    u->cap = u->cap ? u->cap * 2 : 8;
    return 0;
}

/* Take @size bytes at an address A with A + @skew a multiple of @align. */
static int carve(struct pmn__userrange *u, size_t size, size_t align, size_t skew, size_t *out)
{
    int err = -ENOMEM;

    pthread_mutex_lock(&u->lock);
    if (pieces_grow(u) != 0)
        goto out;
    for (size_t i = 0; i < u->nfree; i++) {
        struct piece *p = &u->free[i];
        struct pmn_extent e = {.addr = u->base + p->off, .len = p->len};
        uintptr_t at = pmn__extent_fit(&e, size, align, skew);
        size_t off, end;

        if (at == 0)
            continue;
        off = at - (uintptr_t)u->base;
        end = off + size;
        if (end < p->off + p->len && off > p->off) { /* split in two */
            memmove(p + 2, p + 1, (u->nfree - i - 1) * sizeof(*p));
            p[1].off = end;
            p[1].len = p->off + p->len - end;
            p->len = off - p->off;
            u->nfree++;
        } else if (off > p->off) {
            p->len = off - p->off;
        } else if (end < p->off + p->len) {
            p->len = p->off + p->len - end;
            p->off = end;
        } else {
            memmove(p, p + 1, (u->nfree - i - 1) * sizeof(*p));
            u->nfree--;
        }
        *out = off;
        err = 0;
        break;
    }
out:
    pthread_mutex_unlock(&u->lock);
    return err;
}

/* Give [off, off + len) back, coalescing with its neighbours.  Cannot fail:
 * a piece that joins none needs the slot carve() made sure of. */
static void give_back(struct pmn__userrange *u, size_t off, size_t len)
{
    size_t i = 0;

    pthread_mutex_lock(&u->lock);
    while (i < u->nfree && u->free[i].off < off)
        i++;
    if (i > 0 && u->free[i - 1].off + u->free[i - 1].len == off) {
        u->free[i - 1].len += len;
        if (i < u->nfree && off + len == u->free[i].off) {
            u->free[i - 1].len += u->free[i].len;
            memmove(&u->free[i], &u->free[i + 1], (u->nfree - i - 1) * sizeof(*u->free));
            u->nfree--;
        }
    } else if (i < u->nfree && off + len == u->free[i].off) {
        u->free[i].off = off;
        u->free[i].len += len;
    } else if (pieces_grow(u) == 0) {
        memmove(&u->free[i + 1], &u->free[i], (u->nfree - i) * sizeof(*u->free));
        u->free[i].off = off;
        u->free[i].len = len;
        u->nfree++;
    } /* else: lost to the list until the backing goes (never with the slot) */
    pthread_mutex_unlock(&u->lock);
}

void pmn__userrange_fork(struct pmn__userrange *u, int phase)
{
    if (phase == 0)
        pthread_mutex_lock(&u->lock);
    else
        pthread_mutex_unlock(&u->lock);
}

static int user_map(struct pmn_backing *b, struct pmn_region *r, int node)
{
    struct pmn__userrange *u = b->user;
    size_t align = r->align > b->granule ? r->align : b->granule, off;
    int err;

    err = carve(u, r->size, align, r->skew, &off);
    if (err) {
        pmn__log(b->ctx, 4, "user range of %zu bytes has no free %zu bytes aligned to %zu", u->len,
                 r->size, align);
        return err;
    }
    r->addr = u->base + off;
    r->node = node;
    r->fd = u->fd;
    r->fd_offset = u->fd >= 0 ? u->off + off : 0;
    /* Purged pieces come back empty: populate and verify them again. */
    if ((u->flags & PMN_USER_PURGE) && b->verify) {
        err = pmn__node_populate(b, r, r->addr, r->size);
        if (err) {
            give_back(u, off, r->size);
            r->addr = NULL;
            r->fd = -1;
        }
    }
    return err;
}

static int user_unmap(struct pmn_backing *b, struct pmn_region *r)
{
    struct pmn__userrange *u = b->user;
    int err = 0;

    if (r->addr == NULL)
        return 0;
    if (u->flags & PMN_USER_PURGE)
        err = pmn_prim_advise(r->addr, r->size, MADV_DONTNEED);
    give_back(u, (size_t)((char *)r->addr - u->base), r->size);
    r->fd = -1;
    return err;
}

/* The provider table (backing.h says how it finds the region). */
static int user_pmap(void *state, const struct pmn_provider_request *req, struct pmn_extent *out)
{
    struct pmn_region *r = pmn__ext_region(out);
    int err = user_map(state, r, req->node);

    if (err == 0)
        pmn__region_extent_at(r, out, 0, r->size);
    return err;
}

static int user_punmap(void *state, const struct pmn_extent *e)
{
    return user_unmap(state, pmn__ext_region(e));
}

const struct pmn_provider_ops pmn__prov_user = {.struct_size = sizeof(struct pmn_provider_ops),
                                                .name = "user",
                                                .map = user_pmap,
                                                .unmap = user_punmap,
                                                .caps =
                                                    PMN_PROVIDER_CAN_SKEW | PMN_PROVIDER_VERIFIES};

/* Populate what is not present (preferring the node), query every page,
 * bind: 0, or PMN_E_MISPLACED with the range's policy back to default. */
static int user_check(struct pmn_backing *b, void *addr, size_t len)
{
    int node = b->nodes[0];
    uint64_t misplaced = 0;
    int err;

    err = pmn_prim_prefer(addr, len, node);
    if (err == 0) {
        if (b->has_populate)
            err = pmn_prim_populate_write(addr, len);
        else
            pmn_prim_touch_write(addr, len, b->page); /* as backing-node.c says */
        if (err == -EFAULT)
            err = -ENOMEM;
    }
    if (err == 0)
        err = pmn__verify(addr, len, b->page, node, &misplaced);
    if (err == 0 && misplaced) {
        pmn__log(b->ctx, 3, "user range %p (%zu pages): %llu pages are not on node %d", addr,
                 len / b->page, (unsigned long long)misplaced, node);
        err = PMN_E_MISPLACED;
    }
    if (err == 0) {
        err = pmn_prim_bind(addr, len, node);
        if (err == -EIO)
            err = PMN_E_MISPLACED;
    }
    if (err)
        (void)pmn_prim_policy_default(addr, len);
    return err;
}

int pmn__user_attach(struct pmn_backing *b, void *addr, size_t len, int fd, uint64_t off,
                     unsigned flags)
{
    struct pmn__userrange *u;
    int err;

    if (addr == NULL || len == 0)
        return -EINVAL;
    if (!(flags & PMN_USER_UNVERIFIED) && (err = user_check(b, addr, len)) != 0)
        return err;
    u = calloc(1, sizeof(*u));
    if (u == NULL)
        return -ENOMEM;
    u->base = addr;
    u->len = len;
    u->fd = fd;
    u->off = off;
    u->flags = flags;
    pthread_mutex_init(&u->lock, NULL);
    if (pieces_grow(u) != 0) {
        pthread_mutex_destroy(&u->lock);
        free(u);
        return -ENOMEM;
    }
    u->free[0].off = 0;
    u->free[0].len = len;
    u->nfree = 1;
    b->user = u;
    return 0;
}

void pmn__user_detach(struct pmn_backing *b)
{
    struct pmn__userrange *u = b->user;

    if (u == NULL)
        return;
    pthread_mutex_destroy(&u->lock);
    free(u->free);
    free(u);
    b->user = NULL;
}
