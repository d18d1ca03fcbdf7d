/*
 * rss.c - what a program's peak RSS costs under the shim (shim-test.py,
 * cases large-lazy and tiny-rss).
 *
 *   shim-rss big MiB TOUCH   malloc MiB, write TOUCH MiB of it, free it
 *   shim-rss tiny            a few hundred small mallocs and frees
 *   shim-rss trim            12 MiB of small objects freed, then malloc_trim(0):
 *                            prints "ok RSS_BEFORE RSS_AFTER RETURNED" (KiB)
 *
 * Prints "ok HWM" with HWM the peak RSS in KiB (VmHWM of /proc/self/status:
 * this image's own, reset by exec); the test runs it with and without the
 * shim and compares.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A line of /proc/self/status in KiB ("VmHWM", "VmRSS"), or -1. */
static long status_kib(const char *key)
{
    char line[256], fmt[32];
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");

    snprintf(fmt, sizeof(fmt), "%s: %%ld kB", key);
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, fmt, &v) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return v;
}

/* @n objects of @size written with @byte into @v, then all freed; false
 * when a malloc fails. */
static bool churn(void **v, int n, size_t size, int byte)
{
    for (int i = 0; i < n; i++) {
        if ((v[i] = malloc(size)) == NULL)
            return false;
        memset(v[i], byte, size);
    }
    for (int i = 0; i < n; i++)
        free(v[i]);
    return true;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "trim") == 0) {
        enum { N = 3072 }; /* 12 MiB of 4000-byte objects */
        static void *v[N];
        long before, after;
        int ret;

        if (!churn(v, N, 4000, 0x5a))
            return 1;
        before = status_kib("VmRSS");
        ret = malloc_trim(0);
        after = status_kib("VmRSS");
        if (!churn(v, N, 4000, 0xa5)) /* the memory serves again after the trim */
            return 1;
        if (before < 0 || after < 0)
            return 3;
        printf("ok %ld %ld %d\n", before, after, ret);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "big") == 0) {
        size_t len = strtoull(argv[2], NULL, 10) << 20, touch = strtoull(argv[3], NULL, 10) << 20;
        char *p = malloc(len);
        if (p == NULL || touch > len)
            return 1;
        memset(p, 1, touch);
        __asm__ volatile("" : : "r"(p) : "memory"); /* the writes happen */
        free(p);
    } else if (argc == 2 && strcmp(argv[1], "tiny") == 0) {
        void *v[256];
        for (int r = 0; r < 4; r++) {
            for (int i = 0; i < 256; i++)
                if ((v[i] = malloc(16 + (size_t)i * 24)) == NULL)
                    return 1;
            __asm__ volatile("" : : "r"(v) : "memory");
            for (int i = 0; i < 256; i++)
                free(v[i]);
        }
    } else {
        return 2;
    }
    {
        long hwm = status_kib("VmHWM");
        if (hwm < 0)
            return 3;
        printf("ok %ld\n", hwm);
    }
    return 0;
}
