/*
 * bulk.h - the one writer of the _bulk form: an action line and a document,
 * used by the Elasticsearch output's request bodies and by the file and
 * stdout sinks, so that no output can write a line a log line could forge.
 * Private to shipper/.
 */
#ifndef LF_BULK_H
#define LF_BULK_H

#include "lf.h"

#include <stddef.h>

/*
 * Appends one create action and its document to body:
 *   {"create":{"_index":"<index>","_id":"<id>"}}\n<json>\n
 * `json` is one document from lf_event_write_json (one line). Index and id
 * are written with lf_json_write_string, so no byte of them can break the
 * line. Returns 0, LF_ELIMIT (the body's cap: nothing appended), LF_EINVAL
 * (json is empty or holds a raw newline, which would forge a line: nothing
 * appended) or LF_ENOMEM (nothing appended).
 */
int lf_bulk_append(struct lf_buf *body, const char *index, size_t index_len, const char *id,
                   const char *json, size_t json_len);

/* The same with a mapping type in the action,
 *   {"create":{"_index":"<index>","_type":"<type>","_id":"<id>"}}
 * which Elasticsearch 6.8 requires (7.x ignores it, 8.x refuses it). */
int lf_bulk_append_typed(struct lf_buf *body, const char *type, const char *index, size_t index_len,
                         const char *id, const char *json, size_t json_len);

#endif
