/*
 * rss.c - what a program's peak RSS costs under the shim (shim-test.py,
 * cases large-lazy and tiny-rss).
 *
 *   shim-rss big MiB TOUCH   malloc MiB, write TOUCH MiB of it, free it
 *   shim-rss tiny            a few hundred small mallocs and frees
 *
 * Prints "ok HWM" with HWM the peak RSS in KiB (VmHWM of /proc/self/status:
 * this image's own, reset by exec); the test runs it with and without the
 * shim and compares.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
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
        char line[256];
        long hwm = -1;
        FILE *f = fopen("/proc/self/status", "r");
        while (f != NULL && fgets(line, sizeof(line), f) != NULL)
            if (sscanf(line, "VmHWM: %ld kB", &hwm) == 1)
                break;
        if (f != NULL)
            fclose(f);
        if (hwm < 0)
            return 3;
        printf("ok %ld\n", hwm);
    }
    return 0;
}
