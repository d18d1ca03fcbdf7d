/*
 * run.c - pmnode run: an unmodified program under the LD_PRELOAD shim.
 *
 * Everything that can
 * be checked before the program starts is checked here, against the same
 * discovery the shim will make (the environment, PMNODE_SYSFS_ROOT and
 * PMNODE_PRIVATE_NODES included, is passed on unchanged): the target exists
 * on this machine and has memory, the spill nodes too, the shim library is
 * there.  Then the options become one PMNODE_PRELOAD string, the shim goes
 * first in LD_PRELOAD and pmnode execs the program, so its exit status and
 * its signals reach the caller untouched.  What only the shim can see (it
 * maps the memory) it reports itself: one "pmnode-preload:" line, status 2.
 *
 * PMNODE_PRELOAD separates options with ';' (or spaces), so a stats path
 * holding either cannot be said and is refused here; a relative path is
 * made absolute first, because the program may change directory.
 *
 * The options are read with the grammar the shim itself uses (core/parse.c
 * through options.c), and run_conf() writes them back in the canonical
 * form preload/config.c reads: tests/unit/test-grammar.c holds the two to
 * agreeing on the same strings.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"

#ifndef PMN_LIBDIR
#define PMN_LIBDIR "/usr/local/lib"
#endif
#define PRELOAD_NAME "libpmnode-preload.so"

enum {
    EXIT_CANNOT_EXEC = 126, /* as a shell says it */
    EXIT_NOT_FOUND = 127,
};

enum { R_NODE, R_KIND, R_PRIVATE, R_THRESHOLD, R_SPILL, R_STATS, R_LOG };

static const struct opt run_table[] = {
    [R_NODE] = {.name = "--node", .type = &opt_node, .arg = "N", .flags = OPT_ONE_OF,
                .help = "the node the heap must be on"},
    [R_KIND] = {.name = "--kind", .type = &opt_kind, .arg = "K", .flags = OPT_ONE_OF,
                .help = "the first node of kind K with memory (dram, hbm, nvm,\n"
                        "spm, cxl, gpu, compressed)"},
    [R_PRIVATE] = {.name = "--private", .type = &opt_flag, .flags = OPT_ONE_OF,
                   .help = "a private node (kernel- or administrator-marked)"},
    [R_THRESHOLD] = {.name = "--threshold", .type = &opt_bytes, .arg = "BYTES",
                     .help = "requests smaller than BYTES go to libc (default 0:\n"
                             "every request to the node); k, M, G, T, P, E suffixes\n"
                             "or 0x hex, as --size of pmnode verify"},
    [R_SPILL] = {.name = "--spill", .type = &opt_spill, .arg = "N,M",
                 .help = "explicit spill list: distinct nodes to use, in order,\n"
                         "when the target is full; every byte there is counted"},
    [R_STATS] = {.name = "--stats", .type = &opt_path, .arg = "PATH", .flags = OPT_EQ_ONLY,
                 .help = "write a JSON summary when the program exits (calls,\n"
                         "bytes per node, peak) to PATH, made absolute so a\n"
                         "program that changes directory still writes there.\n"
                         "Every process of the program (children too) writes\n"
                         "its own when it exits, so PATH keeps the last one;\n"
                         "%p in PATH becomes the process id (one file each).\n"
                         "The file is replaced whole (a new file renamed over\n"
                         "it), never written through a symbolic or hard link:\n"
                         "a symbolic link is refused.  A file, not stderr:\n"
                         "many programs close stderr before the summary is\n"
                         "written at exit"},
    [R_LOG] = {.name = "--log", .type = &opt_log, .arg = "LEVEL",
               .help = "shim messages on stderr: off, error, warn, info or\n"
                       "debug (warning is warn; 0 to 4 also work)"},
};

int run_parse(int argc, char **argv, struct run_opts *o)
{
    struct opt_result res[OPT_COUNT(run_table)];
    int rest, status;

    if ((status = opt_parse(&cmd_run, argc, argv, res, &rest)) >= 0)
        return status;
    *o = (struct run_opts){
        .node = res[R_NODE].count > 0 ? res[R_NODE].v.node : -1,
        .have_kind = res[R_KIND].count > 0,
        .kind = res[R_KIND].v.kind,
        .priv = res[R_PRIVATE].count > 0,
        .have_threshold = res[R_THRESHOLD].count > 0,
        .threshold = res[R_THRESHOLD].v.bytes,
        .spill_arg = res[R_SPILL].arg,
        .nspill = res[R_SPILL].count > 0 ? res[R_SPILL].v.spill.n : 0,
        .stats = res[R_STATS].count > 0 ? res[R_STATS].v.str : NULL,
        .have_log = res[R_LOG].count > 0,
        .log_level = res[R_LOG].v.level,
        .prog = argv + rest,
    };
    memcpy(o->spill, res[R_SPILL].v.spill.ids, o->nspill * sizeof(o->spill[0]));
    for (size_t i = 0; o->node >= 0 && i < o->nspill; i++) {
        if (o->spill[i] == o->node) {
            msg("run: --spill '%s' lists the target node %d: %s", o->spill_arg, o->node,
                pmn_strerror(-EINVAL));
            return EXIT_USAGE;
        }
    }
    if (o->prog[0] == NULL || o->prog[0][0] == '\0') {
        msg("run: missing the program: %s (pmnode run OPTIONS -- PROG [ARGS...])",
            pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    return -1;
}

/* Append to @buf of @n bytes holding *len; *len becomes @n once it does
 * not fit. */
__attribute__((format(printf, 4, 5))) static void add(char *buf, size_t n, size_t *len,
                                                      const char *fmt, ...)
{
    va_list ap;
    int w;

    if (*len >= n)
        return;
    va_start(ap, fmt);
    w = vsnprintf(buf + *len, n - *len, fmt, ap);
    va_end(ap);
    *len = w < 0 || (size_t)w >= n - *len ? n : *len + (size_t)w;
}

/* PMNODE_PRELOAD: "node=N" | "kind=K" | "private", then ";key=value"s. */
int run_conf(const struct run_opts *o, const char *stats, char *buf, size_t n)
{
    size_t len = 0;

    if (o->node >= 0)
        add(buf, n, &len, "node=%d", o->node);
    else if (o->have_kind)
        add(buf, n, &len, "kind=%s", pmn_kind_name(o->kind));
    else
        add(buf, n, &len, "private");
    if (o->have_threshold)
        add(buf, n, &len, ";threshold=%" PRIu64, o->threshold);
    for (size_t i = 0; i < o->nspill; i++)
        add(buf, n, &len, "%s%d", i == 0 ? ";spill=" : ",", o->spill[i]);
    if (stats != NULL)
        add(buf, n, &len, ";stats=%s", stats);
    if (o->have_log)
        add(buf, n, &len, ";log=%s", pmn__log_level_name(o->log_level));
    return len < n ? (int)len : -1;
}

/* Whether the library would give a strict backing on @node: 0, or
 * PMN_E_NO_NODE, PMN_E_NOT_MEMORY_NODE, PMN_E_REMOTE_ROOT, -ENOMEM. */
static int run_check_node(struct pmn_ctx *ctx, int node)
{
    struct pmn_backing_params *p = NULL;
    struct pmn_backing *b = NULL;
    int err;

    if ((err = pmn_backing_params_new(&p)) == 0 &&
        (err = pmn_backing_params_set_node(p, node)) == 0)
        err = pmn_backing_new(ctx, p, &b);
    pmn_backing_free(b);
    pmn_backing_params_free(p);
    return err;
}

static int run_status(int err)
{
    return err == -ENOMEM ? EXIT_FAILED : EXIT_USAGE;
}

/* The target exists here with memory.  Returns -1 to go on, else the exit
 * status. */
static int run_check_target(struct pmn_ctx *ctx, const struct run_opts *o)
{
    const struct pmn_node *node;
    size_t candidates = 0;
    int err, last = 0;

    if (o->node >= 0) {
        if ((err = run_check_node(ctx, o->node)) < 0) {
            msg("run: cannot place the heap on node %d: %s", o->node, pmn_strerror(err));
            return run_status(err);
        }
        return -1;
    }
    pmn_node_foreach(ctx, node) {
        if (o->have_kind ? pmn_node_kind(node) != o->kind : !pmn_node_is_private(node))
            continue;
        candidates++;
        if ((err = run_check_node(ctx, pmn_node_id(node))) == 0)
            return -1;
        if (err == -ENOMEM) {
            msg("run: %s", pmn_strerror(err));
            return EXIT_FAILED;
        }
        last = err;
    }
    if (candidates == 0 && o->have_kind)
        msg("run: no node of kind '%s' on this machine: %s", pmn_kind_name(o->kind),
            pmn_strerror(PMN_E_NO_MATCH));
    else if (candidates == 0)
        msg("run: no private node on this machine (an administrator marks one with "
            "PMNODE_PRIVATE_NODES): %s",
            pmn_strerror(PMN_E_NO_MATCH));
    else if (o->have_kind)
        msg("run: no node of kind '%s' can take the heap: %s", pmn_kind_name(o->kind),
            pmn_strerror(last));
    else
        msg("run: no private node can take the heap: %s", pmn_strerror(last));
    return EXIT_USAGE;
}

/* A character PMNODE_PRELOAD or LD_PRELOAD could not carry in a value. */
static bool bad_path_char(const char *s, const char *extra)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == ';' || strchr(extra, *s) != NULL)
            return true;
    return false;
}

/* A path the shim writes to as a descriptor the program has open, not by
 * name: /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N. */
static bool stats_names_fd(const char *path)
{
    static const char *const dirs[] = {"/dev/fd/", "/proc/self/fd/"};

    if (strcmp(path, "/dev/stdout") == 0 || strcmp(path, "/dev/stderr") == 0)
        return true;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        const char *d = path + strlen(dirs[i]);

        if (strncmp(path, dirs[i], strlen(dirs[i])) == 0 && d[0] >= '0' && d[0] <= '9' &&
            (d[0] != '0' || d[1] == '\0') && strspn(d, "0123456789") == strlen(d) &&
            strlen(d) <= 6)
            return true;
    }
    return false;
}

/* --stats PATH made absolute into @out.  Returns -1 to go on, else the
 * exit status. */
static int run_stats_path(const char *path, char *out, size_t n)
{
    char cwd[PATH_MAX];
    struct stat st;
    bool exists;
    int len;

    if (path[0] == '/') {
        len = snprintf(out, n, "%s", path);
    } else {
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            msg("run: --stats '%s': cannot make it absolute: %s", path, pmn_strerror(errno));
            return EXIT_USAGE;
        }
        len = snprintf(out, n, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", path);
    }
    if (len < 0 || (size_t)len >= n) {
        msg("run: --stats '%s': %s", path, pmn_strerror(-ENAMETOOLONG));
        return EXIT_USAGE;
    }
    if (bad_path_char(out, "")) {
        msg("run: --stats '%s': PMNODE_PRELOAD cannot carry a path with ';', spaces or "
            "control characters: %s",
            out, pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    /* The shim writes at exit, too late to complain.  It never writes
     * through a symbolic link (it replaces the file by renaming a new one
     * over it); a device or FIFO it appends to; else it needs to write in
     * the directory. */
    if (stats_names_fd(out))
        return -1;
    exists = lstat(out, &st) == 0;
    if (exists && S_ISLNK(st.st_mode)) {
        msg("run: --stats '%s': a symbolic link: the shim does not write through one "
            "(name the file it points to): %s",
            path, pmn_strerror(-ELOOP));
        return EXIT_USAGE;
    }
    if (exists && S_ISDIR(st.st_mode)) {
        msg("run: --stats '%s': %s", path, pmn_strerror(-EISDIR));
        return EXIT_USAGE;
    }
    if (!exists || S_ISREG(st.st_mode)) {
        char dir[PATH_MAX];
        char *slash;

        memcpy(dir, out, (size_t)len + 1);
        slash = strrchr(dir, '/');
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        if (access(dir, W_OK | X_OK) != 0) {
            msg("run: --stats '%s': cannot write in '%s': %s", path, dir,
                pmn_strerror(errno));
            return EXIT_USAGE;
        }
    }
    return -1;
}

/* The shim library: $PMNODE_PRELOAD_LIB, the build tree, the installed
 * libdir.  Returns -1 to go on, else the exit status. */
static int run_find_preload(char *out, size_t n)
{
    const char *env = getenv("PMNODE_PRELOAD_LIB");
    char exe[PATH_MAX], cand[PATH_MAX + 64];
    ssize_t len;

    if (env != NULL && env[0] != '\0') {
        if (access(env, R_OK) != 0) {
            msg("run: PMNODE_PRELOAD_LIB '%s': %s", env, pmn_strerror(errno));
            return EXIT_USAGE;
        }
        snprintf(out, n, "%s", env);
        return -1;
    }
    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        char *slash;

        exe[len] = '\0';
        if ((slash = strrchr(exe, '/')) != NULL) {
            *slash = '\0';
            snprintf(cand, sizeof(cand), "%s/../libpmnode/preload/" PRELOAD_NAME, exe);
            if (access(cand, R_OK) == 0 && realpath(cand, out) != NULL)
                return -1;
        }
    }
    if (access(PMN_LIBDIR "/" PRELOAD_NAME, R_OK) == 0) {
        snprintf(out, n, "%s", PMN_LIBDIR "/" PRELOAD_NAME);
        return -1;
    }
    msg("run: cannot find " PRELOAD_NAME " (in the build tree next to pmnode, or in "
        PMN_LIBDIR "; set PMNODE_PRELOAD_LIB): %s",
        pmn_strerror(-ENOENT));
    return EXIT_USAGE;
}

static int run_main(int argc, char **argv)
{
    struct run_opts o;
    struct pmn_ctx *ctx = NULL;
    char lib[PATH_MAX], stats[PATH_MAX], conf[2 * PATH_MAX], *preload;
    const char *old;
    size_t len;
    int err, status;

    if ((status = run_parse(argc, argv, &o)) >= 0)
        return status;
    if (o.stats != NULL && (status = run_stats_path(o.stats, stats, sizeof(stats))) >= 0)
        return status;
    if ((status = run_find_preload(lib, sizeof(lib))) >= 0)
        return status;
    if (bad_path_char(lib, ":")) {
        msg("run: LD_PRELOAD cannot carry the path '%s' (spaces, ':' or ';'): %s", lib,
            pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }

    if ((status = discover("run", NULL, &ctx)) >= 0)
        return status;
    if (!pmn_ctx_is_local(ctx)) {
        msg("run: cannot place memory with root '%s': %s", pmn_ctx_root(ctx),
            pmn_strerror(PMN_E_REMOTE_ROOT));
        pmn_ctx_unref(ctx);
        return EXIT_USAGE;
    }
    status = run_check_target(ctx, &o);
    for (size_t i = 0; status < 0 && i < o.nspill; i++) {
        if ((err = run_check_node(ctx, o.spill[i])) < 0) {
            msg("run: --spill node %d: %s", o.spill[i], pmn_strerror(err));
            status = run_status(err);
        }
    }
    pmn_ctx_unref(ctx);
    if (status >= 0)
        return status;

    if (run_conf(&o, o.stats != NULL ? stats : NULL, conf, sizeof(conf)) < 0) {
        msg("run: PMNODE_PRELOAD: %s", pmn_strerror(-ENAMETOOLONG));
        return EXIT_USAGE;
    }

    /* LD_PRELOAD: the shim first, whatever was preloaded already after it. */
    old = getenv("LD_PRELOAD");
    len = strlen(lib) + (old != NULL ? strlen(old) : 0) + 2;
    if ((preload = malloc(len)) == NULL) {
        msg("run: %s", pmn_strerror(-ENOMEM));
        return EXIT_FAILED;
    }
    snprintf(preload, len, "%s%s%s", lib, old != NULL && old[0] != '\0' ? ":" : "",
             old != NULL ? old : "");
    if (setenv("PMNODE_PRELOAD", conf, 1) != 0 || setenv("LD_PRELOAD", preload, 1) != 0) {
        msg("run: setting the environment: %s", pmn_strerror(errno));
        free(preload);
        return EXIT_FAILED;
    }
    free(preload);

    fflush(NULL);
    execvp(o.prog[0], o.prog);
    err = errno;
    if (err == ENOENT || err == ENOTDIR) {
        msg("run: '%s': %s", o.prog[0],
            strchr(o.prog[0], '/') != NULL ? pmn_strerror(err) : "command not found");
        return EXIT_NOT_FOUND;
    }
    msg("run: cannot execute '%s': %s", o.prog[0], pmn_strerror(err));
    return EXIT_CANNOT_EXEC;
}

const struct cmd cmd_run = {
    .name = "run", .main = run_main, .opts = run_table, .nopts = OPT_COUNT(run_table),
    .operands = "-- PROG [ARGS...]",
    .summary = "run an unmodified program with its heap on a\n"
               "node (the LD_PRELOAD shim)",
    .about = "Run an unmodified program with its heap (the whole malloc family, and C++\n"
             "new/delete through it) served by libpmnode on the node asked for: the\n"
             "LD_PRELOAD shim libpmnode-preload.so, configured through PMNODE_PRELOAD.\n"
             "The target is checked before PROG starts; then pmnode execs PROG, so\n"
             "PROG's exit status and signals are its own.  Child processes inherit the\n"
             "shim and its configuration.",
    .notes = "The shim is found in this order: $PMNODE_PRELOAD_LIB; the build tree\n"
             "(<dir of pmnode>/../libpmnode/preload/libpmnode-preload.so); the\n"
             "installed library directory.  An existing LD_PRELOAD is kept after it;\n"
             "an existing PMNODE_PRELOAD is replaced.\n"
             "\n"
             "Exit status: PROG's own once it runs; 2 bad usage or input: no such node,\n"
             "a node without memory, no node of the kind, no private node, a root\n"
             "(PMNODE_SYSFS_ROOT) describing another machine, no preload library;\n"
             "126 PROG cannot be executed; 127 PROG not found.  The shim itself stops\n"
             "the program with status 2 and one 'pmnode-preload:' line when it cannot\n"
             "serve the configuration.",
};
