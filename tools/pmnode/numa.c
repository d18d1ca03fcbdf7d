/*
 * numa.c - pmnode numa: a running process's bytes per NUMA node, from
 * /proc/PID/numa_maps, once or sampled every --interval with the change
 * per node since the previous sample, so an operator can watch tiering
 * (migration, demotion) move a process's memory.
 *
 * The counting is numamaps.c's; this file reads the file (through os/,
 * like every file the tool opens), prints a table, a row per sample or one
 * JSON object per line, and says why it stopped: no such process, no
 * permission, or the process exiting while watched (a clean end, status
 * 0).  --numa-maps FILE reads a captured file instead (for tests).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "numamaps.h"
#include "os/prim.h"
#include "output.h"

/* numa_maps of a process with a million mappings is ~100 MiB: refuse
 * more rather than eat the machine we are watching. */
#define NUMA_MAPS_MAX (256u << 20)

enum { N_INTERVAL, N_COUNT, N_JSON, N_FILE };

/* clang-format off */
static const struct opt numa_table[] = {
    [N_INTERVAL] = {.name = "--interval", .type = &opt_string, .arg = "SEC",
                    .help = "sample every SEC seconds (decimals allowed, 0.01 to\n"
                            "86400) until the process exits or --count samples"},
    [N_COUNT] = {.name = "--count", .type = &opt_string, .arg = "N",
                 .help = "stop after N samples (default 1, or unlimited with\n"
                         "--interval; with N > 1 and no --interval, 1 second)"},
    [N_JSON] = {.name = "--json", .type = &opt_flag,
                .help = "one JSON object per sample, one per line"},
    [N_FILE] = {.name = "--numa-maps", .type = &opt_path, .arg = "FILE",
                .help = "read FILE instead of /proc/PID/numa_maps (testing)"},
};
/* clang-format on */

/* "+2.0 MiB", "-512 B", "0 B". */
static const char *fmt_delta(int64_t d, char *buf, size_t n)
{
    char b[32];
    uint64_t mag = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;

    snprintf(buf, n, "%s%s", d > 0 ? "+" : d < 0 ? "-" : "", fmt_total(mag, b, sizeof(b)));
    return buf;
}

/* a - b, clamped to int64_t (a saturated sum can be 2^64 - 1). */
static int64_t diff(uint64_t a, uint64_t b)
{
    return a >= b ? (int64_t)(a - b > INT64_MAX ? INT64_MAX : a - b)
                  : -(int64_t)(b - a > INT64_MAX ? INT64_MAX : b - a);
}

static int64_t delta(const struct numamaps *now, const struct numamaps *prev, size_t id)
{
    return diff(id < now->nnodes ? now->bytes[id] : 0, id < prev->nnodes ? prev->bytes[id] : 0);
}

/* Nodes shown: every node with bytes now or in the previous sample. */
static bool shown(const struct numamaps *now, const struct numamaps *prev, size_t id)
{
    return (id < now->nnodes && now->bytes[id] > 0) || (id < prev->nnodes && prev->bytes[id] > 0);
}

static void print_json(unsigned long pid, double t, unsigned long sample,
                       const struct numamaps *now, const struct numamaps *prev, bool first)
{
    size_t n = now->nnodes > prev->nnodes ? now->nnodes : prev->nnodes;
    const char *sep = "";

    if (pid > 0)
        printf("{\"pid\": %lu, ", pid);
    else
        printf("{\"pid\": null, "); /* --numa-maps FILE */
    printf("\"time\": %.3f, \"sample\": %lu, \"total_bytes\": %llu, \"nodes\": {", t, sample,
           (unsigned long long)now->total);
    for (size_t i = 0; i < now->nnodes; i++) {
        if (now->bytes[i] == 0)
            continue;
        printf("%s\"%zu\": %llu", sep, i, (unsigned long long)now->bytes[i]);
        sep = ", ";
    }
    printf("}, \"anon\": {");
    sep = "";
    for (size_t i = 0; i < now->nnodes; i++) {
        if (now->bytes[i] == 0)
            continue;
        printf("%s\"%zu\": %llu", sep, i, (unsigned long long)now->anon[i]);
        sep = ", ";
    }
    printf("}, \"delta\": ");
    if (first) {
        printf("null");
    } else {
        printf("{");
        sep = "";
        for (size_t i = 0; i < n; i++) {
            if (!shown(now, prev, i))
                continue;
            printf("%s\"%zu\": %lld", sep, i, (long long)delta(now, prev, i));
            sep = ", ";
        }
        printf("}");
    }
    printf(", \"bad_lines\": %zu}\n", now->bad_lines);
}

static void print_table(unsigned long pid, const char *file, const struct numamaps *m)
{
    struct table t = {.ncols = 5};
    char id[24], bytes[24], size[32], anon[32], share[16];

    if (file != NULL) {
        char *clean = dup_clean(file);
        printf("%s: ", clean != NULL ? clean : "?");
        free(clean);
    } else {
        printf("pid %lu: ", pid);
    }
    printf("%s resident in %zu mappings\n", fmt_total(m->total, size, sizeof(size)), m->lines);
    table_row(&t, (const char *const[]){"node", "bytes", "size", "anon", "share"});
    for (size_t i = 0; i < m->nnodes; i++) {
        if (m->bytes[i] == 0)
            continue;
        snprintf(id, sizeof(id), "%zu", i);
        snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)m->bytes[i]);
        fmt_total(m->bytes[i], size, sizeof(size));
        fmt_total(m->anon[i], anon, sizeof(anon));
        snprintf(share, sizeof(share), "%.1f%%",
                 m->total > 0 ? 100.0 * (double)m->bytes[i] / (double)m->total : 0.0);
        table_row(&t, (const char *const[]){id, bytes, size, anon, share});
    }
    table_print(&t, stdout);
    if (m->bad_lines > 0)
        printf("(%zu malformed lines skipped)\n", m->bad_lines);
}

/* A row per sample: the wall clock (with milliseconds when samples are
 * less than a second apart), the total and each node, with the change. */
static void print_row(const struct numamaps *now, const struct numamaps *prev, bool first,
                      bool millis)
{
    size_t n = now->nnodes > prev->nnodes ? now->nnodes : prev->nnodes;
    char clock[16], b1[32], b2[40];
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (localtime_r(&ts.tv_sec, &tm) == NULL ||
        strftime(clock, sizeof(clock), "%H:%M:%S", &tm) == 0)
        snprintf(clock, sizeof(clock), "-");
    printf("%s", clock);
    if (millis)
        printf(".%03ld", ts.tv_nsec / 1000000);
    printf("  total %s", fmt_total(now->total, b1, sizeof(b1)));
    if (!first)
        printf(" (%s)", fmt_delta(diff(now->total, prev->total), b2, sizeof(b2)));
    for (size_t i = 0; i < n; i++) {
        if (!shown(now, prev, i))
            continue;
        printf("  node %zu %s", i, fmt_total(i < now->nnodes ? now->bytes[i] : 0, b1, sizeof(b1)));
        if (!first)
            printf(" (%s)", fmt_delta(delta(now, prev, i), b2, sizeof(b2)));
    }
    printf("\n");
}

static void sleep_seconds(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s};

    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Extract the PID operand from argv (the first word that is neither an
 * option nor an option's value) so opt_parse sees options only. */
static int take_operand(int argc, char **argv, char **out, int *nout, const char **pid)
{
    int n = 0;

    *pid = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool value_next = false;

        if (i > 0 && a[0] != '-' && *pid == NULL) {
            *pid = a;
            continue;
        }
        out[n++] = argv[i];
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++)
                out[n++] = argv[i];
            break;
        }
        for (size_t k = 0; k < OPT_COUNT(numa_table); k++)
            if (numa_table[k].type != &opt_flag && strcmp(a, numa_table[k].name) == 0)
                value_next = true;
        if (value_next && i + 1 < argc)
            out[n++] = argv[++i];
    }
    *nout = n;
    return 0;
}

static int numa_main(int argc, char **argv)
{
    struct opt_result res[OPT_COUNT(numa_table)];
    struct numamaps now = {0}, prev = {0}, tmp;
    const char *pid_arg, *file;
    char path[64], **av;
    double interval = 1;
    unsigned long count = 1, sample;
    unsigned long pid = 0;
    bool json, watch;
    int status, rest, ac;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

    av = calloc((size_t)argc + 1, sizeof(*av));
    if (av == NULL) {
        msg("numa: out of memory");
        return EXIT_FAILED;
    }
    take_operand(argc, argv, av, &ac, &pid_arg);
    status = opt_parse(&cmd_numa, ac, av, res, &rest);
    if (status < 0 && rest < ac) {
        if (pid_arg != NULL || rest + 1 < ac) {
            msg("numa: unexpected argument '%s': %s (try 'pmnode numa --help')", av[ac - 1],
                pmn_strerror(-EINVAL));
            status = EXIT_USAGE;
        } else {
            pid_arg = av[rest];
        }
    }
    free(av);
    if (status >= 0)
        return status;
    file = res[N_FILE].count > 0 ? res[N_FILE].v.str : NULL;
    json = res[N_JSON].count > 0;
    watch = res[N_INTERVAL].count > 0;
    if (watch && !opt_seconds(res[N_INTERVAL].v.str, 0.01, &interval)) {
        msg("numa: --interval '%s': %s (want seconds, 0.01 to 86400)", res[N_INTERVAL].v.str,
            pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    if (res[N_COUNT].count > 0) {
        if (!opt_decimal(res[N_COUNT].v.str, 1, 999999999, &count)) {
            msg("numa: --count '%s': %s (want 1 to 999999999)", res[N_COUNT].v.str,
                pmn_strerror(-EINVAL));
            return EXIT_USAGE;
        }
    } else if (watch) {
        count = 0; /* until the process exits */
    }
    if (pid_arg == NULL && file == NULL) {
        msg("numa: missing PID: %s (try 'pmnode numa --help')", pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    if (pid_arg != NULL && !opt_decimal(pid_arg, 1, 4194304, &pid)) {
        msg("numa: PID '%s': %s (want a process id, 1 to 4194304)", pid_arg,
            pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    if (file == NULL)
        snprintf(path, sizeof(path), "/proc/%lu/numa_maps", pid);
    status = EXIT_OK;
    for (sample = 1; count == 0 || sample <= count; sample++) {
        char *buf = NULL;
        size_t len = 0;
        struct timespec ts;
        int err;

        if (sample > 1)
            sleep_seconds(interval);
        err =
            pmn_prim_read_file_at(AT_FDCWD, file != NULL ? file : path, NUMA_MAPS_MAX, &buf, &len);
        if (err == 0 && len == 0 && sample > 1 && prev.total > 0 && file == NULL)
            err = -ESRCH; /* a zombie: its memory is gone */
        if (err != 0) {
            free(buf);
            if (sample > 1 && (err == -ENOENT || err == -ESRCH)) {
                msg("numa: process %lu exited after %lu samples", pid, sample - 1);
                break;
            }
            if (file != NULL)
                msg("numa: %s: %s", file, pmn_strerror(err));
            else if (err == -ENOENT || err == -ESRCH)
                msg("numa: no such process: %lu", pid);
            else if (err == -EACCES || err == -EPERM)
                msg("numa: process %lu: %s (numa_maps is readable by its owner or "
                    "with CAP_SYS_PTRACE)",
                    pid, pmn_strerror(err));
            else
                msg("numa: %s: %s", path, pmn_strerror(err));
            status = EXIT_FAILED;
            break;
        }
        err = numamaps_parse(buf, len, page, &now);
        free(buf);
        if (err != 0) {
            msg("numa: out of memory");
            status = EXIT_FAILED;
            break;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        if (json)
            print_json(pid, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, sample, &now, &prev,
                       sample == 1);
        else if (!watch && count == 1)
            print_table(pid, file, &now);
        else
            print_row(&now, &prev, sample == 1, interval < 1);
        if (fflush(stdout) != 0 || ferror(stdout))
            break;
        tmp = prev;
        prev = now;
        now = tmp;
    }
    numamaps_free(&now);
    numamaps_free(&prev);
    return finish_stdout(status);
}

/* clang-format off */
const struct cmd cmd_numa = {
    .name = "numa", .main = numa_main, .opts = numa_table, .nopts = OPT_COUNT(numa_table),
    .operands = "PID",
    .summary = "show a process's bytes per NUMA node, once or as\n"
               "they change (from /proc/PID/numa_maps)",
    .about = "Show the memory of process PID per NUMA node, from /proc/PID/numa_maps:\n"
             "bytes resident on each node (pages times the mapping's page size, so huge\n"
             "pages count right), of which anonymous, and each node's share.  With\n"
             "--interval, a row per sample with the change per node since the previous\n"
             "one, to watch tiering move memory.",
    .notes = "Exit status: 0 success, also when the process exits while watched (a\n"
             "message says so); 1 no such process, no permission to read its\n"
             "numa_maps, or a write error; 2 bad usage or a malformed PID.",
};
/* clang-format on */
