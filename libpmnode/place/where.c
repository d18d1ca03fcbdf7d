/*
 * where.c - where pages are: the public query and the verifier.
 *
 * Both ask move_pages (with no target nodes it only reports) in chunks of
 * QUERY_CHUNK pages, so a 1 GiB range costs one small array and 64
 * syscalls, not a 2 MiB status array.  pmn_where() reports what the kernel
 * says, but for a page move_pages calls absent that is there (under a
 * NUMA hinting fault on 6.1 to 6.4): pmn__hidden_node() places it without
 * touching it (below; the tier's steps use it too).  pmn__verify() must be
 * right, including on kernels with NUMA balancing on, where a present page
 * under a hinting fault reads as -ENOENT: it read-touches such pages
 * (under MPOL_BIND the hinting fault cannot move them off the node) and
 * asks again, and where move_pages still cannot see a page it falls back
 * to /proc/self/numa_maps for the region's VMA.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "place/backing.h"
#include "os/prim.h"

#define QUERY_CHUNK 4096

static void where_add(struct pmn_where *w, int node, uint64_t pages)
{
    size_t i;

    for (i = 0; i < w->nnodes && w->node[i].node < node; i++)
        ;
    if (i < w->nnodes && w->node[i].node == node) {
        w->node[i].pages += pages;
        return;
    }
    if (w->nnodes == PMN_STATS_MAX_NODES) {
        w->other += pages;
        return;
    }
    memmove(&w->node[i + 1], &w->node[i], (w->nnodes - i) * sizeof(w->node[0]));
    w->node[i].node = node;
    w->node[i].pages = pages;
    w->nnodes++;
}

/* Query [start, start + n pages) and call @fn per page with its status. */
static int query_range(uintptr_t start, uint64_t npages, size_t page,
                       void (*fn)(void *arg, uintptr_t addr, int status), void *arg)
{
    void **pages;
    int *status, err = 0;

    pages = malloc(QUERY_CHUNK * sizeof(*pages));
    status = malloc(QUERY_CHUNK * sizeof(*status));
    if (pages == NULL || status == NULL) {
        free(pages);
        free(status);
        return -ENOMEM;
    }
    for (uint64_t done = 0; done < npages;) {
        size_t n = npages - done > QUERY_CHUNK ? QUERY_CHUNK : (size_t)(npages - done);
        for (size_t i = 0; i < n; i++)
            pages[i] = (void *)(start + (done + i) * page);
        err = pmn_prim_query_nodes(pages, n, status);
        if (err)
            break;
        for (size_t i = 0; i < n; i++)
            fn(arg, (uintptr_t)pages[i], status[i]);
        done += n;
    }
    free(pages);
    free(status);
    return err;
}

/* ---- pages move_pages calls absent that are there ----
 *
 * A pte NUMA balancing marked for a hinting fault reads as -ENOENT on 6.1
 * to 6.4 until the page is next touched (which could migrate it: not
 * here).  The pagemap tells present from absent (mincore where the
 * pagemap cannot be read); the node comes from the page frame's memory
 * block where the process sees frames, else from /proc/self/numa_maps,
 * which counts such pages per node for their whole VMA: the VMA's pages
 * move_pages does see are subtracted, and when what is left lies on one
 * node alone, every hidden page of the VMA is there.  Otherwise unknown. */

/* VMAs of more pages than this are not asked about page by page. */
#define HIDDEN_VMA_MAX_PAGES ((uint64_t)1 << 20)
#define HIDDEN_MAX_NODES 1024

void pmn__hidden_init(struct pmn__hidden *h, size_t page)
{
    memset(h, 0, sizeof(*h));
    h->page = page;
    h->pagemap = -1;
}

void pmn__hidden_forget(struct pmn__hidden *h)
{
    h->vma_start = h->vma_end = 0;
    h->win_n = 0;
}

/* The pagemap entry of the page at @addr (PMN_PRIM_PM_PRESENT alone, from
 * mincore, where the pagemap cannot be read: a process not dumpable after
 * a change of user ids finds /proc/self root's), from the window. */
static uint64_t window_entry(struct pmn__hidden *h, uintptr_t addr)
{
    if (h->win_n == 0 || addr < h->win_start || (addr - h->win_start) / h->page >= h->win_n) {
        unsigned char vec[PMN__HIDDEN_WINDOW];
        size_t n = PMN__HIDDEN_WINDOW;

        if (addr > UINTPTR_MAX - n * h->page)
            n = (UINTPTR_MAX - addr) / h->page + 1;
        h->win_start = addr;
        h->win_n = n;
        if (h->pagemap == -1 && pmn_prim_pagemap_open(&h->pagemap) != 0)
            h->pagemap = -2;
        if (h->pagemap >= 0 && pmn_prim_pagemap_read(h->pagemap, addr, n, h->win) == 0)
            return h->win[0];
        for (size_t i = 0; i < n; i++) /* one page at a time: holes fail alone */
            vec[i] = (unsigned char)(pmn_prim_resident((const void *)(addr + i * h->page),
                                                       h->page) == 1);
        for (size_t i = 0; i < n; i++)
            h->win[i] = vec[i] ? PMN_PRIM_PM_PRESENT : 0;
    }
    return h->win[(addr - h->win_start) / h->page];
}

void pmn__hidden_done(struct pmn__hidden *h)
{
    if (h->pagemap >= 0)
        close(h->pagemap);
    h->pagemap = -1;
}

static int vma_bounds(const struct pmn_prim_vma *v, void *arg)
{
    struct pmn_prim_vma *out = arg;

    *out = *v;
    return 1;
}

/* query_range's count of the pages move_pages sees, per node. */
static void count_seen(void *arg, uintptr_t addr, int status)
{
    uint64_t *seen = arg;

    (void)addr;
    if (status >= 0 && status < HIDDEN_MAX_NODES)
        seen[status]++;
}

/* The one node on which the hidden pages of the VMA at @addr are, or -1. */
static int vma_hidden_node(struct pmn__hidden *h, uintptr_t addr)
{
    struct pmn_prim_vma v = {0};
    uint64_t *seen = NULL, *all = NULL, npages;
    int node = -1;

    if (pmn_prim_vma_walk((const void *)addr, 1, vma_bounds, &v) != 1 || addr < v.start ||
        addr >= v.end)
        return -1;
    npages = (v.end - v.start) / h->page;
    if (npages > HIDDEN_VMA_MAX_PAGES)
        goto out; /* remembered: its other pages do not walk the mappings again */
    seen = calloc(HIDDEN_MAX_NODES, sizeof(*seen));
    all = calloc(HIDDEN_MAX_NODES, sizeof(*all));
    if (seen == NULL || all == NULL ||
        query_range(v.start, npages, h->page, count_seen, seen) != 0 ||
        pmn_prim_numa_maps((const void *)v.start, all, HIDDEN_MAX_NODES) != 0)
        goto out;
    for (int n = 0; n < HIDDEN_MAX_NODES; n++) {
        if (all[n] < seen[n]) { /* the two reads disagree: pages moved between them */
            node = -1;
            break;
        }
        if (all[n] == seen[n])
            continue;
        if (node >= 0) { /* hidden pages on two nodes: which is which is unknown */
            node = -1;
            break;
        }
        node = n;
    }
out:
    free(seen);
    free(all);
    h->vma_start = v.start;
    h->vma_end = v.end;
    h->vma_node = node;
    return node;
}

int pmn__hidden_node(struct pmn__hidden *h, uintptr_t addr, int status)
{
    uint64_t e = window_entry(h, addr), pfn;
    int node;

    if (!(e & PMN_PRIM_PM_PRESENT))
        return -2;
    if (status != -ENOENT && !(e & PMN_PRIM_PM_EXCLUSIVE))
        return -1; /* the zero page, a device page, or mincore's word alone */
    pfn = e & PMN_PRIM_PM_PFN_MASK;
    if (pfn != 0 && h->block_frames != 0 && pfn - h->block_first < h->block_frames)
        return h->block_node;
    if (pfn != 0 && pmn_prim_frame_node(pfn, &node, &h->block_first, &h->block_frames) == 0)
        return h->block_node = node;
    h->block_frames = 0;
    if (addr >= h->vma_start && addr < h->vma_end)
        return h->vma_node;
    return vma_hidden_node(h, addr);
}

/* pmn_where's count: the answer, and what finds the pages move_pages calls
 * absent. */
struct where_count {
    struct pmn_where *w;
    struct pmn__hidden hidden;
};

static void count_page(void *arg, uintptr_t addr, int status)
{
    struct where_count *c = arg;
    struct pmn_where *w = c->w;
    int node;

    if (status >= 0)
        where_add(w, status, 1);
    else if ((status == -ENOENT || status == -EFAULT) &&
             (node = pmn__hidden_node(&c->hidden, addr, status)) != -2) {
        /* Present, though move_pages cannot place it (above): a page or a
         * huge page under a hinting fault, the zero page, a device page. */
        if (node >= 0)
            where_add(w, node, 1);
        else
            w->unknown++;
    } else if (status == -ENOENT || status == -EFAULT)
        /* Kernels before 6.5 or so answer -EFAULT, not -ENOENT, for a
         * page never touched: absent as the pagemap (or mincore) says. */
        w->not_present++;
    else
        w->unknown++;
}

/* Only the mapped parts of a range are asked about: the pages of its
 * holes are not_present without a query (the kernel would answer -EFAULT
 * for each, which count_page() counts so), and a range of mostly address
 * space costs a walk of the mappings, not a query per page. */
struct where_walk {
    struct where_count *c;
    struct pmn_where *w;
    uintptr_t next, end;
};

static int where_step(const struct pmn_prim_vma *v, void *arg)
{
    struct where_walk *ww = arg;
    size_t page = (size_t)ww->w->page_size;
    uintptr_t s = v->start > ww->next ? v->start : ww->next;
    uintptr_t e = v->end < ww->end ? v->end : ww->end;
    int err;

    if (s >= ww->end)
        return 1;
    ww->w->not_present += (s - ww->next) / page;
    ww->next = s;
    if (e > s) {
        err = query_range(s, (e - s) / page, page, count_page, ww->c);
        if (err)
            return err;
        ww->next = e;
    }
    return ww->next >= ww->end;
}

int pmn_where(const void *addr, size_t len, struct pmn_where *out)
{
    size_t page = pmn_prim_page_size();
    struct pmn_where w;
    struct where_count c = {.w = &w};
    uintptr_t start, end;
    int err = 0;

    if (!pmn__out_ok(out, PMN__SIZE_TO(struct pmn_where, node)) || (addr == NULL && len) ||
        (uintptr_t)addr > UINTPTR_MAX - len ||
        (uintptr_t)addr + len > UINTPTR_MAX - (page - 1)) /* its last page's end */
        return -EINVAL;
    memset(&w, 0, sizeof(w));
    w.page_size = page;
    pmn__hidden_init(&c.hidden, page);
    if (len != 0) {
        start = (uintptr_t)addr & ~(uintptr_t)(page - 1);
        end = ((uintptr_t)addr + len + page - 1) & ~(uintptr_t)(page - 1);
        w.pages = (end - start) / page;
        if (pmn_prim_range_mapped((const void *)start, end - start) == 1) {
            /* No hole (one msync says so): every page is asked about; a
             * walk of the mappings would only add its own cost. */
            err = query_range(start, w.pages, page, count_page, &c);
        } else {
            struct where_walk ww = {.c = &c, .w = &w, .next = start, .end = end};

            err = pmn_prim_vma_walk((const void *)start, end - start, where_step, &ww);
            if (err >= 0) {
                w.not_present += (end - ww.next) / page; /* the last hole */
                err = 0;
            } else if (ww.next == start) { /* no mappings to read: ask for every page */
                memset(&w, 0, sizeof(w));
                w.page_size = page;
                w.pages = (end - start) / page;
                err = query_range(start, w.pages, page, count_page, &c);
            }
        }
    }
    pmn__hidden_done(&c.hidden);
    pmn__out_put(out, &w, sizeof(w));
    return err;
}
PMN__SYMVER_DEFAULT(pmn_where, "PMNODE_0.2");

uint64_t pmn_where_pages_on(const struct pmn_where *w, int node)
{
    if (!pmn__out_ok(w, PMN__SIZE_TO(struct pmn_where, node)))
        return 0;
    for (size_t i = 0; i < w->nnodes && i < PMN_STATS_MAX_NODES; i++)
        if (w->node[i].node == node)
            return w->node[i].pages;
    return 0;
}
PMN__SYMVER_DEFAULT(pmn_where_pages_on, "PMNODE_0.2");

struct verify_state {
    int node;
    bool checked; /* read-touch with pmn_prim_touch_read_checked */
    size_t page;
    uint64_t misplaced;
    uint64_t unseen;
};

static void verify_page(void *arg, uintptr_t addr, int status)
{
    struct verify_state *v = arg;

    (void)addr;
    if (status == v->node)
        return;
    if (status >= 0)
        v->misplaced++;
    else
        v->unseen++;
}

static void retouch_page(void *arg, uintptr_t addr, int status)
{
    struct verify_state *v = arg;

    /* Checked for memory another process's file backs (a page it punched
     * out of hugetlbfs may be SIGBUS to load); a page still not there is
     * counted as unseen below.  Our own memory takes a plain load. */
    if (status < 0 && v->checked)
        (void)pmn_prim_touch_read_checked((const void *)addr, 1, v->page);
    else if (status < 0)
        pmn_prim_touch_read((const void *)addr, 1, v->page);
    verify_page(arg, addr, status);
}

static int verify(void *addr, size_t len, size_t stride, int node, bool checked,
                  uint64_t *misplaced)
{
    struct verify_state v = {.node = node, .checked = checked, .page = stride};
    uint64_t npages = (len + v.page - 1) / v.page;
    int err;

    *misplaced = 0;
    err = query_range((uintptr_t)addr, npages, v.page, verify_page, &v);
    if (err)
        return err;
    if (v.unseen) {
        /* Read-touch the pages move_pages could not see, then ask again. */
        v.unseen = v.misplaced = 0;
        err = query_range((uintptr_t)addr, npages, v.page, retouch_page, &v);
        if (err)
            return err;
        if (v.unseen) {
            v.unseen = v.misplaced = 0;
            err = query_range((uintptr_t)addr, npages, v.page, verify_page, &v);
            if (err)
                return err;
        }
    }
    if (v.unseen) {
        /* Still invisible: count from numa_maps for the VMA instead. */
        size_t max = (size_t)node + 1 > 1024 ? (size_t)node + 1 : 1024;
        uint64_t *counts = calloc(max, sizeof(*counts)), elsewhere = 0;

        if (counts == NULL)
            return -ENOMEM;
        err = pmn_prim_numa_maps(addr, counts, max);
        if (err == 0) {
            for (size_t i = 0; i < max; i++)
                if ((int)i != node)
                    elsewhere += counts[i];
            if (counts[node] == 0 && elsewhere == 0)
                err = -EIO; /* nothing anywhere: populate did not happen */
            v.misplaced += elsewhere;
        }
        free(counts);
        if (err)
            return err;
    }
    *misplaced = v.misplaced;
    return 0;
}

int pmn__verify(void *addr, size_t len, size_t stride, int node, uint64_t *misplaced)
{
    return verify(addr, len, stride, node, false, misplaced);
}

int pmn__verify_shared(void *addr, size_t len, size_t stride, int node, uint64_t *misplaced)
{
    return verify(addr, len, stride, node, true, misplaced);
}
