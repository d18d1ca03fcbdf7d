/*
 * vm-ipc.c - IPC handles on a real kernel with a second node (runs inside
 * the QEMU guest of tests/vm).
 *
 *   vm-ipc share NODE          an arena object on NODE, exported by the
 *                              parent and opened by a child: the child's
 *                              mapping has every page on NODE, sees the
 *                              parent's data, and its writes reach the parent
 *   vm-ipc node-changed NODE   the owner migrates an exported object's pages
 *                              from NODE to node 0 (move_pages): opening the
 *                              handle then fails with PMN_E_NODE_CHANGED,
 *                              never a mapping of memory on the wrong node
 *   vm-ipc dax DEVICE          an arena on a shareable device-dax backing
 *                              (/dev/DEVICE): a child opens its objects and a
 *                              region (the device opened by name, the table
 *                              memfd passed), reads and writes across; stale
 *                              after free and unmap; a wrong name, another
 *                              character device, a wrong node refused
 *
 * Prints "ok: ..." lines and exits 0 on success, 1 on failure, 77 when the
 * topology lacks what the test needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PMN_HARNESS_PROGRAM
#include "harness.h"
#include "pmnode.h"

#define OBJ (256u << 10)

static struct pmn_arena *arena_on(int node, struct pmn_backing **bo)
{
    struct pmn_backing_params *p;
    struct pmn_backing *b;
    struct pmn_arena *a;
    struct pmn_ctx *ctx;
    int err;

    if ((err = pmn_ctx_new(&ctx)) || (err = pmn_backing_params_new(&p)) ||
        (err = pmn_backing_params_set_type(p, PMN_BACKING_MEMFD)) ||
        (err = pmn_backing_params_set_node(p, node)) ||
        (err = pmn_backing_params_set_headroom(p, 8u << 20)) ||
        (err = pmn_backing_new(ctx, p, &b)) || (err = pmn_arena_new(b, NULL, &a)))
        FAIL("setup on node %d: %s", node, pmn_strerror(err));
    pmn_backing_params_free(p);
    pmn_ctx_unref(ctx);
    *bo = b;
    return a;
}

/* Pages of [p, p+len) on @node (pmn_where). */
static uint64_t pages_on(const void *p, size_t len, int node, uint64_t *total)
{
    struct pmn_where w = {.struct_size = sizeof(w)};
    int err = pmn_where(p, len, &w);

    if (err)
        FAIL("pmn_where: %s", pmn_strerror(err));
    *total = w.pages;
    return pmn_where_pages_on(&w, node);
}

static int share(int node)
{
    struct pmn_backing *b;
    struct pmn_arena *a = arena_on(node, &b);
    struct pmn_ipc_handle h;
    unsigned char *o = pmn_arena_malloc(a, OBJ);
    int sv[2], fd, status = 0, err;
    char ack;
    pid_t pid;

    if (o == NULL)
        FAIL("malloc on node %d: %s", node, strerror(errno));
    memset(o, 0x3c, OBJ);
    if ((err = pmn_ipc_get(o, &h, &fd)))
        FAIL("pmn_ipc_get: %s", pmn_strerror(err));
    if (h.node != node)
        FAIL("handle records node %d, not %d", h.node, node);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
        FAIL("socketpair: %s", strerror(errno));
    pid = fork();
    if (pid == 0) {
        struct pmn_ipc_cache *c;
        uint64_t on, total;
        unsigned char *x;
        void *v;
        close(sv[0]);
        if (pmn_ipc_cache_new(&c) || pmn_ipc_recv(sv[1], &h, &fd))
            _exit(10);
        if ((err = pmn_ipc_open(c, &h, fd, 0, &v))) {
            fprintf(stderr, "child open: %s\n", pmn_strerror(err));
            _exit(11);
        }
        x = v;
        if (x[0] != 0x3c || x[OBJ - 1] != 0x3c)
            _exit(12);
        on = pages_on(x, OBJ, node, &total);
        if (on != total || total == 0)
            _exit(13);
        memset(x, 0xc3, OBJ);
        if (pmn_ipc_close(c, v) || write(sv[1], &ack, 1) != 1)
            _exit(14);
        pmn_ipc_cache_free(c);
        _exit(0);
    }
    close(sv[1]);
    if ((err = pmn_ipc_send(sv[0], &h, fd)))
        FAIL("send: %s", pmn_strerror(err));
    if (read(sv[0], &ack, 1) != 1 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        FAIL("the importing child failed (status %#x)", status);
    if (o[0] != 0xc3 || o[OBJ - 1] != 0xc3)
        FAIL("the child's writes did not reach the owner");
    printf("ok: an object on node %d opened in a child with every page on node %d, data both "
           "ways\n",
           node, node);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    return 0;
}

static int node_changed(int node)
{
    struct pmn_backing *b;
    struct pmn_arena *a = arena_on(node, &b);
    struct pmn_ipc_cache *c;
    struct pmn_ipc_handle h;
    unsigned char *o = pmn_arena_malloc(a, OBJ);
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = OBJ / page;
    void **pages = calloc(n, sizeof(*pages)), *v;
    int *to = calloc(n, sizeof(int)), *st = calloc(n, sizeof(int)), fd, err;
    uint64_t on, total;
    size_t moved = 0;

    if (o == NULL || pages == NULL || to == NULL || st == NULL)
        FAIL("allocation");
    memset(o, 0x11, OBJ);
    if ((err = pmn_ipc_get(o, &h, &fd)) || (err = pmn_ipc_cache_new(&c)))
        FAIL("get: %s", pmn_strerror(err));
    /* Before: the object opens, every page on the node. */
    if ((err = pmn_ipc_open(c, &h, fd, 0, &v)))
        FAIL("open before the move: %s", pmn_strerror(err));
    if (pmn_ipc_close(c, v))
        FAIL("close");
    /* The owner moves the pages to node 0 (only it maps them now). */
    for (size_t i = 0; i < n; i++) {
        pages[i] = o + i * page;
        to[i] = 0;
    }
    if (syscall(SYS_move_pages, 0, (unsigned long)n, pages, to, st, 0) < 0)
        FAIL("move_pages: %s", strerror(errno));
    for (size_t i = 0; i < n; i++)
        moved += st[i] == 0;
    on = pages_on(o, OBJ, 0, &total);
    if (moved == 0 || on == 0)
        FAIL("move_pages moved nothing to node 0 (status of page 0: %d)", st[0]);
    err = pmn_ipc_open(c, &h, fd, 0, &v);
    if (err != PMN_E_NODE_CHANGED)
        FAIL("open after %zu of %zu pages moved to node 0: %s, not PMN_E_NODE_CHANGED", moved, n,
             err ? pmn_strerror(err) : "success");
    printf("ok: %zu of %zu pages moved from node %d to 0 in the owner: open refused with "
           "PMN_E_NODE_CHANGED\n",
           moved, n, node);
    pmn_ipc_cache_free(c);
    free(pages);
    free(to);
    free(st);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    return 0;
}

/* ---- device-dax ---- */

#define DOBJ (64u << 10)

/* The child's side of "dax": every step answers one byte (its result code,
 * 0 for the expected outcome) so the parent reports which step failed. */
static int dax_child(int sock)
{
    struct pmn_ipc_cache *c, *c2;
    struct pmn_ipc_cache_stats st = {.struct_size = sizeof(st)};
    struct pmn_ipc_handle h1, h2, hr, bad;
    struct stat fst;
    void *v1, *v2, *vr, *x;
    int fd = -1, fd2 = -1, fdr = -1, err, nul, eacces = 0;
    char ok = 0, go, path[64];

    if (pmn_ipc_cache_new(&c) || pmn_ipc_cache_new(&c2))
        return 20;
    if (pmn_ipc_recv(sock, &h1, &fd) || pmn_ipc_recv(sock, &h2, &fd2) ||
        pmn_ipc_recv(sock, &hr, &fdr))
        return 21;
    /* The fd passed is the table's memfd, not the device. */
    if (fd < 0 || fstat(fd, &fst) || S_ISCHR(fst.st_mode) || h1.kind != PMN_IPC_KIND_DAX)
        return 22;
    if ((err = pmn_ipc_open(c, &h1, fd, 0, &v1)) != 0) {
        fprintf(stderr, "child: open object 1: %s\n", pmn_strerror(err));
        return 23;
    }
    if ((err = pmn_ipc_open(c, &h2, fd2, 0, &v2)) != 0) {
        fprintf(stderr, "child: open object 2: %s\n", pmn_strerror(err));
        return 24;
    }
    if (((unsigned char *)v1)[0] != 0x3c || ((unsigned char *)v1)[DOBJ - 1] != 0x3c ||
        ((unsigned char *)v2)[0] != 0x5a)
        return 25;
    if (pmn_ipc_cache_stats(c, &st) || st.backings != 1 || st.maps != 1)
        return 26; /* one device fd, one mapping for both objects of a segment */
    memset(v1, 0xc3, DOBJ);
    if ((err = pmn_ipc_open(c, &hr, fdr, 0, &vr)) != 0) {
        fprintf(stderr, "child: open region: %s\n", pmn_strerror(err));
        return 27;
    }
    if (((unsigned char *)vr)[0] != 0x77 || ((unsigned char *)vr)[hr.object_len - 1] != 0x77)
        return 28;
    ((unsigned char *)vr)[1] = 0x88;
    if (pmn_ipc_close(c, v1) || pmn_ipc_close(c, v2) || pmn_ipc_valid(c, vr) != 0)
        return 29;
    if (write(sock, &ok, 1) != 1 || read(sock, &go, 1) != 1)
        return 30;
    /* The owner freed object 1 and unmapped the region. */
    if (pmn_ipc_open(c, &h1, -1, 0, &x) != PMN_E_STALE_HANDLE)
        return 31;
    if (pmn_ipc_valid(c, vr) != PMN_E_STALE_HANDLE || pmn_ipc_close(c, vr))
        return 32;
    /* Wrong device names, on a fresh cache (the device is opened by name). */
    bad = h2;
    snprintf(bad.dax_name, sizeof(bad.dax_name), "dax9.9");
    if ((err = pmn_ipc_open(c2, &bad, fd2, 0, &x)) != -ENOENT) {
        fprintf(stderr, "child: dax9.9: %s\n", pmn_strerror(err));
        return 33;
    }
    snprintf(bad.dax_name, sizeof(bad.dax_name), "../dax0.0");
    if (pmn_ipc_open(c2, &bad, fd2, 0, &x) != PMN_E_BAD_HANDLE)
        return 34;
    nul = stat("/dev/null", &fst);
    snprintf(bad.dax_name, sizeof(bad.dax_name), "null");
    bad.dax_rdev = nul == 0 ? fst.st_rdev : 0;
    if (pmn_ipc_open(c2, &bad, fd2, 0, &x) != PMN_E_BAD_HANDLE)
        return 35;
    bad = h2;
    bad.dax_rdev++;
    if (pmn_ipc_open(c2, &bad, fd2, 0, &x) != PMN_E_BAD_HANDLE)
        return 36;
    /* Another node than the device's: refused, cached or not. */
    bad = h2;
    bad.node = h2.node == 0 ? 2 : 0;
    if ((err = pmn_ipc_open(c2, &bad, fd2, 0, &x)) != PMN_E_NODE_CHANGED) {
        fprintf(stderr, "child: node %d: %s\n", bad.node, pmn_strerror(err));
        return 37;
    }
    if (pmn_ipc_open(c, &bad, -1, 0, &x) != PMN_E_NODE_CHANGED)
        return 38;
    /* Permission is the device node's: a process that may not open
     * /dev/<name> gets open()'s -EACCES, even with the table's fd. */
    snprintf(path, sizeof(path), "/dev/%s", h2.dax_name);
    if (getuid() == 0 && stat(path, &fst) == 0 && !(fst.st_mode & 0006)) {
        pid_t gc = fork();
        int gst = 0;
        if (gc == 0) {
            struct pmn_ipc_cache *c3;
            if (setgid(65534) || setuid(65534) || pmn_ipc_cache_new(&c3))
                _exit(2);
            err = pmn_ipc_open(c3, &h2, fd2, 0, &x);
            if (err != -EACCES)
                fprintf(stderr, "child as nobody: %s\n", err ? pmn_strerror(err) : "opened");
            _exit(err == -EACCES ? 0 : 1);
        }
        if (gc < 0 || waitpid(gc, &gst, 0) != gc || !WIFEXITED(gst) || WEXITSTATUS(gst) != 0)
            return 41;
        eacces = 1;
    }
    /* Object 2 still opens from the cache (no fd needed). */
    if (pmn_ipc_open(c, &h2, -1, 0, &x) || ((unsigned char *)x)[0] != 0x5a || pmn_ipc_close(c, x))
        return 39;
    pmn_ipc_cache_free(c);
    pmn_ipc_cache_free(c2);
    ok = (char)eacces; /* 1: the -EACCES step ran */
    if (write(sock, &ok, 1) != 1)
        return 40;
    return 0;
}

static int dax(const char *name)
{
    struct pmn_backing_params *p;
    struct pmn_backing *b;
    struct pmn_arena *a;
    struct pmn_region *r;
    struct pmn_ctx *ctx;
    struct pmn_ipc_handle h1, h2, hr;
    char path[64], ack;
    unsigned char *o1, *o2, *rr;
    int sv[2], fd, status = 0, err;
    pid_t pid;

    snprintf(path, sizeof(path), "/dev/%s", name);
    if (access(path, F_OK) != 0) {
        printf("skip: %s absent\n", path);
        return 77;
    }
    if ((err = pmn_ctx_new(&ctx)) || (err = pmn_backing_params_new(&p)) ||
        (err = pmn_backing_params_set_type(p, PMN_BACKING_DAX)) ||
        (err = pmn_backing_params_set_dax(p, name)) ||
        (err = pmn_backing_params_set_shareable(p, true)) || (err = pmn_backing_new(ctx, p, &b)))
        FAIL("shareable dax backing on %s: %s", path, pmn_strerror(err));
    pmn_backing_params_free(p);
    if (!pmn_backing_shareable(b))
        FAIL("the dax backing does not say it is shareable");
    if ((err = pmn_arena_new(b, NULL, &a)))
        FAIL("arena on %s: %s", path, pmn_strerror(err));
    o1 = pmn_arena_malloc(a, DOBJ);
    o2 = pmn_arena_malloc(a, 256);
    if (o1 == NULL || o2 == NULL)
        FAIL("malloc on %s: %s", path, strerror(errno));
    memset(o1, 0x3c, DOBJ);
    memset(o2, 0x5a, 256);
    if ((err = pmn_ipc_get(o1, &h1, &fd)) || (err = pmn_ipc_get(o2, &h2, &fd)))
        FAIL("pmn_ipc_get: %s", pmn_strerror(err));
    if (h1.kind != PMN_IPC_KIND_DAX || strcmp(h1.dax_name, name) != 0 || h1.dax_rdev == 0 ||
        h1.page_size != pmn_backing_granule(b) || h1.region_offset % h1.page_size)
        FAIL("handle: kind %u, name \"%.32s\", rdev %#llx, unit %llu, region at %#llx", h1.kind,
             h1.dax_name, (unsigned long long)h1.dax_rdev, (unsigned long long)h1.page_size,
             (unsigned long long)h1.region_offset);
    if ((err = pmn_region_map(b, pmn_backing_granule(b), &r)))
        FAIL("region on %s: %s", path, pmn_strerror(err));
    rr = pmn_region_addr(r);
    memset(rr, 0x77, pmn_region_size(r));
    if ((err = pmn_ipc_get_region(r, &hr, &fd)))
        FAIL("pmn_ipc_get_region: %s", pmn_strerror(err));
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
        FAIL("socketpair: %s", strerror(errno));
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        _exit(dax_child(sv[1]));
    }
    close(sv[1]);
    if ((err = pmn_ipc_send(sv[0], &h1, fd)) || (err = pmn_ipc_send(sv[0], &h2, fd)) ||
        (err = pmn_ipc_send(sv[0], &hr, fd)))
        FAIL("send: %s", pmn_strerror(err));
    if (read(sv[0], &ack, 1) != 1) {
        waitpid(pid, &status, 0);
        FAIL("the importing child failed at step %d",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    if (o1[0] != 0xc3 || o1[DOBJ - 1] != 0xc3 || rr[1] != 0x88)
        FAIL("the child's writes did not reach the owner");
    printf("ok: %s (node %d, unit %llu KiB): two objects and a region opened in a child (one "
           "device fd, one mapping per region), data both ways\n",
           name, h1.node, (unsigned long long)(h1.page_size >> 10));
    if (pmn_free(o1) || pmn_region_unmap(r))
        FAIL("free / unmap");
    ack = 1;
    if (write(sv[0], &ack, 1) != 1 || read(sv[0], &ack, 1) != 1) {
        waitpid(pid, &status, 0);
        FAIL("the importing child failed at step %d",
             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        FAIL("the importing child failed (status %#x)", status);
    printf("ok: stale after free and after unmap; dax9.9 -> ENOENT, ../dax0.0, /dev/null and "
           "a wrong st_rdev -> PMN_E_BAD_HANDLE; another node -> PMN_E_NODE_CHANGED\n");
    if (ack == 1)
        printf("ok: a process that may not open /dev/%s (uid 65534) gets -EACCES\n", name);
    else
        printf("note: the -EACCES step did not run (not root, or /dev/%s is world-accessible)\n",
               name);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vm-ipc share|node-changed NODE | vm-ipc dax DEVICE\n");
        return 2;
    }
    if (!strcmp(argv[1], "share"))
        return share(atoi(argv[2]));
    if (!strcmp(argv[1], "node-changed"))
        return node_changed(atoi(argv[2]));
    if (!strcmp(argv[1], "dax"))
        return dax(argv[2]);
    fprintf(stderr, "vm-ipc: unknown case %s\n", argv[1]);
    return 2;
}
