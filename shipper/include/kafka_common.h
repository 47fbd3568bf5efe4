/*
 * kafka_common.h - what the agent's Kafka output and `logferry shipper`'s
 * consumer share: building a librdkafka configuration from ours (brokers,
 * defaults, passthrough properties) with messages that never show a value,
 * librdkafka's logs routed into ours, and the message format.
 *
 * The message format (docs/KAFKA.md has the full description):
 *   value    the event's JSON object, exactly the document indexed
 *   key      the agent's host.name by default (one server's events stay in
 *            order in one partition)
 *   headers  logferry.index  the index prefix ("syslog")
 *            logferry.id     the document id, 32 hex digits
 *            logferry.ts     the event time, ms since the epoch, decimal
 *   timestamp the event time (CreateTime)
 * Messages without these headers (rsyslog's omkafka, kcat) are accepted
 * by the shipper too; it works out what is missing.
 */
#ifndef LF_KAFKA_COMMON_H
#define LF_KAFKA_COMMON_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdio.h>

#define LF_KAFKA_HDR_INDEX "logferry.index"
#define LF_KAFKA_HDR_ID "logferry.id"
#define LF_KAFKA_HDR_TS "logferry.ts"

/*
 * A configuration with bootstrap.servers from brokers (joined with ','),
 * librdkafka's logs going to lf_log (component "kafka"), and, in this order,
 * the defaults and then the user's properties (so the user wins). `section`
 * names the config section in messages ("output.kafka"). Returns NULL with
 * the reason in err: the property's name and librdkafka's complaint, never
 * the value (it may be a password).
 */
rd_kafka_conf_t *lf_kafka_conf_new(const char *section, const char *const *brokers, size_t nbrokers,
                                   const char *const *def_names, const char *const *def_values,
                                   size_t ndefs, const char *const *names,
                                   const char *const *values, size_t nprops, char *err,
                                   size_t errlen);

/* The check of a bootstrap broker item, for the configuration tables: NULL
 * when s is one host:port (or a listener URL, SCHEME://host:port) with a
 * port in 1..65535, else what was expected. */
const char *lf_kafka_check_broker(const char *s);

/* Whether a property's value must never be printed (passwords, keys). */
int lf_kafka_secret_property(const char *name);

/*
 * `logferry check --connect`: asks the brokers for the cluster's metadata
 * (waiting up to timeout_ms) with the same properties the daemon uses,
 * prints each broker and whether each of `topics` exists, one line each,
 * to out. Returns 0 when the cluster answered and every topic exists.
 */
int lf_kafka_probe(const char *section, const char *const *brokers, size_t nbrokers,
                   const char *const *topics, size_t ntopics, const char *const *names,
                   const char *const *values, size_t nprops, int timeout_ms, FILE *out);

#endif
