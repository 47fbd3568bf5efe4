/*
 * shipper_config.c - `logferry shipper`'s configuration: key tables with
 * types, defaults and docs, the defaults worked out in code, and the checks
 * that span keys. The Elasticsearch section is the agent's (es_conf.c),
 * except that the shipper has no spool: Kafka holds every event until
 * Elasticsearch has it, and a spool would move that duty to one machine.
 */
#define _POSIX_C_SOURCE 200809L
#include "shipper_config.h"
#include "kafka_common.h"
#include "lf_config.h"
#include "status_server.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ORIGIN_DEFAULTS "(defaults)"
#define C(field) offsetof(struct lf_shipper_conf, field)
#define G(field) offsetof(struct lf_grammar_conf, field)

#define KIB 1024ull
#define GIB (1024ull * 1024 * 1024)
#define HOUR 3600000ull

static const struct lf_conf_enum log_levels[] = {{"error", LF_LOG_ERROR},
                                                 {"warn", LF_LOG_WARN},
                                                 {"info", LF_LOG_INFO},
                                                 {"debug", LF_LOG_DEBUG},
                                                 {NULL, 0}};
static const struct lf_conf_enum formats[] = {{"auto", LF_KAFKA_FORMAT_AUTO},
                                              {"json", LF_KAFKA_FORMAT_JSON},
                                              {"raw", LF_KAFKA_FORMAT_RAW},
                                              {NULL, 0}};

static const struct lf_conf_key shipper_keys[] = {
    {.name = "name",
     .type = LF_CONF_STRING,
     .offset = C(name),
     .def_doc = "the host name (`gethostname()`)",
     .doc = "the shipper's Kafka client.id and name in logs"},
    {.name = "data_dir",
     .type = LF_CONF_PATH,
     .offset = C(data_dir),
     .def = "/var/lib/logferry-shipper",
     .doc = "where the dead-letter file goes by default"},
    {.name = "timezone",
     .type = LF_CONF_STRING,
     .offset = C(timezone),
     .def = "local",
     .check = lf_conf_check_timezone,
     .doc = "zone of raw lines' timestamps that carry none (classic syslog)"},
    {.name = "log_level",
     .type = LF_CONF_ENUM,
     .offset = C(log_level),
     .def = "info",
     .enums = log_levels,
     .flags = LF_CONF_AS_STRING,
     .doc = "the most verbose messages the shipper writes to stderr"},
    {.name = "shutdown_timeout",
     .type = LF_CONF_DURATION,
     .offset = C(shutdown_timeout_ms),
     .def = "10s",
     .max = HOUR,
     .doc = "on SIGTERM, how long to wait for Elasticsearch to take what was read, so its "
            "offsets can be committed"},
    {.name = "commit_interval",
     .type = LF_CONF_DURATION,
     .offset = C(commit_interval_ms),
     .def = "1s",
     .min = 10,
     .max = HOUR,
     .doc = "how often offsets of indexed events are committed (also on rebalance and exit)"},
    {.name = "stats_interval",
     .type = LF_CONF_DURATION,
     .offset = C(stats_interval_ms),
     .def = "60s",
     .max = 24 * HOUR,
     .doc = "how often counters and lag per partition are logged; 0: only at exit"},
    {.name = "status_listen",
     .type = LF_CONF_STRING,
     .offset = C(status_listen),
     .def_doc = "`<data_dir>/status.sock`",
     .check = lf_status_listen_check,
     .doc = "where the status endpoint (`/metrics` with each partition's lag, `/status`, "
            "`/health`; `logferry status --shipper`) listens: a unix socket path, a loopback "
            "`HOST:PORT`, or `off`"},
    {.name = "unhealthy_after",
     .type = LF_CONF_DURATION,
     .offset = C(unhealthy_after_ms),
     .def = "10s",
     .min = 1000,
     .max = HOUR,
     .doc = "`/health` answers 503 once Elasticsearch has been unavailable, or consumption held "
            "back without any acknowledgement, for this long"},
    {.name = NULL}};

static const struct lf_conf_key kafka_keys[] = {
    {.name = "brokers",
     .type = LF_CONF_STRINGS,
     .offset = C(brokers),
     .count = C(nbrokers),
     .def = "[localhost:9092]",
     .check = lf_kafka_check_broker,
     .min = 1,
     .max = 64,
     .doc = "bootstrap brokers, `host:port`"},
    {.name = "topics",
     .type = LF_CONF_STRINGS,
     .offset = C(topics),
     .count = C(ntopics),
     .def = "[logferry]",
     .min = 1,
     .max = 256,
     .doc = "topics to consume (a name starting with `^` is a regular expression)"},
    {.name = "group",
     .type = LF_CONF_STRING,
     .offset = C(group),
     .def = "logferry-shipper",
     .doc = "consumer group: shippers in one group share the partitions"},
    {.name = "format",
     .type = LF_CONF_ENUM,
     .offset = C(format),
     .enums = formats,
     .def = "auto",
     .doc = "`auto`: a JSON object is an event and anything else a raw line; `json`: events "
            "only (anything else is shipped as a message tagged `_jsonparsefailure`); `raw`: "
            "every value is a line for `grammar`"},
    {.name = "grammar",
     .type = LF_CONF_STRING,
     .offset = C(grammar),
     .def = "syslog",
     .doc = "the grammar raw lines are parsed with"},
    {.name = "index",
     .type = LF_CONF_STRING,
     .offset = C(index),
     .def = "syslog",
     .check = lf_es_check_index_prefix,
     .doc = "index prefix of events whose message does not name one (raw lines, other "
            "producers)"},
    {.name = "max_pending",
     .type = LF_CONF_UINT,
     .offset = C(max_pending),
     .def = "65536",
     .min = 16,
     .max = 16777216,
     .doc = "events per partition read but not yet indexed; beyond it the partition waits"},
    {.name = "properties",
     .type = LF_CONF_STRING_MAP,
     .offset = C(prop_names),
     .values = C(prop_values),
     .count = C(nprops),
     .def = "{}",
     .max = 256,
     .doc = "librdkafka consumer properties (`security.protocol`, `sasl.*`, `ssl.*`, "
            "`session.timeout.ms`, ...), set after ours; secret values are never printed"},
    {.name = NULL}};

static const struct lf_conf_key inputs_keys[] = {
    {.name = "kafka", .type = LF_CONF_SECTION, .sub = kafka_keys, .doc = "the topics to ship"},
    {.name = NULL}};

static const struct lf_conf_key output_keys[] = {
    {.name = "batch_max_docs",
     .type = LF_CONF_UINT,
     .offset = C(batch_max_docs),
     .def = "2048",
     .min = 1,
     .max = 1000000,
     .doc = "a bulk request is sent when it holds this many events"},
    {.name = "batch_max_bytes",
     .type = LF_CONF_SIZE,
     .offset = C(batch_max_bytes),
     .def = "5MiB",
     .min = KIB,
     .max = GIB,
     .doc = "... or this many bytes of JSON"},
    {.name = "batch_max_age",
     .type = LF_CONF_DURATION,
     .offset = C(batch_max_age_ms),
     .def = "1s",
     .min = 1,
     .max = HOUR,
     .doc = "... or when its first event is this old"},
    {.name = "index_prefixes",
     .type = LF_CONF_STRINGS,
     .offset = C(index_prefixes),
     .count = C(nindex_prefixes),
     .def = "[syslog, metrics]",
     .check = lf_es_check_index_prefix,
     .max = 64,
     .doc = "index prefixes whose templates are installed at start (with the typed fields of "
            "every grammar above: declare the grammars your agents use)"},
    {.name = "elasticsearch",
     .type = LF_CONF_SECTION,
     .offset = C(es),
     .sub = lf_es_conf_keys_no_spool,
     .doc = "where events go: as the agent's `output.elasticsearch`, without `spool`"},
    {.name = NULL}};

static const struct lf_conf_key top_keys[] = {
    {.name = "shipper", .type = LF_CONF_SECTION, .sub = shipper_keys, .doc = "the shipper itself"},
    {.name = "grammars",
     .type = LF_CONF_SECTION_MAP,
     .offset = C(grammars),
     .count = C(ngrammars),
     .item_size = sizeof(struct lf_grammar_conf),
     .name_at = G(name),
     .line_at = G(line),
     .col_at = G(col),
     .sub = lf_grammar_conf_keys,
     .max = 256,
     .flags = LF_CONF_SET_LINE | LF_CONF_SET_COL,
     .def_doc = "`syslog` (`['" LF_DEFAULT_GRAMMAR_EXPR "']`), always there unless redefined",
     .doc = "named grammars, for raw lines and for the index templates"},
    {.name = "inputs",
     .type = LF_CONF_SECTION,
     .sub = inputs_keys,
     .doc = "where events come from"},
    {.name = "output", .type = LF_CONF_SECTION, .sub = output_keys, .doc = "where events go"},
    {.name = NULL}};

const struct lf_conf_key *lf_shipper_conf_keys(void)
{
    return top_keys;
}

static void fill_computed(struct lf_shipper_conf *conf, struct lf_conf_errors *errs)
{
    if (!conf->name) {
        char host[HOST_NAME_MAX + 1];
        if (gethostname(host, sizeof(host)) != 0)
            strcpy(host, "localhost");
        host[HOST_NAME_MAX] = '\0';
        if (!(conf->name = strdup(host)))
            lf_conf_errorf(errs, ORIGIN_DEFAULTS, 0, 0, "out of memory");
    }
    if (!conf->es.dead_letter && conf->data_dir)
        conf->es.dead_letter = lf_conf_path_under(conf->data_dir, "/dead-letter.ndjson", errs);
    conf->es.spool.enabled = false;
    lf_grammar_conf_add_default(&conf->grammars, &conf->ngrammars, errs);
}

static void cross_check(const struct lf_shipper_conf *conf, const struct lf_conf_doc *doc,
                        struct lf_conf_errors *errs)
{
    const struct lf_conf_node *root = doc ? doc->root : NULL;
    const char *origin = doc ? doc->origin : ORIGIN_DEFAULTS;
    lf_grammar_conf_check(conf->grammars, conf->ngrammars, conf->timezone,
                          lf_conf_get(root, "grammars"), origin, errs);
    lf_es_conf_check(&conf->es, "output.elasticsearch",
                     lf_conf_get(lf_conf_get(root, "output"), "elasticsearch"), true, origin, errs);
    if (conf->grammar && !lf_grammar_conf_find(conf->grammars, conf->ngrammars, conf->grammar)) {
        const struct lf_conf_node *v =
            lf_conf_get(lf_conf_get(lf_conf_get(root, "inputs"), "kafka"), "grammar");
        lf_conf_errorf(errs, origin, v ? v->line : 0, v ? v->col : 0,
                       "inputs.kafka.grammar: no grammar named '%s'", conf->grammar);
    }
}

void lf_shipper_conf_free(struct lf_shipper_conf *conf)
{
    if (!conf)
        return;
    lf_conf_release(top_keys, conf);
    free(conf->path);
    free(conf);
}

/* Computed defaults and checks across keys, once the tables are bound. */
static void finish(void *obj, const struct lf_conf_doc *doc, struct lf_conf_errors *errs)
{
    fill_computed(obj, errs);
    cross_check(obj, doc, errs);
}

struct lf_shipper_conf *lf_shipper_conf_load(const char *path, char *errbuf, size_t errlen,
                                             unsigned *nerrors)
{
    struct lf_shipper_conf *conf = calloc(1, sizeof(*conf));
    unsigned n = 1;
    if (!conf || (path && !(conf->path = strdup(path))))
        snprintf(errbuf, errlen, "%s: out of memory\n", path ? path : ORIGIN_DEFAULTS);
    else
        n = lf_conf_load(top_keys, path, conf, finish, errbuf, errlen);
    if (nerrors)
        *nerrors = n;
    if (n) {
        if (conf)
            free(conf->path);
        free(conf);
        return NULL;
    }
    return conf;
}
