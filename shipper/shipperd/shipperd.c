/*
 * shipperd.c - `logferry shipper`: a Kafka consumer group member that
 * bulk-indexes what it reads into Elasticsearch with the agent's output.
 *
 * One thread, one epoll: signals (signalfd), the output's descriptor and
 * the consumer queue's (librdkafka writes a byte when the queue goes from
 * empty to non-empty). librdkafka's own threads fetch in the background.
 *
 * Offsets: each partition keeps an ackq of the messages read and not yet
 * indexed; the output acknowledges them (indexed, already there, or dead-
 * lettered), possibly out of order, and the partition's committable offset
 * is the end of the acknowledged prefix. Offsets are committed every
 * commit_interval, on revocation and at exit, never past an event that
 * Elasticsearch does not have.
 *
 * Back-pressure: when the output refuses a batch (its queue is full:
 * Elasticsearch is down or slow), no message is taken until it accepts
 * again; they wait in librdkafka's queue, whose bound stops the fetcher. A
 * refusal that lasts (HOLD_MAX_MS), or a partition with max_pending events
 * in flight, pauses the partitions concerned, and a message that did not
 * fit is dropped and fetched again later by seeking back to it on resume.
 * Memory stays bounded and the consumer keeps polling, so it stays in the
 * group.
 *
 * Rebalances: revoked partitions get their done offsets committed; their
 * events still in flight finish in the output but are no longer committed
 * (the partition state lives on, detached, until they are); the new owner
 * reads them again and Elasticsearch answers 409 to the ones it has.
 */
#define _GNU_SOURCE
#include "shipperd.h"
#include "shipper_status.h"
#include "es_conf.h"
#include "kafka_common.h"
#include "kafka_msg.h"
#include "lf_notify.h"
#include "shipper_config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define ERRBUF 8192
#define CONSUME_BURST 4096
#define IDLE_WAIT_MS 500
#define BUSY_WAIT_MS 50
/* How long a refusal by the output only stops taking messages before the
 * partitions are paused (see hold_back). */
#define HOLD_MAX_MS 1000

struct part {
    struct lf_ack_target target; /* first: the output calls back through it */
    struct shipper *s;
    struct part *next;
    char *topic;
    int32_t partition;
    struct lf_ackq q;
    bool revoked;        /* no longer ours: acks still come, no commits */
    bool paused;         /* by us, for max_pending */
    int64_t resume_at;   /* offset to fetch again from on resume; -1: none */
    int64_t committed;   /* offset last committed (the next to read), -1 */
    int64_t next_offset; /* offset expected next, to see gaps; -1: unknown */
    uint64_t skipped;    /* offsets Kafka did not deliver (retention, compaction) */
    uint64_t consumed, indexed, failed;
    int64_t hi_asked; /* the high watermark the broker last told, or -1 */
};

struct shipper {
    struct lf_shipper_conf *conf;
    struct lf_parser **parsers; /* parallel to conf->grammars */
    struct lf_parser *line_parser;
    struct lf_kafka_msg_conv *conv;
    struct lf_output *out;
    struct lf_batcher *batcher; /* the open batch, shared code with the agent */
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    int wake[2]; /* the consumer queue's io-event pipe */
    int epfd, sigfd;
    struct part *parts; /* ours and detached ones */
    bool paused_all;    /* the output refused batches for HOLD_MAX_MS */
    int64_t refused_ms; /* when the output began refusing (monotonic), 0 */
    bool stopping;
    struct lf_shipper_status *status; /* NULL: off or could not start */
    struct lf_shipper_part_view *part_views;
    size_t part_views_cap;
    int64_t next_commit_ms, next_stats_ms;
    uint64_t consumed, commits, commit_errors, rebalances;
    struct part *last; /* lookup cache */
};

/* ---- partitions ---------------------------------------------------------- */

static void part_safe(struct lf_ack_target *t, uint64_t seq)
{
    struct part *p = (struct part *)t;
    lf_ackq_ack(&p->q, seq);
    p->indexed++;
}

static void part_failed(struct lf_ack_target *t, uint64_t seq)
{
    struct part *p = (struct part *)t;
    lf_ackq_ack(&p->q, seq);
    p->failed++;
}

static struct part *part_new(struct shipper *s, const char *topic, int32_t partition)
{
    struct part *p = calloc(1, sizeof(*p));
    if (!p || !(p->topic = strdup(topic)) || lf_ackq_init(&p->q, s->conf->max_pending, 0) != 0) {
        if (p)
            free(p->topic);
        free(p);
        return NULL;
    }
    p->target.safe = part_safe;
    p->target.failed = part_failed;
    p->s = s;
    p->partition = partition;
    p->resume_at = -1;
    p->committed = -1;
    p->hi_asked = -1;
    p->next_offset = -1;
    p->next = s->parts;
    s->parts = p;
    return p;
}

static void part_free(struct part *p)
{
    lf_ackq_free(&p->q);
    free(p->topic);
    free(p);
}

static struct part *part_find(struct shipper *s, const char *topic, int32_t partition)
{
    if (s->last && s->last->partition == partition && !s->last->revoked &&
        strcmp(s->last->topic, topic) == 0)
        return s->last;
    for (struct part *p = s->parts; p; p = p->next)
        if (!p->revoked && p->partition == partition && strcmp(p->topic, topic) == 0)
            return s->last = p;
    return NULL;
}

/* The offset that is safe to commit (the next one to read), or -1. */
static int64_t part_done_offset(const struct part *p)
{
    uint64_t c = lf_ackq_committed(&p->q);
    return c ? (int64_t)c : -1;
}

/* Frees detached partitions whose events are all settled. */
static void reap_detached(struct shipper *s)
{
    for (struct part **pp = &s->parts; *pp;) {
        struct part *p = *pp;
        if (p->revoked && lf_ackq_pending(&p->q) == 0) {
            *pp = p->next;
            if (s->last == p)
                s->last = NULL;
            part_free(p);
        } else {
            pp = &p->next;
        }
    }
}

/* ---- commits ------------------------------------------------------------- */

/* Commits the done offsets of our partitions (only `only` when not NULL),
 * synchronously when `sync` (rebalance, exit), else in the background. */
static void commit_done(struct shipper *s, const rd_kafka_topic_partition_list_t *only, bool sync)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
    if (!list)
        return;
    for (struct part *p = s->parts; p; p = p->next) {
        if (p->revoked)
            continue;
        if (only && !rd_kafka_topic_partition_list_find(only, p->topic, p->partition))
            continue;
        int64_t off = part_done_offset(p);
        if (off < 0 || off <= p->committed)
            continue;
        rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset = off;
        p->committed = off;
    }
    if (list->cnt) {
        rd_kafka_resp_err_t err = rd_kafka_commit(s->rk, list, sync ? 0 : 1);
        s->commits++;
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            s->commit_errors++;
            lf_log(LF_LOG_WARN, "shipper", "committing offsets: %s (retried at the next commit)",
                   rd_kafka_err2str(err));
            /* Forget what we thought was committed, so it is sent again. */
            for (int i = 0; i < list->cnt; i++) {
                struct part *p = part_find(s, list->elems[i].topic, list->elems[i].partition);
                if (p)
                    p->committed = -1;
            }
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/* Background commits report here (on the consumer queue). */
static void offset_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    (void)offsets;
    struct shipper *s = opaque;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        s->commit_errors++;
        lf_log(LF_LOG_WARN, "shipper", "offset commit failed: %s (retried at the next commit)",
               rd_kafka_err2str(err));
        for (struct part *p = s->parts; p; p = p->next)
            if (!p->revoked)
                p->committed = -1;
    }
}

/* ---- pausing ------------------------------------------------------------- */

static void pause_parts(struct shipper *s, struct part *only, bool pause)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
    if (!list)
        return;
    for (struct part *p = s->parts; p; p = p->next)
        if (!p->revoked && (!only || p == only))
            rd_kafka_topic_partition_list_add(list, p->topic, p->partition);
    if (list->cnt) {
        rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(s->rk, list)
                                        : rd_kafka_resume_partitions(s->rk, list);
        if (err)
            lf_log(LF_LOG_WARN, "shipper", "%s partitions: %s", pause ? "pausing" : "resuming",
                   rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(list);
}

/* Fetches again from where a partition stopped taking messages, then lets
 * it go on. */
static void resume_part(struct shipper *s, struct part *p)
{
    if (p->resume_at >= 0) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
        if (!list)
            return;
        rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset = p->resume_at;
        /* Asynchronous (no wait): the loop never blocks on a broker; the
         * seek is ordered before the resume below on the partition's
         * queue, and a failure comes back as a consumer error. */
        rd_kafka_error_t *e = rd_kafka_seek_partitions(s->rk, list, 0);
        /* Without a wait, a seek that was started reports "in progress". */
        if (!e && list->elems[0].err && list->elems[0].err != RD_KAFKA_RESP_ERR__IN_PROGRESS)
            lf_log(LF_LOG_WARN, "shipper", "seeking %s/%d to %" PRId64 ": %s", p->topic,
                   p->partition, p->resume_at, rd_kafka_err2str(list->elems[0].err));
        if (e) {
            lf_log(LF_LOG_WARN, "shipper", "seeking %s/%d to %" PRId64 ": %s", p->topic,
                   p->partition, p->resume_at, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            rd_kafka_topic_partition_list_destroy(list);
            return; /* stays paused; tried again on the next round */
        }
        rd_kafka_topic_partition_list_destroy(list);
        lf_log(LF_LOG_DEBUG, "shipper", "%s/%d: fetching again from %" PRId64, p->topic,
               p->partition, p->resume_at);
        p->next_offset = p->resume_at;
        p->resume_at = -1;
    }
    pause_parts(s, p, false);
    p->paused = false;
}

/* ---- rebalances ---------------------------------------------------------- */

static bool cooperative(struct shipper *s)
{
    const char *proto = rd_kafka_rebalance_protocol(s->rk);
    return proto && strcmp(proto, "COOPERATIVE") == 0;
}

static void assign_parts(struct shipper *s, rd_kafka_topic_partition_list_t *list)
{
    for (int i = 0; i < list->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &list->elems[i];
        if (!part_find(s, tp->topic, tp->partition) && !part_new(s, tp->topic, tp->partition))
            lf_log(LF_LOG_ERROR, "shipper", "out of memory for partition %s/%d", tp->topic,
                   tp->partition);
        lf_log(LF_LOG_INFO, "shipper", "assigned %s/%d", tp->topic, tp->partition);
    }
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (cooperative(s))
        e = rd_kafka_incremental_assign(s->rk, list);
    else
        err = rd_kafka_assign(s->rk, list);
    if (e) {
        lf_log(LF_LOG_ERROR, "shipper", "assign: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    } else if (err) {
        lf_log(LF_LOG_ERROR, "shipper", "assign: %s", rd_kafka_err2str(err));
    }
    if (s->paused_all || s->stopping)
        rd_kafka_pause_partitions(s->rk, list);
}

static void revoke_parts(struct shipper *s, rd_kafka_topic_partition_list_t *list)
{
    /* After a lost assignment others own the partitions already: a commit
     * would fail or, worse, move their offsets. */
    if (!rd_kafka_assignment_lost(s->rk))
        commit_done(s, list, true);
    for (int i = 0; i < list->cnt; i++) {
        struct part *p = part_find(s, list->elems[i].topic, list->elems[i].partition);
        if (p) {
            p->revoked = true;
            lf_log(LF_LOG_INFO, "shipper", "revoked %s/%d (committed %" PRId64 ", %zu in flight)",
                   p->topic, p->partition, p->committed, lf_ackq_pending(&p->q));
        }
    }
    s->last = NULL;
    rd_kafka_error_t *e = NULL;
    if (cooperative(s))
        e = rd_kafka_incremental_unassign(s->rk, list);
    else
        rd_kafka_assign(s->rk, NULL);
    if (e) {
        lf_log(LF_LOG_ERROR, "shipper", "unassign: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
    struct shipper *s = opaque;
    s->rebalances++;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        assign_parts(s, list);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        revoke_parts(s, list);
    } else {
        lf_log(LF_LOG_ERROR, "shipper", "rebalance: %s", rd_kafka_err2str(err));
        rd_kafka_assign(rk, NULL);
    }
}

/* ---- batches ------------------------------------------------------------- */

static void pause_all(struct shipper *s, int why);

/* Sends the batch; on refusal (kept by the batcher) pauses every partition. */
static int flush_batch(struct shipper *s)
{
    int rc = lf_batcher_flush(s->batcher);
    if (rc)
        pause_all(s, rc);
    return rc;
}

static void pause_all(struct shipper *s, int why)
{
    if (s->paused_all)
        return;
    lf_log(LF_LOG_INFO, "shipper", "Elasticsearch is behind (%s): pausing consumption",
           lf_strerror(why));
    pause_parts(s, NULL, true);
    s->paused_all = true;
}

/* The output refuses the open batch (kept, offered again by the batcher):
 * consume() takes nothing meanwhile. Only a refusal that lasts pauses the
 * partitions, so that polling goes on (rebalances, the group's poll
 * interval): a pause makes librdkafka drop what it had fetched and fetch it
 * again on resume, and with Elasticsearch a little slower than Kafka that
 * came once a second (bench/kafka), the fetcher decompressing much of the
 * topic twice. */
static void hold_back(struct shipper *s, int64_t now)
{
    if (!s->refused_ms)
        s->refused_ms = now;
    else if (now - s->refused_ms >= HOLD_MAX_MS)
        pause_all(s, LF_ELIMIT);
}

static void resume_all(struct shipper *s)
{
    if (!s->paused_all || s->stopping)
        return;
    lf_log(LF_LOG_INFO, "shipper", "Elasticsearch takes batches again: resuming");
    s->paused_all = false;
    for (struct part *p = s->parts; p; p = p->next)
        if (!p->revoked && !p->paused)
            resume_part(s, p);
}

/* ---- messages ------------------------------------------------------------ */

/* Our headers, in one walk over the message's (rather than a lookup by
 * name for each); the last of a name wins, as for rd_kafka_header_get_last,
 * and one without a value counts as absent. */
static void read_headers(rd_kafka_message_t *rkm, struct lf_kafka_msg *m)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(rkm, &h) != RD_KAFKA_RESP_ERR_NO_ERROR || !h)
        return;
    const char *name;
    const void *value;
    size_t n;
    for (size_t i = 0;
         rd_kafka_header_get_all(h, i, &name, &value, &n) == RD_KAFKA_RESP_ERR_NO_ERROR; i++) {
        const char **v;
        size_t *len;
        if (strcmp(name, LF_KAFKA_HDR_ID) == 0)
            v = &m->id, len = &m->id_len;
        else if (strcmp(name, LF_KAFKA_HDR_INDEX) == 0)
            v = &m->index, len = &m->index_len;
        else if (strcmp(name, LF_KAFKA_HDR_TS) == 0)
            v = &m->ts, len = &m->ts_len;
        else
            continue;
        *v = value;
        *len = value ? n : 0;
    }
}

/* Takes one message. Returns false when it could not be taken (the
 * partition will fetch it again). */
static bool take(struct shipper *s, rd_kafka_message_t *rkm)
{
    const char *topic = rd_kafka_topic_name(rkm->rkt);
    struct part *p = part_find(s, topic, rkm->partition);
    if (!p)
        return true; /* not ours any more: its new owner reads it */
    if (p->resume_at >= 0)
        return false; /* fetched before the pause took effect */
    if (s->paused_all || s->stopping) {
        p->resume_at = rkm->offset;
        lf_log(LF_LOG_DEBUG, "shipper", "%s/%d: paused at %" PRId64, topic, rkm->partition,
               rkm->offset);
        return false;
    }
    if (p->next_offset >= 0 && rkm->offset > p->next_offset) {
        /* Kafka deleted them (retention) or compacted them away: say so,
         * it may be data nobody will ever index. */
        lf_log(LF_LOG_WARN, "shipper",
               "%s/%d: offsets %" PRId64 "..%" PRId64
               " were not delivered (deleted by retention or compaction)",
               topic, rkm->partition, p->next_offset, rkm->offset - 1);
        p->skipped += (uint64_t)(rkm->offset - p->next_offset);
    }
    p->next_offset = rkm->offset + 1;
    uint64_t seq;
    if (lf_ackq_push(&p->q, (uint64_t)rkm->offset + 1, &seq) != 0) { /* full, or no memory */
        p->resume_at = rkm->offset;
        p->paused = true;
        pause_parts(s, p, true);
        return false;
    }
    struct lf_kafka_msg m = {.value = rkm->payload,
                             .len = rkm->len,
                             .topic = topic,
                             .partition = rkm->partition,
                             .offset = rkm->offset};
    rd_kafka_timestamp_type_t tstype;
    m.timestamp_ms = rd_kafka_message_timestamp(rkm, &tstype);
    read_headers(rkm, &m);
    struct lf_batch *batch = lf_batcher_batch(s->batcher);
    int rc = s->paused_all ? LF_ELIMIT : lf_kafka_msg_add(s->conv, &m, batch, &p->target, seq);
    if (rc == LF_ELIMIT && batch->ndocs && flush_batch(s) == 0)
        rc = lf_kafka_msg_add(s->conv, &m, batch, &p->target, seq);
    if (rc == LF_ELIMIT && batch->ndocs == 0) {
        /* Larger than an empty batch: Elasticsearch would refuse it too. */
        lf_log(LF_LOG_ERROR, "shipper",
               "%s/%d offset %" PRId64 ": %zu bytes cannot fit in a bulk request: skipped", topic,
               rkm->partition, rkm->offset, rkm->len);
        part_failed(&p->target, seq);
        rc = 1; /* settled */
    }
    if (rc < 0) {
        lf_ackq_unpush(&p->q);
        p->resume_at = rkm->offset;
        if (rc != LF_ELIMIT)
            lf_log(LF_LOG_ERROR, "shipper", "%s/%d offset %" PRId64 ": %s", topic, rkm->partition,
                   rkm->offset, lf_strerror(rc));
        if (!s->paused_all) {
            pause_parts(s, NULL, true);
            s->paused_all = true;
        }
        return false;
    }
    if (rc == 0)
        part_safe(&p->target, seq); /* nothing to index: done at once */
    p->consumed++;
    s->consumed++;
    if (rc > 0 && lf_batcher_added(s->batcher))
        hold_back(s, lf_now_mono_ms()); /* full and refused: kept, offered again */
    return true;
}

/* Takes what the consumer queue holds, up to a burst. One message per
 * rd_kafka_consumer_poll: it drops messages fetched before a rebalance or a
 * seek (our resume after a pause), which the batch call
 * rd_kafka_consume_batch_queue was seen to hand over (kafka_shipper, pair:
 * lines lost after a rebalance), and the acknowledgement queues rely on
 * offsets that never go back. */
static void consume(struct shipper *s)
{
    for (int i = 0; i < CONSUME_BURST; i++) {
        /* Held back: the messages wait in librdkafka's queue. Once paused
         * (or stopping) it polls again, for rebalances; take() drops. */
        if (lf_batcher_refused(s->batcher) && !s->paused_all && !s->stopping)
            return;
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(s->rk, 0);
        if (!rkm)
            return;
        if (rkm->err) {
            if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                lf_log(LF_LOG_WARN, "shipper", "consumer: %s%s%s",
                       rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "", rkm->rkt ? ": " : "",
                       rd_kafka_message_errstr(rkm));
        } else {
            take(s, rkm);
        }
        rd_kafka_message_destroy(rkm);
    }
}

/* ---- counters ------------------------------------------------------------ */

#define WATERMARK_BUDGET_MS 1000

/* A partition's high watermark, or -1. librdkafka keeps the one of its last
 * fetch response, which a paused partition does not make: that one stayed
 * where the pause left it, however much was produced since, so the broker
 * is asked, within what is left of *budget_ms (the loop waits meanwhile, at
 * most once per stats line and only while partitions are paused). */
static int64_t high_watermark(struct shipper *s, struct part *p, int64_t *budget_ms)
{
    int64_t lo = -1, hi = -1;
    if ((p->paused || s->paused_all) && *budget_ms > 0) {
        int64_t t0 = lf_now_mono_ms();
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            s->rk, p->topic, p->partition, &lo, &hi, (int)*budget_ms);
        *budget_ms -= lf_now_mono_ms() - t0;
        if (!err)
            return p->hi_asked = hi;
        *budget_ms = 0; /* the broker is away: the others would wait too */
    }
    rd_kafka_get_watermark_offsets(s->rk, p->topic, p->partition, &lo, &hi);
    return hi > p->hi_asked ? hi : p->hi_asked;
}

/* Once a second: the view the status endpoint shows. The high watermarks
 * are librdkafka's cached ones (or the last asked by the stats line for a
 * paused partition): the loop never waits for the broker here. */
static void update_status(struct shipper *s, int64_t now)
{
    if (!s->status || now < lf_shipper_status_due(s->status))
        return;
    size_t n = 0;
    for (struct part *p = s->parts; p; p = p->next)
        n += !p->revoked;
    if (n > s->part_views_cap) {
        struct lf_shipper_part_view *v = realloc(s->part_views, n * sizeof(*v));
        if (!v)
            return; /* the last document stays */
        s->part_views = v;
        s->part_views_cap = n;
    }
    size_t i = 0;
    int64_t no_budget = 0;
    for (struct part *p = s->parts; p; p = p->next) {
        if (p->revoked)
            continue;
        int64_t hi = high_watermark(s, p, &no_budget);
        int64_t done = part_done_offset(p);
        if (done < 0)
            done = p->committed;
        s->part_views[i++] = (struct lf_shipper_part_view){
            .topic = p->topic,
            .partition = p->partition,
            .consumed = p->consumed,
            .indexed = p->indexed,
            .failed = p->failed,
            .in_flight = lf_ackq_pending(&p->q),
            .committed = p->committed,
            .lag = hi >= 0 && done >= 0 ? hi - done : -1,
            .paused = p->paused || s->paused_all,
        };
    }
    struct lf_shipper_view view = {.out = s->out,
                                   .pending = lf_output_pending(s->out),
                                   .parts = s->part_views,
                                   .nparts = i,
                                   .consumed = s->consumed,
                                   .held_back = s->refused_ms != 0};
    lf_shipper_status_update(s->status, &view, now);
}

static void log_stats(struct shipper *s, const char *when)
{
    const struct lf_output_counters *o = &s->out->counters;
    const struct lf_kafka_msg_counters *m = lf_kafka_msg_conv_counters(s->conv);
    lf_log(LF_LOG_INFO, "shipper",
           "%s: consumed %" PRIu64 " indexed %" PRIu64 " dead-lettered %" PRIu64 " retried %" PRIu64
           " (events: agent %" PRIu64 " json %" PRIu64 " raw %" PRIu64 " unparsed %" PRIu64
           " invalid %" PRIu64 " skipped %" PRIu64 " bad-headers %" PRIu64 ") commits %" PRIu64
           " commit-errors %" PRIu64 " rebalances %" PRIu64 "%s",
           when, s->consumed, o->acked, o->failed, o->retried, m->passed, m->json, m->raw,
           m->lines.unparsed, m->invalid, m->skipped, m->bad_headers, s->commits, s->commit_errors,
           s->rebalances, s->paused_all ? " (paused)" : "");
    int64_t budget_ms = WATERMARK_BUDGET_MS;
    for (struct part *p = s->parts; p; p = p->next) {
        if (p->revoked)
            continue;
        int64_t hi = high_watermark(s, p, &budget_ms);
        int64_t done = part_done_offset(p);
        char lag[32] = "?";
        if (hi >= 0 && done >= 0)
            snprintf(lag, sizeof(lag), "%" PRId64, hi - done);
        else if (hi >= 0 && p->committed >= 0)
            snprintf(lag, sizeof(lag), "%" PRId64, hi - p->committed);
        lf_log(LF_LOG_INFO, "shipper",
               "  %s/%d: consumed %" PRIu64 " indexed %" PRIu64 " dead-lettered %" PRIu64
               " in flight %zu committed %" PRId64 " lag %s not delivered %" PRIu64 "%s",
               p->topic, p->partition, p->consumed, p->indexed, p->failed, lf_ackq_pending(&p->q),
               p->committed, lag, p->skipped, p->paused ? " (paused)" : "");
    }
}

/* ---- the loop ------------------------------------------------------------ */

static void drain_fd(int fd)
{
    char buf[256];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
}

static bool read_signals(struct shipper *s)
{
    struct signalfd_siginfo si;
    bool stop = false;
    while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            stop = true;
        else if (si.ssi_signo == SIGHUP)
            lf_log(LF_LOG_INFO, "shipper",
                   "SIGHUP ignored: the shipper does not reload its configuration, restart it");
    }
    return stop;
}

static int64_t min_deadline(int64_t a, int64_t b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* One round: what is ready, then the timers. Returns the monotonic time by
 * which the next round must start. */
static int64_t round_once(struct shipper *s)
{
    consume(s);
    int64_t now = lf_now_mono_ms();
    lf_notify_watchdog(now);
    lf_batcher_tick(s->batcher, now);
    if (lf_batcher_refused(s->batcher))
        hold_back(s, now);
    else
        s->refused_ms = 0;
    lf_output_poll(s->out, 0);
    if (s->paused_all && !lf_batcher_refused(s->batcher))
        resume_all(s);
    for (struct part *p = s->parts; p; p = p->next)
        if (p->paused && !p->revoked && !s->paused_all && !s->stopping &&
            lf_ackq_pending(&p->q) <= s->conf->max_pending / 2)
            resume_part(s, p);
    now = lf_now_mono_ms();
    if (now >= s->next_commit_ms) {
        commit_done(s, NULL, false);
        s->next_commit_ms = now + (int64_t)s->conf->commit_interval_ms;
    }
    if (s->conf->stats_interval_ms && now >= s->next_stats_ms) {
        if (s->next_stats_ms)
            log_stats(s, "counters");
        s->next_stats_ms = now + (int64_t)s->conf->stats_interval_ms;
    }
    reap_detached(s);
    update_status(s, now);

    int64_t next = now + IDLE_WAIT_MS;
    if (s->status)
        next = min_deadline(next, lf_shipper_status_due(s->status));
    next = min_deadline(next, s->next_commit_ms);
    next = min_deadline(next, lf_batcher_due(s->batcher));
    next = min_deadline(next, lf_output_deadline(s->out));
    if (s->refused_ms && !s->paused_all)
        next = min_deadline(next, s->refused_ms + HOLD_MAX_MS);
    if (s->paused_all)
        next = min_deadline(next, now + BUSY_WAIT_MS);
    int64_t ping = lf_notify_watchdog_every_ms();
    if (ping >= 0)
        next = min_deadline(next, now + ping);
    return next;
}

static void loop(struct shipper *s)
{
    while (!s->stopping) {
        int64_t next = round_once(s);
        int64_t wait = next - lf_now_mono_ms();
        if (wait < 0)
            wait = 0;
        struct epoll_event evs[4];
        int n = epoll_wait(s->epfd, evs, 4, (int)wait);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == s->sigfd && read_signals(s))
                s->stopping = true;
            else if (evs[i].data.fd == s->wake[0])
                drain_fd(s->wake[0]);
        }
    }
}

/* SIGTERM: stop taking messages, get what was read indexed (up to
 * shutdown_timeout), commit it, leave the group. */
static void drain(struct shipper *s)
{
    lf_log(LF_LOG_INFO, "shipper", "stopping: sending what was read");
    pause_parts(s, NULL, true);
    int64_t until = lf_now_mono_ms() + (int64_t)s->conf->shutdown_timeout_ms;
    for (;;) {
        consume(s); /* serves rebalances; messages are left for later */
        flush_batch(s);
        lf_output_poll(s->out, 50);
        lf_notify_watchdog(lf_now_mono_ms()); /* a long drain is not a hang */
        if (lf_batcher_queued(s->batcher) == 0 && lf_output_pending(s->out) == 0)
            break;
        if (lf_now_mono_ms() >= until) {
            lf_log(LF_LOG_WARN, "shipper",
                   "shutdown_timeout: %zu events not indexed; their offsets are not committed",
                   lf_batcher_queued(s->batcher) + lf_output_pending(s->out));
            break;
        }
    }
    commit_done(s, NULL, true);
}

/* ---- setup --------------------------------------------------------------- */

static int compile_grammars(struct shipper *s, char *err, size_t errlen)
{
    const struct lf_shipper_conf *c = s->conf;
    if (!(s->parsers = calloc(c->ngrammars, sizeof(*s->parsers)))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->ngrammars; i++) {
        char why[ERRBUF];
        if (!(s->parsers[i] = lf_parser_create(&c->grammars[i], c->timezone, why, sizeof(why)))) {
            snprintf(err, errlen, "grammar %s: %s", c->grammars[i].name, why);
            return -1;
        }
        if (strcmp(c->grammars[i].name, c->grammar) == 0)
            s->line_parser = s->parsers[i];
    }
    return 0;
}

static int create_output(struct shipper *s, char *err, size_t errlen)
{
    const struct lf_shipper_conf *c = s->conf;
    const char *prefixes[66];
    size_t n = 0;
    prefixes[n++] = c->index;
    for (size_t i = 0; i < c->nindex_prefixes && n < 66; i++)
        if (strcmp(c->index_prefixes[i], c->index) != 0)
            prefixes[n++] = c->index_prefixes[i];
    const lf_grok **groks;
    const char **names;
    size_t ngroks;
    if (lf_parser_groks_of(s->parsers, c->grammars, c->ngrammars, &groks, &names, &ngroks)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->out = lf_es_conf_create_output(&c->es, "output.elasticsearch", prefixes, n, groks, names,
                                      ngroks, c->batch_max_docs, c->batch_max_bytes, err, errlen);
    free(groks);
    free(names);
    if (!s->out)
        return -1;
    s->batcher = lf_batcher_create(s->out, c->batch_max_docs, c->batch_max_bytes,
                                   (int64_t)c->batch_max_age_ms);
    const struct lf_grammar_conf *g = lf_grammar_conf_find(c->grammars, c->ngrammars, c->grammar);
    s->conv = lf_kafka_msg_conv_create(s->line_parser, c->format, c->index, g ? g->max_line : 0);
    if (!s->batcher || !s->conv) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int create_consumer(struct shipper *s, char *err, size_t errlen)
{
    const struct lf_shipper_conf *c = s->conf;
    /* Ours first, the user's after: they win. */
    /* Prefetched messages are capped at 16 MiB (librdkafka's default is 64);
     * a lower queued.min.messages starves the fetcher (measured with
     * bench/kafka: 10000 gave a quarter of the throughput). */
    const char *names[] = {"group.id",
                           "client.id",
                           "enable.auto.commit",
                           "enable.auto.offset.store",
                           "auto.offset.reset",
                           "enable.partition.eof",
                           "queued.max.messages.kbytes"};
    const char *values[] = {c->group, c->name, "false", "false", "earliest", "false", "16384"};
    rd_kafka_conf_t *kc = lf_kafka_conf_new(
        "inputs.kafka", (const char *const *)c->brokers, c->nbrokers, names, values,
        sizeof(names) / sizeof(names[0]), (const char *const *)c->prop_names,
        (const char *const *)c->prop_values, c->nprops, err, errlen);
    if (!kc)
        return -1;
    rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(kc, offset_commit_cb);
    rd_kafka_conf_set_opaque(kc, s);
    char why[512];
    if (!(s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, why, sizeof(why)))) {
        rd_kafka_conf_destroy(kc);
        snprintf(err, errlen, "inputs.kafka: %s", why);
        return -1;
    }
    rd_kafka_poll_set_consumer(s->rk);
    if (!(s->queue = rd_kafka_queue_get_consumer(s->rk))) {
        snprintf(err, errlen, "inputs.kafka: no consumer queue");
        return -1;
    }
    rd_kafka_queue_io_event_enable(s->queue, s->wake[1], "1", 1);

    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new((int)c->ntopics);
    for (size_t i = 0; i < c->ntopics; i++)
        rd_kafka_topic_partition_list_add(topics, c->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(s->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        snprintf(err, errlen, "inputs.kafka.topics: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

static void teardown(struct shipper *s)
{
    if (s->rk) {
        rd_kafka_consumer_close(s->rk);
    }
    /* The output before the partitions: it may still call their targets. */
    lf_output_destroy(s->out);
    if (s->queue)
        rd_kafka_queue_destroy(s->queue);
    if (s->rk)
        rd_kafka_destroy(s->rk);
    while (s->parts) {
        struct part *p = s->parts;
        s->parts = p->next;
        part_free(p);
    }
    lf_batcher_destroy(s->batcher);
    lf_kafka_msg_conv_destroy(s->conv);
    for (size_t i = 0; s->parsers && i < s->conf->ngrammars; i++)
        lf_parser_destroy(s->parsers[i]);
    free(s->parsers);
    for (int i = 0; i < 2; i++)
        if (s->wake[i] >= 0)
            close(s->wake[i]);
    if (s->sigfd >= 0)
        close(s->sigfd);
    if (s->epfd >= 0)
        close(s->epfd);
}

int lf_shipper_run(const struct lf_shipper_options *opt)
{
    char err[ERRBUF];
    unsigned nerr = 0;
    struct shipper s = {.epfd = -1, .sigfd = -1, .wake = {-1, -1}};
    s.conf = lf_shipper_conf_load(opt->config_path, err, sizeof(err), &nerr);
    if (!s.conf) {
        fprintf(stderr, "%s", err);
        fprintf(stderr, "logferry shipper: %u problem%s in %s\n", nerr, nerr == 1 ? "" : "s",
                opt->config_path ? opt->config_path : "(defaults)");
        return 1;
    }
    enum lf_log_level level = LF_LOG_INFO;
    lf_log_parse_level(opt->log_level ? opt->log_level : s.conf->log_level, &level);
    lf_log_set_level(level);

    /* librdkafka's fetch buffers too: before its threads start. */
    lf_malloc_keep_buffers();

    /* Before librdkafka starts its threads, which inherit the mask. */
    int rc = 1;
    s.sigfd = lf_signalfd_open();
    s.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s.sigfd < 0 || s.epfd < 0 || pipe2(s.wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        lf_log(LF_LOG_ERROR, "shipper", "signalfd/epoll/pipe: %s", strerror(errno));
        goto out;
    }
    char failed[4096];
    if (lf_mkdir_p(s.conf->data_dir, 0750, failed, sizeof(failed))) {
        lf_log(LF_LOG_ERROR, "shipper", "shipper.data_dir: cannot create %s: %s", failed,
               strerror(errno));
        goto out;
    }
    if (compile_grammars(&s, err, sizeof(err)) || create_output(&s, err, sizeof(err)) ||
        create_consumer(&s, err, sizeof(err))) {
        lf_log(LF_LOG_ERROR, "shipper", "%s", err);
        goto out;
    }
    int fds[3] = {s.sigfd, s.wake[0], lf_output_fd(s.out)};
    for (int i = 0; i < 3; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
        if (fds[i] >= 0 && epoll_ctl(s.epfd, EPOLL_CTL_ADD, fds[i], &ev) != 0) {
            lf_log(LF_LOG_ERROR, "shipper", "epoll: %s", strerror(errno));
            goto out;
        }
    }
    lf_log(LF_LOG_INFO, "shipper", "running as %s in group %s: %zu topic%s -> %s", s.conf->name,
           s.conf->group, s.conf->ntopics, s.conf->ntopics == 1 ? "" : "s", s.conf->es.hosts[0]);
    /* After signalfd: the listener's thread inherits the blocked mask. */
    s.status = lf_shipper_status_create(s.conf->status_listen, s.conf->data_dir,
                                        s.conf->unhealthy_after_ms, err, sizeof(err));
    if (!s.status && (!s.conf->status_listen || strcmp(s.conf->status_listen, "off") != 0))
        lf_log(LF_LOG_WARN, "shipper", "%s; running without it", err);
    lf_notify_ready();
    loop(&s);
    lf_notify_stopping();
    drain(&s);
    log_stats(&s, "at exit");
    rc = 0;
out:
    lf_shipper_status_destroy(s.status);
    free(s.part_views);
    teardown(&s);
    lf_shipper_conf_free(s.conf);
    return rc;
}
