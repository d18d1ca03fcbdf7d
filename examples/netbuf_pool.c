/*
 * netbuf_pool.c - packet buffers on a private node, from a slab with bulk
 * calls.
 *
 * A network driver keeps its receive ring full of empty buffers.  Here the
 * ring is refilled a burst at a time with pmn_slab_alloc_bulk(); a
 * simulated NIC writes a packet into each ring buffer; the stack checks
 * the burst and queues it for transmit; transmit completes a few bursts
 * later and the whole burst goes back with one pmn_slab_free_bulk().  The
 * pool lives on one node and never anywhere else: when its pages are used
 * up (the node is full, or the pool reaches --cap), the refill comes back
 * short and the ring drops packets, as a NIC without buffers does.  It
 * never quietly takes memory from another node.
 *
 * At the end it counts where every buffer still held is (pmn_where) and
 * prints the pool's counters as JSON.
 *
 * usage: netbuf_pool [--node N] [--buf BYTES] [--ring N] [--burst N]
 *                    [--delay BURSTS] [--packets N] [--cap MIB]
 *   --node N      node of the pool (default: the private node nearest the
 *                 CPU this runs on); naming a shared node is allowed, for
 *                 trying the program on a machine without private memory
 *   --buf BYTES   buffer size (default 2048, at most 262144)
 *   --ring N      receive ring slots (default 512)
 *   --burst N     packets per burst (default 32, at most --ring)
 *   --delay N     bursts until a transmit completes (default 4)
 *   --packets N   packets to receive (default 200000)
 *   --cap MIB     most memory the pool may hold (default 0: no cap)
 * Exit status: 0 done, 1 a call failed or a buffer was misplaced, 2 bad
 * usage or no private node.
 *
 * Build against an installed libpmnode:
 *     cc netbuf_pool.c $(pkg-config --cflags --libs pmnode) -o netbuf_pool
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

#include <pmnode.h>

/* What the NIC writes at the start of every buffer. */
struct pkt {
    uint64_t seq;
    uint32_t len; /* payload bytes after the header */
    uint32_t sum; /* additive checksum of the payload */
};

struct opts {
    long node, buf, ring, burst, delay, packets, cap_mib;
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
    static const char *const names[] = {"--node",  "--buf",     "--ring", "--burst",
                                        "--delay", "--packets", "--cap"};
    long *fields[] = {&o->node, &o->buf, &o->ring, &o->burst, &o->delay, &o->packets, &o->cap_mib};

    for (int i = 1; i < argc; i++) {
        size_t k = 0;
        while (k < sizeof(names) / sizeof(names[0]) && strcmp(argv[i], names[k]) != 0)
            k++;
        if (k == sizeof(names) / sizeof(names[0]) || i + 1 == argc ||
            parse_long(argv[++i], fields[k]) < 0) {
            fprintf(stderr, "usage: netbuf_pool [--node N] [--buf BYTES] [--ring N] "
                            "[--burst N] [--delay BURSTS] [--packets N] [--cap MIB]\n");
            return -1;
        }
    }
    if (o->buf < 128 || o->buf > 262144 || o->ring < 1 || o->ring > 1000000 || o->burst < 1 ||
        o->burst > o->ring || o->delay > 1000 || o->cap_mib > (1L << 30)) {
        fprintf(stderr, "netbuf_pool: --buf is 128 to 262144, --ring 1 to 1000000, --burst 1 "
                        "to --ring, --delay at most 1000\n");
        return -1;
    }
    return 0;
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

/* The NIC: one packet into an empty buffer. */
static void nic_receive(unsigned char *b, size_t size, uint64_t seq)
{
    struct pkt h = {.seq = seq, .len = (uint32_t)(64 + seq * 7919 % (size - sizeof(h) - 63))};

    /* 64 bytes up to the whole buffer (size >= 128: parse_args) */
    unsigned char *p = b + sizeof(h);

    for (uint32_t i = 0; i < h.len; i++) {
        p[i] = (unsigned char)(seq + i * 31);
        h.sum += p[i];
    }
    memcpy(b, &h, sizeof(h));
}

/* The stack: a packet is whole when its checksum adds up. */
static int stack_check(const unsigned char *b, uint64_t seq)
{
    struct pkt h;
    uint32_t sum = 0;

    memcpy(&h, b, sizeof(h));
    for (uint32_t i = 0; i < h.len; i++)
        sum += b[sizeof(h) + i];
    return h.seq == seq && sum == h.sum ? 0 : -1;
}

/* Where held buffers' pages are. */
struct placement {
    uint64_t held, on_node, elsewhere, absent;
};

static int tally(struct placement *t, const void *buf, size_t size, int node)
{
    struct pmn_where w = {.struct_size = sizeof(w)};
    int err = pmn_where(buf, size, &w);

    if (err < 0)
        return err;
    t->held++;
    t->on_node += pmn_where_pages_on(&w, node);
    t->elsewhere += w.pages - w.not_present - w.unknown - pmn_where_pages_on(&w, node);
    t->absent += w.not_present;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {.node = -1,
                     .buf = 2048,
                     .ring = 512,
                     .burst = 32,
                     .delay = 4,
                     .packets = 200000,
                     .cap_mib = 0};
    struct pmn_ctx *ctx = NULL;
    struct pmn_backing_params *bp = NULL;
    struct pmn_backing *b = NULL;
    struct pmn_slab *s = NULL;
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};
    struct placement t = {0, 0, 0, 0};
    void **ring = NULL, **txq = NULL; /* txq: delay + 1 bursts awaiting completion */
    size_t *txn = NULL, filled = 0, head = 0;
    uint64_t seq = 0, delivered = 0, dropped = 0, refills = 0, short_refills = 0, corrupt = 0;
    const struct pmn_node *n;
    size_t nq, burst;
    int err, node, rc = 1;
    char json[2048];

    if (parse_args(argc, argv, &o) < 0)
        return 2;
    if ((err = pmn_ctx_new(&ctx)) < 0)
        goto fail;
    if (o.node >= 0) {
        node = (int)o.node;
    } else if ((err = pick_node(ctx, &node)) < 0) {
        printf("netbuf_pool: no private node to put the pool on: %s\n"
               "(name one with --node N; a shared node works for a try-out)\n",
               pmn_strerror(err));
        rc = 2;
        goto out;
    }
    n = pmn_node_get(ctx, node);
    if (n == NULL) {
        printf("netbuf_pool: there is no node %d\n", node);
        rc = 2;
        goto out;
    }
    if ((err = pmn_backing_params_new(&bp)) < 0 ||
        (err = pmn_backing_params_set_node(bp, node)) < 0 ||
        (err = pmn_backing_new(ctx, bp, &b)) < 0 ||
        (err = pmn_slab_new(b, (size_t)o.buf, 64, (uint64_t)o.cap_mib << 20, &s)) < 0)
        goto fail;
    printf("pool: %ld-byte buffers on node %d (%s, %s, isolation %s)", o.buf, node,
           pmn_kind_name(pmn_node_kind(n)), pmn_node_is_private(n) ? "private" : "shared",
           pmn_isolation_name(pmn_node_isolation(n)));
    if (o.cap_mib)
        printf(", cap %ld MiB", o.cap_mib);
    printf("\nrx ring %ld, burst %ld, transmit completes after %ld bursts\n", o.ring, o.burst,
           o.delay);

    nq = (size_t)o.delay + 1;
    burst = (size_t)o.burst;
    ring = calloc((size_t)o.ring, sizeof(*ring));
    txq = calloc(nq * burst, sizeof(*txq));
    txn = calloc(nq, sizeof(*txn));
    if (ring == NULL || txq == NULL || txn == NULL) {
        err = -ENOMEM;
        goto fail;
    }

    /* Each round: complete the oldest transmit burst, refill the ring,
     * receive one burst, and queue it for transmit. */
    for (uint64_t round = 0; seq < (uint64_t)o.packets; round++) {
        void **done = &txq[(round % nq) * burst];
        size_t *ndone = &txn[round % nq];

        if ((err = pmn_slab_free_bulk(s, done, *ndone)) < 0)
            goto fail; /* a buffer freed twice or not the pool's: a bug here */
        *ndone = 0;

        /* The ring is a circle of slots; the filled ones start at head. */
        while (filled < (size_t)o.ring) {
            size_t at = (head + filled) % (size_t)o.ring;
            size_t want = (size_t)o.ring - filled < burst ? (size_t)o.ring - filled : burst;
            size_t got;
            if (at + want > (size_t)o.ring)
                want = (size_t)o.ring - at;
            got = pmn_slab_alloc_bulk(s, &ring[at], want);
            refills++;
            filled += got;
            if (got < want) {
                if (errno != ENOMEM) {
                    err = -errno;
                    goto fail;
                }
                short_refills++; /* pool empty: the ring runs with fewer buffers */
                break;
            }
        }

        size_t take = filled < burst ? filled : burst;
        uint64_t arriving = (uint64_t)o.packets - seq < burst ? (uint64_t)o.packets - seq : burst;
        if (take > arriving)
            take = (size_t)arriving;
        dropped += arriving - take; /* no buffer for these */
        for (size_t i = 0; i < take; i++) {
            unsigned char *p = ring[(head + i) % (size_t)o.ring];
            nic_receive(p, (size_t)o.buf, seq + i);
            if (stack_check(p, seq + i) < 0)
                corrupt++;
            done[i] = p;
        }
        *ndone = take;
        delivered += take;
        head = (head + take) % (size_t)o.ring;
        filled -= take;
        seq += arriving;
    }

    /* Where the buffers still held are: the ring's, then those in flight. */
    for (size_t i = 0; i < filled; i++)
        if ((err = tally(&t, ring[(head + i) % (size_t)o.ring], (size_t)o.buf, node)) < 0)
            goto fail;
    for (size_t q = 0; q < nq; q++)
        for (size_t k = 0; k < txn[q]; k++)
            if ((err = tally(&t, txq[q * burst + k], (size_t)o.buf, node)) < 0)
                goto fail;
    if ((err = pmn_slab_stats(s, &st)) < 0 ||
        (err = pmn_alloc_stats_json(&st, json, sizeof(json))) < 0)
        goto fail;
    printf("%ld packets: %" PRIu64 " delivered, %" PRIu64 " dropped (no buffer), %" PRIu64
           " corrupt\n",
           o.packets, delivered, dropped, corrupt);
    printf("%" PRIu64 " bulk refills (%" PRIu64 " came back short), %" PRIu64
           " allocations, %" PRIu64 " frees\n",
           refills, short_refills, st.allocs, st.frees);
    printf("pool: %" PRIu64 " buffers live, %" PRIu64 " KiB resident (peak %" PRIu64 " KiB)\n",
           st.objects, st.resident >> 10, st.peak >> 10);
    printf("placement: %" PRIu64 " buffers held, their pages: %" PRIu64 " on node %d, %" PRIu64
           " elsewhere, %" PRIu64 " not present\n",
           t.held, t.on_node, node, t.elsewhere, t.absent);
    printf("%s\n", json);
    rc = t.elsewhere || corrupt ? 1 : 0;
    if (rc)
        fprintf(stderr, "netbuf_pool: %s\n",
                t.elsewhere ? "buffers found off the pool's node" : "packets were corrupted");
    goto out;
fail:
    fprintf(stderr, "netbuf_pool: %s (%s)\n", pmn_strerror(err), pmn_err_name(err));
out:
    free(ring);
    free(txq);
    free(txn);
    pmn_slab_destroy(s);
    pmn_backing_free(b);
    pmn_backing_params_free(bp);
    pmn_ctx_unref(ctx);
    return rc;
}
