/*
 * es_http.h - a small asynchronous HTTP client on libcurl's multi interface,
 * private to shipper/: requests run concurrently on kept-alive connections,
 * and the owner's event loop waits on one descriptor (an epoll set of
 * curl's sockets) and one deadline. Completion callbacks run only from
 * lf_http_poll(), on the caller's thread.
 */
#ifndef LF_ES_HTTP_H
#define LF_ES_HTTP_H

#include "lf.h"
#include "shipper.h" /* struct lf_http_options */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lf_http;
struct lf_http_req;

typedef void (*lf_http_done_fn)(struct lf_http_req *req, void *ctx);

/* One request. The body is borrowed until completion. */
struct lf_http_req {
    /* filled by lf_http_start */
    long status;      /* HTTP status, 0 if none came */
    int transport_rc; /* CURLcode, 0 when an answer came */
    char error[256];  /* why the transport failed */
    char product[32]; /* the X-Elastic-Product header, "" when none */
    struct lf_buf response;
    /* private */
    void *easy;
    struct curl_slist *headers;
    lf_http_done_fn done;
    void *ctx;
    struct lf_http_req *prev, *next; /* the client's list of running requests */
};

/* Returns NULL with the reason in errbuf. */
struct lf_http *lf_http_create(const struct lf_http_options *o, char *errbuf, size_t errlen);
/* Cancels what is in flight (without callbacks). Accepts NULL. */
void lf_http_destroy(struct lf_http *h);

/*
 * Starts `method` on `url` with an optional body (content type given, and
 * gzip-encoded if `gzip`, which the caller has already done). `done` runs
 * from a later lf_http_poll() whatever the outcome. Returns 0, or LF_ENOMEM /
 * LF_EINVAL (nothing started, no callback).
 */
int lf_http_start(struct lf_http *h, struct lf_http_req *req, const char *method, const char *url,
                  const void *body, size_t body_len, const char *content_type, bool gzip,
                  lf_http_done_fn done, void *ctx);
/*
 * Runs one request to its end, waiting for it (for command-line tools, with
 * no other request running on h): 0 once it finished, whatever the outcome
 * (req->status, transport_rc and error tell it; release req afterwards), or
 * LF_ENOMEM / LF_EINVAL / LF_EIO when it could not be run (req->error says
 * why).
 */
int lf_http_run(struct lf_http *h, struct lf_http_req *req, const char *method, const char *url,
                const void *body, size_t body_len, const char *content_type);

/* Frees what a finished request holds (its answer); it may be started again. */
void lf_http_req_release(struct lf_http_req *req);

/* Waits up to timeout_ms for socket activity, drives transfers and calls
 * the callbacks of those that finished. Returns 0 or LF_EIO. */
int lf_http_poll(struct lf_http *h, int timeout_ms);
/* A descriptor that becomes readable when lf_http_poll has work. */
int lf_http_fd(const struct lf_http *h);
/* When lf_http_poll must run at the latest (monotonic ms), or -1. */
int64_t lf_http_deadline(const struct lf_http *h);
size_t lf_http_running(const struct lf_http *h);

/*
 * A short explanation of a failed transfer for an operator, naming the
 * setting to look at (TLS trust, client certificate, refused connection...),
 * from the CURLcode and error text left in a finished lf_http_req; "" when
 * curl's own message says it all. `plain_http`: the URL was http://, so a
 * connection cut without an answer may be a TLS port. Static text, never a
 * secret.
 */
const char *lf_http_hint(int transport_rc, const char *error, bool plain_http);

/* The most of a server's answer quoted in a message. */
#define ANSWER_QUOTE_MAX 200

/*
 * Why a finished request failed, for an operator: curl's error with
 * lf_http_hint's advice, or "answered STATUS<status_hint>: \"reason\"" with
 * the server's own reason (Elasticsearch's error.reason, Kibana's message)
 * or, when the answer is not JSON, its first ANSWER_QUOTE_MAX bytes; always
 * escaped by lf_log_quote (the server may not be what we think).
 */
void lf_http_describe(const struct lf_http_req *req, bool plain_http, const char *status_hint,
                      char *out, size_t outlen);

/* Writes url without any user:password@ part, for logs. */
void lf_http_redact(const char *url, char *out, size_t outlen);

#endif
