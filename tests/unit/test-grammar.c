/*
 * test-grammar.c - pmnode run and the shim read the same strings the same
 * way.
 *
 * pmnode run parses its options (tools/pmnode/run.c, options.c) and hands
 * them to the shim as PMNODE_PRELOAD, which preload/config.c parses again.
 * Both go through core/parse.c; this test holds them to it: over one table
 * of strings per value (sizes, spill lists, log levels, node ids, kinds),
 * the CLI's run_parse() and the shim's pmn__preload_parse() must accept and
 * refuse the same ones, and for an accepted one the PMNODE_PRELOAD string
 * run_conf() writes must give the shim the very value it gets from the
 * string written directly.  No value holds ';', a space or a tab: those
 * separate options in PMNODE_PRELOAD, so pmnode run refuses a stats path
 * with them and no other value can contain one.  The CLI's messages go to
 * stderr, redirected.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "preload/config.h"

enum what { THRESHOLD, SPILL, LOG, NODE, KIND };

/* The CLI on "pmnode run OPTIONS -- true"; -1 when it accepts. */
static int cli(enum what w, const char *value, struct run_opts *o)
{
    static const char *const opt[] = {"--threshold", "--spill", "--log", "--node", "--kind"};
    char *argv[8];
    int argc = 0;

    argv[argc++] = "run";
    if (w != NODE && w != KIND) {
        argv[argc++] = "--node";
        argv[argc++] = "5";
    }
    argv[argc++] = (char *)opt[w];
    argv[argc++] = (char *)value;
    argv[argc++] = "--";
    argv[argc++] = "true";
    argv[argc] = NULL;
    return run_parse(argc, argv, o);
}

/* The shim on the same value, written as PMNODE_PRELOAD would carry it. */
static int shim(enum what w, const char *value, struct pmn__preload_config *c)
{
    static const char *const fmt[] = {"node=5;threshold=%s", "node=5;spill=%s", "node=5;log=%s",
                                      "node=%s", "kind=%s"};
    struct pmn__preload_error e;
    char text[1024];
    int n = snprintf(text, sizeof(text), fmt[w], value);

    cr_assert(n > 0 && (size_t)n < sizeof(text));
    return pmn__preload_parse(text, (size_t)n, c, &e);
}

static void same_config(const struct pmn__preload_config *a, const struct pmn__preload_config *b,
                        const char *value)
{
    cr_assert_eq(a->target, b->target, "\"%s\"", value);
    cr_assert_eq(a->node, b->node, "\"%s\"", value);
    cr_assert(a->target != PMN__PRELOAD_KIND || a->kind == b->kind, "\"%s\"", value);
    cr_assert_eq(a->threshold, b->threshold, "\"%s\"", value);
    cr_assert_eq(a->log_level, b->log_level, "\"%s\"", value);
    cr_assert_eq(a->nspill, b->nspill, "\"%s\"", value);
    cr_assert_arr_eq(a->spill, b->spill, a->nspill * sizeof(a->spill[0]), "\"%s\"", value);
}

static void agree(enum what w, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct run_opts o;
        struct pmn__preload_config direct, handed;
        struct pmn__preload_error e;
        char conf[4096];
        int rc_cli = cli(w, values[i], &o);
        int rc_shim = shim(w, values[i], &direct);

        cr_assert(rc_cli == -1 || rc_cli == EXIT_USAGE, "\"%s\": run_parse gave %d", values[i],
                  rc_cli);
        cr_assert_eq(rc_cli == -1, rc_shim == 0, "\"%s\": the CLI %s it, the shim %s it",
                     values[i], rc_cli == -1 ? "accepts" : "refuses",
                     rc_shim == 0 ? "accepts" : "refuses");
        if (rc_cli != -1)
            continue;
        int len = run_conf(&o, NULL, conf, sizeof(conf));
        cr_assert_gt(len, 0, "\"%s\"", values[i]);
        cr_assert_eq(pmn__preload_parse(conf, (size_t)len, &handed, &e), 0, "\"%s\" -> \"%s\": %s",
                     values[i], conf, e.msg);
        same_config(&handed, &direct, values[i]);
    }
}

#define AGREE(w, ...)                                 \
    do {                                              \
        static const char *const v[] = {__VA_ARGS__}; \
        agree(w, v, sizeof(v) / sizeof(v[0]));        \
    } while (0)

TestSuite(grammar, .init = cr_redirect_stderr);

Test(grammar, sizes)
{
    AGREE(THRESHOLD, "0", "4096", "4k", "4K", "64KiB", "2M", "1G", "3T", "1P", "15E", "16E",
          "0x1000", "0X1e", "010", "18446744073709551615", "18446744073709551616", "-1", "+1",
          "abc", "1.5G", "1MB", "1Mib", "0x10k", "0x", "", "12x", "k", "1\n", "1\n\n");
}

Test(grammar, spill_lists)
{
    AGREE(SPILL, "1", "1,2", "2,1,3", "0", "65535", "1,1", "2,0,2", "01,1", "5", "1,5", "0x1", "",
          ",", "1,", ",1", "1,,2", "1-3", "65536", "-1", "a",
          "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,"
          "31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,"
          "59,60,61,62,63",
          "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,"
          "31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,"
          "59,60,61,62,63,64");
}

Test(grammar, log_levels)
{
    AGREE(LOG, "off", "none", "error", "err", "warn", "warning", "WARNING", "Warn", "info",
          "debug", "DEBUG", "0", "1", "2", "3", "4", "", "5", "-1", "loud", "trace", "warnings",
          "info\n");
}

Test(grammar, node_ids)
{
    AGREE(NODE, "0", "5", "007", "255", "65535", "65536", "99999999999", "-1", "+1", "0x1", "x",
          "", "1k", "1,2", "1\n");
}

Test(grammar, kinds)
{
    AGREE(KIND, "dram", "DRAM", "hbm", "nvm", "spm", "cxl", "Cxl", "gpu", "compressed", "unknown",
          "bogus", "", "dram\n", "compressedcompressedcompressedcompressed");
}

/* Options the shim reads and the CLI writes besides the values above. */
Test(grammar, whole_conf)
{
    char *argv[] = {
        "run", "--kind=CXL", "--threshold=64k", "--spill", "3,1", "--log", "warning", "--", "prog",
        "arg", NULL};
    struct run_opts o;
    struct pmn__preload_config c;
    struct pmn__preload_error e;
    char conf[256];

    cr_assert_eq(run_parse(10, argv, &o), -1);
    cr_assert_str_eq(o.prog[0], "prog");
    int len = run_conf(&o, "/tmp/s-%p.json", conf, sizeof(conf));
    cr_assert_str_eq(conf, "kind=cxl;threshold=65536;spill=3,1;stats=/tmp/s-%p.json;log=warn");
    cr_assert_eq(pmn__preload_parse(conf, (size_t)len, &c, &e), 0, "%s", e.msg);
    cr_assert_eq(c.target, PMN__PRELOAD_KIND);
    cr_assert_eq(c.kind, PMN_KIND_CXL);
    cr_assert_str_eq(c.stats, "/tmp/s-%p.json");
    cr_assert_eq(run_conf(&o, "/tmp/s-%p.json", conf, 20), -1, "too small a buffer");
}
