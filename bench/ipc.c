/*
 * ipc.c - IPC handle latency: libpmnode's handles against the raw path
 * written by hand (memfd + SCM_RIGHTS + mmap + munmap), in one run.
 *
 * Both sides live in this one process (owner and importer have separate
 * state: the importer's cache maps the file again, as another process
 * would), over a UNIX socketpair, so the figures are the calls' own cost
 * without a scheduler round trip.  Per operation, 4 KiB objects:
 *
 *   cold   pmn: pmn_ipc_get + pmn_ipc_send + pmn_ipc_recv + a new cache +
 *               pmn_ipc_open (dup the fd, map and check the table, map the
 *               4 MiB region, populate-read and move_pages the object) +
 *               pmn_ipc_close + pmn_ipc_cache_free + close(fd)
 *          raw: sendmsg(fd) + recvmsg + mmap of the object's page + read
 *               + munmap + close(fd)
 *   warm   pmn: pmn_ipc_get + pmn_ipc_open(fd -1: cached; the region
 *               already mapped by an open anchor object) + pmn_ipc_close
 *          raw: mmap of the object's page with an fd already held + read
 *               + munmap (what a hand-written importer without a cache
 *               does per object)
 *
 * The four cells run interleaved (rep 1 of each, then rep 2...), 7 reps of
 * --iters operations each; the figure is the median ns per operation with
 * the min-max spread, and the ratio pmn/raw of the medians.  A benchmark:
 * never fails on its numbers.  Usage: ipc [--iters N] [--reps N] [--node N]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pmnode.h"

#define OBJ 4096

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static __attribute__((noreturn)) void die(const char *what, int err)
{
    fprintf(stderr, "ipc: %s: %s\n", what, pmn_strerror(err));
    exit(1);
}

struct env {
    struct pmn_arena *a;
    void *obj, *anchor;
    struct pmn_ipc_handle h;
    int fd;      /* the backing's (owner's) */
    int sv[2];   /* owner -> importer */
    int held_fd; /* importer's fd for the raw warm path */
    struct pmn_ipc_cache *warm;
    void *anchor_at;
};

static void raw_send(int sock, int fd)
{
    char ctl[CMSG_SPACE(sizeof(int))], b = 1;
    struct iovec iov = {.iov_base = &b, .iov_len = 1};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    if (sendmsg(sock, &msg, 0) != 1)
        die("sendmsg", -errno);
}

static int raw_recv(int sock)
{
    char ctl[CMSG_SPACE(sizeof(int))], b;
    struct iovec iov = {.iov_base = &b, .iov_len = 1};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
    int fd;

    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1 || CMSG_FIRSTHDR(&msg) == NULL)
        die("recvmsg", -errno);
    memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
    return fd;
}

static volatile unsigned char sink;

static void raw_map_read(int fd, uint64_t off)
{
    void *p = mmap(NULL, OBJ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);

    if (p == MAP_FAILED)
        die("mmap", -errno);
    sink = *(volatile unsigned char *)p;
    munmap(p, OBJ);
}

static void op_pmn_cold(struct env *e)
{
    struct pmn_ipc_handle h;
    struct pmn_ipc_cache *c;
    int fd, err;
    void *x;

    if ((err = pmn_ipc_get(e->obj, &h, &fd)) || (err = pmn_ipc_send(e->sv[0], &h, fd)) ||
        (err = pmn_ipc_recv(e->sv[1], &h, &fd)) || (err = pmn_ipc_cache_new(&c)))
        die("cold get/send/recv", err);
    if ((err = pmn_ipc_open(c, &h, fd, 0, &x)))
        die("cold open", err);
    sink = *(volatile unsigned char *)x;
    pmn_ipc_close(c, x);
    pmn_ipc_cache_free(c);
    close(fd);
}

static void op_raw_cold(struct env *e)
{
    int fd;

    raw_send(e->sv[0], e->fd);
    fd = raw_recv(e->sv[1]);
    raw_map_read(fd, e->h.object_offset & ~(uint64_t)(OBJ - 1));
    close(fd);
}

static void op_pmn_warm(struct env *e)
{
    struct pmn_ipc_handle h;
    int fd, err;
    void *x;

    if ((err = pmn_ipc_get(e->obj, &h, &fd)) || (err = pmn_ipc_open(e->warm, &h, -1, 0, &x)))
        die("warm", err);
    sink = *(volatile unsigned char *)x;
    pmn_ipc_close(e->warm, x);
}

static void op_raw_warm(struct env *e)
{
    raw_map_read(e->held_fd, e->h.object_offset & ~(uint64_t)(OBJ - 1));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"pmn cold", "raw cold", "pmn warm", "raw warm"};
    void (*const ops[])(struct env *) = {op_pmn_cold, op_raw_cold, op_pmn_warm, op_raw_warm};
    enum { NCELL = 4, MAXREPS = 64 };
    struct pmn_backing_params *bp;
    struct pmn_backing *b;
    struct pmn_ctx *ctx;
    struct pmn_ipc_handle ha;
    struct env e = {0};
    uint64_t t[NCELL][MAXREPS], med[NCELL];
    int iters = 2000, reps = 7, node = 0, err, fd;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--node") && i + 1 < argc)
            node = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: ipc [--iters N] [--reps N] [--node N]\n");
            return 2;
        }
    }
    if (iters < 1 || reps < 1 || reps > MAXREPS)
        return 2;
    if ((err = pmn_ctx_new(&ctx)) || (err = pmn_backing_params_new(&bp)) ||
        (err = pmn_backing_params_set_type(bp, PMN_BACKING_MEMFD)) ||
        (err = pmn_backing_params_set_node(bp, node)) || (err = pmn_backing_new(ctx, bp, &b)) ||
        (err = pmn_arena_new(b, NULL, &e.a)))
        die("setup", err);
    pmn_backing_params_free(bp);
    e.obj = pmn_arena_malloc(e.a, OBJ);
    e.anchor = pmn_arena_malloc(e.a, OBJ);
    if (e.obj == NULL || e.anchor == NULL)
        die("malloc", -errno);
    memset(e.obj, 1, OBJ);
    memset(e.anchor, 2, OBJ);
    if ((err = pmn_ipc_get(e.obj, &e.h, &e.fd)) || (err = pmn_ipc_get(e.anchor, &ha, &fd)))
        die("get", err);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, e.sv) != 0)
        die("socketpair", -errno);
    e.held_fd = dup(e.fd);
    if ((err = pmn_ipc_cache_new(&e.warm)) ||
        (err = pmn_ipc_open(e.warm, &ha, fd, 0, &e.anchor_at)))
        die("warm cache", err);

    for (int c = 0; c < NCELL; c++) /* warm-up, untimed */
        for (int i = 0; i < iters / 10 + 1; i++)
            ops[c](&e);
    for (int r = 0; r < reps; r++)
        for (int c = 0; c < NCELL; c++) {
            uint64_t t0 = now_ns();
            for (int i = 0; i < iters; i++)
                ops[c](&e);
            t[c][r] = (now_ns() - t0) / (uint64_t)iters;
        }
    printf("ipc: handle get+open+close vs raw memfd+SCM_RIGHTS+mmap+munmap, %d B objects, "
           "node %d, %d reps x %d ops, ns/op median [min-max]\n",
           OBJ, node, reps, iters);
    for (int c = 0; c < NCELL; c++) {
        qsort(t[c], (size_t)reps, sizeof(t[c][0]), cmp_u64);
        med[c] = t[c][reps / 2];
        printf("  %-9s %8llu  [%llu-%llu]\n", names[c], (unsigned long long)med[c],
               (unsigned long long)t[c][0], (unsigned long long)t[c][reps - 1]);
    }
    printf("  ratio pmn/raw: cold %.2f, warm %.2f\n", (double)med[0] / (double)med[1],
           (double)med[2] / (double)med[3]);
    pmn_ipc_close(e.warm, e.anchor_at);
    pmn_ipc_cache_free(e.warm);
    close(e.held_fd);
    close(e.sv[0]);
    close(e.sv[1]);
    pmn_arena_destroy(e.a);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
    return 0;
}
