/*
 * app: the finsent command. main() dispatches to one function per subcommand;
 * the table is app_commands.h (one X-macro line per command, each command in
 * its own app/app_cmd_<name>.c). Only app/ may exit the process.
 *
 * Shared helpers for commands: building the effective configuration,
 * the classifier's options, and finding the shipped model. Option parsing
 * (-c FILE, -s/--set k=v, --help, ranges) is app/app_opts.h.
 */
#ifndef APP_H
#define APP_H

#include <stddef.h>
#include <sys/types.h>

#include "classify/cls_classifier.h"
#include "core/core_config.h"

/* Exit codes of every command. */
enum { APP_EXIT_OK = 0, APP_EXIT_FAIL = 1, APP_EXIT_USAGE = 2 };

#define APP_COMMAND_DECL(name, fn, summary) int fn(int argc, char **argv);
#include "app/app_commands.h"
APP_COMMANDS(APP_COMMAND_DECL)
#undef APP_COMMAND_DECL

/* app_config_build makes the effective config: defaults, then the file
 * (path may be NULL), then FINSENT_* environment variables, then each --set
 * assignment in sets[0..nsets). Prints the error to stderr and returns NULL
 * on failure. */
core_config_t *app_config_build(const char *path, char **sets, size_t nsets);

/* app_config_validate makes every check of cfg that `finsent run` makes
 * before it starts anything, in the daemon's order: log.level and
 * log.format, the model directories, the watch-list file, [redis] windows
 * and retentions and every [rule.*] (as the Redis sink reads them), the
 * [kafka] settings (as librdkafka takes them), kafka.output_topic, every
 * [feed.*] url and the feeds' seen store, input.jsonl, that some source is
 * configured, and http.listen. `finsent run` calls it first and
 * `finsent config -c` gives its verdict, so both refuse the same
 * configurations with the same message. Returns CORE_OK, or the first
 * failure with err saying which key is wrong and where it came from.
 * Connects to nothing, starts no thread, writes nothing; main thread, at
 * start-up (it initialises libcurl like the RSS poller does). */
core_err_t app_config_validate(const core_config_t *cfg, char *err, size_t errlen);

/* app_root_warning returns the warning `finsent run` logs when its
 * effective uid euid is 0 (root), or NULL for any other uid. The string is
 * static. */
const char *app_root_warning(uid_t euid);

/* app_classifier_opts fills *o from the [classify] section as the daemon
 * uses it: model (else app_default_model_dir()), topic_model,
 * sentiment_model, batch, max_seq, threads; padded 0. The strings are
 * borrowed from cfg (or static): copy them if o outlives cfg. */
void app_classifier_opts(const core_config_t *cfg, cls_classifier_opts_t *o);

/* The classifier flags of finsent classify and eval: NULL or 0 keeps the
 * configuration's value. */
typedef struct app_cls_flags {
    const char *model, *topic_model, *sentiment_model; /* --model, --topic-model, ... */
    size_t batch, threads;                             /* --batch, --threads */
} app_cls_flags_t;

/* app_classifier_opts_flags is app_classifier_opts with the command line's
 * flags f on top. The strings are borrowed from cfg and f. */
void app_classifier_opts_flags(const core_config_t *cfg, const app_cls_flags_t *f,
                               cls_classifier_opts_t *o);

/* app_default_model_dir returns the directory of the shipped model: the
 * FINSENT_MODEL_DIR environment variable if set, else the installed copy
 * (<prefix>/share/finsent/models/finsent-mini next to the executable), else
 * the source tree's models/finsent-mini. The string is static. */
const char *app_default_model_dir(void);

/* app_find_data_dir finds an installed data directory: the environment
 * variable env_var if set, else <exe dir>/../share/finsent/<rel> when it
 * holds the file marker, else the source tree's <rel>. Writes into buf and
 * returns it (or the environment's string). */
const char *app_find_data_dir(const char *env_var, const char *rel, const char *marker,
                              char *buf, size_t cap);

/* app_argv0: the program name for messages. */
extern const char *app_argv0;

#endif
