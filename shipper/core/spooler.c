/*
 * spooler.c - the outputs' side of the spool (see spooler.h).
 */
#include "spooler.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records read and not settled yet, at most: a bound on the read side's
 * memory, far above what an output keeps in flight. */
#define READ_MAX 65536
#define DEFAULT_MAX_BYTES (1ull << 30)

struct lf_spooler {
    struct lf_spool *spool;
    const char *component, *server;
    const char *dir; /* borrowed from the options */
    uint64_t max_bytes;
    enum lf_spool_full full; /* what the configuration asks for */
    struct lf_buf rec;       /* the record being written */
    struct lf_ackq read;     /* records read and not settled */
    bool read_live;
    bool unread;  /* committed records may wait to be read */
    bool rewind;  /* read again from the first unsettled record, once none is out */
    bool holding; /* spooling was logged and not drained yet */
};

struct lf_spooler *lf_spooler_open(const struct lf_spool_options *o, const char *component,
                                   const char *server, char *errbuf, size_t errlen)
{
    struct lf_spooler *sp = calloc(1, sizeof(*sp));
    if (!sp) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    sp->component = component;
    sp->server = server;
    sp->dir = o->dir;
    sp->max_bytes = o->max_bytes ? o->max_bytes : DEFAULT_MAX_BYTES;
    sp->full = o->full;
    lf_buf_init(&sp->rec, LF_SPOOL_MAX_RECORD + 512);
    if (!(sp->spool = lf_spool_open(o, errbuf, errlen))) {
        lf_spooler_close(sp);
        return NULL;
    }
    if (!lf_spool_empty(sp->spool)) {
        /* From the last run: read back first of all, in order. */
        sp->unread = sp->holding = true;
        lf_log(LF_LOG_INFO, component, "spool holds %" PRIu64 " bytes from before: sending them",
               lf_spool_unacked_bytes(sp->spool));
    }
    return sp;
}

void lf_spooler_close(struct lf_spooler *sp)
{
    if (!sp)
        return;
    if (sp->spool)
        lf_spool_report_drops(sp->spool, sp->component, sp->server, true);
    lf_spool_close(sp->spool);
    if (sp->read_live)
        lf_ackq_free(&sp->read);
    lf_buf_free(&sp->rec);
    free(sp);
}

uint64_t lf_spooler_need(size_t prefix_len, size_t json_len)
{
    return LF_SPOOL_RECORD_OVERHEAD + 2 + prefix_len + 8 + LF_SPOOL_DOC_ID_LEN + json_len;
}

uint64_t lf_spooler_max(const struct lf_spooler *sp)
{
    return sp->max_bytes;
}

bool lf_spooler_fits(const struct lf_spooler *sp, size_t prefix_len, size_t json_len)
{
    uint64_t need = lf_spooler_need(prefix_len, json_len);
    return prefix_len <= 255 && need - LF_SPOOL_RECORD_OVERHEAD <= LF_SPOOL_MAX_RECORD &&
           need <= sp->max_bytes;
}

bool lf_spooler_room(struct lf_spooler *sp, uint64_t need, bool away)
{
    bool drop = sp->full == LF_SPOOL_FULL_DROP_OLDEST && away;
    lf_spool_set_full(sp->spool, drop ? LF_SPOOL_FULL_DROP_OLDEST : LF_SPOOL_FULL_BLOCK);
    /* Unacknowledged bytes, not bytes on disk: settled records in the
     * segment being written are reclaimed by the next append. */
    return drop || lf_spool_unacked_bytes(sp->spool) + need <= sp->max_bytes;
}

int lf_spooler_put(struct lf_spooler *sp, const char *prefix, int64_t ts_ms, const char *id,
                   const char *json, size_t len)
{
    uint64_t rid;
    int rc = lf_spool_doc_encode(&sp->rec, prefix, ts_ms, id, json, len);
    return rc ? rc : lf_spool_append(sp->spool, sp->rec.data, sp->rec.len, &rid);
}

int lf_spooler_commit(struct lf_spooler *sp, const char *why)
{
    int rc = lf_spool_commit(sp->spool);
    if (rc)
        return rc;
    if (!sp->holding)
        lf_log(LF_LOG_INFO, sp->component, "%s: spooling to %s", why, sp->dir);
    sp->holding = true;
    sp->unread = true;
    return 0;
}

bool lf_spooler_readable(const struct lf_spooler *sp)
{
    return sp->unread && !sp->rewind && (!sp->read_live || lf_ackq_pending(&sp->read) < READ_MAX);
}

size_t lf_spooler_out(const struct lf_spooler *sp)
{
    return sp->read_live ? lf_ackq_pending(&sp->read) : 0;
}

int lf_spooler_take(struct lf_spooler *sp, struct lf_spool_doc *d, uint64_t *seq)
{
    if (sp->rewind && lf_spooler_out(sp) == 0) {
        lf_ackq_free(&sp->read);
        sp->read_live = false;
        lf_spool_rewind(sp->spool);
        sp->rewind = false;
        sp->unread = true;
    }
    if (sp->rewind || !sp->unread)
        return LF_ENOENT;
    if (!sp->read_live) {
        if (lf_ackq_init(&sp->read, READ_MAX, 0))
            return LF_ENOMEM;
        sp->read_live = true;
    }
    for (;;) {
        if (lf_ackq_pending(&sp->read) >= READ_MAX)
            return LF_ELIMIT;
        const void *rec;
        size_t len;
        uint64_t id;
        int rc = lf_spool_read(sp->spool, &rec, &len, &id);
        if (rc == LF_ENOENT)
            sp->unread = false;
        if (rc)
            return rc;
        if (lf_ackq_push(&sp->read, id + 1, seq))
            return LF_ELIMIT; /* cannot happen: checked above */
        if (lf_spool_doc_decode(rec, len, d) == 0)
            return 0;
        lf_log(LF_LOG_ERROR, sp->component, "spool record %" PRIu64 " is not a document: skipped",
               id);
        lf_spooler_settle(sp, *seq);
    }
}

void lf_spooler_untake(struct lf_spooler *sp)
{
    lf_ackq_unpush(&sp->read);
    sp->rewind = true;
}

void lf_spooler_settle(struct lf_spooler *sp, uint64_t seq)
{
    lf_ackq_ack(&sp->read, seq);
    lf_spool_ack(sp->spool, lf_ackq_committed(&sp->read));
}

bool lf_spooler_holding(const struct lf_spooler *sp)
{
    return !lf_spool_empty(sp->spool);
}

uint64_t lf_spooler_tick(struct lf_spooler *sp, bool final)
{
    uint64_t dropped = lf_spool_report_drops(sp->spool, sp->component, sp->server, final);
    if (sp->holding && lf_spool_empty(sp->spool)) {
        sp->holding = false;
        const struct lf_spool_counters *c = lf_spool_counters(sp->spool);
        lf_log(LF_LOG_INFO, sp->component,
               "spool drained: %" PRIu64 " documents appended, %" PRIu64
               " delivered from it, %" PRIu64 " dropped",
               c->appended, c->acked, c->dropped);
    }
    return dropped;
}

struct lf_spool *lf_spooler_spool(struct lf_spooler *sp)
{
    return sp->spool;
}

uint64_t lf_spooler_backlog_bytes(const struct lf_spooler *sp)
{
    return lf_spool_empty(sp->spool) ? 0 : lf_spool_unacked_bytes(sp->spool);
}
