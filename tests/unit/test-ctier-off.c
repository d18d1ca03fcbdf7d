/*
 * test-ctier-off.c - a build without the compressed tier (-Dctier=false):
 * every pmn_ctier_* entry point is still there (same API, same version
 * script) and answers PMN_E_NO_CTIER, whose message says why.  Plain C, no
 * framework: exit 0 pass, 1 fail.
 */
#include <stdio.h>
#include <string.h>

#include "pmnode.h"

static int failures;

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: FAIL %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                     \
        }                                                                   \
    } while (0)

int main(void)
{
    struct pmn_ctier_opts o = {.struct_size = sizeof(o), .node = -1, .promote_node = -1};
    struct pmn_ctier *t = (struct pmn_ctier *)&o; /* must be overwritten with NULL */
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    char page[4096] = {0}, buf[256];

    CHECK(pmn_ctier_open(NULL, &o, &t) == PMN_E_NO_CTIER);
    CHECK(t == NULL);
    CHECK(pmn_ctier_open(NULL, NULL, NULL) == PMN_E_NO_CTIER);
    CHECK(pmn_ctier_demote(NULL, page, sizeof(page)) == PMN_E_NO_CTIER);
    CHECK(pmn_ctier_promote(NULL, page, sizeof(page), -1) == PMN_E_NO_CTIER);
    CHECK(pmn_ctier_estimate(page, sizeof(page), 0) == (double)PMN_E_NO_CTIER);
    CHECK(pmn_ctier_stats(NULL, &st) == PMN_E_NO_CTIER);
    memset(&st, 0, sizeof(st));
    CHECK(pmn_ctier_stats_json(&st, buf, sizeof(buf)) == PMN_E_NO_CTIER);
    CHECK(pmn_ctier_node(NULL) == -1);
    CHECK(pmn_ctier_write_control(NULL) == NULL);
    pmn_ctier_close(NULL);
    CHECK(strcmp(pmn_err_name(PMN_E_NO_CTIER), "PMN_E_NO_CTIER") == 0);
    CHECK(strstr(pmn_strerror(PMN_E_NO_CTIER), "without the compressed tier") != NULL);
    if (failures == 0)
        printf("ok: every pmn_ctier_* call answers %s\n", pmn_err_name(PMN_E_NO_CTIER));
    return failures ? 1 : 0;
}
