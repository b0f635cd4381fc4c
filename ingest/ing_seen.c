/*
 * ing_seen: see ing_seen.h. A chained hash table keyed by "feed\x1fid"
 * (FNV-1a), doubled when the load passes 1, under one mutex.
 */
#include "ingest/ing_seen.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core_hash.h"

enum { ST_PENDING = 0, ST_SEEN = 1 };

typedef struct entry {
    char *key;
    int64_t ms;
    int state;
    struct entry *next;
} entry;

struct ing_seen {
    pthread_mutex_t mu;
    entry **tab;
    size_t cap, n, nseen;
    int64_t ttl_ms;
    char *path;
    int dirty;
    size_t skipped;
    int journal_on;
    ing_seen_rec_t *journal;
    size_t njournal, capjournal;
};

static char *make_key(const char *feed, const char *id)
{
    size_t a = strlen(feed), b = strlen(id);
    char *k = malloc(a + b + 2);
    if (!k)
        return NULL;
    memcpy(k, feed, a);
    k[a] = '\x1f';
    memcpy(k + a + 1, id, b + 1);
    return k;
}

static entry **find(ing_seen_t *s, const char *key)
{
    entry **pp = &s->tab[core_fnv64_str(CORE_FNV64_BASIS, key) & (s->cap - 1)];
    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    return pp;
}

static int grow(ing_seen_t *s)
{
    size_t ncap = s->cap * 2;
    entry **nt = calloc(ncap, sizeof *nt);
    if (!nt)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        entry *e = s->tab[i];
        while (e) {
            entry *next = e->next;
            size_t b = core_fnv64_str(CORE_FNV64_BASIS, e->key) & (ncap - 1);
            e->next = nt[b];
            nt[b] = e;
            e = next;
        }
    }
    free(s->tab);
    s->tab = nt;
    s->cap = ncap;
    return 0;
}

/* insert takes key (on success) and adds it with state and ms. */
static int insert(ing_seen_t *s, char *key, int state, int64_t ms)
{
    entry *e;
    if (s->n + 1 > s->cap && grow(s) != 0)
        return -1;
    e = malloc(sizeof *e);
    if (!e)
        return -1;
    entry **pp = find(s, key);
    e->key = key;
    e->ms = ms;
    e->state = state;
    e->next = *pp;
    *pp = e;
    s->n++;
    if (state == ST_SEEN)
        s->nseen++;
    return 0;
}

static void remove_at(ing_seen_t *s, entry **pp)
{
    entry *e = *pp;
    *pp = e->next;
    if (e->state == ST_SEEN)
        s->nseen--;
    s->n--;
    free(e->key);
    free(e);
}

/* ---- file format ---------------------------------------------------------- */

static void put_escaped(FILE *f, const char *s, const char *end)
{
    for (; s < end; s++) {
        switch (*s) {
        case '\t':
            fputs("\\t", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* unescape in place; returns 0, or -1 on a bad escape. */
static int unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s != '\\') {
            *o++ = *s;
            continue;
        }
        s++;
        if (*s == 't')
            *o++ = '\t';
        else if (*s == 'n')
            *o++ = '\n';
        else if (*s == 'r')
            *o++ = '\r';
        else if (*s == '\\')
            *o++ = '\\';
        else
            return -1;
    }
    *o = '\0';
    return 0;
}

static core_err_t load(ing_seen_t *s, int64_t now_ms, char *err, size_t errlen)
{
    FILE *f = fopen(s->path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int first = 1;
    core_err_t rc = CORE_OK;

    if (!f) {
        if (errno == ENOENT)
            return CORE_OK;
        snprintf(err, errlen, "%s: cannot open: %s", s->path, strerror(errno));
        return CORE_EIO;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        char *t1, *t2, *end;
        long long ms;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (first) {
            first = 0;
            if (strcmp(line, "finsent-seen 1") == 0)
                continue;
            s->skipped++; /* no header: read on, line by line */
        }
        t1 = strchr(line, '\t');
        t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t1 || !t2) {
            s->skipped++;
            continue;
        }
        *t1 = *t2 = '\0';
        errno = 0;
        ms = strtoll(line, &end, 10);
        if (errno || *end || end == line || unescape(t1 + 1) || unescape(t2 + 1) || !t2[1]) {
            s->skipped++;
            continue;
        }
        if (ms + s->ttl_ms < now_ms)
            continue; /* expired */
        char *key = make_key(t1 + 1, t2 + 1);
        if (!key) {
            rc = CORE_ENOMEM;
            break;
        }
        entry **pp = find(s, key);
        if (*pp) {
            if ((*pp)->ms < ms)
                (*pp)->ms = ms;
            free(key);
        } else if (insert(s, key, ST_SEEN, ms) != 0) {
            free(key);
            rc = CORE_ENOMEM;
            break;
        }
    }
    if (rc == CORE_OK && ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", s->path, strerror(errno));
        rc = CORE_EIO;
    }
    free(line);
    fclose(f);
    return rc;
}

core_err_t ing_seen_open(const char *path, int64_t ttl_ms, int64_t now_ms, ing_seen_t **out,
                         char *err, size_t errlen)
{
    ing_seen_t *s = calloc(1, sizeof *s);
    core_err_t rc = CORE_OK;

    *out = NULL;
    if (!s)
        return CORE_ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    s->ttl_ms = ttl_ms;
    s->cap = 64;
    s->tab = calloc(s->cap, sizeof *s->tab);
    if (!s->tab)
        rc = CORE_ENOMEM;
    if (rc == CORE_OK && path && *path) {
        s->path = strdup(path);
        rc = s->path ? load(s, now_ms, err, errlen) : CORE_ENOMEM;
    }
    if (rc != CORE_OK) {
        ing_seen_free(s);
        return rc;
    }
    *out = s;
    return CORE_OK;
}

int ing_seen_claim(ing_seen_t *s, const char *feed, const char *id)
{
    char *key = make_key(feed, id);
    int r;
    if (!key)
        return -1;
    pthread_mutex_lock(&s->mu);
    if (*find(s, key)) {
        r = 0;
        free(key);
    } else if (insert(s, key, ST_PENDING, 0) != 0) {
        r = -1;
        free(key);
    } else {
        r = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

core_err_t ing_seen_commit(ing_seen_t *s, const char *feed, const char *id, int64_t now_ms)
{
    char *key = make_key(feed, id);
    core_err_t rc = CORE_OK;
    entry **pp;
    if (!key)
        return CORE_ENOMEM;
    pthread_mutex_lock(&s->mu);
    pp = find(s, key);
    if (*pp) {
        if ((*pp)->state != ST_SEEN)
            s->nseen++;
        (*pp)->state = ST_SEEN;
        (*pp)->ms = now_ms;
        free(key);
    } else if (insert(s, key, ST_SEEN, now_ms) != 0) {
        free(key);
        rc = CORE_ENOMEM;
    }
    if (rc == CORE_OK)
        s->dirty = 1;
    if (rc == CORE_OK && s->journal_on) {
        if (s->njournal == s->capjournal) {
            size_t ncap = s->capjournal ? 2 * s->capjournal : 64;
            ing_seen_rec_t *nj = realloc(s->journal, ncap * sizeof *nj);
            if (nj) {
                s->journal = nj;
                s->capjournal = ncap;
            }
        }
        if (s->njournal < s->capjournal) {
            ing_seen_rec_t *r = &s->journal[s->njournal];
            r->feed = strdup(feed);
            r->id = strdup(id);
            r->ms = now_ms;
            if (r->feed && r->id)
                s->njournal++;
            else {
                free(r->feed);
                free(r->id);
                rc = CORE_ENOMEM;
            }
        } else {
            rc = CORE_ENOMEM;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void ing_seen_journal_enable(ing_seen_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->journal_on = 1;
    pthread_mutex_unlock(&s->mu);
}

core_err_t ing_seen_take_journal(ing_seen_t *s, ing_seen_rec_t **recs, size_t *n)
{
    pthread_mutex_lock(&s->mu);
    *recs = s->journal;
    *n = s->njournal;
    s->journal = NULL;
    s->njournal = s->capjournal = 0;
    pthread_mutex_unlock(&s->mu);
    return CORE_OK;
}

void ing_seen_journal_free(ing_seen_rec_t *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(recs[i].feed);
        free(recs[i].id);
    }
    free(recs);
}

int64_t ing_seen_ttl(const ing_seen_t *s)
{
    return s->ttl_ms;
}

void ing_seen_release(ing_seen_t *s, const char *feed, const char *id)
{
    char *key = make_key(feed, id);
    entry **pp;
    if (!key)
        return;
    pthread_mutex_lock(&s->mu);
    pp = find(s, key);
    if (*pp && (*pp)->state == ST_PENDING)
        remove_at(s, pp);
    pthread_mutex_unlock(&s->mu);
    free(key);
}

int ing_seen_is_seen(ing_seen_t *s, const char *feed, const char *id)
{
    char *key = make_key(feed, id);
    int r;
    if (!key)
        return 0;
    pthread_mutex_lock(&s->mu);
    entry **pp = find(s, key);
    r = *pp && (*pp)->state == ST_SEEN;
    pthread_mutex_unlock(&s->mu);
    free(key);
    return r;
}

static core_err_t write_file(ing_seen_t *s, char *err, size_t errlen)
{
    size_t pl = strlen(s->path);
    char *tmp = malloc(pl + 32), *dir = NULL;
    FILE *f = NULL;
    int fd = -1;
    core_err_t rc = CORE_EIO;

    if (!tmp)
        return CORE_ENOMEM;
    snprintf(tmp, pl + 32, "%s.tmp.%ld", s->path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    fd = -1; /* owned by f */
    fputs("finsent-seen 1\n", f);
    for (size_t i = 0; i < s->cap; i++)
        for (entry *e = s->tab[i]; e; e = e->next) {
            if (e->state != ST_SEEN)
                continue;
            char *sep = strchr(e->key, '\x1f');
            fprintf(f, "%lld\t", (long long)e->ms);
            put_escaped(f, e->key, sep);
            fputc('\t', f);
            put_escaped(f, sep + 1, sep + 1 + strlen(sep + 1));
            fputc('\n', f);
        }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        snprintf(err, errlen, "%s: write: %s", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        goto out;
    }
    if (fclose(f) != 0) {
        snprintf(err, errlen, "%s: close: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, s->path) != 0) {
        snprintf(err, errlen, "%s: rename to %s: %s", tmp, s->path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    dir = strdup(s->path);
    if (dir) {
        int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    rc = CORE_OK;
out:
    free(dir);
    free(tmp);
    return rc;
}

core_err_t ing_seen_save(ing_seen_t *s, int64_t now_ms, char *err, size_t errlen)
{
    core_err_t rc = CORE_OK;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->cap; i++) {
        entry **pp = &s->tab[i];
        while (*pp) {
            if ((*pp)->state == ST_SEEN && (*pp)->ms + s->ttl_ms < now_ms) {
                remove_at(s, pp);
                s->dirty = 1;
            } else {
                pp = &(*pp)->next;
            }
        }
    }
    if (s->dirty && s->path) {
        rc = write_file(s, err, errlen);
        if (rc == CORE_OK)
            s->dirty = 0;
    } else if (!s->path) {
        s->dirty = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

size_t ing_seen_count(ing_seen_t *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nseen;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t ing_seen_pending(ing_seen_t *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n - s->nseen;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t ing_seen_load_skipped(ing_seen_t *s)
{
    return s->skipped;
}

void ing_seen_free(ing_seen_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->tab && i < s->cap; i++) {
        entry *e = s->tab[i];
        while (e) {
            entry *next = e->next;
            free(e->key);
            free(e);
            e = next;
        }
    }
    free(s->tab);
    free(s->path);
    ing_seen_journal_free(s->journal, s->njournal);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
