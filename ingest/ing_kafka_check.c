/*
 * ing_kafka_check: see ing_kafka_check.h. It mirrors build_conf and the
 * start of ing_kafka_new in ing_kafka.c (the properties finsent sets, the
 * managed ones it refuses, the "rdkafka." prefix, the message formats):
 * a change there belongs here too, and tests/app/test_validate.c runs both
 * paths on the same bad settings.
 */
#include "ingest/ing_kafka_check.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const managed_props[] = {"bootstrap.servers", "metadata.broker.list", "group.id",
                                            "enable.auto.commit", "enable.auto.offset.store"};

static core_err_t conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                           const char *origin, char *err, size_t errlen)
{
    char why[256];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof why) == RD_KAFKA_CONF_OK)
        return CORE_OK;
    snprintf(err, errlen, "[kafka] %s (%s): %s", key, origin, why);
    return CORE_ECONFIG;
}

/* check_conf applies what build_conf applies, for the consumer (consumer=1)
 * or the producer, to a throw-away configuration. */
static core_err_t check_conf(const core_config_t *cfg, int consumer, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    size_t n = core_config_passthrough_count(cfg, "kafka");
    core_err_t rc;

    if (!conf)
        return CORE_ENOMEM;
    rc = conf_set(conf, "client.id", "finsent", "default", err, errlen);
    if (rc == CORE_OK && consumer)
        rc = conf_set(conf, "auto.offset.reset", "earliest", "default", err, errlen);
    if (rc == CORE_OK && !consumer)
        rc = conf_set(conf, "acks", "all", "default", err, errlen);
    for (size_t i = 0; rc == CORE_OK && i < n; i++) {
        const char *key, *value, *origin;
        core_config_passthrough(cfg, "kafka", i, &key, &value, &origin);
        for (size_t j = 0; j < sizeof managed_props / sizeof managed_props[0]; j++) {
            if (strcmp(key, managed_props[j]) == 0) {
                snprintf(err, errlen,
                         "[kafka] %s (%s): managed by finsent (use kafka.brokers / kafka.group; "
                         "offsets are stored on acknowledgement)",
                         key, origin);
                rc = CORE_ECONFIG;
                break;
            }
        }
        if (rc != CORE_OK)
            break;
        if (strncmp(key, "rdkafka.", 8) == 0 && key[8])
            key += 8;
        rc = conf_set(conf, key, value, origin, err, errlen);
    }
    if (rc == CORE_OK)
        rc = conf_set(conf, "bootstrap.servers", core_config_str(cfg, "kafka", "brokers"),
                      core_config_origin(cfg, "kafka", "brokers"), err, errlen);
    if (rc == CORE_OK && consumer)
        rc = conf_set(conf, "group.id", core_config_str(cfg, "kafka", "group"),
                      core_config_origin(cfg, "kafka", "group"), err, errlen);
    rd_kafka_conf_destroy(conf);
    return rc;
}

core_err_t ing_kafka_check_config(const core_config_t *cfg, char *err, size_t errlen)
{
    char **topics = NULL;
    size_t ntopics = 0;
    core_err_t rc;

    if (!core_config_str(cfg, "kafka", "brokers")[0])
        return CORE_OK;
    rc = core_config_split_list(core_config_str(cfg, "kafka", "topics"), &topics, &ntopics);
    free(topics);
    if (rc != CORE_OK)
        return rc;
    if (ntopics == 0) {
        snprintf(err, errlen, "[kafka] topics (%s): no topic to consume",
                 core_config_origin(cfg, "kafka", "topics"));
        return CORE_ECONFIG;
    }
    rc = check_conf(cfg, 1, err, errlen);
    if (rc == CORE_OK && (core_config_str(cfg, "kafka", "dead_letter_topic")[0] ||
                          core_config_str(cfg, "kafka", "output_topic")[0]))
        rc = check_conf(cfg, 0, err, errlen);
    return rc;
}
