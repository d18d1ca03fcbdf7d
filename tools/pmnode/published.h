/*
 * published.h - the reader of pmn_publish(3) files (published.c), for
 * pmnode top.  The file is another process's: every field is checked
 * before anything is shown, and every refusal has a one-line reason.
 */
#ifndef PMNODE_PUBLISHED_H
#define PMNODE_PUBLISHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pmnode.h"

/* What was read: a consistent copy of the header and the entries in use. */
struct published {
    struct pmn_publish_header h;
    struct pmn_publish_entry e[PMN_PUBLISH_MAX_ENTRIES];
    size_t n;
    char path[320]; /* where it was found */
};

/*
 * Check @len bytes of a file's copy @buf and fill @out: magic, version,
 * sizes, entry count, an even sequence number, the pid @pid (0: any) and
 * uid @uid, and the start time @start (0: unknown).  0, or -EINVAL /
 * -ESTALE / -EAGAIN (odd sequence: a write in progress) with *@why a
 * static reason.  Pure: the unit tests feed it garbage.
 */
int pub_check(const void *buf, size_t len, int pid, unsigned uid, uint64_t start,
              struct published *out, const char **why);

/*
 * Find and read process @pid's file: in @dir when given, else in
 * $XDG_RUNTIME_DIR/pmnode (when the caller is @uid), /run/user/UID/pmnode
 * and /dev/shm/pmnode-UID.  The directory must be @uid's and closed to
 * others, the file @uid's, regular, not a link, of the format's size; it
 * is read until two reads agree on an even sequence number.  0; -ENOENT
 * when the process publishes nothing (or nowhere readable); else a
 * negative code with a one-line reason in @why (naming the path).
 */
int pub_find(int pid, unsigned uid, uint64_t start, const char *dir, struct published *out,
             char *why, size_t whylen);

#endif /* PMNODE_PUBLISHED_H */
