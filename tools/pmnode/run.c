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
 * made absolute first, because the program may change directory, and then
 * held to the shim's own limit (PMN__PRELOAD_STATS_MAX).
 *
 * A program the shim cannot reach would run with nothing placed and say
 * nothing, so pmnode looks at it first (run_check_reach): the file execvp
 * will run, through "#!" interpreters as the kernel follows them, must be
 * a dynamically linked ELF program (a PT_INTERP header: a dynamic loader
 * to preload the shim) of pmnode's own class and machine, and must not run
 * in secure-execution mode, where the loader ignores LD_PRELOAD
 * (set-user-ID or set-group-ID bits giving other ids than the caller's,
 * file capabilities for a caller who is not root; not on a nosuid mount
 * or under no_new_privs).  Otherwise exit 2 with the reason, unless
 * --allow-unshimmed.  A file pmnode cannot read is given the benefit of
 * the doubt.
 *
 * The options are read with the grammar the shim itself uses (core/parse.c
 * through options.c), and run_conf() writes them back in the canonical
 * form preload/config.c reads: tests/unit/test-grammar.c holds the two to
 * agreeing on the same strings.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"
#include "os/prim.h"
#include "output.h"
#include "preload/config.h"

#ifndef PMN_LIBDIR
#define PMN_LIBDIR "/usr/local/lib"
#endif
#define PRELOAD_NAME "libpmnode-preload.so"

enum {
    EXIT_CANNOT_EXEC = 126, /* as a shell says it */
    EXIT_NOT_FOUND = 127,
};

enum { R_NODE, R_KIND, R_PRIVATE, R_THRESHOLD, R_SPILL, R_STATS, R_LOG, R_ALLOW_UNSHIMMED };

/* One option per entry, compact, as the help lists them. */
/* clang-format off */
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
               .help = "shim messages on stderr: off, error, warn,\n"
                       "info or debug (warning is warn; 0 to 4\n"
                       "also work)"},
    [R_ALLOW_UNSHIMMED] = {.name = "--allow-unshimmed", .type = &opt_flag,
                           .help = "run PROG even when the shim cannot reach it\n"
                                   "(statically linked, set-user-ID, ...):\n"
                                   "its heap is then not placed and no stats\n"
                                   "are written"},
};
/* clang-format on */

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
        .allow_unshimmed = res[R_ALLOW_UNSHIMMED].count > 0,
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
    pmn_node_foreach (ctx, node) {
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

/* --stats PATH made absolute into @out.  Returns -1 to go on, else the
 * exit status. */
static int run_stats_path(const char *path, char *out, size_t n)
{
    char cwd[PATH_MAX];
    struct stat st;
    bool exists;
    int len, fd;

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
    if ((size_t)len >= PMN__PRELOAD_STATS_MAX) {
        msg("run: --stats: the path is %d bytes made absolute, longer than the %d the shim "
            "takes: %s",
            len, PMN__PRELOAD_STATS_MAX - 1, pmn_strerror(-ENAMETOOLONG));
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
    fd = pmn__parse_fd_path(out); /* as the shim reads it */
    if (fd == -2) {
        msg("run: --stats '%s': names no descriptor (/dev/fd/N with N a number below "
            "1000000): %s",
            path, pmn_strerror(-EBADF));
        return EXIT_USAGE;
    }
    /* The program inherits this process's descriptors that are not
     * close-on-exec; the shim writes to the file open on N when the
     * program started, or to nothing (preload.c). */
    if (fd > 2) {
        int fl = fcntl(fd, F_GETFD);

        if (fl < 0 || (fl & FD_CLOEXEC) != 0) {
            msg("run: --stats '%s': descriptor %d is not open for the program (open it in "
                "the shell that runs pmnode, as in 9>FILE): %s",
                path, fd, pmn_strerror(-EBADF));
            return EXIT_USAGE;
        }
    }
    if (fd >= 0)
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
            msg("run: --stats '%s': cannot write in '%s': %s", path, dir, pmn_strerror(errno));
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
    msg("run: cannot find " PRELOAD_NAME " (in the build tree next to pmnode, or in " PMN_LIBDIR
        "; set PMNODE_PRELOAD_LIB): %s",
        pmn_strerror(-ENOENT));
    return EXIT_USAGE;
}

/* ---- can the shim reach the program? ---- */

/* The file execvp(@prog) would run: @prog itself when it holds a '/',
 * else the first executable regular file of that name in $PATH (glibc's
 * default path when unset; an empty entry is the current directory).
 * False when there is none: execvp will say so. */
static bool run_resolve(const char *prog, char *out, size_t n)
{
    const char *path = getenv("PATH"), *p, *end;
    struct stat st;

    if (strchr(prog, '/') != NULL)
        return snprintf(out, n, "%s", prog) < (int)n;
    if (path == NULL)
        path = "/bin:/usr/bin";
    for (p = path;; p = end + 1) {
        int len;

        end = strchr(p, ':');
        if (end == NULL)
            end = p + strlen(p);
        len = end == p ? snprintf(out, n, "%s", prog)
                       : snprintf(out, n, "%.*s/%s", (int)(end - p), p, prog);
        if (len > 0 && (size_t)len < n && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
            access(out, X_OK) == 0)
            return true;
        if (*end == '\0')
            return false;
    }
}

/* What the loader will do for an ELF file, from its header and program
 * headers.  0: dynamically linked, of pmnode's own class and machine;
 * 1: statically linked; 2: another class or machine; -1: not ELF or not
 * readable (no verdict). */
static int run_elf_kind(const char *path, int *cls, int *machine)
{
    static int self_class = -1, self_machine; /* once per process */
    unsigned char id[EI_NIDENT];
    union {
        Elf32_Ehdr e32;
        Elf64_Ehdr e64;
    } h;
    uint64_t phoff;
    size_t got, phnum, phentsize;

    if (self_class < 0) { /* pmnode's own, which is the shim's (0: unknown) */
        int c = 0, m = 0;

        self_class = 0;
        if (run_elf_kind("/proc/self/exe", &c, &m) >= 0) {
            self_class = c;
            self_machine = m;
        }
    }
    if (pmn_prim_read_at(path, 0, &h, sizeof(h), &got) != 0 || got < EI_NIDENT)
        return -1;
    memcpy(id, &h, EI_NIDENT);
    if (memcmp(id, ELFMAG, SELFMAG) != 0 ||
        (id[EI_CLASS] != ELFCLASS32 && id[EI_CLASS] != ELFCLASS64))
        return -1;
    *cls = id[EI_CLASS];
    if (id[EI_CLASS] == ELFCLASS64) {
        if (got < sizeof(Elf64_Ehdr))
            return -1;
        *machine = h.e64.e_machine;
        phoff = h.e64.e_phoff;
        phnum = h.e64.e_phnum;
        phentsize = h.e64.e_phentsize;
    } else {
        if (got < sizeof(Elf32_Ehdr))
            return -1;
        *machine = h.e32.e_machine;
        phoff = h.e32.e_phoff;
        phnum = h.e32.e_phnum;
        phentsize = h.e32.e_phentsize;
    }
    if (self_class > 0 && (*cls != self_class || *machine != self_machine))
        return 2;
    if (phentsize < (*cls == ELFCLASS64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) ||
        phnum > 65535)
        return -1;
    for (size_t i = 0; i < phnum; i++) {
        uint32_t type;

        if (pmn_prim_read_at(path, phoff + i * phentsize, &type, sizeof(type), &got) != 0 ||
            got != sizeof(type))
            return -1; /* p_type is the first field in both classes */
        if (type == PT_INTERP)
            return 0;
    }
    return 1;
}

/* Whether exec of @path (an ELF file) gives secure-execution mode, where
 * the dynamic loader ignores LD_PRELOAD: @why says why. */
static bool run_secure_exec(const char *path, const struct stat *st, char *why, size_t n)
{
    struct statvfs vfs;
    bool setuid = st->st_mode & S_ISUID,
         setgid = (st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP);

    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
        return false; /* set-ID bits and file capabilities are ignored */
    if (statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_NOSUID))
        return false;
    if ((setuid ? st->st_uid : geteuid()) != getuid()) {
        snprintf(why, n, "is set-user-ID (owner uid %u, caller uid %u)", (unsigned)st->st_uid,
                 (unsigned)getuid());
        return true;
    }
    if ((setgid ? st->st_gid : getegid()) != getgid()) {
        snprintf(why, n, "is set-group-ID (group gid %u, caller gid %u)", (unsigned)st->st_gid,
                 (unsigned)getgid());
        return true;
    }
    if (getuid() != 0 && getxattr(path, "security.capability", NULL, 0) > 0) {
        snprintf(why, n, "has file capabilities");
        return true;
    }
    return false;
}

/* 0 when the shim can reach @prog, else one message and EXIT_USAGE (or -1
 * to go on anyway, with --allow-unshimmed). */
static int run_check_reach(const struct run_opts *o)
{
    char path[PATH_MAX], why[160] = "", first[PATH_MAX];
    int depth, kind, cls = 0, machine = 0;
    struct stat st;

    if (!run_resolve(o->prog[0], path, sizeof(path)))
        return -1; /* not found: execvp says so */
    snprintf(first, sizeof(first), "%s", path);
    /* "#!" lines, as the kernel follows them (at most 4 deep) */
    for (depth = 0; depth < 5; depth++) {
        char head[256], *interp, *end;
        size_t got;

        if (pmn_prim_read_at(path, 0, head, sizeof(head) - 1, &got) != 0)
            return -1; /* cannot read it: no verdict */
        head[got] = '\0';
        if (got < 2 || head[0] != '#' || head[1] != '!')
            break;
        interp = head + 2 + strspn(head + 2, " \t");
        end = interp + strcspn(interp, " \t\n");
        if (end == interp || *end == '\0')
            return -1;
        *end = '\0';
        snprintf(path, sizeof(path), "%s", interp);
    }
    if (depth == 5 || stat(path, &st) != 0)
        return -1;
    kind = run_elf_kind(path, &cls, &machine);
    if (kind == 1)
        snprintf(why, sizeof(why),
                 "is statically linked: no dynamic loader preloads the shim into it");
    else if (kind == 2)
        snprintf(why, sizeof(why),
                 "is an ELF program of another class or machine (class %d, machine %d) than "
                 "the shim",
                 cls == ELFCLASS32 ? 32 : 64, machine);
    else if (kind == 0 && run_secure_exec(path, &st, why, sizeof(why)))
        strncat(why, ": the dynamic loader ignores LD_PRELOAD for it (secure-execution mode)",
                sizeof(why) - strlen(why) - 1);
    if (why[0] == '\0' || o->allow_unshimmed)
        return -1;
    if (strcmp(path, first) == 0)
        msg("run: '%s' %s, so its heap would not be placed (--allow-unshimmed runs it "
            "anyway)",
            first, why);
    else
        msg("run: '%s' runs under '%s', which %s, so its heap would not be placed "
            "(--allow-unshimmed runs it anyway)",
            first, path, why);
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
    if ((status = run_check_reach(&o)) >= 0)
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

/* clang-format off */
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
             "PROG must be a program the shim can reach: a dynamically linked ELF\n"
             "program of pmnode's class and machine (scripts: their interpreter), not\n"
             "run in secure-execution mode (set-user-ID or set-group-ID to other ids\n"
             "than the caller's, or with file capabilities): there the dynamic loader\n"
             "ignores LD_PRELOAD, and the shim ignores PMNODE_PRELOAD.\n"
             "\n"
             "Exit status: PROG's own once it runs; 2 bad usage or input: no such node,\n"
             "a node without memory, no node of the kind, no private node, a root\n"
             "(PMNODE_SYSFS_ROOT) describing another machine, no preload library, a\n"
             "program the shim cannot reach (without --allow-unshimmed), a --stats\n"
             "path the shim would not write; 126 PROG cannot be executed; 127 PROG\n"
             "not found.  The shim itself stops the program with status 2 and one\n"
             "'pmnode-preload:' line when it cannot serve the configuration (or when\n"
             "an allocator preloaded before it takes the program's malloc).",
};
/* clang-format on */
