/*
 * segmap.c - which 4 MiB address slots hold libpmnode segments.
 *
 * pmn_free(p) must find p's heap in O(1) without being told, and must not
 * crash on a pointer we never handed out; reading p & ~SEG_MASK blindly
 * would fault on a foreign pointer.  So the one piece of process-wide
 * mutable state in libpmnode lives here: one byte per 4 MiB slot of the
 * 47-bit user address space (pmn__segmap, read inline by heap.h: 32 MiB
 * of zero-initialised .bss, touched only where segments are, a 4 KiB page
 * of it per 16 GiB of address space), set when a segment is mapped and
 * cleared when it is released.  Reads are lock-free; writes are atomic
 * stores to distinct slots.  A context-free lookup has no other home:
 * the pointer is the only input.
 */
#include <stdatomic.h>
#include <stdint.h>

#include "alloc/heap.h"

#define SLOTS PMN__SEGMAP_SLOTS

_Atomic uint8_t pmn__segmap[SLOTS];
#define map pmn__segmap

static uint64_t slots_of(size_t size)
{
    return ((uint64_t)size + PMN__SEG_MASK) >> PMN__SEG_SHIFT;
}

/* The first slot is written last on add and first on remove, so a reader
 * that finds a start finds the whole segment mapped. */
void pmn__segmap_add(uintptr_t seg, size_t size, int large)
{
    uint64_t first = seg >> PMN__SEG_SHIFT, n = slots_of(size);

    if (first + n > SLOTS)
        return;
    for (uint64_t i = 1; i < n; i++)
        atomic_store_explicit(&map[first + i], PMN__SLOT_CONT, memory_order_release);
    atomic_store_explicit(&map[first], large ? PMN__SLOT_LARGE : PMN__SLOT_SMALL,
                          memory_order_release);
}

void pmn__segmap_remove(uintptr_t seg, size_t size)
{
    uint64_t first = seg >> PMN__SEG_SHIFT, n = slots_of(size);

    if (first + n > SLOTS)
        return;
    atomic_store_explicit(&map[first], PMN__SLOT_NONE, memory_order_release);
    for (uint64_t i = 1; i < n; i++)
        atomic_store_explicit(&map[first + i], PMN__SLOT_NONE, memory_order_release);
}

void pmn__segmap_set_shared(uintptr_t seg, bool shared)
{
    uint64_t slot = seg >> PMN__SEG_SHIFT;

    if (slot < SLOTS)
        atomic_store_explicit(&map[slot], shared ? PMN__SLOT_SHARED : PMN__SLOT_SMALL,
                              memory_order_release);
}

uintptr_t pmn__segmap_lookup_slow(uintptr_t addr)
{
    uint64_t slot = addr >> PMN__SEG_SHIFT;

    if (slot >= SLOTS)
        return 0;
    for (;;) {
        unsigned v = atomic_load_explicit(&map[slot], memory_order_acquire);
        if (v == PMN__SLOT_SMALL || v == PMN__SLOT_SHARED || v == PMN__SLOT_LARGE)
            return (uintptr_t)(slot << PMN__SEG_SHIFT);
        if (v != PMN__SLOT_CONT || slot == 0)
            return 0;
        slot--; /* inside a large segment: its header is further down */
    }
}
