/*
 * options.h - every pmnode command line, parsed and explained from one
 * table per command.
 *
 * A command declares its options once, as a table of struct opt: the long
 * name, an optional short name, the type of its value (which says whether
 * it takes one and how it is parsed), the name of the value for the help,
 * flags, and the help text.  opt_parse() walks argv against the table
 * ("--opt VALUE" and "--opt=VALUE" both work; "-h"/"--help" is always
 * there), and opt_usage() prints the usage line and the option list from
 * the same table, so the help cannot drift from what is parsed.  Values are
 * parsed with libpmnode's own grammar (core/parse.c): a node id, a size or
 * a log level means the same on the command line, in the environment and
 * to the shim.
 */
#ifndef PMNODE_OPTIONS_H
#define PMNODE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

struct opt;

/* A parsed value; which member depends on the option's type. */
union opt_value {
    const char *str;    /* opt_string, opt_path */
    int node;           /* opt_node */
    uint64_t bytes;     /* opt_bytes, opt_bytes_nonzero */
    int level;          /* opt_log */
    enum pmn_kind kind; /* opt_kind */
    size_t index;       /* opt_choice: index in struct opt's choices */
    struct {
        int ids[PMN__MAX_SPILL];
        size_t n;
    } spill; /* opt_spill */
};

struct opt_type {
    /* 0, or a negative errno when @s is not @what.  NULL for a flag. */
    int (*parse)(const struct opt *o, const char *s, union opt_value *v);
    const char *what; /* "a node id (0 to 65535)", for messages */
};

extern const struct opt_type opt_flag;   /* no value */
extern const struct opt_type opt_string; /* any text, even empty */
extern const struct opt_type opt_path;   /* any text but empty */
extern const struct opt_type opt_node;   /* pmn__parse_node_id */
extern const struct opt_type opt_bytes;  /* pmn__parse_size, at most SIZE_MAX */
extern const struct opt_type opt_bytes_nonzero;
/* A size to ask a machine for: as opt_bytes_nonzero, but a well-formed
 * size above 2^64 - 1 is UINT64_MAX (a request no machine can meet, which
 * the command reports as a failed check), not a mistake. */
extern const struct opt_type opt_request;
extern const struct opt_type opt_spill;  /* pmn__parse_spill */
extern const struct opt_type opt_log;    /* pmn__parse_log_level */
extern const struct opt_type opt_kind;   /* pmn_kind_parse */
extern const struct opt_type opt_choice; /* one of struct opt's choices */

enum {
    /* Shown without brackets in the usage line.  The command says when
     * it is missing (with opt_missing): verify needs --node except for a
     * dax device. */
    OPT_REQUIRED = 1 << 0,
    /* Exactly one of the options so marked (adjacent in the table) must be
     * given, once; opt_parse() checks. */
    OPT_ONE_OF = 1 << 1,
    /* The value only as --opt=VALUE (run --stats: a path given as the next
     * word would be taken for the program). */
    OPT_EQ_ONLY = 1 << 2,
};

struct opt {
    const char *name; /* "--node" */
    char short_name;  /* 'n' for "-n", or 0 */
    const struct opt_type *type;
    const char *arg; /* the value in the help: "N", "BYTES" */
    unsigned flags;
    const char *help;           /* lines separated by '\n' */
    const char *const *choices; /* opt_choice: NULL-terminated */
};

/* What opt_parse() found for one option of the table. */
struct opt_result {
    unsigned count;    /* times given */
    const char *arg;   /* the last value as written */
    union opt_value v; /* the last value, parsed */
};

struct cmd {
    const char *name; /* "verify" */
    int (*main)(int argc, char **argv);
    const struct opt *opts;
    size_t nopts;
    const char *operands; /* after the options: "-- PROG [ARGS...]"; when
                            * set, "--" ends the options; else none */
    const char *summary;  /* for pmnode --help; lines separated by '\n' */
    const char *about;    /* after the usage line of pmnode CMD --help */
    const char *notes;    /* after the option list, or NULL */
};

#define OPT_COUNT(table) (sizeof(table) / sizeof((table)[0]))

/*
 * Parse argv[1..argc) of @cmd into @res (@cmd->nopts entries, cleared
 * first).  Returns -1 to go on, with *rest the index of the first operand
 * (after "--"; argc when there is none), or an exit status: 0 after
 * printing the help (asked for anywhere, in a line without mistakes), 2
 * after one "pmnode: CMD: ..." line for a mistake.
 */
int opt_parse(const struct cmd *cmd, int argc, char **argv, struct opt_result *res, int *rest);
/* A decimal operand: digits only (no sign or space), at most 10 of them,
 * between @min and @max. */
bool opt_decimal(const char *s, unsigned long min, unsigned long max, unsigned long *v);
/* Seconds as strtod(3) reads them, with no sign or leading space, between
 * @min and 86400 (a day). */
bool opt_seconds(const char *s, double min, double *v);
/* "-h" or "--help", which every command takes. */
bool opt_is_help(const char *arg);
/* "CMD: missing --size BYTES" for @cmd->opts[i]; returns 2. */
int opt_missing(const struct cmd *cmd, size_t i);

/* pmnode CMD --help. */
void opt_usage(const struct cmd *cmd, FILE *out);
/* pmnode --help: the command list (usage line and summary of each). */
void opt_commands(const struct cmd *const *cmds, size_t n, FILE *out);
/* The "  --opt ARG   help" rows of a table, with -h, --help after them. */
void opt_list(const struct opt *opts, size_t n, FILE *out);

#endif /* PMNODE_OPTIONS_H */
