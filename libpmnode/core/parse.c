/*
 * parse.c - strict parsers for everything libpmnode reads from outside:
 * sysfs attributes, /proc/meminfo, node lists, and what people write:
 * node ids, spill lists, sizes and log levels.  It is the one grammar of
 * the library's environment, discover/config.c's configuration file, the
 * shim's PMNODE_PRELOAD (preload/config.c) and the pmnode command line
 * (tools/pmnode/options.c links this file), so a value means the same
 * wherever it is written.
 *
 * Every parser is a pure function over (pointer, length): the text need not
 * be NUL-terminated, nothing is printed, nothing is global, and the only
 * allocations are node bitmaps (never larger than the caller's max id) and
 * the config's kind table (bounded by the number of distinct node ids).
 * Numbers use an explicit base and no locale; a value may be followed by
 * exactly one '\n' (sysfs style) and by nothing else.  Errors are -EINVAL
 * for malformed text, -ERANGE for a value that does not fit or exceeds a
 * limit, -ENOMEM when a bitmap cannot grow; outputs are written only on
 * success unless a function says otherwise.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* ------------------------------------------------------------------ */
/* numbers                                                             */
/* ------------------------------------------------------------------ */

/* Length without the one optional trailing newline. */
static size_t chomp(const char *s, size_t len)
{
    if (len > 0 && s[len - 1] == '\n')
        len--;
    return len;
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

/* All of s[0..len) must be digits of @base (2..36); at least one.  A
 * malformed string is -EINVAL even when its digits would overflow. */
static int digits_u64(const char *s, size_t len, unsigned base, uint64_t *out)
{
    uint64_t v = 0;
    bool overflow = false;

    if (len == 0)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        int d = digit_value(s[i]);
        if (d >= (int)base)
            return -EINVAL;
        if (v > (UINT64_MAX - (unsigned)d) / base)
            overflow = true;
        else
            v = v * base + (unsigned)d;
    }
    if (overflow)
        return -ERANGE;
    *out = v;
    return 0;
}

static bool has_hex_prefix(const char *s, size_t len)
{
    return len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

int pmn__parse_u64(const char *s, size_t len, int base, uint64_t *out)
{
    if (s == NULL || out == NULL || base < 0 || base == 1 || base > 36)
        return -EINVAL;
    len = chomp(s, len);

    if (base == 0) {
        if (has_hex_prefix(s, len)) {
            base = 16;
            s += 2;
            len -= 2;
        } else if (len > 1 && s[0] == '0') {
            base = 8;
            s++;
            len--;
        } else {
            base = 10;
        }
    } else if (base == 16 && has_hex_prefix(s, len)) {
        s += 2;
        len -= 2;
    }
    return digits_u64(s, len, (unsigned)base, out);
}

int pmn__parse_s64(const char *s, size_t len, int64_t *out)
{
    bool neg = false;
    uint64_t mag;

    if (s == NULL || out == NULL)
        return -EINVAL;
    len = chomp(s, len);
    if (len > 0 && s[0] == '-') {
        neg = true;
        s++;
        len--;
    }
    int rc = digits_u64(s, len, 10, &mag);
    if (rc < 0)
        return rc;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1)
            return -ERANGE;
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX)
            return -ERANGE;
        *out = (int64_t)mag;
    }
    return 0;
}

/* Length of the run of decimal digits at s[0..len). */
static size_t span_digits(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

/* ------------------------------------------------------------------ */
/* lists                                                               */
/* ------------------------------------------------------------------ */

/* One decimal id of a list, checked against @max_id. */
static int list_id(const char *s, size_t len, unsigned max_id, unsigned *out)
{
    uint64_t v;
    int rc = digits_u64(s, len, 10, &v);
    if (rc < 0)
        return rc;
    if (v > max_id)
        return -ERANGE;
    *out = (unsigned)v;
    return 0;
}

/* Compare two non-empty decimal digit strings by value, without limits. */
static int cmp_decimal(const char *a, size_t alen, const char *b, size_t blen)
{
    while (alen > 1 && a[0] == '0') {
        a++;
        alen--;
    }
    while (blen > 1 && b[0] == '0') {
        b++;
        blen--;
    }
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

/* One group "N" or "N-M" of a list: *lo..*hi, or -EINVAL / -ERANGE.
 * Malformed beats out of range, and "N-M" with N > M is malformed whatever
 * the limit, so the answer for bad text never depends on @max_id. */
static int list_group(const char *g, size_t glen, unsigned max_id, unsigned *lo, unsigned *hi)
{
    size_t n1 = span_digits(g, glen);
    if (n1 == 0)
        return -EINVAL;
    if (n1 == glen) {
        int rc = list_id(g, glen, max_id, lo);
        if (rc == 0)
            *hi = *lo;
        return rc;
    }
    const char *g2 = g + n1 + 1;
    size_t n2 = glen - n1 - 1;
    if (g[n1] != '-' || n2 == 0 || span_digits(g2, n2) != n2)
        return -EINVAL;
    if (cmp_decimal(g, n1, g2, n2) > 0)
        return -EINVAL;
    int rc = list_id(g, n1, max_id, lo);
    if (rc == 0)
        rc = list_id(g2, n2, max_id, hi);
    return rc;
}

/*
 * Kernel list format as printed by "%*pbl": comma-separated groups, each
 * "N" or "N-M" with N <= M, decimal, no spaces, no empty group.  The
 * kernel's "N-M:used/group" stride form is never printed in sysfs and is
 * rejected.  Malformed text anywhere is -EINVAL whatever @max_id is; only
 * a well-formed list with an id above @max_id is -ERANGE.  Every id is
 * validated before the bitmap grows, so the largest allocation is
 * max_id / 8 bytes.  On error @out is left empty.
 */
int pmn__parse_list(const char *s, size_t len, unsigned max_id, struct pmn__bitmap *out)
{
    int rc = 0;
    bool range = false;

    if (out == NULL || (s == NULL && len > 0))
        return -EINVAL;
    if (out->words != NULL)
        memset(out->words, 0, out->nwords * sizeof(*out->words));
    len = chomp(s, len);

    size_t pos = 0;
    while (len > 0) {
        size_t end = pos;
        while (end < len && s[end] != ',')
            end++;
        unsigned lo, hi;
        rc = list_group(s + pos, end - pos, max_id, &lo, &hi);
        if (rc == -ERANGE) {
            range = true; /* keep checking the syntax of the rest */
            rc = 0;
        } else if (rc == 0 && !range) {
            rc = pmn__bitmap_set_range(out, lo, hi);
        }
        if (rc < 0)
            break;
        if (end == len)
            break;
        pos = end + 1;
        if (pos == len) { /* trailing comma: empty last group */
            rc = -EINVAL;
            break;
        }
    }
    if (rc == 0 && range)
        rc = -ERANGE;
    if (rc < 0 && out->words != NULL)
        memset(out->words, 0, out->nwords * sizeof(*out->words));
    return rc;
}

/*
 * A node id as a person writes one (the CLI, PMNODE_PRELOAD, the
 * configuration file): decimal digits, at most PMN__MAX_NODE_ID.  No sign,
 * no hex, no spaces; leading zeros are decimal.
 */
int pmn__parse_node_id(const char *s, size_t len, int *out)
{
    unsigned id;

    if (s == NULL || out == NULL)
        return -EINVAL;
    int rc = list_id(s, chomp(s, len), PMN__MAX_NODE_ID, &id);
    if (rc == 0)
        *out = (int)id;
    return rc;
}

/*
 * An explicit spill list, "2,0,5": node ids (as pmn__parse_node_id) in the
 * order they are to be used, separated by single commas, at least one; no
 * ranges (the order is the point).  A node listed twice is refused: where
 * its second place would put it is meaningless, so it is always a mistake.
 * Malformed text anywhere is -EINVAL; otherwise the first problem from the
 * left decides: an id above PMN__MAX_NODE_ID (-ERANGE), an id listed before
 * (-EINVAL), a (@max + 1)th id (-ERANGE).  Nothing is allocated (the shim
 * parses this before its heap exists).  On error @out may hold some ids but
 * *n is not written.
 */
int pmn__parse_spill(const char *s, size_t len, int *out, size_t max, size_t *n)
{
    size_t count = 0;

    if (s == NULL || n == NULL || (out == NULL && max > 0))
        return -EINVAL;
    len = chomp(s, len);
    /* syntax first, so a limit never hides malformed text */
    for (size_t pos = 0;;) {
        size_t d = span_digits(s + pos, len - pos);
        if (d == 0)
            return -EINVAL;
        pos += d;
        if (pos == len)
            break;
        if (s[pos] != ',')
            return -EINVAL;
        pos++;
    }
    for (size_t pos = 0; pos < len;) {
        size_t d = span_digits(s + pos, len - pos);
        unsigned id;
        int rc = list_id(s + pos, d, PMN__MAX_NODE_ID, &id);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < count; i++)
            if (out[i] == (int)id)
                return -EINVAL;
        if (count == max)
            return -ERANGE;
        out[count++] = (int)id;
        pos += d + 1;
    }
    *n = count;
    return 0;
}

/*
 * nodeN/distance: decimal values separated by single spaces, as the
 * kernel prints them.  At least one value.  A value above INT_MAX or more
 * than @max values is -ERANGE, unless the text is also malformed
 * (-EINVAL).  On error @out may hold some values but *n is not written.
 */
int pmn__parse_distances(const char *s, size_t len, int *out, size_t max, size_t *n)
{
    size_t count = 0, pos = 0;
    bool range = false;

    if (s == NULL || n == NULL || (out == NULL && max > 0))
        return -EINVAL;
    len = chomp(s, len);
    if (len == 0)
        return -EINVAL;
    for (;;) {
        size_t end = pos;
        while (end < len && s[end] != ' ')
            end++;
        uint64_t v;
        int rc = digits_u64(s + pos, end - pos, 10, &v);
        if (rc == -EINVAL)
            return rc;
        if (rc < 0 || v > INT_MAX || count == max)
            range = true;
        else
            out[count++] = (int)v;
        if (end == len)
            break;
        pos = end + 1;
        if (pos == len) /* trailing space */
            return -EINVAL;
    }
    if (range)
        return -ERANGE;
    *n = count;
    return 0;
}

/* ------------------------------------------------------------------ */
/* meminfo                                                             */
/* ------------------------------------------------------------------ */

static bool starts_with(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len >= n && memcmp(s, lit, n) == 0;
}

/* "<spaces>DIGITS kB" -> bytes. */
static int meminfo_value(const char *s, size_t len, uint64_t *bytes)
{
    size_t i = 0;
    uint64_t kb;

    while (i < len && s[i] == ' ')
        i++;
    if (i == 0 || len - i < 4 || memcmp(s + len - 3, " kB", 3) != 0)
        return -EINVAL;
    int rc = digits_u64(s + i, len - 3 - i, 10, &kb);
    if (rc < 0)
        return rc;
    if (kb > UINT64_MAX / 1024)
        return -ERANGE;
    *bytes = kb * 1024;
    return 0;
}

/* The meminfo fields read, and where each goes. */
static const struct {
    const char *key;
    size_t off;
} meminfo_keys[] = {
    {"MemTotal:", offsetof(struct pmn__meminfo, total)},
    {"MemFree:", offsetof(struct pmn__meminfo, free)},
    {"Active(file):", offsetof(struct pmn__meminfo, active_file)},
    {"Inactive(file):", offsetof(struct pmn__meminfo, inactive_file)},
    {"SReclaimable:", offsetof(struct pmn__meminfo, sreclaimable)},
    {"KReclaimable:", offsetof(struct pmn__meminfo, kreclaimable)},
};
#define NMEMINFO_KEYS (sizeof(meminfo_keys) / sizeof(meminfo_keys[0]))

/*
 * Lines are "Node N Key:   value kB" (nodeN/meminfo) or "Key:   value kB"
 * (/proc/meminfo).  Only the fields of struct pmn__meminfo are read; a
 * malformed or repeated one is -EINVAL, as are field lines naming two
 * different nodes or mixing the two styles.  Other lines, including ones
 * whose "Node N " prefix is malformed, are skipped.  No trailing-newline
 * rule here: the last line may or may not end in '\n'.
 */
int pmn__parse_meminfo(const char *s, size_t len, struct pmn__meminfo *out)
{
    struct pmn__meminfo m;
    bool seen[NMEMINFO_KEYS] = {false}, seen_any = false;
    const char *node = NULL; /* "Node N " prefix of the first field line */
    size_t node_len = 0;
    size_t pos = 0;

    if (out == NULL || (s == NULL && len > 0))
        return -EINVAL;
    for (size_t k = 0; k < NMEMINFO_KEYS; k++)
        *(uint64_t *)((char *)&m + meminfo_keys[k].off) = PMN_UNKNOWN;
    while (pos < len) {
        const char *line = s + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl != NULL ? (size_t)(nl - line) : len - pos;
        pos += llen + 1;

        /* optional "Node N " prefix */
        size_t p = 0;
        if (starts_with(line, llen, "Node ")) {
            size_t d = span_digits(line + 5, llen - 5);
            if (d == 0 || 5 + d >= llen || line[5 + d] != ' ')
                continue; /* not a node-style field line */
            p = 5 + d + 1;
        }

        size_t k = 0;
        while (k < NMEMINFO_KEYS && !starts_with(line + p, llen - p, meminfo_keys[k].key))
            k++;
        if (k == NMEMINFO_KEYS)
            continue;
        if (seen[k])
            return -EINVAL;
        if (seen_any && (p != node_len || memcmp(line, node, p) != 0))
            return -EINVAL;
        size_t klen = strlen(meminfo_keys[k].key);
        int rc = meminfo_value(line + p + klen, llen - p - klen,
                               (uint64_t *)((char *)&m + meminfo_keys[k].off));
        if (rc < 0)
            return rc;
        seen[k] = true;
        seen_any = true;
        node = line;
        node_len = p;
    }
    *out = m;
    return 0;
}

/* ------------------------------------------------------------------ */
/* zoneinfo                                                            */
/* ------------------------------------------------------------------ */

/* One zone of /proc/zoneinfo as it is read. */
struct zone_acc {
    bool open, has_low, has_high, has_managed, has_prot;
    uint64_t low, high, managed, prot;
};

/* "(0, 3018, 24090)" -> the largest value. */
static int protection_max(const char *s, size_t len, uint64_t *out)
{
    uint64_t max = 0, v;
    size_t i = 1;

    if (len < 2 || s[0] != '(' || s[len - 1] != ')')
        return -EINVAL;
    len--; /* the ')' */
    for (;;) {
        size_t d = span_digits(s + i, len - i);
        int rc = digits_u64(s + i, d, 10, &v);
        if (rc < 0)
            return rc;
        if (v > max)
            max = v;
        i += d;
        if (i == len)
            break;
        if (len - i < 3 || s[i] != ',' || s[i + 1] != ' ')
            return -EINVAL;
        i += 2;
    }
    *out = max;
    return 0;
}

/* Add a finished zone to its node's entry. */
static int zone_close(struct zone_acc *z, struct pmn__zonewm *w)
{
    uint64_t reserve;

    if (!z->open)
        return 0;
    z->open = false;
    if (!z->has_low || !z->has_high)
        return -EINVAL;
    if (z->high > UINT64_MAX - z->prot)
        return -ERANGE;
    reserve = z->high + z->prot;
    if (z->has_managed && reserve > z->managed)
        reserve = z->managed; /* a zone cannot hold back more than it has */
    if (w->reserve > UINT64_MAX - reserve || w->low > UINT64_MAX - z->low)
        return -ERANGE;
    w->reserve += reserve;
    w->low += z->low;
    return 0;
}

/* "Node N, zone NAME": the node's entry in out[0..*n), added when new. */
static int zone_header(const char *line, size_t llen, struct pmn__zonewm *out, size_t max,
                       size_t *n, struct pmn__zonewm **w)
{
    size_t d = span_digits(line + 5, llen - 5), i;
    uint64_t id;
    int rc;

    rc = digits_u64(line + 5, d, 10, &id);
    if (rc < 0)
        return rc;
    if (id > PMN__MAX_NODE_ID)
        return -ERANGE;
    if (llen - 5 - d < 8 || memcmp(line + 5 + d, ", zone ", 7) != 0)
        return -EINVAL;
    for (i = 0; i < *n && out[i].node != (int)id; i++)
        ;
    if (i == *n) {
        if (*n == max)
            return -ERANGE;
        out[i] = (struct pmn__zonewm){.node = (int)id};
        (*n)++;
    }
    *w = &out[i];
    return 0;
}

/* One indented line of a zone: the watermarks, managed and protection are
 * kept, every other line is skipped. */
static int zone_field(const char *line, size_t llen, struct zone_acc *z)
{
    static const char *const keys[] = {"low", "high", "managed"};
    uint64_t *dst[] = {&z->low, &z->high, &z->managed};
    bool *seen[] = {&z->has_low, &z->has_high, &z->has_managed};
    size_t i = 0, w, v;

    while (i < llen && line[i] == ' ')
        i++;
    for (w = i; w < llen && line[w] != ' '; w++)
        ;
    for (v = w; v < llen && line[v] == ' '; v++)
        ;
    if (w - i == 11 && memcmp(line + i, "protection:", 11) == 0) {
        if (z->has_prot)
            return -EINVAL;
        z->has_prot = true;
        return protection_max(line + v, llen - v, &z->prot);
    }
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        if (w - i != strlen(keys[k]) || memcmp(line + i, keys[k], w - i) != 0)
            continue;
        if (*seen[k] || v == w)
            return -EINVAL;
        *seen[k] = true;
        return digits_u64(line + v, llen - v, 10, dst[k]);
    }
    return 0;
}

/*
 * /proc/zoneinfo: a "Node N, zone NAME" line opens each zone; its
 * indented lines hold "low", "high" and "managed" page counts and
 * "protection: (a, b, ...)" (the zone's lowmem reserves).  Per node, in
 * the order nodes first appear: reserve = the sum over its zones of
 * min(managed, high + the largest protection), the pages the kernel keeps
 * back from user allocations (its totalreserve_pages, per node), and low
 * = the sum of low watermarks.  Lines outside a zone and the per-cpu
 * lines ("high:  378", with a colon) are skipped.  -EINVAL for a zone
 * without low or high, a repeated or malformed field; -ERANGE beyond @max
 * nodes or for a sum that does not fit.
 */
int pmn__parse_zoneinfo(const char *s, size_t len, struct pmn__zonewm *out, size_t max, size_t *n)
{
    struct zone_acc z = {0};
    struct pmn__zonewm *w = NULL;
    size_t pos = 0, count = 0;
    int rc;

    if (n == NULL || (s == NULL && len > 0) || (out == NULL && max > 0))
        return -EINVAL;
    while (pos < len) {
        const char *line = s + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl != NULL ? (size_t)(nl - line) : len - pos;
        pos += llen + 1;

        if (starts_with(line, llen, "Node ")) {
            if ((rc = zone_close(&z, w)) != 0 ||
                (rc = zone_header(line, llen, out, max, &count, &w)) != 0)
                return rc;
            z = (struct zone_acc){.open = true};
        } else if (z.open && llen > 0 && line[0] == ' ') {
            if ((rc = zone_field(line, llen, &z)) != 0)
                return rc;
        }
    }
    if ((rc = zone_close(&z, w)) != 0)
        return rc;
    *n = count;
    return 0;
}

/* ------------------------------------------------------------------ */
/* sizes and env strings                                               */
/* ------------------------------------------------------------------ */

/*
 * "4096", "0x1000" (hex, no suffix: 'E' would be ambiguous), or decimal
 * with a binary suffix K M G T P E (either case), optionally spelled
 * "KiB", "MiB"...  Leading zeros are decimal, never octal.
 */
int pmn__parse_size(const char *s, size_t len, uint64_t *out)
{
    static const char units[] = "kmgtpe";
    uint64_t v;
    unsigned shift = 0;

    if (s == NULL || out == NULL)
        return -EINVAL;
    len = chomp(s, len);
    if (has_hex_prefix(s, len))
        return digits_u64(s + 2, len - 2, 16, out);

    size_t d = span_digits(s, len);
    if (d == 0)
        return -EINVAL;
    if (d < len) {
        char c = s[d];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        const char *u = c != '\0' ? strchr(units, c) : NULL;
        if (u == NULL)
            return -EINVAL;
        size_t rest = len - d - 1;
        if (!(rest == 0 || (rest == 2 && s[d + 1] == 'i' && s[d + 2] == 'B')))
            return -EINVAL;
        shift = 10u * (unsigned)(u - units + 1);
    }
    int rc = digits_u64(s, d, 10, &v);
    if (rc < 0)
        return rc;
    if (shift != 0 && v > (UINT64_MAX >> shift))
        return -ERANGE;
    *out = v << shift;
    return 0;
}

static bool eq_nocase(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    if (len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return true;
}

/*
 * Log levels, one table for PMNODE_LOG, the shim's log= and pmnode run
 * --log: "off"/"none" (0), "error"/"err" (1), "warn"/"warning" (2), "info"
 * (3), "debug" (4), case-insensitive, or a digit 0-4.  An empty value means
 * off, as an unset variable does.  The first name of each level is the one
 * pmn__log_level_name() gives back.
 */
static const struct {
    const char *name;
    int level;
} log_names[] = {
    {"off", 0},   {"error", 1}, {"warn", 2}, {"info", 3},
    {"debug", 4}, {"none", 0},  {"err", 1},  {"warning", 2},
};

int pmn__parse_log_level(const char *s, size_t len, int *level)
{
    if ((s == NULL && len > 0) || level == NULL)
        return -EINVAL;
    len = chomp(s, len);
    if (len == 0) {
        *level = 0;
        return 0;
    }
    if (len == 1 && s[0] >= '0' && s[0] <= '4') {
        *level = s[0] - '0';
        return 0;
    }
    for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
        if (eq_nocase(s, len, log_names[i].name)) {
            *level = log_names[i].level;
            return 0;
        }
    }
    return -EINVAL;
}

const char *pmn__log_level_name(int level)
{
    for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++)
        if (log_names[i].level == level)
            return log_names[i].name;
    return NULL;
}

int pmn__parse_fd_path(const char *path)
{
    static const char *const dirs[] = {"/dev/fd/", "/proc/self/fd/"};

    if (strcmp(path, "/dev/stdout") == 0)
        return 1;
    if (strcmp(path, "/dev/stderr") == 0)
        return 2;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        size_t n = strlen(dirs[i]), digits;
        const char *d = path + n;
        uint64_t fd;

        if (strncmp(path, dirs[i], n) != 0)
            continue;
        digits = strlen(d);
        if (digits == 0 || digits > 6 || (d[0] == '0' && digits > 1) ||
            strspn(d, "0123456789") != digits || pmn__parse_u64(d, digits, 10, &fd) != 0)
            return -2;
        return (int)fd;
    }
    return -1;
}
