/*
 * es_int.h - the pieces of the Elasticsearch output that do not talk to the
 * network, private to shipper/es/: judging a _bulk answer item by item
 * (es_resp.c) and naming the index a document goes to (es_index.c); the
 * body's lines come from core/bulk.c. out_es.c puts them together; the unit
 * tests and fuzz harnesses use them directly.
 */
#ifndef LF_ES_INT_H
#define LF_ES_INT_H

#include "lf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- bulk answers (es_resp.c) ------------------------------------------ */

/* What to do with one document, or with a whole request. */
enum lf_es_verdict {
    LF_ES_DONE,      /* indexed: acknowledge */
    LF_ES_DUPLICATE, /* 409 on create: it was indexed before; acknowledge */
    LF_ES_RETRY,     /* transient (429, 5xx, rejected execution...): send again later */
    LF_ES_DEAD       /* refused for good (mapping, bad index...): dead-letter file */
};

/* Longest error type and reason kept per item, in bytes, terminator
 * included; a longer reason is cut at a character boundary and ends in
 * "...". Types are short identifiers; a longer one is cut the same way. */
#define LF_ES_REASON_MAX 1024
#define LF_ES_TYPE_MAX 128

/* The verdict on one document of a _bulk request, in request order. */
struct lf_es_item_result {
    int status; /* the item's HTTP status; 0 if missing or garbled, or not
                   examined because the answer said "errors":false */
    enum lf_es_verdict verdict;
    const char *error_type; /* owned by the result set; "" when absent */
    const char *reason;     /* owned by the result set; "" when absent */
};

/* The parsed answer to one _bulk request. Zero-initialise it before the first
 * use; it is reused across calls and freed with lf_es_results_free(). */
struct lf_es_results {
    size_t n; /* items, == the nitems given when parsing succeeded */
    struct lf_es_item_result *items;
    size_t ndone, nduplicate, nretry, ndead; /* verdict counts */
    bool errors;                             /* the answer's "errors" flag */
    /* private */
    size_t cap;
    struct lf_es_strref *refs; /* arena offsets while parsing */
    char *arena;
    size_t arena_len, arena_cap;
};

/*
 * Parses the body of a 200 answer to a _bulk request that carried `nitems`
 * actions, all `create`. Accepts the full answer of Elasticsearch 7.x/8.x and
 * OpenSearch 1.x/2.x as well as one shaped by
 * filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason.
 * Returns 0 with r filled (r->n == nitems; strings valid until the next call
 * or lf_es_results_free), LF_ESYNTAX when the body is not a bulk answer or
 * holds a different number of items (retry the whole request), or
 * LF_ENOMEM. After a failure r->n is 0 and r can be used again.
 */
int lf_es_parse_bulk(const char *body, size_t len, size_t nitems, struct lf_es_results *r);

/* Frees what the result set holds; it may be parsed into again afterwards. */
void lf_es_results_free(struct lf_es_results *r);

/*
 * What to do with a whole request given its HTTP status (0: the transport
 * failed): LF_ES_DONE for 200 (then parse the items), LF_ES_RETRY for 0, 408,
 * 429 and 5xx, LF_ES_DEAD otherwise. 413 (too large) is LF_ES_DEAD here; the
 * caller handles it first by splitting the request.
 */
enum lf_es_verdict lf_es_http_verdict(long http_status);

/*
 * The verdict on one item from its status and error type (may be NULL or "")
 * and whether its action was create. Exposed for the tests and for callers
 * that judge answers of their own.
 */
enum lf_es_verdict lf_es_item_verdict(int status, const char *error_type, bool create);

/* "done", "duplicate", "retry" or "dead". */
const char *lf_es_verdict_name(enum lf_es_verdict v);

/* ---- index names (es_index.c) ------------------------------------------ */

/* Longest Elasticsearch index name, in bytes. */
#define LF_ES_INDEX_MAX 255

/* A compiled Logstash-style index pattern such as "%{prefix}-%{+YYYY.MM.dd}".
 * Not thread-safe: formatting updates its cache. */
struct lf_es_index_pattern;

/*
 * Compiles `pattern`: literal text, %{prefix} (the event's index prefix) and
 * %{+FMT} (the event time in Joda-Time letters: yyyy YYYY yy YY xxxx xx ww w
 * MM M dd d HH H, and '...' quoted text). Returns the pattern, or NULL with
 * the reason (naming the column) in errbuf: an unknown letter or field,
 * uppercase or forbidden characters in the literal text, an unclosed %{.
 * LF_ENOMEM shows as "out of memory".
 */
struct lf_es_index_pattern *lf_es_index_pattern_compile(const char *pattern, char *errbuf,
                                                        size_t errlen);

/* Accepts NULL. */
void lf_es_index_pattern_free(struct lf_es_index_pattern *p);

/*
 * Writes the index name for (prefix, ts_ms) into out, NUL-terminated, using
 * the UTC date (or the local one when `local`). Returns its length, or 0 when
 * the name is not a valid Elasticsearch index name (lowercase only; none of
 * \ / * ? " < > | space , # : or control characters; valid UTF-8; not
 * starting with - _ +; not . or ..; at most 255 bytes), when the year is
 * outside 1..9999, or when it does not fit in outlen; the first such failure
 * of a pattern is logged. The last period (day, or hour when the pattern uses
 * H) is cached per prefix, so the common case is a comparison, not a
 * gmtime.
 */
size_t lf_es_index_format(struct lf_es_index_pattern *p, char *out, size_t outlen,
                          const char *prefix, int64_t ts_ms, bool local);

/* Whether the pattern contains a %{+FMT} at all. */
bool lf_es_index_pattern_uses_time(const struct lf_es_index_pattern *p);

/*
 * Writes the wildcard that matches every index of `prefix`, for index
 * templates: each %{+FMT} becomes one '*' ("%{prefix}-%{+YYYY.MM.dd}" gives
 * "syslog-*"). Returns its length, or 0 when it does not fit or the prefix
 * makes an invalid name.
 */
size_t lf_es_index_wildcard(const struct lf_es_index_pattern *p, char *out, size_t outlen,
                            const char *prefix);

/* ---- the server (es_version.c) ----------------------------------------- */

/* How logferry talks to a server: which template API, whether bulk actions
 * need a mapping type. */
enum lf_es_api {
    LF_ES_API_NONE,        /* refused: too old, or not a cluster */
    LF_ES_API_COMPOSABLE,  /* _index_template; ES 7.8+, every OpenSearch */
    LF_ES_API_LEGACY,      /* _template, typeless: ES 7.0-7.7 */
    LF_ES_API_LEGACY_TYPED /* _template with a _doc mapping type, "_type" in bulk: ES 6.8 */
};

struct lf_es_server {
    bool opensearch;
    bool compat; /* OpenSearch answering as Elasticsearch 7.10.2 */
    bool future; /* a major newer than logferry knows: used as the newest */
    int major, minor;
    char name[64]; /* "Elasticsearch 9.0.0", "OpenSearch 3.0.0", ... for logs */
};

/*
 * Judges the answer to GET /: version.number, version.distribution and the
 * tagline (NULL when absent) and the X-Elastic-Product header (NULL when
 * absent). Fills s and returns the API to use, or LF_ES_API_NONE with the
 * reason for an operator in why (never "unreachable": it answered).
 */
enum lf_es_api lf_es_server_judge(const char *number, const char *distribution, const char *tagline,
                                  const char *product, struct lf_es_server *s, char *why,
                                  size_t whylen);

/* ---- installed templates (es_template.c) -------------------------------- */

enum lf_es_tmpl_state {
    LF_ES_TMPL_CURRENT, /* ours, the same fingerprint: nothing to do */
    LF_ES_TMPL_STALE,   /* ours, another fingerprint (new grammars, version): put ours */
    LF_ES_TMPL_FOREIGN  /* not marked managed_by logferry: the operator's */
};

/*
 * Judges the 200 answer to GET _index_template/<name> (or _template/<name>
 * under the legacy APIs) against `mine`, the body we would put, by the
 * _meta each carries. An unreadable answer counts as foreign.
 */
enum lf_es_tmpl_state lf_es_template_judge(enum lf_es_api api, const char *answer, size_t len,
                                           const char *mine, size_t mine_len);

/* ---- lifecycle policies (es_policy.c) ----------------------------------- */

/* 64-bit FNV-1a, the fingerprint of what logferry installs (es_template.c). */
uint64_t lf_es_fnv1a64(const char *s, size_t n);

/* What GET of a prefix's lifecycle policy found. */
enum lf_es_policy_state {
    LF_ES_POLICY_MISSING, /* 404: put ours */
    LF_ES_POLICY_CURRENT, /* ours, as we would write it: nothing to do */
    LF_ES_POLICY_STALE,   /* ours, another retention or prefix set: put ours again */
    LF_ES_POLICY_FOREIGN  /* not marked as logferry's: left alone */
};

/*
 * The path of prefix's policy, "logferry-<prefix>" as its template is
 * named: /_ilm/policy/NAME on Elasticsearch, /_plugins/_ism/policies/NAME
 * on OpenSearch. For an update of an ISM policy (seq_no >= 0) the PUT path
 * carries ?if_seq_no=&if_primary_term=, as ISM refuses to overwrite
 * without them. Returns 0, or LF_ELIMIT when it does not fit in len.
 */
int lf_es_policy_path(const struct lf_es_server *srv, const char *prefix, long long seq_no,
                      long long primary_term, char *out, size_t len);

/*
 * Appends the body of PUT <policy path>: indices are deleted `retention`
 * ("30d") after their creation. Elasticsearch: an ILM policy with one
 * delete phase, marked by a _meta with managed_by and a fingerprint from
 * 7.14 on (before, ILM refuses _meta); the template attaches it. OpenSearch:
 * an ISM policy (states hot -> delete on min_index_age) whose ism_template
 * matches `wildcard` ("syslog-*"), marked in its description. Keys sorted,
 * one line. Returns 0, LF_EINVAL (empty retention or wildcard), LF_ELIMIT
 * or LF_ENOMEM; out holds what it held before on failure.
 */
int lf_es_policy_body(const struct lf_es_server *srv, const char *retention, const char *wildcard,
                      struct lf_buf *out);

/*
 * Judges the 200 answer to GET <policy path> of `prefix` against `mine`
 * (a body from lf_es_policy_body): current, stale or foreign (a policy of
 * that name that logferry did not write is the operator's; an unreadable
 * answer counts as foreign). For ISM, *seq_no and *primary_term get what the
 * answer says (-1 when absent), for the update's PUT path.
 */
enum lf_es_policy_state lf_es_policy_judge(const struct lf_es_server *srv, const char *prefix,
                                           const char *answer, size_t len, const char *mine,
                                           size_t mine_len, long long *seq_no,
                                           long long *primary_term);

#endif
