/*
 * kafka_msg.h - a Kafka message made into a document for Elasticsearch.
 *
 * Messages from the agent (value: the event's JSON; headers: index prefix,
 * id, time; see kafka_common.h) pass through after a check that the value is
 * one JSON object that fits on one NDJSON line. Messages from other
 * producers get what they lack: a JSON value without @timestamp gets one
 * (from the message timestamp), a raw line goes through the grammar, and the
 * id comes from (topic, partition, offset), so a replay after a rebalance or
 * a crash is recognised by Elasticsearch as well.
 */
#ifndef LF_KAFKA_MSG_H
#define LF_KAFKA_MSG_H

#include "parser.h"
#include "shipper.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LF_KAFKA_MAX_PREFIXES 256

struct lf_kafka_msg {
    const char *value; /* NULL for a tombstone */
    size_t len;
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* the message's, or -1 */
    /* header values, NULL when absent */
    const char *index, *id, *ts;
    size_t index_len, id_len, ts_len;
};

struct lf_kafka_msg_counters {
    uint64_t passed;  /* the agent's JSON, as is */
    uint64_t json;    /* JSON from elsewhere (completed or compacted) */
    uint64_t raw;     /* lines through the grammar */
    uint64_t invalid; /* not a JSON object where one was wanted: shipped tagged */
    uint64_t skipped; /* empty values and tombstones */
    uint64_t bad_headers;
    struct lf_input_counters lines; /* of the grammar */
};

struct lf_kafka_msg_conv;

/* `parser` (not owned) parses raw lines and times; default_index names the
 * prefix of messages that do not; format is an enum lf_kafka_format. */
struct lf_kafka_msg_conv *lf_kafka_msg_conv_create(struct lf_parser *parser, int format,
                                                   const char *default_index, uint64_t max_line);
void lf_kafka_msg_conv_destroy(struct lf_kafka_msg_conv *c);
const struct lf_kafka_msg_counters *lf_kafka_msg_conv_counters(const struct lf_kafka_msg_conv *c);

/*
 * Adds the message to the batch as one document, with the ack target and
 * sequence number from `ack`/`seq`. Returns 1 when added, 0 when the message
 * holds nothing to index (counted as skipped; acknowledge it yourself),
 * LF_ELIMIT when the batch is full (send it and try again with an empty
 * one), or LF_ENOMEM.
 */
int lf_kafka_msg_add(struct lf_kafka_msg_conv *c, const struct lf_kafka_msg *m, struct lf_batch *b,
                     struct lf_ack_target *ack, uint64_t seq);

#endif
