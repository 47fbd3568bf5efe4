/*
 * fuzz_index_pattern.c - index patterns and prefixes from any bytes: the
 * input is "pattern\nprefix\n" then 8-byte timestamps. A compiled pattern must
 * only ever produce names Elasticsearch accepts, the same name with and
 * without its cache, and wildcards that hold no forbidden character.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "es_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Independent of es_index.c's own check, on purpose. */
static void check_name(const char *s, size_t n, int wildcard)
{
    if (n == 0 || n > 255 || strlen(s) != n || !lf_utf8_valid(s, n))
        abort();
    if (s[0] == '-' || s[0] == '_' || s[0] == '+' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        abort();
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || c < 0x20 || c == 0x7f || (c == '*' && !wildcard) ||
            strchr("\\/?\"<>| ,#:", c))
            abort();
    }
}

static char *take_line(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = (size_t)((nl ? nl : end) - *p);
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, *p, n);
    s[n] = '\0'; /* an embedded NUL just ends the string early */
    *p = nl ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int tz_set;
    if (!tz_set) { /* a zone with DST, so local names cross transitions */
        setenv("TZ", "EST5EDT,M3.2.0,M11.1.0", 1);
        tzset();
        lf_log_set_level(LF_LOG_ERROR); /* invalid names are the common case here */
        tz_set = 1;
    }
    const uint8_t *p = data, *end = data + size;
    char *pattern = take_line(&p, end);
    char *prefix = take_line(&p, end);
    char err[256];
    struct lf_es_index_pattern *pat = lf_es_index_pattern_compile(pattern, err, sizeof(err));
    if (!pat) {
        if (strlen(err) == 0)
            abort(); /* a refusal always says why */
        free(pattern);
        free(prefix);
        return 0;
    }
    int64_t times[16] = {
        0,         -1,       1795305599999LL, 1798761600000LL, -62135596800000LL, 253402300799999LL,
        INT64_MIN, INT64_MAX};
    size_t ntimes = 8;
    while (end - p >= 8 && ntimes < 16) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | p[i];
        p += 8;
        times[ntimes++] = (int64_t)v;
        /* and a time near it, inside the usual range */
        if (ntimes < 16)
            times[ntimes++] = (int64_t)(v % 4102444800000ULL);
    }
    char out[300], again[300];
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < ntimes; i++) {
            for (int local = 0; local < 2; local++) {
                size_t n = lf_es_index_format(pat, out, sizeof(out), prefix, times[i], local);
                if (n)
                    check_name(out, n, 0);
                /* a fresh pattern has an empty cache: same answer */
                struct lf_es_index_pattern *fresh = lf_es_index_pattern_compile(pattern, NULL, 0);
                if (!fresh)
                    abort();
                size_t m = lf_es_index_format(fresh, again, sizeof(again), prefix, times[i], local);
                if (m != n || (n && strcmp(out, again) != 0))
                    abort();
                lf_es_index_pattern_free(fresh);
            }
        }
    }
    size_t n = lf_es_index_wildcard(pat, out, sizeof(out), prefix);
    if (n)
        check_name(out, n, 1);
    if (!lf_es_index_pattern_uses_time(pat) && n) {
        /* without time, the wildcard is the name itself */
        size_t m = lf_es_index_format(pat, again, sizeof(again), prefix, 0, false);
        if (m != n || strcmp(out, again) != 0)
            abort();
    }
    lf_es_index_pattern_free(pat);
    free(pattern);
    free(prefix);
    return 0;
}
