/*
 * test_log.c - lf_log_quote: text from outside a log line can neither break
 * the line nor grow it without bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "lf.h"

static void test_quote_escapes(void **state)
{
    (void)state;
    char out[128];
    const char in[] = "a\nb\\c\td\re\x01\xff\"";
    lf_log_quote(in, sizeof(in) - 1, out, sizeof(out));
    assert_string_equal(out, "a\\nb\\\\c\\td\\re\\x01\\xff\"");
}

static void test_quote_cuts(void **state)
{
    (void)state;
    char in[1000];
    memset(in, 'x', sizeof(in));
    in[10] = '\n';
    char out[64];
    lf_log_quote(in, sizeof(in), out, sizeof(out));
    assert_true(strlen(out) < sizeof(out));
    assert_null(strchr(out, '\n'));
    assert_non_null(strstr(out, "... (1000 bytes)"));
    /* Fits exactly: no note. */
    lf_log_quote(in, 5, out, 6);
    assert_string_equal(out, "xxxxx");
    /* Too small even for the note: cut, still terminated. */
    lf_log_quote(in, sizeof(in), out, 4);
    assert_true(strlen(out) <= 3);
    lf_log_quote(in, sizeof(in), out, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_escapes),
        cmocka_unit_test(test_quote_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
