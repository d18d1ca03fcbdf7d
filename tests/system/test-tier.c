/*
 * test-tier.c - the tiering helper on this host (suite 'system', issue 16).
 *
 * A tier needs two memory nodes; this host may have one.  What is visible
 * here: the argument checks of pmn_tier_new (the same node twice, unknown
 * nodes and flags, short option structs, a remote root), the stats and
 * their JSON, and - where the host has a second memory node - a tier that
 * adds, steps over and removes a range, and survives the range being
 * unmapped.  Moves between real nodes are in the vm lane
 * (tests/vm/guest/vm-tier.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pmnode.h"

static struct pmn_ctx *local_ctx(void)
{
    struct pmn_ctx_params *p;
    struct pmn_ctx *ctx = NULL;

    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, "/"), 0);
    cr_assert_eq(pmn_ctx_params_set_flags(p, PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG), 0);
    cr_assert_eq(pmn_ctx_new_params(&ctx, p), 0, "no context for this machine");
    pmn_ctx_params_free(p);
    cr_assert_not_null(pmn_node_get(ctx, 0), "this host has no node 0");
    return ctx;
}

/* A second memory node of this host, or -1. */
static int other_node(struct pmn_ctx *ctx)
{
    for (int n = 1; n < 1024; n++) {
        const struct pmn_node *nd = pmn_node_get(ctx, n);
        if (nd != NULL && pmn_node_capacity(nd) > 0)
            return n;
    }
    return -1;
}

static struct pmn_tier_opts opts(int hot, int cold)
{
    return (struct pmn_tier_opts){
        .struct_size = sizeof(struct pmn_tier_opts), .hot_node = hot, .cold_node = cold};
}

Test(tier, new_refuses_bad_arguments)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_tier *t = (struct pmn_tier *)0x1;
    struct pmn_tier_opts o = opts(0, 0);

    cr_expect_eq(pmn_tier_new(ctx, &o, &t), -EINVAL, "the same node twice");
    cr_expect_null(t, "*out cleared on failure");
    o = opts(0, -1);
    cr_expect_eq(pmn_tier_new(ctx, &o, &t), -EINVAL, "a negative node");
    o = opts(0, 60000);
    cr_expect_eq(pmn_tier_new(ctx, &o, &t), PMN_E_NO_NODE);
    o = opts(60000, 0);
    cr_expect_eq(pmn_tier_new(ctx, &o, &t), PMN_E_NO_NODE);
    o = opts(0, 1);
    o.flags = 1u << 7;
    cr_expect_eq(pmn_tier_new(ctx, &o, &t), -EINVAL, "an unknown migrate flag");
    o = opts(0, 1);
    o.struct_size = sizeof(size_t);
    cr_expect_eq(pmn_tier_new(ctx, &o, &t), -EINVAL, "a struct too short for the track field");
    o = opts(0, 1);
    cr_expect_eq(pmn_tier_new(NULL, &o, &t), -EINVAL);
    cr_expect_eq(pmn_tier_new(ctx, NULL, &t), -EINVAL);
    cr_expect_eq(pmn_tier_new(ctx, &o, NULL), -EINVAL);
    pmn_ctx_unref(ctx);
}

Test(tier, remote_root_refused)
{
    const char *fx = getenv("PMN_FIXTURES");
    struct pmn_ctx_params *p;
    struct pmn_ctx *ctx = NULL;
    struct pmn_tier *t = NULL;
    char root[4096];

    if (fx == NULL)
        cr_skip_test("PMN_FIXTURES not set");
    snprintf(root, sizeof(root), "%s/real-cpuless-hmat-6.1/root", fx);
    if (access(root, R_OK) != 0)
        cr_skip_test("no two-node fixture at %s", root);
    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, root), 0);
    cr_assert_eq(pmn_ctx_params_set_flags(p, PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG), 0);
    cr_assert_eq(pmn_ctx_new_params(&ctx, p), 0);
    pmn_ctx_params_free(p);
    struct pmn_tier_opts o = opts(0, 1);
    cr_expect_eq(pmn_tier_new(ctx, &o, &t), PMN_E_REMOTE_ROOT);
    cr_expect_null(t);
    pmn_ctx_unref(ctx);
}

Test(tier, null_handles)
{
    struct pmn_tier_stats st = {.struct_size = sizeof(st)};

    pmn_tier_free(NULL);
    cr_expect_null(pmn_tier_tracker(NULL));
    cr_expect_eq(pmn_tier_step(NULL, NULL), -EINVAL);
    cr_expect_eq(pmn_tier_stats(NULL, &st), -EINVAL);
    cr_expect_eq(pmn_tier_add(NULL, &st, 4096), -EINVAL);
    cr_expect_eq(pmn_tier_remove(NULL, &st, 4096), -EINVAL);
}

Test(tier, stats_json)
{
    struct pmn_tier_stats st = {.struct_size = sizeof(st),
                                .managed_bytes = 8192,
                                .hot_bytes = 4096,
                                .steps = 3,
                                .failed_moves = 1,
                                .write_returned_bytes = 12288};
    char buf[1024];
    int n = pmn_tier_stats_json(&st, buf, sizeof(buf));

    cr_assert_gt(n, 0);
    cr_expect_eq((size_t)n, strlen(buf));
    cr_expect(strstr(buf, "\"managed_bytes\": 8192") != NULL, "%s", buf);
    cr_expect(strstr(buf, "\"hot_bytes\": 4096") != NULL, "%s", buf);
    cr_expect(strstr(buf, "\"failed_moves\": 1") != NULL, "%s", buf);
    cr_expect(strstr(buf, "\"write_returned_bytes\": 12288") != NULL, "%s", buf);
    cr_expect_eq(buf[0], '{');
    cr_expect_eq(buf[n - 1], '}');
    /* size query, truncation, short struct */
    cr_expect_eq(pmn_tier_stats_json(&st, NULL, 0), n);
    cr_expect_eq(pmn_tier_stats_json(&st, buf, 10), n);
    cr_expect_eq(strlen(buf), 9u);
    st.struct_size = 8;
    cr_expect_eq(pmn_tier_stats_json(&st, buf, sizeof(buf)), -EINVAL);
    cr_expect_eq(pmn_tier_stats_json(NULL, buf, sizeof(buf)), -EINVAL);
}

/* With a second memory node: add, step, remove; an unmapped range does not
 * crash a step, and an untouched range is never moved in its first steps
 * (the tracker has not looked at it twice yet). */
Test(tier, two_nodes_lifecycle)
{
    struct pmn_ctx *ctx = local_ctx();
    int cold = other_node(ctx);
    const size_t pg = (size_t)getpagesize(), len = 64 * pg;
    struct pmn_tier_stats d = {.struct_size = sizeof(d)}, s = {.struct_size = sizeof(s)};
    struct pmn_tier *t = NULL;
    char *a, *b;

    if (cold < 0) {
        pmn_ctx_unref(ctx);
        cr_skip_test("one memory node: a tier needs two");
    }
    struct pmn_tier_opts o = opts(0, cold);
    o.track = (struct pmn_track_opts){.struct_size = sizeof(o.track), .granule = 16 * pg};
    int err = pmn_tier_new(ctx, &o, &t);
    if (err == -EOPNOTSUPP || err == -EPERM) {
        pmn_ctx_unref(ctx);
        cr_skip_test("no tracker here: %s", pmn_strerror(err));
    }
    cr_assert_eq(err, 0, "%s", pmn_strerror(err));
    cr_assert_not_null(pmn_tier_tracker(t));
    a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(a != MAP_FAILED && b != MAP_FAILED);
    memset(a, 1, len);
    memset(b, 2, len);
    cr_expect_eq(pmn_tier_add(t, a + 1, len), -EINVAL, "misaligned");
    cr_expect_eq(pmn_tier_add(t, a, 0), -EINVAL);
    cr_assert_eq(pmn_tier_add(t, a, len), 0);
    cr_expect_eq(pmn_tier_add(t, a + pg, pg), -EEXIST);
    cr_assert_eq(pmn_tier_add(t, b, len), 0);
    cr_assert_eq(pmn_tier_step(t, &d), 0);
    cr_expect_eq(d.steps, 1);
    cr_expect_eq(d.managed_bytes, 2 * len);
    cr_expect_eq(d.promoted_bytes + d.demoted_bytes, 0, "nothing looked at twice yet");
    cr_expect_eq(d.hot_bytes + d.cold_bytes + d.other_bytes, 2 * len);
    munmap(b, len); /* gone without remove: no crash, its pages simply not found */
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pmn_tier_step(t, &d), 0);
    cr_expect_eq(pmn_tier_remove(t, b, len), 0);
    cr_expect_eq(pmn_tier_remove(t, b, len), -ENOENT);
    cr_expect_eq(pmn_tier_remove(t, a, pg), -ENOENT, "exactly the range added");
    cr_assert_eq(pmn_tier_stats(t, &s), 0);
    cr_expect_eq(s.steps, 5);
    cr_expect_eq(s.managed_bytes, len);
    for (size_t i = 0; i < len; i++)
        if (a[i] != 1)
            cr_assert_fail("byte %zu changed", i);
    pmn_tier_free(t);
    munmap(a, len);
    pmn_ctx_unref(ctx);
}
