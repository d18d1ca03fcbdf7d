/*
 * secure.c - what the shim did in this process, for the secure-execution
 * cases of shim-test.py (issue 13): prints one line
 *
 *   AT_SECURE=<0|1> shim=<loaded|absent> heap=<brk|mapped>
 *
 * AT_SECURE is the kernel's word (set-user-ID, set-group-ID, file
 * capabilities); shim says whether libpmnode-preload.so is mapped here;
 * heap says where a 100-byte malloc landed: glibc's brk heap, or a mapping
 * (the shim's arena at threshold 0).  Built twice: shim-secure as is (run
 * set-user-ID root by the real test), and shim-secure-emulated with
 * -DEMULATE_SECURE, which defines pmnode_preload_assume_secure: the shim's
 * hook for tests to ask for secure-execution behaviour without a
 * set-user-ID binary (it can only turn the shim off).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#ifdef EMULATE_SECURE
__attribute__((visibility("default"))) const int pmnode_preload_assume_secure = 1;
#endif

/* Whether the line of /proc/self/maps holding @addr ends with @what; and
 * whether any line mentions @name. */
static int maps(uintptr_t addr, const char *what, const char *name, int *named)
{
    char line[512];
    int hit = 0;
    FILE *f = fopen("/proc/self/maps", "r");

    if (f == NULL)
        return -1;
    *named = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long lo, hi;

        if (strstr(line, name) != NULL)
            *named = 1;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && addr >= lo && addr < hi)
            hit = strstr(line, what) != NULL;
    }
    fclose(f);
    return hit;
}

int main(void)
{
    void *p = malloc(100);
    int shim = 0, brk;

    if (p == NULL)
        return 1;
    brk = maps((uintptr_t)p, "[heap]", "libpmnode-preload.so", &shim);
    if (brk < 0)
        return 1;
    printf("AT_SECURE=%d shim=%s heap=%s\n", getauxval(AT_SECURE) != 0, shim ? "loaded" : "absent",
           brk ? "brk" : "mapped");
    free(p);
    return 0;
}
