/*
 * fuzz_jsonlines.c - any bytes as a line of a JSON-lines input
 * (grammars/jsonlines.c). The first byte picks the options (a target, the
 * grammar on the message, a message and a timestamp key, small limits);
 * the rest is the line. Whatever comes in, the event must be one JSON
 * object on one line without duplicate keys, as jansson (an independent
 * judge) reads it, and must not hold what the agent owns: no @timestamp,
 * agent or event object, no Elasticsearch metadata field, no host.name,
 * log.file.path or log.offset; a line that failed keeps its text.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grok.h"
#include "jsonlines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lf_parser *parser(void)
{
    static struct lf_parser *p;
    if (!p) {
        char *expr[] = {"%{WORD:method} %{NUMBER:status:int}"};
        struct lf_grammar_conf g = {.name = "f",
                                    .expressions = expr,
                                    .nexpressions = 1,
                                    .max_line = 1 << 16,
                                    .match_limit = 100000};
        char err[512];
        if (!(p = lf_parser_create(&g, "UTC", err, sizeof(err))))
            abort();
    }
    return p;
}

static void check(const char *doc, size_t len, bool cut)
{
    if (memchr(doc, '\n', len) || memchr(doc, '\r', len))
        abort(); /* a line break inside one event would split the bulk body */
    json_error_t e;
    json_t *v = json_loadb(doc, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &e);
    /* jansson refuses numbers too big for its int or double; JSON allows them. */
    if (!v && (strstr(e.text, "overflow") || strstr(e.text, "too big")))
        return;
    if (!v || !json_is_object(v))
        abort();
    static const char *const never[] = {"@timestamp", "agent",   "event",    "_id",
                                        "_index",     "_source", "_routing", "_version"};
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        if (json_object_get(v, never[i]))
            abort();
    json_t *error = json_object_get(v, "error");
    if (error && !json_is_object(error))
        abort();
    json_t *host = json_object_get(v, "host"), *log = json_object_get(v, "log");
    if (host && (!json_is_object(host) || json_object_get(host, "name")))
        abort();
    if (log && (!json_is_object(log) || json_object_get(log, "offset")))
        abort();
    json_t *file = log ? json_object_get(log, "file") : NULL;
    if (file && (!json_is_object(file) || json_object_get(file, "path")))
        abort();
    json_t *tags = json_object_get(v, "tags"), *t;
    size_t i;
    bool failed = false;
    json_array_foreach(tags, i, t)
    {
        if (json_is_string(t) && strcmp(json_string_value(t), LF_JSONLINES_TAG_FAILURE) == 0)
            failed = true;
    }
    if ((failed || cut) && !json_is_string(json_object_get(v, "message")))
        abort();
    if (cut && !failed)
        abort();
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t o = data[0];
    struct lf_jsonlines_conf conf = {.enabled = true,
                                     .target = (o & 1) ? "app.json" : NULL,
                                     .message_key = (o & 2) ? "msg" : "message",
                                     .message_fallback = (o >> 2) & 1,
                                     .timestamp_key = (o & 8) ? "time" : "@timestamp",
                                     .timestamp_format = (o >> 4) % 6,
                                     .apply_grammar = (o & 0x40) != 0,
                                     .max_depth = (o & 0x80) ? 4 : 20,
                                     .max_fields = (o & 0x80) ? 8 : 1000};
    char err[256];
    struct lf_jsonlines *j = lf_jsonlines_create(&conf, 1 << 16, err, sizeof(err));
    if (!j)
        abort();
    const char *line = (const char *)data + 1;
    size_t len = size - 1 > (1 << 16) ? 1 << 16 : size - 1;
    bool cut = size - 1 > (1 << 16);
    struct lf_event ev;
    lf_event_init(&ev);
    struct lf_input_counters c = {0};
    int64_t ts;
    int rc = lf_jsonlines_parse(j, parser(), line, len, cut, &ev, &ts, &c);
    if (rc == 0) {
        struct lf_buf out;
        lf_buf_init(&out, 1 << 24);
        if (lf_event_write_json(&ev, &out) == 0)
            check(out.data, out.len, cut);
        lf_buf_free(&out);
        if (c.read != 1 || c.parsed + c.unparsed != 1)
            abort();
    } else if (rc != LF_ENOMEM && rc != LF_ELIMIT) {
        abort();
    }
    lf_event_free(&ev);
    lf_jsonlines_destroy(j);
    return 0;
}
