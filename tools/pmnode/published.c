/*
 * published.c - pmnode top's reader of pmn_publish(3) files.
 *
 * The writer is another process, perhaps hostile, perhaps dead: the
 * directory must belong to the process's user and be closed to others,
 * the file must be that user's regular file (never followed through a
 * link) of exactly the format's size, and its header must name the same
 * pid, uid and start time as /proc says the process has, so a file left
 * by a dead process whose pid was reused is stale, not shown.  The file
 * is read (never mapped: a writer truncating it cannot make us fault)
 * twice, and used only when both copies carry the same even sequence
 * number: the writer's seqlock, seen from outside.
 */
#include "published.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os/prim.h"

#define FILE_BYTES                       \
    (sizeof(struct pmn_publish_header) + \
     PMN_PUBLISH_MAX_ENTRIES * sizeof(struct pmn_publish_entry))

int pub_check(const void *buf, size_t len, int pid, unsigned uid, uint64_t start,
              struct published *out, const char **why)
{
    const struct pmn_publish_header *h = buf;
    uint64_t seq;

    if (len < sizeof(*h)) {
        *why = "truncated: shorter than the header";
        return -EINVAL;
    }
    if (memcmp(h->magic, PMN_PUBLISH_MAGIC, sizeof(h->magic)) != 0) {
        *why = "not a pmnode stats file (bad magic)";
        return -EINVAL;
    }
    if (h->version != PMN_PUBLISH_VERSION) {
        *why = "unknown format version";
        return -EINVAL;
    }
    if (h->header_size != sizeof(*h) || h->entry_size != sizeof(struct pmn_publish_entry) ||
        h->max_entries != PMN_PUBLISH_MAX_ENTRIES || h->file_size != FILE_BYTES) {
        *why = "sizes in the header do not match the format";
        return -EINVAL;
    }
    if (len != FILE_BYTES) {
        *why = len < FILE_BYTES ? "truncated: shorter than its header says"
                                : "longer than its header says";
        return -EINVAL;
    }
    if (h->nentries > h->max_entries) {
        *why = "more entries than room";
        return -EINVAL;
    }
    if ((pid != 0 && h->pid != pid) || h->uid != uid) {
        *why = "written by another process or user than its name says";
        return -ESTALE;
    }
    if (start != 0 && h->start_time != 0 && h->start_time != start) {
        *why = "stale: left by an earlier process with the same pid";
        return -ESTALE;
    }
    seq = h->seq;
    if (seq & 1) {
        *why = "being written";
        return -EAGAIN;
    }
    memcpy(&out->h, h, sizeof(*h));
    out->n = h->nentries;
    memcpy(out->e, (const char *)buf + sizeof(*h), out->n * sizeof(out->e[0]));
    for (size_t i = 0; i < out->n; i++) {
        out->e[i].name[PMN_PUBLISH_NAME_MAX - 1] = '\0';
        if (out->e[i].nnodes > PMN_PUBLISH_MAX_NODES)
            out->e[i].nnodes = PMN_PUBLISH_MAX_NODES;
    }
    return 0;
}

static const char *reason(int err)
{
    switch (err) {
    case -ELOOP: return "a symbolic link: refused";
    case -EPERM: return "owned by another user than the process's: refused";
    case -EACCES: return "open to group or others: refused";
    case -ENOTDIR: return "not a directory: refused";
    case -ESPIPE: return "not a regular file: refused";
    case -EFBIG: return "larger than the format: refused";
    default: return pmn_strerror(err);
    }
}

/* Read DIR/PID: 0, -ENOENT, or a reason. */
static int read_in(const char *dir, int pid, unsigned uid, uint64_t start, struct published *out,
                   char *why, size_t whylen)
{
    static unsigned char a[FILE_BYTES + 1], b[FILE_BYTES + 1]; /* the tool is one thread */
    char name[16];
    const char *w = NULL;
    size_t na, nb;
    int dfd, err;

    snprintf(name, sizeof(name), "%d", pid);
    err = pmn_prim_private_dir(dir, uid, false, &dfd);
    if (err == -ENOENT)
        return err;
    if (err != 0) {
        snprintf(why, whylen, "%s: %s", dir, reason(err));
        return err;
    }
    for (int tries = 0; tries < 50; tries++) {
        err = pmn_prim_read_owned_at(dfd, name, uid, a, sizeof(a), &na);
        if (err == 0)
            err = pmn_prim_read_owned_at(dfd, name, uid, b, sizeof(b), &nb);
        if (err != 0)
            break;
        err = pub_check(a, na, pid, uid, start, out, &w);
        if (err == 0 && (nb != na || memcmp(&((struct pmn_publish_header *)a)->seq,
                                            &((struct pmn_publish_header *)b)->seq, 8) != 0))
            err = -EAGAIN, w = "kept changing while read";
        if (err != -EAGAIN)
            break;
    }
    pmn_prim_close(dfd);
    if (err == -ENOENT)
        return err;
    if (err != 0) {
        snprintf(why, whylen, "%s/%s: %s", dir, name, w != NULL ? w : reason(err));
        return err;
    }
    snprintf(out->path, sizeof(out->path), "%s/%s", dir, name);
    return 0;
}

int pub_find(int pid, unsigned uid, uint64_t start, const char *dir, struct published *out,
             char *why, size_t whylen)
{
    char dirs[3][288];
    const char *x = getenv("XDG_RUNTIME_DIR");
    size_t n = 0;
    int err = -ENOENT;

    why[0] = '\0';
    if (dir != NULL)
        return read_in(dir, pid, uid, start, out, why, whylen);
    if (x != NULL && x[0] == '/' && uid == pmn_prim_geteuid())
        snprintf(dirs[n++], sizeof(dirs[0]), "%.270s/pmnode", x);
    snprintf(dirs[n++], sizeof(dirs[0]), "/run/user/%u/pmnode", uid);
    snprintf(dirs[n++], sizeof(dirs[0]), "/dev/shm/pmnode-%u", uid);
    for (size_t i = 0; i < n && err == -ENOENT; i++)
        if (i == 0 || strcmp(dirs[i], dirs[0]) != 0)
            err = read_in(dirs[i], pid, uid, start, out, why, whylen);
    return err;
}
