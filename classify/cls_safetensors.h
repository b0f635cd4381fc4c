/*
 * cls_safetensors: a reader of the safetensors format (8-byte little-endian
 * header length N, N bytes of JSON header, then the tensor data).
 *
 * Design. cls_st_parse is a pure function of the file bytes (no I/O): it
 * validates the whole header before anything uses it, and it is the target
 * of tests/fuzz/fuzz_safetensors.c. Rules, each a CORE_EMODEL with a
 * sentence naming the tensor:
 *   - the file is at least 8 bytes and 8 + N fits in it; N is between 2 and
 *     CLS_ST_MAX_HEADER bytes ("header length absurd" / "truncated");
 *   - the header is a JSON object (jansson; duplicate keys rejected) whose
 *     members are "__metadata__" (an object of strings, ignored) or tensors
 *     {"dtype": string, "shape": [non-negative ints], "data_offsets":
 *     [begin, end]}; other members of a tensor entry are errors;
 *   - dtype is one of F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL (any other is
 *     "unsupported dtype"); at most CLS_ST_MAX_DIMS dimensions;
 *   - end - begin equals the element count times the dtype size (no
 *     overflow);
 *   - sorted by begin, the tensors tile the data section: the first begins
 *     at 0 and each begins where the previous ended, except that a gap of
 *     fewer than 8 bytes up to the next multiple of 8 is accepted (writers
 *     that pad each tensor to 8 bytes, like models/train/fs_model.py); the
 *     last ends at the end of the file, or up to 7 padding bytes before it.
 *     Anything else is "overlapping", "not contiguous", "outside the file"
 *     or "truncated".
 * cls_st_open maps a file read-only (mmap, MAP_PRIVATE) and parses it; the
 * mapping lives until cls_st_free. Tensor data is never copied here.
 */
#ifndef CLS_SAFETENSORS_H
#define CLS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_error.h"

#define CLS_ST_MAX_DIMS 8
#define CLS_ST_MAX_HEADER ((uint64_t)100 << 20) /* 100 MiB of JSON */

typedef enum cls_dtype {
    CLS_DT_F64,
    CLS_DT_F32,
    CLS_DT_F16,
    CLS_DT_BF16,
    CLS_DT_I64,
    CLS_DT_I32,
    CLS_DT_I16,
    CLS_DT_I8,
    CLS_DT_U8,
    CLS_DT_BOOL
} cls_dtype_t;

typedef struct cls_st_tensor {
    const char *name; /* owned by the cls_st_t */
    cls_dtype_t dtype;
    int ndim;
    int64_t shape[CLS_ST_MAX_DIMS];
    uint64_t begin, end; /* byte offsets in the data section */
    const void *data;    /* begin of the bytes inside the file image */
} cls_st_tensor_t;

typedef struct cls_st cls_st_t;

/* cls_st_parse validates the size bytes of a safetensors file image at file
 * (borrowed: it must outlive the result, which points into it) and returns
 * the index in *out (caller frees with cls_st_free). CORE_EMODEL with a
 * message in err for any malformed input; CORE_ENOMEM. Any thread. */
core_err_t cls_st_parse(const void *file, size_t size, cls_st_t **out, char *err, size_t errlen);

/* cls_st_open maps path read-only and parses it. CORE_ENOT_FOUND / CORE_EIO
 * for file errors, else the errors of cls_st_parse. The mapping is released
 * by cls_st_free. */
core_err_t cls_st_open(const char *path, cls_st_t **out, char *err, size_t errlen);

/* cls_st_free releases the index and the mapping (if cls_st_open made one).
 * NULL is a no-op. Pointers obtained from it become invalid. */
void cls_st_free(cls_st_t *st);

/* cls_st_count / cls_st_at: the tensors in data order. */
size_t cls_st_count(const cls_st_t *st);
/* cls_st_map: the read-only file mapping of cls_st_open (its length in
 * *len), or NULL for cls_st_parse. */
const void *cls_st_map(const cls_st_t *st, size_t *len);
const cls_st_tensor_t *cls_st_at(const cls_st_t *st, size_t i);

/* cls_st_find: the tensor called name, or NULL. */
const cls_st_tensor_t *cls_st_find(const cls_st_t *st, const char *name);

/* cls_dtype_name: "F32", ...; cls_dtype_size: bytes per element. */
const char *cls_dtype_name(cls_dtype_t dt);
size_t cls_dtype_size(cls_dtype_t dt);

/* cls_st_elems: the product of the tensor's shape (1 for a scalar). */
uint64_t cls_st_elems(const cls_st_tensor_t *t);

#endif
