/*
 * test_event.c - events: dotted paths nest, same paths make lists, output is
 * sorted and valid JSON, conflicts are dropped and tagged, never corrupt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "lf.h"

static struct lf_event ev;
static struct lf_buf out;

static int setup(void **state)
{
    (void)state;
    lf_event_init(&ev);
    lf_buf_init(&out, 1u << 20);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lf_event_free(&ev);
    lf_buf_free(&out);
    return 0;
}

static const char *render(void)
{
    lf_buf_reset(&out);
    assert_int_equal(lf_event_write_json(&ev, &out), 0);
    return out.data;
}

static void add_int(const char *path, int64_t v)
{
    struct lf_field f = {.path = path, .path_len = (uint32_t)strlen(path), .type = LF_VAL_INT};
    f.v.i = v;
    assert_int_equal(lf_event_add(&ev, &f), 0);
}

static void test_empty_event(void **state)
{
    (void)state;
    assert_string_equal(render(), "{}");
}

static void test_nesting_and_order(void **state)
{
    (void)state;
    lf_event_add_string(&ev, "message", "hi", 2);
    lf_event_add_string(&ev, "host.name", "web01", 5);
    add_int("process.pid", 42);
    lf_event_add_string(&ev, "process.name", "sshd", 4);
    lf_event_add_string(&ev, "@timestamp", "t", 1);
    lf_event_add_string(&ev, "log.syslog.facility.name", "auth", 4);
    add_int("log.syslog.priority", 38);
    lf_event_add_string(&ev, "host-x", "y", 1);
    assert_string_equal(render(), "{\"@timestamp\":\"t\",\"host\":{\"name\":\"web01\"},"
                                  "\"host-x\":\"y\",\"log\":{\"syslog\":{\"facility\":{\"name\":"
                                  "\"auth\"},\"priority\":38}},\"message\":\"hi\","
                                  "\"process\":{\"name\":\"sshd\",\"pid\":42}}");
}

static void test_same_path_becomes_list(void **state)
{
    (void)state;
    lf_event_add_string(&ev, "a", "1", 1);
    lf_event_add_string(&ev, "b", "x", 1);
    lf_event_add_string(&ev, "a", "2", 1);
    lf_event_add_tag(&ev, "_grokparsefailure");
    assert_string_equal(render(),
                        "{\"a\":[\"1\",\"2\"],\"b\":\"x\",\"tags\":[\"_grokparsefailure\"]}");
}

static void test_value_types(void **state)
{
    (void)state;
    struct lf_field f = {
        .path = "n", .path_len = 1, .type = LF_VAL_NUMBER, .str = "0.14", .len = 4};
    lf_event_add(&ev, &f);
    f = (struct lf_field){.path = "f", .path_len = 1, .type = LF_VAL_FLOAT};
    f.v.f = 3;
    lf_event_add(&ev, &f);
    f = (struct lf_field){.path = "b", .path_len = 1, .type = LF_VAL_BOOL};
    f.v.i = 1;
    lf_event_add(&ev, &f);
    add_int("i", INT64_MIN);
    assert_string_equal(render(), "{\"b\":true,\"f\":3.0,\"i\":-9223372036854775808,\"n\":0.14}");
}

static void test_conflict_is_dropped_and_tagged(void **state)
{
    (void)state;
    lf_event_add_string(&ev, "host", "web01", 5);
    lf_event_add_string(&ev, "host.name", "web02", 5);
    assert_string_equal(render(), "{\"host\":{\"name\":\"web02\"},\"tags\":[\"_fieldconflict\"]}");
    assert_int_equal(ev.conflicts, 1);
}

static void test_remove_and_get(void **state)
{
    (void)state;
    lf_event_add_string(&ev, "a", "1", 1);
    lf_event_add_string(&ev, "a.b", "2", 1);
    assert_non_null(lf_event_get(&ev, "a.b", 3));
    assert_null(lf_event_get(&ev, "a.c", 3));
    assert_int_equal(lf_event_remove(&ev, "a", 1), 1);
    assert_string_equal(render(), "{\"a\":{\"b\":\"2\"}}");
}

static void test_field_limit(void **state)
{
    (void)state;
    int rc = 0;
    size_t n = 0;
    while ((rc = lf_event_add_string(&ev, "x", "y", 1)) == 0)
        n++;
    assert_int_equal(rc, LF_ELIMIT);
    assert_int_equal(n, LF_EVENT_MAX_FIELDS);
    struct lf_field f = {.path = "", .path_len = 0};
    assert_int_equal(lf_event_add(&ev, &f), LF_EINVAL);
}

/* Random events against a plain reference: the JSON must list the values of
 * each path in the order they were added, paths in lf_path_compare order. */
static void test_order_matches_reference(void **state)
{
    (void)state;
    static const char *paths[] = {"a",         "a.b",        "a.c",   "b",   "a-b",
                                  "host.name", "@timestamp", "x.y.z", "x.y", "message"};
    static const char *vals[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    unsigned seed = 12345;
    for (int round = 0; round < 500; round++) {
        lf_event_clear(&ev);
        size_t n = 1 + (seed = seed * 1103515245u + 12345u) % 12;
        size_t picked[16];
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            /* leaf-only paths so that no conflict drops anything */
            static const size_t leaves[] = {2, 3, 4, 5, 6, 7, 9};
            picked[i] = leaves[(seed >> 8) % 7];
            lf_event_add_string(&ev, paths[picked[i]], vals[i % 10], 1);
        }
        /* Reference: stable selection by path, then values in insertion order. */
        char want[512] = "";
        bool used[16] = {false};
        for (size_t k = 0; k < n; k++) {
            size_t best = SIZE_MAX;
            for (size_t i = 0; i < n; i++) {
                if (used[i])
                    continue;
                const char *p = paths[picked[i]];
                if (best == SIZE_MAX || lf_path_compare(p, strlen(p), paths[picked[best]],
                                                        strlen(paths[picked[best]])) < 0)
                    best = i;
            }
            used[best] = true;
            strcat(want, vals[best % 10]);
        }
        const char *got = render();
        char digits[512];
        size_t d = 0;
        for (const char *c = got; *c; c++)
            if (c[0] == '"' && c[1] >= '0' && c[1] <= '9' && c[2] == '"')
                digits[d++] = c[1];
        digits[d] = '\0';
        assert_string_equal(digits, want);
    }
}

/* A layout must write exactly what the slow path writes, whatever the set
 * of fields: repeated sets (hits), lists, conflicts (never cached),
 * constant values that differ by pointer, all value types. */
static void test_layouts_write_what_the_slow_path_writes(void **state)
{
    (void)state;
    static const char *paths[] = {"a", "a.b", "a.c", "b", "a-b", "host.name", "x.y.z", "m"};
    static const char host1[] = "web01", host2[] = "web02";
    struct lf_event cached, plain;
    struct lf_buf got, want;
    lf_event_init(&cached);
    lf_event_init(&plain);
    lf_event_cache_layouts(&cached);
    lf_buf_init(&got, 1u << 16);
    lf_buf_init(&want, 1u << 16);
    unsigned seed = 777;
    for (int round = 0; round < 3000; round++) {
        lf_event_clear(&cached);
        lf_event_clear(&plain);
        /* Few shapes, so that most rounds reuse a layout. */
        unsigned shape = (seed = seed * 1103515245u + 12345u) % 12;
        unsigned s2 = shape * 2654435761u;
        size_t n = 1 + s2 % 7;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            struct lf_field f = {0};
            f.path = paths[(s2 >> (3 * i)) % 8];
            f.path_len = (uint32_t)strlen(f.path);
            switch ((s2 >> (2 * i + 5)) % 4) {
            case 0:
                f.type = LF_VAL_INT;
                f.v.i = (int64_t)(seed % 1000) - 500;
                break;
            case 1:
                f.type = LF_VAL_STRING;
                f.str = (seed >> 4) & 1 ? "v\"1" : "plain";
                f.len = strlen(f.str);
                break;
            case 2:
                f.type = LF_VAL_STRING;
                f.flags = LF_FIELD_CONST;
                f.str = (seed >> 5) & 1 ? host1 : host2;
                f.len = 5;
                break;
            default:
                f.type = LF_VAL_FLOAT;
                f.v.f = (double)(seed % 977) / 8;
                break;
            }
            if ((s2 >> i) % 11 == 3)
                f.flags |= LF_FIELD_LIST;
            assert_int_equal(lf_event_add(&cached, &f), 0);
            assert_int_equal(lf_event_add(&plain, &f), 0);
        }
        lf_buf_reset(&got);
        lf_buf_reset(&want);
        assert_int_equal(lf_event_write_json(&cached, &got), 0);
        assert_int_equal(lf_event_write_json(&plain, &want), 0);
        assert_string_equal(got.data, want.data);
        assert_int_equal(cached.conflicts, plain.conflicts);
    }
    lf_event_free(&cached);
    lf_event_free(&plain);
    lf_buf_free(&got);
    lf_buf_free(&want);
}

static void test_path_compare(void **state)
{
    (void)state;
    assert_true(lf_path_compare("a", 1, "a.b", 3) < 0);
    assert_true(lf_path_compare("a.b", 3, "a-b", 3) < 0);
    assert_true(lf_path_compare("a.z", 3, "ab", 2) < 0);
    assert_int_equal(lf_path_compare("ab", 2, "ab", 2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nesting_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_path_becomes_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_is_dropped_and_tagged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_field_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_matches_reference, setup, teardown),
        cmocka_unit_test(test_layouts_write_what_the_slow_path_writes),
        cmocka_unit_test(test_path_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
