/*
 * es_http.c - asynchronous HTTP on libcurl's multi interface (see
 * es_http.h).
 *
 * curl tells us, through its socket callback, which sockets to watch and
 * for what; we keep them in a private epoll set, whose descriptor the
 * agent's loop watches with everything else. Connections stay open in the
 * multi handle's pool between requests (HTTP/1.1 keep-alive).
 */
#define _POSIX_C_SOURCE 200809L
#include "es_http.h"

#include <curl/curl.h>
#include <jansson.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct lf_http {
    CURLM *multi;
    int epfd;
    int64_t deadline_ms; /* curl's timer, -1 when none */
    int running;
    struct lf_http_req *active; /* running requests */
    struct lf_http_options o;
    char *ca_file, *cert_file, *key_file, *username, *password, *auth_header;
    char *extra_header;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* curl: watch (or stop watching) this socket. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy, (void)socketp;
    struct lf_http *h = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(h->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev = {.data.fd = s};
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev.events |= EPOLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, &ev) != 0 &&
        epoll_ctl(h->epfd, EPOLL_CTL_ADD, s, &ev) != 0) {
        lf_log(LF_LOG_ERROR, "http", "epoll_ctl: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* curl: call me back in timeout_ms (-1: never). */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct lf_http *h = userp;
    h->deadline_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    return 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *userp)
{
    struct lf_http_req *req = userp;
    size_t len = size * n;
    if (lf_buf_append(&req->response, p, len))
        return 0; /* over max_response: curl fails the transfer */
    return len;
}

static char *dup_or_null(const char *s, bool *failed)
{
    if (!s || !*s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = true;
    return d;
}

struct lf_http *lf_http_create(const struct lf_http_options *o, char *errbuf, size_t errlen)
{
    static bool curl_ready;
    if (!curl_ready) {
        /* Once per process; the agent is single-threaded. */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(errbuf, errlen, "libcurl: global initialisation failed");
            return NULL;
        }
        curl_ready = true;
    }
    struct lf_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    h->epfd = -1;
    h->deadline_ms = -1;
    h->o = *o;
    bool failed = false;
    h->ca_file = dup_or_null(o->ca_file, &failed);
    h->cert_file = dup_or_null(o->cert_file, &failed);
    h->key_file = dup_or_null(o->key_file, &failed);
    h->username = dup_or_null(o->username, &failed);
    h->password = dup_or_null(o->password, &failed);
    h->extra_header = dup_or_null(o->extra_header, &failed);
    if (o->api_key && *o->api_key) {
        size_t n = strlen(o->api_key) + 32;
        if ((h->auth_header = malloc(n)))
            snprintf(h->auth_header, n, "Authorization: ApiKey %s", o->api_key);
        else
            failed = true;
    }
    h->o.ca_file = h->o.cert_file = h->o.key_file = NULL;
    h->o.username = h->o.password = h->o.api_key = h->o.extra_header = NULL;
    if (failed) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    h->multi = curl_multi_init();
    if (h->epfd < 0 || !h->multi) {
        snprintf(errbuf, errlen, "cannot set up HTTP: %s", h->epfd < 0 ? strerror(errno) : "curl");
        goto fail;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
fail:
    lf_http_destroy(h);
    return NULL;
}

static void finish_easy(struct lf_http *h, struct lf_http_req *req)
{
    if (req->easy) {
        curl_multi_remove_handle(h->multi, req->easy);
        curl_easy_cleanup(req->easy);
        req->easy = NULL;
        if (req->prev)
            req->prev->next = req->next;
        else if (h->active == req)
            h->active = req->next;
        if (req->next)
            req->next->prev = req->prev;
        req->prev = req->next = NULL;
    }
    curl_slist_free_all(req->headers);
    req->headers = NULL;
}

void lf_http_destroy(struct lf_http *h)
{
    if (!h)
        return;
    if (h->multi) {
        /* Requests still in flight: detach them; their owner frees them. */
        while (h->active)
            finish_easy(h, h->active);
        curl_multi_cleanup(h->multi);
    }
    if (h->epfd >= 0)
        close(h->epfd);
    free(h->ca_file);
    free(h->cert_file);
    free(h->key_file);
    free(h->username);
    free(h->extra_header);
    if (h->password)
        memset(h->password, 0, strlen(h->password));
    free(h->password);
    if (h->auth_header)
        memset(h->auth_header, 0, strlen(h->auth_header));
    free(h->auth_header);
    free(h);
}

static int add_header(struct lf_http_req *req, const char *line)
{
    struct curl_slist *l = curl_slist_append(req->headers, line);
    if (!l)
        return LF_ENOMEM;
    req->headers = l;
    return 0;
}

int lf_http_start(struct lf_http *h, struct lf_http_req *req, const char *method, const char *url,
                  const void *body, size_t body_len, const char *content_type, bool gzip,
                  lf_http_done_fn done, void *ctx)
{
    req->prev = req->next = NULL;
    req->headers = NULL;
    req->status = 0;
    req->transport_rc = 0;
    req->error[0] = '\0';
    req->product[0] = '\0';
    req->done = done;
    req->ctx = ctx;
    lf_buf_init(&req->response, h->o.max_response ? h->o.max_response : (16u << 20));
    CURL *e = curl_easy_init();
    if (!e)
        return LF_ENOMEM;
    req->easy = e;
    char type[128];
    snprintf(type, sizeof(type), "Content-Type: %s",
             content_type ? content_type : "application/json");
    /* No "Expect: 100-continue": it costs a round trip per request. */
    if ((body && add_header(req, type)) || add_header(req, "Expect:") ||
        (gzip && add_header(req, "Content-Encoding: gzip")) ||
        (h->auth_header && add_header(req, h->auth_header)) ||
        (h->extra_header && add_header(req, h->extra_header))) {
        finish_easy(h, req);
        return LF_ENOMEM;
    }
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(e, CURLOPT_PRIVATE, req);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->error);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "logferry/" LF_VERSION);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* A proxy from the environment never applies to this machine. */
    curl_easy_setopt(e, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(h->o.connect_timeout_ms > 0 ? h->o.connect_timeout_ms : 5000));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(h->o.timeout_ms > 0 ? h->o.timeout_ms : 60000));
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, h->o.verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, h->o.verify ? 2L : 0L);
    if (h->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    if (h->cert_file)
        curl_easy_setopt(e, CURLOPT_SSLCERT, h->cert_file);
    if (h->key_file)
        curl_easy_setopt(e, CURLOPT_SSLKEY, h->key_file);
    if (h->username) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, h->username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, h->password ? h->password : "");
    }
    req->prev = NULL;
    req->next = h->active;
    if (h->active)
        h->active->prev = req;
    h->active = req;
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        finish_easy(h, req);
        return LF_EINVAL;
    }
    h->running++;
    return 0;
}

void lf_http_req_release(struct lf_http_req *req)
{
    lf_buf_free(&req->response);
}

static void collect_finished(struct lf_http *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct lf_http_req *req = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&req);
        if (!req)
            continue;
        req->transport_rc = (int)m->data.result;
        if (m->data.result == CURLE_OK) {
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &req->status);
            /* Elasticsearch 7.14+ names itself here; OpenSearch never does. */
            struct curl_header *ph = NULL;
            if (curl_easy_header(m->easy_handle, "X-Elastic-Product", 0, CURLH_HEADER, -1, &ph) ==
                    CURLHE_OK &&
                ph->value)
                snprintf(req->product, sizeof(req->product), "%s", ph->value);
        } else {
            req->status = 0;
            if (!req->error[0])
                snprintf(req->error, sizeof(req->error), "%s", curl_easy_strerror(m->data.result));
        }
        finish_easy(h, req);
        h->running--;
        req->done(req, req->ctx);
    }
}

int lf_http_poll(struct lf_http *h, int timeout_ms)
{
    int64_t now = now_ms();
    if (h->deadline_ms >= 0) {
        int64_t until = h->deadline_ms - now;
        if (until < timeout_ms)
            timeout_ms = until < 0 ? 0 : (int)until;
    }
    struct epoll_event events[16];
    int n = epoll_wait(h->epfd, events, 16, timeout_ms);
    if (n < 0 && errno != EINTR) {
        lf_log(LF_LOG_ERROR, "http", "epoll_wait: %s", strerror(errno));
        return LF_EIO;
    }
    int still;
    for (int i = 0; i < n; i++) {
        int mask = 0;
        if (events[i].events & EPOLLIN)
            mask |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (events[i].events & (EPOLLERR | EPOLLHUP))
            mask |= CURL_CSELECT_ERR;
        curl_multi_socket_action(h->multi, events[i].data.fd, mask, &still);
    }
    if (h->deadline_ms >= 0 && now_ms() >= h->deadline_ms) {
        h->deadline_ms = -1;
        curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &still);
    }
    collect_finished(h);
    return 0;
}

int lf_http_fd(const struct lf_http *h)
{
    return h->epfd;
}

int64_t lf_http_deadline(const struct lf_http *h)
{
    return h->deadline_ms;
}

size_t lf_http_running(const struct lf_http *h)
{
    return (size_t)h->running;
}

const char *lf_http_hint(int transport_rc, const char *error, bool plain_http)
{
    /* A TLS port hangs up on a plain request: curl sees a reset, an empty
     * answer or bytes that are not HTTP. */
    if (plain_http && (transport_rc == CURLE_RECV_ERROR || transport_rc == CURLE_GOT_NOTHING ||
                       transport_rc == CURLE_WEIRD_SERVER_REPLY))
        return "the connection was cut without an HTTP answer: if that port serves HTTPS, "
               "write https:// in the host's URL";
    /* TLS 1.3 reports a refused client certificate only when the answer is
     * read, as an alert inside a receive error. */
    bool tls = error && (strstr(error, "SSL") || strstr(error, "TLS") || strstr(error, "alert"));
    switch ((CURLcode)transport_rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
        return "TLS: the server's certificate is not trusted or not issued for this host name "
               "(ca_file names the CA that signed it; verify: false only for tests)";
    case CURLE_SSL_CACERT_BADFILE:
        return "TLS: cannot read the CA certificates (ca_file)";
    case CURLE_SSL_CERTPROBLEM:
        return "TLS: cannot use the client certificate (cert_file, key_file)";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        if (error && strstr(error, "certificate required"))
            return "TLS: the server requires a client certificate (cert_file, key_file)";
        if (error && (strstr(error, "unknown ca") || strstr(error, "bad certificate")))
            return "TLS: the server refused our client certificate (cert_file, key_file)";
        return tls || transport_rc == CURLE_SSL_CONNECT_ERROR ? "TLS connection failed" : "";
    case CURLE_COULDNT_CONNECT:
        return "nothing listens there: Elasticsearch down, or a wrong host or port";
    case CURLE_COULDNT_RESOLVE_HOST:
        return "the host name does not resolve";
    case CURLE_OPERATION_TIMEDOUT:
        return "no answer within the timeout";
    default:
        return "";
    }
}

void lf_http_redact(const char *url, char *out, size_t outlen)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *end = host + strcspn(host, "/?#");
    const char *at = NULL;
    for (const char *p = host; p < end; p++)
        if (*p == '@')
            at = p;
    if (!at) {
        snprintf(out, outlen, "%s", url);
        return;
    }
    snprintf(out, outlen, "%.*s%s", (int)(host - url), url, at + 1);
}

void lf_http_describe(const struct lf_http_req *req, bool plain_http, const char *status_hint,
                      char *out, size_t outlen)
{
    if (req->status == 0) {
        const char *hint = lf_http_hint(req->transport_rc, req->error, plain_http);
        snprintf(out, outlen, "%s%s%s", req->error, *hint ? "; " : "", hint);
        return;
    }
    char quoted[ANSWER_QUOTE_MAX * 4 + 64] = "";
    json_error_t err;
    json_t *body =
        req->response.len ? json_loadb(req->response.data, req->response.len, 0, &err) : NULL;
    json_t *e = json_object_get(body, "error");
    /* Elasticsearch: error.reason (or a bare string); Kibana: message. */
    const char *r = json_string_value(json_object_get(body, "message"));
    if (!r)
        r = json_is_string(e) ? json_string_value(e)
                              : json_string_value(json_object_get(e, "reason"));
    if (r)
        lf_log_quote(r, strlen(r), quoted, sizeof(quoted));
    else if (!body && req->response.len)
        lf_log_quote(req->response.data,
                     req->response.len < ANSWER_QUOTE_MAX ? req->response.len : ANSWER_QUOTE_MAX,
                     quoted, sizeof(quoted));
    json_decref(body);
    snprintf(out, outlen, "answered %ld%s%s%s%s", req->status, status_hint ? status_hint : "",
             *quoted ? ": \"" : "", quoted, *quoted ? "\"" : "");
    if (!r && !body && req->response.len > ANSWER_QUOTE_MAX && strlen(out) + 32 < outlen)
        snprintf(out + strlen(out), outlen - strlen(out), " (%zu bytes in all)", req->response.len);
}

static void run_done(struct lf_http_req *req, void *ctx)
{
    (void)req;
    (void)ctx;
}

int lf_http_run(struct lf_http *h, struct lf_http_req *req, const char *method, const char *url,
                const void *body, size_t body_len, const char *content_type)
{
    int rc =
        lf_http_start(h, req, method, url, body, body_len, content_type, false, run_done, NULL);
    if (rc) {
        snprintf(req->error, sizeof(req->error), "the request could not be made: %s",
                 lf_strerror(rc));
        return rc;
    }
    while (lf_http_running(h) > 0)
        if (lf_http_poll(h, 1000))
            return LF_EIO;
    return 0;
}
