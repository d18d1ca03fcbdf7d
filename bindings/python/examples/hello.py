#!/usr/bin/env python3
"""hello.py - discover private memory, allocate on it, prove where it is.

usage: hello.py [--node N | --allow-shared] [--size BYTES]

1. lists the NUMA nodes libpmnode sees (kind, private or not, capacity);
2. picks the private node nearest node 0 (or the one --node names);
   where no node is private it stops and says so, unless --allow-shared
   lets it demonstrate on node 0, ordinary shared memory;
3. allocates an arena block there, writes through its memoryview, and
   checks page by page (move_pages) that every page is on that node;
4. prints the arena's stats.

Exit status: 0 success, 1 no private node (without --allow-shared), a
misplaced page or a library error, 2 bad usage or an unknown node.
PMNODE_LIBRARY names the libpmnode.so to use (default: the installed one).
"""
import argparse
import json
import sys

import pmnode


def gib(n):
    return "?" if n is None else "%.1f GiB" % (n / (1 << 30))


def pick_node(ctx, args):
    """(node, None) or (None, exit status)."""
    if args.node is not None:
        if args.node not in ctx:
            print("hello: no node %d on this machine" % args.node, file=sys.stderr)
            return None, 2
        return args.node, None
    try:
        return ctx.nearest_private_node(0), None
    except pmnode.NotFoundError:
        if not args.allow_shared:
            print("no private memory node on this machine: nothing is kept out of normal\n"
                  "allocation here (see PMNODE_PRIVATE_NODES to mark one). Rerun with\n"
                  "--allow-shared to demonstrate on node 0, which is ordinary memory.",
                  file=sys.stderr)
            return None, 1
        return 0, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--node", type=int, help="use this node, private or not")
    ap.add_argument("--allow-shared", action="store_true",
                    help="use node 0 when no node is private")
    ap.add_argument("--size", type=int, default=1 << 20, help="bytes to allocate")
    args = ap.parse_args()

    with pmnode.Context() as ctx:
        print("libpmnode %s, root %s" % (pmnode.version(), ctx.root))
        for n in ctx.nodes:
            print("  node %-3d %-10s %-8s capacity %s" % (
                n.id, n.kind, "private" if n.is_private else "shared", gib(n.capacity)))
        node, status = pick_node(ctx, args)
        if node is None:
            return status
        private = ctx.node(node).is_private
        print("using node %d (%s)" % (node, "private" if private else "shared, by request"))

        with pmnode.Backing(ctx, node=node) as backing, pmnode.Arena(backing) as arena:
            block = arena.malloc(args.size)
            with block.view as mv:
                pattern = b"hello, private memory! "
                for off in range(0, len(mv), len(pattern)):
                    chunk = pattern[:len(mv) - off]
                    mv[off:off + len(chunk)] = chunk
            where = pmnode.where(block)
            print("wrote %d bytes at %#x: %d pages, %d on node %d"
                  % (block.size, block.address, where.pages, where.pages_on(node), node))
            ok = where.all_on(node)
            print("placement:", "ok, every page is on node %d" % node if ok else
                  "MISPLACED: %s" % where)
            print("arena stats:", json.dumps(arena.stats()))
            block.free()
        return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except pmnode.Error as e:
        print("hello: %s" % e, file=sys.stderr)
        sys.exit(1)
