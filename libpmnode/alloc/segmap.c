/*
 * segmap.c - which 4 MiB address slots hold libpmnode segments.
 *
 * pmn_free(p) must find p's heap in O(1) without being told, and must not
 * crash on a pointer we never handed out; reading p & ~SEG_MASK blindly
 * would fault on a foreign pointer.  So the one piece of process-wide
 * mutable state in libpmnode lives here: two bits per 4 MiB slot of the
 * 47-bit user address space (pmn__segmap, read inline by heap.h) (8 MiB of zero-initialised .bss, touched only
 * where segments are), set when a segment is mapped and cleared when it is
 * released.  Reads are lock-free; writes are atomic read-modify-writes on
 * distinct slots.  A context-free lookup has no other home: the pointer is
 * the only input.
 */
#include <stdatomic.h>
#include <stdint.h>

#include "alloc/heap.h"

#define SLOTS PMN__SEGMAP_SLOTS
#define PER_WORD 32 /* 2 bits per slot */

enum { SLOT_NONE = 0, SLOT_START = 1, SLOT_CONT = 2 };

_Atomic uint64_t pmn__segmap[SLOTS / PER_WORD];
#define map pmn__segmap

static void set_slot(uint64_t slot, uint64_t val)
{
    _Atomic uint64_t *w = &map[slot / PER_WORD];
    unsigned shift = (unsigned)(slot % PER_WORD) * 2;

    atomic_fetch_and_explicit(w, ~((uint64_t)3 << shift), memory_order_release);
    if (val)
        atomic_fetch_or_explicit(w, val << shift, memory_order_release);
}

static unsigned get_slot(uint64_t slot)
{
    uint64_t w = atomic_load_explicit(&map[slot / PER_WORD], memory_order_acquire);
    return (unsigned)(w >> ((slot % PER_WORD) * 2)) & 3;
}

/* Slots a segment of @size covers (a large one need not end on a slot). */
static uint64_t slots_of(size_t size)
{
    return ((uint64_t)size + PMN__SEG_MASK) >> PMN__SEG_SHIFT;
}

void pmn__segmap_add(uintptr_t seg, size_t size)
{
    uint64_t first = seg >> PMN__SEG_SHIFT, n = slots_of(size);

    if (first + n > SLOTS)
        return;
    for (uint64_t i = 1; i < n; i++)
        set_slot(first + i, SLOT_CONT);
    set_slot(first, SLOT_START);
}

void pmn__segmap_remove(uintptr_t seg, size_t size)
{
    uint64_t first = seg >> PMN__SEG_SHIFT, n = slots_of(size);

    if (first + n > SLOTS)
        return;
    set_slot(first, SLOT_NONE);
    for (uint64_t i = 1; i < n; i++)
        set_slot(first + i, SLOT_NONE);
}

uintptr_t pmn__segmap_lookup_slow(uintptr_t addr)
{
    uint64_t slot = addr >> PMN__SEG_SHIFT;

    if (slot >= SLOTS)
        return 0;
    for (;;) {
        unsigned v = get_slot(slot);
        if (v == SLOT_START)
            return (uintptr_t)(slot << PMN__SEG_SHIFT);
        if (v != SLOT_CONT || slot == 0)
            return 0;
        slot--; /* inside a large segment: its header is further down */
    }
}
