/*
 * es_bulk.c - the NDJSON body of a _bulk request: for each document a
 * "create" action line naming its index and deterministic id, then the
 * document itself on one line. "create" (never "index") is what makes a
 * retried or replayed document harmless: Elasticsearch answers 409 instead of
 * writing it twice.
 *
 * Every line is built so that nothing a log line contains can end it early:
 * index and id go through lf_json_write_string although they are validated
 * upstream, and a document holding a raw newline is refused (lf_event's
 * writer escapes them, so that would be a bug, not data).
 */
#include "es_int.h"

#include <string.h>

int lf_es_bulk_append(struct lf_buf *body, const char *index, size_t index_len, const char *id,
                      const char *json, size_t json_len)
{
    if (json_len == 0 || memchr(json, '\n', json_len))
        return LF_EINVAL;
    size_t start = body->len;
    int rc = lf_buf_puts(body, "{\"create\":{\"_index\":");
    if (!rc)
        rc = lf_json_write_string(body, index, index_len);
    if (!rc)
        rc = lf_buf_puts(body, ",\"_id\":");
    if (!rc)
        rc = lf_json_write_string(body, id, strlen(id));
    if (!rc)
        rc = lf_buf_puts(body, "}}\n");
    if (!rc)
        rc = lf_buf_append(body, json, json_len);
    if (!rc)
        rc = lf_buf_putc(body, '\n');
    if (rc) {
        /* Take the partial action back: the body stays a whole request. */
        body->len = start;
        if (body->data)
            body->data[start] = '\0';
    }
    return rc;
}
