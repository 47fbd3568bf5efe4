/*
 * bulk.c - the NDJSON body of a _bulk request: for each document a
 * "create" action line naming its index and deterministic id, then the
 * document itself on one line. "create" (never "index") is what makes a
 * retried or replayed document harmless: Elasticsearch answers 409 instead of
 * writing it twice.
 *
 * Every line is built so that nothing a log line contains can end it early:
 * index and id go through lf_json_write_string although they are validated
 * upstream, and a document holding a raw newline is refused (lf_event's
 * writer escapes them, so that would be a bug, not data).
 *
 * This runs once per document of every request (bench/es: about a tenth of
 * the agent's time went here), so the usual case, an index and id that need
 * no escaping, is one size check and four copies; the bytes are the same
 * lf_json_write_string would write.
 */
#include "bulk.h"

#include <string.h>

/* Whether lf_json_write_string would copy s[0..n) as it is: printable ASCII
 * and DEL, without '"' and '\\' (index names and our ids always are). */
static bool plain(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            return false;
    }
    return true;
}

static int append_slow(struct lf_buf *body, const char *type, const char *index, size_t index_len,
                       const char *id, const char *json, size_t json_len);

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

int lf_bulk_append(struct lf_buf *body, const char *index, size_t index_len, const char *id,
                   const char *json, size_t json_len)
{
    static const char head[] = "{\"create\":{\"_index\":\"", mid[] = "\",\"_id\":\"",
                      tail[] = "\"}}\n";
    if (json_len == 0 || memchr(json, '\n', json_len))
        return LF_EINVAL;
    size_t id_len = strlen(id);
    if (plain(index, index_len) && plain(id, id_len)) {
        size_t need = sizeof(head) - 1 + index_len + sizeof(mid) - 1 + id_len + sizeof(tail) - 1 +
                      json_len + 1;
        int rc = lf_buf_grow(body, need); /* nothing appended when it fails */
        if (rc)
            return rc;
        char *p = body->data + body->len;
        p = put(p, head, sizeof(head) - 1);
        p = put(p, index, index_len);
        p = put(p, mid, sizeof(mid) - 1);
        p = put(p, id, id_len);
        p = put(p, tail, sizeof(tail) - 1);
        p = put(p, json, json_len);
        *p++ = '\n';
        *p = '\0';
        body->len += need;
        return 0;
    }
    return append_slow(body, NULL, index, index_len, id, json, json_len);
}

int lf_bulk_append_typed(struct lf_buf *body, const char *type, const char *index, size_t index_len,
                         const char *id, const char *json, size_t json_len)
{
    if (json_len == 0 || memchr(json, '\n', json_len))
        return LF_EINVAL;
    return append_slow(body, type, index, index_len, id, json, json_len);
}

/* Any index and id, escaped; `type` NULL for none. */
static int append_slow(struct lf_buf *body, const char *type, const char *index, size_t index_len,
                       const char *id, const char *json, size_t json_len)
{
    size_t start = body->len, id_len = strlen(id);
    int rc = lf_buf_puts(body, "{\"create\":{\"_index\":");
    if (!rc)
        rc = lf_json_write_string(body, index, index_len);
    if (!rc && type) {
        rc = lf_buf_puts(body, ",\"_type\":");
        if (!rc)
            rc = lf_json_write_string(body, type, strlen(type));
    }
    if (!rc)
        rc = lf_buf_puts(body, ",\"_id\":");
    if (!rc)
        rc = lf_json_write_string(body, id, id_len);
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
