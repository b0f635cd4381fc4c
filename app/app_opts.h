/*
 * app_opts: a command's options as one table, parsed and documented once.
 *
 * Each command describes its options in an array of app_opt_t (long name,
 * short letter, kind, argument name, range, destination, help text) inside
 * an app_cmd_spec_t (usage text, footer, positional arguments) and calls
 * app_opts_parse. The parser (getopt_long underneath) does for every
 * command, the same way:
 *   - -h/--help: prints the help generated from the table to stdout
 *     (app_opts_help): the usage text, one row per option with its help
 *     aligned at spec->col, the footer;
 *   - -c/--config FILE and -s/--set S.K=V (APP_OPT_STR rows on
 *     app_args_t.config, APP_OPT_SET rows), collected in app_args_t for
 *     app_args_config; rows with a config key add "key=value" to the same
 *     list in command-line order, so a flag such as --jsonl FILE is a
 *     --set input.jsonl=FILE;
 *   - integers and durations within the row's range, and values a row's
 *     check function accepts; the error names the option and what it
 *     allows ("finsent classify: --batch must be 1..1024, not '0'");
 *   - an unknown option, a missing option argument and a wrong number of
 *     positional arguments.
 * Destinations are the command's own variables (the table is a local
 * array), written only for the options given, so their initial values are
 * the defaults. Strings are borrowed from argv, except in lists:
 * app_args_t owns its sets, the caller an APP_OPT_LIST's app_list_t.
 * Main thread; getopt_long is not reentrant.
 */
#ifndef APP_OPTS_H
#define APP_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core_config.h"

typedef enum app_opt_kind {
    APP_OPT_FLAG,     /* no argument: *(int *)dst = 1; with key, adds key=true */
    APP_OPT_STR,      /* *(const char **)dst = the argument; with key, adds key=ARG */
    APP_OPT_SIZE,     /* *(size_t *)dst, a decimal integer in lo..hi */
    APP_OPT_INT,      /* *(int *)dst, a decimal integer in lo..hi */
    APP_OPT_DURATION, /* *(int64_t *)dst in ms (core_config_parse_duration), lo..hi ms */
    APP_OPT_LIST,     /* repeatable: a copy appended to the caller's app_list_t *dst */
    APP_OPT_SET,      /* -s/--set S.K=V: appended to app_args_t.sets */
} app_opt_kind_t;

typedef struct app_opt {
    const char *name; /* long name without "--" */
    char letter;      /* short option, 0: none */
    app_opt_kind_t kind;
    const char *arg;  /* the argument's name in help (FILE, N); NULL for flags */
    long long lo, hi; /* range of SIZE, INT and DURATION */
    void *dst;        /* see the kind; NULL for SET */
    const char *key;  /* "section.key" the value also sets, or NULL */
    /* check returns NULL when arg is good, else what the option allows
     * ("auto, fp32, bf16 or int8"); NULL: any value. */
    const char *(*check)(const char *arg);
    const char *help;  /* lines separated by '\n'; NULL: no row of its own */
    const char *label; /* the row's left side, NULL: "-c, --config FILE" from the above */
} app_opt_t;

/* A growable list of strings it owns. */
typedef struct app_list {
    char **v;
    size_t n, cap;
} app_list_t;

/* What app_opts_parse collected besides the destinations. */
typedef struct app_args {
    const char *config; /* -c FILE (when the table has that row), else NULL */
    app_list_t sets;    /* --set assignments and key=value of keyed rows, in order */
    char **pos;         /* the positional arguments (argv's), npos of them */
    size_t npos;
} app_args_t;

typedef struct app_cmd_spec {
    const char *name;   /* for messages: "finsent classify" */
    const char *usage;  /* help text before the option rows */
    const char *footer; /* help text after them, or NULL */
    const app_opt_t *opts;
    size_t nopts;
    int col;                 /* column at which the options' help starts */
    size_t min_pos, max_pos; /* positional arguments allowed (SIZE_MAX: any) */
    const char *too_few;     /* message for fewer than min_pos (then the help) */
    const char *too_many;    /* message for more than max_pos (then the help), NULL:
                              * "unexpected argument 'X'" */
} app_cmd_spec_t;

/* app_opts_parse parses argv[1..argc) (argv[0] is the command's name) by
 * spec into the rows' destinations and *args (which it initialises; free
 * it with app_args_cleanup also after a failure). Returns APP_OPTS_RUN when
 * the command should go on, else the exit status to return at once:
 * APP_EXIT_OK after --help, APP_EXIT_USAGE after a usage error (the
 * message and the help on stderr), APP_EXIT_FAIL when out of memory. */
#define APP_OPTS_RUN (-1)
int app_opts_parse(const app_cmd_spec_t *spec, int argc, char **argv, app_args_t *args);

/* app_opts_help prints spec's help to out. */
void app_opts_help(const app_cmd_spec_t *spec, FILE *out);

/* app_args_config builds the effective configuration from args (file,
 * environment, the sets in order): app_config_build. NULL after printing
 * the error. */
core_config_t *app_args_config(const app_args_t *args);

/* app_args_cleanup frees what args holds (not the borrowed strings). */
void app_args_cleanup(app_args_t *args);

/* app_list_add appends a copy of s. Returns 0, or -1 when out of memory. */
int app_list_add(app_list_t *l, const char *s);

/* app_list_cleanup frees the list and its strings; the list is then empty. */
void app_list_cleanup(app_list_t *l);

/* Checks for app_opt_t.check. */
const char *app_check_precision(const char *arg); /* auto, fp32, bf16 or int8 */

/* Rows in short: a flag; a string; a size_t, an int and a duration (ms)
 * in lo..hi; a repeatable string; a value (checked by chk, may be NULL)
 * or a flag that sets the config key k. */
/* clang-format off */
#define APP_FLAG(nm, ch, d, h) {.name = nm, .letter = ch, .kind = APP_OPT_FLAG, .dst = d, .help = h}
#define APP_STR(nm, ch, a, d, h)                                                                   \
    {.name = nm, .letter = ch, .kind = APP_OPT_STR, .arg = a, .dst = d, .help = h}
#define APP_SIZE(nm, ch, a, l, u, d, h)                                                            \
    {.name = nm, .letter = ch, .kind = APP_OPT_SIZE, .arg = a, .lo = l, .hi = u, .dst = d, .help = h}
#define APP_INT(nm, ch, a, l, u, d, h)                                                             \
    {.name = nm, .letter = ch, .kind = APP_OPT_INT, .arg = a, .lo = l, .hi = u, .dst = d, .help = h}
#define APP_DURATION(nm, a, l, u, d, h)                                                            \
    {.name = nm, .kind = APP_OPT_DURATION, .arg = a, .lo = l, .hi = u, .dst = d, .help = h}
#define APP_LIST(nm, a, d, h) {.name = nm, .kind = APP_OPT_LIST, .arg = a, .dst = d, .help = h}
#define APP_KEY(nm, a, k, chk, h)                                                                  \
    {.name = nm, .kind = APP_OPT_STR, .arg = a, .key = k, .check = chk, .help = h}
#define APP_KEY_FLAG(nm, k, h) {.name = nm, .kind = APP_OPT_FLAG, .key = k, .help = h}

/* The rows most commands share: -c FILE into args->config, -s S.K=V. */
#define APP_CONFIG_ROW(args, h) APP_STR("config", 'c', "FILE", &(args)->config, h)
#define APP_SET_ROW(h) {.name = "set", .letter = 's', .kind = APP_OPT_SET, .arg = "S.K=V", .help = h}
/* clang-format on */

#endif
