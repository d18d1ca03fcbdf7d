/*
 * place/backing.h - the placement layer's internal contract: backings,
 * regions and the verifier.
 *
 * place/ turns "this many bytes on that node" into memory that is there or
 * an error, never a silent fallback (DESIGN.md, the placement contract):
 *
 *   backing.c       the front door: params, backings, regions, the
 *                   cpuset and free-memory checks, spill lists, stats
 *   backing-node.c  node-bound anonymous, memfd and hugetlb memory:
 *                   populate without the OOM killer, verify, bind
 *   backing-dax.c   device-dax: one shared mapping per device, in extents
 *   backing-user.c  providers (the caller's ops table) and user-supplied
 *                   memory (a range the caller owns, carved into extents)
 *   where.c         where pages are (pmn_where) and the verifier
 *
 * Every backing type is a page source behind the public provider table
 * (struct pmn_provider_ops, pmnode.h): the built-ins (anon, memfd or a
 * shareable file, hugetlb, dax, user) are const tables whose state is the
 * backing, a caller's provider is the caller's table, and backing.c maps,
 * populates, verifies and unmaps every region through b->pops.  Every op
 * returns 0 or a negative code, and none of them falls back to another
 * node unless the backing was created with a spill list.
 *
 * The built-in ops are only ever called by backing.c, with the region's
 * own extent (r->pext) as map()'s out and as the extent of the other ops:
 * pmn__ext_region() finds the region from it, and the shape the library
 * asked for (align, skew, lazy, hole) is the region's.  So their bodies
 * work on regions as before, and the request carries nothing they do not
 * already see there.  They are not handed out (a caller's call would have
 * no region behind its extent).
 */
#ifndef PMN_BACKING_H
#define PMN_BACKING_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#include "discover/topology.h"

struct pmn__daxmap;    /* one shared mapping of a device-dax device */
struct pmn__userrange; /* the caller's range of a PMN_BACKING_USER backing */
struct pmn__shfile;    /* a shareable backing's one file (shared.c) */

struct pmn_backing {
    struct pmn_ctx *ctx;
    enum pmn_backing_type type;
    int nodes[PMN_STATS_MAX_NODES];
    size_t nnodes;
    size_t page;      /* base page size */
    size_t granule;   /* region size unit */
    size_t huge_size; /* hugetlb page size, 0 otherwise */
    bool thp, verify;
    bool has_populate; /* kernel knows MADV_POPULATE_WRITE */
    bool headroom_set;
    uint64_t headroom;
    struct pmn__daxmap *dax;
    /* The page source: a built-in table with the backing as state, or a
     * caller's (copied, its name in pname) with the caller's state. */
    struct pmn_provider_ops pops;
    void *pstate;
    char *pname;
    /* PMN_BACKING_USER: the range it carves. */
    struct pmn__userrange *user;
    struct pmn__shfile *sh; /* shareable: the one file of all regions, else NULL */
    atomic_int refs;        /* the backing itself + each live region */
    pthread_mutex_t lock;   /* guards stats, and the registration fields below */
    /* Every live backing of the process, for the fork handlers
     * (backing.c, "fork"); guarded by that list's lock. */
    struct pmn__fork_node fork;
    struct pmn_backing_stats stats;
    /* Registration (pmnode.h, "Registration"): the hooks change only while
     * nregions is 0, so a region that counted itself in sees them fixed for
     * its whole life.  regions lists the live ones for pmn_backing_extents. */
    struct pmn_extent_hooks hooks;
    atomic_bool hooked; /* hooks set (read without the lock by the heap) */
    size_t nregions;    /* regions mapped or being mapped */
    struct pmn_region *regions;
};

struct pmn_region {
    struct pmn_backing *b;
    void *addr;
    size_t size;
    int node;
    int slot; /* index in b->nodes, -1 for dax */
    int fd;
    uint64_t dax_offset;
    uint64_t file_off;         /* shareable: offset of the region in b->sh's file */
    _Atomic unsigned exported; /* live exported objects in it (shared.c) */
    uint64_t populate_ns, verify_ns;
    size_t align; /* address alignment asked for (0: the granule's) */
    size_t skew;  /* addr + skew is the multiple of align (0: addr is) */
    /* Never populated: address space only, neither counted in the
     * backing's stats nor judged by the free-memory check (0 for dax). */
    size_t hole_off, hole_len;
    bool lazy; /* mapped and bound, populated later piece by piece */
    /* Lazy and populated only where pmn__region_populate is asked to: the
     * rest is bound to the node and faulted in by its first touch
     * (pmn__region_map_holed with @sparse). */
    bool sparse;
    bool hooked; /* the backing had hooks when this region began */
    /* What the ops' map() gave (addr is an aligned part of it for a
     * provider without PMN_PROVIDER_CAN_SKEW), and for user and provider
     * regions the offset of addr in fd's file */
    struct pmn_extent pext;
    uint64_t fd_offset;
    struct pmn_region *next, *prev; /* the backing's live regions */
};

/* The region whose own extent @e is (built-in ops only: see the top). */
static inline struct pmn_region *pmn__ext_region(const struct pmn_extent *e)
{
    return (struct pmn_region *)((char *)(uintptr_t)e - offsetof(struct pmn_region, pext));
}

/* ---- backing.c ---- */

/* Keep a backing alive (an arena or slab does, from creation to
 * destroy, so the caller may free the backing first); thread-safe. */
void pmn__backing_ref(struct pmn_backing *b);
/* Drop a reference taken by pmn__backing_ref(); the last one frees. */
void pmn__backing_unref(struct pmn_backing *b);

/* The free-memory check: 0 when node @node of @ctx has @size bytes
 * available (pmn_node_read_available) beyond @headroom, PMN_E_NODE_FULL
 * when not, or the read's code.  Works on any context (tests give it
 * fixture trees). */
int pmn__node_room(const struct pmn_ctx *ctx, int node, uint64_t headroom, uint64_t size);
/* Placement's default headroom on @n: max(1% of its capacity, 64 MiB). */
uint64_t pmn__default_headroom(const struct pmn_node *n);

/* Populate and verify [off, off+len) of a lazily mapped region (heap.c
 * populates a segment's slices as it hands them out).  0 or a code. */
int pmn__region_populate(struct pmn_region *r, size_t off, size_t len);

/* Give back the memory of [off, len) of a lazily mapped region (page
 * multiples): MADV_DONTNEED for anonymous memory, MADV_REMOVE for memfd,
 * the provider's purge for a caller's.  The range stays mapped and bound
 * to the region's node; the caller populates it again (and verifies it)
 * with pmn__region_populate before it reuses it.  0, or -EOPNOTSUPP where
 * memory cannot be given back piecewise (device memory, hugetlb,
 * registered extents, a provider without purge), or the kernel's code. */
int pmn__region_purge(struct pmn_region *r, size_t off, size_t len);

/* A region whose address is a multiple of @align, bound but populated
 * later with pmn__region_populate (the free-memory check judges its whole
 * size now: all of it may be populated). */
int pmn__region_map_lazy(struct pmn_backing *b, size_t size, size_t align,
                         struct pmn_region **out);
/*
 * A region of @size whose address plus @skew is a multiple of @align
 * (@skew below @align, both multiples of the granule), populated and
 * verified now except for the hole [hole_off, hole_off + hole_len)
 * (granule multiples, may be empty), which stays address space: never
 * populated, never counted, not judged by the free-memory check.  The
 * heap places a large object aligned beyond its segment header this way,
 * so the alignment costs address space, not memory.  Device-dax memory
 * cannot be left unpopulated: there the hole is claimed and counted like
 * the rest (the heap keeps it under one 4 MiB extent or device unit).
 *
 * @sparse: populate nothing now.  The region is bound to its node
 * (MPOL_BIND | MPOL_F_STATIC_NODES) before any page exists, so a page the
 * program faults in later can only come from that node; the caller
 * populates and verifies the pieces it wants with pmn__region_populate.
 * Honoured only where the backing can leave memory unpopulated
 * (pmn__backing_can_hole) and has no hooks; r->sparse says whether it was.
 * The free-memory check still judges the whole committed size.
 */
int pmn__region_map_holed(struct pmn_backing *b, size_t size, size_t align, size_t skew,
                          size_t hole_off, size_t hole_len, bool sparse, struct pmn_region **out);
/* Bytes of @r that are memory (its size less its hole): what the backing's
 * stats and the heap's resident count. */
size_t pmn__region_committed(const struct pmn_region *r);

/* ---- registration (backing.c) ---- */

/* Whether @b has map/unmap hooks: its regions are populated whole at map
 * time and nothing inside them may be decommitted (no MADV_DONTNEED, no
 * hole punch) while they live.  The heap asks this before populating lazily
 * or purging.  Stable while the caller holds a region of @b. */
bool pmn__backing_has_hooks(const struct pmn_backing *b);
/* The extent [off, off + len) of @r, with its file and node. */
void pmn__region_extent_at(const struct pmn_region *r, struct pmn_extent *e, size_t off,
                           size_t len);
/* The first address in @e at which @size bytes fit with addr + @skew a
 * multiple of @align, or 0. */
uintptr_t pmn__extent_fit(const struct pmn_extent *e, size_t size, size_t align, size_t skew);
/* The extents of @r (1, or 2 around a hole) into @out; their count. */
size_t pmn__region_extents(const struct pmn_region *r, struct pmn_extent out[2]);
/* Call @fn on @v[0..n) in order; its first nonzero value, else 0. */
int pmn__extents_call(const struct pmn_extent *v, size_t n, pmn_extent_fn fn, void *arg);

/* ---- backing-node.c ---- */
/* The built-in tables (caps CAN_SKEW | CAN_LAZY | VERIFIES; hugetlb maps
 * through the anon body; memfd is a range of the backing's one file, and
 * so is any backing made shareable). */
extern const struct pmn_provider_ops pmn__prov_anon, pmn__prov_memfd, pmn__prov_hugetlb;
/* Populate [addr, addr+len), part of @r, for @r->node without our faults
 * ever invoking the OOM killer: a policy that may fall back while
 * populating, every page verified (unless the backing says not to; time
 * added to r->verify_ns), then bound strictly.  0, PMN_E_NODE_FULL when
 * any page landed elsewhere, or another code; on failure the caller
 * releases the range's pages.  The range is left bound to the node. */
int pmn__node_populate(struct pmn_backing *b, struct pmn_region *r, void *addr, size_t len);

/* ---- backing-dax.c ---- */
/* CAN_SKEW | CAN_AT | VERIFIES: the device's node by construction. */
extern const struct pmn_provider_ops pmn__prov_dax;
int pmn__dax_attach(struct pmn_backing *b, const char *dev);
void pmn__dax_detach(struct pmn_backing *b);
int pmn__dax_map_at(struct pmn_backing *b, struct pmn_region *r, uint64_t offset);
int pmn__dax_node(const struct pmn_backing *b);
/* The device fd behind every dax region of @b (owned by the mapping). */
int pmn__dax_fd(const struct pmn_backing *b);
/* The device's name ("dax0.0"), or NULL for a backing of another type. */
const char *pmn__dax_name(const struct pmn_backing *b);

/* ---- backing-user.c ---- */
/* CAN_SKEW | VERIFIES: checked at creation, and again when a purged piece
 * is carved anew. */
extern const struct pmn_provider_ops pmn__prov_user;
/* Check and keep the caller's range of a PMN_BACKING_USER backing (b->nodes[0]
 * set): every page on the node unless @flags has PMN_USER_UNVERIFIED.  0,
 * PMN_E_MISPLACED, -ENOMEM or a code from the populate. */
int pmn__user_attach(struct pmn_backing *b, void *addr, size_t len, int fd, uint64_t off,
                     unsigned flags);
void pmn__user_detach(struct pmn_backing *b);
/* Whether @b's regions may keep address space unpopulated (lazy regions,
 * holes): ops with PMN_PROVIDER_CAN_LAZY (the node-bound types, and a
 * caller's provider that says so); not dax or user memory. */
bool pmn__backing_can_hole(const struct pmn_backing *b);

/* ---- migrate.c: the engine behind pmn_migrate and pmn_region_migrate ---- */

/* Every pmn_migrate_flags bit this version knows. */
#define PMN__MIGRATE_FLAGS (PMN_MIGRATE_ROLLBACK | PMN_MIGRATE_NO_HEADROOM)
/* Whether @node can take @bytes more (pmn_migrate flags in @flags): 0,
 * PMN_E_NODE_FULL, PMN_E_NO_HUGEPAGES or the read's code. */
typedef int (*pmn__migrate_room_fn)(void *arg, int node, uint64_t bytes, unsigned flags);
/* pmn_migrate's checks of @ctx, @node and @flags, in its order: 0, -EINVAL,
 * PMN_E_REMOTE_ROOT, PMN_E_NO_NODE, PMN_E_NOT_MEMORY_NODE, PMN_E_NOT_ALLOWED. */
int pmn__migrate_check(struct pmn_ctx *ctx, int node, unsigned flags);
/* pmn_migrate's room check: the node's available memory less placement's
 * default headroom (none with PMN_MIGRATE_NO_HEADROOM). */
int pmn__migrate_room(struct pmn_ctx *ctx, int node, uint64_t bytes, unsigned flags);
/*
 * Move [addr, addr + len) to @node (arguments checked by the caller: @addr
 * and @len multiples of @unit, @unit the base page or a hugetlb page size;
 * move_pages is asked once per unit).  @room judges the target before
 * anything moves.  *@out is always filled, whole (struct_size set to its
 * size), and sums to pages.  Returns as pmn_migrate() does.  Thread-safe.
 */
int pmn__migrate(struct pmn_ctx *ctx, void *addr, size_t len, size_t unit, int node,
                 unsigned flags, pmn__migrate_room_fn room, void *room_arg,
                 struct pmn_migrate_report *out);
/* Copy @r to the caller's @rep (rep->struct_size bytes of it, at most the
 * whole struct), keeping rep->struct_size. */
void pmn__migrate_report_out(struct pmn_migrate_report *rep, const struct pmn_migrate_report *r);
/* Add @r's counts to @sum (first_failed: the first one set wins). */
void pmn__migrate_report_add(struct pmn_migrate_report *sum, const struct pmn_migrate_report *r);

/* ---- migrate-region.c ---- */
/* pmn_region_migrate() for the engine of arenas and slabs (alloc/): the
 * same, with the report whole in *@out; out->struct_size is 0 when the
 * checks refused before any page was looked at (no report), else its
 * size.  Whoever calls it keeps other population and migration of @r
 * out meanwhile (the heap holds its lock). */
int pmn__region_migrate(struct pmn_region *r, int node, unsigned flags,
                        struct pmn_migrate_report *out);
/* pmn_region_migrate()'s checks for any region of @b: -EINVAL (@node or
 * @flags), -EOPNOTSUPP (a type that cannot move), PMN_E_NOT_ON_LIST, then
 * pmn__migrate_check()'s. */
int pmn__backing_migrate_check(struct pmn_backing *b, int node, unsigned flags);

/* ---- backing.c, for migration ---- */
/* Whether @node can take @bytes more of @b's memory, as a region map
 * judges it (cpuset, free huge pages of the size, the backing's headroom),
 * with no headroom when @flags has PMN_MIGRATE_NO_HEADROOM. */
int pmn__backing_room(struct pmn_backing *b, int node, uint64_t bytes, unsigned flags);

/* ---- where.c ---- */
/* The node of a page move_pages calls absent though it is there (under a
 * NUMA hinting fault on 6.1 to 6.4), found without touching it: from its
 * page frame (CAP_SYS_ADMIN), else from /proc/self/numa_maps when the
 * hidden pages of its VMA are on one node.  One per caller and thread:
 * pmn__hidden_init, any number of pmn__hidden_node, pmn__hidden_done. */
#define PMN__HIDDEN_WINDOW 512
struct pmn__hidden {
    size_t page;
    int pagemap; /* -1: not opened yet, -2: cannot be read */
    /* The pagemap entries (or, where it cannot be read, mincore's answers:
     * PMN_PRIM_PM_PRESENT or 0) of the window of pages from win_start, read
     * in one call: a sparse range costs one read per window, not per page. */
    uintptr_t win_start;
    size_t win_n;
    uint64_t win[PMN__HIDDEN_WINDOW];
    uint64_t block_first, block_frames; /* the last memory block looked up */
    int block_node;
    uintptr_t vma_start, vma_end; /* the last VMA numa_maps was asked about */
    int vma_node;                 /* its hidden pages' node, or -1 */
};
void pmn__hidden_init(struct pmn__hidden *h, size_t page);
/* For a page move_pages answered @status for (-ENOENT, or -EFAULT as 6.1
 * answers for a transparent huge page under a hinting fault, and every
 * kernel for the zero page and device pages): >= 0, the page at @addr is
 * there, on that node; -1: there, node unknown; -2: not there (the
 * pagemap, or mincore, says so too).  An -EFAULT page is placed only when
 * the pagemap says it is mapped once (the zero page never is). */
int pmn__hidden_node(struct pmn__hidden *h, uintptr_t addr, int status);
/* Forget what was learnt of mappings (pages moved since): the descriptor
 * and the memory blocks stay. */
void pmn__hidden_forget(struct pmn__hidden *h);
void pmn__hidden_done(struct pmn__hidden *h);
/* Verify that every page of [addr, addr+len) is on @node, asking once per
 * @stride bytes (the base page, or the huge page size for hugetlb).  0 with
 * *misplaced = pages found elsewhere; -errno when the kernel would not
 * say. */
int pmn__verify(void *addr, size_t len, size_t stride, int node, uint64_t *misplaced);
/* As pmn__verify, for memory another process's file backs (IPC): the
 * pages move_pages cannot see are read-touched with a check, so a page the
 * file no longer backs stays unseen instead of raising SIGBUS. */
int pmn__verify_shared(void *addr, size_t len, size_t stride, int node, uint64_t *misplaced);

/* ---- shared.c: a shareable backing's one file and its generation table ----
 *
 * The table sits at offset 0 of the file, in the host's byte order; an
 * importer (ipc-import.c) maps it read-only and trusts nothing in it
 * beyond what it checks. */
#define PMN__IPC_TABLE_MAGIC 0x31626174706d6e70ull /* "pmnptab1" */
#define PMN__IPC_TABLE_VERSION 1
#define PMN__IPC_TABLE_DEFAULT ((size_t)64 << 10)
struct pmn__ipc_table_head {
    uint64_t magic;
    uint32_t version, nslots;
    uint64_t backing_id;
    uint64_t table_size;
    uint64_t reserved[4];
};
struct pmn__ipc_slot {
    _Atomic uint64_t gen;    /* goes up when the slot's object is freed */
    _Atomic uint64_t offset; /* the object's file offset while exported */
    _Atomic uint64_t len;
};
_Static_assert(sizeof(struct pmn__ipc_table_head) == 64, "table head is 64 bytes");
_Static_assert(sizeof(struct pmn__ipc_slot) == 24, "a slot is 24 bytes");

/* Create @b's file with a table of @table_size bytes (0: the default);
 * b->sh is set on success. */
int pmn__shfile_new(struct pmn_backing *b, size_t table_size);
void pmn__shfile_free(struct pmn_backing *b);
int pmn__shfile_fd(const struct pmn_backing *b);
uint64_t pmn__shfile_id(const struct pmn_backing *b, uint64_t *dev, uint64_t *ino,
                        uint32_t *table_size);
/* The bodies of pmn__prov_memfd's map and unmap (memfd and hugetlb
 * files): a range of the file, mapped, bound, populated as the anon path
 * does. */
int pmn__shfile_map(struct pmn_backing *b, struct pmn_region *r, int node);
int pmn__shfile_unmap(struct pmn_backing *b, struct pmn_region *r);
/* The slot of the object at @addr (file offset @off, @len bytes): its
 * number and generation; a fresh slot counts in @cnt (and @cnt2 if not
 * NULL), decremented when the slot is released.  -ENOSPC when full. */
int pmn__shfile_export(struct pmn_backing *b, const void *addr, uint64_t off, uint64_t len,
                       _Atomic unsigned *cnt, _Atomic unsigned *cnt2, uint32_t *slot,
                       uint64_t *gen);
/* Release the slot of the object at @addr, if any (its generation goes
 * up).  Called before the object is freed. */
void pmn__shfile_forget(struct pmn_backing *b, const void *addr);
/* Release every slot whose object starts in [addr, addr+len). */
void pmn__shfile_forget_range(struct pmn_backing *b, const void *addr, size_t len);
/* Whether @b's memory is a shared file the calling process inherited
 * through fork() (shared.c: the child leaves it alone). */
bool pmn__shfile_inherited(const struct pmn_backing *b);
/* Around fork() (phase 0 prepare, 1 parent, 2 child): the file's lock,
 * after the backing's (backing.c, "fork"). */
void pmn__shfile_fork(struct pmn_backing *b, int phase);
/* Around fork(), the same for a PMN_BACKING_USER backing's range lock
 * (backing-user.c): a child's region map or an arena's next segment on
 * the range carves it under that lock. */
void pmn__userrange_fork(struct pmn__userrange *u, int phase);
/* backing-node.c: no THP before a region's hole (shared.c maps too). */
void pmn__no_thp_before_hole(struct pmn_backing *b, struct pmn_region *r);

/* ---- ipc-dax.c: device-dax behind IPC handles ---- */
/* Whether @name (a field of @cap bytes) is a device name an importer may
 * open as /dev/<name>: NUL-terminated within @cap, not empty, not "." or
 * "..", only [A-Za-z0-9._]. */
bool pmn__ipc_dax_name_ok(const char *name, size_t cap);
/* Owner side: the dax fields of @h (kind, name, rdev) for dax backing @b. */
int pmn__ipc_dax_fill(const struct pmn_backing *b, struct pmn_ipc_handle *h);
/* Importer side: open /dev/<h->dax_name> (O_RDWR|O_CLOEXEC), check it is a
 * character device with h->dax_rdev (PMN_E_BAD_HANDLE), read its size,
 * alignment and node from sysfs (a device sysfs does not list as dax:
 * PMN_E_BAD_HANDLE) and check the node is h->node (PMN_E_NODE_CHANGED).
 * Errors of open() as they are (-ENOENT, -EACCES...). */
int pmn__ipc_dax_open(const struct pmn_ipc_handle *h, int *fd, uint64_t *size, uint64_t *align);

#endif /* PMN_BACKING_H */
