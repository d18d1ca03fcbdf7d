/*
 * test-ipc-map.c - a small segment's slot in the segment map follows its
 * exported objects (alloc/ipc-export.c map_follow, alloc/segmap.h
 * PMN__SLOT_SHARED).
 *
 * The fast paths of free test the slot alone: a segment with a live
 * exported object must read PMN__SLOT_SHARED, or a free of that object
 * would skip the slow path that makes its handle stale, and an importer
 * would read the block's next owner's data as valid.  These cases check
 * the slot through an export, a second export, the frees of both (the
 * handles stale after each, the slot back to small after the last), a
 * free of an object never exported in a shared segment, and, while other
 * threads export and free objects in the same segment as fast as they
 * can, that the slot never reads small while one object stays exported,
 * and that this object's free still makes its handle stale.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "alloc/heap.h"
#include "harness.h"

enum { SIZE = 64, CHURNERS = 3, ROUNDS = 3000 };

static struct env e; /* an arena on a memfd backing of node 0 */
static struct pmn_ipc_cache *c;

static void setup(void)
{
    e = env_open_opts(PMN_BACKING_MEMFD, NULL);
    cr_assert_eq(pmn_ipc_cache_new(&c), 0);
}

static void teardown(void)
{
    pmn_ipc_cache_free(c);
    env_close(&e);
}

TestSuite(ipc_map, .init = setup, .fini = teardown);

static unsigned slot_of(const void *p)
{
    return pmn__segmap_slot((uintptr_t)p);
}

static uintptr_t seg_of(const void *p)
{
    return (uintptr_t)p & ~(uintptr_t)PMN__SEG_MASK;
}

/* Export @o and open the handle here; the importer's address. */
static void *export_open(void *o)
{
    struct pmn_ipc_handle h;
    void *x = NULL;
    int fd, err;

    err = pmn_ipc_get(o, &h, &fd);
    cr_assert_eq(err, 0, "pmn_ipc_get: %s", pmn_strerror(err));
    err = pmn_ipc_open(c, &h, fd, 0, &x);
    cr_assert_eq(err, 0, "pmn_ipc_open: %s", pmn_strerror(err));
    return x;
}

Test(ipc_map, the_slot_follows_the_exports)
{
    void *o1 = pmn_arena_malloc(e.a, SIZE), *o2 = pmn_arena_malloc(e.a, SIZE), *o3, *x1, *x2;

    cr_assert(o1 != NULL && o2 != NULL);
    cr_assert_eq(seg_of(o1), seg_of(o2), "two small objects of one thread share a segment");
    cr_assert_eq(slot_of(o1), PMN__SLOT_SMALL, "nothing exported yet");
    x1 = export_open(o1);
    cr_assert_eq(slot_of(o1), PMN__SLOT_SHARED, "an export makes the segment shared");
    cr_assert_eq(pmn__segmap_lookup((uintptr_t)o1), seg_of(o1), "still found as ours");
    x2 = export_open(o2);
    cr_assert_eq(slot_of(o1), PMN__SLOT_SHARED);

    /* An object never exported, in a shared segment: freed as any other,
     * and the exported ones' handles stay good. */
    o3 = pmn_arena_malloc(e.a, SIZE);
    cr_assert_eq(seg_of(o3), seg_of(o1));
    cr_assert_eq(pmn_free(o3), 0);
    cr_assert_eq(pmn_ipc_valid(c, x1), 0);
    cr_assert_eq(pmn_ipc_valid(c, x2), 0);

    cr_assert_eq(pmn_free(o1), 0);
    cr_assert_eq(pmn_ipc_valid(c, x1), PMN_E_STALE_HANDLE, "the first free");
    cr_assert_eq(pmn_ipc_valid(c, x2), 0, "the other object is still live");
    cr_assert_eq(slot_of(o2), PMN__SLOT_SHARED, "one object is still exported");
    /* The block just freed comes back first (the free cache): reused while
     * its stale handle must stay stale. */
    o3 = pmn_arena_malloc(e.a, SIZE);
    cr_assert_eq(o3, o1);
    cr_assert_eq(pmn_ipc_valid(c, x1), PMN_E_STALE_HANDLE);

    cr_assert_eq(pmn_free(o2), 0);
    cr_assert_eq(pmn_ipc_valid(c, x2), PMN_E_STALE_HANDLE, "the last exported object's free");
    cr_assert_eq(slot_of(o2), PMN__SLOT_SMALL, "no export left: the fast paths take it back");
    cr_assert_eq(pmn_free(o3), 0);
    cr_assert_eq(pmn_ipc_close(c, x1), 0);
    cr_assert_eq(pmn_ipc_close(c, x2), 0);
}

Test(ipc_map, a_reset_gives_the_slot_back)
{
    void *o = pmn_arena_malloc(e.a, SIZE), *x;
    uintptr_t seg = seg_of(o);

    x = export_open(o);
    cr_assert_eq(slot_of(o), PMN__SLOT_SHARED);
    pmn_arena_reset(e.a);
    cr_assert_eq(pmn_ipc_valid(c, x), PMN_E_STALE_HANDLE, "reset");
    /* The segment may be kept for reuse or released; either way no
     * object of it is exported any more. */
    cr_assert_neq(pmn__segmap_slot(seg), PMN__SLOT_SHARED);
    cr_assert_eq(pmn_ipc_close(c, x), 0);
}

struct churn {
    atomic_uint *done; /* churners finished */
    uintptr_t seg;     /* the held object's segment */
    unsigned same;     /* objects this thread exported there */
    int err;
};

static void *churn(void *arg)
{
    struct churn *ch = arg;

    for (unsigned i = 0; i < ROUNDS; i++) {
        struct pmn_ipc_handle h;
        void *o = pmn_arena_malloc(e.a, SIZE);
        int fd, err;

        if (o == NULL) {
            ch->err = -ENOMEM;
            break;
        }
        err = pmn_ipc_get(o, &h, &fd);
        if (err == 0 && seg_of(o) == ch->seg)
            ch->same++;
        if (err == 0 && (err = pmn_free(o)) == 0)
            continue;
        ch->err = err;
        break;
    }
    atomic_fetch_add(ch->done, 1);
    return NULL;
}

Test(ipc_map, never_small_while_an_object_is_exported)
{
    void *held = pmn_arena_malloc(e.a, SIZE), *x;
    atomic_uint done = 0;
    struct churn ch[CHURNERS];
    pthread_t t[CHURNERS];
    unsigned same = 0, polls = 0;

    cr_assert_not_null(held);
    x = export_open(held);
    for (int i = 0; i < CHURNERS; i++) {
        ch[i] = (struct churn){.done = &done, .seg = seg_of(held)};
        cr_assert_eq(pthread_create(&t[i], NULL, churn, &ch[i]), 0);
    }
    /* While the churners count the segment's exports in and out, the
     * held object's export keeps the slot shared at every read. */
    while (atomic_load(&done) < CHURNERS) {
        cr_assert_eq(slot_of(held), PMN__SLOT_SHARED, "read small after %u polls", polls);
        polls++;
    }
    for (int i = 0; i < CHURNERS; i++) {
        (void)pthread_join(t[i], NULL);
        cr_assert_eq(ch[i].err, 0, "churner %d: %s", i, pmn_strerror(ch[i].err));
        same += ch[i].same;
    }
    cr_assert_gt(same, 0, "no churner exported in the held object's segment: nothing raced");
    cr_assert_eq(pmn_ipc_valid(c, x), 0);
    cr_assert_eq(pmn_free(held), 0);
    cr_assert_eq(pmn_ipc_valid(c, x), PMN_E_STALE_HANDLE, "the held object's free");
    cr_assert_eq(slot_of(held), PMN__SLOT_SMALL);
    cr_assert_eq(pmn_ipc_close(c, x), 0);
}
