/*
 * config.c - PMNODE_PRELOAD, the shim's configuration, parsed without side
 * effects.
 *
 * The text is a list of options separated by ';', spaces or tabs: one
 * target (node=N, kind=K or private) and any of threshold=, spill=,
 * stats=, log=, populate, large_cache=, small_cache=, publish, each at most once.  Every value is read with the library's
 * one grammar (core/parse.c): the node ids, sizes, spill lists and log
 * levels mean here exactly what they mean to pmnode run, which writes this
 * string, and to the library's own environment.  The first problem ends
 * the parse with one message naming the option and where it starts; the
 * caller decides what to do with it (preload.c prints it and exits 2).
 * Nothing here allocates, reads the environment or prints: the shim calls
 * this from its constructor, before the heap it serves exists.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "preload/config.h"

/* A value quoted in a message: at most 128 bytes of it. */
#define SHOW(p, n) (int)((n) > 128 ? 128 : (n)), (p)

enum option {
    O_NODE,
    O_KIND,
    O_PRIVATE,
    O_THRESHOLD,
    O_SPILL,
    O_STATS,
    O_LOG,
    O_POPULATE,
    O_LARGE_CACHE,
    O_SMALL_CACHE, /* 0.9 */
    O_PUBLISH,     /* issue 18 */
    O__COUNT
};

static const char *const option_names[O__COUNT] = {
    [O_NODE] = "node",
    [O_KIND] = "kind",
    [O_PRIVATE] = "private",
    [O_THRESHOLD] = "threshold",
    [O_SPILL] = "spill",
    [O_STATS] = "stats",
    [O_LOG] = "log",
    [O_POPULATE] = "populate",
    [O_LARGE_CACHE] = "large_cache",
    [O_SMALL_CACHE] = "small_cache",
    [O_PUBLISH] = "publish",
};

/* One option of the text: "key" or "key=value". */
struct item {
    size_t offset; /* in the whole text */
    const char *tok;
    size_t len;
    const char *key;
    size_t klen;
    const char *val; /* NULL: no '=' */
    size_t vlen;
};

__attribute__((format(printf, 5, 6))) static int fail(struct pmn__preload_error *e, int code,
                                                      size_t offset, size_t length,
                                                      const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(e->msg, sizeof(e->msg), "PMNODE_PRELOAD: ");

    va_start(ap, fmt);
    vsnprintf(e->msg + n, sizeof(e->msg) - (size_t)n, fmt, ap);
    va_end(ap);
    for (char *p = e->msg; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    e->offset = offset;
    e->length = length;
    return code;
}

static bool is_sep(char c)
{
    return c == ';' || c == ' ' || c == '\t';
}

static int find_option(const char *key, size_t klen)
{
    for (int o = 0; o < O__COUNT; o++)
        if (strlen(option_names[o]) == klen && memcmp(option_names[o], key, klen) == 0)
            return o;
    return -1;
}

static int kind_value(const struct item *it, enum pmn_kind *kind)
{
    char name[32];

    if (it->vlen >= sizeof(name) || memchr(it->val, '\0', it->vlen) != NULL)
        return -EINVAL;
    memcpy(name, it->val, it->vlen);
    name[it->vlen] = '\0';
    return pmn_kind_parse(name, kind);
}

static int size_value(const struct item *it, size_t *out)
{
    uint64_t v;
    int rc = pmn__parse_size(it->val, it->vlen, &v);

    if (rc == 0 && v > SIZE_MAX)
        rc = -ERANGE;
    if (rc == 0)
        *out = (size_t)v;
    return rc;
}

/* The value of @it into @c; 0 or the error, reported in @e. */
static int value(struct pmn__preload_config *c, enum option o, const struct item *it,
                 struct pmn__preload_error *e)
{
    const char *v = it->val;
    size_t n = it->vlen;
    int rc;

    switch (o) {
    case O_NODE:
        if ((rc = pmn__parse_node_id(v, n, &c->node)) != 0)
            return fail(e, rc, it->offset, it->len, "node=%.*s is not a node id (0 to %d)",
                        SHOW(v, n), PMN__MAX_NODE_ID);
        c->target = PMN__PRELOAD_NODE;
        return 0;
    case O_KIND:
        if ((rc = kind_value(it, &c->kind)) != 0)
            return fail(e, rc, it->offset, it->len,
                        "kind=%.*s is not a kind (dram, hbm, nvm, spm, cxl, gpu, compressed)",
                        SHOW(v, n));
        c->target = PMN__PRELOAD_KIND;
        return 0;
    case O_THRESHOLD:
        if ((rc = size_value(it, &c->threshold)) != 0)
            return fail(e, rc, it->offset, it->len,
                        "threshold=%.*s is not a size (4096, 64k, 2M, 0x1000, ...)", SHOW(v, n));
        return 0;
    case O_SPILL:
        if (n == 0)
            return fail(e, -EINVAL, it->offset, it->len, "spill= is empty");
        if ((rc = pmn__parse_spill(v, n, c->spill, PMN__MAX_SPILL, &c->nspill)) != 0)
            return fail(e, rc, it->offset, it->len,
                        "spill=%.*s is not a list of distinct node ids like 2,0 (at most %d)",
                        SHOW(v, n), PMN__MAX_SPILL);
        return 0;
    case O_STATS:
        if (n == 0 || memchr(v, '\0', n) != NULL)
            return fail(e, -EINVAL, it->offset, it->len, "stats= needs a file path");
        if (n >= sizeof(c->stats))
            return fail(e, -ERANGE, it->offset, it->len, "stats= path is longer than %zu bytes",
                        sizeof(c->stats) - 1);
        memcpy(c->stats, v, n);
        c->stats[n] = '\0';
        return 0;
    case O_LOG:
        if ((rc = pmn__parse_log_level(v, n, &c->log_level)) != 0)
            return fail(e, rc, it->offset, it->len,
                        "log=%.*s is not a level (off, error, warn, info, debug)", SHOW(v, n));
        return 0;
    case O_LARGE_CACHE:
        if ((rc = size_value(it, &c->large_cache)) != 0)
            return fail(e, rc, it->offset, it->len,
                        "large_cache=%.*s is not a size (0, 64M, 1G, ...)", SHOW(v, n));
        c->large_cache_set = true;
        return 0;
    case O_SMALL_CACHE:
        if ((rc = size_value(it, &c->small_cache)) != 0)
            return fail(e, rc, it->offset, it->len,
                        "small_cache=%.*s is not a size (0, 16M, 1G, ...)", SHOW(v, n));
        return 0;
    case O_PRIVATE:
    case O_POPULATE:
    case O_PUBLISH:
    case O__COUNT: break;
    }
    return fail(e, -EINVAL, it->offset, it->len, "\"%s\" takes no value", option_names[o]);
}

static int option(struct pmn__preload_config *c, bool seen[O__COUNT], const struct item *it,
                  struct pmn__preload_error *e)
{
    int o = find_option(it->key, it->klen);
    bool target = o == O_NODE || o == O_KIND || o == O_PRIVATE;
    int rc;

    if (o < 0)
        return fail(e, -EINVAL, it->offset, it->len, "unknown option \"%.*s\"",
                    SHOW(it->key, it->klen));
    if (target && c->target != PMN__PRELOAD_NONE)
        return fail(e, -EINVAL, it->offset, it->len,
                    "name one target (node=, kind= or private), not several");
    if (seen[o])
        return fail(e, -EINVAL, it->offset, it->len, "%s= is given twice", option_names[o]);
    seen[o] = true;
    if (o == O_PRIVATE) {
        if (it->val != NULL)
            return fail(e, -EINVAL, it->offset, it->len, "private takes no value");
        c->target = PMN__PRELOAD_PRIVATE;
        return 0;
    }
    if (o == O_POPULATE) {
        if (it->val != NULL)
            return fail(e, -EINVAL, it->offset, it->len, "populate takes no value");
        c->populate = true;
        return 0;
    }
    if (o == O_PUBLISH) { /* issue 18: pmn_publish(3) */
        if (it->val != NULL)
            return fail(e, -EINVAL, it->offset, it->len, "publish takes no value");
        c->publish = true;
        return 0;
    }
    if (it->val == NULL)
        return fail(e, -EINVAL, it->offset, it->len, "\"%s\" needs a value (%s=...)",
                    option_names[o], option_names[o]);
    if ((rc = value(c, (enum option)o, it, e)) != 0)
        return rc;
    /* The target cannot also be a place to spill to. */
    for (size_t i = 0; c->target == PMN__PRELOAD_NODE && i < c->nspill; i++)
        if (c->spill[i] == c->node)
            return fail(e, -EINVAL, it->offset, it->len, "spill lists node %d, the target",
                        c->node);
    return 0;
}

int pmn__preload_parse(const char *text, size_t len, struct pmn__preload_config *c,
                       struct pmn__preload_error *err)
{
    bool seen[O__COUNT] = {false};
    size_t i = 0;

    if (c == NULL || err == NULL)
        return -EINVAL;
    memset(c, 0, sizeof(*c));
    memset(err, 0, sizeof(*err));
    c->node = -1;
    if (text == NULL && len > 0)
        return fail(err, -EINVAL, 0, 0, "no text");
    while (i < len) {
        struct item it = {.offset = i, .tok = text + i};
        int rc;

        if (is_sep(text[i])) {
            i++;
            continue;
        }
        while (i < len && !is_sep(text[i]))
            i++;
        it.len = i - it.offset;
        it.key = it.tok;
        it.val = memchr(it.tok, '=', it.len);
        it.klen = it.val != NULL ? (size_t)(it.val - it.tok) : it.len;
        if (it.val != NULL) {
            it.val++;
            it.vlen = it.len - it.klen - 1;
        }
        if ((rc = option(c, seen, &it, err)) != 0)
            return rc;
    }
    if (c->target == PMN__PRELOAD_NONE)
        return fail(err, -EINVAL, len, 0, "say where the heap goes: node=N, kind=K or private");
    return 0;
}
