/*
 * jsonlines.h - lines that are JSON objects (application logs, nginx's
 * `escape=json` log formats, Docker's json-file lines) decoded into an
 * event's fields, per input (`json:` of a files input, or of omprog for the
 * msg property; docs/JSONLINES.md).
 *
 * Keys become fields: nested objects are flattened into dotted paths, which
 * the event writes back as the same nested objects, so a key "http.status"
 * and {"http":{"status":..}} give the one Elasticsearch mapping either way.
 * Strings stay strings, numbers numbers (their text as written), booleans
 * booleans; arrays, empty objects and null are kept as written (compacted).
 * A line that is not one JSON object, or past a limit, is shipped as its
 * text in `message`, tagged `_jsonparsefailure` with the reason in
 * `error.message`: never dropped.
 */
#ifndef LF_JSONLINES_H
#define LF_JSONLINES_H

#include "lf.h"
#include "lf_config.h"
#include "parser.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LF_JSONLINES_TAG_FAILURE "_jsonparsefailure"
#define LF_JSONLINES_TAG_TIME "_timestampparsefailure"
/* Where a key the agent owns (host.name, @timestamp, event.*...) goes. */
#define LF_JSONLINES_MOVED_PREFIX "json"

enum lf_jsonlines_time {
    LF_JSONLINES_TIME_AUTO,    /* text: ISO 8601 / RFC 3339; a number: epoch by magnitude */
    LF_JSONLINES_TIME_RFC3339, /* text only: ISO 8601 / RFC 3339 */
    LF_JSONLINES_TIME_UNIX,    /* epoch seconds (a fraction allowed), number or text */
    LF_JSONLINES_TIME_UNIX_MS,
    LF_JSONLINES_TIME_UNIX_US,
    LF_JSONLINES_TIME_UNIX_NS
};

enum lf_jsonlines_fallback { LF_JSONLINES_MESSAGE_LINE, LF_JSONLINES_MESSAGE_NONE };

/* One input's `json:` section. */
struct lf_jsonlines_conf {
    bool enabled;
    char *target;         /* NULL: keys at the event's root */
    char *message_key;    /* its string value becomes `message` */
    int message_fallback; /* enum lf_jsonlines_fallback: no message key */
    char *timestamp_key;  /* its value becomes the event time */
    int timestamp_format; /* enum lf_jsonlines_time */
    bool apply_grammar;   /* the input's grammar then parses `message` */
    uint32_t max_depth;   /* path segments of a field, nesting included */
    uint32_t max_fields;
};

/* The keys of a `json:` section (lf_config.h), for every input that has one. */
extern const struct lf_conf_key lf_jsonlines_conf_keys[];

/* NULL if `path` may be json.target (a dotted path that no key the agent
 * owns is under), else what is expected. */
const char *lf_jsonlines_check_target(const char *path);

struct lf_jsonlines;

/*
 * A decoder for one input's lines of at most max_line bytes. conf is
 * borrowed and must outlive it. Returns NULL with the reason in errbuf.
 */
struct lf_jsonlines *lf_jsonlines_create(const struct lf_jsonlines_conf *conf, size_t max_line,
                                         char *errbuf, size_t errlen);
void lf_jsonlines_destroy(struct lf_jsonlines *j);

/*
 * Fills `ev` (cleared first) from one line, as lf_parser_parse() does for a
 * grammar: the object's fields, `message` (the message key's string, its
 * trailing newline removed; or the line, per message_fallback), and the
 * event time in *ts_ms from the timestamp key (0: none; a value that is not
 * a time stays a field, tagged `_timestampparsefailure`). With
 * apply_grammar, p's grammar then parses the message and its fields are
 * added (they win over a JSON key of the same name). A line that is not one
 * JSON object, was cut (`cut`), or is past a limit, is the bare line tagged
 * `_jsonparsefailure`, with error.message. p also reads text times.
 * Fields point into `line`, into the decoder and into the event: valid
 * until the next call. Counts into c. Returns 0 or LF_ENOMEM/LF_ELIMIT.
 */
int lf_jsonlines_parse(struct lf_jsonlines *j, struct lf_parser *p, const char *line, size_t len,
                       bool cut, struct lf_event *ev, int64_t *ts_ms, struct lf_input_counters *c);

#endif
