/*
 * list.c - pmnode list: the nodes, dax devices and CXL regions of a
 * machine, as a table or as the JSON object of DESIGN.md.
 *
 * A thin client of the public API: it never reads /sys itself, so what it
 * prints is exactly what a linked program would see.  The devices near each
 * node (pmn_devices(): network interfaces, GPUs, NVMe, accelerators, CXL
 * memory devices) are read once per run; in JSON they and each node's
 * available_bytes are members added after the contract's own, as the
 * contract allows (it only ever grows).  Problems the library
 * met during discovery go to stderr only, after the output, so stdout stays
 * machine-readable in --json mode.
 */
#include <errno.h>
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

/* Returns false when out of memory. */
static bool list_table(const struct pmn_ctx *ctx, FILE *out)
{
    size_t nnodes = pmn_node_count(ctx);
    const struct pmn_node *node, *to;
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
        struct table t = {.ncols = 8};
        static const char *const head[] = {"node", "kind",     "tier", "private",
                                           "cpus", "capacity", "free", "dax"};
        table_row(&t, head);
        pmn_node_foreach (ctx, node) {
            char id[16], tier[16], priv[48], cap[32], fre[32];
            const char *cpus = pmn_node_cpulist(node);
            const struct pmn_dax *d = pmn_node_dax(node);
            const char *row[] = {
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
            };
            table_row(&t, row);
        }
        if (!table_print(&t, out))
            return false;

        /* Distance matrix, numactl -H style: one row and column per node. */
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
        if (!table_print(&m, out))
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

enum { L_ROOT, L_JSON };

/* One option per entry, compact, as the help lists them. */
/* clang-format off */
static const struct opt list_opts[] = {
    [L_ROOT] = {.name = "--root", .type = &opt_path, .arg = "DIR",
                .help = "describe the machine whose sys/ tree is under DIR\n"
                        "(default: $PMNODE_SYSFS_ROOT, else /)"},
    [L_JSON] = {.name = "--json", .type = &opt_flag,
                .help = "print one JSON object instead of a table"},
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
    } else if (!list_table(ctx, stdout)) {
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
             "private and who keeps it so, CPUs, capacity, free memory and distances;\n"
             "then its device-dax devices, the network interfaces and PCI devices\n"
             "(GPUs, NVMe, accelerators, CXL memory devices) near each node, and its\n"
             "CXL regions.",
    .notes = "Problems met during discovery are printed to stderr as warnings.",
};
/* clang-format on */
