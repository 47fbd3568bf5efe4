/*
 * output_status.c - the output's part of the status documents (see
 * output_status.h), written once for the agent and the shipper.
 */
#include "output_status.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

void lf_prom_family(struct lf_buf *b, const char *name, const char *type, const char *help)
{
    lf_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void lf_prom_label(struct lf_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') {
            lf_buf_putc(b, '\\');
            lf_buf_putc(b, *s);
        } else if (*s == '\n') {
            lf_buf_puts(b, "\\n");
        } else {
            lf_buf_putc(b, *s);
        }
    }
}

static void sample(struct lf_buf *b, const char *name, const char *output, double v)
{
    lf_buf_printf(b, "%s{output=\"", name);
    lf_prom_label(b, output);
    lf_buf_printf(b, "\"} %.17g\n", v);
}

static const struct {
    const char *name, *key, *help;
    size_t offset;
} counters[] = {
    {"logferry_output_submitted_total", "submitted", "documents handed to the output",
     offsetof(struct lf_output_counters, submitted)},
    {"logferry_output_acked_total", "acked", "documents the server took",
     offsetof(struct lf_output_counters, acked)},
    {"logferry_output_failed_total", "failed", "documents refused for good (dead letters)",
     offsetof(struct lf_output_counters, failed)},
    {"logferry_output_retried_total", "retried", "documents sent again",
     offsetof(struct lf_output_counters, retried)},
    {"logferry_output_spooled_total", "spooled", "documents written to the spool",
     offsetof(struct lf_output_counters, spooled)},
    {"logferry_output_dropped_total", "dropped",
     "spooled documents dropped unread (when_full: drop_oldest)",
     offsetof(struct lf_output_counters, dropped)},
    {"logferry_output_bytes_total", "bytes", "document bytes handed to the output",
     offsetof(struct lf_output_counters, bytes)},
};

void lf_output_status_write(struct lf_buf *m, json_t *jo, const struct lf_output *out,
                            const struct lf_output_counters *totals, size_t pending,
                            const struct lf_output_state *st, int64_t now)
{
    const char *name = out->ops->name;
    json_object_set_new(jo, "type", json_string(name));
    for (size_t k = 0; k < sizeof(counters) / sizeof(counters[0]); k++) {
        uint64_t v = *(const uint64_t *)((const char *)totals + counters[k].offset);
        lf_prom_family(m, counters[k].name, "counter", counters[k].help);
        sample(m, counters[k].name, name, (double)v);
        json_object_set_new(jo, counters[k].key, json_integer((json_int_t)v));
    }
    double answer_age = st->last_answer_ms ? (double)(now - st->last_answer_ms) / 1000.0 : -1;
    lf_prom_family(m, "logferry_output_pending", "gauge", "documents not acknowledged yet");
    sample(m, "logferry_output_pending", name, (double)pending);
    lf_prom_family(m, "logferry_output_available", "gauge", "1 when the server takes documents");
    sample(m, "logferry_output_available", name, st->available);
    lf_prom_family(m, "logferry_output_spool_bytes", "gauge", "spooled bytes not delivered yet");
    sample(m, "logferry_output_spool_bytes", name, (double)st->spool_bytes);
    lf_prom_family(m, "logferry_output_last_answer_age_seconds", "gauge",
                   "since the server last answered (-1: never)");
    sample(m, "logferry_output_last_answer_age_seconds", name, answer_age);
    json_object_set_new(jo, "pending", json_integer((json_int_t)pending));
    json_object_set_new(jo, "available", json_boolean(st->available));
    if (!st->available)
        json_object_set_new(jo, "unavailable_for_s",
                            json_real((double)(now - st->unavailable_since_ms) / 1000.0));
    json_object_set_new(jo, "last_answer_age_s", json_real(answer_age));
    json_object_set_new(jo, "spool_bytes", json_integer((json_int_t)st->spool_bytes));
}
