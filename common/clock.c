/*
 * clock.c - monotonic and wall clocks in milliseconds.
 */
#define _POSIX_C_SOURCE 200809L
#include "lf.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

int64_t lf_now_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t lf_now_wall_coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t lf_now_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put2(char *at, int v)
{
    at[0] = (char)('0' + v / 10);
    at[1] = (char)('0' + v % 10);
}

/* "2026-11-21T17:02:01.123Z", the date part formatted once a second and
 * gmtime called once a day. Years outside 0..9999 (a garbled clock or
 * line) are clamped: RFC 3339 has four digits, and Elasticsearch's
 * strict_date_optional_time takes nothing else. */
size_t lf_ts_format(struct lf_ts_cache *c, int64_t ms, char out[LF_TS_TEXT_LEN])
{
    if (ms < -62167219200000LL) /* 0000-01-01 */
        ms = -62167219200000LL;
    if (ms > 253402300799999LL) /* 9999-12-31T23:59:59.999 */
        ms = 253402300799999LL;
    int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    if (s != c->s) {
        /* Same day: only the time of day changes (one line in a few). */
        int64_t day = s >= 0 ? s / 86400 : (s - 86399) / 86400;
        if (c->s == INT64_MIN || day != c->day) {
            time_t t = (time_t)s;
            struct tm tm;
            gmtime_r(&t, &tm);
            int y = tm.tm_year + 1900;
            put2(c->ts_cached, y / 100);
            put2(c->ts_cached + 2, y % 100);
            c->ts_cached[4] = '-';
            put2(c->ts_cached + 5, tm.tm_mon + 1);
            c->ts_cached[7] = '-';
            put2(c->ts_cached + 8, tm.tm_mday);
            c->ts_cached[10] = 'T';
            c->ts_cached[13] = c->ts_cached[16] = ':';
        }
        int sod = (int)(s - day * 86400);
        put2(c->ts_cached + 11, sod / 3600);
        put2(c->ts_cached + 14, sod / 60 % 60);
        put2(c->ts_cached + 17, sod % 60);
        c->s = s;
        c->day = day;
    }
    size_t n = 19;
    int frac = (int)(ms - s * 1000);
    memcpy(out, c->ts_cached, n);
    out[n++] = '.';
    out[n++] = (char)('0' + frac / 100);
    out[n++] = (char)('0' + frac / 10 % 10);
    out[n++] = (char)('0' + frac % 10);
    out[n++] = 'Z';
    out[n] = '\0';
    return n;
}


void lf_ts_cache_init(struct lf_ts_cache *c)
{
    c->s = INT64_MIN;
    c->day = 0;
}
