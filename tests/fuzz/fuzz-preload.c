/*
 * fuzz-preload.c - PMNODE_PRELOAD, the shim's configuration
 * (pmn__preload_parse in libpmnode/preload/config.c).
 *
 * The input is the text, as pointer + length (no NUL).  Checks: 0, -EINVAL
 * or -ERANGE; an error has a one-line "PMNODE_PRELOAD: " message and points
 * at one whole option inside the text (or at its end for a missing
 * target); an accepted configuration has exactly one target, distinct spill
 * ids within range and not the node target, a level 0..4, and survives a
 * round trip: written back in canonical form (as pmnode run writes it) and
 * parsed again, it gives the same configuration.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "preload/config.h"

static bool is_sep(uint8_t c)
{
    return c == ';' || c == ' ' || c == '\t';
}

static void check_error(const uint8_t *data, size_t size, const struct pmn__preload_error *e)
{
    size_t n = strnlen(e->msg, sizeof(e->msg));

    FUZZ_CHECK(n < sizeof(e->msg));
    FUZZ_CHECK(strncmp(e->msg, "PMNODE_PRELOAD: ", 16) == 0);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)e->msg[i] >= 0x20 && e->msg[i] != 0x7f);
    FUZZ_CHECK(e->offset <= size && e->length <= size - e->offset);
    if (e->length == 0) {
        FUZZ_CHECK(e->offset == size); /* the missing target */
        return;
    }
    /* one whole option: separators around it, none inside */
    FUZZ_CHECK(e->offset == 0 || is_sep(data[e->offset - 1]));
    FUZZ_CHECK(e->offset + e->length == size || is_sep(data[e->offset + e->length]));
    for (size_t i = e->offset; i < e->offset + e->length; i++)
        FUZZ_CHECK(!is_sep(data[i]));
}

static void check_config(const struct pmn__preload_config *c)
{
    FUZZ_CHECK(c->target == PMN__PRELOAD_NODE || c->target == PMN__PRELOAD_KIND ||
               c->target == PMN__PRELOAD_PRIVATE);
    if (c->target == PMN__PRELOAD_NODE)
        FUZZ_CHECK(c->node >= 0 && c->node <= PMN__MAX_NODE_ID);
    if (c->target == PMN__PRELOAD_KIND)
        FUZZ_CHECK((unsigned)c->kind < PMN_KIND__COUNT);
    FUZZ_CHECK(c->nspill <= PMN__MAX_SPILL);
    for (size_t i = 0; i < c->nspill; i++) {
        FUZZ_CHECK(c->spill[i] >= 0 && c->spill[i] <= PMN__MAX_NODE_ID);
        FUZZ_CHECK(c->target != PMN__PRELOAD_NODE || c->spill[i] != c->node);
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(c->spill[i] != c->spill[j]);
    }
    FUZZ_CHECK(memchr(c->stats, '\0', sizeof(c->stats)) != NULL);
    FUZZ_CHECK(c->log_level >= 0 && c->log_level <= 4);
}

/* @c in the canonical form pmnode run writes; its length. */
static size_t format(const struct pmn__preload_config *c, char *buf, size_t cap)
{
    size_t n;

    if (c->target == PMN__PRELOAD_NODE)
        n = (size_t)snprintf(buf, cap, "node=%d", c->node);
    else if (c->target == PMN__PRELOAD_KIND)
        n = (size_t)snprintf(buf, cap, "kind=%s", pmn_kind_name(c->kind));
    else
        n = (size_t)snprintf(buf, cap, "private");
    n += (size_t)snprintf(buf + n, cap - n, ";threshold=%zu;log=%s", c->threshold,
                          pmn__log_level_name(c->log_level));
    for (size_t i = 0; i < c->nspill; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%d", i == 0 ? ";spill=" : ",", c->spill[i]);
    if (c->stats[0] != '\0')
        n += (size_t)snprintf(buf + n, cap - n, ";stats=%s", c->stats);
    FUZZ_CHECK(n < cap);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pmn__preload_config c, again;
    struct pmn__preload_error e;
    char text[8192];

    int rc = pmn__preload_parse((const char *)data, size, &c, &e);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ERANGE);
    if (rc != 0) {
        check_error(data, size, &e);
        return 0;
    }
    check_config(&c);

    size_t n = format(&c, text, sizeof(text));
    rc = pmn__preload_parse(text, n, &again, &e);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(again.target == c.target);
    FUZZ_CHECK(c.target != PMN__PRELOAD_NODE || again.node == c.node);
    FUZZ_CHECK(c.target != PMN__PRELOAD_KIND || again.kind == c.kind);
    FUZZ_CHECK(again.threshold == c.threshold && again.log_level == c.log_level);
    FUZZ_CHECK(again.nspill == c.nspill &&
               memcmp(again.spill, c.spill, c.nspill * sizeof(c.spill[0])) == 0);
    FUZZ_CHECK(strcmp(again.stats, c.stats) == 0);
    return 0;
}
