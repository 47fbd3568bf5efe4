/*
 * test_out_es_big.c - the Elasticsearch output while it spools, given what
 * the spool can never take: a document larger than the whole spool (or than
 * a record may be), and a batch larger than the whole spool. Such documents
 * stay in memory (their inputs wait for Elasticsearch); the rest is spooled
 * and acknowledged; submit never answers an error that the pipeline would
 * retry forever.
 *
 * No server is needed: the output is pointed at a closed port, so it
 * spools once its first attempt has failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shipper.h"
#include "spool.h"

#define SPOOL_MAX (1u << 20)

struct recorder {
    struct lf_ack_target target;
    uint64_t safe[4096];
    size_t nsafe, nfailed;
};

static void on_safe(struct lf_ack_target *t, uint64_t seq)
{
    struct recorder *r = (struct recorder *)t;
    if (r->nsafe < sizeof(r->safe) / sizeof(r->safe[0]))
        r->safe[r->nsafe] = seq;
    r->nsafe++;
}

static void on_failed(struct lf_ack_target *t, uint64_t seq)
{
    (void)seq;
    ((struct recorder *)t)->nfailed++;
}

struct fixture {
    char dir[64];
    struct lf_output *out;
    struct lf_batch *batch;
    struct recorder rec;
    char *big; /* a message larger than the whole spool */
};

static void add(struct fixture *f, const char *msg, size_t len, uint64_t seq)
{
    struct lf_event ev;
    lf_event_init(&ev);
    assert_int_equal(lf_event_add_string(&ev, "message", msg, len), 0);
    struct lf_doc meta = {
        .index = "big", .ts_ms = 1795305600000LL, .ack = &f->rec.target, .seq = seq};
    lf_doc_id(meta.id, "web01", "/var/log/big.log", seq);
    assert_int_equal(lf_batch_add_event(f->batch, &ev, &meta), 0);
    lf_event_free(&ev);
}

static bool was_safe(const struct recorder *r, uint64_t seq)
{
    for (size_t i = 0; i < r->nsafe && i < sizeof(r->safe) / sizeof(r->safe[0]); i++)
        if (r->safe[i] == seq)
            return true;
    return false;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/lf_out_es_big.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char err[512];
    /* One record from "the last run": the output starts out spooling. */
    struct lf_spool_options so = {.dir = f->dir, .max_bytes = SPOOL_MAX};
    struct lf_spool *s = lf_spool_open(&so, err, sizeof(err));
    assert_non_null(s);
    uint64_t id;
    assert_int_equal(lf_spool_append(s, "x", 1, &id), 0);
    assert_int_equal(lf_spool_commit(s), 0);
    lf_spool_close(s);

    static const char *const hosts[] = {"http://127.0.0.1:9"};
    struct lf_es_options o = {.hosts = hosts,
                              .nhosts = 1,
                              .spool = {.dir = f->dir, .max_bytes = SPOOL_MAX},
                              .http = {.verify = true}};
    f->out = lf_out_es_create(&o, NULL, err, sizeof(err));
    assert_non_null(f->out);
    f->batch = lf_batch_create(16u << 20, 4096);
    assert_non_null(f->batch);
    f->rec.target = (struct lf_ack_target){.safe = on_safe, .failed = on_failed};
    f->big = malloc(SPOOL_MAX + SPOOL_MAX / 2);
    assert_non_null(f->big);
    memset(f->big, 'x', SPOOL_MAX + SPOOL_MAX / 2);
    /* Nothing listens on port 9: once the output has found that out, its
     * documents go to the spool. A probe document submitted first waits in
     * memory until then, and is spooled (acknowledged) as the outage starts. */
    add(f, "probe", 5, 0);
    assert_int_equal(lf_output_submit(f->out, f->batch), 0);
    lf_batch_clear(f->batch);
    for (int i = 0; i < 600 && f->out->counters.spooled == 0; i++)
        lf_output_poll(f->out, 100);
    assert_int_equal(f->out->counters.spooled, 1);
    assert_true(was_safe(&f->rec, 0));
    f->out->counters = (struct lf_output_counters){0};
    f->rec.nsafe = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    lf_output_destroy(f->out);
    lf_batch_destroy(f->batch);
    free(f->big);
    DIR *d = opendir(f->dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[512];
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* A document the spool refuses for good goes to memory; its neighbours to
 * the spool, acknowledged at once. */
static void test_document_larger_than_the_spool(void **state)
{
    struct fixture *f = *state;
    add(f, "small one", 9, 1);
    add(f, "small two", 9, 2);
    add(f, f->big, SPOOL_MAX + SPOOL_MAX / 2, 3);
    add(f, "small four", 10, 4);
    assert_int_equal(lf_output_submit(f->out, f->batch), 0);
    lf_batch_clear(f->batch);
    assert_int_equal(f->rec.nsafe, 3);
    assert_true(was_safe(&f->rec, 1) && was_safe(&f->rec, 2) && was_safe(&f->rec, 4));
    assert_false(was_safe(&f->rec, 3));
    assert_int_equal(f->rec.nfailed, 0);
    assert_int_equal(f->out->counters.spooled, 3);
    assert_int_equal(f->out->counters.submitted, 4);
    /* The big one waits in memory for Elasticsearch: the input waits too. */
    assert_int_equal(lf_output_pending(f->out), 1);

    /* The next small batch still goes to the spool. */
    add(f, "small five", 10, 5);
    assert_int_equal(lf_output_submit(f->out, f->batch), 0);
    lf_batch_clear(f->batch);
    assert_true(was_safe(&f->rec, 5));
    assert_int_equal(f->out->counters.spooled, 4);
    assert_int_equal(lf_output_pending(f->out), 1);
}

/* A batch larger than the whole spool could never be spooled at once (the
 * spool answered "full" for ever): it goes to memory whole. */
static void test_batch_larger_than_the_spool(void **state)
{
    struct fixture *f = *state;
    char line[1024];
    memset(line, 'y', sizeof(line));
    size_t n = 0;
    for (uint64_t seq = 100; f->batch->buf.len <= SPOOL_MAX + 4096; seq++, n++)
        add(f, line, sizeof(line), seq);
    assert_int_equal(lf_output_submit(f->out, f->batch), 0);
    lf_batch_clear(f->batch);
    assert_int_equal(f->rec.nsafe, 0);
    assert_int_equal(f->out->counters.spooled, 0);
    assert_int_equal(lf_output_pending(f->out), n);

    /* A small batch after it: spooled. */
    add(f, "small", 5, 1);
    assert_int_equal(lf_output_submit(f->out, f->batch), 0);
    lf_batch_clear(f->batch);
    assert_int_equal(f->rec.nsafe, 1);
    assert_int_equal(f->out->counters.spooled, 1);
}

int main(void)
{
    lf_log_set_level(LF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_document_larger_than_the_spool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_larger_than_the_spool, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
