/*
 * fuzz_kafka_msg.c - any bytes as a Kafka message for the shipper. The
 * first byte picks the format (auto, json, raw) and which headers are
 * there; then, split at the first two NULs, the index header, the id
 * header, and the value. Whatever comes in, the document that goes into
 * the batch must be one JSON object on one line, as jansson (an
 * independent judge) reads it, with an @timestamp, so it cannot break or
 * forge a _bulk body. The value also goes to the JSON checker alone, whose
 * verdict must be jansson's (a differential check).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_msg.h"
#include "shipper_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lf_parser *parser(void)
{
    static struct lf_parser *p;
    if (!p) {
        char *expr[] = {"%{SYSLOGTIMESTAMP:timestamp} %{WORD:w} %{NUMBER:n:float}"};
        struct lf_grammar_conf g = {.name = "f",
                                    .expressions = expr,
                                    .nexpressions = 1,
                                    .max_line = 4096,
                                    .match_limit = 100000};
        char err[512];
        if (!(p = lf_parser_create(&g, "UTC", err, sizeof(err))))
            abort();
    }
    return p;
}

/* lf_json_check_object and jansson agree on whether v is one JSON object,
 * where JSON's grammar and jansson's limits agree: jansson refuses numbers
 * beyond a double, and \u escapes of a lone surrogate, which the grammar
 * allows; nesting past LF_JSON_MAX_DEPTH is ours to refuse. The top-level
 * @timestamp found is jansson's string, and multiline says whether a line
 * break is there (none can be inside a valid string). */
static void check_like_jansson(const char *v, size_t n)
{
    struct lf_json_object_info info;
    int rc = lf_json_check_object(v, n, &info);
    if (rc == LF_ELIMIT)
        return;
    json_error_t e;
    json_t *j = json_loadb(v, n, JSON_ALLOW_NUL, &e);
    if (!j && (strstr(e.text, "overflow") || strstr(e.text, "too big") ||
               strstr(e.text, "invalid Unicode")))
        return;
    if ((rc == 0) != (j && json_is_object(j)))
        abort();
    if (rc == 0) {
        if (info.multiline != (memchr(v, '\n', n) || memchr(v, '\r', n)))
            abort();
        json_t *ts = json_object_get(j, "@timestamp");
        if (!ts && info.timestamp)
            abort();
        if (json_is_string(ts)) {
            if (!info.timestamp)
                abort();
            if (!memchr(info.timestamp, '\\', info.timestamp_len) &&
                (info.timestamp_len != json_string_length(ts) ||
                 memcmp(info.timestamp, json_string_value(ts), info.timestamp_len) != 0))
                abort();
        }
    }
    json_decref(j);
}

static void ack(struct lf_ack_target *t, uint64_t seq)
{
    (void)t;
    (void)seq;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    const char *parts[3] = {NULL, NULL, rest};
    size_t lens[3] = {0, 0, n};
    for (int i = 0; i < 2; i++) {
        const char *z = memchr(parts[2], '\0', lens[2]);
        if (!z)
            break;
        parts[i] = parts[2];
        lens[i] = (size_t)(z - parts[2]);
        lens[2] -= lens[i] + 1;
        parts[2] = z + 1;
    }
    check_like_jansson(parts[2], lens[2]);
    struct lf_kafka_msg m = {.value = parts[2],
                             .len = lens[2],
                             .topic = "t",
                             .partition = flags & 3,
                             .offset = 42,
                             .timestamp_ms = (flags & 0x20) ? 1795082400000 : -1};
    if ((flags & 0x4) && parts[0]) {
        m.index = parts[0];
        m.index_len = lens[0];
    }
    if ((flags & 0x8) && parts[1]) {
        m.id = parts[1];
        m.id_len = lens[1];
    }
    if (flags & 0x10) {
        m.ts = "1795082400000";
        m.ts_len = 13;
    }
    struct lf_kafka_msg_conv *c =
        lf_kafka_msg_conv_create(parser(), (flags >> 6) % 3, "syslog", 4096);
    struct lf_batch *b = lf_batch_create(1u << 24, 16);
    struct lf_ack_target t = {.safe = ack};
    if (!c || !b)
        abort();
    int rc = lf_kafka_msg_add(c, &m, b, &t, 1);
    if (rc == 1) {
        const struct lf_doc *d = &b->docs[0];
        const char *doc = b->buf.data + d->off;
        if (memchr(doc, '\n', d->len) || memchr(doc, '\r', d->len))
            abort();
        json_error_t e;
        json_t *v = json_loadb(doc, d->len, JSON_ALLOW_NUL, &e);
        /* jansson refuses numbers too big for its int or double, and lone
         * surrogates in \u escapes; JSON's grammar allows both. */
        if (!v && !strstr(e.text, "overflow") && !strstr(e.text, "too big") &&
            !strstr(e.text, "invalid Unicode"))
            abort();
        if (v && (!json_is_object(v) || !json_object_get(v, "@timestamp")))
            abort();
        json_decref(v);
        if (strlen(d->id) != LF_DOC_ID_LEN || !d->index || !d->index[0])
            abort();
    } else if (rc != 0 && rc != LF_ENOMEM) {
        abort();
    }
    lf_batch_destroy(b);
    lf_kafka_msg_conv_destroy(c);
    return 0;
}
