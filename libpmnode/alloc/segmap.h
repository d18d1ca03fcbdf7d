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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PMN__SEG_SHIFT 22
#define PMN__SEG_SIZE ((size_t)1 << PMN__SEG_SHIFT)
#define PMN__SEG_MASK (PMN__SEG_SIZE - 1)

/* The process-wide map from 4 MiB address slots to what is there: one
 * byte per slot (32 MiB of address space for 47-bit addresses, untouched
 * but for the slots near the heaps' segments), so that a lookup is one
 * byte load: no shift by a variable count, and the fast paths learn a
 * small segment from the map without reading its header.  Process-wide by
 * nature: free(p) of any pointer must find its segment whichever heap made
 * it. */
/* PMN__SLOT_SHARED: a small segment with exported objects (an IPC
 * handle's slot each, alloc/ipc-export.c).  Lookups find it as a small
 * segment; the fast paths' pmn__segmap_is_small() does not, so every free
 * there takes the slow path, which makes the object's handle stale before
 * the block can be reused.  Kept in the map rather than tested in the
 * segment's header: the free's fast paths read one byte where they read
 * two words (the pair of malloc and free 3 % faster at fixed sizes,
 * bench/README.md "Issue 17, 0.12.7"). */
enum {
    PMN__SLOT_NONE = 0,
    PMN__SLOT_SMALL = 1,
    PMN__SLOT_CONT = 2,
    PMN__SLOT_LARGE = 3,
    PMN__SLOT_SHARED = 4
};
void pmn__segmap_add(uintptr_t seg, size_t size, int large);
void pmn__segmap_remove(uintptr_t seg, size_t size);
/* Small segment @seg's slot: PMN__SLOT_SHARED when @shared, else
 * PMN__SLOT_SMALL.  The caller serialises the changes of one segment
 * (alloc/ipc-export.c: under its heap's lock). */
void pmn__segmap_set_shared(uintptr_t seg, bool shared);
/* The segment start for an address in one of our segments, or 0. */
uintptr_t pmn__segmap_lookup_slow(uintptr_t addr);
#define PMN__SEGMAP_SLOTS ((uint64_t)1 << (47 - PMN__SEG_SHIFT))
extern _Atomic uint8_t pmn__segmap[PMN__SEGMAP_SLOTS] __attribute__((visibility("hidden")));

static inline unsigned pmn__segmap_slot(uintptr_t addr)
{
    uint64_t slot = addr >> PMN__SEG_SHIFT;

    return slot < PMN__SEGMAP_SLOTS
               ? atomic_load_explicit(&pmn__segmap[slot], memory_order_acquire)
               : PMN__SLOT_NONE;
}

static inline uintptr_t pmn__segmap_lookup(uintptr_t addr)
{
    switch (pmn__segmap_slot(addr)) {
    case PMN__SLOT_SMALL:
    case PMN__SLOT_SHARED:
    case PMN__SLOT_LARGE: return addr & ~(uintptr_t)PMN__SEG_MASK;
    case PMN__SLOT_CONT: return pmn__segmap_lookup_slow(addr);
    default: return 0;
    }
}

/* Whether @addr lies in a small segment of ours (every small object
 * does) with no exported object, whose start is then addr &
 * ~PMN__SEG_MASK, never NULL (no segment starts in the first 4 MiB); never
 * calls out, for fast paths that hand every other case (large objects and
 * exported segments included) to a slow path, and test the slot alone (a
 * NULL test of the start cost them a compare). */
static inline bool pmn__segmap_is_small(uintptr_t addr)
{
    return pmn__segmap_slot(addr) == PMN__SLOT_SMALL;
}

#endif /* PMN_SEGMAP_H */
