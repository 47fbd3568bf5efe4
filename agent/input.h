/*
 * input.h - what the agent's inputs (sampler, tailer, omprog) share: one ops
 * table the main loop drives, and the pipeline they hand events to. Private
 * to agent/.
 *
 * The main loop is one thread: it waits (epoll) on every input's descriptor
 * and deadline, calls run() on the inputs that are ready, and polls the
 * output, whose acknowledgements come back through struct lf_ack_target
 * callbacks on this same thread. Nothing here needs a lock.
 */
#ifndef LF_AGENT_INPUT_H
#define LF_AGENT_INPUT_H

#include "agent_config.h"
#include "grok.h"
#include "lf.h"
#include "parser.h"
#include "shipper.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- the pipeline ------------------------------------------------------ */

struct lf_pipeline;

/* What an input says about one event besides its fields. */
struct lf_emit {
    const char *index;   /* index prefix, e.g. "syslog" (outlives the batch) */
    const char *dataset; /* event.dataset unless the event has one; NULL: none */
    const char *source;  /* e.g. the file path; with position, makes the _id */
    /* NULL, or lf_doc_id_seed(host, source) made once by the input */
    const struct lf_doc_id_seed *id_seed;
    uint64_t position;         /* e.g. the line's offset */
    int64_t ts_ms;             /* event time; 0: the pipeline takes "now" */
    struct lf_ack_target *ack; /* NULL: nothing to acknowledge */
    uint64_t seq;
};

/*
 * Adds the fields every event has (@timestamp from ts_ms unless the event has
 * one, host.name, agent.type, agent.version, and event.dataset if missing)
 * and puts the event in the current batch. Returns 0, or LF_ELIMIT when the
 * pipeline cannot take more now (the output is behind): the input must keep
 * the event's source position unconsumed and try again on its next run().
 * LF_EINVAL: the event can never fit in a batch (logged); skip it.
 */
int lf_pipeline_emit(struct lf_pipeline *p, struct lf_event *ev, const struct lf_emit *meta);

/*
 * A pipeline feeding `out` (not owned) with batches closed at max_docs,
 * max_bytes or max_age_ms, whichever first. Returns NULL when out of memory.
 */
struct lf_pipeline *lf_pipeline_create(struct lf_output *out, const char *host, size_t max_docs,
                                       size_t max_bytes, int64_t max_age_ms);
/* The same with the default batch limits, for tests. */
struct lf_pipeline *lf_pipeline_create_for_test(struct lf_output *out, const char *host);
void lf_pipeline_destroy(struct lf_pipeline *p);
/* Sends the current batch now. Returns 0, or the output's error (the batch
 * is kept and sent again by a later flush or tick). */
int lf_pipeline_flush(struct lf_pipeline *p);
/* Sends the batch if it is old enough or a retry is due; polls the output.
 * Returns the monotonic ms of the next time it wants to be called, or -1. */
int64_t lf_pipeline_tick(struct lf_pipeline *p, int64_t now_mono_ms);
/* The same, but the output is polled only when it has something to do:
 * out_ready (its descriptor is readable), a deadline of its own is due, a
 * batch was submitted since the last poll, or a second went by. An output
 * without a descriptor or deadline is polled every time. */
int64_t lf_pipeline_tick_due(struct lf_pipeline *p, int64_t now_mono_ms, bool out_ready);
/* Documents in the current (unsent) batch. */
size_t lf_pipeline_queued(const struct lf_pipeline *p);
/* Whether the output refused the open batch (reading waits). */
bool lf_pipeline_waiting(const struct lf_pipeline *p);

/* The agent's host name (host.name), for ids and fields. */
const char *lf_pipeline_host(const struct lf_pipeline *p);

/* ---- inputs ------------------------------------------------------------ */

struct lf_input;

struct lf_input_file;
struct lf_input_path;
struct lf_input_journal;

struct lf_input_ops {
    const char *name;
    /* A descriptor to wait on for readability, or -1. */
    int (*fd)(struct lf_input *in);
    /* Monotonic ms at which run() wants to be called even without input
     * (a timer, a rescan, a partial line's wait), or -1 for none. */
    int64_t (*deadline)(struct lf_input *in);
    /* Reads what is ready and emits events, stopping on LF_ELIMIT from the
     * pipeline. Returns 0, or an error that stops the agent. */
    int (*run)(struct lf_input *in, int64_t now_mono_ms);
    /* Stops reading for good (shutdown); persists what is safe. Events in
     * flight may still be acknowledged after this. */
    void (*stop)(struct lf_input *in);
    /* Persists positions now (called after acknowledgements arrive; cheap if
     * nothing changed). Returns 0 or an error (logged). */
    int (*checkpoint)(struct lf_input *in);
    /* Events emitted and not yet acknowledged. */
    size_t (*in_flight)(const struct lf_input *in);
    /* Optional: true once the input has nothing more to read, ever (stdin
     * at end of file). When every input is finished the agent drains and
     * exits 0. */
    bool (*finished)(const struct lf_input *in);
    void (*destroy)(struct lf_input *in);
    /* Optional: the files it follows, for the status endpoint. Fills up to
     * max entries (paths borrowed until the next run) and returns how many
     * there are. */
    size_t (*files)(const struct lf_input *in, struct lf_input_file *out, size_t max);
    /* Optional: its path patterns that lead to no file, with the reason
     * that was logged (strings borrowed until the next run). Fills up to
     * max and returns how many there are. */
    size_t (*unmatched)(const struct lf_input *in, struct lf_input_path *out, size_t max);
    /* Optional: where a journal input stands, for the status endpoint
     * (strings borrowed until the next run). */
    bool (*journal)(const struct lf_input *in, struct lf_input_journal *out);
};

/* Where a journal input stands. */
struct lf_input_journal {
    const char *journal; /* its directory, or "system journal" */
    const char *cursor;  /* the saved cursor (every entry up to it is safe), or NULL */
    int64_t acked_ms;    /* journal time of that entry (0: none this run) */
    int64_t read_ms;     /* journal time of the last entry read (0: none yet) */
    size_t pending;      /* entries read and not yet safe */
};

/* A path pattern that leads to no file, and why. */
struct lf_input_path {
    const char *pattern;
    const char *why;
};

/* A followed file as the status endpoint shows it. */
struct lf_input_file {
    const char *path;
    uint64_t offset; /* where the next line starts */
    uint64_t size;   /* at the last look */
};

struct lf_input {
    const struct lf_input_ops *ops;
    const char *name; /* for logs: "metrics", "files[0]", "omprog" */
    struct lf_input_counters counters;
};

/* Constructors; each returns NULL with the reason in errbuf. */
struct lf_input *lf_input_metrics_create(const struct lf_agent_conf *conf, struct lf_pipeline *p,
                                         char *errbuf, size_t errlen);
struct lf_input *lf_input_files_create(const struct lf_agent_conf *conf, size_t index,
                                       struct lf_parser *parser, struct lf_pipeline *p,
                                       char *errbuf, size_t errlen);
/* rsyslog's omprog protocol: messages on in_fd, answers on out_fd. */
struct lf_input *lf_input_omprog_create(const struct lf_agent_conf *conf, struct lf_parser *parser,
                                        struct lf_pipeline *p, int in_fd, int out_fd, char *errbuf,
                                        size_t errlen);
/* The systemd journal (inputs.journald, in_journald.c); NULL with the
 * reason when it cannot be opened, or without libsystemd. */
struct lf_input *lf_input_journald_create(const struct lf_agent_conf *conf,
                                          struct lf_parser *parser, struct lf_pipeline *p,
                                          char *errbuf, size_t errlen);
/* For `logferry check --connect`: opens the journal inputs.journald names
 * and says, in one line into out, what it holds and whether the saved
 * cursor is in it. Returns 0, or LF_EIO/LF_EINVAL with the reason in out. */
int lf_input_journald_probe(const struct lf_agent_conf *conf, char *out, size_t outlen);
/* How long (ms) the omprog input waits for a message to be safe before it
 * answers rsyslog with an error line, so that rsyslog keeps and retries the
 * message (default 30 s). For tests and tuning. */
void lf_input_omprog_set_timeout(struct lf_input *in, int64_t ms);

#endif
