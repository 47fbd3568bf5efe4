/*
 * batcher.c - the open batch in front of an output, shared by the agent's
 * pipeline and `logferry shipper`: documents go into the current batch,
 * which goes to the output when full (count or bytes) or old; a batch the
 * output refuses is kept and offered again with a short backoff, and the
 * callers stop reading meanwhile (memory stays bounded, nothing dropped).
 */
#include "shipper.h"

#include <stdlib.h>

#define DEFAULT_MAX_DOCS 2048
#define DEFAULT_MAX_BYTES (5u << 20)
#define DEFAULT_MAX_AGE_MS 1000
/* Room above max_bytes so one more document always fits (a cap, not an
 * allocation): a 1 MiB line can take 6 MiB once escaped, and a Kafka
 * message may be larger than a line. */
#define BATCH_SLACK (64u << 20)
#define RETRY_MIN_MS 100
/* A refused batch is offered again at least every second: the output
 * refuses while its memory and spool are full, and takes it as soon as
 * either has room, so a longer wait would only delay delivery. */
#define RETRY_MAX_MS 1000
#define WARN_INTERVAL_MS 60000

struct lf_batcher {
    struct lf_output *out;
    struct lf_batch *batch;
    size_t max_bytes;
    int64_t max_age_ms;
    bool refused;        /* the output refused the current batch */
    int64_t retry_at_ms; /* monotonic */
    int64_t retry_delay_ms;
    size_t pending_at_refusal; /* the output's pending documents then */
    int64_t warned_ms; /* when a refusal was last logged at warn level */
    bool warned;       /* the current refusal was */
};

struct lf_batcher *lf_batcher_create(struct lf_output *out, size_t max_docs, size_t max_bytes,
                                     int64_t max_age_ms)
{
    struct lf_batcher *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->out = out;
    b->max_bytes = max_bytes ? max_bytes : DEFAULT_MAX_BYTES;
    b->max_age_ms = max_age_ms > 0 ? max_age_ms : DEFAULT_MAX_AGE_MS;
    b->batch = lf_batch_create(b->max_bytes + BATCH_SLACK, max_docs ? max_docs : DEFAULT_MAX_DOCS);
    if (!b->batch) {
        free(b);
        return NULL;
    }
    return b;
}

void lf_batcher_destroy(struct lf_batcher *b)
{
    if (!b)
        return;
    lf_batch_destroy(b->batch);
    free(b);
}

struct lf_batch *lf_batcher_batch(struct lf_batcher *b)
{
    return b->batch;
}

size_t lf_batcher_queued(const struct lf_batcher *b)
{
    return b->batch->ndocs;
}

bool lf_batcher_refused(const struct lf_batcher *b)
{
    return b->refused;
}

int lf_batcher_flush(struct lf_batcher *b)
{
    if (b->batch->ndocs == 0)
        return 0;
    int rc = lf_output_submit(b->out, b->batch);
    int64_t now = lf_now_mono_ms();
    if (rc) {
        if (!b->refused) {
            /* A full output refuses and takes batches in turn while it
             * catches up: one warning per interval says so. */
            b->warned = b->warned_ms == 0 || now - b->warned_ms >= WARN_INTERVAL_MS;
            if (b->warned)
                b->warned_ms = now;
            /* A full memory queue is the output's pace, not a fault. */
            int level = rc == LF_ELIMIT ? LF_LOG_INFO : LF_LOG_WARN;
            lf_log(b->warned ? level : LF_LOG_DEBUG, "batcher",
                   "output %s refused a batch of %zu (%s); reading waits and it is offered again",
                   b->out->ops->name, b->batch->ndocs, lf_strerror(rc));
        }
        b->refused = true;
        b->retry_delay_ms = b->retry_delay_ms ? b->retry_delay_ms * 2 : RETRY_MIN_MS;
        if (b->retry_delay_ms > RETRY_MAX_MS)
            b->retry_delay_ms = RETRY_MAX_MS;
        b->retry_at_ms = now + b->retry_delay_ms;
        b->pending_at_refusal = lf_output_pending(b->out);
        return rc;
    }
    if (b->refused)
        lf_log(b->warned ? LF_LOG_INFO : LF_LOG_DEBUG, "batcher", "output %s takes batches again",
               b->out->ops->name);
    b->refused = false;
    b->retry_delay_ms = 0;
    lf_batch_clear(b->batch);
    return 0;
}

int lf_batcher_added(struct lf_batcher *b)
{
    if (b->batch->ndocs == 1)
        b->batch->opened_ms = lf_now_mono_ms();
    if (b->batch->buf.len >= b->max_bytes || b->batch->ndocs == b->batch->max_docs)
        return lf_batcher_flush(b); /* a refusal keeps the batch: the document is in */
    return 0;
}

int64_t lf_batcher_due(const struct lf_batcher *b)
{
    if (!b->batch->ndocs)
        return -1;
    if (!b->refused)
        return b->batch->opened_ms + b->max_age_ms;
    /* Documents acknowledged since the refusal made room: offer it now, so
     * that a healthy output never idles while reading waits. */
    if (lf_output_pending(b->out) < b->pending_at_refusal)
        return 0;
    return b->retry_at_ms;
}

int64_t lf_batcher_tick(struct lf_batcher *b, int64_t now)
{
    int64_t due = lf_batcher_due(b);
    if (due >= 0 && now >= due)
        lf_batcher_flush(b);
    return lf_batcher_due(b);
}
