/*
 * foreign.c - memory the shim did not allocate, handed to it.
 *
 * A real program meets this when something allocated before the shim took
 * over (the dynamic loader's early allocations, a library that captured
 * glibc's malloc) is freed later through the interposed free.  That moment
 * cannot be forced portably, so this program makes the same situation
 * explicitly: it allocates through glibc's own entry points (__libc_malloc,
 * __libc_calloc, __libc_memalign, looked up with dlsym so the program also
 * links where they are not declared), then gives the blocks to the
 * interposed free, realloc and malloc_usable_size.  The shim must route
 * them to glibc (and count them as foreign frees) instead of crashing or
 * corrupting its own heap.
 *
 * Prints "foreign: ..." lines; exit 0, 1 on a failed check, 77 when glibc
 * does not export these symbols.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*memalign_fn)(size_t, size_t);

static int failures;

static void check(int cond, const char *what)
{
    printf("%s %s\n", cond ? "ok  " : "FAIL", what);
    if (!cond)
        failures++;
}

static int intact(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

int main(void)
{
    malloc_fn lmalloc = (malloc_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "__libc_malloc");
    calloc_fn lcalloc = (calloc_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "__libc_calloc");
    memalign_fn lmemalign = (memalign_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "__libc_memalign");
    size_t sizes[] = {1, 24, 100, 1000, 5000, 70000, 300000, 2 << 20};
    enum { NS = sizeof(sizes) / sizeof(sizes[0]) };
    unsigned char *p[NS];

    if (lmalloc == NULL || lcalloc == NULL || lmemalign == NULL) {
        printf("foreign: glibc's __libc_* entry points not found: skip\n");
        return 77;
    }

    /* free() of glibc blocks, small and mmapped */
    for (size_t i = 0; i < NS; i++) {
        p[i] = lmalloc(sizes[i]);
        if (p[i] == NULL)
            return 1;
        memset(p[i], 0x5a, sizes[i]);
    }
    int usable = 1;
    for (size_t i = 0; i < NS; i++)
        if (malloc_usable_size(p[i]) < sizes[i])
            usable = 0;
    check(usable, "malloc_usable_size of glibc blocks >= their size");
    for (size_t i = 0; i < NS; i++)
        free(p[i]);
    check(1, "free of glibc blocks (8 sizes, 1 B to 2 MiB)");

    /* realloc() of glibc blocks: the data moves, the old block is released */
    int kept = 1;
    for (size_t i = 0; i < NS; i++) {
        unsigned char *q = lmalloc(sizes[i]), *r;
        if (q == NULL)
            return 1;
        memset(q, 0x33, sizes[i]);
        r = realloc(q, sizes[i] * 2 + 10);
        if (r == NULL || !intact(r, sizes[i], 0x33))
            kept = 0;
        if (r != NULL)
            memset(r, 0x44, sizes[i] * 2 + 10);
        free(r);
    }
    check(kept, "realloc of glibc blocks keeps the data (grow)");
    kept = 1;
    for (size_t i = 0; i < NS; i++) {
        unsigned char *q = lmalloc(sizes[i] + 100), *r;
        if (q == NULL)
            return 1;
        memset(q, 0x66, sizes[i] + 100);
        r = realloc(q, sizes[i]);
        if (r == NULL || !intact(r, sizes[i], 0x66))
            kept = 0;
        free(r);
    }
    check(kept, "realloc of glibc blocks keeps the data (shrink)");

    /* calloc'd and aligned glibc blocks */
    unsigned char *c = lcalloc(100, 100);
    check(c != NULL && intact(c, 10000, 0), "__libc_calloc block is zero");
    free(c);
    void *a = lmemalign(4096, 10000);
    check(a != NULL && ((uintptr_t)a & 4095) == 0, "__libc_memalign block is aligned");
    free(a);

    /* the shim's own heap still works after all that */
    unsigned char *m[1000];
    int ok = 1;
    for (int i = 0; i < 1000; i++) {
        m[i] = malloc((size_t)i * 13 + 1);
        if (m[i] == NULL)
            return 1;
        memset(m[i], i & 0xff, (size_t)i * 13 + 1);
    }
    for (int i = 0; i < 1000; i++) {
        if (!intact(m[i], (size_t)i * 13 + 1, (unsigned char)(i & 0xff)))
            ok = 0;
        free(m[i]);
    }
    check(ok, "the heap is intact afterwards");
    printf("foreign: %s\n", failures == 0 ? "PASS" : "FAIL");
    return failures == 0 ? 0 : 1;
}
