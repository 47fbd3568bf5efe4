/*
 * test_lines.c - the bounded line reader: lines split right, long lines cut
 * and the rest skipped, a last line without newline kept, memory bounded.
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
#include <unistd.h>

#include "lf.h"

/* Returns a read descriptor holding `data` (through a temporary file, so
 * any size works without a writer thread). */
static int fd_with(const char *data, size_t n)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fflush(f);
    int fd = dup(fileno(f));
    fclose(f);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static void expect_line(struct lf_line_reader *r, const char *want, int want_cut)
{
    const char *line;
    size_t len;
    int cut;
    assert_int_equal(lf_line_reader_next(r, &line, &len, &cut), 1);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(line, want, len);
    assert_int_equal(cut, want_cut);
}

static void expect_eof(struct lf_line_reader *r)
{
    const char *line;
    size_t len;
    int cut;
    assert_int_equal(lf_line_reader_next(r, &line, &len, &cut), 0);
    assert_int_equal(lf_line_reader_next(r, &line, &len, &cut), 0);
}

static void test_lines_and_last_without_newline(void **state)
{
    (void)state;
    const char in[] = "one\n\nthree\r\nlast";
    struct lf_line_reader r;
    assert_int_equal(lf_line_reader_init(&r, fd_with(in, sizeof(in) - 1), 100), 0);
    expect_line(&r, "one", 0);
    expect_line(&r, "", 0);
    expect_line(&r, "three\r", 0);
    expect_line(&r, "last", 0);
    expect_eof(&r);
    close(r.fd);
    lf_line_reader_free(&r);
}

static void test_long_line_cut_rest_skipped(void **state)
{
    (void)state;
    size_t n = 1000000;
    char *in = malloc(n + 32);
    memset(in, 'x', n);
    memcpy(in + n, "\nnext\n", 7);
    struct lf_line_reader r;
    assert_int_equal(lf_line_reader_init(&r, fd_with(in, n + 6), 10), 0);
    expect_line(&r, "xxxxxxxxxx", 1);
    expect_line(&r, "next", 0);
    expect_eof(&r);
    assert_true(r.cap < 100000); /* memory bounded by max_line, not the input */
    close(r.fd);
    lf_line_reader_free(&r);
    free(in);
}

static void test_line_of_exactly_max(void **state)
{
    (void)state;
    struct lf_line_reader r;
    assert_int_equal(lf_line_reader_init(&r, fd_with("abcd\nabcde\nab", 13), 4), 0);
    expect_line(&r, "abcd", 0);
    expect_line(&r, "abcd", 1);
    expect_line(&r, "ab", 0);
    expect_eof(&r);
    close(r.fd);
    lf_line_reader_free(&r);
}

static void test_cut_line_at_eof(void **state)
{
    (void)state;
    struct lf_line_reader r;
    assert_int_equal(lf_line_reader_init(&r, fd_with("abcdefgh", 8), 3), 0);
    expect_line(&r, "abc", 1);
    expect_eof(&r);
    close(r.fd);
    lf_line_reader_free(&r);
}

static void test_read_error(void **state)
{
    (void)state;
    struct lf_line_reader r;
    const char *line;
    size_t len;
    int cut;
    assert_int_equal(lf_line_reader_init(&r, -1, 3), 0);
    assert_int_equal(lf_line_reader_next(&r, &line, &len, &cut), LF_EIO);
    lf_line_reader_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_and_last_without_newline),
        cmocka_unit_test(test_long_line_cut_rest_skipped),
        cmocka_unit_test(test_line_of_exactly_max),
        cmocka_unit_test(test_cut_line_at_eof),
        cmocka_unit_test(test_read_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
