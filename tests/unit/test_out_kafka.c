/*
 * test_out_kafka.c - the Kafka output against librdkafka's mock cluster, in
 * process: what a message looks like (value, key, headers, timestamp, topic),
 * that delivery reports drive the acknowledgements, that every compression
 * codec is accepted, that refusals go to the dead-letter file, and that
 * brokers going down and coming back lose nothing: with a spool the events
 * wait on disk (and are acknowledged), without one in memory (the inputs
 * wait), and what is in flight at destroy ends up in the spool.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_config.h"
#include "kafka_common.h"
#include "shipper.h"
#include "spool.h"

#define HOST "web01"
#define SOURCE "/var/log/app.log"
#define MAX_SEQ 4096
#define TS0 1795305599000LL /* 2026-11-21T23:59:59Z */

/* ---- fixtures ------------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Counts every acknowledgement per sequence number, so that a document told
 * twice, or told both safe and failed, shows. */
struct recorder {
    struct lf_ack_target target;
    unsigned safe[MAX_SEQ];
    unsigned failed[MAX_SEQ];
    size_t nsafe, nfailed;
};

static void record_safe(struct lf_ack_target *t, uint64_t seq)
{
    struct recorder *r = (struct recorder *)t;
    assert_true(seq < MAX_SEQ);
    r->safe[seq]++;
    r->nsafe++;
}

static void record_failed(struct lf_ack_target *t, uint64_t seq)
{
    struct recorder *r = (struct recorder *)t;
    assert_true(seq < MAX_SEQ);
    r->failed[seq]++;
    r->nfailed++;
}

static struct recorder *recorder_new(void)
{
    struct recorder *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->target.safe = record_safe;
    r->target.failed = record_failed;
    return r;
}

/* Each seq in [from, to) acknowledged safe exactly once, never failed. */
static void assert_safe_once(const struct recorder *r, uint64_t from, uint64_t to)
{
    for (uint64_t s = from; s < to; s++) {
        if (r->safe[s] != 1 || r->failed[s] != 0)
            fail_msg("seq %" PRIu64 ": safe %u times, failed %u times", s, r->safe[s],
                     r->failed[s]);
    }
}

/* Adds the event "message: line <seq>[ padding]" with the id of its seq. */
static void add_doc(struct lf_batch *b, const char *index, uint64_t seq, size_t pad,
                    struct recorder *r)
{
    struct lf_event ev;
    lf_event_init(&ev);
    char text[64];
    int n = snprintf(text, sizeof(text), "line %" PRIu64, seq);
    lf_event_add_string(&ev, "message", text, (size_t)n);
    char *padding = NULL;
    if (pad) {
        padding = malloc(pad);
        assert_non_null(padding);
        memset(padding, 'p', pad);
        lf_event_add_string(&ev, "padding", padding, pad);
    }
    struct lf_doc meta = {
        .index = index, .ts_ms = TS0 + (int64_t)seq, .ack = &r->target, .seq = seq};
    lf_doc_id(meta.id, HOST, SOURCE, seq);
    assert_int_equal(lf_batch_add_event(b, &ev, &meta), 0);
    lf_event_free(&ev);
    free(padding);
}

/* Submits docs [from, to) of one index prefix in one batch. */
static int submit_range(struct lf_output *o, const char *index, uint64_t from, uint64_t to,
                        size_t pad, struct recorder *r)
{
    struct lf_batch *b = lf_batch_create(64u << 20, 100000);
    assert_non_null(b);
    for (uint64_t s = from; s < to; s++)
        add_doc(b, index, s, pad, r);
    int rc = lf_output_submit(o, b);
    lf_batch_destroy(b);
    return rc;
}

/* Polls o until cond(o, arg) or timeout_ms; returns whether cond held. */
static bool poll_until(struct lf_output *o, bool (*cond)(struct lf_output *, const void *),
                       const void *arg, int64_t timeout_ms)
{
    int64_t until = now_ms() + timeout_ms;
    while (!cond(o, arg)) {
        if (now_ms() >= until)
            return false;
        lf_output_poll(o, 20);
    }
    return true;
}

static bool nothing_pending(struct lf_output *o, const void *arg)
{
    (void)arg;
    return lf_output_pending(o) == 0;
}

static bool acked_at_least(struct lf_output *o, const void *arg)
{
    return o->counters.acked >= *(const uint64_t *)arg;
}

static bool spooled_at_least(struct lf_output *o, const void *arg)
{
    return o->counters.spooled >= *(const uint64_t *)arg;
}

struct cluster {
    rd_kafka_t *rk; /* the handle the mock lives in */
    rd_kafka_mock_cluster_t *mc;
    char bootstrap[256];
};

static void cluster_start(struct cluster *c, int brokers)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err)), RD_KAFKA_CONF_OK);
    c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    assert_non_null(c->rk);
    c->mc = rd_kafka_mock_cluster_new(c->rk, brokers);
    assert_non_null(c->mc);
    snprintf(c->bootstrap, sizeof(c->bootstrap), "%s", rd_kafka_mock_cluster_bootstraps(c->mc));
}

static void cluster_stop(struct cluster *c)
{
    rd_kafka_mock_cluster_destroy(c->mc);
    rd_kafka_destroy(c->rk);
}

/* Options every test starts from: reconnections quick, as against the
 * mock they would otherwise take up to 10 s. */
static const char *const quick_names[] = {"reconnect.backoff.ms", "reconnect.backoff.max.ms",
                                          "linger.ms"};
static const char *const quick_values[] = {"100", "300", "5"};

static struct lf_kafka_out_options options(struct cluster *c)
{
    static const char *brokers[1];
    brokers[0] = c->bootstrap;
    return (struct lf_kafka_out_options){
        .brokers = brokers,
        .nbrokers = 1,
        .key = LF_KAFKA_KEY_HOST,
        .host = HOST,
        .prop_names = quick_names,
        .prop_values = quick_values,
        .nprops = 3,
    };
}

static struct lf_output *create(const struct lf_kafka_out_options *opt)
{
    char err[1024];
    struct lf_output *o = lf_out_kafka_create(opt, err, sizeof(err));
    if (!o)
        fail_msg("lf_out_kafka_create: %s", err);
    return o;
}

/* ---- reading a topic back ------------------------------------------------- */

struct got {
    int32_t partition;
    int64_t timestamp;
    char *key, *value; /* NUL-terminated copies; key NULL when there is none */
    size_t value_len;
    char *h_index, *h_id, *h_ts;
    size_t nheaders;
};

struct topic_dump {
    struct got *v;
    size_t n;
};

static char *copy_or_null(const void *p, size_t len)
{
    if (!p)
        return NULL;
    char *s = malloc(len + 1);
    assert_non_null(s);
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

static char *header(rd_kafka_headers_t *h, const char *name)
{
    const void *v;
    size_t len;
    if (!h || rd_kafka_header_get_last(h, name, &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    return copy_or_null(v, len);
}

/* Everything in the topic, from the first offset of every partition to the
 * high watermark: an exact count, not "what arrived within a while". */
static struct topic_dump consume_all(struct cluster *c, const char *topic, int partitions)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", c->bootstrap, err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "group.id", "test", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    assert_non_null(rk);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(partitions);
    int64_t total = 0;
    for (int p = 0; p < partitions; p++) {
        int64_t lo = 0, hi = 0;
        assert_int_equal(rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000), 0);
        total += hi - lo;
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    assert_int_equal(rd_kafka_assign(rk, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);
    struct topic_dump d = {.v = calloc((size_t)total + 1, sizeof(struct got))};
    assert_non_null(d.v);
    int64_t until = now_ms() + 20000;
    while ((int64_t)d.n < total && now_ms() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err) {
            struct got *g = &d.v[d.n++];
            rd_kafka_headers_t *h = NULL;
            rd_kafka_message_headers(m, &h);
            g->partition = m->partition;
            g->timestamp = rd_kafka_message_timestamp(m, NULL);
            g->key = copy_or_null(m->key, m->key_len);
            g->value = copy_or_null(m->payload, m->len);
            g->value_len = m->len;
            g->h_index = header(h, LF_KAFKA_HDR_INDEX);
            g->h_id = header(h, LF_KAFKA_HDR_ID);
            g->h_ts = header(h, LF_KAFKA_HDR_TS);
            g->nheaders = h ? rd_kafka_header_cnt(h) : 0;
        }
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(d.n, total);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return d;
}

static void dump_free(struct topic_dump *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].key);
        free(d->v[i].value);
        free(d->v[i].h_index);
        free(d->v[i].h_id);
        free(d->v[i].h_ts);
    }
    free(d->v);
}

/* The seq a message carries in its "message" field ("line N"). */
static uint64_t seq_of(const struct got *g)
{
    json_error_t e;
    json_t *doc = json_loadb(g->value, g->value_len, 0, &e);
    assert_non_null(doc);
    const char *msg = json_string_value(json_object_get(doc, "message"));
    assert_non_null(msg);
    uint64_t seq = strtoull(msg + 5, NULL, 10);
    json_decref(doc);
    return seq;
}

/* Every message of d is document [from, to) of `index` exactly once, with
 * its headers, key and timestamp; returns how many it checked. */
static void assert_exactly(const struct topic_dump *d, const char *index, uint64_t from,
                           uint64_t to, enum lf_kafka_key key)
{
    static unsigned seen[MAX_SEQ];
    memset(seen, 0, sizeof(seen));
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++) {
        const struct got *g = &d->v[i];
        if (!g->h_index || strcmp(g->h_index, index) != 0)
            continue;
        n++;
        uint64_t seq = seq_of(g);
        assert_true(seq >= from && seq < to);
        seen[seq]++;
        char id[LF_DOC_ID_LEN + 1], ts[32];
        lf_doc_id(id, HOST, SOURCE, seq);
        snprintf(ts, sizeof(ts), "%lld", (long long)(TS0 + (int64_t)seq));
        assert_int_equal(g->nheaders, 3);
        assert_non_null(g->h_id);
        assert_string_equal(g->h_id, id);
        assert_non_null(g->h_ts);
        assert_string_equal(g->h_ts, ts);
        assert_int_equal(g->timestamp, TS0 + (int64_t)seq);
        if (key == LF_KAFKA_KEY_HOST) {
            assert_non_null(g->key);
            assert_string_equal(g->key, HOST);
        } else if (key == LF_KAFKA_KEY_ID) {
            assert_non_null(g->key);
            assert_string_equal(g->key, id);
        } else {
            assert_null(g->key);
        }
        /* The value is the document exactly as the batch holds it. */
        char want[128];
        snprintf(want, sizeof(want), "{\"message\":\"line %" PRIu64 "\"}", seq);
        if (!strstr(g->value, "padding"))
            assert_string_equal(g->value, want);
    }
    assert_int_equal(n, to - from);
    for (uint64_t s = from; s < to; s++)
        assert_int_equal(seen[s], 1);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_topic_names(void **state)
{
    (void)state;
    char t[LF_KAFKA_TOPIC_MAX + 1];
    assert_int_equal(lf_kafka_topic_name(t, sizeof(t), NULL, "syslog"), 8);
    assert_string_equal(t, "logferry");
    assert_int_equal(lf_kafka_topic_name(t, sizeof(t), "logs-%{prefix}", "syslog"), 11);
    assert_string_equal(t, "logs-syslog");
    assert_int_equal(lf_kafka_topic_name(t, sizeof(t), "%{prefix}.%{prefix}", "a"), 3);
    assert_string_equal(t, "a.a");
    assert_int_equal(lf_kafka_topic_name(t, sizeof(t), "%{prefix", "a"), 0); /* '{' */
    assert_int_equal(lf_kafka_topic_name(t, sizeof(t), "logs-%{prefix}", "we!rd"), 0);
    assert_int_equal(lf_kafka_topic_name(t, sizeof(t), "%{prefix}", "."), 0);
    assert_int_equal(lf_kafka_topic_name(t, sizeof(t), "%{prefix}", ""), 0);
    char longp[300];
    memset(longp, 'a', 249);
    longp[249] = '\0';
    assert_int_equal(lf_kafka_topic_name(t, sizeof(t), "%{prefix}", longp), 249);
    assert_int_equal(lf_kafka_topic_name(t, sizeof(t), "x%{prefix}", longp), 0);
    assert_int_equal(lf_kafka_topic_name(t, 4, "logferry", "x"), 0); /* does not fit */
}

static void test_create_errors(void **state)
{
    (void)state;
    char err[1024];
    struct lf_kafka_out_options opt = {.key = LF_KAFKA_KEY_HOST, .host = HOST};
    assert_null(lf_out_kafka_create(&opt, err, sizeof(err)));
    assert_string_equal(err, "output.kafka: no brokers");

    const char *brokers[] = {"127.0.0.1:1"};
    opt.brokers = brokers;
    opt.nbrokers = 1;
    /* A refused secret is named, its value never shown. */
    const char *names[] = {"bogus.password"}, *values[] = {"hunter2"};
    opt.prop_names = names;
    opt.prop_values = values;
    opt.nprops = 1;
    assert_null(lf_out_kafka_create(&opt, err, sizeof(err)));
    assert_non_null(strstr(err, "output.kafka.properties.bogus.password"));
    assert_null(strstr(err, "hunter2"));

    opt.nprops = 0;
    const char *prefixes[] = {"syslog", "we!rd"};
    opt.prefixes = prefixes;
    opt.nprefixes = 2;
    opt.topic = "logs-%{prefix}";
    assert_null(lf_out_kafka_create(&opt, err, sizeof(err)));
    assert_non_null(strstr(err, "'we!rd'"));

    opt.nprefixes = 0;
    opt.compression = "brotli";
    assert_null(lf_out_kafka_create(&opt, err, sizeof(err)));
    assert_non_null(strstr(err, "compression.codec"));
}

/* Value, key, headers, timestamp; acknowledgements from delivery reports;
 * the descriptor wakes the caller when reports arrive. */
static void test_delivers_with_headers(void **state)
{
    (void)state;
    struct cluster c;
    cluster_start(&c, 3);
    assert_int_equal(rd_kafka_mock_topic_create(c.mc, "logferry", 3, 1), 0);
    struct lf_kafka_out_options opt = options(&c);
    struct lf_output *o = create(&opt);
    struct recorder *r = recorder_new();
    assert_int_equal(lf_output_fd(o) >= 0, 1);

    assert_int_equal(submit_range(o, "syslog", 0, 300, 0, r), 0);
    assert_int_equal(submit_range(o, "metrics", 300, 350, 0, r), 0);
    assert_int_equal(lf_output_pending(o), 350);
    assert_int_equal(r->nsafe, 0); /* nothing before Kafka confirms */
    struct pollfd pfd = {.fd = lf_output_fd(o), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 20000), 1); /* reports wake the loop */
    assert_true(poll_until(o, nothing_pending, NULL, 20000));
    assert_safe_once(r, 0, 350);
    assert_int_equal(r->nsafe, 350);
    assert_int_equal(o->counters.submitted, 350);
    assert_int_equal(o->counters.acked, 350);
    assert_int_equal(o->counters.failed, 0);
    assert_int_equal(o->counters.spooled, 0);
    lf_output_destroy(o);

    struct topic_dump d = consume_all(&c, "logferry", 3);
    assert_int_equal(d.n, 350);
    assert_exactly(&d, "syslog", 0, 300, LF_KAFKA_KEY_HOST);
    assert_exactly(&d, "metrics", 300, 350, LF_KAFKA_KEY_HOST);
    for (size_t i = 1; i < d.n; i++) /* one key: one partition */
        assert_int_equal(d.v[i].partition, d.v[0].partition);
    dump_free(&d);
    free(r);
    cluster_stop(&c);
}

/* A topic per prefix, the id or no key, every compression codec. */
static void test_topics_keys_codecs(void **state)
{
    (void)state;
    struct cluster c;
    cluster_start(&c, 1);
    static const char *const codecs[] = {"lz4", "zstd", "gzip", "snappy", "none"};
    for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
        char topic[64], a[64], b[64];
        snprintf(topic, sizeof(topic), "t-%s-%%{prefix}", codecs[i]);
        snprintf(a, sizeof(a), "t-%s-syslog", codecs[i]);
        snprintf(b, sizeof(b), "t-%s-metrics", codecs[i]);
        assert_int_equal(rd_kafka_mock_topic_create(c.mc, a, 2, 1), 0);
        assert_int_equal(rd_kafka_mock_topic_create(c.mc, b, 2, 1), 0);
        struct lf_kafka_out_options opt = options(&c);
        opt.topic = topic;
        opt.compression = codecs[i];
        opt.key = i % 2 ? LF_KAFKA_KEY_NONE : LF_KAFKA_KEY_ID;
        struct lf_output *o = create(&opt);
        struct recorder *r = recorder_new();
        assert_int_equal(submit_range(o, "syslog", 0, 40, 200, r), 0);
        assert_int_equal(submit_range(o, "metrics", 40, 50, 0, r), 0);
        assert_true(poll_until(o, nothing_pending, NULL, 20000));
        assert_safe_once(r, 0, 50);
        lf_output_destroy(o);
        struct topic_dump d = consume_all(&c, a, 2);
        assert_exactly(&d, "syslog", 0, 40, opt.key);
        dump_free(&d);
        d = consume_all(&c, b, 2);
        assert_exactly(&d, "metrics", 40, 50, opt.key);
        dump_free(&d);
        free(r);
    }
    cluster_stop(&c);
}

/* A message larger than message.max.bytes goes to the dead-letter file with
 * the reason; its input hears `failed`; the others are delivered. */
static void test_refused_dead_letter(void **state)
{
    (void)state;
    struct cluster c;
    cluster_start(&c, 1);
    assert_int_equal(rd_kafka_mock_topic_create(c.mc, "logferry", 1, 1), 0);
    char dir[] = "/tmp/lf_kafka_dead_XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/dead.ndjson", dir);
    struct lf_kafka_out_options opt = options(&c);
    const char *names[] = {"message.max.bytes"}, *values[] = {"2000"};
    opt.prop_names = names;
    opt.prop_values = values;
    opt.nprops = 1;
    opt.dead_letter_path = path;
    struct lf_output *o = create(&opt);
    struct recorder *r = recorder_new();
    struct lf_batch *b = lf_batch_create(1 << 20, 100);
    add_doc(b, "syslog", 0, 0, r);
    add_doc(b, "syslog", 1, 5000, r); /* too large */
    add_doc(b, "syslog", 2, 0, r);
    assert_int_equal(lf_output_submit(o, b), 0);
    lf_batch_destroy(b);
    assert_true(poll_until(o, nothing_pending, NULL, 20000));
    assert_int_equal(r->safe[0], 1);
    assert_int_equal(r->safe[2], 1);
    assert_int_equal(r->failed[1], 1);
    assert_int_equal(r->safe[1], 0);
    assert_int_equal(o->counters.failed, 1);
    assert_int_equal(o->counters.acked, 2);
    lf_output_destroy(o);

    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[16384];
    assert_non_null(fgets(line, sizeof(line), f));
    assert_null(fgets(line + strlen(line), (int)(sizeof(line) - strlen(line)), f)); /* one */
    fclose(f);
    json_error_t e;
    json_t *dl = json_loads(line, 0, &e);
    assert_non_null(dl);
    char id[LF_DOC_ID_LEN + 1];
    lf_doc_id(id, HOST, SOURCE, 1);
    assert_string_equal(json_string_value(json_object_get(dl, "_id")), id);
    assert_string_equal(json_string_value(json_object_get(dl, "index")), "syslog");
    assert_string_equal(json_string_value(json_object_get(dl, "topic")), "logferry");
    assert_string_equal(json_string_value(json_object_get(json_object_get(dl, "error"), "type")),
                        "MSG_SIZE_TOO_LARGE");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(dl, "document"), "message")), "line 1");
    json_decref(dl);

    struct topic_dump d = consume_all(&c, "logferry", 1);
    assert_int_equal(d.n, 2);
    dump_free(&d);
    free(r);
    snprintf(line, sizeof(line), "rm -rf '%s'", dir);
    assert_int_equal(system(line), 0);
    cluster_stop(&c);
}

/* A topic the producer may not write: refused for good, dead letters. */
static void test_topic_authorization_refused(void **state)
{
    (void)state;
    struct cluster c;
    cluster_start(&c, 1);
    assert_int_equal(rd_kafka_mock_topic_create(c.mc, "logferry", 1, 1), 0);
    struct lf_kafka_out_options opt = options(&c);
    struct lf_output *o = create(&opt);
    struct recorder *r = recorder_new();
    /* Let the producer get its id first: the error is for Produce alone. */
    assert_int_equal(submit_range(o, "syslog", 0, 1, 0, r), 0);
    assert_true(poll_until(o, nothing_pending, NULL, 20000));
    rd_kafka_mock_push_request_errors(c.mc, 0 /* Produce */, 1,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    assert_int_equal(submit_range(o, "syslog", 1, 6, 0, r), 0);
    assert_true(poll_until(o, nothing_pending, NULL, 20000));
    assert_int_equal(r->nfailed + r->nsafe, 6);
    assert_true(r->nfailed >= 1); /* the refused request's messages */
    assert_int_equal(o->counters.failed, r->nfailed);
    lf_output_destroy(o);
    free(r);
    cluster_stop(&c);
}

/* A fatal error of the idempotent producer (here: InitProducerId refused
 * for good) makes the output start a new producer; nothing is lost. */
static void test_fatal_error_new_producer(void **state)
{
    (void)state;
    struct cluster c;
    cluster_start(&c, 1);
    assert_int_equal(rd_kafka_mock_topic_create(c.mc, "logferry", 1, 1), 0);
    rd_kafka_mock_push_request_errors(c.mc, 22 /* InitProducerId */, 1,
                                      RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED);
    struct lf_kafka_out_options opt = options(&c);
    struct lf_output *o = create(&opt);
    struct recorder *r = recorder_new();
    assert_int_equal(submit_range(o, "syslog", 0, 30, 0, r), 0);
    assert_true(poll_until(o, nothing_pending, NULL, 30000));
    assert_safe_once(r, 0, 30);
    assert_int_equal(o->counters.failed, 0);
    lf_output_destroy(o);
    struct topic_dump d = consume_all(&c, "logferry", 1);
    assert_exactly(&d, "syslog", 0, 30, LF_KAFKA_KEY_HOST);
    dump_free(&d);
    free(r);
    cluster_stop(&c);
}

static char *spool_dir(char *tmpl)
{
    assert_non_null(mkdtemp(tmpl));
    return tmpl;
}

static bool spool_is_empty(const char *dir)
{
    char err[256];
    struct lf_spool_options so = {.dir = dir};
    struct lf_spool *s = lf_spool_open(&so, err, sizeof(err));
    if (!s)
        fail_msg("%s", err);
    bool empty = lf_spool_empty(s);
    lf_spool_close(s);
    return empty;
}

/* Brokers down: what times out goes to the spool and is acknowledged, new
 * batches go straight there; back up, everything arrives exactly once and
 * the spool empties. */
static void test_down_spool_then_replay(void **state)
{
    (void)state;
    struct cluster c;
    cluster_start(&c, 1);
    assert_int_equal(rd_kafka_mock_topic_create(c.mc, "logferry", 2, 1), 0);
    char dir[] = "/tmp/lf_kafka_spool_XXXXXX";
    struct lf_kafka_out_options opt = options(&c);
    opt.delivery_timeout_ms = 1500;
    opt.spool.dir = spool_dir(dir);
    opt.batch_docs = 7; /* replay in several rounds */
    struct lf_output *o = create(&opt);
    struct recorder *r = recorder_new();

    assert_int_equal(submit_range(o, "syslog", 0, 20, 0, r), 0);
    assert_true(poll_until(o, nothing_pending, NULL, 20000));

    rd_kafka_mock_broker_set_down(c.mc, -1);
    assert_int_equal(submit_range(o, "syslog", 20, 50, 0, r), 0);
    uint64_t want = 30;
    assert_true(poll_until(o, spooled_at_least, &want, 20000));
    assert_int_equal(lf_output_pending(o), 0);
    assert_safe_once(r, 0, 50); /* safe in the spool */
    assert_int_equal(o->counters.acked, 20);

    /* Kafka is down: the next batch goes to the spool at once. */
    assert_int_equal(submit_range(o, "syslog", 50, 75, 0, r), 0);
    assert_safe_once(r, 50, 75);
    assert_int_equal(o->counters.spooled, 55);
    assert_int_equal(lf_output_pending(o), 0);

    /* Replaying while down: one probe at a time, which times out and is
     * tried again; nothing is lost or acknowledged twice meanwhile. */
    int64_t until = now_ms() + 3500;
    while (now_ms() < until)
        lf_output_poll(o, 50);
    assert_true(o->counters.retried >= 1);
    assert_int_equal(o->counters.acked, 20);

    rd_kafka_mock_broker_set_up(c.mc, -1);
    want = 75;
    assert_true(poll_until(o, acked_at_least, &want, 30000));
    /* Drained: straight to Kafka again, not through the spool. */
    assert_int_equal(submit_range(o, "syslog", 75, 80, 0, r), 0);
    assert_int_equal(o->counters.spooled, 55);
    assert_int_equal(lf_output_pending(o), 5);
    want = 80;
    assert_true(poll_until(o, acked_at_least, &want, 20000));
    assert_true(poll_until(o, nothing_pending, NULL, 20000));
    assert_safe_once(r, 0, 80);
    assert_int_equal(o->counters.failed, 0);
    lf_output_destroy(o);
    assert_true(spool_is_empty(dir));

    struct topic_dump d = consume_all(&c, "logferry", 2);
    assert_int_equal(d.n, 80);
    assert_exactly(&d, "syslog", 0, 80, LF_KAFKA_KEY_HOST);
    dump_free(&d);
    free(r);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    cluster_stop(&c);
}

/* Without a spool the events wait in memory, the inputs wait for them, and
 * once queue_max_bytes is reached submit says LF_ELIMIT; back up, each is
 * delivered and acknowledged exactly once. */
static void test_down_without_spool(void **state)
{
    (void)state;
    struct cluster c;
    cluster_start(&c, 1);
    assert_int_equal(rd_kafka_mock_topic_create(c.mc, "logferry", 1, 1), 0);
    struct lf_kafka_out_options opt = options(&c);
    opt.delivery_timeout_ms = 1000;
    opt.queue_max_bytes = 4096;
    struct lf_output *o = create(&opt);
    struct recorder *r = recorder_new();
    assert_int_equal(submit_range(o, "syslog", 0, 5, 0, r), 0);
    assert_true(poll_until(o, nothing_pending, NULL, 20000));

    rd_kafka_mock_broker_set_down(c.mc, -1);
    uint64_t next = 5;
    int rc = 0;
    while (rc == 0 && next < 200) {
        rc = submit_range(o, "syslog", next, next + 10, 0, r);
        if (rc == 0)
            next += 10;
        lf_output_poll(o, 0);
    }
    assert_int_equal(rc, LF_ELIMIT);
    assert_true(next > 5 && next < 200);
    /* The timeouts come and go; nothing is acknowledged meanwhile. */
    int64_t until = now_ms() + 3000;
    while (now_ms() < until)
        lf_output_poll(o, 50);
    assert_int_equal(r->nsafe, 5);
    assert_int_equal(lf_output_pending(o), next - 5);

    rd_kafka_mock_broker_set_up(c.mc, -1);
    assert_true(poll_until(o, nothing_pending, NULL, 30000));
    assert_safe_once(r, 0, next);
    assert_true(o->counters.retried > 0);
    lf_output_destroy(o);
    struct topic_dump d = consume_all(&c, "logferry", 1);
    assert_exactly(&d, "syslog", 0, next, LF_KAFKA_KEY_HOST);
    dump_free(&d);
    free(r);
    cluster_stop(&c);
}

/* What is still in flight when the output is destroyed goes to the spool
 * (acknowledged during destroy, never after); the next output replays it
 * first. */
static void test_destroy_spools_in_flight(void **state)
{
    (void)state;
    struct cluster c;
    cluster_start(&c, 1);
    assert_int_equal(rd_kafka_mock_topic_create(c.mc, "logferry", 1, 1), 0);
    char dir[] = "/tmp/lf_kafka_spool_XXXXXX";
    struct lf_kafka_out_options opt = options(&c);
    opt.spool.dir = spool_dir(dir);
    struct lf_output *o = create(&opt);
    struct recorder *r = recorder_new();
    rd_kafka_mock_broker_set_down(c.mc, -1);
    assert_int_equal(submit_range(o, "syslog", 0, 10, 0, r), 0);
    lf_output_poll(o, 100);
    assert_int_equal(r->nsafe, 0);
    lf_output_destroy(o);
    assert_safe_once(r, 0, 10);
    assert_false(spool_is_empty(dir));

    rd_kafka_mock_broker_set_up(c.mc, -1);
    o = create(&opt);
    uint64_t want = 10;
    assert_true(poll_until(o, acked_at_least, &want, 30000));
    lf_output_destroy(o);
    assert_true(spool_is_empty(dir));
    struct topic_dump d = consume_all(&c, "logferry", 1);
    assert_exactly(&d, "syslog", 0, 10, LF_KAFKA_KEY_HOST);
    dump_free(&d);
    free(r);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    cluster_stop(&c);
}

/* ---- the configuration section ------------------------------------------- */

static struct lf_agent_conf *load_text(const char *text, char *err, size_t errlen)
{
    char path[] = "/tmp/lf_kafka_conf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    unsigned nerr = 0;
    struct lf_agent_conf *c = lf_agent_conf_load(path, err, errlen, &nerr);
    unlink(path);
    /* Messages start with the file name: keep "line:col: ..." only. */
    size_t plen = strlen(path);
    for (char *at; (at = strstr(err, path));)
        memmove(at, at + plen + 1, strlen(at + plen + 1) + 1);
    return c;
}

static void test_config_section(void **state)
{
    (void)state;
    char err[4096];
    struct lf_agent_conf *c = load_text("agent:\n"
                                        "  name: h1\n"
                                        "  data_dir: /var/lib/x/\n"
                                        "output:\n"
                                        "  type: kafka\n"
                                        "  kafka:\n"
                                        "    brokers: ['k1:9092', 'k2:9092']\n"
                                        "    topic: 'logs-%{prefix}'\n"
                                        "    key: id\n"
                                        "    compression: zstd\n"
                                        "    delivery_timeout: 5s\n"
                                        "    properties:\n"
                                        "      linger.ms: 20\n"
                                        "      sasl.password: hunter2\n",
                                        err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    const struct lf_kafka_conf *k = &c->kafka;
    assert_int_equal(c->output_type, LF_OUTPUT_KAFKA);
    assert_int_equal(k->nbrokers, 2);
    assert_string_equal(k->brokers[1], "k2:9092");
    assert_string_equal(k->topic, "logs-%{prefix}");
    assert_int_equal(k->key, LF_KAFKA_KEY_ID);
    assert_string_equal(k->compression, "zstd");
    assert_int_equal(k->delivery_timeout_ms, 5000);
    assert_int_equal(k->queue_max_bytes, 16u << 20);
    assert_string_equal(k->dead_letter, "/var/lib/x/dead-letter-kafka.ndjson");
    assert_true(k->spool.enabled);
    assert_string_equal(k->spool.dir, "/var/lib/x/spool-kafka");
    assert_int_equal(k->nprops, 2);
    assert_string_equal(k->prop_names[0], "linger.ms");
    assert_string_equal(k->prop_values[0], "20");
    lf_agent_conf_free(c);

    /* The defaults alone. */
    c = load_text("output:\n  type: kafka\n", err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(c->kafka.nbrokers, 1);
    assert_string_equal(c->kafka.brokers[0], "localhost:9092");
    assert_string_equal(c->kafka.topic, "logferry");
    assert_int_equal(c->kafka.key, LF_KAFKA_KEY_HOST);
    assert_string_equal(c->kafka.compression, "lz4");
    assert_int_equal(c->kafka.delivery_timeout_ms, 30000);
    lf_agent_conf_free(c);

    /* Every problem at its place; librdkafka judges the properties, and
     * never shows a secret's value. */
    c = load_text("inputs:\n"
                  "  metrics:\n"
                  "    enabled: false\n"
                  "  files:\n"
                  "    - paths: [/x/*.log]\n"
                  "      index: 'we!rd'\n"
                  "output:\n"
                  "  type: kafka\n"
                  "  kafka:\n"
                  "    brokers: ['a:1,b:2']\n"
                  "    topic: 'logs-%{prefix}'\n"
                  "    compression: brotli\n"
                  "    properties:\n"
                  "      linger.ms: abc\n"
                  "      bogus.password: hunter2\n",
                  err, sizeof(err));
    assert_null(c);
    assert_string_equal(
        err, "10:15: output.kafka.brokers[0]: expected one broker per item, host:port with a port from 1 to 65535, got "
             "'a:1,b:2'\n"
             "11:12: output.kafka.topic: with index prefix 'we!rd', 'logs-%{prefix}' is not a "
             "valid topic name (1 to 249 of letters, digits, '.', '_' and '-')\n"
             "12:18: output.kafka.compression: expected one of lz4, zstd, gzip, snappy, none, got "
             "'brotli'\n"
             "14:18: output.kafka.properties.linger.ms: Invalid value for configuration property "
             "\"queue.buffering.max.ms\"\n"
             "15:23: output.kafka.properties.bogus.password: refused by librdkafka\n");
    c = load_text("output:\n  kafka:\n    topic: 'bad topic'\n", err, sizeof(err));
    assert_null(c);
    assert_string_equal(err, "3:12: output.kafka.topic: expected a topic name of letters, digits, "
                             "'.', '_' and '-' where %{prefix} stands for the index prefix, got "
                             "'bad topic'\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_names),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_config_section),
        cmocka_unit_test(test_delivers_with_headers),
        cmocka_unit_test(test_topics_keys_codecs),
        cmocka_unit_test(test_refused_dead_letter),
        cmocka_unit_test(test_topic_authorization_refused),
        cmocka_unit_test(test_fatal_error_new_producer),
        cmocka_unit_test(test_down_spool_then_replay),
        cmocka_unit_test(test_down_without_spool),
        cmocka_unit_test(test_destroy_spools_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
