/*
 * test-parse.c - unit tests for parse.c: the node bitmap and every strict
 * parser of outside text (sysfs, the environment, and the values the shim
 * and the CLI read with the same functions: node ids, spill lists, sizes,
 * log levels).
 *
 * Inputs are given with explicit lengths (the parsers never rely on a NUL),
 * and several tests cut a longer string short to prove that bytes past the
 * length are not read as part of the value.  Each parser is checked on
 * valid values, boundaries (UINT64_MAX, one past it), the one trailing
 * newline it must accept and the garbage it must refuse.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "discover/discover.h"

#define S(lit) (lit), (sizeof(lit) - 1)

/* ---------------------------------------------------------------- bitmap */

Test(bitmap, empty_and_set)
{
    struct pmn__bitmap b = {0};
    cr_assert_not(pmn__bitmap_test(&b, 0));
    cr_assert_eq(pmn__bitmap_weight(&b), 0);
    cr_assert_eq(pmn__bitmap_next(&b, 0), -1);

    cr_assert_eq(pmn__bitmap_set(&b, 0), 0);
    cr_assert_eq(pmn__bitmap_set(&b, 63), 0);
    cr_assert_eq(pmn__bitmap_set(&b, 64), 0);
    cr_assert_eq(pmn__bitmap_set(&b, 255), 0);
    cr_assert_eq(pmn__bitmap_set(&b, 255), 0); /* idempotent */
    cr_assert_eq(b.nwords, 4, "grows to exactly the highest bit");
    cr_assert(pmn__bitmap_test(&b, 0));
    cr_assert(pmn__bitmap_test(&b, 63));
    cr_assert(pmn__bitmap_test(&b, 64));
    cr_assert(pmn__bitmap_test(&b, 255));
    cr_assert_not(pmn__bitmap_test(&b, 1));
    cr_assert_not(pmn__bitmap_test(&b, 256));
    cr_assert_not(pmn__bitmap_test(&b, UINT_MAX));
    cr_assert_eq(pmn__bitmap_weight(&b), 4);

    cr_assert_eq(pmn__bitmap_next(&b, 0), 0);
    cr_assert_eq(pmn__bitmap_next(&b, 1), 63);
    cr_assert_eq(pmn__bitmap_next(&b, 64), 64);
    cr_assert_eq(pmn__bitmap_next(&b, 65), 255);
    cr_assert_eq(pmn__bitmap_next(&b, 256), -1);
    cr_assert_eq(pmn__bitmap_next(&b, UINT_MAX), -1);

    pmn__bitmap_free(&b);
    cr_assert_null(b.words);
    cr_assert_eq(b.nwords, 0);
    pmn__bitmap_free(&b); /* twice is fine */
    pmn__bitmap_free(NULL);
}

Test(bitmap, sparse_large_ids)
{
    struct pmn__bitmap b = {0};
    cr_assert_eq(pmn__bitmap_set(&b, 252), 0);
    cr_assert_eq(pmn__bitmap_set(&b, PMN__MAX_NODE_ID), 0);
    cr_assert_eq(pmn__bitmap_weight(&b), 2);
    cr_assert_eq(pmn__bitmap_next(&b, 253), PMN__MAX_NODE_ID);
    cr_assert_eq(b.nwords, (PMN__MAX_NODE_ID / 64) + 1);
    pmn__bitmap_free(&b);
}

/* ------------------------------------------------------------------- u64 */

Test(parse_u64, decimal)
{
    uint64_t v = 7;
    cr_assert_eq(pmn__parse_u64(S("0"), 10, &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(pmn__parse_u64(S("4096\n"), 10, &v), 0);
    cr_assert_eq(v, 4096);
    cr_assert_eq(pmn__parse_u64(S("007"), 10, &v), 0,
                 "explicit base 10: leading zeros are decimal");
    cr_assert_eq(v, 7);
    cr_assert_eq(pmn__parse_u64(S("18446744073709551615"), 10, &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(pmn__parse_u64(S("18446744073709551615\n"), 10, &v), 0);
    cr_assert_eq(v, UINT64_MAX);
}

Test(parse_u64, overflow)
{
    uint64_t v = 42;
    cr_assert_eq(pmn__parse_u64(S("18446744073709551616"), 10, &v), -ERANGE);
    cr_assert_eq(pmn__parse_u64(S("99999999999999999999999"), 10, &v), -ERANGE);
    cr_assert_eq(pmn__parse_u64(S("10000000000000000"), 16, &v), -ERANGE);
    cr_assert_eq(v, 42, "output untouched on error");
    /* garbage wins over overflow */
    cr_assert_eq(pmn__parse_u64(S("99999999999999999999999x"), 10, &v), -EINVAL);
}

Test(parse_u64, rejects_garbage)
{
    uint64_t v = 42;
    cr_assert_eq(pmn__parse_u64(S(""), 10, &v), -EINVAL);
    cr_assert_eq(pmn__parse_u64(S("\n"), 10, &v), -EINVAL);
    cr_assert_eq(pmn__parse_u64(S("1\n\n"), 10, &v), -EINVAL, "only one newline");
    cr_assert_eq(pmn__parse_u64(S("1 "), 10, &v), -EINVAL);
    cr_assert_eq(pmn__parse_u64(S(" 1"), 10, &v), -EINVAL);
    cr_assert_eq(pmn__parse_u64(S("1x"), 10, &v), -EINVAL);
    cr_assert_eq(pmn__parse_u64(S("+1"), 10, &v), -EINVAL);
    cr_assert_eq(pmn__parse_u64(S("-1"), 10, &v), -EINVAL);
    cr_assert_eq(pmn__parse_u64(S("1\r\n"), 10, &v), -EINVAL);
    cr_assert_eq(pmn__parse_u64("1\0", 2, 10, &v), -EINVAL, "embedded NUL is garbage");
    cr_assert_eq(pmn__parse_u64(S("12"), 10, NULL), -EINVAL);
    cr_assert_eq(pmn__parse_u64(S("12"), 1, &v), -EINVAL, "base 1");
    cr_assert_eq(pmn__parse_u64(S("12"), 37, &v), -EINVAL, "base 37");
    cr_assert_eq(pmn__parse_u64(S("12"), -1, &v), -EINVAL);
    cr_assert_eq(v, 42);
}

Test(parse_u64, not_nul_terminated)
{
    uint64_t v;
    const char buf[] = {'1', '2', '3', '4'};
    cr_assert_eq(pmn__parse_u64(buf, 2, 10, &v), 0);
    cr_assert_eq(v, 12);
    cr_assert_eq(pmn__parse_u64("56\nXX", 3, 10, &v), 0);
    cr_assert_eq(v, 56);
}

Test(parse_u64, hex_and_auto_base)
{
    uint64_t v;
    cr_assert_eq(pmn__parse_u64(S("ff"), 16, &v), 0);
    cr_assert_eq(v, 0xff);
    cr_assert_eq(pmn__parse_u64(S("0x1000\n"), 16, &v), 0);
    cr_assert_eq(v, 0x1000);
    cr_assert_eq(pmn__parse_u64(S("0XaBc"), 16, &v), 0);
    cr_assert_eq(v, 0xabc);
    cr_assert_eq(pmn__parse_u64(S("0xffffffffffffffff"), 16, &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(pmn__parse_u64(S("0x"), 16, &v), -EINVAL);
    cr_assert_eq(pmn__parse_u64(S("0xg"), 16, &v), -EINVAL);
    cr_assert_eq(pmn__parse_u64(S("0x10"), 10, &v), -EINVAL, "no prefix in base 10");

    cr_assert_eq(pmn__parse_u64(S("0x10"), 0, &v), 0);
    cr_assert_eq(v, 16);
    cr_assert_eq(pmn__parse_u64(S("010"), 0, &v), 0);
    cr_assert_eq(v, 8);
    cr_assert_eq(pmn__parse_u64(S("0"), 0, &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(pmn__parse_u64(S("10\n"), 0, &v), 0);
    cr_assert_eq(v, 10);
    cr_assert_eq(pmn__parse_u64(S("08"), 0, &v), -EINVAL);
    cr_assert_eq(pmn__parse_u64(S("0x"), 0, &v), -EINVAL);

    cr_assert_eq(pmn__parse_u64(S("777"), 8, &v), 0);
    cr_assert_eq(v, 0777);
    cr_assert_eq(pmn__parse_u64(S("1011"), 2, &v), 0);
    cr_assert_eq(v, 11);
    cr_assert_eq(pmn__parse_u64(S("2"), 2, &v), -EINVAL);
    cr_assert_eq(pmn__parse_u64(S("zz"), 36, &v), 0);
    cr_assert_eq(v, 35 * 36 + 35);
}

/* ------------------------------------------------------------------- s64 */

Test(parse_s64, values)
{
    int64_t v;
    cr_assert_eq(pmn__parse_s64(S("-1\n"), &v), 0);
    cr_assert_eq(v, -1);
    cr_assert_eq(pmn__parse_s64(S("0"), &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(pmn__parse_s64(S("-0"), &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(pmn__parse_s64(S("9223372036854775807"), &v), 0);
    cr_assert_eq(v, INT64_MAX);
    cr_assert_eq(pmn__parse_s64(S("-9223372036854775808\n"), &v), 0);
    cr_assert_eq(v, INT64_MIN);
}

Test(parse_s64, errors)
{
    int64_t v = 5;
    cr_assert_eq(pmn__parse_s64(S("9223372036854775808"), &v), -ERANGE);
    cr_assert_eq(pmn__parse_s64(S("-9223372036854775809"), &v), -ERANGE);
    cr_assert_eq(pmn__parse_s64(S("-99999999999999999999999"), &v), -ERANGE);
    cr_assert_eq(pmn__parse_s64(S(""), &v), -EINVAL);
    cr_assert_eq(pmn__parse_s64(S("-"), &v), -EINVAL);
    cr_assert_eq(pmn__parse_s64(S("-\n"), &v), -EINVAL);
    cr_assert_eq(pmn__parse_s64(S("+1"), &v), -EINVAL);
    cr_assert_eq(pmn__parse_s64(S("--1"), &v), -EINVAL);
    cr_assert_eq(pmn__parse_s64(S("0x10"), &v), -EINVAL);
    cr_assert_eq(pmn__parse_s64(S("1 "), &v), -EINVAL);
    cr_assert_eq(pmn__parse_s64(S("1\n\n"), &v), -EINVAL);
    cr_assert_eq(v, 5);
}

/* ------------------------------------------------------------------ list */

static unsigned list_ids(const struct pmn__bitmap *b, unsigned *ids, unsigned max)
{
    unsigned n = 0;
    for (long i = pmn__bitmap_next(b, 0); i >= 0; i = pmn__bitmap_next(b, (unsigned)i + 1)) {
        if (n < max)
            ids[n] = (unsigned)i;
        n++;
    }
    return n;
}

Test(parse_list, kernel_format)
{
    struct pmn__bitmap b = {0};
    unsigned ids[16];

    cr_assert_eq(pmn__parse_list(S("0-3,8,10-11\n"), 64, &b), 0);
    cr_assert_eq(list_ids(&b, ids, 16), 7);
    unsigned want[] = {0, 1, 2, 3, 8, 10, 11};
    for (unsigned i = 0; i < 7; i++)
        cr_assert_eq(ids[i], want[i]);

    cr_assert_eq(pmn__parse_list(S("5"), 64, &b), 0);
    cr_assert_eq(list_ids(&b, ids, 16), 1, "out cleared first");
    cr_assert_eq(ids[0], 5);

    cr_assert_eq(pmn__parse_list(S("7-7"), 64, &b), 0);
    cr_assert_eq(pmn__bitmap_weight(&b), 1);
    cr_assert(pmn__bitmap_test(&b, 7));

    cr_assert_eq(pmn__parse_list(S("3,1"), 64, &b), 0, "unordered groups are fine");
    cr_assert_eq(pmn__bitmap_weight(&b), 2);
    pmn__bitmap_free(&b);
}

Test(parse_list, empty)
{
    struct pmn__bitmap b = {0};
    cr_assert_eq(pmn__parse_list(S(""), 64, &b), 0);
    cr_assert_eq(pmn__bitmap_weight(&b), 0);
    cr_assert_eq(pmn__parse_list(S("\n"), 64, &b), 0);
    cr_assert_eq(pmn__bitmap_weight(&b), 0);
    cr_assert_eq(pmn__parse_list(NULL, 0, 64, &b), 0);
    cr_assert_eq(pmn__bitmap_weight(&b), 0);
    pmn__bitmap_free(&b);
}

Test(parse_list, malformed)
{
    struct pmn__bitmap b = {0};
    static const char *bad[] = {
        "3-1", ",",  "1,",   ",1",    "1,,2",    "-",  "1-",  "-1",    "1-2-3", "a",
        "1 ",  " 1", "1, 2", "1\n\n", "0-3:1/2", "+1", "0x1", "1\r\n", "1;2",   "\n1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(pmn__parse_list(bad[i], strlen(bad[i]), 64, &b), -EINVAL, "\"%s\"", bad[i]);
        cr_assert_eq(pmn__bitmap_weight(&b), 0, "empty after error on \"%s\"", bad[i]);
    }
    cr_assert_eq(pmn__parse_list("1\0", 2, 64, &b), -EINVAL);
    pmn__bitmap_free(&b);
}

Test(parse_list, ranges_and_limits)
{
    struct pmn__bitmap b = {0};
    cr_assert_eq(pmn__parse_list(S("0-64"), 64, &b), 0);
    cr_assert_eq(pmn__bitmap_weight(&b), 65);
    cr_assert_eq(pmn__parse_list(S("65"), 64, &b), -ERANGE);
    cr_assert_eq(pmn__parse_list(S("0-65"), 64, &b), -ERANGE);
    cr_assert_eq(pmn__bitmap_weight(&b), 0);
    cr_assert_eq(pmn__parse_list(S("99999999999999999999999"), 64, &b), -ERANGE);
    cr_assert_eq(pmn__parse_list(S("4294967296"), UINT_MAX, &b), -ERANGE);
    cr_assert_eq(pmn__parse_list(S("9-999999"), 64, &b), -ERANGE);
    /* garbage wins over range in the same group */
    cr_assert_eq(pmn__parse_list(S("999999-x"), 64, &b), -EINVAL);
    /* ... and in a later group: -EINVAL does not depend on max_id */
    cr_assert_eq(pmn__parse_list(S("99,x"), 64, &b), -EINVAL);
    cr_assert_eq(pmn__parse_list(S("99,2-1"), 64, &b), -EINVAL);
    cr_assert_eq(pmn__parse_list(S("99,"), 64, &b), -EINVAL);
    cr_assert_eq(pmn__parse_list(S("1,99,2"), 64, &b), -ERANGE);
    /* found by fuzz-list: a reversed range is malformed even past the limit */
    cr_assert_eq(pmn__parse_list(S("80-25\n"), 64, &b), -EINVAL);
    cr_assert_eq(pmn__parse_list(S("99999999999999999999999-1"), 64, &b), -EINVAL);
    cr_assert_eq(pmn__parse_list(S("0099-100"), 64, &b), -ERANGE);
    cr_assert_eq(pmn__parse_list(S("0100-099"), 64, &b), -EINVAL);
    cr_assert_eq(pmn__bitmap_weight(&b), 0);
    pmn__bitmap_free(&b);

    /* POWER-style GPU nodes, and the largest id we accept */
    cr_assert_eq(pmn__parse_list(S("0,8,252-255\n"), PMN__MAX_NODE_ID, &b), 0);
    cr_assert_eq(pmn__bitmap_weight(&b), 6);
    cr_assert_eq(b.nwords, 4, "no more memory than the highest id needs");
    cr_assert_eq(pmn__parse_list(S("0-65535"), PMN__MAX_NODE_ID, &b), 0);
    cr_assert_eq(pmn__bitmap_weight(&b), 65536);
    cr_assert_eq(pmn__parse_list(S("65536"), PMN__MAX_NODE_ID, &b), -ERANGE);

    /* word-boundary ranges */
    cr_assert_eq(pmn__parse_list(S("63-64,127-128,190-191"), 1000, &b), 0);
    cr_assert_eq(pmn__bitmap_weight(&b), 6);
    cr_assert(pmn__bitmap_test(&b, 63));
    cr_assert(pmn__bitmap_test(&b, 64));
    cr_assert_not(pmn__bitmap_test(&b, 65));
    cr_assert_not(pmn__bitmap_test(&b, 62));
    cr_assert_eq(pmn__parse_list(S("1-1000"), 1000, &b), 0);
    cr_assert_eq(pmn__bitmap_weight(&b), 1000);
    cr_assert_not(pmn__bitmap_test(&b, 0));
    cr_assert(pmn__bitmap_test(&b, 1000));
    pmn__bitmap_free(&b);
}

Test(parse_list, cpulist_scale)
{
    struct pmn__bitmap b = {0};
    cr_assert_eq(pmn__parse_list(S("0-1048575\n"), PMN__MAX_CPU_ID, &b), 0);
    cr_assert_eq(pmn__bitmap_weight(&b), 1048576);
    cr_assert_eq(pmn__parse_list(S("1048577"), PMN__MAX_CPU_ID, &b), -ERANGE);
    pmn__bitmap_free(&b);
}

/* ------------------------------------------------------------- distances */

Test(parse_distances, values)
{
    int d[8];
    size_t n = 99;
    cr_assert_eq(pmn__parse_distances(S("10 20 30\n"), d, 8, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(d[0], 10);
    cr_assert_eq(d[1], 20);
    cr_assert_eq(d[2], 30);
    cr_assert_eq(pmn__parse_distances(S("10"), d, 1, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(pmn__parse_distances(S("2147483647 0"), d, 8, &n), 0);
    cr_assert_eq(d[0], INT_MAX);
    cr_assert_eq(d[1], 0);
    cr_assert_eq(n, 2);
}

Test(parse_distances, errors)
{
    int d[2];
    size_t n = 99;
    cr_assert_eq(pmn__parse_distances(S("10 20 30"), d, 2, &n), -ERANGE, "more than max");
    cr_assert_eq(pmn__parse_distances(S("2147483648"), d, 2, &n), -ERANGE);
    cr_assert_eq(pmn__parse_distances(S("99999999999999999999999"), d, 2, &n), -ERANGE);
    cr_assert_eq(pmn__parse_distances(S("1"), NULL, 0, &n), -ERANGE);
    cr_assert_eq(pmn__parse_distances(S("10 20 30 x"), d, 2, &n), -EINVAL,
                 "malformed beats too many");
    cr_assert_eq(pmn__parse_distances(S("2147483648 -1"), d, 2, &n), -EINVAL);
    static const char *bad[] = {"",    "\n",  "10 ",   " 10",  "10  20", "10\t20",
                                "-10", "+10", "10,20", "10 x", "10\n\n", "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(pmn__parse_distances(bad[i], strlen(bad[i]), d, 2, &n), -EINVAL, "\"%s\"",
                     bad[i]);
    cr_assert_eq(n, 99, "*n untouched on error");
}

/* --------------------------------------------------------------- meminfo */

static const char node_meminfo[] = "Node 0 MemTotal:       16384 kB\n"
                                   "Node 0 MemFree:         8192 kB\n"
                                   "Node 0 MemUsed:         8192 kB\n"
                                   "Node 0 SwapCached:         0 kB\n"
                                   "Node 0 HugePages_Total:     0\n"
                                   "Node 0 HugePages_Free:      0\n";

static const char proc_meminfo[] = "MemTotal:       32768000 kB\n"
                                   "MemFree:        1234567 kB\n"
                                   "MemAvailable:   2345678 kB\n"
                                   "HugePages_Total:       0\n"
                                   "Hugepagesize:       2048 kB\n";

Test(parse_meminfo, node_style)
{
    struct pmn__meminfo m;
    cr_assert_eq(pmn__parse_meminfo(S(node_meminfo), &m), 0);
    cr_assert_eq(m.total, UINT64_C(16384) * 1024);
    cr_assert_eq(m.free, UINT64_C(8192) * 1024);

    cr_assert_eq(pmn__parse_meminfo(S("Node 255 MemTotal: 1 kB\nNode 255 MemFree: 0 kB"), &m), 0);
    cr_assert_eq(m.total, 1024);
    cr_assert_eq(m.free, 0);
}

Test(parse_meminfo, proc_style)
{
    struct pmn__meminfo m;
    cr_assert_eq(pmn__parse_meminfo(S(proc_meminfo), &m), 0);
    cr_assert_eq(m.total, UINT64_C(32768000) * 1024);
    cr_assert_eq(m.free, UINT64_C(1234567) * 1024);
}

Test(parse_meminfo, missing_is_unknown)
{
    struct pmn__meminfo m;
    cr_assert_eq(pmn__parse_meminfo(S(""), &m), 0);
    cr_assert_eq(m.total, PMN_UNKNOWN);
    cr_assert_eq(m.free, PMN_UNKNOWN);
    cr_assert_eq(pmn__parse_meminfo(S("Node 1 MemTotal:  4 kB\nNode 1 Active: 3 kB\n"), &m), 0);
    cr_assert_eq(m.total, 4096);
    cr_assert_eq(m.free, PMN_UNKNOWN);
    cr_assert_eq(pmn__parse_meminfo(S("MemFree: 2 kB"), &m), 0);
    cr_assert_eq(m.total, PMN_UNKNOWN);
    cr_assert_eq(m.free, 2048);
    /* a truncated read stops inside the value: no MemFree at all */
    cr_assert_eq(pmn__parse_meminfo(S("MemTotal: 2 kB\nMemFre"), &m), 0);
    cr_assert_eq(m.free, PMN_UNKNOWN);
}

Test(parse_meminfo, overflow)
{
    struct pmn__meminfo m = {.total = 1, .free = 2};
    cr_assert_eq(pmn__parse_meminfo(S("MemTotal: 18014398509481983 kB\n"), &m), 0);
    cr_assert_eq(m.total, UINT64_C(18014398509481983) * 1024);
    cr_assert_eq(pmn__parse_meminfo(S("MemTotal: 18014398509481984 kB\n"), &m), -ERANGE);
    cr_assert_eq(pmn__parse_meminfo(S("MemFree: 99999999999999999999999 kB\n"), &m), -ERANGE);
}

Test(parse_meminfo, malformed)
{
    struct pmn__meminfo m = {.total = 1, .free = 2};
    static const char *bad[] = {
        "MemTotal: 5\n",
        "MemTotal: 5 KB\n",
        "MemTotal: 5 kB \n",
        "MemTotal: -5 kB\n",
        "MemTotal: x kB\n",
        "MemTotal:5 kB\n",
        "MemTotal:  kB\n",
        "MemTotal:\n",
        "MemTotal: 5 kB\nMemTotal: 5 kB\n",
        "Node 0 MemTotal: 5 kB\nNode 1 MemFree: 5 kB\n",
        "Node 0 MemTotal: 5 kB\nMemFree: 5 kB\n",
        "Node 0 MemFree: 0x5 kB\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(pmn__parse_meminfo(bad[i], strlen(bad[i]), &m), -EINVAL, "\"%s\"", bad[i]);
    cr_assert_eq(m.total, 1, "output untouched on error");
    cr_assert_eq(m.free, 2);
}

/* The fields of the MemAvailable-style estimate (discover/memavail.c). */
Test(parse_meminfo, reclaimable_fields)
{
    struct pmn__meminfo m;
    const char *t = "Node 0 MemTotal:       24683756 kB\n"
                    "Node 0 MemFree:        22568480 kB\n"
                    "Node 0 Active:          1321236 kB\n"
                    "Node 0 Active(file):    1321220 kB\n"
                    "Node 0 Inactive(file):   422764 kB\n"
                    "Node 0 KReclaimable:     206864 kB\n"
                    "Node 0 Slab:             241528 kB\n"
                    "Node 0 SReclaimable:     206000 kB\n";

    cr_assert_eq(pmn__parse_meminfo(t, strlen(t), &m), 0);
    cr_assert_eq(m.active_file, UINT64_C(1321220) * 1024);
    cr_assert_eq(m.inactive_file, UINT64_C(422764) * 1024);
    cr_assert_eq(m.kreclaimable, UINT64_C(206864) * 1024);
    cr_assert_eq(m.sreclaimable, UINT64_C(206000) * 1024);
    cr_assert_eq(pmn__parse_meminfo(S("Node 0 MemFree: 8 kB\n"), &m), 0);
    cr_assert_eq(m.active_file, PMN_UNKNOWN);
    cr_assert_eq(m.kreclaimable, PMN_UNKNOWN);
    cr_assert_eq(pmn__parse_meminfo(S("Node 0 MemFree: 8 kB\nNode 0 Active(file): x kB\n"), &m),
                 -EINVAL);
    cr_assert_eq(pmn__parse_meminfo(S("Node 0 KReclaimable: 8 kB\nNode 1 MemFree: 8 kB\n"), &m),
                 -EINVAL);
}

/* -------------------------------------------------------------- zoneinfo */

/* Two nodes as 6.x prints them (per-node stats, pagesets and all). */
static const char zoneinfo[] = "Node 0, zone      DMA\n"
                               "  per-node stats\n"
                               "      nr_inactive_file 105691\n"
                               "  pages free     3840\n"
                               "        boost    0\n"
                               "        min      10\n"
                               "        low      13\n"
                               "        high     16\n"
                               "        promo    19\n"
                               "        spanned  4095\n"
                               "        present  3998\n"
                               "        managed  3840\n"
                               "        cma      0\n"
                               "        protection: (0, 3018, 24090, 24090, 24090)\n"
                               "      nr_free_pages 3840\n"
                               "  pagesets\n"
                               "    cpu: 0\n"
                               "              count:    0\n"
                               "              high:     99999\n"
                               "              batch:    1\n"
                               "  node_unreclaimable:  0\n"
                               "  start_pfn:           1\n"
                               "Node 0, zone   Normal\n"
                               "  pages free     4855750\n"
                               "        min      14769\n"
                               "        low      20163\n"
                               "        high     25557\n"
                               "        managed  5394249\n"
                               "        protection: (0, 0, 0, 0, 0)\n"
                               "Node 0, zone  Movable\n"
                               "  pages free     0\n"
                               "        min      32\n"
                               "        low      32\n"
                               "        high     32\n"
                               "        managed  0\n"
                               "        protection: (0, 0, 0, 0, 0)\n"
                               "Node 3, zone   Normal\n"
                               "  pages free     1000\n"
                               "        min      100\n"
                               "        low      125\n"
                               "        high     150\n"
                               "        managed  2000\n"
                               "        protection: (0, 0, 0, 7)\n";

Test(parse_zoneinfo, per_node_sums)
{
    struct pmn__zonewm w[4];
    size_t n = 99;

    cr_assert_eq(pmn__parse_zoneinfo(zoneinfo, strlen(zoneinfo), w, 4, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(w[0].node, 0);
    /* DMA: min(3840, 16 + 24090); Normal: 25557 + 0; Movable: managed 0 */
    cr_assert_eq(w[0].reserve, 3840 + 25557, "reserve %llu", (unsigned long long)w[0].reserve);
    cr_assert_eq(w[0].low, 13 + 20163 + 32);
    cr_assert_eq(w[1].node, 3);
    cr_assert_eq(w[1].reserve, 157);
    cr_assert_eq(w[1].low, 125);
    /* empty text: no node */
    cr_assert_eq(pmn__parse_zoneinfo(S(""), w, 4, &n), 0);
    cr_assert_eq(n, 0);
    /* more nodes than room */
    cr_assert_eq(pmn__parse_zoneinfo(zoneinfo, strlen(zoneinfo), w, 1, &n), -ERANGE);
}

Test(parse_zoneinfo, malformed)
{
    static const char *bad[] = {
        "Node 0, zone Normal\n        low 1\n",  /* no high */
        "Node 0, zone Normal\n        high 1\n", /* no low */
        "Node 0, zone Normal\n        low 1\n        low 1\n        high 2\n",
        "Node 0, zone Normal\n        low x\n        high 2\n",
        "Node 0, zone Normal\n        low 1 \n        high 2\n",
        "Node 0, zone Normal\n        low\n        high 2\n",
        "Node 0, zone Normal\n        low 1\n        high 2\n        protection: 0, 1\n",
        "Node 0, zone Normal\n        low 1\n        high 2\n        protection: (0,1)\n",
        "Node 0, zone Normal\n        low 1\n        high 2\n        protection: ()\n",
        "Node 0, zone Normal\n        low 1\n        high 2\n        protection: (1, )\n",
        "Node x, zone Normal\n",
        "Node 0 zone Normal\n",
        "Node 0, zone \n",
    };
    struct pmn__zonewm w[2];
    size_t n = 7;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(pmn__parse_zoneinfo(bad[i], strlen(bad[i]), w, 2, &n), -EINVAL, "\"%s\"",
                     bad[i]);
    cr_assert_eq(n, 7, "count untouched on error");
    cr_assert_eq(pmn__parse_zoneinfo(S("Node 99999999, zone Normal\n"), w, 2, &n), -ERANGE);
    cr_assert_eq(pmn__parse_zoneinfo(S("Node 0, zone Normal\n        low 1\n"
                                       "        high 18446744073709551615\n"
                                       "        protection: (0, 1)\n"),
                                     w, 2, &n),
                 -ERANGE);
}

/* ------------------------------------------------------------------ size */

Test(parse_size, values)
{
    uint64_t v;
    cr_assert_eq(pmn__parse_size(S("4096"), &v), 0);
    cr_assert_eq(v, 4096);
    cr_assert_eq(pmn__parse_size(S("0"), &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(pmn__parse_size(S("64k"), &v), 0);
    cr_assert_eq(v, 65536);
    cr_assert_eq(pmn__parse_size(S("64K\n"), &v), 0);
    cr_assert_eq(v, 65536);
    cr_assert_eq(pmn__parse_size(S("2M"), &v), 0);
    cr_assert_eq(v, UINT64_C(2) << 20);
    cr_assert_eq(pmn__parse_size(S("1G"), &v), 0);
    cr_assert_eq(v, UINT64_C(1) << 30);
    cr_assert_eq(pmn__parse_size(S("3t"), &v), 0);
    cr_assert_eq(v, UINT64_C(3) << 40);
    cr_assert_eq(pmn__parse_size(S("1P"), &v), 0);
    cr_assert_eq(v, UINT64_C(1) << 50);
    cr_assert_eq(pmn__parse_size(S("15E"), &v), 0);
    cr_assert_eq(v, UINT64_C(15) << 60);
    cr_assert_eq(pmn__parse_size(S("2MiB"), &v), 0);
    cr_assert_eq(v, UINT64_C(2) << 20);
    cr_assert_eq(pmn__parse_size(S("0x1000"), &v), 0);
    cr_assert_eq(v, 0x1000);
    cr_assert_eq(pmn__parse_size(S("0X1e\n"), &v), 0, "hex E is a digit, not exa");
    cr_assert_eq(v, 0x1e);
    cr_assert_eq(pmn__parse_size(S("010"), &v), 0, "never octal");
    cr_assert_eq(v, 10);
    cr_assert_eq(pmn__parse_size(S("18446744073709551615"), &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(pmn__parse_size(S("17179869183G"), &v), 0);
    cr_assert_eq(v, UINT64_C(17179869183) << 30);
}

Test(parse_size, errors)
{
    uint64_t v = 3;
    cr_assert_eq(pmn__parse_size(S("18446744073709551616"), &v), -ERANGE);
    cr_assert_eq(pmn__parse_size(S("16E"), &v), -ERANGE);
    cr_assert_eq(pmn__parse_size(S("17179869184G"), &v), -ERANGE);
    cr_assert_eq(pmn__parse_size(S("0x10000000000000000"), &v), -ERANGE);
    static const char *bad[] = {"",   "\n",    "k",     "M",    "-1",    "+1", "1 M",
                                " 1", "1M ",   "1MB",   "1Mib", "1MiBx", "1X", "1.5G",
                                "0x", "0x10k", "1\n\n", "1kk",  "0x-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(pmn__parse_size(bad[i], strlen(bad[i]), &v), -EINVAL, "\"%s\"", bad[i]);
    cr_assert_eq(pmn__parse_size("1\0", 2, &v), -EINVAL);
    cr_assert_eq(v, 3);
}

/* ------------------------------------------------------------- log level */

Test(parse_log_level, names)
{
    int l = -1;
    struct {
        const char *s;
        int level;
    } ok[] = {{"", 0},        {"off", 0},   {"none", 0}, {"0", 0},      {"error", 1},
              {"ERROR", 1},   {"err", 1},   {"1", 1},    {"warn", 2},   {"Warning", 2},
              {"warning", 2}, {"WARN", 2},  {"2", 2},    {"info", 3},   {"3", 3},
              {"debug", 4},   {"DeBuG", 4}, {"4", 4},    {"info\n", 3}, {"OFF", 0}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert_eq(pmn__parse_log_level(ok[i].s, strlen(ok[i].s), &l), 0, "\"%s\"", ok[i].s);
        cr_assert_eq(l, ok[i].level, "\"%s\"", ok[i].s);
    }
    /* not NUL-terminated: the length decides */
    cr_assert_eq(pmn__parse_log_level("infox", 4, &l), 0);
    cr_assert_eq(l, 3);
    cr_assert_eq(pmn__parse_log_level(NULL, 0, &l), 0, "no text is off, as \"\" is");
    cr_assert_eq(l, 0);
}

Test(parse_log_level, errors)
{
    int l = 7;
    static const char *bad[] = {"5",        "-1",     "01", "debugx",   " info", "info ", "trace",
                                "info\n\n", "errors", "d",  "warnings", "warn;", "loud"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(pmn__parse_log_level(bad[i], strlen(bad[i]), &l), -EINVAL, "\"%s\"", bad[i]);
    cr_assert_eq(pmn__parse_log_level("info\0", 5, &l), -EINVAL);
    cr_assert_eq(pmn__parse_log_level(NULL, 1, &l), -EINVAL);
    cr_assert_eq(pmn__parse_log_level(S("info"), NULL), -EINVAL);
    cr_assert_eq(l, 7);
}

Test(parse_log_level, names_round_trip)
{
    static const char *const canonical[] = {"off", "error", "warn", "info", "debug"};
    for (int level = 0; level <= 4; level++) {
        const char *name = pmn__log_level_name(level);
        int l = -1;
        cr_assert_str_eq(name, canonical[level]);
        cr_assert_eq(pmn__parse_log_level(name, strlen(name), &l), 0);
        cr_assert_eq(l, level);
    }
    cr_assert_null(pmn__log_level_name(-1));
    cr_assert_null(pmn__log_level_name(5));
}

/* --------------------------------------------------------------- node id */

Test(parse_node_id, values)
{
    int id = -1;
    cr_assert_eq(pmn__parse_node_id(S("0"), &id), 0);
    cr_assert_eq(id, 0);
    cr_assert_eq(pmn__parse_node_id(S("255"), &id), 0);
    cr_assert_eq(id, 255);
    cr_assert_eq(pmn__parse_node_id(S("007"), &id), 0, "leading zeros are decimal");
    cr_assert_eq(id, 7);
    cr_assert_eq(pmn__parse_node_id(S("65535"), &id), 0);
    cr_assert_eq(id, PMN__MAX_NODE_ID);
    cr_assert_eq(pmn__parse_node_id(S("12\n"), &id), 0);
    cr_assert_eq(id, 12);
    cr_assert_eq(pmn__parse_node_id("123", 2, &id), 0, "the length decides");
    cr_assert_eq(id, 12);
}

Test(parse_node_id, errors)
{
    int id = -7;
    cr_assert_eq(pmn__parse_node_id(S("65536"), &id), -ERANGE);
    cr_assert_eq(pmn__parse_node_id(S("99999999999"), &id), -ERANGE);
    cr_assert_eq(pmn__parse_node_id(S("99999999999999999999999"), &id), -ERANGE);
    static const char *bad[] = {"",    "\n",  "-1", "+1", "0x1",   "1 ", " 1",
                                "1,2", "1-2", "x",  "1k", "1\n\n", "١"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(pmn__parse_node_id(bad[i], strlen(bad[i]), &id), -EINVAL, "\"%s\"", bad[i]);
    cr_assert_eq(pmn__parse_node_id("1\0", 2, &id), -EINVAL);
    cr_assert_eq(pmn__parse_node_id(NULL, 0, &id), -EINVAL);
    cr_assert_eq(id, -7, "output untouched on error");
}

/* ------------------------------------------------------------ spill list */

Test(parse_spill, values)
{
    int ids[8] = {0};
    size_t n = 99;
    cr_assert_eq(pmn__parse_spill(S("2"), ids, 8, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(ids[0], 2);
    cr_assert_eq(pmn__parse_spill(S("3,0,65535,1\n"), ids, 8, &n), 0);
    cr_assert_eq(n, 4);
    cr_assert_eq(ids[0], 3, "the order is kept");
    cr_assert_eq(ids[1], 0);
    cr_assert_eq(ids[2], 65535);
    cr_assert_eq(ids[3], 1);
    cr_assert_eq(pmn__parse_spill(S("1,2,3,4,5,6,7,8"), ids, 8, &n), 0, "exactly max");
    cr_assert_eq(n, 8);
    cr_assert_eq(pmn__parse_spill("1,2,x", 3, ids, 8, &n), 0, "the length decides");
    cr_assert_eq(n, 2);
}

Test(parse_spill, duplicates_refused)
{
    int ids[PMN__MAX_SPILL];
    size_t n = 99;
    cr_assert_eq(pmn__parse_spill(S("1,1"), ids, PMN__MAX_SPILL, &n), -EINVAL);
    cr_assert_eq(pmn__parse_spill(S("2,0,2"), ids, PMN__MAX_SPILL, &n), -EINVAL);
    cr_assert_eq(pmn__parse_spill(S("1,01"), ids, PMN__MAX_SPILL, &n), -EINVAL,
                 "the same id spelled twice");
    cr_assert_eq(n, 99, "count untouched on error");
}

Test(parse_spill, errors)
{
    int ids[4];
    size_t n = 99;
    static const char *bad[] = {"",    ",",  "1,",  ",1", "1,,2", "1-3",  "0x1",  "-1",
                                "1 2", " 1", "1;2", "a",  "1,a",  "1,\n", "1\n\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(pmn__parse_spill(bad[i], strlen(bad[i]), ids, 4, &n), -EINVAL, "\"%s\"",
                     bad[i]);
    cr_assert_eq(pmn__parse_spill(S("65536"), ids, 4, &n), -ERANGE);
    cr_assert_eq(pmn__parse_spill(S("1,2,3,4,5"), ids, 4, &n), -ERANGE, "more than max");
    /* malformed text anywhere beats a limit */
    cr_assert_eq(pmn__parse_spill(S("1,2,3,4,5,x"), ids, 4, &n), -EINVAL);
    cr_assert_eq(pmn__parse_spill(S("65536,x"), ids, 4, &n), -EINVAL);
    /* otherwise the first problem from the left decides */
    cr_assert_eq(pmn__parse_spill(S("1,1,65536"), ids, 4, &n), -EINVAL);
    cr_assert_eq(pmn__parse_spill(S("65536,1,1"), ids, 4, &n), -ERANGE);
    cr_assert_eq(pmn__parse_spill(S("1,2,3,4,5,1"), ids, 4, &n), -ERANGE);
    cr_assert_eq(pmn__parse_spill(S("1"), NULL, 0, &n), -ERANGE, "max 0 holds nothing");
    cr_assert_eq(pmn__parse_spill(NULL, 0, ids, 4, &n), -EINVAL);
    cr_assert_eq(n, 99);
}

/* ---------------------------------------------------------------- config */

Test(parse_config, full)
{
    static const char conf[] = "# pmnode.conf\n"
                               "\n"
                               "private 2-3,8   # CXL expanders\n"
                               "   \t\n"
                               "\tprivate\t252-255\n"
                               "kind 4 compressed\n"
                               "kind 2 CXL   \n"
                               "kind 252 gpu";
    struct pmn__config c;
    struct pmn__config_error e = {99, "x"};

    cr_assert_eq(pmn__parse_config(S(conf), &c, &e), 0);
    cr_assert_eq(e.line, 0);
    cr_assert_str_eq(e.why, "");
    cr_assert(c.private_set);
    cr_assert_eq(pmn__bitmap_weight(&c.private_nodes), 7, "private lines are united");
    cr_assert(pmn__bitmap_test(&c.private_nodes, 2));
    cr_assert(pmn__bitmap_test(&c.private_nodes, 8));
    cr_assert(pmn__bitmap_test(&c.private_nodes, 255));
    cr_assert_not(pmn__bitmap_test(&c.private_nodes, 4));
    cr_assert_eq(c.nkinds, 3);
    cr_assert_eq(c.kinds[0].node, 4);
    cr_assert_eq(c.kinds[0].kind, PMN_KIND_COMPRESSED);
    cr_assert_eq(c.kinds[1].node, 2);
    cr_assert_eq(c.kinds[1].kind, PMN_KIND_CXL);
    cr_assert_eq(c.kinds[2].node, 252);
    cr_assert_eq(c.kinds[2].kind, PMN_KIND_GPU);
    pmn__config_free(&c);
    cr_assert_null(c.kinds);
    cr_assert_eq(c.nkinds, 0);
    pmn__config_free(&c);
}

Test(parse_config, empty_and_comments)
{
    struct pmn__config c;
    struct pmn__config_error e = {99, "x"};
    cr_assert_eq(pmn__parse_config(S(""), &c, &e), 0);
    cr_assert_eq(e.line, 0);
    cr_assert_not(c.private_set);
    cr_assert_eq(c.nkinds, 0);
    cr_assert_eq(pmn__bitmap_weight(&c.private_nodes), 0);
    pmn__config_free(&c);

    cr_assert_eq(pmn__parse_config(S("# only\n#comments\n\n  # here\n"), &c, NULL), 0);
    cr_assert_not(c.private_set);
    pmn__config_free(&c);

    cr_assert_eq(pmn__parse_config(NULL, 0, &c, &e), 0);
    pmn__config_free(&c);
}

/* @text is refused with @err at @want_line, and the reason contains
 * @want_why. */
static void expect_why(const char *text, int err, size_t want_line, const char *want_why)
{
    struct pmn__config c;
    struct pmn__config_error e = {0, ""};
    int rc = pmn__parse_config(text, strlen(text), &c, &e);
    cr_assert_eq(rc, err, "\"%s\": rc %d", text, rc);
    cr_assert_eq(e.line, want_line, "\"%s\": line %zu, want %zu", text, e.line, want_line);
    cr_assert_not(c.private_set, "config left empty after error");
    cr_assert_null(c.kinds);
    cr_assert_null(c.private_nodes.words);
    cr_assert_neq(e.why[0], '\0', "\"%s\": no reason given", text);
    cr_assert_not_null(strstr(e.why, want_why), "\"%s\": reason \"%s\" lacks \"%s\"", text, e.why,
                       want_why);
    for (const char *p = e.why; *p; p++)
        cr_assert(*p >= 0x20 && *p != 0x7f, "\"%s\": control byte in the reason", text);
}

static void expect_bad(const char *text, int err, size_t want_line)
{
    expect_why(text, err, want_line, "");
}

Test(parse_config, malformed_lines)
{
    expect_bad("bogus\n", -EINVAL, 1);
    expect_bad("private 1\nprivate\n", -EINVAL, 2);
    expect_bad("private 1 2\n", -EINVAL, 1);
    expect_bad("private 3-1\n", -EINVAL, 1);
    expect_bad("private 1,\n", -EINVAL, 1);
    expect_bad("# c\n\nPRIVATE 1\n", -EINVAL, 3);
    expect_bad("private 1\n\n\n\nkind 4\n", -EINVAL, 5);
    expect_bad("kind 4 compressed extra\n", -EINVAL, 1);
    expect_bad("kind x dram\n", -EINVAL, 1);
    expect_bad("kind -1 dram\n", -EINVAL, 1);
    expect_bad("kind +1 dram\n", -EINVAL, 1);
    expect_bad("kind 4 tofu\n", -EINVAL, 1);
    expect_bad("kind 4 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", -EINVAL, 1);
    expect_bad("kind 4 dram\nkind 4 dram\n", -EINVAL, 2);
    expect_bad("kind 4 dram\nkind 4 cxl\n", -EINVAL, 2);
    expect_bad("private 1\r\n", -EINVAL, 1);
    expect_bad("private=1\n", -EINVAL, 1);
    expect_bad("\n\n\nprivate 1\nkind 1 dram\nx", -EINVAL, 6);
}

/* Issue 13: every refusal says what is wrong, not only where. */
Test(parse_config, reasons)
{
    expect_why("# c\nprivat 2\n", -EINVAL, 2, "unknown key 'privat'");
    expect_why("private 1\nprivate\n", -EINVAL, 2, "'private' takes one node list");
    expect_why("private 1 2\n", -EINVAL, 1, "'private' takes one node list");
    expect_why("private 2-x\n", -EINVAL, 1, "'2-x' is not a node list");
    expect_why("private 65536\n", -ERANGE, 1, "node list '65536' names a node above 65535");
    expect_why("kind 4\n", -EINVAL, 1, "'kind' takes a node id and a kind");
    expect_why("kind 4 dram x\n", -EINVAL, 1, "'kind' takes a node id and a kind");
    expect_why("kind x dram\n", -EINVAL, 1, "'x' is not a node id");
    expect_why("kind 65536 dram\n", -ERANGE, 1, "node id '65536' is above 65535");
    expect_why("kind 4 tofu\n", -EINVAL, 1, "unknown kind 'tofu'");
    expect_why("kind 4 dram\nkind 4 cxl\n", -EINVAL, 2, "a second kind for node 4");
    /* What the file says is shown bounded, without control bytes. */
    expect_why("priv\x1b[2Jate 1\n", -EINVAL, 1, "unknown key 'priv?[2Jate'");
    expect_why("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
               -EINVAL, 1, "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
    static const char nul[] = "private 1\nkind 2 dr\0am\n";
    struct pmn__config c;
    struct pmn__config_error e;
    cr_assert_eq(pmn__parse_config(nul, sizeof(nul) - 1, &c, &e), -EINVAL);
    cr_assert_str_eq(e.why, "unknown kind 'dr?am' (dram, hbm, nvm, spm, cxl, gpu, compressed "
                            "or unknown)");
}

Test(parse_config, out_of_range)
{
    expect_bad("private 65536\n", -ERANGE, 1);
    expect_bad("private 0-99999999999999999999999\n", -ERANGE, 1);
    expect_bad("# huge\nkind 65536 dram\n", -ERANGE, 2);
    expect_bad("kind 99999999999999999999999 dram\n", -ERANGE, 1);

    struct pmn__config c;
    cr_assert_eq(pmn__parse_config(S("private 65535\nkind 65535 nvm\n"), &c, NULL), 0);
    cr_assert(pmn__bitmap_test(&c.private_nodes, 65535));
    cr_assert_eq(c.kinds[0].node, 65535);
    cr_assert_eq(c.kinds[0].kind, PMN_KIND_NVM);
    pmn__config_free(&c);
}

Test(parse_config, embedded_nul)
{
    struct pmn__config c;
    struct pmn__config_error e;
    static const char t1[] = "private 1\nkind 2 dr\0am\n";
    cr_assert_eq(pmn__parse_config(t1, sizeof(t1) - 1, &c, &e), -EINVAL);
    cr_assert_eq(e.line, 2);
    static const char t2[] = "private 1\0\n";
    cr_assert_eq(pmn__parse_config(t2, sizeof(t2) - 1, &c, &e), -EINVAL);
    cr_assert_eq(e.line, 1);
}

/* One plain line for a terminal (core/text.c): the library's log and the
 * CLI's messages show sysfs names and file contents through it. */
Test(text, clean_for_a_terminal)
{
    const struct {
        const char *in, *out;
    } cases[] = {
        {"plain node0", "plain node0"},
        {"tab\tnewline\nesc\033[2J del\177", "tab?newline?esc?[2J del?"},
        {"csi \302\2332J nel \302\205 nbsp \302\240", "csi ??2J nel ?? nbsp \302\240"},
        {"bad \377 lone \200 cut \342\202", "bad ? lone ? cut ??"},
        {"overlong \300\257 surrogate \355\240\200", "overlong ?? surrogate ???"},
        {"euro \342\202\254 emoji \360\237\230\200", "euro \342\202\254 emoji \360\237\230\200"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[128];

        strcpy(buf, cases[i].in);
        pmn__text_clean(buf);
        cr_assert_str_eq(buf, cases[i].out, "case %zu", i);
    }
    cr_assert_eq(pmn__utf8_seq((const unsigned char *)"\342\202\254"), 3);
    cr_assert_eq(pmn__utf8_seq((const unsigned char *)"\342\202"), 0);
}

/* The stats descriptor paths, read alike by the shim and pmnode run. */
Test(parse_fd_path, descriptors_and_not)
{
    cr_assert_eq(pmn__parse_fd_path("/dev/stdout"), 1);
    cr_assert_eq(pmn__parse_fd_path("/dev/stderr"), 2);
    cr_assert_eq(pmn__parse_fd_path("/dev/fd/0"), 0);
    cr_assert_eq(pmn__parse_fd_path("/dev/fd/9"), 9);
    cr_assert_eq(pmn__parse_fd_path("/proc/self/fd/999999"), 999999);
    cr_assert_eq(pmn__parse_fd_path("/dev/fd/1000000"), -2, "seven digits");
    cr_assert_eq(pmn__parse_fd_path("/dev/fd/09"), -2, "a leading zero");
    cr_assert_eq(pmn__parse_fd_path("/dev/fd/"), -2);
    cr_assert_eq(pmn__parse_fd_path("/dev/fd/9\n"), -2);
    cr_assert_eq(pmn__parse_fd_path("/proc/self/fd/x"), -2);
    cr_assert_eq(pmn__parse_fd_path("/dev/fdx/9"), -1);
    cr_assert_eq(pmn__parse_fd_path("/tmp/heap.json"), -1);
    cr_assert_eq(pmn__parse_fd_path("/dev/stdout2"), -1);
}
