/*
 * in_journald.c - the journald input: entries of the systemd journal (the
 * system's, or the journal files of a directory) through libsystemd's
 * sd-journal, as events (journald_map.c), with a cursor kept in the registry.
 *
 * Wakeups: sd_journal_get_fd() is an inotify descriptor on the journal's
 * directories; the agent's epoll waits on it, and each run() hands what it
 * heard to sd_journal_process() (new files, appended entries) before reading
 * on with sd_journal_next(). When sd-journal needs to look again by itself
 * (journal files on a file system that inotify does not watch),
 * sd_journal_get_timeout() says when, and that is the input's deadline.
 *
 * Positions: each entry read gets the next number of this run; its cursor
 * waits in a ring, in order, beside the acknowledgement queue (common/ackq.c)
 * that the output's acknowledgements advance, as a file's offsets do. Once
 * every entry up to one is acknowledged, that entry's cursor becomes the
 * registry's (named "journald:<directory or system>") and is saved with the
 * registry's next checkpoint. At start, reading goes on after the saved
 * cursor; an entry read again (the agent died between acknowledgement and
 * save) gets the _id it had, made from its cursor (journald_map.c), so
 * Elasticsearch keeps it once. Without a saved cursor, `seek` says where to
 * start: the end of the journal (the cursor of its last entry is saved at
 * once, so that a crash before the first new entry does not skip any) or
 * its beginning.
 *
 * Back-pressure: when the pipeline refuses an entry, the journal stays on it
 * (it is read again from the journal on the next run), and reading goes on
 * once the output has taken the refused batch (lf_pipeline_waiting()), which
 * is looked at on every turn of the loop (acknowledgements wake it) and at
 * least every HOLD_RETRY_MS.
 */
#define _POSIX_C_SOURCE 200809L
#include "journald_int.h"
#include "registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef LF_HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>

/* Entries handled per run(), so that signals and acknowledgements get a turn. */
#define MAX_ENTRIES_PER_RUN 1024
/* While the pipeline refuses events, how often run() tries again. */
#define HOLD_RETRY_MS 50
/* After a journal error, when run() tries again. */
#define ERROR_RETRY_MS 1000
/* Entries in flight at most: past it reading waits for acknowledgements.
 * The output bounds what it holds unacknowledged far below this; the ring
 * of cursors costs about 150 bytes an entry while it is pending. */
#define ACKQ_CAP (1u << 20)
#define DEFAULT_MAX_LINE (1u << 20)
/* Fields other than MESSAGE (names, units, numbers) are cut at this. */
#define MAX_OTHER_FIELD 4096

/* One entry read and not yet acknowledged with all before it. */
struct pending {
    char *cursor;
    uint64_t realtime_us;
};

struct journald_input {
    struct lf_input base;
    struct lf_ack_target ack;
    struct lf_pipeline *pipeline;
    struct lf_parser *parser;
    struct lf_registry *reg;
    sd_journal *j;
    int fd;
    const char *index;
    const char *dataset;
    char journal[4096];     /* the directory, or "system" (status, logs) */
    char cursor_name[4200]; /* the registry's name of the cursor */
    size_t max_line;

    struct lf_ackq ackq;  /* positions: 1, 2, ... in the order read */
    struct pending *ring; /* cursors of positions [ring_first, +count) */
    size_t ring_cap, ring_head, ring_count;
    uint64_t ring_first;        /* position of the ring's head */
    uint64_t next_pos;          /* positions handed out so far */
    char *acked_cursor;         /* the registry's, owned copy for status */
    uint64_t acked_us, read_us; /* realtime of the last acked / read entries */

    bool unread; /* the journal stands on an entry not yet emitted */
    bool more;   /* stopped after MAX_ENTRIES_PER_RUN: run again now */
    bool stopped;
    int64_t retry_at; /* monotonic ms: after an error, reading waits */
    bool held;        /* the pipeline refused the current entry */
    bool error_said;
    int sd_errno; /* of the last LF_EIO */

    struct lf_event ev;
    struct lf_buf scratch; /* the entry's field values, copied */
    struct lf_journald_entry entry;
};

static struct journald_input *input_of(struct lf_ack_target *t)
{
    return (struct journald_input *)((char *)t - offsetof(struct journald_input, ack));
}

/* ---- the ring of cursors ------------------------------------------------ */

static struct pending *ring_at(struct journald_input *ji, size_t off)
{
    return &ji->ring[(ji->ring_head + off) % ji->ring_cap];
}

/* Appends the cursor (owned from now on) of position ring_first+count. */
static int ring_push(struct journald_input *ji, char *cursor, uint64_t realtime_us)
{
    if (ji->ring_count == ji->ring_cap) {
        size_t cap = ji->ring_cap ? ji->ring_cap * 2 : 64;
        struct pending *v = malloc(cap * sizeof(*v));
        if (!v)
            return LF_ENOMEM;
        for (size_t i = 0; i < ji->ring_count; i++)
            v[i] = *ring_at(ji, i);
        free(ji->ring);
        ji->ring = v;
        ji->ring_cap = cap;
        ji->ring_head = 0;
    }
    *ring_at(ji, ji->ring_count++) = (struct pending){cursor, realtime_us};
    return 0;
}

/* Takes back the last push (the pipeline refused its event). */
static void ring_unpush(struct journald_input *ji)
{
    struct pending *p = ring_at(ji, --ji->ring_count);
    free(p->cursor);
    p->cursor = NULL;
}

/* The acknowledged prefix reached `committed`: its last cursor becomes the
 * registry's. */
static void ring_commit(struct journald_input *ji, uint64_t committed)
{
    struct pending last = {NULL, 0};
    while (ji->ring_count && ji->ring_first <= committed) {
        struct pending *p = ring_at(ji, 0);
        free(last.cursor);
        last = *p;
        p->cursor = NULL;
        ji->ring_head = (ji->ring_head + 1) % ji->ring_cap;
        ji->ring_count--;
        ji->ring_first++;
    }
    if (!last.cursor)
        return;
    if (lf_registry_set_cursor(ji->reg, ji->cursor_name, last.cursor))
        lf_log(LF_LOG_ERROR, "journald", "out of memory: the cursor stays behind");
    free(ji->acked_cursor);
    ji->acked_cursor = last.cursor;
    ji->acked_us = last.realtime_us;
}

/* An entry is done with: the cursor may move over it. */
static void settle(struct journald_input *ji, uint64_t seq)
{
    lf_ackq_ack(&ji->ackq, seq);
    ring_commit(ji, lf_ackq_committed(&ji->ackq));
    if (lf_ackq_pending(&ji->ackq) == 0)
        lf_ackq_trim(&ji->ackq);
}

static void on_safe(struct lf_ack_target *t, uint64_t seq)
{
    struct journald_input *ji = input_of(t);
    ji->base.counters.acked++;
    settle(ji, seq);
}

/* A document the output gave up on (dead-lettered) is done for the cursor
 * too; the output counts and logs it. */
static void on_failed(struct lf_ack_target *t, uint64_t seq)
{
    on_safe(t, seq);
}

/* ---- reading ------------------------------------------------------------- */

/* Copies the current entry's fields into ji->entry. Returns 0, LF_ENOMEM,
 * or LF_EIO with sd-journal's errno in ji->sd_errno. */
static int read_entry(struct journald_input *ji)
{
    struct lf_journald_entry *e = &ji->entry;
    size_t at[LF_JF_COUNT];
    memset(e, 0, sizeof(*e));
    lf_buf_reset(&ji->scratch);
    int r = sd_journal_get_realtime_usec(ji->j, &e->realtime_us);
    if (r < 0)
        goto journal_error;
    const void *data;
    size_t len;
    sd_journal_restart_data(ji->j);
    /* _available_: a field compressed in a way this libsystemd cannot read
     * is left out rather than failing the entry. */
    while ((r = sd_journal_enumerate_available_data(ji->j, &data, &len)) > 0) {
        size_t value_at;
        int f = lf_journald_field_of(data, len, &value_at);
        if (f < 0 || e->v[f])
            continue;
        size_t n = len - value_at;
        if (f == LF_JF_MESSAGE && n > ji->max_line) {
            n = ji->max_line;
            e->cut = true;
        }
        if (f != LF_JF_MESSAGE && n > MAX_OTHER_FIELD)
            n = MAX_OTHER_FIELD; /* names, numbers: keeps the scratch bounded */
        at[f] = ji->scratch.len;
        if (lf_buf_append(&ji->scratch, (const char *)data + value_at, n) ||
            lf_buf_putc(&ji->scratch, '\0'))
            return LF_ENOMEM;
        e->v[f] = ""; /* pointed at once the scratch stops moving */
        e->n[f] = n;
    }
    if (r < 0)
        goto journal_error;
    for (int f = 0; f < LF_JF_COUNT; f++)
        if (e->v[f])
            e->v[f] = ji->scratch.data + at[f];
    return 0;
journal_error:
    ji->sd_errno = -r;
    return LF_EIO;
}

/* Emits the entry the journal stands on. Returns 0 (emitted, or it can
 * never be: logged and settled), LF_ELIMIT (the pipeline refuses: keep it),
 * LF_ENOMEM, or LF_EIO (the journal could not give it: ji->sd_errno). */
static int emit_current(struct journald_input *ji)
{
    char *cursor = NULL;
    int r = sd_journal_get_cursor(ji->j, &cursor);
    if (r < 0) {
        ji->sd_errno = -r;
        return LF_EIO;
    }
    struct lf_input_counters before = ji->base.counters;
    r = read_entry(ji);
    if (r < 0) {
        free(cursor);
        return r;
    }
    int64_t ts = 0;
    int rc = lf_journald_event(&ji->entry, ji->parser, &ji->ev, &ts, &ji->base.counters);
    /* Too many fields: that will not change, the entry is settled unsent. */
    bool skip = rc == LF_ELIMIT;
    if (skip) {
        lf_log(LF_LOG_ERROR, "journald", "%s: entry skipped: too many fields", ji->journal);
        ji->base.counters.errors++;
    } else if (rc) {
        free(cursor);
        return rc;
    }
    char source[LF_JOURNALD_SOURCE_LEN];
    uint64_t position;
    lf_journald_doc_source(cursor, source, &position);
    uint64_t seq;
    rc = lf_ackq_push(&ji->ackq, ji->next_pos + 1, &seq);
    if (rc == 0 && (rc = ring_push(ji, cursor, ji->entry.realtime_us)) != 0)
        lf_ackq_unpush(&ji->ackq);
    if (rc) {
        free(cursor);
        ji->base.counters = before;
        return rc;
    }
    ji->next_pos++;
    if (skip) {
        ji->read_us = ji->entry.realtime_us;
        settle(ji, seq);
        return 0;
    }
    struct lf_emit meta = {.index = ji->index,
                           .dataset = ji->dataset,
                           .source = source,
                           .position = position,
                           .ts_ms = ts,
                           .ack = &ji->ack,
                           .seq = seq};
    /* The output may acknowledge it before emit returns (the file output
     * writes as the batch is sent): it is in the queue already. */
    rc = lf_pipeline_emit(ji->pipeline, &ji->ev, &meta);
    if (rc == LF_ELIMIT || rc == LF_ENOMEM) {
        /* Not taken: no acknowledgement can come for it. */
        lf_ackq_unpush(&ji->ackq);
        ring_unpush(ji);
        ji->next_pos--;
        ji->base.counters = before; /* read again, counted once */
        return rc;
    }
    ji->read_us = ji->entry.realtime_us;
    if (rc == 0) {
        ji->base.counters.emitted++;
        return 0;
    }
    /* It can never be sent (too large): logged by the pipeline; its place
     * is settled, so the cursor can move past it. */
    ji->base.counters.errors++;
    settle(ji, seq);
    return 0;
}

/* A journal error (errno err, or 0 for out of memory): said once until
 * reading works again, tried again after ERROR_RETRY_MS. */
static void say_error(struct journald_input *ji, const char *what, int err, int64_t now)
{
    ji->base.counters.errors++;
    ji->retry_at = now + ERROR_RETRY_MS;
    if (ji->error_said)
        return;
    ji->error_said = true;
    lf_log(LF_LOG_ERROR, "journald", "%s: %s: %s; trying again every %d ms", ji->journal, what,
           err ? strerror(err) : "out of memory", ERROR_RETRY_MS);
}

static int journald_run(struct lf_input *in, int64_t now)
{
    struct journald_input *ji = (struct journald_input *)in;
    if (ji->stopped)
        return 0;
    /* What inotify said: new files, appended entries, files gone. */
    int r = sd_journal_process(ji->j);
    if (r < 0)
        say_error(ji, "processing changes", -r, now);
    if (ji->retry_at && now < ji->retry_at)
        return 0;
    ji->retry_at = 0;
    /* Refused: nothing to do until the output took the refused batch (an
     * acknowledgement), which lf_pipeline_waiting() says. */
    if (ji->held && lf_pipeline_waiting(ji->pipeline))
        return 0;
    ji->held = false;
    ji->more = false;
    for (int i = 0; i < MAX_ENTRIES_PER_RUN; i++) {
        if (lf_ackq_pending(&ji->ackq) >= ACKQ_CAP)
            return 0; /* an acknowledgement wakes it */
        if (!ji->unread) {
            r = sd_journal_next(ji->j);
            if (r == 0)
                return 0; /* caught up: inotify says when there is more */
            if (r < 0) {
                say_error(ji, "reading the next entry", -r, now);
                return 0;
            }
            ji->unread = true;
        }
        r = emit_current(ji);
        if (r == LF_ELIMIT) {
            ji->held = true;
            return 0;
        }
        if (r == LF_ENOMEM) {
            say_error(ji, "reading an entry", 0, now);
            return 0;
        }
        if (r == LF_EIO) {
            /* A damaged entry (journalctl skips those too): it is left out,
             * and the cursor moves over it with the next one. */
            lf_log(LF_LOG_WARN, "journald", "%s: an entry cannot be read (%s): skipped",
                   ji->journal, strerror(ji->sd_errno));
            ji->base.counters.errors++;
        }
        ji->unread = false;
        ji->error_said = false;
    }
    ji->more = true;
    return 0;
}

/* ---- the ops table ----------------------------------------------------- */

static int journald_fd(struct lf_input *in)
{
    return ((struct journald_input *)in)->fd;
}

static int64_t journald_deadline(struct lf_input *in)
{
    struct journald_input *ji = (struct journald_input *)in;
    if (ji->stopped)
        return -1;
    int64_t now = lf_now_mono_ms();
    if (ji->more)
        return now;
    int64_t d = lf_registry_due(ji->reg);
    if (ji->retry_at && (d < 0 || ji->retry_at < d))
        d = ji->retry_at;
    if (ji->held) {
        /* At once when the output took the batch; else look again soon,
         * as the pipeline says no more than that. */
        int64_t t = lf_pipeline_waiting(ji->pipeline) ? now + HOLD_RETRY_MS : now;
        if (d < 0 || t < d)
            d = t;
    }
    /* sd-journal's own need to look again (files inotify cannot watch). */
    uint64_t usec;
    if (sd_journal_get_timeout(ji->j, &usec) >= 0 && usec != (uint64_t)-1) {
        int64_t t = (int64_t)(usec / 1000);
        if (d < 0 || t < d)
            d = t;
    }
    return d >= 0 && d < now ? now : d;
}

static void journald_stop(struct lf_input *in)
{
    struct journald_input *ji = (struct journald_input *)in;
    ji->stopped = true;
    lf_registry_checkpoint(ji->reg, lf_now_mono_ms(), true);
}

static int journald_checkpoint(struct lf_input *in)
{
    struct journald_input *ji = (struct journald_input *)in;
    return lf_registry_checkpoint(ji->reg, lf_now_mono_ms(), ji->stopped);
}

static size_t journald_in_flight(const struct lf_input *in)
{
    return lf_ackq_pending(&((const struct journald_input *)in)->ackq);
}

static bool journald_journal(const struct lf_input *in, struct lf_input_journal *out)
{
    const struct journald_input *ji = (const struct journald_input *)in;
    *out = (struct lf_input_journal){.journal = ji->journal,
                                     .cursor = ji->acked_cursor,
                                     .acked_ms = (int64_t)(ji->acked_us / 1000),
                                     .read_ms = (int64_t)(ji->read_us / 1000),
                                     .pending = lf_ackq_pending(&ji->ackq)};
    return true;
}

static void journald_destroy(struct lf_input *in)
{
    struct journald_input *ji = (struct journald_input *)in;
    if (!ji)
        return;
    if (ji->reg)
        lf_registry_checkpoint(ji->reg, lf_now_mono_ms(), true);
    for (size_t i = 0; i < ji->ring_count; i++)
        free(ring_at(ji, i)->cursor);
    free(ji->ring);
    free(ji->acked_cursor);
    lf_ackq_free(&ji->ackq);
    if (ji->j)
        sd_journal_close(ji->j); /* closes fd too */
    lf_registry_close(ji->reg);
    lf_event_free(&ji->ev);
    lf_buf_free(&ji->scratch);
    free(ji);
}

static const struct lf_input_ops journald_ops = {
    .name = "journald",
    .fd = journald_fd,
    .deadline = journald_deadline,
    .run = journald_run,
    .stop = journald_stop,
    .checkpoint = journald_checkpoint,
    .in_flight = journald_in_flight,
    .destroy = journald_destroy,
    .journal = journald_journal,
};

/* ---- creation ---------------------------------------------------------- */

static int open_journal(const char *directory, sd_journal **j)
{
    return directory ? sd_journal_open_directory(j, directory, 0)
                     : sd_journal_open(j, SD_JOURNAL_LOCAL_ONLY);
}

/* units, priority and matches as sd-journal matches: values of one field
 * are alternatives, different fields must all match. */
static int add_matches(sd_journal *j, const struct lf_agent_conf *conf, char *errbuf, size_t errlen)
{
    char m[4200];
    int r = 0;
    for (size_t i = 0; r >= 0 && i < conf->njournald_units; i++) {
        snprintf(m, sizeof(m), "_SYSTEMD_UNIT=%s", conf->journald_units[i]);
        r = sd_journal_add_match(j, m, 0);
    }
    for (int p = 0; r >= 0 && conf->journald_priority < 7 && p <= conf->journald_priority; p++) {
        snprintf(m, sizeof(m), "PRIORITY=%d", p);
        r = sd_journal_add_match(j, m, 0);
    }
    for (size_t i = 0; r >= 0 && i < conf->njournald_matches; i++)
        r = sd_journal_add_match(j, conf->journald_matches[i], 0);
    if (r < 0)
        snprintf(errbuf, errlen, "journald: a match was refused: %s", strerror(-r));
    return r;
}

/* Puts the journal where reading goes on: after the saved cursor, else at
 * `seek`. Returns 0 or a negative errno. */
static int position(struct journald_input *ji, const struct lf_agent_conf *conf)
{
    const char *saved = lf_registry_cursor(ji->reg, ji->cursor_name);
    int r;
    if (saved) {
        if ((r = sd_journal_seek_cursor(ji->j, saved)) < 0)
            return r;
        r = sd_journal_next(ji->j);
        if (r < 0)
            return r;
        /* On the saved entry: it was shipped, go on after it. On another:
         * the saved one is gone (rotated away, vacuumed) and this is the
         * first after it, unread. */
        ji->unread = r > 0 && sd_journal_test_cursor(ji->j, saved) <= 0;
        if ((ji->acked_cursor = strdup(saved)) == NULL)
            return -ENOMEM;
        lf_log(LF_LOG_INFO, "journald", "%s: going on after the saved cursor%s", ji->journal,
               ji->unread ? " (its entry is gone: from the next one there is)" : "");
        return 0;
    }
    if (conf->journald_seek == LF_JOURNALD_HEAD) {
        lf_log(LF_LOG_INFO, "journald", "%s: no saved cursor: from the first entry", ji->journal);
        return sd_journal_seek_head(ji->j);
    }
    if ((r = sd_journal_seek_tail(ji->j)) < 0)
        return r;
    r = sd_journal_previous(ji->j);
    if (r < 0)
        return r;
    if (r == 0) /* empty: the head is the tail, and next() works from it */
        return sd_journal_seek_head(ji->j);
    /* Fixed now, as a file's start_at end is: a crash before the first new
     * entry must not move the start on. */
    char *cursor = NULL;
    if ((r = sd_journal_get_cursor(ji->j, &cursor)) < 0)
        return r;
    r = lf_registry_set_cursor(ji->reg, ji->cursor_name, cursor) ? -ENOMEM : 0;
    ji->acked_cursor = cursor;
    lf_log(LF_LOG_INFO, "journald", "%s: no saved cursor: from the entries written from now on",
           ji->journal);
    return r;
}

struct lf_input *lf_input_journald_create(const struct lf_agent_conf *conf,
                                          struct lf_parser *parser, struct lf_pipeline *p,
                                          char *errbuf, size_t errlen)
{
    struct journald_input *ji = calloc(1, sizeof(*ji));
    if (!ji) {
        snprintf(errbuf, errlen, "journald: out of memory");
        return NULL;
    }
    ji->base.ops = &journald_ops;
    ji->base.name = "journald";
    ji->ack.safe = on_safe;
    ji->ack.failed = on_failed;
    ji->pipeline = p;
    ji->parser = parser;
    ji->fd = -1;
    ji->index = conf->journald_index;
    ji->dataset = conf->journald_dataset;
    const struct lf_grammar_conf *gc = lf_agent_conf_grammar(conf, conf->journald_grammar);
    ji->max_line = gc && gc->max_line ? (size_t)gc->max_line : DEFAULT_MAX_LINE;
    snprintf(ji->journal, sizeof(ji->journal), "%s",
             conf->journald_directory ? conf->journald_directory : "system journal");
    lf_journald_cursor_name(conf->journald_directory, ji->cursor_name, sizeof(ji->cursor_name));
    lf_event_init(&ji->ev);
    lf_event_cache_layouts(&ji->ev); /* paths: literals and the grammar's */
    lf_buf_init(&ji->scratch, ji->max_line + LF_JF_COUNT * (MAX_OTHER_FIELD + 1) + 1);
    lf_ackq_init(&ji->ackq, ACKQ_CAP, 0);
    ji->ring_first = 1; /* positions count from 1: 0 is "none safe yet" */
    if (!conf->data_dir) {
        snprintf(errbuf, errlen, "journald: no data_dir for the cursor");
        goto fail;
    }
    if (!(ji->reg = lf_registry_open(conf->data_dir, errbuf, errlen)))
        goto fail;
    int r = open_journal(conf->journald_directory, &ji->j);
    if (r < 0) {
        snprintf(errbuf, errlen, "journald: cannot open the %s: %s", ji->journal, strerror(-r));
        goto fail;
    }
    /* A user outside the journal's groups opens it fine and reads nothing. */
    if (!conf->journald_directory && sd_journal_has_persistent_files(ji->j) <= 0 &&
        sd_journal_has_runtime_files(ji->j) <= 0)
        lf_log(LF_LOG_WARN, "journald",
               "no journal file can be read: is journald running, and is the agent's user root "
               "or in the systemd-journal or adm group? Entries will be read once files can be");
    /* Fields up to max_line (and the '=' and name) come whole. */
    sd_journal_set_data_threshold(ji->j, ji->max_line + 256);
    /* Right after opening, so that no change is missed. */
    if ((ji->fd = sd_journal_get_fd(ji->j)) < 0) {
        snprintf(errbuf, errlen, "journald: %s: no descriptor to wait on: %s", ji->journal,
                 strerror(-ji->fd));
        goto fail;
    }
    if (add_matches(ji->j, conf, errbuf, errlen) < 0)
        goto fail;
    if ((r = position(ji, conf)) < 0) {
        snprintf(errbuf, errlen, "journald: %s: cannot find where to start: %s", ji->journal,
                 strerror(-r));
        goto fail;
    }
    /* The new files sd-journal found while positioning, and a start cursor
     * that must be on disk before the first event: saved now. */
    lf_registry_checkpoint(ji->reg, lf_now_mono_ms(), true);
    return &ji->base;
fail:
    journald_destroy(&ji->base);
    return NULL;
}

int lf_input_journald_probe(const struct lf_agent_conf *conf, char *out, size_t outlen)
{
    sd_journal *j = NULL;
    const char *what = conf->journald_directory ? conf->journald_directory : "system journal";
    int r = open_journal(conf->journald_directory, &j);
    if (r < 0) {
        snprintf(out, outlen, "journald: cannot open the %s: %s", what, strerror(-r));
        return LF_EIO;
    }
    uint64_t first = 0, last = 0;
    bool empty = sd_journal_seek_head(j) < 0 || sd_journal_next(j) <= 0 ||
                 sd_journal_get_realtime_usec(j, &first) < 0;
    if (!empty && sd_journal_seek_tail(j) >= 0 && sd_journal_previous(j) > 0)
        sd_journal_get_realtime_usec(j, &last);
    uint64_t usage = 0;
    sd_journal_get_usage(j, &usage);
    char errbuf[512], name[4200];
    /* Only an existing data_dir: a check creates nothing. */
    struct lf_registry *reg = conf->data_dir && access(conf->data_dir, F_OK) == 0
                                  ? lf_registry_open(conf->data_dir, errbuf, sizeof(errbuf))
                                  : NULL;
    lf_journald_cursor_name(conf->journald_directory, name, sizeof(name));
    const char *cursor = reg ? lf_registry_cursor(reg, name) : NULL;
    const char *where = "none saved (starts at `seek`)";
    if (cursor) {
        bool found = sd_journal_seek_cursor(j, cursor) >= 0 && sd_journal_next(j) > 0 &&
                     sd_journal_test_cursor(j, cursor) > 0;
        where = found ? "saved, its entry is in the journal"
                      : "saved, its entry is gone (reading goes on at the next one)";
    }
    char t1[LF_TS_TEXT_LEN], t2[LF_TS_TEXT_LEN];
    struct lf_ts_cache c;
    lf_ts_cache_init(&c);
    lf_ts_format(&c, (int64_t)(first / 1000), t1);
    lf_ts_format(&c, (int64_t)(last / 1000), t2);
    if (empty)
        snprintf(out, outlen, "journald: %s: OK, no entries (%llu bytes of files); cursor: %s",
                 what, (unsigned long long)usage, where);
    else
        snprintf(out, outlen,
                 "journald: %s: OK, entries from %s to %s (%llu bytes of files); "
                 "cursor: %s",
                 what, t1, t2, (unsigned long long)usage, where);
    lf_registry_close(reg);
    sd_journal_close(j);
    return 0;
}

#else /* !LF_HAVE_LIBSYSTEMD */

struct lf_input *lf_input_journald_create(const struct lf_agent_conf *conf,
                                          struct lf_parser *parser, struct lf_pipeline *p,
                                          char *errbuf, size_t errlen)
{
    (void)conf, (void)parser, (void)p;
    snprintf(errbuf, errlen,
             "inputs.journald: this logferry was built without libsystemd "
             "(apt-get install libsystemd-dev, then build again)");
    return NULL;
}

int lf_input_journald_probe(const struct lf_agent_conf *conf, char *out, size_t outlen)
{
    (void)conf;
    snprintf(out, outlen, "journald: this logferry was built without libsystemd");
    return LF_EINVAL;
}

#endif
