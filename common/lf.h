/*
 * lf.h - the small shared pieces every part of logferry uses: one error enum,
 * the logger, a growable byte buffer with a hard cap, the JSON string writer
 * that turns arbitrary bytes into safe JSON, and the event (a flat list of
 * dotted fields that is written out as nested JSON).
 *
 * This is the only header of common/ that other directories include.
 */
#ifndef LF_H
#define LF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LF_VERSION "0.1.0"

/* ---- errors ------------------------------------------------------------ */

/* Functions return 0 or one of these (negative); never 1 for success. */
enum lf_err {
    LF_OK = 0,
    LF_ENOMEM = -1,   /* an allocation failed */
    LF_EINVAL = -2,   /* bad argument or input */
    LF_EIO = -3,      /* a read or write failed; errno tells more */
    LF_ENOENT = -4,   /* no such file, pattern or field */
    LF_ELIMIT = -5,   /* a configured cap was reached */
    LF_ESYNTAX = -6,  /* malformed expression, pattern file or document */
    LF_ECYCLE = -7,   /* a pattern refers to itself */
    LF_ENOMATCH = -8, /* no expression matched */
    LF_ECONFLICT = -9 /* a field is both a value and an object */
};

/* Returns a static, human readable description of an lf_err value. */
const char *lf_strerror(int err);

/* ---- logging ----------------------------------------------------------- */

enum lf_log_level { LF_LOG_ERROR, LF_LOG_WARN, LF_LOG_INFO, LF_LOG_DEBUG };

/* Sets the most verbose level that is printed (default LF_LOG_INFO). */
void lf_log_set_level(enum lf_log_level level);
/* Parses "error", "warn", "info" or "debug"; returns 0 or LF_EINVAL. */
int lf_log_parse_level(const char *name, enum lf_log_level *level);
/*
 * Looks at JOURNAL_STREAM: when it names stderr's device and inode, stderr is
 * connected to the systemd journal, and lines are then written as
 * "<N>level component: message" (N the syslog priority, which the journal
 * stores) without a timestamp of our own (the journal has one). Returns
 * whether that is the case. Called once by main() before any thread starts;
 * again after stderr was replaced.
 */
bool lf_log_detect_journal(void);
/* Writes one line to stderr: time (or <priority> for the journal), level,
 * component, message. */
void lf_log(enum lf_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Writes text that came from outside (a server's answer, a reason it gave)
 * into out so that it is safe in one log line: printable ASCII as it is,
 * backslash, newline, tab and carriage return as \\, \n, \t, \r, every other
 * byte as \xNN; cut to fit outlen (always NUL-terminated), with "..." and
 * the full length when cut. Returns out.
 */
const char *lf_log_quote(const char *text, size_t len, char *out, size_t outlen);

/* ---- growable buffer --------------------------------------------------- */

/*
 * A byte buffer that grows on demand up to `max` bytes and never beyond, so
 * that hostile input cannot make memory grow without bound. `data` is always
 * NUL-terminated after a successful append (the terminator is not counted).
 */
struct lf_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void lf_buf_init(struct lf_buf *b, size_t max);
/* Frees the storage; the buffer may be initialised again afterwards. */
void lf_buf_free(struct lf_buf *b);
/* Makes room for `extra` more bytes. Returns 0, LF_ELIMIT past `max` or
 * LF_ENOMEM; on failure the content is unchanged. */
int lf_buf_grow(struct lf_buf *b, size_t extra);
int lf_buf_append(struct lf_buf *b, const void *p, size_t n);
int lf_buf_puts(struct lf_buf *b, const char *s);
int lf_buf_printf(struct lf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void lf_buf_reset(struct lf_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static inline int lf_buf_putc(struct lf_buf *b, char c)
{
    if (b->cap - b->len < 2) {
        int rc = lf_buf_grow(b, 1);
        if (rc)
            return rc;
    }
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
    return 0;
}

/* ---- JSON -------------------------------------------------------------- */

/*
 * Appends `s` (n bytes, any content) as a quoted JSON string. Valid UTF-8 is
 * copied; control characters, quote and backslash are escaped; every byte that
 * is not part of a well-formed UTF-8 sequence is taken as Latin-1 and written
 * as that code point, so no input can end the string, break the line or make
 * the document invalid, and legacy Latin-1 logs still read right.
 */
int lf_json_write_string(struct lf_buf *b, const char *s, size_t n);

/* Returns 1 if s[0..n) is well-formed UTF-8 (no overlongs, surrogates or
 * values past U+10FFFF), else 0. Fast on ASCII. */
int lf_utf8_valid(const char *s, size_t n);

/* Writes code point cp (at most U+10FFFF, not a surrogate) as UTF-8 at d,
 * which has room for 4 bytes; returns the bytes written. */
size_t lf_utf8_put(char *d, unsigned cp);

/* Appends a finite double in the shortest form that reads back the same,
 * always with a '.' or an exponent so Elasticsearch maps it as a float. A
 * non-finite value is written as null. */
int lf_json_write_double(struct lf_buf *b, double v);

/*
 * Checks whether s[0..n) is a number in JSON's grammar. Returns 0 if not,
 * 1 for an integer form ("42", "-7"), 2 for a form with a fraction or an
 * exponent ("0.14", "1e5").
 */
int lf_json_number_form(const char *s, size_t n);

/* Nesting deeper than this is refused by lf_json_check_object. */
#define LF_JSON_MAX_DEPTH 64

struct lf_json_object_info {
    const char *timestamp; /* the top-level "@timestamp" string's text, or NULL */
    size_t timestamp_len;  /* (as written, escapes included) */
    bool multiline;        /* whitespace between tokens holds CR or LF */
};

/*
 * Checks that s[0..n) is exactly one JSON object (RFC 8259: strings with
 * valid escapes and well-formed UTF-8, numbers, literals, nesting up to
 * LF_JSON_MAX_DEPTH), for documents that come from elsewhere (Kafka) and go
 * into a _bulk body. Returns 0 and fills info (may be NULL), LF_ESYNTAX, or
 * LF_ELIMIT when nested too deep. A document that is multiline must be
 * compacted before it goes on one NDJSON line.
 */
int lf_json_check_object(const char *s, size_t n, struct lf_json_object_info *info);
/* Appends valid JSON text without the whitespace between tokens. */
int lf_json_compact(struct lf_buf *b, const char *s, size_t n);

/* ---- descriptors ------------------------------------------------------- */

/* mkdir -p with `mode` for what it creates, so a fresh host needs no setup.
 * Returns 0, or LF_EIO with errno set and the path that failed in `failed`. */
int lf_mkdir_p(const char *dir, unsigned mode, char *failed, size_t failed_len);

/* For a daemon's loop: blocks SIGTERM, SIGINT and SIGHUP (call it before
 * any thread starts, so threads inherit the mask and the signals reach only
 * the descriptor), ignores SIGPIPE, and returns a non-blocking signalfd for
 * the three, or -1 with errno set. */
int lf_signalfd_open(void);

/* For a daemon: keeps buffers of up to 32 MiB in the heap (glibc), so that
 * batches, request bodies and librdkafka's fetch buffers, allocated and
 * freed all the time, are reused instead of page-faulting in from a fresh
 * mmap each time; up to 64 MiB freed stays resident. */
void lf_malloc_keep_buffers(void);

/* Writes all len bytes to fd, through short writes, EINTR and (waiting in
 * poll) EAGAIN. Returns 0 or LF_EIO with errno set (EPIPE: the reader left). */
int lf_write_all(int fd, const void *buf, size_t len);

/* ---- reading lines ----------------------------------------------------- */

/*
 * Reads newline-terminated lines from a file descriptor with bounded memory.
 * A line longer than max_line is returned cut to max_line bytes with *cut
 * set, and the rest of it, up to its newline, is skipped. A last line without
 * a newline is returned at end of file.
 */
struct lf_line_reader {
    int fd;
    char *buf;
    size_t cap, start, end, scanned;
    size_t max_line;
    int eof;
    int skipping; /* inside the rest of a line that was cut */
};

/* Returns 0 or LF_ENOMEM. */
int lf_line_reader_init(struct lf_line_reader *r, int fd, size_t max_line);
void lf_line_reader_free(struct lf_line_reader *r);
/* Returns 1 with the next line (without its newline; valid until the next
 * call), 0 at end of input, or LF_EIO (errno set). */
int lf_line_reader_next(struct lf_line_reader *r, const char **line, size_t *len, int *cut);

/* ---- clocks ------------------------------------------------------------ */

/* Monotonic and wall clocks in ms. */
int64_t lf_now_mono_ms(void);
int64_t lf_now_wall_ms(void);
/* Wall time to a few milliseconds, for a fraction of the cost: enough to
 * infer a year, not for an event time. */
int64_t lf_now_wall_coarse_ms(void);

/* RFC 3339 UTC text of a time in ms ("2026-11-21T17:02:01.123Z"), for
 * @timestamp; a cache per caller makes it cheap for times close together. */
#define LF_TS_TEXT_LEN 25
struct lf_ts_cache {
    int64_t s, day; /* the second and day ts_cached is for */
    char ts_cached[20];
};
/* Sets the cache empty. */
void lf_ts_cache_init(struct lf_ts_cache *c);
/* Writes the text and its NUL into out; returns its length (24). */
size_t lf_ts_format(struct lf_ts_cache *c, int64_t ms, char out[LF_TS_TEXT_LEN]);

/* ---- acknowledgement queue --------------------------------------------- */

/*
 * Positions of one source (a file's offsets, an omprog stream's message
 * numbers) waiting for the output to say their events are safe. Outputs may
 * acknowledge out of order (a retried bulk item); the source may only
 * advance to the end of the longest acknowledged prefix, which is what
 * lf_ackq_committed() returns.
 *
 * The ring costs memory only while entries are pending: it is allocated at
 * the first push (LF_ACKQ_MIN_SLOTS), doubles as needed up to the cap given
 * at init, and halves again as it drains (down to LF_ACKQ_KEEP_SLOTS, kept so
 * that a steadily busy source does not allocate on every burst; the owner
 * frees it all with lf_ackq_trim() once nothing is pending). The cap is the
 * back-pressure: a push at the cap fails, and the source stops reading.
 */
#define LF_ACKQ_MIN_SLOTS 64
#define LF_ACKQ_KEEP_SLOTS 4096
struct lf_ackq {
    uint64_t *pos; /* position reached once entry i's event is safe */
    uint8_t *done; /* in the same allocation as pos */
    size_t cap;    /* most entries pending at once */
    size_t size;   /* slots allocated (0: none) */
    size_t head, count;
    uint64_t first_seq; /* sequence number of the entry at head */
    uint64_t committed; /* position of the last entry of the acked prefix */
};

/* Sets up an empty queue that holds at most `cap` pending entries (0 means
 * 1); `start` is the position already safe. Allocates nothing: returns 0
 * (LF_ENOMEM is kept for callers written when it preallocated). */
int lf_ackq_init(struct lf_ackq *q, size_t cap, uint64_t start);
/* Frees the ring; the queue must be initialised again before use. */
void lf_ackq_free(struct lf_ackq *q);
/* Frees the ring if nothing is pending; the queue stays usable (the next
 * push allocates again) and keeps its committed position and sequence. */
void lf_ackq_trim(struct lf_ackq *q);
/* Records a pending event that, once safe, makes `pos` safe. Returns 0 with
 * its sequence number in *seq; LF_ELIMIT when `cap` entries are pending;
 * LF_ENOMEM when the ring could not grow (nothing changed either way). */
int lf_ackq_push(struct lf_ackq *q, uint64_t pos, uint64_t *seq);
/* Takes back the last push, for an event that was not sent after all (the
 * pipeline refused it); does nothing when the queue is empty. */
void lf_ackq_unpush(struct lf_ackq *q);
/* Marks one event safe. Unknown or repeated sequence numbers are ignored. */
void lf_ackq_ack(struct lf_ackq *q, uint64_t seq);
/* Bytes the ring holds now. */
static inline size_t lf_ackq_bytes(const struct lf_ackq *q)
{
    return q->size * (sizeof(*q->pos) + sizeof(*q->done));
}
static inline uint64_t lf_ackq_committed(const struct lf_ackq *q)
{
    return q->committed;
}
static inline size_t lf_ackq_pending(const struct lf_ackq *q)
{
    return q->count;
}

/* ---- events ------------------------------------------------------------ */

enum lf_value_type {
    LF_VAL_STRING, /* str/len, any bytes */
    LF_VAL_INT,    /* i */
    LF_VAL_FLOAT,  /* f */
    LF_VAL_NUMBER, /* str/len already holds a valid JSON number */
    LF_VAL_BOOL,   /* i: 0 or 1 */
    LF_VAL_JSON    /* str/len already holds valid compact JSON (an array, {}, null) */
};

/* Set on a field whose value is always written as a JSON array. */
#define LF_FIELD_LIST 0x1
/* Set on a string field whose text never changes while its pointer stays
 * the same (host.name, agent.version): layouts write it once into their
 * skeleton (see lf_event_cache_layouts). */
#define LF_FIELD_CONST 0x2

/*
 * One field: a dotted path ("host.name" nests as {"host":{"name":...}}) and a
 * typed value. Paths and strings are borrowed: they must outlive the event's
 * use (grok fields point into the line and into the compiled expression).
 */
struct lf_field {
    const char *path;
    uint32_t path_len;
    uint8_t type;
    uint8_t flags;
    const char *str;
    size_t len;
    union {
        int64_t i;
        double f;
    } v;
};

#define LF_EVENT_MAX_FIELDS 4096
#define LF_EVENT_ARENA 1024
/* Layout slots: 2-way sets picked by a hash of the set of fields, enough for
 * the few dozen message shapes of a syslog file parsed by program. */
#define LF_EVENT_LAYOUTS 128

struct lf_event_layout;

/*
 * An event under construction. Fields may be added in any order; fields that
 * share a path become a JSON array, in the order they were added. Adding is
 * cheap; nesting and ordering are worked out when the event is written.
 */
struct lf_event {
    struct lf_field *fields;
    size_t nfields;
    size_t cap;
    uint32_t *order;    /* scratch for writing; sized with fields */
    unsigned conflicts; /* values dropped because the path was also an object */
    size_t arena_used;
    char arena[LF_EVENT_ARENA]; /* strings the event owns (formatted times) */
    /* Rendered key skeletons of recent field sets (lf_event_cache_layouts). */
    bool stable_paths;
    unsigned layout_hit;
    struct lf_event_layout *layouts[LF_EVENT_LAYOUTS];
};

void lf_event_init(struct lf_event *ev);
void lf_event_free(struct lf_event *ev);
/*
 * Lets lf_event_write_json() remember, for the last few sets of fields, the
 * JSON around the values (keys, braces, commas), recognising a set by the
 * path pointers, lengths and flags of its fields in the order they were
 * added: an input that builds every event the same way then writes only its
 * values. The caller promises that, while the event lives, a path pointer it
 * adds never points at different text (string literals, names owned by a
 * compiled grammar); paths built in a reused buffer break that promise.
 */
static inline void lf_event_cache_layouts(struct lf_event *ev)
{
    ev->stable_paths = true;
}
static inline void lf_event_clear(struct lf_event *ev)
{
    ev->nfields = 0;
    ev->conflicts = 0;
    ev->arena_used = 0;
}
/* Makes room for n more fields, so that a producer can fill
 * ev->fields[ev->nfields..] in place; returns 0, LF_ENOMEM or LF_ELIMIT. */
int lf_event_reserve(struct lf_event *ev, size_t n);
/* Appends a field; returns 0, LF_ENOMEM or LF_ELIMIT (too many fields). */
int lf_event_add(struct lf_event *ev, const struct lf_field *f);
int lf_event_add_string(struct lf_event *ev, const char *path, const char *s, size_t n);
/* Appends n fields at once; returns 0, LF_ENOMEM or LF_ELIMIT (nothing added). */
int lf_event_add_fields(struct lf_event *ev, const struct lf_field *f, size_t n);
/* Copies s into the event's own storage (valid until lf_event_clear) and
 * adds it as a string field; LF_ELIMIT when that storage is full. */
int lf_event_add_copy(struct lf_event *ev, const char *path, const char *s, size_t n);
/* Appends `tag` to the "tags" list. */
int lf_event_add_tag(struct lf_event *ev, const char *tag);
/* Returns the first field with this path, or NULL. */
const struct lf_field *lf_event_get(const struct lf_event *ev, const char *path, size_t path_len);
/* Removes every field with this path; returns how many were removed. */
size_t lf_event_remove(struct lf_event *ev, const char *path, size_t path_len);

/*
 * Appends the event as one JSON object (no newline). Keys are written in
 * path order, so output is deterministic. A value whose path is also the
 * prefix of another field's path (e.g. "host" and "host.name") cannot be
 * represented; it is left out and counted in ev->conflicts, and the tag
 * "_fieldconflict" is added. Returns 0, LF_ENOMEM or LF_ELIMIT.
 */
int lf_event_write_json(struct lf_event *ev, struct lf_buf *out);

/* Compares two dotted paths so that a path sorts right before its children
 * ("a" < "a.b" < "a-b"), which keeps every object's fields together. */
int lf_path_compare(const char *a, size_t alen, const char *b, size_t blen);

#endif
