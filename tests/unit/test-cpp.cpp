/*
 * test-cpp.cpp - the header-only C++ bindings (bindings/cpp/pmnode/pmnode.hpp).
 *
 * Needs an anonymous backing on node 0 of this host (suite unit, like
 * tests/unit/test-arena.c); exits 77 (skip) when the host has no NUMA sysfs.  A plain
 * main: each check prints on failure, the summary is "N passed, N failed".
 */
#include <pmnode/pmnode.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sys/mman.h>
#include <exception>
#include <memory_resource>
#include <numeric>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <sys/socket.h>
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

/* True when @p p lies in an object of arena @p a. */
bool in_arena(const void *p, pmn_arena *a)
{
    return pmn_arena_of(p) == a;
}

/* True when the pages of [p, p + n) are all on node 0 (and there are some). */
bool on_node0(const void *p, std::size_t n)
{
    struct pmn_where w {
    };
    w.struct_size = sizeof(w);
    if (pmn_where(p, n, &w) != 0)
        return false;
    return w.pages > 0 && pmn_where_pages_on(&w, 0) == w.pages;
}

void test_vector(const pmnode::arena &ar)
{
    pmnode::allocator<int> alloc(ar);
    std::vector<int, pmnode::allocator<int>> v(alloc);
    long long expect = 0;
    for (int i = 0; i < 100000; i++) {
        v.push_back(i);
        expect += i;
    }
    CHECK(v.size() == 100000);
    CHECK(std::accumulate(v.begin(), v.end(), 0LL) == expect);
    CHECK(v.get_allocator() == alloc);
    CHECK(in_arena(v.data(), ar.get()));
    bool all = true;
    for (const int &x : v)
        all = all && in_arena(&x, ar.get());
    CHECK(all);
    CHECK(on_node0(v.data(), v.size() * sizeof(int)));

    /* Copies, moves and rebinds stay on the arena. */
    auto w = v;
    CHECK(w == v && in_arena(w.data(), ar.get()));
    auto m = std::move(w);
    CHECK(m.size() == 100000 && in_arena(m.data(), ar.get()));
    pmnode::allocator<double> d(alloc);
    CHECK(d == alloc && d.arena_ptr() == ar.get());
    std::vector<std::vector<int, pmnode::allocator<int>>,
                pmnode::allocator<std::vector<int, pmnode::allocator<int>>>>
        nested(alloc);
    nested.emplace_back(10, 7, alloc);
    CHECK(in_arena(nested.data(), ar.get()) && in_arena(nested[0].data(), ar.get()));

    /* An empty allocation is a valid, freeable pointer. */
    int *z = alloc.allocate(0);
    alloc.deallocate(z, 0);
}

void test_pmr(const pmnode::arena &ar)
{
    pmnode::memory_resource mr(ar);
    pmnode::memory_resource same(ar.get());
    CHECK(mr.is_equal(same) && mr == same);
    CHECK(!mr.is_equal(*std::pmr::new_delete_resource()));

    std::pmr::vector<long> v(&mr);
    for (long i = 0; i < 100000; i++)
        v.push_back(i * 3);
    CHECK(v.size() == 100000 && v[99999] == 299997);
    bool all = true;
    for (const long &x : v)
        all = all && in_arena(&x, ar.get());
    CHECK(all);
    CHECK(on_node0(v.data(), v.size() * sizeof(long)));

    std::pmr::unordered_map<int, std::pmr::string> m(&mr);
    for (int i = 0; i < 20000; i++)
        m.emplace(i, std::pmr::string("value number " + std::to_string(i) +
                                      " long enough to leave SSO behind"));
    CHECK(m.size() == 20000 && m.at(12345).find("12345") != std::string::npos);
    all = true;
    for (const auto &kv : m)
        all = all && in_arena(&kv, ar.get()) && in_arena(kv.second.data(), ar.get());
    CHECK(all);
    m.clear();

    /* Direct use with an alignment. */
    void *p = mr.allocate(1000, 256);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % 256 == 0 && in_arena(p, ar.get()));
    mr.deallocate(p, 1000, 256);
}

struct alignas(64) line {
    unsigned char bytes[64];
};

struct alignas(4096) page {
    unsigned char bytes[100];
};

void test_overaligned(const pmnode::arena &ar)
{
    std::vector<line, pmnode::allocator<line>> v{pmnode::allocator<line>(ar)};
    bool aligned = true;
    for (int i = 0; i < 1000; i++) {
        v.emplace_back();
        aligned = aligned && reinterpret_cast<std::uintptr_t>(v.data()) % 64 == 0;
    }
    CHECK(aligned);
    CHECK(in_arena(v.data(), ar.get()));

    pmnode::allocator<page> pa(ar);
    page *pg[8];
    aligned = true;
    for (auto &x : pg) {
        x = pa.allocate(1);
        aligned =
            aligned && reinterpret_cast<std::uintptr_t>(x) % 4096 == 0 && in_arena(x, ar.get());
    }
    CHECK(aligned);
    for (auto *x : pg)
        pa.deallocate(x, 1);

    pmnode::memory_resource mr(ar);
    std::pmr::vector<line> pv(&mr);
    pv.resize(333);
    CHECK(reinterpret_cast<std::uintptr_t>(pv.data()) % 64 == 0 && in_arena(pv.data(), ar.get()));
}

void test_errors(const pmnode::context &ctx)
{
    bool thrown = false;
    try {
        pmnode::backing b(ctx, 4095);
    } catch (const pmnode::error &e) {
        thrown = true;
        CHECK(e.pmn_code() == PMN_E_NO_NODE);
        CHECK(e.code().category() == pmnode::error_category());
        CHECK(std::string(e.what()).find(pmn_strerror(PMN_E_NO_NODE)) != std::string::npos);
        CHECK(std::string(e.name()) == "PMN_E_NO_NODE");
    }
    CHECK(thrown);

    thrown = false;
    try {
        pmnode::backing b(ctx, -1);
    } catch (const std::system_error &e) { /* catchable as the standard type */
        thrown = true;
        CHECK(e.code().value() < 0);
    }
    CHECK(thrown);

    /* errno codes map to the generic category. */
    CHECK(pmnode::make_error_code(-ENOMEM) == std::errc::not_enough_memory);
    CHECK(pmnode::make_error_code(PMN_E_NO_NODE) != std::errc::not_enough_memory);

    /* A capped arena runs out: the allocator throws std::bad_alloc. */
    pmnode::backing b(ctx, 0);
    pmn_arena_opts o{};
    o.struct_size = sizeof(o);
    o.cap_bytes = 8u << 20;
    pmnode::arena small(b, &o);
    pmnode::allocator<char> a(small);
    bool bad = false;
    try {
        std::vector<char, pmnode::allocator<char>> v(64u << 20, 'x', a);
    } catch (const std::bad_alloc &) {
        bad = true;
    }
    CHECK(bad);
}

/* trim() gives back what emptied pages kept (issue 17, 0.9). */
void test_trim(const pmnode::backing &b)
{
    pmnode::arena ar(b);
    std::vector<void *> objs;
    for (int i = 0; i < 2048; i++) { /* 8 MiB */
        void *p = ar.allocate(4000);
        std::memset(p, 1, 4000);
        objs.push_back(p);
    }
    for (void *p : objs)
        CHECK(pmn_free(p) == 0);
    std::uint64_t before = ar.stats().populated;
    std::uint64_t released = ar.trim();
    CHECK(released > 0);
    CHECK(ar.stats().populated == before - released);
    pmnode::slab s(b, 64);
    CHECK(s.trim() == 0); /* nothing mapped yet, nothing to give */
}

/* Slab options, reserve and the failure reason (issue 14). */
void test_slab(const pmnode::backing &b)
{
    pmn_slab_opts o{};
    o.struct_size = sizeof(o);
    o.cap_objects = 62; /* two whole pages: 31 objects of 2 KiB to a 64 KiB page */
    pmnode::slab s(b, 2048, &o);
    s.reserve(62);
    CHECK(s.stats().populated >= 62 * 2048);
    std::vector<void *> objs;
    while (void *p = s.try_allocate())
        objs.push_back(p);
    CHECK(objs.size() == 62);
    CHECK(pmnode::last_error() == PMN_E_CAP_REACHED);
    bool threw = false;
    try {
        (void)s.allocate();
    } catch (const pmnode::error &e) {
        threw = e.pmn_code() == PMN_E_CAP_REACHED;
    }
    CHECK(threw);
    for (void *p : objs)
        CHECK(s.deallocate(p) == 0);
    CHECK(s.stats().objects == 0);
    pmnode::slab moved = std::move(s);
    CHECK(moved.object_size() == 2048);
    threw = false;
    try {
        moved.reserve(63);
    } catch (const pmnode::error &e) {
        threw = e.pmn_code() == PMN_E_CAP_REACHED;
    }
    CHECK(threw);
}

/* Registration: hooks see every extent before its objects, listings agree,
 * unmaps pair with maps, a throwing on_map fails the allocation. */
void test_registration(const pmnode::context &ctx)
{
    std::vector<pmn_extent> mapped;
    std::size_t unmapped = 0;
    {
        pmnode::extent_hooks hooks(
            [&](const pmn_extent &e) {
                mapped.push_back(e);
                return 0;
            },
            [&](const pmn_extent &) { unmapped++; });
        pmnode::backing b(ctx, 0);
        hooks.install(b);
        pmnode::arena ar(b);
        void *p = ar.allocate(1000);
        CHECK(mapped.size() == 1 && mapped[0].node == 0);
        CHECK(static_cast<char *>(p) >= static_cast<char *>(mapped[0].addr) &&
              static_cast<char *>(p) + 1000 <=
                  static_cast<char *>(mapped[0].addr) + mapped[0].len);
        std::vector<pmn_extent> listed = pmnode::extents(ar);
        CHECK(listed.size() == 1 && listed[0].addr == mapped[0].addr);
        CHECK(pmnode::extents(b).size() == 1);
        CHECK(ar.stats().resident == listed[0].len);
        bool busy = false;
        try {
            hooks.install(b);
        } catch (const pmnode::error &e) {
            busy = e.code().value() == -EBUSY;
        }
        CHECK(busy);
        pmn_free(p);
    }
    CHECK(unmapped == mapped.size());

    pmnode::extent_hooks refuse([](const pmn_extent &) -> int { throw std::runtime_error("no"); },
                                nullptr);
    pmnode::backing b2(ctx, 0);
    refuse.install(b2);
    pmnode::arena ar2(b2);
    bool threw = false;
    try {
        (void)ar2.allocate(64);
    } catch (const std::bad_alloc &) {
        threw = true;
    }
    CHECK(threw);
    CHECK(pmnode::extents(ar2).empty());
}

/* Bring your own memory (since 0.4): a user range and a provider over
 * anonymous mappings this test owns. */
struct pool {
    char *base;
    std::size_t len, used;
    int live;
};

int pool_map(void *state, const pmn_provider_request *req, pmn_extent *out)
{
    auto *p = static_cast<pool *>(state);
    const std::size_t len = req->len, align = req->align;
    auto at = (reinterpret_cast<std::uintptr_t>(p->base) + p->used + align - 1) & ~(align - 1);
    if (at + len > reinterpret_cast<std::uintptr_t>(p->base) + p->len)
        return -ENOMEM;
    std::memset(reinterpret_cast<void *>(at), 0, len); /* populated: no populate op */
    p->used = at + len - reinterpret_cast<std::uintptr_t>(p->base);
    out->addr = reinterpret_cast<void *>(at);
    out->len = len;
    p->live++;
    return 0;
}

int pool_unmap(void *state, const pmn_extent *)
{
    static_cast<pool *>(state)->live--;
    return 0;
}

void test_byom(const pmnode::context &ctx)
{
    const std::size_t len = 32u << 20;
    void *m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    char *base = static_cast<char *>(m);
    {
        pmnode::backing ub = pmnode::backing::user(ctx, 0, m, len);
        CHECK(ub.verified());
        CHECK(pmn_backing_type(ub.get()) == PMN_BACKING_USER);
        pmnode::arena ar(ub);
        pmnode::memory_resource mr(ar);
        std::pmr::vector<int> v(&mr);
        v.resize(100000, 7);
        auto *first = reinterpret_cast<char *>(v.data());
        CHECK(first >= base && first + v.size() * sizeof(int) <= base + len);
        CHECK(std::accumulate(v.begin(), v.end(), 0) == 700000);
    }
    bool threw = false;
    try {
        (void)pmnode::backing::user(ctx, 0, base + 1, len);
    } catch (const pmnode::error &e) {
        threw = e.pmn_code() == -EINVAL;
    }
    CHECK(threw);

    pool pl{base, len, 0, 0};
    pmn_provider_ops ops{};
    ops.struct_size = sizeof(ops);
    ops.name = "cpp-pool";
    ops.map = pool_map;
    ops.unmap = pool_unmap;
    {
        pmnode::backing pb = pmnode::backing::provider(ctx, 0, ops, &pl);
        CHECK(pb.verified());
        pmnode::arena ar(pb);
        void *p = ar.allocate(1000);
        CHECK(static_cast<char *>(p) >= base && static_cast<char *>(p) < base + len);
        CHECK(pl.live > 0);
        pmn_free(p);
    }
    CHECK(pl.live == 0);
    /* A table of 0.4's first layout (no caps) throws with -EPROTO. */
    pmn_provider_ops old = ops;
    old.struct_size = offsetof(pmn_provider_ops, caps);
    threw = false;
    try {
        (void)pmnode::backing::provider(ctx, 0, old, &pl);
    } catch (const pmnode::error &e) {
        threw = e.pmn_code() == -EPROTO;
    }
    CHECK(threw);
    CHECK(pl.live == 0);
    munmap(m, len);
}

/* Sharing (issue 15): export two objects of a shareable arena, carry the
 * handles over a socketpair (to this same process), open them through an
 * ipc_cache as RAII mappings: the same bytes, one map for the region, the
 * stale handle of a freed object refused, a non-shareable backing refused;
 * a read-only descriptor's mapping says it is not writable. */
void test_ipc(const pmnode::context &ctx, const pmnode::backing &plain)
{
    pmn_backing_params *p = nullptr;
    CHECK(pmn_backing_params_new(&p) == 0);
    CHECK(pmn_backing_params_set_node(p, 0) == 0);
    CHECK(pmn_backing_params_set_shareable(p, true) == 0);
    pmnode::backing b(ctx, p);
    pmn_backing_params_free(p);
    pmnode::arena ar(b);
    auto *x = static_cast<unsigned char *>(ar.allocate(5000));
    auto *y = static_cast<unsigned char *>(ar.allocate(300));
    for (int i = 0; i < 5000; i++)
        x[i] = static_cast<unsigned char>(i * 7);
    std::memset(y, 0x5a, 300);

    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    pmnode::ipc_export ex = pmnode::ipc_get(x), ey = pmnode::ipc_get(y);
    CHECK(ex.fd >= 0 && ex.fd == ey.fd && ex.handle.node == 0);
    pmnode::ipc_send(sv[0], ex.handle, ex.fd);
    pmnode::ipc_send(sv[0], ey.handle);
    pmnode::ipc_message mx = pmnode::ipc_recv(sv[1]);
    pmnode::ipc_message my = pmnode::ipc_recv(sv[1]);
    CHECK(mx.fd.get() >= 0 && my.fd.get() == -1);
    CHECK(std::memcmp(&mx.handle, &ex.handle, sizeof(ex.handle)) == 0);
    /* The kind and, for device-dax, the device (0.4). */
    CHECK(ex.handle.kind == PMN_IPC_KIND_MEMFD && pmnode::ipc_device(ex.handle).empty());
    pmn_ipc_handle dh = ex.handle;
    dh.kind = PMN_IPC_KIND_DAX;
    std::memcpy(dh.dax_name, "dax0.0", 7);
    CHECK(pmnode::ipc_device(dh) == "/dev/dax0.0");
    std::memset(dh.dax_name, 'a', sizeof(dh.dax_name)); /* no NUL */
    CHECK(pmnode::ipc_device(dh).empty());

    pmnode::ipc_cache cache;
    {
        pmnode::ipc_mapping mapx = cache.open(mx.handle, mx.fd.get());
        pmnode::ipc_mapping mapy = cache.open(my.handle); /* the cached fd */
        CHECK(mapx && mapx.size() >= 5000 && mapy.size() >= 300);
        CHECK(mapx.data() != static_cast<void *>(x)); /* a mapping of its own */
        CHECK(std::memcmp(mapx.data(), x, 5000) == 0);
        CHECK(static_cast<unsigned char *>(mapy.data())[299] == 0x5a);
        CHECK(on_node0(mapx.data(), 5000));
        static_cast<unsigned char *>(mapx.data())[10] = 0xff; /* shared memory */
        CHECK(x[10] == 0xff);
        CHECK(mapx.valid() && mapy.valid());
        struct pmn_ipc_cache_stats st = cache.stats();
        CHECK(st.opens == 2 && st.maps == 1 && st.mapped == 1);
        pmnode::ipc_mapping moved = std::move(mapy);
        CHECK(!mapy && moved);
        CHECK(mapx.writable());
    }
    {
        /* A read-only descriptor (0.10): another cache maps it read-only. */
        pmnode::unique_fd ro = pmnode::ipc_fd_readonly(ex.fd);
        CHECK(ro.get() >= 0 && ro.get() != ex.fd);
        pmnode::ipc_cache rcache;
        pmnode::ipc_mapping r = rcache.open(ex.handle, ro.get());
        CHECK(r && !r.writable() && std::memcmp(r.data(), x, 5000) == 0);
    }
    struct pmn_ipc_cache_stats st = cache.stats();
    CHECK(st.closes == 2 && st.mapped == 0);

    pmn_free(x); /* the handle goes stale */
    int code = 0;
    try {
        (void)cache.open(mx.handle);
    } catch (const pmnode::error &e) {
        code = e.pmn_code();
    }
    CHECK(code == PMN_E_STALE_HANDLE);
    code = 0;
    pmnode::arena other(plain);
    void *z = other.allocate(64);
    try {
        (void)pmnode::ipc_get(z);
    } catch (const pmnode::error &e) {
        code = e.pmn_code();
    }
    CHECK(code == PMN_E_NOT_SHAREABLE);
    close(sv[0]);
    code = 0;
    try {
        (void)pmnode::ipc_recv(sv[1]);
    } catch (const pmnode::error &e) {
        code = e.pmn_code();
    }
    CHECK(code == -ECONNRESET);
    close(sv[1]);
}

} // namespace

int main()
{
    try {
        pmnode::context ctx("/", PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG);
        pmnode::context copy = ctx;
        CHECK(copy.get() == ctx.get());
        pmnode::backing b(ctx, 0);
        pmnode::arena ar(b);
        test_vector(ar);
        test_pmr(ar);
        test_overaligned(ar);
        test_errors(ctx);
        test_slab(b);
        ar.reserve(1 << 20);
        CHECK(ar.stats().populated >= (1u << 20));
        test_trim(b);
        test_registration(ctx);
        test_byom(ctx);
        test_ipc(ctx, b);
        pmn_alloc_stats st = ar.stats();
        CHECK(st.backing.nnodes == 1 && st.backing.node[0].node == 0);
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
