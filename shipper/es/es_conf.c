/*
 * es_conf.c - the Elasticsearch section's keys (types, defaults, docs) and
 * the output made from it.
 */
#define _POSIX_C_SOURCE 200809L
#include "es_conf.h"
#include "es_http.h"
#include "es_int.h"
#include "es_template.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define E(field) offsetof(struct lf_es_conf, field)
#define S(field) offsetof(struct lf_spool_conf, field)

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define GIB (1024ull * 1024 * 1024)
#define HOUR 3600000ull

const char *lf_es_check_index_prefix(const char *s)
{
    static const char *why = "an index name (lowercase, no spaces or \\/*?\"<>|,#:, "
                             "not starting with -, _ or +, at most 200 bytes)";
    size_t n = strlen(s);
    if (n == 0 || n > 200 || strchr("-_+", s[0]) || !strcmp(s, ".") || !strcmp(s, ".."))
        return why;
    for (const char *p = s; *p; p++)
        if ((*p >= 'A' && *p <= 'Z') || strchr(" \\/*?\"<>|,#:\t\r\n", *p) ||
            (unsigned char)*p < 0x20)
            return why;
    return NULL;
}

static const struct lf_conf_enum spool_fsyncs[] = {
    {"commit", LF_SPOOL_FSYNC_COMMIT}, {"never", LF_SPOOL_FSYNC_NEVER}, {NULL, 0}};
static const struct lf_conf_enum spool_fulls[] = {
    {"block", LF_SPOOL_FULL_BLOCK}, {"drop_oldest", LF_SPOOL_FULL_DROP_OLDEST}, {NULL, 0}};

static const char *check_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0
               ? NULL
               : "a URL starting with http:// or https://";
}

const struct lf_conf_key lf_spool_conf_keys[] = {
    {.name = "enabled",
     .type = LF_CONF_BOOL,
     .offset = S(enabled),
     .def = "true",
     .doc = "when the server (Elasticsearch, Kafka) is down or behind, keep events on disk "
            "(and acknowledge the inputs) instead of making the inputs wait"},
    {.name = "dir",
     .type = LF_CONF_PATH,
     .offset = S(dir),
     .def_doc = "`<data_dir>/spool` (elasticsearch), `<data_dir>/spool-kafka` (kafka)",
     .doc = "where the spool's segment files are"},
    {.name = "max_size",
     .type = LF_CONF_SIZE,
     .offset = S(max_bytes),
     .def = "1GiB",
     .min = MIB,
     .doc = "disk the spool may use"},
    {.name = "fsync",
     .type = LF_CONF_ENUM,
     .offset = S(fsync),
     .enums = spool_fsyncs,
     .def = "commit",
     .doc = "`commit`: a batch is acknowledged once fsync'ed into the spool; `never`: once "
            "written (a crash of the machine may lose it)"},
    {.name = "when_full",
     .type = LF_CONF_ENUM,
     .offset = S(full),
     .enums = spool_fulls,
     .def = "block",
     .doc = "`block`: inputs wait, their data stays in their files (nothing lost); "
            "`drop_oldest`: while the server is away, the oldest spooled events are deleted to "
            "make room, counted and logged in one summary per 10 s (once it answers again, "
            "inputs wait instead: the files still hold the data)"},
    {.name = NULL}};

/* A retention: a whole number of days or hours, as both ILM's min_age and
 * ISM's min_index_age take it; anything finer makes no sense for daily
 * indices. */
static const char *check_retention(const char *s)
{
    static const char *why = "a whole number of days or hours, like 30d or 12h";
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 6 || s[0] == '0' || (s[n] != 'd' && s[n] != 'h') || s[n + 1])
        return why;
    return NULL;
}

/* The keys of both daemons' output.elasticsearch; the agent's has a spool
 * too, the shipper's refuses one. */
// clang-format off
#define ES_COMMON_KEYS \
    {.name = "hosts",                                                                             \
     .type = LF_CONF_STRINGS,                                                                     \
     .offset = E(hosts),                                                                          \
     .count = E(nhosts),                                                                          \
     .def = "[http://localhost:9200]",                                                            \
     .check = check_url,                                                                          \
     .max = 64,                                                                                   \
     .doc = "Elasticsearch nodes, used in turn; one that fails is set aside for a while"},        \
    {.name = "index",                                                                             \
     .type = LF_CONF_STRING,                                                                      \
     .offset = E(index),                                                                          \
     .def = "'%{prefix}-%{+YYYY.MM.dd}'",                                                         \
     .doc = "index name pattern: `%{prefix}` is the input's index prefix, `%{+FMT}` the event "   \
            "date in Joda-Time letters, as in Logstash"},                                         \
    {.name = "local_dates",                                                                       \
     .type = LF_CONF_BOOL,                                                                        \
     .offset = E(local_dates),                                                                    \
     .def = "false",                                                                              \
     .doc = "date index names by the local date instead of the UTC date"},                        \
    {.name = "gzip",                                                                              \
     .type = LF_CONF_BOOL,                                                                        \
     .offset = E(gzip),                                                                           \
     .def = "false",                                                                              \
     .doc = "gzip request bodies (less network, more CPU)"},                                      \
    {.name = "max_in_flight",                                                                     \
     .type = LF_CONF_UINT,                                                                        \
     .offset = E(max_in_flight),                                                                  \
     .def = "2",                                                                                  \
     .min = 1,                                                                                    \
     .max = 64,                                                                                   \
     .doc = "bulk requests sent at once"},                                                        \
    {.name = "queue_max_size",                                                                    \
     .type = LF_CONF_SIZE,                                                                        \
     .offset = E(queue_max_bytes),                                                                \
     .def = "8MiB",                                                                               \
     .min = KIB,                                                                                  \
     .max = GIB,                                                                                  \
     .doc = "events held in memory waiting for Elasticsearch; beyond it the inputs wait, or, "    \
            "while Elasticsearch is down or behind, the events go to the spool"},                 \
    {.name = "timeout",                                                                           \
     .type = LF_CONF_DURATION,                                                                    \
     .offset = E(timeout_ms),                                                                     \
     .def = "60s",                                                                                \
     .min = 100,                                                                                  \
     .max = HOUR,                                                                                 \
     .doc = "a request that takes longer is abandoned and retried"},                              \
    {.name = "connect_timeout",                                                                   \
     .type = LF_CONF_DURATION,                                                                    \
     .offset = E(connect_timeout_ms),                                                             \
     .def = "5s",                                                                                 \
     .min = 10,                                                                                   \
     .max = HOUR,                                                                                 \
     .doc = "time to open a connection"},                                                         \
    {.name = "backoff_min",                                                                       \
     .type = LF_CONF_DURATION,                                                                    \
     .offset = E(backoff_min_ms),                                                                 \
     .def = "100ms",                                                                              \
     .min = 1,                                                                                    \
     .max = HOUR,                                                                                 \
     .doc = "first wait before a retry; it doubles with each failure (with jitter)"},             \
    {.name = "backoff_max",                                                                       \
     .type = LF_CONF_DURATION,                                                                    \
     .offset = E(backoff_max_ms),                                                                 \
     .def = "60s",                                                                                \
     .min = 1,                                                                                    \
     .max = HOUR,                                                                                 \
     .doc = "longest wait between retries"},                                                      \
    {.name = "dead_letter_file",                                                                  \
     .type = LF_CONF_PATH,                                                                        \
     .offset = E(dead_letter),                                                                    \
     .def_doc = "`<data_dir>/dead-letter.ndjson`",                                                \
     .doc = "documents Elasticsearch refuses for good (mapping errors), each with its reason"},   \
    {.name = "templates",                                                                         \
     .type = LF_CONF_BOOL,                                                                        \
     .offset = E(templates),                                                                      \
     .def = "true",                                                                               \
     .doc = "install an index template `logferry-<prefix>` per index prefix at start"},           \
    {.name = "template_overwrite",                                                                \
     .type = LF_CONF_BOOL,                                                                        \
     .offset = E(template_overwrite),                                                             \
     .def = "false",                                                                              \
     .doc = "replace a template of that name that is already there (else it is left alone)"},     \
    {.name = "retention",                                                                         \
     .type = LF_CONF_STRING,                                                                      \
     .offset = E(retention),                                                                      \
     .def_doc = "none (indices are kept)",                                                        \
     .check = check_retention,                                                                    \
     .doc = "delete each index this long after its creation (`30d`, `12h`): a lifecycle policy "  \
            "`logferry-<prefix>` per index prefix, installed with the templates (an ILM policy "  \
            "named in the template's `index.lifecycle.name` on Elasticsearch, an ISM policy "    \
            "whose `ism_template` matches the prefix's indices on OpenSearch); applies to "       \
            "indices created afterwards"},                                                        \
    {.name = "username",                                                                          \
     .type = LF_CONF_STRING,                                                                      \
     .offset = E(username),                                                                       \
     .def_doc = "none",                                                                           \
     .doc = "basic authentication"},                                                              \
    {.name = "password",                                                                          \
     .type = LF_CONF_STRING,                                                                      \
     .offset = E(password),                                                                       \
     .def_doc = "none",                                                                           \
     .doc = "basic authentication (use `${ENV}` or `password_file` to keep it out of the file)"}, \
    {.name = "password_file",                                                                     \
     .type = LF_CONF_PATH,                                                                        \
     .offset = E(password_file),                                                                  \
     .def_doc = "none",                                                                           \
     .doc = "a file whose first line is the password"},                                           \
    {.name = "api_key",                                                                           \
     .type = LF_CONF_STRING,                                                                      \
     .offset = E(api_key),                                                                        \
     .def_doc = "none",                                                                           \
     .doc = "an API key (base64 `id:key`), sent as `Authorization: ApiKey`"},                     \
    {.name = "api_key_file",                                                                      \
     .type = LF_CONF_PATH,                                                                        \
     .offset = E(api_key_file),                                                                   \
     .def_doc = "none",                                                                           \
     .doc = "a file whose first line is the API key"},                                            \
    {.name = "ca_file",                                                                           \
     .type = LF_CONF_PATH,                                                                        \
     .offset = E(ca_file),                                                                        \
     .def_doc = "the system's CA certificates",                                                   \
     .doc = "CA certificates (PEM) to verify the servers with"},                                  \
    {.name = "cert_file",                                                                         \
     .type = LF_CONF_PATH,                                                                        \
     .offset = E(cert_file),                                                                      \
     .def_doc = "none",                                                                           \
     .doc = "client certificate (PEM)"},                                                          \
    {.name = "key_file",                                                                          \
     .type = LF_CONF_PATH,                                                                        \
     .offset = E(key_file),                                                                       \
     .def_doc = "none",                                                                           \
     .doc = "the client certificate's key (PEM)"},                                                \
    {.name = "verify",                                                                            \
     .type = LF_CONF_BOOL,                                                                        \
     .offset = E(verify),                                                                         \
     .def = "true",                                                                               \
     .doc = "verify the servers' certificates and names"}
// clang-format on

const struct lf_conf_key lf_es_conf_keys[] = {ES_COMMON_KEYS,
                                              {.name = "spool",
                                               .type = LF_CONF_SECTION,
                                               .offset = E(spool),
                                               .sub = lf_spool_conf_keys,
                                               .doc = "the on-disk spool"},
                                              {.name = NULL}};

const struct lf_conf_key lf_es_conf_keys_no_spool[] = {
    ES_COMMON_KEYS,
    {.name = "spool",
     .flags = LF_CONF_REFUSED,
     .doc = "the shipper has no spool: Kafka keeps events until Elasticsearch has them"},
    {.name = NULL}};

/* ---- the output -------------------------------------------------------- */

/* The first line of a secret's file, without its newline; NULL with the
 * reason in err. The secret itself never goes into a message. */
static char *read_secret(const char *path, const char *section, const char *what, char *err,
                         size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s.%s: cannot read %s: %s", section, what, path, strerror(errno));
        return NULL;
    }
    char line[4096];
    char *s = NULL;
    if (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            s = strdup(line);
    }
    memset(line, 0, sizeof(line));
    fclose(f);
    if (!s)
        snprintf(err, errlen, "%s.%s: %s is empty or unreadable", section, what, path);
    return s;
}

static void wipe_free(char *secret)
{
    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }
}

/* ---- checks at load time ------------------------------------------------ */

/* Where a key's value is, for a message (0, 0 when absent). */
static void at_node(const struct lf_conf_node *n, unsigned *line, unsigned *col)
{
    *line = n ? n->line : 0;
    *col = n ? n->col : 0;
}

/* A host URL as libcurl will read it: http or https, a host, a port in
 * 1..65535. Returns NULL or what is wrong. */
static const char *url_problem(const char *url, char *why, size_t whylen)
{
    CURLU *u = curl_url();
    if (!u)
        return "out of memory";
    char *scheme = NULL, *host = NULL, *port = NULL;
    CURLUcode rc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (rc) {
        snprintf(why, whylen, "not a URL libcurl accepts: %s", curl_url_strerror(rc));
    } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
               (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(why, whylen, "the scheme must be http or https");
    } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) || !host[0]) {
        snprintf(why, whylen, "no host in the URL");
    } else if (!curl_url_get(u, CURLUPART_PORT, &port, 0) && atol(port) == 0) {
        snprintf(why, whylen, "port 0 is not a port to connect to");
    } else {
        why[0] = '\0';
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return why[0] ? why : NULL;
}

/* A file the output will read at start or at its first request. */
static void check_readable(const char *path, const char *section, const char *key,
                           const struct lf_conf_node *sec, const char *origin,
                           struct lf_conf_errors *errs)
{
    unsigned line, col;
    at_node(lf_conf_get(sec, key), &line, &col);
    FILE *f = fopen(path, "r");
    if (!f) {
        lf_conf_errorf(errs, origin, line, col, "%s.%s: cannot read %s: %s", section, key, path,
                       strerror(errno));
        return;
    }
    fclose(f);
}

void lf_es_conf_check(const struct lf_es_conf *c, const char *section,
                      const struct lf_conf_node *sec, bool in_use, const char *origin,
                      struct lf_conf_errors *errs)
{
    unsigned line, col;
    char err[512];
    const struct lf_conf_node *hosts = lf_conf_get(sec, "hosts");
    for (size_t i = 0; i < c->nhosts; i++) {
        const char *why = url_problem(c->hosts[i], err, sizeof(err));
        if (!why)
            continue;
        /* Items refused while binding are not in c->hosts: find this one's
         * node by its text. */
        const struct lf_conf_node *item = hosts;
        size_t pos = i;
        for (size_t k = 0; hosts && hosts->type == LF_CONF_NODE_SEQ && k < hosts->nkids; k++)
            if (hosts->kids[k]->text && strcmp(hosts->kids[k]->text, c->hosts[i]) == 0) {
                item = hosts->kids[k];
                pos = k;
                break;
            }
        at_node(item, &line, &col);
        char shown[256];
        lf_http_redact(c->hosts[i], shown, sizeof(shown));
        lf_conf_errorf(errs, origin, line, col, "%s.hosts[%zu]: '%s': %s", section, pos, shown,
                       why);
    }
    if (c->index) {
        struct lf_es_index_pattern *p = lf_es_index_pattern_compile(c->index, err, sizeof(err));
        if (!p) {
            at_node(lf_conf_get(sec, "index"), &line, &col);
            lf_conf_errorf(errs, origin, line, col, "%s.index: %s", section, err);
        }
        lf_es_index_pattern_free(p);
    }
    if (!in_use)
        return;
    /* The secrets are read as the output reads them; certificates and
     * keys are only opened: libcurl says more at the first request. */
    static const char *const secrets[] = {"password_file", "api_key_file"};
    const char *secret_paths[] = {c->password_file, c->api_key_file};
    for (size_t i = 0; i < 2; i++) {
        if (!secret_paths[i])
            continue;
        char *s = read_secret(secret_paths[i], section, secrets[i], err, sizeof(err));
        if (!s) {
            at_node(lf_conf_get(sec, secrets[i]), &line, &col);
            lf_conf_errorf(errs, origin, line, col, "%s", err);
        }
        wipe_free(s);
    }
    if (c->ca_file)
        check_readable(c->ca_file, section, "ca_file", sec, origin, errs);
    if (c->cert_file)
        check_readable(c->cert_file, section, "cert_file", sec, origin, errs);
    if (c->key_file)
        check_readable(c->key_file, section, "key_file", sec, origin, errs);
}

struct lf_output *lf_es_conf_create_output(const struct lf_es_conf *c, const char *section,
                                           const char *const *prefixes, size_t nprefixes,
                                           const lf_grok *const *groks,
                                           const char *const *grok_names, size_t ngroks,
                                           size_t batch_docs, size_t batch_bytes, char *err,
                                           size_t errlen)
{
    char *password = NULL, *api_key = NULL;
    struct lf_output *out = NULL;
    if (c->password_file &&
        !(password = read_secret(c->password_file, section, "password_file", err, errlen)))
        goto done;
    if (c->api_key_file &&
        !(api_key = read_secret(c->api_key_file, section, "api_key_file", err, errlen)))
        goto done;
    struct lf_es_options o = {
        .hosts = (const char *const *)c->hosts,
        .nhosts = c->nhosts,
        .index = c->index,
        .local_dates = c->local_dates,
        .gzip = c->gzip,
        .max_in_flight = c->max_in_flight,
        .queue_max_bytes = c->queue_max_bytes,
        .batch_docs = batch_docs,
        .batch_bytes = batch_bytes,
        .backoff_min_ms = (int64_t)c->backoff_min_ms,
        .backoff_max_ms = (int64_t)c->backoff_max_ms,
        .dead_letter_path = c->dead_letter,
        .templates = c->templates,
        .template_overwrite = c->template_overwrite,
        .retention = c->retention,
        .prefixes = prefixes,
        .nprefixes = nprefixes,
        .http = {.ca_file = c->ca_file,
                 .cert_file = c->cert_file,
                 .key_file = c->key_file,
                 .verify = c->verify,
                 .username = c->username,
                 .password = password ? password : c->password,
                 .api_key = api_key ? api_key : c->api_key,
                 .connect_timeout_ms = (int64_t)c->connect_timeout_ms,
                 .timeout_ms = (int64_t)c->timeout_ms},
        .spool = {.dir = c->spool.enabled ? c->spool.dir : NULL,
                  .max_bytes = c->spool.max_bytes,
                  .fsync = (enum lf_spool_fsync)c->spool.fsync,
                  .full = (enum lf_spool_full)c->spool.full},
        .spool_retries_at_once = c->spool_retries_at_once,
    };
    struct lf_es_template *t = NULL;
    if (c->templates && !(t = lf_es_template_for_grammars(groks, grok_names, ngroks, err, errlen)))
        goto done;
    out = lf_out_es_create(&o, t, err, errlen);
done:
    wipe_free(password);
    wipe_free(api_key);
    return out;
}

int lf_es_conf_probe(const struct lf_es_conf *c, const char *section, FILE *out)
{
    char err[512];
    char *password = NULL, *api_key = NULL;
    int rc = -1;
    if (c->password_file &&
        !(password = read_secret(c->password_file, section, "password_file", err, sizeof(err))))
        fprintf(out, "%s: FAILED: %s\n", section, err);
    else if (c->api_key_file &&
             !(api_key = read_secret(c->api_key_file, section, "api_key_file", err, sizeof(err))))
        fprintf(out, "%s: FAILED: %s\n", section, err);
    else {
        struct lf_http_options http = {.ca_file = c->ca_file,
                                       .cert_file = c->cert_file,
                                       .key_file = c->key_file,
                                       .verify = c->verify,
                                       .username = c->username,
                                       .password = password ? password : c->password,
                                       .api_key = api_key ? api_key : c->api_key,
                                       .connect_timeout_ms = (int64_t)c->connect_timeout_ms,
                                       .timeout_ms = (int64_t)c->timeout_ms};
        rc = lf_es_probe((const char *const *)c->hosts, c->nhosts, &http, out);
    }
    wipe_free(password);
    wipe_free(api_key);
    return rc;
}

int lf_es_conf_http(const struct lf_es_conf *c, const char *section, struct lf_http_options *http,
                    struct lf_es_conf_secrets *secrets, char *err, size_t errlen)
{
    memset(secrets, 0, sizeof(*secrets));
    if (c->password_file &&
        !(secrets->password = read_secret(c->password_file, section, "password_file", err, errlen)))
        return -1;
    if (c->api_key_file &&
        !(secrets->api_key = read_secret(c->api_key_file, section, "api_key_file", err, errlen))) {
        lf_es_conf_secrets_free(secrets);
        return -1;
    }
    *http =
        (struct lf_http_options){.ca_file = c->ca_file,
                                 .cert_file = c->cert_file,
                                 .key_file = c->key_file,
                                 .verify = c->verify,
                                 .username = c->username,
                                 .password = secrets->password ? secrets->password : c->password,
                                 .api_key = secrets->api_key ? secrets->api_key : c->api_key,
                                 .connect_timeout_ms = (int64_t)c->connect_timeout_ms,
                                 .timeout_ms = (int64_t)c->timeout_ms};
    return 0;
}

void lf_es_conf_secrets_free(struct lf_es_conf_secrets *secrets)
{
    wipe_free(secrets->password);
    wipe_free(secrets->api_key);
    secrets->password = secrets->api_key = NULL;
}
