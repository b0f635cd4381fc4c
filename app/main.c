/*
 * finsent: entry point. Parses the subcommand and hands the rest of argv to
 * it. Global options are none: every command takes its own (-c, --set, ...)
 * so `finsent CMD --help` documents everything that command reads.
 */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "classify/cls_blas.h"



typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
#define APP_COMMAND_ROW(name, fn, summary) {name, fn, summary},
    APP_COMMANDS(APP_COMMAND_ROW)
#undef APP_COMMAND_ROW
};

static void usage(FILE *out)
{
    fprintf(out,
            "finsent: streaming financial sentiment monitor\n\n"
            "usage: finsent COMMAND [options]   (finsent COMMAND --help for details)\n\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    /* Re-exec with the right OPENBLAS_CORETYPE if OpenBLAS picked a slow core
     * (classify/cls_blas.h); must run before any thread starts. */
    cls_blas_prepare(argv);
    if (argc < 2) {
        usage(stderr);
        return APP_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return APP_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0)
        return app_cmd_version(1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "finsent: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return APP_EXIT_USAGE;
}
