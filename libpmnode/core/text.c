/*
 * text.c - text from outside (sysfs names, file contents, the command
 * line) made fit for a terminal line: the library's log (log.c) and the
 * CLI's messages, tables and JSON (tools/pmnode/output.c) share it, so
 * that nothing read can add a line or drive the terminal.  Pure
 * functions: thread-safe, async-signal-safe.
 */
#include <stddef.h>

#include "core/core.h"

/* Lead bytes of well-formed UTF-8 (the Unicode standard's table 3-7): the
 * length of the sequence and the range of its second byte; later bytes are
 * 0x80..0xbf.  Overlong forms, surrogates and code points above U+10FFFF
 * are not in it. */
static const struct {
    unsigned char first, last, len, lo, hi;
} utf8_leads[] = {
    {0xc2, 0xdf, 2, 0x80, 0xbf}, {0xe0, 0xe0, 3, 0xa0, 0xbf}, {0xe1, 0xec, 3, 0x80, 0xbf},
    {0xed, 0xed, 3, 0x80, 0x9f}, {0xee, 0xef, 3, 0x80, 0xbf}, {0xf0, 0xf0, 4, 0x90, 0xbf},
    {0xf1, 0xf3, 4, 0x80, 0xbf}, {0xf4, 0xf4, 4, 0x80, 0x8f},
};

size_t pmn__utf8_seq(const unsigned char *s)
{
    for (size_t k = 0; k < sizeof(utf8_leads) / sizeof(utf8_leads[0]); k++) {
        if (s[0] < utf8_leads[k].first || s[0] > utf8_leads[k].last)
            continue;
        if (s[1] < utf8_leads[k].lo || s[1] > utf8_leads[k].hi)
            return 0;
        for (size_t i = 2; i < utf8_leads[k].len; i++)
            if (s[i] < 0x80 || s[i] > 0xbf)
                return 0;
        return utf8_leads[k].len;
    }
    return 0;
}

void pmn__text_clean(char *s)
{
    unsigned char *p = (unsigned char *)s;

    while (*p != '\0') {
        size_t n = 1;
        if (*p >= 0x80 && (n = pmn__utf8_seq(p)) == 0) {
            *p = '?';
            n = 1;
        } else if (n == 2 && p[0] == 0xc2 && p[1] <= 0x9f) {
            p[0] = p[1] = '?'; /* C1: U+009B is CSI, "ESC [" in one character */
        } else if (*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
        p += n;
    }
}
