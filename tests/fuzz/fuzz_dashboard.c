/*
 * fuzz_dashboard: the dashboard's input parsers and their invariants.
 * The first byte picks the target, the rest is its input:
 *   0  alr_read_scope_normalize: an accepted scope is canonical (all /
 *      topic:slug / entity:TICKER of the key charset), fits, and
 *      normalising it again changes nothing;
 *   1  app_static_path_ok: an accepted path has no "..", no empty and no
 *      dot-prefixed segment, only [A-Za-z0-9._-/];
 *   2  alr_read_item_in_scope on JSON input (first line: the scope);
 *   3  alr_read_series_plan on numbers read from the bytes: an accepted
 *      plan is within the caps and its grid covers [from, to].
 * A violated invariant calls abort() (not assert: fuzz builds define
 * NDEBUG), which libFuzzer reports as a crash.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alr_keys.h"
#include "alerting/alr_read.h"
#include "app/app_static.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static void scope(const char *s)
{
    char out[ALR_SCOPE_MAX], again[ALR_SCOPE_MAX], err[256];
    if (alr_read_scope_normalize(s, out, sizeof out, err, sizeof err) != CORE_OK)
        return;
    CHECK(strlen(out) < ALR_SCOPE_MAX);
    CHECK(strcmp(out, "all") == 0 || strncmp(out, "topic:", 6) == 0 ||
          strncmp(out, "entity:", 7) == 0);
    for (const char *p = strchr(out, ':') ? strchr(out, ':') + 1 : out; *p; p++)
        CHECK((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.' || *p == '_');
    CHECK(alr_read_scope_normalize(out, again, sizeof again, err, sizeof err) == CORE_OK);
    CHECK(strcmp(out, again) == 0);
}

static void path(const char *s)
{
    if (!app_static_path_ok(s))
        return;
    CHECK(s[0] == '/');
    CHECK(!strstr(s, "//") && !strstr(s, "/."));
    for (const char *p = s; *p; p++)
        CHECK((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.' || *p == '_' || *p == '/');
}

static void item(const char *s)
{
    const char *nl = strchr(s, '\n');
    char sc[ALR_SCOPE_MAX];
    json_t *j;
    size_t n = nl ? (size_t)(nl - s) : 0;
    if (!nl || n >= sizeof sc)
        return;
    memcpy(sc, s, n);
    sc[n] = '\0';
    j = json_loads(nl + 1, 0, NULL);
    if (j) {
        (void)alr_read_item_in_scope(j, sc);
        json_decref(j);
    }
}

static void plan(const uint8_t *d, size_t n)
{
    int64_t from, to, first;
    int32_t step;
    size_t np;
    char err[256];
    if (n < 20)
        return;
    memcpy(&from, d, 8);
    memcpy(&to, d + 8, 8);
    memcpy(&step, d + 16, 4);
    /* keep the arithmetic in range: times within +-2^50 ms, steps < 2^20 */
    from >>= 13;
    to >>= 13;
    step >>= 11;
    if (alr_read_series_plan(from, to, step, &first, &np, err, sizeof err) != CORE_OK)
        return;
    CHECK(np >= 1 && np <= ALR_READ_MAX_POINTS);
    CHECK(first <= alr_minute(from));
    CHECK(first % step == 0);
    CHECK(first + (int64_t)np * step > alr_minute(to));
    CHECK(first + (int64_t)(np - 1) * step <= alr_minute(to));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    if (size < 1 || size > 4096)
        return 0;
    s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 4) {
    case 0:
        scope(s);
        break;
    case 1:
        path(s);
        break;
    case 2:
        item(s);
        break;
    default:
        plan(data + 1, size - 1);
        break;
    }
    free(s);
    return 0;
}
