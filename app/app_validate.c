/*
 * app_validate: the one validation of a configuration for the daemon, shared
 * by `finsent run` (its first step, before any thread, socket or model) and
 * `finsent config -c` (its verdict), so that both accept and refuse the same
 * configurations with the same message.
 *
 * Design. Checks that the daemon makes while building its parts are made
 * here by the same code where that code has no side effect: the Redis sink
 * and the RSS poller are built and freed again (neither connects nor starts
 * a thread before its start call), http.listen goes through app_http_new
 * (which parses and does not bind). The Kafka client cannot be built
 * without connecting (a consumer with a group.id looks for its coordinator
 * at once), so its settings go through ing_kafka_check_config, which
 * builds the same librdkafka configurations without a client. The model is
 * only checked for being a directory: loading it is the daemon's first real
 * work, and its own errors name the file.
 *
 * What no configuration check can know is left to the daemon: whether Redis,
 * Kafka and the feeds answer, whether the HTTP port is free, whether the
 * model's files are sound.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alerting/alr_sink.h"
#include "app/app.h"
#include "app/app_http.h"
#include "core/core_log.h"
#include "core/core_tls.h"
#include "core/core_watchlist.h"
#include "ingest/ing_kafka.h"
#include "ingest/ing_rss.h"

static core_err_t check_logging(const core_config_t *cfg, char *err, size_t errlen)
{
    core_log_level_t level;
    core_log_format_t format;

    if (core_log_parse_level(core_config_str(cfg, CORE_CFG_LOG_LEVEL), &level) != CORE_OK) {
        snprintf(err, errlen, "[log] level (%s): '%s' is not debug, info, warn or error",
                 core_config_origin(cfg, CORE_CFG_LOG_LEVEL),
                 core_config_str(cfg, CORE_CFG_LOG_LEVEL));
        return CORE_ECONFIG;
    }
    if (core_log_parse_format(core_config_str(cfg, CORE_CFG_LOG_FORMAT), &format) != CORE_OK) {
        snprintf(err, errlen, "[log] format (%s): '%s' is not text or json",
                 core_config_origin(cfg, CORE_CFG_LOG_FORMAT),
                 core_config_str(cfg, CORE_CFG_LOG_FORMAT));
        return CORE_ECONFIG;
    }
    return CORE_OK;
}

/* check_model_dir: dir (the value of [classify] key, or the shipped model
 * when that is empty) must be a directory. */
static core_err_t check_model_dir(const core_config_t *cfg, core_config_str_key_t k,
                                  const char *dir, char *err, size_t errlen)
{
    const char *key = core_config_key_name(k);
    struct stat st;

    if (!dir || !dir[0])
        return CORE_OK;
    if (stat(dir, &st) != 0) {
        snprintf(err, errlen, "[classify] %s (%s): model directory %s: %s", key,
                 core_config_origin(cfg, k), dir, strerror(errno));
        return CORE_ECONFIG;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "[classify] %s (%s): model directory %s: not a directory", key,
                 core_config_origin(cfg, k), dir);
        return CORE_ECONFIG;
    }
    return CORE_OK;
}

static core_err_t check_classify(const core_config_t *cfg, char *err, size_t errlen)
{
    cls_classifier_opts_t o;
    core_err_t rc;

    app_classifier_opts(cfg, &o);
    if (o.precision == CLS_PREC__INVALID) {
        snprintf(err, errlen, "[classify] precision (%s): '%s' is not auto, fp32, bf16 or int8",
                 core_config_origin(cfg, CORE_CFG_CLASSIFY_PRECISION),
                 core_config_str(cfg, CORE_CFG_CLASSIFY_PRECISION));
        return CORE_EINVAL;
    }
    rc = check_model_dir(cfg, CORE_CFG_CLASSIFY_MODEL, o.model_dir, err, errlen);
    if (rc == CORE_OK)
        rc = check_model_dir(cfg, CORE_CFG_CLASSIFY_TOPIC_MODEL, o.topic_model_dir, err, errlen);
    if (rc == CORE_OK)
        rc = check_model_dir(cfg, CORE_CFG_CLASSIFY_SENTIMENT_MODEL, o.sentiment_model_dir, err,
                             errlen);
    return rc;
}

static core_err_t check_watchlist(const core_config_t *cfg, char *err, size_t errlen)
{
    const char *path = core_config_str(cfg, CORE_CFG_ENTITIES_WATCHLIST);
    core_watchlist_t *wl = NULL;
    core_err_t rc;

    if (!path[0])
        return CORE_OK;
    rc = core_watchlist_load(path, &wl, err, errlen);
    core_watchlist_free(wl);
    return rc;
}

/* check_sink: [redis] windows, retention and prefix, and every [rule.*]
 * (alr_rules_load, then the baselines against redis.hourly_retention), as
 * the sink checks them. */
static core_err_t check_sink(const core_config_t *cfg, char *err, size_t errlen)
{
    alr_sink_t *sink = NULL;
    core_err_t rc = alr_sink_new(cfg, NULL, &sink, err, errlen);
    alr_sink_free(sink);
    return rc;
}

/* check_redis_tls: redis.tls* as core_tls loads them (CA, certificate and
 * key files, no tls_* path without tls = true), and no TLS over a unix
 * socket. Nothing is connected. */
static core_err_t check_redis_tls(const core_config_t *cfg, char *err, size_t errlen)
{
    core_tls_opts_t o;
    char why[700];

    core_tls_opts_from_config(cfg, &o);
    if (o.enabled && core_config_str(cfg, CORE_CFG_REDIS_SOCKET)[0]) {
        snprintf(err, errlen,
                 "[redis] tls (%s): TLS cannot be used with redis.socket (%s), a unix socket: "
                 "unset one of them",
                 core_config_origin(cfg, CORE_CFG_REDIS_TLS),
                 core_config_str(cfg, CORE_CFG_REDIS_SOCKET));
        return CORE_ECONFIG;
    }
    if (core_tls_check(&o, why, sizeof why) != CORE_OK) {
        snprintf(err, errlen, "[redis] %s", why);
        return CORE_ECONFIG;
    }
    return CORE_OK;
}

/* check_feeds: every [feed.*] url, the seen store and its state file, as
 * the poller checks them. The poller is not started, so nothing is fetched
 * or written. */
static core_err_t check_feeds(const core_config_t *cfg, char *err, size_t errlen)
{
    ing_rss_t *rss = NULL;
    core_err_t rc;

    if (core_config_instance_count(cfg, "feed") == 0)
        return CORE_OK;
    rc = ing_rss_new(cfg, NULL, NULL, &rss, err, errlen);
    ing_rss_free(rss);
    return rc;
}

/* check_jsonl: input.jsonl is "-" (stdin) or a file the daemon can open for
 * reading (a FIFO is fine: opened without blocking, then closed). */
static core_err_t check_jsonl(const core_config_t *cfg, char *err, size_t errlen)
{
    const char *path = core_config_str(cfg, CORE_CFG_INPUT_JSONL);
    struct stat st;
    int fd;

    if (!path[0] || strcmp(path, "-") == 0)
        return CORE_OK;
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "[input] jsonl (%s): %s: cannot open: %s",
                 core_config_origin(cfg, CORE_CFG_INPUT_JSONL), path, strerror(errno));
        return CORE_ECONFIG;
    }
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "[input] jsonl (%s): %s: is a directory",
                 core_config_origin(cfg, CORE_CFG_INPUT_JSONL), path);
        close(fd);
        return CORE_ECONFIG;
    }
    close(fd);
    return CORE_OK;
}

/* The sources after Kafka, in the daemon's order: kafka.output_topic needs
 * Kafka, the feeds, input.jsonl, and at least one source. */
static core_err_t check_sources_and_jsonl(const core_config_t *cfg, char *err, size_t errlen)
{
    int kafka = core_config_str(cfg, CORE_CFG_KAFKA_BROKERS)[0] != '\0';
    core_err_t rc;

    if (core_config_str(cfg, CORE_CFG_KAFKA_OUTPUT_TOPIC)[0] && !kafka) {
        snprintf(err, errlen, "[kafka] output_topic (%s): set, but kafka.brokers is empty",
                 core_config_origin(cfg, CORE_CFG_KAFKA_OUTPUT_TOPIC));
        return CORE_ECONFIG;
    }
    if ((rc = check_feeds(cfg, err, errlen)) != CORE_OK ||
        (rc = check_jsonl(cfg, err, errlen)) != CORE_OK)
        return rc;
    if (!kafka && !core_config_str(cfg, CORE_CFG_INPUT_JSONL)[0] &&
        core_config_instance_count(cfg, "feed") == 0) {
        snprintf(err, errlen,
                 "no source configured: set kafka.brokers, input.jsonl or a [feed.NAME] section");
        return CORE_ECONFIG;
    }
    return CORE_OK;
}

static core_err_t check_http(const core_config_t *cfg, char *err, size_t errlen)
{
    const char *listen = core_config_str(cfg, CORE_CFG_HTTP_LISTEN);
    app_http_t *http = NULL;
    core_err_t rc;

    if (!listen[0])
        return CORE_OK;
    rc = app_http_new_config(cfg, &http, err, errlen);
    app_http_free(http);
    return rc;
}

core_err_t app_config_validate(const core_config_t *cfg, char *err, size_t errlen)
{
    /* In the order the daemon meets them (app_pipeline_new, then the HTTP
     * server), so a configuration with several mistakes gets the message it
     * would have got from the daemon first. */
    static core_err_t (*const checks[])(const core_config_t *, char *, size_t) = {
        check_logging,   check_classify,         check_watchlist,         check_sink,
        check_redis_tls,
        ing_kafka_check_config, check_sources_and_jsonl, check_http};

    if (errlen)
        err[0] = '\0';
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        core_err_t rc = checks[i](cfg, err, errlen);
        if (rc != CORE_OK) {
            if (errlen && !err[0])
                snprintf(err, errlen, "%s", core_strerror(rc));
            return rc;
        }
    }
    return CORE_OK;
}
