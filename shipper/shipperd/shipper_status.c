/*
 * shipper_status.c - the shipper's status documents (see shipper_status.h).
 *
 * Unhealthy: the output unavailable for unhealthy_after, or consumption
 * held back that long with no document acknowledged (a cluster that is only
 * slower than Kafka acknowledges all the time).
 */
#define _POSIX_C_SOURCE 200809L
#include "shipper_status.h"
#include "output_status.h"
#include "status_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define UPDATE_MS 1000

struct lf_shipper_status {
    struct lf_status_server *server;
    int64_t unhealthy_after_ms;
    int64_t started_ms, next_ms;
    time_t started_wall;
    uint64_t last_acked;
    int64_t last_ack_change_ms;
    struct lf_buf metrics;
};

struct lf_shipper_status *lf_shipper_status_create(const char *listen, const char *data_dir,
                                                   uint64_t unhealthy_after_ms, char *err,
                                                   size_t errlen)
{
    char path[4096];
    if (!listen) {
        snprintf(path, sizeof(path), "unix:%s/status.sock", data_dir);
        listen = path;
    }
    if (strcmp(listen, "off") == 0)
        return NULL;
    struct lf_shipper_status *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char why[512];
    st->server = lf_status_server_start(listen, why, sizeof(why));
    if (!st->server) {
        snprintf(err, errlen, "status endpoint: %s", why);
        free(st);
        return NULL;
    }
    lf_buf_init(&st->metrics, 64u << 20);
    st->unhealthy_after_ms = (int64_t)unhealthy_after_ms;
    st->started_ms = st->last_ack_change_ms = lf_now_mono_ms();
    st->started_wall = time(NULL);
    lf_log(LF_LOG_INFO, "shipper", "status endpoint on %s (/metrics, /status, /health)", listen);
    return st;
}

int64_t lf_shipper_status_due(const struct lf_shipper_status *st)
{
    return st->next_ms;
}

void lf_shipper_status_destroy(struct lf_shipper_status *st)
{
    if (!st)
        return;
    lf_status_server_stop(st->server);
    lf_buf_free(&st->metrics);
    free(st);
}

static void part_sample(struct lf_buf *m, const char *name, const struct lf_shipper_part_view *p,
                        long long v)
{
    lf_buf_printf(m, "%s{topic=\"", name);
    lf_prom_label(m, p->topic);
    lf_buf_printf(m, "\",partition=\"%d\"} %lld\n", (int)p->partition, v);
}

static const char *judge(struct lf_shipper_status *st, const struct lf_shipper_view *v,
                         const struct lf_output_state *os, int64_t now, char *why, size_t len)
{
    if (!os->available && now - os->unavailable_since_ms >= st->unhealthy_after_ms) {
        snprintf(why, len, "output %s unavailable for %lld s\n", v->out->ops->name,
                 (long long)((now - os->unavailable_since_ms) / 1000));
        return why;
    }
    if (v->held_back && now - st->last_ack_change_ms >= st->unhealthy_after_ms) {
        snprintf(why, len, "consumption held back for %lld s: output %s %s\n",
                 (long long)((now - st->last_ack_change_ms) / 1000), v->out->ops->name,
                 os->available ? "acknowledges nothing" : "unavailable");
        return why;
    }
    return NULL;
}

void lf_shipper_status_update(struct lf_shipper_status *st, const struct lf_shipper_view *v,
                              int64_t now)
{
    if (!st || now < st->next_ms)
        return;
    st->next_ms = now + UPDATE_MS;
    struct lf_output_state os;
    lf_output_state(v->out, &os);
    if (v->out->counters.acked != st->last_acked || !v->held_back) {
        st->last_acked = v->out->counters.acked;
        st->last_ack_change_ms = now;
    }
    struct lf_buf *m = &st->metrics;
    lf_buf_reset(m);
    json_t *doc = json_object(), *jo = json_object(), *parts = json_array();
    lf_prom_family(m, "logferry_up", "gauge", "1 while the shipper runs");
    lf_buf_puts(m, "logferry_up 1\n");
    lf_prom_family(m, "logferry_start_time_seconds", "gauge", "when it started (Unix time)");
    lf_buf_printf(m, "logferry_start_time_seconds %lld\n", (long long)st->started_wall);
    lf_prom_family(m, "logferry_shipper_consumed_total", "counter", "messages consumed");
    lf_buf_printf(m, "logferry_shipper_consumed_total %llu\n", (unsigned long long)v->consumed);
    lf_output_status_write(m, jo, v->out, &v->out->counters, v->pending, &os, now);

    static const struct {
        const char *name, *type, *help;
    } families[] = {
        {"logferry_partition_consumed_total", "counter", "messages consumed from the partition"},
        {"logferry_partition_indexed_total", "counter", "its documents Elasticsearch took"},
        {"logferry_partition_in_flight", "gauge", "consumed, not acknowledged yet"},
        {"logferry_partition_committed_offset", "gauge", "the offset committed (-1: none)"},
        {"logferry_partition_lag", "gauge", "messages behind the high watermark (-1: unknown)"},
        {"logferry_partition_paused", "gauge", "1 while paused"},
    };
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        lf_prom_family(m, families[f].name, families[f].type, families[f].help);
        for (size_t i = 0; i < v->nparts; i++) {
            const struct lf_shipper_part_view *p = &v->parts[i];
            long long value[] = {(long long)p->consumed,  (long long)p->indexed,
                                 (long long)p->in_flight, (long long)p->committed,
                                 (long long)p->lag,       p->paused};
            part_sample(m, families[f].name, p, value[f]);
        }
    }
    int64_t lag_total = 0;
    for (size_t i = 0; i < v->nparts; i++) {
        const struct lf_shipper_part_view *p = &v->parts[i];
        lag_total += p->lag > 0 ? p->lag : 0;
        json_array_append_new(
            parts, json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "topic", p->topic,
                             "partition", (int)p->partition, "consumed", (json_int_t)p->consumed,
                             "indexed", (json_int_t)p->indexed, "failed", (json_int_t)p->failed,
                             "in_flight", (json_int_t)p->in_flight, "committed",
                             (json_int_t)p->committed, "lag", (json_int_t)p->lag, "paused",
                             p->paused));
    }
    json_object_set_new(jo, "reading_waits", json_boolean(v->held_back));
    char why[256];
    const char *unhealthy = judge(st, v, &os, now, why, sizeof(why));
    lf_prom_family(m, "logferry_healthy", "gauge", "1 when /health answers 200");
    lf_buf_printf(m, "logferry_healthy %d\n", unhealthy ? 0 : 1);
    json_object_set_new(doc, "daemon", json_string("shipper"));
    json_object_set_new(doc, "version", json_string(LF_VERSION));
    json_object_set_new(doc, "pid", json_integer((json_int_t)getpid()));
    json_object_set_new(doc, "uptime_s", json_real((double)(now - st->started_ms) / 1000.0));
    json_object_set_new(doc, "healthy", json_boolean(!unhealthy));
    if (unhealthy) {
        char reason[256];
        snprintf(reason, sizeof(reason), "%.*s", (int)strcspn(unhealthy, "\n"), unhealthy);
        json_object_set_new(doc, "unhealthy_because", json_string(reason));
    }
    json_object_set_new(doc, "consumed", json_integer((json_int_t)v->consumed));
    json_object_set_new(doc, "partitions", parts);
    json_object_set_new(doc, "lag", json_integer((json_int_t)lag_total));
    json_object_set_new(doc, "output", jo);
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text || lf_buf_putc(m, '\0') || lf_status_publish(st->server, m->data, text, unhealthy))
        lf_log(LF_LOG_WARN, "shipper", "status endpoint: out of memory, the last document stays");
    free(text);
    json_decref(doc);
}
