/*
 * es_conf.h - the Elasticsearch output's configuration section, shared by
 * the agent (`output.elasticsearch`) and `logferry shipper`, and the output
 * built from it (secrets read from their files, templates from the grammars).
 */
#ifndef LF_ES_CONF_H
#define LF_ES_CONF_H

#include "grok.h"
#include "lf_config.h"
#include "shipper.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* NULL if s is acceptable as the prefix of daily index names ("syslog" for
 * "syslog-2026.11.21", by Elasticsearch's rules), else what is expected. */
const char *lf_es_check_index_prefix(const char *s);

/* The on-disk spool's section. */
struct lf_spool_conf {
    bool enabled;
    char *dir;
    uint64_t max_bytes;
    int fsync; /* enum lf_spool_fsync */
    int full;  /* enum lf_spool_full */
};
extern const struct lf_conf_key lf_spool_conf_keys[];

struct lf_es_conf {
    char **hosts;
    size_t nhosts;
    char *index;
    bool local_dates, gzip;
    uint32_t max_in_flight;
    uint64_t queue_max_bytes;
    uint64_t timeout_ms, connect_timeout_ms, backoff_min_ms, backoff_max_ms;
    char *dead_letter; /* worked out from data_dir by the owner when absent */
    bool templates, template_overwrite;
    char *retention; /* "30d", "12h"; NULL: no lifecycle policy */
    char *username, *password, *password_file, *api_key, *api_key_file;
    char *ca_file, *cert_file, *key_file;
    bool verify;
    struct lf_spool_conf spool; /* spool.dir: worked out by the owner when absent */
    /* Not a key: set by the owner (struct lf_es_options) */
    bool spool_retries_at_once;
};
/* Bind with .offset of the struct lf_es_conf in the owner's struct. */
extern const struct lf_conf_key lf_es_conf_keys[];
/* The same without `spool` (the shipper's: Kafka is its spool); a spool
 * section there is refused with the reason. */
extern const struct lf_conf_key lf_es_conf_keys_no_spool[];

/*
 * The output described by c. `section` names it in messages
 * ("output.elasticsearch"); prefixes are the index prefixes known at start
 * (one template each), groks the grammars whose typed fields the templates
 * map (NULL entries are skipped); batch_docs and batch_bytes size the
 * batches read back from the spool. Returns NULL with the reason in err.
 */
/*
 * What the Elasticsearch output would refuse or trip over at start, as
 * configuration problems at their place in the file (origin, sec: the
 * section's node, NULL when absent): each host URL as libcurl parses it
 * (scheme, host, port), the index pattern; when the output is `in_use`, the
 * files its *_file keys name (password_file and api_key_file read as the
 * output reads them, ca_file, cert_file and key_file opened). `section`
 * names it in messages ("output.elasticsearch").
 */
void lf_es_conf_check(const struct lf_es_conf *c, const char *section,
                      const struct lf_conf_node *sec, bool in_use, const char *origin,
                      struct lf_conf_errors *errs);

struct lf_output *lf_es_conf_create_output(const struct lf_es_conf *c, const char *section,
                                           const char *const *prefixes, size_t nprefixes,
                                           const lf_grok *const *groks,
                                           const char *const *grok_names, size_t ngroks,
                                           size_t batch_docs, size_t batch_bytes, char *err,
                                           size_t errlen);

/*
 * `logferry check --connect`: GET / on every host of c with its TLS and
 * credential settings (secrets read from their files), judged as the
 * output judges it at start; prints one line per host to out (the URL
 * without credentials, then OK with the server and the template API, or
 * FAILED with the reason). Returns 0 when every host is usable, else -1.
 */
int lf_es_conf_probe(const struct lf_es_conf *c, const char *section, FILE *out);
/* The same on explicit hosts and settings (es_probe.c). */
int lf_es_probe(const char *const *hosts, size_t nhosts, const struct lf_http_options *http,
                FILE *out);

/* ---- `logferry setup` (es_setup.c) -------------------------------------- */

struct lf_es_setup_options {
    const char *const *prefixes; /* one policy and one template each */
    size_t nprefixes;
    struct lf_es_template *tmpl; /* borrowed (its lifecycle is set); NULL: no templates */
    const char *index;           /* the output's index pattern; NULL: the default */
    const char *retention;       /* NULL: no lifecycle policy */
    bool overwrite;              /* replace templates that are not logferry's */
    bool dry_run;                /* send nothing: print the PUTs of a first setup */
    bool assume_opensearch;      /* ... as OpenSearch would get them */
};

/* What setup did, summed over everything it installs. */
struct lf_es_setup_counts {
    unsigned changed, unchanged, left_alone, failed;
};

/*
 * Installs, on the first of hosts that is a server logferry can serve, the
 * lifecycle policy (when o->retention) and the index template of every
 * prefix, each only when it is missing or logferry's own in another
 * version; one line per thing to out ("index template logferry-syslog:
 * unchanged"), and "METHOD URL: FAILED: why" with the server's answer
 * (escaped, cut short) for what fails. A dry run prints each PUT (method,
 * URL, body) and sends nothing. Returns 0, or -1 when anything failed
 * (counts->failed says how many).
 */
int lf_es_setup(const char *const *hosts, size_t nhosts, const struct lf_http_options *http,
                const struct lf_es_setup_options *o, FILE *out, struct lf_es_setup_counts *counts);

/* The HTTP settings of c (secrets read from their files into *secrets:
 * free those with lf_es_conf_secrets_free, which wipes them). Returns 0, or
 * -1 with the reason in err. */
struct lf_es_conf_secrets {
    char *password, *api_key;
};
int lf_es_conf_http(const struct lf_es_conf *c, const char *section, struct lf_http_options *http,
                    struct lf_es_conf_secrets *secrets, char *err, size_t errlen);
void lf_es_conf_secrets_free(struct lf_es_conf_secrets *secrets);

#endif
