/*
 * pmnode.hpp - header-only C++17 bindings for libpmnode.
 *
 * RAII owners for a context, a node-bound backing and an arena, an error
 * type carrying libpmnode's codes, and two adaptors that let standard
 * containers live on a (private) NUMA node:
 *
 *   pmnode::context ctx;                       // this machine
 *   pmnode::backing b(ctx, 2);                 // node 2, strictly
 *   pmnode::arena a(b);
 *
 *   std::vector<int, pmnode::allocator<int>> v(pmnode::allocator<int>(a));
 *
 *   pmnode::memory_resource mr(a);
 *   std::pmr::vector<int> w(&mr);
 *
 * Every object either container allocates comes from the arena, so it is
 * on the backing's node or the allocation throws std::bad_alloc.
 *
 * Lifetimes: an arena must outlive every allocator, memory_resource and
 * container using it (pmn_arena_destroy() frees all its objects).  The
 * backing and context may be dropped before the arena: libpmnode keeps
 * them referenced while the arena holds memory.
 *
 * Sharing with other processes (since 0.4): pmnode::ipc_get() exports an
 * object of a shareable backing, pmnode::ipc_send() / ipc_recv() carry
 * the handle and the backing's fd over a UNIX socket, and an
 * pmnode::ipc_cache opens handles as RAII pmnode::ipc_mapping objects
 * (the last one of a region unmaps it):
 *
 *   pmnode::ipc_cache cache;
 *   pmnode::ipc_message m = pmnode::ipc_recv(sock);
 *   pmnode::ipc_mapping buf = cache.open(m.handle, m.fd.get());
 *   use(buf.data(), buf.size());           // closed when buf goes
 *
 * An owner whose peer must only read sends pmnode::ipc_fd_readonly(fd)
 * instead of the backing's fd (since 0.10); the peer's mapping is then
 * read-only (ipc_mapping::writable() is false).
 *
 * Moving live data, access tracking and tiering (since 0.6): every move
 * returns a pmnode::migrate_report or throws pmnode::migrate_error, which
 * carries the report of how far the move got:
 *
 *   pmnode::region r(b, 64 << 20);
 *   pmnode::migrate_report rep = r.migrate(3);      // a node of b's spill list
 *   a.migrate(3);                                   // an arena's extents
 *   pmnode::tracker t(ctx, PMN_TRACK_SOFT_DIRTY);    // which extents were written
 *   t.add(r.data(), r.size());
 *   t.scan();
 *   pmnode::tier tr(ctx, 0, 3);                     // hot node 0, cold node 3
 *   tr.add(r.data(), r.size());
 *   struct pmn_tier_stats d = tr.step();            // caller-driven, within budgets
 *
 * Link with -lpmnode (pkg-config pmnode).
 */
#ifndef PMNODE_HPP
#define PMNODE_HPP

#include <cerrno>
#include <cstddef>
#include <functional>
#include <limits>
#include <memory_resource>
#include <new>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <unistd.h>

#include <pmnode.h>

namespace pmnode
{

/* ---------------------------------------------------------------- errors */

/**
 * The "pmnode" error category: values are libpmnode's negative codes
 * (PMN_E_* or -errno); messages come from pmn_strerror().  Codes in the
 * errno range compare equal to the matching std::errc.
 */
class error_category_impl final : public std::error_category
{
  public:
    const char *name() const noexcept override
    {
        return "pmnode";
    }
    std::string message(int code) const override
    {
        return pmn_strerror(code);
    }
    std::error_condition default_error_condition(int code) const noexcept override
    {
        if (code < 0 && code > -PMN_ERRNO_BASE)
            return std::error_condition(-code, std::generic_category());
        return std::error_condition(code, *this);
    }
};

/** The category singleton. */
inline const std::error_category &error_category() noexcept
{
    static const error_category_impl cat;
    return cat;
}

/** Wrap a libpmnode code (negative) in a std::error_code. */
inline std::error_code make_error_code(int code) noexcept
{
    return std::error_code(code, error_category());
}

/**
 * Thrown by the wrappers when a libpmnode call fails.  what() is
 * "<call>: <pmn_strerror text>"; code() holds the libpmnode code.
 */
class error : public std::system_error
{
  public:
    error(int code, const char *call) : std::system_error(make_error_code(code), call)
    {
    }
    /** The raw libpmnode code (PMN_E_* or -errno). */
    int pmn_code() const noexcept
    {
        return code().value();
    }
    /** Symbolic name of the code ("PMN_E_NO_NODE", "ENOMEM"). */
    const char *name() const noexcept
    {
        return pmn_err_name(code().value());
    }
};

namespace detail
{
inline void check(int rc, const char *call)
{
    if (rc < 0)
        throw error(rc, call);
}
} // namespace detail

/* ------------------------------------------------------------- context */

/**
 * A reference to a pmn_ctx.  Copies share the context (pmn_ctx_ref);
 * the last one drops it.
 */
class context
{
  public:
    /** This machine (or PMNODE_SYSFS_ROOT), as pmn_ctx_new(). */
    context()
    {
        detail::check(pmn_ctx_new(&ctx_), "pmn_ctx_new");
    }

    /**
     * A context under @p root (nullptr: "/") with enum pmn_ctx_flags
     * @p flags, e.g. PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG.
     */
    explicit context(const char *root, unsigned flags = 0)
    {
        pmn_ctx_params *p = nullptr;
        detail::check(pmn_ctx_params_new(&p), "pmn_ctx_params_new");
        int rc = pmn_ctx_params_set_root(p, root);
        if (rc == 0)
            rc = pmn_ctx_params_set_flags(p, flags);
        if (rc == 0)
            rc = pmn_ctx_new_params(&ctx_, p);
        pmn_ctx_params_free(p);
        detail::check(rc, "pmn_ctx_new_params");
    }

    /** Adopt a reference the caller owns (no extra ref is taken). */
    explicit context(pmn_ctx *adopt) noexcept : ctx_(adopt)
    {
    }

    context(const context &o) noexcept : ctx_(pmn_ctx_ref(o.ctx_))
    {
    }
    context(context &&o) noexcept : ctx_(std::exchange(o.ctx_, nullptr))
    {
    }
    context &operator=(context o) noexcept
    {
        std::swap(ctx_, o.ctx_);
        return *this;
    }
    ~context()
    {
        pmn_ctx_unref(ctx_);
    }

    pmn_ctx *get() const noexcept
    {
        return ctx_;
    }

    /* ---- spill lists and device locality (0.3) ---- */

    /**
     * pmn_spill_list(): node ids with memory nearest @p from_node first;
     * @p kinds a mask of PMN_KIND_BIT() (0: any), @p flags
     * PMN_SELECT_PRIVATE or 0.  Throws pmnode::error (PMN_E_NO_MATCH,
     * PMN_E_UNKNOWN, ...).  Ready for pmn_backing_params_set_spill().
     */
    std::vector<int> spill_list(int from_node, unsigned kinds = 0, unsigned flags = 0) const
    {
        std::vector<int> ids(64);
        int n = pmn_spill_list(ctx_, from_node, kinds, flags, ids.data(), ids.size());
        detail::check(n, "pmn_spill_list");
        ids.resize(static_cast<std::size_t>(n));
        return ids;
    }

    /** pmn_device_node(): "0000:3b:00.0", "eth0" or "/sys/devices/...". */
    int device_node(const char *dev) const
    {
        int node = -1;
        detail::check(pmn_device_node(ctx_, dev, &node), "pmn_device_node");
        return node;
    }

    /** pmn_nearest_node_to_device(). */
    int nearest_node_to_device(const char *dev) const
    {
        int node = -1;
        detail::check(pmn_nearest_node_to_device(ctx_, dev, &node), "pmn_nearest_node_to_device");
        return node;
    }

    /** pmn_nearest_private_to_device(). */
    int nearest_private_to_device(const char *dev) const
    {
        int node = -1;
        detail::check(pmn_nearest_private_to_device(ctx_, dev, &node),
                      "pmn_nearest_private_to_device");
        return node;
    }

    /** pmn_devices(), read now. */
    std::vector<pmn_device> devices() const
    {
        for (;;) {
            int n = pmn_devices(ctx_, nullptr, 0);
            detail::check(n, "pmn_devices");
            std::vector<pmn_device> v(static_cast<std::size_t>(n) + 1);
            v[0].struct_size = sizeof(pmn_device);
            int got = pmn_devices(ctx_, v.data(), v.size());
            detail::check(got, "pmn_devices");
            if (static_cast<std::size_t>(got) <= v.size()) {
                v.resize(static_cast<std::size_t>(got));
                return v;
            }
            /* More appeared between the two calls: ask again. */
        }
    }

    /* ---- what a node's memory is (0.8) ---- */

    /**
     * pmn_node_side_caches() of node @p id: its memory-side caches by
     * ascending level (empty on most machines).  Throws pmnode::error
     * with PMN_E_NO_NODE when the context has no such node.
     */
    std::vector<pmn_side_cache> side_caches(int id) const
    {
        const pmn_node *n = pmn_node_get(ctx_, id);
        if (n == nullptr)
            detail::check(PMN_E_NO_NODE, "pmn_node_get");
        int count = pmn_node_side_caches(n, nullptr, 0);
        detail::check(count, "pmn_node_side_caches");
        std::vector<pmn_side_cache> v(static_cast<std::size_t>(count));
        if (count > 0) {
            v[0].struct_size = sizeof(pmn_side_cache);
            detail::check(pmn_node_side_caches(n, v.data(), v.size()), "pmn_node_side_caches");
        }
        return v;
    }

  private:
    pmn_ctx *ctx_ = nullptr;
};

/* ------------------------------------------------------------- backing */

/** Owner of a pmn_backing (move-only). */
class backing
{
  public:
    /** Strictly on @p node, of @p type (anon by default). */
    backing(const context &ctx, int node, enum pmn_backing_type type = PMN_BACKING_ANON)
    {
        pmn_backing_params *p = nullptr;
        detail::check(pmn_backing_params_new(&p), "pmn_backing_params_new");
        int rc = pmn_backing_params_set_type(p, type);
        const char *call = "pmn_backing_params_set_type";
        if (rc == 0) {
            rc = pmn_backing_params_set_node(p, node);
            call = "pmn_backing_params_set_node";
        }
        if (rc == 0) {
            rc = pmn_backing_new(ctx.get(), p, &b_);
            call = "pmn_backing_new";
        }
        pmn_backing_params_free(p);
        detail::check(rc, call);
    }

    /** From parameters the caller set up (spill list, dax, hugetlb...). */
    backing(const context &ctx, const pmn_backing_params *params)
    {
        detail::check(pmn_backing_new(ctx.get(), params, &b_), "pmn_backing_new");
    }

    backing(const backing &) = delete;
    backing &operator=(const backing &) = delete;
    backing(backing &&o) noexcept : b_(std::exchange(o.b_, nullptr))
    {
    }
    backing &operator=(backing &&o) noexcept
    {
        std::swap(b_, o.b_);
        return *this;
    }
    ~backing()
    {
        pmn_backing_free(b_);
    }

    pmn_backing *get() const noexcept
    {
        return b_;
    }

    /* ---- bring your own memory (since 0.4) ---- */

    /**
     * A PMN_BACKING_USER backing over [@p addr, @p addr + @p len), which the
     * caller owns and keeps mapped until every arena and slab on it is gone;
     * checked at creation (pmn::error PMN_E_MISPLACED when a page is
     * elsewhere) unless @p flags has PMN_USER_UNVERIFIED.
     */
    static backing user(const context &ctx, int node, void *addr, std::size_t len, int fd = -1,
                        uint64_t offset = 0, unsigned flags = 0)
    {
        pmn_backing_params *p = nullptr;
        pmn_backing *b = nullptr;
        detail::check(pmn_backing_params_new(&p), "pmn_backing_params_new");
        int rc = pmn_backing_params_set_node(p, node);
        const char *call = "pmn_backing_params_set_node";
        if (rc == 0) {
            rc = pmn_backing_params_set_user(p, addr, len, fd, offset, flags);
            call = "pmn_backing_params_set_user";
        }
        if (rc == 0) {
            rc = pmn_backing_new(ctx.get(), p, &b);
            call = "pmn_backing_new";
        }
        pmn_backing_params_free(p);
        detail::check(rc, call);
        return backing(b);
    }

    /**
     * A PMN_BACKING_PROVIDER backing strictly on @p node over the caller's
     * @p ops (copied) and @p state (which must outlive the backing; ops must
     * not throw: they are called from C).
     */
    static backing provider(const context &ctx, int node, const pmn_provider_ops &ops, void *state)
    {
        pmn_backing_params *p = nullptr;
        pmn_backing *b = nullptr;
        detail::check(pmn_backing_params_new(&p), "pmn_backing_params_new");
        int rc = pmn_backing_params_set_node(p, node);
        if (rc == 0)
            rc = pmn_backing_new_provider(ctx.get(), p, &ops, state, &b);
        pmn_backing_params_free(p);
        detail::check(rc, "pmn_backing_new_provider");
        return backing(b);
    }

    /** Whether placement is checked page by page (pmn_backing_verified()). */
    bool verified() const noexcept
    {
        return pmn_backing_verified(b_);
    }

  private:
    explicit backing(pmn_backing *b) noexcept : b_(b)
    {
    }

    pmn_backing *b_ = nullptr;
};

struct migrate_report;

/* --------------------------------------------------------------- arena */

/** Owner of a pmn_arena (move-only); destroying it frees every object. */
class arena
{
  public:
    /** An arena over @p b; @p opts may be nullptr (defaults). */
    explicit arena(const backing &b, const pmn_arena_opts *opts = nullptr)
    {
        detail::check(pmn_arena_new(b.get(), opts, &a_), "pmn_arena_new");
    }

    arena(const arena &) = delete;
    arena &operator=(const arena &) = delete;
    arena(arena &&o) noexcept : a_(std::exchange(o.a_, nullptr))
    {
    }
    arena &operator=(arena &&o) noexcept
    {
        std::swap(a_, o.a_);
        return *this;
    }
    ~arena()
    {
        pmn_arena_destroy(a_);
    }

    pmn_arena *get() const noexcept
    {
        return a_;
    }

    /** Raw allocation: throws std::bad_alloc instead of returning NULL. */
    void *allocate(std::size_t size, std::size_t align = alignof(std::max_align_t))
    {
        void *p = pmn_arena_aligned_alloc(a_, align, size);
        if (p == nullptr)
            throw std::bad_alloc();
        return p;
    }

    /** Counters (pmn_arena_stats). */
    pmn_alloc_stats stats() const
    {
        pmn_alloc_stats st{};
        st.struct_size = sizeof(st);
        detail::check(pmn_arena_stats(a_, &st), "pmn_arena_stats");
        return st;
    }

    /** Populate and keep @p bytes of small-object pages (pmn_arena_reserve); throws on failure. */
    void reserve(std::size_t bytes)
    {
        detail::check(pmn_arena_reserve(a_, bytes), "pmn_arena_reserve");
    }

    /**
     * Give back now the memory kept for reuse (pmn_arena_trim; since 0.9):
     * the small-page cache, empty extents beyond retain, the large-extent
     * cache, and (since 0.12.2) the calling thread's pages whose objects
     * other threads freed.  Live objects stay.  The bytes of populated
     * memory released.
     */
    std::uint64_t trim()
    {
        std::uint64_t released = 0;
        detail::check(pmn_arena_trim(a_, &released), "pmn_arena_trim");
        return released;
    }

    /**
     * Move every extent not on @p node yet to @p node, a node of the
     * backing's list (pmn_arena_migrate with from -1); objects keep their
     * addresses.  The summed report, or migrate_error (since 0.6).
     */
    migrate_report migrate(int node, unsigned flags = 0);
    /** Move only the extents now on @p from (say, what spilled) to @p node. */
    migrate_report migrate_from(int from, int node, unsigned flags = 0);

  private:
    pmn_arena *a_ = nullptr;
};

/* ---------------------------------------------------------------- slab */

/** Why this thread's last allocation failed (pmn_last_error): a PMN_E_* code or -errno. */
inline int last_error() noexcept
{
    return pmn_last_error();
}

/** Owner of a pmn_slab (move-only): fixed-size objects, optionally capped and reserved. */
class slab
{
  public:
    /** A slab of @p obj_size objects; @p opts may be nullptr (no cap, no reserve). */
    slab(const backing &b, std::size_t obj_size, const pmn_slab_opts *opts = nullptr)
    {
        detail::check(pmn_slab_new_opts(b.get(), obj_size, opts, &s_), "pmn_slab_new_opts");
    }

    slab(const slab &) = delete;
    slab &operator=(const slab &) = delete;
    slab(slab &&o) noexcept : s_(std::exchange(o.s_, nullptr))
    {
    }
    slab &operator=(slab &&o) noexcept
    {
        std::swap(s_, o.s_);
        return *this;
    }
    ~slab()
    {
        pmn_slab_destroy(s_);
    }

    pmn_slab *get() const noexcept
    {
        return s_;
    }

    /** One object, or nullptr when the pool is empty (last_error() says why). */
    void *try_allocate() noexcept
    {
        return pmn_slab_alloc(s_);
    }

    /** One object; throws pmnode::error with last_error()'s code when there is none. */
    void *allocate()
    {
        void *p = pmn_slab_alloc(s_);
        if (p == nullptr)
            detail::check(pmn_last_error() ? pmn_last_error() : -ENOMEM, "pmn_slab_alloc");
        return p;
    }

    /** Give @p p back: 0 or the misuse code (pmn_slab_free). */
    int deallocate(void *p) noexcept
    {
        return pmn_slab_free(s_, p);
    }

    /** Populate and keep room for @p nobjs objects (pmn_slab_reserve); throws on failure. */
    void reserve(std::size_t nobjs)
    {
        detail::check(pmn_slab_reserve(s_, nobjs), "pmn_slab_reserve");
    }

    /** arena::trim() for the slab (pmn_slab_trim; since 0.9). */
    std::uint64_t trim()
    {
        std::uint64_t released = 0;
        detail::check(pmn_slab_trim(s_, &released), "pmn_slab_trim");
        return released;
    }

    /** arena::migrate() for the slab's extents (pmn_slab_migrate; since 0.6). */
    migrate_report migrate(int node, unsigned flags = 0);
    /** arena::migrate_from() for the slab's extents. */
    migrate_report migrate_from(int from, int node, unsigned flags = 0);

    std::size_t object_size() const noexcept
    {
        return pmn_slab_obj_size(s_);
    }

    /** Counters (pmn_slab_stats). */
    pmn_alloc_stats stats() const
    {
        pmn_alloc_stats st{};
        st.struct_size = sizeof(st);
        detail::check(pmn_slab_stats(s_, &st), "pmn_slab_stats");
        return st;
    }

  private:
    pmn_slab *s_ = nullptr;
};

/* ----------------------------------------------------------- allocator */

/**
 * std::allocator-compatible allocator over an arena (non-owning).
 * Not default-constructible: pass it to the container.  Allocators of
 * any T on one arena compare equal; the allocator propagates on copy,
 * move and swap, so a container's memory always stays on its arena.
 */
template <class T> class allocator
{
  public:
    using value_type = T;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    using propagate_on_container_copy_assignment = std::true_type;
    using propagate_on_container_move_assignment = std::true_type;
    using propagate_on_container_swap = std::true_type;
    using is_always_equal = std::false_type;

    /** For allocator_traits implementations that still look for it. */
    template <class U> struct rebind {
        using other = allocator<U>;
    };

    explicit allocator(pmn_arena *a) noexcept : a_(a)
    {
    }
    allocator(const arena &a) noexcept : a_(a.get())
    {
    } // NOLINT: implicit on purpose
    /** Rebinding: same arena, other type. */
    template <class U> allocator(const allocator<U> &o) noexcept : a_(o.arena_ptr())
    {
    }

    /** @p n objects, aligned to alignof(T); std::bad_alloc on failure. */
    [[nodiscard]] T *allocate(size_type n)
    {
        if (n > max_size())
            throw std::bad_array_new_length();
        void *p = pmn_arena_aligned_alloc(a_, alignof(T), n * sizeof(T));
        if (p == nullptr)
            throw std::bad_alloc();
        return static_cast<T *>(p);
    }

    /** Give the objects back (pmn_free; the arena is found from @p p). */
    void deallocate(T *p, size_type) noexcept
    {
        (void)pmn_free(p);
    }

    size_type max_size() const noexcept
    {
        return std::numeric_limits<size_type>::max() / sizeof(T);
    }

    /** A fresh copy of the allocator for a copied container (same arena). */
    allocator select_on_container_copy_construction() const noexcept
    {
        return *this;
    }

    pmn_arena *arena_ptr() const noexcept
    {
        return a_;
    }

  private:
    pmn_arena *a_;
};

template <class T, class U> bool operator==(const allocator<T> &a, const allocator<U> &b) noexcept
{
    return a.arena_ptr() == b.arena_ptr();
}

template <class T, class U> bool operator!=(const allocator<T> &a, const allocator<U> &b) noexcept
{
    return !(a == b);
}

/* ----------------------------------------------------- memory_resource */

/**
 * std::pmr::memory_resource over an arena (non-owning).  Two resources
 * are equal when they draw from the same arena.  Thread-safe like the
 * arena itself.
 */
class memory_resource : public std::pmr::memory_resource
{
  public:
    explicit memory_resource(pmn_arena *a) noexcept : a_(a)
    {
    }
    explicit memory_resource(const arena &a) noexcept : a_(a.get())
    {
    }

    pmn_arena *arena_ptr() const noexcept
    {
        return a_;
    }

  protected:
    void *do_allocate(std::size_t bytes, std::size_t align) override
    {
        void *p = pmn_arena_aligned_alloc(a_, align, bytes);
        if (p == nullptr)
            throw std::bad_alloc();
        return p;
    }

    void do_deallocate(void *p, std::size_t, std::size_t) override
    {
        (void)pmn_free(p);
    }

    bool do_is_equal(const std::pmr::memory_resource &other) const noexcept override
    {
        auto *o = dynamic_cast<const memory_resource *>(&other);
        return o != nullptr && o->a_ == a_;
    }

  private:
    pmn_arena *a_;
};

/* -------------------------------------------------------- registration */

namespace detail
{
inline int push_extent(const pmn_extent *e, void *arg)
{
    try {
        static_cast<std::vector<pmn_extent> *>(arg)->push_back(*e);
        return 0;
    } catch (...) {
        return -ENOMEM; /* no exception crosses the C library */
    }
}
} // namespace detail

/** The extents of every region of @p b mapped now (pmn_backing_extents). */
inline std::vector<pmn_extent> extents(const backing &b)
{
    std::vector<pmn_extent> v;
    detail::check(pmn_backing_extents(b.get(), detail::push_extent, &v), "pmn_backing_extents");
    return v;
}

/** The extents an arena holds now (pmn_arena_extents): what to register. */
inline std::vector<pmn_extent> extents(const arena &a)
{
    std::vector<pmn_extent> v;
    detail::check(pmn_arena_extents(a.get(), detail::push_extent, &v), "pmn_arena_extents");
    return v;
}

/** The extents a slab holds now (pmn_slab_extents). */
inline std::vector<pmn_extent> extents(pmn_slab *s)
{
    std::vector<pmn_extent> v;
    detail::check(pmn_slab_extents(s, detail::push_extent, &v), "pmn_slab_extents");
    return v;
}

/**
 * Map/unmap hooks as std::function, installed on a backing before it maps
 * anything (pmn_backing_set_hooks; throws pmnode::error -EBUSY after).
 * on_map returns 0 to accept the extent, nonzero (or throws: -ECANCELED)
 * to fail the map; on_unmap must not throw (an exception is swallowed).
 * The object must outlive every region, arena and slab of the backing it
 * is installed on: declare it before them (and it cannot move once
 * installed).  The hooks may run in any thread that allocates or frees.
 */
class extent_hooks
{
  public:
    using map_fn = std::function<int(const pmn_extent &)>;
    using unmap_fn = std::function<void(const pmn_extent &)>;

    extent_hooks(map_fn on_map, unmap_fn on_unmap)
        : on_map_(std::move(on_map)), on_unmap_(std::move(on_unmap))
    {
    }
    extent_hooks(const extent_hooks &) = delete;
    extent_hooks &operator=(const extent_hooks &) = delete;

    /** Install on @p b (the struct is copied; this object is the arg). */
    void install(const backing &b)
    {
        pmn_extent_hooks h{};
        h.struct_size = sizeof(h);
        h.on_map = &extent_hooks::map_thunk;
        h.on_unmap = &extent_hooks::unmap_thunk;
        h.arg = this;
        detail::check(pmn_backing_set_hooks(b.get(), &h), "pmn_backing_set_hooks");
    }

  private:
    static int map_thunk(const pmn_extent *e, void *arg)
    {
        auto *self = static_cast<extent_hooks *>(arg);
        try {
            return self->on_map_ ? self->on_map_(*e) : 0;
        } catch (...) {
            return -ECANCELED;
        }
    }
    static void unmap_thunk(const pmn_extent *e, void *arg)
    {
        auto *self = static_cast<extent_hooks *>(arg);
        try {
            if (self->on_unmap_)
                self->on_unmap_(*e);
        } catch (...) {
        }
    }

    map_fn on_map_;
    unmap_fn on_unmap_;
};

/* ----------------------------------------- sharing with other processes */

/**
 * An owned file descriptor (move-only; closed when it goes), as
 * pmnode::ipc_recv() hands the received one over.  -1: none.
 */
class unique_fd
{
  public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd)
    {
    }
    unique_fd(const unique_fd &) = delete;
    unique_fd &operator=(const unique_fd &) = delete;
    unique_fd(unique_fd &&o) noexcept : fd_(std::exchange(o.fd_, -1))
    {
    }
    unique_fd &operator=(unique_fd &&o) noexcept
    {
        std::swap(fd_, o.fd_);
        return *this;
    }
    ~unique_fd()
    {
        if (fd_ >= 0)
            ::close(fd_);
    }
    int get() const noexcept
    {
        return fd_;
    }
    /** Give the descriptor up (the caller closes it). */
    int release() noexcept
    {
        return std::exchange(fd_, -1);
    }

  private:
    int fd_ = -1;
};

/**
 * What pmnode::ipc_get() gives: the handle (a plain struct of fixed layout:
 * send its bytes as they are) and the backing's fd, BORROWED (the backing
 * owns it: do not close it).
 */
struct ipc_export {
    pmn_ipc_handle handle;
    int fd;
};

/** Export the live arena or slab object at @p p (pmn_ipc_get); throws pmnode::error. */
inline ipc_export ipc_get(const void *p)
{
    ipc_export e{};
    detail::check(pmn_ipc_get(p, &e.handle, &e.fd), "pmn_ipc_get");
    return e;
}

/** Export a whole region (pmn_ipc_get_region); throws pmnode::error. */
inline ipc_export ipc_get(const pmn_region *r)
{
    ipc_export e{};
    detail::check(pmn_ipc_get_region(r, &e.handle, &e.fd), "pmn_ipc_get_region");
    return e;
}

/**
 * A read-only descriptor of the backing's file @p fd (an ipc_export's), to
 * send instead of it to a peer that must only read (pmn_ipc_fd_readonly,
 * since 0.10: the peer can write none of the file).  Throws pmnode::error.
 */
inline unique_fd ipc_fd_readonly(int fd)
{
    int ro = -1;
    detail::check(pmn_ipc_fd_readonly(fd, &ro), "pmn_ipc_fd_readonly");
    return unique_fd(ro);
}

/**
 * The device a PMN_IPC_KIND_DAX handle's memory is in ("/dev/dax0.0": the
 * path the importer opens), or "" for any other kind or a name that is not
 * NUL-terminated in its field.  Informational: pmn_ipc_open() checks the
 * name itself (since 0.4).
 */
inline std::string ipc_device(const pmn_ipc_handle &h)
{
    std::size_t n = 0;
    if (h.kind != PMN_IPC_KIND_DAX)
        return std::string();
    while (n < sizeof(h.dax_name) && h.dax_name[n] != '\0')
        n++;
    if (n == 0 || n == sizeof(h.dax_name))
        return std::string();
    return "/dev/" + std::string(h.dax_name, n);
}

/** Send @p h with @p fd (-1: the handle alone) on a UNIX socket (pmn_ipc_send). */
inline void ipc_send(int sock, const pmn_ipc_handle &h, int fd = -1)
{
    detail::check(pmn_ipc_send(sock, &h, fd), "pmn_ipc_send");
}

/** A message pmnode::ipc_recv() received: the handle and the fd (owned; may be -1). */
struct ipc_message {
    pmn_ipc_handle handle;
    unique_fd fd;
};

/**
 * Receive one message (pmn_ipc_recv).  Throws pmnode::error; when the
 * peer closed the socket its code is -ECONNRESET.
 */
inline ipc_message ipc_recv(int sock)
{
    ipc_message m{};
    int fd = -1;
    detail::check(pmn_ipc_recv(sock, &m.handle, &fd), "pmn_ipc_recv");
    m.fd = unique_fd(fd);
    return m;
}

class ipc_cache;

/**
 * An opened handle (move-only): the object's bytes in this process,
 * closed (pmn_ipc_close) when it goes.  Must not outlive its cache.
 */
class ipc_mapping
{
  public:
    ipc_mapping() noexcept = default;
    ipc_mapping(const ipc_mapping &) = delete;
    ipc_mapping &operator=(const ipc_mapping &) = delete;
    ipc_mapping(ipc_mapping &&o) noexcept
        : c_(std::exchange(o.c_, nullptr)), addr_(std::exchange(o.addr_, nullptr)),
          size_(std::exchange(o.size_, 0))
    {
    }
    ipc_mapping &operator=(ipc_mapping &&o) noexcept
    {
        std::swap(c_, o.c_);
        std::swap(addr_, o.addr_);
        std::swap(size_, o.size_);
        return *this;
    }
    ~ipc_mapping()
    {
        close();
    }

    void *data() const noexcept
    {
        return addr_;
    }
    /** The object's bytes (the handle's object_len). */
    std::size_t size() const noexcept
    {
        return size_;
    }
    explicit operator bool() const noexcept
    {
        return addr_ != nullptr;
    }
    /**
     * Whether the owner has not freed the object since (pmn_ipc_valid): read,
     * then ask, to know the bytes read were the object's.
     */
    bool valid() const noexcept
    {
        return addr_ != nullptr && pmn_ipc_valid(c_, addr_) == 0;
    }
    /**
     * Whether the bytes may be written (pmn_ipc_writable, since 0.10): false
     * when the cache holds a read-only descriptor of the backing
     * (pmnode::ipc_fd_readonly), so that a store there would be SIGSEGV.
     */
    bool writable() const noexcept
    {
        return addr_ != nullptr && pmn_ipc_writable(c_, addr_) == 1;
    }
    /** Close now (the last close of a region unmaps it); idempotent. */
    void close() noexcept
    {
        if (addr_ != nullptr)
            (void)pmn_ipc_close(c_, addr_);
        addr_ = nullptr;
        size_ = 0;
    }

  private:
    friend class ipc_cache;
    ipc_mapping(pmn_ipc_cache *c, void *addr, std::size_t size) noexcept
        : c_(c), addr_(addr), size_(size)
    {
    }
    pmn_ipc_cache *c_ = nullptr;
    void *addr_ = nullptr;
    std::size_t size_ = 0;
};

/**
 * Owner of a pmn_ipc_cache (move-only): an importer's maps and fds, freed
 * when it goes (every mapping must be gone first).  Thread-safe as the C
 * cache is.
 */
class ipc_cache
{
  public:
    ipc_cache()
    {
        detail::check(pmn_ipc_cache_new(&c_), "pmn_ipc_cache_new");
    }
    ipc_cache(const ipc_cache &) = delete;
    ipc_cache &operator=(const ipc_cache &) = delete;
    ipc_cache(ipc_cache &&o) noexcept : c_(std::exchange(o.c_, nullptr))
    {
    }
    ipc_cache &operator=(ipc_cache &&o) noexcept
    {
        std::swap(c_, o.c_);
        return *this;
    }
    ~ipc_cache()
    {
        pmn_ipc_cache_free(c_);
    }

    pmn_ipc_cache *get() const noexcept
    {
        return c_;
    }

    /**
     * Open @p h (pmn_ipc_open): @p fd as received (the cache dups it; the
     * caller keeps its own), or -1 for the cached one (with
     * PMN_IPC_FETCH_FD in @p flags: or fetched from the owner).  Throws
     * pmnode::error: PMN_E_STALE_HANDLE, PMN_E_NODE_CHANGED,
     * PMN_E_BAD_HANDLE, -errno.
     */
    ipc_mapping open(const pmn_ipc_handle &h, int fd = -1, unsigned flags = 0)
    {
        void *addr = nullptr;
        detail::check(pmn_ipc_open(c_, &h, fd, flags, &addr), "pmn_ipc_open");
        return ipc_mapping(c_, addr, static_cast<std::size_t>(h.object_len));
    }

    /** Counters (pmn_ipc_cache_stats). */
    struct pmn_ipc_cache_stats stats() const
    {
        struct pmn_ipc_cache_stats st {
        };
        st.struct_size = sizeof(st);
        detail::check(pmn_ipc_cache_stats(c_, &st), "pmn_ipc_cache_stats");
        return st;
    }

  private:
    pmn_ipc_cache *c_ = nullptr;
};

/* ------------------------------------------------ moving live data (0.6) */

/**
 * What a migration did (pmn_migrate_report) with struct_size set: every
 * page of the range in exactly one of moved, already_there, target_full,
 * busy_or_pinned, shared, not_present and other.
 */
struct migrate_report : pmn_migrate_report {
    migrate_report() noexcept : pmn_migrate_report{}
    {
        struct_size = sizeof(pmn_migrate_report);
    }
    /** Pages that could not move (target_full + busy_or_pinned + shared + other). */
    uint64_t not_moved() const noexcept
    {
        return target_full + busy_or_pinned + shared + other;
    }
    /** The sum of the classes: equals pages when the library filled the report. */
    uint64_t classified() const noexcept
    {
        return moved + already_there + not_moved() + not_present;
    }
};

/**
 * Thrown by the migrate calls: the code (PMN_E_NODE_FULL, -EBUSY, -EACCES,
 * PMN_E_MISPLACED, PMN_E_NOT_ON_LIST, -EINVAL...) and the report of how far
 * the call got.  has_report() is false when the call failed before it
 * looked at any page (bad arguments, unknown node, outside the cpuset): the
 * report is then all zero.
 */
class migrate_error : public error
{
  public:
    migrate_error(int code, const char *call, const migrate_report &rep)
        : error(code, call), rep_(rep)
    {
    }
    const migrate_report &report() const noexcept
    {
        return rep_;
    }
    bool has_report() const noexcept
    {
        return rep_.pages != 0;
    }

  private:
    migrate_report rep_;
};

namespace detail
{
inline const migrate_report &check_migrate(int rc, const char *call, const migrate_report &rep)
{
    if (rc < 0)
        throw migrate_error(rc, call, rep);
    return rep;
}
} // namespace detail

/**
 * Move every present page of [@p addr, @p addr + @p len) to @p node,
 * strictly (pmn_migrate): the report, or pmnode::migrate_error carrying
 * it.  @p flags: PMN_MIGRATE_ROLLBACK, PMN_MIGRATE_NO_HEADROOM.
 * Thread-safe for distinct ranges.
 */
inline migrate_report migrate(const context &ctx, void *addr, std::size_t len, int node,
                              unsigned flags = 0)
{
    migrate_report rep;
    return detail::check_migrate(pmn_migrate(ctx.get(), addr, len, node, flags, &rep),
                                 "pmn_migrate", rep);
}

/**
 * Move the extent holding arena or slab object @p p (and the neighbours
 * sharing it) to @p node (pmn_migrate_object); throws migrate_error
 * (PMN_E_FOREIGN for a pointer no arena owns).
 */
inline migrate_report migrate_object(void *p, int node, unsigned flags = 0)
{
    migrate_report rep;
    return detail::check_migrate(pmn_migrate_object(p, node, flags, &rep), "pmn_migrate_object",
                                 rep);
}

/** arena::migrate() and slab::migrate() for a raw handle. */
inline migrate_report migrate(pmn_arena *a, int from, int node, unsigned flags = 0)
{
    migrate_report rep;
    return detail::check_migrate(pmn_arena_migrate(a, from, node, flags, &rep),
                                 "pmn_arena_migrate", rep);
}
inline migrate_report migrate(pmn_slab *s, int from, int node, unsigned flags = 0)
{
    migrate_report rep;
    return detail::check_migrate(pmn_slab_migrate(s, from, node, flags, &rep), "pmn_slab_migrate",
                                 rep);
}

inline migrate_report arena::migrate(int node, unsigned flags)
{
    return pmnode::migrate(a_, -1, node, flags);
}
inline migrate_report arena::migrate_from(int from, int node, unsigned flags)
{
    return pmnode::migrate(a_, from, node, flags);
}
inline migrate_report slab::migrate(int node, unsigned flags)
{
    return pmnode::migrate(s_, -1, node, flags);
}
inline migrate_report slab::migrate_from(int from, int node, unsigned flags)
{
    return pmnode::migrate(s_, from, node, flags);
}

/* -------------------------------------------------------------- region */

/**
 * Owner of a pmn_region (move-only): one mapping of a backing, mapped,
 * bound, populated and verified at construction (pmn_region_map), unmapped
 * when it goes.  Since 0.6 in C++ (for region::migrate).
 */
class region
{
  public:
    region(const backing &b, std::size_t size)
    {
        detail::check(pmn_region_map(b.get(), size, &r_), "pmn_region_map");
    }
    region(const region &) = delete;
    region &operator=(const region &) = delete;
    region(region &&o) noexcept : r_(std::exchange(o.r_, nullptr))
    {
    }
    region &operator=(region &&o) noexcept
    {
        std::swap(r_, o.r_);
        return *this;
    }
    ~region()
    {
        if (r_ != nullptr)
            (void)pmn_region_unmap(r_);
    }

    pmn_region *get() const noexcept
    {
        return r_;
    }
    void *data() const noexcept
    {
        return pmn_region_addr(r_);
    }
    std::size_t size() const noexcept
    {
        return pmn_region_size(r_);
    }
    /** The node its pages are on (after a migrate: the new one). */
    int node() const noexcept
    {
        return pmn_region_node(r_);
    }

    /**
     * Move the whole region to @p node, a node of its backing's list
     * (pmn_region_migrate): the report, or migrate_error
     * (PMN_E_NOT_ON_LIST, -EOPNOTSUPP for dax/user/provider memory,
     * PMN_E_NODE_FULL...).  No other migrate of this region concurrently.
     */
    migrate_report migrate(int node, unsigned flags = 0)
    {
        migrate_report rep;
        return detail::check_migrate(pmn_region_migrate(r_, node, flags, &rep),
                                     "pmn_region_migrate", rep);
    }

  private:
    pmn_region *r_ = nullptr;
};

/* ---------------------------------------------- access tracking (0.6) */

/** Tracker options with struct_size set; @p mode PMN_TRACK_AUTO picks. */
inline pmn_track_opts track_options(enum pmn_track_mode mode = PMN_TRACK_AUTO,
                                    std::size_t granule = 0, uint64_t page_budget = 0,
                                    unsigned sample_pages = 0) noexcept
{
    pmn_track_opts o{};
    o.struct_size = sizeof(o);
    o.mode = mode;
    o.granule = granule;
    o.page_budget = page_budget;
    o.sample_pages = sample_pages;
    return o;
}

/** The extents of a tracker now, in address order (pmn_track_extents). */
inline std::vector<pmn_track_extent> track_extents(pmn_track *t)
{
    std::vector<pmn_track_extent> v(16);
    for (;;) {
        long n = pmn_track_extents(t, v.data(), v.size());
        if (n < 0)
            detail::check(static_cast<int>(n), "pmn_track_extents");
        if (static_cast<std::size_t>(n) <= v.size()) {
            v.resize(static_cast<std::size_t>(n));
            return v;
        }
        v.resize(static_cast<std::size_t>(n)); /* more than room: ask again */
    }
}

/**
 * Owner of a pmn_track (move-only): which extents of watched ranges were
 * touched since the last look, at a cost bounded by the options.  Each
 * call may be made from any thread (the C tracker serialises them); the
 * destructor lifts any write protection.  Ranges must stay mapped while
 * watched (remove() them first).
 */
class tracker
{
  public:
    /** A tracker with every default but @p mode (pmn_track_new). */
    explicit tracker(const context &ctx, enum pmn_track_mode mode = PMN_TRACK_AUTO)
        : tracker(ctx, track_options(mode))
    {
    }
    /** A tracker with @p opts (a struct_size of 0 is set to sizeof). */
    tracker(const context &ctx, const pmn_track_opts &opts)
    {
        pmn_track_opts o = opts;
        if (o.struct_size == 0)
            o.struct_size = sizeof(o);
        detail::check(pmn_track_new(ctx.get(), &o, &t_), "pmn_track_new");
    }
    tracker(const tracker &) = delete;
    tracker &operator=(const tracker &) = delete;
    tracker(tracker &&o) noexcept : t_(std::exchange(o.t_, nullptr))
    {
    }
    tracker &operator=(tracker &&o) noexcept
    {
        std::swap(t_, o.t_);
        return *this;
    }
    ~tracker()
    {
        pmn_track_free(t_);
    }

    pmn_track *get() const noexcept
    {
        return t_;
    }
    /** The mode in use (never PMN_TRACK_AUTO). */
    enum pmn_track_mode mode() const noexcept
    {
        return pmn_track_mode(t_);
    }
    /** "soft-dirty", "uffd-wp", "idle". */
    const char *mode_name() const noexcept
    {
        return pmn_track_mode_name(pmn_track_mode(t_));
    }
    /** Watch a page-aligned range (-EEXIST when it overlaps one watched). */
    void add(void *addr, std::size_t len)
    {
        detail::check(pmn_track_add(t_, addr, len), "pmn_track_add");
    }
    /** Stop watching a range given to add() (exactly it; -ENOENT otherwise). */
    void remove(void *addr, std::size_t len)
    {
        detail::check(pmn_track_remove(t_, addr, len), "pmn_track_remove");
    }
    /** Look at the next extents, up to the page budget (pmn_track_scan). */
    pmn_track_report scan()
    {
        pmn_track_report r{};
        r.struct_size = sizeof(r);
        detail::check(pmn_track_scan(t_, &r), "pmn_track_scan");
        return r;
    }
    /** Every extent as last seen, in address order. */
    std::vector<pmn_track_extent> extents() const
    {
        return track_extents(t_);
    }

  private:
    pmn_track *t_ = nullptr;
};

/* ------------------------------------------------------- tiering (0.6) */

/** Tier options with struct_size set (and the tracker's left at defaults). */
inline pmn_tier_opts tier_options(int hot_node, int cold_node) noexcept
{
    pmn_tier_opts o{};
    o.struct_size = sizeof(o);
    o.hot_node = hot_node;
    o.cold_node = cold_node;
    return o;
}

/** A tier's stats as the library's JSON object (pmn_tier_stats_json). */
inline std::string tier_stats_json(const struct pmn_tier_stats &st)
{
    int n = pmn_tier_stats_json(&st, nullptr, 0);
    detail::check(n, "pmn_tier_stats_json");
    std::string s(static_cast<std::size_t>(n) + 1, '\0');
    detail::check(pmn_tier_stats_json(&st, &s[0], s.size()), "pmn_tier_stats_json");
    s.resize(static_cast<std::size_t>(n));
    return s;
}

/**
 * Owner of a pmn_tier (move-only): keeps the hot extents of its ranges on
 * the hot node and the cold ones on the cold node (and the coldest on
 * opts.ctier, which must outlive it), moved only by step().  Each call may
 * be made from any thread; ranges must stay mapped while managed.
 */
class tier
{
  public:
    tier(const context &ctx, const pmn_tier_opts &opts)
    {
        pmn_tier_opts o = opts;
        if (o.struct_size == 0)
            o.struct_size = sizeof(o);
        detail::check(pmn_tier_new(ctx.get(), &o, &t_), "pmn_tier_new");
    }
    /** Every default between @p hot_node and @p cold_node. */
    tier(const context &ctx, int hot_node, int cold_node)
        : tier(ctx, tier_options(hot_node, cold_node))
    {
    }
    tier(const tier &) = delete;
    tier &operator=(const tier &) = delete;
    tier(tier &&o) noexcept : t_(std::exchange(o.t_, nullptr))
    {
    }
    tier &operator=(tier &&o) noexcept
    {
        std::swap(t_, o.t_);
        return *this;
    }
    ~tier()
    {
        pmn_tier_free(t_);
    }

    pmn_tier *get() const noexcept
    {
        return t_;
    }
    void add(void *addr, std::size_t len)
    {
        detail::check(pmn_tier_add(t_, addr, len), "pmn_tier_add");
    }
    void remove(void *addr, std::size_t len)
    {
        detail::check(pmn_tier_remove(t_, addr, len), "pmn_tier_remove");
    }
    /** One period: scan, then move within the budgets; what this step did. */
    struct pmn_tier_stats step()
    {
        struct pmn_tier_stats d {
        };
        d.struct_size = sizeof(d);
        detail::check(pmn_tier_step(t_, &d), "pmn_tier_step");
        return d;
    }
    /** The counters since creation. */
    struct pmn_tier_stats stats() const
    {
        struct pmn_tier_stats s {
        };
        s.struct_size = sizeof(s);
        detail::check(pmn_tier_stats(t_, &s), "pmn_tier_stats");
        return s;
    }
    std::string stats_json() const
    {
        return tier_stats_json(stats());
    }
    /** The tier's own tracker (owned by the tier: do not free it). */
    pmn_track *tracker() const noexcept
    {
        return pmn_tier_tracker(t_);
    }
    /** The tracker's extents (their heat ranks what moves). */
    std::vector<pmn_track_extent> extents() const
    {
        return track_extents(pmn_tier_tracker(t_));
    }

  private:
    pmn_tier *t_ = nullptr;
};

} // namespace pmnode

#endif /* PMNODE_HPP */
