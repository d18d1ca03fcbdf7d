/*
 * config.c - the configuration file's grammar (etc/pmnode.conf under the
 * root, or PMNODE_CONFIG / the params' path on this host).  topology.c
 * reads the file and applies it with the environment and the params.
 *
 * The file is line based: '#' starts a comment; "private LIST" names
 * private nodes, "kind NODE KIND" overrides a node's kind.  Unknown keys
 * and malformed lines are errors with the line number and the reason in
 * words ("unknown key 'privat'"), so that whoever wrote the file can be
 * told what to fix; the parser is a pure function over text (fuzzed in
 * tests/fuzz/fuzz-config.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
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

/* @why = printf(@fmt, ...): the reason a line is refused. */
__attribute__((format(printf, 2, 3))) static void say(struct pmn__config_error *e, const char *fmt,
                                                      ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(e->why, sizeof(e->why), fmt, ap);
    va_end(ap);
}

/* @tok (@len bytes, from the file) fit for a message: at most 32 bytes,
 * control bytes as '?', "..." when cut. */
static const char *shown(const char *tok, size_t len, char buf[40])
{
    size_t n = len > 32 ? 32 : len;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tok[i];
        buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    strcpy(buf + n, len > n ? "..." : "");
    return buf;
}

static int config_private(struct pmn__config *c, const char *list, size_t len,
                          struct pmn__config_error *e)
{
    struct pmn__bitmap b = {0};
    char t[40];
    int rc = pmn__parse_list(list, len, PMN__MAX_NODE_ID, &b);

    if (rc == 0) /* unite with earlier lines */
        rc = pmn__bitmap_or(&c->private_nodes, &b);
    pmn__bitmap_free(&b);
    if (rc == 0)
        c->private_set = true;
    else if (rc == -ERANGE)
        say(e, "node list '%s' names a node above %d", shown(list, len, t), PMN__MAX_NODE_ID);
    else if (rc == -EINVAL)
        say(e, "'%s' is not a node list (ids and ranges separated by commas, as in 2-3,8)",
            shown(list, len, t));
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
                       size_t klen, struct pmn__config_error *e)
{
    int id;
    char buf[32], t[40];
    enum pmn_kind kind;

    int rc = pmn__parse_node_id(node, nlen, &id);
    if (rc == -ERANGE)
        say(e, "node id '%s' is above %d", shown(node, nlen, t), PMN__MAX_NODE_ID);
    else if (rc == -EINVAL)
        say(e, "'%s' is not a node id (decimal digits)", shown(node, nlen, t));
    if (rc < 0)
        return rc;
    if (klen >= sizeof(buf) || memchr(name, '\0', klen) != NULL) {
        kind = PMN_KIND__COUNT;
    } else {
        memcpy(buf, name, klen);
        buf[klen] = '\0';
        if (pmn_kind_parse(buf, &kind) < 0)
            kind = PMN_KIND__COUNT;
    }
    if (kind == PMN_KIND__COUNT) {
        say(e, "unknown kind '%s' (dram, hbm, nvm, spm, cxl, gpu, compressed or unknown)",
            shown(name, klen, t));
        return -EINVAL;
    }
    for (size_t i = 0; i < c->nkinds; i++) {
        if (c->kinds[i].node == id) {
            say(e, "a second kind for node %d (one 'kind' line per node)", id);
            return -EINVAL;
        }
    }
    /* At most PMN__MAX_NODE_ID + 1 entries: ids are distinct. */
    return pmn__kinds_add(&c->kinds, &c->nkinds, (int)id, kind);
}

/*
 * Line based; '#' starts a comment anywhere, blanks are spaces and tabs,
 * blank lines are skipped.  "private LIST" may repeat (the lists are
 * united); "kind NODE NAME" may appear once per node.  @out is overwritten
 * (not freed first); on error it is left empty, @err (may be NULL) names
 * the offending 1-based line and says what is wrong with it, and the code
 * is -EINVAL (malformed), -ERANGE (node id above PMN__MAX_NODE_ID) or
 * -ENOMEM.  On success @err is {0, ""}.
 */
int pmn__parse_config(const char *s, size_t len, struct pmn__config *out,
                      struct pmn__config_error *err)
{
    struct pmn__config_error scratch, *e = err != NULL ? err : &scratch;
    size_t pos = 0, lineno = 0;
    int rc = 0;

    e->line = 0;
    e->why[0] = '\0';
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
        bool is_private = n > 0 && tlen[0] == 7 && memcmp(tok[0], "private", 7) == 0;
        bool is_kind = n > 0 && tlen[0] == 4 && memcmp(tok[0], "kind", 4) == 0;
        char t[40];

        if (n == 0)
            continue;
        rc = -EINVAL;
        if (is_private && n == 2)
            rc = config_private(out, tok[1], tlen[1], e);
        else if (is_kind && n == 3)
            rc = config_kind(out, tok[1], tlen[1], tok[2], tlen[2], e);
        else if (is_private)
            say(e, "'private' takes one node list, as in 'private 2-3,8'");
        else if (is_kind)
            say(e, "'kind' takes a node id and a kind, as in 'kind 4 compressed'");
        else
            say(e, "unknown key '%s' (the keys are 'private' and 'kind')",
                shown(tok[0], tlen[0], t));
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        pmn__config_free(out);
        e->line = lineno;
        if (rc == -ENOMEM)
            say(e, "out of memory");
        else if (e->why[0] == '\0')
            say(e, "malformed line");
    }
    return rc;
}
