/*
 * agent.c - the daemon's main loop: one thread waiting (epoll) on the inputs'
 * descriptors and deadlines and on signals (signalfd), running the inputs,
 * ticking the pipeline, and checkpointing positions after acknowledgements.
 *
 * SIGTERM/SIGINT: stop reading, send what is batched, wait (up to
 * agent.shutdown_timeout) for the output to acknowledge, persist positions,
 * exit 0. SIGHUP: read the config again; if it is valid, drain the same way
 * and rebuild inputs and output from it (positions live in the registry, so
 * they carry over); if not, log why and keep running as before.
 */
#define _POSIX_C_SOURCE 200809L
#include "agent.h"
#include "agent_config.h"
#include "agent_status.h"
#include "es_conf.h"
#include "input.h"
#include "lf_notify.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_INPUTS 256
#define ERRBUF 8192

struct agent {
    struct lf_agent_conf *conf;
    struct lf_output *out;
    struct lf_pipeline *pipeline;
    struct lf_parser **parsers; /* parallel to conf->grammars */
    struct lf_input *inputs[MAX_INPUTS];
    size_t ninputs;
    int epfd;
    int sigfd;
    int omprog;
    /* Counters of inputs and outputs that a SIGHUP replaced: the status
     * shows totals since the start. Inputs are matched by name. */
    struct carried {
        char name[64];
        struct lf_input_counters c;
    } carried[MAX_INPUTS];
    size_t ncarried;
    struct lf_output_counters carried_out;
    struct lf_agent_status *status; /* NULL: could not start */
};

static struct lf_input_counters input_total(const struct agent *a, const struct lf_input *in)
{
    struct lf_input_counters t = in->counters;
    for (size_t i = 0; i < a->ncarried; i++)
        if (strcmp(a->carried[i].name, in->name) == 0) {
            const struct lf_input_counters *c = &a->carried[i].c;
            t.read += c->read, t.parsed += c->parsed, t.unparsed += c->unparsed;
            t.emitted += c->emitted, t.acked += c->acked, t.truncated += c->truncated;
            t.errors += c->errors;
        }
    return t;
}

static struct lf_output_counters output_total(const struct agent *a)
{
    struct lf_output_counters t = a->out->counters;
    const struct lf_output_counters *c = &a->carried_out;
    t.submitted += c->submitted, t.acked += c->acked, t.failed += c->failed;
    t.bytes += c->bytes, t.retried += c->retried, t.spooled += c->spooled;
    t.dropped += c->dropped;
    return t;
}

/* Before a reload tears inputs and output down. */
static void carry_counters(struct agent *a)
{
    for (size_t i = 0; i < a->ninputs; i++) {
        const struct lf_input *in = a->inputs[i];
        struct lf_input_counters t = input_total(a, in);
        size_t k = 0;
        while (k < a->ncarried && strcmp(a->carried[k].name, in->name) != 0)
            k++;
        if (k == a->ncarried) {
            if (k == MAX_INPUTS)
                continue;
            snprintf(a->carried[k].name, sizeof(a->carried[k].name), "%s", in->name);
            a->ncarried++;
        }
        a->carried[k].c = t;
    }
    if (a->out)
        a->carried_out = output_total(a);
}

static void update_status(struct agent *a, int64_t now)
{
    if (!a->status || !a->out)
        return;
    struct lf_input_counters totals[MAX_INPUTS];
    for (size_t i = 0; i < a->ninputs; i++)
        totals[i] = input_total(a, a->inputs[i]);
    struct lf_output_counters out = output_total(a);
    struct lf_agent_view v = {.inputs = a->inputs,
                              .input_totals = totals,
                              .ninputs = a->ninputs,
                              .out = a->out,
                              .output_totals = &out,
                              .output_name = a->out->ops->name,
                              .output_pending = lf_output_pending(a->out),
                              .reading_waits = lf_pipeline_waiting(a->pipeline)};
    lf_agent_status_update(a->status, &v, now);
}

/* The index prefixes this configuration sends to: index templates, topics. */
static size_t index_prefixes(const struct agent *a, const char **out, size_t max)
{
    const struct lf_agent_conf *c = a->conf;
    size_t n = 0;
    if (a->omprog && n < max)
        out[n++] = c->omprog_index;
    if (!a->omprog && c->metrics_enabled && n < max)
        out[n++] = c->metrics_index;
    for (size_t i = 0; !a->omprog && i < c->nfiles && n < max; i++)
        out[n++] = c->files[i].index;
    if (!a->omprog && c->journald_enabled && n < max)
        out[n++] = c->journald_index;
    return n;
}

static struct lf_output *create_es_output(struct agent *a, char *err, size_t errlen)
{
    const struct lf_agent_conf *c = a->conf;
    const char *prefixes[258];
    const lf_grok **groks;
    const char **names;
    size_t ngroks;
    if (lf_parser_groks_of(a->parsers, c->grammars, c->ngrammars, &groks, &names, &ngroks)) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* rsyslog sends nothing new until the batch it handed over is safe: an
     * item retried in memory after a backoff would stall everything behind
     * it, the spool makes it safe at once (docs/OMPROG.md). */
    struct lf_es_conf es = c->es;
    es.spool_retries_at_once = a->omprog;
    struct lf_output *out = lf_es_conf_create_output(
        &es, "output.elasticsearch", prefixes,
        index_prefixes(a, prefixes, sizeof(prefixes) / sizeof(prefixes[0])), groks, names, ngroks,
        c->batch_max_docs, c->batch_max_bytes, err, errlen);
    free(groks);
    free(names);
    return out;
}

/* `host` is the agent's name (host.name of its events): the message key
 * under `key: host`. The known prefixes have their topic names checked. */
static struct lf_output *create_kafka_output(struct agent *a, char *err, size_t errlen)
{
    const struct lf_agent_conf *c = a->conf;
    const struct lf_kafka_conf *k = &c->kafka;
    const char *prefixes[258];
    struct lf_kafka_out_options o = {
        .brokers = (const char *const *)k->brokers,
        .nbrokers = k->nbrokers,
        .topic = k->topic,
        .key = (enum lf_kafka_key)k->key,
        .host = c->name,
        .compression = k->compression,
        .delivery_timeout_ms = (int64_t)k->delivery_timeout_ms,
        .queue_max_bytes = k->queue_max_bytes,
        .batch_docs = c->batch_max_docs,
        .batch_bytes = c->batch_max_bytes,
        .prop_names = (const char *const *)k->prop_names,
        .prop_values = (const char *const *)k->prop_values,
        .nprops = k->nprops,
        .dead_letter_path = k->dead_letter,
        .prefixes = prefixes,
        .nprefixes = index_prefixes(a, prefixes, sizeof(prefixes) / sizeof(prefixes[0])),
        .spool = {.dir = k->spool.enabled ? k->spool.dir : NULL,
                  .max_bytes = k->spool.max_bytes,
                  .fsync = (enum lf_spool_fsync)k->spool.fsync,
                  .full = (enum lf_spool_full)k->spool.full},
    };
    return lf_out_kafka_create(&o, err, errlen);
}

static struct lf_output *create_output(struct agent *a, char *err, size_t errlen)
{
    const struct lf_agent_conf *c = a->conf;
    switch (c->output_type) {
    case LF_OUTPUT_ELASTICSEARCH:
        return create_es_output(a, err, errlen);
    case LF_OUTPUT_KAFKA:
        return create_kafka_output(a, err, errlen);
    case LF_OUTPUT_STDOUT:
        return lf_out_stdout_create(STDOUT_FILENO, c->stdout_bulk, err, errlen);
    case LF_OUTPUT_FILE:
    default:
        return lf_out_file_create(c->file_dir, (enum lf_fsync_policy)c->file_fsync,
                                  c->file_local_dates, err, errlen);
    }
}

/* The parser of a grammar, compiled when an input first needs it: an agent
 * that only samples metrics carries no compiled patterns (and `logferry
 * check` compiles every grammar anyway). NULL with the reason in err. */
static struct lf_parser *parser_for(struct agent *a, const char *grammar, char *err, size_t errlen)
{
    for (size_t i = 0; i < a->conf->ngrammars; i++) {
        if (strcmp(a->conf->grammars[i].name, grammar) != 0)
            continue;
        if (!a->parsers[i])
            a->parsers[i] = lf_parser_create(&a->conf->grammars[i], a->conf->timezone, err, errlen);
        return a->parsers[i];
    }
    snprintf(err, errlen, "no grammar %s", grammar);
    return NULL;
}

static void teardown(struct agent *a)
{
    /* The output first: an output may still call the inputs' ack targets
     * while it shuts down, so the inputs must outlive it. */
    lf_pipeline_destroy(a->pipeline);
    a->pipeline = NULL;
    if (a->out && lf_output_fd(a->out) >= 0)
        epoll_ctl(a->epfd, EPOLL_CTL_DEL, lf_output_fd(a->out), NULL);
    lf_output_destroy(a->out);
    a->out = NULL;
    for (size_t i = 0; i < a->ninputs; i++) {
        int fd = a->inputs[i]->ops->fd(a->inputs[i]);
        if (fd >= 0)
            epoll_ctl(a->epfd, EPOLL_CTL_DEL, fd, NULL);
        a->inputs[i]->ops->destroy(a->inputs[i]);
    }
    a->ninputs = 0;
    if (a->parsers)
        for (size_t i = 0; i < a->conf->ngrammars; i++)
            lf_parser_destroy(a->parsers[i]);
    free(a->parsers);
    a->parsers = NULL;
}

static int add_input(struct agent *a, struct lf_input *in)
{
    if (a->ninputs == MAX_INPUTS) {
        in->ops->destroy(in);
        lf_log(LF_LOG_ERROR, "agent", "more than %d inputs", MAX_INPUTS);
        return LF_ELIMIT;
    }
    a->inputs[a->ninputs++] = in;
    int fd = in->ops->fd(in);
    if (fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            lf_log(LF_LOG_ERROR, "agent", "epoll: %s", strerror(errno));
            return LF_EIO;
        }
    }
    return 0;
}

/* Builds output, pipeline, parsers and inputs from a->conf. On failure
 * everything built is torn down again and the reason is logged. */
static int build_omprog(struct agent *a, char *err, size_t errlen)
{
    struct lf_parser *parser = parser_for(a, a->conf->omprog_grammar, err, errlen);
    if (!parser)
        return LF_EINVAL;
    struct lf_input *in = lf_input_omprog_create(a->conf, parser, a->pipeline, STDIN_FILENO,
                                                 STDOUT_FILENO, err, errlen);
    return in ? add_input(a, in) : LF_EINVAL;
}

static int build(struct agent *a)
{
    char err[ERRBUF];
    const struct lf_agent_conf *c = a->conf;
    if (a->omprog && c->output_type == LF_OUTPUT_STDOUT) {
        snprintf(err, sizeof(err),
                 "output type stdout cannot be used with --omprog: stdout carries rsyslog's "
                 "protocol");
        goto fail;
    }
    a->parsers = calloc(c->ngrammars ? c->ngrammars : 1, sizeof(*a->parsers));
    if (!a->parsers) {
        snprintf(err, sizeof(err), "out of memory");
        goto fail;
    }
    /* The grammars in use first: the output's index templates map their
     * typed fields. */
    if (a->omprog && !parser_for(a, c->omprog_grammar, err, sizeof(err)))
        goto fail;
    for (size_t i = 0; !a->omprog && i < c->nfiles; i++)
        if (!parser_for(a, c->files[i].grammar, err, sizeof(err)))
            goto fail;
    if (!a->omprog && c->journald_enabled && !parser_for(a, c->journald_grammar, err, sizeof(err)))
        goto fail;
    if (!(a->out = create_output(a, err, sizeof(err))))
        goto fail;
    a->pipeline = lf_pipeline_create(a->out, c->name, c->batch_max_docs, c->batch_max_bytes,
                                     (int64_t)c->batch_max_age_ms);
    if (!a->pipeline) {
        snprintf(err, sizeof(err), "out of memory");
        goto fail;
    }
    int ofd = lf_output_fd(a->out);
    struct epoll_event oev = {.events = EPOLLIN, .data.fd = ofd};
    if (ofd >= 0 && epoll_ctl(a->epfd, EPOLL_CTL_ADD, ofd, &oev) != 0) {
        snprintf(err, sizeof(err), "epoll: %s", strerror(errno));
        goto fail;
    }
    if (a->omprog) {
        if (build_omprog(a, err, sizeof(err)))
            goto fail;
        goto built;
    }
    if (c->metrics_enabled) {
        struct lf_input *in = lf_input_metrics_create(c, a->pipeline, err, sizeof(err));
        if (!in || add_input(a, in))
            goto fail;
    }
    for (size_t i = 0; i < c->nfiles; i++) {
        struct lf_parser *parser = parser_for(a, c->files[i].grammar, err, sizeof(err));
        struct lf_input *in =
            parser ? lf_input_files_create(c, i, parser, a->pipeline, err, sizeof(err)) : NULL;
        if (!in || add_input(a, in))
            goto fail;
    }
    if (c->journald_enabled) {
        struct lf_parser *parser = parser_for(a, c->journald_grammar, err, sizeof(err));
        struct lf_input *in =
            parser ? lf_input_journald_create(c, parser, a->pipeline, err, sizeof(err)) : NULL;
        if (!in || add_input(a, in))
            goto fail;
    }
built:
    lf_log(LF_LOG_INFO, "agent", "running as %s: %zu inputs, output %s", c->name, a->ninputs,
           a->out->ops->name);
    return 0;
fail:
    lf_log(LF_LOG_ERROR, "agent", "%s", err);
    teardown(a);
    return LF_EINVAL;
}

/* Events read from a source that tracks them (files, omprog) and not yet
 * safe: each is counted once, by its input, wherever it is (batch, output). */
static size_t unacknowledged(const struct agent *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->ninputs; i++)
        n += a->inputs[i]->ops->in_flight(a->inputs[i]);
    return n;
}

/* Whether anything is left to deliver, metrics included (they have no
 * source to be read again from). */
static bool delivering(const struct agent *a)
{
    return unacknowledged(a) || lf_pipeline_queued(a->pipeline) || lf_output_pending(a->out);
}

static void checkpoint(struct agent *a)
{
    for (size_t i = 0; i < a->ninputs; i++)
        a->inputs[i]->ops->checkpoint(a->inputs[i]);
}

/* Stops the inputs and waits, up to the shutdown timeout, until everything
 * read has been acknowledged; then persists positions. */
static void drain(struct agent *a)
{
    for (size_t i = 0; i < a->ninputs; i++)
        a->inputs[i]->ops->stop(a->inputs[i]);
    int64_t deadline = lf_now_mono_ms() + (int64_t)a->conf->shutdown_timeout_ms;
    for (;;) {
        lf_pipeline_flush(a->pipeline);
        lf_output_poll(a->out, 50);
        checkpoint(a);
        lf_notify_watchdog(lf_now_mono_ms()); /* a long drain is not a hang */
        if (!delivering(a))
            break;
        if (lf_now_mono_ms() >= deadline) {
            size_t left = unacknowledged(a), out = lf_output_pending(a->out);
            lf_log(LF_LOG_WARN, "agent",
                   "shutdown timeout: %zu events read and not acknowledged, they will be read "
                   "again at the next start; %zu documents left in the output",
                   left, out > left ? out : left);
            break;
        }
        struct timespec nap = {0, 20 * 1000000};
        nanosleep(&nap, NULL);
    }
    checkpoint(a);
}

static void log_counters(const struct agent *a)
{
    for (size_t i = 0; i < a->ninputs; i++) {
        const struct lf_input_counters total = input_total(a, a->inputs[i]);
        const struct lf_input_counters *c = &total;
        lf_log(LF_LOG_INFO, "agent",
               "input %s: read %llu parsed %llu unparsed %llu emitted %llu acked %llu "
               "truncated %llu errors %llu",
               a->inputs[i]->name, (unsigned long long)c->read, (unsigned long long)c->parsed,
               (unsigned long long)c->unparsed, (unsigned long long)c->emitted,
               (unsigned long long)c->acked, (unsigned long long)c->truncated,
               (unsigned long long)c->errors);
    }
    const struct lf_output_counters total = output_total(a);
    const struct lf_output_counters *o = &total;
    lf_log(LF_LOG_INFO, "agent",
           "output %s: submitted %llu acked %llu failed %llu retried %llu spooled %llu dropped "
           "%llu bytes %llu",
           a->out->ops->name, (unsigned long long)o->submitted, (unsigned long long)o->acked,
           (unsigned long long)o->failed, (unsigned long long)o->retried,
           (unsigned long long)o->spooled, (unsigned long long)o->dropped,
           (unsigned long long)o->bytes);
}

static void apply_log_level(const char *level)
{
    enum lf_log_level l;
    if (level && lf_log_parse_level(level, &l) == 0)
        lf_log_set_level(l);
}

static void reload(struct agent *a, const struct lf_agent_options *opt)
{
    char err[ERRBUF];
    unsigned nerr = 0;
    lf_log(LF_LOG_INFO, "agent", "SIGHUP: reading %s again", a->conf->path);
    struct lf_agent_conf *next = lf_agent_conf_load(opt->config_path, err, sizeof(err), &nerr);
    if (!next) {
        lf_log(LF_LOG_ERROR, "agent", "new configuration has %u problems, keeping the old one:\n%s",
               nerr, err);
        return;
    }
    drain(a);
    log_counters(a);
    carry_counters(a);
    teardown(a);
    struct lf_agent_conf *old = a->conf;
    a->conf = next;
    apply_log_level(opt->log_level ? opt->log_level : next->log_level);
    if (build(a) == 0) {
        lf_agent_conf_free(old);
        return;
    }
    lf_log(LF_LOG_ERROR, "agent", "new configuration does not start; back to the old one");
    a->conf = old;
    lf_agent_conf_free(next);
    if (build(a) != 0)
        lf_log(LF_LOG_ERROR, "agent", "the old configuration does not start either");
}

/* How long epoll may sleep: until the nearest deadline, at most a second. */
static int wait_ms(struct agent *a, int64_t now)
{
    int64_t next = now + 1000;
    int64_t t = lf_pipeline_tick_due(a->pipeline, now, false);
    if (t >= 0 && t < next)
        next = t;
    t = a->out ? lf_output_deadline(a->out) : -1;
    if (t >= 0 && t < next)
        next = t;
    t = a->status ? lf_agent_status_due(a->status) : -1;
    if (t >= 0 && t < next)
        next = t;
    for (size_t i = 0; i < a->ninputs; i++) {
        int64_t d = a->inputs[i]->ops->deadline(a->inputs[i]);
        if (d >= 0 && d < next)
            next = d;
    }
    t = lf_notify_watchdog_every_ms();
    if (t >= 0 && now + t < next)
        next = now + t;
    return next <= now ? 0 : (int)(next - now);
}

/* True when there are inputs and every one of them has ended for good. */
static bool all_finished(const struct agent *a)
{
    if (a->ninputs == 0)
        return false;
    for (size_t i = 0; i < a->ninputs; i++) {
        const struct lf_input *in = a->inputs[i];
        if (!in->ops->finished || !in->ops->finished(in))
            return false;
    }
    return true;
}

/* Returns 1 to stop, 0 to go on. */
static int handle_signal(struct agent *a, const struct lf_agent_options *opt)
{
    struct signalfd_siginfo si;
    while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            lf_notify_reloading();
            reload(a, opt);
            if (!a->pipeline)
                return 1;
            lf_notify_ready();
        } else {
            lf_log(LF_LOG_INFO, "agent", "%s: shutting down", strsignal((int)si.ssi_signo));
            return 1;
        }
    }
    return 0;
}

static int loop(struct agent *a, const struct lf_agent_options *opt)
{
    struct epoll_event events[32];
    for (;;) {
        int64_t now = lf_now_mono_ms();
        lf_notify_watchdog(now);
        int n = epoll_wait(a->epfd, events, 32, wait_ms(a, now));
        if (n < 0 && errno != EINTR) {
            lf_log(LF_LOG_ERROR, "agent", "epoll_wait: %s", strerror(errno));
            return LF_EIO;
        }
        bool out_ready = false;
        for (int i = 0; i < n; i++) {
            if (events[i].data.fd == a->sigfd && handle_signal(a, opt))
                return 0;
            if (a->out && events[i].data.fd == lf_output_fd(a->out))
                out_ready = true;
        }
        now = lf_now_mono_ms();
        for (size_t i = 0; i < a->ninputs; i++) {
            int rc = a->inputs[i]->ops->run(a->inputs[i], now);
            if (rc) {
                lf_log(LF_LOG_ERROR, "agent", "input %s failed: %s", a->inputs[i]->name,
                       lf_strerror(rc));
                return rc;
            }
        }
        now = lf_now_mono_ms();
        lf_pipeline_tick_due(a->pipeline, now, out_ready);
        checkpoint(a);
        update_status(a, now);
        if (all_finished(a))
            return 0;
    }
}

int lf_agent_run(const struct lf_agent_options *opt)
{
    char err[ERRBUF];
    unsigned nerr = 0;
    struct agent a = {.epfd = -1, .sigfd = -1, .omprog = opt->omprog};
    a.conf = lf_agent_conf_load(opt->config_path, err, sizeof(err), &nerr);
    if (!a.conf) {
        fprintf(stderr, "%s", err);
        fprintf(stderr, "logferry agent: %u problem%s in %s\n", nerr, nerr == 1 ? "" : "s",
                opt->config_path ? opt->config_path : "(defaults)");
        return 1;
    }
    apply_log_level(opt->log_level ? opt->log_level : a.conf->log_level);
    if (opt->omprog)
        lf_notify_forget();
    lf_malloc_keep_buffers();

    /* Before any thread (librdkafka's) starts: they inherit the mask. */
    a.sigfd = lf_signalfd_open();
    a.epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event sev = {.events = EPOLLIN, .data.fd = a.sigfd};
    int rc = 1;
    if (a.sigfd < 0 || a.epfd < 0 || epoll_ctl(a.epfd, EPOLL_CTL_ADD, a.sigfd, &sev) != 0) {
        lf_log(LF_LOG_ERROR, "agent", "signalfd/epoll: %s", strerror(errno));
    } else if (build(&a) == 0) {
        /* After signalfd: the listener's thread inherits the blocked mask. */
        a.status = lf_agent_status_create(a.conf->status_listen, a.conf->data_dir,
                                          a.conf->unhealthy_after_ms, err, sizeof(err));
        if (!a.status)
            lf_log(LF_LOG_WARN, "agent", "%s; running without it", err);
        lf_notify_ready();
        rc = loop(&a, opt) ? 1 : 0;
        lf_notify_stopping();
        if (a.pipeline) {
            drain(&a);
            log_counters(&a);
        }
        teardown(&a);
    }
    lf_agent_status_destroy(a.status);
    if (a.sigfd >= 0)
        close(a.sigfd);
    if (a.epfd >= 0)
        close(a.epfd);
    lf_agent_conf_free(a.conf);
    return rc;
}
