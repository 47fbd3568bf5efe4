/*
 * json.c - writing JSON strings and numbers into an lf_buf.
 *
 * Log lines are data, never protocol: whatever bytes a line holds, the string
 * written here is valid JSON on one line. Runs of plain ASCII are copied in
 * one memcpy, which is what almost every log line is made of.
 */
#include "lf.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* 1 for bytes copied as they are: printable ASCII other than '"' and '\\'. */
/* clang-format off */
static const unsigned char plain_byte[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(0), R16(0),
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20: '"' is not plain */
    R16(1), R16(1),
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50: '\\' is not plain */
    R16(1), R16(1),
    R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0),
#undef R16
};
/* clang-format on */

#ifndef __SSE2__
/* True if none of the 8 bytes at p needs escaping or UTF-8 checking: no
 * control character, '"', '\\' or byte >= 0x80 (the usual SWAR tests). */
static inline int plain8(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
    uint64_t special = ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) |
                       ((backslash - ones) & ~backslash) | w;
    return (special & high) == 0;
}
#endif

/* Where the run of plain bytes starting at s[i] ends (at most at end). */
static inline size_t plain_run(const unsigned char *s, size_t i, size_t end)
{
#ifdef __SSE2__
    /* Sixteen at a time; a signed compare with 0x20 also catches every
     * byte >= 0x80 (negative), which must be checked as UTF-8. */
    const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'),
                  backslash = _mm_set1_epi8('\\');
    while (i + 16 <= end) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i special =
            _mm_or_si128(_mm_cmplt_epi8(v, space),
                         _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
        unsigned mask = (unsigned)_mm_movemask_epi8(special);
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
        i += 16;
    }
#else
    while (i + 8 <= end && plain8(s + i))
        i += 8;
#endif
    while (i < end && plain_byte[s[i]])
        i++;
    return i;
}

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 if the bytes
 * there are not one (overlong forms, surrogates and values past U+10FFFF are
 * rejected, as Unicode's table 3-7 says). */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;

    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

int lf_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    for (;;) {
        /* ASCII sixteen bytes at a time: the common case for log lines. */
        while (i + 16 <= n) {
            uint64_t w[2];
            memcpy(w, s + i, 16);
            if ((w[0] | w[1]) & 0x8080808080808080ull)
                break;
            i += 16;
        }
        if (i + 16 > n && n >= 16) {
            /* The tail, as one overlapping read of the last 16 bytes. */
            uint64_t w[2];
            memcpy(w, s + n - 16, 16);
            if (!((w[0] | w[1]) & 0x8080808080808080ull))
                return 1;
        }
        while (i < n && s[i] < 0x80)
            i++;
        if (i == n)
            return 1;
        size_t len = utf8_sequence(s + i, n - i);
        if (!len)
            return 0;
        i += len;
    }
}

/* Input is taken in chunks so the worst-case reservation (6 output bytes per
 * input byte) stays small even for a very long line. */
#define ESCAPE_CHUNK 4096

int lf_json_write_string(struct lf_buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    int rc;

    if ((rc = lf_buf_putc(b, '"')))
        return rc;
    while (i < n) {
        size_t end = n - i > ESCAPE_CHUNK ? i + ESCAPE_CHUNK : n;
        if ((rc = lf_buf_grow(b, (end - i) * 6 + 3)))
            return rc;
        char *o = b->data + b->len;
        while (i < end) {
            size_t run = plain_run(s, i, end);
            if (run > i) {
                memcpy(o, s + i, run - i);
                o += run - i;
                i = run;
                if (i == end)
                    break;
            }
            unsigned char c = s[i];
            if (c >= 0x80) {
                /* A sequence may straddle the chunk end: look at the input. */
                size_t len = utf8_sequence(s + i, n - i);
                if (len) {
                    memcpy(o, s + i, len);
                    o += len;
                    i += len;
                    if (i > end) /* went past the chunk: reservation had slack */
                        end = i;
                } else {
                    *o++ = (char)(0xC0 | (c >> 6));
                    *o++ = (char)(0x80 | (c & 0x3F));
                    i++;
                }
                continue;
            }
            *o++ = '\\';
            switch (c) {
            case '"':
            case '\\':
                *o++ = (char)c;
                break;
            case '\n':
                *o++ = 'n';
                break;
            case '\r':
                *o++ = 'r';
                break;
            case '\t':
                *o++ = 't';
                break;
            case '\b':
                *o++ = 'b';
                break;
            case '\f':
                *o++ = 'f';
                break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 0xF];
            }
            i++;
        }
        b->len = (size_t)(o - b->data);
    }
    b->data[b->len] = '\0';
    return lf_buf_putc(b, '"');
}

int lf_json_number_form(const char *s, size_t n)
{
    size_t i = 0;
    int form = 1;

    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return 0;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return 0;
    }
    if (i < n && s[i] == '.') {
        i++;
        size_t digits = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == digits)
            return 0;
        form = 2;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t digits = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == digits)
            return 0;
        form = 2;
    }
    return i == n ? form : 0;
}

int lf_json_write_double(struct lf_buf *b, double v)
{
    char tmp[40];

    if (!isfinite(v))
        return lf_buf_append(b, "null", 4);
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    if (!strpbrk(tmp, ".eE"))
        tmp[n++] = '.', tmp[n++] = '0', tmp[n] = '\0';
    return lf_buf_append(b, tmp, (size_t)n);
}

/* ---- checking JSON from elsewhere --------------------------------------- */

struct json_scan {
    const char *s, *end;
    unsigned depth;
    struct lf_json_object_info *info;
};

static void skip_ws(struct json_scan *j)
{
    while (j->s < j->end) {
        char c = *j->s;
        if (c == '\n' || c == '\r')
            j->info->multiline = true;
        else if (c != ' ' && c != '\t')
            return;
        j->s++;
    }
}

/* A string, from its opening quote; valid escapes, no raw control bytes,
 * well-formed UTF-8. Runs of plain bytes are skipped 16 at a time. */
static int scan_string(struct json_scan *j)
{
    const unsigned char *s = (const unsigned char *)j->s + 1, *start = s;
    size_t n = (size_t)((const unsigned char *)j->end - s), i = 0;
    bool high = false;
    for (;;) {
        i = plain_run(s, i, n);
        if (i == n)
            return LF_ESYNTAX;
        unsigned char c = s[i];
        if (c == '"') {
            if (high && !lf_utf8_valid((const char *)start, i))
                return LF_ESYNTAX;
            j->s = (const char *)s + i + 1;
            return 0;
        }
        if (c >= 0x80) {
            high = true;
        } else if (c < 0x20) {
            return LF_ESYNTAX;
        } else { /* a backslash */
            if (++i == n)
                return LF_ESYNTAX;
            if (s[i] == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (i + (size_t)k >= n || !isxdigit(s[i + (size_t)k]))
                        return LF_ESYNTAX;
                i += 4;
            } else if (!s[i] || !strchr("\"\\/bfnrt", s[i])) {
                return LF_ESYNTAX;
            }
        }
        i++;
    }
}

static int scan_value(struct json_scan *j);

static int scan_container(struct json_scan *j, char close)
{
    bool object = close == '}';
    bool top = j->depth == 0;
    if (++j->depth > LF_JSON_MAX_DEPTH)
        return LF_ELIMIT;
    j->s++;
    skip_ws(j);
    if (j->s < j->end && *j->s == close) {
        j->s++;
        j->depth--;
        return 0;
    }
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        if (object) {
            if (j->s == j->end || *j->s != '"')
                return LF_ESYNTAX;
            key = j->s + 1;
            int rc = scan_string(j);
            if (rc)
                return rc;
            key_len = (size_t)(j->s - 1 - key);
            skip_ws(j);
            if (j->s == j->end || *j->s != ':')
                return LF_ESYNTAX;
            j->s++;
            skip_ws(j);
        }
        const char *value = j->s;
        int rc = scan_value(j);
        if (rc)
            return rc;
        if (top && key_len == 10 && memcmp(key, "@timestamp", 10) == 0 && *value == '"') {
            j->info->timestamp = value + 1;
            j->info->timestamp_len = (size_t)(j->s - value - 2);
        }
        skip_ws(j);
        if (j->s == j->end)
            return LF_ESYNTAX;
        if (*j->s == close) {
            j->s++;
            j->depth--;
            return 0;
        }
        if (*j->s != ',')
            return LF_ESYNTAX;
        j->s++;
        skip_ws(j);
    }
}

static int scan_value(struct json_scan *j)
{
    if (j->s == j->end)
        return LF_ESYNTAX;
    switch (*j->s) {
    case '{':
        return scan_container(j, '}');
    case '[':
        return scan_container(j, ']');
    case '"':
        return scan_string(j);
    case 't':
    case 'f':
    case 'n': {
        static const char *const words[] = {"true", "false", "null"};
        for (size_t i = 0; i < 3; i++) {
            size_t n = strlen(words[i]);
            if ((size_t)(j->end - j->s) >= n && memcmp(j->s, words[i], n) == 0) {
                j->s += n;
                return 0;
            }
        }
        return LF_ESYNTAX;
    }
    default: {
        const char *start = j->s;
        while (j->s < j->end && strchr("0123456789+-.eE", *j->s) && *j->s)
            j->s++;
        return start < j->s && lf_json_number_form(start, (size_t)(j->s - start))
                   ? 0
                   : LF_ESYNTAX;
    }
    }
}

int lf_json_check_object(const char *s, size_t n, struct lf_json_object_info *info)
{
    struct lf_json_object_info ignored;
    struct json_scan j = {.s = s, .end = s + n, .info = info ? info : &ignored};
    *j.info = (struct lf_json_object_info){0};
    skip_ws(&j);
    if (j.s == j.end || *j.s != '{')
        return LF_ESYNTAX;
    int rc = scan_container(&j, '}');
    if (rc)
        return rc;
    skip_ws(&j);
    return j.s == j.end ? 0 : LF_ESYNTAX;
}

int lf_json_compact(struct lf_buf *b, const char *s, size_t n)
{
    bool in_string = false;
    const char *run = s;
    for (const char *p = s; p < s + n; p++) {
        if (in_string) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                in_string = false;
        } else if (*p == '"') {
            in_string = true;
        } else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            if (p > run && lf_buf_append(b, run, (size_t)(p - run)))
                return LF_ENOMEM;
            run = p + 1;
        }
    }
    return s + n > run ? lf_buf_append(b, run, (size_t)(s + n - run)) : 0;
}
