/*
 * test_es_version.c - lf_es_server_judge: which clusters logferry serves,
 * through which template API, and what it says about the others.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "bulk.h"
#include "es_int.h"

struct judged {
    enum lf_es_api api;
    struct lf_es_server s;
    char why[512];
};

static struct judged judge(const char *number, const char *dist, const char *tagline,
                           const char *product)
{
    struct judged j;
    j.api = lf_es_server_judge(number, dist, tagline, product, &j.s, j.why, sizeof(j.why));
    return j;
}

#define ES_TAG "You Know, for Search"
#define OS_TAG "The OpenSearch Project: https://opensearch.org/"

static void test_elasticsearch(void **state)
{
    (void)state;
    static const struct {
        const char *number;
        enum lf_es_api api;
    } cases[] = {
        {"6.8.23", LF_ES_API_LEGACY_TYPED}, {"7.0.0", LF_ES_API_LEGACY},
        {"7.7.1", LF_ES_API_LEGACY},        {"7.8.0", LF_ES_API_COMPOSABLE},
        {"7.10.2", LF_ES_API_COMPOSABLE},   {"7.17.15", LF_ES_API_COMPOSABLE},
        {"8.0.0", LF_ES_API_COMPOSABLE},    {"8.15.1", LF_ES_API_COMPOSABLE},
        {"9.0.0", LF_ES_API_COMPOSABLE},    {"9.1.0-SNAPSHOT", LF_ES_API_COMPOSABLE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct judged j = judge(cases[i].number, NULL, ES_TAG, "Elasticsearch");
        if (j.api != cases[i].api)
            fail_msg("%s: api %d, want %d (%s)", cases[i].number, j.api, cases[i].api, j.why);
        assert_false(j.s.opensearch);
        assert_false(j.s.future);
        char want[64];
        snprintf(want, sizeof(want), "Elasticsearch %s", cases[i].number);
        assert_string_equal(j.s.name, want);
    }
}

static void test_opensearch(void **state)
{
    (void)state;
    const char *versions[] = {"1.0.0", "1.3.14", "2.11.0", "2.19.1", "3.0.0"};
    for (size_t i = 0; i < 5; i++) {
        struct judged j = judge(versions[i], "opensearch", OS_TAG, NULL);
        assert_int_equal(j.api, LF_ES_API_COMPOSABLE);
        assert_true(j.s.opensearch);
        assert_false(j.s.compat);
        assert_false(j.s.future);
    }
    /* compatibility mode, with and without the distribution */
    struct judged j = judge("7.10.2", "opensearch", OS_TAG, NULL);
    assert_int_equal(j.api, LF_ES_API_COMPOSABLE);
    assert_true(j.s.opensearch && j.s.compat);
    assert_string_equal(j.s.name, "OpenSearch (compatibility mode: reports 7.10.2)");
    j = judge("7.10.2", NULL, OS_TAG, NULL);
    assert_int_equal(j.api, LF_ES_API_COMPOSABLE);
    assert_true(j.s.opensearch && j.s.compat);
    /* a real Elasticsearch 7.10.2 is not taken for one */
    j = judge("7.10.2", NULL, ES_TAG, NULL);
    assert_false(j.s.opensearch);
    assert_string_equal(j.s.name, "Elasticsearch 7.10.2");
    /* the header settles a disagreement for Elasticsearch */
    j = judge("8.11.0", "opensearch", OS_TAG, "Elasticsearch");
    assert_false(j.s.opensearch);
}

static void test_future_and_refused(void **state)
{
    (void)state;
    struct judged j = judge("10.0.0", NULL, ES_TAG, "Elasticsearch");
    assert_int_equal(j.api, LF_ES_API_COMPOSABLE);
    assert_true(j.s.future);
    j = judge("4.0.0", "opensearch", OS_TAG, NULL);
    assert_int_equal(j.api, LF_ES_API_COMPOSABLE);
    assert_true(j.s.future && j.s.opensearch);

    const char *old[] = {"6.7.2", "6.2.4", "5.6.16", "2.4.6"};
    for (size_t i = 0; i < 4; i++) {
        j = judge(old[i], NULL, ES_TAG, NULL);
        assert_int_equal(j.api, LF_ES_API_NONE);
        assert_non_null(strstr(j.why, "is too old: logferry needs Elasticsearch 6.8 or later"));
        assert_non_null(strstr(j.why, old[i]));
        assert_null(strstr(j.why, "unreachable"));
    }
    j = judge(NULL, NULL, NULL, NULL);
    assert_int_equal(j.api, LF_ES_API_NONE);
    assert_non_null(strstr(j.why, "version.number"));
    j = judge("banana", NULL, NULL, NULL);
    assert_int_equal(j.api, LF_ES_API_NONE);
    assert_non_null(strstr(j.why, "banana"));
    j = judge("0.9.0", "opensearch", OS_TAG, NULL);
    assert_int_equal(j.api, LF_ES_API_NONE);
    assert_non_null(strstr(j.why, "OpenSearch 1.0 or later"));
}

/* 6.8's bulk action carries the type; the body stays one action, one document. */
static void test_typed_bulk_action(void **state)
{
    (void)state;
    struct lf_buf b;
    lf_buf_init(&b, 1 << 16);
    assert_int_equal(lf_bulk_append_typed(&b, "_doc", "logs-2026.11.21", 15, "abc", "{\"a\":1}", 7),
                     0);
    assert_string_equal(b.data, "{\"create\":{\"_index\":\"logs-2026.11.21\",\"_type\":\"_doc\","
                                "\"_id\":\"abc\"}}\n{\"a\":1}\n");
    size_t len = b.len;
    assert_int_equal(lf_bulk_append_typed(&b, "_doc", "x", 1, "1", "{\"a\":\n1}", 8), LF_EINVAL);
    assert_int_equal(b.len, len);
    lf_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elasticsearch),
        cmocka_unit_test(test_opensearch),
        cmocka_unit_test(test_future_and_refused),
        cmocka_unit_test(test_typed_bulk_action),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
