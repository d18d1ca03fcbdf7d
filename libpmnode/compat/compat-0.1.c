/*
 * compat/compat-0.1.c - the binary interface of libpmnode 0.1, kept for
 * programs linked against it (symbol version PMNODE_0.1).
 *
 * libpmnode 0.2 gave every struct the library fills a leading struct_size
 * (pmnode.h, Conventions), so the calls that fill or read one changed
 * their binary interface; pmn_node_hugepools() also returns int and takes
 * the element size from the array, and pmn_node_zratio() answers -1, not
 * 0, for unknown.  A program built against 0.1 still passes the old
 * layouts and expects the old answers, and its calls are bound to the
 * PMNODE_0.1 versions of these names: this file defines them.  Each calls
 * the current function on a current struct and copies the fields into the
 * 0.1 layout, written out here once; nothing else in the library knows
 * these layouts.  Programs built now bind to the PMNODE_0.2 versions (the
 * defaults, see PMN__SYMVER_DEFAULT beside each current function).
 *
 * Only in libpmnode.so: the preload shim exports none of this.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* ---- the 0.1 layouts (include/pmnode.h of libpmnode 0.1.0) ---- */

struct perf_0_1 {
    uint64_t read_bandwidth, write_bandwidth, read_latency, write_latency;
};

struct hugepool_0_1 {
    uint64_t page_size, total, free, surplus;
};

struct backing_stats_0_1 {
    uint64_t mapped_bytes, peak_bytes, maps, failures, spilled_bytes;
    size_t nnodes;
    struct {
        int node;
        uint64_t bytes;
    } node[PMN_STATS_MAX_NODES];
};

struct where_0_1 {
    uint64_t page_size, pages, not_present, unknown, other;
    size_t nnodes;
    struct {
        int node;
        uint64_t pages;
    } node[PMN_STATS_MAX_NODES];
};

struct alloc_stats_0_1 {
    uint64_t allocated, objects, active, resident, peak, allocs, frees, remote_frees, failures;
    struct backing_stats_0_1 backing;
};

struct ctier_stats_0_1 {
    uint64_t logical_bytes, physical_bytes;
    double ratio;
    uint64_t capacity_bytes, demotions, demoted_pages, promotions, write_promotions,
        write_failures, refusals;
};

/* The 0.1 entry points, defined here only.  Visible so that their
 * versioned names are exported; the plain pmn__ names are not (the map's
 * "local: *"). */
#define COMPAT __attribute__((visibility("default")))
COMPAT double pmn__zratio_0_1(const struct pmn_node *node);
COMPAT int pmn__perf_0_1(const struct pmn_node *node, struct perf_0_1 *out);
COMPAT size_t pmn__hugepools_0_1(const struct pmn_node *node, struct hugepool_0_1 *out,
                                 size_t max);
COMPAT int pmn__backing_stats_0_1(const struct pmn_backing *b, struct backing_stats_0_1 *out);
COMPAT int pmn__where_0_1(const void *addr, size_t len, struct where_0_1 *out);
COMPAT uint64_t pmn__where_pages_on_0_1(const struct where_0_1 *w, int node);
COMPAT int pmn__arena_stats_0_1(struct pmn_arena *a, struct alloc_stats_0_1 *out);
COMPAT int pmn__slab_stats_0_1(struct pmn_slab *s, struct alloc_stats_0_1 *out);
COMPAT int pmn__alloc_stats_json_0_1(const struct alloc_stats_0_1 *st, char *buf, size_t len);
COMPAT int pmn__ctier_stats_0_1(struct pmn_ctier *t, struct ctier_stats_0_1 *out);
COMPAT int pmn__ctier_stats_json_0_1(const struct ctier_stats_0_1 *st, char *buf, size_t len);

/* ---- conversions ---- */

/* The fields 0.1 had, in both directions: a 0.1 struct is the current one
 * without struct_size (and with 0.1's nested backing stats). */
/* clang-format off */
#define BACKING_FIELDS(X) \
    X(mapped_bytes) X(peak_bytes) X(maps) X(failures) X(spilled_bytes) X(nnodes)
#define ALLOC_FIELDS(X) \
    X(allocated)        \
    X(objects) X(active) X(resident) X(peak) X(allocs) X(frees) X(remote_frees) X(failures)
#define CTIER_FIELDS(X)                                                                      \
    X(logical_bytes)                                                                         \
    X(physical_bytes) X(ratio) X(capacity_bytes) X(demotions) X(demoted_pages) X(promotions) \
        X(write_promotions) X(write_failures) X(refusals)
/* clang-format on */
#define COPY_FIELD(f) d->f = s->f;
#define SET_SIZE d->struct_size = sizeof(*d);
#define CONVERTER(fn, dst_t, src_t, FIELDS, ...) \
    static void fn(dst_t *d, const src_t *s)     \
    {                                            \
        FIELDS(COPY_FIELD)                       \
        __VA_ARGS__                              \
    }
#define COPY_NODES                                     \
    for (size_t i = 0; i < PMN_STATS_MAX_NODES; i++) { \
        d->node[i].node = s->node[i].node;             \
        d->node[i].bytes = s->node[i].bytes;           \
    }

CONVERTER(backing_to_0_1, struct backing_stats_0_1, struct pmn_backing_stats, BACKING_FIELDS,
          COPY_NODES)
CONVERTER(backing_from_0_1, struct pmn_backing_stats, struct backing_stats_0_1, BACKING_FIELDS,
          SET_SIZE COPY_NODES)
CONVERTER(alloc_to_0_1, struct alloc_stats_0_1, struct pmn_alloc_stats, ALLOC_FIELDS,
          backing_to_0_1(&d->backing, &s->backing);)
CONVERTER(alloc_from_0_1, struct pmn_alloc_stats, struct alloc_stats_0_1, ALLOC_FIELDS,
          backing_from_0_1(&d->backing, &s->backing);)
#define PERF_FIELDS(X) X(read_bandwidth) X(write_bandwidth) X(read_latency) X(write_latency)
#define WHERE_FIELDS(X) X(page_size) X(pages) X(not_present) X(unknown) X(other) X(nnodes)
#define COPY_PAGES                                     \
    for (size_t i = 0; i < PMN_STATS_MAX_NODES; i++) { \
        d->node[i].node = s->node[i].node;             \
        d->node[i].pages = s->node[i].pages;           \
    }
CONVERTER(perf_to_0_1, struct perf_0_1, struct pmn_perf, PERF_FIELDS)
CONVERTER(where_to_0_1, struct where_0_1, struct pmn_where, WHERE_FIELDS, COPY_PAGES)
CONVERTER(ctier_to_0_1, struct ctier_stats_0_1, struct pmn_ctier_stats, CTIER_FIELDS)
CONVERTER(ctier_from_0_1, struct pmn_ctier_stats, struct ctier_stats_0_1, CTIER_FIELDS)

/* A 0.1 stats call: the current call fills the current struct, which is
 * then written out in 0.1's layout. */
#define STATS_0_1(name, handle_t, old_t, cur_t, convert) \
    int pmn__##name##_0_1(handle_t h, old_t *out)        \
    {                                                    \
        cur_t st = {.struct_size = sizeof(st)};          \
        int err;                                         \
                                                         \
        if (out == NULL)                                 \
            return -EINVAL;                              \
        err = pmn_##name(h, &st);                        \
        if (err == 0)                                    \
            convert(out, &st);                           \
        return err;                                      \
    }                                                    \
    PMN__SYMVER_COMPAT(pmn__##name##_0_1, pmn_##name, "PMNODE_0.1");

/* A 0.1 call that fills a struct: the current call fills the current
 * struct, written out in 0.1's layout unless the arguments were refused. */
#define FILL_0_1(impl, public, old_t, cur_t, convert, params, args) \
    int impl params                                                 \
    {                                                               \
        cur_t cur = {.struct_size = sizeof(cur)};                   \
        int err = out != NULL ? public args : -EINVAL;              \
                                                                    \
        if (err != -EINVAL)                                         \
            convert(out, &cur);                                     \
        return err;                                                 \
    }                                                               \
    PMN__SYMVER_COMPAT(impl, public, "PMNODE_0.1");

/* A 0.1 JSON call: the 0.1 struct is read into the current one, whose
 * struct_size then ends where 0.1's fields did, before @first_new: the
 * text is 0.1's, without the fields added since. */
#define JSON_0_1(name, old_t, cur_t, convert, first_new)          \
    int pmn__##name##_0_1(const old_t *st, char *buf, size_t len) \
    {                                                             \
        cur_t cur = {0};                                          \
                                                                  \
        if (st == NULL)                                           \
            return -EINVAL;                                       \
        convert(&cur, st);                                        \
        cur.struct_size = offsetof(cur_t, first_new);             \
        return pmn_##name(&cur, buf, len);                        \
    }                                                             \
    PMN__SYMVER_COMPAT(pmn__##name##_0_1, pmn_##name, "PMNODE_0.1");

/* ---- discovery ---- */

double pmn__zratio_0_1(const struct pmn_node *node)
{
    double r = pmn_node_zratio(node);

    return r < 0.0 ? 0.0 : r; /* 0.1 said 0 for unknown */
}
PMN__SYMVER_COMPAT(pmn__zratio_0_1, pmn_node_zratio, "PMNODE_0.1");

FILL_0_1(pmn__perf_0_1, pmn_node_perf, struct perf_0_1, struct pmn_perf, perf_to_0_1,
         (const struct pmn_node *node, struct perf_0_1 *out), (node, &cur))

size_t pmn__hugepools_0_1(const struct pmn_node *node, struct hugepool_0_1 *out, size_t max)
{
    int n = pmn_node_hugepools(node, NULL, 0);
    struct pmn_hugepool *pools;
    size_t want;

    if (n <= 0)
        return 0;
    want = (size_t)n < max ? (size_t)n : max;
    if (out == NULL || want == 0)
        return (size_t)n;
    pools = calloc(want, sizeof(*pools));
    if (pools == NULL)
        return 0; /* 0.1 could not fail; "no pools" is the safe answer */
    pools[0].struct_size = sizeof(*pools);
    if (pmn_node_hugepools(node, pools, want) == n) {
        for (size_t i = 0; i < want; i++) {
            out[i].page_size = pools[i].page_size;
            out[i].total = pools[i].total;
            out[i].free = pools[i].free;
            out[i].surplus = pools[i].surplus;
        }
    } else {
        n = 0;
    }
    free(pools);
    return (size_t)n;
}
PMN__SYMVER_COMPAT(pmn__hugepools_0_1, pmn_node_hugepools, "PMNODE_0.1");

/* ---- placement ---- */

STATS_0_1(backing_stats, const struct pmn_backing *, struct backing_stats_0_1,
          struct pmn_backing_stats, backing_to_0_1)

FILL_0_1(pmn__where_0_1, pmn_where, struct where_0_1, struct pmn_where, where_to_0_1,
         (const void *addr, size_t len, struct where_0_1 *out), (addr, len, &cur))

uint64_t pmn__where_pages_on_0_1(const struct where_0_1 *w, int node)
{
    if (w == NULL)
        return 0;
    for (size_t i = 0; i < w->nnodes && i < PMN_STATS_MAX_NODES; i++)
        if (w->node[i].node == node)
            return w->node[i].pages;
    return 0;
}
PMN__SYMVER_COMPAT(pmn__where_pages_on_0_1, pmn_where_pages_on, "PMNODE_0.1");

/* ---- allocators ---- */

STATS_0_1(arena_stats, struct pmn_arena *, struct alloc_stats_0_1, struct pmn_alloc_stats,
          alloc_to_0_1)

STATS_0_1(slab_stats, struct pmn_slab *, struct alloc_stats_0_1, struct pmn_alloc_stats,
          alloc_to_0_1)

/* 0.1's struct ends with the backing: its JSON has no "populated" (0.8
 * prints it for callers whose struct has the field). */
JSON_0_1(alloc_stats_json, struct alloc_stats_0_1, struct pmn_alloc_stats, alloc_from_0_1,
         populated)

/* ---- compressed tier ---- */

STATS_0_1(ctier_stats, struct pmn_ctier *, struct ctier_stats_0_1, struct pmn_ctier_stats,
          ctier_to_0_1)

/* 0.1's struct ends with refusals: its JSON has no "returned_pages" (0.11.0
 * prints it for callers whose struct has the field). */
JSON_0_1(ctier_stats_json, struct ctier_stats_0_1, struct pmn_ctier_stats, ctier_from_0_1,
         returned_pages)

/* ---- a region's fd before 0.4 ----
 *
 * Until 0.3 pmn_region_fd() of a memfd region was a memfd of that region
 * alone, and programs built then map it from offset 0.  Since 0.4 it is the
 * backing's one file (pmnode.h, "Sharing with other processes"), whose
 * offset 0 holds the IPC generation table: such a program would map the
 * table, or another region, and never know.  Its calls bind to this
 * version, which answers -1 ("no fd") for a region that does not start at
 * offset 0 of its file: an mmap that fails with EBADF, never a mapping of
 * other memory.  Rebuilding against 0.4 and mapping at pmn_region_offset()
 * gives the fd back. */
COMPAT int pmn__region_fd_0_1(const struct pmn_region *r);
int pmn__region_fd_0_1(const struct pmn_region *r)
{
    return r != NULL && pmn_region_offset(r) == 0 ? pmn_region_fd(r) : -1;
}
PMN__SYMVER_COMPAT(pmn__region_fd_0_1, pmn_region_fd, "PMNODE_0.1");
