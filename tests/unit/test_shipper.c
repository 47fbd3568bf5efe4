/*
 * test_shipper.c - batches, daily index names, document ids, and the file
 * and stdout sinks: what they write and when they acknowledge.
 */
#define _POSIX_C_SOURCE 200809L
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
#include <sys/stat.h>
#include <unistd.h>

#include "shipper.h"

struct recorder {
    struct lf_ack_target target;
    uint64_t acked[64];
    size_t nacked;
};

static void record_safe(struct lf_ack_target *t, uint64_t seq)
{
    struct recorder *r = (struct recorder *)t;
    r->acked[r->nacked++] = seq;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof(buf) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void add(struct lf_batch *b, const char *index, int64_t ts, const char *msg,
                struct recorder *r, uint64_t seq)
{
    struct lf_event ev;
    lf_event_init(&ev);
    lf_event_add_string(&ev, "message", msg, strlen(msg));
    struct lf_doc meta = {.index = index, .ts_ms = ts, .ack = r ? &r->target : NULL, .seq = seq};
    lf_doc_id(meta.id, "web01", "/var/log/syslog", seq);
    assert_int_equal(lf_batch_add_event(b, &ev, &meta), 0);
    lf_event_free(&ev);
}

static void test_index_names(void **state)
{
    (void)state;
    char name[64];
    /* 2026-11-21T23:59:59.999Z and one millisecond later */
    assert_int_not_equal(lf_index_name(name, sizeof(name), "syslog", 1795305599999LL, false), 0);
    assert_string_equal(name, "syslog-2026.11.21");
    lf_index_name(name, sizeof(name), "syslog", 1795305600000LL, false);
    assert_string_equal(name, "syslog-2026.11.22");
    lf_index_name(name, sizeof(name), "metrics", 0, false);
    assert_string_equal(name, "metrics-1970.01.01");
    assert_int_equal(lf_index_name(name, 8, "metrics", 0, false), 0); /* does not fit */
}

static void test_doc_ids(void **state)
{
    (void)state;
    char a[LF_DOC_ID_LEN + 1], b[LF_DOC_ID_LEN + 1];
    lf_doc_id(a, "web01", "/var/log/syslog", 1234);
    lf_doc_id(b, "web01", "/var/log/syslog", 1234);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 32);
    lf_doc_id(b, "web01", "/var/log/syslog", 1235);
    assert_string_not_equal(a, b);
    lf_doc_id(b, "web0", "1/var/log/syslog", 1234); /* same bytes, other split */
    assert_string_not_equal(a, b);
    lf_doc_id(b, "web02", "/var/log/syslog", 1234);
    assert_string_not_equal(a, b);

    /* In two steps, the same ids; every digit lowercase hex; all 10000
     * positions of one source distinct (a bijection per half). */
    struct lf_doc_id_seed seed;
    lf_doc_id_seed(&seed, "web01", "/var/log/syslog");
    lf_doc_id_at(b, &seed, 1234);
    assert_string_equal(a, b);
    static char seen[10000][LF_DOC_ID_LEN + 1];
    for (uint64_t pos = 0; pos < 10000; pos++) {
        lf_doc_id_at(seen[pos], &seed, pos * 4096 + 7);
        assert_int_equal(strspn(seen[pos], "0123456789abcdef"), LF_DOC_ID_LEN);
    }
    qsort(seen, 10000, sizeof(seen[0]), (int (*)(const void *, const void *))strcmp);
    for (size_t i = 1; i < 10000; i++)
        assert_string_not_equal(seen[i - 1], seen[i]);
    /* Pinned: the ids of a replay must not change between versions. */
    lf_doc_id(b, "web01", "file:0000000000000001", 0);
    assert_string_equal(b, "ae933bb03e8002af4e14c0723ec6105c");
}

static void test_batch_limits(void **state)
{
    (void)state;
    struct lf_batch *b = lf_batch_create(1 << 20, 2);
    add(b, "x", 0, "one", NULL, 0);
    add(b, "x", 0, "two", NULL, 1);
    struct lf_event ev;
    lf_event_init(&ev);
    lf_event_add_string(&ev, "message", "three", 5);
    struct lf_doc meta = {.index = "x"};
    assert_int_equal(lf_batch_add_event(b, &ev, &meta), LF_ELIMIT);
    assert_int_equal(b->ndocs, 2);
    assert_false(lf_batch_has_room(b, 1));
    lf_batch_clear(b);
    assert_true(lf_batch_has_room(b, 1));
    lf_batch_destroy(b);

    /* A byte cap: the document that does not fit leaves no trace. */
    b = lf_batch_create(100, 10);
    add(b, "x", 0, "0123456789", NULL, 0);
    size_t used = b->buf.len;
    lf_event_clear(&ev);
    lf_event_add_string(&ev, "message", "0123456789012345678901234567890", 31);
    assert_int_equal(lf_batch_add_event(b, &ev, &meta), LF_ELIMIT);
    assert_int_equal(b->buf.len, used);
    assert_int_equal(b->ndocs, 1);
    lf_event_free(&ev);
    lf_batch_destroy(b);
}

static void test_file_output_daily_bulk_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/lf_out_file_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[256], err[256];
    snprintf(sub, sizeof(sub), "%s/a/b", dir); /* created on the way */
    struct lf_output *o = lf_out_file_create(sub, LF_FSYNC_BATCH, false, err, sizeof(err));
    assert_non_null(o);
    struct recorder r = {.target = {.safe = record_safe}};
    struct lf_batch *b = lf_batch_create(1 << 20, 100);
    add(b, "syslog", 1795305599999LL, "late \"quoted\"\nline", &r, 7);
    add(b, "syslog", 1795305600000LL, "next day", &r, 8);
    add(b, "metrics", 1795305599000LL, "m", &r, 9);
    assert_int_equal(lf_output_submit(o, b), 0);
    assert_int_equal(r.nacked, 3);
    assert_int_equal(r.acked[0], 7);
    assert_int_equal(o->counters.acked, 3);

    char path[512];
    size_t len;
    snprintf(path, sizeof(path), "%s/syslog-2026.11.21.ndjson", sub);
    char *text = slurp(path, &len);
    assert_non_null(text);
    char id[LF_DOC_ID_LEN + 1], want[512];
    lf_doc_id(id, "web01", "/var/log/syslog", 7);
    snprintf(want, sizeof(want),
             "{\"create\":{\"_index\":\"syslog-2026.11.21\",\"_id\":\"%s\"}}\n"
             "{\"message\":\"late \\\"quoted\\\"\\nline\"}\n",
             id);
    assert_string_equal(text, want);
    snprintf(path, sizeof(path), "%s/syslog-2026.11.22.ndjson", sub);
    assert_non_null(slurp(path, &len));
    snprintf(path, sizeof(path), "%s/metrics-2026.11.21.ndjson", sub);
    assert_non_null(slurp(path, &len));

    /* A second batch appends. */
    lf_batch_clear(b);
    add(b, "metrics", 1795305599000LL, "m2", &r, 10);
    assert_int_equal(lf_output_submit(o, b), 0);
    text = slurp(path, &len);
    assert_int_equal(strlen(text), len);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, 4);
    assert_int_equal(lf_output_pending(o), 0);

    lf_batch_destroy(b);
    lf_output_destroy(o);
    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);
}

/* What a crash in the middle of a write leaves at the end of a file is cut
 * back to the last complete pair before anything is appended. */
static void test_file_output_repairs_torn_end(void **state)
{
    (void)state;
    static const char *const tails[] = {
        "{\"@timestamp\":\"x\"",                                           /* a torn document */
        "{\"create\":{\"_index\":\"syslog-2026.11.21\",\"_id\":\"a\"}}\n", /* orphan action */
        "{\"create\":{\"_in",                                              /* torn action */
    };
    const char pair[] = "{\"create\":{\"_index\":\"syslog-2026.11.21\",\"_id\":\"p\"}}\n"
                        "{\"@timestamp\":\"t\",\"message\":\"kept\"}\n";
    for (size_t k = 0; k < sizeof(tails) / sizeof(tails[0]); k++) {
        char dir[] = "/tmp/lf_out_repair_XXXXXX", path[512], err[256];
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/syslog-2026.11.21.ndjson", dir);
        FILE *f = fopen(path, "w");
        fputs(pair, f);
        fputs(tails[k], f);
        fclose(f);
        struct lf_output *o = lf_out_file_create(dir, LF_FSYNC_BATCH, false, err, sizeof(err));
        struct lf_batch *b = lf_batch_create(1 << 20, 10);
        add(b, "syslog", 1795305599999LL, "new", NULL, 1);
        assert_int_equal(lf_output_submit(o, b), 0);
        size_t len;
        char *text = slurp(path, &len);
        assert_memory_equal(text, pair, sizeof(pair) - 1); /* the old pair is intact */
        const char *rest = text + sizeof(pair) - 1;
        assert_true(strncmp(rest, "{\"create\":{", 11) == 0);
        const char *doc = strchr(rest, '\n') + 1;
        if (strcmp(doc, "{\"message\":\"new\"}\n") != 0)
            fail_msg("tail %zu: file is:\n%s", k, text);
        lf_batch_destroy(b);
        lf_output_destroy(o);
        snprintf(path, sizeof(path), "rm -rf '%s'", dir);
        assert_int_equal(system(path), 0);
    }
}

static void test_file_output_errors(void **state)
{
    (void)state;
    char err[256];
    assert_null(lf_out_file_create("/proc/nope/out", LF_FSYNC_BATCH, false, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot create directory /proc/nope"));
}

static void test_stdout_output(void **state)
{
    (void)state;
    char path[] = "/tmp/lf_out_stdout_XXXXXX";
    int fd = mkstemp(path);
    char err[256];
    struct lf_output *o = lf_out_stdout_create(fd, true, err, sizeof(err));
    struct recorder r = {.target = {.safe = record_safe}};
    struct lf_batch *b = lf_batch_create(1 << 20, 100);
    add(b, "syslog", 0, "hello", &r, 1);
    assert_int_equal(lf_output_submit(o, b), 0);
    assert_int_equal(r.nacked, 1);
    size_t len;
    char *text = slurp(path, &len);
    assert_non_null(strstr(text, "{\"create\":{\"_index\":\"syslog-1970.01.01\",\"_id\":\""));
    assert_non_null(strstr(text, "}}\n{\"message\":\"hello\"}\n"));
    lf_batch_destroy(b);
    lf_output_destroy(o);
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_names),
        cmocka_unit_test(test_doc_ids),
        cmocka_unit_test(test_batch_limits),
        cmocka_unit_test(test_file_output_daily_bulk_files),
        cmocka_unit_test(test_file_output_repairs_torn_end),
        cmocka_unit_test(test_file_output_errors),
        cmocka_unit_test(test_stdout_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
