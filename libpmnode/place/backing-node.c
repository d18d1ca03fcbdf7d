/*
 * backing-node.c - node-bound page sources: anonymous memory, memfd and
 * hugetlb.
 *
 * All three follow one order, which is the whole strictness argument:
 * map without touching, mbind(MPOL_BIND | MPOL_F_STATIC_NODES) the range
 * before any page exists, then populate with MADV_POPULATE_WRITE so that a
 * failure to get a page comes back as an error code from madvise instead
 * of a SIGBUS or a fault served from another node.  Kernels older than
 * 5.14 lack MADV_POPULATE_WRITE: we say so in the log and write one byte
 * per page instead; MPOL_BIND still forbids other nodes, and verification
 * still checks every page, but exhaustion there means the OOM killer
 * rather than an error, which the free-memory check in backing.c guards.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "place/backing.h"
#include "os/prim.h"

static int populate(struct pmn_backing *b, void *addr, size_t len, size_t page)
{
    int err;

    if (!b->has_populate) {
        pmn__log(b->ctx, 2, "kernel lacks MADV_POPULATE_WRITE (Linux >= 5.14): "
                            "populating by touch; exhaustion may invoke the OOM killer");
        pmn_prim_touch_write(addr, len, page);
        return 0;
    }
    err = pmn_prim_populate_write(addr, len);
    /* -EFAULT/-EHWPOISON/-ENOMEM: the node could not give the pages. */
    return err == -EFAULT ? -ENOMEM : err;
}

static int anon_map(struct pmn_backing *b, struct pmn_region *r, int node)
{
    int err;

    if (r->align > b->granule)
        err = pmn_prim_map_anon_aligned(r->size, b->huge_size, r->align, &r->addr);
    else
        err = pmn_prim_map_anon(r->size, b->huge_size, &r->addr);
    if (err)
        return err;
    /* Huge pages only when asked: with THP "always", the kernel would
     * otherwise migrate and account this memory in 2 MiB units. */
    if (b->huge_size == 0)
        (void)pmn_prim_advise(r->addr, r->size, b->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    err = pmn_prim_bind(r->addr, r->size, node);
    if (err == 0 && !r->lazy)
        err = populate(b, r->addr, r->size, b->huge_size ? b->huge_size : b->page);
    if (err) {
        pmn_prim_unmap(r->addr, r->size);
        r->addr = NULL;
    }
    return err;
}

int pmn__node_populate(struct pmn_backing *b, void *addr, size_t len)
{
    return populate(b, addr, len, b->huge_size ? b->huge_size : b->page);
}

static int anon_unmap(struct pmn_backing *b, struct pmn_region *r)
{
    (void)b;
    return r->addr ? pmn_prim_unmap(r->addr, r->size) : 0;
}

static int memfd_map(struct pmn_backing *b, struct pmn_region *r, int node)
{
    int err;

    err = pmn_prim_memfd("pmnode", r->size, &r->fd);
    if (err)
        return err;
    if (r->align > b->page)
        err = pmn_prim_map_fd_aligned(r->fd, r->size, r->align, &r->addr);
    else
        err = pmn_prim_map_fd(r->fd, r->size, 0, &r->addr);
    if (err)
        goto fail_fd;
    (void)pmn_prim_advise(r->addr, r->size, b->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    /* On a shared mapping mbind sets the shmem object's own policy, so
     * pages are placed the same whoever faults them. */
    err = pmn_prim_bind(r->addr, r->size, node);
    if (err == 0 && !r->lazy)
        err = populate(b, r->addr, r->size, b->page);
    if (err == 0)
        return 0;
    pmn_prim_unmap(r->addr, r->size);
    r->addr = NULL;
fail_fd:
    close(r->fd);
    r->fd = -1;
    return err;
}

static int memfd_unmap(struct pmn_backing *b, struct pmn_region *r)
{
    int err = anon_unmap(b, r);

    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    return err;
}

const struct pmn__backing_ops pmn__ops_anon = {.map = anon_map, .unmap = anon_unmap};
const struct pmn__backing_ops pmn__ops_hugetlb = {.map = anon_map, .unmap = anon_unmap};
const struct pmn__backing_ops pmn__ops_memfd = {.map = memfd_map, .unmap = memfd_unmap};
