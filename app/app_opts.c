/* app_opts: see app_opts.h. A shell over getopt_long: the struct option
 * array and the short-option string are built from the table on each call,
 * so the table is the only place an option is declared. */
#include "app/app_opts.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "classify/kernels/cls_lowp.h"

#define LONG_ONLY 256 /* getopt_long value of row i without a letter: LONG_ONLY + i */

int app_list_add(app_list_t *l, const char *s)
{
    char *copy;
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 8;
        char **v = realloc(l->v, nc * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = nc;
    }
    if (!(copy = strdup(s)))
        return -1;
    l->v[l->n++] = copy;
    return 0;
}

void app_list_cleanup(app_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

void app_args_cleanup(app_args_t *args)
{
    app_list_cleanup(&args->sets);
}

core_config_t *app_args_config(const app_args_t *args)
{
    return app_config_build(args->config, args->sets.v, args->sets.n);
}

const char *app_check_precision(const char *arg)
{
    cls_precision_t p;
    return cls_precision_parse(arg, &p) == 0 ? NULL : "auto, fp32, bf16 or int8";
}

/* ---- help ---------------------------------------------------------------- */

static void row_label(const app_opt_t *o, char *buf, size_t cap)
{
    size_t n = 0;
    if (o->label) {
        snprintf(buf, cap, "%s", o->label);
        return;
    }
    if (o->letter)
        n = (size_t)snprintf(buf, cap, "-%c, ", o->letter);
    snprintf(buf + n, cap - n, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

void app_opts_help(const app_cmd_spec_t *spec, FILE *out)
{
    fputs(spec->usage, out);
    for (size_t i = 0; i < spec->nopts; i++) {
        const app_opt_t *o = &spec->opts[i];
        const char *line = o->help, *nl;
        char label[128];
        if (!o->help)
            continue;
        row_label(o, label, sizeof label);
        if ((int)strlen(label) + 3 > spec->col) /* too wide: help from the next line */
            fprintf(out, "  %s\n%*s", label, spec->col, "");
        else
            fprintf(out, "  %-*s", spec->col - 2, label);
        for (;;) {
            nl = strchr(line, '\n');
            fprintf(out, "%.*s\n", (int)(nl ? nl - line : (long)strlen(line)), line);
            if (!nl)
                break;
            line = nl + 1;
            fprintf(out, "%*s", spec->col, "");
        }
    }
    if (spec->footer)
        fputs(spec->footer, out);
}

/* ---- values -------------------------------------------------------------- */

static int parse_ll(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v;
    if (!isdigit((unsigned char)s[0]) && !(s[0] == '-' && isdigit((unsigned char)s[1])))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int usage_error(const app_cmd_spec_t *spec, const app_opt_t *o, const char *arg,
                       const char *allowed)
{
    fprintf(stderr, "%s: --%s must be %s, not '%s'\n", spec->name, o->name, allowed, arg);
    return APP_EXIT_USAGE;
}

static int range_error(const app_cmd_spec_t *spec, const app_opt_t *o, const char *arg)
{
    char allowed[96];
    if (o->kind == APP_OPT_DURATION)
        snprintf(allowed, sizeof allowed, "a duration between %lldms and %lldms (e.g. 1s, 60s, 5m)",
                 o->lo, o->hi);
    else if (o->hi == LLONG_MAX)
        snprintf(allowed, sizeof allowed, "%lld or more", o->lo);
    else
        snprintf(allowed, sizeof allowed, "%lld..%lld", o->lo, o->hi);
    return usage_error(spec, o, arg, allowed);
}

/* add_key adds "key=value" of a keyed row to the sets. */
static int add_key(app_args_t *a, const char *key, const char *value)
{
    size_t n = strlen(key) + strlen(value) + 2;
    char *kv = malloc(n);
    int rc;
    if (!kv)
        return -1;
    snprintf(kv, n, "%s=%s", key, value);
    rc = app_list_add(&a->sets, kv);
    free(kv);
    return rc;
}

/* take stores arg (NULL for a flag) by row o. Returns APP_OPTS_RUN or an
 * exit status. */
static int take(const app_cmd_spec_t *spec, const app_opt_t *o, const char *arg, app_args_t *a)
{
    const char *bad;
    long long v = 0;
    int64_t ms;
    int oom = 0;

    if (arg && o->check && (bad = o->check(arg)) != NULL)
        return usage_error(spec, o, arg, bad);
    switch (o->kind) {
    case APP_OPT_FLAG:
        if (o->dst)
            *(int *)o->dst = 1;
        break;
    case APP_OPT_STR:
        if (o->dst)
            *(const char **)o->dst = arg;
        break;
    case APP_OPT_SIZE:
    case APP_OPT_INT:
        if (parse_ll(arg, o->lo, o->hi, &v) != 0)
            return range_error(spec, o, arg);
        if (o->kind == APP_OPT_SIZE)
            *(size_t *)o->dst = (size_t)v;
        else
            *(int *)o->dst = (int)v;
        break;
    case APP_OPT_DURATION:
        if (core_config_parse_duration(arg, &ms) != CORE_OK || ms < o->lo || ms > o->hi)
            return range_error(spec, o, arg);
        *(int64_t *)o->dst = ms;
        break;
    case APP_OPT_LIST:
        oom = app_list_add(o->dst, arg) != 0;
        break;
    case APP_OPT_SET:
        oom = app_list_add(&a->sets, arg) != 0;
        break;
    }
    if (!oom && o->key)
        oom = add_key(a, o->key, arg ? arg : "true") != 0;
    if (oom) {
        fprintf(stderr, "%s: out of memory\n", spec->name);
        return APP_EXIT_FAIL;
    }
    return APP_OPTS_RUN;
}

/* ---- parsing ------------------------------------------------------------- */

/* getopt_tables fills lo[0..nopts+2) and shorts from spec. */
static void getopt_tables(const app_cmd_spec_t *spec, struct option *lo, char *shorts)
{
    size_t k = 0;
    shorts[k++] = ':'; /* report a missing argument as ':' */
    for (size_t i = 0; i < spec->nopts; i++) {
        const app_opt_t *o = &spec->opts[i];
        int has_arg = o->kind != APP_OPT_FLAG;
        lo[i] = (struct option){o->name, has_arg ? required_argument : no_argument, NULL,
                                o->letter ? o->letter : LONG_ONLY + (int)i};
        if (o->letter) {
            shorts[k++] = o->letter;
            if (has_arg)
                shorts[k++] = ':';
        }
    }
    lo[spec->nopts] = (struct option){"help", no_argument, NULL, 'h'};
    lo[spec->nopts + 1] = (struct option){NULL, 0, NULL, 0};
    shorts[k++] = 'h';
    shorts[k] = '\0';
}

static const app_opt_t *row_of(const app_cmd_spec_t *spec, int c)
{
    if (c >= LONG_ONLY)
        return &spec->opts[c - LONG_ONLY];
    for (size_t i = 0; i < spec->nopts; i++)
        if (spec->opts[i].letter == c)
            return &spec->opts[i];
    return NULL;
}

static int bad_usage(const app_cmd_spec_t *spec)
{
    app_opts_help(spec, stderr);
    return APP_EXIT_USAGE;
}

/* check_positional checks the count of a->pos against spec. */
static int check_positional(const app_cmd_spec_t *spec, const app_args_t *a)
{
    if (a->npos < spec->min_pos) {
        fprintf(stderr, "%s: %s\n", spec->name, spec->too_few);
        return bad_usage(spec);
    }
    if (a->npos > spec->max_pos) {
        if (!spec->too_many) {
            fprintf(stderr, "%s: unexpected argument '%s'\n", spec->name, a->pos[spec->max_pos]);
            return APP_EXIT_USAGE;
        }
        fprintf(stderr, "%s: %s\n", spec->name, spec->too_many);
        return bad_usage(spec);
    }
    return APP_OPTS_RUN;
}

int app_opts_parse(const app_cmd_spec_t *spec, int argc, char **argv, app_args_t *args)
{
    struct option *lo = calloc(spec->nopts + 2, sizeof *lo);
    char *shorts = malloc(3 * spec->nopts + 3);
    int c, rc = APP_OPTS_RUN;

    memset(args, 0, sizeof *args);
    if (!lo || !shorts) {
        fprintf(stderr, "%s: out of memory\n", spec->name);
        rc = APP_EXIT_FAIL;
        goto out;
    }
    getopt_tables(spec, lo, shorts);
    optind = 1;
    opterr = 0; /* the messages below name the command */
    while (rc == APP_OPTS_RUN && (c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        const app_opt_t *o = row_of(spec, c);
        if (c == 'h') {
            app_opts_help(spec, stdout);
            rc = APP_EXIT_OK;
        } else if (c == ':') {
            fprintf(stderr, "%s: option '%s' needs an argument\n", spec->name, argv[optind - 1]);
            rc = bad_usage(spec);
        } else if (c == '?' || !o) {
            if (optopt > 0 && optopt < LONG_ONLY)
                fprintf(stderr, "%s: unknown option '-%c'\n", spec->name, optopt);
            else
                fprintf(stderr, "%s: unknown option '%s'\n", spec->name, argv[optind - 1]);
            rc = bad_usage(spec);
        } else {
            rc = take(spec, o, o->kind == APP_OPT_FLAG ? NULL : optarg, args);
        }
    }
    if (rc == APP_OPTS_RUN) {
        args->pos = argv + optind;
        args->npos = (size_t)(argc - optind);
        rc = check_positional(spec, args);
    }
out:
    free(lo);
    free(shorts);
    return rc;
}
