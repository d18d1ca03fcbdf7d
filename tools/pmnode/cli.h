/*
 * cli.h - what the files of the pmnode tool share: the exit statuses of
 * the CLI contract (DESIGN.md), the commands main.c dispatches to, and the
 * part of run.c that tests/unit/test-grammar.c drives.
 *
 *   main.c     the command table, pmnode --help and --version
 *   options.c  the option tables' parser and the help printed from them
 *   output.c   messages, discovery for a command, JSON and table writers
 *   list.c verify.c run.c ctier.c   one file per command
 */
#ifndef PMNODE_CLI_H
#define PMNODE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "pmnode.h"

enum {
    EXIT_OK = 0,
    EXIT_FAILED = 1, /* the check failed */
    EXIT_USAGE = 2,  /* bad usage or input, with a one-line message */
};

extern const struct cmd cmd_list, cmd_verify, cmd_run, cmd_ctier, cmd_numa, cmd_top;

/* ---- run.c: pmnode run's options and the PMNODE_PRELOAD they become ---- */
struct run_opts {
    int node;       /* --node; -1: not given */
    bool have_kind; /* --kind */
    enum pmn_kind kind;
    bool priv; /* --private */
    bool have_threshold;
    uint64_t threshold;
    const char *spill_arg; /* --spill as given, for messages */
    int spill[PMN__MAX_SPILL];
    size_t nspill;
    const char *stats; /* --stats as given; NULL: no summary */
    bool have_log;
    int log_level;
    bool allow_unshimmed; /* --allow-unshimmed */
    char **prog;          /* NULL-terminated argv of the program */
};
/* Returns -1 to go on, else the exit status (after the help, or after one
 * message). */
int run_parse(int argc, char **argv, struct run_opts *o);
/* The PMNODE_PRELOAD string for @o in the canonical form (kind and level
 * names as the library spells them); @stats the absolute stats path, or
 * NULL.  Returns its length, or -1 when it does not fit @n bytes. */
int run_conf(const struct run_opts *o, const char *stats, char *buf, size_t n);

#endif /* PMNODE_CLI_H */
