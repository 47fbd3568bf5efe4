/*
 * test_ackq.c - the acknowledgement queue: positions advance over the
 * acknowledged prefix only, whatever order acknowledgements come in.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_and_out_of_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
