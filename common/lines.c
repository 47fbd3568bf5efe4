/*
 * lines.c - a line reader whose memory is bounded by the longest line it
 * keeps, whatever the input (see lf.h).
 */
#include "lf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (64u * 1024)

int lf_line_reader_init(struct lf_line_reader *r, int fd, size_t max_line)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->max_line = max_line ? max_line : 1;
    r->cap = r->max_line + READ_CHUNK;
    r->buf = malloc(r->cap);
    return r->buf ? 0 : LF_ENOMEM;
}

void lf_line_reader_free(struct lf_line_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}

static int fill(struct lf_line_reader *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->scanned -= r->start;
        r->start = 0;
    }
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n > 0) {
            r->end += (size_t)n;
            return 0;
        }
        if (n == 0) {
            r->eof = 1;
            return 0;
        }
        if (errno != EINTR)
            return LF_EIO;
    }
}

int lf_line_reader_next(struct lf_line_reader *r, const char **line, size_t *len, int *cut)
{
    for (;;) {
        char *nl = memchr(r->buf + r->scanned, '\n', r->end - r->scanned);
        if (nl) {
            size_t at = (size_t)(nl - r->buf);
            size_t from = r->start;
            r->start = r->scanned = at + 1;
            if (r->skipping) {
                r->skipping = 0;
                continue;
            }
            *line = r->buf + from;
            *len = at - from;
            *cut = *len > r->max_line;
            if (*cut)
                *len = r->max_line;
            return 1;
        }
        r->scanned = r->end;
        if (r->skipping) {
            r->start = r->scanned = r->end;
        } else if (r->end - r->start >= r->max_line) {
            *line = r->buf + r->start;
            *len = r->max_line;
            *cut = 1;
            r->start += r->max_line;
            r->scanned = r->start;
            r->skipping = 1;
            return 1;
        }
        if (r->eof) {
            if (r->end == r->start || r->skipping)
                return 0;
            *line = r->buf + r->start;
            *len = r->end - r->start;
            *cut = 0;
            r->start = r->scanned = r->end;
            return 1;
        }
        if (fill(r))
            return LF_EIO;
    }
}
