/*
 * log.c - one line per message on stderr, with a UTC timestamp, the level and
 * the component, so that an operator can grep a journal at three in the
 * morning. One write() per line keeps lines whole when threads log at once.
 * Under systemd, stderr is the journal: the timestamp gives way to a "<N>"
 * syslog priority prefix, which the journal parses (SyslogLevelPrefix=) and
 * stores as the entry's PRIORITY, so `journalctl -p warning` works.
 */
#define _POSIX_C_SOURCE 200809L
#include "lf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum lf_log_level max_level = LF_LOG_INFO;
static bool to_journal;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
/* syslog(3) priorities of the levels: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
static const int level_priorities[] = {3, 4, 6, 7};

bool lf_log_detect_journal(void)
{
    /* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected; a
     * child whose stderr was redirected elsewhere inherits the variable, so
     * the descriptor itself must match. */
    const char *v = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    char end;
    to_journal = v && sscanf(v, "%llu:%llu%c", &dev, &ino, &end) == 2 &&
                 fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
                 (unsigned long long)st.st_ino == ino;
    return to_journal;
}

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
    int n;
    if (to_journal) {
        n = snprintf(line, sizeof(line), "<%d>%s %s: ", level_priorities[level], level_names[level],
                     component);
    } else {
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     now.tv_nsec / 1000000, level_names[level], component);
    }
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

/* Writes the escaped form of c into esc; returns its length (1, 2 or 4). */
static size_t quote_byte(unsigned char c, char esc[4])
{
    static const char hex[] = "0123456789abcdef";
    if (c == '\\' || c == '\n' || c == '\t' || c == '\r') {
        esc[0] = '\\';
        esc[1] = c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
        return 2;
    }
    if (c >= 0x20 && c < 0x7f) {
        esc[0] = (char)c;
        return 1;
    }
    esc[0] = '\\';
    esc[1] = 'x';
    esc[2] = hex[c >> 4];
    esc[3] = hex[c & 15];
    return 4;
}

const char *lf_log_quote(const char *text, size_t len, char *out, size_t outlen)
{
    if (outlen == 0)
        return out;
    char esc[4];
    size_t whole = 0;
    for (size_t i = 0; i < len; i++)
        whole += quote_byte((unsigned char)text[i], esc);
    char cut[48] = "";
    size_t cut_len = 0;
    if (whole + 1 > outlen) {
        int t = snprintf(cut, sizeof(cut), "... (%zu bytes)", len);
        cut_len = t > 0 && (size_t)t + 1 <= outlen ? (size_t)t : 0;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        size_t n = quote_byte((unsigned char)text[i], esc);
        if (o + n + cut_len + 1 > outlen)
            break;
        memcpy(out + o, esc, n);
        o += n;
    }
    memcpy(out + o, cut, cut_len);
    out[o + cut_len] = '\0';
    return out;
}
