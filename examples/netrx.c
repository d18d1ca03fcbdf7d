/*
 * netrx.c - a receive path on a private node: packet buffers from a
 * capped slab, registered with io_uring as fixed buffers.
 *
 * Three threads, as a network stack has them:
 *   sender    writes --packets packets of --size bytes into a socketpair
 *             (AF_UNIX SOCK_SEQPACKET), or loopback TCP with --tcp;
 *   receiver  allocates a buffer from the pool for each packet and reads
 *             the packet into it: io_uring_prep_read_fixed() with the
 *             buffer's registered index, or recv() where io_uring is not
 *             there (built without liburing, the kernel or sandbox refuses
 *             io_uring, or --plain), then hands it to the consumer;
 *   consumer  checks the packet (sequence and checksum) and that its
 *             buffer lies in the pool's memory on the pool's node, then
 *             frees it: every free comes from another thread than the
 *             allocation.
 *
 * Registration: the pool's buffers are allocated up front by the receiver
 * (the thread that will allocate from it later) and freed, so its extents
 * are mapped, populated and verified before the first packet; the pool's
 * extents are then listed with pmn_slab_extents() and registered as one
 * iovec each with io_uring_register_buffers(): a buffer's buf_index is the
 * extent holding it.  The backing's hooks (pmn_backing_set_hooks) see every
 * extent mapped and unmapped; one mapped after registration would hold
 * buffers io_uring does not know, so those packets are read with recv()
 * and counted ("late extents"), never with a wrong index.
 *
 * At the end it prints which path ran, packets/s, bytes, the bytes per node
 * (the node of each buffer's extent) and where the pool's pages are
 * (pmn_where).  --malloc reads into malloc'd buffers with recv() instead,
 * the baseline for bench/netrx.
 *
 * usage: netrx [--node N] [--packets N] [--size BYTES] [--buf BYTES]
 *              [--pool N] [--tcp] [--plain] [--malloc]
 *   --node N      node of the pool (default: the private node nearest the
 *                 CPU this runs on; node 0, with a note, when there is none)
 *   --packets N   packets to send (default 200000)
 *   --size BYTES  packet size (default 1500, at least 64, at most --buf)
 *   --buf BYTES   buffer size (default 2048)
 *   --pool N      buffers in the pool, its cap (default 1024)
 *   --tcp         loopback TCP instead of a socketpair
 *   --plain       recv() even where io_uring works
 *   --malloc      malloc'd buffers and recv() (no pool, no registration)
 * Exit status: 0 done, 1 a packet was lost, corrupt or misplaced or a call
 * failed, 2 bad usage.
 *
 * Build against an installed libpmnode (add -DHAVE_LIBURING and liburing's
 * flags for the io_uring path):
 *     cc netrx.c $(pkg-config --cflags --libs pmnode) -pthread -o netrx
 *     cc -DHAVE_LIBURING netrx.c $(pkg-config --cflags --libs pmnode liburing) \
 *        -pthread -o netrx
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getcpu */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif
#include <pmnode.h>

#define MAX_EXT 64

struct opts {
    long node, packets, size, buf, pool;
    bool tcp, plain, use_malloc;
};

/* The pool's extents as the hooks saw them.  Written by the hooks, read
 * by the receiver and consumer: under the lock. */
struct extents {
    pthread_mutex_t lock;
    struct pmn_extent e[MAX_EXT];
    bool live[MAX_EXT];
    int reg[MAX_EXT]; /* io_uring buffer index, -1: not registered */
    size_t n;
    unsigned late; /* extents mapped after registration */
    bool registered;
};

/* Single producer, single consumer ring of received buffers. */
#define QLEN 4096
struct queue {
    void *_Atomic slot[QLEN];
    _Atomic uint64_t head, tail; /* head: next to pop; tail: next to push */
};

struct app {
    struct opts o;
    int node, rx_fd, tx_fd;
    struct pmn_slab *slab;
    struct extents ext;
    struct queue q;
    const char *path; /* which receive path ran */
    char why[160];    /* why io_uring did not */
    uint64_t received, stalls, late_reads, rx_bytes;
    uint64_t checked, corrupt, misplaced, foreign;
    uint64_t node_bytes[MAX_EXT]; /* per extent, for bytes per node */
    uint64_t other_bytes;
    _Atomic int ready;     /* the receiver is ready: the sender may start */
    double t_start, t_end; /* receiver ready, consumer done */
    int err;
};

static int parse_long(const char *s, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(s, &end, 10);
    return (*s && !*end && !errno && *out >= 0) ? 0 : -1;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const char *const names[] = {"--node", "--packets", "--size", "--buf", "--pool"};
    long *fields[] = {&o->node, &o->packets, &o->size, &o->buf, &o->pool};

    for (int i = 1; i < argc; i++) {
        size_t k = 0;
        if (strcmp(argv[i], "--tcp") == 0) {
            o->tcp = true;
            continue;
        }
        if (strcmp(argv[i], "--plain") == 0) {
            o->plain = true;
            continue;
        }
        if (strcmp(argv[i], "--malloc") == 0) {
            o->use_malloc = true;
            continue;
        }
        while (k < sizeof(names) / sizeof(names[0]) && strcmp(argv[i], names[k]) != 0)
            k++;
        if (k == sizeof(names) / sizeof(names[0]) || i + 1 == argc ||
            parse_long(argv[++i], fields[k]) < 0)
            goto usage;
    }
    if (o->size < 64 || o->buf < o->size || o->buf > 65536 || o->pool < 4 || o->pool > 1000000 ||
        o->packets < 1)
        goto usage;
    return 0;
usage:
    fprintf(stderr, "usage: netrx [--node N] [--packets N] [--size BYTES] [--buf BYTES] "
                    "[--pool N] [--tcp] [--plain] [--malloc]\n"
                    "  (--size 64 to --buf, --buf at most 65536, --pool at least 4)\n");
    return -1;
}

/* ---- packets ---- */

struct pkt {
    uint64_t seq;
    uint32_t sum; /* additive checksum of the payload */
    uint32_t pad;
};

static void pkt_fill(unsigned char *b, size_t size, uint64_t seq)
{
    struct pkt h = {.seq = seq};

    for (size_t i = sizeof(h); i < size; i++) {
        b[i] = (unsigned char)(seq * 13 + i * 31);
        h.sum += b[i];
    }
    memcpy(b, &h, sizeof(h));
}

static bool pkt_ok(const unsigned char *b, size_t size, uint64_t seq)
{
    struct pkt h;
    uint32_t sum = 0;

    memcpy(&h, b, sizeof(h));
    for (size_t i = sizeof(h); i < size; i++)
        sum += b[i];
    return h.seq == seq && h.sum == sum;
}

/* ---- the pool's extents ---- */

static double now_s(void);

static int on_map(const struct pmn_extent *e, void *arg)
{
    struct extents *x = arg;
    int rc = 0;

    pthread_mutex_lock(&x->lock);
    if (x->n == MAX_EXT) {
        rc = -ENOSPC; /* more extents than this program tracks: refuse the map */
    } else {
        x->e[x->n] = *e;
        x->live[x->n] = true;
        x->reg[x->n] = -1;
        x->n++;
        if (x->registered)
            x->late++;
    }
    pthread_mutex_unlock(&x->lock);
    return rc;
}

static void on_unmap(const struct pmn_extent *e, void *arg)
{
    struct extents *x = arg;

    pthread_mutex_lock(&x->lock);
    for (size_t i = 0; i < x->n; i++)
        if (x->live[i] && x->e[i].addr == e->addr)
            x->live[i] = false;
    pthread_mutex_unlock(&x->lock);
}

/* The live extent holding [p, p+len), or -1. */
static int ext_find(struct extents *x, const void *p, size_t len)
{
    int at = -1;

    pthread_mutex_lock(&x->lock);
    for (size_t i = 0; i < x->n && at < 0; i++) {
        const char *a = x->e[i].addr;
        if (x->live[i] && (const char *)p >= a && (const char *)p + len <= a + x->e[i].len)
            at = (int)i;
    }
    pthread_mutex_unlock(&x->lock);
    return at;
}

/* ---- receive paths ---- */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read one packet of @size bytes into @b with recv: 0, 1 at end of stream,
 * or -errno. */
static int recv_packet(int fd, unsigned char *b, size_t size)
{
    size_t got = 0;

    while (got < size) {
        ssize_t n = recv(fd, b + got, size - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return got == 0 ? 1 : -EPROTO;
        got += (size_t)n;
    }
    return 0;
}

#ifdef HAVE_LIBURING
/* The same with IORING_OP_READ_FIXED from registered buffer @idx. */
static int uring_packet(struct io_uring *ring, int fd, unsigned char *b, size_t size, int idx)
{
    size_t got = 0;

    while (got < size) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
        struct io_uring_cqe *cqe;
        int res, err;

        if (sqe == NULL)
            return -EBUSY;
        io_uring_prep_read_fixed(sqe, fd, b + got, (unsigned)(size - got), 0, idx);
        err = io_uring_submit_and_wait(ring, 1);
        if (err < 0)
            return err;
        if ((err = io_uring_wait_cqe(ring, &cqe)) < 0)
            return err;
        res = cqe->res;
        io_uring_cqe_seen(ring, cqe);
        if (res == -EINTR || res == -EAGAIN)
            continue;
        if (res < 0)
            return res;
        if (res == 0)
            return got == 0 ? 1 : -EPROTO;
        got += (size_t)res;
    }
    return 0;
}

/* Register every live extent as one fixed buffer: 0, or why not. */
static int uring_register(struct app *a, struct io_uring *ring)
{
    struct iovec iov[MAX_EXT];
    unsigned n = 0;
    int err;

    pthread_mutex_lock(&a->ext.lock);
    for (size_t i = 0; i < a->ext.n; i++) {
        if (!a->ext.live[i])
            continue;
        iov[n].iov_base = a->ext.e[i].addr;
        iov[n].iov_len = a->ext.e[i].len;
        a->ext.reg[i] = (int)n++;
    }
    err = io_uring_register_buffers(ring, iov, n);
    if (err < 0)
        for (size_t i = 0; i < a->ext.n; i++)
            a->ext.reg[i] = -1;
    else
        a->ext.registered = true;
    pthread_mutex_unlock(&a->ext.lock);
    return err;
}
#endif

static void push(struct queue *q, void *p)
{
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);

    while (t - atomic_load_explicit(&q->head, memory_order_acquire) >= QLEN)
        sched_yield();
    atomic_store_explicit(&q->slot[t % QLEN], p, memory_order_relaxed);
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
}

static void *pop(struct queue *q)
{
    uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    void *p;

    while (atomic_load_explicit(&q->tail, memory_order_acquire) == h)
        sched_yield();
    p = atomic_load_explicit(&q->slot[h % QLEN], memory_order_relaxed);
    atomic_store_explicit(&q->head, h + 1, memory_order_release);
    return p;
}

#define END_OF_STREAM ((void *)1)

static void *receiver(void *arg)
{
    struct app *a = arg;
    size_t size = (size_t)a->o.size, buf = (size_t)a->o.buf;
    bool uring = false;
#ifdef HAVE_LIBURING
    struct io_uring ring;
#endif

    if (!a->o.use_malloc) {
        /* The whole pool up front: mapped, populated, verified and
         * registered (the hooks ran) before the first packet, so the
         * receive path never maps or faults. */
        int err = pmn_slab_reserve(a->slab, (size_t)a->o.pool);
        if (err < 0) {
            a->err = err;
            goto done;
        }
    }
    a->path = a->o.use_malloc ? "recv into malloc'd buffers" : "recv (not registered)";
#ifdef HAVE_LIBURING
    if (!a->o.use_malloc && !a->o.plain) {
        int err = io_uring_queue_init(8, &ring, 0);
        if (err < 0) {
            snprintf(a->why, sizeof(a->why), "io_uring_queue_init: %s", strerror(-err));
        } else if ((err = uring_register(a, &ring)) < 0) {
            snprintf(a->why, sizeof(a->why), "io_uring_register_buffers: %s", strerror(-err));
            io_uring_queue_exit(&ring);
        } else {
            uring = true;
            a->path = "io_uring read_fixed (registered fixed buffers)";
        }
    } else if (!a->o.use_malloc) {
        snprintf(a->why, sizeof(a->why), "--plain");
    }
#else
    if (!a->o.use_malloc)
        snprintf(a->why, sizeof(a->why), "built without liburing");
#endif

    a->t_start = now_s();
    atomic_store(&a->ready, 1);
    for (;;) {
        unsigned char *b = a->o.use_malloc ? malloc(buf) : pmn_slab_alloc(a->slab);
        int rc, x;

        if (b == NULL) {
            if (errno != ENOMEM) {
                a->err = -errno;
                break;
            }
            a->stalls++; /* pool empty: wait for the consumer's frees */
            sched_yield();
            continue;
        }
        x = uring ? ext_find(&a->ext, b, buf) : -1;
        if (uring && (x < 0 || a->ext.reg[x] < 0)) {
            a->late_reads++; /* in an extent mapped after registration */
            x = -1;
        }
#ifdef HAVE_LIBURING
        rc = x >= 0 ? uring_packet(&ring, a->rx_fd, b, size, a->ext.reg[x])
                    : recv_packet(a->rx_fd, b, size);
#else
        rc = recv_packet(a->rx_fd, b, size);
#endif
        if (rc != 0) {
            if (a->o.use_malloc)
                free(b);
            else
                pmn_slab_free(a->slab, b);
            if (rc < 0)
                a->err = rc;
            break;
        }
        a->received++;
        a->rx_bytes += size;
        push(&a->q, b);
    }
#ifdef HAVE_LIBURING
    if (uring)
        io_uring_queue_exit(&ring);
#endif
done:
    if (!atomic_load(&a->ready)) {
        a->t_start = now_s();
        atomic_store(&a->ready, 1);
    }
    push(&a->q, END_OF_STREAM);
    return NULL;
}

static void *consumer(void *arg)
{
    struct app *a = arg;
    size_t size = (size_t)a->o.size, buf = (size_t)a->o.buf;
    uint64_t seq = 0;
    unsigned char *b;

    while ((b = pop(&a->q)) != END_OF_STREAM) {
        if (!pkt_ok(b, size, seq))
            a->corrupt++;
        seq++;
        a->checked++;
        if (a->o.use_malloc) {
            free(b);
            continue;
        }
        int x = ext_find(&a->ext, b, buf);
        if (x < 0) {
            a->foreign++; /* not in the pool's memory */
        } else if (a->ext.e[x].node != a->node) {
            a->misplaced++;
            a->other_bytes += size;
        } else {
            a->node_bytes[x] += size;
        }
        if (pmn_slab_free(a->slab, b) != 0)
            a->foreign++;
    }
    a->t_end = now_s();
    return NULL;
}

static void *sender(void *arg)
{
    struct app *a = arg;
    size_t size = (size_t)a->o.size;
    unsigned char *b = malloc(size);

    while (!atomic_load(&a->ready))
        sched_yield();
    for (uint64_t seq = 0; b != NULL && seq < (uint64_t)a->o.packets; seq++) {
        size_t off = 0;
        pkt_fill(b, size, seq);
        while (off < size) {
            ssize_t n = send(a->tx_fd, b + off, size - off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                goto out;
            off += (size_t)n;
        }
    }
out:
    free(b);
    shutdown(a->tx_fd, SHUT_WR);
    return NULL;
}

/* Connected loopback TCP sockets, or a socketpair. */
static int connect_pair(bool tcp, int fds[2])
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int l, one = 1;

    if (!tcp)
        return socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == 0 ? 0 : -errno;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0)
        return -errno;
    if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)&sa, &len) < 0 ||
        (fds[1] = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
        int err = -errno;
        close(l);
        return err;
    }
    if (connect(fds[1], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        (fds[0] = accept(l, NULL, NULL)) < 0) {
        int err = -errno;
        close(fds[1]);
        close(l);
        return err;
    }
    close(l);
    (void)setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

/* The private node nearest this CPU; node 0 with a note when none. */
static int pick_node(const struct pmn_ctx *ctx, int *node)
{
    int cpu = sched_getcpu(), err = PMN_E_UNKNOWN;
    const struct pmn_node *n;

    if (cpu >= 0)
        err = pmn_nearest_private_to_cpu(ctx, cpu, node);
    if (err == 0)
        return 0;
    pmn_node_foreach (ctx, n) {
        if (pmn_node_is_private(n) && pmn_node_capacity(n) != 0) {
            *node = pmn_node_id(n);
            return 0;
        }
    }
    printf("note: no private node on this machine: the pool goes on node 0 (shared memory; "
           "placement is still checked)\n");
    *node = 0;
    return 0;
}

int main(int argc, char **argv)
{
    struct app a = {.o = {.node = -1, .packets = 200000, .size = 1500, .buf = 2048, .pool = 1024}};
    struct pmn_ctx *ctx = NULL;
    struct pmn_backing_params *bp = NULL;
    struct pmn_backing *b = NULL;
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};
    struct pmn_extent_hooks hooks = {
        .struct_size = sizeof(hooks), .on_map = on_map, .on_unmap = on_unmap, .arg = &a.ext};
    uint64_t on_node = 0, elsewhere = 0, absent = 0;
    pthread_t ts, tr, tc;
    int fds[2] = {-1, -1}, err = 0, rc = 1;
    const struct pmn_node *n;
    double dt;

    if (parse_args(argc, argv, &a.o) < 0)
        return 2;
    pthread_mutex_init(&a.ext.lock, NULL);
    if (!a.o.use_malloc) {
        if ((err = pmn_ctx_new(&ctx)) < 0)
            goto fail;
        if (a.o.node >= 0)
            a.node = (int)a.o.node;
        else
            (void)pick_node(ctx, &a.node);
        if ((n = pmn_node_get(ctx, a.node)) == NULL) {
            printf("netrx: there is no node %d\n", a.node);
            rc = 2;
            goto out;
        }
        struct pmn_slab_opts so = {.struct_size = sizeof(so),
                                   .align = 64,
                                   .cap_objects = (uint64_t)a.o.pool,
                                   .purge = PMN_PURGE_KEEP};
        if ((err = pmn_backing_params_new(&bp)) < 0 ||
            (err = pmn_backing_params_set_node(bp, a.node)) < 0 ||
            (err = pmn_backing_new(ctx, bp, &b)) < 0 ||
            (err = pmn_backing_set_hooks(b, &hooks)) < 0 ||
            (err = pmn_slab_new_opts(b, (size_t)a.o.buf, &so, &a.slab)) < 0)
            goto fail;
        printf("pool: %ld buffers of %ld bytes on node %d (%s, %s), cap %ld KiB\n", a.o.pool,
               a.o.buf, a.node, pmn_kind_name(pmn_node_kind(n)),
               pmn_node_is_private(n) ? "private" : "shared", a.o.pool * a.o.buf >> 10);
    }
    if ((err = connect_pair(a.o.tcp, fds)) < 0)
        goto fail;
    a.rx_fd = fds[0];
    a.tx_fd = fds[1];

    if (pthread_create(&tc, NULL, consumer, &a) != 0 ||
        pthread_create(&tr, NULL, receiver, &a) != 0) {
        err = -EAGAIN;
        goto fail;
    }
    /* The sender starts once the receiver is ready (or gave up). */
    if (pthread_create(&ts, NULL, sender, &a) != 0) {
        err = -EAGAIN;
        goto fail;
    }
    pthread_join(tr, NULL);
    pthread_join(tc, NULL);
    dt = a.t_end - a.t_start;
    close(fds[0]);
    fds[0] = -1;
    pthread_join(ts, NULL);

    printf("path: %s%s%s%s\n", a.path ? a.path : "none", a.why[0] ? " (io_uring not used: " : "",
           a.why, a.why[0] ? ")" : "");
    printf("transport: %s\n", a.o.tcp ? "loopback TCP" : "AF_UNIX SOCK_SEQPACKET socketpair");
    printf("packets: %" PRIu64 " of %ld, %" PRIu64 " bytes, %.3f s, %.0f packets/s, %.1f MiB/s\n",
           a.received, a.o.packets, a.rx_bytes, dt, (double)a.received / dt,
           (double)a.rx_bytes / dt / (1 << 20));
    if (!a.o.use_malloc) {
        int nodes[MAX_EXT];
        uint64_t bytes[MAX_EXT];
        size_t nn = 0;

        pthread_mutex_lock(&a.ext.lock);
        for (size_t i = 0; i < a.ext.n; i++) {
            struct pmn_where w = {.struct_size = sizeof(w)};
            size_t k = 0;
            while (k < nn && nodes[k] != a.ext.e[i].node)
                k++;
            if (k == nn) {
                nodes[nn] = a.ext.e[i].node;
                bytes[nn++] = 0;
            }
            bytes[k] += a.node_bytes[i];
            if (a.ext.live[i] && pmn_where(a.ext.e[i].addr, a.ext.e[i].len, &w) == 0) {
                on_node += pmn_where_pages_on(&w, a.node);
                absent += w.not_present;
                elsewhere += w.pages - w.not_present - w.unknown - pmn_where_pages_on(&w, a.node);
            }
        }
        printf("extents: %zu mapped (%u after registration), %" PRIu64
               " packets read outside registered memory\n",
               a.ext.n, a.ext.late, a.late_reads);
        pthread_mutex_unlock(&a.ext.lock);
        printf("bytes per node:");
        for (size_t k = 0; k < nn; k++)
            printf(" node %d: %" PRIu64, nodes[k], bytes[k]);
        printf("%s\n", a.other_bytes ? " (and some elsewhere)" : "");
        printf("pool pages: %" PRIu64 " on node %d, %" PRIu64 " elsewhere, %" PRIu64
               " not present\n",
               on_node, a.node, elsewhere, absent);
        if (pmn_slab_stats(a.slab, &st) == 0)
            printf("slab: %" PRIu64 " allocations, %" PRIu64 " frees (%" PRIu64
                   " by another thread), %" PRIu64 " KiB resident, %" PRIu64
                   " receive stalls (pool empty)\n",
                   st.allocs, st.frees, st.remote_frees, st.resident >> 10, a.stalls);
    }
    printf("checked: %" PRIu64 " packets, %" PRIu64 " corrupt, %" PRIu64 " misplaced, %" PRIu64
           " outside the pool\n",
           a.checked, a.corrupt, a.misplaced, a.foreign);
    err = a.err;
    rc = a.err || a.corrupt || a.misplaced || a.foreign || elsewhere ||
                 a.received != (uint64_t)a.o.packets
             ? 1
             : 0;
    if (err)
        fprintf(stderr, "netrx: receive failed: %s\n", pmn_strerror(err));
    else if (rc)
        fprintf(stderr, "netrx: packets lost, corrupt or misplaced\n");
    goto out;
fail:
    fprintf(stderr, "netrx: %s (%s)\n", pmn_strerror(err), pmn_err_name(err));
out:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    pmn_slab_destroy(a.slab);
    pmn_backing_free(b);
    pmn_backing_params_free(bp);
    pmn_ctx_unref(ctx);
    return rc;
}
