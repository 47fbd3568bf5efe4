/*
 * in_omprog.c - `logferry agent --omprog`: the program rsyslog's omprog action
 * runs. Messages come one per line on stdin; with confirmMessages="on" every
 * line read is answered on stdout, in order. docs/OMPROG.md has the whole
 * story and the measurements; in short:
 *
 * The protocol (rsyslog plugins/omprog/omprog.c, seen with rsyslogd 8.2302):
 *
 *   - "OK" once at startup: ready for messages.
 *   - a message outside a transaction: "OK" once its event is safe
 *     (acknowledged by the output: indexed, or fsync'ed in the spool or the
 *     output file); any other line ("Error: ...") makes rsyslog keep it and
 *     send it again after action.resumeInterval. Leading dots are keep-alive:
 *     rsyslog skips them and restarts its confirmTimeout on each read.
 *   - useTransactions="on": "BEGIN TRANSACTION" is answered "OK"; a message
 *     inside is answered "DEFER_COMMIT" at once, after its line is journaled
 *     (omprog_journal.c); "COMMIT TRANSACTION" is answered "OK" once every
 *     message of the transaction is safe, so one batch, one _bulk. If COMMIT
 *     is not answered OK (an error line, or the agent dies after reading
 *     it), rsyslog sends every message of the transaction again, each in a
 *     transaction of its own. If the agent dies before COMMIT is sent,
 *     rsyslog does not send again what was answered DEFER_COMMIT (rsyslog
 *     issue #2420): the journal has those lines and the next instance ships
 *     them. Without a journal (data_dir not writable), DEFER_COMMIT waits
 *     until the event is safe, as OK does.
 *   - end of file: rsyslog is done with this instance; everything read is
 *     answered as it becomes safe, then finished() says so and the agent
 *     exits 0.
 *
 * Never silent: whatever the output does, the message rsyslog waits for is
 * answered within timeout_ms (inputs.omprog.answer_timeout, 30 s by
 * default): "OK" once safe, else an error line, after which the agent
 * forgets it (rsyslog sends it again; its event, if the output still
 * delivers it, has the same _id as the copy). Until then a dot goes out
 * every KEEPALIVE_MS. Lines are kept in a queue that grows as needed and
 * from which an entry leaves as soon as it is answered (a transaction's
 * messages: when its COMMIT is), so one stuck event never stops reading,
 * and end of input is always seen.
 *
 * rsyslog sends the next line only after the answer to the previous one, so
 * the pipeline's batch is sent as soon as rsyslog waits for something that
 * needs the output (a message outside a transaction, a COMMIT); inside a
 * transaction it fills up to the COMMIT. Lines that arrive without waiting
 * (no confirmMessages) are read ahead and answered in order.
 *
 * Document ids: rsyslog may send a message again (after an error answer, a
 * restart of this program, a crash with a disk-assisted queue), and the copy
 * must get the same _id so that Elasticsearch keeps one. Nothing in the
 * stream numbers messages stably, so the id is made from the line bytes
 * alone: source "omprog:<64-bit hash>", position another 64-bit hash of the
 * same bytes. Two genuinely identical lines therefore become one document;
 * the shipped template includes timegenerated with microseconds, which tells
 * apart all but messages received in the same microsecond with the same text.
 */
#define _POSIX_C_SOURCE 200809L
#include "grok.h"
#include "omprog_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 30000
#define KEEPALIVE_MS 2000
/* rsyslog reads an answer into a 4 KiB line: more dots than that before the
 * answer and it restarts the program. The timeout keeps well below. */
#define MAX_TIMEOUT_MS ((int64_t)KEEPALIVE_MS * 2000)
/* Lines read and not yet answered at most: only read-ahead (no
 * confirmMessages) gets near; every entry leaves when it is answered. */
#define MAX_ENTRIES ((size_t)1 << 20)
#define INITIAL_ENTRIES 64
/* Lines handled per run(), so that signals and acknowledgements get a turn. */
#define MAX_LINES_PER_RUN 1024
/* While the pipeline refuses events, how often run() tries again. */
#define HOLD_RETRY_MS 50
/* At most one warning about timed-out messages per this interval. */
#define WARN_INTERVAL_MS 10000
/* Sequence numbers of replayed lines: apart from the entries'. */
#define REPLAY_SEQ ((uint64_t)1 << 63)

#define BEGIN_MARK "BEGIN TRANSACTION"
#define COMMIT_MARK "COMMIT TRANSACTION"
#define DATASET "system.syslog"
#define ERROR_ANSWER "Error: logferry output not ready; please retry later"

enum entry_kind { ENTRY_MESSAGE, ENTRY_BEGIN, ENTRY_COMMIT };

/* One line read, in the order read; its seq is first_seq + its offset. */
struct entry {
    uint8_t kind;
    bool in_txn;    /* a message inside a transaction */
    bool emitted;   /* handed to the pipeline: the output will call back */
    bool done;      /* its event is safe or failed for good, or it has none */
    bool journal;   /* journaled: DEFER_COMMIT may go before it is safe */
    bool doomed;    /* its transaction cannot commit (journal full) */
    bool forgotten; /* answered with an error: rsyslog sends it again */
    int64_t since;  /* monotonic ms it was read */
};

struct omprog_input {
    struct lf_input base;
    struct lf_ack_target ack;
    struct lf_pipeline *pipeline;
    struct lf_omprog_props props;
    const char *index;
    int in_fd, out_fd;
    int in_flags; /* in_fd's flags before O_NONBLOCK, restored at the end */
    struct lf_line_reader reader;
    bool reader_live;

    /* Lines read: [head, head+count) of the ring q; the first `answered`
     * have had their answer written. */
    struct entry *q;
    size_t cap, head, count, answered;
    uint64_t first_seq;
    size_t in_flight;   /* entries emitted, not done and not forgotten */
    bool answer_doomed; /* the transaction being answered cannot commit */
    bool in_txn;        /* reading inside a transaction */
    bool holding;       /* the last entry's line waits for the pipeline */
    const char *held;
    size_t held_len;
    bool held_cut;

    struct lf_omprog_journal *journal; /* NULL: DEFER_COMMIT only once safe */
    uint64_t replay_next;              /* replayed lines emitted */
    size_t replay_pending;             /* emitted, not yet safe */
    bool replay_holding;               /* the current replay line waits */
    const char *replay_line;
    size_t replay_len;
    bool replay_cut;

    bool eof, stopped, peer_gone;
    int64_t timeout_ms;
    int64_t last_write_ms; /* last answer or keep-alive dot */
    int64_t warned_ms;     /* last warning about timed-out messages */
    uint64_t timeouts;     /* timed out since that warning */

    struct lf_event ev;
    struct lf_buf out; /* answers being written */
};

/* ---- the queue of lines ------------------------------------------------ */

static struct entry *entry_at(struct omprog_input *o, size_t off)
{
    return &o->q[(o->head + off) & (o->cap - 1)];
}

/* Room for one more entry: false at MAX_ENTRIES or without memory. */
static bool make_room(struct omprog_input *o)
{
    if (o->count < o->cap)
        return true;
    if (o->cap >= MAX_ENTRIES)
        return false;
    struct entry *q = malloc(o->cap * 2 * sizeof(*q));
    if (!q)
        return false;
    for (size_t i = 0; i < o->count; i++)
        q[i] = *entry_at(o, i);
    free(o->q);
    o->q = q;
    o->head = 0;
    o->cap *= 2;
    return true;
}

/* Drops the first entry: answered, and done or forgotten. A late callback
 * for its event then falls before first_seq and is ignored. */
static void pop_entry(struct omprog_input *o)
{
    struct entry *e = entry_at(o, 0);
    if (e->emitted && !e->done)
        o->in_flight--;
    o->head = (o->head + 1) & (o->cap - 1);
    o->count--;
    o->answered--;
    o->first_seq++;
}

static void mark_done(struct omprog_input *o, uint64_t seq, bool ok)
{
    if (seq & REPLAY_SEQ) {
        if (o->replay_pending == 0)
            return;
        o->replay_pending--;
        o->in_flight--;
    } else {
        if (seq < o->first_seq || seq >= o->first_seq + o->count)
            return; /* forgotten, or not ours */
        struct entry *e = entry_at(o, (size_t)(seq - o->first_seq));
        if (e->done || !e->emitted)
            return;
        e->done = true;
        o->in_flight--;
    }
    if (ok)
        o->base.counters.acked++;
    else
        o->base.counters.errors++;
}

static struct omprog_input *input_of(struct lf_ack_target *t)
{
    return (struct omprog_input *)((char *)t - offsetof(struct omprog_input, ack));
}

static void on_safe(struct lf_ack_target *t, uint64_t seq)
{
    mark_done(input_of(t), seq, true);
}

/* The output gave up on the event for good (a dead-letter file has it):
 * rsyslog sending it again would not help, so it is answered OK too. */
static void on_failed(struct lf_ack_target *t, uint64_t seq)
{
    mark_done(input_of(t), seq, false);
}

/* ---- answers ------------------------------------------------------------ */

static void send_out(struct omprog_input *o, int64_t now)
{
    if (o->out.len == 0)
        return;
    if (!o->peer_gone && lf_write_all(o->out_fd, o->out.data, o->out.len) != 0) {
        lf_log(LF_LOG_WARN, "omprog", "cannot answer rsyslog (%s); finishing",
               errno == EPIPE ? "it closed the pipe" : strerror(errno));
        o->peer_gone = true;
    }
    o->last_write_ms = now;
    lf_buf_reset(&o->out);
}

/* Adds one answer line. Should memory run out, what is queued is written
 * first: an answer that went missing would shift every later one onto the
 * wrong message. */
static void queue_answer(struct omprog_input *o, const char *text)
{
    size_t n = strlen(text);
    if (lf_buf_grow(&o->out, n + 1) != 0)
        send_out(o, lf_now_mono_ms());
    if (lf_buf_append(&o->out, text, n) || lf_buf_putc(&o->out, '\n')) {
        o->out.len = 0;
        if (!o->peer_gone && (lf_write_all(o->out_fd, text, n) || lf_write_all(o->out_fd, "\n", 1)))
            o->peer_gone = true;
    }
}

static void warn_timeout(struct omprog_input *o, int64_t now, const char *what)
{
    o->timeouts++;
    o->base.counters.errors++;
    if (now - o->warned_ms < WARN_INTERVAL_MS)
        return;
    lf_log(LF_LOG_WARN, "omprog",
           "%llu %s not safe after %lld ms; rsyslog is told to send them again",
           (unsigned long long)o->timeouts, what, (long long)o->timeout_ms);
    o->timeouts = 0;
    o->warned_ms = now;
}

/* Drops the held line: rsyslog was told to send it again, or its
 * transaction fails. */
static void drop_held(struct omprog_input *o, struct entry *e)
{
    o->holding = false;
    e->done = true;
}

/*
 * The answer due for the first unanswered entry e, or NULL if it must wait
 * (for its event, or for the transaction's). Forgets what an error answer
 * gives up.
 */
static const char *answer_for(struct omprog_input *o, struct entry *e, int64_t now)
{
    bool late = now - e->since >= o->timeout_ms;
    switch (e->kind) {
    case ENTRY_BEGIN:
        o->answer_doomed = false;
        return "OK";
    case ENTRY_COMMIT:
        if (o->answer_doomed) {
            o->base.counters.errors++;
            return "Error: logferry could not keep this transaction; please send it again";
        }
        /* Every message before it is done (each done one left the queue),
         * and so is what an earlier instance left to replay. */
        if (o->answered == 0 && o->replay_pending == 0 && !o->replay_holding &&
            lf_omprog_journal_replay_size(o->journal) == 0)
            return "OK";
        if (!late)
            return NULL;
        warn_timeout(o, now, "transactions");
        return ERROR_ANSWER;
    default:
        break;
    }
    if (e->doomed)
        o->answer_doomed = true;
    if (e->done && !e->emitted)
        return e->in_txn ? "DEFER_COMMIT" : "OK"; /* never shippable: skipped */
    if (e->in_txn && (e->journal || e->doomed))
        return "DEFER_COMMIT";
    if (e->done)
        return e->in_txn ? "DEFER_COMMIT" : "OK";
    if (!late)
        return NULL;
    if (e->in_txn && !e->emitted && o->journal) {
        /* Held this long inside a transaction: DEFER_COMMIT and fail the
         * COMMIT, so that rsyslog sends the whole transaction again. */
        drop_held(o, e);
        o->answer_doomed = true;
        warn_timeout(o, now, "messages");
        return "DEFER_COMMIT";
    }
    warn_timeout(o, now, "messages");
    if (!e->emitted)
        drop_held(o, e);
    return ERROR_ANSWER;
}

/*
 * Writes, in order, the answers that are due; then, if rsyslog still waits
 * for one, a keep-alive dot every KEEPALIVE_MS. Entries leave the queue as
 * they are answered, a transaction's messages when its COMMIT is.
 */
static void pop_finished(struct omprog_input *o)
{
    while (o->answered > 0) {
        struct entry *h = entry_at(o, 0);
        if (h->kind == ENTRY_MESSAGE && h->in_txn && !h->done && !h->forgotten)
            break; /* waits for its COMMIT */
        pop_entry(o);
    }
}

static void answer_ready(struct omprog_input *o, int64_t now)
{
    pop_finished(o);
    while (o->answered < o->count) {
        struct entry *e = entry_at(o, o->answered);
        const char *a = answer_for(o, e, now);
        if (!a)
            break;
        queue_answer(o, a);
        o->answered++;
        if (strncmp(a, "Error", 5) == 0)
            e->forgotten = true;
        if (e->kind == ENTRY_COMMIT) {
            /* Committed, or rsyslog sends it all again: either way the
             * transaction is no longer the agent's to keep. */
            while (o->answered > 0)
                pop_entry(o);
            if (o->count == 0)
                lf_omprog_journal_clear(o->journal);
        }
        pop_finished(o);
    }
    if (o->out.len == 0 && o->answered < o->count && now - o->last_write_ms >= KEEPALIVE_MS &&
        now - entry_at(o, o->answered)->since >= KEEPALIVE_MS)
        lf_buf_putc(&o->out, '.');
    send_out(o, now);
}

/* Whether rsyslog waits for an answer that needs the output: then the
 * batch goes now, as waiting for a fuller one would wait for nothing. */
static bool waits_for_output(struct omprog_input *o)
{
    if (o->answered >= o->count)
        return false;
    const struct entry *e = entry_at(o, o->answered);
    return e->kind == ENTRY_COMMIT || (e->kind == ENTRY_MESSAGE && e->emitted && !e->journal);
}

/* ---- reading ----------------------------------------------------------- */

/* Parses one line into o->ev and emits it. Returns 0, LF_ELIMIT (the
 * pipeline is full: try again later), LF_EINVAL (it can never be sent:
 * logged) or LF_ENOMEM. */
static int emit_line(struct omprog_input *o, const char *line, size_t len, bool cut, uint64_t seq)
{
    int64_t ts = 0;
    int rc = lf_omprog_props_parse(&o->props, line, len, cut, &ts);
    if (rc == LF_ELIMIT)
        rc = LF_EINVAL; /* too many fields: that will not change */
    if (rc)
        return rc;
    uint64_t h1, h2;
    lf_omprog_hash_line(line, len, &h1, &h2);
    char source[32];
    snprintf(source, sizeof(source), "omprog:%016llx", (unsigned long long)h1);
    struct lf_emit meta = {.index = o->index,
                           .dataset = DATASET,
                           .source = source,
                           .position = h2,
                           .ts_ms = ts,
                           .ack = &o->ack,
                           .seq = seq};
    return lf_pipeline_emit(o->pipeline, &o->ev, &meta);
}

/* Emits the held line (the last entry's). Returns 0 (emitted, or skipped
 * because it can never be sent), LF_ELIMIT (keep holding) or LF_ENOMEM. */
static int emit_held(struct omprog_input *o)
{
    /* A line held and parsed again is counted once. */
    struct lf_input_counters before = o->base.counters;
    struct entry *e = entry_at(o, o->count - 1);
    /* The output may acknowledge it before emit returns (the file output
     * writes as the batch is sent): it must count as in flight already. */
    e->emitted = true;
    o->in_flight++;
    int rc = emit_line(o, o->held, o->held_len, o->held_cut, o->first_seq + o->count - 1);
    if (rc) {
        e->emitted = false;
        o->in_flight--;
    }
    if (rc == LF_ELIMIT) {
        o->base.counters = before;
        return LF_ELIMIT;
    }
    o->holding = false;
    if (rc == 0) {
        o->base.counters.emitted++;
        if (e->in_txn && o->journal && !e->done) {
            if (lf_omprog_journal_append(o->journal, o->held, o->held_len, o->held_cut) == 0) {
                e->journal = true;
            } else {
                lf_log(LF_LOG_ERROR, "omprog",
                       "the transaction journal is full; rsyslog is told to send the "
                       "transaction again");
                e->doomed = true;
            }
        }
        return 0;
    }
    /* It can never be shipped (too large, too many fields): say so to
     * rsyslog, whose retries cannot help either, and go on. */
    lf_log(LF_LOG_ERROR, "omprog", "message skipped: %s", lf_strerror(rc));
    o->base.counters.errors++;
    e->done = true;
    return rc == LF_ENOMEM ? rc : 0;
}

/* Emits what an earlier instance journaled and never saw committed. */
static int emit_replay(struct omprog_input *o)
{
    for (;;) {
        if (!o->replay_holding) {
            if (!lf_omprog_journal_replay_next(o->journal, &o->replay_line, &o->replay_len,
                                               &o->replay_cut))
                break;
            o->replay_holding = true;
        }
        o->in_flight++;
        o->replay_pending++;
        int rc =
            emit_line(o, o->replay_line, o->replay_len, o->replay_cut, REPLAY_SEQ | o->replay_next);
        if (rc) {
            o->in_flight--;
            o->replay_pending--;
        }
        if (rc == LF_ELIMIT)
            return 0;
        o->replay_holding = false;
        o->replay_next++;
        if (rc == LF_ENOMEM)
            return rc;
        if (rc == 0)
            o->base.counters.emitted++;
    }
    if (o->replay_pending == 0 && lf_omprog_journal_replay_size(o->journal) > 0) {
        lf_log(LF_LOG_INFO, "omprog", "the %zu journaled messages are safe",
               lf_omprog_journal_replay_size(o->journal));
        lf_omprog_journal_replay_done(o->journal);
    }
    return 0;
}

static void push_entry(struct omprog_input *o, enum entry_kind kind, int64_t now)
{
    struct entry *e = entry_at(o, o->count++);
    *e = (struct entry){
        .kind = (uint8_t)kind, .in_txn = o->in_txn, .since = now, .done = kind != ENTRY_MESSAGE};
}

static bool is_mark(const char *line, size_t len, const char *mark)
{
    return len == strlen(mark) && memcmp(line, mark, len) == 0;
}

/* Stops reading for good: stdin at end of file, rsyslog gone, or stop(). The
 * descriptor is replaced by /dev/null, which takes it out of the agent's
 * epoll set (a pipe at EOF would wake it without end) and keeps the number. */
static void close_input(struct omprog_input *o)
{
    if (o->in_fd < 0)
        return;
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, o->in_fd);
        close(null);
    }
    o->in_fd = -1;
}

/*
 * Whether the transaction state carries over from an earlier instance of
 * this input on the same stdin (the agent rebuilt its inputs on SIGHUP in
 * the middle of a transaction).
 */
static bool txn_open_on_stdin;

/* Handles one line. Returns 0, LF_ELIMIT (held) or an error. */
static int take_line(struct omprog_input *o, const char *line, size_t len, bool cut, int64_t now)
{
    if (!cut && is_mark(line, len, BEGIN_MARK)) {
        o->in_txn = txn_open_on_stdin = true;
        push_entry(o, ENTRY_BEGIN, now);
        return 0;
    }
    if (!cut && is_mark(line, len, COMMIT_MARK)) {
        o->in_txn = txn_open_on_stdin = false;
        push_entry(o, ENTRY_COMMIT, now);
        return 0;
    }
    push_entry(o, ENTRY_MESSAGE, now);
    o->holding = true;
    o->held = line;
    o->held_len = len;
    o->held_cut = cut;
    return emit_held(o);
}

/* Whether the reader holds another whole line already. */
static bool line_buffered(const struct lf_line_reader *r)
{
    return r->end > r->start && memchr(r->buf + r->start, '\n', r->end - r->start) != NULL;
}

static bool can_read(const struct omprog_input *o)
{
    return !o->eof && !o->stopped && !o->peer_gone && !o->holding &&
           (o->count < o->cap || o->cap < MAX_ENTRIES);
}

static int omprog_run(struct lf_input *in, int64_t now)
{
    struct omprog_input *o = (struct omprog_input *)in;
    answer_ready(o, now);
    int rc = 0;
    if (o->journal && !o->stopped)
        rc = emit_replay(o);
    if (!rc && o->holding && !o->stopped)
        rc = emit_held(o);
    for (int i = 0; rc == 0 && i < MAX_LINES_PER_RUN && can_read(o); i++) {
        /* rsyslog waits for the answer before it writes again: a read(2)
         * now would almost always find nothing. epoll says when there is. */
        if (i > 0 && !o->reader.eof && !line_buffered(&o->reader))
            break;
        if (!make_room(o))
            break;
        const char *line;
        size_t len;
        int cut;
        int got = lf_line_reader_next(&o->reader, &line, &len, &cut);
        if (got == LF_EIO && errno == EAGAIN)
            break;
        if (got == LF_EIO) {
            lf_log(LF_LOG_ERROR, "omprog", "reading stdin: %s", strerror(errno));
            got = 0;
        }
        if (got == 0) {
            o->eof = true;
            close_input(o);
            lf_log(LF_LOG_INFO, "omprog", "end of input: finishing");
            break;
        }
        if (cut)
            lf_log(LF_LOG_WARN, "omprog", "a message longer than max_line was cut");
        rc = take_line(o, line, len, cut != 0, now);
        /* Answer at once what needs nothing (marks, DEFER_COMMIT): rsyslog
         * sends the next line only then. */
        answer_ready(o, now);
    }
    if (rc == LF_ELIMIT)
        rc = 0;
    if (waits_for_output(o) && lf_pipeline_queued(o->pipeline))
        lf_pipeline_flush(o->pipeline);
    answer_ready(o, lf_now_mono_ms());
    if (o->peer_gone)
        close_input(o);
    return rc;
}

/* ---- the ops table ----------------------------------------------------- */

static int omprog_fd(struct lf_input *in)
{
    return ((struct omprog_input *)in)->in_fd;
}

static int64_t omprog_deadline(struct lf_input *in)
{
    struct omprog_input *o = (struct omprog_input *)in;
    int64_t d = -1;
    if ((o->holding || o->replay_holding) && !o->stopped)
        d = lf_now_mono_ms() + HOLD_RETRY_MS;
    else if (can_read(o) && line_buffered(&o->reader))
        return lf_now_mono_ms(); /* read already: epoll will not say so */
    if (o->answered < o->count && !o->peer_gone) {
        const struct entry *e = entry_at(o, o->answered);
        int64_t t = e->since + o->timeout_ms;
        int64_t k = (o->last_write_ms > e->since ? o->last_write_ms : e->since) + KEEPALIVE_MS;
        t = k < t ? k : t;
        d = d < 0 || t < d ? t : d;
    }
    return d;
}

static void omprog_stop(struct lf_input *in)
{
    struct omprog_input *o = (struct omprog_input *)in;
    o->stopped = true;
}

static int omprog_checkpoint(struct lf_input *in)
{
    struct omprog_input *o = (struct omprog_input *)in;
    if (o->answered < o->count || o->replay_pending)
        answer_ready(o, lf_now_mono_ms());
    if (o->journal && o->replay_pending == 0 && !o->replay_holding &&
        lf_omprog_journal_replay_size(o->journal) > 0)
        emit_replay(o); /* says the replay is done */
    return 0;
}

static size_t omprog_in_flight(const struct lf_input *in)
{
    return ((const struct omprog_input *)in)->in_flight;
}

static bool omprog_finished(const struct lf_input *in)
{
    const struct omprog_input *o = (const struct omprog_input *)in;
    if (o->peer_gone)
        return true;
    return o->eof && !o->holding && o->answered == o->count;
}

/* Whether every journaled line's event is safe (or no longer ours). */
static bool journal_safe(struct omprog_input *o)
{
    for (size_t i = 0; i < o->count; i++) {
        const struct entry *e = entry_at(o, i);
        if (e->journal && !e->done)
            return false;
    }
    return true;
}

static void omprog_destroy(struct lf_input *in)
{
    struct omprog_input *o = (struct omprog_input *)in;
    if (!o)
        return;
    if (o->q && !o->peer_gone) {
        /* What is left unanswered is not safe: rsyslog must send it again
         * (to the next instance, after a reload). */
        for (; o->answered < o->count; o->answered++) {
            struct entry *e = entry_at(o, o->answered);
            const char *a = answer_for(o, e, lf_now_mono_ms());
            queue_answer(o, a ? a : "Error: logferry agent stopped");
        }
        send_out(o, lf_now_mono_ms());
    }
    /* The open transaction's lines stay journaled unless all are safe: the
     * next instance ships them. */
    lf_omprog_journal_close(o->journal, o->q && journal_safe(o));
    if (o->in_fd >= 0 && o->in_flags >= 0)
        fcntl(o->in_fd, F_SETFL, o->in_flags);
    if (o->reader_live)
        lf_line_reader_free(&o->reader);
    lf_omprog_props_free(&o->props);
    lf_event_free(&o->ev);
    lf_buf_free(&o->out);
    free(o->q);
    free(o);
}

static const struct lf_input_ops omprog_ops = {
    .name = "omprog",
    .fd = omprog_fd,
    .deadline = omprog_deadline,
    .run = omprog_run,
    .stop = omprog_stop,
    .checkpoint = omprog_checkpoint,
    .in_flight = omprog_in_flight,
    .finished = omprog_finished,
    .destroy = omprog_destroy,
};

void lf_input_omprog_set_timeout(struct lf_input *in, int64_t ms)
{
    ((struct omprog_input *)in)->timeout_ms = ms <= 0               ? DEFAULT_TIMEOUT_MS
                                              : ms > MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS
                                                                    : ms;
}

/* ---- creation ---------------------------------------------------------- */

/*
 * The greeting "OK" goes out once per stdin: when the agent rebuilds its
 * inputs (SIGHUP), rsyslog is in the middle of the conversation and would
 * take a second one for the answer to its next message.
 */
static dev_t greeted_dev;
static ino_t greeted_ino;
static bool greeted;

static bool greet_once(int in_fd)
{
    struct stat st;
    if (fstat(in_fd, &st) != 0)
        return true;
    if (greeted && st.st_dev == greeted_dev && st.st_ino == greeted_ino)
        return false;
    greeted = true;
    greeted_dev = st.st_dev;
    greeted_ino = st.st_ino;
    txn_open_on_stdin = false;
    return true;
}

struct lf_input *lf_input_omprog_create(const struct lf_agent_conf *conf, struct lf_parser *parser,
                                        struct lf_pipeline *p, int in_fd, int out_fd, char *errbuf,
                                        size_t errlen)
{
    const struct lf_grammar_conf *gc = lf_agent_conf_grammar(conf, conf->omprog_grammar);
    struct omprog_input *o = calloc(1, sizeof(*o));
    if (!o || !gc) {
        snprintf(errbuf, errlen, o ? "omprog: no grammar %s" : "omprog: out of memory",
                 conf->omprog_grammar);
        free(o);
        return NULL;
    }
    o->base.ops = &omprog_ops;
    o->base.name = "omprog";
    o->ack.safe = on_safe;
    o->ack.failed = on_failed;
    o->pipeline = p;
    o->index = conf->omprog_index;
    o->in_fd = in_fd;
    o->out_fd = out_fd;
    o->in_flags = -1;
    lf_input_omprog_set_timeout(&o->base, (int64_t)conf->omprog_answer_timeout_ms);
    o->cap = INITIAL_ENTRIES;
    lf_event_init(&o->ev);
    lf_buf_init(&o->out, 64 * MAX_ENTRIES); /* the longest answer is < 80 */
    o->q = calloc(o->cap, sizeof(*o->q));
    if (!o->q || lf_line_reader_init(&o->reader, in_fd, (size_t)gc->max_line)) {
        snprintf(errbuf, errlen, "omprog: out of memory");
        goto fail;
    }
    o->reader_live = true;
    if (lf_omprog_props_init(&o->props, gc, conf->timezone, parser, &o->ev, &o->base.counters,
                             errbuf, errlen))
        goto fail;
    if (conf->omprog_json.enabled && lf_omprog_props_set_json(&o->props, &conf->omprog_json,
                                                              (size_t)gc->max_line, errbuf, errlen))
        goto fail;
    if (conf->data_dir) {
        char jerr[1024];
        int rc = lf_omprog_journal_open(conf->data_dir, &o->journal, jerr, sizeof(jerr));
        if (rc == LF_EINVAL) {
            snprintf(errbuf, errlen, "%s", jerr);
            goto fail; /* another agent: two would answer for one journal */
        }
        if (rc)
            lf_log(LF_LOG_WARN, "omprog",
                   "%s; without a journal, a message in a transaction is answered only once "
                   "it is safe (one output round trip each)",
                   jerr);
    }
    o->in_txn = txn_open_on_stdin;
    int flags = fcntl(in_fd, F_GETFL);
    if (flags < 0 || fcntl(in_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        snprintf(errbuf, errlen, "omprog: stdin: %s", strerror(errno));
        goto fail;
    }
    o->in_flags = flags;
    o->last_write_ms = lf_now_mono_ms();
    o->warned_ms = o->last_write_ms - WARN_INTERVAL_MS;
    if (greet_once(in_fd)) {
        o->in_txn = false;
        queue_answer(o, "OK");
        send_out(o, o->last_write_ms);
    }
    return &o->base;
fail:
    omprog_destroy(&o->base);
    return NULL;
}
