/*
 * agent_config.c - the agent's YAML configuration: the key tables (types,
 * defaults, ranges, docs; see agent_config.h for the file's shape), the
 * defaults worked out in code (host name, output directory, the built-in
 * syslog grammar) and the checks that span keys, such as every input naming
 * a grammar that exists.
 *
 * The tables are also what `logferry check --print-keys` prints and what
 * docs/CONFIGURATION.md is made from.
 */
#define _POSIX_C_SOURCE 200809L
#include "agent_config.h"
#include "lf_config.h"
#include "es_conf.h"
#include "kafka_common.h"
#include "shipper.h"
#include "status_server.h"

#include <ctype.h>
#include <errno.h>
#include <sys/stat.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ORIGIN_DEFAULTS "(defaults)"

/* Enums are bound through an int. */
_Static_assert(sizeof(enum lf_start_at) == sizeof(int), "enum size");
_Static_assert(sizeof(enum lf_output_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum lf_journald_seek) == sizeof(int), "enum size");

/* ---- value checks ------------------------------------------------------ */

static const char *check_absolute(const char *s)
{
    return s[0] == '/' ? NULL : "an absolute path or glob (starting with /)";
}

static const char *check_file_name_glob(const char *s)
{
    return strchr(s, '/') ? "a glob on the file name, without '/'" : NULL;
}

/* A journal match as journalctl takes it: FIELD=value, the field's name of
 * upper-case letters, digits and '_' (not starting with a digit), as
 * sd_journal_add_match() wants it. */
static const char *check_journal_match(const char *s)
{
    const char *eq = strchr(s, '=');
    bool ok = eq && eq > s && eq - s <= 64 && !(s[0] >= '0' && s[0] <= '9');
    for (const char *c = s; ok && c < eq; c++)
        ok = (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_';
    return ok ? NULL
              : "FIELD=value, FIELD of upper-case letters, digits and '_' (SYSLOG_IDENTIFIER=sshd, "
                "_SYSTEMD_UNIT=cron.service)";
}

static const char *check_unit_name(const char *s)
{
    return strchr(s, '=') || strchr(s, '/') ? "a unit name (ssh.service, cron.service)" : NULL;
}

/* A topic pattern: a legal topic name once %{prefix} is replaced. The
 * prefixes themselves are checked against it in cross_check. */
static const char *check_topic(const char *s)
{
    char name[LF_KAFKA_TOPIC_MAX + 1];
    return lf_kafka_topic_name(name, sizeof(name), s, "x")
               ? NULL
               : "a topic name of letters, digits, '.', '_' and '-' where %{prefix} stands for "
                 "the index prefix";
}

/* ---- the tables -------------------------------------------------------- */

#define A(field) offsetof(struct lf_agent_conf, field)
#define G(field) offsetof(struct lf_grammar_conf, field)
#define F(field) offsetof(struct lf_files_conf, field)
#define K(field) offsetof(struct lf_kafka_conf, field)

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define GIB (1024ull * 1024 * 1024)
#define SECOND 1000ull
#define HOUR 3600000ull

static const struct lf_conf_enum log_levels[] = {{"error", LF_LOG_ERROR},
                                                 {"warn", LF_LOG_WARN},
                                                 {"info", LF_LOG_INFO},
                                                 {"debug", LF_LOG_DEBUG},
                                                 {NULL, 0}};
static const struct lf_conf_enum metric_sets[] = {
    {"load", LF_METRIC_LOAD},       {"memory", LF_METRIC_MEMORY},
    {"cpu", LF_METRIC_CPU},         {"network", LF_METRIC_NETWORK},
    {"diskio", LF_METRIC_DISKIO},   {"filesystem", LF_METRIC_FILESYSTEM},
    {"fsstat", LF_METRIC_FSSTAT},   {"process_summary", LF_METRIC_PROCESS_SUMMARY},
    {"process", LF_METRIC_PROCESS}, {"uptime", LF_METRIC_UPTIME},
    {"all", LF_METRIC_ALL},         {NULL, 0}};
static const struct lf_conf_enum start_ats[] = {
    {"end", LF_START_END}, {"beginning", LF_START_BEGINNING}, {NULL, 0}};
/* journalctl -p's names (syslog(3) severities). */
static const struct lf_conf_enum journal_priorities[] = {
    {"emerg", 0}, {"alert", 1}, {"crit", 2}, {"err", 3}, {"warning", 4}, {"notice", 5},
    {"info", 6},  {"debug", 7}, {"0", 0},    {"1", 1},   {"2", 2},       {"3", 3},
    {"4", 4},     {"5", 5},     {"6", 6},    {"7", 7},   {NULL, 0}};
static const struct lf_conf_enum journal_seeks[] = {
    {"tail", LF_JOURNALD_TAIL}, {"head", LF_JOURNALD_HEAD}, {NULL, 0}};
static const struct lf_conf_enum output_types[] = {{"file", LF_OUTPUT_FILE},
                                                   {"stdout", LF_OUTPUT_STDOUT},
                                                   {"elasticsearch", LF_OUTPUT_ELASTICSEARCH},
                                                   {"kafka", LF_OUTPUT_KAFKA},
                                                   {NULL, 0}};
static const struct lf_conf_enum kafka_keys[] = {
    {"host", LF_KAFKA_KEY_HOST}, {"id", LF_KAFKA_KEY_ID}, {"none", LF_KAFKA_KEY_NONE}, {NULL, 0}};
/* librdkafka's compression.codec names; the value is unused (AS_STRING). */
static const struct lf_conf_enum kafka_compressions[] = {
    {"lz4", 0}, {"zstd", 1}, {"gzip", 2}, {"snappy", 3}, {"none", 4}, {NULL, 0},
};
static const struct lf_conf_enum fsync_policies[] = {
    {"batch", LF_FSYNC_BATCH}, {"never", LF_FSYNC_NEVER}, {NULL, 0}};

static const struct lf_conf_key agent_keys[] = {
    {.name = "name",
     .type = LF_CONF_STRING,
     .offset = A(name),
     .def_doc = "the host name (`gethostname()`)",
     .doc = "`host.name` of every event"},
    {.name = "data_dir",
     .type = LF_CONF_PATH,
     .offset = A(data_dir),
     .def = "/var/lib/logferry",
     .doc = "where the agent keeps read positions (the registry) and its spool"},
    {.name = "proc_root",
     .type = LF_CONF_PATH,
     .offset = A(proc_root),
     .def = "/proc",
     .doc = "where /proc is mounted (a container may see the host's elsewhere)"},
    {.name = "timezone",
     .type = LF_CONF_STRING,
     .offset = A(timezone),
     .def = "local",
     .check = lf_conf_check_timezone,
     .doc = "zone of timestamps that carry none (classic syslog): `local`, `UTC` or an offset "
            "like `+01:00`"},
    {.name = "log_level",
     .type = LF_CONF_ENUM,
     .offset = A(log_level),
     .def = "info",
     .enums = log_levels,
     .flags = LF_CONF_AS_STRING,
     .doc = "the most verbose messages the agent writes to stderr"},
    {.name = "shutdown_timeout",
     .type = LF_CONF_DURATION,
     .offset = A(shutdown_timeout_ms),
     .def = "10s",
     .max = HOUR,
     .doc = "on SIGTERM, how long to try delivering what was read before exiting"},
    {.name = "status_listen",
     .type = LF_CONF_STRING,
     .offset = A(status_listen),
     .def_doc = "`<data_dir>/status.sock`",
     .check = lf_status_listen_check,
     .doc = "where the status endpoint (`/metrics`, `/status`, `/health`; `logferry status`) "
            "listens: a unix socket path, a loopback `HOST:PORT`, or `off`"},
    {.name = "unhealthy_after",
     .type = LF_CONF_DURATION,
     .offset = A(unhealthy_after_ms),
     .def = "10s",
     .min = SECOND,
     .max = HOUR,
     .doc = "`/health` answers 503 once the output has been unavailable, the spool has held "
            "undelivered events, or the inputs have waited without any acknowledgement, for "
            "this long"},
    {.name = NULL}};

static const struct lf_conf_key metrics_keys[] = {
    {.name = "enabled",
     .type = LF_CONF_BOOL,
     .offset = A(metrics_enabled),
     .def = "true",
     .doc = "sample system metrics from /proc, named as Metricbeat's system module"},
    {.name = "interval",
     .type = LF_CONF_DURATION,
     .offset = A(metrics_interval_ms),
     .def = "10s",
     .min = 100,
     .max = 24 * HOUR,
     .doc = "time between two samples"},
    {.name = "sets",
     .type = LF_CONF_FLAGS,
     .offset = A(metrics_sets),
     .enums = metric_sets,
     .def = "[load, memory, cpu]",
     .min = 1,
     .doc = "which metric sets (Metricbeat's `system.<set>.*`; `all` for every one); a "
            "single name needs no brackets"},
    {.name = "top_processes",
     .type = LF_CONF_UINT,
     .offset = A(metrics_top_n),
     .def = "5",
     .max = 1000,
     .doc = "the process set reports this many processes by CPU and as many by memory"},
    {.name = "index",
     .type = LF_CONF_STRING,
     .offset = A(metrics_index),
     .def = "metrics",
     .check = lf_es_check_index_prefix,
     .doc = "index prefix: events go to `<index>-YYYY.MM.dd`"},
    {.name = NULL}};

static const struct lf_conf_key files_keys[] = {
    {.name = "paths",
     .type = LF_CONF_STRINGS,
     .offset = F(paths),
     .count = F(npaths),
     .min = 1,
     .max = 1024,
     .flags = LF_CONF_REQUIRED,
     .check = check_absolute,
     .doc = "absolute paths and globs (`/var/log/*.log`) of the files to tail"},
    {.name = "exclude",
     .type = LF_CONF_STRINGS,
     .offset = F(exclude),
     .count = F(nexclude),
     .max = 1024,
     .def = "[]",
     .check = check_file_name_glob,
     .doc = "globs on the file name (`*.gz`) of files the paths match but not to tail"},
    {.name = "grammar",
     .type = LF_CONF_STRING,
     .offset = F(grammar),
     .def = LF_DEFAULT_GRAMMAR,
     .doc = "the name of the grammar (under `grammars`) that parses the lines"},
    {.name = "index",
     .type = LF_CONF_STRING,
     .offset = F(index),
     .def = "syslog",
     .check = lf_es_check_index_prefix,
     .doc = "index prefix: events go to `<index>-YYYY.MM.dd`"},
    {.name = "start_at",
     .type = LF_CONF_ENUM,
     .offset = F(start_at),
     .enums = start_ats,
     .def = "end",
     .doc = "where to start in a file seen for the first time at startup; files that appear "
            "later are read from their beginning, known files from their saved position"},
    {.name = "rescan",
     .type = LF_CONF_DURATION,
     .offset = F(rescan_ms),
     .def = "10s",
     .min = 100,
     .max = 24 * HOUR,
     .doc = "how often the globs are expanded again to find new files"},
    {.name = "partial_wait",
     .type = LF_CONF_DURATION,
     .offset = F(partial_wait_ms),
     .def = "5s",
     .max = HOUR,
     .doc = "how long a last line without a newline waits for the rest of it"},
    {.name = "max_open",
     .type = LF_CONF_UINT,
     .offset = F(max_open),
     .def = "256",
     .min = 1,
     .max = 65536,
     .doc = "file descriptors this input keeps open at most"},
    {.name = "json",
     .type = LF_CONF_SECTION,
     .offset = F(json),
     .sub = lf_jsonlines_conf_keys,
     .doc = "lines that are JSON objects: decoded into fields instead of parsed by the grammar "
            "(docs/JSONLINES.md)"},
    {.name = NULL}};

static const struct lf_conf_key omprog_keys[] = {
    {.name = "grammar",
     .type = LF_CONF_STRING,
     .offset = A(omprog_grammar),
     .def = LF_DEFAULT_GRAMMAR,
     .doc = "the grammar of the messages rsyslog hands over (`logferry agent --omprog`)"},
    {.name = "index",
     .type = LF_CONF_STRING,
     .offset = A(omprog_index),
     .def = "syslog",
     .check = lf_es_check_index_prefix,
     .doc = "index prefix: events go to `<index>-YYYY.MM.dd`"},
    {.name = "answer_timeout",
     .type = LF_CONF_DURATION,
     .offset = A(omprog_answer_timeout_ms),
     .def = "30s",
     .min = 100,
     /* rsyslog restarts the program after 4 KiB of keep-alive dots (one
      * every 2 s): an hour keeps well below. */
     .max = HOUR,
     .doc = "how long a message waits to be safe before rsyslog is answered with an error "
            "(it then sends the message again); a `.` keep-alive goes out every 2 s meanwhile"},
    {.name = "json",
     .type = LF_CONF_SECTION,
     .offset = A(omprog_json),
     .sub = lf_jsonlines_conf_keys,
     .doc = "messages that are JSON objects: the `msg` property of the shipped `jsonf` template "
            "decoded into fields instead of parsed by the grammar; rsyslog's properties win "
            "over keys of the same path (docs/JSONLINES.md)"},
    {.name = NULL}};

static const struct lf_conf_key journald_keys[] = {
    {.name = "enabled",
     .type = LF_CONF_BOOL,
     .offset = A(journald_enabled),
     .def = "false",
     .doc = "read the systemd journal through libsystemd (the agent's user must be allowed to: "
            "root, or the `systemd-journal` or `adm` group)"},
    {.name = "directory",
     .type = LF_CONF_PATH,
     .offset = A(journald_directory),
     .def_doc = "the system journal (`/var/log/journal`, `/run/log/journal`)",
     .check = check_absolute,
     .doc = "read the journal files of this directory instead (`journalctl -D`; e.g. what "
            "`systemd-journal-remote` writes); files added later are followed too"},
    {.name = "units",
     .type = LF_CONF_STRINGS,
     .offset = A(journald_units),
     .count = A(njournald_units),
     .max = 256,
     .def = "[]",
     .check = check_unit_name,
     .doc = "only entries of these systemd units (`_SYSTEMD_UNIT`); empty: every unit"},
    {.name = "priority",
     .type = LF_CONF_ENUM,
     .offset = A(journald_priority),
     .enums = journal_priorities,
     .def = "debug",
     .doc = "only entries of this severity or a more urgent one, as `journalctl -p`: `emerg`, "
            "`alert`, `crit`, `err`, `warning`, `notice`, `info`, `debug` (every entry) or 0-7"},
    {.name = "matches",
     .type = LF_CONF_STRINGS,
     .offset = A(journald_matches),
     .count = A(njournald_matches),
     .max = 256,
     .def = "[]",
     .check = check_journal_match,
     .doc = "only entries with these fields, `FIELD=value` as `journalctl` takes them: values "
            "of one field are alternatives, different fields must all match (and so must "
            "`units` and `priority`)"},
    {.name = "seek",
     .type = LF_CONF_ENUM,
     .offset = A(journald_seek),
     .enums = journal_seeks,
     .def = "tail",
     .doc = "where the first start reads from (no cursor saved yet): `tail`, the entries "
            "written from now on, or `head`, every entry the journal holds; afterwards reading "
            "goes on after the saved cursor (`<data_dir>/registry.json`), which moves only over "
            "acknowledged entries"},
    {.name = "grammar",
     .type = LF_CONF_STRING,
     .offset = A(journald_grammar),
     .def = LF_DEFAULT_GRAMMAR,
     .doc = "the grammar of the entries' `MESSAGE` (the journal's fields stand for the syslog "
            "header: with the built-in `syslog` grammar, the grammar of the entry's program "
            "by `process.name`)"},
    {.name = "index",
     .type = LF_CONF_STRING,
     .offset = A(journald_index),
     .def = "syslog",
     .check = lf_es_check_index_prefix,
     .doc = "index prefix: events go to `<index>-YYYY.MM.dd`"},
    {.name = "dataset",
     .type = LF_CONF_STRING,
     .offset = A(journald_dataset),
     .def = "journald",
     .doc = "`event.dataset` of its events (unless the grammar captured one)"},
    {.name = NULL}};

static const struct lf_conf_key inputs_keys[] = {
    {.name = "metrics",
     .type = LF_CONF_SECTION,
     .sub = metrics_keys,
     .doc = "the system metrics sampler (Metricbeat's system module)"},
    {.name = "files",
     .type = LF_CONF_SECTION_LIST,
     .offset = A(files),
     .count = A(nfiles),
     .item_size = sizeof(struct lf_files_conf),
     .line_at = F(line),
     .sub = files_keys,
     .flags = LF_CONF_SET_LINE,
     .max = 256,
     .def_doc = "none",
     .doc = "files to tail, each entry with its own settings"},
    {.name = "omprog",
     .type = LF_CONF_SECTION,
     .sub = omprog_keys,
     .doc = "messages from rsyslog's omprog action"},
    {.name = "journald",
     .type = LF_CONF_SECTION,
     .sub = journald_keys,
     .doc = "entries of the systemd journal (sd-journal), with a durable cursor"},
    {.name = NULL}};

static const struct lf_conf_key file_output_keys[] = {
    {.name = "dir",
     .type = LF_CONF_PATH,
     .offset = A(file_dir),
     .def_doc = "`<data_dir>/out`",
     .doc = "where the daily NDJSON files are written"},
    {.name = "fsync",
     .type = LF_CONF_ENUM,
     .offset = A(file_fsync),
     .enums = fsync_policies,
     .def = "batch",
     .doc = "`batch`: a batch is acknowledged once fsync'ed; `never`: once written "
            "(a crash may lose what the kernel had not written)"},
    {.name = "local_dates",
     .type = LF_CONF_BOOL,
     .offset = A(file_local_dates),
     .def = "false",
     .doc = "name daily files by the local date instead of the UTC date"},
    {.name = NULL}};

static const struct lf_conf_key stdout_output_keys[] = {
    {.name = "bulk",
     .type = LF_CONF_BOOL,
     .offset = A(stdout_bulk),
     .def = "false",
     .doc = "also print the `_bulk` action line before each event"},
    {.name = NULL}};

static const struct lf_conf_key kafka_output_keys[] = {
    {.name = "brokers",
     .type = LF_CONF_STRINGS,
     .offset = K(brokers),
     .count = K(nbrokers),
     .def = "[localhost:9092]",
     .min = 1,
     .max = 64,
     .check = lf_kafka_check_broker,
     .doc = "bootstrap brokers, `host:port`; the rest of the cluster is found from them"},
    {.name = "topic",
     .type = LF_CONF_STRING,
     .offset = K(topic),
     .def = "logferry",
     .check = check_topic,
     .doc = "the topic; `%{prefix}` is replaced by the event's index prefix (`logs-%{prefix}` "
            "gives a topic per prefix)"},
    {.name = "key",
     .type = LF_CONF_ENUM,
     .offset = K(key),
     .enums = kafka_keys,
     .def = "host",
     .doc = "the message key: `host` (`agent.name`: one server's events stay in order in one "
            "partition), `id` (the document id: spread over the partitions) or `none`"},
    {.name = "compression",
     .type = LF_CONF_ENUM,
     .offset = K(compression),
     .enums = kafka_compressions,
     .flags = LF_CONF_AS_STRING,
     .def = "lz4",
     .doc = "compression of message batches"},
    {.name = "delivery_timeout",
     .type = LF_CONF_DURATION,
     .offset = K(delivery_timeout_ms),
     .def = "30s",
     .min = 1000,
     .max = 24 * HOUR,
     .doc = "librdkafka's `message.timeout.ms`: a message no broker took by then goes to the "
            "spool (or is sent again), and new events go to the spool until Kafka takes "
            "messages again"},
    {.name = "queue_max_size",
     .type = LF_CONF_SIZE,
     .offset = K(queue_max_bytes),
     .def = "16MiB",
     .min = KIB,
     .max = GIB,
     .doc = "events in flight (JSON bytes) waiting for Kafka's acknowledgement; beyond it the "
            "inputs wait, or, while Kafka is down or behind, the events go to the spool"},
    {.name = "dead_letter_file",
     .type = LF_CONF_PATH,
     .offset = K(dead_letter),
     .def_doc = "`<data_dir>/dead-letter-kafka.ndjson`",
     .doc = "events Kafka refuses for good (too large, topic not authorized), each with the "
            "reason"},
    {.name = "properties",
     .type = LF_CONF_STRING_MAP,
     .offset = K(prop_names),
     .values = K(prop_values),
     .count = K(nprops),
     .max = 256,
     .def = "{}",
     .doc = "librdkafka properties (`security.protocol`, `sasl.*`, `ssl.*`, `linger.ms`, ...), "
            "set after logferry's own, so they win; values of secrets are never printed"},
    {.name = "spool",
     .type = LF_CONF_SECTION,
     .offset = K(spool),
     .sub = lf_spool_conf_keys,
     .doc = "the on-disk spool (default dir `<data_dir>/spool-kafka`)"},
    {.name = NULL}};

static const struct lf_conf_key output_keys[] = {
    {.name = "type",
     .type = LF_CONF_ENUM,
     .offset = A(output_type),
     .enums = output_types,
     .def = "file",
     .doc = "where events go"},
    {.name = "batch_max_docs",
     .type = LF_CONF_UINT,
     .offset = A(batch_max_docs),
     .def = "2048",
     .min = 1,
     .max = 1000000,
     .doc = "a batch is sent when it holds this many events"},
    {.name = "batch_max_bytes",
     .type = LF_CONF_SIZE,
     .offset = A(batch_max_bytes),
     .def = "5MiB",
     .min = KIB,
     .max = GIB,
     .doc = "... or this many bytes of JSON"},
    {.name = "batch_max_age",
     .type = LF_CONF_DURATION,
     .offset = A(batch_max_age_ms),
     .def = "1s",
     .min = 1,
     .max = HOUR,
     .doc = "... or when its first event is this old"},
    {.name = "file",
     .type = LF_CONF_SECTION,
     .sub = file_output_keys,
     .doc = "`type: file`: daily NDJSON files `<index>-YYYY.MM.dd.ndjson`"},
    {.name = "stdout",
     .type = LF_CONF_SECTION,
     .sub = stdout_output_keys,
     .doc = "`type: stdout`: one event per line on standard output"},
    {.name = "elasticsearch",
     .type = LF_CONF_SECTION,
     .sub = lf_es_conf_keys,
     .offset = A(es),
     .doc = "`type: elasticsearch`: `_bulk` into daily indices"},
    {.name = "kafka",
     .type = LF_CONF_SECTION,
     .sub = kafka_output_keys,
     .offset = A(kafka),
     .doc = "`type: kafka`: an idempotent producer to Kafka topics (docs/KAFKA.md)"},
    {.name = NULL}};

static const struct lf_conf_key top_keys[] = {
    {.name = "agent", .type = LF_CONF_SECTION, .sub = agent_keys, .doc = "the agent itself"},
    {.name = "grammars",
     .type = LF_CONF_SECTION_MAP,
     .offset = A(grammars),
     .count = A(ngrammars),
     .item_size = sizeof(struct lf_grammar_conf),
     .name_at = G(name),
     .line_at = G(line),
     .col_at = G(col),
     .sub = lf_grammar_conf_keys,
     .max = 256,
     .flags = LF_CONF_SET_LINE | LF_CONF_SET_COL,
     .def_doc = "`syslog` (`['" LF_DEFAULT_GRAMMAR_EXPR "']`), always there unless redefined",
     .doc = "named grammars that inputs refer to by name"},
    {.name = "inputs",
     .type = LF_CONF_SECTION,
     .sub = inputs_keys,
     .doc = "where events come from"},
    {.name = "output",
     .type = LF_CONF_SECTION,
     .sub = output_keys,
     .doc = "where events go, and how they are batched"},
    {.name = NULL}};

const struct lf_conf_key *lf_agent_conf_keys(void)
{
    return top_keys;
}

/* ---- defaults worked out in code --------------------------------------- */

const struct lf_grammar_conf *lf_agent_conf_grammar(const struct lf_agent_conf *conf,
                                                    const char *name)
{
    return lf_grammar_conf_find(conf->grammars, conf->ngrammars, name);
}

/* "<data_dir><tail>", without doubling a trailing '/'. */

/* Host name and output directory, when the file does not give them. */
static void fill_computed(struct lf_agent_conf *conf, struct lf_conf_errors *errs)
{
    if (!conf->name) {
        char host[HOST_NAME_MAX + 1];
        if (gethostname(host, sizeof(host)) != 0)
            strcpy(host, "localhost");
        host[HOST_NAME_MAX] = '\0';
        if (!(conf->name = strdup(host)))
            lf_conf_errorf(errs, ORIGIN_DEFAULTS, 0, 0, "out of memory");
    }
    if (!conf->file_dir && conf->data_dir) {
        /* "<data_dir>/out", without doubling a trailing '/' */
        size_t n = strlen(conf->data_dir);
        while (n > 0 && conf->data_dir[n - 1] == '/')
            n--;
        if ((conf->file_dir = malloc(n + sizeof("/out")))) {
            memcpy(conf->file_dir, conf->data_dir, n);
            memcpy(conf->file_dir + n, "/out", sizeof("/out"));
        } else {
            lf_conf_errorf(errs, ORIGIN_DEFAULTS, 0, 0, "out of memory");
        }
    }
    if (!conf->es.dead_letter && conf->data_dir)
        conf->es.dead_letter = lf_conf_path_under(conf->data_dir, "/dead-letter.ndjson", errs);
    if (!conf->es.spool.dir && conf->data_dir)
        conf->es.spool.dir = lf_conf_path_under(conf->data_dir, "/spool", errs);
    if (!conf->kafka.dead_letter && conf->data_dir)
        conf->kafka.dead_letter =
            lf_conf_path_under(conf->data_dir, "/dead-letter-kafka.ndjson", errs);
    if (!conf->kafka.spool.dir && conf->data_dir)
        conf->kafka.spool.dir = lf_conf_path_under(conf->data_dir, "/spool-kafka", errs);
    lf_grammar_conf_add_default(&conf->grammars, &conf->ngrammars, errs);
}

/* ---- checks across keys ------------------------------------------------ */

/* Reports `grammar` (the value of key in the section node) if no grammar has
 * that name. A grammar left at its default is the built-in one, always there. */
static void check_grammar_ref(const struct lf_agent_conf *conf, const char *origin,
                              const struct lf_conf_node *section, const char *where,
                              const char *grammar, struct lf_conf_errors *errs)
{
    if (!grammar || lf_agent_conf_grammar(conf, grammar))
        return;
    const struct lf_conf_node *v = lf_conf_get(section, "grammar");
    char names[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < conf->ngrammars; i++) {
        int n = snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "",
                         conf->grammars[i].name);
        if (n < 0 || (size_t)n >= sizeof(names) - used)
            break;
        used += (size_t)n;
    }
    lf_conf_errorf(errs, origin, v ? v->line : 0, v ? v->col : 0,
                   "%s.grammar: no grammar named '%s' (defined: %s)", where, grammar, names);
}

/* What would stop the journald input at start. */
static void check_journald(const struct lf_agent_conf *conf, const char *origin,
                           const struct lf_conf_node *section, struct lf_conf_errors *errs)
{
    check_grammar_ref(conf, origin, section, "inputs.journald", conf->journald_grammar, errs);
    const struct lf_conf_node *v = lf_conf_get(section, "enabled");
#ifndef LF_HAVE_LIBSYSTEMD
    lf_conf_errorf(errs, origin, v ? v->line : 0, v ? v->col : 0,
                   "inputs.journald: this logferry was built without libsystemd");
#endif
    struct stat st;
    const char *dir = conf->journald_directory;
    v = lf_conf_get(section, "directory");
    const char *why = NULL;
    if (dir && stat(dir, &st) != 0)
        why = strerror(errno);
    else if (dir && !S_ISDIR(st.st_mode))
        why = "not a directory";
    if (why)
        lf_conf_errorf(errs, origin, v ? v->line : 0, v ? v->col : 0,
                       "inputs.journald.directory: %s: %s", dir, why);
}

/* Reports an index prefix whose topic (output.kafka.topic with %{prefix}
 * replaced) is not a legal Kafka topic name. */
static void check_topic_for(const struct lf_agent_conf *conf, const char *origin,
                            const struct lf_conf_node *topic, const char *prefix,
                            struct lf_conf_errors *errs)
{
    char name[LF_KAFKA_TOPIC_MAX + 1];
    if (!prefix || lf_kafka_topic_name(name, sizeof(name), conf->kafka.topic, prefix))
        return;
    lf_conf_errorf(errs, origin, topic ? topic->line : 0, topic ? topic->col : 0,
                   "output.kafka.topic: with index prefix '%s', '%s' is not a valid topic name "
                   "(1 to %d of letters, digits, '.', '_' and '-')",
                   prefix, conf->kafka.topic, LF_KAFKA_TOPIC_MAX);
}

/* What librdkafka says about output.kafka: each property alone (so that a
 * problem is reported where it is), then the compression codec. Messages
 * never show a value (kafka_common.c). */
static void check_kafka(const struct lf_agent_conf *conf, const char *origin,
                        const struct lf_conf_node *section, struct lf_conf_errors *errs)
{
    const struct lf_kafka_conf *k = &conf->kafka;
    const char *const *brokers = (const char *const *)k->brokers;
    char err[600];
    const struct lf_conf_node *props = lf_conf_get(section, "properties");
    for (size_t i = 0; i < k->nprops; i++) {
        rd_kafka_conf_t *c =
            lf_kafka_conf_new("output.kafka", brokers, k->nbrokers, NULL, NULL, 0,
                              (const char *const *)&k->prop_names[i],
                              (const char *const *)&k->prop_values[i], 1, err, sizeof(err));
        if (c) {
            rd_kafka_conf_destroy(c);
            continue;
        }
        const struct lf_conf_node *v = lf_conf_get(props, k->prop_names[i]);
        lf_conf_errorf(errs, origin, v ? v->line : 0, v ? v->col : 0, "%s", err);
    }
    static const char *const names[] = {"compression.codec"};
    const char *values[] = {k->compression ? k->compression : "lz4"};
    rd_kafka_conf_t *c = lf_kafka_conf_new("output.kafka", brokers, k->nbrokers, names, values, 1,
                                           NULL, NULL, 0, err, sizeof(err));
    if (c) {
        rd_kafka_conf_destroy(c);
    } else {
        const struct lf_conf_node *v = lf_conf_get(section, "compression");
        lf_conf_errorf(errs, origin, v ? v->line : 0, v ? v->col : 0, "%s", err);
    }
}

static void cross_check(const struct lf_agent_conf *conf, const struct lf_conf_doc *doc,
                        struct lf_conf_errors *errs)
{
    const struct lf_conf_node *root = doc ? doc->root : NULL;
    const struct lf_conf_node *inputs = lf_conf_get(root, "inputs");
    const struct lf_conf_node *files = lf_conf_get(inputs, "files");
    const char *origin = doc ? doc->origin : ORIGIN_DEFAULTS;
    for (size_t i = 0; i < conf->nfiles; i++) {
        char where[64];
        snprintf(where, sizeof(where), "inputs.files[%zu]", i);
        const struct lf_conf_node *item =
            files && files->type == LF_CONF_NODE_SEQ && i < files->nkids ? files->kids[i] : NULL;
        check_grammar_ref(conf, origin, item, where, conf->files[i].grammar, errs);
    }
    check_grammar_ref(conf, origin, lf_conf_get(inputs, "omprog"), "inputs.omprog",
                      conf->omprog_grammar, errs);
    if (conf->journald_enabled)
        check_journald(conf, origin, lf_conf_get(inputs, "journald"), errs);
    const struct lf_conf_node *kafka = lf_conf_get(lf_conf_get(root, "output"), "kafka");
    check_kafka(conf, origin, kafka, errs);
    lf_grammar_conf_check(conf->grammars, conf->ngrammars, conf->timezone,
                          lf_conf_get(root, "grammars"), origin, errs);
    lf_es_conf_check(&conf->es, "output.elasticsearch",
                     lf_conf_get(lf_conf_get(root, "output"), "elasticsearch"),
                     conf->output_type == LF_OUTPUT_ELASTICSEARCH, origin, errs);
    if (conf->output_type == LF_OUTPUT_KAFKA) {
        const struct lf_conf_node *topic = lf_conf_get(kafka, "topic");
        if (conf->metrics_enabled)
            check_topic_for(conf, origin, topic, conf->metrics_index, errs);
        for (size_t i = 0; i < conf->nfiles; i++) {
            size_t first = 0; /* each prefix once */
            while (strcmp(conf->files[first].index, conf->files[i].index) != 0)
                first++;
            if (first == i)
                check_topic_for(conf, origin, topic, conf->files[i].index, errs);
        }
        check_topic_for(conf, origin, topic, conf->omprog_index, errs);
        if (conf->journald_enabled)
            check_topic_for(conf, origin, topic, conf->journald_index, errs);
    }
}

/* ---- loading ----------------------------------------------------------- */

void lf_agent_conf_free(struct lf_agent_conf *conf)
{
    if (!conf)
        return;
    lf_conf_release(top_keys, conf); /* computed defaults live in table fields too */
    free(conf->path);
    free(conf);
}

/* Computed defaults and checks across keys, once the tables are bound. */
static void finish(void *obj, const struct lf_conf_doc *doc, struct lf_conf_errors *errs)
{
    fill_computed(obj, errs);
    cross_check(obj, doc, errs);
}

struct lf_agent_conf *lf_agent_conf_load(const char *path, char *errbuf, size_t errlen,
                                         unsigned *nerrors)
{
    struct lf_agent_conf *conf = calloc(1, sizeof(*conf));
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
