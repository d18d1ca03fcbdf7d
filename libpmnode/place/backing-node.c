/*
 * backing-node.c - node-bound page sources: anonymous memory, memfd and
 * hugetlb.
 *
 * All three follow one order, which is the whole strictness argument
 * (DESIGN.md, the placement contract):
 *
 *   1. map without touching;
 *   2. give the range a policy that prefers the node but may fall back
 *      (MPOL_PREFERRED), and populate it with MADV_POPULATE_WRITE, so a
 *      failure to get a page is an error code from madvise, never a
 *      SIGBUS, and our own faults never invoke the OOM killer when the
 *      node runs out: another process may take the node's memory between
 *      backing.c's free-memory check and the populate, and under
 *      MPOL_BIND the kernel answers that with the OOM killer (measured in
 *      the vm lane: killed in 8 of 8 trials, vm-placement race);
 *   3. verify every page with move_pages; one page elsewhere means the node
 *      was full: the caller releases the whole range, PMN_E_NODE_FULL;
 *   4. bind the range strictly (MPOL_BIND | MPOL_F_STATIC_NODES with
 *      MPOL_MF_STRICT), so later faults stay on the node; the kernel
 *      itself refuses (EIO) if a present page is elsewhere, which is the
 *      check that remains when the caller turned verification off.
 *
 * Kernels older than 5.14 lack MADV_POPULATE_WRITE: we say so in the log
 * and write one byte per page instead, under the same preferred policy.
 * What stays outside the library's power: another process's fault under
 * its own MPOL_BIND may invoke the OOM killer and pick us as the victim
 * (pmn_backing(3), "OOM killer", says what an operator can do).
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
        pmn__log(b->ctx, 2,
                 "kernel lacks MADV_POPULATE_WRITE (Linux >= 5.14): "
                 "populating by touch; a failure there is a signal, not a code");
        pmn_prim_touch_write(addr, len, page);
        return 0;
    }
    err = pmn_prim_populate_write(addr, len);
    /* -EFAULT/-EHWPOISON/-ENOMEM: the machine could not give the pages. */
    return err == -EFAULT ? -ENOMEM : err;
}

int pmn__node_populate(struct pmn_backing *b, struct pmn_region *r, void *addr, size_t len)
{
    size_t page = b->huge_size ? b->huge_size : b->page;
    uint64_t misplaced = 0, t0;
    int err, bind_err;

    err = pmn_prim_prefer(addr, len, r->node);
    if (err == 0)
        err = populate(b, addr, len, page);
    if (err == 0 && b->verify) {
        t0 = pmn_prim_now_ns();
        /* One query per huge page: its head's node is the whole page's. */
        err = pmn__verify(addr, len, page, r->node, &misplaced);
        r->verify_ns += pmn_prim_now_ns() - t0;
        if (err == 0 && misplaced) {
            pmn__log(b->ctx, 3, "node %d ran out: %llu of %zu pages populated elsewhere", r->node,
                     (unsigned long long)misplaced, len / page);
            err = PMN_E_NODE_FULL;
        }
    }
    /* Bound strictly whatever happened: the range keeps no policy that
     * could fall back, and the pages present must all be on the node. */
    bind_err = pmn_prim_bind(addr, len, r->node);
    if (bind_err == -EIO) {
        pmn__log(b->ctx, 3, "node %d ran out: the kernel found pages elsewhere", r->node);
        bind_err = PMN_E_NODE_FULL;
    }
    return err ? err : bind_err;
}

/* A transparent huge page populated before a region's hole could take the
 * hole's memory with it: no THP up to the hole's end. */
void pmn__no_thp_before_hole(struct pmn_backing *b, struct pmn_region *r)
{
    if (b->thp && b->huge_size == 0 && r->hole_len > 0)
        (void)pmn_prim_advise(r->addr, r->hole_off + r->hole_len, MADV_NOHUGEPAGE);
}

static int anon_map(struct pmn_backing *b, struct pmn_region *r, int node)
{
    int err;

    if (r->align > b->granule)
        err = pmn_prim_map_anon_aligned(r->size, b->huge_size, r->align, r->skew, &r->addr);
    else
        err = pmn_prim_map_anon(r->size, b->huge_size, &r->addr);
    if (err)
        return err;
    /* Huge pages only when asked: with THP "always", the kernel would
     * otherwise migrate and account this memory in 2 MiB units. */
    if (b->huge_size == 0)
        (void)pmn_prim_advise(r->addr, r->size, b->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    pmn__no_thp_before_hole(b, r);
    r->node = node;
    err = r->lazy ? pmn_prim_bind(r->addr, r->size, node)
                  : pmn__node_populate(b, r, r->addr, r->size);
    if (err) {
        pmn_prim_unmap(r->addr, r->size);
        r->addr = NULL;
    }
    return err;
}

static int anon_unmap(struct pmn_backing *b, struct pmn_region *r)
{
    (void)b;
    return r->addr ? pmn_prim_unmap(r->addr, r->size) : 0;
}

/* Every memfd backing is shareable (0.4): its regions are ranges of the
 * backing's one file (shared.c). */
static int memfd_map(struct pmn_backing *b, struct pmn_region *r, int node)
{
    return pmn__shfile_map(b, r, node);
}

static int memfd_unmap(struct pmn_backing *b, struct pmn_region *r)
{
    return pmn__shfile_unmap(b, r);
}

/* ---- the provider tables (backing.h says how they find the region) ---- */

static int node_map(void *state, const struct pmn_provider_request *req, struct pmn_extent *out,
                    int (*body)(struct pmn_backing *, struct pmn_region *, int))
{
    struct pmn_region *r = pmn__ext_region(out);
    int err = body(state, r, req->node);

    if (err == 0)
        pmn__region_extent_at(r, out, 0, r->size);
    return err;
}

static int anon_pmap(void *state, const struct pmn_provider_request *req, struct pmn_extent *out)
{
    return node_map(state, req, out, anon_map);
}

static int anon_punmap(void *state, const struct pmn_extent *e)
{
    return anon_unmap(state, pmn__ext_region(e));
}

static int memfd_pmap(void *state, const struct pmn_provider_request *req, struct pmn_extent *out)
{
    return node_map(state, req, out, memfd_map);
}

static int memfd_punmap(void *state, const struct pmn_extent *e)
{
    return memfd_unmap(state, pmn__ext_region(e));
}

/* A lazy region's piece: populate, verify and bind it; on failure give
 * back what it left (shared memory keeps its pages until they are removed
 * from the file). */
static int node_ppopulate(void *state, const struct pmn_extent *e, size_t off, size_t len)
{
    struct pmn_region *r = pmn__ext_region(e);
    char *at = (char *)e->addr + off;
    int err = pmn__node_populate(state, r, at, len);

    if (err)
        (void)pmn_prim_advise(at, len, r->fd >= 0 ? MADV_REMOVE : MADV_DONTNEED);
    return err;
}

#define NODE_CAPS (PMN_PROVIDER_CAN_SKEW | PMN_PROVIDER_CAN_LAZY | PMN_PROVIDER_VERIFIES)
const struct pmn_provider_ops pmn__prov_anon = {.struct_size = sizeof(struct pmn_provider_ops),
                                                .name = "anon",
                                                .map = anon_pmap,
                                                .unmap = anon_punmap,
                                                .populate = node_ppopulate,
                                                .caps = NODE_CAPS};
const struct pmn_provider_ops pmn__prov_hugetlb = {.struct_size = sizeof(struct pmn_provider_ops),
                                                   .name = "hugetlb",
                                                   .map = anon_pmap,
                                                   .unmap = anon_punmap,
                                                   .populate = node_ppopulate,
                                                   .caps = NODE_CAPS};
const struct pmn_provider_ops pmn__prov_memfd = {.struct_size = sizeof(struct pmn_provider_ops),
                                                 .name = "memfd",
                                                 .map = memfd_pmap,
                                                 .unmap = memfd_punmap,
                                                 .populate = node_ppopulate,
                                                 .caps = NODE_CAPS};
