/*
 * test_parser.c - a grammar applied to lines: fields, message, tags, and the
 * event time from syslog and ISO 8601 timestamps (year across New Year,
 * configured zones, local time with daylight saving).
 */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "input.h"

static struct lf_parser *make(const char *expr, const char *tz)
{
    static char *exprs[1];
    exprs[0] = (char *)expr;
    struct lf_grammar_conf gc = {.name = "test", .expressions = exprs, .nexpressions = 1};
    char err[512];
    struct lf_parser *p = lf_parser_create(&gc, tz, err, sizeof(err));
    if (!p)
        fail_msg("%s", err);
    return p;
}

/* ms since the epoch of a UTC time */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (int64_t)timegm(&tm) * 1000;
}

static int64_t ts_of(struct lf_parser *p, const char *line, struct lf_event *ev)
{
    struct lf_input_counters c = {0};
    int64_t ts = -1;
    assert_int_equal(lf_parser_parse(p, line, strlen(line), false, ev, &ts, &c), 0);
    return ts;
}

static void test_syslog_time_and_year(void **state)
{
    (void)state;
    struct lf_event ev;
    lf_event_init(&ev);
    struct lf_parser *p = make("%{SYSLOGLINE}", "UTC");
    lf_parser_set_now(p, utc(2026, 11, 21, 18, 0, 0));
    assert_int_equal(ts_of(p, "Nov 21 17:02:01 web01 sshd[1]: hi", &ev),
                     utc(2026, 11, 21, 17, 2, 1));
    assert_null(lf_event_get(&ev, "timestamp", 9)); /* moved to the event time */
    assert_non_null(lf_event_get(&ev, "host.hostname", 13));
    assert_int_equal(ts_of(p, "Nov  1 00:00:00 web01 cron: x", &ev), utc(2026, 11, 1, 0, 0, 0));
    /* A December line read just after New Year belongs to last year. */
    lf_parser_set_now(p, utc(2027, 1, 1, 0, 0, 10));
    assert_int_equal(ts_of(p, "Dec 31 23:59:59 web01 cron: x", &ev), utc(2026, 12, 31, 23, 59, 59));
    assert_int_equal(ts_of(p, "Jan  1 00:00:05 web01 cron: x", &ev), utc(2027, 1, 1, 0, 0, 5));
    lf_parser_destroy(p);

    p = make("%{SYSLOGLINE}", "+01:00");
    lf_parser_set_now(p, utc(2026, 11, 21, 18, 0, 0));
    assert_int_equal(ts_of(p, "Nov 21 17:02:01 web01 sshd[1]: hi", &ev),
                     utc(2026, 11, 21, 16, 2, 1));
    lf_parser_destroy(p);
    lf_event_free(&ev);
}

static void test_local_zone_with_dst(void **state)
{
    (void)state;
    struct lf_event ev;
    lf_event_init(&ev);
    setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1); /* POSIX rule: no tzdata needed */
    tzset();
    struct lf_parser *p = make("%{SYSLOGLINE}", "local");
    lf_parser_set_now(p, utc(2026, 11, 21, 18, 0, 0));
    assert_int_equal(ts_of(p, "Jul 15 12:00:00 h p: x", &ev), utc(2026, 7, 15, 10, 0, 0));
    assert_int_equal(ts_of(p, "Nov 15 12:00:00 h p: x", &ev), utc(2026, 11, 15, 11, 0, 0));
    lf_parser_destroy(p);
    unsetenv("TZ");
    tzset();
    lf_event_free(&ev);
}

static void test_iso_times(void **state)
{
    (void)state;
    struct lf_event ev;
    lf_event_init(&ev);
    struct lf_parser *p = make("^%{TIMESTAMP_ISO8601:timestamp} %{GREEDYDATA:message}", "+02:00");
    assert_int_equal(ts_of(p, "2025-11-21T00:00:00.123456+00:00 a", &ev),
                     utc(2025, 11, 21, 0, 0, 0) + 123);
    assert_int_equal(ts_of(p, "2025-11-21T00:00:00Z a", &ev), utc(2025, 11, 21, 0, 0, 0));
    assert_int_equal(ts_of(p, "2025-11-21T05:30:00+0530 a", &ev), utc(2025, 11, 21, 0, 0, 0));
    assert_int_equal(ts_of(p, "2025-11-21 02:00:00 a", &ev), utc(2025, 11, 21, 0, 0, 0));
    assert_int_equal(ts_of(p, "2025-11-21T02:00 a", &ev), utc(2025, 11, 21, 0, 0, 0));
    lf_parser_destroy(p);
    lf_event_free(&ev);
}

static void test_message_tags_counters(void **state)
{
    (void)state;
    struct lf_event ev;
    lf_event_init(&ev);
    struct lf_parser *p = make("^%{WORD:w}$", "UTC");
    struct lf_input_counters c = {0};
    int64_t ts;
    assert_int_equal(lf_parser_parse(p, "abc", 3, false, &ev, &ts, &c), 0);
    assert_int_equal(ts, 0);
    const struct lf_field *m = lf_event_get(&ev, "message", 7);
    assert_non_null(m);
    assert_int_equal(m->len, 3);
    assert_int_equal(lf_parser_parse(p, "a b", 3, true, &ev, &ts, &c), 0);
    struct lf_buf out;
    lf_buf_init(&out, 4096);
    lf_event_write_json(&ev, &out);
    assert_string_equal(out.data,
                        "{\"message\":\"a b\",\"tags\":[\"_truncated\",\"_grokparsefailure\"]}");
    assert_int_equal(c.read, 2);
    assert_int_equal(c.parsed, 1);
    assert_int_equal(c.unparsed, 1);
    assert_int_equal(c.truncated, 1);
    lf_buf_free(&out);
    lf_parser_destroy(p);
    lf_event_free(&ev);
}

static void test_bad_grammar_and_zone(void **state)
{
    (void)state;
    char *exprs[] = {"%{NOPE}"};
    struct lf_grammar_conf gc = {.name = "g", .expressions = exprs, .nexpressions = 1};
    char err[512];
    assert_null(lf_parser_create(&gc, "UTC", err, sizeof(err)));
    assert_string_equal(err, "grammar g: expression 1, column 1: unknown pattern NOPE");
    exprs[0] = "%{WORD}";
    assert_null(lf_parser_create(&gc, "Mars/Olympus", err, sizeof(err)));
    assert_non_null(strstr(err, "expected local, UTC or +HH:MM"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_syslog_time_and_year),
        cmocka_unit_test(test_local_zone_with_dst),
        cmocka_unit_test(test_iso_times),
        cmocka_unit_test(test_message_tags_counters),
        cmocka_unit_test(test_bad_grammar_and_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
