/*
 * test-stats-names.c - one stats vocabulary: every key of the stats JSON
 * (pmn_alloc_stats_json, pmn_ctier_stats_json, pmn_tier_stats_json) is the
 * name of the struct field it prints, in the struct's order, and every
 * field is printed.
 *
 * C has no reflection, so each struct's fields are listed here by name
 * with offsetof(): a name that is not a field does not compile, and the
 * sizes of the listed fields must add up to the whole struct, so a field
 * added to the struct and not to this list (or to the JSON) fails too.
 * Each field is then given a value of its own, the JSON is parsed, and
 * each key must carry the value of the field of the same name.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pmnode.h"

struct field {
    const char *key; /* the JSON key: the field's own name */
    size_t off, size;
    bool is_double;
};

#define U64(type, path, key)                                        \
    {                                                               \
        key, offsetof(type, path), sizeof(((type *)0)->path), false \
    }
#define DBL(type, path, key)                                       \
    {                                                              \
        key, offsetof(type, path), sizeof(((type *)0)->path), true \
    }
#define A(f) U64(struct pmn_alloc_stats, f, #f)
#define B(f) U64(struct pmn_alloc_stats, backing.f, #f)

/* struct pmn_alloc_stats, backing flattened; nnodes and node[] are
 * bytes_per_node (checked on their own). */
static const struct field alloc_fields[] = {
    A(allocated),
    A(objects),
    A(active),
    A(resident),
    A(peak),
    A(allocs),
    A(frees),
    A(remote_frees),
    A(failures),
    B(mapped_bytes),
    B(mapped_peak_bytes),
    B(region_maps),
    B(region_map_failures),
    B(spilled_bytes),
    {"bytes_per_node", 0, 0, false},
    A(populated),
};

#define C(f) U64(struct pmn_ctier_stats, f, #f)
static const struct field ctier_fields[] = {
    C(logical_bytes),  C(physical_bytes),   DBL(struct pmn_ctier_stats, ratio, "ratio"),
    C(capacity_bytes), C(demotions),        C(demoted_pages),
    C(promotions),     C(write_promotions), C(write_failures),
    C(refusals),       C(returned_pages),
};

#define T(f) U64(struct pmn_tier_stats, f, #f)
static const struct field tier_fields[] = {
    T(managed_bytes),    T(hot_bytes),
    T(cold_bytes),       T(compressed_bytes),
    T(other_bytes),      T(steps),
    T(promoted_bytes),   T(demoted_bytes),
    T(compressed_total), T(decompressed_total),
    T(failed_moves),     T(scan_ns),
    T(move_ns),          T(write_returned_bytes),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The names before 0.8 are the same storage, not fields of their own. */
_Static_assert(offsetof(struct pmn_backing_stats, peak_bytes) ==
                   offsetof(struct pmn_backing_stats, mapped_peak_bytes),
               "peak_bytes is an alias");
_Static_assert(offsetof(struct pmn_backing_stats, maps) ==
                   offsetof(struct pmn_backing_stats, region_maps),
               "maps is an alias");
_Static_assert(offsetof(struct pmn_backing_stats, failures) ==
                   offsetof(struct pmn_backing_stats, region_map_failures),
               "failures is an alias");

/* Bytes the list covers, plus what no key prints (struct_size, and the
 * backing's own struct_size, nnodes and node[]): the whole struct when
 * every field is listed. */
static size_t covered(const struct field *f, size_t n, size_t unprinted)
{
    size_t sum = unprinted;
    for (size_t i = 0; i < n; i++)
        sum += f[i].size;
    return sum;
}

/* ---- a JSON reader for one flat object (values: numbers, or one nested
 * object of numbers, kept as text) ---- */

struct kv {
    char key[64];
    char val[512];
};

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t')
        p++;
    return p;
}

static size_t parse_object(const char *s, struct kv *out, size_t max)
{
    const char *p = skip_ws(s);
    size_t n = 0;

    cr_assert_eq(*p, '{', "not an object: %s", s);
    p = skip_ws(p + 1);
    while (*p != '}') {
        const char *end;
        cr_assert_lt(n, max, "too many keys: %s", s);
        cr_assert_eq(*p, '"', "expected a key at \"%.20s\"", p);
        end = strchr(p + 1, '"');
        cr_assert_not_null(end);
        cr_assert_lt((size_t)(end - p - 1), sizeof(out[n].key));
        memcpy(out[n].key, p + 1, (size_t)(end - p - 1));
        out[n].key[end - p - 1] = '\0';
        p = skip_ws(end + 1);
        cr_assert_eq(*p, ':', "expected ':' after %s", out[n].key);
        p = skip_ws(p + 1);
        end = *p == '{' ? strchr(p, '}') + 1 : p + strcspn(p, ",}");
        cr_assert_lt((size_t)(end - p), sizeof(out[n].val));
        memcpy(out[n].val, p, (size_t)(end - p));
        out[n].val[end - p] = '\0';
        n++;
        p = skip_ws(end);
        if (*p == ',')
            p = skip_ws(p + 1);
    }
    cr_assert_eq(*skip_ws(p + 1), '\0', "text after the object: %s", s);
    return n;
}

/* Give every listed field a value of its own; returns field i's value. */
static uint64_t value_of(size_t i)
{
    return 1000003ULL * (i + 1) + 7;
}

static void fill(void *st, const struct field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].size == 0)
            continue;
        if (f[i].is_double) {
            double d = (double)value_of(i) / 8; /* exact in %.3f */
            memcpy((char *)st + f[i].off, &d, sizeof(d));
        } else {
            uint64_t v = value_of(i);
            cr_assert_eq(f[i].size, sizeof(v), "%s is not a uint64_t", f[i].key);
            memcpy((char *)st + f[i].off, &v, sizeof(v));
        }
    }
}

/* Keys == field names in order; each key's value == its field's. */
static void same_names(const char *what, const char *json, const struct field *f, size_t n,
                       const char *nested_want)
{
    struct kv kv[64];
    size_t got = parse_object(json, kv, N(kv));

    for (size_t i = 0; i < n || i < got; i++) {
        cr_assert_lt(i, got, "%s: field %s has no key in %s", what, f[i < n ? i : 0].key, json);
        cr_assert_lt(i, n, "%s: key \"%s\" names no field", what, kv[i].key);
        cr_assert_str_eq(kv[i].key, f[i].key, "%s: key %zu is \"%s\", the field is %s", what, i,
                         kv[i].key, f[i].key);
        if (f[i].size == 0) {
            cr_assert_str_eq(kv[i].val, nested_want, "%s: %s", what, kv[i].key);
        } else if (f[i].is_double) {
            cr_assert_eq(strtod(kv[i].val, NULL), (double)value_of(i) / 8, "%s: %s = %s", what,
                         kv[i].key, kv[i].val);
        } else {
            cr_assert_eq(strtoull(kv[i].val, NULL, 10), value_of(i),
                         "%s: \"%s\" prints %s, not the field of its name", what, kv[i].key,
                         kv[i].val);
        }
    }
}

Test(stats_names, alloc_json_keys_are_the_struct_fields)
{
    struct pmn_alloc_stats st;
    char buf[4096];

    cr_assert_eq(covered(alloc_fields, N(alloc_fields),
                         sizeof(st.struct_size) + sizeof(st.backing.struct_size) +
                             sizeof(st.backing.nnodes) + sizeof(st.backing.node)),
                 sizeof(st), "struct pmn_alloc_stats has a field this list (and the JSON) lacks");
    memset(&st, 0, sizeof(st));
    st.struct_size = sizeof(st);
    fill(&st, alloc_fields, N(alloc_fields));
    st.backing.nnodes = 2;
    st.backing.node[0].node = 3;
    st.backing.node[0].bytes = 4096;
    st.backing.node[1].node = 0;
    st.backing.node[1].bytes = 12;
    cr_assert_gt(pmn_alloc_stats_json(&st, buf, sizeof(buf)), 0);
    same_names("pmn_alloc_stats_json", buf, alloc_fields, N(alloc_fields),
               "{\"3\": 4096, \"0\": 12}");

    /* A caller built before populated existed gets the keys it knows. */
    st.struct_size = offsetof(struct pmn_alloc_stats, populated);
    cr_assert_gt(pmn_alloc_stats_json(&st, buf, sizeof(buf)), 0);
    same_names("pmn_alloc_stats_json (0.2 struct)", buf, alloc_fields, N(alloc_fields) - 1,
               "{\"3\": 4096, \"0\": 12}");
}

Test(stats_names, ctier_json_keys_are_the_struct_fields)
{
    struct pmn_ctier_stats st;
    char buf[2048];
    int n;

    cr_assert_eq(covered(ctier_fields, N(ctier_fields), sizeof(st.struct_size)), sizeof(st),
                 "struct pmn_ctier_stats has a field this list (and the JSON) lacks");
    memset(&st, 0, sizeof(st));
    st.struct_size = sizeof(st);
    fill(&st, ctier_fields, N(ctier_fields));
    n = pmn_ctier_stats_json(&st, buf, sizeof(buf));
    if (n == PMN_E_NO_CTIER)
        cr_skip_test("built without the compressed tier");
    cr_assert_gt(n, 0);
    same_names("pmn_ctier_stats_json", buf, ctier_fields, N(ctier_fields), NULL);
}

Test(stats_names, tier_json_keys_are_the_struct_fields)
{
    struct pmn_tier_stats st;
    char buf[2048];

    cr_assert_eq(covered(tier_fields, N(tier_fields), sizeof(st.struct_size)), sizeof(st),
                 "struct pmn_tier_stats has a field this list (and the JSON) lacks");
    memset(&st, 0, sizeof(st));
    st.struct_size = sizeof(st);
    fill(&st, tier_fields, N(tier_fields));
    cr_assert_gt(pmn_tier_stats_json(&st, buf, sizeof(buf)), 0);
    same_names("pmn_tier_stats_json", buf, tier_fields, N(tier_fields), NULL);
}
