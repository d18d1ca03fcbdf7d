/*
 * ctx.c - contexts: creation parameters and reference counting.
 *
 * A context is created complete (discovery runs inside pmn_ctx_new*) and
 * is immutable afterwards; the only field that changes is the atomic
 * reference count.  Parameters come, in increasing precedence, from the
 * defaults, the PMNODE_* environment, and the params object.  The
 * environment is read once, here, with secure_getenv (set-uid programs do
 * not take a sysfs root from their caller).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discover/topology.h"

/* ---- params ---- */

int pmn_ctx_params_new(struct pmn_ctx_params **out)
{
    if (out == NULL)
        return -EINVAL;
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : -ENOMEM;
}

void pmn_ctx_params_free(struct pmn_ctx_params *p)
{
    if (p == NULL)
        return;
    free(p->root);
    free(p->private_nodes);
    free(p->config);
    free(p->kinds);
    free(p);
}

static int set_str(char **dst, bool *flag, const char *val)
{
    char *dup = NULL;

    if (val != NULL) {
        dup = strdup(val);
        if (dup == NULL)
            return -ENOMEM;
    }
    free(*dst);
    *dst = dup;
    *flag = val != NULL;
    return 0;
}

int pmn_ctx_params_set_root(struct pmn_ctx_params *p, const char *root)
{
    if (p == NULL)
        return -EINVAL;
    return set_str(&p->root, &p->root_set, root);
}

int pmn_ctx_params_set_private_nodes(struct pmn_ctx_params *p, const char *nodelist)
{
    struct pmn__bitmap bm = {0};
    int err;

    if (p == NULL)
        return -EINVAL;
    if (nodelist != NULL) {
        err = pmn__parse_list(nodelist, strlen(nodelist), PMN__MAX_NODE_ID, &bm);
        pmn__bitmap_free(&bm);
        if (err)
            return -EINVAL;
    }
    return set_str(&p->private_nodes, &p->private_set, nodelist);
}

int pmn_ctx_params_set_node_kind(struct pmn_ctx_params *p, int node, enum pmn_kind kind)
{

    if (p == NULL || node < 0 || node > PMN__MAX_NODE_ID || (unsigned)kind >= PMN_KIND__COUNT)
        return -EINVAL;
    for (size_t i = 0; i < p->nkinds; i++) {
        if (p->kinds[i].node == node) {
            p->kinds[i].kind = kind;
            return 0;
        }
    }
    return pmn__kinds_add(&p->kinds, &p->nkinds, node, kind);
}

int pmn_ctx_params_set_config(struct pmn_ctx_params *p, const char *path)
{
    if (p == NULL)
        return -EINVAL;
    return set_str(&p->config, &p->config_set, path);
}

int pmn_ctx_params_set_flags(struct pmn_ctx_params *p, unsigned flags)
{
    const unsigned known = PMN_CTX_IGNORE_ENV | PMN_CTX_NO_HWLOC | PMN_CTX_NO_CONFIG;

    if (p == NULL || (flags & ~known))
        return -EINVAL;
    p->flags = flags;
    return 0;
}

/* ---- contexts ---- */

static void ctx_free(struct pmn_ctx *ctx)
{
    pmn__topology_free(ctx);
    pmn__strv_free(ctx->problems, ctx->nproblems);
    pmn__sysfs_close(&ctx->fs);
    pthread_mutex_destroy(&ctx->dax_lock);
    free(ctx);
}

int pmn_ctx_new_params(struct pmn_ctx **out, const struct pmn_ctx_params *params)
{
    static const struct pmn_ctx_params defaults;
    const struct pmn_ctx_params *p = params ? params : &defaults;
    bool use_env = !(p->flags & PMN_CTX_IGNORE_ENV);
    const char *root = p->root, *env;
    struct pmn_ctx *ctx;
    int err;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return -ENOMEM;
    atomic_init(&ctx->refs, 1);
    pthread_mutex_init(&ctx->dax_lock, NULL);
    ctx->fs.rootfd = -1;
    ctx->flags = p->flags;

    if (use_env && (env = secure_getenv("PMNODE_LOG")) != NULL && *env) {
        if (pmn__parse_log_level(env, strlen(env), &ctx->log_level) != 0) {
            /* The one message we print without logging enabled would be
             * wrong to print: report through the return code. */
            ctx_free(ctx);
            return PMN_E_CONFIG;
        }
    }
    if (!p->root_set && use_env) {
        env = secure_getenv("PMNODE_SYSFS_ROOT");
        if (env != NULL && *env)
            root = env;
    }
    err = pmn__sysfs_open(&ctx->fs, root ? root : "/");
    if (err) {
        pmn__log(ctx, 1, "cannot open root %s: %s", root ? root : "/", pmn_strerror(err));
        ctx_free(ctx);
        return err;
    }
    ctx->local = strcmp(ctx->fs.root, "/") == 0;
    err = pmn__discover(ctx, p);
    if (err) {
        pmn__log(ctx, 1, "discovery under %s failed: %s", ctx->fs.root, pmn_strerror(err));
        ctx_free(ctx);
        return err;
    }
    *out = ctx;
    return 0;
}

int pmn_ctx_new(struct pmn_ctx **out)
{
    return pmn_ctx_new_params(out, NULL);
}

int pmn_ctx_new_at(struct pmn_ctx **out, const char *root)
{
    struct pmn_ctx_params p = {0};

    p.root = (char *)(root ? root : "/");
    p.root_set = true;
    return pmn_ctx_new_params(out, &p);
}

struct pmn_ctx *pmn_ctx_ref(struct pmn_ctx *ctx)
{
    if (ctx != NULL)
        atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
    return ctx;
}

void pmn_ctx_unref(struct pmn_ctx *ctx)
{
    if (ctx == NULL)
        return;
    if (atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) == 1)
        ctx_free(ctx);
}

const char *pmn_ctx_root(const struct pmn_ctx *ctx)
{
    return ctx ? ctx->fs.root : NULL;
}

bool pmn_ctx_is_local(const struct pmn_ctx *ctx)
{
    return ctx && ctx->local;
}

unsigned pmn_ctx_abi(const struct pmn_ctx *ctx)
{
    return ctx ? ctx->abi : 0;
}

size_t pmn_ctx_problems(const struct pmn_ctx *ctx, const char **lines, size_t max)
{
    if (ctx == NULL)
        return 0;
    for (size_t i = 0; i < ctx->nproblems && i < max && lines; i++)
        lines[i] = ctx->problems[i];
    return ctx->nproblems;
}
