/*
 * output.c - what every pmnode command writes: one-line messages, the exit
 * status for an error, JSON, tables and formatted numbers.
 *
 * Messages are one line on stderr, "pmnode: ...", with control characters
 * replaced so that nothing from the user or from sysfs can add a line.
 * discover() opens the machine for a command and turns a failure into its
 * message and exit status, the same for every command: for a configuration
 * problem, the library's own line naming the file and line or the
 * variable (pmn_ctx_params_set_error_buffer).  no_such_node() is what
 * every command says of a node id that is not there.
 * The JSON writer emits exactly the shapes of DESIGN.md, pretty-printed
 * with two-space indentation (the layout of Python's
 * json.dumps(indent=2)), escaping control characters and replacing invalid
 * UTF-8 so the output always parses.  The table writer pads columns to
 * their widest cell, like numactl -H.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"

/* ---- messages ---------------------------------------------------------- */

/* One line on stderr, "pmnode: ...": control characters from user input or
 * sysfs are replaced (pmn__text_clean) so the message cannot span lines nor
 * drive the terminal. */
void msg(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    pmn__text_clean(buf);
    fprintf(stderr, "pmnode: %s\n", buf);
}

/* Flush stdout; a write error (full disk, closed pipe) fails the command. */
int finish_stdout(int status)
{
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        msg("writing output: %s", pmn_strerror(errno != 0 ? errno : EIO));
        return EXIT_FAILED;
    }
    return status;
}

/* Errors that mean the root or the environment given to us is wrong. */
static bool is_input_error(int err)
{
    return err == -ENOENT || err == -ENOTDIR || err == -EACCES || err == -EINVAL ||
           err == -ENAMETOOLONG || err == -ELOOP || err == PMN_E_NO_NUMA || err == PMN_E_CONFIG;
}

/* discover() and discover_params(). */
static int discover_in(const char *cmd, const char *root, struct pmn_ctx_params *params,
                       struct pmn_ctx **ctx)
{
    struct pmn_ctx_params *own = NULL, *p = params;
    char why[512] = "";
    int err;

    *ctx = NULL;
    if (p == NULL && (err = pmn_ctx_params_new(&own)) < 0) {
        msg("%s: %s", cmd, pmn_strerror(err));
        return EXIT_FAILED;
    }
    if (p == NULL)
        p = own;
    if ((err = pmn_ctx_params_set_error_buffer(p, why, sizeof(why))) == 0 &&
        (root == NULL || (err = pmn_ctx_params_set_root(p, root)) == 0))
        err = pmn_ctx_new_params(ctx, p);
    pmn_ctx_params_set_error_buffer(p, NULL, 0); /* @why goes out of scope */
    pmn_ctx_params_free(own);
    if (err == 0)
        return -1;
    if (root == NULL) {
        root = getenv("PMNODE_SYSFS_ROOT");
        if (root == NULL || root[0] == '\0')
            root = "/";
    }
    /* A configuration problem is told as the library words it: the file
     * and line, or the variable, and what is wrong. */
    if (err == PMN_E_CONFIG && why[0] != '\0')
        msg("%s: %s", cmd, why);
    else
        msg("%s: cannot discover '%s': %s", cmd, root, pmn_strerror(err));
    return is_input_error(err) ? EXIT_USAGE : EXIT_FAILED;
}

int discover(const char *cmd, const char *root, struct pmn_ctx **ctx)
{
    return discover_in(cmd, root, NULL, ctx);
}

int discover_params(const char *cmd, struct pmn_ctx_params *params, struct pmn_ctx **ctx)
{
    return discover_in(cmd, NULL, params, ctx);
}

int no_such_node(const char *cmd, const char *opt, const char *id, const struct pmn_ctx *ctx)
{
    char have[256];
    size_t len = 0;
    bool cut = false;
    int first = -1, last = -2;
    const struct pmn_node *n;

    if (ctx == NULL) {
        msg("%s: %s %s: %s (node ids are 0 to %d)", cmd, opt, id, pmn_strerror(PMN_E_NO_NODE),
            PMN__MAX_NODE_ID);
        return EXIT_USAGE;
    }
    /* The ids as the kernel lists them: "0-3,8". */
    have[0] = '\0';
    for (n = pmn_node_first(ctx);; n = pmn_node_next(n)) {
        int i = n != NULL ? pmn_node_id(n) : -1;
        if (n != NULL && i == last + 1) {
            last = i;
            continue;
        }
        /* A group goes in whole or not at all (room kept for ",..."). */
        if (first >= 0 && !cut) {
            char g[32];
            int w = first == last ? snprintf(g, sizeof(g), "%s%d", len ? "," : "", first)
                                  : snprintf(g, sizeof(g), "%s%d-%d", len ? "," : "", first, last);
            if (w > 0 && len + (size_t)w + sizeof(",...") <= sizeof(have)) {
                memcpy(have + len, g, (size_t)w + 1);
                len += (size_t)w;
            } else {
                memcpy(have + len, ",...", sizeof(",..."));
                cut = true;
            }
        }
        if (n == NULL)
            break;
        first = last = i;
    }
    msg("%s: %s %s: %s (this machine has node%s %s)", cmd, opt, id, pmn_strerror(PMN_E_NO_NODE),
        pmn_node_count(ctx) == 1 ? "" : "s", have[0] != '\0' ? have : "none");
    return EXIT_USAGE;
}

/* ---- JSON writer ------------------------------------------------------- */

static void jw_string_raw(struct jw *w, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    fputc('"', w->out);
    while (*s != '\0') {
        unsigned char c = *s;
        if (c >= 0x80) {
            size_t n = pmn__utf8_seq(s);
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

static void jw_newline(struct jw *w, int depth)
{
    fputc('\n', w->out);
    for (int i = 0; i < depth; i++)
        fputs("  ", w->out);
}

/* Separator, indentation and "key": before a value in the open container. */
static void jw_member(struct jw *w, const char *key)
{
    if (w->depth > 0) {
        if (w->count[w->depth]++ > 0)
            fputc(',', w->out);
        jw_newline(w, w->depth);
    }
    if (key != NULL) {
        jw_string_raw(w, key);
        fputs(": ", w->out);
    }
}

void jw_open(struct jw *w, const char *key, char c)
{
    jw_member(w, key);
    fputc(c, w->out);
    if (w->depth < JW_MAX_DEPTH)
        w->depth++;
    w->count[w->depth] = 0;
}

void jw_close(struct jw *w, char c)
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

void jw_null(struct jw *w, const char *key)
{
    jw_member(w, key);
    fputs("null", w->out);
}

void jw_bool(struct jw *w, const char *key, bool v)
{
    jw_member(w, key);
    fputs(v ? "true" : "false", w->out);
}

void jw_int(struct jw *w, const char *key, long long v)
{
    jw_member(w, key);
    fprintf(w->out, "%lld", v);
}

void jw_u64(struct jw *w, const char *key, uint64_t v)
{
    jw_member(w, key);
    fprintf(w->out, "%" PRIu64, v);
}

void jw_double(struct jw *w, const char *key, double v)
{
    jw_member(w, key);
    if (v != v || v > 1e300 || v < -1e300)
        fputs("null", w->out);
    else
        fprintf(w->out, "%.3f", v);
}

void jw_real(struct jw *w, const char *key, double v)
{
    char buf[40];

    jw_member(w, key);
    if (v != v || v > 1e300 || v < -1e300) {
        fputs("null", w->out);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, w->out);
    if (strpbrk(buf, ".e") == NULL)
        fputs(".0", w->out);
}

void jw_string(struct jw *w, const char *key, const char *s)
{
    jw_member(w, key);
    if (s == NULL)
        fputs("null", w->out);
    else
        jw_string_raw(w, s);
}

void jw_u64_or_null(struct jw *w, const char *key, uint64_t v)
{
    if (v == PMN_UNKNOWN)
        jw_null(w, key);
    else
        jw_u64(w, key, v);
}

void jw_id_or_null(struct jw *w, const char *key, int v)
{
    if (v < 0)
        jw_null(w, key);
    else
        jw_int(w, key, v);
}

/* ---- table writer ------------------------------------------------------ */

/* Copy of @s for a terminal, cleaned as pmn__text_clean() says. */
char *dup_clean(const char *s)
{
    char *d = strdup(s != NULL ? s : "");

    if (d != NULL)
        pmn__text_clean(d);
    return d;
}

void table_row(struct table *t, const char *const *cells)
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

void pad(FILE *out, size_t n)
{
    while (n-- > 0)
        fputc(' ', out);
}

/* Print and free the table; false when it could not be built. */
bool table_print(struct table *t, FILE *out)
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

/* "15.6 GiB", "512 B": @v as a quantity, whatever its value. */
static void fmt_quantity(uint64_t v, char *buf, size_t n)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double d = (double)v;
    size_t u = 0;

    if (v < 1024) {
        snprintf(buf, n, "%" PRIu64 " B", v);
        return;
    }
    while (d >= 1024.0 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
        d /= 1024.0;
        u++;
    }
    snprintf(buf, n, "%.1f %s", d, unit[u]);
}

/* "15.6 GiB", "512 B", "-" for unknown. */
const char *fmt_bytes(uint64_t v, char *buf, size_t n)
{
    if (v == PMN_UNKNOWN)
        return "-";
    fmt_quantity(v, buf, n);
    return buf;
}

/* As fmt_bytes, for a sum or a count, which is never unknown: the
 * saturated maximum is ">=16.0 EiB". */
const char *fmt_total(uint64_t v, char *buf, size_t n)
{
    if (v == UINT64_MAX && n > 2) {
        memcpy(buf, ">=", 2);
        fmt_quantity(v, buf + 2, n - 2);
    } else {
        fmt_quantity(v, buf, n);
    }
    return buf;
}

/* Decimal id, "-" when negative (unknown). */
const char *fmt_id(int v, char *buf, size_t n)
{
    if (v < 0)
        return "-";
    snprintf(buf, n, "%d", v);
    return buf;
}
