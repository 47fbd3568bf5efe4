/*
 * es_policy.c - retention as a lifecycle policy: the one logferry installs
 * for an index prefix, and whether the one a server holds is it.
 *
 * One policy per prefix, named as its template (logferry-<prefix>), so that
 * the agent and the shipper, whose prefixes differ, never rewrite each
 * other's. Elasticsearch's ILM policy is attached by the template's
 * index.lifecycle.name; OpenSearch's ISM has no such setting and attaches a
 * policy to the new indices its ism_template matches, so there the policy
 * carries the prefix's wildcard. Either way only indices created after the
 * policy get it.
 *
 * Whether a stored policy is ours and current is told as for templates, by
 * a fingerprint of what we write: in ILM's _meta (7.14 and later; older
 * versions refuse _meta, and there a policy of our name holding only a
 * delete phase is taken as ours) and in ISM's description (ISM has no
 * _meta, and keeps the description as given).
 */
#include "es_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* ILM accepts _meta from 7.14 on. */
static bool ilm_meta(const struct lf_es_server *srv)
{
    return srv->major > 7 || (srv->major == 7 && srv->minor >= 14);
}

int lf_es_policy_path(const struct lf_es_server *srv, const char *prefix, long long seq_no,
                      long long primary_term, char *out, size_t len)
{
    int n;
    if (!srv->opensearch)
        n = snprintf(out, len, "/_ilm/policy/logferry-%s", prefix);
    else if (seq_no >= 0 && primary_term >= 0)
        n = snprintf(out, len,
                     "/_plugins/_ism/policies/logferry-%s?if_seq_no=%lld&if_primary_term=%lld",
                     prefix, seq_no, primary_term);
    else
        n = snprintf(out, len, "/_plugins/_ism/policies/logferry-%s", prefix);
    return n < 0 || (size_t)n >= len ? LF_ELIMIT : 0;
}

/* What the fingerprint covers: the phases (ILM) or the states and the
 * ISM template (ISM). */
static int write_rules(const struct lf_es_server *srv, const char *retention, const char *wildcard,
                       struct lf_buf *b)
{
    int rc;
    if (!srv->opensearch) {
        rc = lf_buf_puts(b, "\"phases\":{\"delete\":{\"actions\":{\"delete\":{}},\"min_age\":");
        if (!rc)
            rc = lf_json_write_string(b, retention, strlen(retention));
        return rc ? rc : lf_buf_puts(b, "}}");
    }
    rc = lf_buf_puts(b, "\"ism_template\":[{\"index_patterns\":[");
    if (!rc)
        rc = lf_json_write_string(b, wildcard, strlen(wildcard));
    if (!rc)
        rc = lf_buf_puts(b, "],\"priority\":100}],\"states\":[{\"actions\":[],\"name\":\"hot\","
                            "\"transitions\":[{\"conditions\":{\"min_index_age\":");
    if (!rc)
        rc = lf_json_write_string(b, retention, strlen(retention));
    if (!rc)
        rc = lf_buf_puts(b, "},\"state_name\":\"delete\"}]},{\"actions\":[{\"delete\":{}}],"
                            "\"name\":\"delete\",\"transitions\":[]}]");
    return rc;
}

int lf_es_policy_body(const struct lf_es_server *srv, const char *retention, const char *wildcard,
                      struct lf_buf *out)
{
    if (!retention || !*retention || !wildcard || !*wildcard)
        return LF_EINVAL;
    size_t start = out->len;
    struct lf_buf rules;
    lf_buf_init(&rules, out->max);
    int rc = write_rules(srv, retention, wildcard, &rules);
    uint64_t fp = rc ? 0 : lf_es_fnv1a64(rules.data, rules.len);
    if (!rc && !srv->opensearch && ilm_meta(srv))
        rc = lf_buf_printf(out,
                           "{\"policy\":{\"_meta\":{\"fingerprint\":\"%016" PRIx64
                           "\",\"managed_by\":\"logferry\"},",
                           fp);
    else if (!rc && !srv->opensearch)
        rc = lf_buf_puts(out, "{\"policy\":{");
    else if (!rc)
        rc = lf_buf_printf(out,
                           "{\"policy\":{\"default_state\":\"hot\",\"description\":\"managed by "
                           "logferry: indices deleted %s after creation (fingerprint %016" PRIx64
                           ")\",",
                           retention, fp);
    if (!rc)
        rc = lf_buf_append(out, rules.data, rules.len);
    if (!rc)
        rc = lf_buf_puts(out, "}}");
    lf_buf_free(&rules);
    if (rc && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}

/* The mark of a policy body, as we write it or as the server keeps it:
 * ILM's _meta.fingerprint, ISM's description. */
static const char *mark_of(const struct lf_es_server *srv, json_t *policy)
{
    if (srv->opensearch)
        return json_string_value(json_object_get(policy, "description"));
    json_t *meta = json_object_get(policy, "_meta");
    const char *by = json_string_value(json_object_get(meta, "managed_by"));
    if (!by || strcmp(by, "logferry") != 0)
        return NULL;
    return json_string_value(json_object_get(meta, "fingerprint"));
}

/* Before ILM took _meta: ours if it only deletes; current if at our age. */
static enum lf_es_policy_state judge_unmarked(json_t *got, json_t *mine)
{
    json_t *phases = json_object_get(got, "phases");
    json_t *del = json_object_get(phases, "delete");
    if (!del || json_object_size(phases) != 1)
        return LF_ES_POLICY_FOREIGN;
    const char *a = json_string_value(json_object_get(del, "min_age"));
    const char *b = json_string_value(
        json_object_get(json_object_get(json_object_get(mine, "phases"), "delete"), "min_age"));
    return a && b && strcmp(a, b) == 0 ? LF_ES_POLICY_CURRENT : LF_ES_POLICY_STALE;
}

enum lf_es_policy_state lf_es_policy_judge(const struct lf_es_server *srv, const char *prefix,
                                           const char *answer, size_t len, const char *mine,
                                           size_t mine_len, long long *seq_no,
                                           long long *primary_term)
{
    json_error_t err;
    json_t *got = json_loadb(answer, len, 0, &err);
    json_t *my = json_loadb(mine, mine_len, 0, &err);
    json_t *policy = NULL;
    char name[300];
    *seq_no = *primary_term = -1;
    snprintf(name, sizeof(name), "logferry-%s", prefix);
    if (srv->opensearch) {
        /* {"_id":..,"_seq_no":N,"_primary_term":N,"policy":{...}} */
        json_t *s = json_object_get(got, "_seq_no"), *p = json_object_get(got, "_primary_term");
        if (json_is_integer(s) && json_is_integer(p)) {
            *seq_no = (long long)json_integer_value(s);
            *primary_term = (long long)json_integer_value(p);
        }
        policy = json_object_get(got, "policy");
    } else {
        /* {"<name>":{"version":N,"modified_date":..,"policy":{...}}} */
        policy = json_object_get(json_object_get(got, name), "policy");
    }
    json_t *my_policy = json_object_get(my, "policy");
    enum lf_es_policy_state st = LF_ES_POLICY_FOREIGN;
    const char *a = mark_of(srv, policy), *b = mark_of(srv, my_policy);
    if (!policy || !my_policy)
        st = LF_ES_POLICY_FOREIGN;
    else if (!srv->opensearch && !ilm_meta(srv))
        st = judge_unmarked(policy, my_policy);
    else if (a && b && strcmp(a, b) == 0)
        st = LF_ES_POLICY_CURRENT;
    else if (a && strncmp(a, "managed by logferry", 19) == 0)
        st = LF_ES_POLICY_STALE;
    else if (a && !srv->opensearch)
        st = LF_ES_POLICY_STALE; /* mark_of saw managed_by: logferry */
    json_decref(got);
    json_decref(my);
    return st;
}
