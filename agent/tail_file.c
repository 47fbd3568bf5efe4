/*
 * tail_file.c - one followed file: its lines, its positions and what
 * happens to it on disk.
 *
 * Lines are read with pread() at an explicit offset into the input's one
 * read buffer (tail_int.h), bounded by max_line plus one read chunk. A line
 * longer than max_line keeps its first max_line bytes; the rest is dropped
 * as it is read, up to the newline, and the line is shipped cut once that
 * newline is found, so its acknowledged position is the end of the whole
 * line and a restart never lands inside it. A last line without a newline
 * is shipped as is once the file has not grown for partial_wait_ms; its
 * bytes count as consumed, so what follows later starts a new line. A file
 * that loses the buffer to another file reads again what it had not
 * consumed (a partial line, lines the pipeline refused); only a cut line's
 * first max_line bytes are kept aside.
 *
 * A drive starts with one fstat(): a size equal to what was read means
 * there is nothing to do, so an idle or blocked file costs one system call
 * per look, and no memory but its queue (empty at rest) and this struct.
 *
 * Every shipped line pushes "the offset after it" on the file's
 * acknowledgement queue; the registry entry moves to the queue's committed
 * position when the output acknowledges, never further.
 *
 * On disk: a size below what was read, or different first bytes (the
 * fingerprint), means the content the positions count bytes of has left the
 * inode (copytruncate; a rewrite). If bytes of it were not read yet, its
 * copy is looked for in the directory (same first bytes, at least as large
 * as the position: tail_find.c) and, found, this file follows the copy from
 * the position it had, under the same content id: the same _ids, nothing
 * lost however far behind the agent was. The inode itself gets a new content
 * id and is read again from 0 (the next rescan finds it). Unread bytes
 * that are nowhere to be found are reported with their count. A path that
 * no longer names the file means rotation or deletion: the open descriptor
 * is read to the end and kept until the writer has been quiet for a while.
 *
 * Copies: a file started at 0 as new content (`fresh`) is checked before
 * its first line goes out. If its first bytes are those of a file followed
 * in the same directory, and its bytes are that file's (a copy made by
 * copytruncate that a glob matches), it is not read (COPY): the original
 * is, and if the original is truncated it takes the copy over. A copy that
 * changes size is checked again, as new content. So a glob that matches
 * rotated copies ships each line once. A copy is never given the content id
 * of a file it only starts like: if it went on differently, its lines would
 * take the _ids of other lines at the same offsets, and Elasticsearch
 * would keep those.
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
/* A file that has not grown for this long gives back its queue's memory. */
#define REST_MS 5000
/* A fresh file that cannot be told from a copy yet: looked at again then. */
#define FRESH_RETRY_MS 200

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
    return lf_ackq_pending(&f->ackq);
}

static struct lf_tail_file *file_of(struct lf_ack_target *a)
{
    return (struct lf_tail_file *)(void *)((char *)a - offsetof(struct lf_tail_file, ack));
}

/* The position is settled: move the registry, wake a paused file. */
static void settle(struct lf_tail_file *f, uint64_t seq)
{
    lf_ackq_ack(&f->ackq, seq);
    if (f->entry)
        lf_registry_set_offset(f->tail->reg, f->entry, lf_ackq_committed(&f->ackq));
    if (f->wait_acks) {
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

/* ---- the buffer ---------------------------------------------------------- */

static void buffer_reset(struct lf_tail_file *f)
{
    f->start = f->end = f->scan = 0;
}

/* Gives the input's read buffer up: what was read and not consumed is read
 * again next time, but for a cut line's first bytes, kept aside (the rest
 * of that line was dropped as it was read). */
static void buffer_release(struct lf_tail_file *f)
{
    struct lf_tail *t = f->tail;
    if (t->rbuf_owner != f)
        return;
    t->rbuf_owner = NULL;
    if (f->cutting) {
        size_t n = f->end - f->start;
        char *keep = n ? malloc(n) : NULL;
        if (keep || !n) {
            if (n)
                memcpy(keep, t->rbuf + f->start, n);
            f->cut_buf = keep;
            f->cut_len = n;
        } else {
            /* Out of memory: read the line again from its start. */
            f->cutting = false;
            f->skipped = 0;
            f->read_pos = f->pos;
        }
    } else {
        f->read_pos = f->pos;
    }
    buffer_reset(f);
}

/* Forgets what was read and not consumed, and a cut line in progress. */
static void buffer_drop(struct lf_tail_file *f)
{
    if (f->tail->rbuf_owner == f)
        f->tail->rbuf_owner = NULL;
    buffer_reset(f);
    free(f->cut_buf);
    f->cut_buf = NULL;
    f->cut_len = 0;
    f->skipped = 0;
    f->cutting = false;
    f->read_pos = f->pos;
}

/* Grows the input's buffer to at least `want` bytes, within max_line plus
 * one chunk. */
static int buffer_grow(struct lf_tail *t, size_t want)
{
    size_t limit = t->max_line + LF_TAIL_READ_CHUNK;
    if (t->rcap >= want || t->rcap >= limit)
        return t->rcap >= want ? 0 : LF_ELIMIT;
    size_t cap = t->rcap ? t->rcap : LF_TAIL_READ_CHUNK;
    while (cap < want && cap < limit)
        cap *= 2;
    if (cap > limit)
        cap = limit;
    char *b = realloc(t->rbuf, cap);
    if (!b)
        return LF_ENOMEM;
    t->rbuf = b;
    t->rcap = cap;
    return 0;
}

/* Takes the input's buffer for f (the previous holder gives it up).
 * Returns 0 or LF_ENOMEM. */
static int buffer_take(struct lf_tail_file *f)
{
    struct lf_tail *t = f->tail;
    if (t->rbuf_owner == f)
        return 0;
    size_t want = f->cut_len + LF_TAIL_READ_CHUNK;
    int rc = buffer_grow(t, want);
    if (rc == LF_ENOMEM)
        return rc;
    if (t->rbuf_owner)
        buffer_release(t->rbuf_owner);
    t->rbuf_owner = f;
    buffer_reset(f);
    if (f->cut_buf) {
        memcpy(t->rbuf, f->cut_buf, f->cut_len);
        f->end = f->scan = f->cut_len;
        free(f->cut_buf);
        f->cut_buf = NULL;
        f->cut_len = 0;
    }
    return 0;
}

/* Makes room for at least one read chunk after `end`, within the cap of
 * max_line + one chunk (enough: `end - start` never exceeds max_line when
 * more bytes are wanted). */
static int buffer_room(struct lf_tail_file *f)
{
    struct lf_tail *t = f->tail;
    if (f->start > 0 && t->rcap - f->end < LF_TAIL_READ_CHUNK) {
        memmove(t->rbuf, t->rbuf + f->start, f->end - f->start);
        f->end -= f->start;
        f->scan -= f->start;
        f->start = 0;
    }
    if (t->rcap - f->end >= LF_TAIL_READ_CHUNK)
        return 0;
    int rc = buffer_grow(t, f->end + LF_TAIL_READ_CHUNK);
    if (rc == LF_ELIMIT)
        return t->rcap > f->end ? 0 : LF_ELIMIT;
    return rc;
}

/* ---- life ---------------------------------------------------------------- */

static void retire_holder(struct lf_tail *t, const struct lf_tail_file *except, uint64_t dev,
                          uint64_t ino);

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

/* Takes `path` (malloc'ed) as the file's name. */
static void set_path(struct lf_tail_file *f, char *path)
{
    free(f->path);
    f->path = path;
    const char *slash = strrchr(path, '/');
    f->base = slash ? slash + 1 : path;
    f->dir_len = slash ? (slash == path ? 1 : (size_t)(slash - path)) : 0;
}

/* Moves a file with nothing in flight to `offset` of its content. */
static void set_position(struct lf_tail_file *f, uint64_t offset)
{
    buffer_drop(f);
    f->pos = f->read_pos = f->seen_end = offset;
    f->at_size = false;
    lf_ackq_free(&f->ackq);
    lf_ackq_init(&f->ackq, f->tail->ackq_cap, offset);
    if (f->entry)
        lf_registry_set_offset(f->tail->reg, f->entry, offset);
}

static struct lf_tail_file *file_new(struct lf_tail *t, const char *path, const struct stat *st,
                                     uint64_t offset, int wd)
{
    struct lf_tail_file *f = calloc(1, sizeof(*f));
    char *p = strdup(path);
    if (!f || !p) {
        free(f);
        free(p);
        return NULL;
    }
    set_path(f, p);
    f->tail = t;
    f->wd = wd;
    f->dev = (uint64_t)st->st_dev;
    f->ino = (uint64_t)st->st_ino;
    f->fd = -1;
    f->pos = f->read_pos = f->seen_end = offset;
    f->size = (uint64_t)st->st_size;
    f->grew_ms = f->active_ms = lf_now_mono_ms();
    f->ready = true;
    f->fp_hash = lf_registry_fingerprint("", 0);
    f->ack.safe = on_safe;
    f->ack.failed = on_failed;
    lf_ackq_init(&f->ackq, t->ackq_cap, offset);
    return f;
}

struct lf_tail_file *lf_tail_file_create(struct lf_tail *t, const char *path, const struct stat *st,
                                         uint64_t offset, int wd, bool new_content_id)
{
    struct lf_tail_file *f = file_new(t, path, st, offset, wd);
    if (!f)
        return NULL;
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
    f->fresh = new_content_id && offset == 0;
    lf_registry_set_offset(t->reg, f->entry, offset);
    lf_registry_set_size(f->entry, f->size);
    if (!new_content_id) {
        /* Resumed: the caller checked the file still starts with these
         * bytes; other files are compared with them before it is opened. */
        f->fp_len = f->entry->fp_len;
        f->fp_hash = f->entry->fp_hash;
    } else {
        /* Computed from the file when it is opened. */
        lf_registry_set_fingerprint(t->reg, f->entry, 0, f->fp_hash);
    }
    return f;
fail:
    lf_tail_file_destroy(f);
    return NULL;
}

/* Gives f the registry entry of its (new) inode, for content `cid` at the
 * committed position: the inode's own entry, taken from whoever had it, or a
 * new one. */
static void take_entry(struct lf_tail_file *f, uint64_t cid)
{
    struct lf_tail *t = f->tail;
    struct lf_registry_entry *e =
        lf_registry_add(t->reg, f->dev, f->ino, f->path, lf_now_wall_ms());
    f->entry = e;
    if (!e) {
        lf_log(LF_LOG_ERROR, "tail", "%s: out of memory; its position is not saved", f->path);
        return;
    }
    if (e->owner && e->owner != f)
        ((struct lf_tail_file *)e->owner)->entry = NULL;
    e->owner = f;
    lf_registry_set_path(t->reg, e, f->path);
    lf_registry_set_content(t->reg, e, cid);
    lf_registry_set_offset(t->reg, e, lf_ackq_committed(&f->ackq));
    lf_registry_set_fingerprint(t->reg, e, f->fp_len, f->fp_hash);
    lf_registry_set_size(e, f->size);
}

struct lf_tail_file *lf_tail_file_recovered(struct lf_tail *t, const char *path, int fd,
                                            const struct stat *st, uint64_t content_id,
                                            uint64_t offset, uint32_t fp_len, uint64_t fp_hash,
                                            int wd)
{
    struct lf_tail_file *f = file_new(t, path, st, offset, wd);
    if (!f) {
        close(fd);
        return NULL;
    }
    retire_holder(t, NULL, f->dev, f->ino);
    f->fd = fd;
    t->nopen++;
    f->state = LF_TAIL_ROTATED;
    f->recovered = true;
    f->fp_len = fp_len;
    f->fp_hash = fp_hash;
    take_content_id(f, content_id);
    take_entry(f, content_id);
    return f;
}

void lf_tail_file_destroy(struct lf_tail_file *f)
{
    if (!f)
        return;
    lf_tail_file_close(f);
    if (f->tail->rbuf_owner == f)
        f->tail->rbuf_owner = NULL;
    if (f->entry && f->entry->owner == f) {
        f->entry->owner = NULL;
        if (f->unlinked || f->state == LF_TAIL_DELETED)
            lf_registry_remove(f->tail->reg, f->entry);
    }
    lf_ackq_free(&f->ackq);
    free(f->cut_buf);
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
    ssize_t n;
    if (f->fp_len >= LF_REGISTRY_FP_MAX || f->seen_end <= f->fp_len || f->fd < 0)
        return;
    do
        n = pread(f->fd, f->head, sizeof(f->head), 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return;
    f->head_len = f->fp_len = (uint32_t)n;
    f->fp_hash = lf_registry_fingerprint(f->head, (size_t)n);
    if (f->entry)
        lf_registry_set_fingerprint(f->tail->reg, f->entry, f->fp_len, f->fp_hash);
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
    return f->fd >= 0 && f->state == LF_TAIL_ACTIVE && !f->ready && f->seen_end == f->pos &&
           !f->cutting && !f->blocked && !f->wait_acks;
}

/* ---- reading lines ------------------------------------------------------- */

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
 * file, FILL_CHANGED, or -1 (errno, or ENOMEM). Once a read reaches the size
 * the drive started with, the end is known without another read: growth
 * after that look comes with an inotify event (or the next tick).
 *
 * A truncation (copytruncate) followed by enough new writes to pass
 * read_pos, between the look at the size and this read, would hand us
 * bytes of the new content at the old content's offsets: a cut line, then
 * new lines under the old content id (shipped again once the rewrite is
 * noticed, under the new one). The look before the read cannot close that
 * window (the input may be held up in between: a long fsync of the output,
 * a busy machine), so the fingerprint is checked after the read: if the
 * first bytes changed, the truncation may have come before the read, and
 * the bytes are not taken (FILL_CHANGED). Had it come just after, they were
 * the old content's last bytes: the same as a truncation a moment earlier.
 */
static ssize_t fill(struct lf_tail_file *f, int64_t now)
{
    if (f->at_size)
        return 0;
    int rc = buffer_room(f);
    if (rc) {
        errno = rc == LF_ENOMEM ? ENOMEM : EOVERFLOW;
        return -1;
    }
    struct lf_tail *t = f->tail;
    ssize_t n;
    do
        n = pread(f->fd, t->rbuf + f->end, t->rcap - f->end, (off_t)f->read_pos);
    while (n < 0 && errno == EINTR);
    if (n > 0 && fingerprint_changed(f))
        return FILL_CHANGED;
    if (n > 0) {
        f->end += (size_t)n;
        f->read_pos += (uint64_t)n;
        if (f->read_pos > f->seen_end) {
            f->seen_end = f->read_pos;
            f->grew_ms = now;
        }
    }
    if (n == 0 || f->read_pos >= f->size)
        f->at_size = true;
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
    char *buf = f->tail->rbuf;
    char *nl = f->end > f->scan ? memchr(buf + f->scan, '\n', f->end - f->scan) : NULL;
    if (nl) {
        size_t upto = (size_t)(nl - (buf + f->start));
        f->scan = (size_t)(nl - buf);
        l->p = buf + f->start;
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
    l->p = f->tail->rbuf + f->start;
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
        buffer_reset(f);
}

/* Returns 1 with a line, 0 when there is none yet, FILL_CHANGED (the file
 * was truncated or rewritten; nothing of the new content taken), or -1
 * (read error). */
static int next_line(struct lf_tail_file *f, int64_t now, struct line *l)
{
    for (;;) {
        if (find_line(f, l))
            return 1;
        ssize_t n = fill(f, now);
        if (n == FILL_CHANGED)
            return FILL_CHANGED;
        if (n < 0)
            return -1;
        if (n == 0)
            return partial_line(f, now, l) ? 1 : 0;
    }
}

/* ---- the content leaves the inode ---------------------------------------- */

bool lf_tail_inode_taken(struct lf_tail *t, const struct lf_tail_file *except, uint64_t dev,
                         uint64_t ino)
{
    for (size_t i = 0; i < t->nfiles; i++) {
        struct lf_tail_file *g = t->files[i];
        if (g != except && g->ino == ino && g->dev == dev && g->state != LF_TAIL_DONE &&
            g->state != LF_TAIL_COPY && !g->fresh)
            return true;
    }
    struct lf_registry_entry *e = lf_registry_find(t->reg, dev, ino);
    return e && e->owner && ((struct lf_tail_file *)e->owner)->tail != t;
}

/* lf_tail_want.taken for a search by f. */
static bool taken_by_other(void *arg, uint64_t dev, uint64_t ino)
{
    struct lf_tail_file *f = arg;
    return lf_tail_inode_taken(f->tail, f, dev, ino);
}

/* A fresh file or a copy of this input on an inode whose content a file
 * (not `except`) now follows there ends: it had read nothing. */
static void retire_holder(struct lf_tail *t, const struct lf_tail_file *except, uint64_t dev,
                          uint64_t ino)
{
    for (size_t i = 0; i < t->nfiles; i++) {
        struct lf_tail_file *g = t->files[i];
        if (g == except || g->ino != ino || g->dev != dev || g->state == LF_TAIL_DONE)
            continue;
        lf_tail_file_close(g);
        buffer_drop(g);
        g->state = LF_TAIL_DONE;
        g->ready = false;
        if (g->entry && g->entry->owner == g)
            g->entry->owner = NULL;
        g->entry = NULL;
    }
}

/* f follows its content where it was found (`found`, taken over): read
 * only, to its end, under the same content id from the same position. */
static void move_to(struct lf_tail_file *f, struct lf_tail_found *found)
{
    struct lf_tail *t = f->tail;
    retire_holder(t, f, (uint64_t)found->st.st_dev, (uint64_t)found->st.st_ino);
    lf_tail_file_close(f);
    buffer_drop(f);
    f->fd = found->fd;
    t->nopen++;
    set_path(f, found->path);
    found->path = NULL;
    f->dev = (uint64_t)found->st.st_dev;
    f->ino = (uint64_t)found->st.st_ino;
    f->size = (uint64_t)found->st.st_size;
    f->state = LF_TAIL_ROTATED;
    f->recovered = true;
    f->seen_end = f->read_pos = f->pos;
    f->at_size = false;
    f->ready = true;
    f->grew_ms = lf_now_mono_ms();
    if (f->entry && f->entry->owner == f && (f->entry->dev != f->dev || f->entry->ino != f->ino))
        f->entry->owner = NULL;
    take_entry(f, f->content_id);
}

/* The copy `found` of f's content holds only what f read: its entry says
 * it was read to its end, so that a glob that matches it resumes it there
 * instead of reading it again. Under a content id of its own: lines written
 * to it later, if any, must not take the _ids of f's lines at the same
 * offsets. */
static void copy_read(struct lf_tail_file *f, const struct lf_tail_found *found)
{
    struct lf_tail *t = f->tail;
    uint64_t dev = (uint64_t)found->st.st_dev, ino = (uint64_t)found->st.st_ino;
    retire_holder(t, f, dev, ino);
    struct lf_registry_entry *e = lf_registry_add(t->reg, dev, ino, found->path, lf_now_wall_ms());
    if (!e || e->owner)
        return;
    lf_registry_set_path(t->reg, e, found->path);
    lf_registry_set_offset(t->reg, e, (uint64_t)found->st.st_size);
    lf_registry_set_fingerprint(t->reg, e, f->fp_len, f->fp_hash);
    lf_registry_set_size(e, (uint64_t)found->st.st_size);
}

/* Looks for f's content in its directory (the inode it was on first,
 * unless `skip_ino`), holding at least `min_size` bytes. */
static int find_again(struct lf_tail_file *f, uint64_t min_size, uint64_t skip_ino,
                      struct lf_tail_found *found)
{
    struct lf_tail_want w = {.dev = f->dev,
                             .ino = skip_ino ? 0 : f->ino,
                             .fp_len = f->fp_len,
                             .fp_hash = f->fp_hash,
                             .min_size = min_size,
                             .skip_ino = skip_ino,
                             .taken = taken_by_other,
                             .arg = f};
    return lf_tail_find_content(f->path, f->dir_len, &w, found);
}

/*
 * The content the positions count bytes of is no longer on f's inode
 * (`how`: truncated, or its first bytes changed); `known` is how large it
 * was last seen. The inode gets a new content id at offset 0, for the next
 * rescan to read; f looks for a copy of what it had not read and follows it
 * there, or reports those bytes lost and ends. Events in flight stay with
 * f and move the copy's entry when acknowledged.
 */
static enum lf_tail_run content_left(struct lf_tail_file *f, uint64_t known, uint64_t size_now,
                                     const char *how)
{
    struct lf_tail *t = f->tail;
    if (known < f->seen_end)
        known = f->seen_end;
    uint64_t unread = known > f->pos ? known - f->pos : 0;
    buffer_drop(f);
    struct lf_registry_entry *e = f->entry;
    if (e && e->owner == f) {
        e->owner = NULL;
        lf_registry_new_content(t->reg, e);
        lf_registry_set_offset(t->reg, e, 0);
        lf_registry_set_fingerprint(t->reg, e, 0, lf_registry_fingerprint("", 0));
        lf_registry_set_size(e, size_now);
    }
    f->entry = NULL;
    t->rescan = true;
    /* Looked for even when everything was read: its copy, if a glob
     * matches it, must be known as content already read. */
    struct lf_tail_found found;
    int rc = f->fp_len ? find_again(f, f->fp_len, f->ino, &found) : LF_ENOENT;
    if (rc == 0 && (uint64_t)found.st.st_size >= f->pos) {
        if (unread || (uint64_t)found.st.st_size > f->pos)
            lf_log(LF_LOG_INFO, "tail",
                   "%s: %s (size %" PRIu64 ") while %" PRIu64 " bytes were not read yet: "
                   "finishing them in its copy %s from offset %" PRIu64
                   "; the new content is read from 0",
                   f->path, how, size_now, (uint64_t)found.st.st_size - f->pos, found.path, f->pos);
        else
            lf_log(LF_LOG_INFO, "tail",
                   "%s: %s (size %" PRIu64 ", read up to %" PRIu64
                   "): reading it again from the start; its copy %s holds nothing more",
                   f->path, how, size_now, f->pos, found.path);
        move_to(f, &found);
        return LF_TAIL_MORE;
    }
    if (rc == 0) {
        /* Copied before its last lines were written (and read here): the
         * copy holds nothing new. Its entry says so, for a glob that
         * matches it. The lines written after the copy and not read are
         * on disk nowhere. */
        lf_log(LF_LOG_INFO, "tail", "%s: its copy %s holds only lines read already", f->path,
               found.path);
        copy_read(f, &found);
        close(found.fd);
        free(found.path);
    }
    if (unread)
        lf_log(LF_LOG_WARN, "tail",
               "%s: %s (size %" PRIu64 ") with %" PRIu64 " bytes not read yet (offset %" PRIu64
               " of %" PRIu64 "), and no copy of them in its directory: those bytes are lost",
               f->path, how, size_now, unread, f->pos, known);
    else
        lf_log(LF_LOG_INFO, "tail",
               "%s: %s (size %" PRIu64 ", read up to %" PRIu64 "): reading it again from the start",
               f->path, how, size_now, f->pos);
    lf_tail_file_close(f);
    f->state = LF_TAIL_DONE;
    f->ready = false;
    return LF_TAIL_IDLE;
}

/* ---- fresh content: a copy of content known? ------------------------------- */

/* The descriptor of g's file, opened by path if g has none (*opened). */
static int fd_of(struct lf_tail_file *g, bool *opened)
{
    *opened = false;
    if (g->fd >= 0)
        return g->fd;
    int fd = open(g->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd >= 0 &&
        (fstat(fd, &st) != 0 || (uint64_t)st.st_ino != g->ino || (uint64_t)st.st_dev != g->dev)) {
        close(fd);
        fd = -1;
    }
    *opened = fd >= 0;
    return fd;
}

enum fresh_verdict { FRESH_NEW, FRESH_COPY, FRESH_WAIT };

/* Whether f (whose first n bytes are head) is a copy of what g reads. */
static enum fresh_verdict copy_of(struct lf_tail_file *f, const char *head, size_t n,
                                  uint64_t head_hash, struct lf_tail_file *g)
{
    /* The fingerprint tells quickly (head_hash: of all n bytes); a file
     * shorter than it (g's own is short while g is) is compared with the
     * first bytes g keeps, if it read them, else with g's file. */
    bool by_hash = n >= g->fp_len;
    uint64_t h = !by_hash         ? 0
                 : g->fp_len == n ? head_hash
                                  : lf_registry_fingerprint(head, g->fp_len);
    if (g->fp_len == 0 || (by_hash && h != g->fp_hash) ||
        (!by_hash && g->head_len >= n && memcmp(head, g->head, n) != 0))
        return FRESH_NEW;
    bool opened;
    int gfd = fd_of(g, &opened);
    if (gfd < 0)
        return FRESH_NEW;
    enum fresh_verdict v = FRESH_NEW;
    struct stat gst;
    uint32_t len;
    uint64_t hash;
    if (fstat(gfd, &gst) == 0 && f->size <= (uint64_t)gst.st_size &&
        lf_tail_same_bytes(f->fd, gfd, f->size)) {
        v = FRESH_COPY;
    } else if (by_hash &&
               (lf_tail_fingerprint(gfd, g->fp_len, &len, &hash) != 0 || len != g->fp_len ||
                hash != g->fp_hash || (uint64_t)gst.st_size < g->seen_end)) {
        /* g's content has left its inode and g has not noticed yet: f may
         * be its copy. g looks now; f waits for what it decides. */
        g->ready = true;
        v = FRESH_WAIT;
    }
    if (opened)
        close(gfd);
    return v;
}

/* A copy that changed size is written to: not a copy after all (or a copy
 * still being made). Checked again as new content from 0. */
static void copy_changed(struct lf_tail_file *f)
{
    struct lf_tail *t = f->tail;
    struct lf_registry_entry *e =
        lf_registry_add(t->reg, f->dev, f->ino, f->path, lf_now_wall_ms());
    if (!e || (e->owner && e->owner != f))
        return;
    lf_log(LF_LOG_DEBUG, "tail", "%s: the copy changed; looking at it again", f->path);
    e->owner = f;
    f->entry = e;
    lf_registry_new_content(t->reg, e);
    take_content_id(f, e->content_id);
    set_position(f, 0);
    lf_registry_set_fingerprint(t->reg, e, 0, lf_registry_fingerprint("", 0));
    f->fp_len = f->head_len = 0;
    f->fp_hash = lf_registry_fingerprint("", 0);
    f->state = LF_TAIL_ACTIVE;
    f->fresh = true;
    f->fresh_retry_ms = 0;
}

/*
 * Checks a fresh file before its first line goes out (see the top of the
 * file). Returns LF_TAIL_MORE to read it, LF_TAIL_IDLE when it is not to
 * be read (a copy) or cannot be told yet (fresh_retry_ms).
 */
static enum lf_tail_run check_fresh(struct lf_tail_file *f, int64_t now)
{
    struct lf_tail *t = f->tail;
    if (f->fresh_retry_ms && now < f->fresh_retry_ms)
        return LF_TAIL_IDLE;
    char head[LF_REGISTRY_FP_MAX];
    ssize_t n;
    do
        n = pread(f->fd, head, sizeof(head), 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n == 0 ? LF_TAIL_IDLE : LF_TAIL_MORE; /* a read error shows when reading */
    bool wait = false;
    uint64_t head_hash = lf_registry_fingerprint(head, (size_t)n);
    for (size_t i = 0; i < t->nfiles; i++) {
        struct lf_tail_file *g = t->files[i];
        if (g == f || g->state == LF_TAIL_DONE || g->state == LF_TAIL_COPY || g->fresh ||
            g->dir_len != f->dir_len || memcmp(g->path, f->path, f->dir_len) != 0)
            continue;
        enum fresh_verdict v = copy_of(f, head, (size_t)n, head_hash, g);
        if (v == FRESH_COPY) {
            lf_log(LF_LOG_INFO, "tail",
                   "%s: a copy of %s (the same bytes): not read, its lines come from %s", f->path,
                   g->path, g->path);
            lf_tail_file_close(f);
            buffer_drop(f);
            f->state = LF_TAIL_COPY;
            f->fresh = false;
            f->fresh_retry_ms = 0;
            if (f->entry && f->entry->owner == f)
                lf_registry_remove(t->reg, f->entry);
            f->entry = NULL;
            return LF_TAIL_IDLE;
        }
        wait = wait || v == FRESH_WAIT;
    }
    /* Undecided: wait for the other file to look at its own content, but
     * not for ever (a new file that happens to start like another). */
    if (wait && now - f->grew_ms < t->rotated_idle_ms) {
        f->fresh_retry_ms = now + FRESH_RETRY_MS;
        t->wake = true;
        return LF_TAIL_IDLE;
    }
    f->fresh = false;
    f->fresh_retry_ms = 0;
    return LF_TAIL_MORE;
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

/* The grammar's fields (or the JSON object's), or, if parsing failed
 * (memory, field limits), the bare line: a line is never dropped for its
 * content. */
static void build_event(struct lf_tail_file *f, const struct line *l, int64_t *ts,
                        struct lf_input_counters *c)
{
    struct lf_tail *t = f->tail;
    if (!f->parser)
        f->parser = lf_parser_for_source(t->parser, f->path);
    int rc = t->json ? lf_jsonlines_parse(t->json, f->parser, l->p, l->len, l->cut, &t->ev, ts, c)
                     : lf_parser_parse(f->parser, l->p, l->len, l->cut, &t->ev, ts, c);
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
    uint64_t seq;
    int rc = lf_ackq_push(&f->ackq, l->end, &seq);
    if (rc == LF_ELIMIT) {
        f->wait_acks = true;
        return LF_TAIL_WAIT_ACKS;
    }
    if (rc)
        return LF_TAIL_BLOCKED; /* out of memory: try again later */
    struct lf_input_counters c = {0};
    int64_t ts;
    build_event(f, l, &ts, &c);
    struct lf_emit meta = {.index = t->conf->index,
                           .dataset = t->dataset,
                           .source = f->source,
                           .id_seed = &f->id_seed,
                           .position = l->start,
                           .ts_ms = ts,
                           .ack = &f->ack,
                           .seq = seq};
    rc = lf_pipeline_emit(t->pipe, &t->ev, &meta);
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

enum lf_tail_run lf_tail_file_drive(struct lf_tail_file *f, int64_t now, unsigned budget)
{
    f->active_ms = now;
    if (f->state == LF_TAIL_DONE)
        return LF_TAIL_IDLE;
    if (f->fd < 0)
        return LF_TAIL_NO_FD;
    f->blocked = false;
    struct stat st;
    if (fstat(f->fd, &st) != 0) {
        lf_log(LF_LOG_ERROR, "tail", "%s: fstat: %s", f->path, strerror(errno));
        f->tail->base.counters.errors++;
        return LF_TAIL_FAILED;
    }
    if (f->state == LF_TAIL_COPY) {
        if ((uint64_t)st.st_size == f->size) {
            lf_tail_file_close(f); /* opened to look: nothing to read */
            return LF_TAIL_IDLE;
        }
        copy_changed(f);
    }
    uint64_t known = f->size, size = (uint64_t)st.st_size;
    f->size = size;
    if (f->entry)
        lf_registry_set_size(f->entry, size);
    if (size < f->seen_end)
        return content_left(f, known, size, "truncated");
    if (f->fresh && size > 0) {
        enum lf_tail_run r = check_fresh(f, now);
        if (r != LF_TAIL_MORE)
            return r;
    }
    /* Nothing new and nothing held: done with one fstat(). */
    if (size == f->seen_end && f->seen_end == f->pos && !f->cutting) {
        update_fingerprint(f);
        return LF_TAIL_IDLE;
    }
    if (buffer_take(f)) {
        lf_log(LF_LOG_ERROR, "tail", "%s: out of memory for the read buffer", f->path);
        f->tail->base.counters.errors++;
        return LF_TAIL_FAILED;
    }
    f->at_size = f->read_pos >= size;
    for (unsigned n = 0; n < budget; n++) {
        struct line l;
        int rc = next_line(f, now, &l);
        if (rc == 0) {
            update_fingerprint(f);
            return LF_TAIL_IDLE;
        }
        if (rc == FILL_CHANGED)
            return content_left(
                f, known, size,
                "truncated or rewritten while being read (its first bytes changed)");
        if (rc < 0) {
            lf_log(LF_LOG_ERROR, "tail", "%s: read at offset %" PRIu64 " failed: %s", f->path,
                   f->read_pos, strerror(errno));
            f->tail->base.counters.errors++;
            return LF_TAIL_FAILED;
        }
        enum lf_tail_run r = emit_line(f, &l, now);
        if (r == LF_TAIL_BLOCKED)
            f->blocked = true;
        if (r != LF_TAIL_MORE)
            return r;
        consume(f, &l);
    }
    return LF_TAIL_MORE;
}

/* ---- on disk ------------------------------------------------------------- */

/* A file closed to stay under max_open is no longer at its path: look for
 * it (a rename keeps its inode; a copy its first bytes) in its directory,
 * and finish it there. */
static void lost_while_closed(struct lf_tail_file *f)
{
    struct lf_tail_found found;
    if (find_again(f, f->pos, 0, &found) == 0) {
        lf_log(LF_LOG_INFO, "tail",
               "%s: %s while closed (max_open); finishing it there from offset %" PRIu64, f->path,
               (uint64_t)found.st.st_ino == f->ino ? "renamed to" : "copied to", f->pos);
        lf_log(LF_LOG_INFO, "tail", "%s: now %s", f->path, found.path);
        if (f->entry && f->entry->owner == f &&
            (f->entry->ino != (uint64_t)found.st.st_ino ||
             f->entry->dev != (uint64_t)found.st.st_dev)) {
            lf_registry_remove(f->tail->reg, f->entry);
            f->entry = NULL;
        }
        move_to(f, &found);
        return;
    }
    if (f->size > f->pos)
        lf_log(LF_LOG_WARN, "tail",
               "%s: gone from its path while closed (max_open), and not found in its directory: "
               "%" PRIu64 " bytes not read (offset %" PRIu64 " of %" PRIu64 ") are lost",
               f->path, f->size - f->pos, f->pos, f->size);
    else
        lf_log(LF_LOG_INFO, "tail",
               "%s: gone from its path while closed (max_open), read to its end (offset %" PRIu64
               ")",
               f->path, f->pos);
    f->state = LF_TAIL_DONE;
}

void lf_tail_file_check_path(struct lf_tail_file *f)
{
    struct stat st;
    if (f->state == LF_TAIL_DONE)
        return;
    if (stat(f->path, &st) == 0 && (uint64_t)st.st_dev == f->dev && (uint64_t)st.st_ino == f->ino) {
        if (f->recovered || f->state == LF_TAIL_COPY)
            return; /* finished, never followed as a live file */
        if (f->state != LF_TAIL_ACTIVE)
            lf_log(LF_LOG_INFO, "tail", "%s: back at its path", f->path);
        f->state = LF_TAIL_ACTIVE;
        if (f->fd < 0 && (uint64_t)st.st_size != f->seen_end)
            f->ready = true; /* grew (or shrank) while closed */
        return;
    }
    if (f->state == LF_TAIL_COPY) {
        f->state = LF_TAIL_DONE; /* nothing was read from it */
        return;
    }
    if (f->state != LF_TAIL_ACTIVE)
        return;
    if (f->fd < 0) {
        lost_while_closed(f);
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
    set_path(f, p);
    f->wd = wd;
    if (f->state == LF_TAIL_ROTATED && !f->recovered)
        f->state = LF_TAIL_ACTIVE;
    f->ready = true;
}

int64_t lf_tail_file_deadline(const struct lf_tail_file *f)
{
    if (f->state == LF_TAIL_DONE || f->state == LF_TAIL_COPY || f->fd < 0)
        return -1;
    if (f->fresh && f->fresh_retry_ms)
        return f->fresh_retry_ms;
    /* The input retries a blocked file; acknowledgements wake the others. */
    if (f->blocked || f->wait_acks)
        return -1;
    if (f->durable_retry_ms)
        return f->durable_retry_ms; /* nothing goes out before */
    int64_t d = -1;
    if (f->seen_end > f->pos || f->cutting)
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
        f->seen_end > f->pos || f->cutting || f->blocked || f->wait_acks ||
        now - f->grew_ms < f->tail->rotated_idle_ms)
        return;
    struct stat st;
    if (fstat(f->fd, &st) == 0) {
        if ((uint64_t)st.st_size != f->seen_end) {
            f->ready = true; /* changed since its last look: not finished */
            return;
        }
        if (st.st_nlink == 0)
            f->state = LF_TAIL_DELETED; /* rotated away, then removed */
    }
    lf_log(LF_LOG_INFO, "tail", "%s: finished %s file at offset %" PRIu64 "; closing it", f->path,
           f->state == LF_TAIL_DELETED ? "deleted" : "rotated", f->pos);
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
    /* At rest: give back the queue's ring, so that many idle files cost
     * little (the read buffer is the input's, not the file's). */
    bool settled = lf_tail_file_pending(f) == 0;
    if (settled)
        lf_ackq_trim(&f->ackq);
    return f->state == LF_TAIL_DONE && settled;
}
