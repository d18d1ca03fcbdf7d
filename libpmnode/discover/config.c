/*
 * config.c - the configuration file's grammar (etc/pmnode.conf under the
 * root, or PMNODE_CONFIG / the params' path on this host).  topology.c
 * reads the file and applies it with the environment and the params.
 *
 * The file is line based: '#' starts a comment; "private LIST" names
 * private nodes, "kind NODE KIND" overrides a node's kind.  Unknown keys
 * and malformed lines are errors with the line number; the parser is a pure
 * function over text (fuzzed in tests/fuzz/fuzz-config.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "discover/discover.h"

void pmn__config_free(struct pmn__config *c)
{
    if (c == NULL)
        return;
    pmn__bitmap_free(&c->private_nodes);
    free(c->kinds);
    c->kinds = NULL;
    c->nkinds = 0;
    c->private_set = false;
}

#define CONFIG_MAX_TOKENS 3

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Split a line (comment already cut) into blank-separated tokens.  Returns
 * the token count, or CONFIG_MAX_TOKENS + 1 when there are too many. */
static size_t config_tokens(const char *s, size_t len, const char *tok[], size_t tlen[])
{
    size_t n = 0, i = 0;
    for (;;) {
        while (i < len && is_blank(s[i]))
            i++;
        if (i == len)
            return n;
        if (n == CONFIG_MAX_TOKENS)
            return n + 1;
        tok[n] = s + i;
        while (i < len && !is_blank(s[i]))
            i++;
        tlen[n] = (size_t)(s + i - tok[n]);
        n++;
    }
}

static int config_private(struct pmn__config *c, const char *list, size_t len)
{
    struct pmn__bitmap b = {0};
    int rc = pmn__parse_list(list, len, PMN__MAX_NODE_ID, &b);

    if (rc == 0) /* unite with earlier lines */
        rc = pmn__bitmap_or(&c->private_nodes, &b);
    pmn__bitmap_free(&b);
    if (rc == 0)
        c->private_set = true;
    return rc;
}

int pmn__kinds_add(struct pmn__kind_override **kinds, size_t *n, int node, enum pmn_kind kind)
{
    struct pmn__kind_override *k = realloc(*kinds, (*n + 1) * sizeof(*k));

    if (k == NULL)
        return -ENOMEM;
    k[*n].node = node;
    k[*n].kind = kind;
    *kinds = k;
    (*n)++;
    return 0;
}

static int config_kind(struct pmn__config *c, const char *node, size_t nlen, const char *name,
                       size_t klen)
{
    int id;
    char buf[32];
    enum pmn_kind kind;

    int rc = pmn__parse_node_id(node, nlen, &id);
    if (rc < 0)
        return rc;
    if (klen >= sizeof(buf) || memchr(name, '\0', klen) != NULL)
        return -EINVAL;
    memcpy(buf, name, klen);
    buf[klen] = '\0';
    if (pmn_kind_parse(buf, &kind) < 0)
        return -EINVAL;
    for (size_t i = 0; i < c->nkinds; i++) {
        if (c->kinds[i].node == id)
            return -EINVAL; /* conflicting or repeated declaration */
    }
    /* At most PMN__MAX_NODE_ID + 1 entries: ids are distinct. */
    return pmn__kinds_add(&c->kinds, &c->nkinds, (int)id, kind);
}

/*
 * Line based; '#' starts a comment anywhere, blanks are spaces and tabs,
 * blank lines are skipped.  "private LIST" may repeat (the lists are
 * united); "kind NODE NAME" may appear once per node.  @out is overwritten
 * (not freed first); on error it is left empty, *bad_line (may be NULL)
 * names the offending 1-based line, and the code is -EINVAL (malformed),
 * -ERANGE (node id above PMN__MAX_NODE_ID) or -ENOMEM.  On success
 * *bad_line is 0.
 */
int pmn__parse_config(const char *s, size_t len, struct pmn__config *out, size_t *bad_line)
{
    size_t pos = 0, lineno = 0;
    int rc = 0;

    if (bad_line != NULL)
        *bad_line = 0;
    if (out == NULL || (s == NULL && len > 0))
        return -EINVAL;
    memset(out, 0, sizeof(*out));

    while (pos < len) {
        const char *line = s + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl != NULL ? (size_t)(nl - line) : len - pos;
        pos += llen + 1;
        lineno++;

        const char *hash = memchr(line, '#', llen);
        if (hash != NULL)
            llen = (size_t)(hash - line);

        const char *tok[CONFIG_MAX_TOKENS];
        size_t tlen[CONFIG_MAX_TOKENS];
        size_t n = config_tokens(line, llen, tok, tlen);
        if (n == 0)
            continue;
        if (n == 2 && tlen[0] == 7 && memcmp(tok[0], "private", 7) == 0)
            rc = config_private(out, tok[1], tlen[1]);
        else if (n == 3 && tlen[0] == 4 && memcmp(tok[0], "kind", 4) == 0)
            rc = config_kind(out, tok[1], tlen[1], tok[2], tlen[2]);
        else
            rc = -EINVAL;
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        pmn__config_free(out);
        if (bad_line != NULL)
            *bad_line = lineno;
    }
    return rc;
}
