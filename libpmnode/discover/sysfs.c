/*
 * sysfs.c - the only code that reads the machine description.
 *
 * Every path is opened relative to the context's root directory fd, never
 * as an absolute path, so a captured tree under any directory reads
 * exactly like the live /sys of the machine it came from (the approach
 * hwloc takes with HWLOC_FSROOT).  Relative symlinks inside the tree
 * resolve inside it, as they do in real sysfs.
 *
 * This machine's own root ("/") is the exception: no descriptor is held
 * for it, and paths are opened as "/" + path.  The descriptor table is the
 * program's.  The shim lives in programs that close every descriptor they
 * did not open (daemons' workers, closefrom(3) before serving) and then
 * open their own: the held number then named a memfd, a socket or
 * nothing, the backing's free-memory check failed, and malloc returned
 * NULL.  And a held descriptor shifted every number the program got
 * (memfd_create gave 4 where it gave 3), which the shim must not show
 * (issue 15).  The opening and reading
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
#include <fcntl.h>
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

/* Where @path is opened: relative to the root's descriptor, or, for this
 * machine's root (no descriptor held), as an absolute path built in
 * @a->small (on the heap if longer: callers may run on small stacks). */
struct at {
    int dirfd;
    const char *path;
    char *heap;
    char small[160];
};

static int at_path(const struct pmn__sysfs *fs, const char *path, struct at *a)
{
    const char *r = rel(path);
    size_t n = strlen(r);
    char *dst;

    a->heap = NULL;
    if (!fs->live) {
        a->dirfd = fs->rootfd;
        a->path = r;
        return 0;
    }
    dst = n + 2 <= sizeof(a->small) ? a->small : (a->heap = malloc(n + 2));
    if (dst == NULL)
        return -ENOMEM;
    dst[0] = '/';
    memcpy(dst + 1, r, n + 1);
    a->dirfd = AT_FDCWD;
    a->path = dst;
    return 0;
}

int pmn__sysfs_open(struct pmn__sysfs *fs, const char *root)
{
    char resolved[PATH_MAX];
    int fd, err;

    fs->rootfd = -1;
    fs->root = NULL;
    fs->live = false;
    if (root == NULL || *root == '\0')
        root = "/";
    err = pmn_prim_open_dir(root, &fd);
    if (err)
        return err;
    /* Keep the caller's spelling for messages, but recognise every
     * spelling of "/" (//, /., a symlink to /) as this machine. */
    if (realpath(root, resolved) != NULL && strcmp(resolved, "/") == 0) {
        fs->root = strdup("/");
        fs->live = true;
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
    if (fs->live) {
        close(fd); /* opened only to say the root is there: see the top */
        fd = -1;
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
    fs->live = false;
}

int pmn__sysfs_read_max(const struct pmn__sysfs *fs, const char *path, size_t max, char **buf,
                        size_t *len)
{
    struct at a;
    int err = at_path(fs, path, &a);

    if (err)
        return err;
    err = pmn_prim_read_file_at(a.dirfd, a.path, max, buf, len);
    free(a.heap);
    return err;
}

int pmn__sysfs_read(const struct pmn__sysfs *fs, const char *path, char **buf, size_t *len)
{
    return pmn__sysfs_read_max(fs, path, PMN__ATTR_MAX, buf, len);
}

int pmn__sysfs_read_regular(const struct pmn__sysfs *fs, const char *path, char **buf, size_t *len)
{
    struct at a;
    int err = at_path(fs, path, &a);

    if (err)
        return err;
    err = pmn_prim_read_regular_at(a.dirfd, a.path, PMN__ATTR_MAX, buf, len);
    free(a.heap);
    return err;
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
    struct at a;
    int err = at_path(fs, path, &a);

    if (err)
        return err;
    err = pmn_prim_readlink_at(a.dirfd, a.path, out);
    free(a.heap);
    return err;
}

bool pmn__sysfs_exists(const struct pmn__sysfs *fs, const char *path)
{
    struct at a;
    bool there;

    if (at_path(fs, path, &a) != 0)
        return false;
    there = pmn_prim_exists_at(a.dirfd, a.path);
    free(a.heap);
    return there;
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
    struct at a;
    int err;

    *names = NULL;
    *n = 0;
    if ((err = at_path(fs, dir, &a)) != 0)
        return err;
    err = pmn_prim_list_dir_at(a.dirfd, a.path, collect, &l);
    free(a.heap);
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
