/*
 * ctx.c - contexts: creation parameters and reference counting.
 *
 * A context is created complete (discovery runs inside pmn_ctx_new*) and
 * is immutable afterwards, but for the atomic reference count, the
 * watermark and dax state behind their own locks (memavail.c,
 * backing-dax.c) and the list of live contexts held across fork (below).
 * Parameters come, in increasing precedence, from the
 * defaults, the PMNODE_* environment, and the params object.  The
 * environment is read once, here, with secure_getenv (set-uid programs do
 * not take a sysfs root from their caller).
 *
 * A creation that fails says why in one line (pmn__ctx_fail): logged when
 * PMNODE_LOG asks for errors, and copied into the caller's buffer when the
 * params carry one (pmn_ctx_params_set_error_buffer), so that a tool can
 * print "/etc/pmnode.conf:3: unknown key 'privat'" without the library
 * printing anything itself.
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

int pmn_ctx_params_set_error_buffer(struct pmn_ctx_params *p, char *buf, size_t len)
{
    if (p == NULL || (buf == NULL && len != 0))
        return -EINVAL;
    p->errbuf = len > 0 ? buf : NULL;
    p->errlen = len;
    return 0;
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

int pmn__ctx_fail(const struct pmn_ctx *ctx, const struct pmn_ctx_params *p, int err,
                  const char *fmt, ...)
{
    char line[512]; /* pmnode.h: "512 bytes always hold the whole line" */
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    pmn__log(ctx, 1, "%s", line);
    if (p->errbuf != NULL)
        snprintf(p->errbuf, p->errlen, "%s", line);
    return err;
}

/* ---- fork ----
 *
 * The PMN__FORK_CTXS layer of core/fork.c: a child of fork() has only the
 * thread that forked, so a context's watermark lock (a zoneinfo refresh
 * installing its table, memavail.c) or dax lock (a device being attached
 * or its units claimed, backing-dax.c) that another thread held then
 * would stay held in the child for ever.  The prepare holds both of every
 * live context; they are the innermost locks of the library (nothing is
 * allocated or locked under them), so this layer comes last.
 *
 * Process-wide state (the list): the handlers take no argument, and the
 * locks are every context's of the process.  Guarded by its lock. */
static void ctxs_prepare(void);
static void ctxs_release(int phase);
static struct pmn__fork_list ctxs =
    PMN__FORK_LIST_INIT(PMN__FORK_CTXS, ctxs_prepare, ctxs_release);

#define CTX_OF(n) PMN__CONTAINER(n, struct pmn_ctx, fork)

static void ctxs_prepare(void)
{
    pthread_mutex_lock(&ctxs.lock);
    for (struct pmn__fork_node *n = ctxs.head; n; n = n->next) {
        pthread_mutex_lock(&CTX_OF(n)->wm_lock);
        pthread_mutex_lock(&CTX_OF(n)->dax_lock);
    }
}

/* @phase 1 in the parent, 2 in the child, where a refresh another thread
 * had claimed will never finish (memavail.c): the next caller claims it. */
static void ctxs_release(int phase)
{
    for (struct pmn__fork_node *n = ctxs.head; n; n = n->next) {
        struct pmn_ctx *c = CTX_OF(n);

        if (phase == 2)
            c->wm_refreshing = false;
        pthread_mutex_unlock(&c->dax_lock);
        pthread_mutex_unlock(&c->wm_lock);
    }
    pthread_mutex_unlock(&ctxs.lock);
}

static void ctx_free(struct pmn_ctx *ctx)
{
    pmn__fork_leave(&ctxs, &ctx->fork);
    pmn__topology_free(ctx);
    pmn__strv_free(ctx->problems, ctx->nproblems);
    pmn__sysfs_close(&ctx->fs);
    pthread_mutex_destroy(&ctx->dax_lock);
    pthread_mutex_destroy(&ctx->wm_lock);
    free(ctx->wm);
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
    if (p->errbuf != NULL)
        p->errbuf[0] = '\0';
    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return pmn__ctx_fail(NULL, p, -ENOMEM, "out of memory");
    atomic_init(&ctx->refs, 1);
    pthread_mutex_init(&ctx->dax_lock, NULL);
    pthread_mutex_init(&ctx->wm_lock, NULL);
    ctx->fs.rootfd = -1;
    ctx->flags = p->flags;

    if (use_env && (env = secure_getenv("PMNODE_LOG")) != NULL && *env) {
        if (pmn__parse_log_level(env, strlen(env), &ctx->log_level) != 0) {
            /* Logging is what is wrong, so nothing is printed (no
             * context to log with): the code and the buffer say it. */
            ctx_free(ctx);
            return pmn__ctx_fail(NULL, p, PMN_E_CONFIG,
                                 "PMNODE_LOG: '%.64s' is not a log level (off, error, warn, "
                                 "info or debug)",
                                 env);
        }
    }
    if (!p->root_set && use_env) {
        env = secure_getenv("PMNODE_SYSFS_ROOT");
        if (env != NULL && *env)
            root = env;
    }
    err = pmn__sysfs_open(&ctx->fs, root ? root : "/");
    if (err) {
        pmn__ctx_fail(ctx, p, err, "cannot open root %s: %s", root ? root : "/",
                      pmn_strerror(err));
        ctx_free(ctx);
        return err;
    }
    ctx->local = strcmp(ctx->fs.root, "/") == 0;
    err = pmn__discover(ctx, p);
    if (err) {
        /* The configuration stage says why itself (read_config). */
        if (err != PMN_E_CONFIG)
            pmn__ctx_fail(ctx, p, err, "discovery under %s failed: %s", ctx->fs.root,
                          pmn_strerror(err));
        ctx_free(ctx);
        return err;
    }
    pmn__fork_join(&ctxs, &ctx->fork);
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
