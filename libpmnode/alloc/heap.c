/*
 * heap.c - the allocation engine behind arenas and slabs (see heap.h).
 *
 * Fast paths (heap.h, inline): the calling thread's theap is found in a
 * small thread-local table; allocation pops the head page's free list;
 * the owner's free pushes onto it.  Everything here is the slow path: the
 * whole free path (pmn__heap_free_slow: misuse, large objects, and anyone
 * else's free, one CAS onto the page's thread_free stack), collecting
 * remote frees, moving pages between the owner's "has space" and "full"
 * queues, taking slices and segments under the heap mutex, and the
 * thread-local table's life cycle.
 *
 * Lifetime: a heap is reference-counted by its owner (the arena or slab)
 * and by each thread bound to it, because a thread that exits after the
 * arena was destroyed must still be able to unbind.  Destroy releases every
 * segment at once; the struct, with the arena or slab it starts
 * (pmn__heap_new), lingers until the last thread lets go.
 *
 * Thread-local state: one table of TLS_SLOTS (heap, theap) pairs per thread
 * and one pthread key (created once) whose destructor orphans the exiting
 * thread's theaps: their pages stay put, other threads' frees still land on
 * them, and the next thread to bind the heap adopts the theap whole.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/heap.h"
#include "alloc/publish.h"
#include "os/prim.h"

__thread struct pmn__tls_slot pmn__tls[PMN__TLS_SLOTS];

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static bool tls_key_ok;

static void heap_unref(struct pmn__heap *h);

/* Publish or withdraw this thread's theap in the heap's hash cache, in
 * its first slot, or its second when another live thread holds the first
 * (pmn__tc_hash2); heap lock held, so publishers never race. */
static void tc_set(struct pmn__heap *h, struct pmn__theap *th, uintptr_t tp)
{
    struct pmn__tcentry *slot[2] = {&h->tc[pmn__tc_hash(tp)], &h->tc[pmn__tc_hash2(tp)]};

    for (unsigned i = 0; i < 2; i++) {
        struct pmn__tcentry *e = slot[i];
        uintptr_t cur = atomic_load_explicit(&e->tp, memory_order_relaxed);

        if (th == NULL) {
            if (cur == tp)
                atomic_store_explicit(&e->tp, 0, memory_order_release);
            continue;
        }
        if (cur != 0 && cur != tp)
            continue; /* another live thread's */
        atomic_store_explicit(&e->tp, 0, memory_order_relaxed);
        atomic_store_explicit(&e->th, th, memory_order_relaxed);
        atomic_store_explicit(&e->tp, tp, memory_order_release);
        return;
    }
    /* Both taken by other live threads: this one uses its TLS table. */
}

/* The calling thread's binding to @h in its TLS table (a thread binds to
 * a heap at most once: pmn__theap_bind is called only when it has none),
 * or NULL. */
static struct pmn__tls_slot *tls_slot_of(const struct pmn__heap *h)
{
    for (unsigned i = 0; i < PMN__TLS_SLOTS; i++)
        if (pmn__tls[i].heap == h)
            return &pmn__tls[i];
    return NULL;
}

/* The calling thread's theap of @h from its TLS table, for a thread
 * missing from the heap's cache (both its slots other threads'). */
struct pmn__theap *pmn__theap_find_slow(const struct pmn__heap *h)
{
    struct pmn__tls_slot *t = tls_slot_of(h);

    return t == NULL || h->forked ? NULL : t->th; /* forked: pmn__heap_forked_shared */
}

void pmn__heap_forked_shared(struct pmn__heap *h)
{
    h->forked = true;
    /* The heap's cache of thread pointers, and the owner test of the free
     * fast path (a page's owner theap bound to the caller's thread
     * pointer, which the forking thread keeps in the child): neither
     * answers any more.  The forking thread's table slot stays (it holds a
     * reference) but pmn__theap_find_slow() skips it. */
    for (unsigned i = 0; i < PMN__TC_SIZE; i++)
        atomic_store_explicit(&h->tc[i].tp, 0, memory_order_relaxed);
    for (struct pmn__theap *th = h->theaps; th; th = th->next)
        atomic_store_explicit(&th->tp, 0, memory_order_relaxed);
}

/* heap.h: set once by the LD_PRELOAD shim at its start, before any theap
 * of its arena exists, and read at every unbind; NULL in libpmnode.so. */
void (*pmn__unbind_hook)(struct pmn__theap *th);

/* ---- free cache ----
 *
 * A thread's frees of its own blocks go to its free cache of the class
 * (struct pmn__fcache, heap.h), up to a bound, and its mallocs take from
 * there first; only past the bound does a free go to the block's page.
 * With pages of four blocks (what keeps the shim's resident memory near
 * glibc's, PMN__PAGE_MIN_BLOCKS) a class used at random filled, emptied,
 * retired and re-threaded its pages all the time: bench/alloc's random
 * (1000 live objects, 16 B-64 KiB) spent 16 % of its mallocs on the slow
 * path and 13 % of its time storing links into re-made pages.  The cache
 * absorbs the churn, and the block a malloc gets is the one freed last, so
 * still in the cache of the CPU.  A cached block keeps its page from
 * retiring, so the cache is bounded per class in blocks and in bytes
 * (128 KiB: the shim suite's peak RSS stayed at 1.08x glibc's, where 256
 * KiB gave 1.10x and no byte bound 1.13x, rptest holding twice the
 * memory; 64 KiB cost the random workload a quarter of the gain), and it
 * goes back to the pages when a page of its class empties while the cache
 * is full (pmn__page_after_free: the thread frees more than it allocates),
 * when the heap would otherwise grow (give_own_empty, for every class but
 * the one being allocated), when the thread lets the theap go
 * (unbind_slot), at reset (settle_theaps) and after a trim (trim_sync).
 * Capped heaps keep none: their capacity must stay reachable by every
 * thread.
 *
 * A heap with a small cache (heap.c, cache_bound: every arena and slab
 * unless sized 0; not the shim's) holds a sixty-fourth of its bound per
 * class instead, 512 KiB by default: 128 KiB held two blocks of the 64 KiB
 * class, whose four-block pages then filled, emptied and changed queues on
 * every few frees.  bench/alloc-ab's random row, minima (ns per pair, one
 * thread; tcmalloc 10.1): 128 KiB 13.4-14.0, 256 KiB 12.1-12.4, 512 KiB
 * 11.4-11.7, 1 MiB 11.2-11.5 (2 MiB no better in bench/alloc).  512 KiB
 * takes most of it for a little over half the memory a thread can hold:
 * 12.8 MiB if every one of the 52 classes were full (22 MiB at 1 MiB, 4.4
 * at 128 KiB), where a tcmalloc thread cache holds up to 4 MiB.  What a
 * thread's caches hold is never a reason for the heap to grow: the thread
 * empties them first (give_own_empty; not under PMN_PURGE_KEEP). */
static uint64_t cache_bound(const struct pmn__heap *h);

#define PMN__FCACHE_BLOCKS 64u
#define PMN__FCACHE_BYTES ((uint64_t)128 << 10)

static uint32_t fcache_max(const struct pmn__heap *h, uint32_t bs)
{
    uint64_t bytes =
        cache_bound(h) / 64 > PMN__FCACHE_BYTES ? cache_bound(h) / 64 : PMN__FCACHE_BYTES;
    uint64_t n = bytes / bs;

    return n < 1 ? 1 : n > PMN__FCACHE_BLOCKS ? PMN__FCACHE_BLOCKS : (uint32_t)n;
}

static void page_unfull(struct pmn__theap *th, struct pmn__page *pg);

/* Put the blocks of @th's free cache of class @c back on their pages
 * (the owner's thread).  @locked: the heap lock is held, so a page that
 * empties stays on its queue for the caller (give_own_empty) instead of
 * going through pmn__page_after_free(), which may take the lock. */
static void fcache_return(struct pmn__theap *th, unsigned c, bool locked)
{
    struct pmn__fcache *fc = &th->cl[c].fc;
    void *b = fc->head, *next;

    fc->head = NULL;
    /* Its blocks leave it for their pages. */
    pmn__cnt_add(&fc->returned, fc->n);
    pmn__fcache_n_add(fc, -fc->n);
    for (; b != NULL; b = next) {
        struct pmn__page *pg =
            pmn__page_of((struct pmn__segment *)((uintptr_t)b & ~PMN__SEG_MASK), b);

        UNPOISON(b, sizeof(void *));
        next = *(void **)b;
        pmn__page_link(pg, b); /* counted as a free when it joined the cache */
        if (locked) {
            if (pg->in_full)
                page_unfull(th, pg);
        } else if (pmn__page_moves(th, pg, pg->used)) {
            pmn__page_after_free(th, pg);
        }
    }
}

static bool class_give_empty(struct pmn__heap *h, struct pmn__theap *th, unsigned c, bool leaving);
static void kept_forget(struct pmn__theap *th, const struct pmn__page *pg);
static void trim_sync(struct pmn__theap *th);

/* The theap leaves its thread (lock held, the heap alive): its free
 * cache goes back to its pages, and the pages that leaves empty, but for
 * each class's current page and spare (what an exiting thread kept before
 * there was a cache), go back to the heap.  An orphan holds no cache, so
 * nothing of its pins a page until some thread adopts it. */
static void fcache_give_back(struct pmn__heap *h, struct pmn__theap *th)
{
    for (unsigned c = 0; c < h->nclasses; c++)
        if (th->cl[c].fc.head != NULL)
            class_give_empty(h, th, c, true);
}

/* Tests only (tests/system/shim/signal-exit.c): a program that defines
 * this function has it called in unbind_slot() with the heap lock held,
 * where it raises a signal whose handler frees, to show that the handler
 * runs only after the lock is released.  Weak and undefined in every other
 * program: one test of its address, at a thread's unbinding. */
extern void pmnode_test_unbind_locked(void) __attribute__((weak));

/* The theap leaves this thread: its exit, or its binding evicted from a
 * full TLS table.  All under the heap lock, so that a destroy of the heap
 * in another thread (allowed: a thread's binding outlives the heap until
 * the thread exits) cannot release pages under the cache's return; the
 * TLS slot is cleared first, so that nothing in this thread finds the
 * theap any more while it is being emptied.
 *
 * With this thread's signals blocked while it holds the lock: a handler
 * that frees (which the LD_PRELOAD shim promises works: preload.c, "Signal
 * handlers") would otherwise meet the lock again there, in the bind of a
 * free that no longer finds this thread's theap, and wait for itself for
 * ever; and a thread's exit is outside the shim's guard, which defers
 * handlers' frees everywhere else.  Blocked signals stay pending and run
 * at the restore, when their frees take the lock as any other. */
static void unbind_slot(struct pmn__tls_slot *s)
{
    struct pmn__heap *h = s->heap;
    struct pmn__theap *th = s->th;
    sigset_t mask;

    if (h == NULL)
        return;
    if (pmn__unbind_hook != NULL)
        pmn__unbind_hook(th); /* before the theap can be anyone else's */
    s->heap = NULL;
    s->th = NULL;
    pmn_prim_signals_block(&mask);
    pthread_mutex_lock(&h->lock);
    tc_set(h, NULL, pmn__tp());
    atomic_store_explicit(&th->tp, 0, memory_order_relaxed);
    if (!h->dead)
        fcache_give_back(h, th);
    th->orphan = true;
    if (pmnode_test_unbind_locked != NULL)
        pmnode_test_unbind_locked();
    pthread_mutex_unlock(&h->lock);
    pmn_prim_signals_restore(&mask);
    heap_unref(h);
}

/* Set when this thread's bindings are undone at its exit (tls_exit): a
 * free after that does not bind the thread again (pmn__heap_free_slow),
 * since nothing would undo the binding: a binding made in the last round
 * of the thread's TLS destructors outlives the thread, its theap never an
 * orphan to adopt, found again by whichever thread next has its thread
 * pointer.  A signal handler's frees at the exit, and other libraries'
 * destructors that free after this one, all made such bindings.  Per
 * thread by nature; a new thread's TLS starts it false. */
static __thread bool tls_exiting;

static void tls_exit(void *unused)
{
    (void)unused;
    tls_exiting = true;
    for (unsigned i = 0; i < PMN__TLS_SLOTS; i++)
        unbind_slot(&pmn__tls[i]);
}

static void tls_init(void)
{
    tls_key_ok = pthread_key_create(&tls_key, tls_exit) == 0;
}

/* Slow-path allocations a theap bound by a malloc stays tradable for
 * (pmn__theap.young): a thread's first mallocs take the slow path a few
 * times (a class the adopted theap has no page for), a thread that has
 * worked from its theap many more. */
#define PMN__YOUNG 8

struct pmn__theap *pmn__theap_bind(struct pmn__heap *h, struct pmn__theap *prefer)
{
    struct pmn__tls_slot *slot = NULL;
    struct pmn__theap *th;

    pthread_once(&tls_once, tls_init);
    for (unsigned i = 0; i < PMN__TLS_SLOTS && slot == NULL; i++)
        if (pmn__tls[i].heap == NULL)
            slot = &pmn__tls[i];
    if (slot == NULL) {
        /* Table full: the oldest binding's theap becomes an orphan that
         * this thread (or another) adopts on its next use of that heap. */
        slot = &pmn__tls[PMN__TLS_SLOTS - 1];
        unbind_slot(slot);
    }
    pthread_mutex_lock(&h->lock);
    if (h->dead || h->forked) {
        pthread_mutex_unlock(&h->lock);
        return NULL;
    }
    /* An orphan the caller names (read under the lock: adopters race for
     * it), else the first one.  The named one is the owner of the object
     * the thread's first call frees: adopting it makes that free, and the
     * thread's later frees of the objects it inherited from the exited
     * thread, its own instead of other threads' (pmn__heap_free_slow). */
    if (prefer != NULL && prefer->orphan)
        th = prefer;
    else
        for (th = h->theaps; th && !th->orphan; th = th->next)
            ;
    if (th != NULL) {
        th->orphan = false;
    } else {
        th = aligned_alloc(64, sizeof(*th)); /* sizeof is a multiple of 64 */
        if (th != NULL)
            memset(th, 0, sizeof(*th));
        if (th == NULL) {
            pthread_mutex_unlock(&h->lock);
            return NULL;
        }
        th->heap = h;
        th->next = h->theaps;
        h->theaps = th;
    }
    th->share = h->cap != 0;
    th->young = prefer == NULL ? PMN__YOUNG : 0;
    th->trim_seen = atomic_load_explicit(&h->trim_gen, memory_order_relaxed);
    for (unsigned c = 0; c < h->nclasses; c++)
        th->cl[c].fc.max = th->share ? 0 : fcache_max(h, h->class_size[c]);
    atomic_store_explicit(&th->tp, pmn__tp(), memory_order_relaxed);
    tc_set(h, th, pmn__tp());
    pthread_mutex_unlock(&h->lock);
    atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
    slot->heap = h;
    slot->th = th;
    if (tls_key_ok)
        pthread_setspecific(tls_key, pmn__tls);
    return th;
}

/* ---- queues ---- */

static void q_remove(struct pmn__queue *q, struct pmn__page *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        q->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        q->tail = p->prev;
    p->next = p->prev = NULL;
}

static void q_push_front(struct pmn__queue *q, struct pmn__page *p)
{
    p->prev = NULL;
    p->next = q->head;
    if (q->head)
        q->head->prev = p;
    else
        q->tail = p;
    q->head = p;
}

static void q_push_back(struct pmn__queue *q, struct pmn__page *p)
{
    p->next = NULL;
    p->prev = q->tail;
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
}

/* ---- segments ---- */

/* Bytes of @seg the library populated so far (large: see large.c). */
static uint64_t seg_populated(const struct pmn__segment *seg)
{
    if (seg->large)
        return pmn__large_populated(seg);
    return seg->pop_bytes;
}

/* Whether @seg lies on the backing's first (preferred) node. */
bool pmn__seg_preferred(const struct pmn__heap *h, const struct pmn__segment *seg)
{
    return pmn_region_node(seg->region) == h->b->nodes[0];
}

void pmn__seg_release(struct pmn__heap *h, struct pmn__segment *seg)
{
    struct pmn_region *r = seg->region;
    size_t size = seg->size;

    pmn__segmap_remove((uintptr_t)seg, size);
    atomic_fetch_sub_explicit(&h->resident, pmn__region_committed(r), memory_order_relaxed);
    atomic_fetch_sub_explicit(&h->populated, seg_populated(seg), memory_order_relaxed);
    /* The memory may outlive the extent (a user range, a provider's pool,
     * a dax mapping): its next user must not find our poison on it. */
    UNPOISON(seg, size);
    pmn_region_unmap(r);
}

/* The cap limits what objects can occupy (pages and large segments), not
 * the 4 MiB granularity of what the backing hands out. */
bool pmn__heap_over_cap(struct pmn__heap *h, size_t more)
{
    return h->cap && atomic_load_explicit(&h->active, memory_order_relaxed) + more > h->cap;
}

static void note_resident(struct pmn__heap *h, size_t more)
{
    uint64_t now = atomic_fetch_add_explicit(&h->resident, more, memory_order_relaxed) + more;
    uint64_t peak = atomic_load_explicit(&h->peak, memory_order_relaxed);

    while (now > peak && !atomic_compare_exchange_weak_explicit(
                             &h->peak, &peak, now, memory_order_relaxed, memory_order_relaxed))
        ;
}

/* The unit a small segment is populated in: the backing's page (its huge
 * page for hugetlb), at least the popmap's 4 KiB. */
static size_t pop_unit(const struct pmn__heap *h)
{
    size_t u = h->b->huge_size ? h->b->huge_size : h->b->page;

    return u < ((size_t)1 << PMN__POP_SHIFT) ? (size_t)1 << PMN__POP_SHIFT : u;
}

/* @n rounded up to the populate unit. */
static size_t seg_round(const struct pmn__heap *h, size_t n)
{
    size_t u = pop_unit(h);

    return (n + u - 1) / u * u;
}

static bool popmap_has(const struct pmn__segment *seg, size_t i)
{
    return (seg->popmap[i >> 6] >> (i & 63)) & 1;
}

/* Mark [off, end) of @seg populated in its popmap (4 KiB multiples). */
static void popmap_set(struct pmn__segment *seg, size_t off, size_t end)
{
    for (size_t i = off >> PMN__POP_SHIFT; i < end >> PMN__POP_SHIFT; i++)
        seg->popmap[i >> 6] |= (uint64_t)1 << (i & 63);
}

/*
 * Populate and verify what [off, end) of small segment @seg lacks; heap
 * lock held (a migration moves the segment under it, and the region's
 * populate is not for concurrent callers).  The range is widened to the
 * populate unit; parts already populated inside it are asked for again
 * (the kernel skips present pages) but counted once.  Nothing is
 * cleared: a block's link and mark are written when a page threads it
 * (pmn__page_extend), whatever the memory held.  0 or the region's error
 * (nothing is marked then).
 */
/* Units [@i, @e) of @seg's popmap are no longer populated: the set ones
 * are cleared and uncounted; how many.  Lock held. */
static size_t popmap_unset(struct pmn__heap *h, struct pmn__segment *seg, size_t i, size_t e)
{
    size_t gone = 0;

    for (; i < e; i++)
        if (popmap_has(seg, i)) {
            seg->popmap[i >> 6] &= ~((uint64_t)1 << (i & 63));
            gone++;
        }
    seg->pop_bytes -= gone << PMN__POP_SHIFT;
    atomic_fetch_sub_explicit(&h->populated, (uint64_t)gone << PMN__POP_SHIFT,
                              memory_order_relaxed);
    return gone;
}

static int seg_ensure(struct pmn__heap *h, struct pmn__segment *seg, size_t off, size_t end)
{
    size_t u = pop_unit(h), first = SIZE_MAX, last = 0, fresh = 0;
    int err;

    off = off / u * u;
    end = (end + u - 1) / u * u;
    if (end > PMN__SEG_SIZE)
        end = PMN__SEG_SIZE;
    for (size_t i = off >> PMN__POP_SHIFT; i < end >> PMN__POP_SHIFT; i++) {
        if (popmap_has(seg, i))
            continue;
        if (first == SIZE_MAX)
            first = i;
        last = i;
        fresh++;
    }
    if (fresh == 0)
        return 0;
    off = (first << PMN__POP_SHIFT) / u * u;
    end = (((last + 1) << PMN__POP_SHIFT) + u - 1) / u * u;
    if ((err = pmn__region_populate(seg->region, off, end - off)) != 0) {
        /* The backing gave the whole range back (backing-node.c
         * node_ppopulate), the units populated before in it too (none
         * holds an object: the callers' ranges start past their pages'
         * threaded blocks). */
        popmap_unset(h, seg, off >> PMN__POP_SHIFT, end >> PMN__POP_SHIFT);
        return err;
    }
    for (size_t i = off >> PMN__POP_SHIFT; i < end >> PMN__POP_SHIFT; i++) {
        if (popmap_has(seg, i))
            continue;
        seg->popmap[i >> 6] |= (uint64_t)1 << (i & 63);
    }
    seg->pop_bytes += fresh << PMN__POP_SHIFT;
    atomic_fetch_add_explicit(&h->populated, (uint64_t)fresh << PMN__POP_SHIFT,
                              memory_order_relaxed);
    end = (end + PMN__SLICE_SIZE - 1) >> PMN__SLICE_SHIFT; /* in slices */
    if (end > seg->pop_hi)
        seg->pop_hi = (uint8_t)end;
    return 0;
}

/* A small segment's slices that can hold pages: all but the header's. */
#define ALL_SLICES (~(uint64_t)0 << PMN__HEADER_SLICES)

/* Map a segment of @size aligned to @align (large: for an object aligned
 * to @align, see large_shape).  Touches only atomics and the (thread-safe)
 * backing, so large segments are mapped without the lock. */
struct pmn__segment *pmn__seg_map(struct pmn__heap *h, size_t size, size_t align, bool large,
                                  int *why)
{
    struct pmn__segment *seg;
    struct pmn_region *r;
    int err;

    /* Small segments are populated piece by piece (seg_ensure): the
     * header struct now, blocks as they are needed, so a
     * process with a small heap does not pay 4 MiB, nor a 64 KiB page per
     * size class, of resident memory up front.  Populating still uses
     * MADV_POPULATE_WRITE and is verified, so a node that cannot give a
     * page is an error. */
    err = large ? pmn__large_region(h, size, align, &r)
                : pmn__region_map_lazy(h->b, size, align, &r);
    if (err == 0 && !large && r->lazy &&
        (err = pmn__region_populate(r, 0, seg_round(h, sizeof(*seg)))) != 0)
        pmn_region_unmap(r);
    if (err) {
        *why = err;
        errno = ENOMEM;
        return NULL;
    }
    seg = pmn_region_addr(r);
    memset(seg, 0, sizeof(*seg));
    seg->magic = PMN__SEG_MAGIC;
    seg->heap = h;
    seg->region = r;
    seg->size = pmn_region_size(r);
    seg->large = large;
    seg->free_slices = large ? 0 : ALL_SLICES; /* not the header's */
    if (!large) {
        for (unsigned i = 0; i < PMN__SLICES; i++)
            seg->slice_page[i] = &pmn__no_page;
        /* A region that is not lazy (device memory, hugetlb without lazy
         * support, registered extents) was populated whole by the map. */
        size_t head = r->lazy ? seg_round(h, sizeof(*seg)) : PMN__SEG_SIZE;
        popmap_set(seg, 0, head);
        seg->pop_bytes = head;
        seg->pop_hi = (uint8_t)((head + PMN__SLICE_SIZE - 1) >> PMN__SLICE_SHIFT);
    }
    note_resident(h, pmn__region_committed(r));
    atomic_fetch_add_explicit(&h->populated, seg_populated(seg), memory_order_relaxed);
    pmn__segmap_add((uintptr_t)seg, seg->size, large);
    return seg;
}

void pmn__seg_link(struct pmn__segment **list, struct pmn__segment *seg)
{
    seg->prev = NULL;
    seg->next = *list;
    if (*list)
        (*list)->prev = seg;
    *list = seg;
}

void pmn__seg_unlink(struct pmn__segment **list, struct pmn__segment *seg)
{
    if (seg->prev)
        seg->prev->next = seg->next;
    else
        *list = seg->next;
    if (seg->next)
        seg->next->prev = seg->prev;
}

/* Slices of @seg whose first 4 KiB is populated (a bit per slice). */
static uint64_t popped_slices(const struct pmn__segment *seg)
{
    const unsigned per = PMN__SLICE_SIZE >> PMN__POP_SHIFT; /* 16 popmap bits a slice */
    uint64_t m = 0;

    for (unsigned i = 0; i < PMN__SLICES; i++)
        m |= ((seg->popmap[(i * per) >> 6] >> ((i * per) & 63)) & 1) << i;
    return m;
}

/* First run of @n free slices in @free, or -1. */
static int find_run(uint64_t free, unsigned n)
{
    uint64_t m = free;

    for (unsigned i = 1; i < n && m; i++)
        m &= free >> i;
    return m ? __builtin_ctzll(m) : -1;
}

static bool give_own_empty(struct pmn__heap *h, struct pmn__theap *th, unsigned cls);

/*
 * The first small segment with a run of @n free slices (populated ones
 * only when @popped), its first slice in *@at; lock held.  Only the
 * segments with a free slice count, and the walk ends after the last of
 * them (pmn__heap.nonfull_segments): segments that fill stay where they
 * are and those that get a slice back go to the front, so the ones with
 * room are the list's first.  The walk went through every segment for
 * every new page, and read each one's popmap: filling 3 GiB with 64-byte
 * objects spent 15 % of its time here, and more the larger the heap
 * (bench/README.md, "0.12.1").
 */
static struct pmn__segment *seg_find(struct pmn__heap *h, unsigned n, bool popped, int *at)
{
    unsigned left = h->nonfull_segments;
    struct pmn__segment *seg;

#ifdef PMN_DEBUG_FULL
    {
        unsigned count = 0;

        for (seg = h->segments; seg; seg = seg->next)
            count += seg->free_slices != 0;
        if (count != h->nonfull_segments)
            abort(); /* the count went wrong: a segment with room would be skipped */
    }
#endif
    for (seg = h->segments; seg != NULL && left > 0; seg = seg->next) {
        if (seg->free_slices == 0)
            continue;
        left--;
        if ((*at = find_run(popped ? seg->free_slices & popped_slices(seg) : seg->free_slices,
                            n)) > 0)
            return seg;
    }
    return NULL;
}

/* Take @n slices for a new page of @cls for @th (NULL: none of a thread's
 * empty pages may be taken back); lock held.  NULL with the reason in
 * *@why. */
static struct pmn__page *slices_take(struct pmn__heap *h, unsigned n, struct pmn__theap *th,
                                     unsigned cls, int *why)
{
    struct pmn__segment *seg;
    struct pmn__page *pg;
    int at = -1;

    if (pmn__heap_over_cap(h, (size_t)n << PMN__SLICE_SHIFT)) {
        *why = PMN_E_CAP_REACHED;
        return NULL;
    }
    /* Free slices still populated from an earlier page first, in any
     * segment: a page there costs no new resident memory.  Then any run. */
    seg = seg_find(h, n, true, &at);
    /* None: before populating more, the thread's own empty pages of other
     * classes (give_own_empty) come back, and their slices are tried. */
    if (seg == NULL && th != NULL && give_own_empty(h, th, cls))
        seg = seg_find(h, n, true, &at);
    if (seg == NULL)
        seg = seg_find(h, n, false, &at);
    if (seg == NULL) {
        seg = pmn__seg_map(h, PMN__SEG_SIZE, PMN__SEG_SIZE, false, why);
        if (seg == NULL)
            return NULL;
        pmn__seg_link(&h->segments, seg);
        h->nonfull_segments++;
        h->empty_segments++;
        pmn__log(h->b->ctx, 4,
                 "heap %p: new segment for a page of %u slices; %llu bytes in pages, %llu "
                 "populated, %llu purged so far",
                 (void *)h, n, (unsigned long long)atomic_load(&h->active),
                 (unsigned long long)atomic_load(&h->populated),
                 (unsigned long long)atomic_load(&h->purged));
        at = find_run(seg->free_slices, n);
    }
    if (seg->free_slices == ALL_SLICES && !seg->keep)
        h->empty_segments--;
    seg->free_slices &= ~(((n == 64 ? 0 : ((uint64_t)1 << n)) - 1) << at);
    if (seg->free_slices == 0)
        h->nonfull_segments--; /* it stays where it is (seg_find) */
    pg = &seg->pages[at];
    memset(pg, 0, sizeof(*pg));
    pg->slice = (uint8_t)at;
    pg->base = (uint32_t)((uintptr_t)seg + ((uintptr_t)at << PMN__SLICE_SHIFT));
    pg->nslices = (uint16_t)n;
    pg->live = 1;
    pg->born_ns = pmn_prim_now_ns();
    /* What an earlier page on these slices left populated, from the start. */
    {
        size_t i = ((size_t)at << PMN__SLICE_SHIFT) >> PMN__POP_SHIFT;
        size_t e = ((size_t)(at + n) << PMN__SLICE_SHIFT) >> PMN__POP_SHIFT;
        while (i < e && popmap_has(seg, i))
            i++;
        pg->popped = (uint32_t)((i << PMN__POP_SHIFT) - ((size_t)at << PMN__SLICE_SHIFT));
    }
    for (unsigned i = 0; i < n; i++)
        seg->slice_page[at + i] = pg;
    atomic_fetch_add_explicit(&h->active, (uint64_t)n << PMN__SLICE_SHIFT, memory_order_relaxed);
    return pg;
}

/* Give back the populated memory of [off, end) of small segment @seg
 * (slice multiples); lock held.  What cannot be given back stays
 * populated and counted. */
static void seg_purge(struct pmn__heap *h, struct pmn__segment *seg, size_t off, size_t end)
{
    size_t i = off >> PMN__POP_SHIFT, e = end >> PMN__POP_SHIFT;

    while (i < e) {
        size_t j;

        while (i < e && !popmap_has(seg, i))
            i++;
        for (j = i; j < e && popmap_has(seg, j); j++)
            ;
        if (j > i &&
            pmn__region_purge(seg->region, i << PMN__POP_SHIFT, (j - i) << PMN__POP_SHIFT) == 0)
            atomic_fetch_add_explicit(&h->purged,
                                      (uint64_t)popmap_unset(h, seg, i, j) << PMN__POP_SHIFT,
                                      memory_order_relaxed);
        i = j;
    }
}

/* Populated memory in free slices always kept for reuse before a
 * retiring page's is given back (see keep_bytes). */
#define PMN__PURGE_SLACK ((uint64_t)2 << 20)

/* A page younger than this keeps its memory when it retires (see
 * purge_wanted). */
#define PMN__PURGE_AGE_NS ((uint64_t)100 * 1000 * 1000)

/* The small cache's bound: none in a capped heap, whose populated memory
 * is what the cap bounds (pmn_alloc_stats.populated).  A bound of what
 * the cap leaves, checked as pages retire, still let a capped heap hold
 * 11.7 MiB populated under an 8 MiB cap: pages retired while the heap was
 * half full kept their memory, and the next class's larger pages did not
 * fit their slices (test-resident, a_capped_arena_caches_within_its_cap). */
static uint64_t cache_bound(const struct pmn__heap *h)
{
    return h->cap != 0 ? 0 : h->small_cache_max;
}

/*
 * Populated memory in free slices the heap keeps, beyond its live pages
 * (@active bytes), for new pages to take with no populate: the largest
 * of the slack, a quarter of the live pages, and the small cache's bound
 * (pmn_arena_opts.small_cache_bytes, 32 MiB unless the caller sized it;
 * the shim sizes it 0).  Without the bound, a heap that frees most of its
 * objects and allocates them again (bench/alloc's random between reps, a
 * server's request burst) gave its pages' memory back and populated it
 * again: about 4 ns of the random row's 17 per pair with one thread, 8
 * to 11 of 24 with two, two thirds of it zeroing pages under
 * MADV_POPULATE_WRITE (bench/README, issue 17).  pmn_arena_trim() gives
 * the kept memory back on request.
 */
static uint64_t keep_bytes(const struct pmn__heap *h, uint64_t active)
{
    uint64_t slack = active / 4 > PMN__PURGE_SLACK ? active / 4 : PMN__PURGE_SLACK;
    uint64_t kept = atomic_load_explicit(&h->kept_bytes, memory_order_relaxed);
    /* Threads' kept pages (page_keep) take their share of the bound. */
    uint64_t cache = cache_bound(h) > kept ? cache_bound(h) - kept : 0;

    return cache > slack ? cache : slack;
}

/* Whether page @pg, retiring now, should give its memory back; lock held.
 * Only when the heap holds more populated memory than its live pages'
 * slices plus keep_bytes(): free slices that stay populated are what a new
 * page takes first (slices_take), so a heap that shrinks and grows again
 * refaults nothing within that, and one whose pages fragment over
 * time does not keep every slice it ever used resident.  And only a page
 * that lived PMN__PURGE_AGE_NS or more: a heap whose pages churn
 * (bench/alloc's random: a free may retire a page and the next malloc take
 * one whose slices do not fit the freed ones) gave back and populated
 * again on every cycle, 47 ns per pair instead of 24 with one thread and
 * 117 instead of 36 with two (10 ms still cost 32 and 58; 100 ms, like
 * no give-back at all, 23 and 36, also with 1 s cells). */
static bool purge_wanted(const struct pmn__heap *h, const struct pmn__page *pg)
{
    uint64_t active = atomic_load_explicit(&h->active, memory_order_relaxed);
    uint64_t pop = atomic_load_explicit(&h->populated, memory_order_relaxed);

    return h->release_empty && pop > active + keep_bytes(h, active) &&
           pmn_prim_now_ns() - pg->born_ns >= PMN__PURGE_AGE_NS;
}

/* Whether segment @seg, left with no live page beyond the retained empty
 * ones, stays for its populated slices; lock held.  While the heap's
 * populated memory outside live pages is within keep_bytes(), up to as
 * many more empty segments as the small cache's bound holds whole: a
 * heap that freed everything kept retain segments and unmapped the rest,
 * whose memory its next burst populated again. */
static bool seg_cached(const struct pmn__heap *h, const struct pmn__segment *seg)
{
    uint64_t active = atomic_load_explicit(&h->active, memory_order_relaxed);
    uint64_t pop = atomic_load_explicit(&h->populated, memory_order_relaxed);

    return seg->pop_bytes > PMN__SLICE_SIZE &&
           h->empty_segments < h->retain + cache_bound(h) / PMN__SEG_SIZE &&
           pop <= active + keep_bytes(h, active);
}

/* A small page's pops and pushes join the heap's retired counts; lock
 * held, the page about to go (its owner pushes nothing more). */
static void page_fold(struct pmn__heap *h, const struct pmn__page *pg)
{
    h->retired_allocs[pg->cls] += pmn__cnt_get(&pg->nalloc);
    h->retired_frees[pg->cls] += pmn__cnt_get(&pg->nfree);
}

/* Each live page of small segment @seg, once (its first slice); lock
 * held.  The order of a page's slices is its own. */
#define FOR_EACH_PAGE(seg, pg)                    \
    for (unsigned i_ = 1; i_ < PMN__SLICES; i_++) \
        if (((pg) = (seg)->slice_page[i_]) == &(seg)->pages[i_] && (pg)->live)

/* Give a page's slices back, their memory too when @purge and
 * purge_wanted() say so; lock held. */
static void slices_give_ex(struct pmn__heap *h, struct pmn__page *pg, bool purge)
{
    struct pmn__segment *seg = (struct pmn__segment *)((uintptr_t)pg & ~PMN__SEG_MASK);
    unsigned n = pg->nslices, at = pg->slice;

    page_fold(h, pg);

    for (unsigned i = 0; i < n; i++)
        seg->slice_page[at + i] = &pmn__no_page;
    pg->live = 0;
    atomic_fetch_sub_explicit(&h->active, (uint64_t)n << PMN__SLICE_SHIFT, memory_order_relaxed);
    if (seg->free_slices == 0) {
        /* Room again: to the front, where seg_find() looks first. */
        h->nonfull_segments++;
        if (h->segments != seg) {
            pmn__seg_unlink(&h->segments, seg);
            pmn__seg_link(&h->segments, seg);
        }
    }
    seg->free_slices |= (((n == 64 ? 0 : ((uint64_t)1 << n)) - 1) << at);
    if (purge && !seg->keep && purge_wanted(h, pg))
        seg_purge(h, seg, (size_t)at << PMN__SLICE_SHIFT, (size_t)(at + n) << PMN__SLICE_SHIFT);
    if (seg->free_slices != ALL_SLICES || seg->keep)
        return;
    if (h->release_empty && h->empty_segments >= h->retain && !seg_cached(h, seg)) {
        pmn__seg_unlink(&h->segments, seg);
        h->nonfull_segments--;
        pmn__seg_release(h, seg);
    } else {
        h->empty_segments++;
    }
}

static void slices_give(struct pmn__heap *h, struct pmn__page *pg)
{
    slices_give_ex(h, pg, true);
}

/* Slices for a new page of @cls; lock held.  NULL with the reason in
 * *@why. */
static struct pmn__page *page_new(struct pmn__heap *h, struct pmn__theap *th, unsigned cls,
                                  int *why)
{
    if (h->dead) {
        *why = PMN_E_DESTROYED;
        return NULL;
    }
    struct pmn__page *pg = slices_take(h, h->class_slices[cls], th, cls, why);

    /* Under the lock, as pmn__heap_stats() reads it of every live page. */
    if (pg != NULL)
        pg->cls = (uint8_t)cls;
    return pg;
}

/*
 * The calling thread @th needs a page of @cls and the heap has no free
 * populated slices for it: @th's free caches of other classes go back to
 * their pages, and its empty pages of those classes (the spare page
 * page_empty() keeps, a current page whose objects were all freed, and
 * the pages the caches' return emptied) give their slices back, so that
 * the new page reuses their populated memory instead of populating more.
 * Each class keeps up to two
 * empty pages for a size that comes and goes; a program that moves from
 * size to size (glibc-simple: batches of 16 to 512 bytes) held two pages
 * of every size it had finished with.  Only when the heap would otherwise
 * grow, so a heap whose free slices serve its churn (bench/alloc's random)
 * never gets here.  Lock held; the caller is @th's thread, the only one
 * that touches its queues.  Whether any page was given back.
 */
static bool give_own_empty(struct pmn__heap *h, struct pmn__theap *th, unsigned cls)
{
    bool any = false;

    if (!h->release_empty || th->share)
        return false;
    for (unsigned c = 0; c < h->nclasses; c++)
        if (c != cls)
            any |= class_give_empty(h, th, c, false);
    return any;
}

/* @th's free cache of class @c back on its pages, then every page of the
 * class left empty back to the heap (lock held, @th's thread): for a new
 * page (give_own_empty: all of them, their memory kept for it, no purge
 * and refault), or because the theap is @leaving its thread
 * (fcache_give_back: its current page and spare stay with it, the others
 * purge as any retiring page).  Whether any page went. */
static bool class_give_empty(struct pmn__heap *h, struct pmn__theap *th, unsigned c, bool leaving)
{
    struct pmn__queue *q = &th->cl[c].pages;
    struct pmn__page *pg, *next;
    bool any = false;

    /* The cache first: its blocks may be what keeps a page from being
     * empty. */
    if (th->cl[c].fc.head != NULL)
        fcache_return(th, c, true);
    for (pg = q->head; pg != NULL; pg = next) {
        next = pg->next;
        if (pg->used != 0 || (leaving && (pg == q->head || pg == th->spare[c])))
            continue;
        q_remove(q, pg);
        if (th->spare[c] == pg)
            th->spare[c] = NULL;
        kept_forget(th, pg);
        slices_give_ex(h, pg, leaving);
        any = true;
    }
    return any;
}

/* Make fresh slices a page of @cls (no lock: the page is nobody's yet).
 * Nothing is written into the blocks: pmn__page_extend() threads them as
 * they are needed, so a page that a short burst takes and gives back
 * costs no write per block.  Blocks past the threaded part carry no mark,
 * whatever an earlier page left in them: limit keeps every free out. */
static void page_init(struct pmn__heap *h, struct pmn__page *pg, unsigned cls)
{
    uint32_t bs = h->class_size[cls];

    pg->block_size = bs; /* pg->cls is set already (page_new) */
    pg->divm = UINT64_MAX / bs + 1;
    pg->start = (char *)((uintptr_t)pg & ~PMN__SEG_MASK) + ((size_t)pg->slice << PMN__SLICE_SHIFT);
    pg->capacity = (uint32_t)(((size_t)pg->nslices << PMN__SLICE_SHIFT) / bs);
    pg->reserved = 0;
    atomic_store_explicit(&pg->limit, 0, memory_order_relaxed);
    pg->free = NULL;
}

/* Never-used blocks threaded at a time (at least one block): the blocks
 * already populated past the threaded part, up to PMN__EXTEND_BYTES, so a
 * busy page takes the slow path once per 16 KiB of blocks (a 512-byte
 * class went there every 8 allocations with 4 KiB); when nothing is
 * populated there, PMN__EXTEND_MIN_BYTES' worth, populated first, so a
 * class used for a few objects populates a few KiB (page_populate). */
#define PMN__EXTEND_BYTES 16384u
#define PMN__EXTEND_MIN_BYTES 4096u

/* Bytes a page's populated part grows by beyond what extend needs: none
 * the first time a page on never-populated slices extends when it is its
 * owner's only page of the class (its first blocks, 4 KiB for a small
 * class), else and then 16 KiB, then doubling up to 64
 * KiB, so a class used for a few objects keeps 4 KiB resident, not its
 * whole page, and a busy page takes a handful of populate calls, not one
 * per extend (4 KiB steps of at most 32 KiB cost alloc-test about 30 % of
 * its time in an interleaved A/B).  The first step was 16 KiB: a small
 * program using a dozen classes held 12 KiB more per class (the empty
 * program's segment: 100 KiB resident, now 40; cache-scratch and xmalloc
 * peaked 248 KiB lower, larson 448).  A page on slices an earlier page
 * populated starts from what they hold and grows by the steps. */
#define PMN__POP_STEP_MIN ((uint32_t)16 << 10)
#define PMN__POP_STEP_MAX ((uint32_t)64 << 10)

/*
 * Populating ahead.  In a heap that has populated PMN__AHEAD_FROM or more
 * (and has no cap), a page of one slice that is not its owner's only page
 * of the class and sits at its segment's frontier (no slice past it ever
 * populated) is populated whole at once, together with the free slices
 * right after it, up to a sixteenth of what the heap has populated and
 * PMN__AHEAD_MAX at most: the next pages taken there (slices_take prefers
 * populated slices) need no populate of their own.  Each populate is four
 * system calls under the heap lock (prefer, populate, verify, bind:
 * backing-node.c), mbind's VMA split and merge the dearest (19 us a call
 * under perf trace in mstress, while the other threads waited on the
 * lock), and a busy page took three (16, 32, 64 KiB).  Filling 256 MiB
 * with 64-byte objects went from 50-60 to 30 ns an object (glibc 28);
 * mstress made 2455 populates and 4778 mbind calls, now 1310 and 2493,
 * and ran 0.24 -> 0.22 s, its peak RSS 3-4 % higher (bench/README.md
 * "Issue 17, 0.12.7").  Whole pages for every page at the frontier put
 * larson's peak 16 % higher; a page that is its owner's only one of the
 * class still grows by the steps above, as does every page of a heap
 * below PMN__AHEAD_FROM, so a small program keeps its small resident set.
 * Only the frontier moves ahead: slices the heap purged stay purged until
 * a page takes them.
 */
#define PMN__AHEAD_FROM ((size_t)1 << 20)
#define PMN__AHEAD_MAX ((size_t)256 << 10)

/* Bytes of free, never-populated slices right after one-slice page @pg
 * to populate with it (lock held); 0 when the page is not at its
 * segment's frontier. */
static size_t ahead_of(const struct pmn__segment *seg, const struct pmn__page *pg, size_t max)
{
    unsigned s = pg->slice + 1u, n = 0;

    if (s < seg->pop_hi)
        return 0;
    while (s + n < PMN__SLICES && ((size_t)(n + 1) << PMN__SLICE_SHIFT) <= max &&
           ((seg->free_slices >> (s + n)) & 1))
        n++;
    return (size_t)n << PMN__SLICE_SHIFT;
}

/* Populate @pg up to at least @need bytes from its start (owner only; the
 * heap lock is taken here).  0 or the region's error. */
static int page_populate(struct pmn__page *pg, size_t need)
{
    struct pmn__segment *seg = (struct pmn__segment *)((uintptr_t)pg & ~PMN__SEG_MASK);
    struct pmn__heap *h = seg->heap;
    /* Up to the end of the last block, not of the last slice: the tail
     * no block reaches (32 KiB of a 192 KiB page of four 40 KiB blocks)
     * is never written. */
    size_t base = (size_t)pg->slice << PMN__SLICE_SHIFT,
           bytes = seg_round(h, (size_t)pg->capacity * pg->block_size);
    struct pmn__theap *o = pg->owner;
    /* The first step is the blocks needed only on the owner's one page of
     * the class: a class used for a few objects.  A page among others
     * (bench/alloc's random refills purged slices all the time) grows by
     * 16 KiB at once, one populate call fewer. */
    bool lone = pg->prev == NULL && pg->next == NULL && o->full[pg->cls].head == NULL;
    size_t step = pg->popped == 0 && lone          ? 0
                  : pg->popped < PMN__POP_STEP_MIN ? PMN__POP_STEP_MIN
                  : pg->popped < PMN__POP_STEP_MAX ? pg->popped
                                                   : PMN__POP_STEP_MAX;
    size_t want = pg->popped + step > need ? pg->popped + step : need;
    size_t pop = atomic_load_explicit(&h->populated, memory_order_relaxed), ahead = 0;
    int err;

    if (bytes > (size_t)pg->nslices << PMN__SLICE_SHIFT)
        bytes = (size_t)pg->nslices << PMN__SLICE_SHIFT; /* a unit larger than the tail */
    want = seg_round(h, want);
    if (want > bytes)
        want = bytes;
    pthread_mutex_lock(&h->lock);
    if (pg->nslices == 1 && !lone && pop >= PMN__AHEAD_FROM && h->cap == 0 &&
        pop_unit(h) <= PMN__SLICE_SIZE &&
        (ahead = ahead_of(seg, pg, pop / 16 < PMN__AHEAD_MAX ? pop / 16 : PMN__AHEAD_MAX)) != 0)
        want = bytes;
    /* With the slices ahead, else (or when the node cannot give them:
     * the page alone may still fit) the page's own part. */
    if (ahead == 0 || seg_ensure(h, seg, base + pg->popped, base + PMN__SLICE_SIZE + ahead) != 0)
        err = seg_ensure(h, seg, base + pg->popped, base + want);
    else
        err = 0;
    pthread_mutex_unlock(&h->lock);
    if (err == 0)
        pg->popped = (uint32_t)want;
    return err;
}

int pmn__page_extend(struct pmn__page *pg)
{
    uint32_t bs = pg->block_size, left = pg->capacity - pg->reserved, n;
    char *first, *b, *last;
    size_t end;
    int err;

    if (left == 0)
        return 0;
    /* What is populated already past the threaded part, up to
     * PMN__EXTEND_BYTES; else a few blocks, populated now. */
    n = pg->popped > pg->reserved * bs ? (pg->popped - pg->reserved * bs) / bs : 0;
    if (n == 0)
        n = PMN__EXTEND_MIN_BYTES / bs;
    else if (n > PMN__EXTEND_BYTES / bs)
        n = PMN__EXTEND_BYTES / bs;
    n = n == 0 ? 1 : n < left ? n : left;
    /* The blocks about to be threaded must be populated first: the
     * library writes their links now, and hands them out next. */
    end = ((size_t)pg->reserved + n) * bs;
    if (end > pg->popped && (err = page_populate(pg, end)) != 0)
        return err;
    first = pg->start + (size_t)pg->reserved * bs;
    last = first + (size_t)(n - 1) * bs;
    /* A reused page's memory is still poisoned from its last life.  Each
     * block gets its link and the owner's key: on the free list, never
     * handed out, and refused if freed. */
    UNPOISON(first, (size_t)n * bs);
    for (b = first; b < last; b += bs) {
        *(void **)b = b + bs;
        atomic_store_explicit(pmn__mark(b), pmn__key_owner(b), memory_order_relaxed);
    }
    *(void **)last = pg->free;
    atomic_store_explicit(pmn__mark(last), pmn__key_owner(last), memory_order_relaxed);
    POISON(first, (size_t)n * bs);
    pg->free = first;
    pg->reserved += n;
    /* After the marks: another thread that reads the new limit and then
     * a mark of a block below it must see the mark.  A page threaded anew
     * (collect_some) keeps its limit until it threads past it. */
    if (pg->reserved * bs > atomic_load_explicit(&pg->limit, memory_order_relaxed))
        atomic_store_explicit(&pg->limit, pg->reserved * bs, memory_order_release);
    return 1;
}

/* A double free that reached a page's thread_free stack although the block
 * was free already (see "Misuse" in heap.h): dropped, and said. */
static void late_misuse(struct pmn__heap *h, void *p)
{
    if (h->on_misuse != NULL)
        h->on_misuse(p);
    pmn__log(h->b->ctx, 2,
             "double free of %p detected (freed by two threads at once); the second free "
             "was dropped",
             p);
}

/* Move other threads' frees into the owner's list.  A page no other
 * thread freed into costs one plain load, not a locked exchange.
 *
 * Into an empty list (what the malloc's slow path meets at the page it
 * takes its blocks from), the stack is the list: its count, in the stack
 * word (heap.h PMN__TF_CSHIFT), settles the page's used count, and no
 * block is read.  Its blocks keep the remote key, which every free path
 * reads as free as it does the owner's.  Walking the stack read each block
 * for its link, a cache miss each, one after the other, since another
 * thread wrote the block last: bench/alloc's
 * prodcons-2k (every object freed by the other thread) 17.0 -> 16.0 ns per
 * object, and bench/shim's xmalloc 0.17 -> 0.13 s (bench/README.md, "Issue
 * 17, 0.12.5").
 *
 * Into a list that holds blocks, or with a count at its ceiling, the
 * stack is walked: each block takes the owner's key as it joins the list,
 * and one marked with the owner's key already was freed by the owner too,
 * in the one window another thread's swap leaves (heap.h, top): it is on
 * the owner's list, so it is not linked twice. */
static void collect_some(struct pmn__heap *h, struct pmn__page *pg)
{
    uintptr_t old, cnt;
    void *head = pg->free, *b;
    uint32_t n = 0, seen = 0;

    /* The stack, leaving the full-queue bit as it was (heap.h). */
    old = atomic_fetch_and_explicit(&pg->thread_free, PMN__TF_DELAYED, memory_order_acquire);
    b = (void *)(old & PMN__TF_PTR);
    cnt = old >> PMN__TF_CSHIFT;
    if (head == NULL && b != NULL && cnt < PMN__TF_CMAX && cnt <= pg->used) {
        if (cnt != pg->used) {
            pg->used -= (uint32_t)cnt;
            pg->free = b;
            return;
        }
        n = (uint32_t)cnt; /* emptied: threaded anew, below */
        b = NULL;
    }
    while (b != NULL) {
        void *next;
        uintptr_t v;

        UNPOISON(b, 2 * sizeof(void *));
        next = *(void **)b;
        v = atomic_load_explicit(pmn__mark(b), memory_order_relaxed);
        /* A block freed by its owner too (the owner may have rewritten
         * the link just read), or a walk longer than the page (a cycle
         * cannot form, since the mark admits a block once, but a corrupted
         * list must still end): the rest of this list is lost, leaked,
         * never handed out twice. */
        if (v != pmn__key_remote(b) || ++seen > pg->capacity) {
            POISON(b, 2 * sizeof(void *));
            late_misuse(h, b);
            break;
        }
        *(void **)b = head;
        atomic_store_explicit(pmn__mark(b), pmn__key_owner(b), memory_order_relaxed);
        POISON(b, 2 * sizeof(void *));
        head = b;
        n++;
        b = next;
    }
    pg->free = head;
    pg->used -= n; /* the freeing threads counted these frees already */
    /* Other threads' frees emptied the page: its blocks go out again in
     * address order (pmn__page_extend threads them afresh, below the
     * limit they keep), not in the order they came back.  A page whose
     * list sizes came and went at random (bench/alloc's random) kept that
     * order for good, and the next walk of this stack, a chase through
     * lines the freeing thread holds, then missed on every block: the
     * arena's prodcons row read 72 ns per object alone and 117-160 after
     * the random rows, where the processor's prefetcher had followed the
     * addresses in order (a model of the walk: 30-60 ns in order, 176-179
     * shuffled). */
    if (n != 0 && pg->used == 0) {
        pg->free = NULL;
        pg->reserved = 0;
        /* Its first blocks at once, so that every caller finds the page
         * with a free list, as before: they are populated already (popped
         * covers what was threaded), so this takes no lock and cannot
         * fail (reclaim() calls here with the heap lock held). */
        (void)pmn__page_extend(pg);
    }
}

static inline void collect(struct pmn__heap *h, struct pmn__page *pg)
{
    if ((atomic_load_explicit(&pg->thread_free, memory_order_relaxed) & ~PMN__TF_DELAYED) != 0)
        collect_some(h, pg);
}

/* ---- full pages: the delayed list (heap.h, "Full pages") ---- */

/* @pg off @th's full queue, unmarked: other threads' frees take its stack
 * again.  (The thread that pushed onto the delayed list cleared the mark
 * already, unless the owner's own free brings the page back.)  The caller
 * queues it. */
static void page_leave_full(struct pmn__theap *th, struct pmn__page *pg)
{
    q_remove(&th->full[pg->cls], pg);
    pg->in_full = 0;
    atomic_fetch_and_explicit(&pg->thread_free, ~PMN__TF_DELAYED, memory_order_relaxed);
}

/* Another thread's free of @p, the first into full page @pg since it
 * filled: onto the owner's delayed list.  The block counts as used until
 * the owner takes it, so neither the page nor its owner changes meanwhile. */
void pmn__free_delayed(struct pmn__page *pg, void *p)
{
    struct pmn__theap *o = pg->owner;
    uintptr_t old = atomic_load_explicit(&o->delayed, memory_order_relaxed);

    do {
        *(uintptr_t *)p = old;
    } while (!atomic_compare_exchange_weak_explicit(&o->delayed, &old, (uintptr_t)p,
                                                    memory_order_release, memory_order_relaxed));
}

/* @th's delayed list onto the blocks' pages, each page off the full queue
 * (it has a free block now): by @th's thread, or with the heap lock held
 * for an orphan (reclaim).  Each block is checked as collect_some() checks
 * a page's stack, and first that it is a block of one of @th's pages (the
 * list is linked through freed blocks, which a use after free can
 * overwrite): at the first that is not, the rest of the list is dropped
 * (leaked, never handed out twice) and reported. */
static bool delayed_drain(struct pmn__heap *h, struct pmn__theap *th)
{
    void *b, *next;

    if (atomic_load_explicit(&th->delayed, memory_order_relaxed) == 0)
        return false;
    b = (void *)atomic_exchange_explicit(&th->delayed, 0, memory_order_acquire);
    for (; b != NULL; b = next) {
        struct pmn__segment *seg = pmn__segment_of(b);
        struct pmn__page *pg =
            seg != NULL && seg->heap == h && !seg->large ? pmn__page_of(seg, b) : NULL;

        if (pg == NULL || pg->owner != th || !pmn__block_start(pg, b)) {
            late_misuse(h, b);
            break;
        }
        UNPOISON(b, 2 * sizeof(void *));
        next = *(void **)b;
        /* Not the remote key: the owner freed it too (heap.h, top), and its
         * list now runs through the link just read. */
        if (atomic_load_explicit(pmn__mark(b), memory_order_relaxed) != pmn__key_remote(b)) {
            POISON(b, 2 * sizeof(void *));
            late_misuse(h, b);
            break;
        }
        pmn__page_link(pg, b); /* the freeing thread counted the free */
        if (pg->in_full) {
            /* To the back of its class's queue, not second as an owner's
             * free puts it: the other thread is most likely still freeing
             * into it, and a page taken up at its first free was refilled
             * a few blocks at a time, the two threads on the same lines
             * (bench/alloc prodcons-2k: 130 ns per object instead of 57). */
            page_leave_full(th, pg);
            q_push_back(&th->cl[pg->cls].pages, pg);
        }
    }
    return true;
}

/* @pg, current in @th's queue of its class with no block to give, joins
 * the class's full queue, marked so that the next free into it by
 * another thread reaches the delayed list.  False, with the page left
 * where it was, when such frees reached its stack since it was last
 * collected: the caller collects them and uses the page. */
static bool page_to_full(struct pmn__theap *th, struct pmn__page *pg)
{
    uintptr_t old =
        atomic_fetch_or_explicit(&pg->thread_free, PMN__TF_DELAYED, memory_order_acq_rel);

    if (old & ~PMN__TF_DELAYED) {
        atomic_fetch_and_explicit(&pg->thread_free, ~PMN__TF_DELAYED, memory_order_relaxed);
        return false;
    }
    q_remove(&th->cl[pg->cls].pages, pg);
    q_push_front(&th->full[pg->cls], pg);
    pg->in_full = 1;
    return true;
}

/* ---- capped heaps: capacity shared by every thread ----
 *
 * In a capped heap a page that its owner empties goes to the heap's pool
 * at once, the owner's current page included (pmn__page_after_free), so
 * capacity one thread frees is never stranded with it while that thread
 * does something else.  Pooled pages keep their free lists: taking one is
 * a pop under the heap lock.  A thread that finds no page within the cap
 * reclaims before failing: pooled pages of other classes give their
 * slices back, and the pages of orphaned theaps (threads that exited)
 * are collected, the empty ones pooled.  What no one can take is a page
 * of a live thread holding objects that other threads freed and the
 * owner has not collected yet (its next allocation does). */

static void pool_push(struct pmn__heap *h, struct pmn__page *pg)
{
    pg->prev = NULL;
    pg->next = h->pool[pg->cls];
    h->pool[pg->cls] = pg;
    pg->in_full = 0;
    atomic_fetch_add_explicit(&h->npool, 1, memory_order_relaxed);
}

static struct pmn__page *pool_pop(struct pmn__heap *h, unsigned cls)
{
    struct pmn__page *pg = h->pool[cls];

    if (pg != NULL) {
        h->pool[cls] = pg->next;
        pg->next = NULL;
        atomic_fetch_sub_explicit(&h->npool, 1, memory_order_relaxed);
    }
    return pg;
}

/* The heap is at its cap: free what is free for @cls; lock held. */
static void reclaim(struct pmn__heap *h, unsigned cls)
{
    struct pmn__page *pg, *next;

    for (unsigned c = 0; c < h->nclasses; c++)
        while (c != cls && (pg = pool_pop(h, c)) != NULL)
            slices_give(h, pg);
    for (struct pmn__theap *o = h->theaps; o; o = o->next) {
        if (!o->orphan)
            continue;
        delayed_drain(h, o); /* no thread has it: the lock keeps adopters out */
        for (unsigned c = 0; c < h->nclasses; c++) {
            struct pmn__queue *qs[2] = {&o->cl[c].pages, &o->full[c]};
            for (int k = 0; k < 2; k++) {
                for (pg = qs[k]->head; pg; pg = next) {
                    next = pg->next;
                    collect(h, pg);
                    if (pg->used != 0)
                        continue;
                    q_remove(qs[k], pg);
                    if (o->spare[c] == pg)
                        o->spare[c] = NULL;
                    kept_forget(o, pg);
                    if (c == cls) {
                        pool_push(h, pg);
                    } else {
                        pg->in_full = 0;
                        slices_give(h, pg);
                    }
                }
            }
        }
    }
}

/* A page for @th: a pooled one, else new slices, else (capped heaps) what
 * reclaiming frees.  Sets the thread's last error when there is none. */
static struct pmn__page *page_get(struct pmn__heap *h, struct pmn__theap *th, unsigned cls)
{
    struct pmn__page *pg = NULL;
    bool fresh = false;
    int why = -ENOMEM;

    pthread_mutex_lock(&h->lock);
    if (atomic_load_explicit(&h->npool, memory_order_relaxed) != 0)
        pg = pool_pop(h, cls);
    if (pg == NULL)
        fresh = (pg = page_new(h, th, cls, &why)) != NULL;
    if (pg == NULL && h->cap != 0 && why == PMN_E_CAP_REACHED && !h->dead) {
        reclaim(h, cls);
        pg = pool_pop(h, cls);
        if (pg == NULL)
            fresh = (pg = page_new(h, th, cls, &why)) != NULL;
    }
    if (pg != NULL)
        pg->owner = th;
    pthread_mutex_unlock(&h->lock);
    if (pg == NULL) {
        pmn__set_last_error(why);
        return NULL;
    }
    if (fresh)
        page_init(h, pg, cls);
    return pg;
}

/*
 * The calling thread trades @th, its theap of @h, young, for @want, the
 * owner of the object it is freeing, when @want is an orphan: @th becomes
 * one (its free caches given back, its few objects another thread's from
 * now on) and the thread adopts @want.  A thread whose first call was a
 * malloc took whichever orphan the list gave first; when its first free
 * of an inherited object shows which one holds what it inherited, it
 * takes that one, as a thread whose first call is that free does
 * (pmn__theap_bind).  One try per binding: @th stops being young here
 * either way.  Only when the caller looked @th up itself (a bulk free
 * keeps its theap across its frees).  Returns the theap the thread has
 * after: @th when nothing was traded, else the one it adopted (@want, or
 * the first orphan or a new theap when another thread took @want
 * meanwhile), or NULL when binding again failed (no memory).
 * bench/shim's mstress (each round's threads take over the last round's
 * live sets, half of them with a malloc first), medians of five A/B runs
 * of nine or eleven: 0.33 -> 0.31, 0.27 -> 0.25, 0.29 -> 0.28, 0.20 ->
 * 0.20, 0.27 -> 0.26 s; larson, whose threads free first, level
 * (bench/README.md "Issue 17, 0.12.6").
 */
static struct pmn__theap *theap_trade(struct pmn__heap *h, struct pmn__theap *th,
                                      struct pmn__theap *want)
{
    struct pmn__tls_slot *slot = tls_slot_of(h);
    struct pmn__theap *got;
    bool ok;

    th->young = 0;
    if (slot == NULL)
        return th;
    pthread_mutex_lock(&h->lock);
    ok = !h->dead && !h->forked && want->orphan;
    pthread_mutex_unlock(&h->lock);
    if (!ok)
        return th;
    atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed); /* through the unbind */
    unbind_slot(slot);
    got = pmn__theap_bind(h, want); /* not young: bound for a free */
    heap_unref(h);
    return got;
}

/* An allocation that found no memory: counted, said (@why), NULL. */
static void *alloc_failed(struct pmn__heap *h, int why)
{
    atomic_fetch_add_explicit(&h->failures, 1, memory_order_relaxed);
    pmn__set_last_error(why);
    errno = ENOMEM;
    return NULL;
}

void *pmn__heap_alloc_slow(struct pmn__heap *h, struct pmn__theap *th, unsigned cls)
{
    struct pmn__queue *q;
    struct pmn__page *pg, *next;
    int got;

    if (th == NULL) {
        th = pmn__theap_bind(h, NULL);
        if (th == NULL) {
            pmn__set_last_error(h->dead ? PMN_E_DESTROYED : h->forked ? -EBUSY : -ENOMEM);
            errno = h->dead ? EINVAL : h->forked ? EBUSY : ENOMEM;
            return NULL;
        }
    }
    if (th->young)
        th->young--;
    trim_sync(th);
    /* The pages walked are the ones with room, never every full one: full
     * pages other threads freed into come back through the delayed list
     * (heap.h, "Full pages"), taken only once the class's queue has no
     * room left, before a new page.  Taken at every slow path, the list's
     * line crossed between the two threads at every page of a producer and
     * consumer pair (bench/alloc prodcons-2k 5-9 % slower than with the
     * full-page walk, bench/README.md "0.12.2"); taken this late, the
     * freeing thread pushes many pages onto a line it keeps. */
    q = &th->cl[cls].pages;
    do {
        for (pg = q->head; pg; pg = next) {
            next = pg->next;
            do {
                collect(h, pg);
                got = pg->free != NULL              ? 1
                      : pg->reserved < pg->capacity ? pmn__page_extend(pg)
                                                    : 0;
                if (got < 0)
                    return alloc_failed(h, got);
                if (got) {
                    if (pg != q->head) {
                        q_remove(q, pg);
                        q_push_front(q, pg);
                    }
                    return pmn__page_pop(pg);
                }
            } while (!page_to_full(th, pg));
        }
    } while (delayed_drain(h, th));
    pg = page_get(h, th, cls);
    if (pg == NULL) {
        atomic_fetch_add_explicit(&h->failures, 1, memory_order_relaxed);
        errno = ENOMEM;
        return NULL;
    }
    pmn__publish_tick(); /* issue 18: published stats, from this slow path */
    q_push_front(q, pg);
    /* A fresh page (a pooled one keeps its list); one that cannot be
     * populated stays first in the queue, tried again by the next call. */
    if (pg->free == NULL && (got = pmn__page_extend(pg)) <= 0)
        return alloc_failed(h, got < 0 ? got : -ENOMEM);
    return pmn__page_pop(pg);
}

static uint64_t page_bytes(const struct pmn__page *pg)
{
    return (uint64_t)pg->nslices << PMN__SLICE_SHIFT;
}

/* @th's empty page @pg, neither its current page nor its spare, goes back
 * to the heap (its owner's thread). */
static void page_give_back(struct pmn__theap *th, struct pmn__page *pg)
{
    struct pmn__heap *h = th->heap;

    q_remove(pg->in_full ? &th->full[pg->cls] : &th->cl[pg->cls].pages, pg);
    pthread_mutex_lock(&h->lock);
    slices_give(h, pg);
    pthread_mutex_unlock(&h->lock);
}

/* Whether @pg may go back: empty, not the current page of its class nor
 * the class's spare. */
static bool page_idle(const struct pmn__theap *th, const struct pmn__page *pg)
{
    return pg->used == 0 && pg != th->cl[pg->cls].pages.head && pg != th->spare[pg->cls];
}

/* Entry @i of @th's kept list leaves it (its bytes with it). */
static struct pmn__page *kept_take(struct pmn__theap *th, unsigned i)
{
    struct pmn__page *pg = th->kept[i];

    atomic_fetch_sub_explicit(&th->heap->kept_bytes, page_bytes(pg), memory_order_relaxed);
    memmove(&th->kept[i], &th->kept[i + 1], (th->nkept - i - 1) * sizeof(th->kept[0]));
    th->nkept--;
    return pg;
}

/* @pg leaves @th (given back, pooled): off its kept list, if there. */
static void kept_forget(struct pmn__theap *th, const struct pmn__page *pg)
{
    for (unsigned i = 0; i < th->nkept; i++)
        if (th->kept[i] == pg) {
            (void)kept_take(th, i);
            return;
        }
}

/* The oldest page on @th's kept list leaves it, and goes back to the heap
 * when it is still idle (one reused since, or become the spare, stays). */
static void kept_evict(struct pmn__theap *th)
{
    struct pmn__page *pg = kept_take(th, 0);

    if (page_idle(th, pg))
        page_give_back(th, pg);
}

/* Every page on @th's kept list leaves it; the idle ones go back. */
static void kept_drop_all(struct pmn__theap *th)
{
    while (th->nkept > 0)
        kept_evict(th);
}

/* Whether a trim happened since @th last gave its caches back. */
static bool trim_unseen(const struct pmn__theap *th)
{
    return __builtin_expect(
        th->trim_seen != atomic_load_explicit(&th->heap->trim_gen, memory_order_relaxed), 0);
}

/* Every page of @th's, full ones too, takes in what other threads freed
 * into it, and each that is then empty goes back to the heap (a capped
 * heap's too: its slices serve any thread, as its pool's pages do, and the
 * trim purges them), but for a class's current page and spare.  Other
 * threads' frees otherwise wait until @th runs out of room in the class,
 * so a producer that handed all its objects to a consumer and trimmed got
 * nothing back (tests/unit/test-resident.c).  A walk of all the thread's
 * pages, once per trim: trim_sync() only, kept pages dropped first. */
static void collect_own(struct pmn__theap *th)
{
    struct pmn__heap *h = th->heap;
    struct pmn__page *pg, *next;

    (void)delayed_drain(h, th);
    for (unsigned c = 0; c < h->nclasses; c++) {
        for (pg = th->full[c].head; pg != NULL; pg = next) {
            next = pg->next;
            collect(h, pg);
            if (pg->free != NULL)
                page_unfull(th, pg);
        }
        for (pg = th->cl[c].pages.head; pg != NULL; pg = next) {
            next = pg->next;
            collect(h, pg);
            if (page_idle(th, pg))
                page_give_back(th, pg);
        }
    }
}

/*
 * A trim since @th last looked: its free caches go back to their pages,
 * and the pages that leaves empty, with its kept pages and the pages
 * other threads emptied (collect_own), back to the heap (the trim could
 * not touch another thread's queues).  While the trim is
 * unseen page_keep() keeps nothing, so the pages the free caches empty go
 * back too.  Owner only, with no lock held, outside the free path's page
 * moves: pmn__heap_alloc_slow() and pmn__heap_trim().
 */
static void trim_sync(struct pmn__theap *th)
{
    unsigned gen = atomic_load_explicit(&th->heap->trim_gen, memory_order_relaxed);

    if (__builtin_expect(th->trim_seen == gen, 1))
        return;
    for (unsigned c = 0; c < th->heap->nclasses; c++)
        if (th->cl[c].fc.head != NULL)
            fcache_return(th, c, false);
    kept_drop_all(th);
    collect_own(th);
    th->trim_seen = gen;
}

/*
 * Keep @pg, an idle page the spare displaced, on @th's queue instead of
 * giving it back: true when kept.  Only within the small cache's bound
 * (none in a capped heap, none in the shim's), which the kept pages of
 * every thread share with the heap's populated free slices (keep_bytes),
 * the oldest given back first.  bench/alloc's random (sizes from 16 B to
 * 64 KiB coming and going): pages emptied and made anew, each threaded
 * again block by block and taken under the heap lock, were 15 % of the
 * arena's time.
 */
static bool page_keep(struct pmn__theap *th, struct pmn__page *pg)
{
    struct pmn__heap *h = th->heap;
    uint64_t bound = cache_bound(h), bytes = page_bytes(pg);

    if (bound == 0 || th->share || bytes > bound)
        return false;
    if (trim_unseen(th)) {
        /* A trim wants memory back: none kept until trim_sync() runs. */
        kept_drop_all(th);
        return false;
    }
    for (unsigned i = 0; i < th->nkept; i++)
        if (th->kept[i] == pg)
            return true; /* kept already: reused, emptied, spare, displaced */
    while (th->nkept > 0 &&
           (th->nkept == PMN__KEPT ||
            atomic_load_explicit(&h->kept_bytes, memory_order_relaxed) + bytes > bound))
        kept_evict(th);
    if (atomic_load_explicit(&h->kept_bytes, memory_order_relaxed) + bytes > bound)
        return false; /* other threads' kept pages fill the bound */
    th->kept[th->nkept++] = pg;
    atomic_fetch_add_explicit(&h->kept_bytes, bytes, memory_order_relaxed);
    return true;
}

/* The owner freed the last object of a page that is not its current one:
 * keep it as the class's spare; the older spare stays too when page_keep()
 * takes it, else goes back. */
static void page_empty(struct pmn__theap *th, struct pmn__page *pg)
{
    struct pmn__page *old = th->spare[pg->cls];

    th->spare[pg->cls] = pg;
    if (old == NULL || old == pg || !page_idle(th, old))
        return;
    if (!page_keep(th, old))
        page_give_back(th, old);
}

static void page_unfull(struct pmn__theap *th, struct pmn__page *pg)
{
    page_leave_full(th, pg);
    q_push_front(&th->cl[pg->cls].pages, pg);
    /* keep the current head first: the unfull page goes second */
    if (pg->next) {
        struct pmn__page *head = pg->next;
        q_remove(&th->cl[pg->cls].pages, head);
        q_push_front(&th->cl[pg->cls].pages, head);
    }
}

/* Capped heaps: an empty page leaves its owner for the heap's pool. */
static void page_share(struct pmn__theap *th, struct pmn__page *pg)
{
    struct pmn__heap *h = th->heap;

    q_remove(&th->cl[pg->cls].pages, pg);
    if (th->spare[pg->cls] == pg)
        th->spare[pg->cls] = NULL;
    kept_forget(th, pg);
    pthread_mutex_lock(&h->lock);
    pool_push(h, pg);
    pthread_mutex_unlock(&h->lock);
}

int pmn__page_after_free(struct pmn__theap *th, struct pmn__page *pg)
{
    if (pg->in_full) {
        page_unfull(th, pg);
        if (pg->used == 0 && th->share)
            page_share(th, pg);
    } else if (pg->used == 0 && th->share) {
        page_share(th, pg);
    } else if (pg->used == 0 && pg != th->cl[pg->cls].pages.head) {
        struct pmn__fcache *fc = &th->cl[pg->cls].fc;

        page_empty(th, pg);
        /* The thread frees more of the class than it allocates (its cache
         * is full, and a page emptied): what the cache holds goes back
         * too, or the blocks it took first keep their pages, and whole
         * segments, from ever emptying (a program that frees everything
         * got back all but the segments its cache pinned). */
        if (fc->n >= fc->max && fc->head != NULL)
            fcache_return(th, pg->cls, false);
    }
    return 0;
}

/* ---- lookup and free ---- */

/* heap.h: what a free finds at a slice of no live page.  Never written:
 * the theap is nobody's (tp 0, no thread's thread pointer), the page
 * never live. */
static struct pmn__theap no_theap;
struct pmn__page pmn__no_page = {.owner = &no_theap};

struct pmn__page *pmn__page_of(struct pmn__segment *seg, const void *p)
{
    size_t idx = ((uintptr_t)p - (uintptr_t)seg) >> PMN__SLICE_SHIFT;
    struct pmn__page *pg;

    if (seg->large)
        return idx < PMN__SLICES || (char *)p >= seg->pages[0].start ? &seg->pages[0] : NULL;
    pg = idx < PMN__SLICES ? seg->slice_page[idx] : NULL;
    return pg != &pmn__no_page ? pg : NULL;
}

size_t pmn__usable(const void *p)
{
    struct pmn__segment *seg = pmn__segment_of(p);
    struct pmn__page *pg;

    if (seg == NULL)
        return 0;
    /* Only an object's start is an object: realloc copies from it. */
    if (seg->large)
        return seg->pages[0].live && p == seg->pages[0].start
                   ? seg->size - (size_t)((char *)seg->pages[0].start - (char *)seg)
                   : 0;
    pg = pmn__page_of(seg, p);
    return pg && pg->live && pmn__block_live(pg, p) ? pg->block_size : 0;
}

int pmn__free_misuse(const struct pmn__page *pg, const void *p)
{
    size_t off = (size_t)((const char *)p - pg->start);

    if ((const char *)p < pg->start || off >= (size_t)pg->capacity * pg->block_size)
        return PMN_E_FOREIGN; /* a page's tail: no object ever starts there */
    return off % pg->block_size ? PMN_E_INTERIOR : PMN_E_DOUBLE_FREE;
}

#ifdef PMN_DEBUG_FULL
/* Invariants of a page, checked after every change in debug_full builds:
 * the free list stays inside the page on block boundaries, has no cycle,
 * and free + used never exceeds capacity. */
static void check_page(const struct pmn__page *pg)
{
    uint32_t n = 0;

    if (!pg->live)
        return; /* just retired */
    for (void *b = pg->free, *next; b; b = next) {
        if ((char *)b < pg->start || ((char *)b - pg->start) % pg->block_size ||
            (char *)b >= pg->start + (size_t)pg->capacity * pg->block_size || ++n > pg->capacity)
            abort(); /* corrupted heap: debug builds stop at the first sign */
        UNPOISON(b, sizeof(void *));
        next = *(void **)b;
        POISON(b, sizeof(void *));
    }
    if (n + pg->used > pg->capacity)
        abort();
}
#endif

/* The whole free path (heap.h inlines its common case). */
int pmn__heap_free_slow(void *p, const struct pmn__heap *want, struct pmn__theap *th)
{
    struct pmn__segment *seg = pmn__segment_of(p);
    struct pmn__page *pg;
    bool found = th == NULL; /* looked up here, not kept by the caller (a bulk free) */
    int err;

    if (seg == NULL)
        return p == NULL ? 0 : PMN_E_FOREIGN;
    if (want != NULL && seg->heap != want)
        return PMN_E_FOREIGN;
    if (__builtin_expect(seg->heap->forked, 0))
        return -EBUSY; /* the parent's object, in the parent's shared file */
    if (__builtin_expect(atomic_load_explicit(&seg->exported, memory_order_relaxed) != 0, 0))
        pmn__ipc_on_free(seg, p);
    if (seg->large)
        return pmn__heap_free_large(seg, p);
    pg = seg->slice_page[((uintptr_t)p - (uintptr_t)seg) >> PMN__SLICE_SHIFT];
    if (!pg->live) /* pmn__no_page: never live */
        return PMN_E_FOREIGN;
    if (th == NULL)
        th = pmn__theap_find(seg->heap);
    /* The thread's first call into the heap is this free: it takes a theap
     * now, and the object's own when the thread that owned it exited
     * (pmn__theap_bind).  A worker that inherits an exited worker's live
     * objects (bench/shim's larson: connections' objects handed on as
     * threads come and go) then frees them as their owner, where with the
     * first orphan in the list nearly every free went onto another
     * thread's page, to wait there for its collect: larson 0.25 -> 0.23 s,
     * peak RSS 18.7 -> 13.5 MiB (bench/README.md "Issue 17, 0.12.6"). */
    if (!tls_exiting) {
        if (th == NULL)
            th = pmn__theap_bind(seg->heap, pg->owner);
        else if (found && th != pg->owner && th->young)
            th = theap_trade(seg->heap, th, pg->owner);
    }
    if (th == pg->owner) {
#ifdef PMN_DEBUG_FULL
        check_page(pg); /* before: the free may retire the page and unmap it */
#endif
        return pmn__free_local(th, pg, p);
    }
    /* Another thread's page: count the free here, where it happens, so
     * the stats are right even before the owner collects it.  What the
     * count needs is read before the push: once @p is on the stack, the
     * owner may collect it, retire the page (give_own_empty, page_empty)
     * and another thread make it a page of another class, or the segment
     * go back to the backing; the live block pins both until then. */
    {
        struct pmn__heap *h = seg->heap;
        unsigned cls = pg->cls;
        uint32_t bs = pg->block_size;

        err = pmn__free_remote(pg, p);
        if (err)
            return err;
        if (th != NULL) {
            pmn__cnt_add(&th->frees[cls], 1);
            pmn__cnt_add(&th->remote_frees, 1);
        } else {
            atomic_fetch_add_explicit(&h->large_c.frees, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&h->large_c.free_bytes, bs, memory_order_relaxed);
            atomic_fetch_add_explicit(&h->large_c.remote_frees, 1, memory_order_relaxed);
        }
    }
    return 0;
}

/* ---- life cycle ---- */

/* Slices per page: room for at least PMN__PAGE_MIN_BLOCKS blocks, at most
 * 2 MiB.  Four, not eight: a page of a large class lives as long as any of
 * its blocks, so under random frees a class's pages strand about half a
 * page each; with four blocks glibc-thread's peak RSS went 25.5 -> 22.9
 * MiB and rptest's 63 -> 57 (two blocks: 21.3 and 52.5, not kept without
 * a timing run to show the extra page turnover is free). */
#define PMN__PAGE_MIN_BLOCKS 4
static uint16_t class_slices(uint32_t bs)
{
    size_t n = ((size_t)bs * PMN__PAGE_MIN_BLOCKS + PMN__SLICE_SIZE - 1) >> PMN__SLICE_SHIFT;

    return (uint16_t)(n < 1 ? 1 : n > PMN__PAGE_MAX_SLICES ? PMN__PAGE_MAX_SLICES : n);
}

int pmn__heap_setup_classes(struct pmn__heap *h, const uint32_t *sizes, unsigned n)
{
    if (n == 0 || n > PMN__NCLASSES)
        return -EINVAL;
    h->nclasses = n;
    for (unsigned c = 0; c < n; c++) {
        h->class_size[c] = sizes[c];
        h->class_slices[c] = class_slices(sizes[c]);
    }
    return 0;
}

/* heap.h, "Misuse": the secret every free mark mixes in.  Written once,
 * under secret_once, before the first heap can hand out a block. */
uintptr_t pmn__mark_secret;
static pthread_once_t secret_once = PTHREAD_ONCE_INIT;

static void secret_draw(void)
{
    uint64_t r = 0;

    /* Without getrandom (a seccomp filter, say) the marks still work: a
     * fixed secret mixed with each block's address only lets a program
     * that knows it forge a mark, which a program can do to any allocator
     * by writing into freed memory. */
    if (pmn_prim_random64(&r) != 0)
        r = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&r ^ pmn_prim_now_ns();
    /* The top bit set: no user address has it, so no block's key is 0 or 1
     * (a 0 is what malloc leaves in a handed-out block's mark). */
    pmn__mark_secret = (uintptr_t)(r | (uint64_t)1 << 63);
}

int pmn__heap_init(struct pmn__heap *h, struct pmn_backing *b, bool is_slab, unsigned retain,
                   bool release_empty, uint64_t cap)
{
    pthread_once(&secret_once, secret_draw);
    memset(h, 0, sizeof(*h));
    h->b = b;
    h->is_slab = is_slab;
    h->retain = retain;
    h->release_empty = release_empty;
    h->cap = cap;
    h->large_cache_max = PMN__LARGE_CACHE_DEFAULT;
    h->small_cache_max = PMN__SMALL_CACHE_DEFAULT;
    atomic_init(&h->refs, 1);
    if (pthread_mutex_init(&h->lock, NULL) != 0)
        return -ENOMEM;
    pmn__backing_ref(b); /* dropped by pmn__heap_destroy() */
    return 0;
}

int pmn__heap_new(struct pmn_backing *b, bool is_slab, unsigned retain, bool release_empty,
                  uint64_t cap, const uint32_t *sizes, unsigned n, size_t obj_size,
                  struct pmn__heap **out)
{
    size_t bytes = (obj_size + 63) & ~(size_t)63;
    struct pmn__heap *h;
    int err;

    if (obj_size < sizeof(*h))
        return -EINVAL;
    h = aligned_alloc(64, bytes); /* the thread cache's lines are the heap's first */
    if (h == NULL)
        return -ENOMEM;
    memset(h, 0, bytes);
    err = pmn__heap_init(h, b, is_slab, retain, release_empty, cap);
    if (err) {
        free(h);
        return err;
    }
    err = pmn__heap_setup_classes(h, sizes, n);
    if (err) {
        pmn__backing_unref(b); /* what pmn__heap_init took */
        pthread_mutex_destroy(&h->lock);
        free(h);
        return err;
    }
    pmn__fork_track(h);
    *out = h;
    return 0;
}

static void heap_unref(struct pmn__heap *h)
{
    struct pmn__theap *th, *next;

    if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (th = h->theaps; th; th = next) {
        next = th->next;
        free(th);
    }
    pmn__fork_untrack(h);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/*
 * Destroy (@keep_some false) releases everything.  Reset keeps:
 *   - reserved segments, always;
 *   - with PMN_PURGE_KEEP (release_empty false), every extent: small
 *     objects' segments and large objects' extents, the latter moved to
 *     the large cache, where later large allocations that fit (at most 4x
 *     the size asked) take them without a map;
 *   - otherwise up to retain small segments (4 MiB each), those on the
 *     backing's first node (the head of a spill list) first; large
 *     extents go back to the backing.
 * Either way a kept extent on the first node is preferred to one that
 * spilled (the large cache is searched the same way). 
 */
static void release_all(struct pmn__heap *h, bool keep_some)
{
    struct pmn__segment *seg, *next, *large;
    unsigned kept = 0, left = 0;
    bool all = keep_some && !h->release_empty;

    memset(h->pool, 0, sizeof(h->pool));
    atomic_store_explicit(&h->npool, 0, memory_order_relaxed);
    /* Every object goes: handles to them go stale first. */
    for (seg = h->segments; seg; seg = seg->next)
        pmn__ipc_on_release(seg);
    for (seg = h->large; seg; seg = seg->next)
        pmn__ipc_on_release(seg);

    /* Live large objects join the cache, then the cache is trimmed. */
    for (large = h->large; large; large = next) {
        next = large->next;
        large->pages[0].live = 0; /* a stale pointer into it is not an object */
        pmn__seg_link(&h->large_cache, large);
        h->large_cache_bytes += pmn__region_committed(large->region);
    }
    h->large = NULL;
    /* All or none of the cache stays, so the order does not matter here
     * (the cache's search prefers the first node). */
    for (seg = h->large_cache; seg; seg = next) {
        next = seg->next;
        if (all)
            continue;
        pmn__seg_unlink(&h->large_cache, seg);
        pmn__seg_release(h, seg);
    }
    if (!all)
        h->large_cache_bytes = 0;
    /* Every small object goes too: the pages' counts are retired, and
     * each class's frees made equal to its allocations (other threads'
     * frees are counted in their theaps, so the difference is what the
     * release frees). */
    for (seg = h->segments; seg; seg = seg->next) {
        struct pmn__page *pg;
        FOR_EACH_PAGE(seg, pg)
        page_fold(h, pg);
    }
    for (unsigned c = 0; c < PMN__NCLASSES; c++) {
        uint64_t remote = 0;
        for (struct pmn__theap *th = h->theaps; th; th = th->next)
            remote += pmn__cnt_get(&th->frees[c]);
        h->retired_frees[c] = h->retired_allocs[c] > remote ? h->retired_allocs[c] - remote : 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (seg = h->segments; seg; seg = next) {
            next = seg->next;
            if (pmn__seg_preferred(h, seg) != (pass == 0))
                continue; /* each segment is seen in one pass */
            if (keep_some && (seg->keep || all || kept < h->retain)) {
                for (unsigned i = 0; i < PMN__SLICES; i++) {
                    seg->slice_page[i] = &pmn__no_page;
                    seg->pages[i].live = 0;
                }
                seg->free_slices = ALL_SLICES;
                kept += !seg->keep;
                left++;
                continue;
            }
            pmn__seg_unlink(&h->segments, seg);
            pmn__seg_release(h, seg);
        }
    }
    h->empty_segments = kept;
    h->nonfull_segments = left; /* every segment left is empty */
    atomic_store_explicit(&h->active, 0, memory_order_relaxed);
}

int pmn__heap_reserve(struct pmn__heap *h, size_t slices, unsigned page_slices)
{
    size_t per_seg = (PMN__SLICES - PMN__HEADER_SLICES) / page_slices * page_slices;
    size_t added = 0, added_slices = 0;
    int err = 0;

    pthread_mutex_lock(&h->lock);
    while (err == 0 && h->reserved_slices < slices) {
        struct pmn__segment *seg;
        size_t n = slices - h->reserved_slices;

        if (h->forked) {
            err = -EBUSY;
            break;
        }
        if (h->dead) {
            err = PMN_E_DESTROYED;
            break;
        }
        n = n < per_seg ? n : per_seg;
        seg = pmn__seg_map(h, PMN__SEG_SIZE, PMN__SEG_SIZE, false, &err);
        if (seg == NULL)
            break;
        /* Every slice the reserve promises, populated and verified now. */
        err = seg_ensure(h, seg, PMN__HEADER_SLICES * PMN__SLICE_SIZE,
                         (PMN__HEADER_SLICES + n) * PMN__SLICE_SIZE);
        if (err) {
            pmn__seg_release(h, seg);
            break;
        }
        seg->keep = true;
        /* First in the list: slices_take() looks here before anywhere else. */
        pmn__seg_link(&h->segments, seg);
        h->nonfull_segments++;
        h->reserved_slices += n;
        added++;
        added_slices += n;
    }
    /* All or nothing: a reserve the backing cannot complete gives back
     * what it mapped, so that a request too large for the node does not
     * leave the node's memory held until destroy.  The lock was held
     * throughout: the segments it added are the list's first, untouched. */
    if (err && !h->dead) {
        while (added-- > 0) {
            struct pmn__segment *seg = h->segments;

            pmn__seg_unlink(&h->segments, seg);
            h->nonfull_segments--;
            pmn__seg_release(h, seg);
        }
        h->reserved_slices -= added_slices;
    }
    pthread_mutex_unlock(&h->lock);
    if (err)
        pmn__set_last_error(err);
    return err;
}

/* Make every theap's counters say "nothing live" and forget its pages. */
static void settle_theaps(struct pmn__heap *h)
{
    for (struct pmn__theap *th = h->theaps; th; th = th->next) {
        /* Its delayed blocks are on the pages going. */
        atomic_store_explicit(&th->delayed, 0, memory_order_relaxed);
        memset(th->full, 0, sizeof(th->full));
        memset(th->spare, 0, sizeof(th->spare));
        th->nkept = 0;
        /* Cached blocks go with their pages; their pops join the heap's
         * retired count, which release_all() equalises with the frees. */
        for (unsigned c = 0; c < PMN__NCLASSES; c++) {
            struct pmn__fcache *fc = &th->cl[c].fc;

            memset(&th->cl[c].pages, 0, sizeof(th->cl[c].pages));

            h->retired_allocs[c] += pmn__cnt_get(&fc->allocs);
            pmn__cnt_set(&fc->allocs, 0);
            pmn__cnt_set(&fc->returned, 0);
            fc->head = NULL;
            fc->n = 0;
        }
    }
    atomic_store_explicit(&h->kept_bytes, 0, memory_order_relaxed);
    atomic_store(&h->large_c.frees, atomic_load(&h->large_c.allocs));
    atomic_store(&h->large_c.free_bytes, atomic_load(&h->large_c.alloc_bytes));
}

void pmn__heap_reset(struct pmn__heap *h)
{
    if (h->forked)
        return; /* the parent's pages: nothing here is the child's to reset */
    pthread_mutex_lock(&h->lock);
    settle_theaps(h);
    release_all(h, true);
    pthread_mutex_unlock(&h->lock);
}

int pmn__heap_trim(struct pmn__heap *h, uint64_t *released)
{
    uint64_t before = atomic_load_explicit(&h->populated, memory_order_relaxed), after;
    struct pmn__segment *seg, *next;
    struct pmn__theap *th;

    if (released != NULL)
        *released = 0;
    if (h->forked)
        return -EBUSY;
    if (!h->release_empty) /* PMN_PURGE_KEEP, fixed at creation: all stays */
        return 0;
    /* The calling thread's free caches and kept pages go back now (its
     * own queues: no other thread's may be touched); other threads' at
     * their next slow path (trim_sync). */
    atomic_fetch_add_explicit(&h->trim_gen, 1, memory_order_relaxed);
    if ((th = pmn__theap_find(h)) != NULL)
        trim_sync(th);
    pthread_mutex_lock(&h->lock);
    if (h->dead) {
        pthread_mutex_unlock(&h->lock);
        return 0;
    }
    pmn__large_cache_trim(h, 0);
    for (seg = h->segments; seg; seg = next) {
        next = seg->next;
        if (seg->keep)
            continue;
        if (seg->free_slices == ALL_SLICES && h->empty_segments > h->retain) {
            pmn__seg_unlink(&h->segments, seg);
            h->nonfull_segments--;
            pmn__seg_release(h, seg);
            h->empty_segments--;
            continue;
        }
        /* Each run [i, j) of free slices: no page is on them, nobody
         * else touches them without the lock. */
        for (unsigned i = PMN__HEADER_SLICES, j; i < PMN__SLICES; i = j + 1) {
            for (j = i; j < PMN__SLICES && (seg->free_slices >> j & 1); j++)
                ;
            if (j > i)
                seg_purge(h, seg, (size_t)i << PMN__SLICE_SHIFT, (size_t)j << PMN__SLICE_SHIFT);
        }
    }
    after = atomic_load_explicit(&h->populated, memory_order_relaxed);
    pthread_mutex_unlock(&h->lock);
    /* A large object mapped meanwhile (outside the lock) adds to it. */
    if (released != NULL)
        *released = before > after ? before - after : 0;
    return 0;
}

void pmn__heap_destroy(struct pmn__heap *h)
{
    /* A forked child's heap over a shareable backing's file: its segments
     * (headers, free lists, objects) are the parent's memory, not a copy
     * (place/shared.c), so the child's destroy writes none of it and
     * gives nothing back; the mappings go with the child. */
    bool inherited = pmn__shfile_inherited(h->b);
    struct pmn__tls_slot *slot;

    pmn__publish_forget(h); /* issue 18: before any heap lock (publish.c) */
    pthread_mutex_lock(&h->lock);
    h->dead = true;
    if (!inherited) {
        settle_theaps(h);
        release_all(h, false);
    }
    pthread_mutex_unlock(&h->lock);
    if (!inherited)
        pmn__backing_unref(h->b); /* every extent went back to it just now */
    /* Drop this thread's own binding now; other threads drop theirs when
     * they exit. */
    slot = tls_slot_of(h);
    if (slot != NULL)
        unbind_slot(slot);
    heap_unref(h);
}

int pmn__heap_stats(struct pmn__heap *h, struct pmn_alloc_stats *user)
{
    uint64_t allocs = 0, frees = 0, remote = 0, ab = 0, fb = 0, active = 0;
    struct pmn_alloc_stats st, *out = &st;
    struct pmn__counters *c;

    if (!pmn__out_ok(user, PMN__SIZE_TO(struct pmn_alloc_stats, backing)))
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    uint64_t na[PMN__NCLASSES], nf[PMN__NCLASSES];
    struct pmn__segment *seg;
    struct pmn__page *pg;

    pthread_mutex_lock(&h->lock);
    memcpy(na, h->retired_allocs, sizeof(na));
    memcpy(nf, h->retired_frees, sizeof(nf));
    /* The live pages' own counts (their owners write them meanwhile: a
     * consistent, slightly stale sum), then other threads' frees. */
    for (seg = h->segments; seg; seg = seg->next) {
        FOR_EACH_PAGE(seg, pg)
        {
            na[pg->cls] += pmn__cnt_get(&pg->nalloc);
            nf[pg->cls] += pmn__cnt_get(&pg->nfree);
        }
    }
    for (struct pmn__theap *th = h->theaps; th; th = th->next) {
        for (unsigned cl = 0; cl < h->nclasses; cl++) {
            nf[cl] += pmn__cnt_get(&th->frees[cl]);
            const struct pmn__fcache *fc = &th->cl[cl].fc;
            uint64_t pops = pmn__cnt_get(&fc->allocs);

            na[cl] += pops;
            /* Its pushes (struct pmn__fcache). */
            nf[cl] += pops + pmn__fcache_count(fc) + pmn__cnt_get(&fc->returned);
        }
        remote += pmn__cnt_get(&th->remote_frees);
    }
    for (unsigned cl = 0; cl < h->nclasses; cl++) {
        allocs += na[cl];
        frees += nf[cl];
        ab += na[cl] * h->class_size[cl];
        fb += nf[cl] * h->class_size[cl];
    }
    c = &h->large_c;
    remote += atomic_load_explicit(&c->remote_frees, memory_order_relaxed);
    allocs += atomic_load_explicit(&c->allocs, memory_order_relaxed);
    frees += atomic_load_explicit(&c->frees, memory_order_relaxed);
    ab += atomic_load_explicit(&c->alloc_bytes, memory_order_relaxed);
    fb += atomic_load_explicit(&c->free_bytes, memory_order_relaxed);
    active = atomic_load_explicit(&h->active, memory_order_relaxed);
    pthread_mutex_unlock(&h->lock);
    out->allocs = allocs;
    out->frees = frees;
    out->remote_frees = remote;
    out->objects = allocs - frees;
    out->allocated = ab - fb;
    out->active = active;
    out->resident = atomic_load_explicit(&h->resident, memory_order_relaxed);
    out->peak = atomic_load_explicit(&h->peak, memory_order_relaxed);
    out->failures = atomic_load_explicit(&h->failures, memory_order_relaxed);
    out->populated = atomic_load_explicit(&h->populated, memory_order_relaxed);
    out->backing.struct_size = sizeof(out->backing);
    (void)pmn_backing_stats(h->b, &out->backing); /* cannot fail: b and the size are fine */
    pmn__out_put(user, out, sizeof(*out));
    return 0;
}

_Static_assert(sizeof(struct pmn__segment) <= PMN__SLICE_SIZE,
               "the segment header must fit in slice 0");
