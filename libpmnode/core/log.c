/*
 * log.c - the library's only output: one line on stderr per message, when
 * the context's PMNODE_LOG level allows it, and the list of discovery
 * problems a context keeps (pmn_ctx_problems).  Nothing is printed unless
 * logging is enabled (DESIGN.md's error model).  Thread-safe for reading
 * contexts; pmn__problem runs only while a context is being built.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discover/topology.h"

static const char *const level_names[] = {"off", "error", "warn", "info", "debug"};

void pmn__log(const struct pmn_ctx *ctx, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (ctx == NULL || level > ctx->log_level || level < 1 || level > 4)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    pmn__text_clean(line); /* sysfs names and file contents: one plain line */
    fprintf(stderr, "libpmnode: %s: %s\n", level_names[level], line);
}

void pmn__problem(struct pmn_ctx *ctx, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    pmn__log(ctx, 2, "%s", line);
    /* Cap the list: a broken tree with thousands of bad nodes should not
     * grow it without bound. */
    if (ctx->nproblems >= 256)
        return;
    (void)pmn__strv_push(&ctx->problems, &ctx->nproblems, strdup(line));
}
