/*
 * backing-dax.c - device-dax: one shared mapping per device, carved into
 * extents.
 *
 * A devdax device is private by construction: its memory is not in the
 * page allocator at all, so nothing can fall back into or out of it.  The
 * device must be mapped MAP_SHARED at an address and length aligned to its
 * own alignment (2 MiB or 1 GiB typically; read from sysfs, never assumed),
 * so we map the whole device once per context and hand out extents that
 * are multiples of that alignment.  Every backing on the same device in a
 * context shares the mapping (the registry lives in the context, guarded by
 * its dax lock); the mapping goes away with the last backing.  The path
 * must name the character device itself: pmn_prim_open_device refuses
 * anything else with -ENODEV (a regular file of the same name would be
 * page-cache memory), and so does pmn__dax_attach for an existing path
 * that names no device-dax device at all; -ENOENT means nothing is there.
 *
 * move_pages cannot see device pages, so a dax region's placement is the
 * device's node by construction and is not re-verified page by page.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "place/backing.h"
#include "os/prim.h"

struct pmn__daxmap {
    struct pmn__daxmap *next;
    char *name;
    int fd;
    void *base;
    uint64_t size, align;
    int node;
    size_t nunits;
    uint8_t *used; /* one byte per align unit: simple and obviously right */
    int refs;
};

static const char *dev_name(const char *dev)
{
    const char *s = strrchr(dev, '/');
    return s ? s + 1 : dev;
}

int pmn__dax_attach(struct pmn_backing *b, const char *dev)
{
    struct pmn_ctx *ctx = b->ctx;
    const struct pmn_dax *d = pmn_dax_get(ctx, dev_name(dev));
    struct pmn__daxmap *m, *fresh = NULL;
    char path[PATH_MAX];
    int err;

    /* A path to something that is there but is no device-dax device the
     * context knows (/etc/passwd, /dev/null) is -ENODEV, as
     * pmn_prim_open_device says of a file that is not a device: "not
     * that", where -ENOENT would say "not there". */
    if (d == NULL)
        return strchr(dev, '/') != NULL && pmn_prim_exists_at(AT_FDCWD, dev) ? -ENODEV : -ENOENT;
    if (d->mode != PMN_DAX_DEVDAX)
        return -EINVAL; /* system-ram devices are nodes: bind to the node */
    if (d->size == PMN_UNKNOWN || d->align == PMN_UNKNOWN || d->size == 0 || d->size % d->align)
        return PMN_E_UNKNOWN;
    /* A path names the character device itself; a bare name means /dev. */
    if (strchr(dev, '/'))
        snprintf(path, sizeof(path), "%s", dev);
    else
        snprintf(path, sizeof(path), "%s", d->path);

    /* Everything a new mapping needs is allocated first: nothing is
     * allocated with dax_lock held (the innermost lock, core/fork.c). */
    err = -ENOMEM;
    fresh = calloc(1, sizeof(*fresh));
    if (fresh == NULL || (fresh->name = strdup(d->name)) == NULL ||
        (fresh->used = calloc((size_t)(d->size / d->align), 1)) == NULL)
        goto out;
    pthread_mutex_lock(&ctx->dax_lock);
    for (m = ctx->daxmaps; m; m = m->next)
        if (strcmp(m->name, d->name) == 0)
            break;
    if (m != NULL) {
        m->refs++;
        b->dax = m;
        b->granule = (size_t)m->align;
        pthread_mutex_unlock(&ctx->dax_lock);
        err = 0;
        goto out; /* the mapping made ahead is not needed */
    }
    m = fresh;
    m->size = d->size;
    m->align = d->align;
    m->nunits = (size_t)(d->size / d->align);
    m->node = d->target_node >= 0 ? d->target_node : d->numa_node;
    err = pmn_prim_open_device(path, &m->fd);
    if (err == 0) {
        err = pmn_prim_map_fd_aligned(m->fd, (size_t)m->size, (size_t)m->align, 0, &m->base);
        if (err)
            close(m->fd);
    }
    if (err) {
        pthread_mutex_unlock(&ctx->dax_lock);
        goto out;
    }
    m->refs = 1;
    m->next = ctx->daxmaps;
    ctx->daxmaps = m;
    b->dax = m;
    b->granule = (size_t)m->align;
    pthread_mutex_unlock(&ctx->dax_lock);
    return 0;
out: /* the mapping made ahead, unused: failed, or the device was mapped already */
    if (fresh) {
        free(fresh->used);
        free(fresh->name);
        free(fresh);
    }
    return err;
}

void pmn__dax_detach(struct pmn_backing *b)
{
    struct pmn_ctx *ctx = b->ctx;
    struct pmn__daxmap *m = b->dax, **pp;

    if (m == NULL)
        return;
    pthread_mutex_lock(&ctx->dax_lock);
    if (--m->refs > 0) {
        pthread_mutex_unlock(&ctx->dax_lock);
        return;
    }
    for (pp = &ctx->daxmaps; *pp; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    pthread_mutex_unlock(&ctx->dax_lock);
    pmn_prim_unmap(m->base, (size_t)m->size);
    close(m->fd);
    free(m->used);
    free(m->name);
    free(m);
}

int pmn__dax_node(const struct pmn_backing *b)
{
    return b->dax ? b->dax->node : -1;
}

/* Claim units [u, u+n) if free; caller holds the dax lock. */
static bool claim(struct pmn__daxmap *m, size_t u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m->used[u + i])
            return false;
    memset(m->used + u, 1, n);
    return true;
}

static int finish(struct pmn_backing *b, struct pmn_region *r, uint64_t offset)
{
    struct pmn__daxmap *m = b->dax;
    uint64_t t0 = pmn_prim_now_ns();
    int err;

    r->dax_offset = offset;
    r->addr = (char *)m->base + offset;
    /* First touch builds the page tables now, so later accesses do not
     * fault; device memory itself is always there. */
    if (b->has_populate) {
        err = pmn_prim_populate_write(r->addr, r->size);
    } else {
        pmn_prim_touch_write(r->addr, r->size, b->page);
        err = 0;
    }
    r->populate_ns = pmn_prim_now_ns() - t0;
    return err;
}

static void release_units(struct pmn_backing *b, uint64_t offset, size_t size)
{
    struct pmn__daxmap *m = b->dax;

    pthread_mutex_lock(&b->ctx->dax_lock);
    memset(m->used + offset / m->align, 0, size / m->align);
    pthread_mutex_unlock(&b->ctx->dax_lock);
}

static int dax_map(struct pmn_backing *b, struct pmn_region *r, int node)
{
    struct pmn__daxmap *m = b->dax;
    size_t n = r->size / (size_t)m->align;
    bool found = false;
    size_t u = 0;
    int err;

    (void)node;
    if (r->size > m->size)
        return -ENOMEM;
    /* An extent aligned to more than the device's unit starts on a unit
     * whose address plus the skew is a multiple of that alignment (the
     * skew is a multiple of the unit: backing.c checked). */
    size_t step = r->align > m->align ? (size_t)(r->align / m->align) : 1;
    size_t first = 0;
    if (step > 1) {
        uintptr_t base = (uintptr_t)m->base;
        uintptr_t want = ((base + r->skew + r->align - 1) & ~(uintptr_t)(r->align - 1)) - r->skew;
        first = (size_t)((want - base) / m->align);
    }
    pthread_mutex_lock(&b->ctx->dax_lock);
    for (u = first; u + n <= m->nunits; u += step) {
        if (claim(m, u, n)) {
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&b->ctx->dax_lock);
    if (!found)
        return -ENOMEM;
    err = finish(b, r, (uint64_t)u * m->align);
    if (err)
        release_units(b, (uint64_t)u * m->align, r->size);
    return err;
}

int pmn__dax_map_at(struct pmn_backing *b, struct pmn_region *r, uint64_t offset)
{
    struct pmn__daxmap *m = b->dax;
    bool ok;
    int err;

    if (offset % m->align || r->size % m->align || offset > m->size || r->size > m->size - offset)
        return -EINVAL;
    pthread_mutex_lock(&b->ctx->dax_lock);
    ok = claim(m, (size_t)(offset / m->align), r->size / (size_t)m->align);
    pthread_mutex_unlock(&b->ctx->dax_lock);
    if (!ok)
        return -EBUSY;
    err = finish(b, r, offset);
    if (err)
        release_units(b, offset, r->size);
    return err;
}

static int dax_unmap(struct pmn_backing *b, struct pmn_region *r)
{
    if (r->addr == NULL)
        return 0;
    release_units(b, r->dax_offset, r->size);
    r->addr = NULL;
    return 0;
}

/* The provider table (backing.h says how it finds the region). */
static int dax_pmap(void *state, const struct pmn_provider_request *req, struct pmn_extent *out)
{
    struct pmn_region *r = pmn__ext_region(out);
    int err = (req->flags & PMN_PROVIDER_AT) ? pmn__dax_map_at(state, r, req->offset)
                                             : dax_map(state, r, req->node);

    if (err == 0)
        pmn__region_extent_at(r, out, 0, r->size);
    return err;
}

static int dax_punmap(void *state, const struct pmn_extent *e)
{
    return dax_unmap(state, pmn__ext_region(e));
}

const struct pmn_provider_ops pmn__prov_dax = {
    .struct_size = sizeof(struct pmn_provider_ops),
    .name = "dax",
    .map = dax_pmap,
    .unmap = dax_punmap,
    .caps = PMN_PROVIDER_CAN_SKEW | PMN_PROVIDER_CAN_AT | PMN_PROVIDER_VERIFIES};

int pmn__dax_fd(const struct pmn_backing *b)
{
    return b->dax != NULL ? b->dax->fd : -1;
}

const char *pmn__dax_name(const struct pmn_backing *b)
{
    return b->dax != NULL ? b->dax->name : NULL;
}
