/*
 * preload.c - libpmnode-preload.so: the malloc family of an unmodified
 * program, served from a libpmnode arena on the node it was asked for.
 *
 *   LD_PRELOAD=libpmnode-preload.so PMNODE_PRELOAD="node=1;threshold=0" prog
 *
 * Design
 *  - This library carries its own copy of libpmnode (linked whole, hidden),
 *    so it depends on nothing but libc and needs no second library loaded.
 *  - Until the constructor has built the arena, and for every request below
 *    the threshold, the request goes to glibc (__libc_malloc and friends),
 *    which is always there.  free() asks libpmnode first: a pointer it does
 *    not own (libc's, or one from before the shim took over) goes to
 *    __libc_free.  The segment map makes that check safe and O(1).
 *  - libpmnode itself allocates (contexts, thread heaps, region records).
 *    A per-thread guard (initial-exec TLS: this library is never dlopen'ed)
 *    sends those calls to glibc, so the arena never re-enters itself.
 *  - Signal handlers: a handler that frees an arena object while its
 *    thread is inside the arena (guard set) must not re-enter it, so that
 *    free is deferred: the object goes on a per-thread list (linked through
 *    the object itself, no allocation, a compare-and-swap that nested
 *    handlers cannot break) and is freed when the thread leaves the arena.
 *    A handler that interrupts the program outside the arena frees at
 *    once.  POSIX does not make free async-signal-safe; this makes it work
 *    anyway.  A handler's malloc while the thread is inside the arena is
 *    served by glibc, and its realloc of an arena object fails (NULL,
 *    ENOMEM; the object stays valid): neither can wait.
 *  - Configuration is read once, in the constructor, by walking environ:
 *    no getenv, no allocation; config.c parses it (a pure function, so it
 *    is unit-tested and fuzzed).  A bad value or an unusable node stops
 *    the program with one line and exit status 2: the user asked for that
 *    memory, and running elsewhere silently would be a lie.
 *  - Exhaustion: malloc returns NULL with errno ENOMEM, never libc's memory
 *    (unless the configuration names a spill list).
 *  - fork: the arena's locks are taken around fork so the child never
 *    inherits one held by a thread that does not exist there.
 *
 * Global state is allowed here (and only here): the arena, the
 * configuration, and the call counters for stats=PATH.
 *
 * stats=PATH fields: calls (the program's calls of each function, not
 * libpmnode's own), pmnode_bytes (bytes in live arena objects at exit),
 * peak_bytes (most bytes the arena held from the node), bytes_per_node
 * (bytes the arena holds from each node at exit), libc_calls (requests
 * served by glibc: below the threshold), foreign_frees (frees handed to
 * glibc: its objects, or ones from before the shim started).  A process
 * that ends with _exit() runs no destructor and writes no stats.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc/heap.h"
#include "alloc/segmap.h"
#include "preload/config.h"
#include "pmnode.h"

#define EXPORT __attribute__((visibility("default")))

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern char **environ;

enum call {
    C_MALLOC, C_CALLOC, C_REALLOC, C_FREE, C_POSIX_MEMALIGN, C_ALIGNED_ALLOC, C_MEMALIGN,
    C_VALLOC, C_PVALLOC, C_REALLOCARRAY, C_USABLE, C__COUNT
};
static const char *const call_names[C__COUNT] = {
    "malloc", "calloc", "realloc", "free", "posix_memalign", "aligned_alloc", "memalign",
    "valloc", "pvalloc", "reallocarray", "malloc_usable_size",
};

static struct {
    atomic_int active;          /* the arena serves requests */
    struct pmn_arena *arena;
    struct pmn_backing *backing;
    struct pmn_ctx *ctx;
    size_t threshold;
    bool stats;
    char stats_path[512];
    char target[128];
    int log_level;
    size_t page;
    size_t (*libc_usable)(void *);
    _Atomic uint64_t calls[C__COUNT];
    _Atomic uint64_t libc_calls, foreign_frees;
} S;

static __thread int guard __attribute__((tls_model("initial-exec")));
/* Arena objects a signal handler freed while this thread was inside the
 * arena, linked through their first word; freed when the thread leaves. */
static __thread void *_Atomic pending __attribute__((tls_model("initial-exec")));

/* Calls libpmnode makes for itself (guard set) are not the program's. */
#define COUNT(c)                                                              \
    do {                                                                      \
        if (S.stats && !guard)                                                \
            atomic_fetch_add_explicit(&S.calls[c], 1, memory_order_relaxed);  \
    } while (0)
#define COUNT_LIBC()                                                          \
    do {                                                                      \
        if (S.stats && !guard)                                                \
            atomic_fetch_add_explicit(&S.libc_calls, 1, memory_order_relaxed); \
    } while (0)

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
            pmn_node_foreach(ctx, nd)
                if (id < 0 && pmn_node_is_private(nd) && pmn_node_capacity(nd) != 0)
                    id = pmn_node_id(nd);
            err = id < 0 ? PMN_E_NO_MATCH : 0;
        }
        if (err)
            die("private: %s (mark nodes private with PMNODE_PRIVATE_NODES)",
                pmn_strerror(err));
        return id;
    }
    case PMN__PRELOAD_NONE:
        break;
    }
    die("no target");
}

/* ---- fork ---- */

static void fork_prepare(void)
{
    if (atomic_load(&S.active))
        pmn__arena_fork(S.arena, 0);
}

static void fork_parent(void)
{
    if (atomic_load(&S.active))
        pmn__arena_fork(S.arena, 1);
}

static void fork_child(void)
{
    if (atomic_load(&S.active))
        pmn__arena_fork(S.arena, 2);
}

/* ---- life cycle ---- */

__attribute__((constructor(101))) static void preload_init(void)
{
    const char *text = env_value("PMNODE_PRELOAD");
    struct pmn_ctx_params *cp = NULL;
    struct pmn_backing_params *bp = NULL;
    struct pmn__preload_config c;
    int nodes[PMN_STATS_MAX_NODES], err, target;
    size_t nn = 0;

    S.page = (size_t)sysconf(_SC_PAGESIZE);
    if (text == NULL || *text == '\0')
        return; /* preloaded but not configured: stay out of the way */
    guard = 1;
    S.libc_usable = (size_t (*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
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
    err = pmn_arena_new(S.backing, NULL, &S.arena);
    if (err)
        die("arena on node %d: %s", target, pmn_strerror(err));
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
    S.stats = c.stats[0] != '\0';
    memcpy(S.stats_path, c.stats, sizeof(S.stats_path));
    snprintf(S.target, sizeof(S.target), "node=%d", target);
    S.log_level = c.log_level;
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    if (S.log_level >= 3)
        say("pmnode-preload: heap on node %d, threshold %zu", target, S.threshold);
    atomic_store(&S.active, 1);
    guard = 0;
}

/* stats=PATH; "%p" in PATH becomes the process id (fork and exec chains). */
static void write_stats(void)
{
    char path[600], buf[4096], nodes[1024] = "";
    struct pmn_alloc_stats st;
    size_t used = 0, o = 0;
    int fd, n;

    for (const char *s = S.stats_path; *s && o < sizeof(path) - 24; s++) {
        if (s[0] == '%' && s[1] == 'p') {
            o += (size_t)snprintf(path + o, sizeof(path) - o, "%d", (int)getpid());
            s++;
        } else {
            path[o++] = *s;
        }
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
    n = snprintf(buf, sizeof(buf), "{\"pid\": %d, \"target\": \"%s\", \"threshold\": %zu, \"calls\": {",
                 (int)getpid(), S.target, S.threshold);
    used = n > 0 ? (size_t)n : 0;
    for (int c = 0; c < C__COUNT && used < sizeof(buf); c++) {
        n = snprintf(buf + used, sizeof(buf) - used, "%s\"%s\": %llu", c ? ", " : "",
                     call_names[c], (unsigned long long)atomic_load(&S.calls[c]));
        used += n > 0 ? (size_t)n : 0;
    }
    if (used < sizeof(buf)) {
        n = snprintf(buf + used, sizeof(buf) - used,
                     "}, \"pmnode_bytes\": %llu, \"peak_bytes\": %llu, \"bytes_per_node\": {%s}, "
                     "\"libc_calls\": %llu, \"foreign_frees\": %llu}\n",
                     (unsigned long long)st.allocated, (unsigned long long)st.peak, nodes,
                     (unsigned long long)atomic_load(&S.libc_calls),
                     (unsigned long long)atomic_load(&S.foreign_frees));
        used += n > 0 ? (size_t)n : 0;
    }
    if (used >= sizeof(buf))
        used = sizeof(buf) - 1;
    /* A device or /proc path (say /dev/stderr) must not be truncated: it
     * may be the program's own redirected output. */
    fd = open(path,
              O_WRONLY | O_CREAT | O_CLOEXEC |
                  (strncmp(path, "/dev/", 5) == 0 || strncmp(path, "/proc/", 6) == 0 ? O_APPEND
                                                                                       : O_TRUNC),
              0644);
    if (fd < 0) {
        say("pmnode-preload: stats: cannot write %s: %s", path, strerror(errno));
        return;
    }
    (void)!write(fd, buf, used);
    close(fd);
}

__attribute__((destructor)) static void preload_fini(void)
{
    if (atomic_load(&S.active) && S.stats) {
        guard = 1;
        write_stats();
        guard = 0;
    }
    /* The arena stays: other destructors and atexit handlers may still
     * free objects, and the process is about to end anyway. */
}

/* ---- the malloc family ---- */

static inline bool ours(size_t size)
{
    return !guard && atomic_load_explicit(&S.active, memory_order_acquire) &&
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
        __libc_free(p);
    } else if (err == PMN_E_DOUBLE_FREE) {
        /* As glibc does: the program's heap is not what it believes. */
        say("pmnode-preload: free(): double free of %p detected; aborting", p);
        abort();
    }
}

/* A signal handler's free of @p while this thread is inside the arena:
 * onto the pending list (a nested handler's push, between our load and
 * our swap, makes the swap fail and we retry). */
static void defer_free(void *p)
{
    void *head = atomic_load_explicit(&pending, memory_order_relaxed);

    do
        *(void **)p = head;
    while (!atomic_compare_exchange_weak_explicit(&pending, &head, p, memory_order_release,
                                                  memory_order_relaxed));
}

/* Free what handlers deferred, with the guard up around each free (a
 * handler arriving meanwhile defers again, and the loop takes it). */
static void drain_pending(void)
{
    int saved = errno;
    void *p;

    while ((p = atomic_exchange_explicit(&pending, NULL, memory_order_acquire)) != NULL) {
        while (p != NULL) {
            void *next = *(void **)p; /* before the free reuses the object */
            int err;

            guard = 1;
            err = pmn_free(p);
            guard = 0;
            free_result(p, err);
            p = next;
        }
    }
    errno = saved;
}

/* Leave the arena: the guard drops, then deferred frees are done. */
static inline void leave(void)
{
    guard = 0;
    if (__builtin_expect(atomic_load_explicit(&pending, memory_order_relaxed) != NULL, 0))
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

static void *arena_call_malloc(size_t size)
{
    guard = 1;
    return from_arena(pmn_arena_malloc(S.arena, size));
}

EXPORT void *malloc(size_t size)
{
    COUNT(C_MALLOC);
    if (!ours(size)) {
        COUNT_LIBC();
        return __libc_malloc(size);
    }
    return arena_call_malloc(size);
}

static void free_any(void *p)
{
    int err;

    if (p == NULL)
        return;
    if (guard) {
        /* libpmnode freeing its own (glibc) memory, or a signal handler
         * that interrupted this thread inside the arena. */
        if (in_arena(p))
            defer_free(p);
        else
            __libc_free(p);
        return;
    }
    guard = 1;
    err = pmn_free(p);
    leave();
    free_result(p, err);
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
        return __libc_calloc(n, size);
    }
    guard = 1;
    return from_arena(pmn_arena_calloc(S.arena, n, size));
}

static size_t usable(void *p, bool *mine)
{
    size_t u;

    guard = 1;
    u = pmn_usable_size(p);
    leave();
    *mine = u != 0;
    if (u == 0 && S.libc_usable)
        u = S.libc_usable(p);
    return u;
}

static void *realloc_any(void *p, size_t size)
{
    bool mine;
    size_t have;
    void *q;

    if (p == NULL)
        return malloc(size);
    if (guard) {
        if (in_arena(p)) { /* a signal handler's, inside the arena: cannot wait */
            errno = ENOMEM;
            return NULL;
        }
        return __libc_realloc(p, size);
    }
    have = usable(p, &mine);
    if (size == 0) { /* glibc's realloc(p, 0): free and return NULL */
        free_any(p);
        return NULL;
    }
    if (!mine && !ours(size))
        return __libc_realloc(p, size);
    if (mine) {
        guard = 1;
        q = from_arena(pmn_realloc(p, size));
        return q;
    }
    /* A libc object grows past the threshold: move it into the arena. */
    q = arena_call_malloc(size);
    if (q == NULL)
        return NULL;
    memcpy(q, p, have < size ? have : size);
    __libc_free(p);
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
        return __libc_memalign(align, size);
    }
    guard = 1;
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
    if (guard) /* pmn_usable_size only reads: safe inside the arena too */
        return in_arena(p) ? pmn_usable_size(p) : S.libc_usable ? S.libc_usable(p) : 0;
    return usable(p, &mine);
}
