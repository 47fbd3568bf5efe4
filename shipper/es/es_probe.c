/*
 * es_probe.c - `logferry check --connect` for the Elasticsearch output:
 * GET / on every host with the output's own HTTP settings, judged as the
 * output judges it at start (lf_es_server_judge), one line per host. It
 * runs before any daemon starts, so it waits on the requests itself.
 */
#include "es_conf.h"
#include "es_http.h"
#include "es_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The answers are read once every request has finished. */
static void probe_done(struct lf_http_req *req, void *ctx)
{
    (void)req;
    (void)ctx;
}

static const char *api_name(enum lf_es_api api)
{
    return api == LF_ES_API_COMPOSABLE ? "composable templates (_index_template)"
           : api == LF_ES_API_LEGACY   ? "legacy templates (_template)"
                                       : "legacy templates (_template, mapping type _doc)";
}

/* Judges one finished GET /; prints its line; true when it is usable. */
static bool report(const char *url, const struct lf_http_req *req, FILE *out)
{
    char shown[1024];
    lf_http_redact(url, shown, sizeof(shown));
    if (req->status == 0) {
        const char *hint =
            lf_http_hint(req->transport_rc, req->error, strncmp(url, "http://", 7) == 0);
        fprintf(out, "%s: FAILED: %s%s%s\n", shown, req->error, *hint ? "; " : "", hint);
        return false;
    }
    if (req->status == 401 || req->status == 403) {
        fprintf(out, "%s: FAILED: HTTP %ld %s\n", shown, req->status,
                req->status == 401
                    ? "Unauthorized: the credentials were refused (username with password or "
                      "password_file, or api_key or api_key_file)"
                    : "Forbidden: the user lacks the monitor privilege for GET /");
        return false;
    }
    if (req->status != 200) {
        fprintf(out, "%s: FAILED: GET / answered HTTP %ld\n", shown, req->status);
        return false;
    }
    json_error_t err;
    json_t *info = json_loadb(req->response.data, req->response.len, 0, &err);
    json_t *version = json_object_get(info, "version");
    struct lf_es_server srv;
    char why[512];
    enum lf_es_api api =
        lf_es_server_judge(json_string_value(json_object_get(version, "number")),
                           json_string_value(json_object_get(version, "distribution")),
                           json_string_value(json_object_get(info, "tagline")),
                           req->product[0] ? req->product : NULL, &srv, why, sizeof(why));
    json_decref(info);
    if (api == LF_ES_API_NONE) {
        fprintf(out, "%s: FAILED: %s\n", shown, why);
        return false;
    }
    fprintf(out, "%s: OK: %s, %s%s\n", shown, srv.name, api_name(api),
            srv.future ? " (newer than logferry knows: used as the newest it does)" : "");
    return true;
}

int lf_es_probe(const char *const *hosts, size_t nhosts, const struct lf_http_options *http,
                FILE *out)
{
    char err[512];
    struct lf_http_options o = *http;
    /* As long as the output would wait; someone is waiting, so 10 s when
     * nothing is set. */
    if (o.timeout_ms <= 0)
        o.timeout_ms = 10000;
    struct lf_http *h = lf_http_create(&o, err, sizeof(err));
    if (!h) {
        fprintf(out, "elasticsearch: FAILED: %s\n", err);
        return -1;
    }
    struct lf_http_req *p = calloc(nhosts ? nhosts : 1, sizeof(*p));
    if (!p) {
        lf_http_destroy(h);
        fprintf(out, "elasticsearch: FAILED: out of memory\n");
        return -1;
    }
    char **urls = calloc(nhosts ? nhosts : 1, sizeof(*urls));
    bool ok = urls != NULL;
    for (size_t i = 0; urls && i < nhosts; i++) {
        size_t n = strlen(hosts[i]);
        while (n > 0 && hosts[i][n - 1] == '/')
            n--;
        if (!(urls[i] = malloc(n + 2)))
            break;
        snprintf(urls[i], n + 2, "%.*s/", (int)n, hosts[i]);
        if (lf_http_start(h, &p[i], "GET", urls[i], NULL, 0, NULL, false, probe_done, NULL))
            snprintf(p[i].error, sizeof(p[i].error), "the request could not be made");
    }
    while (ok && lf_http_running(h) > 0)
        if (lf_http_poll(h, 1000))
            ok = false;
    if (urls && !ok)
        fprintf(out, "elasticsearch: FAILED: waiting for the answers failed\n");
    for (size_t i = 0; urls && lf_http_running(h) == 0 && i < nhosts; i++) {
        if (!urls[i]) {
            fprintf(out, "elasticsearch: FAILED: out of memory\n");
            ok = false;
            break;
        }
        if (!report(urls[i], &p[i], out))
            ok = false;
    }
    if (!urls)
        fprintf(out, "elasticsearch: FAILED: out of memory\n");
    lf_http_destroy(h);
    for (size_t i = 0; i < nhosts; i++) {
        lf_http_req_release(&p[i]);
        if (urls)
            free(urls[i]);
    }
    free(urls);
    free(p);
    return ok ? 0 : -1;
}
