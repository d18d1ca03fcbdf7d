/*
 * test-prim-move.c - the primitives of pmn_migrate's mbind path
 * (libpmnode/os/prim-move.c) on this host's node 0: a range's policies
 * saved mapping by mapping and put back after a bind changed them all,
 * what the save refuses (shared or file memory, a hole), and the move-bind
 * itself on pages already on the node.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/mempolicy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "os/prim.h"

struct pol {
    int mode;
    unsigned long mask[16];
};

static struct pol get_pol(void *addr)
{
    struct pol p = {0};

    cr_assert_eq(syscall(SYS_get_mempolicy, &p.mode, p.mask, 8 * sizeof(p.mask), addr,
                         (unsigned long)MPOL_F_ADDR),
                 0, "get_mempolicy: %s", strerror(errno));
    return p;
}

static void set_pol(void *addr, size_t len, int mode, unsigned long mask)
{
    cr_assert_eq(syscall(SYS_mbind, addr, len, mode, mask ? &mask : NULL,
                         mask ? 8 * sizeof(mask) : 0ul, 0u),
                 0, "mbind mode %#x: %s", mode, strerror(errno));
}

/* Four adjacent private mappings with four policies, bound wholesale (the
 * kernel merges them into one), then restored: each has its own again,
 * at its first and its last page. */
Test(prim_move, policies_restored_per_mapping)
{
    const size_t pg = (size_t)getpagesize(), part = 16 * pg;
    const int modes[4] = {MPOL_DEFAULT, MPOL_PREFERRED, MPOL_BIND | MPOL_F_STATIC_NODES,
                          MPOL_INTERLEAVE};
    char *p = mmap(NULL, 4 * part, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct pmn_prim_policies saved;
    struct pol before[4];

    cr_assert_neq(p, MAP_FAILED);
    memset(p, 1, 4 * part);
    for (int i = 0; i < 4; i++) {
        set_pol(p + (size_t)i * part, part, modes[i], modes[i] == MPOL_DEFAULT ? 0 : 1);
        before[i] = get_pol(p + (size_t)i * part);
        cr_assert_eq(before[i].mode, modes[i]);
    }
    /* A range that starts and ends inside mappings: clipped. */
    cr_assert_eq(pmn_prim_policy_save(p + pg, 4 * part - 2 * pg, &saved), 1);
    cr_assert_eq(saved.n, 4);
    cr_expect_eq(saved.v[0].start, (uintptr_t)(p + pg));
    cr_expect_eq(saved.v[3].end, (uintptr_t)(p + 4 * part - pg));
    cr_assert_eq(pmn_prim_bind(p, 4 * part, 0), 0);
    cr_assert_eq(get_pol(p + part).mode, MPOL_BIND | MPOL_F_STATIC_NODES);
    cr_assert_eq(pmn_prim_policy_restore(&saved), 0);
    for (int i = 0; i < 4; i++) {
        struct pol a = get_pol(p + (size_t)i * part + (i == 0 ? pg : 0));
        struct pol b = get_pol(p + (size_t)(i + 1) * part - (i == 3 ? 2 : 1) * pg);
        cr_expect_eq(a.mode, before[i].mode, "mapping %d: mode %#x, was %#x", i, a.mode,
                     before[i].mode);
        cr_expect_eq(b.mode, before[i].mode, "mapping %d end: mode %#x", i, b.mode);
        cr_expect_eq(a.mask[0], before[i].mask[0], "mapping %d: mask %#lx", i, a.mask[0]);
    }
    /* Outside the saved range the bind stays (the first and last page). */
    cr_expect_eq(get_pol(p).mode, MPOL_BIND | MPOL_F_STATIC_NODES);
    pmn_prim_policy_free(&saved);
    cr_expect_eq(saved.n, 0);
    cr_expect_null(saved.v);
    munmap(p, 4 * part);
}

/* Only wholly private anonymous ranges are saved: 0 (nothing saved) for
 * shared anonymous memory beside private memory, a file mapping, a hole. */
Test(prim_move, save_refuses_other_memory)
{
    const size_t pg = (size_t)getpagesize();
    char *p = mmap(NULL, 8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char path[] = "/tmp/pmn-prim-move-XXXXXX";
    struct pmn_prim_policies saved;
    int fd;

    cr_assert_neq(p, MAP_FAILED);
    cr_assert_eq(pmn_prim_policy_save(p, 8 * pg, &saved), 1);
    pmn_prim_policy_free(&saved);
    cr_assert_eq(mmap(p + 4 * pg, 2 * pg, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                 p + 4 * pg);
    cr_expect_eq(pmn_prim_policy_save(p, 8 * pg, &saved), 0);
    cr_expect_eq(saved.n, 0);
    cr_expect_eq(pmn_prim_policy_save(p, 4 * pg, &saved), 1, "the private part alone");
    pmn_prim_policy_free(&saved);
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    cr_assert_eq(ftruncate(fd, (off_t)(2 * pg)), 0);
    cr_assert_eq(mmap(p + 4 * pg, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0), p + 4 * pg);
    close(fd);
    cr_expect_eq(pmn_prim_policy_save(p, 8 * pg, &saved), 0, "a private file mapping");
    cr_assert_eq(munmap(p + 4 * pg, 2 * pg), 0);
    cr_expect_eq(pmn_prim_policy_save(p, 8 * pg, &saved), 0, "a hole");
    cr_expect_eq(pmn_prim_policy_save(p + 6 * pg, 2 * pg, &saved), 1, "after the hole");
    pmn_prim_policy_free(&saved);
    munmap(p, 8 * pg);
}

/* The move-bind on pages already on node 0: nothing to move, 0, and the
 * range is bound to node 0 strictly (later faults stay there). */
Test(prim_move, bind_move_binds)
{
    const size_t pg = (size_t)getpagesize();
    char *p = mmap(NULL, 8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct pol a;

    cr_assert_neq(p, MAP_FAILED);
    memset(p, 1, 4 * pg);
    cr_assert_eq(pmn_prim_bind_move(p, 8 * pg, 0), 0);
    a = get_pol(p);
    cr_expect_eq(a.mode, MPOL_BIND | MPOL_F_STATIC_NODES);
    cr_expect_eq(a.mask[0], 1ul);
    cr_expect_eq(pmn_prim_bind_move(p, 8 * pg, -1), -EINVAL);
    munmap(p, 8 * pg);
}
