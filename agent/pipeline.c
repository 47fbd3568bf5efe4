/*
 * pipeline.c - where inputs hand over events: the fields every event carries
 * are added and the event is written into the open batch (shipper/core's
 * batcher, which `logferry shipper` uses too), which goes to the output
 * when full or old. While the output refuses a batch, emit answers
 * LF_ELIMIT so that inputs stop reading: memory stays bounded and nothing
 * is dropped.
 */
#define _GNU_SOURCE /* CLOCK_REALTIME_COARSE */
#include "input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The output is polled at least this often, for its periodic work (logs
 * of refusals and drops) that has no deadline. */
#define POLL_AT_LEAST_MS 1000

struct lf_pipeline {
    struct lf_output *out;
    struct lf_batcher *batcher;
    char host[256];
    struct lf_ts_cache ts_cache; /* @timestamp text of the last second */
    /* host.name, agent.type, agent.version: constant, added in one go */
    struct lf_field common[3];
    int64_t polled_ms;       /* the output's last poll */
    uint64_t polled_submits; /* its counters.submitted then */
};

struct lf_pipeline *lf_pipeline_create(struct lf_output *out, const char *host, size_t max_docs,
                                       size_t max_bytes, int64_t max_age_ms)
{
    struct lf_pipeline *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->out = out;
    snprintf(p->host, sizeof(p->host), "%s", host);
    p->batcher = lf_batcher_create(out, max_docs, max_bytes, max_age_ms);
    lf_ts_cache_init(&p->ts_cache);
    p->common[0] = (struct lf_field){.path = "host.name",
                                     .path_len = 9,
                                     .type = LF_VAL_STRING,
                                     .flags = LF_FIELD_CONST,
                                     .str = p->host,
                                     .len = strlen(p->host)};
    p->common[1] = (struct lf_field){.path = "agent.type",
                                     .path_len = 10,
                                     .type = LF_VAL_STRING,
                                     .flags = LF_FIELD_CONST,
                                     .str = "logferry",
                                     .len = 8};
    p->common[2] = (struct lf_field){.path = "agent.version",
                                     .path_len = 13,
                                     .type = LF_VAL_STRING,
                                     .flags = LF_FIELD_CONST,
                                     .str = LF_VERSION,
                                     .len = sizeof(LF_VERSION) - 1};
    if (!p->batcher) {
        free(p);
        return NULL;
    }
    return p;
}

struct lf_pipeline *lf_pipeline_create_for_test(struct lf_output *out, const char *host)
{
    return lf_pipeline_create(out, host, 0, 0, 0);
}

void lf_pipeline_destroy(struct lf_pipeline *p)
{
    if (!p)
        return;
    lf_batcher_destroy(p->batcher);
    free(p);
}

const char *lf_pipeline_host(const struct lf_pipeline *p)
{
    return p->host;
}

size_t lf_pipeline_queued(const struct lf_pipeline *p)
{
    return lf_batcher_queued(p->batcher);
}

int lf_pipeline_flush(struct lf_pipeline *p)
{
    return lf_batcher_flush(p->batcher);
}

static void poll_output(struct lf_pipeline *p, int64_t now)
{
    lf_output_poll(p->out, 0);
    p->polled_ms = now;
    p->polled_submits = p->out->counters.submitted;
}

int64_t lf_pipeline_tick(struct lf_pipeline *p, int64_t now)
{
    int64_t next = lf_batcher_tick(p->batcher, now);
    poll_output(p, now);
    return next;
}

/* A poll is an epoll_wait of the output's own (and more): on the omprog path
 * the agent turns once per message, and polling every turn cost two system
 * calls per message for an output that had nothing to do. */
int64_t lf_pipeline_tick_due(struct lf_pipeline *p, int64_t now, bool out_ready)
{
    int64_t next = lf_batcher_tick(p->batcher, now);
    const struct lf_output *o = p->out;
    int64_t d = lf_output_deadline(o);
    if (out_ready || lf_output_fd(o) < 0 || !o->ops->deadline || (d >= 0 && d <= now) ||
        o->counters.submitted != p->polled_submits || now - p->polled_ms >= POLL_AT_LEAST_MS)
        poll_output(p, now);
    return next;
}

static int add_timestamp(struct lf_pipeline *p, struct lf_event *ev, int64_t ms)
{
    char text[LF_TS_TEXT_LEN];
    size_t n = lf_ts_format(&p->ts_cache, ms, text);
    return lf_event_add_copy(ev, "@timestamp", text, n);
}

static int add_common_fields(struct lf_pipeline *p, struct lf_event *ev, int64_t ts_ms,
                             const char *dataset)
{
    int rc = 0;
    if (!lf_event_get(ev, "@timestamp", 10))
        rc = add_timestamp(p, ev, ts_ms);
    if (!rc && dataset && !lf_event_get(ev, "event.dataset", 13)) {
        /* The input's dataset string lives as long as its events. */
        struct lf_field f = {.path = "event.dataset",
                             .path_len = 13,
                             .type = LF_VAL_STRING,
                             .flags = LF_FIELD_CONST,
                             .str = dataset,
                             .len = strlen(dataset)};
        rc = lf_event_add(ev, &f);
    }
    if (!rc)
        rc = lf_event_add_fields(ev, p->common, 3);
    return rc;
}

int lf_pipeline_emit(struct lf_pipeline *p, struct lf_event *ev, const struct lf_emit *meta)
{
    if (lf_batcher_refused(p->batcher))
        return LF_ELIMIT;
    int64_t ts = meta->ts_ms ? meta->ts_ms : lf_now_wall_ms();
    int rc = add_common_fields(p, ev, ts, meta->dataset);
    if (rc == LF_ELIMIT) {
        /* Too many fields: waiting will not help, the input must skip it. */
        lf_log(LF_LOG_ERROR, "pipeline", "event from %s at %llu has too many fields",
               meta->source ? meta->source : "?", (unsigned long long)meta->position);
        return LF_EINVAL;
    }
    if (rc)
        return rc;
    struct lf_doc doc = {.index = meta->index, .ts_ms = ts, .ack = meta->ack, .seq = meta->seq};
    if (meta->id_seed)
        lf_doc_id_at(doc.id, meta->id_seed, meta->position);
    else
        lf_doc_id(doc.id, p->host, meta->source ? meta->source : "", meta->position);
    struct lf_batch *batch = lf_batcher_batch(p->batcher);
    rc = lf_batch_add_event(batch, ev, &doc);
    if (rc == LF_ELIMIT && batch->ndocs) {
        /* Full by count: send it, then this event opens the next one. */
        if (lf_pipeline_flush(p))
            return LF_ELIMIT;
        rc = lf_batch_add_event(batch, ev, &doc);
    }
    if (rc == LF_ELIMIT) {
        /* Larger than an empty batch can ever hold: it cannot be sent. */
        lf_log(LF_LOG_ERROR, "pipeline", "event from %s at %llu is too large for a batch",
               meta->source ? meta->source : "?", (unsigned long long)meta->position);
        return LF_EINVAL;
    }
    if (rc)
        return rc;
    lf_batcher_added(p->batcher); /* a refusal keeps the batch: the event is in */
    return 0;
}

bool lf_pipeline_waiting(const struct lf_pipeline *p)
{
    return lf_batcher_refused(p->batcher);
}
