/*
 * vm-track.c - access tracking of memory on a CPU-less node, and across a
 * migration (runs inside the QEMU guest of tests/vm; issue 16).
 *
 *   vm-track MODE NODE   MODE soft-dirty, uffd-wp, idle or auto.
 *       16 extents of 64 KiB written on node 0 and moved to NODE with
 *       pmn_migrate (every page checked there with raw move_pages);
 *       tracked; writes to extents 2 and 9 (and, with idle, reads of
 *       extent 5) are seen there and nothing else.  Then extent 3 is
 *       written, the range moved back to node 0 and scanned: the write
 *       made before the move must still be seen (the signal survives
 *       migration); the other extents read after the move are printed
 *       ("migration: N untouched extents read as touched"), which is what
 *       the man page reports for each mode and kernel, and are checked
 *       against it for uffd-wp (none: the protection moves with the page).
 *       Soft-dirty reads every moved page as written (the kernel makes the
 *       new entry dirty, which on x86 sets the soft-dirty bit too) and idle
 *       tracking sees pmn_migrate's own reads.
 *
 * Prints "ok: ..." lines and exits 0 on success, 1 on failure, 77 when the
 * mode is not available on this kernel (with the reason).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PMN_HARNESS_PROGRAM
#include "harness.h"
#include "pmnode.h"

#define GRAN ((size_t)64 << 10)
#define NEXT 16

static size_t raw_on(char *p, size_t len, int node)
{
    const size_t pg = (size_t)getpagesize();
    size_t n = len / pg, on = 0;
    void *pages[NEXT * 16];
    int st[NEXT * 16];

    if (n > NEXT * 16)
        FAIL("range too long");
    for (size_t i = 0; i < n; i++)
        pages[i] = p + i * pg;
    /* NUMA balancing is on in this guest: a page under a hinting fault
     * reads as absent until touched (a read, which idle tracking would
     * see: the caller asks before its period starts). */
    for (int attempt = 0; attempt < 5; attempt++) {
        size_t unseen = 0;

        if (syscall(SYS_move_pages, 0, n, pages, NULL, st, 0) != 0)
            FAIL("move_pages query: %s", strerror(errno));
        for (size_t i = 0; i < n; i++) {
            if (st[i] == -ENOENT || st[i] == -EFAULT) {
                (void)*(volatile char *)pages[i];
                unseen++;
            }
        }
        if (unseen == 0)
            break;
    }
    for (size_t i = 0; i < n; i++)
        on += st[i] == node;
    return on;
}

static enum pmn_track_mode parse_mode(const char *s)
{
    for (int m = PMN_TRACK_AUTO; m <= PMN_TRACK_IDLE; m++)
        if (strcmp(s, pmn_track_mode_name((enum pmn_track_mode)m)) == 0)
            return (enum pmn_track_mode)m;
    FAIL("unknown mode %s", s);
}

static void scan(struct pmn_track *t)
{
    struct pmn_track_report r = {.struct_size = sizeof(r)};
    int err = pmn_track_scan(t, &r);

    if (err != 0)
        FAIL("scan: %s", pmn_strerror(err));
    if (r.passes != 1 || r.extents_examined != NEXT)
        FAIL("scan: %llu passes, %llu extents", ull(r.passes), ull(r.extents_examined));
}

static void look(struct pmn_track *t, struct pmn_track_extent *e)
{
    if (pmn_track_extents(t, e, NEXT) != NEXT)
        FAIL("extents");
}

int main(int argc, char **argv)
{
    const size_t pg = (size_t)getpagesize(), len = NEXT * GRAN;
    struct pmn_track_opts o = {.struct_size = sizeof(o), .granule = GRAN};
    struct pmn_migrate_report mr = {.struct_size = sizeof(mr)};
    struct pmn_track_extent e[NEXT];
    struct pmn_track *t;
    struct pmn_ctx *ctx;
    volatile char sink = 0;
    unsigned false_touch = 0;
    char *raw, *p;
    int node, err;
    bool reads;

    if (argc != 3)
        FAIL("usage: vm-track soft-dirty|uffd-wp|idle|auto NODE");
    o.mode = parse_mode(argv[1]);
    node = atoi(argv[2]);
    if ((err = pmn_ctx_new(&ctx)) != 0)
        FAIL("context: %s", pmn_strerror(err));
    err = pmn_track_new(ctx, &o, &t);
    if (err == -EOPNOTSUPP || err == -EPERM)
        SKIP("mode %s: %s", argv[1], pmn_strerror(err));
    if (err != 0)
        FAIL("pmn_track_new(%s): %s", argv[1], pmn_strerror(err));
    reads = pmn_track_mode(t) == PMN_TRACK_IDLE;
    printf("mode %s on node %d\n", pmn_track_mode_name(pmn_track_mode(t)), node);

    raw = mmap(NULL, len + GRAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        FAIL("mmap");
    p = (char *)(((uintptr_t)raw + GRAN - 1) & ~(uintptr_t)(GRAN - 1));
    (void)madvise(p, len, MADV_NOHUGEPAGE);
    memset(p, 1, len);
    if ((err = pmn_migrate(ctx, p, len, node, 0, &mr)) != 0)
        FAIL("migrate to node %d: %s", node, pmn_strerror(err));
    if (raw_on(p, len, node) != len / pg)
        FAIL("not every page on node %d", node);
    printf("ok: %zu pages on node %d\n", len / pg, node);

    if ((err = pmn_track_add(t, p, len)) != 0)
        FAIL("add: %s", pmn_strerror(err));
    scan(t);
    p[2 * GRAN] = 2;
    memset(p + 9 * GRAN, 2, GRAN);
    for (size_t i = 0; i < GRAN; i += pg)
        sink += ((volatile char *)p)[5 * GRAN + i];
    (void)sink;
    scan(t);
    look(t, e);
    for (int i = 0; i < NEXT; i++) {
        uint32_t want = i == 2 ? 1 : i == 9 ? (uint32_t)(GRAN / pg) : 0;

        if (i == 5 && reads)
            want = (uint32_t)(GRAN / pg);
        if (e[i].pages_touched != want)
            FAIL("node %d: extent %d: %u pages touched, want %u", node, i, e[i].pages_touched,
                 want);
    }
    printf("ok: writes%s seen on node %d, nothing else\n", reads ? " and reads" : "", node);

    /* Across a migration: a write made before the move is seen after it. */
    p[3 * GRAN + 4 * pg] = 3;
    if ((err = pmn_migrate(ctx, p, len, 0, 0, &mr)) != 0)
        FAIL("migrate back to node 0: %s", pmn_strerror(err));
    if (mr.moved != len / pg)
        FAIL("moved %llu of %zu pages", ull(mr.moved), len / pg);
    scan(t);
    look(t, e);
    if (e[3].pages_touched < 1)
        FAIL("the write made before pmn_migrate was lost by the move");
    for (int i = 0; i < NEXT; i++)
        false_touch += i != 3 && e[i].pages_touched != 0;
    printf("migration: %u untouched extents read as touched\n", false_touch);
    if (false_touch != 0 && pmn_track_mode(t) == PMN_TRACK_UFFD_WP)
        FAIL("migration made %u untouched extents look written", false_touch);
    printf("ok: the signal survives pmn_migrate (extent 3: %u pages)\n", e[3].pages_touched);
    /* And the period after the move starts clean. */
    scan(t);
    look(t, e);
    for (int i = 0; i < NEXT; i++)
        if (e[i].pages_touched != 0)
            FAIL("after the move: extent %d: %u pages touched", i, e[i].pages_touched);
    printf("ok: the next period after the move is clean\n");
    pmn_track_free(t);
    pmn_ctx_unref(ctx);
    munmap(raw, len + GRAN);
    return 0;
}
