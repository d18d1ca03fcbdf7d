/*
 * test-ipc.c - IPC handles on this host (suite 'system'): objects and
 * regions of a shareable backing handed to another process.
 *
 * Two processes over a socketpair: export, send, import, verify, write in
 * one and read in the other; a handle to a freed (and reused) object is
 * refused as stale; a handle from a backing that is not shareable, an fd
 * of another file, a forged or garbled handle each get their own code;
 * opening objects of the same region maps it once; the fd can be fetched
 * from the owner with pidfd_getfd (skipped with the reason where the
 * kernel or ptrace policy refuses); 8 threads export and import at once;
 * the receive helper survives garbage, truncation and extra fds; forged
 * exporters (files made by hand: unsealed, on disk, with a lying page
 * size or a stale slot; a dax name of another device) are refused without
 * a signal, an open of the device, or anything left cached; an address
 * reused by a second object stays stale for the first one's open; a peer
 * that overwrites a region backing's whole file leaves its owner working.
 * A page
 * on another node (PMN_E_NODE_CHANGED) needs a second node: the vm lane's
 * vm-ipc guest shows it.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>
#include <pwd.h>

#include "harness.h"
#include "pmnode.h"

/* ---- helpers ----------------------------------------------------------- */

static struct pmn_ctx *ctx;

static void setup(void)
{
    struct pmn_ctx_params *p;

    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, "/"), 0);
    cr_assert_eq(pmn_ctx_params_set_flags(p, PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG), 0);
    cr_assert_eq(pmn_ctx_new_params(&ctx, p), 0, "no context for this machine");
    pmn_ctx_params_free(p);
}

static void teardown(void)
{
    pmn_ctx_unref(ctx);
}

/* A backing on node 0 of @type, shareable if asked; the table's size if
 * nonzero. */
static struct pmn_backing *backing(enum pmn_backing_type type, bool shareable, size_t table)
{
    struct pmn_backing_params *p;
    struct pmn_backing *b = NULL;
    int err;

    cr_assert_eq(pmn_backing_params_new(&p), 0);
    cr_assert_eq(pmn_backing_params_set_type(p, type), 0);
    cr_assert_eq(pmn_backing_params_set_node(p, 0), 0);
    if (shareable)
        cr_assert_eq(pmn_backing_params_set_shareable(p, true), 0);
    if (table)
        cr_assert_eq(pmn_backing_params_set_ipc_table_size(p, table), 0);
    err = pmn_backing_new(ctx, p, &b);
    pmn_backing_params_free(p);
    cr_assert_eq(err, 0, "pmn_backing_new: %s", pmn_strerror(err));
    return b;
}

static struct pmn_arena *arena(struct pmn_backing *b)
{
    struct pmn_arena *a = NULL;
    int err = pmn_arena_new(b, NULL, &a);

    cr_assert_eq(err, 0, "pmn_arena_new: %s", pmn_strerror(err));
    return a;
}

static void pair(int sv[2], int type)
{
    cr_assert_eq(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0, "socketpair: %s",
                 strerror(errno));
}

static void wait_child(pid_t pid, const char *what)
{
    int status = 0;

    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "%s: child died (signal %d)", what, WTERMSIG(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "%s: child failed at step %d", what, WEXITSTATUS(status));
}

/* Mappings of the shareable file in this process (/proc/self/maps). */
static int count_maps(void)
{
    char line[512];
    int n = 0;
    FILE *f = fopen("/proc/self/maps", "r");

    cr_assert_not_null(f);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, "memfd:pmnode-shared") != NULL;
    fclose(f);
    return n;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

TestSuite(ipc, .init = setup, .fini = teardown);

/* ---- two processes ---------------------------------------------------- */

/* The child: receive a handle, open it, check and answer.  Exit codes name
 * the step. */
static int importer(int sock)
{
    struct pmn_ipc_cache *c;
    struct pmn_ipc_handle h;
    unsigned char *p;
    void *addr;
    int fd, err;
    char ack = 1;

    if (pmn_ipc_cache_new(&c) != 0)
        return 10;
    if (pmn_ipc_recv(sock, &h, &fd) != 0 || fd < 0)
        return 11;
    err = pmn_ipc_open(c, &h, fd, 0, &addr);
    close(fd);
    if (err != 0)
        return 12;
    p = addr;
    for (size_t i = 0; i < h.object_len; i++)
        if (p[i] != (unsigned char)(i * 3 + 1))
            return 13; /* the owner's data is not there */
    for (size_t i = 0; i < h.object_len; i++)
        p[i] = (unsigned char)(i * 5 + 2);
    if (pmn_ipc_valid(c, addr) != 0)
        return 14;
    if (pmn_ipc_writable(c, addr) != 1)
        return 20; /* the owner's own descriptor maps writable */
    if (write(sock, &ack, 1) != 1)
        return 15;
    /* The owner frees it and tells us: the handle went stale. */
    if (read(sock, &ack, 1) != 1)
        return 16;
    if (pmn_ipc_valid(c, addr) != PMN_E_STALE_HANDLE)
        return 17;
    if (pmn_ipc_close(c, addr) != 0)
        return 18;
    /* Opening it again is refused. */
    if (pmn_ipc_open(c, &h, -1, 0, &addr) != PMN_E_STALE_HANDLE)
        return 19;
    pmn_ipc_cache_free(c);
    return 0;
}

Test(ipc, two_processes_share_an_object)
{
    struct pmn_backing *b = backing(PMN_BACKING_MEMFD, false, 0);
    struct pmn_arena *a = arena(b);
    struct pmn_ipc_handle h;
    unsigned char *p = pmn_arena_malloc(a, 5000), *q;
    int sv[2], fd, err;
    char ack;
    pid_t pid;
    size_t n;

    cr_assert_not_null(p);
    /* The handle covers the whole usable object, and the importer checks
     * all of it; this side may write only what it asked for (pmnode.h,
     * PMN_ALLOC_SIZE: object-size checks flagged the tail), so it asks
     * for the usable size, which an in-place realloc gives. */
    n = pmn_usable_size(p);
    cr_assert_geq(n, 5000);
    q = pmn_realloc(p, n);
    cr_assert_eq(q, p, "a realloc to the usable size moved the object");
    p = q;
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 3 + 1);
    err = pmn_ipc_get(p, &h, &fd);
    cr_assert_eq(err, 0, "pmn_ipc_get: %s", pmn_strerror(err));
    cr_assert_eq(h.object_len, n);
    cr_assert_eq(h.node, 0);
    pair(sv, SOCK_STREAM);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(sv[0]);
        _exit(importer(sv[1]));
    }
    close(sv[1]);
    cr_assert_eq(pmn_ipc_send(sv[0], &h, fd), 0);
    cr_assert_eq(read(sv[0], &ack, 1), 1, "the importer did not answer");
    for (size_t i = 0; i < h.object_len; i++)
        cr_assert_eq(p[i], (unsigned char)(i * 5 + 2), "the importer's write at %zu is missing",
                     i);
    cr_assert_eq(pmn_free(p), 0);
    q = pmn_arena_malloc(a, 5000); /* most likely the same block, reused */
    cr_assert_not_null(q);
    memset(q, 0x77, 5000);
    cr_assert_eq(write(sv[0], &ack, 1), 1);
    wait_child(pid, "importer");
    close(sv[0]);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

/* A handle sent after its object was freed and its block reused is
 * refused in the other process; a fresh export of the new object works. */
Test(ipc, stale_after_free_and_reuse_in_another_process)
{
    struct pmn_backing *b = backing(PMN_BACKING_MEMFD, false, 0);
    struct pmn_arena *a = arena(b);
    struct pmn_ipc_handle old, cur;
    void *p = pmn_arena_malloc(a, 256), *q;
    int sv[2], fd;
    pid_t pid;

    cr_assert_eq(pmn_ipc_get(p, &old, &fd), 0);
    cr_assert_eq(pmn_free(p), 0);
    q = pmn_arena_malloc(a, 256);
    cr_assert_eq(q, p, "the block was not reused (the test wants reuse)");
    memset(q, 0x42, 256);
    cr_assert_eq(pmn_ipc_get(q, &cur, &fd), 0);
    cr_assert(cur.slot != old.slot || cur.gen != old.gen,
              "reuse kept the old slot and generation");
    pair(sv, SOCK_SEQPACKET);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        struct pmn_ipc_cache *c;
        struct pmn_ipc_handle h1, h2;
        int f1, f2;
        void *x;
        close(sv[0]);
        if (pmn_ipc_cache_new(&c) || pmn_ipc_recv(sv[1], &h1, &f1) ||
            pmn_ipc_recv(sv[1], &h2, &f2))
            _exit(10);
        if (pmn_ipc_open(c, &h1, f1, 0, &x) != PMN_E_STALE_HANDLE)
            _exit(11);
        if (pmn_ipc_open(c, &h2, f2, 0, &x) != 0 || ((unsigned char *)x)[255] != 0x42)
            _exit(12);
        if (pmn_ipc_close(c, x) != 0)
            _exit(13);
        pmn_ipc_cache_free(c);
        _exit(0);
    }
    close(sv[1]);
    cr_assert_eq(pmn_ipc_send(sv[0], &old, fd), 0);
    cr_assert_eq(pmn_ipc_send(sv[0], &cur, fd), 0);
    wait_child(pid, "stale importer");
    close(sv[0]);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

/* The fd fetched from the owner with pidfd_getfd: the owner is the child
 * (a parent may ptrace its child under Yama's default policy, not the
 * reverse). */
Test(ipc, fd_fetched_from_the_owner)
{
    struct pmn_ipc_cache *c;
    struct pmn_ipc_cache_stats st = {.struct_size = sizeof(st)};
    struct pmn_ipc_handle h;
    int sv[2], fd, err;
    void *x;
    char go = 1;
    pid_t pid;

    pair(sv, SOCK_STREAM);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        struct pmn_backing *b = backing(PMN_BACKING_MEMFD, false, 0);
        struct pmn_arena *a = arena(b);
        char *p = pmn_arena_malloc(a, 100);
        close(sv[0]);
        if (p == NULL || pmn_ipc_get(p, &h, &fd) != 0)
            _exit(10);
        strcpy(p, "from the owner");
        if (pmn_ipc_send(sv[1], &h, -1) != 0) /* the handle alone */
            _exit(11);
        if (read(sv[1], &go, 1) != 1) /* stay alive until the parent is done */
            _exit(12);
        _exit(0);
    }
    close(sv[1]);
    cr_assert_eq(pmn_ipc_recv(sv[0], &h, &fd), 0);
    cr_assert_eq(fd, -1, "an fd arrived although none was sent");
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    cr_assert_eq(pmn_ipc_open(c, &h, -1, 0, &x), -ENOENT, "no fd and no fetch: -ENOENT");
    err = pmn_ipc_open(c, &h, -1, PMN_IPC_FETCH_FD, &x);
    if (err == -ENOSYS || err == -EPERM || err == -EACCES) {
        (void)write(sv[0], &go, 1);
        wait_child(pid, "owner");
        pmn_ipc_cache_free(c);
        cr_skip_test("pidfd_getfd refused here (%s): needs Linux >= 5.6 and ptrace access to "
                     "the owner",
                     pmn_strerror(err));
    }
    cr_assert_eq(err, 0, "fetch: %s", pmn_strerror(err));
    cr_assert_str_eq((char *)x, "from the owner");
    cr_assert_eq(pmn_ipc_cache_stats(c, &st), 0);
    cr_assert_eq(st.fetched, 1);
    cr_assert_eq(pmn_ipc_close(c, x), 0);
    cr_assert_eq(write(sv[0], &go, 1), 1);
    wait_child(pid, "owner");
    close(sv[0]);
    pmn_ipc_cache_free(c);
}

/* ---- one process: the importer's checks ------------------------------- */

Test(ipc, not_shareable_and_foreign)
{
    struct pmn_backing *b = backing(PMN_BACKING_ANON, false, 0);
    struct pmn_arena *a = arena(b);
    struct pmn_backing_params *p;
    struct pmn_backing *d = NULL;
    struct pmn_ipc_handle h;
    struct pmn_region *r;
    void *o = pmn_arena_malloc(a, 64), *m = malloc(64);
    int fd;

    cr_assert(!pmn_backing_shareable(b));
    cr_assert_eq(pmn_ipc_get(o, &h, &fd), PMN_E_NOT_SHAREABLE);
    cr_assert_eq(fd, -1);
    cr_assert_eq(pmn_ipc_get(m, &h, &fd), PMN_E_FOREIGN);
    cr_assert_eq(pmn_ipc_get((char *)o + 16, &h, &fd), PMN_E_FOREIGN, "an interior pointer");
    cr_assert_eq(pmn_region_map(b, 1 << 20, &r), 0);
    cr_assert_eq(pmn_ipc_get_region(r, &h, &fd), PMN_E_NOT_SHAREABLE);
    cr_assert_eq(pmn_region_unmap(r), 0);
    cr_assert_eq(pmn_free(o), 0);
    cr_assert_eq(pmn_ipc_get(o, &h, &fd), PMN_E_FOREIGN, "a freed object");
    free(m);
    /* Device-dax can be shareable (0.4, its table in a memfd beside the
     * device): the request is judged by the device, which this host lacks
     * (the vm lane's devdax topology shares one). */
    cr_assert_eq(pmn_backing_params_new(&p), 0);
    cr_assert_eq(pmn_backing_params_set_type(p, PMN_BACKING_DAX), 0);
    cr_assert_eq(pmn_backing_params_set_dax(p, "pmnode_no_such_dax9.9"), 0);
    cr_assert_eq(pmn_backing_params_set_shareable(p, true), 0);
    cr_assert_eq(pmn_backing_new(ctx, p, &d), -ENOENT, "not PMN_E_NOT_SHAREABLE");
    cr_assert_null(d);
    pmn_backing_params_free(p);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

Test(ipc, anon_made_shareable)
{
    struct pmn_backing *b = backing(PMN_BACKING_ANON, true, 0);
    struct pmn_arena *a = arena(b);
    struct pmn_ipc_cache *c;
    struct pmn_ipc_handle h;
    char *o = pmn_arena_malloc(a, 64);
    void *x;
    int fd;

    cr_assert(pmn_backing_shareable(b));
    cr_assert_eq(pmn_backing_type(b), PMN_BACKING_ANON);
    strcpy(o, "anon, shared");
    cr_assert_eq(pmn_ipc_get(o, &h, &fd), 0);
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), 0);
    cr_assert_neq(x, (void *)o, "the import is a mapping of its own");
    cr_assert_str_eq(x, "anon, shared");
    cr_assert_eq(pmn_ipc_close(c, x), 0);
    pmn_ipc_cache_free(c);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

/* The node 0 2 MiB pool is shared by test-backing, test-byom and
 * test-ipc, which run side by side: each holds this lock while it uses or
 * resizes the pool (flock on the pool's own sysfs file, released when
 * the test's process ends).  Without it one test gave back the pages
 * another had just seen free (ENOMEM). */
static void huge_pool_lock(void)
{
    int fd = open("/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages",
                  O_RDONLY | O_CLOEXEC);

    if (fd >= 0)
        (void)flock(fd, LOCK_EX); /* kept open: held to the end of the test */
}

/* Node 0's free 2 MiB huge pages, or 0 when it cannot tell. */
static long free_huge_pages(void)
{
    long n = 0;
    FILE *f =
        fopen("/sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages", "r");

    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld", &n) != 1)
        n = 0;
    fclose(f);
    return n;
}

/* hugetlb made shareable: a MFD_HUGETLB memfd of the pool's page size. */
Test(ipc, hugetlb_made_shareable)
{
    struct pmn_backing_params *p;
    struct pmn_backing *b = NULL;
    struct pmn_region *r;
    struct pmn_ipc_cache *c;
    struct pmn_ipc_handle h;
    char *o;
    void *x;
    long freep;
    int fd, ro, err;

    huge_pool_lock();
    freep = free_huge_pages();
    if (freep < 4)
        cr_skip_test("node 0 has fewer than 4 free 2 MiB huge pages (%ld)", freep);
    cr_assert_eq(pmn_backing_params_new(&p), 0);
    cr_assert_eq(pmn_backing_params_set_type(p, PMN_BACKING_HUGETLB), 0);
    cr_assert_eq(pmn_backing_params_set_node(p, 0), 0);
    cr_assert_eq(pmn_backing_params_set_page_size(p, 2 << 20), 0);
    cr_assert_eq(pmn_backing_params_set_shareable(p, true), 0);
    err = pmn_backing_new(ctx, p, &b);
    pmn_backing_params_free(p);
    cr_assert_eq(err, 0, "%s", pmn_strerror(err));
    /* A region: an arena over 2 MiB hugetlb fails with EINVAL on this
     * host before and after 0.4 (not an IPC matter). */
    err = pmn_region_map(b, 4 << 20, &r);
    cr_assert_eq(err, 0, "%s", pmn_strerror(err));
    o = pmn_region_addr(r);
    strcpy(o, "huge and shared");
    cr_assert_eq(pmn_ipc_get_region(r, &h, &fd), 0);
    cr_assert_eq(h.page_size, 2u << 20);
    cr_assert_eq(h.region_offset % (2u << 20), 0);
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    err = pmn_ipc_open(c, &h, fd, 0, &x);
    cr_assert_eq(err, 0, "%s", pmn_strerror(err));
    cr_assert_str_eq(x, "huge and shared");
    cr_assert_eq(pmn_ipc_writable(c, x), 1);
    cr_assert_eq(pmn_ipc_close(c, x), 0);
    pmn_ipc_cache_free(c);
    /* A read-only descriptor of a hugetlbfs file maps read-only too. */
    cr_assert_eq(pmn_ipc_fd_readonly(fd, &ro), 0);
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    err = pmn_ipc_open(c, &h, ro, 0, &x);
    close(ro);
    cr_assert_eq(err, 0, "read-only: %s", pmn_strerror(err));
    cr_assert_str_eq(x, "huge and shared");
    cr_assert_eq(pmn_ipc_writable(c, x), 0);
    cr_assert_eq(pmn_ipc_close(c, x), 0);
    pmn_ipc_cache_free(c);
    cr_assert_eq(pmn_region_unmap(r), 0);
    pmn_backing_free(b);
}

Test(ipc, wrong_fd_and_bad_handles)
{
    struct pmn_backing *b = backing(PMN_BACKING_MEMFD, false, 0);
    struct pmn_backing *other = backing(PMN_BACKING_MEMFD, false, 0);
    struct pmn_arena *a = arena(b), *a2 = arena(other);
    struct pmn_ipc_cache *c;
    struct pmn_ipc_handle h, h2, bad;
    struct pmn_region *r;
    void *o = pmn_arena_malloc(a, 64), *o2 = pmn_arena_malloc(a2, 64), *x;
    int fd, fd2, before;

    cr_assert_eq(pmn_ipc_get(o, &h, &fd), 0);
    cr_assert_eq(pmn_ipc_get(o2, &h2, &fd2), 0);
    cr_assert_neq(h.backing_id, h2.backing_id);
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    before = count_maps();
    /* The fd of another backing's file: never mapped. */
    cr_assert_eq(pmn_ipc_open(c, &h, fd2, 0, &x), PMN_E_BAD_HANDLE);
    cr_assert_null(x);
    /* A handle naming fd2's file but another backing id: the table says no. */
    bad = h2;
    bad.backing_id ^= 1;
    cr_assert_eq(pmn_ipc_open(c, &bad, fd2, 0, &x), PMN_E_BAD_HANDLE);
    bad = h;
    bad.magic = 0;
    cr_assert_eq(pmn_ipc_open(c, &bad, fd, 0, &x), PMN_E_BAD_HANDLE);
    bad = h;
    bad.version = 99;
    cr_assert_eq(pmn_ipc_open(c, &bad, fd, 0, &x), PMN_E_BAD_HANDLE);
    bad = h;
    bad.object_offset = h.region_offset + h.region_len; /* outside its region */
    cr_assert_eq(pmn_ipc_open(c, &bad, fd, 0, &x), PMN_E_BAD_HANDLE);
    bad = h;
    bad.region_offset = 1ull << 40; /* past the file's end */
    bad.object_offset = bad.region_offset;
    cr_assert_eq(pmn_ipc_open(c, &bad, fd, 0, &x), PMN_E_BAD_HANDLE);
    bad = h;
    bad.slot = 1u << 30;
    cr_assert_eq(pmn_ipc_open(c, &bad, fd, 0, &x), PMN_E_BAD_HANDLE);
    /* Cached backing, a handle claiming a bigger table: its slot must not
     * be read past the table this process mapped. */
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), 0);
    cr_assert_eq(pmn_ipc_close(c, x), 0);
    cr_assert_eq(pmn_region_map(b, 1 << 20, &r), 0);
    cr_assert_eq(pmn_ipc_get_region(r, &bad, &fd), 0);
    cr_assert_geq(bad.region_offset, 2 * h.table_size);
    bad.table_size = h.table_size * 2; /* still below the region: sane on its own */
    bad.slot = (h.table_size - 64) / 24 + 5;
    cr_assert_eq(pmn_ipc_open(c, &bad, -1, 0, &x), PMN_E_BAD_HANDLE);
    cr_assert_eq(pmn_region_unmap(r), 0);
    bad = h;
    bad.gen++;
    cr_assert_eq(pmn_ipc_open(c, &bad, fd, 0, &x), PMN_E_STALE_HANDLE);
    cr_assert_eq(count_maps(), before + 1, "only the table of the one good file is mapped");
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), 0);
    cr_assert_eq(pmn_ipc_close(c, x), 0);
    cr_assert_eq(pmn_ipc_close(c, x), -ENOENT);
    pmn_ipc_cache_free(c);
    pmn_arena_destroy(a);
    pmn_arena_destroy(a2);
    pmn_backing_free(b);
    pmn_backing_free(other);
}

/* A device-dax handle (PMN_IPC_KIND_DAX) checked without a device: the
 * name must be a plain name under /dev, the device there must be a
 * character device with the handle's st_rdev and a device-dax device in
 * sysfs; an absent device is -ENOENT as open() says.  The fd passed is a
 * real table (a memfd backing's), so every refusal here is the dax part's.
 * Nothing stays open or mapped after any of them. */
static struct pmn_ipc_handle as_dax(const struct pmn_ipc_handle *h, const char *name,
                                    uint64_t rdev)
{
    struct pmn_ipc_handle d = *h;

    d.kind = PMN_IPC_KIND_DAX;
    d.dax_rdev = rdev;
    memset(d.dax_name, 0, sizeof(d.dax_name));
    memcpy(d.dax_name, name, strnlen(name, sizeof(d.dax_name)));
    return d;
}

Test(ipc, dax_handles_checked_without_a_device)
{
    struct pmn_backing *b = backing(PMN_BACKING_MEMFD, false, 0);
    struct pmn_arena *a = arena(b);
    struct pmn_ipc_cache *c;
    struct pmn_ipc_cache_stats st = {.struct_size = sizeof(st)};
    struct pmn_ipc_handle h, d;
    void *o = pmn_arena_malloc(a, 64), *x;
    char long_name[40];
    struct stat null_st;
    int fd, fds, maps;

    cr_assert_eq(offsetof(struct pmn_ipc_handle, dax_rdev), 104, "version 1's reserved bytes");
    cr_assert_eq(offsetof(struct pmn_ipc_handle, reserved), 144);
    cr_assert_eq(pmn_ipc_get(o, &h, &fd), 0);
    cr_assert_eq(h.kind, PMN_IPC_KIND_MEMFD);
    cr_assert_eq(h.dax_rdev, 0);
    cr_assert_eq(h.dax_name[0], 0);
    cr_assert_eq(stat("/dev/null", &null_st), 0);
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    fds = count_fds();
    maps = count_maps();
    static const char *const bad_names[] = {
        "", ".", "..", "../null", "/dev/null", "dax0.0/x", "dax-0.0", "dax 0.0", "dax0.0\n"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        d = as_dax(&h, bad_names[i], null_st.st_rdev);
        cr_assert_eq(pmn_ipc_open(c, &d, fd, 0, &x), PMN_E_BAD_HANDLE, "name \"%s\"",
                     bad_names[i]);
        cr_assert_null(x);
    }
    memset(long_name, 'a', sizeof(long_name)); /* 32 bytes, no NUL */
    d = as_dax(&h, long_name, null_st.st_rdev);
    cr_assert_eq(pmn_ipc_open(c, &d, fd, 0, &x), PMN_E_BAD_HANDLE, "an unterminated name");
    /* A page size of 0 (was a division by zero), or no power of two. */
    d = as_dax(&h, "null", null_st.st_rdev);
    d.page_size = 0;
    cr_assert_eq(pmn_ipc_open(c, &d, fd, 0, &x), PMN_E_BAD_HANDLE, "page_size 0");
    d.page_size = 3 * h.page_size;
    cr_assert_eq(pmn_ipc_open(c, &d, fd, 0, &x), PMN_E_BAD_HANDLE, "page_size 3 pages");
    /* An unknown kind. */
    d = as_dax(&h, "null", null_st.st_rdev);
    d.kind = 3;
    cr_assert_eq(pmn_ipc_open(c, &d, fd, 0, &x), PMN_E_BAD_HANDLE);
    /* Not there: open()'s code, as the device node says. */
    d = as_dax(&h, "pmnode_no_such_dax9.9", 1);
    cr_assert_eq(pmn_ipc_open(c, &d, fd, 0, &x), -ENOENT);
    /* A character device, but not the handle's. */
    d = as_dax(&h, "null", null_st.st_rdev + 1);
    cr_assert_eq(pmn_ipc_open(c, &d, fd, 0, &x), PMN_E_BAD_HANDLE);
    /* The handle's character device, but no device-dax device. */
    d = as_dax(&h, "null", null_st.st_rdev);
    cr_assert_eq(pmn_ipc_open(c, &d, fd, 0, &x), PMN_E_BAD_HANDLE);
    /* A directory under /dev. */
    d = as_dax(&h, "shm", null_st.st_rdev);
    if (access("/dev/shm", F_OK) == 0)
        cr_assert_eq(pmn_ipc_open(c, &d, fd, 0, &x), PMN_E_BAD_HANDLE);
    cr_assert_eq(count_fds(), fds, "a refused dax handle left a descriptor open");
    cr_assert_eq(count_maps(), maps, "a refused dax handle left a mapping");
    cr_assert_eq(pmn_ipc_cache_stats(c, &st), 0);
    cr_assert_eq(st.backings, 0);
    /* A backing cached as memfd does not turn into a device. */
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), 0);
    cr_assert_eq(pmn_ipc_close(c, x), 0);
    d = as_dax(&h, "null", null_st.st_rdev);
    cr_assert_eq(pmn_ipc_open(c, &d, -1, 0, &x), PMN_E_BAD_HANDLE);
    pmn_ipc_cache_free(c);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

Test(ipc, same_region_maps_once)
{
    struct pmn_backing *b = backing(PMN_BACKING_MEMFD, false, 0);
    struct pmn_arena *a = arena(b);
    struct pmn_ipc_cache *c;
    struct pmn_ipc_cache_stats st = {.struct_size = sizeof(st)};
    struct pmn_ipc_handle h1, h2, h1b;
    void *o1 = pmn_arena_malloc(a, 128), *o2 = pmn_arena_malloc(a, 128), *x1, *x2, *x3;
    int fd, before;

    cr_assert_eq(pmn_ipc_get(o1, &h1, &fd), 0);
    cr_assert_eq(pmn_ipc_get(o1, &h1b, &fd), 0);
    cr_assert_eq(memcmp(&h1, &h1b, sizeof(h1)), 0, "exporting twice gives the same handle");
    cr_assert_eq(pmn_ipc_get(o2, &h2, &fd), 0);
    cr_assert_eq(h1.region_offset, h2.region_offset);
    cr_assert_neq(h1.slot, h2.slot);
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    before = count_maps();
    cr_assert_eq(pmn_ipc_open(c, &h1, fd, 0, &x1), 0);
    cr_assert_eq(count_maps(), before + 2, "the table and the region");
    cr_assert_eq(pmn_ipc_open(c, &h2, -1, 0, &x2), 0, "the cached fd serves the same backing");
    cr_assert_eq(pmn_ipc_open(c, &h1, fd, 0, &x3), 0);
    cr_assert_eq(x3, x1);
    cr_assert_eq((char *)x2 - (char *)x1, (char *)o2 - (char *)o1);
    cr_assert_eq(count_maps(), before + 2, "the same region was mapped again");
    cr_assert_eq(pmn_ipc_cache_stats(c, &st), 0);
    cr_assert_eq(st.maps, 1);
    cr_assert_eq(st.opens, 3);
    cr_assert_eq(st.backings, 1);
    cr_assert_eq(pmn_ipc_close(c, x1), 0);
    cr_assert_eq(pmn_ipc_close(c, x2), 0);
    cr_assert_eq(count_maps(), before + 2, "unmapped while still open");
    cr_assert_eq(pmn_ipc_close(c, x3), 0);
    cr_assert_eq(count_maps(), before + 1, "the last close keeps the region mapped");
    cr_assert_eq(pmn_ipc_cache_stats(c, &st), 0);
    cr_assert_eq(st.unmaps, 1);
    cr_assert_eq(st.mapped, 0);
    pmn_ipc_cache_free(c);
    cr_assert_eq(count_maps(), before);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

/* Every way an object goes away makes its handle stale. */
Test(ipc, stale_after_realloc_reset_slab_free_and_unmap)
{
    struct pmn_backing *b = backing(PMN_BACKING_MEMFD, false, 0);
    struct pmn_arena *a = arena(b);
    struct pmn_slab *s = NULL;
    struct pmn_ipc_cache *c;
    struct pmn_ipc_handle h;
    struct pmn_region *r;
    void *o, *x, *n;
    int fd;

    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    /* realloc that moves */
    o = pmn_arena_malloc(a, 32);
    cr_assert_eq(pmn_ipc_get(o, &h, &fd), 0);
    n = pmn_arena_realloc(a, o, 100000);
    cr_assert_not_null(n);
    cr_assert_neq(n, o);
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), PMN_E_STALE_HANDLE, "realloc moved it");
    /* a large object, freed */
    o = pmn_arena_malloc(a, 8 << 20);
    cr_assert_eq(pmn_ipc_get(o, &h, &fd), 0);
    cr_assert_eq(h.object_len, pmn_usable_size(o));
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), 0);
    cr_assert_eq(pmn_ipc_valid(c, x), 0);
    cr_assert_eq(pmn_free(o), 0);
    cr_assert_eq(pmn_ipc_valid(c, x), PMN_E_STALE_HANDLE, "a freed large object");
    cr_assert_eq(pmn_ipc_close(c, x), 0);
    /* reset */
    o = pmn_arena_malloc(a, 32);
    cr_assert_eq(pmn_ipc_get(o, &h, &fd), 0);
    pmn_arena_reset(a);
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), PMN_E_STALE_HANDLE, "reset");
    /* a slab object */
    cr_assert_eq(pmn_slab_new(b, 200, 0, 0, &s), 0);
    o = pmn_slab_alloc(s);
    cr_assert_eq(pmn_ipc_get(o, &h, &fd), 0);
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), 0);
    cr_assert_eq(pmn_slab_free(s, o), 0);
    cr_assert_eq(pmn_ipc_valid(c, x), PMN_E_STALE_HANDLE, "slab free");
    cr_assert_eq(pmn_ipc_close(c, x), 0);
    /* destroy */
    o = pmn_slab_alloc(s);
    cr_assert_eq(pmn_ipc_get(o, &h, &fd), 0);
    pmn_slab_destroy(s);
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), PMN_E_STALE_HANDLE, "slab destroyed");
    /* a region */
    cr_assert_eq(pmn_region_map(b, 2 << 20, &r), 0);
    cr_assert_eq(pmn_ipc_get_region(r, &h, &fd), 0);
    cr_assert_eq(h.region_offset, pmn_region_offset(r));
    cr_assert_eq(h.object_len, pmn_region_size(r));
    cr_assert_eq(fd, pmn_region_fd(r));
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), 0);
    memset(x, 0x5c, 4096);
    cr_assert_eq(((unsigned char *)pmn_region_addr(r))[4095], 0x5c);
    cr_assert_eq(pmn_region_unmap(r), 0);
    cr_assert_eq(pmn_ipc_valid(c, x), PMN_E_STALE_HANDLE, "region unmapped");
    cr_assert_eq(pmn_ipc_close(c, x), 0);
    pmn_ipc_cache_free(c);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

Test(ipc, slots_run_out_with_a_clear_code)
{
    struct pmn_backing *b = backing(PMN_BACKING_MEMFD, false, 4096);
    struct pmn_arena *a = arena(b);
    struct pmn_ipc_handle h;
    size_t nslots = (4096 - 64) / 24, i;
    void *o[200];
    int fd;

    for (i = 0; i < nslots; i++) {
        o[i] = pmn_arena_malloc(a, 16);
        cr_assert_eq(pmn_ipc_get(o[i], &h, &fd), 0, "export %zu", i);
    }
    o[i] = pmn_arena_malloc(a, 16);
    cr_assert_eq(pmn_ipc_get(o[i], &h, &fd), -ENOSPC);
    cr_assert_eq(pmn_free(o[0]), 0); /* gives its slot back */
    cr_assert_eq(pmn_ipc_get(o[i], &h, &fd), 0);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

/* ---- threads ---------------------------------------------------------- */

struct tctx {
    struct pmn_arena *a;
    struct pmn_ipc_cache *c;
    int id, fails;
};

static void *worker(void *arg)
{
    struct tctx *t = arg;

    for (int i = 0; i < 300; i++) {
        struct pmn_ipc_handle h;
        size_t len = 64 + (size_t)((t->id * 131 + i * 17) % 4000);
        unsigned char *o = pmn_arena_malloc(t->a, len), *x;
        int fd;
        void *v;

        if (o == NULL || pmn_ipc_get(o, &h, &fd) != 0) {
            t->fails++;
            continue;
        }
        memset(o, t->id + 1, len);
        if (pmn_ipc_open(t->c, &h, i % 2 ? -1 : fd, 0, &v) != 0) {
            t->fails++;
            pmn_free(o);
            continue;
        }
        x = v;
        if (x[0] != t->id + 1 || x[len - 1] != t->id + 1)
            t->fails++;
        if (pmn_ipc_close(t->c, v) != 0)
            t->fails++;
        if (pmn_free(o) != 0)
            t->fails++;
    }
    return NULL;
}

Test(ipc, eight_threads_export_and_import)
{
    struct pmn_backing *b = backing(PMN_BACKING_MEMFD, false, 0);
    struct pmn_arena *a = arena(b);
    struct pmn_ipc_cache *c;
    struct pmn_ipc_cache_stats st = {.struct_size = sizeof(st)};
    struct tctx t[8];
    pthread_t th[8];
    void *warm = pmn_arena_malloc(a, 16);
    struct pmn_ipc_handle h;
    int fd;
    void *x;

    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    /* The cache learns the fd once; workers then also open with -1. */
    cr_assert_eq(pmn_ipc_get(warm, &h, &fd), 0);
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), 0);
    for (int i = 0; i < 8; i++) {
        t[i] = (struct tctx){.a = a, .c = c, .id = i};
        cr_assert_eq(pthread_create(&th[i], NULL, worker, &t[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(t[i].fails, 0, "thread %d: %d failures", i, t[i].fails);
    }
    cr_assert_eq(pmn_ipc_cache_stats(c, &st), 0);
    cr_assert_eq(st.opens, 8 * 300 + 1);
    cr_assert_eq(st.failures, 0);
    cr_assert_eq(pmn_ipc_close(c, x), 0);
    pmn_ipc_cache_free(c);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

/* ---- the receive helper ----------------------------------------------- */

static void send_raw(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
    char ctl[CMSG_SPACE(4 * sizeof(int))];
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

    memset(ctl, 0, sizeof(ctl));
    if (nfds > 0) {
        struct cmsghdr *cm;
        msg.msg_control = ctl;
        msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
    }
    cr_assert_eq(sendmsg(sock, &msg, 0), (ssize_t)len, "sendmsg: %s", strerror(errno));
}

Test(ipc, recv_refuses_garbage_truncation_and_extra_fds)
{
    struct pmn_ipc_handle h, good;
    unsigned char junk[400];
    int sv[2], fd, fds[2], before;

    memset(&good, 0, sizeof(good));
    good.magic = PMN_IPC_MAGIC;
    good.version = PMN_IPC_VERSION;
    memset(junk, 0xa5, sizeof(junk));
    fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pair(sv, SOCK_SEQPACKET);
    before = count_fds();
    /* garbage of the right size, with an fd */
    send_raw(sv[0], junk, sizeof(h), fds, 1);
    cr_assert_eq(pmn_ipc_recv(sv[1], &h, &fd), -EBADMSG);
    cr_assert_eq(fd, -1);
    cr_assert_eq(count_fds(), before, "the fd that came with garbage was not closed");
    /* short */
    send_raw(sv[0], &good, 100, fds, 1);
    cr_assert_eq(pmn_ipc_recv(sv[1], &h, &fd), -EBADMSG);
    cr_assert_eq(count_fds(), before);
    /* too long: truncated */
    memcpy(junk, &good, sizeof(good));
    send_raw(sv[0], junk, sizeof(junk), fds, 1);
    cr_assert_eq(pmn_ipc_recv(sv[1], &h, &fd), -EBADMSG);
    cr_assert_eq(count_fds(), before);
    /* two fds */
    send_raw(sv[0], &good, sizeof(good), fds, 2);
    cr_assert_eq(pmn_ipc_recv(sv[1], &h, &fd), -EBADMSG);
    cr_assert_eq(count_fds(), before, "extra fds were not closed");
    /* a good one still passes, with and without an fd */
    cr_assert_eq(pmn_ipc_send(sv[0], &good, fds[0]), 0);
    cr_assert_eq(pmn_ipc_recv(sv[1], &h, &fd), 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, "received fd not close-on-exec");
    close(fd);
    cr_assert_eq(pmn_ipc_send(sv[0], &good, -1), 0);
    cr_assert_eq(pmn_ipc_recv(sv[1], &h, &fd), 0);
    cr_assert_eq(fd, -1);
    cr_assert_eq(memcmp(&h, &good, sizeof(h)), 0);
    /* the peer gone */
    close(sv[0]);
    cr_assert_eq(pmn_ipc_recv(sv[1], &h, &fd), -ECONNRESET);
    cr_assert_eq(pmn_ipc_send(sv[1], &good, -1), -EPIPE, "no SIGPIPE, a code");
    close(sv[1]);
    close(fds[0]);
    close(fds[1]);
}

/* fork(): a shareable backing's memory is one MAP_SHARED file, shared
 * with the child, not copied (pmnode.h, "Sharing with other processes").
 * The child's writes show in the parent, as with any shared memory; but
 * the child's destroy of its arena leaves the parent's objects alone (no
 * hole punched, no heap metadata written, no handle made stale), and the
 * child cannot export (the slots are the parent's). */
Test(ipc, forked_child_leaves_the_parents_file_alone)
{
    struct pmn_backing *b = backing(PMN_BACKING_MEMFD, false, 0);
    struct pmn_arena *a = arena(b);
    char *obj = pmn_arena_malloc(a, 64), *exp = pmn_arena_malloc(a, 64);
    struct pmn_ipc_handle h, h2;
    struct pmn_ipc_cache *c;
    void *addr;
    int fd, fd2, err;
    pid_t pid;

    cr_assert_not_null(obj);
    cr_assert_not_null(exp);
    strcpy(exp, "exported");
    cr_assert_eq(pmn_ipc_get(exp, &h, &fd), 0);
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &addr), 0); /* the cache keeps the file */
    pmn_ipc_close(c, addr);

    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        strcpy(obj, "child"); /* shared memory: the parent sees it */
        if (pmn_ipc_get(obj, &h2, &fd2) != -EBUSY)
            _exit(1);
        /* The heap's pages and free lists are the parent's memory: the
         * child's copy serves nothing (0.9.3 handed out blocks the parent
         * could hand out too, and a free wrote its links into the
         * parent's live object). */
        errno = 0;
        if (pmn_arena_malloc(a, 64) != NULL || errno != EBUSY)
            _exit(2);
        errno = 0;
        if (pmn_arena_malloc(a, 1 << 20) != NULL || errno != EBUSY)
            _exit(3);
        if (pmn_free(exp) != -EBUSY)
            _exit(4);
        if (pmn_arena_trim(a, NULL) != -EBUSY || pmn_arena_reserve(a, 1 << 20) != -EBUSY)
            _exit(5);
        pmn_arena_reset(a); /* nothing of it is the child's */
        pmn_arena_destroy(a);
        _exit(0);
    }
    wait_child(pid, "forked child");
    cr_assert_str_eq(obj, "child", "the child's destroy punched a hole, or this is a copy");
    cr_assert_str_eq(exp, "exported", "the child's destroy wrote into the parent's object");
    err = pmn_ipc_open(c, &h, -1, 0, &addr);
    cr_assert_eq(err, 0, "the child's destroy made the handle stale: %s", pmn_strerror(err));
    cr_assert_str_eq(addr, "exported");
    pmn_ipc_close(c, addr);
    /* The parent's arena still works: allocate, free, destroy. */
    cr_assert_eq(pmn_free(pmn_arena_malloc(a, 1 << 20)), 0);
    pmn_ipc_cache_free(c);
    cr_assert_eq(pmn_free(exp), 0);
    cr_assert_eq(pmn_free(obj), 0);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

/* A child forked while another thread of its parent opens, checks and
 * closes handles through one cache (whose lock that thread holds for part
 * of each call) can use the cache: the library holds every cache's lock
 * across fork.  0.9.4 did not, and a child forked inside that window
 * waited for ever in its first call. */
struct opener {
    struct pmn_ipc_cache *c;
    const struct pmn_ipc_handle *h;
    atomic_int stop;
    atomic_long rounds;
};

static void *open_loop(void *arg)
{
    struct opener *o = arg;

    while (!atomic_load(&o->stop)) {
        void *at;

        if (pmn_ipc_open(o->c, o->h, -1, 0, &at) == 0) {
            (void)pmn_ipc_valid(o->c, at);
            (void)pmn_ipc_close(o->c, at);
        }
        atomic_fetch_add(&o->rounds, 1);
        if (RUNNING_ON_VALGRIND)
            sched_yield(); /* one thread at a time there: let the forker run */
    }
    return NULL;
}

static int child_opens(int i, void *arg)
{
    struct opener *o = arg;
    void *at;

    (void)i;
    if (pmn_ipc_open(o->c, o->h, -1, 0, &at) != 0)
        return 1;
    if (strcmp(at, "shared") != 0 || pmn_ipc_valid(o->c, at) != 0)
        return 2;
    return pmn_ipc_close(o->c, at) == 0 ? 0 : 3;
}

Test(ipc, forked_while_a_thread_opens_handles)
{
    struct pmn_backing *b = backing(PMN_BACKING_MEMFD, false, 0);
    struct pmn_arena *a = arena(b);
    char *obj = pmn_arena_malloc(a, 64);
    struct pmn_ipc_handle h;
    struct opener o = {.h = &h};
    int fd, hung, failed;
    void *at;
    pthread_t t;

#if defined(__SANITIZE_ADDRESS__)
    /* GCC 12's AddressSanitizer keeps its allocator's locks out of fork:
     * a child forked while the opener was inside malloc waits there. */
    cr_skip_test("AddressSanitizer's malloc is not fork-safe with other threads allocating");
#endif
    cr_assert_not_null(obj);
    strcpy(obj, "shared");
    cr_assert_eq(pmn_ipc_get(obj, &h, &fd), 0);
    cr_assert_eq(pmn_ipc_cache_new(&o.c), 0);
    cr_assert_eq(pmn_ipc_open(o.c, &h, fd, 0, &at), 0); /* the cache keeps the file */
    cr_assert_eq(pmn_ipc_close(o.c, at), 0);
    cr_assert_eq(pthread_create(&t, NULL, open_loop, &o), 0);
    while (atomic_load(&o.rounds) < 10)
        sched_yield();
    cr_assert_eq(fork_children(RUNNING_ON_VALGRIND ? 4 : 60, 3, child_opens, &o, &hung, &failed),
                 0);
    atomic_store(&o.stop, 1);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(hung, 0, "a child waited for the cache's lock its parent's thread held at fork");
    cr_assert_eq(failed, 0, "%d children could not use the cache", failed);
    pmn_ipc_cache_free(o.c);
    cr_assert_eq(pmn_free(obj), 0);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

/* ---- forged exporters: files made by hand, as a hostile peer would ---- */

struct forged_head {
    uint64_t magic;
    uint32_t version, nslots;
    uint64_t backing_id, table_size, reserved[4];
};
struct forged_slot {
    uint64_t gen, offset, len;
};

static size_t base_page(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* A memfd that can be sealed (as the library's own are), not yet sealed. */
static int forged_memfd(void)
{
    int fd = memfd_create("pmnode-shared-forged", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    cr_assert_geq(fd, 0, "memfd_create: %s", strerror(errno));
    return fd;
}

static void seal_shrink(int fd)
{
    cr_assert_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0, "F_ADD_SEALS: %s", strerror(errno));
}

/* A memfd backing on node 0 with an arena, and one object of 64 bytes
 * exported: its handle in *@h, the backing's (borrowed) fd in *@fd. */
static void *export_one(struct pmn_backing **b, struct pmn_arena **a, struct pmn_ipc_handle *h,
                        int *fd)
{
    void *o;

    *b = backing(PMN_BACKING_MEMFD, false, 0);
    *a = arena(*b);
    o = pmn_arena_malloc(*a, 64);
    cr_assert_not_null(o);
    cr_assert_eq(pmn_ipc_get(o, h, fd), 0);
    return o;
}

/* Make @fd a file of @size bytes whose table (@table bytes) names backing
 * @id with slot 0 live (gen 7) for [@obj, @obj+64), and the handle for it:
 * the region [@reg, @reg+@rlen), the base page size, node 0. */
static void forge(int fd, uint64_t size, uint64_t table, uint64_t id, uint64_t reg, uint64_t rlen,
                  uint64_t obj, struct pmn_ipc_handle *h)
{
    struct forged_head hd = {.magic = 0x31626174706d6e70ull, /* "pmnptab1" */
                             .version = 1,
                             .nslots =
                                 (uint32_t)((table - sizeof(hd)) / sizeof(struct forged_slot)),
                             .backing_id = id,
                             .table_size = table};
    struct forged_slot s0 = {.gen = 7, .offset = obj, .len = 64};
    char data[64];
    struct stat st;

    cr_assert_eq(sizeof(hd), 64);
    cr_assert_eq(ftruncate(fd, (off_t)size), 0, "ftruncate: %s", strerror(errno));
    cr_assert_eq(pwrite(fd, &hd, sizeof(hd), 0), (ssize_t)sizeof(hd));
    cr_assert_eq(pwrite(fd, &s0, sizeof(s0), sizeof(hd)), (ssize_t)sizeof(s0));
    memset(data, 0x5a, sizeof(data));
    cr_assert_eq(pwrite(fd, data, sizeof(data), (off_t)obj), (ssize_t)sizeof(data));
    cr_assert_eq(fstat(fd, &st), 0);
    memset(h, 0, sizeof(*h));
    h->magic = PMN_IPC_MAGIC;
    h->version = PMN_IPC_VERSION;
    h->kind = PMN_IPC_KIND_MEMFD;
    h->backing_id = id;
    h->dev = (uint64_t)st.st_dev;
    h->ino = (uint64_t)st.st_ino;
    h->region_offset = reg;
    h->region_len = rlen;
    h->object_offset = obj;
    h->object_len = 64;
    h->page_size = base_page();
    h->gen = 7;
    h->slot = 0;
    h->node = 0;
    h->owner_pid = -1;
    h->owner_fd = -1;
    h->table_size = (uint32_t)table;
}

/* The child of read_only_peer_cannot_write: every way a holder of the
 * descriptor could write the file, each refused.  Exit codes name the
 * step. */
static int readonly_importer(int sock, bool other_user)
{
    struct pmn_ipc_cache *c;
    struct pmn_ipc_handle h;
    const unsigned char *p;
    long pg = sysconf(_SC_PAGESIZE);
    char path[64];
    void *addr, *m;
    int fd, f;

    if (other_user) {
        const struct passwd *pw = getpwnam("nobody");

        if (pw == NULL || setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
            setuid(pw->pw_uid) != 0)
            return 30;
    }
    if (pmn_ipc_cache_new(&c) != 0)
        return 31;
    if (pmn_ipc_recv(sock, &h, &fd) != 0 || fd < 0)
        return 32;
    if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY)
        return 33;
    if (pmn_ipc_open(c, &h, fd, 0, &addr) != 0)
        return 34; /* a read-only descriptor must still open */
    p = addr;
    for (size_t i = 0; i < h.object_len; i++)
        if (p[i] != (unsigned char)(i * 7 + 3))
            return 35;
    if (pmn_ipc_writable(c, addr) != 0)
        return 36;
    /* Mapping the file writable, anywhere in it (the owner's free blocks
     * and segment headers are there too). */
    m = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m != MAP_FAILED || errno != EACCES)
        return 37;
    /* Making the open object's mapping writable. */
    if (mprotect((void *)((uintptr_t)addr & ~(uintptr_t)(pg - 1)), (size_t)pg,
                 PROT_READ | PROT_WRITE) == 0)
        return 38;
    /* Writing it through /proc, which may write read-only private pages. */
    f = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    if (f >= 0) {
        ssize_t n = pwrite(f, "X", 1, (off_t)(uintptr_t)addr);

        close(f);
        if (n == 1)
            return 39;
    }
    /* Punching, growing and sealing the file. */
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, pg) == 0)
        return 40;
    if (ftruncate(fd, (off_t)(h.region_offset + h.region_len) * 2) == 0)
        return 41;
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == 0)
        return 42;
    /* Opening it again for writing: refused to another user by the mode
     * pmn_ipc_fd_readonly() set; the owner's own user could (pmnode.h). */
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    f = open(path, O_RDWR | O_CLOEXEC);
    if (f >= 0 && other_user)
        return 43;
    if (f >= 0)
        close(f);
    if (pmn_ipc_close(c, addr) != 0)
        return 44;
    pmn_ipc_cache_free(c);
    close(fd);
    return write(sock, "k", 1) == 1 ? 0 : 45;
}

/* pmn_ipc_fd_readonly(): a peer given it reads the object and can write
 * nothing of the file, neither the object nor the owner's bookkeeping
 * around it (SECURITY: a writable holder forged a free block's link and
 * the owner's next malloc followed it).  As root the peer runs as nobody,
 * so that /proc/self/fd cannot reopen the file for writing either. */
Test(ipc, read_only_peer_cannot_write)
{
    struct pmn_backing *b = backing(PMN_BACKING_MEMFD, false, 0);
    struct pmn_arena *a = arena(b);
    struct pmn_ipc_handle h;
    unsigned char *x = pmn_arena_malloc(a, 4096), *y = pmn_arena_malloc(a, 64), *q[8];
    bool other_user = geteuid() == 0 && getpwnam("nobody") != NULL;
    struct stat st;
    int sv[2], fd, ro;
    ssize_t n;
    pid_t pid;
    char ack;

    cr_assert(x != NULL && y != NULL);
    x = pmn_realloc(x, pmn_usable_size(x)); /* the handle covers the usable size */
    cr_assert_not_null(x);
    for (size_t i = 0; i < pmn_usable_size(x); i++)
        x[i] = (unsigned char)(i * 7 + 3);
    cr_assert_eq(pmn_free(y), 0); /* a free block beside the exported one */
    cr_assert_eq(pmn_ipc_get(x, &h, &fd), 0);
    cr_assert_eq(pmn_ipc_fd_readonly(fd, &ro), 0);
    cr_assert_eq(fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY);
    cr_assert(fcntl(ro, F_GETFD) & FD_CLOEXEC);
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600, "the file's mode is %o", st.st_mode & 07777);
    pair(sv, SOCK_SEQPACKET);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        close(sv[0]);
        _exit(readonly_importer(sv[1], other_user));
    }
    close(sv[1]);
    cr_assert_eq(pmn_ipc_send(sv[0], &h, ro), 0);
    close(ro);
    n = read(sv[0], &ack, 1);
    wait_child(pid, "read-only importer"); /* names the step that failed */
    cr_assert_eq(n, 1, "the read-only importer did not answer");
    close(sv[0]);
    /* The owner is untouched: its object, and its next allocations. */
    for (size_t i = 0; i < pmn_usable_size(x); i++)
        cr_assert_eq(x[i], (unsigned char)(i * 7 + 3), "byte %zu of the object changed", i);
    for (int i = 0; i < 8; i++) {
        q[i] = pmn_arena_malloc(a, 64);
        cr_assert_not_null(q[i]);
        cr_assert_eq(pmn_arena_of(q[i]), a);
        memset(q[i], i, 64);
    }
    for (int i = 0; i < 8; i++)
        cr_assert_eq(pmn_free(q[i]), 0);
    cr_assert_eq(pmn_free(x), 0);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

/* pmn_ipc_fd_readonly() refuses what is not one of libpmnode's sealed
 * memory files, and leaves such a file's mode alone. */
Test(ipc, read_only_descriptor_of_other_files_refused)
{
    char path[] = "/tmp/pmnode-ro-XXXXXX";
    struct stat st;
    int f = mkstemp(path), m, ro = 0;

    cr_assert_geq(f, 0);
    unlink(path);
    cr_assert_eq(fchmod(f, 0644), 0);
    cr_assert_eq(pmn_ipc_fd_readonly(f, &ro), -EINVAL); /* a file on disk (or any not sealed) */
    cr_assert_eq(ro, -1);
    cr_assert_eq(fstat(f, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0644, "a refused file's mode changed");
    close(f);
    m = memfd_create("pmnode-test-unsealed", MFD_CLOEXEC);
    cr_assert_geq(m, 0);
    cr_assert_eq(pmn_ipc_fd_readonly(m, &ro), -EINVAL); /* memory, but not sealed */
    close(m);
    cr_assert_eq(pmn_ipc_fd_readonly(-1, &ro), -EINVAL);
    cr_assert_eq(pmn_ipc_fd_readonly(0, NULL), -EINVAL);
    cr_assert_lt(pmn_ipc_fd_readonly(1000000, &ro), 0); /* not open */
}

/* The trust boundary pmn_ipc(3) SECURITY draws: a peer given a backing's
 * descriptor can write the whole file, not only what it was handed.  Of a
 * backing no arena or slab allocates from, the owner keeps nothing in the
 * file it would follow: a peer that overwrites every byte (the generation
 * table included) costs the owner its data and its handles' meaning,
 * never its own state.  The owner then still exports, unmaps, maps anew,
 * exports again (the slot's check against the table's garbage gives a
 * fresh generation) and frees the backing; a check of a handle made before
 * the scribble answers without a signal. */
Test(ipc, scribbling_peer_cannot_reach_a_region_owner)
{
    struct pmn_backing *b = backing(PMN_BACKING_MEMFD, false, 0);
    struct pmn_region *r, *r2;
    struct pmn_ipc_handle h, h2, h3;
    struct pmn_ipc_cache *c;
    struct stat st;
    void *addr;
    int fd, err;
    pid_t pid;

    cr_assert_eq(pmn_region_map(b, 1 << 20, &r), 0);
    cr_assert_eq(pmn_ipc_get_region(r, &h, &fd), 0);
    cr_assert_eq(fstat(fd, &st), 0);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        /* The peer: every byte of the file, table and region alike. */
        unsigned char *m =
            mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

        if (m == MAP_FAILED)
            _exit(1);
        memset(m, 0xa5, (size_t)st.st_size);
        _exit(0);
    }
    wait_child(pid, "scribbling peer");
    cr_assert_eq(((unsigned char *)pmn_region_addr(r))[4096], 0xa5,
                 "the peer's writes did not reach the owner's mapping");
    /* The owner's own bookkeeping is intact. */
    err = pmn_ipc_get_region(r, &h2, &fd);
    cr_assert_eq(err, 0, "export after the scribble: %s", pmn_strerror(err));
    cr_assert_eq(h2.region_offset, h.region_offset);
    cr_assert_neq(h2.gen, h.gen, "the table's garbage was taken for the slot's generation");
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    err = pmn_ipc_open(c, &h, fd, 0, &addr);
    cr_assert(err == PMN_E_STALE_HANDLE || err == PMN_E_BAD_HANDLE,
              "a handle from before the scribble opened: %s", pmn_strerror(err));
    pmn_ipc_cache_free(c);
    cr_assert_eq(pmn_region_unmap(r), 0);
    cr_assert_eq(pmn_region_map(b, 1 << 20, &r2), 0);
    memset(pmn_region_addr(r2), 0x11, 1 << 20);
    cr_assert_eq(pmn_ipc_get_region(r2, &h3, &fd), 0);
    cr_assert_eq(pmn_region_unmap(r2), 0);
    pmn_backing_free(b);
}

/* The owner's file is sealed against shrinking (a shrink turned the
 * importer's reads of the table or of mapped objects into SIGBUS), and an
 * importer refuses a file without that seal; growing still works. */
Test(ipc, backing_file_sealed_against_shrinking)
{
    struct pmn_backing *b;
    struct pmn_arena *a;
    struct pmn_ipc_cache *c;
    struct pmn_ipc_handle h;
    struct pmn_region *r;
    void *x;
    int fd, seals, forged;
    struct stat st;

    export_one(&b, &a, &h, &fd);
    seals = fcntl(fd, F_GET_SEALS);
    cr_assert_geq(seals, 0, "F_GET_SEALS: %s (memfd made without MFD_ALLOW_SEALING?)",
                  strerror(errno));
    cr_assert(seals & F_SEAL_SHRINK, "the backing's file can shrink (seals %#x)", seals);
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(ftruncate(fd, (off_t)h.table_size), -1, "a shrink was allowed");
    cr_assert_eq(errno, EPERM);
    /* growing the file: a new region at its end */
    cr_assert_eq(pmn_region_map(b, 4 << 20, &r), 0);
    cr_assert_eq(pmn_region_unmap(r), 0);
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), 0);
    cr_assert_eq(pmn_ipc_close(c, x), 0);
    /* A file a peer could shrink under us: refused, sealable or not. */
    forged = memfd_create("pmnode-shared-forged", MFD_CLOEXEC);
    cr_assert_geq(forged, 0);
    forge(forged, 4 * base_page(), base_page(), 0x3000, base_page(), base_page(), base_page(), &h);
    cr_assert_eq(pmn_ipc_open(c, &h, forged, 0, &x), PMN_E_BAD_HANDLE, "no seals possible");
    close(forged);
    forged = forged_memfd();
    forge(forged, 4 * base_page(), base_page(), 0x3001, base_page(), base_page(), base_page(), &h);
    cr_assert_eq(pmn_ipc_open(c, &h, forged, 0, &x), PMN_E_BAD_HANDLE, "sealable, not sealed");
    seal_shrink(forged);
    cr_assert_eq(pmn_ipc_open(c, &h, forged, 0, &x), 0, "sealed: the same file opens");
    cr_assert_eq(pmn_ipc_close(c, x), 0);
    close(forged);
    pmn_ipc_cache_free(c);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

/* A regular file on a disk file system is page cache: never memory for a
 * handle, whatever its table says. */
Test(ipc, page_cache_files_refused)
{
    static const char *const dirs[] = {".", "/var/tmp", "/tmp"};
    struct pmn_ipc_cache *c;
    struct pmn_ipc_handle h;
    struct statfs sf;
    const char *dir = NULL;
    char path[4096];
    void *x = NULL;
    int fd;

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && dir == NULL; i++)
        if (statfs(dirs[i], &sf) == 0 && sf.f_type != TMPFS_MAGIC &&
            sf.f_type != HUGETLBFS_MAGIC && access(dirs[i], W_OK) == 0)
            dir = dirs[i];
    if (dir == NULL)
        cr_skip_test("no writable directory outside tmpfs (., /var/tmp, /tmp) for a disk file");
    snprintf(path, sizeof(path), "%s/pmnode-ipc-diskXXXXXX", dir);
    fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp in %s: %s", dir, strerror(errno));
    unlink(path);
    forge(fd, 4 * base_page(), base_page(), 0x4000, base_page(), base_page(), base_page(), &h);
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), PMN_E_BAD_HANDLE, "a disk file in %s", dir);
    cr_assert_null(x);
    pmn_ipc_cache_free(c);
    close(fd);
}

/* A page size other than the file's own: a bigger power of two made the
 * verifier round the object out past the region it mapped (a SIGSEGV, or
 * other mappings faulted in and a bogus code). */
Test(ipc, page_size_must_be_the_files)
{
    const uint64_t page = base_page();
    static const uint64_t bigger[] = {2, 512, 1u << 18}; /* in pages: 8 KiB, 2 MiB, 1 GiB */
    struct pmn_ipc_cache *c;
    struct pmn_ipc_handle h;
    void *x;
    int fd = forged_memfd();

    forge(fd, 4 * page, page, 0x1234, 2 * page, page, 2 * page, &h);
    seal_shrink(fd);
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), 0, "the forged file as made opens");
    cr_assert_eq(*(unsigned char *)x, 0x5a);
    cr_assert_eq(pmn_ipc_close(c, x), 0);
    pmn_ipc_cache_free(c);
    close(fd);
    for (size_t i = 0; i < sizeof(bigger) / sizeof(bigger[0]); i++) {
        uint64_t ps = bigger[i] * page;

        fd = forged_memfd();
        /* the region one base page at a multiple of ps, as a sane handle's */
        forge(fd, ps + page, page, 0x2000 + i, ps, page, ps, &h);
        seal_shrink(fd);
        h.page_size = ps;
        cr_assert_eq(pmn_ipc_cache_new(&c), 0);
        cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), PMN_E_BAD_HANDLE,
                     "page_size %llu on a file of %llu-byte pages", (unsigned long long)ps,
                     (unsigned long long)page);
        cr_assert_null(x);
        h.page_size = page; /* the same file, told the truth */
        cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), 0);
        cr_assert_eq(pmn_ipc_close(c, x), 0);
        pmn_ipc_cache_free(c);
        close(fd);
    }
}

/* An open that fails keeps nothing: not the peer's fd, not the table's
 * mapping, not the region's (a hostile peer sending stale handles of ever
 * new files ran the importer out of descriptors). */
Test(ipc, failed_open_keeps_nothing)
{
    const uint64_t page = base_page();
    struct pmn_ipc_cache *c;
    struct pmn_ipc_cache_stats st = {.struct_size = sizeof(st)};
    struct pmn_ipc_handle h;
    void *x;
    int fds, maps, fd;

    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    fds = count_fds();
    maps = count_maps();
    for (int i = 0; i < 4; i++) {
        fd = forged_memfd();
        forge(fd, 4 * page, page, 0x5000 + (uint64_t)i, page, page, page, &h);
        seal_shrink(fd);
        switch (i) {
        case 0: /* stale: the table says 7 */
            h.gen = 6;
            cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), PMN_E_STALE_HANDLE);
            break;
        case 1: /* a region past the file's end */
            h.region_offset = h.object_offset = 8 * page;
            cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), PMN_E_BAD_HANDLE);
            break;
        case 2: /* the pages are on node 0, not the handle's: fails after mapping */
            h.node = 1;
            cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), PMN_E_NODE_CHANGED);
            break;
        default: /* a slot past the table's */
            h.slot = 1000;
            cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), PMN_E_BAD_HANDLE);
            break;
        }
        cr_assert_null(x);
        close(fd);
        cr_assert_eq(count_fds(), fds, "failed open %d kept a descriptor", i);
        cr_assert_eq(count_maps(), maps, "failed open %d kept a mapping", i);
    }
    cr_assert_eq(pmn_ipc_cache_stats(c, &st), 0);
    cr_assert_eq(st.backings, 0);
    cr_assert_eq(st.mapped, 0);
    cr_assert_eq(st.failures, 4);
    /* without the fd, nothing cached answers */
    h.slot = 0;
    cr_assert_eq(pmn_ipc_open(c, &h, -1, 0, &x), -ENOENT);
    pmn_ipc_cache_free(c);
}

/* A dax handle naming a character device that sysfs does not list as
 * device-dax is refused before the device is opened: an open(2) of a tty
 * by a daemon without one made it the daemon's controlling terminal, and
 * device opens have side effects of their own.  inotify sees every open of
 * /dev/full (one a concurrent process makes would show too: /dev/full is
 * rarely opened). */
Test(ipc, dax_handle_of_another_device_never_opened)
{
    struct pmn_backing *b;
    struct pmn_arena *a;
    struct pmn_ipc_cache *c;
    struct pmn_ipc_handle h, d;
    struct stat full;
    char ev[4096];
    void *x;
    int fd, in, t;

    if (stat("/dev/full", &full) != 0 || !S_ISCHR(full.st_mode))
        cr_skip_test("no /dev/full character device to name");
    in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (in < 0 || inotify_add_watch(in, "/dev/full", IN_OPEN) < 0)
        cr_skip_test("inotify unavailable: %s", strerror(errno));
    t = open("/dev/full", O_RDONLY | O_CLOEXEC);
    cr_assert_geq(t, 0);
    close(t);
    if (read(in, ev, sizeof(ev)) <= 0)
        cr_skip_test("inotify does not report opens of /dev/full here");
    while (read(in, ev, sizeof(ev)) > 0)
        ;
    export_one(&b, &a, &h, &fd);
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    d = as_dax(&h, "full", full.st_rdev);
    cr_assert_eq(pmn_ipc_open(c, &d, fd, 0, &x), PMN_E_BAD_HANDLE);
    cr_assert_eq(read(in, ev, sizeof(ev)), -1, "pmn_ipc_open opened /dev/full, no dax device");
    cr_assert_eq(errno, EAGAIN);
    close(in);
    pmn_ipc_cache_free(c);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

/* Two opens at one address (the owner freed X and its block went to Y):
 * X's open stays stale, whatever Y's says. */
Test(ipc, valid_judges_each_open_by_its_own_generation)
{
    struct pmn_backing *b;
    struct pmn_arena *a;
    struct pmn_ipc_cache *c;
    struct pmn_ipc_handle hx, hy;
    void *x, *y, *ax, *ay;
    int fd;

    x = export_one(&b, &a, &hx, &fd);
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    cr_assert_eq(pmn_ipc_open(c, &hx, fd, 0, &ax), 0);
    cr_assert_eq(pmn_ipc_valid(c, ax), 0);
    cr_assert_eq(pmn_free(x), 0);
    cr_assert_eq(pmn_ipc_valid(c, ax), PMN_E_STALE_HANDLE);
    y = pmn_arena_malloc(a, 64);
    cr_assert_eq(y, x, "the arena did not reuse the freed block");
    cr_assert_eq(pmn_ipc_get(y, &hy, &fd), 0);
    cr_assert_eq(pmn_ipc_open(c, &hy, -1, 0, &ay), 0);
    cr_assert_eq(ay, ax);
    cr_assert_eq(pmn_ipc_valid(c, ax), PMN_E_STALE_HANDLE, "X's open was told X is live");
    /* A close ends the live open first: the stale one keeps the address
     * stale until it is closed too. */
    cr_assert_eq(pmn_ipc_close(c, ay), 0);
    cr_assert_eq(pmn_ipc_valid(c, ax), PMN_E_STALE_HANDLE);
    cr_assert_eq(pmn_ipc_close(c, ax), 0);
    cr_assert_eq(pmn_ipc_valid(c, ax), -ENOENT);
    cr_assert_eq(pmn_ipc_close(c, ax), -ENOENT);
    /* Y alone at the address: live. */
    cr_assert_eq(pmn_ipc_open(c, &hy, -1, 0, &ay), 0);
    cr_assert_eq(pmn_ipc_valid(c, ay), 0);
    cr_assert_eq(pmn_ipc_close(c, ay), 0);
    pmn_ipc_cache_free(c);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

/* ---- a hugetlbfs table its owner punched ----
 *
 * Sealing forbids shrinking the file, not punching holes in it.  On
 * hugetlbfs a load from a hole faults a huge page in, and with none free
 * in the pool that load is SIGBUS: an exporter that punched its own table
 * crashed every importer's next pmn_ipc_valid().  The importer now reads a
 * hugetlbfs table with a read that fails instead (a punched slot is
 * stale). */
#define POOL "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/"

static long pool_read(const char *name)
{
    long v = -1;
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), POOL "%s", name);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    if (fscanf(f, "%ld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

static bool pool_write(long nr)
{
    FILE *f = fopen(POOL "nr_hugepages", "w");
    bool ok;

    if (f == NULL)
        return false;
    ok = fprintf(f, "%ld\n", nr) > 0;
    return fclose(f) == 0 && ok;
}

Test(ipc, punched_hugetlb_table_reads_stale, .timeout = 60)
{
    const size_t huge = 2u << 20;
    struct pmn_backing_params *p;
    struct pmn_backing *b = NULL;
    struct pmn_region *r;
    struct pmn_ipc_cache *c;
    struct pmn_ipc_handle h;
    long nr, fr, restore = -1, need = 3, spare;
    void *x, *fill = MAP_FAILED;
    int fd, err, status;
    pid_t pid;

    huge_pool_lock();
    nr = pool_read("nr_hugepages");
    fr = pool_read("free_hugepages");
    if (nr < 0 || fr < 0)
        cr_skip_test("node 0 has no 2 MiB hugetlb pool");
    if (fr < need) {
        if (geteuid() != 0)
            cr_skip_test("node 0 has %ld free 2 MiB pages, %ld needed; lending needs root", fr,
                         need);
        restore = nr;
        if (!pool_write(nr + need - fr) || pool_read("free_hugepages") < need) {
            pool_write(restore);
            cr_skip_test("the kernel would not lend %ld huge pages on node 0", need);
        }
    }
    cr_assert_eq(pmn_backing_params_new(&p), 0);
    cr_assert_eq(pmn_backing_params_set_type(p, PMN_BACKING_HUGETLB), 0);
    cr_assert_eq(pmn_backing_params_set_node(p, 0), 0);
    cr_assert_eq(pmn_backing_params_set_page_size(p, huge), 0);
    cr_assert_eq(pmn_backing_params_set_shareable(p, true), 0);
    err = pmn_backing_new(ctx, p, &b);
    pmn_backing_params_free(p);
    cr_assert_eq(err, 0, "%s", pmn_strerror(err));
    cr_assert_eq(pmn_region_map(b, huge, &r), 0);
    strcpy(pmn_region_addr(r), "shared");
    cr_assert_eq(pmn_ipc_get_region(r, &h, &fd), 0);
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
    cr_assert_eq(pmn_ipc_open(c, &h, fd, 0, &x), 0);
    cr_assert_eq(pmn_ipc_valid(c, x), 0);
    /* The owner punches its table's page out, and the pool has no page
     * left to fault in there. */
    cr_assert_eq(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)huge), 0,
                 "punch: %s", strerror(errno));
    spare = pool_read("free_hugepages");
    if (spare > 0) {
        fill = mmap(NULL, (size_t)spare * huge, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
        cr_assert_neq(fill, MAP_FAILED, "taking the pool's %ld free pages: %s", spare,
                      strerror(errno));
    }
    cr_assert_eq(pool_read("free_hugepages"), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0)
        _exit(pmn_ipc_valid(c, x) == PMN_E_STALE_HANDLE ? 0 : 1);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    if (fill != MAP_FAILED)
        munmap(fill, (size_t)spare * huge);
    pmn_ipc_close(c, x);
    pmn_ipc_cache_free(c);
    pmn_region_unmap(r);
    pmn_backing_free(b);
    if (restore >= 0)
        pool_write(restore);
    cr_assert(!WIFSIGNALED(status), "pmn_ipc_valid() on a punched table: killed by signal %d",
              WTERMSIG(status));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "pmn_ipc_valid() on a punched table did not say stale");
}
