/*
 * list_nodes.c - list a machine's NUMA nodes and pick a private one.
 *
 * The smallest useful libpmnode program: create a context (this machine,
 * or the tree named by PMNODE_SYSFS_ROOT), print what each node is, then
 * ask for the private node nearest node 0.  "No private node" and "the
 * kernel gives no distances" are ordinary answers, not failures.
 *
 * Build against an installed libpmnode:
 *     cc list_nodes.c $(pkg-config --cflags --libs pmnode) -o list_nodes
 */
#include <inttypes.h>
#include <stdio.h>

#include <pmnode.h>

int main(void)
{
    struct pmn_ctx *ctx;
    const struct pmn_node *node;
    int err, nearest;

    err = pmn_ctx_new(&ctx);
    if (err < 0) {
        fprintf(stderr, "list_nodes: %s\n", pmn_strerror(err));
        return 1;
    }

    printf("libpmnode %s, root %s\n", pmn_version(), pmn_ctx_root(ctx));
    pmn_node_foreach (ctx, node) {
        uint64_t cap = pmn_node_capacity(node);

        printf("node %d: %-10s %-7s ", pmn_node_id(node), pmn_kind_name(pmn_node_kind(node)),
               pmn_node_is_private(node) ? "private" : "shared");
        if (cap == PMN_UNKNOWN)
            printf("capacity unknown\n");
        else
            printf("%" PRIu64 " MiB\n", cap >> 20);
    }

    err = pmn_nearest_private_node(ctx, 0, &nearest);
    switch (err) {
    case 0: printf("nearest private node to node 0: %d\n", nearest); break;
    case PMN_E_NO_MATCH: /* no node is private */
    case PMN_E_UNKNOWN:  /* private nodes, but no distances to rank them */
    case PMN_E_NO_NODE:  /* ids are sparse and node 0 does not exist */
        /* Not an error for this program: say why there is no answer. */
        printf("no private node chosen: %s\n", pmn_strerror(err));
        break;
    default:
        fprintf(stderr, "list_nodes: nearest private node: %s\n", pmn_strerror(err));
        pmn_ctx_unref(ctx);
        return 1;
    }

    pmn_ctx_unref(ctx);
    return 0;
}
