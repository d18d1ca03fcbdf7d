/*
 * preload.c - libpmnode-preload.so: the malloc family of an unmodified
 * program, served from a libpmnode arena on the node it was asked for.
 *
 *   LD_PRELOAD=libpmnode-preload.so PMNODE_PRELOAD="node=1;threshold=0" prog
 *
 * Design
 *  - This library carries its own copy of libpmnode (linked whole, hidden),
 *    so it depends on nothing but libc and needs no second library loaded.
 *  - Below the arena is the next allocator of the program's chain (dlsym
 *    RTLD_NEXT, looked up at the first call, before any pointer is handed
 *    out): glibc's, or one preloaded after this library (jemalloc, ...).
 *    It serves every request until the constructor has built the arena,
 *    every request below the threshold, and libpmnode's own; free() asks
 *    libpmnode first, and a pointer it does not own goes to the next
 *    allocator's free.  The segment map makes that check safe and O(1).
 *    All six functions (malloc, calloc, realloc, free, memalign,
 *    malloc_usable_size) come from that one allocator, so a pointer never
 *    meets another allocator's free or size (glibc's __libc_* next to
 *    jemalloc's malloc_usable_size crashed).  C++ operator new and delete
 *    are defined here too (the end of this file), so an allocator
 *    preloaded after this one cannot bring its own.  While dlsym looks the
 *    functions up, the thread's own requests come from a small static area
 *    never given back.
 *  - An allocator preloaded before this library takes the program's malloc
 *    and the heap cannot be placed: the constructor calls malloc as the
 *    program would and, when the call does not reach this library, stops
 *    the program with one line naming that allocator (a wrapper that
 *    forwards to the next malloc reaches it and is fine).
 *  - libpmnode itself allocates (contexts, thread heaps, region records).
 *    A per-thread guard (initial-exec TLS: this library is never dlopen'ed)
 *    sends those calls to glibc, so the arena never re-enters itself.
 *  - Signal handlers: a handler that frees an arena object while its
 *    thread is inside the arena (guard set) must not re-enter it, so that
 *    free is deferred: the object goes on a per-thread list (linked through
 *    the object itself, no allocation, a compare-and-swap that nested
 *    handlers cannot break) and is freed when the thread leaves the arena.
 *    A handler that interrupts the program outside the arena frees at
 *    once.  A fork holds the arena's locks from the prepare handler to
 *    the parent's or child's: the guard is up over it (fork_prepare).  A
 *    thread's exit is outside the guard: the engine's TLS destructor
 *    (alloc/heap.c, unbind_slot) blocks the thread's signals while it
 *    holds the heap lock, so a handler runs after it, and a free there
 *    does not bind the exiting thread again (tls_exiting).  POSIX does not
 *    make free async-signal-safe; this makes it work anyway.  A handler's
 *    malloc while the thread is inside the arena is served by the next
 *    allocator (and not counted in stats: it cannot be
 *    told from libpmnode's own), and its realloc of an arena object fails
 *    (NULL, ENOMEM; the object stays valid): neither can wait.
 *  - Configuration is read once, in the constructor, by walking environ:
 *    no getenv, no allocation; config.c parses it (a pure function, so it
 *    is unit-tested and fuzzed).
 *  - Secure-execution mode (getauxval(AT_SECURE): a set-user-ID or
 *    set-group-ID program, or one given file capabilities, run by someone
 *    the new privileges do not belong to; the shim reaches one only
 *    through /etc/ld.so.preload): PMNODE_PRELOAD is the caller's, not the
 *    program's, and every setting in it is risky there (stats= names a
 *    file the privileged process replaces; log= prints the privileged
 *    process's addresses; node=, kind=, private, spill= and threshold=
 *    let the caller move its heap onto memory of the caller's choosing and
 *    make its malloc fail at a moment of the caller's choosing; the
 *    parser and discovery run with privileges).  So the shim ignores all
 *    of it and stays out of the way: the program gets the next allocator
 *    (glibc), as an unconfigured shim gives, silently, as glibc ignores
 *    its own MALLOC_ variables there.  Tests ask for the same behaviour
 *    without a set-user-ID binary by defining pmnode_preload_assume_secure
 *    (a non-zero const int) in the program: it can only turn the shim off.  A bad value or an unusable node stops
 *    the program with one line and exit status 2: the user asked for that
 *    memory, and running elsewhere silently would be a lie.
 *  - Exhaustion: malloc returns NULL with errno ENOMEM, never libc's memory
 *    (unless the configuration names a spill list).  A large block (over
 *    256 KiB) is bound to the node and faulted in by the program's first
 *    touch, as glibc leaves it unbacked; the node's room is checked at
 *    malloc, but a node that runs out later is the kernel's to answer at
 *    the fault.  "populate" in the configuration populates and verifies
 *    every large block at malloc instead (ENOMEM there).
 *  - fork: the arena's locks (and the publisher's) are taken around fork,
 *    by libpmnode's own handlers (alloc/fork.c), so the child never
 *    inherits one held by a thread that does not exist there.
 *
 * Global state is allowed here (and only here): the arena, the
 * configuration, and the call counters for stats=PATH.
 *
 * publish (issue 18): the arena's counters are published as "shim" in
 * the file pmn_publish(3) describes, for pmnode top; a forked child
 * publishes its own.  A directory that fails the checks stops the program
 * with one line, as a bad value does.
 *
 * stats=PATH fields: calls (the program's calls of each function, not
 * libpmnode's own), pmnode_bytes (bytes in live arena objects at exit),
 * peak_bytes (most bytes the arena held from the node), populated_bytes
 * and active_bytes (pmn_alloc_stats' populated and active: what of it is
 * memory, and what pages in use take), bytes_per_node
 * (bytes the arena holds from each node at exit), libc_calls (requests
 * served by the next allocator, glibc's: below the threshold),
 * foreign_frees (frees handed to it: its objects).  A process
 * that ends with _exit() runs no destructor and writes no stats.  The
 * file is written by os/ (pmn_prim_write_report): a new file renamed over
 * PATH, never through a symbolic or hard link (a symbolic link at PATH is
 * refused with one line); a character device or FIFO is appended to, and
 * /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N are the
 * program's open descriptors.  For N > 2 the report goes only to the file
 * that was open on N when the program started: a number the program
 * closed, or closed and used again for a file of its own, gets nothing
 * (one line says so).
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "alloc/heap.h"
#include "alloc/publish.h"
#include "alloc/segmap.h"
#include "os/prim.h"
#include "preload/config.h"
#include "pmnode.h"

#define EXPORT __attribute__((visibility("default")))

/* glibc's own entry points: the next allocator when the dynamic linker
 * cannot name one (it always can in a dynamically linked program). */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern char **environ;

enum call {
    C_MALLOC,
    C_CALLOC,
    C_REALLOC,
    C_FREE,
    C_POSIX_MEMALIGN,
    C_ALIGNED_ALLOC,
    C_MEMALIGN,
    C_VALLOC,
    C_PVALLOC,
    C_REALLOCARRAY,
    C_USABLE,
    C__COUNT
};
static const char *const call_names[C__COUNT] = {
    "malloc",   "calloc", "realloc", "free",         "posix_memalign",     "aligned_alloc",
    "memalign", "valloc", "pvalloc", "reallocarray", "malloc_usable_size",
};

static struct {
    atomic_int active; /* the arena serves requests */
    atomic_int fast;   /* active and no stats: malloc and free may take their fast paths */
    struct pmn_arena *arena;
    struct pmn_backing *backing;
    struct pmn_ctx *ctx;
    size_t threshold;
    bool publish; /* publish: pmn_publish(3), started again in a forked child */
    bool stats;
    char stats_path[PMN__PRELOAD_STATS_MAX];
    /* stats=/dev/fd/N (N > 2): the file open there at start, so that the
     * report never lands in a file the program opened later on the same
     * number; stats_open false if N was not open at start. */
    bool stats_open;
    uint64_t stats_dev, stats_ino;
    char target[128];
    int log_level;
    size_t page;
    _Atomic uint64_t calls[C__COUNT];
    _Atomic uint64_t libc_calls, foreign_frees;
} S;

/* The thread's shim state, in one initial-exec TLS block so that the
 * fast paths find it with one GOT load:
 *   guard    set while the thread is inside the arena (or libpmnode's own
 *            calls): those go to glibc, a signal handler's free waits.
 *   pending  arena objects a signal handler freed while this thread was
 *            inside the arena, linked through their first word; freed
 *            when the thread leaves.
 *   th       the thread's theap of the arena, or NULL (arena_call_malloc). */
static __thread struct {
    int guard;
    void *_Atomic pending;
    struct pmn__theap *th;
} T __attribute__((tls_model("initial-exec")));

/* Calls libpmnode makes for itself (guard set) are not the program's. */
#define COUNT(c)                                                             \
    do {                                                                     \
        if (S.stats && !T.guard)                                             \
            atomic_fetch_add_explicit(&S.calls[c], 1, memory_order_relaxed); \
    } while (0)
#define COUNT_LIBC()                                                           \
    do {                                                                       \
        if (S.stats && !T.guard)                                               \
            atomic_fetch_add_explicit(&S.libc_calls, 1, memory_order_relaxed); \
    } while (0)

/* pmn__unbind_hook: the calling thread's theap of some heap is being
 * unbound (its exit): if it is the one the fast paths cache, they drop it,
 * so that T.th is always a theap bound to this thread. */
static void drop_cached_theap(struct pmn__theap *th)
{
    if (T.th == th)
        T.th = NULL;
}

/* ---- messages without stdio's buffers ---- */

static void say(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    (void)!write(2, line, (size_t)n);
}

static void late_double_free(void *p);

__attribute__((noreturn)) static void die(const char *fmt, ...)
{
    char line[480];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    say("pmnode-preload: %s", line);
    _exit(2);
}

/* ---- configuration ---- */

/* The tests' hook: defined (non-zero) by a program that wants the shim to
 * behave as in secure-execution mode. */
extern const int pmnode_preload_assume_secure __attribute__((weak));

/* Secure-execution mode: the configuration comes from someone else than
 * the privileges the program runs with, and is ignored whole. */
static bool secure_execution(void)
{
    return getauxval(AT_SECURE) != 0 ||
           (&pmnode_preload_assume_secure != NULL && pmnode_preload_assume_secure != 0);
}

static const char *env_value(const char *name)
{
    size_t n = strlen(name);

    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* A bad configuration stops the program: one line, exit status 2. */
static void parse_config(const char *text, struct pmn__preload_config *c)
{
    struct pmn__preload_error e;

    if (pmn__preload_parse(text, strlen(text), c, &e) != 0)
        die("%s", e.msg);
}

static int node_with_memory(struct pmn_ctx *ctx, int id)
{
    const struct pmn_node *n = pmn_node_get(ctx, id);

    if (n == NULL)
        return PMN_E_NO_NODE;
    if (pmn_node_capacity(n) == 0)
        return PMN_E_NOT_MEMORY_NODE;
    return 0;
}

static int choose_node(struct pmn_ctx *ctx, const struct pmn__preload_config *c)
{
    int ids[256], err, id = -1;
    size_t n;

    switch (c->target) {
    case PMN__PRELOAD_NODE:
        err = node_with_memory(ctx, c->node);
        if (err)
            die("node %d: %s", c->node, pmn_strerror(err));
        return c->node;
    case PMN__PRELOAD_KIND:
        n = pmn_nodes_of_kind(ctx, c->kind, ids, 256);
        for (size_t i = 0; i < n && i < 256 && id < 0; i++)
            if (node_with_memory(ctx, ids[i]) == 0)
                id = ids[i];
        if (id < 0)
            die("kind=%s: no node of that kind with memory", pmn_kind_name(c->kind));
        return id;
    case PMN__PRELOAD_PRIVATE: {
        int cpu = sched_getcpu();
        err = pmn_nearest_private_to_cpu(ctx, cpu < 0 ? 0 : cpu, &id);
        if (err == PMN_E_UNKNOWN || err == PMN_E_NO_NODE) {
            const struct pmn_node *nd;
            pmn_node_foreach (ctx, nd)
                if (id < 0 && pmn_node_is_private(nd) && pmn_node_capacity(nd) != 0)
                    id = pmn_node_id(nd);
            err = id < 0 ? PMN_E_NO_MATCH : 0;
        }
        if (err)
            die("private: %s (mark nodes private with PMNODE_PRIVATE_NODES)", pmn_strerror(err));
        return id;
    }
    case PMN__PRELOAD_NONE: break;
    }
    die("no target");
}

/* ---- the allocator below the arena ---- */

/* The next allocator's functions, looked up once (state 0: not yet,
 * 1: one thread is looking them up, 2: ready).  Global: one per process,
 * as the program's malloc is. */
static struct {
    atomic_int state;
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void (*free)(void *);
    void *(*memalign)(size_t, size_t);
    size_t (*usable)(void *); /* may be NULL: an allocator without it */
    int (*trim)(size_t);      /* malloc_trim; may be NULL, as usable */
} N;
/* This thread is looking them up: its requests come from boot[]. */
static __thread int resolving __attribute__((tls_model("initial-exec")));

/* Requests made while dlsym runs (it may allocate): a bump area, each
 * object preceded by its size, never reused (global: any thread's first
 * call may be the one that looks the functions up). */
static _Alignas(64) unsigned char boot[16 << 10];
static atomic_size_t boot_used;

static void *boot_alloc(size_t align, size_t size)
{
    size_t a = align < 16 ? 16 : align, off = atomic_load(&boot_used), start;

    do {
        start = (off + sizeof(size_t) + a - 1) & ~(a - 1);
        if (start > sizeof(boot) || size > sizeof(boot) - start)
            return NULL;
    } while (!atomic_compare_exchange_weak(&boot_used, &off, start + size));
    memcpy(boot + start - sizeof(size_t), &size, sizeof(size));
    return boot + start;
}

static inline bool in_boot(const void *p)
{
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof(boot);
}

static size_t boot_size(const void *p)
{
    size_t n;

    memcpy(&n, (const unsigned char *)p - sizeof(size_t), sizeof(n));
    return n;
}

/* Look the next allocator up; false when this thread is already doing so
 * (dlsym asked for memory: serve it from boot[]). */
static bool next_resolve(void)
{
    int state = 0;
    void *m, *c, *r, *f, *a;

    if (resolving)
        return false;
    if (!atomic_compare_exchange_strong(&N.state, &state, 1)) {
        while (atomic_load_explicit(&N.state, memory_order_acquire) != 2)
            sched_yield(); /* another thread is looking them up */
        return true;
    }
    resolving = 1;
    m = dlsym(RTLD_NEXT, "malloc");
    c = dlsym(RTLD_NEXT, "calloc");
    r = dlsym(RTLD_NEXT, "realloc");
    f = dlsym(RTLD_NEXT, "free");
    a = dlsym(RTLD_NEXT, "memalign");
    *(void **)&N.usable = dlsym(RTLD_NEXT, "malloc_usable_size");
    *(void **)&N.trim = dlsym(RTLD_NEXT, "malloc_trim");
    resolving = 0;
    if (m && c && r && f && a) {
        *(void **)&N.malloc = m;
        *(void **)&N.calloc = c;
        *(void **)&N.realloc = r;
        *(void **)&N.free = f;
        *(void **)&N.memalign = a;
    } else { /* all from one allocator or none: glibc's */
        N.malloc = __libc_malloc;
        N.calloc = __libc_calloc;
        N.realloc = __libc_realloc;
        N.free = __libc_free;
        N.memalign = __libc_memalign;
        N.usable = NULL;
        N.trim = NULL;
    }
    atomic_store_explicit(&N.state, 2, memory_order_release);
    return true;
}

static inline bool next_ready(void)
{
    return __builtin_expect(atomic_load_explicit(&N.state, memory_order_acquire) == 2, 1) ||
           next_resolve();
}

static void *next_malloc(size_t size)
{
    return next_ready() ? N.malloc(size) : boot_alloc(16, size);
}

static void *next_calloc(size_t n, size_t size)
{
    size_t total;

    if (next_ready())
        return N.calloc(n, size);
    /* boot[] is static memory never reused: already zero */
    return __builtin_mul_overflow(n, size, &total) ? NULL : boot_alloc(16, total);
}

/* At least one byte: jemalloc's memalign(align, 0) answers a pointer that
 * is not aligned (Debian 12's; its posix_memalign is right), and every
 * aligned entry point of the program comes here. */
static void *next_memalign(size_t align, size_t size)
{
    size = size != 0 ? size : 1;
    return next_ready() ? N.memalign(align, size) : boot_alloc(align, size);
}

static void next_free(void *p)
{
    if (!in_boot(p) && next_ready())
        N.free(p);
}

/* Bytes usable in a block of the next allocator (or of boot[]); 0 when
 * it cannot say. */
static size_t next_usable(void *p)
{
    if (in_boot(p))
        return boot_size(p);
    return next_ready() && N.usable != NULL ? N.usable(p) : 0;
}

static void *next_realloc(void *p, size_t size)
{
    size_t have;
    void *q;

    if (!in_boot(p))
        return next_ready() ? N.realloc(p, size) : NULL;
    if ((q = next_malloc(size)) != NULL) {
        have = boot_size(p);
        memcpy(q, p, have < size ? have : size);
    }
    return q;
}

/* ---- the malloc the program calls ---- */

/* Whether @fn is code of this library (a reference to "malloc" here
 * would go through the GOT to whichever malloc the program gets). */
static bool ours_fn(void *fn)
{
    Dl_info a, b;

    return dladdr(fn, &a) != 0 && dladdr((void *)(uintptr_t)ours_fn, &b) != 0 &&
           a.dli_fbase == b.dli_fbase;
}

/* Call the program's malloc once, as the program would, and say whether
 * the call reached this library's; when it did not, *@who names the
 * library that served it.  Runs in the constructor before the arena is
 * active: the probe's malloc, if it arrives, goes to the next allocator,
 * and the call counters (on for the probe, then zeroed) see it, so the
 * malloc fast path carries nothing for this. */
static bool reaches_us(const char **who)
{
    void *(*get)(size_t) = NULL;
    void (*put)(void *) = NULL;
    bool reached;
    Dl_info info;
    void *p;

    *(void **)&get = dlsym(RTLD_DEFAULT, "malloc");
    *(void **)&put = dlsym(RTLD_DEFAULT, "free");
    if (get == NULL || put == NULL || ours_fn((void *)(uintptr_t)get))
        return true;
    S.stats = true;
    T.guard = 0;
    p = get(1);
    reached = atomic_load(&S.calls[C_MALLOC]) != 0;
    put(p);
    T.guard = 1;
    S.stats = false;
    for (int c = 0; c < C__COUNT; c++)
        atomic_store(&S.calls[c], 0);
    atomic_store(&S.libc_calls, 0);
    atomic_store(&S.foreign_frees, 0);
    *who = dladdr((void *)(uintptr_t)get, &info) != 0 && info.dli_fname != NULL
               ? info.dli_fname
               : "another library";
    return reached;
}

/* An allocator preloaded before this library serves the program's malloc:
 * nothing would be placed, so stop. */
static void check_program_malloc(int target)
{
    const char *who = NULL;

    if (!reaches_us(&who))
        die("malloc is %s's, preloaded before libpmnode-preload.so: the heap cannot be "
            "placed on node %d (put libpmnode-preload.so first in LD_PRELOAD)",
            who, target);
}

/* ---- fork ---- */

static void drain_pending(void);

/* The fork handlers' guard goes down by one (fork_prepare raised it on top
 * of whatever the caller had), and the frees handlers deferred meanwhile
 * are done once it is down. */
static void fork_guard_down(void)
{
    if (--T.guard == 0 &&
        __builtin_expect(atomic_load_explicit(&T.pending, memory_order_relaxed) != NULL, 0))
        drain_pending();
}

/* From the prepare handler to the parent's or the child's, the forking
 * thread holds the arena's locks (so that the child gets them free):
 * libpmnode's own handlers (alloc/fork.c) take and release them, and run
 * inside these ones because they were registered first (when the arena
 * was made).  The guard is up over that stretch, so that a signal handler's free there is
 * deferred (done when the guard drops) and its malloc goes to the next
 * allocator, instead of waiting for a lock its own thread holds.  A fork
 * takes tens of microseconds, and a signal that arrives meanwhile runs as
 * the system call returns, before the parent's handler. */
static void fork_prepare(void)
{
    T.guard++;
}

static void fork_parent(void)
{
    fork_guard_down();
}

static void fork_child(void)
{
    /* publish: the parent's file stays the parent's; the child gets its
     * own (a failure here only leaves the child unpublished). */
    if (S.publish)
        (void)pmn_publish_start(0);
    /* Frees a handler deferred before the fork are the child's to do as
     * well: it has the same blocks. */
    fork_guard_down();
}

/* ---- life cycle ---- */

__attribute__((constructor(101))) static void preload_init(void)
{
    const char *text;
    struct pmn_ctx_params *cp = NULL;
    struct pmn_backing_params *bp = NULL;
    struct pmn__preload_config c;
    int nodes[PMN_STATS_MAX_NODES], err, target, fd;
    size_t nn = 0;

    S.page = (size_t)sysconf(_SC_PAGESIZE);
    text = env_value("PMNODE_PRELOAD");
    if (text == NULL || *text == '\0')
        return; /* preloaded but not configured: stay out of the way */
    if (secure_execution())
        return; /* the caller's configuration, the program's privileges */
    T.guard = 1;
    parse_config(text, &c);
    if (pmn_ctx_params_new(&cp) != 0 || pmn_ctx_params_set_flags(cp, PMN_CTX_NO_HWLOC) != 0)
        die("out of memory");
    err = pmn_ctx_new_params(&S.ctx, cp);
    pmn_ctx_params_free(cp);
    if (err)
        die("cannot discover NUMA nodes: %s", pmn_strerror(err));
    target = choose_node(S.ctx, &c);
    nodes[nn++] = target;
    for (size_t i = 0; i < c.nspill; i++) {
        err = node_with_memory(S.ctx, c.spill[i]);
        if (err)
            die("spill node %d: %s", c.spill[i], pmn_strerror(err));
        /* config.c refuses repeats, and the target when named by node=;
         * a kind= or private target is known only now. */
        if (c.spill[i] == target)
            die("spill lists node %d, the target", target);
        nodes[nn++] = c.spill[i];
    }
    if (pmn_backing_params_new(&bp) != 0 || pmn_backing_params_set_spill(bp, nodes, nn) != 0)
        die("out of memory");
    err = pmn_backing_new(S.ctx, bp, &S.backing);
    pmn_backing_params_free(bp);
    if (err)
        die("node %d: %s", target, pmn_strerror(err));
    {
        /* populate: every large block populated and verified at malloc
         * (ENOMEM there); else bound to the node and faulted in by the
         * program's first touch.  large_cache=: the freed-extent cache.
         * small_cache=: the small-page cache, 0 unless given (the
         * library's default is 16 MiB): a program's emptied pages give
         * their memory back beyond the slack, as glibc's heap trims
         * (issue 17's RSS line is 1.1x glibc's; bench/shim). */
        struct pmn_arena_opts ao = {.struct_size = sizeof(ao),
                                    .retain = 2,
                                    .flags = (c.populate ? PMN_ARENA_POPULATE : 0u) |
                                             (c.large_cache_set ? PMN_ARENA_LARGE_CACHE : 0u) |
                                             PMN_ARENA_SMALL_CACHE,
                                    .large_cache_bytes = c.large_cache,
                                    .small_cache_bytes = c.small_cache};
        err = pmn_arena_new(S.backing, &ao, &S.arena);
    }
    if (err)
        die("arena on node %d: %s", target, pmn_strerror(err));
    pmn__arena_on_misuse(S.arena, late_double_free);
    pmn__unbind_hook = drop_cached_theap;
    /* Map the first extent now: a node that cannot give memory stops the
     * program here, with a reason, not at some later malloc. */
    {
        void *probe = pmn_arena_malloc(S.arena, 16);
        if (probe == NULL)
            die("node %d cannot give memory (full, or outside this cpuset): %s", target,
                strerror(errno));
        pmn_free(probe);
    }
    S.threshold = c.threshold;
    S.log_level = c.log_level;
    /* Before the stats counters start: these calls are not the program's. */
    check_program_malloc(target);
    /* publish (issue 18): the arena's counters in a file pmnode top reads
     * (pmn_publish(3)); never reached in secure-execution mode (above). */
    if (c.publish) {
        err = pmn_publish_arena(S.arena, "shim");
        if (err == 0)
            err = pmn_publish_start(0);
        if (err) {
            char dir[256] = "?";
            (void)pmn__publish_dir(dir, sizeof(dir), (unsigned)geteuid());
            die("publish: %s: %s", dir, pmn_strerror(err));
        }
        S.publish = true;
    }
    S.stats = c.stats[0] != '\0';
    memcpy(S.stats_path, c.stats, sizeof(S.stats_path));
    if (S.stats && (fd = pmn__parse_fd_path(S.stats_path)) > 2)
        S.stats_open = pmn_prim_file_id(fd, &S.stats_dev, &S.stats_ino, NULL) == 0;
    snprintf(S.target, sizeof(S.target), "node=%d", target);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    if (S.log_level >= 3)
        say("pmnode-preload: heap on node %d, threshold %zu", target, S.threshold);
    atomic_store(&S.active, 1);
    atomic_store(&S.fast, !S.stats);
    T.guard = 0;
}

/* stats=PATH; "%p" in PATH becomes the process id (fork and exec chains).
 * The file is replaced whole (os/: a new file renamed over PATH), never
 * written through a symbolic or hard link; a character device or FIFO is
 * appended to. */
static void write_stats(void)
{
    char path[PATH_MAX], buf[4096], nodes[1024] = "";
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};
    size_t used = 0, o = 0;
    int fd, n, err;

    for (const char *s = S.stats_path; *s; s++) {
        n = s[0] == '%' && s[1] == 'p' ? snprintf(path + o, sizeof(path) - o, "%d", (int)getpid())
                                       : snprintf(path + o, sizeof(path) - o, "%c", *s);
        if (n < 0 || (size_t)n >= sizeof(path) - o) {
            say("pmnode-preload: stats: %s with %%p expanded is longer than %zu bytes",
                S.stats_path, sizeof(path) - 1);
            return;
        }
        o += (size_t)n;
        s += s[0] == '%' && s[1] == 'p';
    }
    path[o] = '\0';
    pmn_arena_stats(S.arena, &st);
    for (size_t i = 0; i < st.backing.nnodes; i++) {
        n = snprintf(nodes + used, sizeof(nodes) - used, "%s\"%d\": %llu", i ? ", " : "",
                     st.backing.node[i].node, (unsigned long long)st.backing.node[i].bytes);
        if (n < 0 || (size_t)n >= sizeof(nodes) - used)
            break;
        used += (size_t)n;
    }
    used = 0;
    n = snprintf(buf, sizeof(buf),
                 "{\"pid\": %d, \"target\": \"%s\", \"threshold\": %zu, \"calls\": {",
                 (int)getpid(), S.target, S.threshold);
    used = n > 0 ? (size_t)n : 0;
    for (int c = 0; c < C__COUNT && used < sizeof(buf); c++) {
        n = snprintf(buf + used, sizeof(buf) - used, "%s\"%s\": %llu", c ? ", " : "",
                     call_names[c], (unsigned long long)atomic_load(&S.calls[c]));
        used += n > 0 ? (size_t)n : 0;
    }
    if (used < sizeof(buf)) {
        n = snprintf(buf + used, sizeof(buf) - used,
                     "}, \"pmnode_bytes\": %llu, \"peak_bytes\": %llu, \"populated_bytes\": %llu, "
                     "\"active_bytes\": %llu, \"bytes_per_node\": {%s}, "
                     "\"libc_calls\": %llu, \"foreign_frees\": %llu}\n",
                     (unsigned long long)st.allocated, (unsigned long long)st.peak,
                     (unsigned long long)st.populated, (unsigned long long)st.active, nodes,
                     (unsigned long long)atomic_load(&S.libc_calls),
                     (unsigned long long)atomic_load(&S.foreign_frees));
        used += n > 0 ? (size_t)n : 0;
    }
    if (used >= sizeof(buf))
        used = sizeof(buf) - 1;
    /* /dev/stdout, /dev/fd/N, ...: the program's open descriptor (they are
     * symbolic links, which the stats file never goes through); a path in
     * /dev/fd that names none is written by name, and fails there. */
    fd = pmn__parse_fd_path(path);
    if (fd > 2) {
        uint64_t dev, ino;

        if (!S.stats_open) {
            say("pmnode-preload: stats: descriptor %d was not open when the program started: "
                "nothing written",
                fd);
            return;
        }
        if (pmn_prim_file_id(fd, &dev, &ino, NULL) != 0 || dev != S.stats_dev ||
            ino != S.stats_ino) {
            say("pmnode-preload: stats: descriptor %d is no longer the file open there at "
                "start (the program closed it, or opened another file on it): nothing written",
                fd);
            return;
        }
    }
    err = fd >= 0 ? pmn_prim_write_all(fd, buf, used) : pmn_prim_write_report(path, buf, used);
    if (err == -ELOOP)
        say("pmnode-preload: stats: %s is a symbolic link: not followed, nothing written", path);
    else if (err)
        say("pmnode-preload: stats: cannot write %s: %s", path, strerror(-err));
}

__attribute__((destructor)) static void preload_fini(void)
{
    if (atomic_load(&S.active) && S.stats) {
        T.guard = 1;
        write_stats();
        T.guard = 0;
    }
    /* The arena stays: other destructors and atexit handlers may still
     * free objects, and the process is about to end anyway. */
}

/* ---- the malloc family ---- */

static inline bool ours(size_t size)
{
    return !T.guard && atomic_load_explicit(&S.active, memory_order_acquire) &&
           size >= S.threshold;
}

/* Whether @p lies in one of the arena's segments.  Lock-free and
 * signal-safe (the segment map is read with atomic loads). */
static inline bool in_arena(const void *p)
{
    return pmn__segmap_lookup((uintptr_t)p) != 0;
}

/* What pmn_free said about @p, acted on. */
static void free_result(void *p, int err)
{
    if (err == PMN_E_FOREIGN) {
        if (S.stats)
            atomic_fetch_add_explicit(&S.foreign_frees, 1, memory_order_relaxed);
        next_free(p);
    } else if (err == PMN_E_DOUBLE_FREE) {
        /* As glibc does: the program's heap is not what it believes. */
        say("pmnode-preload: free(): double free of %p detected; aborting", p);
        abort();
    } else if (err == PMN_E_INTERIOR) {
        say("pmnode-preload: free(): invalid pointer %p (inside an object); aborting", p);
        abort();
    }
}

/* A double free the heap could only see later (two threads freeing one
 * object at the same instant): as fatal as one seen at once. */
static void late_double_free(void *p)
{
    say("pmnode-preload: free(): double free of %p detected (by two threads); aborting", p);
    abort();
}

/* A signal handler's free of @p while this thread is inside the arena:
 * onto the pending list (a nested handler's push, between our load and
 * our swap, makes the swap fail and we retry). */
static void defer_free(void *p)
{
    void *head = atomic_load_explicit(&T.pending, memory_order_relaxed);

    do
        *(void **)p = head;
    while (!atomic_compare_exchange_weak_explicit(&T.pending, &head, p, memory_order_release,
                                                  memory_order_relaxed));
}

/* Free what handlers deferred, with the guard up around each free (a
 * handler arriving meanwhile defers again, and the loop takes it). */
static void drain_pending(void)
{
    int saved = errno;
    void *p;

    while ((p = atomic_exchange_explicit(&T.pending, NULL, memory_order_acquire)) != NULL) {
        while (p != NULL) {
            void *next = *(void **)p; /* before the free reuses the object */
            int err;

            T.guard = 1;
            err = pmn_free(p);
            T.guard = 0;
            free_result(p, err);
            p = next;
        }
    }
    errno = saved;
}

/* Leave the arena: the guard drops, then deferred frees are done. */
static inline void leave(void)
{
    T.guard = 0;
    if (__builtin_expect(atomic_load_explicit(&T.pending, memory_order_relaxed) != NULL, 0))
        drain_pending();
}

/* The end of a call into the arena, which the caller entered by setting
 * guard: the guard drops, and a failure reads as malloc's (errno ENOMEM). */
static inline void *from_arena(void *p)
{
    leave();
    if (p == NULL)
        errno = ENOMEM;
    return p;
}

/* The calling thread's theap of the arena, or NULL: one initial-exec load
 * instead of the arena's heap and its thread cache.  Never stale: the
 * engine tells drop_cached_theap() before the theap is unbound, so the
 * fast paths need not check that it is still this thread's. */

static void *arena_call_malloc(size_t size)
{
    struct pmn__theap *th = T.th;
    bool mine = th != NULL;
    void *p;

    T.guard = 1; /* a signal handler's free must not meet a half-done pop */
    if (__builtin_expect(mine && size <= PMN__SMALL_MAX, 1) &&
        (p = pmn__theap_pop(th, pmn__arena_class(size))) != NULL) {
        leave();
        return p;
    }
    p = pmn_arena_malloc(S.arena, size);
    /* Looked up again only when the cached theap was missing or stale,
     * not on every large block or page refill. */
    if (!mine)
        T.th = pmn__theap_find(pmn__arena_heap(S.arena));
    return from_arena(p);
}

/* malloc, for the program and for operator new */
static void *malloc_counted(size_t size)
{
    COUNT(C_MALLOC);
    if (!ours(size)) {
        COUNT_LIBC();
        return next_malloc(size);
    }
    return arena_call_malloc(size);
}

/* A pop done while a signal handler deferred a free: drain, then hand
 * the block out (apart, so that malloc's fast path stays a leaf). */
static __attribute__((noinline)) void *drain_then(void *p)
{
    drain_pending();
    return p;
}

/* The common case in a leaf (no call, no stack frame): the thread's
 * cached theap, its current page of the class has a free block.  Anything
 * else, stats included, is malloc_counted's, which decides from scratch. */
EXPORT void *malloc(size_t size)
{
    struct pmn__theap *th = T.th;
    void *p;

    if (__builtin_expect(!T.guard && atomic_load_explicit(&S.fast, memory_order_acquire) &&
                             th != NULL && size <= PMN__SMALL_MAX && size >= S.threshold,
                         1)) {
        T.guard = 1; /* a signal handler's free must not meet a half-done pop */
        p = pmn__theap_pop(th, pmn__arena_class(size));
        T.guard = 0;
        if (__builtin_expect(p != NULL, 1)) {
            if (__builtin_expect(atomic_load_explicit(&T.pending, memory_order_relaxed) != NULL,
                                 0))
                return drain_then(p);
            return p;
        }
    }
    return malloc_counted(size);
}

/* Everything free() does beyond its leaf fast path, with the guard up:
 * the engine's whole free path (pmn__heap_free_slow, which pmn_free()
 * reaches after its own inline part), not pmn__heap_free(), whose inline
 * part would look the block up again only to find what the leaf found. */
static __attribute__((noinline)) void free_entered(void *p)
{
    int err = pmn__heap_free_slow(p, NULL, NULL);

    leave();
    if (__builtin_expect(err != 0, 0))
        free_result(p, err);
}

/* libpmnode freeing its own (glibc) memory, or a signal handler that
 * interrupted this thread inside the arena. */
static __attribute__((noinline)) void free_guarded(void *p)
{
    if (in_arena(p)) {
        /* the program's call: COUNT skipped it for the guard */
        if (S.stats)
            atomic_fetch_add_explicit(&S.calls[C_FREE], 1, memory_order_relaxed);
        defer_free(p);
    } else {
        next_free(p);
    }
}

/* Inlined in free(): the program's most frequent call with malloc.  The
 * owner's free of a block is a leaf (pmn__heap_free_owned); every other
 * case, with the guard still up, goes to free_entered. */
static inline __attribute__((always_inline)) void free_any(void *p)
{
    if (p == NULL)
        return;
    if (T.guard) {
        free_guarded(p);
        return;
    }
    T.guard = 1;
    if (__builtin_expect(pmn__heap_free_owned(p, T.th), 1)) {
        T.guard = 0;
        if (__builtin_expect(atomic_load_explicit(&T.pending, memory_order_relaxed) != NULL, 0))
            drain_pending();
        return;
    }
    free_entered(p);
}

EXPORT void free(void *p)
{
    COUNT(C_FREE);
    free_any(p);
}

EXPORT void *calloc(size_t n, size_t size)
{
    size_t total;

    COUNT(C_CALLOC);
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (!ours(total)) {
        COUNT_LIBC();
        return next_calloc(n, size);
    }
    T.guard = 1;
    return from_arena(pmn_arena_calloc(S.arena, n, size));
}

/* Usable bytes of @p; *@mine: it lies in the arena.  An arena pointer that
 * is not a live object (freed, or inside one) gives 0 and never reaches the
 * next allocator, whose malloc_usable_size would read our memory as its
 * chunk header.  (pmn__segment_of, not in_arena(): a large segment's last
 * 4 MiB slot may end in another allocator's memory.) */
static size_t usable(void *p, bool *mine)
{
    size_t u;

    T.guard = 1;
    u = pmn_usable_size(p);
    *mine = u != 0 || pmn__segment_of(p) != NULL;
    leave();
    return *mine ? u : next_usable(p);
}

static void *realloc_any(void *p, size_t size)
{
    bool mine;
    size_t have;
    void *q;

    if (p == NULL)
        return malloc(size);
    if (T.guard) {
        if (in_arena(p)) { /* a signal handler's, inside the arena: cannot wait */
            errno = ENOMEM;
            return NULL;
        }
        return next_realloc(p, size);
    }
    have = usable(p, &mine);
    if (mine && have == 0) {
        /* In the arena but not a live object: freed already, or a pointer
         * into one.  glibc stops here too. */
        say("pmnode-preload: realloc(): invalid pointer %p; aborting", p);
        abort();
    }
    if (size == 0) { /* glibc's realloc(p, 0): free and return NULL */
        free_any(p);
        return NULL;
    }
    if (!mine && (!ours(size) || have == 0)) /* have 0: cannot copy it out */
        return next_realloc(p, size);
    if (mine) {
        T.guard = 1;
        q = from_arena(pmn_realloc(p, size));
        return q;
    }
    /* A libc object grows past the threshold: move it into the arena. */
    q = arena_call_malloc(size);
    if (q == NULL)
        return NULL;
    memcpy(q, p, have < size ? have : size);
    next_free(p);
    return q;
}

EXPORT void *realloc(void *p, size_t size)
{
    COUNT(C_REALLOC);
    return realloc_any(p, size);
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;

    COUNT(C_REALLOCARRAY);
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc_any(p, total);
}

static void *aligned_any(size_t align, size_t size)
{
    if (!ours(size)) {
        COUNT_LIBC();
        return next_memalign(align, size);
    }
    T.guard = 1;
    return from_arena(pmn_arena_aligned_alloc(S.arena, align, size));
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    void *p;

    COUNT(C_POSIX_MEMALIGN);
    if (align == 0 || (align & (align - 1)) || align % sizeof(void *))
        return EINVAL;
    p = aligned_any(align, size);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

/* glibc's memalign and aligned_alloc take any alignment and round it up
 * to a power of two; programs rely on that, so the shim does the same. */
static void *memalign_compat(size_t align, size_t size)
{
    size_t a = sizeof(void *);

    if (align > (SIZE_MAX >> 1) + 1) {
        errno = EINVAL;
        return NULL;
    }
    while (a < align)
        a <<= 1;
    return aligned_any(a, size);
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
    COUNT(C_ALIGNED_ALLOC);
    return memalign_compat(align, size);
}

EXPORT void *memalign(size_t align, size_t size)
{
    COUNT(C_MEMALIGN);
    return memalign_compat(align, size);
}

EXPORT void *valloc(size_t size)
{
    COUNT(C_VALLOC);
    return aligned_any(S.page ? S.page : 4096, size);
}

EXPORT void *pvalloc(size_t size)
{
    size_t page = S.page ? S.page : 4096;

    COUNT(C_PVALLOC);
    if (size > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned_any(page, (size + page - 1) / page * page);
}

EXPORT size_t malloc_usable_size(void *p)
{
    bool mine;

    COUNT(C_USABLE);
    if (p == NULL)
        return 0;
    if (T.guard) /* pmn_usable_size only reads: safe inside the arena too */
        return in_arena(p) ? pmn_usable_size(p) : next_usable(p);
    return usable(p, &mine);
}

/* glibc's malloc_trim(3): the memory the arena keeps for reuse goes back
 * to the node (pmn_arena_trim: its retained empty extents' pages, the
 * slack of emptied pages, the large-extent cache), then the next
 * allocator trims what the shim passed to it.  1 when memory went back.
 * @pad is the next allocator's: the arena keeps no top to pad. */
EXPORT int malloc_trim(size_t pad)
{
    uint64_t released = 0;
    int next = 0;

    if (atomic_load_explicit(&S.active, memory_order_acquire) && !T.guard) {
        T.guard = 1;
        (void)pmn_arena_trim(S.arena, &released);
        leave();
    }
    if (next_ready() && N.trim != NULL)
        next = N.trim(pad);
    return released != 0 || next != 0;
}

/* ---- C++ operator new and delete ----
 * Defined here so that they are the program's whatever else is preloaded:
 * an allocator preloaded after this library (jemalloc) brings its own,
 * which do not call malloc, and its delete then met this library's
 * objects.  They mean what libstdc++'s mean: new loops on the
 * new-handler and throws std::bad_alloc (through the C++ runtime the
 * program has loaded; this file has unwind tables, -fexceptions), delete
 * is free, the nothrow forms return NULL.  A new-handler that throws from
 * a nothrow new ends the program (std::terminate), where libstdc++'s
 * would return NULL: C cannot catch. */

typedef void (*new_handler_fn)(void);

static new_handler_fn cxx_new_handler(void)
{
    new_handler_fn (*get)(void) = NULL;

    *(void **)&get = dlsym(RTLD_DEFAULT, "_ZSt15get_new_handlerv");
    return get != NULL ? get() : NULL;
}

__attribute__((noreturn)) static void cxx_bad_alloc(void)
{
    void (*thrower)(void) = NULL;

    *(void **)&thrower = dlsym(RTLD_DEFAULT, "_ZSt17__throw_bad_allocv");
    if (thrower != NULL)
        thrower();
    say("pmnode-preload: operator new: out of memory, and no C++ runtime to throw "
        "std::bad_alloc; aborting");
    abort();
}

/* @align 0: operator new's own alignment (malloc's). */
static void *cxx_new(size_t size, size_t align, bool nothrow)
{
    for (;;) {
        void *p;
        new_handler_fn h;

        if (align == 0) {
            p = malloc_counted(size ? size : 1);
        } else {
            COUNT(C_ALIGNED_ALLOC);
            p = memalign_compat(align, size ? size : 1);
        }
        if (p != NULL)
            return p;
        if ((h = cxx_new_handler()) == NULL) {
            if (nothrow)
                return NULL;
            cxx_bad_alloc();
        }
        h();
    }
}

static void cxx_delete(void *p)
{
    COUNT(C_FREE);
    free_any(p);
}

/* The Itanium C++ ABI's names (size_t is unsigned long: 'm'). */
EXPORT void *_Znwm(size_t n)
{
    return cxx_new(n, 0, false);
}
EXPORT void *_Znam(size_t n)
{
    return cxx_new(n, 0, false);
}
EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *t)
{
    (void)t;
    return cxx_new(n, 0, true);
}
EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *t)
{
    (void)t;
    return cxx_new(n, 0, true);
}
EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t a)
{
    return cxx_new(n, a, false);
}
EXPORT void *_ZnamSt11align_val_t(size_t n, size_t a)
{
    return cxx_new(n, a, false);
}
EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, const void *t)
{
    (void)t;
    return cxx_new(n, a, true);
}
EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, const void *t)
{
    (void)t;
    return cxx_new(n, a, true);
}
/* operator delete in all its forms: the size, alignment and nothrow tag
 * add nothing to a free here. */
#define DELETE_FORM(sym, params, ...) \
    EXPORT void sym params            \
    {                                 \
        __VA_ARGS__                   \
        cxx_delete(p);                \
    }
/* clang-format off */
DELETE_FORM(_ZdlPv, (void *p))
DELETE_FORM(_ZdaPv, (void *p))
DELETE_FORM(_ZdlPvm, (void *p, size_t n), (void)n;)
DELETE_FORM(_ZdaPvm, (void *p, size_t n), (void)n;)
DELETE_FORM(_ZdlPvRKSt9nothrow_t, (void *p, const void *t), (void)t;)
DELETE_FORM(_ZdaPvRKSt9nothrow_t, (void *p, const void *t), (void)t;)
DELETE_FORM(_ZdlPvSt11align_val_t, (void *p, size_t a), (void)a;)
DELETE_FORM(_ZdaPvSt11align_val_t, (void *p, size_t a), (void)a;)
DELETE_FORM(_ZdlPvmSt11align_val_t, (void *p, size_t n, size_t a), (void)n, (void)a;)
DELETE_FORM(_ZdaPvmSt11align_val_t, (void *p, size_t n, size_t a), (void)n, (void)a;)
DELETE_FORM(_ZdlPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t a, const void *t), (void)a, (void)t;)
DELETE_FORM(_ZdaPvSt11align_val_tRKSt9nothrow_t, (void *p, size_t a, const void *t), (void)a, (void)t;)
/* clang-format on */
