/*
 * device.c - device locality: which node a PCI device, a network interface
 * or a /sys device sits on, and which devices sit near each node.
 *
 * Asked on demand, not part of the context's snapshot: devices come and go
 * (hotplug, drivers rebinding) while nodes do not, and most programs never
 * ask.  A device is named three ways:
 *
 *   "0000:3b:00.0", "3b:00.0"   a PCI function (domain 0 when left out):
 *                                sys/bus/pci/devices/ADDR
 *   "eth0"                       a network interface, by the kernel's
 *                                naming rules: sys/class/net/NAME/device
 *   "/sys/devices/..."           a device directory, read under the root
 *
 * Every path is read relative to the context's root through sysfs.c, and
 * resolved one component at a time (pmn__sysfs_resolve): a symlink is read
 * with readlinkat and followed by hand, an absolute target restarts at the
 * root, and ".." above the root is refused (-EINVAL), so nothing a tree
 * holds can make a lookup read outside it.  What is read is the device's
 * numa_node, parsed strictly; -1 (or no attribute) means the kernel does
 * not say, and the parent devices are asked in turn (a virtio NIC's
 * virtioN has no numa_node, its PCI function does; a GPU behind a bridge
 * may say -1 where the bridge knows).  When no ancestor knows, on "/"
 * hwloc's PCI locality answers (hwloc.c); anywhere else the answer is
 * PMN_E_UNKNOWN.  Never a guess.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "discover/topology.h"

#define NET_DIR "sys/class/net"
#define PCI_DIR "sys/bus/pci/devices"
#define DEVICES_DIR "sys/devices"
#define NAME_MAX_LEN 255 /* one path component */
#define IFNAME_MAX 15    /* IFNAMSIZ - 1 */

/* ---- paths confined to the root (sysfs.c resolves them) ---- */

/* A path that pmn__sysfs_resolve() refuses (out of the root, a link loop, overlong)
 * is a malformed name to the caller: -EINVAL; other errors pass. */
static int bad_path(int err)
{
    return err == -EXDEV || err == -ELOOP || err == -ENAMETOOLONG ? -EINVAL : err;
}

/* The attribute @dir/@name's own path, resolved inside the root too. */
static int attr_path(const struct pmn__sysfs *fs, const char *dir, const char *name,
                     char real[PATH_MAX])
{
    char path[PATH_MAX];

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return -ENAMETOOLONG;
    return pmn__sysfs_resolve(fs, path, real);
}

/* The signed integer attribute @dir/@name. */
static int read_attr_s64(const struct pmn__sysfs *fs, const char *dir, const char *name,
                         int64_t *v)
{
    char real[PATH_MAX];
    int err = attr_path(fs, dir, name, real);

    return err ? err : pmn__sysfs_read_s64(fs, real, v);
}

/* The hexadecimal attribute @dir/@name. */
static int read_attr_hex(const struct pmn__sysfs *fs, const char *dir, const char *name,
                         uint64_t *v)
{
    char real[PATH_MAX];
    int err = attr_path(fs, dir, name, real);

    return err ? err : pmn__sysfs_read_u64(fs, real, 16, v);
}

/* ---- names ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly @n hex digits (or @min..@n when @min < @n) at *@s, advancing it. */
static bool hexfield(const char **s, int min, int n, unsigned *v)
{
    int i = 0, d;

    *v = 0;
    while (i < n && (d = hexval((*s)[i])) >= 0) {
        *v = *v * 16 + (unsigned)d;
        i++;
    }
    *s += i;
    return i >= min;
}

/* "DDDD:BB:DD.F" (domain 4 to 8 hex digits) or "BB:DD.F"; nothing else. */
static bool parse_pci(const char *s, struct pmn__pci_addr *a)
{
    const char *p = s;
    unsigned x;

    a->domain = 0;
    if (!hexfield(&p, 2, 8, &x) || *p != ':')
        return false;
    if (p - s >= 4) { /* that was the domain */
        a->domain = x;
        p++;
        if (!hexfield(&p, 2, 2, &x) || *p != ':')
            return false;
    } else if (p - s != 2) {
        return false;
    }
    a->bus = x;
    p++;
    if (!hexfield(&p, 2, 2, &a->dev) || *p++ != '.' || !hexfield(&p, 1, 1, &a->fn))
        return false;
    return *p == '\0' && a->bus <= 0xff && a->dev <= 0x1f && a->fn <= 7;
}

static void pci_name(const struct pmn__pci_addr *a, char *buf, size_t n)
{
    snprintf(buf, n, "%04x:%02x:%02x.%x", a->domain, a->bus, a->dev, a->fn);
}

/* The kernel's rules for an interface name (dev_valid_name): 1 to 15
 * bytes, not "." or "..", no '/', ':' or white space; control bytes are
 * refused here too. */
static bool valid_ifname(const char *s)
{
    size_t n = strnlen(s, IFNAME_MAX + 1);

    if (n == 0 || n > IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '/' || c == ':' || c <= ' ' || c == 0x7f)
            return false;
    }
    return true;
}

/* The last component of @path that is a PCI address: the device's own
 * PCI function or its nearest PCI ancestor.  False when there is none. */
static bool pci_of_path(const char *path, struct pmn__pci_addr *a)
{
    char comp[NAME_MAX_LEN + 1];
    const char *p = path;
    bool found = false;

    while (*p != '\0') {
        const char *c = p;
        size_t n;

        while (*p != '\0' && *p != '/')
            p++;
        n = (size_t)(p - c);
        if (n > 0 && n < sizeof(comp)) {
            struct pmn__pci_addr t;
            memcpy(comp, c, n);
            comp[n] = '\0';
            if (parse_pci(comp, &t)) {
                *a = t;
                found = true;
            }
        }
        while (*p == '/')
            p++;
    }
    return found;
}

/* ---- lookup ---- */

/* One lookup or listing: hwloc is loaded at most once, when first needed. */
struct locator {
    const struct pmn_ctx *ctx;
    void *topo;
    bool tried;
};

static void locator_done(struct locator *l)
{
    pmn__hwloc_pci_close(l->topo);
    l->topo = NULL;
}

/* The device directory @dev names, resolved inside the root, into @dir
 * (PATH_MAX).  -EINVAL for a malformed name, PMN_E_NO_DEVICE when there
 * is no such device, PMN_E_UNKNOWN for an interface with no device behind
 * it (lo, a bridge). */
static int device_dir(const struct pmn_ctx *ctx, const char *dev, char *dir)
{
    char path[PATH_MAX];
    struct pmn__pci_addr a;
    int err;

    if (dev == NULL || *dev == '\0' || strnlen(dev, PATH_MAX) >= PATH_MAX)
        return -EINVAL;
    if (dev[0] == '/') {
        const char *root = ctx->fs.root;
        size_t rl = strlen(root);

        /* The root's own spelling in front is accepted and dropped. */
        if (strcmp(root, "/") != 0 && strncmp(dev, root, rl) == 0 && dev[rl] == '/')
            dev += rl;
        while (dev[0] == '/' && dev[1] == '/')
            dev++;
        if (strncmp(dev, "/sys/", 5) != 0)
            return -EINVAL; /* only devices, which live under sys/ */
        err = pmn__sysfs_resolve(&ctx->fs, dev, dir);
        if (err == -ENOENT)
            return PMN_E_NO_DEVICE;
        if (err)
            return bad_path(err);
        /* A device directory, nothing else under the root. */
        if (strncmp(dir, DEVICES_DIR "/", sizeof(DEVICES_DIR)) != 0)
            return -EINVAL;
        return 0;
    }
    if (parse_pci(dev, &a)) {
        char name[32];
        pci_name(&a, name, sizeof(name));
        snprintf(path, sizeof(path), PCI_DIR "/%s", name);
    } else if (valid_ifname(dev)) {
        snprintf(path, sizeof(path), NET_DIR "/%s", dev);
        err = pmn__sysfs_resolve(&ctx->fs, path, dir);
        if (err == -ENOENT)
            return PMN_E_NO_DEVICE;
        if (err)
            return bad_path(err);
        snprintf(path, sizeof(path), NET_DIR "/%s/device", dev);
        err = pmn__sysfs_resolve(&ctx->fs, path, dir);
        if (err == -ENOENT)
            return PMN_E_UNKNOWN; /* a virtual interface */
        if (err == 0 && strncmp(dir, DEVICES_DIR "/", sizeof(DEVICES_DIR)) != 0)
            return -EINVAL;
        return bad_path(err);
    } else {
        return -EINVAL;
    }
    err = pmn__sysfs_resolve(&ctx->fs, path, dir);
    if (err == -ENOENT)
        return PMN_E_NO_DEVICE;
    if (err == 0 && strncmp(dir, DEVICES_DIR "/", sizeof(DEVICES_DIR)) != 0)
        return -EINVAL;
    return bad_path(err);
}

/* The node of the device in directory @dir (resolved): its numa_node, or
 * the first ancestor's that knows, or hwloc's on "/". */
static int dir_node(struct locator *l, const char *dir, int *node)
{
    char p[PATH_MAX];
    size_t len = strlen(dir);
    struct pmn__pci_addr a;
    int err;

    memcpy(p, dir, len + 1);
    while (len > sizeof(DEVICES_DIR) - 1) {
        int64_t v;

        err = read_attr_s64(&l->ctx->fs, p, "numa_node", &v);
        if (err == 0) {
            if (v < -1 || v > PMN__MAX_NODE_ID)
                return PMN_E_PARSE;
            if (v >= 0) {
                *node = (int)v;
                return 0;
            }
        } else if (err == -EXDEV || err == -ELOOP || err == -ENAMETOOLONG) {
            return -EINVAL; /* numa_node linked out of the root */
        } else if (err == -EINVAL || err == -ERANGE || err == PMN_E_PARSE) {
            return PMN_E_PARSE; /* text that is not a number */
        } else if (err != -ENOENT && err != -EISDIR) {
            return err;
        }
        pmn__path_pop(p, &len);
    }
    if (!pci_of_path(dir, &a))
        return PMN_E_UNKNOWN;
    if (!l->tried) {
        l->tried = true;
        err = pmn__hwloc_pci_open(l->ctx, &l->topo);
        if (err && err != PMN_E_UNKNOWN)
            pmn__log(l->ctx, 2, "device locality: hwloc failed (%s)", pmn_strerror(err));
    }
    return pmn__hwloc_pci_node(l->topo, &a, node);
}

static int locate(struct locator *l, const char *dev, int *node)
{
    char dir[PATH_MAX];
    int err = device_dir(l->ctx, dev, dir);

    return err ? err : dir_node(l, dir, node);
}

int pmn_device_node(const struct pmn_ctx *ctx, const char *dev, int *node)
{
    struct locator l = {.ctx = ctx};
    int err, v;

    if (ctx == NULL || node == NULL)
        return -EINVAL;
    err = locate(&l, dev, &v);
    locator_done(&l);
    if (err == 0)
        *node = v;
    return err;
}

static bool has_memory(const struct pmn_node *n)
{
    return n->has_memory && n->capacity != 0;
}

int pmn_nearest_node_to_device(const struct pmn_ctx *ctx, const char *dev, int *out)
{
    const struct pmn_node *from;
    int best = -1, best_d = 0, id, err;

    if ((err = pmn_device_node(ctx, dev, &id)) != 0)
        return err;
    if (out == NULL)
        return -EINVAL;
    if ((from = pmn__node_find(ctx, id)) == NULL)
        return PMN_E_NO_NODE;
    if (has_memory(from)) {
        *out = id;
        return 0;
    }
    for (size_t i = 0; i < ctx->nnodes; i++) {
        const struct pmn_node *n = &ctx->nodes[i];
        int d;

        if (!has_memory(n))
            continue;
        d = from->dist ? from->dist[n->index] : -1;
        if (d < 0)
            return PMN_E_UNKNOWN;     /* a candidate we cannot rank */
        if (best < 0 || d < best_d) { /* ascending ids: ties keep the lower */
            best = n->id;
            best_d = d;
        }
    }
    if (best < 0)
        return PMN_E_NO_MATCH;
    *out = best;
    return 0;
}

int pmn_nearest_private_to_device(const struct pmn_ctx *ctx, const char *dev, int *out)
{
    int id, err;

    if ((err = pmn_device_node(ctx, dev, &id)) != 0)
        return err;
    return pmn_nearest_private_node(ctx, id, out);
}

/* ---- listing ---- */

/* What a PCI class code (0xCCSSPP) is worth listing as, or NULL. */
static const char *pci_type(uint64_t cls)
{
    unsigned base = (unsigned)(cls >> 16) & 0xff, sub = (unsigned)(cls >> 8) & 0xff;

    if (cls > 0xffffff)
        return NULL;
    switch (base) {
    case 0x01: return sub == 0x08 ? "nvme" : NULL;  /* mass storage: NVM controllers */
    case 0x02: return "net";                        /* network (Ethernet, InfiniBand...) */
    case 0x03: return "gpu";                        /* display */
    case 0x05: return sub == 0x02 ? "cxl" : NULL;   /* memory: CXL memory device */
    case 0x0b: return sub == 0x40 ? "accel" : NULL; /* co-processor */
    case 0x12: return "accel";                      /* processing accelerator */
    }
    return NULL;
}

struct devlist {
    struct pmn_device *v;
    size_t n, cap;
};

static int devlist_add(struct devlist *dl, const char *name, const char *type,
                       const struct pmn__pci_addr *pci, int node)
{
    struct pmn_device *d;

    if (dl->n == dl->cap) {
        size_t cap = dl->cap ? dl->cap * 2 : 16;
        if ((d = realloc(dl->v, cap * sizeof(*d))) == NULL)
            return -ENOMEM;
        dl->v = d;
        dl->cap = cap;
    }
    d = &dl->v[dl->n++];
    memset(d, 0, sizeof(*d));
    d->struct_size = sizeof(*d);
    snprintf(d->name, sizeof(d->name), "%s", name);
    snprintf(d->type, sizeof(d->type), "%s", type);
    if (pci != NULL)
        pci_name(pci, d->pci, sizeof(d->pci));
    d->node = node;
    return 0;
}

/* The node of @dir for a listing: unknown (and any error reading it) is -1. */
static int list_node(struct locator *l, const char *dir)
{
    int node;

    return dir_node(l, dir, &node) == 0 ? node : -1;
}

static int list_net(struct locator *l, struct devlist *dl)
{
    char **names, dir[PATH_MAX], path[PATH_MAX];
    size_t n;
    int err = pmn__sysfs_list(&l->ctx->fs, NET_DIR, NULL, &names, &n);

    if (err)
        return err == -ENOENT || err == -ENOTDIR ? 0 : err;
    for (size_t i = 0; i < n && err == 0; i++) {
        struct pmn__pci_addr a;
        bool pci;

        if (!valid_ifname(names[i]))
            continue;
        snprintf(path, sizeof(path), NET_DIR "/%s/device", names[i]);
        if (pmn__sysfs_resolve(&l->ctx->fs, path, dir) != 0 ||
            strncmp(dir, DEVICES_DIR "/", sizeof(DEVICES_DIR)) != 0)
            continue; /* virtual, or a link we do not follow */
        pci = pci_of_path(dir, &a);
        err = devlist_add(dl, names[i], "net", pci ? &a : NULL, list_node(l, dir));
    }
    pmn__strv_free(names, n);
    return err;
}

static bool listed_pci(const struct devlist *dl, const char *addr)
{
    for (size_t i = 0; i < dl->n; i++)
        if (strcmp(dl->v[i].pci, addr) == 0)
            return true;
    return false;
}

static int list_pci(struct locator *l, struct devlist *dl)
{
    char **names, dir[PATH_MAX], path[PATH_MAX], addr[32];
    size_t n;
    int err = pmn__sysfs_list(&l->ctx->fs, PCI_DIR, NULL, &names, &n);

    if (err)
        return err == -ENOENT || err == -ENOTDIR ? 0 : err;
    for (size_t i = 0; i < n && err == 0; i++) {
        struct pmn__pci_addr a;
        const char *type;
        uint64_t cls;

        if (!parse_pci(names[i], &a))
            continue;
        pci_name(&a, addr, sizeof(addr));
        snprintf(path, sizeof(path), PCI_DIR "/%s", names[i]);
        if (listed_pci(dl, addr) || pmn__sysfs_resolve(&l->ctx->fs, path, dir) != 0 ||
            strncmp(dir, DEVICES_DIR "/", sizeof(DEVICES_DIR)) != 0)
            continue;
        if (read_attr_hex(&l->ctx->fs, dir, "class", &cls) != 0 || (type = pci_type(cls)) == NULL)
            continue;
        err = devlist_add(dl, addr, type, &a, list_node(l, dir));
    }
    pmn__strv_free(names, n);
    return err;
}

int pmn_devices(const struct pmn_ctx *ctx, struct pmn_device *out, size_t max)
{
    struct locator l = {.ctx = ctx};
    struct devlist dl = {0};
    size_t stride = 0;
    int err;

    if (ctx == NULL)
        return -EINVAL;
    if (max > 0) {
        if (!pmn__out_ok(out, PMN__SIZE_TO(struct pmn_device, node)))
            return -EINVAL;
        memcpy(&stride, out, sizeof(stride));
        if (stride % _Alignof(struct pmn_device) != 0)
            return -EINVAL;
    }
    err = list_net(&l, &dl);
    if (err == 0)
        err = list_pci(&l, &dl);
    locator_done(&l);
    if (err == 0 && dl.n > INT_MAX)
        err = -EOVERFLOW;
    for (size_t i = 0; err == 0 && i < dl.n && i < max; i++) {
        char *dst = (char *)out + i * stride;

        memcpy(dst, &stride, sizeof(stride));
        pmn__out_put(dst, &dl.v[i], sizeof(dl.v[i]));
    }
    free(dl.v);
    return err ? err : (int)dl.n;
}
