/*
 * ackq.c - a ring of pending source positions; the committed position moves
 * over the acknowledged prefix only (see lf.h).
 *
 * The ring is allocated at the first push and resized by copying its entries,
 * oldest first, into a new block: a source with nothing in flight holds no
 * memory, a burst costs what it needs, and the cap (millions of entries for
 * a tailed file) is a limit, not an allocation. pos and done share one block,
 * so a resize is one malloc and one free.
 */
#include "lf.h"

#include <stdlib.h>
#include <string.h>

int lf_ackq_init(struct lf_ackq *q, size_t cap, uint64_t start)
{
    memset(q, 0, sizeof(*q));
    q->cap = cap ? cap : 1;
    q->committed = start;
    return 0;
}

void lf_ackq_free(struct lf_ackq *q)
{
    free(q->pos);
    q->pos = NULL;
    q->done = NULL;
    q->cap = q->size = q->head = q->count = 0;
}

void lf_ackq_trim(struct lf_ackq *q)
{
    if (q->count)
        return;
    free(q->pos);
    q->pos = NULL;
    q->done = NULL;
    q->size = q->head = 0;
}

/* The slot of the entry `i` places after head. */
static size_t slot(const struct lf_ackq *q, size_t i)
{
    size_t s = q->head + i;
    return s >= q->size ? s - q->size : s;
}

/* Moves the entries into a ring of `size` slots (>= count), head at 0.
 * Returns 0 or LF_ENOMEM (the queue unchanged). */
static int resize(struct lf_ackq *q, size_t size)
{
    char *block = malloc(size * (sizeof(*q->pos) + sizeof(*q->done)));
    if (!block)
        return LF_ENOMEM;
    uint64_t *pos = (uint64_t *)(void *)block;
    uint8_t *done = (uint8_t *)(block + size * sizeof(*pos));
    /* The live entries are at most two runs: head to the end, then 0 on. */
    size_t first = q->count;
    if (q->size && q->head + first > q->size)
        first = q->size - q->head;
    if (first) {
        memcpy(pos, q->pos + q->head, first * sizeof(*pos));
        memcpy(done, q->done + q->head, first);
    }
    if (q->count > first) {
        memcpy(pos + first, q->pos, (q->count - first) * sizeof(*pos));
        memcpy(done + first, q->done, q->count - first);
    }
    free(q->pos);
    q->pos = pos;
    q->done = done;
    q->size = size;
    q->head = 0;
    return 0;
}

int lf_ackq_push(struct lf_ackq *q, uint64_t pos, uint64_t *seq)
{
    if (q->count >= q->cap)
        return LF_ELIMIT;
    if (q->count == q->size) {
        size_t size = q->size ? q->size * 2 : LF_ACKQ_MIN_SLOTS;
        if (size > q->cap || size < q->size)
            size = q->cap;
        int rc = resize(q, size);
        if (rc)
            return rc;
    }
    size_t s = slot(q, q->count);
    q->pos[s] = pos;
    q->done[s] = 0;
    *seq = q->first_seq + q->count;
    q->count++;
    return 0;
}

void lf_ackq_unpush(struct lf_ackq *q)
{
    if (q->count)
        q->count--;
}

void lf_ackq_ack(struct lf_ackq *q, uint64_t seq)
{
    if (seq < q->first_seq || seq - q->first_seq >= q->count)
        return;
    q->done[slot(q, seq - q->first_seq)] = 1;
    if (!q->done[q->head])
        return;
    while (q->count && q->done[q->head]) {
        q->committed = q->pos[q->head];
        q->head = slot(q, 1);
        q->count--;
        q->first_seq++;
    }
    /* Give memory back as a burst drains, with room to spare (an eighth
     * used) so that a queue near a boundary does not resize on every
     * push and ack; a failed malloc just keeps the larger ring. */
    if (q->size > LF_ACKQ_KEEP_SLOTS && q->count <= q->size / 8) {
        size_t size = q->size / 2;
        resize(q, size < LF_ACKQ_KEEP_SLOTS ? LF_ACKQ_KEEP_SLOTS : size);
    }
}
