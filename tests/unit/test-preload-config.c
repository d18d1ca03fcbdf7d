/*
 * test-preload-config.c - the shim's PMNODE_PRELOAD parser
 * (libpmnode/preload/config.c), a pure function: every accepted form, every
 * refusal with its message and where it points, and that nothing is read
 * past the given length.  The shim's end-to-end behaviour (one line, exit
 * status 2) is tested by tests/system/shim (env-* cases).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "preload/config.h"

static struct pmn__preload_config conf;
static struct pmn__preload_error err;

static int parse(const char *text)
{
    return pmn__preload_parse(text, strlen(text), &conf, &err);
}

/* Refused with @code, a message containing @words, pointing at @at. */
static void refused(const char *text, int code, const char *words, const char *at)
{
    int rc = parse(text);
    cr_assert_eq(rc, code, "\"%s\": %d, want %d (%s)", text, rc, code, err.msg);
    cr_assert(strncmp(err.msg, "PMNODE_PRELOAD: ", 16) == 0, "\"%s\": %s", text, err.msg);
    cr_assert(strstr(err.msg, words) != NULL, "\"%s\": \"%s\" lacks \"%s\"", text, err.msg, words);
    cr_assert_null(strchr(err.msg, '\n'), "\"%s\": message spans lines", text);
    if (at != NULL) {
        cr_assert_leq(err.offset + err.length, strlen(text), "\"%s\"", text);
        cr_assert(strncmp(text + err.offset, at, strlen(at)) == 0,
                  "\"%s\": points at \"%s\", want \"%s\"", text, text + err.offset, at);
        cr_assert_eq(err.length, strlen(at), "\"%s\": length %zu", text, err.length);
    }
}

Test(preload_config, targets)
{
    cr_assert_eq(parse("node=1"), 0);
    cr_assert_eq(conf.target, PMN__PRELOAD_NODE);
    cr_assert_eq(conf.node, 1);
    cr_assert_eq(conf.nspill, 0);
    cr_assert_eq(conf.threshold, 0);
    cr_assert_str_eq(conf.stats, "");
    cr_assert_eq(conf.log_level, 0);

    cr_assert_eq(parse("kind=CXL"), 0);
    cr_assert_eq(conf.target, PMN__PRELOAD_KIND);
    cr_assert_eq(conf.kind, PMN_KIND_CXL);

    cr_assert_eq(parse("private"), 0);
    cr_assert_eq(conf.target, PMN__PRELOAD_PRIVATE);

    cr_assert_eq(parse("node=65535"), 0);
    cr_assert_eq(conf.node, 65535);
}

Test(preload_config, every_option)
{
    cr_assert_eq(parse("node=2;threshold=4k;spill=3,0;stats=/tmp/s-%p.json;log=warning"), 0, "%s",
                 err.msg);
    cr_assert_eq(conf.node, 2);
    cr_assert_eq(conf.threshold, 4096);
    cr_assert_eq(conf.nspill, 2);
    cr_assert_eq(conf.spill[0], 3);
    cr_assert_eq(conf.spill[1], 0);
    cr_assert_str_eq(conf.stats, "/tmp/s-%p.json");
    cr_assert_eq(conf.log_level, 2);
}

Test(preload_config, separators)
{
    cr_assert_eq(parse(";; node=0 \tthreshold=0x1000;;"), 0, "%s", err.msg);
    cr_assert_eq(conf.node, 0);
    cr_assert_eq(conf.threshold, 4096);
    cr_assert_eq(parse("threshold=1P;log=4;node=3"), 0, "order is free: %s", err.msg);
    cr_assert_eq(conf.threshold, UINT64_C(1) << 50);
    cr_assert_eq(conf.log_level, 4);
    cr_assert_eq(parse("node=0;log="), 0, "an empty level is off, as for PMNODE_LOG");
    cr_assert_eq(conf.log_level, 0);
}

Test(preload_config, the_one_grammar)
{
    /* the library's size grammar: hex, P and E, KiB spellings */
    cr_assert_eq(parse("node=0;threshold=15E"), 0);
    cr_assert_eq(conf.threshold, UINT64_C(15) << 60);
    cr_assert_eq(parse("node=0;threshold=2MiB"), 0);
    cr_assert_eq(conf.threshold, UINT64_C(2) << 20);
    /* node ids are decimal and bounded */
    refused("node=0x1", -EINVAL, "node=0x1 is not a node id", "node=0x1");
    refused("node=65536", -ERANGE, "node=65536 is not a node id", "node=65536");
    /* one rule for duplicate spill nodes: refused */
    refused("node=0;spill=1,1", -EINVAL, "distinct node ids", "spill=1,1");
}

Test(preload_config, refused)
{
    refused("", -EINVAL, "say where the heap goes", NULL);
    cr_assert_eq(err.offset, 0);
    refused("threshold=0", -EINVAL, "say where the heap goes", NULL);
    cr_assert_eq(err.offset, strlen("threshold=0"), "points past the end");
    cr_assert_eq(err.length, 0);
    refused("garbage", -EINVAL, "unknown option \"garbage\"", "garbage");
    refused("node=0;bogus=1", -EINVAL, "unknown option \"bogus\"", "bogus=1");
    refused("node=abc", -EINVAL, "node=abc is not a node id", "node=abc");
    refused("node=-1", -EINVAL, "node=-1 is not a node id", "node=-1");
    refused("node=", -EINVAL, "node= is not a node id", "node=");
    refused("node", -EINVAL, "\"node\" needs a value (node=...)", "node");
    refused("kind=bogus", -EINVAL, "kind=bogus is not a kind", "kind=bogus");
    refused("kind=compressedcompressedcompressedcompressed", -EINVAL, "is not a kind", NULL);
    refused("node=0;threshold=-1", -EINVAL, "threshold=-1 is not a size", "threshold=-1");
    refused("node=0;threshold=12x", -EINVAL, "threshold=12x is not a size", NULL);
    refused("node=0;threshold=99999999999999999999999", -ERANGE, "is not a size", NULL);
    refused("node=0;spill=", -EINVAL, "spill= is empty", "spill=");
    refused("node=0;spill=x", -EINVAL, "spill=x is not a list", "spill=x");
    refused("node=0;spill=0,,1", -EINVAL, "spill=0,,1 is not a list", NULL);
    refused("node=0;spill=99999", -ERANGE, "spill=99999 is not a list", NULL);
    refused("node=0;stats=", -EINVAL, "stats= needs a file path", "stats=");
    refused("node=0;log=loud", -EINVAL, "log=loud is not a level", "log=loud");
    refused("private=1", -EINVAL, "private takes no value", "private=1");
}

Test(preload_config, one_target_each_option_once)
{
    refused("node=0;kind=dram", -EINVAL, "name one target", "kind=dram");
    refused("kind=dram;node=0", -EINVAL, "name one target", "node=0");
    refused("node=0;private", -EINVAL, "name one target", "private");
    refused("node=0;node=0", -EINVAL, "name one target", NULL);
    cr_assert_eq(err.offset, 7, "the second one");
    refused("node=0;threshold=1;threshold=2", -EINVAL, "threshold= is given twice", "threshold=2");
    refused("node=0;spill=1;spill=2", -EINVAL, "spill= is given twice", "spill=2");
    refused("node=0;log=info;log=info", -EINVAL, "log= is given twice", NULL);
}

Test(preload_config, target_not_in_spill)
{
    refused("node=2;spill=1,2", -EINVAL, "spill lists node 2, the target", "spill=1,2");
    refused("spill=3;node=3", -EINVAL, "spill lists node 3, the target", "node=3");
    cr_assert_eq(parse("kind=dram;spill=0"), 0, "a kind's node is known only at start");
}

Test(preload_config, limits)
{
    char text[1024];
    size_t n = (size_t)snprintf(text, sizeof(text), "node=0;spill=");

    /* 63 spill nodes fit (with the target, one pmn_alloc_stats); 64 do not */
    for (int i = 1; i <= PMN__MAX_SPILL; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%d", i > 1 ? "," : "", i);
    cr_assert_eq(parse(text), 0, "%s", err.msg);
    cr_assert_eq(conf.nspill, PMN__MAX_SPILL);
    snprintf(text + n, sizeof(text) - n, ",%d", PMN__MAX_SPILL + 1);
    refused(text, -ERANGE, "at most 63", NULL);

    memset(text, 'a', sizeof(text));
    memcpy(text, "node=0;stats=/", 14);
    text[14 + 510] = '\0'; /* a 511-byte path fits */
    cr_assert_eq(parse(text), 0, "%s", err.msg);
    cr_assert_eq(strlen(conf.stats), 511);
    text[14 + 510] = 'a';
    text[14 + 511] = '\0';
    refused(text, -ERANGE, "longer than 511 bytes", NULL);
}

Test(preload_config, messages_stay_one_line)
{
    refused("node=0;log=in\nfo", -EINVAL, "log=in?fo is not a level", NULL);
    refused("node=\x01", -EINVAL, "node=? is not a node id", NULL);
    static char big[4096];
    memset(big, '9', sizeof(big) - 1);
    memcpy(big, "node=", 5);
    refused(big, -ERANGE, "is not a node id", NULL);
    cr_assert_lt(strlen(err.msg), sizeof(err.msg));
}

Test(preload_config, length_decides)
{
    /* bytes past the length are not read: the second target is not there */
    const char text[] = "node=1;kind=dram";
    cr_assert_eq(pmn__preload_parse(text, 6, &conf, &err), 0, "%s", err.msg);
    cr_assert_eq(conf.node, 1);
    cr_assert_eq(pmn__preload_parse("node=12", 6, &conf, &err), 0);
    cr_assert_eq(conf.node, 1);
    /* an embedded NUL is text, not an end */
    cr_assert_eq(pmn__preload_parse("node=1\0;x", 9, &conf, &err), -EINVAL);
    cr_assert_eq(pmn__preload_parse("node=0;stats=/a\0b", 17, &conf, &err), -EINVAL);
    cr_assert_eq(pmn__preload_parse("kind=dram\0", 10, &conf, &err), -EINVAL);
    cr_assert_eq(pmn__preload_parse(NULL, 0, &conf, &err), -EINVAL);
    cr_assert_eq(pmn__preload_parse("node=0", 6, NULL, &err), -EINVAL);
    cr_assert_eq(pmn__preload_parse("node=0", 6, &conf, NULL), -EINVAL);
}

/* populate and large_cache= (issue 17): the large-block options. */
Test(preload_config, large_blocks)
{
    cr_assert_eq(parse("node=0"), 0, "%s", err.msg);
    cr_assert(!conf.populate);
    cr_assert(!conf.large_cache_set);
    cr_assert_eq(parse("node=0;populate;large_cache=16M"), 0, "%s", err.msg);
    cr_assert(conf.populate);
    cr_assert(conf.large_cache_set);
    cr_assert_eq(conf.large_cache, (size_t)16 << 20);
    cr_assert_eq(parse("large_cache=0 node=1"), 0, "%s", err.msg);
    cr_assert(conf.large_cache_set);
    cr_assert_eq(conf.large_cache, 0);
    refused("node=0;populate=1", -EINVAL, "populate takes no value", "populate=1");
    refused("node=0;large_cache=lots", -EINVAL, "large_cache=lots is not a size",
            "large_cache=lots");
    refused("node=0;large_cache", -EINVAL, "needs a value", "large_cache");
    /* small_cache= (0.9): the small-page cache, 0 unless given. */
    cr_assert_eq(parse("node=0"), 0, "%s", err.msg);
    cr_assert_eq(conf.small_cache, 0);
    cr_assert_eq(parse("node=0;small_cache=8M"), 0, "%s", err.msg);
    cr_assert_eq(conf.small_cache, (size_t)8 << 20);
    refused("node=0;small_cache=some", -EINVAL, "small_cache=some is not a size",
            "small_cache=some");
    refused("node=0;small_cache=1M;small_cache=2M", -EINVAL, "given twice", "small_cache=2M");
    refused("node=0;populate;populate", -EINVAL, "given twice", NULL);
}

/* publish (issue 18): the arena's counters for pmnode top (pmn_publish(3)). */
Test(preload_config, publish)
{
    cr_assert_eq(parse("node=0"), 0, "%s", err.msg);
    cr_assert(!conf.publish, "never on by default");
    cr_assert_eq(parse("node=0;publish"), 0, "%s", err.msg);
    cr_assert(conf.publish);
    cr_assert_eq(parse("publish kind=dram"), 0, "%s", err.msg);
    cr_assert(conf.publish);
    refused("node=0;publish=1", -EINVAL, "publish takes no value", "publish=1");
    refused("node=0;publish;publish", -EINVAL, "given twice", NULL);
}
