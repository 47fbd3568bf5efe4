/*
 * omprog_props.c - what the omprog input makes of one line: a line that is
 * one JSON object is a set of rsyslog properties (a template of
 * property(format="jsonf") items, as in packaging/rsyslog/logferry-omprog.conf),
 * read in place by a small strict reader: jansson's allocating decoder took
 * half of the agent's CPU per message. Properties are mapped to the field
 * names of the Elastic Common Schema and of Filebeat's system module (see
 * json_fields[]). The message body ("msg") then goes through a grammar: with
 * the built-in syslog grammar, whose header part would not match a bare body,
 * the body part of it, LOGFERRY_MESSAGE, so that an sshd line gives the same
 * fields as when tailed from /var/log/auth.log; with any other grammar, that
 * grammar, written for message bodies. Any other line goes through the
 * configured grammar whole, as a tailed file's line would.
 *
 * Also the line hash that makes document ids (and checks journal records).
 */
#define _POSIX_C_SOURCE 200809L
#include "omprog_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_EXPRESSION "%{LOGFERRY_SYSLOG}"
#define BODY_EXPRESSION "^(?:%{LOGFERRY_MESSAGE})?"

/* ---- rsyslog properties ------------------------------------------------ */

enum map_kind { MAP_STRING, MAP_INT, MAP_PROCID, MAP_TIME, MAP_SKIP };

/* rsyslog property names (configuration/properties) to field names. */
static const struct {
    const char *key;
    const char *path;
    enum map_kind kind;
} json_fields[] = {
    {"msg", NULL, MAP_SKIP}, /* the message: see parse_json */
    {"hostname", "host.hostname", MAP_STRING},
    {"source", "host.hostname", MAP_STRING}, /* alias of hostname */
    {"programname", "process.name", MAP_STRING},
    {"procid", "process.pid", MAP_PROCID},
    {"app-name", "log.syslog.appname", MAP_STRING},
    {"msgid", "log.syslog.msgid", MAP_STRING},
    {"pri", "log.syslog.priority", MAP_INT},
    {"syslogseverity", "log.syslog.severity.code", MAP_INT},
    {"syslogpriority", "log.syslog.severity.code", MAP_INT}, /* alias */
    {"syslogseverity-text", "log.syslog.severity.name", MAP_STRING},
    {"syslogpriority-text", "log.syslog.severity.name", MAP_STRING},
    {"syslogfacility", "log.syslog.facility.code", MAP_INT},
    {"syslogfacility-text", "log.syslog.facility.name", MAP_STRING},
    {"protocol-version", "system.syslog.version", MAP_STRING},
    {"structured-data", "system.syslog.structured_data", MAP_STRING},
    {"timestamp", NULL, MAP_TIME},
    {"timereported", NULL, MAP_TIME},
    {"timegenerated", "event.created", MAP_STRING},
    /* The relay that sent it, as Filebeat's syslog input names it; source.ip
     * is left to the message's own peer (an sshd client, say). */
    {"fromhost-ip", "log.source.address", MAP_STRING},
    {"rawmsg", "event.original", MAP_STRING},
};

static bool all_digits(const char *s, size_t n)
{
    if (n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool two(const char *s, int *v)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return false;
    *v = (s[0] - '0') * 10 + (s[1] - '0');
    return true;
}

/* RFC 3339 with a zone, as rsyslog's dateFormat="rfc3339" writes it:
 * 2026-11-21T17:02:01.123456+01:00 or ...Z. */
static bool parse_rfc3339(const char *s, size_t n, int64_t *ms)
{
    int c1, c2, mo, d, h, mi, se;
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':' || !two(s, &c1) || !two(s + 2, &c2) || !two(s + 5, &mo) || !two(s + 8, &d) ||
        !two(s + 11, &h) || !two(s + 14, &mi) || !two(s + 17, &se))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return false;
    size_t i = 19;
    int frac = 0, digits = 0;
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
            if (digits < 3)
                frac = frac * 10 + (s[i] - '0');
        if (digits == 0)
            return false;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    int64_t offset = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (!two(s + i + 1, &oh) || !two(s + i + 4, &om) || oh > 23 || om > 59)
            return false;
        offset = (s[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
        i += 6;
    } else {
        return false;
    }
    if (i != n)
        return false;
    int64_t days = days_from_civil(c1 * 100 + c2, (unsigned)mo, (unsigned)d);
    *ms = ((days * 86400 + h * 3600 + mi * 60 + se) - offset) * 1000 + frac;
    return true;
}

static int add_int(struct lf_event *ev, const char *path, int64_t v)
{
    struct lf_field f = {.path = path, .path_len = (uint32_t)strlen(path), .type = LF_VAL_INT};
    f.v.i = v;
    return lf_event_add(ev, &f);
}

/* ---- reading the JSON line ---------------------------------------------- */

/*
 * rsyslog's jsonf templates write one flat object of strings (and numbers
 * with dataType="number"). It is read here in place, without allocating:
 * decoding it with jansson took half of the agent's CPU per message. The
 * grammar is JSON's (RFC 8259), strictly, except that bytes which are not
 * UTF-8 are let through (rsyslog passes them on; the writer reads them as
 * Latin-1). Nested objects and arrays are checked and skipped.
 */

struct jscan {
    const char *p, *end;
    char *out; /* decoded strings; never longer than the line */
    size_t used;
};

#define JSON_MAX_DEPTH 64

static void skip_ws(struct jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool hex4(struct jscan *s, unsigned *cp)
{
    if (s->end - s->p < 4)
        return false;
    *cp = 0;
    for (int i = 0; i < 4; i++) {
        char c = *s->p++;
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return false;
        *cp = *cp << 4 | d;
    }
    return true;
}

/* One \u escape (s->p after the 'u'), a surrogate pair taken whole. */
static bool unicode_escape(struct jscan *s, unsigned *cp)
{
    if (!hex4(s, cp) || (*cp >= 0xDC00 && *cp < 0xE000))
        return false;
    if (*cp < 0xD800 || *cp >= 0xDC00)
        return true;
    unsigned lo;
    if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
        return false;
    s->p += 2;
    if (!hex4(s, &lo) || lo < 0xDC00 || lo >= 0xE000)
        return false;
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    return true;
}

/* A string at s->p (the opening quote), decoded into s->out. */
static bool scan_string(struct jscan *s, const char **str, size_t *len)
{
    char *d = s->out + s->used;
    size_t k = 0;
    for (s->p++; s->p < s->end;) {
        unsigned char c = (unsigned char)*s->p++;
        if (c == '"') {
            *str = d;
            *len = k;
            s->used += k;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c != '\\') {
            d[k++] = (char)c;
            continue;
        }
        if (s->p == s->end)
            return false;
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        char e = *s->p++;
        const char *hit = e ? strchr(from, e) : NULL;
        unsigned cp;
        if (hit) {
            d[k++] = to[hit - from];
        } else if (e == 'u' && unicode_escape(s, &cp)) {
            k += lf_utf8_put(d + k, cp);
        } else {
            return false;
        }
    }
    return false;
}

static bool scan_literal(struct jscan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return false;
    s->p += n;
    return true;
}

static bool scan_value(struct jscan *s, struct jpair *v, int depth);

/* An object or array at s->p, checked and skipped. */
static bool skip_nested(struct jscan *s, int depth)
{
    char close = *s->p == '{' ? '}' : ']';
    bool object = close == '}';
    struct jpair tmp;
    if (depth > JSON_MAX_DEPTH)
        return false;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return true;
    }
    for (;;) {
        size_t mark = s->used; /* nested strings need no keeping */
        if (object) {
            if (s->p == s->end || *s->p != '"' || !scan_string(s, &tmp.key, &tmp.klen))
                return false;
            skip_ws(s);
            if (s->p == s->end || *s->p++ != ':')
                return false;
            skip_ws(s);
        }
        if (!scan_value(s, &tmp, depth + 1))
            return false;
        s->used = mark;
        skip_ws(s);
        if (s->p == s->end)
            return false;
        char c = *s->p++;
        if (c == close)
            return true;
        if (c != ',')
            return false;
        skip_ws(s);
    }
}

static bool scan_value(struct jscan *s, struct jpair *v, int depth)
{
    if (s->p == s->end)
        return false;
    const char *start = s->p;
    switch (*s->p) {
    case '"':
        v->type = J_STRING;
        return scan_string(s, &v->val, &v->vlen);
    case '{':
    case '[':
        v->type = J_NESTED;
        return skip_nested(s, depth);
    case 't':
        v->type = J_TRUE;
        return scan_literal(s, "true");
    case 'f':
        v->type = J_FALSE;
        return scan_literal(s, "false");
    case 'n':
        v->type = J_NULL;
        return scan_literal(s, "null");
    default:
        while (s->p < s->end && ((*s->p >= '0' && *s->p <= '9') || *s->p == '-' || *s->p == '+' ||
                                 *s->p == '.' || *s->p == 'e' || *s->p == 'E'))
            s->p++;
        v->type = J_NUMBER;
        v->val = start;
        v->vlen = (size_t)(s->p - start);
        return v->vlen > 0 && lf_json_number_form(start, v->vlen) != 0;
    }
}

/*
 * Reads a line that is one JSON object into o->pairs (members past
 * MAX_PAIRS are checked, not kept). Returns false if it is not one.
 */
static bool scan_object(struct lf_omprog_props *o, const char *line, size_t len)
{
    struct jscan s = {.p = line, .end = line + len, .out = o->jstr};
    struct jpair v;
    o->npairs = 0;
    skip_ws(&s);
    if (s.p == s.end || *s.p++ != '{')
        return false;
    skip_ws(&s);
    if (s.p < s.end && *s.p == '}') {
        s.p++;
    } else {
        for (;;) {
            if (s.p == s.end || *s.p != '"' || !scan_string(&s, &v.key, &v.klen))
                return false;
            skip_ws(&s);
            if (s.p == s.end || *s.p++ != ':')
                return false;
            skip_ws(&s);
            if (!scan_value(&s, &v, 1))
                return false;
            if (o->npairs < MAX_PAIRS)
                o->pairs[o->npairs++] = v;
            skip_ws(&s);
            if (s.p == s.end)
                return false;
            char c = *s.p++;
            if (c == '}')
                break;
            if (c != ',')
                return false;
            skip_ws(&s);
        }
    }
    skip_ws(&s);
    return s.p == s.end;
}

/* ---- rsyslog properties to fields -------------------------------------- */

static bool is_key(const struct jpair *v, const char *key)
{
    return v->klen == strlen(key) && memcmp(v->key, key, v->klen) == 0;
}

static int map_known(struct lf_event *ev, const char *path, enum map_kind kind,
                     const struct jpair *v, int64_t *ts)
{
    const char *s = v->val;
    size_t n = v->vlen;
    if (v->type != J_STRING && v->type != J_NUMBER)
        return 0;
    if (n == 0 || (n == 1 && s[0] == '-'))
        return 0; /* absent: rsyslog writes "" or the NILVALUE "-" */
    switch (kind) {
    case MAP_STRING:
        return lf_event_add_string(ev, path, s, n);
    case MAP_INT:
        return all_digits(s, n) ? add_int(ev, path, strtoll(s, NULL, 10)) : 0;
    case MAP_PROCID:
        if (all_digits(s, n))
            return add_int(ev, "process.pid", strtoll(s, NULL, 10));
        return lf_event_add_string(ev, "log.syslog.procid", s, n);
    case MAP_TIME:
        if (!*ts && v->type == J_STRING)
            parse_rfc3339(s, n, ts);
        return 0;
    default:
        return 0;
    }
}

/* A property not in the table, kept as rsyslog.<key> when it is a scalar. */
static int map_other(struct lf_omprog_props *o, const struct jpair *v)
{
    if (v->type == J_NESTED || v->type == J_NULL || v->klen == 0 || memchr(v->key, '\0', v->klen) ||
        o->paths_used + 8 + v->klen + 1 > sizeof(o->paths))
        return 0;
    if (v->type == J_STRING && v->vlen == 0)
        return 0;
    char *path = o->paths + o->paths_used;
    memcpy(path, "rsyslog.", 8);
    memcpy(path + 8, v->key, v->klen);
    path[8 + v->klen] = '\0';
    o->paths_used += 8 + v->klen + 1;
    struct lf_field f = {.path = path, .path_len = (uint32_t)(8 + v->klen)};
    switch (v->type) {
    case J_STRING:
        f.type = LF_VAL_STRING;
        f.str = v->val;
        f.len = v->vlen;
        break;
    case J_NUMBER:
        f.type = LF_VAL_NUMBER;
        f.str = v->val;
        f.len = v->vlen;
        break;
    default:
        f.type = LF_VAL_BOOL;
        f.v.i = v->type == J_TRUE;
        break;
    }
    return lf_event_add(o->ev, &f);
}

/* The message body through the body grammar (or the configured one). */
static int parse_body(struct lf_omprog_props *o, const struct jpair *msg, int64_t *ts)
{
    struct lf_input_counters scratch = {0};
    const char *s = "";
    size_t n = 0;
    if (msg && msg->type == J_STRING) {
        s = msg->val;
        n = msg->vlen;
        if (n > 0 && s[0] == ' ') {
            s++; /* the space after the tag belongs to the header */
            n--;
        }
    }
    struct lf_parser *p = o->body ? o->body : o->parser;
    int rc = lf_parser_parse(p, s, n, false, o->ev, ts, &scratch);
    if (rc)
        return rc;
    if (o->body || scratch.parsed)
        o->counters->parsed++;
    else
        o->counters->unparsed++;
    if (!msg)
        lf_event_remove(o->ev, "message", 7);
    return 0;
}

/* The message body as a JSON object (inputs.omprog.json). */
static int decode_body(struct lf_omprog_props *o, const struct jpair *msg, int64_t *ts)
{
    struct lf_input_counters c = {0};
    int rc = lf_jsonlines_parse(o->json, o->parser, msg->val, msg->vlen, false, o->ev, ts, &c);
    o->counters->parsed += c.parsed;
    o->counters->unparsed += c.unparsed;
    return rc;
}

/* With a decoded body, a property replaces a JSON key of its path. */
static void make_room(struct lf_omprog_props *o, const char *path)
{
    if (o->json && path)
        lf_event_remove(o->ev, path, strlen(path));
}

/* The fields of a JSON line read by scan_object(). */
static int parse_json(struct lf_omprog_props *o, int64_t *ts)
{
    const size_t nknown = sizeof(json_fields) / sizeof(json_fields[0]);
    const struct jpair *msg = NULL;
    for (size_t i = 0; i < o->npairs && !msg; i++)
        if (is_key(&o->pairs[i], "msg"))
            msg = &o->pairs[i];
    int64_t body_ts = 0;
    int rc = o->json && msg && msg->type == J_STRING ? decode_body(o, msg, &body_ts)
                                                     : parse_body(o, msg, &body_ts);
    for (size_t i = 0; i < o->npairs && !rc; i++) {
        const struct jpair *v = &o->pairs[i];
        size_t k = 0;
        while (k < nknown && !is_key(v, json_fields[k].key))
            k++;
        if (k == nknown) {
            rc = map_other(o, v);
        } else if (json_fields[k].kind != MAP_SKIP) {
            make_room(o, json_fields[k].path);
            if (json_fields[k].kind == MAP_PROCID)
                make_room(o, "log.syslog.procid");
            rc = map_known(o->ev, json_fields[k].path, json_fields[k].kind, v, ts);
        }
    }
    /* A decoded body's own time is the application's: it wins. */
    if (body_ts && (o->json || !*ts))
        *ts = body_ts;
    return rc;
}

/* ---- reading ----------------------------------------------------------- */

static uint64_t rotl64(uint64_t x, int r)
{
    return x << r | x >> (64 - r);
}

static uint64_t fmix64(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

/* Two 64-bit hashes of the line, eight bytes a step (read little-endian,
 * so that ids do not depend on the machine). */
void lf_omprog_hash_line(const char *s, size_t n, uint64_t *a, uint64_t *b)
{
    uint64_t h1 = 0x9e3779b97f4a7c15ull ^ n, h2 = 0xc2b2ae3d27d4eb4full ^ (n * 31);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        size_t m = n - i < 8 ? n - i : 8;
        for (size_t j = 0; j < m; j++)
            w |= (uint64_t)(unsigned char)s[i + j] << (8 * j);
        h1 = rotl64(h1 ^ (w * 0x87c37b91114253d5ull), 31) * 0x4cf5ad432745937full;
        h2 = rotl64(h2 ^ (rotl64(w, 29) * 0x52dce729da3ed2c1ull), 27) * 0x38495ab5c2b2ae3dull;
    }
    *a = fmix64(h1 ^ h2 >> 17);
    *b = fmix64(h2 ^ h1 >> 23);
}

/* Parses and emits the held line. Returns 0 (emitted, or skipped because it
 * can never be sent), LF_ELIMIT (keep holding) or LF_ENOMEM. */

int lf_omprog_props_parse(struct lf_omprog_props *o, const char *line, size_t len, bool cut,
                          int64_t *ts)
{
    o->paths_used = 0;
    if (!cut && scan_object(o, line, len)) {
        lf_event_clear(o->ev);
        o->counters->read++;
        return parse_json(o, ts);
    }
    return lf_parser_parse(o->parser, line, len, cut, o->ev, ts, o->counters);
}

/* True for the built-in syslog grammar, whose expression wants a header. */
static bool is_default_grammar(const struct lf_grammar_conf *gc)
{
    return gc->nexpressions == 1 && strcmp(gc->expressions[0], DEFAULT_EXPRESSION) == 0;
}

int lf_omprog_props_init(struct lf_omprog_props *o, const struct lf_grammar_conf *gc,
                         const char *timezone, struct lf_parser *parser, struct lf_event *ev,
                         struct lf_input_counters *counters, char *errbuf, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->parser = parser;
    o->ev = ev;
    o->counters = counters;
    o->jstr = malloc((size_t)gc->max_line + 16);
    o->pairs = calloc(MAX_PAIRS, sizeof(*o->pairs));
    if (!o->jstr || !o->pairs) {
        snprintf(errbuf, errlen, "omprog: out of memory");
        return LF_ENOMEM;
    }
    if (is_default_grammar(gc)) {
        struct lf_grammar_conf body = *gc;
        char *expr[] = {(char *)BODY_EXPRESSION};
        body.expressions = expr;
        body.nexpressions = 1;
        if (!(o->body = lf_parser_create(&body, timezone, errbuf, errlen)))
            return LF_EINVAL;
    }
    return 0;
}

int lf_omprog_props_set_json(struct lf_omprog_props *o, const struct lf_jsonlines_conf *conf,
                             size_t max_line, char *errbuf, size_t errlen)
{
    o->json = lf_jsonlines_create(conf, max_line, errbuf, errlen);
    return o->json ? 0 : LF_ENOMEM;
}

void lf_omprog_props_free(struct lf_omprog_props *o)
{
    lf_jsonlines_destroy(o->json);
    lf_parser_destroy(o->body);
    free(o->jstr);
    free(o->pairs);
    memset(o, 0, sizeof(*o));
}
