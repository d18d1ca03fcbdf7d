/*
 * sysfs.c - the only code that reads the machine description.
 *
 * Every path is opened relative to the context's root directory fd, never
 * as an absolute path, so a captured tree under any directory reads
 * exactly like the live /sys of the machine it came from (the approach
 * hwloc takes with HWLOC_FSROOT).  Relative symlinks inside the tree
 * resolve inside it, as they do in real sysfs.
 *
 * Nothing a tree holds can make a read leave it: under any root but "/",
 * the directory a path names is opened inside the root (openat2's
 * RESOLVE_IN_ROOT, through os/prim.h; where the kernel lacks it or a
 * seccomp filter hides it, by pmn__sysfs_resolve below, one component at
 * a time: test-sysfs.c hides it both ways), and a last
 * component that is a symlink is read and followed the same way.  An
 * absolute link restarts at the root and ".." stops there (openat2) or is
 * refused (-EXDEV, by hand), as in a chroot: a captured tree's own links
 * (node1 -> ../../devices/...) still resolve, /etc/shadow does not.
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

#define MAX_LINKS 40     /* symlinks followed in one lookup, as the kernel's ELOOP limit */
#define NAME_MAX_LEN 255 /* one path component */

/* Paths given to us look absolute ("/sys/...") or relative ("sys/...");
 * both mean "under the root". */
static const char *rel(const char *path)
{
    while (*path == '/')
        path++;
    return *path ? path : ".";
}

/* Where @path is opened, unconfined: relative to the root's descriptor,
 * or, for this machine's root (no descriptor held), as an absolute path
 * built in @a->small (on the heap if longer: callers may run on small
 * stacks).  @a->fd is a descriptor @a owns (at_done closes it), or -1. */
struct at {
    int dirfd, fd;
    const char *path;
    char *heap;
    char small[160];
};

static int raw_at(const struct pmn__sysfs *fs, const char *path, struct at *a)
{
    const char *r = rel(path);
    size_t n = strlen(r);
    char *dst;

    a->heap = NULL;
    a->fd = -1;
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

static void at_done(struct at *a)
{
    if (a->fd >= 0)
        close(a->fd);
    free(a->heap);
}

/* The target of the symlink @path, read without confining @path (whose
 * directories pmn__sysfs_resolve has already resolved). */
static int raw_readlink(const struct pmn__sysfs *fs, const char *path, char **out)
{
    struct at a;
    int err = raw_at(fs, path, &a);

    if (err)
        return err;
    err = pmn_prim_readlink_at(a.dirfd, a.path, out);
    at_done(&a);
    return err;
}

/* ---- paths resolved inside the root ---- */

/* Drop the last component of @p (length *@len) in place. */
void pmn__path_pop(char *p, size_t *len)
{
    while (*len > 0 && p[*len - 1] != '/')
        (*len)--;
    if (*len > 0)
        (*len)--; /* the slash */
    p[*len] = '\0';
}

/*
 * Resolve @in (read relative to the root; leading slashes ignored) into
 * @out (PATH_MAX bytes): the same object's path relative to the root with
 * no symlink, "." or ".." left in it ("" is the root itself).  0,
 * -ENOENT when a component is missing, -EXDEV when the path or a link in
 * it climbs above the root, -ENAMETOOLONG for an overlong component or
 * path, -ELOOP after MAX_LINKS links, or the readlink's -errno.
 */
/* What is left to walk (two of them, swapped as links are followed),
 * on the heap: callers may run on small thread stacks. */
#define REST_MAX (2 * PATH_MAX)

static int resolve_in(const struct pmn__sysfs *fs, char *rest, char *tmp, char *out);

int pmn__sysfs_resolve(const struct pmn__sysfs *fs, const char *in, char *out)
{
    char *bufs;
    int err;

    if (strlen(in) >= PATH_MAX)
        return -ENAMETOOLONG;
    if ((bufs = malloc(2 * REST_MAX)) == NULL)
        return -ENOMEM;
    strcpy(bufs, in);
    err = resolve_in(fs, bufs, bufs + REST_MAX, out);
    free(bufs);
    return err;
}

static int resolve_in(const struct pmn__sysfs *fs, char *rest, char *tmp, char *out)
{
    size_t len = 0, links = 0;
    char *p = rest;

    out[0] = '\0';
    for (;;) {
        char *c, *link;
        size_t clen, before;
        int err;

        while (*p == '/')
            p++;
        if (*p == '\0')
            return 0;
        c = p;
        while (*p != '\0' && *p != '/')
            p++;
        clen = (size_t)(p - c);
        if (clen > NAME_MAX_LEN)
            return -ENAMETOOLONG;
        if (clen == 1 && c[0] == '.')
            continue;
        if (clen == 2 && c[0] == '.' && c[1] == '.') {
            if (len == 0)
                return -EXDEV; /* above the root */
            pmn__path_pop(out, &len);
            continue;
        }
        before = len;
        if (len + (len > 0) + clen >= PATH_MAX)
            return -ENAMETOOLONG;
        if (len > 0)
            out[len++] = '/';
        memcpy(out + len, c, clen);
        len += clen;
        out[len] = '\0';

        err = raw_readlink(fs, out, &link);
        if (err == -EINVAL)
            continue; /* not a link */
        if (err == -ENOTDIR)
            return -ENOENT;
        if (err)
            return err;
        if (++links > MAX_LINKS || *link == '\0') {
            free(link);
            return links > MAX_LINKS ? -ELOOP : -ENOENT;
        }
        /* The link's target, then what was left of the path. */
        size_t ll = strlen(link), pl = strlen(p);
        if (ll + 1 + pl >= REST_MAX) {
            free(link);
            return -ENAMETOOLONG;
        }
        memcpy(tmp, link, ll);
        tmp[ll] = '/';
        memcpy(tmp + ll + 1, p, pl + 1);
        if (link[0] == '/') {
            len = 0; /* absolute: from the root, as in a chroot */
            out[0] = '\0';
        } else {
            len = before;
            out[len] = '\0';
        }
        free(link);
        strcpy(rest, tmp);
        p = rest;
    }
}

/* The directory @dir (relative to the root) opened inside the root. */
static int open_dir_in_root(const struct pmn__sysfs *fs, const char *dir, int *fd)
{
    char *real;
    int err = pmn_prim_open_dir_at(fs->rootfd, dir, true, fd);

    if (err != -ENOSYS)
        return err;
    if ((real = malloc(PATH_MAX)) == NULL)
        return -ENOMEM;
    err = pmn__sysfs_resolve(fs, dir, real);
    if (err == 0)
        err = pmn_prim_open_dir_at(fs->rootfd, *real ? real : ".", false, fd);
    free(real);
    return err;
}

/* Where @path is opened, confined to the root (see the top): @a->dirfd
 * is its directory, opened inside the root, and @a->path its last
 * component, which is no symlink when @follow (a link there is followed
 * here, inside the root) and may be one when not (readlink).  On "/"
 * nothing needs confining: raw_at. */
static int at_path_how(const struct pmn__sysfs *fs, const char *path, bool follow, struct at *a)
{
    const char *r = rel(path);
    size_t links = 0;
    char *cur;

    if (fs->live)
        return raw_at(fs, path, a);
    a->fd = -1;
    if ((cur = strdup(r)) == NULL)
        return -ENOMEM;
    for (;;) {
        size_t n = strlen(cur);
        char *slash, *base, *link, *next;
        int err;

        while (n > 1 && cur[n - 1] == '/')
            cur[--n] = '\0';
        slash = strrchr(cur, '/');
        base = slash ? slash + 1 : cur;
        if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
            /* Names a directory: open it whole, and work on "." in it. */
            err = open_dir_in_root(fs, cur, &a->fd);
            base = ".";
        } else if (slash) {
            *slash = '\0';
            err = open_dir_in_root(fs, *cur ? cur : ".", &a->fd);
        } else {
            err = open_dir_in_root(fs, ".", &a->fd);
        }
        if (err) {
            free(cur);
            return err;
        }
        a->dirfd = a->fd;
        a->heap = cur;
        a->path = base;
        if (!follow || strcmp(base, ".") == 0 || pmn_prim_readlink_at(a->fd, base, &link) != 0)
            return 0; /* not a link (or absent: the caller's open says so) */
        close(a->fd);
        a->fd = -1;
        if (++links > MAX_LINKS || *link == '\0') {
            free(link);
            free(cur);
            return links > MAX_LINKS ? -ELOOP : -ENOENT;
        }
        /* An absolute target restarts at the root; a relative one is
         * read from the link's directory. */
        if (link[0] == '/' || !slash) {
            next = link;
        } else {
            size_t dl = strlen(cur), ll = strlen(link);
            if ((next = malloc(dl + ll + 2)) != NULL) {
                memcpy(next, cur, dl);
                next[dl] = '/';
                memcpy(next + dl + 1, link, ll + 1);
            }
            free(link);
        }
        free(cur);
        if (next == NULL)
            return -ENOMEM;
        cur = next;
    }
}

static int at_path(const struct pmn__sysfs *fs, const char *path, struct at *a)
{
    return at_path_how(fs, path, true, a);
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
    at_done(&a);
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
    at_done(&a);
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
    int err = at_path_how(fs, path, false, &a);

    if (err)
        return err;
    err = pmn_prim_readlink_at(a.dirfd, a.path, out);
    at_done(&a);
    return err;
}

bool pmn__sysfs_exists(const struct pmn__sysfs *fs, const char *path)
{
    struct at a;
    bool there;

    if (at_path(fs, path, &a) != 0)
        return false;
    there = pmn_prim_exists_at(a.dirfd, a.path);
    at_done(&a);
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
    at_done(&a);
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
