/*
 * es_setup.c - `logferry setup` on the Elasticsearch side: for every index
 * prefix, the lifecycle policy (when a retention is set) and the index
 * template, as the output installs them at start, but on demand, in the
 * foreground, and saying for each whether it was installed, updated, left
 * as it was, or left alone because it is not logferry's.
 *
 * The bodies and the judgement of what is there come from the same pieces
 * the output uses (es_template.c, es_policy.c), so that a daemon started
 * afterwards finds everything current and changes nothing. A dry run sends
 * nothing at all, not even GET /: it prints the PUTs a first setup would
 * make, for the server flavour the caller assumes.
 */
#define _POSIX_C_SOURCE 200809L
#include "es_conf.h"
#include "es_http.h"
#include "es_int.h"
#include "es_template.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct setup {
    struct lf_http *http;
    const struct lf_es_setup_options *opt;
    FILE *out;
    struct lf_es_setup_counts *counts;
    char base[2048];  /* the host's URL without a trailing slash */
    char shown[2048]; /* the same without credentials */
    struct lf_es_server srv;
    enum lf_es_api api;
    struct lf_buf body;
};

static void print_request(const struct setup *s, const char *method, const char *path,
                          const struct lf_buf *body)
{
    fprintf(s->out, "%s %s%s\n", method, s->shown, path);
    if (body && body->len)
        fprintf(s->out, "%.*s\n", (int)body->len, body->data);
}

/* Runs method on path; prints "METHOD URL: FAILED: why" and returns -1
 * when no answer came. */
static int call(struct setup *s, const char *method, const char *path, const struct lf_buf *body,
                struct lf_http_req *req)
{
    char url[4096];
    snprintf(url, sizeof(url), "%s%s", s->base, path);
    int rc = lf_http_run(s->http, req, method, url, body ? body->data : NULL, body ? body->len : 0,
                         "application/json");
    if (rc || req->status == 0) {
        char why[600];
        if (rc)
            snprintf(why, sizeof(why), "%s", req->error);
        else
            lf_http_describe(req, strncmp(s->base, "http://", 7) == 0, NULL, why, sizeof(why));
        fprintf(s->out, "%s %s%s: FAILED: %s\n", method, s->shown, path, why);
        return -1;
    }
    return 0;
}

/* Says why an answer was not the one expected; returns -1. */
static int refused(struct setup *s, const char *method, const char *path,
                   const struct lf_http_req *req)
{
    char why[600];
    const char *hint = req->status == 401 ? " Unauthorized (check username with password or "
                                            "password_file, or api_key or api_key_file)"
                       : req->status == 403
                           ? " Forbidden (setup needs the manage_index_templates and manage_ilm "
                             "cluster privileges, or OpenSearch's ISM permissions)"
                           : NULL;
    lf_http_describe(req, strncmp(s->base, "http://", 7) == 0, hint, why, sizeof(why));
    fprintf(s->out, "%s %s%s: FAILED: %s\n", method, s->shown, path, why);
    return -1;
}

static void said(struct setup *s, const char *what, const char *name, const char *how)
{
    fprintf(s->out, "%s %s: %s\n", what, name, how);
}

/* Puts body at path (the policy or template called name); counts it. */
static int put(struct setup *s, const char *what, const char *name, const char *path, bool update)
{
    struct lf_http_req req = {0};
    int rc = call(s, "PUT", path, &s->body, &req);
    if (!rc && req.status != 200 && req.status != 201)
        rc = refused(s, "PUT", path, &req);
    if (!rc) {
        said(s, what, name, update ? "updated" : "installed");
        s->counts->changed++;
    }
    lf_http_req_release(&req);
    return rc;
}

static int setup_policy(struct setup *s, const char *prefix, const char *wildcard)
{
    const char *what = "lifecycle policy";
    char name[300], path[600];
    snprintf(name, sizeof(name), "logferry-%s", prefix);
    lf_buf_reset(&s->body);
    if (lf_es_policy_body(&s->srv, s->opt->retention, wildcard, &s->body) ||
        lf_es_policy_path(&s->srv, prefix, -1, -1, path, sizeof(path))) {
        fprintf(s->out, "%s %s: FAILED: cannot write it\n", what, name);
        return -1;
    }
    if (s->opt->dry_run) {
        print_request(s, "PUT", path, &s->body);
        return 0;
    }
    struct lf_http_req req = {0};
    if (call(s, "GET", path, NULL, &req))
        return -1;
    long long seq = -1, term = -1;
    int rc = 0;
    if (req.status == 404) {
        lf_http_req_release(&req);
        return put(s, what, name, path, false);
    }
    if (req.status != 200) {
        rc = refused(s, "GET", path, &req);
        lf_http_req_release(&req);
        return rc;
    }
    enum lf_es_policy_state st =
        lf_es_policy_judge(&s->srv, prefix, req.response.data, req.response.len, s->body.data,
                           s->body.len, &seq, &term);
    lf_http_req_release(&req);
    if (st == LF_ES_POLICY_CURRENT) {
        said(s, what, name, "unchanged");
        s->counts->unchanged++;
    } else if (st == LF_ES_POLICY_FOREIGN) {
        said(s, what, name, "not logferry's: left alone");
        s->counts->left_alone++;
    } else if (lf_es_policy_path(&s->srv, prefix, seq, term, path, sizeof(path)) == 0) {
        rc = put(s, what, name, path, true);
    } else {
        rc = -1;
    }
    return rc;
}

static int render_template(struct setup *s, const char *prefix, const char *wildcard)
{
    char policy[300];
    snprintf(policy, sizeof(policy), "logferry-%s", prefix);
    struct lf_es_template *t = s->opt->tmpl;
    int rc =
        lf_es_template_set_lifecycle(t, s->opt->retention && !s->srv.opensearch ? policy : NULL);
    int prio = lf_es_template_priority(wildcard);
    lf_buf_reset(&s->body);
    if (!rc && s->api == LF_ES_API_COMPOSABLE)
        rc = lf_es_template_write(t, wildcard, prio, &s->body);
    else if (!rc)
        rc = lf_es_template_write_legacy(
            t, wildcard, prio, s->api == LF_ES_API_LEGACY_TYPED ? "_doc" : NULL, &s->body);
    return rc;
}

static int setup_template(struct setup *s, const char *prefix, const char *wildcard)
{
    const char *what = "index template";
    char name[300], path[600];
    snprintf(name, sizeof(name), "logferry-%s", prefix);
    snprintf(path, sizeof(path), "/%s/%s",
             s->api == LF_ES_API_COMPOSABLE ? "_index_template" : "_template", name);
    if (render_template(s, prefix, wildcard)) {
        fprintf(s->out, "%s %s: FAILED: cannot write it\n", what, name);
        return -1;
    }
    if (s->opt->dry_run) {
        print_request(s, "PUT", path, &s->body);
        return 0;
    }
    struct lf_http_req req = {0};
    if (call(s, "GET", path, NULL, &req))
        return -1;
    int rc = 0;
    if (req.status == 404) {
        lf_http_req_release(&req);
        return put(s, what, name, path, false);
    }
    if (req.status != 200) {
        rc = refused(s, "GET", path, &req);
        lf_http_req_release(&req);
        return rc;
    }
    enum lf_es_tmpl_state st = lf_es_template_judge(s->api, req.response.data, req.response.len,
                                                    s->body.data, s->body.len);
    lf_http_req_release(&req);
    if (st == LF_ES_TMPL_CURRENT) {
        said(s, what, name, "unchanged");
        s->counts->unchanged++;
    } else if (st == LF_ES_TMPL_FOREIGN && !s->opt->overwrite) {
        said(s, what, name, "not logferry's: left alone (template_overwrite replaces it)");
        s->counts->left_alone++;
    } else {
        rc = put(s, what, name, path, true);
    }
    return rc;
}

/* GET / on each host until one is a server we can serve; 0 with s->base,
 * s->srv and s->api set, or -1 after one line per host tried. */
static int discover(struct setup *s, const char *const *hosts, size_t nhosts)
{
    for (size_t i = 0; i < nhosts; i++) {
        size_t n = strlen(hosts[i]);
        while (n > 0 && hosts[i][n - 1] == '/')
            n--;
        snprintf(s->base, sizeof(s->base), "%.*s", (int)n, hosts[i]);
        lf_http_redact(s->base, s->shown, sizeof(s->shown));
        struct lf_http_req req = {0};
        if (call(s, "GET", "/", NULL, &req))
            continue;
        if (req.status != 200) {
            refused(s, "GET", "/", &req);
            lf_http_req_release(&req);
            continue;
        }
        json_error_t err;
        json_t *info = json_loadb(req.response.data, req.response.len, 0, &err);
        json_t *version = json_object_get(info, "version");
        char why[512];
        s->api = lf_es_server_judge(json_string_value(json_object_get(version, "number")),
                                    json_string_value(json_object_get(version, "distribution")),
                                    json_string_value(json_object_get(info, "tagline")),
                                    req.product[0] ? req.product : NULL, &s->srv, why, sizeof(why));
        json_decref(info);
        lf_http_req_release(&req);
        if (s->api != LF_ES_API_NONE) {
            fprintf(s->out, "%s: %s\n", s->shown, s->srv.name);
            return 0;
        }
        fprintf(s->out, "%s: FAILED: %s\n", s->shown, why);
    }
    return -1;
}

/* What a dry run assumes: the newest of the flavour, composable templates. */
static void assume(struct setup *s, const char *host)
{
    size_t n = strlen(host);
    while (n > 0 && host[n - 1] == '/')
        n--;
    snprintf(s->base, sizeof(s->base), "%.*s", (int)n, host);
    lf_http_redact(s->base, s->shown, sizeof(s->shown));
    memset(&s->srv, 0, sizeof(s->srv));
    s->srv.opensearch = s->opt->assume_opensearch;
    s->srv.major = s->srv.opensearch ? 3 : 9;
    snprintf(s->srv.name, sizeof(s->srv.name), "%s",
             s->srv.opensearch ? "OpenSearch 3.x" : "Elasticsearch 9.x");
    s->api = LF_ES_API_COMPOSABLE;
    fprintf(s->out, "# dry run: nothing is sent; the requests a first setup makes on %s\n",
            s->srv.name);
}

int lf_es_setup(const char *const *hosts, size_t nhosts, const struct lf_http_options *http,
                const struct lf_es_setup_options *o, FILE *out, struct lf_es_setup_counts *counts)
{
    char err[512];
    struct setup s = {.opt = o, .out = out, .counts = counts};
    struct lf_http_options ho = *http;
    if (ho.timeout_ms <= 0)
        ho.timeout_ms = 10000;
    if (nhosts == 0) {
        fprintf(out, "elasticsearch: FAILED: no hosts\n");
        return -1;
    }
    struct lf_es_index_pattern *pattern = lf_es_index_pattern_compile(
        o->index ? o->index : "%{prefix}-%{+YYYY.MM.dd}", err, sizeof(err));
    if (!pattern) {
        fprintf(out, "elasticsearch: FAILED: index: %s\n", err);
        return -1;
    }
    lf_buf_init(&s.body, 64u << 20);
    int rc = 0;
    if (!o->dry_run && !(s.http = lf_http_create(&ho, err, sizeof(err)))) {
        fprintf(out, "elasticsearch: FAILED: %s\n", err);
        rc = -1;
    }
    if (!rc && o->dry_run)
        assume(&s, hosts[0]);
    else if (!rc)
        rc = discover(&s, hosts, nhosts);
    if (rc)
        counts->failed++;
    for (size_t i = 0; !rc && i < o->nprefixes; i++) {
        char wildcard[LF_ES_INDEX_MAX + 1];
        if (!lf_es_index_wildcard(pattern, wildcard, sizeof(wildcard), o->prefixes[i])) {
            fprintf(out, "prefix %s: FAILED: it makes no valid index name\n", o->prefixes[i]);
            counts->failed++;
            continue;
        }
        /* The policy first: the template names it, and ISM attaches only
         * to indices created after it. A failure goes on with the rest. */
        if (o->retention && setup_policy(&s, o->prefixes[i], wildcard))
            counts->failed++;
        if (o->tmpl && setup_template(&s, o->prefixes[i], wildcard))
            counts->failed++;
    }
    lf_buf_free(&s.body);
    lf_http_destroy(s.http);
    lf_es_index_pattern_free(pattern);
    return counts->failed ? -1 : 0;
}
