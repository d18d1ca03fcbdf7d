/*
 * sysfs.c - the only code that reads the machine description.
 *
 * Every path is opened relative to the context's root directory fd, never
 * as an absolute path, so a captured tree under any directory reads
 * exactly like the live /sys of the machine it came from (the approach
 * hwloc takes with HWLOC_FSROOT).  Relative symlinks inside the tree
 * resolve inside it, as they do in real sysfs.  The opening and reading
 * itself is the OS layer's (os/prim.h: pmn_prim_open_dir,
 * pmn_prim_read_file_at, ..._at): this file decides which paths, how
 * much, and what the text means.
 *
 * Reads are bounded (PMN__ATTR_MAX), refuse text with a NUL inside, and
 * leave interpretation to the strict parsers in parse.c: a missing
 * attribute is -ENOENT, which callers turn into "unknown", never into
 * zero.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "discover/discover.h"
#include "os/prim.h"

/* Paths given to us look absolute ("/sys/...") or relative ("sys/...");
 * both mean "under the root". */
static const char *rel(const char *path)
{
    while (*path == '/')
        path++;
    return *path ? path : ".";
}

int pmn__sysfs_open(struct pmn__sysfs *fs, const char *root)
{
    char resolved[PATH_MAX];
    int fd, err;

    fs->rootfd = -1;
    fs->root = NULL;
    if (root == NULL || *root == '\0')
        root = "/";
    err = pmn_prim_open_dir(root, &fd);
    if (err)
        return err;
    /* Keep the caller's spelling for messages, but recognise every
     * spelling of "/" (//, /., a symlink to /) as this machine. */
    if (realpath(root, resolved) != NULL && strcmp(resolved, "/") == 0) {
        fs->root = strdup("/");
    } else {
        size_t len = strlen(root);
        while (len > 1 && root[len - 1] == '/')
            len--;
        fs->root = strndup(root, len);
    }
    if (fs->root == NULL) {
        close(fd);
        return -ENOMEM;
    }
    fs->rootfd = fd;
    return 0;
}

void pmn__sysfs_close(struct pmn__sysfs *fs)
{
    if (fs->rootfd >= 0)
        close(fs->rootfd);
    free(fs->root);
    fs->rootfd = -1;
    fs->root = NULL;
}

int pmn__sysfs_read(const struct pmn__sysfs *fs, const char *path, char **buf, size_t *len)
{
    return pmn_prim_read_file_at(fs->rootfd, rel(path), PMN__ATTR_MAX, buf, len);
}

int pmn__sysfs_read_regular(const struct pmn__sysfs *fs, const char *path, char **buf, size_t *len)
{
    return pmn_prim_read_regular_at(fs->rootfd, rel(path), PMN__ATTR_MAX, buf, len);
}

/* Read @path and hand its text to @parse (one reader behind every typed
 * attribute). */
struct parse_to {
    int (*parse)(const char *s, size_t len, const struct parse_to *to);
    int base;
    unsigned max_id;
    void *out;
};

static int read_parsed(const struct pmn__sysfs *fs, const char *path, const struct parse_to *to)
{
    char *b;
    size_t n;
    int err = pmn__sysfs_read(fs, path, &b, &n);

    if (err)
        return err;
    err = to->parse(b, n, to);
    free(b);
    return err;
}

static int to_u64(const char *s, size_t len, const struct parse_to *to)
{
    return pmn__parse_u64(s, len, to->base, to->out);
}

static int to_s64(const char *s, size_t len, const struct parse_to *to)
{
    return pmn__parse_s64(s, len, to->out);
}

static int to_list(const char *s, size_t len, const struct parse_to *to)
{
    return pmn__parse_list(s, len, to->max_id, to->out);
}

int pmn__sysfs_read_u64(const struct pmn__sysfs *fs, const char *path, int base, uint64_t *out)
{
    return read_parsed(fs, path, &(struct parse_to){.parse = to_u64, .base = base, .out = out});
}

int pmn__sysfs_read_s64(const struct pmn__sysfs *fs, const char *path, int64_t *out)
{
    return read_parsed(fs, path, &(struct parse_to){.parse = to_s64, .out = out});
}

int pmn__sysfs_read_list(const struct pmn__sysfs *fs, const char *path, unsigned max_id,
                         struct pmn__bitmap *out)
{
    return read_parsed(fs, path,
                       &(struct parse_to){.parse = to_list, .max_id = max_id, .out = out});
}

int pmn__sysfs_read_str(const struct pmn__sysfs *fs, const char *path, char **out)
{
    char *b, *end, *start;
    size_t n;
    int err = pmn__sysfs_read(fs, path, &b, &n);

    *out = NULL;
    if (err)
        return err;
    start = b;
    while (*start == ' ' || *start == '\t')
        start++;
    end = b + n;
    while (end > start && (end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    /* One line only: a multi-line value is not what the caller expects. */
    if (memchr(start, '\n', (size_t)(end - start)) != NULL) {
        free(b);
        return -EINVAL;
    }
    memmove(b, start, (size_t)(end - start));
    b[end - start] = '\0';
    *out = b;
    return 0;
}

int pmn__sysfs_readlink(const struct pmn__sysfs *fs, const char *path, char **out)
{
    return pmn_prim_readlink_at(fs->rootfd, rel(path), out);
}

bool pmn__sysfs_exists(const struct pmn__sysfs *fs, const char *path)
{
    return pmn_prim_exists_at(fs->rootfd, rel(path));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names pmn__sysfs_list collects. */
struct name_list {
    const char *prefix;
    size_t plen, cap, n;
    char **v;
};

static int collect(const char *name, void *arg)
{
    struct name_list *l = arg;
    char **nv;

    if (name[0] == '.')
        return 0;
    if (l->plen && strncmp(name, l->prefix, l->plen) != 0)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        if ((nv = realloc(l->v, cap * sizeof(*nv))) == NULL)
            return -ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    if ((l->v[l->n] = strdup(name)) == NULL)
        return -ENOMEM;
    l->n++;
    return 0;
}

int pmn__sysfs_list(const struct pmn__sysfs *fs, const char *dir, const char *prefix,
                    char ***names, size_t *n)
{
    struct name_list l = {.prefix = prefix, .plen = prefix ? strlen(prefix) : 0};
    int err;

    *names = NULL;
    *n = 0;
    err = pmn_prim_list_dir_at(fs->rootfd, rel(dir), collect, &l);
    if (err) {
        pmn__strv_free(l.v, l.n);
        return err;
    }
    if (l.n)
        qsort(l.v, l.n, sizeof(*l.v), cmp_str);
    *names = l.v;
    *n = l.n;
    return 0;
}
