/*
 * out_es.c - the Elasticsearch output: documents go to daily indices with
 * _bulk `create` requests and deterministic ids, so at least once never
 * means twice.
 *
 * The path of a document: submit() copies a batch into a job (memory) or,
 * when Elasticsearch is down or behind, appends it to the spool and
 * acknowledges the inputs at once (the spool is durable). Jobs are sent, at
 * most max_in_flight at a time, to the hosts in turn; the answer is judged
 * item by item (es_resp.c): done and 409 (already indexed) acknowledge,
 * 429/5xx go back into a job retried after an exponential backoff with
 * jitter, and refusals for good (mapping errors) go to the dead-letter file
 * with Elasticsearch's reason. A whole request that fails is retried; 400
 * and 413 split it in halves, down to the one document to blame.
 *
 * Before the first bulk request: GET / (flavour and version, refusing what
 * we cannot serve), then one composable index template per index prefix,
 * unless one is there already and overwriting is off.
 */
#define _POSIX_C_SOURCE 200809L
#include "es_http.h"
#include "bulk.h"
#include "dead_letter.h"
#include "es_int.h"
#include "es_template.h"
#include "shipper.h"
#include "spooler.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <libdeflate.h>

#define MAX_PREFIXES 64
#define FILTER_PATH "filter_path=errors,items.*.status,items.*.error.type,items.*.error.reason"
#define DISCOVERY_MAX_MS 60000
/* A host that failed is tried again after at most this (times the jitter),
 * whatever backoff_max says: the request that tries it is the probe that
 * ends an outage, so delivery resumes within seconds of the cluster's
 * return. */
#define HOST_PROBE_MAX_MS 2000
/* Documents an item-level retry (429, 5xx items) keeps in memory before it
 * goes to the spool, in rounds: a short storm costs no disk, a long one does
 * not hold the inputs' positions back. */
#define RETRY_ROUNDS_IN_MEMORY 2
/* A bulk request out longer than this means the cluster is behind: a full
 * memory queue then goes to the spool (a healthy cluster answers a batch
 * in well under a second). */
#define BEHIND_AFTER_MS 2000

struct es_doc {
    uint32_t off, len; /* the JSON, in the job's data */
    uint16_t prefix;   /* in the output's prefix table */
    bool from_spool;
    int64_t ts_ms;
    char id[LF_DOC_ID_LEN + 1];
    struct lf_ack_target *ack; /* memory documents: the input to tell */
    uint64_t seq;              /* the input's, or the spool ackq's */
};

struct es_job {
    struct es_job *next;
    struct es_doc *docs;
    size_t n, cap;
    struct lf_buf data;
    unsigned attempts;
    int64_t not_before_ms;
    /* while in flight */
    int64_t sent_ms;
    struct es_out *o;
    size_t host;
    struct lf_buf body;
    struct lf_http_req req;
};

struct es_host {
    char *url;      /* base, no trailing slash */
    char *shown;    /* for logs: without credentials */
    unsigned fails; /* in a row */
    int64_t down_until_ms;
};

enum es_state {
    ES_DISCOVER,
    ES_POLICY_GET,
    ES_POLICY_PUT,
    ES_TEMPLATE_GET,
    ES_TEMPLATE_PUT,
    ES_READY
};

struct es_out {
    struct lf_output base;
    struct lf_es_options opt;
    struct lf_http *http;
    struct lf_es_index_pattern *pattern;
    struct lf_es_template *tmpl;            /* owned */
    struct libdeflate_compressor *deflater; /* gzip bodies; made on first use */
    struct es_host *hosts;
    size_t nhosts, next_host;
    char *prefixes[MAX_PREFIXES];
    size_t nprefixes;

    /* discovery and templates: one control request at a time */
    enum es_state state;
    struct lf_http_req ctl;
    bool ctl_busy;
    size_t tmpl_at;   /* prefix whose template is being checked */
    size_t tmpl_host; /* where the control request went */
    struct lf_buf ctl_body;
    int64_t ctl_retry_ms;
    unsigned ctl_fails;
    bool refused;      /* GET / named a server we cannot serve */
    char refusal[160]; /* why, for the line that says documents are spooled */
    char version[64];
    enum lf_es_api api; /* template API and bulk dialect of that server */
    struct lf_es_server srv;
    char *retention;         /* owned copy; NULL: no lifecycle policies */
    size_t policy_at;        /* the prefix whose policy comes next */
    long long policy_seq_no; /* ISM: what an update must name, -1 for a creation */
    long long policy_primary_term;

    /* jobs */
    struct es_job *ready, *ready_tail; /* FIFO */
    struct es_job *waiting;            /* backing off, unordered */
    size_t inflight;
    struct es_job *flying; /* in flight: freed here if the output goes first */
    size_t mem_bytes;      /* JSON held by jobs */
    size_t pending_docs;   /* in jobs */
    size_t mem_docs;       /* in jobs and not spooled: the inputs wait for them */
    bool down;             /* the last request failed as a whole */
    int64_t down_since_ms; /* monotonic, while down */
    int64_t answer_ms;     /* monotonic: the last answer of any server */

    /* the spool */
    struct lf_spooler *spool;
    bool spool_turn;         /* the next job comes from the spool, if it has one */
    bool warned_spool_small; /* a batch larger than the whole spool was seen */
    struct lf_buf rec;
    /* A finished job's data buffer, given to the next batch taken whole
     * (job_take_batch), so that neither grows from nothing. */
    struct lf_buf spare;

    struct lf_dead_letters *dead;

    struct lf_es_results results;
    uint64_t seed; /* jitter */
};

/* ---- small helpers ---------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t next_random(struct es_out *o)
{
    /* xorshift64*: jitter needs spread, not secrecy */
    o->seed ^= o->seed >> 12;
    o->seed ^= o->seed << 25;
    o->seed ^= o->seed >> 27;
    return o->seed * 0x2545F4914F6CDD1Dull;
}

/* min(cap, min * 2^attempts), times a random factor in [0.5, 1.5). */
static int64_t backoff_capped_ms(struct es_out *o, unsigned attempts, int64_t cap)
{
    int64_t d = o->opt.backoff_min_ms;
    for (unsigned i = 0; i < attempts && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    return d / 2 + (int64_t)(next_random(o) % (uint64_t)(d > 0 ? d : 1));
}

static int64_t backoff_ms(struct es_out *o, unsigned attempts)
{
    return backoff_capped_ms(o, attempts, o->opt.backoff_max_ms);
}

/* A host's set-aside: the backoff, but never longer than the probe interval. */
static int64_t host_backoff_ms(struct es_out *o, unsigned fails)
{
    int64_t cap =
        o->opt.backoff_max_ms < HOST_PROBE_MAX_MS ? o->opt.backoff_max_ms : HOST_PROBE_MAX_MS;
    return backoff_capped_ms(o, fails, cap);
}

static int prefix_index(struct es_out *o, const char *prefix, size_t len)
{
    for (size_t i = 0; i < o->nprefixes; i++)
        if (strlen(o->prefixes[i]) == len && memcmp(o->prefixes[i], prefix, len) == 0)
            return (int)i;
    if (o->nprefixes == MAX_PREFIXES)
        return -1;
    char *copy = strndup(prefix, len);
    if (!copy)
        return -1;
    o->prefixes[o->nprefixes] = copy;
    return (int)o->nprefixes++;
}

/* ---- jobs --------------------------------------------------------------- */

static struct es_job *job_new(struct es_out *o)
{
    struct es_job *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->o = o;
    lf_buf_init(&j->data, SIZE_MAX / 2);
    lf_buf_init(&j->body, SIZE_MAX / 2);
    return j;
}

static void job_free(struct es_out *o, struct es_job *j)
{
    if (!j)
        return;
    o->mem_bytes -= j->data.len;
    o->pending_docs -= j->n;
    for (size_t i = 0; i < j->n; i++)
        o->mem_docs -= !j->docs[i].from_spool;
    /* Kept when about a batch's size: a huge one is not held for ever. */
    if (!o->spare.data && j->data.data && j->data.cap <= 2 * o->opt.batch_bytes + (1u << 20)) {
        o->spare = j->data;
        lf_buf_reset(&o->spare);
    } else {
        lf_buf_free(&j->data);
    }
    lf_buf_free(&j->body);
    lf_http_req_release(&j->req);
    free(j->docs);
    free(j);
}

/* Copies a document into a job; returns 0 or LF_ENOMEM. */
/* Room for `docs` documents and `bytes` more JSON, so that filling a job
 * from a batch copies each document once; 0 or LF_ENOMEM. */
static int job_reserve(struct es_job *j, size_t docs, size_t bytes)
{
    if (docs > j->cap) {
        struct es_doc *d = realloc(j->docs, docs * sizeof(*d));
        if (!d)
            return LF_ENOMEM;
        j->docs = d;
        j->cap = docs;
    }
    return bytes && lf_buf_grow(&j->data, bytes) ? LF_ENOMEM : 0;
}

static int job_add(struct es_out *o, struct es_job *j, const struct es_doc *d, const char *json)
{
    if (j->n == j->cap && job_reserve(j, j->cap ? j->cap * 2 : 64, 0))
        return LF_ENOMEM;
    size_t off = j->data.len;
    int rc = lf_buf_append(&j->data, json, d->len);
    if (rc)
        return rc;
    j->docs[j->n] = *d;
    j->docs[j->n].off = (uint32_t)off;
    j->n++;
    o->mem_bytes += d->len;
    o->pending_docs++;
    o->mem_docs += !d->from_spool;
    return 0;
}

static void push_ready(struct es_out *o, struct es_job *j)
{
    j->next = NULL;
    if (o->ready_tail)
        o->ready_tail->next = j;
    else
        o->ready = j;
    o->ready_tail = j;
}

/* A job that should go again as soon as a host is up (it is the oldest). */
static void push_ready_front(struct es_out *o, struct es_job *j)
{
    j->next = o->ready;
    o->ready = j;
    if (!o->ready_tail)
        o->ready_tail = j;
}

static void push_waiting(struct es_out *o, struct es_job *j)
{
    j->not_before_ms = mono_ms() + backoff_ms(o, j->attempts);
    j->next = o->waiting;
    o->waiting = j;
}

/* ---- acknowledging ------------------------------------------------------ */

static void settle_spooled(struct es_out *o, const struct es_doc *d)
{
    lf_spooler_settle(o->spool, d->seq);
}

static void doc_done(struct es_out *o, const struct es_doc *d)
{
    o->base.counters.acked++;
    if (d->from_spool)
        settle_spooled(o, d);
    else if (d->ack)
        d->ack->safe(d->ack, d->seq);
}

static void doc_failed(struct es_out *o, const struct es_doc *d)
{
    o->base.counters.failed++;
    if (d->from_spool)
        settle_spooled(o, d);
    else if (d->ack)
        (d->ack->failed ? d->ack->failed : d->ack->safe)(d->ack, d->seq);
}

/* ---- the dead-letter file ---------------------------------------------- */

/* Adds one refused document with Elasticsearch's verdict; synced by
 * lf_dead_letters_flush before the documents are let go of. */
static int dead_add(struct es_out *o, const char *index, const struct es_doc *d, const char *json,
                    int status, const char *type, const char *reason)
{
    struct lf_dead_letter dl = {.index = index,
                                .id = d->id,
                                .status = status,
                                .type = type,
                                .reason = reason,
                                .json = json,
                                .len = d->len};
    return lf_dead_letters_add(o->dead, &dl);
}

/* ---- sending ------------------------------------------------------------ */

static size_t pick_host(struct es_out *o, int64_t now)
{
    size_t best = o->next_host % o->nhosts;
    for (size_t k = 0; k < o->nhosts; k++) {
        size_t i = (o->next_host + k) % o->nhosts;
        if (o->hosts[i].down_until_ms <= now) {
            best = i;
            break;
        }
        if (o->hosts[i].down_until_ms < o->hosts[best].down_until_ms)
            best = i;
    }
    o->next_host = best + 1;
    return best;
}

static bool any_host_up(const struct es_out *o, int64_t now)
{
    for (size_t i = 0; i < o->nhosts; i++)
        if (o->hosts[i].down_until_ms <= now)
            return true;
    return false;
}

static void host_failed(struct es_out *o, size_t h, const char *why)
{
    struct es_host *host = &o->hosts[h];
    host->fails++;
    host->down_until_ms = mono_ms() + host_backoff_ms(o, host->fails - 1);
    if (host->fails == 1 || host->fails % 10 == 0)
        lf_log(LF_LOG_WARN, "out_es", "%s: %s (failure %u in a row; set aside for %lld ms)",
               host->shown, why, host->fails, (long long)(host->down_until_ms - mono_ms()));
}

/*
 * Why a request failed, for the log: curl's error with a hint naming the
 * setting to check, or the status with Elasticsearch's own reason (a 401 or
 * 403 says which settings matter). Never a secret: the answer to a refused
 * login names the user, not the password. What the server said is quoted
 * escaped and cut short: it may not be Elasticsearch at all.
 */
static void describe_failure(const struct es_host *host, const struct lf_http_req *req, char *out,
                             size_t outlen)
{
    const char *what = "";
    if (req->status == 401)
        what = " Unauthorized: Elasticsearch refused the credentials (check username with "
               "password or password_file, or api_key or api_key_file)";
    else if (req->status == 403)
        what = " Forbidden: the user or API key lacks a privilege (create_doc on the indices, "
               "manage_index_templates for templates, monitor for GET /)";
    lf_http_describe(req, strncmp(host->url, "http://", 7) == 0, what, out, outlen);
}

static void host_ok(struct es_out *o, size_t h)
{
    if (o->hosts[h].fails)
        lf_log(LF_LOG_INFO, "out_es", "%s answers again", o->hosts[h].shown);
    o->hosts[h].fails = 0;
    o->hosts[h].down_until_ms = 0;
}

/* gzip with libdeflate at level 1: about half of zlib's CPU for a smaller
 * body (measured on bulk bodies, bench/es); the compressor is made once. */
static int gzip_body(struct es_out *o, struct lf_buf *body)
{
    if (!o->deflater && !(o->deflater = libdeflate_alloc_compressor(1)))
        return LF_ENOMEM;
    struct lf_buf out;
    lf_buf_init(&out, SIZE_MAX / 2);
    size_t bound = libdeflate_gzip_compress_bound(o->deflater, body->len);
    if (lf_buf_grow(&out, bound))
        return LF_ENOMEM;
    out.len = libdeflate_gzip_compress(o->deflater, body->data, body->len, out.data, bound);
    if (out.len == 0) { /* cannot happen within the bound */
        lf_buf_free(&out);
        return LF_ENOMEM;
    }
    lf_buf_free(body);
    *body = out;
    return 0;
}

static void on_bulk_done(struct lf_http_req *req, void *ctx);

static void set_down(struct es_out *o, bool down)
{
    if (down && !o->down)
        o->down_since_ms = mono_ms();
    o->down = down;
}

static bool spill(struct es_out *o, struct es_job *j);
static void cluster_back(struct es_out *o);

/* Documents whose index name is impossible never leave: dead letters. */
static int build_body(struct es_out *o, struct es_job *j)
{
    lf_buf_reset(&j->body);
    /* The documents plus an action line each (index and id are short). */
    if (lf_buf_grow(&j->body, j->data.len + j->n * (100 + LF_DOC_ID_LEN)))
        return LF_ENOMEM;
    char index[LF_ES_INDEX_MAX + 1];
    size_t kept = 0;
    for (size_t i = 0; i < j->n; i++) {
        struct es_doc *d = &j->docs[i];
        const char *json = j->data.data + d->off;
        size_t ilen = lf_es_index_format(o->pattern, index, sizeof(index), o->prefixes[d->prefix],
                                         d->ts_ms, o->opt.local_dates);
        int rc = !ilen ? LF_EINVAL
                 : o->api == LF_ES_API_LEGACY_TYPED
                     ? lf_bulk_append_typed(&j->body, "_doc", index, ilen, d->id, json, d->len)
                     : lf_bulk_append(&j->body, index, ilen, d->id, json, d->len);
        if (rc == LF_ENOMEM)
            return rc;
        if (rc) {
            dead_add(o, o->prefixes[d->prefix], d, json, 0, "logferry_exception",
                     "no valid index name or document for this event");
            if (lf_dead_letters_flush(o->dead))
                return LF_EIO;
            doc_failed(o, d);
            o->pending_docs--;
            o->mem_docs -= !d->from_spool;
            continue;
        }
        j->docs[kept++] = *d;
    }
    j->n = kept;
    return 0;
}

/* Starts a job; on failure puts it back to wait. */
static void send_job(struct es_out *o, struct es_job *j)
{
    int rc = build_body(o, j);
    if (!rc && j->n == 0) {
        job_free(o, j);
        return;
    }
    if (!rc && o->opt.gzip)
        rc = gzip_body(o, &j->body);
    int64_t now = mono_ms();
    j->host = pick_host(o, now);
    char url[4096];
    snprintf(url, sizeof(url), "%s/_bulk?" FILTER_PATH, o->hosts[j->host].url);
    lf_http_req_release(&j->req);
    if (!rc)
        rc = lf_http_start(o->http, &j->req, "POST", url, j->body.data, j->body.len,
                           "application/x-ndjson", o->opt.gzip, on_bulk_done, j);
    if (rc) {
        lf_log(LF_LOG_ERROR, "out_es", "cannot start a bulk request: %s", lf_strerror(rc));
        j->attempts++;
        push_waiting(o, j);
        return;
    }
    o->inflight++;
    j->sent_ms = now;
    j->next = o->flying;
    o->flying = j;
}

/* Splits a job in two halves, both ready at once (400/413 answers). */
static int split_job(struct es_out *o, struct es_job *j)
{
    struct es_job *halves[2] = {job_new(o), job_new(o)};
    if (!halves[0] || !halves[1])
        goto fail;
    for (size_t i = 0; i < j->n; i++)
        if (job_add(o, halves[i < j->n / 2 ? 0 : 1], &j->docs[i], j->data.data + j->docs[i].off))
            goto fail;
    push_ready(o, halves[0]);
    push_ready(o, halves[1]);
    job_free(o, j);
    return 0;
fail:
    job_free(o, halves[0]);
    job_free(o, halves[1]);
    return LF_ENOMEM;
}

static void refuse_whole(struct es_out *o, struct es_job *j, int status, const char *why)
{
    char index[LF_ES_INDEX_MAX + 1];
    for (size_t i = 0; i < j->n; i++) {
        const struct es_doc *d = &j->docs[i];
        if (!lf_es_index_format(o->pattern, index, sizeof(index), o->prefixes[d->prefix], d->ts_ms,
                                o->opt.local_dates))
            snprintf(index, sizeof(index), "%s", o->prefixes[d->prefix]);
        dead_add(o, index, d, j->data.data + d->off, status, "logferry_exception", why);
    }
    if (lf_dead_letters_flush(o->dead)) {
        j->attempts++;
        push_waiting(o, j);
        return;
    }
    for (size_t i = 0; i < j->n; i++)
        doc_failed(o, &j->docs[i]);
    job_free(o, j);
}

/*
 * The request failed as a whole: the host's trouble, not the documents'.
 * The host is set aside for its backoff and the job goes again at once to
 * another host that is up, else to this one when its set-aside ends (that
 * request is the probe). With no host left, what the inputs wait for goes
 * to the spool, so that their positions move on during the outage.
 */
static void retry_whole(struct es_out *o, struct es_job *j, const char *why)
{
    lf_http_req_release(&j->req);
    host_failed(o, j->host, why);
    /* With another node up, batches keep going to memory and that node;
     * only when none is left do they go to the spool. */
    set_down(o, !any_host_up(o, mono_ms()));
    o->base.counters.retried += j->n;
    j->attempts++;
    if (o->down && spill(o, j))
        return;
    push_ready_front(o, j);
}

/* Sorts the items of a 200 answer into done, retry and dead. */
static void judge_items(struct es_out *o, struct es_job *j)
{
    struct lf_es_results *r = &o->results;
    struct es_job *retry = NULL;
    char index[LF_ES_INDEX_MAX + 1];
    bool dead_pending = false;
    for (size_t i = 0; i < j->n; i++) {
        const struct es_doc *d = &j->docs[i];
        const struct lf_es_item_result *it = &r->items[i];
        if (it->verdict == LF_ES_RETRY) {
            if ((!retry && !(retry = job_new(o))) || job_add(o, retry, d, j->data.data + d->off)) {
                /* Out of memory: all of it again later (409s for the rest). */
                job_free(o, retry);
                lf_dead_letters_discard(o->dead);
                j->attempts++;
                push_waiting(o, j);
                return;
            }
        } else if (it->verdict == LF_ES_DEAD) {
            if (!lf_es_index_format(o->pattern, index, sizeof(index), o->prefixes[d->prefix],
                                    d->ts_ms, o->opt.local_dates))
                snprintf(index, sizeof(index), "%s", o->prefixes[d->prefix]);
            dead_add(o, index, d, j->data.data + d->off, it->status, it->error_type, it->reason);
            dead_pending = true;
        }
    }
    if (dead_pending && lf_dead_letters_flush(o->dead)) {
        /* Cannot keep them: send the whole job again later, nothing lost. */
        job_free(o, retry);
        j->attempts++;
        push_waiting(o, j);
        return;
    }
    for (size_t i = 0; i < j->n; i++) {
        enum lf_es_verdict v = r->items[i].verdict;
        if (v == LF_ES_DONE || v == LF_ES_DUPLICATE)
            doc_done(o, &j->docs[i]);
        else if (v == LF_ES_DEAD)
            doc_failed(o, &j->docs[i]);
    }
    if (retry) {
        retry->attempts = j->attempts + 1;
        o->base.counters.retried += retry->n;
        if (retry->attempts == 1 || retry->attempts % 10 == 0) {
            size_t first = 0;
            while (first < r->n && r->items[first].verdict != LF_ES_RETRY)
                first++;
            lf_log(LF_LOG_WARN, "out_es", "%zu of %zu documents to retry (first: %d %s)", retry->n,
                   j->n, r->items[first].status, r->items[first].error_type);
        }
        unsigned in_memory = o->opt.spool_retries_at_once ? 1 : RETRY_ROUNDS_IN_MEMORY;
        if (retry->attempts < in_memory || !spill(o, retry))
            push_waiting(o, retry);
    }
    job_free(o, j);
}

static void on_bulk_done(struct lf_http_req *req, void *ctx)
{
    struct es_job *j = ctx;
    struct es_out *o = j->o;
    char why[1024];
    o->inflight--;
    for (struct es_job **pp = &o->flying; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    lf_buf_free(&j->body);
    lf_buf_init(&j->body, SIZE_MAX / 2);
    if (req->status)
        o->answer_ms = mono_ms();
    if (req->status == 0) {
        char detail[480];
        describe_failure(&o->hosts[j->host], req, detail, sizeof(detail));
        snprintf(why, sizeof(why), "bulk request failed: %s", detail);
        retry_whole(o, j, why);
    } else if (req->status == 200) {
        int rc = lf_es_parse_bulk(req->response.data, req->response.len, j->n, &o->results);
        if (rc) {
            retry_whole(o, j, "malformed bulk answer");
        } else {
            host_ok(o, j->host);
            if (o->down)
                cluster_back(o);
            judge_items(o, j);
        }
    } else if (req->status == 413 || req->status == 400) {
        host_ok(o, j->host);
        if (j->n > 1) {
            lf_log(LF_LOG_WARN, "out_es", "bulk request of %zu documents answered %ld: splitting",
                   j->n, req->status);
            if (split_job(o, j)) {
                j->attempts++;
                push_waiting(o, j);
            }
        } else {
            snprintf(why, sizeof(why), "bulk request with this one document answered %ld%s",
                     req->status,
                     req->status == 413 ? " (larger than http.max_content_length)" : "");
            refuse_whole(o, j, (int)req->status, why);
        }
    } else {
        /* 401/403 and the like: an operator must act; nothing is dropped. */
        char detail[480];
        describe_failure(&o->hosts[j->host], req, detail, sizeof(detail));
        snprintf(why, sizeof(why), "bulk request %s", detail);
        retry_whole(o, j, why);
    }
    /* j may be gone: job_free releases the answer of a finished job. */
}

/* ---- discovery and templates ------------------------------------------ */

static void on_ctl_done(struct lf_http_req *req, void *ctx);

static void ctl_start(struct es_out *o, const char *method, const char *path, const char *body,
                      size_t len)
{
    size_t h = pick_host(o, mono_ms());
    char url[4096];
    snprintf(url, sizeof(url), "%s%s", o->hosts[h].url, path);
    o->tmpl_host = h;
    lf_http_req_release(&o->ctl); /* the last answer, read by now */
    if (lf_http_start(o->http, &o->ctl, method, url, body, len, "application/json", false,
                      on_ctl_done, o) == 0)
        o->ctl_busy = true;
    else
        o->ctl_retry_ms = mono_ms() + backoff_ms(o, o->ctl_fails++);
}

/* A discovery or template request failed: try again after a backoff. `why`
 * NULL when the reason was logged already (host_failed). */
static void ctl_failed(struct es_out *o, const char *why)
{
    o->ctl_fails++;
    /* A server we cannot serve is asked again slowly; one that did not
     * answer is probed like a host, so that we start soon after it does. */
    int64_t wait =
        o->refused ? backoff_capped_ms(o, 30, DISCOVERY_MAX_MS) : host_backoff_ms(o, o->ctl_fails);
    o->ctl_retry_ms = mono_ms() + wait;
    set_down(o, true);
    if (why && (o->ctl_fails == 1 || o->ctl_fails % 10 == 0))
        lf_log(LF_LOG_WARN, "out_es", "%s (attempt %u; again in %lld ms)", why, o->ctl_fails,
               (long long)wait);
}

/* Whether this server is one we can serve (sets o->api and o->version);
 * says why not. */
static bool supported(struct es_out *o, json_t *info, const char *product, char *why, size_t whylen)
{
    json_t *version = json_object_get(info, "version");
    struct lf_es_server srv;
    o->api = lf_es_server_judge(json_string_value(json_object_get(version, "number")),
                                json_string_value(json_object_get(version, "distribution")),
                                json_string_value(json_object_get(info, "tagline")),
                                product[0] ? product : NULL, &srv, why, whylen);
    snprintf(o->version, sizeof(o->version), "%s", srv.name);
    o->srv = srv;
    if (srv.future)
        lf_log(LF_LOG_WARN, "out_es",
               "%s is newer than logferry knows (tested up to Elasticsearch 9.x and OpenSearch "
               "3.x): used as those; report what fails",
               srv.name);
    return o->api != LF_ES_API_NONE;
}

/* The template API's path for the current prefix's template. */
static void template_path(const struct es_out *o, char *path, size_t len)
{
    snprintf(path, len, "/%s/logferry-%s",
             o->api == LF_ES_API_COMPOSABLE ? "_index_template" : "_template",
             o->prefixes[o->tmpl_at]);
}

static void next_template(struct es_out *o);

/*
 * A template request answered an error. Passing trouble (429, 5xx, 401: the
 * credentials are wrong for every request anyway) is retried. A refusal for
 * good (403: the user may write documents but not manage templates; 400: a
 * template of the operator's clashes) must not hold the documents back
 * forever: they go without this template, and the operator is told how to
 * install it.
 */
static void template_failed(struct es_out *o, long status, const char *why)
{
    if (status == 401 || lf_es_http_verdict(status) == LF_ES_RETRY) {
        ctl_failed(o, why);
        return;
    }
    lf_log(LF_LOG_ERROR, "out_es",
           "%s; documents for %s-* are sent without this template (to install it yourself: "
           "logferry check --print-template %s)",
           why, o->prefixes[o->tmpl_at], o->prefixes[o->tmpl_at]);
    o->ctl_fails = 0;
    o->tmpl_at++;
    o->state = ES_TEMPLATE_GET;
    next_template(o);
}

/* Writes our template for the current prefix into ctl_body; 0 or an error. */
static int render_template(struct es_out *o)
{
    char wildcard[LF_ES_INDEX_MAX + 1];
    lf_buf_reset(&o->ctl_body);
    if (!lf_es_index_wildcard(o->pattern, wildcard, sizeof(wildcard), o->prefixes[o->tmpl_at]))
        return LF_EINVAL;
    int prio = lf_es_template_priority(wildcard);
    /* ILM's policy is named by the template; OpenSearch's ISM finds its
     * indices by its own patterns and refuses the setting. */
    char policy[300];
    snprintf(policy, sizeof(policy), "logferry-%s", o->prefixes[o->tmpl_at]);
    if (lf_es_template_set_lifecycle(o->tmpl, o->retention && !o->srv.opensearch ? policy : NULL))
        return LF_ENOMEM;
    if (o->api == LF_ES_API_COMPOSABLE)
        return lf_es_template_write(o->tmpl, wildcard, prio, &o->ctl_body);
    return lf_es_template_write_legacy(
        o->tmpl, wildcard, prio, o->api == LF_ES_API_LEGACY_TYPED ? "_doc" : NULL, &o->ctl_body);
}

/* Given the answer to GET _index_template/logferry-<prefix>: whether to put
 * ours. A template marked as ours is updated when its fingerprint differs
 * (new grammars, a new version); one without the mark is the user's. */
static bool template_wanted(struct es_out *o, const struct lf_buf *answer)
{
    if (o->opt.template_overwrite)
        return true;
    if (render_template(o))
        return false;
    enum lf_es_tmpl_state st =
        lf_es_template_judge(o->api, answer->data, answer->len, o->ctl_body.data, o->ctl_body.len);
    if (st == LF_ES_TMPL_FOREIGN)
        lf_log(LF_LOG_INFO, "out_es",
               "index template logferry-%s is not logferry's: left alone (template_overwrite "
               "replaces it)",
               o->prefixes[o->tmpl_at]);
    return st == LF_ES_TMPL_STALE;
}

/* The current prefix's lifecycle policy is settled: on to its template. */
static void policy_done(struct es_out *o)
{
    o->ctl_fails = 0;
    o->policy_at = o->tmpl_at + 1;
    o->state = ES_TEMPLATE_GET;
    next_template(o);
}

/* As template_failed: passing trouble is retried, a refusal for good is
 * logged and the template goes without its policy. */
static void policy_failed(struct es_out *o, long status, const char *why)
{
    if (status == 401 || lf_es_http_verdict(status) == LF_ES_RETRY) {
        ctl_failed(o, why);
        return;
    }
    lf_log(LF_LOG_ERROR, "out_es",
           "%s; indices %s-* have no retention until it is installed (logferry setup)", why,
           o->prefixes[o->tmpl_at]);
    policy_done(o);
}

/* Writes our policy for the current prefix into ctl_body; 0 or an error. */
static int render_policy(struct es_out *o)
{
    char wildcard[LF_ES_INDEX_MAX + 1];
    lf_buf_reset(&o->ctl_body);
    if (!lf_es_index_wildcard(o->pattern, wildcard, sizeof(wildcard), o->prefixes[o->tmpl_at]))
        return LF_EINVAL;
    return lf_es_policy_body(&o->srv, o->retention, wildcard, &o->ctl_body);
}

/* The answer to a policy request, in ES_POLICY_GET or ES_POLICY_PUT. */
static void policy_answer(struct es_out *o, struct lf_http_req *req)
{
    char why[1024], detail[480], path[512];
    const char *prefix = o->prefixes[o->tmpl_at];
    if (o->state == ES_POLICY_GET && req->status == 200) {
        enum lf_es_policy_state st =
            render_policy(o)
                ? LF_ES_POLICY_FOREIGN
                : lf_es_policy_judge(&o->srv, prefix, req->response.data, req->response.len,
                                     o->ctl_body.data, o->ctl_body.len, &o->policy_seq_no,
                                     &o->policy_primary_term);
        if (st == LF_ES_POLICY_FOREIGN)
            lf_log(LF_LOG_INFO, "out_es",
                   "lifecycle policy logferry-%s is not logferry's: left alone", prefix);
        if (st != LF_ES_POLICY_STALE) {
            policy_done(o);
            return;
        }
        o->state = ES_POLICY_PUT;
        next_template(o);
        return;
    }
    if (o->state == ES_POLICY_GET && req->status == 404) {
        o->policy_seq_no = o->policy_primary_term = -1;
        o->state = ES_POLICY_PUT;
        next_template(o);
        return;
    }
    if (o->state == ES_POLICY_PUT && (req->status == 200 || req->status == 201)) {
        lf_log(LF_LOG_INFO, "out_es", "lifecycle policy logferry-%s installed (retention %s)",
               prefix, o->retention);
        policy_done(o);
        return;
    }
    describe_failure(&o->hosts[o->tmpl_host], req, detail, sizeof(detail));
    lf_es_policy_path(&o->srv, prefix, -1, -1, path, sizeof(path));
    snprintf(why, sizeof(why), "%s: %s %s %s", o->hosts[o->tmpl_host].shown,
             o->state == ES_POLICY_GET ? "GET" : "PUT", path + 1, detail);
    policy_failed(o, req->status, why);
}

static void on_ctl_done(struct lf_http_req *req, void *ctx)
{
    struct es_out *o = ctx;
    char why[1024];
    o->ctl_busy = false;
    if (req->status)
        o->answer_ms = mono_ms();
    const char *shown = o->hosts[o->tmpl_host].shown;
    char detail[480];
    if (req->status == 0) {
        /* That node is set aside (logged there); another one that is up
         * gets the request at once, else all wait for the backoff. */
        describe_failure(&o->hosts[o->tmpl_host], req, detail, sizeof(detail));
        host_failed(o, o->tmpl_host, detail);
        if (any_host_up(o, mono_ms()))
            o->ctl_retry_ms = 0;
        else
            ctl_failed(o, NULL);
    } else if (o->state == ES_DISCOVER) {
        json_error_t err;
        json_t *info =
            req->status == 200 ? json_loadb(req->response.data, req->response.len, 0, &err) : NULL;
        if (!info) {
            describe_failure(&o->hosts[o->tmpl_host], req, detail, sizeof(detail));
            snprintf(why, sizeof(why), "%s: GET / %s%s", shown, detail,
                     req->status == 200 ? " (not a cluster description)" : "");
            ctl_failed(o, why);
        } else if (!supported(o, info, req->product, why, sizeof(why))) {
            /* Refused loudly, retried slowly: the data waits in the spool. */
            o->refused = true;
            snprintf(o->refusal, sizeof(o->refusal), "%s is not supported", o->version);
            ctl_failed(o, NULL); /* said once, below, with the address */
            lf_log(LF_LOG_ERROR, "out_es", "%s: %s", shown, why);
        } else {
            lf_log(LF_LOG_INFO, "out_es", "%s: %s%s", shown, o->version,
                   o->api == LF_ES_API_COMPOSABLE ? ""
                   : o->api == LF_ES_API_LEGACY   ? " (legacy _template API)"
                                                  : " (legacy _template API, mapping type _doc)");
            o->ctl_fails = 0;
            o->refused = false;
            o->tmpl_at = 0;
            o->policy_at = 0;
            o->state = o->opt.templates ? ES_TEMPLATE_GET : ES_READY;
            if (o->state == ES_TEMPLATE_GET)
                next_template(o);
        }
        json_decref(info);
    } else if (o->state == ES_POLICY_GET || o->state == ES_POLICY_PUT) {
        policy_answer(o, req);
    } else if (o->state == ES_TEMPLATE_GET) {
        if (req->status == 200 && !template_wanted(o, &req->response)) {
            o->tmpl_at++; /* there already: current, or the user's to manage */
            next_template(o);
        } else if (req->status == 200 || req->status == 404) {
            o->state = ES_TEMPLATE_PUT;
            next_template(o);
        } else {
            describe_failure(&o->hosts[o->tmpl_host], req, detail, sizeof(detail));
            char path[512];
            template_path(o, path, sizeof(path));
            snprintf(why, sizeof(why), "%s: GET %s %s", shown, path + 1, detail);
            template_failed(o, req->status, why);
        }
    } else if (o->state == ES_TEMPLATE_PUT) {
        if (req->status == 200) {
            lf_log(LF_LOG_INFO, "out_es", "index template logferry-%s installed",
                   o->prefixes[o->tmpl_at]);
            o->tmpl_at++;
            o->state = ES_TEMPLATE_GET;
            next_template(o);
        } else {
            describe_failure(&o->hosts[o->tmpl_host], req, detail, sizeof(detail));
            char path[512];
            template_path(o, path, sizeof(path));
            snprintf(why, sizeof(why), "%s: PUT %s %s", shown, path + 1, detail);
            template_failed(o, req->status, why);
        }
    }
    lf_http_req_release(req);
}

/* Checks (or installs) the template of the next prefix, or is done. */
static void next_template(struct es_out *o)
{
    if (o->tmpl_at >= o->nprefixes) {
        o->state = ES_READY;
        return;
    }
    char path[512];
    if (o->retention && o->state == ES_TEMPLATE_GET && o->policy_at == o->tmpl_at)
        o->state = ES_POLICY_GET;
    if (o->state == ES_POLICY_GET || o->state == ES_POLICY_PUT) {
        bool put = o->state == ES_POLICY_PUT;
        if ((put && render_policy(o)) ||
            lf_es_policy_path(&o->srv, o->prefixes[o->tmpl_at], put ? o->policy_seq_no : -1,
                              o->policy_primary_term, path, sizeof(path))) {
            lf_log(LF_LOG_ERROR, "out_es", "no lifecycle policy for prefix %s: skipped",
                   o->prefixes[o->tmpl_at]);
            policy_done(o);
            return;
        }
        if (put)
            ctl_start(o, "PUT", path, o->ctl_body.data, o->ctl_body.len);
        else
            ctl_start(o, "GET", path, NULL, 0);
        return;
    }
    template_path(o, path, sizeof(path));
    if (o->state == ES_TEMPLATE_GET) {
        ctl_start(o, "GET", path, NULL, 0);
        return;
    }
    if (render_template(o)) {
        lf_log(LF_LOG_ERROR, "out_es", "no index template for prefix %s: skipped",
               o->prefixes[o->tmpl_at]);
        o->tmpl_at++;
        o->state = ES_TEMPLATE_GET;
        next_template(o);
        return;
    }
    ctl_start(o, "PUT", path, o->ctl_body.data, o->ctl_body.len);
}

/* ---- the spool ---------------------------------------------------------- */

_Static_assert(LF_SPOOL_DOC_ID_LEN == LF_DOC_ID_LEN, "spool record ids are document ids");

/* A document read back from the spool, as a job's document. */
static int spool_doc(struct es_out *o, const struct lf_spool_doc *sd, struct es_doc *d)
{
    int p = prefix_index(o, sd->prefix, sd->prefix_len);
    if (p < 0)
        return LF_ELIMIT;
    memset(d, 0, sizeof(*d));
    d->prefix = (uint16_t)p;
    d->ts_ms = sd->ts_ms;
    memcpy(d->id, sd->id, LF_DOC_ID_LEN);
    d->id[LF_DOC_ID_LEN] = '\0';
    d->len = (uint32_t)sd->len;
    d->from_spool = true;
    return 0;
}

static uint64_t spool_need(const struct lf_doc *d)
{
    return lf_spooler_need(strlen(d->index), d->len);
}

/* Whether the spool could ever take this document. */
static bool spoolable(const struct es_out *o, const struct lf_doc *d)
{
    return lf_spooler_fits(o->spool, strlen(d->index), d->len);
}

static bool spoolable_doc(const struct es_out *o, const struct es_doc *d)
{
    return lf_spooler_fits(o->spool, strlen(o->prefixes[d->prefix]), d->len);
}

/* Why documents go to the spool, for the line that says it starts. */
static const char *spool_why(const struct es_out *o)
{
    if (o->refused)
        return o->refusal[0] ? o->refusal : "the server is not supported";
    return o->down ? "Elasticsearch is unreachable" : "Elasticsearch is behind";
}

/*
 * Moves the documents of j that the inputs wait for into the spool and
 * acknowledges them there, so that the inputs' positions move on while the
 * cluster is away. What stays in j: spool records being retried, documents
 * the spool can never take, or everything when the spool is full (without
 * dropping) or failed. Returns true when nothing stayed (j is freed).
 */
static bool spill(struct es_out *o, struct es_job *j)
{
    if (!o->spool)
        return false;
    uint64_t need = 0;
    size_t moving = 0;
    for (size_t i = 0; i < j->n; i++) {
        const struct es_doc *d = &j->docs[i];
        if (!d->from_spool && spoolable_doc(o, d)) {
            need += lf_spooler_need(strlen(o->prefixes[d->prefix]), d->len);
            moving++;
        }
    }
    if (moving == 0 || !lf_spooler_room(o->spool, need, o->down))
        return false;
    int rc = 0;
    for (size_t i = 0; !rc && i < j->n; i++) {
        const struct es_doc *d = &j->docs[i];
        if (!d->from_spool && spoolable_doc(o, d))
            rc = lf_spooler_put(o->spool, o->prefixes[d->prefix], d->ts_ms, d->id,
                                j->data.data + d->off, d->len);
    }
    if (!rc)
        rc = lf_spooler_commit(o->spool, spool_why(o));
    if (rc)
        return false; /* what went in comes again later: its ids dedup */
    size_t kept = 0;
    for (size_t i = 0; i < j->n; i++) {
        const struct es_doc *d = &j->docs[i];
        if (d->from_spool || !spoolable_doc(o, d)) {
            j->docs[kept++] = *d;
            continue;
        }
        o->pending_docs--;
        o->mem_docs--;
        if (d->ack)
            d->ack->safe(d->ack, d->seq);
    }
    o->base.counters.spooled += moving;
    j->n = kept;
    if (kept == 0) {
        job_free(o, j);
        return true;
    }
    return false;
}

/* Spills every queued job (no host is up). */
static void spill_queued(struct es_out *o)
{
    struct es_job *ready = o->ready, *waiting = o->waiting;
    o->ready = o->ready_tail = NULL;
    o->waiting = NULL;
    while (ready) {
        struct es_job *next = ready->next;
        if (!spill(o, ready))
            push_ready(o, ready);
        ready = next;
    }
    while (waiting) {
        struct es_job *next = waiting->next;
        if (!spill(o, waiting)) {
            waiting->next = o->waiting;
            o->waiting = waiting;
        }
        waiting = next;
    }
}

/* The spool's log lines (drops, drained) and the dropped counter. */
static void log_drops(struct es_out *o, bool final)
{
    if (o->spool)
        o->base.counters.dropped = lf_spooler_tick(o->spool, final);
}

/* A host answered a bulk request after none did: jobs that were backing
 * off go now, and a full spool stops dropping. */
static void cluster_back(struct es_out *o)
{
    log_drops(o, true); /* what the outage cost, before the line that ends it */
    lf_log(LF_LOG_INFO, "out_es", "Elasticsearch accepts bulk requests again");
    set_down(o, false);
    int64_t now = mono_ms();
    for (struct es_job *j = o->waiting; j; j = j->next)
        j->not_before_ms = now;
}

/*
 * Copies the documents of b into a new job (all of them, or with `only_big`
 * those the spool cannot take); the job is not queued yet. Returns 0 with
 * *out set (NULL when no document was chosen), or LF_ELIMIT / LF_ENOMEM with
 * nothing kept.
 */
static int job_from_batch(struct es_out *o, const struct lf_batch *b, bool only_big,
                          struct es_job **out)
{
    *out = NULL;
    struct es_job *j = NULL;
    for (size_t i = 0; i < b->ndocs; i++) {
        const struct lf_doc *d = &b->docs[i];
        if (only_big && spoolable(o, d))
            continue;
        if (!j && (!(j = job_new(o)) || job_reserve(j, b->ndocs - i, b->buf.len - d->off))) {
            job_free(o, j);
            return LF_ENOMEM;
        }
        int p = prefix_index(o, d->index, strlen(d->index));
        struct es_doc doc = {.len = (uint32_t)d->len,
                             .prefix = (uint16_t)(p < 0 ? 0 : p),
                             .ts_ms = d->ts_ms,
                             .ack = d->ack,
                             .seq = d->seq};
        memcpy(doc.id, d->id, sizeof(doc.id));
        int rc = p < 0 ? LF_ELIMIT : job_add(o, j, &doc, b->buf.data + d->off);
        if (rc) {
            job_free(o, j);
            return rc;
        }
    }
    *out = j;
    return 0;
}

/*
 * The whole batch as a job that takes over the batch's buffer instead of
 * copying each document (the batch gets the spare buffer). Returns 0 with
 * *out set, or LF_ELIMIT / LF_ENOMEM with the batch as it was.
 */
static int job_take_batch(struct es_out *o, struct lf_batch *b, struct es_job **out)
{
    *out = NULL;
    struct es_job *j = job_new(o);
    if (!j || job_reserve(j, b->ndocs, 0)) {
        job_free(o, j);
        return LF_ENOMEM;
    }
    for (size_t i = 0; i < b->ndocs; i++) {
        const struct lf_doc *d = &b->docs[i];
        int p = prefix_index(o, d->index, strlen(d->index));
        if (p < 0) {
            job_free(o, j);
            return LF_ELIMIT;
        }
        struct es_doc *doc = &j->docs[i];
        *doc = (struct es_doc){.off = (uint32_t)d->off,
                               .len = (uint32_t)d->len,
                               .prefix = (uint16_t)p,
                               .ts_ms = d->ts_ms,
                               .ack = d->ack,
                               .seq = d->seq};
        memcpy(doc->id, d->id, sizeof(doc->id));
    }
    j->n = b->ndocs;
    size_t max = b->buf.max;
    lf_buf_free(&j->data); /* empty so far */
    j->data = b->buf;
    j->data.max = SIZE_MAX / 2;
    b->buf = o->spare;
    b->buf.max = max;
    lf_buf_reset(&b->buf);
    o->spare = (struct lf_buf){.max = 0};
    o->mem_bytes += j->data.len;
    o->pending_docs += j->n;
    o->mem_docs += j->n;
    *out = j;
    return 0;
}

/* Whether memory may take `bytes` more JSON (always when it holds none, so
 * that one large batch still moves). */
static bool memory_room(const struct es_out *o, size_t bytes)
{
    return o->mem_bytes + bytes <= o->opt.queue_max_bytes || o->mem_bytes == 0;
}

/* Queues the whole batch in memory; its inputs are acknowledged once
 * Elasticsearch has the documents. */
static int memory_batch(struct es_out *o, struct lf_batch *b)
{
    if (!memory_room(o, b->buf.len))
        return LF_ELIMIT;
    size_t bytes = b->buf.len;
    struct es_job *j;
    int rc = job_take_batch(o, b, &j);
    if (rc)
        return rc;
    o->base.counters.submitted += b->ndocs;
    o->base.counters.bytes += bytes;
    push_ready(o, j);
    return 0;
}

/*
 * Appends a batch to the spool; acknowledges its inputs once committed.
 *
 * The spool refuses for good a document larger than a record may be or than
 * the whole spool (spool.max_size): retrying would loop forever. Such a
 * document stays in memory instead, sent directly like any memory job, and
 * its input waits for Elasticsearch (a restart reads it again). A batch that
 * could not fit even in an empty spool goes to memory whole, for the same
 * reason. Memory stays bounded: without room the batch waits (LF_ELIMIT).
 */
static int spool_batch(struct es_out *o, struct lf_batch *b)
{
    uint64_t need = 0;
    size_t big_bytes = 0;
    for (size_t i = 0; i < b->ndocs; i++) {
        const struct lf_doc *d = &b->docs[i];
        if (spoolable(o, d))
            need += spool_need(d);
        else
            big_bytes += d->len;
    }
    if (need > lf_spooler_max(o->spool)) {
        if (!o->warned_spool_small)
            lf_log(LF_LOG_WARN, "out_es",
                   "a batch of %zu bytes cannot fit in a spool of %llu bytes: kept in memory "
                   "(make spool.max_size several times output.batch_max_bytes)",
                   b->buf.len, (unsigned long long)lf_spooler_max(o->spool));
        o->warned_spool_small = true;
        return memory_batch(o, b);
    }
    /* Unacknowledged bytes, not bytes on disk: acknowledged records in the
     * segment being written are reclaimed by the next append. */
    if (need && !lf_spooler_room(o->spool, need, o->down))
        return LF_ELIMIT;
    struct es_job *big = NULL;
    if (big_bytes && !memory_room(o, big_bytes))
        return LF_ELIMIT;
    int rc = big_bytes ? job_from_batch(o, b, true, &big) : 0;
    for (size_t i = 0; !rc && i < b->ndocs; i++) {
        const struct lf_doc *d = &b->docs[i];
        if (!spoolable(o, d))
            continue;
        rc = lf_spooler_put(o->spool, d->index, d->ts_ms, d->id, b->buf.data + d->off, d->len);
        /* What went in is sent anyway; the batch comes again (ids dedup). */
        if (rc == LF_EINVAL)
            rc = LF_EIO;
    }
    size_t spooled = b->ndocs - (big ? big->n : 0);
    if (!rc && spooled)
        rc = lf_spooler_commit(o->spool, spool_why(o));
    if (rc) {
        job_free(o, big);
        return rc;
    }
    o->base.counters.spooled += spooled;
    o->base.counters.submitted += b->ndocs;
    o->base.counters.bytes += b->buf.len;
    /* Safe on disk: the inputs may go on (acked is counted when
     * Elasticsearch takes them). */
    for (size_t i = 0; i < b->ndocs; i++) {
        const struct lf_doc *d = &b->docs[i];
        if (d->ack && spoolable(o, d))
            d->ack->safe(d->ack, d->seq);
    }
    for (size_t i = 0; big && i < big->n; i++)
        lf_log(LF_LOG_WARN, "out_es",
               "document %s (%u bytes) is larger than the spool takes (spool.max_size, %u MiB a "
               "record): kept in memory and sent directly",
               big->docs[i].id, big->docs[i].len, LF_SPOOL_MAX_RECORD >> 20);
    if (big)
        push_ready(o, big);
    return 0;
}

/* Builds a job from spooled records, up to a batch. */
static struct es_job *job_from_spool(struct es_out *o)
{
    struct es_job *j = NULL;
    size_t bytes = 0;
    while (bytes < o->opt.batch_bytes && (!j || j->n < o->opt.batch_docs)) {
        struct lf_spool_doc sd;
        struct es_doc d;
        uint64_t seq;
        if (lf_spooler_take(o->spool, &sd, &seq))
            break;
        if (spool_doc(o, &sd, &d)) {
            lf_log(LF_LOG_ERROR, "out_es",
                   "spool: more than %d index prefixes: document %.*s skipped", MAX_PREFIXES,
                   LF_DOC_ID_LEN, sd.id);
            lf_spooler_settle(o->spool, seq);
            continue;
        }
        d.seq = seq;
        if ((!j && !(j = job_new(o))) || job_add(o, j, &d, sd.json)) {
            /* Out of memory: read everything unsettled again later (what is
             * in flight comes again too: 409s, nothing lost). */
            lf_spooler_untake(o->spool);
            break;
        }
        bytes += sd.len;
    }
    if (j && j->n == 0) {
        job_free(o, j);
        j = NULL;
    }
    return j;
}

/* ---- the output interface ---------------------------------------------- */

/*
 * Whether Elasticsearch is behind: a bulk request out for more than
 * BEHIND_AFTER_MS, or documents backing off after a refusal. Then a full
 * memory queue spills new batches to the spool and the inputs go on. A
 * backlog that a healthy cluster takes at full speed is not behind: the
 * input waits for room (its file keeps the data; rotation cannot lose it)
 * instead of writing, syncing and reading back every document.
 */
static bool cluster_behind(const struct es_out *o, int64_t now)
{
    if (o->waiting)
        return true;
    for (const struct es_job *j = o->flying; j; j = j->next)
        if (now - j->sent_ms > BEHIND_AFTER_MS)
            return true;
    return false;
}

static int es_submit(struct lf_output *base, struct lf_batch *b)
{
    struct es_out *o = (struct es_out *)base;
    if (b->ndocs == 0)
        return 0;
    /* While Elasticsearch answers, new batches go through memory even when
     * the spool still drains: dispatch() takes from both in turn. */
    if (o->spool && (o->down || (!memory_room(o, b->buf.len) && cluster_behind(o, mono_ms()))))
        return spool_batch(o, b);
    return memory_batch(o, b);
}

/* Moves jobs whose backoff is over to the front, and starts what it can. */
static void dispatch(struct es_out *o)
{
    int64_t now = mono_ms();
    if (o->down && o->spool && o->mem_docs)
        spill_queued(o);
    if (o->state != ES_READY) {
        if (!o->ctl_busy && now >= o->ctl_retry_ms) {
            if (o->state == ES_DISCOVER)
                ctl_start(o, "GET", "/", NULL, 0);
            else
                next_template(o);
        }
        return;
    }
    for (struct es_job **pp = &o->waiting; *pp;) {
        struct es_job *j = *pp;
        if (j->not_before_ms <= now) {
            *pp = j->next;
            push_ready_front(o, j); /* retries go first: they are the oldest */
        } else {
            pp = &j->next;
        }
    }
    while (o->inflight < o->opt.max_in_flight && any_host_up(o, now)) {
        struct es_job *j = NULL;
        bool spool_next = o->spool && lf_spooler_readable(o->spool);
        if (spool_next && (o->spool_turn || !o->ready))
            j = job_from_spool(o);
        if (!j && (j = o->ready)) {
            o->ready = j->next;
            if (!o->ready)
                o->ready_tail = NULL;
        }
        if (!j)
            break;
        /* Memory and spool take turns, so that neither starves. */
        o->spool_turn = !o->spool_turn;
        send_job(o, j);
    }
}

static int es_poll(struct lf_output *base, int timeout_ms)
{
    struct es_out *o = (struct es_out *)base;
    dispatch(o);
    int rc = lf_http_poll(o->http, timeout_ms);
    dispatch(o);
    log_drops(o, false);
    lf_dead_letters_tick(o->dead, false);
    return rc;
}

static size_t es_pending(const struct lf_output *base)
{
    /* Spooled documents are safe already: only the others keep inputs waiting. */
    return ((const struct es_out *)base)->mem_docs;
}

static int es_fd(const struct lf_output *base)
{
    return lf_http_fd(((const struct es_out *)base)->http);
}

static int64_t es_deadline(const struct lf_output *base)
{
    const struct es_out *o = (const struct es_out *)base;
    int64_t d = lf_http_deadline(o->http);
    if (o->state != ES_READY && !o->ctl_busy && (d < 0 || o->ctl_retry_ms < d))
        d = o->ctl_retry_ms;
    for (const struct es_job *j = o->waiting; j; j = j->next)
        if (d < 0 || j->not_before_ms < d)
            d = j->not_before_ms;
    /* Work that waits only for a host: spool records still unread count,
     * those read and backing off in jobs have their own deadlines. */
    if (o->state == ES_READY && o->inflight < o->opt.max_in_flight &&
        (o->ready || (o->spool && lf_spooler_readable(o->spool)))) {
        int64_t now = mono_ms();
        int64_t up = now;
        if (!any_host_up(o, now)) {
            up = INT64_MAX;
            for (size_t i = 0; i < o->nhosts; i++)
                if (o->hosts[i].down_until_ms < up)
                    up = o->hosts[i].down_until_ms;
        }
        if (d < 0 || up < d)
            d = up;
    }
    return d;
}

static void free_jobs(struct es_out *o, struct es_job *j)
{
    while (j) {
        struct es_job *next = j->next;
        job_free(o, j);
        j = next;
    }
}

static void es_destroy(struct lf_output *base)
{
    struct es_out *o = (struct es_out *)base;
    /* In-flight jobs belong to their requests: cancel those first. */
    lf_http_destroy(o->http);
    o->http = NULL;
    free_jobs(o, o->flying); /* detached from their requests above */
    lf_dead_letters_close(o->dead);
    log_drops(o, true);
    free_jobs(o, o->ready);
    free_jobs(o, o->waiting);
    lf_http_req_release(&o->ctl);
    lf_buf_free(&o->ctl_body);
    lf_buf_free(&o->spare);
    libdeflate_free_compressor(o->deflater);
    lf_es_results_free(&o->results);
    lf_spooler_close(o->spool);
    lf_es_index_pattern_free(o->pattern);
    lf_es_template_destroy(o->tmpl);
    free(o->retention);
    for (size_t i = 0; i < o->nhosts; i++) {
        free(o->hosts[i].url);
        free(o->hosts[i].shown);
    }
    free(o->hosts);
    for (size_t i = 0; i < o->nprefixes; i++)
        free(o->prefixes[i]);
    free(o);
}

static void es_state(const struct lf_output *base, struct lf_output_state *st)
{
    const struct es_out *o = (const struct es_out *)base;
    st->available = !o->down && o->state == ES_READY;
    st->unavailable_since_ms = st->available ? 0 : o->down_since_ms;
    st->last_answer_ms = o->answer_ms;
    st->spool_bytes = o->spool ? lf_spooler_backlog_bytes(o->spool) : 0;
    st->spooling = st->spool_bytes > 0;
}

static const struct lf_output_ops es_ops = {
    .name = "elasticsearch",
    .submit = es_submit,
    .poll = es_poll,
    .pending = es_pending,
    .destroy = es_destroy,
    .fd = es_fd,
    .deadline = es_deadline,
    .state = es_state,
};

static int add_host(struct es_out *o, const char *url, char *errbuf, size_t errlen)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        snprintf(errbuf, errlen, "elasticsearch: host '%s' must start with http:// or https://",
                 url);
        return LF_EINVAL;
    }
    struct es_host *h = &o->hosts[o->nhosts];
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    char shown[1024];
    h->url = strndup(url, n);
    if (h->url)
        lf_http_redact(h->url, shown, sizeof(shown));
    h->shown = h->url ? strdup(shown) : NULL;
    if (!h->url || !h->shown) {
        free(h->url);
        snprintf(errbuf, errlen, "out of memory");
        return LF_ENOMEM;
    }
    o->nhosts++;
    return 0;
}

struct lf_output *lf_out_es_create(const struct lf_es_options *opt, struct lf_es_template *tmpl,
                                   char *errbuf, size_t errlen)
{
    struct es_out *o = calloc(1, sizeof(*o));
    if (!o) {
        lf_es_template_destroy(tmpl);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    o->down_since_ms = mono_ms(); /* unavailable until discovered */
    o->base.ops = &es_ops;
    o->opt = *opt;
    o->tmpl = tmpl;
    o->opt.retention = NULL; /* owned copy below */
    if (opt->retention && !(o->retention = strdup(opt->retention))) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    o->seed = (uint64_t)mono_ms() * 0x9E3779B97F4A7C15ull | 1;
    lf_buf_init(&o->ctl_body, 16u << 20);
    if (!o->opt.max_in_flight)
        o->opt.max_in_flight = 2;
    if (!o->opt.queue_max_bytes)
        o->opt.queue_max_bytes = 8u << 20;
    if (o->opt.backoff_min_ms <= 0)
        o->opt.backoff_min_ms = 100;
    if (o->opt.backoff_max_ms < o->opt.backoff_min_ms)
        o->opt.backoff_max_ms = 60000;
    if (!o->opt.batch_docs)
        o->opt.batch_docs = 2048;
    if (!o->opt.batch_bytes)
        o->opt.batch_bytes = 5u << 20;
    if (opt->nhosts == 0) {
        snprintf(errbuf, errlen, "elasticsearch: no hosts");
        goto fail;
    }
    if (!(o->hosts = calloc(opt->nhosts, sizeof(*o->hosts)))) {
        snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < opt->nhosts; i++)
        if (add_host(o, opt->hosts[i], errbuf, errlen))
            goto fail;
    char err[512];
    o->pattern = lf_es_index_pattern_compile(opt->index ? opt->index : "%{prefix}-%{+YYYY.MM.dd}",
                                             err, sizeof(err));
    if (!o->pattern) {
        snprintf(errbuf, errlen, "elasticsearch: index: %s", err);
        goto fail;
    }
    for (size_t i = 0; i < opt->nprefixes; i++)
        if (prefix_index(o, opt->prefixes[i], strlen(opt->prefixes[i])) < 0) {
            snprintf(errbuf, errlen, "elasticsearch: too many index prefixes");
            goto fail;
        }
    if (!(o->http = lf_http_create(&opt->http, errbuf, errlen)))
        goto fail;
    o->opt.http = (struct lf_http_options){0};
    if (opt->spool.dir &&
        !(o->spool = lf_spooler_open(&opt->spool, "out_es", "Elasticsearch", errbuf, errlen)))
        goto fail;
    if (!(o->dead = lf_dead_letters_open(opt->dead_letter_path, "out_es", "Elasticsearch", err,
                                         sizeof(err)))) {
        snprintf(errbuf, errlen, "elasticsearch: %s", err);
        goto fail;
    }
    o->state = ES_DISCOVER;
    return &o->base;
fail:
    es_destroy(&o->base);
    return NULL;
}
