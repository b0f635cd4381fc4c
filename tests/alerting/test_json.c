/* Tests of alr_json: the item and alert documents parse back with the
 * documented fields. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_json.h"

START_TEST(item_json)
{
    core_item_t *it;
    core_tagged_t *t;
    char *s = NULL;
    json_t *o;

    ck_assert_int_eq(core_item_new(&it), CORE_OK);
    ck_assert_int_eq(core_item_set(it, &it->id, "n-1", 3), CORE_OK);
    it->event_ms = 1795873800123LL;
    ck_assert_int_eq(core_item_add_entity(it, "aapl", 4), CORE_OK);
    ck_assert_int_eq(core_item_add_entity(it, "MSFT", 4), CORE_OK);
    ck_assert_int_eq(core_tagged_new(it, &t), CORE_OK);
    strcpy(t->topic, "Fed | Central Banks");
    t->sentiment = CORE_SENT_NEGATIVE;
    t->sentiment_p[0] = 0.81234f;
    t->sentiment_p[1] = 0.1f;
    t->sentiment_p[2] = 0.08766f;
    ck_assert_int_eq(alr_json_item(t, &s), CORE_OK);
    o = json_loads(s, 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_string_value(json_object_get(o, "id")), "n-1");
    ck_assert_str_eq(json_string_value(json_object_get(o, "ts")), "2026-11-28T13:50:00.123Z");
    ck_assert_str_eq(json_string_value(json_object_get(o, "topic")), "Fed | Central Banks");
    ck_assert_str_eq(json_string_value(json_object_get(o, "sentiment")), "negative");
    ck_assert_double_eq_tol(
        json_real_value(json_object_get(json_object_get(o, "sentiment_p"), "negative")), 0.8123,
        1e-9);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "entities")), 2);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "entities"), 0)), "AAPL");
    ck_assert_ptr_null(strchr(s, '\n')); /* compact: one line */
    ck_assert(json_is_null(json_object_get(o, "title"))); /* no title, no text */
    json_decref(o);
    free(s);

    /* The headline: the title, else the text, cut at a character boundary. */
    ck_assert_int_eq(core_item_set(it, &it->text, "Fed holds rates", 15), CORE_OK);
    ck_assert_int_eq(alr_json_item(t, &s), CORE_OK);
    o = json_loads(s, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(o, "title")), "Fed holds rates");
    json_decref(o);
    free(s);
    {
        char longt[400];
        memset(longt, 'a', 239);
        strcpy(longt + 239, "\xc3\xa9 and more text after the cut");
        ck_assert_int_eq(core_item_set(it, &it->title, longt, strlen(longt)), CORE_OK);
    }
    ck_assert_int_eq(alr_json_item(t, &s), CORE_OK);
    o = json_loads(s, 0, NULL);
    ck_assert_ptr_nonnull(json_object_get(o, "title"));
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(o, "title"))), 239);
    json_decref(o);
    free(s);

    /* No sentiment head, no topic, an id that is not UTF-8: nulls. */
    t->sentiment = -1;
    t->topic[0] = '\0';
    free(t->item->id);
    t->item->id = strdup("\xff\xfe");
    ck_assert_int_eq(alr_json_item(t, &s), CORE_OK);
    o = json_loads(s, 0, NULL);
    ck_assert(json_is_null(json_object_get(o, "sentiment")));
    ck_assert(json_is_null(json_object_get(o, "topic")));
    ck_assert(json_is_null(json_object_get(o, "id")));
    json_decref(o);
    free(s);
    core_tagged_free(t);
}
END_TEST

START_TEST(alert_json)
{
    alr_alert_t a;
    char *s = NULL;
    json_t *o;

    memset(&a, 0, sizeof a);
    strcpy(a.id, "abc-1");
    a.rule = "neg_spike";
    a.scope = "topic:fed";
    a.window = "15m";
    a.state = "firing";
    a.basis = "rate";
    a.n = 40;
    a.negative = 26;
    a.neg_rate = 0.65;
    a.value = 0.65;
    a.threshold = 0.5;
    a.clear = 0.4;
    a.since_ms = 1795873800000LL;
    a.ts_ms = 1795873860000LL;
    a.samples[0] = "n-9";
    a.samples[1] = "n-8";
    a.n_samples = 2;
    ck_assert_int_eq(alr_json_alert(&a, &s), CORE_OK);
    o = json_loads(s, 0, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_string_value(json_object_get(o, "id")), "abc-1");
    ck_assert_str_eq(json_string_value(json_object_get(o, "rule")), "neg_spike");
    ck_assert_str_eq(json_string_value(json_object_get(o, "scope")), "topic:fed");
    ck_assert_str_eq(json_string_value(json_object_get(o, "window")), "15m");
    ck_assert_str_eq(json_string_value(json_object_get(o, "state")), "firing");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "n")), 40);
    ck_assert_double_eq_tol(json_real_value(json_object_get(o, "neg_rate")), 0.65, 1e-9);
    ck_assert_double_eq_tol(json_real_value(json_object_get(o, "threshold")), 0.5, 1e-9);
    ck_assert_str_eq(json_string_value(json_object_get(o, "since")), "2026-11-28T13:50:00.000Z");
    ck_assert_uint_eq(json_array_size(json_object_get(o, "samples")), 2);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "samples"), 1)), "n-8");
    json_decref(o);
    free(s);
}
END_TEST

Suite *suite_json(void)
{
    Suite *s = suite_create("alr_json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, item_json);
    tcase_add_test(tc, alert_json);
    suite_add_tcase(s, tc);
    return s;
}
