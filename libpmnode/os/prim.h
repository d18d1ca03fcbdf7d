/*
 * prim.h - the one contract with the operating system (pmn_prim_ prefix).
 *
 * prim-linux.c is the only file that calls mmap, mbind, madvise,
 * move_pages or memfd_create.  Every primitive returns 0 or a negative
 * errno, keeps errno from the failing call, and never prints.  Callers
 * (place/, alloc/, ctier/) own the policy; primitives own nothing.
 */
#ifndef PMN_PRIM_H
#define PMN_PRIM_H

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
/* As pmn_prim_map_anon, at an address that is a multiple of @align (a
 * power of two): reserves len + align of address space, maps over the
 * aligned part with MAP_FIXED, and trims the rest. */
int pmn_prim_map_anon_aligned(size_t len, size_t huge_size, size_t align, void **out);
/* Shared mapping of @fd at @off (len and off already aligned). */
int pmn_prim_map_fd(int fd, size_t len, off_t off, void **out);
/* Shared mapping of @fd placed at an address aligned to @align (a power of
 * two): reserves len + align of address space, maps the fd over the
 * aligned part, and trims the rest. */
int pmn_prim_map_fd_aligned(int fd, size_t len, size_t align, void **out);
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

/* move_pages(0, n, pages, NULL, status, 0): status[i] is the node of page
 * i, or a negative errno (-ENOENT: not present, -EFAULT: no such page). */
int pmn_prim_query_nodes(void **pages, size_t n, int *status);

/* Whether the page at @addr is mapped in memory now (mincore): 1 yes, 0 no
 * (including no mapping there at all). */
int pmn_prim_resident(const void *addr, size_t page);

/* memfd_create(@name, MFD_CLOEXEC) sized to @len. */
int pmn_prim_memfd(const char *name, size_t len, int *fd);

/* Mems_allowed of the calling thread (/proc/thread-self/status). */
int pmn_prim_mems_allowed(struct pmn__bitmap *out);

/* Whether [addr, addr+len) is wholly private anonymous memory (one or
 * more adjacent mappings with 'p' permission and no file behind them),
 * from PROCMAP_QUERY on /proc/self/maps (Linux 6.11), else its text:
 * 1 yes, 0 no, or -errno. */
int pmn_prim_private_anon(const void *addr, size_t len);

/* Per-node page counts of the VMA that starts at @addr, from
 * /proc/self/numa_maps ("N0=12 N1=3"); counts[node] is filled for nodes
 * below @max_nodes.  -ENOENT when no VMA starts there. */
int pmn_prim_numa_maps(const void *addr, uint64_t *counts, size_t max_nodes);

/* Monotonic clock in nanoseconds. */
uint64_t pmn_prim_now_ns(void);

#endif /* PMN_PRIM_H */
