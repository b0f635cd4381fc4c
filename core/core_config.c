/*
 * core_config: see core_config.h.
 *
 * Storage: one slot per table row. Rows of fixed sections hold their value in
 * cfg->vals; rows of templates ("feed.*") hold the template default, and each
 * instance section gets its own array of slots indexed like the table (only
 * the rows of its template are used). A slot keeps the raw string, the parsed
 * number and its origin. inih reads the file through our own line reader so
 * that errors can name the line: inih calls the handler right after reading
 * the line that holds the key.
 */
#include "core/core_config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/core_config_keys.h"

typedef enum { T_STR, T_INT, T_BOOL, T_DOUBLE, T_DURATION, T_SIZE, T_LIST } vtype;

typedef struct keydef {
    const char *section, *key;
    vtype type;
    const char *def;
    double min, max;
    const char *help;
} keydef;

static const keydef keys[] = {
#define KEY_ROW(id, s, k, t, d, mn, mx, h) [CORE_CONFIG_ROW_##id] = {s, k, T_##t, d, mn, mx, h},
    CORE_CONFIG_KEYS(KEY_ROW)
#undef KEY_ROW
};
#define NKEYS (sizeof keys / sizeof keys[0])
_Static_assert(NKEYS == CORE_CONFIG_NKEYS, "one row per key");

typedef struct slot {
    char *str;
    int64_t i;
    double d;
    char origin[128];
} slot;

typedef struct instance {
    char *kind, *name;
    slot *vals; /* NKEYS entries; only rows of kind's template are used */
    unsigned char *set;
} instance;

typedef struct passthrough {
    char *section, *key, *value;
    char origin[128];
} passthrough;

struct core_config {
    slot vals[NKEYS];
    instance *inst;
    size_t n_inst;
    passthrough *pt;
    size_t n_pt;
};

static const char *type_name(vtype t)
{
    static const char *const n[] = {"string", "integer", "boolean", "number",
                                    "duration", "size", "list"};
    return n[t];
}

/* ---- value parsers ---------------------------------------------------- */

core_err_t core_config_parse_duration(const char *s, int64_t *ms)
{
    int64_t total = 0;
    const char *p = s;
    int parts = 0;

    while (*p == ' ')
        p++;
    if (*p == '\0')
        return CORE_EINVAL;
    while (*p && *p != ' ') {
        int64_t v = 0, mul;
        int nd = 0;
        while (isdigit((unsigned char)*p)) {
            if (++nd > 12)
                return CORE_EINVAL;
            v = v * 10 + (*p++ - '0');
        }
        if (nd == 0)
            return CORE_EINVAL;
        if (strncmp(p, "ms", 2) == 0) {
            mul = 1;
            p += 2;
        } else if (*p == 's') {
            mul = 1000;
            p++;
        } else if (*p == 'm') {
            mul = 60000;
            p++;
        } else if (*p == 'h') {
            mul = 3600000;
            p++;
        } else if (*p == 'd') {
            mul = 86400000;
            p++;
        } else {
            return CORE_EINVAL; /* a unit is required */
        }
        total += v * mul;
        parts++;
    }
    while (*p == ' ')
        p++;
    if (*p != '\0' || parts == 0)
        return CORE_EINVAL;
    *ms = total;
    return CORE_OK;
}

core_err_t core_config_parse_size(const char *s, int64_t *bytes)
{
    const char *p = s;
    int64_t v = 0, mul = 1;
    int nd = 0;

    while (*p == ' ')
        p++;
    while (isdigit((unsigned char)*p)) {
        if (++nd > 15)
            return CORE_EINVAL;
        v = v * 10 + (*p++ - '0');
    }
    if (nd == 0)
        return CORE_EINVAL;
    while (*p == ' ')
        p++;
    switch (toupper((unsigned char)*p)) {
    case '\0':
        break;
    case 'B':
        p++;
        break;
    case 'K':
        mul = 1024;
        p++;
        break;
    case 'M':
        mul = 1024 * 1024;
        p++;
        break;
    case 'G':
        mul = 1024 * 1024 * 1024;
        p++;
        break;
    default:
        return CORE_EINVAL;
    }
    if (mul > 1) {
        if (*p == 'i' && toupper((unsigned char)p[1]) == 'B')
            p += 2;
        else if (toupper((unsigned char)*p) == 'B')
            p++;
    }
    while (*p == ' ')
        p++;
    if (*p != '\0')
        return CORE_EINVAL;
    *bytes = v * mul;
    return CORE_OK;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 1;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 1;
        }
    }
    return 0;
}

/* Parses value for row k into *sl (replacing its string). */
static core_err_t parse_into(const keydef *k, slot *sl, const char *value, const char *origin,
                             const char *section, char *err, size_t errlen)
{
    int64_t iv = 0;
    double dv = 0;
    char *end, *copy;
    int b;

    if (value[0] == '\0' && (k->type == T_STR || k->type == T_LIST || k->def[0] == '\0')) {
        /* empty: allowed for strings, lists and keys whose default is empty */
    } else {
        switch (k->type) {
        case T_STR:
        case T_LIST:
            break;
        case T_INT:
            errno = 0;
            iv = strtoll(value, &end, 10);
            if (errno || end == value || *end != '\0') {
                core_err_set(err, errlen, "%s: [%s] %s: bad integer '%s'", origin, section, k->key,
                             value);
                return CORE_ECONFIG;
            }
            dv = (double)iv;
            break;
        case T_DOUBLE:
            errno = 0;
            dv = strtod(value, &end);
            if (errno || end == value || *end != '\0' || !isfinite(dv)) {
                core_err_set(err, errlen, "%s: [%s] %s: bad number '%s'", origin, section, k->key,
                             value);
                return CORE_ECONFIG;
            }
            break;
        case T_BOOL:
            if (!parse_bool(value, &b)) {
                core_err_set(err, errlen, "%s: [%s] %s: bad boolean '%s' (use true or false)",
                             origin, section, k->key, value);
                return CORE_ECONFIG;
            }
            iv = b;
            break;
        case T_DURATION:
            if (core_config_parse_duration(value, &iv) != CORE_OK) {
                core_err_set(err, errlen,
                             "%s: [%s] %s: bad duration '%s' (use e.g. 500ms, 30s, 15m, 2h, 1d)",
                             origin, section, k->key, value);
                return CORE_ECONFIG;
            }
            dv = (double)iv;
            break;
        case T_SIZE:
            if (core_config_parse_size(value, &iv) != CORE_OK) {
                core_err_set(err, errlen, "%s: [%s] %s: bad size '%s' (use e.g. 4096, 64KiB, 8MiB)",
                             origin, section, k->key, value);
                return CORE_ECONFIG;
            }
            dv = (double)iv;
            break;
        }
        if ((k->type == T_INT || k->type == T_DOUBLE || k->type == T_DURATION ||
             k->type == T_SIZE) &&
            (dv < k->min || dv > k->max)) {
            core_err_set(err, errlen, "%s: [%s] %s: %s is out of range (%g to %g%s)", origin,
                         section, k->key, value, k->min, k->max,
                         k->type == T_DURATION ? " ms"
                         : k->type == T_SIZE   ? " bytes"
                                               : "");
            return CORE_ECONFIG;
        }
    }
    copy = strdup(value);
    if (!copy)
        return CORE_ENOMEM;
    free(sl->str);
    sl->str = copy;
    sl->i = iv;
    sl->d = k->type == T_INT || k->type == T_BOOL ? (double)iv : dv;
    snprintf(sl->origin, sizeof sl->origin, "%s", origin);
    return CORE_OK;
}

/* ---- table lookups ----------------------------------------------------- */

static int is_template_kind(const char *kind, size_t len)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const char *s = keys[i].section;
        size_t sl = strlen(s);
        if (sl > 2 && strcmp(s + sl - 2, ".*") == 0 && sl - 2 == len && strncmp(s, kind, len) == 0)
            return 1;
    }
    return 0;
}

static int section_known(const char *section)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].section, section) == 0)
            return 1;
    }
    return 0;
}

/* Row of (section, key), where section is a fixed section or "kind.*". */
static int find_row(const char *section, const char *key)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
            return (int)i;
    }
    return -1;
}

static int valid_instance_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return 0;
    }
    return 1;
}

static instance *find_instance(const core_config_t *cfg, const char *kind, const char *name)
{
    for (size_t i = 0; i < cfg->n_inst; i++) {
        if (strcmp(cfg->inst[i].kind, kind) == 0 && strcmp(cfg->inst[i].name, name) == 0)
            return &cfg->inst[i];
    }
    return NULL;
}

static core_err_t add_instance(core_config_t *cfg, const char *kind, const char *name,
                               instance **out)
{
    instance *grown = realloc(cfg->inst, (cfg->n_inst + 1) * sizeof *grown);
    instance *in;
    if (!grown)
        return CORE_ENOMEM;
    cfg->inst = grown;
    in = &cfg->inst[cfg->n_inst];
    memset(in, 0, sizeof *in);
    in->kind = strdup(kind);
    in->name = strdup(name);
    in->vals = calloc(NKEYS, sizeof(slot));
    in->set = calloc(NKEYS, 1);
    if (!in->kind || !in->name || !in->vals || !in->set) {
        free(in->kind);
        free(in->name);
        free(in->vals);
        free(in->set);
        return CORE_ENOMEM;
    }
    cfg->n_inst++;
    *out = in;
    return CORE_OK;
}

static core_err_t add_passthrough(core_config_t *cfg, const char *section, const char *key,
                                  const char *value, const char *origin)
{
    passthrough *grown, *p;
    for (size_t i = 0; i < cfg->n_pt; i++) {
        p = &cfg->pt[i];
        if (strcmp(p->section, section) == 0 && strcmp(p->key, key) == 0) {
            char *v = strdup(value);
            if (!v)
                return CORE_ENOMEM;
            free(p->value);
            p->value = v;
            snprintf(p->origin, sizeof p->origin, "%s", origin);
            return CORE_OK;
        }
    }
    grown = realloc(cfg->pt, (cfg->n_pt + 1) * sizeof *grown);
    if (!grown)
        return CORE_ENOMEM;
    cfg->pt = grown;
    p = &cfg->pt[cfg->n_pt];
    p->section = strdup(section);
    p->key = strdup(key);
    p->value = strdup(value);
    snprintf(p->origin, sizeof p->origin, "%s", origin);
    if (!p->section || !p->key || !p->value) {
        free(p->section);
        free(p->key);
        free(p->value);
        return CORE_ENOMEM;
    }
    cfg->n_pt++;
    return CORE_OK;
}

/* Sets section.key = value from origin. */
static core_err_t set_one(core_config_t *cfg, const char *section, const char *key,
                          const char *value, const char *origin, char *err, size_t errlen)
{
    const char *dot = strchr(section, '.');
    int row;

    if (dot) {
        char kind[64], tmpl[70];
        size_t kl = (size_t)(dot - section);
        instance *in;
        core_err_t rc;
        if (kl >= sizeof kind || !is_template_kind(section, kl)) {
            core_err_set(err, errlen, "%s: unknown section [%s]", origin, section);
            return CORE_ECONFIG;
        }
        memcpy(kind, section, kl);
        kind[kl] = '\0';
        if (!valid_instance_name(dot + 1)) {
            core_err_set(err, errlen, "%s: [%s]: bad %s name '%s' (letters, digits, '_' and '-')",
                         origin, section, kind, dot + 1);
            return CORE_ECONFIG;
        }
        snprintf(tmpl, sizeof tmpl, "%s.*", kind);
        row = find_row(tmpl, key);
        if (row < 0) {
            core_err_set(err, errlen, "%s: [%s] unknown key '%s'", origin, section, key);
            return CORE_ECONFIG;
        }
        in = find_instance(cfg, kind, dot + 1);
        if (!in && (rc = add_instance(cfg, kind, dot + 1, &in)) != CORE_OK)
            return rc;
        rc = parse_into(&keys[row], &in->vals[row], value, origin, section, err, errlen);
        if (rc == CORE_OK)
            in->set[row] = 1;
        return rc;
    }
    if (is_template_kind(section, strlen(section)) || !section_known(section)) {
        core_err_set(err, errlen, "%s: unknown section [%s]%s", origin, section,
                     is_template_kind(section, strlen(section)) ? " (name it, e.g. [feed.NAME])"
                                                                : "");
        return CORE_ECONFIG;
    }
    row = find_row(section, key);
    if (row < 0) {
        if (strcmp(section, "kafka") == 0 && strchr(key, '.'))
            return add_passthrough(cfg, section, key, value, origin);
        core_err_set(err, errlen, "%s: [%s] unknown key '%s'", origin, section, key);
        return CORE_ECONFIG;
    }
    return parse_into(&keys[row], &cfg->vals[row], value, origin, section, err, errlen);
}

/* ---- object life ------------------------------------------------------- */

core_err_t core_config_new(core_config_t **out)
{
    core_config_t *cfg = calloc(1, sizeof *cfg);
    char err[256];

    *out = NULL;
    if (!cfg)
        return CORE_ENOMEM;
    for (size_t i = 0; i < NKEYS; i++) {
        core_err_t rc = parse_into(&keys[i], &cfg->vals[i], keys[i].def, "default",
                                   keys[i].section, err, sizeof err);
        /* A default that fails its own row is a bug in core_config_keys.h. */
        assert(rc != CORE_ECONFIG);
        if (rc != CORE_OK) {
            core_config_free(cfg);
            return rc;
        }
    }
    *out = cfg;
    return CORE_OK;
}

void core_config_free(core_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < NKEYS; i++)
        free(cfg->vals[i].str);
    for (size_t i = 0; i < cfg->n_inst; i++) {
        for (size_t j = 0; j < NKEYS; j++)
            free(cfg->inst[i].vals[j].str);
        free(cfg->inst[i].vals);
        free(cfg->inst[i].set);
        free(cfg->inst[i].kind);
        free(cfg->inst[i].name);
    }
    free(cfg->inst);
    for (size_t i = 0; i < cfg->n_pt; i++) {
        free(cfg->pt[i].section);
        free(cfg->pt[i].key);
        free(cfg->pt[i].value);
    }
    free(cfg->pt);
    free(cfg);
}

/* ---- INI loading ------------------------------------------------------- */

typedef struct load_ctx {
    core_config_t *cfg;
    const char *name;
    const char *text; /* string source */
    FILE *fp;         /* file source */
    int line;
    int err_line; /* line of the error the handler reported */
    int truncated;
    char *err;
    size_t errlen;
    core_err_t rc;
} load_ctx;

/* fgets-like reader for inih that counts lines and notices lines too long
 * for inih's buffer. */
/* libinih keeps at most 49 bytes of a [section] name (its MAX_SECTION is
 * 50, fixed when the library is built) and cuts the rest silently, so two
 * long [feed.NAME] sections would merge. Longer names are an error. */
#define INI_SECTION_MAX 49

static int section_too_long(const char *line)
{
    const char *p = line, *e;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '[')
        return 0;
    e = strchr(p + 1, ']');
    return (e ? (size_t)(e - p - 1) : strcspn(p + 1, "\r\n")) > INI_SECTION_MAX;
}

static char *reader(char *buf, int size, void *stream)
{
    load_ctx *lc = stream;
    int n = 0;
    int c;

    if (lc->fp) {
        while (n < size - 1 && (c = fgetc(lc->fp)) != EOF) {
            buf[n++] = (char)c;
            if (c == '\n')
                break;
        }
        if (n == 0)
            return NULL;
        if (buf[n - 1] != '\n' && n == size - 1 && !feof(lc->fp))
            lc->truncated = 1;
    } else {
        if (*lc->text == '\0')
            return NULL;
        while (n < size - 1 && *lc->text) {
            buf[n++] = *lc->text;
            if (*lc->text++ == '\n')
                break;
        }
        if (buf[n - 1] != '\n' && n == size - 1 && *lc->text)
            lc->truncated = 1;
    }
    buf[n] = '\0';
    if (lc->truncated) {
        /* Report at the handler or the end; stop feeding inih. */
        if (lc->rc == CORE_OK) {
            core_err_set(lc->err, lc->errlen, "%s:%d: line longer than %d bytes", lc->name,
                         lc->line + 1, size - 2);
            lc->rc = CORE_ECONFIG;
        }
        return NULL;
    }
    lc->line++;
    if (section_too_long(buf)) {
        if (lc->rc == CORE_OK) {
            core_err_set(lc->err, lc->errlen, "%s:%d: section name longer than %d bytes", lc->name,
                         lc->line, INI_SECTION_MAX);
            lc->rc = CORE_ECONFIG;
        }
        return NULL;
    }
    return buf;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *lc = user;
    char origin[128];

    if (lc->rc != CORE_OK)
        return 0;
    snprintf(origin, sizeof origin, "%s:%d", lc->name, lc->line);
    if (section[0] == '\0') {
        core_err_set(lc->err, lc->errlen, "%s: key '%s' is outside any [section]", origin, name);
        lc->rc = CORE_ECONFIG;
        lc->err_line = lc->line;
        return 0;
    }
    lc->rc = set_one(lc->cfg, section, name, value ? value : "", origin, lc->err, lc->errlen);
    if (lc->rc != CORE_OK)
        lc->err_line = lc->line;
    return lc->rc == CORE_OK;
}

static core_err_t load(load_ctx *lc)
{
    int r = ini_parse_stream(reader, lc, handler, lc);
    /* inih goes on after a syntax error; an earlier syntax error (say a
     * broken [section line) explains later key errors, so it wins. */
    if (lc->rc != CORE_OK && !(r > 0 && lc->err_line > r))
        return lc->rc;
    if (r > 0) {
        core_err_set(lc->err, lc->errlen, "%s:%d: syntax error (expected [section] or key = value)",
                     lc->name, r);
        return CORE_ECONFIG;
    }
    if (r < 0) {
        core_err_set(lc->err, lc->errlen, "%s: cannot parse (out of memory)", lc->name);
        return CORE_ENOMEM;
    }
    return CORE_OK;
}

core_err_t core_config_load_file(core_config_t *cfg, const char *path, char *err, size_t errlen)
{
    load_ctx lc = {.cfg = cfg, .name = path, .err = err, .errlen = errlen};
    struct stat st = {0};
    core_err_t rc;

    /* fopen succeeds on a directory and reading it then fails, which the
     * line reader would take for an empty file: every default, silently.
     * Checked before opening too, so that a FIFO without a writer is refused
     * rather than waited for. */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        goto not_regular;
    lc.fp = fopen(path, "r");
    if (!lc.fp) {
        core_err_set(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return CORE_EIO;
    }
    if (fstat(fileno(lc.fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(lc.fp);
        goto not_regular;
    }
    rc = load(&lc);
    if (rc == CORE_OK && ferror(lc.fp)) {
        core_err_set(err, errlen, "%s: read error", path);
        rc = CORE_EIO;
    }
    fclose(lc.fp);
    return rc;
not_regular:
    core_err_set(err, errlen, "%s: cannot read: %s", path,
                 S_ISDIR(st.st_mode) ? "is a directory, not a configuration file"
                                     : "not a regular file");
    return CORE_EIO;
}

core_err_t core_config_load_string(core_config_t *cfg, const char *name, const char *text,
                                   char *err, size_t errlen)
{
    load_ctx lc = {.cfg = cfg, .name = name, .text = text, .err = err, .errlen = errlen};
    return load(&lc);
}

/* ---- environment and flags ------------------------------------------- */

static void env_name(const keydef *k, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "FINSENT_%s_%s", k->section, k->key);
    for (size_t i = 0; i < n && i < cap; i++)
        buf[i] = buf[i] == '.' ? '_' : (char)toupper((unsigned char)buf[i]);
}

core_err_t core_config_apply_env(core_config_t *cfg, char *const *envp, char *err, size_t errlen)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char name[128], origin[160];
        size_t nl;
        if (strchr(keys[i].section, '*'))
            continue;
        env_name(&keys[i], name, sizeof name);
        nl = strlen(name);
        for (char *const *e = envp; e && *e; e++) {
            if (strncmp(*e, name, nl) == 0 && (*e)[nl] == '=') {
                core_err_t rc;
                snprintf(origin, sizeof origin, "environment %s", name);
                rc = parse_into(&keys[i], &cfg->vals[i], *e + nl + 1, origin, keys[i].section,
                                err, errlen);
                if (rc != CORE_OK)
                    return rc;
            }
        }
    }
    return CORE_OK;
}

core_err_t core_config_set(core_config_t *cfg, const char *assignment, char *err, size_t errlen)
{
    const char *eq = strchr(assignment, '=');
    char path[256], section[260];
    const char *key;
    char *dot;
    size_t pl;

    if (!eq || eq == assignment) {
        core_err_set(err, errlen, "--set %s: expected section.key=value", assignment);
        return CORE_ECONFIG;
    }
    pl = (size_t)(eq - assignment);
    if (pl >= sizeof path) {
        core_err_set(err, errlen, "--set: key too long");
        return CORE_ECONFIG;
    }
    memcpy(path, assignment, pl);
    path[pl] = '\0';
    dot = strchr(path, '.');
    if (!dot || dot == path || dot[1] == '\0') {
        core_err_set(err, errlen, "--set %s: expected section.key=value", assignment);
        return CORE_ECONFIG;
    }
    *dot = '\0';
    /* Instance kinds take one more component: rule.NAME.key. */
    if (is_template_kind(path, strlen(path))) {
        char *dot2 = strchr(dot + 1, '.');
        if (!dot2 || dot2[1] == '\0') {
            core_err_set(err, errlen, "--set %s: expected %s.NAME.key=value", assignment, path);
            return CORE_ECONFIG;
        }
        *dot2 = '\0';
        snprintf(section, sizeof section, "%s.%s", path, dot + 1);
        key = dot2 + 1;
    } else {
        snprintf(section, sizeof section, "%s", path);
        key = dot + 1;
    }
    return set_one(cfg, section, key, eq + 1, "--set", err, errlen);
}

/* ---- reads ------------------------------------------------------------- */

/* Bits of the types each getter reads. */
#define READS_STR (1u << T_STR | 1u << T_LIST)
#define READS_INT (1u << T_INT | 1u << T_DURATION | 1u << T_SIZE)
#define READS_DOUBLE (1u << T_DOUBLE)
#define READS_BOOL (1u << T_BOOL)
#define READS_ANY 0x7fu

/* A getter called with a key it cannot read is a bug in the caller, not
 * something the configuration can cause: say so and stop, in every build
 * (an assert compiled out would read out of bounds or the wrong field). */
static void misuse(const char *getter, int key, const char *why) __attribute__((noreturn));

static void misuse(const char *getter, int key, const char *why)
{
    if (key >= 0 && (size_t)key < NKEYS)
        fprintf(stderr, "core_config: bug: %s(%s.%s): %s\n", getter, keys[key].section,
                keys[key].key, why);
    else
        fprintf(stderr, "core_config: bug: %s(%d): not a config key\n", getter, key);
    abort();
}

/* Slot of row key for instance name (NULL: a fixed section's key), after
 * checking that getter may read it. */
static const slot *lookup(const core_config_t *cfg, int key, const char *name, unsigned reads,
                          const char *getter)
{
    const keydef *k;
    const char *star;
    const instance *in;
    char kind[64];

    if (key < 0 || (size_t)key >= NKEYS)
        misuse(getter, key, "not a config key");
    k = &keys[key];
    if (!(reads & 1u << k->type)) {
        char why[64];
        snprintf(why, sizeof why, "the key is a %s", type_name(k->type));
        misuse(getter, key, why);
    }
    star = strchr(k->section, '*');
    if (!name) {
        if (star)
            misuse(getter, key, "a template key needs an instance name");
        return &cfg->vals[key];
    }
    if (!star)
        misuse(getter, key, "not a template key (no instance)");
    snprintf(kind, sizeof kind, "%.*s", (int)(star - k->section - 1), k->section);
    in = find_instance(cfg, kind, name);
    if (in && in->set[key])
        return &in->vals[key];
    return &cfg->vals[key];
}

const char *core_config_str(const core_config_t *cfg, core_config_str_key_t key)
{
    const slot *s = lookup(cfg, (int)key, NULL, READS_STR, __func__);
    return s->str ? s->str : "";
}

int64_t core_config_int(const core_config_t *cfg, core_config_int_key_t key)
{
    return lookup(cfg, (int)key, NULL, READS_INT, __func__)->i;
}

double core_config_double(const core_config_t *cfg, core_config_double_key_t key)
{
    return lookup(cfg, (int)key, NULL, READS_DOUBLE, __func__)->d;
}

int core_config_bool(const core_config_t *cfg, core_config_bool_key_t key)
{
    return lookup(cfg, (int)key, NULL, READS_BOOL, __func__)->i != 0;
}

const char *core_config_inst_str(const core_config_t *cfg, core_config_str_key_t key,
                                 const char *name)
{
    const slot *s = lookup(cfg, (int)key, name, READS_STR, __func__);
    return s->str ? s->str : "";
}

int64_t core_config_inst_int(const core_config_t *cfg, core_config_int_key_t key, const char *name)
{
    return lookup(cfg, (int)key, name, READS_INT, __func__)->i;
}

double core_config_inst_double(const core_config_t *cfg, core_config_double_key_t key,
                               const char *name)
{
    return lookup(cfg, (int)key, name, READS_DOUBLE, __func__)->d;
}

int core_config_inst_bool(const core_config_t *cfg, core_config_bool_key_t key, const char *name)
{
    return lookup(cfg, (int)key, name, READS_BOOL, __func__)->i != 0;
}

const char *core_config_origin(const core_config_t *cfg, core_config_key_t key)
{
    return lookup(cfg, key, NULL, READS_ANY, __func__)->origin;
}

const char *core_config_inst_origin(const core_config_t *cfg, core_config_key_t key,
                                    const char *name)
{
    return lookup(cfg, key, name, READS_ANY, __func__)->origin;
}

const char *core_config_key_name(core_config_key_t key)
{
    if (key < 0 || (size_t)key >= NKEYS)
        misuse(__func__, key, "not a config key");
    return keys[key].key;
}

size_t core_config_instance_count(const core_config_t *cfg, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_inst; i++)
        n += strcmp(cfg->inst[i].kind, kind) == 0;
    return n;
}

const char *core_config_instance_name(const core_config_t *cfg, const char *kind, size_t idx)
{
    for (size_t i = 0; i < cfg->n_inst; i++) {
        if (strcmp(cfg->inst[i].kind, kind) == 0 && idx-- == 0)
            return cfg->inst[i].name;
    }
    return NULL;
}

size_t core_config_passthrough_count(const core_config_t *cfg, const char *section)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_pt; i++)
        n += strcmp(cfg->pt[i].section, section) == 0;
    return n;
}

void core_config_passthrough(const core_config_t *cfg, const char *section, size_t idx,
                             const char **key, const char **value, const char **origin)
{
    for (size_t i = 0; i < cfg->n_pt; i++) {
        if (strcmp(cfg->pt[i].section, section) == 0 && idx-- == 0) {
            *key = cfg->pt[i].key;
            *value = cfg->pt[i].value;
            *origin = cfg->pt[i].origin;
            return;
        }
    }
    *key = *value = *origin = NULL;
}

core_err_t core_config_split_list(const char *list, char ***items, size_t *n)
{
    size_t len = strlen(list), count = 1, k = 0;
    char **arr, *buf, *p;

    for (const char *c = list; *c; c++)
        count += *c == ',';
    /* One block: the pointer array, then a copy of the string. */
    arr = malloc(count * sizeof(char *) + len + 1);
    if (!arr)
        return CORE_ENOMEM;
    buf = (char *)(arr + count);
    memcpy(buf, list, len + 1);
    for (p = buf;;) {
        char *comma = strchr(p, ','), *s = p, *e;
        if (comma)
            *comma = '\0';
        while (*s == ' ' || *s == '\t')
            s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (*s)
            arr[k++] = s;
        if (!comma)
            break;
        p = comma + 1;
    }
    *items = arr;
    *n = k;
    return CORE_OK;
}

/* ---- printing ---------------------------------------------------------- */

void core_config_print_defaults(FILE *out)
{
    const char *cur = NULL;
    fprintf(out, "# finsent configuration: every key with its default.\n"
                 "# Generated by `finsent config --defaults` from the key table.\n"
                 "# Precedence, lowest first: this file, then environment variables\n"
                 "# FINSENT_<SECTION>_<KEY>, then --set section.key=value flags.\n"
                 "# Durations: 500ms, 30s, 15m, 2h, 1d (or sums: 1h30m). Sizes: 4096, 64KiB, 8MiB.\n"
                 "# [kafka] also takes any librdkafka property (e.g. security.protocol = SASL_SSL).\n");
    for (size_t i = 0; i < NKEYS; i++) {
        const keydef *k = &keys[i];
        int tmpl = strchr(k->section, '*') != NULL;
        if (!cur || strcmp(cur, k->section) != 0) {
            cur = k->section;
            if (tmpl) {
                char kind[64];
                snprintf(kind, sizeof kind, "%.*s", (int)(strlen(cur) - 2), cur);
                fprintf(out, "\n# One [%s.NAME] section per %s, e.g.:\n# [%s.example]\n", kind,
                        kind, kind);
            } else {
                fprintf(out, "\n[%s]\n", cur);
            }
        }
        fprintf(out, "# %s (%s)\n%s%s = %s\n", k->help, type_name(k->type), tmpl ? "# " : "",
                k->key, k->def);
    }
}

void core_config_dump(const core_config_t *cfg, FILE *out)
{
    const char *cur = NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        const keydef *k = &keys[i];
        int secret = strstr(k->key, "password") != NULL && cfg->vals[i].str[0];
        if (strchr(k->section, '*'))
            continue;
        if (!cur || strcmp(cur, k->section) != 0) {
            cur = k->section;
            fprintf(out, "\n[%s]\n", cur);
            for (size_t j = 0; j < cfg->n_pt; j++) {
                if (strcmp(cfg->pt[j].section, cur) == 0)
                    fprintf(out, "%s = %s  ; %s\n", cfg->pt[j].key,
                            strstr(cfg->pt[j].key, "password") ? "***" : cfg->pt[j].value,
                            cfg->pt[j].origin);
            }
        }
        fprintf(out, "%s = %s  ; %s\n", k->key, secret ? "***" : cfg->vals[i].str,
                cfg->vals[i].origin);
    }
    for (size_t j = 0; j < cfg->n_inst; j++) {
        const instance *in = &cfg->inst[j];
        fprintf(out, "\n[%s.%s]\n", in->kind, in->name);
        for (size_t i = 0; i < NKEYS; i++) {
            char tmpl[70];
            snprintf(tmpl, sizeof tmpl, "%s.*", in->kind);
            if (strcmp(keys[i].section, tmpl) != 0)
                continue;
            fprintf(out, "%s = %s  ; %s\n", keys[i].key,
                    in->set[i] ? in->vals[i].str : cfg->vals[i].str,
                    in->set[i] ? in->vals[i].origin : "default");
        }
    }
}
