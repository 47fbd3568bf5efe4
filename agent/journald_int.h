/*
 * journald_int.h - what the journald input (in_journald.c, on libsystemd's
 * sd-journal) makes of one journal entry: the fields it reads, the event
 * they become, and the document id (journald_map.c, which needs no
 * journal, so that unit tests run anywhere). Private to agent/.
 */
#ifndef LF_AGENT_JOURNALD_INT_H
#define LF_AGENT_JOURNALD_INT_H

#include "input.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The journal fields an event is made of (systemd.journal-fields(7)). */
enum lf_journald_field {
    LF_JF_MESSAGE,
    LF_JF_PRIORITY,
    LF_JF_FACILITY,   /* SYSLOG_FACILITY */
    LF_JF_IDENTIFIER, /* SYSLOG_IDENTIFIER */
    LF_JF_COMM,       /* _COMM */
    LF_JF_PID,        /* _PID */
    LF_JF_SYSLOG_PID, /* SYSLOG_PID */
    LF_JF_UNIT,       /* _SYSTEMD_UNIT */
    LF_JF_USER_UNIT,  /* _SYSTEMD_USER_UNIT */
    LF_JF_TRANSPORT,  /* _TRANSPORT */
    LF_JF_HOSTNAME,   /* _HOSTNAME */
    LF_JF_SOURCE_TS,  /* _SOURCE_REALTIME_TIMESTAMP */
    LF_JF_COUNT
};

/* One entry's fields, pointing at copies the input owns (a journal's data
 * pointers last only until its next call). */
struct lf_journald_entry {
    const char *v[LF_JF_COUNT]; /* NULL: the entry has no such field */
    size_t n[LF_JF_COUNT];
    uint64_t realtime_us; /* __REALTIME_TIMESTAMP: when journald took it */
    bool cut;             /* MESSAGE was longer than max_line and was cut */
};

/*
 * Which field a journal data item ("FIELD=value", len bytes) is: returns
 * its lf_journald_field with *value_at the offset of the value, or -1 for a
 * field the input does not use.
 */
int lf_journald_field_of(const char *data, size_t len, size_t *value_at);

/*
 * Fills ev from the entry: MESSAGE through the parser (the grammar of the
 * entry's program with the built-in syslog grammar, see
 * lf_parser_parse_message), then message, log.syslog.severity.code/.name,
 * log.syslog.facility.code/.name and log.syslog.priority (facility * 8 +
 * severity, when the entry has a facility), process.pid (_PID, else
 * SYSLOG_PID), process.name (SYSLOG_IDENTIFIER, else _COMM), systemd.unit,
 * systemd.user_unit, systemd.transport, host.hostname (_HOSTNAME) and
 * event.created (__REALTIME_TIMESTAMP); the journal's fields replace what
 * the grammar captured under the same names. *ts_ms gets the event time:
 * _SOURCE_REALTIME_TIMESTAMP, else __REALTIME_TIMESTAMP. Returns 0 or
 * LF_ENOMEM / LF_ELIMIT (too many fields).
 */
int lf_journald_event(const struct lf_journald_entry *e, struct lf_parser *parser,
                      struct lf_event *ev, int64_t *ts_ms, struct lf_input_counters *c);

/*
 * The document id's parts for the entry with this cursor: the source
 * ("journald:" and 16 hex digits, into a buffer of at least
 * LF_JOURNALD_SOURCE_LEN) and the position, both hashes of the cursor, which
 * names one entry of one journal the same way every time it is read: an
 * entry read again after a crash gets the _id it had.
 */
#define LF_JOURNALD_SOURCE_LEN 32
void lf_journald_doc_source(const char *cursor, char source[LF_JOURNALD_SOURCE_LEN],
                            uint64_t *position);

/* The registry's name for the cursor of the journal of `directory` (NULL:
 * the system journal): "journald:system" or "journald:<directory>". */
void lf_journald_cursor_name(const char *directory, char *out, size_t outlen);

#endif
