// hello_private.cpp - a first C++ program on a private node.
//
// Finds the private node nearest node 0, puts a std::vector and a
// std::pmr::unordered_map there through a libpmnode arena, and asks the
// kernel where their pages are.  Every byte the containers allocate comes
// from that node, or the allocation throws; nothing lands anywhere else.
//
// A machine without private memory has no node to offer; an administrator
// can name one (PMNODE_PRIVATE_NODES=N, or "private N" in pmnode.conf), and
// for a first try any node will do:
//     PMNODE_PRIVATE_NODES=0 ./hello_private
//
// Build against an installed libpmnode:
//     c++ -std=c++17 hello_private.cpp $(pkg-config --cflags --libs pmnode) -o hello_private
// Exit status: 0 done, 1 a call failed or a page was elsewhere, 2 no private node.
#include <cstdio>
#include <memory_resource>
#include <string>
#include <unordered_map>
#include <vector>

#include <pmnode/pmnode.hpp>

int main()
try {
    pmnode::context ctx;
    int node;
    int err = pmn_nearest_private_node(ctx.get(), 0, &node);
    if (err < 0) {
        std::printf("no private node: %s\n(an administrator names one with PMNODE_PRIVATE_NODES=N;"
                    " to try this on any node: PMNODE_PRIVATE_NODES=0 ./hello_private)\n",
                    pmn_strerror(err));
        return 2;
    }

    pmnode::backing backing(ctx, node); // strictly on that node
    pmnode::arena arena(backing);

    // A vector whose elements live on the node...
    std::vector<double, pmnode::allocator<double>> samples{pmnode::allocator<double>(arena)};
    for (int i = 0; i < 1000000; i++)
        samples.push_back(i * 0.5);

    // ...and a pmr container, whose nodes and strings all do too.
    pmnode::memory_resource mr(arena);
    std::pmr::unordered_map<std::pmr::string, std::pmr::string> config(&mr);
    config["greeting"] = "hello from a private node, with a string too long for SSO";

    struct pmn_where w {
    };
    w.struct_size = sizeof(w);
    if ((err = pmn_where(samples.data(), samples.size() * sizeof(double), &w)) < 0)
        throw pmnode::error(err, "pmn_where");
    std::printf("node %d: %zu doubles in %llu pages, %llu of them on node %d\n", node,
                samples.size(), (unsigned long long)w.pages,
                (unsigned long long)pmn_where_pages_on(&w, node), node);
    std::printf("%s\n", config["greeting"].c_str());

    pmn_alloc_stats st = arena.stats();
    std::printf("arena: %llu objects, %llu KiB allocated, %llu KiB on node %d\n",
                (unsigned long long)st.objects, (unsigned long long)st.allocated >> 10,
                (unsigned long long)st.backing.node[0].bytes >> 10, st.backing.node[0].node);
    return pmn_where_pages_on(&w, node) == w.pages ? 0 : 1;
} catch (const pmnode::error &e) {
    std::fprintf(stderr, "hello_private: %s\n", e.what());
    return 1;
} catch (const std::bad_alloc &) {
    std::fprintf(stderr, "hello_private: the node has no memory left for the containers\n");
    return 1;
}
