/* Tests of core_hash. The ids built from these hashes are persisted in Redis
 * as dedup keys, so their values must never change: the expected values
 * below were computed with the copies the tree had before core_hash (the
 * JSONL source's and `finsent backtest`'s fnv1a, the feed parser's chained
 * one, the 128-bit pair of core_item and the alerting seen key, the 32-bit
 * one of the tokenizer and the scope set), and two of those former copies,
 * kept verbatim here, must agree with core_hash on every sample. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/core_hash.h"
#include "tests/core/suites.h"

static const char *const samples[] = {
    "",
    "a",
    "{\"text\":\"ACME beats estimates\"}",
    "{\"text\":\"$TSLA falls\",\"ts\":\"2026-11-28T13:50:00Z\"}",
    "plain headline about $NVDA",
};

/* ingest/ing_jsonl.c and app/app_cmd_backtest.c before core_hash (the two
 * copies whose "h:" ids must agree), verbatim. */
static uint64_t former_jsonl_fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* ingest/ing_feed.c before core_hash, verbatim. */
static uint64_t former_feed_fnv1a(uint64_t h, const char *p)
{
    for (; p && *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    return h;
}

START_TEST(ids_unchanged)
{
    static const char *const want[] = {"h:14650fb0739d0383", "h:44bd8ad473cd9906",
                                       "h:1dd8e0232ca03d84", "h:1d9f38c3a13a86c0",
                                       "h:217732b3ee48049d"};
    char id[CORE_HASH_ID_SIZE];

    ck_assert_uint_eq(CORE_FNV64_BASIS, 1469598103934665603ULL);
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        size_t n = strlen(samples[i]);
        ck_assert_uint_eq(core_hash_id(id, core_fnv64(CORE_FNV64_BASIS, samples[i], n)), 18);
        ck_assert_str_eq(id, want[i]);
    }
    /* The feed parser's id of an entry without guid or link: title, "\n",
     * date text (tests/data/feeds/rss2.xml, third item). */
    uint64_t x = core_fnv64_str(CORE_FNV64_BASIS, "Only content:encoded here");
    x = core_fnv64_str(x, "\n");
    x = core_fnv64_str(x, "not a date");
    core_hash_id(id, x);
    ck_assert_str_eq(id, "h:db94370f02eef8ca");
}
END_TEST

START_TEST(former_copies_agree)
{
    unsigned char bytes[256];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char)(i * 37 + 11);
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        const char *s = samples[i];
        size_t n = strlen(s);
        ck_assert_uint_eq(core_fnv64(CORE_FNV64_BASIS, s, n), former_jsonl_fnv1a(s, n));
        ck_assert_uint_eq(core_fnv64_str(CORE_FNV64_BASIS, s),
                          former_feed_fnv1a(1469598103934665603ULL, s));
    }
    for (size_t n = 0; n <= sizeof bytes; n++) /* every byte value, NULs included */
        ck_assert_uint_eq(core_fnv64(CORE_FNV64_BASIS, bytes, n),
                          former_jsonl_fnv1a((const char *)bytes, n));
    ck_assert_uint_eq(core_fnv64_str(CORE_FNV64_BASIS, NULL), CORE_FNV64_BASIS);
}
END_TEST

START_TEST(chaining)
{
    const char *s = samples[3];
    size_t n = strlen(s);
    for (size_t cut = 0; cut <= n; cut++) {
        uint64_t h = core_fnv64(core_fnv64(CORE_FNV64_BASIS, s, cut), s + cut, n - cut);
        ck_assert_uint_eq(h, core_fnv64(CORE_FNV64_BASIS, s, n));
    }
    ck_assert_uint_eq(core_fnv64_str(core_fnv64_str(CORE_FNV64_BASIS, "ab"), "c"),
                      core_fnv64(CORE_FNV64_BASIS, "abc", 3));
}
END_TEST

START_TEST(hash128_and_fnv32_unchanged)
{
    char big[300], hex[40];
    uint64_t h[2];

    core_hash128("abc", 3, h);
    snprintf(hex, sizeof hex, "%016llx%016llx", (unsigned long long)h[0],
             (unsigned long long)h[1]);
    ck_assert_str_eq(hex, "e16801510db89efdef3e541585dce052");
    ck_assert_uint_eq(h[0], core_fnv64(CORE_FNV64_BASIS, "abc", 3));
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    core_hash128(big, strlen(big), h);
    snprintf(hex, sizeof hex, "%016llx%016llx", (unsigned long long)h[0],
             (unsigned long long)h[1]);
    ck_assert_str_eq(hex, "c13a32945c4f7a19fbd074f473db2d33");

    /* standard 32-bit FNV-1a */
    ck_assert_uint_eq(core_fnv32("", 0), 0x811c9dc5u);
    ck_assert_uint_eq(core_fnv32("a", 1), 0xe40c292cu);
    ck_assert_uint_eq(core_fnv32(samples[4], strlen(samples[4])), 0xea0949afu);
}
END_TEST

Suite *suite_hash(void)
{
    Suite *s = suite_create("hash");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, ids_unchanged);
    tcase_add_test(tc, former_copies_agree);
    tcase_add_test(tc, chaining);
    tcase_add_test(tc, hash128_and_fnv32_unchanged);
    suite_add_tcase(s, tc);
    return s;
}
