/* static-clash.c - a program linked with libpmnode.a that defines names
 * the library uses internally (a pmn__ function and a pmn__ variable, with
 * other types than the library's).  It links only if libpmnode.a keeps its
 * internal symbols local (libpmnode/static-archive.sh), and then lists the
 * nodes through the public interface, checks that its own definitions are
 * the ones it calls, and that pmn_node_zratio() is the current version
 * (PMNODE_0.2: -1 for unknown; the 0.1 one answered 0) on a node that is
 * not compressed (node 0 here). */
#include <pmnode.h>
#include <stdio.h>

int pmn__bitmap_free(int x);
int pmn__bitmap_free(int x)
{
    return x + 1;
}

long pmn__segmap = 42;

int main(void)
{
    struct pmn_ctx *ctx = NULL;
    const struct pmn_node *node;
    int rc = pmn_ctx_new(&ctx);

    if (rc != 0) {
        fprintf(stderr, "pmn_ctx_new: %s\n", pmn_strerror(rc));
        return 1;
    }
    printf("static: %zu nodes\n", pmn_node_count(ctx));
    node = pmn_node_first(ctx);
    if (node == NULL || pmn_node_zratio(node) >= 0.0) {
        fprintf(stderr, "static: no node, or pmn_node_zratio is not the 0.2 version\n");
        pmn_ctx_unref(ctx);
        return 1;
    }
    pmn_ctx_unref(ctx);
    if (pmn__bitmap_free(1) != 2 || pmn__segmap != 42) {
        fprintf(stderr, "static: the program's own pmn__ names were not its own\n");
        return 1;
    }
    printf("static: own pmn__ names kept\n");
    return 0;
}
