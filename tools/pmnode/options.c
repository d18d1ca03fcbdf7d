/*
 * options.c - one loop parses every pmnode command line, one set of
 * printers explains it; both read the command's table (options.h).
 *
 * No getopt: its messages and its argument permutation are not under our
 * control.  The rules are few and the same for every command: options
 * first, in any order; "--opt VALUE" or "--opt=VALUE" (the next word is
 * the value whatever it looks like, as getopt does); a flag takes no
 * value; the last of a repeated option wins, except in an OPT_ONE_OF group
 * where a repeat is a mistake; "--" ends the options only for a command
 * with operands (run).  "-h"/"--help" anywhere prints the help, once the
 * rest of the line has parsed: "pmnode list --help extra" is a mistake
 * like "pmnode list extra".  Every mistake is one "pmnode: CMD: ..." line
 * and exit status 2.
 *
 * The help is laid out like the hand-written one it replaced: usage lines
 * wrapped at 80 columns with continuations under the first option, the
 * option list in two columns.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"

#define XSTR(x) #x
#define STR(x) XSTR(x)
#define WIDTH 80       /* of a usage line */
#define SUMMARY_COL 31 /* where pmnode --help puts a command's summary */

/* ---- value types ------------------------------------------------------ */

static int parse_string(const struct opt *o, const char *s, union opt_value *v)
{
    (void)o;
    v->str = s;
    return 0;
}

static int parse_path(const struct opt *o, const char *s, union opt_value *v)
{
    (void)o;
    if (s[0] == '\0')
        return -EINVAL;
    v->str = s;
    return 0;
}

static int parse_node(const struct opt *o, const char *s, union opt_value *v)
{
    (void)o;
    return pmn__parse_node_id(s, strlen(s), &v->node);
}

static int parse_bytes(const struct opt *o, const char *s, union opt_value *v)
{
    uint64_t b;
    int err = pmn__parse_size(s, strlen(s), &b);

    (void)o;
    if (err == 0 && b > SIZE_MAX)
        err = -ERANGE;
    if (err == 0)
        v->bytes = b;
    return err;
}

static int parse_bytes_nonzero(const struct opt *o, const char *s, union opt_value *v)
{
    union opt_value b;
    int err = parse_bytes(o, s, &b);

    if (err == 0 && b.bytes == 0)
        err = -EINVAL;
    if (err == 0)
        v->bytes = b.bytes;
    return err;
}

static int parse_request(const struct opt *o, const char *s, union opt_value *v)
{
    uint64_t b;
    int err = pmn__parse_size(s, strlen(s), &b);

    (void)o;
    if (err == -ERANGE) /* well-formed, more than any machine has */
        err = 0, b = UINT64_MAX;
    if (err == 0 && b == 0)
        err = -EINVAL;
    if (err == 0)
        v->bytes = b;
    return err;
}

static int parse_spill(const struct opt *o, const char *s, union opt_value *v)
{
    (void)o;
    return pmn__parse_spill(s, strlen(s), v->spill.ids, PMN__MAX_SPILL, &v->spill.n);
}

static int parse_log(const struct opt *o, const char *s, union opt_value *v)
{
    (void)o;
    return pmn__parse_log_level(s, strlen(s), &v->level);
}

static int parse_kind(const struct opt *o, const char *s, union opt_value *v)
{
    (void)o;
    return pmn_kind_parse(s, &v->kind);
}

static int parse_choice(const struct opt *o, const char *s, union opt_value *v)
{
    for (size_t i = 0; o->choices != NULL && o->choices[i] != NULL; i++) {
        if (strcmp(s, o->choices[i]) == 0) {
            v->index = i;
            return 0;
        }
    }
    return -EINVAL;
}

#define BYTES_FORM "digits and an optional k, M, G, T, P or E suffix, or 0x and hex digits"
_Static_assert(PMN__MAX_SPILL == 63, "the message of opt_spill says 63");

const struct opt_type opt_flag = {NULL, "a flag"};
const struct opt_type opt_string = {parse_string, "text"};
const struct opt_type opt_path = {parse_path, "a path"};
const struct opt_type opt_node = {parse_node, "a node id (0 to " STR(PMN__MAX_NODE_ID) ")"};
const struct opt_type opt_bytes = {parse_bytes, "a byte count (" BYTES_FORM ")"};
const struct opt_type opt_bytes_nonzero = {parse_bytes_nonzero,
                                           "a byte count of at least 1 (" BYTES_FORM ")"};
const struct opt_type opt_request = {parse_request, "a byte count of at least 1 (" BYTES_FORM ")"};
const struct opt_type opt_spill = {parse_spill,
                                   "a list of distinct node ids (N,M,...; at most 63)"};
const struct opt_type opt_log = {parse_log, "a log level (off, error, warn, info or debug)"};
const struct opt_type opt_kind = {parse_kind,
                                  "a kind (dram, hbm, nvm, spm, cxl, gpu or compressed)"};
const struct opt_type opt_choice = {parse_choice, NULL /* the choices, see describe() */};

/* ---- labels ------------------------------------------------------------ */

/* Append @s to @buf (size @n, holding @len bytes); the new length. */
static size_t append(char *buf, size_t n, size_t len, const char *s)
{
    int w = snprintf(buf + len, len < n ? n - len : 0, "%s", s);
    return len + (w > 0 ? (size_t)w : 0);
}

/* What @o's value must be, for messages: "one of text, zero or random". */
static const char *describe(const struct opt *o, char *buf, size_t n)
{
    size_t len = 0;

    if (o->type != &opt_choice)
        return o->type->what;
    len = append(buf, n, len, "one of ");
    for (size_t i = 0; o->choices[i] != NULL; i++) {
        if (i > 0)
            len = append(buf, n, len, o->choices[i + 1] == NULL ? " or " : ", ");
        len = append(buf, n, len, o->choices[i]);
    }
    return buf;
}

/* "--node N", "--stats=PATH", "--json"; with @with_short, "-n, --node N". */
static const char *label(const struct opt *o, bool with_short, char *buf, size_t n)
{
    size_t len = 0;

    if (with_short && o->short_name != '\0') {
        char s[5] = {'-', o->short_name, ',', ' ', '\0'};
        len = append(buf, n, len, s);
    }
    len = append(buf, n, len, o->name);
    if (o->type->parse != NULL) {
        len = append(buf, n, len, o->flags & OPT_EQ_ONLY ? "=" : " ");
        append(buf, n, len, o->arg);
    }
    return buf;
}

/* "--node N, --kind K or --private" (@full) or "--node, --kind or
 * --private": the OPT_ONE_OF group of @cmd. */
static const char *one_of(const struct cmd *cmd, bool full, char *buf, size_t n)
{
    size_t len = 0, seen = 0, total = 0;
    char l[128];

    for (size_t i = 0; i < cmd->nopts; i++)
        total += (cmd->opts[i].flags & OPT_ONE_OF) != 0;
    buf[0] = '\0';
    for (size_t i = 0; i < cmd->nopts; i++) {
        const struct opt *o = &cmd->opts[i];
        if (!(o->flags & OPT_ONE_OF))
            continue;
        if (seen++ > 0)
            len = append(buf, n, len, seen == total ? " or " : ", ");
        len = append(buf, n, len, full ? label(o, false, l, sizeof(l)) : o->name);
    }
    return buf;
}

/* ---- parsing ----------------------------------------------------------- */

/* One line: "pmnode: CMD: WHAT: ERROR (try 'pmnode CMD --help')". */
__attribute__((format(printf, 3, 4))) static int usage_error(const struct cmd *cmd, int err,
                                                             const char *fmt, ...)
{
    char what[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    msg("%s: %s: %s (try 'pmnode %s --help')", cmd->name, what, pmn_strerror(err), cmd->name);
    return EXIT_USAGE;
}

/* The entry of @cmd named by @a ("--name", "--name=VALUE", "-c"), with
 * *value set for the "=" form; -1 when there is none. */
static long find(const struct cmd *cmd, const char *a, const char **value)
{
    *value = NULL;
    for (size_t i = 0; i < cmd->nopts; i++) {
        const struct opt *o = &cmd->opts[i];
        size_t n = strlen(o->name);

        if (o->short_name != '\0' && a[0] == '-' && a[1] == o->short_name && a[2] == '\0')
            return (long)i;
        if (strncmp(a, o->name, n) != 0 || (a[n] != '\0' && a[n] != '='))
            continue;
        if (a[n] == '=')
            *value = a + n + 1;
        return (long)i;
    }
    return -1;
}

bool opt_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int opt_missing(const struct cmd *cmd, size_t i)
{
    char l[128];

    return usage_error(cmd, -EINVAL, "missing %s", label(&cmd->opts[i], false, l, sizeof(l)));
}

int opt_parse(const struct cmd *cmd, int argc, char **argv, struct opt_result *res, int *rest)
{
    unsigned targets = 0;
    bool group = false, help = false;
    char buf[512];

    memset(res, 0, cmd->nopts * sizeof(*res));
    *rest = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *value;
        const struct opt *o;
        long k;
        int err = 0;

        if (cmd->operands != NULL && strcmp(a, "--") == 0) {
            *rest = i + 1;
            break;
        }
        if (opt_is_help(a)) {
            help = true;
            continue;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (cmd->operands != NULL)
                return usage_error(cmd, -EINVAL,
                                   "unexpected argument '%s' (the options come first, "
                                   "then %s)",
                                   a, cmd->operands);
            return usage_error(cmd, -EINVAL, "unexpected argument '%s'", a);
        }
        if ((k = find(cmd, a, &value)) < 0)
            return usage_error(cmd, -EINVAL, "unknown option '%s'", a);
        o = &cmd->opts[k];
        if (o->type->parse == NULL) {
            if (value != NULL)
                return usage_error(cmd, -EINVAL, "option '%s' takes no value", o->name);
        } else if (value == NULL) {
            if (o->flags & OPT_EQ_ONLY)
                return usage_error(cmd, -EINVAL, "option '%s' takes its value as %s", o->name,
                                   label(o, false, buf, sizeof(buf)));
            if (i + 1 >= argc)
                return usage_error(cmd, -EINVAL, "option '%s' needs a value (%s)", o->name,
                                   label(o, false, buf, sizeof(buf)));
            value = argv[++i];
        }
        if (value != NULL && (err = o->type->parse(o, value, &res[k].v)) != 0 &&
            o->type == &opt_node && err == -ERANGE)
            return no_such_node(cmd->name, o->name, value, NULL);
        if (value != NULL && err != 0)
            return usage_error(cmd, err, "%s '%s' is not %s", o->name, value,
                               describe(o, buf, sizeof(buf)));
        res[k].count++;
        res[k].arg = value;
        if (o->flags & OPT_ONE_OF)
            targets++;
    }
    if (help) {
        opt_usage(cmd, stdout);
        return finish_stdout(EXIT_OK);
    }
    for (size_t i = 0; i < cmd->nopts; i++)
        group |= (cmd->opts[i].flags & OPT_ONE_OF) != 0;
    if (group && targets == 0)
        return usage_error(cmd, -EINVAL, "missing one of %s", one_of(cmd, true, buf, sizeof(buf)));
    if (group && targets > 1)
        return usage_error(cmd, -EINVAL, "give one of %s, and only once",
                           one_of(cmd, false, buf, sizeof(buf)));
    return -1;
}

/* ---- help -------------------------------------------------------------- */

/* Words filled into lines of WIDTH columns; continuation lines start at
 * @indent. */
struct line {
    FILE *out;
    size_t col, indent;
};

static void put_word(struct line *l, const char *word)
{
    size_t n = strlen(word);

    if (l->col > l->indent && l->col + 1 + n > WIDTH) {
        fputc('\n', l->out);
        pad(l->out, l->indent);
        l->col = l->indent;
    } else {
        fputc(' ', l->out);
        l->col++;
    }
    fputs(word, l->out);
    l->col += n;
}

/* @prefix ("usage: pmnode verify"), then the options of @cmd as words:
 * "--size BYTES", "[--json]", "(--node N | --kind K | --private)". */
static void synopsis(const struct cmd *cmd, const char *prefix, FILE *out, struct line *l)
{
    char word[512], lb[128];

    fputs(prefix, out);
    *l = (struct line){out, strlen(prefix), strlen(prefix) + 1};
    for (size_t i = 0; i < cmd->nopts; i++) {
        const struct opt *o = &cmd->opts[i];
        size_t len = 0;

        if (o->flags & OPT_ONE_OF) {
            len = append(word, sizeof(word), len, "(");
            for (; i < cmd->nopts && (cmd->opts[i].flags & OPT_ONE_OF); i++) {
                if (len > 1)
                    len = append(word, sizeof(word), len, " | ");
                len = append(word, sizeof(word), len, label(&cmd->opts[i], false, lb, sizeof(lb)));
            }
            i--;
            append(word, sizeof(word), len, ")");
        } else if (o->flags & OPT_REQUIRED) {
            append(word, sizeof(word), len, label(o, false, lb, sizeof(lb)));
        } else {
            snprintf(word, sizeof(word), "[%s]", label(o, false, lb, sizeof(lb)));
        }
        put_word(l, word);
    }
    if (cmd->operands != NULL)
        put_word(l, cmd->operands);
}

/* @text's lines, the first where the cursor is, the others at @col. */
static void indented(FILE *out, const char *text, size_t col)
{
    for (const char *p = text; *p != '\0'; p++) {
        fputc(*p, out);
        if (*p == '\n')
            pad(out, col);
    }
    fputc('\n', out);
}

static const struct opt help_opt = {"--help", 'h', &opt_flag, NULL, 0, "show this help and exit",
                                    NULL};

void opt_list(const struct opt *opts, size_t n, FILE *out)
{
    char l[128];
    size_t width = strlen(label(&help_opt, true, l, sizeof(l)));

    for (size_t i = 0; i < n; i++) {
        size_t w = strlen(label(&opts[i], true, l, sizeof(l)));
        if (w > width)
            width = w;
    }
    for (size_t i = 0; i <= n; i++) {
        const struct opt *o = i < n ? &opts[i] : &help_opt;
        label(o, true, l, sizeof(l));
        fprintf(out, "  %s", l);
        pad(out, width + 2 - strlen(l));
        indented(out, o->help, width + 4);
    }
}

void opt_usage(const struct cmd *cmd, FILE *out)
{
    char prefix[64], group[256];
    struct line l;

    snprintf(prefix, sizeof(prefix), "usage: pmnode %s", cmd->name);
    synopsis(cmd, prefix, out, &l);
    fprintf(out, "\n\n%s\n\n", cmd->about);
    if (one_of(cmd, false, group, sizeof(group))[0] != '\0')
        fprintf(out, "options (exactly one of %s):\n", group);
    else
        fputs("options:\n", out);
    opt_list(cmd->opts, cmd->nopts, out);
    if (cmd->notes != NULL)
        fprintf(out, "\n%s\n", cmd->notes);
}

void opt_commands(const struct cmd *const *cmds, size_t n, FILE *out)
{
    char prefix[64];
    struct line l;

    for (size_t i = 0; i < n; i++) {
        snprintf(prefix, sizeof(prefix), "  %s", cmds[i]->name);
        synopsis(cmds[i], prefix, out, &l);
        if (l.col + 2 < SUMMARY_COL) {
            pad(out, SUMMARY_COL - l.col);
        } else {
            fputc('\n', out);
            pad(out, SUMMARY_COL);
        }
        indented(out, cmds[i]->summary, SUMMARY_COL);
    }
}

bool opt_decimal(const char *s, unsigned long min, unsigned long max, unsigned long *v)
{
    unsigned long x = 0;

    if (*s == '\0' || strlen(s) > 10)
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        x = x * 10 + (unsigned long)(*p - '0');
    }
    if (x < min || x > max)
        return false;
    *v = x;
    return true;
}

bool opt_seconds(const char *s, double min, double *v)
{
    char *end;

    if (*s == '\0' || *s == ' ' || *s == '-' || *s == '+')
        return false;
    errno = 0;
    *v = strtod(s, &end);
    return errno == 0 && *end == '\0' && *v >= min && *v <= 86400;
}
