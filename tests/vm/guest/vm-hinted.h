/*
 * vm-hinted.h - pages under NUMA-balancing hinting faults, for the guest
 * tests that check the library still sees them (included by vm-migrate.c,
 * vm-tier.c and vm-ctier.c after harness.h).
 *
 * With NUMA balancing on, the kernel's scan marks the ptes of memory under
 * a policy that allows it (the default one) for a hinting fault: the next
 * access faults and tells the balancer who touched the page.  On Linux 6.1
 * to 6.4 move_pages calls such a page absent (-ENOENT) until it is
 * touched (later kernels see it).  6.1 marks only pages off the scanning
 * CPU's node in a process of one thread: pmn_vm_hinted_wait() runs a
 * second thread while it waits, so pages on the CPUs' own node are marked
 * too, as in any threaded program.
 */
#ifndef PMN_VM_HINTED_H
#define PMN_VM_HINTED_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The busy loop's output, never read: it keeps the loop. */
static volatile unsigned long pmn_vm_spin_sink;

/* A counter of /proc/vmstat (global: every process of the guest). */
static inline unsigned long long pmn_vm_vmstat(const char *name)
{
    char line[128];
    size_t n = strlen(name);
    unsigned long long v = 0;
    FILE *f = fopen("/proc/vmstat", "r");

    while (f != NULL && fgets(line, sizeof(line), f))
        if (strncmp(line, name, n) == 0 && line[n] == ' ')
            v = strtoull(line + n + 1, NULL, 10);
    if (f != NULL)
        fclose(f);
    return v;
}

/* Whether NUMA balancing is on in this guest. */
static inline bool pmn_vm_balancing_on(void)
{
    int bal = 0;
    FILE *f = fopen("/proc/sys/kernel/numa_balancing", "r");

    if (f == NULL || fscanf(f, "%d", &bal) != 1)
        bal = 0;
    if (f != NULL)
        fclose(f);
    return bal != 0;
}

/* Pages of [@p, @p + @n pages) the raw move_pages query calls absent
 * (-ENOENT, or -EFAULT for a huge page), nothing touched. */
static inline size_t pmn_vm_raw_hidden(char *p, size_t n)
{
    const size_t pg = (size_t)getpagesize();
    void **pages = malloc(n * sizeof(*pages));
    int *st = malloc(n * sizeof(*st));
    size_t hidden = 0;

    if (pages == NULL || st == NULL)
        FAIL("out of memory");
    for (size_t i = 0; i < n; i++)
        pages[i] = p + i * pg;
    if (syscall(SYS_move_pages, 0, n, pages, NULL, st, 0) != 0)
        FAIL("move_pages query: %s", strerror(errno));
    for (size_t i = 0; i < n; i++)
        hidden += st[i] == -ENOENT || st[i] == -EFAULT;
    free(pages);
    free(st);
    return hidden;
}

/* The hidden pages of the @k runs (@starts[i], @counts[i] pages). */
static inline size_t pmn_vm_runs_hidden(char *const *starts, const size_t *counts, size_t k)
{
    size_t hidden = 0;

    for (size_t i = 0; i < k; i++)
        hidden += pmn_vm_raw_hidden(starts[i], counts[i]);
    return hidden;
}

static inline void *pmn_vm_idle_thread(void *arg)
{
    pthread_barrier_wait(arg);
    return NULL;
}

/* Run, touching none of the @k runs, until the raw query calls every page
 * of them absent (6.1), or for 5 s once the balancer has marked as many
 * ptes as they hold (kernels whose move_pages sees marked pages), 30 s at
 * most; print what happened (@who first) and return the hidden pages.
 * Fails when the balancer marked fewer ptes than that and hid nothing: the
 * test would prove nothing. */
static inline size_t pmn_vm_hinted_wait(const char *who, char *const *starts, const size_t *counts,
                                        size_t k)
{
    unsigned long long before = pmn_vm_vmstat("numa_pte_updates");
    size_t total = 0, hidden;
    struct timespec t0, t;
    pthread_barrier_t done;
    pthread_t idle;

    for (size_t i = 0; i < k; i++)
        total += counts[i];
    if (pthread_barrier_init(&done, NULL, 2) != 0 ||
        pthread_create(&idle, NULL, pmn_vm_idle_thread, &done) != 0)
        FAIL("%s: a second thread", who);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        for (unsigned long i = 0; i < 1000000; i++)
            pmn_vm_spin_sink += i;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (pmn_vm_runs_hidden(starts, counts, k) == total || t.tv_sec - t0.tv_sec >= 30 ||
            (t.tv_sec - t0.tv_sec >= 5 && pmn_vm_vmstat("numa_pte_updates") >= before + total))
            break;
    }
    hidden = pmn_vm_runs_hidden(starts, counts, k);
    pthread_barrier_wait(&done);
    pthread_join(idle, NULL);
    pthread_barrier_destroy(&done);
    printf("%s: NUMA balancing updated %llu ptes; the raw move_pages query calls %zu of %zu "
           "pages absent\n",
           who, pmn_vm_vmstat("numa_pte_updates") - before, hidden, total);
    if (pmn_vm_vmstat("numa_pte_updates") < before + total && hidden == 0)
        FAIL("%s: vacuous: NUMA balancing marked fewer than %zu pages in 30 s", who, total);
    return hidden;
}

#endif
