/*
 * top.c - pmnode top: a process's memory per NUMA node (from numa_maps,
 * counted by numamaps.c as pmnode numa counts it), with what libpmnode
 * placed there when the process publishes its arenas' counters
 * (pmn_publish(3), read by published.c); for one process (--pid) or every
 * process the caller may read.
 *
 * Three outputs from one sample: a live view on a terminal (redrawn every
 * --interval, q or Ctrl-C to quit, the terminal restored), a table per
 * sample when stdout is not a terminal (plain ASCII, no escape codes), and
 * one JSON object per sample per line (--json).  Bars scale each node's
 * bytes to the largest; Unicode blocks on a UTF-8 terminal, '#' (or the
 * node's digit in a stacked bar) otherwise or with --ascii.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "numamaps.h"
#include "os/prim.h"
#include "output.h"
#include "published.h"

#define NUMA_MAPS_MAX (256u << 20)
#define BAR_WIDTH 24

enum { T_PID, T_INTERVAL, T_COUNT, T_ONCE, T_JSON, T_ASCII, T_LIMIT, T_PUBDIR, T_FILE };

/* clang-format off */
static const struct opt top_table[] = {
    [T_PID] = {.name = "--pid", .short_name = 'p', .type = &opt_string, .arg = "PID",
               .help = "show this process (default: every process you may read)"},
    [T_INTERVAL] = {.name = "--interval", .type = &opt_string, .arg = "SEC",
                    .help = "refresh every SEC seconds (0.1 to 86400; default 2)"},
    [T_COUNT] = {.name = "--count", .short_name = 'n', .type = &opt_string, .arg = "N",
                 .help = "stop after N samples (default: until q on a terminal,\n"
                         "else 1 unless --interval is given)"},
    [T_ONCE] = {.name = "--once", .type = &opt_flag,
                .help = "one sample, printed as a table (as --count 1)"},
    [T_JSON] = {.name = "--json", .type = &opt_flag,
                .help = "one JSON object per sample, one per line"},
    [T_ASCII] = {.name = "--ascii", .type = &opt_flag,
                 .help = "ASCII bars and no colour, even on a terminal"},
    [T_LIMIT] = {.name = "--limit", .type = &opt_string, .arg = "N",
                 .help = "show the N largest processes (default 20; 0: all)"},
    [T_PUBDIR] = {.name = "--publish-dir", .type = &opt_path, .arg = "DIR",
                  .help = "look for published stats in DIR only"},
    [T_FILE] = {.name = "--numa-maps", .type = &opt_path, .arg = "FILE",
                .help = "with --pid, read FILE instead of /proc/PID/numa_maps\n"
                        "(testing)"},
};
/* clang-format on */

/* One process in a sample. */
struct proc {
    int pid;
    unsigned uid;
    char comm[64];
    struct numamaps m;
    struct published *pub; /* NULL: publishes nothing readable */
    char pub_err[400];     /* why a file that is there was refused */
};

struct view {
    bool json, tty, unicode, colour, live;
    double interval;
    const char *pubdir, *file;
    size_t limit;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* ---- one sample ---- */

static void read_comm(int pid, char *out, size_t n)
{
    char path[40], *buf = NULL;
    size_t len = 0;

    snprintf(path, sizeof(path), "/proc/%d/comm", pid);
    snprintf(out, n, "?");
    if (pmn_prim_read_file_at(AT_FDCWD, path, 256, &buf, &len) == 0) {
        size_t i = 0;
        for (; i < len && i + 1 < n && buf[i] != '\n'; i++)
            out[i] = (unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f ? '?' : buf[i];
        out[i] = '\0';
    }
    free(buf);
}

/* Fill @p for @pid: 0, or -errno reading its numa_maps (-ENOENT / -ESRCH:
 * gone; -EACCES / -EPERM: not ours to read). */
static int sample_proc(const struct view *v, int pid, struct proc *p)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start = 0;
    char path[48], *buf = NULL;
    size_t len = 0;
    int err;

    p->pid = pid;
    p->pub_err[0] = '\0';
    snprintf(path, sizeof(path), "/proc/%d/numa_maps", pid);
    err = pmn_prim_read_file_at(AT_FDCWD, v->file != NULL ? v->file : path, NUMA_MAPS_MAX, &buf,
                                &len);
    if (err == 0)
        err = numamaps_parse(buf, len, page, &p->m);
    free(buf);
    if (err != 0)
        return err;
    read_comm(pid, p->comm, sizeof(p->comm));
    if (pmn_prim_proc_uid(pid, &p->uid) != 0)
        return v->file != NULL ? 0 : -ESRCH; /* gone meanwhile */
    (void)pmn_prim_proc_start_time(pid, &start);
    if (p->pub == NULL && (p->pub = malloc(sizeof(*p->pub))) == NULL)
        return -ENOMEM;
    err = pub_find(pid, p->uid, start, v->pubdir, p->pub, p->pub_err, sizeof(p->pub_err));
    if (err != 0) {
        free(p->pub);
        p->pub = NULL;
        if (err == -ENOENT)
            p->pub_err[0] = '\0';
    }
    return 0;
}

static void proc_free(struct proc *p)
{
    numamaps_free(&p->m);
    free(p->pub);
    p->pub = NULL;
}

struct all {
    const struct view *v;
    struct proc *procs;
    size_t n, cap, unreadable;
    int err;
};

static int one_pid(const char *name, void *arg)
{
    struct all *a = arg;
    unsigned long pid;
    struct proc p = {0};
    int err;

    if (!opt_decimal(name, 1, 4194304, &pid))
        return 0;
    err = sample_proc(a->v, (int)pid, &p);
    if (err == -ENOMEM) {
        proc_free(&p);
        a->err = err;
        return 1;
    }
    if (err != 0 || p.m.total == 0) { /* kernel threads have no memory */
        a->unreadable += err == -EACCES || err == -EPERM;
        proc_free(&p);
        return 0;
    }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        struct proc *q = realloc(a->procs, cap * sizeof(*q));
        if (q == NULL) {
            proc_free(&p);
            a->err = -ENOMEM;
            return 1;
        }
        a->procs = q;
        a->cap = cap;
    }
    a->procs[a->n++] = p;
    return 0;
}

static int by_total(const void *x, const void *y)
{
    const struct proc *a = x, *b = y;
    return a->m.total < b->m.total ? 1 : a->m.total > b->m.total ? -1 : a->pid - b->pid;
}

/* ---- output ---- */

static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            printf("\\u%04x", *p < 0x20 ? *p : '?');
        else
            putchar(*p);
    }
    putchar('"');
}

static void json_nodes(const char *key, const struct numamaps *m, const uint64_t *arr)
{
    const char *sep = "";

    printf(", \"%s\": {", key);
    for (size_t i = 0; i < m->nnodes; i++) {
        if (m->bytes[i] == 0)
            continue;
        printf("%s\"%zu\": %llu", sep, i, (unsigned long long)arr[i]);
        sep = ", ";
    }
    printf("}");
}

static const char *kind_name(uint32_t k)
{
    return k == PMN_PUBLISH_ARENA ? "arena" : k == PMN_PUBLISH_SLAB ? "slab" : "unknown";
}

static void json_proc(const struct proc *p, double now)
{
    printf("{\"pid\": %d, \"uid\": %u, \"comm\": ", p->pid, p->uid);
    json_str(p->comm);
    printf(", \"total_bytes\": %llu", (unsigned long long)p->m.total);
    json_nodes("nodes", &p->m, p->m.bytes);
    json_nodes("anon", &p->m, p->m.anon);
    json_nodes("huge", &p->m, p->m.huge);
    printf(", \"bad_lines\": %zu, \"published\": ", p->m.bad_lines);
    if (p->pub == NULL) {
        printf("null");
    } else {
        const struct published *b = p->pub;
        printf("{\"path\": ");
        json_str(b->path);
        printf(", \"updated\": %.3f, \"age_seconds\": %.3f, \"updates\": %llu, \"entries\": [",
               (double)b->h.updated_ns / 1e9, now - (double)b->h.updated_ns / 1e9,
               (unsigned long long)b->h.updates);
        for (size_t i = 0; i < b->n; i++) {
            const struct pmn_publish_entry *e = &b->e[i];
            printf("%s{\"name\": ", i ? ", " : "");
            json_str(e->name);
            printf(", \"kind\": \"%s\", \"allocated\": %llu, \"objects\": %llu, \"active\": %llu, "
                   "\"resident\": %llu, \"peak\": %llu, \"allocs\": %llu, \"frees\": %llu, "
                   "\"remote_frees\": %llu, \"failures\": %llu, \"populated\": %llu, "
                   "\"mapped_bytes\": %llu, \"mapped_peak_bytes\": %llu, \"region_maps\": %llu, "
                   "\"region_map_failures\": %llu, \"spilled_bytes\": %llu, \"bytes_per_node\": {",
                   kind_name(e->kind), (unsigned long long)e->allocated,
                   (unsigned long long)e->objects, (unsigned long long)e->active,
                   (unsigned long long)e->resident, (unsigned long long)e->peak,
                   (unsigned long long)e->allocs, (unsigned long long)e->frees,
                   (unsigned long long)e->remote_frees, (unsigned long long)e->failures,
                   (unsigned long long)e->populated, (unsigned long long)e->mapped_bytes,
                   (unsigned long long)e->mapped_peak_bytes, (unsigned long long)e->region_maps,
                   (unsigned long long)e->region_map_failures,
                   (unsigned long long)e->spilled_bytes);
            for (uint32_t k = 0; k < e->nnodes; k++)
                printf("%s\"%d\": %llu", k ? ", " : "", e->node[k].node,
                       (unsigned long long)e->node[k].bytes);
            printf("}}");
        }
        printf("]}");
    }
    printf(", \"publish_error\": ");
    if (p->pub_err[0] != '\0')
        json_str(p->pub_err);
    else
        printf("null");
    printf("}");
}

/* A bar of @v scaled to @max, BAR_WIDTH cells, eighths in Unicode. */
static void bar(const struct view *v, uint64_t val, uint64_t max)
{
    static const char *const eighths[] = {"",       "\u258f", "\u258e", "\u258d",
                                          "\u258c", "\u258b", "\u258a", "\u2589"};
    unsigned long cells = max ? (unsigned long)((double)val / (double)max * BAR_WIDTH * 8) : 0;

    if (v->colour)
        fputs("\033[32m", stdout);
    for (unsigned long i = 0; i < cells / 8; i++)
        fputs(v->unicode ? "\u2588" : "#", stdout);
    if (v->unicode)
        fputs(eighths[cells % 8], stdout);
    else if (cells % 8 >= 4)
        putchar('#');
    if (v->colour)
        fputs("\033[0m", stdout);
}

/* A stacked bar of a process's nodes, scaled to @max: each node its own
 * glyph (Unicode shades, or the node's last digit in ASCII). */
static void stacked(const struct view *v, const struct numamaps *m, uint64_t max)
{
    static const char *const shades[] = {"\u2588", "\u2593", "\u2592", "\u2591"};

    for (size_t i = 0; i < m->nnodes; i++) {
        unsigned long cells =
            max ? (unsigned long)((double)m->bytes[i] / (double)max * BAR_WIDTH + 0.5) : 0;
        for (unsigned long c = 0; c < cells; c++) {
            if (v->unicode)
                fputs(shades[i % 4], stdout);
            else
                putchar((int)('0' + i % 10));
        }
    }
}

static void print_published(const struct view *v, const struct proc *p, double now)
{
    const struct published *b = p->pub;
    struct table t = {.ncols = 9};
    char c[9][40];

    if (b == NULL) {
        if (p->pub_err[0] != '\0')
            printf("published stats refused: %s\n", p->pub_err);
        else
            printf("(publishes no libpmnode stats: run it with PMNODE_PRELOAD=\"...;publish\" or "
                   "call pmn_publish_start())\n");
        return;
    }
    printf("placed by libpmnode (%s, %.1f s old):\n", b->path,
           now - (double)b->h.updated_ns / 1e9);
    table_row(&t, (const char *const[]){"name", "kind", "allocated", "objects", "active",
                                        "resident", "spilled", "failures", "per node"});
    for (size_t i = 0; i < b->n; i++) {
        const struct pmn_publish_entry *e = &b->e[i];
        size_t used = 0;
        snprintf(c[0], sizeof(c[0]), "%s", e->name);
        snprintf(c[1], sizeof(c[1]), "%s", kind_name(e->kind));
        fmt_total(e->allocated, c[2], sizeof(c[2]));
        snprintf(c[3], sizeof(c[3]), "%llu", (unsigned long long)e->objects);
        fmt_total(e->active, c[4], sizeof(c[4]));
        fmt_total(e->resident, c[5], sizeof(c[5]));
        fmt_total(e->spilled_bytes, c[6], sizeof(c[6]));
        snprintf(c[7], sizeof(c[7]), "%llu", (unsigned long long)e->failures);
        c[8][0] = '\0';
        for (uint32_t k = 0; k < e->nnodes && used < sizeof(c[8]) - 1; k++) {
            char sz[24];
            int n = snprintf(c[8] + used, sizeof(c[8]) - used, "%sN%d %s", k ? " " : "",
                             e->node[k].node, fmt_total(e->node[k].bytes, sz, sizeof(sz)));
            if (n < 0)
                break;
            used += (size_t)n;
        }
        table_row(&t, (const char *const[]){c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]});
    }
    table_print(&t, stdout);
    (void)v;
}

/* The table's first line: the clock, and the interval when sampling
 * more than once; a live view clears the screen first. */
static void print_heading(const struct view *v, unsigned long sample, unsigned long count,
                          const char *clock)
{
    if (v->live)
        fputs("\033[H\033[2J", stdout);
    else if (sample > 1)
        putchar('\n');
    printf("pmnode top  %s", clock);
    if (count != 1)
        printf("  every %.1f s%s", v->interval, v->live ? "  (q quits)" : "");
    putchar('\n');
}

static void print_one(const struct view *v, const struct proc *p, double now)
{
    uint64_t max = 0;

    printf("pid %d (%s), uid %u: %s resident in %zu mappings\n", p->pid, p->comm, p->uid,
           fmt_total(p->m.total, (char[32]){0}, 32), p->m.lines);
    for (size_t i = 0; i < p->m.nnodes; i++)
        max = p->m.bytes[i] > max ? p->m.bytes[i] : max;
    printf("%4s %10s %10s %10s %10s %6s  %s\n", "node", "resident", "anon", "file", "huge",
           "share", "");
    for (size_t i = 0; i < p->m.nnodes; i++) {
        char a[24], b[24], c[24], d[24];
        if (p->m.bytes[i] == 0)
            continue;
        printf("%4zu %10s %10s %10s %10s %5.1f%%  ", i, fmt_total(p->m.bytes[i], a, sizeof(a)),
               fmt_total(p->m.anon[i], b, sizeof(b)),
               fmt_total(p->m.bytes[i] - p->m.anon[i], c, sizeof(c)),
               fmt_total(p->m.huge[i], d, sizeof(d)),
               p->m.total ? 100.0 * (double)p->m.bytes[i] / (double)p->m.total : 0.0);
        bar(v, p->m.bytes[i], max);
        putchar('\n');
    }
    if (p->m.bad_lines > 0)
        printf("(%zu malformed numa_maps lines skipped)\n", p->m.bad_lines);
    print_published(v, p, now);
}

static void print_all(const struct view *v, const struct all *a)
{
    size_t nn = 0, shown = v->limit && v->limit < a->n ? v->limit : a->n;
    uint64_t max = a->n ? a->procs[0].m.total : 0;
    char s[24];

    for (size_t i = 0; i < shown; i++)
        nn = a->procs[i].m.nnodes > nn ? a->procs[i].m.nnodes : nn;
    printf("%zu processes with memory", a->n);
    if (a->unreadable)
        printf(", %zu not readable (numa_maps is readable by its owner or with "
               "CAP_SYS_PTRACE)",
               a->unreadable);
    printf("%s\n", shown < a->n ? "; the largest:" : "");
    printf("%7s %-15s %10s", "pid", "command", "total");
    for (size_t k = 0; k < nn; k++)
        printf("  %8s%-2zu", "node ", k);
    printf(" %10s  %s\n", "libpmnode", "nodes");
    for (size_t i = 0; i < shown; i++) {
        const struct proc *p = &a->procs[i];
        uint64_t placed = 0;
        printf("%7d %-15.15s %10s", p->pid, p->comm, fmt_total(p->m.total, s, sizeof(s)));
        for (size_t k = 0; k < nn; k++)
            printf("  %10s", fmt_total(k < p->m.nnodes ? p->m.bytes[k] : 0, s, sizeof(s)));
        for (size_t e = 0; p->pub != NULL && e < p->pub->n; e++)
            placed += p->pub->e[e].resident;
        printf(" %10s  ", p->pub != NULL  ? fmt_total(placed, s, sizeof(s))
                          : p->pub_err[0] ? "refused"
                                          : "-");
        stacked(v, &p->m, max);
        putchar('\n');
    }
    if (nn > 1)
        printf("bars: node 0 %s, node 1 %s%s\n", v->unicode ? "\u2588" : "0",
               v->unicode ? "\u2593" : "1", nn > 2 ? ", ..." : "");
}

/* ---- the loop ---- */

static struct termios saved_tio;
static bool tio_saved;

static void term_restore(void)
{
    if (tio_saved)
        tcsetattr(0, TCSANOW, &saved_tio);
    tio_saved = false;
}

static void term_raw(void)
{
    struct termios t;

    if (!isatty(0) || tcgetattr(0, &saved_tio) != 0)
        return;
    t = saved_tio;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(0, TCSANOW, &t) == 0)
        tio_saved = true;
}

/* Sleep @s seconds, or less when q is typed or a signal comes. */
static void wait_or_quit(const struct view *v, double s)
{
    struct pollfd pf = {.fd = 0, .events = POLLIN};
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    uint64_t end = pmn_prim_now_ns() + (uint64_t)(s * 1e9);

    if (!v->live || !tio_saved) {
        while (!stop && nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        return;
    }
    while (!stop) {
        uint64_t now = pmn_prim_now_ns();
        char c;
        if (now >= end)
            return;
        if (poll(&pf, 1, (int)((end - now) / 1000000 + 1)) > 0) {
            ssize_t r = read(0, &c, 1);
            if (r == 1 && (c == 'q' || c == 'Q' || c == 3)) {
                stop = 1;
            } else if (r <= 0 && !(r < 0 && (errno == EAGAIN || errno == EINTR))) {
                /* stdin closed: no more keys, just wait */
                ts.tv_sec = (time_t)((end - now) / 1000000000u);
                ts.tv_nsec = (long)((end - now) % 1000000000u);
                while (!stop && nanosleep(&ts, &ts) != 0 && errno == EINTR)
                    ;
                return;
            }
        }
    }
}

static int top_main(int argc, char **argv)
{
    struct opt_result res[OPT_COUNT(top_table)];
    struct view v = {.interval = 2, .limit = 20};
    unsigned long count = 0, pid = 0, limit;
    const char *lang;
    int status, rest;
    struct sigaction sa = {.sa_handler = on_signal};

    status = opt_parse(&cmd_top, argc, argv, res, &rest);
    if (status >= 0)
        return status;
    if (rest < argc) {
        msg("top: unexpected argument '%s': %s (try 'pmnode top --help')", argv[rest],
            pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    if (res[T_PID].count && !opt_decimal(res[T_PID].v.str, 1, 4194304, &pid)) {
        msg("top: --pid '%s': %s (want a process id, 1 to 4194304)", res[T_PID].v.str,
            pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    if (res[T_INTERVAL].count && !opt_seconds(res[T_INTERVAL].v.str, 0.1, &v.interval)) {
        msg("top: --interval '%s': %s (want seconds, 0.1 to 86400)", res[T_INTERVAL].v.str,
            pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    if (res[T_COUNT].count && !opt_decimal(res[T_COUNT].v.str, 1, 999999999, &count)) {
        msg("top: --count '%s': %s (want 1 to 999999999)", res[T_COUNT].v.str,
            pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    if (res[T_LIMIT].count) {
        if (!opt_decimal(res[T_LIMIT].v.str, 0, 999999999, &limit)) {
            msg("top: --limit '%s': %s (want 0 to 999999999)", res[T_LIMIT].v.str,
                pmn_strerror(-EINVAL));
            return EXIT_USAGE;
        }
        v.limit = limit;
    }
    v.file = res[T_FILE].count ? res[T_FILE].v.str : NULL;
    if (v.file != NULL && pid == 0) {
        msg("top: --numa-maps needs --pid: %s", pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    v.pubdir = res[T_PUBDIR].count ? res[T_PUBDIR].v.str : NULL;
    v.json = res[T_JSON].count > 0;
    v.tty = isatty(1) == 1;
    lang = getenv("LC_ALL");
    if (lang == NULL || *lang == '\0')
        lang = getenv("LC_CTYPE");
    if (lang == NULL || *lang == '\0')
        lang = getenv("LANG");
    v.unicode = v.tty && !res[T_ASCII].count && lang != NULL &&
                (strstr(lang, "UTF-8") != NULL || strstr(lang, "utf8") != NULL);
    v.colour = v.tty && !res[T_ASCII].count && getenv("NO_COLOR") == NULL;
    if (res[T_ONCE].count)
        count = 1;
    else if (count == 0 && !v.tty && !res[T_INTERVAL].count)
        count = 1;
    else if (count == 0 && v.json && !res[T_INTERVAL].count)
        count = 1;
    v.live = v.tty && !v.json && count != 1;
    if (v.live) {
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        term_raw();
    }
    status = EXIT_OK;
    for (unsigned long sample = 1; !stop && (count == 0 || sample <= count); sample++) {
        double now = (double)pmn_prim_wall_ns() / 1e9;
        char clock[16] = "-";
        time_t secs = (time_t)now;
        struct tm tm;

        if (sample > 1)
            wait_or_quit(&v, v.interval);
        if (stop)
            break;
        now = (double)pmn_prim_wall_ns() / 1e9;
        secs = (time_t)now;
        if (localtime_r(&secs, &tm) != NULL)
            strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
        if (pid != 0) {
            struct proc p = {0};
            int err = sample_proc(&v, (int)pid, &p);
            if (err != 0) {
                proc_free(&p);
                if (sample > 1 && (err == -ENOENT || err == -ESRCH)) {
                    if (v.live)
                        term_restore();
                    msg("top: process %lu exited after %lu samples", pid, sample - 1);
                    break;
                }
                if (v.live)
                    term_restore();
                if (err == -ENOENT || err == -ESRCH)
                    msg("top: no such process: %lu", pid);
                else if (err == -EACCES || err == -EPERM)
                    msg("top: process %lu: %s (numa_maps is readable by its owner or with "
                        "CAP_SYS_PTRACE)",
                        pid, pmn_strerror(err));
                else
                    msg("top: process %lu: %s", pid, pmn_strerror(err));
                status = EXIT_FAILED;
                break;
            }
            if (v.json) {
                printf("{\"time\": %.3f, \"sample\": %lu, \"processes\": [", now, sample);
                json_proc(&p, now);
                printf("]}\n");
            } else {
                print_heading(&v, sample, count, clock);
                print_one(&v, &p, now);
            }
            proc_free(&p);
        } else {
            struct all a = {.v = &v};
            int err = pmn_prim_list_dir_at(AT_FDCWD, "/proc", one_pid, &a);
            if (err == 0)
                err = a.err;
            if (err != 0) {
                for (size_t i = 0; i < a.n; i++)
                    proc_free(&a.procs[i]);
                free(a.procs);
                if (v.live)
                    term_restore();
                msg("top: /proc: %s", pmn_strerror(err));
                status = EXIT_FAILED;
                break;
            }
            qsort(a.procs, a.n, sizeof(a.procs[0]), by_total);
            if (v.json) {
                printf("{\"time\": %.3f, \"sample\": %lu, \"unreadable\": %zu, \"processes\": [",
                       now, sample, a.unreadable);
                for (size_t i = 0; i < a.n && (v.limit == 0 || i < v.limit); i++) {
                    if (i)
                        printf(", ");
                    json_proc(&a.procs[i], now);
                }
                printf("]}\n");
            } else {
                print_heading(&v, sample, count, clock);
                print_all(&v, &a);
            }
            for (size_t i = 0; i < a.n; i++)
                proc_free(&a.procs[i]);
            free(a.procs);
        }
        if (fflush(stdout) != 0 || ferror(stdout))
            break;
    }
    if (v.live)
        term_restore();
    return finish_stdout(status);
}

/* clang-format off */
const struct cmd cmd_top = {
    .name = "top", .main = top_main, .opts = top_table, .nopts = OPT_COUNT(top_table),
    .summary = "show processes' memory per NUMA node with what\n"
               "libpmnode placed there, live, once or as JSON",
    .about = "Show memory per NUMA node of one process (--pid) or of every process you may\n"
             "read, from /proc/PID/numa_maps (resident, anonymous, file-backed, huge\n"
             "pages), with bars per node, and beside it the counters of the arenas and\n"
             "slabs the process publishes (pmn_publish(3): the shim's \"publish\" key or\n"
             "pmn_publish_start()).  On a terminal the view refreshes every --interval\n"
             "until q or Ctrl-C; otherwise one sample (or --count) is printed.",
    .notes = "Published files are used only when their directory and file belong to the\n"
             "process's user, are closed to others, not links, and name the same pid\n"
             "and start time as the process; a refused file is reported with the reason.\n"
             "Exit status: 0 success, also when the process exits while watched; 1 no\n"
             "such process, no permission to read its numa_maps, or a write error; 2 bad\n"
             "usage.",
};
/* clang-format on */
