/*
 * migrate.c - strict migration of live data to a node (pmn_migrate, and
 * pmn__migrate, the same engine for regions: migrate-region.c).
 *
 * Order of work, so that a refused call has moved nothing:
 *   arguments, node, cpuset       -> -EINVAL, PMN_E_NO_NODE, ...
 *   query every unit (pass 1)     -> how many present pages must move
 *   room on the target            -> PMN_E_NODE_FULL (the caller's check)
 *   private anonymous base pages  -> the mbind path: each mapping's policy
 *                                    saved, one mbind(MPOL_MF_MOVE) moves
 *                                    and binds, a strict bind verifies, 0;
 *                                    on failure the policies are put back
 *                                    and the move_pages path below goes on
 *   move_pages in batches (pass 2), busy pages retried
 *   all present pages there       -> bind strictly (the kernel's check
 *                                    that every present page is there), 0
 *   otherwise                     -> the lowest failed page's code, policy
 *                                    untouched; with PMN_MIGRATE_ROLLBACK
 *                                    the pages this call moved go back
 * Every page ends in exactly one class of the report.
 *
 * A unit is what move_pages is asked about: the base page, or for hugetlb
 * the huge page (move_pages answers -EACCES for a tail address of a huge
 * page it has not moved yet, so only heads are asked).  The report counts
 * base pages: a unit counts for stride / page of them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "place/backing.h"
#include "os/prim.h"

#define BATCH 1024
/* Transparent huge pages (PMD-sized on x86-64 and 4 KiB-page arm64). */
#define THP_ALIGN (2u << 20)
#define BUSY_RETRIES 4
/* Status preset for "the kernel did not reach this page". */
#define NOT_REACHED (-EAGAIN)

enum page_class { C_MOVED, C_THERE, C_FULL, C_BUSY, C_SHARED, C_ABSENT, C_OTHER };

struct migrate_state {
    struct pmn_migrate_report r;
    int first_err;
    uint64_t per; /* base pages per unit */
    int *orig;    /* ROLLBACK: per unit moved by this call, the node it left (pass 1), else -1 */
};

static void count(struct migrate_state *m, enum page_class c, void *page, int err)
{
    switch (c) {
    case C_MOVED: m->r.moved += m->per; return;
    case C_THERE: m->r.already_there += m->per; return;
    case C_ABSENT: m->r.not_present += m->per; return;
    case C_FULL: m->r.target_full += m->per; break;
    case C_BUSY: m->r.busy_or_pinned += m->per; break;
    case C_SHARED: m->r.shared += m->per; break;
    case C_OTHER: m->r.other += m->per; break;
    }
    /* Pages are classified in address order: the first failure is the
     * lowest address. */
    if (m->r.first_failed == NULL) {
        m->r.first_failed = page;
        m->first_err = err;
    }
}

static enum page_class classify(int status, int node)
{
    if (status == node)
        return C_MOVED;
    switch (status) {
    case -ENOMEM: return C_FULL;
    case -EBUSY:
    case -EAGAIN: return C_BUSY;
    case -EACCES: return C_SHARED;
    case -ENOENT: return C_ABSENT;
    default: return C_OTHER;
    }
}

static int class_code(enum page_class c, int status)
{
    switch (c) {
    case C_FULL: return PMN_E_NODE_FULL;
    case C_BUSY: return -EBUSY;
    case C_SHARED: return -EACCES;
    default: return status < 0 && status != NOT_REACHED ? status : -EFAULT;
    }
}

/* Query @n units.  With NUMA balancing on, a present page under a
 * hinting fault reads as -ENOENT (-EFAULT on 6.1 for a transparent huge
 * page whose PMD is under one): such pages (resident by mincore) are
 * read-touched and asked about again, so "not present" means absent.
 * Kernels before about 6.5 answer -EFAULT, not -ENOENT, for a page never
 * touched in a mapping: that is -ENOENT here too; -EFAULT stays for an
 * address no mapping covers (or a page move_pages cannot handle). */
static int query(void **pages, size_t n, int *status, size_t page)
{
    bool again = false;
    int err = pmn_prim_query_nodes(pages, n, status);

    for (size_t k = 0; err == 0 && k < n; k++) {
        if ((status[k] == -ENOENT || status[k] == -EFAULT) &&
            pmn_prim_resident(pages[k], page) == 1) {
            (void)pmn_prim_touch_read_checked(pages[k], page, page);
            again = true;
        }
    }
    if (err == 0 && again)
        err = pmn_prim_query_nodes(pages, n, status);
    for (size_t k = 0; err == 0 && k < n; k++)
        if (status[k] == -EFAULT && pmn_prim_mapped(pages[k], page) == 1 &&
            pmn_prim_resident(pages[k], page) == 0)
            status[k] = -ENOENT;
    return err;
}

static size_t batch_at(char *base, uint64_t nunits, uint64_t i, size_t unit, void **pages)
{
    size_t n = nunits - i < BATCH ? (size_t)(nunits - i) : BATCH;

    for (size_t k = 0; k < n; k++)
        pages[k] = base + (i + k) * unit;
    return n;
}

/* Pass 1: how many present units are not on @node yet; with ROLLBACK
 * (@orig not NULL) the node each is on, for the way back.  (Pass 2 cannot
 * tell: a transparent huge page across two batches is on @node already
 * when the second batch asks about the rest of it.) */
struct census {
    uint64_t to_move, there, absent, odd; /* odd: any other answer (-EFAULT, ...) */
};

static int count_to_move(char *base, uint64_t nunits, size_t unit, int node, void **pages,
                         int *status, struct census *c, unsigned char *there, int *orig)
{
    memset(c, 0, sizeof(*c));
    for (uint64_t i = 0; i < nunits; i += BATCH) {
        size_t n = batch_at(base, nunits, i, unit, pages);
        int err = query(pages, n, status, unit);

        if (err)
            return err;
        for (size_t k = 0; k < n; k++) {
            if (status[k] >= 0 && status[k] != node)
                c->to_move++;
            else if (status[k] == -ENOENT)
                c->absent++;
            else if (status[k] < 0)
                c->odd++;
            if (status[k] == node) {
                c->there++;
                there[(i + k) / 8] |= (unsigned char)(1u << ((i + k) % 8));
            }
            if (orig != NULL)
                orig[i + k] = status[k] >= 0 && status[k] != node ? status[k] : -1;
        }
    }
    return 0;
}

/* Scratch arrays of one batch. */
struct batch {
    void **pages, **mv;
    int *status, *nodes, *mvst;
    size_t *where;
};

/* move_pages of the @nmv units in b->mv to b->nodes, retrying busy ones;
 * each unit's last status goes to b->status[b->where[j]].
 *
 * When a page of a batch cannot move (pinned, say), the kernel returns the
 * count of pages not moved and writes no status for that batch, nor for
 * anything after it: pages it moved and pages it never reached read as
 * the preset, NOT_REACHED, like the page that failed.  A retry asks again
 * (moved pages then read as on the node); what is still unclear after
 * BUSY_RETRIES bulk calls is asked one unit at a time, where the answer
 * is that unit's own, so a pinned page never makes the pages after it
 * read as busy.
 *
 * -EFAULT for a page that is mapped is transient too: on 6.1 move_pages
 * looks pages up with FOLL_DUMP, which answers -EFAULT for a transparent
 * huge page whose PMD is a migration entry (compaction, or reclaim
 * splitting it: memory pressure), or under a hinting fault.  Such a page
 * is read-touched (which waits for the entry to go) and asked again; an
 * address no mapping covers stays -EFAULT. */
static bool transient(int st, void *page, size_t unit)
{
    if (st == -EBUSY || st == -EAGAIN)
        return true;
    if (st == -EFAULT && pmn_prim_mapped(page, unit) == 1) {
        return pmn_prim_touch_read_checked(page, unit, unit) == 0;
    }
    return false;
}

static void move_retry(struct batch *b, size_t nmv, size_t unit)
{
    for (int attempt = 0; nmv > 0 && attempt < BUSY_RETRIES; attempt++) {
        size_t keep = 0;
        int err;

        for (size_t j = 0; j < nmv; j++)
            b->mvst[j] = NOT_REACHED;
        err = pmn_prim_move_pages(b->mv, nmv, b->nodes, b->mvst);
        if (err) {
            for (size_t j = 0; j < nmv; j++)
                b->status[b->where[j]] = err;
            return;
        }
        for (size_t j = 0; j < nmv; j++) {
            b->status[b->where[j]] = b->mvst[j];
            if (transient(b->mvst[j], b->mv[j], unit)) {
                b->mv[keep] = b->mv[j];
                b->nodes[keep] = b->nodes[j];
                b->where[keep++] = b->where[j];
            }
        }
        nmv = keep;
    }
    for (size_t j = 0; j < nmv; j++) {
        int st = NOT_REACHED, err = pmn_prim_move_pages(&b->mv[j], 1, &b->nodes[j], &st);
        b->status[b->where[j]] = err ? err : st;
    }
}

/* Pass 2 on one batch: move what is not there, retrying busy units.
 * With @mark (pass 1 skipped), this batch's own query says which units
 * were on @node already. */
static void move_batch(struct migrate_state *m, struct batch *b, size_t n, size_t unit, int node,
                       unsigned char *there, uint64_t first, bool mark)
{
    size_t nmv = 0;
    int err = query(b->pages, n, b->status, unit);

    if (err) {
        for (size_t k = 0; k < n; k++)
            count(m, C_OTHER, b->pages[k], err);
        return;
    }
    for (size_t k = 0; mark && k < n; k++)
        if (b->status[k] == node)
            there[(first + k) / 8] |= (unsigned char)(1u << ((first + k) % 8));
    for (size_t k = 0; k < n; k++) {
        if (b->status[k] >= 0 && b->status[k] != node) {
            b->mv[nmv] = b->pages[k];
            b->nodes[nmv] = node;
            b->where[nmv++] = k;
        }
    }
    move_retry(b, nmv, unit);
    /* On the node now: "already there" when pass 1 found it there, else
     * moved by this call (by this batch, or with an earlier page of the
     * same transparent huge page). */
    for (size_t k = 0; k < n; k++) {
        enum page_class c = classify(b->status[k], node);
        if (c == C_MOVED && (there[(first + k) / 8] & (1u << ((first + k) % 8))))
            c = C_THERE;
        if (c != C_MOVED && m->orig != NULL)
            m->orig[first + k] = -1;
        count(m, c, b->pages[k], class_code(c, b->status[k]));
    }
}

/* PMN_MIGRATE_ROLLBACK: every unit this call moved that is still on
 * @node goes back to the node it left; what arrives there is counted. */
static void roll_back(struct migrate_state *m, struct batch *b, char *base, uint64_t nunits,
                      size_t unit, int node)
{
    for (uint64_t i = 0; i < nunits; i += BATCH) {
        size_t n = batch_at(base, nunits, i, unit, b->pages), nmv = 0;

        if (query(b->pages, n, b->status, unit) != 0)
            continue; /* best effort: these stay where they are */
        for (size_t k = 0; k < n; k++) {
            if (m->orig[i + k] >= 0 && b->status[k] == node) {
                b->mv[nmv] = b->pages[k];
                b->nodes[nmv] = m->orig[i + k];
                b->where[nmv++] = k;
            }
        }
        move_retry(b, nmv, unit);
        /* Siblings of a transparent huge page went back with its first
         * page: on the node they came from, they count as rolled back. */
        for (size_t k = 0; k < n; k++)
            if (m->orig[i + k] >= 0 && b->status[k] == m->orig[i + k])
                m->r.rolled_back += m->per;
    }
}

void pmn__migrate_report_out(struct pmn_migrate_report *rep, const struct pmn_migrate_report *r)
{
    size_t user = rep->struct_size;

    memcpy(rep, r, user < sizeof(*r) ? user : sizeof(*r));
    rep->struct_size = user;
}

int pmn__migrate_room(struct pmn_ctx *ctx, int node, uint64_t bytes, unsigned flags)
{
    const struct pmn_node *n = pmn__node_find(ctx, node);

    if (n == NULL)
        return PMN_E_NO_NODE;
    return pmn__node_room(ctx, node,
                          (flags & PMN_MIGRATE_NO_HEADROOM) ? 0 : pmn__default_headroom(n), bytes);
}

static int room_default(void *arg, int node, uint64_t bytes, unsigned flags)
{
    return pmn__migrate_room(arg, node, bytes, flags);
}

int pmn__migrate_check(struct pmn_ctx *ctx, int node, unsigned flags)
{
    const struct pmn_node *n;
    struct pmn__bitmap allowed = {0};
    int err;

    if (ctx == NULL || node < 0 || (flags & ~PMN__MIGRATE_FLAGS))
        return -EINVAL;
    if (!ctx->local)
        return PMN_E_REMOTE_ROOT;
    n = pmn__node_find(ctx, node);
    if (n == NULL)
        return PMN_E_NO_NODE;
    if (n->capacity == 0 || !n->has_memory)
        return PMN_E_NOT_MEMORY_NODE;
    err = pmn_prim_mems_allowed(&allowed);
    if (err == 0 && !pmn__bitmap_test(&allowed, (unsigned)node)) {
        pmn__bitmap_free(&allowed);
        return PMN_E_NOT_ALLOWED;
    }
    pmn__bitmap_free(&allowed);
    return 0;
}

/* Nothing moved because the target lacks room: every present unit not
 * there is "target full" in the report, as the move would have said. */
static void report_full(struct migrate_state *m, struct batch *b, char *base, uint64_t nunits,
                        size_t unit, int node)
{
    for (uint64_t i = 0; i < nunits; i += BATCH) {
        size_t n = batch_at(base, nunits, i, unit, b->pages);
        if (query(b->pages, n, b->status, unit) != 0)
            for (size_t k = 0; k < n; k++)
                b->status[k] = -EFAULT;
        for (size_t k = 0; k < n; k++) {
            enum page_class c =
                b->status[k] >= 0 && b->status[k] != node ? C_FULL : classify(b->status[k], node);
            count(m, c == C_MOVED ? C_THERE : c, b->pages[k], class_code(c, b->status[k]));
        }
    }
}

/* After every present unit reached @node: bind, and so verify.
 *
 * The bind is the verification: with MPOL_MF_STRICT the kernel walks the
 * range's page tables under the mmap write lock and refuses (-EIO,
 * nothing changed on 6.1) if any present page is on another node.  The
 * walk sees what a move_pages query cannot (a page under a NUMA-balancing
 * hinting fault is PROT_NONE but present; a page another thread faulted
 * in since it was found absent), costs a page-table walk instead of one
 * lookup per page, and replaces the query pass over the range that
 * followed the bind (one pass of three; bench/migrate).  A page the walk
 * cannot see has no present entry at that instant: absent (as a query
 * would skip it), swapped out since the move (it faults back under the
 * new policy, on @node), or in a migration that began before the bind.
 * Migrations under this process's mmap lock (NUMA balancing's, at a
 * fault) cannot overlap the walk; what can (another process's move_pages
 * of our pages, reclaim's demotion) could as well begin a moment after a
 * query pass, so one would prove no more.  Only when the walk refuses is
 * the range queried page by page, to tell PMN_E_MISPLACED from another
 * -EIO (the query skips absent pages, where pmn__verify would read-touch
 * and so populate them).
 *
 * Huge pages (hugetlb units) are still queried after the bind: 6.1's
 * walk of a hugetlb mapping under MPOL_MF_STRICT alone does not refuse a
 * misplaced huge page (its test compares the flags with MPOL_MF_STRICT
 * exactly, and mbind adds MPOL_MF_INVERT before the walk). */
static int bind_verify(struct batch *b, char *base, size_t len, uint64_t nunits, size_t unit,
                       int node, bool all_present)
{
    uint64_t misplaced = 0;
    int err = pmn_prim_bind(base, len, node), qerr = 0;

    if (err == 0 && unit == pmn_prim_page_size())
        return 0;
    if (err != 0 && err != -EIO)
        return err;
    if (err == 0 && all_present) {
        qerr = pmn__verify(base, len, unit, node, &misplaced);
        return qerr == 0 && misplaced > 0 ? PMN_E_MISPLACED : qerr;
    }
    for (uint64_t i = 0; qerr == 0 && i < nunits; i += BATCH) {
        size_t n = batch_at(base, nunits, i, unit, b->pages);
        qerr = query(b->pages, n, b->status, unit);
        for (size_t k = 0; qerr == 0 && k < n; k++)
            misplaced += b->status[k] >= 0 && b->status[k] != node;
    }
    if (qerr == 0 && misplaced > 0)
        return PMN_E_MISPLACED;
    return err != 0 ? err : qerr;
}

/* The report when pass 1's census is the whole story: every unit there,
 * absent, or (after a move that succeeded) moved. */
static void census_report(struct migrate_state *m, const struct census *c)
{
    m->r.moved = c->to_move * m->per;
    m->r.already_there = c->there * m->per;
    m->r.not_present = c->absent * m->per;
}

/* The mbind path: one mbind(MPOL_MF_MOVE | MPOL_MF_STRICT) moves the
 * present pages pass 1 found elsewhere and binds the range, then the
 * strict bind of bind_verify walks it again: the move skips, and does not
 * count as failed, pages another process maps too (without
 * MPOL_MF_MOVE_ALL, on 6.1 and 6.12 alike), so only the second walk
 * proves every present page is on @node.  Success: the report is pass 1's
 * census (what was elsewhere moved, what was there stayed, what was absent
 * is absent), true.  Failure (-EIO: a page pinned, busy, shared, or the
 * target full; the kernel does not say which): the move kept the new
 * policy, so every mapping's saved one is put back; the pages it moved
 * stay moved, false, and the batch path takes over on the same range,
 * where those pages read as on @node and not "there" in pass 1, so they
 * count as moved, and the rest get their reasons page by page. */
static bool move_by_mbind(struct pmn_ctx *ctx, struct migrate_state *m, char *base, size_t len,
                          int node, const struct census *c, const struct pmn_prim_policies *saved)
{
    int err = pmn_prim_bind_move(base, len, node), rerr;

    if (err == 0)
        err = pmn_prim_bind(base, len, node);
    if (err == 0) {
        census_report(m, c);
        return true;
    }
    rerr = pmn_prim_policy_restore(saved);
    pmn__log(ctx, 3, "migrate: %p: mbind move to node %d: %s; policy restored: %s", (void *)base,
             node, pmn_strerror(err), pmn_strerror(rerr));
    return false;
}

int pmn__migrate(struct pmn_ctx *ctx, void *addr, size_t len, size_t unit, int node,
                 unsigned flags, pmn__migrate_room_fn room, void *room_arg,
                 struct pmn_migrate_report *out)
{
    const size_t page = pmn_prim_page_size();
    struct migrate_state m = {.r = {.struct_size = sizeof(m.r)}, .per = unit / page};
    struct batch b = {0};
    uint64_t nunits = len / unit;
    struct census c = {0};
    struct pmn_prim_policies saved = {0};
    unsigned char *there = NULL; /* pass 1: unit i on @node before anything moved */
    char *base = addr;
    bool counted, by_mbind = false;
    int err = 0;

    memset(out, 0, sizeof(*out));
    m.r.pages = len / page;
    b.pages = malloc(BATCH * sizeof(*b.pages));
    b.mv = malloc(BATCH * sizeof(*b.mv));
    b.status = malloc(BATCH * sizeof(*b.status));
    b.nodes = malloc(BATCH * sizeof(*b.nodes));
    b.mvst = malloc(BATCH * sizeof(*b.mvst));
    b.where = malloc(BATCH * sizeof(*b.where));
    there = calloc(nunits / 8 + 1, 1);
    if (flags & PMN_MIGRATE_ROLLBACK)
        m.orig = malloc(nunits * sizeof(*m.orig)); /* nunits <= len / page: no overflow */
    if (!b.pages || !b.mv || !b.status || !b.nodes || !b.mvst || !b.where || !there ||
        ((flags & PMN_MIGRATE_ROLLBACK) && m.orig == NULL)) {
        err = -ENOMEM;
        goto out;
    }

    /* Pass 1 counts what must move, for the room check.  When the target
     * has room for the whole range the count cannot change the answer, so
     * it is skipped (one query pass of the three), and each batch's own
     * query, just before it moves, says what was there already; batches
     * then end on 2 MiB boundaries, so that a transparent huge page one
     * batch moved is never found "there" by the next.  ROLLBACK needs
     * pass 1 (the way back).  So does the mbind path (private anonymous
     * base pages: their policies saved first), for its report. */
    if (unit == page && pmn_prim_policy_save(base, len, &saved) == 1)
        by_mbind = true;
    counted = by_mbind || m.orig != NULL || room(room_arg, node, nunits * unit, flags) != 0;
    if (counted)
        err = count_to_move(base, nunits, unit, node, b.pages, b.status, &c, there, m.orig);
    if (err)
        goto out;
    if (counted && c.to_move > 0) {
        err = room(room_arg, node, c.to_move * unit, flags);
        if (err) {
            if (err == PMN_E_NODE_FULL || err == PMN_E_NO_HUGEPAGES)
                report_full(&m, &b, base, nunits, unit, node);
            pmn__log(ctx, 3, "migrate: node %d lacks room for %llu pages: %s", node,
                     (unsigned long long)(c.to_move * m.per), pmn_strerror(err));
            goto out_report;
        }
    }
    if (counted && c.to_move == 0 && c.odd == 0) {
        /* Nothing to move: pass 1 said it all, no second query pass. */
        census_report(&m, &c);
        err = bind_verify(&b, base, len, nunits, unit, node, c.absent == 0);
        goto out_report;
    }
    if (by_mbind && c.odd == 0 && move_by_mbind(ctx, &m, base, len, node, &c, &saved))
        goto out_report;

    for (uint64_t i = 0, n; i < nunits; i += n) {
        n = batch_at(base, nunits, i, unit, b.pages);
        if (!counted && i + n < nunits) {
            uint64_t off = (uintptr_t)(base + (i + n) * unit) % THP_ALIGN / unit;
            if (off < n)
                n -= off;
        }
        move_batch(&m, &b, (size_t)n, unit, node, there, i, !counted);
    }

    if (m.r.first_failed != NULL) {
        err = m.first_err;
        pmn__log(
            ctx, 3, "migrate: %p: %llu of %llu pages not moved, first at %p", addr,
            (unsigned long long)(m.r.target_full + m.r.busy_or_pinned + m.r.shared + m.r.other),
            (unsigned long long)m.r.pages, m.r.first_failed);
        if (m.orig != NULL && m.r.moved > 0) {
            roll_back(&m, &b, base, nunits, unit, node);
            pmn__log(ctx, 3, "migrate: %p: %llu of %llu moved pages rolled back", addr,
                     (unsigned long long)m.r.rolled_back, (unsigned long long)m.r.moved);
        }
        goto out_report;
    }
    err = bind_verify(&b, base, len, nunits, unit, node, m.r.not_present == 0);
out_report:
    *out = m.r;
out:
    if (err && out->pages == 0) {
        /* Nothing was classified (no memory for our arrays, or the kernel
         * would not answer a query): nothing moved, all of it "other". */
        memset(out, 0, sizeof(*out));
        out->struct_size = sizeof(*out);
        out->pages = out->other = len / page;
        out->first_failed = addr;
    }
    free(b.pages);
    free(b.mv);
    free(b.status);
    free(b.nodes);
    free(b.mvst);
    free(b.where);
    free(there);
    free(m.orig);
    pmn_prim_policy_free(&saved);
    return err;
}

/* A range with holes in it (addresses no mapping covers) cannot move
 * whole.  It is refused before any page moves, with -EFAULT and a report
 * of what is there: pages on @node already_there, never populated ones
 * not_present, the rest (the holes' pages, and present pages elsewhere:
 * none moved) other, first_failed the lowest of those.  Only the mapped
 * parts are asked about, so a range of mostly address space (a length far
 * past the program's memory) costs a walk of its mappings, not a query of
 * every page.  One msync finds whether there is a hole, census_walk()
 * counts. */
struct holes {
    uintptr_t next, end;     /* the walk is up to next; the range ends at end */
    struct migrate_state *m; /* census_walk only */
    struct batch *b;
    int node;
};

static void census_hole(struct holes *h, uintptr_t to)
{
    const size_t page = pmn_prim_page_size();

    if (to <= h->next)
        return;
    if (h->m->r.first_failed == NULL) {
        h->m->r.first_failed = (void *)h->next;
        h->m->first_err = -EFAULT;
    }
    h->m->r.other += (to - h->next) / page;
    h->next = to;
}

static int census_walk(const struct pmn_prim_vma *v, void *arg)
{
    struct holes *h = arg;
    const size_t page = pmn_prim_page_size();
    uintptr_t end = v->end < h->end ? v->end : h->end;
    uint64_t nunits;
    char *base;

    census_hole(h, v->start < h->end ? v->start : h->end);
    if (end <= h->next)
        return h->next >= h->end;
    base = (char *)h->next;
    nunits = (end - h->next) / page;
    for (uint64_t i = 0; i < nunits; i += BATCH) {
        size_t n = batch_at(base, nunits, i, page, h->b->pages);
        int err = query(h->b->pages, n, h->b->status, page);

        if (err)
            return err;
        for (size_t k = 0; k < n; k++) {
            int st = h->b->status[k];

            count(h->m,
                  st == h->node   ? C_THERE
                  : st == -ENOENT ? C_ABSENT
                                  : C_OTHER,
                  h->b->pages[k], -EFAULT);
        }
    }
    h->next = end;
    return h->next >= h->end;
}

/* 1 and the report in @r when [@addr, @addr + @len) has holes, 0 when it
 * has none (or the mappings cannot be read: the page-by-page path then
 * judges), or -errno. */
static int refuse_holes(void *addr, size_t len, int node, struct pmn_migrate_report *r)
{
    const size_t page = pmn_prim_page_size();
    struct migrate_state m = {.r = {.struct_size = sizeof(m.r)}, .per = 1};
    struct batch b = {0};
    struct holes h = {
        .next = (uintptr_t)addr, .end = (uintptr_t)addr + len, .m = &m, .b = &b, .node = node};
    int rc;

    /* The common case, no hole, costs one msync; only a range with holes
     * has its mappings walked (msync failing otherwise: the page-by-page
     * path judges). */
    if (pmn_prim_range_mapped(addr, len) != 0)
        return 0;
    b.pages = malloc(BATCH * sizeof(*b.pages));
    b.status = malloc(BATCH * sizeof(*b.status));
    if (b.pages == NULL || b.status == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    rc = pmn_prim_vma_walk(addr, len, census_walk, &h);
    if (rc < 0) {
        if (h.next == (uintptr_t)addr)
            rc = 0; /* the mappings cannot be read: the page-by-page path judges */
        goto out;
    }
    census_hole(&h, h.end);
    m.r.pages = len / page;
    *r = m.r;
    rc = 1;
out:
    free(b.pages);
    free(b.status);
    return rc;
}

int pmn_migrate(struct pmn_ctx *ctx, void *addr, size_t len, int node, unsigned flags,
                struct pmn_migrate_report *rep)
{
    const size_t page = pmn_prim_page_size();
    struct pmn_migrate_report r;
    int err;

    if (ctx == NULL || addr == NULL || len == 0 || (uintptr_t)addr % page != 0 ||
        len % page != 0 || len > UINTPTR_MAX - (uintptr_t)addr ||
        (rep != NULL && rep->struct_size < sizeof(size_t)))
        return -EINVAL;
    err = pmn__migrate_check(ctx, node, flags);
    if (err)
        return err;
    memset(&r, 0, sizeof(r));
    err = refuse_holes(addr, len, node, &r);
    if (err == 1) {
        err = -EFAULT;
    } else if (err < 0) { /* nothing classified: every page in other */
        r.pages = r.other = len / page;
    } else
        err = pmn__migrate(ctx, addr, len, page, node, flags, room_default, ctx, &r);
    if (rep != NULL)
        pmn__migrate_report_out(rep, &r);
    return err;
}

void pmn__migrate_report_add(struct pmn_migrate_report *sum, const struct pmn_migrate_report *r)
{
    sum->pages += r->pages;
    sum->moved += r->moved;
    sum->already_there += r->already_there;
    sum->target_full += r->target_full;
    sum->busy_or_pinned += r->busy_or_pinned;
    sum->shared += r->shared;
    sum->not_present += r->not_present;
    sum->other += r->other;
    sum->rolled_back += r->rolled_back;
    if (sum->first_failed == NULL)
        sum->first_failed = r->first_failed;
}
