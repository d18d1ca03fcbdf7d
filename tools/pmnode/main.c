/*
 * main.c - the pmnode command-line tool: a table of commands, and the
 * options that stand before any command (--help, --version).
 *
 * A thin client of the public API (include/pmnode.h): no command reads
 * /sys itself, so what pmnode prints is exactly what a linked program would
 * see.  Each command lives in its own file (list.c, verify.c, run.c,
 * ctier.c) as a struct cmd: its option table, its help texts and its main
 * function, which returns the exit status of the contract in DESIGN.md: 0
 * success, 1 the check failed, 2 bad usage or input (one line on stderr).
 * The help printed here is built from those tables (options.c).
 */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "output.h"

static const struct cmd *const commands[] = {&cmd_list,  &cmd_verify, &cmd_run,
                                             &cmd_ctier, &cmd_numa,   &cmd_top};

enum { M_VERSION };

/* One option per entry, compact, as the help lists them. */
/* clang-format off */
static const struct opt main_table[] = {
    [M_VERSION] = {"--version", 0, &opt_flag, NULL, 0, "print the library version and exit",
                   NULL},
};
/* clang-format on */

static void usage(FILE *out)
{
    fputs("usage: pmnode COMMAND [OPTIONS]\n"
          "       pmnode --help | --version\n"
          "\n"
          "Discover private memory NUMA nodes (CXL, device-dax, GPU, compressed)\n"
          "and check that memory mapped on them stays there.\n"
          "\n"
          "commands:\n",
          out);
    opt_commands(commands, OPT_COUNT(commands), out);
    fputs("\noptions:\n", out);
    opt_list(main_table, OPT_COUNT(main_table), out);
    fputs("\n"
          "Run 'pmnode COMMAND --help' for a command's options.\n"
          "Exit status: 0 success, 1 the check failed, 2 bad usage or input.\n",
          out);
}

/* "pmnode --help list": --help and --version take nothing after them. */
static int extra_operand(const char *opt, const char *extra)
{
    for (size_t i = 0; i < OPT_COUNT(commands); i++) {
        if (strcmp(extra, commands[i]->name) == 0) {
            msg("%s takes no operand, not '%s': %s (try 'pmnode %s --help')", opt, extra,
                pmn_strerror(-EINVAL), extra);
            return EXIT_USAGE;
        }
    }
    msg("%s takes no operand, not '%s': %s (try 'pmnode --help')", opt, extra,
        pmn_strerror(-EINVAL));
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    const char *a = argc > 1 ? argv[1] : NULL;

    if (a == NULL) {
        msg("missing command: %s (try 'pmnode --help')", pmn_strerror(-EINVAL));
        return EXIT_USAGE;
    }
    if (opt_is_help(a)) {
        if (argc > 2)
            return extra_operand(a, argv[2]);
        usage(stdout);
        return finish_stdout(EXIT_OK);
    }
    if (strcmp(a, main_table[M_VERSION].name) == 0) {
        if (argc > 2)
            return extra_operand(a, argv[2]);
        printf("pmnode %s\n", pmn_version());
        return finish_stdout(EXIT_OK);
    }
    for (size_t i = 0; i < OPT_COUNT(commands); i++)
        if (strcmp(a, commands[i]->name) == 0)
            return commands[i]->main(argc - 1, argv + 1);
    msg("%s '%s': %s (try 'pmnode --help')", a[0] == '-' ? "unknown option" : "unknown command", a,
        pmn_strerror(-EINVAL));
    return EXIT_USAGE;
}
