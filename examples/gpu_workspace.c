/*
 * gpu_workspace.c - per-step scratch memory of a GPU-style job, in an arena
 * on a gpu or cxl node with an explicit spill list.
 *
 * A training or inference step needs a workspace: a few large buffers
 * (activations, gradients) and many small ones (descriptors, reductions),
 * all dead when the step ends.  The program takes them from one arena and
 * drops them all with pmn_arena_reset() after each step.  The arena's
 * backing has an ordered spill list: each extent lands whole on the first
 * node of the list that can take it, and on no node outside the list.
 * When no node of the list has room the allocation fails and the program
 * says so; memory never lands somewhere nobody named.
 *
 * The arena keeps its memory across steps (PMN_PURGE_KEEP): reset drops
 * the objects, not the extents, so from step 2 on a step maps, populates
 * and verifies nothing; each step prints how many extents it mapped.
 *
 * After each step it checks where every buffer's pages are (pmn_where)
 * and prints them per node; at the end it prints the arena's counters,
 * including the bytes that spilled past the first node, as JSON.
 *
 * usage: gpu_workspace [--spill N[,N...]] [--mib N] [--steps N] [--headroom MIB]
 *   --spill LIST    nodes in order (default: every gpu node, then every cxl
 *                   node, by id); put a DRAM node last to let the job spill
 *                   into it instead of failing
 *   --mib N         workspace per step in MiB (default 64)
 *   --steps N       steps (default 4)
 *   --headroom MIB  free memory to leave on each node (default: the
 *                   library's, the larger of 64 MiB and 1% of the node)
 * Exit status: 0 done, 1 a call failed, the workspace did not fit or a
 * page was off the list, 2 bad usage or no gpu/cxl node.
 *
 * Build against an installed libpmnode:
 *     cc gpu_workspace.c $(pkg-config --cflags --libs pmnode) -o gpu_workspace
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmnode.h>

#define MAX_SPILL 64
#define SMALL_PER_STEP 64 /* small buffers per step, 4 KiB each */
#define LARGE_PER_STEP 8  /* the rest of --mib, in equal large buffers */

struct opts {
    int spill[MAX_SPILL];
    size_t nspill;
    long mib, steps, headroom_mib;
};

static int parse_long(const char *s, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(s, &end, 10);
    return (*s && !*end && !errno && *out >= 0) ? 0 : -1;
}

/* "2,1,0": distinct node ids. */
static int parse_list(const char *s, struct opts *o)
{
    o->nspill = 0;
    for (;;) {
        char *end;
        long v;
        if (*s < '0' || *s > '9' || o->nspill == MAX_SPILL)
            return -1;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || v > 65535)
            return -1;
        for (size_t i = 0; i < o->nspill; i++)
            if (o->spill[i] == v)
                return -1;
        o->spill[o->nspill++] = (int)v;
        if (*end == '\0')
            return 0;
        if (*end != ',')
            return -1;
        s = end + 1;
    }
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[++i] : NULL;
        int bad = v == NULL;
        if (!bad && !strcmp(a, "--spill"))
            bad = parse_list(v, o) < 0;
        else if (!bad && !strcmp(a, "--mib"))
            bad = parse_long(v, &o->mib) < 0 || o->mib < 1 || o->mib > (1L << 20);
        else if (!bad && !strcmp(a, "--steps"))
            bad = parse_long(v, &o->steps) < 0 || o->steps < 1;
        else if (!bad && !strcmp(a, "--headroom"))
            bad = parse_long(v, &o->headroom_mib) < 0 || o->headroom_mib > (1L << 30);
        else
            bad = 1;
        if (bad) {
            fprintf(stderr, "usage: gpu_workspace [--spill N[,N...]] [--mib N (1 to 1048576)] "
                            "[--steps N] [--headroom MIB]\n");
            return -1;
        }
    }
    return 0;
}

/* Every gpu node, then every cxl node. */
static void default_spill(const struct pmn_ctx *ctx, struct opts *o)
{
    static const enum pmn_kind kinds[] = {PMN_KIND_GPU, PMN_KIND_CXL};

    for (size_t k = 0; k < 2; k++) {
        int ids[MAX_SPILL];
        size_t n = pmn_nodes_of_kind(ctx, kinds[k], ids, MAX_SPILL);
        for (size_t i = 0; i < n && i < MAX_SPILL && o->nspill < MAX_SPILL; i++)
            o->spill[o->nspill++] = ids[i];
    }
}

static void print_list(const struct pmn_ctx *ctx, const struct opts *o)
{
    printf("spill list:");
    for (size_t i = 0; i < o->nspill; i++) {
        const struct pmn_node *n = pmn_node_get(ctx, o->spill[i]);
        printf("%s node %d (%s)", i ? " ->" : "", o->spill[i],
               n ? pmn_kind_name(pmn_node_kind(n)) : "absent");
    }
    printf("\n");
}

/* Pages of [p, p + len) per spill-list position; pages anywhere else go
 * to *off. */
static int count_pages(const void *p, size_t len, const struct opts *o, uint64_t *per,
                       uint64_t *off)
{
    struct pmn_where w = {.struct_size = sizeof(w)};
    uint64_t listed = 0;
    int err = pmn_where(p, len, &w);

    if (err < 0)
        return err;
    for (size_t i = 0; i < o->nspill; i++) {
        uint64_t n = pmn_where_pages_on(&w, o->spill[i]);
        per[i] += n;
        listed += n;
    }
    *off += w.pages - w.not_present - w.unknown - listed;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {.nspill = 0, .mib = 64, .steps = 4, .headroom_mib = -1};
    struct pmn_ctx *ctx = NULL;
    struct pmn_backing_params *bp = NULL;
    struct pmn_backing *b = NULL;
    struct pmn_arena *a = NULL;
    /* Keep every extent across resets: the next step reuses them. */
    struct pmn_arena_opts ao = {.struct_size = sizeof(ao), .purge = PMN_PURGE_KEEP, .retain = 2};
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};
    void *small[SMALL_PER_STEP], *large[LARGE_PER_STEP];
    size_t large_size, small_size = 4096;
    int err, rc = 1;
    char json[4096];

    if (parse_args(argc, argv, &o) < 0)
        return 2;
    if ((err = pmn_ctx_new(&ctx)) < 0)
        goto fail;
    if (o.nspill == 0)
        default_spill(ctx, &o);
    if (o.nspill == 0) {
        printf("gpu_workspace: no gpu or cxl node on this machine\n"
               "(name nodes with --spill N[,N...]; any memory node works for a try-out)\n");
        rc = 2;
        goto out;
    }
    print_list(ctx, &o);

    if ((err = pmn_backing_params_new(&bp)) < 0 ||
        (err = pmn_backing_params_set_spill(bp, o.spill, o.nspill)) < 0 ||
        (o.headroom_mib >= 0 &&
         (err = pmn_backing_params_set_headroom(bp, (uint64_t)o.headroom_mib << 20)) < 0) ||
        (err = pmn_backing_new(ctx, bp, &b)) < 0 || (err = pmn_arena_new(b, &ao, &a)) < 0)
        goto fail;
    large_size = (((size_t)o.mib << 20) - SMALL_PER_STEP * small_size) / LARGE_PER_STEP;
    printf("workspace per step: %d x %zu KiB + %d x %zu KiB\n", LARGE_PER_STEP, large_size >> 10,
           SMALL_PER_STEP, small_size >> 10);

    for (long step = 1; step <= o.steps; step++) {
        uint64_t per[MAX_SPILL] = {0}, off = 0, maps0, pop0;
        int i;

        if ((err = pmn_arena_stats(a, &st)) < 0)
            goto fail;
        maps0 = st.backing.region_maps;
        pop0 = st.populated;

        /* Large buffers first, as a framework sizes its activations. */
        for (i = 0; i < LARGE_PER_STEP; i++) {
            if ((large[i] = pmn_arena_aligned_alloc(a, 4096, large_size)) == NULL) {
                printf("step %ld: buffer %d of %zu KiB does not fit on any listed node (%s: %s)\n",
                       step, i, large_size >> 10, strerror(errno), pmn_err_name(pmn_last_error()));
                printf("(add a node to --spill, or ask for less with --mib)\n");
                goto stats;
            }
            /* The step's kernels would fill it; one byte per 4 KiB stands in. */
            for (size_t off = 0; off < large_size; off += 4096)
                ((unsigned char *)large[i])[off] = (unsigned char)(step + i);
        }
        for (i = 0; i < SMALL_PER_STEP; i++) {
            if ((small[i] = pmn_arena_malloc(a, small_size)) == NULL) {
                printf("step %ld: small buffer %d does not fit (%s)\n", step, i, strerror(errno));
                goto stats;
            }
            memset(small[i], 0, small_size);
        }
        /* The step's results: every buffer still holds what was written. */
        for (i = 0; i < LARGE_PER_STEP; i++) {
            const unsigned char *p = large[i];
            for (size_t off = 0; off < large_size; off += 4096)
                if (p[off] != (unsigned char)(step + i)) {
                    fprintf(stderr, "gpu_workspace: buffer %d lost its contents\n", i);
                    goto out;
                }
            if ((err = count_pages(large[i], large_size, &o, per, &off)) < 0)
                goto fail;
        }
        for (i = 0; i < SMALL_PER_STEP; i++)
            if ((err = count_pages(small[i], small_size, &o, per, &off)) < 0)
                goto fail;

        printf("step %ld:", step);
        for (size_t k = 0; k < o.nspill; k++)
            if (per[k])
                printf(" node %d: %" PRIu64 " pages%s;", o.spill[k], per[k],
                       k ? " (spilled)" : "");
        printf(" %" PRIu64 " pages off the list\n", off);
        if (off) {
            fprintf(stderr, "gpu_workspace: pages outside the spill list\n");
            goto out;
        }
        if ((err = pmn_arena_stats(a, &st)) < 0)
            goto fail;
        printf("step %ld: %" PRIu64 " extents mapped, %" PRIu64 " MiB populated%s\n", step,
               st.backing.region_maps - maps0, (st.populated - pop0) >> 20,
               step > 1 && st.backing.region_maps == maps0 ? " (memory kept from the last step)"
                                                           : "");
        if (step < o.steps)
            pmn_arena_reset(a); /* the whole workspace dies with the step */
    }
    rc = 0;

stats:
    if ((err = pmn_arena_stats(a, &st)) < 0 ||
        (err = pmn_alloc_stats_json(&st, json, sizeof(json))) < 0)
        goto fail;
    printf("arena: %" PRIu64 " objects live, %" PRIu64 " MiB resident, peak %" PRIu64
           " MiB, %" PRIu64 " allocation failures\n",
           st.objects, st.resident >> 20, st.peak >> 20, st.failures);
    printf("backing:");
    for (size_t k = 0; k < st.backing.nnodes; k++)
        printf(" %" PRIu64 " MiB on node %d;", st.backing.node[k].bytes >> 20,
               st.backing.node[k].node);
    printf(" %" PRIu64 " MiB spilled past node %d\n", st.backing.spilled_bytes >> 20, o.spill[0]);
    printf("%s\n", json);
    goto out;
fail:
    fprintf(stderr, "gpu_workspace: %s (%s)\n", pmn_strerror(err), pmn_err_name(err));
    rc = 1;
out:
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    pmn_backing_params_free(bp);
    pmn_ctx_unref(ctx);
    return rc;
}
