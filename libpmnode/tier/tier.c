/*
 * tier.c - the tiering helper: hot extents up, cold extents down, strictly.
 *
 * A step is: scan with the tracker (pmn_track_scan, its page budget) ->
 * copy its extents -> ask the kernel where every managed page is
 * (move_pages with no target, through the OS layer; one status per page,
 * no page is touched) -> plan (pmn__tier_plan, below: a pure function of
 * heat, idle looks and bytes per place) -> carry the plan out with
 * pmn_migrate() between the two nodes and pmn_ctier_demote/promote for the
 * third level.  Before each move the hot node's limit and the budgets are
 * checked again against what earlier moves really did, and the moved
 * extent is asked about again, so a failed move (target full, a page
 * busy, the range unmapped meanwhile) is counted in failed_moves and the
 * step goes on with the truth.
 *
 * The tier keeps little of its own: the managed ranges (for managed_bytes
 * and remove) and, per extent it compressed, a small record (sorted by
 * address) so that pages a write brought back from the compressed tier
 * are counted (write_returned_bytes) and a refused compression is not
 * tried again until the extent is touched.  Everything else (heat, where
 * pages are) is asked for at each step.
 *
 * One mutex per tier serialises its calls; the managed memory is never
 * read or written here (the tracker and the kernel look at it).
 *
 * Fork: the tier is its creator's, as its tracker is (track.c).  In a
 * child every call but pmn_tier_free() answers -ECHILD, before it takes
 * the mutex: another thread of the parent may have held it at the fork.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tier/tier.h"
#include "discover/discover.h"
#include "discover/topology.h"
#include "os/prim.h"
#include "place/backing.h"

#define DEFAULT_BUDGET (64ull << 20)
#define DEFAULT_COLD_LOOKS 2u
#define DEFAULT_COMPRESS_LOOKS 8u
#define QUERY_BATCH 1024

/* ---- the plan ---- */

struct rank {
    uint64_t key;
    size_t idx;
};

static int rank_cmp(const void *a, const void *b)
{
    const struct rank *x = a, *y = b;

    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Coldest first: low heat, then many idle looks. */
static uint64_t cold_key(const struct pmn__tier_ext *e)
{
    uint32_t idle = e->idle_looks > 0xffffff ? 0xffffff : e->idle_looks;
    return ((uint64_t)e->heat << 32) | (uint64_t)(0xffffffu - idle);
}

static bool on_hot(const struct pmn__tier_ext *e)
{
    return e->looked && !e->compressed && e->hot > 0;
}

long pmn__tier_plan(const struct pmn__tier_policy *p, const struct pmn__tier_ext *e, size_t n,
                    struct pmn__tier_act *acts)
{
    struct rank *hot = NULL, *cand = NULL;
    bool *used = NULL;
    size_t nhot = 0, ncand = 0, nact = 0, next_victim = 0;
    uint64_t hot_now = 0, pbud = p->promote_budget, dbud = p->demote_budget;

    if (n == 0)
        return 0;
    hot = malloc(n * sizeof(*hot));
    cand = malloc(n * sizeof(*cand));
    used = calloc(n, sizeof(*used));
    if (hot == NULL || cand == NULL || used == NULL) {
        free(hot);
        free(cand);
        free(used);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        hot_now += e[i].hot;
        if (on_hot(&e[i]))
            hot[nhot++] = (struct rank){cold_key(&e[i]), i};
        if (e[i].looked && e[i].idle_looks == 0 && e[i].heat > 0 &&
            e[i].cold + e[i].comp + e[i].other > 0)
            /* hottest first: sort on the complement */
            cand[ncand++] = (struct rank){255u - (e[i].heat > 255 ? 255 : e[i].heat), i};
    }
    qsort(hot, nhot, sizeof(*hot), rank_cmp);
    qsort(cand, ncand, sizeof(*cand), rank_cmp);

#define DEMOTE_COST(x) ((x)->hot + (x)->other)
    /* 1. Over the limit: the coldest go, whatever their looks. */
    for (; p->hot_limit && hot_now > p->hot_limit && next_victim < nhot; next_victim++) {
        size_t i = hot[next_victim].idx;
        uint64_t c = DEMOTE_COST(&e[i]);

        if (c > dbud)
            break; /* the budget is spent for this step: the rest waits */
        dbud -= c;
        hot_now -= e[i].hot;
        used[i] = true;
        acts[nact++] = (struct pmn__tier_act){i, PMN__TIER_DEMOTE, c};
    }

    /* 2. Promote the hottest, making room from colder ones where needed. */
    for (size_t k = 0; k < ncand; k++) {
        size_t i = cand[k].idx, v, nv = 0;
        uint64_t c = e[i].cold + e[i].comp + e[i].other, room_needed, freed = 0, vcost = 0;

        if (used[i] || c > pbud)
            continue;
        room_needed = p->hot_limit && hot_now + c > p->hot_limit ? hot_now + c - p->hot_limit : 0;
        /* Tentatively pick victims from the cold end of the hot list. */
        for (v = next_victim; room_needed > freed && v < nhot; v++) {
            size_t j = hot[v].idx;

            if (used[j])
                continue;
            if (e[j].heat + PMN__TIER_HYSTERESIS >= e[i].heat || vcost + DEMOTE_COST(&e[j]) > dbud)
                break;
            vcost += DEMOTE_COST(&e[j]);
            freed += e[j].hot;
            nv++;
        }
        if (room_needed > freed)
            continue; /* no room it may take */
        for (v = next_victim; nv > 0; v++) {
            size_t j = hot[v].idx;

            if (used[j])
                continue;
            used[j] = true;
            acts[nact++] = (struct pmn__tier_act){j, PMN__TIER_DEMOTE, DEMOTE_COST(&e[j])};
            nv--;
        }
        next_victim = v;
        dbud -= vcost;
        hot_now -= freed;
        pbud -= c;
        hot_now += c;
        used[i] = true;
        acts[nact++] = (struct pmn__tier_act){
            i, e[i].compressed ? PMN__TIER_DECOMPRESS : PMN__TIER_PROMOTE, c};
    }

    /* 3. Idle long enough on the hot node: down, coldest first. */
    for (size_t k = 0; k < nhot; k++) {
        size_t i = hot[k].idx;
        uint64_t c = DEMOTE_COST(&e[i]);

        if (used[i] || e[i].idle_looks < p->cold_looks || c > dbud)
            continue;
        dbud -= c;
        hot_now -= e[i].hot;
        used[i] = true;
        acts[nact++] = (struct pmn__tier_act){i, PMN__TIER_DEMOTE, c};
    }
#undef DEMOTE_COST

    /* 4. Idle longer still and wholly on the cold node: compress. */
    for (size_t i = 0; p->ctier && i < n; i++) {
        if (used[i] || !e[i].looked || e[i].compressed || e[i].no_compress || e[i].cold == 0 ||
            e[i].hot || e[i].comp || e[i].other || e[i].idle_looks < p->compress_looks ||
            e[i].cold > dbud)
            continue;
        dbud -= e[i].cold;
        used[i] = true;
        acts[nact++] = (struct pmn__tier_act){i, PMN__TIER_COMPRESS, e[i].cold};
    }
    free(hot);
    free(cand);
    free(used);
    return (long)nact;
}

/* ---- the tier ---- */

struct mrange {
    uintptr_t start;
    size_t len;
};

/* An extent this tier compressed, or whose compression was refused. */
struct xrec {
    uintptr_t addr;
    size_t len;
    bool compressed;
    bool refused;
    uint64_t quiet_until; /* tracker passes before its signal is the caller's again */
    uint64_t comp_pages;  /* on the compressed node at the last look */
};

struct pmn_tier {
    pthread_mutex_t lock;
    int pid; /* the creator's (see Fork, above) */
    struct pmn_ctx *ctx;
    struct pmn_track *track;
    struct pmn_ctier *ctier;
    int hot, cold, cnode;
    unsigned flags;
    struct pmn__tier_policy pol;
    size_t page;
    size_t huge; /* transparent huge page size (0: none): a move may carry its neighbours */
    struct mrange *ranges;
    size_t nranges, cap_ranges;
    struct xrec *xs; /* sorted by addr, never overlapping */
    size_t nxs, cap_xs;
    struct pmn_tier_stats st;
    /* step scratch, kept between steps */
    struct pmn_track_extent *te;
    struct pmn__tier_ext *ex;
    struct pmn__tier_act *acts;
    size_t cap_ext;
    size_t next;     /* extents in te/ex this step */
    uint64_t passes; /* the tracker's completed passes */
    void **qpages;
    int *qstatus;
    struct pmn__hidden hidden; /* a step's look at pages move_pages cannot see */
};

int pmn_tier_new(struct pmn_ctx *ctx, const struct pmn_tier_opts *opts, struct pmn_tier **out)
{
    struct pmn_tier_opts o = {0};
    struct pmn_tier *t;
    int err;

    if (out != NULL)
        *out = NULL;
    if (ctx == NULL || opts == NULL || out == NULL ||
        opts->struct_size < PMN__SIZE_TO(struct pmn_tier_opts, track))
        return -EINVAL;
    memcpy(&o, opts, opts->struct_size < sizeof(o) ? opts->struct_size : sizeof(o));
    if (o.hot_node == o.cold_node || o.hot_node < 0 || o.cold_node < 0 ||
        (o.flags & ~(unsigned)(PMN_MIGRATE_ROLLBACK | PMN_MIGRATE_NO_HEADROOM)) ||
        (o.track.struct_size != 0 && o.track.struct_size < sizeof(size_t)))
        return -EINVAL;
    /* The nodes as pmn_migrate() would check them (remote root, existence,
     * memory, cpuset), before anything is allocated. */
    err = pmn__migrate_check(ctx, o.hot_node, o.flags);
    if (err == 0)
        err = pmn__migrate_check(ctx, o.cold_node, o.flags);
    if (err)
        return err;
    if (o.ctier != NULL) {
        int cn = pmn_ctier_node(o.ctier);
        /* The compressed node must be a third node: its pages are told
         * apart from the two others' by where they are. */
        if (cn < 0 || cn == o.hot_node || cn == o.cold_node)
            return -EINVAL;
    }

    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    t->pid = pmn_prim_getpid();
    t->qpages = malloc(QUERY_BATCH * sizeof(*t->qpages));
    t->qstatus = malloc(QUERY_BATCH * sizeof(*t->qstatus));
    if (t->qpages == NULL || t->qstatus == NULL || pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t->qpages);
        free(t->qstatus);
        free(t);
        return -ENOMEM;
    }
    err = pmn_track_new(ctx, o.track.struct_size ? &o.track : NULL, &t->track);
    /* A compressed tier write-protects what it takes with userfaultfd, and
     * a uffd-wp tracker has registered the same ranges: the kernel refuses
     * the second registration (-EBUSY), so every compression would fail.
     * Refused here, where it can be said once. */
    if (err == 0 && o.ctier != NULL && pmn_track_mode(t->track) == PMN_TRACK_UFFD_WP) {
        pmn_track_free(t->track);
        err = -EOPNOTSUPP;
    }
    if (err) {
        pthread_mutex_destroy(&t->lock);
        free(t->qpages);
        free(t->qstatus);
        free(t);
        return err;
    }
    t->ctx = pmn_ctx_ref(ctx);
    t->ctier = o.ctier;
    t->hot = o.hot_node;
    t->cold = o.cold_node;
    t->cnode = o.ctier ? pmn_ctier_node(o.ctier) : -1;
    t->flags = o.flags;
    t->page = pmn_prim_page_size();
    {
        uint64_t h = 0;
        /* The kernel migrates a transparent huge page whole: a move of part
         * of one carries the rest, which the step must then count. */
        if (pmn__sysfs_read_u64(&ctx->fs, "sys/kernel/mm/transparent_hugepage/hpage_pmd_size", 10,
                                &h) == 0 &&
            h > t->page && (h & (h - 1)) == 0 && h <= ((uint64_t)1 << 30))
            t->huge = (size_t)h;
    }
    t->pol = (struct pmn__tier_policy){
        .hot_limit = o.hot_limit,
        .promote_budget = o.promote_budget ? o.promote_budget : DEFAULT_BUDGET,
        .demote_budget = o.demote_budget ? o.demote_budget : DEFAULT_BUDGET,
        .cold_looks = o.cold_looks ? o.cold_looks : DEFAULT_COLD_LOOKS,
        .compress_looks = o.compress_looks ? o.compress_looks : DEFAULT_COMPRESS_LOOKS,
        .ctier = o.ctier != NULL,
    };
    t->st.struct_size = sizeof(t->st);
    *out = t;
    return 0;
}

void pmn_tier_free(struct pmn_tier *t)
{
    if (t == NULL)
        return;
    pmn_track_free(t->track);
    pmn_ctx_unref(t->ctx);
    pthread_mutex_destroy(&t->lock);
    free(t->ranges);
    free(t->xs);
    free(t->te);
    free(t->ex);
    free(t->acts);
    free(t->qpages);
    free(t->qstatus);
    free(t);
}

/* Whether the caller is the tier's creator (see Fork, at the top); asked
 * before the tier's lock is taken. */
static bool in_creator(const struct pmn_tier *t)
{
    return pmn_prim_getpid() == t->pid;
}

int pmn_tier_add(struct pmn_tier *t, void *addr, size_t len)
{
    uintptr_t a = (uintptr_t)addr;
    int err;

    if (t == NULL || addr == NULL || len == 0 || a % t->page || len % t->page ||
        a > UINTPTR_MAX - len)
        return -EINVAL;
    if (!in_creator(t))
        return -ECHILD;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->nranges; i++)
        if (a < t->ranges[i].start + t->ranges[i].len && t->ranges[i].start < a + len) {
            pthread_mutex_unlock(&t->lock);
            return -EEXIST;
        }
    if (t->nranges == t->cap_ranges) {
        size_t cap = t->cap_ranges ? 2 * t->cap_ranges : 8;
        struct mrange *r = realloc(t->ranges, cap * sizeof(*r));
        if (r == NULL) {
            pthread_mutex_unlock(&t->lock);
            return -ENOMEM;
        }
        t->ranges = r;
        t->cap_ranges = cap;
    }
    err = pmn_track_add(t->track, addr, len);
    if (err == 0) {
        t->ranges[t->nranges++] = (struct mrange){a, len};
        t->st.managed_bytes += len;
    }
    pthread_mutex_unlock(&t->lock);
    return err;
}

/* Forget the extent records inside [a, a + len). */
static void xs_drop(struct pmn_tier *t, uintptr_t a, size_t len)
{
    size_t k = 0;

    for (size_t i = 0; i < t->nxs; i++)
        if (!(t->xs[i].addr >= a && t->xs[i].addr - a < len))
            t->xs[k++] = t->xs[i];
    t->nxs = k;
}

int pmn_tier_remove(struct pmn_tier *t, void *addr, size_t len)
{
    uintptr_t a = (uintptr_t)addr;
    int err = -ENOENT;

    if (t == NULL)
        return -EINVAL;
    if (!in_creator(t))
        return -ECHILD;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->nranges; i++) {
        if (t->ranges[i].start != a || t->ranges[i].len != len)
            continue;
        err = pmn_track_remove(t->track, addr, len);
        if (err == 0) {
            t->ranges[i] = t->ranges[--t->nranges];
            t->st.managed_bytes -= len;
            xs_drop(t, a, len);
        }
        break;
    }
    pthread_mutex_unlock(&t->lock);
    return err;
}

static struct xrec *xs_find(struct pmn_tier *t, uintptr_t addr)
{
    size_t lo = 0, hi = t->nxs;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->xs[mid].addr == addr)
            return &t->xs[mid];
        if (t->xs[mid].addr < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static struct xrec *xs_get(struct pmn_tier *t, uintptr_t addr, size_t len)
{
    struct xrec *x = xs_find(t, addr);
    size_t i;

    if (x != NULL)
        return x;
    if (t->nxs == t->cap_xs) {
        size_t cap = t->cap_xs ? 2 * t->cap_xs : 16;
        struct xrec *n = realloc(t->xs, cap * sizeof(*n));
        if (n == NULL)
            return NULL;
        t->xs = n;
        t->cap_xs = cap;
    }
    for (i = t->nxs; i > 0 && t->xs[i - 1].addr > addr; i--)
        t->xs[i] = t->xs[i - 1];
    t->xs[i] = (struct xrec){.addr = addr, .len = len};
    t->nxs++;
    return &t->xs[i];
}

static void xs_put(struct pmn_tier *t, struct xrec *x)
{
    if (x->compressed || x->refused || x->quiet_until > t->passes)
        return;
    size_t i = (size_t)(x - t->xs);
    memmove(&t->xs[i], &t->xs[i + 1], (t->nxs - i - 1) * sizeof(*x));
    t->nxs--;
}

/* Where the pages of one extent are, in bytes per place.  A page move_pages
 * cannot see is not touched to find out (that would count as an access,
 * and its hinting fault could migrate it): one under a NUMA-balancing
 * hinting fault (6.1 to 6.4 call it absent) is placed by pmn__hidden_node
 * (where.c: its page frame, or numa_maps); one not present, or whose node
 * cannot be told, counts as other.  Before 0.12.3 every hidden page was
 * other: on 6.1 the idle memory of a range under the default policy, the
 * very memory to demote, was invisible to the steps. */
static int locate(struct pmn_tier *t, uintptr_t addr, size_t len, struct pmn__tier_ext *e)
{
    size_t npages = len / t->page;

    e->hot = e->cold = e->comp = e->other = 0;
    for (size_t done = 0; done < npages;) {
        size_t n = npages - done < QUERY_BATCH ? npages - done : QUERY_BATCH;
        int err;

        for (size_t k = 0; k < n; k++)
            t->qpages[k] = (void *)(addr + (done + k) * t->page);
        err = pmn_prim_query_nodes(t->qpages, n, t->qstatus);
        if (err)
            return err;
        for (size_t k = 0; k < n; k++) {
            int s = t->qstatus[k];
            if (s == -ENOENT || s == -EFAULT)
                s = pmn__hidden_node(&t->hidden, (uintptr_t)t->qpages[k], s);
            if (s == t->hot)
                e->hot += t->page;
            else if (s == t->cold)
                e->cold += t->page;
            else if (s >= 0 && s == t->cnode)
                e->comp += t->page;
            else if (s >= 0)
                e->other += t->page;
        }
        done += n;
    }
    return 0;
}

static void add_stats(struct pmn_tier_stats *a, const struct pmn_tier_stats *d)
{
    a->steps += d->steps;
    a->promoted_bytes += d->promoted_bytes;
    a->demoted_bytes += d->demoted_bytes;
    a->compressed_total += d->compressed_total;
    a->decompressed_total += d->decompressed_total;
    a->failed_moves += d->failed_moves;
    a->scan_ns += d->scan_ns;
    a->move_ns += d->move_ns;
    a->write_returned_bytes += d->write_returned_bytes;
}

static int grow_scratch(struct pmn_tier *t, size_t n)
{
    size_t cap = t->cap_ext ? t->cap_ext : 64;
    void *a, *b, *c;

    if (n <= t->cap_ext)
        return 0;
    while (cap < n) {
        if (cap > SIZE_MAX / 2 / sizeof(*t->te))
            return -ENOMEM;
        cap *= 2;
    }
    a = realloc(t->te, cap * sizeof(*t->te));
    if (a == NULL)
        return -ENOMEM;
    t->te = a;
    b = realloc(t->ex, cap * sizeof(*t->ex));
    if (b == NULL)
        return -ENOMEM;
    t->ex = b;
    c = realloc(t->acts, cap * sizeof(*t->acts));
    if (c == NULL)
        return -ENOMEM;
    t->acts = c;
    t->cap_ext = cap;
    return 0;
}

/* Copy the tracker's extents and find where each one's pages are. */
static int measure(struct pmn_tier *t, size_t *nout, struct pmn_tier_stats *d)
{
    long total;
    int err;

    for (;;) {
        total = pmn_track_extents(t->track, t->te, t->cap_ext);
        if (total < 0)
            return (int)total;
        if ((size_t)total <= t->cap_ext)
            break;
        err = grow_scratch(t, (size_t)total);
        if (err)
            return err;
    }
    for (size_t i = 0; i < (size_t)total; i++) {
        const struct pmn_track_extent *te = &t->te[i];
        struct pmn__tier_ext *e = &t->ex[i];
        struct xrec *x = xs_find(t, (uintptr_t)te->addr);

        memset(e, 0, sizeof(*e));
        e->heat = te->heat;
        e->idle_looks = te->idle_looks;
        /* A signal needs two looks: the first only starts the period
         * (examined, yet neither touched nor idle). */
        e->looked = te->pages_examined > 0 && (te->idle_looks > 0 || te->pages_touched > 0);
        err = locate(t, (uintptr_t)te->addr, te->len, e);
        if (err)
            return err;
        if (x == NULL)
            continue;
        if (x->refused && te->idle_looks == 0 && te->heat > 0)
            x->refused = false; /* touched since: it may be tried again */
        /* Our own move marked the pages (migration, rebinding and the
         * compressed tier's write protection leave them soft-dirty on
         * Linux 6.1): the pass running then, or the next, reads them as
         * written.  Until a whole pass has begun after the move, the
         * extent has no signal of the caller's, and does not move. */
        if (t->passes < x->quiet_until)
            e->looked = false;
        e->no_compress = x->refused;
        e->compressed = x->compressed;
        if (x->compressed) {
            uint64_t now = e->comp / t->page;
            /* Pages leave the compressed node only through a write fault
             * (the tier's own promotions forget the record). */
            if (now < x->comp_pages)
                d->write_returned_bytes += (x->comp_pages - now) * t->page;
            x->comp_pages = now;
            if (now == 0) {
                x->compressed = false; /* every page came back by writes */
                e->compressed = false;
            }
        }
        xs_put(t, x);
    }
    *nout = (size_t)total;
    return 0;
}

static uint64_t moved_bytes(struct pmn_tier *t, const struct pmn_migrate_report *r)
{
    return r->moved * t->page;
}

/* Ask where extent @i is again, keeping *hot_now and its record true. */
static void relocate(struct pmn_tier *t, size_t i, uint64_t *hot_now)
{
    struct pmn__tier_ext *e = &t->ex[i];
    uint64_t before = e->hot;
    struct xrec *x;

    pmn__hidden_forget(&t->hidden); /* the move changed pages and mappings */
    if (locate(t, (uintptr_t)t->te[i].addr, t->te[i].len, e) != 0)
        return;
    *hot_now = *hot_now - before + e->hot;
    x = xs_find(t, (uintptr_t)t->te[i].addr);
    if (x != NULL && x->compressed)
        x->comp_pages = e->comp / t->page;
}

/* Carry out one action; *hot_now follows the truth. */
static void act(struct pmn_tier *t, const struct pmn__tier_act *a, uint64_t *hot_now,
                uint64_t *pspent, uint64_t *dspent, struct pmn_tier_stats *d)
{
    struct pmn__tier_ext *e = &t->ex[a->ext];
    const struct pmn_track_extent *te = &t->te[a->ext];
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    uint64_t before_comp = e->comp;
    uintptr_t addr = (uintptr_t)te->addr;
    struct xrec *x;
    int err = 0;

    switch (a->kind) {
    case PMN__TIER_DEMOTE:
        if (*dspent + a->cost > t->pol.demote_budget)
            return;
        err = pmn_migrate(t->ctx, te->addr, te->len, t->cold, t->flags, &r);
        d->demoted_bytes += moved_bytes(t, &r);
        *dspent += a->cost;
        break;
    case PMN__TIER_PROMOTE:
    case PMN__TIER_DECOMPRESS:
        /* Earlier moves of this step may have failed: the limit first. */
        if ((t->pol.hot_limit && *hot_now + a->cost > t->pol.hot_limit) ||
            *pspent + a->cost > t->pol.promote_budget)
            return;
        *pspent += a->cost;
        if (a->kind == PMN__TIER_DECOMPRESS) {
            err = pmn_ctier_promote(t->ctier, te->addr, te->len, t->hot);
            if (err)
                break;
            x = xs_find(t, addr);
            if (x != NULL) {
                x->compressed = false;
                xs_put(t, x);
            }
            d->decompressed_total += before_comp;
        }
        err = pmn_migrate(t->ctx, te->addr, te->len, t->hot, t->flags, &r);
        d->promoted_bytes += moved_bytes(t, &r);
        break;
    case PMN__TIER_COMPRESS:
        if (*dspent + a->cost > t->pol.demote_budget)
            return;
        *dspent += a->cost;
        err = pmn_ctier_demote(t->ctier, te->addr, te->len);
        x = xs_get(t, addr, te->len);
        if (err == 0) {
            d->compressed_total += e->cold;
            if (x != NULL) {
                x->compressed = true;
                x->refused = false;
                x->comp_pages = e->cold / t->page;
            }
        } else if (x != NULL) {
            x->refused = true; /* until the extent is touched again */
        }
        break;
    }
    /* Whatever moved, the next pass's look at it is ours, not the caller's. */
    x = xs_get(t, addr, te->len);
    if (x != NULL)
        x->quiet_until = t->passes + 2;
    if (err) {
        d->failed_moves++;
        pmn__log(t->ctx, 3, "tier: %s of %p+%zu failed: %s",
                 a->kind == PMN__TIER_DEMOTE     ? "demotion"
                 : a->kind == PMN__TIER_COMPRESS ? "compression"
                                                 : "promotion",
                 te->addr, te->len, pmn_strerror(err));
    }
    /* Ask again: what moved is what the books say.  With transparent
     * huge pages, the extents sharing a huge page with this one may have
     * moved with it: they are asked about too. */
    relocate(t, a->ext, hot_now);
    if (t->huge != 0 && (addr % t->huge != 0 || te->len % t->huge != 0)) {
        uintptr_t lo = addr & ~(uintptr_t)(t->huge - 1),
                  hi = (addr + te->len + t->huge - 1) & ~(uintptr_t)(t->huge - 1);
        for (size_t j = a->ext; j-- > 0 && (uintptr_t)t->te[j].addr + t->te[j].len > lo;)
            relocate(t, j, hot_now);
        for (size_t j = a->ext + 1; j < t->next && (uintptr_t)t->te[j].addr < hi; j++)
            relocate(t, j, hot_now);
    }
}

int pmn_tier_step(struct pmn_tier *t, struct pmn_tier_stats *delta)
{
    struct pmn_tier_stats d = {.struct_size = sizeof(d)};
    struct pmn_track_report rep = {.struct_size = sizeof(rep)};
    uint64_t t0, hot_now = 0, pspent = 0, dspent = 0;
    size_t n = 0;
    long nact;
    int err;

    if (t == NULL ||
        (delta != NULL && !pmn__out_ok(delta, PMN__SIZE_TO(struct pmn_tier_stats, move_ns))))
        return -EINVAL;
    if (!in_creator(t))
        return -ECHILD;
    pthread_mutex_lock(&t->lock);
    pmn__hidden_init(&t->hidden, t->page);
    t0 = pmn_prim_now_ns();
    err = pmn_track_scan(t->track, &rep);
    t->passes += rep.passes;
    if (err == 0)
        err = measure(t, &n, &d);
    d.scan_ns = pmn_prim_now_ns() - t0;
    if (err)
        goto out;
    t->next = n;
    nact = pmn__tier_plan(&t->pol, t->ex, n, t->acts);
    if (nact < 0) {
        err = (int)nact;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        hot_now += t->ex[i].hot;
    t0 = pmn_prim_now_ns();
    for (long k = 0; k < nact; k++)
        act(t, &t->acts[k], &hot_now, &pspent, &dspent, &d);
    d.move_ns = pmn_prim_now_ns() - t0;
    d.steps = 1;
    for (size_t i = 0; i < n; i++) {
        const struct pmn__tier_ext *e = &t->ex[i];
        d.hot_bytes += e->hot;
        d.cold_bytes += e->cold;
        d.compressed_bytes += e->comp;
    }
out:
    d.managed_bytes = t->st.managed_bytes;
    if (err == 0) {
        d.other_bytes = d.managed_bytes - d.hot_bytes - d.cold_bytes - d.compressed_bytes;
        t->st.hot_bytes = d.hot_bytes;
        t->st.cold_bytes = d.cold_bytes;
        t->st.compressed_bytes = d.compressed_bytes;
        t->st.other_bytes = d.other_bytes;
    } else {
        d.hot_bytes = t->st.hot_bytes;
        d.cold_bytes = t->st.cold_bytes;
        d.compressed_bytes = t->st.compressed_bytes;
        d.other_bytes = t->st.other_bytes;
    }
    add_stats(&t->st, &d);
    pmn__hidden_done(&t->hidden);
    pthread_mutex_unlock(&t->lock);
    if (delta != NULL)
        pmn__out_put(delta, &d, sizeof(d));
    return err;
}

int pmn_tier_stats(struct pmn_tier *t, struct pmn_tier_stats *out)
{
    struct pmn_tier_stats s;

    if (t == NULL || !pmn__out_ok(out, PMN__SIZE_TO(struct pmn_tier_stats, move_ns)))
        return -EINVAL;
    if (!in_creator(t))
        return -ECHILD;
    pthread_mutex_lock(&t->lock);
    s = t->st;
    pthread_mutex_unlock(&t->lock);
    pmn__out_put(out, &s, sizeof(s));
    return 0;
}

int pmn_tier_stats_json(const struct pmn_tier_stats *user, char *buf, size_t len)
{
    struct pmn_tier_stats s = {0};
    int n;

    if (!pmn__out_ok(user, PMN__SIZE_TO(struct pmn_tier_stats, move_ns)) || (buf == NULL && len))
        return -EINVAL;
    memcpy(&s, user, user->struct_size < sizeof(s) ? user->struct_size : sizeof(s));
#define U(f) (unsigned long long)s.f
    n = snprintf(buf, len,
                 "{\"managed_bytes\": %llu, \"hot_bytes\": %llu, \"cold_bytes\": %llu, "
                 "\"compressed_bytes\": %llu, \"other_bytes\": %llu, \"steps\": %llu, "
                 "\"promoted_bytes\": %llu, \"demoted_bytes\": %llu, "
                 "\"compressed_total\": %llu, \"decompressed_total\": %llu, "
                 "\"failed_moves\": %llu, \"scan_ns\": %llu, \"move_ns\": %llu, "
                 "\"write_returned_bytes\": %llu}",
                 U(managed_bytes), U(hot_bytes), U(cold_bytes), U(compressed_bytes),
                 U(other_bytes), U(steps), U(promoted_bytes), U(demoted_bytes),
                 U(compressed_total), U(decompressed_total), U(failed_moves), U(scan_ns),
                 U(move_ns), U(write_returned_bytes));
#undef U
    return n < 0 ? -EINVAL : n;
}

struct pmn_track *pmn_tier_tracker(struct pmn_tier *t)
{
    return t == NULL ? NULL : t->track;
}
