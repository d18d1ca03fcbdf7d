/*
 * preload/config.h - the shim's configuration (PMNODE_PRELOAD) as a pure
 * function: text in, a struct or one error out.  It never prints, exits,
 * reads the environment or allocates (the shim parses before its heap
 * exists), so unit tests and a fuzzer can drive it; preload.c prints the
 * error's line and stops the program.
 */
#ifndef PMN_PRELOAD_CONFIG_H
#define PMN_PRELOAD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

enum pmn__preload_target {
    PMN__PRELOAD_NONE,
    PMN__PRELOAD_NODE,    /* node=N */
    PMN__PRELOAD_KIND,    /* kind=K */
    PMN__PRELOAD_PRIVATE, /* private */
};

/* stats=PATH holds at most PMN__PRELOAD_STATS_MAX - 1 bytes (pmnode run
 * refuses a longer --stats before the program starts). */
#define PMN__PRELOAD_STATS_MAX 512

struct pmn__preload_config {
    enum pmn__preload_target target;
    int node;           /* PMN__PRELOAD_NODE */
    enum pmn_kind kind; /* PMN__PRELOAD_KIND */
    int spill[PMN__MAX_SPILL];
    size_t nspill;
    size_t threshold;                   /* requests below go to libc */
    char stats[PMN__PRELOAD_STATS_MAX]; /* "" when no summary is asked for */
    int log_level;                      /* 0 off .. 4 debug */
    bool populate;                      /* populate: large blocks populated up front */
    bool large_cache_set;               /* large_cache= given */
    size_t large_cache;                 /* its value: bytes of freed large blocks kept */
    size_t small_cache;                 /* small_cache=: emptied pages' memory kept (0) */
    bool publish;                       /* publish: the arena's stats for pmnode top */
};

struct pmn__preload_error {
    size_t offset; /* where the faulty option starts in the text; for a
                    * missing target, the length of the text */
    size_t length; /* bytes of that option (0 for a missing target) */
    char msg[256]; /* one line, "PMNODE_PRELOAD: ...", no newline; bytes of
                    * the text that are control characters become '?' */
};

/*
 * "node=1;threshold=4096;spill=2,0;stats=/tmp/s.json;log=warn;populate;
 * large_cache=16M;small_cache=8M;publish": options
 * separated by ';', spaces or tabs; exactly one target (node=, kind= or
 * private); each option at most once.  Values use the grammar of
 * core/parse.c.  @text need not be NUL-terminated.  Returns 0 with @c
 * filled, or -EINVAL (malformed, unknown, repeated or conflicting option)
 * or -ERANGE (a value out of range) with @err filled; @c is then
 * unspecified.
 */
int pmn__preload_parse(const char *text, size_t len, struct pmn__preload_config *c,
                       struct pmn__preload_error *err);

#endif /* PMN_PRELOAD_CONFIG_H */
