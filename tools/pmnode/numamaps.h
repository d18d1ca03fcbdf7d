/*
 * numamaps.h - bytes per NUMA node of a process, from the text of
 * /proc/PID/numa_maps (numamaps.c).  No I/O and no library calls: the
 * parser is fed whatever text it is given, so pmnode numa, the unit test
 * and the fuzzer (tests/fuzz/fuzz-numamaps.c) all drive the same code.
 */
#ifndef PMNODE_NUMAMAPS_H
#define PMNODE_NUMAMAPS_H

#include <stddef.h>
#include <stdint.h>

/* Node ids above this are not counted (the line is counted as bad):
 * the library's node ids are 0 to 65535 (core/parse.c). */
#define NUMAMAPS_MAX_NODE 65535

struct numamaps {
    uint64_t *bytes;  /* [0, nnodes): bytes resident per node id */
    uint64_t *anon;   /* [0, nnodes): of which in mappings without file= */
    uint64_t *huge;   /* [0, nnodes): of which in huge pages (a "huge" line,
                       * or a page size above the default; pmnode top) */
    size_t nnodes;    /* one past the highest node id seen */
    uint64_t total;   /* sum of bytes[], saturating at UINT64_MAX */
    size_t lines;     /* mappings read */
    size_t bad_lines; /* lines skipped: malformed, out of range */
};

/*
 * Parse @len bytes of numa_maps text @s (need not be NUL-terminated) into
 * @m, which must be zeroed or previously filled by this call (it is reset).
 * A line is "ADDRESS POLICY TOKEN...": every "N<id>=<pages>" token counts
 * pages x kernelpagesize_kB KiB on node id (@default_page bytes when the
 * line has no kernelpagesize_kB).  A malformed token (bad number, id out
 * of range, overflow) makes the whole line bad: it is skipped and counted
 * in bad_lines, never guessed at.  Sums saturate at UINT64_MAX.  Returns 0
 * or -ENOMEM (@m then holds what was counted before).
 */
int numamaps_parse(const char *s, size_t len, uint64_t default_page, struct numamaps *m);
/* Free the arrays; @m is zeroed. */
void numamaps_free(struct numamaps *m);

#endif /* PMNODE_NUMAMAPS_H */
