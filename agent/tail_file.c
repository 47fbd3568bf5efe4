/*
 * tail_file.c - one followed file: its lines, its positions and what
 * happens to it on disk.
 *
 * Lines are read with pread() at an explicit offset into a buffer bounded by
 * max_line plus one read chunk. A line longer than max_line keeps its first
 * max_line bytes; the rest is dropped as it is read, up to the newline, and
 * the line is shipped cut once that newline is found, so its acknowledged
 * position is the end of the whole line and a restart never lands inside
 * it. A last line without a newline is shipped as is once the file has not
 * grown for partial_wait_ms; its bytes count as consumed, so what follows
 * later starts a new line.
 *
 * Every shipped line pushes "the offset after it" on the file's
 * acknowledgement queue; the registry entry moves to the queue's committed
 * position when the output acknowledges, never further.
 *
 * On disk: a size below the read position, or different first bytes (the
 * fingerprint), means the file was truncated or rewritten: it is read again
 * from 0, after the events of the old content are acknowledged so that
 * positions only ever move forward within one content. A path that no longer
 * names the file means rotation or deletion: the open descriptor is read to
 * the end and kept until the writer has been quiet for a while.
 *
 * Document ids: a line's _id is made from the file's content id (random,
 * kept in the registry entry) and the line's offset, never from the path, so
 * a renamed file, resumed after a crash, re-sends a line under the _id it had,
 * and new content (a new file, a truncated or rewritten one) never reuses the
 * _ids of old lines at the same offsets. A new content id is written to the
 * registry (fsync'ed) before the first line of that content is emitted: one
 * save per new content, none per line.
 */
#define _POSIX_C_SOURCE 200809L
#define _FILE_OFFSET_BITS 64
#include "tail_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How often at most a cut line is reported per input. */
#define CUT_LOG_INTERVAL_MS 10000
/* A file that has not grown for this long gives back its memory. */
#define REST_MS 5000

/* A line found in the buffer and not consumed yet. */
struct line {
    const char *p;
    size_t len;
    bool cut;
    uint64_t start, end; /* file offsets: the line, and after its newline */
    size_t next;         /* buffer index after it */
};

/* ---- acknowledgements --------------------------------------------------- */

size_t lf_tail_file_pending(const struct lf_tail_file *f)
{
    return f->ackq_live ? lf_ackq_pending(&f->ackq) : 0;
}

static struct lf_tail_file *file_of(struct lf_ack_target *a)
{
    return (struct lf_tail_file *)(void *)((char *)a - offsetof(struct lf_tail_file, ack));
}

/* The position is settled: move the registry, wake a paused file. */
static void settle(struct lf_tail_file *f, uint64_t seq)
{
    if (!f->ackq_live)
        return;
    lf_ackq_ack(&f->ackq, seq);
    /* While a truncation waits, acks are for the old content: its
     * positions mean nothing for the new one, which starts at 0. */
    if (f->entry && !f->trunc_wait)
        lf_registry_set_offset(f->tail->reg, f->entry, lf_ackq_committed(&f->ackq));
    bool resume = f->wait_acks || (f->trunc_wait && lf_tail_file_pending(f) == 0);
    if (resume) {
        f->wait_acks = false;
        f->ready = true;
        f->tail->wake = true;
    }
}

static void on_safe(struct lf_ack_target *a, uint64_t seq)
{
    struct lf_tail_file *f = file_of(a);
    f->tail->base.counters.acked++;
    settle(f, seq);
}

/* A document the output gave up on (dead-lettered) is done for the
 * position too; the output counts and logs it. */
static void on_failed(struct lf_ack_target *a, uint64_t seq)
{
    on_safe(a, seq);
}

/* The queue exists only while lines are being shipped, so that thousands
 * of idle files cost no memory; with nothing pending, `pos` is safe. */
static int ackq_ensure(struct lf_tail_file *f)
{
    if (f->ackq_live)
        return 0;
    int rc = lf_ackq_init(&f->ackq, f->tail->ackq_cap, f->pos);
    f->ackq_live = rc == 0;
    return rc;
}

/* ---- life ---------------------------------------------------------------- */

static void take_content_id(struct lf_tail_file *f, uint64_t id)
{
    f->content_id = id;
    snprintf(f->source, sizeof(f->source), "file:%016" PRIx64, id);
    lf_doc_id_seed(&f->id_seed, lf_pipeline_host(f->tail->pipe), f->source);
}

/* The file now holds content other than its id named. */
static void new_content(struct lf_tail_file *f)
{
    if (f->entry) {
        lf_registry_new_content(f->tail->reg, f->entry);
        take_content_id(f, f->entry->content_id);
    } else {
        take_content_id(f, lf_registry_new_id());
    }
}

struct lf_tail_file *lf_tail_file_create(struct lf_tail *t, const char *path, const struct stat *st,
                                         uint64_t offset, int wd, bool new_content_id)
{
    struct lf_tail_file *f = calloc(1, sizeof(*f));
    if (!f || !(f->path = strdup(path)))
        goto fail;
    const char *slash = strrchr(f->path, '/');
    f->base = slash ? slash + 1 : f->path;
    f->tail = t;
    f->wd = wd;
    f->dev = (uint64_t)st->st_dev;
    f->ino = (uint64_t)st->st_ino;
    f->fd = -1;
    f->pos = f->read_pos = offset;
    f->grew_ms = f->active_ms = lf_now_mono_ms();
    f->ready = true;
    f->fp_hash = lf_registry_fingerprint("", 0);
    f->ack.safe = on_safe;
    f->ack.failed = on_failed;
    /* A new entry comes with a new content id; an old one keeps its id
     * unless the file holds other content now. */
    bool existed = lf_registry_find(t->reg, f->dev, f->ino) != NULL;
    f->entry = lf_registry_add(t->reg, f->dev, f->ino, path, lf_now_wall_ms());
    if (!f->entry || lf_registry_set_path(t->reg, f->entry, path))
        goto fail;
    f->entry->owner = f;
    if (existed && new_content_id)
        new_content(f);
    else
        take_content_id(f, f->entry->content_id);
    lf_registry_set_offset(t->reg, f->entry, offset);
    /* Recomputed from the file when it is opened. */
    lf_registry_set_fingerprint(t->reg, f->entry, 0, f->fp_hash);
    return f;
fail:
    lf_tail_file_destroy(f);
    return NULL;
}

void lf_tail_file_destroy(struct lf_tail_file *f)
{
    if (!f)
        return;
    lf_tail_file_close(f);
    if (f->entry && f->entry->owner == f) {
        f->entry->owner = NULL;
        if (f->unlinked || f->state == LF_TAIL_DELETED)
            lf_registry_remove(f->tail->reg, f->entry);
    }
    if (f->ackq_live)
        lf_ackq_free(&f->ackq);
    free(f->buf);
    free(f->path);
    free(f);
}

int lf_tail_fingerprint(int fd, uint32_t want, uint32_t *len, uint64_t *hash)
{
    char b[LF_REGISTRY_FP_MAX];
    ssize_t n;
    if (want > sizeof(b))
        want = sizeof(b);
    do
        n = pread(fd, b, want, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return LF_EIO;
    *len = (uint32_t)n;
    *hash = lf_registry_fingerprint(b, (size_t)n);
    return 0;
}

static void update_fingerprint(struct lf_tail_file *f)
{
    uint32_t len;
    uint64_t hash;
    if (f->fp_len >= LF_REGISTRY_FP_MAX || f->read_pos <= f->fp_len)
        return;
    if (lf_tail_fingerprint(f->fd, LF_REGISTRY_FP_MAX, &len, &hash) == 0) {
        f->fp_len = len;
        f->fp_hash = hash;
        if (f->entry)
            lf_registry_set_fingerprint(f->tail->reg, f->entry, len, hash);
    }
}

int lf_tail_file_open(struct lf_tail_file *f)
{
    if (f->fd >= 0)
        return 0;
    /* O_NONBLOCK: the path may have become a FIFO since it was matched. */
    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT)
        return LF_ENOENT;
    if (fd < 0) {
        /* Once per file until it opens: a busy file we may not read would
         * otherwise log on every write to it. */
        if (!f->open_warned)
            lf_log(LF_LOG_WARN, "tail", "%s: cannot open: %s", f->path, strerror(errno));
        f->open_warned = true;
        f->tail->base.counters.errors++;
        return LF_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_dev != f->dev || (uint64_t)st.st_ino != f->ino) {
        close(fd);
        return LF_ENOENT;
    }
    f->fd = fd;
    f->open_warned = false;
    f->tail->nopen++;
    lf_log(LF_LOG_DEBUG, "tail", "%s: opened at offset %" PRIu64, f->path, f->read_pos);
    update_fingerprint(f);
    return 0;
}

void lf_tail_file_close(struct lf_tail_file *f)
{
    if (f->fd < 0)
        return;
    close(f->fd);
    f->fd = -1;
    f->tail->nopen--;
}

bool lf_tail_file_idle(const struct lf_tail_file *f)
{
    return f->fd >= 0 && f->state == LF_TAIL_ACTIVE && !f->ready && f->start == f->end &&
           !f->cutting && !f->trunc_wait;
}

/* ---- the buffer ---------------------------------------------------------- */

static void buffer_drop(struct lf_tail_file *f)
{
    f->start = f->end = f->scan = 0;
    f->skipped = 0;
    f->cutting = false;
}

/* Makes room for at least one read chunk after `end`, within the cap of
 * max_line + one chunk (enough: `end - start` never exceeds max_line when
 * more bytes are wanted). */
static int buffer_room(struct lf_tail_file *f)
{
    if (f->start > 0 && f->cap - f->end < LF_TAIL_READ_CHUNK) {
        memmove(f->buf, f->buf + f->start, f->end - f->start);
        f->end -= f->start;
        f->scan -= f->start;
        f->start = 0;
    }
    size_t limit = f->tail->max_line + LF_TAIL_READ_CHUNK;
    if (f->cap - f->end >= LF_TAIL_READ_CHUNK || f->cap >= limit)
        return f->cap > f->end ? 0 : LF_ELIMIT;
    size_t cap = f->cap ? f->cap : LF_TAIL_READ_CHUNK;
    while (cap - f->end < LF_TAIL_READ_CHUNK && cap < limit)
        cap *= 2;
    if (cap > limit)
        cap = limit;
    char *b = realloc(f->buf, cap);
    if (!b)
        return LF_ENOMEM;
    f->buf = b;
    f->cap = cap;
    return 0;
}

/* fill(): the bytes read may not belong to the content read so far. */
#define FILL_CHANGED (-2)

/* Whether the file's first bytes are no longer those fingerprinted: it was
 * truncated or rewritten (a file shorter than the fingerprint fails too). */
static bool fingerprint_changed(struct lf_tail_file *f)
{
    uint32_t len;
    uint64_t hash;
    if (f->fp_len == 0 || lf_tail_fingerprint(f->fd, f->fp_len, &len, &hash))
        return false;
    return len != f->fp_len || hash != f->fp_hash;
}

/*
 * Reads what the file has past read_pos. Returns bytes read, 0 at end of
 * file, FILL_CHANGED, or -1 (errno, or ENOMEM).
 *
 * A truncation (copytruncate) followed by enough new writes to pass
 * read_pos, between the content checks and this read, would hand us bytes
 * of the new content at the old content's offsets: a cut line, then new
 * lines under the old content id (shipped again once the rewrite is
 * noticed, under the new one). The checks before the read cannot close
 * that window (the input may be held up in between: a long fsync of the
 * output, a busy machine), so the fingerprint is checked again after the
 * read: if the first bytes changed, the truncation may have come before
 * the read, and the bytes are not taken (FILL_CHANGED). Had it come just
 * after, they were the old content's last bytes: the same as a truncation
 * a moment earlier.
 */
static ssize_t fill(struct lf_tail_file *f)
{
    int rc = buffer_room(f);
    if (rc) {
        errno = rc == LF_ENOMEM ? ENOMEM : EOVERFLOW;
        return -1;
    }
    ssize_t n;
    do
        n = pread(f->fd, f->buf + f->end, f->cap - f->end, (off_t)f->read_pos);
    while (n < 0 && errno == EINTR);
    if (n > 0 && fingerprint_changed(f))
        return FILL_CHANGED;
    if (n > 0) {
        f->end += (size_t)n;
        f->read_pos += (uint64_t)n;
    }
    return n;
}

/*
 * Looks for the next complete line. Returns true with it in *l; the buffer
 * is left as it was, so a line the pipeline refused is found again. Without
 * a newline, bytes of a line past max_line are dropped (counted in skipped).
 */
static bool find_line(struct lf_tail_file *f, struct line *l)
{
    size_t max = f->tail->max_line;
    char *nl = f->end > f->scan ? memchr(f->buf + f->scan, '\n', f->end - f->scan) : NULL;
    if (nl) {
        size_t upto = (size_t)(nl - (f->buf + f->start));
        f->scan = (size_t)(nl - f->buf);
        l->p = f->buf + f->start;
        l->len = upto > max ? max : upto;
        l->cut = f->cutting || upto > max;
        l->start = f->pos;
        l->end = f->pos + f->skipped + upto + 1;
        l->next = f->scan + 1;
        return true;
    }
    f->scan = f->end;
    if (f->end - f->start > max) {
        f->skipped += f->end - f->start - max;
        f->end = f->scan = f->start + max;
        f->cutting = true;
    }
    return false;
}

/* The last line without its newline, once the wait for the rest is over. */
static bool partial_line(struct lf_tail_file *f, int64_t now, struct line *l)
{
    if (f->end == f->start && !f->cutting)
        return false;
    if (now - f->grew_ms < f->tail->partial_wait_ms)
        return false;
    l->p = f->buf + f->start;
    l->len = f->end - f->start;
    l->cut = f->cutting;
    l->start = f->pos;
    l->end = f->read_pos;
    l->next = f->end;
    return true;
}

static void consume(struct lf_tail_file *f, const struct line *l)
{
    f->start = f->scan = l->next;
    f->pos = l->end;
    f->skipped = 0;
    f->cutting = false;
    if (f->start == f->end)
        f->start = f->end = f->scan = 0;
}

/* Returns 1 with a line, 0 when there is none yet, FILL_CHANGED (the file
 * was truncated or rewritten; nothing of the new content taken), or -1
 * (read error). */
static int next_line(struct lf_tail_file *f, int64_t now, struct line *l)
{
    for (;;) {
        if (find_line(f, l))
            return 1;
        ssize_t n = fill(f);
        if (n == FILL_CHANGED)
            return FILL_CHANGED;
        if (n < 0)
            return -1;
        if (n == 0)
            return partial_line(f, now, l) ? 1 : 0;
        f->grew_ms = now;
    }
}

/* ---- truncation ---------------------------------------------------------- */

static void restart_at_zero(struct lf_tail_file *f)
{
    new_content(f);
    buffer_drop(f);
    f->pos = f->read_pos = 0;
    f->trunc_wait = false;
    f->fp_len = 0;
    f->fp_hash = lf_registry_fingerprint("", 0);
    f->grew_ms = lf_now_mono_ms();
    if (f->entry) {
        lf_registry_set_offset(f->tail->reg, f->entry, 0);
        lf_registry_set_fingerprint(f->tail->reg, f->entry, 0, f->fp_hash);
    }
}

/* The content the positions refer to is gone (copytruncate, a rewrite): read
 * the file again from 0, once the old content's events are acknowledged. */
static void truncated(struct lf_tail_file *f, uint64_t size, const char *how)
{
    size_t pending = lf_tail_file_pending(f);
    lf_log(LF_LOG_WARN, "tail",
           "%s: %s (size %" PRIu64 ", read up to %" PRIu64 "): reading it again from the start%s",
           f->path, how, size, f->read_pos,
           pending ? " once the events in flight are acknowledged" : "");
    if (f->end > f->start || f->cutting)
        lf_log(LF_LOG_WARN, "tail", "%s: %zu bytes of an unfinished last line are lost", f->path,
               f->end - f->start);
    buffer_drop(f);
    f->ready = true;
    if (pending)
        f->trunc_wait = true;
    else
        restart_at_zero(f);
}

void lf_tail_file_check_content(struct lf_tail_file *f)
{
    struct stat st;
    if (f->fd < 0 || f->trunc_wait || fstat(f->fd, &st) != 0)
        return;
    if ((uint64_t)st.st_size < f->read_pos) {
        truncated(f, (uint64_t)st.st_size, "truncated");
        return;
    }
    uint32_t len;
    uint64_t hash;
    if (f->fp_len == 0 || lf_tail_fingerprint(f->fd, f->fp_len, &len, &hash))
        return;
    if (len != f->fp_len || hash != f->fp_hash)
        truncated(f, (uint64_t)st.st_size, "rewritten (its first bytes changed)");
}

/* ---- emitting ------------------------------------------------------------ */

static void log_cut(struct lf_tail_file *f, const struct line *l, int64_t now)
{
    struct lf_tail *t = f->tail;
    if (now - t->cut_log_ms < CUT_LOG_INTERVAL_MS && t->cut_log_ms) {
        t->cut_unlogged++;
        return;
    }
    char more[64] = "";
    if (t->cut_unlogged)
        snprintf(more, sizeof(more), " (and %" PRIu64 " cut lines since the last report)",
                 t->cut_unlogged);
    lf_log(LF_LOG_WARN, "tail",
           "%s: line at offset %" PRIu64 " is %" PRIu64 " bytes, cut to max_line %zu%s", f->path,
           l->start, l->end - l->start, t->max_line, more);
    t->cut_log_ms = now;
    t->cut_unlogged = 0;
}

static void add_source_fields(struct lf_tail_file *f, struct lf_event *ev, uint64_t offset)
{
    lf_event_remove(ev, "log.file.path", 13);
    lf_event_remove(ev, "log.offset", 10);
    struct lf_field off = {.path = "log.offset", .path_len = 10, .type = LF_VAL_INT};
    off.v.i = (int64_t)offset;
    if (lf_event_add_string(ev, "log.file.path", f->path, strlen(f->path)) ||
        lf_event_add(ev, &off))
        f->tail->base.counters.errors++;
}

/* The grammar's fields, or, if parsing failed (memory, field limits), the
 * bare line: a line is never dropped for its content. */
static void build_event(struct lf_tail_file *f, const struct line *l, int64_t *ts,
                        struct lf_input_counters *c)
{
    struct lf_tail *t = f->tail;
    int rc = lf_parser_parse(t->parser, l->p, l->len, l->cut, &t->ev, ts, c);
    if (rc) {
        lf_log(LF_LOG_WARN, "tail", "%s: line at offset %" PRIu64 " not parsed (%s): shipped bare",
               f->path, l->start, lf_strerror(rc));
        c->errors++;
        *ts = 0;
        lf_event_clear(&t->ev);
        lf_event_add_string(&t->ev, "message", l->p, l->len);
        lf_event_add_tag(&t->ev, "_logferry_parse_error");
    }
    add_source_fields(f, &t->ev, l->start);
}

static void add_counters(struct lf_input_counters *to, const struct lf_input_counters *c)
{
    to->read += c->read;
    to->parsed += c->parsed;
    to->unparsed += c->unparsed;
    to->emitted += c->emitted;
    to->truncated += c->truncated;
    to->errors += c->errors;
}

/* Whether the content id is on disk, so that lines may go out under it. If
 * not, saves the registry now, with the fingerprint, so that a restart
 * resumes this content under this id (or tells it was replaced). A failed
 * save (logged by the registry) is retried after a while. */
static bool content_durable(struct lf_tail_file *f, int64_t now)
{
    if (!f->entry || f->entry->content_saved)
        return true;
    if (f->durable_retry_ms && now < f->durable_retry_ms)
        return false;
    update_fingerprint(f);
    if (lf_registry_content_durable(f->tail->reg, f->entry, now) == 0) {
        f->durable_retry_ms = 0;
        return true;
    }
    f->durable_retry_ms = now + LF_REGISTRY_MIN_INTERVAL_MS;
    return false;
}

/* Returns LF_TAIL_MORE when the line went out (or can never go: logged,
 * counted, settled), else why it must be tried again later. */
static enum lf_tail_run emit_line(struct lf_tail_file *f, const struct line *l, int64_t now)
{
    struct lf_tail *t = f->tail;
    if (!content_durable(f, now))
        return LF_TAIL_IDLE; /* retried at durable_retry_ms */
    if (ackq_ensure(f))
        return LF_TAIL_BLOCKED; /* out of memory: try again later */
    if (lf_ackq_pending(&f->ackq) >= f->ackq.cap) {
        f->wait_acks = true;
        return LF_TAIL_WAIT_ACKS;
    }
    struct lf_input_counters c = {0};
    int64_t ts;
    build_event(f, l, &ts, &c);
    uint64_t seq;
    lf_ackq_push(&f->ackq, l->end, &seq);
    struct lf_emit meta = {.index = t->conf->index,
                           .dataset = t->dataset,
                           .source = f->source,
                           .id_seed = &f->id_seed,
                           .position = l->start,
                           .ts_ms = ts,
                           .ack = &f->ack,
                           .seq = seq};
    int rc = lf_pipeline_emit(t->pipe, &t->ev, &meta);
    if (rc == LF_ELIMIT || rc == LF_ENOMEM) {
        /* Counted when it goes through; the same line is parsed again. */
        lf_ackq_unpush(&f->ackq);
        return LF_TAIL_BLOCKED;
    }
    if (rc) {
        /* The pipeline logged why (an event too large for any batch). */
        c.errors++;
        settle(f, seq);
    } else {
        c.emitted++;
    }
    if (l->cut)
        log_cut(f, l, now);
    add_counters(&t->base.counters, &c);
    return LF_TAIL_MORE;
}

/* ---- driving ------------------------------------------------------------- */

/* fill() found the first bytes changed: read the new content from 0 (once
 * the old content's events are acknowledged). */
static enum lf_tail_run rewritten(struct lf_tail_file *f)
{
    struct stat st;
    uint64_t size = fstat(f->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    truncated(f, size, "truncated or rewritten while being read (its first bytes changed)");
    return f->trunc_wait ? LF_TAIL_WAIT_ACKS : LF_TAIL_MORE;
}

static enum lf_tail_run at_eof(struct lf_tail_file *f)
{
    struct stat st;
    if (fstat(f->fd, &st) == 0 && (uint64_t)st.st_size < f->read_pos) {
        truncated(f, (uint64_t)st.st_size, "truncated");
        return f->trunc_wait ? LF_TAIL_WAIT_ACKS : LF_TAIL_MORE;
    }
    update_fingerprint(f);
    return LF_TAIL_IDLE;
}

enum lf_tail_run lf_tail_file_drive(struct lf_tail_file *f, int64_t now, unsigned budget)
{
    f->active_ms = now;
    if (f->state == LF_TAIL_DONE)
        return LF_TAIL_IDLE;
    if (f->fd < 0)
        return LF_TAIL_NO_FD;
    /* Before reading at read_pos: after a truncate-and-refill the bytes
     * there belong to other lines. */
    lf_tail_file_check_content(f);
    if (f->trunc_wait) {
        if (lf_tail_file_pending(f))
            return LF_TAIL_WAIT_ACKS;
        restart_at_zero(f);
    }
    for (unsigned n = 0; n < budget; n++) {
        struct line l;
        int rc = next_line(f, now, &l);
        if (rc == 0)
            return at_eof(f);
        if (rc == FILL_CHANGED)
            return rewritten(f);
        if (rc < 0) {
            lf_log(LF_LOG_ERROR, "tail", "%s: read at offset %" PRIu64 " failed: %s", f->path,
                   f->read_pos, strerror(errno));
            f->tail->base.counters.errors++;
            return LF_TAIL_FAILED;
        }
        enum lf_tail_run r = emit_line(f, &l, now);
        if (r != LF_TAIL_MORE)
            return r;
        consume(f, &l);
    }
    return LF_TAIL_MORE;
}

/* ---- on disk ------------------------------------------------------------- */

void lf_tail_file_check_path(struct lf_tail_file *f)
{
    struct stat st;
    if (f->state == LF_TAIL_DONE)
        return;
    if (stat(f->path, &st) == 0 && (uint64_t)st.st_dev == f->dev && (uint64_t)st.st_ino == f->ino) {
        if (f->state != LF_TAIL_ACTIVE)
            lf_log(LF_LOG_INFO, "tail", "%s: back at its path", f->path);
        f->state = LF_TAIL_ACTIVE;
        if (f->fd < 0 && (uint64_t)st.st_size != f->read_pos)
            f->ready = true; /* grew (or shrank) while closed */
        return;
    }
    if (f->state != LF_TAIL_ACTIVE)
        return;
    if (f->fd < 0) {
        /* Closed while idle to stay under max_open: what was written
         * between closing and the rotation cannot be reached. */
        lf_log(LF_LOG_WARN, "tail",
               "%s: gone from its path while closed (max_open, or before it was opened); "
               "stopped at offset %" PRIu64,
               f->path, f->pos);
        f->state = LF_TAIL_DONE;
        return;
    }
    struct stat own;
    bool unlinked = fstat(f->fd, &own) == 0 && own.st_nlink == 0;
    f->state = unlinked ? LF_TAIL_DELETED : LF_TAIL_ROTATED;
    f->ready = true;
    lf_log(LF_LOG_INFO, "tail", "%s: %s at offset %" PRIu64 "; reading it to the end", f->path,
           unlinked ? "deleted" : "rotated (renamed or replaced)", f->read_pos);
}

void lf_tail_file_rename(struct lf_tail_file *f, const char *path, int wd)
{
    char *p = strdup(path);
    if (!p || (f->entry && lf_registry_set_path(f->tail->reg, f->entry, path))) {
        free(p);
        return; /* keep the old name; the next rescan tries again */
    }
    lf_log(LF_LOG_INFO, "tail", "%s: renamed to %s; following it there", f->path, path);
    free(f->path);
    f->path = p;
    const char *slash = strrchr(p, '/');
    f->base = slash ? slash + 1 : p;
    f->wd = wd;
    if (f->state == LF_TAIL_ROTATED)
        f->state = LF_TAIL_ACTIVE;
    f->ready = true;
}

int64_t lf_tail_file_deadline(const struct lf_tail_file *f)
{
    if (f->state == LF_TAIL_DONE || f->fd < 0 || f->trunc_wait)
        return -1;
    if (f->durable_retry_ms)
        return f->durable_retry_ms; /* nothing goes out before */
    int64_t d = -1;
    if (f->end > f->start || f->cutting)
        d = f->grew_ms + f->tail->partial_wait_ms;
    if (f->state != LF_TAIL_ACTIVE) {
        int64_t close_at = f->grew_ms + f->tail->rotated_idle_ms;
        if (d < 0 || close_at < d)
            d = close_at;
    }
    return d;
}

/* A rotated or deleted file is finished when it was read to its end, holds
 * no partial line, and has been quiet long enough. */
static void finish_rotated(struct lf_tail_file *f, int64_t now)
{
    if ((f->state != LF_TAIL_ROTATED && f->state != LF_TAIL_DELETED) || f->fd < 0 || f->ready ||
        f->end > f->start || f->cutting || now - f->grew_ms < f->tail->rotated_idle_ms)
        return;
    struct stat st;
    if (fstat(f->fd, &st) == 0 && st.st_nlink == 0)
        f->state = LF_TAIL_DELETED; /* rotated away, then removed */
    lf_log(LF_LOG_INFO, "tail", "%s: finished %s file at offset %" PRIu64 "; closing it", f->path,
           f->state == LF_TAIL_DELETED ? "deleted" : "rotated", f->read_pos);
    lf_tail_file_close(f);
    f->unlinked = f->state == LF_TAIL_DELETED;
    f->state = LF_TAIL_DONE;
}

bool lf_tail_file_sweep(struct lf_tail_file *f, int64_t now)
{
    finish_rotated(f, now);
    if (f->state == LF_TAIL_DONE)
        f->ready = false;
    if (f->ready || (f->state != LF_TAIL_DONE && now - f->grew_ms < REST_MS))
        return false;
    /* At rest: give back the buffer and the queue (a long line's megabyte,
     * the ring of the last burst), so that many idle files cost little. */
    if (f->buf && f->start == f->end && !f->cutting) {
        free(f->buf);
        f->buf = NULL;
        f->cap = f->start = f->end = f->scan = 0;
    }
    bool settled = lf_tail_file_pending(f) == 0;
    if (settled && f->ackq_live) {
        lf_ackq_free(&f->ackq);
        f->ackq_live = false;
    }
    return f->state == LF_TAIL_DONE && settled;
}
