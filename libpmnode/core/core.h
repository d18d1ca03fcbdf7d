/*
 * core/core.h - what every layer of libpmnode shares (pmn__ prefix): the
 * input limits, node-id bitmaps, the strict parsers of outside text (one
 * grammar for sysfs, the environment, the shim and the CLI) and logging.
 * Nothing here is exported.
 *
 * Each folder of libpmnode/ is one layer (DESIGN.md) with one internal
 * header; declarations are grouped under the name of the file that
 * defines them:
 *   core/      errors and names, the context, logging, bitmaps, parsers
 *   os/        the only code that calls the kernel (os/prim.h)
 *   discover/  sysfs, configuration, topology, node selection
 *              (discover/discover.h, discover/topology.h)
 *   place/     backings, regions, verification (place/backing.h)
 *   alloc/     the heap engine, segment map, arenas, slabs
 *              (alloc/heap.h, alloc/segmap.h)
 *   ctier/     the compressed tier (ctier/ctier.h)
 *   compat/    the binary interface of older releases, over the current
 *              one (no header: see the symbol versions below)
 *   preload/   the LD_PRELOAD shim (a separate library)
 */
#ifndef PMN_CORE_H
#define PMN_CORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pmnode.h"

/* Largest node id accepted from any input.  Linux caps MAX_NUMNODES at
 * 1 << 10; we allow more headroom without letting a corrupt file make us
 * allocate gigabytes. */
#define PMN__MAX_NODE_ID 65535
/* Longest explicit spill list: the target and its spill nodes fit the
 * per-node counters of one struct pmn_alloc_stats. */
#define PMN__MAX_SPILL (PMN_STATS_MAX_NODES - 1)
/* Largest CPU id accepted in a cpulist. */
#define PMN__MAX_CPU_ID (1 << 20)
/* Largest sysfs attribute we read (distance lines on 1024-node machines fit). */
#define PMN__ATTR_MAX 65536

/* ---- bitmap.c: a growable set of small non-negative ints (node ids) ---- */
struct pmn__bitmap {
    uint64_t *words;
    size_t nwords;
};
void pmn__bitmap_free(struct pmn__bitmap *b);
int pmn__bitmap_set(struct pmn__bitmap *b, unsigned bit);
/* Set bits @lo..@hi inclusive (lo <= hi). */
int pmn__bitmap_set_range(struct pmn__bitmap *b, unsigned lo, unsigned hi);
bool pmn__bitmap_test(const struct pmn__bitmap *b, unsigned bit);
size_t pmn__bitmap_weight(const struct pmn__bitmap *b);
/* Next set bit at or after @from, or -1. */
long pmn__bitmap_next(const struct pmn__bitmap *b, unsigned from);
/* @dst |= @src (grows @dst); 0 or -ENOMEM. */
int pmn__bitmap_or(struct pmn__bitmap *dst, const struct pmn__bitmap *src);

/* ---- parse.c: strict parsers; text need not be NUL-terminated ----
 * Each accepts exactly one trailing newline and nothing else after the
 * value.  Return 0, -EINVAL for malformed text, -ERANGE for out of range. */

/* Unsigned integer in @base (0 = C prefixes allowed; 16 accepts "0x"). */
int pmn__parse_u64(const char *s, size_t len, int base, uint64_t *out);
/* Signed integer in base 10 ("-1" is common in sysfs for "none"). */
int pmn__parse_s64(const char *s, size_t len, int64_t *out);
/* Kernel list format "0-3,8,10-11" (empty list allowed) into @out, ids up
 * to @max_id.  @out is cleared first. */
int pmn__parse_list(const char *s, size_t len, unsigned max_id, struct pmn__bitmap *out);
/* One node id written by a person: decimal, at most PMN__MAX_NODE_ID. */
int pmn__parse_node_id(const char *s, size_t len, int *out);
/* Ordered spill list "2,0": distinct node ids, at least one, at most @max;
 * no allocation.  *n gets the count. */
int pmn__parse_spill(const char *s, size_t len, int *out, size_t max, size_t *n);
/* Space-separated distances "10 20 30"; at most @max values. */
int pmn__parse_distances(const char *s, size_t len, int *out, size_t max, size_t *n);

struct pmn__meminfo { /* bytes, each PMN_UNKNOWN if absent */
    uint64_t total, free;
    uint64_t active_file, inactive_file; /* page cache on the LRU lists */
    uint64_t sreclaimable, kreclaimable; /* reclaimable slab; all reclaimable kernel memory */
};
/* nodeN/meminfo ("Node 0 MemTotal:  16384 kB" lines) or /proc/meminfo
 * ("MemTotal:  16384 kB").  Unknown lines are skipped; a malformed line of
 * a field above is -EINVAL. */
int pmn__parse_meminfo(const char *s, size_t len, struct pmn__meminfo *out);

/* What the kernel keeps back on one node, in pages (pmn__parse_zoneinfo). */
struct pmn__zonewm {
    int node;
    uint64_t reserve; /* sum over zones of min(managed, high + largest protection) */
    uint64_t low;     /* sum of the zones' low watermarks */
};
/* /proc/zoneinfo -> one entry per node in out[0..*n), at most @max nodes
 * (-ERANGE beyond); -EINVAL for malformed text. */
int pmn__parse_zoneinfo(const char *s, size_t len, struct pmn__zonewm *out, size_t max, size_t *n);

/* Parse a size with optional suffix: "4096", "2M", "1G", "64k", "3PiB",
 * "0x1000" (hex takes no suffix). */
int pmn__parse_size(const char *s, size_t len, uint64_t *out);

/* Log level name or digit -> level (0 off, 1 error, 2 warn, 3 info,
 * 4 debug); "warning", "err" and "none" are aliases, "" is off. */
int pmn__parse_log_level(const char *s, size_t len, int *level);
/* The canonical name of a level 0..4 ("off", "error", "warn", "info",
 * "debug"), or NULL. */
const char *pmn__log_level_name(int level);

/* The descriptor a stats path names, which the shim writes to as the
 * program's open descriptor, not by name: /dev/stdout 1, /dev/stderr 2,
 * /dev/fd/N and /proc/self/fd/N N (decimal, no leading zero, below
 * 1000000); -2 for any other path in those two directories (it names no
 * descriptor); -1 for every other path.  The shim's stats= and pmnode
 * run's --stats read it alike. */
int pmn__parse_fd_path(const char *path);

/* ---- errors.c: why this thread's last allocation failed ---- */
/* Per thread, so no lock and no sharing; the default TLS model keeps
 * libpmnode.so dlopen-safe.  Written only on failure paths. */
extern _Thread_local int pmn__last_err __attribute__((visibility("hidden")));
static inline void pmn__set_last_error(int err)
{
    pmn__last_err = err;
}

/* ---- text.c ---- */
/* Length of the well-formed UTF-8 sequence at @s (NUL-terminated), or 0. */
size_t pmn__utf8_seq(const unsigned char *s);
/* @s made fit for one terminal line, in place: control characters (C0,
 * DEL, and C1, U+0080 to U+009F, which a terminal may take as escape
 * sequences) and bytes that are not well-formed UTF-8 become '?' (a C1
 * character, two bytes, becomes "??"). */
void pmn__text_clean(char *s);

/* ---- fork.c ---- */
/* The layers whose locks are held across fork(), outermost first: every
 * prepare runs in this order, every release in the opposite one. */
enum pmn__fork_layer {
    PMN__FORK_IPC,
    PMN__FORK_TIERS,
    PMN__FORK_HEAPS,
    PMN__FORK_BACKINGS,
    PMN__FORK_CTXS,
    PMN__FORK_LAYERS
};
/* @layer's pair: @prepare takes its locks, @release(phase) gives them
 * back (phase 1 in the parent, 2 in the child).  The first call registers
 * the pthread_atfork() handlers; later calls for a layer store the same
 * pair again, harmlessly.  Thread-safe. */
void pmn__fork_register(enum pmn__fork_layer layer, void (*prepare)(void),
                        void (*release)(int phase));
/* A layer's list of its live objects (backings, heaps, contexts, IPC
 * caches), whose locks its prepare takes: a node in each object, a list
 * per layer (PMN__FORK_LIST_INIT) with the layer's handlers, registered
 * by each join.  The prepare takes the list's lock and walks it; the
 * release walks it and gives the lock back.  Thread-safe. */
struct pmn__fork_node {
    struct pmn__fork_node *prev, *next;
    bool linked; /* on its list (set and read by the object's owner) */
};
struct pmn__fork_list {
    pthread_mutex_t lock; /* the members */
    struct pmn__fork_node *head;
    enum pmn__fork_layer layer;
    void (*prepare)(void);
    void (*release)(int phase);
};
#define PMN__FORK_LIST_INIT(layer_, prepare_, release_)                              \
    {                                                                                \
        .lock = PTHREAD_MUTEX_INITIALIZER, .layer = (layer_), .prepare = (prepare_), \
        .release = (release_)                                                        \
    }
/* @n joins @l (registering @l's handlers first); leaves it (nothing when
 * it never joined). */
void pmn__fork_join(struct pmn__fork_list *l, struct pmn__fork_node *n);
void pmn__fork_leave(struct pmn__fork_list *l, struct pmn__fork_node *n);
/* The object of type @type whose member @member is at @ptr. */
#define PMN__CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- strv.c ---- */
void pmn__strv_free(char **v, size_t n);
/* Append @s (malloc'd; NULL is taken as an allocation that failed) to the
 * array; on failure @s is freed.  0 or -ENOMEM. */
int pmn__strv_push(char ***v, size_t *n, char *s);

/* ---- log.c ---- */
struct pmn_ctx;
/* Print one line to stderr when @level (1 error .. 4 debug) is within the
 * context's PMNODE_LOG level (see log.c). */
void pmn__log(const struct pmn_ctx *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record a discovery problem (also logged at warn level).  Allocation
 * failure drops the line: problems are diagnostics, not state. */
void pmn__problem(struct pmn_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the binary interface (inline, no defining file) ----
 *
 * Structs the library fills for the caller begin with size_t struct_size
 * (pmnode.h, Conventions).  A function filling one builds the whole struct
 * in a local, checks the caller's struct_size with pmn__out_ok() against
 * the struct's first version, PMN__SIZE_TO(type, last field of that
 * version) (not sizeof, which grows with the struct), and hands it over
 * with pmn__out_put(): as many bytes as both sides know, struct_size set to
 * that count.  The caller's struct need not be aligned. */
#define PMN__SIZE_TO(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

static inline bool pmn__out_ok(const void *out, size_t first_version)
{
    size_t have;

    if (out == NULL)
        return false;
    memcpy(&have, out, sizeof(have));
    return have >= first_version;
}

static inline void pmn__out_put(void *out, void *full, size_t full_size)
{
    size_t have, n;

    memcpy(&have, out, sizeof(have));
    n = have < full_size ? have : full_size;
    memcpy(full, &n, sizeof(n));
    memcpy(out, full, n);
}

/* Symbol versions (libpmnode.map).  A function whose binary interface
 * changed is exported as NAME@@PMNODE_x.y, the version new programs link
 * to, by PMN__SYMVER_DEFAULT(NAME, "PMNODE_x.y") beside its definition
 * ("remove" drops the plain name, so only the versioned one is left: GNU as
 * 2.35 or later, or clang's assembler), and keeps its old interface as
 * NAME@PMNODE_0.1 from compat/compat-0.1.c.  Calls inside the library bind
 * to the default version.  The preload shim (PMN_LITE) has no such
 * versions to export. */
#ifdef PMN_LITE
#define PMN__SYMVER_DEFAULT(name, node) _Static_assert(1, "no symbol versions in the shim")
#else
#define PMN__SYMVER_DEFAULT(name, node) __asm__(".symver " #name ", " #name "@@" node ", remove")
#endif
#define PMN__SYMVER_COMPAT(impl, name, node) __asm__(".symver " #impl ", " #name "@" node)

#endif /* PMN_CORE_H */
