/*
 * measure.c - run one program and report its wall time and peak RSS.
 *
 *   measure [-o FILE] [-e NAME=VALUE]... [--] PROG [ARGS...]
 *
 * Forks, sets the -e variables in the child only (so LD_PRELOAD reaches
 * the measured program and not this one), execs PROG, and waits for it
 * with wait4().  Then writes one line to FILE (default: stderr):
 *
 *   wall_s=0.812345 user_s=0.80 sys_s=0.01 maxrss_kib=12345 exit=0 signal=0
 *
 * wall_s is CLOCK_MONOTONIC from before fork to after wait4; maxrss_kib is
 * the child's ru_maxrss (Linux: KiB).  The program's own stdout and stderr
 * pass through untouched.  Exit status: the program's (128 + signal number
 * if a signal ended it), 127 if it could not be run, 2 bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(const struct timespec *t)
{
    return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static int usage(void)
{
    fprintf(stderr, "usage: measure [-o FILE] [-e NAME=VALUE]... [--] PROG [ARGS...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    int i = 1, n_env = 0;
    char **env = calloc((size_t)argc, sizeof(char *));

    if (env == NULL)
        return 127;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "-e") == 0 && i + 1 < argc) {
            if (strchr(argv[i + 1], '=') == NULL)
                return usage();
            env[n_env++] = argv[++i];
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (argv[i][0] == '-') {
            return usage();
        } else {
            break;
        }
    }
    if (i >= argc)
        return usage();

    FILE *report = stderr;
    if (out != NULL && (report = fopen(out, "w")) == NULL) {
        fprintf(stderr, "measure: %s: %s\n", out, strerror(errno));
        return 2;
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "measure: fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        for (int k = 0; k < n_env; k++)
            if (putenv(env[k]) != 0)
                _exit(127);
        execvp(argv[i], &argv[i]);
        fprintf(stderr, "measure: %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }

    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "measure: wait4: %s\n", strerror(errno));
            return 127;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);

    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    fprintf(report, "wall_s=%.6f user_s=%.3f sys_s=%.3f maxrss_kib=%ld exit=%d signal=%d\n",
            seconds(&t1) - seconds(&t0),
            (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss, code,
            sig);
    if (report != stderr)
        fclose(report);
    free(env);
    return sig ? 128 + sig : code;
}
