/*
 * hwloc.c - hwloc's view of the same root, for node subtypes.
 *
 * hwloc knows memory technologies we do not probe ourselves (MCDRAM on
 * KNL, HBM guessed from HMAT, GPUMemory on POWER and Grace), so its
 * NUMA-node subtype is one of the signals the merge weighs.  It must look
 * at the same root as the rest of discovery.  hwloc 2 takes a file-system
 * root only from the HWLOC_FSROOT environment variable, and changing our
 * own environment would be global mutable state that races with other
 * threads; so for any root other than "/" (or when the caller's
 * environment already points hwloc elsewhere) hwloc runs in a short-lived
 * child process whose environment we own, and sends back one line per
 * node: "<os index> <subtype>".  On "/" it runs in-process.
 *
 * A failure here is never fatal: the caller records a problem and the
 * kinds come from sysfs alone.
 */
#include "discover/topology.h"

#ifdef PMN_LITE
/* The preload shim's copy: no hwloc in every program it runs (contexts
 * there are created with PMN_CTX_NO_HWLOC anyway). */
int pmn__hwloc_probe(struct pmn_ctx *ctx)
{
    (void)ctx;
    return PMN_E_HWLOC;
}
#else
#include <errno.h>
#include <fcntl.h>
#include <hwloc.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "discover/topology.h"

#define CHILD_TIMEOUT_MS 20000

/* Call @fn for each NUMA node hwloc finds under the current environment. */
static int hwloc_walk(void (*fn)(void *arg, unsigned id, const char *subtype), void *arg)
{
    hwloc_topology_t topo;
    hwloc_obj_t obj = NULL;

    if (hwloc_topology_init(&topo) != 0)
        return PMN_E_HWLOC;
    hwloc_topology_set_flags(topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
    if (hwloc_topology_load(topo) != 0) {
        hwloc_topology_destroy(topo);
        return PMN_E_HWLOC;
    }
    while ((obj = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, obj)) != NULL)
        fn(arg, obj->os_index, obj->subtype);
    hwloc_topology_destroy(topo);
    return 0;
}

static void set_subtype(void *arg, unsigned id, const char *subtype)
{
    struct pmn_ctx *ctx = arg;
    struct pmn_node *n;

    if (subtype == NULL || id > PMN__MAX_NODE_ID)
        return;
    n = pmn__node_find(ctx, (int)id);
    if (n != NULL && n->hwloc_subtype == NULL)
        n->hwloc_subtype = strdup(subtype);
}

static void write_line(void *arg, unsigned id, const char *subtype)
{
    int fd = *(int *)arg;
    char line[96];
    int len;

    if (subtype == NULL || strpbrk(subtype, " \n") != NULL)
        return;
    len = snprintf(line, sizeof(line), "%u %s\n", id, subtype);
    if (len > 0 && (size_t)len < sizeof(line))
        (void)!write(fd, line, (size_t)len);
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static int hwloc_in_child(struct pmn_ctx *ctx)
{
    char buf[16384];
    size_t used = 0;
    struct timespec t0;
    int fds[2], status, err = 0;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return -errno;
    pid = fork();
    if (pid < 0) {
        err = -errno;
        close(fds[0]);
        close(fds[1]);
        return err;
    }
    if (pid == 0) {
        /* Child: our own environment, hwloc pointed at the root. */
        close(fds[0]);
        if (setenv("HWLOC_FSROOT", ctx->fs.root, 1) != 0 ||
            setenv("HWLOC_KEEP_NVIDIA_GPU_NUMA_NODES", "1", 1) != 0)
            _exit(3);
        unsetenv("HWLOC_XMLFILE");
        unsetenv("HWLOC_SYNTHETIC");
        /* Only the Linux sysfs backend: the x86 CPUID backend would
         * describe this host's processor, not the root's machine. */
        setenv("HWLOC_COMPONENTS", "linux,stop", 1);
        _exit(hwloc_walk(write_line, &fds[1]) == 0 ? 0 : 4);
    }
    close(fds[1]);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        long left = CHILD_TIMEOUT_MS - elapsed_ms(&t0);
        ssize_t r;

        if (left <= 0) {
            err = -ETIMEDOUT;
            kill(pid, SIGKILL);
            break;
        }
        r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        if (used == sizeof(buf) - 1) {
            err = -EFBIG;
            kill(pid, SIGKILL);
            break;
        }
        r = read(fds[0], buf + used, sizeof(buf) - 1 - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        used += (size_t)r;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (err)
        return err;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return PMN_E_HWLOC;
    buf[used] = '\0';
    for (char *line = buf, *nl; *line; line = nl + 1) {
        char *sp;
        uint64_t id;

        nl = strchr(line, '\n');
        if (nl == NULL)
            break;
        *nl = '\0';
        sp = strchr(line, ' ');
        if (sp == NULL || pmn__parse_u64(line, (size_t)(sp - line), 10, &id) != 0 ||
            id > PMN__MAX_NODE_ID)
            continue;
        set_subtype(ctx, (unsigned)id, sp + 1);
    }
    return 0;
}

int pmn__hwloc_probe(struct pmn_ctx *ctx)
{
    const char *env = secure_getenv("HWLOC_FSROOT");

    if (ctx->local && (env == NULL || *env == '\0' || strcmp(env, "/") == 0) &&
        secure_getenv("HWLOC_XMLFILE") == NULL && secure_getenv("HWLOC_SYNTHETIC") == NULL)
        return hwloc_walk(set_subtype, ctx);
    return hwloc_in_child(ctx);
}
#endif /* PMN_LITE */
