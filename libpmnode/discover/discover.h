/*
 * discover/discover.h - the discovery layer's readers: the configuration
 * file (config.c) and sysfs access relative to a root (sysfs.c).  The
 * config parser is a pure function over text so that unit tests and
 * fuzzers drive it without a sysfs tree; the sysfs readers are the only
 * functions that read the machine description, always relative to a root
 * directory fd.
 */
#ifndef PMN_DISCOVER_H
#define PMN_DISCOVER_H

#include "core/core.h"

/* ---- config.c ---- */
/* Configuration file (etc/pmnode.conf), line based:
 *     # comment
 *     private 2-3,8
 *     kind 4 compressed
 * Unknown keys and malformed lines are errors (-EINVAL) that name the
 * 1-based line and say what is wrong with it. */
struct pmn__config {
    struct pmn__bitmap private_nodes;
    bool private_set;
    struct pmn__kind_override {
        int node;
        enum pmn_kind kind;
    } * kinds;
    size_t nkinds;
};
struct pmn__config_error {
    size_t line;   /* 0 on success */
    char why[128]; /* "unknown key 'privat' (...)"; "" on success */
};
int pmn__parse_config(const char *s, size_t len, struct pmn__config *out,
                      struct pmn__config_error *err);
void pmn__config_free(struct pmn__config *c);
/* Append (@node, @kind) to a kind table; 0 or -ENOMEM. */
int pmn__kinds_add(struct pmn__kind_override **kinds, size_t *n, int node, enum pmn_kind kind);

/* ---- sysfs.c: readers; every path is relative to the root ---- */
struct pmn__sysfs {
    int rootfd; /* O_PATH|O_DIRECTORY fd of the root; -1 when live */
    char *root; /* as given, normalised ("/" for this machine) */
    bool live;  /* the root is this machine's "/": no descriptor held,
                   paths opened absolute (sysfs.c says why) */
};
int pmn__sysfs_open(struct pmn__sysfs *fs, const char *root);
void pmn__sysfs_close(struct pmn__sysfs *fs);
/* Read a whole attribute (NUL-terminated, at most PMN__ATTR_MAX bytes) into
 * a malloc'd buffer.  -ENOENT when absent, -EFBIG when larger. */
int pmn__sysfs_read(const struct pmn__sysfs *fs, const char *path, char **buf, size_t *len);
/* As pmn__sysfs_read, at most @max bytes (/proc/zoneinfo is larger). */
int pmn__sysfs_read_max(const struct pmn__sysfs *fs, const char *path, size_t max, char **buf,
                        size_t *len);
/* As pmn__sysfs_read, for a file that must be a regular file (the
 * configuration): -EISDIR for a directory, -ESPIPE for a FIFO, socket or
 * device. */
int pmn__sysfs_read_regular(const struct pmn__sysfs *fs, const char *path, char **buf,
                            size_t *len);
int pmn__sysfs_read_u64(const struct pmn__sysfs *fs, const char *path, int base, uint64_t *out);
int pmn__sysfs_read_s64(const struct pmn__sysfs *fs, const char *path, int64_t *out);
int pmn__sysfs_read_list(const struct pmn__sysfs *fs, const char *path, unsigned max_id,
                         struct pmn__bitmap *out);
/* Trimmed single-line string (malloc'd). */
int pmn__sysfs_read_str(const struct pmn__sysfs *fs, const char *path, char **out);
/* Target of a symlink (malloc'd), as stored. */
int pmn__sysfs_readlink(const struct pmn__sysfs *fs, const char *path, char **out);
bool pmn__sysfs_exists(const struct pmn__sysfs *fs, const char *path);
/* @in (relative to the root) resolved inside the root into @out (PATH_MAX
 * bytes): no symlink, "." or ".." left; "" is the root.  -EXDEV when it
 * climbs above the root, -ELOOP, -ENAMETOOLONG, -ENOENT (sysfs.c). */
int pmn__sysfs_resolve(const struct pmn__sysfs *fs, const char *in, char *out);
/* Drop the last component of @p (length *@len) in place. */
void pmn__path_pop(char *p, size_t *len);
/* Names in a directory matching a prefix (NULL = all but dot entries),
 * sorted; the array and names are malloc'd, free with pmn__strv_free. */
int pmn__sysfs_list(const struct pmn__sysfs *fs, const char *dir, const char *prefix,
                    char ***names, size_t *n);

#endif /* PMN_DISCOVER_H */
