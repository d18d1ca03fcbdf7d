/*
 * place/ipc-dax.c - device-dax memory behind IPC handles.
 *
 * A device-dax device cannot hold the generation table (its memory is the
 * caller's, every byte), so a shareable dax backing keeps the table in a
 * small memfd of its own (shared.c, the same layout as for memfd
 * backings): that memfd is the fd an exporter passes, and the handle names
 * the device instead (PMN_IPC_KIND_DAX: its name under /dev and its
 * st_rdev).  The importer opens /dev/<name> itself, so the device node's
 * permissions decide who may map the memory, exactly as for the owner.
 *
 * Nothing in the handle is trusted: the name must be a plain device name
 * (no '/', no "." or "..": /dev/<name> and nothing else); BEFORE anything
 * is opened, the sysfs entry of that name must describe a device-dax
 * device with the handle's st_rdev (its dev attribute), a size and a
 * power-of-two alignment, and the device's node (target_node, else
 * numa_node, as discover/dax.c reads them) must be the handle's node; only
 * then is /dev/<name> opened (O_NOCTTY | O_NONBLOCK: never a controlling
 * terminal, never a wait), and it must be a character device with the
 * handle's st_rdev still.
 * move_pages does not see device pages, so that is what "verified" means
 * for dax: the device's node, not a per-page walk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "place/backing.h"
#include "os/prim.h"

#define DAX_DIR "sys/bus/dax/devices"

bool pmn__ipc_dax_name_ok(const char *name, size_t cap)
{
    size_t n = strnlen(name, cap);

    if (n == 0 || n == cap || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_'))
            return false;
    }
    return true;
}

int pmn__ipc_dax_fill(const struct pmn_backing *b, struct pmn_ipc_handle *h)
{
    const char *name = pmn__dax_name(b);
    uint64_t rdev;
    int err;

    if (name == NULL || !pmn__ipc_dax_name_ok(name, sizeof(h->dax_name)))
        return PMN_E_NOT_SHAREABLE; /* a name no importer could open as /dev/<name> */
    err = pmn_prim_char_dev(pmn__dax_fd(b), &rdev);
    if (err)
        return err;
    h->kind = PMN_IPC_KIND_DAX;
    h->dax_rdev = rdev;
    memcpy(h->dax_name, name, strlen(name) + 1);
    return 0;
}

/* What sysfs says of device @name: it is @rdev, its size, alignment, node.
 * -ENOENT when sysfs lists no device-dax device of that name. */
static int dax_sysfs(const char *name, uint64_t rdev, uint64_t *size, uint64_t *align, int *node)
{
    struct pmn__sysfs fs;
    char path[128], *s = NULL;
    unsigned maj, min;
    int64_t tn = -1, nn = -1;
    int err, used = 0;

    err = pmn__sysfs_open(&fs, "/");
    if (err)
        return err;
    snprintf(path, sizeof(path), DAX_DIR "/%s/dev", name);
    err = pmn__sysfs_read_str(&fs, path, &s);
    if (err == 0 && (sscanf(s, "%u:%u%n", &maj, &min, &used) != 2 || s[used] != '\0' ||
                     makedev(maj, min) != rdev))
        err = PMN_E_BAD_HANDLE; /* the handle's device is not the one sysfs calls <name> */
    free(s);
    if (err == 0) {
        snprintf(path, sizeof(path), DAX_DIR "/%s/size", name);
        err = pmn__sysfs_read_u64(&fs, path, 10, size);
    }
    if (err == 0) {
        snprintf(path, sizeof(path), DAX_DIR "/%s/align", name);
        err = pmn__sysfs_read_u64(&fs, path, 10, align);
        if (err == -ENOENT) { /* older kernels keep it on the region */
            snprintf(path, sizeof(path), DAX_DIR "/%s/../dax_region/align", name);
            err = pmn__sysfs_read_u64(&fs, path, 10, align);
        }
    }
    if (err == 0 && (*align == 0 || (*align & (*align - 1)) || *size % *align))
        err = PMN_E_UNKNOWN;
    if (err == 0) {
        snprintf(path, sizeof(path), DAX_DIR "/%s/target_node", name);
        if (pmn__sysfs_read_s64(&fs, path, &tn) != 0)
            tn = -1;
        snprintf(path, sizeof(path), DAX_DIR "/%s/numa_node", name);
        if (pmn__sysfs_read_s64(&fs, path, &nn) != 0)
            nn = -1;
        *node = tn >= 0 && tn <= PMN__MAX_NODE_ID   ? (int)tn
                : nn >= 0 && nn <= PMN__MAX_NODE_ID ? (int)nn
                                                    : -1;
    }
    pmn__sysfs_close(&fs);
    return err;
}

int pmn__ipc_dax_open(const struct pmn_ipc_handle *h, int *fd, uint64_t *size, uint64_t *align)
{
    char path[5 + sizeof(h->dax_name)];
    uint64_t rdev;
    int err, f, node = -1;

    if (!pmn__ipc_dax_name_ok(h->dax_name, sizeof(h->dax_name)))
        return PMN_E_BAD_HANDLE;
    snprintf(path, sizeof(path), "/dev/%s", h->dax_name);
    /* sysfs first: nothing is opened unless it is a device-dax device of
     * the handle's number.  An open has effects of its own (a tty opened
     * by a daemon without one becomes its controlling terminal; other
     * drivers act on open), and the handle is the peer's word. */
    err = dax_sysfs(h->dax_name, h->dax_rdev, size, align, &node);
    if (err == -ENOENT) /* no device-dax device: -ENOENT only if nothing is there */
        return pmn_prim_exists_at(AT_FDCWD, path) ? PMN_E_BAD_HANDLE : -ENOENT;
    if (err)
        return err;
    if (node != h->node)
        return PMN_E_NODE_CHANGED;
    err = pmn_prim_open_device(path, &f);
    if (err == -ENODEV || err == -EISDIR)
        return PMN_E_BAD_HANDLE; /* there, but no character device */
    if (err)
        return err; /* -ENOENT, -EACCES...: the device node's say */
    /* /dev/<name> may have been replaced since sysfs was read. */
    err = pmn_prim_char_dev(f, &rdev);
    if (err == 0 && rdev != h->dax_rdev)
        err = PMN_E_BAD_HANDLE;
    if (err) {
        pmn_prim_close(f);
        return err;
    }
    *fd = f;
    return 0;
}
