/* finsent config: print the generated default config, or load a config the
 * way `finsent run` does, check it with the checks `finsent run` makes
 * before it starts (app_config_validate), and print the effective values
 * with their origins. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: finsent config --defaults\n"
            "       finsent config [-c FILE] [--set section.key=value ...]\n\n"
            "  --defaults        print every key with its default and help, as a config file\n"
            "  -c, --config FILE load FILE, then FINSENT_<SECTION>_<KEY> environment\n"
            "                    variables, then --set flags, and print the effective\n"
            "                    configuration with where each value came from\n"
            "  --set S.K=V       override one key (repeatable)\n"
            "The configuration is checked as `finsent run` checks it before starting\n"
            "(rules, windows, feeds, Kafka properties, http.listen, log settings, files,\n"
            "a source): exit status 0 when `finsent run` would accept it, 1 with the\n"
            "message `finsent run` would give (naming the file, line or key) otherwise.\n");
}

int app_cmd_config(int argc, char **argv)
{
    static const struct option opts[] = {{"defaults", no_argument, NULL, 'd'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"set", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL;
    char **sets = calloc((size_t)argc, sizeof(char *));
    size_t nsets = 0;
    char err[1024];
    int defaults = 0, c, rc = APP_EXIT_USAGE;
    core_config_t *cfg;

    if (!sets)
        return APP_EXIT_FAIL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            defaults = 1;
            break;
        case 'c':
            path = optarg;
            break;
        case 's':
            sets[nsets++] = optarg;
            break;
        case 'h':
            help(stdout);
            rc = APP_EXIT_OK;
            goto out;
        default:
            help(stderr);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "finsent config: unexpected argument '%s'\n", argv[optind]);
        goto out;
    }
    if (defaults) {
        core_config_print_defaults(stdout);
        rc = APP_EXIT_OK;
        goto out;
    }
    cfg = app_config_build(path, sets, nsets);
    if (!cfg) {
        rc = APP_EXIT_FAIL;
        goto out;
    }
    /* The verdict of `finsent run`'s own first step: the same checks, the
     * same message. */
    if (app_config_validate(cfg, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "%s: config error: %s\n", app_argv0, err);
        core_config_free(cfg);
        rc = APP_EXIT_FAIL;
        goto out;
    }
    core_config_dump(cfg, stdout);
    core_config_free(cfg);
    rc = APP_EXIT_OK;
out:
    free(sets);
    return rc;
}
