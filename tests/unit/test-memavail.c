/*
 * test-memavail.c - the free-memory check over fixture trees (issue 13):
 * pmn_node_read_available() and pmn__node_room(), the check every region
 * map makes, on copies of tests/fixtures/one-node-dram whose node 0
 * meminfo and /proc/zoneinfo each test writes.
 *
 * MemFree alone misleads both ways: pages below the zone watermarks count
 * as free though the kernel keeps them back (the check passes, the
 * populate then lands elsewhere), and page cache the kernel would free
 * does not count (the check refuses memory that is there).  A tree
 * without zoneinfo (every older fixture) keeps the MemFree check.
 */
#include <sched.h>
#include <sys/stat.h>

#include "harness.h"
#include "discover/topology.h"
#include "place/backing.h"

#define MiB_U ((uint64_t)1 << 20)

static char root[64];
static char tree[128];
static struct pmn_ctx *ctx;

static uint64_t page(void)
{
    return (uint64_t)sysconf(_SC_PAGESIZE);
}

static void put(const char *path, const char *text)
{
    char full[256];
    FILE *f;

    snprintf(full, sizeof(full), "%s/%s", tree, path);
    f = fopen(full, "w");
    cr_assert_not_null(f, "%s: %s", full, strerror(errno));
    cr_assert_geq(fputs(text, f), 0);
    cr_assert_eq(fclose(f), 0);
}

/* Node 0's meminfo: MemFree, page cache and reclaimable kernel memory in
 * MiB; @kreclaimable < 0 leaves the KReclaimable line out (Linux < 4.20). */
static void meminfo(uint64_t free_mib, uint64_t active_file, uint64_t inactive_file,
                    uint64_t sreclaimable, long kreclaimable)
{
    char text[1024], k[64] = "";

    if (kreclaimable >= 0)
        snprintf(k, sizeof(k), "Node 0 KReclaimable:  %8lu kB\n",
                 (unsigned long)kreclaimable * 1024);
    snprintf(text, sizeof(text),
             "Node 0 MemTotal:       16777216 kB\n"
             "Node 0 MemFree:        %8llu kB\n"
             "Node 0 Active:          3670016 kB\n"
             "Node 0 Active(file):   %8llu kB\n"
             "Node 0 Inactive(file): %8llu kB\n"
             "%s"
             "Node 0 Slab:             131072 kB\n"
             "Node 0 SReclaimable:   %8llu kB\n"
             "Node 0 SUnreclaim:        65536 kB\n",
             ull(free_mib * 1024), ull(active_file * 1024), ull(inactive_file * 1024), k,
             ull(sreclaimable * 1024));
    put("sys/devices/system/node/node0/meminfo", text);
}

/* One zone of node @node in /proc/zoneinfo, watermarks in MiB (pages
 * written), protection the largest lowmem reserve in MiB. */
static void zone(char *buf, size_t len, int node, const char *name, uint64_t low_mib,
                 uint64_t high_mib, uint64_t managed_mib, uint64_t prot_mib)
{
    size_t used = strlen(buf);
    uint64_t pm = MiB_U / page();

    snprintf(buf + used, len - used,
             "Node %d, zone %8s\n"
             "  pages free     1000\n"
             "        min      %llu\n"
             "        low      %llu\n"
             "        high     %llu\n"
             "        spanned  %llu\n"
             "        present  %llu\n"
             "        managed  %llu\n"
             "        protection: (0, 0, %llu, %llu)\n"
             "  pagesets\n"
             "    cpu: 0\n"
             "              count:    0\n"
             "              high:     123456789\n"
             "              batch:    1\n",
             node, name, ull(low_mib * pm * 3 / 4), ull(low_mib * pm), ull(high_mib * pm),
             ull(managed_mib * pm), ull(managed_mib * pm), ull(managed_mib * pm),
             ull(prot_mib * pm), ull(prot_mib * pm));
}

/* A fresh context over the tree as it is now (the watermarks are cached
 * per context). */
static void reopen(void)
{
    struct pmn_ctx_params *p;

    if (ctx != NULL)
        pmn_ctx_unref(ctx);
    ctx = NULL;
    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, tree), 0);
    cr_assert_eq(pmn_ctx_params_set_flags(p, PMN_CTX_IGNORE_ENV | PMN_CTX_NO_HWLOC), 0);
    cr_assert_eq(pmn_ctx_new_params(&ctx, p), 0, "context over %s", tree);
    pmn_ctx_params_free(p);
}

static void setup(void)
{
    const char *base = getenv("PMN_FIXTURES");
    char cmd[512];

    cr_assert_not_null(base, "PMN_FIXTURES must point at tests/fixtures");
    snprintf(root, sizeof(root), "/tmp/pmn-memavail-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(tree, sizeof(tree), "%s/root", root);
    snprintf(cmd, sizeof(cmd), "cp -R '%s/one-node-dram/root' '%s'", base, tree);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    ctx = NULL;
}

static void teardown(void)
{
    char cmd[128];

    if (ctx != NULL)
        pmn_ctx_unref(ctx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    (void)!system(cmd);
}

TestSuite(memavail, .init = setup, .fini = teardown);

static uint64_t available(void)
{
    uint64_t b = 0;
    int err = pmn_node_read_available(ctx, 0, &b);

    cr_assert_eq(err, 0, "pmn_node_read_available: %s", pmn_strerror(err));
    return b;
}

static uint64_t memfree(void)
{
    uint64_t b = 0;

    cr_assert_eq(pmn_node_read_free(ctx, 0, &b), 0);
    return b;
}

/* 1 GiB free, but the zones keep 300 MiB back (high watermark and lowmem
 * protection): 700 MiB plus 64 MiB headroom fits MemFree, not what the
 * kernel will hand out. */
Test(memavail, watermarks_keep_memory_back)
{
    char zi[4096] = "";

    meminfo(1024, 0, 0, 0, 0);
    zone(zi, sizeof(zi), 0, "DMA32", 8, 10, 2048, 190); /* 10 + 190 kept */
    zone(zi, sizeof(zi), 0, "Normal", 80, 100, 4096, 0);
    put("proc/zoneinfo", zi);
    reopen();
    cr_assert_eq(memfree(), 1024 * MiB_U);
    cr_assert_eq(available(), 724 * MiB_U, "available %llu MiB, want 1024 - 300",
                 ull(available() / MiB_U));
    cr_assert_eq(pmn__node_room(ctx, 0, 64 * MiB_U, 700 * MiB_U), PMN_E_NODE_FULL,
                 "700 MiB + 64 MiB headroom passed on a node that can give 724 MiB");
    cr_assert_eq(pmn__node_room(ctx, 0, 64 * MiB_U, 600 * MiB_U), 0);
}

/* 512 MiB free and 2 GiB of page cache: 1 GiB fits once the cache the
 * kernel can reclaim counts (all of it but the low watermarks here). */
Test(memavail, page_cache_makes_room)
{
    char zi[4096] = "";

    meminfo(512, 1536, 512, 0, 256);
    zone(zi, sizeof(zi), 0, "Normal", 16, 24, 8192, 0);
    put("proc/zoneinfo", zi);
    reopen();
    cr_assert_eq(pmn__node_room(ctx, 0, 64 * MiB_U, 1024 * MiB_U), 0,
                 "1 GiB refused on a node with 512 MiB free and 2 GiB of page cache");
    /* 512 - 24 + (2048 - 16) + (256 - 16) */
    cr_assert_eq(available(), 2760 * MiB_U, "available %llu MiB", ull(available() / MiB_U));
    cr_assert_eq(pmn__node_room(ctx, 0, 64 * MiB_U, 3000 * MiB_U), PMN_E_NODE_FULL);
}

/* Not all cache can go at once: at most half of it counts when the low
 * watermarks are larger; SReclaimable stands in for KReclaimable on
 * kernels before 4.20. */
Test(memavail, reclaimable_is_bounded)
{
    char zi[4096] = "";

    meminfo(4096, 1024, 1024, 512, -1);
    zone(zi, sizeof(zi), 0, "Normal", 3072, 3072, 16384, 0);
    put("proc/zoneinfo", zi);
    reopen();
    /* 4096 - 3072 + 2048 / 2 + 512 / 2 */
    cr_assert_eq(available(), 2304 * MiB_U, "available %llu MiB", ull(available() / MiB_U));
}

/* Reserve beyond everything the node has: 0, never a wrapped number. */
Test(memavail, never_below_zero)
{
    char zi[4096] = "";

    meminfo(100, 0, 0, 0, 0);
    zone(zi, sizeof(zi), 0, "Normal", 150, 200, 8192, 0);
    put("proc/zoneinfo", zi);
    reopen();
    cr_assert_eq(available(), 0);
    cr_assert_eq(pmn__node_room(ctx, 0, 0, 1), PMN_E_NODE_FULL);
}

/* A zone holds back at most what it manages (a small DMA zone with a huge
 * protection against Normal allocations). */
Test(memavail, reserve_capped_by_managed)
{
    char zi[4096] = "";

    meminfo(1024, 0, 0, 0, 0);
    zone(zi, sizeof(zi), 0, "DMA", 1, 1, 16, 900);
    put("proc/zoneinfo", zi);
    reopen();
    cr_assert_eq(available(), 1008 * MiB_U, "available %llu MiB", ull(available() / MiB_U));
}

/* Trees without zoneinfo (every fixture before this one), with a
 * malformed one, or one that does not list the node: MemFree, as the
 * check was before. */
Test(memavail, without_zoneinfo_memfree)
{
    char zi[4096] = "";

    meminfo(1024, 2048, 0, 0, 0);
    reopen();
    cr_assert_eq(available(), 1024 * MiB_U);
    cr_assert_eq(pmn__node_room(ctx, 0, 64 * MiB_U, 960 * MiB_U), 0);
    cr_assert_eq(pmn__node_room(ctx, 0, 64 * MiB_U, 961 * MiB_U), PMN_E_NODE_FULL);

    put("proc/zoneinfo", "Node 0, zone   Normal\n        low      x\n");
    reopen();
    cr_assert_eq(available(), 1024 * MiB_U);

    zone(zi, sizeof(zi), 1, "Normal", 16, 24, 8192, 0);
    put("proc/zoneinfo", zi);
    reopen();
    cr_assert_eq(available(), 1024 * MiB_U);
}

/* Errors are read_free's. */
Test(memavail, errors)
{
    uint64_t b;

    reopen();
    cr_assert_eq(pmn_node_read_available(ctx, 7, &b), PMN_E_NO_NODE);
    cr_assert_eq(pmn_node_read_available(NULL, 0, &b), -EINVAL);
    cr_assert_eq(pmn_node_read_available(ctx, 0, NULL), -EINVAL);
    put("sys/devices/system/node/node0/meminfo", "Node 0 MemTotal: 5 kB\n");
    cr_assert_eq(pmn_node_read_available(ctx, 0, &b), PMN_E_UNKNOWN);
    put("sys/devices/system/node/node0/meminfo", "Node 0 MemFree: x kB\n");
    cr_assert_eq(pmn_node_read_available(ctx, 0, &b), PMN_E_PARSE);
}

/* ---- fork ----
 *
 * A context's two locks (the watermarks' and the dax mappings') are held
 * by whichever thread reads zoneinfo or maps a device; a child forked
 * then has only the forking thread, and a lock another thread held stays
 * held in it for ever.  The helper thread below takes both, as a refresh
 * and an attach in flight would, and keeps them a little while: the fork
 * must wait for them (the library's fork handlers), so that the child
 * finds them free.  0.9.4 forked at once, and the child's first
 * pmn_node_read_available() waited for ever (here: SIGALRM). */
/* 1 GiB free on node 0, 100 MiB of it kept back by one zone (924 MiB
 * available): the tree @zi describes, in a fresh context. */
static void one_gib_free(char *zi, size_t len)
{
    meminfo(1024, 0, 0, 0, 0);
    zone(zi, len, 0, "Normal", 80, 100, 4096, 0);
    put("proc/zoneinfo", zi);
    reopen();
}

struct holder {
    struct pmn_ctx *ctx;
    atomic_int held;
};

static void *hold_context_locks(void *arg)
{
    struct holder *h = arg;

    pthread_mutex_lock(&h->ctx->wm_lock);
    pthread_mutex_lock(&h->ctx->dax_lock);
    atomic_store(&h->held, 1);
    usleep(200 * 1000);
    pthread_mutex_unlock(&h->ctx->dax_lock);
    pthread_mutex_unlock(&h->ctx->wm_lock);
    return NULL;
}

Test(memavail, forked_while_another_thread_holds_the_context)
{
    struct holder h;
    pthread_t t;
    char zi[4096] = "";
    int status;
    pid_t pid;

    one_gib_free(zi, sizeof(zi));
    h.ctx = ctx;
    atomic_init(&h.held, 0);
    cr_assert_eq(pthread_create(&t, NULL, hold_context_locks, &h), 0);
    while (!atomic_load(&h.held))
        sched_yield();
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        uint64_t b = 0;

        alarm(3);
        if (pmn_node_read_available(ctx, 0, &b) != 0 || b != 924 * MiB_U)
            _exit(1);
        if (pthread_mutex_trylock(&ctx->dax_lock) != 0)
            _exit(2);
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_not(WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM,
                  "the child waited for a lock another thread of its parent held at fork");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    cr_assert_eq(available(), 924 * MiB_U, "the parent's context still works");
}

/* A stale table is refreshed by one caller; the others answer from the
 * table there is meanwhile, neither waiting nor reading zoneinfo too (a
 * megabyte file on a machine with many CPUs).  A refresh another thread
 * had claimed when the process forked is claimed again in the child,
 * which would otherwise answer from the parent's table for ever. */
Test(memavail, one_refresh_at_a_time)
{
    char zi[4096] = "", zi2[4096] = "";
    int status;
    pid_t pid;

    one_gib_free(zi, sizeof(zi));
    cr_assert_eq(available(), 924 * MiB_U);
    zone(zi2, sizeof(zi2), 0, "Normal", 160, 200, 4096, 0);
    put("proc/zoneinfo", zi2);

    /* As if another thread had claimed the refresh of a stale table. */
    pthread_mutex_lock(&ctx->wm_lock);
    ctx->wm_at_ns -= 2000000000ull;
    ctx->wm_refreshing = true;
    pthread_mutex_unlock(&ctx->wm_lock);
    cr_assert_eq(available(), 924 * MiB_U, "the old table answers while the refresh runs");

    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        uint64_t b = 0;

        alarm(3);
        _exit(pmn_node_read_available(ctx, 0, &b) == 0 && b == 824 * MiB_U ? 0 : 1);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the child answered from its parent's table: the refresh it inherited never ends");

    pthread_mutex_lock(&ctx->wm_lock);
    ctx->wm_refreshing = false; /* that thread is done */
    pthread_mutex_unlock(&ctx->wm_lock);
    cr_assert_eq(available(), 824 * MiB_U, "the next caller reads zoneinfo again");

    /* A claim that never ends (its thread cancelled in the read) is taken
     * over once it is old. */
    put("proc/zoneinfo", zi);
    pthread_mutex_lock(&ctx->wm_lock);
    ctx->wm_at_ns -= 2000000000ull;
    ctx->wm_refreshing = true;
    ctx->wm_claim_ns -= 1000000000ull;
    pthread_mutex_unlock(&ctx->wm_lock);
    cr_assert_eq(available(), 824 * MiB_U, "a claim a second old stands");
    pthread_mutex_lock(&ctx->wm_lock);
    ctx->wm_claim_ns -= 20000000000ull;
    pthread_mutex_unlock(&ctx->wm_lock);
    cr_assert_eq(available(), 924 * MiB_U, "a claim twenty seconds old was not taken over");
    pthread_mutex_lock(&ctx->wm_lock);
    cr_assert_not(ctx->wm_refreshing);
    pthread_mutex_unlock(&ctx->wm_lock);
}
