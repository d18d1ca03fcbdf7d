/*
 * publish.c - a process's arena and slab counters in a small file other
 * processes read (pmnode top): pmn_publish(3).
 *
 * Design
 *  - One file per process, mapped shared: a fixed header and
 *    PMN_PUBLISH_MAX_ENTRIES fixed entries (pmnode.h documents the layout),
 *    so a write is a few stores into the mapping and never a system call.
 *    It sits in alloc/ because what it writes is the heaps' counters
 *    (pmn__heap_stats); the file itself is made by os/ primitives.
 *  - A sequence lock guards the figures: seq odd while writing.  Readers
 *    in another process cannot take a lock of ours, and must never see
 *    half a write.
 *  - Writes come from pmn_publish_start/update and from the allocators'
 *    slow paths through pmn__publish_tick() (a new page for a size class,
 *    a large object), at most once per interval: the tick's first test is
 *    one relaxed load of a flag that is false unless publishing, then one
 *    clock read; only one thread writes (a trylock: a tick never waits).
 *    The malloc fast path never calls in.
 *  - Where: $XDG_RUNTIME_DIR/pmnode (secure_getenv: never in secure mode)
 *    or /dev/shm/pmnode-EUID, a directory checked to be ours and closed to
 *    others (pmn_prim_private_dir), the file created O_EXCL | O_NOFOLLOW.
 *    No descriptor stays open (the program may close and reuse any number
 *    it did not open): the directory is opened again to remove the file,
 *    and only the file made (device and inode) is removed.  A start also
 *    removes the files killed processes left there (prune_one, below).
 *  - Secure-execution mode (AT_SECURE) refuses unless the program said
 *    PMN_PUBLISH_SECURE_OK: pmn__publish_allowed() is the one decision,
 *    and pmn__publish_force_secure lets the unit tests force the flag.
 *  - fork: P.lock is held across fork() (pmn__publish_fork, from
 *    fork.c's handlers), so the child never inherits it locked by another
 *    thread; the child's handler drops the mapping of the parent's file
 *    (without removing the file) and stops the ticks.  The writer also
 *    checks its pid on every write, for a child of a fork that ran no
 *    handlers (vfork, clone).
 *
 * Process-wide state (P below): one stats file per process is the point
 * of the interface (a reader looks a process up by pid), and the slow
 * paths that write it have nothing but their heap to go on.  Guarded by
 * P.lock; P.on and P.last are atomics read without it.
 *
 * Lock order: P.lock, then a heap's lock (pmn__heap_stats).  The heap
 * calls in (tick, forget) hold no heap lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "alloc/publish.h"
#include "alloc/heap.h"
#include "core/core.h"
#include "os/prim.h"
#include "pmnode.h"

#define PUBLISH_INTERVAL_MS 100u
#define FILE_SIZE                        \
    (sizeof(struct pmn_publish_header) + \
     PMN_PUBLISH_MAX_ENTRIES * sizeof(struct pmn_publish_entry))

_Static_assert(sizeof(struct pmn_publish_header) == 128, "the header is 128 bytes");
_Static_assert(sizeof(struct pmn_publish_entry) == 416, "an entry is 416 bytes");

struct published {
    struct pmn__heap *heap;
    uint32_t kind;
    char name[PMN_PUBLISH_NAME_MAX];
};

static struct {
    pthread_mutex_t lock;
    atomic_bool on;        /* a file is mapped (the ticks' first test) */
    _Atomic uint64_t last; /* monotonic ns of the last write */
    struct pmn_publish_header *map;
    int pid; /* the process that mapped it */
    /* No descriptor is held: a program may close every descriptor it did
     * not open (daemons do) and reuse the numbers, and a held one was then
     * the program's file, which close_file() closed or unlinked in.  The
     * directory is opened again, checked as private, to remove the file,
     * and only the file made (its device and inode) is removed. */
    uint64_t dev, ino;
    unsigned uid; /* the directory's owner (the euid at start) */
    char dir[256];
    char name[16]; /* the pid in decimal */
    struct published list[PMN_PUBLISH_MAX_ENTRIES];
    size_t n;
} P = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Tests: non-zero makes pmn_publish_start() see secure-execution mode. */
int pmn__publish_force_secure;

bool pmn__publish_allowed(bool secure, unsigned flags)
{
    return !secure || (flags & PMN_PUBLISH_SECURE_OK) != 0;
}

static bool secure_mode(void)
{
    return getauxval(AT_SECURE) != 0 || pmn__publish_force_secure != 0;
}

/* The directory for @euid: $XDG_RUNTIME_DIR/pmnode when set (absolute),
 * else /dev/shm/pmnode-EUID. */
int pmn__publish_dir(char *buf, size_t len, unsigned euid)
{
    const char *x = secure_getenv("XDG_RUNTIME_DIR");
    int n;

    if (x != NULL && x[0] == '/')
        n = snprintf(buf, len, "%s/pmnode", x);
    else
        n = snprintf(buf, len, "/dev/shm/pmnode-%u", euid);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void copy_name(char *dst, const char *src)
{
    size_t i = 0;

    for (; src[i] != '\0' && i < PMN_PUBLISH_NAME_MAX - 1; i++)
        dst[i] = src[i];
    memset(dst + i, 0, PMN_PUBLISH_NAME_MAX - i);
    /* What a terminal would act on (C0, DEL, C1, bytes that are not
     * UTF-8, a sequence cut at the limit) becomes '?', as in the CLI. */
    pmn__text_clean(dst);
}

static void fill(struct pmn_publish_entry *e, const struct published *p)
{
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};
    size_t n;

    memset(e, 0, sizeof(*e));
    memcpy(e->name, p->name, sizeof(e->name));
    e->kind = p->kind;
    if (pmn__heap_stats(p->heap, &st) != 0)
        return;
    e->allocated = st.allocated;
    e->objects = st.objects;
    e->active = st.active;
    e->resident = st.resident;
    e->peak = st.peak;
    e->allocs = st.allocs;
    e->frees = st.frees;
    e->remote_frees = st.remote_frees;
    e->failures = st.failures;
    e->populated = st.populated;
    e->mapped_bytes = st.backing.mapped_bytes;
    e->mapped_peak_bytes = st.backing.mapped_peak_bytes;
    e->region_maps = st.backing.region_maps;
    e->region_map_failures = st.backing.region_map_failures;
    e->spilled_bytes = st.backing.spilled_bytes;
    n = st.backing.nnodes < PMN_PUBLISH_MAX_NODES ? st.backing.nnodes : PMN_PUBLISH_MAX_NODES;
    e->nnodes = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        e->node[i].node = st.backing.node[i].node;
        e->node[i].bytes = st.backing.node[i].bytes;
    }
}

/* Drop the mapping (and with @remove the file, if the name is still
 * ours).  P.lock held. */
static void close_file(bool remove)
{
    int dfd;

    atomic_store_explicit(&P.on, false, memory_order_relaxed);
    if (P.map != NULL)
        (void)pmn_prim_unmap(P.map, FILE_SIZE);
    if (remove && P.map != NULL && pmn_prim_private_dir(P.dir, P.uid, false, &dfd) == 0) {
        (void)pmn_prim_unlink_same_at(dfd, P.name, P.dev, P.ino);
        pmn_prim_close(dfd);
    }
    P.map = NULL;
}

/* Write every entry under the sequence lock.  P.lock held.  The entries'
 * stats are gathered first (heap locks), then copied in, so the odd
 * window is a memcpy long. */
static void write_locked(void)
{
    static struct pmn_publish_entry e[PMN_PUBLISH_MAX_ENTRIES]; /* P.lock */
    struct pmn_publish_header *h = P.map;
    uint64_t seq;

    if (h == NULL)
        return;
    if (pmn_prim_getpid() != P.pid) { /* a forked child: not our file */
        close_file(false);
        return;
    }
    for (size_t i = 0; i < P.n; i++)
        fill(&e[i], &P.list[i]);
    seq = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);
    __atomic_store_n(&h->seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy((char *)h + sizeof(*h), e, P.n * sizeof(e[0]));
    memset((char *)h + sizeof(*h) + P.n * sizeof(e[0]), 0,
           (PMN_PUBLISH_MAX_ENTRIES - P.n) * sizeof(e[0]));
    h->nentries = (uint32_t)P.n;
    h->updated_ns = pmn_prim_wall_ns();
    h->updates++;
    __atomic_store_n(&h->seq, seq + 2, __ATOMIC_RELEASE);
    atomic_store_explicit(&P.last, pmn_prim_now_ns(), memory_order_relaxed);
}

void pmn__publish_tick(void)
{
    uint64_t now, last;

    if (!atomic_load_explicit(&P.on, memory_order_relaxed))
        return;
    now = pmn_prim_now_ns();
    last = atomic_load_explicit(&P.last, memory_order_relaxed);
    if (now - last < PUBLISH_INTERVAL_MS * 1000000ull)
        return;
    if (!atomic_compare_exchange_strong_explicit(&P.last, &last, now, memory_order_relaxed,
                                                 memory_order_relaxed))
        return; /* another thread writes this round */
    if (pthread_mutex_trylock(&P.lock) != 0)
        return;
    write_locked();
    pthread_mutex_unlock(&P.lock);
}

void pmn__publish_forget(struct pmn__heap *h)
{
    bool found = false;

    pthread_mutex_lock(&P.lock);
    for (size_t i = 0; i < P.n; i++) {
        if (P.list[i].heap == h) {
            memmove(&P.list[i], &P.list[i + 1], (P.n - i - 1) * sizeof(P.list[0]));
            P.n--;
            found = true;
            break;
        }
    }
    if (found)
        write_locked();
    pthread_mutex_unlock(&P.lock);
}

/* Forked child: what the parent held is not ours. */
static bool stale_child_locked(void)
{
    if (P.map != NULL && pmn_prim_getpid() != P.pid) {
        close_file(false);
        return true;
    }
    return false;
}

void pmn__publish_fork(int phase)
{
    if (phase == 0) {
        pthread_mutex_lock(&P.lock);
        return;
    }
    if (phase == 2)
        (void)stale_child_locked(); /* the parent's file stays the parent's */
    pthread_mutex_unlock(&P.lock);
}

/* ---- files of processes that are gone ----
 *
 * A process killed while publishing (SIGKILL, a crash, _exit) leaves its
 * file: 28 KiB of tmpfs each (7 pages), which nothing else removes; a
 * service that crashes and restarts all day would fill /dev/shm with
 * them.  Each start removes, from the directory it publishes in, the
 * files of processes that are gone: a regular file of ours named by a pid
 * whose process this one cannot see, or whose start time is not the one
 * the file's complete header names (the pid was reused).  A file whose
 * header is not complete yet is left while its pid lives (its writer may
 * be starting), and anything else (other names, links, other owners') is
 * left alone.  A name is removed only if it is still the file read
 * (device and inode).
 * At most PRUNE_MAX entries are looked at per start, so a directory left
 * huge costs a bounded time, and the next start goes on. */
#define PRUNE_MAX 4096

struct prune {
    int dfd;
    unsigned uid;
    int self;
    unsigned seen;
};

static bool pid_name(const char *s, int *pid)
{
    long v = 0;

    if (*s == '\0' || *s == '0' || strlen(s) > 10)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (*s - '0');
    }
    if (v > 0x7fffffff)
        return false;
    *pid = (int)v;
    return true;
}

static int prune_one(const char *name, void *arg)
{
    struct prune *pr = arg;
    struct pmn_publish_header h;
    uint64_t dev, ino, start;
    size_t got;
    int pid, err;
    bool gone;

    if (++pr->seen > PRUNE_MAX)
        return 1;
    if (!pid_name(name, &pid) || pid == pr->self)
        return 0;
    if (pmn_prim_read_owned_head_at(pr->dfd, name, pr->uid, &h, sizeof(h), &got, &dev, &ino) != 0)
        return 0;
    err = pmn_prim_proc_start_time(pid, &start);
    if (err == -ENOENT || err == -ESRCH)
        gone = true;
    else if (err != 0)
        return 0;
    else
        gone = got == sizeof(h) && memcmp(h.magic, PMN_PUBLISH_MAGIC, sizeof(h.magic)) == 0 &&
               h.pid == pid && h.start_time != 0 && h.start_time != start;
    if (gone)
        (void)pmn_prim_unlink_same_at(pr->dfd, name, dev, ino);
    return 0;
}

int pmn_publish_start(unsigned flags)
{
    struct pmn_publish_header *h;
    unsigned euid = pmn_prim_geteuid();
    uint64_t start = 0;
    void *map;
    int err, dfd;

    if ((flags & ~PMN_PUBLISH_SECURE_OK) != 0)
        return -EINVAL;
    if (!pmn__publish_allowed(secure_mode(), flags))
        return -EPERM;
    pthread_mutex_lock(&P.lock);
    (void)stale_child_locked();
    if (P.map != NULL) {
        pthread_mutex_unlock(&P.lock);
        return -EALREADY;
    }
    err = pmn__publish_dir(P.dir, sizeof(P.dir), euid);
    if (err == 0)
        err = pmn_prim_private_dir(P.dir, euid, true, &dfd);
    if (err != 0)
        goto out;
    P.pid = pmn_prim_getpid();
    P.uid = euid;
    snprintf(P.name, sizeof(P.name), "%d", P.pid);
    (void)pmn_prim_proc_start_time(0, &start);
    {
        struct prune pr = {.dfd = dfd, .uid = euid, .self = P.pid};

        (void)pmn_prim_list_dir_at(dfd, ".", prune_one, &pr);
    }
    /* A file of our pid is a dead process's (pids are unique among the
     * living): replace it. */
    err = pmn_prim_create_mapped(dfd, P.name, FILE_SIZE, true, &map, &P.dev, &P.ino);
    pmn_prim_close(dfd);
    if (err != 0)
        goto out;
    h = map;
    memcpy(h->magic, PMN_PUBLISH_MAGIC, sizeof(h->magic));
    h->version = PMN_PUBLISH_VERSION;
    h->header_size = sizeof(struct pmn_publish_header);
    h->entry_size = sizeof(struct pmn_publish_entry);
    h->max_entries = PMN_PUBLISH_MAX_ENTRIES;
    h->file_size = FILE_SIZE;
    h->pid = P.pid;
    h->uid = euid;
    h->start_time = start;
    h->interval_ms = PUBLISH_INTERVAL_MS;
    P.map = h;
    write_locked();
    atomic_store_explicit(&P.on, true, memory_order_relaxed);
out:
    pthread_mutex_unlock(&P.lock);
    return err;
}
PMN__SYMVER_DEFAULT(pmn_publish_start, "PMNODE_0.8");

int pmn_publish_stop(void)
{
    int err = 0;

    pthread_mutex_lock(&P.lock);
    if (stale_child_locked() || P.map == NULL)
        err = -ENOENT;
    else
        close_file(true);
    pthread_mutex_unlock(&P.lock);
    return err;
}
PMN__SYMVER_DEFAULT(pmn_publish_stop, "PMNODE_0.8");

static int add(struct pmn__heap *h, uint32_t kind, const char *name)
{
    int err = 0;

    if (name == NULL)
        return -EINVAL;
    pthread_mutex_lock(&P.lock);
    for (size_t i = 0; i < P.n && err == 0; i++)
        if (P.list[i].heap == h)
            err = -EEXIST;
    if (err == 0 && P.n == PMN_PUBLISH_MAX_ENTRIES)
        err = -ENOSPC;
    if (err == 0) {
        P.list[P.n].heap = h;
        P.list[P.n].kind = kind;
        copy_name(P.list[P.n].name, name);
        P.n++;
        write_locked();
    }
    pthread_mutex_unlock(&P.lock);
    return err;
}

int pmn_publish_arena(struct pmn_arena *a, const char *name)
{
    return a != NULL ? add(pmn__arena_heap(a), PMN_PUBLISH_ARENA, name) : -EINVAL;
}
PMN__SYMVER_DEFAULT(pmn_publish_arena, "PMNODE_0.8");

int pmn_publish_slab(struct pmn_slab *s, const char *name)
{
    return s != NULL ? add(pmn__slab_heap(s), PMN_PUBLISH_SLAB, name) : -EINVAL;
}
PMN__SYMVER_DEFAULT(pmn_publish_slab, "PMNODE_0.8");

int pmn_publish_update(void)
{
    int err = 0;

    pthread_mutex_lock(&P.lock);
    if (stale_child_locked() || P.map == NULL)
        err = -ENOENT;
    else
        write_locked();
    pthread_mutex_unlock(&P.lock);
    return err;
}
PMN__SYMVER_DEFAULT(pmn_publish_update, "PMNODE_0.8");

int pmn_publish_path(char *buf, size_t len)
{
    int n = -ENOENT;

    if (buf == NULL && len > 0)
        return -EINVAL;
    pthread_mutex_lock(&P.lock);
    if (!stale_child_locked() && P.map != NULL)
        n = snprintf(buf, len, "%s/%s", P.dir, P.name);
    pthread_mutex_unlock(&P.lock);
    return n;
}
PMN__SYMVER_DEFAULT(pmn_publish_path, "PMNODE_0.8");

/* Unloaded or exiting normally: the file goes with us (a forked child
 * leaves the parent's alone). */
__attribute__((destructor)) static void publish_fini(void)
{
    if (pthread_mutex_trylock(&P.lock) != 0)
        return;
    if (!stale_child_locked() && P.map != NULL)
        close_file(true);
    pthread_mutex_unlock(&P.lock);
}
