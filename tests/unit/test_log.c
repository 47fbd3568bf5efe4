/*
 * test_log.c - lf_log_quote: text from outside a log line can neither break
 * the line nor grow it without bound. Lines for the journal: a <N> priority
 * and no timestamp when JOURNAL_STREAM names stderr, and only then.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Logs one line at `level` with stderr on a fresh file and JOURNAL_STREAM
 * set to `stream` (NULL: unset, "same": stderr's own dev:inode); returns what
 * was written and whether lf_log_detect_journal() said journal. */
static void log_one(const char *stream, enum lf_log_level level, char *out, size_t len,
                    bool *journal)
{
    char path[] = "/tmp/lf_test_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    char value[64];
    if (stream && strcmp(stream, "same") == 0) {
        struct stat st;
        assert_int_equal(fstat(STDERR_FILENO, &st), 0);
        snprintf(value, sizeof(value), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        stream = value;
    }
    if (stream)
        setenv("JOURNAL_STREAM", stream, 1);
    else
        unsetenv("JOURNAL_STREAM");
    *journal = lf_log_detect_journal();
    lf_log(level, "test", "hello %d", 42);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, out, len - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unsetenv("JOURNAL_STREAM");
    lf_log_detect_journal();
}

static void test_journal_prefix(void **state)
{
    (void)state;
    char out[256];
    bool journal;
    log_one("same", LF_LOG_WARN, out, sizeof(out), &journal);
    assert_true(journal);
    assert_string_equal(out, "<4>warn test: hello 42\n");
    log_one("same", LF_LOG_ERROR, out, sizeof(out), &journal);
    assert_string_equal(out, "<3>error test: hello 42\n");
    log_one("same", LF_LOG_INFO, out, sizeof(out), &journal);
    assert_string_equal(out, "<6>info test: hello 42\n");
}

static void test_not_journal(void **state)
{
    (void)state;
    char out[256];
    bool journal;
    /* Unset, another stream (a child whose stderr was redirected inherits
     * the variable), or garbage: a timestamp and no priority. */
    const char *streams[] = {NULL, "1:1", "garbage", "12:34x"};
    for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        log_one(streams[i], LF_LOG_WARN, out, sizeof(out), &journal);
        assert_false(journal);
        assert_int_not_equal(out[0], '<');
        /* 2026-12-06T21:03:03.123Z warn  test: hello 42 */
        assert_int_equal(out[4], '-');
        assert_int_equal(out[10], 'T');
        assert_int_equal(out[23], 'Z');
        assert_non_null(strstr(out, " warn  test: hello 42\n"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_escapes),
        cmocka_unit_test(test_quote_cuts),
        cmocka_unit_test(test_journal_prefix),
        cmocka_unit_test(test_not_journal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
