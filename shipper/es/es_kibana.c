/*
 * es_kibana.c - imports saved objects into Kibana for `logferry setup`.
 *
 * Kibana's import API (POST /api/saved_objects/_import) takes one NDJSON
 * file as multipart/form-data, wants a kbn-xsrf header on every write, and
 * answers {success, successCount, errors} with one error per object it
 * refused (missing references, unknown types, conflicts). Each file is
 * checked here first (every line an object with a type and an id: a broken
 * file is named with its line, not sent), then read back with _bulk_get so
 * that a second setup changes nothing and says so. Kibana migrates what it
 * imports (it may add attributes), so on a real Kibana "unchanged" is
 * reported only when it stored the objects as shipped; otherwise the file is
 * imported again, which overwrite=true makes harmless.
 */
#define _GNU_SOURCE
#include "kibana.h"
#include "es_http.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct kibana {
    struct lf_http *http;
    const struct lf_kibana_options *opt;
    FILE *out;
    char base[2048], shown[2048];
};

static int describe(const struct kibana *k, const char *method, const char *path,
                    const struct lf_http_req *req)
{
    char why[600];
    const char *hint =
        req->status == 401   ? " Unauthorized (Kibana refused the credentials: the output's "
                               "username and password or API key, or --kibana-username and "
                               "--kibana-password-file)"
        : req->status == 403 ? " Forbidden (the user needs the Saved Objects Management privilege)"
                             : NULL;
    lf_http_describe(req, strncmp(k->base, "http://", 7) == 0, hint, why, sizeof(why));
    fprintf(k->out, "%s %s%s: FAILED: %s\n", method, k->shown, path, why);
    return -1;
}

/* Runs a request; -1 (said) when no answer came. */
static int call(struct kibana *k, const char *method, const char *path, const char *body,
                size_t len, const char *ctype, struct lf_http_req *req)
{
    char url[4096];
    snprintf(url, sizeof(url), "%s%s", k->base, path);
    int rc = lf_http_run(k->http, req, method, url, body, len, ctype);
    if (!rc && req->status)
        return 0;
    /* curl's own words: lf_http_hint's advice speaks of Elasticsearch. */
    fprintf(k->out, "%s %s%s: FAILED: %s\n", method, k->shown, path, req->error);
    return -1;
}

static int has_suffix(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 7 && strcmp(d->d_name + n - 7, ".ndjson") == 0;
}

/* The whole file, NUL-terminated, at most LF_KIBANA_MAX_FILE bytes. */
static char *read_file(const char *path, size_t *len, char *why, size_t whylen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st)) {
        snprintf(why, whylen, "cannot read it: %s", strerror(errno));
        if (f)
            fclose(f);
        return NULL;
    }
    if (st.st_size > (off_t)LF_KIBANA_MAX_FILE) {
        snprintf(why, whylen, "larger than %u bytes, what Kibana imports by default",
                 LF_KIBANA_MAX_FILE);
        fclose(f);
        return NULL;
    }
    /* One byte more than it said: a file that grew is seen, not cut. */
    size_t cap = (size_t)st.st_size + 1;
    char *data = malloc(cap + 1);
    size_t n = data ? fread(data, 1, cap, f) : 0;
    bool err = ferror(f) || n == cap;
    fclose(f);
    if (!data || err) {
        snprintf(why, whylen, "%s",
                 data ? "cannot read it (it changed while read?)" : "out of memory");
        free(data);
        return NULL;
    }
    data[n] = '\0';
    *len = n;
    return data;
}

/* Parses the file's objects into an array; NULL with "line N: why". An
 * export's closing summary line ({"exportedCount":...}) is skipped, as
 * Kibana skips it. */
static json_t *parse_objects(const char *data, size_t len, char *why, size_t whylen)
{
    json_t *objs = json_array();
    unsigned line = 0;
    for (size_t at = 0; objs && at < len;) {
        const char *nl = memchr(data + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - data) : len;
        line++;
        size_t b = at;
        while (b < end && strchr(" \t\r", data[b]))
            b++;
        if (b < end) {
            json_error_t err;
            json_t *o = json_loadb(data + b, end - b, 0, &err);
            const char *type = json_string_value(json_object_get(o, "type"));
            const char *id = json_string_value(json_object_get(o, "id"));
            if (!o || !json_is_object(o)) {
                snprintf(why, whylen, "line %u: not a JSON object: %s", line,
                         o ? "another JSON value" : err.text);
            } else if (json_object_get(o, "exportedCount") && !type) {
                json_decref(o);
                at = end + 1;
                continue;
            } else if (!type || !*type || !id || !*id) {
                snprintf(why, whylen, "line %u: a saved object needs a \"type\" and an \"id\"",
                         line);
            } else if (!json_is_object(json_object_get(o, "attributes"))) {
                snprintf(why, whylen, "line %u: %s/%s has no \"attributes\" object", line, type,
                         id);
            } else {
                json_array_append_new(objs, o);
                at = end + 1;
                continue;
            }
            json_decref(o);
            json_decref(objs);
            return NULL;
        }
        at = end + 1;
    }
    if (!objs)
        snprintf(why, whylen, "out of memory");
    else if (json_array_size(objs) == 0) {
        snprintf(why, whylen, "no saved object in it");
        json_decref(objs);
        return NULL;
    }
    return objs;
}

/* Whether Kibana holds every object of objs with the same attributes and
 * references (a failed or refused _bulk_get says no: the import decides). */
static bool all_there(struct kibana *k, json_t *objs)
{
    json_t *ask = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o)
    {
        json_array_append_new(ask, json_pack("{s:O,s:O}", "type", json_object_get(o, "type"), "id",
                                             json_object_get(o, "id")));
    }
    char *body = json_dumps(ask, JSON_COMPACT);
    json_decref(ask);
    if (!body)
        return false;
    struct lf_http_req req = {0};
    char url[4096];
    snprintf(url, sizeof(url), "%s/api/saved_objects/_bulk_get", k->base);
    bool same = false;
    if (lf_http_run(k->http, &req, "POST", url, body, strlen(body), "application/json") == 0 &&
        req.status == 200) {
        json_error_t err;
        json_t *got = json_loadb(req.response.data, req.response.len, 0, &err);
        json_t *saved = json_object_get(got, "saved_objects");
        same = json_array_size(saved) == json_array_size(objs);
        for (i = 0; same && i < json_array_size(objs); i++) {
            json_t *mine = json_array_get(objs, i), *theirs = json_array_get(saved, i);
            json_t *refs = json_object_get(mine, "references");
            json_t *their_refs = json_object_get(theirs, "references");
            same = !json_object_get(theirs, "error") &&
                   json_equal(json_object_get(mine, "attributes"),
                              json_object_get(theirs, "attributes")) &&
                   (refs ? json_equal(refs, their_refs) : json_array_size(their_refs) == 0);
        }
        json_decref(got);
    }
    lf_http_req_release(&req);
    free(body);
    return same;
}

/* multipart/form-data with one part, "file", holding data; the boundary is
 * one the data does not contain. */
static int multipart(const char *name, const char *data, size_t len, struct lf_buf *out,
                     char *boundary, size_t blen)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)len;
    do {
        seed = seed * 1103515245u + 12345u;
        snprintf(boundary, blen, "logferry-%08x%08x", seed, (unsigned)(seed * 2654435761u));
    } while (len >= strlen(boundary) && memmem(data, len, boundary, strlen(boundary)));
    int rc = lf_buf_printf(out,
                           "--%s\r\nContent-Disposition: form-data; name=\"file\"; "
                           "filename=\"%s\"\r\nContent-Type: application/ndjson\r\n\r\n",
                           boundary, name);
    if (!rc)
        rc = lf_buf_append(out, data, len);
    if (!rc)
        rc = lf_buf_printf(out, "\r\n--%s--\r\n", boundary);
    return rc;
}

/* Reports what an import answer refused; returns how many objects. */
static size_t report_errors(const struct kibana *k, const char *file, json_t *answer)
{
    json_t *errors = json_object_get(answer, "errors");
    size_t i, n = json_array_size(errors);
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        if (i == 10) {
            fprintf(k->out, "%s: ... and %zu more\n", file, n - 10);
            break;
        }
        json_t *err = json_object_get(e, "error");
        const char *type = json_string_value(json_object_get(err, "type"));
        char what[400] = "";
        json_t *r;
        size_t j;
        json_array_foreach(json_object_get(err, "references"), j, r)
        {
            size_t used = strlen(what);
            snprintf(what + used, sizeof(what) - used, "%s%s/%s",
                     j ? ", " : " (missing: ", json_string_value(json_object_get(r, "type")),
                     json_string_value(json_object_get(r, "id")));
        }
        if (what[0])
            strncat(what, ")", sizeof(what) - strlen(what) - 1);
        char quoted[800];
        snprintf(quoted, sizeof(quoted), "%s/%s: %s%s",
                 json_string_value(json_object_get(e, "type")),
                 json_string_value(json_object_get(e, "id")), type ? type : "refused", what);
        char safe[1600];
        lf_log_quote(quoted, strlen(quoted), safe, sizeof(safe));
        fprintf(k->out, "%s: FAILED: %s\n", file, safe);
    }
    return n;
}

static int import_file(struct kibana *k, const char *name, struct lf_es_setup_counts *counts)
{
    char path[4096], why[512], boundary[64], ctype[128];
    snprintf(path, sizeof(path), "%s/%s", k->opt->dir, name);
    size_t len = 0;
    char *data = read_file(path, &len, why, sizeof(why));
    json_t *objs = data ? parse_objects(data, len, why, sizeof(why)) : NULL;
    if (!objs) {
        fprintf(k->out, "%s: FAILED: %s\n", path, why);
        free(data);
        return -1;
    }
    size_t nobjs = json_array_size(objs);
    const char *api = "/api/saved_objects/_import?overwrite=true";
    struct lf_buf body;
    lf_buf_init(&body, 2 * (size_t)LF_KIBANA_MAX_FILE);
    int rc = 0;
    if (!k->opt->dry_run && all_there(k, objs)) {
        fprintf(k->out, "kibana %s: unchanged (%zu objects)\n", name, nobjs);
        counts->unchanged++;
    } else if (multipart(name, data, len, &body, boundary, sizeof(boundary))) {
        fprintf(k->out, "%s: FAILED: out of memory\n", path);
        rc = -1;
    } else if (k->opt->dry_run) {
        fprintf(k->out,
                "POST %s%s\nkbn-xsrf: true\nContent-Type: multipart/form-data; "
                "boundary=%s\n\n%.*s\n",
                k->shown, api, boundary, (int)body.len, body.data);
    } else {
        struct lf_http_req req = {0};
        snprintf(ctype, sizeof(ctype), "multipart/form-data; boundary=%s", boundary);
        rc = call(k, "POST", api, body.data, body.len, ctype, &req);
        if (!rc && req.status != 200)
            rc = describe(k, "POST", api, &req);
        json_error_t err;
        json_t *answer = rc ? NULL : json_loadb(req.response.data, req.response.len, 0, &err);
        json_t *ok = json_object_get(answer, "success");
        json_int_t n = json_integer_value(json_object_get(answer, "successCount"));
        if (!rc && !json_is_boolean(ok)) {
            fprintf(k->out, "POST %s%s: FAILED: not an import answer\n", k->shown, api);
            rc = -1;
        } else if (!rc && (report_errors(k, path, answer) || !json_is_true(ok))) {
            fprintf(k->out, "kibana %s: FAILED: %lld of %zu objects imported\n", name, (long long)n,
                    nobjs);
            rc = -1;
        } else if (!rc) {
            fprintf(k->out, "kibana %s: imported (%lld objects)\n", name, (long long)n);
            counts->changed++;
        }
        json_decref(answer);
        lf_http_req_release(&req);
    }
    lf_buf_free(&body);
    json_decref(objs);
    free(data);
    return rc;
}

/* GET /api/status: says which Kibana it is; -1 when it does not answer. */
static int status(struct kibana *k)
{
    struct lf_http_req req = {0};
    int rc = call(k, "GET", "/api/status", NULL, 0, NULL, &req);
    if (!rc && req.status != 200 && req.status != 503)
        rc = describe(k, "GET", "/api/status", &req);
    if (!rc) {
        json_error_t err;
        json_t *st = json_loadb(req.response.data, req.response.len, 0, &err);
        const char *version =
            json_string_value(json_object_get(json_object_get(st, "version"), "number"));
        const char *level = json_string_value(
            json_object_get(json_object_get(json_object_get(st, "status"), "overall"), "level"));
        if (!version) {
            fprintf(k->out, "GET %s/api/status: FAILED: answered %ld, not Kibana's status\n",
                    k->shown, req.status);
            rc = -1;
        } else {
            fprintf(k->out, "%s: Kibana %s%s%s\n", k->shown, version, level ? ", " : "",
                    level ? level : "");
        }
        json_decref(st);
    }
    lf_http_req_release(&req);
    return rc;
}

int lf_kibana_import(const struct lf_kibana_options *o, const struct lf_http_options *http,
                     FILE *out, struct lf_es_setup_counts *counts)
{
    struct kibana k = {.opt = o, .out = out};
    size_t n = strlen(o->url);
    while (n > 0 && o->url[n - 1] == '/')
        n--;
    snprintf(k.base, sizeof(k.base), "%.*s", (int)n, o->url);
    lf_http_redact(k.base, k.shown, sizeof(k.shown));
    struct dirent **names = NULL;
    int nfiles = scandir(o->dir, &names, has_suffix, alphasort);
    if (nfiles <= 0) {
        fprintf(out, "kibana: FAILED: %s: %s\n", o->dir,
                nfiles < 0 ? strerror(errno) : "no *.ndjson file in it");
        counts->failed++;
        free(names);
        return -1;
    }
    struct lf_http_options ho = *http;
    ho.extra_header = "kbn-xsrf: true"; /* Kibana refuses a write without it */
    if (ho.timeout_ms <= 0)
        ho.timeout_ms = 60000;
    char err[512];
    int rc = 0;
    if (o->dry_run) {
        fprintf(out, "# dry run: nothing is sent to Kibana\n");
    } else if (!(k.http = lf_http_create(&ho, err, sizeof(err)))) {
        fprintf(out, "kibana: FAILED: %s\n", err);
        rc = -1;
    } else {
        rc = status(&k);
    }
    if (rc)
        counts->failed++;
    for (int i = 0; i < nfiles; i++) {
        if (!rc && import_file(&k, names[i]->d_name, counts))
            counts->failed++;
        free(names[i]);
    }
    free(names);
    lf_http_destroy(k.http);
    return counts->failed ? -1 : 0;
}
