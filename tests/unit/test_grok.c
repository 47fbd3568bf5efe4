/*
 * test_grok.c - the expander and the matcher: fields, types, nesting,
 * duplicates, failures, Oniguruma translations, limits and error messages.
 * Uses its own small pattern library so it does not depend on the shipped
 * files (those have their own cases in tests/grammars/).
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
#include <time.h>

#include "grok.h"

static const char test_patterns[] = "# patterns for the unit tests\n"
                                    "WORD \\b\\w+\\b\n"
                                    "NUMBER [+-]?(?:[0-9]+(?:\\.[0-9]+)?|\\.[0-9]+)\n"
                                    "INT [+-]?[0-9]+\n"
                                    "DATA .*?\n"
                                    "GREEDYDATA .*\n"
                                    "HEX \\h+\n"
                                    "\n"
                                    "   \n"
                                    "PAIR %{WORD:pair.key}=%{WORD:pair.value}\n"
                                    "CYCLE_A x%{CYCLE_B}\n"
                                    "CYCLE_B y%{CYCLE_C}\n"
                                    "CYCLE_C z%{CYCLE_A}\n"
                                    "SELF %{SELF}\n"
                                    "BROKEN (?:abc\n"
                                    "USES_BROKEN foo %{BROKEN}\n"
                                    "UNKNOWN_REF %{NOPE}\n"
                                    "BAD_FIELD (?:%{WORD:[a][b?]} )?%{INT:n}\n"
                                    "TOKEN [a-z0-9]+\n"
                                    "HEXRUN (?:[0-9a-f]{1,4}:){1,40}\n";

static struct lf_grok_lib *lib;
static char err[1024];

static int setup(void **state)
{
    (void)state;
    lib = lf_grok_lib_create();
    assert_non_null(lib);
    assert_int_equal(lf_grok_lib_load_text(lib, "test.grok", test_patterns,
                                           sizeof(test_patterns) - 1, err, sizeof(err)),
                     0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lf_grok_lib_destroy(lib);
    return 0;
}

static lf_grok *compile_n(const char *const *exprs, size_t n, const struct lf_grok_options *opt)
{
    err[0] = '\0';
    return lf_grok_create(lib, exprs, n, opt, err, sizeof(err));
}

static lf_grok *compile1(const char *expr)
{
    return compile_n(&expr, 1, NULL);
}

/* Matches `line` (n bytes) and returns the event JSON (static buffer);
 * *rc gets lf_grok_match's result. */
static const char *match_n(lf_grok *g, const char *line, size_t n, int *rc)
{
    static struct lf_buf out;
    struct lf_event ev;
    lf_buf_free(&out);
    lf_buf_init(&out, 64u << 20);
    lf_event_init(&ev);
    *rc = lf_grok_match(g, line, n, &ev);
    assert_int_equal(lf_event_write_json(&ev, &out), 0);
    lf_event_free(&ev);
    return out.data;
}

static void expect(const char *expr, const char *line, const char *want)
{
    lf_grok *g = compile1(expr);
    if (!g)
        fail_msg("compile %s: %s", expr, err);
    int rc;
    const char *got = match_n(g, line, strlen(line), &rc);
    if (strcmp(got, want) != 0)
        fail_msg("%s on '%s':\n want %s\n got  %s", expr, line, want, got);
    lf_grok_destroy(g);
}

static void expect_error(const char *expr, const char *want_substring)
{
    lf_grok *g = compile1(expr);
    if (g)
        fail_msg("'%s' compiled, expected an error with '%s'", expr, want_substring);
    if (!strstr(err, want_substring))
        fail_msg("'%s': error '%s' does not contain '%s'", expr, err, want_substring);
}

static void test_fields_nest_in_both_notations(void **state)
{
    (void)state;
    expect("%{WORD:host.name} %{WORD:[process][name]} %{WORD:[process][title]}", "web01 sshd x",
           "{\"host\":{\"name\":\"web01\"},\"process\":{\"name\":\"sshd\",\"title\":\"x\"}}");
    expect("%{WORD:@metadata.kind}", "a", "{\"@metadata\":{\"kind\":\"a\"}}");
}

static void test_types(void **state)
{
    (void)state;
    expect("%{NUMBER:f:float} %{NUMBER:i:int} %{NUMBER:s} %{NUMBER:t:string}", "0.14 42 7 8",
           "{\"f\":0.14,\"i\":42,\"s\":\"7\",\"t\":\"8\"}");
    /* An integral float stays a float so Elasticsearch maps it as one. */
    expect("%{NUMBER:f:float}", "42", "{\"f\":42.0}");
    expect("%{NUMBER:f:float}", "+.5", "{\"f\":0.5}");
    expect("%{F:f:float=[0-9.e]+}", "1.5e3", "{\"f\":1500.0}");
    /* Too big for a double: JSON has no Infinity, so it stays text. */
    expect("%{F:f:float=[0-9.e]+}", "1e999", "{\"f\":\"1e999\"}");
    char big[400];
    memset(big, '4', sizeof(big));
    big[200] = '.';
    big[sizeof(big) - 1] = '\0';
    char want[450];
    snprintf(want, sizeof(want), "{\"f\":\"%s\"}", big);
    expect("%{NUMBER:f:float}", big, want);
    /* :int cuts a fraction, as Logstash does. */
    expect("%{NUMBER:i:int}", "-3.7", "{\"i\":-3}");
    expect("%{INT:i:int}", "9223372036854775807", "{\"i\":9223372036854775807}");
}

static void test_bad_conversion_kept_as_string_and_counted(void **state)
{
    (void)state;
    lf_grok *g = compile1("%{WORD:i:int} %{WORD:f:float} %{INT:big:int}");
    assert_non_null(g);
    int rc;
    const char *got = match_n(g, "abc nan 99999999999999999999", 28, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(got, "{\"big\":\"99999999999999999999\",\"f\":\"nan\",\"i\":\"abc\"}");
    assert_int_equal(lf_grok_get_stats(g)->bad_conversions, 3);
    lf_grok_destroy(g);
}

static void test_duplicates_and_alternation(void **state)
{
    (void)state;
    /* The same field in two branches: the branch that matched. */
    expect("(?:%{INT:v:int}|%{WORD:v})!", "abc!", "{\"v\":\"abc\"}");
    expect("(?:%{INT:v:int}|%{WORD:v})!", "12!", "{\"v\":12}");
    /* Both took part: a list, in the order of the line. */
    expect("%{WORD:w} %{WORD:w}", "a b", "{\"w\":[\"a\",\"b\"]}");
    /* A pattern used twice, its inner fields twice. */
    expect("%{PAIR} %{PAIR}", "a=1 b=2",
           "{\"pair\":{\"key\":[\"a\",\"b\"],\"value\":[\"1\",\"2\"]}}");
}

static void test_missing_and_empty_captures_left_out(void **state)
{
    (void)state;
    expect("%{WORD:a}(?: \\[%{INT:pid:int}\\])?:%{DATA:empty}$", "cron:", "{\"a\":\"cron\"}");
    expect("%{WORD:a}(?: \\[%{INT:pid:int}\\])?:", "cron [42]:", "{\"a\":\"cron\",\"pid\":42}");
}

static void test_raw_named_groups(void **state)
{
    (void)state;
    expect("(?<user.id>\\d+) (?<[user][name]>\\w+)", "42 bob",
           "{\"user\":{\"id\":\"42\",\"name\":\"bob\"}}");
    /* Backreferences by name follow the renaming. */
    expect("(?<q>['\"])(?<v>\\w+)\\k<q>", "'x'", "{\"q\":\"'\",\"v\":\"x\"}");
    expect("(?<q>a)(?&q)(?P=q)", "aaa", "{\"q\":\"a\"}");
}

static void test_plain_groups_do_not_capture(void **state)
{
    (void)state;
    expect("(a|b)(?<x>c)", "bc", "{\"x\":\"c\"}");
}

static void test_first_match_wins_and_failure(void **state)
{
    (void)state;
    const char *exprs[] = {"^%{INT:n:int}$", "^%{WORD:w}$", "^%{GREEDYDATA:rest}$"};
    lf_grok *g = compile_n(exprs, 3, NULL);
    assert_non_null(g);
    int rc;
    assert_string_equal(match_n(g, "12", 2, &rc), "{\"n\":12}");
    assert_int_equal(rc, 0);
    assert_string_equal(match_n(g, "ab", 2, &rc), "{\"w\":\"ab\"}");
    assert_int_equal(rc, 1);
    assert_string_equal(match_n(g, "a b", 3, &rc), "{\"rest\":\"a b\"}");
    assert_int_equal(rc, 2);
    lf_grok_destroy(g);

    g = compile1("^%{INT:n}$");
    assert_string_equal(match_n(g, "x", 1, &rc), "{\"tags\":[\"_grokparsefailure\"]}");
    assert_int_equal(rc, LF_ENOMATCH);
    assert_int_equal(lf_grok_get_stats(g)->unmatched, 1);
    lf_grok_destroy(g);
}

static void test_oniguruma_translations(void **state)
{
    (void)state;
    /* (?m) is Ruby's dot-matches-newline. */
    expect("(?m)^a(?<x>.)b", "a\nb", "{\"x\":\"\\n\"}");
    /* \h is a hex digit, not horizontal space; also inside a class. */
    expect("%{HEX:h}", "  beef  ", "{\"h\":\"beef\"}");
    expect("(?<h>[\\h-]+)", "zz 12-ab zz", "{\"h\":\"12-ab\"}");
    expect("(?<nh>\\H+)", "12ghij", "{\"nh\":\"ghij\"}");
    /* \uHHHH */
    expect("(?<a>\\u0041+)", "xAAy", "{\"a\":\"AA\"}");
    expect("^caf(?<e>\\u00e9+)$", "caf\xc3\xa9\xc3\xa9", "{\"e\":\"\xc3\xa9\xc3\xa9\"}");
    expect("(?<e>[\\u00e9\\u{20AC}]+)", "x\xe2\x82\xac\xc3\xa9y",
           "{\"e\":\"\xe2\x82\xac\xc3\xa9\"}");
    /* {,n} is 0..n */
    expect("^(?<a>a{,2})", "aaaa", "{\"a\":\"aa\"}");
    /* Nested classes are unions. */
    expect("(?<c>[a[0-9]]+)", "xa1a2x", "{\"c\":\"a1a2\"}");
    /* ^ and $ are line anchors, as in Ruby. */
    expect("^(?<l>b)$", "a\nb\nc", "{\"l\":\"b\"}");
    /* Literal braces and % signs pass through. */
    expect("(?<p>\\d+%) \\{x\\}", "50% {x}", "{\"p\":\"50%\"}");
    /* A POSIX class inside a class. */
    expect("(?<w>[[:alpha:]_]+)", "1ab_c2", "{\"w\":\"ab_c\"}");
}

static void test_unicode_as_ruby_sees_it(void **state)
{
    (void)state;
    /* POSIX classes and \b know Unicode; \w, \d, \s are ASCII; '.' is a
     * character. */
    expect("(?<w>[[:alnum:]]+)", "jos\xc3\xa9 x", "{\"w\":\"jos\xc3\xa9\"}");
    expect("(?<w>\\b\\w+\\b)", "h\xc3\xa9llo w\xc3\xb6rld ok", "{\"w\":\"ok\"}");
    expect("(?<x>\\S+)",
           "a\xc2\xa0"
           "b c",
           "{\"x\":\"a\xc2\xa0"
           "b\"}");
    expect("^(?<c>.)", "\xc3\xa9t\xc3\xa9", "{\"c\":\"\xc3\xa9\"}");
    expect("(?<d>\\d+)", "\xd9\xa3 42", "{\"d\":\"42\"}"); /* Arabic-Indic 3 is no \d */
    /* Invalid UTF-8: the byte pattern reads it, ASCII classes. */
    expect("(?<w>[[:alnum:]]+)", "jos\xe9 x", "{\"w\":\"jos\"}");
    expect("^(?<all>.*)$",
           "a\xff"
           "b",
           "{\"all\":\"a\xc3\xbf"
           "b\"}");
}

static void test_unicode_classes_and_boundaries(void **state)
{
    (void)state;
    /* Negated escapes in a class are ASCII too, as in Ruby. */
    expect("(?<w>[^\\W\\d]+)", "h\xc3\xa9llo", "{\"w\":\"h\"}");
    /* \B with Unicode word characters: no boundary between h and é. */
    expect("(?<w>h\\B)", "h\xc3\xa9", "{\"w\":\"h\"}");
    expect("(?<w>h\\b)", "h\xc3\xa9 h", "{\"w\":\"h\"}");
    /* ASCII lines take the byte pattern: the same answers. */
    expect("(?<w>\\b\\w+\\b)", "hello world", "{\"w\":\"hello\"}");
    expect("(?<w>[[:alpha:]]+)", "ab1", "{\"w\":\"ab\"}");
    /* Negated POSIX classes and punct. */
    expect("(?<w>[[:^alpha:]]+)", "\xc3\xa9t\xc3\xa9 42", "{\"w\":\" 42\"}");
    expect("(?<p>[[:punct:]]+)", "ab\xc2\xbf?! x", "{\"p\":\"\xc2\xbf?!\"}");
    expect("(?<s>[[:space:]]+)", "a\xc2\xa0 b", "{\"s\":\"\xc2\xa0 \"}");
    /* A quantifier after a non-ASCII literal takes the whole character,
     * on ASCII lines (byte pattern) as on others. */
    expect("^(?<a>x\xc3\xa9*)y", "xy", "{\"a\":\"x\"}");
    expect("^(?<a>x\xc3\xa9*)y", "x\xc3\xa9\xc3\xa9y", "{\"a\":\"x\xc3\xa9\xc3\xa9\"}");
}

static void test_nested_repeat_cannot_blow_up(void **state)
{
    (void)state;
    /* The shape of Logstash's URIPROTO: a token with no "://" after it made
     * (C+)+ try 2^n splits and hit the match limit. */
    const char *expr = "^(?<t>[a-z]([a-z0-9.+-]+)+)://";
    lf_grok *g = compile1(expr);
    assert_non_null(g);
    assert_string_equal(lf_grok_pattern(g, 0), "^(?<g0>[a-z]([a-z0-9.+-]+))://");
    char line[2000];
    memset(line, 'x', sizeof(line));
    for (size_t i = 0; i < sizeof(line); i += 7)
        line[i] = (char)('0' + i % 10);
    line[0] = 'a';
    line[sizeof(line) - 1] = '!';
    int rc;
    assert_string_equal(match_n(g, line, sizeof(line), &rc), "{\"tags\":[\"_grokparsefailure\"]}");
    assert_int_equal(lf_grok_get_stats(g)->limit_hits, 0);
    lf_grok_destroy(g);
    expect(expr, "svn+ssh://host", "{\"t\":\"svn+ssh\"}");
    /* "*" outside "+" becomes "?"; a reference repeated counts too. */
    expect("^(?<x>(?:\\d+)*)z", "123z", "{\"x\":\"123\"}");
    expect("^(?<x>(?:\\d+)*)z", "z", "{}");
    g = compile1("^(?<x>%{TOKEN}+)$");
    assert_non_null(g);
    assert_string_equal(lf_grok_pattern(g, 0), "^(?<g0>(?:[a-z0-9]+))$");
    lf_grok_destroy(g);
    /* A class with a POSIX class inside is one character too. */
    g = compile1("^(?<p>([[:alpha:]_-]+)+)1");
    assert_non_null(g);
    assert_string_equal(lf_grok_pattern(g, 0), "^(?<g0>([[:alpha:]_-]+))1");
    lf_grok_destroy(g);
    /* The same group captures the same text: the last iteration is all. */
    expect("^(?:(?<p>[a-z]+)+)1", "abc1", "{\"p\":\"abc\"}");
    /* Lazy, possessive and longer bodies are left as written. */
    g = compile1("(a+)+?b(c+)++(ab+)+");
    assert_non_null(g);
    assert_string_equal(lf_grok_pattern(g, 0), "(a+)+?b(c+)++(ab+)+");
    lf_grok_destroy(g);
}

static void test_references_past_the_size_cap_become_calls(void **state)
{
    (void)state;
    /* Each HEXRUN is some 2 KiB compiled; forty pass PCRE2's 64 KiB cap, so
     * the expression is compiled again with the references as calls. */
    char expr[2048] = "^(?<r>%{HEXRUN})(?<t>ff:)$";
    for (int i = 0; i < 40; i++)
        strcat(expr, "|zz%{HEXRUN}");
    lf_grok *g = compile1(expr);
    if (!g)
        fail_msg("%s", err);
    assert_non_null(strstr(lf_grok_pattern(g, 0), "(?(DEFINE)(?<d0>"));
    int rc;
    /* A call backtracks: HEXRUN gives "ff:" back to the rest. */
    assert_string_equal(match_n(g, "aa:bb:ff:", 9, &rc), "{\"r\":\"aa:bb:\",\"t\":\"ff:\"}");
    lf_grok_destroy(g);
    /* Under the cap, references are written in place as before. */
    g = compile1("^(?<r>%{HEXRUN})(?<t>ff:)$");
    assert_non_null(g);
    assert_null(strstr(lf_grok_pattern(g, 0), "DEFINE"));
    assert_string_equal(match_n(g, "aa:bb:ff:", 9, &rc), "{\"r\":\"aa:bb:\",\"t\":\"ff:\"}");
    lf_grok_destroy(g);
}

static void test_invalid_field_in_pattern_file(void **state)
{
    (void)state;
    /* Typed in an expression, it is an error the user can fix. */
    expect_error("%{WORD:[a][b?]}", "invalid field name '[a][b'");
    /* In a pattern file it compiles, as in Logstash, and a line on which
     * that group takes text fails (Logstash: "Invalid FieldReference"). */
    expect("^%{BAD_FIELD}$", "42", "{\"n\":\"42\"}");
    expect("^%{BAD_FIELD}$", "x 42", "{\"tags\":[\"_grokparsefailure\"]}");
    const char *exprs[] = {"^%{BAD_FIELD}$", "^(?<w>\\w+) "};
    lf_grok *g = compile_n(exprs, 2, NULL);
    assert_non_null(g);
    int rc;
    /* Logstash tries no further pattern once one threw. */
    assert_string_equal(match_n(g, "x 42", 4, &rc), "{\"tags\":[\"_grokparsefailure\"]}");
    lf_grok_destroy(g);
}

static void test_oniguruma_untranslatable_rejected(void **state)
{
    (void)state;
    expect_error("[a-z&&[^aeiou]]", "intersection");
    expect_error("[[^a]b]", "negated nested character class");
    expect_error("[\\H]", "\\H");
    expect_error("\\uD800", "is not a Unicode character");
}

static void test_invalid_utf8_and_binary_subject(void **state)
{
    (void)state;
    lf_grok *g = compile1("%{WORD:w} %{GREEDYDATA:rest}");
    const char line[] = "abc \xff\xfe\x00\"\n{\"index\":{}}";
    int rc;
    const char *got = match_n(g, line, sizeof(line) - 1, &rc);
    assert_int_equal(rc, 0);
    json_error_t jerr;
    json_t *v = json_loads(got, JSON_ALLOW_NUL, &jerr);
    assert_non_null(v);
    json_t *rest = json_object_get(v, "rest");
    assert_int_equal(json_string_length(rest), 4 + 1 + 1 + 1 + 12);
    json_decref(v);
    lf_grok_destroy(g);
}

static void test_catastrophic_backtracking_is_stopped(void **state)
{
    (void)state;
    struct lf_grok_options opt;
    lf_grok_options_default(&opt);
    /* (a+)+ is rewritten (test_nested_repeat_cannot_blow_up); this one is
     * not, and tries about 1.6^40 ways. */
    const char *expr = "^(?<x>(?:a|aa)+)$";
    lf_grok *g = compile_n(&expr, 1, &opt);
    assert_non_null(g);
    char line[64];
    memset(line, 'a', 40);
    line[40] = 'b';
    int rc;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const char *got = match_n(g, line, 41, &rc);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(rc, LF_ENOMATCH);
    assert_string_equal(got, "{\"tags\":[\"_groktimeout\"]}");
    assert_int_equal(lf_grok_get_stats(g)->limit_hits, 1);
    /* Not a timing assertion: a report for whoever reads the test log. */
    print_message("catastrophic expression gave up after %.1f ms\n",
                  (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    lf_grok_destroy(g);
}

static void test_one_mib_line(void **state)
{
    (void)state;
    size_t n = 1u << 20;
    char *line = malloc(n);
    for (size_t i = 0; i < n; i++)
        line[i] = (char)('a' + i % 26);
    memcpy(line, "key=", 4);
    line[n / 2] = ' ';
    const char *exprs[] = {"^%{WORD:k}=%{WORD:w} %{GREEDYDATA:rest}$"};
    lf_grok *g = compile_n(exprs, 1, NULL);
    int rc;
    const char *got = match_n(g, line, n, &rc);
    assert_int_equal(rc, 0);
    assert_true(strlen(got) > n);
    lf_grok_destroy(g);

    /* A hostile 1 MiB line against a backtracking expression fails fast. */
    memset(line, 'a', n);
    const char *evil = "(?<x>(a|aa)+)$b";
    g = compile_n(&evil, 1, NULL);
    got = match_n(g, line, n, &rc);
    assert_int_equal(rc, LF_ENOMATCH);
    lf_grok_destroy(g);

    /* Over max_line: matched on the first max_line bytes, tagged. */
    struct lf_grok_options opt;
    lf_grok_options_default(&opt);
    opt.max_line = 1000;
    const char *all = "^(?<all>.*)$";
    g = compile_n(&all, 1, &opt);
    got = match_n(g, line, n, &rc);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(got, "\"tags\":[\"_truncated\"]"));
    assert_int_equal(strlen(got), strlen("{\"all\":\"\",\"tags\":[\"_truncated\"]}") + 1000);
    lf_grok_destroy(g);
    free(line);
}

static void test_errors_name_the_place(void **state)
{
    (void)state;
    expect_error("%{WORD:a} %{NOPE:b}", "expression 1, column 11: unknown pattern NOPE");
    expect_error("%{UNKNOWN_REF}", "pattern UNKNOWN_REF at test.grok:17:13: unknown pattern NOPE");
    expect_error("%{CYCLE_A}", "pattern reference cycle: CYCLE_A -> CYCLE_B -> CYCLE_C -> CYCLE_A");
    expect_error("%{SELF}", "cycle: SELF -> SELF");
    expect_error("%{WORD:a} (foo", "expression 1, column 11: missing closing parenthesis");
    expect_error("%{WORD:a} foo)", "expression 1, column 14: unmatched closing parenthesis");
    expect_error("%{USES_BROKEN}", "pattern BROKEN at test.grok:15:");
    expect_error("a[b", "expression 1, column 4: missing terminating ]");
    expect_error("%{WORD:a:integer}", "unknown type 'integer' for field 'a'");
    expect_error("%{WORD:a..b}", "invalid field name 'a..b'");
    expect_error("%{WORD:[a]b}", "invalid field name '[a]b'");
    expect_error("%{WORD:a} %{WORD:a.b}", "field 'a' is captured both as a value and as an object");
    expect_error("%{WORD", "unterminated %{");
    expect_error("%{:x}", "malformed reference");
    expect_error("%{N=(?<v>\\d+}", "pattern N defined in expression 1, column 5: missing closing");
    expect_error("", "empty expression");
    expect_error("(?<x>a)\\k<y>", "reference to unknown group 'y'");
}

static void test_error_in_second_expression(void **state)
{
    (void)state;
    const char *exprs[] = {"%{WORD:a}", "%{WORD:b} [z"};
    assert_null(compile_n(exprs, 2, NULL));
    assert_non_null(strstr(err, "expression 2, column"));
    assert_non_null(strstr(err, "missing terminating ]"));
}

static void test_expansion_size_is_capped(void **state)
{
    (void)state;
    struct lf_grok_lib *big = lf_grok_lib_create();
    char def[64];
    lf_grok_lib_define(big, "B0", "abcdefgh", err, sizeof(err));
    for (int i = 1; i < 30; i++) {
        char name[16];
        snprintf(name, sizeof(name), "B%d", i);
        snprintf(def, sizeof(def), "%%{B%d}%%{B%d}", i - 1, i - 1);
        assert_int_equal(lf_grok_lib_define(big, name, def, err, sizeof(err)), 0);
    }
    const char *expr = "%{B29}";
    assert_null(lf_grok_create(big, &expr, 1, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "expanded pattern is longer than"));
    lf_grok_lib_destroy(big);
}

static void test_logstash_reference_forms(void **state)
{
    (void)state;
    /* Inline definitions, with braces inside, with and without a field. */
    expect("%{TWO=\\d{2}}-%{TWO:b}-%{THREE:c:int=\\d{3}}", "12-34-567", "{\"b\":\"34\",\"c\":567}");
    /* Logstash ignores what follows the field part, e.g. a stray '?'. */
    expect("%{INT:[x][y]?}", "42", "{\"x\":{\"y\":\"42\"}}");
    /* "x?*" is "x*" in Ruby. */
    expect("(?<a>b?*)c", "bbbc", "{\"a\":\"bbb\"}");
    /* A nested POSIX class, as in Logstash's UNIXPATH. */
    expect("(?<p>(?:/[[[:alnum:]]_.-]*)+)", "at /usr/lib_x/a.so now",
           "{\"p\":\"/usr/lib_x/a.so\"}");
}

static void test_explain_shows_pattern(void **state)
{
    (void)state;
    lf_grok *g = compile1("%{WORD:a} (?m)x");
    assert_string_equal(lf_grok_pattern(g, 0), "(?<g0>\\b\\w+\\b) (?s)x");
    assert_null(lf_grok_pattern(g, 1));
    assert_int_equal(lf_grok_count(g), 1);
    lf_grok_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_nest_in_both_notations),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_bad_conversion_kept_as_string_and_counted),
        cmocka_unit_test(test_duplicates_and_alternation),
        cmocka_unit_test(test_missing_and_empty_captures_left_out),
        cmocka_unit_test(test_raw_named_groups),
        cmocka_unit_test(test_plain_groups_do_not_capture),
        cmocka_unit_test(test_first_match_wins_and_failure),
        cmocka_unit_test(test_oniguruma_translations),
        cmocka_unit_test(test_unicode_as_ruby_sees_it),
        cmocka_unit_test(test_oniguruma_untranslatable_rejected),
        cmocka_unit_test(test_invalid_utf8_and_binary_subject),
        cmocka_unit_test(test_catastrophic_backtracking_is_stopped),
        cmocka_unit_test(test_one_mib_line),
        cmocka_unit_test(test_errors_name_the_place),
        cmocka_unit_test(test_error_in_second_expression),
        cmocka_unit_test(test_expansion_size_is_capped),
        cmocka_unit_test(test_logstash_reference_forms),
        cmocka_unit_test(test_explain_shows_pattern),
        cmocka_unit_test(test_unicode_classes_and_boundaries),
        cmocka_unit_test(test_nested_repeat_cannot_blow_up),
        cmocka_unit_test(test_invalid_field_in_pattern_file),
        cmocka_unit_test(test_references_past_the_size_cap_become_calls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
