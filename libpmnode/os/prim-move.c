/*
 * prim-move.c - the primitives of pmn_migrate's mbind path: a move that
 * binds in the same call (mbind with MPOL_MF_MOVE), and the save and
 * restore of a range's memory policies around it.
 *
 * mbind(MPOL_MF_MOVE) sets the new policy on the range before it moves
 * anything, and keeps it when the move then fails (-EIO: a page it could
 * not isolate or migrate).  A caller that promises "policy untouched on
 * failure" therefore reads each mapping's policy first
 * (get_mempolicy(MPOL_F_ADDR)) and puts it back afterwards.  Only private
 * anonymous mappings are saved: their policy is one per mapping (the
 * kernel splits a mapping where the policy changes, so /proc/self/maps
 * shows one entry per policy), where a shared file's policy lives in the
 * file per offset and could change within one mapping.
 */
#include <errno.h>
#include <linux/mempolicy.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "os/prim.h"

#define LONG_BITS (sizeof(unsigned long) * 8)

/* One node's mask for mbind: @node's bit, in @stack when it fits. */
static unsigned long *node_mask(int node, unsigned long *stack, size_t nstack, size_t *words)
{
    unsigned long *mask = stack;

    *words = (size_t)node / LONG_BITS + 1;
    if (*words > nstack) {
        mask = calloc(*words, sizeof(*mask));
        if (mask == NULL)
            return NULL;
    } else {
        memset(stack, 0, nstack * sizeof(*stack));
    }
    mask[(size_t)node / LONG_BITS] = 1UL << ((size_t)node % LONG_BITS);
    return mask;
}

int pmn_prim_bind_move(void *addr, size_t len, int node)
{
    unsigned long stack[4], *mask;
    size_t words;
    int err = 0;

    if (node < 0)
        return -EINVAL;
    mask = node_mask(node, stack, 4, &words);
    if (mask == NULL)
        return -ENOMEM;
    if (syscall(SYS_mbind, addr, len, MPOL_BIND | MPOL_F_STATIC_NODES, mask,
                (unsigned long)(words * LONG_BITS + 1),
                (unsigned)(MPOL_MF_MOVE | MPOL_MF_STRICT)) != 0)
        err = -errno;
    if (mask != stack)
        free(mask);
    return err;
}

/* Bits of the node masks saved: the kernel refuses a get_mempolicy whose
 * mask is shorter than its node ids (nr_node_ids), so the mask is sized
 * for the largest MAX_NUMNODES a distribution builds (1 << 10), doubled
 * up to 1 << 14 if the kernel still says -EINVAL. */
#define SAVE_BITS_MIN 1024u
#define SAVE_BITS_MAX 16384u

struct save_walk {
    struct pmn_prim_policies *out;
    uintptr_t lo, hi, next; /* range, and where the next mapping must start */
};

static int save_one(const struct pmn_prim_vma *vma, void *arg)
{
    struct save_walk *w = arg;
    struct pmn_prim_policies *p = w->out;
    struct pmn_prim_policy *e;
    uintptr_t start = vma->start > w->lo ? vma->start : w->lo;
    uintptr_t end = vma->end < w->hi ? vma->end : w->hi;
    size_t words = p->bits / LONG_BITS;
    long r;

    if (vma->shared || vma->file || start != w->next)
        return 1; /* not wholly private anonymous, or a hole */
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        struct pmn_prim_policy *v = realloc(p->v, cap * sizeof(*v));
        unsigned long *m = realloc(p->masks, cap * words * sizeof(*m));

        if (v != NULL)
            p->v = v;
        if (m != NULL)
            p->masks = m;
        if (v == NULL || m == NULL)
            return -ENOMEM;
        p->cap = cap;
    }
    e = &p->v[p->n];
    e->start = start;
    e->end = end;
    memset(&p->masks[p->n * words], 0, words * sizeof(unsigned long));
    r = syscall(SYS_get_mempolicy, &e->mode, &p->masks[p->n * words], (unsigned long)p->bits,
                (void *)start, (unsigned long)MPOL_F_ADDR);
    if (r != 0)
        return -errno;
    p->n++;
    w->next = end;
    return 0;
}

int pmn_prim_policy_save(void *addr, size_t len, struct pmn_prim_policies *out)
{
    int r = -EINVAL;

    memset(out, 0, sizeof(*out));
    for (unsigned bits = SAVE_BITS_MIN; bits <= SAVE_BITS_MAX; bits *= 2) {
        struct save_walk w = {out, (uintptr_t)addr, (uintptr_t)addr + len, (uintptr_t)addr};

        out->n = 0;
        out->bits = bits;
        if (out->cap > 0) {
            /* Masks are laid out by the old width: start again. */
            pmn_prim_policy_free(out);
            out->bits = bits;
        }
        r = pmn_prim_vma_walk(addr, len, save_one, &w);
        if (r == 0 && w.next != w.hi)
            r = 1; /* a hole at the end */
        if (r != -EINVAL)
            break;
    }
    if (r == 0)
        return 1;
    pmn_prim_policy_free(out);
    return r == 1 ? 0 : r;
}

int pmn_prim_policy_restore(const struct pmn_prim_policies *p)
{
    size_t words = p->bits / LONG_BITS;
    int err = 0;

    for (size_t i = 0; i < p->n; i++) {
        const struct pmn_prim_policy *e = &p->v[i];
        int base = e->mode & ~MPOL_MODE_FLAGS;
        bool nomask = base == MPOL_DEFAULT || base == MPOL_LOCAL;
        long r = syscall(SYS_mbind, (void *)e->start, (unsigned long)(e->end - e->start), e->mode,
                         nomask ? NULL : &p->masks[i * words],
                         nomask ? 0ul : (unsigned long)p->bits + 1, 0u);

        if (r != 0 && err == 0)
            err = -errno;
    }
    return err;
}

void pmn_prim_policy_free(struct pmn_prim_policies *p)
{
    free(p->v);
    free(p->masks);
    memset(p, 0, sizeof(*p));
}
