/*
 * prim-migrate.c - OS primitives of migration (os/ layer; declared in
 * prim.h): a read touch that can fail with a code instead of a signal.
 *
 * The migration engine (place/migrate.c) read-touches pages move_pages
 * cannot see (under a NUMA hinting fault, or a THP under a migration
 * entry), in ranges the caller named: memory that may be mapped without
 * read permission (PROT_NONE guards, a range mprotect'ed meanwhile).  A
 * plain load there is a SIGSEGV; MADV_POPULATE_READ (Linux 5.14) faults the
 * pages in the same way and answers -EFAULT or -ENOMEM instead.  Before
 * 5.14, process_vm_readv(2) of this process reads one byte a page through
 * the same fault path, and it too returns an error, not a signal.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "os/prim.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

int pmn_prim_touch_read_checked(const void *addr, size_t len, size_t page)
{
    char byte;

    if (madvise((void *)(uintptr_t)addr, len, MADV_POPULATE_READ) == 0)
        return 0;
    if (errno != EINVAL)
        return -errno;
    /* A kernel before 5.14 (or a range madvise refuses outright). */
    for (size_t off = 0; off < len; off += page) {
        struct iovec local = {.iov_base = &byte, .iov_len = 1};
        struct iovec remote = {.iov_base = (char *)(uintptr_t)addr + off, .iov_len = 1};
        if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != 1)
            return errno == EFAULT || errno == ENOMEM ? -EFAULT : -errno;
    }
    return 0;
}
