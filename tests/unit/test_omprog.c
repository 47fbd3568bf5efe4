/*
 * test_omprog.c - the omprog input driven through pipes, as rsyslog drives
 * `logferry agent --omprog`, with the real parser and pipeline and an output
 * defined here that acknowledges only when the test says so.
 *
 * What rsyslog relies on: "OK" once at startup; one answer per line, in
 * order, and only once the event is safe; an error line after the timeout
 * (and then never a second answer for that line, and the line forgotten, so
 * that one stuck event never stops the others); BEGIN TRANSACTION answered
 * OK, messages inside answered DEFER_COMMIT at once (journaled), COMMIT
 * TRANSACTION answered OK once all are safe, an error after the timeout or
 * when a message could not be kept; what a killed instance journaled
 * shipped by the next one; without a journal, DEFER_COMMIT only once safe;
 * keep-alive dots while waiting; end of input finishing the input; a closed
 * answer pipe finishing it too. And the fields: rsyslog's jsonf properties
 * mapped to ECS names, the message body through the grammar, a line nothing
 * parses shipped tagged, the same line always the same _id.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_config.h"
#include "input.h"
#include "lf.h"
#include "shipper.h"

#define WAIT_MS 10000          /* generous: sanitizer builds on a busy machine */
#define NOW_MS 1795251600250LL /* 2026-11-21T09:00:00.250Z */

/* ---- an output that withholds acknowledgements or refuses batches ------- */

struct held {
    struct lf_ack_target *t;
    uint64_t seq;
};

struct doc {
    char id[LF_DOC_ID_LEN + 1];
    char *json;
    int64_t ts_ms;
};

struct test_out {
    struct lf_output base;
    bool hold;  /* keep acknowledgements until released */
    int refuse; /* submits still to refuse with LF_ELIMIT */
    struct held held[256];
    size_t nheld;
    struct doc docs[64]; /* the first ones */
    size_t ndocs;
    size_t total;
};

static int tout_submit(struct lf_output *base, struct lf_batch *b)
{
    struct test_out *o = (struct test_out *)base;
    if (o->refuse > 0) {
        o->refuse--;
        return LF_ELIMIT;
    }
    for (size_t i = 0; i < b->ndocs; i++) {
        const struct lf_doc *d = &b->docs[i];
        assert_string_equal(d->index, "syslog");
        if (o->total++ >= 64)
            continue;
        struct doc *c = &o->docs[o->ndocs++];
        memcpy(c->id, d->id, sizeof(c->id));
        c->json = strndup(b->buf.data + d->off, d->len);
        c->ts_ms = d->ts_ms;
    }
    base->counters.submitted += b->ndocs;
    if (!o->hold) {
        lf_output_ack_batch(base, b);
        return 0;
    }
    for (size_t i = 0; i < b->ndocs; i++) {
        assert_true(o->nheld < 256);
        o->held[o->nheld++] = (struct held){b->docs[i].ack, b->docs[i].seq};
    }
    return 0;
}

static int tout_poll(struct lf_output *base, int timeout_ms)
{
    (void)base;
    (void)timeout_ms;
    return 0;
}

static size_t tout_pending(const struct lf_output *base)
{
    return ((const struct test_out *)base)->nheld;
}

static void tout_destroy(struct lf_output *base)
{
    struct test_out *o = (struct test_out *)base;
    for (size_t i = 0; i < o->ndocs; i++)
        free(o->docs[i].json);
    free(o);
}

static const struct lf_output_ops tout_ops = {
    .name = "test",
    .submit = tout_submit,
    .poll = tout_poll,
    .pending = tout_pending,
    .destroy = tout_destroy,
};

/* Acknowledges the held document at index i (in submission order). */
static void tout_release_one(struct test_out *o, size_t i)
{
    assert_true(i < o->nheld);
    struct held h = o->held[i];
    memmove(&o->held[i], &o->held[i + 1], (o->nheld - i - 1) * sizeof(h));
    o->nheld--;
    h.t->safe(h.t, h.seq);
}

static void tout_release(struct test_out *o)
{
    while (o->nheld)
        tout_release_one(o, 0);
}

/* ---- the fixture: rsyslog's two pipes around one input ------------------ */

struct fx {
    char dir[64]; /* data_dir: the transaction journal */
    bool own_dir;
    struct lf_agent_conf *conf;
    struct lf_parser *parser;
    struct test_out *out;
    struct lf_pipeline *p;
    struct lf_input *in;
    int to_agent[2];   /* the test writes [1]; the input reads [0] */
    int from_agent[2]; /* the input writes [1]; the test reads [0] */
    char pending[4096];
    size_t npending;
    unsigned dots;
};

/* An input over a fresh pipe pair, its journal in dir (NULL: a new
 * temporary one, removed with it; "": no journal). */
static struct fx *fx_create_in(bool hold, const char *dir)
{
    char err[1024];
    unsigned nerr = 0;
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->conf = lf_agent_conf_load(NULL, err, sizeof(err), &nerr);
    assert_non_null(f->conf);
    free(f->conf->data_dir);
    f->conf->data_dir = NULL;
    if (!dir) {
        snprintf(f->dir, sizeof(f->dir), "/tmp/test_omprog.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        f->own_dir = true;
    } else {
        snprintf(f->dir, sizeof(f->dir), "%s", dir);
    }
    if (f->dir[0])
        f->conf->data_dir = strdup(f->dir);
    const struct lf_grammar_conf *gc = lf_agent_conf_grammar(f->conf, f->conf->omprog_grammar);
    assert_non_null(gc);
    f->parser = lf_parser_create(gc, "UTC", err, sizeof(err));
    assert_non_null(f->parser);
    lf_parser_set_now(f->parser, NOW_MS); /* the year of "Nov 21" */
    f->out = calloc(1, sizeof(*f->out));
    assert_non_null(f->out);
    f->out->base.ops = &tout_ops;
    f->out->hold = hold;
    f->p = lf_pipeline_create_for_test(&f->out->base, "agent01");
    assert_non_null(f->p);
    assert_int_equal(pipe(f->to_agent), 0);
    assert_int_equal(pipe(f->from_agent), 0);
    fcntl(f->from_agent[0], F_SETFL, O_NONBLOCK);
    f->in = lf_input_omprog_create(f->conf, f->parser, f->p, f->to_agent[0], f->from_agent[1], err,
                                   sizeof(err));
    if (!f->in)
        fail_msg("create: %s", err);
    return f;
}

static struct fx *fx_create(bool hold)
{
    return fx_create_in(hold, NULL);
}

static void remove_dir(const char *dir)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/omprog.journal", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/omprog.replay", dir);
    unlink(path);
    rmdir(dir);
}

static void fx_destroy(struct fx *f)
{
    if (f->in)
        f->in->ops->destroy(f->in);
    lf_pipeline_destroy(f->p);
    lf_output_destroy(&f->out->base);
    lf_parser_destroy(f->parser);
    lf_agent_conf_free(f->conf);
    for (int i = 0; i < 2; i++) {
        if (f->to_agent[i] >= 0)
            close(f->to_agent[i]);
        if (f->from_agent[i] >= 0)
            close(f->from_agent[i]);
    }
    if (f->own_dir)
        remove_dir(f->dir);
    free(f);
}

/* One turn of the agent's main loop. */
static void turn(struct fx *f)
{
    int rc = f->in->ops->run(f->in, lf_now_mono_ms());
    assert_int_equal(rc, 0);
    lf_pipeline_tick(f->p, lf_now_mono_ms());
    f->in->ops->checkpoint(f->in);
}

static void send_line(struct fx *f, const char *line)
{
    size_t n = strlen(line);
    assert_int_equal(write(f->to_agent[1], line, n), (ssize_t)n);
    assert_int_equal(write(f->to_agent[1], "\n", 1), 1);
}

/* The next answer line, leading keep-alive dots skipped (and counted) as
 * rsyslog does, or NULL if none comes within ms while the loop turns. */
static const char *answer_within(struct fx *f, int ms)
{
    static char line[512];
    int64_t deadline = lf_now_mono_ms() + ms;
    for (;;) {
        char *nl = memchr(f->pending, '\n', f->npending);
        if (nl) {
            size_t n = (size_t)(nl - f->pending), skip = 0;
            while (skip < n && f->pending[skip] == '.')
                skip++;
            f->dots += (unsigned)skip;
            memcpy(line, f->pending + skip, n - skip);
            line[n - skip] = '\0';
            f->npending -= n + 1;
            memmove(f->pending, nl + 1, f->npending);
            return line;
        }
        ssize_t r =
            read(f->from_agent[0], f->pending + f->npending, sizeof(f->pending) - f->npending);
        if (r > 0) {
            f->npending += (size_t)r;
            continue;
        }
        if (lf_now_mono_ms() >= deadline)
            return NULL;
        turn(f);
        struct pollfd pf = {.fd = f->from_agent[0], .events = POLLIN};
        poll(&pf, 1, 10);
    }
}

static void expect_answer(struct fx *f, const char *want)
{
    const char *got = answer_within(f, WAIT_MS);
    if (!got)
        fail_msg("no answer, wanted %s", want);
    assert_string_equal(got, want);
}

/* Turns the loop for a while and checks nothing was answered. */
static void expect_silence(struct fx *f, int ms)
{
    const char *got = answer_within(f, ms);
    if (got)
        fail_msg("unexpected answer '%s'", got);
}

static json_t *doc_json(struct fx *f, size_t i)
{
    assert_true(i < f->out->ndocs);
    json_t *j = json_loads(f->out->docs[i].json, 0, NULL);
    assert_non_null(j);
    return j;
}

/* The value at a dotted path, or NULL. */
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
    if (!json_is_string(v))
        fail_msg("%s is not a string", path);
    assert_string_equal(json_string_value(v), want);
}

static void expect_int(json_t *j, const char *path, long long want)
{
    json_t *v = at(j, path);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", path);
    assert_int_equal(json_integer_value(v), want);
}

static bool has_tag(json_t *j, const char *tag)
{
    json_t *tags = json_object_get(j, "tags"), *t;
    size_t i;
    json_array_foreach(tags, i, t) if (strcmp(json_string_value(t), tag) == 0) return true;
    return false;
}

static const char *SYSLOG_LINE = "Nov 21 10:00:00 web01 app[42]: hello world";
static const char *JSON_LINE_2 = "{\"hostname\":\"web02\",\"msg\":\" replayed\"}";

/* ---- the conversation -------------------------------------------------- */

static void test_greeting_then_ok_only_after_ack(void **state)
{
    (void)state;
    struct fx *f = fx_create(true);
    expect_answer(f, "OK"); /* ready */
    send_line(f, SYSLOG_LINE);
    expect_silence(f, 200);
    /* Not waiting for a fuller batch: rsyslog sends nothing more first. */
    assert_int_equal(f->out->ndocs, 1);
    assert_int_equal(f->in->ops->in_flight(f->in), 1);
    tout_release(f->out);
    expect_answer(f, "OK");
    assert_int_equal(f->in->ops->in_flight(f->in), 0);
    assert_int_equal(f->in->counters.acked, 1);
    assert_false(f->in->ops->finished(f->in));
    fx_destroy(f);
}

static void test_answers_in_order(void **state)
{
    (void)state;
    struct fx *f = fx_create(true);
    expect_answer(f, "OK");
    /* Without confirmMessages rsyslog does not wait: lines are read ahead. */
    send_line(f, "Nov 21 10:00:01 web01 app[1]: one");
    send_line(f, "Nov 21 10:00:02 web01 app[1]: two");
    send_line(f, "Nov 21 10:00:03 web01 app[1]: three");
    expect_silence(f, 100);
    assert_int_equal(f->out->ndocs, 3);
    tout_release_one(f->out, 2); /* the third is safe first */
    expect_silence(f, 100);
    tout_release_one(f->out, 0);
    expect_answer(f, "OK");
    expect_silence(f, 100);
    tout_release_one(f->out, 0);
    expect_answer(f, "OK");
    expect_answer(f, "OK");
    fx_destroy(f);
}

static void test_timeout_answers_error_once(void **state)
{
    (void)state;
    struct fx *f = fx_create(true);
    lf_input_omprog_set_timeout(f->in, 200);
    expect_answer(f, "OK");
    send_line(f, SYSLOG_LINE);
    const char *a = answer_within(f, WAIT_MS);
    assert_non_null(a);
    assert_true(strncmp(a, "Error", 5) == 0);
    assert_int_equal(f->in->counters.errors, 1);
    /* The late acknowledgement is not answered a second time. */
    tout_release(f->out);
    expect_silence(f, 200);
    /* rsyslog sends it again; this time it is safe, with the same _id. */
    send_line(f, SYSLOG_LINE);
    expect_silence(f, 50);
    tout_release(f->out);
    expect_answer(f, "OK");
    assert_int_equal(f->out->ndocs, 2);
    assert_string_equal(f->out->docs[0].id, f->out->docs[1].id);
    fx_destroy(f);
}

static void test_refusing_output_answers_error(void **state)
{
    (void)state;
    struct fx *f = fx_create(false);
    lf_input_omprog_set_timeout(f->in, 200);
    f->out->refuse = 1000000;
    expect_answer(f, "OK");
    /* The first line is in the batch the output refuses. */
    send_line(f, "Nov 21 10:00:01 web01 app[1]: one");
    const char *a = answer_within(f, WAIT_MS);
    assert_non_null(a);
    assert_true(strncmp(a, "Error", 5) == 0);
    /* Forgotten: rsyslog sends it again; nothing waits on it. */
    assert_int_equal(f->in->ops->in_flight(f->in), 0);
    /* The pipeline takes no more: the second line waits, then is dropped
     * (rsyslog keeps it) instead of being shipped later. */
    send_line(f, "Nov 21 10:00:02 web01 app[1]: two");
    a = answer_within(f, WAIT_MS);
    assert_non_null(a);
    assert_true(strncmp(a, "Error", 5) == 0);
    assert_int_equal(f->in->counters.errors, 2);
    f->out->refuse = 0;
    assert_int_equal(lf_pipeline_flush(f->p), 0);
    expect_silence(f, 100); /* the first was answered already */
    assert_int_equal(f->in->ops->in_flight(f->in), 0);
    send_line(f, "Nov 21 10:00:02 web01 app[1]: two"); /* rsyslog's retry */
    expect_answer(f, "OK");
    expect_silence(f, 100);
    assert_int_equal(f->out->ndocs, 2); /* each line once */
    json_t *j = doc_json(f, 1);
    expect_str(j, "message", "two");
    json_decref(j);
    fx_destroy(f);
}

static void test_keepalive_dots(void **state)
{
    (void)state;
    struct fx *f = fx_create(true);
    lf_input_omprog_set_timeout(f->in, 60000);
    expect_answer(f, "OK");
    send_line(f, SYSLOG_LINE);
    /* rsyslog restarts its confirmTimeout on each dot (KEEPALIVE_MS: 2 s). */
    int64_t deadline = lf_now_mono_ms() + WAIT_MS;
    char c = 0;
    while (c != '.' && lf_now_mono_ms() < deadline) {
        turn(f);
        if (read(f->from_agent[0], &c, 1) != 1)
            poll(NULL, 0, 20);
    }
    assert_int_equal(c, '.');
    tout_release(f->out);
    expect_answer(f, "OK"); /* "...OK" to rsyslog */
    fx_destroy(f);
}

static void test_transactions(void **state)
{
    (void)state;
    struct fx *f = fx_create(true);
    expect_answer(f, "OK");
    send_line(f, "BEGIN TRANSACTION");
    expect_answer(f, "OK");
    /* DEFER_COMMIT at once: the line is journaled, the batch fills. */
    send_line(f, "Nov 21 10:00:01 web01 app[1]: one");
    expect_answer(f, "DEFER_COMMIT");
    send_line(f, "Nov 21 10:00:02 web01 app[1]: two");
    expect_answer(f, "DEFER_COMMIT");
    assert_int_equal(f->out->ndocs, 0);
    assert_int_equal(f->in->ops->in_flight(f->in), 2);
    /* COMMIT sends the batch at once, one submit, and waits until all of
     * it is safe. */
    send_line(f, "COMMIT TRANSACTION");
    expect_silence(f, 100);
    assert_int_equal(f->out->ndocs, 2);
    tout_release_one(f->out, 1);
    expect_silence(f, 100);
    tout_release(f->out);
    expect_answer(f, "OK");
    assert_int_equal(f->in->ops->in_flight(f->in), 0);
    /* A transaction whose messages are read ahead: COMMIT waits for them. */
    send_line(f, "BEGIN TRANSACTION");
    send_line(f, "Nov 21 10:00:03 web01 app[1]: three");
    send_line(f, "COMMIT TRANSACTION");
    expect_answer(f, "OK");
    expect_answer(f, "DEFER_COMMIT");
    expect_silence(f, 100);
    tout_release(f->out);
    expect_answer(f, "OK");
    assert_int_equal(f->out->ndocs, 3); /* marks are not events */
    fx_destroy(f);
}

static void test_transactions_without_journal(void **state)
{
    (void)state;
    struct fx *f = fx_create_in(true, "");
    expect_answer(f, "OK");
    send_line(f, "BEGIN TRANSACTION");
    expect_answer(f, "OK");
    send_line(f, "Nov 21 10:00:01 web01 app[1]: one");
    expect_silence(f, 100);
    /* Not journaled: DEFER_COMMIT only once safe, since rsyslog does not
     * send it again if the agent dies before COMMIT (rsyslog issue #2420). */
    tout_release(f->out);
    expect_answer(f, "DEFER_COMMIT");
    send_line(f, "COMMIT TRANSACTION");
    expect_answer(f, "OK");
    fx_destroy(f);
}

static void test_commit_timeout_answers_error(void **state)
{
    (void)state;
    struct fx *f = fx_create(true);
    lf_input_omprog_set_timeout(f->in, 300);
    expect_answer(f, "OK");
    send_line(f, "BEGIN TRANSACTION");
    expect_answer(f, "OK");
    send_line(f, "Nov 21 10:00:01 web01 app[1]: one");
    expect_answer(f, "DEFER_COMMIT");
    send_line(f, "COMMIT TRANSACTION");
    const char *a = answer_within(f, WAIT_MS);
    assert_non_null(a);
    assert_true(strncmp(a, "Error", 5) == 0);
    /* rsyslog sends the transaction's messages again: forgotten here. */
    assert_int_equal(f->in->ops->in_flight(f->in), 0);
    tout_release(f->out);
    expect_silence(f, 100);
    /* The next transaction is on its own. */
    f->out->hold = false;
    send_line(f, "BEGIN TRANSACTION");
    expect_answer(f, "OK");
    send_line(f, "Nov 21 10:00:01 web01 app[1]: one");
    expect_answer(f, "DEFER_COMMIT");
    send_line(f, "COMMIT TRANSACTION");
    expect_answer(f, "OK");
    fx_destroy(f);
}

static void test_refused_inside_transaction_fails_commit(void **state)
{
    (void)state;
    struct fx *f = fx_create(false);
    lf_input_omprog_set_timeout(f->in, 300);
    expect_answer(f, "OK");
    send_line(f, "BEGIN TRANSACTION");
    expect_answer(f, "OK");
    send_line(f, "Nov 21 10:00:01 web01 app[1]: one");
    expect_answer(f, "DEFER_COMMIT");
    f->out->refuse = 1000000;
    assert_int_equal(lf_pipeline_flush(f->p), LF_ELIMIT); /* the pipeline is full now */
    send_line(f, "Nov 21 10:00:02 web01 app[1]: two");
    /* An error here would make rsyslog send only this one again (issue
     * #2420): DEFER_COMMIT, and the COMMIT fails instead. */
    expect_answer(f, "DEFER_COMMIT");
    send_line(f, "COMMIT TRANSACTION");
    const char *a = answer_within(f, WAIT_MS);
    assert_non_null(a);
    assert_true(strncmp(a, "Error", 5) == 0);
    f->out->refuse = 0;
    fx_destroy(f);
}

/* An instance killed inside a transaction (its DEFER_COMMITs out, no
 * COMMIT yet) leaves the lines journaled; the next one ships them. */
static void test_journal_replayed_by_next_instance(void **state)
{
    (void)state;
    struct fx *f = fx_create(true);
    expect_answer(f, "OK");
    send_line(f, "BEGIN TRANSACTION");
    expect_answer(f, "OK");
    send_line(f, JSON_LINE_2);
    expect_answer(f, "DEFER_COMMIT");
    send_line(f, SYSLOG_LINE);
    expect_answer(f, "DEFER_COMMIT");
    /* As good as a SIGKILL for the journal: nothing acknowledged, so the
     * instance leaves it as it is. */
    char dir[64];
    snprintf(dir, sizeof(dir), "%s", f->dir);
    f->own_dir = false;
    f->in->ops->destroy(f->in);
    f->in = NULL;
    f->out->nheld = 0;
    fx_destroy(f);

    struct fx *g = fx_create_in(true, dir);
    g->own_dir = true;
    expect_answer(g, "OK");
    /* Shipped without a word to rsyslog, in a batch of their own. */
    for (int i = 0; i < 100 && g->out->ndocs < 2; i++)
        turn(g);
    lf_pipeline_flush(g->p);
    assert_int_equal(g->out->ndocs, 2);
    json_t *j = doc_json(g, 1);
    expect_str(j, "message", "hello world");
    json_decref(j);
    assert_int_equal(g->in->ops->in_flight(g->in), 2);
    char replay[128];
    snprintf(replay, sizeof(replay), "%s/omprog.replay", dir);
    struct stat st;
    assert_int_equal(stat(replay, &st), 0);
    /* rsyslog goes on with the next transaction; its COMMIT also waits
     * for the replayed lines. */
    send_line(g, "BEGIN TRANSACTION");
    expect_answer(g, "OK");
    send_line(g, "COMMIT TRANSACTION");
    expect_silence(g, 100);
    tout_release(g->out);
    expect_answer(g, "OK");
    turn(g);
    assert_int_equal(g->in->ops->in_flight(g->in), 0);
    assert_int_not_equal(stat(replay, &st), 0); /* done with */
    fx_destroy(g);

    /* A third instance has nothing to replay. */
    struct fx *h = fx_create_in(false, dir);
    h->own_dir = true;
    expect_answer(h, "OK");
    turn(h);
    assert_int_equal(h->out->ndocs, 0);
    fx_destroy(h);
}

/* The issue-11 stall: one message whose event never becomes safe (the
 * output keeps it for retries) is answered with an error and forgotten;
 * thousands after it go through, and end of input is seen. */
static void test_stuck_message_never_stops_the_rest(void **state)
{
    (void)state;
    struct fx *f = fx_create(true);
    lf_input_omprog_set_timeout(f->in, 100);
    expect_answer(f, "OK");
    send_line(f, "Nov 21 10:00:00 web01 app[1]: stuck");
    const char *a = answer_within(f, WAIT_MS);
    assert_non_null(a);
    assert_true(strncmp(a, "Error", 5) == 0);
    struct held stuck = f->out->held[0];
    f->out->nheld = 0;
    char line[128];
    for (int i = 1; i <= 6000; i++) {
        snprintf(line, sizeof(line), "Nov 21 10:00:00 web01 app[1]: after %d", i);
        send_line(f, line);
        for (int k = 0; k < 1000 && f->out->nheld == 0; k++)
            turn(f);
        tout_release(f->out);
        expect_answer(f, "OK");
    }
    assert_int_equal(f->in->ops->in_flight(f->in), 0);
    /* The stuck event's late acknowledgement is not an answer. */
    stuck.t->safe(stuck.t, stuck.seq);
    close(f->to_agent[1]);
    f->to_agent[1] = -1;
    for (int k = 0; k < 100 && !f->in->ops->finished(f->in); k++)
        turn(f);
    assert_true(f->in->ops->finished(f->in));
    expect_silence(f, 50);
    fx_destroy(f);
}

static void test_read_ahead_beyond_one_run(void **state)
{
    (void)state;
    struct fx *f = fx_create(false);
    expect_answer(f, "OK");
    char buf[64 * 1024];
    size_t n = 0;
    for (int i = 0; i < 1500; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "Nov 21 10:00:00 h a: %d\n", i);
    assert_int_equal(write(f->to_agent[1], buf, n), (ssize_t)n);
    assert_int_equal(f->in->ops->run(f->in, lf_now_mono_ms()), 0);
    assert_true(f->out->total < 1500); /* one run takes a bounded number */
    /* The rest is in the input's buffer, where epoll cannot see it. */
    assert_true(f->in->ops->deadline(f->in) <= lf_now_mono_ms());
    assert_int_equal(f->in->ops->run(f->in, lf_now_mono_ms()), 0);
    assert_int_equal(f->out->total, 1500);
    for (int i = 0; i < 1500; i++)
        expect_answer(f, "OK");
    fx_destroy(f);
}

/* ---- end of input, a vanished rsyslog, shutdown ------------------------- */

static void test_eof_finishes_after_acks(void **state)
{
    (void)state;
    struct fx *f = fx_create(true);
    expect_answer(f, "OK");
    send_line(f, "Nov 21 10:00:01 web01 app[1]: one");
    send_line(f, "Nov 21 10:00:02 web01 app[1]: two");
    close(f->to_agent[1]);
    f->to_agent[1] = -1;
    expect_silence(f, 100);
    assert_false(f->in->ops->finished(f->in));
    /* Out of the agent's epoll set: a pipe at EOF would wake it forever. */
    assert_int_equal(f->in->ops->fd(f->in), -1);
    tout_release(f->out);
    expect_answer(f, "OK");
    expect_answer(f, "OK");
    assert_true(f->in->ops->finished(f->in));
    fx_destroy(f);
}

static void test_eof_last_line_without_newline(void **state)
{
    (void)state;
    struct fx *f = fx_create(false);
    expect_answer(f, "OK");
    assert_int_equal(write(f->to_agent[1], "no newline", 10), 10);
    close(f->to_agent[1]);
    f->to_agent[1] = -1;
    expect_answer(f, "OK");
    assert_true(f->in->ops->finished(f->in));
    assert_int_equal(f->out->ndocs, 1);
    fx_destroy(f);
}

static void test_closed_answer_pipe_finishes(void **state)
{
    (void)state;
    struct fx *f = fx_create(false);
    expect_answer(f, "OK");
    close(f->from_agent[0]);
    f->from_agent[0] = -1;
    send_line(f, SYSLOG_LINE);
    for (int i = 0; i < 100 && !f->in->ops->finished(f->in); i++) {
        turn(f);
        poll(NULL, 0, 10);
    }
    assert_true(f->in->ops->finished(f->in));
    assert_int_equal(f->out->ndocs, 1); /* what was read is still shipped */
    fx_destroy(f);
}

static void test_stop_answers_error_for_unsafe(void **state)
{
    (void)state;
    struct fx *f = fx_create(true);
    expect_answer(f, "OK");
    send_line(f, SYSLOG_LINE);
    expect_silence(f, 50);
    f->in->ops->stop(f->in);
    f->in->ops->destroy(f->in);
    f->in = NULL;
    char buf[128] = {0};
    struct pollfd pf = {.fd = f->from_agent[0], .events = POLLIN};
    assert_int_equal(poll(&pf, 1, WAIT_MS), 1);
    assert_true(read(f->from_agent[0], buf, sizeof(buf) - 1) > 0);
    assert_true(strncmp(buf, "Error", 5) == 0);
    /* Tear down the rest; the held acknowledgement is never delivered. */
    f->out->nheld = 0;
    lf_pipeline_destroy(f->p);
    lf_output_destroy(&f->out->base);
    lf_parser_destroy(f->parser);
    lf_agent_conf_free(f->conf);
    for (int i = 0; i < 2; i++) {
        close(f->to_agent[i]);
        close(f->from_agent[i]);
    }
    remove_dir(f->dir);
    free(f);
}

/* ---- what is shipped ---------------------------------------------------- */

static const char *JSON_LINE =
    "{\"timestamp\":\"2026-11-21T10:00:00.250+01:00\","
    "\"timegenerated\":\"2026-11-21T10:00:00.251234+01:00\",\"hostname\":\"web01\","
    "\"programname\":\"sshd\",\"procid\":\"4242\",\"syslogfacility\":\"4\","
    "\"syslogfacility-text\":\"auth\",\"syslogseverity\":6,\"syslogseverity-text\":\"info\","
    "\"fromhost-ip\":\"192.0.2.7\",\"msgid\":\"-\",\"inputname\":\"imuxsock\","
    "\"msg\":\" Failed password for invalid user oracle from 203.0.113.9 port 4022 ssh2\"}";

static void test_json_properties_mapped(void **state)
{
    (void)state;
    struct fx *f = fx_create(false);
    expect_answer(f, "OK");
    send_line(f, JSON_LINE);
    expect_answer(f, "OK");
    json_t *j = doc_json(f, 0);
    expect_str(j, "@timestamp", "2026-11-21T09:00:00.250Z");
    assert_int_equal(f->out->docs[0].ts_ms, 1795251600250LL);
    expect_str(j, "event.dataset", "system.syslog");
    expect_str(j, "event.created", "2026-11-21T10:00:00.251234+01:00");
    expect_str(j, "host.hostname", "web01");
    expect_str(j, "host.name", "agent01");
    expect_str(j, "process.name", "sshd");
    expect_int(j, "process.pid", 4242);
    expect_int(j, "log.syslog.facility.code", 4);
    expect_str(j, "log.syslog.facility.name", "auth");
    expect_int(j, "log.syslog.severity.code", 6);
    expect_str(j, "log.syslog.severity.name", "info");
    expect_str(j, "log.source.address", "192.0.2.7");
    expect_str(j, "rsyslog.inputname", "imuxsock");
    assert_null(at(j, "log.syslog.msgid")); /* "-" is rsyslog's nothing */
    /* The body through the syslog grammar's message part. */
    expect_str(j, "message",
               "Failed password for invalid user oracle from 203.0.113.9 port 4022 ssh2");
    expect_str(j, "user.name", "oracle");
    expect_str(j, "source.ip", "203.0.113.9");
    expect_int(j, "source.port", 4022);
    assert_null(json_object_get(j, "tags"));
    assert_int_equal(f->in->counters.parsed, 1);
    json_decref(j);
    fx_destroy(f);
}

static void test_json_values(void **state)
{
    (void)state;
    struct fx *f = fx_create(false);
    expect_answer(f, "OK");
    /* Escapes, a surrogate pair, a byte that is not UTF-8 (rsyslog passes
     * them on), a procid that is not a number, nested values skipped,
     * numbers and booleans kept as they are. */
    send_line(f,
              "  {\"msg\":\"say \\\"hi\\\"\\t\\u00e9\\ud83d\\ude00 \xff\",\"procid\":\"worker-3\","
              "\"$!\":{\"a\":[1,{\"b\":\"c\"}]},\"n\":-1.5e3,\"flag\":true,\"z\":null} ");
    expect_answer(f, "OK");
    json_t *j = doc_json(f, 0);
    expect_str(j, "message", "say \"hi\"\t\xc3\xa9\xf0\x9f\x98\x80 \xc3\xbf");
    expect_str(j, "log.syslog.procid", "worker-3");
    assert_null(at(j, "process.pid"));
    assert_true(json_is_real(at(j, "rsyslog.n")));
    assert_true(json_is_true(at(j, "rsyslog.flag")));
    assert_null(at(j, "rsyslog.z"));
    assert_null(at(j, "rsyslog.$!"));
    assert_null(json_object_get(j, "tags"));
    json_decref(j);
    fx_destroy(f);
}

static void test_not_json_goes_through_grammar(void **state)
{
    (void)state;
    struct fx *f = fx_create(false);
    expect_answer(f, "OK");
    send_line(f, SYSLOG_LINE);
    send_line(f, "not a syslog line");
    /* Broken JSON is a line like any other. */
    const char *bad[] = {"{\"a\":}",   "{\"a\":\"b\"",        "{\"a\":\"b\"} x",
                         "{\"a\":01}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\x\"}",
                         "{a:1}",      "{\"a\":tru}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        send_line(f, bad[i]);
    for (size_t i = 0; i < 2 + sizeof(bad) / sizeof(bad[0]); i++)
        expect_answer(f, "OK"); /* unparsed lines are shipped and answered too */
    json_t *j = doc_json(f, 0);
    expect_str(j, "message", "hello world");
    expect_str(j, "host.hostname", "web01");
    expect_int(j, "process.pid", 42);
    expect_str(j, "@timestamp", "2026-11-21T10:00:00.000Z");
    json_decref(j);
    for (size_t i = 1; i < f->out->ndocs; i++) {
        j = doc_json(f, i);
        assert_true(has_tag(j, "_grokparsefailure"));
        json_decref(j);
    }
    j = doc_json(f, 2);
    expect_str(j, "message", "{\"a\":}");
    json_decref(j);
    assert_int_equal(f->in->counters.unparsed, 1 + sizeof(bad) / sizeof(bad[0]));
    fx_destroy(f);
}

static void test_ids_follow_the_line(void **state)
{
    (void)state;
    struct fx *f = fx_create(false);
    expect_answer(f, "OK");
    send_line(f, JSON_LINE);
    send_line(f, SYSLOG_LINE);
    send_line(f, JSON_LINE);
    for (int i = 0; i < 3; i++)
        expect_answer(f, "OK");
    fx_destroy(f);
    /* Another instance (rsyslog restarted us) gives the same ids. */
    struct fx *g = fx_create(false);
    expect_answer(g, "OK");
    send_line(g, SYSLOG_LINE);
    expect_answer(g, "OK");
    assert_int_equal(g->out->ndocs, 1);
    char again[LF_DOC_ID_LEN + 1];
    memcpy(again, g->out->docs[0].id, sizeof(again));
    fx_destroy(g);

    f = fx_create(false);
    expect_answer(f, "OK");
    send_line(f, JSON_LINE);
    send_line(f, SYSLOG_LINE);
    send_line(f, JSON_LINE);
    for (int i = 0; i < 3; i++)
        expect_answer(f, "OK");
    assert_string_equal(f->out->docs[0].id, f->out->docs[2].id);
    assert_string_not_equal(f->out->docs[0].id, f->out->docs[1].id);
    assert_string_equal(f->out->docs[1].id, again);
    fx_destroy(f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    lf_log_set_level(LF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting_then_ok_only_after_ack),
        cmocka_unit_test(test_answers_in_order),
        cmocka_unit_test(test_timeout_answers_error_once),
        cmocka_unit_test(test_refusing_output_answers_error),
        cmocka_unit_test(test_keepalive_dots),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_transactions_without_journal),
        cmocka_unit_test(test_commit_timeout_answers_error),
        cmocka_unit_test(test_refused_inside_transaction_fails_commit),
        cmocka_unit_test(test_journal_replayed_by_next_instance),
        cmocka_unit_test(test_stuck_message_never_stops_the_rest),
        cmocka_unit_test(test_read_ahead_beyond_one_run),
        cmocka_unit_test(test_eof_finishes_after_acks),
        cmocka_unit_test(test_eof_last_line_without_newline),
        cmocka_unit_test(test_closed_answer_pipe_finishes),
        cmocka_unit_test(test_stop_answers_error_for_unsafe),
        cmocka_unit_test(test_json_properties_mapped),
        cmocka_unit_test(test_json_values),
        cmocka_unit_test(test_not_json_goes_through_grammar),
        cmocka_unit_test(test_ids_follow_the_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
