/*
 * publish-fds.c - a daemon under the shim with "publish" (issue 15's rule:
 * the shim holds no descriptor of its own, with publish too).
 *
 * The program checks that no descriptor of it names the publish directory
 * ($XDG_RUNTIME_DIR/pmnode), then forks a daemon that closes every
 * descriptor it did not open, opens a spool directory (which gets the
 * lowest free number), leaves a record named after its pid there, opens a
 * log and forks a worker that writes to it, and exits normally.  The shim
 * held the publish directory open: the daemon's exit unlinked "<pid>" in
 * whatever that number named by then (the record), and a worker's fork
 * closed the number (the log).  Prints one line and exits 0 when all is
 * well; 1 with the reason otherwise.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void fail(const char *what)
{
    printf("FAIL: %s\n", what);
    exit(1);
}

/* Whether a descriptor of this process names @dir. */
static int holds(const char *dir)
{
    char path[300], target[PATH_MAX];
    struct dirent *e;
    DIR *d = opendir("/proc/self/fd");
    int found = 0;

    if (d == NULL)
        fail("cannot list /proc/self/fd");
    while ((e = readdir(d)) != NULL) {
        ssize_t n;

        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        n = readlink(path, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = '\0';
            found |= strcmp(target, dir) == 0;
        }
    }
    closedir(d);
    return found;
}

static int daemon_main(void)
{
    char name[32];
    int dir, rec, log, st;
    pid_t w;

    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    if (mkdir("spool", 0700) != 0 || (dir = open("spool", O_RDONLY | O_DIRECTORY)) < 0)
        return 10;
    snprintf(name, sizeof(name), "%d", (int)getpid());
    if ((rec = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 ||
        write(rec, "record\n", 7) != 7)
        return 11;
    close(rec);
    if ((log = open("daemon.log", O_WRONLY | O_CREAT | O_APPEND, 0600)) < 0)
        return 12;
    w = fork();
    if (w < 0)
        return 13;
    if (w == 0)
        exit(write(log, "worker\n", 7) == 7 ? 0 : 1); /* normal exit: destructors run */
    if (waitpid(w, &st, 0) != w || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 14; /* the worker's log descriptor was gone */
    return 0;
}

int main(void)
{
    const char *x = getenv("XDG_RUNTIME_DIR");
    char pub[PATH_MAX], rec[64];
    int st;
    pid_t d;

    if (x == NULL || x[0] != '/')
        fail("XDG_RUNTIME_DIR must be an absolute path");
    snprintf(pub, sizeof(pub), "%s/pmnode", x);
    free(malloc(100)); /* the shim is up */
    if (holds(pub))
        fail("a descriptor of the program names the publish directory");
    fflush(stdout);
    d = fork();
    if (d < 0)
        fail("fork");
    if (d == 0)
        exit(daemon_main());
    if (waitpid(d, &st, 0) != d || !WIFEXITED(st))
        fail("the daemon did not exit");
    if (WEXITSTATUS(st) == 14)
        fail("the worker could not write to the log the daemon opened");
    if (WEXITSTATUS(st) != 0)
        fail("the daemon failed");
    snprintf(rec, sizeof(rec), "spool/%d", (int)d);
    if (access(rec, F_OK) != 0)
        fail("the daemon's record is gone from its spool directory");
    printf("the daemon's descriptors and files are its own\n");
    return 0;
}
