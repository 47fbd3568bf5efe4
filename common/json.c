/*
 * json.c - writing JSON strings and numbers into an lf_buf.
 *
 * Log lines are data, never protocol: whatever bytes a line holds, the string
 * written here is valid JSON on one line. Runs of plain ASCII are copied in
 * one memcpy, which is what almost every log line is made of.
 */
#include "lf.h"

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

size_t lf_utf8_put(char *d, unsigned cp)
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

/* One pass, no recursion, the position in a register: the shipper checks
 * every Kafka message with this, and the recursive scanner it replaces,
 * which kept its position in a struct behind a pointer, was a fifth of the
 * shipper's CPU. Containers open are a bit stack (1: array), which the
 * depth cap keeps within 64 bits. */

/* The value of a hex digit, or 0xFF. */
/* clang-format off */
static const unsigned char hex_value[256] = {
#define X16 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF
    X16, X16, X16,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 10, 11, 12, 13, 14, 15, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    X16,
    0xFF, 10, 11, 12, 13, 14, 15, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    X16, X16, X16, X16, X16, X16, X16, X16, X16,
#undef X16
};
/* clang-format on */

/* Past the string whose opening quote is just before p: escapes valid, no
 * raw control byte, UTF-8 well formed. Returns the byte after the closing
 * quote, or NULL. */
static inline const unsigned char *skip_string(const unsigned char *p, const unsigned char *end)
{
    for (;;) {
        p += plain_run(p, 0, (size_t)(end - p));
        if (p == end)
            return NULL;
        unsigned char c = *p;
        if (c == '"')
            return p + 1;
        if (c == '\\') {
            if (end - p < 2)
                return NULL;
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                p += 2;
                break;
            case 'u':
                if (end - p < 6 ||
                    (hex_value[p[2]] | hex_value[p[3]] | hex_value[p[4]] | hex_value[p[5]]) == 0xFF)
                    return NULL;
                p += 6;
                break;
            default:
                return NULL;
            }
        } else if (c >= 0x80) {
            size_t len = utf8_sequence(p, (size_t)(end - p));
            if (!len)
                return NULL;
            p += len;
        } else {
            return NULL; /* a control character */
        }
    }
}

/* Past JSON whitespace; notes a CR or LF. */
#define SKIP_WS()                                                                                  \
    while (p < end && *p <= ' ') {                                                                 \
        if (*p == '\n' || *p == '\r')                                                              \
            multiline = true;                                                                      \
        else if (*p != ' ' && *p != '\t')                                                          \
            break;                                                                                 \
        p++;                                                                                       \
    }

#define IS_DIGIT(c) ((unsigned)(c) - '0' < 10u)

int lf_json_check_object(const char *s, size_t n, struct lf_json_object_info *info)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    const unsigned char *ts = NULL;
    size_t ts_len = 0;
    bool multiline = false;
    uint64_t arrays = 0; /* bit d: the container at depth d + 1 is an array */
    unsigned depth = 0;
    int rc = LF_ESYNTAX;

    if (info)
        *info = (struct lf_json_object_info){0};
    SKIP_WS();
    if (p == end || *p != '{')
        return LF_ESYNTAX;
    goto open_object;

value:
    SKIP_WS();
    if (p == end)
        goto out;
    switch (*p) {
    case '"':
        if (!(p = skip_string(p + 1, end)))
            goto out;
        goto after_value;
    case '{':
        goto open_object;
    case '[':
        if (depth == LF_JSON_MAX_DEPTH) {
            rc = LF_ELIMIT;
            goto out;
        }
        arrays |= 1ull << depth++;
        p++;
        SKIP_WS();
        if (p < end && *p == ']') {
            p++;
            depth--;
            goto after_value;
        }
        goto value;
    case 't':
        if (end - p < 4 || memcmp(p, "true", 4) != 0)
            goto out;
        p += 4;
        goto after_value;
    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5) != 0)
            goto out;
        p += 5;
        goto after_value;
    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4) != 0)
            goto out;
        p += 4;
        goto after_value;
    default:
        /* A number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
        if (*p == '-' && ++p == end)
            goto out;
        if (*p == '0')
            p++;
        else if (IS_DIGIT(*p))
            while (++p < end && IS_DIGIT(*p))
                ;
        else
            goto out;
        if (p < end && *p == '.') {
            if (++p == end || !IS_DIGIT(*p))
                goto out;
            while (++p < end && IS_DIGIT(*p))
                ;
        }
        if (p < end && (*p | 0x20) == 'e') {
            if (++p < end && (*p == '+' || *p == '-'))
                p++;
            if (p == end || !IS_DIGIT(*p))
                goto out;
            while (++p < end && IS_DIGIT(*p))
                ;
        }
        goto after_value;
    }

open_object:
    if (depth == LF_JSON_MAX_DEPTH) {
        rc = LF_ELIMIT;
        goto out;
    }
    arrays &= ~(1ull << depth++);
    p++;
    SKIP_WS();
    if (p < end && *p == '}') {
        p++;
        depth--;
        goto after_value;
    }
    /* fall through: a member */

member:
    if (p == end || *p != '"')
        goto out;
    {
        const unsigned char *key = p + 1;
        if (!(p = skip_string(key, end)))
            goto out;
        bool is_ts = depth == 1 && p - key == 11 && memcmp(key, "@timestamp", 10) == 0;
        SKIP_WS();
        if (p == end || *p != ':')
            goto out;
        p++;
        SKIP_WS();
        if (is_ts && p < end && *p == '"') {
            const unsigned char *v = p + 1;
            if (!(p = skip_string(v, end)))
                goto out;
            ts = v;
            ts_len = (size_t)(p - 1 - v);
            goto after_value;
        }
    }
    goto value;

after_value:
    if (depth == 0) {
        SKIP_WS();
        if (p != end)
            goto out;
        if (info)
            *info = (struct lf_json_object_info){
                .timestamp = (const char *)ts, .timestamp_len = ts_len, .multiline = multiline};
        return 0;
    }
    SKIP_WS();
    if (p == end)
        goto out;
    if (*p == ',') {
        p++;
        SKIP_WS();
        if (arrays >> (depth - 1) & 1)
            goto value;
        goto member;
    }
    if (*p != ((arrays >> (depth - 1) & 1) ? ']' : '}'))
        goto out;
    p++;
    depth--;
    goto after_value;

out:
    return rc;
}

#undef SKIP_WS
#undef IS_DIGIT

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
