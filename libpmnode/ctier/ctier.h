/*
 * ctier.h - compressed-tier internals that tests reach directly.
 */
#ifndef PMN_CTIER_H
#define PMN_CTIER_H

#include <stdint.h>

#include "pmnode.h"

/*
 * The capacity guard, as a pure function: may @new_logical bytes that
 * compress @ratio : 1 join @used_physical bytes on a device of @capacity
 * physical bytes, keeping @reserve (a fraction) free?  0, or
 * PMN_E_INCOMPRESSIBLE when @ratio < @min_ratio, or PMN_E_TIER_FULL.
 */
int pmn__ctier_guard(uint64_t used_physical, uint64_t capacity, double reserve,
                     uint64_t new_logical, double ratio, double min_ratio);

#endif /* PMN_CTIER_H */
