/*
 * internal.h - contracts between libpmnode's files (pmn__ prefix).
 *
 * Nothing here is exported.  Parsers are pure functions over text so that
 * unit tests and fuzzers can drive them without a sysfs tree; the sysfs
 * readers are the only functions that touch the file system, always
 * relative to a root directory fd.
 */
#ifndef PMN_INTERNAL_H
#define PMN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pmnode.h"

/* Largest node id accepted from any input.  Linux caps MAX_NUMNODES at
 * 1 << 10; we allow more headroom without letting a corrupt file make us
 * allocate gigabytes. */
#define PMN__MAX_NODE_ID 65535
/* Largest CPU id accepted in a cpulist. */
#define PMN__MAX_CPU_ID (1 << 20)
/* Largest sysfs attribute we read (distance lines on 1024-node machines fit). */
#define PMN__ATTR_MAX 65536

/* ---- bitmap: a growable set of small non-negative ints (node ids) ---- */
struct pmn__bitmap {
    uint64_t *words;
    size_t nwords;
};
void pmn__bitmap_free(struct pmn__bitmap *b);
int pmn__bitmap_set(struct pmn__bitmap *b, unsigned bit);
bool pmn__bitmap_test(const struct pmn__bitmap *b, unsigned bit);
size_t pmn__bitmap_weight(const struct pmn__bitmap *b);
/* Next set bit at or after @from, or -1. */
long pmn__bitmap_next(const struct pmn__bitmap *b, unsigned from);

/* ---- strict parsers (parse.c); text need not be NUL-terminated ----
 * Each accepts exactly one trailing newline and nothing else after the
 * value.  Return 0, -EINVAL for malformed text, -ERANGE for out of range. */

/* Unsigned integer in @base (0 = C prefixes allowed; 16 accepts "0x"). */
int pmn__parse_u64(const char *s, size_t len, int base, uint64_t *out);
/* Signed integer in base 10 ("-1" is common in sysfs for "none"). */
int pmn__parse_s64(const char *s, size_t len, int64_t *out);
/* Kernel list format "0-3,8,10-11" (empty list allowed) into @out, ids up
 * to @max_id.  @out is cleared first. */
int pmn__parse_list(const char *s, size_t len, unsigned max_id, struct pmn__bitmap *out);
/* Space-separated distances "10 20 30"; at most @max values. */
int pmn__parse_distances(const char *s, size_t len, int *out, size_t max, size_t *n);

struct pmn__meminfo {
    uint64_t total; /* bytes, PMN_UNKNOWN if absent */
    uint64_t free;  /* bytes, PMN_UNKNOWN if absent */
};
/* nodeN/meminfo ("Node 0 MemTotal:  16384 kB" lines) or /proc/meminfo
 * ("MemTotal:  16384 kB").  Unknown lines are skipped; a malformed
 * MemTotal/MemFree line is -EINVAL. */
int pmn__parse_meminfo(const char *s, size_t len, struct pmn__meminfo *out);

/* Parse a size with optional suffix: "4096", "2M", "1G", "64k", "0x1000". */
int pmn__parse_size(const char *s, size_t len, uint64_t *out);

/* PMNODE_LOG value -> level (0 off, 1 error, 2 warn, 3 info, 4 debug). */
int pmn__parse_log_level(const char *s, int *level);

/* Configuration file (etc/pmnode.conf), line based:
 *     # comment
 *     private 2-3,8
 *     kind 4 compressed
 * Unknown keys and malformed lines are errors (-EINVAL) with *bad_line set
 * to the 1-based line number. */
struct pmn__config {
    struct pmn__bitmap private_nodes;
    bool private_set;
    struct pmn__kind_override {
        int node;
        enum pmn_kind kind;
    } *kinds;
    size_t nkinds;
};
int pmn__parse_config(const char *s, size_t len, struct pmn__config *out, size_t *bad_line);
void pmn__config_free(struct pmn__config *c);

/* ---- sysfs readers (sysfs.c): every path is relative to root ---- */
struct pmn__sysfs {
    int rootfd;     /* O_PATH|O_DIRECTORY fd of the root */
    char *root;     /* as given, normalised ("/" for this machine) */
};
int pmn__sysfs_open(struct pmn__sysfs *fs, const char *root);
void pmn__sysfs_close(struct pmn__sysfs *fs);
/* Read a whole attribute (NUL-terminated, at most PMN__ATTR_MAX bytes) into
 * a malloc'd buffer.  -ENOENT when absent, -EFBIG when larger. */
int pmn__sysfs_read(const struct pmn__sysfs *fs, const char *path, char **buf, size_t *len);
int pmn__sysfs_read_u64(const struct pmn__sysfs *fs, const char *path, int base, uint64_t *out);
int pmn__sysfs_read_s64(const struct pmn__sysfs *fs, const char *path, int64_t *out);
int pmn__sysfs_read_list(const struct pmn__sysfs *fs, const char *path, unsigned max_id,
                         struct pmn__bitmap *out);
/* Trimmed single-line string (malloc'd). */
int pmn__sysfs_read_str(const struct pmn__sysfs *fs, const char *path, char **out);
/* Target of a symlink (malloc'd), as stored. */
int pmn__sysfs_readlink(const struct pmn__sysfs *fs, const char *path, char **out);
bool pmn__sysfs_exists(const struct pmn__sysfs *fs, const char *path);
/* Names in a directory matching a prefix (NULL = all but dot entries),
 * sorted; the array and names are malloc'd, free with pmn__strv_free. */
int pmn__sysfs_list(const struct pmn__sysfs *fs, const char *dir, const char *prefix,
                    char ***names, size_t *n);
void pmn__strv_free(char **v, size_t n);

/* ---- logging (ctx.c) ---- */
struct pmn_ctx;
void pmn__log(const struct pmn_ctx *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* PMN_INTERNAL_H */
