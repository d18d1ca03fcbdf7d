/*
 * publish-secure.c - pmn_publish(3) in a real set-user-ID program (issue 18:
 * "never on by default in a setuid context").  publish-secure.sh runs this
 * binary set-user-ID to nobody, so the kernel sets AT_SECURE; the unit test
 * test-publish can only force the flag through an internal hook.
 *
 * Checks: pmn_publish_start(0) refuses with -EPERM and leaves no file;
 * with PMN_PUBLISH_SECURE_OK it publishes, but under /dev/shm/pmnode-EUID,
 * never in the $XDG_RUNTIME_DIR the (untrusted) caller set.  Prints one
 * "ok"/"FAIL" line per check; exit 0 pass, 1 fail, 3 not in secure mode.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <pmnode.h>

int main(void)
{
    char path[512], want[64];
    int err, n;

    if (getauxval(AT_SECURE) == 0) {
        printf("FAIL not in secure-execution mode (AT_SECURE is 0)\n");
        return 3;
    }
    err = pmn_publish_start(0);
    if (err != -EPERM) {
        printf("FAIL pmn_publish_start(0) in secure mode: %d (%s), want -EPERM\n", err,
               pmn_strerror(err));
        if (err == 0)
            (void)pmn_publish_stop();
        return 1;
    }
    printf("ok   pmn_publish_start(0) refused: %s\n", pmn_strerror(err));
    n = pmn_publish_path(path, sizeof(path));
    if (n != -ENOENT) {
        printf("FAIL pmn_publish_path after the refusal: %d, want -ENOENT\n", n);
        return 1;
    }
    err = pmn_publish_start(PMN_PUBLISH_SECURE_OK);
    if (err != 0) {
        printf("FAIL pmn_publish_start(PMN_PUBLISH_SECURE_OK): %s\n", pmn_strerror(err));
        return 1;
    }
    n = pmn_publish_path(path, sizeof(path));
    snprintf(want, sizeof(want), "/dev/shm/pmnode-%lu/", (unsigned long)geteuid());
    if (n <= 0 || (size_t)n >= sizeof(path) || strncmp(path, want, strlen(want)) != 0) {
        printf("FAIL published at '%s' (%d), want under %s\n", n > 0 ? path : "", n, want);
        (void)pmn_publish_stop();
        return 1;
    }
    printf("ok   with PMN_PUBLISH_SECURE_OK: %s\n", path);
    err = pmn_publish_stop();
    if (err != 0 || access(path, F_OK) == 0) {
        printf("FAIL pmn_publish_stop: %s, file %s\n", pmn_strerror(err),
               access(path, F_OK) == 0 ? "still there" : "gone");
        return 1;
    }
    printf("ok   the file is gone after pmn_publish_stop\n");
    return 0;
}
