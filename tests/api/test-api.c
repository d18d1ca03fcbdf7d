/*
 * test-api.c - the public discovery API over the bundled fixture trees.
 *
 * Each test opens a fixture root (PMN_FIXTURES points at tests/fixtures)
 * and checks one contract of include/pmnode.h: error codes, params and
 * environment precedence, selection helpers, getters on unknown values.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmnode.h"

static char *fixture(const char *name)
{
    static char path[PATH_MAX];
    const char *base = getenv("PMN_FIXTURES");

    cr_assert_not_null(base, "PMN_FIXTURES must point at tests/fixtures");
    snprintf(path, sizeof(path), "%s/%s/root", base, name);
    return path;
}

static struct pmn_ctx *open_fixture(const char *name, unsigned flags)
{
    struct pmn_ctx_params *p;
    struct pmn_ctx *ctx = NULL;

    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, fixture(name)), 0);
    cr_assert_eq(pmn_ctx_params_set_flags(p, flags | PMN_CTX_IGNORE_ENV), 0);
    cr_assert_eq(pmn_ctx_new_params(&ctx, p), 0, "fixture %s", name);
    pmn_ctx_params_free(p);
    return ctx;
}

Test(errors, codes_are_outside_errno_and_named)
{
    cr_assert_lt(PMN_E_REMOTE_ROOT, -4095);
    cr_assert_str_eq(pmn_err_name(PMN_E_NO_NODE), "PMN_E_NO_NODE");
    cr_assert_str_eq(pmn_err_name(-ENOMEM), "ENOMEM");
    cr_assert_str_eq(pmn_err_name(ENOMEM), "ENOMEM");
    cr_assert_str_eq(pmn_strerror(0), "success");
    cr_assert_str_eq(pmn_strerror(-123456789), "unknown error");
    cr_assert_str_eq(pmn_err_name(-123456789), "unknown");
    cr_assert_not_null(strstr(pmn_strerror(PMN_E_REMOTE_ROOT), "another machine"));
}

Test(kinds, names_round_trip)
{
    for (int k = 0; k < PMN_KIND__COUNT; k++) {
        enum pmn_kind back;
        cr_assert_eq(pmn_kind_parse(pmn_kind_name((enum pmn_kind)k), &back), 0);
        cr_assert_eq((int)back, k);
    }
    enum pmn_kind k;
    cr_assert_eq(pmn_kind_parse("CXL", &k), 0);
    cr_assert_eq(k, PMN_KIND_CXL);
    cr_assert_eq(pmn_kind_parse("ram", &k), -EINVAL);
    cr_assert_str_eq(pmn_kind_name((enum pmn_kind)99), "unknown");
    cr_assert_str_eq(pmn_isolation_name(PMN_ISOLATION_CONFIG), "config");
}

Test(ctx, bad_roots_fail_cleanly)
{
    struct pmn_ctx *ctx = (struct pmn_ctx *)0x1;

    cr_assert_eq(pmn_ctx_new_at(&ctx, "/nonexistent/pmnode-root"), -ENOENT);
    cr_assert_null(ctx);
    cr_assert_eq(pmn_ctx_new_at(&ctx, fixture("no-sysfs")), PMN_E_NO_NUMA);
    cr_assert_eq(pmn_ctx_new_at(NULL, "/"), -EINVAL);
}

Test(ctx, foreign_root_is_not_local_and_refcounts)
{
    struct pmn_ctx *ctx = open_fixture("two-socket-cxl", 0);

    cr_assert_not(pmn_ctx_is_local(ctx));
    cr_assert_eq(pmn_ctx_ref(ctx), ctx);
    pmn_ctx_unref(ctx);
    cr_assert_eq(pmn_node_count(ctx), 3);
    pmn_ctx_unref(ctx);
    pmn_ctx_unref(NULL);
}

Test(nodes, cpuless_cxl_node)
{
    struct pmn_ctx *ctx = open_fixture("two-socket-cxl", PMN_CTX_NO_HWLOC);
    const struct pmn_node *n = pmn_node_get(ctx, 2);

    cr_assert_not_null(n);
    cr_assert_eq(pmn_node_kind(n), PMN_KIND_CXL);
    cr_assert_str_eq(pmn_node_cpulist(n), "");
    cr_assert_eq(pmn_node_cpu_count(n), 0);
    cr_assert_gt(pmn_node_tier(n), pmn_node_tier(pmn_node_get(ctx, 0)));
    cr_assert_gt(pmn_node_distance(pmn_node_get(ctx, 0), 2), 10);
    cr_assert_eq(pmn_node_distance(n, 77), -1);
    cr_assert_not_null(pmn_node_dax(n));
    cr_assert_null(pmn_node_get(ctx, 1000));
    pmn_ctx_unref(ctx);
}

Test(nodes, sparse_ids_iterate_in_order)
{
    struct pmn_ctx *ctx = open_fixture("gpu-sparse", 0);
    const struct pmn_node *n;
    int prev = -1, ids[8];
    size_t cnt = 0;

    pmn_node_foreach(ctx, n) {
        cr_assert_gt(pmn_node_id(n), prev);
        prev = pmn_node_id(n);
        cnt++;
    }
    cr_assert_eq(cnt, pmn_node_count(ctx));
    cr_assert_eq(prev, 255);
    cr_assert_eq(pmn_nodes_of_kind(ctx, PMN_KIND_GPU, ids, 8), 4);
    cr_assert_eq(ids[0], 252);
    cr_assert_eq(ids[3], 255);
    /* A short buffer still reports the full count. */
    cr_assert_eq(pmn_nodes_of_kind(ctx, PMN_KIND_GPU, ids, 1), 4);
    pmn_ctx_unref(ctx);
}

Test(nodes, gpu_found_without_hwloc)
{
    /* NVIDIA's numa_status alone must be enough: hwloc may hide GPU nodes. */
    struct pmn_ctx *ctx = open_fixture("gpu-sparse", PMN_CTX_NO_HWLOC);

    cr_assert_eq(pmn_node_kind(pmn_node_get(ctx, 253)), PMN_KIND_GPU);
    pmn_ctx_unref(ctx);
}

Test(privacy, v4_private_memory_is_kernel_isolation)
{
    struct pmn_ctx *ctx = open_fixture("v4-private", 0);
    const struct pmn_node *n;
    bool any = false;

    cr_assert(pmn_ctx_abi(ctx) & PMN_ABI_PRIVATE_MEMORY);
    pmn_node_foreach(ctx, n) {
        if (pmn_node_is_private(n)) {
            any = true;
            cr_assert_eq(pmn_node_isolation(n), PMN_ISOLATION_KERNEL);
        }
    }
    cr_assert(any);
    cr_assert_not(pmn_node_is_private(pmn_node_get(ctx, 0)));
    pmn_ctx_unref(ctx);
}

Test(privacy, params_private_list_gives_config_isolation)
{
    struct pmn_ctx_params *p;
    struct pmn_ctx *ctx;

    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, fixture("two-socket-cxl")), 0);
    cr_assert_eq(pmn_ctx_params_set_private_nodes(p, "2"), 0);
    cr_assert_eq(pmn_ctx_params_set_private_nodes(p, "2-"), -EINVAL);
    cr_assert_eq(pmn_ctx_params_set_flags(p, PMN_CTX_IGNORE_ENV | PMN_CTX_NO_HWLOC), 0);
    cr_assert_eq(pmn_ctx_params_set_flags(p, 1u << 30), -EINVAL);
    cr_assert_eq(pmn_ctx_new_params(&ctx, p), 0);
    pmn_ctx_params_free(p);
    cr_assert_eq(pmn_node_isolation(pmn_node_get(ctx, 2)), PMN_ISOLATION_CONFIG);
    cr_assert_eq(pmn_node_isolation(pmn_node_get(ctx, 1)), PMN_ISOLATION_NONE);
    int near;
    cr_assert_eq(pmn_nearest_private_node(ctx, 0, &near), 0);
    cr_assert_eq(near, 2);
    cr_assert_eq(pmn_nearest_private_to_cpu(ctx, 5, &near), 0);
    cr_assert_eq(near, 2);
    cr_assert_eq(pmn_nearest_private_node(ctx, 9, &near), PMN_E_NO_NODE);
    pmn_ctx_unref(ctx);
}

Test(privacy, env_private_nodes_and_bad_env)
{
    struct pmn_ctx *ctx;

    setenv("PMNODE_PRIVATE_NODES", "1", 1);
    cr_assert_eq(pmn_ctx_new_at(&ctx, fixture("two-socket-cxl")), 0);
    cr_assert_eq(pmn_node_isolation(pmn_node_get(ctx, 1)), PMN_ISOLATION_CONFIG);
    pmn_ctx_unref(ctx);
    setenv("PMNODE_PRIVATE_NODES", "1-x", 1);
    cr_assert_eq(pmn_ctx_new_at(&ctx, fixture("two-socket-cxl")), PMN_E_CONFIG);
    unsetenv("PMNODE_PRIVATE_NODES");
    setenv("PMNODE_LOG", "loud", 1);
    cr_assert_eq(pmn_ctx_new_at(&ctx, fixture("two-socket-cxl")), PMN_E_CONFIG);
    unsetenv("PMNODE_LOG");
    setenv("PMNODE_SYSFS_ROOT", fixture("gpu-sparse"), 1);
    cr_assert_eq(pmn_ctx_new(&ctx), 0);
    cr_assert_eq(pmn_node_count(ctx), 6);
    pmn_ctx_unref(ctx);
    unsetenv("PMNODE_SYSFS_ROOT");
}

Test(privacy, params_kind_overrides_discovery)
{
    struct pmn_ctx_params *p;
    struct pmn_ctx *ctx;

    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, fixture("two-socket-cxl")), 0);
    cr_assert_eq(pmn_ctx_params_set_node_kind(p, 2, PMN_KIND_COMPRESSED), 0);
    cr_assert_eq(pmn_ctx_params_set_node_kind(p, -1, PMN_KIND_DRAM), -EINVAL);
    cr_assert_eq(pmn_ctx_params_set_node_kind(p, 1, (enum pmn_kind)42), -EINVAL);
    cr_assert_eq(pmn_ctx_params_set_flags(p, PMN_CTX_IGNORE_ENV), 0);
    cr_assert_eq(pmn_ctx_new_params(&ctx, p), 0);
    pmn_ctx_params_free(p);
    cr_assert_eq(pmn_node_kind(pmn_node_get(ctx, 2)), PMN_KIND_COMPRESSED);
    pmn_ctx_unref(ctx);
}

Test(privacy, config_file_from_root)
{
    struct pmn_ctx *ctx = open_fixture("admin-config", 0);

    cr_assert_eq(pmn_node_isolation(pmn_node_get(ctx, 1)), PMN_ISOLATION_CONFIG);
    cr_assert_eq(pmn_node_kind(pmn_node_get(ctx, 2)), PMN_KIND_COMPRESSED);
    pmn_ctx_unref(ctx);
    ctx = open_fixture("admin-config", PMN_CTX_NO_CONFIG);
    cr_assert_eq(pmn_node_isolation(pmn_node_get(ctx, 1)), PMN_ISOLATION_NONE);
    pmn_ctx_unref(ctx);
}

Test(privacy, cramdax_node_is_compressed_and_private)
{
    struct pmn_ctx *ctx = open_fixture("cramdax", 0);
    const struct pmn_node *n = pmn_node_get(ctx, 3);

    cr_assert_eq(pmn_node_kind(n), PMN_KIND_COMPRESSED);
    cr_assert_eq(pmn_node_isolation(n), PMN_ISOLATION_KERNEL);
    cr_assert_gt(pmn_node_zratio(n), 1.0);
    cr_assert(pmn_ctx_abi(ctx) & PMN_ABI_CRAMDAX);
    pmn_ctx_unref(ctx);
}

Test(dax, devdax_and_kmem_devices)
{
    struct pmn_ctx *ctx = open_fixture("devdax-kmem", 0);
    const struct pmn_dax *d0 = pmn_dax_get(ctx, "dax0.0"), *d1 = pmn_dax_get(ctx, "dax1.0");

    cr_assert_not_null(d0);
    cr_assert_not_null(d1);
    cr_assert_eq(pmn_dax_mode(d0), PMN_DAX_DEVDAX);
    cr_assert_str_eq(pmn_dax_mode_name(d0), "devdax");
    cr_assert_str_eq(pmn_dax_path(d0), "/dev/dax0.0");
    cr_assert(pmn_dax_is_private(d0));
    cr_assert_eq(pmn_dax_node(d0), -1);
    cr_assert_eq(pmn_dax_mode(d1), PMN_DAX_SYSTEM_RAM);
    cr_assert_eq(pmn_dax_node(d1), 2);
    cr_assert_neq(pmn_dax_align(d0), PMN_UNKNOWN);
    cr_assert_eq(pmn_dax_align(d0) & (pmn_dax_align(d0) - 1), 0);
    cr_assert_eq(pmn_node_dax(pmn_node_get(ctx, 2)), d1);
    cr_assert_null(pmn_dax_get(ctx, "dax7.7"));
    cr_assert_eq(pmn_dax_count(ctx), 2);
    pmn_ctx_unref(ctx);
}

Test(select, unknown_without_hmat)
{
    struct pmn_ctx *ctx = open_fixture("one-node-dram", 0);
    struct pmn_perf perf = {.struct_size = sizeof(perf)};
    int id = -7;

    cr_assert_eq(pmn_best_node(ctx, PMN_RANK_BANDWIDTH, 0, PMN_KIND_UNKNOWN, &id), PMN_E_UNKNOWN);
    cr_assert_eq(id, -7);
    cr_assert_eq(pmn_best_node(ctx, PMN_RANK_CAPACITY, 0, PMN_KIND_UNKNOWN, &id), 0);
    cr_assert_eq(id, 0);
    cr_assert_eq(pmn_best_node(ctx, PMN_RANK_CAPACITY, PMN_SELECT_PRIVATE, PMN_KIND_UNKNOWN, &id),
                 PMN_E_NO_MATCH);
    cr_assert_eq(pmn_best_node(ctx, (enum pmn_rank)9, 0, PMN_KIND_UNKNOWN, &id), -EINVAL);
    cr_assert_eq(pmn_node_perf(pmn_node_get(ctx, 0), &perf), PMN_E_UNKNOWN);
    cr_assert_eq(perf.read_latency, PMN_UNKNOWN);
    cr_assert_eq(pmn_nearest_private_node(ctx, 0, &id), PMN_E_NO_MATCH);
    pmn_ctx_unref(ctx);
}

Test(select, hmat_ranks_latency)
{
    struct pmn_ctx *ctx = open_fixture("two-socket-cxl", 0);
    struct pmn_perf perf = {.struct_size = sizeof(perf)};
    int id;

    cr_assert_eq(pmn_node_perf(pmn_node_get(ctx, 2), &perf), 0);
    cr_assert_neq(perf.read_latency, PMN_UNKNOWN);
    cr_assert_eq(pmn_best_node(ctx, PMN_RANK_LATENCY, PMN_SELECT_KIND, PMN_KIND_CXL, &id), 0);
    cr_assert_eq(id, 2);
    pmn_ctx_unref(ctx);
}

/* ---- structs the library fills are versioned by size (pmnode.h) -------- */

#define FILL 0x5a

static bool untouched(const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != FILL)
            return false;
    return true;
}

/* A caller built against a later header, whose struct is longer: the
 * library fills what it knows, says how much, and leaves the rest. */
Test(abi, perf_struct_size)
{
    struct pmn_ctx *ctx = open_fixture("two-socket-cxl", 0);
    const struct pmn_node *n = pmn_node_get(ctx, 2);
    struct {
        struct pmn_perf p;
        uint64_t added[3];
    } later;
    struct pmn_perf small;

    memset(&later, FILL, sizeof(later));
    later.p.struct_size = sizeof(later);
    cr_assert_eq(pmn_node_perf(n, &later.p), 0);
    cr_assert_eq(later.p.struct_size, sizeof(struct pmn_perf), "struct_size %zu after the call",
                 later.p.struct_size);
    cr_assert_neq(later.p.read_latency, PMN_UNKNOWN);
    cr_assert(untouched(later.added, sizeof(later.added)), "written past its own struct");

    /* Smaller than the first version: -EINVAL, nothing written. */
    memset(&small, FILL, sizeof(small));
    for (size_t size = 0; size < sizeof(small); size += 7) {
        small.struct_size = size;
        cr_assert_eq(pmn_node_perf(n, &small), -EINVAL, "struct_size %zu accepted", size);
        cr_assert_eq(small.struct_size, size);
        cr_assert(untouched(&small.read_bandwidth, sizeof(small) - sizeof(size_t)),
                  "struct_size %zu: written although refused", size);
    }
    small.struct_size = sizeof(small);
    cr_assert_eq(pmn_node_perf(NULL, &small), -EINVAL);
    cr_assert_eq(pmn_node_perf(n, NULL), -EINVAL);
    /* The struct the caller gets back can be passed again as it is. */
    cr_assert_eq(pmn_node_perf(n, &small), 0);
    cr_assert_eq(pmn_node_perf(n, &small), 0);
    cr_assert_eq(small.read_latency, later.p.read_latency);
    pmn_ctx_unref(ctx);
}

/* The array's element size is out[0].struct_size; every element filled is
 * an output struct of its own. */
Test(abi, hugepools_element_size)
{
    struct pmn_ctx *ctx = open_fixture("gpu-sparse", 0);
    const struct pmn_node *n = pmn_node_get(ctx, 0);
    struct {
        struct pmn_hugepool p;
        uint64_t added;
    } later[3];
    struct pmn_hugepool one[1], *odd;
    char raw[3 * sizeof(struct pmn_hugepool) + 8];

    cr_assert_eq(pmn_node_hugepools(n, NULL, 0), 2);
    memset(later, FILL, sizeof(later));
    later[0].p.struct_size = sizeof(later[0]);
    cr_assert_eq(pmn_node_hugepools(n, &later[0].p, 3), 2);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(later[i].p.struct_size, sizeof(struct pmn_hugepool), "pool %d", i);
        cr_assert(untouched(&later[i].added, sizeof(later[i].added)), "pool %d: past the struct",
                  i);
    }
    cr_assert_eq(later[0].p.page_size, (uint64_t)2 << 20);
    cr_assert_eq(later[1].p.page_size, (uint64_t)1 << 30);
    cr_assert_eq(later[1].p.total, 0);
    cr_assert(untouched(&later[2], sizeof(later[2])), "a third element written for two pools");

    /* Short array: the count is still the node's. */
    one[0].struct_size = sizeof(one[0]);
    cr_assert_eq(pmn_node_hugepools(n, one, 1), 2);
    cr_assert_eq(one[0].page_size, (uint64_t)2 << 20);

    /* Element sizes below the first version, or not a multiple of the
     * struct's alignment, are refused without writing. */
    memset(raw, FILL, sizeof(raw));
    odd = (struct pmn_hugepool *)(void *)raw;
    odd->struct_size = sizeof(struct pmn_hugepool) - 8;
    cr_assert_eq(pmn_node_hugepools(n, odd, 2), -EINVAL);
    odd->struct_size = sizeof(struct pmn_hugepool) + 1;
    cr_assert_eq(pmn_node_hugepools(n, odd, 2), -EINVAL);
    cr_assert(untouched(raw + sizeof(size_t), sizeof(raw) - sizeof(size_t)));
    cr_assert_eq(pmn_node_hugepools(n, NULL, 1), -EINVAL);
    cr_assert_eq(pmn_node_hugepools(NULL, NULL, 0), -EINVAL);
    pmn_ctx_unref(ctx);
}

/* The tier's JSON reads the caller's struct only as far as it goes. */
Test(abi, ctier_stats_struct_size)
{
    struct pmn_ctier_stats st = {.struct_size = sizeof(st), .refusals = 3};
    char buf[1024];

    cr_assert_gt(pmn_ctier_stats_json(&st, buf, sizeof(buf)), 0);
    cr_assert_not_null(strstr(buf, "\"refusals\": 3}"), "%s", buf);
    st.struct_size = sizeof(st) - sizeof(st.refusals);
    cr_assert_eq(pmn_ctier_stats_json(&st, buf, sizeof(buf)), -EINVAL);
    st.struct_size = 0;
    cr_assert_eq(pmn_ctier_stats_json(&st, buf, sizeof(buf)), -EINVAL);
    cr_assert_eq(pmn_ctier_stats_json(NULL, buf, sizeof(buf)), -EINVAL);
    st.struct_size = sizeof(st);
    cr_assert_eq(pmn_ctier_stats(NULL, &st), -EINVAL);
}

/* A ratio the kernel does not give is -1, like ids and tiers, not 0. */
Test(abi, zratio_unknown_is_minus_one)
{
    struct pmn_ctx *ctx = open_fixture("cramdax", 0);

    cr_assert_gt(pmn_node_zratio(pmn_node_get(ctx, 3)), 1.0);
    cr_assert_eq(pmn_node_zratio(pmn_node_get(ctx, 0)), -1.0, "zratio of a DRAM node: %g",
                 pmn_node_zratio(pmn_node_get(ctx, 0)));
    cr_assert_eq(pmn_node_zratio(NULL), -1.0);
    pmn_ctx_unref(ctx);
}

Test(broken, discovery_survives_and_reports)
{
    struct pmn_ctx *ctx = open_fixture("broken", 0);
    const char *lines[64];
    size_t n = pmn_ctx_problems(ctx, lines, 64);

    cr_assert_gt(n, 0);
    for (size_t i = 0; i < n && i < 64; i++)
        cr_assert_not_null(lines[i]);
    cr_assert_eq(pmn_node_capacity(pmn_node_get(ctx, 0)), PMN_UNKNOWN);
    pmn_ctx_unref(ctx);
}

Test(live, read_free_matches_node_set)
{
    struct pmn_ctx *ctx = open_fixture("two-socket-cxl", 0);
    uint64_t b;

    cr_assert_eq(pmn_node_read_free(ctx, 2, &b), 0);
    cr_assert_eq(b, pmn_node_free(pmn_node_get(ctx, 2)));
    cr_assert_eq(pmn_node_read_free(ctx, 5, &b), PMN_E_NO_NODE);
    pmn_ctx_unref(ctx);
}
