/*
 * ing_kafka_check: the [kafka] settings checked without a Kafka client.
 *
 * ing_kafka_new cannot serve as a dry run: librdkafka's rd_kafka_new starts
 * the client's threads and a consumer with a group.id connects to the
 * bootstrap brokers at once to find its coordinator. This module makes the
 * same checks on the same settings with rd_kafka_conf_t objects only (no
 * handle, no thread, no socket), so that `finsent config` and the first
 * step of `finsent run` refuse what the consumer would refuse, with the same
 * message.
 *
 * What it cannot see: the checks librdkafka makes only inside rd_kafka_new
 * (conflicts between properties, e.g. a SASL mechanism this librdkafka was
 * built without); those still fail when the daemon creates its client.
 */
#ifndef ING_KAFKA_CHECK_H
#define ING_KAFKA_CHECK_H

#include <stddef.h>

#include "core/core_config.h"
#include "core/core_error.h"

/* ing_kafka_check_config checks the [kafka] section of cfg as ing_kafka_new
 * uses it: at least one topic, no librdkafka property that finsent manages
 * (bootstrap.servers, metadata.broker.list, group.id, enable.auto.commit,
 * enable.auto.offset.store), every other property known to librdkafka with
 * a valid value, and valid brokers and group. Nothing is checked when
 * kafka.brokers is empty (Kafka is off). Returns CORE_OK or CORE_ECONFIG
 * with err naming the key and where it came from (e.g. "[kafka] foo.bar
 * (f.conf:7): No such configuration property: ..."); CORE_ENOMEM. Pure: any
 * thread, no I/O. */
core_err_t ing_kafka_check_config(const core_config_t *cfg, char *err, size_t errlen);

#endif
