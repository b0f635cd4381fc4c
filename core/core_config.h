/*
 * core_config: finsent's configuration, defined by one key table
 * (core_config_keys.h) and filled from three layers in this order of
 * precedence, lowest first:
 *   1. an INI file (inih): [section] then key = value lines;
 *   2. environment variables FINSENT_<SECTION>_<KEY> (upper case) for the
 *      fixed sections, e.g. FINSENT_CLASSIFY_BATCH=64;
 *   3. --set section.key=value flags, e.g. --set redis.port=6380 or
 *      --set rule.neg_spike.threshold=0.6.
 * Named instance sections ([feed.NAME], [rule.NAME]) follow the templates
 * "feed.*" and "rule.*" of the table. In [kafka], a key with a dot in it is a
 * librdkafka property, kept verbatim for the Kafka adapter to validate.
 *
 * Every value is checked when it is set: unknown sections and keys, numbers
 * that do not parse or are out of range, bad durations ("500ms", "30s", "15m",
 * "2h", "1d", or sums like "1h30m") and bad sizes ("512", "64KiB", "8MiB",
 * "1GiB"; K/M/G are 1024-based) are errors whose text names the origin
 * (file:line, environment variable or --set), the section and the key.
 *
 * A config object is built single-threaded at start-up and then read-only;
 * reads may come from any thread.
 */
#ifndef CORE_CONFIG_H
#define CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core_error.h"

typedef struct core_config core_config_t;

/* core_config_new makes a config holding every key's default. */
core_err_t core_config_new(core_config_t **out);

/* core_config_free: NULL is a no-op. */
void core_config_free(core_config_t *cfg);

/* core_config_load_file reads an INI file over the current values. On error
 * err receives e.g. "finsent.conf:12: [classify] batch: bad number 'x'".
 * path must name a regular file: a directory, a FIFO or a device is
 * CORE_EIO with err naming the path (a directory would otherwise read as
 * an empty file, i.e. every default). */
core_err_t core_config_load_file(core_config_t *cfg, const char *path, char *err, size_t errlen);

/* core_config_load_string is core_config_load_file on a string; name is used
 * in messages in place of the file name. */
core_err_t core_config_load_string(core_config_t *cfg, const char *name, const char *text,
                                   char *err, size_t errlen);

/* core_config_apply_env applies FINSENT_<SECTION>_<KEY> variables from envp
 * (a NULL-terminated "NAME=value" array such as environ). Variables that name
 * no key are ignored (FINSENT_ is also used by other settings). */
core_err_t core_config_apply_env(core_config_t *cfg, char *const *envp, char *err, size_t errlen);

/* core_config_set applies one "section.key=value" assignment (a --set flag). */
core_err_t core_config_set(core_config_t *cfg, const char *assignment, char *err, size_t errlen);

/* Typed reads. section is a fixed section ("redis") or an instance section
 * ("feed.reuters"); an instance key never set reads as the template default.
 * Reading a key that is not in the table, or with the wrong type, is a
 * programmer error (assert). INT, DURATION (ms) and SIZE (bytes) read with
 * core_config_int. */
const char *core_config_str(const core_config_t *cfg, const char *section, const char *key);
int64_t core_config_int(const core_config_t *cfg, const char *section, const char *key);
double core_config_double(const core_config_t *cfg, const char *section, const char *key);
int core_config_bool(const core_config_t *cfg, const char *section, const char *key);

/* core_config_origin tells where a value came from ("default", "f.conf:3",
 * "environment FINSENT_X_Y", "--set"), for messages of later validation. */
const char *core_config_origin(const core_config_t *cfg, const char *section, const char *key);

/* Instance sections of one kind ("feed", "rule"), in the order first seen. */
size_t core_config_instance_count(const core_config_t *cfg, const char *kind);
const char *core_config_instance_name(const core_config_t *cfg, const char *kind, size_t i);

/* Pass-through keys of a section ([kafka] librdkafka properties). */
size_t core_config_passthrough_count(const core_config_t *cfg, const char *section);
void core_config_passthrough(const core_config_t *cfg, const char *section, size_t i,
                             const char **key, const char **value, const char **origin);

/* core_config_split_list splits a LIST value on commas, trimming spaces and
 * dropping empty items. *items is one allocation (free it with free()). */
core_err_t core_config_split_list(const char *list, char ***items, size_t *n);

/* core_config_parse_duration: "500ms", "30s", "15m", "2h", "1d", "1h30m" to
 * ms. A bare number is an error (the unit is required). */
core_err_t core_config_parse_duration(const char *s, int64_t *ms);

/* core_config_parse_size: "512", "64K", "64KiB", "8MB", "1GiB" to bytes. */
core_err_t core_config_parse_size(const char *s, int64_t *bytes);

/* core_config_print_defaults writes a commented example config generated
 * from the key table; it loads back unchanged. */
void core_config_print_defaults(FILE *out);

/* core_config_dump writes the effective configuration with each value's
 * origin (passwords masked). */
void core_config_dump(const core_config_t *cfg, FILE *out);

#endif
