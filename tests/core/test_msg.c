/* Tests of core_msg: the input message decoder (every malformed case with
 * its specific error) and the tagged-item encoder. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_msg.h"
#include "core/core_utf8.h"
#include "tests/core/suites.h"

static const core_msg_limits_t LIM = {.max_message_bytes = 1024, .max_text_bytes = 256};
#define NOW 1795873800000LL

static core_err_t dec(const char *s, core_item_t **out, char *err)
{
    return core_msg_decode(s, strlen(s), &LIM, NOW, out, err, 256);
}

START_TEST(json_object_full)
{
    core_item_t *it;
    char err[256];
    ck_assert_int_eq(dec("{\"id\":\"a1\",\"text\":\"Shares of $AAPL fall\",\"title\":\"Apple\","
                         "\"source\":\"wire\",\"url\":\"http://x\",\"ts\":\"2026-11-28T13:50:00Z\","
                         "\"lang\":\"en\",\"extra\":[1,2]}",
                         &it, err),
                     CORE_OK);
    ck_assert_str_eq(it->id, "a1");
    ck_assert_str_eq(it->text, "Shares of $AAPL fall");
    ck_assert_str_eq(it->title, "Apple");
    ck_assert_str_eq(it->source, "wire");
    ck_assert_str_eq(it->url, "http://x");
    ck_assert_str_eq(it->lang, "en");
    ck_assert_int_eq(it->event_ms, NOW);
    ck_assert_int_eq(it->ingest_ms, NOW);
    core_item_free(it);
}
END_TEST

START_TEST(json_minimal_and_variants)
{
    core_item_t *it;
    char err[256];
    ck_assert_int_eq(dec("  {\"title\":\"Only a title\"}\n", &it, err), CORE_OK);
    ck_assert_ptr_null(it->text);
    ck_assert_ptr_null(it->id);
    ck_assert_int_eq(it->event_ms, 0);
    core_item_free(it);
    ck_assert_int_eq(dec("{\"id\":42,\"text\":\"x\",\"ts\":1795873800000}", &it, err), CORE_OK);
    ck_assert_str_eq(it->id, "42");
    ck_assert_int_eq(it->event_ms, NOW);
    core_item_free(it);
    ck_assert_int_eq(dec("{\"text\":\"x\",\"ts\":\"Sat, 28 Nov 2026 13:50:00 GMT\",\"id\":null}",
                         &it, err),
                     CORE_OK);
    ck_assert_int_eq(it->event_ms, NOW);
    core_item_free(it);
    ck_assert_int_eq(dec("{\"text\":\"caf\\u00e9 \\ud83d\\ude00\"}", &it, err), CORE_OK);
    ck_assert_str_eq(it->text, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    core_item_free(it);
}
END_TEST

START_TEST(plain_text)
{
    core_item_t *it;
    char err[256];
    ck_assert_int_eq(dec("  Fed raises rates by 50bp \r\n", &it, err), CORE_OK);
    ck_assert_str_eq(it->text, "Fed raises rates by 50bp");
    ck_assert_ptr_null(it->title);
    core_item_free(it);
    ck_assert_int_eq(dec("\"Buy\" says analyst", &it, err), CORE_OK);
    ck_assert_str_eq(it->text, "\"Buy\" says analyst");
    core_item_free(it);
    ck_assert_int_eq(dec("Zürich bank gains 3%", &it, err), CORE_OK);
    core_item_free(it);
    /* headlines that open with a bracket or a brace are not JSON */
    ck_assert_int_eq(dec("{Free} Premium Earnings 11-25-19 $PANW", &it, err), CORE_OK);
    ck_assert_str_eq(it->text, "{Free} Premium Earnings 11-25-19 $PANW");
    core_item_free(it);
    ck_assert_int_eq(dec(" [VIDEO] Fed holds rates", &it, err), CORE_OK);
    ck_assert_str_eq(it->text, "[VIDEO] Fed holds rates");
    core_item_free(it);
    /* a JSON string is its text: a quoted headline, or JSON-encoded text */
    ck_assert_int_eq(dec("\"Mr. Musk is terminating the \\\"Merger\\\" Agreement\"", &it, err),
                     CORE_OK);
    ck_assert_str_eq(it->text, "Mr. Musk is terminating the \"Merger\" Agreement");
    core_item_free(it);
    ck_assert_int_eq(dec("[1/3] Fed minutes: \"patient\"", &it, err), CORE_OK);
    ck_assert_str_eq(it->text, "[1/3] Fed minutes: \"patient\"");
    core_item_free(it);
}
END_TEST

typedef struct bad {
    const char *in;
    size_t len; /* 0: strlen */
    core_err_t want;
    const char *msg;
} bad;

START_TEST(malformed_each_error)
{
    static const bad cases[] = {
        {"{\"text\": \"unterminated}", 0, CORE_EJSON, "invalid JSON at line 1"},
        {"{\"text\": \"x\",}", 0, CORE_EJSON, "invalid JSON"},
        {"{\"text\":\"x\",\"text\":\"y\"}", 0, CORE_EJSON, "duplicate"},
        {"{\"text\":\"a\\u0000b\"}", 0, CORE_EJSON, "invalid JSON"},
        {"[\"text\"]", 0, CORE_ENOT_OBJECT, "is an array, not an object"},
        {"[1, 2]", 0, CORE_ENOT_OBJECT, "is an array, not an object"},
        {"{", 0, CORE_EJSON, "invalid JSON"},
        {"{  \"text\": ", 0, CORE_EJSON, "invalid JSON"},
        {" { }", 0, CORE_EEMPTY_TEXT, "no text"},
        {"\"  \"", 0, CORE_EEMPTY_TEXT, "no text"},
        {"12345", 0, CORE_ENOT_OBJECT, "is a number, not an object"},
        {"true", 0, CORE_ENOT_OBJECT, "is a boolean, not an object"},
        {"null", 0, CORE_ENOT_OBJECT, "is null, not an object"},
        {"bad \xff byte", 0, CORE_EUTF8, "invalid UTF-8 at byte 4"},
        {"{\"text\":\"\xc0\xaf\"}", 0, CORE_EUTF8, "invalid UTF-8 at byte 9"},      /* overlong */
        {"{\"text\":\"\xed\xa0\x80\"}", 0, CORE_EUTF8, "invalid UTF-8"},             /* surrogate */
        {"{\"text\":\"\xf4\x90\x80\x80\"}", 0, CORE_EUTF8, "invalid UTF-8"},         /* > U+10FFFF */
        {"trunc \xe2\x82", 0, CORE_EUTF8, "invalid UTF-8 at byte 6"},
        {"{}", 0, CORE_EEMPTY_TEXT, "no text"},
        {"{\"text\":\"\"}", 0, CORE_EEMPTY_TEXT, "no text"},
        {"{\"text\":\"  \\t \\n \",\"title\":\" \"}", 0, CORE_EEMPTY_TEXT, "no text"},
        {"   \t  ", 0, CORE_EEMPTY_TEXT, "no text"},
        {"", 0, CORE_EEMPTY_TEXT, "no text"},
        {"{\"text\":5}", 0, CORE_EBAD_FIELD, "field 'text' must be a string"},
        {"{\"text\":\"x\",\"title\":[]}", 0, CORE_EBAD_FIELD, "field 'title' must be a string"},
        {"{\"text\":\"x\",\"id\":1.5}", 0, CORE_EBAD_FIELD, "field 'id' must be a string"},
        {"{\"text\":\"x\",\"id\":\"\"}", 0, CORE_EBAD_FIELD, "field 'id' is empty"},
        {"{\"text\":\"x\",\"ts\":\"yesterday\"}", 0, CORE_EBAD_TIME, "field 'ts' 'yesterday'"},
        {"{\"text\":\"x\",\"ts\":\"2026-02-30T00:00:00Z\"}", 0, CORE_EBAD_TIME, "field 'ts'"},
        {"{\"text\":\"x\",\"ts\":-1}", 0, CORE_EBAD_TIME, "negative epoch"},
        {"{\"text\":\"x\",\"ts\":1.5}", 0, CORE_EBAD_FIELD, "field 'ts' must be"},
        {"{\"text\":\"x\",\"ts\":{}}", 0, CORE_EBAD_FIELD, "field 'ts' must be"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        core_item_t *it = (core_item_t *)1;
        char err[256] = "";
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        core_err_t rc = core_msg_decode(cases[i].in, len, &LIM, NOW, &it, err, sizeof err);
        ck_assert_msg(rc == cases[i].want, "case %zu: got %s (%s), want %s", i, core_errname(rc),
                      err, core_errname(cases[i].want));
        ck_assert_ptr_null(it);
        ck_assert_msg(strstr(err, cases[i].msg) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                      cases[i].msg);
    }
}
END_TEST

START_TEST(size_limits)
{
    char *big = malloc(2048), err[256];
    core_item_t *it;
    memset(big, 'a', 2000);
    big[2000] = '\0';
    ck_assert_int_eq(core_msg_decode(big, 2000, &LIM, NOW, &it, err, sizeof err),
                     CORE_ETOO_LARGE);
    ck_assert(strstr(err, "message of 2000 bytes exceeds the limit of 1024") != NULL);
    /* under the message limit but over the text limit */
    ck_assert_int_eq(core_msg_decode(big, 300, &LIM, NOW, &it, err, sizeof err), CORE_ETOO_LARGE);
    ck_assert(strstr(err, "text of 300 bytes exceeds the limit of 256") != NULL);
    ck_assert_int_eq(core_msg_decode(big, 256, &LIM, NOW, &it, err, sizeof err), CORE_OK);
    core_item_free(it);
    free(big);
}
END_TEST

START_TEST(encode_tagged)
{
    core_item_t *it;
    core_tagged_t *t;
    char err[256], *out;
    size_t len;
    json_t *j;
    json_error_t je;

    ck_assert_int_eq(dec("{\"id\":\"x\\\"1\",\"text\":\"$TSLA and $aapl slump; $5 no\","
                         "\"ts\":\"2026-11-28T13:50:00.250Z\",\"source\":\"s\"}",
                         &it, err),
                     CORE_OK);
    ck_assert_int_eq(core_item_add_cashtags(it), CORE_OK);
    ck_assert_int_eq(core_tagged_new(it, &t), CORE_OK);
    snprintf(t->topic, sizeof t->topic, "Stock Movement");
    t->topic_p = 0.75f;
    t->sentiment = CORE_SENT_NEGATIVE;
    t->sentiment_p[0] = 0.9f;
    t->sentiment_p[1] = 0.08f;
    t->sentiment_p[2] = 0.02f;
    snprintf(t->model, sizeof t->model, "finsent-mini@abc123");
    ck_assert_int_eq(core_msg_encode_tagged(t, &out, &len), CORE_OK);
    ck_assert_uint_eq(strlen(out), len);
    ck_assert_ptr_null(strchr(out, '\n'));
    j = json_loads(out, 0, &je);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "x\"1");
    ck_assert_str_eq(json_string_value(json_object_get(j, "ts")), "2026-11-28T13:50:00.250Z");
    ck_assert_str_eq(json_string_value(json_object_get(j, "topic")), "Stock Movement");
    ck_assert_str_eq(json_string_value(json_object_get(j, "sentiment")), "negative");
    ck_assert(fabs(json_real_value(json_object_get(json_object_get(j, "sentiment_p"),
                                                   "negative")) -
                   0.9) < 1e-6);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "entities")), 2);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "entities"), 0)), "TSLA");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "entities"), 1)), "AAPL");
    ck_assert_str_eq(json_string_value(json_object_get(j, "model")), "finsent-mini@abc123");
    json_decref(j);
    free(out);
    core_tagged_free(t);
}
END_TEST

/* encoded_ts decodes msg and returns the "ts" core_msg_encode_tagged writes
 * for it (in buf). */
static const char *encoded_ts(const char *msg, size_t len, char *buf, size_t cap)
{
    core_item_t *it;
    core_tagged_t *t;
    char err[256], *out;
    size_t n;
    json_t *j;
    ck_assert_msg(core_msg_decode(msg, len, &LIM, NOW, &it, err, sizeof err) == CORE_OK, "%s", err);
    ck_assert_int_eq(core_tagged_new(it, &t), CORE_OK);
    ck_assert_int_eq(core_msg_encode_tagged(t, &out, &n), CORE_OK);
    j = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(j);
    snprintf(buf, cap, "%s", json_string_value(json_object_get(j, "ts")));
    json_decref(j);
    free(out);
    core_tagged_free(t);
    return buf;
}

/* Issue 18: an explicit ts of 0 (or any spelling of 1970-01-01T00:00:00Z)
 * is that time, not "no ts". Before the fix both decoded to event_ms 0,
 * which meant "unknown": the encoder (and every source) put the ingest time
 * in its place, so a 56-year-old item counted as now. */
START_TEST(explicit_epoch_zero_is_a_time)
{
    static const char *const zero[] = {
        "{\"text\":\"x\",\"ts\":0}",
        "{\"text\":\"x\",\"ts\":\"1970-01-01T00:00:00Z\"}",
        "{\"text\":\"x\",\"ts\":\"1970-01-01T01:00:00+01:00\"}",
        "{\"text\":\"x\",\"ts\":\"Thu, 01 Jan 1970 00:00:00 GMT\"}",
        "{\"text\":\"x\",\"ts\":\"0\"}",
    };
    static const char *const none[] = {"{\"text\":\"x\"}", "{\"text\":\"x\",\"ts\":null}",
                                       "plain text, no time", "\"a JSON string\""};
    core_item_t *it;
    char err[256], ts[40];

    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++) {
        ck_assert_msg(dec(zero[i], &it, err) == CORE_OK, "%s: %s", zero[i], err);
        ck_assert_int_eq(it->event_ms, 0);
        ck_assert_msg(core_item_event_known(it), "%s: ts taken for missing", zero[i]);
        core_item_free(it);
        ck_assert_str_eq(encoded_ts(zero[i], strlen(zero[i]), ts, sizeof ts),
                         "1970-01-01T00:00:00.000Z");
    }
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        ck_assert_int_eq(dec(none[i], &it, err), CORE_OK);
        ck_assert_msg(!core_item_event_known(it), "%s: a time out of nothing", none[i]);
        core_item_free(it);
        /* unknown: the encoder writes the ingest time */
        ck_assert_str_eq(encoded_ts(none[i], strlen(none[i]), ts, sizeof ts),
                         "2026-11-28T13:50:00.000Z");
    }
    /* a source's filled-in time needs only event_ms */
    ck_assert_int_eq(core_item_new(&it), CORE_OK);
    ck_assert(!core_item_event_known(it));
    it->event_ms = NOW;
    ck_assert(core_item_event_known(it));
    core_item_free(it);
}
END_TEST

/* NUL bytes (issue 18). In plain text a NUL is valid UTF-8 and part of the
 * text: core_item_set stores it as U+FFFD, so the words after it are kept
 * and a leading NUL does not make the message empty. In JSON, "\u0000" is
 * refused by jansson (JSON_DISALLOW_NUL), in an object and (since the fix)
 * in a bare JSON string too, which used to fall through to plain text and
 * keep its quotes and backslash; a raw NUL inside JSON is not JSON. */
START_TEST(nul_bytes)
{
    static const char mid[] = "plain text with \0 a NUL";
    static const char lead[] = "\0leading NUL headline";
    static const char raw_in_json[] = "{\"text\":\"a\0b\"}";
    core_item_t *it;
    char err[256];

    ck_assert_int_eq(core_msg_decode(mid, sizeof mid - 1, &LIM, NOW, &it, err, sizeof err),
                     CORE_OK);
    ck_assert_str_eq(it->text, "plain text with \xef\xbf\xbd a NUL");
    ck_assert_uint_eq(it->utf8_repaired, 1);
    core_item_free(it);
    ck_assert_msg(core_msg_decode(lead, sizeof lead - 1, &LIM, NOW, &it, err, sizeof err) ==
                      CORE_OK,
                  "%s", err);
    ck_assert_str_eq(it->text, "\xef\xbf\xbdleading NUL headline");
    core_item_free(it);

    ck_assert_int_eq(dec("{\"text\":\"a\\u0000b\"}", &it, err), CORE_EJSON);
    ck_assert_ptr_null(it);
    ck_assert_int_eq(dec("\"a\\u0000b\"", &it, err), CORE_EJSON);
    ck_assert_ptr_null(it);
    ck_assert_msg(strstr(err, "invalid JSON") && strstr(err, "\\u0000"), "%s", err);
    ck_assert_int_eq(
        core_msg_decode(raw_in_json, sizeof raw_in_json - 1, &LIM, NOW, &it, err, sizeof err),
        CORE_EJSON);
    ck_assert_ptr_null(it);
}
END_TEST

START_TEST(utf8_validator)
{
    size_t at;
    ck_assert(core_utf8_valid("", 0, NULL));
    ck_assert(core_utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10, NULL));
    ck_assert(!core_utf8_valid("a\x80", 2, &at));
    ck_assert_uint_eq(at, 1);
    ck_assert(!core_utf8_valid("\xe0\x80\x80", 3, &at)); /* overlong 3-byte */
    ck_assert(!core_utf8_valid("\xf0\x80\x80\x80", 4, &at)); /* overlong 4-byte */
    ck_assert(!core_utf8_valid("\xf8\x88\x80\x80\x80", 5, &at));
    ck_assert(!core_utf8_valid("\xc3", 1, &at));
    ck_assert_uint_eq(at, 0);
}
END_TEST

Suite *suite_msg(void)
{
    Suite *s = suite_create("msg");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, json_object_full);
    tcase_add_test(tc, json_minimal_and_variants);
    tcase_add_test(tc, plain_text);
    tcase_add_test(tc, malformed_each_error);
    tcase_add_test(tc, size_limits);
    tcase_add_test(tc, encode_tagged);
    tcase_add_test(tc, utf8_validator);
    tcase_add_test(tc, explicit_epoch_zero_is_a_time);
    tcase_add_test(tc, nul_bytes);
    suite_add_tcase(s, tc);
    return s;
}
