/*
 * shared.c - a shareable backing's one file: regions as ranges of it, and
 * the generation table that tells an importer whether an object lives.
 *
 * A shareable backing (PMN_BACKING_MEMFD, or anon/hugetlb asked to be
 * shareable) keeps every region in ONE memfd, so one fd passed once lets
 * another process map any object of the backing:
 *
 *   [0, table)          the generation table: a header naming the backing
 *                       (random id) and one slot per exported object
 *                       {gen, offset, len}
 *   [table, end)        regions, each a range taken first fit from the
 *                       free ranges (sorted, coalesced), else from the end
 *                       (the file grows with ftruncate, never shrinks: an
 *                       importer may still map a range the owner gave
 *                       back, and a shrink would turn its reads into
 *                       SIGBUS; F_SEAL_SHRINK makes that the kernel's
 *                       rule, so importers need not trust us)
 *
 * A region given back is hole-punched (fallocate), so its pages return to
 * the node at once, as munmap of anonymous memory would.  Ranges are
 * aligned to the page (huge page for hugetlb, 2 MiB for THP regions of
 * 2 MiB or more, so file offset and address agree for huge pages).
 *
 * Export side: a slot per exported object, found again by its address
 * (a chained hash), so exporting twice gives one slot.  Releasing a slot
 * (the object freed, its region unmapped, its arena reset) bumps the
 * slot's generation with a release store before the memory can be reused,
 * and puts the slot on a free stack.  All of it under the file's mutex:
 * exports and the frees of exported objects are the slow path; the
 * allocator's frees of other objects never come here (heap.h, segment
 * flag).
 *
 * fork: the file and every region's mapping of it are shared with a
 * child, not copied (MAP_SHARED, by design: other processes map it too).
 * So a forked child leaves the file alone: the creator's pid is kept, and
 * in any other process giving a range back punches no hole and frees no
 * range, a slot is never released (its generation stays, the parent's
 * handle stays good), and mapping or exporting answers -EBUSY (the file's
 * free ranges and slots are the parent's to hand out).  The lock is held
 * across fork() (pmn__shfile_fork, from alloc/fork.c's handlers).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "place/backing.h"
#include "os/prim.h"

struct range {
    uint64_t off, len;
    struct range *next; /* sorted by offset */
};

struct owner_slot {
    uintptr_t addr;               /* object's address here, 0 when free */
    _Atomic unsigned *cnt, *cnt2; /* counted in while exported */
    int32_t next;                 /* hash chain, or free stack */
};

struct pmn__shfile {
    int fd;
    uint64_t dev, ino, id;
    size_t table_size;
    size_t align; /* file offsets of regions: page or huge page */
    struct pmn__ipc_table_head *table;
    struct pmn__ipc_slot *slots;
    uint32_t nslots;
    pthread_mutex_t lock; /* everything below */
    uint64_t end;         /* file size */
    struct range *free;
    struct owner_slot *own;
    int32_t *bucket; /* nbuckets heads of chains, -1 empty */
    uint32_t nbuckets;
    int32_t free_top; /* free stack of slots */
    int pid;          /* the process that made the file (fork: see the top) */
};

/* Whether the calling process is a forked child of the file's maker: the
 * file's ranges and slots are the parent's, not to be changed. */
static bool inherited(const struct pmn__shfile *sh)
{
    return pmn_prim_getpid() != sh->pid;
}

bool pmn__shfile_inherited(const struct pmn_backing *b)
{
    return b->sh != NULL && inherited(b->sh);
}

void pmn__shfile_fork(struct pmn_backing *b, int phase)
{
    if (b->sh == NULL)
        return;
    if (phase == 0)
        pthread_mutex_lock(&b->sh->lock);
    else
        pthread_mutex_unlock(&b->sh->lock);
}

static uint32_t hash_addr(const struct pmn__shfile *sh, uintptr_t a)
{
    uint64_t x = (uint64_t)a >> 4;

    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 32;
    return (uint32_t)(x & (sh->nbuckets - 1));
}

int pmn__shfile_new(struct pmn_backing *b, size_t table_size)
{
    struct pmn__shfile *sh;
    size_t unit = b->huge_size ? b->huge_size : b->page;
    void *map;
    int err;

    if (table_size == 0)
        table_size = PMN__IPC_TABLE_DEFAULT;
    table_size = (table_size + unit - 1) / unit * unit;
    sh = calloc(1, sizeof(*sh));
    if (sh == NULL)
        return -ENOMEM;
    sh->fd = -1;
    sh->table_size = table_size;
    sh->align = unit;
    sh->nslots = (uint32_t)((table_size - sizeof(struct pmn__ipc_table_head)) /
                            sizeof(struct pmn__ipc_slot));
    for (sh->nbuckets = 16; sh->nbuckets < sh->nslots; sh->nbuckets <<= 1)
        ;
    sh->own = calloc(sh->nslots, sizeof(*sh->own));
    sh->bucket = malloc(sh->nbuckets * sizeof(*sh->bucket));
    err = sh->own && sh->bucket ? 0 : -ENOMEM;
    if (err == 0)
        err = pmn_prim_random64(&sh->id);
    if (err == 0)
        err = pmn_prim_memfd_huge("pmnode-shared", b->huge_size, &sh->fd);
    if (err == 0)
        err = pmn_prim_truncate(sh->fd, table_size);
    /* Never shrinks: importers map it, and a read past a shrunk end is
     * SIGBUS in their process, not an error.  Sealed, the kernel refuses
     * the shrink to anyone holding the fd (we never shrink it ourselves),
     * and an importer can see that it cannot happen (ipc-import.c). */
    if (err == 0)
        err = pmn_prim_seal_shrink(sh->fd);
    if (err == 0)
        err = pmn_prim_file_id(sh->fd, &sh->dev, &sh->ino, NULL);
    if (err == 0)
        err = pmn_prim_map_fd_at(sh->fd, table_size, 0, 0, 0, false, &map);
    if (err) {
        pmn_prim_close(sh->fd);
        free(sh->own);
        free(sh->bucket);
        free(sh);
        return err;
    }
    /* The table is on the backing's (first) node, like its memory. */
    (void)pmn_prim_prefer(map, table_size, b->nodes[0]);
    sh->table = map;
    sh->slots = (struct pmn__ipc_slot *)(sh->table + 1);
    sh->table->magic = PMN__IPC_TABLE_MAGIC;
    sh->table->version = PMN__IPC_TABLE_VERSION;
    sh->table->nslots = sh->nslots;
    sh->table->backing_id = sh->id;
    sh->table->table_size = table_size;
    for (uint32_t i = 0; i < sh->nbuckets; i++)
        sh->bucket[i] = -1;
    /* Free stack: slot 0 on top. */
    for (uint32_t i = 0; i < sh->nslots; i++)
        sh->own[i].next = i + 1 < sh->nslots ? (int32_t)(i + 1) : -1;
    sh->free_top = 0;
    sh->end = table_size;
    pthread_mutex_init(&sh->lock, NULL);
    sh->pid = pmn_prim_getpid();
    b->sh = sh;
    return 0;
}

void pmn__shfile_free(struct pmn_backing *b)
{
    struct pmn__shfile *sh = b->sh;

    if (sh == NULL)
        return;
    for (struct range *r = sh->free, *next; r; r = next) {
        next = r->next;
        free(r);
    }
    pmn_prim_unmap(sh->table, sh->table_size);
    pmn_prim_close(sh->fd);
    pthread_mutex_destroy(&sh->lock);
    free(sh->own);
    free(sh->bucket);
    free(sh);
    b->sh = NULL;
}

int pmn__shfile_fd(const struct pmn_backing *b)
{
    return b->sh ? b->sh->fd : -1;
}

uint64_t pmn__shfile_id(const struct pmn_backing *b, uint64_t *dev, uint64_t *ino,
                        uint32_t *table_size)
{
    *dev = b->sh->dev;
    *ino = b->sh->ino;
    *table_size = (uint32_t)b->sh->table_size;
    return b->sh->id;
}

/* ---- ranges of the file ---- */

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

/* Put [off, off+len) back in the sorted free list, merged with its
 * neighbours (caller holds the lock).  -ENOMEM leaves the range lost to
 * reuse (its pages are punched out all the same). */
static int range_put(struct pmn__shfile *sh, uint64_t off, uint64_t len)
{
    struct range **at = &sh->free, *prev = NULL, *n;

    while (*at && (*at)->off < off) {
        prev = *at;
        at = &(*at)->next;
    }
    if (prev && prev->off + prev->len == off) {
        prev->len += len;
        if (*at && prev->off + prev->len == (*at)->off) {
            n = *at;
            prev->len += n->len;
            prev->next = n->next;
            free(n);
        }
        return 0;
    }
    if (*at && off + len == (*at)->off) {
        (*at)->off = off;
        (*at)->len += len;
        return 0;
    }
    n = malloc(sizeof(*n));
    if (n == NULL)
        return -ENOMEM;
    n->off = off;
    n->len = len;
    n->next = *at;
    *at = n;
    return 0;
}

/* First fit of @len bytes at an offset multiple of @align. */
static int range_take(struct pmn__shfile *sh, uint64_t len, uint64_t align, uint64_t *out)
{
    uint64_t off, end;
    int err;

    for (struct range **at = &sh->free; *at; at = &(*at)->next) {
        struct range *r = *at;
        uint64_t a = align_up(r->off, align);
        if (a + len > r->off + r->len)
            continue;
        /* Split into [r->off, a), the taken range, and the rest. */
        end = r->off + r->len;
        if (a == r->off) {
            r->off += len;
            r->len -= len;
            if (r->len == 0) {
                *at = r->next;
                free(r);
            }
        } else {
            r->len = a - r->off;
            if (a + len < end && range_put(sh, a + len, end - (a + len)) != 0)
                return -ENOMEM;
        }
        *out = a;
        return 0;
    }
    off = align_up(sh->end, align);
    err = pmn_prim_truncate(sh->fd, off + len);
    if (err)
        return err;
    if (off > sh->end)
        (void)range_put(sh, sh->end, off - sh->end);
    sh->end = off + len;
    *out = off;
    return 0;
}

static void range_give(struct pmn__shfile *sh, uint64_t off, uint64_t len)
{
    if (inherited(sh))
        return; /* the parent's memory: its objects stay as they are */
    /* The pages go back to the node now, whoever still maps the range. */
    (void)pmn_prim_punch_hole(sh->fd, off, len);
    pthread_mutex_lock(&sh->lock);
    (void)range_put(sh, off, len);
    pthread_mutex_unlock(&sh->lock);
}

int pmn__shfile_map(struct pmn_backing *b, struct pmn_region *r, int node)
{
    struct pmn__shfile *sh = b->sh;
    uint64_t align = sh->align, off;
    int err;

    if (inherited(sh))
        return -EBUSY; /* a range the parent may hand out as well */
    if (b->thp && b->huge_size == 0 && r->size >= ((size_t)2 << 20))
        align = (size_t)2 << 20;
    pthread_mutex_lock(&sh->lock);
    err = range_take(sh, r->size, align, &off);
    pthread_mutex_unlock(&sh->lock);
    if (err)
        return err;
    err = pmn_prim_map_fd_at(sh->fd, r->size, off, r->align > b->page ? r->align : 0, r->skew,
                             false, &r->addr);
    if (err) {
        range_give(sh, off, r->size);
        return err;
    }
    if (b->huge_size == 0)
        (void)pmn_prim_advise(r->addr, r->size, b->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    pmn__no_thp_before_hole(b, r);
    r->fd = sh->fd;
    r->file_off = off;
    /* On a shared mapping mbind sets the file's own policy for the range,
     * so pages are placed the same whoever faults them. */
    r->node = node;
    err = r->lazy ? pmn_prim_bind(r->addr, r->size, node)
                  : pmn__node_populate(b, r, r->addr, r->size);
    if (err == 0)
        return 0;
    pmn_prim_unmap(r->addr, r->size);
    r->addr = NULL;
    r->fd = -1;
    range_give(sh, off, r->size);
    return err;
}

int pmn__shfile_unmap(struct pmn_backing *b, struct pmn_region *r)
{
    int err = 0;

    if (r->addr == NULL)
        return 0;
    err = pmn_prim_unmap(r->addr, r->size);
    range_give(b->sh, r->file_off, r->size);
    r->fd = -1;
    return err;
}

/* ---- slots ---- */

static void slot_release(struct pmn__shfile *sh, int32_t s);

static int32_t slot_find(const struct pmn__shfile *sh, uintptr_t a, int32_t **link)
{
    int32_t *at = &sh->bucket[hash_addr(sh, a)];

    while (*at >= 0 && sh->own[*at].addr != a)
        at = &sh->own[*at].next;
    if (link)
        *link = at;
    return *at;
}

int pmn__shfile_export(struct pmn_backing *b, const void *addr, uint64_t off, uint64_t len,
                       _Atomic unsigned *cnt, _Atomic unsigned *cnt2, uint32_t *slot,
                       uint64_t *gen)
{
    struct pmn__shfile *sh = b->sh;
    int32_t s, *link;
    int err = 0;

    if (inherited(sh))
        return -EBUSY; /* the slots are the parent's */
    pthread_mutex_lock(&sh->lock);
    s = slot_find(sh, (uintptr_t)addr, &link);
    if (s >= 0 && (atomic_load_explicit(&sh->slots[s].offset, memory_order_relaxed) != off ||
                   atomic_load_explicit(&sh->slots[s].len, memory_order_relaxed) != len)) {
        /* The same address as another export (a region and an object at
         * its start): they are different memory to the importer, so the
         * old slot goes stale and this one gets its own. */
        *link = sh->own[s].next;
        slot_release(sh, s);
        s = slot_find(sh, (uintptr_t)addr, &link);
    }
    if (s < 0) {
        if (sh->free_top < 0) {
            err = -ENOSPC;
        } else {
            s = sh->free_top;
            sh->free_top = sh->own[s].next;
            sh->own[s].addr = (uintptr_t)addr;
            sh->own[s].cnt = cnt;
            sh->own[s].cnt2 = cnt2;
            sh->own[s].next = -1;
            *link = s;
            atomic_store_explicit(&sh->slots[s].offset, off, memory_order_relaxed);
            atomic_store_explicit(&sh->slots[s].len, len, memory_order_relaxed);
            if (cnt)
                atomic_fetch_add_explicit(cnt, 1, memory_order_relaxed);
            if (cnt2)
                atomic_fetch_add_explicit(cnt2, 1, memory_order_relaxed);
        }
    }
    if (err == 0) {
        *slot = (uint32_t)s;
        *gen = atomic_load_explicit(&sh->slots[s].gen, memory_order_relaxed);
    }
    pthread_mutex_unlock(&sh->lock);
    return err;
}

/* Release slot @s, unlinked by the caller (lock held). */
static void slot_release(struct pmn__shfile *sh, int32_t s)
{
    struct owner_slot *o = &sh->own[s];

    /* Stale from here on, before the memory can be handed out again. */
    atomic_fetch_add_explicit(&sh->slots[s].gen, 1, memory_order_release);
    atomic_store_explicit(&sh->slots[s].offset, 0, memory_order_relaxed);
    atomic_store_explicit(&sh->slots[s].len, 0, memory_order_relaxed);
    if (o->cnt)
        atomic_fetch_sub_explicit(o->cnt, 1, memory_order_relaxed);
    if (o->cnt2)
        atomic_fetch_sub_explicit(o->cnt2, 1, memory_order_relaxed);
    o->addr = 0;
    o->cnt = o->cnt2 = NULL;
    o->next = sh->free_top;
    sh->free_top = s;
}

void pmn__shfile_forget(struct pmn_backing *b, const void *addr)
{
    struct pmn__shfile *sh = b->sh;
    int32_t s, *link;

    if (sh == NULL || inherited(sh))
        return; /* a child's free: the parent's handle stays good */
    pthread_mutex_lock(&sh->lock);
    s = slot_find(sh, (uintptr_t)addr, &link);
    if (s >= 0) {
        *link = sh->own[s].next;
        slot_release(sh, s);
    }
    pthread_mutex_unlock(&sh->lock);
}

void pmn__shfile_forget_range(struct pmn_backing *b, const void *addr, size_t len)
{
    struct pmn__shfile *sh = b->sh;
    uintptr_t lo = (uintptr_t)addr, hi = lo + len;

    if (sh == NULL || inherited(sh))
        return;
    pthread_mutex_lock(&sh->lock);
    for (uint32_t i = 0; i < sh->nbuckets; i++) {
        int32_t *at = &sh->bucket[i];
        while (*at >= 0) {
            int32_t s = *at;
            if (sh->own[s].addr >= lo && sh->own[s].addr < hi) {
                *at = sh->own[s].next;
                slot_release(sh, s);
            } else {
                at = &sh->own[s].next;
            }
        }
    }
    pthread_mutex_unlock(&sh->lock);
}
