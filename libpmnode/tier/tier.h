/*
 * tier.h - the tiering helper's decision, apart from the moves (tier/tier.c).
 *
 * pmn__tier_plan() is a pure function: given each extent's heat and where
 * its bytes are, it says which extents to demote, promote, compress or
 * bring back from the compressed tier, in the order the moves must run,
 * within the budgets and the hot node's limit.  tier.c measures, calls it
 * and carries the plan out (checking the limit again before every move,
 * since a move can fail); the unit test (tests/unit/test-tier-plan.c)
 * drives it with made-up extents.
 */
#ifndef PMN_TIER_H
#define PMN_TIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One extent as a step sees it: present bytes per place, the tracker's view. */
struct pmn__tier_ext {
    uint64_t hot, cold, comp,
        other;           /* present bytes on the hot, cold, compressed node, elsewhere */
    uint32_t heat;       /* tracker heat, 0-255 */
    uint32_t idle_looks; /* looks in a row that found it untouched */
    bool looked;         /* the tracker has a signal for it (else: never moved) */
    bool compressed;     /* demoted to the compressed tier by this tier */
    bool no_compress;    /* the compressed tier refused it; not again until touched */
};

enum pmn__tier_act_kind {
    PMN__TIER_DEMOTE = 1, /* hot -> cold (pmn_migrate) */
    PMN__TIER_PROMOTE,    /* cold (or elsewhere) -> hot (pmn_migrate) */
    PMN__TIER_COMPRESS,   /* cold -> compressed tier (pmn_ctier_demote) */
    PMN__TIER_DECOMPRESS, /* compressed tier -> hot (pmn_ctier_promote, then pmn_migrate) */
};

struct pmn__tier_act {
    size_t ext;    /* index into the extents */
    int kind;      /* enum pmn__tier_act_kind */
    uint64_t cost; /* bytes it moves, charged to its budget */
};

struct pmn__tier_policy {
    uint64_t hot_limit; /* 0: none */
    uint64_t promote_budget, demote_budget;
    unsigned cold_looks, compress_looks;
    bool ctier; /* a compressed tier is there */
};

/* A hot-node extent gives way to a hotter one only when the newcomer's
 * heat exceeds its own by more than this: no swapping of equals. */
#define PMN__TIER_HYSTERESIS 16u

/*
 * Plan one step over @n extents into @acts (room for @n: an extent gets at
 * most one action).  Returns the number of actions, or -ENOMEM.
 *
 * Rules, in the order the actions come out:
 *  1. Over the limit: demote the coldest hot-node extents (lowest heat,
 *     then most idle looks) until under it, within the demote budget.
 *  2. Promote: extents touched at their last look (idle_looks 0, heat > 0)
 *     with bytes off the hot node, hottest first, within the promote
 *     budget; where the limit leaves no room, colder hot-node extents
 *     (heat lower by more than PMN__TIER_HYSTERESIS) are demoted first,
 *     within the demote budget, or the candidate waits.  Compressed
 *     extents come back with DECOMPRESS.
 *  3. Demote hot-node extents idle for cold_looks looks, coldest first.
 *  4. Compress extents wholly on the cold node, idle for compress_looks
 *     looks, charged to the demote budget (they go down a level).
 * Extents not looked at are never moved; compressed extents are never
 * demoted.  Costs are the bytes not on the target yet.
 */
long pmn__tier_plan(const struct pmn__tier_policy *p, const struct pmn__tier_ext *e, size_t n,
                    struct pmn__tier_act *acts);

#endif
