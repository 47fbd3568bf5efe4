/*
 * test_json.c - the JSON string and number writers: any bytes in, valid JSON
 * out, with the meaning kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "lf.h"

static char *write_string(const char *s, size_t n)
{
    static struct lf_buf b;
    lf_buf_free(&b);
    lf_buf_init(&b, 1u << 26);
    assert_int_equal(lf_json_write_string(&b, s, n), 0);
    return b.data;
}

/* Parses `json` as a JSON string and returns its UTF-8 bytes (static). */
static const char *decode(const char *json, size_t *len)
{
    static json_t *v;
    json_error_t err;
    json_decref(v);
    v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    assert_non_null(v);
    assert_true(json_is_string(v));
    *len = json_string_length(v);
    return json_string_value(v);
}

static void test_plain_ascii_is_copied(void **state)
{
    (void)state;
    assert_string_equal(write_string("LoadAverage: 0.14", 17), "\"LoadAverage: 0.14\"");
}

static void test_control_quote_backslash_escaped(void **state)
{
    (void)state;
    const char in[] = "a\"b\\c\nd\re\tf\x01g\x1fh\0i";
    char *out = write_string(in, sizeof(in) - 1);
    assert_string_equal(out, "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001fh\\u0000i\"");
    size_t len;
    const char *back = decode(out, &len);
    assert_int_equal(len, sizeof(in) - 1);
    assert_memory_equal(back, in, len);
}

static void test_valid_utf8_kept(void **state)
{
    (void)state;
    const char in[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    assert_string_equal(write_string(in, sizeof(in) - 1),
                        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

static void test_invalid_utf8_becomes_latin1(void **state)
{
    (void)state;
    /* Latin-1 "é", a lone continuation byte, an overlong '/', a surrogate,
     * a truncated sequence at the end. */
    const char in[] = "caf\xe9 \x80 \xc0\xaf \xed\xa0\x80 \xe2\x82";
    char *out = write_string(in, sizeof(in) - 1);
    size_t len;
    const char *back = decode(out, &len);
    assert_string_equal(back, "caf\xc3\xa9 \xc2\x80 \xc3\x80\xc2\xaf \xc3\xad\xc2\xa0\xc2\x80 "
                              "\xc3\xa2\xc2\x82");
}

static void test_every_byte_value_gives_valid_json(void **state)
{
    (void)state;
    char in[256 * 3];
    for (int i = 0; i < 256; i++) {
        in[i] = (char)i;
        in[256 + i] = (char)(255 - i);
        in[512 + i] = (char)((i * 37) & 0xff);
    }
    size_t len;
    decode(write_string(in, sizeof(in)), &len);
    assert_true(len >= sizeof(in));
}

static void test_long_string_crosses_chunks(void **state)
{
    (void)state;
    size_t n = 3u << 20;
    char *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = (i % 4099 == 0) ? '\n' : (i % 5000 == 4095) ? (char)0xe2 : 'x';
    /* A 3-byte sequence straddling the 4096-byte chunk boundary. */
    in[4095] = (char)0xe2, in[4096] = (char)0x82, in[4097] = (char)0xac;
    size_t len;
    const char *back = decode(write_string(in, n), &len);
    assert_memory_equal(back + 4095, "\xe2\x82\xac", 3);
    free(in);
}

static void test_cap_is_enforced(void **state)
{
    (void)state;
    struct lf_buf b;
    lf_buf_init(&b, 16);
    assert_int_equal(lf_json_write_string(&b, "0123456789abcdefghij", 20), LF_ELIMIT);
    lf_buf_free(&b);
}

static void test_utf8_valid(void **state)
{
    (void)state;
    char buf[64];
    for (size_t n = 0; n < sizeof(buf); n++) {
        memset(buf, 'a', sizeof(buf));
        assert_true(lf_utf8_valid(buf, n));
        if (n == 0)
            continue;
        for (size_t at = 0; at < n; at++) { /* a bad byte at every place */
            memset(buf, 'a', sizeof(buf));
            buf[at] = (char)0xff;
            assert_false(lf_utf8_valid(buf, n));
        }
    }
    assert_true(lf_utf8_valid("0123456789abcdef\xc3\xa9xyz", 21));
    assert_false(lf_utf8_valid("0123456789abcdef\xc3", 17));
    assert_false(lf_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(lf_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    assert_true(lf_utf8_valid("\xf0\x9f\x98\x80", 4));
}

static void test_number_forms(void **state)
{
    (void)state;
    assert_int_equal(lf_json_number_form("42", 2), 1);
    assert_int_equal(lf_json_number_form("-0", 2), 1);
    assert_int_equal(lf_json_number_form("0.14", 4), 2);
    assert_int_equal(lf_json_number_form("1e5", 3), 2);
    assert_int_equal(lf_json_number_form("-1.5E-3", 7), 2);
    assert_int_equal(lf_json_number_form("007", 3), 0);
    assert_int_equal(lf_json_number_form("+1", 2), 0);
    assert_int_equal(lf_json_number_form(".5", 2), 0);
    assert_int_equal(lf_json_number_form("5.", 2), 0);
    assert_int_equal(lf_json_number_form("1e", 2), 0);
    assert_int_equal(lf_json_number_form("", 0), 0);
    assert_int_equal(lf_json_number_form("-", 1), 0);
    assert_int_equal(lf_json_number_form("nan", 3), 0);
}

static void test_doubles_are_floats_and_round_trip(void **state)
{
    (void)state;
    struct lf_buf b;
    lf_buf_init(&b, 1024);
    double values[] = {0.14, 42.0, -0.5, 1e300, 5e-324, 0.1 + 0.2, 1.0 / 0.0};
    const char *want[] = {
        "0.14", "42.0", "-0.5", "1e+300", "4.94065645841247e-324", "0.30000000000000004", "null"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        lf_buf_reset(&b);
        assert_int_equal(lf_json_write_double(&b, values[i]), 0);
        assert_string_equal(b.data, want[i]);
    }
    lf_buf_free(&b);
}

/* The checker against jansson on hand-picked and mutated documents: both
 * must agree on what is one valid JSON object. */
static void test_check_object_agrees_with_jansson(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{}", " {\"a\":1} ", "{\"a\":[1,2,{\"b\":null}],\"c\":true,\"d\":false}",
        "{\"s\":\"\\u00e9\\n\\\"\"}", "{\"n\":-0.5e+3}", "{\"a\":1,}", "{\"a\"}", "[1]",
        "{\"a\":01}", "{\"a\":1}x", "{\"a\":\"\x01\"}", "{\"a\":\"\\x\"}", "{\"a\":tru}",
        "{\"a\":\"\xc3\xa9\"}", "{\"a\":\"\xff\"}", "{\"a\":1}{", "", "{", "{\"a\":-}",
        "{\"a\":1.}", "{\"a\":\"\\u12g4\"}", "{\"@timestamp\":\"2026-11-21T00:00:00Z\"}"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *c = cases[i];
        json_error_t e;
        json_t *v = json_loadb(c, strlen(c), 0, &e);
        int want = v && json_is_object(v);
        json_decref(v);
        int got = lf_json_check_object(c, strlen(c), NULL) == 0;
        if (want != got)
            fail_msg("case %zu (%s): jansson %d, ours %d", i, c, want, got);
    }
    /* Mutations of a rich document: flip, drop and duplicate bytes. */
    const char base[] = "{\"@timestamp\":\"2026-11-21T17:02:01.123Z\",\"host\":{\"name\":\"w\"},"
                        "\"m\":[1,-2.5e3,true,null,\"x\\\"y\"],\"e\":{}}";
    srand(7);
    char buf[sizeof(base) + 8];
    for (int round = 0; round < 20000; round++) {
        size_t n = sizeof(base) - 1;
        memcpy(buf, base, n);
        int edits = 1 + rand() % 3;
        for (int k = 0; k < edits; k++) {
            size_t at = (size_t)rand() % n;
            switch (rand() % 3) {
            case 0:
                buf[at] = "{}[]\",:0-e.tn \\x"[rand() % 16];
                break;
            case 1:
                memmove(buf + at, buf + at + 1, n - at - 1);
                n--;
                break;
            default:
                if (n < sizeof(buf) - 1) {
                    memmove(buf + at + 1, buf + at, n - at);
                    n++;
                }
            }
        }
        json_error_t e;
        json_t *v = json_loadb(buf, n, 0, &e);
        int want = v && json_is_object(v);
        json_decref(v);
        /* JSON's grammar has no range; jansson refuses what overflows a double. */
        if (!v && (strstr(e.text, "overflow") || strstr(e.text, "too big")))
            continue;
        int got = lf_json_check_object(buf, n, NULL) == 0;
        if (want != got)
            fail_msg("mutation %d (%.*s): jansson %d, ours %d", round, (int)n, buf, want, got);
    }
}

static void test_check_object_timestamp_and_lines(void **state)
{
    (void)state;
    struct lf_json_object_info info;
    const char doc[] = "{\"a\":{\"@timestamp\":\"no\"},\n \"@timestamp\" : \"2026-11-21\"}";
    assert_int_equal(lf_json_check_object(doc, sizeof(doc) - 1, &info), 0);
    assert_true(info.multiline);
    assert_int_equal(info.timestamp_len, 10);
    assert_memory_equal(info.timestamp, "2026-11-21", 10);
    struct lf_buf b;
    lf_buf_init(&b, 1024);
    assert_int_equal(lf_json_compact(&b, doc, sizeof(doc) - 1), 0);
    assert_int_equal(lf_buf_append(&b, "", 1), 0);
    assert_string_equal(b.data, "{\"a\":{\"@timestamp\":\"no\"},\"@timestamp\":\"2026-11-21\"}");
    lf_buf_free(&b);
    /* Nesting past the cap is refused, not recursed into. */
    char deep[200];
    memset(deep, '[', sizeof(deep));
    deep[0] = '{';
    assert_int_equal(lf_json_check_object(deep, sizeof(deep), NULL), LF_ESYNTAX);
    char deep2[] = "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]"
                   "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}";
    assert_int_equal(lf_json_check_object(deep2, sizeof(deep2) - 1, NULL), LF_ELIMIT);
    /* The cap exactly: the top object and 63 arrays in it are fine, 64 not. */
    char edge[8 + 2 * 64];
    for (int arrays = 63; arrays <= 64; arrays++) {
        size_t n = 0;
        n += (size_t)snprintf(edge, sizeof(edge), "{\"a\":");
        for (int i = 0; i < arrays; i++)
            edge[n++] = '[';
        for (int i = 0; i < arrays; i++)
            edge[n++] = ']';
        edge[n++] = '}';
        assert_int_equal(lf_json_check_object(edge, n, NULL), arrays == 63 ? 0 : LF_ELIMIT);
    }
    /* Objects and arrays mixed and closed in the right order only. */
    const char mixed[] = "{\"a\":[{\"b\":[1,{}]},[]],\"c\":{\"d\":[{}]}}";
    assert_int_equal(lf_json_check_object(mixed, sizeof(mixed) - 1, &info), 0);
    assert_false(info.multiline);
    assert_null(info.timestamp);
    const char crossed[] = "{\"a\":[{\"b\":1]}}";
    assert_int_equal(lf_json_check_object(crossed, sizeof(crossed) - 1, NULL), LF_ESYNTAX);
    /* The last top-level @timestamp string wins; nested ones and other
     * types do not count. */
    const char twice[] = "{\"@timestamp\":\"a\",\"x\":{\"@timestamp\":\"b\"},"
                         "\"@timestamp\"\t:\t\"c\",\"@timestamp\":1}";
    assert_int_equal(lf_json_check_object(twice, sizeof(twice) - 1, &info), 0);
    assert_int_equal(info.timestamp_len, 1);
    assert_memory_equal(info.timestamp, "c", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_ascii_is_copied),
        cmocka_unit_test(test_control_quote_backslash_escaped),
        cmocka_unit_test(test_valid_utf8_kept),
        cmocka_unit_test(test_invalid_utf8_becomes_latin1),
        cmocka_unit_test(test_every_byte_value_gives_valid_json),
        cmocka_unit_test(test_long_string_crosses_chunks),
        cmocka_unit_test(test_cap_is_enforced),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_number_forms),
        cmocka_unit_test(test_doubles_are_floats_and_round_trip),
        cmocka_unit_test(test_check_object_agrees_with_jansson),
        cmocka_unit_test(test_check_object_timestamp_and_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
