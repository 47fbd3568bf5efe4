/*
 * test_ackq.c - the acknowledgement queue: positions advance over the
 * acknowledged prefix only, whatever order acknowledgements come in; the
 * ring holds memory only while entries are pending, grows up to its cap and
 * shrinks as it drains.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lf.h"

static void test_in_order_and_out_of_order(void **state)
{
    (void)state;
    struct lf_ackq q;
    uint64_t s[5];
    assert_int_equal(lf_ackq_init(&q, 4, 100), 0);
    assert_int_equal(lf_ackq_committed(&q), 100);
    assert_int_equal(lf_ackq_push(&q, 110, &s[0]), 0);
    assert_int_equal(lf_ackq_push(&q, 120, &s[1]), 0);
    assert_int_equal(lf_ackq_push(&q, 130, &s[2]), 0);
    assert_int_equal(lf_ackq_push(&q, 140, &s[3]), 0);
    assert_int_equal(lf_ackq_push(&q, 150, &s[4]), LF_ELIMIT); /* full: back-pressure */
    lf_ackq_ack(&q, s[1]);
    lf_ackq_ack(&q, s[2]);
    assert_int_equal(lf_ackq_committed(&q), 100); /* s[0] still out */
    lf_ackq_ack(&q, s[0]);
    assert_int_equal(lf_ackq_committed(&q), 130);
    assert_int_equal(lf_ackq_pending(&q), 1);
    lf_ackq_ack(&q, s[0]);                             /* repeated: ignored */
    lf_ackq_ack(&q, 999);                              /* unknown: ignored */
    assert_int_equal(lf_ackq_push(&q, 150, &s[4]), 0); /* wraps around */
    lf_ackq_ack(&q, s[4]);
    assert_int_equal(lf_ackq_committed(&q), 130);
    lf_ackq_ack(&q, s[3]);
    assert_int_equal(lf_ackq_committed(&q), 150);
    assert_int_equal(lf_ackq_pending(&q), 0);
    /* A push taken back leaves no trace; its sequence number is reused. */
    assert_int_equal(lf_ackq_push(&q, 160, &s[0]), 0);
    lf_ackq_unpush(&q);
    assert_int_equal(lf_ackq_pending(&q), 0);
    assert_int_equal(lf_ackq_push(&q, 170, &s[1]), 0);
    assert_int_equal(s[1], s[0]);
    lf_ackq_ack(&q, s[1]);
    assert_int_equal(lf_ackq_committed(&q), 170);
    lf_ackq_unpush(&q); /* empty: nothing happens */
    assert_int_equal(lf_ackq_committed(&q), 170);
    lf_ackq_free(&q);
}

/* Nothing allocated until the first push; the ring doubles as entries come
 * and every position comes out in order. */
static void test_grows_from_empty(void **state)
{
    (void)state;
    struct lf_ackq q;
    assert_int_equal(lf_ackq_init(&q, 1u << 22, 7), 0);
    assert_int_equal(lf_ackq_bytes(&q), 0);
    uint64_t seq;
    for (uint64_t i = 0; i < 100000; i++) {
        assert_int_equal(lf_ackq_push(&q, 8 + i, &seq), 0);
        assert_int_equal(seq, i);
    }
    assert_int_equal(lf_ackq_pending(&q), 100000);
    assert_true(q.size >= 100000 && q.size <= 2 * 131072);
    for (uint64_t i = 0; i < 100000; i++) {
        lf_ackq_ack(&q, i);
        assert_int_equal(lf_ackq_committed(&q), 8 + i);
    }
    assert_int_equal(lf_ackq_pending(&q), 0);
    /* Drained: back to the ring kept for the next burst. */
    assert_int_equal(q.size, LF_ACKQ_KEEP_SLOTS);
    lf_ackq_trim(&q);
    assert_int_equal(lf_ackq_bytes(&q), 0);
    /* Still usable after a trim, sequence numbers going on. */
    assert_int_equal(lf_ackq_push(&q, 200000, &seq), 0);
    assert_int_equal(seq, 100000);
    lf_ackq_ack(&q, seq);
    assert_int_equal(lf_ackq_committed(&q), 200000);
    lf_ackq_free(&q);
}

/* Growing while the live entries wrap around the end of the ring keeps
 * their order, and acknowledgements out of order still stop at the first
 * gap. */
static void test_wrap_while_growing(void **state)
{
    (void)state;
    struct lf_ackq q;
    lf_ackq_init(&q, 1000000, 0);
    uint64_t next_pos = 1, seq, acked = 0;
    /* Fill the first ring, take half out, fill again: head is mid-ring and
     * the entries wrap when it has to grow. */
    for (int i = 0; i < LF_ACKQ_MIN_SLOTS; i++)
        assert_int_equal(lf_ackq_push(&q, next_pos++, &seq), 0);
    for (int i = 0; i < LF_ACKQ_MIN_SLOTS / 2; i++)
        lf_ackq_ack(&q, acked++);
    assert_int_equal(q.head, LF_ACKQ_MIN_SLOTS / 2);
    size_t size = q.size;
    for (int i = 0; i < LF_ACKQ_MIN_SLOTS; i++)
        assert_int_equal(lf_ackq_push(&q, next_pos++, &seq), 0);
    assert_true(q.size > size);
    /* Acknowledge every other one first: nothing moves past the gaps. */
    uint64_t last = seq;
    for (uint64_t s = acked + 1; s <= last; s += 2)
        lf_ackq_ack(&q, s);
    assert_int_equal(lf_ackq_committed(&q), acked);
    for (uint64_t s = acked; s <= last; s += 2)
        lf_ackq_ack(&q, s);
    assert_int_equal(lf_ackq_pending(&q), 0);
    assert_int_equal(lf_ackq_committed(&q), next_pos - 1);
    lf_ackq_free(&q);
}

/* Memory goes back as a large burst drains, a step at a time, not below
 * the kept size; pending entries survive every resize. */
static void test_shrinks_as_it_drains(void **state)
{
    (void)state;
    struct lf_ackq q;
    lf_ackq_init(&q, 1u << 20, 0);
    uint64_t seq;
    const uint64_t n = 64 * LF_ACKQ_KEEP_SLOTS;
    for (uint64_t i = 0; i < n; i++)
        lf_ackq_push(&q, i + 1, &seq);
    size_t peak = q.size;
    assert_true(peak >= n);
    /* Leave one entry in the middle unacknowledged for a while. */
    uint64_t hole = n - 10;
    for (uint64_t i = 0; i < n; i++) {
        if (i != hole)
            lf_ackq_ack(&q, i);
    }
    assert_int_equal(lf_ackq_pending(&q), 10);
    assert_int_equal(lf_ackq_committed(&q), hole);
    assert_true(q.size < peak);
    lf_ackq_ack(&q, hole);
    assert_int_equal(lf_ackq_committed(&q), n);
    assert_int_equal(q.size, LF_ACKQ_KEEP_SLOTS);
    lf_ackq_free(&q);
}

/* The cap is the limit whatever the ring's size: a cap that is not a power
 * of two, reached after growing, with wrap-around. */
static void test_cap(void **state)
{
    (void)state;
    struct lf_ackq q;
    lf_ackq_init(&q, 1000, 0);
    uint64_t seq, acked = 0;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(lf_ackq_push(&q, (uint64_t)i + 1, &seq), 0);
    assert_int_equal(q.size, 1000);
    assert_int_equal(lf_ackq_push(&q, 5000, &seq), LF_ELIMIT);
    assert_int_equal(lf_ackq_pending(&q), 1000);
    for (int i = 0; i < 300; i++)
        lf_ackq_ack(&q, acked++);
    for (int i = 0; i < 300; i++)
        assert_int_equal(lf_ackq_push(&q, 1001 + (uint64_t)i, &seq), 0);
    assert_int_equal(lf_ackq_push(&q, 5000, &seq), LF_ELIMIT);
    for (int i = 0; i < 1000; i++)
        lf_ackq_ack(&q, acked++);
    assert_int_equal(lf_ackq_committed(&q), 1300);
    lf_ackq_trim(&q);
    lf_ackq_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_and_out_of_order),
        cmocka_unit_test(test_grows_from_empty),
        cmocka_unit_test(test_wrap_while_growing),
        cmocka_unit_test(test_shrinks_as_it_drains),
        cmocka_unit_test(test_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
