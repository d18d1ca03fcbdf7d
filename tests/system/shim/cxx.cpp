// cxx.cpp - a C++ program whose heap is all operator new/delete: std::map,
// std::unordered_map, std::vector, std::string churn, over-aligned new,
// exceptions (their objects are malloc'd), operator new's failure contract
// (new-handler, std::bad_alloc, nothrow new) and shared_ptr handed between
// threads.  shim-test.py runs it with and without the shim and compares the
// output, a digest of everything it built.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace
{

uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = static_cast<const unsigned char *>(data);
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

uint64_t fnv(uint64_t h, const std::string &s)
{
    return fnv(h, s.data(), s.size());
}

struct alignas(128) Wide {
    double v[16];
};

int fail(const char *what)
{
    std::fprintf(stderr, "cxx: %s\n", what);
    return 1;
}

} // namespace

int main()
{
    uint64_t h = 14695981039346656037ull;

    // map of strings to vectors, grown, edited, half erased
    std::map<std::string, std::vector<int>> m;
    for (int i = 0; i < 100000; i++) {
        std::string key = "key-" + std::to_string(i * 7919 % 100003);
        auto &v = m[key];
        for (int j = 0; j < i % 17; j++)
            v.push_back(i * j);
    }
    for (auto it = m.begin(); it != m.end();) {
        if (it->second.size() % 3 == 0)
            it = m.erase(it);
        else
            ++it;
    }
    for (const auto &kv : m) {
        h = fnv(h, kv.first);
        h = fnv(h, kv.second.data(), kv.second.size() * sizeof(int));
    }
    std::printf("map: %zu keys\n", m.size());

    // unordered_map rehashing, strings growing by appends
    std::unordered_map<uint64_t, std::string> u;
    for (uint64_t i = 0; i < 200000; i++)
        u[i * 2654435761u % 1000003] += std::string(i % 40 + 1, static_cast<char>('a' + i % 26));
    std::vector<std::pair<uint64_t, std::string>> flat(u.begin(), u.end());
    std::sort(flat.begin(), flat.end());
    for (const auto &kv : flat) {
        h = fnv(h, &kv.first, sizeof(kv.first));
        h = fnv(h, kv.second);
    }
    std::printf("unordered_map: %zu keys\n", flat.size());
    u.clear();
    flat.clear();
    flat.shrink_to_fit();

    // big vectors reallocating, strings concatenated
    std::vector<std::string> words;
    for (int i = 0; i < 300000; i++)
        words.push_back(std::to_string(i) + ":" + std::string(i % 13, 'x'));
    std::sort(words.begin(), words.end());
    std::string joined;
    for (const auto &w : words)
        joined += w;
    h = fnv(h, joined);
    std::printf("strings: %zu words, %zu bytes joined\n", words.size(), joined.size());

    // over-aligned new (aligned operator new: aligned_alloc/posix_memalign)
    std::vector<std::unique_ptr<Wide>> wide;
    for (int i = 0; i < 10000; i++) {
        wide.emplace_back(new Wide{});
        if (reinterpret_cast<uintptr_t>(wide.back().get()) % alignof(Wide) != 0)
            return fail("over-aligned new returned a misaligned object");
        wide.back()->v[i % 16] = i;
    }
    Wide *arr = new Wide[33];
    if (reinterpret_cast<uintptr_t>(arr) % alignof(Wide) != 0)
        return fail("over-aligned new[] returned a misaligned array");
    delete[] arr;
    wide.clear();

    // exceptions: __cxa_allocate_exception mallocs the object
    int caught = 0;
    for (int i = 0; i < 20000; i++) {
        try {
            if (i % 2 == 0)
                throw std::runtime_error("error number " + std::to_string(i));
            throw std::out_of_range(std::string(200, 'e'));
        } catch (const std::exception &e) {
            caught += e.what()[0] == 'e';
        }
    }
    std::printf("exceptions: %d caught\n", caught);

    // operator new's contract when memory runs out: the new-handler is
    // called until it gives up, then std::bad_alloc; nothrow new gives NULL
    {
        static int handler_calls;
        size_t huge = SIZE_MAX / 2;
        bool threw = false;
        std::set_new_handler([] {
            if (++handler_calls == 3)
                std::set_new_handler(nullptr);
        });
        // through volatile pointers: a new-expression whose result is
        // only deleted may be elided (clang does)
        static char *volatile sink;
        static Wide *volatile wsink;
        try {
            sink = new char[huge];
            delete[] sink;
        } catch (const std::bad_alloc &) {
            threw = true;
        }
        if (!threw || handler_calls != 3)
            return fail("new of SIZE_MAX/2 bytes: no bad_alloc after 3 new-handler calls");
        sink = new (std::nothrow) char[huge];
        if (sink != nullptr)
            return fail("nothrow new of SIZE_MAX/2 bytes did not return NULL");
        threw = false;
        try {
            wsink = new Wide[huge / sizeof(Wide) / 2];
            delete[] wsink;
        } catch (const std::bad_alloc &) {
            threw = true;
        }
        if (!threw)
            return fail("over-aligned new of SIZE_MAX/4 bytes did not throw bad_alloc");
        std::printf("operator new: bad_alloc after %d new-handler calls, nothrow NULL\n",
                    handler_calls);
    }

    // shared_ptrs made on one thread, released on others
    std::vector<std::shared_ptr<std::vector<uint64_t>>> shared;
    for (int i = 0; i < 4000; i++)
        shared.push_back(std::make_shared<std::vector<uint64_t>>(static_cast<size_t>(i % 300 + 1),
                                                                 static_cast<uint64_t>(i)));
    std::mutex lock;
    uint64_t sum = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) {
        auto mine = std::vector<std::shared_ptr<std::vector<uint64_t>>>(
            shared.begin() + t * 1000, shared.begin() + (t + 1) * 1000);
        threads.emplace_back([mine = std::move(mine), &lock, &sum]() mutable {
            uint64_t s = 0;
            for (auto &p : mine) {
                for (auto v : *p)
                    s += v;
                auto copy = std::make_unique<std::vector<uint64_t>>(*p);
                s += copy->size();
            }
            mine.clear();
            std::lock_guard<std::mutex> g(lock);
            sum += s;
        });
    }
    shared.clear(); // the threads hold the last references
    for (auto &t : threads)
        t.join();
    h = fnv(h, &sum, sizeof(sum));
    std::printf("shared_ptr: sum %llu\n", static_cast<unsigned long long>(sum));

    std::printf("digest %016llx\n", static_cast<unsigned long long>(h));
    return 0;
}
