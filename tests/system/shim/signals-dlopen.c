/*
 * signals-dlopen.c - a program the shim must not disturb: it allocates
 * while a 1 ms SIGALRM timer interrupts it (the handler only counts, as
 * async-signal-safe code must), and dlopens libraries whose loading and
 * constructors allocate, then frees memory they returned.  Prints a
 * deterministic summary; exit 0 when every check holds.
 *
 *   shim-signals-dlopen free   the SIGALRM handler itself frees blocks
 *                              the main loop hands it, while the loop
 *                              mallocs and frees: the handler often runs
 *                              while the thread is inside the allocator.
 *                              POSIX does not promise free() is
 *                              async-signal-safe, and glibc does not
 *                              survive this program (it aborts or
 *                              crashes: its bins are changed under its
 *                              own feet); the shim does (issue 13).
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
    (void)sig;
    ticks++;
}

/* The block the main loop hands to the handler; the handler takes it and
 * frees it.  Only these two touch it, the handler on top of the loop, so a
 * plain volatile pointer is enough (one thread). */
static void *volatile mailbox;
static volatile sig_atomic_t handler_frees;

static void on_alarm_free(int sig)
{
    void *p = mailbox;

    (void)sig;
    ticks++;
    if (p != NULL) {
        mailbox = NULL;
        free(p);
        handler_frees++;
    }
}

/* Allocate and free in a loop until the handler has freed 2000 blocks
 * (with a 100 us timer, about 0.2 s of work). */
static int handler_frees_main(void)
{
    struct itimerval it = {{0, 100}, {0, 100}};
    struct sigaction sa;
    void *keep[64] = {NULL};
    unsigned long sum = 0;
    unsigned round = 0;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm_free;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    setitimer(ITIMER_REAL, &it, NULL);
    for (; handler_frees < 2000 && round < 100000000u; round++) {
        size_t n = 16 + (size_t)(round * 7919u) % 105;
        unsigned char *p = malloc(n);

        if (p == NULL)
            return 1;
        memset(p, (int)(round & 0xff), n);
        sum += p[n - 1];
        if (mailbox == NULL) {
            mailbox = p; /* the handler frees this one */
            continue;
        }
        free(keep[round % 64]);
        keep[round % 64] = p;
    }
    it.it_value.tv_usec = it.it_interval.tv_usec = 0;
    setitimer(ITIMER_REAL, &it, NULL);
    free(mailbox);
    for (int i = 0; i < 64; i++)
        free(keep[i]);
    printf("handler freed %s 2000 blocks while the loop allocated\n",
           handler_frees >= 2000 ? "at least" : "fewer than");
    (void)sum;
    return handler_frees >= 2000 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct itimerval it = {{0, 1000}, {0, 1000}};
    struct sigaction sa;
    unsigned long sum = 0;
    const char *libs[] = {"libm.so.6", "libz.so.1", "liblz4.so.1"};
    int opened = 0;

    if (argc > 1 && strcmp(argv[1], "free") == 0)
        return handler_frees_main();

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    setitimer(ITIMER_REAL, &it, NULL);
    for (int round = 0; round < 200000; round++) {
        size_t n = 16 + (size_t)(round * 7919) % 4000;
        unsigned char *p = malloc(n);
        if (p == NULL)
            return 1;
        memset(p, (int)(round & 0xff), n);
        sum += p[n - 1];
        p = realloc(p, n * 2);
        if (p == NULL)
            return 1;
        free(p);
    }
    it.it_value.tv_usec = it.it_interval.tv_usec = 0;
    setitimer(ITIMER_REAL, &it, NULL);
    for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
        void *h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
        if (h == NULL)
            continue; /* not installed: nothing to check */
        opened++;
        if (dlsym(h, "nonexistent_symbol_pmnode") == NULL) {
            char *msg = dlerror(); /* dlerror's buffer is malloc'd by libc */
            if (msg == NULL)
                return 1;
        }
        dlclose(h);
    }
    printf("sum %lu, libraries %d, interrupted: %s\n", sum, opened, ticks > 0 ? "yes" : "no");
    return 0;
}
