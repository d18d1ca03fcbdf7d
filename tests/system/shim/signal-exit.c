/*
 * signal-exit.c - a signal handler that frees while its thread exits.
 *
 * Each round starts a thread that allocates blocks of many sizes, frees
 * most of them (so the allocator has caches to give back when the thread
 * goes), keeps some for its SIGUSR1 handler, and returns.  Meanwhile the
 * main thread sends it SIGUSR1 as fast as it can until it is gone; the
 * handler frees one of the thread's own blocks or one the main thread
 * allocated.  So handlers run at every point of the thread's exit,
 * including inside the allocator's thread-exit work (with libpmnode's
 * shim: the engine's TLS destructor, which holds the heap lock while the
 * thread's caches go back).  POSIX does not make free async-signal-safe;
 * the shim promises a handler's free works (preload.c, "Signal
 * handlers").  Before the engine blocked signals there, a handler landing
 * in that window deadlocked on the heap lock, or pushed a block onto the
 * cache being given back.
 *
 *   shim-signal-exit [ROUNDS]   default 100
 *
 * The window is a few microseconds a thread, which signals sent from
 * outside seldom hit (3000 rounds did not, before the fix); so the program
 * also defines libpmnode's test hook, pmnode_test_unbind_locked, which the
 * library calls inside it, and raises the signal there: a handler the
 * library lets run at once meets the lock every round.  With
 * SIGNAL_EXIT_EXPECT_HOOK set it also checks that the hook ran once a
 * round (the shim serves the threads).
 *
 * Prints one line and exits 0 when every round ended; a watchdog (60 s)
 * prints "stuck" and exits 3 when a round hangs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEEP 256    /* blocks a thread keeps for its handler */
#define SHARED 4096 /* blocks the main thread hands to handlers, per round */

/* The exiting thread's own blocks, for its handler (the handler runs on
 * that thread, on top of it, so plain thread-local data is enough). */
static __thread void *keep[KEEP];
static __thread volatile sig_atomic_t nkeep;

/* Blocks the main thread allocated, taken by handlers on the worker. */
static void *shared[SHARED];
static atomic_uint shared_next;

static atomic_ulong handler_frees;

/* Set by the hook before it raises: the one block kept back is for the
 * handler it raises. */
static __thread volatile sig_atomic_t raised;

static void on_usr1(int sig)
{
    unsigned i;

    (void)sig;
    if (nkeep > (raised ? 0 : 1)) {
        nkeep--;
        free(keep[nkeep]);
        atomic_fetch_add(&handler_frees, 1);
    }
    i = atomic_fetch_add(&shared_next, 1);
    if (i < SHARED) {
        free(shared[i]);
        atomic_fetch_add(&handler_frees, 1);
    }
}

static void on_alarm(int sig)
{
    static const char msg[] = "stuck: a round did not end in 60 s\n";

    (void)sig;
    if (write(1, msg, sizeof(msg) - 1) < 0)
        _exit(4);
    _exit(3);
}

static atomic_int started;
static atomic_ulong hook_raised;

/* libpmnode's test hook (alloc/heap.c): called in a thread's unbinding,
 * with the heap lock held.  The signal it raises is this thread's; where
 * the library lets the handler run at once, the handler's free meets the
 * lock again.  Once per thread: a free after the unbinding binds the
 * thread again, and the destructor runs once more. */
__attribute__((visibility("default"))) void pmnode_test_unbind_locked(void)
{
    if (raised)
        return;
    raised = 1;
    atomic_fetch_add(&hook_raised, 1);
    pthread_kill(pthread_self(), SIGUSR1);
}

static void *worker(void *arg)
{
    enum { N = 3000 };
    static __thread void *tmp[N];
    unsigned seed = (unsigned)(uintptr_t)arg;

    for (int i = 0; i < N; i++) {
        size_t n = (size_t)16 << (seed % 12); /* 16 B .. 32 KiB */

        seed = seed * 1103515245u + 12345u;
        tmp[i] = malloc(n + seed % 64);
        if (tmp[i] == NULL)
            abort();
        memset(tmp[i], 0x5a, 16);
    }
    for (int i = 0; i < KEEP; i++)
        keep[i] = tmp[i];
    nkeep = KEEP;
    for (int i = KEEP; i < N; i++)
        free(tmp[i]);
    atomic_store(&started, 1);
    return NULL; /* the handler may still be freeing keep[] on the way out */
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 10) : 100;
    unsigned long sent = 0;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    for (unsigned long r = 0; r < rounds; r++) {
        pthread_t t;
        void *ret;

        for (unsigned i = 0; i < SHARED; i++)
            if ((shared[i] = malloc(64 + (i % 8) * 32)) == NULL)
                return 1;
        atomic_store(&shared_next, 0);
        atomic_store(&started, 0);
        alarm(60);
        if (pthread_create(&t, NULL, worker, (void *)(uintptr_t)(r * 7 + 1)) != 0)
            return 1;
        while (!atomic_load(&started))
            ;
        /* Until the thread is gone: pthread_tryjoin_np fails with EBUSY
         * while it runs its exit (TLS destructors included). */
        while (pthread_tryjoin_np(t, &ret) == EBUSY) {
            if (pthread_kill(t, SIGUSR1) == 0)
                sent++;
        }
        alarm(0);
        for (unsigned i = atomic_load(&shared_next); i < SHARED; i++)
            free(shared[i]);
    }
    /* Under the shim every round's thread unbinds once with handlers'
     * blocks left: the hook raised a signal each time.  Without the shim
     * (glibc's malloc) the hook is never called. */
    printf("%lu rounds ended; %s\n", rounds,
           sent > 0 && atomic_load(&handler_frees) > 0 ? "handlers freed while threads exited"
                                                       : "no handler ran");
    if (getenv("SIGNAL_EXIT_EXPECT_HOOK") != NULL && atomic_load(&hook_raised) != rounds) {
        printf("the library's unbind hook ran in %lu of %lu rounds\n", atomic_load(&hook_raised),
               rounds);
        return 1;
    }
    return sent > 0 && atomic_load(&handler_frees) > 0 ? 0 : 1;
}
