/*
 * output.h - the writers every pmnode command shares (output.c): one-line
 * messages, JSON, tables, formatted numbers.
 */
#ifndef PMNODE_OUTPUT_H
#define PMNODE_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- messages and exit statuses ---- */

/* One line on stderr, "pmnode: ...", control characters replaced. */
__attribute__((format(printf, 1, 2))) void msg(const char *fmt, ...);
/* Flush stdout; a write error (full disk, closed pipe) turns @status into
 * EXIT_FAILED with a message. */
int finish_stdout(int status);
/* The machine for command @cmd: pmn_ctx_new_at(@root), or pmn_ctx_new()
 * when @root is NULL.  Returns -1 with *ctx set, or the exit status after
 * one message that says what is wrong ("list: /etc/pmnode.conf:3: unknown
 * key 'privat' ..."): 2 when the root, the environment or the
 * configuration is wrong, else 1. */
struct pmn_ctx;
struct pmn_ctx_params;
int discover(const char *cmd, const char *root, struct pmn_ctx **ctx);
/* As discover(), from @params (the root among them). */
int discover_params(const char *cmd, struct pmn_ctx_params *params, struct pmn_ctx **ctx);
/* "CMD: --node 7: no such NUMA node (this machine has nodes 0-3)", or with
 * @ctx NULL (an id out of range as written) "(node ids are 0 to 65535)":
 * what every command says of a node that is not there.  Returns 2. */
int no_such_node(const char *cmd, const char *opt, const char *id, const struct pmn_ctx *ctx);

/* ---- JSON writer: values separated and indented as they come ---- */

#define JW_MAX_DEPTH 16

struct jw {
    FILE *out;
    int depth;
    unsigned count[JW_MAX_DEPTH + 1]; /* members written at each depth */
};

/* Every value writer takes @key: the member's name inside an object, NULL
 * for an element of an array (or the top-level value). */
void jw_open(struct jw *w, const char *key, char c); /* '{' or '[' */
void jw_close(struct jw *w, char c);                 /* '}' or ']'; a newline after the last */
void jw_null(struct jw *w, const char *key);
void jw_bool(struct jw *w, const char *key, bool v);
void jw_int(struct jw *w, const char *key, long long v);
void jw_u64(struct jw *w, const char *key, uint64_t v);
/* Three decimals; null for NaN or infinity. */
void jw_double(struct jw *w, const char *key, double v);
/* @v in the shortest text that reads back as @v, with a ".0" when that is
 * a whole number: what Python's json module writes for a float, so that a
 * fixture's expected.json (written through it) matches byte for byte. */
void jw_real(struct jw *w, const char *key, double v);
/* The library's "unknown" conventions map to JSON null: a NULL string,
 * PMN_UNKNOWN, a negative id. */
void jw_string(struct jw *w, const char *key, const char *s);
void jw_u64_or_null(struct jw *w, const char *key, uint64_t v);
void jw_id_or_null(struct jw *w, const char *key, int v);

/* ---- table writer ---- */

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

/* Copy @cells (ncols of them) into a new row. */
void table_row(struct table *t, const char *const *cells);
/* Print and free the table; false when it could not be built. */
bool table_print(struct table *t, FILE *out);

/* ---- text ---- */

/* malloc'd copy of @s for a terminal: control characters and bytes that
 * are not valid UTF-8 become '?'. */
char *dup_clean(const char *s);
/* @n spaces. */
void pad(FILE *out, size_t n);
/* "15.6 GiB", "512 B", "-" for PMN_UNKNOWN. */
const char *fmt_bytes(uint64_t v, char *buf, size_t n);
/* As fmt_bytes, for a sum or count (never unknown): UINT64_MAX, the
 * saturated maximum, is ">=16.0 EiB".  Returns @buf. */
const char *fmt_total(uint64_t v, char *buf, size_t n);
/* Decimal id, "-" when negative (unknown). */
const char *fmt_id(int v, char *buf, size_t n);

#endif /* PMNODE_OUTPUT_H */
