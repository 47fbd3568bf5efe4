/*
 * kafka_msg.c - Kafka messages into documents: the agent's JSON passes
 * through checked, other producers' JSON is completed, raw lines are parsed.
 */
#define _POSIX_C_SOURCE 200809L
#include "kafka_msg.h"
#include "es_conf.h"
#include "shipper_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lf_kafka_msg_conv {
    struct lf_parser *parser;
    int format;
    const char *default_index;
    uint64_t max_line;
    struct lf_event ev;
    struct lf_ts_cache ts_cache;
    struct lf_buf scratch;
    char *prefixes[LF_KAFKA_MAX_PREFIXES];
    size_t nprefixes;
    bool prefixes_full_logged;
    uint64_t *counted; /* the counter of the message being added */
    struct lf_kafka_msg_counters counters;
};

struct lf_kafka_msg_conv *lf_kafka_msg_conv_create(struct lf_parser *parser, int format,
                                                   const char *default_index, uint64_t max_line)
{
    struct lf_kafka_msg_conv *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->parser = parser;
    c->format = format;
    c->default_index = default_index;
    c->max_line = max_line ? max_line : (1u << 20);
    lf_event_init(&c->ev);
    lf_ts_cache_init(&c->ts_cache);
    lf_buf_init(&c->scratch, 256u << 20);
    return c;
}

void lf_kafka_msg_conv_destroy(struct lf_kafka_msg_conv *c)
{
    if (!c)
        return;
    lf_event_free(&c->ev);
    lf_buf_free(&c->scratch);
    for (size_t i = 0; i < c->nprefixes; i++)
        free(c->prefixes[i]);
    free(c);
}

const struct lf_kafka_msg_counters *lf_kafka_msg_conv_counters(const struct lf_kafka_msg_conv *c)
{
    return &c->counters;
}

/* ---- headers ------------------------------------------------------------ */

/* The header's index prefix, kept for the converter's lifetime (documents
 * point at it until the output has copied them); NULL when the header is
 * absent or not a valid prefix. */
static const char *header_index(struct lf_kafka_msg_conv *c, const struct lf_kafka_msg *m)
{
    if (!m->index)
        return NULL;
    for (size_t i = 0; i < c->nprefixes; i++)
        if (strlen(c->prefixes[i]) == m->index_len &&
            memcmp(c->prefixes[i], m->index, m->index_len) == 0)
            return c->prefixes[i];
    char name[201];
    if (m->index_len == 0 || m->index_len >= sizeof(name) || memchr(m->index, '\0', m->index_len))
        goto bad;
    memcpy(name, m->index, m->index_len);
    name[m->index_len] = '\0';
    if (lf_es_check_index_prefix(name))
        goto bad;
    if (c->nprefixes == LF_KAFKA_MAX_PREFIXES) {
        if (!c->prefixes_full_logged)
            lf_log(LF_LOG_WARN, "shipper",
                   "more than %d index prefixes in message headers: further ones go to %s",
                   LF_KAFKA_MAX_PREFIXES, c->default_index);
        c->prefixes_full_logged = true;
        return NULL;
    }
    if (!(c->prefixes[c->nprefixes] = strdup(name)))
        return NULL;
    return c->prefixes[c->nprefixes++];
bad:
    c->counters.bad_headers++;
    return NULL;
}

static bool header_id(struct lf_kafka_msg_conv *c, const struct lf_kafka_msg *m,
                      char out[LF_DOC_ID_LEN + 1])
{
    if (!m->id)
        return false;
    if (m->id_len != LF_DOC_ID_LEN)
        goto bad;
    /* Without a branch per digit: random hex digits made the branches
     * mispredict, and this loop cost 8% of the shipper's thread. */
    unsigned not_hex = 0;
    for (size_t i = 0; i < LF_DOC_ID_LEN; i++) {
        unsigned ch = (unsigned char)m->id[i];
        not_hex |= (ch - '0' > 9u) & (ch - 'a' > 5u);
    }
    if (not_hex)
        goto bad;
    memcpy(out, m->id, LF_DOC_ID_LEN);
    out[LF_DOC_ID_LEN] = '\0';
    return true;
bad:
    c->counters.bad_headers++;
    return false;
}

static bool header_ts(struct lf_kafka_msg_conv *c, const struct lf_kafka_msg *m, int64_t *ms)
{
    if (!m->ts)
        return false;
    size_t i = m->ts_len && m->ts[0] == '-' ? 1 : 0;
    int64_t v = 0;
    if (m->ts_len == i || m->ts_len - i > 15) /* beyond year 9999 in ms */
        goto bad;
    for (; i < m->ts_len; i++) {
        if (m->ts[i] < '0' || m->ts[i] > '9')
            goto bad;
        v = v * 10 + (m->ts[i] - '0');
    }
    *ms = m->ts[0] == '-' ? -v : v;
    return true;
bad:
    c->counters.bad_headers++;
    return false;
}

/* ---- documents ---------------------------------------------------------- */

/* An id for a message that brings none: where it is in Kafka. */
static void position_id(const struct lf_kafka_msg *m, char out[LF_DOC_ID_LEN + 1])
{
    char source[512];
    snprintf(source, sizeof(source), "%s/%d", m->topic ? m->topic : "", (int)m->partition);
    lf_doc_id(out, "kafka", source, (uint64_t)m->offset);
}

static int64_t fallback_time(const struct lf_kafka_msg *m)
{
    return m->timestamp_ms > 0 ? m->timestamp_ms : lf_now_wall_ms();
}

static int add_event(struct lf_kafka_msg_conv *c, struct lf_batch *b, const struct lf_doc *meta,
                     int64_t ts)
{
    static const struct lf_field agent_fields[] = {{.path = "agent.type",
                                                    .path_len = 10,
                                                    .type = LF_VAL_STRING,
                                                    .flags = LF_FIELD_CONST,
                                                    .str = "logferry",
                                                    .len = 8},
                                                   {.path = "agent.version",
                                                    .path_len = 13,
                                                    .type = LF_VAL_STRING,
                                                    .flags = LF_FIELD_CONST,
                                                    .str = LF_VERSION,
                                                    .len = sizeof(LF_VERSION) - 1}};
    char text[LF_TS_TEXT_LEN];
    size_t n = lf_ts_format(&c->ts_cache, ts, text);
    int rc;
    if ((!lf_event_get(&c->ev, "@timestamp", 10) &&
         (rc = lf_event_add_copy(&c->ev, "@timestamp", text, n))) ||
        (rc = lf_event_add_fields(&c->ev, agent_fields, 2)))
        return rc == LF_ELIMIT ? LF_ENOMEM : rc; /* not "batch full" */
    struct lf_doc d = *meta;
    d.ts_ms = ts;
    return lf_batch_add_event(b, &c->ev, &d);
}

/* A raw line through the grammar. */
static int add_line(struct lf_kafka_msg_conv *c, const struct lf_kafka_msg *m, struct lf_batch *b,
                    const struct lf_doc *meta, bool have_ts, int64_t ts)
{
    size_t len = m->len;
    bool cut = len > c->max_line;
    if (cut)
        len = (size_t)c->max_line;
    int64_t parsed_ts = 0;
    int rc = lf_parser_parse(c->parser, m->value, len, cut, &c->ev, &parsed_ts, &c->counters.lines);
    if (rc)
        return rc == LF_ELIMIT ? LF_ENOMEM : rc;
    c->counted = &c->counters.raw;
    if (!have_ts)
        ts = parsed_ts ? parsed_ts : fallback_time(m);
    return add_event(c, b, meta, ts);
}

/* A value that should have been a JSON object: its bytes as the message. */
static int add_invalid(struct lf_kafka_msg_conv *c, const struct lf_kafka_msg *m,
                       struct lf_batch *b, const struct lf_doc *meta, bool have_ts, int64_t ts)
{
    lf_event_clear(&c->ev);
    size_t len = m->len > c->max_line ? (size_t)c->max_line : m->len;
    int rc;
    if ((rc = lf_event_add_string(&c->ev, "message", m->value, len)) ||
        (rc = lf_event_add_tag(&c->ev, "_jsonparsefailure")) ||
        (len < m->len && (rc = lf_event_add_tag(&c->ev, "_truncated"))))
        return rc == LF_ELIMIT ? LF_ENOMEM : rc;
    c->counted = &c->counters.invalid;
    return add_event(c, b, meta, have_ts ? ts : fallback_time(m));
}

/* A JSON object: as is when it is complete and on one line, else compacted
 * and given an @timestamp. */
static int add_json(struct lf_kafka_msg_conv *c, const struct lf_kafka_msg *m, struct lf_batch *b,
                    struct lf_doc *meta, const struct lf_json_object_info *info, bool have_ts,
                    int64_t ts, bool from_agent)
{
    const char *json = m->value;
    size_t len = m->len;
    if (!have_ts) {
        have_ts = info->timestamp &&
                  lf_parser_parse_time(c->parser, info->timestamp, info->timestamp_len, &ts);
        if (!have_ts)
            ts = fallback_time(m);
    }
    meta->ts_ms = ts;
    bool tidy = !info->multiline && len >= 2 && json[0] == '{' && json[len - 1] == '}';
    if (tidy && info->timestamp) {
        c->counted = from_agent ? &c->counters.passed : &c->counters.json;
        return lf_batch_add_json(b, json, len, meta);
    }
    lf_buf_reset(&c->scratch);
    int rc = 0;
    if (!info->timestamp) {
        char text[LF_TS_TEXT_LEN];
        size_t n = lf_ts_format(&c->ts_cache, ts, text);
        if ((rc = lf_buf_append(&c->scratch, "{\"@timestamp\":\"", 15)) ||
            (rc = lf_buf_append(&c->scratch, text, n)) ||
            (rc = lf_buf_append(&c->scratch, "\"", 1)))
            return LF_ENOMEM;
    }
    size_t body = c->scratch.len;
    if ((rc = lf_json_compact(&c->scratch, json, len)))
        return LF_ENOMEM;
    if (!info->timestamp) {
        /* "{...}" after our "{"@timestamp":"..."": drop its "{", add a ','
         * unless it was empty. */
        char *obj = c->scratch.data + body;
        size_t rest = c->scratch.len - body;
        if (rest == 2) {
            obj[0] = '}';
            c->scratch.len = body + 1;
        } else {
            obj[0] = ',';
        }
    }
    c->counted = &c->counters.json;
    return lf_batch_add_json(b, c->scratch.data, c->scratch.len, meta);
}

int lf_kafka_msg_add(struct lf_kafka_msg_conv *c, const struct lf_kafka_msg *m, struct lf_batch *b,
                     struct lf_ack_target *ack, uint64_t seq)
{
    if (!m->value || m->len == 0) {
        c->counters.skipped++;
        return 0;
    }
    const char *index = header_index(c, m);
    struct lf_doc meta = {.index = index ? index : c->default_index, .ack = ack, .seq = seq};
    bool from_agent = header_id(c, m, meta.id);
    if (!from_agent)
        position_id(m, meta.id);
    int64_t ts = 0;
    bool have_ts = header_ts(c, m, &ts);

    struct lf_json_object_info info;
    bool is_json =
        c->format != LF_KAFKA_FORMAT_RAW && lf_json_check_object(m->value, m->len, &info) == 0;
    /* A message refused for want of room comes again: count it once. */
    struct lf_input_counters lines = c->counters.lines;
    c->counted = NULL;
    int rc;
    if (is_json)
        rc = add_json(c, m, b, &meta, &info, have_ts, ts, from_agent);
    else if (c->format == LF_KAFKA_FORMAT_JSON)
        rc = add_invalid(c, m, b, &meta, have_ts, ts);
    else
        rc = add_line(c, m, b, &meta, have_ts, ts);
    if (rc) {
        c->counters.lines = lines;
        return rc;
    }
    if (c->counted)
        (*c->counted)++;
    return 1;
}
