/*
 * test_es_policy.c - lifecycle policies (es_policy.c): the bodies for ILM
 * and ISM, their paths, and whether a stored policy is ours and current;
 * and the template's lifecycle setting (es_template.c) in both template
 * APIs, fingerprint included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "es_int.h"
#include "es_template.h"

static struct lf_es_server server(bool opensearch, int major, int minor)
{
    struct lf_es_server s = {.opensearch = opensearch, .major = major, .minor = minor};
    return s;
}

static void test_paths(void **state)
{
    (void)state;
    char p[256];
    struct lf_es_server es = server(false, 8, 11), os = server(true, 2, 11);
    assert_int_equal(lf_es_policy_path(&es, "syslog", 3, 1, p, sizeof(p)), 0);
    assert_string_equal(p, "/_ilm/policy/logferry-syslog"); /* ILM overwrites: no seq */
    assert_int_equal(lf_es_policy_path(&os, "syslog", -1, -1, p, sizeof(p)), 0);
    assert_string_equal(p, "/_plugins/_ism/policies/logferry-syslog");
    assert_int_equal(lf_es_policy_path(&os, "syslog", 7, 2, p, sizeof(p)), 0);
    assert_string_equal(p, "/_plugins/_ism/policies/logferry-syslog?if_seq_no=7&if_primary_term=2");
    assert_int_equal(lf_es_policy_path(&os, "syslog", 7, 2, p, 20), LF_ELIMIT);
}

static void test_bodies(void **state)
{
    (void)state;
    struct lf_buf b;
    lf_buf_init(&b, 1 << 16);
    struct lf_es_server es8 = server(false, 8, 0), es7 = server(false, 7, 10);
    struct lf_es_server os = server(true, 2, 11);
    assert_int_equal(lf_es_policy_body(&es8, "30d", "syslog-*", &b), 0);
    assert_non_null(strstr(b.data, "{\"policy\":{\"_meta\":{\"fingerprint\":\""));
    assert_non_null(strstr(b.data, "\"managed_by\":\"logferry\"},\"phases\":{\"delete\":"
                                   "{\"actions\":{\"delete\":{}},\"min_age\":\"30d\"}}}}"));
    lf_buf_reset(&b);
    /* ILM before 7.14 refuses _meta. */
    assert_int_equal(lf_es_policy_body(&es7, "30d", "syslog-*", &b), 0);
    assert_string_equal(b.data, "{\"policy\":{\"phases\":{\"delete\":{\"actions\":{\"delete\":{}},"
                                "\"min_age\":\"30d\"}}}}");
    lf_buf_reset(&b);
    assert_int_equal(lf_es_policy_body(&os, "12h", "nginx-error-*", &b), 0);
    assert_non_null(strstr(b.data, "\"description\":\"managed by logferry: indices deleted 12h"));
    assert_non_null(strstr(
        b.data, "\"ism_template\":[{\"index_patterns\":[\"nginx-error-*\"],\"priority\":100}]"));
    assert_non_null(strstr(b.data, "\"conditions\":{\"min_index_age\":\"12h\"},\"state_name\":"
                                   "\"delete\""));
    size_t len = b.len;
    assert_int_equal(lf_es_policy_body(&os, "", "x-*", &b), LF_EINVAL);
    assert_int_equal(lf_es_policy_body(&os, "1d", NULL, &b), LF_EINVAL);
    assert_int_equal(b.len, len);
    lf_buf_free(&b);
}

/* What the server keeps of `body`, wrapped as its GET answers it. */
static void stored_ilm(const char *body, struct lf_buf *out)
{
    /* {"policy":{...}} -> {"logferry-syslog":{"version":1,"policy":{...}}} */
    const char *inner = strchr(body + 1, '{');
    lf_buf_printf(out,
                  "{\"logferry-syslog\":{\"version\":1,\"modified_date\":\"x\",\"policy\":%.*s}}",
                  (int)(strlen(inner) - 1), inner);
}

static void test_judge_ilm(void **state)
{
    (void)state;
    struct lf_es_server es = server(false, 8, 11);
    struct lf_buf mine, other, got;
    lf_buf_init(&mine, 1 << 16);
    lf_buf_init(&other, 1 << 16);
    lf_buf_init(&got, 1 << 16);
    long long seq, term;
    lf_es_policy_body(&es, "30d", "syslog-*", &mine);
    lf_es_policy_body(&es, "7d", "syslog-*", &other);
    stored_ilm(mine.data, &got);
    assert_int_equal(
        lf_es_policy_judge(&es, "syslog", got.data, got.len, mine.data, mine.len, &seq, &term),
        LF_ES_POLICY_CURRENT);
    assert_int_equal(
        lf_es_policy_judge(&es, "syslog", got.data, got.len, other.data, other.len, &seq, &term),
        LF_ES_POLICY_STALE);
    /* Another prefix's name is not this policy. */
    assert_int_equal(
        lf_es_policy_judge(&es, "nginx", got.data, got.len, mine.data, mine.len, &seq, &term),
        LF_ES_POLICY_FOREIGN);
    const char *theirs = "{\"logferry-syslog\":{\"version\":3,\"policy\":{\"phases\":{\"delete\":"
                         "{\"min_age\":\"30d\",\"actions\":{\"delete\":{}}}}}}}";
    assert_int_equal(
        lf_es_policy_judge(&es, "syslog", theirs, strlen(theirs), mine.data, mine.len, &seq, &term),
        LF_ES_POLICY_FOREIGN);
    assert_int_equal(
        lf_es_policy_judge(&es, "syslog", "garbage", 7, mine.data, mine.len, &seq, &term),
        LF_ES_POLICY_FOREIGN);
    /* Before 7.14 there is no mark: a delete-only policy of our name is ours. */
    struct lf_es_server es7 = server(false, 7, 10);
    lf_buf_reset(&mine);
    lf_es_policy_body(&es7, "30d", "syslog-*", &mine);
    assert_int_equal(lf_es_policy_judge(&es7, "syslog", theirs, strlen(theirs), mine.data, mine.len,
                                        &seq, &term),
                     LF_ES_POLICY_CURRENT);
    lf_buf_reset(&other);
    lf_es_policy_body(&es7, "7d", "syslog-*", &other);
    assert_int_equal(lf_es_policy_judge(&es7, "syslog", theirs, strlen(theirs), other.data,
                                        other.len, &seq, &term),
                     LF_ES_POLICY_STALE);
    const char *hot = "{\"logferry-syslog\":{\"policy\":{\"phases\":{\"hot\":{},\"delete\":{}}}}}";
    assert_int_equal(
        lf_es_policy_judge(&es7, "syslog", hot, strlen(hot), mine.data, mine.len, &seq, &term),
        LF_ES_POLICY_FOREIGN);
    lf_buf_free(&mine);
    lf_buf_free(&other);
    lf_buf_free(&got);
}

static void test_judge_ism(void **state)
{
    (void)state;
    struct lf_es_server os = server(true, 2, 11);
    struct lf_buf mine, other, got;
    lf_buf_init(&mine, 1 << 16);
    lf_buf_init(&other, 1 << 16);
    lf_buf_init(&got, 1 << 16);
    long long seq, term;
    lf_es_policy_body(&os, "30d", "syslog-*", &mine);
    lf_es_policy_body(&os, "30d", "other-*", &other);
    /* {"policy":{...}} -> {"_id":..,"_seq_no":5,"_primary_term":2,"policy":{...}} */
    const char *inner = strchr(mine.data + 1, '{');
    lf_buf_printf(&got,
                  "{\"_id\":\"logferry-syslog\",\"_version\":2,\"_seq_no\":5,"
                  "\"_primary_term\":2,\"policy\":%.*s}",
                  (int)(strlen(inner) - 1), inner);
    assert_int_equal(
        lf_es_policy_judge(&os, "syslog", got.data, got.len, mine.data, mine.len, &seq, &term),
        LF_ES_POLICY_CURRENT);
    assert_int_equal(seq, 5);
    assert_int_equal(term, 2);
    /* Another pattern: another fingerprint, still ours. */
    assert_int_equal(
        lf_es_policy_judge(&os, "syslog", got.data, got.len, other.data, other.len, &seq, &term),
        LF_ES_POLICY_STALE);
    const char *theirs = "{\"_id\":\"logferry-syslog\",\"_seq_no\":1,\"_primary_term\":1,"
                         "\"policy\":{\"description\":\"ops team\",\"states\":[]}}";
    assert_int_equal(
        lf_es_policy_judge(&os, "syslog", theirs, strlen(theirs), mine.data, mine.len, &seq, &term),
        LF_ES_POLICY_FOREIGN);
    assert_int_equal(seq, 1);
    lf_buf_free(&mine);
    lf_buf_free(&other);
    lf_buf_free(&got);
}

static void test_template_lifecycle(void **state)
{
    (void)state;
    struct lf_es_template *t = lf_es_template_create();
    assert_non_null(t);
    assert_int_equal(lf_es_template_add_builtin(t), 0);
    struct lf_buf plain, with, legacy;
    lf_buf_init(&plain, 1 << 20);
    lf_buf_init(&with, 1 << 20);
    lf_buf_init(&legacy, 1 << 20);
    assert_int_equal(lf_es_template_write(t, "syslog-*", 208, &plain), 0);
    assert_null(strstr(plain.data, "\"settings\""));
    assert_int_equal(lf_es_template_set_lifecycle(t, "logferry-syslog"), 0);
    assert_int_equal(lf_es_template_write(t, "syslog-*", 208, &with), 0);
    assert_non_null(strstr(
        with.data, "},\"settings\":{\"index\":{\"lifecycle\":{\"name\":\"logferry-syslog\"}}}}}"));
    /* The fingerprint covers it: a template without the policy is stale. */
    const char *old = "{\"index_templates\":[{\"name\":\"x\",\"index_template\":{\"_meta\":"
                      "{\"managed_by\":\"logferry\",\"fingerprint\":\"0\"}}}]}";
    assert_int_equal(
        lf_es_template_judge(LF_ES_API_COMPOSABLE, old, strlen(old), with.data, with.len),
        LF_ES_TMPL_STALE);
    assert_int_not_equal(memcmp(plain.data + 24, with.data + 24, 16), 0);
    assert_int_equal(lf_es_template_write_legacy(t, "syslog-*", 208, NULL, &legacy), 0);
    assert_non_null(strstr(legacy.data, ",\"order\":208,\"settings\":{\"index\":{\"lifecycle\":"
                                        "{\"name\":\"logferry-syslog\"}}}}"));
    lf_buf_reset(&with);
    assert_int_equal(lf_es_template_set_lifecycle(t, NULL), 0);
    assert_int_equal(lf_es_template_write(t, "syslog-*", 208, &with), 0);
    assert_string_equal(with.data, plain.data);
    lf_buf_free(&plain);
    lf_buf_free(&with);
    lf_buf_free(&legacy);
    lf_es_template_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_judge_ilm),
        cmocka_unit_test(test_judge_ism),
        cmocka_unit_test(test_template_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
