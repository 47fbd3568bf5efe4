/*
 * es_index.c - Logstash-style index names: "%{prefix}-%{+YYYY.MM.dd}" gives
 * "syslog-2026.11.21". A pattern is compiled once (and checked: what it can
 * never produce as a valid name is refused with the column); formatting then
 * costs a comparison per document, because the last period (day, or hour for
 * a pattern with H) is cached per prefix.
 *
 * %{+FMT} uses Joda-Time pattern letters, as Logstash's sprintf does, not
 * java.time's. The two disagree on the letter people write most: in Joda
 * (https://www.joda.org/joda-time/key_format.html, DateTimeFormat) 'y' is the
 * year, 'Y' the year of era (>= 0) and 'x' the ISO week-year, with 'w' the
 * week of that week-year; in java.time 'Y' is the week-based year. So
 * "YYYY.MM.dd" is the calendar date here (as in Logstash), and weekly indices
 * are written "xxxx.ww" (logstash-output-elasticsearch issue #541 shows what
 * "YYYY.ww" does on 1 January). For the years we accept (1..9999) year and
 * year of era are the same number.
 *
 * Letters: yyyy YYYY yy YY xxxx xx (and other counts: at least that many
 * digits), ww w, MM M, dd d, HH H; '...' is quoted text and '' a quote;
 * other non-letters are literal. Any other letter is refused: month and day
 * names would be uppercase, which Elasticsearch forbids in index names.
 */
#define _POSIX_C_SOURCE 200809L
#include "es_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_SLOTS 8
#define MS_PER_DAY 86400000LL
#define MS_PER_HOUR 3600000LL
/* Days from 1970-01-01 to 0001-01-01 and to 9999-12-31. */
#define DAY_MIN (-719162LL)
#define DAY_MAX 2932896LL

enum tok_kind { T_LIT, T_PREFIX, T_YEAR, T_WEEKYEAR, T_WEEK, T_MONTH, T_DAY, T_HOUR };

struct tok {
    unsigned char kind;
    unsigned char width; /* minimum digits; years: 2 means two-digit */
    bool in_date;        /* part of a %{+FMT} with a date field: "*" in wildcards */
    size_t off, len;     /* T_LIT: text in pattern->text */
};

/* The name last made for one prefix, valid for event times in [lo, hi). */
struct slot {
    bool used, local;
    size_t prefix_len;
    char prefix[LF_ES_INDEX_MAX + 1];
    int64_t lo, hi;
    size_t len; /* 0: that name is invalid */
    char name[LF_ES_INDEX_MAX + 1];
};

struct lf_es_index_pattern {
    struct tok *toks;
    size_t ntoks;
    char *text; /* literal bytes */
    size_t text_len;
    bool uses_time, uses_hour, uses_prefix;
    bool warned; /* an invalid name was logged */
    unsigned next_slot;
    struct slot cache[CACHE_SLOTS];
};

/* ---- names ------------------------------------------------------------- */

/* Why byte c cannot be in an index name, or NULL. */
static const char *char_problem(unsigned char c, bool allow_star)
{
    if (c >= 'A' && c <= 'Z')
        return "uppercase letters are not allowed";
    if (c < 0x20 || c == 0x7f)
        return "control characters are not allowed";
    if (c == '*' && allow_star)
        return NULL;
    if (strchr("\\/*?\"<>| ,#:", c))
        return "none of \\ / * ? \" < > | space , # : is allowed";
    return NULL;
}

/* Why s[0..n) is not a valid Elasticsearch index name, or NULL. */
static const char *name_problem(const char *s, size_t n, bool allow_star)
{
    if (n == 0)
        return "empty name";
    if (n > LF_ES_INDEX_MAX)
        return "longer than 255 bytes";
    if (s[0] == '-' || s[0] == '_' || s[0] == '+')
        return "starts with - _ or +";
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return "is . or ..";
    for (size_t i = 0; i < n; i++) {
        const char *why = char_problem((unsigned char)s[i], allow_star);
        if (why)
            return why;
    }
    if (!lf_utf8_valid(s, n))
        return "not valid UTF-8";
    return NULL;
}

/* ---- compiling --------------------------------------------------------- */

struct compiler {
    struct lf_es_index_pattern *p;
    const char *pattern;
    char *errbuf;
    size_t errlen;
    size_t cap;
    size_t group_start; /* first token of the current %{...} or literal run */
    bool failed;
};

static void fail(struct compiler *c, size_t off, const char *fmt, const char *what)
{
    if (!c->failed && c->errbuf && c->errlen)
        snprintf(c->errbuf, c->errlen, "index pattern \"%s\", column %zu: %s%s", c->pattern,
                 off + 1, fmt, what ? what : "");
    c->failed = true;
}

static struct tok *add_tok(struct compiler *c, enum tok_kind kind, bool in_date)
{
    struct lf_es_index_pattern *p = c->p;
    if (p->ntoks == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct tok *t = realloc(p->toks, cap * sizeof(*t));
        if (!t) {
            if (!c->failed && c->errbuf && c->errlen)
                snprintf(c->errbuf, c->errlen, "index pattern: out of memory");
            c->failed = true;
            return NULL;
        }
        p->toks = t;
        c->cap = cap;
    }
    struct tok *t = &p->toks[p->ntoks++];
    *t = (struct tok){.kind = (unsigned char)kind, .in_date = in_date};
    return t;
}

/* Adds one literal byte (from pattern offset `off`), joining it to the
 * previous literal when possible. */
static void add_lit(struct compiler *c, char ch, size_t off, bool in_date)
{
    const char *why = char_problem((unsigned char)ch, false);
    if (why) {
        char what[16];
        snprintf(what, sizeof(what), " ('%c')", ch >= 0x20 && ch < 0x7f ? ch : '?');
        char msg[128];
        snprintf(msg, sizeof(msg), "%s in an index name", why);
        fail(c, off, msg, what);
        return;
    }
    struct lf_es_index_pattern *p = c->p;
    struct tok *last = p->ntoks > c->group_start ? &p->toks[p->ntoks - 1] : NULL;
    if (!last || last->kind != T_LIT) {
        if (!(last = add_tok(c, T_LIT, in_date)))
            return;
        last->off = p->text_len;
    }
    p->text[p->text_len++] = ch; /* text was sized to the pattern */
    last->len++;
}

/* One run of a date letter: letter `l` repeated n times at offset off. */
static void add_field(struct compiler *c, char l, size_t n, size_t off)
{
    enum tok_kind kind;
    size_t maxn = 2;
    switch (l) {
    case 'y':
    case 'Y':
        kind = T_YEAR;
        maxn = 9;
        break;
    case 'x':
        kind = T_WEEKYEAR;
        maxn = 9;
        break;
    case 'w':
        kind = T_WEEK;
        break;
    case 'M':
        kind = T_MONTH;
        break;
    case 'd':
        kind = T_DAY;
        break;
    case 'H':
        kind = T_HOUR;
        break;
    default: {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "unsupported date letter '%c' (use yyyy, YYYY, yy, xxxx, ww, MM, M, dd, d, HH, "
                 "H or 'quoted text')",
                 l);
        fail(c, off, msg, NULL);
        return;
    }
    }
    if (n > maxn) {
        fail(c, off,
             l == 'M' ? "month names are not allowed (uppercase); use MM or M"
                      : "too many repetitions of a date letter",
             NULL);
        return;
    }
    struct tok *t = add_tok(c, kind, true);
    if (!t)
        return;
    t->width = (unsigned char)n;
    c->p->uses_time = true;
    c->p->uses_hour |= kind == T_HOUR;
}

static bool is_letter(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* The FMT of a %{+FMT}: pattern[off .. off + n). */
static void compile_date(struct compiler *c, size_t off, size_t n)
{
    const char *f = c->pattern;
    size_t i = off, end = off + n;
    size_t ntoks = c->p->ntoks;
    bool timed = false;
    while (i < end && !c->failed) {
        char ch = f[i];
        if (is_letter(ch)) {
            size_t j = i;
            while (j < end && f[j] == ch)
                j++;
            add_field(c, ch, j - i, i);
            timed = true;
            i = j;
        } else if (ch == '\'') {
            if (i + 1 < end && f[i + 1] == '\'') { /* '' is a quote */
                add_lit(c, '\'', i, true);
                i += 2;
                continue;
            }
            size_t j = i + 1;
            for (;;) {
                if (j >= end) {
                    fail(c, i, "quoted text is not closed", NULL);
                    return;
                }
                if (f[j] == '\'') {
                    if (j + 1 < end && f[j + 1] == '\'') {
                        add_lit(c, '\'', j, true);
                        j += 2;
                        continue;
                    }
                    break;
                }
                add_lit(c, f[j], j, true);
                j++;
            }
            i = j + 1;
        } else {
            add_lit(c, ch, i, true);
            i++;
        }
    }
    if (!c->failed && c->p->ntoks == ntoks)
        fail(c, off, "empty date format", NULL);
    /* Only text next to a date field stands for time in a wildcard;
     * "%{+'.'}" is plain text. */
    for (size_t k = ntoks; k < c->p->ntoks && !timed; k++)
        c->p->toks[k].in_date = false;
}

/* The largest name the fixed parts can make (prefix not counted). */
static size_t fixed_length(const struct lf_es_index_pattern *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->ntoks; i++) {
        const struct tok *t = &p->toks[i];
        if (t->kind == T_LIT)
            n += t->len;
        else if (t->kind == T_YEAR || t->kind == T_WEEKYEAR)
            n += t->width == 2 ? 2 : t->width > 5 ? t->width : 5;
        else if (t->kind != T_PREFIX)
            n += 2;
    }
    return n;
}

/* Checks what can be checked before any prefix or time is known. */
static void check_whole(struct compiler *c)
{
    struct lf_es_index_pattern *p = c->p;
    if (p->ntoks == 0) {
        fail(c, 0, "empty pattern", NULL);
        return;
    }
    const struct tok *t0 = &p->toks[0];
    if (t0->kind == T_LIT && strchr("-_+", p->text[t0->off])) {
        fail(c, 0, "an index name cannot start with - _ or +", NULL);
        return;
    }
    if (fixed_length(p) > LF_ES_INDEX_MAX) {
        fail(c, 0, "the names would be longer than 255 bytes", NULL);
        return;
    }
    if (!p->uses_time && !p->uses_prefix) {
        const char *why = name_problem(p->text, p->text_len, false);
        if (why)
            fail(c, 0, why, NULL);
    }
}

struct lf_es_index_pattern *lf_es_index_pattern_compile(const char *pattern, char *errbuf,
                                                        size_t errlen)
{
    struct compiler c = {.pattern = pattern, .errbuf = errbuf, .errlen = errlen};
    size_t n = strlen(pattern);
    if (!lf_utf8_valid(pattern, n)) {
        fail(&c, 0, "not valid UTF-8", NULL);
        return NULL;
    }
    c.p = calloc(1, sizeof(*c.p));
    if (!c.p || !(c.p->text = malloc(n + 1))) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "index pattern: out of memory");
        lf_es_index_pattern_free(c.p);
        return NULL;
    }
    size_t i = 0;
    while (i < n && !c.failed) {
        if (pattern[i] != '%' || pattern[i + 1] != '{') {
            add_lit(&c, pattern[i], i, false);
            i++;
            continue;
        }
        const char *close = strchr(pattern + i + 2, '}');
        if (!close) {
            fail(&c, i, "%{ is not closed", NULL);
            break;
        }
        size_t in = i + 2, inlen = (size_t)(close - pattern) - in;
        c.group_start = c.p->ntoks;
        if (inlen == 6 && memcmp(pattern + in, "prefix", 6) == 0) {
            add_tok(&c, T_PREFIX, false);
            c.p->uses_prefix = true;
        } else if (inlen >= 1 && pattern[in] == '+')
            compile_date(&c, in + 1, inlen - 1);
        else
            fail(&c, i, "unknown field (use %{prefix} or %{+DATEFORMAT})", NULL);
        i = (size_t)(close - pattern) + 1;
        c.group_start = c.p->ntoks;
    }
    if (!c.failed)
        check_whole(&c);
    if (c.failed) {
        lf_es_index_pattern_free(c.p);
        return NULL;
    }
    return c.p;
}

void lf_es_index_pattern_free(struct lf_es_index_pattern *p)
{
    if (!p)
        return;
    free(p->toks);
    free(p->text);
    free(p);
}

bool lf_es_index_pattern_uses_time(const struct lf_es_index_pattern *p)
{
    return p->uses_time;
}

/* ---- dates ------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard
 * Hinnant's algorithms: exact for every int64 day count we let through). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* The calendar fields a name is made of. */
struct when {
    int64_t year, weekyear;
    int month, day, hour, week;
};

/* ISO 8601 week: weeks start on Monday and belong to the year that holds
 * their Thursday (so 2024-12-30 is week 1 of 2025, 2027-01-01 week 53 of
 * 2026). */
static void iso_week(int64_t days, struct when *w)
{
    int64_t dow = (days + 3) - floor_div(days + 3, 7) * 7; /* 0 = Monday; day 0 was a Thursday */
    int64_t thursday = days - dow + 3;
    int m, d;
    civil_from_days(thursday, &w->weekyear, &m, &d);
    w->week = (int)((thursday - days_from_civil(w->weekyear, 1, 1)) / 7 + 1);
}

/* ---- formatting -------------------------------------------------------- */

struct out {
    char buf[LF_ES_INDEX_MAX + 16];
    size_t len;
    bool overflow;
};

static void out_put(struct out *o, const char *s, size_t n)
{
    if (o->overflow || n > LF_ES_INDEX_MAX + 1 - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void out_num(struct out *o, int64_t v, int width)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%0*lld", width, (long long)v);
    out_put(o, tmp, n > 0 ? (size_t)n : 0);
}

static void render(const struct lf_es_index_pattern *p, const char *prefix, size_t prefix_len,
                   const struct when *w, struct out *o)
{
    for (size_t i = 0; i < p->ntoks; i++) {
        const struct tok *t = &p->toks[i];
        switch (t->kind) {
        case T_LIT:
            out_put(o, p->text + t->off, t->len);
            break;
        case T_PREFIX:
            out_put(o, prefix, prefix_len);
            break;
        case T_YEAR:
        case T_WEEKYEAR: {
            int64_t y = t->kind == T_YEAR ? w->year : w->weekyear;
            if (t->width == 2)
                out_num(o, y % 100, 2);
            else
                out_num(o, y, t->width);
            break;
        }
        case T_WEEK:
            out_num(o, w->week, t->width);
            break;
        case T_MONTH:
            out_num(o, w->month, t->width);
            break;
        case T_DAY:
            out_num(o, w->day, t->width);
            break;
        case T_HOUR:
            out_num(o, w->hour, t->width);
            break;
        }
    }
}

/* Local seconds east of UTC at time t (from localtime_r), or false. */
static bool local_offset(int64_t t, int64_t *off, struct tm *tm)
{
    time_t tt = (time_t)t;
    if ((int64_t)tt != t || !localtime_r(&tt, tm))
        return false;
    int64_t local =
        days_from_civil((int64_t)tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday) * 86400 +
        tm->tm_hour * 3600 + tm->tm_min * 60 + tm->tm_sec;
    *off = local - t;
    return true;
}

/*
 * The fields of ts_ms and the span [*lo, *hi) of event times that give the
 * same fields down to the pattern's finest unit. Returns false when the date
 * is out of range (years 1..9999) or the local time cannot be had.
 */
static bool fields_at(const struct lf_es_index_pattern *p, int64_t ts_ms, bool local,
                      struct when *w, int64_t *lo, int64_t *hi)
{
    int64_t unit = p->uses_hour ? MS_PER_HOUR : MS_PER_DAY;
    int64_t days;
    if (!local) {
        days = floor_div(ts_ms, MS_PER_DAY);
        if (days < DAY_MIN || days > DAY_MAX)
            return false;
        w->hour = (int)((ts_ms - days * MS_PER_DAY) / MS_PER_HOUR);
        *lo = days * MS_PER_DAY + (p->uses_hour ? w->hour * MS_PER_HOUR : 0);
        *hi = *lo + unit;
    } else {
        int64_t secs = floor_div(ts_ms, 1000), off, off_lo, off_hi;
        struct tm tm;
        if (floor_div(secs, 86400) < DAY_MIN - 2 || floor_div(secs, 86400) > DAY_MAX + 2 ||
            !local_offset(secs, &off, &tm))
            return false;
        days = days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        if (days < DAY_MIN || days > DAY_MAX)
            return false;
        w->hour = tm.tm_hour;
        /* The local period in UTC, if the offset holds across it; checking
         * both ends misses only two transitions within one period. */
        int64_t lo_s = days * 86400 + (p->uses_hour ? tm.tm_hour * 3600 : 0) - off;
        int64_t hi_s = lo_s + unit / 1000;
        struct tm tmp;
        if (local_offset(lo_s, &off_lo, &tmp) && local_offset(hi_s - 1, &off_hi, &tmp) &&
            off_lo == off && off_hi == off) {
            *lo = lo_s * 1000;
            *hi = hi_s * 1000;
        } else {
            *lo = secs * 1000; /* near a transition: this second only */
            *hi = *lo + 1000;
        }
    }
    civil_from_days(days, &w->year, &w->month, &w->day);
    iso_week(days, w);
    return true;
}

static struct slot *find_slot(struct lf_es_index_pattern *p, const char *prefix, size_t prefix_len,
                              bool local)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        struct slot *s = &p->cache[i];
        if (s->used && s->local == local && s->prefix_len == prefix_len &&
            memcmp(s->prefix, prefix, prefix_len) == 0)
            return s;
    }
    return NULL;
}

static void warn_once(struct lf_es_index_pattern *p, const char *prefix, const char *name,
                      size_t name_len, const char *why)
{
    if (p->warned)
        return;
    p->warned = true;
    char shown[2][64];
    const char *src[2] = {prefix, name};
    size_t lens[2] = {strlen(prefix), name_len};
    for (int k = 0; k < 2; k++) { /* printable, short */
        size_t n = lens[k] < sizeof(shown[k]) - 1 ? lens[k] : sizeof(shown[k]) - 1;
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)src[k][i];
            shown[k][i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
        }
        shown[k][n] = '\0';
    }
    lf_log(LF_LOG_WARN, "es_index",
           "no valid index name for prefix \"%s\"%s%s%s: %s; such documents are refused "
           "(further ones are not logged)",
           shown[0], name_len ? " (\"" : "", shown[1], name_len ? "\")" : "", why);
}

size_t lf_es_index_format(struct lf_es_index_pattern *p, char *out, size_t outlen,
                          const char *prefix, int64_t ts_ms, bool local)
{
    if (!p->uses_prefix)
        prefix = ""; /* one cache entry for every prefix */
    size_t prefix_len = strlen(prefix);
    if (prefix_len > LF_ES_INDEX_MAX) {
        warn_once(p, prefix, "", 0, "the prefix is longer than 255 bytes");
        return 0;
    }
    struct slot *s = find_slot(p, prefix, prefix_len, local);
    if (!s || ts_ms < s->lo || ts_ms >= s->hi) {
        struct when w = {0};
        int64_t lo = INT64_MIN, hi = INT64_MAX;
        if (p->uses_time && !fields_at(p, ts_ms, local, &w, &lo, &hi)) {
            warn_once(p, prefix, "", 0, "the event's year is outside 1..9999");
            return 0; /* not cached: one odd timestamp must not evict a prefix */
        }
        struct out o = {.len = 0};
        render(p, prefix, prefix_len, &w, &o);
        const char *why = o.overflow ? "longer than 255 bytes" : name_problem(o.buf, o.len, false);
        if (why)
            warn_once(p, prefix, o.buf, o.len, why);
        if (!s) {
            s = &p->cache[p->next_slot];
            p->next_slot = (p->next_slot + 1) % CACHE_SLOTS;
            s->used = true;
            s->local = local;
            s->prefix_len = prefix_len;
            memcpy(s->prefix, prefix, prefix_len);
        }
        s->lo = lo;
        s->hi = hi;
        s->len = why ? 0 : o.len;
        memcpy(s->name, o.buf, s->len);
        s->name[s->len] = '\0';
    }
    if (s->len == 0)
        return 0;
    if (s->len >= outlen) {
        warn_once(p, prefix, s->name, s->len, "it does not fit the caller's buffer");
        return 0;
    }
    memcpy(out, s->name, s->len + 1);
    return s->len;
}

size_t lf_es_index_wildcard(const struct lf_es_index_pattern *p, char *out, size_t outlen,
                            const char *prefix)
{
    struct out o = {.len = 0};
    if (!p->uses_prefix)
        prefix = "";
    size_t prefix_len = strlen(prefix);
    for (size_t i = 0; i < prefix_len; i++) /* only time may become a '*' */
        if (char_problem((unsigned char)prefix[i], false))
            return 0;
    for (size_t i = 0; i < p->ntoks; i++) {
        const struct tok *t = &p->toks[i];
        if (t->in_date) {
            if (o.len == 0 || o.buf[o.len - 1] != '*')
                out_put(&o, "*", 1);
        } else if (t->kind == T_PREFIX) {
            out_put(&o, prefix, prefix_len);
        } else {
            out_put(&o, p->text + t->off, t->len);
        }
    }
    if (o.overflow || o.len >= outlen || name_problem(o.buf, o.len, true))
        return 0;
    memcpy(out, o.buf, o.len);
    out[o.len] = '\0';
    return o.len;
}
