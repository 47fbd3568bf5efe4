/*
 * test_dead_letter.c - the dead-letter writer: one whole JSON line per
 * refused document, written only on flush, nothing after a discard, and a
 * log-only writer when no file is configured.
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
#include <unistd.h>

#include "dead_letter.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The file's folder is made when missing (a fresh data_dir). */
static void test_makes_folder(void **state)
{
    (void)state;
    char dir[] = "/tmp/lf_dead_dir.XXXXXX", path[256], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/a/b/dead.ndjson", dir);
    struct lf_dead_letters *dl = lf_dead_letters_open(path, "test", "Kafka", err, sizeof(err));
    assert_non_null(dl);
    lf_dead_letters_close(dl);
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);
    snprintf(path, sizeof(path), "%s/a/b", dir);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/a", dir);
    rmdir(path);
    rmdir(dir);
}

static void test_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/lf_dead_letter.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[256];
    struct lf_dead_letters *dl =
        lf_dead_letters_open(path, "test", "Elasticsearch", err, sizeof(err));
    assert_non_null(dl);
    const char doc[] = "{\"message\":\"a\\nb\"}";
    struct lf_dead_letter d = {.index = "syslog-2026.12.06",
                               .id = "0123456789abcdef0123456789abcdef",
                               .status = 400,
                               .type = "document_parsing_exception",
                               .reason = "failed to parse \"x\"\nsecond line",
                               .json = doc,
                               .len = strlen(doc)};
    for (int i = 0; i < 12; i++) /* more than are logged in full */
        assert_int_equal(lf_dead_letters_add(dl, &d), 0);
    assert_true(lf_dead_letters_pending(dl));
    assert_string_equal(slurp(path), ""); /* nothing before the flush */
    assert_int_equal(lf_dead_letters_flush(dl), 0);
    assert_false(lf_dead_letters_pending(dl));
    d.topic = "logferry";
    d.status = 0;
    assert_int_equal(lf_dead_letters_add(dl, &d), 0);
    lf_dead_letters_discard(dl);
    assert_int_equal(lf_dead_letters_add(dl, &d), 0);
    lf_dead_letters_close(dl); /* flushes */

    char *text = slurp(path), *save = NULL;
    int lines = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "_id")), d.id);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(j, "document"), "message")), "a\nb");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(j, "error"), "reason")), d.reason);
        if (++lines <= 12) {
            assert_int_equal(json_integer_value(json_object_get(j, "status")), 400);
            assert_null(json_object_get(j, "topic"));
        } else {
            assert_null(json_object_get(j, "status"));
            assert_string_equal(json_string_value(json_object_get(j, "topic")), "logferry");
        }
        json_decref(j);
    }
    assert_int_equal(lines, 13); /* 12, then one after the discard */
    unlink(path);
}

static void test_log_only(void **state)
{
    (void)state;
    char err[256];
    struct lf_dead_letters *dl = lf_dead_letters_open(NULL, "test", "Kafka", err, sizeof(err));
    assert_non_null(dl);
    struct lf_dead_letter d = {.index = "x", .id = "1", .json = "{}", .len = 2};
    assert_int_equal(lf_dead_letters_add(dl, &d), 0);
    assert_false(lf_dead_letters_pending(dl));
    assert_int_equal(lf_dead_letters_flush(dl), 0);
    lf_dead_letters_close(dl);
}

/* A folder cannot be made under a file, even by root. */
static void test_unwritable(void **state)
{
    (void)state;
    char err[256];
    assert_null(
        lf_dead_letters_open("/dev/null/dead/dead.ndjson", "test", "Kafka", err, sizeof(err)));
    assert_non_null(strstr(err, "/dev/null/dead/dead.ndjson"));
}

int main(void)
{
    lf_log_set_level(LF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_makes_folder),
        cmocka_unit_test(test_log_only),
        cmocka_unit_test(test_unwritable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
