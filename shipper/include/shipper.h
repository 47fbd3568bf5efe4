/*
 * shipper.h - delivery: batches of serialized events, the output interface
 * every sink implements (file, stdout, Elasticsearch, Kafka), daily
 * index names and deterministic document ids.
 *
 * The flow: an input builds an event, writes its JSON into the current batch
 * with lf_batch_add(), naming an acknowledgement target and a sequence
 * number; the batch goes to the output with lf_output_submit(); later, from
 * lf_output_poll() or lf_output_flush() on the same thread, the output calls
 * each document's ack target once that document is safe (written and synced,
 * indexed, or confirmed by Kafka). Inputs advance their durable positions
 * only from those calls.
 */
#ifndef LF_SHIPPER_H
#define LF_SHIPPER_H

#include "lf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- settings shared by the outputs ----------------------------------- */

/* The on-disk spool (core/spool.c) of the Elasticsearch and Kafka outputs. */
enum lf_spool_fsync {
    LF_SPOOL_FSYNC_COMMIT, /* commit fsyncs the segments (and the directory) */
    LF_SPOOL_FSYNC_NEVER   /* commit only makes records readable; the OS writes them */
};

enum lf_spool_full {
    LF_SPOOL_FULL_BLOCK,      /* append says LF_ELIMIT until acknowledgements free room */
    LF_SPOOL_FULL_DROP_OLDEST /* append deletes the oldest segments, counting the loss */
};

struct lf_spool_options {
    const char *dir;        /* created (mode 0700, with missing parents) if missing */
    uint64_t max_bytes;     /* all segments together; 1 GiB when 0 */
    uint64_t segment_bytes; /* 16 MiB when 0; at most max_bytes / 4 (a larger record
                               gets a segment of its own) */
    enum lf_spool_fsync fsync;
    enum lf_spool_full full;
};

/* How to reach the servers; strings are copied. Secrets are never logged. */
struct lf_http_options {
    const char *ca_file;   /* NULL: the system's CA store */
    const char *cert_file; /* client certificate (PEM), optional */
    const char *key_file;
    bool verify;          /* certificate and host name checks (default on) */
    const char *username; /* basic auth, optional */
    const char *password;
    const char *api_key; /* "Authorization: ApiKey ...", optional */
    int64_t connect_timeout_ms;
    int64_t timeout_ms;       /* the whole request */
    size_t max_response;      /* bytes kept of an answer; more is an error */
    const char *extra_header; /* one more header line on every request ("kbn-xsrf: true") */
};

/* ---- acknowledgement targets ------------------------------------------- */

/*
 * Embedded in whatever owns positions (a tailed file, an omprog stream).
 * `safe` is called once per document when it is safe, with the sequence
 * number given to lf_batch_add(); `failed` (may be NULL) when the output has
 * given up on it for good (it went to a dead-letter file, say), which also
 * counts as done for the position. The owner must stay alive while it has
 * documents in flight.
 */
struct lf_ack_target {
    void (*safe)(struct lf_ack_target *t, uint64_t seq);
    void (*failed)(struct lf_ack_target *t, uint64_t seq);
};

/* ---- documents and batches --------------------------------------------- */

#define LF_DOC_ID_LEN 32

/* One serialized event. */
struct lf_doc {
    size_t off, len;   /* the JSON object, in the batch's buffer */
    const char *index; /* index prefix ("syslog"); must outlive the batch */
    int64_t ts_ms;     /* event time (ms since the epoch, UTC): the daily index */
    char id[LF_DOC_ID_LEN + 1];
    struct lf_ack_target *ack; /* NULL: nothing to acknowledge */
    uint64_t seq;
};

/* Documents waiting to be sent together; bounded by bytes and count. */
struct lf_batch {
    struct lf_buf buf;
    struct lf_doc *docs;
    size_t ndocs, cap;
    size_t max_docs;
    int64_t opened_ms; /* when the first document went in (monotonic) */
};

/* Returns NULL when out of memory. */
struct lf_batch *lf_batch_create(size_t max_bytes, size_t max_docs);
void lf_batch_destroy(struct lf_batch *b);
void lf_batch_clear(struct lf_batch *b);
/* Whether another document of about `len` bytes still fits. */
bool lf_batch_has_room(const struct lf_batch *b, size_t len);

/*
 * Writes `ev` as JSON into the batch as one document. Returns 0, LF_ELIMIT
 * when the batch is full (nothing added: send it and retry with an empty
 * one; an event larger than an empty batch is also LF_ELIMIT), or LF_ENOMEM.
 */
int lf_batch_add_event(struct lf_batch *b, struct lf_event *ev, const struct lf_doc *meta);
/* The same with a document already serialized: one JSON object on one line
 * (the caller has checked it, e.g. with lf_json_check_object). */
int lf_batch_add_json(struct lf_batch *b, const char *json, size_t len, const struct lf_doc *meta);

/* ---- the open batch in front of an output ------------------------------ */

struct lf_output;
struct lf_batcher;

/* Batches for `out` (not owned), closed at max_docs, max_bytes or
 * max_age_ms, whichever comes first (0: 2048 documents, 5 MiB, 1 s).
 * Returns NULL when out of memory. */
struct lf_batcher *lf_batcher_create(struct lf_output *out, size_t max_docs, size_t max_bytes,
                                     int64_t max_age_ms);
void lf_batcher_destroy(struct lf_batcher *b);
/* The open batch: add a document to it (lf_batch_add_event, _json), then
 * call lf_batcher_added. LF_ELIMIT from the add means it is full by count:
 * flush, then add again. */
struct lf_batch *lf_batcher_batch(struct lf_batcher *b);
/* After a document went in: starts the batch's age with its first
 * document, sends a full batch. Returns 0, or the output's refusal (the
 * batch is kept, the document with it). */
int lf_batcher_added(struct lf_batcher *b);
/* Sends the open batch now. Returns 0, or the output's refusal: the batch
 * is kept and offered again by lf_batcher_tick, backing off up to 1 s. */
int lf_batcher_flush(struct lf_batcher *b);
/* Whether the output refused the batch held now (callers stop reading). */
bool lf_batcher_refused(const struct lf_batcher *b);
/* Documents in the open batch. */
size_t lf_batcher_queued(const struct lf_batcher *b);
/* When the open batch is due (its age, or the retry of a refused one), or
 * -1 when empty; lf_batcher_tick sends it then and returns the next. */
int64_t lf_batcher_due(const struct lf_batcher *b);
int64_t lf_batcher_tick(struct lf_batcher *b, int64_t now_mono_ms);

/* ---- daily index names and document ids -------------------------------- */

/* Writes "<prefix>-YYYY.MM.dd" for the UTC (or, if local, local) date of
 * ts_ms into out; returns the length, or 0 if it does not fit. */
size_t lf_index_name(char *out, size_t outlen, const char *prefix, int64_t ts_ms, bool local);

/* A deterministic id from where an event came from: the same host, source
 * and position always give the same id, so a replayed event is recognised
 * by Elasticsearch ('create' answers 409). 32 hex digits of a 128-bit hash. */
void lf_doc_id(char out[LF_DOC_ID_LEN + 1], const char *host, const char *source,
               uint64_t position);

/* The same in two steps, for a source with many positions: the hash of
 * (host, source) once, then one id per position; gives lf_doc_id's ids. */
struct lf_doc_id_seed {
    uint64_t h[2];
};
void lf_doc_id_seed(struct lf_doc_id_seed *seed, const char *host, const char *source);
void lf_doc_id_at(char out[LF_DOC_ID_LEN + 1], const struct lf_doc_id_seed *seed,
                  uint64_t position);

/* ---- outputs ----------------------------------------------------------- */

struct lf_output;

struct lf_output_state;

/* What every sink implements; called from one thread only. */
struct lf_output_ops {
    const char *name;
    /* Takes the batch's documents (copying what it keeps, or taking the
     * batch's buffer and leaving it another: the caller clears the batch
     * afterwards). Returns 0, or LF_ELIMIT when the sink cannot take
     * more now (the caller keeps the batch and polls), or another error. */
    int (*submit)(struct lf_output *o, struct lf_batch *b);
    /* Does pending work for up to timeout_ms, acknowledging what became
     * safe. Returns 0 or an error (logged by the sink; it keeps retrying). */
    int (*poll)(struct lf_output *o, int timeout_ms);
    /* Documents submitted but not acknowledged yet. */
    size_t (*pending)(const struct lf_output *o);
    void (*destroy)(struct lf_output *o);
    /* Optional (NULL for sinks that finish within submit): a descriptor
     * that becomes readable when poll has work, and the monotonic time
     * (ms) by which poll must run, or -1. The owner's loop waits on both. */
    int (*fd)(const struct lf_output *o);
    int64_t (*deadline)(const struct lf_output *o);
    /* Optional: what the status endpoint shows (NULL: always available,
     * no spool). */
    void (*state)(const struct lf_output *o, struct lf_output_state *st);
};

/* An output's health, for the status endpoint. */
struct lf_output_state {
    bool available;               /* the server takes documents */
    int64_t unavailable_since_ms; /* monotonic; when it stopped (0: available) */
    int64_t last_answer_ms;       /* monotonic; the server's last answer (0: none) */
    bool spooling;                /* the spool holds documents not delivered */
    uint64_t spool_bytes;         /* their size on disk (an upper bound) */
};

struct lf_output_counters {
    uint64_t submitted; /* documents */
    uint64_t acked;
    uint64_t failed;
    uint64_t bytes;
    uint64_t retried; /* documents sent again (429, 5xx, failed requests) */
    uint64_t spooled; /* documents written to the spool */
    uint64_t dropped; /* spooled documents dropped unread (spool.when_full: drop_oldest) */
};

struct lf_output {
    const struct lf_output_ops *ops;
    struct lf_output_counters counters;
};

static inline int lf_output_submit(struct lf_output *o, struct lf_batch *b)
{
    return o->ops->submit(o, b);
}
static inline int lf_output_poll(struct lf_output *o, int timeout_ms)
{
    return o->ops->poll(o, timeout_ms);
}
static inline size_t lf_output_pending(const struct lf_output *o)
{
    return o->ops->pending(o);
}
static inline void lf_output_state(const struct lf_output *o, struct lf_output_state *st)
{
    *st = (struct lf_output_state){.available = true};
    if (o->ops->state)
        o->ops->state(o, st);
}
static inline void lf_output_destroy(struct lf_output *o)
{
    if (o)
        o->ops->destroy(o);
}

/* Calls every document's ack target (safe), counting them. */
void lf_output_ack_batch(struct lf_output *o, const struct lf_batch *b);

/* When a document file is synced to disk. */
enum lf_fsync_policy { LF_FSYNC_BATCH, LF_FSYNC_NEVER };

/*
 * The file sink: appends each document, in _bulk form (a "create" action
 * line with _index and _id, then the document), to
 * <dir>/<prefix>-YYYY.MM.dd.ndjson, so `curl --data-binary @file .../_bulk`
 * loads it. Acknowledges a batch once written (and synced, by default).
 * Returns NULL with the reason in errbuf.
 */
struct lf_output *lf_out_file_create(const char *dir, enum lf_fsync_policy fsync_policy,
                                     bool local_dates, char *errbuf, size_t errlen);

/* Whether a sink has a descriptor to wait on (-1 if not) and a deadline. */
static inline int lf_output_fd(const struct lf_output *o)
{
    return o->ops->fd ? o->ops->fd(o) : -1;
}
static inline int64_t lf_output_deadline(const struct lf_output *o)
{
    return o->ops->deadline ? o->ops->deadline(o) : -1;
}

/* The stdout sink, for debugging: one document per line; or, with `bulk`,
 * the same _bulk form as the file sink. Acknowledges once written. */
struct lf_output *lf_out_stdout_create(int fd, bool bulk, char *errbuf, size_t errlen);

/* ---- Elasticsearch ------------------------------------------------------ */

struct lf_es_template;

/* The Elasticsearch output's settings. Strings are borrowed for the
 * output's lifetime (they live in the configuration). */
struct lf_es_options {
    const char *const *hosts; /* base URLs: http(s)://host:port[/path] */
    size_t nhosts;
    const char *index; /* pattern; NULL: "%{prefix}-%{+YYYY.MM.dd}" */
    bool local_dates;
    bool gzip;
    size_t max_in_flight;           /* bulk requests at once; 2 when 0 */
    size_t queue_max_bytes;         /* JSON held in memory; 16 MiB when 0 */
    size_t batch_docs, batch_bytes; /* for jobs read back from the spool */
    int64_t backoff_min_ms, backoff_max_ms;
    const char *dead_letter_path; /* NULL: refused documents are only logged */
    bool templates;               /* install index templates */
    bool template_overwrite;      /* ... even over one that is there */
    const char *retention;        /* lifecycle policy per prefix ("30d"); NULL: none */
    const char *const *prefixes;  /* index prefixes known at start (templates) */
    size_t nprefixes;
    struct lf_http_options http;
    struct lf_spool_options spool; /* spool.dir NULL: no spool (inputs wait) */
    /* Items to retry (429, 5xx) go to the spool at once instead of waiting
     * a backoff or two in memory: for an input that sends nothing new until
     * everything it handed over is safe (rsyslog's omprog transactions),
     * where a retry in memory stalls the whole stream. */
    bool spool_retries_at_once;
};

/*
 * The Elasticsearch output (out_es.c): bulk `create` into daily indices,
 * per-item verdicts, retries with backoff, dead letters, the spool. Takes
 * ownership of tmpl (the template body builder; NULL is allowed when
 * templates are off). Returns NULL with the reason in errbuf; nothing is
 * sent before lf_output_poll.
 */
struct lf_output *lf_out_es_create(const struct lf_es_options *o, struct lf_es_template *tmpl,
                                   char *errbuf, size_t errlen);

/* ---- Kafka -------------------------------------------------------------- */

/* What the message key is (docs/KAFKA.md). */
enum lf_kafka_key {
    LF_KAFKA_KEY_HOST, /* the agent's name: one server's events stay in one partition */
    LF_KAFKA_KEY_ID,   /* the document id: events spread over the partitions */
    LF_KAFKA_KEY_NONE  /* no key: librdkafka's partitioner spreads them */
};

/* The Kafka output's settings. Strings are borrowed for the output's
 * lifetime (they live in the configuration). */
struct lf_kafka_out_options {
    const char *const *brokers; /* host:port, joined into bootstrap.servers */
    size_t nbrokers;
    const char *topic; /* pattern, %{prefix} is the index prefix; NULL: "logferry" */
    enum lf_kafka_key key;
    const char *host;               /* the key under LF_KAFKA_KEY_HOST (host.name) */
    const char *compression;        /* lz4, zstd, gzip, snappy, none; NULL: lz4 */
    int64_t delivery_timeout_ms;    /* message.timeout.ms; 30 s when 0 */
    size_t queue_max_bytes;         /* JSON in flight; 16 MiB when 0 */
    size_t batch_docs, batch_bytes; /* spool records produced per round */
    const char *const *prop_names;  /* librdkafka properties, set after ours */
    const char *const *prop_values;
    size_t nprops;
    const char *dead_letter_path; /* NULL: refused documents are only logged */
    const char *const *prefixes;  /* index prefixes known at start: topic names checked */
    size_t nprefixes;
    struct lf_spool_options spool; /* spool.dir NULL: no spool (inputs wait) */
};

/*
 * The Kafka output (out_kafka.c): an idempotent librdkafka producer (acks=all)
 * whose delivery reports acknowledge the documents; failed deliveries go to
 * the spool (or are produced again), refusals for good to the dead-letter
 * file. Returns NULL with the reason in errbuf (never a property's value).
 * Nothing is sent before lf_output_submit; the spool from an earlier run is
 * replayed from lf_output_poll.
 */
struct lf_output *lf_out_kafka_create(const struct lf_kafka_out_options *o, char *errbuf,
                                      size_t errlen);

/* The longest Kafka topic name. */
#define LF_KAFKA_TOPIC_MAX 249

/* Writes the topic of an index prefix into out: `pattern` (NULL: "logferry")
 * with every %{prefix} replaced. Returns its length, or 0 when it does not fit
 * in outlen or is not a valid topic name (1 to LF_KAFKA_TOPIC_MAX of letters,
 * digits, '.', '_' and '-'; not "." or ".."). */
size_t lf_kafka_topic_name(char *out, size_t outlen, const char *pattern, const char *prefix);

#endif
