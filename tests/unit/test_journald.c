/*
 * test_journald.c - what the journald input makes of an entry without a
 * journal (tests/integration/journald.sh reads real journal files): field
 * names recognised, the ECS fields and their fallbacks, MESSAGE through the
 * program's grammar or a configured one, times, ids made from the cursor;
 * and the registry's named cursors (saved, read back, not expired).
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

#include "journald_int.h"
#include "registry.h"

static struct lf_parser *make(const char *expr)
{
    static char *exprs[1];
    exprs[0] = (char *)expr;
    struct lf_grammar_conf gc = {.name = "g", .expressions = exprs, .nexpressions = 1};
    char err[1024];
    struct lf_parser *p = lf_parser_create(&gc, "UTC", err, sizeof(err));
    if (!p)
        fail_msg("lf_parser_create: %s", err);
    return p;
}

static void set(struct lf_journald_entry *e, int f, const char *v)
{
    e->v[f] = v;
    e->n[f] = strlen(v);
}

/* The event as JSON, parsed back. */
static json_t *render(struct lf_event *ev)
{
    struct lf_buf b;
    lf_buf_init(&b, 1u << 20);
    assert_int_equal(lf_event_write_json(ev, &b), 0);
    json_error_t jerr;
    json_t *j = json_loads(b.data, 0, &jerr);
    lf_buf_free(&b);
    assert_non_null(j);
    return j;
}

static json_t *at(json_t *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = json_object_get(j, k);
    return j;
}

static void expect_str(json_t *j, const char *path, const char *want)
{
    json_t *v = at(j, path);
    if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
        fail_msg("%s: want \"%s\", got %s", path, want,
                 json_is_string(v) ? json_string_value(v) : "(not a string)");
}

static void expect_int(json_t *j, const char *path, long long want)
{
    json_t *v = at(j, path);
    if (!json_is_integer(v) || json_integer_value(v) != want)
        fail_msg("%s: want %lld", path, want);
}

static void test_field_names(void **state)
{
    (void)state;
    size_t off = 0;
    assert_int_equal(lf_journald_field_of("MESSAGE=hi", 10, &off), LF_JF_MESSAGE);
    assert_int_equal(off, 8);
    assert_int_equal(lf_journald_field_of("_PID=1", 6, &off), LF_JF_PID);
    assert_int_equal(off, 5);
    assert_int_equal(lf_journald_field_of("_SOURCE_REALTIME_TIMESTAMP=1", 28, &off),
                     LF_JF_SOURCE_TS);
    /* A longer or shorter name that shares a prefix is another field. */
    assert_int_equal(lf_journald_field_of("MESSAGE_ID=abc", 14, &off), -1);
    assert_int_equal(lf_journald_field_of("_PI=1", 5, &off), -1);
    assert_int_equal(lf_journald_field_of("MESSAGE", 7, &off), -1);
    /* '=' inside the value: the first one ends the name. */
    assert_int_equal(lf_journald_field_of("MESSAGE=a=b", 11, &off), LF_JF_MESSAGE);
    assert_int_equal(off, 8);
}

/* An sshd entry with every field: ECS names, the sshd grammar's fields. */
static void test_sshd_entry(void **state)
{
    (void)state;
    struct lf_parser *p = make(LF_DEFAULT_GRAMMAR_EXPR);
    struct lf_event ev;
    lf_event_init(&ev);
    struct lf_journald_entry e = {.realtime_us = 1795255200500000ull};
    set(&e, LF_JF_MESSAGE, "Failed password for invalid user admin from 10.0.0.7 port 40000 ssh2");
    set(&e, LF_JF_PRIORITY, "6");
    set(&e, LF_JF_FACILITY, "10");
    set(&e, LF_JF_IDENTIFIER, "sshd");
    set(&e, LF_JF_COMM, "sshd-session");
    set(&e, LF_JF_PID, "4242");
    set(&e, LF_JF_SYSLOG_PID, "1");
    set(&e, LF_JF_UNIT, "ssh.service");
    set(&e, LF_JF_TRANSPORT, "syslog");
    set(&e, LF_JF_HOSTNAME, "web01");
    set(&e, LF_JF_SOURCE_TS, "1795255200123456");
    struct lf_input_counters c = {0};
    int64_t ts = 0;
    assert_int_equal(lf_journald_event(&e, p, &ev, &ts, &c), 0);
    assert_int_equal(ts, 1795255200123ll); /* the program's time */
    json_t *j = render(&ev);
    expect_str(j, "message", e.v[LF_JF_MESSAGE]);
    expect_str(j, "process.name", "sshd"); /* SYSLOG_IDENTIFIER before _COMM */
    expect_int(j, "process.pid", 4242);    /* _PID before SYSLOG_PID */
    expect_int(j, "log.syslog.severity.code", 6);
    expect_str(j, "log.syslog.severity.name", "info");
    expect_int(j, "log.syslog.facility.code", 10);
    expect_str(j, "log.syslog.facility.name", "authpriv");
    expect_int(j, "log.syslog.priority", 86);
    expect_str(j, "systemd.unit", "ssh.service");
    expect_str(j, "systemd.transport", "syslog");
    expect_str(j, "host.hostname", "web01");
    expect_str(j, "event.created", "2026-11-21T10:00:00.500Z");
    expect_str(j, "user.name", "admin");
    expect_str(j, "source.ip", "10.0.0.7");
    expect_int(j, "source.port", 40000);
    assert_null(json_object_get(j, "tags"));
    assert_int_equal(c.read, 1);
    assert_int_equal(c.parsed, 1);
    json_decref(j);
    lf_event_free(&ev);
    lf_parser_destroy(p);
}

/* A bare entry: fallbacks, no invented facility, no tag for a message no
 * program grammar knows. */
static void test_fallbacks(void **state)
{
    (void)state;
    struct lf_parser *p = make(LF_DEFAULT_GRAMMAR_EXPR);
    struct lf_event ev;
    lf_event_init(&ev);
    struct lf_journald_entry e = {.realtime_us = 1795255201000000ull};
    set(&e, LF_JF_MESSAGE, "disk full");
    set(&e, LF_JF_PRIORITY, "3");
    set(&e, LF_JF_COMM, "backup.sh");
    set(&e, LF_JF_SYSLOG_PID, "77");
    set(&e, LF_JF_SOURCE_TS, "not a number");
    struct lf_input_counters c = {0};
    int64_t ts = 0;
    assert_int_equal(lf_journald_event(&e, p, &ev, &ts, &c), 0);
    assert_int_equal(ts, 1795255201000ll); /* journald's time */
    json_t *j = render(&ev);
    expect_str(j, "process.name", "backup.sh");
    expect_int(j, "process.pid", 77);
    expect_str(j, "log.syslog.severity.name", "err");
    assert_null(at(j, "log.syslog.priority"));
    assert_null(at(j, "log.syslog.facility"));
    assert_null(at(j, "systemd"));
    assert_null(json_object_get(j, "tags"));
    json_decref(j);

    /* No MESSAGE, an out-of-range PRIORITY, a PID that is not a number. */
    struct lf_journald_entry bare = {.realtime_us = 1000};
    set(&bare, LF_JF_PRIORITY, "9");
    set(&bare, LF_JF_PID, "12a");
    assert_int_equal(lf_journald_event(&bare, p, &ev, &ts, &c), 0);
    j = render(&ev);
    expect_str(j, "message", "");
    assert_null(at(j, "log"));
    assert_null(at(j, "process"));
    json_decref(j);
    lf_event_free(&ev);
    lf_parser_destroy(p);
}

/* A configured grammar runs on MESSAGE: its failure is tagged, and the
 * journal's own fields win over what it captured under the same names. */
static void test_configured_grammar(void **state)
{
    (void)state;
    struct lf_parser *p = make("^pid=%{INT:process.pid:int} %{GREEDYDATA:note}$");
    struct lf_event ev;
    lf_event_init(&ev);
    struct lf_journald_entry e = {.realtime_us = 1000000};
    set(&e, LF_JF_MESSAGE, "pid=99 hello");
    set(&e, LF_JF_PID, "5");
    struct lf_input_counters c = {0};
    int64_t ts = 0;
    assert_int_equal(lf_journald_event(&e, p, &ev, &ts, &c), 0);
    json_t *j = render(&ev);
    expect_int(j, "process.pid", 5);
    expect_str(j, "note", "hello");
    json_decref(j);
    assert_int_equal(c.parsed, 1);

    set(&e, LF_JF_MESSAGE, "something else");
    e.cut = true;
    assert_int_equal(lf_journald_event(&e, p, &ev, &ts, &c), 0);
    j = render(&ev);
    json_t *tags = json_object_get(j, "tags");
    assert_true(json_is_array(tags));
    bool failure = false, truncated = false;
    for (size_t i = 0; i < json_array_size(tags); i++) {
        const char *t = json_string_value(json_array_get(tags, i));
        failure |= strcmp(t, "_grokparsefailure") == 0;
        truncated |= strcmp(t, "_truncated") == 0;
    }
    assert_true(failure && truncated);
    assert_int_equal(c.unparsed, 1);
    assert_int_equal(c.truncated, 1);
    json_decref(j);
    lf_event_free(&ev);
    lf_parser_destroy(p);
}

static void test_doc_source(void **state)
{
    (void)state;
    const char *c1 = "s=9dc4d33db1c6407e82663c06f07c88ae;i=1;b=0123456789abcdef0123456789abcdef;"
                     "m=3e8;t=6445941624000;x=24f659474a064a8b";
    const char *c2 = "s=9dc4d33db1c6407e82663c06f07c88ae;i=2;b=0123456789abcdef0123456789abcdef;"
                     "m=7d0;t=6445941718240;x=68798f68a38b68e4";
    char s1[LF_JOURNALD_SOURCE_LEN], s1b[LF_JOURNALD_SOURCE_LEN], s2[LF_JOURNALD_SOURCE_LEN];
    uint64_t p1, p1b, p2;
    lf_journald_doc_source(c1, s1, &p1);
    lf_journald_doc_source(c1, s1b, &p1b);
    lf_journald_doc_source(c2, s2, &p2);
    assert_string_equal(s1, s1b); /* the same entry, the same id */
    assert_true(p1 == p1b);
    assert_true(strcmp(s1, s2) != 0 || p1 != p2);
    assert_int_equal(strlen(s1), strlen("journald:") + 16);
    assert_memory_equal(s1, "journald:", 9);
    /* The same on every machine: ids must not depend on where they are made. */
    char id[LF_DOC_ID_LEN + 1], id2[LF_DOC_ID_LEN + 1];
    lf_doc_id(id, "agent01", s1, p1);
    lf_doc_id(id2, "agent01", s1b, p1b);
    assert_string_equal(id, id2);

    char name[64];
    lf_journald_cursor_name(NULL, name, sizeof(name));
    assert_string_equal(name, "journald:system");
    lf_journald_cursor_name("/var/log/remote", name, sizeof(name));
    assert_string_equal(name, "journald:/var/log/remote");
}

/* Named cursors: saved beside the files' entries, read back, kept across
 * expiry, odd bytes escaped; a load does not make the registry dirty. */
static void test_registry_cursors(void **state)
{
    (void)state;
    char dir[] = "/tmp/lf_journald_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[256];
    struct lf_registry *r = lf_registry_open(dir, err, sizeof(err));
    assert_non_null(r);
    assert_null(lf_registry_cursor(r, "journald:system"));
    assert_int_equal(lf_registry_set_cursor(r, "journald:system", "s=1;i=2"), 0);
    assert_int_equal(lf_registry_set_cursor(r, "journald:/x", "quote\" back\\slash"), 0);
    assert_int_equal(lf_registry_set_cursor(r, "journald:system", "s=1;i=3"), 0);
    assert_non_null(lf_registry_add(r, 1, 2, "/var/log/a", 0));
    assert_true(lf_registry_dirty(r));
    /* Far in the future: the file's entry (unowned) expires, cursors stay. */
    assert_int_equal(lf_registry_save(r, 1000 * LF_REGISTRY_STALE_MS), 0);
    assert_int_equal(lf_registry_count(r), 0);
    lf_registry_close(r);

    r = lf_registry_open(dir, err, sizeof(err));
    assert_non_null(r);
    assert_false(lf_registry_dirty(r));
    assert_string_equal(lf_registry_cursor(r, "journald:system"), "s=1;i=3");
    assert_string_equal(lf_registry_cursor(r, "journald:/x"), "quote\" back\\slash");
    /* Setting the same value again is no change. */
    assert_int_equal(lf_registry_set_cursor(r, "journald:system", "s=1;i=3"), 0);
    assert_false(lf_registry_dirty(r));
    lf_registry_close(r);

    /* A malformed cursor is set aside with the file; the rest is kept. */
    char path[128];
    snprintf(path, sizeof(path), "%s/registry.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"version\":1,\"entries\":[],\"cursors\":[{\"name\":\"a\",\"cursor\":\"c\"},"
          "{\"name\":\"b\",\"cursor\":7}]}\n",
          f);
    fclose(f);
    r = lf_registry_open(dir, err, sizeof(err));
    assert_non_null(r);
    assert_string_equal(lf_registry_cursor(r, "a"), "c");
    assert_null(lf_registry_cursor(r, "b"));
    assert_int_equal(lf_registry_save(r, 0), 0);
    lf_registry_close(r);
    char aside[160];
    snprintf(aside, sizeof(aside), "%s.corrupt", path);
    assert_int_equal(unlink(aside), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_names), cmocka_unit_test(test_sshd_entry),
        cmocka_unit_test(test_fallbacks),   cmocka_unit_test(test_configured_grammar),
        cmocka_unit_test(test_doc_source),  cmocka_unit_test(test_registry_cursors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
