/*
 * test_grok_lib.c - the pattern library: the file format, errors that name
 * file and line, override order, directories, inline definitions, and the
 * shipped library loading cleanly.
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
#include <sys/stat.h>
#include <unistd.h>

#include "grok.h"

static char err[1024];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_format(void **state)
{
    (void)state;
    struct lf_grok_lib *lib = lf_grok_lib_create();
    const char text[] = "# comment\n"
                        "\n"
                        "  # indented comment\n"
                        "A  \t[a-z]+\r\n"
                        "B_2 %{A} x \n"
                        "  C c\n"
                        "A [b]";
    assert_int_equal(lf_grok_lib_load_text(lib, "t", text, sizeof(text) - 1, err, sizeof(err)), 0);
    assert_int_equal(lf_grok_lib_count(lib), 3);
    assert_string_equal(lf_grok_lib_lookup(lib, "A"), "[b]");       /* redefined: last wins */
    assert_string_equal(lf_grok_lib_lookup(lib, "B_2"), "%{A} x "); /* trailing space kept */
    assert_string_equal(lf_grok_lib_lookup(lib, "C"), "c");
    assert_null(lf_grok_lib_lookup(lib, "D"));
    lf_grok_lib_destroy(lib);
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    struct lf_grok_lib *lib = lf_grok_lib_create();
    const char bad_name[] = "OK x\nBAD-NAME y\n";
    assert_int_equal(
        lf_grok_lib_load_text(lib, "p.grok", bad_name, sizeof(bad_name) - 1, err, sizeof(err)),
        LF_ESYNTAX);
    assert_non_null(strstr(err, "p.grok:2:4: invalid character '-' in pattern name"));
    assert_string_equal(lf_grok_lib_lookup(lib, "OK"), "x"); /* lines before stay */

    const char no_regex[] = "\n\nLONELY   \n";
    assert_int_equal(
        lf_grok_lib_load_text(lib, "q.grok", no_regex, sizeof(no_regex) - 1, err, sizeof(err)),
        LF_ESYNTAX);
    assert_non_null(strstr(err, "q.grok:3:10: pattern LONELY has no regex"));

    const char nul[] = "N a\0b\n";
    assert_int_equal(lf_grok_lib_load_text(lib, "r.grok", nul, sizeof(nul) - 1, err, sizeof(err)),
                     LF_ESYNTAX);
    assert_non_null(strstr(err, "r.grok:1: NUL byte"));
    lf_grok_lib_destroy(lib);
}

static void test_directory_order_and_override(void **state)
{
    (void)state;
    char dir[] = "/tmp/lf_grok_lib_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/20-second", dir);
    write_file(path, "X second\nONLY2 two\n");
    snprintf(path, sizeof(path), "%s/10-first", dir);
    write_file(path, "X first\nONLY1 one\n");
    snprintf(path, sizeof(path), "%s/.hidden", dir);
    write_file(path, "X hidden\n");
    snprintf(path, sizeof(path), "%s/30-backup~", dir);
    write_file(path, "X backup\n");
    snprintf(path, sizeof(path), "%s/sub", dir);
    mkdir(path, 0700);

    struct lf_grok_lib *lib = lf_grok_lib_create();
    assert_int_equal(lf_grok_lib_load_builtin(lib, err, sizeof(err)), 0);
    size_t builtin = lf_grok_lib_count(lib);
    assert_true(builtin > 20);
    assert_non_null(lf_grok_lib_lookup(lib, "GREEDYDATA"));
    lf_grok_lib_define(lib, "GREEDYDATA", "override", err, sizeof(err));
    assert_int_equal(lf_grok_lib_load_dir(lib, dir, err, sizeof(err)), 0);
    assert_string_equal(lf_grok_lib_lookup(lib, "X"), "second");
    assert_string_equal(lf_grok_lib_lookup(lib, "ONLY1"), "one");
    assert_string_equal(lf_grok_lib_lookup(lib, "GREEDYDATA"), "override");
    assert_int_equal(lf_grok_lib_count(lib), builtin + 3);

    /* A user directory overrides a shipped pattern used by another one. */
    lf_grok_lib_define(lib, "GREEDYDATA", "[a-z]+", err, sizeof(err));
    const char *expr = "^%{GREEDYDATA:rest}$";
    lf_grok *g = lf_grok_create(lib, &expr, 1, NULL, err, sizeof(err));
    assert_non_null(g);
    assert_string_equal(lf_grok_pattern(g, 0), "^(?<g0>[a-z]+)$");
    lf_grok_destroy(g);

    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);
    lf_grok_lib_destroy(lib);
}

static void test_missing_paths(void **state)
{
    (void)state;
    struct lf_grok_lib *lib = lf_grok_lib_create();
    assert_int_equal(lf_grok_lib_load_dir(lib, "/nonexistent/patterns", err, sizeof(err)),
                     LF_ENOENT);
    assert_string_equal(err, "cannot open pattern directory /nonexistent/patterns: No such file or "
                             "directory");
    assert_int_equal(lf_grok_lib_load_file(lib, "/nonexistent/file", err, sizeof(err)), LF_ENOENT);
    assert_non_null(strstr(err, "cannot open pattern file /nonexistent/file"));
    lf_grok_lib_destroy(lib);
}

static void test_define(void **state)
{
    (void)state;
    struct lf_grok_lib *lib = lf_grok_lib_create();
    assert_int_equal(lf_grok_lib_define(lib, "OK_1", "x", err, sizeof(err)), 0);
    assert_int_equal(lf_grok_lib_define(lib, "no way", "x", err, sizeof(err)), LF_ESYNTAX);
    assert_non_null(strstr(err, "invalid name"));
    assert_int_equal(lf_grok_lib_define(lib, "EMPTY", "", err, sizeof(err)), LF_ESYNTAX);
    lf_grok_lib_destroy(lib);
}

/* Every shipped pattern compiles on its own. */
static void test_every_shipped_pattern_compiles(void **state)
{
    (void)state;
    struct lf_grok_lib *lib = lf_grok_lib_create();
    assert_int_equal(lf_grok_lib_load_builtin(lib, err, sizeof(err)), 0);
    size_t n = lf_grok_lib_count(lib);
    for (size_t i = 0; i < n; i++) {
        const char *name = lf_grok_lib_name(lib, i);
        char expr[256];
        snprintf(expr, sizeof(expr), "%%{%s}", name);
        const char *e = expr;
        lf_grok *g = lf_grok_create(lib, &e, 1, NULL, err, sizeof(err));
        if (!g)
            fail_msg("shipped pattern %s: %s", name, err);
        lf_grok_destroy(g);
    }
    lf_grok_lib_destroy(lib);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_directory_order_and_override),
        cmocka_unit_test(test_missing_paths),
        cmocka_unit_test(test_define),
        cmocka_unit_test(test_every_shipped_pattern_compiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
