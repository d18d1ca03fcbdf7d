/*
 * list.c - pmnode list: the nodes, dax devices and CXL regions of a
 * machine, as a table or as the JSON object of DESIGN.md.
 *
 * A thin client of the public API: it never reads /sys itself, so what it
 * prints is exactly what a linked program would see.  The devices near each
 * node (pmn_devices(): network interfaces, GPUs, NVMe, accelerators, CXL
 * memory devices) are read once per run; in JSON they and each node's
 * available_bytes are members added after the contract's own, as the
 * contract allows (it only ever grows).  So are, since 0.8, what the
 * library knows of each node's memory beyond its size: HMAT access
 * performance, huge page pools, compression ratio and memory-side caches
 * (node_extras_json; units in the keys' names, null for unknown).  The
 * table shows a compact column for each of these only when some node has
 * it, so an ordinary machine's table is as before; --wide adds a detail
 * table per fact.  Problems the library
 * met during discovery go to stderr only, after the output, so stdout stays
 * machine-readable in --json mode.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"

/* Node ids of the context in kernel list form ("0-3,8"); malloc'd. */
static char *node_list_string(const struct pmn_ctx *ctx)
{
    size_t cap = pmn_node_count(ctx) * 24 + 1, len = 0;
    char *s = malloc(cap);
    const struct pmn_node *node = pmn_node_first(ctx);

    if (s == NULL)
        return NULL;
    s[0] = '\0';
    while (node != NULL) {
        int first = pmn_node_id(node), last = first;
        const struct pmn_node *next = pmn_node_next(node);
        while (next != NULL && pmn_node_id(next) == last + 1) {
            last = pmn_node_id(next);
            next = pmn_node_next(next);
        }
        int n;
        if (last > first)
            n = snprintf(s + len, cap - len, "%s%d-%d", len ? "," : "", first, last);
        else
            n = snprintf(s + len, cap - len, "%s%d", len ? "," : "", first);
        if (n < 0 || (size_t)n >= cap - len)
            break;
        len += (size_t)n;
        node = next;
    }
    return s;
}

/* The devices of the machine (pmn_devices()), malloc'd; NULL with *n 0
 * when there are none or they cannot be read (a listing without devices
 * is still a listing). */
static struct pmn_device *read_devices(const struct pmn_ctx *ctx, size_t *n)
{
    struct pmn_device *v;
    int got = pmn_devices(ctx, NULL, 0);
    size_t room;

    *n = 0;
    if (got <= 0)
        return NULL;
    /* Room for a few more, in case one appears between the two calls. */
    room = (size_t)got + 8;
    if ((v = calloc(room, sizeof(*v))) == NULL)
        return NULL;
    v[0].struct_size = sizeof(*v);
    got = pmn_devices(ctx, v, room);
    if (got <= 0) {
        free(v);
        return NULL;
    }
    *n = (size_t)got < room ? (size_t)got : room;
    return v;
}

/* ---- what the library knows of a node's memory beyond its size (0.8) ---- */

/* A node's huge page pools and memory-side caches, read once. */
struct node_extras {
    struct pmn_perf perf;
    bool has_perf;
    double zratio; /* -1 unknown */
    struct pmn_hugepool pools[8];
    size_t npools;
    struct pmn_side_cache caches[8];
    size_t ncaches;
};

static void node_extras(const struct pmn_node *node, struct node_extras *x)
{
    int n;

    memset(x, 0, sizeof(*x));
    x->perf.struct_size = sizeof(x->perf);
    x->has_perf = pmn_node_perf(node, &x->perf) == 0;
    x->zratio = pmn_node_zratio(node);
    x->pools[0].struct_size = sizeof(x->pools[0]);
    n = pmn_node_hugepools(node, x->pools, sizeof(x->pools) / sizeof(x->pools[0]));
    x->npools = n < 0 ? 0 : (size_t)n;
    if (x->npools > sizeof(x->pools) / sizeof(x->pools[0]))
        x->npools = sizeof(x->pools) / sizeof(x->pools[0]);
    x->caches[0].struct_size = sizeof(x->caches[0]);
    n = pmn_node_side_caches(node, x->caches, sizeof(x->caches) / sizeof(x->caches[0]));
    x->ncaches = n < 0 ? 0 : (size_t)n;
    if (x->ncaches > sizeof(x->caches) / sizeof(x->caches[0]))
        x->ncaches = sizeof(x->caches) / sizeof(x->caches[0]);
}

/* The kernel's numbering (pmnode.h), as the JSON and the table name it. */
static const char *indexing_name(int v)
{
    switch (v) {
    case -1: return NULL;
    case PMN_CACHE_DIRECT_MAPPED: return "direct-mapped";
    case PMN_CACHE_INDEXED: return "indexed";
    default: return "other";
    }
}

static const char *write_policy_name(int v)
{
    switch (v) {
    case -1: return NULL;
    case PMN_CACHE_WRITE_BACK: return "write-back";
    case PMN_CACHE_WRITE_THROUGH: return "write-through";
    default: return "other";
    }
}

/* Members after the 0.3 additions: never renamed, only added to. */
static void node_extras_json(struct jw *w, const struct node_extras *x)
{
    jw_u64_or_null(w, "read_bandwidth_mbps", x->perf.read_bandwidth);
    jw_u64_or_null(w, "write_bandwidth_mbps", x->perf.write_bandwidth);
    jw_u64_or_null(w, "read_latency_ns", x->perf.read_latency);
    jw_u64_or_null(w, "write_latency_ns", x->perf.write_latency);
    jw_open(w, "hugepages", '[');
    for (size_t i = 0; i < x->npools; i++) {
        jw_open(w, NULL, '{');
        jw_u64_or_null(w, "page_size_bytes", x->pools[i].page_size);
        jw_u64_or_null(w, "total", x->pools[i].total);
        jw_u64_or_null(w, "free", x->pools[i].free);
        jw_u64_or_null(w, "surplus", x->pools[i].surplus);
        jw_close(w, '}');
    }
    jw_close(w, ']');
    if (x->zratio > 0.0)
        jw_real(w, "zratio", x->zratio);
    else
        jw_null(w, "zratio");
    jw_open(w, "memory_side_caches", '[');
    for (size_t i = 0; i < x->ncaches; i++) {
        jw_open(w, NULL, '{');
        jw_int(w, "level", x->caches[i].level);
        jw_u64_or_null(w, "size_bytes", x->caches[i].size);
        jw_u64_or_null(w, "line_size_bytes", x->caches[i].line_size);
        jw_string(w, "indexing", indexing_name(x->caches[i].indexing));
        jw_string(w, "write_policy", write_policy_name(x->caches[i].write_policy));
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

/* "2M", "1G", "64K": a huge page size in a narrow cell. */
static const char *fmt_page_size(uint64_t v, char *buf, size_t n)
{
    static const char unit[] = "KMGTPE";
    size_t u = 0;

    if (v == PMN_UNKNOWN || v < 1024 || v % 1024 != 0)
        return fmt_bytes(v, buf, n);
    v >>= 10;
    while (v >= 1024 && v % 1024 == 0 && u + 1 < sizeof(unit) - 1) {
        v >>= 10;
        u++;
    }
    snprintf(buf, n, "%" PRIu64 "%c", v, unit[u]);
    return buf;
}

static const char *fmt_u64_unit(uint64_t v, const char *unit, char *buf, size_t n)
{
    if (v == PMN_UNKNOWN)
        return "-";
    snprintf(buf, n, "%" PRIu64 " %s", v, unit);
    return buf;
}

static const char *fmt_count(uint64_t v, char *buf, size_t n)
{
    if (v == PMN_UNKNOWN)
        return "-";
    snprintf(buf, n, "%" PRIu64, v);
    return buf;
}

/* The reserved pools in one cell: "512x2M 4x1G", "-" when none. */
static const char *fmt_pools(const struct node_extras *x, char *buf, size_t n)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < x->npools; i++) {
        char ps[32];
        uint64_t total = x->pools[i].total;
        if (total == PMN_UNKNOWN || total == 0)
            continue;
        int k = snprintf(buf + len, n - len, "%s%" PRIu64 "x%s", len ? " " : "", total,
                         fmt_page_size(x->pools[i].page_size, ps, sizeof(ps)));
        if (k < 0 || (size_t)k >= n - len)
            break;
        len += (size_t)k;
    }
    return len ? buf : "-";
}

/* The caches in one cell, nearest the memory first: "L1 16.0 GiB". */
static const char *fmt_caches(const struct node_extras *x, char *buf, size_t n)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < x->ncaches; i++) {
        char sz[32];
        int k = snprintf(buf + len, n - len, "%sL%u %s", len ? ", " : "", x->caches[i].level,
                         fmt_bytes(x->caches[i].size, sz, sizeof(sz)));
        if (k < 0 || (size_t)k >= n - len)
            break;
        len += (size_t)k;
    }
    return len ? buf : "-";
}

static bool pools_reserved(const struct node_extras *x)
{
    for (size_t i = 0; i < x->npools; i++)
        if (x->pools[i].total != PMN_UNKNOWN && x->pools[i].total > 0)
            return true;
    return false;
}

/* Which optional columns the default table shows: those some node has. */
struct extra_cols {
    bool perf, zratio, pools, caches;
};

static void extra_cols(const struct pmn_ctx *ctx, struct extra_cols *c)
{
    const struct pmn_node *node;

    memset(c, 0, sizeof(*c));
    pmn_node_foreach (ctx, node) {
        struct node_extras x;
        node_extras(node, &x);
        c->perf |= x.has_perf;
        c->zratio |= x.zratio > 0.0;
        c->pools |= pools_reserved(&x);
        c->caches |= x.ncaches > 0;
    }
}

/* --wide: one detail table per fact some node has, every figure the
 * library gives.  Returns false when out of memory. */
static bool list_wide(const struct pmn_ctx *ctx, FILE *out)
{
    const struct pmn_node *node;
    struct extra_cols c;
    bool any_pool = false;

    extra_cols(ctx, &c);
    pmn_node_foreach (ctx, node) {
        struct node_extras x;
        node_extras(node, &x);
        any_pool |= x.npools > 0;
    }
    if (c.perf) {
        struct table t = {.ncols = 5};
        static const char *const head[] = {"node", "read bw", "write bw", "read lat", "write lat"};
        table_row(&t, head);
        pmn_node_foreach (ctx, node) {
            struct node_extras x;
            char id[16], a[32], b[32], l1[32], l2[32];
            node_extras(node, &x);
            const char *row[] = {
                fmt_id(pmn_node_id(node), id, sizeof(id)),
                fmt_u64_unit(x.perf.read_bandwidth, "MB/s", a, sizeof(a)),
                fmt_u64_unit(x.perf.write_bandwidth, "MB/s", b, sizeof(b)),
                fmt_u64_unit(x.perf.read_latency, "ns", l1, sizeof(l1)),
                fmt_u64_unit(x.perf.write_latency, "ns", l2, sizeof(l2)),
            };
            table_row(&t, row);
        }
        fputs("\naccess performance (HMAT, best initiator):\n", out);
        if (!table_print(&t, out))
            return false;
    }
    if (any_pool) {
        struct table t = {.ncols = 5};
        static const char *const head[] = {"node", "page size", "pages", "free", "surplus"};
        table_row(&t, head);
        pmn_node_foreach (ctx, node) {
            struct node_extras x;
            node_extras(node, &x);
            for (size_t i = 0; i < x.npools; i++) {
                char id[16], ps[32], tot[32], fr[32], su[32];
                const struct pmn_hugepool *p = &x.pools[i];
                const char *row[] = {
                    fmt_id(pmn_node_id(node), id, sizeof(id)),
                    fmt_page_size(p->page_size, ps, sizeof(ps)),
                    fmt_count(p->total, tot, sizeof(tot)),
                    fmt_count(p->free, fr, sizeof(fr)),
                    fmt_count(p->surplus, su, sizeof(su)),
                };
                table_row(&t, row);
            }
        }
        fputs("\nhuge page pools (in pages):\n", out);
        if (!table_print(&t, out))
            return false;
    }
    if (c.caches) {
        struct table t = {.ncols = 6};
        static const char *const head[] = {"node", "level",    "size",
                                           "line", "indexing", "write policy"};
        table_row(&t, head);
        pmn_node_foreach (ctx, node) {
            struct node_extras x;
            node_extras(node, &x);
            for (size_t i = 0; i < x.ncaches; i++) {
                char id[16], lv[16], sz[32], ln[32];
                const struct pmn_side_cache *sc = &x.caches[i];
                const char *ix = indexing_name(sc->indexing);
                const char *wp = write_policy_name(sc->write_policy);
                snprintf(lv, sizeof(lv), "%u", sc->level);
                const char *row[] = {
                    fmt_id(pmn_node_id(node), id, sizeof(id)),
                    lv,
                    fmt_bytes(sc->size, sz, sizeof(sz)),
                    fmt_bytes(sc->line_size, ln, sizeof(ln)),
                    ix != NULL ? ix : "-",
                    wp != NULL ? wp : "-",
                };
                table_row(&t, row);
            }
        }
        fputs("\nmemory-side caches:\n", out);
        if (!table_print(&t, out))
            return false;
    }
    return true;
}

static void list_json(const struct pmn_ctx *ctx, FILE *out)
{
    size_t ndev;
    struct pmn_device *devs = read_devices(ctx, &ndev);
    struct jw w = {.out = out};
    const struct pmn_node *node, *to;
    const struct pmn_dax *dax;
    const struct pmn_cxl_region *r;

    jw_open(&w, NULL, '{');
    jw_string(&w, "root", pmn_ctx_root(ctx));

    jw_open(&w, "nodes", '[');
    pmn_node_foreach (ctx, node) {
        int tier = pmn_node_tier(node);
        bool all_known = true;

        jw_open(&w, NULL, '{');
        jw_int(&w, "id", pmn_node_id(node));
        jw_string(&w, "kind", pmn_kind_name(pmn_node_kind(node)));
        jw_bool(&w, "private", pmn_node_is_private(node));
        jw_string(&w, "isolation", pmn_isolation_name(pmn_node_isolation(node)));
        /* "" is a CPU-less node; null is a cpulist the kernel gave badly. */
        jw_string(&w, "cpus", pmn_node_cpulist(node));
        jw_u64_or_null(&w, "capacity_bytes", pmn_node_capacity(node));
        jw_u64_or_null(&w, "free_bytes", pmn_node_free(node));
        jw_id_or_null(&w, "tier", tier);

        /* A partial distance row would be a guess: all or null. */
        pmn_node_foreach (ctx, to) {
            if (pmn_node_distance(node, pmn_node_id(to)) < 0) {
                all_known = false;
                break;
            }
        }
        if (all_known) {
            jw_open(&w, "distance", '[');
            pmn_node_foreach (ctx, to)
                jw_int(&w, NULL, pmn_node_distance(node, pmn_node_id(to)));
            jw_close(&w, ']');
        } else {
            jw_null(&w, "distance");
        }
        dax = pmn_node_dax(node);
        jw_string(&w, "dax", dax != NULL ? pmn_dax_name(dax) : NULL);

        /* Additions to the contract (0.3): members after its own. */
        uint64_t avail;
        if (pmn_node_read_available(ctx, pmn_node_id(node), &avail) == 0)
            jw_u64(&w, "available_bytes", avail);
        else
            jw_null(&w, "available_bytes");
        jw_open(&w, "devices", '[');
        for (size_t i = 0; i < ndev; i++) {
            if (devs[i].node != pmn_node_id(node))
                continue;
            jw_open(&w, NULL, '{');
            jw_string(&w, "name", devs[i].name);
            jw_string(&w, "type", devs[i].type);
            jw_string(&w, "pci", devs[i].pci[0] != '\0' ? devs[i].pci : NULL);
            jw_close(&w, '}');
        }
        jw_close(&w, ']');

        /* Additions of 0.8, after those of 0.3. */
        struct node_extras x;
        node_extras(node, &x);
        node_extras_json(&w, &x);
        jw_close(&w, '}');
    }
    jw_close(&w, ']');

    jw_open(&w, "dax", '[');
    pmn_dax_foreach (ctx, dax) {
        jw_open(&w, NULL, '{');
        jw_string(&w, "name", pmn_dax_name(dax));
        jw_string(&w, "path", pmn_dax_path(dax));
        jw_u64_or_null(&w, "size_bytes", pmn_dax_size(dax));
        jw_u64_or_null(&w, "align_bytes", pmn_dax_align(dax));
        jw_string(&w, "mode", pmn_dax_mode_name(dax));
        jw_id_or_null(&w, "target_node", pmn_dax_target_node(dax));
        jw_id_or_null(&w, "numa_node", pmn_dax_numa_node(dax));
        jw_string(&w, "type", pmn_dax_type(dax));
        jw_close(&w, '}');
    }
    jw_close(&w, ']');

    jw_open(&w, "cxl", '[');
    pmn_cxl_foreach (ctx, r) {
        size_t ntargets = pmn_cxl_target_count(r);
        const struct pmn_dax *rdax = pmn_cxl_dax(r);

        jw_open(&w, NULL, '{');
        jw_string(&w, "name", pmn_cxl_name(r));
        jw_string(&w, "mode", pmn_cxl_mode(r));
        jw_u64_or_null(&w, "size_bytes", pmn_cxl_size(r));
        jw_open(&w, "targets", '[');
        for (size_t i = 0; i < ntargets; i++) {
            const char *t = pmn_cxl_target(r, i);
            if (t != NULL)
                jw_string(&w, NULL, t);
        }
        jw_close(&w, ']');
        jw_string(&w, "dax", rdax != NULL ? pmn_dax_name(rdax) : NULL);
        jw_id_or_null(&w, "node", pmn_cxl_node(r));
        jw_close(&w, '}');
    }
    jw_close(&w, ']');
    jw_close(&w, '}');
    free(devs);
}

static const char *private_label(const struct pmn_node *node, char *buf, size_t n)
{
    enum pmn_isolation iso = pmn_node_isolation(node);
    bool priv = pmn_node_is_private(node);

    if (!priv && iso == PMN_ISOLATION_NONE)
        return "no";
    snprintf(buf, n, "%s (%s)", priv ? "yes" : "no", pmn_isolation_name(iso));
    return buf;
}

/* The devices near each node, by node ("-" where no one says); nothing
 * when the machine exposes none. */
static bool list_devices_table(const struct pmn_ctx *ctx, FILE *out)
{
    size_t ndev;
    struct pmn_device *devs = read_devices(ctx, &ndev);
    struct table t = {.ncols = 4};
    static const char *const head[] = {"near node", "device", "type", "pci"};
    bool ok;

    if (ndev == 0) {
        free(devs);
        return true;
    }
    table_row(&t, head);
    /* Known nodes by id, then the devices no one places. */
    for (int pass = 0; pass < 2; pass++) {
        const struct pmn_node *node = pass == 0 ? pmn_node_first(ctx) : NULL;
        do {
            int id = node != NULL ? pmn_node_id(node) : -1;
            for (size_t i = 0; i < ndev; i++) {
                char nid[16];
                bool mine =
                    node != NULL ? devs[i].node == id : pmn_node_get(ctx, devs[i].node) == NULL;
                if (!mine)
                    continue;
                const char *row[] = {fmt_id(devs[i].node, nid, sizeof(nid)), devs[i].name,
                                     devs[i].type, devs[i].pci[0] ? devs[i].pci : "-"};
                table_row(&t, row);
            }
        } while (node != NULL && (node = pmn_node_next(node)) != NULL);
    }
    ok = table_print(&t, out);
    free(devs);
    return ok;
}

/* Most nodes the distance matrix is drawn for: its cells grow with the
 * square of the node count (an 8-byte "online" file can name 65536). */
#define MATRIX_MAX_NODES 64

/* The distance matrix, numactl -H style: one row and column per node;
 * a line instead when no node has distances or there are too many. */
static bool list_distances(const struct pmn_ctx *ctx, size_t nnodes, FILE *out)
{
    const struct pmn_node *node, *to;
    bool any = false;

    pmn_node_foreach (ctx, node)
        any = any || pmn_node_distance(node, pmn_node_id(node)) >= 0;
    if (!any) {
        fputs("\nnode distances: none reported\n", out);
        return true;
    }
    if (nnodes > MATRIX_MAX_NODES) {
        fprintf(out, "\nnode distances: %zu nodes, more than %d: see --json\n", nnodes,
                MATRIX_MAX_NODES);
        return true;
    }
    struct table m = {.ncols = nnodes + 1, .right = true};
    const char **row = calloc(nnodes + 1, sizeof(*row));
    char(*buf)[16] = calloc(nnodes + 1, sizeof(*buf));
    if (row == NULL || buf == NULL) {
        free(row);
        free(buf);
        return false;
    }
    size_t i = 1;
    row[0] = "node";
    pmn_node_foreach (ctx, to) {
        row[i] = fmt_id(pmn_node_id(to), buf[i], sizeof(buf[i]));
        i++;
    }
    table_row(&m, row);
    pmn_node_foreach (ctx, node) {
        snprintf(buf[0], sizeof(buf[0]), "%d:", pmn_node_id(node));
        row[0] = buf[0];
        i = 1;
        pmn_node_foreach (ctx, to) {
            row[i] = fmt_id(pmn_node_distance(node, pmn_node_id(to)), buf[i], sizeof(buf[i]));
            i++;
        }
        table_row(&m, row);
    }
    free(row);
    free(buf);
    fputs("\nnode distances:\n", out);
    return table_print(&m, out);
}

/* Returns false when out of memory. */
static bool list_table(const struct pmn_ctx *ctx, bool wide, FILE *out)
{
    size_t nnodes = pmn_node_count(ctx);
    const struct pmn_node *node;
    const struct pmn_dax *dax;
    const struct pmn_cxl_region *r;
    char *ids = node_list_string(ctx);
    char *root = dup_clean(pmn_ctx_root(ctx));
    bool ok = ids != NULL && root != NULL;

    if (ok)
        fprintf(out, "root %s: %zu node%s (%s)\n", root, nnodes, nnodes == 1 ? "" : "s", ids);
    free(ids);
    free(root);
    if (!ok)
        return false;

    if (nnodes > 0) {
        struct extra_cols c;
        extra_cols(ctx, &c);
        /* The contract's eight columns, then each optional one some node
         * has (extra_cols), in a fixed order. */
        static const char *const head_all[] = {
            "node", "kind",    "tier",     "private", "cpus",       "capacity", "free",
            "dax",  "read bw", "read lat", "zratio",  "huge pages", "mem cache"};
        bool show[13] = {true, true,   true,   true,     true,    true,    true,
                         true, c.perf, c.perf, c.zratio, c.pools, c.caches};
        const char *head[13];
        size_t ncols = 0;
        for (size_t k = 0; k < 13; k++)
            if (show[k])
                head[ncols++] = head_all[k];
        struct table t = {.ncols = ncols};
        table_row(&t, head);
        pmn_node_foreach (ctx, node) {
            char id[16], tier[16], priv[48], cap[32], fre[32], bw[32], lat[32], zr[32], pools[160],
                caches[160];
            const char *cpus = pmn_node_cpulist(node);
            const struct pmn_dax *d = pmn_node_dax(node);
            struct node_extras x;
            node_extras(node, &x);
            if (x.zratio > 0.0)
                snprintf(zr, sizeof(zr), "%.2f", x.zratio);
            const char *all[13] = {
                fmt_id(pmn_node_id(node), id, sizeof(id)),
                pmn_kind_name(pmn_node_kind(node)),
                fmt_id(pmn_node_tier(node), tier, sizeof(tier)),
                private_label(node, priv, sizeof(priv)),
                cpus == NULL      ? "?"
                : cpus[0] != '\0' ? cpus
                                  : "-",
                fmt_bytes(pmn_node_capacity(node), cap, sizeof(cap)),
                fmt_bytes(pmn_node_free(node), fre, sizeof(fre)),
                d != NULL && pmn_dax_name(d) != NULL ? pmn_dax_name(d) : "-",
                fmt_u64_unit(x.perf.read_bandwidth, "MB/s", bw, sizeof(bw)),
                fmt_u64_unit(x.perf.read_latency, "ns", lat, sizeof(lat)),
                x.zratio > 0.0 ? zr : "-",
                fmt_pools(&x, pools, sizeof(pools)),
                fmt_caches(&x, caches, sizeof(caches)),
            };
            const char *row[13];
            size_t j = 0;
            for (size_t k = 0; k < 13; k++)
                if (show[k])
                    row[j++] = all[k];
            table_row(&t, row);
        }
        if (!table_print(&t, out))
            return false;

        if (!list_distances(ctx, nnodes, out))
            return false;
        if (wide && !list_wide(ctx, out))
            return false;
    }

    fputs("\ndevices:\n", out);
    if (pmn_dax_count(ctx) == 0) {
        fputs("no dax devices\n", out);
    } else {
        struct table t = {.ncols = 6};
        static const char *const head[] = {"dax", "size", "align", "mode", "target", "type"};
        table_row(&t, head);
        pmn_dax_foreach (ctx, dax) {
            char size[32], align[32], target[16];
            const char *name = pmn_dax_name(dax);
            const char *mode = pmn_dax_mode_name(dax);
            const char *type = pmn_dax_type(dax);
            const char *row[] = {
                name != NULL ? name : "-",
                fmt_bytes(pmn_dax_size(dax), size, sizeof(size)),
                fmt_bytes(pmn_dax_align(dax), align, sizeof(align)),
                mode != NULL ? mode : "-",
                fmt_id(pmn_dax_target_node(dax), target, sizeof(target)),
                type != NULL ? type : "-",
            };
            table_row(&t, row);
        }
        if (!table_print(&t, out))
            return false;
    }
    if (!list_devices_table(ctx, out))
        return false;
    if (pmn_cxl_count(ctx) == 0) {
        fputs("no cxl regions\n", out);
    } else {
        struct table t = {.ncols = 4};
        static const char *const head[] = {"cxl", "mode", "size", "node"};
        table_row(&t, head);
        pmn_cxl_foreach (ctx, r) {
            char size[32], nid[16];
            const char *name = pmn_cxl_name(r);
            const char *mode = pmn_cxl_mode(r);
            const char *row[] = {
                name != NULL ? name : "-",
                mode != NULL ? mode : "-",
                fmt_bytes(pmn_cxl_size(r), size, sizeof(size)),
                fmt_id(pmn_cxl_node(r), nid, sizeof(nid)),
            };
            table_row(&t, row);
        }
        if (!table_print(&t, out))
            return false;
    }
    return true;
}

static void print_problems(const struct pmn_ctx *ctx)
{
    size_t n = pmn_ctx_problems(ctx, NULL, 0);
    const char **lines;

    if (n == 0)
        return;
    lines = calloc(n, sizeof(*lines));
    if (lines == NULL) {
        msg("warning: %zu discovery problems (out of memory listing them)", n);
        return;
    }
    n = pmn_ctx_problems(ctx, lines, n);
    for (size_t i = 0; i < n; i++)
        if (lines[i] != NULL)
            msg("warning: %s", lines[i]);
    free(lines);
}

enum { L_ROOT, L_JSON, L_WIDE };

/* One option per entry, compact, as the help lists them. */
/* clang-format off */
static const struct opt list_opts[] = {
    [L_ROOT] = {.name = "--root", .type = &opt_path, .arg = "DIR",
                .help = "describe the machine whose sys/ tree is under DIR\n"
                        "(default: $PMNODE_SYSFS_ROOT, else /)"},
    [L_JSON] = {.name = "--json", .type = &opt_flag,
                .help = "print one JSON object instead of a table"},
    [L_WIDE] = {.name = "--wide", .type = &opt_flag,
                .help = "add a table per node fact the default table sums up:\n"
                        "read and write bandwidth and latency (HMAT), every huge\n"
                        "page pool, every memory-side cache"},
};
/* clang-format on */

static int list_main(int argc, char **argv)
{
    struct opt_result res[OPT_COUNT(list_opts)];
    struct pmn_ctx *ctx = NULL;
    int rest, status;

    if ((status = opt_parse(&cmd_list, argc, argv, res, &rest)) >= 0)
        return status;
    if ((status = discover("list", res[L_ROOT].count > 0 ? res[L_ROOT].v.str : NULL, &ctx)) >= 0)
        return status;
    status = EXIT_OK;
    if (res[L_JSON].count > 0) {
        list_json(ctx, stdout);
    } else if (!list_table(ctx, res[L_WIDE].count > 0, stdout)) {
        fflush(stdout);
        msg("list: %s", pmn_strerror(-ENOMEM));
        status = EXIT_FAILED;
    }
    status = finish_stdout(status);
    print_problems(ctx);
    pmn_ctx_unref(ctx);
    return status;
}

/* clang-format off */
const struct cmd cmd_list = {
    .name = "list", .main = list_main, .opts = list_opts, .nopts = OPT_COUNT(list_opts),
    .summary = "list NUMA nodes, dax devices, CXL regions and the devices near each node",
    .about = "List the NUMA nodes of a machine: kind, memory tier, whether the node is\n"
             "private and who keeps it so, CPUs, capacity, free memory, and where the\n"
             "machine has them read bandwidth and latency (HMAT), compression ratio,\n"
             "reserved huge pages and memory-side caches; distances; then its\n"
             "device-dax devices, the network interfaces and PCI devices\n"
             "(GPUs, NVMe, accelerators, CXL memory devices) near each node, and its\n"
             "CXL regions.",
    .notes = "Problems met during discovery are printed to stderr as warnings.",
};
/* clang-format on */
