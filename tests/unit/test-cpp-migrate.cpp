/*
 * test-cpp-migrate.cpp - the C++ bindings of issue 16 (bindings/cpp/pmnode/
 * pmnode.hpp): moving live data (pmnode::migrate, region/arena/slab/object
 * moves, migrate_report, migrate_error carrying the report), access
 * tracking (pmnode::tracker) and tiering (pmnode::tier).
 *
 *   test-cpp-migrate          on this host, node 0 only: argument errors,
 *                             moves to the node the memory is on
 *                             (already_there), PMN_E_NOT_ON_LIST, tracking
 *                             of writes, tier argument errors, stats JSON
 *   test-cpp-migrate NODE     the same, then moves to NODE and back,
 *                             checked page by page with pmn_where, and a
 *                             tier between node 0 and NODE stepped
 *                             (tests/vm: the CPU-less node)
 *
 * Exits 77 (skip) without NUMA sysfs.  A plain main: each check prints on
 * failure, the summary is "N passed, N failed".
 */
#include <pmnode/pmnode.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

namespace
{

int passed, failed;

void check(bool ok, const char *what, int line)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        std::fprintf(stderr, "FAIL line %d: %s\n", line, what);
    }
}
#define CHECK(cond) check((cond), #cond, __LINE__)

const std::size_t MiB = std::size_t(1) << 20;
std::size_t page;

/* Pages of [p, p + n) on @p node, or ~0 when pmn_where fails.  Every page
 * is read first: with NUMA balancing on (the vm lane's cpuless-hmat), a page
 * under a hinting fault is invisible to move_pages until touched. */
uint64_t pages_on(const void *p, std::size_t n, int node)
{
    for (std::size_t off = 0; off < n; off += page)
        (void)*(static_cast<const volatile char *>(p) + off);
    struct pmn_where w {
    };
    w.struct_size = sizeof(w);
    if (pmn_where(p, n, &w) != 0)
        return ~uint64_t(0);
    return pmn_where_pages_on(&w, node);
}

/* The code a migrate call threw (0: none), and its report. */
template <class F> int migrate_code(F &&f, pmnode::migrate_report *rep = nullptr)
{
    try {
        pmnode::migrate_report r = f();
        if (rep)
            *rep = r;
        return 0;
    } catch (const pmnode::migrate_error &e) {
        if (rep)
            *rep = e.report();
        return e.pmn_code();
    }
}

/* The code any pmnode call threw (0: none). */
template <class F> int code_of(F &&f)
{
    try {
        f();
        return 0;
    } catch (const pmnode::error &e) {
        return e.pmn_code();
    }
}

bool sums(const pmnode::migrate_report &r)
{
    return r.classified() == r.pages;
}

/* An anonymous private range of base pages, written. */
char *anon(std::size_t len)
{
    void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return nullptr;
    (void)madvise(p, len, MADV_NOHUGEPAGE);
    std::memset(p, 0x11, len);
    return static_cast<char *>(p);
}

/* Moves that single-node can check: everything is on node 0 already. */
void test_migrate_local(const pmnode::context &ctx)
{
    pmnode::migrate_report rep;

    /* Argument errors: thrown as migrate_error with no report. */
    char *p = anon(4 * MiB);
    CHECK(p != nullptr);
    int code = migrate_code([&] { return pmnode::migrate(ctx, p + 1, page, 0); }, &rep);
    CHECK(code == -EINVAL);
    CHECK(!pmnode::migrate_error(code, "x", rep).has_report() && rep.pages == 0);
    CHECK(migrate_code([&] { return pmnode::migrate(ctx, p, 0, 0); }) == -EINVAL);
    CHECK(migrate_code([&] { return pmnode::migrate(ctx, p, page, 0, 1u << 30); }) == -EINVAL);
    CHECK(migrate_code([&] { return pmnode::migrate(ctx, p, page, 4095); }) == PMN_E_NO_NODE);

    /* Caught as the base types too. */
    bool caught = false;
    try {
        (void)pmnode::migrate(ctx, p, page, 4095);
    } catch (const pmnode::error &e) {
        caught = e.pmn_code() == PMN_E_NO_NODE && std::string(e.name()) == "PMN_E_NO_NODE";
    }
    CHECK(caught);

    /* A range already on node 0: every page already_there, nothing moved. */
    rep = pmnode::migrate(ctx, p, 4 * MiB, 0);
    CHECK(rep.struct_size == sizeof(pmn_migrate_report));
    CHECK(rep.pages == 4 * MiB / page && rep.already_there == rep.pages && rep.moved == 0);
    CHECK(rep.not_moved() == 0 && rep.first_failed == nullptr && sums(rep));

    /* The flags of 0.6 are accepted. */
    code = migrate_code([&] { return pmnode::migrate(ctx, p, 4 * MiB, 0, PMN_MIGRATE_ROLLBACK); },
                        &rep);
    CHECK(code == 0 && rep.already_there == rep.pages && rep.rolled_back == 0);
    code = migrate_code(
        [&] { return pmnode::migrate(ctx, p, 4 * MiB, 0, PMN_MIGRATE_NO_HEADROOM); }, &rep);
    CHECK(code == 0 && rep.already_there == rep.pages);
    munmap(p, 4 * MiB);

    /* A region, an arena's and a slab's extents, one object. */
    pmnode::backing b(ctx, 0);
    pmnode::region r(b, 4 * MiB);
    std::memset(r.data(), 0x5a, r.size());
    code = migrate_code([&] { return r.migrate(0); }, &rep);
    CHECK(code == 0 && rep.pages == r.size() / page && rep.already_there == rep.pages);
    CHECK(r.node() == 0);
    /* Node 1 is on no list of b (whether it exists or not). */
    code = migrate_code([&] { return r.migrate(1); }, &rep);
    CHECK(code == PMN_E_NOT_ON_LIST);
    pmnode::region moved = std::move(r);
    CHECK(moved.get() != nullptr && r.get() == nullptr);
    CHECK(static_cast<unsigned char *>(moved.data())[moved.size() - 1] == 0x5a);

    pmnode::arena a(b);
    char *x = static_cast<char *>(a.allocate(1000));
    char *big = static_cast<char *>(a.allocate(1 * MiB));
    std::memset(x, 7, 1000);
    std::memset(big, 8, MiB);
    code = migrate_code([&] { return a.migrate(0); }, &rep);
    CHECK(code == 0 && rep.moved == 0 && sums(rep));
    code = migrate_code([&] { return a.migrate_from(0, 0); }, &rep);
    CHECK(code == 0 && rep.moved == 0 && sums(rep));
    CHECK(migrate_code([&] { return a.migrate(1); }) == PMN_E_NOT_ON_LIST);
    code = migrate_code([&] { return pmnode::migrate_object(big, 0); }, &rep);
    /* The large object's extent: the pages written are there, the rest of
     * the extent was never touched (large objects are faulted in lazily). */
    CHECK(code == 0 && rep.pages >= MiB / page && rep.already_there >= MiB / page &&
          rep.already_there + rep.not_present == rep.pages);
    code = migrate_code([&] { return pmnode::migrate_object(x, 0); }, &rep);
    CHECK(code == 0 && rep.moved == 0 && sums(rep));
    int local = 0;
    CHECK(migrate_code([&] { return pmnode::migrate_object(&local, 0); }) == PMN_E_FOREIGN);
    CHECK(x[999] == 7 && big[MiB - 1] == 8);

    pmnode::slab s(b, 256);
    void *o = s.allocate();
    std::memset(o, 9, 256);
    code = migrate_code([&] { return s.migrate(0); }, &rep);
    CHECK(code == 0 && rep.moved == 0 && sums(rep));
    CHECK(migrate_code([&] { return s.migrate_from(0, 0); }) == 0);
    CHECK(migrate_code([&] { return s.migrate(1); }) == PMN_E_NOT_ON_LIST);
    CHECK(static_cast<unsigned char *>(o)[255] == 9);
    CHECK(s.deallocate(o) == 0);
}

/* Tracking writes in @p mode (soft-dirty or uffd-wp); false when the
 * kernel lacks it. */
bool test_track_mode(const pmnode::context &ctx, enum pmn_track_mode mode, const char *name);

void test_track(const pmnode::context &ctx)
{
    /* Under valgrind (which does not know userfaultfd's ioctls, and this
     * host has no soft-dirty bits) no mode works: the registration says
     * so with PMN_NO_TRACK_OK=1. */
    const bool none_ok = std::getenv("PMN_NO_TRACK_OK") != nullptr;
    int code = code_of([&] {
        pmnode::tracker any(ctx);
        CHECK(any.mode() != PMN_TRACK_AUTO);
    });
    CHECK(code == 0 || (none_ok && code == -EOPNOTSUPP));
    bool sd = test_track_mode(ctx, PMN_TRACK_SOFT_DIRTY, "soft-dirty");
    bool wp = test_track_mode(ctx, PMN_TRACK_UFFD_WP, "uffd-wp");
    CHECK(sd || wp || none_ok); /* else nothing here checked that writes are seen */
    CHECK(code_of([&] { pmnode::tracker t(ctx, pmnode::track_options(PMN_TRACK_AUTO, 3)); }) ==
          -EINVAL);
    CHECK(code_of([&] { pmnode::tracker t(ctx, static_cast<enum pmn_track_mode>(99)); }) ==
          -EINVAL);
    CHECK(std::string(pmn_track_mode_name(PMN_TRACK_UFFD_WP)) == "uffd-wp");
}

bool test_track_mode(const pmnode::context &ctx, enum pmn_track_mode mode, const char *name)
{
    int code = code_of([&] { pmnode::tracker t(ctx, mode); });
    if (code == -EOPNOTSUPP) {
        std::printf("note: no %s in this kernel: its checks skipped\n", name);
        return false;
    }
    CHECK(code == 0);
    if (code != 0)
        return false;

    pmnode::tracker t(ctx, pmnode::track_options(mode, 2 * MiB));
    CHECK(t.mode() == mode && std::string(t.mode_name()) == name);

    /* 8 MiB aligned to 2 MiB: four extents. */
    char *raw = anon(10 * MiB);
    CHECK(raw != nullptr);
    if (raw == nullptr)
        return false;
    char *p = reinterpret_cast<char *>((reinterpret_cast<std::uintptr_t>(raw) + 2 * MiB - 1) &
                                       ~(std::uintptr_t)(2 * MiB - 1));
    t.add(p, 8 * MiB);
    CHECK(code_of([&] { t.add(p + 2 * MiB, 2 * MiB); }) == -EEXIST);
    CHECK(code_of([&] { t.add(p + 1, page); }) == -EINVAL);
    CHECK(code_of([&] { t.remove(p, 4 * MiB); }) == -ENOENT);

    pmn_track_report r = t.scan(); /* the first look starts every period */
    CHECK(r.struct_size == sizeof(r) && r.pages_examined == 8 * MiB / page);
    CHECK(r.extents_examined == 4 && r.passes == 1);
    std::vector<pmn_track_extent> ex = t.extents();
    CHECK(ex.size() == 4);

    std::memset(p + 2 * MiB, 1, 2 * MiB); /* extent 1: every page */
    for (int i = 0; i < 3; i++)
        p[4 * MiB + static_cast<std::size_t>(i) * 16 * page] = 2; /* extent 2: three pages */
    r = t.scan();
    CHECK(r.extents_examined == 4 && r.extents_touched == 2);
    ex = t.extents();
    CHECK(ex.size() == 4);
    if (ex.size() == 4) {
        CHECK(ex[0].addr == p && ex[0].len == 2 * MiB && ex[3].addr == p + 6 * MiB);
        CHECK(ex[0].pages_examined == 2 * MiB / page);
        CHECK(ex[0].pages_touched == 0 && ex[3].pages_touched == 0);
        CHECK(ex[1].pages_touched == 2 * MiB / page);
        CHECK(ex[2].pages_touched == 3);
        CHECK(ex[1].heat > ex[2].heat && ex[2].heat >= ex[0].heat);
        CHECK(ex[0].idle_looks >= 1 && ex[1].idle_looks == 0);
    }

    /* Nothing written since: nothing touched. */
    r = t.scan();
    CHECK(r.extents_touched == 0);
    t.remove(p, 8 * MiB);
    CHECK(t.extents().empty());

    /* A page budget bounds a scan; the next scan finishes the pass. */
    pmnode::tracker b(ctx, pmnode::track_options(mode, 2 * MiB, 1024));
    b.add(p, 8 * MiB);
    r = b.scan();
    CHECK(r.pages_examined <= 1024 && r.passes == 0);
    r = b.scan();
    CHECK(r.pages_examined <= 1024 && r.passes == 1);
    pmnode::tracker b2 = std::move(b);
    CHECK(b2.get() != nullptr && b.get() == nullptr);
    munmap(raw, 10 * MiB);
    return true;
}

void test_tier_local(const pmnode::context &ctx)
{
    CHECK(code_of([&] { pmnode::tier t(ctx, 0, 0); }) == -EINVAL);
    CHECK(code_of([&] { pmnode::tier t(ctx, 0, 4095); }) == PMN_E_NO_NODE);

    struct pmn_tier_stats st {
    };
    st.struct_size = sizeof(st);
    st.managed_bytes = 8 * MiB;
    st.promoted_bytes = 123456789;
    st.demoted_bytes = 987654321;
    st.steps = 42;
    std::string js;
    CHECK(code_of([&] { js = pmnode::tier_stats_json(st); }) == 0);
    CHECK(!js.empty() && js.front() == '{' && js.back() == '}');
    CHECK(js.find("\"promoted_bytes\"") != std::string::npos &&
          js.find("123456789") != std::string::npos);
    CHECK(js.find("\"demoted_bytes\"") != std::string::npos &&
          js.find("987654321") != std::string::npos);
    st.struct_size = 0;
    CHECK(code_of([&] { (void)pmnode::tier_stats_json(st); }) == -EINVAL);
}

/* Two nodes: region, arena, object and raw moves to @p node and back. */
void test_migrate_two(const pmnode::context &ctx, int node)
{
    pmn_backing_params *bp = nullptr;
    int spill[2] = {0, node};
    CHECK(pmn_backing_params_new(&bp) == 0);
    CHECK(pmn_backing_params_set_spill(bp, spill, 2) == 0);
    pmnode::backing b(ctx, bp);
    pmn_backing_params_free(bp);

    pmnode::region r(b, 16 * MiB);
    std::memset(r.data(), 0x3c, r.size());
    CHECK(r.node() == 0);
    pmnode::migrate_report rep = r.migrate(node);
    CHECK(rep.pages == r.size() / page && rep.moved == rep.pages && sums(rep));
    CHECK(r.node() == node && pages_on(r.data(), r.size(), node) == rep.pages);
    rep = r.migrate(0, PMN_MIGRATE_ROLLBACK);
    CHECK(rep.moved == rep.pages && r.node() == 0);
    CHECK(pages_on(r.data(), r.size(), 0) == rep.pages);
    CHECK(static_cast<unsigned char *>(r.data())[r.size() / 2] == 0x3c);

    pmnode::arena a(b);
    std::vector<char *> objs;
    for (int i = 0; i < 64; i++) {
        char *x = static_cast<char *>(a.allocate(4096 + static_cast<std::size_t>(i) * 64));
        std::memset(x, i, 4096);
        objs.push_back(x);
    }
    char *big = static_cast<char *>(a.allocate(2 * MiB));
    std::memset(big, 0x77, 2 * MiB);
    rep = a.migrate(node);
    CHECK(rep.moved > 0 && sums(rep));
    CHECK(pages_on(big, 2 * MiB, node) == 2 * MiB / page);
    CHECK(pages_on(objs[0], 4096, node) == 1);
    pmn_alloc_stats st = a.stats();
    uint64_t on_node = 0;
    for (std::size_t i = 0; i < st.backing.nnodes; i++)
        if (st.backing.node[i].node == node)
            on_node = st.backing.node[i].bytes;
    CHECK(on_node >= 2 * MiB);
    rep = pmnode::migrate_object(big, 0);
    CHECK(rep.moved == 2 * MiB / page || rep.moved >= 2 * MiB / page);
    CHECK(pages_on(big, 2 * MiB, 0) == 2 * MiB / page);
    rep = a.migrate_from(node, 0);
    CHECK(sums(rep) && pages_on(objs[63], 4096, 0) == 1);
    bool intact = big[2 * MiB - 1] == 0x77;
    for (int i = 0; i < 64; i++)
        intact = intact && objs[static_cast<std::size_t>(i)][4095] == static_cast<char>(i);
    CHECK(intact);

    /* A backing strictly on node 0: the other node is not on its list. */
    pmnode::backing only0(ctx, 0);
    pmnode::region r0(only0, 2 * MiB);
    int code = migrate_code([&] { return r0.migrate(node); }, &rep);
    CHECK(code == PMN_E_NOT_ON_LIST && rep.pages == 0);

    /* Raw memory of the caller. */
    char *p = anon(8 * MiB);
    rep = pmnode::migrate(ctx, p, 8 * MiB, node);
    CHECK(rep.moved == rep.pages && pages_on(p, 8 * MiB, node) == rep.pages);
    rep = pmnode::migrate(ctx, p, 8 * MiB, 0);
    CHECK(rep.moved == rep.pages && pages_on(p, 8 * MiB, 0) == rep.pages);
    munmap(p, 8 * MiB);
}

void show_step(int step, const struct pmn_tier_stats &d)
{
    std::printf("tier step %d: hot %llu cold %llu other %llu KiB; demoted %llu promoted %llu "
                "KiB, failed moves %llu\n",
                step, (unsigned long long)d.hot_bytes >> 10,
                (unsigned long long)d.cold_bytes >> 10, (unsigned long long)d.other_bytes >> 10,
                (unsigned long long)d.demoted_bytes >> 10,
                (unsigned long long)d.promoted_bytes >> 10, (unsigned long long)d.failed_moves);
}

/* A tier between node 0 and @p node: cold extents go down within the
 * budget, written ones come back. */
void test_tier_two(const pmnode::context &ctx, int node)
{
    pmn_tier_opts o = pmnode::tier_options(0, node);
    o.demote_budget = 4 * MiB;
    o.promote_budget = 4 * MiB;
    o.cold_looks = 1;
    o.track = pmnode::track_options(PMN_TRACK_SOFT_DIRTY, 2 * MiB);
    int code = code_of([&] { pmnode::tier t(ctx, o); });
    if (code == -EOPNOTSUPP) {
        std::printf("note: no soft-dirty bits in this kernel: tier checks skipped\n");
        return;
    }
    pmnode::tier t(ctx, o);
    char *raw = anon(10 * MiB);
    char *p = reinterpret_cast<char *>((reinterpret_cast<std::uintptr_t>(raw) + 2 * MiB - 1) &
                                       ~(std::uintptr_t)(2 * MiB - 1));
    t.add(p, 8 * MiB);
    CHECK(code_of([&] { t.add(p, 2 * MiB); }) == -EEXIST);
    uint64_t demoted = 0, promoted = 0;
    for (int step = 0; step < 6; step++) {
        std::memset(p, step, 2 * MiB); /* extent 0 stays hot */
        struct pmn_tier_stats d = t.step();
        show_step(step, d);
        CHECK(d.demoted_bytes <= o.demote_budget && d.promoted_bytes <= o.promote_budget);
        CHECK(d.hot_bytes + d.cold_bytes + d.compressed_bytes + d.other_bytes == 8 * MiB);
        CHECK(d.steps == 1);
        demoted += d.demoted_bytes;
        promoted += d.promoted_bytes;
    }
    /* The idle extents went down (what a later step did with them is the
     * tier's business); the hot one never left node 0. */
    struct pmn_tier_stats st = t.stats();
    CHECK(st.steps == 6 && st.managed_bytes == 8 * MiB);
    CHECK(demoted >= 4 * MiB && st.demoted_bytes == demoted && st.promoted_bytes == promoted);
    CHECK(st.failed_moves == 0);
    CHECK(pages_on(p, 2 * MiB, 0) == 2 * MiB / page);
    CHECK(t.extents().size() == 4);
    CHECK(t.tracker() != nullptr);
    std::string js = t.stats_json();
    CHECK(js.find("\"steps\"") != std::string::npos);
    t.remove(p, 8 * MiB);
    CHECK(code_of([&] { t.remove(p, 8 * MiB); }) == -ENOENT);
    munmap(raw, 10 * MiB);
}

} // namespace

int main(int argc, char **argv)
{
    int node = argc > 1 ? std::atoi(argv[1]) : -1;

    page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    try {
        pmnode::context ctx("/", PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG);
        test_migrate_local(ctx);
        test_track(ctx);
        test_tier_local(ctx);
        if (node > 0) {
            test_migrate_two(ctx, node);
            test_tier_two(ctx, node);
        }
    } catch (const pmnode::error &e) {
        if (e.pmn_code() == PMN_E_NO_NUMA) {
            std::printf("skipped: %s\n", e.what());
            return 77;
        }
        std::fprintf(stderr, "unexpected pmnode::error: %s (%s)\n", e.what(), e.name());
        failed++;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "unexpected exception: %s\n", e.what());
        failed++;
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
