/*
 * in_metrics.c - the metrics input: every interval, aligned to the wall
 * clock (a 10 s interval samples at :00, :10, ...), one event per metric set
 * from the sampler. Samples carry the aligned time, so their ids are stable.
 */
#define _POSIX_C_SOURCE 200809L
#include "input.h"
#include "sampler.h"

#include <stdio.h>
#include <stdlib.h>

static const struct {
    unsigned set;
    const char *source;
} metric_sets[] = {
    {LF_METRIC_LOAD, "metrics/load"},
    {LF_METRIC_MEMORY, "metrics/memory"},
    {LF_METRIC_CPU, "metrics/cpu"},
};

struct metrics_input {
    struct lf_input base;
    struct lf_pipeline *pipeline;
    struct lf_sampler *sampler;
    unsigned sets;
    const char *index;
    int64_t interval_ms;
    int64_t next_mono_ms;
    int64_t next_wall_ms; /* the aligned time of the next sample */
    struct lf_event ev;
    bool stopped;
};

static void schedule(struct metrics_input *m)
{
    int64_t wall = lf_now_wall_ms(), mono = lf_now_mono_ms();
    m->next_wall_ms = (wall / m->interval_ms + 1) * m->interval_ms;
    m->next_mono_ms = mono + (m->next_wall_ms - wall);
}

static int metrics_fd(struct lf_input *in)
{
    (void)in;
    return -1;
}

static int64_t metrics_deadline(struct lf_input *in)
{
    struct metrics_input *m = (struct metrics_input *)in;
    return m->stopped ? -1 : m->next_mono_ms;
}

static int metrics_run(struct lf_input *in, int64_t now)
{
    struct metrics_input *m = (struct metrics_input *)in;
    if (m->stopped || now < m->next_mono_ms)
        return 0;
    int64_t ts = m->next_wall_ms;
    for (size_t i = 0; i < sizeof(metric_sets) / sizeof(metric_sets[0]); i++) {
        if (!(m->sets & metric_sets[i].set))
            continue;
        lf_event_clear(&m->ev);
        int rc = lf_sampler_collect(m->sampler, metric_sets[i].set, &m->ev);
        if (rc == LF_ENOENT)
            continue; /* cpu needs a second sample */
        if (rc) {
            in->counters.errors++; /* the sampler logs why, once */
            continue;
        }
        in->counters.read++;
        struct lf_emit meta = {.index = m->index,
                               .source = metric_sets[i].source,
                               .position = (uint64_t)ts,
                               .ts_ms = ts};
        rc = lf_pipeline_emit(m->pipeline, &m->ev, &meta);
        if (rc == 0) {
            in->counters.emitted++;
            in->counters.acked++; /* no position to advance */
        } else {
            /* A sample is not kept for later: the next one supersedes it. */
            in->counters.errors++;
            lf_log(LF_LOG_DEBUG, "metrics", "sample dropped: %s", lf_strerror(rc));
        }
    }
    schedule(m);
    return 0;
}

static void metrics_stop(struct lf_input *in)
{
    ((struct metrics_input *)in)->stopped = true;
}

static int metrics_checkpoint(struct lf_input *in)
{
    (void)in;
    return 0;
}

static size_t metrics_in_flight(const struct lf_input *in)
{
    (void)in;
    return 0;
}

static void metrics_destroy(struct lf_input *in)
{
    struct metrics_input *m = (struct metrics_input *)in;
    if (!m)
        return;
    lf_sampler_destroy(m->sampler);
    lf_event_free(&m->ev);
    free(m);
}

static const struct lf_input_ops metrics_ops = {
    .name = "metrics",
    .fd = metrics_fd,
    .deadline = metrics_deadline,
    .run = metrics_run,
    .stop = metrics_stop,
    .checkpoint = metrics_checkpoint,
    .in_flight = metrics_in_flight,
    .destroy = metrics_destroy,
};

struct lf_input *lf_input_metrics_create(const struct lf_agent_conf *conf, struct lf_pipeline *p,
                                         char *errbuf, size_t errlen)
{
    struct metrics_input *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(errbuf, errlen, "metrics: out of memory");
        return NULL;
    }
    m->base.ops = &metrics_ops;
    m->base.name = "metrics";
    m->pipeline = p;
    m->sets = conf->metrics_sets;
    m->index = conf->metrics_index;
    m->interval_ms = conf->metrics_interval_ms ? (int64_t)conf->metrics_interval_ms : 10000;
    lf_event_init(&m->ev);
    m->sampler = lf_sampler_create(conf->proc_root, m->sets, errbuf, errlen);
    if (!m->sampler) {
        metrics_destroy(&m->base);
        return NULL;
    }
    /* A first cpu reading now, so that the first aligned sample has one. */
    if (m->sets & LF_METRIC_CPU)
        lf_sampler_collect(m->sampler, LF_METRIC_CPU, &m->ev);
    lf_event_clear(&m->ev);
    schedule(m);
    return &m->base;
}
