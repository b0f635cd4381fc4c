/*
 * Tests of classify/cls_safetensors: a valid file and the padded layout of
 * models/train/fs_model.py are accepted; every malformed header or layout is
 * CORE_EMODEL with a message naming the problem; nothing crashes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/cls_safetensors.h"
#include "tests/classify/suites.h"
#include "tests/common/th.h"

/* A file image: 8-byte length, header, then data_len bytes of 0x11. */
static unsigned char *image(const char *header, size_t data_len, size_t *size)
{
    size_t hl = strlen(header);
    unsigned char *b = malloc(8 + hl + data_len + 1);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    memset(b + 8 + hl, 0x11, data_len);
    *size = 8 + hl + data_len;
    return b;
}

/* Parses and expects rc; err must contain want (when not NULL). */
static void expect(const char *header, size_t data_len, core_err_t want_rc, const char *want)
{
    size_t size;
    unsigned char *b = image(header, data_len, &size);
    cls_st_t *st = NULL;
    char err[512] = "";
    core_err_t rc = cls_st_parse(b, size, &st, err, sizeof err);
    ck_assert_msg(rc == want_rc, "header %s: rc %s (%s), want %s", header, core_errname(rc), err,
                  core_errname(want_rc));
    if (want)
        ck_assert_msg(strstr(err, want) != NULL, "header %s: error '%s' lacks '%s'", header, err,
                      want);
    if (rc == CORE_OK)
        ck_assert_ptr_nonnull(st);
    else
        ck_assert_ptr_null(st);
    cls_st_free(st);
    free(b);
}

START_TEST(test_valid)
{
    const char *h = "{\"__metadata__\":{\"format\":\"pt\"},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]},"
                    "\"a\":{\"dtype\":\"F16\",\"shape\":[2,6],\"data_offsets\":[0,24]}}";
    size_t size;
    unsigned char *b = image(h, 36, &size);
    cls_st_t *st = NULL;
    char err[256] = "";
    const cls_st_tensor_t *t;

    ck_assert_int_eq(cls_st_parse(b, size, &st, err, sizeof err), CORE_OK);
    ck_assert_uint_eq(cls_st_count(st), 2);
    ck_assert_str_eq(cls_st_at(st, 0)->name, "a"); /* data order */
    t = cls_st_find(st, "b");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->dtype, CLS_DT_F32);
    ck_assert_int_eq(t->ndim, 1);
    ck_assert_int_eq(t->shape[0], 3);
    ck_assert_ptr_eq(t->data, b + 8 + strlen(h) + 24);
    t = cls_st_find(st, "a");
    ck_assert_int_eq(t->dtype, CLS_DT_F16);
    ck_assert_uint_eq(cls_st_elems(t), 12);
    ck_assert_ptr_null(cls_st_find(st, "c"));
    cls_st_free(st);
    free(b);
}
END_TEST

START_TEST(test_padded_layout)
{
    /* fs_model.py pads each tensor to 8 bytes: 12 bytes of F32, 4 padding,
     * next at 16, and 4 padding bytes at the end of the data. */
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]}}",
           24, CORE_OK, NULL);
    /* scalar tensor, empty tensor */
    expect("{\"s\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
           "\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[8,8]}}",
           8, CORE_OK, NULL);
}
END_TEST

START_TEST(test_lengths)
{
    cls_st_t *st = NULL;
    char err[256] = "";
    unsigned char b[16] = {0};

    ck_assert_int_eq(cls_st_parse(b, 5, &st, err, sizeof err), CORE_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "truncated"));
    b[7] = 0x80; /* 2^63 */
    ck_assert_int_eq(cls_st_parse(b, 16, &st, err, sizeof err), CORE_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "absurd"));
    memset(b, 0, sizeof b);
    b[0] = 1;
    ck_assert_int_eq(cls_st_parse(b, 16, &st, err, sizeof err), CORE_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "absurd"));
    b[0] = 100; /* header longer than the file */
    ck_assert_int_eq(cls_st_parse(b, 16, &st, err, sizeof err), CORE_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "truncated"));
    ck_assert_ptr_null(st);
}
END_TEST

START_TEST(test_malformed_header)
{
    expect("{\"a\":{\"dtype\":\"F32\",", 0, CORE_EMODEL, "malformed header JSON");
    expect("[1, 2]", 0, CORE_EMODEL, "not a JSON object");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
           8, CORE_EMODEL, "malformed header JSON"); /* duplicate key */
    expect("{\"a\":7}", 0, CORE_EMODEL, "'a': entry is not an object");
    expect("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CORE_EMODEL,
           "unsupported dtype 'Q4'");
    expect("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CORE_EMODEL, "dtype");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, CORE_EMODEL,
           "bad dimension");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,4]}}", 4, CORE_EMODEL,
           "shape must be an array");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, CORE_EMODEL,
           "begin <= end");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, CORE_EMODEL,
           "data_offsets");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, CORE_EMODEL,
           "need 8");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
           CORE_EMODEL, "unknown field 'x'");
    expect("{\"__metadata__\":{\"format\":1}}", 0, CORE_EMODEL, "__metadata__");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
           "\"data_offsets\":[0,4]}}",
           4, CORE_EMODEL, "overflow");
}
END_TEST

START_TEST(test_bad_layout)
{
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
           12, CORE_EMODEL, "overlaps");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]}}",
           32, CORE_EMODEL, "not contiguous");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, CORE_EMODEL,
           "not contiguous");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, CORE_EMODEL,
           "outside the file");
    expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 64, CORE_EMODEL,
           "not covered");
}
END_TEST

START_TEST(test_open_errors)
{
    cls_st_t *st = NULL;
    char err[512] = "", path[1024];
    const char *dir = th_tmpdir("st");

    ck_assert_int_eq(cls_st_open("/nonexistent/model.safetensors", &st, err, sizeof err),
                     CORE_ENOT_FOUND);
    snprintf(path, sizeof path, "%s/empty.safetensors", dir);
    ck_assert_int_eq(th_write_file(path, "", 0), 0);
    ck_assert_int_eq(cls_st_open(path, &st, err, sizeof err), CORE_EMODEL);
    ck_assert_ptr_nonnull(strstr(err, "truncated"));
    ck_assert_int_eq(cls_st_open(dir, &st, err, sizeof err), CORE_EIO);
    ck_assert_ptr_null(st);
}
END_TEST

START_TEST(test_open_real)
{
    cls_st_t *st = NULL;
    char err[512] = "", path[1024];
    ck_assert_int_eq(
        cls_st_open(th_data_path(path, sizeof path, "parity/mt_l2_h64_f32/model.safetensors"), &st,
                    err, sizeof err),
        CORE_OK);
    ck_assert_ptr_nonnull(cls_st_find(st, "bert.embeddings.word_embeddings.weight"));
    ck_assert_ptr_nonnull(cls_st_find(st, "sentiment_classifier.bias"));
    cls_st_free(st);
    cls_st_free(NULL);
}
END_TEST

Suite *suite_safetensors(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_valid);
    tcase_add_test(tc, test_padded_layout);
    tcase_add_test(tc, test_lengths);
    tcase_add_test(tc, test_malformed_header);
    tcase_add_test(tc, test_bad_layout);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_open_real);
    suite_add_tcase(s, tc);
    return s;
}
