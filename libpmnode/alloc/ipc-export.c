/*
 * alloc/ipc-export.c - the exporting side of IPC handles: an arena or
 * slab object, or a whole region, becomes a struct pmn_ipc_handle.
 *
 * The handle names the backing's one file (place/shared.c), the region the
 * importer maps (a segment of the arena, or the bare region), the object
 * inside it, its node, and a slot of the file's generation table.  The
 * segment and the region each count their live exported objects: a free
 * in a segment whose count is zero never looks further (heap.h), and a
 * free in one whose count is not takes the slow path, which lets the
 * object's slot go stale here before the block can be reused.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "alloc/heap.h"
#include "os/prim.h"

static int fill(const struct pmn_region *r, const void *p, size_t len, struct pmn_ipc_handle *h,
                int *fd, _Atomic unsigned *seg_cnt)
{
    struct pmn_backing *b = r->b;
    uint64_t base = pmn_region_offset(r); /* in the file, or in the dax device */
    uint64_t off = base + (uint64_t)((const char *)p - (const char *)r->addr);
    uint32_t slot, table;
    uint64_t gen;
    int err;

    if (b->sh == NULL)
        return PMN_E_NOT_SHAREABLE;
    /* Checked before a slot is taken: a dax name no importer could open
     * leaves nothing behind. */
    if (b->type == PMN_BACKING_DAX && !pmn__ipc_dax_name_ok(pmn__dax_name(b), sizeof(h->dax_name)))
        return PMN_E_NOT_SHAREABLE;
    err =
        pmn__shfile_export(b, p, off, len, seg_cnt, (_Atomic unsigned *)&r->exported, &slot, &gen);
    if (err)
        return err;
    memset(h, 0, sizeof(*h));
    h->magic = PMN_IPC_MAGIC;
    h->version = PMN_IPC_VERSION;
    h->kind = PMN_IPC_KIND_MEMFD;
    h->backing_id = pmn__shfile_id(b, &h->dev, &h->ino, &table);
    h->table_size = table;
    h->region_offset = base;
    h->region_len = r->size;
    h->object_offset = off;
    h->object_len = len;
    h->page_size = b->huge_size ? b->huge_size : b->page;
    h->gen = gen;
    h->slot = slot;
    h->node = r->node;
    h->owner_pid = pmn_prim_getpid();
    h->owner_fd = pmn__shfile_fd(b);
    if (b->type == PMN_BACKING_DAX) {
        /* The memory is the device's: its unit is the device's alignment,
         * and the fd passed holds the table only. */
        h->page_size = b->granule;
        err = pmn__ipc_dax_fill(b, h);
        if (err)
            return err;
    }
    *fd = h->owner_fd;
    return 0;
}

/*
 * Small segment @seg's slot in the segment map follows its count of
 * exported objects (PMN__SLOT_SHARED while it is not 0, segmap.h), so
 * that the fast paths of free need not read the count.  An export counts
 * in (place/shared.c, under the file's lock), then comes here before its
 * handle is returned; a free that counts out comes here after.  The
 * heap's lock orders the map's changes, each made from the count read
 * under it: a change that read 0 and one that read the export's count in
 * are ordered, and the later wins, so once an export has come here the
 * slot stays PMN__SLOT_SHARED until a change reads 0.  The slot may read
 * PMN__SLOT_SHARED with the count at 0 (frees then take the slow path
 * until the next change), never the other way while a returned handle's
 * object is live.  Large segments are never on the fast paths.
 */
static void map_follow_locked(struct pmn__segment *seg)
{
    if (!seg->large)
        pmn__segmap_set_shared((uintptr_t)seg,
                               atomic_load_explicit(&seg->exported, memory_order_relaxed) != 0);
}

static void map_follow(struct pmn__segment *seg)
{
    pthread_mutex_lock(&seg->heap->lock);
    map_follow_locked(seg);
    pthread_mutex_unlock(&seg->heap->lock);
}

int pmn_ipc_get(const void *p, struct pmn_ipc_handle *h, int *fd)
{
    struct pmn__segment *seg;
    size_t len;
    int err;

    if (p == NULL || h == NULL || fd == NULL)
        return -EINVAL;
    *fd = -1;
    seg = pmn__segment_of(p);
    if (seg == NULL)
        return PMN_E_FOREIGN;
    if (seg->large && (const char *)p != seg->pages[0].start)
        return PMN_E_FOREIGN;
    len = pmn__usable(p);
    if (len == 0)
        return PMN_E_FOREIGN; /* not a live object's start */
    err = fill(seg->region, p, len, h, fd, &seg->exported);
    /* Whatever fill() answered: a slot it took stays until the free. */
    map_follow(seg);
    return err;
}

int pmn_ipc_get_region(const struct pmn_region *r, struct pmn_ipc_handle *h, int *fd)
{
    if (r == NULL || h == NULL || fd == NULL)
        return -EINVAL;
    *fd = -1;
    return fill(r, r->addr, r->size, h, fd, NULL);
}

void pmn__ipc_on_free(struct pmn__segment *seg, const void *p)
{
    pmn__shfile_forget(seg->region->b, p);
    if (atomic_load_explicit(&seg->exported, memory_order_relaxed) == 0)
        map_follow(seg);
}

void pmn__ipc_on_release(struct pmn__segment *seg)
{
    if (atomic_load_explicit(&seg->exported, memory_order_relaxed) != 0)
        pmn__shfile_forget_range(seg->region->b, seg, seg->size);
    map_follow_locked(seg);
}
