/*
 * signals-dlopen.c - a program the shim must not disturb: it allocates
 * while a 1 ms SIGALRM timer interrupts it (the handler only counts, as
 * async-signal-safe code must), and dlopens libraries whose loading and
 * constructors allocate, then frees memory they returned.  Prints a
 * deterministic summary; exit 0 when every check holds.
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

int main(void)
{
    struct itimerval it = {{0, 1000}, {0, 1000}};
    struct sigaction sa;
    unsigned long sum = 0;
    const char *libs[] = {"libm.so.6", "libz.so.1", "liblz4.so.1"};
    int opened = 0;

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
