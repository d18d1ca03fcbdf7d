/*
 * test-sysfs.c - unit tests for discover/sysfs.c over a scratch root: every
 * path (spelled "/sys/..." or "sys/...") resolves under the root, reads
 * are bounded by PMN__ATTR_MAX and refuse text with a NUL inside, and
 * directory listings skip dot entries, filter by prefix and come sorted.
 * The configuration file's reader takes regular files only, and a context
 * that cannot be created from a bad configuration says why in the
 * caller's buffer, printing nothing (pmn_ctx_params_set_error_buffer).
 * Where openat2 is hidden (a seccomp filter, as containers and systemd
 * units have), paths resolve by hand with the same confinement.
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
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "discover/discover.h"
#include "pmnode.h"

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

/* @path (under the root) reads as @want. */
static void reads_as(const char *path, const char *want)
{
    char *b = NULL;

    cr_assert_eq(pmn__sysfs_read_str(&fs, path, &b), 0, "%s", path);
    cr_assert_str_eq(b, want, "%s", path);
    free(b);
}

Test(sysfs, paths_resolve_under_the_root)
{
    char *b;

    put("sys/node/possible", "0-3\n", 4);
    reads_as("/sys/node/possible", "0-3");
    reads_as("sys/node/possible", "0-3");
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

/* Issue 13: a FIFO or a directory is no configuration file. */
Test(sysfs, read_regular_refuses_other_files, .timeout = 10)
{
    char full[256], *b = (char *)1;
    size_t len;

    put("sys/node/conf", "private 1\n", 10);
    cr_assert_eq(pmn__sysfs_read_regular(&fs, "/sys/node/conf", &b, &len), 0);
    cr_assert_str_eq(b, "private 1\n");
    free(b);
    snprintf(full, sizeof(full), "%s/sys/node/fifo", root);
    cr_assert_eq(mkfifo(full, 0600), 0);
    cr_assert_eq(pmn__sysfs_read_regular(&fs, "sys/node/fifo", &b, &len), -ESPIPE);
    cr_assert_null(b);
    cr_assert_eq(pmn__sysfs_read_regular(&fs, "sys/node", &b, &len), -EISDIR);
    cr_assert_eq(pmn__sysfs_read_regular(&fs, "sys/node/none", &b, &len), -ENOENT);
    /* the plain reader still reads a FIFO as empty (sysfs trees) */
    cr_assert_eq(pmn__sysfs_read(&fs, "sys/node/fifo", &b, &len), 0);
    cr_assert_eq(len, 0);
    free(b);
}

/* ---- why a context cannot be created ---- */

static char why[512];
static char conf[300];

/* A one-node tree under the scratch root. */
static void ctx_setup(void)
{
    static const char *const dirs[] = {"sys/devices", "sys/devices/system",
                                       "sys/devices/system/node", "sys/devices/system/node/node0",
                                       "etc"};
    char d[256];

    setup();
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(d, sizeof(d), "%s/%s", root, dirs[i]);
        cr_assert_eq(mkdir(d, 0755), 0, "%s", d);
    }
    put("sys/devices/system/node/possible", "0\n", 2);
    put("sys/devices/system/node/online", "0\n", 2);
    put("sys/devices/system/node/has_memory", "0\n", 2);
    put("sys/devices/system/node/node0/distance", "10\n", 3);
    snprintf(conf, sizeof(conf), "%s/etc/pmnode.conf", root);
    unsetenv("PMNODE_CONFIG");
    unsetenv("PMNODE_PRIVATE_NODES");
    unsetenv("PMNODE_LOG");
    unsetenv("PMNODE_SYSFS_ROOT");
}

/* pmn_ctx_new_params on the scratch root with @config (NULL: the root's
 * own); the code it returns, with its reason in why[] and nothing printed
 * on stderr. */
static int ctx_try(const char *config)
{
    struct pmn_ctx_params *p;
    struct pmn_ctx *ctx = NULL;
    char errfile[300];
    struct stat st;
    int saved, fd, err;

    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, root), 0);
    cr_assert_eq(pmn_ctx_params_set_flags(p, PMN_CTX_NO_HWLOC), 0);
    if (config != NULL)
        cr_assert_eq(pmn_ctx_params_set_config(p, config), 0);
    cr_assert_eq(pmn_ctx_params_set_error_buffer(p, why, sizeof(why)), 0);
    memset(why, 'x', sizeof(why));
    snprintf(errfile, sizeof(errfile), "%s/stderr", root);
    fflush(stderr);
    saved = dup(2);
    fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    dup2(fd, 2);
    close(fd);
    err = pmn_ctx_new_params(&ctx, p);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    cr_assert_eq(stat(errfile, &st), 0);
    cr_assert_eq(st.st_size, 0, "the library printed without PMNODE_LOG");
    cr_assert_not_null(memchr(why, '\0', sizeof(why)), "no NUL in the buffer");
    pmn_ctx_unref(ctx);
    pmn_ctx_params_free(p);
    return err;
}

TestSuite(ctx_errors, .init = ctx_setup, .fini = teardown);

Test(ctx_errors, success_leaves_the_buffer_empty)
{
    cr_assert_eq(ctx_try(NULL), 0);
    cr_assert_str_eq(why, "");
    put("etc/pmnode.conf", "private 0\n", 10);
    cr_assert_eq(ctx_try(NULL), 0);
    cr_assert_str_eq(why, "");
}

Test(ctx_errors, configuration_file_line_and_reason)
{
    char want[600];

    put("etc/pmnode.conf", "# c\nprivat 2\n", 13);
    cr_assert_eq(ctx_try(NULL), PMN_E_CONFIG);
    snprintf(want, sizeof(want),
             "%s:2: unknown key 'privat' (the keys are 'private' and "
             "'kind')",
             conf);
    cr_assert_str_eq(why, want);

    put("etc/pmnode.conf", "kind 0 tofu\n", 12);
    cr_assert_eq(ctx_try(conf), PMN_E_CONFIG);
    snprintf(want, sizeof(want), "%s:1: unknown kind 'tofu'", conf);
    cr_assert_eq(strncmp(why, want, strlen(want)), 0, "%s", why);
}

Test(ctx_errors, configuration_file_missing_or_not_regular, .timeout = 10)
{
    char path[320], want[700];

    snprintf(path, sizeof(path), "%s/none.conf", root);
    cr_assert_eq(ctx_try(path), PMN_E_CONFIG);
    snprintf(want, sizeof(want), "%s (named by pmn_ctx_params_set_config): no such file", path);
    cr_assert_str_eq(why, want);

    setenv("PMNODE_CONFIG", path, 1);
    cr_assert_eq(ctx_try(NULL), PMN_E_CONFIG);
    snprintf(want, sizeof(want), "%s (named by PMNODE_CONFIG): no such file", path);
    cr_assert_str_eq(why, want);
    unsetenv("PMNODE_CONFIG");

    cr_assert_eq(mkfifo(conf, 0600), 0);
    cr_assert_eq(ctx_try(NULL), PMN_E_CONFIG);
    snprintf(want, sizeof(want), "%s: not a regular file (a FIFO, socket or device)", conf);
    cr_assert_str_eq(why, want);
    cr_assert_eq(ctx_try("/dev/null"), PMN_E_CONFIG);
    cr_assert_str_eq(why, "/dev/null (named by pmn_ctx_params_set_config): not a regular "
                          "file (a FIFO, socket or device)");
}

Test(ctx_errors, environment)
{
    setenv("PMNODE_PRIVATE_NODES", "2-x", 1);
    cr_assert_eq(ctx_try(NULL), PMN_E_CONFIG);
    cr_assert_str_eq(why, "PMNODE_PRIVATE_NODES: '2-x' is not a node list (ids and ranges "
                          "separated by commas, as in 2-3,8)");
    unsetenv("PMNODE_PRIVATE_NODES");
    setenv("PMNODE_LOG", "loud", 1);
    cr_assert_eq(ctx_try(NULL), PMN_E_CONFIG);
    cr_assert_str_eq(why, "PMNODE_LOG: 'loud' is not a log level (off, error, warn, info or "
                          "debug)");
}

Test(ctx_errors, buffer_cut_to_its_length)
{
    struct pmn_ctx_params *p;
    struct pmn_ctx *ctx = NULL;
    char small[8];

    put("etc/pmnode.conf", "privat 2\n", 9);
    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, root), 0);
    cr_assert_eq(pmn_ctx_params_set_error_buffer(p, NULL, 1), -EINVAL);
    cr_assert_eq(pmn_ctx_params_set_error_buffer(NULL, small, sizeof(small)), -EINVAL);
    cr_assert_eq(pmn_ctx_params_set_error_buffer(p, small, sizeof(small)), 0);
    cr_assert_eq(pmn_ctx_new_params(&ctx, p), PMN_E_CONFIG);
    cr_assert_eq(strncmp(small, conf, sizeof(small) - 1), 0);
    cr_assert_eq(small[sizeof(small) - 1], '\0');
    /* NULL, 0 stops it: nothing is written */
    cr_assert_eq(pmn_ctx_params_set_error_buffer(p, NULL, 0), 0);
    cr_assert_eq(pmn_ctx_new_params(&ctx, p), PMN_E_CONFIG);
    pmn_ctx_params_free(p);
}

/* This machine's root holds no descriptor (issue 15): the descriptor table
 * is the program's, which may close what it did not open (the shim lives in
 * such programs) and expects the numbers it would get without libpmnode.
 * (Closing every descriptor would cut Criterion's own pipes: the shim test
 * shim-shm-share does that part, in a worker process.) */
Test(sysfs_live, no_descriptor_held_for_slash)
{
    struct pmn__sysfs live = {.rootfd = -1};
    char *buf;
    size_t len;
    int fd, next;

    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(pmn__sysfs_open(&live, "/"), 0);
    cr_assert(live.live);
    cr_assert_eq(live.rootfd, -1, "a descriptor is held for /");
    next = open("/dev/null", O_RDONLY | O_CLOEXEC);
    cr_assert_eq(next, fd, "the program's next descriptor is %d, was %d without libpmnode", next,
                 fd);
    fd = memfd_create("not-the-root", MFD_CLOEXEC); /* a descriptor that is no directory */
    cr_assert_geq(fd, 0);
    cr_assert_eq(pmn__sysfs_read(&live, "proc/self/stat", &buf, &len), 0);
    cr_assert_gt(len, 0);
    free(buf);
    cr_assert(pmn__sysfs_exists(&live, "/proc/self"));
    close(fd);
    close(next);
    pmn__sysfs_close(&live);
}

/* ---- without openat2 ----
 *
 * A root other than "/" is confined with openat2's RESOLVE_IN_ROOT; a
 * kernel before 5.6 has no openat2 (ENOSYS), and a seccomp filter hides
 * it as ENOSYS (Docker since 20.10) or EPERM (older Docker, and systemd's
 * SystemCallFilter= with SystemCallErrorNumber=EPERM).  Either way the
 * library resolves the path itself, component by component.  0.9.4 took
 * EPERM for an answer: every read under such a root failed, so a context
 * over a captured tree could not be made there.  The filter is installed
 * in this test's own process (Criterion runs each test in one). */
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

static void hide_openat2(int err)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
    long r;

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
        cr_skip_test("no seccomp filter here: %s", strerror(errno));
    r = syscall(SYS_openat2, AT_FDCWD, ".", NULL, 0);
    if (r >= 0 || errno != err)
        cr_skip_test("the filter did not hide openat2 (%ld, %s)", r, strerror(errno));
}

struct node_view {
    int id;
    enum pmn_kind kind;
    bool priv;
    uint64_t capacity;
    int distance0;
};

/* A captured tree's nodes, as a context over it sees them. */
static size_t view_fixture(const char *name, struct node_view *v, size_t max)
{
    const char *base = getenv("PMN_FIXTURES");
    struct pmn_ctx *ctx;
    char tree[512];
    size_t n = 0;
    int err;

    cr_assert_not_null(base, "PMN_FIXTURES must point at tests/fixtures");
    snprintf(tree, sizeof(tree), "%s/%s/root", base, name);
    err = pmn_ctx_new_at(&ctx, tree);
    cr_assert_eq(err, 0, "%s: %s", name, pmn_strerror(err));
    for (const struct pmn_node *nd = pmn_node_first(ctx); nd && n < max; nd = pmn_node_next(nd)) {
        v[n].id = pmn_node_id(nd);
        v[n].kind = pmn_node_kind(nd);
        v[n].priv = pmn_node_is_private(nd);
        v[n].capacity = pmn_node_capacity(nd);
        v[n].distance0 = pmn_node_distance(nd, 0);
        n++;
    }
    pmn_ctx_unref(ctx);
    return n;
}

static void resolves_by_hand(int err)
{
    static const char *const trees[] = {"two-socket-cxl", "real-cxl-6.12", "devdax-kmem",
                                        "gpu-sparse"};
    struct node_view want[4][64], got[64];
    size_t nwant[4];
    char full[256], *b;

    /* What openat2 sees first, then the same trees without it. */
    for (size_t t = 0; t < 4; t++)
        nwant[t] = view_fixture(trees[t], want[t], 64);
    put("sys/node/attr", "x\n", 2);
    snprintf(full, sizeof(full), "%s/sys/rel", root);
    cr_assert_eq(symlink("node", full), 0);
    snprintf(full, sizeof(full), "%s/sys/abs", root);
    cr_assert_eq(symlink("/sys/node", full), 0);
    snprintf(full, sizeof(full), "%s/sys/last", root);
    cr_assert_eq(symlink("node/attr", full), 0);
    snprintf(full, sizeof(full), "%s/sys/up", root);
    cr_assert_eq(symlink("../../../../../../../../etc", full), 0);
    snprintf(full, sizeof(full), "%s/sys/host", root);
    cr_assert_eq(symlink("/etc/passwd", full), 0);

    hide_openat2(err);

    for (size_t t = 0; t < 4; t++) {
        size_t n = view_fixture(trees[t], got, 64);

        cr_assert_eq(n, nwant[t], "%s: %zu nodes without openat2, %zu with", trees[t], n,
                     nwant[t]);
        for (size_t i = 0; i < n; i++) {
            const struct node_view *g = &got[i], *w = &want[t][i];

            cr_assert(g->id == w->id && g->kind == w->kind && g->priv == w->priv &&
                          g->capacity == w->capacity && g->distance0 == w->distance0,
                      "%s: node %d reads as (%d %d %d %llu %d) without openat2, (%d %d %d %llu "
                      "%d) with it",
                      trees[t], w->id, g->id, g->kind, g->priv, (unsigned long long)g->capacity,
                      g->distance0, w->id, w->kind, w->priv, (unsigned long long)w->capacity,
                      w->distance0);
        }
    }
    /* Links inside the tree resolve inside it: relative, absolute (from
     * the root, as in a chroot) and a last component. */
    reads_as("/sys/rel/attr", "x");
    reads_as("/sys/abs/attr", "x");
    reads_as("/sys/last", "x");
    /* Links out of it never leave it. */
    cr_assert_neq(pmn__sysfs_read_str(&fs, "/sys/up/passwd", &b), 0,
                  "read the host's /etc/passwd");
    cr_assert_null(b);
    cr_assert_neq(pmn__sysfs_read_str(&fs, "/sys/host", &b), 0, "read the host's /etc/passwd");
    cr_assert_null(b);
    cr_assert_neq(pmn__sysfs_read_str(&fs, "/sys/../../../etc/passwd", &b), 0);
    cr_assert_null(b);
}

Test(sysfs, openat2_hidden_as_enosys)
{
    resolves_by_hand(ENOSYS);
}

Test(sysfs, openat2_hidden_as_eperm)
{
    resolves_by_hand(EPERM);
}
