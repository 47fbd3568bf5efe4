/*
 * journald_map.c - a journal entry's fields to an event (see journald_int.h).
 *
 * Names follow the rest of the agent: what the syslog grammar and the omprog
 * input (rsyslog's properties) set for the same facts, so that an sshd
 * message gives the same document whether it was tailed from auth.log,
 * handed over by rsyslog, or read from the journal: process.name and
 * process.pid, host.hostname for the host the entry names (host.name stays
 * the agent's), log.syslog.severity.* from PRIORITY, log.syslog.facility.*
 * and log.syslog.priority (ECS: facility * 8 + severity) when the entry has
 * a SYSLOG_FACILITY, and event.created as omprog sets it from rsyslog's
 * reception time. The journal's own (systemd.unit, systemd.transport) are
 * named as Filebeat's journald input names them.
 */
#include "journald_int.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    size_t len;
} field_names[LF_JF_COUNT] = {
#define N(s)                                                                                       \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
    [LF_JF_MESSAGE] = N("MESSAGE"),
    [LF_JF_PRIORITY] = N("PRIORITY"),
    [LF_JF_FACILITY] = N("SYSLOG_FACILITY"),
    [LF_JF_IDENTIFIER] = N("SYSLOG_IDENTIFIER"),
    [LF_JF_COMM] = N("_COMM"),
    [LF_JF_PID] = N("_PID"),
    [LF_JF_SYSLOG_PID] = N("SYSLOG_PID"),
    [LF_JF_UNIT] = N("_SYSTEMD_UNIT"),
    [LF_JF_USER_UNIT] = N("_SYSTEMD_USER_UNIT"),
    [LF_JF_TRANSPORT] = N("_TRANSPORT"),
    [LF_JF_HOSTNAME] = N("_HOSTNAME"),
    [LF_JF_SOURCE_TS] = N("_SOURCE_REALTIME_TIMESTAMP"),
#undef N
};

/* syslog(3)'s severities and facilities, named as rsyslog's
 * syslogseverity-text and syslogfacility-text are (omprog's fields). */
static const char *const severities[8] = {"emerg",   "alert",  "crit", "err",
                                          "warning", "notice", "info", "debug"};
static const char *const facilities[24] = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog", "lpr",    "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "audit",  "alert",  "clock",
    "local0", "local1", "local2",   "local3", "local4", "local5", "local6", "local7"};

int lf_journald_field_of(const char *data, size_t len, size_t *value_at)
{
    const char *eq = memchr(data, '=', len);
    if (!eq)
        return -1;
    size_t n = (size_t)(eq - data);
    for (int i = 0; i < LF_JF_COUNT; i++) {
        if (field_names[i].len == n && memcmp(field_names[i].name, data, n) == 0) {
            *value_at = n + 1;
            return i;
        }
    }
    return -1;
}

/* A decimal number of at most 18 digits (no sign, no spaces), or -1. */
static int64_t number(const struct lf_journald_entry *e, int f)
{
    const char *s = e->v[f];
    size_t n = e->n[f];
    if (!s || n == 0 || n > 18)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool has(const struct lf_journald_entry *e, int f)
{
    return e->v[f] && e->n[f] > 0;
}

/* Replaces whatever the grammar put at path. */
static int put_string(struct lf_event *ev, const char *path, const char *s, size_t n)
{
    lf_event_remove(ev, path, strlen(path));
    return lf_event_add_string(ev, path, s, n);
}

static int put_int(struct lf_event *ev, const char *path, int64_t v)
{
    size_t plen = strlen(path);
    lf_event_remove(ev, path, plen);
    struct lf_field f = {.path = path, .path_len = (uint32_t)plen, .type = LF_VAL_INT};
    f.v.i = v;
    return lf_event_add(ev, &f);
}

static int add_severity(const struct lf_journald_entry *e, struct lf_event *ev)
{
    int64_t sev = number(e, LF_JF_PRIORITY);
    int rc = 0;
    if (sev >= 0 && sev <= 7) {
        rc = put_int(ev, "log.syslog.severity.code", sev);
        if (!rc)
            rc = put_string(ev, "log.syslog.severity.name", severities[sev],
                            strlen(severities[sev]));
    }
    int64_t fac = number(e, LF_JF_FACILITY);
    if (!rc && fac >= 0 && fac < 24) {
        rc = put_int(ev, "log.syslog.facility.code", fac);
        if (!rc)
            rc = put_string(ev, "log.syslog.facility.name", facilities[fac],
                            strlen(facilities[fac]));
        if (!rc && sev >= 0 && sev <= 7)
            rc = put_int(ev, "log.syslog.priority", fac * 8 + sev);
    }
    return rc;
}

static int add_process(const struct lf_journald_entry *e, struct lf_event *ev)
{
    int64_t pid = number(e, LF_JF_PID);
    if (pid < 0)
        pid = number(e, LF_JF_SYSLOG_PID);
    int rc = pid >= 0 ? put_int(ev, "process.pid", pid) : 0;
    int name = has(e, LF_JF_IDENTIFIER) ? LF_JF_IDENTIFIER : has(e, LF_JF_COMM) ? LF_JF_COMM : -1;
    if (!rc && name >= 0)
        rc = put_string(ev, "process.name", e->v[name], e->n[name]);
    return rc;
}

/* The journal's fields that are copied as they are. */
static const struct {
    int field;
    const char *path;
} plain[] = {
    {LF_JF_UNIT, "systemd.unit"},
    {LF_JF_USER_UNIT, "systemd.user_unit"},
    {LF_JF_TRANSPORT, "systemd.transport"},
    {LF_JF_HOSTNAME, "host.hostname"},
};

int lf_journald_event(const struct lf_journald_entry *e, struct lf_parser *parser,
                      struct lf_event *ev, int64_t *ts_ms, struct lf_input_counters *c)
{
    int name = has(e, LF_JF_IDENTIFIER) ? LF_JF_IDENTIFIER : has(e, LF_JF_COMM) ? LF_JF_COMM : -1;
    const char *msg = e->v[LF_JF_MESSAGE] ? e->v[LF_JF_MESSAGE] : "";
    int64_t parsed_ts;
    int rc =
        lf_parser_parse_message(parser, name >= 0 ? e->v[name] : NULL, name >= 0 ? e->n[name] : 0,
                                msg, e->n[LF_JF_MESSAGE], e->cut, ev, &parsed_ts, c);
    if (!rc)
        rc = add_severity(e, ev);
    if (!rc)
        rc = add_process(e, ev);
    for (size_t i = 0; !rc && i < sizeof(plain) / sizeof(plain[0]); i++)
        if (has(e, plain[i].field))
            rc = put_string(ev, plain[i].path, e->v[plain[i].field], e->n[plain[i].field]);
    if (rc)
        return rc;
    /* event.created: when journald took the entry, to the millisecond. */
    struct lf_ts_cache cache;
    lf_ts_cache_init(&cache);
    char text[LF_TS_TEXT_LEN];
    size_t n = lf_ts_format(&cache, (int64_t)(e->realtime_us / 1000), text);
    lf_event_remove(ev, "event.created", 13);
    rc = lf_event_add_copy(ev, "event.created", text, n);
    /* The time the program gave, if any (syslog(3) and sd_journal_print
     * do), else journald's; a time in the message is not used. */
    int64_t src = number(e, LF_JF_SOURCE_TS);
    *ts_ms = src > 0 ? src / 1000 : (int64_t)(e->realtime_us / 1000);
    return rc;
}

/* FNV-1a, 64 bits, from a given basis. */
static uint64_t fnv(const char *s, uint64_t h)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* splitmix64's finaliser: every bit of the input reaches every bit. */
static uint64_t mix(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void lf_journald_doc_source(const char *cursor, char source[LF_JOURNALD_SOURCE_LEN],
                            uint64_t *position)
{
    uint64_t a = mix(fnv(cursor, 0xcbf29ce484222325ULL));
    uint64_t b = mix(fnv(cursor, 0x84222325cbf29ce4ULL) ^ a);
    snprintf(source, LF_JOURNALD_SOURCE_LEN, "journald:%016llx", (unsigned long long)a);
    *position = b;
}

void lf_journald_cursor_name(const char *directory, char *out, size_t outlen)
{
    snprintf(out, outlen, "journald:%s", directory ? directory : "system");
}
