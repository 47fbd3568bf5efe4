/*
 * test_batcher.c - the open batch in front of an output: closed by count,
 * kept when the output refuses it, offered again after a backoff, and at
 * once when the output has acknowledged documents since the refusal (a
 * healthy output must never idle while reading waits).
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lf.h"
#include "shipper.h"

/* An output with room for `room` documents; they stay pending until the
 * test acknowledges them. */
struct holding {
    struct lf_output base;
    size_t room;
    size_t pending;
    size_t submitted;
    int refusal; /* what a refusal answers */
};

static int holding_submit(struct lf_output *o, struct lf_batch *b)
{
    struct holding *h = (struct holding *)o;
    if (h->pending + b->ndocs > h->room)
        return h->refusal;
    h->pending += b->ndocs;
    h->submitted += b->ndocs;
    return 0;
}

static int holding_poll(struct lf_output *o, int timeout_ms)
{
    (void)o, (void)timeout_ms;
    return 0;
}

static size_t holding_pending(const struct lf_output *o)
{
    return ((const struct holding *)o)->pending;
}

static void holding_destroy(struct lf_output *o)
{
    (void)o;
}

static const struct lf_output_ops holding_ops = {.name = "holding",
                                                 .submit = holding_submit,
                                                 .poll = holding_poll,
                                                 .pending = holding_pending,
                                                 .destroy = holding_destroy};

static void add_docs(struct lf_batcher *b, size_t n)
{
    static const char json[] = "{\"message\":\"x\"}";
    for (size_t i = 0; i < n; i++) {
        struct lf_doc meta = {.index = "syslog", .ts_ms = 0};
        assert_int_equal(lf_batch_add_json(lf_batcher_batch(b), json, strlen(json), &meta), 0);
        int rc = lf_batcher_added(b);
        assert_true(rc == 0 || rc == LF_ELIMIT || rc == LF_EIO);
    }
}

static void test_full_output_takes_the_batch_once_it_acknowledges(void **state)
{
    (void)state;
    struct holding h = {.base.ops = &holding_ops, .room = 4, .refusal = LF_ELIMIT};
    struct lf_batcher *b = lf_batcher_create(&h.base, 4, 0, 60000);
    assert_non_null(b);

    add_docs(b, 4); /* closed by count: taken */
    assert_int_equal(h.submitted, 4);
    assert_false(lf_batcher_refused(b));

    add_docs(b, 4); /* no room: refused, kept */
    assert_true(lf_batcher_refused(b));
    assert_int_equal(lf_batcher_queued(b), 4);
    int64_t now = lf_now_mono_ms();
    /* Nothing acknowledged: it waits for its backoff. */
    assert_true(lf_batcher_due(b) > now);
    assert_true(lf_batcher_due(b) <= now + 1000);
    lf_batcher_tick(b, now);
    assert_true(lf_batcher_refused(b));

    /* One document acknowledged is not room for four, but it is progress:
     * due at once; the offer is refused again and waits again. */
    h.pending = 3;
    assert_true(lf_batcher_due(b) <= now);
    lf_batcher_tick(b, lf_now_mono_ms());
    assert_true(lf_batcher_refused(b));
    assert_true(lf_batcher_due(b) > lf_now_mono_ms());

    h.pending = 0; /* all acknowledged */
    assert_true(lf_batcher_due(b) <= lf_now_mono_ms());
    lf_batcher_tick(b, lf_now_mono_ms());
    assert_false(lf_batcher_refused(b));
    assert_int_equal(h.submitted, 8);
    assert_int_equal(lf_batcher_queued(b), 0);
    assert_int_equal(lf_batcher_due(b), -1);
    lf_batcher_destroy(b);
}

static void test_refusal_without_progress_backs_off_to_a_second(void **state)
{
    (void)state;
    /* A spool that is full answers an error while nothing is pending in
     * memory: only the backoff offers the batch again. */
    struct holding h = {.base.ops = &holding_ops, .room = 0, .refusal = LF_EIO};
    struct lf_batcher *b = lf_batcher_create(&h.base, 2, 0, 60000);
    assert_non_null(b);
    add_docs(b, 2);
    assert_true(lf_batcher_refused(b));
    int64_t last = 0;
    for (int i = 0; i < 8; i++) {
        int64_t now = lf_now_mono_ms();
        int64_t due = lf_batcher_due(b);
        assert_true(due > now);
        last = due - now;
        lf_batcher_tick(b, due); /* as if the loop woke up then */
        assert_true(lf_batcher_refused(b));
    }
    assert_true(last <= 1000);
    assert_true(last >= 500); /* 100, 200, 400, 800, then the 1 s cap */
    h.room = 2;
    lf_batcher_tick(b, lf_batcher_due(b));
    assert_false(lf_batcher_refused(b));
    assert_int_equal(h.submitted, 2);
    lf_batcher_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_output_takes_the_batch_once_it_acknowledges),
        cmocka_unit_test(test_refusal_without_progress_backs_off_to_a_second),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
