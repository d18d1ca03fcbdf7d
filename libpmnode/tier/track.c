/*
 * track.c - access tracking (pmn_track_*): which extents of watched ranges
 * were touched since their previous look, at a page budget per scan.
 *
 * A tracker holds its ranges sorted by address, each cut into extents at
 * granule boundaries.  A scan walks a cursor (range, extent, and the next
 * of the extent's examined pages) round-robin, examining at most the page
 * budget, and stops at the end of a pass, so no extent is looked at twice
 * in one scan.  An extent whose examined pages were all read is finished:
 * its counts, heat and idle looks are updated and the signal is reset.
 * The examined pages of an extent are all of them, or sample_pages of
 * them evenly spaced (page i of n sampled is page i * pages / n).
 *
 * The modes differ only in reading and resetting the signal of a run of
 * pages (look_run):
 *   SOFT_DIRTY  pagemap bit 55; reset process-wide by clear_refs "4" at
 *               the end of each pass (not per extent: the kernel has no
 *               narrower reset)
 *   UFFD_WP     asynchronous write-protection: PAGEMAP_SCAN reads the
 *               pages written since their protection and protects them
 *               again in one walk; no handler thread, no signal
 *   IDLE        pagemap gives each present page's frame, the page_idle
 *               bitmap says whether it was accessed since we marked it
 *               idle, and we mark it idle again
 * Holes (memory unmapped after pmn_track_add) read as untouched in every
 * mode; their pages are counted in the report's pages_gone.  Memory mapped
 * anew (or moved) into a watched range reads its present pages as touched
 * at its first look in every mode: soft-dirty and idle see that by
 * themselves; UFFD_WP finds the mapping unregistered (anew_step) and
 * registers it then.
 *
 * Fork: the pagemap and userfaultfd descriptors keep describing the
 * process that opened them, so a tracker is usable only in its creator:
 * in a child every call but pmn_track_free() answers -ECHILD, and free
 * closes descriptors without touching protection (the parent's).
 *
 * Thread-safety: every call serialises on the tracker's mutex; the
 * tracked memory may be written by any thread during a scan.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "discover/topology.h"
#include "os/prim.h"

#define DEFAULT_GRANULE ((size_t)2 << 20)
#define MAX_GRANULE ((size_t)1 << 40)
/* Pagemap entries read per pread (on the stack). */
#define PM_BATCH 512

struct extent {
    uintptr_t addr;
    size_t len;
    uint32_t pages;    /* pages in it */
    uint32_t examined; /* at its last look */
    uint32_t touched;  /* of those, touched since the look before */
    uint32_t idle_looks;
    uint32_t heat;
    uint32_t next;         /* next examined page (index among them) of this look */
    uint32_t pend_touched; /* touched so far in this look */
    bool looked;           /* a look finished: the period has started */
};

struct range {
    uintptr_t addr;
    size_t len;
    struct extent *ext;
    size_t n_ext;
};

struct pmn_track {
    pthread_mutex_t lock;
    struct pmn_ctx *ctx;
    enum pmn_track_mode mode;
    size_t granule, page;
    uint64_t budget;
    unsigned sample;
    int pid;              /* the creator: descriptors describe its memory */
    int pmfd;             /* /proc/self/pagemap */
    int uffd;             /* UFFD_WP: the userfaultfd; else -1 */
    int idlefd;           /* IDLE: the page_idle bitmap; else -1 */
    struct range *ranges; /* sorted by address, disjoint */
    size_t nranges;
    size_t cur_range, cur_ext; /* the cursor */
    uint64_t passes;
};

static uint32_t examined_of(const struct pmn_track *t, const struct extent *e)
{
    return t->sample != 0 && t->sample < e->pages ? t->sample : e->pages;
}

/* ---- reading and resetting the signal of one run of pages ---- */

/* Count in *n_out the pages of the @n from @start that pagemap shows
 * present or swapped with every bit of @need set; *holes when some page
 * has no entry at all (maybe unmapped). */
static int pm_count(struct pmn_track *t, uintptr_t start, size_t n, uint64_t need, uint32_t *n_out,
                    bool *holes)
{
    uint64_t e[PM_BATCH];

    while (n > 0) {
        size_t k = n < PM_BATCH ? n : PM_BATCH;
        int err = pmn_prim_pagemap_read(t->pmfd, start, k, e);

        if (err != 0)
            return err;
        for (size_t i = 0; i < k; i++) {
            if ((e[i] & (PMN_PRIM_PM_PRESENT | PMN_PRIM_PM_SWAP)) != 0 && (e[i] & need) == need)
                (*n_out)++;
            else if (e[i] == 0)
                *holes = true;
        }
        start += k * t->page;
        n -= k;
    }
    return 0;
}

static int look_soft_dirty(struct pmn_track *t, uintptr_t start, size_t n, uint32_t *touched,
                           bool *holes)
{
    return pm_count(t, start, n, PMN_PRIM_PM_SOFT_DIRTY, touched, holes);
}

/* UFFD_WP: register [@a, @a+@len) and protect it (every page, populated
 * or not), so that the next write to each page is seen. */
static int watch(struct pmn_track *t, uintptr_t a, size_t len)
{
    int err = pmn_prim_uffd_register_wp(t->uffd, a, len);

    if (err == 0) {
        /* No -EAGAIN here: this descriptor asks for no events, and the
         * kernel refuses a change only while one is unread. */
        err = pmn_prim_uffd_writeprotect(t->uffd, a, len, true);
        if (err != 0)
            (void)pmn_prim_uffd_unregister(t->uffd, a, len);
    }
    return err;
}

/* The part [*a, *b) of mapping @v inside [lo, hi): false when empty. */
static bool clip(const struct pmn_prim_vma *v, uintptr_t lo, uintptr_t hi, uintptr_t *a,
                 uintptr_t *b)
{
    *a = v->start > lo ? v->start : lo;
    *b = v->end < hi ? v->end : hi;
    return *a < *b;
}

struct anew_walk {
    struct pmn_track *t;
    uintptr_t start, end;
    uint32_t *touched;
    int err;
};

/* One mapping of a run that PAGEMAP_SCAN refused: read it if it is
 * registered after all, else it is memory mapped (or moved) there since
 * the look before: its present pages were all touched since, and it is
 * watched from now on when it can be (private anonymous memory not
 * registered elsewhere).  What cannot be watched reads as touched at every
 * look, so that nobody takes memory the tracker cannot see for cold. */
static int anew_step(const struct pmn_prim_vma *v, void *arg)
{
    struct anew_walk *w = arg;
    uintptr_t a, b;
    uint64_t bytes = 0;
    bool holes = false;
    int err;

    if (!clip(v, w->start, w->end, &a, &b))
        return 0;
    err = pmn_prim_pagemap_scan_written(w->t->pmfd, a, b, &bytes);
    if (err == 0) {
        *w->touched += (uint32_t)(bytes / w->t->page);
        return 0;
    }
    if (err != -EPERM && err != -EINVAL) {
        w->err = err;
        return 1;
    }
    err = pm_count(w->t, a, (b - a) / w->t->page, 0, w->touched, &holes);
    if (err != 0) {
        w->err = err;
        return 1;
    }
    if (!v->shared && !v->file)
        (void)watch(w->t, a, b - a); /* refused: read as touched next time too */
    return 0;
}

static int look_uffd(struct pmn_track *t, uintptr_t start, size_t n, uint32_t *touched,
                     bool *holes)
{
    uint64_t bytes = 0;
    int err = pmn_prim_pagemap_scan_written(t->pmfd, start, start + n * t->page, &bytes);

    if (err == -EPERM || err == -EINVAL) {
        /* Some memory there is not what was registered: unmapped, or
         * mapped anew.  Each mapping on its own. */
        struct anew_walk w = {
            .t = t, .start = start, .end = start + n * t->page, .touched = touched};

        *holes = true;
        err = pmn_prim_vma_walk((void *)start, n * t->page, anew_step, &w);
        return err < 0 ? err : w.err;
    }
    if (err != 0)
        return err;
    *touched += (uint32_t)(bytes / t->page);
    *holes = bytes / t->page < n;
    return 0;
}

static int look_idle(struct pmn_track *t, uintptr_t start, size_t n, uint32_t *touched,
                     bool *holes)
{
    uint64_t e[PM_BATCH];
    uint64_t word = UINT64_MAX, bits = 0, mark = 0;
    int err;

    while (n > 0) {
        size_t k = n < PM_BATCH ? n : PM_BATCH;

        err = pmn_prim_pagemap_read(t->pmfd, start, k, e);
        if (err != 0)
            return err;
        for (size_t i = 0; i < k; i++) {
            uint64_t pfn = e[i] & PMN_PRIM_PM_PFN_MASK;

            if ((e[i] & PMN_PRIM_PM_PRESENT) == 0 || pfn == 0) {
                *holes |= e[i] == 0;
                continue; /* swapped or never faulted: not accessed */
            }
            if (pfn / 64 != word) {
                if (mark != 0 && (err = pmn_prim_page_idle_write(t->idlefd, word, mark)) != 0)
                    return err;
                word = pfn / 64;
                mark = 0;
                err = pmn_prim_page_idle_read(t->idlefd, word, &bits);
                if (err == -ENXIO) {
                    word = UINT64_MAX;
                    continue;
                }
                if (err != 0)
                    return err;
            }
            if ((bits & (1ull << (pfn % 64))) == 0)
                (*touched)++;
            /* A huge page's frames share one flag: reading it idle for
             * the first frame must not hide the next frame's verdict, so
             * the bit read stays as read until the word is written. */
            mark |= 1ull << (pfn % 64);
        }
        start += k * t->page;
        n -= k;
    }
    if (mark != 0 && word != UINT64_MAX)
        return pmn_prim_page_idle_write(t->idlefd, word, mark);
    return 0;
}

/* Read and reset the signal of the @n pages from @start; pages that no
 * mapping covers any more are counted in *gone (asked of the kernel only
 * when the signal read showed a hole). */
static int look_run(struct pmn_track *t, uintptr_t start, size_t n, uint32_t *touched,
                    uint64_t *gone)
{
    bool holes = false;
    int err;

    switch (t->mode) {
    case PMN_TRACK_SOFT_DIRTY: err = look_soft_dirty(t, start, n, touched, &holes); break;
    case PMN_TRACK_UFFD_WP: err = look_uffd(t, start, n, touched, &holes); break;
    case PMN_TRACK_IDLE: err = look_idle(t, start, n, touched, &holes); break;
    default: return -EINVAL;
    }
    if (err == 0 && holes)
        err = pmn_prim_count_unmapped(start, n, gone);
    return err;
}

/* ---- modes ---- */

static int open_mode(struct pmn_track *t, enum pmn_track_mode m)
{
    uint64_t e = 0;
    int err;

    switch (m) {
    case PMN_TRACK_SOFT_DIRTY:
        err = pmn_prim_soft_dirty_supported();
        if (err < 0)
            return err;
        return err == 1 ? 0 : -EOPNOTSUPP;
    case PMN_TRACK_UFFD_WP: {
        /* PAGEMAP_SCAN came with WP_ASYNC (6.7); ask for it on nothing
         * (an empty walk) to be sure. */
        uint64_t w;

        err = pmn_prim_uffd_open_async(&t->uffd);
        if (err != 0)
            return err;
        err = pmn_prim_pagemap_scan_written(t->pmfd, 0, 0, &w);
        return err;
    }
    case PMN_TRACK_IDLE:
        err = pmn_prim_page_idle_open(&t->idlefd);
        if (err == -ENOENT)
            return -EOPNOTSUPP;
        if (err == -EACCES)
            return -EPERM;
        if (err != 0)
            return err;
        /* Frame numbers need CAP_SYS_ADMIN: without it pagemap reads 0. */
        err = pmn_prim_pagemap_read(t->pmfd, (uintptr_t)&e & ~(uintptr_t)(t->page - 1), 1, &e);
        if (err != 0)
            return err;
        if ((e & PMN_PRIM_PM_PRESENT) != 0 && (e & PMN_PRIM_PM_PFN_MASK) == 0)
            return -EPERM;
        return 0;
    default: return -EINVAL;
    }
}

static void close_mode(struct pmn_track *t)
{
    if (t->uffd >= 0)
        pmn_prim_close(t->uffd);
    if (t->idlefd >= 0)
        pmn_prim_close(t->idlefd);
    t->uffd = t->idlefd = -1;
}

int pmn_track_new(struct pmn_ctx *ctx, const struct pmn_track_opts *opts, struct pmn_track **out)
{
    static const enum pmn_track_mode order[] = {PMN_TRACK_IDLE, PMN_TRACK_SOFT_DIRTY,
                                                PMN_TRACK_UFFD_WP};
    struct pmn_track_opts o = {0};
    struct pmn_track *t;
    int err = -EOPNOTSUPP;

    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (ctx == NULL)
        return -EINVAL;
    if (opts != NULL) {
        if (opts->struct_size < PMN__SIZE_TO(struct pmn_track_opts, sample_pages))
            return -EINVAL;
        /* As much as both sides know (a larger, newer struct's tail is
         * not ours to read; a smaller one cannot be below the check). */
        memcpy(&o, opts, opts->struct_size < sizeof(o) ? opts->struct_size : sizeof(o));
    }
    if ((unsigned)o.mode > PMN_TRACK_IDLE)
        return -EINVAL;
    if (o.granule == 0)
        o.granule = DEFAULT_GRANULE;
    if ((o.granule & (o.granule - 1)) != 0 || o.granule < pmn_prim_page_size() ||
        o.granule > MAX_GRANULE || o.granule / pmn_prim_page_size() > UINT32_MAX)
        return -EINVAL;
    if (!ctx->local)
        return PMN_E_REMOTE_ROOT;

    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    t->granule = o.granule;
    t->page = pmn_prim_page_size();
    t->budget = o.page_budget;
    t->sample = o.sample_pages;
    t->pid = pmn_prim_getpid();
    t->uffd = t->idlefd = -1;
    err = pmn_prim_pagemap_open(&t->pmfd);
    if (err != 0) {
        free(t);
        return err;
    }
    if (o.mode != PMN_TRACK_AUTO) {
        t->mode = o.mode;
        err = open_mode(t, o.mode);
    } else {
        for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
            t->mode = order[i];
            err = open_mode(t, order[i]);
            if (err == 0)
                break;
            close_mode(t);
        }
    }
    if (err != 0) {
        close_mode(t);
        pmn_prim_close(t->pmfd);
        free(t);
        return err;
    }
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        close_mode(t);
        pmn_prim_close(t->pmfd);
        free(t);
        return -ENOMEM;
    }
    t->ctx = pmn_ctx_ref(ctx);
    pmn__log(ctx, 3, "track: mode %s, granule %zu, budget %llu, sample %u",
             pmn_track_mode_name(t->mode), t->granule, (unsigned long long)t->budget, t->sample);
    *out = t;
    return 0;
}

static bool in_creator(const struct pmn_track *t)
{
    return pmn_prim_getpid() == t->pid;
}

struct release_walk {
    int uffd;
    uintptr_t start, end;
};

/* Unregister one private anonymous mapping of a range: one unregister of
 * the whole range fails (-EINVAL) when any mapping in it is one no
 * userfaultfd may take, such as a file mapped there since, and would
 * leave the rest registered.  A mapping another userfaultfd registered
 * (moved in with mremap) is refused by recent kernels (-EINVAL, ignored);
 * on older ones this reaches it as the whole-range unregister did. */
static int release_step(const struct pmn_prim_vma *v, void *arg)
{
    const struct release_walk *w = arg;
    uintptr_t a, b;

    if (clip(v, w->start, w->end, &a, &b) && !v->shared && !v->file)
        (void)pmn_prim_uffd_unregister(w->uffd, a, b - a);
    return 0;
}

/* Lift what pmn_track_add set up for @r (UFFD_WP: the registration, and
 * with it the protection). */
static void range_release(struct pmn_track *t, struct range *r)
{
    if (t->mode == PMN_TRACK_UFFD_WP && t->uffd >= 0 && in_creator(t) &&
        pmn_prim_uffd_unregister(t->uffd, r->addr, r->len) != 0) {
        struct release_walk w = {.uffd = t->uffd, .start = r->addr, .end = r->addr + r->len};

        (void)pmn_prim_vma_walk((void *)r->addr, r->len, release_step, &w);
    }
    free(r->ext);
    r->ext = NULL;
}

void pmn_track_free(struct pmn_track *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nranges; i++)
        range_release(t, &t->ranges[i]);
    free(t->ranges);
    close_mode(t);
    pmn_prim_close(t->pmfd);
    pthread_mutex_destroy(&t->lock);
    pmn_ctx_unref(t->ctx);
    free(t);
}

enum pmn_track_mode pmn_track_mode(const struct pmn_track *t)
{
    return t == NULL ? PMN_TRACK_AUTO : t->mode;
}

const char *pmn_track_mode_name(enum pmn_track_mode m)
{
    switch (m) {
    case PMN_TRACK_AUTO: return "auto";
    case PMN_TRACK_SOFT_DIRTY: return "soft-dirty";
    case PMN_TRACK_UFFD_WP: return "uffd-wp";
    case PMN_TRACK_IDLE: return "idle";
    }
    return "unknown";
}

/* ---- ranges ---- */

struct readable_walk {
    uintptr_t want, end;
    bool ok;
};

static int readable_step(const struct pmn_prim_vma *v, void *arg)
{
    struct readable_walk *w = arg;

    if (v->start > w->want || (v->prot & 1 /* PROT_READ */) == 0) {
        w->ok = false;
        return 1;
    }
    w->want = v->end;
    return w->want >= w->end ? 1 : 0;
}

/* Whether [addr, addr+len) is mapped readable throughout: 1, 0, -errno. */
static int range_readable(uintptr_t addr, size_t len)
{
    struct readable_walk w = {.want = addr, .end = addr + len, .ok = true};
    int rc = pmn_prim_vma_walk((void *)addr, len, readable_step, &w);

    if (rc < 0)
        return rc;
    return w.ok && w.want >= w.end;
}

static size_t find_range(const struct pmn_track *t, uintptr_t addr)
{
    size_t lo = 0, hi = t->nranges;

    while (lo < hi) { /* first range starting at or after @addr */
        size_t mid = lo + (hi - lo) / 2;

        if (t->ranges[mid].addr < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cut_extents(struct pmn_track *t, struct range *r, size_t *n_out)
{
    uintptr_t a = r->addr, end = r->addr + r->len;
    size_t n = 0, i = 0;

    /* Count first: one extent per granule-aligned piece. */
    n = (size_t)(((end - 1) / t->granule) - (a / t->granule) + 1);
    r->ext = calloc(n, sizeof(*r->ext));
    if (r->ext == NULL)
        return -ENOMEM;
    while (a < end) {
        uintptr_t b = (a / t->granule + 1) * t->granule;

        if (b > end || b < a)
            b = end;
        r->ext[i].addr = a;
        r->ext[i].len = b - a;
        r->ext[i].pages = (uint32_t)((b - a) / t->page);
        i++;
        a = b;
    }
    *n_out = n;
    return 0;
}

int pmn_track_add(struct pmn_track *t, void *addr, size_t len)
{
    uintptr_t a = (uintptr_t)addr;
    struct range r = {.addr = a, .len = len}, *grown;
    size_t i;
    int err;

    if (t == NULL || addr == NULL || len == 0 || a % t->page != 0 || len % t->page != 0 ||
        a + len < a)
        return -EINVAL;
    /* Before the lock: a child forked while another thread held it would
     * wait for ever (the pid is the creator's for good). */
    if (!in_creator(t))
        return -ECHILD;
    pthread_mutex_lock(&t->lock);
    i = find_range(t, a);
    if ((i < t->nranges && t->ranges[i].addr < a + len) ||
        (i > 0 && t->ranges[i - 1].addr + t->ranges[i - 1].len > a)) {
        err = -EEXIST;
        goto out;
    }
    err = range_readable(a, len);
    if (err <= 0) {
        err = err == 0 ? -EINVAL : err;
        goto out;
    }
    if (t->mode == PMN_TRACK_UFFD_WP) {
        err = pmn_prim_private_anon(addr, len, -1);
        if (err <= 0) {
            err = err == 0 ? -EINVAL : err;
            goto out;
        }
    }
    err = cut_extents(t, &r, &r.n_ext);
    if (err != 0)
        goto out;
    grown = realloc(t->ranges, (t->nranges + 1) * sizeof(*grown));
    if (grown == NULL) {
        free(r.ext);
        err = -ENOMEM;
        goto out;
    }
    t->ranges = grown;
    if (t->mode == PMN_TRACK_UFFD_WP) {
        err = watch(t, a, len);
        if (err != 0) {
            free(r.ext);
            goto out;
        }
    }
    memmove(&t->ranges[i + 1], &t->ranges[i], (t->nranges - i) * sizeof(*t->ranges));
    t->ranges[i] = r;
    t->nranges++;
    /* Keep the cursor on the extent it was on. */
    if (t->nranges > 1 && i <= t->cur_range)
        t->cur_range++;
out:
    pthread_mutex_unlock(&t->lock);
    return err;
}

int pmn_track_remove(struct pmn_track *t, void *addr, size_t len)
{
    uintptr_t a = (uintptr_t)addr;
    size_t i;
    int err = 0;

    if (t == NULL)
        return -EINVAL;
    /* Before the lock: a child forked while another thread held it would
     * wait for ever (the pid is the creator's for good). */
    if (!in_creator(t))
        return -ECHILD;
    pthread_mutex_lock(&t->lock);
    i = find_range(t, a);
    if (i >= t->nranges || t->ranges[i].addr != a || t->ranges[i].len != len) {
        err = -ENOENT;
        goto out;
    }
    range_release(t, &t->ranges[i]);
    memmove(&t->ranges[i], &t->ranges[i + 1], (t->nranges - i - 1) * sizeof(*t->ranges));
    t->nranges--;
    if (i < t->cur_range) {
        t->cur_range--;
    } else if (i == t->cur_range) {
        t->cur_ext = 0; /* on to the next range's first extent */
    }
out:
    pthread_mutex_unlock(&t->lock);
    return err;
}

/* ---- scanning ---- */

static void finish_extent(struct extent *e, uint32_t examined, struct pmn_track_report *r)
{
    r->extents_examined++;
    e->next = 0;
    e->examined = examined;
    if (!e->looked) {
        /* The first look only starts the period. */
        e->looked = true;
        e->touched = 0;
        e->pend_touched = 0;
        return;
    }
    e->touched = e->pend_touched;
    e->pend_touched = 0;
    e->heat = (e->heat + (uint32_t)((255ull * e->touched) / examined)) / 2;
    if (e->touched != 0) {
        e->idle_looks = 0;
        r->extents_touched++;
    } else if (e->idle_looks < UINT32_MAX) {
        e->idle_looks++;
    }
}

/* The end of a pass: the process-wide reset of soft-dirty. */
static int end_pass(struct pmn_track *t, struct pmn_track_report *r)
{
    t->passes++;
    r->passes++;
    t->cur_range = 0;
    t->cur_ext = 0;
    if (t->mode == PMN_TRACK_SOFT_DIRTY)
        return pmn_prim_clear_soft_dirty();
    return 0;
}

int pmn_track_scan(struct pmn_track *t, struct pmn_track_report *rep)
{
    struct pmn_track_report r = {.struct_size = sizeof(r)};
    uint64_t budget, t0 = pmn_prim_now_ns();
    int err = 0;

    if (t == NULL || (rep != NULL && !pmn__out_ok(rep, PMN__SIZE_TO(struct pmn_track_report, ns))))
        return -EINVAL;
    /* Before the lock: a child forked while another thread held it would
     * wait for ever (the pid is the creator's for good). */
    if (!in_creator(t))
        return -ECHILD;
    pthread_mutex_lock(&t->lock);
    budget = t->budget != 0 ? t->budget : UINT64_MAX;
    while (t->nranges > 0 && r.pages_examined < budget) {
        struct range *rg;
        struct extent *e;
        uint32_t want, k;

        if (t->cur_range >= t->nranges) {
            err = end_pass(t, &r);
            break;
        }
        rg = &t->ranges[t->cur_range];
        if (t->cur_ext >= rg->n_ext) {
            t->cur_range++;
            t->cur_ext = 0;
            continue;
        }
        e = &rg->ext[t->cur_ext];
        want = examined_of(t, e);
        k = want - e->next;
        if ((uint64_t)k > budget - r.pages_examined)
            k = (uint32_t)(budget - r.pages_examined);
        if (want == e->pages) {
            err = look_run(t, e->addr + (uintptr_t)e->next * t->page, k, &e->pend_touched,
                           &r.pages_gone);
        } else {
            for (uint32_t j = 0; j < k && err == 0; j++) {
                uint64_t idx = ((uint64_t)(e->next + j) * e->pages) / want;

                err = look_run(t, e->addr + (uintptr_t)idx * t->page, 1, &e->pend_touched,
                               &r.pages_gone);
            }
        }
        if (err != 0) {
            /* The kernel refused a read: this look starts over next time
             * rather than count some pages twice. */
            e->next = 0;
            e->pend_touched = 0;
            break;
        }
        e->next += k;
        r.pages_examined += k;
        if (e->next < want)
            break; /* the budget ran out inside this extent */
        finish_extent(e, want, &r);
        t->cur_ext++;
        if (t->cur_ext >= rg->n_ext && t->cur_range + 1 >= t->nranges) {
            /* That was the last extent: the pass is complete. */
            err = end_pass(t, &r);
            break;
        }
    }
    r.ns = pmn_prim_now_ns() - t0;
    pthread_mutex_unlock(&t->lock);
    if (rep != NULL && err == 0)
        pmn__out_put(rep, &r, sizeof(r));
    return err;
}

long pmn_track_extents(struct pmn_track *t, struct pmn_track_extent *out, size_t max)
{
    size_t total = 0;

    if (t == NULL || (out == NULL && max != 0))
        return -EINVAL;
    if (!in_creator(t))
        return -ECHILD;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->nranges; i++) {
        const struct range *rg = &t->ranges[i];

        for (size_t j = 0; j < rg->n_ext; j++, total++) {
            const struct extent *e = &rg->ext[j];

            if (total < max) {
                out[total].addr = (void *)e->addr;
                out[total].len = e->len;
                out[total].pages_examined = e->looked ? e->examined : 0;
                out[total].pages_touched = e->touched;
                out[total].idle_looks = e->idle_looks;
                out[total].heat = e->heat;
            }
        }
    }
    pthread_mutex_unlock(&t->lock);
    return total > (size_t)LONG_MAX ? LONG_MAX : (long)total;
}
