/*
 * barnes.c - a Barnes-Hut n-body simulation that, like the classic barnes
 * benchmark, takes its memory in a few huge mallocs and uses little of it.
 *
 * At start the program mallocs BLOCKS blocks of BLOCK_MIB MiB each (480 MiB
 * in all) as its memory pools, the way barnes sizes its arrays for the
 * largest input it accepts.  The bodies live at the start of block 0; every
 * step builds an octree whose cells are carved from the start of the next
 * pool block in turn (a few hundred KiB of each), computes the forces with
 * the opening criterion THETA, and moves the bodies (leapfrog).  Most of
 * every block is never written: an allocator that backs a malloc lazily
 * keeps the peak RSS near what the program touches (~10 MiB), one that
 * populates the whole block up front pays 480 MiB and the time to fault it.
 * Time is mostly the simulation's own; RSS is the figure this row is for.
 *
 * The checksum hashes the bits of the final positions (the same binary
 * computes in the same order under every allocator).
 */
#include <math.h>

#include "workload.h"

enum { BLOCKS = 20, BLOCK_MIB = 24, BODIES = 4096 };
#define THETA 0.6
#define DT 0.01
#define SOFT 1e-3

struct body {
    double pos[3], vel[3], acc[3], mass;
};

struct cell {
    double center[3], half; /* cube */
    double com[3], mass;    /* centre of mass */
    struct cell *child[8];
    int body; /* leaf: body index; -1 internal; -2 empty */
};

static struct body *body;
static char *pool;
static size_t pool_used, pool_cap;

static struct cell *cell_new(const double center[3], double half)
{
    if (pool_used + sizeof(struct cell) > pool_cap) {
        fprintf(stderr, "barnes: cell pool exhausted\n");
        exit(1);
    }
    struct cell *c = (struct cell *)(pool + pool_used);
    pool_used += sizeof(struct cell);
    memcpy(c->center, center, sizeof c->center);
    c->half = half;
    c->mass = 0;
    memset(c->com, 0, sizeof c->com);
    memset(c->child, 0, sizeof c->child);
    c->body = -2;
    return c;
}

static int octant(const struct cell *c, const double p[3])
{
    return (p[0] > c->center[0]) | (p[1] > c->center[1]) << 1 | (p[2] > c->center[2]) << 2;
}

static struct cell *child_of(struct cell *c, int o)
{
    if (c->child[o] == NULL) {
        double h = c->half / 2, ctr[3];
        for (int d = 0; d < 3; d++)
            ctr[d] = c->center[d] + ((o >> d) & 1 ? h : -h);
        c->child[o] = cell_new(ctr, h);
    }
    return c->child[o];
}

static void insert(struct cell *c, int b, int depth)
{
    if (c->body == -2) {
        c->body = b;
        return;
    }
    if (c->body >= 0) {
        int old = c->body;
        c->body = -1;
        if (depth > 60) { /* coincident bodies: keep them together */
            c->body = old;
            return;
        }
        insert(child_of(c, octant(c, body[old].pos)), old, depth + 1);
    }
    insert(child_of(c, octant(c, body[b].pos)), b, depth + 1);
}

static void summarize(struct cell *c)
{
    if (c->body >= 0) {
        c->mass = body[c->body].mass;
        memcpy(c->com, body[c->body].pos, sizeof c->com);
        return;
    }
    for (int o = 0; o < 8; o++) {
        struct cell *k = c->child[o];
        if (k == NULL)
            continue;
        summarize(k);
        c->mass += k->mass;
        for (int d = 0; d < 3; d++)
            c->com[d] += k->com[d] * k->mass;
    }
    if (c->mass > 0)
        for (int d = 0; d < 3; d++)
            c->com[d] /= c->mass;
}

static void force(const struct cell *c, int b, double acc[3])
{
    if (c->mass == 0 || c->body == b)
        return;
    double d[3], r2 = SOFT;
    for (int k = 0; k < 3; k++) {
        d[k] = c->com[k] - body[b].pos[k];
        r2 += d[k] * d[k];
    }
    if (c->body >= 0 || (2 * c->half) * (2 * c->half) < THETA * THETA * r2) {
        double inv = c->mass / (r2 * sqrt(r2));
        for (int k = 0; k < 3; k++)
            acc[k] += d[k] * inv;
        return;
    }
    for (int o = 0; o < 8; o++)
        if (c->child[o] != NULL)
            force(c->child[o], b, acc);
}

int main(int argc, char **argv)
{
    long scale = wl_scale(argc, argv,
                          "barnes style: Barnes-Hut n-body in 20 huge mallocs (480 MiB), "
                          "most of each never touched.\n");
    uint64_t steps = wl_scaled(48, scale), rng = 0xba27e5, sum = 0;
    size_t block = (size_t)BLOCK_MIB << 20;
    char *blk[BLOCKS];

    for (int i = 0; i < BLOCKS; i++)
        blk[i] = wl_malloc(block);
    body = (struct body *)blk[0];
    for (int i = 0; i < BODIES; i++) {
        struct body *p = &body[i];
        /* a Plummer-like ball: denser at the centre */
        double r = 0;
        for (int d = 0; d < 3; d++) {
            double u = (double)(wl_next(&rng) >> 11) / 9007199254740992.0 - 0.5;
            p->pos[d] = u * u * u * 8;
            p->vel[d] = ((double)(wl_next(&rng) >> 11) / 9007199254740992.0 - 0.5) * 0.1;
            p->acc[d] = 0;
            r += p->pos[d] * p->pos[d];
        }
        p->mass = 1.0 / BODIES * (1 + (r < 0.1));
    }
    for (uint64_t s = 0; s < steps; s++) {
        pool = blk[1 + s % (BLOCKS - 1)];
        pool_used = 0;
        pool_cap = block;
        double lo = 1e300, hi = -1e300;
        for (int i = 0; i < BODIES; i++)
            for (int d = 0; d < 3; d++) {
                lo = fmin(lo, body[i].pos[d]);
                hi = fmax(hi, body[i].pos[d]);
            }
        double ctr[3] = {(lo + hi) / 2, (lo + hi) / 2, (lo + hi) / 2};
        struct cell *root = cell_new(ctr, (hi - lo) / 2 + 1e-9);
        for (int i = 0; i < BODIES; i++)
            insert(root, i, 0);
        summarize(root);
        for (int i = 0; i < BODIES; i++) {
            double acc[3] = {0, 0, 0};
            force(root, i, acc);
            for (int d = 0; d < 3; d++) {
                body[i].vel[d] += (acc[d] + body[i].acc[d]) * DT / 2;
                body[i].acc[d] = acc[d];
            }
        }
        for (int i = 0; i < BODIES; i++)
            for (int d = 0; d < 3; d++)
                body[i].pos[d] += body[i].vel[d] * DT + body[i].acc[d] * DT * DT / 2;
    }
    for (int i = 0; i < BODIES; i++)
        for (int d = 0; d < 3; d++) {
            uint64_t bits;
            memcpy(&bits, &body[i].pos[d], 8);
            sum = (sum ^ bits) * 0x100000001b3ULL;
        }
    for (int i = 0; i < BLOCKS; i++)
        free(blk[i]);
    wl_checksum("barnes", sum);
    return 0;
}
