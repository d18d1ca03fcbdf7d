/*
 * test-prim.c - unit tests for the OS layer's contract (libpmnode/os/prim.h)
 * beyond mapping and binding, which the system suite covers: the one
 * whole-file reader (and its regular-file-only form) and the other *_at
 * file primitives (on a scratch directory), device and report-file opens,
 * move_pages, mprotect, and userfaultfd write protection with its events.
 *
 * The userfaultfd tests skip when this host gives the process no
 * userfaultfd with write-protect faults (kernel older than 5.7, or
 * vm.unprivileged_userfaultfd = 0 on a kernel before 5.11 without
 * privilege).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os/prim.h"
#include "place/backing.h"

static char dir[64];
static int dirfd_ = -1;

static void scratch(void)
{
    snprintf(dir, sizeof(dir), "/tmp/pmn-prim-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(pmn_prim_open_dir(dir, &dirfd_), 0);
}

static void scratch_done(void)
{
    char cmd[128];

    if (dirfd_ >= 0)
        close(dirfd_);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)!system(cmd);
}

/* Write @len bytes of @data to @name in the scratch directory. */
static void put(const char *name, const void *data, size_t len)
{
    int fd = openat(dirfd_, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    cr_assert_geq(fd, 0, "%s: %s", name, strerror(errno));
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void put_n(const char *name, size_t len, char c)
{
    char *b = malloc(len ? len : 1);

    cr_assert_not_null(b);
    memset(b, c, len);
    put(name, b, len);
    free(b);
}

/* ---- pmn_prim_read_file_at ---- */

TestSuite(read_file, .init = scratch, .fini = scratch_done);

Test(read_file, whole_text_relative_to_the_directory)
{
    char *b = (char *)1;
    size_t len = 99;

    put("attr", "0-3\n", 4);
    cr_assert_eq(pmn_prim_read_file_at(dirfd_, "attr", 100, &b, &len), 0);
    cr_assert_eq(len, 4);
    cr_assert_str_eq(b, "0-3\n");
    free(b);
    /* @len may be NULL */
    cr_assert_eq(pmn_prim_read_file_at(dirfd_, "attr", 100, &b, NULL), 0);
    cr_assert_str_eq(b, "0-3\n");
    free(b);
    /* an empty file is empty text */
    put("empty", "", 0);
    cr_assert_eq(pmn_prim_read_file_at(dirfd_, "empty", 100, &b, &len), 0);
    cr_assert_eq(len, 0);
    cr_assert_str_eq(b, "");
    free(b);
}

Test(read_file, max_is_inclusive)
{
    const size_t sizes[] = {0, 1, 10, 4095, 4096, 4097, 65536};
    char *b;
    size_t len;

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t max = sizes[i];
        put_n("exact", max, 'x');
        cr_assert_eq(pmn_prim_read_file_at(dirfd_, "exact", max, &b, &len), 0, "max %zu", max);
        cr_assert_eq(len, max);
        cr_assert_eq(strlen(b), max);
        free(b);
        put_n("over", max + 1, 'x');
        b = (char *)1;
        cr_assert_eq(pmn_prim_read_file_at(dirfd_, "over", max, &b, &len), -EFBIG, "max %zu", max);
        cr_assert_null(b);
        cr_assert_eq(len, 0);
    }
}

Test(read_file, embedded_nul_is_malformed)
{
    static const char mid[] = "0-1\0zz\n", end[] = "7\n\0";
    char *b = (char *)1;

    put("mid", mid, sizeof(mid) - 1);
    cr_assert_eq(pmn_prim_read_file_at(dirfd_, "mid", 100, &b, NULL), -EINVAL);
    cr_assert_null(b);
    put("end", end, sizeof(end) - 1);
    cr_assert_eq(pmn_prim_read_file_at(dirfd_, "end", 100, &b, NULL), -EINVAL);
    cr_assert_null(b);
}

Test(read_file, errors_of_the_open_and_the_read)
{
    char *b = (char *)1;

    cr_assert_eq(pmn_prim_read_file_at(dirfd_, "missing", 100, &b, NULL), -ENOENT);
    cr_assert_null(b);
    cr_assert_eq(mkdirat(dirfd_, "sub", 0755), 0);
    cr_assert_eq(pmn_prim_read_file_at(dirfd_, "sub", 100, &b, NULL), -EISDIR);
    cr_assert_null(b);
}

Test(read_file, fifo_reads_empty_instead_of_hanging, .timeout = 10)
{
    char *b;
    size_t len = 99;

    cr_assert_eq(mkfifoat(dirfd_, "fifo", 0600), 0);
    cr_assert_eq(pmn_prim_read_file_at(dirfd_, "fifo", 100, &b, &len), 0);
    cr_assert_eq(len, 0);
    free(b);
}

/* Issue 13: a configuration file must be a regular file; a FIFO, a
 * device or a directory is refused, not read as empty text. */
Test(read_file, regular_only_when_asked, .timeout = 10)
{
    char *b = (char *)1;
    size_t len = 99;
    int w;

    put("conf", "private 2\n", 10);
    cr_assert_eq(pmn_prim_read_regular_at(dirfd_, "conf", 100, &b, &len), 0);
    cr_assert_str_eq(b, "private 2\n");
    cr_assert_eq(len, 10);
    free(b);
    put_n("big", 101, 'x');
    cr_assert_eq(pmn_prim_read_regular_at(dirfd_, "big", 100, &b, &len), -EFBIG);
    cr_assert_eq(pmn_prim_read_regular_at(dirfd_, "missing", 100, &b, &len), -ENOENT);
    cr_assert_null(b);

    cr_assert_eq(mkfifoat(dirfd_, "fifo", 0600), 0);
    cr_assert_eq(pmn_prim_read_regular_at(dirfd_, "fifo", 100, &b, &len), -ESPIPE);
    cr_assert_null(b);
    cr_assert_eq(len, 0);
    /* with a writer that never writes, too */
    cr_assert_geq(w = openat(dirfd_, "fifo", O_RDWR | O_CLOEXEC), 0);
    cr_assert_eq(pmn_prim_read_regular_at(dirfd_, "fifo", 100, &b, &len), -ESPIPE);
    close(w);
    cr_assert_eq(pmn_prim_read_regular_at(AT_FDCWD, "/dev/null", 100, &b, &len), -ESPIPE);
    cr_assert_eq(mkdirat(dirfd_, "sub", 0755), 0);
    cr_assert_eq(pmn_prim_read_regular_at(dirfd_, "sub", 100, &b, &len), -EISDIR);
    cr_assert_null(b);
    /* a symlink to a regular file is followed */
    cr_assert_eq(symlinkat("conf", dirfd_, "link"), 0);
    cr_assert_eq(pmn_prim_read_regular_at(dirfd_, "link", 100, &b, &len), 0);
    free(b);
}

Test(read_file, proc_from_the_current_directory)
{
    char *b;
    size_t len;

    cr_assert_eq(pmn_prim_read_file_at(AT_FDCWD, "/proc/self/status", 1 << 20, &b, &len), 0);
    cr_assert_not_null(strstr(b, "\nMems_allowed_list:"));
    cr_assert_eq(strlen(b), len);
    free(b);
}

/* ---- the other *_at primitives ---- */

TestSuite(files, .init = scratch, .fini = scratch_done);

Test(files, open_dir)
{
    int fd = -1;

    put("plain", "x", 1);
    cr_assert_eq(pmn_prim_open_dir("/nonexistent-pmn-dir", &fd), -ENOENT);
    cr_assert_eq(fd, -1);
    cr_assert_eq(pmn_prim_open_dir("/dev/null", &fd), -ENOTDIR);
    cr_assert_eq(fd, -1);
}

Test(files, readlink_and_exists)
{
    char *t = (char *)1;

    put("target", "x", 1);
    cr_assert_eq(symlinkat("../somewhere/target", dirfd_, "link"), 0);
    cr_assert_eq(pmn_prim_readlink_at(dirfd_, "link", &t), 0);
    cr_assert_str_eq(t, "../somewhere/target");
    free(t);
    cr_assert_eq(pmn_prim_readlink_at(dirfd_, "target", &t), -EINVAL);
    cr_assert_null(t);
    cr_assert_eq(pmn_prim_readlink_at(dirfd_, "missing", &t), -ENOENT);
    cr_assert(pmn_prim_exists_at(dirfd_, "target"));
    cr_assert_not(pmn_prim_exists_at(dirfd_, "missing"));
    cr_assert_not(pmn_prim_exists_at(dirfd_, "link"), "a dangling link does not exist");
}

struct seen {
    char names[8][32];
    int n, stop_at;
};

static int see(const char *name, void *arg)
{
    struct seen *s = arg;

    if (s->n < 8)
        snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
    s->n++;
    return s->n == s->stop_at ? -1234 : 0;
}

static bool saw(const struct seen *s, const char *name)
{
    for (int i = 0; i < s->n && i < 8; i++)
        if (strcmp(s->names[i], name) == 0)
            return true;
    return false;
}

Test(files, list_dir)
{
    struct seen s = {.stop_at = -1};

    put("node0", "", 0);
    put("node1", "", 0);
    put(".hidden", "", 0);
    cr_assert_eq(mkdirat(dirfd_, "sub", 0755), 0);
    cr_assert_eq(pmn_prim_list_dir_at(dirfd_, ".", see, &s), 0);
    cr_assert_eq(s.n, 4, "every entry but . and .. (%d)", s.n);
    cr_assert(saw(&s, "node0") && saw(&s, "node1") && saw(&s, ".hidden") && saw(&s, "sub"));
    cr_assert_not(saw(&s, ".") || saw(&s, ".."));

    memset(&s, 0, sizeof(s));
    s.stop_at = 2;
    cr_assert_eq(pmn_prim_list_dir_at(dirfd_, ".", see, &s), -1234, "the callback's answer");
    cr_assert_eq(s.n, 2, "stops at the first non-zero answer");

    memset(&s, 0, sizeof(s));
    cr_assert_eq(pmn_prim_list_dir_at(dirfd_, "missing", see, &s), -ENOENT);
    cr_assert_eq(pmn_prim_list_dir_at(dirfd_, "node0", see, &s), -ENOTDIR);
    cr_assert_eq(s.n, 0);
}

Test(files, open_device_takes_character_devices_only)
{
    int fd = -1;

    cr_assert_eq(pmn_prim_open_device("/dev/null", &fd), 0);
    cr_assert_geq(fd, 0);
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    cr_assert_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
    close(fd);

    /* A regular file called dax0.0 would be page-cache memory. */
    char path[128];
    put("dax0.0", "data", 4);
    snprintf(path, sizeof(path), "%s/dax0.0", dir);
    fd = -1;
    cr_assert_eq(pmn_prim_open_device(path, &fd), -ENODEV);
    cr_assert_eq(fd, -1);
    snprintf(path, sizeof(path), "%s/dax9.9", dir);
    cr_assert_eq(pmn_prim_open_device(path, &fd), -ENOENT);
    cr_assert_eq(pmn_prim_open_device(dir, &fd), -EISDIR);
    cr_assert_eq(fd, -1);
}

/* The directory's entries other than "." and "..", counted. */
static int entries(void)
{
    char cmd[160];
    int n = 0;
    FILE *f;

    snprintf(cmd, sizeof(cmd), "ls -A '%s'", dir);
    f = popen(cmd, "r");
    cr_assert_not_null(f);
    for (int c; (c = fgetc(f)) != EOF;)
        n += c == '\n';
    pclose(f);
    return n;
}

static char *slurp(const char *name)
{
    char *b = NULL;

    cr_assert_eq(pmn_prim_read_file_at(dirfd_, name, 100, &b, NULL), 0, "%s", name);
    return b;
}

Test(files, write_report_creates_and_replaces)
{
    char path[128], *b;
    struct stat a, z;

    snprintf(path, sizeof(path), "%s/stats.json", dir);
    cr_assert_eq(pmn_prim_write_report(path, "first\n", 6), 0);
    cr_assert_str_eq(b = slurp("stats.json"), "first\n");
    free(b);
    cr_assert_eq(fstatat(dirfd_, "stats.json", &a, 0), 0);
    cr_assert_eq(pmn_prim_write_report(path, "2nd\n", 4), 0);
    cr_assert_str_eq(b = slurp("stats.json"), "2nd\n");
    free(b);
    /* a new inode renamed over the name; no temporary file left */
    cr_assert_eq(fstatat(dirfd_, "stats.json", &z, 0), 0);
    cr_assert_neq(a.st_ino, z.st_ino);
    cr_assert_eq(entries(), 1);
    /* The report keeps the permission bits of the one it replaces: a 0600
     * report became 0644, readable by everyone. */
    cr_assert_eq(fchmodat(dirfd_, "stats.json", 0600, 0), 0);
    cr_assert_eq(pmn_prim_write_report(path, "3rd\n", 4), 0);
    cr_assert_eq(fstatat(dirfd_, "stats.json", &z, 0), 0);
    cr_assert_eq(z.st_mode & 0777, 0600, "mode %o after replacing a 0600 report",
                 (unsigned)(z.st_mode & 0777));
    snprintf(path, sizeof(path), "%s/no/such/dir", dir);
    cr_assert_eq(pmn_prim_write_report(path, "x", 1), -ENOENT);
    cr_assert_eq(pmn_prim_write_report(dir, "x", 1), -EISDIR);
    snprintf(path, sizeof(path), "%s/", dir);
    cr_assert_eq(pmn_prim_write_report(path, "x", 1), -EISDIR);
}

/* issue 13: a root-run `pmnode run --stats=/tmp/heap.json` wrote through
 * a symbolic link someone put there. */
Test(files, write_report_never_writes_through_links)
{
    char path[128], *b;

    put("victim", "precious\n", 9);
    cr_assert_eq(symlinkat("victim", dirfd_, "sym.json"), 0);
    snprintf(path, sizeof(path), "%s/sym.json", dir);
    cr_assert_eq(pmn_prim_write_report(path, "stats\n", 6), -ELOOP);
    /* a dangling link is not followed either (it would create the target) */
    cr_assert_eq(symlinkat("created-through-link", dirfd_, "dangling.json"), 0);
    snprintf(path, sizeof(path), "%s/dangling.json", dir);
    cr_assert_eq(pmn_prim_write_report(path, "stats\n", 6), -ELOOP);
    cr_assert_eq(faccessat(dirfd_, "created-through-link", F_OK, 0), -1);
    /* a hard link is replaced: the other name keeps its content */
    cr_assert_eq(linkat(dirfd_, "victim", dirfd_, "hard.json", 0), 0);
    snprintf(path, sizeof(path), "%s/hard.json", dir);
    cr_assert_eq(pmn_prim_write_report(path, "stats\n", 6), 0);
    cr_assert_str_eq(b = slurp("hard.json"), "stats\n");
    free(b);
    cr_assert_str_eq(b = slurp("victim"), "precious\n");
    free(b);
    cr_assert_eq(entries(), 4); /* victim, sym.json, dangling.json, hard.json */
}

Test(files, read_at_reads_regular_files_only)
{
    char path[128], buf[16];
    size_t got = 99;

    put("prog", "0123456789", 10);
    snprintf(path, sizeof(path), "%s/prog", dir);
    cr_assert_eq(pmn_prim_read_at(path, 2, buf, 4, &got), 0);
    cr_assert_eq(got, 4);
    cr_assert_eq(memcmp(buf, "2345", 4), 0);
    cr_assert_eq(pmn_prim_read_at(path, 8, buf, sizeof(buf), &got), 0);
    cr_assert_eq(got, 2); /* short at the end */
    cr_assert_eq(pmn_prim_read_at(path, 50, buf, sizeof(buf), &got), 0);
    cr_assert_eq(got, 0);
    cr_assert_eq(mkfifoat(dirfd_, "fifo", 0600), 0);
    snprintf(path, sizeof(path), "%s/fifo", dir);
    cr_assert_eq(pmn_prim_read_at(path, 0, buf, sizeof(buf), &got), -EINVAL); /* no hang */
    cr_assert_eq(pmn_prim_read_at(dir, 0, buf, sizeof(buf), &got), -EINVAL);
    snprintf(path, sizeof(path), "%s/none", dir);
    cr_assert_eq(pmn_prim_read_at(path, 0, buf, sizeof(buf), &got), -ENOENT);
}

/* The head of an owned file, whatever its size, with its identity (what
 * pmn_publish_start reads of the files it may remove). */
Test(files, read_owned_head_at)
{
    char buf[4];
    uint64_t dev = 0, ino = 0;
    size_t got = 99;
    struct stat st;

    put("big", "0123456789", 10);
    cr_assert_eq(
        pmn_prim_read_owned_head_at(dirfd_, "big", (unsigned)geteuid(), buf, 4, &got, &dev, &ino),
        0);
    cr_assert_eq(got, 4);
    cr_assert_eq(memcmp(buf, "0123", 4), 0);
    cr_assert_eq(fstatat(dirfd_, "big", &st, 0), 0);
    cr_assert_eq(dev, (uint64_t)st.st_dev);
    cr_assert_eq(ino, (uint64_t)st.st_ino);
    cr_assert_eq(pmn_prim_read_owned_at(dirfd_, "big", (unsigned)geteuid(), buf, 4, &got), -EFBIG,
                 "the whole-file form still refuses it");
    put("short", "ab", 2);
    cr_assert_eq(pmn_prim_read_owned_head_at(dirfd_, "short", (unsigned)geteuid(), buf, 4, &got,
                                             &dev, &ino),
                 0);
    cr_assert_eq(got, 2);
    cr_assert_eq(symlinkat("big", dirfd_, "link"), 0);
    cr_assert_eq(
        pmn_prim_read_owned_head_at(dirfd_, "link", (unsigned)geteuid(), buf, 4, &got, &dev, &ino),
        -ELOOP);
    cr_assert_eq(mkfifoat(dirfd_, "fifo", 0600), 0);
    cr_assert_eq(
        pmn_prim_read_owned_head_at(dirfd_, "fifo", (unsigned)geteuid(), buf, 4, &got, &dev, &ino),
        -ESPIPE);
    cr_assert_eq(pmn_prim_read_owned_head_at(dirfd_, "big", (unsigned)geteuid() + 1, buf, 4, &got,
                                             &dev, &ino),
                 -EPERM);
}

Test(files, write_report_appends_to_devices_and_fifos)
{
    char path[128];
    int rd;

    cr_assert_eq(pmn_prim_write_report("/dev/null", "x\n", 2), 0);
    cr_assert_eq(mkfifoat(dirfd_, "fifo", 0600), 0);
    snprintf(path, sizeof(path), "%s/fifo", dir);
    /* nobody reads it: not a hang, -ENXIO */
    cr_assert_eq(pmn_prim_write_report(path, "x\n", 2), -ENXIO);
    rd = openat(dirfd_, "fifo", O_RDONLY | O_NONBLOCK);
    cr_assert_geq(rd, 0);
    cr_assert_eq(pmn_prim_write_report(path, "hello\n", 6), 0);
    {
        char got[16] = "";
        cr_assert_eq(read(rd, got, sizeof(got)), 6);
        cr_assert_eq(memcmp(got, "hello\n", 6), 0);
    }
    close(rd);
}

/* ---- move_pages and mprotect ---- */

static char *page_map(size_t n)
{
    char *p = mmap(NULL, n * pmn_prim_page_size(), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    cr_assert_neq(p, MAP_FAILED);
    return p;
}

Test(memory, move_pages)
{
    size_t ps = pmn_prim_page_size();
    char *p = page_map(2);
    void *pages[2] = {p, p + ps};
    int nodes[2] = {0, 0}, status[2] = {-77, -77}, cur = -1;

    p[0] = 1; /* page 1 is never touched */
    cr_assert_eq(pmn_prim_query_nodes(pages, 1, &cur), 0);
    if (cur < 0)
        cr_skip_test("move_pages cannot see our own page here (%d)", cur);
    nodes[0] = nodes[1] = cur;
    cr_assert_eq(pmn_prim_move_pages(pages, 2, nodes, status), 0);
    cr_assert_eq(status[0], cur, "moved to where it is: status is the node");
    cr_assert_eq(status[1], -ENOENT, "not present");
    /* nodes NULL is a query */
    status[0] = status[1] = -77;
    cr_assert_eq(pmn_prim_move_pages(pages, 2, NULL, status), 0);
    cr_assert_eq(status[0], cur);
    cr_assert_eq(status[1], -ENOENT);
    /* a node that does not exist is the call's error */
    nodes[0] = nodes[1] = 1 << 20;
    cr_assert_lt(pmn_prim_move_pages(pages, 2, nodes, status), 0);
    munmap(p, 2 * ps);
}

/* The pagemap entry of our page at @p (the test is skipped where the
 * pagemap cannot be opened). */
static uint64_t own_pagemap_entry(const void *p)
{
    uint64_t e = 0;
    int fd = -1;

    if (pmn_prim_pagemap_open(&fd) != 0)
        cr_skip_test("no pagemap to read here");
    cr_assert_eq(pmn_prim_pagemap_read(fd, (uintptr_t)p, 1, &e), 0);
    close(fd);
    return e;
}

/* A page's frame, read from the pagemap, is on the node move_pages names;
 * the block's frames cover it; frames no block holds are -ENOENT. */
Test(memory, frame_node_agrees_with_move_pages)
{
    size_t ps = pmn_prim_page_size();
    char *p = page_map(1);
    void *pages[1] = {p};
    uint64_t e, first = 0, count = 0;
    int cur = -1, node = -1;

    p[0] = 1;
    cr_assert_eq(pmn_prim_query_nodes(pages, 1, &cur), 0);
    if (cur < 0)
        cr_skip_test("move_pages cannot see our own page here (%d)", cur);
    e = own_pagemap_entry(p);
    cr_assert(e & PMN_PRIM_PM_PRESENT, "a written page is present");
    if ((e & PMN_PRIM_PM_PFN_MASK) == 0)
        cr_skip_test("the pagemap shows no page frames to this process (no CAP_SYS_ADMIN)");
    if (!pmn_prim_exists_at(AT_FDCWD, "/sys/devices/system/memory/block_size_bytes"))
        cr_skip_test("no memory blocks in sysfs");
    cr_assert_eq(pmn_prim_frame_node(e & PMN_PRIM_PM_PFN_MASK, &node, &first, &count), 0);
    cr_assert_eq(node, cur, "frame on node %d, move_pages says %d", node, cur);
    cr_assert_gt(count, 0);
    cr_assert_leq(first, e & PMN_PRIM_PM_PFN_MASK);
    cr_assert_lt((e & PMN_PRIM_PM_PFN_MASK) - first, count);
    cr_assert_eq(pmn_prim_frame_node(PMN_PRIM_PM_PFN_MASK, &node, &first, &count), -ENOENT,
                 "a frame far past the memory");
    munmap(p, ps);
}

/* where.c's look at pages move_pages calls absent, on pages it can see
 * here (this host hides none): a written page is present (on its node
 * where page frames show, else of no known node: numa_maps has nothing
 * hidden to place), an untouched page and an unmapped one are absent;
 * the window of pagemap entries serves the pages after the first. */
Test(memory, hidden_node_tells_present_from_absent)
{
    size_t ps = pmn_prim_page_size();
    char *p = page_map(4);
    void *pages[1] = {p};
    struct pmn__hidden h;
    int cur = -1, got;

    p[0] = 1; /* pages 1 and 3 are never touched */
    p[2 * ps] = 1;
    cr_assert_eq(pmn_prim_query_nodes(pages, 1, &cur), 0);
    if (cur < 0)
        cr_skip_test("move_pages cannot see our own page here (%d)", cur);
    cr_assert_eq(munmap(p + 3 * ps, ps), 0);
    pmn__hidden_init(&h, ps);
    got = pmn__hidden_node(&h, (uintptr_t)p, -ENOENT);
    cr_assert(got == cur || got == -1, "a written page: %d (on node %d)", got, cur);
    cr_assert_eq(pmn__hidden_node(&h, (uintptr_t)(p + ps), -ENOENT), -2, "never touched");
    cr_assert_eq(pmn__hidden_node(&h, (uintptr_t)(p + 2 * ps), -ENOENT), got,
                 "the same as page 0");
    cr_assert_eq(pmn__hidden_node(&h, (uintptr_t)(p + 3 * ps), -ENOENT), -2, "unmapped");
    /* Forgotten, the window is read again: page 1 written since counts. */
    p[ps] = 1;
    cr_assert_eq(pmn__hidden_node(&h, (uintptr_t)(p + ps), -ENOENT), -2,
                 "the window is a snapshot");
    pmn__hidden_forget(&h);
    cr_assert_eq(pmn__hidden_node(&h, (uintptr_t)(p + ps), -ENOENT), got,
                 "read again after forget");
    pmn__hidden_done(&h);
    munmap(p, 3 * ps);
}

/* -EFAULT is also the zero page's answer: a page only read maps it, and it
 * is never placed on a node (mapped by everyone, it is no one's memory),
 * while a written page answering -EFAULT (a huge page under a hinting
 * fault on 6.1) is placed as for -ENOENT. */
Test(memory, hidden_node_never_places_the_zero_page)
{
    size_t ps = pmn_prim_page_size();
    char *p = page_map(2);
    struct pmn__hidden h;
    int written;
    uint64_t e;

    (void)*(volatile char *)p; /* page 0: the zero page */
    p[ps] = 1;
    e = own_pagemap_entry(p);
    cr_assert(e & PMN_PRIM_PM_PRESENT, "a read page maps the zero page");
    cr_assert(!(e & PMN_PRIM_PM_EXCLUSIVE), "the zero page is not mapped once");
    pmn__hidden_init(&h, ps);
    cr_assert_eq(pmn__hidden_node(&h, (uintptr_t)p, -EFAULT), -1, "the zero page: unknown");
    written = pmn__hidden_node(&h, (uintptr_t)(p + ps), -EFAULT);
    cr_assert_eq(written, pmn__hidden_node(&h, (uintptr_t)(p + ps), -ENOENT),
                 "a written page: as for -ENOENT");
    pmn__hidden_done(&h);
    munmap(p, 2 * ps);
}

Test(memory, write_protect)
{
    size_t ps = pmn_prim_page_size();
    char *p = page_map(1);
    int status;
    pid_t pid;

    p[0] = 'a';
    cr_assert_eq(pmn_prim_write_protect(p + 1, ps, true), -EINVAL, "misaligned");
    cr_assert_eq(pmn_prim_write_protect(p, ps, true), 0);
    cr_assert_eq(((volatile char *)p)[0], 'a', "reads still work");
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        ((volatile char *)p)[0] = 'b';
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "the write must fault");
    cr_assert_eq(pmn_prim_write_protect(p, ps, false), 0);
    ((volatile char *)p)[0] = 'c';
    cr_assert_eq(p[0], 'c');
    munmap(p, ps);
}

/* ---- userfaultfd ---- */

#define WANT (PMN_PRIM_UFFD_WP | PMN_PRIM_UFFD_UNMAP | PMN_PRIM_UFFD_REMOVE)

static int uffd_or_skip(void)
{
    bool user_only = true;
    int fd = -1, err = pmn_prim_uffd_open(WANT, &fd, &user_only);

    if (err)
        cr_skip_test("no userfaultfd with write-protect faults here: %s", strerror(-err));
    cr_assert_geq(fd, 0);
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
    cr_log_info("userfaultfd: %s", user_only ? "user-mode faults only" : "user and kernel faults");
    return fd;
}

static void *writer(void *arg)
{
    ((volatile char *)arg)[0] = 'w'; /* waits until the protection is lifted */
    return NULL;
}

/* Discarding or unmapping registered memory waits until its event is read,
 * so another thread does it. */
static size_t gone_len;

static void *discarder(void *arg)
{
    return (void *)(intptr_t)madvise(arg, gone_len, MADV_DONTNEED);
}

static void *unmapper(void *arg)
{
    return (void *)(intptr_t)munmap(arg, gone_len);
}

/* Wait for and read exactly one event. */
static struct pmn_prim_uffd_event one_event(int fd)
{
    struct pmn_prim_uffd_event ev[4];
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    size_t n = 99;

    cr_assert_eq(poll(&pfd, 1, 5000), 1, "no event within 5 s");
    cr_assert_eq(pmn_prim_uffd_read(fd, ev, 4, &n), 0);
    cr_assert_eq(n, 1);
    return ev[0];
}

Test(uffd, write_fault_then_unmap, .timeout = 30)
{
    size_t ps = pmn_prim_page_size();
    int fd = uffd_or_skip();
    char *p = page_map(4);
    struct pmn_prim_uffd_event ev;
    pthread_t th;
    size_t n = 99;

    madvise(p, 4 * ps, MADV_NOHUGEPAGE);
    memset(p, 'a', 4 * ps);
    cr_assert_eq(pmn_prim_uffd_register_wp(fd, (uintptr_t)p + 1, ps), -EINVAL, "misaligned");
    cr_assert_eq(pmn_prim_uffd_register_wp(fd, (uintptr_t)p, 4 * ps), 0);
    cr_assert_eq(pmn_prim_uffd_writeprotect(fd, (uintptr_t)p, 4 * ps, true), 0);
    cr_assert_eq(pmn_prim_uffd_read(fd, &ev, 1, &n), -EAGAIN, "nothing pending yet");
    cr_assert_eq(n, 0);
    cr_assert_eq(pmn_prim_uffd_read(fd, &ev, 0, &n), 0, "room for none reads none");
    cr_assert_eq(n, 0);

    cr_assert_eq(pthread_create(&th, NULL, writer, p + 2 * ps + 5), 0);
    ev = one_event(fd);
    cr_assert_eq(ev.kind, PMN_PRIM_UFFD_EV_WRITE);
    cr_assert_eq(ev.addr & ~(uintptr_t)(ps - 1), (uintptr_t)p + 2 * ps, "the faulting page");
    cr_assert_eq(p[2 * ps + 5], 'a', "the write waits");
    cr_assert_eq(pmn_prim_uffd_writeprotect(fd, (uintptr_t)p + 2 * ps, ps, false), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(p[2 * ps + 5], 'w', "lifting the protection let the write land");

    /* discarding and unmapping registered memory are events */
    void *rc = (void *)1;
    gone_len = ps;
    cr_assert_eq(pthread_create(&th, NULL, discarder, p), 0);
    ev = one_event(fd);
    cr_assert_eq(pthread_join(th, &rc), 0);
    cr_assert_null(rc, "madvise failed");
    cr_assert_eq(ev.kind, PMN_PRIM_UFFD_EV_GONE);
    cr_assert_eq(ev.addr, (uintptr_t)p);
    cr_assert_eq(ev.end, (uintptr_t)p + ps);
    cr_assert_eq(pthread_create(&th, NULL, unmapper, p + 3 * ps), 0);
    ev = one_event(fd);
    cr_assert_eq(pthread_join(th, &rc), 0);
    cr_assert_null(rc, "munmap failed");
    cr_assert_eq(ev.kind, PMN_PRIM_UFFD_EV_GONE);
    cr_assert_eq(ev.addr, (uintptr_t)p + 3 * ps);
    cr_assert_eq(ev.end, (uintptr_t)p + 4 * ps);
    /* unregistered memory goes quietly */
    cr_assert_eq(pmn_prim_uffd_unregister(fd, (uintptr_t)p, 3 * ps), 0);
    cr_assert_eq(munmap(p, 3 * ps), 0);
    close(fd);
}

Test(uffd, unregistered_pages_write_freely, .timeout = 30)
{
    size_t ps = pmn_prim_page_size();
    int fd = uffd_or_skip();
    char *p = page_map(2);

    madvise(p, 2 * ps, MADV_NOHUGEPAGE);
    memset(p, 'a', 2 * ps);
    cr_assert_eq(pmn_prim_uffd_register_wp(fd, (uintptr_t)p, 2 * ps), 0);
    cr_assert_eq(pmn_prim_uffd_writeprotect(fd, (uintptr_t)p, 2 * ps, true), 0);
    cr_assert_eq(pmn_prim_uffd_unregister(fd, (uintptr_t)p, 2 * ps), 0);
    ((volatile char *)p)[ps] = 'b'; /* would wait forever if still protected */
    cr_assert_eq(p[ps], 'b');
    cr_assert_eq(pmn_prim_uffd_writeprotect(fd, (uintptr_t)p, ps, true), -ENOENT,
                 "no longer registered");
    munmap(p, 2 * ps);
    close(fd);
}
