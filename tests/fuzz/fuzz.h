/*
 * fuzz.h - shared bits of the libFuzzer harnesses over parse.c.
 *
 * Each harness defines LLVMFuzzerTestOneInput(), feeds the input to one
 * family of parsers exactly as given (pointer + length, no NUL), and checks
 * the parser's promises afterwards; a broken promise aborts so that both
 * libFuzzer and the replay runner (replay.c) report it.
 */
#ifndef PMN_FUZZ_H
#define PMN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "discover/discover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* The parsers' error contract: 0, -EINVAL, -ERANGE or -ENOMEM. */
#define FUZZ_RC_OK(rc) ((rc) == 0 || (rc) == -EINVAL || (rc) == -ERANGE || (rc) == -ENOMEM)

#endif
