/*
 * test_es_resp.c - _bulk answers turned into per-item verdicts (answers as
 * Elasticsearch 7 and 8 and OpenSearch 1 and 2 write them, in
 * tests/data/es/, and as filter_path shapes them; then every way an answer
 * can be broken), the verdict rules themselves, and the _bulk body writer.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulk.h"
#include "es_int.h"

static char *load(const char *name, size_t *len)
{
    const char *dir = getenv("LF_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/data/es/%s", dir ? dir : ".", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static int parse_str(const char *body, size_t nitems, struct lf_es_results *r)
{
    return lf_es_parse_bulk(body, strlen(body), nitems, r);
}

static void expect_item(const struct lf_es_results *r, size_t i, int status,
                        enum lf_es_verdict verdict, const char *type)
{
    assert_true(i < r->n);
    assert_int_equal(r->items[i].status, status);
    assert_string_equal(lf_es_verdict_name(r->items[i].verdict), lf_es_verdict_name(verdict));
    assert_string_equal(r->items[i].error_type, type);
}

/* ---- real answers ------------------------------------------------------ */

static void test_es7_all_created(void **state)
{
    (void)state;
    size_t len;
    char *body = load("es7_created.json", &len);
    struct lf_es_results r = {0};
    assert_int_equal(lf_es_parse_bulk(body, len, 3, &r), 0);
    assert_int_equal(r.n, 3);
    assert_false(r.errors);
    assert_int_equal(r.ndone, 3);
    for (size_t i = 0; i < 3; i++) { /* "errors":false first: counted, not examined */
        expect_item(&r, i, 0, LF_ES_DONE, "");
        assert_string_equal(r.items[i].reason, "");
    }
    /* The same answer still holds exactly three items. */
    assert_int_equal(lf_es_parse_bulk(body, len, 2, &r), LF_ESYNTAX);
    assert_int_equal(r.n, 0);
    assert_int_equal(lf_es_parse_bulk(body, len, 4, &r), LF_ESYNTAX);
    lf_es_results_free(&r);
    free(body);
}

static void test_es8_mixed_pretty(void **state)
{
    (void)state;
    size_t len;
    char *body = load("es8_mixed.json", &len);
    struct lf_es_results r = {0};
    assert_int_equal(lf_es_parse_bulk(body, len, 6, &r), 0);
    assert_true(r.errors);
    expect_item(&r, 0, 201, LF_ES_DONE, "");
    expect_item(&r, 1, 409, LF_ES_DUPLICATE, "version_conflict_engine_exception");
    assert_string_equal(r.items[1].reason, "[0a1b2c3d4e5f60718293a4b5c6d7e8f9]: version conflict, "
                                           "document already exists (current version [1])");
    expect_item(&r, 2, 429, LF_ES_RETRY, "es_rejected_execution_exception");
    expect_item(&r, 3, 400, LF_ES_DEAD, "document_parsing_exception");
    /* the item's own reason, not its caused_by's */
    assert_non_null(strstr(r.items[3].reason, "Preview of field's value: 'high'"));
    assert_null(strstr(r.items[3].reason, "For input string"));
    expect_item(&r, 4, 503, LF_ES_RETRY, "unavailable_shards_exception");
    expect_item(&r, 5, 201, LF_ES_DONE, "");
    assert_int_equal(r.ndone, 2);
    assert_int_equal(r.nduplicate, 1);
    assert_int_equal(r.nretry, 2);
    assert_int_equal(r.ndead, 1);
    lf_es_results_free(&r);
    free(body);
}

static void test_es7_failures(void **state)
{
    (void)state;
    size_t len;
    char *body = load("es7_failures.json", &len);
    struct lf_es_results r = {0};
    assert_int_equal(lf_es_parse_bulk(body, len, 6, &r), 0);
    expect_item(&r, 0, 400, LF_ES_DEAD, "mapper_parsing_exception");
    expect_item(&r, 1, 400, LF_ES_DEAD, "index_closed_exception");
    assert_string_equal(r.items[1].reason, "closed");
    expect_item(&r, 2, 429, LF_ES_RETRY, "circuit_breaking_exception");
    expect_item(&r, 3, 429, LF_ES_RETRY, "cluster_block_exception");
    expect_item(&r, 4, 404, LF_ES_DEAD, "index_not_found_exception");
    expect_item(&r, 5, 201, LF_ES_DONE, "");
    lf_es_results_free(&r);
    free(body);
}

static void test_opensearch(void **state)
{
    (void)state;
    size_t len;
    struct lf_es_results r = {0};
    char *body = load("opensearch1_mixed.json", &len);
    assert_int_equal(lf_es_parse_bulk(body, len, 2, &r), 0);
    expect_item(&r, 0, 201, LF_ES_DONE, "");
    expect_item(&r, 1, 409, LF_ES_DUPLICATE, "version_conflict_engine_exception");
    free(body);
    body = load("opensearch2_mixed.json", &len);
    assert_int_equal(lf_es_parse_bulk(body, len, 3, &r), 0);
    expect_item(&r, 0, 201, LF_ES_DONE, "");
    expect_item(&r, 1, 400, LF_ES_DEAD, "mapper_parsing_exception");
    expect_item(&r, 2, 429, LF_ES_RETRY, "rejected_execution_exception");
    free(body);
    lf_es_results_free(&r);
}

static void test_filter_path_shapes(void **state)
{
    (void)state;
    size_t len;
    struct lf_es_results r = {0};
    char *body = load("filtered_mixed.json", &len);
    assert_int_equal(lf_es_parse_bulk(body, len, 4, &r), 0);
    expect_item(&r, 0, 201, LF_ES_DONE, "");
    expect_item(&r, 1, 409, LF_ES_DUPLICATE, "version_conflict_engine_exception");
    expect_item(&r, 2, 400, LF_ES_DEAD, "mapper_parsing_exception");
    assert_string_equal(r.items[2].reason, "failed to parse field [log.offset] of type [long]");
    expect_item(&r, 3, 503, LF_ES_RETRY, "unavailable_shards_exception");
    free(body);

    body = load("filtered_ok.json", &len);
    assert_int_equal(lf_es_parse_bulk(body, len, 2, &r), 0);
    assert_int_equal(r.ndone, 2);
    assert_int_equal(lf_es_parse_bulk(body, len, 3, &r), LF_ESYNTAX);
    free(body);

    /* filter_path prunes empty arrays: nothing sent, nothing answered. */
    assert_int_equal(parse_str("{\"errors\":false}", 0, &r), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(parse_str("{\"took\":0,\"errors\":false,\"items\":[]}", 0, &r), 0);
    assert_int_equal(parse_str("{\"errors\":false}", 1, &r), LF_ESYNTAX);
    assert_int_equal(parse_str("{\"errors\":true}", 0, &r), LF_ESYNTAX);
    lf_es_results_free(&r);
}

static void test_errors_after_items(void **state)
{
    (void)state;
    /* No fast path when "errors" comes last: every item is read. */
    struct lf_es_results r = {0};
    assert_int_equal(parse_str("{\"items\":[{\"create\":{\"status\":201}},"
                               "{\"create\":{\"status\":400,\"error\":{\"type\":\"x\"}}}],"
                               "\"errors\":false}",
                               2, &r),
                     0);
    expect_item(&r, 0, 201, LF_ES_DONE, "");
    expect_item(&r, 1, 400, LF_ES_DEAD, "x");
    /* Without "errors" at all the items decide. */
    assert_int_equal(parse_str("{\"items\":[{\"create\":{\"status\":201}}]}", 1, &r), 0);
    expect_item(&r, 0, 201, LF_ES_DONE, "");
    lf_es_results_free(&r);
}

/* ---- broken answers ---------------------------------------------------- */

static void test_every_truncation_is_rejected(void **state)
{
    (void)state;
    const char *names[] = {"es8_mixed.json", "es7_failures.json", "filtered_mixed.json",
                           "es7_created.json"};
    const size_t counts[] = {6, 6, 4, 3};
    struct lf_es_results r = {0};
    for (size_t k = 0; k < 4; k++) {
        size_t len;
        char *body = load(names[k], &len);
        while (len && (body[len - 1] == '\n' || body[len - 1] == ' '))
            len--;
        assert_int_equal(lf_es_parse_bulk(body, len, counts[k], &r), 0);
        for (size_t cut = 0; cut < len; cut++) {
            int rc = lf_es_parse_bulk(body, cut, counts[k], &r);
            if (rc != LF_ESYNTAX)
                fail_msg("%s cut at %zu: %d", names[k], cut, rc);
            assert_int_equal(r.n, 0);
        }
        free(body);
    }
    lf_es_results_free(&r);
}

static void test_not_a_bulk_answer(void **state)
{
    (void)state;
    struct lf_es_results r = {0};
    const char *bad[] = {
        "",
        "   ",
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
        "null",
        "[]",
        "{}",
        "{\"errors\":false,\"items\":{}}",
        "{\"errors\":\"false\",\"items\":[{\"create\":{\"status\":201}}]}",
        "{\"errors\":null,\"items\":[{\"create\":{\"status\":201}}]}",
        "{\"error\":{\"root_cause\":[{\"type\":\"illegal_argument_exception\",\"reason\":\"x\"}],"
        "\"type\":\"illegal_argument_exception\",\"reason\":\"x\"},\"status\":400}",
        /* two "items" or "errors": which one would we believe? */
        "{\"items\":[{\"create\":{\"status\":201}}],\"items\":[{\"create\":{\"status\":201}}]}",
        "{\"errors\":true,\"errors\":false,\"items\":[{\"create\":{\"status\":201}}]}",
        /* trailing garbage, bad grammar */
        "{\"errors\":false,\"items\":[{\"create\":{\"status\":201}}]}x",
        "{\"errors\":false,\"items\":[{\"create\":{\"status\":201}}]}{}",
        "{\"errors\":false,\"items\":[{\"create\":{\"status\":201}},]}",
        "{\"errors\":false,\"items\":[{\"create\":{\"status\":201,}}]}",
        "{'errors':false,\"items\":[{\"create\":{\"status\":201}}]}",
        "{\"errors\":false,\"items\":[{\"create\":{\"status\":0201}}]}",
        "{\"errors\":false,\"items\":[{\"create\":{\"status\":2e}}]}",
        "{\"errors\":false,\"items\":[{\"create\":{\"status\":-}}]}",
        "{\"errors\":false,\"items\":[{\"create\":{\"status\":201,\"x\":\"\\q\"}}]}",
        "{\"errors\":false,\"items\":[{\"create\":{\"status\":201,\"x\":\"\\u12\"}}]}",
        "{\"errors\":false,\"items\":[{\"create\":{\"status\":201,\"x\":tru}}]}",
        "{\"errors\":true,\"items\":[{\"create\":{\"status\":201,\"x\":\"a\tb\"}}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse_str(bad[i], 1, &r);
        if (rc != LF_ESYNTAX)
            fail_msg("accepted: %s (%d)", bad[i], rc);
    }
    /* A NUL byte in the body is not JSON either. */
    static const char nul[] = "{\"errors\":false,\"items\":[{\"create\":{\"status\":201}}]}\0";
    assert_int_equal(lf_es_parse_bulk(nul, sizeof(nul) - 1, 1, &r), LF_ESYNTAX);
    assert_int_equal(lf_es_parse_bulk(NULL, 0, 1, &r), LF_ESYNTAX);
    lf_es_results_free(&r);
}

static void test_count_mismatch(void **state)
{
    (void)state;
    struct lf_es_results r = {0};
    const char *two = "{\"errors\":true,\"items\":[{\"create\":{\"status\":201}},"
                      "{\"create\":{\"status\":429}}]}";
    assert_int_equal(parse_str(two, 2, &r), 0);
    assert_int_equal(parse_str(two, 1, &r), LF_ESYNTAX);
    assert_int_equal(r.n, 0);
    assert_int_equal(parse_str(two, 3, &r), LF_ESYNTAX);
    assert_int_equal(parse_str(two, 0, &r), LF_ESYNTAX);
    lf_es_results_free(&r);
}

static void test_odd_items(void **state)
{
    (void)state;
    struct lf_es_results r = {0};
    const char *body =
        "{\"errors\":true,\"items\":["
        "{\"frobnicate\":{\"status\":201}}," /* 0 */
        "{\"index\":{\"status\":201}},"      /* 1 */
        "{\"index\":{\"status\":409,\"error\":{\"type\":\"version_conflict_engine_exception\"}}"
        "},"                                                                          /* 2 */
        "{},"                                                                         /* 3 */
        "5,"                                                                          /* 4 */
        "{\"create\":{\"status\":201},\"create\":{\"status\":400}},"                  /* 5 */
        "{\"create\":{}},"                                                            /* 6 */
        "{\"create\":{\"status\":\"201\"}},"                                          /* 7 */
        "{\"create\":{\"status\":201.0}},"                                            /* 8 */
        "{\"create\":{\"status\":2010}},"                                             /* 9 */
        "{\"create\":{\"status\":null}},"                                             /* 10 */
        "{\"create\":{\"status\":-201}},"                                             /* 11 */
        "{\"create\":{\"status\":201,\"status\":400}},"                               /* 12 */
        "{\"create\":[201]},"                                                         /* 13 */
        "{\"create\":{\"status\":600}},"                                              /* 14 */
        "{\"create\":{\"status\":302}},"                                              /* 15 */
        "{\"create\":{\"status\":400,\"error\":\"MapperParsingException[failed]\"}}," /* 16 */
        "{\"create\":{\"status\":400,\"error\":{\"type\":7,\"reason\":[\"x\"]}}},"    /* 17 */
        "{\"create\":{\"result\":\"created\"}}"                                       /* 18 */
        "]}";
    assert_int_equal(parse_str(body, 19, &r), 0);
    expect_item(&r, 0, 201, LF_ES_RETRY, ""); /* an action we never send */
    assert_string_equal(r.items[0].reason, "unexpected action in the answer");
    expect_item(&r, 1, 201, LF_ES_DONE, "");
    expect_item(&r, 2, 409, LF_ES_DEAD, "version_conflict_engine_exception"); /* not a create */
    expect_item(&r, 3, 0, LF_ES_RETRY, "");
    expect_item(&r, 4, 0, LF_ES_RETRY, "");
    expect_item(&r, 5, 201, LF_ES_RETRY, "");
    expect_item(&r, 6, 0, LF_ES_RETRY, "");
    assert_string_equal(r.items[6].reason, "item without a status");
    for (size_t i = 7; i <= 13; i++)
        expect_item(&r, i, 0, LF_ES_RETRY, "");
    expect_item(&r, 14, 0, LF_ES_RETRY, "");
    expect_item(&r, 15, 302, LF_ES_RETRY, "");
    expect_item(&r, 16, 400, LF_ES_DEAD, "");
    assert_string_equal(r.items[16].reason, "MapperParsingException[failed]");
    expect_item(&r, 17, 400, LF_ES_DEAD, "");
    assert_string_equal(r.items[17].reason, "");
    expect_item(&r, 18, 0, LF_ES_RETRY, "");
    assert_int_equal(r.nretry, 15);
    lf_es_results_free(&r);
}

static void test_huge_reason_is_cut(void **state)
{
    (void)state;
    struct lf_es_results r = {0};
    struct lf_buf b;
    lf_buf_init(&b, 1 << 22);
    /* 100 KiB of two-byte characters, then one more item */
    assert_int_equal(lf_buf_puts(&b, "{\"errors\":true,\"items\":[{\"create\":{\"status\":400,"
                                     "\"error\":{\"type\":\"mapper_parsing_exception\","
                                     "\"reason\":\"x"),
                     0);
    for (int i = 0; i < 50 * 1024; i++)
        assert_int_equal(lf_buf_puts(&b, "\xc3\xa9"), 0);
    assert_int_equal(lf_buf_puts(&b, "\",\"caused_by\":{\"type\":\"y\",\"reason\":\"z\"}}}},"
                                     "{\"create\":{\"status\":201}}]}"),
                     0);
    assert_int_equal(lf_es_parse_bulk(b.data, b.len, 2, &r), 0);
    const char *reason = r.items[0].reason;
    size_t n = strlen(reason);
    assert_true(n < LF_ES_REASON_MAX);
    assert_true(n > LF_ES_REASON_MAX - 8);
    assert_string_equal(reason + n - 3, "...");
    assert_true(lf_utf8_valid(reason, n)); /* cut between characters */
    assert_string_equal(r.items[0].error_type, "mapper_parsing_exception");
    expect_item(&r, 1, 201, LF_ES_DONE, "");

    /* a long type is cut the same way */
    lf_buf_reset(&b);
    assert_int_equal(lf_buf_puts(&b, "{\"errors\":true,\"items\":[{\"create\":{\"status\":400,"
                                     "\"error\":{\"type\":\""),
                     0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(lf_buf_putc(&b, 't'), 0);
    assert_int_equal(lf_buf_puts(&b, "\"}}}]}"), 0);
    assert_int_equal(lf_es_parse_bulk(b.data, b.len, 1, &r), 0);
    assert_int_equal(strlen(r.items[0].error_type), LF_ES_TYPE_MAX - 1);
    assert_int_equal(r.items[0].verdict, LF_ES_DEAD);
    lf_buf_free(&b);
    lf_es_results_free(&r);
}

static void test_string_escapes(void **state)
{
    (void)state;
    struct lf_es_results r = {0};
    const char *body =
        "{\"errors\":true,\"items\":[{\"create\":{\"status\":400,\"error\":{"
        "\"type\":\"mapper_\\u0070arsing_exception\","
        "\"reason\":\"a\\u0000b \\ud83d\\ude00 \\ud800 \\n\\t\\\"\\\\\\/ \xff\"}}}]}";
    assert_int_equal(parse_str(body, 1, &r), 0);
    assert_string_equal(r.items[0].error_type, "mapper_parsing_exception");
    assert_string_equal(r.items[0].reason, "a\xef\xbf\xbd"
                                           "b \xf0\x9f\x98\x80 \xef\xbf\xbd \n\t\"\\/ \xff");
    assert_int_equal(r.items[0].verdict, LF_ES_DEAD);
    /* the rest of JSON's escapes and numbers, in members we skip and keep */
    body = "{\"took\":1.5e+3,\"x\":[-0.25E-2,0,1e9,true,null,{}],\"errors\":true,"
           "\"items\":[{\"create\":{\"status\":503,\"_seq_no\":-1,"
           "\"error\":{\"reason\":\"\\b\\f\\r\\u00E9\\u20aC\"}}}]}";
    assert_int_equal(parse_str(body, 1, &r), 0);
    assert_string_equal(r.items[0].reason, "\b\f\r\xc3\xa9\xe2\x82\xac");
    expect_item(&r, 0, 503, LF_ES_RETRY, "");
    lf_es_results_free(&r);
}

static void test_reuse_and_sharing(void **state)
{
    (void)state;
    struct lf_es_results r = {0};
    struct lf_buf b;
    lf_buf_init(&b, 1 << 22);
    assert_int_equal(lf_buf_puts(&b, "{\"took\":3,\"errors\":true,\"items\":["), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(lf_buf_printf(&b,
                                       "%s{\"create\":{\"_index\":\"m\",\"_id\":\"%d\",\"status\":"
                                       "400,\"error\":{\"type\":\"mapper_parsing_exception\","
                                       "\"reason\":\"failed to parse [%d]\"}}}",
                                       i ? "," : "", i, i / 10),
                         0);
    assert_int_equal(lf_buf_puts(&b, "]}"), 0);
    assert_int_equal(lf_es_parse_bulk(b.data, b.len, 1000, &r), 0);
    assert_int_equal(r.ndead, 1000);
    /* one copy of a type that repeats, one per run of equal reasons */
    assert_ptr_equal(r.items[0].error_type, r.items[999].error_type);
    assert_ptr_equal(r.items[10].reason, r.items[19].reason);
    assert_string_equal(r.items[999].reason, "failed to parse [99]");
    /* a smaller answer next: nothing of the old one shows */
    assert_int_equal(
        parse_str("{\"errors\":true,\"items\":[{\"create\":{\"status\":201}}]}", 1, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.ndead, 0);
    expect_item(&r, 0, 201, LF_ES_DONE, "");
    lf_es_results_free(&r);
    lf_es_results_free(&r); /* twice is fine */
    assert_int_equal(
        parse_str("{\"errors\":true,\"items\":[{\"create\":{\"status\":429}}]}", 1, &r), 0);
    expect_item(&r, 0, 429, LF_ES_RETRY, "");
    lf_es_results_free(&r);
    lf_buf_free(&b);
}

static void test_nesting_is_bounded(void **state)
{
    (void)state;
    struct lf_es_results r = {0};
    struct lf_buf b;
    lf_buf_init(&b, 1 << 22);
    for (int depth = 10; depth <= 100000; depth *= 100) {
        lf_buf_reset(&b);
        assert_int_equal(lf_buf_puts(&b, "{\"errors\":true,\"items\":[{\"create\":{\"status\":400,"
                                         "\"error\":{\"type\":\"t\",\"caused_by\":"),
                         0);
        for (int i = 0; i < depth; i++)
            assert_int_equal(lf_buf_puts(&b, "{\"caused_by\":["), 0);
        for (int i = 0; i < depth; i++)
            assert_int_equal(lf_buf_puts(&b, "]}"), 0);
        assert_int_equal(lf_buf_puts(&b, "}}}]}"), 0);
        int rc = lf_es_parse_bulk(b.data, b.len, 1, &r);
        assert_int_equal(rc, depth < 40 ? 0 : LF_ESYNTAX);
    }
    lf_buf_free(&b);
    lf_es_results_free(&r);
}

/* ---- verdict rules ----------------------------------------------------- */

static void test_item_verdicts(void **state)
{
    (void)state;
    struct {
        int status;
        const char *type;
        bool create;
        enum lf_es_verdict v;
    } cases[] = {
        {200, NULL, true, LF_ES_DONE},
        {201, "", true, LF_ES_DONE},
        {409, "version_conflict_engine_exception", true, LF_ES_DUPLICATE},
        {409, "version_conflict_engine_exception", false, LF_ES_DEAD},
        {429, "es_rejected_execution_exception", true, LF_ES_RETRY},
        {429, NULL, true, LF_ES_RETRY},
        {408, NULL, true, LF_ES_RETRY},
        {500, "exception", true, LF_ES_RETRY},
        {503, "unavailable_shards_exception", true, LF_ES_RETRY},
        {400, "es_rejected_execution_exception", true, LF_ES_RETRY},
        {400, "rejected_execution_exception", true, LF_ES_RETRY},
        {500, "circuit_breaking_exception", true, LF_ES_RETRY},
        {403, "cluster_block_exception", true, LF_ES_RETRY},
        {400, "mapper_parsing_exception", true, LF_ES_DEAD},
        {400, "document_parsing_exception", true, LF_ES_DEAD},
        {400, "illegal_argument_exception", true, LF_ES_DEAD},
        {400, "index_closed_exception", true, LF_ES_DEAD},
        {404, "index_not_found_exception", true, LF_ES_DEAD},
        {403, "security_exception", true, LF_ES_DEAD},
        {0, NULL, true, LF_ES_RETRY},
        {302, NULL, true, LF_ES_RETRY},
        {100, NULL, true, LF_ES_RETRY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum lf_es_verdict v = lf_es_item_verdict(cases[i].status, cases[i].type, cases[i].create);
        if (v != cases[i].v)
            fail_msg("%d %s: %s", cases[i].status, cases[i].type ? cases[i].type : "-",
                     lf_es_verdict_name(v));
    }
}

static void test_http_verdicts(void **state)
{
    (void)state;
    assert_int_equal(lf_es_http_verdict(200), LF_ES_DONE);
    assert_int_equal(lf_es_http_verdict(0), LF_ES_RETRY);
    assert_int_equal(lf_es_http_verdict(408), LF_ES_RETRY);
    assert_int_equal(lf_es_http_verdict(429), LF_ES_RETRY);
    assert_int_equal(lf_es_http_verdict(500), LF_ES_RETRY);
    assert_int_equal(lf_es_http_verdict(502), LF_ES_RETRY);
    assert_int_equal(lf_es_http_verdict(503), LF_ES_RETRY);
    assert_int_equal(lf_es_http_verdict(504), LF_ES_RETRY);
    assert_int_equal(lf_es_http_verdict(401), LF_ES_RETRY); /* credentials: wait for a fix */
    assert_int_equal(lf_es_http_verdict(403), LF_ES_RETRY);
    assert_int_equal(lf_es_http_verdict(400), LF_ES_DEAD);
    assert_int_equal(lf_es_http_verdict(404), LF_ES_DEAD);
    assert_int_equal(lf_es_http_verdict(413), LF_ES_DEAD); /* the caller splits first */
    assert_int_equal(lf_es_http_verdict(301), LF_ES_DEAD);
    assert_string_equal(lf_es_verdict_name(LF_ES_DUPLICATE), "duplicate");
}

/* ---- bulk bodies ------------------------------------------------------- */

static void test_bulk_append(void **state)
{
    (void)state;
    struct lf_buf body;
    lf_buf_init(&body, 1 << 20);
    const char *doc = "{\"message\":\"hello\"}";
    assert_int_equal(lf_bulk_append(&body, "syslog-2026.11.21", 17,
                                       "5f2c1a7e9b0d4c3e8a6f1b2d3c4e5f60", doc, strlen(doc)),
                     0);
    assert_string_equal(body.data, "{\"create\":{\"_index\":\"syslog-2026.11.21\",\"_id\":"
                                   "\"5f2c1a7e9b0d4c3e8a6f1b2d3c4e5f60\"}}\n"
                                   "{\"message\":\"hello\"}\n");
    /* Hostile index and id stay inside their strings. */
    const char *index = "a\"}}\n{\"delete\":{\"_index\":\"x";
    assert_int_equal(lf_bulk_append(&body, index, strlen(index), "i\nd", doc, strlen(doc)), 0);
    size_t lines = 0;
    for (size_t i = 0; i < body.len; i++)
        lines += body.data[i] == '\n';
    assert_int_equal(lines, 4);
    char *second = strchr(strchr(body.data, '\n') + 1, '\n') + 1;
    char *end = strchr(second, '\n');
    json_error_t err;
    json_t *action = json_loadb(second, (size_t)(end - second), 0, &err);
    assert_non_null(action);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(action, "create"), "_index")), index);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(action, "create"), "_id")), "i\nd");
    json_decref(action);
    /* A raw newline in a document would forge a line: refused, nothing added. */
    size_t before = body.len;
    assert_int_equal(lf_bulk_append(&body, "s", 1, "1", "{\"a\":\n1}", 8), LF_EINVAL);
    assert_int_equal(lf_bulk_append(&body, "s", 1, "1", "", 0), LF_EINVAL);
    assert_int_equal(body.len, before);
    lf_buf_free(&body);
}

static void test_bulk_append_cap(void **state)
{
    (void)state;
    const char *doc = "{\"message\":\"hello\"}";
    const char *one =
        "{\"create\":{\"_index\":\"syslog\",\"_id\":\"1\"}}\n{\"message\":\"hello\"}\n";
    size_t need = strlen(one);
    for (size_t max = need - 3; max <= need + 3; max++) {
        struct lf_buf body;
        lf_buf_init(&body, max);
        int rc = lf_bulk_append(&body, "syslog", 6, "1", doc, strlen(doc));
        if (max < need) {
            assert_int_equal(rc, LF_ELIMIT);
            assert_int_equal(body.len, 0);
        } else {
            assert_int_equal(rc, 0);
            assert_string_equal(body.data, one);
            /* the second never fits: the first stays whole */
            assert_int_equal(lf_bulk_append(&body, "syslog", 6, "2", doc, strlen(doc)),
                             LF_ELIMIT);
            assert_int_equal(body.len, need);
            assert_string_equal(body.data, one);
        }
        lf_buf_free(&body);
    }
    /* A cap that runs out inside the escaped index. */
    char index[200];
    memset(index, '"', sizeof(index) - 1);
    index[sizeof(index) - 1] = '\0';
    struct lf_buf body;
    lf_buf_init(&body, 300);
    assert_int_equal(lf_bulk_append(&body, "s", 1, "1", doc, strlen(doc)), 0);
    size_t before = body.len;
    assert_int_equal(lf_bulk_append(&body, index, strlen(index), "2", doc, strlen(doc)),
                     LF_ELIMIT);
    assert_int_equal(body.len, before);
    assert_int_equal(strlen(body.data), before);
    lf_buf_free(&body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_es7_all_created),
        cmocka_unit_test(test_es8_mixed_pretty),
        cmocka_unit_test(test_es7_failures),
        cmocka_unit_test(test_opensearch),
        cmocka_unit_test(test_filter_path_shapes),
        cmocka_unit_test(test_errors_after_items),
        cmocka_unit_test(test_every_truncation_is_rejected),
        cmocka_unit_test(test_not_a_bulk_answer),
        cmocka_unit_test(test_count_mismatch),
        cmocka_unit_test(test_odd_items),
        cmocka_unit_test(test_huge_reason_is_cut),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_reuse_and_sharing),
        cmocka_unit_test(test_nesting_is_bounded),
        cmocka_unit_test(test_item_verdicts),
        cmocka_unit_test(test_http_verdicts),
        cmocka_unit_test(test_bulk_append),
        cmocka_unit_test(test_bulk_append_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
