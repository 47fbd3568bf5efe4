/*
 * agent_status.c - the agent's status documents and progress lines (see
 * agent_status.h).
 *
 * Health is judged on progress, not on momentary states: a healthy cluster
 * that is slower than a file's backlog refuses batches many times a second,
 * so "inputs wait" counts only when no acknowledgement came for
 * unhealthy_after; likewise the output and the spool must stay unavailable
 * or undelivered that long.
 */
#define _POSIX_C_SOURCE 200809L
#include "agent_status.h"
#include "output_status.h"
#include "status_server.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define UPDATE_MS 1000
#define PROGRESS_MS 10000
/* Files listed per input in one document: a glob over a huge directory
 * must not make every scrape megabytes long (the totals count them all). */
#define FILES_SHOWN 1000

struct lf_agent_status {
    struct lf_status_server *server; /* NULL: off */
    int64_t unhealthy_after_ms;
    int64_t started_ms;
    time_t started_wall;
    int64_t next_ms;
    struct lf_input_file *files;
    /* progress */
    uint64_t last_acked;
    int64_t last_ack_change_ms;
    int64_t spooling_since_ms; /* 0: not spooling */
    int64_t behind_since_ms;   /* 0: no file behind */
    int64_t progress_ms;
    uint64_t progress_acked; /* output acknowledgements at the last line */
    struct lf_buf metrics;
};

struct lf_agent_status *lf_agent_status_create(const char *listen, const char *data_dir,
                                               uint64_t unhealthy_after_ms, char *err,
                                               size_t errlen)
{
    struct lf_agent_status *st = calloc(1, sizeof(*st));
    if (st)
        st->files = calloc(FILES_SHOWN, sizeof(*st->files));
    if (!st || !st->files) {
        if (st)
            free(st);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    lf_buf_init(&st->metrics, 64u << 20);
    st->unhealthy_after_ms = (int64_t)unhealthy_after_ms;
    st->started_ms = lf_now_mono_ms();
    st->started_wall = time(NULL);
    st->last_ack_change_ms = st->started_ms;
    st->progress_ms = st->started_ms;
    char path[4096];
    if (!listen) {
        snprintf(path, sizeof(path), "unix:%s/status.sock", data_dir);
        listen = path;
    }
    if (strcmp(listen, "off") != 0) {
        char why[512];
        st->server = lf_status_server_start(listen, why, sizeof(why));
        if (!st->server) {
            snprintf(err, errlen, "status endpoint: %s", why);
            lf_agent_status_destroy(st);
            return NULL;
        }
        lf_log(LF_LOG_INFO, "agent", "status endpoint on %s (/metrics, /status, /health)", listen);
    }
    return st;
}

int64_t lf_agent_status_due(const struct lf_agent_status *st)
{
    return st->next_ms;
}

void lf_agent_status_destroy(struct lf_agent_status *st)
{
    if (!st)
        return;
    lf_status_server_stop(st->server);
    lf_buf_free(&st->metrics);
    free(st->files);
    free(st);
}

static void metric_head(struct lf_buf *b, const char *name, const char *type, const char *help)
{
    lf_prom_family(b, name, type, help);
}

static void metric_input(struct lf_buf *b, const char *name, const char *input, uint64_t v)
{
    lf_buf_printf(b, "%s{input=\"", name);
    lf_prom_label(b, input);
    lf_buf_printf(b, "\"} %llu\n", (unsigned long long)v);
}

static void metric_file(struct lf_buf *b, const char *name, const char *input, const char *path,
                        uint64_t v)
{
    lf_buf_printf(b, "%s{input=\"", name);
    lf_prom_label(b, input);
    lf_buf_puts(b, "\",path=\"");
    lf_prom_label(b, path);
    lf_buf_printf(b, "\"} %llu\n", (unsigned long long)v);
}

/* The per-input counters, one family each. */
static const struct {
    const char *name, *help;
    size_t offset;
} input_counters[] = {
    {"logferry_input_read_total", "lines or records read",
     offsetof(struct lf_input_counters, read)},
    {"logferry_input_parsed_total", "lines a grammar matched",
     offsetof(struct lf_input_counters, parsed)},
    {"logferry_input_unparsed_total", "lines no grammar matched (shipped tagged)",
     offsetof(struct lf_input_counters, unparsed)},
    {"logferry_input_emitted_total", "events handed to the output",
     offsetof(struct lf_input_counters, emitted)},
    {"logferry_input_acked_total", "events the output made safe",
     offsetof(struct lf_input_counters, acked)},
    {"logferry_input_truncated_total", "lines cut at max_line",
     offsetof(struct lf_input_counters, truncated)},
    {"logferry_input_errors_total", "read errors", offsetof(struct lf_input_counters, errors)},
};

#define COUNTER(ptr, off) (*(const uint64_t *)((const char *)(ptr) + (off)))

/* A journal input's place: "journal" in /status, a gauge in /metrics. */
static void add_journal(json_t *ji, struct lf_buf *metrics, const char *input,
                        const struct lf_input_journal *jr)
{
    char acked[LF_TS_TEXT_LEN] = "", read[LF_TS_TEXT_LEN] = "";
    struct lf_ts_cache c;
    lf_ts_cache_init(&c);
    if (jr->acked_ms)
        lf_ts_format(&c, jr->acked_ms, acked);
    if (jr->read_ms)
        lf_ts_format(&c, jr->read_ms, read);
    json_t *o = json_object();
    json_object_set_new(o, "journal", json_string(jr->journal));
    json_object_set_new(o, "cursor", jr->cursor ? json_string(jr->cursor) : json_null());
    json_object_set_new(o, "acked_time", jr->acked_ms ? json_string(acked) : json_null());
    json_object_set_new(o, "read_time", jr->read_ms ? json_string(read) : json_null());
    json_object_set_new(o, "pending", json_integer((json_int_t)jr->pending));
    json_object_set_new(ji, "journal", o);
    lf_buf_printf(metrics, "logferry_journal_acked_timestamp_seconds{input=\"");
    lf_prom_label(metrics, input);
    lf_buf_printf(metrics, "\"} %.3f\n", (double)jr->acked_ms / 1000.0);
}

/* Why the agent is unhealthy, or NULL. */
static const char *judge(struct lf_agent_status *st, const struct lf_agent_view *v,
                         const struct lf_output_state *os, int64_t now, char *why, size_t len)
{
    int64_t limit = st->unhealthy_after_ms;
    if (!os->available && now - os->unavailable_since_ms >= limit) {
        snprintf(why, len, "output %s unavailable for %lld s\n", v->output_name,
                 (long long)((now - os->unavailable_since_ms) / 1000));
        return why;
    }
    if (st->spooling_since_ms && now - st->spooling_since_ms >= limit) {
        snprintf(why, len, "spooling for %lld s: %llu bytes not delivered\n",
                 (long long)((now - st->spooling_since_ms) / 1000),
                 (unsigned long long)os->spool_bytes);
        return why;
    }
    if (v->reading_waits && now - st->last_ack_change_ms >= limit) {
        snprintf(why, len, "inputs blocked for %lld s: output %s %s\n",
                 (long long)((now - st->last_ack_change_ms) / 1000), v->output_name,
                 os->available ? "acknowledges nothing" : "unavailable");
        return why;
    }
    return NULL;
}

static void progress_line(struct lf_agent_status *st, const struct lf_agent_view *v,
                          const struct lf_output_state *os, uint64_t behind, size_t nbehind,
                          int64_t now)
{
    if (now - st->progress_ms < PROGRESS_MS)
        return;
    double secs = (double)(now - st->progress_ms) / 1000.0;
    double rate = (double)(v->output_totals->acked - st->progress_acked) / secs;
    st->progress_ms = now;
    st->progress_acked = v->output_totals->acked;
    bool catching_up = st->behind_since_ms && now - st->behind_since_ms >= PROGRESS_MS;
    bool draining = st->spooling_since_ms && now - st->spooling_since_ms >= PROGRESS_MS;
    if (!catching_up && !draining)
        return;
    lf_log(LF_LOG_INFO, "agent",
           "progress: %llu bytes behind in %zu file%s, %llu bytes in the spool, %.0f documents/s "
           "acknowledged by %s%s",
           (unsigned long long)behind, nbehind, nbehind == 1 ? "" : "s",
           (unsigned long long)os->spool_bytes, rate, v->output_name,
           os->available ? "" : " (unavailable)");
}

void lf_agent_status_update(struct lf_agent_status *st, const struct lf_agent_view *v,
                            int64_t now)
{
    if (now < st->next_ms)
        return;
    st->next_ms = now + UPDATE_MS;
    struct lf_output_state os;
    lf_output_state(v->out, &os);
    if (v->output_totals->acked != st->last_acked || !v->reading_waits) {
        st->last_acked = v->output_totals->acked;
        st->last_ack_change_ms = now;
    }
    if (!os.spooling)
        st->spooling_since_ms = 0;
    else if (!st->spooling_since_ms)
        st->spooling_since_ms = now;

    json_t *doc = json_object();
    json_t *inputs = json_array();
    struct lf_buf *m = &st->metrics;
    lf_buf_reset(m);
    metric_head(m, "logferry_up", "gauge", "1 while the agent runs");
    lf_buf_puts(m, "logferry_up 1\n");
    metric_head(m, "logferry_start_time_seconds", "gauge", "when the agent started (Unix time)");
    lf_buf_printf(m, "logferry_start_time_seconds %lld\n", (long long)st->started_wall);
    for (size_t k = 0; k < sizeof(input_counters) / sizeof(input_counters[0]); k++) {
        metric_head(m, input_counters[k].name, "counter", input_counters[k].help);
        for (size_t i = 0; i < v->ninputs; i++)
            metric_input(m, input_counters[k].name, v->inputs[i]->name,
                         COUNTER(&v->input_totals[i], input_counters[k].offset));
    }

    uint64_t behind_all = 0;
    size_t nbehind = 0;
    /* One buffer per family: the text format wants each family's samples
     * together, after its HELP and TYPE. */
    struct lf_buf offsets_m, sizes_m, unmatched_m, journal_m;
    lf_buf_init(&offsets_m, 64u << 20);
    lf_buf_init(&sizes_m, 64u << 20);
    lf_buf_init(&unmatched_m, 1u << 20);
    lf_buf_init(&journal_m, 1u << 20);
    for (size_t i = 0; i < v->ninputs; i++) {
        const struct lf_input *in = v->inputs[i];
        json_t *ji = json_object();
        json_object_set_new(ji, "name", json_string(in->name));
        for (size_t k = 0; k < sizeof(input_counters) / sizeof(input_counters[0]); k++) {
            /* "logferry_input_read_total" -> "read" */
            char key[32];
            const char *n = input_counters[k].name + strlen("logferry_input_");
            snprintf(key, sizeof(key), "%.*s", (int)(strlen(n) - strlen("_total")), n);
            json_object_set_new(ji, key,
                                json_integer((json_int_t)COUNTER(&v->input_totals[i],
                                                                 input_counters[k].offset)));
        }
        if (in->ops->files) {
            size_t total = in->ops->files(in, st->files, FILES_SHOWN);
            size_t shown = total < FILES_SHOWN ? total : FILES_SHOWN;
            uint64_t behind = 0;
            json_t *jf = json_array();
            for (size_t f = 0; f < shown; f++) {
                const struct lf_input_file *x = &st->files[f];
                uint64_t b = x->size - x->offset;
                behind += b;
                nbehind += b > 0;
                json_array_append_new(jf, json_pack("{s:s, s:I, s:I, s:I}", "path", x->path,
                                                    "offset", (json_int_t)x->offset, "size",
                                                    (json_int_t)x->size, "behind",
                                                    (json_int_t)b));
                metric_file(&offsets_m, "logferry_file_offset_bytes", in->name, x->path, x->offset);
                metric_file(&sizes_m, "logferry_file_size_bytes", in->name, x->path, x->size);
            }
            behind_all += behind;
            json_object_set_new(ji, "files", jf);
            json_object_set_new(ji, "files_followed", json_integer((json_int_t)total));
            json_object_set_new(ji, "bytes_behind", json_integer((json_int_t)behind));
        }
        if (in->ops->unmatched) {
            struct lf_input_path paths[16];
            size_t total = in->ops->unmatched(in, paths, 16);
            json_t *ju = json_array();
            for (size_t k = 0; k < total && k < 16; k++)
                json_array_append_new(ju, json_pack("{s:s, s:s}", "pattern", paths[k].pattern,
                                                    "why", paths[k].why));
            json_object_set_new(ji, "paths_without_files", ju);
            lf_buf_printf(&unmatched_m, "logferry_input_paths_without_files{input=\"");
            lf_prom_label(&unmatched_m, in->name);
            lf_buf_printf(&unmatched_m, "\"} %zu\n", total);
        }
        struct lf_input_journal jr;
        if (in->ops->journal && in->ops->journal(in, &jr))
            add_journal(ji, &journal_m, in->name, &jr);
        json_array_append_new(inputs, ji);
    }
    if (offsets_m.len) {
        metric_head(m, "logferry_file_offset_bytes", "gauge", "where the next line starts");
        lf_buf_append(m, offsets_m.data, offsets_m.len);
        metric_head(m, "logferry_file_size_bytes", "gauge",
                    "the file's size at the last look (minus offset: bytes behind)");
        lf_buf_append(m, sizes_m.data, sizes_m.len);
    }
    if (journal_m.len) {
        metric_head(m, "logferry_journal_acked_timestamp_seconds", "gauge",
                    "journal time of the last entry up to which every one is safe (0: none "
                    "since the start)");
        lf_buf_append(m, journal_m.data, journal_m.len);
    }
    if (unmatched_m.len) {
        metric_head(m, "logferry_input_paths_without_files", "gauge",
                    "path patterns that lead to no file (the reason is in /status and the log)");
        lf_buf_append(m, unmatched_m.data, unmatched_m.len);
    }
    lf_buf_free(&offsets_m);
    lf_buf_free(&sizes_m);
    lf_buf_free(&unmatched_m);
    lf_buf_free(&journal_m);
    if (!behind_all)
        st->behind_since_ms = 0;
    else if (!st->behind_since_ms)
        st->behind_since_ms = now;

    json_t *jo = json_object();
    lf_output_status_write(m, jo, v->out, v->output_totals, v->output_pending, &os, now);
    json_object_set_new(jo, "reading_waits", json_boolean(v->reading_waits));

    char why[256];
    const char *unhealthy = judge(st, v, &os, now, why, sizeof(why));
    metric_head(m, "logferry_healthy", "gauge", "1 when /health answers 200");
    lf_buf_printf(m, "logferry_healthy %d\n", unhealthy ? 0 : 1);

    json_object_set_new(doc, "version", json_string(LF_VERSION));
    json_object_set_new(doc, "pid", json_integer((json_int_t)getpid()));
    json_object_set_new(doc, "uptime_s", json_real((double)(now - st->started_ms) / 1000.0));
    json_object_set_new(doc, "healthy", json_boolean(!unhealthy));
    if (unhealthy) {
        char reason[256];
        snprintf(reason, sizeof(reason), "%.*s", (int)strcspn(unhealthy, "\n"), unhealthy);
        json_object_set_new(doc, "unhealthy_because", json_string(reason));
    }
    json_object_set_new(doc, "inputs", inputs);
    json_object_set_new(doc, "output", jo);
    json_object_set_new(doc, "bytes_behind", json_integer((json_int_t)behind_all));

    if (st->server) {
        char *text = json_dumps(doc, JSON_COMPACT);
        if (!text || lf_buf_putc(m, '\0') || lf_status_publish(st->server, m->data, text, unhealthy))
            lf_log(LF_LOG_WARN, "agent", "status endpoint: out of memory, the last document stays");
        free(text);
    }
    json_decref(doc);
    progress_line(st, v, &os, behind_all, nbehind, now);
}
