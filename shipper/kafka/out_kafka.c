/*
 * out_kafka.c - the Kafka output: an idempotent librdkafka producer
 * (enable.idempotence, acks=all) whose delivery reports acknowledge the
 * documents. The message format is in kafka_common.h and docs/KAFKA.md.
 *
 * The path of a document: submit() hands each document of a batch to
 * librdkafka (value = the JSON, headers = index prefix, id, time), or, when
 * Kafka is unreachable or behind, appends the batch to the spool and
 * acknowledges the inputs at once (the spool is durable). The delivery
 * reports arrive on librdkafka's main queue, which writes a byte to a pipe
 * the agent's loop watches; poll() serves them:
 *
 *   delivered          the input's ack target is told (a spool record is
 *                      acknowledged in the spool instead);
 *   failed, retriable  (the message timed out: no broker took it within
 *                      message.timeout.ms, or the producer was purged) a copy
 *                      of the message goes to the spool and the input is
 *                      acknowledged once the spool has committed it; without a
 *                      spool, or for a record that came from the spool, it is
 *                      produced again after a backoff;
 *   failed for good    (too large, topic authorization, invalid topic) the
 *                      document goes to the dead-letter file with the reason,
 *                      then its `failed` target is told.
 *
 * "Down" starts when a delivery fails for a reason other than a refusal and
 * ends with the next delivery that succeeds. While down, new batches go to
 * the spool (without one they wait in memory, up to queue_max_bytes); so do
 * batches beyond queue_max_bytes while Kafka is behind (see kafka_behind), and
 * what is sent again goes one message at a time, as a probe: librdkafka
 * keeps retrying it, so the first success after the brokers return ends the
 * outage at once. A fatal error of the producer (it lost its idempotence
 * guarantees) takes every message back and starts a new producer.
 *
 * The spool is replayed oldest first, records acknowledged in it only after
 * their delivery reports succeed; a record replayed after a crash is a
 * duplicate the consumer recognises by its document id.
 *
 * librdkafka is driven with its event API (RD_KAFKA_EVENT_DR), so delivery
 * reports are handled here in poll(), on the caller's thread, never in a
 * callback of librdkafka's threads. Memory is bounded by queue_max_bytes of
 * JSON in flight or waiting to be sent again.
 */
#define _POSIX_C_SOURCE 200809L
#include "dead_letter.h"
#include "kafka_common.h"
#include "shipper.h"
#include "spooler.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COMPONENT "out_kafka"
#define DEFAULT_TOPIC "logferry"
#define DEFAULT_COMPRESSION "lz4"
#define DEFAULT_DELIVERY_TIMEOUT_MS 30000
#define DEFAULT_QUEUE_MAX_BYTES (16u << 20)
#define RETRY_MIN_MS 200
#define RETRY_MAX_MS 10000
#define DEAD_RETRY_MS 1000   /* after the dead-letter file failed */
#define SPOOL_RETRY_MS 1000  /* after the spool failed or was full */
/* Nothing delivered for this long with messages in flight: Kafka is behind. */
#define BEHIND_AFTER_MS 2000
#define RESTART_MAX_MS 30000 /* between new producers, when each fails for good */
#define DESTROY_FLUSH_MS 1000
#define PURGE_WAIT_MS 5000
#define FAIL_LOG_INTERVAL_MS 10000

/* One document handed to librdkafka, or waiting to be handed again. */
struct kmsg {
    struct kmsg *prev, *next;  /* in flight: the in-flight list; else a queue */
    struct lf_ack_target *ack; /* a document from an input: whom to tell */
    uint64_t seq;              /* the input's, or the spool ackq's */
    int64_t ts_ms;
    char *json;   /* our own copy (a message that failed once), or NULL */
    uint32_t len; /* of the JSON */
    uint32_t topic;
    bool from_spool;
    bool dead_added;         /* handed to the dead-letter writer */
    rd_kafka_resp_err_t err; /* why its last delivery failed */
    char id[LF_DOC_ID_LEN + 1];
};

/* A FIFO of messages out of librdkafka's hands. */
struct kqueue {
    struct kmsg *head, *tail;
    size_t n;
};

/* One index prefix and its topic. */
struct ktopic {
    char *prefix;
    char name[LF_KAFKA_TOPIC_MAX + 1];
    bool valid;            /* the name is a legal topic name */
    rd_kafka_topic_t *rkt; /* of the current producer, made when first used */
};

struct kafka_out {
    struct lf_output base;
    struct lf_kafka_out_options opt;
    size_t host_len;

    rd_kafka_conf_t *conf; /* a copy of it makes each producer */
    rd_kafka_t *rk;        /* NULL between a fatal error and the next producer */
    rd_kafka_queue_t *mainq;
    int wake_rd, wake_wr; /* librdkafka writes to wake_wr when events arrive */
    int64_t restart_at_ms;
    unsigned restarts; /* producers that failed for good since a delivery */

    struct ktopic **topics;
    size_t ntopics, topics_cap;
    const char *last_prefix; /* the last prefix pointer looked up, and its topic */
    uint32_t last_topic;

    struct kmsg *inflight; /* in librdkafka's hands, waiting for a report */
    size_t inflight_docs;
    struct kqueue retry;   /* produced again at retry_at_ms */
    struct kqueue tospool; /* input documents to put in the spool */
    struct kqueue dead;    /* for the dead-letter file */
    int64_t retry_at_ms;
    unsigned retry_round; /* rounds of retries that failed again, for the backoff */
    size_t mem_bytes;     /* JSON of every message we track */
    size_t mem_docs;      /* documents from inputs not acknowledged yet */
    bool down;
    int64_t delivered_ms; /* monotonic: the last message Kafka took */
    int64_t busy_ms;      /* monotonic: when messages went in flight after none */
    int64_t down_since_ms;
    uint64_t fails_unlogged;
    int64_t fail_logged_ms;
    rd_kafka_resp_err_t last_fail;

    struct lf_spooler *spool;
    int64_t spool_retry_at_ms;

    struct lf_dead_letters *dead_letters;
    int64_t dead_retry_at_ms;

    bool closing; /* in destroy: nothing is produced any more */
};

/* ---- small helpers ------------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void kq_push(struct kqueue *q, struct kmsg *m)
{
    m->prev = NULL;
    m->next = NULL;
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->n++;
}

static struct kmsg *kq_pop(struct kqueue *q)
{
    struct kmsg *m = q->head;
    if (m) {
        q->head = m->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        m->next = NULL;
    }
    return m;
}

/* Puts m back at the front (it was popped and could not be handled). */
static void kq_unpop(struct kqueue *q, struct kmsg *m)
{
    m->next = q->head;
    q->head = m;
    if (!q->tail)
        q->tail = m;
    q->n++;
}

static void inflight_link(struct kafka_out *o, struct kmsg *m)
{
    m->prev = NULL;
    m->next = o->inflight;
    if (!o->inflight)
        o->busy_ms = mono_ms();
    if (o->inflight)
        o->inflight->prev = m;
    o->inflight = m;
    o->inflight_docs++;
}

static void inflight_unlink(struct kafka_out *o, struct kmsg *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        o->inflight = m->next;
    if (m->next)
        m->next->prev = m->prev;
    m->prev = m->next = NULL;
    o->inflight_docs--;
}

/* A message to track; an input's document counts as pending until settled. */
static struct kmsg *msg_new(struct kafka_out *o, uint32_t topic, const char *id, int64_t ts_ms,
                            size_t len, bool from_spool)
{
    struct kmsg *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->from_spool = from_spool;
    o->mem_docs += !from_spool;
    m->topic = topic;
    m->ts_ms = ts_ms;
    m->len = (uint32_t)len;
    memcpy(m->id, id, LF_DOC_ID_LEN);
    m->id[LF_DOC_ID_LEN] = '\0';
    o->mem_bytes += len;
    return m;
}

/* Forgets a message; whoever waited for it has been told (or never will). */
static void msg_free(struct kafka_out *o, struct kmsg *m)
{
    o->mem_bytes -= m->len;
    if (!m->from_spool)
        o->mem_docs--;
    free(m->json);
    free(m);
}

static void kq_free(struct kafka_out *o, struct kqueue *q)
{
    struct kmsg *m;
    while ((m = kq_pop(q)))
        msg_free(o, m);
}

/* Keeps a copy of the JSON, for a message that leaves librdkafka's hands
 * before it is delivered. Returns 0 or LF_ENOMEM. */
static int msg_keep_json(struct kmsg *m, const void *json)
{
    if (m->json)
        return 0;
    if (!(m->json = malloc(m->len ? m->len : 1)))
        return LF_ENOMEM;
    memcpy(m->json, json, m->len);
    return 0;
}

size_t lf_kafka_topic_name(char *out, size_t outlen, const char *pattern, const char *prefix)
{
    static const char placeholder[] = "%{prefix}";
    const size_t plen = sizeof(placeholder) - 1;
    size_t n = 0;
    if (!pattern)
        pattern = DEFAULT_TOPIC;
    if (outlen == 0)
        return 0;
    for (const char *p = pattern; *p;) {
        const char *part = p;
        size_t len = 1;
        if (strncmp(p, placeholder, plen) == 0) {
            part = prefix;
            len = strlen(prefix);
            p += plen;
        } else {
            p++;
        }
        if (n + len >= outlen || n + len > LF_KAFKA_TOPIC_MAX)
            return 0;
        memcpy(out + n, part, len);
        n += len;
    }
    out[n] = '\0';
    if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = out[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n;
}

/* The topic of an index prefix, added when first seen. Returns 0 with its
 * index in *at, or LF_ENOMEM. A prefix whose topic name is not valid still
 * gets an entry (its documents become dead letters). */
static int topic_of(struct kafka_out *o, const char *prefix, size_t len, uint32_t *at)
{
    for (size_t i = 0; i < o->ntopics; i++)
        if (strlen(o->topics[i]->prefix) == len && memcmp(o->topics[i]->prefix, prefix, len) == 0) {
            *at = (uint32_t)i;
            return 0;
        }
    if (o->ntopics == o->topics_cap) {
        size_t cap = o->topics_cap ? o->topics_cap * 2 : 8;
        struct ktopic **t = realloc(o->topics, cap * sizeof(*t));
        if (!t)
            return LF_ENOMEM;
        o->topics = t;
        o->topics_cap = cap;
    }
    struct ktopic *t = calloc(1, sizeof(*t));
    if (!t || !(t->prefix = strndup(prefix, len))) {
        free(t);
        return LF_ENOMEM;
    }
    t->valid = lf_kafka_topic_name(t->name, sizeof(t->name), o->opt.topic, t->prefix) > 0;
    if (!t->valid) {
        snprintf(t->name, sizeof(t->name), "%s", o->opt.topic ? o->opt.topic : DEFAULT_TOPIC);
        lf_log(LF_LOG_ERROR, COMPONENT,
               "index prefix '%s' makes no valid topic name from '%s': its events go to the "
               "dead-letter file",
               t->prefix, t->name);
    }
    o->topics[o->ntopics] = t;
    *at = (uint32_t)o->ntopics++;
    return 0;
}

/* The same for a document's prefix, remembering the last one: a batch
 * mostly holds one prefix. (The pointer alone is not trusted: a prefix only
 * has to outlive its batch, and its memory may hold another one later.) */
static int topic_of_doc(struct kafka_out *o, const char *prefix, uint32_t *at)
{
    if (prefix == o->last_prefix && strcmp(prefix, o->topics[o->last_topic]->prefix) == 0) {
        *at = o->last_topic;
        return 0;
    }
    int rc = topic_of(o, prefix, strlen(prefix), at);
    if (!rc) {
        o->last_prefix = prefix;
        o->last_topic = *at;
    }
    return rc;
}

/* ---- the producer ---------------------------------------------------------- */

/*
 * Refusals for good: sending the message again cannot help. Everything else
 * (timeouts, unreachable brokers, leader changes, a purge, a fatal error of
 * the idempotent producer, authorization of the whole cluster) is retried:
 * an operator may have to act, but nothing is dropped meanwhile.
 */
static bool refused_for_good(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        return true;
    default:
        return false;
    }
}

/* Hands m to librdkafka: its JSON is m->json when we hold a copy (librdkafka
 * then reads ours, which lives until the report), else `json`, copied.
 * Returns librdkafka's refusal, or NO_ERROR when m is in flight. */
static rd_kafka_resp_err_t produce(struct kafka_out *o, struct kmsg *m, const char *json)
{
    struct ktopic *t = o->topics[m->topic];
    if (!t->valid)
        return RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION;
    if (!t->rkt && !(t->rkt = rd_kafka_topic_new(o->rk, t->name, NULL)))
        return rd_kafka_last_error();
    const void *key = NULL;
    size_t keylen = 0;
    if (o->opt.key == LF_KAFKA_KEY_HOST) {
        key = o->opt.host;
        keylen = o->host_len;
    } else if (o->opt.key == LF_KAFKA_KEY_ID) {
        key = m->id;
        keylen = LF_DOC_ID_LEN;
    }
    char ts[24];
    int tslen = snprintf(ts, sizeof(ts), "%" PRId64, m->ts_ms);
    /* librdkafka reads a timestamp of 0 as "now": times before 1970 get that. */
    rd_kafka_resp_err_t err = rd_kafka_producev(
        o->rk, RD_KAFKA_V_RKT(t->rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
        RD_KAFKA_V_MSGFLAGS((m->json ? 0 : RD_KAFKA_MSG_F_COPY)),
        RD_KAFKA_V_VALUE((m->json ? m->json : (void *)json), m->len), RD_KAFKA_V_KEY(key, keylen),
        RD_KAFKA_V_TIMESTAMP((m->ts_ms > 0 ? m->ts_ms : 0)),
        RD_KAFKA_V_HEADER(LF_KAFKA_HDR_INDEX, t->prefix, (ssize_t)strlen(t->prefix)),
        RD_KAFKA_V_HEADER(LF_KAFKA_HDR_ID, m->id, LF_DOC_ID_LEN),
        RD_KAFKA_V_HEADER(LF_KAFKA_HDR_TS, ts, tslen), RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_END);
    if (!err)
        inflight_link(o, m);
    return err;
}

static void note_failure(struct kafka_out *o, rd_kafka_resp_err_t err)
{
    o->fails_unlogged++;
    o->last_fail = err;
    if (err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT ||
        err == RD_KAFKA_RESP_ERR__FATAL)
        return; /* our doing, or a new producer's business: not an outage */
    if (!o->down) {
        o->down = true;
        o->down_since_ms = o->fail_logged_ms = mono_ms();
        lf_log(LF_LOG_WARN, COMPONENT, "Kafka did not take a message (%s): %s until it does",
               rd_kafka_err2str(err),
               o->spool ? "spooling new events" : "holding events in memory");
    }
}

/* Logs how many deliveries failed since the last such line, at most every
 * FAIL_LOG_INTERVAL_MS. */
static void log_failures(struct kafka_out *o, bool now)
{
    int64_t t = mono_ms();
    if (!o->fails_unlogged || (!now && t - o->fail_logged_ms < FAIL_LOG_INTERVAL_MS))
        return;
    lf_log(LF_LOG_WARN, COMPONENT, "%" PRIu64 " deliveries failed (last: %s); %s",
           o->fails_unlogged, rd_kafka_err2str(o->last_fail),
           o->spool ? "their events go to the spool or are sent again"
                    : "their events are sent again");
    o->fails_unlogged = 0;
    o->fail_logged_ms = t;
}

/* A message left librdkafka without being delivered: keep it for the
 * dead-letter file, the spool or another attempt. */
static void msg_failed(struct kafka_out *o, struct kmsg *m, rd_kafka_resp_err_t err,
                       const void *json)
{
    m->err = err;
    if (msg_keep_json(m, json)) {
        /* Not acknowledged: a file input reads it again after a restart, a
         * spool record is sent again then. Never reported as delivered. */
        lf_log(LF_LOG_ERROR, COMPONENT,
               "out of memory keeping undelivered document %s: it waits for a restart", m->id);
        msg_free(o, m);
        return;
    }
    if (refused_for_good(err)) {
        kq_push(&o->dead, m);
        return;
    }
    note_failure(o, err);
    if (!m->from_spool && o->spool)
        kq_push(&o->tospool, m);
    else
        kq_push(&o->retry, m);
}

static void spool_settle(struct kafka_out *o, const struct kmsg *m)
{
    lf_spooler_settle(o->spool, m->seq);
}

static void msg_delivered(struct kafka_out *o, struct kmsg *m)
{
    o->base.counters.acked++;
    o->delivered_ms = mono_ms();
    o->restarts = 0;
    if (m->from_spool)
        spool_settle(o, m);
    else if (m->ack)
        m->ack->safe(m->ack, m->seq);
    if (o->down) {
        if (o->spool) /* what the outage cost, before the line that ends it */
            o->base.counters.dropped = lf_spooler_tick(o->spool, true);
        lf_log(LF_LOG_INFO, COMPONENT,
               "Kafka takes messages again (%lld ms after the first failed delivery)",
               (long long)(mono_ms() - o->down_since_ms));
        o->down = false;
        o->retry_round = 0;
        o->retry_at_ms = 0;
    }
    msg_free(o, m);
}

static void on_delivery_report(struct kafka_out *o, rd_kafka_event_t *ev)
{
    const rd_kafka_message_t *msg;
    while ((msg = rd_kafka_event_message_next(ev))) {
        struct kmsg *m = msg->_private;
        if (!m)
            continue;
        inflight_unlink(o, m);
        if (msg->err)
            msg_failed(o, m, msg->err, msg->payload);
        else
            msg_delivered(o, m);
    }
}

/* Errors are news: delivery reports are what we act on (fatal errors are
 * picked up after serving). Connection failures are in librdkafka's own log
 * already. */
static void log_error_event(rd_kafka_event_t *ev)
{
    rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
    enum lf_log_level level = LF_LOG_WARN;
    if (rd_kafka_event_error_is_fatal(ev))
        level = LF_LOG_ERROR;
    else if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__RESOLVE)
        level = LF_LOG_DEBUG;
    lf_log(level, COMPONENT, "%s", rd_kafka_event_error_string(ev));
}

/* Serves librdkafka's main queue: the first wait up to timeout_ms, then
 * whatever is there. */
static void serve(struct kafka_out *o, int timeout_ms)
{
    rd_kafka_event_t *ev;
    while (o->mainq && (ev = rd_kafka_queue_poll(o->mainq, timeout_ms))) {
        timeout_ms = 0;
        switch (rd_kafka_event_type(ev)) {
        case RD_KAFKA_EVENT_DR:
            on_delivery_report(o, ev);
            break;
        case RD_KAFKA_EVENT_ERROR:
            log_error_event(ev);
            break;
        default:
            break;
        }
        rd_kafka_event_destroy(ev);
    }
}

static void drain_wake_pipe(struct kafka_out *o)
{
    char buf[256];
    while (read(o->wake_rd, buf, sizeof(buf)) > 0)
        ;
}

static int create_producer(struct kafka_out *o, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(o->conf);
    if (!conf) {
        snprintf(err, errlen, "out of memory");
        return LF_ENOMEM;
    }
    char why[512];
    o->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (!o->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "output.kafka: cannot create the producer: %s", why);
        return LF_EINVAL;
    }
    o->mainq = rd_kafka_queue_get_main(o->rk);
    rd_kafka_queue_io_event_enable(o->mainq, o->wake_wr, "1", 1);
    return 0;
}

/* Lets go of the producer. Messages whose report never came are gone with
 * it: they are not acknowledged (a file input reads them again after a
 * restart, spool records are sent again then). */
static void destroy_producer(struct kafka_out *o)
{
    for (size_t i = 0; i < o->ntopics; i++)
        if (o->topics[i]->rkt) {
            rd_kafka_topic_destroy(o->topics[i]->rkt);
            o->topics[i]->rkt = NULL;
        }
    if (o->mainq) {
        rd_kafka_queue_io_event_enable(o->mainq, -1, NULL, 0);
        rd_kafka_queue_destroy(o->mainq);
        o->mainq = NULL;
    }
    if (o->rk) {
        rd_kafka_destroy(o->rk);
        o->rk = NULL;
    }
    if (o->inflight_docs)
        lf_log(LF_LOG_WARN, COMPONENT,
               "%zu messages without a delivery report: not acknowledged, read again after a "
               "restart",
               o->inflight_docs);
    while (o->inflight) {
        struct kmsg *m = o->inflight;
        inflight_unlink(o, m);
        msg_free(o, m);
    }
}

/* Takes every message back from librdkafka (their reports fail with a
 * purge error and keep them for later), waiting up to wait_ms. */
static void purge_all(struct kafka_out *o, int64_t wait_ms)
{
    if (!o->rk || !o->inflight_docs)
        return;
    rd_kafka_purge(o->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    int64_t until = mono_ms() + wait_ms;
    while (o->inflight_docs && mono_ms() < until)
        serve(o, 50);
}

/* After a fatal error (the idempotent producer lost its guarantees, say) a
 * producer is unusable: take its messages back and start a new one. */
static void check_fatal(struct kafka_out *o)
{
    char why[512];
    if (!o->rk || !rd_kafka_fatal_error(o->rk, why, sizeof(why)))
        return;
    /* The first new producer at once; if they keep failing (a cluster
     * that refuses us), each waits longer, up to RESTART_MAX_MS. */
    int64_t wait = o->restarts ? 1000 : 0;
    for (unsigned i = 1; i < o->restarts && wait < RESTART_MAX_MS; i++)
        wait *= 2;
    if (wait > RESTART_MAX_MS)
        wait = RESTART_MAX_MS;
    o->restarts++;
    lf_log(LF_LOG_ERROR, COMPONENT, "producer failed for good (%s): a new one in %lld ms", why,
           (long long)wait);
    purge_all(o, PURGE_WAIT_MS);
    destroy_producer(o);
    o->restart_at_ms = mono_ms() + wait;
}

static void restart_if_due(struct kafka_out *o)
{
    if (o->rk || o->closing || mono_ms() < o->restart_at_ms)
        return;
    char err[600];
    if (create_producer(o, err, sizeof(err))) {
        lf_log(LF_LOG_ERROR, COMPONENT, "%s (trying again in %d ms)", err, RESTART_MAX_MS);
        o->restart_at_ms = mono_ms() + RESTART_MAX_MS;
    } else {
        lf_log(LF_LOG_INFO, COMPONENT, "new producer started");
    }
}

/* ---- the dead-letter file ------------------------------------------------ */

/* Writes and syncs the dead letters, then tells their inputs (`failed`).
 * When the file cannot be written they wait and are tried again. */
static void flush_dead(struct kafka_out *o)
{
    if (!o->dead.n || mono_ms() < o->dead_retry_at_ms)
        return;
    for (struct kmsg *m = o->dead.head; m; m = m->next) {
        if (m->dead_added)
            continue;
        const struct ktopic *t = o->topics[m->topic];
        struct lf_dead_letter dl = {.index = t->prefix,
                                    .topic = t->name,
                                    .id = m->id,
                                    .type = rd_kafka_err2name(m->err),
                                    .reason = rd_kafka_err2str(m->err),
                                    .json = m->json,
                                    .len = m->len};
        if (lf_dead_letters_add(o->dead_letters, &dl))
            break;
        m->dead_added = true;
    }
    if (lf_dead_letters_flush(o->dead_letters)) {
        o->dead_retry_at_ms = mono_ms() + DEAD_RETRY_MS;
        return;
    }
    struct kmsg *m;
    while ((m = o->dead.head) && m->dead_added) {
        kq_pop(&o->dead);
        o->base.counters.failed++;
        if (m->from_spool)
            spool_settle(o, m);
        else if (m->ack)
            (m->ack->failed ? m->ack->failed : m->ack->safe)(m->ack, m->seq);
        msg_free(o, m);
    }
    if (o->dead.n)
        o->dead_retry_at_ms = mono_ms() + DEAD_RETRY_MS;
}

/* ---- the spool ------------------------------------------------------------ */

/* Whether Kafka is away: then, and only then, a full spool under
 * `when_full: drop_oldest` drops its oldest records. */
static bool kafka_away(const struct kafka_out *o)
{
    return o->down || !o->rk;
}

/* Appends a batch to the spool and acknowledges its inputs once committed.
 * Returns 0, LF_ELIMIT (the spool is full: the inputs wait), or LF_EIO. */
static int spool_batch(struct kafka_out *o, struct lf_batch *b)
{
    /* Unacknowledged bytes: what a full spool under `block` refuses. */
    uint64_t need = b->buf.len + b->ndocs * (LF_SPOOL_RECORD_OVERHEAD + 300);
    if (!lf_spooler_room(o->spool, need, kafka_away(o)))
        return LF_ELIMIT;
    for (size_t i = 0; i < b->ndocs; i++) {
        const struct lf_doc *d = &b->docs[i];
        int rc = lf_spooler_put(o->spool, d->index, d->ts_ms, d->id, b->buf.data + d->off, d->len);
        if (rc)
            /* What went in is sent anyway; the batch comes again (same ids). */
            return rc == LF_ELIMIT ? rc : LF_EIO;
    }
    int rc = lf_spooler_commit(o->spool, !o->rk    ? "no producer"
                                         : o->down ? "Kafka is unreachable"
                                                   : "Kafka is behind");
    if (rc)
        return rc;
    o->base.counters.submitted += b->ndocs;
    o->base.counters.bytes += b->buf.len;
    o->base.counters.spooled += b->ndocs;
    lf_output_ack_batch(&o->base, b);
    o->base.counters.acked -= b->ndocs; /* counted when Kafka takes them */
    return 0;
}

/* Puts the input documents whose delivery failed into the spool; once it has
 * committed them their inputs are told. What does not fit is sent again. */
static void spool_failed(struct kafka_out *o)
{
    if (!o->tospool.n || mono_ms() < o->spool_retry_at_ms)
        return;
    size_t appended = 0;
    int rc = 0;
    lf_spooler_room(o->spool, 0, kafka_away(o)); /* the policy for these appends */
    for (struct kmsg *m = o->tospool.head; m; m = m->next) {
        rc =
            lf_spooler_put(o->spool, o->topics[m->topic]->prefix, m->ts_ms, m->id, m->json, m->len);
        if (rc)
            break;
        appended++;
    }
    if (appended && lf_spooler_commit(o->spool, "deliveries failed") != 0)
        appended = 0; /* appended again next time: a duplicate record is harmless */
    if (appended < o->tospool.n) {
        if (rc == LF_ELIMIT)
            lf_log(LF_LOG_WARN, COMPONENT, "spool full: %zu events wait in memory",
                   o->tospool.n - appended);
        o->spool_retry_at_ms = mono_ms() + SPOOL_RETRY_MS;
    }
    for (size_t i = 0; i < appended; i++) {
        struct kmsg *m = kq_pop(&o->tospool);
        o->base.counters.spooled++;
        if (m->ack)
            m->ack->safe(m->ack, m->seq);
        msg_free(o, m);
    }
    /* The rest is produced again, if the spool cannot take it. */
    if (o->tospool.n && rc) {
        struct kmsg *m;
        while ((m = kq_pop(&o->tospool)))
            kq_push(&o->retry, m);
    }
}

/* Whether records can be read from the spool and produced now. */
static bool can_replay(const struct kafka_out *o)
{
    if (!o->spool || !lf_spooler_readable(o->spool) || !o->rk || o->closing || o->retry.n)
        return false;
    if (o->down && o->inflight_docs)
        return false; /* one probe at a time */
    return o->mem_bytes < o->opt.queue_max_bytes;
}

/* Produces records from the spool, oldest first, up to a batch a call. */
static void replay(struct kafka_out *o)
{
    if (!can_replay(o) || mono_ms() < o->spool_retry_at_ms)
        return;
    size_t docs = 0, bytes = 0;
    while (docs < o->opt.batch_docs && bytes < o->opt.batch_bytes && can_replay(o)) {
        struct lf_spool_doc d;
        uint64_t seq;
        int rc = lf_spooler_take(o->spool, &d, &seq);
        if (rc == LF_ENOENT || rc == LF_ELIMIT)
            break;
        if (rc) { /* logged by the spool; tried again a little later */
            o->spool_retry_at_ms = mono_ms() + SPOOL_RETRY_MS;
            break;
        }
        uint32_t topic;
        struct kmsg *m = NULL;
        if (topic_of(o, d.prefix, d.prefix_len, &topic) ||
            !(m = msg_new(o, topic, d.id, d.ts_ms, d.len, true))) {
            /* The record comes again when reading starts over from the first
             * unsettled record, once nothing from the spool is out (a few
             * duplicates, nothing lost). */
            lf_log(LF_LOG_ERROR, COMPONENT, "out of memory replaying the spool");
            lf_spooler_untake(o->spool);
            o->spool_retry_at_ms = mono_ms() + SPOOL_RETRY_MS;
            break;
        }
        m->seq = seq;
        rd_kafka_resp_err_t err = produce(o, m, d.json);
        if (err)
            msg_failed(o, m, err, d.json);
        docs++;
        bytes += d.len;
    }
}

/* ---- retries -------------------------------------------------------------- */

static int64_t retry_backoff_ms(unsigned round)
{
    int64_t d = RETRY_MIN_MS;
    for (unsigned i = 0; i < round && d < RETRY_MAX_MS; i++)
        d *= 2;
    return d < RETRY_MAX_MS ? d : RETRY_MAX_MS;
}

/* Produces again what failed, when its time has come; while Kafka is down,
 * one message at a time. */
static void resend(struct kafka_out *o)
{
    if (!o->retry.n || !o->rk || o->closing || (o->down && o->inflight_docs))
        return;
    int64_t now = mono_ms();
    if (o->retry_at_ms == 0)
        o->retry_at_ms = now + retry_backoff_ms(o->retry_round++);
    if (now < o->retry_at_ms)
        return;
    o->retry_at_ms = 0; /* the next round's wait starts when it is needed */
    struct kmsg *m;
    while (!(o->down && o->inflight_docs) && (m = kq_pop(&o->retry))) {
        rd_kafka_resp_err_t err = produce(o, m, m->json);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            o->base.counters.retried++;
        } else if (refused_for_good(err)) {
            m->err = err;
            kq_push(&o->dead, m);
        } else {
            kq_unpop(&o->retry, m);
            note_failure(o, err);
            break;
        }
    }
}

/* ---- the output interface ------------------------------------------------- */

/* Work that follows serving the queue. */
static void after_serve(struct kafka_out *o)
{
    check_fatal(o);
    restart_if_due(o);
    flush_dead(o);
    spool_failed(o);
    resend(o);
    replay(o);
    log_failures(o, false);
    lf_dead_letters_tick(o->dead_letters, false);
    if (o->spool)
        o->base.counters.dropped = lf_spooler_tick(o->spool, false);
}

/*
 * Whether Kafka is behind: down, messages waiting to be produced again, or
 * nothing delivered for BEHIND_AFTER_MS while messages are in flight. Then
 * a full memory queue spills new batches to the spool; a backlog that a
 * healthy cluster takes at full speed makes the input wait instead (its
 * file keeps the data) rather than pay for writing and reading it back.
 */
static bool kafka_behind(const struct kafka_out *o)
{
    if (o->down || o->retry.n || !o->rk)
        return true;
    if (!o->inflight_docs)
        return false;
    int64_t progress = o->delivered_ms > o->busy_ms ? o->delivered_ms : o->busy_ms;
    return mono_ms() - progress > BEHIND_AFTER_MS;
}

static int kafka_submit(struct lf_output *base, struct lf_batch *b)
{
    struct kafka_out *o = (struct kafka_out *)base;
    if (b->ndocs == 0)
        return 0;
    bool room = o->mem_bytes + b->buf.len <= o->opt.queue_max_bytes || o->mem_bytes == 0;
    /* While Kafka takes messages, new batches go to it even when the spool
     * still drains: replay() produces from the spool beside them. */
    if (o->spool && (o->down || !o->rk || (!room && kafka_behind(o))))
        return spool_batch(o, b);
    if (!room || !o->rk)
        return LF_ELIMIT;
    /* Everything that can fail is done before the first message goes out:
     * once one is produced the batch is taken. */
    struct kmsg **msgs = calloc(b->ndocs, sizeof(*msgs));
    if (!msgs)
        return LF_ENOMEM;
    for (size_t i = 0; i < b->ndocs; i++) {
        const struct lf_doc *d = &b->docs[i];
        uint32_t topic;
        if (topic_of_doc(o, d->index, &topic) ||
            !(msgs[i] = msg_new(o, topic, d->id, d->ts_ms, d->len, false))) {
            for (size_t j = 0; j < i; j++)
                msg_free(o, msgs[j]);
            free(msgs);
            return LF_ENOMEM;
        }
        msgs[i]->ack = d->ack;
        msgs[i]->seq = d->seq;
    }
    o->base.counters.submitted += b->ndocs;
    o->base.counters.bytes += b->buf.len;
    for (size_t i = 0; i < b->ndocs; i++) {
        const char *json = b->buf.data + b->docs[i].off;
        rd_kafka_resp_err_t err = produce(o, msgs[i], json);
        if (err)
            msg_failed(o, msgs[i], err, json);
    }
    free(msgs);
    /* Refusals and the spool are dealt with now: the batch's buffer is
     * copied where needed, and the inputs hear back soonest. */
    flush_dead(o);
    spool_failed(o);
    return 0;
}

static int kafka_poll(struct lf_output *base, int timeout_ms)
{
    struct kafka_out *o = (struct kafka_out *)base;
    drain_wake_pipe(o); /* before serving: an event arriving later writes again */
    serve(o, o->rk ? timeout_ms : 0);
    after_serve(o);
    return 0;
}

static size_t kafka_pending(const struct lf_output *base)
{
    /* Spooled documents are safe already: only the others keep inputs waiting. */
    return ((const struct kafka_out *)base)->mem_docs;
}

static int kafka_fd(const struct lf_output *base)
{
    return ((const struct kafka_out *)base)->wake_rd;
}

static int64_t earliest(int64_t a, int64_t b)
{
    return a < 0 || (b >= 0 && b < a) ? b : a;
}

static int64_t kafka_deadline(const struct lf_output *base)
{
    const struct kafka_out *o = (const struct kafka_out *)base;
    int64_t d = -1, now = mono_ms();
    if (!o->rk)
        d = earliest(d, o->restart_at_ms);
    if (o->dead.n)
        d = earliest(d, o->dead_retry_at_ms);
    if (o->tospool.n)
        d = earliest(d, o->spool_retry_at_ms);
    if (o->retry.n && o->rk && !(o->down && o->inflight_docs))
        d = earliest(d, o->retry_at_ms ? o->retry_at_ms : now);
    if (can_replay(o))
        d = earliest(d, o->spool_retry_at_ms > now ? o->spool_retry_at_ms : now);
    if (o->fails_unlogged)
        d = earliest(d, o->fail_logged_ms + FAIL_LOG_INTERVAL_MS);
    return d;
}

static void kafka_destroy(struct lf_output *base)
{
    struct kafka_out *o = (struct kafka_out *)base;
    if (!o)
        return;
    o->closing = true;
    if (o->rk) {
        /* The agent has waited for the reports already; a last short wait,
         * then what is left is taken back: into the spool when there is one. */
        int64_t until = mono_ms() + DESTROY_FLUSH_MS;
        while (o->inflight_docs && mono_ms() < until)
            serve(o, 50);
        purge_all(o, PURGE_WAIT_MS);
    }
    o->dead_retry_at_ms = 0;
    flush_dead(o);
    if (o->spool) {
        struct kqueue keep = {0};
        struct kmsg *m;
        while ((m = kq_pop(&o->retry)))
            kq_push(m->from_spool ? &keep : &o->tospool, m);
        o->retry = keep;
        o->spool_retry_at_ms = 0;
        spool_failed(o);
    }
    log_failures(o, true);
    destroy_producer(o);
    kq_free(o, &o->retry);
    kq_free(o, &o->tospool);
    kq_free(o, &o->dead);
    lf_spooler_close(o->spool);
    for (size_t i = 0; i < o->ntopics; i++) {
        free(o->topics[i]->prefix);
        free(o->topics[i]);
    }
    free(o->topics);
    if (o->conf)
        rd_kafka_conf_destroy(o->conf);
    if (o->wake_rd >= 0)
        close(o->wake_rd);
    if (o->wake_wr >= 0)
        close(o->wake_wr);
    lf_dead_letters_close(o->dead_letters);
    free(o);
}

static void kafka_state(const struct lf_output *base, struct lf_output_state *st)
{
    const struct kafka_out *o = (const struct kafka_out *)base;
    st->available = !o->down;
    st->unavailable_since_ms = o->down ? o->down_since_ms : 0;
    st->last_answer_ms = o->delivered_ms;
    st->spool_bytes = o->spool ? lf_spooler_backlog_bytes(o->spool) : 0;
    st->spooling = st->spool_bytes > 0;
}

static const struct lf_output_ops kafka_ops = {
    .name = "kafka",
    .submit = kafka_submit,
    .poll = kafka_poll,
    .pending = kafka_pending,
    .destroy = kafka_destroy,
    .fd = kafka_fd,
    .deadline = kafka_deadline,
    .state = kafka_state,
};

/* ---- creation --------------------------------------------------------------- */

/* Our librdkafka defaults, set before the user's properties (which win). */
static rd_kafka_conf_t *build_conf(struct kafka_out *o, char *err, size_t errlen)
{
    char timeout[24], kbytes[24];
    snprintf(timeout, sizeof(timeout), "%" PRId64, o->opt.delivery_timeout_ms);
    /* librdkafka's own cap well above ours, so that ours is the one that acts. */
    uint64_t kb = (uint64_t)o->opt.queue_max_bytes * 2 / 1024 + 4096;
    snprintf(kbytes, sizeof(kbytes), "%" PRIu64, kb > 2097151 ? 2097151 : kb);
    const char *names[] = {"client.id",
                           "enable.idempotence",
                           "acks",
                           "compression.codec",
                           "message.timeout.ms",
                           "queue.buffering.max.kbytes",
                           "queue.buffering.max.messages"};
    const char *values[] = {"logferry", "true", "all",     o->opt.compression,
                            timeout,    kbytes, "10000000"};
    rd_kafka_conf_t *conf =
        lf_kafka_conf_new("output.kafka", o->opt.brokers, o->opt.nbrokers, names, values,
                          sizeof(names) / sizeof(names[0]), o->opt.prop_names, o->opt.prop_values,
                          o->opt.nprops, err, errlen);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR);
    return conf;
}

struct lf_output *lf_out_kafka_create(const struct lf_kafka_out_options *opt, char *errbuf,
                                      size_t errlen)
{
    struct kafka_out *o = calloc(1, sizeof(*o));
    if (!o) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    o->base.ops = &kafka_ops;
    o->opt = *opt;
    o->wake_rd = o->wake_wr = -1;
    if (!o->opt.compression)
        o->opt.compression = DEFAULT_COMPRESSION;
    if (o->opt.delivery_timeout_ms <= 0)
        o->opt.delivery_timeout_ms = DEFAULT_DELIVERY_TIMEOUT_MS;
    if (!o->opt.queue_max_bytes)
        o->opt.queue_max_bytes = DEFAULT_QUEUE_MAX_BYTES;
    if (!o->opt.batch_docs)
        o->opt.batch_docs = 2048;
    if (!o->opt.batch_bytes)
        o->opt.batch_bytes = 5u << 20;
    if (!o->opt.host)
        o->opt.host = "";
    o->host_len = strlen(o->opt.host);
    if (opt->nbrokers == 0) {
        snprintf(errbuf, errlen, "output.kafka: no brokers");
        goto fail;
    }
    if (o->opt.key == LF_KAFKA_KEY_HOST && o->host_len == 0) {
        snprintf(errbuf, errlen, "output.kafka: key is the host name, but it is empty");
        goto fail;
    }
    for (size_t i = 0; i < opt->nprefixes; i++) {
        uint32_t at;
        if (topic_of(o, opt->prefixes[i], strlen(opt->prefixes[i]), &at)) {
            snprintf(errbuf, errlen, "out of memory");
            goto fail;
        }
        if (!o->topics[at]->valid) {
            snprintf(errbuf, errlen,
                     "output.kafka.topic: '%s' with index prefix '%s' is not a valid topic name "
                     "(1 to %d of letters, digits, '.', '_', '-')",
                     o->opt.topic ? o->opt.topic : DEFAULT_TOPIC, opt->prefixes[i],
                     LF_KAFKA_TOPIC_MAX);
            goto fail;
        }
    }
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(errbuf, errlen, "output.kafka: pipe: %s", strerror(errno));
        goto fail;
    }
    o->wake_rd = fds[0];
    o->wake_wr = fds[1];
    for (int i = 0; i < 2; i++)
        if (fcntl(fds[i], F_SETFL, O_NONBLOCK) != 0 || fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
            snprintf(errbuf, errlen, "output.kafka: pipe: %s", strerror(errno));
            goto fail;
        }
    if (!(o->conf = build_conf(o, errbuf, errlen)))
        goto fail;
    if (opt->spool.dir &&
        !(o->spool = lf_spooler_open(&opt->spool, COMPONENT, "Kafka", errbuf, errlen)))
        goto fail;
    char err[512];
    if (!(o->dead_letters =
              lf_dead_letters_open(opt->dead_letter_path, COMPONENT, "Kafka", err, sizeof(err)))) {
        snprintf(errbuf, errlen, "output.kafka: %s", err);
        goto fail;
    }
    if (create_producer(o, errbuf, errlen))
        goto fail;
    return &o->base;
fail:
    kafka_destroy(&o->base);
    return NULL;
}
