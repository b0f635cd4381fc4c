/* app_common: helpers shared by the subcommands (see app.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "core_version.h"

extern char **environ;

const char *app_argv0 = "finsent";

core_config_t *app_config_build(const char *path, char **sets, size_t nsets)
{
    core_config_t *cfg = NULL, *ret = NULL;
    char err[512];

    if (core_config_new(&cfg) != CORE_OK) {
        fprintf(stderr, "%s: out of memory\n", app_argv0);
        return NULL;
    }
    if (path && core_config_load_file(cfg, path, err, sizeof err) != CORE_OK)
        goto out;
    if (core_config_apply_env(cfg, environ, err, sizeof err) != CORE_OK)
        goto out;
    for (size_t i = 0; i < nsets; i++) {
        if (core_config_set(cfg, sets[i], err, sizeof err) != CORE_OK)
            goto out;
    }
    ret = cfg;
    cfg = NULL;
out:
    if (!ret)
        fprintf(stderr, "%s: config error: %s\n", app_argv0, err);
    core_config_free(cfg);
    return ret;
}

const char *app_root_warning(uid_t euid)
{
    if (euid != 0)
        return NULL;
    return "running as root: finsent needs no privilege; run it as an unprivileged user "
           "(deploy/finsent.service and the Docker image do)";
}

const char *app_find_data_dir(const char *env_var, const char *rel, const char *marker,
                              char *buf, size_t cap)
{
    const char *env = getenv(env_var);
    char exe[PATH_MAX], probe[PATH_MAX + 64];
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
            snprintf(buf, cap, "%s/../share/finsent/%s", exe, rel);
            snprintf(probe, sizeof probe, "%s/%s", buf, marker);
            if (access(probe, R_OK) == 0)
                return buf;
        }
    }
    snprintf(buf, cap, "%s/%s", FINSENT_SOURCE_DIR, rel);
    return buf;
}

const char *app_default_model_dir(void)
{
    static char buf[PATH_MAX];
    return app_find_data_dir("FINSENT_MODEL_DIR", "models/finsent-mini", "config.json", buf,
                             sizeof buf);
}

void app_classifier_opts(const core_config_t *cfg, cls_classifier_opts_t *o)
{
    const char *model = core_config_str(cfg, CORE_CFG_CLASSIFY_MODEL);
    memset(o, 0, sizeof *o);
    o->model_dir = model[0] ? model : app_default_model_dir();
    o->topic_model_dir = core_config_str(cfg, CORE_CFG_CLASSIFY_TOPIC_MODEL);
    o->sentiment_model_dir = core_config_str(cfg, CORE_CFG_CLASSIFY_SENTIMENT_MODEL);
    o->max_batch = (size_t)core_config_int(cfg, CORE_CFG_CLASSIFY_BATCH);
    o->max_seq = (size_t)core_config_int(cfg, CORE_CFG_CLASSIFY_MAX_SEQ);
    o->threads = (size_t)core_config_int(cfg, CORE_CFG_CLASSIFY_THREADS);
    if (cls_precision_parse(core_config_str(cfg, CORE_CFG_CLASSIFY_PRECISION), &o->precision) != 0)
        o->precision = CLS_PREC__INVALID; /* cls_classifier_new says what is wrong */
}

void app_classifier_opts_flags(const core_config_t *cfg, const app_cls_flags_t *f,
                               cls_classifier_opts_t *o)
{
    app_classifier_opts(cfg, o);
    if (f->model)
        o->model_dir = f->model;
    if (f->topic_model)
        o->topic_model_dir = f->topic_model;
    if (f->sentiment_model)
        o->sentiment_model_dir = f->sentiment_model;
    if (f->batch)
        o->max_batch = f->batch;
    if (f->threads)
        o->threads = f->threads;
}
