/* Fuzz target: alerting's parsers and pure cores on arbitrary bytes:
 * --since values, windows, topic slugs and ticker scopes, the item JSON, and
 * the rule state machine with the Wilson bound. Invariants are checked with
 * abort() so a violation is a crash libFuzzer reports. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_follow.h"
#include "alerting/alr_json.h"
#include "alerting/alr_keys.h"
#include "alerting/alr_rule.h"

static void check_slug(const char *s, size_t n)
{
    if (strlen(s) != n)
        abort();
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            abort();
        if (c == '-' && (i == 0 || i == n - 1 || s[i - 1] == '-'))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), buf[ALR_SCOPE_MAX], id[64];
    int minutes;
    size_t n;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    alr_follow_parse_since(s, 1795873800000LL, id, sizeof id);
    if (alr_window_parse(s, &minutes) == CORE_OK && (minutes < 1 || minutes > 7 * 1440))
        abort();
    n = alr_slug(s, buf, sizeof buf);
    check_slug(buf, n);
    n = alr_slug(s, buf, 9); /* truncation keeps the invariants */
    check_slug(buf, n);
    if (alr_scope_entity(s, buf, sizeof buf) > 0 && strchr(buf + 7, ':'))
        abort();

    /* The item JSON with the input as id, topic and entity. */
    {
        core_item_t *it = NULL;
        core_tagged_t *t = NULL;
        char *json = NULL;
        if (core_item_new(&it) == CORE_OK) {
            core_item_set(it, &it->id, s, strlen(s));
            core_item_add_entity(it, s, strlen(s) < 16 ? strlen(s) : 16);
            it->event_ms = (int64_t)size * 1000003;
            if (core_tagged_new(it, &t) == CORE_OK) {
                strncpy(t->topic, s, sizeof t->topic - 1);
                t->sentiment = size % 4 == 3 ? -1 : (int)(size % 4);
                if (alr_json_item(t, &json) == CORE_OK)
                    free(json);
                core_tagged_free(t);
            } else {
                core_item_free(it);
            }
        }
    }

    /* The rule state machine on counts taken from the input. */
    if (size >= 24) {
        alr_rule_t r;
        alr_rule_state_t st = {0}, next;
        uint32_t v[6];
        memcpy(v, data, sizeof v);
        memset(&r, 0, sizeof r);
        r.threshold = (double)(v[0] % 1001) / 1000.0;
        r.clear = r.threshold * (double)(v[1] % 101) / 100.0;
        r.min_count = v[2] % 50;
        r.for_ms = v[3] % 5000;
        r.cooldown_ms = v[4] % 5000;
        r.basis = v[5] & 1 ? ALR_BASIS_WILSON : ALR_BASIS_RATE;
        r.z = alr_z_for_confidence(0.5 + (double)(v[5] % 4999) / 10000.0);
        for (size_t i = 24; i + 4 <= size; i += 4) {
            uint64_t total = data[i] | (uint64_t)data[i + 1] << 8, neg = data[i + 2] % 256;
            double w = alr_wilson_lower(neg, total, r.z);
            if (w < 0.0 || w > 1.0 || (total && neg <= total && w > (double)neg / total + 1e-12))
                abort();
            alr_event_t ev = alr_rule_eval(&r, &st, total, neg, (int64_t)i * 100, &next);
            if ((ev == ALR_EV_NONE) != (next.ver == st.ver))
                abort();
            if (ev == ALR_EV_FIRE && next.state != ALR_ST_FIRING)
                abort();
            st = next;
        }
    }
    free(s);
    return 0;
}
