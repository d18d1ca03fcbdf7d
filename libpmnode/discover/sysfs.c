/*
 * sysfs.c - the only code that reads the machine description.
 *
 * Every path is opened relative to the context's root directory fd with
 * openat(), never as an absolute path, so a captured tree under any
 * directory reads exactly like the live /sys of the machine it came from
 * (the approach hwloc takes with HWLOC_FSROOT).  Relative symlinks inside
 * the tree resolve inside it, as they do in real sysfs.
 *
 * Reads are bounded (PMN__ATTR_MAX), keep errno before close(), and leave
 * interpretation to the strict parsers in parse.c: a missing attribute is
 * -ENOENT, which callers turn into "unknown", never into zero.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "discover/discover.h"

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
    struct stat st;
    int fd, err;

    fs->rootfd = -1;
    fs->root = NULL;
    if (root == NULL || *root == '\0')
        root = "/";
    fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        err = -errno;
        close(fd);
        return err;
    }
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
    size_t cap = 4096, used = 0;
    char *b, *nb;
    ssize_t r;
    int fd, err;

    *buf = NULL;
    if (len)
        *len = 0;
    fd = openat(fs->rootfd, rel(path), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    b = malloc(cap + 1);
    if (b == NULL) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        if (used == cap) {
            if (cap >= PMN__ATTR_MAX) {
                free(b);
                close(fd);
                return -EFBIG;
            }
            cap *= 2;
            nb = realloc(b, cap + 1);
            if (nb == NULL) {
                free(b);
                close(fd);
                return -ENOMEM;
            }
            b = nb;
        }
        r = read(fd, b + used, cap - used);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            err = -errno;
            free(b);
            close(fd);
            return err;
        }
        if (r == 0)
            break;
        used += (size_t)r;
    }
    close(fd);
    b[used] = '\0';
    /* An embedded NUL is not text: refuse rather than silently truncate. */
    if (memchr(b, '\0', used) != NULL) {
        free(b);
        return -EINVAL;
    }
    *buf = b;
    if (len)
        *len = used;
    return 0;
}

int pmn__sysfs_read_u64(const struct pmn__sysfs *fs, const char *path, int base, uint64_t *out)
{
    char *b;
    size_t n;
    int err = pmn__sysfs_read(fs, path, &b, &n);

    if (err)
        return err;
    err = pmn__parse_u64(b, n, base, out);
    free(b);
    return err;
}

int pmn__sysfs_read_s64(const struct pmn__sysfs *fs, const char *path, int64_t *out)
{
    char *b;
    size_t n;
    int err = pmn__sysfs_read(fs, path, &b, &n);

    if (err)
        return err;
    err = pmn__parse_s64(b, n, out);
    free(b);
    return err;
}

int pmn__sysfs_read_list(const struct pmn__sysfs *fs, const char *path, unsigned max_id,
                         struct pmn__bitmap *out)
{
    char *b;
    size_t n;
    int err = pmn__sysfs_read(fs, path, &b, &n);

    if (err)
        return err;
    err = pmn__parse_list(b, n, max_id, out);
    free(b);
    return err;
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
    char buf[PATH_MAX];
    ssize_t r;

    *out = NULL;
    r = readlinkat(fs->rootfd, rel(path), buf, sizeof(buf) - 1);
    if (r < 0)
        return -errno;
    buf[r] = '\0';
    *out = strdup(buf);
    return *out ? 0 : -ENOMEM;
}

bool pmn__sysfs_exists(const struct pmn__sysfs *fs, const char *path)
{
    return faccessat(fs->rootfd, rel(path), F_OK, 0) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void pmn__strv_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int pmn__sysfs_list(const struct pmn__sysfs *fs, const char *dir, const char *prefix,
                    char ***names, size_t *n)
{
    size_t cap = 0, cnt = 0, plen = prefix ? strlen(prefix) : 0;
    char **v = NULL, **nv;
    struct dirent *de;
    DIR *d;
    int fd, err = 0;

    *names = NULL;
    *n = 0;
    fd = openat(fs->rootfd, rel(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    d = fdopendir(fd);
    if (d == NULL) {
        err = -errno;
        close(fd);
        return err;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (plen && strncmp(de->d_name, prefix, plen) != 0)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            nv = realloc(v, cap * sizeof(*v));
            if (nv == NULL) {
                err = -ENOMEM;
                break;
            }
            v = nv;
        }
        v[cnt] = strdup(de->d_name);
        if (v[cnt] == NULL) {
            err = -ENOMEM;
            break;
        }
        cnt++;
    }
    closedir(d);
    if (err) {
        pmn__strv_free(v, cnt);
        return err;
    }
    if (cnt)
        qsort(v, cnt, sizeof(*v), cmp_str);
    *names = v;
    *n = cnt;
    return 0;
}
