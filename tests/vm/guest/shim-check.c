/*
 * shim-check.c - an ordinary program (plain malloc/free, no libpmnode) run
 * under libpmnode-preload.so in the vm lane; it checks where its own heap
 * is with the raw move_pages syscall, so it trusts nothing of ours.
 *
 *   shim-check place NODE   mixed-size objects from 4 threads, every page on NODE
 *   shim-check fill NODE    malloc until NULL: NULL with ENOMEM, no signal, and
 *                           every page that was handed out is on NODE
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int node_of(void *p)
{
    void *page = (void *)((unsigned long)p & ~4095UL);
    int status = -1;

    if (syscall(SYS_move_pages, 0, 1UL, &page, NULL, &status, 0) != 0)
        return -1000 - errno;
    return status;
}

static int want;
static volatile sig_atomic_t sig;

static void on_sig(int s)
{
    sig = s;
}

static void *worker(void *arg)
{
    long bad = 0;

    (void)arg;
    for (int round = 0; round < 50; round++) {
        void *objs[200];
        for (int i = 0; i < 200; i++) {
            size_t size = 8 + (size_t)((i * 2654435761u + (unsigned)round) % 70000);
            objs[i] = malloc(size);
            if (objs[i] == NULL)
                return (void *)-1L;
            memset(objs[i], i, size);
            if (node_of(objs[i]) != want)
                bad++;
        }
        for (int i = 0; i < 200; i++)
            free(objs[i]);
    }
    return (void *)bad;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    want = atoi(argv[2]);
    signal(SIGBUS, on_sig);
    signal(SIGSEGV, on_sig);
    if (strcmp(argv[1], "place") == 0) {
        pthread_t t[4];
        long total = 0;
        for (int i = 0; i < 4; i++)
            pthread_create(&t[i], NULL, worker, NULL);
        for (int i = 0; i < 4; i++) {
            void *r;
            pthread_join(t[i], &r);
            if ((long)r < 0) {
                printf("FAIL: malloc returned NULL\n");
                return 1;
            }
            total += (long)r;
        }
        if (total != 0) {
            printf("FAIL: %ld objects not on node %d\n", total, want);
            return 1;
        }
        printf("ok: 40000 objects from 4 threads, every one on node %d\n", want);
        return 0;
    }
    if (strcmp(argv[1], "fill") == 0) {
        size_t n = 0, bad = 0;
        void *p;
        errno = 0;
        while ((p = malloc(1 << 20)) != NULL) {
            memset(p, 1, 1 << 20);
            if (node_of(p) != want)
                bad++;
            n++;
        }
        if (errno != ENOMEM || sig || bad) {
            printf("FAIL: fill: errno %d, signal %d, %zu MiB elsewhere\n", errno, (int)sig, bad);
            return 1;
        }
        printf("ok: filled node %d with %zu MiB, then malloc returned NULL/ENOMEM\n", want, n);
        return 0;
    }
    return 2;
}
