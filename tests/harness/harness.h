/*
 * harness.h - the one test harness every C test of libpmnode includes.
 *
 * How a test program is built decides the framework:
 *   (default)            Criterion (<criterion/criterion.h>), each Test()
 *                        in a process of its own
 *   PMN_NO_CRITERION     the same Test() and cr_assert_*() macros on a
 *                        small runner of our own, for ThreadSanitizer
 *                        builds, where Criterion cannot start (its worker
 *                        arena does not map under TSan): each Test() runs
 *                        in a forked child, one after the other; exit 0
 *                        pass, 77 skip; the program prints "N passed, N
 *                        failed, N skipped" and exits 1 when one failed,
 *                        77 when all skipped
 *   PMN_HARNESS_PROGRAM  a plain program (the vm lane's guest programs):
 *                        cr_assert_*() exit 1 with the failing expression,
 *                        cr_skip_test() exits 77, FAIL() and SKIP() say
 *                        why in their own words; the program has its own
 *                        main()
 *
 * Then, for every kind: sizes and printing helpers; this host's context,
 * a node-0 backing and arena (skipping when the host has no NUMA sysfs);
 * stats invariants; patterns derived from an id, so a check tells which
 * object was overwritten and where; an interval set of live objects; and
 * the compressed tier's deterministic page contents.
 */
#ifndef PMN_TEST_HARNESS_H
#define PMN_TEST_HARNESS_H

#if defined(PMN_NO_CRITERION) || defined(PMN_HARNESS_PROGRAM)
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void mini_check(bool ok, const char *where, const char *expr, const char *fmt, ...)
{
    va_list ap;

    if (ok)
        return;
    fprintf(stderr, "%s: assertion failed: %s\n  ", where, expr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    _exit(1);
}

#define MINI_STR2(x) #x
#define MINI_STR(x) MINI_STR2(x)
#define MINI_WHERE __FILE__ ":" MINI_STR(__LINE__)
#define MINI_CHECK(ok, expr, ...) mini_check((ok), MINI_WHERE, expr, "" __VA_ARGS__)

#define cr_assert(c, ...) MINI_CHECK(!!(c), #c, __VA_ARGS__)
#define cr_assert_not(c, ...) MINI_CHECK(!(c), "!(" #c ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) MINI_CHECK((a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) MINI_CHECK((a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) MINI_CHECK((a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) MINI_CHECK((a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) MINI_CHECK((a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) MINI_CHECK((a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...) MINI_CHECK((p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) MINI_CHECK((p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_fail(...) MINI_CHECK(false, "fail", __VA_ARGS__)
#define cr_skip_test(...)                      \
    do {                                       \
        fprintf(stderr, "skip: " __VA_ARGS__); \
        fputc('\n', stderr);                   \
        _exit(77);                             \
    } while (0)
#define cr_log_info(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))
#define cr_log_warn(...) (fprintf(stderr, "warning: " __VA_ARGS__), fputc('\n', stderr))

#define FAIL(...)                              \
    do {                                       \
        fprintf(stderr, "FAIL: " __VA_ARGS__); \
        fputc('\n', stderr);                   \
        exit(1);                               \
    } while (0)
#define SKIP(...)                     \
    do {                              \
        printf("skip: " __VA_ARGS__); \
        putchar('\n');                \
        exit(77);                     \
    } while (0)
#else
#include <criterion/criterion.h>
#endif

#if defined(PMN_NO_CRITERION) && !defined(PMN_HARNESS_PROGRAM)
struct mini_test {
    const char *suite, *name;
    void (*fn)(void);
};

static struct mini_test mini_tests[64];
static int mini_ntests;

static inline void mini_register(const char *suite, const char *name, void (*fn)(void))
{
    if (mini_ntests < 64)
        mini_tests[mini_ntests++] = (struct mini_test){suite, name, fn};
}

#define Test(suite, name, ...)                                               \
    static void suite##_##name(void);                                        \
    __attribute__((constructor)) static void mini_reg_##suite##_##name(void) \
    {                                                                        \
        mini_register(#suite, #name, suite##_##name);                        \
    }                                                                        \
    static void suite##_##name(void)

int main(void)
{
    int failed = 0, skipped = 0;

    for (int i = 0; i < mini_ntests; i++) {
        int status = 0;
        pid_t pid;

        fflush(NULL);
        pid = fork();
        if (pid == 0) {
            mini_tests[i].fn();
            _exit(0);
        }
        if (pid < 0 || waitpid(pid, &status, 0) != pid)
            status = -1;
        const char *res = WIFEXITED(status) && WEXITSTATUS(status) == 0    ? "PASS"
                          : WIFEXITED(status) && WEXITSTATUS(status) == 77 ? "SKIP"
                                                                           : "FAIL";
        failed += res[0] == 'F';
        skipped += res[0] == 'S';
        printf("[%s] %s::%s\n", res, mini_tests[i].suite, mini_tests[i].name);
    }
    printf("%d passed, %d failed, %d skipped\n", mini_ntests - failed - skipped, failed, skipped);
    return failed ? 1 : skipped == mini_ntests ? 77 : 0;
}
#endif

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "pmnode.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static inline unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

/* qsort()/bsearch() order of an array of pointers, by address. */
static inline int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;

    return x < y ? -1 : x > y;
}

/* A hole in the address space of 2^44 bytes, or less where that much is
 * not to be had (valgrind gives less than 2^36; 2^28 at the least), and
 * its length in *@len: address space the kernel handed out once and that
 * was unmapped again, so that no mapping covers it, whatever the
 * sanitizers' shadows take elsewhere.  NULL when none. */
static inline void *address_hole(size_t *len)
{
    for (unsigned bits = 44; bits >= 28; bits -= 2) {
        size_t n = (size_t)1 << bits;
        void *p = mmap(NULL, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

        if (p != MAP_FAILED) {
            munmap(p, n);
            *len = n;
            return p;
        }
    }
    return NULL;
}

/* Loop counts: @n natively, @n / div under valgrind (at least 1). */
/* Resident set of this process, from /proc/self/statm. */
static inline uint64_t rss_bytes(void)
{
    unsigned long long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    cr_assert_not_null(f, "/proc/self/statm: %s", strerror(errno));
    cr_assert_eq(fscanf(f, "%llu %llu", &size, &res), 2);
    fclose(f);
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static inline size_t scaled(size_t n, size_t div)
{
    if (RUNNING_ON_VALGRIND) {
        n /= div;
        return n ? n : 1;
    }
    return n;
}

/* Fork while the caller's other threads go on: @n children one after
 * another, stopping at the first that hangs.  Child i runs @child(i,
 * @arg) under alarm(@alarm_s) and exits with what it returns, past
 * ThreadSanitizer's _exit (which reports the parent's threads as the
 * child's leaks).  *@hung counts the children the alarm killed, *@failed
 * every child that did not exit 0.  0, or -1 when a fork or a wait
 * failed.  No assertion: usable inside a forked test body too. */
static inline int fork_children(int n, unsigned alarm_s, int (*child)(int i, void *arg), void *arg,
                                int *hung, int *failed)
{
    *hung = *failed = 0;
    for (int i = 0; i < n && *hung == 0; i++) {
        int status;
        pid_t pid = fork();

        if (pid < 0)
            return -1;
        if (pid == 0) {
            int code;

            alarm(alarm_s);
            code = child(i, arg);
            syscall(SYS_exit_group, code);
            _exit(code);
        }
        if (waitpid(pid, &status, 0) != pid)
            return -1;
        *hung += WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM;
        *failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    return 0;
}

/* A context for this machine, whatever PMNODE_* the environment holds,
 * with node @node declared of @kind when @node >= 0 (node 0 standing in
 * for a compressed node, say); skips when the host shows no NUMA sysfs. */
static inline struct pmn_ctx *local_ctx_kind(int node, enum pmn_kind kind)
{
    struct pmn_ctx_params *p;
    struct pmn_ctx *ctx = NULL;
    int err;

    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, "/"), 0);
    cr_assert_eq(pmn_ctx_params_set_flags(p, PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG), 0);
    if (node >= 0)
        cr_assert_eq(pmn_ctx_params_set_node_kind(p, node, kind), 0);
    err = pmn_ctx_new_params(&ctx, p);
    pmn_ctx_params_free(p);
    if (err == PMN_E_NO_NUMA)
        cr_skip_test("this host has no /sys/devices/system/node");
    cr_assert_eq(err, 0, "no context for this machine: %s", pmn_strerror(err));
    cr_assert(pmn_ctx_is_local(ctx));
    cr_assert_not_null(pmn_node_get(ctx, 0), "this host has no node 0");
    return ctx;
}

static inline struct pmn_ctx *local_ctx(void)
{
    return local_ctx_kind(-1, PMN_KIND_UNKNOWN);
}

/* A backing of @type on node 0. */
static inline struct pmn_backing *backing_on0(struct pmn_ctx *ctx, enum pmn_backing_type type)
{
    struct pmn_backing_params *p;
    struct pmn_backing *b = NULL;
    int err;

    cr_assert_eq(pmn_backing_params_new(&p), 0);
    cr_assert_eq(pmn_backing_params_set_type(p, type), 0);
    cr_assert_eq(pmn_backing_params_set_node(p, 0), 0);
    err = pmn_backing_new(ctx, p, &b);
    pmn_backing_params_free(p);
    cr_assert_eq(err, 0, "pmn_backing_new(%s, node 0): %s", pmn_backing_type_name(type),
                 pmn_strerror(err));
    cr_assert_not_null(b);
    return b;
}

/* One arena over one backing, torn down in the right order. */
struct env {
    struct pmn_ctx *ctx;
    struct pmn_backing *b;
    struct pmn_arena *a;
};

static inline struct env env_open_opts(enum pmn_backing_type type,
                                       const struct pmn_arena_opts *opts)
{
    struct env e = {0};
    int err;

    e.ctx = local_ctx();
    e.b = backing_on0(e.ctx, type);
    err = pmn_arena_new(e.b, opts, &e.a);
    cr_assert_eq(err, 0, "pmn_arena_new: %s", pmn_strerror(err));
    cr_assert_not_null(e.a);
    return e;
}

static inline struct env env_open(void)
{
    return env_open_opts(PMN_BACKING_ANON, NULL);
}

static inline void env_close(struct env *e)
{
    if (e->a)
        pmn_arena_destroy(e->a);
    if (e->b)
        pmn_backing_free(e->b);
    pmn_ctx_unref(e->ctx);
    *e = (struct env){0};
}

static inline struct pmn_alloc_stats arena_stats(struct pmn_arena *a)
{
    struct pmn_alloc_stats st;
    int err;

    memset(&st, 0xa5, sizeof(st)); /* no field may be left unset */
    st.struct_size = sizeof(st);
    err = pmn_arena_stats(a, &st);
    cr_assert_eq(err, 0, "pmn_arena_stats: %s", pmn_strerror(err));
    return st;
}

static inline struct pmn_alloc_stats slab_stats(struct pmn_slab *s)
{
    struct pmn_alloc_stats st;
    int err;

    memset(&st, 0xa5, sizeof(st));
    st.struct_size = sizeof(st);
    err = pmn_slab_stats(s, &st);
    cr_assert_eq(err, 0, "pmn_slab_stats: %s", pmn_strerror(err));
    return st;
}

static inline uint64_t backing_mapped(const struct pmn_backing *b)
{
    struct pmn_backing_stats bs = {.struct_size = sizeof(bs)};

    cr_assert_eq(pmn_backing_stats(b, &bs), 0);
    return bs.mapped_bytes;
}

/* Invariants every stats snapshot keeps, whatever the workload. */
static inline void assert_stats_sane(const struct pmn_alloc_stats *st, const char *what)
{
    cr_assert_leq(st->active, st->resident, "%s: active %llu > resident %llu", what,
                  ull(st->active), ull(st->resident));
    cr_assert_leq(st->allocated, st->active, "%s: allocated %llu > active %llu", what,
                  ull(st->allocated), ull(st->active));
    cr_assert_leq(st->resident, st->peak, "%s: resident %llu > peak %llu", what, ull(st->resident),
                  ull(st->peak));
    cr_assert_leq(st->remote_frees, st->frees, "%s: remote_frees %llu > frees %llu", what,
                  ull(st->remote_frees), ull(st->frees));
    cr_assert_geq(st->allocs, st->frees, "%s: allocs %llu < frees %llu", what, ull(st->allocs),
                  ull(st->frees));
    cr_assert_eq(st->backing.mapped_bytes, st->resident,
                 "%s: backing maps %llu bytes, arena says it holds %llu", what,
                 ull(st->backing.mapped_bytes), ull(st->resident));
}

/* ... and where every call allocated or freed one object. */
static inline void assert_counts(const struct pmn_alloc_stats *st, const char *what)
{
    assert_stats_sane(st, what);
    cr_assert_eq(st->allocs - st->frees, st->objects,
                 "%s: allocs %llu - frees %llu != objects %llu", what, ull(st->allocs),
                 ull(st->frees), ull(st->objects));
}

/* ---- structs versioned by size ------------------------------------------ */

/* The byte a test fills a struct the library must not write past with. */
#define FILL 0x5a

/* Whether [p, p + n) still holds FILL in every byte. */
static inline bool untouched(const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        if (b[i] != FILL)
            return false;
    return true;
}

/* ---- patterns ----------------------------------------------------------- */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static inline uint64_t pat_word(uint64_t id, size_t k)
{
    return mix64(id * 0x9e3779b97f4a7c15ull + k + 1);
}

/* Fill [p, p + len) with the pattern of @id. */
static inline void pat_fill(void *p, size_t len, uint64_t id)
{
    unsigned char *c = p;
    size_t k, words = len / 8;

    for (k = 0; k < words; k++) {
        uint64_t w = pat_word(id, k);
        memcpy(c + 8 * k, &w, 8);
    }
    if (len % 8) {
        uint64_t w = pat_word(id, k);
        memcpy(c + 8 * k, &w, len % 8);
    }
}

/* Offset of the first byte of [p, p + len) that does not hold @id's
 * pattern, or SIZE_MAX when all do. */
static inline size_t pat_check(const void *p, size_t len, uint64_t id)
{
    const unsigned char *c = p;
    size_t k, words = len / 8;

    for (k = 0; k < words; k++) {
        uint64_t w = pat_word(id, k), r;
        memcpy(&r, c + 8 * k, 8);
        if (r != w)
            for (size_t j = 0; j < 8; j++)
                if (c[8 * k + j] != ((const unsigned char *)&w)[j])
                    return 8 * k + j;
    }
    if (len % 8) {
        uint64_t w = pat_word(id, k);
        for (size_t j = 0; j < len % 8; j++)
            if (c[8 * k + j] != ((const unsigned char *)&w)[j])
                return 8 * k + j;
    }
    return SIZE_MAX;
}

#define assert_pattern(p, len, id, ...)                                                  \
    do {                                                                                 \
        size_t bad_ = pat_check((p), (len), (id));                                       \
        if (bad_ != SIZE_MAX) {                                                          \
            fprintf(stderr, "object %llu at %p: byte %zu of %zu overwritten\n", ull(id), \
                    (void *)(p), bad_, (size_t)(len));                                   \
            cr_assert_fail(__VA_ARGS__);                                                 \
        }                                                                                \
    } while (0)

/* Offset of the first non-zero byte, or SIZE_MAX. */
static inline size_t first_nonzero(const void *p, size_t len)
{
    const unsigned char *c = p;

    for (size_t i = 0; i < len; i++)
        if (c[i])
            return i;
    return SIZE_MAX;
}

/* ---- overlap check: live objects as a sorted array of intervals --------- */

struct ivl {
    uintptr_t lo, hi; /* [lo, hi) */
    uint64_t id;
};

struct ivset {
    struct ivl *v;
    size_t n, cap;
};

/* Index of the first interval with lo > addr. */
static inline size_t ivset_upper(const struct ivset *s, uintptr_t addr)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].lo <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Add [p, p + len) (len 0 counts as 1 byte: a unique object); fails the
 * test when it overlaps a live object. */
static inline void ivset_add(struct ivset *s, const void *p, size_t len, uint64_t id)
{
    uintptr_t lo = (uintptr_t)p, hi = lo + (len ? len : 1);
    size_t i = ivset_upper(s, lo);

    if (i > 0 && s->v[i - 1].hi > lo)
        cr_assert_fail("object %llu [%p, +%zu) overlaps live object %llu [%#lx, %#lx)", ull(id), p,
                       len, ull(s->v[i - 1].id), (unsigned long)s->v[i - 1].lo,
                       (unsigned long)s->v[i - 1].hi);
    if (i < s->n && s->v[i].lo < hi)
        cr_assert_fail("object %llu [%p, +%zu) overlaps live object %llu [%#lx, %#lx)", ull(id), p,
                       len, ull(s->v[i].id), (unsigned long)s->v[i].lo, (unsigned long)s->v[i].hi);
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        cr_assert_not_null(s->v);
    }
    memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
    s->v[i] = (struct ivl){lo, hi, id};
    s->n++;
}

static inline void ivset_del(struct ivset *s, const void *p)
{
    size_t i = ivset_upper(s, (uintptr_t)p);

    cr_assert(i > 0 && s->v[i - 1].lo == (uintptr_t)p, "test bug: %p is not in the set", p);
    memmove(&s->v[i - 1], &s->v[i], (s->n - i) * sizeof(*s->v));
    s->n--;
}

static inline void ivset_free(struct ivset *s)
{
    free(s->v);
    *s = (struct ivset){0};
}

/* ---- the compressed tier's page contents -------------------------------- */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char ctier_paragraph[] =
    "Cold data is the part of a working set that nobody has touched for a while: "
    "yesterday's session records, the tail of a log, the pages of a cache whose "
    "entries were popular an hour ago. Keeping it in ordinary memory wastes the "
    "fastest capacity the machine has, yet throwing it away costs a slow rebuild "
    "when somebody finally asks for it again. A compressed memory device sits in "
    "between: it stores each page in a fraction of the space, hands it back at "
    "memory speed, and only asks that writes go somewhere else first. The library "
    "moves such pages there on request, protects them, and brings back exactly the "
    "page a program writes to, while reads carry on without noticing anything. ";

static inline uint64_t ctier_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* @len bytes of random data from @seed. */
static inline void ctier_fill_random(void *buf, size_t len, uint64_t seed)
{
    unsigned char *p = buf;
    uint64_t s = seed;

    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = ctier_splitmix(&s);
        memcpy(p + i, &v, len - i < 8 ? len - i : 8);
    }
}

/* One page of text, distinct per @id. */
static inline void ctier_fill_text_page(char *page, size_t page_size, size_t id)
{
    size_t plen = sizeof(ctier_paragraph) - 1, off = (id * 37) % plen;
    int h = snprintf(page, page_size, "[page %zu of the cold set] ", id);
    size_t i = h > 0 ? (size_t)h : 0;

    for (; i < page_size; i++) {
        page[i] = ctier_paragraph[off];
        off = off + 1 == plen ? 0 : off + 1;
    }
}

/* [buf, buf + len) page by page, page ids from @first. */
static inline void ctier_fill_text(void *buf, size_t len, size_t page_size, size_t first)
{
    for (size_t i = 0; i * page_size < len; i++) {
        char tmp[65536];
        size_t n = len - i * page_size < page_size ? len - i * page_size : page_size;
        if (page_size <= sizeof(tmp) && n < page_size) {
            ctier_fill_text_page(tmp, page_size, first + i);
            memcpy((char *)buf + i * page_size, tmp, n);
        } else {
            ctier_fill_text_page((char *)buf + i * page_size, page_size, first + i);
        }
    }
}

/* Free room left above the writers' pages (ctier_writers_layout). */
#define CTIER_ROOM ((size_t)32 << 20)

/* Where writers' pages live while they move (ctier_move_away_and_back):
 * the @len bytes at @p move to the low end of a fresh reservation, @nholes
 * scratch pages (PROT_NONE) follow them at @holes[k], and the rest of the
 * reservation, CTIER_ROOM bytes, is given back.  The kernel puts a
 * mmap(NULL) in the highest free gap that fits, so small mappings other
 * code makes while the writers run land in that room, directly above the
 * writers' pages, rather than in the one-page gap a move opens for a moment
 * (ThreadSanitizer's runtime maps single pages: in the vm guest one took
 * a writer's scratch address in 3 of 30 runs on 6.12 without this layout,
 * and CI's vm-ctier-tsan failed so in 0.11.0; none in 142 runs with it).
 * Call it before any writer runs.  The pages' new address,
 * or NULL with errno set. */
static inline char *ctier_writers_layout(char *p, size_t len, char **holes, int nholes,
                                         size_t page_size)
{
    size_t scratch = (size_t)nholes * page_size;
    char *r = mmap(NULL, len + scratch + CTIER_ROOM, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (r == MAP_FAILED)
        return NULL;
    if (mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, r) != r) {
        int err = errno;

        munmap(r, len + scratch + CTIER_ROOM);
        errno = err;
        return NULL;
    }
    for (int k = 0; k < nholes; k++)
        holes[k] = r + len + (size_t)k * page_size;
    munmap(r + len + scratch, CTIER_ROOM);
    return r;
}

/* A writer's move of its page @pg away and back with mremap, through its
 * own scratch page *@hole, which is then mapped again in place (PROT_NONE,
 * never replacing anything): a fresh mmap(NULL) each time could land in
 * the gap another writer's page leaves between its two moves (it did in
 * vm-ctier's guest), and the moves then unmap each other's pages.  Map
 * every writer's scratch page before any writer runs, for the same
 * reason (ctier_writers_layout does, and keeps other mappings out of the
 * gaps the moves open).  Used by tests/system/test-ctier-system.c and the
 * vm guest's vm-ctier.
 *
 * 0: the page went away and came back.  1: it did, but in the moment the
 * scratch address was free some other mapping of the process took it (the
 * writers never map without an address, so it is the runtime's or a
 * library's, once ctier_writers_layout's room is used up): nothing is
 * clobbered, *@hole is NULL and the writer moves nothing more.  -1: a call
 * failed, *@what names it and errno says why; *@hole is NULL.  With *@hole
 * NULL nothing is done and 0 is returned.  The page's own address is free
 * between the two moves as well; a mapping taking it there would be
 * replaced by the move back, which nothing here can see: the room is what
 * keeps that from happening. */
static inline int ctier_move_away_and_back(char *pg, char **hole, size_t page_size,
                                           const char **what)
{
    char *h = *hole;

    if (h == NULL)
        return 0;
    *hole = NULL;
    if (mremap(pg, page_size, page_size, MREMAP_MAYMOVE | MREMAP_FIXED, h) != h) {
        *what = "mremap away";
        return -1;
    }
    if (mremap(h, page_size, page_size, MREMAP_MAYMOVE | MREMAP_FIXED, pg) != pg) {
        *what = "mremap back";
        return -1;
    }
    if (mmap(h, page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) ==
        h) {
        *hole = h;
        return 0;
    }
    if (errno == EEXIST)
        return 1;
    *what = "mmap of the scratch page";
    return -1;
}

/* ---- another thread's frees ---------------------------------------------- */

/* Frees by a thread other than the objects' owner, in a shuffled order
 * (tests/unit/test-threads.c, test-resident.c). */
struct shuffled {
    void **p;
    size_t n;
    int bad;
};

static inline void *free_shuffled(void *arg)
{
    struct shuffled *s = arg;
    uint64_t x = 0x2545f4914f6cdd1dull;

    for (size_t i = s->n - 1; i > 0; i--) {
        size_t j;
        void *t;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        j = (size_t)(x % (i + 1));
        t = s->p[i];
        s->p[i] = s->p[j];
        s->p[j] = t;
    }
    for (size_t i = 0; i < s->n; i++)
        s->bad += pmn_free(s->p[i]) != 0;
    return NULL;
}

/* @n > 0 objects freed in a shuffled order by a thread of their own (@p
 * is shuffled with them); how many frees failed. */
static inline int free_in_thread(void **p, size_t n)
{
    struct shuffled s = {.p = p, .n = n};
    pthread_t t;

    cr_assert_eq(pthread_create(&t, NULL, free_shuffled, &s), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    return s.bad;
}

/* ---- writers racing a tier's close -------------------------------------- */

/* One of the threads that write into demoted memory while the tier closes
 * (tests/system/test-ctier-system.c and the vm guest's vm-ctier): pass
 * after pass, one byte of its own per page, each thread in its own order,
 * until a whole pass has run after *closed turned non-zero. */
struct close_writer {
    char *p;
    size_t n, k, page;
    atomic_int *closed;
    pthread_barrier_t *go;
};

static inline void *close_writer_main(void *arg)
{
    struct close_writer *w = arg;
    int after = 0;

    pthread_barrier_wait(w->go);
    for (unsigned pass = 0; after < 2; pass++) {
        after += atomic_load(w->closed) != 0;
        for (size_t i = 0; i < w->n; i++) {
            size_t at = (i * 7 + w->k * 31) % w->n;
            ((volatile char *)w->p)[at * w->page + 64 + w->k] = (char)('a' + (pass + w->k) % 26);
        }
    }
    return NULL;
}

#endif /* PMN_TEST_HARNESS_H */
