/*
 * misuse.c - a program that misuses an arena on purpose, so a test can
 * check that the memory checkers see inside arenas:
 *   misuse uaf    writes to an object after pmn_free (ASan: use-after-poison;
 *                 valgrind on a debug_full build: invalid write)
 *   misuse leak   drops the last pointer to an arena object (valgrind on a
 *                 debug_full build: definitely lost)
 * It exits 0 itself; the checker is what must object.
 */
#include <stdio.h>
#include <string.h>

#include "pmnode.h"

static void *volatile sink;

int main(int argc, char **argv)
{
    struct pmn_ctx *ctx;
    struct pmn_backing_params *p;
    struct pmn_backing *b;
    struct pmn_arena *a;
    char *obj;

    if (argc != 2 || pmn_ctx_new(&ctx) || pmn_backing_params_new(&p) ||
        pmn_backing_params_set_node(p, pmn_node_id(pmn_node_first(ctx))) ||
        pmn_backing_new(ctx, p, &b) || pmn_arena_new(b, NULL, &a))
        return 2;
    obj = pmn_arena_malloc(a, 100);
    memset(obj, 1, 100);
    if (strcmp(argv[1], "uaf") == 0) {
        pmn_free(obj);
        obj[50] = 7; /* the bug */
        sink = obj;
    } else if (strcmp(argv[1], "leak") == 0) {
        sink = pmn_arena_malloc(a, 200);
        sink = NULL; /* the bug: the 200-byte object is unreachable */
        pmn_free(obj);
        /* exit without destroying the arena, as a leaking program would */
        return 0;
    }
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    pmn_backing_params_free(p);
    pmn_ctx_unref(ctx);
    return 0;
}
