/*
 * ctier.c - compressed-tier placement with write control.
 *
 * A demotion is: make sure no tier has any of it -> check the range (wholly
 * private anonymous memory, readable and writable) -> estimate (LZ4 over
 * sampled pages) -> guard (ratio and capacity) -> register the range with
 * the tier's userfaultfd in write-protect mode -> write-protect it ->
 * move_pages to the compressed node.  Protection comes before the move, so
 * no write can land on the compressed node unnoticed; migration keeps the
 * uffd-wp bit.  Every kernel call (userfaultfd, mprotect, move_pages,
 * mbind, the /proc/self/maps walks) is an OS-layer primitive (os/prim.h);
 * this file holds the policy and the bookkeeping.
 *
 * A handler thread per tier reads write faults.  For each it moves exactly
 * the faulting page to the promote node, lifts the protection on that page
 * (which wakes the writer), and counts it.  Reads never fault.  When the
 * page cannot move (the promote node is full) the documented policy
 * applies: write in place (default, counted as a write failure) or retry
 * until it can.  No write is ever lost or refused: the writer waits at
 * most for one migration.  Without userfaultfd the fallback protects with
 * mprotect(PROT_READ) and does the same in a SIGSEGV handler (below).
 *
 * One owner per page: a page on a tier belongs to it until it comes back,
 * and every open tier is on a process-wide list that a demotion checks, so
 * a second tier asking for it gets -EBUSY whatever the mechanism (the
 * kernel says so for userfaultfd; mprotect would not).
 *
 * Policy: a demoted range is bound (MPOL_BIND) to the promote and tier
 * nodes together, so NUMA balancing does not pull its pages back; when the
 * whole range is promoted it is bound to the promote node alone.
 *
 * Bookkeeping: each demoted range keeps a bit per page still on the tier
 * and its estimated ratio, so logical and physical bytes stay exact as
 * pages come back one by one.  Ranges never overlap (a demotion over part
 * of an older range carves that part out of it) and sit in an array
 * sorted by address, so the fault handler finds a page's range by binary
 * search: a cache that demotes one page per entry keeps tens of thousands
 * of ranges.  One mutex guards it; demote, promote and the handler take
 * it.  The handler never touches user memory.
 */
#include <errno.h>
#include <lz4.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "ctier/ctier.h"
#include "os/prim.h"
#include "discover/topology.h"

#define CHUNK 1024
/* How long a program thread retries a protection change the kernel
 * refuses with EAGAIN (protect()). */
#define PROTECT_PATIENCE_NS (250 * 1000 * 1000ull)

struct crange {
    uintptr_t start;
    size_t npages;
    double ratio;
    uint64_t *bits; /* page still on the tier */
    size_t ndemoted;
};

struct pmn_ctier {
    struct pmn_ctx *ctx;
    int node, promote_node;
    size_t page;
    int uffd, stopfd;
    bool user_only;
    bool mprotect_mode;          /* the fallback: no userfaultfd */
    bool closing;                /* close has lifted every protection: handlers stand back */
    int slot;                    /* index in the SIGSEGV registry (mprotect mode) */
    struct pmn_ctier *next_open; /* the list of open tiers (open_tiers) */
    pthread_t handler;
    bool handler_running;
    /* The opener: the userfaultfd and the handler thread act on its memory
     * (a forked child has neither: see forked()). */
    int pid;
    enum pmn_ctier_on_full on_full;
    double min_ratio, reserve;
    pthread_mutex_t lock;
    struct crange **rv; /* disjoint ranges, ascending */
    size_t nr, cap;
    struct pmn_ctier_stats st;
    double physical;     /* exact sum behind st.physical_bytes */
    atomic_int in_event; /* the handler has read events it has not applied yet */
    /* For settle_layout: the unmaps, discards and moves the handler has
     * read and applied so far, and its reads of the userfaultfd begun and
     * counted (the thread whose event is read goes on during the read). */
    atomic_uint_fast64_t layout_read, layout_applied, reads_begun, reads_counted;
    /* Held pages whose protection is not confirmed (userfaultfd; see
     * unsure_add): rare, so a plain list.  nunsure is read without the
     * lock by the handler thread to choose its poll timeout. */
    struct unsure *unsure;
    size_t unsure_cap;
    atomic_size_t nunsure;
};

struct unsure {
    uintptr_t page; /* where the books hold it now (moved() follows it) */
    uint64_t since; /* when a check first failed to confirm it, or 0 */
};

/* Whether the caller is a child forked from the tier's opener.  The
 * tier's userfaultfd registers and write-protects the opener's memory and
 * its handler thread exists there only: in a child, demote and promote
 * answer -ECHILD and close frees the child's copy without touching them
 * (mprotect mode lifts the child's own pages: mprotect acts on the
 * caller's). */
static bool forked(const struct pmn_ctier *t)
{
    return pmn_prim_getpid() != t->pid;
}

int pmn__ctier_guard(uint64_t used_physical, uint64_t capacity, double reserve,
                     uint64_t new_logical, double ratio, double min_ratio)
{
    double usable, need;

    if (!(ratio >= min_ratio))
        return PMN_E_INCOMPRESSIBLE;
    if (reserve < 0 || reserve >= 1)
        return -EINVAL;
    usable = (double)capacity * (1.0 - reserve);
    need = (double)used_physical + (double)new_logical / ratio;
    return need <= usable ? 0 : PMN_E_TIER_FULL;
}

/* Each sample is copied out with pmn_prim_read_checked() before it is
 * compressed: memory another thread unmaps during the call (a demote
 * racing the program's munmap or mremap) is -EFAULT, not a SIGSEGV
 * (before 0.10.2 it crashed in LZ4). */
double pmn_ctier_estimate(const void *addr, size_t len, unsigned samples)
{
    size_t page = pmn_prim_page_size(), npages, in = 0, out = 0;
    int bound = LZ4_compressBound((int)page), err = 0;
    char *dst, *src;

    if (addr == NULL || len == 0)
        return -EINVAL;
    if (samples == 0)
        samples = 16;
    dst = malloc((size_t)bound + page);
    if (dst == NULL)
        return -ENOMEM;
    src = dst + bound;
    npages = (len + page - 1) / page;
    if (samples > npages)
        samples = (unsigned)npages;
    for (unsigned i = 0; i < samples; i++) {
        size_t pg = (size_t)i * npages / samples, off = pg * page;
        size_t n = len - off < page ? len - off : page;
        const char *sample = src;
        int c;

        err = pmn_prim_read_checked((const char *)addr + off, src, n);
        if (err == -EPERM || err == -ENOSYS) { /* refused by a sandbox: read it in place */
            sample = (const char *)addr + off;
            err = 0;
        }
        if (err)
            break;
        c = LZ4_compress_default(sample, dst, (int)n, bound);
        if (c <= 0) {
            err = PMN_E_INCOMPRESSIBLE;
            break;
        }
        in += n;
        out += (size_t)c;
    }
    free(dst);
    if (err)
        return err;
    return out ? (double)in / (double)out : 1.0;
}

/* ---- write control ---- */

/* Features: write-protect faults, unmap/remove events so memory the
 * program unmaps or discards is forgotten rather than counted forever,
 * and remap events so memory it moves (mremap: glibc's realloc of a large
 * block) stays demoted where it went (without them the kernel drops the
 * moved pages' protection, and their writes land on the tier unseen). */
#define WANT_FEATURES \
    (PMN_PRIM_UFFD_WP | PMN_PRIM_UFFD_UNMAP | PMN_PRIM_UFFD_REMOVE | PMN_PRIM_UFFD_REMAP)

/* Set in the handler threads (per thread by nature; read only in the
 * userfaultfd branch of protect(), never in the mprotect fallback's
 * SIGSEGV handler, where a TLS access of a dlopen'ed library may
 * allocate). */
static __thread bool handler_thread;

/* Write-protect or release pages, whichever mechanism the tier uses.
 * Both primitives are signal-safe: the SIGSEGV handler comes here.
 *
 * With userfaultfd the kernel answers EAGAIN while a thread of the program
 * is inside munmap, madvise(MADV_DONTNEED) or mremap of registered memory
 * and its event has not been read yet: that thread waits until the
 * handler thread reads it.  A program thread retries here (the handler
 * thread reads events without ever waiting for the tier's lock, which the
 * caller may hold: handler_main); the handler thread itself must not wait,
 * or nobody reads the event: it gets -EAGAIN and retries after reading. */
static int protect(struct pmn_ctier *t, uintptr_t start, size_t len, bool on)
{
    uint64_t deadline = 0;
    int err;

    if (t->mprotect_mode)
        return pmn_prim_write_protect((void *)start, len, on);
    /* A bounded wait: threads that unmap, discard or move registered
     * memory all the time keep the kernel answering EAGAIN nearly always,
     * and a caller spinning here with the tier's lock held stalled every
     * writer of demoted memory with it (before 0.10.2: for as long as they
     * went on).  After PROTECT_PATIENCE_NS the caller gets -EAGAIN: a
     * demote keeps nothing and says so; a lift left undone is done by the
     * handler at the page's next write fault. */
    while ((err = pmn_prim_uffd_writeprotect(t->uffd, start, len, on)) == -EAGAIN &&
           !handler_thread) {
        uint64_t now = pmn_prim_now_ns();

        if (deadline == 0)
            deadline = now + PROTECT_PATIENCE_NS;
        else if (now > deadline)
            break;
        sched_yield();
    }
    return err;
}

/* Kernel-mode faults too when allowed (root, or unprivileged_userfaultfd
 * = 1): a read() into demoted memory then promotes instead of EFAULT. */
static int uffd_open(int *out, bool *user_only)
{
    return pmn_prim_uffd_open(WANT_FEATURES, out, user_only) == 0 ? 0 : PMN_E_NO_WRITE_CONTROL;
}

/* ---- the range index: lock held for all of these ---- */

static uintptr_t range_end(const struct pmn_ctier *t, const struct crange *r)
{
    return r->start + r->npages * t->page;
}

/* Index of the first range ending after @addr (ranges are disjoint and
 * sorted, so their ends are sorted too); t->nr when there is none. */
static size_t first_after(const struct pmn_ctier *t, uintptr_t addr)
{
    size_t lo = 0, hi = t->nr;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (range_end(t, t->rv[mid]) <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct crange *find_range(struct pmn_ctier *t, uintptr_t addr)
{
    size_t i = first_after(t, addr);

    return i < t->nr && t->rv[i]->start <= addr ? t->rv[i] : NULL;
}

/* Room for @more further ranges.  0 or -ENOMEM. */
static int index_reserve(struct pmn_ctier *t, size_t more)
{
    size_t cap = t->cap ? t->cap : 16;
    struct crange **rv;

    if (t->nr + more <= t->cap)
        return 0;
    while (cap < t->nr + more)
        cap *= 2;
    if ((rv = realloc(t->rv, cap * sizeof(*rv))) == NULL)
        return -ENOMEM;
    t->rv = rv;
    t->cap = cap;
    return 0;
}

/* Insert @r, which overlaps no range (room reserved). */
static void index_insert(struct pmn_ctier *t, struct crange *r)
{
    size_t i = first_after(t, r->start);

    memmove(&t->rv[i + 1], &t->rv[i], (t->nr - i) * sizeof(*t->rv));
    t->rv[i] = r;
    t->nr++;
}

/* A range of @npages pages at @start, none of them on the tier yet. */
static struct crange *range_new(uintptr_t start, size_t npages, double ratio)
{
    struct crange *r = calloc(1, sizeof(*r));

    if (r == NULL || (r->bits = calloc((npages + 63) / 64, sizeof(uint64_t))) == NULL) {
        free(r);
        return NULL;
    }
    r->start = start;
    r->npages = npages;
    r->ratio = ratio;
    return r;
}

static void range_free(struct crange *r)
{
    if (r)
        free(r->bits);
    free(r);
}

/* Remove and free the range at @i. */
static void index_drop(struct pmn_ctier *t, size_t i)
{
    range_free(t->rv[i]);
    memmove(&t->rv[i], &t->rv[i + 1], (t->nr - i - 1) * sizeof(*t->rv));
    t->nr--;
}

static bool bit_test(const uint64_t *b, size_t i)
{
    return (b[i / 64] >> (i % 64)) & 1;
}

static void bit_clear(uint64_t *b, size_t i)
{
    b[i / 64] &= ~((uint64_t)1 << (i % 64));
}

/* One page left the tier; lock held. */
static void page_left(struct pmn_ctier *t, struct crange *r, size_t i)
{
    bit_clear(r->bits, i);
    r->ndemoted--;
    t->st.logical_bytes -= t->page;
    t->physical -= (double)t->page / r->ratio;
    if (t->physical < 0.5)
        t->physical = 0;
}

/* Move @n pages, asking again (4 times in all) while the kernel could not
 * isolate or migrate some page at that moment (another thread faulting on
 * it, a per-CPU LRU batch): 0 and each page's final status (its node, or
 * -EAGAIN for a page the kernel did not isolate or migrate), or the call's
 * own error.  A page that moved reports its node again when asked again. */
static int move_batch(void **pages, size_t n, const int *nodes, int *status)
{
    int err = 0;

    for (int tries = 0; tries < 4; tries++) {
        size_t busy = 0;

        for (size_t i = 0; i < n; i++)
            status[i] = -EAGAIN; /* what the kernel leaves when the migration failed */
        err = pmn_prim_move_pages(pages, n, nodes, status);
        if (err == -EBUSY)
            err = 0;
        if (err)
            break;
        for (size_t i = 0; i < n; i++)
            busy += status[i] == -EBUSY || status[i] == -EAGAIN;
        if (busy == 0)
            break;
    }
    for (size_t i = 0; i < n && err == 0; i++)
        if (status[i] == -EBUSY)
            status[i] = -EAGAIN;
    return err;
}

/* 0 when @page is on @node now or has no page, else why not. */
static int move_one(void *page, int node)
{
    int status, err = move_batch(&page, 1, &node, &status);

    if (err)
        return err;
    return status == node || status == -ENOENT ? 0 : status;
}

/* With transparent huge pages the kernel migrates the whole huge page a
 * written page belongs to: account its other pages as back, and lift
 * their protection (they are no longer on the tier).  Lock held. */
static void settle_huge(struct pmn_ctier *t, struct crange *r, uintptr_t page)
{
    const size_t huge = (size_t)2 << 20;
    uintptr_t lo = page & ~(uintptr_t)(huge - 1), hi = lo + huge, end;
    void *pages[512];
    int status[512];
    size_t n = 0;

    end = r->start + r->npages * t->page;
    if (lo < r->start)
        lo = r->start;
    if (hi > end)
        hi = end;
    for (uintptr_t a = lo; a < hi && n < 512; a += t->page)
        if (bit_test(r->bits, (a - r->start) / t->page))
            pages[n++] = (void *)a;
    if (n == 0)
        return;
    /* A huge page moves whole: if one other demoted page of the block is
     * still on the tier, nothing else came along and one query is enough. */
    if (pmn_prim_query_nodes(pages, 1, status) == 0 && status[0] == t->node)
        return;
    if (pmn_prim_query_nodes(pages, n, status) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (status[i] >= 0 && status[i] != t->node) {
            page_left(t, r, ((uintptr_t)pages[i] - r->start) / t->page);
            protect(t, (uintptr_t)pages[i], t->page, false);
        }
    }
}

/* Of @n pages (at most LOST_BATCH) the books do not hold, move those on
 * the tier node to the promote node, counted in returned_pages (forget,
 * moved, write_back).  They are in memory registered with this tier's
 * userfaultfd, where only its demotes put pages on the tier node (another
 * tier's ranges are registered with that tier's).  Lock held. */
#define LOST_BATCH 64
static void lost_back(struct pmn_ctier *t, void **pages, size_t n)
{
    void *on[LOST_BATCH];
    int status[LOST_BATCH], to[LOST_BATCH];
    size_t m = 0;

    /* One node for both: nothing to bring back. */
    if (n == 0 || t->node == t->promote_node || pmn_prim_query_nodes(pages, n, status) != 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (status[i] == t->node) {
            on[m] = pages[i];
            to[m++] = t->promote_node;
        }
    /* One migrating call for them all (each costs an LRU drain); a page
     * gone since the query counts as back, as move_one has it. */
    if (m == 0 || move_batch(on, m, to, status) != 0)
        return;
    for (size_t i = 0; i < m; i++)
        t->st.returned_pages += status[i] == t->promote_node || status[i] == -ENOENT;
}

/* Memory in [lo, hi) was unmapped or discarded (or, without @gone, a
 * move's unmapped destination or its source): its held pages leave the
 * books, and ranges left with nothing are forgotten.  With @gone (an unmap
 * or discard event, not a move's) a page that was held and is on the tier
 * node now is not the one the event took: the event happened during a
 * demote, which then moved the page mapped or written there since, and is
 * applied after it (the handler waits for the lock).  That page goes back
 * to the promote node: the books no longer know it, so no promote would
 * bring it back (before 0.11.0 only its first write did).  A page away at
 * that moment (another thread moved it with mremap since) is found when
 * its move is applied (moved).  A page mapped there after the event came
 * from the range's policy, which prefers the promote node.  Lock held. */
static void forget(struct pmn_ctier *t, uintptr_t lo, uintptr_t hi, bool gone)
{
    void *lost[LOST_BATCH];
    size_t nlost = 0;

    for (size_t i = first_after(t, lo); i < t->nr && t->rv[i]->start < hi;) {
        struct crange *r = t->rv[i];
        uintptr_t rend = range_end(t, r);
        uintptr_t a = lo > r->start ? lo : r->start, b = hi < rend ? hi : rend;
        for (uintptr_t pg = a; pg < b; pg += t->page) {
            if (!bit_test(r->bits, (pg - r->start) / t->page))
                continue;
            page_left(t, r, (pg - r->start) / t->page);
            if (!gone)
                continue;
            lost[nlost++] = (void *)pg;
            if (nlost == LOST_BATCH) {
                lost_back(t, lost, nlost);
                nlost = 0;
            }
        }
        if (r->ndemoted == 0 && lo <= r->start && hi >= rend) {
            index_drop(t, i);
            continue;
        }
        i++;
    }
    lost_back(t, lost, nlost);
}

/* ---- held pages whose protection is not confirmed ----
 *
 * A demote protects its range, then moves it; a page that was elsewhere
 * when the range was protected (another thread had moved it away with
 * mremap, or it had nothing mapped yet) and is back in the range when it
 * moves reaches the tier without protection.  The demote protects such
 * pages after the move (reprotect_unprotected), but by then the page may
 * be away again: its protection fails (-ENOENT, nothing mapped there) and,
 * before 0.10.3, it stayed held without protection wherever it went, its
 * writes unseen on the tier for ever.  Such a page goes on this list,
 * which follows moves as the handler applies them (moved), and is checked
 * after every batch of events the handler applies, every 10 ms while it
 * is not empty, and whenever a call settles the layout (settle_layout): a
 * page found in place without protection is protected, one found
 * protected or no longer held leaves the list.  Applying a move also
 * looks at the held pages where they arrived (reprotect_unprotected):
 * that catches a page whose protection an unregister took off while its
 * move waited to be applied.  A page not confirmed for ten seconds leaves the
 * list too (absent with no move event naming it, freed by the kernel
 * under MADV_FREE, say): it stays bounded.  Lock held throughout. */
#define UNSURE_ABSENT_NS (10 * 1000 * 1000 * 1000ull)

static void unsure_add(struct pmn_ctier *t, uintptr_t page)
{
    size_t n = atomic_load_explicit(&t->nunsure, memory_order_relaxed);

    if (n == t->unsure_cap) {
        size_t cap = t->unsure_cap ? 2 * t->unsure_cap : 16;
        struct unsure *bigger = realloc(t->unsure, cap * sizeof(*bigger));

        if (bigger == NULL)
            return; /* out of memory: unconfirmed, as before 0.10.3 */
        t->unsure = bigger;
        t->unsure_cap = cap;
    }
    t->unsure[n] = (struct unsure){.page = page};
    atomic_store_explicit(&t->nunsure, n + 1, memory_order_relaxed);
}

/* [from, from+len) moved to [to, to+len): entries there follow; entries
 * at the destination named memory the move unmapped. */
static void unsure_moved(struct pmn_ctier *t, uintptr_t from, uintptr_t to, size_t len)
{
    size_t n = atomic_load_explicit(&t->nunsure, memory_order_relaxed), kept = 0;

    for (size_t i = 0; i < n; i++) {
        struct unsure u = t->unsure[i];

        if (u.page - to < len)
            continue;
        if (u.page - from < len)
            u.page = to + (u.page - from);
        t->unsure[kept++] = u;
    }
    atomic_store_explicit(&t->nunsure, kept, memory_order_relaxed);
}

/* Move @page, which the tier cannot protect, to the promote node: true
 * when it is there now (the caller takes it out of the books), false
 * when no page is at @page (it moved on: the caller keeps following it)
 * or it could not move. */
static bool unheld_back(const struct pmn_ctier *t, uintptr_t page)
{
    void *at = (void *)page;
    int status;

    return move_batch(&at, 1, &t->promote_node, &status) == 0 && status == t->promote_node;
}

static void unsure_check(struct pmn_ctier *t)
{
    size_t n = atomic_load_explicit(&t->nunsure, memory_order_relaxed), kept = 0;
    uint64_t now = pmn_prim_now_ns();
    int fd = -1;
    bool refused = false; /* the kernel said EAGAIN: no more tries this round */

    if (n == 0 || t->closing || pmn_prim_pagemap_open(&fd) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        struct unsure u = t->unsure[i];
        struct crange *r = find_range(t, u.page);
        uint64_t pm = 0;

        if (r == NULL || !bit_test(r->bits, (u.page - r->start) / t->page) ||
            pmn_prim_pagemap_read(fd, u.page, 1, &pm) != 0)
            continue; /* not held (any more), or no pagemap */
        if ((pm & (PMN_PRIM_PM_PRESENT | PMN_PRIM_PM_SWAP)) && !refused) {
            int err;

            if (pm & PMN_PRIM_PM_UFFD_WP)
                continue; /* confirmed */
            /* -ENOENT with the page in place: its mapping is not registered
             * any more (an unregister met it, above): it goes back. */
            if ((err = protect(t, u.page, t->page, true)) == 0)
                continue;
            if (err == -ENOENT && unheld_back(t, u.page)) {
                page_left(t, r, (u.page - r->start) / t->page);
                t->st.returned_pages++;
                continue;
            }
            /* A program thread waited up to PROTECT_PATIENCE_NS: once is
             * enough for one call. */
            refused = err == -EAGAIN;
        }
        /* Away (its move event on its way), or the kernel said EAGAIN:
         * tried again, for ten seconds at most. */
        if (u.since == 0)
            u.since = now;
        else if (now - u.since > UNSURE_ABSENT_NS)
            continue;
        t->unsure[kept++] = u;
    }
    pmn_prim_close(fd);
    atomic_store_explicit(&t->nunsure, kept, memory_order_relaxed);
}

/* ---- lifting protection ----
 *
 * With userfaultfd the tier's protection is a bit of its own in each page
 * table entry, apart from the mapping's protection: lifting it never
 * touches what the program set with mprotect.  With the mprotect fallback
 * the two are one and the same, so promote and close lift only mappings
 * that are still exactly PROT_READ, the tier's protection: a program that
 * made a demoted page PROT_NONE (or executable) keeps it so.  The fault
 * handler, which must be quick, only checks that the page is still
 * readable (segv_tier).  A program's own PROT_READ over a page still on
 * the tier cannot be told from the tier's: see pmn_ctier_demote in
 * pmnode.h. */

/* Lift the pages @bits marks among the @n pages from @lo (runs of them,
 * one call each), whatever the mapping's protection.  Lock held. */
static void lift_runs(struct pmn_ctier *t, uintptr_t lo, size_t n, const uint64_t *bits,
                      uintptr_t from, uintptr_t to)
{
    size_t i = (from - lo) / t->page, end = (to - lo) / t->page;

    if (end > n)
        end = n;
    while (i < end) {
        size_t j;
        if (!bit_test(bits, i)) {
            i++;
            continue;
        }
        for (j = i + 1; j < end && bit_test(bits, j); j++)
            ;
        protect(t, lo + i * t->page, (j - i) * t->page, false);
        i = j;
    }
}

struct lift_walk {
    struct pmn_ctier *t;
    uintptr_t lo;
    size_t n;
    const uint64_t *bits;
};

static int lift_step(const struct pmn_prim_vma *v, void *arg)
{
    struct lift_walk *w = arg;
    uintptr_t hi = w->lo + w->n * w->t->page;

    if (v->prot == PROT_READ) /* ours; anything else is the program's */
        lift_runs(w->t, w->lo, w->n, w->bits, v->start > w->lo ? v->start : w->lo,
                  v->end < hi ? v->end : hi);
    return 0;
}

/* Lift the protection of the pages @bits marks among the @n pages from
 * @lo: pages that were on the tier and are not any more (or, at close,
 * still are).  Lock held. */
static void lift(struct pmn_ctier *t, uintptr_t lo, size_t n, const uint64_t *bits)
{
    struct lift_walk w = {.t = t, .lo = lo, .n = n, .bits = bits};

    if (!t->mprotect_mode || pmn_prim_vma_walk((void *)lo, n * t->page, lift_step, &w) < 0)
        lift_runs(t, lo, n, bits, lo, lo + n * t->page); /* no walk (out of descriptors?): lift */
}

static int lift_all_step(const struct pmn_prim_vma *v, void *arg)
{
    struct pmn_ctier *t = arg;

    if (v->prot != PROT_READ)
        return 0;
    for (size_t i = first_after(t, v->start); i < t->nr && t->rv[i]->start < v->end; i++) {
        struct crange *r = t->rv[i];
        uintptr_t rend = range_end(t, r);
        lift_runs(t, r->start, r->npages, r->bits, v->start > r->start ? v->start : r->start,
                  v->end < rend ? v->end : rend);
    }
    return 0;
}

/* Lift, at close, every page still on the tier (mprotect mode): one walk
 * over the mappings from the first range to the last, not one per range
 * (a cache keeps tens of thousands, and the text walk reads all of
 * /proc/self/maps each time).  Lock held. */
static void lift_all(struct pmn_ctier *t)
{
    uintptr_t lo, hi;

    if (t->nr == 0)
        return;
    lo = t->rv[0]->start;
    hi = range_end(t, t->rv[t->nr - 1]);
    if (pmn_prim_vma_walk((void *)lo, hi - lo, lift_all_step, t) < 0)
        for (size_t i = 0; i < t->nr; i++)
            lift_runs(t, t->rv[i]->start, t->rv[i]->npages, t->rv[i]->bits, t->rv[i]->start,
                      range_end(t, t->rv[i]));
}

/* ---- writes to demoted pages ---- */

/* Whether a page in the books was moved off the tier by someone else
 * since its demotion (pmn_migrate() to a node the program chose, or
 * migratepages): it stays where it was put, and its bind with it, rather
 * than be pulled to the promote node by its first write.  One status
 * query; a page the kernel cannot say of is treated as still here. */
static bool moved_off(const struct pmn_ctier *t, uintptr_t page)
{
    void *p = (void *)page;
    int node = -1;

    return pmn_prim_query_nodes(&p, 1, &node) == 0 && node >= 0 && node != t->node;
}

/* A write hit @page: if the tier still holds it there, move it to the
 * promote node (or, when it cannot move, follow on_full) and account it;
 * a page moved off the tier (moved_off) only leaves the books.  The
 * caller lifts the protection afterwards.  Lock held; RETRY drops it while
 * it waits, so the range is looked up again each time.  Without @wait
 * (the handler thread, which must go on reading events) a RETRY that
 * would wait answers false instead, with nothing changed: the caller
 * tries again later. */
static bool write_back(struct pmn_ctier *t, uintptr_t page, bool wait)
{
    struct crange *r;
    size_t i;

    for (;;) {
        r = find_range(t, page);
        if (t->closing)
            return true;
        if (r == NULL || !bit_test(r->bits, i = (page - r->start) / t->page)) {
            /* Back already (another writer, a promote)... unless the books
             * lost it while it stayed on the tier: an unmap, discard or
             * move that another thread made during a demote is applied
             * after it, to pages that demote put on the tier since.  Its
             * protection stayed, so its first write is here: bring it back
             * (before 0.10.3 it stayed on the tier, written in place; since
             * 0.11.0 forget and moved bring most back first). */
            lost_back(t, (void *[]){(void *)page}, 1);
            return true;
        }
        if (t->node != t->promote_node && moved_off(t, page))
            break; /* left where it was put: not a promotion */
        if (move_one((void *)page, t->promote_node) == 0) {
            t->st.write_promotions++;
            break;
        }
        t->st.write_failures++;
        if (t->on_full != PMN_CTIER_RETRY)
            break; /* write in place: counted, never lost */
        if (!wait)
            return false;
        pthread_mutex_unlock(&t->lock);
        usleep(1000);
        pthread_mutex_lock(&t->lock);
    }
    page_left(t, r, i);
    settle_huge(t, r, page);
    return true;
}

/* A write fault read from the userfaultfd (the handler thread, lock held).
 * The writer waits in the kernel until the protection of its page is
 * lifted, so it is lifted whatever happened (after close the range is
 * unregistered and this does nothing): true then, false when it must be
 * tried again (the kernel's EAGAIN, or a full promote node under RETRY). */
static bool uffd_write(struct pmn_ctier *t, uintptr_t addr)
{
    uintptr_t page = addr & ~(uintptr_t)(t->page - 1);
    int err;

    if (!write_back(t, page, false))
        return false;
    err = protect(t, page, t->page, false);
    if (err == -EAGAIN)
        return false;
    /* The lift failed (-ENOENT: the page's mapping is not registered any
     * more, a demote that kept nothing or a promote unregistered it after
     * the fault), and a failed lift wakes nobody, nor did the unregister:
     * wake the writer here, or it waits for ever (before 0.10.2 it did). */
    if (err)
        pmn_prim_uffd_wake(t->uffd, page, t->page);
    return true;
}

/* ---- the mprotect fallback ----
 *
 * A SIGSEGV handler must find the tier from the faulting address alone, so
 * the fallback keeps a small process-wide registry of its tiers (global
 * state, written only by open and close).  The handler runs in the
 * faulting thread: the fault is synchronous, and library code never writes
 * user memory while holding a tier's lock, so taking it is safe.  The OS
 * calls it makes are signal-safe primitives (os/prim.h) that set errno
 * like any system call, so it gives the interrupted code its errno back.
 *
 * Lifetime: a handler may still be working on a tier that close is
 * tearing down.  Each registry slot has a count of handlers looking at it,
 * taken before the slot is read; close marks its slot closed (no handler
 * picks the tier up any more), waits for the count to drop to zero, and
 * only then frees the tier.  Before that, close has lifted every
 * protection and set t->closing, which a handler that already holds the
 * tier sees under its lock.
 *
 * Which faults are ours: only writes (reads and instruction fetches never
 * fault on the tier's PROT_READ; pmn_prim_fault_access tells them apart on
 * x86 and arm64), to a page still on a tier, that is still readable: a
 * page the program made PROT_NONE is its own business.  A write that
 * faulted on a page whose protection was lifted before its handler ran (by
 * close, a promote, or another writer) finds no tier holding the page:
 * when the mapping is writable now, the write is simply retried (where the
 * kind of access is unknown, a jump into writable data would be retried
 * forever instead of crashing).  The page may also have been lifted and
 * then demoted again between the handler's look at the books and its look
 * at the mapping: read-only then, and in the books, though the books said
 * no.  protect_epoch tells: every demote bumps it before it protects, and
 * a handler that saw it move during its looks retries the write, which
 * faults again and finds the page held (before 0.10.2 it went to the
 * previous handler, and a program writing while another thread demoted
 * and promoted died of SIGSEGV).  Everything else goes to the handler
 * that was installed before ours. */
#define MAX_MPROTECT_TIERS 64
static struct pmn_ctier *_Atomic registry[MAX_MPROTECT_TIERS];
static atomic_int registry_readers[MAX_MPROTECT_TIERS]; /* handlers reading the slot */
static atomic_int registry_top;                         /* slots ever used */
/* Bumped by every mprotect-mode demote before it protects (see above):
 * process-wide because a handler looks at every tier. */
static atomic_uint protect_epoch;
static char slot_closing_mark; /* a slot whose tier is closing: busy, but not handed out */
#define SLOT_CLOSING ((struct pmn_ctier *)(void *)&slot_closing_mark)
static struct sigaction previous_segv;
static pthread_once_t segv_once = PTHREAD_ONCE_INIT;
static bool segv_installed;
static size_t segv_page; /* the page size, read once before the handler goes in */

enum verdict {
    NOT_MINE, /* this tier does not hold the page */
    RETRY,    /* handled, or nothing left to do: the write is retried */
    NOT_OURS, /* the program's own protection: chain */
};

/* The fault on @page as tier @t sees it. */
static enum verdict segv_tier(struct pmn_ctier *t, uintptr_t page)
{
    struct crange *r;
    enum verdict v;

    pthread_mutex_lock(&t->lock);
    r = find_range(t, page);
    if (t->closing || r == NULL || !bit_test(r->bits, (page - r->start) / t->page)) {
        pthread_mutex_unlock(&t->lock);
        return NOT_MINE;
    }
    /* The tier's protection leaves the page readable; a page that is not
     * was made PROT_NONE by the program.  (One system call, where asking
     * for the mapping's protection would read all of /proc/self/maps on
     * kernels before 6.11.) */
    if (pmn_prim_readable((void *)page) == 0) {
        v = NOT_OURS;
    } else {
        write_back(t, page, true);
        if (!t->closing)
            protect(t, page, t->page, false);
        v = RETRY;
    }
    pthread_mutex_unlock(&t->lock);
    return v;
}

static enum verdict segv_claim(uintptr_t addr, const void *uc)
{
    uintptr_t page = addr & ~(uintptr_t)(segv_page - 1);
    enum pmn_prim_access kind = pmn_prim_fault_access(uc);
    int top = atomic_load(&registry_top), prot;
    unsigned epoch = atomic_load(&protect_epoch);
    bool writable;

    if (kind == PMN_PRIM_ACCESS_READ || kind == PMN_PRIM_ACCESS_EXEC)
        return NOT_OURS;
    for (int i = 0; i < top; i++) {
        enum verdict v = NOT_MINE;
        atomic_fetch_add(&registry_readers[i], 1);
        struct pmn_ctier *t = atomic_load(&registry[i]);
        if (t != NULL && t != SLOT_CLOSING)
            v = segv_tier(t, page);
        atomic_fetch_sub(&registry_readers[i], 1);
        if (v != NOT_MINE)
            return v;
    }
    /* No tier held the page: lifted since the fault, demoted again since
     * the looks above, or never ours. */
    writable = pmn_prim_vma_prot((void *)page, &prot) == 0 && (prot & PROT_WRITE);
    return writable || atomic_load(&protect_epoch) != epoch ? RETRY : NOT_OURS;
}

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno; /* the interrupted code's; the primitives set errno */
    enum verdict v = NOT_OURS;

    if (si->si_code == SEGV_ACCERR)
        v = segv_claim((uintptr_t)si->si_addr, uc);
    errno = saved_errno;
    if (v == RETRY)
        return; /* the write is retried and now succeeds */
    /* Not ours: behave as if we were never here. */
    if (previous_segv.sa_flags & SA_SIGINFO) {
        previous_segv.sa_sigaction(sig, si, uc);
    } else if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN) {
        previous_segv.sa_handler(sig);
    } else {
        /* The fault repeats and kills, as it would have: the kernel forces
         * a fault's SIGSEGV on a program that ignores it too (returning
         * here for SIG_IGN repeated the fault for ever). */
        signal(SIGSEGV, SIG_DFL);
    }
}

static void install_segv(void)
{
    struct sigaction sa;

    segv_page = pmn_prim_page_size();
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    segv_installed = sigaction(SIGSEGV, &sa, &previous_segv) == 0;
}

static int registry_add(struct pmn_ctier *t)
{
    pthread_once(&segv_once, install_segv);
    if (!segv_installed)
        return PMN_E_NO_WRITE_CONTROL;
    for (int i = 0; i < MAX_MPROTECT_TIERS; i++) {
        struct pmn_ctier *expect = NULL;
        if (atomic_compare_exchange_strong(&registry[i], &expect, t)) {
            int top = atomic_load(&registry_top);
            while (top < i + 1 && !atomic_compare_exchange_weak(&registry_top, &top, i + 1))
                ;
            t->slot = i;
            return 0;
        }
    }
    return PMN_E_NO_WRITE_CONTROL;
}

/* Take @t out of the registry and wait until no handler can be using it. */
static void registry_remove(struct pmn_ctier *t)
{
    const struct timespec pause = {.tv_nsec = 50000};

    atomic_store(&registry[t->slot], SLOT_CLOSING);
    while (atomic_load(&registry_readers[t->slot]) != 0)
        nanosleep(&pause, NULL);
    atomic_store(&registry[t->slot], NULL);
}

/* ---- every open tier (both mechanisms) ----
 *
 * Process-wide, because ownership of a page is: a demotion holds
 * open_tiers_lock from its check of the other tiers until its range is in
 * its own index, so two tiers never take the same page.  Lock order:
 * open_tiers_lock, then one tier's lock at a time.  The SIGSEGV handler
 * and the handler threads never take open_tiers_lock. */
static pthread_mutex_t open_tiers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pmn_ctier *open_tiers;

/* ---- fork ----
 *
 * A child of fork() has only the thread that forked.  A tier's lock that
 * another thread held at that moment (a demotion or promotion at work, the
 * handler thread, a close lifting its protection) stays held in the child
 * for ever, and in mprotect mode the child's first write to a page the tier
 * protects runs the SIGSEGV handler, which takes that lock: the child hung.
 * So the library holds every tier's lock across fork: the PMN__FORK_TIERS
 * layer of core/fork.c, whose prepare runs before the allocators' and the
 * backings' (a demotion allocates with its tier's lock held, and under the
 * shim its malloc is an arena's), registered once at the first open:
 *
 *   prepare  open_tiers_lock, then each open userfaultfd tier's lock (the
 *            list), then each mprotect tier's in the registry, pinned by
 *            the slot's reader count as a handler pins it (a tier closing
 *            is off the list but its handler may still find it);
 *   release  the same, in the opposite order (in the parent and the child).
 *
 * The order is the demotion's (open_tiers_lock, then a tier), and no thread
 * holds two tiers' locks at once, so taking them one after another waits
 * for each holder and cannot deadlock.  Process-wide state (which slots
 * prepare pinned): the handlers take no argument; written only with
 * open_tiers_lock held across the fork. */
static pthread_once_t ctier_atfork_once = PTHREAD_ONCE_INIT;
static bool fork_pinned[MAX_MPROTECT_TIERS];
static int fork_top;

static void ctier_fork_prepare(void)
{
    pthread_mutex_lock(&open_tiers_lock);
    for (struct pmn_ctier *t = open_tiers; t != NULL; t = t->next_open)
        if (t->slot < 0)
            pthread_mutex_lock(&t->lock);
    fork_top = atomic_load(&registry_top);
    for (int i = 0; i < fork_top; i++) {
        atomic_fetch_add(&registry_readers[i], 1);
        struct pmn_ctier *t = atomic_load(&registry[i]);
        fork_pinned[i] = t != NULL && t != SLOT_CLOSING;
        if (fork_pinned[i])
            pthread_mutex_lock(&t->lock);
        else
            atomic_fetch_sub(&registry_readers[i], 1);
    }
}

static void ctier_fork_release(int phase)
{
    (void)phase; /* the child keeps the parent's tiers as they were */
    for (int i = fork_top - 1; i >= 0; i--) {
        if (!fork_pinned[i])
            continue;
        pthread_mutex_unlock(&atomic_load(&registry[i])->lock);
        atomic_fetch_sub(&registry_readers[i], 1);
    }
    for (struct pmn_ctier *t = open_tiers; t != NULL; t = t->next_open)
        if (t->slot < 0)
            pthread_mutex_unlock(&t->lock);
    pthread_mutex_unlock(&open_tiers_lock);
}

static void ctier_atfork_register(void)
{
    pmn__fork_register(PMN__FORK_TIERS, ctier_fork_prepare, ctier_fork_release);
}

static void moved(struct pmn_ctier *t, uintptr_t from, uintptr_t to, size_t len);
static void reprotect_unprotected(struct pmn_ctier *t, struct crange *r, bool in_index);

/* Apply what the handler read, in order, as far as it can (lock held):
 * the events not applied (a write the kernel or a full node holds back)
 * stay at the start of @pend; returns how many. */
static size_t apply_events(struct pmn_ctier *t, struct pmn_prim_uffd_event *pend, size_t n)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        bool done = true;

        if (pend[i].kind == PMN_PRIM_UFFD_EV_GONE) {
            forget(t, pend[i].addr, pend[i].end, true);
            atomic_fetch_add(&t->layout_applied, 1);
        } else if (pend[i].kind == PMN_PRIM_UFFD_EV_MOVED) {
            moved(t, pend[i].addr, pend[i].to, pend[i].end - pend[i].addr);
            atomic_fetch_add(&t->layout_applied, 1);
        } else if (pend[i].kind == PMN_PRIM_UFFD_EV_WRITE)
            done = uffd_write(t, pend[i].addr);
        if (!done)
            pend[kept++] = pend[i];
    }
    return kept;
}

/*
 * The handler thread: reads the userfaultfd's events and applies them.
 *
 * It never waits for the tier's lock.  A thread that unmaps, discards
 * (madvise MADV_DONTNEED, as free() does) or moves registered memory
 * waits in the kernel until its event is read, and until then the kernel
 * answers EAGAIN to every change of write protection: a program thread
 * holding the lock while it retries one (a demote, a promote) would wait
 * for this thread, and this thread for the lock.  So events are read into
 * a list first and applied when the lock is free (trylock); what cannot be
 * applied yet (the kernel's EAGAIN, a full promote node under RETRY) stays
 * on the list and is tried again every millisecond, events still being
 * read in between.  Before 0.10 a write fault that met a discard in
 * another thread spun here for ever, and the program with it.
 */
static void *handler_main(void *arg)
{
    struct pmn_ctier *t = arg;
    struct pmn_prim_uffd_event *pend = NULL;
    size_t npend = 0, cap = 0;

    handler_thread = true;

    for (;;) {
        struct pollfd pfd[2] = {{.fd = t->uffd, .events = POLLIN},
                                {.fd = t->stopfd, .events = POLLIN}};
        int err = 0;

        if (poll(pfd, 2, npend ? 1 : atomic_load(&t->nunsure) ? 10 : -1) < 0 && errno != EINTR)
            break;
        if (pfd[1].revents)
            break;
        /* Set while read events wait to be applied: a demotion that meets
         * a page whose write fault is read but not applied yet waits on it
         * (clear_overlaps_settled; unmaps and moves: settle_layout). */
        atomic_store(&t->in_event, 1);
        if (pfd[0].revents) { /* POLLERR too: the read then says what broke */
            size_t n;

            if (cap - npend < 16) {
                struct pmn_prim_uffd_event *bigger =
                    realloc(pend, (cap ? 2 * cap : 64) * sizeof(*pend));

                if (bigger != NULL) {
                    pend = bigger;
                    cap = cap ? 2 * cap : 64;
                }
            }
            /* No room (out of memory): read nothing now, apply first. */
            if (cap - npend > 0) {
                /* The thread whose unmap is read goes on during the read:
                 * the read is numbered before it begins (settle_layout). */
                uint64_t seq = atomic_fetch_add(&t->reads_begun, 1) + 1;

                err = pmn_prim_uffd_read(t->uffd, pend + npend,
                                         cap - npend < 16 ? cap - npend : 16, &n);
                if (err == 0) {
                    for (size_t k = npend; k < npend + n; k++)
                        if (pend[k].kind == PMN_PRIM_UFFD_EV_GONE ||
                            pend[k].kind == PMN_PRIM_UFFD_EV_MOVED)
                            atomic_fetch_add(&t->layout_read, 1);
                    npend += n;
                }
                atomic_store(&t->reads_counted, seq);
            }
        }
        if ((npend || atomic_load(&t->nunsure)) && pthread_mutex_trylock(&t->lock) == 0) {
            npend = apply_events(t, pend, npend);
            unsure_check(t); /* after the moves: where the pages are now */
            pthread_mutex_unlock(&t->lock);
        }
        if (npend == 0)
            atomic_store(&t->in_event, 0);
        if (err && err != -EAGAIN && err != -EINTR)
            break;
    }
    /* Nothing read will be applied now: nobody may wait for it. */
    atomic_store(&t->layout_applied, atomic_load(&t->layout_read));
    atomic_store(&t->reads_counted, atomic_load(&t->reads_begun));
    free(pend);
    return NULL;
}

/* ---- open / close ---- */

static int default_promote_node(const struct pmn_ctx *ctx)
{
    const struct pmn_node *n;

    pmn_node_foreach (ctx, n)
        if (pmn_node_cpu_count(n) > 0 && pmn_node_capacity(n) != 0)
            return pmn_node_id(n);
    return 0;
}

int pmn_ctier_open(struct pmn_ctx *ctx, const struct pmn_ctier_opts *o, struct pmn_ctier **out)
{
    struct pmn_ctier_opts opts = {.struct_size = sizeof(opts), .node = -1, .promote_node = -1};
    const struct pmn_node *n = NULL;
    struct pmn_ctier *t;
    int err, ids[1];

    if (out == NULL || ctx == NULL)
        return -EINVAL;
    *out = NULL;
    if (o != NULL) {
        if (o->struct_size < sizeof(size_t))
            return -EINVAL;
        memcpy(&opts, o, o->struct_size < sizeof(opts) ? o->struct_size : sizeof(opts));
    }
    if (!pmn_ctx_is_local(ctx))
        return PMN_E_REMOTE_ROOT;
    if (opts.node < 0) {
        if (pmn_nodes_of_kind(ctx, PMN_KIND_COMPRESSED, ids, 1) == 0)
            return PMN_E_NOT_COMPRESSED;
        opts.node = ids[0];
    }
    n = pmn_node_get(ctx, opts.node);
    if (n == NULL)
        return PMN_E_NO_NODE;
    if (pmn_node_kind(n) != PMN_KIND_COMPRESSED)
        return PMN_E_NOT_COMPRESSED;
    if (opts.promote_node < 0)
        opts.promote_node = default_promote_node(ctx);
    if (pmn_node_get(ctx, opts.promote_node) == NULL)
        return PMN_E_NO_NODE;
    if (opts.min_ratio < 0 || opts.reserve < 0 || opts.reserve >= 1 ||
        (unsigned)opts.on_full > PMN_CTIER_RETRY ||
        (unsigned)opts.write_control > PMN_CTIER_WC_MPROTECT)
        return -EINVAL;

    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    t->node = opts.node;
    t->promote_node = opts.promote_node;
    t->page = pmn_prim_page_size();
    t->on_full = opts.on_full;
    t->min_ratio = opts.min_ratio > 0 ? opts.min_ratio : 1.5;
    t->reserve = opts.reserve > 0 ? opts.reserve : 0.05;
    t->st.capacity_bytes = opts.capacity_bytes;
    if (t->st.capacity_bytes == 0) {
        const struct pmn_dax *d = pmn_node_dax(n);
        t->st.capacity_bytes = d && pmn_dax_size(d) != PMN_UNKNOWN   ? pmn_dax_size(d)
                               : pmn_node_capacity(n) != PMN_UNKNOWN ? pmn_node_capacity(n)
                                                                     : 0;
    }
    t->uffd = t->stopfd = -1;
    t->slot = -1;
    t->pid = pmn_prim_getpid();
    pthread_mutex_init(&t->lock, NULL);
    err = opts.write_control == PMN_CTIER_WC_MPROTECT ? PMN_E_NO_WRITE_CONTROL
                                                      : uffd_open(&t->uffd, &t->user_only);
    if (err && opts.write_control != PMN_CTIER_WC_UFFD) {
        t->mprotect_mode = true;
        err = registry_add(t);
    } else if (err == 0) {
        t->stopfd = eventfd(0, EFD_CLOEXEC);
        if (t->stopfd < 0)
            err = -errno;
        if (err == 0) {
            err = -pthread_create(&t->handler, NULL, handler_main, t);
            t->handler_running = err == 0;
        }
    }
    if (err) {
        if (t->uffd >= 0)
            close(t->uffd);
        if (t->stopfd >= 0)
            close(t->stopfd);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return err;
    }
    t->ctx = pmn_ctx_ref(ctx);
    pthread_once(&ctier_atfork_once, ctier_atfork_register);
    pthread_mutex_lock(&open_tiers_lock);
    t->next_open = open_tiers;
    open_tiers = t;
    pthread_mutex_unlock(&open_tiers_lock);
    *out = t;
    return 0;
}

void pmn_ctier_close(struct pmn_ctier *t)
{
    uint64_t one = 1;

    if (t == NULL)
        return;
    /* No other tier's demotion looks at this one from here on. */
    pthread_mutex_lock(&open_tiers_lock);
    for (struct pmn_ctier **pp = &open_tiers; *pp; pp = &(*pp)->next_open)
        if (*pp == t) {
            *pp = t->next_open;
            break;
        }
    pthread_mutex_unlock(&open_tiers_lock);
    /* Lift every protection before anything is freed: a writer waiting on
     * a page, or faulting from now on, finds it writable.  Handlers that
     * already hold the tier see closing and stand back. */
    pthread_mutex_lock(&t->lock);
    t->closing = true;
    if (t->mprotect_mode) {
        lift_all(t);         /* what is still the tier's (the caller's own pages) */
    } else if (!forked(t)) { /* a child's close leaves the opener's memory alone */
        for (size_t i = 0; i < t->nr; i++) {
            struct crange *r = t->rv[i];
            protect(t, r->start, r->npages * t->page, false); /* wakes waiting writers */
            pmn_prim_uffd_unregister(t->uffd, r->start, r->npages * t->page);
            /* ...unless the lift gave up (protect): the unregister took the
             * protection off but wakes nobody (pmn_prim_uffd_wake). */
            pmn_prim_uffd_wake(t->uffd, r->start, r->npages * t->page);
        }
    }
    pthread_mutex_unlock(&t->lock);
    if (t->slot >= 0)
        registry_remove(t);                 /* waits out the SIGSEGV handlers using it */
    if (t->handler_running && !forked(t)) { /* a child has no handler thread */
        (void)!write(t->stopfd, &one, sizeof(one));
        pthread_join(t->handler, NULL);
    }
    for (size_t i = 0; i < t->nr; i++)
        range_free(t->rv[i]);
    free(t->rv);
    free(t->unsure);
    if (t->uffd >= 0)
        close(t->uffd);
    if (t->stopfd >= 0)
        close(t->stopfd);
    pthread_mutex_destroy(&t->lock);
    pmn_ctx_unref(t->ctx);
    free(t);
}

int pmn_ctier_node(const struct pmn_ctier *t)
{
    return t ? t->node : -1;
}

const char *pmn_ctier_write_control(const struct pmn_ctier *t)
{
    if (t == NULL)
        return NULL;
    if (t->mprotect_mode)
        return "mprotect";
    return t->user_only ? "userfaultfd-wp-user" : "userfaultfd-wp";
}

/* ---- demote / promote ---- */

/* The part [lo, hi) of @r as a range of its own in *part (NULL when no
 * page of it is on the tier).  0 or -ENOMEM. */
static int range_part(const struct pmn_ctier *t, const struct crange *r, uintptr_t lo,
                      uintptr_t hi, struct crange **part)
{
    size_t first = (lo - r->start) / t->page, n = (hi - lo) / t->page;
    struct crange *p;

    *part = NULL;
    if (n == 0)
        return 0;
    if ((p = range_new(lo, n, r->ratio)) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (bit_test(r->bits, first + i)) {
            p->bits[i / 64] |= (uint64_t)1 << (i % 64);
            p->ndemoted++;
        }
    if (p->ndemoted == 0) {
        range_free(p);
        return 0;
    }
    *part = p;
    return 0;
}

/* Make room for a new range [start, start+len): any page still demoted
 * there is -EBUSY; otherwise overlapping ranges lose that part (ranges with
 * nothing left on the tier are dropped; one sticking out on either side
 * keeps its pages there as ranges of their own).  0, -EBUSY, -ENOMEM;
 * nothing changes on failure.  Lock held. */
static int clear_overlaps(struct pmn_ctier *t, uintptr_t start, size_t len)
{
    uintptr_t end = start + len;
    size_t i = first_after(t, start);
    struct crange *left = NULL, *right = NULL;
    size_t last; /* one past the last overlapping range */
    int err;

    for (last = i; last < t->nr && t->rv[last]->start < end; last++) {
        struct crange *r = t->rv[last];
        uintptr_t a = start > r->start ? start : r->start;
        uintptr_t b = end < range_end(t, r) ? end : range_end(t, r);
        for (uintptr_t pg = a; pg < b; pg += t->page)
            if (bit_test(r->bits, (pg - r->start) / t->page))
                return -EBUSY;
    }
    /* Only the first and the last overlapping range can stick out. */
    if (last > i && t->rv[i]->start < start &&
        (err = range_part(t, t->rv[i], t->rv[i]->start, start, &left)) != 0)
        return err;
    if (last > i && range_end(t, t->rv[last - 1]) > end &&
        (err = range_part(t, t->rv[last - 1], end, range_end(t, t->rv[last - 1]), &right)) != 0) {
        range_free(left);
        return err;
    }
    if (index_reserve(t, 2) != 0) {
        range_free(left);
        range_free(right);
        return -ENOMEM;
    }
    while (last-- > i)
        index_drop(t, i); /* every page still demoted went to left or right */
    if (left)
        index_insert(t, left);
    if (right)
        index_insert(t, right);
    return 0;
}

/* [from, from+len) moved to [to, to+len) (mremap; the kernel kept the
 * registration and the pages' protection): what the tier held of the old
 * addresses it holds at the new ones, one range per piece of an old range
 * (range_part: each keeps its ratio), the counters unchanged.  Lock held.
 * Without memory for the new ranges it forgets the pages instead (their
 * first write lifts their protection, as for any page the tier no longer
 * holds). */
static void moved_books(struct pmn_ctier *t, uintptr_t from, uintptr_t to, size_t len)
{
    uintptr_t hi = from + len;
    size_t first, pieces = 0;
    struct crange **fresh;

    unsure_moved(t, from, to, len);
    /* Whatever was at the destination is gone (the kernel unmapped it),
     * and no range may overlap the new ones: carve them out. */
    forget(t, to, to + len, false);
    if (clear_overlaps(t, to, len) != 0) {
        forget(t, from, hi, false);
        return;
    }
    first = first_after(t, from);
    while (first + pieces < t->nr && t->rv[first + pieces]->start < hi)
        pieces++;
    if (pieces == 0)
        return;
    fresh = calloc(pieces, sizeof(*fresh));
    if (fresh == NULL || index_reserve(t, pieces) != 0) {
        free(fresh);
        forget(t, from, hi, false);
        return;
    }
    for (size_t k = 0; k < pieces; k++) {
        struct crange *r = t->rv[first + k];
        uintptr_t a = from > r->start ? from : r->start, b = range_end(t, r);

        if (range_part(t, r, a, hi < b ? hi : b, &fresh[k]) != 0) {
            while (k-- > 0)
                range_free(fresh[k]);
            free(fresh);
            forget(t, from, hi, false);
            return;
        }
        if (fresh[k] != NULL)
            fresh[k]->start = to + (a - from);
    }
    /* The pages are the new ranges' now: the old ones let them go without
     * counting them off the tier, then forget drops those left empty. */
    for (size_t k = 0; k < pieces; k++) {
        struct crange *r = t->rv[first + k];

        for (size_t i = 0; fresh[k] != NULL && i < fresh[k]->npages; i++) {
            size_t j = (fresh[k]->start - to + from - r->start) / t->page + i;

            if (bit_test(r->bits, j)) {
                bit_clear(r->bits, j);
                r->ndemoted--;
            }
        }
    }
    forget(t, from, hi, false);
    for (size_t k = 0; k < pieces; k++)
        if (fresh[k] != NULL) {
            index_insert(t, fresh[k]);
            /* The move is applied after it happened: in between, a
             * promote or a demote that kept nothing may have unregistered
             * the destination with the page already there (the books still
             * had it at the source), and the kernel then took its
             * protection off (before 0.10.3 it stayed held, written
             * unseen).  Look at the held pages where they are now. */
            reprotect_unprotected(t, fresh[k], true);
        }
    free(fresh);
}

/* Every page at [lo, lo+len) that the books do not hold goes back to the
 * promote node if it is on the tier node.  Lock held. */
static void unheld_off_tier(struct pmn_ctier *t, uintptr_t lo, size_t len)
{
    void *pages[LOST_BATCH];
    size_t n = 0;

    if (t->node == t->promote_node)
        return; /* lost_back would move nothing: spare the walk */
    for (uintptr_t pg = lo; pg < lo + len; pg += t->page) {
        struct crange *r = find_range(t, pg);

        if (r != NULL && bit_test(r->bits, (pg - r->start) / t->page))
            continue;
        pages[n++] = (void *)pg;
        if (n == LOST_BATCH) {
            lost_back(t, pages, n);
            n = 0;
        }
    }
    lost_back(t, pages, n);
}

/* [from, from+len) moved to [to, to+len): the books follow
 * (moved_books); then the pages that arrived without being held are
 * looked at.  One the books dropped when an unmap or discard was applied
 * (forget) may have been away just then, between two moves another thread
 * made, so forget could not see it on the tier; the move that brought it
 * here is applied after that, and this is where it is found (before
 * 0.11.0 it stayed on the tier, protected, until its first write).  A
 * held page whose own move is applied after this one may be taken for
 * such a page and go back early: the books then find it off the tier, as
 * for a page the program moved itself (moved_off), and no data moves
 * wrongly.  Lock held. */
static void moved(struct pmn_ctier *t, uintptr_t from, uintptr_t to, size_t len)
{
    moved_books(t, from, to, len);
    unheld_off_tier(t, to, len);
}

/* Wait, with the lock dropped, until the handler thread has applied every
 * unmap, discard and move it had read when the call began.  munmap,
 * madvise(MADV_DONTNEED) and mremap return once their event is read,
 * before it is applied: a demote after a discard would otherwise be undone
 * by that discard's event applied later (the page left on the tier, out of
 * the books, so that promote never brought it back), and a promote after a
 * move would find nothing at the new address.  Events read later do not
 * make it wait longer (another thread unmapping all the time cannot hold
 * it up).  The handler applies events in the order read, at its next try
 * of the lock, within a millisecond; bounded all the same.  Lock held. */
static void settle_layout(struct pmn_ctier *t)
{
    uint64_t begun = atomic_load(&t->reads_begun), target = 0;
    bool counted = false; /* the reads begun before the call are counted */

    if (forked(t))
        return; /* a child's copy: no handler thread reads for it */
    for (int tries = 0; tries < 4000; tries++) {
        if (!counted && atomic_load(&t->reads_counted) >= begun) {
            counted = true;
            target = atomic_load(&t->layout_read);
        }
        if (counted && atomic_load(&t->layout_applied) >= target)
            break;
        pthread_mutex_unlock(&t->lock);
        usleep(250);
        pthread_mutex_lock(&t->lock);
    }
    unsure_check(t);
}

/* clear_overlaps, after the handler applied what it read (settle_layout),
 * and waiting out a write fault on this memory that it has read but not
 * applied yet.  Lock held (dropped while it waits). */
static int clear_overlaps_settled(struct pmn_ctier *t, uintptr_t start, size_t len)
{
    int err;

    settle_layout(t);
    err = clear_overlaps(t, start, len);

    for (int tries = 0; err == -EBUSY && tries < 200 && atomic_load(&t->in_event); tries++) {
        pthread_mutex_unlock(&t->lock);
        usleep(500);
        pthread_mutex_lock(&t->lock);
        err = clear_overlaps(t, start, len);
    }
    return err;
}

/* Tier @u lets tier @t demote [start, start+len): -EBUSY when any page of
 * it is on @u; otherwise @u forgets what it kept of it and, when @u is
 * another tier with userfaultfd, unregisters it (the kernel would refuse
 * @t's registration).  open_tiers_lock held. */
static int release_to(struct pmn_ctier *u, const struct pmn_ctier *t, uintptr_t start, size_t len)
{
    size_t i;
    bool had;
    int err;

    pthread_mutex_lock(&u->lock);
    i = first_after(u, start);
    had = i < u->nr && u->rv[i]->start < start + len;
    err = clear_overlaps_settled(u, start, len);
    if (err == 0 && had && u != t && !u->mprotect_mode)
        pmn_prim_uffd_unregister(u->uffd, start, len);
    pthread_mutex_unlock(&u->lock);
    return err;
}

/* The pages just outside [start, start+len) that a transparent huge page
 * across either end would drag along: the first page of the 2 MiB block
 * the range starts in and the last of the block it ends in, when the
 * range does not start or end on a block boundary.  How many (0 to 2). */
static size_t huge_neighbours(const struct pmn_ctier *t, uintptr_t start, size_t len,
                              void *pages[2])
{
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t end = start + len;
    size_t n = 0;

    if (start % huge)
        pages[n++] = (void *)(start & ~(huge - 1));
    if (end % huge)
        pages[n++] = (void *)((end & ~(huge - 1)) + huge - t->page);
    return n;
}

/* Did the move drag pages outside the range along: is a neighbour on the
 * tier node now that was not there before (@before: their nodes then)?
 * A neighbour already there (left by a tier closed earlier, say) is not
 * the move's doing. */
static bool cut_huge_page(const struct pmn_ctier *t, void **pages, size_t n, const int *before)
{
    int after[2] = {-1, -1};

    if (n == 0 || t->node == t->promote_node || pmn_prim_query_nodes(pages, n, after) != 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (after[i] == t->node && before[i] != t->node)
            return true;
    return false;
}

/* ENOMEM from registering, protecting or binding a range is the kernel
 * refusing to split its mapping, most often at vm.max_map_count. */
static void log_split_failure(const struct pmn_ctier *t, uintptr_t start, size_t len, int err)
{
    if (err == -ENOMEM)
        pmn__log(t->ctx, 2,
                 "demote %#lx+%zu: the kernel could not split the mapping "
                 "(ENOMEM): scattered demoted ranges each take mappings of their own, "
                 "and vm.max_map_count may be reached",
                 (unsigned long)start, len);
}

/* Protect the held pages of @r (just demoted, or just moved by the
 * program; @in_index: @r is in the books already) that the pagemap shows
 * present without write protection, one by one: usually none, so one
 * pagemap read and no further call (protecting the whole range again
 * would wait out every discard of the program's other threads,
 * protect()).  A page whose mapping is not registered (-ENOENT: mapped
 * anew, or unregistered, after the range was) cannot be protected: it
 * goes back to the promote node and leaves the books (unheld_back).  A
 * held page that is not in place (moved away again) or whose protection
 * the kernel refuses for now goes on the unsure list (unsure_add).  Best effort: without the pagemap or memory, nothing.
 * Lock held. */
static void reprotect_unprotected(struct pmn_ctier *t, struct crange *r, bool in_index)
{
    uint64_t *pm = malloc(CHUNK * sizeof(*pm));
    int fd = -1;

    if (pm != NULL && pmn_prim_pagemap_open(&fd) == 0) {
        for (size_t done = 0; done < r->npages; done += CHUNK) {
            size_t n = r->npages - done < CHUNK ? r->npages - done : CHUNK;

            if (pmn_prim_pagemap_read(fd, r->start + done * t->page, n, pm) != 0)
                break;
            for (size_t i = 0; i < n; i++) {
                uintptr_t page = r->start + (done + i) * t->page;

                if (!bit_test(r->bits, done + i) || (pm[i] & PMN_PRIM_PM_UFFD_WP))
                    continue;
                if (!(pm[i] & (PMN_PRIM_PM_PRESENT | PMN_PRIM_PM_SWAP))) {
                    unsure_add(t, page);
                    continue;
                }
                int err = protect(t, page, t->page, true);

                if (err == -ENOENT && unheld_back(t, page)) {
                    /* A demote's own (not in the index) was never counted
                     * as demoted, so it is not counted as returned. */
                    if (in_index) {
                        page_left(t, r, done + i);
                        t->st.returned_pages++;
                    } else {
                        bit_clear(r->bits, done + i);
                        r->ndemoted--;
                    }
                } else if (err != 0) {
                    unsure_add(t, page);
                }
            }
        }
        pmn_prim_close(fd);
    }
    free(pm);
}

int pmn_ctier_demote(struct pmn_ctier *t, void *addr, size_t len)
{
    uintptr_t start = (uintptr_t)addr;
    struct crange *r;
    void **pages, *neighbours[2];
    int *nodes, *status, err, nb_before[2] = {-1, -1};
    size_t nb, absent = 0;
    double ratio;
    struct pmn_prim_policies saved = {0};
    bool have_saved = false;

    if (t == NULL || addr == NULL || len == 0 || start % t->page || len % t->page ||
        start + len < start)
        return -EINVAL;
    if (forked(t))
        return -ECHILD;
    /* One owner per page: no tier, this one included, may have any of it
     * (-EBUSY comes first: in mprotect mode a tier's pages are read-only). */
    pthread_mutex_lock(&open_tiers_lock);
    err = 0;
    for (struct pmn_ctier *u = open_tiers; u != NULL && err == 0; u = u->next_open)
        err = release_to(u, t, start, len);
    /* Checked before the estimate reads it: a range running into a hole or
     * into PROT_NONE memory is refused, not a crash.  Shared memory could be
     * written unseen through another mapping; read-only memory could not be
     * told from the tier's own protection in mprotect mode, and executable
     * memory would lose PROT_EXEC there: both modes refuse all three. */
    if (err == 0 && (err = pmn_prim_private_anon(addr, len, PROT_READ | PROT_WRITE)) >= 0)
        err = err == 1 ? 0 : -EINVAL;
    if (err == 0 && (ratio = pmn_ctier_estimate(addr, len, 16)) < 0)
        err = ratio == -EFAULT ? -EINVAL : (int)ratio; /* a hole since the check */
    if (err) {
        pthread_mutex_unlock(&open_tiers_lock);
        return err;
    }
    pthread_mutex_lock(&t->lock);
    err = clear_overlaps_settled(t, start, len);
    if (err == 0 && index_reserve(t, 1) != 0)
        err = -ENOMEM; /* the new range's place, taken before anything moves */
    if (err) {
        pthread_mutex_unlock(&t->lock);
        pthread_mutex_unlock(&open_tiers_lock);
        return err;
    }
    err = pmn__ctier_guard((uint64_t)t->physical, t->st.capacity_bytes, t->reserve, len, ratio,
                           t->min_ratio);
    if (err) {
        t->st.refusals++;
        pthread_mutex_unlock(&t->lock);
        pthread_mutex_unlock(&open_tiers_lock);
        return err;
    }
    r = range_new(start, len / t->page, ratio);
    pages = malloc(CHUNK * sizeof(*pages));
    nodes = malloc(CHUNK * sizeof(*nodes));
    status = malloc(CHUNK * sizeof(*status));
    if (!r || !pages || !nodes || !status) {
        err = -ENOMEM;
        goto out;
    }

    /* The range's policy, put back if nothing ends on the tier (the bind
     * below is for demoted pages only). */
    have_saved = pmn_prim_policy_save(addr, len, &saved) == 1;
    /* Protect first, then move: no write reaches the tier unnoticed. */
    if (!t->mprotect_mode && (err = pmn_prim_uffd_register_wp(t->uffd, start, len)) != 0) {
        log_split_failure(t, start, len, err); /* -EINVAL: not anonymous private memory */
        goto out;
    }
    if (t->mprotect_mode)
        atomic_fetch_add(&protect_epoch, 1); /* before the protection: segv_claim */
    err = protect(t, start, len, true);
    /* Allow both nodes in the range's policy: under a policy that names
     * only the promote node, NUMA balancing would see demoted pages as
     * misplaced and pull them back behind our back (seen on real kernels). */
    if (err == 0) {
        int both[2] = {t->promote_node, t->node};
        err = pmn_prim_bind_nodes(addr, len, both, t->promote_node == t->node ? 1 : 2);
    }
    if (err) {
        /* Another thread changed the range's mappings since the checks: a
         * mapping put in place of a registered one (-ENOENT from the
         * protection) is -EAGAIN, a hole (-EFAULT from the bind) -EINVAL,
         * as for a hole at the start (before 0.10.2 these came back as
         * they were).  The protection may have gone on in part: it comes
         * off again, which also wakes a writer that met it. */
        err = err == -ENOENT ? -EAGAIN : err == -EFAULT ? -EINVAL : err;
        goto keep_nothing;
    }
    nb = huge_neighbours(t, start, len, neighbours);
    if (nb && pmn_prim_query_nodes(neighbours, nb, nb_before) != 0)
        nb_before[0] = nb_before[1] = -1; /* unknown: a neighbour on the tier after is refused */
    for (size_t done = 0; done < r->npages;) {
        size_t n = r->npages - done > CHUNK ? CHUNK : r->npages - done;
        for (size_t i = 0; i < n; i++) {
            pages[i] = (void *)(start + (done + i) * t->page);
            nodes[i] = t->node;
        }
        if ((err = move_batch(pages, n, nodes, status)) != 0)
            break;
        for (size_t i = 0; i < n; i++) {
            /* Never touched, or only read (the shared zero page): no data */
            absent += status[i] == -ENOENT || status[i] == -EFAULT;
            if (status[i] != t->node)
                continue; /* not present, or could not move: not on the tier */
            r->bits[(done + i) / 64] |= (uint64_t)1 << ((done + i) % 64);
            r->ndemoted++;
        }
        done += n;
    }
    /* Nothing moved: the tier node is full, unless no page there holds data,
     * which leaves nothing to keep and is no error (before 0.10.1: -ENOMEM,
     * as if the tier were full). */
    if (err == 0 && r->ndemoted == 0 && absent < r->npages)
        err = -ENOMEM;
    /* A huge page straddled the range: its pages outside moved too,
     * unprotected.  Everything goes back (keep_nothing) and it is refused. */
    if (err == 0 && r->ndemoted > 0 && cut_huge_page(t, neighbours, nb, nb_before))
        err = -EINVAL;
    /* Protect again what moved unprotected (userfaultfd): protection set
     * on a page with nothing mapped (never touched, discarded, mapped
     * anew) does not stay, so a page first written between the protection
     * above and its move is on the tier unprotected: held, yet written
     * unseen for ever (before 0.10.2).  The write came before the move, so
     * its data went with the page.  A page of a mapping made anew since
     * the registration goes back (before 0.10.3 it stayed on the tier, in
     * nobody's books once the old mapping's unmap was applied).
     * (mprotect protects the mapping, empty pages included.) */
    if (err == 0 && !t->mprotect_mode)
        reprotect_unprotected(t, r, false);
    if (err || r->ndemoted == 0) { /* keeps nothing */
    keep_nothing:
        /* What moved goes back: the pages of a huge page the range cut,
         * or those a move that failed part way had moved (before 0.11.0
         * these stayed on the tier, outside the books, unprotected). */
        for (size_t i = 0; i < r->npages; i++)
            if (bit_test(r->bits, i))
                (void)move_one((void *)(start + i * t->page), t->promote_node);
        protect(t, start, len, false);
        if (!t->mprotect_mode)
            pmn_prim_uffd_unregister(t->uffd, start, len);
        if (have_saved)
            (void)pmn_prim_policy_restore(&saved);
        log_split_failure(t, start, len, err);
        goto out;
    }
    /* Pages that did not move are not on the tier: no need to trap them. */
    for (size_t i = 0; i < r->npages; i++)
        if (!bit_test(r->bits, i))
            protect(t, start + i * t->page, t->page, false);
    index_insert(t, r); /* room reserved before anything moved */
    t->st.demotions++;
    t->st.demoted_pages += r->ndemoted;
    t->st.logical_bytes += r->ndemoted * t->page;
    t->physical += (double)(r->ndemoted * t->page) / ratio;
    r = NULL;
out:
    pthread_mutex_unlock(&t->lock);
    pthread_mutex_unlock(&open_tiers_lock);
    range_free(r);
    free(pages);
    free(nodes);
    free(status);
    pmn_prim_policy_free(&saved);
    return err;
}

int pmn_ctier_promote(struct pmn_ctier *t, void *addr, size_t len, int node)
{
    uintptr_t start = (uintptr_t)addr, end;
    int err = 0;

    if (t == NULL || addr == NULL || len == 0 || start % t->page || len % t->page ||
        start + len < start)
        return -EINVAL;
    if (forked(t))
        return -ECHILD;
    if (node < 0)
        node = t->promote_node;
    if (pmn_node_get(t->ctx, node) == NULL)
        return PMN_E_NO_NODE;
    end = start + len;
    /* mprotect mode lifts what came back in one walk over the mappings at
     * the end (without the bitmap, window by window). */
    uint64_t *back = t->mprotect_mode ? calloc((len / t->page + 63) / 64, sizeof(*back)) : NULL;
    pthread_mutex_lock(&t->lock);
    settle_layout(t);
    for (size_t i = first_after(t, start); i < t->nr && t->rv[i]->start < end;) {
        struct crange *r = t->rv[i];
        uintptr_t rend = range_end(t, r);
        uintptr_t a = start > r->start ? start : r->start, b = end < rend ? end : rend;
        /* One move_pages call per CHUNK pages: each migrating call costs a
         * kernel-wide LRU drain, so per-page calls are ~100x slower. */
        for (uintptr_t lo = a; lo < b;) {
            size_t slots = (b - lo) / t->page < CHUNK ? (b - lo) / t->page : CHUNK, n = 0;
            void *pages[CHUNK];
            int nodes[CHUNK], status[CHUNK];
            uint64_t moved[CHUNK / 64] = {0};
            for (size_t k = 0; k < slots; k++)
                if (bit_test(r->bits, (lo - r->start) / t->page + k)) {
                    pages[n] = (void *)(lo + k * t->page);
                    nodes[n++] = node;
                }
            /* A page the kernel could not migrate after a few tries (before
             * 0.11.1 after one: -EIO, seen on 6.12 while other threads
             * remapped and discarded their pages) stays, and is -EAGAIN. */
            if (n > 0) {
                int merr = move_batch(pages, n, nodes, status);
                if (merr && !err)
                    err = merr;
            }
            for (size_t k = 0; k < n; k++) {
                size_t at = ((uintptr_t)pages[k] - lo) / t->page;
                bool absent = status[k] == -ENOENT || status[k] == -EFAULT;

                /* -ENOENT, -EFAULT: no page there now, or the zero page.
                 * With userfaultfd the page was unmapped, discarded or
                 * moved away after the call began, and its event, on its
                 * way, says which: it stays held until then (a page on its
                 * way back still is on the tier; before 0.10.3 it counted
                 * as back, and its protection came off with the range's
                 * registration when it returned before the unregister
                 * below).  The mprotect fallback sees no such events:
                 * nothing of it is on the tier. */
                if (absent && !t->mprotect_mode)
                    continue;
                if (status[k] == node || absent) {
                    page_left(t, r, ((uintptr_t)pages[k] - r->start) / t->page);
                    moved[at / 64] |= (uint64_t)1 << (at % 64);
                    at = ((uintptr_t)pages[k] - start) / t->page;
                    if (back)
                        back[at / 64] |= (uint64_t)1 << (at % 64);
                } else if (!err) {
                    /* stays on the tier, and so stays protected */
                    err = status[k] < 0 ? status[k] : -EAGAIN;
                }
            }
            /* Lift protection on what came back, and on nothing else: pages
             * that came back earlier may carry the program's own protection. */
            if (n > 0 && back == NULL)
                lift(t, lo, slots, moved);
            lo += slots * t->page;
        }
        if (r->ndemoted == 0) { /* the whole range is back: forget it */
            pmn_prim_bind((void *)r->start, r->npages * t->page, node);
            if (!t->mprotect_mode)
                pmn_prim_uffd_unregister(t->uffd, r->start, r->npages * t->page);
            index_drop(t, i);
            continue;
        }
        i++;
    }
    if (back != NULL) {
        lift(t, start, len / t->page, back);
        free(back);
    }
    t->st.promotions++;
    pthread_mutex_unlock(&t->lock);
    return err;
}

int pmn_ctier_stats(struct pmn_ctier *t, struct pmn_ctier_stats *user)
{
    struct pmn_ctier_stats st, *out = &st;

    if (t == NULL || !pmn__out_ok(user, PMN__SIZE_TO(struct pmn_ctier_stats, refusals)))
        return -EINVAL;
    pthread_mutex_lock(&t->lock);
    settle_layout(t);
    *out = t->st;
    out->physical_bytes = (uint64_t)(t->physical + 0.5);
    out->ratio = out->physical_bytes ? (double)out->logical_bytes / t->physical : 0.0;
    pthread_mutex_unlock(&t->lock);
    pmn__out_put(user, out, sizeof(*out));
    return 0;
}
PMN__SYMVER_DEFAULT(pmn_ctier_stats, "PMNODE_0.2");

int pmn_ctier_stats_json(const struct pmn_ctier_stats *user, char *buf, size_t len)
{
    struct pmn_ctier_stats copy = {0}, *st = &copy;
    char tail[48] = "";
    int n;

    if (!pmn__out_ok(user, PMN__SIZE_TO(struct pmn_ctier_stats, refusals)) || (buf == NULL && len))
        return -EINVAL;
    memcpy(st, user, user->struct_size < sizeof(*st) ? user->struct_size : sizeof(*st));
    /* Fields added after the first version: only when the caller has them. */
    if (user->struct_size >= PMN__SIZE_TO(struct pmn_ctier_stats, returned_pages))
        snprintf(tail, sizeof(tail), ", \"returned_pages\": %llu",
                 (unsigned long long)st->returned_pages);
    n = snprintf(buf, len,
                 "{\"logical_bytes\": %llu, \"physical_bytes\": %llu, \"ratio\": %.3f, "
                 "\"capacity_bytes\": %llu, \"demotions\": %llu, \"demoted_pages\": %llu, "
                 "\"promotions\": %llu, \"write_promotions\": %llu, \"write_failures\": %llu, "
                 "\"refusals\": %llu%s}",
                 (unsigned long long)st->logical_bytes, (unsigned long long)st->physical_bytes,
                 st->ratio, (unsigned long long)st->capacity_bytes,
                 (unsigned long long)st->demotions, (unsigned long long)st->demoted_pages,
                 (unsigned long long)st->promotions, (unsigned long long)st->write_promotions,
                 (unsigned long long)st->write_failures, (unsigned long long)st->refusals, tail);
    return n < 0 ? -EINVAL : n;
}
PMN__SYMVER_DEFAULT(pmn_ctier_stats_json, "PMNODE_0.2");
