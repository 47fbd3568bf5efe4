/*
 * test_pipeline.c - what the pipeline adds to every event: @timestamp
 * formatted by hand (checked here against gmtime and strftime over days,
 * years, negative times and clamped extremes), the constant fields, and
 * ids; events reach the output in batches.
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

#include "input.h"

/* An output that keeps the JSON of every document it is given. */
struct capture {
    struct lf_output base;
    char docs[64][1024];
    char ids[64][LF_DOC_ID_LEN + 1];
    size_t n;
};

static int capture_submit(struct lf_output *o, struct lf_batch *b)
{
    struct capture *c = (struct capture *)o;
    for (size_t i = 0; i < b->ndocs && c->n < 64; i++, c->n++) {
        const struct lf_doc *d = &b->docs[i];
        assert_true(d->len < sizeof(c->docs[0]));
        memcpy(c->docs[c->n], b->buf.data + d->off, d->len);
        c->docs[c->n][d->len] = '\0';
        memcpy(c->ids[c->n], d->id, sizeof(d->id));
    }
    lf_output_ack_batch(o, b);
    return 0;
}

static int capture_poll(struct lf_output *o, int timeout_ms)
{
    (void)o, (void)timeout_ms;
    return 0;
}

static size_t capture_pending(const struct lf_output *o)
{
    (void)o;
    return 0;
}

static void capture_destroy(struct lf_output *o)
{
    (void)o;
}

static const struct lf_output_ops capture_ops = {.name = "capture",
                                                 .submit = capture_submit,
                                                 .poll = capture_poll,
                                                 .pending = capture_pending,
                                                 .destroy = capture_destroy};

/* The @timestamp the pipeline gives an event of time ms. */
static void emitted_timestamp(struct lf_pipeline *p, struct capture *c, int64_t ms, char *out,
                              size_t outlen)
{
    struct lf_event ev;
    lf_event_init(&ev);
    lf_event_add_string(&ev, "message", "x", 1);
    struct lf_emit meta = {.index = "syslog", .source = "s", .ts_ms = ms};
    c->n = 0;
    assert_int_equal(lf_pipeline_emit(p, &ev, &meta), 0);
    assert_int_equal(lf_pipeline_flush(p), 0);
    assert_int_equal(c->n, 1);
    json_error_t err;
    json_t *j = json_loads(c->docs[0], 0, &err);
    assert_non_null(j);
    snprintf(out, outlen, "%s", json_string_value(json_object_get(j, "@timestamp")));
    json_decref(j);
    lf_event_free(&ev);
}

static void reference_timestamp(int64_t ms, char *out, size_t outlen)
{
    int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    time_t t = (time_t)s;
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    char day[64];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", day, (int)(ms - s * 1000));
}

static void test_timestamps_match_gmtime(void **state)
{
    (void)state;
    struct capture c = {.base.ops = &capture_ops};
    struct lf_pipeline *p = lf_pipeline_create_for_test(&c.base, "web01");
    assert_non_null(p);
    /* Around midnight, New Year, a leap day, the epoch, and a walk with
     * steps that sometimes stay in the second or the day and sometimes not. */
    /* (0 means "now" to the pipeline: not a time to test.) */
    int64_t fixed[] = {1,
                       -1,
                       -1000,
                       -86400000,
                       951782399999, /* 2000-02-28T23:59:59.999 */
                       951782400000,
                       951868800000,  /* 2000-03-01 */
                       1798761599999, /* 2026-12-31T23:59:59.999 */
                       1798761600000,
                       1798761600000,
                       1798761600001,
                       1763683200000};
    char got[64], want[64];
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        emitted_timestamp(p, &c, fixed[i], got, sizeof(got));
        reference_timestamp(fixed[i], want, sizeof(want));
        assert_string_equal(got, want);
    }
    int64_t ms = 1700000000000;
    unsigned seed = 99;
    for (int i = 0; i < 3000; i++) {
        seed = seed * 1103515245u + 12345u;
        static const int64_t steps[] = {0,       1,        999,   1000,     59000,
                                        3600000, 86399999, -1000, -86400000};
        ms += steps[(seed >> 8) % 9] + (seed >> 20) % 7;
        if (ms == 0)
            ms = 1;
        emitted_timestamp(p, &c, ms, got, sizeof(got));
        reference_timestamp(ms, want, sizeof(want));
        assert_string_equal(got, want);
    }
    /* Outside RFC 3339's four-digit years: clamped, never garbage. */
    emitted_timestamp(p, &c, INT64_MAX / 2, got, sizeof(got));
    assert_string_equal(got, "9999-12-31T23:59:59.999Z");
    emitted_timestamp(p, &c, -INT64_MAX / 2, got, sizeof(got));
    assert_string_equal(got, "0000-01-01T00:00:00.000Z");
    lf_pipeline_destroy(p);
}

static void test_common_fields_and_ids(void **state)
{
    (void)state;
    struct capture c = {.base.ops = &capture_ops};
    struct lf_pipeline *p = lf_pipeline_create_for_test(&c.base, "web01");
    struct lf_event ev;
    lf_event_init(&ev);
    lf_event_cache_layouts(&ev);
    struct lf_doc_id_seed seed;
    lf_doc_id_seed(&seed, "web01", "file:1");
    for (int i = 0; i < 3; i++) {
        lf_event_clear(&ev);
        lf_event_add_string(&ev, "message", "hello", 5);
        /* The second event names its own dataset: it is kept. */
        if (i == 1)
            lf_event_add_string(&ev, "event.dataset", "own", 3);
        struct lf_emit meta = {.index = "syslog",
                               .dataset = "system.syslog",
                               .source = "file:1",
                               .id_seed = i == 2 ? &seed : NULL,
                               .position = 100,
                               .ts_ms = 1763683200000};
        assert_int_equal(lf_pipeline_emit(p, &ev, &meta), 0);
    }
    assert_int_equal(lf_pipeline_flush(p), 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.docs[0], "{\"@timestamp\":\"2025-11-21T00:00:00.000Z\","
                                   "\"agent\":{\"type\":\"logferry\",\"version\":\"" LF_VERSION
                                   "\"},\"event\":{\"dataset\":\"system.syslog\"},"
                                   "\"host\":{\"name\":\"web01\"},\"message\":\"hello\"}");
    assert_non_null(strstr(c.docs[1], "\"dataset\":\"own\""));
    assert_null(strstr(c.docs[1], "system.syslog"));
    /* With or without a seed, the same id for the same (host, source, position). */
    assert_string_equal(c.ids[0], c.ids[2]);
    lf_event_free(&ev);
    lf_pipeline_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamps_match_gmtime),
        cmocka_unit_test(test_common_fields_and_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
