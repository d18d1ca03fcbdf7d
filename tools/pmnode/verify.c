/*
 * verify.c - pmnode verify: one region through the whole strict-placement
 * path, then a second opinion.
 *
 * pmn_region_map() binds, populates and verifies on its own; the tool
 * does not take its word for it but asks pmn_where() again over the region
 * (the query any user can run) and fails when either disagrees with the
 * node asked for.
 *
 * --json prints one object; its keys and their order are a contract, like
 * list --json (only ever add keys):
 *   "node"               node asked for; dax without --node: the device's
 *                        node, or null when it has none
 *   "backend"            "anon", "memfd", "hugetlb" or "dax"
 *   "size_bytes"         region size: the request rounded up to the granule
 *   "page_size"          base page size pmn_where counted in
 *   "pages"              pages examined (size_bytes / page_size)
 *   "pages_per_node"     {"<node id>": pages}, ascending id, nodes with pages
 *   "not_present"        pages not populated
 *   "unknown"            pages the kernel could not place (device memory;
 *                        expected for dax, a failure otherwise)
 *   "misplaced"          pages on any node other than "node"
 *   "populate_ns"        pmn_region_populate_ns()
 *   "populate_gib_per_s" size_bytes / populate time; null when it took 0 ns
 *   "verify_ns"          pmn_region_verify_ns() (the library's own check)
 *   "ok"                 every page present and on "node"
 */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"

struct verify_opts {
    int node;             /* -1: not given */
    uint64_t size;        /* UINT64_MAX also for a size above it */
    const char *size_arg; /* --size as given, for messages */
    enum pmn_backing_type type;
    const char *backend; /* as given, for messages */
    const char *dax;     /* PMN_BACKING_DAX: device path or name */
    uint64_t huge_size;  /* PMN_BACKING_HUGETLB: 0 = the default size */
    bool thp;
    bool have_headroom;
    uint64_t headroom;
    bool json;
};

/* "anon", "memfd", "hugetlb[:SIZE]", "dax:PATH".  False on anything else. */
static bool parse_backend(const char *s, struct verify_opts *o)
{
    o->backend = s;
    if (strcmp(s, "anon") == 0) {
        o->type = PMN_BACKING_ANON;
    } else if (strcmp(s, "memfd") == 0) {
        o->type = PMN_BACKING_MEMFD;
    } else if (strcmp(s, "hugetlb") == 0) {
        o->type = PMN_BACKING_HUGETLB;
        o->huge_size = 0;
    } else if (strncmp(s, "hugetlb:", 8) == 0) {
        o->type = PMN_BACKING_HUGETLB;
        union opt_value v;
        if (opt_bytes_nonzero.parse(NULL, s + 8, &v) != 0)
            return false;
        o->huge_size = v.bytes;
    } else if (strncmp(s, "dax:", 4) == 0 && s[4] != '\0') {
        o->type = PMN_BACKING_DAX;
        o->dax = s + 4;
    } else {
        return false;
    }
    return true;
}

/* --backend: checked while parsing, decoded by parse_backend() after. */
static int parse_backend_opt(const struct opt *opt, const char *s, union opt_value *v)
{
    struct verify_opts o;

    (void)opt;
    if (!parse_backend(s, &o))
        return -EINVAL;
    v->str = s;
    return 0;
}

static const struct opt_type opt_backend = {parse_backend_opt,
                                            "a backend (anon, memfd, hugetlb[:SIZE] or dax:PATH)"};

enum { V_NODE, V_SIZE, V_BACKEND, V_THP, V_HEADROOM, V_JSON };

/* One option per entry, compact, as the help lists them. */
/* clang-format off */
static const struct opt verify_table[] = {
    [V_NODE] = {.name = "--node", .type = &opt_node, .arg = "N", .flags = OPT_REQUIRED,
                .help = "the node the memory must be on (optional for dax: the\n"
                        "device's own node is expected)"},
    [V_SIZE] = {.name = "--size", .type = &opt_request, .arg = "BYTES", .flags = OPT_REQUIRED,
                .help = "bytes to map: a number, optionally followed by k, M, G,\n"
                        "T, P or E (binary multiples: 64M = 64 MiB), or 0x and hex\n"
                        "digits; rounded up to the backing's granule"},
    [V_BACKEND] = {.name = "--backend", .type = &opt_backend, .arg = "B",
                   .help = "where the pages come from (default anon):\n"
                           "  anon           node-bound anonymous memory\n"
                           "  memfd          node-bound memfd (shareable by fd)\n"
                           "  hugetlb[:SIZE] huge pages from the node's own pool\n"
                           "                 (SIZE as 2M or 1G; default size)\n"
                           "  dax:PATH       device-dax device (/dev/dax0.0)"},
    [V_THP] = {.name = "--thp", .type = &opt_flag,
               .help = "ask for transparent huge pages (anon and memfd)"},
    [V_HEADROOM] = {.name = "--headroom", .type = &opt_bytes, .arg = "BYTES",
                    .help = "free memory to leave on the node beyond the request\n"
                            "(default: the library's, max(64 MiB, 1% of the node))"},
    [V_JSON] = {.name = "--json", .type = &opt_flag,
                .help = "print one JSON object instead of text:\n"
                        "{\"node\": 0, \"backend\": \"anon\", \"size_bytes\": 67108864,\n"
                        " \"page_size\": 4096, \"pages\": 16384,\n"
                        " \"pages_per_node\": {\"0\": 16384}, \"not_present\": 0,\n"
                        " \"unknown\": 0, \"misplaced\": 0, \"populate_ns\": 8000000,\n"
                        " \"populate_gib_per_s\": 7.812, \"verify_ns\": 400000,\n"
                        " \"ok\": true}"},
};
/* clang-format on */

/* Returns -1 to go on, else the exit status. */
static int verify_parse(int argc, char **argv, struct verify_opts *o)
{
    struct opt_result res[OPT_COUNT(verify_table)];
    int rest, status;

    if ((status = opt_parse(&cmd_verify, argc, argv, res, &rest)) >= 0)
        return status;
    *o = (struct verify_opts){.node = -1, .type = PMN_BACKING_ANON, .backend = "anon"};
    if (res[V_BACKEND].count > 0)
        parse_backend(res[V_BACKEND].v.str, o);
    if (res[V_NODE].count > 0)
        o->node = res[V_NODE].v.node;
    else if (o->type != PMN_BACKING_DAX)
        return opt_missing(&cmd_verify, V_NODE);
    if (res[V_SIZE].count == 0)
        return opt_missing(&cmd_verify, V_SIZE);
    o->size = res[V_SIZE].v.bytes;
    o->size_arg = res[V_SIZE].arg;
    o->thp = res[V_THP].count > 0;
    o->have_headroom = res[V_HEADROOM].count > 0;
    o->headroom = res[V_HEADROOM].v.bytes;
    o->json = res[V_JSON].count > 0;
    if (o->thp && o->type != PMN_BACKING_ANON && o->type != PMN_BACKING_MEMFD) {
        msg("verify: --thp applies to the anon and memfd backends, not '%s': %s", o->backend,
            pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    return -1;
}

/*
 * Exit status for a failure to set up or map: 2 when the request cannot be
 * met on this machine as asked (wrong node or device, another machine's
 * root), 1 for anything else (a size that does not fit, out of memory,
 * kernel errors, misplaced memory).
 */
static int verify_status(int err)
{
    switch (err) {
    case PMN_E_REMOTE_ROOT:
    case PMN_E_NO_NODE:
    case PMN_E_NOT_MEMORY_NODE:
    case PMN_E_NOT_ALLOWED:
    case PMN_E_NO_DEVICE:
    case -EINVAL:
    case -ENOENT:
    case -ENOTDIR:
    case -ENODEV:
    case -ENXIO:
    case -ENAMETOOLONG:
    case -ELOOP:
    case -EOVERFLOW: return EXIT_USAGE;
    default: return EXIT_FAILED;
    }
}

/*
 * pmn_region_map failed.  A size the node (or device) cannot take is a
 * failed check like a misplaced page, exit 1, told with what there is:
 * "--size 1T does not fit on node 0 (24587333632 bytes available)": what
 * the library's check compares (pmn_node_read_available).  The library
 * says so with PMN_E_NODE_FULL (available memory less headroom),
 * PMN_E_NO_HUGEPAGES (free huge pages) or -ENOMEM (an impossible size,
 * or no room left in a dax device).  Other errors keep verify_status().
 */
static int verify_map_error(const struct pmn_ctx *ctx, const struct verify_opts *o,
                            const char *target, int err)
{
    const struct pmn_dax *d = NULL;
    uint64_t have = PMN_UNKNOWN;

    if (o->type == PMN_BACKING_DAX) {
        const char *slash = strrchr(o->dax, '/');
        d = pmn_dax_get(ctx, slash != NULL ? slash + 1 : o->dax);
        if (d != NULL)
            have = pmn_dax_size(d);
    } else if (pmn_node_read_available(ctx, o->node, &have) != 0) {
        have = PMN_UNKNOWN;
    }
    if (err == PMN_E_NO_HUGEPAGES) {
        msg("verify: --size %s does not fit on %s (%s)", o->size_arg, target, pmn_strerror(err));
        return EXIT_FAILED;
    }
    if (err == PMN_E_NODE_FULL && have != PMN_UNKNOWN && o->size <= have) {
        msg("verify: --size %s does not fit on %s (%" PRIu64 " bytes available, less the "
            "headroom kept free: see --headroom)",
            o->size_arg, target, have);
        return EXIT_FAILED;
    }
    if ((err == PMN_E_NODE_FULL || err == -ENOMEM) && have != PMN_UNKNOWN && o->size > have) {
        msg("verify: --size %s does not fit on %s (%" PRIu64 " bytes %s)", o->size_arg, target,
            have, d != NULL ? "in all" : "available");
        return EXIT_FAILED;
    }
    if (err == PMN_E_NODE_FULL) {
        msg("verify: --size %s does not fit on %s (%s)", o->size_arg, target, pmn_strerror(err));
        return EXIT_FAILED;
    }
    msg("verify: mapping %" PRIu64 " bytes (%s) on %s: %s", o->size, o->backend, target,
        pmn_strerror(err));
    return verify_status(err);
}

/* "node 3" or "device '/dev/dax0.0'", for messages. */
static const char *verify_target(const struct verify_opts *o, char *buf, size_t n)
{
    if (o->type == PMN_BACKING_DAX)
        snprintf(buf, n, "device '%s'", o->dax);
    else
        snprintf(buf, n, "node %d", o->node);
    return buf;
}

/* Why pmn_backing_new refused: for a dax path, that it is no such device. */
static void verify_backing_error(const struct verify_opts *o, const char *target, int err)
{
    if (o->type == PMN_BACKING_DAX && err == -ENODEV)
        msg("verify: '%s' is not a device-dax device (a character device listed in "
            "/sys/bus/dax/devices)",
            o->dax);
    else
        msg("verify: cannot use %s for %s: %s", target, o->backend, pmn_strerror(err));
}

/* Where the region's pages are, judged against @expect (-1: any node). */
struct verify_result {
    struct pmn_where w;
    int expect;
    uint64_t on_node; /* pages on @expect (all node pages when it is -1) */
    uint64_t misplaced;
    bool short_count; /* pmn_where examined less than the region */
    bool ok;
};

static void verify_judge(const struct verify_opts *o, size_t size, struct verify_result *v)
{
    const struct pmn_where *w = &v->w;
    uint64_t placed = 0;

    for (size_t i = 0; i < w->nnodes && i < PMN_STATS_MAX_NODES; i++)
        placed += w->node[i].pages;
    if (v->expect >= 0) {
        v->on_node = pmn_where_pages_on(w, v->expect);
        v->misplaced = placed - v->on_node + w->other;
    } else {
        v->on_node = placed;
        v->misplaced = 0;
    }
    v->short_count = w->page_size == 0 || w->pages < size / w->page_size;
    v->ok = !v->short_count && w->pages > 0 && v->misplaced == 0 && w->not_present == 0 &&
            (w->unknown == 0 || o->type == PMN_BACKING_DAX);
}

static double gib_per_s(size_t bytes, uint64_t ns)
{
    if (ns == 0)
        return INFINITY;
    return (double)bytes / (double)(1ull << 30) / ((double)ns / 1e9);
}

static void verify_json(const struct verify_opts *o, const struct pmn_region *r,
                        const struct verify_result *v, FILE *out)
{
    struct jw w = {.out = out};
    char id[16];

    jw_open(&w, NULL, '{');
    jw_id_or_null(&w, "node", v->expect);
    jw_string(&w, "backend", pmn_backing_type_name(o->type));
    jw_u64(&w, "size_bytes", pmn_region_size(r));
    jw_u64(&w, "page_size", v->w.page_size);
    jw_u64(&w, "pages", v->w.pages);
    jw_open(&w, "pages_per_node", '{');
    for (size_t i = 0; i < v->w.nnodes && i < PMN_STATS_MAX_NODES; i++) {
        if (v->w.node[i].pages == 0)
            continue;
        snprintf(id, sizeof(id), "%d", v->w.node[i].node);
        jw_u64(&w, id, v->w.node[i].pages);
    }
    jw_close(&w, '}');
    jw_u64(&w, "not_present", v->w.not_present);
    jw_u64(&w, "unknown", v->w.unknown);
    jw_u64(&w, "misplaced", v->misplaced);
    jw_u64(&w, "populate_ns", pmn_region_populate_ns(r));
    jw_double(&w, "populate_gib_per_s", gib_per_s(pmn_region_size(r), pmn_region_populate_ns(r)));
    jw_u64(&w, "verify_ns", pmn_region_verify_ns(r));
    jw_bool(&w, "ok", v->ok);
    jw_close(&w, '}');
}

/* Returns false when out of memory. */
static bool verify_text(const struct verify_opts *o, const struct pmn_backing *b,
                        const struct pmn_region *r, const struct verify_result *v, FILE *out)
{
    struct table t = {.ncols = 2};
    size_t size = pmn_region_size(r);
    uint64_t pop = pmn_region_populate_ns(r), ver = pmn_region_verify_ns(r);
    char backend[64], node[16], sz[64], gran[32], psz[32], pages[32], np[32], unk[32], mis[32],
        popl[64], verl[96], verdict[160], b1[32], label[32];

    snprintf(backend, sizeof(backend), "%s%s", pmn_backing_type_name(o->type),
             o->thp ? " (thp)" : "");
    snprintf(sz, sizeof(sz), "%s (%zu bytes)", fmt_bytes(size, b1, sizeof(b1)), size);
    snprintf(pages, sizeof(pages), "%" PRIu64, v->w.pages);
    snprintf(np, sizeof(np), "%" PRIu64, v->w.not_present);
    snprintf(unk, sizeof(unk), "%" PRIu64, v->w.unknown);
    snprintf(mis, sizeof(mis), "%" PRIu64, v->misplaced);
    if (pop > 0 && gib_per_s(size, pop) >= 1.0)
        snprintf(popl, sizeof(popl), "%.3f ms, %.2f GiB/s", (double)pop / 1e6,
                 gib_per_s(size, pop));
    else if (pop > 0) /* slow memory (emulated CXL): MiB/s keeps the digits */
        snprintf(popl, sizeof(popl), "%.3f ms, %.1f MiB/s", (double)pop / 1e6,
                 gib_per_s(size, pop) * 1024.0);
    else
        snprintf(popl, sizeof(popl), "0 ms");
    if (ver == 0)
        snprintf(verl, sizeof(verl), "0 ms (not run by the library)");
    else if (pop > 0)
        snprintf(verl, sizeof(verl), "%.3f ms, %.1f%% of populate, %.3f ms per GiB",
                 (double)ver / 1e6, 100.0 * (double)ver / (double)pop,
                 (double)ver / 1e6 * (double)(1ull << 30) / (double)size);
    else
        snprintf(verl, sizeof(verl), "%.3f ms", (double)ver / 1e6);
    if (v->ok && v->expect >= 0)
        snprintf(verdict, sizeof(verdict), "ok: %s %" PRIu64 " page%s on node %d",
                 v->w.pages == 1 ? "the" : "all", v->w.pages, v->w.pages == 1 ? "" : "s",
                 v->expect);
    else if (v->ok)
        snprintf(verdict, sizeof(verdict), "ok: %s %" PRIu64 " page%s present",
                 v->w.pages == 1 ? "the" : "all", v->w.pages, v->w.pages == 1 ? "" : "s");
    else if (v->short_count)
        snprintf(verdict, sizeof(verdict),
                 "FAILED: pmn_where examined only %" PRIu64 " pages of the region", v->w.pages);
    else
        snprintf(verdict, sizeof(verdict),
                 "FAILED: %" PRIu64 " misplaced, %" PRIu64 " not present, %" PRIu64
                 " unknown of %" PRIu64 " pages",
                 v->misplaced, v->w.not_present, o->type == PMN_BACKING_DAX ? 0 : v->w.unknown,
                 v->w.pages);

    const char *rows[][2] = {
        {"backend", backend},
        {"node", fmt_id(v->expect, node, sizeof(node))},
        {"size", sz},
        {"granule", fmt_bytes(pmn_backing_granule(b), gran, sizeof(gran))},
        {"page size", fmt_bytes(v->w.page_size, psz, sizeof(psz))},
        {"pages", pages},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        table_row(&t, rows[i]);
    for (size_t i = 0; i < v->w.nnodes && i < PMN_STATS_MAX_NODES; i++) {
        char n[32];
        if (v->w.node[i].pages == 0)
            continue;
        snprintf(label, sizeof(label), "  on node %d", v->w.node[i].node);
        snprintf(n, sizeof(n), "%" PRIu64, v->w.node[i].pages);
        const char *row[] = {label, n};
        table_row(&t, row);
    }
    const char *tail[][2] = {
        {"not present", np}, {"unknown", unk}, {"misplaced", mis},
        {"populate", popl},  {"verify", verl}, {"verdict", verdict},
    };
    for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
        table_row(&t, tail[i]);
    return table_print(&t, out);
}

static int verify_main(int argc, char **argv)
{
    struct verify_opts o;
    struct pmn_ctx *ctx = NULL;
    struct pmn_backing_params *p = NULL;
    struct pmn_backing *b = NULL;
    struct pmn_region *r = NULL;
    struct verify_result v;
    char target[PATH_MAX + 16];
    int err, status;

    if ((status = verify_parse(argc, argv, &o)) >= 0)
        return status;
    verify_target(&o, target, sizeof(target));

    if ((status = discover("verify", NULL, &ctx)) >= 0)
        return status;
    if (o.node >= 0 && pmn_node_get(ctx, o.node) == NULL) {
        char id[16];
        snprintf(id, sizeof(id), "%d", o.node);
        status = no_such_node("verify", "--node", id, ctx);
        goto out;
    }

    status = EXIT_FAILED;
    if ((err = pmn_backing_params_new(&p)) < 0 ||
        (err = pmn_backing_params_set_type(p, o.type)) < 0 ||
        (o.node >= 0 && o.type != PMN_BACKING_DAX &&
         (err = pmn_backing_params_set_node(p, o.node)) < 0) ||
        (o.dax != NULL && (err = pmn_backing_params_set_dax(p, o.dax)) < 0) ||
        (o.huge_size != 0 && (err = pmn_backing_params_set_page_size(p, o.huge_size)) < 0) ||
        (o.thp && (err = pmn_backing_params_set_thp(p, true)) < 0) ||
        (o.have_headroom && (err = pmn_backing_params_set_headroom(p, o.headroom)) < 0)) {
        msg("verify: %s backing on %s: %s", o.backend, target, pmn_strerror(err));
        status = verify_status(err);
        goto out;
    }

    err = pmn_backing_new(ctx, p, &b);
    if (err == PMN_E_REMOTE_ROOT) {
        msg("verify: cannot map on root '%s': %s", pmn_ctx_root(ctx), pmn_strerror(err));
        status = EXIT_USAGE;
        goto out;
    }
    if (err < 0) {
        verify_backing_error(&o, target, err);
        status = verify_status(err);
        goto out;
    }

    /* Above SIZE_MAX (a 32-bit build): no address space holds it. */
    err = o.size > SIZE_MAX ? -ENOMEM : pmn_region_map(b, (size_t)o.size, &r);
    if (err < 0) {
        status = verify_map_error(ctx, &o, target, err);
        goto out;
    }

    /* The second opinion: the library verified; ask again as a user would. */
    v = (struct verify_result){
        .w.struct_size = sizeof(v.w),
        .expect = o.type == PMN_BACKING_DAX && o.node < 0 ? pmn_region_node(r) : o.node};
    err = pmn_where(pmn_region_addr(r), pmn_region_size(r), &v.w);
    if (err < 0) {
        msg("verify: counting the pages of %p (%zu bytes): %s", pmn_region_addr(r),
            pmn_region_size(r), pmn_strerror(err));
        goto out;
    }
    verify_judge(&o, pmn_region_size(r), &v);

    if (o.json) {
        verify_json(&o, r, &v, stdout);
    } else if (!verify_text(&o, b, r, &v, stdout)) {
        fflush(stdout);
        msg("verify: %s", pmn_strerror(-ENOMEM));
        goto out;
    }
    status = finish_stdout(v.ok ? EXIT_OK : EXIT_FAILED);
    if (!v.ok && status == EXIT_FAILED) {
        if (v.short_count)
            msg("verify: pmn_where examined %" PRIu64 " pages, the region has %zu bytes",
                v.w.pages, pmn_region_size(r));
        else
            msg("verify: placement check failed on %s: %" PRIu64 " pages misplaced, %" PRIu64
                " not present, %" PRIu64 " unknown",
                target, v.misplaced, v.w.not_present, v.w.unknown);
    }

out:
    if (r != NULL && (err = pmn_region_unmap(r)) < 0) {
        msg("verify: unmapping the region: %s", pmn_strerror(err));
        status = EXIT_FAILED;
    }
    pmn_backing_free(b);
    pmn_backing_params_free(p);
    pmn_ctx_unref(ctx);
    return status;
}

/* clang-format off */
const struct cmd cmd_verify = {
    .name = "verify", .main = verify_main, .opts = verify_table, .nopts = OPT_COUNT(verify_table),
    .summary = "map memory strictly on a node, populate it and\n"
               "check where every page landed",
    .about = "Map one region strictly on node N (bind, populate, verify, as a linked\n"
             "program would with pmn_region_map), then count independently where its\n"
             "pages are (pmn_where).  Prints pages per node, pages not present, the\n"
             "populate time and rate, the cost of verification and a verdict.",
    .notes = "Exit status: 0 every page is on the node; 1 a page is misplaced or not\n"
             "present, the size does not fit on the node (or device), or mapping\n"
             "failed; 2 bad usage or input: a malformed size, no such node, a node\n"
             "without memory or outside the cpuset, no such dax device, or a root\n"
             "(PMNODE_SYSFS_ROOT) describing another machine.",
};
/* clang-format on */
