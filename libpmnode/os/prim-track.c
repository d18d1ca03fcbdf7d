/*
 * prim-track.c - the kernel's access signals for tier/track.c: entries of
 * /proc/self/pagemap, the process-wide soft-dirty reset
 * (/proc/self/clear_refs), the idle-page bitmap
 * (/sys/kernel/mm/page_idle/bitmap) and asynchronous userfaultfd
 * write-protection read back with the PAGEMAP_SCAN ioctl (Linux 6.7).
 * The pagemap's own reads are in prim-linux.c (place/where.c needs them
 * too, in the preload's build).
 *
 * The ABI constants of the last two are defined here when the system's
 * headers are older than the kernel (they are stable kernel ABI); a kernel
 * that lacks them answers EINVAL or ENOTTY, which the callers turn into
 * "not supported".  The tracker owns every descriptor opened here.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "os/prim.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1ull << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1ull << 15)
#endif

/* PAGEMAP_SCAN (linux/fs.h, Linux 6.7), spelled out for older headers. */
struct pmn_page_region {
    uint64_t start, end, categories;
};
struct pmn_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PMN_PAGEMAP_SCAN _IOWR('f', 16, struct pmn_pm_scan_arg)
#define PMN_PM_SCAN_WP_MATCHING (1ull << 0)
#define PMN_PM_SCAN_CHECK_WPASYNC (1ull << 1)
#define PMN_PAGE_IS_WRITTEN (1ull << 1)

int pmn_prim_clear_soft_dirty(void)
{
    int f = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    int err;

    if (f < 0)
        return -errno;
    err = pmn_prim_write_all(f, "4", 1);
    close(f);
    return err;
}

int pmn_prim_soft_dirty_supported(void)
{
    const size_t page = pmn_prim_page_size();
    uint64_t e = 0;
    void *p;
    int fd = -1, err;

    /* A fresh mapping is soft-dirty as a whole (VM_SOFTDIRTY) on a kernel
     * that has the bit; without CONFIG_MEM_SOFT_DIRTY bit 55 is always 0.
     * Nothing is cleared, so asking has no effect on anyone's bits. */
    p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    *(volatile char *)p = 1;
    err = pmn_prim_pagemap_open(&fd);
    if (err == 0) {
        err = pmn_prim_pagemap_read(fd, (uintptr_t)p, 1, &e);
        close(fd);
    }
    munmap(p, page);
    if (err != 0)
        return err;
    return (e & PMN_PRIM_PM_SOFT_DIRTY) != 0;
}

int pmn_prim_page_idle_open(int *fd)
{
    int f = open("/sys/kernel/mm/page_idle/bitmap", O_RDWR | O_CLOEXEC);

    if (f < 0)
        return -errno;
    *fd = f;
    return 0;
}

int pmn_prim_page_idle_read(int fd, uint64_t word, uint64_t *bits)
{
    ssize_t r;

    if (word > (uint64_t)INT64_MAX / 8)
        return -EINVAL;
    do
        r = pread(fd, bits, sizeof(*bits), (off_t)(word * 8));
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    if (r != (ssize_t)sizeof(*bits)) /* beyond the last page frame */
        return -ENXIO;
    return 0;
}

int pmn_prim_page_idle_write(int fd, uint64_t word, uint64_t bits)
{
    ssize_t r;

    if (word > (uint64_t)INT64_MAX / 8)
        return -EINVAL;
    do
        r = pwrite(fd, &bits, sizeof(bits), (off_t)(word * 8));
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    return r == (ssize_t)sizeof(bits) ? 0 : -ENXIO;
}

int pmn_prim_uffd_open_async(int *fd)
{
    const uint64_t want = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
    struct uffdio_api api = {.api = UFFD_API, .features = want};
    int f, err;

    /* Asynchronous faults never reach a handler, kernel-mode ones
     * included, so user-mode-only descriptors serve as well. */
    f = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (f < 0) {
        err = -errno;
        f = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
        if (f < 0)
            return err == -ENOSYS ? -EOPNOTSUPP : err;
    }
    if (ioctl(f, UFFDIO_API, &api) != 0) {
        /* Older kernels refuse unknown features with EINVAL. */
        err = errno == EINVAL ? -EOPNOTSUPP : -errno;
        close(f);
        return err;
    }
    if ((api.features & want) != want) {
        close(f);
        return -EOPNOTSUPP;
    }
    *fd = f;
    return 0;
}

int pmn_prim_pagemap_scan_written(int pmfd, uintptr_t start, uintptr_t end, uint64_t *written)
{
    struct pmn_page_region vec[32];
    struct pmn_pm_scan_arg a;
    uint64_t total = 0;
    long r;

    while (start < end) {
        memset(&a, 0, sizeof(a));
        a.size = sizeof(a);
        a.flags = PMN_PM_SCAN_WP_MATCHING | PMN_PM_SCAN_CHECK_WPASYNC;
        a.start = start;
        a.end = end;
        a.vec = (uintptr_t)vec;
        a.vec_len = sizeof(vec) / sizeof(vec[0]);
        a.category_mask = PMN_PAGE_IS_WRITTEN;
        a.return_mask = PMN_PAGE_IS_WRITTEN;
        r = ioctl(pmfd, PMN_PAGEMAP_SCAN, &a);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno == ENOTTY ? -EOPNOTSUPP : -errno;
        }
        for (long i = 0; i < r; i++)
            total += vec[i].end - vec[i].start;
        if (a.walk_end <= start) /* no progress: never spin */
            return -EIO;
        start = (uintptr_t)a.walk_end;
    }
    *written = total;
    return 0;
}

int pmn_prim_count_unmapped(uintptr_t start, size_t n, uint64_t *gone)
{
    const size_t page = pmn_prim_page_size();
    unsigned char vec[4096];
    uint64_t g = 0;

    while (n > 0) {
        size_t k = n < sizeof(vec) ? n : sizeof(vec);

        if (mincore((void *)start, k * page, vec) != 0) {
            if (errno != ENOMEM)
                return -errno;
            /* Some page has no mapping: ask page by page. */
            for (size_t i = 0; i < k; i++) {
                if (mincore((void *)(start + i * page), page, vec) != 0 && errno == ENOMEM)
                    g++;
            }
        }
        start += k * page;
        n -= k;
    }
    *gone += g;
    return 0;
}
