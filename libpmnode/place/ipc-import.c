/*
 * place/ipc-import.c - the importing side of IPC handles, and the send and
 * receive helpers.
 *
 * A cache holds, per exporting backing (its random backing_id), one fd of
 * the backing's file and a read-only mapping of its generation table,
 * kept only once an open with them succeeded (a failed open keeps
 * nothing); per region of that file, one mapping with a count of opens;
 * per address handed out and object opened there, the slot and generation
 * it was opened with (one address may be open as a freed object and as
 * the new object that reused its memory; pmn_ipc_valid() is stale while
 * any of them is).
 *
 * Opening never trusts the handle: its fields are checked for sense; the
 * fd must be the handle's file (fstat dev/ino), in memory (tmpfs or
 * hugetlbfs, never page cache of a disk file) and sealed against
 * shrinking (a shrink would turn our reads into SIGBUS), and the table in
 * it must name the handle's backing; the page size must be the file's
 * own; the slot's generation must be the handle's (before mapping and
 * again after verifying); and every page of the object must be on the
 * handle's node, as move_pages sees it in this process after a checked
 * populate for reading, never past the region mapped.  Strictness holds
 * in the importer too: a page elsewhere is PMN_E_NODE_CHANGED, never a
 * quiet success.
 *
 * One mutex guards the cache's lists; the populate and the verify run
 * without it (they may take long for a large object), holding a reference
 * on the mapping.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "place/backing.h"
#include "os/prim.h"

struct imp_backing {
    uint64_t id, dev, ino, size; /* size: the file's when last checked */
    size_t page;                 /* the file's page size (fstatfs) */
    int fd;
    /* PMN_IPC_KIND_DAX: the device (opened by name, ipc-dax.c), its size
     * and alignment; the regions map from it, the table from fd. */
    int dax_fd;
    uint64_t dax_size, dax_align;
    int dax_node; /* the device's node when it was opened */
    const struct pmn__ipc_table_head *table;
    const struct pmn__ipc_slot *slots;
    size_t table_size;
    /* hugetlbfs: the owner may punch a hole in its table, and a load from
     * the hole faults a huge page in, SIGBUS when the pool has none free
     * (sealing forbids shrinking, not punching).  The table is then read
     * with pmn_prim_read_checked, a hole read as a stale slot. */
    bool huge;
    /* The fd is read-only (the owner sent pmn_ipc_fd_readonly()'s): every
     * region of the backing is mapped PROT_READ, which is all such an fd
     * can map shared. */
    bool readonly;
    bool used; /* an open succeeded with it: kept for later fd -1 opens */
    struct imp_backing *next;
};

struct imp_map {
    struct imp_backing *bk;
    uint64_t off, len;
    void *addr;
    unsigned refs;
    struct imp_map *next;
};

struct imp_open {
    void *addr;
    struct imp_map *m;
    uint32_t slot;
    uint64_t gen;
    unsigned refs;
    struct imp_open *next;
};

struct pmn_ipc_cache {
    pthread_mutex_t lock; /* everything below */
    struct imp_backing *backings;
    struct imp_map *maps;
    struct imp_open *opens;
    struct pmn_ipc_cache_stats st;
    struct pmn__fork_node fork; /* on caches (its lock) */
};

/* ---- fork ----
 *
 * The PMN__FORK_IPC layer of core/fork.c: a child of fork() has only the
 * thread that forked, so a cache's lock that another thread held then (an
 * open, a close, a check) would stay held in the child for ever.  The
 * prepare holds every live cache's.  They come first of the library's
 * locks: an open allocates with its cache's held, and under the shim that
 * malloc takes an arena's.  The child keeps the cache as it was: its
 * descriptors and mappings are inherited, and its opens stay open.
 *
 * Process-wide state (the list): the handlers take no argument, and the
 * locks are every cache's of the process.  Guarded by its lock. */
static void caches_prepare(void);
static void caches_release(int phase);
static struct pmn__fork_list caches =
    PMN__FORK_LIST_INIT(PMN__FORK_IPC, caches_prepare, caches_release);

#define CACHE_OF(n) PMN__CONTAINER(n, struct pmn_ipc_cache, fork)

static void caches_prepare(void)
{
    pthread_mutex_lock(&caches.lock);
    for (struct pmn__fork_node *n = caches.head; n; n = n->next)
        pthread_mutex_lock(&CACHE_OF(n)->lock);
}

/* @phase 1 in the parent, 2 in the child: the same in both. */
static void caches_release(int phase)
{
    (void)phase;
    for (struct pmn__fork_node *n = caches.head; n; n = n->next)
        pthread_mutex_unlock(&CACHE_OF(n)->lock);
    pthread_mutex_unlock(&caches.lock);
}

int pmn_ipc_cache_new(struct pmn_ipc_cache **out)
{
    struct pmn_ipc_cache *c;

    if (out == NULL)
        return -EINVAL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    pthread_mutex_init(&c->lock, NULL);
    pmn__fork_join(&caches, &c->fork);
    *out = c;
    return 0;
}

/* Unmap @bk's table and close its fds (it is off the list). */
static void backing_free(struct imp_backing *bk)
{
    pmn_prim_unmap((void *)bk->table, bk->table_size);
    pmn_prim_close(bk->fd);
    if (bk->dax_fd >= 0)
        pmn_prim_close(bk->dax_fd);
    free(bk);
}

void pmn_ipc_cache_free(struct pmn_ipc_cache *c)
{
    if (c == NULL)
        return;
    pmn__fork_leave(&caches, &c->fork);
    for (struct imp_open *o = c->opens, *next; o; o = next) {
        next = o->next;
        free(o);
    }
    for (struct imp_map *m = c->maps, *next; m; m = next) {
        next = m->next;
        pmn_prim_unmap(m->addr, m->len);
        free(m);
    }
    for (struct imp_backing *bk = c->backings, *next; bk; bk = next) {
        next = bk->next;
        backing_free(bk);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static bool pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

/* The handle makes sense on its own (nothing outside it is read). */
static bool handle_sane(const struct pmn_ipc_handle *h)
{
    uint64_t page = pmn_prim_page_size(), rend, oend;

    if (h->magic != PMN_IPC_MAGIC || h->version != PMN_IPC_VERSION ||
        (h->kind != PMN_IPC_KIND_MEMFD && h->kind != PMN_IPC_KIND_DAX))
        return false;
    /* page_size first: everything below divides by it. */
    if (!pow2(h->page_size) || h->page_size < page || h->node < 0 || h->owner_fd < -1)
        return false;
    /* dax: a plain name under /dev; the regions are device offsets (the
     * table is in the other file), whole units of the device. */
    if (h->kind == PMN_IPC_KIND_DAX &&
        (!pmn__ipc_dax_name_ok(h->dax_name, sizeof(h->dax_name)) || h->region_len % h->page_size))
        return false;
    if (h->table_size < sizeof(struct pmn__ipc_table_head) + sizeof(struct pmn__ipc_slot) ||
        h->table_size % page ||
        h->slot >=
            (h->table_size - sizeof(struct pmn__ipc_table_head)) / sizeof(struct pmn__ipc_slot))
        return false;
    if (h->region_len == 0 || h->object_len == 0 || h->region_offset % h->page_size ||
        h->region_len % h->page_size ||
        (h->kind == PMN_IPC_KIND_MEMFD && h->region_offset < h->table_size))
        return false;
    if (__builtin_add_overflow(h->region_offset, h->region_len, &rend) ||
        __builtin_add_overflow(h->object_offset, h->object_len, &oend) || rend > INT64_MAX)
        return false;
    return h->object_offset >= h->region_offset && oend <= rend;
}

/* Slot @i of @bk's table as it is now (gen, offset, len): 0, or -EFAULT
 * where the owner punched the table out (hugetlbfs, see struct
 * imp_backing). */
static int slot_read(const struct imp_backing *bk, uint32_t i, uint64_t now[3])
{
    const struct pmn__ipc_slot *s = &bk->slots[i];

    if (bk->huge)
        return pmn_prim_read_checked(s, now, 3 * sizeof(uint64_t));
    now[0] = atomic_load_explicit(&s->gen, memory_order_acquire);
    now[1] = atomic_load_explicit(&s->offset, memory_order_relaxed);
    now[2] = atomic_load_explicit(&s->len, memory_order_relaxed);
    return 0;
}

/* Gen, offset and len of the slot match the handle's (a slot that cannot
 * be read matches nothing). */
static bool slot_live(const struct imp_backing *bk, const struct pmn_ipc_handle *h,
                      uint64_t *gen_now)
{
    uint64_t now[3];

    if (slot_read(bk, h->slot, now) != 0)
        now[0] = now[1] = now[2] = UINT64_MAX; /* stale: no handle carries that gen */
    if (gen_now)
        *gen_now = now[0];
    return now[0] == h->gen && now[1] == h->object_offset && now[2] == h->object_len;
}

/* Whether @fd is a file libpmnode shares (*@ok): in memory, tmpfs or
 * hugetlbfs (*@page its page size), never a disk file, whose pages are page
 * cache written back to disk, which bound memory never is; and sealed
 * against shrinking (shared.c seals libpmnode's own), since past a shrunk
 * end an importer's reads would be SIGBUS, not a code.  0 or -errno. */
static int shared_file(int fd, bool *ok, size_t *page)
{
    bool in_memory, sealed = false;
    int err = pmn_prim_file_memory(fd, &in_memory, page);

    if (err == 0 && in_memory)
        err = pmn_prim_shrink_sealed(fd, &sealed);
    *ok = err == 0 && in_memory && sealed;
    return err;
}

/* A new cache entry for the backing of @h over @fd (which it takes):
 * the table is mapped and must name the handle's backing. */
static int backing_add(struct pmn_ipc_cache *c, const struct pmn_ipc_handle *h, int fd,
                       uint64_t size, struct imp_backing **out)
{
    struct imp_backing *bk = calloc(1, sizeof(*bk));
    struct pmn__ipc_table_head head;
    bool ok;
    void *map;
    int err;

    if (bk == NULL) {
        pmn_prim_close(fd);
        return -ENOMEM;
    }
    if (size < h->table_size) {
        err = PMN_E_BAD_HANDLE;
        goto fail;
    }
    /* An exporter of a version before the seal, a file made by hand or a
     * disk file is refused. */
    err = shared_file(fd, &ok, &bk->page);
    if (err == 0 && !ok)
        err = PMN_E_BAD_HANDLE;
    bk->huge = bk->page > pmn_prim_page_size();
    if (err == 0)
        err = pmn_prim_fd_readonly(fd, &bk->readonly);
    if (err)
        goto fail;
    err = pmn_prim_map_fd_at(fd, h->table_size, 0, 0, 0, true, &map);
    if (err)
        goto fail;
    bk->table = map;
    bk->table_size = h->table_size;
    if (bk->huge) {
        if (pmn_prim_read_checked(map, &head, sizeof(head)) != 0)
            head.magic = 0; /* punched out: not a table */
    } else {
        memcpy(&head, map, sizeof(head));
    }
    if (head.magic != PMN__IPC_TABLE_MAGIC || head.version != PMN__IPC_TABLE_VERSION ||
        head.backing_id != h->backing_id || head.table_size != h->table_size ||
        h->slot >= head.nslots) {
        pmn_prim_unmap(map, h->table_size);
        err = PMN_E_BAD_HANDLE;
        goto fail;
    }
    bk->slots = (const struct pmn__ipc_slot *)(bk->table + 1);
    bk->dax_fd = -1;
    if (h->kind == PMN_IPC_KIND_DAX) {
        err = pmn__ipc_dax_open(h, &bk->dax_fd, &bk->dax_size, &bk->dax_align);
        if (err) {
            pmn_prim_unmap(map, h->table_size);
            goto fail;
        }
        bk->dax_node = h->node; /* pmn__ipc_dax_open checked it */
    }
    bk->id = h->backing_id;
    bk->dev = h->dev;
    bk->ino = h->ino;
    bk->size = size;
    bk->fd = fd;
    bk->next = c->backings;
    c->backings = bk;
    c->st.backings++;
    *out = bk;
    return 0;
fail:
    pmn_prim_close(fd);
    free(bk);
    return err;
}

/* Forget @bk unless an open succeeded with it or a mapping of it is in
 * use (lock held): an open that fails keeps nothing of the peer's, neither
 * the fd nor the table's mapping (a hostile peer sending stale handles of
 * ever new files would run us out of fds).  A mapping in use means
 * another open is verifying with @bk; it drops @bk if it fails too. */
static void backing_drop_unused(struct pmn_ipc_cache *c, struct imp_backing *bk)
{
    if (bk->used)
        return;
    for (const struct imp_map *m = c->maps; m; m = m->next)
        if (m->bk == bk)
            return;
    for (struct imp_backing **at = &c->backings; *at; at = &(*at)->next)
        if (*at == bk) {
            *at = bk->next;
            break;
        }
    backing_free(bk);
    c->st.backings--;
}

/* The cache's entry for the backing of @h, made with @fd (or fetched)
 * when there is none (lock held). */
static int backing_get(struct pmn_ipc_cache *c, const struct pmn_ipc_handle *h, int fd,
                       unsigned flags, struct imp_backing **out)
{
    struct imp_backing *bk;
    uint64_t dev, ino, size;
    int own, err;

    for (bk = c->backings; bk; bk = bk->next)
        if (bk->id == h->backing_id)
            break;
    if (bk != NULL && (bk->dev != h->dev || bk->ino != h->ino ||
                       (bk->dax_fd >= 0) != (h->kind == PMN_IPC_KIND_DAX)))
        return PMN_E_BAD_HANDLE; /* the same id for another file: forged */
    if (fd >= 0) {
        err = pmn_prim_file_id(fd, &dev, &ino, &size);
        if (err)
            return err == -EBADF ? -EBADF : err;
        if (dev != h->dev || ino != h->ino)
            return PMN_E_BAD_HANDLE;
        if (bk != NULL) {
            bk->size = size;
            *out = bk;
            return 0;
        }
        err = pmn_prim_dup(fd, &own);
        if (err)
            return err;
        return backing_add(c, h, own, size, out);
    }
    if (bk != NULL) {
        *out = bk;
        return 0;
    }
    if (!(flags & PMN_IPC_FETCH_FD) || h->owner_fd < 0 || h->owner_pid <= 0)
        return -ENOENT;
    err = pmn_prim_pidfd_getfd(h->owner_pid, h->owner_fd, &own);
    if (err)
        return err;
    err = pmn_prim_file_id(own, &dev, &ino, &size);
    if (err == 0 && (dev != h->dev || ino != h->ino))
        err = PMN_E_BAD_HANDLE; /* the owner's fd number now names another file */
    if (err) {
        pmn_prim_close(own);
        return err;
    }
    c->st.fetched++;
    return backing_add(c, h, own, size, out);
}

/* Whether @h's region lies inside the file: past its end a read is
 * SIGBUS, never a code (lock held; the file only grows: backing_add
 * took only a file sealed against shrinking). */
static bool inside_file(struct imp_backing *bk, const struct pmn_ipc_handle *h)
{
    uint64_t end = h->region_offset + h->region_len;

    if (bk->dax_fd >= 0) /* whole units of the device, inside it */
        return h->page_size == bk->dax_align && h->region_offset % bk->dax_align == 0 &&
               h->region_len % bk->dax_align == 0 && end <= bk->dax_size;
    return end <= bk->size ||
           (pmn_prim_file_id(bk->fd, NULL, NULL, &bk->size) == 0 && end <= bk->size);
}

/* The mapping of @h's region, with a reference (lock held). */
static int map_get(struct pmn_ipc_cache *c, struct imp_backing *bk, const struct pmn_ipc_handle *h,
                   struct imp_map **out)
{
    struct imp_map *m;
    int err;

    for (m = c->maps; m; m = m->next)
        if (m->bk == bk && m->off == h->region_offset && m->len == h->region_len)
            break;
    if (m == NULL) {
        m = calloc(1, sizeof(*m));
        if (m == NULL)
            return -ENOMEM;
        /* device-dax maps only at addresses aligned to its unit */
        err = bk->dax_fd >= 0 ? pmn_prim_map_fd_at(bk->dax_fd, h->region_len, h->region_offset,
                                                   bk->dax_align, 0, bk->readonly, &m->addr)
                              : pmn_prim_map_fd_at(bk->fd, h->region_len, h->region_offset, 0, 0,
                                                   bk->readonly, &m->addr);
        if (err) {
            free(m);
            return err;
        }
        m->bk = bk;
        m->off = h->region_offset;
        m->len = h->region_len;
        m->next = c->maps;
        c->maps = m;
        c->st.maps++;
        c->st.mapped++;
    }
    m->refs++;
    *out = m;
    return 0;
}

/* Drop a reference on @m; the last one unmaps (lock held). */
static void map_put(struct pmn_ipc_cache *c, struct imp_map *m)
{
    if (--m->refs > 0)
        return;
    for (struct imp_map **at = &c->maps; *at; at = &(*at)->next)
        if (*at == m) {
            *at = m->next;
            break;
        }
    pmn_prim_unmap(m->addr, m->len);
    free(m);
    c->st.unmaps++;
    c->st.mapped--;
}

/* Populate the object's pages for reading and check each is on @node:
 * the object [addr, addr+len) of the mapping @m, rounded out to @page (the
 * file's own page size, checked) and never past the mapping. */
static int verify_object(const struct imp_map *m, void *addr, uint64_t len, uint64_t page,
                         int node)
{
    uintptr_t lo = (uintptr_t)addr & ~(uintptr_t)(page - 1);
    uintptr_t hi = ((uintptr_t)addr + len + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t mlo = (uintptr_t)m->addr, mhi = mlo + m->len;
    uint64_t misplaced = 0;
    int err;

    if (lo < mlo)
        lo = mlo;
    if (hi > mhi)
        hi = mhi;

    /* A checked read-fault: where the file does not back a page (a read
     * there would be SIGBUS) this is an error, never a signal. */
    err = pmn_prim_touch_read_checked((void *)lo, hi - lo, page);
    if (err == -EFAULT)
        return PMN_E_BAD_HANDLE;
    if (err)
        return err;
    err = pmn__verify_shared((void *)lo, hi - lo, page, node, &misplaced);
    if (err == -EIO)
        return PMN_E_NODE_CHANGED; /* no page anywhere it could be seen */
    if (err)
        return err;
    return misplaced ? PMN_E_NODE_CHANGED : 0;
}

/* Whether the object @o was opened as is still live in its owner. */
static bool open_live(const struct imp_open *o)
{
    uint64_t now[3];

    return slot_read(o->m->bk, o->slot, now) == 0 && now[0] == o->gen;
}

/* Record a successful open (lock held).  One record per address AND
 * object (slot, gen): the owner may free an object and hand its memory to
 * a new one, so one address can be open as two objects at once, and each
 * keeps its own generation for pmn_ipc_valid(). */
static int open_locked_tail(struct pmn_ipc_cache *c, struct imp_map *m,
                            const struct pmn_ipc_handle *h, void *addr)
{
    struct imp_open *o;

    for (o = c->opens; o; o = o->next)
        if (o->addr == addr && o->slot == h->slot && o->gen == h->gen)
            break;
    if (o == NULL) {
        o = calloc(1, sizeof(*o));
        if (o == NULL)
            return -ENOMEM;
        o->addr = addr;
        o->m = m;
        o->slot = h->slot;
        o->gen = h->gen;
        o->next = c->opens;
        c->opens = o;
    } else {
        map_put(c, m); /* the open record holds one reference on m */
    }
    o->refs++;
    return 0;
}

int pmn_ipc_open(struct pmn_ipc_cache *c, const struct pmn_ipc_handle *h, int fd, unsigned flags,
                 void **addr)
{
    struct imp_backing *bk = NULL;
    struct imp_map *m = NULL;
    void *at;
    int err;

    if (addr != NULL)
        *addr = NULL;
    if (c == NULL || h == NULL || addr == NULL || (flags & ~PMN_IPC_FETCH_FD))
        return -EINVAL;
    if (!handle_sane(h)) {
        err = PMN_E_BAD_HANDLE;
        pthread_mutex_lock(&c->lock);
        goto fail;
    }
    pthread_mutex_lock(&c->lock);
    err = backing_get(c, h, fd, flags, &bk);
    /* A cached backing: the handle must agree with the table we mapped,
     * whose slots we index (sized from our own mapping, not the owner's
     * header). */
    if (err == 0 && (h->table_size != bk->table_size ||
                     h->slot >= (bk->table_size - sizeof(struct pmn__ipc_table_head)) /
                                    sizeof(struct pmn__ipc_slot)))
        err = PMN_E_BAD_HANDLE;
    /* The page size is the file's own (fstatfs), not the handle's word:
     * the verifier rounds the object out to it. */
    if (err == 0 && bk->dax_fd < 0 && h->page_size != bk->page)
        err = PMN_E_BAD_HANDLE;
    if (err == 0 && !inside_file(bk, h))
        err = PMN_E_BAD_HANDLE;
    if (err == 0 && bk->dax_fd >= 0 && h->node != bk->dax_node)
        err = PMN_E_NODE_CHANGED; /* the device is on another node than recorded */
    if (err == 0 && !slot_live(bk, h, NULL))
        err = PMN_E_STALE_HANDLE;
    if (err == 0)
        err = map_get(c, bk, h, &m);
    if (err)
        goto fail;
    pthread_mutex_unlock(&c->lock);

    at = (char *)m->addr + (h->object_offset - h->region_offset);
    /* dax: move_pages does not see device pages; the device's node was
     * checked when its entry was made (ipc-dax.c).  Build the page tables
     * now, as for memfd. */
    if (bk->dax_fd >= 0)
        (void)pmn_prim_populate_read(at, h->object_len);
    err = bk->dax_fd >= 0 ? 0 : verify_object(m, at, h->object_len, h->page_size, h->node);
    /* Freed while we verified: the pages seen may be another object's. */
    if (err == 0 && !slot_live(bk, h, NULL))
        err = PMN_E_STALE_HANDLE;

    pthread_mutex_lock(&c->lock);
    if (err == 0)
        err = open_locked_tail(c, m, h, at);
    if (err) {
        map_put(c, m);
        goto fail;
    }
    bk->used = true;
    c->st.opens++;
    pthread_mutex_unlock(&c->lock);
    *addr = at;
    return 0;
fail:
    if (bk != NULL)
        backing_drop_unused(c, bk);
    c->st.failures++;
    pthread_mutex_unlock(&c->lock);
    return err;
}

int pmn_ipc_close(struct pmn_ipc_cache *c, void *addr)
{
    struct imp_open **pick = NULL;
    int err = -ENOENT;

    if (c == NULL || addr == NULL)
        return -EINVAL;
    pthread_mutex_lock(&c->lock);
    /* The caller does not say which object it closes: a live one goes
     * first, so an open of a freed object keeps the address stale for
     * pmn_ipc_valid() until it too is closed (a false "stale" is safe, a
     * false "live" is not). */
    for (struct imp_open **at = &c->opens; *at; at = &(*at)->next) {
        if ((*at)->addr != addr)
            continue;
        if (pick == NULL || open_live(*at))
            pick = at;
        if (open_live(*pick))
            break;
    }
    if (pick != NULL) {
        struct imp_open *o = *pick;
        if (--o->refs == 0) {
            *pick = o->next;
            map_put(c, o->m);
            free(o);
        }
        c->st.closes++;
        err = 0;
    }
    pthread_mutex_unlock(&c->lock);
    return err;
}

int pmn_ipc_valid(struct pmn_ipc_cache *c, const void *addr)
{
    int err = -ENOENT;

    if (c == NULL || addr == NULL)
        return -EINVAL;
    pthread_mutex_lock(&c->lock);
    /* Every open of the address: stale if any object opened there was
     * freed since, whatever a newer open of the same memory says. */
    for (const struct imp_open *o = c->opens; o; o = o->next) {
        if (o->addr != addr)
            continue;
        if (!open_live(o)) {
            err = PMN_E_STALE_HANDLE;
            break;
        }
        err = 0;
    }
    pthread_mutex_unlock(&c->lock);
    return err;
}

int pmn_ipc_writable(struct pmn_ipc_cache *c, const void *addr)
{
    int ret = -ENOENT;

    if (c == NULL || addr == NULL)
        return -EINVAL;
    pthread_mutex_lock(&c->lock);
    for (const struct imp_open *o = c->opens; o; o = o->next)
        if (o->addr == addr) {
            ret = !o->m->bk->readonly;
            break;
        }
    pthread_mutex_unlock(&c->lock);
    return ret;
}

int pmn_ipc_cache_stats(struct pmn_ipc_cache *c, struct pmn_ipc_cache_stats *out)
{
    struct pmn_ipc_cache_stats st;

    if (c == NULL || !pmn__out_ok(out, PMN__SIZE_TO(struct pmn_ipc_cache_stats, mapped)))
        return -EINVAL;
    pthread_mutex_lock(&c->lock);
    st = c->st;
    pthread_mutex_unlock(&c->lock);
    st.struct_size = sizeof(st);
    pmn__out_put(out, &st, sizeof(st));
    return 0;
}

/* ---- a descriptor for a peer that must not write ---- */

int pmn_ipc_fd_readonly(int fd, int *out)
{
    size_t page;
    bool ok;
    int err;

    if (out != NULL)
        *out = -1;
    if (fd < 0 || out == NULL)
        return -EINVAL;
    /* Only the files libpmnode shares: never a chmod of whatever other
     * file the caller holds. */
    if ((err = shared_file(fd, &ok, &page)) != 0)
        return err;
    return ok ? pmn_prim_reopen_readonly(fd, out) : -EINVAL;
}

/* ---- over a UNIX socket ---- */

int pmn_ipc_send(int sock, const struct pmn_ipc_handle *h, int fd)
{
    if (sock < 0 || h == NULL || h->magic != PMN_IPC_MAGIC)
        return -EINVAL;
    return pmn_prim_send_fd(sock, h, sizeof(*h), fd);
}

int pmn_ipc_recv(int sock, struct pmn_ipc_handle *h, int *fd)
{
    struct pmn_ipc_handle tmp;
    size_t got;
    int err;

    if (fd != NULL)
        *fd = -1;
    if (sock < 0 || h == NULL || fd == NULL)
        return -EINVAL;
    err = pmn_prim_recv_fd(sock, &tmp, sizeof(tmp), &got, fd);
    if (err)
        return err;
    if (got != sizeof(tmp) || tmp.magic != PMN_IPC_MAGIC || tmp.version != PMN_IPC_VERSION) {
        pmn_prim_close(*fd);
        *fd = -1;
        return -EBADMSG;
    }
    memcpy(h, &tmp, sizeof(tmp));
    return 0;
}
