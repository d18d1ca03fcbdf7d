/*
 * test-publish.c - pmn_publish(3) and pmnode top's reader of its files
 * (libpmnode/alloc/publish.c, tools/pmnode/published.c; issue 18).
 *
 * Each Test() points XDG_RUNTIME_DIR at a fresh 0700 directory of its own,
 * so files land there and nowhere else.  Covered: the file an arena's
 * counters are published in, as the reader sees it (in this process);
 * writes from the heap's slow path without an explicit update; an arena's
 * entry going with the arena; stop and the destructor removing the file;
 * a forked child never writing into its parent's file; the secure-mode
 * decision (forced through pmn__publish_force_secure, as AT_SECURE cannot
 * be had unprivileged); and hostile files and directories refused with a
 * reason: a symlinked directory, one open to others, garbage, a truncated
 * and a huge file, another pid's or an earlier process's file, an odd
 * sequence, and (as root) a file of another uid; and the files of
 * processes that are gone, removed by the next start.
 */
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc/publish.h"
#include "harness.h"
#include "os/prim.h"
#include "../../tools/pmnode/published.h"

#define FILE_BYTES                       \
    (sizeof(struct pmn_publish_header) + \
     PMN_PUBLISH_MAX_ENTRIES * sizeof(struct pmn_publish_entry))

static char base[256], pubdir[300];

static void remove_base(void)
{
    char cmd[600];

    if (base[0] == '/') {
        snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", base, base);
        (void)!system(cmd);
    }
}

static void fresh_dir(void)
{
    snprintf(base, sizeof(base), "/tmp/pmn-publish-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    atexit(remove_base);
    setenv("XDG_RUNTIME_DIR", base, 1);
    snprintf(pubdir, sizeof(pubdir), "%s/pmnode", base);
}

static uint64_t my_start(void)
{
    uint64_t t = 0;
    cr_assert_eq(pmn_prim_proc_start_time(0, &t), 0);
    return t;
}

static int find_self(struct published *p, char *why, size_t n)
{
    return pub_find(getpid(), (unsigned)geteuid(), my_start(), NULL, p, why, n);
}

Test(publish, arena_seen_by_reader, .fini = remove_base)
{
    struct env e = env_open();
    static struct published p;
    char why[400], path[400];
    void *obj[100];
    int err;

    fresh_dir();
    cr_assert_eq(pmn_publish_arena(e.a, "mine\n\xc2\x9b\xff"), 0);
    cr_assert_eq(pmn_publish_arena(e.a, "again"), -EEXIST);
    cr_assert_eq(pmn_publish_update(), -ENOENT, "not publishing yet");
    cr_assert_eq(pmn_publish_start(0), 0);
    cr_assert_eq(pmn_publish_start(0), -EALREADY);
    for (int i = 0; i < 100; i++)
        cr_assert_not_null(obj[i] = pmn_arena_malloc(e.a, 1000));
    cr_assert_eq(pmn_publish_update(), 0);
    err = pmn_publish_path(path, sizeof(path));
    cr_assert_gt(err, 0);
    cr_assert(strncmp(path, pubdir, strlen(pubdir)) == 0, "path %s under %s", path, pubdir);
    err = find_self(&p, why, sizeof(why));
    cr_assert_eq(err, 0, "pub_find: %s (%s)", pmn_strerror(err), why);
    cr_assert(strcmp(p.path, path) == 0, "%s vs %s", p.path, path);
    cr_assert_eq(p.n, 1);
    cr_assert(strcmp(p.e[0].name, "mine????") == 0,
              "control characters (C0, C1) and bytes that are not UTF-8 become ?: %s",
              p.e[0].name);
    cr_assert_eq(p.e[0].kind, PMN_PUBLISH_ARENA);
    cr_assert_eq(p.e[0].objects, 100);
    cr_assert_geq(p.e[0].allocated, 100000);
    cr_assert_geq(p.e[0].nnodes, 1);
    cr_assert_eq(p.e[0].node[0].node, 0);
    cr_assert_eq(p.e[0].node[0].bytes, p.e[0].mapped_bytes);
    cr_assert_eq(p.h.pid, getpid());
    for (int i = 0; i < 100; i++)
        pmn_free(obj[i]);
    cr_assert_eq(pmn_publish_stop(), 0);
    cr_assert_eq(access(path, F_OK), -1, "stop removes the file");
    cr_assert_eq(pmn_publish_stop(), -ENOENT);
    cr_assert_eq(pmn_publish_path(path, sizeof(path)), -ENOENT);
    env_close(&e);
}

/* No update call: the heap's slow path (a new page, a large object)
 * writes the figures once the interval has passed. */
Test(publish, slow_path_writes, .fini = remove_base)
{
    struct env e = env_open();
    static struct published p;
    char why[400];
    uint64_t before;
    void *big;

    fresh_dir();
    cr_assert_eq(pmn_publish_arena(e.a, "a"), 0);
    cr_assert_eq(pmn_publish_start(0), 0);
    cr_assert_eq(find_self(&p, why, sizeof(why)), 0, "%s", why);
    before = p.h.updates;
    cr_assert_eq(p.e[0].objects, 0);
    usleep(250 * 1000);                   /* past the 100 ms interval */
    big = pmn_arena_malloc(e.a, 1 << 20); /* a large object: a slow path */
    cr_assert_not_null(big);
    cr_assert_eq(find_self(&p, why, sizeof(why)), 0, "%s", why);
    cr_assert_gt(p.h.updates, before, "the slow path wrote");
    cr_assert_eq(p.e[0].objects, 1);
    pmn_free(big);
    /* destroying the arena takes its entry away (and writes) */
    pmn_arena_destroy(e.a);
    e.a = NULL;
    cr_assert_eq(find_self(&p, why, sizeof(why)), 0, "%s", why);
    cr_assert_eq(p.n, 0);
    cr_assert_eq(pmn_publish_stop(), 0);
    env_close(&e);
}

Test(publish, fork_child_leaves_parent_file, .fini = remove_base)
{
    struct env e = env_open();
    static struct published p;
    char why[400], path[400];
    uint64_t before;
    pid_t pid;
    int st;

    fresh_dir();
    cr_assert_eq(pmn_publish_arena(e.a, "a"), 0);
    cr_assert_eq(pmn_publish_start(0), 0);
    cr_assert_gt(pmn_publish_path(path, sizeof(path)), 0);
    cr_assert_eq(find_self(&p, why, sizeof(why)), 0, "%s", why);
    before = p.h.updates;
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* the child neither writes nor removes the parent's file, not
         * even from a slow path past the interval */
        void *q;
        usleep(250 * 1000);
        q = pmn_arena_malloc(e.a, 1 << 20);
        int a = pmn_publish_update(), b = pmn_publish_stop();
        pmn_free(q);
        _exit(a == -ENOENT && b == -ENOENT && access(path, F_OK) == 0 ? 0 : 1);
    }
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    cr_assert_eq(access(path, F_OK), 0, "the parent's file stays");
    cr_assert_eq(find_self(&p, why, sizeof(why)), 0, "%s", why);
    cr_assert_eq(p.h.pid, getpid());
    cr_assert_eq(p.h.updates, before, "the child wrote into the parent's file");
    cr_assert_eq(p.e[0].objects, 0);
    cr_assert_eq(pmn_publish_stop(), 0);
    env_close(&e);
}

Test(publish, secure_mode, .fini = remove_base)
{
    cr_assert(pmn__publish_allowed(false, 0));
    cr_assert_not(pmn__publish_allowed(true, 0), "never by default in secure mode");
    cr_assert(pmn__publish_allowed(true, PMN_PUBLISH_SECURE_OK));
    fresh_dir();
    pmn__publish_force_secure = 1;
    cr_assert_eq(pmn_publish_start(0), -EPERM);
    cr_assert_eq(access(pubdir, F_OK), -1, "nothing created");
    /* the program's own explicit choice; XDG_RUNTIME_DIR is not used then
     * (secure_getenv), so it goes to /dev/shm/pmnode-UID when not faked */
    cr_assert_eq(pmn_publish_start(PMN_PUBLISH_SECURE_OK | 2), -EINVAL);
    pmn__publish_force_secure = 0;
}

Test(publish, symlinked_dir_refused, .fini = remove_base)
{
    char target[300], why[400];
    static struct published p;
    int err;

    fresh_dir();
    snprintf(target, sizeof(target), "%s/elsewhere", base);
    cr_assert_eq(mkdir(target, 0700), 0);
    cr_assert_eq(symlink(target, pubdir), 0);
    cr_assert_eq(pmn_publish_start(0), -ELOOP, "the writer refuses a symlinked directory");
    err = pub_find(getpid(), (unsigned)geteuid(), 0, pubdir, &p, why, sizeof(why));
    cr_assert_eq(err, -ELOOP);
    cr_assert(strstr(why, "symbolic link") != NULL, "reason: %s", why);
}

Test(publish, open_dir_refused, .fini = remove_base)
{
    char why[400];
    static struct published p;

    fresh_dir();
    cr_assert_eq(mkdir(pubdir, 0777), 0);
    cr_assert_eq(chmod(pubdir, 0777), 0);
    cr_assert_eq(pmn_publish_start(0), -EACCES);
    cr_assert_eq(pub_find(getpid(), (unsigned)geteuid(), 0, pubdir, &p, why, sizeof(why)),
                 -EACCES);
    cr_assert(strstr(why, "open to group or others") != NULL, "reason: %s", why);
}

/* Write @len bytes of @buf as DIR/PID (a 0700 dir), then read it back. */
static int plant(const void *buf, size_t len, int pid, char *why, size_t n)
{
    static struct published p;
    char path[400];
    int fd;

    mkdir(pubdir, 0700);
    snprintf(path, sizeof(path), "%s/%d", pubdir, pid);
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, buf, len), (ssize_t)len);
    close(fd);
    return pub_find(pid, (unsigned)geteuid(), 0, pubdir, &p, why, n);
}

/* A valid file of @pid's, in @buf (FILE_BYTES + slack). */
static void valid(unsigned char *buf, int pid)
{
    struct pmn_publish_header *h = (void *)buf;

    memset(buf, 0, FILE_BYTES);
    memcpy(h->magic, PMN_PUBLISH_MAGIC, 8);
    h->version = PMN_PUBLISH_VERSION;
    h->header_size = sizeof(*h);
    h->entry_size = sizeof(struct pmn_publish_entry);
    h->max_entries = PMN_PUBLISH_MAX_ENTRIES;
    h->file_size = FILE_BYTES;
    h->pid = pid;
    h->uid = (unsigned)geteuid();
    h->nentries = 1;
}

Test(publish, hostile_files_refused, .fini = remove_base)
{
    static unsigned char buf[FILE_BYTES * 4];
    struct pmn_publish_header *h = (void *)buf;
    char why[400];
    int pid = getpid();

    fresh_dir();
    valid(buf, pid);
    cr_assert_eq(plant(buf, FILE_BYTES, pid, why, sizeof(why)), 0, "%s", why);
    /* garbage */
    for (size_t i = 0; i < FILE_BYTES; i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    cr_assert_eq(plant(buf, FILE_BYTES, pid, why, sizeof(why)), -EINVAL);
    cr_assert(strstr(why, "bad magic") != NULL, "%s", why);
    /* truncated */
    valid(buf, pid);
    cr_assert_eq(plant(buf, FILE_BYTES / 2, pid, why, sizeof(why)), -EINVAL);
    cr_assert(strstr(why, "truncated") != NULL, "%s", why);
    cr_assert_eq(plant(buf, 10, pid, why, sizeof(why)), -EINVAL);
    cr_assert(strstr(why, "truncated") != NULL, "%s", why);
    /* huge */
    cr_assert_eq(plant(buf, sizeof(buf), pid, why, sizeof(why)), -EFBIG);
    cr_assert(strstr(why, "larger than the format") != NULL, "%s", why);
    /* sizes that lie */
    valid(buf, pid);
    h->max_entries = 1000000;
    cr_assert_eq(plant(buf, FILE_BYTES, pid, why, sizeof(why)), -EINVAL);
    valid(buf, pid);
    h->nentries = PMN_PUBLISH_MAX_ENTRIES + 1;
    cr_assert_eq(plant(buf, FILE_BYTES, pid, why, sizeof(why)), -EINVAL);
    cr_assert(strstr(why, "more entries") != NULL, "%s", why);
    /* another pid's file under our name */
    valid(buf, pid + 1);
    cr_assert_eq(plant(buf, FILE_BYTES, pid, why, sizeof(why)), -ESTALE);
    /* an earlier process with our pid */
    valid(buf, pid);
    h->start_time = my_start() + 12345;
    {
        static struct published p;
        cr_assert_eq(plant(buf, FILE_BYTES, pid, why, sizeof(why)), 0, "no start given: %s", why);
        cr_assert_eq(pub_find(pid, (unsigned)geteuid(), my_start(), pubdir, &p, why, sizeof(why)),
                     -ESTALE);
        cr_assert(strstr(why, "stale") != NULL, "%s", why);
    }
    /* a writer that never finishes: odd sequence */
    valid(buf, pid);
    h->seq = 3;
    cr_assert_eq(plant(buf, FILE_BYTES, pid, why, sizeof(why)), -EAGAIN);
    cr_assert(strstr(why, "being written") != NULL, "%s", why);
    /* a symlink as the file */
    {
        char path[400], other[400];
        static struct published p;
        snprintf(path, sizeof(path), "%s/%d", pubdir, pid);
        snprintf(other, sizeof(other), "%s/real", pubdir);
        valid(buf, pid);
        plant(buf, FILE_BYTES, pid, why, sizeof(why));
        cr_assert_eq(rename(path, other), 0);
        cr_assert_eq(symlink(other, path), 0);
        cr_assert_eq(pub_find(pid, (unsigned)geteuid(), 0, pubdir, &p, why, sizeof(why)), -ELOOP);
        cr_assert(strstr(why, "symbolic link") != NULL, "%s", why);
    }
}

/* A killed publisher leaves its file; the next start in the directory
 * removes the files of processes that are gone, and only those.  0.9.4
 * removed none: a service crashing in a loop filled /dev/shm with them. */
static pid_t sleeper(void)
{
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* Gone with the test, even one that failed before its kills. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        alarm(30);
        pause();
        _exit(0);
    }
    return pid;
}

static uint64_t start_of(pid_t pid)
{
    uint64_t t = 0;

    cr_assert_eq(pmn_prim_proc_start_time(pid, &t), 0);
    return t;
}

static bool present(const char *name)
{
    char path[400];

    snprintf(path, sizeof(path), "%s/%s", pubdir, name);
    return access(path, F_OK) == 0;
}

static void plant_as(const char *name, const void *buf, size_t len)
{
    char path[400];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", pubdir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

Test(publish, files_of_processes_gone_are_removed_at_start, .fini = remove_base)
{
    static unsigned char buf[FILE_BYTES];
    struct pmn_publish_header *h = (void *)buf;
    pid_t dead, reused, alive, starting;
    char n_dead[16], n_reused[16], n_alive[16], n_starting[16], n_link[16], path[400], other[400];
    int st;

    fresh_dir();
    cr_assert_eq(mkdir(pubdir, 0700), 0);
    dead = fork();
    cr_assert_geq(dead, 0);
    if (dead == 0)
        _exit(0);
    cr_assert_eq(waitpid(dead, &st, 0), dead);
    reused = sleeper();
    alive = sleeper();
    starting = sleeper();
    snprintf(n_dead, sizeof(n_dead), "%d", (int)dead);
    snprintf(n_reused, sizeof(n_reused), "%d", (int)reused);
    snprintf(n_alive, sizeof(n_alive), "%d", (int)alive);
    snprintf(n_starting, sizeof(n_starting), "%d", (int)starting);

    valid(buf, dead); /* killed: its pid names no process now */
    h->start_time = 1;
    plant_as(n_dead, buf, FILE_BYTES);
    valid(buf, reused); /* an earlier process that had a living one's pid */
    h->start_time = start_of(reused) + 1000;
    plant_as(n_reused, buf, FILE_BYTES);
    valid(buf, alive); /* a living publisher */
    h->start_time = start_of(alive);
    plant_as(n_alive, buf, FILE_BYTES);
    memset(buf, 0, FILE_BYTES); /* a living one that has not written its header yet */
    plant_as(n_starting, buf, FILE_BYTES);
    plant_as("notes", "mine\n", 5); /* not a pid */
    /* a link under a dead pid's name: not followed, not removed */
    snprintf(n_link, sizeof(n_link), "%d", (int)dead + 1000000);
    snprintf(path, sizeof(path), "%s/%s", pubdir, n_link);
    snprintf(other, sizeof(other), "%s/notes", pubdir);
    cr_assert_eq(symlink(other, path), 0);

    cr_assert_eq(pmn_publish_start(0), 0);
    cr_assert_not(present(n_dead), "the file of a process that is gone stays");
    cr_assert_not(present(n_reused), "the file of an earlier process with a reused pid stays");
    cr_assert(present(n_alive), "a living publisher's file was removed");
    cr_assert(present(n_starting), "a starting publisher's file was removed");
    cr_assert(present("notes"));
    cr_assert(present(n_link));
    cr_assert_eq(pmn_publish_stop(), 0);
    kill(reused, SIGKILL);
    kill(alive, SIGKILL);
    kill(starting, SIGKILL);
    waitpid(reused, &st, 0);
    waitpid(alive, &st, 0);
    waitpid(starting, &st, 0);
}

Test(publish, other_uid_refused, .fini = remove_base)
{
    static unsigned char buf[FILE_BYTES];
    static struct published p;
    char why[400], path[400];
    int pid = getpid();

    if (geteuid() != 0)
        cr_skip_test("needs root to make a file of another uid");
    fresh_dir();
    valid(buf, pid);
    cr_assert_eq(plant(buf, FILE_BYTES, pid, why, sizeof(why)), 0, "%s", why);
    snprintf(path, sizeof(path), "%s/%d", pubdir, pid);
    cr_assert_eq(chown(path, 12345, 12345), 0);
    cr_assert_eq(pub_find(pid, 0, 0, pubdir, &p, why, sizeof(why)), -EPERM);
    cr_assert(strstr(why, "another user") != NULL, "%s", why);
    /* and a directory of another uid */
    cr_assert_eq(chown(pubdir, 12345, 12345), 0);
    cr_assert_eq(pub_find(pid, 0, 0, pubdir, &p, why, sizeof(why)), -EPERM);
    cr_assert(strstr(why, pubdir) != NULL, "%s", why);
}

/* Threads allocating (ticks from their slow paths) while another adds and
 * removes entries and writes: for ThreadSanitizer, and the file stays
 * readable and consistent throughout. */
static struct pmn_arena *shared_arena;

static void *churn(void *arg)
{
    (void)arg;
    for (int i = 0; i < 400; i++) {
        void *p = pmn_arena_malloc(shared_arena, 300 << 10);
        void *q = pmn_arena_malloc(shared_arena, 64);
        cr_assert_not_null(p);
        cr_assert_not_null(q);
        pmn_free(q);
        pmn_free(p);
    }
    return NULL;
}

Test(publish, threads, .fini = remove_base)
{
    struct env e = env_open();
    static struct published p;
    pthread_t t[3];
    char why[400];

    fresh_dir();
    shared_arena = e.a;
    cr_assert_eq(pmn_publish_arena(e.a, "shared"), 0);
    cr_assert_eq(pmn_publish_start(0), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, churn, NULL), 0);
    for (int i = 0; i < 20; i++) {
        struct pmn_arena *a = NULL;
        cr_assert_eq(pmn_arena_new(e.b, NULL, &a), 0);
        cr_assert_eq(pmn_publish_arena(a, "short-lived"), 0);
        cr_assert_eq(pmn_publish_update(), 0);
        cr_assert_eq(find_self(&p, why, sizeof(why)), 0, "%s", why);
        cr_assert_geq(p.n, 1);
        cr_assert(strcmp(p.e[0].name, "shared") == 0);
        pmn_arena_destroy(a);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(pmn_publish_update(), 0);
    cr_assert_eq(find_self(&p, why, sizeof(why)), 0, "%s", why);
    cr_assert_eq(p.n, 1);
    cr_assert_eq(p.e[0].objects, 0);
    cr_assert_eq(p.e[0].allocs, 2400);
    cr_assert_eq(pmn_publish_stop(), 0);
    env_close(&e);
}
