/*
 * buf.c - growable byte buffer with a hard cap (see lf.h).
 */
#include "lf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lf_buf_init(struct lf_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void lf_buf_free(struct lf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

int lf_buf_grow(struct lf_buf *b, size_t extra)
{
    /* +1 keeps room for the terminator that every append writes. */
    if (extra > b->max || b->len > b->max - extra)
        return LF_ELIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p)
        return LF_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int lf_buf_append(struct lf_buf *b, const void *p, size_t n)
{
    if (b->cap - b->len <= n) {
        int rc = lf_buf_grow(b, n);
        if (rc)
            return rc;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int lf_buf_puts(struct lf_buf *b, const char *s)
{
    return lf_buf_append(b, s, strlen(s));
}

int lf_buf_printf(struct lf_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return LF_EINVAL;
    int rc = lf_buf_grow(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}
