/*
 * out_stdout.c - the debugging sink: each document on a line of its own (or
 * in _bulk form), acknowledged once written.
 */
#define _POSIX_C_SOURCE 200809L
#include "bulk.h"
#include "shipper.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct stdout_out {
    struct lf_output base;
    int fd;
    bool bulk;
    struct lf_buf out;
};

static int stdout_submit(struct lf_output *base, struct lf_batch *b)
{
    struct stdout_out *o = (struct stdout_out *)base;
    lf_buf_reset(&o->out);
    int rc = 0;
    for (size_t i = 0; i < b->ndocs && !rc; i++) {
        const struct lf_doc *d = &b->docs[i];
        if (o->bulk) {
            char index[256];
            if (!lf_index_name(index, sizeof(index), d->index, d->ts_ms, false))
                snprintf(index, sizeof(index), "%s", d->index);
            rc = lf_bulk_append(&o->out, index, strlen(index), d->id, b->buf.data + d->off, d->len);
            continue;
        }
        rc = lf_buf_append(&o->out, b->buf.data + d->off, d->len);
        if (!rc)
            rc = lf_buf_putc(&o->out, '\n');
    }
    if (rc)
        return rc;
    if (lf_write_all(o->fd, o->out.data, o->out.len)) {
        lf_log(LF_LOG_ERROR, "out_stdout", "write failed: %s", strerror(errno));
        return LF_EIO;
    }
    base->counters.submitted += b->ndocs;
    base->counters.bytes += o->out.len;
    lf_output_ack_batch(base, b);
    return 0;
}

static int stdout_poll(struct lf_output *base, int timeout_ms)
{
    (void)base;
    (void)timeout_ms;
    return 0;
}

static size_t stdout_pending(const struct lf_output *base)
{
    (void)base;
    return 0;
}

static void stdout_destroy(struct lf_output *base)
{
    struct stdout_out *o = (struct stdout_out *)base;
    lf_buf_free(&o->out);
    free(o);
}

static const struct lf_output_ops stdout_ops = {
    .name = "stdout",
    .submit = stdout_submit,
    .poll = stdout_poll,
    .pending = stdout_pending,
    .destroy = stdout_destroy,
};

struct lf_output *lf_out_stdout_create(int fd, bool bulk, char *errbuf, size_t errlen)
{
    struct stdout_out *o = calloc(1, sizeof(*o));
    if (!o) {
        snprintf(errbuf, errlen, "stdout output: out of memory");
        return NULL;
    }
    o->base.ops = &stdout_ops;
    o->fd = fd;
    o->bulk = bulk;
    lf_buf_init(&o->out, 256u << 20);
    return &o->base;
}
