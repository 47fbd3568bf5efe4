/*
 * out_file.c - the embedded default sink: daily NDJSON files in _bulk form,
 * <dir>/<prefix>-YYYY.MM.dd.ndjson, each document preceded by its "create"
 * action line, so that
 *   curl -H 'Content-Type: application/x-ndjson' --data-binary @FILE ES/_bulk
 * loads a file as it is, and a document written twice (a retried batch) is
 * refused by Elasticsearch as already there (409) instead of duplicated.
 *
 * A batch is acknowledged once every byte is written and, by default, synced.
 * A failed write leaves the batch unacknowledged for the caller to submit
 * again.
 */
#define _POSIX_C_SOURCE 200809L
#include "bulk.h"
#include "shipper.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_OPEN_FILES 8
#define INDEX_NAME_MAX 256

struct open_file {
    char index[INDEX_NAME_MAX];
    int fd;
    uint64_t last_use;
    bool dirty;
};

struct file_out {
    struct lf_output base;
    char *dir;
    enum lf_fsync_policy fsync_policy;
    bool local_dates;
    struct open_file files[MAX_OPEN_FILES];
    uint64_t clock;
    struct lf_buf chunk; /* bytes for one file, written in one go */
    /* The last index name made: one per prefix and day, not per document. */
    const char *name_prefix;
    int64_t name_day;
    char name[INDEX_NAME_MAX];
};

/* The daily index name of a document, from the cache when it can be. */
static const char *index_of(struct file_out *o, const struct lf_doc *d)
{
    int64_t day = d->ts_ms >= 0 ? d->ts_ms / 86400000 : (d->ts_ms - 86399999) / 86400000;
    if (o->local_dates || d->index != o->name_prefix || day != o->name_day) {
        if (!lf_index_name(o->name, sizeof(o->name), d->index, d->ts_ms, o->local_dates) ||
            strchr(o->name, '/'))
            return NULL;
        o->name_prefix = o->local_dates ? NULL : d->index;
        o->name_day = day;
    }
    return o->name;
}

static int mkdir_p(const char *dir, char *errbuf, size_t errlen)
{
    char failed[4096];
    if (lf_mkdir_p(dir, 0750, failed, sizeof(failed)) == 0)
        return 0;
    snprintf(errbuf, errlen, "file output: cannot create directory %s: %s", failed,
             strerror(errno));
    return LF_EIO;
}

static void close_file(struct open_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    f->index[0] = '\0';
    f->dirty = false;
}

/* Where the line that ends just before `end` starts (end > 0, and the byte
 * at end - 1 is that line's newline or the file's last byte). */
static int64_t line_start(int fd, int64_t end)
{
    char buf[65536];
    int64_t pos = end - 1; /* the newline (or last byte) itself is skipped */
    while (pos > 0) {
        int64_t from = pos > (int64_t)sizeof(buf) ? pos - (int64_t)sizeof(buf) : 0;
        ssize_t n = pread(fd, buf, (size_t)(pos - from), from);
        if (n <= 0)
            return -1;
        for (int64_t i = n; i-- > 0;)
            if (buf[i] == '\n')
                return from + i + 1;
        pos = from;
    }
    return 0;
}

/*
 * A crash in the middle of a batch can leave a torn document, or an action
 * line without its document, at the end of a file; appending after it would
 * break the _bulk pairing for everything that follows. Those events were not
 * acknowledged, so they will be written again: cut the file back to its last
 * complete action+document pair. Documents never start with {"create":
 * (every event begins with "@timestamp"), action lines always do.
 */
static int repair_tail(int fd, const char *path)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    int64_t size = st.st_size, keep = size;
    char last;
    if (size == 0)
        return 0;
    if (pread(fd, &last, 1, size - 1) != 1)
        return -1;
    if (last != '\n') /* a torn last line */
        keep = line_start(fd, size);
    if (keep > 0) { /* an action line left without its document */
        int64_t start = line_start(fd, keep);
        static const char action[] = "{\"create\":{";
        char head[sizeof(action) - 1];
        ssize_t got = start < 0 ? -1 : pread(fd, head, sizeof(head), start);
        if (got < 0)
            return -1;
        if (got == (ssize_t)sizeof(head) && memcmp(head, action, sizeof(head)) == 0)
            keep = start;
    }
    if (keep < 0)
        return -1;
    if (keep == size)
        return 0;
    lf_log(LF_LOG_WARN, "out_file",
           "%s: removing %lld bytes of an unfinished write at the end (a crash; those events "
           "are written again)",
           path, (long long)(size - keep));
    if (ftruncate(fd, keep) != 0 || fsync(fd) != 0) {
        lf_log(LF_LOG_ERROR, "out_file", "%s: cannot repair the end: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The open file for an index, opening it (and closing the least recently
 * used one, for yesterday's files) when needed. */
static struct open_file *file_for(struct file_out *o, const char *index)
{
    struct open_file *lru = &o->files[0];
    for (size_t i = 0; i < MAX_OPEN_FILES; i++) {
        struct open_file *f = &o->files[i];
        if (f->fd >= 0 && strcmp(f->index, index) == 0) {
            f->last_use = ++o->clock;
            return f;
        }
        if (f->fd < 0 || f->last_use < lru->last_use)
            lru = f;
    }
    if (lru->fd >= 0) {
        if (lru->dirty && o->fsync_policy == LF_FSYNC_BATCH)
            fsync(lru->fd);
        close_file(lru);
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s.ndjson", o->dir, index) >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        lf_log(LF_LOG_ERROR, "out_file", "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (repair_tail(fd, path) != 0) {
        close(fd);
        return NULL;
    }
    lru->fd = fd;
    snprintf(lru->index, sizeof(lru->index), "%s", index);
    lru->last_use = ++o->clock;
    return lru;
}

static int flush_chunk(struct file_out *o, struct open_file *f)
{
    if (!f || o->chunk.len == 0)
        return 0;
    int rc = lf_write_all(f->fd, o->chunk.data, o->chunk.len);
    if (rc) {
        lf_log(LF_LOG_ERROR, "out_file", "write to %s/%s.ndjson failed: %s", o->dir, f->index,
               strerror(errno));
        close_file(f); /* reopened on the next try */
        return rc;
    }
    o->base.counters.bytes += o->chunk.len;
    f->dirty = true;
    lf_buf_reset(&o->chunk);
    return 0;
}

static int file_submit(struct lf_output *base, struct lf_batch *b)
{
    struct file_out *o = (struct file_out *)base;
    struct open_file *cur = NULL;
    int rc = 0;

    lf_buf_reset(&o->chunk);
    for (size_t i = 0; i < b->ndocs && !rc; i++) {
        const struct lf_doc *d = &b->docs[i];
        const char *index = index_of(o, d);
        if (!index) {
            lf_log(LF_LOG_ERROR, "out_file", "unusable index prefix '%s'", d->index);
            rc = LF_EINVAL;
            break;
        }
        if (!cur || strcmp(cur->index, index) != 0) {
            if ((rc = flush_chunk(o, cur)))
                break;
            if (!(cur = file_for(o, index))) {
                rc = LF_EIO;
                break;
            }
        }
        rc = lf_bulk_append(&o->chunk, index, strlen(index), d->id, b->buf.data + d->off, d->len);
        if (rc == LF_ELIMIT) { /* chunk full: write what we have and go on */
            if (!(rc = flush_chunk(o, cur)))
                rc = lf_bulk_append(&o->chunk, index, strlen(index), d->id, b->buf.data + d->off,
                                    d->len);
        }
    }
    if (!rc)
        rc = flush_chunk(o, cur);
    for (size_t i = 0; i < MAX_OPEN_FILES && !rc; i++) {
        struct open_file *f = &o->files[i];
        if (f->fd < 0 || !f->dirty)
            continue;
        if (o->fsync_policy == LF_FSYNC_BATCH && fsync(f->fd) != 0) {
            lf_log(LF_LOG_ERROR, "out_file", "fsync of %s/%s.ndjson failed: %s", o->dir, f->index,
                   strerror(errno));
            close_file(f);
            rc = LF_EIO;
            break;
        }
        f->dirty = false;
    }
    if (rc) {
        lf_buf_reset(&o->chunk);
        return rc;
    }
    base->counters.submitted += b->ndocs;
    lf_output_ack_batch(base, b);
    return 0;
}

static int file_poll(struct lf_output *base, int timeout_ms)
{
    (void)base;
    (void)timeout_ms;
    return 0; /* everything is done in submit */
}

static size_t file_pending(const struct lf_output *base)
{
    (void)base;
    return 0;
}

static void file_destroy(struct lf_output *base)
{
    struct file_out *o = (struct file_out *)base;
    for (size_t i = 0; i < MAX_OPEN_FILES; i++)
        close_file(&o->files[i]);
    lf_buf_free(&o->chunk);
    free(o->dir);
    free(o);
}

static const struct lf_output_ops file_ops = {
    .name = "file",
    .submit = file_submit,
    .poll = file_poll,
    .pending = file_pending,
    .destroy = file_destroy,
};

struct lf_output *lf_out_file_create(const char *dir, enum lf_fsync_policy fsync_policy,
                                     bool local_dates, char *errbuf, size_t errlen)
{
    if (mkdir_p(dir, errbuf, errlen))
        return NULL;
    struct file_out *o = calloc(1, sizeof(*o));
    if (!o || !(o->dir = strdup(dir))) {
        free(o);
        snprintf(errbuf, errlen, "file output: out of memory");
        return NULL;
    }
    o->base.ops = &file_ops;
    o->fsync_policy = fsync_policy;
    o->local_dates = local_dates;
    for (size_t i = 0; i < MAX_OPEN_FILES; i++)
        o->files[i].fd = -1;
    lf_buf_init(&o->chunk, 4u << 20);
    return &o->base;
}
