/*
 * ackq.c - a ring of pending source positions; the committed position moves
 * over the acknowledged prefix only (see lf.h).
 */
#include "lf.h"

#include <stdlib.h>
#include <string.h>

int lf_ackq_init(struct lf_ackq *q, size_t cap, uint64_t start)
{
    memset(q, 0, sizeof(*q));
    q->pos = calloc(cap ? cap : 1, sizeof(*q->pos));
    q->done = calloc(cap ? cap : 1, 1);
    if (!q->pos || !q->done) {
        lf_ackq_free(q);
        return LF_ENOMEM;
    }
    q->cap = cap ? cap : 1;
    q->committed = start;
    return 0;
}

void lf_ackq_free(struct lf_ackq *q)
{
    free(q->pos);
    free(q->done);
    q->pos = NULL;
    q->done = NULL;
    q->cap = q->count = 0;
}

int lf_ackq_push(struct lf_ackq *q, uint64_t pos, uint64_t *seq)
{
    if (q->count == q->cap)
        return LF_ELIMIT;
    size_t slot = (q->head + q->count) % q->cap;
    q->pos[slot] = pos;
    q->done[slot] = 0;
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
    q->done[(q->head + (seq - q->first_seq)) % q->cap] = 1;
    while (q->count && q->done[q->head]) {
        q->committed = q->pos[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        q->first_seq++;
    }
}
