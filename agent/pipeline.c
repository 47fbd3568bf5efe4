/*
 * pipeline.c - where inputs hand over events: the fields every event carries
 * are added, the event is written into the current batch, and batches go to
 * the output when full or old. While the output refuses a batch, the batch is
 * kept and retried with backoff, and emit answers LF_ELIMIT so that inputs
 * stop reading: memory stays bounded and nothing is dropped.
 */
#define _GNU_SOURCE /* CLOCK_REALTIME_COARSE */
#include "input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MAX_DOCS 2048
#define DEFAULT_MAX_BYTES (5u << 20)
#define DEFAULT_MAX_AGE_MS 1000
/* Room above max_bytes so one more event always fits: a 1 MiB line can
 * take 6 MiB once escaped. */
#define BATCH_SLACK (8u << 20)
#define RETRY_MIN_MS 100
#define WARN_INTERVAL_MS 60000
/* A refused batch is offered again at least every second: the output
 * refuses while its memory and spool are full, and takes it as soon as
 * either has room, so a longer wait would only delay delivery. */
#define RETRY_MAX_MS 1000

struct lf_pipeline {
    struct lf_output *out;
    struct lf_batch *batch;
    char host[256];
    size_t max_bytes;
    int64_t max_age_ms;
    bool failing;        /* the output refused the current batch */
    int64_t retry_at_ms; /* monotonic */
    int64_t retry_delay_ms;
    int64_t warned_ms;           /* when a refusal was last logged at warn level */
    bool warned;                 /* the current refusal was */
    struct lf_ts_cache ts_cache; /* @timestamp text of the last second */
    /* host.name, agent.type, agent.version: constant, added in one go */
    struct lf_field common[3];
};

struct lf_pipeline *lf_pipeline_create(struct lf_output *out, const char *host, size_t max_docs,
                                       size_t max_bytes, int64_t max_age_ms)
{
    struct lf_pipeline *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->out = out;
    snprintf(p->host, sizeof(p->host), "%s", host);
    p->max_bytes = max_bytes ? max_bytes : DEFAULT_MAX_BYTES;
    p->max_age_ms = max_age_ms > 0 ? max_age_ms : DEFAULT_MAX_AGE_MS;
    p->batch = lf_batch_create(p->max_bytes + BATCH_SLACK, max_docs ? max_docs : DEFAULT_MAX_DOCS);
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
    if (!p->batch) {
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
    lf_batch_destroy(p->batch);
    free(p);
}

const char *lf_pipeline_host(const struct lf_pipeline *p)
{
    return p->host;
}

size_t lf_pipeline_queued(const struct lf_pipeline *p)
{
    return p->batch->ndocs;
}

int lf_pipeline_flush(struct lf_pipeline *p)
{
    if (p->batch->ndocs == 0)
        return 0;
    int rc = lf_output_submit(p->out, p->batch);
    int64_t now = lf_now_mono_ms();
    if (rc) {
        /* Keep the batch; try again later, backing off. */
        if (!p->failing) {
            /* A full output refuses and takes batches in turn while it
             * catches up: one warning per interval says so. */
            p->warned = p->warned_ms == 0 || now - p->warned_ms >= WARN_INTERVAL_MS;
            if (p->warned)
                p->warned_ms = now;
            lf_log(p->warned ? LF_LOG_WARN : LF_LOG_DEBUG, "pipeline",
                   "output %s refused a batch of %zu (%s); the inputs wait and it is offered "
                   "again",
                   p->out->ops->name, p->batch->ndocs, lf_strerror(rc));
        }
        p->failing = true;
        p->retry_delay_ms = p->retry_delay_ms ? p->retry_delay_ms * 2 : RETRY_MIN_MS;
        if (p->retry_delay_ms > RETRY_MAX_MS)
            p->retry_delay_ms = RETRY_MAX_MS;
        p->retry_at_ms = now + p->retry_delay_ms;
        return rc;
    }
    if (p->failing)
        lf_log(p->warned ? LF_LOG_INFO : LF_LOG_DEBUG, "pipeline",
               "output %s accepts batches again", p->out->ops->name);
    p->failing = false;
    p->retry_delay_ms = 0;
    lf_batch_clear(p->batch);
    return 0;
}

int64_t lf_pipeline_tick(struct lf_pipeline *p, int64_t now)
{
    if (p->batch->ndocs) {
        int64_t due = p->failing ? p->retry_at_ms : p->batch->opened_ms + p->max_age_ms;
        if (now >= due)
            lf_pipeline_flush(p);
    }
    lf_output_poll(p->out, 0);
    if (!p->batch->ndocs)
        return -1;
    return p->failing ? p->retry_at_ms : p->batch->opened_ms + p->max_age_ms;
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
    if (p->failing)
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
    if (p->batch->ndocs == 0)
        p->batch->opened_ms = lf_now_mono_ms();
    rc = lf_batch_add_event(p->batch, ev, &doc);
    if (rc == LF_ELIMIT && p->batch->ndocs) {
        /* Full by count: send it, then this event opens the next one. */
        if (lf_pipeline_flush(p))
            return LF_ELIMIT;
        p->batch->opened_ms = lf_now_mono_ms();
        rc = lf_batch_add_event(p->batch, ev, &doc);
    }
    if (rc == LF_ELIMIT) {
        /* Larger than an empty batch can ever hold: it cannot be sent. */
        lf_log(LF_LOG_ERROR, "pipeline", "event from %s at %llu is too large for a batch",
               meta->source ? meta->source : "?", (unsigned long long)meta->position);
        return LF_EINVAL;
    }
    if (rc)
        return rc;
    if (p->batch->buf.len >= p->max_bytes || p->batch->ndocs == p->batch->max_docs)
        lf_pipeline_flush(p); /* a refusal keeps the batch: the event is in */
    return 0;
}
