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

#include "core/core_config_keys.h"
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

/* Keys. Every row X(ID, ...) of core_config_keys.h is a constant CORE_CFG_ID
 * in the enum of the getter that reads it: core_config_str_key_t (STR and
 * LIST), core_config_int_key_t (INT, DURATION in ms, SIZE in bytes),
 * core_config_double_key_t (DOUBLE), core_config_bool_key_t (BOOL). A
 * misspelled key does not compile, and a key handed to the wrong getter is
 * an implicit conversion between enums that -Wenum-conversion reports (in
 * gcc's -Wextra, on by default in clang; an error in the -Werror build). A
 * value that reaches a getter anyway (a cast int, a template key without
 * an instance) aborts with a message in every build. The enumerators are
 * the rows of the table, so a key of any type converts to core_config_key_t
 * for the functions that take any key. */
typedef int core_config_key_t;

enum core_config_row_ {
#define CORE_CONFIG_ROW_ENUM_(id, s, k, t, d, mn, mx, h) CORE_CONFIG_ROW_##id,
    CORE_CONFIG_KEYS(CORE_CONFIG_ROW_ENUM_)
#undef CORE_CONFIG_ROW_ENUM_
        CORE_CONFIG_NKEYS
};

/* Which getter reads a type, and one enumerator where it is the wanted one. */
#define CORE_CONFIG_GETTER_STR STR
#define CORE_CONFIG_GETTER_LIST STR
#define CORE_CONFIG_GETTER_INT INT
#define CORE_CONFIG_GETTER_DURATION INT
#define CORE_CONFIG_GETTER_SIZE INT
#define CORE_CONFIG_GETTER_DOUBLE DOUBLE
#define CORE_CONFIG_GETTER_BOOL BOOL
#define CORE_CONFIG_IF_STR_STR(id) CORE_CFG_##id = CORE_CONFIG_ROW_##id,
#define CORE_CONFIG_IF_STR_INT(id)
#define CORE_CONFIG_IF_STR_DOUBLE(id)
#define CORE_CONFIG_IF_STR_BOOL(id)
#define CORE_CONFIG_IF_INT_STR(id)
#define CORE_CONFIG_IF_INT_INT(id) CORE_CFG_##id = CORE_CONFIG_ROW_##id,
#define CORE_CONFIG_IF_INT_DOUBLE(id)
#define CORE_CONFIG_IF_INT_BOOL(id)
#define CORE_CONFIG_IF_DOUBLE_STR(id)
#define CORE_CONFIG_IF_DOUBLE_INT(id)
#define CORE_CONFIG_IF_DOUBLE_DOUBLE(id) CORE_CFG_##id = CORE_CONFIG_ROW_##id,
#define CORE_CONFIG_IF_DOUBLE_BOOL(id)
#define CORE_CONFIG_IF_BOOL_STR(id)
#define CORE_CONFIG_IF_BOOL_INT(id)
#define CORE_CONFIG_IF_BOOL_DOUBLE(id)
#define CORE_CONFIG_IF_BOOL_BOOL(id) CORE_CFG_##id = CORE_CONFIG_ROW_##id,
#define CORE_CONFIG_IF3_(want, getter, id) CORE_CONFIG_IF_##want##_##getter(id)
#define CORE_CONFIG_IF2_(want, getter, id) CORE_CONFIG_IF3_(want, getter, id)
#define CORE_CONFIG_KEY_STR_(id, s, k, t, d, mn, mx, h)                                            \
    CORE_CONFIG_IF2_(STR, CORE_CONFIG_GETTER_##t, id)
#define CORE_CONFIG_KEY_INT_(id, s, k, t, d, mn, mx, h)                                            \
    CORE_CONFIG_IF2_(INT, CORE_CONFIG_GETTER_##t, id)
#define CORE_CONFIG_KEY_DOUBLE_(id, s, k, t, d, mn, mx, h)                                         \
    CORE_CONFIG_IF2_(DOUBLE, CORE_CONFIG_GETTER_##t, id)
#define CORE_CONFIG_KEY_BOOL_(id, s, k, t, d, mn, mx, h)                                           \
    CORE_CONFIG_IF2_(BOOL, CORE_CONFIG_GETTER_##t, id)

typedef enum core_config_str_key {
    CORE_CONFIG_KEYS(CORE_CONFIG_KEY_STR_) CORE_CONFIG_STR_END_ = CORE_CONFIG_NKEYS
} core_config_str_key_t;
typedef enum core_config_int_key {
    CORE_CONFIG_KEYS(CORE_CONFIG_KEY_INT_) CORE_CONFIG_INT_END_ = CORE_CONFIG_NKEYS
} core_config_int_key_t;
typedef enum core_config_double_key {
    CORE_CONFIG_KEYS(CORE_CONFIG_KEY_DOUBLE_) CORE_CONFIG_DOUBLE_END_ = CORE_CONFIG_NKEYS
} core_config_double_key_t;
typedef enum core_config_bool_key {
    CORE_CONFIG_KEYS(CORE_CONFIG_KEY_BOOL_) CORE_CONFIG_BOOL_END_ = CORE_CONFIG_NKEYS
} core_config_bool_key_t;

/* Typed reads of a fixed section's key (CORE_CFG_REDIS_PORT). A key of a
 * template section ("feed.*", "rule.*") aborts: read those with the
 * instance getters below. */
const char *core_config_str(const core_config_t *cfg, core_config_str_key_t key);
int64_t core_config_int(const core_config_t *cfg, core_config_int_key_t key);
double core_config_double(const core_config_t *cfg, core_config_double_key_t key);
int core_config_bool(const core_config_t *cfg, core_config_bool_key_t key);

/* Typed reads of a template key (CORE_CFG_RULE_WINDOW) in the instance
 * section [kind.name] ("neg_spike" for [rule.neg_spike]); an instance or a
 * key never set reads as the template default. A fixed section's key
 * aborts. */
const char *core_config_inst_str(const core_config_t *cfg, core_config_str_key_t key,
                                 const char *name);
int64_t core_config_inst_int(const core_config_t *cfg, core_config_int_key_t key, const char *name);
double core_config_inst_double(const core_config_t *cfg, core_config_double_key_t key,
                               const char *name);
int core_config_inst_bool(const core_config_t *cfg, core_config_bool_key_t key, const char *name);

/* core_config_origin tells where a value came from ("default", "f.conf:3",
 * "environment FINSENT_X_Y", "--set"), for messages of later validation;
 * core_config_inst_origin is the same for a template key of an instance. */
const char *core_config_origin(const core_config_t *cfg, core_config_key_t key);
const char *core_config_inst_origin(const core_config_t *cfg, core_config_key_t key,
                                    const char *name);

/* core_config_key_name: the key's name in its section ("tls_cert" for
 * CORE_CFG_HTTP_TLS_CERT), for messages. */
const char *core_config_key_name(core_config_key_t key);

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
