/*
 * es_resp.c - the answer to a _bulk request, turned into one verdict per
 * document (done, duplicate, retry, dead-letter), in request order.
 *
 * The answer is {"took":..,"errors":bool,"items":[{"<action>":{"status":..,
 * "error":{"type":..,"reason":..,"caused_by":{..}},..}},..]}, one item per
 * action, keyed by the action's name; filter_path keeps the same shape with
 * fewer members (and prunes what is empty). Only "errors" and, per item,
 * the action key, "status" and error.type / error.reason matter here.
 *
 * A hand-written scanner rather than jansson, because:
 *  - it builds nothing: a full answer to 10 000 items is megabytes and
 *    hundreds of thousands of jansson nodes, while all we keep is a status
 *    and two short strings per failed item; with "errors":false first (as
 *    Elasticsearch writes it) items are only counted;
 *  - reasons are cut to LF_ES_REASON_MAX while decoding, never copied whole;
 *  - one odd byte in a reason (Elasticsearch quotes document values there)
 *    must not make the whole answer unreadable: jansson refuses invalid
 *    UTF-8, and \u0000 without JSON_ALLOW_NUL, and an answer we cannot read
 *    is retried whole, which would then fail the same way forever. Here raw
 *    bytes pass through (the dead-letter writer escapes them) and \u0000
 *    becomes U+FFFD so the strings stay C strings;
 *  - nesting is bounded here (MAX_DEPTH) and the grammar is still checked
 *    strictly, so a truncated or non-JSON body is LF_ESYNTAX, never a guess.
 * Item-level trouble (no status, a status that is not a 3-digit integer, an
 * unexpected action key, extra members) is judged per item: retry it.
 */
#include "es_int.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 100
#define KEY_MAX 32

/* Arena offsets of one item's strings while parsing (the arena may move);
 * NO_REF: the item's pointer is already final (static ""). */
struct lf_es_strref {
    size_t type, reason;
};
#define NO_REF ((size_t)-1)

struct scan {
    const unsigned char *p, *end;
    int depth;
    struct lf_es_results *r;
    size_t last_type, last_reason; /* for sharing repeated strings */
};

/* ---- the JSON grammar -------------------------------------------------- */

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

/* Consumes `c` after optional whitespace; returns whether it was there. */
static bool eat(struct scan *s, unsigned char c)
{
    skip_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

static bool peek(struct scan *s, unsigned char c)
{
    skip_ws(s);
    return s->p < s->end && *s->p == c;
}

static int hex4(const unsigned char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* A decoded string, kept up to cap - 1 bytes (the rest is only checked). */
struct strout {
    char *buf;
    size_t cap, len;
    bool cut;
};

static void put(struct strout *o, const char *b, size_t n)
{
    if (!o)
        return;
    if (o->len + n >= o->cap) {
        o->cut = true;
        n = o->len + 1 < o->cap ? o->cap - 1 - o->len : 0;
    }
    memcpy(o->buf + o->len, b, n);
    o->len += n;
}

static void put_cp(struct strout *o, unsigned cp)
{
    char b[4];
    size_t n;
    if (cp == 0)
        cp = 0xFFFD; /* keep C strings whole */
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    put(o, b, n);
}

/*
 * Scans a string at s->p (after whitespace), decoding it into o when o is
 * not NULL. Raw control characters and bad escapes are syntax errors; bytes
 * from 0x80 up pass through unchecked; lone surrogates become U+FFFD.
 */
static int scan_string(struct scan *s, struct strout *o)
{
    if (!eat(s, '"'))
        return LF_ESYNTAX;
    for (;;) {
        const unsigned char *run = s->p;
        while (s->p < s->end && *s->p != '"' && *s->p != '\\' && *s->p >= 0x20)
            s->p++;
        put(o, (const char *)run, (size_t)(s->p - run));
        if (s->p == s->end || *s->p < 0x20)
            return LF_ESYNTAX;
        if (*s->p++ == '"')
            return 0;
        if (s->p == s->end)
            return LF_ESYNTAX;
        unsigned char e = *s->p++;
        const char *simple = NULL;
        switch (e) {
        case '"':
            simple = "\"";
            break;
        case '\\':
            simple = "\\";
            break;
        case '/':
            simple = "/";
            break;
        case 'b':
            simple = "\b";
            break;
        case 'f':
            simple = "\f";
            break;
        case 'n':
            simple = "\n";
            break;
        case 'r':
            simple = "\r";
            break;
        case 't':
            simple = "\t";
            break;
        case 'u':
            break;
        default:
            return LF_ESYNTAX;
        }
        if (simple) {
            put(o, simple, 1);
            continue;
        }
        int cp = s->end - s->p >= 4 ? hex4(s->p) : -1;
        if (cp < 0)
            return LF_ESYNTAX;
        s->p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && s->end - s->p >= 6 && s->p[0] == '\\' &&
            s->p[1] == 'u') {
            int lo = hex4(s->p + 2);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                s->p += 6;
                put_cp(o, 0x10000 + (((unsigned)cp - 0xD800) << 10) + ((unsigned)lo - 0xDC00));
                continue;
            }
        }
        put_cp(o, cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : (unsigned)cp);
    }
}

static bool is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* Scans a number in JSON's grammar; *start and *len give its text. */
static int scan_number(struct scan *s, const unsigned char **start, size_t *len)
{
    skip_ws(s);
    const unsigned char *p = s->p, *end = s->end;
    *start = p;
    if (p < end && *p == '-')
        p++;
    if (!is_digit(p, end))
        return LF_ESYNTAX;
    if (*p++ != '0')
        while (is_digit(p, end))
            p++;
    if (p < end && *p == '.') {
        if (!is_digit(++p, end))
            return LF_ESYNTAX;
        while (is_digit(p, end))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(p, end))
            return LF_ESYNTAX;
        while (is_digit(p, end))
            p++;
    }
    *len = (size_t)(p - *start);
    s->p = p;
    return 0;
}

/* Scans true, false or null; *which is 't', 'f' or 'n'. */
static int scan_literal(struct scan *s, char *which)
{
    static const char *const words[] = {"true", "false", "null"};
    skip_ws(s);
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(s->end - s->p) >= n && memcmp(s->p, words[i], n) == 0) {
            s->p += n;
            *which = words[i][0];
            return 0;
        }
    }
    return LF_ESYNTAX;
}

static int skip_value(struct scan *s);

/* Scans the members of an object or the elements of an array, after the
 * opening bracket, skipping their values. */
static int skip_container(struct scan *s, unsigned char close)
{
    if (++s->depth > MAX_DEPTH)
        return LF_ESYNTAX;
    if (eat(s, close)) {
        s->depth--;
        return 0;
    }
    do {
        if (close == '}' && (scan_string(s, NULL) || !eat(s, ':')))
            return LF_ESYNTAX;
        int rc = skip_value(s);
        if (rc)
            return rc;
    } while (eat(s, ','));
    if (!eat(s, close))
        return LF_ESYNTAX;
    s->depth--;
    return 0;
}

/* Scans any value, checking its grammar, keeping nothing. */
static int skip_value(struct scan *s)
{
    skip_ws(s);
    if (s->p == s->end)
        return LF_ESYNTAX;
    const unsigned char *start;
    size_t len;
    char which;
    switch (*s->p) {
    case '{':
        s->p++;
        return skip_container(s, '}');
    case '[':
        s->p++;
        return skip_container(s, ']');
    case '"':
        return scan_string(s, NULL);
    case 't':
    case 'f':
    case 'n':
        return scan_literal(s, &which);
    default:
        return scan_number(s, &start, &len);
    }
}

/* Scans an object member's key and the colon; a key longer than KEY_MAX - 1
 * bytes comes back cut (it then matches no name we look for). */
static int scan_key(struct scan *s, char key[KEY_MAX])
{
    struct strout o = {.buf = key, .cap = KEY_MAX};
    int rc = scan_string(s, &o);
    if (rc)
        return rc;
    key[o.len] = '\0';
    if (o.cut)
        key[0] = '\0';
    return eat(s, ':') ? 0 : LF_ESYNTAX;
}

/* Iterates over an object's members: call with *first = true after its
 * '{'; returns 1 with the next key, 0 at its '}', or an error. */
static int next_member(struct scan *s, bool *first, char key[KEY_MAX])
{
    if (*first) {
        *first = false;
        if (++s->depth > MAX_DEPTH)
            return LF_ESYNTAX;
        if (eat(s, '}')) {
            s->depth--;
            return 0;
        }
    } else if (!eat(s, ',')) {
        if (!eat(s, '}'))
            return LF_ESYNTAX;
        s->depth--;
        return 0;
    }
    int rc = scan_key(s, key);
    return rc ? rc : 1;
}

/* ---- verdicts ---------------------------------------------------------- */

enum lf_es_verdict lf_es_item_verdict(int status, const char *error_type, bool create)
{
    /* Overload and memory pressure pass whatever the status says.
     * OpenSearch names its rejection rejected_execution_exception (the "es_"
     * went with the rename; Graylog2/graylog2-server#21616 is what treating it
     * as permanent costs). A cluster block is the flood-stage disk watermark
     * (403 before 7.x, 429 after) or an operator's write block: both are
     * lifted, not fixed in the document, so the item waits instead of going
     * to the dead letters. */
    if (error_type && (strcmp(error_type, "es_rejected_execution_exception") == 0 ||
                       strcmp(error_type, "rejected_execution_exception") == 0 ||
                       strcmp(error_type, "circuit_breaking_exception") == 0 ||
                       strcmp(error_type, "cluster_block_exception") == 0))
        return LF_ES_RETRY;
    if (status >= 200 && status <= 299)
        return LF_ES_DONE;
    if (status == 409 && create)
        return LF_ES_DUPLICATE;
    if (status == 408 || status == 429 || (status >= 500 && status <= 599))
        return LF_ES_RETRY;
    if (status >= 400 && status <= 499)
        return LF_ES_DEAD;
    return LF_ES_RETRY; /* missing or meaningless: never drop what we cannot judge */
}

enum lf_es_verdict lf_es_http_verdict(long http_status)
{
    if (http_status >= 200 && http_status <= 299)
        return LF_ES_DONE;
    /* 401/403/407 are credentials or a proxy: an operator fixes them, the
     * documents are fine, so they wait rather than fill the dead letters. */
    if (http_status == 0 || http_status == 408 || http_status == 429 || http_status == 401 ||
        http_status == 403 || http_status == 407 || (http_status >= 500 && http_status <= 599))
        return LF_ES_RETRY;
    return LF_ES_DEAD;
}

const char *lf_es_verdict_name(enum lf_es_verdict v)
{
    switch (v) {
    case LF_ES_DONE:
        return "done";
    case LF_ES_DUPLICATE:
        return "duplicate";
    case LF_ES_RETRY:
        return "retry";
    case LF_ES_DEAD:
        return "dead";
    }
    return "?";
}

/* ---- result storage ---------------------------------------------------- */

static int reserve_items(struct lf_es_results *r, size_t n)
{
    if (n <= r->cap)
        return 0;
    if (n > SIZE_MAX / sizeof(*r->items) || n > SIZE_MAX / sizeof(*r->refs))
        return LF_ENOMEM;
    struct lf_es_item_result *items = realloc(r->items, n * sizeof(*items));
    if (!items)
        return LF_ENOMEM;
    r->items = items;
    struct lf_es_strref *refs = realloc(r->refs, n * sizeof(*refs));
    if (!refs)
        return LF_ENOMEM;
    r->refs = refs;
    r->cap = n;
    return 0;
}

/* Stores a NUL-terminated copy of s[0..n) in the arena, sharing the last
 * copy when it is the same text; returns the offset via *off. */
static int store(struct scan *s, size_t *last, const char *str, size_t n, size_t *off)
{
    struct lf_es_results *r = s->r;
    if (*last != NO_REF && strlen(r->arena + *last) == n && memcmp(r->arena + *last, str, n) == 0) {
        *off = *last;
        return 0;
    }
    if (r->arena_cap - r->arena_len < n + 1) {
        size_t cap = r->arena_cap ? r->arena_cap : 4096;
        while (cap - r->arena_len < n + 1)
            cap *= 2;
        char *a = realloc(r->arena, cap);
        if (!a)
            return LF_ENOMEM;
        r->arena = a;
        r->arena_cap = cap;
    }
    memcpy(r->arena + r->arena_len, str, n);
    r->arena[r->arena_len + n] = '\0';
    *off = *last = r->arena_len;
    r->arena_len += n + 1;
    return 0;
}

/* Ends a string that was cut: back to a character boundary, then "...". */
static void finish_cut(struct strout *o)
{
    if (!o->cut)
        return;
    size_t len = o->cap - 4 < o->len ? o->cap - 4 : o->len;
    for (int i = 0; i < 3 && len > 0 && ((unsigned char)o->buf[len] & 0xC0) == 0x80; i++)
        len--;
    memcpy(o->buf + len, "...", 3);
    o->len = len + 3;
}

/* ---- items ------------------------------------------------------------- */

/* What one item said, before it is judged. */
struct item {
    int status;
    bool garbled; /* something the answer should not have */
    bool create;
    char type[LF_ES_TYPE_MAX];
    char reason[LF_ES_REASON_MAX];
    struct strout type_out, reason_out;
    const char *note; /* our own reason for a garbled item */
};

/* Reads a status: a JSON number that must be a 3-digit integer. */
static int scan_status(struct scan *s, struct item *it)
{
    skip_ws(s);
    if (s->p < s->end && (*s->p == '"' || *s->p == '{' || *s->p == '[' || *s->p == 't' ||
                          *s->p == 'f' || *s->p == 'n')) {
        it->garbled = true;
        return skip_value(s);
    }
    const unsigned char *t;
    size_t n;
    int rc = scan_number(s, &t, &n);
    if (rc)
        return rc;
    if (it->status || n != 3 || t[0] < '1' || t[0] > '5' || !is_digit(t + 1, t + 3) ||
        !is_digit(t + 2, t + 3)) {
        it->garbled = true; /* repeated, or not a status */
        it->status = 0;
        return 0;
    }
    it->status = (t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0');
    return 0;
}

/* The "error" member: an object with type and reason (anything else in it
 * is skipped), or, from very old versions, a string. */
static int scan_error(struct scan *s, struct item *it)
{
    if (peek(s, '"')) {
        it->reason_out.len = 0;
        it->reason_out.cut = false;
        return scan_string(s, &it->reason_out);
    }
    if (!eat(s, '{'))
        return skip_value(s);
    char key[KEY_MAX];
    bool first = true;
    int rc;
    while ((rc = next_member(s, &first, key)) == 1) {
        struct strout *o = NULL;
        if (strcmp(key, "type") == 0)
            o = &it->type_out;
        else if (strcmp(key, "reason") == 0)
            o = &it->reason_out;
        if (o && peek(s, '"')) {
            o->len = 0;
            o->cut = false;
            rc = scan_string(s, o);
        } else {
            rc = skip_value(s);
        }
        if (rc)
            return rc;
    }
    return rc;
}

/* The object under the action key. */
static int scan_action(struct scan *s, struct item *it)
{
    if (!eat(s, '{')) {
        it->garbled = true;
        return skip_value(s);
    }
    char key[KEY_MAX];
    bool first = true, seen_error = false;
    int rc;
    while ((rc = next_member(s, &first, key)) == 1) {
        if (strcmp(key, "status") == 0) {
            rc = scan_status(s, it);
        } else if (strcmp(key, "error") == 0) {
            it->garbled |= seen_error;
            seen_error = true;
            rc = scan_error(s, it);
        } else {
            rc = skip_value(s);
        }
        if (rc)
            return rc;
    }
    return rc;
}

static bool known_action(const char *key, bool *create)
{
    *create = strcmp(key, "create") == 0;
    return *create || strcmp(key, "index") == 0 || strcmp(key, "update") == 0 ||
           strcmp(key, "delete") == 0;
}

/* One element of "items": {"<action>":{...}}. */
static int scan_item(struct scan *s, struct item *it)
{
    it->status = 0;
    it->garbled = false;
    it->create = false;
    it->note = NULL;
    it->type_out = (struct strout){.buf = it->type, .cap = sizeof(it->type)};
    it->reason_out = (struct strout){.buf = it->reason, .cap = sizeof(it->reason)};
    if (!eat(s, '{')) {
        it->garbled = true;
        it->note = "item is not an object";
        return skip_value(s);
    }
    char key[KEY_MAX];
    bool first = true;
    int rc, members = 0;
    while ((rc = next_member(s, &first, key)) == 1) {
        if (members++ == 0) {
            if (!known_action(key, &it->create)) {
                it->garbled = true;
                it->note = "unexpected action in the answer";
            }
            rc = scan_action(s, it);
        } else {
            it->garbled = true; /* a second action for one request line */
            rc = skip_value(s);
        }
        if (rc)
            return rc;
    }
    if (rc == 0 && members == 0) {
        it->garbled = true;
        it->note = "empty item";
    }
    it->garbled |= it->status == 0; /* missing or unreadable */
    return rc;
}

static int record_item(struct scan *s, size_t i, struct item *it)
{
    struct lf_es_item_result *res = &s->r->items[i];
    struct lf_es_strref *ref = &s->r->refs[i];
    finish_cut(&it->type_out);
    finish_cut(&it->reason_out);
    it->type[it->type_out.len] = '\0';
    res->status = it->status;
    res->verdict = it->garbled ? LF_ES_RETRY : lf_es_item_verdict(it->status, it->type, it->create);
    res->error_type = "";
    res->reason = "";
    ref->type = ref->reason = NO_REF;
    if (it->type_out.len) {
        int rc = store(s, &s->last_type, it->type, it->type_out.len, &ref->type);
        if (rc)
            return rc;
    }
    if (it->reason_out.len)
        return store(s, &s->last_reason, it->reason, it->reason_out.len, &ref->reason);
    if (it->garbled) /* our own words, static */
        res->reason = it->note ? it->note : it->status ? "malformed item" : "item without a status";
    return 0;
}

/* The "items" array, after its '['; fills r->items[0..nitems) and counts
 * in *count (stopping early once past nitems). */
static int scan_items(struct scan *s, size_t nitems, bool fast, size_t *count)
{
    struct item it; /* about 1.2 KiB, reused for every item */
    /* The last item checked whole, while counting: the items of an answer
     * without errors are mostly the same bytes ({"create":{"status":201}}
     * under filter_path), and an object that repeats one found valid is
     * valid and ends where it did (an object, unlike a number, cannot be
     * the prefix of a longer value). */
    const unsigned char *same = NULL;
    size_t same_len = 0;
    *count = 0;
    if (++s->depth > MAX_DEPTH)
        return LF_ESYNTAX;
    if (eat(s, ']')) {
        s->depth--;
        return 0;
    }
    do {
        size_t i = (*count)++;
        if (i >= nitems)
            return LF_ESYNTAX; /* more answers than actions: nothing to trust */
        int rc;
        if (fast) {
            skip_ws(s);
            if (same_len && (size_t)(s->end - s->p) >= same_len &&
                memcmp(s->p, same, same_len) == 0) {
                s->p += same_len;
                rc = 0;
            } else {
                const unsigned char *start = s->p;
                rc = skip_value(s);
                if (!rc && *start == '{') {
                    same = start;
                    same_len = (size_t)(s->p - start);
                }
            }
            s->r->items[i] = (struct lf_es_item_result){0, LF_ES_DONE, "", ""};
            s->r->refs[i] = (struct lf_es_strref){NO_REF, NO_REF};
        } else {
            rc = scan_item(s, &it);
            if (!rc)
                rc = record_item(s, i, &it);
        }
        if (rc)
            return rc;
    } while (eat(s, ','));
    if (!eat(s, ']'))
        return LF_ESYNTAX;
    s->depth--;
    return 0;
}

/* ---- the answer -------------------------------------------------------- */

static int scan_answer(struct scan *s, size_t nitems)
{
    struct lf_es_results *r = s->r;
    bool seen_errors = false, seen_items = false;
    size_t count = 0;
    char key[KEY_MAX];
    bool first = true;
    int rc;
    if (!eat(s, '{'))
        return LF_ESYNTAX;
    while ((rc = next_member(s, &first, key)) == 1) {
        if (strcmp(key, "errors") == 0) {
            char which;
            if (seen_errors || scan_literal(s, &which) || which == 'n')
                return LF_ESYNTAX;
            seen_errors = true;
            r->errors = which == 't';
            rc = 0;
        } else if (strcmp(key, "items") == 0) {
            if (seen_items || !eat(s, '['))
                return LF_ESYNTAX;
            seen_items = true;
            /* "errors":false promises every item succeeded: count them. */
            rc = scan_items(s, nitems, seen_errors && !r->errors, &count);
        } else {
            rc = skip_value(s);
        }
        if (rc)
            return rc;
    }
    if (rc)
        return rc;
    skip_ws(s);
    if (s->p != s->end)
        return LF_ESYNTAX;
    /* filter_path prunes an empty array: {"errors":false} answers nothing. */
    if (!seen_items && !(nitems == 0 && seen_errors && !r->errors))
        return LF_ESYNTAX;
    return count == nitems ? 0 : LF_ESYNTAX;
}

int lf_es_parse_bulk(const char *body, size_t len, size_t nitems, struct lf_es_results *r)
{
    r->n = 0;
    r->ndone = r->nduplicate = r->nretry = r->ndead = 0;
    r->errors = false;
    r->arena_len = 0;
    if (!body)
        return LF_ESYNTAX;
    int rc = reserve_items(r, nitems);
    if (rc)
        return rc;
    struct scan s = {.p = (const unsigned char *)body,
                     .end = (const unsigned char *)body + len,
                     .r = r,
                     .last_type = NO_REF,
                     .last_reason = NO_REF};
    rc = scan_answer(&s, nitems);
    if (rc)
        return rc;
    for (size_t i = 0; i < nitems; i++) {
        struct lf_es_item_result *it = &r->items[i];
        if (r->refs[i].type != NO_REF)
            it->error_type = r->arena + r->refs[i].type;
        if (r->refs[i].reason != NO_REF)
            it->reason = r->arena + r->refs[i].reason;
        switch (it->verdict) {
        case LF_ES_DONE:
            r->ndone++;
            break;
        case LF_ES_DUPLICATE:
            r->nduplicate++;
            break;
        case LF_ES_RETRY:
            r->nretry++;
            break;
        case LF_ES_DEAD:
            r->ndead++;
            break;
        }
    }
    r->n = nitems;
    return 0;
}

void lf_es_results_free(struct lf_es_results *r)
{
    if (!r)
        return;
    free(r->items);
    free(r->refs);
    free(r->arena);
    memset(r, 0, sizeof(*r));
}
