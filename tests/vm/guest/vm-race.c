/*
 * vm-race.c - exhaustion on a node shared with another process (runs inside
 * the QEMU guest of tests/vm; issue 13, part 1).
 *
 *   vm-race NODE TRIALS [SEED]
 *
 * Each trial maps about 60 % of NODE's free memory with pmn_region_map (the
 * library's free-memory check passes; anonymous memory on trials 0, 1, 4,
 * 5, ..., memfd on 2, 3, 6, 7, ...) while a second process, "pmn-hog",
 * binds as much to NODE with MPOL_BIND and populates it after a random
 * 0-260 ms delay, by memset on even trials and MADV_POPULATE_WRITE on odd
 * ones.  Between them they ask for more than the node has.  Judged:
 *
 *   - our own page faults never invoke the OOM killer: the kernel log never
 *     says "pmn-race invoked oom-killer" (this process is made immune to
 *     the OOM killer, oom_score_adj -1000, so that the hog's own OOM kills,
 *     which the library cannot prevent, do not end the test);
 *   - a map that succeeds has every page on NODE (move_pages);
 *   - a map that fails returns PMN_E_NODE_FULL or -ENOMEM and leaves no
 *     page behind (the process holds no more pages on NODE than before,
 *     counted in /proc/self/numa_maps).
 *
 * Before the library populated under a policy that may fall back, this
 * process's own faults invoked the OOM killer in most trials, and with
 * nothing left to kill the guest panicked ("System is deadlocked on
 * memory", with pmn-race faulting).
 *
 * Prints one line per trial and a summary; exits 0 when every trial held,
 * 1 otherwise, 77 when the topology lacks the node.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PMN_HARNESS_PROGRAM
#include "harness.h"
#include "pmnode.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define MPOL_BIND_MODE 2

/* Pages this process has on @node, from /proc/self/numa_maps ("N1=123"). */
static long pages_on(int node)
{
    char line[4096], key[32];
    long total = 0;
    FILE *f = fopen("/proc/self/numa_maps", "r");

    if (f == NULL)
        return -1;
    snprintf(key, sizeof(key), " N%d=", node);
    while (fgets(line, sizeof(line), f)) {
        const char *at = strstr(line, key);
        if (at)
            total += strtol(at + strlen(key), NULL, 10);
    }
    fclose(f);
    return total;
}

/* The hog: bind @len bytes to @node, wait @delay_us, populate, then wait
 * to be killed.  Never returns. */
static void hog(int node, size_t len, unsigned delay_us, int by_madvise)
{
    unsigned long mask[4] = {0};
    char *p;

    FILE *f = fopen("/proc/self/oom_score_adj", "w");

    /* Not the -1000 inherited from the parent: with no process left that
     * the OOM killer may choose, the kernel panics. */
    if (f == NULL || fputs("1000", f) < 0 || fclose(f) != 0)
        _exit(5);
    prctl(PR_SET_NAME, "pmn-hog", 0, 0, 0);
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        _exit(3);
    mask[node / 64] = 1UL << (node % 64);
    if (syscall(SYS_mbind, p, len, MPOL_BIND_MODE, mask, 257UL, 0U) != 0)
        _exit(4);
    usleep(delay_us);
    if (by_madvise)
        (void)madvise(p, len, MADV_POPULATE_WRITE);
    else
        memset(p, 0x5a, len);
    for (;;)
        pause();
}

/* Lines of the kernel log written since @fd was opened or last read:
 * count those where we invoked the OOM killer or were killed by it. */
static void scan_kmsg(int fd, pid_t self, int *we_invoked, int *we_killed, int *oom_any)
{
    char rec[2048], killed[64];
    ssize_t n;

    snprintf(killed, sizeof(killed), "Killed process %d ", (int)self);
    while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
        if (n <= 0)
            continue; /* EPIPE: records were overwritten; go on */
        rec[n] = '\0';
        if (strstr(rec, "invoked oom-killer")) {
            (*oom_any)++;
            if (strstr(rec, "pmn-race invoked oom-killer"))
                (*we_invoked)++;
        }
        if (strstr(rec, killed))
            (*we_killed)++;
    }
}

int main(int argc, char **argv)
{
    struct pmn_ctx *ctx;
    struct pmn_backing *backings[2];
    int node, trials, failures = 0, ok_maps = 0, full_maps = 0, oom_total = 0;
    unsigned seed;
    int kmsg;
    FILE *f;

    if (argc < 3) {
        fprintf(stderr, "usage: vm-race NODE TRIALS [SEED]\n");
        return 2;
    }
    node = atoi(argv[1]);
    trials = atoi(argv[2]);
    seed = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : (unsigned)time(NULL);
    srand(seed);
    prctl(PR_SET_NAME, "pmn-race", 0, 0, 0);
    f = fopen("/proc/self/oom_score_adj", "w");
    if (f == NULL || fputs("-1000", f) < 0 || fclose(f) != 0)
        FAIL("cannot set oom_score_adj (needs root)");
    kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (kmsg < 0)
        FAIL("open /dev/kmsg: %s", strerror(errno));
    lseek(kmsg, 0, SEEK_END);

    if (pmn_ctx_new(&ctx) != 0)
        FAIL("pmn_ctx_new");
    if (pmn_node_get(ctx, node) == NULL) {
        printf("skip: no node %d\n", node);
        return 77;
    }
    for (int i = 0; i < 2; i++) {
        struct pmn_backing_params *bp;

        if (pmn_backing_params_new(&bp) != 0 ||
            pmn_backing_params_set_type(bp, i ? PMN_BACKING_MEMFD : PMN_BACKING_ANON) != 0 ||
            pmn_backing_params_set_node(bp, node) != 0 ||
            pmn_backing_new(ctx, bp, &backings[i]) != 0)
            FAIL("backing on node %d", node);
        pmn_backing_params_free(bp);
    }
    printf("seed %u\n", seed);

    for (int t = 0; t < trials; t++) {
        uint64_t free_b = 0;
        size_t size, hog_len;
        unsigned delay_us = (unsigned)(rand() % 261) * 1000u;
        int by_madvise = t & 1, status, invoked = 0, killed = 0, oom = 0, err;
        struct pmn_backing *b = backings[(t / 2) & 1];
        long rss0, rss1;
        struct pmn_region *r = NULL;
        pid_t pid;

        if (pmn_node_read_free(ctx, node, &free_b) != 0)
            FAIL("read free of node %d", node);
        size = (size_t)(free_b * 6 / 10) & ~(size_t)((1u << 20) - 1);
        hog_len = size;
        rss0 = pages_on(node);
        pid = fork();
        if (pid < 0)
            FAIL("fork");
        if (pid == 0)
            hog(node, hog_len, delay_us, by_madvise);
        err = pmn_region_map(b, size, &r);
        if (err == 0) {
            struct pmn_where w = {.struct_size = sizeof(w)};
            uint64_t on_node;

            if (pmn_where(pmn_region_addr(r), size, &w) != 0)
                FAIL("pmn_where");
            on_node = pmn_where_pages_on(&w, node);
            if (on_node != w.pages || w.pages * w.page_size != size) {
                printf("trial %d: FAIL: mapped, but %llu of %zu pages on node %d\n", t,
                       (unsigned long long)on_node, size / (size_t)sysconf(_SC_PAGESIZE), node);
                failures++;
            }
            ok_maps++;
            pmn_region_unmap(r);
        } else {
            rss1 = pages_on(node);
            if (err != PMN_E_NODE_FULL && err != -ENOMEM) {
                printf("trial %d: FAIL: map failed with %s, want PMN_E_NODE_FULL or ENOMEM\n", t,
                       pmn_err_name(err));
                failures++;
            }
            if (rss0 < 0 || rss1 != rss0) {
                printf("trial %d: FAIL: failed map left %ld pages on node %d behind\n", t,
                       rss1 - rss0, node);
                failures++;
            }
            full_maps++;
        }
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        usleep(100000); /* let the kernel log the hog's end */
        scan_kmsg(kmsg, getpid(), &invoked, &killed, &oom);
        oom_total += oom;
        printf("trial %d: %s %zu MiB vs hog %zu MiB (%s after %u ms): %s; OOM kills %d%s\n", t,
               pmn_backing_type_name(pmn_backing_type(b)), size >> 20, hog_len >> 20,
               by_madvise ? "madvise" : "memset", delay_us / 1000,
               err ? pmn_err_name(err) : "mapped, every page on the node", oom,
               invoked ? ", INVOKED BY US" : "");
        if (invoked || killed) {
            printf("trial %d: FAIL: our own allocation invoked the OOM killer%s\n", t,
                   killed ? " and we were killed" : "");
            failures++;
        }
        fflush(stdout);
    }
    printf("%d trials: %d mapped, %d refused (node full), %d OOM kills (all from the hog), "
           "%d failures\n",
           trials, ok_maps, full_maps, oom_total, failures);
    pmn_backing_free(backings[0]);
    pmn_backing_free(backings[1]);
    pmn_ctx_unref(ctx);
    close(kmsg);
    return failures ? 1 : 0;
}
