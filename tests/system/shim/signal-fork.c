/*
 * signal-fork.c - a signal handler that frees while its thread forks.
 *
 * A 20 us interval timer interrupts the main thread, which does nothing
 * but fork (the child exits at once) and wait; the SIGALRM handler frees
 * one large block a tick (each a megabyte, so its free takes the
 * allocator's locks).  A fork takes tens of microseconds, so most ticks
 * land in it, and the handler runs when the fork system call returns in
 * the parent: with libpmnode's shim, after its fork handler took the
 * arena's locks (so that the child gets them free) and before the parent
 * handler gives them back.  The shim raises its guard over that stretch,
 * so the handler's free is deferred; before it did, the handler's free
 * waited for a lock its own thread held, in most runs within a few forks.
 *
 *   shim-signal-fork [FORKS]   default 200
 *
 * Prints one line and exits 0 when every fork was waited for and the
 * handler freed blocks; a watchdog (60 s, a second thread) prints "stuck"
 * and exits 3.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCKS 2048
#define BLOCK_SIZE (1u << 20)

static void *blocks[BLOCKS];
static volatile sig_atomic_t next_block;
static volatile sig_atomic_t handler_frees;
static atomic_int done;

static void on_alarm(int sig)
{
    (void)sig;
    if (next_block < BLOCKS) {
        free(blocks[next_block]);
        blocks[next_block] = NULL;
        next_block++;
        handler_frees++;
    }
}

/* A thread of its own: the main thread's SIGALRM is the test's. */
static void *watchdog(void *arg)
{
    static const char msg[] = "stuck: the forks did not end in 60 s\n";

    (void)arg;
    for (int i = 0; i < 600 && !atomic_load(&done); i++) {
        struct timespec t = {0, 100000000};

        nanosleep(&t, NULL);
    }
    if (!atomic_load(&done)) {
        if (write(1, msg, sizeof(msg) - 1) < 0)
            _exit(4);
        _exit(3);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    unsigned long forks = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
    struct itimerval it = {{0, 20}, {0, 20}};
    struct sigaction sa;
    sigset_t alrm;
    pthread_t w;

    for (int i = 0; i < BLOCKS; i++)
        if ((blocks[i] = malloc(BLOCK_SIZE)) == NULL)
            return 1;
    /* The timer's signal is the main thread's alone. */
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, NULL);
    if (pthread_create(&w, NULL, watchdog, NULL) != 0)
        return 1;
    pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    setitimer(ITIMER_REAL, &it, NULL);
    for (unsigned long i = 0; i < forks; i++) {
        pid_t pid = fork();
        int st;

        if (pid < 0)
            return 1;
        if (pid == 0)
            _exit(0);
        while (waitpid(pid, &st, 0) < 0)
            ;
    }
    it.it_value.tv_usec = it.it_interval.tv_usec = 0;
    setitimer(ITIMER_REAL, &it, NULL);
    for (int i = 0; i < BLOCKS; i++)
        free(blocks[i]);
    atomic_store(&done, 1);
    pthread_join(w, NULL);
    printf("%lu forks waited for; %s\n", forks,
           handler_frees > 0 ? "the handler freed while the thread forked" : "no handler ran");
    return handler_frees > 0 ? 0 : 1;
}
