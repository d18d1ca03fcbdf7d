/*
 * memavail.c - how much memory a node can give now: a per-node estimate
 * in the spirit of the kernel's MemAvailable (pmn_node_read_available).
 *
 * A node's MemFree misleads the free-memory check twice.  It counts pages
 * below the zone watermarks, which the page allocator keeps back: an
 * allocation that prefers the node takes another node's pages first (or
 * waits for reclaim), so a check that passed on MemFree ends in misplaced
 * pages.  And it ignores page cache and reclaimable slab that the kernel
 * frees for an allocation, so the check refuses memory that is there.
 * The estimate for node N, as the kernel's si_mem_available() computes it
 * for the whole machine:
 *
 *     MemFree                                   (nodeN/meminfo)
 *   - reserve  sum over N's zones of min(managed, high watermark +
 *              largest lowmem protection)      (/proc/zoneinfo)
 *   + cache    Active(file) + Inactive(file), less the smaller of half of
 *              it and N's low watermarks (not all cache can go at once)
 *   + slab     KReclaimable (SReclaimable before Linux 4.20), likewise
 *
 * never below 0.  Without /proc/zoneinfo under the context's root (older
 * fixture trees, a /proc we cannot read) or without the node in it, the
 * estimate is MemFree alone, as the check was before.
 *
 * Free pages on the per-CPU lists (zoneinfo's pagesets, "count:") are left
 * out, as MemFree leaves them out.  They are free, but the allocator's
 * watermark test reads MemFree before it takes one, so a populate under
 * MPOL_PREFERRED falls back to another node while MemFree is below the
 * watermarks however many sit on the lists; and other CPUs' lists serve
 * this CPU only after a drain.  Counting them was tried (6.12 guest, 36
 * MiB of a 500 MiB node on the lists): the check then passed 8 MiB maps
 * that failed, with 43 MiB "available".  The cost of leaving them out is
 * that the figure rises when the kernel drains the lists into MemFree (up
 * to 64 MiB from one CPU there); tests/vm/guest/vm-pcp.h is how the tests
 * live with that.
 *
 * Zone watermarks change only with sysctls and memory hotplug, while
 * zoneinfo grows with the CPU count (a per-cpu block per zone), so a
 * context parses it about once a second (ctx->wm, under ctx->wm_lock; the
 * read and the parse outside it, by one caller: node_wm); meminfo is read
 * every call.
 */
#include <errno.h>
#include <stdlib.h>

#include "discover/topology.h"
#include "os/prim.h"

#define ZONEINFO "proc/zoneinfo"
#define ZONEINFO_MAX ((size_t)16 << 20) /* thousands of CPUs' pagesets */
#define WM_TTL_NS 1000000000ull
/* A claimed refresh older than this is taken over: its thread was
 * cancelled, or stopped, inside the read. */
#define WM_CLAIM_NS 10000000000ull

/* Read and parse zoneinfo into a new table (*@out, *@n; NULL and 0 when it
 * cannot say, which leaves the check at MemFree).  No lock held: it reads
 * a file that grows with the CPU count and allocates, which the watermark
 * lock must never cover (the innermost lock, core/fork.c). */
static void wm_read(const struct pmn_ctx *ctx, struct pmn__zonewm **out, size_t *n)
{
    struct pmn__zonewm *w;
    size_t len;
    char *text;
    int err;

    *out = NULL;
    *n = 0;
    err = pmn__sysfs_read_max(&ctx->fs, ZONEINFO, ZONEINFO_MAX, &text, &len);
    if (err) {
        if (err != -ENOENT)
            pmn__log(ctx, 4, "%s: %s: available memory is MemFree", ZONEINFO, pmn_strerror(err));
        return;
    }
    w = malloc((ctx->nnodes ? ctx->nnodes : 1) * sizeof(*w));
    if (w == NULL) {
        free(text);
        return;
    }
    err = pmn__parse_zoneinfo(text, len, w, ctx->nnodes, n);
    free(text);
    if (err) {
        pmn__log(ctx, 3, "%s: %s: available memory is MemFree", ZONEINFO,
                 err == -ERANGE ? "more nodes than discovered, or out of range" : "malformed");
        free(w);
        *n = 0;
        return;
    }
    *out = w;
}

/* Node @id's entry of the context's table (wm_lock held). */
static int wm_find(const struct pmn_ctx *ctx, int id, struct pmn__zonewm *out)
{
    for (size_t i = 0; i < ctx->nwm; i++)
        if (ctx->wm[i].node == id) {
            *out = ctx->wm[i];
            return 0;
        }
    return -ENOENT;
}

/* Node @id's watermarks (pages): 0, or -ENOENT when zoneinfo does not say.
 * A table older than WM_TTL_NS is read again outside the lock by the one
 * caller that claims the refresh (wm_refreshing); callers meanwhile answer
 * from the table there is, a second old at most (watermarks change with
 * sysctls and hotplug, not by the second), without waiting or reading
 * zoneinfo too, which on a machine with many CPUs runs to megabytes.
 * Only before the first table exists do they all read, and a claim older
 * than WM_CLAIM_NS is taken over (a thread cancelled inside the read would
 * otherwise leave the table stale for good).  A newer table installed
 * meanwhile is not replaced by an older reading. */
static int node_wm(const struct pmn_ctx *cctx, int id, struct pmn__zonewm *out)
{
    /* The one mutable part of a context here, guarded by its lock. */
    struct pmn_ctx *ctx = (struct pmn_ctx *)cctx;
    uint64_t now = pmn_prim_now_ns();
    struct pmn__zonewm *w;
    size_t n;
    int err;

    pthread_mutex_lock(&ctx->wm_lock);
    /* Signed: a table or a claim another thread stamped after our clock
     * read is younger than we are, not 584 years old. */
    if (ctx->wm_read &&
        ((int64_t)(now - ctx->wm_at_ns) < (int64_t)WM_TTL_NS ||
         (ctx->wm_refreshing && (int64_t)(now - ctx->wm_claim_ns) < (int64_t)WM_CLAIM_NS))) {
        err = wm_find(ctx, id, out);
        pthread_mutex_unlock(&ctx->wm_lock);
        return err;
    }
    ctx->wm_refreshing = true;
    ctx->wm_claim_ns = now;
    pthread_mutex_unlock(&ctx->wm_lock);

    wm_read(ctx, &w, &n);
    pthread_mutex_lock(&ctx->wm_lock);
    if (!ctx->wm_read || (int64_t)(now - ctx->wm_at_ns) >= 0) {
        struct pmn__zonewm *old = ctx->wm;

        ctx->wm = w;
        ctx->nwm = n;
        ctx->wm_at_ns = now;
        ctx->wm_read = true;
        w = old; /* freed below, outside the lock */
    }
    ctx->wm_refreshing = false;
    err = wm_find(ctx, id, out);
    pthread_mutex_unlock(&ctx->wm_lock);
    free(w);
    return err;
}

/* A meminfo field the kernel did not print counts as nothing. */
static uint64_t known(uint64_t v)
{
    return v == PMN_UNKNOWN ? 0 : v;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t pages_to_bytes(uint64_t pages)
{
    uint64_t page = pmn_prim_page_size();

    return pages > UINT64_MAX / page ? UINT64_MAX : pages * page;
}

/* What the kernel can free of @bytes of cache or slab for an allocation:
 * all but the smaller of half of it and the low watermarks. */
static uint64_t reclaimable(uint64_t bytes, uint64_t low)
{
    return bytes - (bytes / 2 < low ? bytes / 2 : low);
}

int pmn_node_read_available(const struct pmn_ctx *ctx, int id, uint64_t *bytes)
{
    uint64_t reserve, low, cache, slab, sum;
    struct pmn__meminfo mi;
    struct pmn__zonewm wm;
    int err;

    if (ctx == NULL || bytes == NULL)
        return -EINVAL;
    err = pmn__node_meminfo(ctx, id, &mi);
    if (err)
        return err;
    if (node_wm(ctx, id, &wm) != 0) {
        *bytes = mi.free; /* the kernel does not say what it keeps back */
        return 0;
    }
    reserve = pages_to_bytes(wm.reserve);
    low = pages_to_bytes(wm.low);
    cache = add_sat(known(mi.active_file), known(mi.inactive_file));
    slab = known(mi.kreclaimable != PMN_UNKNOWN ? mi.kreclaimable : mi.sreclaimable);
    sum = add_sat(mi.free, add_sat(reclaimable(cache, low), reclaimable(slab, low)));
    *bytes = sum > reserve ? sum - reserve : 0;
    return 0;
}
