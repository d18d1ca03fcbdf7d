/*
 * fork.c - the allocators' locks around fork(), for every program that
 * links libpmnode (the shim's copy included).
 *
 * A child created by fork() has one thread, the one that forked; a lock
 * another thread held at that moment stays held in the child for ever, and
 * the child's first call that takes it hangs.  So the library keeps a list
 * of its live heaps (arenas and slabs) and registers pthread_atfork()
 * handlers once, when the first heap is made:
 *
 *   prepare  publish.c's lock, then this list's lock, then every heap's
 *            lock, then the lock of every distinct backing those heaps use
 *            (and its shared file's: backing.c), in the order the
 *            allocators take them everywhere (publish before heap, heap
 *            before backing before file), so the prepare handler waits for
 *            the other threads' critical sections and never deadlocks
 *            against them;
 *   parent   releases them all, in the opposite order;
 *   child    the same, after publish.c has dropped the parent's file.
 *
 * The shim registers its own handlers after the library's (its arena is
 * made first), so they run around these (prepare in reverse order of
 * registration): its guard is up before the locks are taken and goes down
 * after they are released, and it takes no lock of its own.
 *
 * Process-wide state (the list below): the atfork handlers have no
 * argument, and the heaps they must hold are every heap of the process.
 * Guarded by heaps.lock.  Lock order: P.lock (publish.c), heaps.lock, a
 * heap's lock; pmn__fork_track/untrack hold no heap lock.
 */
#include <pthread.h>

#include "alloc/heap.h"
#include "alloc/publish.h"
#include "place/backing.h"

static struct {
    pthread_mutex_t lock;
    struct pmn__heap *head; /* linked through fork_next / fork_prev */
} heaps = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Whether @h is the first live heap of the list using its backing (each
 * backing is locked once).  heaps.lock and every heap lock held, so that
 * the answer is the same in prepare and in release. */
static bool first_of_backing(const struct pmn__heap *h)
{
    if (h->dead)
        return false; /* its backing reference is gone: the backing may be too */
    for (const struct pmn__heap *o = heaps.head; o != h; o = o->fork_next)
        if (!o->dead && o->b == h->b)
            return false;
    return true;
}

static void fork_prepare(void)
{
    pmn__publish_fork(0);
    pthread_mutex_lock(&heaps.lock);
    for (struct pmn__heap *h = heaps.head; h; h = h->fork_next)
        pthread_mutex_lock(&h->lock);
    for (struct pmn__heap *h = heaps.head; h; h = h->fork_next)
        if (first_of_backing(h))
            pmn__backing_fork(h->b, 0);
}

/* @phase 1 in the parent, 2 in the child. */
static void fork_release(int phase)
{
    for (struct pmn__heap *h = heaps.head; h; h = h->fork_next)
        if (first_of_backing(h))
            pmn__backing_fork(h->b, phase);
    for (struct pmn__heap *h = heaps.head; h; h = h->fork_next)
        pthread_mutex_unlock(&h->lock);
    pthread_mutex_unlock(&heaps.lock);
    pmn__publish_fork(phase);
}

static void fork_parent(void)
{
    fork_release(1);
}

static void fork_child(void)
{
    fork_release(2);
}

static void atfork_register(void)
{
    /* Fails only for want of memory: the heaps then work without the
     * handlers, and there is no caller to tell. */
    (void)pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void pmn__fork_track(struct pmn__heap *h)
{
    pthread_once(&atfork_once, atfork_register);
    pthread_mutex_lock(&heaps.lock);
    h->fork_prev = NULL;
    h->fork_next = heaps.head;
    if (heaps.head != NULL)
        heaps.head->fork_prev = h;
    heaps.head = h;
    pthread_mutex_unlock(&heaps.lock);
}

void pmn__fork_untrack(struct pmn__heap *h)
{
    pthread_mutex_lock(&heaps.lock);
    if (h->fork_prev != NULL)
        h->fork_prev->fork_next = h->fork_next;
    else
        heaps.head = h->fork_next;
    if (h->fork_next != NULL)
        h->fork_next->fork_prev = h->fork_prev;
    pthread_mutex_unlock(&heaps.lock);
}
