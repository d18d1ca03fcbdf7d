/*
 * prim-linux.c - Linux primitives: mmap, mbind, madvise, move_pages,
 * mprotect, memfd_create, userfaultfd, device and file opens, and the
 * /proc files that describe our own process.
 *
 * mbind and move_pages are called through syscall() rather than libnuma,
 * whose wrappers keep global state and print on error.  Node masks are
 * sized to the node asked for, so ids far above 64 work; the kernel reads
 * maxnode - 1 bits, hence the + 1.
 *
 * Report files (the shim's stats) are written by pmn_prim_write_report,
 * through a temporary file renamed over the name, never through a link.
 * Text files (sysfs, /proc, configuration) are read by one reader,
 * pmn_prim_read_file_at, relative to a directory fd: discover/sysfs.c
 * passes the context's root, the /proc readers here pass AT_FDCWD.  A
 * configuration file goes through the same reader with one more demand,
 * that it be a regular file (pmn_prim_read_regular_at).
 * userfaultfd's kernel ABI (struct uffd_msg, the ioctls) stays in this
 * file; the compressed tier sees pmn_prim_uffd_event.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/futex.h>
#include <linux/mempolicy.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "os/prim.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* Largest /proc file read whole (numa_maps and maps of a process with
 * hundreds of thousands of mappings fit). */
#define PROC_MAX ((size_t)64 << 20)

size_t pmn_prim_page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static int log2_exact(size_t v)
{
    int s = 0;

    if (v == 0 || (v & (v - 1)))
        return -1;
    while ((v >> s) != 1)
        s++;
    return s;
}

int pmn_prim_map_anon(size_t len, size_t huge_size, void **out)
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    void *p;

    if (len == 0)
        return -EINVAL;
    if (huge_size) {
        int shift = log2_exact(huge_size);
        if (shift < 0)
            return -EINVAL;
        /* hugetlb reservations make MAP_NORESERVE a way to SIGBUS later:
         * keep the reservation, so a short pool fails here instead. */
        flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (shift << MAP_HUGE_SHIFT);
    }
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    *out = p;
    return 0;
}

/* Reserve len + align of address space and return the aligned start. */
static int reserve_aligned(size_t len, size_t align, size_t skew, uintptr_t *base,
                           uintptr_t *aligned)
{
    void *res;

    if (len == 0 || align == 0 || (align & (align - 1)) || skew >= align || len > SIZE_MAX - align)
        return -EINVAL;
    res = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED)
        return -errno;
    *base = (uintptr_t)res;
    /* The first A >= base with A + skew aligned: below base + align, so
     * [A, A + len) lies inside the reservation. */
    *aligned = ((*base + skew + align - 1) & ~(uintptr_t)(align - 1)) - skew;
    return 0;
}

/* Unmap what surrounds [aligned, aligned + len) in the reservation. */
static void trim_reservation(uintptr_t base, uintptr_t aligned, size_t len, size_t align)
{
    size_t span = len + align;

    if (aligned > base)
        munmap((void *)base, aligned - base);
    if (base + span > aligned + len)
        munmap((void *)(aligned + len), base + span - (aligned + len));
}

/* Map @len bytes with @flags (MAP_FIXED added) over the part of a fresh
 * reservation that is aligned to @align, and trim the rest. */
static int map_aligned(size_t len, size_t align, size_t skew, int prot, int flags, int fd,
                       uint64_t off, void **out)
{
    uintptr_t base = 0, aligned = 0;
    void *p;
    int err = reserve_aligned(len, align, skew, &base, &aligned);

    if (err)
        return err;
    p = mmap((void *)aligned, len, prot, flags | MAP_FIXED, fd, (off_t)off);
    if (p == MAP_FAILED) {
        err = -errno;
        munmap((void *)base, len + align);
        return err;
    }
    trim_reservation(base, aligned, len, align);
    *out = p;
    return 0;
}

int pmn_prim_map_anon_aligned(size_t len, size_t huge_size, size_t align, size_t skew, void **out)
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

    if (huge_size) {
        int shift = log2_exact(huge_size);
        if (shift < 0 || skew % huge_size)
            return -EINVAL;
        flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (shift << MAP_HUGE_SHIFT);
        if (align < huge_size)
            align = huge_size;
    }
    return map_aligned(len, align, skew, PROT_READ | PROT_WRITE, flags, -1, 0, out);
}

int pmn_prim_map_fd(int fd, size_t len, off_t off, void **out)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);

    if (p == MAP_FAILED)
        return -errno;
    *out = p;
    return 0;
}

int pmn_prim_map_fd_aligned(int fd, size_t len, size_t align, size_t skew, void **out)
{
    return map_aligned(len, align, skew, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0, out);
}

int pmn_prim_unmap(void *addr, size_t len)
{
    return munmap(addr, len) == 0 ? 0 : -errno;
}

/* mbind of [addr, addr+len) to the one node @node with @mode and @flags. */
static int mbind_one(void *addr, size_t len, int node, int mode, unsigned flags)
{
    const size_t bits = sizeof(unsigned long) * 8;
    size_t words = (size_t)node / bits + 1;
    unsigned long stackmask[4] = {0}, *mask = stackmask;
    long r;
    int err = 0;

    if (node < 0)
        return -EINVAL;
    if (words > 4) {
        mask = calloc(words, sizeof(*mask));
        if (mask == NULL)
            return -ENOMEM;
    }
    mask[(size_t)node / bits] = 1UL << ((size_t)node % bits);
    r = syscall(SYS_mbind, addr, len, mode, mask, (unsigned long)(words * bits + 1), flags);
    if (r != 0)
        err = -errno;
    if (mask != stackmask)
        free(mask);
    return err;
}

int pmn_prim_bind(void *addr, size_t len, int node)
{
    return mbind_one(addr, len, node, MPOL_BIND | MPOL_F_STATIC_NODES, (unsigned)MPOL_MF_STRICT);
}

int pmn_prim_prefer(void *addr, size_t len, int node)
{
    return mbind_one(addr, len, node, MPOL_PREFERRED, 0);
}

int pmn_prim_policy_default(void *addr, size_t len)
{
    return syscall(SYS_mbind, addr, len, MPOL_DEFAULT, NULL, 0ul, 0u) == 0 ? 0 : -errno;
}

int pmn_prim_bind_nodes(void *addr, size_t len, const int *nodes, size_t n)
{
    const size_t bits = sizeof(unsigned long) * 8;
    size_t words = 1;
    unsigned long *mask;
    long r;
    int err = 0;

    for (size_t i = 0; i < n; i++) {
        if (nodes[i] < 0)
            return -EINVAL;
        if ((size_t)nodes[i] / bits + 1 > words)
            words = (size_t)nodes[i] / bits + 1;
    }
    mask = calloc(words, sizeof(*mask));
    if (mask == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        mask[(size_t)nodes[i] / bits] |= 1UL << ((size_t)nodes[i] % bits);
    r = syscall(SYS_mbind, addr, len, MPOL_BIND | MPOL_F_STATIC_NODES, mask,
                (unsigned long)(words * bits + 1), 0u);
    if (r != 0)
        err = -errno;
    free(mask);
    return err;
}

int pmn_prim_populate_write(void *addr, size_t len)
{
    for (;;) {
        if (madvise(addr, len, MADV_POPULATE_WRITE) == 0)
            return 0;
        /* EINTR: a signal arrived mid-way; populate is idempotent. */
        if (errno != EINTR)
            return -errno;
    }
}

bool pmn_prim_populate_supported(void)
{
    /* Any page-aligned address: with len 0 the kernel checks the advice
     * and returns before looking for a mapping. */
    return madvise((void *)(uintptr_t)pmn_prim_page_size(), 0, MADV_POPULATE_WRITE) == 0;
}

void pmn_prim_touch_write(void *addr, size_t len, size_t page)
{
    volatile char *p = addr;

    for (size_t off = 0; off < len; off += page)
        p[off] = 0;
}

void pmn_prim_touch_read(const void *addr, size_t len, size_t page)
{
    const volatile char *p = addr;

    for (size_t off = 0; off < len; off += page)
        (void)p[off];
}

int pmn_prim_advise(void *addr, size_t len, int advice)
{
    return madvise(addr, len, advice) == 0 ? 0 : -errno;
}

int pmn_prim_query_nodes(void **pages, size_t n, int *status)
{
    long r = syscall(SYS_move_pages, 0, (unsigned long)n, pages, NULL, status, 0);

    return r < 0 ? -errno : 0;
}

int pmn_prim_move_pages(void **pages, size_t n, const int *nodes, int *status)
{
    long r;

    if (nodes == NULL)
        return pmn_prim_query_nodes(pages, n, status);
    /* r > 0: that many pages were not migrated (Linux >= 4.17); their
     * status entries are the caller's preset. */
    r = syscall(SYS_move_pages, 0, (unsigned long)n, pages, nodes, status, 0);
    return r >= 0 || errno == ENOENT ? 0 : -errno;
}

int pmn_prim_write_protect(void *addr, size_t len, bool on)
{
    return mprotect(addr, len, on ? PROT_READ : PROT_READ | PROT_WRITE) == 0 ? 0 : -errno;
}

/* ---- userfaultfd ---- */

static uint64_t uffd_features(unsigned want)
{
    return ((want & PMN_PRIM_UFFD_WP) ? UFFD_FEATURE_PAGEFAULT_FLAG_WP : 0) |
           ((want & PMN_PRIM_UFFD_UNMAP) ? UFFD_FEATURE_EVENT_UNMAP : 0) |
           ((want & PMN_PRIM_UFFD_REMOVE) ? UFFD_FEATURE_EVENT_REMOVE : 0) |
           ((want & PMN_PRIM_UFFD_REMAP) ? UFFD_FEATURE_EVENT_REMAP : 0);
}

int pmn_prim_uffd_open(unsigned want, int *fd, bool *user_only)
{
    const uint64_t features = uffd_features(want);
    struct uffdio_api api = {.api = UFFD_API, .features = features};
    int f, err;

    /* Kernel-mode faults too when allowed (root, or unprivileged_userfaultfd
     * = 1): a read() into protected memory then waits for the handler
     * instead of failing with EFAULT. */
    *user_only = false;
    f = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (f < 0) {
        err = -errno;
        f = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
        if (f < 0)
            return err;
        *user_only = true;
    }
    if (ioctl(f, UFFDIO_API, &api) != 0) {
        err = -errno;
        close(f);
        return err;
    }
    if ((api.features & features) != features) {
        close(f);
        return -EOPNOTSUPP;
    }
    *fd = f;
    return 0;
}

int pmn_prim_uffd_register_wp(int fd, uintptr_t start, size_t len)
{
    struct uffdio_register reg;

    memset(&reg, 0, sizeof(reg));
    reg.range.start = start;
    reg.range.len = len;
    reg.mode = UFFDIO_REGISTER_MODE_WP;
    return ioctl(fd, UFFDIO_REGISTER, &reg) == 0 ? 0 : -errno;
}

int pmn_prim_uffd_unregister(int fd, uintptr_t start, size_t len)
{
    struct uffdio_range ur = {.start = start, .len = len};

    return ioctl(fd, UFFDIO_UNREGISTER, &ur) == 0 ? 0 : -errno;
}

int pmn_prim_uffd_writeprotect(int fd, uintptr_t start, size_t len, bool on)
{
    struct uffdio_writeprotect wp = {
        .range = {.start = start, .len = len},
        .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
    };

    while (ioctl(fd, UFFDIO_WRITEPROTECT, &wp) != 0) {
        if (errno != EINTR)
            return -errno; /* -EAGAIN included: see prim.h */
    }
    return 0;
}

int pmn_prim_uffd_wake(int fd, uintptr_t start, size_t len)
{
    struct uffdio_range range = {.start = start, .len = len};

    while (ioctl(fd, UFFDIO_WAKE, &range) != 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

int pmn_prim_uffd_read(int fd, struct pmn_prim_uffd_event *ev, size_t max, size_t *n)
{
    struct uffd_msg msg[16];
    size_t want = max < 16 ? max : 16, got;
    ssize_t r;

    *n = 0;
    if (want == 0)
        return 0;
    r = read(fd, msg, want * sizeof(msg[0]));
    if (r < 0)
        return -errno;
    got = (size_t)r / sizeof(msg[0]);
    for (size_t i = 0; i < got; i++) {
        ev[i].kind = PMN_PRIM_UFFD_EV_OTHER;
        ev[i].addr = ev[i].end = ev[i].to = 0;
        if (msg[i].event == UFFD_EVENT_UNMAP || msg[i].event == UFFD_EVENT_REMOVE) {
            ev[i].kind = PMN_PRIM_UFFD_EV_GONE;
            ev[i].addr = (uintptr_t)msg[i].arg.remove.start;
            ev[i].end = (uintptr_t)msg[i].arg.remove.end;
        } else if (msg[i].event == UFFD_EVENT_REMAP) {
            ev[i].kind = PMN_PRIM_UFFD_EV_MOVED;
            ev[i].addr = (uintptr_t)msg[i].arg.remap.from;
            ev[i].end = ev[i].addr + (uintptr_t)msg[i].arg.remap.len;
            ev[i].to = (uintptr_t)msg[i].arg.remap.to;
        } else if (msg[i].event == UFFD_EVENT_PAGEFAULT &&
                   (msg[i].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)) {
            ev[i].kind = PMN_PRIM_UFFD_EV_WRITE;
            ev[i].addr = (uintptr_t)msg[i].arg.pagefault.address;
        }
    }
    *n = got;
    return 0;
}

int pmn_prim_resident(const void *addr, size_t page)
{
    unsigned char vec = 0;

    if (mincore((void *)((uintptr_t)addr & ~(uintptr_t)(page - 1)), page, &vec) != 0)
        return 0;
    return vec & 1;
}

int pmn_prim_mapped(const void *addr, size_t page)
{
    unsigned char vec = 0;

    return mincore((void *)((uintptr_t)addr & ~(uintptr_t)(page - 1)), page, &vec) == 0 ||
           errno != ENOMEM;
}

/* ---- the pagemap ---- */

int pmn_prim_pagemap_open(int *fd)
{
    int f = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

    if (f < 0)
        return -errno;
    *fd = f;
    return 0;
}

int pmn_prim_pagemap_read(int fd, uintptr_t addr, size_t n, uint64_t *out)
{
    const size_t page = pmn_prim_page_size();
    size_t done = 0;

    if (n > SIZE_MAX / sizeof(uint64_t))
        return -EINVAL;
    while (done < n * sizeof(uint64_t)) {
        off_t off = (off_t)((addr / page) * sizeof(uint64_t) + done);
        ssize_t r = pread(fd, (char *)out + done, n * sizeof(uint64_t) - done, off);

        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0) /* past the end of the address space */
            break;
        done += (size_t)r;
    }
    /* Whatever the kernel did not answer reads as "nothing there". */
    memset((char *)out + done, 0, n * sizeof(uint64_t) - done);
    return 0;
}

/* The node links of a memory block's directory: the first in *node, a
 * second one makes it -ERANGE. */
struct block_nodes {
    int node, seen;
};

static int block_node_entry(const char *name, void *arg)
{
    struct block_nodes *b = arg;
    char *end;
    long v;

    if (strncmp(name, "node", 4) != 0 || name[4] < '0' || name[4] > '9')
        return 0;
    errno = 0;
    v = strtol(name + 4, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > INT_MAX)
        return 0;
    if (b->seen++ > 0 && (int)v != b->node)
        return -ERANGE;
    b->node = (int)v;
    return 0;
}

int pmn_prim_frame_node(uint64_t pfn, int *node, uint64_t *first, uint64_t *count)
{
    const uint64_t page = pmn_prim_page_size();
    struct block_nodes b = {.node = -1};
    unsigned long long block_bytes;
    char *text = NULL, *end, dir[64];
    int err;

    err = pmn_prim_read_file_at(AT_FDCWD, "/sys/devices/system/memory/block_size_bytes", 64, &text,
                                NULL);
    if (err)
        return err;
    errno = 0;
    block_bytes = strtoull(text, &end, 16); /* hexadecimal, without 0x */
    err = errno != 0 || end == text || block_bytes < page || block_bytes % page ? -EINVAL : 0;
    free(text);
    if (err)
        return err;
    if (pfn > UINT64_MAX / page)
        return -ENOENT;
    snprintf(dir, sizeof(dir), "/sys/devices/system/memory/memory%llu",
             (unsigned long long)(pfn * page / block_bytes));
    err = pmn_prim_list_dir_at(AT_FDCWD, dir, block_node_entry, &b);
    if (err)
        return err;
    if (b.seen == 0)
        return -ENOENT;
    *node = b.node;
    *count = block_bytes / page;
    *first = pfn / *count * *count;
    return 0;
}

int pmn_prim_range_mapped(const void *addr, size_t len)
{
    if (msync((void *)addr, len, MS_ASYNC) == 0)
        return 1;
    return errno == ENOMEM ? 0 : -errno;
}

int pmn_prim_memfd(const char *name, size_t len, int *fd)
{
    int f = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC);

    if (f < 0)
        return -errno;
    if (ftruncate(f, (off_t)len) != 0) {
        int err = -errno;
        close(f);
        return err;
    }
    *fd = f;
    return 0;
}

/* ---- files and devices ---- */

int pmn_prim_open_dir(const char *path, int *fd)
{
    int f = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

    if (f < 0)
        return -errno;
    *fd = f;
    return 0;
}

/* openat2's argument and flags (linux/openat2.h, 5.6), spelled out so
 * older headers build. */
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
struct prim_open_how {
    uint64_t flags, mode, resolve;
};
#define PRIM_RESOLVE_NO_MAGICLINKS 0x02
#define PRIM_RESOLVE_IN_ROOT 0x10

int pmn_prim_open_dir_at(int dirfd, const char *path, bool in_root, int *fd)
{
    struct prim_open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = PRIM_RESOLVE_IN_ROOT | PRIM_RESOLVE_NO_MAGICLINKS,
    };
    int f;

    if (in_root) {
        f = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        /* No openat2 to ask: ENOSYS (before 5.6, or a seccomp filter's
         * answer, Docker since 20.10); EPERM (a seccomp filter's other
         * usual answer: older Docker, systemd's SystemCallErrorNumber=),
         * which openat2 itself never gives for an O_PATH directory open
         * (permissions are EACCES); E2BIG or EINVAL (a kernel that knows
         * openat2 but not this struct's size or these resolve flags).
         * The caller then resolves by hand, as confined, and its plain
         * opens answer any real error. */
        if (f < 0 && (errno == ENOSYS || errno == EPERM || errno == E2BIG || errno == EINVAL))
            return -ENOSYS;
    } else {
        f = openat(dirfd, path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (f < 0)
        return -errno;
    *fd = f;
    return 0;
}

/* -EISDIR for a directory, -ESPIPE for any other file that is not a
 * regular file, else 0. */
static int regular_only(const struct stat *st)
{
    if (S_ISDIR(st->st_mode))
        return -EISDIR;
    return S_ISREG(st->st_mode) ? 0 : -ESPIPE;
}

/* pmn_prim_read_file_at, and with @regular pmn_prim_read_regular_at. */
static int read_file_at(int dirfd, const char *path, size_t max, bool regular, char **buf,
                        size_t *len)
{
    /* Room for one byte past @max: reading it is how a longer file shows. */
    size_t cap = max < 4096 ? max + 1 : 4096, used = 0;
    struct stat st;
    char *b, *nb;
    int fd, err = 0;

    *buf = NULL;
    if (len)
        *len = 0;
    if (max >= SIZE_MAX - 1)
        return -EINVAL;
    /* Look before opening: opening a device can do things (a tape
     * rewinds), and a FIFO is not worth a descriptor. */
    if (regular && fstatat(dirfd, path, &st, 0) != 0)
        return -errno;
    if (regular && (err = regular_only(&st)) != 0)
        return err;
    fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    /* Look again at what was opened: the name may have been replaced in
     * between. */
    if (regular && (err = fstat(fd, &st) != 0 ? -errno : regular_only(&st)) != 0) {
        close(fd);
        return err;
    }
    b = malloc(cap + 1);
    if (b == NULL) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        ssize_t r;
        if (used == cap) {
            if (cap > max) {
                err = -EFBIG;
                break;
            }
            size_t ncap = cap > max / 2 ? max + 1 : cap * 2;
            if ((nb = realloc(b, ncap + 1)) == NULL) {
                err = -ENOMEM;
                break;
            }
            b = nb;
            cap = ncap;
        }
        r = read(fd, b + used, cap - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = -errno; /* before close() can change it */
            break;
        }
        if (r == 0)
            break;
        used += (size_t)r;
    }
    close(fd);
    if (err == 0 && memchr(b, '\0', used) != NULL)
        err = -EINVAL; /* not text: refuse rather than silently truncate */
    if (err) {
        free(b);
        return err;
    }
    b[used] = '\0';
    *buf = b;
    if (len)
        *len = used;
    return 0;
}

int pmn_prim_read_file_at(int dirfd, const char *path, size_t max, char **buf, size_t *len)
{
    return read_file_at(dirfd, path, max, false, buf, len);
}

int pmn_prim_read_regular_at(int dirfd, const char *path, size_t max, char **buf, size_t *len)
{
    return read_file_at(dirfd, path, max, true, buf, len);
}

int pmn_prim_readlink_at(int dirfd, const char *path, char **out)
{
    char buf[PATH_MAX];
    ssize_t r;

    *out = NULL;
    r = readlinkat(dirfd, path, buf, sizeof(buf) - 1);
    if (r < 0)
        return -errno;
    buf[r] = '\0';
    *out = strdup(buf);
    return *out ? 0 : -ENOMEM;
}

bool pmn_prim_exists_at(int dirfd, const char *path)
{
    return faccessat(dirfd, path, F_OK, 0) == 0;
}

int pmn_prim_list_dir_at(int dirfd, const char *path, int (*fn)(const char *name, void *arg),
                         void *arg)
{
    struct dirent *de;
    DIR *d;
    int fd, err = 0;

    fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    d = fdopendir(fd);
    if (d == NULL) {
        err = -errno;
        close(fd);
        return err;
    }
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            err = -errno; /* 0 at the end of the directory */
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((err = fn(de->d_name, arg)) != 0)
            break;
    }
    closedir(d);
    return err;
}

/* open(@path, @flags), kept only when fstat says the file is of @type
 * (S_IFCHR, S_IFREG...): else @wrong_type and nothing stays open. */
static int open_typed(const char *path, int flags, mode_t type, int wrong_type, int *fd)
{
    struct stat st;
    int f = open(path, flags), err;

    if (f < 0)
        return -errno;
    err = fstat(f, &st) != 0 ? -errno : (st.st_mode & S_IFMT) != type ? wrong_type : 0;
    if (err) {
        close(f);
        return err;
    }
    *fd = f;
    return 0;
}

int pmn_prim_open_device(const char *path, int *fd)
{
    /* O_NOCTTY: a tty's open must not make it our controlling terminal;
     * O_NONBLOCK: no open waits on a device (device-dax ignores both). */
    return open_typed(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, S_IFCHR, -ENODEV, fd);
}

int pmn_prim_char_dev(int fd, uint64_t *rdev)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return -errno;
    if (!S_ISCHR(st.st_mode))
        return -ENODEV;
    *rdev = (uint64_t)st.st_rdev;
    return 0;
}

/* Read up to @len bytes of @fd from @off until end of file: 0 or -errno,
 * with *@got what arrived either way. */
static int pread_full(int fd, uint64_t off, void *buf, size_t len, size_t *got)
{
    size_t n = 0;
    int err = 0;

    while (n < len) {
        ssize_t r = pread(fd, (char *)buf + n, len - n, (off_t)(off + n));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            err = -errno;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    *got = n;
    return err;
}

int pmn_prim_read_at(const char *path, uint64_t off, void *buf, size_t len, size_t *got)
{
    int fd = -1, err;

    *got = 0;
    err = open_typed(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, S_IFREG, -EINVAL, &fd);
    if (err)
        return err;
    err = pread_full(fd, off, buf, len, got);
    close(fd);
    return err;
}

int pmn_prim_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A character device or FIFO at @name in @dfd: append, and check that
 * what was opened is still one (the name may have changed meanwhile). */
static int report_append(int dfd, const char *name, const void *buf, size_t len)
{
    struct stat st;
    int fd = openat(dfd, name, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    int err;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0)
        err = -errno;
    else if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode))
        err = -EINVAL;
    else
        err = pmn_prim_write_all(fd, buf, len);
    close(fd);
    return err;
}

/* A new file beside @name in @dfd, renamed over it.  @old: the file it
 * replaces, or NULL: the new file keeps its permission bits (a 0600
 * report stays 0600; it is created 0600 until then), else 0644 less the
 * umask. */
static int report_replace(int dfd, const char *name, const void *buf, size_t len,
                          const struct stat *old)
{
    char tmp[32];
    int fd = -1, err;

    for (unsigned attempt = 0; fd < 0 && attempt < 64; attempt++) {
        uint64_t r =
            pmn_prim_now_ns() ^ ((uint64_t)getpid() << 32) ^ (attempt * 0x9e3779b97f4a7c15u);
        snprintf(tmp, sizeof(tmp), ".pmnode-%016llx", (unsigned long long)r);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    old != NULL ? 0600 : 0644);
        if (fd < 0 && errno != EEXIST)
            return -errno;
    }
    if (fd < 0)
        return -EEXIST;
    err = old != NULL && fchmod(fd, old->st_mode & 0777) != 0 ? -errno : 0;
    if (err == 0)
        err = pmn_prim_write_all(fd, buf, len);
    if (close(fd) != 0 && err == 0)
        err = -errno;
    if (err == 0 && renameat(dfd, tmp, dfd, name) != 0)
        err = -errno;
    if (err != 0)
        unlinkat(dfd, tmp, 0);
    return err;
}

int pmn_prim_write_report(const char *path, const void *buf, size_t len)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/'), *name = slash != NULL ? slash + 1 : path;
    struct stat st;
    int dfd, err;

    if (*name == '\0')
        return path[0] == '\0' ? -ENOENT : -EISDIR;
    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    } else if ((size_t)(slash - path) >= sizeof(dir)) {
        return -ENAMETOOLONG;
    } else {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
        if (slash == path)
            snprintf(dir, sizeof(dir), "/");
    }
    dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        err = errno == ENOENT ? report_replace(dfd, name, buf, len, NULL) : -errno;
    else if (S_ISREG(st.st_mode))
        err = report_replace(dfd, name, buf, len, &st);
    else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
        err = report_append(dfd, name, buf, len);
    else if (S_ISLNK(st.st_mode))
        err = -ELOOP;
    else if (S_ISDIR(st.st_mode))
        err = -EISDIR;
    else
        err = -EINVAL;
    close(dfd);
    return err;
}

/* A /proc file of this process, whole. */
static int read_proc(const char *path, char **buf, size_t *len)
{
    return pmn_prim_read_file_at(AT_FDCWD, path, PROC_MAX, buf, len);
}

int pmn_prim_mems_allowed(struct pmn__bitmap *out)
{
    static const char key[] = "\nMems_allowed_list:";
    char *b, *line, *end;
    size_t len;
    int err = read_proc("/proc/thread-self/status", &b, &len);

    if (err == -ENOENT)
        err = read_proc("/proc/self/status", &b, &len);
    if (err)
        return err;
    line = strstr(b, key);
    if (line == NULL) {
        free(b);
        return -ENOENT;
    }
    line += sizeof(key) - 1;
    while (*line == ' ' || *line == '\t')
        line++;
    end = strchr(line, '\n');
    err = pmn__parse_list(line, end ? (size_t)(end - line) : strlen(line), PMN__MAX_NODE_ID, out);
    free(b);
    return err;
}

/* ---- our own mappings ----
 *
 * PROCMAP_QUERY (Linux 6.11) describes the mapping at one address without
 * generating and parsing the whole of /proc/self/maps, which grows with
 * every mapping a compressed tier splits off (a demotion per cached page
 * made the text scan quadratic).  Older kernels get the text, scanned in
 * one pass.  Both walks run in a signal handler (the compressed tier's
 * SIGSEGV handler asks them about the faulting page): they use only open,
 * read, ioctl and close, a buffer on the stack and their own number
 * parsers, never malloc or stdio. */

/* The kernel's ABI, written out here for older headers. */
struct prim_procmap_query {
    uint64_t size, query_flags, query_addr;
    uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
    uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
    uint64_t vma_name_addr, build_id_addr;
};
#define PRIM_PROCMAP_QUERY _IOWR('f', 17, struct prim_procmap_query)
#define PRIM_PROCMAP_VMA_READABLE 0x01
#define PRIM_PROCMAP_VMA_WRITABLE 0x02
#define PRIM_PROCMAP_VMA_EXECUTABLE 0x04
#define PRIM_PROCMAP_VMA_SHARED 0x08
#define PRIM_PROCMAP_COVERING_OR_NEXT 0x10

static int open_maps(void)
{
    int fd;

    do
        fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

/* The walk by PROCMAP_QUERY: 0, @fn's non-zero value, -errno, or -ENOTTY
 * when the kernel has no PROCMAP_QUERY (nothing was reported then). */
static int vma_walk_query(uintptr_t lo, uintptr_t hi, pmn_prim_vma_fn fn, void *arg)
{
    int fd = open_maps(), rc = 0;

    if (fd < 0)
        return fd;
    while (lo < hi) {
        struct prim_procmap_query q;
        struct pmn_prim_vma v;
        memset(&q, 0, sizeof(q));
        q.size = sizeof(q);
        q.query_flags = PRIM_PROCMAP_COVERING_OR_NEXT;
        q.query_addr = lo;
        if (ioctl(fd, PRIM_PROCMAP_QUERY, &q) != 0) {
            if (errno == EINTR)
                continue;
            rc = errno == ENOENT                      ? 0 /* nothing at or after lo */
                 : errno == EINVAL || errno == ENOTTY ? -ENOTTY
                                                      : -errno;
            break;
        }
        if (q.vma_start >= hi)
            break;
        v.start = (uintptr_t)q.vma_start;
        v.end = (uintptr_t)q.vma_end;
        v.prot = ((q.vma_flags & PRIM_PROCMAP_VMA_READABLE) ? PROT_READ : 0) |
                 ((q.vma_flags & PRIM_PROCMAP_VMA_WRITABLE) ? PROT_WRITE : 0) |
                 ((q.vma_flags & PRIM_PROCMAP_VMA_EXECUTABLE) ? PROT_EXEC : 0);
        v.shared = (q.vma_flags & PRIM_PROCMAP_VMA_SHARED) != 0;
        v.file = q.inode != 0;
        if ((rc = fn(&v, arg)) != 0)
            break;
        lo = v.end;
    }
    close(fd);
    return rc;
}

/* Hexadecimal or decimal digits at *p, advancing it; false on none. */
static bool scan_num(const char **p, const char *end, unsigned base, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;

    for (; s < end; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else
            break;
        v = v * base + d;
    }
    if (s == *p)
        return false;
    *p = s;
    *out = v;
    return true;
}

/* One line of /proc/self/maps: "lo-hi rwxp offset major:minor inode path". */
static bool parse_maps_line(const char *l, size_t n, struct pmn_prim_vma *v)
{
    const char *p = l, *end = l + n, *perms;
    uint64_t lo, hi, skip, inode;

    if (!scan_num(&p, end, 16, &lo) || p == end || *p++ != '-' || !scan_num(&p, end, 16, &hi) ||
        end - p < 6 || *p++ != ' ')
        return false;
    perms = p;
    p += 4;
    if (*p++ != ' ' || !scan_num(&p, end, 16, &skip) || p == end || *p++ != ' ')
        return false;
    if (!scan_num(&p, end, 16, &skip) || p == end || *p++ != ':' ||
        !scan_num(&p, end, 16, &skip) || p == end || *p++ != ' ' || !scan_num(&p, end, 10, &inode))
        return false;
    v->start = (uintptr_t)lo;
    v->end = (uintptr_t)hi;
    v->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
              (perms[2] == 'x' ? PROT_EXEC : 0);
    v->shared = perms[3] == 's';
    v->file = inode != 0;
    return true;
}

/* One whole line of the text walk: @fn's value, or 0 to read on; *past
 * when the line lies beyond the range (lines are in address order, so
 * nothing further can overlap it). */
static int text_line(const char *line, size_t n, uintptr_t lo, uintptr_t hi, pmn_prim_vma_fn fn,
                     void *arg, bool *past)
{
    struct pmn_prim_vma v;

    if (n == 0 || !parse_maps_line(line, n, &v) || v.end <= lo)
        return 0;
    if (v.start >= hi) {
        *past = true;
        return 0;
    }
    return fn(&v, arg);
}

int pmn_prim_vma_walk_text(const void *addr, size_t len, pmn_prim_vma_fn fn, void *arg)
{
    uintptr_t lo = (uintptr_t)addr, hi = lo + len;
    char buf[2048], line[160]; /* the fields before the path fit in 100 bytes */
    size_t n = 0;
    bool past = false;
    int fd = open_maps(), rc = 0;

    if (fd < 0)
        return fd;
    while (rc == 0 && !past) {
        ssize_t got = read(fd, buf, sizeof(buf));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            break;
        }
        if (got == 0) {
            rc = text_line(line, n, lo, hi, fn, arg, &past); /* a last line without '\n' */
            break;
        }
        for (ssize_t i = 0; i < got && rc == 0 && !past; i++) {
            if (buf[i] != '\n') {
                if (n < sizeof(line))
                    line[n++] = buf[i]; /* the rest of a long path is dropped */
                continue;
            }
            rc = text_line(line, n, lo, hi, fn, arg, &past);
            n = 0;
        }
    }
    close(fd);
    return rc;
}

int pmn_prim_vma_walk(const void *addr, size_t len, pmn_prim_vma_fn fn, void *arg)
{
    uintptr_t lo = (uintptr_t)addr;
    int rc = vma_walk_query(lo, lo + len, fn, arg);

    return rc == -ENOTTY ? pmn_prim_vma_walk_text(addr, len, fn, arg) : rc;
}

/* A walk that stops at the first mapping that is not private anonymous
 * memory of protection @prot, or at a hole. */
struct anon_walk {
    uintptr_t want; /* covered up to here */
    int prot;
};

static int anon_step(const struct pmn_prim_vma *v, void *arg)
{
    struct anon_walk *w = arg;

    if (v->start > w->want || v->shared || v->file || (w->prot >= 0 && v->prot != w->prot))
        return 1;
    w->want = v->end;
    return 0;
}

int pmn_prim_private_anon(const void *addr, size_t len, int prot)
{
    struct anon_walk w = {.want = (uintptr_t)addr, .prot = prot};
    int rc = pmn_prim_vma_walk(addr, len, anon_step, &w);

    if (rc < 0)
        return rc;
    return rc == 0 && w.want >= (uintptr_t)addr + len;
}

static int prot_step(const struct pmn_prim_vma *v, void *arg)
{
    *(int *)arg = v->prot;
    return 1;
}

int pmn_prim_vma_prot(const void *addr, int *prot)
{
    int rc = pmn_prim_vma_walk(addr, 1, prot_step, prot);

    return rc == 1 ? 0 : rc < 0 ? rc : -ENOMEM;
}

int pmn_prim_readable(const void *addr)
{
    /* FUTEX_CMP_REQUEUE reads the word at @addr and compares it with the
     * value given: another value is EAGAIN, the same one requeues up to 0
     * waiters to @spare.  Nothing is written, nobody is woken, nothing
     * sleeps (a zero-timeout FUTEX_WAIT would, for a timer's slack, when
     * the word matched). */
    static const uint32_t spare; /* a futex nobody waits on: only its address is used */
    const uint32_t cmp = 0;

    if ((uintptr_t)addr % sizeof(cmp))
        return -EINVAL;
    if (syscall(SYS_futex, addr, FUTEX_CMP_REQUEUE_PRIVATE, 0, 0, &spare, cmp) >= 0)
        return 1;
    switch (errno) {
    case EAGAIN: /* it held another value: it was read */ return 1;
    case EFAULT: return 0;
    default: return -errno;
    }
}

/* ---- the signal frame ---- */

enum pmn_prim_access pmn_prim_fault_access(const void *ucontext)
{
#if defined(__x86_64__) || defined(__i386__)
    /* The page-fault error code: bit 1 a write, bit 4 an instruction fetch. */
    unsigned long err = (unsigned long)((const ucontext_t *)ucontext)->uc_mcontext.gregs[REG_ERR];

    return (err & 0x10)  ? PMN_PRIM_ACCESS_EXEC
           : (err & 0x2) ? PMN_PRIM_ACCESS_WRITE
                         : PMN_PRIM_ACCESS_READ;
#elif defined(__aarch64__)
    /* The exception syndrome, in a record of the frame's __reserved area
     * (struct esr_context, magic "ESR\1"; headers: u32 magic, u32 size). */
    const unsigned char *area = ((const ucontext_t *)ucontext)->uc_mcontext.__reserved;
    size_t size = sizeof(((const ucontext_t *)ucontext)->uc_mcontext.__reserved), off = 0;

    while (off + 16 <= size) {
        uint32_t magic, rsize;
        uint64_t esr;
        memcpy(&magic, area + off, 4);
        memcpy(&rsize, area + off + 4, 4);
        if (magic == 0 || rsize < 8 || rsize > size - off)
            break;
        if (magic == 0x45535201u) {
            unsigned ec;
            memcpy(&esr, area + off + 8, 8);
            ec = (unsigned)(esr >> 26) & 0x3f;
            if (ec == 0x20 || ec == 0x21)
                return PMN_PRIM_ACCESS_EXEC; /* instruction abort */
            if (ec == 0x24 || ec == 0x25)
                return (esr & (1u << 6)) ? PMN_PRIM_ACCESS_WRITE : PMN_PRIM_ACCESS_READ;
            break;
        }
        off += rsize;
    }
    return PMN_PRIM_ACCESS_UNKNOWN;
#else
    (void)ucontext;
    return PMN_PRIM_ACCESS_UNKNOWN;
#endif
}

int pmn_prim_numa_maps(const void *addr, uint64_t *counts, size_t max_nodes)
{
    char *b, *line, want[32];
    size_t len, wl;
    int err = read_proc("/proc/self/numa_maps", &b, &len);

    if (err)
        return err;
    wl = (size_t)snprintf(want, sizeof(want), "%lx ", (unsigned long)(uintptr_t)addr);
    err = -ENOENT;
    for (line = b; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        char *eol, *tok;
        if (strncmp(line, want, wl) != 0)
            continue;
        eol = strchr(line, '\n');
        if (eol)
            *eol = '\0';
        memset(counts, 0, max_nodes * sizeof(*counts));
        for (tok = strstr(line, " N"); tok; tok = strstr(tok + 1, " N")) {
            char *eq = strchr(tok, '='), *sp;
            uint64_t node, pages;
            if (eq == NULL)
                break;
            sp = strchr(eq, ' ');
            if (pmn__parse_u64(tok + 2, (size_t)(eq - tok - 2), 10, &node) != 0 ||
                pmn__parse_u64(eq + 1, sp ? (size_t)(sp - eq - 1) : strlen(eq + 1), 10, &pages) !=
                    0)
                continue;
            if (node < max_nodes)
                counts[node] += pages;
        }
        err = 0;
        break;
    }
    free(b);
    return err;
}

uint64_t pmn_prim_now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void pmn_prim_signals_block(sigset_t *old)
{
    sigset_t all;

    sigfillset(&all);
    /* Cannot fail with a valid how and set; SIGKILL, SIGSTOP and glibc's
     * own (cancellation, setxid) stay deliverable, as the kernel and
     * glibc decide. */
    (void)pthread_sigmask(SIG_BLOCK, &all, old);
}

void pmn_prim_signals_restore(const sigset_t *old)
{
    (void)pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* ---- shared files and IPC ---- */

int pmn_prim_memfd_huge(const char *name, size_t huge_size, int *fd)
{
    unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
    int f;

    if (huge_size) {
        int shift = log2_exact(huge_size);
        if (shift < 0)
            return -EINVAL;
        flags |= MFD_HUGETLB | ((unsigned)shift << 26); /* MFD_HUGE_SHIFT */
    }
    f = (int)syscall(SYS_memfd_create, name, flags);
    if (f < 0)
        return -errno;
    *fd = f;
    return 0;
}

int pmn_prim_seal_shrink(int fd)
{
    return fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0 ? 0 : -errno;
}

int pmn_prim_file_memory(int fd, bool *in_memory, size_t *page)
{
    struct statfs sf;

    if (fstatfs(fd, &sf) != 0)
        return -errno;
    *in_memory = sf.f_type == TMPFS_MAGIC || sf.f_type == HUGETLBFS_MAGIC;
    *page = sf.f_type == HUGETLBFS_MAGIC ? (size_t)sf.f_bsize : pmn_prim_page_size();
    return 0;
}

int pmn_prim_shrink_sealed(int fd, bool *sealed)
{
    int seals = fcntl(fd, F_GET_SEALS);

    if (seals < 0 && errno != EINVAL)
        return -errno;
    *sealed = seals >= 0 && (seals & F_SEAL_SHRINK);
    return 0;
}

int pmn_prim_truncate(int fd, uint64_t len)
{
    return ftruncate(fd, (off_t)len) == 0 ? 0 : -errno;
}

int pmn_prim_punch_hole(int fd, uint64_t off, uint64_t len)
{
    for (;;) {
        if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int pmn_prim_file_id(int fd, uint64_t *dev, uint64_t *ino, uint64_t *size)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return -errno;
    if (dev)
        *dev = (uint64_t)st.st_dev;
    if (ino)
        *ino = (uint64_t)st.st_ino;
    if (size)
        *size = (uint64_t)st.st_size;
    return 0;
}

int pmn_prim_map_fd_at(int fd, size_t len, uint64_t off, size_t align, size_t skew, bool readonly,
                       void **out)
{
    int prot = readonly ? PROT_READ : PROT_READ | PROT_WRITE;
    void *p;

    if (align <= pmn_prim_page_size()) {
        p = mmap(NULL, len, prot, MAP_SHARED, fd, (off_t)off);
        if (p == MAP_FAILED)
            return -errno;
        *out = p;
        return 0;
    }
    return map_aligned(len, align, skew, prot, MAP_SHARED, fd, off, out);
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

int pmn_prim_populate_read(void *addr, size_t len)
{
    for (;;) {
        if (madvise(addr, len, MADV_POPULATE_READ) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int pmn_prim_touch_read_checked(const void *addr, size_t len, size_t page)
{
    char byte;
    int err = pmn_prim_populate_read((void *)(uintptr_t)addr, len);

    if (err != -EINVAL)
        return err;
    /* A kernel before 5.14 (or a range madvise refuses outright): one byte a
     * page through process_vm_readv(2) of this process, which takes the same
     * fault path and returns an error, not a signal. */
    for (size_t off = 0; off < len; off += page) {
        struct iovec local = {.iov_base = &byte, .iov_len = 1};
        struct iovec remote = {.iov_base = (char *)(uintptr_t)addr + off, .iov_len = 1};
        if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != 1)
            return errno == EFAULT || errno == ENOMEM ? -EFAULT : -errno;
    }
    return 0;
}

int pmn_prim_read_checked(const void *src, void *dst, size_t len)
{
    struct iovec local = {.iov_base = dst, .iov_len = len};
    struct iovec remote = {.iov_base = (void *)(uintptr_t)src, .iov_len = len};
    ssize_t n;

    do
        n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EFAULT || errno == ENOMEM ? -EFAULT : -errno;
    return (size_t)n == len ? 0 : -EFAULT;
}

int pmn_prim_random64(uint64_t *out)
{
    ssize_t n;

    do
        n = getrandom(out, sizeof(*out), 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return n == (ssize_t)sizeof(*out) ? 0 : -EIO;
}

int pmn_prim_getpid(void)
{
    return (int)getpid();
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

int pmn_prim_pidfd_getfd(int pid, int fd, int *out)
{
    int pfd, f, err;

    pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0u);
    if (pfd < 0)
        return -errno;
    f = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0u);
    err = f < 0 ? -errno : 0;
    close(pfd);
    if (err)
        return err;
    *out = f; /* pidfd_getfd sets close-on-exec itself */
    return 0;
}

int pmn_prim_send_fd(int sock, const void *buf, size_t len, int fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;

    memset(&ctl, 0, sizeof(ctl));
    if (fd >= 0) {
        struct cmsghdr *c;
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EMSGSIZE;
}

/* Close every fd an SCM_RIGHTS message of @msg carried. */
static void close_received(struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int f;
            memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            close(f);
        }
    }
}

int pmn_prim_recv_fd(int sock, void *buf, size_t len, size_t *got, int *fd)
{
    /* Room for more fds than we accept, so a sender's extra fds arrive
     * (and are closed) instead of being dropped by the kernel silently. */
    union {
        char buf[CMSG_SPACE(16 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *c;
    size_t nfds = 0;
    ssize_t n;

    *fd = -1;
    *got = 0;
    memset(&ctl, 0, sizeof(ctl));
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof(ctl.buf);
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        close_received(&msg);
        return -EBADMSG;
    }
    for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            close_received(&msg);
            return -EBADMSG;
        }
        nfds += (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    }
    if (nfds > 1) {
        close_received(&msg);
        return -EBADMSG;
    }
    if (nfds == 1)
        memcpy(fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
    if (n == 0 && nfds == 0)
        return -ECONNRESET;
    *got = (size_t)n;
    return 0;
}

void pmn_prim_close(int fd)
{
    int saved = errno;

    if (fd >= 0)
        close(fd);
    errno = saved;
}

int pmn_prim_dup(int fd, int *out)
{
    int f = fcntl(fd, F_DUPFD_CLOEXEC, 0);

    if (f < 0)
        return -errno;
    *out = f;
    return 0;
}

int pmn_prim_reopen_readonly(int fd, int *out)
{
    char path[32];
    struct stat a, b;
    int f;

    if (fstat(fd, &a) != 0)
        return -errno;
    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0)
        return -errno;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    do
        f = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    while (f < 0 && errno == EINTR);
    if (f < 0)
        return -errno;
    if (fstat(f, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
        close(f);
        return -EBADF;
    }
    *out = f;
    return 0;
}

int pmn_prim_fd_readonly(int fd, bool *ro)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -errno;
    *ro = (fl & O_ACCMODE) == O_RDONLY;
    return 0;
}

/* ---- published stats files ---- */

int pmn_prim_private_dir(const char *path, unsigned uid, bool create, int *fd)
{
    struct stat st;
    int f, err;

    if (create && mkdir(path, 0700) != 0 && errno != EEXIST)
        return -errno;
    f = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (f < 0) {
        err = -errno;
        /* O_NOFOLLOW | O_DIRECTORY on a symbolic link: ELOOP or ENOTDIR */
        if ((err == -ENOTDIR || err == -ELOOP) && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
            return -ELOOP;
        return err;
    }
    if (fstat(f, &st) != 0) {
        err = -errno;
        close(f);
        return err;
    }
    err = !S_ISDIR(st.st_mode)      ? -ENOTDIR
          : st.st_uid != (uid_t)uid ? -EPERM
          : (st.st_mode & 077) != 0 ? -EACCES
                                    : 0;
    if (err != 0) {
        close(f);
        return err;
    }
    *fd = f;
    return 0;
}

int pmn_prim_create_mapped(int dirfd, const char *name, size_t len, bool replace, void **map,
                           uint64_t *dev, uint64_t *ino)
{
    int flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, f, err;
    struct stat st;
    void *m;

    f = openat(dirfd, name, flags, 0600);
    if (f < 0 && errno == EEXIST && replace) {
        if (unlinkat(dirfd, name, 0) != 0)
            return -errno;
        f = openat(dirfd, name, flags, 0600);
    }
    if (f < 0)
        return -errno;
    if (ftruncate(f, (off_t)len) != 0 || fstat(f, &st) != 0) {
        err = -errno;
        goto fail;
    }
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    if (m == MAP_FAILED) {
        err = -errno;
        goto fail;
    }
    close(f);
    *map = m;
    return 0;
fail:
    (void)unlinkat(dirfd, name, 0);
    close(f);
    return err;
}

int pmn_prim_unlink_same_at(int dirfd, const char *name, uint64_t dev, uint64_t ino)
{
    struct stat st;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return -errno;
    if ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)
        return -ESTALE;
    return unlinkat(dirfd, name, 0) == 0 ? 0 : -errno;
}

/* pmn_prim_read_owned_at() and its head-only form: @whole refuses a file
 * larger than @max, else its first @max bytes are read. */
static int read_owned(int dirfd, const char *name, unsigned uid, void *buf, size_t max, bool whole,
                      size_t *got, uint64_t *dev, uint64_t *ino)
{
    struct stat st;
    size_t n = 0;
    int f, err = 0;

    f = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (f < 0)
        return -errno;
    if (fstat(f, &st) != 0)
        err = -errno;
    else if (!S_ISREG(st.st_mode))
        err = -ESPIPE;
    else if (st.st_uid != (uid_t)uid)
        err = -EPERM;
    else if (whole && (uint64_t)st.st_size > max)
        err = -EFBIG;
    if (err == 0)
        err = pread_full(f, 0, buf, max, &n);
    close(f);
    if (err == 0) {
        *got = n;
        if (dev != NULL)
            *dev = (uint64_t)st.st_dev;
        if (ino != NULL)
            *ino = (uint64_t)st.st_ino;
    }
    return err;
}

int pmn_prim_read_owned_at(int dirfd, const char *name, unsigned uid, void *buf, size_t max,
                           size_t *got)
{
    return read_owned(dirfd, name, uid, buf, max, true, got, NULL, NULL);
}

int pmn_prim_read_owned_head_at(int dirfd, const char *name, unsigned uid, void *buf, size_t len,
                                size_t *got, uint64_t *dev, uint64_t *ino)
{
    return read_owned(dirfd, name, uid, buf, len, false, got, dev, ino);
}

int pmn_prim_proc_uid(int pid, unsigned *uid)
{
    char path[32];
    struct stat st;

    snprintf(path, sizeof(path), "/proc/%d", pid);
    if (stat(path, &st) != 0)
        return -errno;
    *uid = (unsigned)st.st_uid;
    return 0;
}

int pmn_prim_proc_start_time(int pid, uint64_t *ticks)
{
    char path[32], text[1024], *p;
    ssize_t n;
    uint64_t v = 0;
    int f, field;

    if (pid == 0)
        snprintf(path, sizeof(path), "/proc/self/stat");
    else
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -errno;
    do
        n = read(f, text, sizeof(text) - 1);
    while (n < 0 && errno == EINTR);
    close(f);
    if (n <= 0)
        return n == 0 ? -ESRCH : -errno;
    text[n] = '\0';
    /* "pid (comm) S ppid ...": comm may hold anything, so the fields count
     * from its last ')'; the state is field 3, the start time field 22. */
    p = strrchr(text, ')');
    if (p == NULL)
        return -EINVAL;
    for (field = 2; field < 22 && *p != '\0'; p++)
        if (*p == ' ')
            field++;
    if (field != 22 || *p < '0' || *p > '9')
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -EINVAL;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *ticks = v;
    return 0;
}

unsigned pmn_prim_geteuid(void)
{
    return (unsigned)geteuid();
}

uint64_t pmn_prim_wall_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}
