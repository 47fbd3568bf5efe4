/*
 * agent_config.h - the agent's configuration as the rest of the agent sees
 * it, once a YAML file has been read, checked and defaults filled in. Private
 * to agent/ and cli/.
 *
 * The YAML, every key optional (defaults in brackets):
 *
 *   agent:
 *     name: web01               # host.name            [gethostname()]
 *     data_dir: /var/lib/logferry  # registry, spool   [/var/lib/logferry]
 *     proc_root: /proc          # where /proc is       [/proc]
 *     timezone: local           # for syslog timestamps without a zone:
 *                               # "local", "UTC" or "+01:00"   [local]
 *     log_level: info           # error|warn|info|debug          [info]
 *     shutdown_timeout: 10s     # flush budget on SIGTERM       [10s]
 *   grammars:                   # named grammars, referenced by inputs
 *     syslog:                   # [one grammar "syslog": %{LOGFERRY_SYSLOG}]
 *       expressions: ['%{LOGFERRY_SYSLOG}']   # tried in order
 *       patterns_dirs: [/etc/logferry/patterns]   # after the shipped ones []
 *       definitions: {MYNUM: '[0-9]+'}            # inline patterns       {}
 *       max_line: 1MiB          # [1MiB]
 *       match_limit: 10000000   # [10000000]
 *   inputs:
 *     metrics:
 *       enabled: true           # [true]
 *       interval: 10s           # [10s]
 *       sets: [load, memory, cpu]   # also network, diskio, filesystem, fsstat,
                                   # process_summary, process, uptime; or all
                                   # [load, memory, cpu]
       top_processes: 5        # process: top N by CPU and by memory  [5]
 *       index: metrics          # index prefix      [metrics]
 *     files:                    # a list; [none]
 *       - paths: [/var/log/syslog, '/var/log/app*.log']   # paths, globs (required)
 *         exclude: ['*.gz']     # glob on the file name   []
 *         grammar: syslog       # [syslog]
 *         index: syslog         # [syslog]
 *         start_at: end         # files found at startup: beginning|end [end]
 *         rescan: 10s           # glob re-scan interval   [10s]
 *         partial_wait: 5s      # wait for the rest of a last line   [5s]
 *         max_open: 256         # open descriptors at most   [256]
 *         json:                 # lines as JSON objects (grammars/jsonlines.c)
 *           enabled: false      # [false]
 *           message_key: message  # [message]
 *           timestamp_key: '@timestamp'   # [@timestamp]
 *     omprog:
 *       grammar: syslog         # [syslog]
 *       index: syslog           # [syslog]
 *       answer_timeout: 30s     # then an error answer: rsyslog resends   [30s]
 *     journald:                 # the systemd journal (libsystemd's sd-journal)
 *       enabled: false          # [false]
 *       directory: /var/log/journal  # journal files of a directory   [the system journal]
 *       units: [ssh.service]    # _SYSTEMD_UNIT is one of these   []
 *       priority: warning       # this severity or a more urgent one   [debug: all]
 *       matches: ['SYSLOG_IDENTIFIER=sudo']   # FIELD=value   []
 *       seek: tail              # without a saved cursor: head|tail   [tail]
 *       grammar: syslog         # for the MESSAGE   [syslog]
 *       index: syslog           # [syslog]
 *       dataset: journald       # event.dataset   [journald]
 *   output:
 *     type: file                # file|stdout|elasticsearch|kafka   [file]
 *     batch_max_docs: 2048      # [2048]
 *     batch_max_bytes: 5MiB     # [5MiB]
 *     batch_max_age: 1s         # [1s]
 *     file:
 *       dir: /var/lib/logferry/out   # [<data_dir>/out]
 *       fsync: batch            # batch|never   [batch]
 *       local_dates: false      # daily files by local date   [false]
 *     stdout:
 *       bulk: false             # _bulk action lines too   [false]
 *     elasticsearch: ...        # shipper/es/es_conf.c
 *     kafka:
 *       brokers: [localhost:9092]   # bootstrap brokers   [localhost:9092]
 *       topic: logferry         # %{prefix}: the index prefix   [logferry]
 *       key: host               # host|id|none   [host]
 *       compression: lz4        # lz4|zstd|gzip|snappy|none   [lz4]
 *       delivery_timeout: 30s   # then the spool takes it   [30s]
 *       queue_max_size: 16MiB   # JSON in flight   [16MiB]
 *       dead_letter_file: ...   # [<data_dir>/dead-letter-kafka.ndjson]
 *       properties: {}          # librdkafka properties, after ours   {}
 *       spool: ...              # as elasticsearch's; dir [<data_dir>/spool-kafka]
 *
 * Strings may use ${VAR} and ${VAR:-default} from the environment; durations
 * take ms, s, m, h (10s, 500ms); sizes take B, KiB, MiB, GiB (also KB, MB, GB
 * as powers of 1000).
 */
#ifndef LF_AGENT_CONFIG_H
#define LF_AGENT_CONFIG_H

#include "es_conf.h"
#include "jsonlines.h"
#include "parser.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lf_metricset {
    LF_METRIC_LOAD = 1,
    LF_METRIC_MEMORY = 2,
    LF_METRIC_CPU = 4,
    LF_METRIC_NETWORK = 8,
    LF_METRIC_DISKIO = 16,
    LF_METRIC_FILESYSTEM = 32,
    LF_METRIC_FSSTAT = 64,
    LF_METRIC_PROCESS_SUMMARY = 128,
    LF_METRIC_PROCESS = 256,
    LF_METRIC_UPTIME = 512,
    LF_METRIC_ALL = 1023
};
enum lf_start_at { LF_START_END, LF_START_BEGINNING };
enum lf_journald_seek { LF_JOURNALD_TAIL, LF_JOURNALD_HEAD };
enum lf_output_type { LF_OUTPUT_FILE, LF_OUTPUT_STDOUT, LF_OUTPUT_ELASTICSEARCH, LF_OUTPUT_KAFKA };

/* output.kafka (docs/KAFKA.md) */
struct lf_kafka_conf {
    char **brokers;
    size_t nbrokers;
    char *topic;
    int key;           /* enum lf_kafka_key */
    char *compression; /* librdkafka's compression.codec name */
    uint64_t delivery_timeout_ms;
    uint64_t queue_max_bytes;
    char *dead_letter; /* worked out from data_dir when absent */
    char **prop_names, **prop_values;
    size_t nprops;
    struct lf_spool_conf spool; /* spool.dir: worked out from data_dir when absent */
};

struct lf_files_conf {
    char **paths;
    size_t npaths;
    char **exclude;
    size_t nexclude;
    char *grammar;
    char *index;
    enum lf_start_at start_at;
    uint64_t rescan_ms;
    uint64_t partial_wait_ms;
    uint32_t max_open;
    struct lf_jsonlines_conf json; /* lines as JSON objects (docs/JSONLINES.md) */
    unsigned line;                 /* where this input starts in the file, for messages */
};

struct lf_agent_conf {
    char *path; /* the file it was read from */

    char *name;
    char *data_dir;
    char *proc_root;
    char *timezone;
    char *log_level;
    uint64_t shutdown_timeout_ms;
    char *status_listen; /* NULL: <data_dir>/status.sock */
    uint64_t unhealthy_after_ms;

    struct lf_grammar_conf *grammars;
    size_t ngrammars;

    bool metrics_enabled;
    uint64_t metrics_interval_ms;
    unsigned metrics_sets;  /* enum lf_metricset bits */
    uint32_t metrics_top_n; /* processes by CPU and by memory */
    char *metrics_index;

    struct lf_files_conf *files;
    size_t nfiles;

    char *omprog_grammar;
    char *omprog_index;
    uint64_t omprog_answer_timeout_ms;
    struct lf_jsonlines_conf omprog_json; /* the msg property as a JSON object */

    bool journald_enabled;
    char *journald_directory; /* NULL: the system journal */
    char **journald_units;
    size_t njournald_units;
    int journald_priority;   /* 0 (emerg) to 7 (debug: every entry) */
    char **journald_matches; /* "FIELD=value" */
    size_t njournald_matches;
    int journald_seek; /* enum lf_journald_seek */
    char *journald_grammar;
    char *journald_index;
    char *journald_dataset;

    enum lf_output_type output_type;
    uint32_t batch_max_docs;
    uint64_t batch_max_bytes;
    uint64_t batch_max_age_ms;
    char *file_dir;
    int file_fsync; /* enum lf_fsync_policy */
    bool file_local_dates;
    bool stdout_bulk;

    struct lf_es_conf es;       /* output.elasticsearch */
    struct lf_kafka_conf kafka; /* output.kafka */
};

/*
 * Reads and checks `path`. Returns the configuration, or NULL after writing
 * every problem found, one per line as "file:line:col: message", into errbuf
 * (truncated if it does not fit; *nerrors gets the count). path NULL gives
 * the defaults alone.
 */
struct lf_agent_conf *lf_agent_conf_load(const char *path, char *errbuf, size_t errlen,
                                         unsigned *nerrors);
void lf_agent_conf_free(struct lf_agent_conf *conf);
/* The grammar of that name, or NULL. */
const struct lf_grammar_conf *lf_agent_conf_grammar(const struct lf_agent_conf *conf,
                                                    const char *name);
/* The key tables (lf_config.h) the file is read with, for the reference
 * documentation (`logferry check --print-keys`). Static; never NULL. */
struct lf_conf_key;
const struct lf_conf_key *lf_agent_conf_keys(void);

#endif
