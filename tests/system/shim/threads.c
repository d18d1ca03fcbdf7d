/*
 * threads.c - eight threads churning the malloc family, freeing across
 * threads, checking their own data (run with and without the shim by
 * shim-test.py, which compares the output).
 *
 * Every object starts with a header naming its owner, sequence number and
 * size; the bytes after it are a pattern computed from those, so any byte
 * that changes between malloc and free (an overlap, a block handed out
 * twice, a realloc that lost data) is caught.  Each thread keeps a working
 * set it replaces at random (malloc, calloc, realloc, posix_memalign,
 * aligned_alloc), and sends every other new object to the next thread's
 * mailbox, which checks and frees it: cross-thread frees all the time.
 * Sizes are mostly small, with a tail of pages and megabytes.
 *
 * The output is one line whose checksum depends only on the objects made
 * (per-thread PRNGs, a commutative sum), so it is the same in every run.
 * Exit status 0, or 1 with a message on stderr naming the broken object.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NTHREADS 8
#define WORKING_SET 256
#define MAILBOX 1024

struct obj {
    uint32_t owner;
    uint32_t seq;
    size_t size; /* whole object, header included */
};

struct mailbox {
    pthread_mutex_t lock;
    void *slot[MAILBOX];
    size_t head, count;
};

static struct mailbox box[NTHREADS];
static atomic_int producers_left[NTHREADS]; /* senders still running, per mailbox */
static atomic_uint_fast64_t checksum;
static atomic_uint_fast64_t checked;
static unsigned per_thread = 20000;

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: deterministic and good enough for sizes */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned char pattern(const struct obj *o, size_t i)
{
    return (unsigned char)(o->owner * 131u + o->seq * 7u + (unsigned)i * 13u + (unsigned)(i >> 8));
}

static void die(const char *what, const struct obj *o)
{
    fprintf(stderr, "threads: %s (owner %u seq %u size %zu)\n", what, o != NULL ? o->owner : 0,
            o != NULL ? o->seq : 0, o != NULL ? o->size : 0);
    exit(1);
}

static void fill(struct obj *o, uint32_t owner, uint32_t seq, size_t size, size_t from)
{
    unsigned char *b = (unsigned char *)o;

    o->owner = owner;
    o->seq = seq;
    o->size = size;
    for (size_t i = from < sizeof(*o) ? sizeof(*o) : from; i < size; i++)
        b[i] = pattern(o, i);
}

/* Check and account for an object (each object is counted once, when freed). */
static void check(const struct obj *o)
{
    const unsigned char *b = (const unsigned char *)o;

    if (o->owner >= NTHREADS || o->size < sizeof(*o))
        die("corrupt header", o);
    for (size_t i = sizeof(*o); i < o->size; i++)
        if (b[i] != pattern(o, i))
            die("corrupt byte", o);
    atomic_fetch_add(&checksum, ((uint64_t)o->owner << 40) ^ ((uint64_t)o->seq << 20) ^ o->size);
    atomic_fetch_add(&checked, 1);
}

static size_t pick_size(uint64_t *rng)
{
    uint64_t r = rng_next(rng);
    unsigned p = (unsigned)(r % 1000);

    r >>= 10;
    if (p < 800)
        return sizeof(struct obj) + r % 240; /* small */
    if (p < 950)
        return 256 + r % 8192; /* medium */
    if (p < 998)
        return 8192 + r % (128 * 1024);    /* pages */
    return 128 * 1024 + r % (1024 * 1024); /* large */
}

static struct obj *make(uint32_t owner, uint32_t seq, uint64_t *rng)
{
    size_t size = pick_size(rng);
    unsigned how = (unsigned)(rng_next(rng) % 8);
    struct obj *o = NULL;

    switch (how) {
    case 0: {
        o = calloc(1, size);
        if (o != NULL)
            for (size_t i = 0; i < size; i++)
                if (((unsigned char *)o)[i] != 0)
                    die("calloc memory not zero", NULL);
        break;
    }
    case 1: {
        void *p = NULL;
        size_t align = (size_t)64 << (rng_next(rng) % 7); /* 64 .. 4096 */
        if (posix_memalign(&p, align, size) != 0)
            p = NULL;
        if (p != NULL && ((uintptr_t)p & (align - 1)) != 0)
            die("posix_memalign misaligned", NULL);
        o = p;
        break;
    }
    case 2: {
        size_t align = (size_t)16 << (rng_next(rng) % 5);
        size_t rounded = (size + align - 1) / align * align;
        o = aligned_alloc(align, rounded);
        if (o != NULL && ((uintptr_t)o & (align - 1)) != 0)
            die("aligned_alloc misaligned", NULL);
        break;
    }
    default: o = malloc(size); break;
    }
    if (o == NULL) {
        fprintf(stderr, "threads: out of memory for %zu bytes\n", size);
        exit(1);
    }
    if (((uintptr_t)o & 15) != 0)
        die("object not 16-byte aligned", NULL);
    fill(o, owner, seq, size, 0);
    return o;
}

/* realloc: the old bytes must survive, the new tail is filled afresh. */
static struct obj *grow(struct obj *o, uint64_t *rng)
{
    size_t nsize = pick_size(rng);
    size_t keep = nsize < o->size ? nsize : o->size;
    struct obj copy = *o;
    struct obj *n;

    check(o); /* counts the old incarnation */
    n = realloc(o, nsize);
    if (n == NULL) {
        fprintf(stderr, "threads: realloc to %zu failed\n", nsize);
        exit(1);
    }
    for (size_t i = sizeof(copy); i < keep; i++)
        if (((unsigned char *)n)[i] != pattern(&copy, i))
            die("realloc lost data", &copy);
    n->size = nsize;
    fill(n, copy.owner, copy.seq, nsize, keep);
    return n;
}

static void drain(int self)
{
    struct mailbox *m = &box[self];
    void *got[64];
    size_t n;

    do {
        pthread_mutex_lock(&m->lock);
        n = m->count < 64 ? m->count : 64;
        for (size_t i = 0; i < n; i++) {
            got[i] = m->slot[m->head];
            m->head = (m->head + 1) % MAILBOX;
        }
        m->count -= n;
        pthread_mutex_unlock(&m->lock);
        for (size_t i = 0; i < n; i++) {
            check(got[i]);
            free(got[i]);
        }
    } while (n == 64);
}

static void send(int self, void *p)
{
    struct mailbox *m = &box[(self + 1) % NTHREADS];

    for (;;) {
        pthread_mutex_lock(&m->lock);
        if (m->count < MAILBOX) {
            m->slot[(m->head + m->count) % MAILBOX] = p;
            m->count++;
            pthread_mutex_unlock(&m->lock);
            return;
        }
        pthread_mutex_unlock(&m->lock);
        drain(self); /* make progress while the receiver catches up */
        sched_yield();
    }
}

static void *worker(void *arg)
{
    int self = (int)(intptr_t)arg;
    uint64_t rng = 0x1234567ull * (uint64_t)(self + 1);
    struct obj *set[WORKING_SET] = {0};
    uint32_t seq = 0;

    for (unsigned i = 0; i < per_thread; i++) {
        unsigned slot = (unsigned)(rng_next(&rng) % WORKING_SET);
        unsigned op = (unsigned)(rng_next(&rng) % 10);

        if (set[slot] != NULL && op == 0) {
            set[slot] = grow(set[slot], &rng);
            continue;
        }
        if (set[slot] != NULL) {
            check(set[slot]);
            free(set[slot]);
            set[slot] = NULL;
        }
        struct obj *o = make((uint32_t)self, seq++, &rng);
        if (op & 1)
            send(self, o);
        else
            set[slot] = o;
        if ((i & 63) == 0)
            drain(self);
    }
    for (unsigned s = 0; s < WORKING_SET; s++) {
        if (set[s] != NULL) {
            check(set[s]);
            free(set[s]);
        }
    }
    atomic_fetch_sub(&producers_left[(self + 1) % NTHREADS], 1);
    /* Our sender may still be sending: drain until it is done and empty. */
    for (;;) {
        int left = atomic_load(&producers_left[self]);
        drain(self);
        if (left == 0) {
            drain(self);
            break;
        }
        sched_yield();
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t[NTHREADS];

    if (argc > 1)
        per_thread = (unsigned)strtoul(argv[1], NULL, 10);
    alarm(240); /* a deadlock in the allocator fails the test instead of hanging it */
    for (int i = 0; i < NTHREADS; i++) {
        pthread_mutex_init(&box[i].lock, NULL);
        atomic_init(&producers_left[i], 1);
    }
    for (int i = 0; i < NTHREADS; i++) {
        if (pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) != 0) {
            fprintf(stderr, "threads: pthread_create failed\n");
            return 1;
        }
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < NTHREADS; i++) {
        if (box[i].count != 0) {
            fprintf(stderr, "threads: mailbox %d not empty\n", i);
            return 1;
        }
    }
    printf("threads: %d threads, %u steps each, %" PRIuFAST64
           " objects checked, checksum %016" PRIxFAST64 "\n",
           NTHREADS, per_thread, atomic_load(&checked), atomic_load(&checksum));
    return 0;
}
