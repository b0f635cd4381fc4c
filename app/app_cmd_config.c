/* finsent config: print the generated default config, or load a config the
 * way `finsent run` does, check it with the checks `finsent run` makes
 * before it starts (app_config_validate), and print the effective values
 * with their origins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/app_opts.h"

int app_cmd_config(int argc, char **argv)
{
    int defaults = 0, rc;
    char err[1024];
    core_config_t *cfg = NULL;
    app_args_t args;
    const app_opt_t opts[] = {
        APP_FLAG("defaults", 0, &defaults,
                 "print every key with its default and help, as a config file"),
        APP_CONFIG_ROW(&args, "load FILE, then FINSENT_<SECTION>_<KEY> environment\n"
                              "variables, then --set flags, and print the effective\n"
                              "configuration with where each value came from"),
        APP_SET_ROW("override one key (repeatable)"),
    };
    const app_cmd_spec_t spec = {
        .name = "finsent config",
        .usage = "usage: finsent config --defaults\n"
                 "       finsent config [-c FILE] [--set section.key=value ...]\n\n",
        .footer = "The configuration is checked as `finsent run` checks it before starting\n"
                  "(rules, windows, feeds, Kafka properties, http.listen, log settings, files,\n"
                  "a source): exit status 0 when `finsent run` would accept it, 1 with the\n"
                  "message `finsent run` would give (naming the file, line or key) otherwise.\n",
        .opts = opts,
        .nopts = sizeof opts / sizeof opts[0],
        .col = 20,
    };

    if ((rc = app_opts_parse(&spec, argc, argv, &args)) != APP_OPTS_RUN)
        goto out;
    if (defaults) {
        core_config_print_defaults(stdout);
        rc = APP_EXIT_OK;
        goto out;
    }
    rc = APP_EXIT_FAIL;
    if (!(cfg = app_args_config(&args)))
        goto out;
    /* The verdict of `finsent run`'s own first step: the same checks, the
     * same message. */
    if (app_config_validate(cfg, err, sizeof err) != CORE_OK) {
        fprintf(stderr, "%s: config error: %s\n", app_argv0, err);
        goto out;
    }
    core_config_dump(cfg, stdout);
    rc = APP_EXIT_OK;
out:
    core_config_free(cfg);
    app_args_cleanup(&args);
    return rc;
}
