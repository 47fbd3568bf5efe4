/*
 * es_sink.c - a small, fast stand-in for Elasticsearch 8 that answers a log
 * shipper's requests the way Elasticsearch does and keeps only counts, so
 * that a benchmark measures the shipper and not the server.
 *
 * One thread, epoll, HTTP/1.1 with keep-alive and pipelining on 127.0.0.1.
 * Request bodies with Content-Length or chunked, plain or with
 * Content-Encoding gzip/deflate (inflated with zlib), capped (--max-body).
 * Answers are gzipped when the client accepts it, as Elasticsearch does over
 * plain HTTP (http.compression, level 3); --no-answer-gzip turns that off.
 *
 *   GET|HEAD /                      cluster info, version.number 8.11.0
 *   GET|HEAD|PUT|POST|DELETE /_index_template[/NAME]
 *                                   templates kept in memory; a missing one
 *                                   is 404 resource_not_found_exception
 *   POST|PUT /_bulk, /INDEX/_bulk   one item per action, in order
 *   GET /_sink/stats                the counters below, as JSON
 *
 * _bulk is parsed as Elasticsearch does before it executes anything: a body
 * without its final newline, an unknown action or action parameter, a
 * malformed action line, a missing index, source or an _id over 512 bytes
 * fail the whole request with 400 and count nothing. Then each item: 400
 * invalid_index_name_exception for an impossible index name, 400
 * document_parsing_exception for a source that is not a JSON object (with
 * --check-docs: any JSON syntax error or invalid UTF-8; without it only the
 * first byte is looked at), and with --check-ids the _ids seen per index are
 * kept so that a second create of one is 409
 * version_conflict_engine_exception, as in Elasticsearch. Without
 * --check-ids every create is 201. filter_path is honoured for the members
 * of a bulk answer (took, errors, items.*.<member>[.<member>], "*" and "**"
 * within a path; exclusions are ignored); items left empty are pruned, as
 * Elasticsearch prunes them.
 *
 * --reject-429 PERCENT refuses that share of the create/index items, drawn
 * at random per item and per request (a document sent again is drawn
 * again), with 429 es_rejected_execution_exception as a busy Elasticsearch
 * does: what a shipper's item-level retries cost. A refused item is not
 * indexed; with --check-ids its _id counts as seen, and "seen_at" in the
 * stats is when the --expect-docs'th distinct _id was first seen (refused
 * or not): when a shipper had sent everything once, which is what its
 * source waits for if refused items go to its spool.
 *
 * Documents are not stored. Counted: requests, connections, bulk requests,
 * gzip and chunked ones, body bytes as received and after decoding, actions,
 * documents per index (a hash table), duplicates, failed items, bad
 * requests. With --expect-docs N --done-file PATH, the moment the Nth
 * document is counted the stats (with "done_at") are written to PATH (a
 * temporary file, then a rename); a benchmark waits for that file instead of
 * polling. SIGTERM or SIGINT prints the stats to stdout and exits 0.
 *
 *   lf_es_sink [--port N] [--port-file PATH] [--check-ids] [--check-docs]
 *              [--max-body BYTES] [--expect-docs N --done-file PATH]
 *              [--no-answer-gzip] [--reject-429 PERCENT]
 */
#define _GNU_SOURCE /* accept4, signalfd, strcasestr, memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define HEAD_MAX (64u << 10)    /* request line and headers */
#define TARGET_MAX 4096         /* Elasticsearch's http.max_initial_line_length */
#define ID_MAX 512              /* Elasticsearch's limit on _id */
#define JSON_DEPTH_MAX 1000     /* nesting checked in documents */
#define MAX_CONNS 1024          /* beyond: new connections are closed at once */
#define MAX_TEMPLATES 256       /* index templates kept */
#define TEMPLATE_MAX (4u << 20) /* bytes of one template body */
#define MAX_INDICES 100000      /* distinct index names counted by name */
#define VERSION "8.11.0"

/* ---- growable buffers ----------------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
};

/* Makes room for `extra` more bytes; false when out of memory. */
static bool sb_reserve(struct sbuf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return true;
    if (extra > SIZE_MAX / 2 - b->len)
        return false;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return false;
    b->p = p;
    b->cap = cap;
    return true;
}

static bool sb_add(struct sbuf *b, const void *s, size_t n)
{
    if (!sb_reserve(b, n))
        return false;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return true;
}

static bool sb_puts(struct sbuf *b, const char *s)
{
    return sb_add(b, s, strlen(s));
}

static bool sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !sb_reserve(b, (size_t)n + 1))
        return false;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

static size_t utf8_seq(const unsigned char *p, const unsigned char *end);

/* A JSON string; well-formed UTF-8 is copied, any other byte becomes U+FFFD
 * (an id cut for a reason, or bytes a client sent), so answers stay JSON. */
static bool sb_json_str(struct sbuf *b, const char *s, size_t n)
{
    if (!sb_reserve(b, n * 6 + 2))
        return false;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            const unsigned char *u = (const unsigned char *)s + i;
            size_t k = utf8_seq(u, (const unsigned char *)s + n);
            if (k) {
                memcpy(o, u, k);
                o += k;
                i += k - 1;
            } else {
                memcpy(o, "\\ufffd", 6);
                o += 6;
            }
        } else if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20) {
            o += sprintf(o, "\\u%04x", c);
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    return true;
}

static void sb_free(struct sbuf *b)
{
    free(b->p);
    *b = (struct sbuf){0};
}

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
#define FNV_SEED 0xcbf29ce484222325ull

static double now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- documents per index ---------------------------------------------- */

struct index_slot {
    char *name; /* NULL: free */
    size_t len;
    uint64_t hash;
    uint64_t docs;
};

struct index_table {
    struct index_slot *slots;
    size_t cap, n;
    uint64_t other_docs; /* beyond MAX_INDICES names */
    struct index_slot *last;
};

static struct index_slot *index_find(struct index_table *t, uint64_t h, const char *name,
                                     size_t len, bool *found)
{
    size_t i = (size_t)h & (t->cap - 1);
    while (t->slots[i].name) {
        struct index_slot *s = &t->slots[i];
        if (s->hash == h && s->len == len && memcmp(s->name, name, len) == 0) {
            *found = true;
            return s;
        }
        i = (i + 1) & (t->cap - 1);
    }
    *found = false;
    return &t->slots[i];
}

static bool index_grow(struct index_table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    struct index_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return false;
    struct index_table n = {.slots = slots, .cap = cap};
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].name)
            continue;
        bool found;
        *index_find(&n, t->slots[i].hash, t->slots[i].name, t->slots[i].len, &found) = t->slots[i];
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    t->last = NULL;
    return true;
}

/* Counts `docs` more documents in `name`. */
static void index_count(struct index_table *t, const char *name, size_t len, uint64_t docs)
{
    if (t->last && t->last->len == len && memcmp(t->last->name, name, len) == 0) {
        t->last->docs += docs;
        return;
    }
    if ((t->n + 1) * 2 > t->cap && (t->n >= MAX_INDICES || !index_grow(t))) {
        t->other_docs += docs;
        return;
    }
    uint64_t h = fnv1a(name, len, FNV_SEED);
    bool found;
    struct index_slot *s = index_find(t, h, name, len, &found);
    if (!found) {
        char *copy = malloc(len + 1);
        if (!copy) {
            t->other_docs += docs;
            return;
        }
        memcpy(copy, name, len);
        copy[len] = '\0';
        *s = (struct index_slot){.name = copy, .len = len, .hash = h};
        t->n++;
    }
    s->docs += docs;
    t->last = s;
}

static void index_free(struct index_table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].name);
    free(t->slots);
    *t = (struct index_table){0};
}

/* ---- _ids seen, per index ------------------------------------------- */

/* A slot: the key's hash and where the key is in the arena (+1; 0: free);
 * the arena holds u16 index length, u16 id length, index, id, u8 live. */
struct id_slot {
    uint64_t hash;
    uint64_t at;
};

struct id_set {
    struct id_slot *slots;
    size_t cap, n;
    struct sbuf arena;
    uint64_t untracked; /* ids not kept: out of memory */
};

static uint64_t id_hash(const char *index, size_t ilen, const char *id, size_t idlen)
{
    uint64_t h = fnv1a(index, ilen, FNV_SEED);
    h = fnv1a("\0", 1, h);
    return fnv1a(id, idlen, h);
}

static bool id_equal(const struct id_set *s, uint64_t at, const char *index, size_t ilen,
                     const char *id, size_t idlen)
{
    const unsigned char *k = (const unsigned char *)s->arena.p + at;
    size_t kl = (size_t)k[0] | (size_t)k[1] << 8, kd = (size_t)k[2] | (size_t)k[3] << 8;
    return kl == ilen && kd == idlen && memcmp(k + 4, index, ilen) == 0 &&
           memcmp(k + 4 + ilen, id, idlen) == 0;
}

static struct id_slot *id_find(struct id_set *s, uint64_t h, const char *index, size_t ilen,
                               const char *id, size_t idlen)
{
    size_t i = (size_t)h & (s->cap - 1);
    while (s->slots[i].at) {
        struct id_slot *e = &s->slots[i];
        if (e->hash == h && id_equal(s, e->at - 1, index, ilen, id, idlen))
            return e;
        i = (i + 1) & (s->cap - 1);
    }
    return &s->slots[i];
}

static bool id_grow(struct id_set *s)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    struct id_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return false;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slots[i].at)
            continue;
        size_t j = (size_t)s->slots[i].hash & (cap - 1);
        while (slots[j].at)
            j = (j + 1) & (cap - 1);
        slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return true;
}

/* The live flag of (index, id), or NULL when unknown; with `add`, an unknown
 * key is added (not live yet). NULL with add: out of memory. */
static unsigned char *id_lookup(struct id_set *s, const char *index, size_t ilen, const char *id,
                                size_t idlen, bool add)
{
    if ((s->n + 1) * 2 > s->cap && !id_grow(s))
        return NULL;
    uint64_t h = id_hash(index, ilen, id, idlen);
    struct id_slot *e = id_find(s, h, index, ilen, id, idlen);
    if (e->at) {
        size_t at = e->at - 1;
        return (unsigned char *)s->arena.p + at + 4 + ilen + idlen;
    }
    if (!add)
        return NULL;
    unsigned char head[4] = {(unsigned char)ilen, (unsigned char)(ilen >> 8), (unsigned char)idlen,
                             (unsigned char)(idlen >> 8)};
    size_t at = s->arena.len;
    if (!sb_reserve(&s->arena, 5 + ilen + idlen))
        return NULL;
    sb_add(&s->arena, head, 4);
    sb_add(&s->arena, index, ilen);
    sb_add(&s->arena, id, idlen);
    sb_add(&s->arena, "", 1);
    *e = (struct id_slot){.hash = h, .at = at + 1};
    s->n++;
    return (unsigned char *)s->arena.p + at + 4 + ilen + idlen;
}

static void id_free(struct id_set *s)
{
    free(s->slots);
    sb_free(&s->arena);
    *s = (struct id_set){0};
}

/* ---- JSON checking ---------------------------------------------------- */

struct jscan {
    const char *p, *end;
    int depth;
    const char *why; /* the first problem */
};

static void js_ws(struct jscan *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
        j->p++;
}

static bool js_fail(struct jscan *j, const char *why)
{
    if (!j->why)
        j->why = why;
    return false;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Length of the well-formed UTF-8 sequence at p (0: ill-formed). */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, min = 0x10000;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    unsigned cp = c & (0xFF >> (n + 1));
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/*
 * Scans a string at j->p (its opening quote). With `out`, decodes it in
 * place (the decoded text is never longer than its source) and sets
 * out and outlen; `utf8` checks the raw bytes as UTF-8.
 */
static bool js_string(struct jscan *j, char **out, size_t *outlen, bool utf8)
{
    if (j->p >= j->end || *j->p != '"')
        return js_fail(j, "expected a string");
    char *w = (char *)++j->p, *start = w;
    for (;;) {
        const char *run = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20 &&
               (unsigned char)*j->p < 0x80)
            j->p++;
        if (out && w != run)
            memmove(w, run, (size_t)(j->p - run));
        w += j->p - run;
        if (j->p >= j->end)
            return js_fail(j, "unterminated string");
        unsigned char c = (unsigned char)*j->p;
        if (c == '"') {
            j->p++;
            break;
        }
        if (c < 0x20)
            return js_fail(j, "control character in a string");
        if (c >= 0x80) {
            size_t n =
                utf8 ? utf8_seq((const unsigned char *)j->p, (const unsigned char *)j->end) : 1;
            if (!n)
                return js_fail(j, "invalid UTF-8");
            if (out)
                memmove(w, j->p, n);
            w += n;
            j->p += n;
            continue;
        }
        /* a backslash */
        if (j->end - j->p < 2)
            return js_fail(j, "unterminated string");
        char e = j->p[1];
        j->p += 2;
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            if (out)
                *w = decoded[simple - "\"\\/bfnrt"];
            w++;
            continue;
        }
        if (e != 'u' || j->end - j->p < 4)
            return js_fail(j, "bad escape in a string");
        unsigned cp = 0;
        for (int i = 0; i < 4; i++) {
            int v = hexval(j->p[i]);
            if (v < 0)
                return js_fail(j, "bad \\u escape");
            cp = cp << 4 | (unsigned)v;
        }
        j->p += 4;
        /* \uXXXX is 6 bytes and decodes to at most 3; a pair is 12 for 4 */
        if (cp >= 0xD800 && cp <= 0xDBFF && j->end - j->p >= 6 && j->p[0] == '\\' &&
            j->p[1] == 'u') {
            unsigned lo = 0;
            bool ok = true;
            for (int i = 0; i < 4 && ok; i++) {
                int v = hexval(j->p[2 + i]);
                ok = v >= 0;
                lo = lo << 4 | (unsigned)(v < 0 ? 0 : v);
            }
            if (ok && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                j->p += 6;
            }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF)
            cp = 0xFFFD;
        char b[4];
        size_t n;
        if (cp < 0x80)
            b[0] = (char)cp, n = 1;
        else if (cp < 0x800)
            b[0] = (char)(0xC0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
        else if (cp < 0x10000)
            b[0] = (char)(0xE0 | cp >> 12), b[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
            b[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
        else
            b[0] = (char)(0xF0 | cp >> 18), b[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
            b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
        if (out)
            memcpy(w, b, n);
        w += n;
    }
    if (out) {
        *out = start;
        *outlen = (size_t)(w - start);
    }
    return true;
}

static bool js_digits(struct jscan *j)
{
    const char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static bool js_number(struct jscan *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!js_digits(j))
        return js_fail(j, "unexpected character");
    if (j->p < j->end && *j->p == '.' && (j->p++, !js_digits(j)))
        return js_fail(j, "bad number");
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!js_digits(j))
            return js_fail(j, "bad number");
    }
    return true;
}

static bool js_value(struct jscan *j, bool utf8);

/* An object or array after its opening bracket. */
static bool js_container(struct jscan *j, char close, bool utf8)
{
    if (++j->depth > JSON_DEPTH_MAX)
        return js_fail(j, "nested too deep");
    js_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        js_ws(j);
        if (close == '}') {
            if (!js_string(j, NULL, NULL, utf8))
                return false;
            js_ws(j);
            if (j->p >= j->end || *j->p++ != ':')
                return js_fail(j, "expected ':'");
        }
        if (!js_value(j, utf8))
            return false;
        js_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            j->depth--;
            return true;
        }
        return js_fail(j, "expected ',' or a closing bracket");
    }
}

static bool js_value(struct jscan *j, bool utf8)
{
    js_ws(j);
    if (j->p >= j->end)
        return js_fail(j, "unexpected end of input");
    switch (*j->p) {
    case '{':
        j->p++;
        return js_container(j, '}', utf8);
    case '[':
        j->p++;
        return js_container(j, ']', utf8);
    case '"':
        return js_string(j, NULL, NULL, utf8);
    case 't':
    case 'f':
    case 'n': {
        const char *w = *j->p == 't' ? "true" : *j->p == 'f' ? "false" : "null";
        size_t n = strlen(w);
        if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
            return js_fail(j, "unrecognized token");
        j->p += n;
        return true;
    }
    default:
        return js_number(j);
    }
}

/* Whether [p, end) is exactly one JSON object (whitespace around). With
 * `full` the whole grammar and UTF-8 are checked, else only the first byte. */
static bool json_object_ok(const char *p, const char *end, bool full, const char **why)
{
    struct jscan j = {.p = p, .end = end};
    js_ws(&j);
    if (j.p >= j.end || *j.p != '{') {
        *why = "the source is not a JSON object";
        return false;
    }
    if (!full)
        return true;
    if (!js_value(&j, true)) {
        *why = j.why;
        return false;
    }
    js_ws(&j);
    if (j.p != j.end) {
        *why = "content after the end of the object";
        return false;
    }
    return true;
}

/* ---- the server's state ----------------------------------------------- */

struct options {
    int port;
    const char *port_file;
    const char *done_file;
    uint64_t expect_docs;
    size_t max_body;
    bool check_ids, check_docs, answer_gzip;
    unsigned reject_429_pct; /* of create/index items, refused with 429 */
};

struct stats {
    uint64_t requests, connections, bulk_requests, gzip_requests, chunked_requests;
    uint64_t bytes_received, body_bytes, decoded_bytes;
    uint64_t actions, docs, duplicates, item_errors, bad_requests, not_found, rejected_429;
    double first_bulk_at, last_bulk_at, done_at;
    uint64_t seen; /* distinct _ids first seen (--check-ids), refused or not */
    double seen_at;
    /* when the bulk request before the one that completed --expect-docs
     * was answered, and the documents by then: the rate without the wait
     * for the last, partial batch (a shipper's batch age) */
    double before_last_at;
    uint64_t before_last_docs;
};

struct template
{
    char *name;
    struct sbuf body;
};

enum action { A_CREATE, A_INDEX, A_UPDATE, A_DELETE };
static const char *const action_names[] = {"create", "index", "update", "delete"};

/* One action of a bulk request between parsing and answering. */
struct item {
    enum action action;
    const char *index, *id; /* into the decoded body */
    size_t index_len, id_len;
    const char *src, *src_end; /* the source line, or NULL */
};

struct server {
    struct options opt;
    struct stats st;
    struct index_table indices;
    struct id_set ids;
    struct template templates[MAX_TEMPLATES];
    size_t ntemplates;
    struct sbuf inflated, scratch;
    struct item *items;
    size_t items_cap;
    z_stream inflater, deflater;
    bool inflater_ok, deflater_ok;
    uint64_t seq_no, auto_id;
    uint64_t rng; /* xorshift64: --reject-429 draws */
    size_t nconns;
    struct conn *conns;
    bool done_written;
    int epfd;
};

/* ---- HTTP connections ------------------------------------------------- */

enum conn_state { C_HEAD, C_BODY, C_CHUNK_SIZE, C_CHUNK_DATA, C_CHUNK_CRLF, C_TRAILER };

struct request {
    char method[16];
    char path[TARGET_MAX + 1];  /* percent-decoded */
    char query[TARGET_MAX + 1]; /* raw */
    bool http10, keep_alive, chunked, expect_continue, accept_gzip;
    int encoding; /* 0 identity, 1 gzip or deflate */
    bool has_length, has_type, type_ok;
    uint64_t length;
};

struct conn {
    struct conn *prev, *next; /* the server's list */
    int fd;
    enum conn_state state;
    struct sbuf in; /* bytes read and not yet consumed, from `off` */
    size_t off;
    struct request req;
    struct sbuf body;
    uint64_t body_left, chunk_left;
    size_t trailer_bytes;
    struct sbuf out;
    size_t out_off;
    bool close_after, want_out;
};

/* A finished answer, before it becomes bytes. */
struct answer {
    int status;
    struct sbuf *body; /* JSON */
    bool head;         /* HEAD: no body bytes */
};

static const char *reason_phrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 413:
        return "Request Entity Too Large";
    case 500:
        return "Internal Server Error";
    default:
        return "Unknown";
    }
}

/* Elasticsearch's shape of a whole-request error. */
static void es_error(struct sbuf *b, int status, const char *type, const char *reason)
{
    b->len = 0;
    sb_puts(b, "{\"error\":{\"root_cause\":[{\"type\":");
    sb_json_str(b, type, strlen(type));
    sb_puts(b, ",\"reason\":");
    sb_json_str(b, reason, strlen(reason));
    sb_puts(b, "}],\"type\":");
    sb_json_str(b, type, strlen(type));
    sb_puts(b, ",\"reason\":");
    sb_json_str(b, reason, strlen(reason));
    sb_printf(b, "},\"status\":%d}", status);
}

/* Gzips body into the server's scratch buffer; false: send it plain. */
static bool gzip_answer(struct server *s, const struct sbuf *body)
{
    if (!s->deflater_ok) {
        if (deflateInit2(&s->deflater, 3, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return false;
        s->deflater_ok = true;
    } else if (deflateReset(&s->deflater) != Z_OK) {
        return false;
    }
    size_t bound = deflateBound(&s->deflater, body->len);
    s->scratch.len = 0;
    if (body->len > UINT32_MAX || !sb_reserve(&s->scratch, bound))
        return false;
    s->deflater.next_in = (Bytef *)body->p;
    s->deflater.avail_in = (uInt)body->len;
    s->deflater.next_out = (Bytef *)s->scratch.p;
    s->deflater.avail_out = (uInt)bound;
    if (deflate(&s->deflater, Z_FINISH) != Z_STREAM_END)
        return false;
    s->scratch.len = bound - s->deflater.avail_out;
    return true;
}

/* Writes status line, headers and body into the connection's output. */
static void queue_answer(struct server *s, struct conn *c, const struct answer *a)
{
    bool gz = a->body->len > 0 && !a->head && s->opt.answer_gzip && c->req.accept_gzip &&
              gzip_answer(s, a->body);
    const struct sbuf *payload = gz ? &s->scratch : a->body;
    sb_printf(&c->out,
              "HTTP/1.1 %d %s\r\nX-elastic-product: Elasticsearch\r\n"
              "content-type: application/json\r\n%scontent-length: %zu\r\n%s\r\n",
              a->status, reason_phrase(a->status), gz ? "content-encoding: gzip\r\n" : "",
              payload->len, c->close_after ? "connection: close\r\n" : "");
    if (!a->head && !sb_add(&c->out, payload->p, payload->len))
        c->close_after = true;
}

/* ---- endpoints -------------------------------------------------------- */

static void handle_info(struct sbuf *b)
{
    b->len = 0;
    sb_puts(b, "{\"name\":\"es-sink\",\"cluster_name\":\"es-sink\","
               "\"cluster_uuid\":\"c2lua19zaW5rX2NsdXN0\",\"version\":{\"number\":\"" VERSION
               "\",\"build_flavor\":\"default\",\"build_type\":\"docker\","
               "\"build_hash\":\"0000000000000000000000000000000000000000\","
               "\"build_date\":\"2023-11-04T10:04:57.184859352Z\",\"build_snapshot\":false,"
               "\"lucene_version\":\"9.8.0\",\"minimum_wire_compatibility_version\":\"7.17.0\","
               "\"minimum_index_compatibility_version\":\"7.0.0\"},"
               "\"tagline\":\"You Know, for Search\"}");
}

/* '*' matches any run of bytes; iterative, so no pattern is exponential. */
static bool glob_match(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == *s) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

static struct template *template_find(struct server *s, const char *name)
{
    for (size_t i = 0; i < s->ntemplates; i++)
        if (strcmp(s->templates[i].name, name) == 0)
            return &s->templates[i];
    return NULL;
}

static int template_get(struct server *s, const char *name, struct sbuf *b)
{
    b->len = 0;
    sb_puts(b, "{\"index_templates\":[");
    size_t found = 0;
    for (size_t i = 0; i < s->ntemplates; i++) {
        struct template *t = &s->templates[i];
        if (*name && !glob_match(name, t->name))
            continue;
        sb_puts(b, found++ ? ",{\"name\":" : "{\"name\":");
        sb_json_str(b, t->name, strlen(t->name));
        sb_puts(b, ",\"index_template\":");
        sb_add(b, t->body.p, t->body.len);
        sb_puts(b, "}");
    }
    sb_puts(b, "]}");
    if (found == 0 && *name && !strchr(name, '*')) {
        char why[TARGET_MAX + 64];
        snprintf(why, sizeof(why), "index template matching [%s] not found", name);
        es_error(b, 404, "resource_not_found_exception", why);
        return 404;
    }
    return 200;
}

static int template_put(struct server *s, const char *name, const struct sbuf *body, struct sbuf *b)
{
    const char *why = "request body is required";
    if (body->len == 0 || body->len > TEMPLATE_MAX ||
        !json_object_ok(body->p, body->p + body->len, true, &why)) {
        es_error(b, 400, "parse_exception", body->len > TEMPLATE_MAX ? "template too large" : why);
        return 400;
    }
    if (!*name || strchr(name, '*') || strchr(name, ',')) {
        es_error(b, 400, "invalid_index_template_exception", "invalid template name");
        return 400;
    }
    struct template *t = template_find(s, name);
    if (!t) {
        if (s->ntemplates == MAX_TEMPLATES) {
            es_error(b, 400, "illegal_argument_exception", "too many templates for this sink");
            return 400;
        }
        t = &s->templates[s->ntemplates];
        if (!(t->name = strdup(name))) {
            es_error(b, 500, "out_of_memory", "out of memory");
            return 500;
        }
        t->body = (struct sbuf){0};
        s->ntemplates++;
    }
    t->body.len = 0;
    sb_add(&t->body, body->p, body->len);
    b->len = 0;
    sb_puts(b, "{\"acknowledged\":true}");
    return 200;
}

static int template_delete(struct server *s, const char *name, struct sbuf *b)
{
    struct template *t = template_find(s, name);
    if (!t)
        return template_get(s, name, b); /* the same 404 */
    free(t->name);
    sb_free(&t->body);
    *t = s->templates[--s->ntemplates];
    b->len = 0;
    sb_puts(b, "{\"acknowledged\":true}");
    return 200;
}

static void write_stats(struct server *s, struct sbuf *b);

/* ---- _bulk: parsing ---------------------------------------------------- */

/* Members of a bulk answer a filter_path keeps. */
enum {
    F_TOOK = 1 << 0,
    F_ERRORS = 1 << 1,
    F_INDEX = 1 << 2,
    F_ID = 1 << 3,
    F_VERSION = 1 << 4,
    F_RESULT = 1 << 5,
    F_SHARDS = 1 << 6,
    F_SEQ = 1 << 7,
    F_TERM = 1 << 8,
    F_STATUS = 1 << 9,
    F_ERR_TYPE = 1 << 10,
    F_ERR_REASON = 1 << 11,
    F_ERR_REST = 1 << 12,
    F_ITEM_ALL = (1 << 13) - 1 - F_TOOK - F_ERRORS,
    F_ALL = (1 << 13) - 1
};

static bool seg_match(const char *pat, size_t plen, const char *name)
{
    char p[64];
    if (plen >= sizeof(p))
        return false;
    memcpy(p, pat, plen);
    p[plen] = '\0';
    return glob_match(p, name);
}

/* The members one filter_path entry keeps (a path of '.'-separated globs). */
static unsigned filter_entry(const char *e, size_t n)
{
    static const struct {
        const char *path;
        unsigned bit;
    } leaves[] = {{"took", F_TOOK},
                  {"errors", F_ERRORS},
                  {"items.X._index", F_INDEX},
                  {"items.X._id", F_ID},
                  {"items.X._version", F_VERSION},
                  {"items.X.result", F_RESULT},
                  {"items.X._shards.total", F_SHARDS},
                  {"items.X._shards.successful", F_SHARDS},
                  {"items.X._shards.failed", F_SHARDS},
                  {"items.X._seq_no", F_SEQ},
                  {"items.X._primary_term", F_TERM},
                  {"items.X.status", F_STATUS},
                  {"items.X.error.type", F_ERR_TYPE},
                  {"items.X.error.reason", F_ERR_REASON},
                  {"items.X.error.index_uuid", F_ERR_REST},
                  {"items.X.error.shard", F_ERR_REST},
                  {"items.X.error.index", F_ERR_REST}};
    unsigned mask = 0;
    for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
        /* Walk pattern segments against the leaf's; "**" matches any number
         * of segments, a pattern that stops early keeps the whole subtree. */
        const char *p = e, *pend = e + n, *l = leaves[i].path;
        bool ok = true, dstar = false;
        while (ok && p < pend && *l) {
            const char *pe = memchr(p, '.', (size_t)(pend - p));
            size_t plen = pe ? (size_t)(pe - p) : (size_t)(pend - p);
            const char *le = strchr(l, '.');
            size_t llen = le ? (size_t)(le - l) : strlen(l);
            char seg[32];
            snprintf(seg, sizeof(seg), "%.*s", (int)llen, l);
            if (plen == 2 && memcmp(p, "**", 2) == 0) {
                dstar = true; /* the rest of the leaf matches */
                break;
            }
            /* "X" stands for the action name: any of them */
            ok = strcmp(seg, "X") == 0
                     ? seg_match(p, plen, "create") || seg_match(p, plen, "index") ||
                           seg_match(p, plen, "update") || seg_match(p, plen, "delete")
                     : seg_match(p, plen, seg);
            p = pe ? pe + 1 : pend;
            l = le ? le + 1 : l + llen;
        }
        if (ok && (dstar || p >= pend))
            mask |= leaves[i].bit;
    }
    return mask;
}

/* Percent-decodes [s, s+n) into out (cap bytes); '+' stays '+'. */
static size_t pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return o;
}

/* The mask from the query's filter_path, F_ALL without one. */
static unsigned filter_mask(const char *query)
{
    for (const char *q = query; q && *q;) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n > 12 && memcmp(q, "filter_path=", 12) == 0) {
            char v[TARGET_MAX + 1];
            size_t vn = pct_decode(q + 12, n - 12, v, sizeof(v));
            unsigned mask = 0;
            bool any = false;
            for (char *e = v; e < v + vn;) {
                char *comma = memchr(e, ',', (size_t)(v + vn - e));
                size_t en = comma ? (size_t)(comma - e) : (size_t)(v + vn - e);
                if (en && *e != '-') {
                    mask |= filter_entry(e, en);
                    any = true;
                }
                e += en + 1;
            }
            return any ? mask : F_ALL;
        }
        q = amp ? amp + 1 : NULL;
    }
    return F_ALL;
}

struct bulk_error {
    const char *type;
    char reason[256];
};

static bool bulk_fail(struct bulk_error *e, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool bulk_fail(struct bulk_error *e, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
    va_end(ap);
    e->type = type;
    return false;
}

static const char *const known_params[] = {"_index",
                                           "_id",
                                           "routing",
                                           "if_seq_no",
                                           "if_primary_term",
                                           "version",
                                           "version_type",
                                           "pipeline",
                                           "require_alias",
                                           "require_data_stream",
                                           "_source",
                                           "dynamic_templates",
                                           "retry_on_conflict",
                                           "list_executed_pipelines",
                                           NULL};

/* One member of an action line's object: _index and _id kept, others
 * checked. */
static bool action_member(struct jscan *j, struct item *it, size_t lineno, struct bulk_error *e)
{
    char *key;
    size_t klen;
    if (!js_string(j, &key, &klen, true))
        return bulk_fail(e, "illegal_argument_exception",
                         "Malformed action/metadata line [%zu]: %s", lineno, j->why);
    js_ws(j);
    if (j->p >= j->end || *j->p++ != ':')
        return bulk_fail(e, "illegal_argument_exception",
                         "Malformed action/metadata line [%zu]: expected ':'", lineno);
    js_ws(j);
    bool known = false;
    for (size_t i = 0; known_params[i]; i++)
        known |= strlen(known_params[i]) == klen && memcmp(known_params[i], key, klen) == 0;
    if (!known)
        return bulk_fail(e, "illegal_argument_exception",
                         "Action/metadata line [%zu] contains an unknown parameter [%.*s]", lineno,
                         (int)(klen > 64 ? 64 : klen), key);
    bool is_index = klen == 6 && memcmp(key, "_index", 6) == 0;
    bool is_id = klen == 3 && memcmp(key, "_id", 3) == 0;
    if (is_index || is_id) {
        char *v;
        size_t vlen;
        if (j->p >= j->end || *j->p != '"' || !js_string(j, &v, &vlen, true))
            return bulk_fail(e, "illegal_argument_exception",
                             "Malformed action/metadata line [%zu], expected a simple value for "
                             "field [%s]",
                             lineno, is_index ? "_index" : "_id");
        if (is_index) {
            it->index = v;
            it->index_len = vlen;
        } else {
            it->id = v;
            it->id_len = vlen;
        }
        return true;
    }
    bool object_ok = (klen == 7 && memcmp(key, "_source", 7) == 0) ||
                     (klen == 17 && memcmp(key, "dynamic_templates", 17) == 0);
    if (j->p < j->end && (*j->p == '{' || *j->p == '[') && !object_ok)
        return bulk_fail(e, "illegal_argument_exception",
                         "Malformed action/metadata line [%zu], expected a simple value for field "
                         "[%.*s] but found [START_OBJECT]",
                         lineno, (int)(klen > 64 ? 64 : klen), key);
    if (!js_value(j, true))
        return bulk_fail(e, "illegal_argument_exception",
                         "Malformed action/metadata line [%zu]: %s", lineno, j->why);
    return true;
}

/* {"<action>":{members}} with whitespace anywhere. */
static bool parse_action(char *line, char *end, size_t lineno, struct item *it,
                         struct bulk_error *e)
{
    struct jscan j = {.p = line, .end = end};
    char *key;
    size_t klen;
    js_ws(&j);
    if (j.p >= j.end || *j.p++ != '{')
        return bulk_fail(e, "illegal_argument_exception",
                         "Malformed action/metadata line [%zu], expected START_OBJECT", lineno);
    js_ws(&j);
    if (!js_string(&j, &key, &klen, true))
        return bulk_fail(e, "illegal_argument_exception",
                         "Malformed action/metadata line [%zu], expected FIELD_NAME", lineno);
    int a = -1;
    for (int i = 0; i < 4; i++)
        if (strlen(action_names[i]) == klen && memcmp(action_names[i], key, klen) == 0)
            a = i;
    if (a < 0)
        return bulk_fail(e, "illegal_argument_exception",
                         "Malformed action/metadata line [%zu], expected field [create], [delete], "
                         "[index] or [update] but found [%.*s]",
                         lineno, (int)(klen > 64 ? 64 : klen), key);
    it->action = (enum action)a;
    js_ws(&j);
    if (j.p >= j.end || *j.p++ != ':')
        return bulk_fail(e, "illegal_argument_exception", "Malformed action/metadata line [%zu]",
                         lineno);
    js_ws(&j);
    if (j.p >= j.end || *j.p++ != '{')
        return bulk_fail(e, "illegal_argument_exception",
                         "Malformed action/metadata line [%zu], expected START_OBJECT", lineno);
    js_ws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
    } else {
        for (;;) {
            js_ws(&j);
            if (!action_member(&j, it, lineno, e))
                return false;
            js_ws(&j);
            if (j.p < j.end && *j.p == ',') {
                j.p++;
                continue;
            }
            if (j.p < j.end && *j.p == '}') {
                j.p++;
                break;
            }
            return bulk_fail(e, "illegal_argument_exception",
                             "Malformed action/metadata line [%zu], expected ',' or '}'", lineno);
        }
    }
    js_ws(&j);
    if (j.p >= j.end || *j.p++ != '}')
        return bulk_fail(e, "illegal_argument_exception",
                         "Malformed action/metadata line [%zu], expected END_OBJECT", lineno);
    js_ws(&j);
    if (j.p != j.end)
        return bulk_fail(e, "illegal_argument_exception",
                         "Malformed action/metadata line [%zu], expected END_OBJECT but found "
                         "more",
                         lineno);
    return true;
}

static bool blank(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r')
            return false;
    return true;
}

/* Parses every action of the body into s->items; *n items. False with e set:
 * the whole request fails. */
static bool parse_bulk(struct server *s, char *body, size_t len, const char *url_index, size_t *n,
                       struct bulk_error *e)
{
    *n = 0;
    if (len == 0)
        return bulk_fail(e, "action_request_validation_exception",
                         "Validation Failed: 1: no requests added;");
    if (body[len - 1] != '\n')
        return bulk_fail(e, "illegal_argument_exception",
                         "The bulk request must be terminated by a newline [\\n]");
    char *p = body, *end = body + len;
    size_t lineno = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        lineno++;
        if (blank(p, nl)) {
            p = nl + 1;
            continue;
        }
        if (*n == s->items_cap) {
            size_t cap = s->items_cap ? s->items_cap * 2 : 1024;
            struct item *items = realloc(s->items, cap * sizeof(*items));
            if (!items)
                return bulk_fail(e, "out_of_memory", "out of memory");
            s->items = items;
            s->items_cap = cap;
        }
        struct item *it = &s->items[*n];
        *it = (struct item){0};
        if (!parse_action(p, nl, lineno, it, e))
            return false;
        if (!it->index) {
            it->index = url_index;
            it->index_len = url_index ? strlen(url_index) : 0;
        }
        if (!it->index)
            return bulk_fail(e, "action_request_validation_exception",
                             "Validation Failed: 1: index is missing;");
        if (it->id_len > ID_MAX)
            return bulk_fail(e, "action_request_validation_exception",
                             "Validation Failed: 1: id [%.32s...] is too long, must be no longer "
                             "than 512 bytes but was: %zu;",
                             it->id, it->id_len);
        if (!it->id && (it->action == A_UPDATE || it->action == A_DELETE))
            return bulk_fail(e, "action_request_validation_exception",
                             "Validation Failed: 1: id is missing;");
        p = nl + 1;
        if (it->action != A_DELETE) {
            if (p >= end)
                return bulk_fail(e, "action_request_validation_exception",
                                 "Validation Failed: 1: source is missing;");
            nl = memchr(p, '\n', (size_t)(end - p));
            lineno++;
            it->src = p;
            it->src_end = nl;
            p = nl + 1;
        }
        (*n)++;
    }
    if (*n == 0)
        return bulk_fail(e, "action_request_validation_exception",
                         "Validation Failed: 1: no requests added;");
    return true;
}

/* ---- _bulk: executing and answering ----------------------------------- */

static bool index_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 255 || s[0] == '-' || s[0] == '_' || s[0] == '+' || (n == 1 && s[0] == '.') ||
        (n == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || c < 0x20 || strchr("\\/*?\"<>| ,#:", c))
            return false;
    }
    return true;
}

/* What happened to one item. */
struct outcome {
    int status;
    const char *result; /* created, updated, deleted, not_found, noop */
    const char *etype;  /* NULL: success */
    char reason[160];
    uint64_t version;
};

static void fail_item(struct outcome *o, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_item(struct outcome *o, int status, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
    va_end(ap);
    o->status = status;
    o->etype = type;
}

/* One more distinct _id seen: the moment the expected number is reached
 * is kept. */
static void note_seen(struct server *s)
{
    if (++s->st.seen == s->opt.expect_docs)
        s->st.seen_at = now_real();
}

/* Judges one item against the ids seen (with --check-ids). */
static void execute_item(struct server *s, const struct item *it, struct outcome *o)
{
    *o = (struct outcome){.status = 201, .result = "created", .version = 1};
    const char *why = NULL;
    if (!index_name_ok(it->index, it->index_len)) {
        fail_item(o, 400, "invalid_index_name_exception",
                  "Invalid index name [%.*s], must be lowercase and must not contain \\, /, *, "
                  "?, \", <, >, |, ' ', ',', #, :",
                  (int)(it->index_len > 64 ? 64 : it->index_len), it->index);
        return;
    }
    if (it->src && (it->action == A_CREATE || it->action == A_INDEX) &&
        !json_object_ok(it->src, it->src_end, s->opt.check_docs, &why)) {
        fail_item(o, 400, "document_parsing_exception", "[1:1] failed to parse: %s", why);
        return;
    }
    if (s->opt.reject_429_pct && (it->action == A_CREATE || it->action == A_INDEX)) {
        s->rng ^= s->rng << 13;
        s->rng ^= s->rng >> 7;
        s->rng ^= s->rng << 17;
        if (s->rng % 100 < s->opt.reject_429_pct) {
            /* 0: not live, 1: live, 2: refused and never indexed yet */
            unsigned char *live =
                s->opt.check_ids && it->id
                    ? id_lookup(&s->ids, it->index, it->index_len, it->id, it->id_len, true)
                    : NULL;
            if (live && *live == 0) {
                *live = 2;
                note_seen(s);
            }
            fail_item(o, 429, "es_rejected_execution_exception",
                      "rejected execution of coordinating operation [shard_detail=[%.*s]]",
                      (int)(it->index_len > 64 ? 64 : it->index_len), it->index);
            return;
        }
    }
    if (!s->opt.check_ids || !it->id) {
        if (it->action == A_UPDATE)
            fail_item(o, 404, "document_missing_exception", "[%.*s]: document missing",
                      (int)(it->id_len > 64 ? 64 : it->id_len), it->id);
        else if (it->action == A_DELETE)
            *o = (struct outcome){.status = 404, .result = "not_found", .version = 1};
        return;
    }
    unsigned char *live = id_lookup(&s->ids, it->index, it->index_len, it->id, it->id_len,
                                    it->action == A_CREATE || it->action == A_INDEX);
    if (!live && (it->action == A_CREATE || it->action == A_INDEX)) {
        s->ids.untracked++;
        return; /* out of memory: taken as new */
    }
    bool exists = live && *live == 1;
    if (live && *live == 0 && (it->action == A_CREATE || it->action == A_INDEX))
        note_seen(s);
    switch (it->action) {
    case A_CREATE:
        if (exists)
            fail_item(o, 409, "version_conflict_engine_exception",
                      "[%.*s]: version conflict, document already exists (current version [1])",
                      (int)(it->id_len > 64 ? 64 : it->id_len), it->id);
        break;
    case A_INDEX:
        if (exists)
            *o = (struct outcome){.status = 200, .result = "updated", .version = 2};
        break;
    case A_UPDATE:
        if (!exists)
            fail_item(o, 404, "document_missing_exception", "[%.*s]: document missing",
                      (int)(it->id_len > 64 ? 64 : it->id_len), it->id);
        else
            *o = (struct outcome){.status = 200, .result = "noop", .version = 1};
        break;
    case A_DELETE:
        *o = (struct outcome){
            .status = exists ? 200 : 404, .result = exists ? "deleted" : "not_found", .version = 2};
        break;
    }
    if (live)
        *live = it->action == A_DELETE ? 0 : 1;
}

/* Appends one item of the answer with the members `mask` keeps; nothing
 * when it keeps none of them (Elasticsearch prunes empty objects). */
static void write_item(struct server *s, struct sbuf *b, const struct item *it,
                       const struct outcome *o, unsigned mask, bool *first)
{
    bool err = o->etype != NULL;
    unsigned have = F_INDEX | F_ID | F_STATUS |
                    (err ? F_ERR_TYPE | F_ERR_REASON | F_ERR_REST
                         : F_VERSION | F_RESULT | F_SHARDS | F_SEQ | F_TERM);
    if (!it->id && err)
        have &= ~(unsigned)F_ID;
    unsigned m = mask & have;
    if (!m)
        return;
    sb_puts(b, *first ? "{\"" : ",{\"");
    *first = false;
    sb_puts(b, action_names[it->action]);
    sb_puts(b, "\":{");
    const char *sep = "";
#define MEMBER(name) (sb_puts(b, sep), sep = ",", sb_puts(b, "\"" name "\":"))
    if (m & F_INDEX) {
        MEMBER("_index");
        sb_json_str(b, it->index, it->index_len);
    }
    if (m & F_ID) {
        MEMBER("_id");
        if (it->id) {
            sb_json_str(b, it->id, it->id_len);
        } else {
            char auto_id[32];
            snprintf(auto_id, sizeof(auto_id), "sink%016llx", (unsigned long long)++s->auto_id);
            sb_json_str(b, auto_id, strlen(auto_id));
        }
    }
    if (m & F_VERSION) {
        MEMBER("_version");
        sb_printf(b, "%llu", (unsigned long long)o->version);
    }
    if (m & F_RESULT) {
        MEMBER("result");
        sb_json_str(b, o->result, strlen(o->result));
    }
    if (m & F_SHARDS) {
        MEMBER("_shards");
        sb_puts(b, "{\"total\":2,\"successful\":1,\"failed\":0}");
    }
    if (m & F_SEQ) {
        MEMBER("_seq_no");
        sb_printf(b, "%llu", (unsigned long long)s->seq_no++);
    }
    if (m & F_TERM) {
        MEMBER("_primary_term");
        sb_puts(b, "1");
    }
    if (m & F_STATUS) {
        MEMBER("status");
        sb_printf(b, "%d", o->status);
    }
    if (m & (F_ERR_TYPE | F_ERR_REASON | F_ERR_REST)) {
        MEMBER("error");
        const char *esep = "";
        sb_puts(b, "{");
        if (m & F_ERR_TYPE) {
            sb_puts(b, "\"type\":");
            sb_json_str(b, o->etype, strlen(o->etype));
            esep = ",";
        }
        if (m & F_ERR_REASON) {
            sb_puts(b, esep);
            sb_puts(b, "\"reason\":");
            sb_json_str(b, o->reason, strlen(o->reason));
            esep = ",";
        }
        if (m & F_ERR_REST) {
            sb_puts(b, esep);
            sb_puts(b, "\"index_uuid\":\"c2lua19zaW5rX2luZGV4\",\"shard\":\"0\",\"index\":");
            sb_json_str(b, it->index, it->index_len);
        }
        sb_puts(b, "}");
    }
#undef MEMBER
    sb_puts(b, "}}");
}

static void note_done(struct server *s);

/* Executes the parsed items, counts them and writes the answer. */
static void answer_bulk(struct server *s, size_t n, unsigned mask, double t0, struct sbuf *b)
{
    struct sbuf items = {0};
    bool first = true, errors = false;
    struct outcome o;
    for (size_t i = 0; i < n; i++) {
        const struct item *it = &s->items[i];
        execute_item(s, it, &o);
        s->st.actions++;
        if (o.status == 200 || o.status == 201) {
            if (it->action == A_CREATE || it->action == A_INDEX) {
                s->st.docs++;
                index_count(&s->indices, it->index, it->index_len, 1);
            }
        } else if (o.status == 409) {
            s->st.duplicates++;
        } else if (o.status == 429) {
            s->st.rejected_429++;
        } else if (o.status == 404 && !o.etype) {
            s->st.not_found++;
        } else {
            s->st.item_errors++;
        }
        errors |= o.etype != NULL;
        write_item(s, &items, it, &o, mask, &first);
    }
    b->len = 0;
    const char *sep = "";
    sb_puts(b, "{");
    if (mask & F_TOOK) {
        sb_printf(b, "\"took\":%d", (int)((now_mono() - t0) * 1000));
        sep = ",";
    }
    if (mask & F_ERRORS) {
        sb_printf(b, "%s\"errors\":%s", sep, errors ? "true" : "false");
        sep = ",";
    }
    if (!first) {
        sb_printf(b, "%s\"items\":[", sep);
        sb_add(b, items.p, items.len);
        sb_puts(b, "]");
    }
    sb_puts(b, "}");
    sb_free(&items);
    note_done(s);
    if (!s->done_written) {
        s->st.before_last_at = now_real();
        s->st.before_last_docs = s->st.docs;
    }
}

/* Inflates a gzip or zlib body into s->inflated; 0, 400 or 413. */
static int inflate_body(struct server *s, const struct sbuf *in, struct sbuf **out)
{
    if (!s->inflater_ok) {
        if (inflateInit2(&s->inflater, 15 + 32) != Z_OK)
            return 500;
        s->inflater_ok = true;
    } else if (inflateReset(&s->inflater) != Z_OK) {
        return 500;
    }
    struct sbuf *o = &s->inflated;
    o->len = 0;
    s->inflater.next_in = (Bytef *)in->p;
    s->inflater.avail_in = (uInt)in->len;
    for (;;) {
        size_t room = in->len * 4 + 65536;
        if (room > s->opt.max_body - o->len + 1)
            room = s->opt.max_body - o->len + 1;
        if (room > UINT32_MAX)
            room = UINT32_MAX;
        if (!sb_reserve(o, room))
            return 500;
        s->inflater.next_out = (Bytef *)o->p + o->len;
        s->inflater.avail_out = (uInt)room;
        int rc = inflate(&s->inflater, Z_NO_FLUSH);
        o->len += room - s->inflater.avail_out;
        if (o->len > s->opt.max_body)
            return 413;
        if (rc == Z_STREAM_END)
            break;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return 400;
        if (rc == Z_BUF_ERROR && s->inflater.avail_in == 0)
            return 400; /* truncated */
    }
    *out = o;
    return 0;
}

/* `body` is the decoded body; c->body what came over the wire. */
static int handle_bulk(struct server *s, struct conn *c, struct sbuf *body, const char *url_index,
                       struct sbuf *b)
{
    double t0 = now_mono();
    s->st.bulk_requests++;
    s->st.body_bytes += c->body.len;
    s->st.gzip_requests += c->req.encoding != 0;
    s->st.decoded_bytes += body->len;
    if (s->st.first_bulk_at == 0)
        s->st.first_bulk_at = now_real();
    s->st.last_bulk_at = now_real();
    size_t n;
    struct bulk_error e;
    if (!parse_bulk(s, body->p, body->len, url_index, &n, &e)) {
        es_error(b, 400, e.type, e.reason);
        return 400;
    }
    answer_bulk(s, n, filter_mask(c->req.query), t0, b);
    return 200;
}

/* ---- routing ------------------------------------------------------------ */

static bool is(const char *method, const char *m)
{
    return strcmp(method, m) == 0;
}

/* Runs the request in c->req with its body in c->body; fills `a`. */
static void route(struct server *s, struct conn *c, struct answer *a, struct sbuf *b)
{
    const char *m = c->req.method, *path = c->req.path;
    a->head = is(m, "HEAD");
    a->status = 200;
    b->len = 0;
    bool body_ok = c->body.len == 0 || (c->req.has_type && c->req.type_ok);
    if (!body_ok) {
        es_error(b, 406, "media_type_header_exception", "Content-Type header is not supported");
        a->status = 406;
        return;
    }
    struct sbuf *body = &c->body;
    if (c->req.encoding && c->body.len) {
        int rc = inflate_body(s, &c->body, &body);
        if (rc) {
            es_error(b, rc, rc == 413 ? "content_too_long_exception" : "parse_exception",
                     rc == 413 ? "request body too large" : "cannot decompress the request body");
            a->status = rc;
            s->st.bad_requests++;
            return;
        }
    }
    const char *slash = strchr(path + 1, '/');
    size_t first_len = slash ? (size_t)(slash - path - 1) : strlen(path + 1);
    if (strcmp(path, "/") == 0) {
        if (is(m, "GET") || is(m, "HEAD"))
            handle_info(b);
        else
            a->status = 405;
    } else if (strncmp(path, "/_index_template", 16) == 0 &&
               (path[16] == '\0' || (path[16] == '/' && !strchr(path + 17, '/')))) {
        const char *name = path[16] ? path + 17 : "";
        if (is(m, "GET") || is(m, "HEAD"))
            a->status = template_get(s, name, b);
        else if ((is(m, "PUT") || is(m, "POST")) && *name)
            a->status = template_put(s, name, body, b);
        else if (is(m, "DELETE") && *name)
            a->status = template_delete(s, name, b);
        else
            a->status = 405;
    } else if (strcmp(path, "/_bulk") == 0 ||
               (slash && strcmp(slash, "/_bulk") == 0 && first_len > 0)) {
        char index[TARGET_MAX + 1];
        snprintf(index, sizeof(index), "%.*s", (int)first_len, path + 1);
        if (is(m, "POST") || is(m, "PUT"))
            a->status = handle_bulk(s, c, body, slash ? index : NULL, b);
        else
            a->status = 405;
    } else if (strcmp(path, "/_sink/stats") == 0 && is(m, "GET")) {
        write_stats(s, b);
    } else {
        char why[TARGET_MAX + 128];
        snprintf(why, sizeof(why), "no handler found for uri [%s] and method [%s]", path, m);
        es_error(b, 400, "illegal_argument_exception", why);
        a->status = 400;
    }
    if (a->status == 405) {
        char why[TARGET_MAX + 128];
        snprintf(why, sizeof(why), "Incorrect HTTP method for uri [%s] and method [%s]", path, m);
        es_error(b, 405, "illegal_argument_exception", why);
    }
    if (a->status >= 400 && a->status != 404)
        s->st.bad_requests++;
}

/* ---- HTTP parsing -------------------------------------------------------- */

static bool token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("!#$%&'*+-.^_`|~", c);
}

static bool header_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

static bool has_word(const char *v, size_t n, const char *word)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%.*s", (int)(n < sizeof(tmp) - 1 ? n : sizeof(tmp) - 1), v);
    return strcasestr(tmp, word) != NULL;
}

/* Reads one header into r; false: a bad request. */
static bool parse_header(struct request *r, const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n);
    if (!colon || colon == line)
        return false;
    for (const char *p = line; p < colon; p++)
        if (!token_char(*p))
            return false;
    size_t nl = (size_t)(colon - line);
    const char *v = colon + 1, *ve = line + n;
    while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    size_t vn = (size_t)(ve - v);
    if (header_is(line, nl, "content-length")) {
        uint64_t len = 0;
        if (vn == 0 || vn > 18)
            return false;
        for (size_t i = 0; i < vn; i++) {
            if (v[i] < '0' || v[i] > '9')
                return false;
            len = len * 10 + (uint64_t)(v[i] - '0');
        }
        if (r->has_length && r->length != len)
            return false;
        r->has_length = true;
        r->length = len;
    } else if (header_is(line, nl, "transfer-encoding")) {
        if (!(vn >= 7 && strncasecmp(ve - 7, "chunked", 7) == 0))
            return false; /* only chunked (last) is understood */
        r->chunked = true;
    } else if (header_is(line, nl, "content-encoding")) {
        if (vn == 4 && strncasecmp(v, "gzip", 4) == 0)
            r->encoding = 1;
        else if ((vn == 6 && strncasecmp(v, "x-gzip", 6) == 0) ||
                 (vn == 7 && strncasecmp(v, "deflate", 7) == 0))
            r->encoding = 1;
        else if (!(vn == 8 && strncasecmp(v, "identity", 8) == 0))
            return false;
    } else if (header_is(line, nl, "content-type")) {
        r->has_type = true;
        r->type_ok = has_word(v, vn, "application/json") ||
                     has_word(v, vn, "application/x-ndjson") ||
                     has_word(v, vn, "application/vnd.elasticsearch+");
    } else if (header_is(line, nl, "connection")) {
        if (has_word(v, vn, "close"))
            r->keep_alive = false;
        else if (has_word(v, vn, "keep-alive"))
            r->keep_alive = true;
    } else if (header_is(line, nl, "expect")) {
        if (!(vn == 12 && strncasecmp(v, "100-continue", 12) == 0))
            return false;
        r->expect_continue = true;
    } else if (header_is(line, nl, "accept-encoding")) {
        r->accept_gzip = has_word(v, vn, "gzip");
    }
    return true;
}

/* Request line and headers, [p, end) without the final empty line. */
static bool parse_head(struct request *r, const char *p, const char *end)
{
    *r = (struct request){0};
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (!eol)
        eol = end;
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    if (!sp1 || sp1 == p || (size_t)(sp1 - p) >= sizeof(r->method))
        return false;
    for (const char *q = p; q < sp1; q++)
        if (*q < 'A' || *q > 'Z')
            return false;
    memcpy(r->method, p, (size_t)(sp1 - p));
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', (size_t)(eol - target));
    if (!sp2 || sp2 == target || *target != '/' || (size_t)(sp2 - target) > TARGET_MAX)
        return false;
    if ((size_t)(eol - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
        (sp2[8] != '1' && sp2[8] != '0'))
        return false;
    r->http10 = sp2[8] == '0';
    r->keep_alive = !r->http10;
    const char *q = memchr(target, '?', (size_t)(sp2 - target));
    const char *pend = q ? q : sp2;
    size_t plen = pct_decode(target, (size_t)(pend - target), r->path, sizeof(r->path));
    if (strlen(r->path) != plen)
        return false; /* %00 */
    if (q)
        snprintf(r->query, sizeof(r->query), "%.*s", (int)(sp2 - q - 1), q + 1);
    for (const char *l = eol + 2; l < end;) {
        const char *le = memmem(l, (size_t)(end - l), "\r\n", 2);
        if (!le)
            le = end;
        if (*l == ' ' || *l == '\t' || !parse_header(r, l, (size_t)(le - l)))
            return false; /* obsolete line folding included */
        l = le + 2;
    }
    if (r->chunked && r->has_length)
        return false;
    return true;
}

/* ---- connections ------------------------------------------------------- */

static void conn_close(struct server *s, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    sb_free(&c->in);
    sb_free(&c->body);
    sb_free(&c->out);
    free(c);
    s->nconns--;
}

static void set_interest(struct server *s, struct conn *c, bool out)
{
    if (c->want_out == out)
        return;
    struct epoll_event ev = {.events = out ? EPOLLOUT : EPOLLIN, .data.ptr = c};
    epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

/* Sends what is queued; false when the connection was closed. */
static bool conn_flush(struct server *s, struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_interest(s, c, true);
            return true;
        }
        if (n <= 0) {
            conn_close(s, c);
            return false;
        }
        c->out_off += (size_t)n;
    }
    c->out.len = c->out_off = 0;
    set_interest(s, c, false);
    if (c->close_after) {
        conn_close(s, c);
        return false;
    }
    return true;
}

/* Answers a broken request and closes after the answer. */
static void bad_request(struct server *s, struct conn *c, int status, const char *why)
{
    struct sbuf b = {0};
    es_error(&b, status, status == 413 ? "content_too_long_exception" : "bad_request", why);
    c->close_after = true;
    struct answer a = {.status = status, .body = &b};
    queue_answer(s, c, &a);
    sb_free(&b);
    s->st.bad_requests++;
}

/* The request is whole: answer it and get ready for the next. */
static void finish_request(struct server *s, struct conn *c)
{
    struct sbuf b = {0};
    struct answer a = {.body = &b};
    s->st.requests++;
    if (!c->req.keep_alive)
        c->close_after = true;
    route(s, c, &a, &b);
    queue_answer(s, c, &a);
    sb_free(&b);
    c->body.len = 0;
    if (c->body.cap > (64u << 20)) /* a huge one: give the memory back */
        sb_free(&c->body);
    c->state = C_HEAD;
}

/* Appends up to `n` body bytes, checking the cap; false: too large. */
static bool body_add(struct server *s, struct conn *c, const char *p, size_t n)
{
    if (c->body.len + n > s->opt.max_body || !sb_add(&c->body, p, n))
        return false;
    return true;
}

/* The head has been parsed: decide how the body comes. */
static void start_body(struct server *s, struct conn *c)
{
    struct request *r = &c->req;
    if (r->has_length && r->length > s->opt.max_body) {
        bad_request(s, c, 413, "request body too large");
        return;
    }
    if (r->expect_continue && (r->chunked || r->length > 0))
        sb_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    if (r->chunked) {
        s->st.chunked_requests++;
        c->state = C_CHUNK_SIZE;
        c->trailer_bytes = 0;
    } else if (r->length > 0) {
        c->state = C_BODY;
        c->body_left = r->length;
    } else {
        finish_request(s, c);
    }
}

/* Moves body bytes from `in`; false when the request went wrong (already
 * answered). Returns with c->state == C_HEAD once the request was answered. */
static bool chunk_step(struct server *s, struct conn *c)
{
    for (;;) {
        char *p = c->in.p + c->off, *end = c->in.p + c->in.len;
        if (c->state == C_BODY) {
            size_t n = (size_t)(end - p) < c->body_left ? (size_t)(end - p) : c->body_left;
            if (!body_add(s, c, p, n)) {
                bad_request(s, c, 413, "request body too large");
                return false;
            }
            c->off += n;
            c->body_left -= n;
            if (c->body_left)
                return true;
            finish_request(s, c);
            return true;
        }
        if (c->state == C_CHUNK_DATA) {
            size_t n = (size_t)(end - p) < c->chunk_left ? (size_t)(end - p) : c->chunk_left;
            if (!body_add(s, c, p, n)) {
                bad_request(s, c, 413, "request body too large");
                return false;
            }
            c->off += n;
            c->chunk_left -= n;
            if (c->chunk_left)
                return true;
            c->state = C_CHUNK_CRLF;
            continue;
        }
        if (c->state == C_CHUNK_CRLF) {
            if (end - p < 2)
                return true;
            if (p[0] != '\r' || p[1] != '\n') {
                bad_request(s, c, 400, "bad chunk");
                return false;
            }
            c->off += 2;
            c->state = C_CHUNK_SIZE;
            continue;
        }
        /* a size line or a trailer line */
        char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol) {
            if (end - p > 1024) {
                bad_request(s, c, 400, "bad chunk");
                return false;
            }
            return true;
        }
        c->off += (size_t)(eol + 2 - p);
        if (c->state == C_TRAILER) {
            c->trailer_bytes += (size_t)(eol + 2 - p);
            if (c->trailer_bytes > 8192) {
                bad_request(s, c, 400, "trailers too large");
                return false;
            }
            if (eol == p) {
                finish_request(s, c);
                return true;
            }
            continue;
        }
        uint64_t size = 0;
        char *q = p;
        while (q < eol && hexval(*q) >= 0 && q - p < 15)
            size = size * 16 + (uint64_t)hexval(*q++);
        if (q == p || (q < eol && *q != ';' && *q != ' ' && *q != '\t')) {
            bad_request(s, c, 400, "bad chunk size");
            return false;
        }
        if (size > s->opt.max_body - c->body.len) {
            bad_request(s, c, 413, "request body too large");
            return false;
        }
        c->chunk_left = size;
        c->state = size ? C_CHUNK_DATA : C_TRAILER;
    }
}

/*
 * Works through what `in` holds: heads, bodies, pipelined requests. Stops
 * when more bytes are needed or an answer could not be sent whole (then the
 * connection waits for EPOLLOUT). False when the connection was closed.
 */
static bool conn_advance(struct server *s, struct conn *c)
{
    for (;;) {
        if (c->out.len > c->out_off || c->close_after) {
            if (!conn_flush(s, c))
                return false;
            if (c->want_out)
                return true;
        }
        char *p = c->in.p + c->off, *end = c->in.p + c->in.len;
        if (c->state != C_HEAD) {
            size_t before = c->off;
            enum conn_state st = c->state;
            if (!chunk_step(s, c))
                return conn_flush(s, c);
            if (c->state != C_HEAD && c->off == before && st == c->state)
                return true; /* needs more bytes */
            continue;
        }
        if (p == end)
            return true;
        char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend) {
            if ((size_t)(end - p) >= HEAD_MAX) {
                bad_request(s, c, 400, "request head too large");
                return conn_flush(s, c);
            }
            return true;
        }
        if (!parse_head(&c->req, p, hend)) {
            bad_request(s, c, 400, "malformed HTTP request");
            return conn_flush(s, c);
        }
        c->off += (size_t)(hend + 4 - p);
        start_body(s, c);
    }
}

/* Reads what the socket has (a bounded number of times). */
static void conn_readable(struct server *s, struct conn *c)
{
    for (int round = 0; round < 16; round++) {
        char *dst;
        size_t room;
        struct sbuf *into;
        if (c->state == C_BODY && c->off == c->in.len) {
            /* straight into the body: no copy */
            size_t want = c->body_left < (4u << 20) ? (size_t)c->body_left : (4u << 20);
            if (!sb_reserve(&c->body, want)) {
                bad_request(s, c, 413, "request body too large");
                conn_flush(s, c);
                return;
            }
            into = &c->body;
            dst = c->body.p + c->body.len;
            room = want;
        } else {
            if (c->off > 0) {
                memmove(c->in.p, c->in.p + c->off, c->in.len - c->off);
                c->in.len -= c->off;
                c->off = 0;
            }
            if (!sb_reserve(&c->in, 256u << 10)) {
                conn_close(s, c);
                return;
            }
            into = &c->in;
            dst = c->in.p + c->in.len;
            room = c->in.cap - c->in.len;
        }
        ssize_t n = recv(c->fd, dst, room, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            conn_close(s, c);
            return;
        }
        s->st.bytes_received += (uint64_t)n;
        into->len += (size_t)n;
        if (into == &c->body) {
            c->body_left -= (uint64_t)n;
            if (c->body_left == 0)
                finish_request(s, c);
        }
        if (!conn_advance(s, c) || c->want_out)
            return;
    }
}

/* ---- stats and the done file ------------------------------------------ */

static int cmp_slot(const void *a, const void *b)
{
    const struct index_slot *x = *(const struct index_slot *const *)a;
    const struct index_slot *y = *(const struct index_slot *const *)b;
    return strcmp(x->name, y->name);
}

static void write_stats(struct server *s, struct sbuf *b)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    const struct stats *t = &s->st;
    b->len = 0;
    sb_printf(b,
              "{\"requests\":%llu,\"connections\":%llu,\"bulk_requests\":%llu,"
              "\"gzip_requests\":%llu,\"chunked_requests\":%llu,\"bytes_received\":%llu,"
              "\"body_bytes\":%llu,\"decoded_bytes\":%llu,\"actions\":%llu,\"docs\":%llu,"
              "\"duplicates\":%llu,\"not_found\":%llu,\"item_errors\":%llu,"
              "\"bad_requests\":%llu,\"rejected_429\":%llu,",
              (unsigned long long)t->requests, (unsigned long long)t->connections,
              (unsigned long long)t->bulk_requests, (unsigned long long)t->gzip_requests,
              (unsigned long long)t->chunked_requests, (unsigned long long)t->bytes_received,
              (unsigned long long)t->body_bytes, (unsigned long long)t->decoded_bytes,
              (unsigned long long)t->actions, (unsigned long long)t->docs,
              (unsigned long long)t->duplicates, (unsigned long long)t->not_found,
              (unsigned long long)t->item_errors, (unsigned long long)t->bad_requests,
              (unsigned long long)t->rejected_429);
    sb_printf(b,
              "\"ids\":{\"checked\":%s,\"unique\":%llu,\"untracked\":%llu},"
              "\"docs_checked\":%s,\"first_bulk_at\":%.6f,\"last_bulk_at\":%.6f,"
              "\"done_at\":%.6f,\"seen\":%llu,\"seen_at\":%.6f,\"before_last\":{\"at\":%.6f,"
              "\"docs\":%llu},\"cpu_s\":%.3f,\"max_"
              "rss_kb\":%ld,\"templates\":%zu,"
              "\"other_indices_docs\":%llu,\"indices\":{",
              s->opt.check_ids ? "true" : "false", (unsigned long long)s->ids.n,
              (unsigned long long)s->ids.untracked, s->opt.check_docs ? "true" : "false",
              t->first_bulk_at, t->last_bulk_at, t->done_at, (unsigned long long)t->seen,
              t->seen_at, t->before_last_at, (unsigned long long)t->before_last_docs, cpu,
              ru.ru_maxrss, s->ntemplates, (unsigned long long)s->indices.other_docs);
    const struct index_slot **sorted = calloc(s->indices.n + 1, sizeof(*sorted));
    size_t k = 0;
    for (size_t i = 0; sorted && i < s->indices.cap; i++)
        if (s->indices.slots[i].name)
            sorted[k++] = &s->indices.slots[i];
    if (sorted)
        qsort(sorted, k, sizeof(*sorted), cmp_slot);
    for (size_t i = 0; i < k; i++) {
        sb_puts(b, i ? "," : "");
        sb_json_str(b, sorted[i]->name, sorted[i]->len);
        sb_printf(b, ":%llu", (unsigned long long)sorted[i]->docs);
    }
    free(sorted);
    sb_puts(b, "}}");
}

/* Writes `text` to path atomically (a temporary file, then a rename). */
static int write_atomic(const char *path, const char *text, size_t n)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    bool ok = fwrite(text, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The expected number of documents is in: say so once. */
static void note_done(struct server *s)
{
    if (s->done_written || !s->opt.expect_docs || s->st.docs < s->opt.expect_docs)
        return;
    s->done_written = true;
    s->st.done_at = now_real();
    if (!s->opt.done_file)
        return;
    struct sbuf b = {0};
    write_stats(s, &b);
    sb_add(&b, "\n", 1);
    if (write_atomic(s->opt.done_file, b.p, b.len) != 0)
        fprintf(stderr, "es_sink: cannot write %s: %s\n", s->opt.done_file, strerror(errno));
    sb_free(&b);
}

/* ---- main ----------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: lf_es_sink [--port N] [--port-file PATH] [--check-ids] "
                    "[--check-docs] [--max-body BYTES] [--expect-docs N --done-file PATH] "
                    "[--no-answer-gzip] [--reject-429 PERCENT]\n");
    exit(2);
}

static uint64_t parse_u64(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-')
        usage();
    return v;
}

static void parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){.max_body = 512u << 20, .answer_gzip = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (strcmp(a, "--port") == 0 && has_val)
            o->port = (int)parse_u64(argv[++i]);
        else if (strcmp(a, "--port-file") == 0 && has_val)
            o->port_file = argv[++i];
        else if (strcmp(a, "--done-file") == 0 && has_val)
            o->done_file = argv[++i];
        else if (strcmp(a, "--expect-docs") == 0 && has_val)
            o->expect_docs = parse_u64(argv[++i]);
        else if (strcmp(a, "--max-body") == 0 && has_val)
            o->max_body = (size_t)parse_u64(argv[++i]);
        else if (strcmp(a, "--check-ids") == 0)
            o->check_ids = true;
        else if (strcmp(a, "--check-docs") == 0)
            o->check_docs = true;
        else if (strcmp(a, "--no-answer-gzip") == 0)
            o->answer_gzip = false;
        else if (strcmp(a, "--reject-429") == 0 && has_val)
            o->reject_429_pct = (unsigned)parse_u64(argv[++i]);
        else
            usage();
    }
    if (o->port > 65535 || o->max_body == 0 || o->reject_429_pct > 100)
        usage();
}

static int listen_on(int port, int *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(sa.sin_port);
    return fd;
}

static void accept_all(struct server *s, int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct conn *c = s->nconns < MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->nconns++;
        s->st.connections++;
    }
}

static void server_free(struct server *s)
{
    index_free(&s->indices);
    id_free(&s->ids);
    for (size_t i = 0; i < s->ntemplates; i++) {
        free(s->templates[i].name);
        sb_free(&s->templates[i].body);
    }
    sb_free(&s->inflated);
    sb_free(&s->scratch);
    free(s->items);
    if (s->inflater_ok)
        inflateEnd(&s->inflater);
    if (s->deflater_ok)
        deflateEnd(&s->deflater);
}

/* Tags for the two descriptors that are not connections. */
static char listen_tag, signal_tag;

int main(int argc, char **argv)
{
    static struct server s;
    parse_args(argc, argv, &s.opt);
    s.rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    int port = 0;
    int lfd = listen_on(s.opt.port, &port);
    s.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (sfd < 0 || lfd < 0 || s.epfd < 0) {
        fprintf(stderr, "es_sink: cannot listen on 127.0.0.1:%d: %s\n", s.opt.port,
                strerror(errno));
        return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listen_tag};
    epoll_ctl(s.epfd, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.ptr = &signal_tag;
    epoll_ctl(s.epfd, EPOLL_CTL_ADD, sfd, &ev);
    if (s.opt.port_file) {
        char text[16];
        int n = snprintf(text, sizeof(text), "%d\n", port);
        if (write_atomic(s.opt.port_file, text, (size_t)n) != 0) {
            fprintf(stderr, "es_sink: cannot write %s: %s\n", s.opt.port_file, strerror(errno));
            return 1;
        }
    }
    fprintf(stderr, "es_sink: listening on 127.0.0.1:%d\n", port);
    bool running = true;
    while (running) {
        struct epoll_event evs[64];
        int n = epoll_wait(s.epfd, evs, 64, -1);
        if (n < 0 && errno != EINTR) {
            perror("es_sink: epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &listen_tag) {
                accept_all(&s, lfd);
            } else if (tag == &signal_tag) {
                running = false;
            } else {
                struct conn *c = tag;
                if (c->want_out)
                    conn_advance(&s, c);
                else
                    conn_readable(&s, c);
            }
        }
    }
    while (s.conns)
        conn_close(&s, s.conns);
    struct sbuf b = {0};
    write_stats(&s, &b);
    printf("%.*s\n", (int)b.len, b.p);
    fflush(stdout);
    sb_free(&b);
    close(lfd);
    close(sfd);
    close(s.epfd);
    server_free(&s);
    return 0;
}
