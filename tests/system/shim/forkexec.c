/*
 * forkexec.c - fork and exec chains under the shim (shim-test.py runs it
 * with and without the shim and compares the output).
 *
 *   forkexec exec FILE     three rounds of: fork; the child allocates, forks
 *                          again and the grandchild execs /bin/sh -c with a
 *                          sort pipeline over FILE (more forks and execs);
 *                          the parent allocates while it waits
 *   forkexec fork          fork without exec: the child checks, frees and
 *                          reallocates the parent's objects (allocated before
 *                          the fork), allocates its own and exits through
 *                          exit() (atexit handlers run); the parent does the
 *                          same on its side
 *   forkexec threads       four threads churn while the main thread forks
 *                          100 children that allocate and exit: an allocator
 *                          lock held across fork would hang a child
 *
 * Output is deterministic; exit 0, or 1 with a message.  alarm() turns a
 * hang into a failure.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBJ 2000

static void fail(const char *what)
{
    fprintf(stderr, "forkexec: %s\n", what);
    exit(1);
}

static unsigned char pat(unsigned i, size_t j)
{
    return (unsigned char)(i * 29u + (unsigned)j * 7u);
}

static size_t obj_size(unsigned i)
{
    return 1 + (i * 37u) % 3000 + (i % 97 == 0 ? 200000 : 0);
}

static void fill_all(unsigned char **v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        size_t sz = obj_size(i);
        if ((v[i] = malloc(sz)) == NULL)
            fail("malloc failed");
        for (size_t j = 0; j < sz; j++)
            v[i][j] = pat(i, j);
    }
}

static void check_all(unsigned char **v, unsigned n, const char *who)
{
    for (unsigned i = 0; i < n; i++) {
        size_t sz = obj_size(i);
        for (size_t j = 0; j < sz; j++) {
            if (v[i][j] != pat(i, j)) {
                fprintf(stderr, "forkexec: %s: object %u byte %zu changed\n", who, i, j);
                exit(1);
            }
        }
    }
}

static void free_all(unsigned char **v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        free(v[i]);
        v[i] = NULL;
    }
}

static int wait_status(pid_t pid)
{
    int st;

    while (waitpid(pid, &st, 0) < 0)
        ;
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "forkexec: child %d killed by signal %d\n", (int)pid, WTERMSIG(st));
        exit(1);
    }
    return WEXITSTATUS(st);
}

static int do_exec(const char *file)
{
    static unsigned char *v[NOBJ];

    for (int round = 0; round < 3; round++) {
        pid_t child;

        fill_all(v, NOBJ);
        fflush(stdout);
        child = fork();
        if (child < 0)
            fail("fork failed");
        if (child == 0) {
            pid_t grand;
            unsigned char *mine[100];

            check_all(v, NOBJ, "child");
            free_all(v, NOBJ);
            fill_all(mine, 100);
            grand = fork();
            if (grand < 0)
                fail("fork in child failed");
            if (grand == 0) {
                char cmd[256];
                snprintf(cmd, sizeof(cmd),
                         "sort -t, -k%d,%d \"$0\" | sort -s -t, -k1,1 | head -n 3; "
                         "sort -u \"$0\" | cksum",
                         round + 1, round + 1);
                execl("/bin/sh", "sh", "-c", cmd, file, (char *)NULL);
                _exit(127);
            }
            check_all(mine, 100, "child after fork");
            free_all(mine, 100);
            _exit(wait_status(grand));
        }
        /* The parent allocates and frees while the chain runs. */
        for (int k = 0; k < 5; k++) {
            unsigned char *w[200];
            fill_all(w, 200);
            check_all(w, 200, "parent");
            free_all(w, 200);
        }
        int st = wait_status(child);
        check_all(v, NOBJ, "parent after child");
        free_all(v, NOBJ);
        printf("round %d: chain exited %d\n", round, st);
        if (st != 0)
            return 1;
    }
    return 0;
}

static void child_exit_handler(void)
{
    /* runs in the forked child through exit(): it may allocate too */
    char *p = malloc(100);
    if (p == NULL)
        _exit(3);
    memset(p, 1, 100);
    free(p);
}

static int do_fork(void)
{
    static unsigned char *v[NOBJ];
    int total = 0;

    fill_all(v, NOBJ);
    for (int round = 0; round < 10; round++) {
        fflush(stdout);
        pid_t child = fork();
        if (child < 0)
            fail("fork failed");
        if (child == 0) {
            atexit(child_exit_handler);
            check_all(v, NOBJ, "child");
            /* free half of the parent's objects, realloc the others */
            for (unsigned i = 0; i < NOBJ; i++) {
                if (i % 2 == 0) {
                    free(v[i]);
                    v[i] = NULL;
                } else {
                    size_t sz = obj_size(i);
                    unsigned char *n = realloc(v[i], sz * 3);
                    if (n == NULL)
                        fail("realloc in child failed");
                    for (size_t j = 0; j < sz; j++)
                        if (n[j] != pat(i, j))
                            fail("realloc in child lost data");
                    free(n);
                    v[i] = NULL;
                }
            }
            unsigned char *mine[NOBJ];
            fill_all(mine, NOBJ);
            check_all(mine, NOBJ, "child's own");
            free_all(mine, NOBJ);
            exit(round + 1);
        }
        /* parent: churn its own objects while the child works */
        unsigned char *w[500];
        fill_all(w, 500);
        check_all(w, 500, "parent");
        free_all(w, 500);
        int st = wait_status(child);
        if (st != round + 1) {
            fprintf(stderr, "forkexec: child of round %d exited %d\n", round, st);
            return 1;
        }
        total += st;
        check_all(v, NOBJ, "parent after child");
    }
    free_all(v, NOBJ);
    printf("fork: 10 children, exit statuses sum %d, parent's objects intact\n", total);
    return 0;
}

static atomic_int stop;

static void *churn(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *slot[64] = {0};

    while (!atomic_load(&stop)) {
        seed = seed * 1103515245u + 12345u;
        unsigned s = (seed >> 16) % 64;
        free(slot[s]);
        slot[s] = malloc(1 + (seed >> 8) % 20000);
        if (slot[s] == NULL)
            fail("malloc in churn thread failed");
        memset(slot[s], (int)s, 1);
    }
    for (int i = 0; i < 64; i++)
        free(slot[i]);
    return NULL;
}

static int do_threads(void)
{
    pthread_t t[4];
    int ok = 0;

    for (int i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1)) != 0)
            fail("pthread_create failed");
    for (int round = 0; round < 100; round++) {
        fflush(stdout);
        pid_t child = fork();
        if (child < 0)
            fail("fork failed");
        if (child == 0) {
            alarm(20);
            void *p[256];
            for (int i = 0; i < 256; i++) {
                p[i] = malloc(16 + (size_t)i * 97);
                if (p[i] == NULL)
                    _exit(2);
                memset(p[i], i, 16);
            }
            for (int i = 0; i < 256; i++)
                free(p[i]);
            _exit(0);
        }
        if (wait_status(child) == 0)
            ok++;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("threads+fork: %d of 100 children allocated and exited cleanly\n", ok);
    return ok == 100 ? 0 : 1;
}

int main(int argc, char **argv)
{
    alarm(240);
    if (argc == 3 && strcmp(argv[1], "exec") == 0)
        return do_exec(argv[2]);
    if (argc == 2 && strcmp(argv[1], "fork") == 0)
        return do_fork();
    if (argc == 2 && strcmp(argv[1], "threads") == 0)
        return do_threads();
    fprintf(stderr, "usage: forkexec exec FILE | fork | threads\n");
    return 2;
}
