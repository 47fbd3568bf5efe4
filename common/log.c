/*
 * log.c - one line per message on stderr, with a UTC timestamp, the level and
 * the component, so that an operator can grep a journal at three in the
 * morning. One write() per line keeps lines whole when threads log at once.
 */
#define _POSIX_C_SOURCE 200809L
#include "lf.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum lf_log_level max_level = LF_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void lf_log_set_level(enum lf_log_level level)
{
    max_level = level;
}

int lf_log_parse_level(const char *name, enum lf_log_level *level)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *level = (enum lf_log_level)i;
            return 0;
        }
    }
    return LF_EINVAL;
}

void lf_log(enum lf_log_level level, const char *component, const char *fmt, ...)
{
    if (level > max_level)
        return;

    char line[2048];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    int n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     now.tv_nsec / 1000000, level_names[level], component);
    if (n < 0)
        return;

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2; /* cut an overlong message rather than lose it */
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere left to report a failing stderr */
}
