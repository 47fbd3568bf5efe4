/*
 * test_jsonlines.c - JSON lines into events (grammars/jsonlines.c): typed
 * values, nesting, the keys the agent owns, message and timestamp keys,
 * the grammar on the message, and every way a line can fail (which must
 * still give the line, tagged). Events are written with the event writer
 * and read back with jansson, an independent reader.
 */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "input.h"
#include "jsonlines.h"
#include "omprog_int.h"

struct fixture {
    struct lf_jsonlines_conf conf;
    struct lf_jsonlines *j;
    struct lf_parser *p;
    struct lf_event ev;
    struct lf_input_counters c;
    int64_t ts;
    json_t *doc;
};

static struct lf_jsonlines_conf defaults(void)
{
    return (struct lf_jsonlines_conf){.enabled = true,
                                      .message_key = "message",
                                      .timestamp_key = "@timestamp",
                                      .max_depth = 20,
                                      .max_fields = 1000};
}

static void start(struct fixture *f, const struct lf_jsonlines_conf *conf, const char *expr)
{
    memset(f, 0, sizeof(*f));
    f->conf = *conf;
    char err[512];
    f->j = lf_jsonlines_create(&f->conf, 1 << 20, err, sizeof(err));
    if (!f->j)
        fail_msg("%s", err);
    char *exprs[] = {(char *)(expr ? expr : "%{GREEDYDATA:message}")};
    struct lf_grammar_conf gc = {.name = "t", .expressions = exprs, .nexpressions = 1};
    if (!(f->p = lf_parser_create(&gc, "UTC", err, sizeof(err))))
        fail_msg("%s", err);
    lf_event_init(&f->ev);
}

static void stop(struct fixture *f)
{
    json_decref(f->doc);
    lf_event_free(&f->ev);
    lf_parser_destroy(f->p);
    lf_jsonlines_destroy(f->j);
}

/* Decodes one line (cut or not) and reads the event back as JSON. */
static json_t *run_cut(struct fixture *f, const char *line, size_t len, bool cut)
{
    json_decref(f->doc);
    assert_int_equal(lf_jsonlines_parse(f->j, f->p, line, len, cut, &f->ev, &f->ts, &f->c), 0);
    struct lf_buf out;
    lf_buf_init(&out, 1 << 24);
    assert_int_equal(lf_event_write_json(&f->ev, &out), 0);
    json_error_t e;
    f->doc = json_loadb(out.data, out.len, JSON_ALLOW_NUL, &e);
    if (!f->doc)
        fail_msg("not JSON (%s): %s", e.text, out.data);
    lf_buf_free(&out);
    return f->doc;
}

static json_t *run(struct fixture *f, const char *line)
{
    return run_cut(f, line, strlen(line), false);
}

/* The value at a dotted path of the event read back. */
static json_t *at(json_t *doc, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *v = doc;
    for (char *save, *part = strtok_r(buf, ".", &save); part && v;
         part = strtok_r(NULL, ".", &save))
        v = json_object_get(v, part);
    return v;
}

static const char *str_at(json_t *doc, const char *path)
{
    json_t *v = at(doc, path);
    if (!json_is_string(v))
        fail_msg("%s is not a string", path);
    return json_string_value(v);
}

static bool has_tag(json_t *doc, const char *tag)
{
    json_t *tags = json_object_get(doc, "tags"), *t;
    size_t i;
    json_array_foreach(tags, i, t) if (json_is_string(t) &&
                                       strcmp(json_string_value(t), tag) == 0) return true;
    return false;
}

static int64_t utc_ms(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (int64_t)timegm(&tm) * 1000;
}

static void test_types_and_nesting(void **state)
{
    (void)state;
    struct fixture f;
    struct lf_jsonlines_conf conf = defaults();
    start(&f, &conf, NULL);
    json_t *d =
        run(&f, " {\"level\":\"info\",\"user\":{\"id\":42,\"name\":\"ann\",\"geo\":{\"lat\":"
                "-33.5e0}},\"ok\":true,\"bad\":false,\"ratio\":0.25,\"big\":"
                "1.5e300,\"http.status\":200,\"list\":[1,\"two\",{\"k\":"
                "[true,null]},[]],\"none\":null,\"empty\":{},\"esc\":\"a\\\"b\\\\c\\n\\u00e9"
                "\\ud83d\\ude00\"} ");
    assert_string_equal(str_at(d, "level"), "info");
    assert_true(json_is_integer(at(d, "user.id")));
    assert_int_equal(json_integer_value(at(d, "user.id")), 42);
    assert_true(json_is_real(at(d, "user.geo.lat")));
    assert_true(json_is_true(at(d, "ok")));
    assert_true(json_is_false(at(d, "bad")));
    assert_true(json_is_real(at(d, "ratio")));
    assert_int_equal(json_integer_value(at(d, "http.status")), 200); /* a dotted key nests */
    json_t *list = at(d, "list");
    assert_true(json_is_array(list));
    assert_int_equal(json_array_size(list), 4);
    assert_string_equal(json_string_value(json_array_get(list, 1)), "two");
    assert_true(json_is_null(json_array_get(json_object_get(json_array_get(list, 2), "k"), 1)));
    assert_true(json_is_null(json_object_get(d, "none")));
    assert_true(json_is_object(at(d, "empty")));
    assert_string_equal(str_at(d, "esc"), "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
    /* no message key: the line is the message */
    assert_non_null(strstr(str_at(d, "message"), "\"level\":\"info\""));
    assert_int_equal(f.ts, 0);
    assert_int_equal(f.c.parsed, 1);
    assert_int_equal(f.c.unparsed, 0);
    /* a number stays the number as written */
    assert_true(json_is_real(at(d, "big")));
    assert_true(json_real_value(at(d, "big")) == 1.5e300);
    stop(&f);
}

static void test_owned_keys_move(void **state)
{
    (void)state;
    struct fixture f;
    struct lf_jsonlines_conf conf = defaults();
    conf.message_key = "msg";
    start(&f, &conf, NULL);
    json_t *d = run(
        &f, "{\"msg\":\"hi\",\"message\":\"theirs\",\"host\":\"example.com\","
            "\"host.ip\":\"10.0.0.1\",\"agent\":\"curl/8\",\"event\":{\"dataset\":"
            "\"app\"},\"log\":{\"level\":\"warn\",\"file\":{\"path\":\"/x\"}},"
            "\"process\":\"worker\",\"_id\":\"abc\",\"_source\":{\"a\":1},"
            "\"tags\":[\"t1\",\"t2\"],\"log.offset\":7,\"error\":\"timeout\",\"error.code\":7}");
    assert_string_equal(str_at(d, "message"), "hi");
    assert_string_equal(str_at(d, "json.message"), "theirs");
    assert_string_equal(str_at(d, "json.host"), "example.com");
    assert_string_equal(str_at(d, "host.ip"), "10.0.0.1"); /* ECS host.* is not the agent's */
    assert_string_equal(str_at(d, "json.agent"), "curl/8");
    assert_string_equal(str_at(d, "json.event.dataset"), "app");
    assert_string_equal(str_at(d, "log.level"), "warn");
    assert_string_equal(str_at(d, "json.log.file.path"), "/x");
    assert_int_equal(json_integer_value(at(d, "json.log.offset")), 7);
    assert_string_equal(str_at(d, "json.process"), "worker");
    assert_string_equal(str_at(d, "json._id"), "abc");
    assert_string_equal(str_at(d, "json.error"), "timeout");
    assert_int_equal(json_integer_value(at(d, "error.code")), 7);
    assert_int_equal(json_integer_value(at(d, "json._source.a")), 1);
    assert_null(json_object_get(d, "_id"));
    assert_null(json_object_get(d, "agent"));
    assert_null(json_object_get(d, "event"));
    assert_true(has_tag(d, "t1") && has_tag(d, "t2"));
    /* a list of tags that are not all strings is kept whole */
    d = run(&f, "{\"tags\":[\"a\",1],\"@timestamp\":\"nope\"}");
    assert_true(json_is_array(at(d, "json.tags")));
    assert_null(json_object_get(d, "@timestamp"));
    assert_string_equal(str_at(d, "json.@timestamp"), "nope");
    assert_true(has_tag(d, LF_JSONLINES_TAG_TIME));
    stop(&f);
}

static void test_target(void **state)
{
    (void)state;
    struct fixture f;
    struct lf_jsonlines_conf conf = defaults();
    conf.target = "app";
    start(&f, &conf, NULL);
    json_t *d = run(&f, "{\"message\":\"m\",\"host\":\"h\",\"tags\":[\"x\"],\"a\":{\"b\":1}}");
    assert_string_equal(str_at(d, "message"), "m");
    assert_string_equal(str_at(d, "app.host"), "h");
    assert_true(json_is_array(at(d, "app.tags")));
    assert_int_equal(json_integer_value(at(d, "app.a.b")), 1);
    stop(&f);
    assert_null(lf_jsonlines_check_target("app.json"));
    assert_non_null(lf_jsonlines_check_target("event.x"));
    assert_non_null(lf_jsonlines_check_target("a..b"));
    assert_non_null(lf_jsonlines_check_target("_id"));
}

static void test_docker_and_fallback(void **state)
{
    (void)state;
    struct fixture f;
    struct lf_jsonlines_conf conf = defaults();
    conf.message_key = "log";
    conf.timestamp_key = "time";
    start(&f, &conf, NULL);
    json_t *d = run(&f, "{\"log\":\"GET / HTTP/1.1 200\\r\\n\",\"stream\":\"stdout\",\"time\":"
                        "\"2026-12-07T00:03:31.123456789Z\"}");
    assert_string_equal(str_at(d, "message"), "GET / HTTP/1.1 200");
    assert_string_equal(str_at(d, "stream"), "stdout");
    assert_null(json_object_get(d, "time")); /* read into the event time */
    assert_null(json_object_get(d, "log"));
    assert_int_equal(f.ts, utc_ms(2026, 12, 7, 0, 3, 31) + 123);
    stop(&f);

    conf = defaults();
    conf.message_fallback = LF_JSONLINES_MESSAGE_NONE;
    start(&f, &conf, NULL);
    d = run(&f, "{\"a\":1}");
    assert_null(json_object_get(d, "message"));
    d = run(&f, "{\"message\":42}"); /* not a string: a field, moved */
    assert_null(json_object_get(d, "message"));
    assert_int_equal(json_integer_value(at(d, "json.message")), 42);
    stop(&f);
}

static int64_t time_of(struct fixture *f, const char *line)
{
    run(f, line);
    return f->ts;
}

static void test_timestamps(void **state)
{
    (void)state;
    struct fixture f;
    struct lf_jsonlines_conf conf = defaults();
    conf.timestamp_key = "ts";
    start(&f, &conf, NULL);
    int64_t t0 = utc_ms(2026, 12, 7, 0, 3, 31);
    assert_int_equal(time_of(&f, "{\"ts\":\"2026-12-07T01:03:31.5+01:00\"}"), t0 + 500);
    assert_int_equal(time_of(&f, "{\"ts\":\"2026-12-07 00:03:31,250\"}"), t0 + 250); /* UTC */
    assert_int_equal(time_of(&f, "{\"ts\":1796601811}"), 1796601811000LL);
    assert_int_equal(time_of(&f, "{\"ts\":1796601811.123}"), 1796601811123LL);
    assert_int_equal(time_of(&f, "{\"ts\":1796601811123}"), 1796601811123LL);
    assert_int_equal(time_of(&f, "{\"ts\":\"1796601811.5\"}"), 1796601811500LL);
    assert_int_equal(time_of(&f, "{\"ts\":1796601811123456}"), 1796601811123LL);
    assert_int_equal(time_of(&f, "{\"ts\":1796601811123456789}"), 1796601811123LL);
    json_t *d = run(&f, "{\"ts\":\"yesterday\"}");
    assert_int_equal(f.ts, 0);
    assert_string_equal(str_at(d, "ts"), "yesterday");
    assert_true(has_tag(d, LF_JSONLINES_TAG_TIME));
    d = run(&f, "{\"ts\":-5}");
    assert_int_equal(f.ts, 0);
    assert_true(has_tag(d, LF_JSONLINES_TAG_TIME));
    d = run(&f, "{\"ts\":{\"a\":1}}"); /* not a time: just a field */
    assert_int_equal(json_integer_value(at(d, "ts.a")), 1);
    assert_false(has_tag(d, LF_JSONLINES_TAG_TIME));
    stop(&f);

    conf.timestamp_format = LF_JSONLINES_TIME_UNIX_MS;
    start(&f, &conf, NULL);
    assert_int_equal(time_of(&f, "{\"ts\":1796601811}"), 1796601811LL); /* taken as ms */
    assert_int_equal(time_of(&f, "{\"ts\":\"2026-12-07T00:03:31Z\"}"), 0);
    stop(&f);
    conf.timestamp_format = LF_JSONLINES_TIME_RFC3339;
    start(&f, &conf, NULL);
    assert_int_equal(time_of(&f, "{\"ts\":1796601811}"), 0);
    assert_int_equal(time_of(&f, "{\"ts\":\"2026-12-07T00:03:31Z\"}"), t0);
    stop(&f);
}

/* Each of these must come out as the line, tagged, with a reason. */
static void test_failures_ship_the_line(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "plain text",
        "[1,2]",
        "\"str\"",
        "42",
        "{",
        "{\"a\":1",
        "{\"a\":1}}",
        "{\"a\":1} x",
        "{\"a\" 1}",
        "{a:1}",
        "{\"a\":tru}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":\"x\ty\"}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":[1,}",
        "{\"a\":[1 2]}",
        "{\"\":1}",
        "{\"a.\":1}",
        "{\"a\":{\"..\":1}}",
        "{\"a\":1,}",
        "{'a':1}",
    };
    struct fixture f;
    struct lf_jsonlines_conf conf = defaults();
    start(&f, &conf, NULL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *d = run(&f, bad[i]);
        if (!has_tag(d, LF_JSONLINES_TAG_FAILURE))
            fail_msg("not tagged: %s", bad[i]);
        assert_string_equal(str_at(d, "message"), bad[i]);
        assert_non_null(strstr(str_at(d, "error.message"), "at byte"));
    }
    assert_int_equal(f.c.unparsed, sizeof(bad) / sizeof(bad[0]));
    assert_int_equal(f.c.parsed, 0);
    /* a cut line is never decoded, even when what is left is an object */
    json_t *d = run_cut(&f, "{\"a\":1}", 7, true);
    assert_true(has_tag(d, LF_JSONLINES_TAG_FAILURE));
    assert_true(has_tag(d, LF_GROK_TAG_TRUNCATED));
    assert_int_equal(f.c.truncated, 1);
    /* NUL and bytes that are not UTF-8: decoded, written as valid JSON */
    static const char nul[] = "{\"a\":\"x\\u0000y\",\"b\":\"caf\xe9\",\"c\xff\":[\"\xfe\"],"
                              "\"s\":\"\\ud800x\"}";
    d = run_cut(&f, nul, sizeof(nul) - 1, false);
    assert_false(has_tag(d, LF_JSONLINES_TAG_FAILURE));
    assert_int_equal(json_string_length(at(d, "a")), 3);
    assert_string_equal(str_at(d, "b"), "caf\xc3\xa9");
    assert_string_equal(str_at(d, "s"), "\xef\xbf\xbdx");
    assert_true(json_is_array(json_object_get(d, "c\xc3\xbf")));
    stop(&f);
}

static void test_limits(void **state)
{
    (void)state;
    struct fixture f;
    struct lf_jsonlines_conf conf = defaults();
    conf.max_depth = 3;
    conf.max_fields = 4;
    start(&f, &conf, NULL);
    json_t *d = run(&f, "{\"a\":{\"b\":{\"c\":1}}}");
    assert_int_equal(json_integer_value(at(d, "a.b.c")), 1);
    d = run(&f, "{\"a\":{\"b\":{\"c\":{\"d\":1}}}}");
    assert_true(has_tag(d, LF_JSONLINES_TAG_FAILURE));
    assert_non_null(strstr(str_at(d, "error.message"), "max_depth"));
    d = run(&f, "{\"a.b.c.d\":1}"); /* dots are depth too */
    assert_true(has_tag(d, LF_JSONLINES_TAG_FAILURE));
    d = run(&f, "{\"a\":[[[[1]]]]}"); /* and so are lists */
    assert_true(has_tag(d, LF_JSONLINES_TAG_FAILURE));
    d = run(&f, "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}");
    assert_false(has_tag(d, LF_JSONLINES_TAG_FAILURE));
    d = run(&f, "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5}");
    assert_true(has_tag(d, LF_JSONLINES_TAG_FAILURE));
    assert_non_null(strstr(str_at(d, "error.message"), "max_fields"));
    stop(&f);

    /* deep nesting far past any limit: no recursion blow-up */
    conf = defaults();
    start(&f, &conf, NULL);
    size_t n = 200000;
    char *deep = malloc(2 * n + 16);
    strcpy(deep, "{\"a\":");
    memset(deep + 5, '[', n);
    memset(deep + 5 + n, ']', n);
    strcpy(deep + 5 + 2 * n, "}");
    d = run(&f, deep);
    assert_true(has_tag(d, LF_JSONLINES_TAG_FAILURE));
    /* a key path past 1024 bytes */
    memset(deep, 'k', 1100);
    char *longkey = malloc(1200);
    snprintf(longkey, 1200, "{\"%.*s\":1}", 1100, deep);
    d = run(&f, longkey);
    assert_true(has_tag(d, LF_JSONLINES_TAG_FAILURE));
    free(longkey);
    free(deep);
    stop(&f);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    struct fixture f;
    struct lf_jsonlines_conf conf = defaults();
    start(&f, &conf, NULL);
    json_t *d = run(&f, "{\"a\":1,\"a\":\"two\",\"b.c\":1,\"b\":{\"c\":3},\"message\":\"x\","
                        "\"message\":\"y\"}");
    assert_string_equal(str_at(d, "a"), "two");
    assert_int_equal(json_integer_value(at(d, "b.c")), 3);
    assert_string_equal(str_at(d, "message"), "y");
    /* a value and an object at one path: the event writer keeps the object */
    d = run(&f, "{\"x\":1,\"x.y\":2}");
    assert_int_equal(json_integer_value(at(d, "x.y")), 2);
    assert_true(has_tag(d, "_fieldconflict"));
    stop(&f);
}

static void test_grammar_on_message(void **state)
{
    (void)state;
    struct fixture f;
    struct lf_jsonlines_conf conf = defaults();
    conf.apply_grammar = true;
    conf.message_key = "log";
    start(&f, &conf,
          "%{TIMESTAMP_ISO8601:timestamp} %{WORD:method} %{NUMBER:http.response.status_code:int}");
    json_t *d = run(&f, "{\"log\":\"2026-12-07T00:03:31Z GET 404\\n\",\"method\":\"json's\","
                        "\"stream\":\"stderr\"}");
    assert_string_equal(str_at(d, "method"), "GET"); /* the grammar's wins */
    assert_int_equal(json_integer_value(at(d, "http.response.status_code")), 404);
    assert_string_equal(str_at(d, "stream"), "stderr");
    assert_string_equal(str_at(d, "message"), "2026-12-07T00:03:31Z GET 404");
    assert_int_equal(f.ts, utc_ms(2026, 12, 7, 0, 3, 31)); /* the grammar's time */
    d = run(&f, "{\"log\":\"something else\"}");
    assert_true(has_tag(d, LF_GROK_TAG_FAILURE));
    stop(&f);
}

static void test_config_section(void **state)
{
    (void)state;
    char path[] = "/tmp/test_jsonlines_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *yml = "agent: {data_dir: /tmp}\n"
                      "inputs:\n"
                      "  files:\n"
                      "    - paths: [/var/log/app.json]\n"
                      "      json: {enabled: true, message_key: msg, timestamp_key: time,\n"
                      "             timestamp_format: unix_ms, max_depth: 5}\n"
                      "    - paths: [/var/log/b.json]\n"
                      "      json: {enabled: true, target: event.x, timestamp_format: iso}\n";
    assert_int_equal(write(fd, yml, strlen(yml)), (ssize_t)strlen(yml));
    close(fd);
    char err[4096];
    unsigned nerr = 0;
    struct lf_agent_conf *c = lf_agent_conf_load(path, err, sizeof(err), &nerr);
    assert_null(c);
    assert_int_equal(nerr, 2);
    assert_non_null(strstr(err, ":8:")); /* the target, then the format, both on line 8 */
    assert_non_null(strstr(err, "target"));
    /* the first entry alone is fine */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    size_t first = (size_t)(strstr(yml, "    - paths: [/var/log/b") - yml);
    assert_int_equal(write(fd, yml, first), (ssize_t)first);
    close(fd);
    c = lf_agent_conf_load(path, err, sizeof(err), &nerr);
    if (!c)
        fail_msg("%s", err);
    assert_true(c->files[0].json.enabled);
    assert_string_equal(c->files[0].json.message_key, "msg");
    assert_string_equal(c->files[0].json.timestamp_key, "time");
    assert_int_equal(c->files[0].json.timestamp_format, LF_JSONLINES_TIME_UNIX_MS);
    assert_int_equal(c->files[0].json.max_depth, 5);
    assert_int_equal(c->files[0].json.max_fields, 1000);
    lf_agent_conf_free(c);
    unlink(path);
}

/* rsyslog's jsonf lines with inputs.omprog.json: the msg property decoded,
 * rsyslog's properties winning over keys of their path. */
static void test_omprog_msg(void **state)
{
    (void)state;
    char *exprs[] = {"%{GREEDYDATA:message}"};
    struct lf_grammar_conf gc = {
        .name = "t", .expressions = exprs, .nexpressions = 1, .max_line = 1 << 16};
    char err[512];
    struct lf_parser *p = lf_parser_create(&gc, "UTC", err, sizeof(err));
    assert_non_null(p);
    struct lf_event ev;
    lf_event_init(&ev);
    struct lf_input_counters c = {0};
    struct lf_omprog_props o;
    assert_int_equal(lf_omprog_props_init(&o, &gc, "UTC", p, &ev, &c, err, sizeof(err)), 0);
    struct lf_jsonlines_conf conf = defaults();
    assert_int_equal(lf_omprog_props_set_json(&o, &conf, 1 << 16, err, sizeof(err)), 0);
    static const char line[] =
        "{\"msg\":\" {\\\"level\\\":\\\"info\\\",\\\"message\\\":\\\"paid\\\","
        "\\\"process\\\":{\\\"name\\\":\\\"fake\\\",\\\"pid\\\":1},"
        "\\\"@timestamp\\\":\\\"2026-12-07T00:03:31Z\\\"}\",\"hostname\":\"web01\","
        "\"programname\":\"billing\",\"procid\":\"4121\",\"timereported\":"
        "\"2026-12-07T00:03:35+00:00\"}";
    int64_t ts = 0;
    assert_int_equal(lf_omprog_props_parse(&o, line, sizeof(line) - 1, false, &ts), 0);
    assert_int_equal(ts, utc_ms(2026, 12, 7, 0, 3, 31)); /* the application's time */
    const struct lf_field *f = lf_event_get(&ev, "message", 7);
    assert_non_null(f);
    assert_int_equal(f->len, 4);
    assert_memory_equal(f->str, "paid", 4);
    assert_non_null(lf_event_get(&ev, "level", 5));
    f = lf_event_get(&ev, "process.name", 12);
    assert_non_null(f);
    assert_memory_equal(f->str, "billing", 7);
    assert_int_equal(lf_event_remove(&ev, "process.name", 12), 1); /* only rsyslog's */
    f = lf_event_get(&ev, "process.pid", 11);
    assert_int_equal(f->type, LF_VAL_INT);
    assert_int_equal(f->v.i, 4121);
    assert_non_null(lf_event_get(&ev, "host.hostname", 13));
    assert_int_equal(c.parsed, 1);
    /* a msg that is not JSON: the message, tagged, with the properties */
    static const char plain[] = "{\"msg\":\"plain text\",\"programname\":\"billing\"}";
    assert_int_equal(lf_omprog_props_parse(&o, plain, sizeof(plain) - 1, false, &ts), 0);
    f = lf_event_get(&ev, "tags", 4);
    assert_non_null(f);
    assert_memory_equal(f->str, LF_JSONLINES_TAG_FAILURE, strlen(LF_JSONLINES_TAG_FAILURE));
    f = lf_event_get(&ev, "message", 7);
    assert_int_equal(f->len, 10);
    assert_non_null(lf_event_get(&ev, "process.name", 12));
    assert_int_equal(c.unparsed, 1);
    lf_omprog_props_free(&o);
    lf_event_free(&ev);
    lf_parser_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_and_nesting),
        cmocka_unit_test(test_owned_keys_move),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_docker_and_fallback),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_failures_ship_the_line),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_grammar_on_message),
        cmocka_unit_test(test_config_section),
        cmocka_unit_test(test_omprog_msg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
