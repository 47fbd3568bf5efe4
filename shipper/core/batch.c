/*
 * batch.c - batches of serialized events, daily index names and document
 * ids (see shipper.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "shipper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct lf_batch *lf_batch_create(size_t max_bytes, size_t max_docs)
{
    struct lf_batch *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    lf_buf_init(&b->buf, max_bytes);
    b->max_docs = max_docs ? max_docs : 1;
    return b;
}

void lf_batch_destroy(struct lf_batch *b)
{
    if (!b)
        return;
    lf_buf_free(&b->buf);
    free(b->docs);
    free(b);
}

void lf_batch_clear(struct lf_batch *b)
{
    lf_buf_reset(&b->buf);
    b->ndocs = 0;
    b->opened_ms = 0;
}

bool lf_batch_has_room(const struct lf_batch *b, size_t len)
{
    return b->ndocs < b->max_docs && b->buf.len + len <= b->buf.max;
}

/* Room for one more document entry; 0, LF_ELIMIT or LF_ENOMEM. */
static int reserve_doc(struct lf_batch *b)
{
    if (b->ndocs == b->max_docs)
        return LF_ELIMIT;
    if (b->ndocs == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        if (cap > b->max_docs)
            cap = b->max_docs;
        struct lf_doc *docs = realloc(b->docs, cap * sizeof(*docs));
        if (!docs)
            return LF_ENOMEM;
        b->docs = docs;
        b->cap = cap;
    }
    return 0;
}

int lf_batch_add_json(struct lf_batch *b, const char *json, size_t len, const struct lf_doc *meta)
{
    int rc = reserve_doc(b);
    if (rc)
        return rc;
    size_t start = b->buf.len;
    if ((rc = lf_buf_append(&b->buf, json, len)))
        return rc;
    struct lf_doc *d = &b->docs[b->ndocs++];
    *d = *meta;
    d->off = start;
    d->len = len;
    return 0;
}

int lf_batch_add_event(struct lf_batch *b, struct lf_event *ev, const struct lf_doc *meta)
{
    int rc = reserve_doc(b);
    if (rc)
        return rc;
    size_t start = b->buf.len;
    rc = lf_event_write_json(ev, &b->buf);
    if (rc) {
        /* Take back the partial document: the batch stays as it was. */
        b->buf.len = start;
        if (b->buf.data)
            b->buf.data[start] = '\0';
        return rc;
    }
    struct lf_doc *d = &b->docs[b->ndocs++];
    *d = *meta;
    d->off = start;
    d->len = b->buf.len - start;
    return 0;
}

size_t lf_index_name(char *out, size_t outlen, const char *prefix, int64_t ts_ms, bool local)
{
    time_t secs = (time_t)(ts_ms >= 0 ? ts_ms / 1000 : (ts_ms - 999) / 1000);
    struct tm tm;
    if (!(local ? localtime_r(&secs, &tm) : gmtime_r(&secs, &tm)))
        return 0;
    int n = snprintf(out, outlen, "%s-%04d.%02d.%02d", prefix, tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday);
    return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

/* FNV-1a over a string, then a strong finaliser; two seeds make 128 bits. */
static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

void lf_doc_id_seed(struct lf_doc_id_seed *seed, const char *host, const char *source)
{
    seed->h[0] = 0xcbf29ce484222325ull;
    seed->h[1] = 0x84222325cbf29ce4ull;
    for (int k = 0; k < 2; k++) {
        /* The NUL separators keep ("ab","c") and ("a","bc") apart. */
        seed->h[k] = fnv1a(seed->h[k], host, strlen(host) + 1);
        seed->h[k] = fnv1a(seed->h[k], source, strlen(source) + 1);
    }
}

/* Eight lowercase hex digits of v, most significant first, computed eight
 * at a time: each nibble is spread into its own byte, then turned into a
 * digit ('0' + n, plus the gap to 'a' where n > 9). */
static void hex8(char *out, uint32_t v)
{
    uint64_t x = v;
    x = (x & 0xFFFF0000ull) << 16 | (x & 0xFFFFull);
    x = (x & 0x0000FF000000FF00ull) << 8 | (x & 0x000000FF000000FFull);
    x = (x & 0x00F000F000F000F0ull) << 4 | (x & 0x000F000F000F000Full);
    /* byte k holds nibble k (the least significant nibble in byte 0) */
    uint64_t above9 = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;
    x += 0x3030303030303030ull + above9 * ('a' - '0' - 10);
    for (int k = 0; k < 8; k++)
        out[7 - k] = (char)(x >> (8 * k));
}

void lf_doc_id_at(char out[LF_DOC_ID_LEN + 1], const struct lf_doc_id_seed *seed, uint64_t position)
{
    /* mix64 is a bijection: one source never gives two positions one id. */
    for (int k = 0; k < 2; k++) {
        uint64_t h = mix64(seed->h[k] ^ position);
        hex8(out + 16 * k, (uint32_t)(h >> 32));
        hex8(out + 16 * k + 8, (uint32_t)h);
    }
    out[LF_DOC_ID_LEN] = '\0';
}

void lf_doc_id(char out[LF_DOC_ID_LEN + 1], const char *host, const char *source, uint64_t position)
{
    struct lf_doc_id_seed seed;
    lf_doc_id_seed(&seed, host, source);
    lf_doc_id_at(out, &seed, position);
}

void lf_output_ack_batch(struct lf_output *o, const struct lf_batch *b)
{
    for (size_t i = 0; i < b->ndocs; i++) {
        const struct lf_doc *d = &b->docs[i];
        if (d->ack)
            d->ack->safe(d->ack, d->seq);
    }
    o->counters.acked += b->ndocs;
}
