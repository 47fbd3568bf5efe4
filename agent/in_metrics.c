/*
 * in_metrics.c - the metrics input: every interval, aligned to the wall
 * clock (a 10 s interval samples at :00, :10, ...), the events of each
 * metric set: one for load, memory, cpu, fsstat, process_summary and uptime
 * (sampler.c, sysmetrics.c), one per interface, disk, mount or top process
 * for the others. Samples carry the aligned time, and each document's id
 * comes from the set and the thing it describes, so ids are stable.
 *
 * Every event gets Metricbeat's envelope: event.module and service.type
 * "system", metricset.name, metricset.period (ms), event.duration (ns spent
 * sampling the set), ecs.version, and the host fields of hostinfo.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "hostinfo.h"
#include "input.h"
#include "sampler.h"
#include "sysmetrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLER_SETS (LF_METRIC_LOAD | LF_METRIC_MEMORY | LF_METRIC_CPU)
#define ECS_VERSION "8.0.0" /* what Metricbeat 8 sends */

static const struct {
    unsigned set;
    const char *name;
} metric_sets[] = {
    {LF_METRIC_LOAD, "load"},       {LF_METRIC_MEMORY, "memory"},
    {LF_METRIC_CPU, "cpu"},         {LF_METRIC_NETWORK, "network"},
    {LF_METRIC_DISKIO, "diskio"},   {LF_METRIC_FILESYSTEM, "filesystem"},
    {LF_METRIC_FSSTAT, "fsstat"},   {LF_METRIC_PROCESS_SUMMARY, "process_summary"},
    {LF_METRIC_PROCESS, "process"}, {LF_METRIC_UPTIME, "uptime"},
};

struct metrics_input {
    struct lf_input base;
    struct lf_pipeline *pipeline;
    struct lf_sampler *sampler; /* load, memory, cpu; NULL if none */
    struct lf_sysmetrics *sys;  /* the other sets; NULL if none */
    struct lf_host_info host;
    unsigned sets;
    const char *index;
    int64_t interval_ms;
    int64_t next_mono_ms;
    int64_t next_wall_ms; /* the aligned time of the next sample */
    struct lf_event ev;
    bool stopped;
    /* the set being sampled, for emit_one */
    const char *set_name;
    int64_t ts_ms;
    int64_t started_ns;
    char source[320];
};

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void schedule(struct metrics_input *m)
{
    int64_t wall = lf_now_wall_ms(), mono = lf_now_mono_ms();
    m->next_wall_ms = (wall / m->interval_ms + 1) * m->interval_ms;
    m->next_mono_ms = mono + (m->next_wall_ms - wall);
}

/* Adds the envelope to ev and puts it in the batch. A sample that cannot go
 * is counted and dropped, not kept: the next one supersedes it. Always 0, so
 * that the other things of the set still go. */
static int emit_one(void *arg, struct lf_event *ev, const char *key)
{
    struct metrics_input *m = arg;
    struct lf_input *in = &m->base;
    struct lf_field env[6] = {
        {.path = "event.module", .path_len = 12, .type = LF_VAL_STRING, .str = "system", .len = 6},
        {.path = "service.type", .path_len = 12, .type = LF_VAL_STRING, .str = "system", .len = 6},
        {.path = "metricset.name",
         .path_len = 14,
         .type = LF_VAL_STRING,
         .str = m->set_name,
         .len = strlen(m->set_name)},
        {.path = "metricset.period", .path_len = 16, .type = LF_VAL_INT, .v.i = m->interval_ms},
        {.path = "event.duration",
         .path_len = 14,
         .type = LF_VAL_INT,
         .v.i = mono_ns() - m->started_ns},
        {.path = "ecs.version",
         .path_len = 11,
         .type = LF_VAL_STRING,
         .str = ECS_VERSION,
         .len = sizeof(ECS_VERSION) - 1},
    };
    in->counters.read++;
    int rc = lf_event_add_fields(ev, env, sizeof(env) / sizeof(env[0]));
    if (!rc)
        rc = lf_host_info_add(&m->host, ev);
    if (!rc) {
        snprintf(m->source, sizeof(m->source), "metrics/%s%s%s", m->set_name, *key ? "/" : "", key);
        struct lf_emit meta = {.index = m->index,
                               .source = m->source,
                               .position = (uint64_t)m->ts_ms,
                               .ts_ms = m->ts_ms};
        rc = lf_pipeline_emit(m->pipeline, ev, &meta);
    }
    if (rc == 0) {
        in->counters.emitted++;
        in->counters.acked++; /* no position to advance */
    } else {
        in->counters.errors++;
        lf_log(LF_LOG_DEBUG, "metrics", "%s sample dropped: %s", m->set_name, lf_strerror(rc));
    }
    return 0;
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
    m->ts_ms = m->next_wall_ms;
    for (size_t i = 0; i < sizeof(metric_sets) / sizeof(metric_sets[0]); i++) {
        unsigned set = metric_sets[i].set;
        if (!(m->sets & set))
            continue;
        m->set_name = metric_sets[i].name;
        m->started_ns = mono_ns();
        int rc;
        if (set & SAMPLER_SETS) {
            lf_event_clear(&m->ev);
            rc = lf_sampler_collect(m->sampler, set, &m->ev);
            if (!rc)
                rc = emit_one(m, &m->ev, "");
        } else {
            rc = lf_sysmetrics_collect(m->sys, set, lf_now_mono_ms(), &m->ev, emit_one, m);
        }
        if (rc && rc != LF_ENOENT) /* LF_ENOENT: cpu, process need a second sample */
            in->counters.errors++; /* the sampler logs why, once */
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
    lf_sysmetrics_destroy(m->sys);
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

static int discard(void *arg, struct lf_event *ev, const char *key)
{
    (void)arg;
    (void)ev;
    (void)key;
    return 0;
}

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
    lf_host_info_read(&m->host, NULL);
    if (m->sets & SAMPLER_SETS) {
        m->sampler = lf_sampler_create(conf->proc_root, m->sets & SAMPLER_SETS, errbuf, errlen);
        if (!m->sampler) {
            metrics_destroy(&m->base);
            return NULL;
        }
    }
    if (m->sets & ~(unsigned)SAMPLER_SETS) {
        m->sys = lf_sysmetrics_create(conf->proc_root, m->sets & ~(unsigned)SAMPLER_SETS,
                                      conf->metrics_top_n, errbuf, errlen);
        if (!m->sys) {
            metrics_destroy(&m->base);
            return NULL;
        }
    }
    /* First cpu and process readings now, so that the first aligned sample
     * has percentages. */
    if (m->sets & LF_METRIC_CPU)
        lf_sampler_collect(m->sampler, LF_METRIC_CPU, &m->ev);
    if (m->sets & LF_METRIC_PROCESS)
        lf_sysmetrics_collect(m->sys, LF_METRIC_PROCESS, lf_now_mono_ms(), &m->ev, discard, NULL);
    lf_event_clear(&m->ev);
    schedule(m);
    return &m->base;
}
