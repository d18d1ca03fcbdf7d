/*
 * pmnode.c - the pmnode command-line tool.
 *
 * A thin client of the public API (include/pmnode.h) and nothing else: it
 * never reads /sys itself, so what it prints is exactly what a linked
 * program would see.  Each subcommand is one function that parses its own
 * options by hand (no getopt: its messages and argument permutation are
 * not under our control) and returns the exit status of the contract in
 * DESIGN.md: 0 success, 1 the check failed, 2 bad usage or input.
 *
 * Output goes through two small writers.  The JSON writer emits exactly
 * the shape of DESIGN.md, pretty-printed with two-space indentation (the
 * same layout as Python's json.dumps(indent=2)), escaping control
 * characters and replacing invalid UTF-8 so the output always parses.
 * The table writer pads columns to their widest cell, like numactl -H.
 * Problems the library met during discovery go to stderr only, so stdout
 * stays machine-readable in --json mode.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmnode.h"

enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1,
    EXIT_USAGE = 2,
};

/* ---- messages ---------------------------------------------------------- */

/* One line on stderr, "pmnode: ...": control characters from user input or
 * sysfs are replaced so the message cannot span lines. */
__attribute__((format(printf, 1, 2))) static void msg(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (char *p = buf; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            *p = '?';
    }
    fprintf(stderr, "pmnode: %s\n", buf);
}

/* Flush stdout; a write error (full disk, closed pipe) fails the command. */
static int finish_stdout(int status)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        msg("writing output: %s", pmn_strerror(errno != 0 ? errno : EIO));
        return EXIT_FAILED;
    }
    return status;
}

static void usage_main(FILE *out)
{
    fputs("usage: pmnode COMMAND [OPTIONS]\n"
          "       pmnode --help | --version\n"
          "\n"
          "Discover private memory NUMA nodes (CXL, device-dax, GPU, compressed).\n"
          "\n"
          "commands:\n"
          "  list [--root DIR] [--json]   list NUMA nodes, dax devices and CXL regions\n"
          "\n"
          "options:\n"
          "  -h, --help     show this help and exit\n"
          "  --version      print the library version and exit\n"
          "\n"
          "Run 'pmnode COMMAND --help' for a command's options.\n"
          "Exit status: 0 success, 1 the check failed, 2 bad usage or input.\n",
          out);
}

static void usage_list(FILE *out)
{
    fputs("usage: pmnode list [--root DIR] [--json]\n"
          "\n"
          "List the NUMA nodes of a machine: kind, memory tier, whether the node is\n"
          "private and who keeps it so, CPUs, capacity, free memory and distances;\n"
          "then its device-dax devices and CXL regions.\n"
          "\n"
          "options:\n"
          "  --root DIR   describe the machine whose sys/ tree is under DIR\n"
          "               (default: $PMNODE_SYSFS_ROOT, else /)\n"
          "  --json       print one JSON object instead of a table\n"
          "  -h, --help   show this help and exit\n"
          "\n"
          "Problems met during discovery are printed to stderr as warnings.\n",
          out);
}

/* ---- JSON writer ------------------------------------------------------- */

#define JW_MAX_DEPTH 16

struct jw {
    FILE *out;
    int depth;
    bool after_key;                   /* a key was written; its value follows */
    unsigned count[JW_MAX_DEPTH + 1]; /* members written at each depth */
};

static void jw_newline(struct jw *w, int depth)
{
    fputc('\n', w->out);
    for (int i = 0; i < depth; i++)
        fputs("  ", w->out);
}

/* Separator and indentation before a member of the open container. */
static void jw_member(struct jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth == 0)
        return;
    if (w->count[w->depth]++ > 0)
        fputc(',', w->out);
    jw_newline(w, w->depth);
}

/* Length of the valid UTF-8 sequence at @s, or 0 when it is not one
 * (overlong forms, surrogates and code points above U+10FFFF rejected). */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;

    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

static void jw_string_raw(struct jw *w, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    fputc('"', w->out);
    while (*s != '\0') {
        unsigned char c = *s;
        if (c >= 0x80) {
            size_t n = utf8_seq(s);
            if (n == 0) {
                fputs("\\ufffd", w->out);
                s++;
            } else {
                fwrite(s, 1, n, w->out);
                s += n;
            }
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", w->out); break;
        case '\\': fputs("\\\\", w->out); break;
        case '\b': fputs("\\b", w->out); break;
        case '\f': fputs("\\f", w->out); break;
        case '\n': fputs("\\n", w->out); break;
        case '\r': fputs("\\r", w->out); break;
        case '\t': fputs("\\t", w->out); break;
        default:
            if (c < 0x20)
                fprintf(w->out, "\\u%04x", c);
            else
                fputc(c, w->out);
        }
        s++;
    }
    fputc('"', w->out);
}

static void jw_key(struct jw *w, const char *key)
{
    jw_member(w);
    jw_string_raw(w, key);
    fputs(": ", w->out);
    w->after_key = true;
}

static void jw_open(struct jw *w, char c)
{
    jw_member(w);
    fputc(c, w->out);
    if (w->depth < JW_MAX_DEPTH)
        w->depth++;
    w->count[w->depth] = 0;
}

static void jw_close(struct jw *w, char c)
{
    unsigned n = w->count[w->depth];

    if (w->depth > 0)
        w->depth--;
    if (n > 0)
        jw_newline(w, w->depth);
    fputc(c, w->out);
    if (w->depth == 0)
        fputc('\n', w->out);
}

static void jw_null(struct jw *w)
{
    jw_member(w);
    fputs("null", w->out);
}

static void jw_bool(struct jw *w, bool v)
{
    jw_member(w);
    fputs(v ? "true" : "false", w->out);
}

static void jw_int(struct jw *w, long long v)
{
    jw_member(w);
    fprintf(w->out, "%lld", v);
}

static void jw_u64(struct jw *w, uint64_t v)
{
    jw_member(w);
    fprintf(w->out, "%" PRIu64, v);
}

/* The library's "unknown" conventions map to JSON null: a NULL string,
 * PMN_UNKNOWN, a negative id. */
static void jw_string_or_null(struct jw *w, const char *s)
{
    jw_member(w);
    if (s == NULL)
        fputs("null", w->out);
    else
        jw_string_raw(w, s);
}

/* A string the API promises is never NULL; null rather than a crash. */
static void jw_string(struct jw *w, const char *s)
{
    jw_string_or_null(w, s);
}

static void jw_u64_or_null(struct jw *w, uint64_t v)
{
    if (v == PMN_UNKNOWN)
        jw_null(w);
    else
        jw_u64(w, v);
}

static void jw_id_or_null(struct jw *w, int v)
{
    if (v < 0)
        jw_null(w);
    else
        jw_int(w, v);
}

/* ---- table writer ------------------------------------------------------ */

/* Rows of owned, sanitised cells, printed with every column padded to its
 * widest cell and two spaces between columns.  Allocation failure is
 * remembered and reported once, when the table is printed. */
struct table {
    size_t ncols;
    size_t nrows, cap;
    char **cells;
    bool right;  /* right-align every column */
    bool failed; /* out of memory */
};

/* Copy of @s for a terminal: control characters and bytes that are not
 * valid UTF-8 become '?'. */
static char *dup_clean(const char *s)
{
    char *d = strdup(s != NULL ? s : "");
    unsigned char *p = (unsigned char *)d;

    if (d == NULL)
        return NULL;
    while (*p != '\0') {
        size_t n = 1;
        if (*p >= 0x80 && (n = utf8_seq(p)) == 0) {
            *p = '?';
            n = 1;
        } else if (*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
        p += n;
    }
    return d;
}

static void table_row(struct table *t, const char *const *cells)
{
    if (t->failed)
        return;
    if (t->nrows == t->cap) {
        size_t cap = t->cap != 0 ? t->cap * 2 : 8;
        char **n = realloc(t->cells, cap * t->ncols * sizeof(*n));
        if (n == NULL) {
            t->failed = true;
            return;
        }
        t->cells = n;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        row[c] = dup_clean(cells[c]);
        if (row[c] == NULL) {
            while (c-- > 0)
                free(row[c]);
            t->failed = true;
            return;
        }
    }
    t->nrows++;
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

/* Display width of a cleaned cell: one column per UTF-8 code point. */
static size_t text_width(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

static void pad(FILE *out, size_t n)
{
    while (n-- > 0)
        fputc(' ', out);
}

/* Print and free the table; false when it could not be built. */
static bool table_print(struct table *t, FILE *out)
{
    size_t *width;

    if (t->failed || (width = calloc(t->ncols, sizeof(*width))) == NULL) {
        table_free(t);
        return false;
    }
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t n = text_width(t->cells[r * t->ncols + c]);
            if (n > width[c])
                width[c] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t fill = width[c] - text_width(s);
            if (c > 0)
                fputs("  ", out);
            if (t->right)
                pad(out, fill);
            fputs(s, out);
            if (!t->right && c + 1 < t->ncols)
                pad(out, fill);
        }
        fputc('\n', out);
    }
    free(width);
    table_free(t);
    return true;
}

/* ---- formatting helpers ------------------------------------------------ */

/* "15.6 GiB", "512 B", "-" for unknown. */
static const char *fmt_bytes(uint64_t v, char *buf, size_t n)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double d = (double)v;
    size_t u = 0;

    if (v == PMN_UNKNOWN)
        return "-";
    if (v < 1024) {
        snprintf(buf, n, "%" PRIu64 " B", v);
        return buf;
    }
    while (d >= 1024.0 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
        d /= 1024.0;
        u++;
    }
    snprintf(buf, n, "%.1f %s", d, unit[u]);
    return buf;
}

/* Decimal id, "-" when negative (unknown). */
static const char *fmt_id(int v, char *buf, size_t n)
{
    if (v < 0)
        return "-";
    snprintf(buf, n, "%d", v);
    return buf;
}

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

/* ---- pmnode list ------------------------------------------------------- */

static void list_json(const struct pmn_ctx *ctx, FILE *out)
{
    struct jw w = {.out = out};
    const struct pmn_node *node, *to;
    const struct pmn_dax *dax;
    const struct pmn_cxl_region *r;

    jw_open(&w, '{');
    jw_key(&w, "root");
    jw_string(&w, pmn_ctx_root(ctx));

    jw_key(&w, "nodes");
    jw_open(&w, '[');
    pmn_node_foreach(ctx, node) {
        int tier = pmn_node_tier(node);
        bool all_known = true;

        jw_open(&w, '{');
        jw_key(&w, "id");
        jw_int(&w, pmn_node_id(node));
        jw_key(&w, "kind");
        jw_string(&w, pmn_kind_name(pmn_node_kind(node)));
        jw_key(&w, "private");
        jw_bool(&w, pmn_node_is_private(node));
        jw_key(&w, "isolation");
        jw_string(&w, pmn_isolation_name(pmn_node_isolation(node)));
        jw_key(&w, "cpus");
        /* "" is a CPU-less node; null is a cpulist the kernel gave badly. */
        if (pmn_node_cpulist(node) != NULL)
            jw_string(&w, pmn_node_cpulist(node));
        else
            jw_null(&w);
        jw_key(&w, "capacity_bytes");
        jw_u64_or_null(&w, pmn_node_capacity(node));
        jw_key(&w, "free_bytes");
        jw_u64_or_null(&w, pmn_node_free(node));
        jw_key(&w, "tier");
        jw_id_or_null(&w, tier);

        /* A partial distance row would be a guess: all or null. */
        jw_key(&w, "distance");
        pmn_node_foreach(ctx, to) {
            if (pmn_node_distance(node, pmn_node_id(to)) < 0) {
                all_known = false;
                break;
            }
        }
        if (all_known) {
            jw_open(&w, '[');
            pmn_node_foreach(ctx, to)
                jw_int(&w, pmn_node_distance(node, pmn_node_id(to)));
            jw_close(&w, ']');
        } else {
            jw_null(&w);
        }

        jw_key(&w, "dax");
        dax = pmn_node_dax(node);
        jw_string_or_null(&w, dax != NULL ? pmn_dax_name(dax) : NULL);
        jw_close(&w, '}');
    }
    jw_close(&w, ']');

    jw_key(&w, "dax");
    jw_open(&w, '[');
    pmn_dax_foreach(ctx, dax) {
        jw_open(&w, '{');
        jw_key(&w, "name");
        jw_string(&w, pmn_dax_name(dax));
        jw_key(&w, "path");
        jw_string_or_null(&w, pmn_dax_path(dax));
        jw_key(&w, "size_bytes");
        jw_u64_or_null(&w, pmn_dax_size(dax));
        jw_key(&w, "align_bytes");
        jw_u64_or_null(&w, pmn_dax_align(dax));
        jw_key(&w, "mode");
        jw_string_or_null(&w, pmn_dax_mode_name(dax));
        jw_key(&w, "target_node");
        jw_id_or_null(&w, pmn_dax_target_node(dax));
        jw_key(&w, "numa_node");
        jw_id_or_null(&w, pmn_dax_numa_node(dax));
        jw_key(&w, "type");
        jw_string_or_null(&w, pmn_dax_type(dax));
        jw_close(&w, '}');
    }
    jw_close(&w, ']');

    jw_key(&w, "cxl");
    jw_open(&w, '[');
    pmn_cxl_foreach(ctx, r) {
        size_t ntargets = pmn_cxl_target_count(r);
        const struct pmn_dax *rdax = pmn_cxl_dax(r);

        jw_open(&w, '{');
        jw_key(&w, "name");
        jw_string(&w, pmn_cxl_name(r));
        jw_key(&w, "mode");
        jw_string_or_null(&w, pmn_cxl_mode(r));
        jw_key(&w, "size_bytes");
        jw_u64_or_null(&w, pmn_cxl_size(r));
        jw_key(&w, "targets");
        jw_open(&w, '[');
        for (size_t i = 0; i < ntargets; i++) {
            const char *t = pmn_cxl_target(r, i);
            if (t != NULL)
                jw_string(&w, t);
        }
        jw_close(&w, ']');
        jw_key(&w, "dax");
        jw_string_or_null(&w, rdax != NULL ? pmn_dax_name(rdax) : NULL);
        jw_key(&w, "node");
        jw_id_or_null(&w, pmn_cxl_node(r));
        jw_close(&w, '}');
    }
    jw_close(&w, ']');
    jw_close(&w, '}');
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
        static const char *const head[] = {"node", "kind", "tier", "private",
                                           "cpus", "capacity", "free", "dax"};
        table_row(&t, head);
        pmn_node_foreach(ctx, node) {
            char id[16], tier[16], priv[48], cap[32], fre[32];
            const char *cpus = pmn_node_cpulist(node);
            const struct pmn_dax *d = pmn_node_dax(node);
            const char *row[] = {
                fmt_id(pmn_node_id(node), id, sizeof(id)),
                pmn_kind_name(pmn_node_kind(node)),
                fmt_id(pmn_node_tier(node), tier, sizeof(tier)),
                private_label(node, priv, sizeof(priv)),
                cpus == NULL ? "?" : cpus[0] != '\0' ? cpus : "-",
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
        char (*buf)[16] = calloc(nnodes + 1, sizeof(*buf));
        if (row == NULL || buf == NULL) {
            free(row);
            free(buf);
            return false;
        }
        size_t i = 1;
        row[0] = "node";
        pmn_node_foreach(ctx, to) {
            row[i] = fmt_id(pmn_node_id(to), buf[i], sizeof(buf[i]));
            i++;
        }
        table_row(&m, row);
        pmn_node_foreach(ctx, node) {
            snprintf(buf[0], sizeof(buf[0]), "%d:", pmn_node_id(node));
            row[0] = buf[0];
            i = 1;
            pmn_node_foreach(ctx, to) {
                row[i] = fmt_id(pmn_node_distance(node, pmn_node_id(to)), buf[i],
                                sizeof(buf[i]));
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
        pmn_dax_foreach(ctx, dax) {
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
    if (pmn_cxl_count(ctx) == 0) {
        fputs("no cxl regions\n", out);
    } else {
        struct table t = {.ncols = 4};
        static const char *const head[] = {"cxl", "mode", "size", "node"};
        table_row(&t, head);
        pmn_cxl_foreach(ctx, r) {
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

/* Errors that mean the root or the environment given to us is wrong. */
static bool is_input_error(int err)
{
    return err == -ENOENT || err == -ENOTDIR || err == -EACCES || err == -EINVAL ||
           err == -ENAMETOOLONG || err == -ELOOP || err == PMN_E_NO_NUMA ||
           err == PMN_E_CONFIG;
}

static int cmd_list(int argc, char **argv)
{
    const char *root = NULL;
    bool json = false;
    struct pmn_ctx *ctx = NULL;
    int err, status = EXIT_OK;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage_list(stdout);
            return finish_stdout(EXIT_OK);
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--root") == 0) {
            if (i + 1 >= argc) {
                msg("list: option '--root' needs a directory: %s (try 'pmnode list --help')",
                    pmn_strerror(-EINVAL));
                return EXIT_USAGE;
            }
            root = argv[++i];
        } else if (strncmp(a, "--root=", 7) == 0) {
            root = a + 7;
        } else {
            msg("list: %s '%s': %s (try 'pmnode list --help')",
                a[0] == '-' ? "unknown option" : "unexpected argument", a,
                pmn_strerror(-EINVAL));
            return EXIT_USAGE;
        }
    }
    if (root != NULL && root[0] == '\0') {
        msg("list: --root needs a directory, got an empty string: %s", pmn_strerror(-ENOENT));
        return EXIT_USAGE;
    }

    if (root != NULL) {
        err = pmn_ctx_new_at(&ctx, root);
    } else {
        err = pmn_ctx_new(&ctx);
        root = getenv("PMNODE_SYSFS_ROOT");
        if (root == NULL || root[0] == '\0')
            root = "/";
    }
    if (err == PMN_E_CONFIG) {
        msg("list: cannot discover '%s': %s (a PMNODE_* variable or the configuration file)",
            root, pmn_strerror(err));
        return EXIT_USAGE;
    }
    if (err < 0) {
        msg("list: cannot discover '%s': %s", root, pmn_strerror(err));
        return is_input_error(err) ? EXIT_USAGE : EXIT_FAILED;
    }

    if (json) {
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

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (cmd == NULL) {
        msg("missing command: %s (try 'pmnode --help')", pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        usage_main(stdout);
        return finish_stdout(EXIT_OK);
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("pmnode %s\n", pmn_version());
        return finish_stdout(EXIT_OK);
    }
    if (strcmp(cmd, "list") == 0)
        return cmd_list(argc - 1, argv + 1);

    msg("%s '%s': %s (try 'pmnode --help')",
        cmd[0] == '-' ? "unknown option" : "unknown command", cmd, pmn_strerror(-EINVAL));
    return EXIT_USAGE;
}
