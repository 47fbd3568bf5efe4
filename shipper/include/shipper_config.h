/*
 * shipper_config.h - `logferry shipper`'s YAML configuration:
 *
 *   shipper:   name, data_dir, timezone, log_level, shutdown_timeout,
 *              commit_interval, stats_interval
 *   grammars:  as the agent's (for raw lines, and the typed fields that the
 *              index templates map)
 *   inputs:
 *     kafka:   brokers, topics, group, format, grammar, index,
 *              max_pending, properties
 *   output:    batch_max_docs, batch_max_bytes, batch_max_age,
 *              index_prefixes, elasticsearch (as the agent's, without spool)
 */
#ifndef LF_SHIPPER_CONFIG_H
#define LF_SHIPPER_CONFIG_H

#include "es_conf.h"
#include "parser.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a Kafka message's value is taken for. */
enum lf_kafka_format {
    LF_KAFKA_FORMAT_AUTO, /* a JSON object is an event, anything else a raw line */
    LF_KAFKA_FORMAT_JSON, /* always an event; what is not a JSON object is shipped tagged */
    LF_KAFKA_FORMAT_RAW   /* always a line for the grammar */
};

struct lf_shipper_conf {
    char *path;

    char *name; /* client.id, and the shipper's name in logs */
    char *data_dir;
    char *timezone;
    char *log_level;
    uint64_t shutdown_timeout_ms;
    uint64_t commit_interval_ms;
    uint64_t stats_interval_ms;
    char *status_listen; /* NULL: <data_dir>/status.sock */
    uint64_t unhealthy_after_ms;

    struct lf_grammar_conf *grammars;
    size_t ngrammars;

    /* inputs.kafka */
    char **brokers;
    size_t nbrokers;
    char **topics;
    size_t ntopics;
    char *group;
    int format; /* enum lf_kafka_format */
    char *grammar;
    char *index;
    uint32_t max_pending;
    char **prop_names, **prop_values;
    size_t nprops;

    /* output */
    uint32_t batch_max_docs;
    uint64_t batch_max_bytes;
    uint64_t batch_max_age_ms;
    char **index_prefixes;
    size_t nindex_prefixes;
    struct lf_es_conf es;
};

/* Reads and checks `path` (NULL: the defaults). Returns the configuration,
 * or NULL after writing every problem, one per line as
 * "file:line:col: message", into errbuf (*nerrors gets the count). */
struct lf_shipper_conf *lf_shipper_conf_load(const char *path, char *errbuf, size_t errlen,
                                             unsigned *nerrors);
void lf_shipper_conf_free(struct lf_shipper_conf *conf);
/* The key tables, for `logferry check --print-keys --shipper`. */
const struct lf_conf_key *lf_shipper_conf_keys(void);

#endif
