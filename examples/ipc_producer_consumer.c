/*
 * ipc_producer_consumer.c - packet buffers on a private node, written by one
 * process and read by another through IPC handles.
 *
 * The producer puts an arena over a shareable backing on one node, so every
 * buffer the arena hands out can be exported.  It fills buffers with
 * packets (a header with a sequence number, a length and a checksum), and
 * sends each buffer's handle over a UNIX socket: a read-only descriptor of
 * the backing's file goes with the first handle only (SCM_RIGHTS), the
 * consumer's cache keeps it.  Read-only because the consumer only reads:
 * with it the consumer can write nothing of the file, neither the buffers
 * nor the arena's bookkeeping around them (pmn_ipc(3), SECURITY).
 * The consumer is this same program, started by fork + exec with
 * --consumer: it opens every handle through a pmn_ipc_cache (which maps a
 * region of the producer's file once, however many buffers lie in it),
 * checks the buffer's placement in its own address space (pmn_where on its
 * mapping: every page on the handle's node) and its checksum, and holds it
 * open.  When it has read every buffer it checks that each is still the
 * producer's (pmn_ipc_valid), closes them all and says so; the producer
 * then frees one
 * buffer, allocates another (which may take its memory), and sends the
 * freed buffer's old handle again: the consumer must refuse it
 * (PMN_E_STALE_HANDLE), never show the new buffer's bytes as the old one.
 *
 * usage: ipc_producer_consumer [--node N] [--buffers N] [--size BYTES]
 *   --node N      node of the buffers (default: the private node nearest
 *                 the CPU this runs on); naming a shared node is allowed,
 *                 for trying the program on a machine without private memory
 *   --buffers N   buffers to send (default 256, at most 100000)
 *   --size BYTES  largest buffer (default 9000, 64 to 1048576); sizes vary
 *                 from 64 bytes up to it
 * Exit status: 0 every buffer arrived whole and on the node, 1 a call or a
 * check failed, 2 bad usage or no private node.
 *
 * Build against an installed libpmnode:
 *     cc ipc_producer_consumer.c $(pkg-config --cflags --libs pmnode) -o ipc_producer_consumer
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getcpu */
#endif
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pmnode.h>

/* What the producer writes at the start of every buffer. */
struct pkt {
    uint64_t seq;
    uint32_t len; /* payload bytes after the header */
    uint32_t sum; /* additive checksum of the payload */
};

static int parse_long(const char *s, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(s, &end, 10);
    return (*s && !*end && !errno && *out >= 0) ? 0 : -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: ipc_producer_consumer [--node N] [--buffers N] [--size BYTES]\n");
}

/* The private node nearest this CPU, or the lowest-numbered private node
 * when the kernel gives no distances to rank them.  PMN_E_NO_MATCH: none. */
static int pick_node(const struct pmn_ctx *ctx, int *node)
{
    int cpu = sched_getcpu(), err;
    const struct pmn_node *n;

    err = cpu >= 0 ? pmn_nearest_private_to_cpu(ctx, cpu, node) : PMN_E_UNKNOWN;
    if (err != PMN_E_UNKNOWN)
        return err;
    pmn_node_foreach (ctx, n) {
        if (pmn_node_is_private(n) && pmn_node_capacity(n) != 0) {
            *node = pmn_node_id(n);
            return 0;
        }
    }
    return PMN_E_NO_MATCH;
}

static size_t buf_size(uint64_t seq, size_t max)
{
    return 64 + (size_t)(seq * 7919 % (max - 63));
}

static void write_packet(unsigned char *b, size_t size, uint64_t seq)
{
    struct pkt h = {.seq = seq, .len = (uint32_t)(size - sizeof(h))};
    unsigned char *p = b + sizeof(h);

    for (uint32_t i = 0; i < h.len; i++) {
        p[i] = (unsigned char)(seq * 13 + i * 31);
        h.sum += p[i];
    }
    memcpy(b, &h, sizeof(h));
}

/* 0: the packet in @b (of @size bytes) is whole. */
static int check_packet(const unsigned char *b, size_t size)
{
    struct pkt h;
    uint32_t sum = 0;

    if (size < sizeof(h))
        return -1;
    memcpy(&h, b, sizeof(h));
    if (h.len > size - sizeof(h))
        return -1;
    for (uint32_t i = 0; i < h.len; i++)
        sum += b[sizeof(h) + i];
    return sum == h.sum ? 0 : -1;
}

/* ---- the consumer: --consumer SOCK N ---- */

/* Read @n buffers from @sock, say so, then expect one stale handle and
 * the end of the stream. */
static int consumer(int sock, uint64_t n)
{
    struct pmn_ipc_cache *cache = NULL;
    struct pmn_ipc_cache_stats cs = {.struct_size = sizeof(cs)};
    uint64_t buffers = 0, bytes = 0, pages = 0, elsewhere = 0, corrupt = 0, stale = 0;
    uint64_t writable = 0;
    void **open = calloc(n ? n : 1, sizeof(*open)); /* held until all are read */
    int node = -1, err, rc = 1;

    if (open == NULL) {
        err = -ENOMEM;
        goto fail;
    }
    if ((err = pmn_ipc_cache_new(&cache)) < 0)
        goto fail;
    for (;;) {
        struct pmn_ipc_handle h;
        struct pmn_where w = {.struct_size = sizeof(w)};
        void *addr;
        int fd;

        err = pmn_ipc_recv(sock, &h, &fd);
        if (err == -ECONNRESET)
            break; /* the producer is done */
        if (err < 0)
            goto fail;
        err = pmn_ipc_open(cache, &h, fd, 0, &addr);
        if (fd >= 0)
            close(fd); /* the cache holds its own */
        if (err == PMN_E_STALE_HANDLE && buffers == n) {
            stale++;
            printf("consumer: the handle of a freed buffer: refused (%s)\n", pmn_err_name(err));
            continue;
        }
        if (err < 0)
            goto fail;
        if (buffers == n) {
            err = -EPROTO; /* more buffers than announced */
            pmn_ipc_close(cache, addr);
            goto fail;
        }
        node = h.node;
        /* Placement as this process sees its own mapping: every page of
         * the buffer on the node the handle names (open verified it; this
         * is the reader's own look). */
        if ((err = pmn_where(addr, (size_t)h.object_len, &w)) < 0) {
            pmn_ipc_close(cache, addr);
            goto fail;
        }
        pages += w.pages;
        elsewhere += w.pages - pmn_where_pages_on(&w, h.node);
        if (check_packet(addr, (size_t)h.object_len) != 0)
            corrupt++;
        if (pmn_ipc_writable(cache, addr) != 0)
            writable++; /* the producer sent a read-only descriptor */
        open[buffers++] = addr;
        bytes += h.object_len;
        if (buffers < n)
            continue;
        /* All read: each still the producer's object?  Then close them
         * (the last close of a region unmaps it) and tell the producer,
         * which frees one next. */
        for (uint64_t i = 0; i < n; i++) {
            if (pmn_ipc_valid(cache, open[i]) != 0)
                corrupt++;
            if ((err = pmn_ipc_close(cache, open[i])) < 0)
                goto fail;
            open[i] = NULL;
        }
        if (write(sock, "R", 1) != 1) {
            err = -errno;
            goto fail;
        }
    }
    if ((err = pmn_ipc_cache_stats(cache, &cs)) < 0)
        goto fail;
    printf("consumer: %" PRIu64 " buffers, %" PRIu64 " bytes (usable sizes), %" PRIu64
           " corrupt, %" PRIu64 " mapped writable\n",
           buffers, bytes, corrupt, writable);
    printf("consumer: pages on node %d: %" PRIu64 " of %" PRIu64 ", %" PRIu64 " elsewhere\n", node,
           pages - elsewhere, pages, elsewhere);
    printf("consumer: cache: %" PRIu64 " opens, %" PRIu64 " maps, %" PRIu64
           " unmaps, %zu mapped now\n",
           cs.opens, cs.maps, cs.unmaps, cs.mapped);
    fflush(stdout);
    rc = 0;
    if (buffers != n || elsewhere || corrupt || stale != 1 || writable) {
        fprintf(stderr,
                "ipc_producer_consumer: consumer: %" PRIu64 " of %" PRIu64 " buffers, %" PRIu64
                " pages elsewhere, %" PRIu64 " corrupt, %" PRIu64
                " stale refused (want 1), %" PRIu64 " mapped writable (want 0)\n",
                buffers, n, elsewhere, corrupt, stale, writable);
        rc = 1;
    }
    goto out;
fail:
    fprintf(stderr, "ipc_producer_consumer: consumer: %s (%s)\n", pmn_strerror(err),
            pmn_err_name(err));
out:
    pmn_ipc_cache_free(cache); /* unmaps whatever a failure left open */
    free(open);
    return rc;
}

/* ---- the producer ---- */

/* Start the consumer: this program again, with --consumer. */
static pid_t start_consumer(const char *self, int sock, long n)
{
    char s[16], c[24], path[4096];
    ssize_t len;
    pid_t pid;

    snprintf(s, sizeof(s), "%d", sock);
    snprintf(c, sizeof(c), "%ld", n);
    /* The program's own path, resolved before the fork: exec'ing
     * /proc/self/exe itself starts whatever runs the process (under
     * valgrind, the tool rather than this program). */
    len = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (len <= 0 || (size_t)len >= sizeof(path) - 1)
        snprintf(path, sizeof(path), "/proc/self/exe");
    else
        path[len] = '\0';
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        execl(path, self, "--consumer", s, c, (char *)NULL);
        fprintf(stderr, "ipc_producer_consumer: exec: %s\n", strerror(errno));
        _exit(127);
    }
    return pid;
}

int main(int argc, char **argv)
{
    long node_opt = -1, nbuf = 256, max = 9000, v;
    struct pmn_ctx *ctx = NULL;
    struct pmn_backing_params *bp = NULL;
    struct pmn_backing *b = NULL;
    struct pmn_arena *a = NULL;
    const struct pmn_node *nd;
    unsigned char **bufs = NULL;
    struct pmn_ipc_handle old;
    uint64_t bytes = 0;
    int sv[2] = {-1, -1}, err = 0, node, rc = 1, st, fd, ro = -1;
    pid_t pid = -1;
    char ack;

    if (argc == 4 && strcmp(argv[1], "--consumer") == 0) {
        if (parse_long(argv[2], &v) < 0 || v > 1000000 || parse_long(argv[3], &nbuf) < 0) {
            usage();
            return 2;
        }
        return consumer((int)v, (uint64_t)nbuf);
    }
    for (int i = 1; i < argc; i++) {
        long *f = strcmp(argv[i], "--node") == 0      ? &node_opt
                  : strcmp(argv[i], "--buffers") == 0 ? &nbuf
                  : strcmp(argv[i], "--size") == 0    ? &max
                                                      : NULL;
        if (f == NULL || i + 1 == argc || parse_long(argv[++i], f) < 0) {
            usage();
            return 2;
        }
    }
    if (nbuf < 1 || nbuf > 100000 || max < 64 || max > (1L << 20)) {
        fprintf(stderr, "ipc_producer_consumer: --buffers is 1 to 100000, --size 64 to "
                        "1048576\n");
        return 2;
    }

    if ((err = pmn_ctx_new(&ctx)) < 0)
        goto fail;
    if (node_opt >= 0) {
        node = (int)node_opt;
    } else if ((err = pick_node(ctx, &node)) < 0) {
        printf("ipc_producer_consumer: no private node to put the buffers on: %s\n"
               "(name one with --node N; a shared node works for a try-out)\n",
               pmn_strerror(err));
        rc = 2;
        goto out;
    }
    if ((nd = pmn_node_get(ctx, node)) == NULL) {
        printf("ipc_producer_consumer: there is no node %d\n", node);
        rc = 2;
        goto out;
    }
    /* A shareable backing: one memfd holds every region, so every buffer
     * the arena hands out can be exported. */
    if ((err = pmn_backing_params_new(&bp)) < 0 ||
        (err = pmn_backing_params_set_node(bp, node)) < 0 ||
        (err = pmn_backing_params_set_shareable(bp, true)) < 0 ||
        (err = pmn_backing_new(ctx, bp, &b)) < 0 || (err = pmn_arena_new(b, NULL, &a)) < 0)
        goto fail;
    printf("producer: %ld buffers of 64 to %ld bytes on node %d (%s, %s, isolation %s), "
           "shareable backing\n",
           nbuf, max, node, pmn_kind_name(pmn_node_kind(nd)),
           pmn_node_is_private(nd) ? "private" : "shared",
           pmn_isolation_name(pmn_node_isolation(nd)));

    if ((bufs = calloc((size_t)nbuf, sizeof(*bufs))) == NULL) {
        err = -ENOMEM;
        goto fail;
    }
    /* SOCK_SEQPACKET: one handle per message, and the end is seen. */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        err = -errno;
        goto fail;
    }
    /* The consumer's end survives its exec; ours does not reach it. */
    {
        int keep = dup(sv[1]); /* without close-on-exec */
        if (keep < 0) {
            err = -errno;
            goto fail;
        }
        pid = start_consumer(argv[0], keep, nbuf);
        close(keep);
        close(sv[1]);
        sv[1] = -1;
        if (pid < 0) {
            err = -errno;
            goto fail;
        }
    }

    for (long i = 0; i < nbuf; i++) {
        size_t size = buf_size((uint64_t)i, (size_t)max);
        struct pmn_ipc_handle h;

        if ((bufs[i] = pmn_arena_malloc(a, size)) == NULL) {
            err = -errno;
            goto fail;
        }
        write_packet(bufs[i], size, (uint64_t)i);
        if ((err = pmn_ipc_get(bufs[i], &h, &fd)) < 0)
            goto fail;
        /* The file goes once, read-only: the consumer's cache keeps it. */
        if (i == 0 && (err = pmn_ipc_fd_readonly(fd, &ro)) < 0)
            goto fail;
        if ((err = pmn_ipc_send(sv[0], &h, i == 0 ? ro : -1)) < 0)
            goto fail;
        if (i == 0)
            old = h;
        bytes += size;
    }
    /* Wait until the consumer has read them all, then free the first
     * buffer, take another (it may reuse the memory) and send the old
     * handle: it is stale now. */
    if (read(sv[0], &ack, 1) != 1 || ack != 'R') {
        err = -EPROTO;
        goto fail;
    }
    pmn_free(bufs[0]);
    if ((bufs[0] = pmn_arena_malloc(a, buf_size(0, (size_t)max))) == NULL) {
        err = -errno;
        goto fail;
    }
    memset(bufs[0], 0xee, buf_size(0, (size_t)max));
    if ((err = pmn_ipc_send(sv[0], &old, -1)) < 0)
        goto fail;
    printf("producer: %ld buffers sent, %" PRIu64 " bytes; then one freed and its old handle "
           "sent\n",
           nbuf, bytes);
    fflush(stdout);
    shutdown(sv[0], SHUT_WR);
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            err = -errno;
            goto fail;
        }
    pid = -1;
    rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    if (rc == 0)
        printf("ok: the consumer read every buffer whole, on node %d\n", node);
    goto out;
fail:
    fprintf(stderr, "ipc_producer_consumer: %s (%s)\n", pmn_strerror(err), pmn_err_name(err));
out:
    if (ro >= 0)
        close(ro); /* ours (the backing's own fd is the backing's) */
    if (sv[0] >= 0)
        close(sv[0]); /* the consumer sees the end, and exits */
    if (pid > 0)
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    if (bufs != NULL)
        for (long i = 0; i < nbuf; i++)
            pmn_free(bufs[i]);
    free(bufs);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    pmn_backing_params_free(bp);
    pmn_ctx_unref(ctx);
    return rc;
}
