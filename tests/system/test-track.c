/*
 * test-track.c - access tracking on this host (suite 'system', issue 16).
 *
 * Every behaviour is checked in each mode the kernel offers here; a mode
 * the kernel or the process lacks skips with the reason (this host, for
 * one, has no soft-dirty and no page_idle; the vm lane runs this program
 * on Debian's kernels, which have both).  Memory is mapped without
 * transparent huge pages so that one page written is one page seen.
 *
 * Shape of most cases: 16 extents of 64 KiB (16 pages each), all written
 * once, added, scanned once (the first look only starts the periods), then
 * a chosen access, then a scan and a look at every extent.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define GRAN ((size_t)64 << 10)
#define NEXT 16

static size_t pg(void)
{
    return (size_t)getpagesize();
}

static struct pmn_ctx *this_ctx(void)
{
    struct pmn_ctx *ctx = NULL;

    cr_assert_eq(pmn_ctx_new_at(&ctx, "/"), 0);
    return ctx;
}

/* A tracker of mode @m, or a skip saying why this host cannot have one. */
static struct pmn_track *tracker(struct pmn_ctx *ctx, enum pmn_track_mode m, uint64_t budget,
                                 unsigned sample)
{
    struct pmn_track_opts o = {
        .struct_size = sizeof(o),
        .mode = m,
        .granule = GRAN,
        .page_budget = budget,
        .sample_pages = sample,
    };
    struct pmn_track *t = NULL;
    int err = pmn_track_new(ctx, &o, &t);

    if (err == -EOPNOTSUPP)
        cr_skip_test("mode %s: this kernel lacks it", pmn_track_mode_name(m));
    if (err == -EPERM)
        cr_skip_test("mode %s: this process may not use it (CAP_SYS_ADMIN)",
                     pmn_track_mode_name(m));
    cr_assert_eq(err, 0, "pmn_track_new(%s): %s", pmn_track_mode_name(m), pmn_strerror(err));
    cr_assert_eq(pmn_track_mode(t), m);
    return t;
}

/* NEXT extents of private anonymous memory, written, THP off, aligned to the
 * granule so that extents are whole. */
static char *map_extents(void)
{
    size_t len = NEXT * GRAN;
    char *raw = mmap(NULL, len + GRAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *p;

    cr_assert_neq(raw, MAP_FAILED);
    p = (char *)(((uintptr_t)raw + GRAN - 1) & ~(uintptr_t)(GRAN - 1));
    (void)madvise(p, len, MADV_NOHUGEPAGE);
    memset(p, 1, len);
    return p;
}

static struct pmn_track_report scan(struct pmn_track *t)
{
    struct pmn_track_report r = {.struct_size = sizeof(r)};

    cr_assert_eq(pmn_track_scan(t, &r), 0);
    cr_assert_eq(r.struct_size, sizeof(r));
    return r;
}

static void extents(struct pmn_track *t, struct pmn_track_extent *e)
{
    cr_assert_eq(pmn_track_extents(t, e, NEXT), NEXT);
}

/* The setup shared by the cases: tracker, memory, added, first look done. */
static struct pmn_track *setup(struct pmn_ctx *ctx, enum pmn_track_mode m, char **p)
{
    struct pmn_track *t = tracker(ctx, m, 0, 0);
    struct pmn_track_report r;

    *p = map_extents();
    cr_assert_eq(pmn_track_add(t, *p, NEXT * GRAN), 0);
    r = scan(t);
    cr_assert_eq(r.pages_examined, NEXT * GRAN / pg());
    cr_assert_eq(r.extents_examined, NEXT);
    cr_assert_eq(r.extents_touched, 0, "the first look only starts the period");
    cr_assert_eq(r.passes, 1);
    return t;
}

/* setup()'s other half: the range removed, the tracker freed, the memory
 * unmapped. */
static void teardown(struct pmn_ctx *ctx, struct pmn_track *t, char *p)
{
    cr_assert_eq(pmn_track_remove(t, p, NEXT * GRAN), 0);
    pmn_track_free(t);
    cr_assert_eq(munmap(p, NEXT * GRAN), 0);
    pmn_ctx_unref(ctx);
}

/* ---- what each mode sees ---- */

static void writes_seen(enum pmn_track_mode m)
{
    struct pmn_ctx *ctx = this_ctx();
    struct pmn_track_extent e[NEXT];
    struct pmn_track_report r;
    char *p;
    struct pmn_track *t = setup(ctx, m, &p);

    p[2 * GRAN] = 2;                /* one page of extent 2 */
    p[7 * GRAN + 3 * pg()] = 2;     /* one page of extent 7 */
    memset(p + 11 * GRAN, 3, GRAN); /* all of extent 11 */
    r = scan(t);
    cr_assert_eq(r.extents_touched, 3);
    extents(t, e);
    for (int i = 0; i < NEXT; i++) {
        uint32_t want = i == 2 || i == 7 ? 1 : i == 11 ? (uint32_t)(GRAN / pg()) : 0;

        cr_assert_eq(e[i].addr, p + (size_t)i * GRAN);
        cr_assert_eq(e[i].len, GRAN);
        cr_assert_eq(e[i].pages_examined, GRAN / pg());
        cr_assert_eq(e[i].pages_touched, want, "%s: extent %d: %u touched, want %u",
                     pmn_track_mode_name(m), i, e[i].pages_touched, want);
    }
    /* Nothing since: nothing seen (the signal was reset). */
    r = scan(t);
    cr_assert_eq(r.extents_touched, 0, "%s: the signal was not reset", pmn_track_mode_name(m));
    pmn_track_free(t);
    pmn_ctx_unref(ctx);
}

static void reads(enum pmn_track_mode m)
{
    struct pmn_ctx *ctx = this_ctx();
    struct pmn_track_extent e[NEXT];
    volatile char sink = 0;
    char *p;
    struct pmn_track *t = setup(ctx, m, &p);

    for (size_t i = 0; i < GRAN; i += pg())
        sink += ((volatile char *)p)[4 * GRAN + i];
    (void)sink;
    scan(t);
    extents(t, e);
    for (int i = 0; i < NEXT; i++) {
        uint32_t want = m == PMN_TRACK_IDLE && i == 4 ? (uint32_t)(GRAN / pg()) : 0;

        cr_assert_eq(e[i].pages_touched, want, "%s: extent %d: %u touched after reads, want %u",
                     pmn_track_mode_name(m), i, e[i].pages_touched, want);
    }
    pmn_track_free(t);
    pmn_ctx_unref(ctx);
}

/* A write by the kernel on our behalf: read(2) of /dev/zero into extent 5. */
static void kernel_writes(enum pmn_track_mode m)
{
    struct pmn_ctx *ctx = this_ctx();
    struct pmn_track_extent e[NEXT];
    char *p;
    struct pmn_track *t = setup(ctx, m, &p);
    int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);

    cr_assert_geq(fd, 0);
    cr_assert_eq(read(fd, p + 5 * GRAN + pg(), 2 * pg()), (ssize_t)(2 * pg()));
    close(fd);
    scan(t);
    extents(t, e);
    for (int i = 0; i < NEXT; i++)
        cr_assert_eq(e[i].pages_touched, i == 5 ? 2u : 0u, "%s: extent %d: %u",
                     pmn_track_mode_name(m), i, e[i].pages_touched);
    pmn_track_free(t);
    pmn_ctx_unref(ctx);
}

/* ---- budget, sampling, heat ---- */

static void budget(enum pmn_track_mode m)
{
    struct pmn_ctx *ctx = this_ctx();
    struct pmn_track *t = tracker(ctx, m, 10, 0);
    const uint64_t pages = NEXT * GRAN / pg(), scans = (pages + 9) / 10;
    struct pmn_track_extent e[NEXT];
    uint64_t seen = 0, ext = 0;
    char *p = map_extents();

    cr_assert_eq(pmn_track_add(t, p, NEXT * GRAN), 0);
    for (uint64_t s = 1; s <= scans; s++) {
        struct pmn_track_report r = scan(t);

        cr_assert_leq(r.pages_examined, 10);
        seen += r.pages_examined;
        ext += r.extents_examined;
        cr_assert_eq(r.passes, s == scans ? 1u : 0u, "scan %llu of %llu: passes %llu", ull(s),
                     ull(scans), ull(r.passes));
    }
    cr_assert_eq(seen, pages);
    cr_assert_eq(ext, NEXT);
    /* Second pass, the budget stopping inside extents: a write made
     * before it is seen, in its extent only. */
    p[0] = 9;
    for (uint64_t s = 1; s <= scans; s++)
        scan(t);
    extents(t, e);
    for (int i = 0; i < NEXT; i++)
        cr_assert_eq(e[i].pages_touched, i == 0 ? 1u : 0u, "extent %d: %u", i, e[i].pages_touched);
    pmn_track_free(t);
    pmn_ctx_unref(ctx);
}

static void sample(enum pmn_track_mode m)
{
    struct pmn_ctx *ctx = this_ctx();
    struct pmn_track *t = tracker(ctx, m, 0, 4);
    struct pmn_track_extent e[NEXT];
    struct pmn_track_report r;
    char *p = map_extents();

    cr_assert_eq(pmn_track_add(t, p, NEXT * GRAN), 0);
    r = scan(t);
    cr_assert_eq(r.pages_examined, NEXT * 4);
    /* 4 of 16 pages: pages 0, 4, 8 and 12 of each extent. */
    p[0 * GRAN + 1 * pg()] = 2; /* not sampled */
    p[1 * GRAN + 4 * pg()] = 2; /* sampled */
    p[2 * GRAN + 12 * pg()] = 2;
    memset(p + 3 * GRAN, 2, GRAN); /* all 4 samples */
    r = scan(t);
    cr_assert_eq(r.pages_examined, NEXT * 4);
    extents(t, e);
    cr_assert_eq(e[0].pages_examined, 4);
    cr_assert_eq(e[0].pages_touched, 0, "a page not sampled was counted");
    cr_assert_eq(e[1].pages_touched, 1);
    cr_assert_eq(e[2].pages_touched, 1);
    cr_assert_eq(e[3].pages_touched, 4);
    cr_assert_eq(e[3].heat, 127);
    pmn_track_free(t);
    pmn_ctx_unref(ctx);
}

static void heat(enum pmn_track_mode m)
{
    struct pmn_ctx *ctx = this_ctx();
    struct pmn_track_extent e[NEXT];
    /* heat' = (heat + 255 x touched / examined) / 2, all pages touched */
    static const uint32_t hot[] = {127, 191, 223, 239};
    char *p;
    struct pmn_track *t = setup(ctx, m, &p);

    extents(t, e);
    cr_assert_eq(e[0].heat, 0);
    cr_assert_eq(e[0].idle_looks, 0);
    for (unsigned k = 0; k < 4; k++) {
        memset(p, 4, GRAN); /* extent 0: every page, every round */
        if (k == 0)
            memset(p + GRAN, 4, GRAN / 2); /* extent 1: half of them, once */
        scan(t);
        extents(t, e);
        cr_assert_eq(e[0].heat, hot[k], "round %u: heat %u", k, e[0].heat);
        cr_assert_eq(e[0].idle_looks, 0);
        cr_assert_eq(e[2].heat, 0);
        cr_assert_eq(e[2].idle_looks, k + 1, "round %u: idle looks %u", k, e[2].idle_looks);
        cr_assert_eq(e[1].heat, 63u >> k, "round %u: half-touched heat %u", k, e[1].heat);
        cr_assert_eq(e[1].idle_looks, k);
    }
    pmn_track_free(t);
    pmn_ctx_unref(ctx);
}

/* ---- hostile use ---- */

static void unmapped_later(enum pmn_track_mode m)
{
    struct pmn_ctx *ctx = this_ctx();
    struct pmn_track_extent e[NEXT];
    struct pmn_track_report r;
    char *p;
    struct pmn_track *t = setup(ctx, m, &p);

    cr_assert_eq(munmap(p + 3 * GRAN, 2 * GRAN), 0);
    p[0] = 1;
    r = scan(t);
    cr_assert_eq(r.pages_gone, 2 * GRAN / pg());
    cr_assert_eq(r.extents_touched, 1);
    extents(t, e);
    cr_assert_eq(e[3].pages_touched, 0);
    /* Mapped anew there (not ours any more for uffd-wp): still no crash. */
    cr_assert_eq(mmap(p + 3 * GRAN, 2 * GRAN, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                 p + 3 * GRAN);
    memset(p + 3 * GRAN, 1, 2 * GRAN);
    r = scan(t);
    cr_assert_eq(r.pages_gone, 0);
    cr_assert_eq(pmn_track_remove(t, p, NEXT * GRAN), 0);
    pmn_track_free(t);
    pmn_ctx_unref(ctx);
}

/* Memory mapped anew inside a watched range, or moved into it, is watched
 * from then on in every mode: its first look reads the pages it has
 * present as touched, and later looks see its writes.  Before 0.10.1 the
 * uffd-wp mode read such memory as untouched for ever (it was never
 * registered), so a tier took written memory for cold. */
static void mapped_anew(enum pmn_track_mode m)
{
    struct pmn_ctx *ctx = this_ctx();
    struct pmn_track_extent e[NEXT];
    struct pmn_track_report r;
    char *p, *other, *sh;
    struct pmn_track *t = setup(ctx, m, &p);
    const uint32_t per = (uint32_t)(GRAN / pg());

    /* Extents 3 and 4: a new mapping, extent 3 written whole, 4 untouched. */
    cr_assert_eq(mmap(p + 3 * GRAN, 2 * GRAN, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                 p + 3 * GRAN);
    (void)madvise(p + 3 * GRAN, 2 * GRAN, MADV_NOHUGEPAGE);
    memset(p + 3 * GRAN, 2, GRAN);
    /* Extent 5: written memory moved in from elsewhere. */
    other = mmap(NULL, GRAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(other, MAP_FAILED);
    (void)madvise(other, GRAN, MADV_NOHUGEPAGE);
    memset(other, 3, GRAN);
    cr_assert_eq(mremap(other, GRAN, GRAN, MREMAP_MAYMOVE | MREMAP_FIXED, p + 5 * GRAN),
                 p + 5 * GRAN);
    /* Extent 6: shared memory, which uffd-wp cannot watch. */
    sh = mmap(p + 6 * GRAN, GRAN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED,
              -1, 0);
    cr_assert_eq(sh, p + 6 * GRAN);
    memset(sh, 4, GRAN);

    r = scan(t);
    cr_assert_eq(r.pages_gone, 0);
    extents(t, e);
    cr_assert_eq(e[3].pages_touched, per, "written in the new mapping: %u of %u",
                 e[3].pages_touched, per);
    cr_assert_eq(e[4].pages_touched, 0, "nothing present in the new mapping: %u",
                 e[4].pages_touched);
    cr_assert_eq(e[5].pages_touched, per, "moved in: %u of %u", e[5].pages_touched, per);
    cr_assert_eq(e[6].pages_touched, per, "shared, written: %u of %u", e[6].pages_touched, per);

    /* From now on the new memory is watched like the rest. */
    p[4 * GRAN] = 5;
    r = scan(t);
    extents(t, e);
    cr_assert_eq(e[3].pages_touched, 0, "not written since: %u", e[3].pages_touched);
    cr_assert_eq(e[4].pages_touched, 1, "one page written: %u", e[4].pages_touched);
    cr_assert_eq(e[5].pages_touched, 0, "not written since: %u", e[5].pages_touched);
    /* uffd-wp cannot register shared memory: it reads as touched at every
     * look, never as cold; the other modes watch it. */
    cr_assert_eq(e[6].pages_touched, m == PMN_TRACK_UFFD_WP ? per : 0, "shared: %u",
                 e[6].pages_touched);
    for (int i = 0; i < 3; i++)
        p[3 * GRAN + (size_t)i * pg()] = 6;
    r = scan(t);
    extents(t, e);
    cr_assert_eq(e[3].pages_touched, 3, "three pages written: %u", e[3].pages_touched);
    cr_assert_eq(e[4].pages_touched, 0);

    teardown(ctx, t, p);
}

/* A program that keeps changing its memory under the tracker: random
 * writes, discards, protection changes, extents mapped anew and memory
 * moved in, a scan after every few.  What must hold in every mode: no
 * scan fails, and no page written since the look before (and still there)
 * reads as untouched, whatever happened to its mapping, so a tier never
 * takes it for cold.  (Modes may report more: soft-dirty marks a merged
 * neighbour, new memory counts all its present pages.) */
static void churn(enum pmn_track_mode m)
{
    struct pmn_ctx *ctx = this_ctx();
    struct pmn_track_extent e[NEXT];
    char *p;
    struct pmn_track *t = setup(ctx, m, &p);
    const size_t per = GRAN / pg();
    static bool written[NEXT * (GRAN / 4096)];
    unsigned seed = 12345;

    cr_assert_eq(pg(), 4096, "this case assumes 4 KiB pages");
    memset(written, 0, sizeof(written));
    for (int round = 0; round < 300; round++) {
        unsigned r = (unsigned)rand_r(&seed);
        size_t x = r % NEXT, i = (r / NEXT) % per;
        char *ext = p + x * GRAN;

        switch ((r / 256) % 8) {
        case 0:
        case 1:
        case 2: /* writes */
            for (size_t k = 0; k < 1 + r % 5; k++, i = (i + 7) % per) {
                ext[i * pg() + 1] = (char)round;
                written[x * per + i] = true;
            }
            break;
        case 3: /* a discard, as free() does */
            cr_assert_eq(madvise(ext + i * pg(), pg(), MADV_DONTNEED), 0);
            written[x * per + i] = false;
            break;
        case 4: /* read-only for a while, then writable again */
            cr_assert_eq(mprotect(ext, GRAN, PROT_READ), 0);
            cr_assert_eq(mprotect(ext, GRAN, PROT_READ | PROT_WRITE), 0);
            break;
        case 5: /* mapped anew, one page written */
            cr_assert_eq(mmap(ext, GRAN, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                         ext);
            (void)madvise(ext, GRAN, MADV_NOHUGEPAGE);
            memset(&written[x * per], 0, per);
            ext[i * pg()] = 1;
            written[x * per + i] = true;
            break;
        case 6: { /* written memory moved in */
            char *o = mmap(NULL, GRAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

            cr_assert_neq(o, MAP_FAILED);
            (void)madvise(o, GRAN, MADV_NOHUGEPAGE);
            memset(o, 9, GRAN);
            cr_assert_eq(mremap(o, GRAN, GRAN, MREMAP_MAYMOVE | MREMAP_FIXED, ext), ext);
            memset(&written[x * per], 1, per);
            break;
        }
        default: { /* a look */
            struct pmn_track_report rep = scan(t);

            cr_assert_eq(rep.pages_gone, 0, "round %d", round);
            extents(t, e);
            for (size_t k = 0; k < NEXT; k++) {
                uint32_t want = 0;

                for (size_t j = 0; j < per; j++)
                    want += written[k * per + j];
                cr_assert_geq(e[k].pages_touched, want,
                              "round %d, extent %zu: %u pages touched, %u written", round, k,
                              e[k].pages_touched, want);
            }
            memset(written, 0, sizeof(written));
            break;
        }
        }
    }
    teardown(ctx, t, p);
}

static void misuse(enum pmn_track_mode m)
{
    struct pmn_ctx *ctx = this_ctx();
    struct pmn_track *t = tracker(ctx, m, 0, 0), *u = NULL;
    struct pmn_track_opts o = {.struct_size = sizeof(o), .mode = m};
    struct pmn_track_report small = {.struct_size = sizeof(size_t)};
    struct pmn_track_extent e[1];
    char *p = map_extents(), *hole;

    o.granule = 3 * pg();
    cr_assert_eq(pmn_track_new(ctx, &o, &u), -EINVAL, "granule not a power of two");
    o.granule = pg() / 2;
    cr_assert_eq(pmn_track_new(ctx, &o, &u), -EINVAL, "granule below a page");
    o.granule = (size_t)1 << 62;
    cr_assert_eq(pmn_track_new(ctx, &o, &u), -EINVAL, "granule absurd");
    o.granule = 0;
    o.mode = (enum pmn_track_mode)99;
    cr_assert_eq(pmn_track_new(ctx, &o, &u), -EINVAL, "unknown mode");
    o.struct_size = 1;
    o.mode = m;
    cr_assert_eq(pmn_track_new(ctx, &o, &u), -EINVAL, "struct_size too small");
    cr_assert_eq(pmn_track_new(NULL, NULL, &u), -EINVAL);
    cr_assert_eq(pmn_track_new(ctx, NULL, NULL), -EINVAL);
    cr_assert_null(u);

    cr_assert_eq(pmn_track_add(t, p + 1, GRAN), -EINVAL, "unaligned");
    cr_assert_eq(pmn_track_add(t, p, 0), -EINVAL, "empty");
    cr_assert_eq(pmn_track_add(t, p, GRAN + 1), -EINVAL, "length not in pages");
    cr_assert_eq(pmn_track_add(t, p, SIZE_MAX - pg() + 1), -EINVAL, "length wraps");
    cr_assert_eq(pmn_track_add(NULL, p, GRAN), -EINVAL);
    hole = mmap(NULL, GRAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(hole, MAP_FAILED);
    cr_assert_eq(pmn_track_add(t, hole, GRAN), -EINVAL, "PROT_NONE");
    cr_assert_eq(munmap(hole, GRAN), 0);
    cr_assert_eq(pmn_track_add(t, hole, GRAN), -EINVAL, "unmapped");

    cr_assert_eq(pmn_track_add(t, p + GRAN, 4 * GRAN), 0);
    cr_assert_eq(pmn_track_add(t, p + GRAN, 4 * GRAN), -EEXIST);
    cr_assert_eq(pmn_track_add(t, p, 2 * GRAN), -EEXIST, "overlaps the start");
    cr_assert_eq(pmn_track_add(t, p + 4 * GRAN, 2 * GRAN), -EEXIST, "overlaps the end");
    cr_assert_eq(pmn_track_add(t, p + 2 * GRAN, pg()), -EEXIST, "inside");
    cr_assert_eq(pmn_track_add(t, p, 8 * GRAN), -EEXIST, "around");
    cr_assert_eq(pmn_track_add(t, p, GRAN), 0, "adjacent below");
    cr_assert_eq(pmn_track_add(t, p + 5 * GRAN, GRAN), 0, "adjacent above");
    cr_assert_eq(pmn_track_extents(t, NULL, 0), 6);
    cr_assert_eq(pmn_track_extents(t, e, 1), 6);
    cr_assert_eq(e[0].addr, p, "address order");
    cr_assert_eq(pmn_track_extents(t, NULL, 1), -EINVAL);
    cr_assert_eq(pmn_track_extents(NULL, e, 1), -EINVAL);

    cr_assert_eq(pmn_track_remove(t, p + GRAN, GRAN), -ENOENT, "part of a range");
    cr_assert_eq(pmn_track_remove(t, p + 9 * GRAN, GRAN), -ENOENT, "never added");
    cr_assert_eq(pmn_track_remove(t, p + GRAN, 4 * GRAN), 0);
    cr_assert_eq(pmn_track_remove(t, p + GRAN, 4 * GRAN), -ENOENT, "twice");
    cr_assert_eq(pmn_track_extents(t, NULL, 0), 2);

    cr_assert_eq(pmn_track_scan(t, &small), -EINVAL);
    cr_assert_eq(pmn_track_scan(NULL, NULL), -EINVAL);
    cr_assert_eq(pmn_track_scan(t, NULL), 0);
    pmn_track_free(t);
    pmn_track_free(NULL);
    pmn_ctx_unref(ctx);
}

/* After fork the child must not touch its parent's protection: -ECHILD
 * there, and the parent's tracker still sees its writes. */
static void forked(enum pmn_track_mode m)
{
    struct pmn_ctx *ctx = this_ctx();
    struct pmn_track_extent e[NEXT];
    int status = 0;
    char *p;
    struct pmn_track *t = setup(ctx, m, &p);
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int a = pmn_track_scan(t, NULL), b = pmn_track_add(t, p, GRAN),
            c = pmn_track_remove(t, p, NEXT * GRAN);

        p[GRAN] = 5; /* the child's copy */
        pmn_track_free(t);
        _exit(a == -ECHILD && b == -ECHILD && c == -ECHILD ? 0 : 1);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's calls were not -ECHILD");
    p[6 * GRAN] = 5;
    scan(t);
    extents(t, e);
    for (int i = 0; i < NEXT; i++)
        cr_assert_eq(e[i].pages_touched, i == 6 ? 1u : 0u, "%s: extent %d: %u",
                     pmn_track_mode_name(m), i, e[i].pages_touched);
    pmn_track_free(t);
    pmn_ctx_unref(ctx);
}

/* Writers on 4 threads while the main thread scans with a small budget:
 * every scan succeeds within its budget, passes complete, and no extent
 * reads more pages touched than examined. */
struct writer {
    char *p;
    atomic_int *stop;
    unsigned seed;
    size_t id;
};

/* A fork while another thread scans (the scan holds the tracker's lock):
 * the child's calls took that lock before answering -ECHILD, and a child
 * forked mid-scan waited for ever.  They answer before the lock now. */
static struct {
    struct pmn_track *t;
    atomic_bool stop;
} scanning;

static void *scan_loop(void *arg)
{
    (void)arg;
    while (!atomic_load(&scanning.stop))
        (void)pmn_track_scan(scanning.t, NULL);
    return NULL;
}

static int child_calls(int i, void *arg)
{
    struct pmn_track_extent e[NEXT];
    int a = pmn_track_scan(scanning.t, NULL), b = (int)pmn_track_extents(scanning.t, e, NEXT);

    (void)i;
    (void)arg;
    return a == -ECHILD && b == -ECHILD ? 0 : 1;
}

static void forked_while_scanning(enum pmn_track_mode m)
{
    struct pmn_ctx *ctx = this_ctx();
    int hung, wrong;
    pthread_t tid;
    char *p;

    scanning.t = setup(ctx, m, &p);
    atomic_store(&scanning.stop, false);
    cr_assert_eq(pthread_create(&tid, NULL, scan_loop, NULL), 0);
    cr_assert_eq(fork_children(100, 3, child_calls, NULL, &hung, &wrong), 0);
    atomic_store(&scanning.stop, true);
    pthread_join(tid, NULL);
    cr_assert_eq(hung, 0, "a child's call waited for the lock a scanning thread held at fork");
    cr_assert_eq(wrong, 0, "%d children's calls were not -ECHILD", wrong);
    pmn_track_free(scanning.t);
    munmap(p, NEXT * GRAN);
    pmn_ctx_unref(ctx);
}

static void *write_loop(void *arg)
{
    struct writer *w = arg;

    /* Each writer its own quarter of the extents: the threads race with
     * the scans, not with each other. */
    while (!atomic_load(w->stop)) {
        size_t ext;

        w->seed = w->seed * 1103515245u + 12345u;
        ext = ((w->seed >> 8) % (NEXT / 4)) * 4 + w->id;
        ((volatile char *)w->p)[ext * GRAN + (w->seed >> 4) % GRAN] = (char)w->seed;
    }
    return NULL;
}

/* A reader of the extents on a thread of its own, racing the scans. */
struct reader {
    struct pmn_track *t;
    atomic_int *stop;
    long bad;
};

static void *read_loop(void *arg)
{
    struct reader *r = arg;
    struct pmn_track_extent e[NEXT];

    while (!atomic_load(r->stop)) {
        if (pmn_track_extents(r->t, e, NEXT) != NEXT)
            r->bad++;
        for (int i = 0; i < NEXT; i++)
            r->bad += e[i].pages_touched > e[i].pages_examined || e[i].heat > 255;
    }
    return NULL;
}

static void threads(enum pmn_track_mode m)
{
    struct pmn_ctx *ctx = this_ctx();
    struct pmn_track *t = tracker(ctx, m, 37, 0);
    struct pmn_track_extent e[NEXT];
    atomic_int stop = 0;
    struct writer w[4];
    pthread_t th[4];
    uint64_t passes = 0;
    char *p = map_extents();

    cr_assert_eq(pmn_track_add(t, p, NEXT * GRAN), 0);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct writer){.p = p, .stop = &stop, .seed = (unsigned)i + 1, .id = (size_t)i};
        cr_assert_eq(pthread_create(&th[i], NULL, write_loop, &w[i]), 0);
    }
    struct reader rd = {.t = t, .stop = &stop};
    pthread_t rt;

    cr_assert_eq(pthread_create(&rt, NULL, read_loop, &rd), 0);
    for (int s = 0; s < (int)scaled(400, 20); s++) {
        struct pmn_track_report r = scan(t);

        cr_assert_leq(r.pages_examined, 37);
        passes += r.passes;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    pthread_join(rt, NULL);
    cr_assert_eq(rd.bad, 0, "the reader saw %ld torn extents", rd.bad);
    cr_assert_gt(passes, 1);
    extents(t, e);
    for (int i = 0; i < NEXT; i++)
        cr_assert_leq(e[i].pages_touched, e[i].pages_examined);
    pmn_track_free(t);
    pmn_ctx_unref(ctx);
}

#define MODES(name)                 \
    Test(soft_dirty, name)          \
    {                               \
        name(PMN_TRACK_SOFT_DIRTY); \
    }                               \
    Test(uffd_wp, name)             \
    {                               \
        name(PMN_TRACK_UFFD_WP);    \
    }                               \
    Test(idle, name)                \
    {                               \
        name(PMN_TRACK_IDLE);       \
    }

MODES(writes_seen)
MODES(reads)
MODES(kernel_writes)
MODES(budget)
MODES(sample)
MODES(heat)
MODES(unmapped_later)
MODES(mapped_anew)
MODES(churn)
MODES(misuse)
MODES(forked)
MODES(forked_while_scanning)
MODES(threads)

/* A range another userfaultfd (a compressed tier's, say) registered
 * already: -EBUSY, and nothing of it is watched. */
Test(uffd_wp, other_userfaultfd)
{
    struct pmn_ctx *ctx = this_ctx();
    struct pmn_track *t = tracker(ctx, PMN_TRACK_UFFD_WP, 0, 0);
    struct uffdio_api api = {.api = UFFD_API};
    struct uffdio_register reg = {.mode = UFFDIO_REGISTER_MODE_MISSING};
    char *p = map_extents();
    int u = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | 1 /* UFFD_USER_MODE_ONLY */);

    cr_assert_geq(u, 0);
    cr_assert_eq(ioctl(u, UFFDIO_API, &api), 0);
    reg.range.start = (uintptr_t)p;
    reg.range.len = 2 * GRAN;
    cr_assert_eq(ioctl(u, UFFDIO_REGISTER, &reg), 0);
    cr_assert_eq(pmn_track_add(t, p, 2 * GRAN), -EBUSY);
    cr_assert_eq(pmn_track_extents(t, NULL, 0), 0);
    cr_assert_eq(pmn_track_add(t, p + 2 * GRAN, GRAN), 0, "the memory beside it");
    close(u);
    pmn_track_free(t);
    pmn_ctx_unref(ctx);
}

/* pmn_track_remove() releases what the tracker registered even when a
 * mapping inside the range is one no userfaultfd may take (a file on
 * disk, mapped there after the add): before, the one unregister of the
 * whole range failed, and the rest stayed registered, write-protected and
 * closed to anyone else (a compressed tier's registration: -EBUSY). */
Test(uffd_wp, remove_with_a_file_inside)
{
    struct pmn_ctx *ctx = this_ctx();
    struct uffdio_api api = {.api = UFFD_API};
    struct uffdio_register reg = {.mode = UFFDIO_REGISTER_MODE_MISSING};
    struct pmn_track_report r;
    char *p;
    struct pmn_track *t = setup(ctx, PMN_TRACK_UFFD_WP, &p);
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    int u;

    cr_assert_geq(fd, 0);
    cr_assert_eq(mmap(p + 7 * GRAN, GRAN, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0),
                 p + 7 * GRAN);
    close(fd);
    r = scan(t);
    cr_assert_eq(r.pages_gone, 0);
    cr_assert_eq(pmn_track_remove(t, p, NEXT * GRAN), 0);
    u = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | 1 /* UFFD_USER_MODE_ONLY */);
    cr_assert_geq(u, 0);
    cr_assert_eq(ioctl(u, UFFDIO_API, &api), 0);
    reg.range.start = (uintptr_t)p;
    reg.range.len = 7 * GRAN;
    cr_assert_eq(ioctl(u, UFFDIO_REGISTER, &reg), 0, "the memory before the file: %s",
                 strerror(errno));
    reg.range.start = (uintptr_t)(p + 8 * GRAN);
    reg.range.len = (NEXT - 8) * GRAN;
    cr_assert_eq(ioctl(u, UFFDIO_REGISTER, &reg), 0, "the memory after the file: %s",
                 strerror(errno));
    close(u);
    pmn_track_free(t);
    cr_assert_eq(munmap(p, NEXT * GRAN), 0);
    pmn_ctx_unref(ctx);
}

Test(track, auto_and_names)
{
    struct pmn_ctx *ctx = this_ctx();
    struct pmn_track *t = NULL;
    int err = pmn_track_new(ctx, NULL, &t);

    if (err == -EOPNOTSUPP)
        cr_skip_test("no tracking mode on this kernel");
    cr_assert_eq(err, 0, "%s", pmn_strerror(err));
    cr_assert_neq(pmn_track_mode(t), PMN_TRACK_AUTO);
    cr_log_info("auto picked %s", pmn_track_mode_name(pmn_track_mode(t)));
    pmn_track_free(t);
    cr_assert_eq(strcmp(pmn_track_mode_name(PMN_TRACK_AUTO), "auto"), 0);
    cr_assert_eq(strcmp(pmn_track_mode_name(PMN_TRACK_SOFT_DIRTY), "soft-dirty"), 0);
    cr_assert_eq(strcmp(pmn_track_mode_name(PMN_TRACK_UFFD_WP), "uffd-wp"), 0);
    cr_assert_eq(strcmp(pmn_track_mode_name(PMN_TRACK_IDLE), "idle"), 0);
    cr_assert_eq(strcmp(pmn_track_mode_name((enum pmn_track_mode)42), "unknown"), 0);
    pmn_ctx_unref(ctx);
}

Test(track, remote_root_refused)
{
    const char *fx = getenv("PMN_FIXTURES");
    char root[4096];
    struct pmn_ctx *ctx;
    struct pmn_track *t = NULL;

    if (fx == NULL)
        cr_skip_test("PMN_FIXTURES not set");
    snprintf(root, sizeof(root), "%s/cramdax/root", fx);
    cr_assert_eq(pmn_ctx_new_at(&ctx, root), 0, "fixture %s", root);
    cr_assert_eq(pmn_track_new(ctx, NULL, &t), PMN_E_REMOTE_ROOT);
    cr_assert_null(t);
    pmn_ctx_unref(ctx);
}
