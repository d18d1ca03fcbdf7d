/*
 * migrate.c - strict migration of live data to a node (pmn_migrate).
 *
 * Order of work, so that a refused call has moved nothing:
 *   arguments, node, cpuset       -> -EINVAL, PMN_E_NO_NODE, ...
 *   query every page (pass 1)     -> how many present pages must move
 *   free memory on the target     -> PMN_E_NODE_FULL
 *   move_pages in batches (pass 2), busy pages retried
 *   all present pages there       -> bind strictly, verify, 0
 *   otherwise                     -> the lowest failed page's code, policy untouched
 * Every page ends in exactly one class of the report.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "place/backing.h"
#include "os/prim.h"

#define BATCH 1024
#define BUSY_RETRIES 4
/* The placement default (backing.c): max(1% of the node, 64 MiB). */
#define MIGRATE_HEADROOM (64ull << 20)
/* Status preset for "the kernel did not reach this page". */
#define NOT_REACHED (-EAGAIN)

enum page_class { C_MOVED, C_THERE, C_FULL, C_BUSY, C_SHARED, C_ABSENT, C_OTHER };

struct migrate_state {
    struct pmn_migrate_report r;
    int first_err;
};

static void count(struct migrate_state *m, enum page_class c, void *page, int err)
{
    switch (c) {
    case C_MOVED: m->r.moved++; return;
    case C_THERE: m->r.already_there++; return;
    case C_ABSENT: m->r.not_present++; return;
    case C_FULL: m->r.target_full++; break;
    case C_BUSY: m->r.busy_or_pinned++; break;
    case C_SHARED: m->r.shared++; break;
    case C_OTHER: m->r.other++; break;
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

/* Query @n pages.  With NUMA balancing on, a present page under a
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
            pmn_prim_touch_read(pages[k], page, page);
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

/* Pass 1: how many present pages are not on @node yet. */
static int count_to_move(char *base, uint64_t npages, size_t page, int node, void **pages,
                         int *status, uint64_t *to_move, unsigned char *there)
{
    *to_move = 0;
    for (uint64_t i = 0; i < npages; i += BATCH) {
        size_t n = npages - i < BATCH ? (size_t)(npages - i) : BATCH;
        int err;

        for (size_t k = 0; k < n; k++)
            pages[k] = base + (i + k) * page;
        err = query(pages, n, status, page);
        if (err)
            return err;
        for (size_t k = 0; k < n; k++) {
            if (status[k] >= 0 && status[k] != node)
                (*to_move)++;
            if (status[k] == node)
                there[(i + k) / 8] |= (unsigned char)(1u << ((i + k) % 8));
        }
    }
    return 0;
}

/* Pass 2 on one batch: move what is not there, retrying busy pages. */
static void move_batch(struct migrate_state *m, void **pages, size_t n, size_t page, int node,
                       int *nodes, int *status, void **mv, int *mvst, size_t *where,
                       const unsigned char *there, uint64_t first)
{
    size_t nmv = 0;
    int err = query(pages, n, status, page);

    if (err) {
        for (size_t k = 0; k < n; k++)
            count(m, C_OTHER, pages[k], err);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        if (status[k] >= 0 && status[k] != node) {
            mv[nmv] = pages[k];
            where[nmv++] = k;
        }
    }
    for (int attempt = 0; nmv > 0 && attempt <= BUSY_RETRIES; attempt++) {
        size_t keep = 0;

        for (size_t j = 0; j < nmv; j++) {
            nodes[j] = node;
            mvst[j] = NOT_REACHED;
        }
        err = pmn_prim_move_pages(mv, nmv, nodes, mvst);
        if (err) {
            for (size_t j = 0; j < nmv; j++)
                status[where[j]] = err;
            nmv = 0;
            break;
        }
        for (size_t j = 0; j < nmv; j++) {
            status[where[j]] = mvst[j];
            if (classify(mvst[j], node) == C_BUSY && attempt < BUSY_RETRIES) {
                mv[keep] = mv[j];
                where[keep++] = where[j];
            }
        }
        nmv = keep;
    }
    /* On the node now: "already there" when pass 1 found it there, else
     * moved by this call (by this batch, or with an earlier page of the
     * same transparent huge page). */
    for (size_t k = 0; k < n; k++) {
        enum page_class c = classify(status[k], node);
        if (c == C_MOVED && (there[(first + k) / 8] & (1u << ((first + k) % 8))))
            c = C_THERE;
        count(m, c, pages[k], class_code(c, status[k]));
    }
}

static void report_out(struct pmn_migrate_report *rep, const struct pmn_migrate_report *r)
{
    size_t user = rep->struct_size;

    memcpy(rep, r, user < sizeof(*r) ? user : sizeof(*r));
    rep->struct_size = user;
}

int pmn_migrate(struct pmn_ctx *ctx, void *addr, size_t len, int node, unsigned flags,
                struct pmn_migrate_report *rep)
{
    const size_t page = pmn_prim_page_size();
    struct migrate_state m = {.r = {.struct_size = sizeof(m.r)}};
    const struct pmn_node *n;
    struct pmn__bitmap allowed = {0};
    uint64_t npages, to_move, headroom, cap;
    void **pages = NULL, **mv = NULL;
    unsigned char *there = NULL; /* pass 1: page i on @node before anything moved */
    int *status = NULL, *nodes = NULL, *mvst = NULL;
    size_t *where = NULL;
    char *base = addr;
    int err;

    if (ctx == NULL || addr == NULL || len == 0 || flags != 0 || node < 0 ||
        (uintptr_t)addr % page != 0 || len % page != 0 ||
        (rep != NULL && rep->struct_size < sizeof(size_t)))
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

    npages = len / page;
    m.r.pages = npages;
    pages = malloc(BATCH * sizeof(*pages));
    mv = malloc(BATCH * sizeof(*mv));
    status = malloc(BATCH * sizeof(*status));
    nodes = malloc(BATCH * sizeof(*nodes));
    mvst = malloc(BATCH * sizeof(*mvst));
    where = malloc(BATCH * sizeof(*where));
    there = calloc(npages / 8 + 1, 1);
    if (!pages || !mv || !status || !nodes || !mvst || !where || !there) {
        err = -ENOMEM;
        goto out;
    }

    err = count_to_move(base, npages, page, node, pages, status, &to_move, there);
    if (err)
        goto out;
    cap = n->capacity == PMN_UNKNOWN ? 0 : n->capacity;
    headroom = cap / 100 > MIGRATE_HEADROOM ? cap / 100 : MIGRATE_HEADROOM;
    if (to_move > 0) {
        err = pmn__node_room(ctx, node, headroom, to_move * page);
        if (err) {
            /* Nothing moved: every present page not there is "target full"
             * in the report, as the move would have said. */
            if (err == PMN_E_NODE_FULL) {
                for (uint64_t i = 0; i < npages; i += BATCH) {
                    size_t nb = npages - i < BATCH ? (size_t)(npages - i) : BATCH;
                    for (size_t k = 0; k < nb; k++)
                        pages[k] = base + (i + k) * page;
                    if (query(pages, nb, status, page) != 0)
                        for (size_t k = 0; k < nb; k++)
                            status[k] = -EFAULT;
                    for (size_t k = 0; k < nb; k++) {
                        enum page_class c = status[k] >= 0 && status[k] != node
                                                ? C_FULL
                                                : classify(status[k], node);
                        count(&m, c == C_MOVED ? C_THERE : c, pages[k], class_code(c, status[k]));
                    }
                }
            }
            pmn__log(ctx, 3, "migrate: node %d lacks room for %llu pages", node,
                     (unsigned long long)to_move);
            goto out_report;
        }
    }

    for (uint64_t i = 0; i < npages; i += BATCH) {
        size_t nb = npages - i < BATCH ? (size_t)(npages - i) : BATCH;

        for (size_t k = 0; k < nb; k++)
            pages[k] = base + (i + k) * page;
        move_batch(&m, pages, nb, page, node, nodes, status, mv, mvst, where, there, i);
    }

    if (m.r.first_failed != NULL) {
        err = m.first_err;
        pmn__log(
            ctx, 3, "migrate: %p: %llu of %llu pages not moved, first at %p", addr,
            (unsigned long long)(m.r.target_full + m.r.busy_or_pinned + m.r.shared + m.r.other),
            (unsigned long long)npages, m.r.first_failed);
        goto out_report;
    }
    err = pmn_prim_bind(addr, len, node);
    if (err == 0) {
        uint64_t misplaced = 0;

        if (m.r.not_present == 0) {
            err = pmn__verify(addr, len, page, node, &misplaced);
        } else {
            /* pmn__verify would read-touch the absent pages: ask the
             * kernel about the present ones only. */
            for (uint64_t i = 0; err == 0 && i < npages; i += BATCH) {
                size_t nb = npages - i < BATCH ? (size_t)(npages - i) : BATCH;
                for (size_t k = 0; k < nb; k++)
                    pages[k] = base + (i + k) * page;
                err = query(pages, nb, status, page);
                for (size_t k = 0; err == 0 && k < nb; k++)
                    misplaced += status[k] >= 0 && status[k] != node;
            }
        }
        if (err == 0 && misplaced > 0)
            err = PMN_E_MISPLACED;
    }
out_report:
    if (rep != NULL)
        report_out(rep, &m.r);
out:
    free(pages);
    free(mv);
    free(status);
    free(nodes);
    free(mvst);
    free(where);
    free(there);
    return err;
}
