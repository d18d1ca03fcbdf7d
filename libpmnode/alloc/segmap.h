/*
 * alloc/segmap.h - segments and the map that finds them (segmap.c).
 *
 * Every heap segment starts at a multiple of PMN__SEG_SIZE (4 MiB), so an
 * object's segment is its address rounded down, once the map says a
 * segment of ours is there: free(p) and pmn_free(p) never dereference a
 * pointer that is not ours.  The map is lock-free for readers.
 */
#ifndef PMN_SEGMAP_H
#define PMN_SEGMAP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PMN__SEG_SHIFT 22
#define PMN__SEG_SIZE ((size_t)1 << PMN__SEG_SHIFT)
#define PMN__SEG_MASK (PMN__SEG_SIZE - 1)

/* The process-wide map from 4 MiB address slots to "segment
 * starts here" / "continuation of a large segment". */
void pmn__segmap_add(uintptr_t seg, size_t size);
void pmn__segmap_remove(uintptr_t seg, size_t size);
/* The segment start for an address in one of our segments, or 0. */
uintptr_t pmn__segmap_lookup_slow(uintptr_t addr);
#define PMN__SEGMAP_SLOTS ((uint64_t)1 << (47 - PMN__SEG_SHIFT))
extern _Atomic uint64_t pmn__segmap[PMN__SEGMAP_SLOTS / 32] __attribute__((visibility("hidden")));

static inline uintptr_t pmn__segmap_lookup(uintptr_t addr)
{
    uint64_t slot = addr >> PMN__SEG_SHIFT, w;

    if (slot >= PMN__SEGMAP_SLOTS)
        return 0;
    w = atomic_load_explicit(&pmn__segmap[slot / 32], memory_order_acquire);
    switch ((w >> ((slot % 32) * 2)) & 3) {
    case 1: /* a segment starts here */ return addr & ~(uintptr_t)PMN__SEG_MASK;
    case 2: /* inside a large segment */ return pmn__segmap_lookup_slow(addr);
    default: return 0;
    }
}

/* The segment start when @addr lies in the first 4 MiB slot of one of our
 * segments (every small object does), else 0; never calls out, for fast
 * paths that hand every other case to a slow path. */
static inline uintptr_t pmn__segmap_start(uintptr_t addr)
{
    uint64_t slot = addr >> PMN__SEG_SHIFT, w;

    if (slot >= PMN__SEGMAP_SLOTS)
        return 0;
    w = atomic_load_explicit(&pmn__segmap[slot / 32], memory_order_acquire);
    return ((w >> ((slot % 32) * 2)) & 3) == 1 ? addr & ~(uintptr_t)PMN__SEG_MASK : 0;
}

#endif /* PMN_SEGMAP_H */
