/*
 * dax.c - device-dax devices and CXL regions.
 *
 * Source of truth is the tree under the root: /sys/bus/dax/devices/ entries are
 * links to the real device directories, whose path says where the memory
 * comes from (an "hmem" platform device: soft-reserved, specific-purpose
 * memory; an nd bus: persistent memory; a CXL region).  The bound driver
 * gives the mode: device_dax (mapped as /dev/daxX.Y, private by
 * construction), kmem (onlined as system RAM, a NUMA node), or another
 * driver such as cramdax or anondax from the private-node drafts.
 *
 * Alignment is read from the device (align, newer kernels) or its region
 * (dax_region/align), never assumed.  On the real root, libdaxctl is asked
 * too where the build has it and fills what sysfs left unknown; under a
 * captured root the tree is all there is, so the same facts come from it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pmn-config.h"
#include "discover/topology.h"

/* The preload shim's copy (PMN_LITE) reads sysfs only: libdaxctl and libcxl
 * would pull libkmod, libudev and libcrypto into every program it runs. */
#ifdef PMN_LITE
#undef PMN_HAVE_DAXCTL
#define PMN_HAVE_DAXCTL 0
#undef PMN_HAVE_CXL
#define PMN_HAVE_CXL 0
#endif

#if PMN_HAVE_DAXCTL
#include <daxctl/libdaxctl.h>
#endif
#if PMN_HAVE_CXL
#include <cxl/libcxl.h>
#endif

#define DAX_DIR "sys/bus/dax/devices"
#define CXL_DIR "sys/bus/cxl/devices"

static const char *basename_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* A CXL region sits below a root decoder (.../root0/decoder0.0/region0/
 * dax_region0/dax0.0); an nd region below an nd bus (.../ndbus0/region0/
 * dax0.0/dax0.0).  Test the nd bus first: both have "/region". */
static bool is_cxl_path(const char *link)
{
    return !strstr(link, "ndbus") && strstr(link, "/region") &&
           (strstr(link, "/decoder") || strstr(link, "cxl"));
}

static const char *type_from_path(const char *link)
{
    if (strstr(link, "ndbus") || strstr(link, "nvdimm"))
        return "nvm";
    if (is_cxl_path(link))
        return "cxl";
    if (strstr(link, "hmem"))
        return "spm";
    return NULL;
}

/* "regionN" component of a CXL device path, or NULL. */
static char *cxl_region_from_path(const char *link)
{
    const char *p = link;

    if (!is_cxl_path(link))
        return NULL;
    while ((p = strstr(p, "/region")) != NULL) {
        const char *s = p + 7, *e = s;
        while (*e >= '0' && *e <= '9')
            e++;
        if (e > s && (*e == '/' || *e == '\0'))
            return strndup(p + 1, (size_t)(e - (p + 1)));
        p = s;
    }
    return NULL;
}

static int node_attr(struct pmn_ctx *ctx, const char *path)
{
    int64_t v;
    int err = pmn__sysfs_read_s64(&ctx->fs, path, &v);

    if (err == -ENOENT)
        return -1;
    if (err || v < -1 || v > PMN__MAX_NODE_ID) {
        pmn__problem(ctx, "%s: %s", path, err ? pmn_strerror(err) : "node id out of range");
        return -1;
    }
    return (int)v;
}

/* The attribute @path in the base the kernel writes it in: 10 for sizes
 * and alignments ("%llu": "0100" is 100, never octal), 16 for addresses
 * and CXL region sizes ("%#llx").  A value that reads as PMN_UNKNOWN
 * cannot be told from "unknown", so it is a problem too. */
static uint64_t u64_attr(struct pmn_ctx *ctx, const char *path, int base, bool report_missing)
{
    uint64_t v;
    int err = pmn__sysfs_read_u64(&ctx->fs, path, base, &v);

    if (err == 0 && v != PMN_UNKNOWN)
        return v;
    if (err == 0)
        pmn__problem(ctx, "%s: value out of range", path);
    else if (err != -ENOENT || report_missing)
        pmn__problem(ctx, "%s: %s", path, pmn_strerror(err));
    return PMN_UNKNOWN;
}

/* Strict decimal ratio such as "2.50" (cramdax zratio). */
static double ratio_attr(struct pmn_ctx *ctx, const char *path)
{
    char *s, *end;
    double v;

    if (pmn__sysfs_read_str(&ctx->fs, path, &s) != 0)
        return 0.0;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !(v > 0.0) || v > 1000.0) {
        pmn__problem(ctx, "%s: malformed ratio \"%.20s\"", path, s);
        v = 0.0;
    }
    free(s);
    return v;
}

/* Returns false for an entry that is not a device (a dangling link). */
static bool read_one_dax(struct pmn_ctx *ctx, struct pmn_dax *d, const char *name)
{
    char path[256], *link = NULL, *drv = NULL;
    int err;

    d->ctx = ctx;
    d->name = strdup(name);
    d->size = d->align = d->resource = PMN_UNKNOWN;
    d->target_node = d->numa_node = d->node = -1;
    d->kernel_private = -1;
    if (asprintf(&d->path, "/dev/%s", name) < 0)
        d->path = NULL;

    snprintf(path, sizeof(path), DAX_DIR "/%s", name);
    if (pmn__sysfs_readlink(&ctx->fs, path, &link) == 0) {
        d->type = type_from_path(link);
        d->cxl_region = cxl_region_from_path(link);
        free(link);
    }
    if (!pmn__sysfs_exists(&ctx->fs, path)) {
        pmn__problem(ctx, "%s: dangling link, device ignored", path);
        return false;
    }
    snprintf(path, sizeof(path), DAX_DIR "/%s/size", name);
    d->size = u64_attr(ctx, path, 10, true);
    snprintf(path, sizeof(path), DAX_DIR "/%s/align", name);
    d->align = u64_attr(ctx, path, 10, false);
    if (d->align == PMN_UNKNOWN) {
        snprintf(path, sizeof(path), DAX_DIR "/%s/../dax_region/align", name);
        d->align = u64_attr(ctx, path, 10, false);
    }
    if (d->align != PMN_UNKNOWN && (d->align == 0 || (d->align & (d->align - 1)))) {
        pmn__problem(ctx, "%s: alignment %llu is not a power of two", name,
                     (unsigned long long)d->align);
        d->align = PMN_UNKNOWN;
    }
    snprintf(path, sizeof(path), DAX_DIR "/%s/resource", name);
    d->resource = u64_attr(ctx, path, 16, false);
    snprintf(path, sizeof(path), DAX_DIR "/%s/target_node", name);
    d->target_node = node_attr(ctx, path);
    snprintf(path, sizeof(path), DAX_DIR "/%s/numa_node", name);
    d->numa_node = node_attr(ctx, path);

    snprintf(path, sizeof(path), DAX_DIR "/%s/driver", name);
    err = pmn__sysfs_readlink(&ctx->fs, path, &drv);
    if (err == 0) {
        d->driver = strdup(basename_of(drv));
        free(drv);
    }
    if (d->driver == NULL)
        d->mode = PMN_DAX_UNBOUND;
    else if (strcmp(d->driver, "device_dax") == 0)
        d->mode = PMN_DAX_DEVDAX;
    else if (strcmp(d->driver, "kmem") == 0)
        d->mode = PMN_DAX_SYSTEM_RAM;
    else
        d->mode = PMN_DAX_OTHER;

    /* Later private-node drafts: per-device private flag, cramdax ratio. */
    snprintf(path, sizeof(path), DAX_DIR "/%s/private", name);
    if (pmn__sysfs_exists(&ctx->fs, path)) {
        uint64_t v = u64_attr(ctx, path, 10, true);
        ctx->abi |= PMN_ABI_DAX_PRIVATE;
        d->kernel_private = v == PMN_UNKNOWN ? -1 : v != 0;
    }
    if (d->driver && strcmp(d->driver, "cramdax") == 0) {
        ctx->abi |= PMN_ABI_CRAMDAX;
        snprintf(path, sizeof(path), DAX_DIR "/%s/zratio", name);
        d->zratio = ratio_attr(ctx, path);
        if (d->zratio == 0.0) {
            snprintf(path, sizeof(path), DAX_DIR "/%s/compression_ratio", name);
            d->zratio = ratio_attr(ctx, path);
        }
    }
    return true;
}

#if PMN_HAVE_DAXCTL
/* On this machine, libdaxctl may know an alignment or size sysfs did not
 * show (older kernels keep align on the region only). */
static void daxctl_fill(struct pmn_ctx *ctx)
{
    struct daxctl_ctx *dctx;
    struct daxctl_region *region;
    struct daxctl_dev *dev;

    if (daxctl_new(&dctx) != 0)
        return;
    daxctl_set_log_priority(dctx, 0); /* we report through problems, not stderr */
    daxctl_region_foreach(dctx, region)
    {
        daxctl_dev_foreach(region, dev)
        {
            const char *devname = daxctl_dev_get_devname(dev);
            for (size_t i = 0; devname && i < ctx->ndax; i++) {
                struct pmn_dax *d = &ctx->dax[i];
                if (strcmp(d->name, devname) != 0)
                    continue;
                if (d->align == PMN_UNKNOWN) {
                    unsigned long a = daxctl_dev_get_align(dev);
                    if (a == 0)
                        a = daxctl_region_get_align(region);
                    if (a && !(a & (a - 1)))
                        d->align = a;
                }
                if (d->size == PMN_UNKNOWN)
                    d->size = daxctl_dev_get_size(dev);
            }
        }
    }
    daxctl_unref(dctx);
}
#endif

/* Free what a device record owns and zero it. */
static void dax_clear(struct pmn_dax *d)
{
    free(d->name);
    free(d->path);
    free(d->driver);
    free(d->cxl_region);
    memset(d, 0, sizeof(*d));
}

void pmn__dax_free_all(struct pmn_ctx *ctx)
{
    for (size_t i = 0; i < ctx->ndax; i++)
        dax_clear(&ctx->dax[i]);
    free(ctx->dax);
    for (size_t i = 0; i < ctx->ncxl; i++) {
        free(ctx->cxl[i].name);
        free(ctx->cxl[i].mode);
        pmn__strv_free(ctx->cxl[i].targets, ctx->cxl[i].ntargets);
    }
    free(ctx->cxl);
}

/* The names under @dir starting with @prefix, and a zeroed array with room
 * for as many objects of @size in *@arr: 1, 0 when the directory does not
 * exist (nothing to discover), or a negative code. */
static int list_into(struct pmn_ctx *ctx, const char *dir, const char *prefix, size_t size,
                     char ***names, size_t *n, void **arr)
{
    int err = pmn__sysfs_list(&ctx->fs, dir, prefix, names, n);

    if (err == -ENOENT || err == -ENOTDIR)
        return 0;
    if (err)
        return err;
    *arr = calloc(*n ? *n : 1, size);
    if (*arr == NULL) {
        pmn__strv_free(*names, *n);
        return -ENOMEM;
    }
    return 1;
}

int pmn__discover_dax(struct pmn_ctx *ctx)
{
    char **names;
    size_t n;
    int err = list_into(ctx, DAX_DIR, "dax", sizeof(*ctx->dax), &names, &n, (void **)&ctx->dax);

    if (err <= 0)
        return err;
    for (size_t i = 0; i < n; i++) {
        struct pmn_dax *d = &ctx->dax[ctx->ndax];
        /* dax0.0 style only: skip dax_region and the like. */
        if (strchr(names[i], '.') == NULL || strncmp(names[i], "dax_", 4) == 0)
            continue;
        d->index = ctx->ndax++;
        if (!read_one_dax(ctx, d, names[i])) {
            dax_clear(d);
            ctx->ndax--;
            continue;
        }
        if (d->name == NULL || d->path == NULL) {
            pmn__strv_free(names, n);
            return -ENOMEM;
        }
    }
    pmn__strv_free(names, n);
#if PMN_HAVE_DAXCTL
    if (ctx->local && ctx->ndax)
        daxctl_fill(ctx);
#endif

    /* Link devices to the nodes their memory became, and judge privacy. */
    for (size_t i = 0; i < ctx->ndax; i++) {
        struct pmn_dax *d = &ctx->dax[i];
        struct pmn_node *node = NULL;

        if (d->mode != PMN_DAX_DEVDAX && d->mode != PMN_DAX_UNBOUND && d->target_node >= 0)
            node = pmn__node_find(ctx, d->target_node);
        if (node != NULL) {
            d->node = node->id;
            if (node->dax == NULL)
                node->dax = d;
            if (d->zratio > 0.0)
                node->zratio = d->zratio;
            if (d->kernel_private == 1 || (d->driver && (strcmp(d->driver, "cramdax") == 0 ||
                                                         strcmp(d->driver, "anondax") == 0)))
                node->kernel_private = true;
        }
        d->is_private = d->mode == PMN_DAX_DEVDAX || d->kernel_private == 1 ||
                        (node != NULL && node->kernel_private);
    }
    return 0;
}

/* The dax device over a region: the one below it in the device tree (ram
 * regions: regionN/dax_regionN/daxN.0), or, for pmem regions that reach
 * dax through an nvdimm bus elsewhere in the tree, the one whose physical
 * range lies inside the region's. */
static void link_region_dax(struct pmn_ctx *ctx, struct pmn_cxl_region *r, uint64_t start)
{
    for (size_t i = 0; i < ctx->ndax && r->dax == NULL; i++) {
        struct pmn_dax *d = &ctx->dax[i];
        bool inside = start != PMN_UNKNOWN && r->size != PMN_UNKNOWN &&
                      d->resource != PMN_UNKNOWN && d->resource >= start &&
                      d->resource - start < r->size;

        if (d->cxl_region ? strcmp(d->cxl_region, r->name) != 0 : !inside)
            continue;
        if (d->cxl_region == NULL)
            d->cxl_region = strdup(r->name);
        d->type = "cxl";
        r->dax = d;
        r->node = d->node;
    }
}

#if PMN_HAVE_CXL
/* On this machine, libcxl fills a region's size and interleave targets
 * where sysfs attributes could not be read. */
static void cxl_fill(struct pmn_ctx *ctx)
{
    struct cxl_ctx *cctx;
    struct cxl_bus *bus;
    struct cxl_decoder *decoder;
    struct cxl_region *region;

    if (cxl_new(&cctx) != 0)
        return;
    cxl_set_log_priority(cctx, 0);
    cxl_bus_foreach(cctx, bus)
    {
        cxl_decoder_foreach(cxl_bus_get_port(bus), decoder)
        {
            cxl_region_foreach(decoder, region)
            {
                const char *name = cxl_region_get_devname(region);
                for (size_t i = 0; name && i < ctx->ncxl; i++) {
                    struct pmn_cxl_region *r = &ctx->cxl[i];
                    unsigned ways = cxl_region_get_interleave_ways(region);
                    if (strcmp(r->name, name) != 0)
                        continue;
                    if (r->size == PMN_UNKNOWN && cxl_region_get_size(region))
                        r->size = cxl_region_get_size(region);
                    for (unsigned t = 0; r->ntargets == t && t < ways && t < 256; t++) {
                        struct cxl_decoder *d = cxl_region_get_target_decoder(region, (int)t);
                        const char *dn = d ? cxl_decoder_get_devname(d) : NULL;
                        if (dn == NULL ||
                            pmn__strv_push(&r->targets, &r->ntargets, strdup(dn)) != 0)
                            break;
                    }
                }
            }
        }
    }
    cxl_unref(cctx);
}
#endif

int pmn__discover_cxl(struct pmn_ctx *ctx)
{
    char **names, path[256];
    size_t n = 0;
    int err = list_into(ctx, CXL_DIR, "region", sizeof(*ctx->cxl), &names, &n, (void **)&ctx->cxl);

    if (err <= 0)
        return err;
    for (size_t i = 0; i < n; i++) {
        struct pmn_cxl_region *r = &ctx->cxl[ctx->ncxl];
        const char *digits = names[i] + 6;
        uint64_t rid;

        if (pmn__parse_u64(digits, strlen(digits), 10, &rid) != 0)
            continue;
        r->ctx = ctx;
        r->index = ctx->ncxl++;
        r->node = -1;
        r->name = strdup(names[i]);
        if (r->name == NULL) {
            pmn__strv_free(names, n);
            return -ENOMEM;
        }
        snprintf(path, sizeof(path), CXL_DIR "/%s/mode", names[i]);
        if (pmn__sysfs_read_str(&ctx->fs, path, &r->mode) != 0)
            r->mode = NULL;
        snprintf(path, sizeof(path), CXL_DIR "/%s/size", names[i]);
        r->size = u64_attr(ctx, path, 16, true);
        for (unsigned t = 0; t < 256; t++) {
            char *tgt;
            snprintf(path, sizeof(path), CXL_DIR "/%s/target%u", names[i], t);
            if (pmn__sysfs_read_str(&ctx->fs, path, &tgt) != 0)
                break;
            if (*tgt == '\0') { /* an unset interleave slot */
                free(tgt);
                continue;
            }
            if (pmn__strv_push(&r->targets, &r->ntargets, tgt) != 0)
                break;
        }
        /* Kernels before 6.3 have no region mode attribute: the child
         * device says which kind of region it is. */
        if (r->mode == NULL) {
            snprintf(path, sizeof(path), CXL_DIR "/%s/pmem_%s", names[i], names[i]);
            if (pmn__sysfs_exists(&ctx->fs, path))
                r->mode = strdup("pmem");
            snprintf(path, sizeof(path), CXL_DIR "/%s/dax_%s", names[i], names[i]);
            if (r->mode == NULL && pmn__sysfs_exists(&ctx->fs, path))
                r->mode = strdup("ram");
        }
        snprintf(path, sizeof(path), CXL_DIR "/%s/resource", names[i]);
        link_region_dax(ctx, r, u64_attr(ctx, path, 16, false));
        if (r->node >= 0) {
            struct pmn_node *node = pmn__node_find(ctx, r->node);
            if (node)
                node->cxl_signal = true;
        }
    }
    pmn__strv_free(names, n);
#if PMN_HAVE_CXL
    if (ctx->local && ctx->ncxl)
        cxl_fill(ctx);
#endif
    return 0;
}

/* ---- public dax getters ---- */

PMN__CTX_ITERATORS(pmn_dax, struct pmn_dax, dax, ndax)

const struct pmn_dax *pmn_dax_get(const struct pmn_ctx *ctx, const char *name)
{
    if (ctx == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < ctx->ndax; i++)
        if (strcmp(ctx->dax[i].name, name) == 0)
            return &ctx->dax[i];
    return NULL;
}

PMN__GETTER(const char *, pmn_dax_name, struct pmn_dax, name, NULL)
PMN__GETTER(const char *, pmn_dax_path, struct pmn_dax, path, NULL)
PMN__GETTER(uint64_t, pmn_dax_size, struct pmn_dax, size, PMN_UNKNOWN)
PMN__GETTER(uint64_t, pmn_dax_align, struct pmn_dax, align, PMN_UNKNOWN)
PMN__GETTER(enum pmn_dax_mode, pmn_dax_mode, struct pmn_dax, mode, PMN_DAX_UNBOUND)

const char *pmn_dax_mode_name(const struct pmn_dax *d)
{
    if (d == NULL)
        return NULL;
    switch (d->mode) {
    case PMN_DAX_DEVDAX: return "devdax";
    case PMN_DAX_SYSTEM_RAM: return "system-ram";
    case PMN_DAX_OTHER: return d->driver;
    case PMN_DAX_UNBOUND:
    default: return "unbound";
    }
}

PMN__GETTER(int, pmn_dax_target_node, struct pmn_dax, target_node, -1)
PMN__GETTER(int, pmn_dax_numa_node, struct pmn_dax, numa_node, -1)
PMN__GETTER(int, pmn_dax_node, struct pmn_dax, node, -1)
PMN__GETTER(const char *, pmn_dax_type, struct pmn_dax, type, NULL)

bool pmn_dax_is_private(const struct pmn_dax *d)
{
    return d && d->is_private;
}

PMN__GETTER(const char *, pmn_dax_cxl_region, struct pmn_dax, cxl_region, NULL)

/* ---- public CXL getters ---- */

PMN__CTX_ITERATORS(pmn_cxl, struct pmn_cxl_region, cxl, ncxl)

PMN__GETTER(const char *, pmn_cxl_name, struct pmn_cxl_region, name, NULL)
PMN__GETTER(const char *, pmn_cxl_mode, struct pmn_cxl_region, mode, NULL)
PMN__GETTER(uint64_t, pmn_cxl_size, struct pmn_cxl_region, size, PMN_UNKNOWN)
PMN__GETTER(size_t, pmn_cxl_target_count, struct pmn_cxl_region, ntargets, 0)

const char *pmn_cxl_target(const struct pmn_cxl_region *r, size_t i)
{
    return r && i < r->ntargets ? r->targets[i] : NULL;
}

PMN__GETTER(const struct pmn_dax *, pmn_cxl_dax, struct pmn_cxl_region, dax, NULL)
PMN__GETTER(int, pmn_cxl_node, struct pmn_cxl_region, node, -1)
