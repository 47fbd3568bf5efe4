/*
 * test_es_index.c - Logstash-style index patterns: every date letter, the
 * week-year traps around New Year, negative and out-of-range times, local
 * time across DST, names Elasticsearch would refuse (at compile time and for
 * a prefix), template wildcards, and the per-prefix cache checked against
 * strftime over long random walks through time.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "es_int.h"
#include "shipper.h"

/* 2026-11-21T23:59:59.999Z */
#define T_NOV21_END 1795305599999LL
#define DAY 86400000LL

static struct lf_es_index_pattern *compile_ok(const char *pattern)
{
    char err[256] = "";
    struct lf_es_index_pattern *p = lf_es_index_pattern_compile(pattern, err, sizeof(err));
    if (!p)
        fail_msg("%s: %s", pattern, err);
    return p;
}

static void expect_name(const char *pattern, const char *prefix, int64_t ts, bool local,
                        const char *want)
{
    struct lf_es_index_pattern *p = compile_ok(pattern);
    char out[300];
    size_t n = lf_es_index_format(p, out, sizeof(out), prefix, ts, local);
    if (n == 0 || strcmp(out, want) != 0 || n != strlen(want))
        fail_msg("%s @%lld: got \"%s\" (%zu), want \"%s\"", pattern, (long long)ts, n ? out : "", n,
                 want);
    lf_es_index_pattern_free(p);
}

static void set_tz(const char *tz)
{
    if (tz)
        setenv("TZ", tz, 1);
    else
        unsetenv("TZ");
    tzset();
}

static void test_default_pattern(void **state)
{
    (void)state;
    const char *def = "%{prefix}-%{+YYYY.MM.dd}";
    expect_name(def, "syslog", T_NOV21_END, false, "syslog-2026.11.21");
    expect_name(def, "syslog", T_NOV21_END + 1, false, "syslog-2026.11.22");
    expect_name(def, "metrics", 0, false, "metrics-1970.01.01");
    struct lf_es_index_pattern *p = compile_ok(def);
    assert_true(lf_es_index_pattern_uses_time(p));
    char out[64];
    /* the same as the file sink's names */
    char ref[64];
    for (int64_t ts = -3 * DAY; ts < 3 * DAY; ts += 3600000 - 1) {
        assert_int_not_equal(lf_es_index_format(p, out, sizeof(out), "syslog", ts, false), 0);
        lf_index_name(ref, sizeof(ref), "syslog", ts, false);
        assert_string_equal(out, ref);
    }
    lf_es_index_pattern_free(p);
}

static void test_all_letters(void **state)
{
    (void)state;
    /* 2027-01-05T07:08:09Z: a Tuesday in ISO week 1 of 2027 */
    const int64_t t = 1799132889000LL;
    expect_name("%{prefix}-%{+yyyy.YYYY.yy.YY.xxxx.xx.ww.w.MM.M.dd.d.HH.H}", "x", t, false,
                "x-2027.2027.27.27.2027.27.01.1.01.1.05.5.07.7");
    expect_name("%{prefix}-%{+y.yyyyyy}", "x", t, false, "x-2027.002027");
    expect_name("%{+yyyy'w'ww}-%{prefix}", "metrics", t, false, "2027w01-metrics");
    expect_name("%{prefix}-%{+yyyy''MM}", "a", t, false, "a-2027'01");
    expect_name("%{prefix}-%{+'it''s'-dd}", "a", t, false, "a-it's-05");
    expect_name("%{prefix}.%{+yyyy}.%{+MM}_%{prefix}", "a", t, false, "a.2027.01_a");
    expect_name("logs-%{+yyyy.MM.dd}", "ignored", t, false, "logs-2027.01.05");
    expect_name("%{prefix}", "syslog", t, false, "syslog");
    expect_name("%{prefix}-%{+HH}%{+-}", "a", t, false, "a-07-"); /* '-' is literal text */
    expect_name("%%{prefix}%", "a", t, false, "%a%");
}

static void test_new_year(void **state)
{
    (void)state;
    const int64_t dec31_2026 = 1798675200000LL, jan1_2027 = 1798761600000LL;
    const int64_t dec30_2024 = 1735516800000LL, jan3_2021 = 1609632000000LL;
    /* week-year and week stay together; the calendar year moves on */
    expect_name("w-%{+xxxx.ww}", "", dec31_2026, false, "w-2026.53");
    expect_name("w-%{+xxxx.ww}", "", jan1_2027, false, "w-2026.53");
    expect_name("w-%{+yyyy.ww}", "", jan1_2027, false, "w-2027.53"); /* the Logstash trap */
    expect_name("w-%{+YYYY.MM.dd}", "", dec31_2026, false, "w-2026.12.31");
    expect_name("w-%{+YYYY.MM.dd}", "", jan1_2027, false, "w-2027.01.01");
    /* Joda's Y is the year of era, not java.time's week-based year */
    expect_name("w-%{+YYYY.xxxx.ww}", "", dec30_2024, false, "w-2024.2025.01");
    expect_name("w-%{+YYYY.xxxx.ww}", "", jan3_2021, false, "w-2021.2020.53");
    expect_name("w-%{+xx.w}", "", jan3_2021, false, "w-20.53");
}

static void test_negative_and_range(void **state)
{
    (void)state;
    const char *pat = "%{prefix}-%{+yyyy.MM.dd.HH}";
    expect_name(pat, "a", -1, false, "a-1969.12.31.23");
    expect_name(pat, "a", -DAY, false, "a-1969.12.31.00");
    expect_name(pat, "a", -DAY - 1, false, "a-1969.12.30.23");
    expect_name(pat, "a", -2203891200000LL, false, "a-1900.03.01.00");
    const int64_t year1 = -62135596800000LL, year9999_end = 253402300799999LL;
    expect_name(pat, "a", year1, false, "a-0001.01.01.00");
    expect_name(pat, "a", year9999_end, false, "a-9999.12.31.23");
    struct lf_es_index_pattern *p = compile_ok(pat);
    char out[64];
    assert_int_equal(lf_es_index_format(p, out, sizeof(out), "a", year1 - 1, false), 0);
    assert_int_equal(lf_es_index_format(p, out, sizeof(out), "a", year9999_end + 1, false), 0);
    assert_int_equal(lf_es_index_format(p, out, sizeof(out), "a", INT64_MIN, false), 0);
    assert_int_equal(lf_es_index_format(p, out, sizeof(out), "a", INT64_MAX, false), 0);
    assert_int_equal(lf_es_index_format(p, out, sizeof(out), "a", INT64_MIN, true), 0);
    assert_int_equal(lf_es_index_format(p, out, sizeof(out), "a", INT64_MAX, true), 0);
    /* an odd time does not spoil the cache */
    assert_int_not_equal(lf_es_index_format(p, out, sizeof(out), "a", 0, false), 0);
    assert_string_equal(out, "a-1970.01.01.00");
    lf_es_index_pattern_free(p);
}

static void test_local_time(void **state)
{
    (void)state;
    const char *pat = "%{prefix}-%{+yyyy.MM.dd}";
    /* POSIX rules: no tzdata needed. 2026-11-22T03:00Z is 22:00 on the 21st in New York. */
    set_tz("EST5EDT,M3.2.0,M11.1.0");
    const int64_t t = 1795316400000LL;
    expect_name(pat, "s", t, false, "s-2026.11.22");
    expect_name(pat, "s", t, true, "s-2026.11.21");
    /* the spring-forward day has 23 hours: 2026-03-08 */
    struct lf_es_index_pattern *p = compile_ok(pat);
    char out[64];
    const int64_t mar8_0030 = 1772947800000LL; /* 05:30Z = 00:30 EST */
    const int64_t mar8_2330 = 1773027000000LL; /* Mar 9 03:30Z = 23:30 EDT */
    const int64_t mar9_0030 = 1773030600000LL; /* Mar 9 04:30Z = 00:30 EDT */
    const int64_t seq[] = {mar8_0030, mar8_2330, mar9_0030, mar8_2330, mar8_0030, mar9_0030};
    const char *want[] = {"s-2026.03.08", "s-2026.03.08", "s-2026.03.09",
                          "s-2026.03.08", "s-2026.03.08", "s-2026.03.09"};
    for (size_t i = 0; i < 6; i++) {
        assert_int_not_equal(lf_es_index_format(p, out, sizeof(out), "s", seq[i], true), 0);
        assert_string_equal(out, want[i]);
    }
    lf_es_index_pattern_free(p);
    /* hourly across the jump: 01:59:59 EST, then 03:00:00 EDT */
    p = compile_ok("h-%{+yyyy.MM.dd.HH}");
    const int64_t before = 1772953199000LL, after = 1772953200000LL;
    const int64_t hseq[] = {before - 1800000, after, before, after + 1};
    const char *hwant[] = {"h-2026.03.08.01", "h-2026.03.08.03", "h-2026.03.08.01",
                           "h-2026.03.08.03"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_not_equal(lf_es_index_format(p, out, sizeof(out), "", hseq[i], true), 0);
        assert_string_equal(out, hwant[i]);
    }
    lf_es_index_pattern_free(p);
    /* a half-hour zone: 2026-11-21T18:29:59Z is 23:59:59 in India */
    set_tz("IST-5:30");
    expect_name("%{prefix}-%{+yyyy.MM.dd.HH}", "s", 1795285799000LL, true, "s-2026.11.21.23");
    expect_name("%{prefix}-%{+yyyy.MM.dd.HH}", "s", 1795285800000LL, true, "s-2026.11.22.00");
    set_tz(NULL);
}

/* strftime's view of the same fields, for the random walks. */
static void oracle(char *out, size_t outlen, const char *prefix, int64_t ts, bool local)
{
    time_t secs = (time_t)(ts >= 0 ? ts / 1000 : (ts - 999) / 1000);
    struct tm tm;
    assert_non_null(local ? localtime_r(&secs, &tm) : gmtime_r(&secs, &tm));
    char year[16], date[64];
    strftime(year, sizeof(year), "%Y", &tm);
    strftime(date, sizeof(date), "%G.%V.%m.%d.%H", &tm);
    snprintf(out, outlen, "%s-%s.%02d.%s-%d.%d.%d", prefix, year, (tm.tm_year + 1900) % 100, date,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
}

static void walk(const char *tz, unsigned seed)
{
    set_tz(tz);
    struct lf_es_index_pattern *p[2] = {
        compile_ok("%{prefix}-%{+yyyy.yy.xxxx.ww.MM.dd.HH}-%{+M.d.H}"),
        /* day-only: a longer cache span, checked on its own */
        compile_ok("%{prefix}-%{+yyyy.yy.xxxx.ww.MM.dd}"),
    };
    const char *prefixes[] = {"syslog", "metrics", "a", "b", "c", "d", "e", "f", "g", "h", "i"};
    srand(seed);
    int64_t ts = 1700000000000LL;
    char out[128], want[128];
    for (int i = 0; i < 100000; i++) {
        switch (rand() % 4) { /* mostly small steps, sometimes a jump back or far */
        case 0:
            ts += rand() % 4000000;
            break;
        case 1:
            ts -= rand() % 4000000;
            break;
        case 2:
            ts += (int64_t)(rand() % 200 - 100) * 3600000;
            break;
        default:
            if (rand() % 50 == 0)
                ts = -2208988800000LL + (int64_t)(rand() % 73000) * DAY + rand() % DAY;
            break;
        }
        const char *prefix = prefixes[rand() % (i % 1000 < 500 ? 2 : 11)];
        bool local = rand() % 2;
        int k = rand() % 2;
        size_t n = lf_es_index_format(p[k], out, sizeof(out), prefix, ts, local);
        oracle(want, sizeof(want), prefix, ts, local);
        if (k == 1)
            want[strlen(prefix) + 22] = '\0'; /* up to dd */
        if (n == 0 || strcmp(out, want) != 0)
            fail_msg("TZ=%s ts=%lld local=%d: got \"%s\", want \"%s\"", tz ? tz : "-",
                     (long long)ts, local, n ? out : "", want);
    }
    lf_es_index_pattern_free(p[0]);
    lf_es_index_pattern_free(p[1]);
    set_tz(NULL);
}

static void test_cache_random_walk(void **state)
{
    (void)state;
    walk("UTC0", 1);
    walk("EST5EDT,M3.2.0,M11.1.0", 2);
    /* real zones when tzdata is there: a 30-minute DST shift, a half-hour
     * offset, and a zone that moved its offset */
    const char *zones[] = {"Australia/Lord_Howe", "Asia/Kolkata", "Europe/Moscow"};
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", zones[i]);
        if (access(path, R_OK) == 0)
            walk(zones[i], 3 + (unsigned)i);
    }
}

static void test_alternating_prefixes(void **state)
{
    (void)state;
    struct lf_es_index_pattern *p = compile_ok("%{prefix}-%{+yyyy.MM.dd}");
    char out[64];
    const struct {
        const char *prefix;
        int64_t ts;
        const char *want;
    } seq[] = {
        {"syslog", T_NOV21_END, "syslog-2026.11.21"},
        {"metrics", T_NOV21_END, "metrics-2026.11.21"},
        {"syslog", T_NOV21_END + 1, "syslog-2026.11.22"},
        {"metrics", T_NOV21_END - 5, "metrics-2026.11.21"},
        {"metrics", T_NOV21_END + 5, "metrics-2026.11.22"},
        {"syslog", T_NOV21_END - 1, "syslog-2026.11.21"},
        {"sys", T_NOV21_END, "sys-2026.11.21"}, /* a prefix of a prefix */
        {"syslogx", T_NOV21_END, "syslogx-2026.11.21"},
        {"syslog", T_NOV21_END + DAY, "syslog-2026.11.22"},
        {"syslog", T_NOV21_END + DAY + 1, "syslog-2026.11.23"},
    };
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
        size_t n = lf_es_index_format(p, out, sizeof(out), seq[i].prefix, seq[i].ts, false);
        assert_int_equal(n, strlen(seq[i].want));
        assert_string_equal(out, seq[i].want);
    }
    /* UTC and local are cached apart */
    set_tz("EST5EDT,M3.2.0,M11.1.0");
    assert_int_not_equal(lf_es_index_format(p, out, sizeof(out), "syslog", T_NOV21_END, false), 0);
    assert_string_equal(out, "syslog-2026.11.21");
    assert_int_not_equal(lf_es_index_format(p, out, sizeof(out), "syslog", T_NOV21_END + 1, true),
                         0);
    assert_string_equal(out, "syslog-2026.11.21");
    assert_int_not_equal(lf_es_index_format(p, out, sizeof(out), "syslog", T_NOV21_END + 1, false),
                         0);
    assert_string_equal(out, "syslog-2026.11.22");
    set_tz(NULL);
    /* too small a buffer: nothing written past it */
    char small[8] = "xxxxxxx";
    assert_int_equal(lf_es_index_format(p, small, sizeof(small), "syslog", 0, false), 0);
    assert_int_equal(lf_es_index_format(p, out, 17, "syslog", 0, false), 0);
    assert_int_equal(lf_es_index_format(p, out, 18, "syslog", 0, false), 17);
    lf_es_index_pattern_free(p);
}

static void expect_compile_error(const char *pattern, const char *needle)
{
    char err[512] = "";
    struct lf_es_index_pattern *p = lf_es_index_pattern_compile(pattern, err, sizeof(err));
    if (p)
        fail_msg("compiled: %s", pattern);
    if (!strstr(err, needle))
        fail_msg("%s: \"%s\" lacks \"%s\"", pattern, err, needle);
}

static void test_compile_errors(void **state)
{
    (void)state;
    expect_compile_error("Logs-%{+YYYY}", "column 1: uppercase");
    expect_compile_error("%{prefix} %{+YYYY}", "column 10: none of");
    expect_compile_error("%{prefix}-%{+YYYY.MMM}", "column 19: month names");
    expect_compile_error("%{prefix}-%{+YYYY.MM.dd EEE}", "column 24: none of"); /* the space */
    expect_compile_error("%{prefix}-%{+YYYY.MM.ddEEE}", "column 24: unsupported date letter");
    expect_compile_error("%{prefix}-%{+YYYY.mm}", "column 19: unsupported date letter 'm'");
    expect_compile_error("%{prefix}-%{+yyyy", "column 11: %{ is not closed");
    expect_compile_error("%{host}-%{+yyyy}", "column 1: unknown field");
    expect_compile_error("%{}", "unknown field");
    expect_compile_error("%{+}", "column 4: empty date format");
    expect_compile_error("-%{prefix}", "cannot start with");
    expect_compile_error("_x", "cannot start with");
    expect_compile_error("%{+'+'yyyy}", "cannot start with");
    expect_compile_error("%{prefix}%{+'X'yyyy}", "column 14: uppercase");
    expect_compile_error("%{prefix}%{+'abc}", "column 13: quoted text is not closed");
    expect_compile_error("%{prefix}%{+ddd}", "column 13: too many");
    expect_compile_error("%{prefix}%{+yyyyyyyyyy}", "too many");
    expect_compile_error("", "empty pattern");
    expect_compile_error(".", "is . or ..");
    expect_compile_error("..", "is . or ..");
    expect_compile_error("a*b", "column 2: none of");
    expect_compile_error("a:b", "column 2");
    expect_compile_error("a#b", "column 2");
    expect_compile_error("a\tb", "column 2: control");
    expect_compile_error("a\xff", "UTF-8");
    char longp[300];
    memset(longp, 'a', 280);
    strcpy(longp + 280, "%{prefix}");
    expect_compile_error(longp, "longer than 255");
    /* fine: lowercase non-ASCII, dots, a leading dot (hidden-style) */
    struct lf_es_index_pattern *p = compile_ok("journal-\xc3\xa9t\xc3\xa9-%{+yyyy}");
    lf_es_index_pattern_free(p);
    p = compile_ok(".logferry-%{prefix}");
    lf_es_index_pattern_free(p);
    /* no errbuf at all */
    assert_null(lf_es_index_pattern_compile("X", NULL, 0));
}

static size_t count_lines(FILE *f, const char *needle)
{
    char line[4096];
    size_t n = 0;
    rewind(f);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, needle) != NULL;
    return n;
}

static void test_invalid_prefixes(void **state)
{
    (void)state;
    struct lf_es_index_pattern *p = compile_ok("%{prefix}-%{+yyyy.MM.dd}");
    char out[300];
    /* Logged once per pattern, not once per document. */
    FILE *log = tmpfile();
    assert_non_null(log);
    fflush(stderr);
    int saved = dup(2);
    dup2(fileno(log), 2);
    const char *bad[] = {"Syslog", "_x",  "+x",   "-x", "a b",  "a/b",
                         "a\"b",   "a,b", "a\nb", "",   "a\xc3"};
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            if (lf_es_index_format(p, out, sizeof(out), bad[i], 0, false) != 0)
                fail_msg("accepted prefix \"%s\"", bad[i]);
    char longprefix[300];
    memset(longprefix, 'a', 299);
    longprefix[299] = '\0';
    assert_int_equal(lf_es_index_format(p, out, sizeof(out), longprefix, 0, false), 0);
    longprefix[244] = '\0'; /* 244 + "-1970.01.01" = 255: just fits */
    assert_int_equal(lf_es_index_format(p, out, sizeof(out), longprefix, 0, false), 255);
    longprefix[244] = 'a';
    longprefix[245] = '\0';
    assert_int_equal(lf_es_index_format(p, out, sizeof(out), longprefix, 0, false), 0);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(count_lines(log, "es_index"), 1);
    assert_int_equal(count_lines(log, "Syslog"), 1);
    fclose(log);
    /* good prefixes still work afterwards */
    assert_int_equal(lf_es_index_format(p, out, sizeof(out), "syslog", 0, false), 17);
    lf_es_index_pattern_free(p);

    /* "." and ".." can only come from a prefix alone */
    p = compile_ok("%{prefix}");
    assert_false(lf_es_index_pattern_uses_time(p));
    assert_int_equal(lf_es_index_format(p, out, sizeof(out), ".", 0, false), 0);
    assert_int_equal(lf_es_index_format(p, out, sizeof(out), "..", 0, false), 0);
    assert_int_equal(lf_es_index_format(p, out, sizeof(out), "...", 0, false), 3);
    lf_es_index_pattern_free(p);
}

static void test_wildcards(void **state)
{
    (void)state;
    const struct {
        const char *pattern, *prefix, *want;
    } cases[] = {
        {"%{prefix}-%{+YYYY.MM.dd}", "syslog", "syslog-*"},
        {"%{prefix}-%{+YYYY}.%{+MM}", "syslog", "syslog-*.*"},
        {"%{prefix}-%{+YYYY}%{+MM}", "syslog", "syslog-*"},
        {"logs-%{+xxxx.ww}-%{prefix}", "metrics", "logs-*-metrics"},
        {"%{+yyyy}-%{prefix}", "m", "*-m"},
        {"%{prefix}", "syslog", "syslog"},
        {"static", "ignored", "static"},
    };
    char out[300];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lf_es_index_pattern *p = compile_ok(cases[i].pattern);
        size_t n = lf_es_index_wildcard(p, out, sizeof(out), cases[i].prefix);
        assert_int_equal(n, strlen(cases[i].want));
        assert_string_equal(out, cases[i].want);
        lf_es_index_pattern_free(p);
    }
    struct lf_es_index_pattern *p = compile_ok("%{prefix}-%{+YYYY.MM.dd}");
    assert_int_equal(lf_es_index_wildcard(p, out, sizeof(out), "Syslog"), 0);
    assert_int_equal(lf_es_index_wildcard(p, out, sizeof(out), "_x"), 0);
    assert_int_equal(lf_es_index_wildcard(p, out, sizeof(out), "sys*"), 0); /* too wide */
    assert_int_equal(lf_es_index_wildcard(p, out, 8, "syslog"), 0);
    assert_int_equal(lf_es_index_wildcard(p, out, 9, "syslog"), 8);
    lf_es_index_pattern_free(p);
    lf_es_index_pattern_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_pattern),
        cmocka_unit_test(test_all_letters),
        cmocka_unit_test(test_new_year),
        cmocka_unit_test(test_negative_and_range),
        cmocka_unit_test(test_local_time),
        cmocka_unit_test(test_cache_random_walk),
        cmocka_unit_test(test_alternating_prefixes),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_invalid_prefixes),
        cmocka_unit_test(test_wildcards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
