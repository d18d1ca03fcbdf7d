/*
 * fork.c - the library's locks around fork(): one set of pthread_atfork()
 * handlers for every layer that has locks another thread may hold.
 *
 * A child created by fork() has one thread, the one that forked; a lock
 * another thread held at that moment stays held in the child for ever, and
 * the child's first call that takes it hangs.  Each layer with such locks
 * registers a prepare (take them all) and a release (give them back, in
 * the parent or in the child) here.  They run in the one order the library
 * takes its locks everywhere, outermost first:
 *
 *   PMN__FORK_IPC       every IPC cache's (place/ipc-import.c): an open
 *                       allocates with it held, and under the shim its
 *                       malloc is an arena's;
 *   PMN__FORK_TIERS     the compressed tiers' (ctier.c): a demotion holds
 *                       its tier's lock while it allocates, likewise;
 *   PMN__FORK_HEAPS     publish's, then every arena's and slab's (alloc/fork.c);
 *   PMN__FORK_BACKINGS  every backing's, its shared file's and its user
 *                       range's (place/backing.c): a heap maps with its
 *                       lock held;
 *   PMN__FORK_CTXS      every context's watermark and dax locks (core/ctx.c):
 *                       a map checks the node's free memory and claims dax
 *                       units with the layers above held, and nothing is
 *                       taken or allocated under these two;
 *
 * and are released in the opposite order.  One registration, in that
 * order, whichever layer comes first: separate pthread_atfork() calls would
 * run in the order the layers happened to start (prepare handlers in
 * reverse), which a program's first call decides.
 *
 * Process-wide state: the handlers take no argument, and the locks they
 * hold are every such lock of the process.  The table is written once per
 * layer (atomically: a fork may run meanwhile); which layers a prepare ran
 * is kept for its release under fork_lock, held from one to the other,
 * because two threads may fork at once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/core.h"

static void (*_Atomic fork_prepare_of[PMN__FORK_LAYERS])(void);
static void (*_Atomic fork_release_of[PMN__FORK_LAYERS])(int phase);
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*fork_held[PMN__FORK_LAYERS])(int phase); /* guarded by fork_lock */

static void fork_prepare(void)
{
    pthread_mutex_lock(&fork_lock);
    for (int l = 0; l < PMN__FORK_LAYERS; l++) {
        void (*prepare)(void) = atomic_load(&fork_prepare_of[l]);

        /* The release is stored before the prepare: a prepare seen has one. */
        fork_held[l] = prepare != NULL ? atomic_load(&fork_release_of[l]) : NULL;
        if (prepare != NULL)
            prepare();
    }
}

static void fork_release(int phase)
{
    for (int l = PMN__FORK_LAYERS - 1; l >= 0; l--)
        if (fork_held[l] != NULL)
            fork_held[l](phase);
    pthread_mutex_unlock(&fork_lock);
}

static void fork_parent(void)
{
    fork_release(1);
}

static void fork_child(void)
{
    fork_release(2);
}

static void fork_register_once(void)
{
    /* Fails only for want of memory: the layers then work without the
     * handlers, and there is no caller to tell. */
    (void)pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void pmn__fork_register(enum pmn__fork_layer layer, void (*prepare)(void),
                        void (*release)(int phase))
{
    pthread_once(&fork_once, fork_register_once);
    atomic_store(&fork_release_of[layer], release);
    atomic_store(&fork_prepare_of[layer], prepare);
}

/* ---- the layers' lists of live objects ---- */

void pmn__fork_join(struct pmn__fork_list *l, struct pmn__fork_node *n)
{
    /* Registered before the list's lock is taken: pthread_atfork() waits
     * for a fork in progress, whose prepare may want that lock. */
    pmn__fork_register(l->layer, l->prepare, l->release);
    pthread_mutex_lock(&l->lock);
    n->prev = NULL;
    n->next = l->head;
    if (l->head != NULL)
        l->head->prev = n;
    l->head = n;
    n->linked = true;
    pthread_mutex_unlock(&l->lock);
}

void pmn__fork_leave(struct pmn__fork_list *l, struct pmn__fork_node *n)
{
    if (!n->linked)
        return;
    pthread_mutex_lock(&l->lock);
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    n->linked = false;
    pthread_mutex_unlock(&l->lock);
}
