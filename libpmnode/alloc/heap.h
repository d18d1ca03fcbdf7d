/*
 * alloc/heap.h - the allocation engine shared by arenas and slabs
 * (internal).
 *
 * alloc/ carves a backing's memory into objects:
 *
 *   heap.c    the engine: segments, pages, thread heaps, the free paths
 *   segmap.c  which address slots hold our segments (pmn_free(p) of any
 *             pointer, without a lookup table per heap)
 *   arena.c   malloc-style size classes, realloc, pmn_free, stats JSON
 *   slab.c    one fixed object size, bulk calls, a cap
 *
 *
 * Memory comes from a backing in segments: 4 MiB regions aligned to 4 MiB,
 * so the segment of any object is (p & ~SEG_MASK) and its header, the
 * slice map and page descriptors, sit in the segment's first 64 KiB slice.
 * The other 63 slices are grouped into pages; a page holds blocks of one
 * size, a multiple of 16 bytes (a free block keeps two words of the
 * library's: see "Misuse" below).  Each
 * thread that allocates from a heap gets a thread heap (theap) that owns
 * pages: the owner pops and pushes its pages' free lists without
 * atomics or locks; another thread's free is a lock-free push onto the
 * page's thread_free stack, which the owner collects when its free list
 * runs dry, or, the first into a page that is full, onto the owner's
 * delayed list, which the owner takes when a class of its runs out of
 * pages with room (pmn__free_remote, "Full pages").  In front of its pages
 * each theap keeps a small free cache
 * per class (struct pmn__fcache; heap.c, "Free cache"): the owner's frees
 * go there first and its mallocs take from there first.  The heap mutex
 * is taken only to hand out slices, map or release segments, and adopt or
 * orphan thread heaps.
 *
 * Objects larger than a page class get a segment of their own (a "large"
 * segment, any multiple of 4 MiB, still from the backing).
 *
 * Residency.  A small segment of a lazily mapped region (anonymous or
 * memfd memory) is bound to its node at map and populated in pieces, each
 * verified before use, under the heap lock (heap.c seg_ensure): the header
 * struct at map, and a page's blocks just ahead of pmn__page_extend(),
 * so what a segment holds
 * resident follows what was handed out, not its 4 MiB nor a whole page per
 * size class.  The popmap says which 4 KiB are populated; a new page takes
 * free slices still populated first, and a page emptied while the heap
 * holds more populated memory than its live pages plus the small cache's
 * bound and a slack (heap.c keep_bytes) gives its memory back (heap.c
 * seg_purge), to be populated and verified again on reuse;
 * pmn__heap_trim() gives the rest back on request.
 *
 * Misuse, in every build.  A free block's first two words are the
 * library's: the link of the list it is on, then its mark, a value that
 * says who freed it, mixed with the block's address and a secret drawn once
 * per process (pmn__mark_secret), so that no ordinary data and no copy of
 * another free block reads as one:
 *   owner key   on the owner's free list or in its free cache: its own
 *               frees, the blocks a collect took in, and never-used blocks
 *               threaded by pmn__page_extend() (written with their link);
 *   remote key  pushed by another thread, waiting for the owner's collect.
 * Handing a block out sets its mark to 0.  A free is accepted only for a
 * block start below the page's threaded part (pmn__page.limit; a multiply
 * by pmn__page.divm tests the offset) whose mark is neither key: a second
 * free of a block (in a row or not, by any thread), a pointer into an
 * object, or into the page's tail is refused before anything is written.
 * The mark lives on the block's own cache line, which a free writes and a
 * malloc reads anyway, so the fast paths touch no other line for it (the
 * bitmaps this replaces cost a line of their own on each, and another
 * thread's free dirtied the line the owner's malloc wrote).  The owner
 * reads and writes marks with plain moves; another thread's free sets the
 * remote key with a compare-and-swap from the value it checked, so of two
 * threads freeing one block only one gets it, and an owner's free that
 * wrote its key first makes the swap fail.  The one race no check closes
 * is the owner's free landing between another thread's swap and that
 * thread's push: the owner's key then overwrites the remote one, and the
 * block is on both lists.  A collect that walks the thread_free stack
 * (heap.c collect_some: when the page's own list is not empty) finds it
 * marked with the owner's key, knows the owner freed it too, drops the
 * second copy and reports it (PMNODE_LOG, and pmn__arena_on_misuse: the
 * shim aborts there, as glibc would).  A collect into an empty list, the
 * common case, takes the stack whole without reading its blocks (since
 * 0.12.5: a read of each was a cache miss, one after the other): such a
 * block is then handed out twice, as in other allocators.  What the marks
 * cannot see: a program that writes into a block's first 16 bytes after
 * freeing it (a use after free) erases what the library keeps there, as it
 * would erase any allocator's free-list link.  Large objects keep a live
 * flag read under the heap lock.
 */
#ifndef PMN_HEAP_H
#define PMN_HEAP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc/segmap.h"
#include "place/backing.h"

#define PMN__SLICE_SHIFT 16
#define PMN__SLICE_SIZE ((size_t)1 << PMN__SLICE_SHIFT)
#define PMN__SLICES (PMN__SEG_SIZE >> PMN__SLICE_SHIFT) /* 64; slice 0 is the header */
#define PMN__PAGE_MAX_SLICES 32                         /* 2 MiB */
#define PMN__NCLASSES 64
#define PMN__SMALL_MAX ((size_t)256 << 10) /* larger objects get a large segment */
#define PMN__SEG_MAGIC 0x706d6e7365676d74ull
#define PMN__POP_SHIFT 12    /* a small segment's popmap: one bit per 4 KiB */
#define PMN__HEADER_SLICES 1 /* slice 0: the segment header */

struct pmn__heap;
struct pmn__theap;

/* ThreadSanitizer builds make the owners' plain counts atomic (below). */
#if defined(__SANITIZE_THREAD__)
#define PMN__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PMN__TSAN 1
#endif
#endif

/*
 * A counter one thread writes and others read: the owner's pops and pushes
 * (pages, free caches), a thread's frees into other threads' pages.  The
 * writer adds to it plainly (pmn__cnt_add), one add to memory on x86-64;
 * readers (the stats, under the heap lock, and the code that folds counts
 * into a heap's retired totals) use pmn__cnt_get(), a relaxed atomic load.
 * In C11's terms the plain add races with such a load; it is one aligned
 * word that only its writer changes, which the compilers and CPUs we build
 * for write whole, so a reader sees the count before or after an add.  The
 * relaxed atomic store of a load plus one that it replaces was three
 * instructions, and GCC stopped sharing loads across it: the 64-byte pair
 * ran about 0.1 ns (3 %) longer (bench/README.md "Issue 17, 0.12.4").
 * ThreadSanitizer builds add atomically, so that they check the rest.
 */
typedef uint64_t pmn__cnt_t;

static inline void pmn__cnt_add(pmn__cnt_t *c, uint64_t v)
{
#ifdef PMN__TSAN
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
#else
    *c += v;
#endif
}

static inline uint64_t pmn__cnt_get(const pmn__cnt_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static inline void pmn__cnt_set(pmn__cnt_t *c, uint64_t v)
{
    __atomic_store_n(c, v, __ATOMIC_RELAXED);
}

struct pmn__page {
    /* First cache line: every field the owner's alloc and free paths read
     * or write, so that a free touches one line of its page. */
    void *free; /* owner's free list */
    /* Other threads' frees (a lock-free stack of blocks), and in bit 0
     * PMN__TF_DELAYED while the page is on its owner's full queue: the
     * next of those frees goes to the owner's delayed list instead (see
     * "Full pages" at pmn__free_remote). */
    _Atomic(uintptr_t) thread_free;
    struct pmn__theap *owner;
    /* UINT64_MAX / block_size + 1: an offset o is a multiple of the block
     * size exactly when o * divm (mod 2^64) < divm, for every o below 2^32
     * (a multiply and a compare, where o % block_size divides). */
    uint64_t divm;
    /* The low 32 bits of the page's start address (its first slice's):
     * a block's offset in the page is its address's low 32 bits less
     * these (pmn__block_start), one subtraction where the segment mask,
     * the slice and a shift took four. */
    uint32_t base;
    uint32_t used; /* allocated, as the owner knows it */
    uint8_t cls;
    uint8_t in_full; /* on the owner's full queue */
    uint8_t live;    /* slices belong to this page */
    uint8_t slice;   /* first slice: the page starts at segment + slice * 64 KiB */
    /* Bytes from the page's start threaded onto the free list so far
     * (reserved * block_size, or more: a page that other threads' frees
     * emptied is threaded anew from its start, heap.c collect_some, and
     * keeps its limit): blocks past it have never been handed out and
     * carry no mark; a free of one is refused.  Written by the owner
     * (pmn__page_extend), read by any thread's free. */
    _Atomic uint32_t limit;
    /* The owner's pops and pushes of this page (a page's own counters: on
     * the line the fast paths write anyway, so counting costs no cache
     * line of its own, where the theap's per-class counters did: 12 % of
     * glibc-simple's time under the shim).  Written by the owner only
     * (relaxed, plain moves); pmn__heap_stats() sums them over the live
     * pages under the heap lock and slices_give() folds them into the
     * heap's retired counts when the page goes. */
    pmn__cnt_t nalloc, nfree;
    /* The rest is off the fast paths. */
    char *start; /* first block */
    /* Off the first line since 0.12.4: the fast paths read it only in
     * sanitizer and valgrind builds (poisoning), for which it made room
     * for base. */
    uint32_t block_size;
    /* Blocks threaded onto the free list so far: the rest, from
     * start + reserved * block_size on, are threaded a few at a time when
     * the free list runs dry (pmn__page_extend), so a fresh page costs
     * nothing per block.  Below limit they are free blocks (owner key)
     * of a page threaded anew; past it, never handed out. */
    uint32_t reserved;
    uint32_t capacity; /* blocks in the page */
    /* Bytes from start on known populated (the segment's popmap says so
     * for each 4 KiB): pmn__page_extend() populates further, under the
     * heap lock, before it threads blocks past it. */
    uint32_t popped;
    uint16_t nslices;
    struct pmn__page *next, *prev; /* in the owner's queue for its class */
    uintptr_t alloc_tp;            /* large objects: the allocating thread */
    uint64_t born_ns;              /* when its slices were taken (heap.c, purge_wanted) */
} __attribute__((aligned(64)));    /* two threads' pages side by side in a
                                    segment must not share a line */
_Static_assert(__builtin_offsetof(struct pmn__page, nfree) + sizeof(uint64_t) <= 64,
               "the fast paths' fields fit the page's first cache line");

struct pmn__segment {
    uint64_t magic;
    struct pmn__heap *heap;
    struct pmn_region *region;
    size_t size;          /* whole segment (large: > SEG_SIZE) */
    uint64_t free_slices; /* bit i: slice i free (guarded by heap lock) */
    /* Small segments of a lazily mapped region are populated (and
     * verified) piece by piece, under the heap lock: the header struct at
     * map, and each page's blocks as pmn__page_extend() reaches them.
     * Bit i: the 4 KiB at
     * i * 4 KiB is populated; pop_bytes counts them (all of it for a
     * region populated whole at map). */
    uint64_t popmap[PMN__SEG_SIZE >> (PMN__POP_SHIFT + 6)];
    uint64_t pop_bytes;
    bool large;
    bool keep; /* reserved (pmn_*_reserve): populated, never released until destroy */
    /* Slices below this one have been populated, some of them at least
     * (seg_ensure): the segment's frontier, past which a page populates
     * ahead (heap.c page_populate).  Lock held. */
    uint8_t pop_hi;
    /* Live exported objects in the segment (alloc/ipc-export.c).  While
     * it is not 0 a small segment's slot in the segment map reads
     * PMN__SLOT_SHARED, so the fast paths hand its frees to the slow path,
     * which reads this count and makes the object's handle stale (the
     * table's lookup).  Changed under the backing's shared-file lock; the
     * map follows it under the heap's lock. */
    _Atomic unsigned exported;
    struct pmn__segment *next, *prev; /* heap's segment list */
    /* The page each slice belongs to; &pmn__no_page for a slice of no
     * live page in a small segment (the header's, free ones), NULL in a
     * large segment past its first. */
    struct pmn__page *slice_page[PMN__SLICES];
    struct pmn__page pages[PMN__SLICES];
};

/* The page of a small segment's slices that hold no live page: never
 * live, and owned by a theap no thread is bound to (its tp is 0), so the
 * fast paths of free, which ask whether the page's owner is the calling
 * thread, send a pointer there to the slow path without testing for NULL
 * first (which refuses it, !live).  pmn__page_of() answers NULL for it.
 * Immutable; process-wide as the segment map is. */
extern struct pmn__page pmn__no_page __attribute__((visibility("hidden")));

/* Counters an owner thread updates with plain loads and stores (relaxed
 * atomics): readers in other threads see a consistent, slightly stale sum. */
struct pmn__counters {
    _Atomic uint64_t allocs, frees, remote_frees, alloc_bytes, free_bytes;
};

struct pmn__queue {
    struct pmn__page *head, *tail;
};

/*
 * A thread's free cache of one class: blocks of its own pages that the
 * thread freed, kept for its next malloc of the class instead of going
 * back to their pages (heap.c, "Free cache").  A block on it is free as
 * far as misuse goes (it carries the owner's key, so a second free of it
 * by any thread is a double free) and used as far as its page goes (the
 * page's @used still counts it, so a page with a cached block never
 * retires).  Only the owner thread touches it, apart from the stats'
 * relaxed reads of the counters and reset (no thread may use the heap
 * then).  It shares its class's line in the theap with the queue of pages
 * (struct pmn__tclass): a malloc that finds the cache empty reads the
 * page queue's head from the line it loaded already.
 */
struct pmn__fcache {
    void *head;   /* LIFO, linked through each block's first word */
    uint32_t n;   /* blocks on it (owner only; pmn__fcache_count) */
    uint32_t max; /* most it holds (0: the heap is capped, no cache) */
    /* Pops, as a page counts its own, and blocks fcache_return() put back
     * on their pages.  Pushes are not counted: every block pushed has been
     * popped, is on the cache, or went back, so pushes = allocs + n +
     * returned (pmn__heap_stats).  Counting them in the free's fast path
     * made the 64-byte pair 0.15-0.2 ns (4-5 %) slower (bench/README.md
     * "Issue 17, 0.12.4"). */
    pmn__cnt_t allocs, returned;
};

/* Emptied pages a thread keeps beyond one spare per class (pmn__theap.kept). */
#define PMN__KEPT 128

struct __attribute__((aligned(64))) pmn__theap {
    _Atomic uintptr_t tp; /* thread pointer of the thread using it, 0 if none */
    struct pmn__heap *heap;
    struct pmn__theap *next; /* heap's list of all thread heaps */
    bool orphan;             /* its thread exited; free for adoption */
    bool share;              /* capped heap: pages that become empty go to the heap's pool */
    /* Bound by a malloc and barely used yet: the slow-path allocations
     * left before the thread may no longer trade it for the orphan its
     * first free of an exited thread's object lands in (heap.c
     * theap_trade).  Owner only. */
    uint8_t young;
    struct pmn__queue full[PMN__NCLASSES];
    /* One empty page kept per class, so a size that comes and goes does not
     * give its page back and take it again under the heap lock each time. */
    struct pmn__page *spare[PMN__NCLASSES];
    /* Emptied pages kept beyond the spares, oldest first, within the
     * small cache's bound (heap.c page_keep): a page of a class whose
     * objects come and go is reused with its free list, instead of going
     * back to the heap and being made anew (threaded again, under the
     * lock).  Each stays on its queue; this only says which to give back
     * first.  Owner only. */
    struct pmn__page *kept[PMN__KEPT];
    unsigned nkept;
    unsigned trim_seen; /* the heap's trim_gen when its caches last went back */
    /* Frees this thread made of objects on other threads' pages (the
     * slow path), per class of the object; remote_frees counts them all.
     * The owners' own pops and pushes are counted on their pages
     * (pmn__page.nalloc, nfree). */
    pmn__cnt_t frees[PMN__NCLASSES];
    pmn__cnt_t remote_frees;
    /* Per class, what the owner's malloc and free fast paths read: the
     * free cache and the queue of pages with room, on one cache line. */
    struct pmn__tclass {
        struct pmn__fcache fc;
        struct pmn__queue pages; /* pages with free blocks, current first */
    } __attribute__((aligned(64))) cl[PMN__NCLASSES];
    /* Blocks other threads freed into its full pages, the first of each
     * page since it filled (pmn__free_remote, "Full pages"): a lock-free
     * stack linked through each block's first word, which the owner takes
     * whole when a class's queue has no page with room left (heap.c
     * delayed_drain).  On a line of its own: other threads write it. */
    _Atomic uintptr_t delayed __attribute__((aligned(64)));
};

/* The owner's change of @fc's count of blocks, and another thread's read
 * of it (the stats): a plain add and a relaxed load, as pmn__cnt_t.  Of
 * 32 bits, beside max: as a pmn__cnt_t the free's fast path took two
 * instructions more (GCC worked out the class line's address twice). */
static inline void pmn__fcache_n_add(struct pmn__fcache *fc, uint32_t v)
{
#ifdef PMN__TSAN
    __atomic_store_n(&fc->n, __atomic_load_n(&fc->n, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
#else
    fc->n += v;
#endif
}

static inline uint32_t pmn__fcache_count(const struct pmn__fcache *fc)
{
    return __atomic_load_n(&fc->n, __ATOMIC_RELAXED);
}

/* Thread -> theap cache in the heap, indexed by a hash of the thread
 * pointer: read-mostly, so threads share its cache lines without bouncing. */
#define PMN__TC_SIZE 64
struct pmn__tcentry {
    _Atomic uintptr_t tp;
    struct pmn__theap *_Atomic th;
};

struct pmn__heap {
    struct pmn__tcentry tc[PMN__TC_SIZE];
    struct pmn_backing *b;
    bool is_slab;
    bool dead;
    /* A forked child's copy of a heap on its parent's shared file (a
     * shareable backing, pmn_ipc(3)): the pages, their free lists and the
     * blocks are the parent's memory, so every call that would change them
     * answers -EBUSY here (pmn__heap_forked_shared, alloc/fork.c). */
    bool forked;
    atomic_int refs; /* the owner + each thread binding */
    /* fork.c's list of live heaps (its lock): from pmn__heap_new to the
     * last unref. */
    struct pmn__fork_node fork;
    pthread_mutex_t lock; /* slices, segments, theaps */
    unsigned nclasses;
    uint32_t class_size[PMN__NCLASSES];
    uint16_t class_slices[PMN__NCLASSES];
    struct pmn__segment *segments;    /* small segments in use or empty */
    struct pmn__segment *large;       /* large segments */
    struct pmn__segment *large_cache; /* freed large segments kept for reuse */
    void (*on_misuse)(void *p);       /* told of a double free found too late */
    /* large.c: committed bytes on large_cache (lock), their bound when
     * release_empty, and whether large objects are populated whole at
     * allocation (else bound and left to the program's first touch). */
    uint64_t large_cache_bytes, large_cache_max;
    bool large_populate;
    bool large_cache_sized; /* the caller chose the bound: extents do not age out */
    unsigned empty_segments;
    /* Small segments with at least one free slice (lock).  slices_take()
     * stops looking after that many, and a segment that gets a free slice
     * back moves to the front of the list, so a heap of many full
     * segments is not walked for every new page (heap.c seg_find). */
    unsigned nonfull_segments;
    unsigned retain;
    bool release_empty;
    /* Populated memory in free small slices kept for reuse beyond the
     * live pages (heap.c keep_bytes; pmn_arena_opts.small_cache_bytes). */
    uint64_t small_cache_max;
    /* Bytes of the pages on every theap's kept list (page_keep; lock not
     * needed: each owner adds and takes its own, atomically). */
    _Atomic uint64_t kept_bytes;
    /* pmn__heap_trim() calls so far: a thread whose kept list is older
     * gives it back at its next slow path (heap.c trim_sync). */
    _Atomic unsigned trim_gen;
    uint64_t cap; /* most bytes in pages and large objects; 0 = none */
    /* Capped heaps: pages emptied by their owner, ready (free list
     * threaded) for any thread, linked through next; guarded by lock.
     * npool is read without the lock to skip it when empty. */
    struct pmn__page *pool[PMN__NCLASSES];
    _Atomic unsigned npool;
    size_t reserved_slices; /* slices of kept (reserved) segments */
    _Atomic uint64_t resident, peak;
    _Atomic uint64_t populated; /* bytes of segments populated (pmn_alloc_stats.populated) */
    _Atomic uint64_t purged;    /* bytes of free slices given back (heap.c, seg_purge) */
    _Atomic uint64_t active;    /* bytes in live pages and large segments */
    _Atomic uint64_t failures;
    struct pmn__theap *theaps;
    struct pmn__counters large_c; /* large objects (any thread, atomic adds) */
    /* Pops and pushes of pages that are gone (slices_give, release_all),
     * per class; guarded by lock.  pmn__heap_stats() adds the live pages'
     * own counts to these. */
    uint64_t retired_allocs[PMN__NCLASSES], retired_frees[PMN__NCLASSES];
};

/* Memory checkers: AddressSanitizer builds poison free blocks; debug_full
 * builds tell valgrind which blocks are objects (MALLOCLIKE/FREELIKE), so
 * use after free and leaks inside an arena are reported like malloc's. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define VG_ALLOC(p, n) ((void)0)
#define VG_FREE(p) ((void)0)
#elif defined(PMN_DEBUG_FULL) && __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define POISON(p, n) ((void)VALGRIND_MAKE_MEM_NOACCESS((p), (n)))
#define UNPOISON(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
#define VG_ALLOC(p, n) VALGRIND_MALLOCLIKE_BLOCK((p), (n), 0, 0)
#define VG_FREE(p) VALGRIND_FREELIKE_BLOCK((p), 0)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#define VG_ALLOC(p, n) ((void)0)
#define VG_FREE(p) ((void)0)
#endif

/* The calling thread's bindings: a small cache searched on every call. */
#define PMN__TLS_SLOTS 8
struct pmn__tls_slot {
    struct pmn__heap *heap;
    struct pmn__theap *th;
};
extern __thread struct pmn__tls_slot pmn__tls[PMN__TLS_SLOTS]
    __attribute__((visibility("hidden")));

/* ---- free marks (see "Misuse" at the top) ---- */

/* The secret in every mark: drawn once per process, before the first heap
 * exists (pmn__heap_init), and never changed, since marks written with it
 * stay in free blocks.  Process-wide because blocks outlive any one heap's
 * view of them: free(p) meets marks without knowing the heap first. */
extern uintptr_t pmn__mark_secret __attribute__((visibility("hidden")));

static inline uintptr_t pmn__key_owner(const void *p)
{
    return pmn__mark_secret ^ (uintptr_t)p;
}

/* The owner key with its lowest bit flipped: a mark is either key when
 * it differs from the owner key in that bit at most (one compare). */
static inline uintptr_t pmn__key_remote(const void *p)
{
    return pmn__key_owner(p) ^ 1;
}

/* The mark word of block @p (its second word). */
static inline _Atomic uintptr_t *pmn__mark(void *p)
{
    return (_Atomic uintptr_t *)p + 1;
}

/* @p's mark as a free path reads it, @p possibly free.  Memory checkers
 * see a free block as inaccessible: in AddressSanitizer builds a poisoned
 * mark is a free block's (owner key) without reading it; in debug_full
 * builds valgrind is told not to report the read. */
static inline uintptr_t pmn__mark_get(const void *p)
{
#if defined(__SANITIZE_ADDRESS__)
    if (__asan_address_is_poisoned((const char *)p + sizeof(uintptr_t)))
        return pmn__key_owner(p);
    return atomic_load_explicit(pmn__mark((void *)p), memory_order_relaxed);
#elif defined(PMN_DEBUG_FULL) && __has_include(<valgrind/memcheck.h>)
    uintptr_t v;
    VALGRIND_DISABLE_ERROR_REPORTING;
    v = atomic_load_explicit(pmn__mark((void *)p), memory_order_relaxed);
    VALGRIND_ENABLE_ERROR_REPORTING;
    return v;
#else
    return atomic_load_explicit(pmn__mark((void *)p), memory_order_relaxed);
#endif
}

static inline bool pmn__mark_is_free(const void *p, uintptr_t v)
{
    return (v ^ pmn__key_owner(p)) <= 1;
}

/* Whether @p is the start of a block of small page @pg that has been
 * threaded (handed out or on a free list): a free of anything else is
 * refused without reading it. */
static inline bool pmn__block_start(const struct pmn__page *pg, const void *p)
{
    uint32_t off = (uint32_t)(uintptr_t)p - pg->base;

    return off < atomic_load_explicit(&pg->limit, memory_order_relaxed) &&
           (uint64_t)off * pg->divm < pg->divm;
}

/* Whether @p is a live block of small page @pg: a block start whose mark
 * is neither key (exact for the owner and for any thread the object was
 * passed to). */
static inline bool pmn__block_live(const struct pmn__page *pg, const void *p)
{
    return pmn__block_start(pg, p) && !pmn__mark_is_free(p, pmn__mark_get(p));
}

/*
 * The block size for objects of @bs bytes aligned to @a (arena classes,
 * slabs): 2 KiB blocks take one cache line more (2112 bytes) when the
 * alignment asked is at most a line.  Blocks 2 KiB apart start in only 2
 * of the 64 sets of a 48 KiB 12-way L1 data cache (24 lines), so the first
 * lines of a burst of 32 of them (a network stack's receive batch, whose
 * headers are read and written) evict each other; 33 lines apart they
 * fall into 32 different sets.  1 and 3 KiB strides reach 4 sets (48
 * lines), enough for such a burst, and measured no different padded.
 * Measured on 2 KiB slab objects, 32 allocated, touched and freed per
 * round (bench/README.md, "Issue 17, 0.12.0"): 5.7 -> 4.4 ns per object
 * in one thread, 15.7 -> 4.4 with two threads on one slab (their pages
 * 64 KiB apart).  The cost is the line: a 64 KiB page holds 31 such
 * objects instead of 32.  An alignment above a line keeps 2048 (and the
 * packing exact); from 4 KiB on blocks stay multiples of the page size,
 * which callers registering buffers with a device count on.
 */
static inline uint32_t pmn__block_spread(uint32_t bs, size_t a)
{
    if (a <= 64 && bs == 2048)
        return bs + 64;
    return bs;
}

/* heap.c */
int pmn__heap_init(struct pmn__heap *h, struct pmn_backing *b, bool is_slab, unsigned retain,
                   bool release_empty, uint64_t cap);
void pmn__heap_destroy(struct pmn__heap *h);
void pmn__heap_reset(struct pmn__heap *h);
/* pmn_arena_trim(): give back the populated memory of free slices, the
 * empty segments beyond retain and the large cache; the bytes that went
 * (populated before less after) in *@released when not NULL.  0. */
int pmn__heap_trim(struct pmn__heap *h, uint64_t *released);
/* large.c: give cached large segments back down to @max bytes; lock held. */
void pmn__large_cache_trim(struct pmn__heap *h, uint64_t max);
/* Bind a theap of @h to the calling thread: @prefer when it is an orphan
 * (the owner of the object a thread's first call frees), else the first
 * orphan, else a new one.  NULL when the heap is destroyed or forked, or
 * no memory; the caller sets the error. */
struct pmn__theap *pmn__theap_bind(struct pmn__heap *h, struct pmn__theap *prefer);
/* Called in a thread whose theap @th is being unbound (the thread's exit,
 * or its heap's destroy), before @th can be orphaned and adopted: a caller
 * that caches its thread's theap outside the heap (the LD_PRELOAD shim's
 * initial-exec TLS) drops it here, so that a cached theap is always the
 * calling thread's own and its fast paths need not check it.  Set once,
 * before any theap exists; NULL when nobody caches. */
extern void (*pmn__unbind_hook)(struct pmn__theap *th) __attribute__((visibility("hidden")));
void *pmn__heap_alloc_slow(struct pmn__heap *h, struct pmn__theap *th, unsigned cls);
/* After the owner's free: move a page off the full queue, or keep or give
 * back a page that became empty.  Returns 0, so that the free path ends
 * in a tail call here. */
int pmn__page_after_free(struct pmn__theap *th, struct pmn__page *pg);
/* Thread the next never-used blocks of @pg (its owner's, free list empty
 * or not) onto its free list, populating (and verifying) them first when
 * the page's populated part does not reach them: 1 done, 0 when every
 * block has been threaded, or the populate's error (nothing threaded). */
int pmn__page_extend(struct pmn__page *pg);
/* Map, populate and verify kept segments until @slices page slices (each
 * 64 KiB) are reserved; pages of @page_slices slices must fit whole.  0 or
 * the backing's error. */
int pmn__heap_reserve(struct pmn__heap *h, size_t slices, unsigned page_slices);
/* The whole free path, which pmn__heap_free() (below) inlines the common
 * case of. */
int pmn__heap_free_slow(void *p, const struct pmn__heap *want, struct pmn__theap *th);
/* Why a free of @p in @pg was refused: PMN_E_DOUBLE_FREE, PMN_E_INTERIOR
 * (inside a block) or PMN_E_FOREIGN (past the page's last block). */
int pmn__free_misuse(const struct pmn__page *pg, const void *p);
/* @fn is called with the pointer of each double free only a collect could
 * see (the shim aborts there, as glibc would).  Call before the arena is
 * shared between threads. */
void pmn__arena_on_misuse(struct pmn_arena *a, void (*fn)(void *p));
/* alloc/ipc-export.c: the free of @p in @seg, whose exported count is
 * nonzero, is about to happen: a slot of @p goes stale first, and the
 * segment's slot in the map follows the count.  Heap lock not held. */
void pmn__ipc_on_free(struct pmn__segment *seg, const void *p);
/* Every slot of objects in @seg goes stale (reset, destroy), and the
 * segment's slot in the map follows.  Heap lock held. */
void pmn__ipc_on_release(struct pmn__segment *seg);

/* ---- Large objects (large.c), and the segment primitives of heap.c it
 * uses (heap lock held, except pmn__seg_map) ---- */
void *pmn__heap_alloc_large(struct pmn__heap *h, size_t size, size_t align);
/* The free of large object @p of @seg (pmn__heap_free_slow's large
 * branch): 0, PMN_E_DOUBLE_FREE or PMN_E_INTERIOR. */
int pmn__heap_free_large(struct pmn__segment *seg, void *p);
/* calloc() of a large object: cleared unless known to read as zeros. */
void *pmn__heap_calloc_large(struct pmn__heap *h, size_t size);
/* Bytes of large segment @seg the library populated (its stats). */
uint64_t pmn__large_populated(const struct pmn__segment *seg);
/* Default bound of a heap's large-extent cache (pmn_arena_opts). */
#define PMN__LARGE_CACHE_DEFAULT ((uint64_t)64 << 20)
/* pmn_arena_opts.small_cache_bytes when the caller does not size it. */
#define PMN__SMALL_CACHE_DEFAULT ((uint64_t)32 << 20)
/* The region of a large segment of @size for an object aligned to @align. */
int pmn__large_region(struct pmn__heap *h, size_t size, size_t align, struct pmn_region **r);
/* Map a segment of @size aligned to @align, small or @large (heap.c); NULL
 * with *@why on failure.  No lock needed. */
struct pmn__segment *pmn__seg_map(struct pmn__heap *h, size_t size, size_t align, bool large,
                                  int *why);
void pmn__seg_release(struct pmn__heap *h, struct pmn__segment *seg);
void pmn__seg_link(struct pmn__segment **list, struct pmn__segment *seg);
void pmn__seg_unlink(struct pmn__segment **list, struct pmn__segment *seg);
bool pmn__seg_preferred(const struct pmn__heap *h, const struct pmn__segment *seg);
bool pmn__heap_over_cap(struct pmn__heap *h, size_t more);

/* Page of an object of ours, or NULL. */
struct pmn__page *pmn__page_of(struct pmn__segment *seg, const void *p);
size_t pmn__usable(const void *p);
/* pmn_arena_stats() and pmn_slab_stats(): 0, or -EINVAL for a struct_size
 * below the first version. */
int pmn__heap_stats(struct pmn__heap *h, struct pmn_alloc_stats *out);
/* fork.c: @h joins (pmn__heap_new) or leaves (its last unref) the heaps
 * whose locks are held around fork(); the first join registers the
 * pthread_atfork() handlers.  No heap lock held.  Thread-safe. */
void pmn__fork_track(struct pmn__heap *h);
void pmn__fork_untrack(struct pmn__heap *h);
/* In a forked child, with @h's lock held (fork.c's child handler): @h is on
 * the parent's shared file; no thread finds a theap of it any more (the
 * fast paths then go to the slow ones, which refuse with -EBUSY). */
void pmn__heap_forked_shared(struct pmn__heap *h);
/* A heap initialised with size classes @sizes[0..n) (arena.c and slab.c
 * choose them), at the start of a zeroed allocation of @obj_size bytes:
 * the arena or slab it serves, which begins with it (the fast paths find
 * the heap at the object's address) and is freed with it (heap_unref). */
int pmn__heap_new(struct pmn_backing *b, bool is_slab, unsigned retain, bool release_empty,
                  uint64_t cap, const uint32_t *sizes, unsigned n, size_t obj_size,
                  struct pmn__heap **out);
/* extents.c: the extents of every segment @h holds (in use, kept empty,
 * cached), snapshot under the heap lock, then @fn on each without it. */
int pmn__heap_extents(struct pmn__heap *h, pmn_extent_fn fn, void *arg);
/* The heap behind an arena or a slab (arena.c, slab.c). */
struct pmn__heap *pmn__arena_heap(struct pmn_arena *a);
struct pmn__heap *pmn__slab_heap(struct pmn_slab *s);
/* Size classes @sizes[0..n) for the heap. */
int pmn__heap_setup_classes(struct pmn__heap *h, const uint32_t *sizes, unsigned n);

/* ---- fast paths ---- */

/* Segment of an object of ours, or NULL; never dereferences a foreign
 * pointer (the segment map answers first). */
static inline struct pmn__segment *pmn__segment_of(const void *p)
{
    struct pmn__segment *seg = (struct pmn__segment *)pmn__segmap_lookup((uintptr_t)p);

    /* A large segment need not fill its last 4 MiB slot, and what follows
     * it there may be anyone's memory. */
    if (seg != NULL && __builtin_expect(seg->large, 0) &&
        (uintptr_t)p - (uintptr_t)seg >= seg->size)
        return NULL;
#ifdef PMN_DEBUG_FULL
    /* The map is exact; the magic number only double-checks it. */
    if (seg != NULL && seg->magic != PMN__SEG_MAGIC)
        abort();
#endif
    return seg;
}

/* The calling thread's thread pointer: unique among live threads and one
 * instruction to read, unlike a dlopen-safe __thread variable. */
static inline uintptr_t pmn__tp(void)
{
#if defined(__x86_64__)
    uintptr_t tp;
    __asm__("mov %%fs:0, %0" : "=r"(tp));
    return tp;
#elif defined(__aarch64__)
    uintptr_t tp;
    __asm__("mrs %0, tpidr_el0" : "=r"(tp));
    return tp;
#else
    return (uintptr_t)&pmn__tls[0];
#endif
}

static inline unsigned pmn__tc_hash(uintptr_t tp)
{
    return (unsigned)((tp >> 12) ^ (tp >> 20)) & (PMN__TC_SIZE - 1);
}

/*
 * A thread's second slot in the heap's cache, taken when another live
 * thread holds its first.  The first hash gives every thread a slot of its
 * own when their thread pointers are glibc's default stacks apart (8 MiB
 * and a guard page), but 32 threads with 1 MiB stacks fell into 7-10 of
 * the 64 slots, and with no guard page into 4-12 (bench/README.md "Issue
 * 17, 0.12.4"); a thread left out found its theap through its TLS table on
 * every malloc.  The second hash mixes every bit of the pointer (a
 * multiply), so the spacings that collide in the first spread in it.  Read
 * only after the first slot missed, in pmn__theap_hit()'s miss branch,
 * which a thread in its first slot never takes.
 */
static inline unsigned pmn__tc_hash2(uintptr_t tp)
{
    return (unsigned)(((uint64_t)tp * 0x9e3779b97f4a7c15ull) >> 58) & (PMN__TC_SIZE - 1);
}

struct pmn__theap *pmn__theap_find_slow(const struct pmn__heap *h);

/* Whether the heap's cache has the calling thread's theap of @h, in its
 * first slot or its second, in *@th then (on a miss the thread may still
 * have one: pmn__theap_find() looks further).  A hit is never NULL: an
 * entry's theap is written before its thread pointer (tc_set), and only
 * the thread itself publishes its own; so the caller branches on the
 * compare alone, with no NULL test.  The second slot's probe costs the
 * threads in their first slot nothing measurable (alloc-ab fixed-64
 * 3.56-3.80 against 3.59-3.88 without it) and made a thread in its second
 * as fast as the others (bench/README.md "Issue 17, 0.12.4"). */
static inline bool pmn__theap_hit(const struct pmn__heap *h, struct pmn__theap **th)
{
    uintptr_t tp = pmn__tp();
    const struct pmn__tcentry *e = &h->tc[pmn__tc_hash(tp)];

    /* Each slot's hit loads its theap in its own branch: with one shared
     * load GCC made the first slot's hit jump over the second's probe, a
     * taken branch on every malloc. */
    if (__builtin_expect(atomic_load_explicit(&e->tp, memory_order_acquire) == tp, 1)) {
        *th = atomic_load_explicit(&e->th, memory_order_relaxed);
        return true;
    }
    e = &h->tc[pmn__tc_hash2(tp)]; /* the second slot (tc_set) */
    if (atomic_load_explicit(&e->tp, memory_order_acquire) == tp) {
        *th = atomic_load_explicit(&e->th, memory_order_relaxed);
        return true;
    }
    return false;
}

/* The calling thread's theap of @h: the heap's cache, else its TLS table;
 * NULL when it has none. */
static inline struct pmn__theap *pmn__theap_find(const struct pmn__heap *h)
{
    struct pmn__theap *th;

    return pmn__theap_hit(h, &th) ? th : pmn__theap_find_slow(h);
}

/* The arena's size class of a request of @s <= PMN__SMALL_MAX bytes
 * (arena.c: 16-byte steps to 128 bytes, then four classes per power of
 * two); inline so that the shim's malloc computes it in place.  Requests
 * up to PMN__CLASS_LUT_MAX bytes read a table indexed by 16-byte step
 * (every class bound there is a multiple of 16): three instructions
 * instead of a bit scan's ten; pmn__arena_class_calc() is the formula,
 * which the table is checked against (tests/unit/test-size-class.c).
 * The table reaches 4 KiB (257 bytes) since 0.12.0, 1 KiB before: two
 * thirds of bench/alloc's random sizes are below 4 KiB, and the row read
 * 7-8 % lower, fixed-2k 5-7 % (build/bench/alloc-ab, bench/README.md
 * "Issue 17, 0.12.0"); a second table by 1 KiB steps for the sizes above
 * measured no gain. */
#define PMN__CLASS_LUT_MAX 4096
extern const uint8_t pmn__class_lut[PMN__CLASS_LUT_MAX / 16 + 1]
    __attribute__((visibility("hidden")));

static inline unsigned pmn__arena_class_calc(size_t s)
{
    size_t v;
    unsigned bit;

    if (s <= 128)
        return s ? (unsigned)((s - 1) >> 4) : 0;
    v = s - 1;
    bit = 63u - (unsigned)__builtin_clzll(v);
    return 8 + (bit - 7) * 4 + (unsigned)((v >> (bit - 2)) & 3);
}

static inline unsigned pmn__arena_class(size_t s)
{
    if (__builtin_expect(s <= PMN__CLASS_LUT_MAX, 1))
        return pmn__class_lut[(s + 15) >> 4];
    return pmn__arena_class_calc(s);
}

/* Take the first free block of a page the caller owns (fast and slow path). */
static inline void *pmn__page_pop(struct pmn__page *pg)
{
    void *b = pg->free;

    UNPOISON(b, pg->block_size);
    pg->free = *(void **)b;
    pg->used++;
    pmn__cnt_add(&pg->nalloc, 1);
    atomic_store_explicit(pmn__mark(b), 0, memory_order_relaxed); /* handed out */
    VG_ALLOC(b, pg->block_size);
    return b;
}

/* The fast path's pop: the block @th freed last of @cls (its free cache),
 * else the first of its current page of @cls, else NULL (the slow path
 * decides then). */
static inline void *pmn__theap_pop(struct pmn__theap *th, unsigned cls)
{
    struct pmn__fcache *fc = &th->cl[cls].fc;
    struct pmn__page *pg;
    void *b = fc->head;

    if (__builtin_expect(b != NULL, 1)) {
        UNPOISON(b, th->heap->class_size[cls]);
        fc->head = *(void **)b;
        pmn__fcache_n_add(fc, (uint32_t)-1);
        pmn__cnt_add(&fc->allocs, 1);
        atomic_store_explicit(pmn__mark(b), 0, memory_order_relaxed); /* handed out */
        VG_ALLOC(b, th->heap->class_size[cls]);
        return b;
    }
    pg = th->cl[cls].pages.head;
    if (__builtin_expect(pg != NULL && pg->free != NULL, 1))
        return pmn__page_pop(pg);
    return NULL;
}

/* The owner keeps @p, a live block of its page @pg, on its free cache
 * when the cache has room: true then. */
static inline __attribute__((always_inline)) bool pmn__fcache_push(struct pmn__theap *th,
                                                                   const struct pmn__page *pg,
                                                                   void *p)
{
    struct pmn__fcache *fc = &th->cl[pg->cls].fc;

    if (__builtin_expect(fc->n >= fc->max, 0))
        return false;
    VG_FREE(p);
    UNPOISON(p, 2 * sizeof(void *));
    *(void **)p = fc->head;
    atomic_store_explicit(pmn__mark(p), pmn__key_owner(p), memory_order_relaxed);
    POISON(p, pg->block_size);
    fc->head = p;
    pmn__fcache_n_add(fc, 1); /* the push's count (struct pmn__fcache) */
    return true;
}

static inline void *pmn__heap_alloc(struct pmn__heap *h, unsigned cls)
{
    struct pmn__theap *th = pmn__theap_find(h);
    void *b;

    if (__builtin_expect(th != NULL && (b = pmn__theap_pop(th, cls)) != NULL, 1))
        return b;
    return pmn__heap_alloc_slow(h, th, cls);
}

/* Link @p, a block of @pg that is free for the program already (freed
 * now, or from the owner's free cache), onto @pg's free list with the
 * owner's key; the page stops counting it as used.  Owner only. */
static inline __attribute__((always_inline)) void pmn__page_link(struct pmn__page *pg, void *p)
{
    UNPOISON(p, 2 * sizeof(void *));
    *(void **)p = pg->free;
    atomic_store_explicit(pmn__mark(p), pmn__key_owner(p), memory_order_relaxed);
    POISON(p, pg->block_size);
    pg->free = p;
    pg->used--;
}

/* The owner pushes @p, a live block of @pg, onto @pg's free list, with
 * its owner key.  The push both owner paths below share. */
static inline __attribute__((always_inline)) void pmn__page_push(struct pmn__page *pg, void *p)
{
    VG_FREE(p);
    pmn__page_link(pg, p);
    pmn__cnt_add(&pg->nfree, 1);
}

/* Whether an owner's push that leaves @pg with @used blocks in use moves
 * the page (pmn__page_after_free): off the full queue; or emptied, and not
 * the current page of its class (or any page, in a capped heap: its
 * capacity must stay usable by every thread).  After the push @used is
 * pg->used; the shim's leaf asks before it, with pg->used - 1. */
static inline bool pmn__page_moves(const struct pmn__theap *th, const struct pmn__page *pg,
                                   uint32_t used)
{
    return pg->in_full || (used == 0 && (pg != th->cl[pg->cls].pages.head || th->share));
}

/* The owner's push: 0, or why @p is not a live block of @pg (nothing is
 * touched then). */
static inline __attribute__((always_inline)) int pmn__free_local(struct pmn__theap *th,
                                                                 struct pmn__page *pg, void *p)
{
    if (__builtin_expect(!pmn__block_live(pg, p), 0))
        return pmn__free_misuse(pg, p);
    if (__builtin_expect(pmn__fcache_push(th, pg, p), 1))
        return 0;
    pmn__page_push(pg, p);
    if (__builtin_expect(pmn__page_moves(th, pg, pg->used), 0))
        return pmn__page_after_free(th, pg);
    return 0;
}

/* pmn__page.thread_free's bit 0: the page is on its owner's full queue and
 * no other thread has freed into it since it went there. */
#define PMN__TF_DELAYED ((uintptr_t)1)
/* Its bits 48-63: how many blocks are on the stack, up to PMN__TF_CMAX,
 * which then means "that many or more", so that the owner can take the
 * stack whole without walking it to count (heap.c collect_some).  No page
 * holds that many today (4096 blocks of 16 bytes in 64 KiB at most: a
 * page takes more slices only for blocks of over 16 KiB); a count at the
 * ceiling has the stack walked, as before 0.12.5.  Blocks are in
 * segments, and segments below 2^47 (segmap.h: no other segment is found
 * by a free), so a block's address never reaches these bits; each block's
 * link holds the address alone. */
#define PMN__TF_CSHIFT 48
#define PMN__TF_CMAX ((uintptr_t)0xffff)
#define PMN__TF_PTR ((((uintptr_t)1 << PMN__TF_CSHIFT) - 1) & ~PMN__TF_DELAYED)
_Static_assert(PMN__SEGMAP_SLOTS << PMN__SEG_SHIFT <= (uint64_t)1 << PMN__TF_CSHIFT,
               "no block a free finds reaches the stack word's count");

void pmn__free_delayed(struct pmn__page *pg, void *p);

/*
 * Another thread's push onto @pg's thread_free stack: 0, or why @p is not
 * a live block (nothing is pushed then).  The compare-and-swap of the mark
 * admits the block once: a second thread's free, or the owner's, that
 * wrote its key first, makes it fail (heap.h, top).
 *
 * Full pages.  A page with no free block waits on its owner's full queue,
 * and other threads' frees into it used to wait on its stack until the
 * owner, out of blocks of that class, walked the whole queue to find
 * them: a heap growing to N full pages walked N pages for every new one
 * (a gibibyte of 64-byte objects: 16 % of the fill's time in that walk,
 * and growing with the size; bench/README.md, "0.12.1").  Now the owner
 * marks the page PMN__TF_DELAYED as it joins the full queue, and the first
 * other thread to free into it after that clears the bit and pushes its
 * block onto the owner's delayed list instead (pmn__free_delayed); the
 * owner takes the list whole when a class of its has no page with room
 * left, before taking a new page, and moves those pages back to their
 * classes' queues; later frees into it take the page's stack as before.  The
 * block counts as used until the owner takes it, so the page, and its
 * owner, stay put meanwhile.
 */
static inline int pmn__free_remote(struct pmn__page *pg, void *p)
{
    uintptr_t v, old;

    if (!pmn__block_start(pg, p))
        return pmn__free_misuse(pg, p);
    v = pmn__mark_get(p);
    do {
        if (pmn__mark_is_free(p, v))
            return PMN_E_DOUBLE_FREE;
    } while (!atomic_compare_exchange_weak_explicit(pmn__mark(p), &v, pmn__key_remote(p),
                                                    memory_order_relaxed, memory_order_relaxed));
    old = atomic_load_explicit(&pg->thread_free, memory_order_relaxed);
    VG_FREE(p);
    UNPOISON(p, 2 * sizeof(void *));
    POISON((char *)p + 2 * sizeof(void *), pg->block_size - 2 * sizeof(void *));
    for (;;) {
        if (__builtin_expect(old & PMN__TF_DELAYED, 0)) {
            if (atomic_compare_exchange_weak_explicit(&pg->thread_free, &old,
                                                      old & ~PMN__TF_DELAYED, memory_order_relaxed,
                                                      memory_order_relaxed)) {
                pmn__free_delayed(pg, p);
                return 0;
            }
            continue;
        }
        uintptr_t cnt = old >> PMN__TF_CSHIFT;
        uintptr_t top = (uintptr_t)p | (cnt + (cnt < PMN__TF_CMAX)) << PMN__TF_CSHIFT;

        *(uintptr_t *)p = old & PMN__TF_PTR;
        if (atomic_compare_exchange_weak_explicit(&pg->thread_free, &old, top,
                                                  memory_order_release, memory_order_relaxed))
            return 0;
    }
}

/*
 * The one free path: pmn_free(), pmn_slab_free(), pmn_slab_free_bulk() and
 * realloc all come here, so every caller reports the same misuse.  @want
 * non-NULL requires the object to belong to that heap (a slab frees only
 * its own objects); @th is the calling thread's theap of @want when the
 * caller already looked it up (a bulk free looks it up once), else NULL.
 * Returns 0 (NULL is freed as nothing), PMN_E_FOREIGN (not an object of
 * ours, or not of @want), PMN_E_DOUBLE_FREE (freed already, by any thread)
 * or PMN_E_INTERIOR (a pointer into an object); on error nothing is
 * touched.
 *
 * pmn__heap_free_slow() (heap.c) is the whole path.  This inline part
 * serves only the common case, a small object freed by the thread that
 * owns its page, with no call but the rare tail call after the push, and
 * hands everything else to the slow path, which decides it from scratch:
 * the two cannot disagree on misuse.  debug_full builds always take the
 * slow path, which also checks the page's free list after each free.
 */
static inline __attribute__((always_inline)) int pmn__heap_free(void *p,
                                                                const struct pmn__heap *want,
                                                                struct pmn__theap *th)
{
#ifndef PMN_DEBUG_FULL
    struct pmn__segment *seg = (struct pmn__segment *)((uintptr_t)p & ~PMN__SEG_MASK);

    if (__builtin_expect(pmn__segmap_is_small((uintptr_t)p) && (want == NULL || seg->heap == want),
                         1)) {
        /* A page is on the slice map only while it is live (slices_take
         * sets live first, slices_give clears the map first); any other
         * slice's is pmn__no_page, whose owner no thread is. */
        struct pmn__page *pg =
            seg->slice_page[((uintptr_t)p - (uintptr_t)seg) >> PMN__SLICE_SHIFT];
        struct pmn__theap *o = pg->owner;

        /* A live small page always has an owner.  The calling thread owns
         * it when the owner theap is bound to this thread: a theap's tp is
         * written only by the thread it is bound to (bind, unbind), so it
         * reads back our own tp only if we wrote it.  One load on the
         * page's own line and one on the theap's first, instead of a hash
         * into the heap's thread cache. */
        if (__builtin_expect(th != NULL
                                 ? o == th
                                 : atomic_load_explicit(&o->tp, memory_order_relaxed) == pmn__tp(),
                             1))
            return pmn__free_local(o, pg, p);
    }
#endif
    return pmn__heap_free_slow(p, want, th);
}

/*
 * The shim's free fast path, a leaf (no call, so no stack frame): true
 * when @p was a live block of a small page owned by @th, the calling
 * thread's theap as the caller caches it (NULL when none: every case is
 * then the slow path's; the cache must be dropped when pmn__unbind_hook
 * says so), and is now on that page's free list, false
 * with nothing touched for every other case (not ours, another thread's
 * page, misuse, exported objects, a free that moves the page between
 * queues), which the caller hands to pmn__heap_free(): it alone reports
 * misuse, so the two cannot disagree.  Thread-safe as pmn__heap_free();
 * async-signal-safe only with the shim's guard up, as every arena call.
 */
static inline __attribute__((always_inline)) bool pmn__heap_free_owned(void *p,
                                                                       struct pmn__theap *th)
{
#ifndef PMN_DEBUG_FULL
    struct pmn__segment *seg = (struct pmn__segment *)((uintptr_t)p & ~PMN__SEG_MASK);
    struct pmn__page *pg;

    if (__builtin_expect(!pmn__segmap_is_small((uintptr_t)p), 0))
        return false;
    /* A page is on the slice map only while it is live (slices_take sets
     * live first, slices_give clears the map first); any other slice's is
     * pmn__no_page, whose owner is nobody's theap. */
    pg = seg->slice_page[((uintptr_t)p - (uintptr_t)seg) >> PMN__SLICE_SHIFT];
    /* The page is the caller's when its owner is the caller's cached
     * theap (a live page always has an owner, so a NULL @th never
     * matches): the cache is dropped at unbind (pmn__unbind_hook), so it
     * is bound to the caller. */
    if (__builtin_expect(pg->owner != th, 0))
        return false;
    if (__builtin_expect(!pmn__block_live(pg, p), 0))
        return false;
    if (__builtin_expect(pmn__fcache_push(th, pg, p), 1))
        return true;
    /* Leaves a full page, or empties one other than the current one (or
     * any, in a capped heap): pmn__page_after_free()'s work, not a leaf's. */
    if (__builtin_expect(pmn__page_moves(th, pg, pg->used - 1), 0))
        return false;
    pmn__page_push(pg, p);
    return true;
#else
    (void)p;
    (void)th;
    return false; /* debug_full: always the checked slow path */
#endif
}

#endif /* PMN_HEAP_H */
