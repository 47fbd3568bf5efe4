/*
 * test_kafka_msg.c - Kafka messages into documents for the shipper: the
 * agent's format passes through, other JSON is completed, raw lines are
 * parsed, bad headers fall back, ids are deterministic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "kafka_msg.h"
#include "shipper_config.h"

static struct lf_parser *parser;
static struct lf_kafka_msg_conv *conv;
static struct lf_batch *batch;
static struct lf_ack_target target;

static void nop(struct lf_ack_target *t, uint64_t seq)
{
    (void)t;
    (void)seq;
}

static int setup(void **state)
{
    (void)state;
    char *expr[] = {"%{SYSLOGTIMESTAMP:timestamp} %{WORD:w} %{NUMBER:n:float}"};
    struct lf_grammar_conf g = {
        .name = "t", .expressions = expr, .nexpressions = 1, .max_line = 64, .match_limit = 100000};
    char err[512];
    parser = lf_parser_create(&g, "UTC", err, sizeof(err));
    lf_parser_set_now(parser, 1795082400000); /* 2026-11-19T10:00:00Z */
    conv = lf_kafka_msg_conv_create(parser, LF_KAFKA_FORMAT_AUTO, "syslog", 64);
    batch = lf_batch_create(1u << 20, 64);
    target.safe = nop;
    return parser && conv && batch ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    lf_batch_destroy(batch);
    lf_kafka_msg_conv_destroy(conv);
    lf_parser_destroy(parser);
    return 0;
}

/* Adds a message and returns its document's JSON (valid until the next). */
static const char *add(const struct lf_kafka_msg *m, const struct lf_doc **doc)
{
    static char text[4096];
    lf_batch_clear(batch);
    assert_int_equal(lf_kafka_msg_add(conv, m, batch, &target, 7), 1);
    assert_int_equal(batch->ndocs, 1);
    *doc = &batch->docs[0];
    assert_true((*doc)->len < sizeof(text));
    memcpy(text, batch->buf.data + (*doc)->off, (*doc)->len);
    text[(*doc)->len] = '\0';
    assert_null(strchr(text, '\n'));
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    assert_non_null(v);
    assert_true(json_is_object(v));
    assert_non_null(json_object_get(v, "@timestamp"));
    json_decref(v);
    assert_ptr_equal((*doc)->ack, &target);
    assert_int_equal((*doc)->seq, 7);
    return text;
}

static struct lf_kafka_msg msg(const char *value)
{
    return (struct lf_kafka_msg){.value = value,
                                 .len = value ? strlen(value) : 0,
                                 .topic = "logs",
                                 .partition = 2,
                                 .offset = 1000,
                                 .timestamp_ms = 1795082400000 + 5};
}

static void test_agent_format_passes_through(void **state)
{
    (void)state;
    const char *v = "{\"@timestamp\":\"2026-11-19T10:00:00.000Z\",\"message\":\"x\"}";
    struct lf_kafka_msg m = msg(v);
    m.index = "metrics";
    m.index_len = 7;
    m.id = "0123456789abcdef0123456789abcdef";
    m.id_len = 32;
    m.ts = "1795082400000";
    m.ts_len = 13;
    const struct lf_doc *d;
    assert_string_equal(add(&m, &d), v);
    assert_string_equal(d->index, "metrics");
    assert_string_equal(d->id, "0123456789abcdef0123456789abcdef");
    assert_int_equal(d->ts_ms, 1795082400000);
    assert_int_equal(lf_kafka_msg_conv_counters(conv)->passed, 1);
}

static void test_foreign_json_is_completed(void **state)
{
    (void)state;
    const struct lf_doc *d;
    struct lf_kafka_msg m = msg("{}");
    assert_string_equal(add(&m, &d), "{\"@timestamp\":\"2026-11-19T10:00:00.005Z\"}");
    assert_string_equal(d->index, "syslog");
    m = msg(" {\n \"a\" : [1, \"b c\"] }\r\n");
    assert_string_equal(add(&m, &d), "{\"@timestamp\":\"2026-11-19T10:00:00.005Z\",\"a\":[1,\"b c\"]}");
    /* Its own @timestamp picks the day; the text is kept. */
    m = msg("{\"@timestamp\":\"2026-11-18T23:59:59+01:00\",\"a\":1}");
    add(&m, &d);
    assert_int_equal(d->ts_ms, 1795042799000); /* 2026-11-18T22:59:59Z */
}

static void test_ids_come_from_the_position(void **state)
{
    (void)state;
    const struct lf_doc *d;
    struct lf_kafka_msg m = msg("{}");
    add(&m, &d);
    char want[LF_DOC_ID_LEN + 1];
    lf_doc_id(want, "kafka", "logs/2", 1000);
    assert_string_equal(d->id, want);
    m.offset = 1001;
    add(&m, &d);
    assert_string_not_equal(d->id, want);
}

static void test_bad_headers_fall_back(void **state)
{
    (void)state;
    const struct lf_doc *d;
    uint64_t before = lf_kafka_msg_conv_counters(conv)->bad_headers;
    struct lf_kafka_msg m = msg("{\"a\":1}");
    m.index = "Bad/Index";
    m.index_len = 9;
    m.id = "0123456789ABCDEF0123456789abcdef"; /* upper case: not ours */
    m.id_len = 32;
    m.ts = "12x";
    m.ts_len = 3;
    add(&m, &d);
    assert_string_equal(d->index, "syslog");
    char want[LF_DOC_ID_LEN + 1];
    lf_doc_id(want, "kafka", "logs/2", 1000);
    assert_string_equal(d->id, want);
    assert_int_equal(d->ts_ms, 1795082400005);
    assert_int_equal(lf_kafka_msg_conv_counters(conv)->bad_headers, before + 3);
}

static void test_raw_lines_are_parsed(void **state)
{
    (void)state;
    const struct lf_doc *d;
    struct lf_kafka_msg m = msg("Nov 18 10:00:00 abc 2.5");
    const char *json = add(&m, &d);
    assert_non_null(strstr(json, "\"n\":2.5"));
    assert_non_null(strstr(json, "\"@timestamp\":\"2026-11-18T10:00:00.000Z\""));
    assert_int_equal(d->ts_ms, 1795082400000 - 86400000);
    /* No match: tagged, timed by Kafka; a long one cut and tagged. */
    m = msg("no match here, \"quotes\" and \\ and {\"index\":{}}");
    json = add(&m, &d);
    assert_non_null(strstr(json, "_grokparsefailure"));
    assert_int_equal(d->ts_ms, 1795082400005);
    char line[200];
    memset(line, 'x', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    m = msg(line);
    json = add(&m, &d);
    assert_non_null(strstr(json, "_truncated"));
}

static void test_tombstones_are_skipped(void **state)
{
    (void)state;
    struct lf_kafka_msg m = msg(NULL);
    lf_batch_clear(batch);
    assert_int_equal(lf_kafka_msg_add(conv, &m, batch, &target, 1), 0);
    assert_int_equal(batch->ndocs, 0);
}

static void test_json_format_keeps_what_is_not_json(void **state)
{
    (void)state;
    struct lf_kafka_msg_conv *strict =
        lf_kafka_msg_conv_create(parser, LF_KAFKA_FORMAT_JSON, "syslog", 64);
    assert_non_null(strict);
    static const char bytes[] = "{\"a\":\xff}\n{\"index\":{}}";
    struct lf_kafka_msg m = msg(NULL);
    m.value = bytes;
    m.len = sizeof(bytes) - 1;
    lf_batch_clear(batch);
    assert_int_equal(lf_kafka_msg_add(strict, &m, batch, &target, 1), 1);
    char text[512];
    memcpy(text, batch->buf.data, batch->docs[0].len);
    text[batch->docs[0].len] = '\0';
    assert_null(strchr(text, '\n'));
    assert_non_null(strstr(text, "_jsonparsefailure"));
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    assert_non_null(v);
    json_decref(v);
    lf_kafka_msg_conv_destroy(strict);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_format_passes_through),
        cmocka_unit_test(test_foreign_json_is_completed),
        cmocka_unit_test(test_ids_come_from_the_position),
        cmocka_unit_test(test_bad_headers_fall_back),
        cmocka_unit_test(test_raw_lines_are_parsed),
        cmocka_unit_test(test_tombstones_are_skipped),
        cmocka_unit_test(test_json_format_keeps_what_is_not_json),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
