/*
 * cls_safetensors: see cls_safetensors.h. The JSON header is parsed with
 * jansson after the length checks; tensor entries are copied into one array
 * sorted by offset, which makes the tiling check a single pass. Names are
 * duplicated into the index so the JSON tree can be dropped at once.
 */
#include "classify/cls_safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core_alloc.h"

struct cls_st {
    cls_st_tensor_t *t; /* sorted by begin */
    size_t n;
    void *map; /* when cls_st_open mapped the file */
    size_t map_len;
};

static const struct {
    const char *name;
    cls_dtype_t dt;
    size_t size;
} dtypes[] = {
    {"F64", CLS_DT_F64, 8},   {"F32", CLS_DT_F32, 4}, {"F16", CLS_DT_F16, 2},
    {"BF16", CLS_DT_BF16, 2}, {"I64", CLS_DT_I64, 8}, {"I32", CLS_DT_I32, 4},
    {"I16", CLS_DT_I16, 2},   {"I8", CLS_DT_I8, 1},   {"U8", CLS_DT_U8, 1},
    {"BOOL", CLS_DT_BOOL, 1},
};

const char *cls_dtype_name(cls_dtype_t dt)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dt == dt)
            return dtypes[i].name;
    return "?";
}

size_t cls_dtype_size(cls_dtype_t dt)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dt == dt)
            return dtypes[i].size;
    return 0;
}

uint64_t cls_st_elems(const cls_st_tensor_t *t)
{
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (uint64_t)t->shape[i];
    return n;
}

void cls_st_free(cls_st_t *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        core_free((char *)st->t[i].name);
    core_free(st->t);
    if (st->map)
        munmap(st->map, st->map_len);
    core_free(st);
}

static int by_begin(const void *a, const void *b)
{
    const cls_st_tensor_t *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* A JSON integer that is >= 0, as uint64. */
static int json_u64(json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

static core_err_t parse_entry(const char *name, json_t *e, cls_st_tensor_t *t, char *err,
                              size_t errlen)
{
    json_t *dt = json_object_get(e, "dtype"), *shape = json_object_get(e, "shape"),
           *offs = json_object_get(e, "data_offsets");
    const char *key;
    json_t *val;
    uint64_t elems = 1, bytes;
    size_t i, es = 0;

    if (!json_is_object(e)) {
        core_err_set(err, errlen, "safetensors: tensor '%s': entry is not an object", name);
        return CORE_EMODEL;
    }
    json_object_foreach(e, key, val)
    {
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets")) {
            core_err_set(err, errlen, "safetensors: tensor '%s': unknown field '%s'", name, key);
            return CORE_EMODEL;
        }
    }
    if (!json_is_string(dt)) {
        core_err_set(err, errlen, "safetensors: tensor '%s': missing or non-string dtype", name);
        return CORE_EMODEL;
    }
    for (i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(json_string_value(dt), dtypes[i].name) == 0) {
            t->dtype = dtypes[i].dt;
            es = dtypes[i].size;
            break;
        }
    if (!es) {
        core_err_set(err, errlen, "safetensors: tensor '%s': unsupported dtype '%.32s'", name,
                     json_string_value(dt));
        return CORE_EMODEL;
    }
    if (!json_is_array(shape) || json_array_size(shape) > CLS_ST_MAX_DIMS) {
        core_err_set(err, errlen,
                     "safetensors: tensor '%s': shape must be an array of at most %d ints", name,
                     CLS_ST_MAX_DIMS);
        return CORE_EMODEL;
    }
    t->ndim = (int)json_array_size(shape);
    for (i = 0; i < json_array_size(shape); i++) {
        uint64_t d;
        if (!json_u64(json_array_get(shape, i), &d) || d > ((uint64_t)1 << 40)) {
            core_err_set(err, errlen, "safetensors: tensor '%s': bad dimension %zu in shape", name,
                         i);
            return CORE_EMODEL;
        }
        t->shape[i] = (int64_t)d;
        if (d && elems > UINT64_MAX / d) {
            core_err_set(err, errlen, "safetensors: tensor '%s': shape overflows", name);
            return CORE_EMODEL;
        }
        elems *= d;
    }
    if (elems > UINT64_MAX / es) {
        core_err_set(err, errlen, "safetensors: tensor '%s': shape overflows", name);
        return CORE_EMODEL;
    }
    bytes = elems * es;
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        !json_u64(json_array_get(offs, 0), &t->begin) ||
        !json_u64(json_array_get(offs, 1), &t->end) || t->end < t->begin) {
        core_err_set(
            err, errlen,
            "safetensors: tensor '%s': data_offsets must be [begin, end] with begin <= end", name);
        return CORE_EMODEL;
    }
    if (t->end - t->begin != bytes) {
        core_err_set(
            err, errlen,
            "safetensors: tensor '%s': data_offsets span %llu bytes but dtype %s and shape "
            "need %llu",
            name, (unsigned long long)(t->end - t->begin), cls_dtype_name(t->dtype),
            (unsigned long long)bytes);
        return CORE_EMODEL;
    }
    return CORE_OK;
}

core_err_t cls_st_parse(const void *file, size_t size, cls_st_t **out, char *err, size_t errlen)
{
    const unsigned char *p = file;
    cls_st_t *st = NULL;
    json_t *root = NULL, *val;
    json_error_t jerr;
    const char *key;
    uint64_t hlen = 0, dlen, pos;
    core_err_t rc = CORE_EMODEL;

    *out = NULL;
    if (size < 8) {
        core_err_set(err, errlen, "safetensors: truncated file (%zu bytes, no header length)",
                     size);
        return CORE_EMODEL;
    }
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | p[i];
    if (hlen < 2 || hlen > CLS_ST_MAX_HEADER) {
        core_err_set(err, errlen, "safetensors: header length %llu is absurd",
                     (unsigned long long)hlen);
        return CORE_EMODEL;
    }
    if (hlen > size - 8) {
        core_err_set(err, errlen,
                     "safetensors: truncated file: header of %llu bytes but only %zu bytes follow",
                     (unsigned long long)hlen, size - 8);
        return CORE_EMODEL;
    }
    dlen = size - 8 - hlen;
    root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        core_err_set(err, errlen, "safetensors: malformed header JSON at column %d: %s",
                     jerr.column, jerr.text);
        return CORE_EMODEL;
    }
    if (!json_is_object(root)) {
        core_err_set(err, errlen, "safetensors: header is not a JSON object");
        goto out;
    }
    st = core_calloc(1, sizeof *st);
    if (!st || !(st->t = core_calloc(json_object_size(root) + 1, sizeof *st->t))) {
        rc = CORE_ENOMEM;
        goto out;
    }
    json_object_foreach(root, key, val)
    {
        cls_st_tensor_t *t;
        if (strcmp(key, "__metadata__") == 0) {
            const char *mk;
            json_t *mv;
            if (!json_is_object(val)) {
                core_err_set(err, errlen, "safetensors: __metadata__ is not an object");
                goto out;
            }
            json_object_foreach(val, mk, mv)
            {
                if (!json_is_string(mv)) {
                    core_err_set(err, errlen,
                                 "safetensors: __metadata__ value '%s' is not a string", mk);
                    goto out;
                }
            }
            continue;
        }
        t = &st->t[st->n];
        if (parse_entry(key, val, t, err, errlen) != CORE_OK)
            goto out;
        if (!(t->name = core_strdup(key))) {
            rc = CORE_ENOMEM;
            goto out;
        }
        st->n++;
    }
    qsort(st->t, st->n, sizeof *st->t, by_begin);
    pos = 0;
    for (size_t i = 0; i < st->n; i++) {
        cls_st_tensor_t *t = &st->t[i];
        uint64_t aligned = (pos + 7) & ~(uint64_t)7;
        if (t->begin < pos) {
            core_err_set(err, errlen, "safetensors: tensor '%s' overlaps '%s'", t->name,
                         st->t[i - 1].name);
            goto out;
        }
        if (t->begin != pos && t->begin != aligned) {
            core_err_set(
                err, errlen,
                "safetensors: tensor '%s' is not contiguous: it begins at %llu, the previous "
                "data ends at %llu",
                t->name, (unsigned long long)t->begin, (unsigned long long)pos);
            goto out;
        }
        if (t->end > dlen) {
            core_err_set(
                err, errlen,
                "safetensors: tensor '%s' lies outside the file (ends at %llu, data section "
                "is %llu bytes): truncated file?",
                t->name, (unsigned long long)t->end, (unsigned long long)dlen);
            goto out;
        }
        t->data = p + 8 + hlen + t->begin;
        pos = t->end;
    }
    if (dlen != pos && dlen != ((pos + 7) & ~(uint64_t)7)) {
        core_err_set(err, errlen,
                     "safetensors: %llu bytes of data section are not covered by any tensor",
                     (unsigned long long)(dlen - pos));
        goto out;
    }
    *out = st;
    st = NULL;
    rc = CORE_OK;
out:
    json_decref(root);
    cls_st_free(st);
    return rc;
}

core_err_t cls_st_open(const char *path, cls_st_t **out, char *err, size_t errlen)
{
    int fd = -1;
    struct stat sb;
    void *map = NULL;
    size_t len = 0;
    core_err_t rc;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        core_err_set(err, errlen, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? CORE_ENOT_FOUND : CORE_EIO;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        core_err_set(err, errlen, "%s: not a regular file", path);
        rc = CORE_EIO;
        goto out;
    }
    len = (size_t)sb.st_size;
    if (len == 0) {
        core_err_set(err, errlen, "%s: safetensors: truncated file (0 bytes)", path);
        rc = CORE_EMODEL;
        goto out;
    }
    map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        map = NULL;
        core_err_set(err, errlen, "%s: mmap: %s", path, strerror(errno));
        rc = CORE_EIO;
        goto out;
    }
    rc = cls_st_parse(map, len, out, err, errlen);
    if (rc == CORE_OK) {
        (*out)->map = map;
        (*out)->map_len = len;
        map = NULL;
    }
out:
    if (map)
        munmap(map, len);
    close(fd);
    return rc;
}

size_t cls_st_count(const cls_st_t *st)
{
    return st->n;
}

const cls_st_tensor_t *cls_st_at(const cls_st_t *st, size_t i)
{
    return i < st->n ? &st->t[i] : NULL;
}

const cls_st_tensor_t *cls_st_find(const cls_st_t *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0)
            return &st->t[i];
    return NULL;
}

const void *cls_st_map(const cls_st_t *st, size_t *len)
{
    *len = st->map_len;
    return st->map;
}
