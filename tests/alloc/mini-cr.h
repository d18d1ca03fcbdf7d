/*
 * mini-cr.h - the few Criterion macros the allocator tests use, for the
 * ThreadSanitizer build, where Criterion cannot start (its worker arena
 * does not map under TSan).  Built with -DPMN_NO_CRITERION.
 *
 * Each Test() runs in a forked child, one after the other; exit 0 pass,
 * 77 skip, anything else fail.  The program exits 1 when a test failed,
 * 77 when every test skipped, 0 otherwise.
 */
#ifndef PMN_TEST_MINI_CR_H
#define PMN_TEST_MINI_CR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

struct mini_test {
    const char *suite, *name;
    void (*fn)(void);
};

static struct mini_test mini_tests[64];
static int mini_ntests;

static inline void mini_register(const char *suite, const char *name, void (*fn)(void))
{
    if (mini_ntests < 64)
        mini_tests[mini_ntests++] = (struct mini_test){suite, name, fn};
}

#define Test(suite, name, ...)                                                 \
    static void suite##_##name(void);                                          \
    __attribute__((constructor)) static void mini_reg_##suite##_##name(void)   \
    {                                                                          \
        mini_register(#suite, #name, suite##_##name);                          \
    }                                                                          \
    static void suite##_##name(void)

static inline void
mini_check(bool ok, const char *where, const char *expr, const char *fmt, ...)
{
    va_list ap;

    if (ok)
        return;
    fprintf(stderr, "%s: assertion failed: %s\n  ", where, expr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    _exit(1);
}

#define MINI_STR2(x) #x
#define MINI_STR(x) MINI_STR2(x)
#define MINI_WHERE __FILE__ ":" MINI_STR(__LINE__)
#define MINI_CHECK(ok, expr, ...) mini_check((ok), MINI_WHERE, expr, "" __VA_ARGS__)

#define cr_assert(c, ...) MINI_CHECK(!!(c), #c, __VA_ARGS__)
#define cr_assert_not(c, ...) MINI_CHECK(!(c), "!(" #c ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) MINI_CHECK((a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) MINI_CHECK((a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) MINI_CHECK((a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) MINI_CHECK((a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) MINI_CHECK((a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) MINI_CHECK((a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...) MINI_CHECK((p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) MINI_CHECK((p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_fail(...) MINI_CHECK(false, "fail", __VA_ARGS__)
#define cr_skip_test(...)                                                      \
    do {                                                                       \
        fprintf(stderr, "skip: " __VA_ARGS__);                                 \
        fputc('\n', stderr);                                                   \
        _exit(77);                                                             \
    } while (0)
#define cr_log_info(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))
#define cr_log_warn(...) (fprintf(stderr, "warning: " __VA_ARGS__), fputc('\n', stderr))

int main(void)
{
    int failed = 0, skipped = 0;

    for (int i = 0; i < mini_ntests; i++) {
        int status = 0;
        pid_t pid;

        fflush(NULL);
        pid = fork();
        if (pid == 0) {
            mini_tests[i].fn();
            _exit(0);
        }
        if (pid < 0 || waitpid(pid, &status, 0) != pid)
            status = -1;
        const char *res = WIFEXITED(status) && WEXITSTATUS(status) == 0    ? "PASS"
                          : WIFEXITED(status) && WEXITSTATUS(status) == 77 ? "SKIP"
                                                                           : "FAIL";
        failed += res[0] == 'F';
        skipped += res[0] == 'S';
        printf("[%s] %s::%s\n", res, mini_tests[i].suite, mini_tests[i].name);
    }
    printf("%d passed, %d failed, %d skipped\n", mini_ntests - failed - skipped, failed,
           skipped);
    return failed ? 1 : skipped == mini_ntests ? 77 : 0;
}

#endif /* PMN_TEST_MINI_CR_H */
