/*
 * test-size-class.c - the arena's size classes (suite 'unit'): the table
 * that the fast path reads for small requests (pmn__class_lut) gives the
 * class of the formula (pmn__arena_class_calc) for every size up to the
 * table's end, and every class holds its requests (class bytes >= size,
 * the class before it too small).
 */
#include <criterion/criterion.h>

#include "alloc/heap.h"

/* The arena's class bytes, as arena.c's class_bytes() sets them up. */
static size_t class_bytes(unsigned c)
{
    unsigned k = (c - 8) / 4, j = (c - 8) % 4;

    return c < 8 ? (c + 1) * 16u : (size_t)(128u << k) + (j + 1) * (32u << k);
}

Test(size_class, table_matches_formula)
{
    for (size_t s = 0; s <= PMN__CLASS_LUT_MAX; s++)
        cr_assert_eq(pmn__arena_class(s), pmn__arena_class_calc(s),
                     "size %zu: table says class %u, formula %u", s, pmn__arena_class(s),
                     pmn__arena_class_calc(s));
}

Test(size_class, classes_hold_their_requests)
{
    for (size_t s = 1; s <= PMN__SMALL_MAX; s++) {
        unsigned c = pmn__arena_class(s);

        cr_assert_lt(c, PMN__NCLASSES, "size %zu: class %u", s, c);
        cr_assert_geq(class_bytes(c), s, "size %zu: class %u holds %zu", s, c, class_bytes(c));
        cr_assert(c == 0 || class_bytes(c - 1) < s, "size %zu: class %u but %u holds it too", s, c,
                  c - 1);
    }
}
