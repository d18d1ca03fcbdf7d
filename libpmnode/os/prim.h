/*
 * prim.h - the one contract with the operating system (pmn_prim_ prefix).
 *
 * prim-linux.c is the only code in libpmnode that calls the kernel: mmap,
 * mbind, madvise, move_pages, memfd_create, mprotect, userfaultfd and its
 * ioctls, device and file opens, and the /proc readers
 * (tests/abi/check-layers.sh fails the build's unit suite when code
 * elsewhere does).  Every primitive returns 0 or a negative errno unless
 * said otherwise, and never prints.  Callers (discover/, place/, alloc/,
 * ctier/) own the policy; primitives own nothing.
 *
 * Async-signal-safety: the primitives marked "signal-safe" are plain
 * system calls (no allocation, no lock, no stdio) and may be called from a
 * signal handler; like any system call they change errno, so a handler
 * that calls them saves and restores errno around its work.  The others
 * may allocate.
 */
#ifndef PMN_PRIM_H
#define PMN_PRIM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/core.h"

/* Base page size of this machine (sysconf), never assumed. */
size_t pmn_prim_page_size(void);

/* Private anonymous mapping, PROT_READ|PROT_WRITE, not populated.  With
 * @huge_size non-zero, a MAP_HUGETLB mapping of that page size. */
int pmn_prim_map_anon(size_t len, size_t huge_size, void **out);
/* As pmn_prim_map_anon, at an address A such that A + @skew is a multiple
 * of @align (a power of two; @skew below it, 0 for A itself aligned, and a
 * multiple of @huge_size for hugetlb): reserves len + align of address
 * space, maps over the chosen part with MAP_FIXED, and trims the rest.
 * The skew lets a caller align a point inside the mapping (a large
 * object after its segment's header) without reserving the alignment
 * itself.  -EINVAL for a bad @align or @skew. */
int pmn_prim_map_anon_aligned(size_t len, size_t huge_size, size_t align, size_t skew, void **out);
/* Shared mapping of @fd at @off (len and off already aligned). */
int pmn_prim_map_fd(int fd, size_t len, off_t off, void **out);
/* Shared mapping of @fd (from offset 0) placed at an address A such that
 * A + @skew is a multiple of @align, as pmn_prim_map_anon_aligned. */
int pmn_prim_map_fd_aligned(int fd, size_t len, size_t align, size_t skew, void **out);
int pmn_prim_unmap(void *addr, size_t len);

/* mbind(MPOL_BIND | MPOL_F_STATIC_NODES) of [addr, addr+len) to @node,
 * with MPOL_MF_STRICT: later faults stay on @node, and pages already
 * present must be on @node or the call fails with -EIO (nothing moves). */
int pmn_prim_bind(void *addr, size_t len, int node);
/* mbind(MPOL_PREFERRED) of [addr, addr+len) to @node: faults take pages
 * from @node while it has them and from other nodes after that, so a
 * fault never invokes the OOM killer because @node alone ran out.  The
 * transient policy of a populate that verifies every page afterwards and
 * then calls pmn_prim_bind (place/backing-node.c). */
int pmn_prim_prefer(void *addr, size_t len, int node);
/* mbind(MPOL_DEFAULT) of [addr, addr+len): the range follows the thread's
 * policy again (a refused user range is left as it was found, as far as
 * the policy goes; pages populated stay). */
int pmn_prim_policy_default(void *addr, size_t len);
/* mbind(MPOL_BIND | MPOL_F_STATIC_NODES) of [addr, addr+len) to @node
 * with MPOL_MF_MOVE | MPOL_MF_STRICT (os/prim-move.c): binds the range
 * and moves its pages that are on other nodes there, in one call.  The
 * kernel skips pages another process maps too (no MPOL_MF_MOVE_ALL) and
 * still answers 0; -EIO when a page could not be isolated or migrated
 * (pinned, the target full), the other pages moved and the new policy
 * kept: the caller restores the old one (pmn_prim_policy_restore). */
int pmn_prim_bind_move(void *addr, size_t len, int node);

/* The memory policies of a range, one per mapping (os/prim-move.c). */
struct pmn_prim_policy {
    uintptr_t start, end;
    int mode; /* as get_mempolicy(2) answers it, mode flags included */
};
struct pmn_prim_policies {
    struct pmn_prim_policy *v;
    unsigned long *masks; /* n masks of @bits bits each */
    size_t n, cap;
    unsigned bits;
};
/* Save the policy of every mapping of [addr, addr+len) (get_mempolicy
 * with MPOL_F_ADDR, clipped to the range): 1 saved, when the range is
 * wholly private anonymous memory without holes; 0 when it is not
 * (nothing saved); -errno.  Not signal-safe (allocates).  Thread-safe; a
 * mapping changed meanwhile by another thread is seen before or after. */
int pmn_prim_policy_save(void *addr, size_t len, struct pmn_prim_policies *out);
/* mbind(2) each saved range back to its saved policy (no move flags):
 * 0, or the first -errno (the others are still restored). */
int pmn_prim_policy_restore(const struct pmn_prim_policies *p);
void pmn_prim_policy_free(struct pmn_prim_policies *p);
/* As pmn_prim_bind, over several nodes, without moving anything. */
int pmn_prim_bind_nodes(void *addr, size_t len, const int *nodes, size_t n);
/* MADV_POPULATE_WRITE; every error is passed through. */
int pmn_prim_populate_write(void *addr, size_t len);
/* Whether the kernel knows MADV_POPULATE_WRITE (Linux >= 5.14): asked with
 * an empty range, which validates the advice and touches nothing. */
bool pmn_prim_populate_supported(void);
/* Write one zero byte per @page bytes: the fallback populate for fresh
 * memory on kernels without MADV_POPULATE_WRITE. */
void pmn_prim_touch_write(void *addr, size_t len, size_t page);
/* Read one byte per @page bytes (resolves NUMA-balancing hinting faults
 * so move_pages can see present pages again). */
void pmn_prim_touch_read(const void *addr, size_t len, size_t page);
int pmn_prim_advise(void *addr, size_t len, int advice);
/* Read-fault [addr, addr+len) in (MADV_POPULATE_READ; before Linux 5.14 one
 * process_vm_readv(2) per @page), as
 * pmn_prim_touch_read, but where a load would raise a signal (no mapping,
 * no read permission) return -EFAULT (or -ENOMEM) instead: for ranges a
 * caller named, which the library does not own.  0 or -errno. */
int pmn_prim_touch_read_checked(const void *addr, size_t len, size_t page);
/* Copy @len bytes of this process's memory at @src to @dst as loads would,
 * but where a load would raise a signal (no mapping; a hugetlbfs page its
 * file's owner punched out, with no huge page free to fault in: SIGBUS)
 * return -EFAULT instead (@dst then holds nothing to use).  One
 * process_vm_readv(2) of this process: a read that is its own check, so
 * no one can punch the page between a check and the load.  0 or -errno. */
int pmn_prim_read_checked(const void *src, void *dst, size_t len);

/* move_pages(0, n, pages, NULL, status, 0): status[i] is the node of page
 * i, or a negative errno (-ENOENT: not present, -EFAULT: no such page).
 * Signal-safe. */
int pmn_prim_query_nodes(void **pages, size_t n, int *status);

/* move_pages(0, n, pages, nodes, status, 0): move page i of this process
 * to node nodes[i] (@pages page-aligned, @nodes and @status n entries).
 * On 0, status[i] is the node page i is on now or a negative errno for it
 * (-ENOENT not present, -EBUSY/-EAGAIN busy, -ENOMEM node full, ...).
 * When a migration fails for a transient reason the kernel stops there and
 * leaves the status of the pages it did not reach untouched (the call
 * itself still returns 0 here): callers preset @status with the errno
 * they want to read for "not moved".  The call's own ENOENT (kernels
 * before 4.17: no page needed moving) is 0, with @status filled.  Other
 * errors of the call are -errno (-EPERM, -EINVAL, -ENODEV for a node
 * that is not online, ...).  With @nodes NULL this is
 * pmn_prim_query_nodes.  Signal-safe. */
int pmn_prim_move_pages(void **pages, size_t n, const int *nodes, int *status);

/* mprotect [addr, addr+len) (page-aligned) read-only (@on) or read-write
 * (!@on).  Signal-safe. */
int pmn_prim_write_protect(void *addr, size_t len, bool on);

/* Whether the page at @addr is mapped in memory now (mincore): 1 yes, 0 no
 * (including no mapping there at all). */
int pmn_prim_resident(const void *addr, size_t page);
/* Whether any mapping covers the page at @addr (mincore does not answer
 * ENOMEM): 1 yes, 0 no. */
int pmn_prim_mapped(const void *addr, size_t page);
/* Whether mappings cover all of [@addr, @addr + @len) (@addr page-aligned):
 * 1 yes, 0 no (a hole), or -errno.  One msync(MS_ASYNC), which writes
 * nothing back (a no-op since Linux 2.6.19) but answers ENOMEM for a
 * hole: the kernel walks the range's mappings, not its pages. */
int pmn_prim_range_mapped(const void *addr, size_t len);

/* memfd_create(@name, MFD_CLOEXEC) sized to @len. */
int pmn_prim_memfd(const char *name, size_t len, int *fd);

/* ---- userfaultfd (Linux >= 5.7 for write-protect faults) ----
 * One descriptor tracks the ranges registered on it; it is non-blocking
 * and close-on-exec, and closed with close(). */

/* Features a caller may ask of pmn_prim_uffd_open. */
#define PMN_PRIM_UFFD_WP 0x1u     /* write-protect faults */
#define PMN_PRIM_UFFD_UNMAP 0x2u  /* an event when registered memory is unmapped */
#define PMN_PRIM_UFFD_REMOVE 0x4u /* ... or discarded (MADV_DONTNEED, MADV_REMOVE) */
#define PMN_PRIM_UFFD_REMAP \
    0x8u /* ... or moved (mremap): the move keeps the
                                   * registration and the pages' protection */

/* Open a userfaultfd and negotiate @want (PMN_PRIM_UFFD_*, all required).
 * Faults in kernel mode too (a system call writing into protected memory
 * waits for the handler) when the process may ask for that (privileged,
 * or vm.unprivileged_userfaultfd = 1); otherwise user-mode faults only
 * (Linux >= 5.11), and *user_only says so.  -errno of the first attempt
 * when neither can open (-EPERM, -ENOSYS), -EOPNOTSUPP when the kernel
 * lacks a feature in @want, or the handshake's -errno. */
int pmn_prim_uffd_open(unsigned want, int *fd, bool *user_only);
/* Register [start, start+len) (page-aligned, private anonymous memory) on
 * @fd for write-protect faults.  -EINVAL when the range is not memory
 * userfaultfd can track, -ENOMEM when the kernel cannot split a mapping
 * (vm.max_map_count). */
int pmn_prim_uffd_register_wp(int fd, uintptr_t start, size_t len);
/* Forget a range registered on @fd (pages in it lose their protection). */
int pmn_prim_uffd_unregister(int fd, uintptr_t start, size_t len);
/* Set (@on) or lift the write protection of registered pages; lifting it
 * wakes threads waiting on a write fault there.  Retried on EINTR.
 * -EAGAIN while the address space is changing under an event of @fd not
 * read yet (munmap, madvise, mremap of registered memory: the kernel holds
 * the changing thread until the event is read): the caller retries, and
 * the thread reading @fd must read the event first, or both wait for ever.
 * Signal-safe. */
int pmn_prim_uffd_writeprotect(int fd, uintptr_t start, size_t len, bool on);
/* Wake the threads waiting on a fault of @fd in [start, start+len), with
 * nothing else done: a lift that fails wakes nobody, and unregistering
 * write-protect-only memory wakes nobody either (the kernel wakes only
 * missing-mode waiters there), so a writer whose range lost its
 * registration would wait for ever.  The range need not be registered
 * any more.  Signal-safe. */
int pmn_prim_uffd_wake(int fd, uintptr_t start, size_t len);

/* One event read from a userfaultfd, in our terms. */
enum pmn_prim_uffd_kind {
    PMN_PRIM_UFFD_EV_OTHER, /* something this contract does not describe: ignore it */
    PMN_PRIM_UFFD_EV_WRITE, /* a write hit a protected page at @addr; the writer waits */
    PMN_PRIM_UFFD_EV_GONE,  /* [addr, end) was unmapped or discarded */
    PMN_PRIM_UFFD_EV_MOVED, /* [addr, end) moved to @to (mremap) */
};
struct pmn_prim_uffd_event {
    enum pmn_prim_uffd_kind kind;
    uintptr_t addr, end, to;
};
/* Read the pending events of @fd, at most @max (and at most 16 per call),
 * into @ev; *n says how many.  -EAGAIN when none is pending, -EINTR, or
 * another -errno when the descriptor is unusable. */
int pmn_prim_uffd_read(int fd, struct pmn_prim_uffd_event *ev, size_t max, size_t *n);

/* ---- files and devices ----
 * @dirfd is a directory from pmn_prim_open_dir (or AT_FDCWD); @path is
 * relative to it (an absolute path ignores it, as openat does).  Symlinks
 * are followed. */

/* A directory's O_PATH descriptor (close-on-exec), for the *_at calls. */
int pmn_prim_open_dir(const char *path, int *fd);

/* The directory @path names under @dirfd as an O_PATH descriptor
 * (close-on-exec) in *@fd.  With @in_root, @dirfd is taken as the root
 * for the lookup (openat2's RESOLVE_IN_ROOT, as in a chroot): an absolute
 * symlink restarts at @dirfd and ".." never climbs above it, so the
 * result is always inside the tree; magic links (/proc/PID/fd) are
 * refused.  -ENOSYS when the kernel has no openat2 (before 5.6, or a
 * seccomp filter that hides it, answering ENOSYS or EPERM) or cannot take
 * these flags (E2BIG, EINVAL): the caller then resolves the path
 * itself, component by component, and asks again without @in_root for
 * a path with no symlink left in it (its last component is still not
 * followed if it became one).  Else 0, -ENOTDIR, or the open -errno. */
int pmn_prim_open_dir_at(int dirfd, const char *path, bool in_root, int *fd);

/* Read a whole text file (sysfs attribute, /proc file, configuration)
 * into a malloc'd, NUL-terminated *buf of *len bytes (@len may be NULL).
 * Files are read to their end in a loop (sysfs and /proc are not sized
 * in advance), opened non-blocking, so a FIFO planted in a tree reads as
 * empty instead of hanging.  -EFBIG when the file holds more than @max
 * bytes.  A NUL inside is malformed text: -EINVAL, since every caller
 * parses the buffer as a C string and would silently stop at the NUL.
 * -ENOENT when absent, else the open or read -errno.  *buf is NULL on
 * error. */
int pmn_prim_read_file_at(int dirfd, const char *path, size_t max, char **buf, size_t *len);
/* As pmn_prim_read_file_at, for a file that must be a regular file (a
 * configuration file, where a FIFO or a device read as empty text would
 * silently mean "nothing configured"): -EISDIR for a directory, -ESPIPE
 * for any other file that is not a regular file (FIFO, socket, device),
 * checked before opening (so no device is opened) and again on the open
 * descriptor (so the name cannot be swapped in between). */
int pmn_prim_read_regular_at(int dirfd, const char *path, size_t max, char **buf, size_t *len);

/* Target of the symlink @path (malloc'd, as stored), at most PATH_MAX - 1
 * bytes. */
int pmn_prim_readlink_at(int dirfd, const char *path, char **out);

/* Whether @path exists (following symlinks). */
bool pmn_prim_exists_at(int dirfd, const char *path);

/* Call @fn(name, @arg) for every entry of the directory @path except "."
 * and ".." (in directory order).  Stops at the first non-zero return of
 * @fn and returns it; else 0, or the open/read -errno. */
int pmn_prim_list_dir_at(int dirfd, const char *path, int (*fn)(const char *name, void *arg),
                         void *arg);

/* All of @buf written to @fd, through short writes and EINTR; -EIO when
 * write() makes no progress.  Signal-safe. */
int pmn_prim_write_all(int fd, const void *buf, size_t len);
/* Open the character device @path read-write, close-on-exec, O_NOCTTY
 * and O_NONBLOCK (device-dax, which ignores both; any other device the
 * open reaches never becomes a controlling terminal nor blocks the open).
 * -ENODEV when @path is not a character device: a regular file mapped
 * MAP_SHARED would be page-cache memory, which bound memory never is. */
int pmn_prim_open_device(const char *path, int *fd);
/* st_rdev of @fd in *@rdev when it is a character device; -ENODEV when it
 * is anything else, or the fstat -errno (IPC: a dax handle's device). */
int pmn_prim_char_dev(int fd, uint64_t *rdev);

/* Up to @len bytes of the regular file @path from offset @off into @buf;
 * *got says how many (fewer at the end of the file).  -EINVAL when @path
 * is not a regular file (a FIFO or a device is never read), else the
 * open or read -errno.  For the pmnode CLI's look at a program's ELF
 * header before it runs it.  No allocation. */
int pmn_prim_read_at(const char *path, uint64_t off, void *buf, size_t len, size_t *got);

/* Write @len bytes of @buf as the whole new content of the report file
 * @path (the shim's stats), never through a symbolic link and never into
 * another name's inode:
 *  - @path absent or a regular file: the bytes go to a new file in the same
 *    directory (".pmnode-" and a random suffix; O_CREAT | O_EXCL |
 *    O_NOFOLLOW, mode 0644 less the umask), which is then renamed over
 *    @path: a reader sees the old content or the new, whole, and a hard
 *    link or a symbolic link put there meanwhile is replaced, not written
 *    through;
 *  - @path a character device or a FIFO (not reached through a symbolic
 *    link): appended to, opened without O_CREAT, with O_NOFOLLOW and
 *    O_NONBLOCK (a FIFO nobody reads: -ENXIO), and refused with -EINVAL if
 *    what was opened is something else by then;
 *  - @path a symbolic link: -ELOOP, whatever it points to; a directory:
 *    -EISDIR; anything else (a block device, a socket): -EINVAL.
 * Directories on the way to @path are resolved as the kernel does (its
 * fs.protected_symlinks setting guards sticky world-writable ones).
 * Otherwise the -errno of the step that failed; the temporary file is
 * removed then.  No allocation. */
int pmn_prim_write_report(const char *path, const void *buf, size_t len);

/* Mems_allowed of the calling thread (/proc/thread-self/status). */
int pmn_prim_mems_allowed(struct pmn__bitmap *out);

/* ---- our own mappings ----
 * The walks ask PROCMAP_QUERY on /proc/self/maps (Linux 6.11) or else scan
 * its text in one pass.  They open and read /proc themselves and keep
 * their buffer on the stack, so they are signal-safe; a mapping that
 * changes during a walk may be seen before or after the change. */

/* One mapping: [start, end), its PROT_* bits (PROT_NONE is 0), shared
 * (MAP_SHARED, including shared anonymous memory) and file (an inode
 * behind it). */
struct pmn_prim_vma {
    uintptr_t start, end;
    int prot;
    bool shared, file;
};
typedef int (*pmn_prim_vma_fn)(const struct pmn_prim_vma *vma, void *arg);

/* Call @fn for every mapping overlapping [addr, addr+len), in address
 * order (whole mappings, not clipped; holes are simply absent), until it
 * returns non-zero: that value, 0 at the end, or -errno.  Signal-safe. */
int pmn_prim_vma_walk(const void *addr, size_t len, pmn_prim_vma_fn fn, void *arg);
/* The same from the text of /proc/self/maps whatever the kernel: the
 * fallback, reachable for tests on kernels with PROCMAP_QUERY. */
int pmn_prim_vma_walk_text(const void *addr, size_t len, pmn_prim_vma_fn fn, void *arg);

/* Whether [addr, addr+len) is wholly private anonymous memory (adjacent
 * private mappings with no file behind them) whose protection is exactly
 * @prot everywhere (PROT_* bits; -1: any protection): 1 yes, 0 no (a hole,
 * shared or file memory, another protection), or -errno.  Signal-safe. */
int pmn_prim_private_anon(const void *addr, size_t len, int prot);

/* The PROT_* bits of the mapping holding @addr; -ENOMEM when none does.
 * Signal-safe. */
int pmn_prim_vma_prot(const void *addr, int *prot);

/* Whether the 4 bytes at @addr (4-byte aligned) can be read now: 1 yes,
 * 0 no (PROT_NONE, or no mapping), -errno when the kernel does not say.
 * Costs one system call whatever the number of mappings: a futex
 * compare-and-requeue of no waiter (FUTEX_CMP_REQUEUE_PRIVATE, 0 woken, 0
 * moved), which reads the word, writes nothing and never sleeps.
 * Signal-safe. */
int pmn_prim_readable(const void *addr);

/* The kind of access that raised a SIGSEGV, read from the ucontext its
 * SA_SIGINFO handler received: the page-fault error code on x86, the
 * exception syndrome on arm64; PMN_PRIM_ACCESS_UNKNOWN elsewhere.
 * Signal-safe. */
enum pmn_prim_access {
    PMN_PRIM_ACCESS_UNKNOWN,
    PMN_PRIM_ACCESS_READ,
    PMN_PRIM_ACCESS_WRITE,
    PMN_PRIM_ACCESS_EXEC,
};
enum pmn_prim_access pmn_prim_fault_access(const void *ucontext);

/* Per-node page counts of the VMA that starts at @addr, from
 * /proc/self/numa_maps ("N0=12 N1=3"); counts[node] is filled for nodes
 * below @max_nodes.  -ENOENT when no VMA starts there. */
int pmn_prim_numa_maps(const void *addr, uint64_t *counts, size_t max_nodes);

/* Monotonic clock in nanoseconds. */
uint64_t pmn_prim_now_ns(void);

/* Block every signal the calling thread can block, its mask before in
 * *@old; pmn_prim_signals_restore(@old) sets it back.  Signal-safe.  For
 * a stretch no handler of this thread may enter (a lock a handler's free
 * would take again): signals sent meanwhile stay pending and run at the
 * restore. */
void pmn_prim_signals_block(sigset_t *old);
void pmn_prim_signals_restore(const sigset_t *old);

/* ---- shared files and IPC (place/shared.c, place/ipc-import.c) ---- */

/* memfd_create(@name, MFD_CLOEXEC | MFD_ALLOW_SEALING), empty; with
 * @huge_size non-zero, a MFD_HUGETLB file of that page size. */
int pmn_prim_memfd_huge(const char *name, size_t huge_size, int *fd);
/* fcntl(F_ADD_SEALS, F_SEAL_SHRINK): from now on @fd's file may grow but
 * never shrink, whoever holds it (a file from pmn_prim_memfd_huge). */
int pmn_prim_seal_shrink(int fd);
/* fstatfs(@fd): *@in_memory tells whether the file lives in memory only
 * (tmpfs or hugetlbfs, where memfds live; not a disk file, whose pages
 * are page cache written back to disk), and *@page is the size of its
 * pages (hugetlbfs: its huge page size; else the base page). */
int pmn_prim_file_memory(int fd, bool *in_memory, size_t *page);
/* fcntl(F_GET_SEALS): *@sealed tells whether @fd's file carries
 * F_SEAL_SHRINK (false for a file that cannot be sealed at all: a regular
 * file, a tmpfs file not made by memfd_create). */
int pmn_prim_shrink_sealed(int fd, bool *sealed);
/* ftruncate(@fd, @len). */
int pmn_prim_truncate(int fd, uint64_t len);
/* fallocate(PUNCH_HOLE | KEEP_SIZE) of [off, off+len): the file's pages
 * there are freed, the size stays. */
int pmn_prim_punch_hole(int fd, uint64_t off, uint64_t len);
/* fstat(@fd): device, inode and size (any out may be NULL). */
int pmn_prim_file_id(int fd, uint64_t *dev, uint64_t *ino, uint64_t *size);
/* Shared mapping of @fd at @off (a multiple of the page size, or of the
 * huge page size for hugetlbfs) placed at an address A such that A + @skew
 * is a multiple of @align (0 or a power of two; 0: anywhere); writable
 * unless @readonly. */
int pmn_prim_map_fd_at(int fd, size_t len, uint64_t off, size_t align, size_t skew, bool readonly,
                       void **out);
/* MADV_POPULATE_READ (Linux >= 5.14): fault [addr, addr+len) in for
 * reading; -EINVAL on older kernels. */
int pmn_prim_populate_read(void *addr, size_t len);
/* 64 random bits from getrandom(). */
int pmn_prim_random64(uint64_t *out);
/* This process's id. */
int pmn_prim_getpid(void);
/* pidfd_open(@pid) + pidfd_getfd(@fd) (Linux >= 5.6): a close-on-exec
 * copy of process @pid's descriptor @fd in *@out.  -ENOSYS, -EPERM (ptrace
 * access refused), -ESRCH, -EBADF... */
int pmn_prim_pidfd_getfd(int pid, int fd, int *out);
/* sendmsg of @len bytes from @buf with @fd (-1: none) as SCM_RIGHTS on
 * socket @sock, MSG_NOSIGNAL, retried on EINTR.  -EMSGSIZE when the
 * kernel took less than @len bytes. */
int pmn_prim_send_fd(int sock, const void *buf, size_t len, int fd);
/* recvmsg of one message of up to @len bytes into @buf (bytes in *@got),
 * with MSG_CMSG_CLOEXEC, retried on EINTR.  *@fd is the one fd received or
 * -1.  -EBADMSG when the message was truncated (data or control) or
 * carried anything but at most one fd (every fd received is closed then);
 * -ECONNRESET for end of stream. */
int pmn_prim_recv_fd(int sock, void *buf, size_t len, size_t *got, int *fd);
/* close(@fd), keeping errno out of it. */
void pmn_prim_close(int fd);
/* dup(@fd) with close-on-exec. */
int pmn_prim_dup(int fd, int *out);
/* A new open file description of @fd's file, read-only and close-on-exec
 * (open of /proc/self/fd/@fd with O_RDONLY), checked to be the same file
 * (st_dev, st_ino); first the file's mode is set to 0600, so that a
 * holder of the new descriptor who is another user cannot open the file
 * again for writing the same way (a memfd is made 0777).  -ENOENT without
 * /proc, -errno of fchmod or open, -EBADF if another file was opened. */
int pmn_prim_reopen_readonly(int fd, int *out);
/* Whether @fd was opened read-only (fcntl F_GETFL): *@ro. */
int pmn_prim_fd_readonly(int fd, bool *ro);

/* ---- published stats files (core/publish.c, pmnode top) ----
 * A process that publishes its stats writes one file in a directory only
 * its user can write; readers run as that user (or root) and trust
 * nothing they find there. */

/* Open the directory @path (O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), first
 * creating it mode 0700 when @create and it is absent, and check it: not
 * a symbolic link (-ELOOP), a directory (-ENOTDIR), owned by @uid
 * (-EPERM), no permission bit for group or others (-EACCES).  The checks
 * run on the open descriptor, so the name cannot be swapped in between.
 * The descriptor in *@fd. */
int pmn_prim_private_dir(const char *path, unsigned uid, bool create, int *fd);
/* Create @name in directory @dirfd with O_CREAT | O_EXCL | O_NOFOLLOW |
 * O_CLOEXEC, mode 0600, of
 * @len bytes (zero-filled), and map it shared, writable, in *@map; its
 * device and inode in *@dev and *@ino (for pmn_prim_unlink_same_at).  An
 * existing @name is unlinked once first when @replace (a stale file of a
 * dead process that had our pid: the directory is ours alone).  The
 * descriptor is closed; the mapping stays.  No allocation. */
int pmn_prim_create_mapped(int dirfd, const char *name, size_t len, bool replace, void **map,
                           uint64_t *dev, uint64_t *ino);
/* unlinkat(@dirfd, @name, 0) when @name is still the file @dev/@ino (not
 * followed if a link); -ESTALE when it is another. */
int pmn_prim_unlink_same_at(int dirfd, const char *name, uint64_t dev, uint64_t ino);
/* Read up to @max bytes of the file @name of directory @dirfd into @buf
 * (bytes in *@got), opened O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC and checked
 * on the descriptor: -ELOOP for a symbolic link, -ESPIPE for anything but
 * a regular file, -EPERM when not owned by @uid, -EFBIG when larger than
 * @max.  No allocation. */
int pmn_prim_read_owned_at(int dirfd, const char *name, unsigned uid, void *buf, size_t max,
                           size_t *got);
/* The same checks, then the first @len bytes of the file whatever its
 * size (fewer when it is shorter: *@got says), with its device and inode
 * in *@dev and *@ino (for pmn_prim_unlink_same_at).  No allocation. */
int pmn_prim_read_owned_head_at(int dirfd, const char *name, unsigned uid, void *buf, size_t len,
                                size_t *got, uint64_t *dev, uint64_t *ino);
/* Owner of /proc/@pid (the process's effective uid; root's for a process
 * that is not dumpable).  -ENOENT or -ESRCH for no such process. */
int pmn_prim_proc_uid(int pid, unsigned *uid);
/* Start time of process @pid (0: this one) in clock ticks after boot,
 * field 22 of /proc/PID/stat: with the pid, it names one process even
 * after the pid is reused. */
int pmn_prim_proc_start_time(int pid, uint64_t *ticks);
/* This process's effective uid. */
unsigned pmn_prim_geteuid(void);
/* Wall clock (CLOCK_REALTIME) in nanoseconds since the epoch. */
uint64_t pmn_prim_wall_ns(void);
/* ---- the pagemap (prim-linux.c; place/where.c, ctier, tier/track.c) ---- */

/* Bits of a /proc/self/pagemap entry. */
#define PMN_PRIM_PM_PRESENT (1ull << 63)
#define PMN_PRIM_PM_SWAP (1ull << 62)
#define PMN_PRIM_PM_UFFD_WP (1ull << 57)
#define PMN_PRIM_PM_EXCLUSIVE (1ull << 56) /* mapped once (4.2): never the zero page */
#define PMN_PRIM_PM_SOFT_DIRTY (1ull << 55)
#define PMN_PRIM_PM_PFN_MASK ((1ull << 55) - 1) /* 0 without CAP_SYS_ADMIN */

/* /proc/self/pagemap, read-only, close-on-exec.  The descriptor keeps
 * describing the process that opened it (a child after fork reads its
 * parent through it). */
int pmn_prim_pagemap_open(int *fd);
/* The pagemap entries of the @n pages from @addr (page-aligned) into @out:
 * unmapped pages read as 0, as does anything past the end of the address
 * space.  No allocation. */
int pmn_prim_pagemap_read(int fd, uintptr_t addr, size_t n, uint64_t *out);
/* The node of page frame @pfn (a pagemap entry's PMN_PRIM_PM_PFN_MASK
 * bits) from the memory block sysfs lists it in
 * (/sys/devices/system/memory/memoryN/nodeM): *node, and in *first and
 * *count the frames of that block, which are all on *node (a caller asking
 * about many frames asks sysfs once per block).  -ENOENT when no block
 * holds the frame or its block names no node, -ERANGE when it names more
 * than one (a block across a node boundary), else the read -errno. */
int pmn_prim_frame_node(uint64_t pfn, int *node, uint64_t *first, uint64_t *count);
/* ---- access tracking (prim-track.c, for tier/track.c) ---- */

/* Write "4" to /proc/self/clear_refs: clears the soft-dirty bit of every
 * page of the process (every thread, every mapping), write-protecting
 * them so the next write sets it again. */
int pmn_prim_clear_soft_dirty(void);
/* Whether the kernel keeps soft-dirty bits (CONFIG_MEM_SOFT_DIRTY): 1 yes,
 * 0 no, or -errno.  Asked on a page of its own; clears nothing. */
int pmn_prim_soft_dirty_supported(void);
/* /sys/kernel/mm/page_idle/bitmap read-write (CONFIG_IDLE_PAGE_TRACKING;
 * root only): -ENOENT when the kernel lacks it, -EACCES without the right. */
int pmn_prim_page_idle_open(int *fd);
/* Word @word of the bitmap (page frames 64 x word ...), bit set = idle
 * (not accessed since it was set).  -ENXIO past the last frame. */
int pmn_prim_page_idle_read(int fd, uint64_t word, uint64_t *bits);
/* Mark the frames whose bits are set in @bits idle (others untouched;
 * frames the kernel does not track are ignored by it). */
int pmn_prim_page_idle_write(int fd, uint64_t word, uint64_t bits);
/* A userfaultfd with asynchronous write-protection (UFFD_FEATURE_WP_ASYNC
 * and WP_UNPOPULATED, Linux 6.7): a write to a protected page lifts the
 * protection in the kernel, with no message and no handler, from user or
 * kernel mode alike.  Register ranges with pmn_prim_uffd_register_wp and
 * protect them with pmn_prim_uffd_writeprotect.  -EOPNOTSUPP when the
 * kernel lacks the features (or userfaultfd), -EPERM when the process may
 * not open one. */
int pmn_prim_uffd_open_async(int *fd);
/* PAGEMAP_SCAN of [start, end) on the pagemap descriptor @pmfd: *written
 * gets the bytes of pages written since they were last protected, and
 * those pages are write-protected again in the same walk (atomically per
 * page table).  Holes are skipped.  -EPERM when the range holds memory not
 * registered for asynchronous protection, -EOPNOTSUPP without the ioctl. */
int pmn_prim_pagemap_scan_written(int pmfd, uintptr_t start, uintptr_t end, uint64_t *written);
/* Add to *gone the number of the @n pages from @start (page-aligned) that
 * no mapping covers: one mincore for the whole run while it is mapped,
 * page by page only when it is not.  No allocation. */
int pmn_prim_count_unmapped(uintptr_t start, size_t n, uint64_t *gone);

#endif /* PMN_PRIM_H */
