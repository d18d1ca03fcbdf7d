/*
 * test-sysfs.c - unit tests for discover/sysfs.c over a scratch root: every
 * path (spelled "/sys/..." or "sys/...") resolves under the root, reads
 * are bounded by PMN__ATTR_MAX and refuse text with a NUL inside, and
 * directory listings skip dot entries, filter by prefix and come sorted.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "discover/discover.h"

static char root[64];
static struct pmn__sysfs fs = {.rootfd = -1};

static void put(const char *path, const void *data, size_t len)
{
    char full[256];
    int fd;

    snprintf(full, sizeof(full), "%s/%s", root, path);
    fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0, "%s: %s", full, strerror(errno));
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void setup(void)
{
    char d[256];

    snprintf(root, sizeof(root), "/tmp/pmn-sysfs-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(d, sizeof(d), "%s/sys", root);
    cr_assert_eq(mkdir(d, 0755), 0);
    snprintf(d, sizeof(d), "%s/sys/node", root);
    cr_assert_eq(mkdir(d, 0755), 0);
    cr_assert_eq(pmn__sysfs_open(&fs, root), 0);
    cr_assert_geq(fs.rootfd, 0);
}

static void teardown(void)
{
    char cmd[128];

    pmn__sysfs_close(&fs);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    (void)!system(cmd);
}

TestSuite(sysfs, .init = setup, .fini = teardown);

Test(sysfs, paths_resolve_under_the_root)
{
    char *b;

    put("sys/node/possible", "0-3\n", 4);
    cr_assert_eq(pmn__sysfs_read_str(&fs, "/sys/node/possible", &b), 0);
    cr_assert_str_eq(b, "0-3");
    free(b);
    cr_assert_eq(pmn__sysfs_read_str(&fs, "sys/node/possible", &b), 0);
    cr_assert_str_eq(b, "0-3");
    free(b);
    cr_assert(pmn__sysfs_exists(&fs, "/sys/node/possible"));
    cr_assert_not(pmn__sysfs_exists(&fs, "/sys/node/online"));
    cr_assert_eq(pmn__sysfs_read_str(&fs, "/sys/node/online", &b), -ENOENT);
    cr_assert_null(b);
}

Test(sysfs, bounded_by_attr_max)
{
    char *big = malloc(PMN__ATTR_MAX + 1), *b;
    size_t n;

    cr_assert_not_null(big);
    memset(big, '7', PMN__ATTR_MAX + 1);
    put("sys/node/exact", big, PMN__ATTR_MAX);
    cr_assert_eq(pmn__sysfs_read(&fs, "/sys/node/exact", &b, &n), 0);
    cr_assert_eq(n, PMN__ATTR_MAX);
    free(b);
    put("sys/node/over", big, PMN__ATTR_MAX + 1);
    cr_assert_eq(pmn__sysfs_read(&fs, "/sys/node/over", &b, &n), -EFBIG);
    cr_assert_null(b);
    free(big);
}

Test(sysfs, nul_inside_is_refused)
{
    static const char t[] = "1\0 2\n";
    struct pmn__bitmap bm = {0};
    char *b;

    put("sys/node/has_memory", t, sizeof(t) - 1);
    cr_assert_eq(pmn__sysfs_read(&fs, "/sys/node/has_memory", &b, NULL), -EINVAL);
    cr_assert_null(b);
    cr_assert_eq(pmn__sysfs_read_list(&fs, "/sys/node/has_memory", 64, &bm), -EINVAL,
                 "not \"1\" from the text before the NUL");
    pmn__bitmap_free(&bm);
}

Test(sysfs, list_sorted_with_prefix)
{
    char **v;
    size_t n;

    put("sys/node/node10", "", 0);
    put("sys/node/node2", "", 0);
    put("sys/node/node0", "", 0);
    put("sys/node/.node9", "", 0);
    put("sys/node/possible", "", 0);
    cr_assert_eq(pmn__sysfs_list(&fs, "/sys/node", "node", &v, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(v[0], "node0");
    cr_assert_str_eq(v[1], "node10");
    cr_assert_str_eq(v[2], "node2");
    pmn__strv_free(v, n);
    cr_assert_eq(pmn__sysfs_list(&fs, "sys/node", NULL, &v, &n), 0);
    cr_assert_eq(n, 4, "all but dot entries");
    cr_assert_str_eq(v[3], "possible");
    pmn__strv_free(v, n);
    cr_assert_eq(pmn__sysfs_list(&fs, "/sys/none", NULL, &v, &n), -ENOENT);
    cr_assert_null(v);
    cr_assert_eq(n, 0);
}

Test(sysfs, readlink_as_stored)
{
    char full[256], *t;

    snprintf(full, sizeof(full), "%s/sys/node/driver", root);
    cr_assert_eq(symlink("../../bus/dax/drivers/device_dax", full), 0);
    cr_assert_eq(pmn__sysfs_readlink(&fs, "/sys/node/driver", &t), 0);
    cr_assert_str_eq(t, "../../bus/dax/drivers/device_dax");
    free(t);
}

Test(sysfs, open_errors)
{
    struct pmn__sysfs f;

    cr_assert_eq(pmn__sysfs_open(&f, "/nonexistent-pmn-root"), -ENOENT);
    cr_assert_eq(f.rootfd, -1);
    cr_assert_null(f.root);
    cr_assert_eq(pmn__sysfs_open(&f, "/dev/null"), -ENOTDIR);
    cr_assert_eq(pmn__sysfs_open(&f, "//"), 0);
    cr_assert_str_eq(f.root, "/");
    pmn__sysfs_close(&f);
}
