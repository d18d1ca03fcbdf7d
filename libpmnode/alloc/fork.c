/*
 * fork.c - the allocators' locks around fork(), for every program that
 * links libpmnode (the shim's copy included): the PMN__FORK_HEAPS layer of
 * core/fork.c.
 *
 * A child created by fork() has one thread, the one that forked; a lock
 * another thread held at that moment stays held in the child for ever, and
 * the child's first call that takes it hangs.  So the library keeps a list
 * of its live heaps (arenas and slabs), and registers with core/fork.c
 * when the first heap is made:
 *
 *   prepare  publish.c's lock, then this list's lock, then every heap's
 *            lock, in the order the allocators take them everywhere
 *            (publish before heap); the tiers' locks come before these and
 *            the backings' after (core/fork.c), so the prepare waits for
 *            the other threads' critical sections and never deadlocks
 *            against them;
 *   release  the same, in the opposite order; in the child, after
 *            publish.c has dropped the parent's file.
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
#include "core/core.h"

static void heaps_prepare(void);
static void heaps_release(int phase);
static struct pmn__fork_list heaps =
    PMN__FORK_LIST_INIT(PMN__FORK_HEAPS, heaps_prepare, heaps_release);

#define HEAP_OF(n) PMN__CONTAINER(n, struct pmn__heap, fork)

static void heaps_prepare(void)
{
    pmn__publish_fork(0);
    pthread_mutex_lock(&heaps.lock);
    for (struct pmn__fork_node *n = heaps.head; n; n = n->next)
        pthread_mutex_lock(&HEAP_OF(n)->lock);
}

/* @phase 1 in the parent, 2 in the child.  In the child, a heap on the
 * parent's shared file (a shareable backing) is the parent's memory: it
 * stops serving the child (pmn__heap_forked_shared). */
static void heaps_release(int phase)
{
    for (struct pmn__fork_node *n = heaps.head; n; n = n->next) {
        struct pmn__heap *h = HEAP_OF(n);

        if (phase == 2 && !h->dead && pmn__shfile_inherited(h->b))
            pmn__heap_forked_shared(h);
        pthread_mutex_unlock(&h->lock);
    }
    pthread_mutex_unlock(&heaps.lock);
    pmn__publish_fork(phase);
}

void pmn__fork_track(struct pmn__heap *h)
{
    pmn__fork_join(&heaps, &h->fork);
}

void pmn__fork_untrack(struct pmn__heap *h)
{
    pmn__fork_leave(&heaps, &h->fork);
}
