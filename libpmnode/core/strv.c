/*
 * strv.c - growable arrays of malloc'd strings (directory listings, CXL
 * targets, a context's problem lines).  Not thread-safe: an array has one
 * owner at a time.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/core.h"

void pmn__strv_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int pmn__strv_push(char ***v, size_t *n, char *s)
{
    char **nv;

    if (s == NULL)
        return -ENOMEM;
    nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (nv == NULL) {
        free(s);
        return -ENOMEM;
    }
    nv[(*n)++] = s;
    *v = nv;
    return 0;
}
