/*
 * es_template.h - the composable index template logferry installs for one
 * index prefix: which type each field it knows about gets in Elasticsearch
 * (and OpenSearch), written as the body of PUT _index_template/<name>.
 *
 *   struct lf_es_template *t = lf_es_template_create();
 *   lf_es_template_add_builtin(t);                     what every event carries
 *   lf_es_template_add_grok(t, grammar, err, errlen);  what the grammars extract
 *   lf_es_template_write(t, "logs-*", 200, &body);
 *
 * Fields not declared here are mapped by the template's dynamic rules:
 * strings become keywords (a field named "message" becomes text), numbers
 * whatever Elasticsearch guesses.
 */
#ifndef LF_ES_TEMPLATE_H
#define LF_ES_TEMPLATE_H

#include "grok.h"
#include "lf.h"

#include <stddef.h>

/* The Elasticsearch field types logferry declares. */
enum lf_es_ftype {
    LF_ES_KEYWORD, /* exact strings; ignore_above 1024, so a long value never fails a document */
    LF_ES_TEXT,    /* analysed full text: message */
    LF_ES_LONG,
    LF_ES_DOUBLE,
    LF_ES_DATE,
    LF_ES_BOOLEAN,
    LF_ES_IP,
    LF_ES_SCALED_FLOAT, /* scaling_factor 1000, as Metricbeat's *.pct */
    LF_ES_HALF_FLOAT    /* as Metricbeat's system.load.* */
};

/* One declared field: a dotted path and its type. */
struct lf_es_field_type {
    const char *path;
    size_t path_len;
    enum lf_es_ftype type;
};

/* Most fields one template holds; lf_es_template_add() says LF_ELIMIT past it. */
#define LF_ES_TEMPLATE_MAX_FIELDS 10000

struct lf_es_template;

/* Returns an empty template, or NULL when out of memory. */
struct lf_es_template *lf_es_template_create(void);
/* Frees t and every path it copied; accepts NULL. */
void lf_es_template_destroy(struct lf_es_template *t);

/* The Elasticsearch name of a type ("keyword", "long", ...). */
const char *lf_es_ftype_name(enum lf_es_ftype type);
/* The type a grammar's declaration asks for: :int long, :float double, a
 * string keyword. */
enum lf_es_ftype lf_es_ftype_of_grok(enum lf_grok_field_type type);

/*
 * Declares path[0..len) (dotted: "system.load.1") as `type`; the path is
 * copied. Declaring a path again merges: the same type, or LONG then DOUBLE
 * in either order (DOUBLE is kept: it takes both), or KEYWORD and TEXT in
 * either order (the first is kept: both take any string), return 0.
 * Returns LF_ECONFLICT with a message in errbuf, and t unchanged, for any
 * other type already declared (the first stays) and for a path that would be
 * both a value and an object ("host" beside "host.name"); LF_EINVAL (and a
 * message) for an empty path, an empty part ("a..b", ".a"), a control byte
 * or invalid UTF-8; LF_ELIMIT past LF_ES_TEMPLATE_MAX_FIELDS; LF_ENOMEM.
 */
int lf_es_template_add(struct lf_es_template *t, const char *path, size_t len,
                       enum lf_es_ftype type, char *errbuf, size_t errlen);

/*
 * Declares what logferry itself puts in events: @timestamp (date), message
 * (text), tags, host.*, agent.*, event.dataset (keywords), the ECS log
 * fields (log.file.path keyword, log.offset long, log.syslog.* codes long
 * and names keyword, process.name keyword, process.pid long) and the
 * Metricbeat system-module metrics (load and every pct double, bytes and
 * cores long). Returns 0; LF_ECONFLICT if t already held one of these paths
 * with a type that does not merge (t keeps that type; the rest are added);
 * LF_ELIMIT or LF_ENOMEM.
 */
int lf_es_template_add_builtin(struct lf_es_template *t);

/*
 * Declares every field grammar g can produce, with the type it was declared
 * with (lf_es_ftype_of_grok). A conflicting declaration does not stop the
 * others: returns LF_ECONFLICT after adding the rest, with the messages of
 * all conflicts, separated by "; ", in errbuf (cut to errlen). Returns 0,
 * LF_ECONFLICT, or (stopping at once) LF_EINVAL, LF_ELIMIT or LF_ENOMEM.
 */
int lf_es_template_add_grok(struct lf_es_template *t, const lf_grok *g, char *errbuf,
                            size_t errlen);

/* Returns 0 with the declared type of path[0..len) in *type, or LF_ENOENT. */
int lf_es_template_type(const struct lf_es_template *t, const char *path, size_t len,
                        enum lf_es_ftype *type);
/* Number of declared fields. */
size_t lf_es_template_count(const struct lf_es_template *t);

/*
 * Appends to `out` the body of PUT _index_template/<name> for the indices
 * matching `index_wildcard` ("logs-*"), with `priority` (0 or more; when two
 * templates match an index the higher wins, and Elasticsearch refuses two
 * with overlapping patterns and the same priority):
 *
 *   {"_meta":{"fingerprint":"<16 hex>","logferry_version":"...",
 *             "managed_by":"logferry"},
 *    "index_patterns":["logs-*"],"priority":200,
 *    "template":{"mappings":{"date_detection":false,
 *                            "dynamic_templates":[...],
 *                            "properties":{...nested objects...}}}}
 *
 * on one line, keys sorted at every level (as jansson's JSON_SORT_KEYS |
 * JSON_COMPACT writes them), so the same declarations always give the same
 * bytes. The fingerprint is a 64-bit FNV-1a hash of everything after "_meta"
 * (patterns, priority, mappings): reading it back from GET
 * _index_template/<name> tells whether the installed template is this one,
 * whatever the server did to its layout. The body is accepted by
 * Elasticsearch 7.8 and later and OpenSearch 1 and 2.
 * Returns 0; LF_EINVAL for an empty wildcard or a negative priority;
 * LF_ELIMIT when out's cap is reached; LF_ENOMEM. On failure out holds what
 * it held before.
 */
int lf_es_template_write(const struct lf_es_template *t, const char *index_wildcard, int priority,
                         struct lf_buf *out);

/*
 * The same template for the legacy API (PUT _template/<name>), which is all
 * Elasticsearch 6.8 and 7.0-7.7 have:
 *
 *   {"index_patterns":["logs-*"],
 *    "mappings":{"_meta":{"fingerprint":...,"managed_by":"logferry"},
 *                "date_detection":false,...},
 *    "order":200}
 *
 * `order` plays the part of the priority (the higher wins); `type` NULL for
 * a typeless mapping (7.x), "_doc" to wrap the mapping in a type (6.8). The
 * _meta sits in the mapping, the one place a legacy template keeps it, and
 * its fingerprint covers patterns, order, type and mapping. Same return
 * values as lf_es_template_write().
 */
int lf_es_template_write_legacy(const struct lf_es_template *t, const char *index_wildcard,
                                int order, const char *type, struct lf_buf *out);

/*
 * Names the lifecycle policy that the templates written from now on attach
 * to their indices ("settings":{"index":{"lifecycle":{"name":...}}}, ILM's
 * setting; OpenSearch refuses it: its ISM policies find their indices
 * themselves), or none with NULL, the default. The name is copied and is
 * part of the fingerprint. Returns 0 or LF_ENOMEM (t unchanged).
 */
int lf_es_template_set_lifecycle(struct lf_es_template *t, const char *policy);

/* The lowest priority logferry installs its templates with: above the 100
 * of Elasticsearch's built-in logs-*-* and metrics-*-*, so that ours wins for
 * our indices, and low enough for an operator's own to override. */
#define LF_ES_TEMPLATE_PRIORITY 200

/*
 * The priority of logferry's template for `index_wildcard`:
 * LF_ES_TEMPLATE_PRIORITY plus the wildcard's length (at most 255).
 * Elasticsearch refuses two templates with overlapping patterns and the
 * same priority, and prefixes such as "nginx" and "nginx-error" overlap
 * ("nginx-*" matches "nginx-error-2026.11.21"): the longer, more specific
 * pattern gets the higher priority and wins for its own indices, while two
 * "<prefix>-*" patterns of the same length cannot overlap.
 */
int lf_es_template_priority(const char *index_wildcard);

/*
 * The template logferry installs: the built-in fields (add_builtin), then
 * every typed field of each grammar in order (NULL entries are skipped:
 * grammars no input uses). A clash between declarations is logged as a
 * warning naming the grammar (names[i]); the first declaration stays.
 * Returns the template (the caller destroys it), or NULL when out of memory
 * or past LF_ES_TEMPLATE_MAX_FIELDS, with the reason in errbuf.
 */
struct lf_es_template *lf_es_template_for_grammars(const lf_grok *const *groks,
                                                   const char *const *names, size_t n, char *errbuf,
                                                   size_t errlen);

/*
 * Appends to out the body logferry PUTs as _index_template/logferry-<prefix>:
 * t for every index that `index_pattern` (the output's `index` setting; NULL
 * for the default "%{prefix}-%{+YYYY.MM.dd}") makes for `prefix`: what
 * `logferry check --print-template` prints.
 * Returns 0; LF_EINVAL with the reason in errbuf when the pattern does not
 * compile or the prefix makes no valid index name; LF_ELIMIT or LF_ENOMEM
 * (out holds what it held before). The priority is lf_es_template_priority().
 */
int lf_es_template_body(const struct lf_es_template *t, const char *index_pattern,
                        const char *prefix, struct lf_buf *out, char *errbuf, size_t errlen);

#endif
