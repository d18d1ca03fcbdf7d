/*
 * ctier.c - pmnode ctier: the compressed tier end to end on this machine.
 *
 * Map memory on the promote node, fill it with a pattern, demote it to the
 * compressed node, read every page (nothing may move), write some pages
 * (exactly those must come back), and print where the pages are and the
 * tier's stats.  --stand-in names an ordinary node compressed, so the
 * protection, fault handling and accounting are exercised on hosts without
 * a compressed node.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"

/* --pattern and --write-control values; the order is the tables'. */
static const char *const patterns[] = {"text", "zero", "random", NULL};
static const char *const write_control_names[] = {"auto", "uffd", "mprotect", NULL};
static const enum pmn_ctier_wc write_controls[] = {PMN_CTIER_WC_AUTO, PMN_CTIER_WC_UFFD,
                                                   PMN_CTIER_WC_MPROTECT};

enum { C_NODE, C_PROMOTE, C_SIZE, C_PATTERN, C_WRITES, C_WC, C_STAND_IN, C_JSON };

/* One option per entry, compact, as the help lists them. */
/* clang-format off */
static const struct opt ctier_table[] = {
    [C_NODE] = {.name = "--node", .type = &opt_node, .arg = "N",
                .help = "the compressed node (default: the first node of kind\n"
                        "compressed, from discovery or the configuration)"},
    [C_PROMOTE] = {.name = "--promote-node", .type = &opt_node, .arg = "N",
                   .help = "where written pages go (default: the first node with\n"
                           "CPUs)"},
    [C_SIZE] = {.name = "--size", .type = &opt_bytes_nonzero, .arg = "BYTES",
                .help = "bytes to demote (default 16M), as for verify --size"},
    [C_PATTERN] = {.name = "--pattern", .type = &opt_choice, .arg = "P", .choices = patterns,
                   .help = "text (compresses well, default), zero, or random\n"
                           "(does not compress: the guard must refuse it)"},
    [C_WRITES] = {.name = "--write-pages", .type = &opt_bytes, .arg = "K",
                  .help = "pages to write after demotion (default 8)"},
    [C_WC] = {.name = "--write-control", .type = &opt_choice, .arg = "M",
              .choices = write_control_names,
              .help = "auto (default), uffd (userfaultfd write-protect), or\n"
                      "mprotect (the fallback: PROT_READ and a SIGSEGV handler)"},
    [C_STAND_IN] = {.name = "--stand-in", .type = &opt_flag,
                    .help = "treat node N (default 0) as compressed, for hosts with\n"
                            "no compressed node: pages do not move, protection,\n"
                            "fault handling and accounting are real"},
    [C_JSON] = {.name = "--json", .type = &opt_flag,
                .help = "print one JSON object: the stats and the verdict"},
};
/* clang-format on */

/* What one run found, for --json. */
struct ctier_run {
    const struct pmn_ctier *t;
    bool stand_in, ok;
    int promote, demote_err;
    size_t npages;
    const char *pattern;
    double estimate;
    uint64_t on_tier, writes, back_pages; /* PMN_UNKNOWN: not got that far */
};

/* --json: one object, the stats (pmn_ctier_stats_json) and then what the
 * text lines say. */
static void print_json(const struct pmn_ctier_stats *st, const struct ctier_run *run)
{
    char buf[1024];
    size_t n;

    pmn_ctier_stats_json(st, buf, sizeof(buf));
    n = strlen(buf);
    while (n > 0 && buf[n - 1] != '}')
        n--;
    if (n == 0)
        n = 1; /* no object: start one */
    printf("%.*s, \"node\": %d, \"stand_in\": %s, \"promote_node\": %d, \"pages\": %zu, "
           "\"pattern\": \"%s\", \"write_control\": \"%s\", \"estimated_ratio\": %.3f, "
           "\"demote_error\": ",
           (int)(n - 1), buf[0] == '{' ? buf : "{", pmn_ctier_node(run->t),
           run->stand_in ? "true" : "false", run->promote, run->npages, run->pattern,
           pmn_ctier_write_control(run->t), run->estimate);
    if (run->demote_err)
        printf("\"%s\"", pmn_strerror(run->demote_err));
    else
        printf("null");
    printf(", \"pages_on_node_after_demotion\": ");
    if (run->on_tier == PMN_UNKNOWN)
        printf("null");
    else
        printf("%llu", (unsigned long long)run->on_tier);
    printf(", \"writes\": %llu, \"pages_back_after_writes\": ", (unsigned long long)run->writes);
    if (run->back_pages == PMN_UNKNOWN)
        printf("null");
    else
        printf("%llu", (unsigned long long)run->back_pages);
    printf(", \"ok\": %s}\n", run->ok ? "true" : "false");
}

static void fill_pattern(unsigned char *p, size_t len, const char *pattern)
{
    static const char text[] = "Cold cache entries compress well: repeated keys, "
                               "timestamps and small integers. ";
    uint64_t x = 0x9e3779b97f4a7c15ull;

    for (size_t i = 0; i < len; i++) {
        if (strcmp(pattern, "zero") == 0) {
            p[i] = 0;
        } else if (strcmp(pattern, "random") == 0) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            p[i] = (unsigned char)x;
        } else {
            p[i] = (unsigned char)text[i % (sizeof(text) - 1)];
        }
    }
}

static int ctier_main(int argc, char **argv)
{
    uint64_t size = 16u << 20, writes = 8;
    const char *pattern = "text";
    int node, promote, err;
    bool stand_in, json;
    struct opt_result res[OPT_COUNT(ctier_table)];
    struct pmn_ctx_params *cp = NULL;
    struct pmn_ctx *ctx = NULL;
    struct pmn_ctier_opts o = {.struct_size = sizeof(o), .node = -1, .promote_node = -1};
    struct pmn_ctier *t = NULL;
    struct pmn_backing_params *bp = NULL;
    struct pmn_backing *b = NULL;
    struct pmn_region *r = NULL;
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    struct pmn_where w1 = {.struct_size = sizeof(w1)}, w2 = {.struct_size = sizeof(w2)};
    unsigned char *mem, sum = 0;
    size_t page, npages;
    int status, rest;
    char buf[1024];
    double estimate;
    uint64_t on_tier = PMN_UNKNOWN, back_pages = PMN_UNKNOWN;

    if ((status = opt_parse(&cmd_ctier, argc, argv, res, &rest)) >= 0)
        return status;
    node = res[C_NODE].count > 0 ? res[C_NODE].v.node : -1;
    promote = res[C_PROMOTE].count > 0 ? res[C_PROMOTE].v.node : -1;
    if (res[C_SIZE].count > 0)
        size = res[C_SIZE].v.bytes;
    if (res[C_PATTERN].count > 0)
        pattern = patterns[res[C_PATTERN].v.index];
    if (res[C_WRITES].count > 0)
        writes = res[C_WRITES].v.bytes;
    if (res[C_WC].count > 0)
        o.write_control = write_controls[res[C_WC].v.index];
    stand_in = res[C_STAND_IN].count > 0;
    json = res[C_JSON].count > 0;
    status = EXIT_FAILED;
    if (stand_in && node < 0)
        node = 0;
    if (pmn_ctx_params_new(&cp) != 0 ||
        (stand_in && pmn_ctx_params_set_node_kind(cp, node, PMN_KIND_COMPRESSED) != 0)) {
        msg("ctier: out of memory");
        return EXIT_FAILED;
    }
    status = discover_params("ctier", cp, &ctx);
    pmn_ctx_params_free(cp);
    if (status >= 0)
        return status;
    for (int i = 0; i < 2; i++) {
        int id = i == 0 ? node : promote;
        if (id >= 0 && pmn_node_get(ctx, id) == NULL) {
            snprintf(buf, sizeof(buf), "%d", id);
            status = no_such_node("ctier", i == 0 ? "--node" : "--promote-node", buf, ctx);
            pmn_ctx_unref(ctx);
            return status;
        }
    }
    status = EXIT_FAILED;
    o.node = node;
    o.promote_node = stand_in && promote < 0 ? node : promote;
    err = pmn_ctier_open(ctx, &o, &t);
    if (err) {
        msg("ctier: %s%s", pmn_strerror(err),
            err == PMN_E_NOT_COMPRESSED ? " (name one with --node N --stand-in, "
                                          "PMNODE_CONFIG 'kind N compressed', or a cramdax device)"
                                        : "");
        pmn_ctx_unref(ctx);
        return EXIT_USAGE;
    }
    page = (size_t)sysconf(_SC_PAGESIZE);
    promote = o.promote_node;
    if (promote < 0) {
        const struct pmn_node *n;
        pmn_node_foreach (ctx, n)
            if (promote < 0 && pmn_node_cpu_count(n) > 0)
                promote = pmn_node_id(n);
    }
    if (pmn_backing_params_new(&bp) != 0 || pmn_backing_params_set_node(bp, promote) != 0 ||
        (err = pmn_backing_new(ctx, bp, &b)) != 0 ||
        (err = pmn_region_map(b, (size_t)size, &r)) != 0) {
        msg("ctier: memory on node %d: %s", promote, pmn_strerror(err));
        /* Too little memory is the check failing, as in verify; other
         * errors are the request's. */
        status = err == PMN_E_NODE_FULL || err == -ENOMEM || err == PMN_E_NO_HUGEPAGES
                     ? EXIT_FAILED
                     : EXIT_USAGE;
        goto out;
    }
    mem = pmn_region_addr(r);
    npages = pmn_region_size(r) / page;
    fill_pattern(mem, pmn_region_size(r), pattern);
    estimate = pmn_ctier_estimate(mem, pmn_region_size(r), 0);
    if (!json) {
        printf("ctier: node %d (compressed%s), promote node %d, %zu pages of %s, write control "
               "%s\n",
               pmn_ctier_node(t), stand_in ? ", stand-in" : "", promote, npages, pattern,
               pmn_ctier_write_control(t));
        printf("estimated ratio  %.2f\n", estimate);
    }
    err = pmn_ctier_demote(t, mem, pmn_region_size(r));
    if (err) {
        if (!json)
            printf("demote           refused: %s\n", pmn_strerror(err));
        goto report;
    }
    pmn_where(mem, pmn_region_size(r), &w1);
    on_tier = pmn_where_pages_on(&w1, pmn_ctier_node(t));
    if (!json)
        printf("after demotion   %llu of %zu pages on node %d\n", (unsigned long long)on_tier,
               npages, pmn_ctier_node(t));
    for (size_t i = 0; i < npages; i++)
        sum ^= ((volatile unsigned char *)mem)[i * page];
    if (writes > npages)
        writes = npages;
    for (uint64_t k = 0; k < writes; k++)
        mem[(size_t)(k * npages / writes) * page] ^= 1;
    pmn_where(mem, pmn_region_size(r), &w2);
    back_pages = pmn_ctier_node(t) == promote ? writes : pmn_where_pages_on(&w2, promote);
    if (!json)
        printf("after %llu writes  %llu pages back on node %d\n", (unsigned long long)writes,
               (unsigned long long)back_pages, promote);
report:
    pmn_ctier_stats(t, &st);
    if (!json)
        printf("stats            logical %llu B, physical ~%llu B, ratio %.2f, "
               "write promotions %llu, refusals %llu, returned %llu\n",
               (unsigned long long)st.logical_bytes, (unsigned long long)st.physical_bytes,
               st.ratio, (unsigned long long)st.write_promotions, (unsigned long long)st.refusals,
               (unsigned long long)st.returned_pages);
    if (err) {
        status = EXIT_FAILED;
    } else {
        bool moved =
            pmn_ctier_node(t) == promote || pmn_where_pages_on(&w1, pmn_ctier_node(t)) == npages;
        bool back = pmn_ctier_node(t) == promote || pmn_where_pages_on(&w2, promote) == writes;
        status = moved && back && st.write_promotions == writes ? EXIT_OK : EXIT_FAILED;
        if (!json)
            printf("verdict          %s\n", status == EXIT_OK
                                                ? "ok: demoted, reads stayed, exactly the "
                                                  "written pages came back"
                                                : "FAILED: pages are not where they should be");
    }
    if (json)
        print_json(&st, &(struct ctier_run){.t = t,
                                            .stand_in = stand_in,
                                            .promote = promote,
                                            .npages = npages,
                                            .pattern = pattern,
                                            .estimate = estimate,
                                            .demote_err = err,
                                            .on_tier = on_tier,
                                            .writes = writes,
                                            .back_pages = back_pages,
                                            .ok = status == EXIT_OK});
    (void)sum;
out:
    pmn_ctier_close(t);
    pmn_region_unmap(r);
    pmn_backing_free(b);
    pmn_backing_params_free(bp);
    pmn_ctx_unref(ctx);
    return finish_stdout(status);
}

/* clang-format off */
const struct cmd cmd_ctier = {
    .name = "ctier", .main = ctier_main, .opts = ctier_table, .nopts = OPT_COUNT(ctier_table),
    .summary = "check the compressed tier end to end",
    .about = "Check the compressed tier end to end: map BYTES on the promote node, fill\n"
             "them, demote them to the compressed node (estimate, guard, write-protect,\n"
             "move), read every page (nothing may move), write K pages (exactly those\n"
             "must come back), and print where the pages are and the tier's stats.",
    .notes = "Exit status: 0 the tier behaved (pages on the tier after demotion, only\n"
             "the written pages back, data intact); 1 it did not, the guard refused\n"
             "the data, or BYTES do not fit on the promote node; 2 bad usage, no\n"
             "compressed node, or no write control here.",
};
/* clang-format on */
