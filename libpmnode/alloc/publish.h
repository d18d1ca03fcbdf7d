/*
 * alloc/publish.h - what the heap and the tests see of publish.c (the
 * public side is pmnode.h's "Publishing stats to other processes").
 */
#ifndef PMN_ALLOC_PUBLISH_H
#define PMN_ALLOC_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>

struct pmn__heap;

/* From an allocator's slow path (no heap lock held): write the published
 * figures when publishing and the last write is older than the interval.
 * Costs one relaxed load when not publishing.  Thread-safe, never waits. */
void pmn__publish_tick(void);
/* @h is being destroyed (no heap lock held): its entry goes.  Thread-safe. */
void pmn__publish_forget(struct pmn__heap *h);
/* Around fork() (fork.c's handlers; phase 0 prepare, 1 parent, 2 child):
 * P.lock is taken first in prepare (it comes before every heap lock) and
 * released in the parent; in the child the parent's file is dropped (not
 * removed, the ticks stop) before it is released. */
void pmn__publish_fork(int phase);
/* The one decision: may a process publish, in secure-execution mode or
 * not, with pmn_publish_start()'s @flags?  Pure. */
bool pmn__publish_allowed(bool secure, unsigned flags);
/* The directory a process of effective uid @euid publishes in (reads
 * XDG_RUNTIME_DIR with secure_getenv).  0 or -ENAMETOOLONG. */
int pmn__publish_dir(char *buf, size_t len, unsigned euid);
/* Tests only: non-zero makes pmn_publish_start() act as in
 * secure-execution mode (AT_SECURE cannot be had unprivileged). */
extern int pmn__publish_force_secure;

#endif /* PMN_ALLOC_PUBLISH_H */
