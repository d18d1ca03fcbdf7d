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
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
          "Discover private memory NUMA nodes (CXL, device-dax, GPU, compressed)\n"
          "and check that memory mapped on them stays there.\n"
          "\n"
          "commands:\n"
          "  list [--root DIR] [--json]   list NUMA nodes, dax devices and CXL regions\n"
          "  verify --node N --size BYTES [--backend B] [--thp] [--headroom BYTES] [--json]\n"
          "                               map memory strictly on a node, populate it and\n"
          "                               check where every page landed\n"
          "  run (--node N | --kind K | --private) [--threshold BYTES] [--spill N,M]\n"
          "      [--stats=PATH] [--log LEVEL] -- PROG [ARGS...]\n"
          "                               run an unmodified program with its heap on a\n"
          "                               node (the LD_PRELOAD shim)\n"
          "  ctier [--node N] [--size BYTES] [--pattern P] [--stand-in] [--json]\n"
          "                               demote memory to the compressed tier and check\n"
          "                               that writes bring back exactly their pages\n"
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

static void usage_verify(FILE *out)
{
    fputs("usage: pmnode verify --node N --size BYTES [--backend B] [--thp]\n"
          "                     [--headroom BYTES] [--json]\n"
          "\n"
          "Map one region strictly on node N (bind, populate, verify, as a linked\n"
          "program would with pmn_region_map), then count independently where its\n"
          "pages are (pmn_where).  Prints pages per node, pages not present, the\n"
          "populate time and rate, the cost of verification and a verdict.\n"
          "\n"
          "options:\n"
          "  --node N          the node the memory must be on (optional for dax: the\n"
          "                    device's own node is expected)\n"
          "  --size BYTES      bytes to map: a number, optionally followed by k, M, G\n"
          "                    or T (binary multiples: 64M = 64 MiB); rounded up to\n"
          "                    the backing's granule\n"
          "  --backend B       where the pages come from (default anon):\n"
          "                      anon           node-bound anonymous memory\n"
          "                      memfd          node-bound memfd (shareable by fd)\n"
          "                      hugetlb[:SIZE] huge pages from the node's own pool\n"
          "                                     (SIZE as 2M or 1G; default size)\n"
          "                      dax:PATH       device-dax device (/dev/dax0.0)\n"
          "  --thp             ask for transparent huge pages (anon and memfd)\n"
          "  --headroom BYTES  free memory to leave on the node beyond the request\n"
          "                    (default: the library's, max(64 MiB, 1% of the node))\n"
          "  --json            print one JSON object instead of text:\n"
          "                    {\"node\": 0, \"backend\": \"anon\", \"size_bytes\": 67108864,\n"
          "                     \"page_size\": 4096, \"pages\": 16384,\n"
          "                     \"pages_per_node\": {\"0\": 16384}, \"not_present\": 0,\n"
          "                     \"unknown\": 0, \"misplaced\": 0, \"populate_ns\": 8000000,\n"
          "                     \"populate_gib_per_s\": 7.812, \"verify_ns\": 400000,\n"
          "                     \"ok\": true}\n"
          "  -h, --help        show this help and exit\n"
          "\n"
          "Exit status: 0 every page is on the node; 1 a page is misplaced or not\n"
          "present, or mapping failed; 2 bad usage or input: no such node, a node\n"
          "without memory or outside the cpuset, a size that does not fit, a missing\n"
          "dax device, or a root (PMNODE_SYSFS_ROOT) describing another machine.\n",
          out);
}

static void usage_run(FILE *out)
{
    fputs("usage: pmnode run (--node N | --kind K | --private) [--threshold BYTES]\n"
          "                  [--spill N,M] [--stats=PATH] [--log LEVEL] -- PROG [ARGS...]\n"
          "\n"
          "Run an unmodified program with its heap (the whole malloc family, and C++\n"
          "new/delete through it) served by libpmnode on the node asked for: the\n"
          "LD_PRELOAD shim libpmnode-preload.so, configured through PMNODE_PRELOAD.\n"
          "The target is checked before PROG starts; then pmnode execs PROG, so\n"
          "PROG's exit status and signals are its own.  Child processes inherit the\n"
          "shim and its configuration.\n"
          "\n"
          "options (exactly one of --node, --kind, --private):\n"
          "  --node N           the node the heap must be on\n"
          "  --kind K           the first node of kind K with memory (dram, hbm, nvm,\n"
          "                     spm, cxl, gpu, compressed)\n"
          "  --private          a private node (kernel- or administrator-marked)\n"
          "  --threshold BYTES  requests smaller than BYTES go to libc (default 0:\n"
          "                     every request to the node); k, M, G, T suffixes\n"
          "  --spill N,M        explicit spill list: nodes to use, in order, when the\n"
          "                     target is full; every byte there is counted\n"
          "  --stats=PATH       write a JSON summary when the program exits (calls,\n"
          "                     bytes per node, peak) to PATH, made absolute so a\n"
          "                     program that changes directory still writes there.\n"
          "                     Every process of the program (children too) writes\n"
          "                     its own when it exits, so PATH keeps the last one;\n"
          "                     %p in PATH becomes the process id (one file each).\n"
          "                     A file, not stderr: many programs close stderr\n"
          "                     before the summary is written at exit\n"
          "  --log LEVEL        shim messages on stderr: error, warn, info or debug\n"
          "  -h, --help         show this help and exit\n"
          "\n"
          "The shim is found in this order: $PMNODE_PRELOAD_LIB; the build tree\n"
          "(<dir of pmnode>/../libpmnode/preload/libpmnode-preload.so); the\n"
          "installed library directory.  An existing LD_PRELOAD is kept after it;\n"
          "an existing PMNODE_PRELOAD is replaced.\n"
          "\n"
          "Exit status: PROG's own once it runs; 2 bad usage or input: no such node,\n"
          "a node without memory, no node of the kind, no private node, a root\n"
          "(PMNODE_SYSFS_ROOT) describing another machine, no preload library;\n"
          "126 PROG cannot be executed; 127 PROG not found.  The shim itself stops\n"
          "the program with status 2 and one 'pmnode-preload:' line when it cannot\n"
          "serve the configuration.\n",
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

/* A finite double with three decimals; null for NaN or infinity. */
static void jw_double(struct jw *w, double v)
{
    jw_member(w);
    if (v != v || v > 1e300 || v < -1e300)
        fputs("null", w->out);
    else
        fprintf(w->out, "%.3f", v);
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

/* ---- pmnode verify ----------------------------------------------------- */

/*
 * One region through the whole strict-placement path, then a second
 * opinion.  pmn_region_map() binds, populates and verifies on its own; the
 * tool does not take its word for it but asks pmn_where() again over the
 * region (the query any user can run) and fails when either disagrees with
 * the node asked for.
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

struct verify_opts {
    int node; /* -1: not given */
    uint64_t size;
    enum pmn_backing_type type;
    const char *backend; /* as given, for messages */
    const char *dax;     /* PMN_BACKING_DAX: device path or name */
    uint64_t huge_size;  /* PMN_BACKING_HUGETLB: 0 = the default size */
    bool thp;
    bool have_headroom;
    uint64_t headroom;
    bool json;
};

/*
 * Parse a byte count: decimal digits, then optionally one of k, M, G, T
 * (either case; binary multiples), optionally followed by "iB".  No sign,
 * no spaces, no hex.  0, -EINVAL for anything else, -ERANGE when the value
 * does not fit a size_t.
 */
static int parse_bytes(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;
    const char *p = s;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    switch (*p) {
    case '\0': break;
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: return -EINVAL;
    }
    if (shift != 0) {
        p++;
        if (p[0] == 'i' && p[1] == 'B')
            p += 2;
    }
    if (*p != '\0')
        return -EINVAL;
    if (shift != 0 && v > (UINT64_MAX >> shift))
        return -ERANGE;
    v <<= shift;
    if (v > SIZE_MAX)
        return -ERANGE;
    *out = v;
    return 0;
}

/* A node id: decimal digits only, at most INT_MAX. */
static int parse_node(const char *s, int *out)
{
    long long v = 0;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (*s - '0');
        if (v > INT_MAX)
            return -ERANGE;
    }
    if (*s != '\0')
        return -EINVAL;
    *out = (int)v;
    return 0;
}

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
        if (parse_bytes(s + 8, &o->huge_size) != 0 || o->huge_size == 0)
            return false;
    } else if (strncmp(s, "dax:", 4) == 0 && s[4] != '\0') {
        o->type = PMN_BACKING_DAX;
        o->dax = s + 4;
    } else {
        return false;
    }
    return true;
}

/*
 * The value of option @name at argv[*i], given as "--name VALUE" or
 * "--name=VALUE"; NULL when argv[*i] is another option.  Sets *missing
 * (and returns NULL) when the option is there without its value.
 */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    *missing = false;
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

/* Usage message for a bad --size/--headroom value. */
static void bad_bytes(const char *opt, const char *v, int err)
{
    if (err == -ERANGE)
        msg("verify: %s '%s' is too large: %s", opt, v, pmn_strerror(-ERANGE));
    else
        msg("verify: %s '%s' is not a byte count (a number, optionally followed by k, M, "
            "G or T): %s",
            opt, v, pmn_strerror(-EINVAL));
}

/* Returns -1 to go on, else the exit status. */
static int verify_parse(int argc, char **argv, struct verify_opts *o)
{
    bool have_size = false;

    *o = (struct verify_opts){.node = -1, .type = PMN_BACKING_ANON, .backend = "anon"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool missing = false;
        int err;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage_verify(stdout);
            return finish_stdout(EXIT_OK);
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--thp") == 0) {
            o->thp = true;
        } else if ((v = opt_value(argc, argv, &i, "--node", &missing)) != NULL) {
            if ((err = parse_node(v, &o->node)) != 0) {
                msg("verify: --node '%s' is not a node id (0, 1, ...): %s", v,
                    pmn_strerror(err));
                return EXIT_USAGE;
            }
        } else if (!missing && (v = opt_value(argc, argv, &i, "--size", &missing)) != NULL) {
            if ((err = parse_bytes(v, &o->size)) != 0) {
                bad_bytes("--size", v, err);
                return EXIT_USAGE;
            }
            if (o->size == 0) {
                msg("verify: --size must be at least one byte: %s", pmn_strerror(-EINVAL));
                return EXIT_USAGE;
            }
            have_size = true;
        } else if (!missing &&
                   (v = opt_value(argc, argv, &i, "--headroom", &missing)) != NULL) {
            if ((err = parse_bytes(v, &o->headroom)) != 0) {
                bad_bytes("--headroom", v, err);
                return EXIT_USAGE;
            }
            o->have_headroom = true;
        } else if (!missing &&
                   (v = opt_value(argc, argv, &i, "--backend", &missing)) != NULL) {
            if (!parse_backend(v, o)) {
                msg("verify: unknown backend '%s' (anon, memfd, hugetlb[:SIZE] or "
                    "dax:PATH): %s",
                    v, pmn_strerror(-EINVAL));
                return EXIT_USAGE;
            }
        } else if (missing) {
            msg("verify: option '%s' needs a value: %s (try 'pmnode verify --help')", a,
                pmn_strerror(-EINVAL));
            return EXIT_USAGE;
        } else {
            msg("verify: %s '%s': %s (try 'pmnode verify --help')",
                a[0] == '-' ? "unknown option" : "unexpected argument", a,
                pmn_strerror(-EINVAL));
            return EXIT_USAGE;
        }
    }
    if (o->node < 0 && o->type != PMN_BACKING_DAX) {
        msg("verify: missing --node N: %s (try 'pmnode verify --help')", pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    if (!have_size) {
        msg("verify: missing --size BYTES: %s (try 'pmnode verify --help')",
            pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    if (o->thp && o->type != PMN_BACKING_ANON && o->type != PMN_BACKING_MEMFD) {
        msg("verify: --thp applies to the anon and memfd backends, not '%s': %s", o->backend,
            pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    return -1;
}

/*
 * Exit status for a failure to set up or map: 2 when the request cannot be
 * met on this machine as asked (wrong node, device or size, another
 * machine's root), 1 for anything else (out of memory, kernel errors,
 * misplaced memory).
 */
static int verify_status(int err)
{
    switch (err) {
    case PMN_E_REMOTE_ROOT:
    case PMN_E_NO_NODE:
    case PMN_E_NOT_MEMORY_NODE:
    case PMN_E_NOT_ALLOWED:
    case PMN_E_NODE_FULL:
    case PMN_E_NO_HUGEPAGES:
    case PMN_E_NO_DEVICE:
    case -EINVAL:
    case -ENOENT:
    case -ENOTDIR:
    case -ENODEV:
    case -ENXIO:
    case -ENAMETOOLONG:
    case -ELOOP:
    case -EOVERFLOW:
        return EXIT_USAGE;
    default:
        return EXIT_FAILED;
    }
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

    jw_open(&w, '{');
    jw_key(&w, "node");
    jw_id_or_null(&w, v->expect);
    jw_key(&w, "backend");
    jw_string(&w, pmn_backing_type_name(o->type));
    jw_key(&w, "size_bytes");
    jw_u64(&w, pmn_region_size(r));
    jw_key(&w, "page_size");
    jw_u64(&w, v->w.page_size);
    jw_key(&w, "pages");
    jw_u64(&w, v->w.pages);
    jw_key(&w, "pages_per_node");
    jw_open(&w, '{');
    for (size_t i = 0; i < v->w.nnodes && i < PMN_STATS_MAX_NODES; i++) {
        if (v->w.node[i].pages == 0)
            continue;
        snprintf(id, sizeof(id), "%d", v->w.node[i].node);
        jw_key(&w, id);
        jw_u64(&w, v->w.node[i].pages);
    }
    jw_close(&w, '}');
    jw_key(&w, "not_present");
    jw_u64(&w, v->w.not_present);
    jw_key(&w, "unknown");
    jw_u64(&w, v->w.unknown);
    jw_key(&w, "misplaced");
    jw_u64(&w, v->misplaced);
    jw_key(&w, "populate_ns");
    jw_u64(&w, pmn_region_populate_ns(r));
    jw_key(&w, "populate_gib_per_s");
    jw_double(&w, gib_per_s(pmn_region_size(r), pmn_region_populate_ns(r)));
    jw_key(&w, "verify_ns");
    jw_u64(&w, pmn_region_verify_ns(r));
    jw_key(&w, "ok");
    jw_bool(&w, v->ok);
    jw_close(&w, '}');
}

/* Returns false when out of memory. */
static bool verify_text(const struct verify_opts *o, const struct pmn_backing *b,
                        const struct pmn_region *r, const struct verify_result *v, FILE *out)
{
    struct table t = {.ncols = 2};
    size_t size = pmn_region_size(r);
    uint64_t pop = pmn_region_populate_ns(r), ver = pmn_region_verify_ns(r);
    char backend[64], node[16], sz[64], gran[32], psz[32], pages[32], np[32], unk[32],
        mis[32], popl[64], verl[96], verdict[160], b1[32], label[32];

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
                 "FAILED: pmn_where examined only %" PRIu64 " pages of the region",
                 v->w.pages);
    else
        snprintf(verdict, sizeof(verdict),
                 "FAILED: %" PRIu64 " misplaced, %" PRIu64 " not present, %" PRIu64
                 " unknown of %" PRIu64 " pages",
                 v->misplaced, v->w.not_present,
                 o->type == PMN_BACKING_DAX ? 0 : v->w.unknown, v->w.pages);

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
        {"not present", np},
        {"unknown", unk},
        {"misplaced", mis},
        {"populate", popl},
        {"verify", verl},
        {"verdict", verdict},
    };
    for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
        table_row(&t, tail[i]);
    return table_print(&t, out);
}

static int cmd_verify(int argc, char **argv)
{
    struct verify_opts o;
    struct pmn_ctx *ctx = NULL;
    struct pmn_backing_params *p = NULL;
    struct pmn_backing *b = NULL;
    struct pmn_region *r = NULL;
    struct verify_result v;
    char target[PATH_MAX + 16];
    const char *root;
    int err, status;

    if ((status = verify_parse(argc, argv, &o)) >= 0)
        return status;
    verify_target(&o, target, sizeof(target));

    root = getenv("PMNODE_SYSFS_ROOT");
    if (root == NULL || root[0] == '\0')
        root = "/";
    err = pmn_ctx_new(&ctx);
    if (err < 0) {
        msg("verify: cannot discover '%s': %s", root, pmn_strerror(err));
        return is_input_error(err) ? EXIT_USAGE : EXIT_FAILED;
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
        msg("verify: cannot use %s for %s: %s", target, o.backend, pmn_strerror(err));
        status = verify_status(err);
        goto out;
    }

    err = pmn_region_map(b, (size_t)o.size, &r);
    if (err < 0) {
        msg("verify: mapping %" PRIu64 " bytes (%s) on %s: %s", o.size, o.backend, target,
            pmn_strerror(err));
        status = verify_status(err);
        goto out;
    }

    /* The second opinion: the library verified; ask again as a user would. */
    v = (struct verify_result){.w.struct_size = sizeof(v.w),
                               .expect = o.type == PMN_BACKING_DAX && o.node < 0
                                             ? pmn_region_node(r)
                                             : o.node};
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

/* ---- pmnode run -------------------------------------------------------- */

/*
 * Run an unmodified program under the LD_PRELOAD shim.  Everything that can
 * be checked before the program starts is checked here, against the same
 * discovery the shim will make (the environment, PMNODE_SYSFS_ROOT and
 * PMNODE_PRIVATE_NODES included, is passed on unchanged): the target exists
 * on this machine and has memory, the spill nodes too, the shim library is
 * there.  Then the options become one PMNODE_PRELOAD string, the shim goes
 * first in LD_PRELOAD and pmnode execs the program, so its exit status and
 * its signals reach the caller untouched.  What only the shim can see (it
 * maps the memory) it reports itself: one "pmnode-preload:" line, status 2.
 *
 * PMNODE_PRELOAD separates options with ';' (or spaces), so a stats path
 * holding either cannot be said and is refused here; a relative path is
 * made absolute first, because the program may change directory.
 */

#ifndef PMN_LIBDIR
#define PMN_LIBDIR "/usr/local/lib"
#endif
#define PRELOAD_NAME "libpmnode-preload.so"
#define RUN_MAX_SPILL 63 /* the target and its spill list: 64 nodes at most */

enum {
    EXIT_CANNOT_EXEC = 126, /* as a shell says it */
    EXIT_NOT_FOUND = 127,
};

struct run_opts {
    int node;              /* --node; -1: not given */
    const char *kind;      /* --kind as given; NULL: not given */
    bool priv;             /* --private */
    int ntargets;          /* how many of the three were given */
    bool have_threshold;
    uint64_t threshold;
    const char *spill_arg; /* --spill as given, for messages */
    int spill[RUN_MAX_SPILL];
    size_t nspill;
    const char *stats;     /* NULL: no summary */
    const char *log;
    char **prog;           /* NULL-terminated argv of the program */
};

/* "N,M,...": distinct node ids.  0 or -EINVAL (-ERANGE: too many). */
static int parse_spill(const char *s, struct run_opts *o)
{
    const char *p = s;

    o->nspill = 0;
    for (;;) {
        char id[16];
        size_t n = strcspn(p, ",");
        int node;

        if (n == 0 || n >= sizeof(id))
            return -EINVAL;
        memcpy(id, p, n);
        id[n] = '\0';
        if (parse_node(id, &node) != 0)
            return -EINVAL;
        for (size_t i = 0; i < o->nspill; i++)
            if (o->spill[i] == node)
                return -EINVAL;
        if (o->nspill == RUN_MAX_SPILL)
            return -ERANGE;
        o->spill[o->nspill++] = node;
        if (p[n] == '\0')
            return 0;
        p += n + 1;
    }
}

static bool run_log_level(const char *s)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};

    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (strcmp(s, levels[i]) == 0)
            return true;
    return false;
}

/* Returns -1 to go on, else the exit status. */
static int run_parse(int argc, char **argv, struct run_opts *o)
{
    *o = (struct run_opts){.node = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool missing = false;
        int err;

        if (strcmp(a, "--") == 0) {
            o->prog = argv + i + 1;
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage_run(stdout);
            return finish_stdout(EXIT_OK);
        } else if (strcmp(a, "--private") == 0) {
            o->priv = true;
            o->ntargets++;
        } else if (strcmp(a, "--stats") == 0 || strcmp(a, "--stats=") == 0) {
            msg("run: --stats needs a file: --stats=PATH: %s", pmn_strerror(-EINVAL));
            return EXIT_USAGE;
        } else if (strncmp(a, "--stats=", 8) == 0) {
            o->stats = a + 8;
        } else if ((v = opt_value(argc, argv, &i, "--node", &missing)) != NULL) {
            if ((err = parse_node(v, &o->node)) != 0) {
                msg("run: --node '%s' is not a node id (0, 1, ...): %s", v, pmn_strerror(err));
                return EXIT_USAGE;
            }
            o->ntargets++;
        } else if (!missing && (v = opt_value(argc, argv, &i, "--kind", &missing)) != NULL) {
            o->kind = v;
            o->ntargets++;
        } else if (!missing &&
                   (v = opt_value(argc, argv, &i, "--threshold", &missing)) != NULL) {
            if ((err = parse_bytes(v, &o->threshold)) != 0) {
                msg("run: --threshold '%s' is %s: %s", v,
                    err == -ERANGE ? "too large"
                                   : "not a byte count (a number, optionally followed by "
                                     "k, M, G or T)",
                    pmn_strerror(err));
                return EXIT_USAGE;
            }
            o->have_threshold = true;
        } else if (!missing && (v = opt_value(argc, argv, &i, "--spill", &missing)) != NULL) {
            o->spill_arg = v;
            if ((err = parse_spill(v, o)) != 0) {
                msg("run: --spill '%s' is not a list of distinct node ids (N,M,...; at most "
                    "%d): %s",
                    v, RUN_MAX_SPILL, pmn_strerror(err));
                return EXIT_USAGE;
            }
        } else if (!missing && (v = opt_value(argc, argv, &i, "--log", &missing)) != NULL) {
            if (!run_log_level(v)) {
                msg("run: --log '%s' is not a level (error, warn, info or debug): %s", v,
                    pmn_strerror(-EINVAL));
                return EXIT_USAGE;
            }
            o->log = v;
        } else if (missing) {
            msg("run: option '%s' needs a value: %s (try 'pmnode run --help')", a,
                pmn_strerror(-EINVAL));
            return EXIT_USAGE;
        } else if (a[0] == '-') {
            msg("run: unknown option '%s': %s (try 'pmnode run --help')", a,
                pmn_strerror(-EINVAL));
            return EXIT_USAGE;
        } else {
            msg("run: unexpected argument '%s': %s (the program goes after '--'; "
                "a stats file is --stats=PATH)",
                a, pmn_strerror(-EINVAL));
            return EXIT_USAGE;
        }
    }
    if (o->ntargets != 1) {
        msg("run: %s: %s (try 'pmnode run --help')",
            o->ntargets == 0 ? "missing the target: --node N, --kind K or --private"
                             : "give only one of --node, --kind and --private",
            pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    for (size_t i = 0; o->node >= 0 && i < o->nspill; i++) {
        if (o->spill[i] == o->node) {
            msg("run: --spill '%s' lists the target node %d: %s", o->spill_arg, o->node,
                pmn_strerror(-EINVAL));
            return EXIT_USAGE;
        }
    }
    if (o->prog == NULL || o->prog[0] == NULL || o->prog[0][0] == '\0') {
        msg("run: missing the program: %s (pmnode run OPTIONS -- PROG [ARGS...])",
            pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    return -1;
}

/* Whether the library would give a strict backing on @node: 0, or
 * PMN_E_NO_NODE, PMN_E_NOT_MEMORY_NODE, PMN_E_REMOTE_ROOT, -ENOMEM. */
static int run_check_node(struct pmn_ctx *ctx, int node)
{
    struct pmn_backing_params *p = NULL;
    struct pmn_backing *b = NULL;
    int err;

    if ((err = pmn_backing_params_new(&p)) == 0 &&
        (err = pmn_backing_params_set_node(p, node)) == 0)
        err = pmn_backing_new(ctx, p, &b);
    pmn_backing_free(b);
    pmn_backing_params_free(p);
    return err;
}

static int run_status(int err)
{
    return err == -ENOMEM ? EXIT_FAILED : EXIT_USAGE;
}

/* The target of --kind or --private exists here with memory.  Returns -1 to
 * go on, else the exit status; sets *kind for --kind. */
static int run_check_target(struct pmn_ctx *ctx, const struct run_opts *o, enum pmn_kind *kind)
{
    const struct pmn_node *node;
    size_t candidates = 0;
    int err, last = 0;

    if (o->node >= 0) {
        if ((err = run_check_node(ctx, o->node)) < 0) {
            msg("run: cannot place the heap on node %d: %s", o->node, pmn_strerror(err));
            return run_status(err);
        }
        return -1;
    }
    if (o->kind != NULL && pmn_kind_parse(o->kind, kind) != 0) {
        msg("run: --kind '%s' is not a kind (dram, hbm, nvm, spm, cxl, gpu, compressed): %s",
            o->kind, pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    pmn_node_foreach(ctx, node) {
        if (o->kind != NULL ? pmn_node_kind(node) != *kind : !pmn_node_is_private(node))
            continue;
        candidates++;
        if ((err = run_check_node(ctx, pmn_node_id(node))) == 0)
            return -1;
        if (err == -ENOMEM) {
            msg("run: %s", pmn_strerror(err));
            return EXIT_FAILED;
        }
        last = err;
    }
    if (candidates == 0 && o->kind != NULL)
        msg("run: no node of kind '%s' on this machine: %s", pmn_kind_name(*kind),
            pmn_strerror(PMN_E_NO_MATCH));
    else if (candidates == 0)
        msg("run: no private node on this machine (an administrator marks one with "
            "PMNODE_PRIVATE_NODES): %s",
            pmn_strerror(PMN_E_NO_MATCH));
    else if (o->kind != NULL)
        msg("run: no node of kind '%s' can take the heap: %s", pmn_kind_name(*kind),
            pmn_strerror(last));
    else
        msg("run: no private node can take the heap: %s", pmn_strerror(last));
    return EXIT_USAGE;
}

/* A character PMNODE_PRELOAD or LD_PRELOAD could not carry in a value. */
static bool bad_path_char(const char *s, const char *extra)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == ';' || strchr(extra, *s) != NULL)
            return true;
    return false;
}

/* --stats PATH made absolute into @out.  Returns -1 to go on, else the
 * exit status. */
static int run_stats_path(const char *path, char *out, size_t n)
{
    char cwd[PATH_MAX];
    int len;

    if (path[0] == '/') {
        len = snprintf(out, n, "%s", path);
    } else {
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            msg("run: --stats '%s': cannot make it absolute: %s", path, pmn_strerror(errno));
            return EXIT_USAGE;
        }
        len = snprintf(out, n, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", path);
    }
    if (len < 0 || (size_t)len >= n) {
        msg("run: --stats '%s': %s", path, pmn_strerror(-ENAMETOOLONG));
        return EXIT_USAGE;
    }
    if (bad_path_char(out, "")) {
        msg("run: --stats '%s': PMNODE_PRELOAD cannot carry a path with ';', spaces or "
            "control characters: %s",
            out, pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    /* The shim writes at exit, too late to complain: check the directory. */
    if (strncmp(out, "/dev/", 5) != 0) {
        char dir[PATH_MAX];
        char *slash;

        memcpy(dir, out, (size_t)len + 1);
        slash = strrchr(dir, '/');
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        if (access(dir, W_OK | X_OK) != 0) {
            msg("run: --stats '%s': cannot write in '%s': %s", path, dir,
                pmn_strerror(errno));
            return EXIT_USAGE;
        }
    }
    return -1;
}

/* The shim library: $PMNODE_PRELOAD_LIB, the build tree, the installed
 * libdir.  Returns -1 to go on, else the exit status. */
static int run_find_preload(char *out, size_t n)
{
    const char *env = getenv("PMNODE_PRELOAD_LIB");
    char exe[PATH_MAX], cand[PATH_MAX + 64];
    ssize_t len;

    if (env != NULL && env[0] != '\0') {
        if (access(env, R_OK) != 0) {
            msg("run: PMNODE_PRELOAD_LIB '%s': %s", env, pmn_strerror(errno));
            return EXIT_USAGE;
        }
        snprintf(out, n, "%s", env);
        return -1;
    }
    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        char *slash;

        exe[len] = '\0';
        if ((slash = strrchr(exe, '/')) != NULL) {
            *slash = '\0';
            snprintf(cand, sizeof(cand), "%s/../libpmnode/preload/" PRELOAD_NAME, exe);
            if (access(cand, R_OK) == 0 && realpath(cand, out) != NULL)
                return -1;
        }
    }
    if (access(PMN_LIBDIR "/" PRELOAD_NAME, R_OK) == 0) {
        snprintf(out, n, "%s", PMN_LIBDIR "/" PRELOAD_NAME);
        return -1;
    }
    msg("run: cannot find " PRELOAD_NAME " (in the build tree next to pmnode, or in "
        PMN_LIBDIR "; set PMNODE_PRELOAD_LIB): %s",
        pmn_strerror(-ENOENT));
    return EXIT_USAGE;
}

static int cmd_run(int argc, char **argv)
{
    struct run_opts o;
    struct pmn_ctx *ctx = NULL;
    enum pmn_kind kind = PMN_KIND_UNKNOWN;
    char lib[PATH_MAX], stats[PATH_MAX], conf[2 * PATH_MAX], *preload;
    const char *root, *old;
    size_t len;
    int err, status;

    if ((status = run_parse(argc, argv, &o)) >= 0)
        return status;
    if (o.stats != NULL && (status = run_stats_path(o.stats, stats, sizeof(stats))) >= 0)
        return status;
    if ((status = run_find_preload(lib, sizeof(lib))) >= 0)
        return status;
    if (bad_path_char(lib, ":")) {
        msg("run: LD_PRELOAD cannot carry the path '%s' (spaces, ':' or ';'): %s", lib,
            pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }

    root = getenv("PMNODE_SYSFS_ROOT");
    if (root == NULL || root[0] == '\0')
        root = "/";
    err = pmn_ctx_new(&ctx);
    if (err < 0) {
        msg("run: cannot discover '%s': %s", root, pmn_strerror(err));
        return is_input_error(err) ? EXIT_USAGE : EXIT_FAILED;
    }
    if (!pmn_ctx_is_local(ctx)) {
        msg("run: cannot place memory with root '%s': %s", pmn_ctx_root(ctx),
            pmn_strerror(PMN_E_REMOTE_ROOT));
        pmn_ctx_unref(ctx);
        return EXIT_USAGE;
    }
    status = run_check_target(ctx, &o, &kind);
    for (size_t i = 0; status < 0 && i < o.nspill; i++) {
        if ((err = run_check_node(ctx, o.spill[i])) < 0) {
            msg("run: --spill node %d: %s", o.spill[i], pmn_strerror(err));
            status = run_status(err);
        }
    }
    pmn_ctx_unref(ctx);
    if (status >= 0)
        return status;

    /* PMNODE_PRELOAD: "node=N" | "kind=K" | "private", then ";key=value"s. */
    if (o.node >= 0)
        len = (size_t)snprintf(conf, sizeof(conf), "node=%d", o.node);
    else if (o.kind != NULL)
        len = (size_t)snprintf(conf, sizeof(conf), "kind=%s", pmn_kind_name(kind));
    else
        len = (size_t)snprintf(conf, sizeof(conf), "private");
    if (o.have_threshold)
        len += (size_t)snprintf(conf + len, sizeof(conf) - len, ";threshold=%" PRIu64,
                                o.threshold);
    for (size_t i = 0; i < o.nspill; i++)
        len += (size_t)snprintf(conf + len, sizeof(conf) - len, "%s%d",
                                i == 0 ? ";spill=" : ",", o.spill[i]);
    if (o.stats != NULL)
        len += (size_t)snprintf(conf + len, sizeof(conf) - len, ";stats=%s", stats);
    if (o.log != NULL)
        len += (size_t)snprintf(conf + len, sizeof(conf) - len, ";log=%s", o.log);

    /* LD_PRELOAD: the shim first, whatever was preloaded already after it. */
    old = getenv("LD_PRELOAD");
    len = strlen(lib) + (old != NULL ? strlen(old) : 0) + 2;
    if ((preload = malloc(len)) == NULL) {
        msg("run: %s", pmn_strerror(-ENOMEM));
        return EXIT_FAILED;
    }
    snprintf(preload, len, "%s%s%s", lib, old != NULL && old[0] != '\0' ? ":" : "",
             old != NULL ? old : "");
    if (setenv("PMNODE_PRELOAD", conf, 1) != 0 || setenv("LD_PRELOAD", preload, 1) != 0) {
        msg("run: setting the environment: %s", pmn_strerror(errno));
        free(preload);
        return EXIT_FAILED;
    }
    free(preload);

    fflush(NULL);
    execvp(o.prog[0], o.prog);
    err = errno;
    if (err == ENOENT || err == ENOTDIR) {
        msg("run: '%s': %s", o.prog[0],
            strchr(o.prog[0], '/') != NULL ? pmn_strerror(err) : "command not found");
        return EXIT_NOT_FOUND;
    }
    msg("run: cannot execute '%s': %s", o.prog[0], pmn_strerror(err));
    return EXIT_CANNOT_EXEC;
}

/* ---- ctier -------------------------------------------------------------- */

static void usage_ctier(FILE *out)
{
    fputs("usage: pmnode ctier [--node N] [--promote-node N] [--size BYTES]\n"
          "                    [--pattern text|zero|random] [--write-pages K]\n"
          "                    [--write-control M] [--stand-in] [--json]\n"
          "\n"
          "Check the compressed tier end to end: map BYTES on the promote node, fill\n"
          "them, demote them to the compressed node (estimate, guard, write-protect,\n"
          "move), read every page (nothing may move), write K pages (exactly those\n"
          "must come back), and print where the pages are and the tier's stats.\n"
          "\n"
          "options:\n"
          "  --node N          the compressed node (default: the first node of kind\n"
          "                    compressed, from discovery or the configuration)\n"
          "  --promote-node N  where written pages go (default: the first node with\n"
          "                    CPUs)\n"
          "  --size BYTES      bytes to demote (default 16M; k, M, G suffixes)\n"
          "  --pattern P       text (compresses well, default), zero, or random\n"
          "                    (does not compress: the guard must refuse it)\n"
          "  --write-pages K   pages to write after demotion (default 8)\n"
          "  --write-control M auto (default), uffd (userfaultfd write-protect), or\n"
          "                    mprotect (the fallback: PROT_READ and a SIGSEGV handler)\n"
          "  --stand-in        treat node N (default 0) as compressed, for hosts with\n"
          "                    no compressed node: pages do not move, protection,\n"
          "                    fault handling and accounting are real\n"
          "  --json            print the stats as one JSON object\n"
          "  -h, --help        show this help and exit\n"
          "\n"
          "Exit status: 0 the tier behaved (pages on the tier after demotion, only\n"
          "the written pages back, data intact); 1 it did not, or the guard refused\n"
          "the data; 2 bad usage, no compressed node, or no write control here.\n",
          out);
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

static int cmd_ctier(int argc, char **argv)
{
    uint64_t size = 16u << 20, writes = 8;
    const char *pattern = "text";
    int node = -1, promote = -1, err;
    bool stand_in = false, json = false, missing;
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
    int status = EXIT_FAILED;
    char buf[1024];
    int bad_at = 0;

    for (int i = 1; i < argc; i++) {
        const char *v;
        bad_at = i;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage_ctier(stdout);
            return finish_stdout(EXIT_OK);
        } else if (strcmp(argv[i], "--stand-in") == 0) {
            stand_in = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if ((v = opt_value(argc, argv, &i, "--node", &missing)) || missing) {
            if (missing || parse_node(v, &node) != 0)
                goto bad;
        } else if ((v = opt_value(argc, argv, &i, "--promote-node", &missing)) || missing) {
            if (missing || parse_node(v, &promote) != 0)
                goto bad;
        } else if ((v = opt_value(argc, argv, &i, "--size", &missing)) || missing) {
            if (missing || parse_bytes(v, &size) != 0 || size == 0)
                goto bad;
        } else if ((v = opt_value(argc, argv, &i, "--write-pages", &missing)) || missing) {
            if (missing || parse_bytes(v, &writes) != 0)
                goto bad;
        } else if ((v = opt_value(argc, argv, &i, "--write-control", &missing)) || missing) {
            if (missing)
                goto bad;
            if (strcmp(v, "uffd") == 0)
                o.write_control = PMN_CTIER_WC_UFFD;
            else if (strcmp(v, "mprotect") == 0)
                o.write_control = PMN_CTIER_WC_MPROTECT;
            else if (strcmp(v, "auto") != 0)
                goto bad;
        } else if ((v = opt_value(argc, argv, &i, "--pattern", &missing)) || missing) {
            if (missing || (strcmp(v, "text") && strcmp(v, "zero") && strcmp(v, "random")))
                goto bad;
            pattern = v;
        } else {
            goto bad;
        }
    }
    if (stand_in && node < 0)
        node = 0;
    if (pmn_ctx_params_new(&cp) != 0 ||
        (stand_in && pmn_ctx_params_set_node_kind(cp, node, PMN_KIND_COMPRESSED) != 0)) {
        msg("ctier: out of memory");
        return EXIT_FAILED;
    }
    err = pmn_ctx_new_params(&ctx, cp);
    pmn_ctx_params_free(cp);
    if (err) {
        msg("ctier: cannot discover nodes: %s", pmn_strerror(err));
        return EXIT_USAGE;
    }
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
        pmn_node_foreach(ctx, n)
            if (promote < 0 && pmn_node_cpu_count(n) > 0)
                promote = pmn_node_id(n);
    }
    if (pmn_backing_params_new(&bp) != 0 || pmn_backing_params_set_node(bp, promote) != 0 ||
        (err = pmn_backing_new(ctx, bp, &b)) != 0 ||
        (err = pmn_region_map(b, (size_t)size, &r)) != 0) {
        msg("ctier: memory on node %d: %s", promote, pmn_strerror(err));
        status = EXIT_USAGE;
        goto out;
    }
    mem = pmn_region_addr(r);
    npages = pmn_region_size(r) / page;
    fill_pattern(mem, pmn_region_size(r), pattern);
    printf("ctier: node %d (compressed%s), promote node %d, %zu pages of %s, write control %s\n",
           pmn_ctier_node(t), stand_in ? ", stand-in" : "", promote, npages, pattern,
           pmn_ctier_write_control(t));
    printf("estimated ratio  %.2f\n", pmn_ctier_estimate(mem, pmn_region_size(r), 0));
    err = pmn_ctier_demote(t, mem, pmn_region_size(r));
    if (err) {
        printf("demote           refused: %s\n", pmn_strerror(err));
        goto report;
    }
    pmn_where(mem, pmn_region_size(r), &w1);
    printf("after demotion   %llu of %zu pages on node %d\n",
           (unsigned long long)pmn_where_pages_on(&w1, pmn_ctier_node(t)), npages,
           pmn_ctier_node(t));
    for (size_t i = 0; i < npages; i++)
        sum ^= ((volatile unsigned char *)mem)[i * page];
    if (writes > npages)
        writes = npages;
    for (uint64_t k = 0; k < writes; k++)
        mem[(size_t)(k * npages / writes) * page] ^= 1;
    pmn_where(mem, pmn_region_size(r), &w2);
    printf("after %llu writes  %llu pages back on node %d\n", (unsigned long long)writes,
           (unsigned long long)(pmn_ctier_node(t) == promote
                                    ? writes
                                    : pmn_where_pages_on(&w2, promote)),
           promote);
report:
    pmn_ctier_stats(t, &st);
    pmn_ctier_stats_json(&st, buf, sizeof(buf));
    if (json)
        printf("%s\n", buf);
    else
        printf("stats            logical %llu B, physical ~%llu B, ratio %.2f, "
               "write promotions %llu, refusals %llu\n",
               (unsigned long long)st.logical_bytes, (unsigned long long)st.physical_bytes,
               st.ratio, (unsigned long long)st.write_promotions,
               (unsigned long long)st.refusals);
    if (err) {
        status = EXIT_FAILED;
    } else {
        bool moved = pmn_ctier_node(t) == promote ||
                     pmn_where_pages_on(&w1, pmn_ctier_node(t)) == npages;
        bool back = pmn_ctier_node(t) == promote || pmn_where_pages_on(&w2, promote) == writes;
        status = moved && back && st.write_promotions == writes ? EXIT_OK : EXIT_FAILED;
        printf("verdict          %s\n", status == EXIT_OK
                                            ? "ok: demoted, reads stayed, exactly the written "
                                              "pages came back"
                                            : "FAILED: pages are not where they should be");
    }
    (void)sum;
out:
    pmn_ctier_close(t);
    pmn_region_unmap(r);
    pmn_backing_free(b);
    pmn_backing_params_free(bp);
    pmn_ctx_unref(ctx);
    return finish_stdout(status);
bad:
    msg("ctier: bad option or value '%s': %s (try 'pmnode ctier --help')", argv[bad_at],
        pmn_strerror(-EINVAL));
    return EXIT_USAGE;
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
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "ctier") == 0)
        return cmd_ctier(argc - 1, argv + 1);

    msg("%s '%s': %s (try 'pmnode --help')",
        cmd[0] == '-' ? "unknown option" : "unknown command", cmd, pmn_strerror(-EINVAL));
    return EXIT_USAGE;
}
