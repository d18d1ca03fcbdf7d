/*
 * track.c - access-tracking benchmark (issue 16): what a pmn_track_scan()
 * costs per page and per GiB in each mode, against the raw reads it is
 * built on, and what a tracked page pays on its first write after a look.
 *
 * Each mode this kernel offers gets its own range (--size, default 256
 * MiB, base pages: MADV_NOHUGEPAGE), written once, added to a tracker of
 * that mode (granule 2 MiB, no budget: one scan is one pass) and scanned
 * once untimed (the first look).  Then, per repetition, interleaved (the
 * order of the rows rotates every repetition), each timed with
 * CLOCK_MONOTONIC:
 *   pagemap pread        raw peer: pread(2) of /proc/self/pagemap for the
 *                        range, 512 entries a call (what the soft-dirty
 *                        and idle modes read), no libpmnode
 *   idle bitmap raw      raw peer of idle mode: the pagemap read plus one
 *                        8-byte pread of /sys/kernel/mm/page_idle/bitmap
 *                        per 64 page frames touched (where it exists)
 *   MODE scan, clean     a scan when nothing was written since the last
 *   MODE write after     one byte written to every page right after a look:
 *                        every page takes the mode's write fault
 *   MODE scan, written   a scan when every page was written (re-arms all)
 *   untracked write      peer of "write after": the same loop over a range
 *                        no tracker watches (run twice, the first untimed,
 *                        so a soft-dirty reset of the whole process does
 *                        not bill its faults here)
 *   first-touch fault    second peer of "write after", for scale: the same
 *                        loop over that range after MADV_DONTNEED (every
 *                        write is a page fault that allocates a zeroed page)
 * Printed: median ns/page [min..max] over the repetitions, ms per GiB on
 * the median, and the ratio to the row's peer (scan / pagemap pread;
 * write after / untracked write).  Modes the kernel or the process lacks
 * are listed with the reason.  Figures, never judged.
 *
 *   bench/track [--size BYTES] [--reps N]     (bench/run track ...)
 *
 * Exit status: 0 every measurement ran, 1 one failed, 2 bad usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <pmnode.h>

#define MAXREPS 64
#define NROWS 16

struct row {
    char name[48];
    uint64_t ns[MAXREPS];
    unsigned n;
    int peer, peer2; /* indices of the rows it is compared to, -1: none */
};

static struct row rows[NROWS];
static unsigned nrows;
static size_t page;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int add_row2(const char *name, int peer, int peer2)
{
    snprintf(rows[nrows].name, sizeof(rows[nrows].name), "%s", name);
    rows[nrows].peer = peer;
    rows[nrows].peer2 = peer2;
    return (int)nrows++;
}

static int add_row(const char *name, int peer)
{
    return add_row2(name, peer, -1);
}

static void record(int r, uint64_t ns)
{
    if (rows[r].n < MAXREPS)
        rows[r].ns[rows[r].n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static uint64_t median(struct row *r)
{
    qsort(r->ns, r->n, sizeof(r->ns[0]), cmp_u64);
    return r->n % 2 ? r->ns[r->n / 2] : (r->ns[r->n / 2 - 1] + r->ns[r->n / 2]) / 2;
}

static char *map_range(size_t len)
{
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return NULL;
    (void)madvise(p, len, MADV_NOHUGEPAGE);
    memset(p, 1, len);
    return p;
}

static void write_pages(char *p, size_t len, char v)
{
    for (size_t i = 0; i < len; i += page)
        ((volatile char *)p)[i] = v;
}

static uint64_t entries[512];

/* pread of the range's pagemap entries, 512 a call; with @idle >= 0 also
 * the idle bitmap word of every new 64-frame group. */
static int raw_pagemap(int pm, int idle, const char *p, size_t len)
{
    uint64_t last = UINT64_MAX, word;

    for (size_t off = 0; off < len; off += 512 * page) {
        size_t n = (len - off) / page < 512 ? (len - off) / page : 512;
        ssize_t r = pread(pm, entries, n * 8, (off_t)(((uintptr_t)p + off) / page * 8));

        if (r != (ssize_t)(n * 8))
            return -1;
        if (idle < 0)
            continue;
        for (size_t i = 0; i < n; i++) {
            uint64_t pfn = entries[i] & ((1ull << 55) - 1);

            if (pfn / 64 != last) {
                last = pfn / 64;
                if (pread(idle, &word, 8, (off_t)(last * 8)) != 8)
                    return -1;
            }
        }
    }
    return 0;
}

struct mode_run {
    enum pmn_track_mode mode;
    struct pmn_track *t;
    char *p;
    int clean, write, written;
};

int main(int argc, char **argv)
{
    static const enum pmn_track_mode modes[] = {PMN_TRACK_SOFT_DIRTY, PMN_TRACK_UFFD_WP,
                                                PMN_TRACK_IDLE};
    struct mode_run mr[3];
    unsigned nm = 0, reps = 7;
    size_t size = (size_t)256 << 20;
    struct pmn_ctx *ctx;
    int pm, idle, r_pread, r_idle = -1, r_plain, r_fault, rc = 0;
    char *plain;

    page = (size_t)sysconf(_SC_PAGESIZE);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            char *end;
            unsigned long long v = strtoull(argv[++i], &end, 0);

            if (*end == 'M' || *end == 'm')
                v <<= 20, end++;
            else if (*end == 'G' || *end == 'g')
                v <<= 30, end++;
            if (*end != '\0' || v < page) {
                fprintf(stderr, "track: bad --size %s\n", argv[i]);
                return 2;
            }
            size = (size_t)v / page * page;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = (unsigned)atoi(argv[++i]);
            if (reps < 1 || reps > MAXREPS) {
                fprintf(stderr, "track: --reps 1..%d\n", MAXREPS);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: track [--size BYTES] [--reps N]\n");
            return 2;
        }
    }
    if (pmn_ctx_new(&ctx) != 0) {
        fprintf(stderr, "track: no context\n");
        return 1;
    }
    pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    idle = open("/sys/kernel/mm/page_idle/bitmap", O_RDONLY | O_CLOEXEC);
    plain = map_range(size);
    if (pm < 0 || plain == NULL) {
        fprintf(stderr, "track: pagemap or memory: %s\n", strerror(errno));
        return 1;
    }
    printf("track: %zu MiB per range (%zu pages of %zu B), %u repetitions interleaved,\n"
           "median ns/page [min..max]; ratio = median / the peer's median\n\n",
           size >> 20, size / page, page, reps);
    r_pread = add_row("pagemap pread (raw)", -1);
    if (idle >= 0)
        r_idle = add_row("idle bitmap raw", -1);
    else
        printf("idle bitmap raw: unavailable (%s)\n", strerror(errno));
    r_plain = add_row("untracked write", -1);
    r_fault = add_row("first-touch fault (raw)", -1);
    for (unsigned i = 0; i < 3; i++) {
        struct pmn_track_opts o = {.struct_size = sizeof(o), .mode = modes[i]};
        struct mode_run *m = &mr[nm];
        char name[48];
        int err;

        m->mode = modes[i];
        err = pmn_track_new(ctx, &o, &m->t);
        if (err != 0) {
            printf("%s: unavailable (%s)\n", pmn_track_mode_name(modes[i]), pmn_strerror(err));
            continue;
        }
        m->p = map_range(size);
        if (m->p == NULL || pmn_track_add(m->t, m->p, size) != 0 ||
            pmn_track_scan(m->t, NULL) != 0) {
            printf("%s: setup failed\n", pmn_track_mode_name(modes[i]));
            rc = 1;
            continue;
        }
        snprintf(name, sizeof(name), "%s scan, clean", pmn_track_mode_name(modes[i]));
        m->clean = add_row(name, modes[i] == PMN_TRACK_IDLE && r_idle >= 0 ? r_idle : r_pread);
        snprintf(name, sizeof(name), "%s scan, all written", pmn_track_mode_name(modes[i]));
        m->written = add_row(name, modes[i] == PMN_TRACK_IDLE && r_idle >= 0 ? r_idle : r_pread);
        snprintf(name, sizeof(name), "%s write after a look", pmn_track_mode_name(modes[i]));
        m->write = add_row2(name, r_plain, r_fault);
        nm++;
    }

    for (unsigned rep = 0; rep < reps + 1; rep++) { /* rep 0: warm-up, not kept */
        unsigned steps = nm + 3 + (idle >= 0);

        for (unsigned s = 0; s < steps; s++) {
            unsigned k = (s + rep) % steps;
            uint64_t t0, t1, t2, t3;

            if (k < nm) {
                struct mode_run *m = &mr[k];

                t0 = now_ns();
                if (pmn_track_scan(m->t, NULL) != 0)
                    rc = 1;
                t1 = now_ns();
                write_pages(m->p, size, (char)rep);
                t2 = now_ns();
                if (pmn_track_scan(m->t, NULL) != 0)
                    rc = 1;
                t3 = now_ns();
                if (rep > 0) {
                    record(m->clean, t1 - t0);
                    record(m->write, t2 - t1);
                    record(m->written, t3 - t2);
                }
            } else if (k == nm) {
                t0 = now_ns();
                if (raw_pagemap(pm, -1, nm ? mr[0].p : plain, size) != 0)
                    rc = 1;
                if (rep > 0)
                    record(r_pread, now_ns() - t0);
            } else if (k == nm + 1) {
                write_pages(plain, size, (char)rep);
                t0 = now_ns();
                write_pages(plain, size, (char)(rep + 1));
                if (rep > 0)
                    record(r_plain, now_ns() - t0);
            } else if (k == nm + 2) {
                (void)madvise(plain, size, MADV_DONTNEED);
                t0 = now_ns();
                write_pages(plain, size, (char)rep);
                if (rep > 0)
                    record(r_fault, now_ns() - t0);
            } else {
                t0 = now_ns();
                if (raw_pagemap(pm, idle, nm ? mr[0].p : plain, size) != 0)
                    rc = 1;
                if (rep > 0)
                    record(r_idle, now_ns() - t0);
            }
        }
    }

    printf("\n%-28s %24s %10s %8s\n", "", "ns/page", "ms/GiB", "ratio");
    for (unsigned i = 0; i < nrows; i++) {
        struct row *r = &rows[i];
        double pages = (double)(size / page), med, mn, mx;

        if (r->n == 0)
            continue;
        med = (double)median(r) / pages;
        mn = (double)r->ns[0] / pages;
        mx = (double)r->ns[r->n - 1] / pages;
        printf("%-28s %8.2f [%6.2f..%7.2f] %10.1f", r->name, med, mn, mx,
               med * (double)((size_t)1 << 30) / (double)page / 1e6);
        if (r->peer >= 0 && rows[r->peer].n > 0)
            printf(" %7.2fx %s", (double)median(r) / (double)median(&rows[r->peer]),
                   rows[r->peer].name);
        if (r->peer2 >= 0 && rows[r->peer2].n > 0)
            printf(", %.2fx %s", (double)median(r) / (double)median(&rows[r->peer2]),
                   rows[r->peer2].name);
        printf("\n");
    }
    for (unsigned i = 0; i < nm; i++)
        pmn_track_free(mr[i].t);
    pmn_ctx_unref(ctx);
    return rc;
}
