/*
 * topology.c - NUMA nodes and the merge that decides what each node is.
 *
 * Stage 1 reads the mainline node ABI: the online list, each node's
 * cpulist, meminfo, distance, access0 performance, huge page pools,
 * memory-side caches, and the memory_tiering tiers.  Stage 2 runs the other sources (dax and CXL,
 * private-node ABI probes, NVIDIA's numa_status, hwloc) which only set raw
 * signals on the nodes.  Stage 3, merge(), weighs the signals once:
 *
 *   kind:  administrator's word > cramdax (compressed) > GPU evidence >
 *          the dax/CXL device the node was made from > hwloc subtype >
 *          "dram" for a node with CPUs > "hbm" for a CPU-less node with
 *          twice the DRAM bandwidth (HMAT) > "dram" for a CPU-less node in
 *          the same memory tier as a node with CPUs > "unknown"
 *   isolation: kernel (any private-node ABI, a private dax device) >
 *          config (PMNODE_PRIVATE_NODES, params, config file) > none
 *
 * A value the kernel did not give stays unknown; a malformed one is
 * unknown and recorded with pmn__problem(), never a crash or a zero.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "discover/topology.h"

#define NODE_DIR "sys/devices/system/node"

struct pmn_node *pmn__node_find(const struct pmn_ctx *ctx, int id)
{
    size_t lo = 0, hi = ctx->nnodes;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ctx->nodes[mid].id == id)
            return &ctx->nodes[mid];
        if (ctx->nodes[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Which nodes exist: the kernel's online list, else the nodeN dirs. */
static int node_ids(struct pmn_ctx *ctx, struct pmn__bitmap *ids)
{
    char **names;
    size_t n;
    int err;

    err = pmn__sysfs_read_list(&ctx->fs, NODE_DIR "/online", PMN__MAX_NODE_ID, ids);
    if (err == 0)
        return 0;
    pmn__bitmap_free(ids);
    if (!pmn__sysfs_exists(&ctx->fs, NODE_DIR))
        return PMN_E_NO_NUMA;
    pmn__problem(ctx, "%s/online: %s; using the node directories", NODE_DIR, pmn_strerror(err));
    err = pmn__sysfs_list(&ctx->fs, NODE_DIR, "node", &names, &n);
    if (err)
        return err;
    for (size_t i = 0; i < n; i++) {
        uint64_t id;
        const char *digits = names[i] + 4;
        if (pmn__parse_u64(digits, strlen(digits), 10, &id) != 0)
            continue;
        if (id > PMN__MAX_NODE_ID) {
            pmn__problem(ctx, "%s/%s: node id out of range, ignored", NODE_DIR, names[i]);
            continue;
        }
        if (pmn__bitmap_set(ids, (unsigned)id) != 0) {
            pmn__strv_free(names, n);
            return -ENOMEM;
        }
    }
    pmn__strv_free(names, n);
    return 0;
}

static void read_cpus(struct pmn_ctx *ctx, struct pmn_node *node)
{
    char path[128], *s;
    struct pmn__bitmap cpus = {0};
    int err;

    snprintf(path, sizeof(path), NODE_DIR "/node%d/cpulist", node->id);
    err = pmn__sysfs_read_str(&ctx->fs, path, &s);
    if (err) {
        pmn__problem(ctx, "%s: %s", path, pmn_strerror(err));
        return;
    }
    err = pmn__parse_list(s, strlen(s), PMN__MAX_CPU_ID, &cpus);
    if (err) {
        pmn__problem(ctx, "%s: malformed cpu list \"%.40s\"", path, s);
        free(s);
        pmn__bitmap_free(&cpus);
        return;
    }
    node->ncpus = (unsigned)pmn__bitmap_weight(&cpus);
    node->cpulist = s;
    pmn__bitmap_free(&cpus);
}

static void read_meminfo(struct pmn_ctx *ctx, struct pmn_node *node)
{
    struct pmn__meminfo mi;
    char path[128], *b;
    size_t n;
    int err;

    node->capacity = node->free = PMN_UNKNOWN;
    snprintf(path, sizeof(path), NODE_DIR "/node%d/meminfo", node->id);
    err = pmn__sysfs_read(&ctx->fs, path, &b, &n);
    if (err) {
        pmn__problem(ctx, "%s: %s", path, pmn_strerror(err));
        return;
    }
    err = pmn__parse_meminfo(b, n, &mi);
    free(b);
    if (err) {
        pmn__problem(ctx, "%s: malformed", path);
        return;
    }
    node->capacity = mi.total;
    node->free = mi.free;
    if (mi.total == PMN_UNKNOWN)
        pmn__problem(ctx, "%s: no MemTotal line", path);
}

/* The distance file lists one value per online node, in id order. */
static void read_distance(struct pmn_ctx *ctx, struct pmn_node *node)
{
    char path[128], *b;
    size_t n, got = 0;
    int *d, err;

    snprintf(path, sizeof(path), NODE_DIR "/node%d/distance", node->id);
    err = pmn__sysfs_read(&ctx->fs, path, &b, &n);
    if (err) {
        pmn__problem(ctx, "%s: %s", path, pmn_strerror(err));
        return;
    }
    d = malloc((ctx->nnodes + 1) * sizeof(*d));
    if (d == NULL) {
        free(b);
        return;
    }
    err = pmn__parse_distances(b, n, d, ctx->nnodes + 1, &got);
    free(b);
    if (err || got != ctx->nnodes) {
        pmn__problem(ctx, "%s: %s (%zu values for %zu nodes)", path,
                     err ? "malformed" : "wrong length", got, ctx->nnodes);
        free(d);
        return;
    }
    node->dist = d;
}

static uint64_t read_opt_u64(struct pmn_ctx *ctx, const char *path)
{
    uint64_t v;
    int err = pmn__sysfs_read_u64(&ctx->fs, path, 10, &v);

    if (err == 0)
        return v;
    if (err != -ENOENT)
        pmn__problem(ctx, "%s: %s", path, pmn_strerror(err));
    return PMN_UNKNOWN;
}

static void read_perf(struct pmn_ctx *ctx, struct pmn_node *node)
{
    static const char *const names[4] = {"read_bandwidth", "write_bandwidth", "read_latency",
                                         "write_latency"};
    uint64_t *fields[4] = {&node->perf.read_bandwidth, &node->perf.write_bandwidth,
                           &node->perf.read_latency, &node->perf.write_latency};
    char path[160];

    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), NODE_DIR "/node%d/access0/initiators/%s", node->id, names[i]);
        *fields[i] = read_opt_u64(ctx, path);
        /* The kernel prints 0 for a value HMAT did not give. */
        if (*fields[i] == 0)
            *fields[i] = PMN_UNKNOWN;
        if (*fields[i] != PMN_UNKNOWN)
            node->has_perf = true;
    }
}

static int cmp_pool(const void *a, const void *b)
{
    const struct pmn_hugepool *x = a, *y = b;
    return x->page_size < y->page_size ? -1 : x->page_size > y->page_size;
}

static void read_hugepools(struct pmn_ctx *ctx, struct pmn_node *node)
{
    char dir[128], path[256], **names;
    size_t n;

    snprintf(dir, sizeof(dir), NODE_DIR "/node%d/hugepages", node->id);
    if (pmn__sysfs_list(&ctx->fs, dir, "hugepages-", &names, &n) != 0)
        return;
    node->pools = calloc(n ? n : 1, sizeof(*node->pools));
    if (node->pools == NULL) {
        pmn__strv_free(names, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *num = names[i] + strlen("hugepages-");
        size_t len = strlen(num);
        struct pmn_hugepool *p = &node->pools[node->npools];
        uint64_t kb;

        if (len < 3 || strcmp(num + len - 2, "kB") != 0 ||
            pmn__parse_u64(num, len - 2, 10, &kb) != 0 || kb == 0 || kb > (UINT64_MAX >> 10)) {
            pmn__problem(ctx, "%s/%s: unrecognised pool name", dir, names[i]);
            continue;
        }
        p->page_size = kb << 10;
        snprintf(path, sizeof(path), "%s/%s/nr_hugepages", dir, names[i]);
        p->total = read_opt_u64(ctx, path);
        snprintf(path, sizeof(path), "%s/%s/free_hugepages", dir, names[i]);
        p->free = read_opt_u64(ctx, path);
        snprintf(path, sizeof(path), "%s/%s/surplus_hugepages", dir, names[i]);
        p->surplus = read_opt_u64(ctx, path);
        node->npools++;
    }
    pmn__strv_free(names, n);
    qsort(node->pools, node->npools, sizeof(*node->pools), cmp_pool);
}

static int cmp_cache(const void *a, const void *b)
{
    const struct pmn_side_cache *x = a, *y = b;
    return (x->level > y->level) - (x->level < y->level);
}

/* An optional small enumerated attribute: its value, -1 when absent or
 * malformed (a malformed one is a problem). */
static int read_opt_enum(struct pmn_ctx *ctx, const char *path)
{
    uint64_t v = read_opt_u64(ctx, path);

    if (v == PMN_UNKNOWN)
        return -1;
    if (v > 255) {
        pmn__problem(ctx, "%s: %llu is not a cache attribute value", path, (unsigned long long)v);
        return -1;
    }
    return (int)v;
}

/* nodeN/memory_side_cache/indexY (Linux 5.1+, from ACPI HMAT): one
 * directory per cache level, Y being the level.  Absent on most machines:
 * then the node has none, and nothing is a problem. */
static void read_side_caches(struct pmn_ctx *ctx, struct pmn_node *node)
{
    char dir[128], path[256], **names;
    size_t n;

    snprintf(dir, sizeof(dir), NODE_DIR "/node%d/memory_side_cache", node->id);
    if (pmn__sysfs_list(&ctx->fs, dir, "index", &names, &n) != 0)
        return;
    node->caches = calloc(n ? n : 1, sizeof(*node->caches));
    if (node->caches == NULL) {
        pmn__strv_free(names, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *num = names[i] + strlen("index");
        struct pmn_side_cache *c = &node->caches[node->ncaches];
        uint64_t level;

        if (pmn__parse_u64(num, strlen(num), 10, &level) != 0 || level == 0 || level > 255) {
            pmn__problem(ctx, "%s/%s: unrecognised cache directory", dir, names[i]);
            continue;
        }
        c->level = (unsigned)level;
        snprintf(path, sizeof(path), "%s/%s/size", dir, names[i]);
        c->size = read_opt_u64(ctx, path);
        snprintf(path, sizeof(path), "%s/%s/line_size", dir, names[i]);
        c->line_size = read_opt_u64(ctx, path);
        /* The kernel prints 0 for a line size HMAT did not give. */
        if (c->line_size == 0)
            c->line_size = PMN_UNKNOWN;
        snprintf(path, sizeof(path), "%s/%s/indexing", dir, names[i]);
        c->indexing = read_opt_enum(ctx, path);
        snprintf(path, sizeof(path), "%s/%s/write_policy", dir, names[i]);
        c->write_policy = read_opt_enum(ctx, path);
        node->ncaches++;
    }
    pmn__strv_free(names, n);
    qsort(node->caches, node->ncaches, sizeof(*node->caches), cmp_cache);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* memory_tierN/nodelist: tier 1 is the lowest N that lists any node. */
static void read_tiers(struct pmn_ctx *ctx)
{
    static const char dir[] = "sys/devices/virtual/memory_tiering";
    char **names, path[200];
    int *tids;
    size_t n, nt = 0;

    if (pmn__sysfs_list(&ctx->fs, dir, "memory_tier", &names, &n) != 0)
        return;
    ctx->abi |= PMN_ABI_MEMORY_TIERING;
    tids = calloc(n ? n : 1, sizeof(*tids));
    if (tids == NULL) {
        pmn__strv_free(names, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *digits = names[i] + strlen("memory_tier");
        struct pmn__bitmap nodes = {0};
        uint64_t tid;
        int err;

        if (pmn__parse_u64(digits, strlen(digits), 10, &tid) != 0 || tid > 1000000)
            continue; /* memory_tiering also holds files like "uevent" */
        snprintf(path, sizeof(path), "%s/%s/nodelist", dir, names[i]);
        err = pmn__sysfs_read_list(&ctx->fs, path, PMN__MAX_NODE_ID, &nodes);
        if (err) {
            pmn__problem(ctx, "%s: %s", path, pmn_strerror(err));
            pmn__bitmap_free(&nodes);
            continue;
        }
        for (long b = pmn__bitmap_next(&nodes, 0); b >= 0;
             b = pmn__bitmap_next(&nodes, (unsigned)b + 1)) {
            struct pmn_node *node = pmn__node_find(ctx, (int)b);
            if (node)
                node->tier_id = (int)tid;
        }
        if (pmn__bitmap_weight(&nodes))
            tids[nt++] = (int)tid;
        pmn__bitmap_free(&nodes);
    }
    pmn__strv_free(names, n);
    qsort(tids, nt, sizeof(*tids), cmp_int);
    for (size_t i = 0; i < ctx->nnodes; i++) {
        struct pmn_node *node = &ctx->nodes[i];
        for (size_t t = 0; t < nt && node->tier_id >= 0; t++)
            if (tids[t] == node->tier_id)
                node->tier = (int)t + 1;
    }
    free(tids);
}

/* NVIDIA's driver names the NUMA node of coherent GPU memory in
 * /proc/driver/nvidia/gpus/<bus>/numa_status ("Node: 252"). hwloc hides
 * such nodes by default; we report them. */
static void read_nvidia(struct pmn_ctx *ctx)
{
    static const char dir[] = "proc/driver/nvidia/gpus";
    char **names, path[256], *b;
    size_t n, len;

    if (pmn__sysfs_list(&ctx->fs, dir, NULL, &names, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        const char *line, *v, *end;
        uint64_t id;

        snprintf(path, sizeof(path), "%s/%s/numa_status", dir, names[i]);
        if (pmn__sysfs_read(&ctx->fs, path, &b, &len) != 0)
            continue;
        line = strstr(b, "Node:");
        if (line) {
            v = line + 5;
            while (*v == ' ' || *v == '\t')
                v++;
            end = v;
            while (*end >= '0' && *end <= '9')
                end++;
            if (end > v && pmn__parse_u64(v, (size_t)(end - v), 10, &id) == 0 &&
                id <= PMN__MAX_NODE_ID) {
                struct pmn_node *node = pmn__node_find(ctx, (int)id);
                if (node)
                    node->gpu_signal = true;
                else
                    pmn__problem(ctx, "%s: node %d is not online", path, (int)id);
            } else {
                pmn__problem(ctx, "%s: malformed Node: line", path);
            }
        }
        free(b);
    }
    pmn__strv_free(names, n);
}

/* What is wrong with a configuration file that could not be read (@err
 * from pmn__sysfs_read_regular), in words. */
static const char *config_read_error(int err)
{
    _Static_assert(PMN__ATTR_MAX == 65536, "the -EFBIG text says 64 KiB");
    switch (err) {
    case -ENOENT: return "no such file";
    case -EISDIR: return "a directory, not a configuration file";
    case -ESPIPE: return "not a regular file (a FIFO, socket or device)";
    case -EFBIG: return "larger than 64 KiB";
    case -EINVAL: return "not text (a NUL byte inside)";
    default: return pmn_strerror(err);
    }
}

/* Administrator's choices: config file, then environment/params.  Every
 * refusal says which file or variable, which line and why
 * (pmn__ctx_fail). */
static int read_config(struct pmn_ctx *ctx, const struct pmn_ctx_params *p)
{
    bool use_env = !(p->flags & PMN_CTX_IGNORE_ENV);
    struct pmn__bitmap priv = {0};
    const char *list = NULL, *env;
    int err = 0;

    if (!(p->flags & PMN_CTX_NO_CONFIG)) {
        struct pmn__config cfg = {0};
        struct pmn__config_error why;
        struct pmn__sysfs host = {.rootfd = -1};
        const struct pmn__sysfs *fs = &ctx->fs;
        const char *path = "etc/pmnode.conf", *from = NULL;
        char shown[512];
        size_t len;
        char *b;

        if (p->config_set) {
            path = p->config;
            from = "pmn_ctx_params_set_config";
        } else if (use_env && (env = secure_getenv("PMNODE_CONFIG")) != NULL && *env) {
            path = env;
            from = "PMNODE_CONFIG";
        }
        /* An explicit file is a path on this host; the default lives in
         * the root, beside the sysfs it describes. */
        if (from != NULL)
            snprintf(shown, sizeof(shown), "%s", path);
        else
            snprintf(shown, sizeof(shown), "%s/%s",
                     strcmp(ctx->fs.root, "/") == 0 ? "" : ctx->fs.root, path);
        if (from != NULL) {
            err = pmn__sysfs_open(&host, path[0] == '/' ? "/" : ".");
            if (err)
                return pmn__ctx_fail(ctx, p, PMN_E_CONFIG, "%s (named by %s): %s", shown, from,
                                     pmn_strerror(err));
            fs = &host;
        }
        err = pmn__sysfs_read_regular(fs, path, &b, &len);
        pmn__sysfs_close(&host);
        if (err == 0) {
            err = pmn__parse_config(b, len, &cfg, &why);
            free(b);
            if (err) {
                pmn__config_free(&cfg);
                return pmn__ctx_fail(ctx, p, PMN_E_CONFIG, "%s:%zu: %s", shown, why.line, why.why);
            }
            for (size_t i = 0; i < cfg.nkinds; i++) {
                struct pmn_node *node = pmn__node_find(ctx, cfg.kinds[i].node);
                if (node)
                    node->config_kind = cfg.kinds[i].kind;
                else
                    pmn__problem(ctx, "%s: kind for node %d, which is not online", path,
                                 cfg.kinds[i].node);
            }
            for (long b2 = pmn__bitmap_next(&cfg.private_nodes, 0); b2 >= 0;
                 b2 = pmn__bitmap_next(&cfg.private_nodes, (unsigned)b2 + 1)) {
                struct pmn_node *node = pmn__node_find(ctx, (int)b2);
                if (node)
                    node->config_private = true;
                else
                    pmn__problem(ctx, "%s: private node %ld is not online", path, b2);
            }
            pmn__config_free(&cfg);
        } else if (from != NULL) {
            return pmn__ctx_fail(ctx, p, PMN_E_CONFIG, "%s (named by %s): %s", shown, from,
                                 config_read_error(err));
        } else if (err != -ENOENT) {
            return pmn__ctx_fail(ctx, p, PMN_E_CONFIG, "%s: %s", shown, config_read_error(err));
        }
        err = 0;
    }

    if (p->private_set)
        list = p->private_nodes;
    else if (use_env && (env = secure_getenv("PMNODE_PRIVATE_NODES")) != NULL)
        list = env;
    if (list != NULL) {
        err = pmn__parse_list(list, strlen(list), PMN__MAX_NODE_ID, &priv);
        if (err != 0) {
            pmn__bitmap_free(&priv);
            if (err == -ERANGE)
                return pmn__ctx_fail(ctx, p, PMN_E_CONFIG,
                                     "PMNODE_PRIVATE_NODES: '%.64s' names a node above %d", list,
                                     PMN__MAX_NODE_ID);
            return pmn__ctx_fail(ctx, p, PMN_E_CONFIG,
                                 "PMNODE_PRIVATE_NODES: '%.64s' is not a node list (ids and "
                                 "ranges separated by commas, as in 2-3,8)",
                                 list);
        }
        for (long b = pmn__bitmap_next(&priv, 0); b >= 0;
             b = pmn__bitmap_next(&priv, (unsigned)b + 1)) {
            struct pmn_node *node = pmn__node_find(ctx, (int)b);
            if (node)
                node->config_private = true;
            else
                pmn__problem(ctx, "private node %ld (administrator's list) is not online", b);
        }
        pmn__bitmap_free(&priv);
    }
    for (size_t i = 0; i < p->nkinds; i++) {
        struct pmn_node *node = pmn__node_find(ctx, p->kinds[i].node);
        if (node)
            node->config_kind = p->kinds[i].kind;
        else
            pmn__problem(ctx, "kind for node %d, which is not online", p->kinds[i].node);
    }
    return 0;
}

static enum pmn_kind kind_from_subtype(const char *st)
{
    static const struct {
        const char *name;
        enum pmn_kind kind;
    } map[] = {
        {"GPUMemory", PMN_KIND_GPU}, {"HBM", PMN_KIND_HBM},   {"MCDRAM", PMN_KIND_HBM},
        {"NVM", PMN_KIND_NVM},       {"SPM", PMN_KIND_SPM},   {"CXL-DRAM", PMN_KIND_CXL},
        {"CXL-NVM", PMN_KIND_CXL},   {"DRAM", PMN_KIND_DRAM},
    };
    if (st == NULL)
        return PMN_KIND_UNKNOWN;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(st, map[i].name) == 0)
            return map[i].kind;
    return PMN_KIND_UNKNOWN;
}

static enum pmn_kind kind_from_dax(const struct pmn_dax *dax)
{
    if (dax == NULL || dax->type == NULL)
        return PMN_KIND_UNKNOWN;
    if (strcmp(dax->type, "cxl") == 0)
        return PMN_KIND_CXL;
    if (strcmp(dax->type, "nvm") == 0)
        return PMN_KIND_NVM;
    if (strcmp(dax->type, "spm") == 0)
        return PMN_KIND_SPM;
    return PMN_KIND_UNKNOWN;
}

/* Highest access0 read bandwidth among nodes with CPUs (ordinary DRAM as
 * its own CPUs see it), or 0 when HMAT gives none. */
static uint64_t dram_bandwidth(const struct pmn_ctx *ctx)
{
    uint64_t best = 0;

    for (size_t i = 0; i < ctx->nnodes; i++) {
        const struct pmn_node *n = &ctx->nodes[i];
        if (n->ncpus > 0 && n->has_perf && n->perf.read_bandwidth != PMN_UNKNOWN &&
            n->perf.read_bandwidth > best)
            best = n->perf.read_bandwidth;
    }
    return best;
}

/* A CPU-less node no other source explains, whose HMAT read bandwidth is
 * at least twice that of the best CPU-attached DRAM: high-bandwidth memory
 * (Xeon Max flat mode and the like).  Anything less stays unknown. */
static bool looks_like_hbm(const struct pmn_node *n, uint64_t dram_bw)
{
    return n->ncpus == 0 && dram_bw > 0 && n->has_perf && n->perf.read_bandwidth != PMN_UNKNOWN &&
           n->perf.read_bandwidth / 2 >= dram_bw;
}

/* Whether a node with CPUs shares @n's memory tier: the kernel's own
 * judgement that the memory performs like the DRAM next to the CPUs. */
static bool in_dram_tier(const struct pmn_ctx *ctx, const struct pmn_node *n)
{
    if (n->tier_id < 0)
        return false;
    for (size_t i = 0; i < ctx->nnodes; i++)
        if (ctx->nodes[i].ncpus > 0 && ctx->nodes[i].tier_id == n->tier_id)
            return true;
    return false;
}

static void merge(struct pmn_ctx *ctx)
{
    uint64_t dram_bw = dram_bandwidth(ctx);

    for (size_t i = 0; i < ctx->nnodes; i++) {
        struct pmn_node *n = &ctx->nodes[i];
        enum pmn_kind k = PMN_KIND_UNKNOWN;
        bool cramdax = n->dax && n->dax->driver && strcmp(n->dax->driver, "cramdax") == 0;

        if (n->config_kind != PMN_KIND_UNKNOWN)
            k = n->config_kind;
        else if (cramdax)
            k = PMN_KIND_COMPRESSED;
        else if (n->gpu_signal || (n->hwloc_subtype && strcmp(n->hwloc_subtype, "GPUMemory") == 0))
            k = PMN_KIND_GPU;
        else if (n->cxl_signal)
            k = PMN_KIND_CXL;
        else if ((k = kind_from_dax(n->dax)) != PMN_KIND_UNKNOWN)
            ;
        else if ((k = kind_from_subtype(n->hwloc_subtype)) != PMN_KIND_UNKNOWN)
            ;
        else if (n->ncpus > 0 || (n->cpulist == NULL && n->has_cpu_signal))
            k = PMN_KIND_DRAM;
        else if (looks_like_hbm(n, dram_bw))
            k = PMN_KIND_HBM;
        else if (n->has_memory && n->capacity != 0 && in_dram_tier(ctx, n))
            k = PMN_KIND_DRAM;
        n->kind = k;

        if (n->kernel_private)
            n->isolation = PMN_ISOLATION_KERNEL;
        else if (n->config_private)
            n->isolation = PMN_ISOLATION_CONFIG;
        else
            n->isolation = PMN_ISOLATION_NONE;
    }
}

int pmn__discover(struct pmn_ctx *ctx, const struct pmn_ctx_params *p)
{
    struct pmn__bitmap ids = {0};
    size_t k = 0;
    int err;

    err = node_ids(ctx, &ids);
    if (err) {
        pmn__bitmap_free(&ids);
        return err;
    }
    ctx->nnodes = pmn__bitmap_weight(&ids);
    if (ctx->nnodes == 0) {
        pmn__bitmap_free(&ids);
        return PMN_E_NO_NUMA;
    }
    ctx->nodes = calloc(ctx->nnodes, sizeof(*ctx->nodes));
    if (ctx->nodes == NULL) {
        pmn__bitmap_free(&ids);
        return -ENOMEM;
    }
    for (long b = pmn__bitmap_next(&ids, 0); b >= 0; b = pmn__bitmap_next(&ids, (unsigned)b + 1)) {
        struct pmn_node *n = &ctx->nodes[k];
        n->ctx = ctx;
        n->index = k++;
        n->id = (int)b;
        n->tier = n->tier_id = -1;
        n->user_allowed = PMN_E_UNKNOWN;
        n->has_memory = true;
    }
    pmn__bitmap_free(&ids);

    for (size_t i = 0; i < ctx->nnodes; i++) {
        struct pmn_node *n = &ctx->nodes[i];
        char dir[96];

        snprintf(dir, sizeof(dir), NODE_DIR "/node%d", n->id);
        if (!pmn__sysfs_exists(&ctx->fs, dir)) {
            pmn__problem(ctx, "%s: listed online but missing", dir);
            n->capacity = n->free = PMN_UNKNOWN;
            continue;
        }
        read_cpus(ctx, n);
        read_meminfo(ctx, n);
        read_distance(ctx, n);
        read_perf(ctx, n);
        read_hugepools(ctx, n);
        read_side_caches(ctx, n);
    }
    read_tiers(ctx);
    read_nvidia(ctx);

    if ((err = pmn__discover_dax(ctx)) != 0)
        return err;
    if ((err = pmn__discover_cxl(ctx)) != 0)
        return err;
    if ((err = pmn__kabi_probe(ctx)) != 0)
        return err;
    if (!(ctx->flags & PMN_CTX_NO_HWLOC) && (err = pmn__hwloc_probe(ctx)) != 0)
        pmn__problem(ctx, "hwloc: %s; kinds from sysfs only", pmn_strerror(err));
    if ((err = read_config(ctx, p)) != 0)
        return err;
    merge(ctx);
    return 0;
}

void pmn__topology_free(struct pmn_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nnodes; i++) {
        free(ctx->nodes[i].cpulist);
        free(ctx->nodes[i].dist);
        free(ctx->nodes[i].hwloc_subtype);
        free(ctx->nodes[i].pools);
        free(ctx->nodes[i].caches);
    }
    free(ctx->nodes);
    pmn__dax_free_all(ctx);
    ctx->nodes = NULL;
    ctx->dax = NULL;
    ctx->cxl = NULL;
    ctx->nnodes = ctx->ndax = ctx->ncxl = 0;
}

/* ---- public node getters ---- */

PMN__CTX_ITERATORS(pmn_node, struct pmn_node, nodes, nnodes)

const struct pmn_node *pmn_node_get(const struct pmn_ctx *ctx, int id)
{
    return ctx ? pmn__node_find(ctx, id) : NULL;
}

int pmn_node_id(const struct pmn_node *n)
{
    return n ? n->id : -1;
}

enum pmn_kind pmn_node_kind(const struct pmn_node *n)
{
    return n ? n->kind : PMN_KIND_UNKNOWN;
}

bool pmn_node_is_private(const struct pmn_node *n)
{
    return n && n->isolation != PMN_ISOLATION_NONE;
}

enum pmn_isolation pmn_node_isolation(const struct pmn_node *n)
{
    return n ? n->isolation : PMN_ISOLATION_NONE;
}

const char *pmn_node_cpulist(const struct pmn_node *n)
{
    return n ? n->cpulist : NULL;
}

unsigned pmn_node_cpu_count(const struct pmn_node *n)
{
    return n ? n->ncpus : 0;
}

uint64_t pmn_node_capacity(const struct pmn_node *n)
{
    return n ? n->capacity : PMN_UNKNOWN;
}

uint64_t pmn_node_free(const struct pmn_node *n)
{
    return n ? n->free : PMN_UNKNOWN;
}

int pmn_node_tier(const struct pmn_node *n)
{
    return n ? n->tier : -1;
}

int pmn_node_distance(const struct pmn_node *n, int to_id)
{
    const struct pmn_node *to;

    if (n == NULL || n->dist == NULL)
        return -1;
    to = pmn__node_find(n->ctx, to_id);
    return to ? n->dist[to->index] : -1;
}

const char *pmn_node_hwloc_subtype(const struct pmn_node *n)
{
    return n ? n->hwloc_subtype : NULL;
}

int pmn_node_mem_features(const struct pmn_node *n, uint64_t *mask)
{
    if (n == NULL || mask == NULL)
        return -EINVAL;
    if (!n->has_mem_features)
        return PMN_E_UNKNOWN;
    *mask = n->mem_features;
    return 0;
}

int pmn_node_user_allowed(const struct pmn_node *n)
{
    return n ? n->user_allowed : -EINVAL;
}

/* 0.2: -1 for unknown (was 0); the 0.1 answer is in compat/compat-0.1.c. */
double pmn_node_zratio(const struct pmn_node *n)
{
    return n != NULL && n->zratio > 0.0 ? n->zratio : -1.0;
}
PMN__SYMVER_DEFAULT(pmn_node_zratio, "PMNODE_0.2");

int pmn_node_perf(const struct pmn_node *n, struct pmn_perf *out)
{
    struct pmn_perf p;

    if (n == NULL || !pmn__out_ok(out, PMN__SIZE_TO(struct pmn_perf, write_latency)))
        return -EINVAL;
    p = n->perf;
    if (!n->has_perf)
        p.read_bandwidth = p.write_bandwidth = p.read_latency = p.write_latency = PMN_UNKNOWN;
    pmn__out_put(out, &p, sizeof(p));
    return n->has_perf ? 0 : PMN_E_UNKNOWN;
}
PMN__SYMVER_DEFAULT(pmn_node_perf, "PMNODE_0.2");

/* out[0].struct_size is the caller's element size: each element is an
 * output struct of its own, written at that stride. */
int pmn_node_hugepools(const struct pmn_node *n, struct pmn_hugepool *out, size_t max)
{
    size_t stride = 0;

    if (n == NULL)
        return -EINVAL;
    if (max > 0) {
        if (!pmn__out_ok(out, PMN__SIZE_TO(struct pmn_hugepool, surplus)))
            return -EINVAL;
        memcpy(&stride, out, sizeof(stride));
        if (stride % _Alignof(struct pmn_hugepool) != 0)
            return -EINVAL;
    }
    for (size_t i = 0; i < n->npools && i < max; i++) {
        struct pmn_hugepool p = n->pools[i];
        char *dst = (char *)out + i * stride;

        memcpy(dst, &stride, sizeof(stride));
        pmn__out_put(dst, &p, sizeof(p));
    }
    return (int)n->npools;
}
PMN__SYMVER_DEFAULT(pmn_node_hugepools, "PMNODE_0.2");

/* The array convention of pmn_node_hugepools(). */
int pmn_node_side_caches(const struct pmn_node *n, struct pmn_side_cache *out, size_t max)
{
    size_t stride = 0;

    if (n == NULL)
        return -EINVAL;
    if (max > 0) {
        if (!pmn__out_ok(out, PMN__SIZE_TO(struct pmn_side_cache, write_policy)))
            return -EINVAL;
        memcpy(&stride, out, sizeof(stride));
        if (stride % _Alignof(struct pmn_side_cache) != 0)
            return -EINVAL;
    }
    for (size_t i = 0; i < n->ncaches && i < max; i++) {
        struct pmn_side_cache c = n->caches[i];
        char *dst = (char *)out + i * stride;

        memcpy(dst, &stride, sizeof(stride));
        pmn__out_put(dst, &c, sizeof(c));
    }
    return (int)n->ncaches;
}

const struct pmn_dax *pmn_node_dax(const struct pmn_node *n)
{
    return n ? n->dax : NULL;
}

int pmn__node_meminfo(const struct pmn_ctx *ctx, int id, struct pmn__meminfo *mi)
{
    char path[96], *b;
    size_t n;
    int err;

    if (pmn__node_find(ctx, id) == NULL)
        return PMN_E_NO_NODE;
    snprintf(path, sizeof(path), NODE_DIR "/node%d/meminfo", id);
    err = pmn__sysfs_read(&ctx->fs, path, &b, &n);
    if (err)
        return err == -ENOENT ? PMN_E_UNKNOWN : err;
    err = pmn__parse_meminfo(b, n, mi);
    free(b);
    if (err)
        return PMN_E_PARSE;
    return mi->free == PMN_UNKNOWN ? PMN_E_UNKNOWN : 0;
}

int pmn_node_read_free(const struct pmn_ctx *ctx, int id, uint64_t *bytes)
{
    struct pmn__meminfo mi;
    int err;

    if (ctx == NULL || bytes == NULL)
        return -EINVAL;
    err = pmn__node_meminfo(ctx, id, &mi);
    if (err == 0)
        *bytes = mi.free;
    return err;
}
