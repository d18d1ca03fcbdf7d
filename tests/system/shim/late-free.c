/*
 * late-free.c - malloc and free in a thread's last moments, after
 * libpmnode has let go of the thread's heap (run with and without the shim
 * by shim-test.py, which compares the output).
 *
 * Each worker allocates and fills objects, then exits; a thread-specific
 * destructor (its key is made after the shim's first allocation, so it
 * runs after the shim's own destructor, which unbinds and orphans the
 * thread's heap) checks and frees them, and allocates, fills, checks and
 * frees more.  Meanwhile fresh workers start and take over the orphaned
 * heaps.  A late call that still used the orphaned heap (the shim's cached
 * pointer to it, had nobody dropped it) would share its pages with the
 * thread that adopted it: a block handed out twice, caught by the fill
 * pattern.  Output: one line with the number of objects checked; exit 1
 * with a message naming the broken object.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 150
#define WAVE 6
#define OBJS 48

static pthread_key_t key;
static _Atomic unsigned long checked;

struct objs {
    unsigned id;
    unsigned char *p[OBJS];
    size_t n[OBJS];
};

static size_t size_of(unsigned id, unsigned i)
{
    return 16 + (id * 7919u + i * 104729u) % 700;
}

static void fill(struct objs *o, unsigned tag)
{
    for (unsigned i = 0; i < OBJS; i++) {
        o->n[i] = size_of(o->id + tag, i);
        o->p[i] = malloc(o->n[i]);
        if (o->p[i] == NULL) {
            fprintf(stderr, "malloc(%zu) failed\n", o->n[i]);
            exit(1);
        }
        memset(o->p[i], (int)((o->id * 31 + i + tag) & 0xff), o->n[i]);
    }
}

static void check_free(struct objs *o, unsigned tag, const char *when)
{
    for (unsigned i = 0; i < OBJS; i++) {
        unsigned char want = (unsigned char)((o->id * 31 + i + tag) & 0xff);
        for (size_t k = 0; k < o->n[i]; k++)
            if (o->p[i][k] != want) {
                fprintf(stderr, "thread %u, %s: object %u byte %zu is %u, want %u\n", o->id, when,
                        i, k, o->p[i][k], want);
                exit(1);
            }
        free(o->p[i]);
        checked++;
    }
}

static void late(void *arg)
{
    struct objs *o = arg;

    check_free(o, 0, "objects made before exit");
    fill(o, 1); /* the shim's destructor has run: this thread's heap is orphaned */
    for (int spin = 0; spin < 200; spin++)
        sched_yield();
    check_free(o, 1, "objects made in the destructor");
    free(o);
}

static void *worker(void *arg)
{
    struct objs *o = malloc(sizeof(*o));

    if (o == NULL)
        return NULL;
    o->id = (unsigned)(uintptr_t)arg;
    fill(o, 0);
    pthread_setspecific(key, o);
    return NULL;
}

int main(void)
{
    pthread_t t[WAVE];

    free(malloc(1)); /* the shim's thread state and its key come first */
    if (pthread_key_create(&key, late) != 0)
        return 1;
    for (unsigned r = 0; r < ROUNDS; r++) {
        for (unsigned i = 0; i < WAVE; i++)
            if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(r * WAVE + i)) != 0)
                return 1;
        for (unsigned i = 0; i < WAVE; i++)
            pthread_join(t[i], NULL);
    }
    printf("%lu objects checked\n", (unsigned long)checked);
    return 0;
}
