/*
 * dead_letter.c - the dead-letter file of the outputs (see dead_letter.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "dead_letter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Refusals logged in full per interval; the rest are counted. */
#define LOGGED_PER_INTERVAL 5
#define LOG_INTERVAL_MS 10000
/* Documents pending for the file: at most this much JSON in memory. */
#define PENDING_MAX (256u << 20)

struct lf_dead_letters {
    char *path; /* NULL: log only */
    int fd;
    const char *component, *server; /* static strings */
    struct lf_buf pending;
    int64_t window_ms; /* start of the current log interval */
    unsigned logged;   /* refusals logged in full in it */
    uint64_t unlogged; /* refusals counted, not logged, in it */
    char last[200];    /* the last refusal not logged: its verdict */
};

struct lf_dead_letters *lf_dead_letters_open(const char *path, const char *component,
                                             const char *server, char *errbuf, size_t errlen)
{
    struct lf_dead_letters *dl = calloc(1, sizeof(*dl));
    if (!dl || (path && !(dl->path = strdup(path)))) {
        free(dl);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    dl->fd = -1;
    dl->component = component;
    dl->server = server;
    lf_buf_init(&dl->pending, PENDING_MAX);
    if (path) {
        /* Its folder is made like the spool's (data_dir may not exist yet). */
        char dir[4096], failed[4096];
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            if (lf_mkdir_p(dir, 0700, failed, sizeof(failed))) {
                snprintf(errbuf, errlen, "dead-letter file %s: cannot create %s: %s", path, failed,
                         strerror(errno));
                lf_dead_letters_close(dl);
                return NULL;
            }
        }
        dl->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (dl->fd < 0) {
            snprintf(errbuf, errlen, "dead-letter file %s: %s", path, strerror(errno));
            lf_dead_letters_close(dl);
            return NULL;
        }
    }
    return dl;
}

void lf_dead_letters_close(struct lf_dead_letters *dl)
{
    if (!dl)
        return;
    lf_dead_letters_flush(dl);
    lf_dead_letters_tick(dl, true);
    if (dl->fd >= 0)
        close(dl->fd);
    lf_buf_free(&dl->pending);
    free(dl->path);
    free(dl);
}

void lf_dead_letters_tick(struct lf_dead_letters *dl, bool now)
{
    int64_t t = lf_now_mono_ms();
    if (!now && t - dl->window_ms < LOG_INTERVAL_MS)
        return;
    if (dl->unlogged)
        lf_log(LF_LOG_WARN, dl->component,
               "%llu more documents refused by %s in the last %lld s (the last: %s)%s",
               (unsigned long long)dl->unlogged, dl->server,
               (long long)((t - dl->window_ms) / 1000), dl->last,
               dl->path ? "; kept in the dead-letter file" : "");
    dl->unlogged = 0;
    dl->logged = 0;
    dl->window_ms = t;
}

static void log_refusal(struct lf_dead_letters *dl, const struct lf_dead_letter *d)
{
    lf_dead_letters_tick(dl, false);
    char why[400];
    const char *reason = d->reason ? d->reason : "";
    lf_log_quote(reason, strlen(reason), why, sizeof(why));
    char status[16] = "";
    if (d->status)
        snprintf(status, sizeof(status), "%d ", d->status);
    if (dl->logged < LOGGED_PER_INTERVAL) {
        dl->logged++;
        lf_log(LF_LOG_WARN, dl->component, "document %s refused by %s (%s%s%s%s): %s%s%s", d->id,
               dl->server, status, d->type ? d->type : "", d->topic ? ", topic " : "",
               d->topic ? d->topic : "", why, dl->path ? "; kept in the dead-letter file" : "",
               dl->logged == LOGGED_PER_INTERVAL ? " (further refusals are counted)" : "");
        return;
    }
    dl->unlogged++;
    snprintf(dl->last, sizeof(dl->last), "%s%s: %.150s", status, d->type ? d->type : "", why);
}

static int write_line(struct lf_buf *b, const struct lf_dead_letter *d)
{
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *type = d->type ? d->type : "", *reason = d->reason ? d->reason : "";
    int rc = lf_buf_printf(b, "{\"@timestamp\":\"%s\",\"index\":", ts);
    if (!rc)
        rc = lf_json_write_string(b, d->index, strlen(d->index));
    if (!rc && d->topic) {
        rc = lf_buf_puts(b, ",\"topic\":");
        if (!rc)
            rc = lf_json_write_string(b, d->topic, strlen(d->topic));
    }
    if (!rc)
        rc = lf_buf_puts(b, ",\"_id\":");
    if (!rc)
        rc = lf_json_write_string(b, d->id, strlen(d->id));
    if (!rc && d->status)
        rc = lf_buf_printf(b, ",\"status\":%d", d->status);
    if (!rc)
        rc = lf_buf_puts(b, ",\"error\":{\"type\":");
    if (!rc)
        rc = lf_json_write_string(b, type, strlen(type));
    if (!rc)
        rc = lf_buf_puts(b, ",\"reason\":");
    if (!rc)
        rc = lf_json_write_string(b, reason, strlen(reason));
    if (!rc)
        rc = lf_buf_puts(b, "},\"document\":");
    if (!rc)
        rc = lf_buf_append(b, d->json, d->len);
    if (!rc)
        rc = lf_buf_puts(b, "}\n");
    return rc;
}

int lf_dead_letters_add(struct lf_dead_letters *dl, const struct lf_dead_letter *d)
{
    size_t start = dl->pending.len;
    int rc = dl->path ? write_line(&dl->pending, d) : 0;
    if (rc) {
        /* Take the partial line back: the file gets whole lines only. */
        dl->pending.len = start;
        if (dl->pending.data)
            dl->pending.data[start] = '\0';
        return LF_ENOMEM;
    }
    log_refusal(dl, d);
    return 0;
}

int lf_dead_letters_flush(struct lf_dead_letters *dl)
{
    if (dl->pending.len == 0)
        return 0;
    if (dl->fd < 0)
        dl->fd = open(dl->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (dl->fd < 0 || lf_write_all(dl->fd, dl->pending.data, dl->pending.len) ||
        fsync(dl->fd) != 0) {
        lf_log(LF_LOG_ERROR, dl->component, "cannot write dead-letter file %s: %s", dl->path,
               strerror(errno));
        /* A partial write stays in the file: the line is written whole
         * again, and a reader skips the torn one. */
        if (dl->fd >= 0)
            close(dl->fd);
        dl->fd = -1;
        return LF_EIO;
    }
    lf_buf_reset(&dl->pending);
    return 0;
}

void lf_dead_letters_discard(struct lf_dead_letters *dl)
{
    lf_buf_reset(&dl->pending);
}

bool lf_dead_letters_pending(const struct lf_dead_letters *dl)
{
    return dl->pending.len > 0;
}
