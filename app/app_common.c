/* app_common: helpers shared by the subcommands (see app.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "core_version.h"

extern char **environ;

core_config_t *app_config_build(const char *path, char **sets, size_t nsets)
{
    core_config_t *cfg = NULL;
    char err[512];

    if (core_config_new(&cfg) != CORE_OK) {
        fprintf(stderr, "%s: out of memory\n", app_argv0);
        return NULL;
    }
    if (path && core_config_load_file(cfg, path, err, sizeof err) != CORE_OK)
        goto fail;
    if (core_config_apply_env(cfg, environ, err, sizeof err) != CORE_OK)
        goto fail;
    for (size_t i = 0; i < nsets; i++) {
        if (core_config_set(cfg, sets[i], err, sizeof err) != CORE_OK)
            goto fail;
    }
    return cfg;
fail:
    fprintf(stderr, "%s: config error: %s\n", app_argv0, err);
    core_config_free(cfg);
    return NULL;
}

static int is_model_dir(const char *dir)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/config.json", dir);
    return access(p, R_OK) == 0;
}

const char *app_default_model_dir(void)
{
    static char buf[PATH_MAX];
    const char *env = getenv("FINSENT_MODEL_DIR");
    char exe[PATH_MAX];
    ssize_t n;

    if (env && *env)
        return env;
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        char *slash;
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, sizeof buf, "%s/../share/finsent/models/finsent-mini", exe);
            if (is_model_dir(buf))
                return buf;
        }
    }
    snprintf(buf, sizeof buf, "%s/models/finsent-mini", FINSENT_SOURCE_DIR);
    return buf;
}
