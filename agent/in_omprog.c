/*
 * in_omprog.c - `logferry agent --omprog`: the program rsyslog's omprog action
 * runs. Messages come one per line on stdin; with confirmMessages="on" every
 * line read is answered on stdout, in order, once its event is safe.
 *
 * The protocol (rsyslog plugins/external/INTERFACE.md, plugins/omprog/omprog.c):
 *
 *   - "OK" once at startup: ready for messages.
 *   - a message: "OK" once its event is acknowledged by the output; any other
 *     line ("Error: ...") makes rsyslog keep it and send it again after
 *     action.resumeInterval. Leading dots are keep-alive and are skipped by
 *     rsyslog, which restarts its confirmTimeout on each one.
 *   - useTransactions="on": "BEGIN TRANSACTION" and "COMMIT TRANSACTION"
 *     (the default marks) are answered "OK"; a message inside is answered
 *     "DEFER_COMMIT". rsyslog does not send again a message it got
 *     DEFER_COMMIT for when a later message of the transaction fails
 *     (rsyslog issue #2420), so DEFER_COMMIT too waits until the event is
 *     safe; COMMIT's OK then follows at once. "PREVIOUS_COMMITTED" would tell
 *     rsyslog that this message is not committed yet but the earlier ones
 *     are; it is never the truth here, so it is not used. "OK" inside a
 *     transaction would end it (rsyslog sends BEGIN again), so it is not
 *     used there either.
 *   - end of file: rsyslog is done with this instance; everything read is
 *     answered as it becomes safe, then finished() says so and the agent
 *     exits 0.
 *
 * rsyslog sends the next line only after the answer to the previous one, so
 * at most one message is unanswered; lines that arrive anyway (no
 * confirmMessages) are read ahead, up to MAX_PENDING, and answered in order.
 * When no more input is ready and a message waits, the pipeline's batch is
 * sent at once: waiting for a fuller batch would wait for nothing.
 *
 * A message not safe after `timeout_ms` (the output is down or refuses
 * batches) is answered with an error line, so rsyslog keeps it in its queue
 * and sends it again later; it is still delivered if the output recovers, and
 * the copy rsyslog sends again then has the same _id. Until then a dot is
 * written every KEEPALIVE_MS so rsyslog's confirmTimeout does not restart us.
 *
 * Lines: a line that is one JSON object is a set of rsyslog properties (a
 * template of property(format="jsonf") items, as in
 * packaging/rsyslog/logferry-omprog.conf), read in place by a small strict
 * reader: jansson's allocating decoder took half of the agent's CPU per
 * message. Properties are mapped to the field names of the Elastic Common
 * Schema and of Filebeat's system module (see json_fields[]). The message
 * body ("msg") then goes through a grammar: with the built-in syslog grammar,
 * whose header part would not match a bare body, the body part of it,
 * LOGFERRY_MESSAGE, so that an sshd line gives the same fields as when
 * tailed from /var/log/auth.log; with any other grammar, that grammar,
 * written for message bodies. Any other line goes through the
 * configured grammar whole, as a tailed file's line would; a line nothing
 * matches is shipped tagged and answered like any other.
 *
 * Document ids: rsyslog may send a message again (after an error answer, a
 * restart of this program, a crash with a disk-assisted queue), and the copy
 * must get the same _id so that Elasticsearch keeps one. Nothing in the
 * stream numbers messages stably, so the id is made from the line bytes
 * alone: source "omprog:<64-bit hash>", position another 64-bit hash of the
 * same bytes. Two genuinely identical lines therefore become one document;
 * the shipped template includes timegenerated with microseconds, which tells
 * apart all but messages received in the same microsecond with the same text.
 */
#define _POSIX_C_SOURCE 200809L
#include "grok.h"
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 30000
#define KEEPALIVE_MS 2000
/* Lines read and not yet answered and acknowledged, at most. */
#define MAX_PENDING 4096
/* Lines handled per run(), so that signals and acknowledgements get a turn. */
#define MAX_LINES_PER_RUN 1024
/* While the pipeline refuses events, how often run() tries again. */
#define HOLD_RETRY_MS 50
/* At most one warning about timed-out messages per this interval. */
#define WARN_INTERVAL_MS 10000
/* Room for "rsyslog.<key>" paths of one message. */
#define PATH_SCRATCH 4096
/* Members of a JSON line kept, at most (rsyslog has about 50 properties). */
#define MAX_PAIRS 256

#define BEGIN_MARK "BEGIN TRANSACTION"
#define COMMIT_MARK "COMMIT TRANSACTION"
#define DATASET "system.syslog"
#define DEFAULT_EXPRESSION "%{LOGFERRY_SYSLOG}"
#define BODY_EXPRESSION "^(?:%{LOGFERRY_MESSAGE})?"

enum entry_kind { ENTRY_MESSAGE, ENTRY_MARK };

/* One member of a JSON line: key and value point into the decoded strings
 * (a number's value is its text in the line). */
enum jtype { J_STRING, J_NUMBER, J_TRUE, J_FALSE, J_NULL, J_NESTED };
struct jpair {
    const char *key, *val;
    size_t klen, vlen;
    enum jtype type;
};

/* One line read, in the order read; its seq is first_seq + its offset. */
struct entry {
    uint8_t kind;
    bool in_txn;   /* a message inside a transaction: DEFER_COMMIT */
    bool emitted;  /* handed to the pipeline (else it is the held line) */
    bool done;     /* safe (or a mark, or dropped): its answer may go */
    int64_t since; /* monotonic ms it was read */
};

struct omprog_input {
    struct lf_input base;
    struct lf_ack_target ack;
    struct lf_pipeline *pipeline;
    struct lf_parser *parser; /* the configured grammar */
    struct lf_parser *body;   /* LOGFERRY_MESSAGE, with the default grammar */
    const char *index;
    int in_fd, out_fd;
    int in_flags; /* in_fd's flags before O_NONBLOCK, restored at the end */
    struct lf_line_reader reader;
    bool reader_live;

    /* Lines read: [head, head+count) in the ring; those before offset
     * `answered` have had their answer written. */
    struct entry *ring;
    size_t cap, head, count, answered;
    uint64_t first_seq;
    size_t in_flight;

    bool in_txn;
    bool holding; /* the last entry's line waits for the pipeline */
    const char *held;
    size_t held_len;
    bool held_cut;

    bool eof, stopped, peer_gone;
    bool fresh; /* emitted something since the last flush */
    int64_t timeout_ms;
    int64_t last_write_ms; /* last answer or keep-alive dot */
    int64_t warned_ms;     /* last warning about timed-out messages */
    uint64_t timeouts;     /* timed out since that warning */

    struct lf_event ev;
    struct lf_buf out; /* answers being written */
    char *jstr;        /* strings of the JSON line, decoded: max_line bytes */
    struct jpair *pairs;
    size_t npairs;
    char paths[PATH_SCRATCH];
    size_t paths_used;
};

/* ---- the ring of lines ------------------------------------------------- */

static struct entry *entry_at(struct omprog_input *o, size_t off)
{
    return &o->ring[(o->head + off) % o->cap];
}

static void mark_done(struct omprog_input *o, uint64_t seq, bool ok)
{
    if (seq < o->first_seq || seq >= o->first_seq + o->count)
        return; /* already dropped, or not ours */
    struct entry *e = entry_at(o, (size_t)(seq - o->first_seq));
    if (e->done || !e->emitted)
        return;
    e->done = true;
    o->in_flight--;
    if (ok)
        o->base.counters.acked++;
    else
        o->base.counters.errors++;
}

static struct omprog_input *input_of(struct lf_ack_target *t)
{
    return (struct omprog_input *)((char *)t - offsetof(struct omprog_input, ack));
}

static void on_safe(struct lf_ack_target *t, uint64_t seq)
{
    mark_done(input_of(t), seq, true);
}

/* The output gave up on the event for good (a dead-letter file has it):
 * rsyslog sending it again would not help, so it is answered OK too. */
static void on_failed(struct lf_ack_target *t, uint64_t seq)
{
    mark_done(input_of(t), seq, false);
}

/* ---- answers ------------------------------------------------------------ */

static void send_out(struct omprog_input *o, int64_t now)
{
    if (o->out.len == 0)
        return;
    if (!o->peer_gone && lf_write_all(o->out_fd, o->out.data, o->out.len) != 0) {
        lf_log(LF_LOG_WARN, "omprog", "cannot answer rsyslog (%s); finishing",
               errno == EPIPE ? "it closed the pipe" : strerror(errno));
        o->peer_gone = true;
    }
    o->last_write_ms = now;
    lf_buf_reset(&o->out);
}

/* Adds one answer line. The buffer's cap holds an answer for every entry;
 * should memory run out, what is queued is written first, since an answer
 * that went missing would shift every later one onto the wrong message. */
static void queue_answer(struct omprog_input *o, const char *text)
{
    size_t n = strlen(text);
    if (lf_buf_grow(&o->out, n + 1) != 0)
        send_out(o, lf_now_mono_ms());
    if (lf_buf_append(&o->out, text, n) || lf_buf_putc(&o->out, '\n')) {
        o->out.len = 0;
        if (!o->peer_gone && (lf_write_all(o->out_fd, text, n) || lf_write_all(o->out_fd, "\n", 1)))
            o->peer_gone = true;
    }
}

/* Drops the held line: rsyslog was told to send it again. */
static void drop_held(struct omprog_input *o, struct entry *e)
{
    o->holding = false;
    e->done = true;
}

/*
 * Writes, in order, the answers that are due: every leading entry that is
 * done; for the first one that is not, an error line once it has waited
 * timeout_ms, else a keep-alive dot every KEEPALIVE_MS. Forgets entries
 * that are answered and done.
 */
static void answer_ready(struct omprog_input *o, int64_t now)
{
    while (o->answered < o->count) {
        struct entry *e = entry_at(o, o->answered);
        if (!e->done) {
            if (now - e->since < o->timeout_ms)
                break;
            o->timeouts++;
            if (now - o->warned_ms >= WARN_INTERVAL_MS) {
                lf_log(LF_LOG_WARN, "omprog",
                       "%llu messages not safe after %lld ms; rsyslog is told to send them again",
                       (unsigned long long)o->timeouts, (long long)o->timeout_ms);
                o->timeouts = 0;
                o->warned_ms = now;
            }
            queue_answer(o, "Error: logferry output not ready; please retry later");
            o->base.counters.errors++;
            if (!e->emitted)
                drop_held(o, e);
        } else {
            queue_answer(o, e->kind == ENTRY_MARK ? "OK" : e->in_txn ? "DEFER_COMMIT" : "OK");
        }
        o->answered++;
    }
    while (o->answered > 0 && o->ring[o->head].done) {
        o->head = (o->head + 1) % o->cap;
        o->count--;
        o->answered--;
        o->first_seq++;
    }
    if (o->out.len == 0 && o->answered < o->count && !entry_at(o, o->answered)->done &&
        now - o->last_write_ms >= KEEPALIVE_MS &&
        now - entry_at(o, o->answered)->since >= KEEPALIVE_MS)
        lf_buf_putc(&o->out, '.');
    send_out(o, now);
}

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

static size_t put_utf8(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | cp >> 12);
        d[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | cp >> 18);
    d[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    d[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
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
            k += put_utf8(d + k, cp);
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
static bool scan_object(struct omprog_input *o, const char *line, size_t len)
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
static int map_other(struct omprog_input *o, const struct jpair *v)
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
    return lf_event_add(&o->ev, &f);
}

/* The message body through the body grammar (or the configured one). */
static int parse_body(struct omprog_input *o, const struct jpair *msg, int64_t *ts)
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
    int rc = lf_parser_parse(p, s, n, false, &o->ev, ts, &scratch);
    if (rc)
        return rc;
    if (o->body || scratch.parsed)
        o->base.counters.parsed++;
    else
        o->base.counters.unparsed++;
    if (!msg)
        lf_event_remove(&o->ev, "message", 7);
    return 0;
}

/* The fields of a JSON line read by scan_object(). */
static int parse_json(struct omprog_input *o, int64_t *ts)
{
    const size_t nknown = sizeof(json_fields) / sizeof(json_fields[0]);
    const struct jpair *msg = NULL;
    for (size_t i = 0; i < o->npairs && !msg; i++)
        if (is_key(&o->pairs[i], "msg"))
            msg = &o->pairs[i];
    int64_t body_ts = 0;
    int rc = parse_body(o, msg, &body_ts);
    for (size_t i = 0; i < o->npairs && !rc; i++) {
        const struct jpair *v = &o->pairs[i];
        size_t k = 0;
        while (k < nknown && !is_key(v, json_fields[k].key))
            k++;
        if (k == nknown)
            rc = map_other(o, v);
        else if (json_fields[k].kind != MAP_SKIP)
            rc = map_known(&o->ev, json_fields[k].path, json_fields[k].kind, v, ts);
    }
    if (!*ts)
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
static void hash_line(const char *s, size_t n, uint64_t *a, uint64_t *b)
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
static int emit_held(struct omprog_input *o)
{
    const char *line = o->held;
    size_t len = o->held_len;
    int64_t ts = 0;
    int rc;
    /* A line held and parsed again is counted once. */
    struct lf_input_counters before = o->base.counters;
    o->paths_used = 0;
    if (!o->held_cut && scan_object(o, line, len)) {
        lf_event_clear(&o->ev);
        o->base.counters.read++;
        rc = parse_json(o, &ts);
    } else {
        rc = lf_parser_parse(o->parser, line, len, o->held_cut, &o->ev, &ts, &o->base.counters);
    }
    if (rc == LF_ELIMIT)
        rc = LF_EINVAL; /* too many fields: that will not change */
    uint64_t h1, h2;
    hash_line(line, len, &h1, &h2);
    char source[32];
    snprintf(source, sizeof(source), "omprog:%016llx", (unsigned long long)h1);
    uint64_t seq = o->first_seq + o->count - 1;
    struct lf_emit meta = {.index = o->index,
                           .dataset = DATASET,
                           .source = source,
                           .position = h2,
                           .ts_ms = ts,
                           .ack = &o->ack,
                           .seq = seq};
    struct entry *e = entry_at(o, o->count - 1);
    if (rc == 0) {
        /* The output may acknowledge it before emit returns (the file
         * output writes as the batch is sent): it must count as in flight
         * already. */
        e->emitted = true;
        o->in_flight++;
        rc = lf_pipeline_emit(o->pipeline, &o->ev, &meta);
        if (rc) {
            e->emitted = false;
            o->in_flight--;
        }
    }
    if (rc == LF_ELIMIT) {
        o->base.counters = before;
        return LF_ELIMIT;
    }
    o->holding = false;
    if (rc == 0) {
        o->base.counters.emitted++;
        o->fresh = true;
        return 0;
    }
    /* It can never be shipped (too large, too many fields): say so to
     * rsyslog, whose retries cannot help either, and go on. */
    lf_log(LF_LOG_ERROR, "omprog", "message skipped: %s", lf_strerror(rc));
    o->base.counters.errors++;
    e->done = true;
    return rc == LF_ENOMEM ? rc : 0;
}

static void push_entry(struct omprog_input *o, enum entry_kind kind, int64_t now)
{
    struct entry *e = entry_at(o, o->count++);
    *e = (struct entry){
        .kind = (uint8_t)kind, .in_txn = o->in_txn, .since = now, .done = kind == ENTRY_MARK};
}

static bool is_mark(const char *line, size_t len, const char *mark)
{
    return len == strlen(mark) && memcmp(line, mark, len) == 0;
}

/* Stops reading for good: stdin at end of file, rsyslog gone, or stop(). The
 * descriptor is replaced by /dev/null, which takes it out of the agent's
 * epoll set (a pipe at EOF would wake it without end) and keeps the number. */
static void close_input(struct omprog_input *o)
{
    if (o->in_fd < 0)
        return;
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, o->in_fd);
        close(null);
    }
    o->in_fd = -1;
}

/* Handles one line. Returns 0, LF_ELIMIT (held) or an error. */
static int take_line(struct omprog_input *o, const char *line, size_t len, bool cut, int64_t now)
{
    if (!cut && is_mark(line, len, BEGIN_MARK)) {
        o->in_txn = true;
        push_entry(o, ENTRY_MARK, now);
        return 0;
    }
    if (!cut && is_mark(line, len, COMMIT_MARK)) {
        o->in_txn = false;
        push_entry(o, ENTRY_MARK, now);
        return 0;
    }
    push_entry(o, ENTRY_MESSAGE, now);
    o->holding = true;
    o->held = line;
    o->held_len = len;
    o->held_cut = cut;
    return emit_held(o);
}

/* Whether the reader holds another whole line already. */
static bool line_buffered(const struct lf_line_reader *r)
{
    return r->end > r->start && memchr(r->buf + r->start, '\n', r->end - r->start) != NULL;
}

static int omprog_run(struct lf_input *in, int64_t now)
{
    struct omprog_input *o = (struct omprog_input *)in;
    answer_ready(o, now);
    int rc = 0;
    if (o->holding && !o->stopped)
        rc = emit_held(o);
    for (int i = 0; rc == 0 && i < MAX_LINES_PER_RUN; i++) {
        if (o->eof || o->stopped || o->peer_gone || o->count == o->cap)
            break;
        /* rsyslog waits for the answer before it writes again: a read(2)
         * now would almost always find nothing. epoll says when there is. */
        if (i > 0 && !o->reader.eof && !line_buffered(&o->reader))
            break;
        const char *line;
        size_t len;
        int cut;
        int got = lf_line_reader_next(&o->reader, &line, &len, &cut);
        if (got == LF_EIO && errno == EAGAIN)
            break;
        if (got == LF_EIO) {
            lf_log(LF_LOG_ERROR, "omprog", "reading stdin: %s", strerror(errno));
            got = 0;
        }
        if (got == 0) {
            o->eof = true;
            close_input(o);
            lf_log(LF_LOG_INFO, "omprog", "end of input: finishing");
            break;
        }
        if (cut)
            lf_log(LF_LOG_WARN, "omprog", "a message longer than max_line was cut");
        rc = take_line(o, line, len, cut != 0, now);
    }
    if (rc == LF_ELIMIT)
        rc = 0;
    /* rsyslog sends nothing more before it has its answer: waiting for a
     * fuller batch would wait for nothing. */
    if (o->fresh && lf_pipeline_queued(o->pipeline))
        lf_pipeline_flush(o->pipeline);
    o->fresh = false;
    answer_ready(o, lf_now_mono_ms());
    if (o->peer_gone)
        close_input(o);
    return rc;
}

/* ---- the ops table ----------------------------------------------------- */

static int omprog_fd(struct lf_input *in)
{
    return ((struct omprog_input *)in)->in_fd;
}

static int64_t omprog_deadline(struct lf_input *in)
{
    struct omprog_input *o = (struct omprog_input *)in;
    int64_t d = -1;
    if (o->holding && !o->stopped)
        d = lf_now_mono_ms() + HOLD_RETRY_MS;
    else if (!o->stopped && !o->eof && !o->peer_gone && o->count < o->cap &&
             line_buffered(&o->reader))
        return lf_now_mono_ms(); /* read already: epoll will not say so */
    if (o->answered < o->count && !o->peer_gone) {
        struct entry *e = entry_at(o, o->answered);
        if (!e->done) {
            int64_t t = e->since + o->timeout_ms;
            int64_t k = (o->last_write_ms > e->since ? o->last_write_ms : e->since) + KEEPALIVE_MS;
            t = k < t ? k : t;
            d = d < 0 || t < d ? t : d;
        }
    }
    return d;
}

static void omprog_stop(struct lf_input *in)
{
    struct omprog_input *o = (struct omprog_input *)in;
    o->stopped = true;
}

static int omprog_checkpoint(struct lf_input *in)
{
    answer_ready((struct omprog_input *)in, lf_now_mono_ms());
    return 0;
}

static size_t omprog_in_flight(const struct lf_input *in)
{
    return ((const struct omprog_input *)in)->in_flight;
}

static bool omprog_finished(const struct lf_input *in)
{
    const struct omprog_input *o = (const struct omprog_input *)in;
    if (o->peer_gone)
        return true;
    return o->eof && !o->holding && o->answered == o->count;
}

static void omprog_destroy(struct lf_input *in)
{
    struct omprog_input *o = (struct omprog_input *)in;
    if (!o)
        return;
    if (o->ring && !o->peer_gone) {
        /* What is left unanswered is not safe: rsyslog must send it again
         * (to the next instance, after a reload). */
        for (; o->answered < o->count; o->answered++) {
            struct entry *e = entry_at(o, o->answered);
            queue_answer(o, !e->done                ? "Error: logferry agent stopped"
                            : e->kind == ENTRY_MARK ? "OK"
                            : e->in_txn             ? "DEFER_COMMIT"
                                                    : "OK");
        }
        send_out(o, lf_now_mono_ms());
    }
    if (o->in_fd >= 0 && o->in_flags >= 0)
        fcntl(o->in_fd, F_SETFL, o->in_flags);
    if (o->reader_live)
        lf_line_reader_free(&o->reader);
    lf_parser_destroy(o->body);
    lf_event_free(&o->ev);
    lf_buf_free(&o->out);
    free(o->jstr);
    free(o->pairs);
    free(o->ring);
    free(o);
}

static const struct lf_input_ops omprog_ops = {
    .name = "omprog",
    .fd = omprog_fd,
    .deadline = omprog_deadline,
    .run = omprog_run,
    .stop = omprog_stop,
    .checkpoint = omprog_checkpoint,
    .in_flight = omprog_in_flight,
    .finished = omprog_finished,
    .destroy = omprog_destroy,
};

void lf_input_omprog_set_timeout(struct lf_input *in, int64_t ms)
{
    ((struct omprog_input *)in)->timeout_ms = ms > 0 ? ms : DEFAULT_TIMEOUT_MS;
}

/* ---- creation ---------------------------------------------------------- */

/* True for the built-in syslog grammar, whose expression wants a header. */
static bool is_default_grammar(const struct lf_grammar_conf *gc)
{
    return gc->nexpressions == 1 && strcmp(gc->expressions[0], DEFAULT_EXPRESSION) == 0;
}

static struct lf_parser *body_parser(const struct lf_grammar_conf *gc, const char *timezone,
                                     char *errbuf, size_t errlen)
{
    struct lf_grammar_conf body = *gc;
    char *expr[] = {(char *)BODY_EXPRESSION};
    body.expressions = expr;
    body.nexpressions = 1;
    return lf_parser_create(&body, timezone, errbuf, errlen);
}

/*
 * The greeting "OK" goes out once per stdin: when the agent rebuilds its
 * inputs (SIGHUP), rsyslog is in the middle of the conversation and would
 * take a second one for the answer to its next message.
 */
static dev_t greeted_dev;
static ino_t greeted_ino;
static bool greeted;

static bool greet_once(int in_fd)
{
    struct stat st;
    if (fstat(in_fd, &st) != 0)
        return true;
    if (greeted && st.st_dev == greeted_dev && st.st_ino == greeted_ino)
        return false;
    greeted = true;
    greeted_dev = st.st_dev;
    greeted_ino = st.st_ino;
    return true;
}

struct lf_input *lf_input_omprog_create(const struct lf_agent_conf *conf, struct lf_parser *parser,
                                        struct lf_pipeline *p, int in_fd, int out_fd, char *errbuf,
                                        size_t errlen)
{
    const struct lf_grammar_conf *gc = lf_agent_conf_grammar(conf, conf->omprog_grammar);
    struct omprog_input *o = calloc(1, sizeof(*o));
    if (!o || !gc) {
        snprintf(errbuf, errlen, o ? "omprog: no grammar %s" : "omprog: out of memory",
                 conf->omprog_grammar);
        free(o);
        return NULL;
    }
    o->base.ops = &omprog_ops;
    o->base.name = "omprog";
    o->ack.safe = on_safe;
    o->ack.failed = on_failed;
    o->pipeline = p;
    o->parser = parser;
    o->index = conf->omprog_index;
    o->in_fd = in_fd;
    o->out_fd = out_fd;
    o->in_flags = -1;
    o->timeout_ms = DEFAULT_TIMEOUT_MS;
    o->cap = MAX_PENDING;
    lf_event_init(&o->ev);
    lf_buf_init(&o->out, MAX_PENDING * 64 + 64); /* the longest answer is < 64 */
    o->ring = calloc(o->cap, sizeof(*o->ring));
    o->jstr = malloc((size_t)gc->max_line + 16);
    o->pairs = calloc(MAX_PAIRS, sizeof(*o->pairs));
    if (!o->ring || !o->jstr || !o->pairs ||
        lf_line_reader_init(&o->reader, in_fd, (size_t)gc->max_line)) {
        snprintf(errbuf, errlen, "omprog: out of memory");
        goto fail;
    }
    o->reader_live = true;
    if (is_default_grammar(gc) && !(o->body = body_parser(gc, conf->timezone, errbuf, errlen)))
        goto fail;
    int flags = fcntl(in_fd, F_GETFL);
    if (flags < 0 || fcntl(in_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        snprintf(errbuf, errlen, "omprog: stdin: %s", strerror(errno));
        goto fail;
    }
    o->in_flags = flags;
    o->last_write_ms = lf_now_mono_ms();
    o->warned_ms = o->last_write_ms - WARN_INTERVAL_MS;
    if (greet_once(in_fd)) {
        queue_answer(o, "OK");
        send_out(o, o->last_write_ms);
    }
    return &o->base;
fail:
    omprog_destroy(&o->base);
    return NULL;
}
