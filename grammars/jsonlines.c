/*
 * jsonlines.c - one line, one JSON object, into an event's fields
 * (jsonlines.h; what users see is in docs/JSONLINES.md).
 *
 * The line is read in one pass without a tree: each scalar's path is built
 * in a fixed buffer as the reader walks the objects, and its value goes into
 * the decoder's store (strings unescaped, numbers as written, arrays
 * re-written compact). The store may move while it grows, so fields hold
 * offsets into it until the line is read, and become pointers only then.
 *
 * Why keys are flattened rather than kept as one JSON value: the agent's
 * own fields (host.name, log.file.path, @timestamp, event.dataset) live in
 * the same objects as an application's keys, and Elasticsearch maps "a.b"
 * and {"a":{"b":..}} alike; with every key a path, a key the agent owns is
 * found by its path and moved under "json." instead of clashing, and the
 * event writer nests the rest exactly as the line had them.
 *
 * The grammar is RFC 8259's, strictly, except that bytes that are not UTF-8
 * are let through inside strings (the event writer reads them as Latin-1,
 * as it does for plain lines) and a lone \u surrogate becomes U+FFFD.
 */
#define _POSIX_C_SOURCE 200809L
#include "jsonlines.h"
#include "grok.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lf_event_add's longest path. */
#define PATH_MAX_LEN 1024
/* 9999-12-31T23:59:59.999Z: later times are not times. */
#define MAX_TIME_MS 253402300799999LL
#define DROPPED 0xFF

/* ---- configuration ------------------------------------------------------ */

#define J(field) offsetof(struct lf_jsonlines_conf, field)

static const struct lf_conf_enum time_formats[] = {{"auto", LF_JSONLINES_TIME_AUTO},
                                                   {"rfc3339", LF_JSONLINES_TIME_RFC3339},
                                                   {"unix", LF_JSONLINES_TIME_UNIX},
                                                   {"unix_ms", LF_JSONLINES_TIME_UNIX_MS},
                                                   {"unix_us", LF_JSONLINES_TIME_UNIX_US},
                                                   {"unix_ns", LF_JSONLINES_TIME_UNIX_NS},
                                                   {NULL, 0}};
static const struct lf_conf_enum fallbacks[] = {
    {"line", LF_JSONLINES_MESSAGE_LINE}, {"none", LF_JSONLINES_MESSAGE_NONE}, {NULL, 0}};

const struct lf_conf_key lf_jsonlines_conf_keys[] = {
    {.name = "enabled",
     .type = LF_CONF_BOOL,
     .offset = J(enabled),
     .def = "false",
     .doc = "decode each line as one JSON object: its keys become fields (nested objects as "
            "dotted paths, numbers and booleans typed); a line that is not one is shipped as "
            "text, tagged `_jsonparsefailure` (docs/JSONLINES.md)"},
    {.name = "target",
     .type = LF_CONF_STRING,
     .offset = J(target),
     .def_doc = "none: keys at the event's root",
     .check = lf_jsonlines_check_target,
     .doc = "put the keys under this dotted path instead (`app` gives `app.<key>`)"},
    {.name = "message_key",
     .type = LF_CONF_STRING,
     .offset = J(message_key),
     .def = "message",
     .doc = "the key (a dotted path for a nested one) whose string becomes `message`, a "
            "trailing newline removed: `msg` for pino, zap, logrus; `log` for Docker's "
            "json-file"},
    {.name = "message_fallback",
     .type = LF_CONF_ENUM,
     .offset = J(message_fallback),
     .enums = fallbacks,
     .def = "line",
     .doc = "a line without the message key: `line` ships the whole line as `message` too, "
            "`none` ships no `message`"},
    {.name = "timestamp_key",
     .type = LF_CONF_STRING,
     .offset = J(timestamp_key),
     .def = "\"@timestamp\"", /* YAML: @ cannot start a plain scalar */
     .doc = "the key whose value is the event time (`time`, `ts`, `timestamp`); it is "
            "removed once read; a value that is not a time stays, tagged "
            "`_timestampparsefailure`; without it the event time is when the line was read"},
    {.name = "timestamp_format",
     .type = LF_CONF_ENUM,
     .offset = J(timestamp_format),
     .enums = time_formats,
     .def = "auto",
     .doc = "`rfc3339`: ISO 8601 text (a zone, or the agent's timezone); `unix`, `unix_ms`, "
            "`unix_us`, `unix_ns`: epoch seconds (a fraction allowed), milliseconds..., as a "
            "number or a string; `auto`: text as rfc3339, numbers as epoch by their size"},
    {.name = "apply_grammar",
     .type = LF_CONF_BOOL,
     .offset = J(apply_grammar),
     .def = "false",
     .doc = "then parse `message` with the input's `grammar`; its fields win over keys of "
            "the same name"},
    {.name = "max_depth",
     .type = LF_CONF_UINT,
     .offset = J(max_depth),
     .def = "20",
     .min = 1,
     .max = 64,
     .doc = "a field deeper than this many path segments (Elasticsearch's "
            "`index.mapping.depth.limit` is 20) makes the line fail as text"},
    {.name = "max_fields",
     .type = LF_CONF_UINT,
     .offset = J(max_fields),
     .def = "1000",
     .min = 1,
     .max = 4000,
     .doc = "a line with more fields than this fails as text (Elasticsearch's "
            "`index.mapping.total_fields.limit` is 1000 for the whole index)"},
    {.name = NULL}};

/* ---- keys the agent owns ------------------------------------------------ */

/* A key at or under one of these would change what the agent vouches for. */
static const char *const owned[] = {"@timestamp",    "agent",      "event",   "host.name",
                                    "log.file.path", "log.offset", "message", "tags"};
/* Objects in every document, in the shipped index template, or in a
 * failed line (error.message): a value (a string, a number) here would map
 * the name as a value, and Elasticsearch would then refuse the documents
 * that have the object. */
static const char *const objects[] = {"error",      "host",    "log",   "log.file",
                                      "log.syslog", "process", "system"};
/* Elasticsearch's metadata fields, refused at a document's root. */
static const char *const metadata[] = {"_id",
                                       "_index",
                                       "_source",
                                       "_routing",
                                       "_ignored",
                                       "_seq_no",
                                       "_primary_term",
                                       "_version",
                                       "_type",
                                       "_field_names",
                                       "_doc_count",
                                       "_tier",
                                       "_data_stream_timestamp"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static bool same(const char *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* p is s or a path under it. */
static bool under(const char *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    return n >= k && memcmp(p, s, k) == 0 && (n == k || p[k] == '.');
}

static bool must_move(const char *p, size_t n)
{
    /* Most keys start with a letter no entry starts with: one test. */
    if (!n || !memchr("@_aehlmpst", p[0], 10))
        return false;
    for (size_t i = 0; i < COUNT(owned); i++)
        if (under(p, n, owned[i]))
            return true;
    for (size_t i = 0; i < COUNT(objects); i++)
        if (same(p, n, objects[i]))
            return true;
    const char *dot = memchr(p, '.', n);
    size_t first = dot ? (size_t)(dot - p) : n;
    for (size_t i = 0; i < COUNT(metadata); i++)
        if (same(p, first, metadata[i]))
            return true;
    return false;
}

/* No empty segment: "", ".a", "a.", "a..b" are not field names. */
static bool good_path(const char *p, size_t n)
{
    if (n == 0 || p[0] == '.' || p[n - 1] == '.')
        return false;
    for (size_t i = 1; i < n; i++)
        if (p[i] == '.' && p[i - 1] == '.')
            return false;
    return true;
}

const char *lf_jsonlines_check_target(const char *path)
{
    size_t n = strlen(path);
    if (!good_path(path, n) || n > 256)
        return "a dotted path of up to 256 bytes without empty parts (`app`, `app.json`)";
    for (size_t i = 0; i < COUNT(owned); i++)
        if (under(path, n, owned[i]))
            return "a path that is not the agent's own (@timestamp, agent, event, host.name, "
                   "log.file.path, log.offset, message, tags)";
    if (path[0] == '_')
        return "a path that does not start with '_' (Elasticsearch's metadata fields)";
    return NULL;
}

/* ---- the decoder -------------------------------------------------------- */

/* A field while the line is read: offsets into the store. */
struct jfield {
    size_t path_off, val_off, val_len;
    uint32_t path_len;
    uint8_t type; /* enum lf_value_type, or DROPPED */
    uint8_t flags;
    bool b;
};

struct lf_jsonlines {
    const struct lf_jsonlines_conf *conf;
    size_t target_len, msg_key_len, ts_key_len;
    unsigned max_depth, max_fields; /* conf's, or the defaults when 0 */
    struct lf_buf store;            /* strings, numbers, arrays and paths of this line */
    struct lf_buf tmp;              /* one string of an array, unescaped */
    struct jfield *fields;
    size_t n;
    uint32_t *slots; /* duplicate keys: an open-addressing set of paths */
    size_t nslots;
    char path[PATH_MAX_LEN + 1]; /* the path being read */
    size_t path_len;
    unsigned segs; /* its segments */
    /* this line */
    const char *line, *p, *end;
    char why[200];
    bool have_msg, have_ts;
    size_t msg_off, msg_len;
    struct jfield ts;
    char ts_path[PATH_MAX_LEN + 1];
};

struct lf_jsonlines *lf_jsonlines_create(const struct lf_jsonlines_conf *conf, size_t max_line,
                                         char *errbuf, size_t errlen)
{
    struct lf_jsonlines *j = calloc(1, sizeof(*j));
    size_t max_fields = conf->max_fields ? conf->max_fields : 1000;
    if (j) {
        j->conf = conf;
        j->max_fields = (unsigned)max_fields;
        j->max_depth = conf->max_depth ? conf->max_depth : 20;
        if (j->max_depth > 64) /* the reader recurses once per level */
            j->max_depth = 64;
        j->target_len = conf->target ? strlen(conf->target) : 0;
        j->msg_key_len = conf->message_key ? strlen(conf->message_key) : 0;
        j->ts_key_len = conf->timestamp_key ? strlen(conf->timestamp_key) : 0;
        /* Unescaped strings are never longer than the line, a compacted
         * array at most twice (a byte that is not UTF-8 becomes two), and
         * each field's path is at most PATH_MAX_LEN. */
        lf_buf_init(&j->store, 2 * max_line + max_fields * (PATH_MAX_LEN + 8) + 4096);
        lf_buf_init(&j->tmp, max_line + 16);
        for (j->nslots = 16; j->nslots < 2 * max_fields;)
            j->nslots *= 2;
        j->fields = calloc(max_fields + 1, sizeof(*j->fields));
        j->slots = calloc(j->nslots, sizeof(*j->slots));
    }
    if (!j || !j->fields || !j->slots) {
        snprintf(errbuf, errlen, "json: out of memory");
        lf_jsonlines_destroy(j);
        return NULL;
    }
    if (conf->target && j->target_len > 256) {
        snprintf(errbuf, errlen, "json.target: longer than 256 bytes");
        lf_jsonlines_destroy(j);
        return NULL;
    }
    return j;
}

void lf_jsonlines_destroy(struct lf_jsonlines *j)
{
    if (!j)
        return;
    lf_buf_free(&j->store);
    lf_buf_free(&j->tmp);
    free(j->fields);
    free(j->slots);
    free(j);
}

__attribute__((format(printf, 3, 4))) static int fail(struct lf_jsonlines *j, int rc,
                                                      const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(j->why, sizeof(j->why), "%s at byte %zu", what, (size_t)(j->p - j->line));
    return rc;
}

static int syntax(struct lf_jsonlines *j, const char *what)
{
    if (j->p >= j->end)
        return fail(j, LF_ESYNTAX, "line ends inside the JSON (%s)", what);
    return fail(j, LF_ESYNTAX, "%s", what);
}

static void skip_ws(struct lf_jsonlines *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int hex4(struct lf_jsonlines *j, unsigned *cp)
{
    if (j->end - j->p < 4)
        return syntax(j, "a \\u escape needs four hex digits");
    *cp = 0;
    for (int i = 0; i < 4; i++) {
        char c = *j->p++;
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return syntax(j, "a \\u escape needs four hex digits");
        *cp = *cp << 4 | d;
    }
    return 0;
}

/* A \u escape (j->p after the 'u'): a surrogate pair taken whole, a lone
 * surrogate as U+FFFD. */
static int unicode_escape(struct lf_jsonlines *j, unsigned *cp)
{
    int rc = hex4(j, cp);
    if (rc || *cp < 0xD800 || *cp >= 0xE000)
        return rc;
    unsigned lo;
    if (*cp < 0xDC00 && j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
        const char *back = j->p;
        j->p += 2;
        if ((rc = hex4(j, &lo)))
            return rc;
        if (lo >= 0xDC00 && lo < 0xE000) {
            *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
            return 0;
        }
        j->p = back; /* not its pair: read on its own */
    }
    *cp = 0xFFFD;
    return 0;
}

/* The string at j->p (its opening quote), unescaped into dst, which has
 * room for cap bytes; LF_ELIMIT (with why_long) when it does not fit. */
static int read_string(struct lf_jsonlines *j, char *dst, size_t cap, size_t *len,
                       const char *why_long)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    size_t k = 0;
    for (j->p++; j->p < j->end;) {
        /* A run of plain bytes in one copy: most of a string is that. */
        const char *run = j->p;
        while (run < j->end && (unsigned char)*run >= 0x20 && *run != '"' && *run != '\\')
            run++;
        if (run > j->p) {
            size_t m = (size_t)(run - j->p);
            if (m > cap - k)
                return fail(j, LF_ELIMIT, "%s", why_long);
            memcpy(dst + k, j->p, m);
            k += m;
            j->p = run;
            if (run == j->end)
                break;
        }
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            *len = k;
            return 0;
        }
        if (c < 0x20)
            return syntax(j, "a control character inside a string");
        if (cap - k < 4)
            return fail(j, LF_ELIMIT, "%s", why_long);
        j->p++;
        if (c != '\\') {
            dst[k++] = (char)c;
            continue;
        }
        if (j->p == j->end)
            break;
        char e = *j->p++;
        const char *hit = e ? strchr(from, e) : NULL;
        unsigned cp;
        int rc;
        if (hit)
            dst[k++] = to[hit - from];
        else if (e != 'u')
            return syntax(j, "an invalid escape in a string");
        else if ((rc = unicode_escape(j, &cp)))
            return rc;
        else
            k += lf_utf8_put(dst + k, cp);
    }
    return syntax(j, "an unterminated string");
}

static int read_literal(struct lf_jsonlines *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return syntax(j, "an unexpected character");
    j->p += n;
    return 0;
}

/* A number's text, checked; *n is 0 when it is not one. */
static const char *read_number(struct lf_jsonlines *j, size_t *n)
{
    const char *start = j->p;
    while (j->p < j->end && ((*j->p >= '0' && *j->p <= '9') || *j->p == '-' || *j->p == '+' ||
                             *j->p == '.' || *j->p == 'e' || *j->p == 'E'))
        j->p++;
    *n = (size_t)(j->p - start);
    if (*n == 0 || !lf_json_number_form(start, *n)) {
        j->p = start;
        *n = 0;
    }
    return start;
}

/* ---- arrays, written back compact ---------------------------------------- */

static int write_raw(struct lf_jsonlines *j, unsigned depth);

/* A string of an array: unescaped, then written as JSON (so a byte that is
 * not UTF-8 is written as the Latin-1 character, like any string). */
static int write_raw_string(struct lf_jsonlines *j)
{
    size_t len;
    int rc = lf_buf_grow(&j->tmp, (size_t)(j->end - j->p) + 4);
    if (!rc)
        rc = read_string(j, j->tmp.data, j->tmp.cap, &len, "a string too long");
    if (!rc)
        rc = lf_json_write_string(&j->store, j->tmp.data, len);
    return rc;
}

static int write_raw_container(struct lf_jsonlines *j, unsigned depth)
{
    char close = *j->p == '{' ? '}' : ']';
    int rc = lf_buf_putc(&j->store, *j->p);
    j->p++;
    skip_ws(j);
    if (!rc && j->p < j->end && *j->p == close) {
        j->p++;
        return lf_buf_putc(&j->store, close);
    }
    while (!rc) {
        if (close == '}') {
            if (j->p == j->end || *j->p != '"')
                return syntax(j, "an object key must be a string");
            if ((rc = write_raw_string(j)))
                return rc;
            skip_ws(j);
            if (j->p == j->end || *j->p++ != ':')
                return syntax(j, "':' expected after a key");
            if ((rc = lf_buf_putc(&j->store, ':')))
                return rc;
            skip_ws(j);
        }
        if ((rc = write_raw(j, depth + 1)))
            return rc;
        skip_ws(j);
        if (j->p == j->end)
            return syntax(j, "',' or the end of a list expected");
        char c = *j->p++;
        if ((rc = lf_buf_putc(&j->store, c)))
            return rc;
        if (c == close)
            return 0;
        if (c != ',') {
            j->p--;
            return syntax(j, "',' or the end of a list expected");
        }
        skip_ws(j);
    }
    return rc;
}

/* The value at j->p, compact, appended to the store. */
static int write_raw(struct lf_jsonlines *j, unsigned depth)
{
    if (depth > j->max_depth)
        return fail(j, LF_ELIMIT, "nested deeper than max_depth %u", j->max_depth);
    if (j->p == j->end)
        return syntax(j, "a value expected");
    switch (*j->p) {
    case '{':
    case '[':
        return write_raw_container(j, depth);
    case '"':
        return write_raw_string(j);
    case 't':
    case 'f':
    case 'n': {
        const char *word = *j->p == 't' ? "true" : *j->p == 'f' ? "false" : "null";
        int rc = read_literal(j, word);
        return rc ? rc : lf_buf_puts(&j->store, word);
    }
    default: {
        size_t n;
        const char *s = read_number(j, &n);
        return n ? lf_buf_append(&j->store, s, n) : syntax(j, "an unexpected character");
    }
    }
}

/* ---- fields ---------------------------------------------------------------- */

/* Adds the field at path (moved under "json." when the agent owns it). */
static int add_field(struct lf_jsonlines *j, const char *path, size_t plen, const struct jfield *v)
{
    if (j->n >= j->max_fields)
        return fail(j, LF_ELIMIT, "more than max_fields %u fields", j->max_fields);
    bool move = !(v->flags & LF_FIELD_LIST) && must_move(path, plen);
    size_t len = plen + (move ? sizeof(LF_JSONLINES_MOVED_PREFIX) : 0);
    if (len > PATH_MAX_LEN)
        return fail(j, LF_ELIMIT, "a key path longer than %d bytes", PATH_MAX_LEN);
    struct jfield *f = &j->fields[j->n];
    *f = *v;
    f->path_off = j->store.len;
    f->path_len = (uint32_t)len;
    int rc = move ? lf_buf_puts(&j->store, LF_JSONLINES_MOVED_PREFIX ".") : 0;
    if (!rc)
        rc = lf_buf_append(&j->store, path, plen);
    if (!rc)
        j->n++;
    return rc;
}

/* A value at the current path: the message, the time, or a field. */
static int leaf(struct lf_jsonlines *j, const struct jfield *v)
{
    size_t skip = j->target_len ? j->target_len + 1 : 0;
    const char *rel = j->path + skip;
    size_t rel_len = j->path_len - skip;
    if (v->type == LF_VAL_STRING && rel_len == j->msg_key_len &&
        memcmp(rel, j->conf->message_key, rel_len) == 0) {
        j->have_msg = true; /* a later one wins, as for any key */
        j->msg_off = v->val_off;
        j->msg_len = v->val_len;
        return 0;
    }
    if ((v->type == LF_VAL_STRING || v->type == LF_VAL_NUMBER) && rel_len == j->ts_key_len &&
        memcmp(rel, j->conf->timestamp_key, rel_len) == 0) {
        j->have_ts = true;
        j->ts = *v;
        j->ts.path_len = (uint32_t)j->path_len;
        memcpy(j->ts_path, j->path, j->path_len);
        return 0;
    }
    struct jfield f = *v;
    if (v->type == LF_VAL_STRING && same(j->path, j->path_len, "tags"))
        f.flags |= LF_FIELD_LIST; /* joins the agent's tags */
    return add_field(j, j->path, j->path_len, &f);
}

/* A top-level "tags" list of strings joins the event's tags; any other
 * list is kept under json.tags (returns 1 to say so, nothing consumed). */
static int read_tags(struct lf_jsonlines *j)
{
    const char *start = j->p;
    size_t n0 = j->n, store0 = j->store.len;
    int rc = 0;
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return 0;
    }
    while (!rc) {
        if (j->p == j->end || *j->p != '"')
            break;
        struct jfield f = {.type = LF_VAL_STRING, .flags = LF_FIELD_LIST};
        if ((rc = lf_buf_grow(&j->store, (size_t)(j->end - j->p) + 4)))
            return rc;
        f.val_off = j->store.len;
        if ((rc = read_string(j, j->store.data + j->store.len, j->store.cap - j->store.len - 1,
                              &f.val_len, "a string too long")))
            return rc;
        j->store.len += f.val_len;
        if ((rc = add_field(j, "tags", 4, &f)))
            return rc;
        skip_ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            return 0;
        }
        if (j->p == j->end || *j->p != ',')
            break;
        j->p++;
        skip_ws(j);
    }
    j->p = start;
    j->n = n0;
    j->store.len = store0;
    return 1;
}

static int read_object(struct lf_jsonlines *j);

/* The value of the key just read (the current path). */
static int read_member_value(struct lf_jsonlines *j)
{
    struct jfield v = {.type = LF_VAL_STRING};
    int rc;
    if (j->p == j->end)
        return syntax(j, "a value expected");
    switch (*j->p) {
    case '{': {
        const char *q = j->p + 1;
        while (q < j->end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
            q++;
        if (q < j->end && *q != '}')
            return read_object(j);
        break; /* {} is kept as it is, below */
    }
    case '[':
        if (same(j->path, j->path_len, "tags") && (rc = read_tags(j)) <= 0)
            return rc;
        break;
    case '"':
        if ((rc = lf_buf_grow(&j->store, (size_t)(j->end - j->p) + 4)))
            return rc;
        v.val_off = j->store.len;
        if ((rc = read_string(j, j->store.data + j->store.len, j->store.cap - j->store.len - 1,
                              &v.val_len, "a string too long")))
            return rc;
        j->store.len += v.val_len;
        return leaf(j, &v);
    case 't':
    case 'f':
        v.type = LF_VAL_BOOL;
        v.b = *j->p == 't';
        if ((rc = read_literal(j, v.b ? "true" : "false")))
            return rc;
        return leaf(j, &v);
    case 'n':
        break;
    default: {
        size_t n;
        const char *s = read_number(j, &n);
        if (!n)
            return syntax(j, "an unexpected character");
        v.type = LF_VAL_NUMBER;
        v.val_off = j->store.len;
        v.val_len = n;
        if ((rc = lf_buf_append(&j->store, s, n)))
            return rc;
        return leaf(j, &v);
    }
    }
    /* Lists, {} and null: as written, compact. */
    v.type = LF_VAL_JSON;
    v.val_off = j->store.len;
    if ((rc = write_raw(j, j->segs)))
        return rc;
    v.val_len = j->store.len - v.val_off;
    return leaf(j, &v);
}

/* One "key": value of an object: the key extends the path. */
static int read_member(struct lf_jsonlines *j)
{
    size_t keep = j->path_len;
    unsigned keep_segs = j->segs;
    if (j->p == j->end || *j->p != '"')
        return syntax(j, "an object key must be a string");
    size_t at = keep ? keep + 1 : 0;
    const char *key_at = j->p;
    size_t klen;
    int rc = read_string(j, j->path + at, at < PATH_MAX_LEN ? PATH_MAX_LEN - at : 0, &klen,
                         "a key path longer than 1024 bytes");
    if (rc)
        return rc;
    if (keep)
        j->path[keep] = '.';
    j->path_len = at + klen;
    for (size_t i = at; i < j->path_len; i++)
        j->segs += j->path[i] == '.';
    j->segs++;
    if (!good_path(j->path + at, klen)) {
        j->p = key_at;
        return fail(j, LF_ESYNTAX, "an empty key or key part");
    }
    if (j->segs > j->max_depth)
        return fail(j, LF_ELIMIT, "nested deeper than max_depth %u", j->max_depth);
    skip_ws(j);
    if (j->p == j->end || *j->p++ != ':')
        return syntax(j, "':' expected after a key");
    skip_ws(j);
    rc = read_member_value(j);
    j->path_len = keep;
    j->segs = keep_segs;
    return rc;
}

/* The object at j->p, its members at the current path. */
static int read_object(struct lf_jsonlines *j)
{
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return 0;
    }
    for (;;) {
        int rc = read_member(j);
        if (rc)
            return rc;
        skip_ws(j);
        if (j->p == j->end)
            return syntax(j, "',' or '}' expected");
        char c = *j->p++;
        if (c == '}')
            return 0;
        if (c != ',') {
            j->p--;
            return syntax(j, "',' or '}' expected");
        }
        skip_ws(j);
    }
}

static int decode(struct lf_jsonlines *j, const char *line, size_t len)
{
    j->line = j->p = line;
    j->end = line + len;
    j->n = 0;
    j->have_msg = j->have_ts = false;
    j->why[0] = '\0';
    lf_buf_reset(&j->store);
    j->path_len = j->target_len;
    j->segs = 0;
    if (j->target_len) {
        memcpy(j->path, j->conf->target, j->target_len);
        j->segs = 1;
        for (size_t i = 0; i < j->target_len; i++)
            j->segs += j->path[i] == '.';
    }
    skip_ws(j);
    if (j->p == j->end || *j->p != '{')
        return fail(j, LF_ESYNTAX, "not a JSON object");
    int rc = read_object(j);
    if (rc)
        return rc;
    skip_ws(j);
    return j->p == j->end ? 0 : syntax(j, "text after the object");
}

/* ---- after reading --------------------------------------------------------- */

static uint32_t hash_path(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* A key given twice (or as "a.b" and {"a":{"b"}}): the last one wins, as in
 * most JSON readers; Elasticsearch would refuse the document. */
static void drop_duplicates(struct lf_jsonlines *j)
{
    size_t nslots = 16;
    while (nslots < 2 * j->n && nslots < j->nslots)
        nslots *= 2;
    memset(j->slots, 0, nslots * sizeof(*j->slots));
    for (size_t i = 0; i < j->n; i++) {
        struct jfield *f = &j->fields[i];
        if (f->flags & LF_FIELD_LIST)
            continue;
        const char *p = j->store.data + f->path_off;
        size_t h = hash_path(p, f->path_len) & (nslots - 1);
        while (j->slots[h]) {
            struct jfield *g = &j->fields[j->slots[h] - 1];
            if (g->path_len == f->path_len &&
                memcmp(j->store.data + g->path_off, p, f->path_len) == 0) {
                g->type = DROPPED;
                break;
            }
            h = (h + 1) & (nslots - 1);
        }
        j->slots[h] = (uint32_t)i + 1;
    }
}

/* Epoch text in units of 10^-unit_exp s (0: seconds, 3: ms, ...) to ms.
 * unit_exp < 0: by its size (seconds below 1e11, then ms, us, ns). */
static bool epoch_ms(const char *s, size_t n, int unit_exp, int64_t *ms)
{
    size_t i = 0;
    uint64_t whole = 0;
    int digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 19) {
        whole = whole * 10 + (uint64_t)(s[i++] - '0');
        digits++;
    }
    if (!digits || (i < n && s[i] >= '0' && s[i] <= '9'))
        return false;
    const char *frac = NULL;
    size_t nfrac = 0;
    if (i < n && s[i] == '.') {
        frac = s + ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, nfrac++;
        if (!nfrac)
            return false;
    }
    if (i != n)
        return false; /* exponents, signs: not an epoch time */
    if (unit_exp < 0)
        unit_exp = whole < 100000000000ull         ? 0
                   : whole < 100000000000000ull    ? 3
                   : whole < 100000000000000000ull ? 6
                                                   : 9;
    int64_t v;
    if (unit_exp <= 3) {
        uint64_t scale = unit_exp == 0 ? 1000 : 1;
        if (whole > (uint64_t)MAX_TIME_MS / scale)
            return false;
        v = (int64_t)(whole * scale);
        for (int k = 0, m = 100; unit_exp == 0 && k < 3 && (size_t)k < nfrac; k++, m /= 10)
            v += (frac[k] - '0') * m;
    } else {
        v = (int64_t)(whole / (unit_exp == 6 ? 1000u : 1000000u));
    }
    if (v > MAX_TIME_MS)
        return false;
    *ms = v;
    return true;
}

static bool read_time(struct lf_jsonlines *j, struct lf_parser *p, int64_t *ms)
{
    const char *s = j->store.data + j->ts.val_off;
    size_t n = j->ts.val_len;
    int fmt = j->conf->timestamp_format;
    static const int exps[] = {[LF_JSONLINES_TIME_UNIX] = 0,
                               [LF_JSONLINES_TIME_UNIX_MS] = 3,
                               [LF_JSONLINES_TIME_UNIX_US] = 6,
                               [LF_JSONLINES_TIME_UNIX_NS] = 9};
    if (fmt == LF_JSONLINES_TIME_AUTO || fmt == LF_JSONLINES_TIME_RFC3339) {
        if (j->ts.type == LF_VAL_STRING && p && lf_parser_parse_time(p, s, n, ms) && *ms >= 0 &&
            *ms <= MAX_TIME_MS)
            return true;
        return fmt == LF_JSONLINES_TIME_AUTO && epoch_ms(s, n, -1, ms);
    }
    return epoch_ms(s, n, exps[fmt], ms);
}

/* The message without the newline a writer left at its end (Docker's). */
static void message_of(struct lf_jsonlines *j, const char **s, size_t *n)
{
    *s = j->store.data + j->msg_off;
    *n = j->msg_len;
    if (*n && (*s)[*n - 1] == '\n')
        (*n)--;
    if (*n && (*s)[*n - 1] == '\r')
        (*n)--;
}

static struct lf_field field_of(const struct lf_jsonlines *j, const struct jfield *f)
{
    struct lf_field out = {.path = j->store.data + f->path_off,
                           .path_len = f->path_len,
                           .type = f->type,
                           .flags = f->flags,
                           .str = j->store.data + f->val_off,
                           .len = f->val_len};
    if (f->type == LF_VAL_BOOL)
        out.v.i = f->b;
    return out;
}

static bool has_path(const struct lf_event *ev, size_t upto, const struct lf_field *f)
{
    for (size_t i = 0; i < upto; i++)
        if (ev->fields[i].path_len == f->path_len &&
            memcmp(ev->fields[i].path, f->path, f->path_len) == 0)
            return true;
    return false;
}

static int build(struct lf_jsonlines *j, struct lf_parser *p, const char *line, size_t len,
                 struct lf_event *ev, int64_t *ts_ms)
{
    int64_t ts = 0;
    bool ts_failed = j->have_ts && !read_time(j, p, &ts);
    if (ts_failed && (j->n >= j->max_fields || add_field(j, j->ts_path, j->ts.path_len, &j->ts)))
        ts_failed = false; /* no room to keep it: it is dropped like an extra field */
    drop_duplicates(j);
    int rc;
    size_t from_grammar = 0;
    if (j->have_msg && j->conf->apply_grammar && p) {
        const char *m;
        size_t n;
        message_of(j, &m, &n);
        struct lf_input_counters scratch = {0};
        int64_t grammar_ts = 0;
        if ((rc = lf_parser_parse(p, m, n, false, ev, &grammar_ts, &scratch)))
            return rc;
        from_grammar = ev->nfields;
        if (!ts)
            ts = grammar_ts;
    } else {
        lf_event_clear(ev);
        const char *m = line;
        size_t n = len;
        if (j->have_msg)
            message_of(j, &m, &n);
        if ((j->have_msg || j->conf->message_fallback == LF_JSONLINES_MESSAGE_LINE) &&
            (rc = lf_event_add_string(ev, "message", m, n)))
            return rc;
    }
    if ((rc = lf_event_reserve(ev, j->n + 1)))
        return rc;
    for (size_t i = 0; i < j->n; i++) {
        if (j->fields[i].type == DROPPED)
            continue;
        struct lf_field f = field_of(j, &j->fields[i]);
        if (from_grammar && has_path(ev, from_grammar, &f))
            continue;
        if ((rc = lf_event_add(ev, &f)))
            return rc;
    }
    if (ts_failed && (rc = lf_event_add_tag(ev, LF_JSONLINES_TAG_TIME)))
        return rc;
    *ts_ms = ts;
    return 0;
}

/* The line as it is, tagged, with the reason. */
static int ship_bare(struct lf_jsonlines *j, const char *line, size_t len, bool cut,
                     struct lf_event *ev)
{
    lf_event_clear(ev);
    int rc = cut ? lf_event_add_tag(ev, LF_GROK_TAG_TRUNCATED) : 0;
    if (!rc)
        rc = lf_event_add_tag(ev, LF_JSONLINES_TAG_FAILURE);
    if (!rc)
        rc = lf_event_add_string(ev, "message", line, len);
    if (!rc)
        rc = lf_event_add_copy(ev, "error.message", j->why, strlen(j->why));
    return rc;
}

int lf_jsonlines_parse(struct lf_jsonlines *j, struct lf_parser *p, const char *line, size_t len,
                       bool cut, struct lf_event *ev, int64_t *ts_ms, struct lf_input_counters *c)
{
    *ts_ms = 0;
    c->read++;
    int rc;
    if (cut) {
        c->truncated++;
        j->line = j->p = line;
        j->end = line + len;
        j->p = j->end;
        rc = fail(j, LF_ELIMIT, "line cut at max_line");
    } else {
        rc = decode(j, line, len);
    }
    if (rc == LF_ENOMEM)
        return rc;
    if (rc) {
        if (!j->why[0]) /* a buffer's cap */
            snprintf(j->why, sizeof(j->why), "line too large to decode");
        c->unparsed++;
        return ship_bare(j, line, len, cut, ev);
    }
    c->parsed++;
    return build(j, p, line, len, ev, ts_ms);
}
