/*
 * spool.c - the on-disk spool (format and contracts in spool.h).
 *
 * Segments are append-only. The writer keeps one O_APPEND descriptor on the
 * last segment and writes each record with one writev(); a failed write is
 * cut back off with ftruncate, so the file always ends at a record boundary
 * unless the process died in the middle of a write, which the next open
 * repairs. The reader has its own descriptor on whatever segment it is in
 * and reads through one window buffer (the largest record bounds it).
 *
 * Ids are contiguous: a segment holds exactly the ids from its name up to
 * the next segment's name, so the reader knows how many records damage took
 * without trusting anything in the damaged bytes, and open only has to scan
 * the last segment to find where ids resume.
 *
 * Damage is found by checksums. A header has its own checksum, so a damaged
 * length is never followed; when a header is bad the reader scans forward
 * for the next header that checks out and whose id fits the sequence (at
 * most one new id per 25 bytes skipped), so bytes inside a payload that
 * happen to look like a header are not taken for one.
 */
#define _POSIX_C_SOURCE 200809L
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define COMPONENT "spool"
#define HDR_SIZE LF_SPOOL_RECORD_OVERHEAD
#define MIN_RECORD (HDR_SIZE + 1)
#define SEG_NAME_LEN 24 /* 20 digits and ".seg" */
#define ACK_NAME "ack"
#define ACK_TMP_NAME "ack.tmp"
#define LOCK_NAME "lock"
/* Drops are logged as one summary per interval. */
#define DROPS_REPORT_MS 10000
#define ACK_SAVE_MS 200
#define WINDOW 262144 /* bytes read at once */
#define DEFAULT_MAX_BYTES (1ull << 30)
#define DEFAULT_SEGMENT_BYTES (16ull << 20)

static const unsigned char magic[4] = {0x89, 'L', 'F', 0x01};

/* ---- CRC-32C, slicing by 8 ---------------------------------------------- */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (uint32_t i = 0; i < 256; i++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* Continues a CRC-32C: start with crc 0, feed the pieces in order. */
static uint32_t crc32c(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    crc = ~crc;
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t lo = crc ^ get32(p), hi = get32(p + 4);
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^
              crc_table[2][(hi >> 8) & 0xff] ^ crc_table[1][(hi >> 16) & 0xff] ^
              crc_table[0][hi >> 24];
    }
    while (n--)
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- records ------------------------------------------------------------ */

struct rec_hdr {
    uint32_t len;
    uint32_t crc;
    uint64_t id;
};

static void encode_header(unsigned char h[HDR_SIZE], const void *payload, uint32_t len, uint64_t id)
{
    memcpy(h, magic, 4);
    put32(h + 4, len);
    put64(h + 8, id);
    put32(h + 16, crc32c(crc32c(0, h + 4, 12), payload, len));
    put32(h + 20, crc32c(0, h, 20));
}

/* Whether h is a header we wrote: magic, its own checksum, a sane length. */
static bool decode_header(const unsigned char *h, struct rec_hdr *r)
{
    if (memcmp(h, magic, 4) != 0 || get32(h + 20) != crc32c(0, h, 20))
        return false;
    r->len = get32(h + 4);
    r->id = get64(h + 8);
    r->crc = get32(h + 16);
    return r->len >= 1 && r->len <= LF_SPOOL_MAX_RECORD && r->id != UINT64_MAX;
}

static bool payload_ok(const unsigned char *h, const unsigned char *payload, uint32_t len)
{
    return crc32c(crc32c(0, h + 4, 12), payload, len) == get32(h + 16);
}

/* ---- the handle --------------------------------------------------------- */

struct segment {
    uint64_t first;    /* id of its first record: its name */
    uint64_t size;     /* bytes of whole records in it */
    uint64_t readable; /* bytes committed: the reader stops there */
};

/* A place in the sequence of records. */
struct cursor {
    int fd;          /* on segs[seg]; -1 until needed */
    size_t seg;      /* index into segs */
    uint64_t off;    /* where the next record starts */
    uint64_t expect; /* the id that record should have */
};

/* Where reading resumes for the first unacknowledged record: at or before it. */
struct position {
    uint64_t seg_first, off, id;
};

struct lf_spool {
    char *dir;
    struct lf_spool_options opt;
    int dirfd, lockfd;
    int wfd; /* O_APPEND on the last segment; -1 when none or after a failed repair */
    struct segment *segs;
    size_t nsegs, segcap;
    uint64_t total;        /* bytes in all segments */
    uint64_t next_id;      /* id of the next append */
    uint64_t committed_id; /* records below are readable */
    bool wdirty;           /* wfd written since its last fsync */
    bool dir_dirty;        /* a segment was created since the last commit */
    bool sync_failed;      /* an fsync outside commit failed: commit reports it */

    uint64_t ack_id; /* first unacknowledged id */
    struct position ack_pos;
    bool ack_dirty;
    int64_t ack_saved_ms;

    struct cursor rd;
    uint64_t rid;          /* the smallest id read may hand out */
    uint64_t reported_id;  /* lost ids below this one were reported */
    uint64_t reported_seg; /* damage before (reported_seg, reported_off) was reported */
    uint64_t reported_off;

    unsigned char *buf; /* the read window */
    size_t bufcap;
    bool win_valid;
    uint64_t win_seg, win_off; /* segment first id and offset of buf[0] */
    size_t win_len;

    struct lf_spool_counters c;
    uint64_t drops_reported; /* c.dropped when last logged */
    int64_t drops_report_ms;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void seg_name(char out[SEG_NAME_LEN + 1], uint64_t first)
{
    snprintf(out, SEG_NAME_LEN + 1, "%020" PRIu64 ".seg", first);
}

/* Exactly 20 digits and ".seg", a value that fits 64 bits. */
static bool parse_seg_name(const char *name, uint64_t *first)
{
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        unsigned d = (unsigned)(unsigned char)name[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (strcmp(name + 20, ".seg") != 0)
        return false;
    *first = v;
    return true;
}

static void refresh_counters(struct lf_spool *s)
{
    s->c.bytes_on_disk = s->total;
    s->c.records_on_disk = s->nsegs ? s->next_id - s->segs[0].first : 0;
}

/* The id after the last record segs[k] may hold that is readable now. */
static uint64_t seg_end_id(const struct lf_spool *s, size_t k)
{
    uint64_t end = s->committed_id;
    if (k + 1 < s->nsegs && s->segs[k + 1].first < end)
        end = s->segs[k + 1].first;
    return end;
}

static int reserve(struct lf_spool *s, size_t n)
{
    if (n <= s->bufcap)
        return 0;
    /* Exact, not doubled: only a larger record than ever before grows it,
     * and a 64 MiB record must not cost 128. */
    size_t cap = n < WINDOW ? WINDOW : (n + 4095) & ~(size_t)4095;
    unsigned char *p = malloc(cap); /* the window is refilled after growing */
    if (!p)
        return LF_ENOMEM;
    free(s->buf);
    s->buf = p;
    s->bufcap = cap;
    s->win_valid = false;
    return 0;
}

/* pread until n bytes, end of file or an error: the count, or -1. */
static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/*
 * Points *out at n bytes at offset off of c's segment (off + n <= limit),
 * through the window. Returns 0, LF_ENOENT if the file ends before (it
 * shrank behind our back), LF_EIO (logged) or LF_ENOMEM.
 */
static int fetch(struct lf_spool *s, const struct cursor *c, uint64_t off, size_t n, uint64_t limit,
                 const unsigned char **out)
{
    uint64_t first = s->segs[c->seg].first;
    if (s->win_valid && s->win_seg == first && off >= s->win_off &&
        off + n <= s->win_off + s->win_len) {
        *out = s->buf + (off - s->win_off);
        return 0;
    }
    size_t want = n > WINDOW ? n : WINDOW;
    if (want > limit - off)
        want = (size_t)(limit - off);
    int rc = reserve(s, want);
    if (rc)
        return rc;
    s->win_valid = false;
    ssize_t got = pread_full(c->fd, s->buf, want, off);
    if (got < 0) {
        lf_log(LF_LOG_ERROR, COMPONENT, "read of %s/%020" PRIu64 ".seg at %" PRIu64 " failed: %s",
               s->dir, first, off, strerror(errno));
        return LF_EIO;
    }
    s->win_valid = true;
    s->win_seg = first;
    s->win_off = off;
    s->win_len = (size_t)got;
    if ((size_t)got < n)
        return LF_ENOENT;
    *out = s->buf;
    return 0;
}

/*
 * Damage at bytes [from, to) of c's segment took ids [from_id, to_id).
 * Logged and counted once however often it is read, and only as far as it
 * touches records not acknowledged yet.
 */
static void report_damage(struct lf_spool *s, const struct cursor *c, uint64_t from, uint64_t to,
                          uint64_t from_id, uint64_t to_id, const char *what)
{
    uint64_t first = s->segs[c->seg].first, lo = from_id;
    if (lo < s->rid)
        lo = s->rid;
    if (lo < s->reported_id)
        lo = s->reported_id;
    uint64_t lost = to_id > lo ? to_id - lo : 0;
    bool new_bytes =
        first > s->reported_seg || (first == s->reported_seg && from >= s->reported_off);
    if (!lost && !(from_id == to_id && from_id >= s->rid && new_bytes && to > from))
        return;
    if (to_id > s->reported_id)
        s->reported_id = to_id;
    s->reported_seg = first;
    s->reported_off = to;
    s->c.corrupt += lost;
    char loss[96] = "no record lost";
    if (lost == 1)
        snprintf(loss, sizeof(loss), "record %" PRIu64 " lost", lo);
    else if (lost)
        snprintf(loss, sizeof(loss), "%" PRIu64 " records lost (ids %" PRIu64 "..%" PRIu64 ")",
                 lost, lo, to_id - 1);
    lf_log(LF_LOG_WARN, COMPONENT,
           "%s/%020" PRIu64 ".seg: %s at offset %" PRIu64 "..%" PRIu64
           "; %s, reading on at the next intact record",
           s->dir, first, what, from, to, loss);
}

/* Reads the header at c->off if it is the one expected there (an id below
 * end) and its record fits before limit: 1, else 0; or an error. */
static int header_at(struct lf_spool *s, const struct cursor *c, uint64_t limit, uint64_t end,
                     struct rec_hdr *h, const unsigned char **raw)
{
    if (limit - c->off < HDR_SIZE)
        return 0;
    int rc = fetch(s, c, c->off, HDR_SIZE, limit, raw);
    if (rc)
        return rc == LF_ENOENT ? 0 : rc;
    return decode_header(*raw, h) && h->id == c->expect && h->id < end &&
           h->len <= limit - c->off - HDR_SIZE;
}

/*
 * After a bad header at c->off: moves c to the next offset before limit
 * that holds a well-formed header whose id fits (c->expect up to one more
 * per MIN_RECORD bytes skipped, and below end) and whose record ends before
 * limit, setting c->expect to its id. Returns 1 if found, 0 if not (c->off
 * = limit), or an error.
 */
static int resync(struct lf_spool *s, struct cursor *c, uint64_t limit, uint64_t end)
{
    uint64_t from = c->off, pos = from + 1;
    while (pos < limit && limit - pos >= HDR_SIZE) {
        size_t n = limit - pos > WINDOW ? WINDOW : (size_t)(limit - pos);
        const unsigned char *p;
        int rc = fetch(s, c, pos, n, limit, &p);
        if (rc == LF_ENOENT)
            break;
        if (rc)
            return rc;
        for (size_t i = 0; i + HDR_SIZE <= n; i++) {
            const unsigned char *m = memchr(p + i, magic[0], n - HDR_SIZE + 1 - i);
            if (!m)
                break;
            i = (size_t)(m - p);
            struct rec_hdr h;
            uint64_t at = pos + i;
            if (decode_header(m, &h) && h.id >= c->expect && h.id < end &&
                h.id - c->expect <= (at - from) / MIN_RECORD && h.len <= limit - at - HDR_SIZE) {
                c->off = at;
                c->expect = h.id;
                return 1;
            }
        }
        pos += n - HDR_SIZE + 1; /* overlap: a header across the edge is seen whole */
    }
    c->off = limit;
    return 0;
}

/*
 * The next intact record of c's segment before limit: returns 1 with its
 * header in *h and *payload pointing at it (valid until the window moves),
 * c moved past it; 0 at limit; or an error. Damage on the way is skipped
 * and, unless quiet, reported; at limit, ids up to the segment's end that
 * never showed up are reported too. Unless quiet (the scan at open), ids
 * at or past the segment's end are damage as well: a segment holds exactly
 * the ids from its name to the next segment's.
 */
static int next_record(struct lf_spool *s, struct cursor *c, uint64_t limit, bool quiet,
                       struct rec_hdr *h, const unsigned char **payload)
{
    uint64_t end = quiet ? UINT64_MAX : seg_end_id(s, c->seg);
    for (;;) {
        const unsigned char *raw;
        uint64_t at = c->off, want = c->expect;
        int rc = at < limit ? header_at(s, c, limit, end, h, &raw) : 0;
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if (at < limit && (rc = resync(s, c, limit, end)) < 0)
                return rc;
            uint64_t to_id = rc ? c->expect : quiet ? want : end;
            if (!quiet && (to_id > want || c->off > at))
                report_damage(s, c, at, c->off, want, to_id,
                              c->off > at ? "damaged bytes" : "the end of the file");
            if (!rc) {
                if (c->expect < to_id)
                    c->expect = to_id;
                return 0;
            }
            continue;
        }
        unsigned char hdr[HDR_SIZE];
        memcpy(hdr, raw, HDR_SIZE); /* the window may move to fetch the payload */
        rc = fetch(s, c, at + HDR_SIZE, h->len, limit, payload);
        if (rc && rc != LF_ENOENT)
            return rc;
        c->off = at + HDR_SIZE + h->len;
        c->expect = h->id + 1;
        if (!rc && payload_ok(hdr, *payload, h->len))
            return 1;
        if (!quiet)
            report_damage(s, c, at, c->off, h->id, h->id + 1, "a checksum mismatch");
    }
}

/* ---- acknowledgement position ------------------------------------------- */

/* The start of segs[0]: where reading resumes when nothing better is known. */
static void reset_ack_pos(struct lf_spool *s)
{
    uint64_t first = s->nsegs ? s->segs[0].first : s->next_id;
    s->ack_pos = (struct position){first, 0, first};
}

static int save_ack(struct lf_spool *s)
{
    char line[160];
    int n =
        snprintf(line, sizeof(line), "lfspool-ack v1 %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64,
                 s->ack_id, s->ack_pos.seg_first, s->ack_pos.off, s->ack_pos.id);
    n += snprintf(line + n, sizeof(line) - (size_t)n, " %08" PRIx32 "\n",
                  crc32c(0, line, (size_t)n));
    const char *step = "open";
    int fd = openat(s->dirfd, ACK_TMP_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd < 0 ? LF_EIO : lf_write_all(fd, line, (size_t)n);
    if (fd >= 0 && rc)
        step = "write";
    if (!rc && s->opt.fsync == LF_SPOOL_FSYNC_COMMIT && fsync(fd) != 0) {
        step = "fsync";
        rc = LF_EIO;
    }
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && !rc) {
        e = errno;
        step = "close";
        rc = LF_EIO;
    }
    if (!rc && renameat(s->dirfd, ACK_TMP_NAME, s->dirfd, ACK_NAME) != 0) {
        e = errno;
        step = "rename";
        rc = LF_EIO;
    }
    if (rc) {
        lf_log(LF_LOG_ERROR, COMPONENT, "cannot save the position in %s/" ACK_NAME " (%s: %s)",
               s->dir, step, strerror(e));
        if (fd >= 0)
            unlinkat(s->dirfd, ACK_TMP_NAME, 0);
        return LF_EIO;
    }
    s->ack_dirty = false;
    s->ack_saved_ms = now_ms();
    return 0;
}

/* Parses a decimal u64 followed by `end`; advances *p past `end`. */
static bool parse_u64(const char **p, char end, uint64_t *v)
{
    const char *q = *p;
    uint64_t x = 0;
    if (*q < '0' || *q > '9')
        return false;
    for (; *q >= '0' && *q <= '9'; q++) {
        unsigned d = (unsigned)(*q - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    if (*q != end)
        return false;
    *p = q + 1;
    *v = x;
    return true;
}

/* Reads <dir>/ack: true with the fields when it is whole, else false (the
 * fields are then meaningless). */
static bool load_ack_file(struct lf_spool *s, uint64_t *ack, struct position *pos)
{
    char line[200];
    int fd = openat(s->dirfd, ACK_NAME, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            lf_log(LF_LOG_WARN, COMPONENT, "cannot read %s/" ACK_NAME ": %s", s->dir,
                   strerror(errno));
        else if (s->nsegs)
            lf_log(LF_LOG_INFO, COMPONENT,
                   "%s: no acknowledgement position; reading from the first segment", s->dir);
        return false;
    }
    ssize_t n = pread_full(fd, line, sizeof(line) - 1, 0);
    close(fd);
    line[n > 0 ? n : 0] = '\0';
    static const char prefix[] = "lfspool-ack v1 ";
    const char *p = line;
    uint64_t crc = 0;
    bool ok = n > 0 && strncmp(p, prefix, sizeof(prefix) - 1) == 0;
    p += ok ? sizeof(prefix) - 1 : 0;
    ok = ok && parse_u64(&p, ' ', ack) && parse_u64(&p, ' ', &pos->seg_first) &&
         parse_u64(&p, ' ', &pos->off) && parse_u64(&p, ' ', &pos->id);
    if (ok) {
        size_t body = (size_t)(p - 1 - line);
        char *end;
        errno = 0;
        crc = strtoull(p, &end, 16);
        ok = end == p + 8 && strcmp(end, "\n") == 0 && errno == 0 && crc == crc32c(0, line, body) &&
             pos->id <= *ack;
    }
    if (!ok)
        lf_log(LF_LOG_WARN, COMPONENT,
               "%s/" ACK_NAME " is damaged; reading from the first segment (delivered records "
               "are sent again)",
               s->dir);
    return ok;
}

/* ---- segments ----------------------------------------------------------- */

static int grow_segs(struct lf_spool *s)
{
    if (s->nsegs < s->segcap)
        return 0;
    size_t cap = s->segcap ? s->segcap * 2 : 16;
    struct segment *v = realloc(s->segs, cap * sizeof(*v));
    if (!v)
        return LF_ENOMEM;
    s->segs = v;
    s->segcap = cap;
    return 0;
}

static int cmp_segs(const void *a, const void *b)
{
    uint64_t x = ((const struct segment *)a)->first, y = ((const struct segment *)b)->first;
    return x < y ? -1 : x > y;
}

/* Forgets segs[0] (its file is gone): the reader, the position and the
 * acknowledgement move to what follows. */
static void remove_front(struct lf_spool *s)
{
    s->total -= s->segs[0].size;
    if (s->win_valid && s->win_seg == s->segs[0].first)
        s->win_valid = false;
    memmove(s->segs, s->segs + 1, (s->nsegs - 1) * sizeof(*s->segs));
    s->nsegs--;
    uint64_t first = s->nsegs ? s->segs[0].first : s->next_id;
    if (s->rd.seg == 0) {
        if (s->rd.fd >= 0)
            close(s->rd.fd);
        s->rd = (struct cursor){.fd = -1, .seg = 0, .off = 0, .expect = first};
    } else {
        s->rd.seg--;
    }
    if (s->rid < first)
        s->rid = first;
    if (s->ack_id < first) {
        s->ack_id = first;
        s->ack_dirty = true;
    }
    if (s->ack_pos.seg_first != first)
        reset_ack_pos(s);
    refresh_counters(s);
}

static int delete_front(struct lf_spool *s)
{
    char name[SEG_NAME_LEN + 1];
    seg_name(name, s->segs[0].first);
    if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT) {
        lf_log(LF_LOG_ERROR, COMPONENT, "cannot delete %s/%s: %s", s->dir, name, strerror(errno));
        return LF_EIO;
    }
    remove_front(s);
    return 0;
}

/* Deletes the segments that hold only acknowledged records, never the last. */
static int delete_acked(struct lf_spool *s)
{
    while (s->nsegs > 1 && s->segs[1].first <= s->ack_id) {
        int rc = delete_front(s);
        if (rc)
            return rc;
    }
    return 0;
}

/* Stops writing to the last segment: syncs it now, as the next commit
 * would have (a failure is reported by that commit), and closes it. */
static void seal(struct lf_spool *s)
{
    if (s->wfd < 0)
        return;
    if (s->wdirty && s->opt.fsync == LF_SPOOL_FSYNC_COMMIT && fsync(s->wfd) != 0) {
        lf_log(LF_LOG_ERROR, COMPONENT, "fsync of %s/%020" PRIu64 ".seg failed: %s", s->dir,
               s->segs[s->nsegs - 1].first, strerror(errno));
        s->sync_failed = true;
    }
    close(s->wfd);
    s->wfd = -1;
    s->wdirty = false;
}

/* Starts a new segment named after the next id, sealing the old one. On
 * failure there is no write segment and the next append tries again. */
static int roll(struct lf_spool *s)
{
    seal(s);
    char name[SEG_NAME_LEN + 1];
    seg_name(name, s->next_id);
    if (grow_segs(s))
        return LF_ENOMEM;
    int fd = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        lf_log(LF_LOG_ERROR, COMPONENT, "cannot create %s/%s: %s", s->dir, name, strerror(errno));
        return LF_EIO;
    }
    s->segs[s->nsegs++] = (struct segment){s->next_id, 0, 0};
    if (s->nsegs == 1)
        reset_ack_pos(s);
    s->wfd = fd;
    s->dir_dirty = true;
    return 0;
}

/* Deletes segs[0] to make room, counting its unacknowledged records. */
static int drop_front(struct lf_spool *s)
{
    uint64_t first = s->segs[0].first, end = s->segs[1].first;
    /* Records handed out already are in the sender's hands and will be
     * delivered from there: only the unread ones are lost. */
    uint64_t from = s->ack_id > first ? s->ack_id : first;
    if (s->rid > from)
        from = s->rid;
    int rc = delete_front(s);
    if (rc || end <= from)
        return rc;
    s->c.dropped += end - from;
    lf_log(LF_LOG_DEBUG, COMPONENT,
           "%s is full: dropped %020" PRIu64 ".seg with %" PRIu64 " unread records (ids %" PRIu64
           "..%" PRIu64 ")",
           s->dir, first, end - from, from, end - 1);
    return 0;
}

/* Frees room for `need` more bytes: segments that hold only acknowledged
 * records go; under DROP_OLDEST the oldest go anyway. */
static int make_room(struct lf_spool *s, uint64_t need)
{
    bool drop = s->opt.full == LF_SPOOL_FULL_DROP_OLDEST;
    while (s->total + need > s->opt.max_bytes && s->nsegs) {
        int rc;
        if (s->nsegs == 1) { /* only the write segment is in the way: seal it */
            if (!drop && s->ack_id < s->next_id)
                return LF_ELIMIT;
            rc = roll(s);
        } else {
            if (!drop && s->ack_id < s->segs[1].first)
                return LF_ELIMIT;
            rc = drop_front(s);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int write_record(int fd, const unsigned char *hdr, const void *rec, size_t len)
{
    struct iovec iov[2] = {{(void *)hdr, HDR_SIZE}, {(void *)rec, len}};
    ssize_t n;
    do
        n = writev(fd, iov, 2);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return LF_EIO;
    size_t done = (size_t)n;
    if (done < HDR_SIZE) {
        if (lf_write_all(fd, hdr + done, HDR_SIZE - done))
            return LF_EIO;
        done = HDR_SIZE;
    }
    done -= HDR_SIZE;
    return lf_write_all(fd, (const char *)rec + done, len - done);
}

/* ---- open --------------------------------------------------------------- */

static int make_dirs(const char *dir, char *errbuf, size_t errlen)
{
    char failed[4096];
    if (lf_mkdir_p(dir, 0700, failed, sizeof(failed)) == 0)
        return 0;
    snprintf(errbuf, errlen, "spool: cannot create directory %s: %s", failed, strerror(errno));
    return LF_EIO;
}

/* Fills segs from the directory, sorted; anything else is logged. */
static int list_segments(struct lf_spool *s, char *errbuf, size_t errlen)
{
    DIR *d = opendir(s->dir);
    if (!d) {
        snprintf(errbuf, errlen, "spool: cannot list %s: %s", s->dir, strerror(errno));
        return LF_EIO;
    }
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        const char *n = e->d_name;
        uint64_t first;
        struct stat st;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, ACK_NAME) ||
            !strcmp(n, ACK_TMP_NAME) || !strcmp(n, LOCK_NAME))
            continue;
        if (!parse_seg_name(n, &first)) {
            lf_log(LF_LOG_WARN, COMPONENT, "%s/%s is not a spool file; left alone", s->dir, n);
            continue;
        }
        if (fstatat(s->dirfd, n, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            snprintf(errbuf, errlen, "spool: cannot stat %s/%s: %s", s->dir, n, strerror(errno));
            rc = LF_EIO;
        } else if (!S_ISREG(st.st_mode)) {
            lf_log(LF_LOG_WARN, COMPONENT, "%s/%s is not a regular file; left alone", s->dir, n);
        } else if ((rc = grow_segs(s)) != 0) {
            snprintf(errbuf, errlen, "spool %s: out of memory", s->dir);
        } else {
            s->segs[s->nsegs++] =
                (struct segment){first, (uint64_t)st.st_size, (uint64_t)st.st_size};
            s->total += (uint64_t)st.st_size;
        }
    }
    closedir(d);
    if (!rc && s->nsegs)
        qsort(s->segs, s->nsegs, sizeof(*s->segs), cmp_segs);
    return rc;
}

/* Scans the last segment: cuts a torn record off its end and sets next_id
 * after its last intact record. */
static int repair_last(struct lf_spool *s, char *errbuf, size_t errlen)
{
    struct segment *g = &s->segs[s->nsegs - 1];
    char name[SEG_NAME_LEN + 1];
    seg_name(name, g->first);
    struct cursor c = {.seg = s->nsegs - 1, .expect = g->first};
    c.fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC);
    if (c.fd < 0) {
        snprintf(errbuf, errlen, "spool: cannot open %s/%s: %s", s->dir, name, strerror(errno));
        return LF_EIO;
    }
    uint64_t keep = 0;
    s->next_id = g->first;
    int rc;
    struct rec_hdr h;
    const unsigned char *payload;
    while ((rc = next_record(s, &c, g->size, true, &h, &payload)) == 1) {
        keep = c.off;
        s->next_id = h.id + 1;
    }
    if (rc == 0 && keep < g->size) {
        lf_log(LF_LOG_WARN, COMPONENT,
               "%s/%s: removing %" PRIu64 " bytes after offset %" PRIu64
               " that hold no intact record (a write cut short by a crash, or damage)",
               s->dir, name, g->size - keep, keep);
        if (ftruncate(c.fd, (off_t)keep) != 0 ||
            (s->opt.fsync == LF_SPOOL_FSYNC_COMMIT && fsync(c.fd) != 0))
            rc = LF_EIO;
        s->total -= g->size - keep;
        g->size = g->readable = keep;
        s->win_valid = false;
    }
    if (rc)
        snprintf(errbuf, errlen, "spool: cannot repair %s/%s: %s", s->dir, name,
                 rc == LF_EIO ? strerror(errno) : lf_strerror(rc));
    close(c.fd);
    return rc;
}

/* Whether the saved resume position is one we can trust: in segs[0], at a
 * record boundary holding the id it names. */
static bool position_ok(struct lf_spool *s, const struct position *p)
{
    if (!s->nsegs || p->seg_first != s->segs[0].first || p->off > s->segs[0].size)
        return false;
    if (p->off == s->segs[0].size)
        return p->id == seg_end_id(s, 0);
    char name[SEG_NAME_LEN + 1];
    seg_name(name, p->seg_first);
    struct cursor c = {.seg = 0, .off = p->off, .expect = p->id};
    if ((c.fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC)) < 0)
        return false;
    struct rec_hdr h;
    const unsigned char *raw;
    bool ok = header_at(s, &c, s->segs[0].size, seg_end_id(s, 0), &h, &raw) == 1;
    close(c.fd);
    return ok;
}

/* Sets the acknowledgement, the reader and the write segment from what is
 * on disk. */
static int resume(struct lf_spool *s, char *errbuf, size_t errlen)
{
    uint64_t ack = 0;
    struct position pos;
    bool have = load_ack_file(s, &ack, &pos);
    if (!have)
        ack = 0;
    uint64_t first = s->nsegs ? s->segs[0].first : 0;
    bool gap = ack > s->next_id; /* records acknowledged that a crash took back */
    if (gap) /* ids never go back: the next record starts a segment of its own */
        s->next_id = ack;
    s->committed_id = s->next_id;
    s->ack_id = ack > first ? ack : first;
    if (s->nsegs == 0 && s->ack_id < s->next_id)
        s->ack_id = s->next_id;
    delete_acked(s); /* logged; retried on the next acknowledgement */
    reset_ack_pos(s);
    if (have && position_ok(s, &pos) && pos.id <= s->ack_id)
        s->ack_pos = pos;
    s->rd = (struct cursor){.fd = -1, .seg = 0, .off = s->ack_pos.off, .expect = s->ack_pos.id};
    s->rid = s->ack_id;
    if (s->nsegs && !gap) {
        char name[SEG_NAME_LEN + 1];
        seg_name(name, s->segs[s->nsegs - 1].first);
        s->wfd = openat(s->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (s->wfd < 0) {
            snprintf(errbuf, errlen, "spool: cannot open %s/%s: %s", s->dir, name, strerror(errno));
            return LF_EIO;
        }
    }
    refresh_counters(s);
    return 0;
}

static void destroy(struct lf_spool *s)
{
    if (s->rd.fd >= 0)
        close(s->rd.fd);
    if (s->wfd >= 0)
        close(s->wfd);
    if (s->lockfd >= 0)
        close(s->lockfd); /* releases the lock */
    if (s->dirfd >= 0)
        close(s->dirfd);
    free(s->segs);
    free(s->buf);
    free(s->dir);
    free(s);
}

static int take_lock(struct lf_spool *s, char *errbuf, size_t errlen)
{
    s->lockfd = openat(s->dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lockfd < 0) {
        snprintf(errbuf, errlen, "spool: cannot open %s/" LOCK_NAME ": %s", s->dir,
                 strerror(errno));
        return LF_EIO;
    }
    int rc;
    do
        rc = flock(s->lockfd, LOCK_EX | LOCK_NB);
    while (rc != 0 && errno == EINTR);
    if (rc == 0)
        return 0;
    if (errno == EWOULDBLOCK)
        snprintf(errbuf, errlen, "spool %s is in use by another process", s->dir);
    else
        snprintf(errbuf, errlen, "spool: cannot lock %s/" LOCK_NAME ": %s", s->dir,
                 strerror(errno));
    return LF_EIO;
}

struct lf_spool *lf_spool_open(const struct lf_spool_options *o, char *errbuf, size_t errlen)
{
    if (!o || !o->dir || !*o->dir || (unsigned)o->fsync > LF_SPOOL_FSYNC_NEVER ||
        (unsigned)o->full > LF_SPOOL_FULL_DROP_OLDEST) {
        snprintf(errbuf, errlen, "spool: no directory or bad options");
        return NULL;
    }
    pthread_once(&crc_once, crc_init);
    struct lf_spool *s = calloc(1, sizeof(*s));
    if (!s || !(s->dir = strdup(o->dir))) {
        free(s);
        snprintf(errbuf, errlen, "spool %s: out of memory", o->dir);
        return NULL;
    }
    s->dirfd = s->lockfd = s->wfd = s->rd.fd = -1;
    s->opt = *o;
    s->opt.dir = s->dir;
    if (!s->opt.max_bytes)
        s->opt.max_bytes = DEFAULT_MAX_BYTES;
    if (!s->opt.segment_bytes)
        s->opt.segment_bytes = DEFAULT_SEGMENT_BYTES;
    if (s->opt.segment_bytes > s->opt.max_bytes / 4)
        s->opt.segment_bytes = s->opt.max_bytes / 4 ? s->opt.max_bytes / 4 : 1;
    if (make_dirs(s->dir, errbuf, errlen))
        goto fail;
    s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        snprintf(errbuf, errlen, "spool: cannot open %s: %s", s->dir, strerror(errno));
        goto fail;
    }
    if (take_lock(s, errbuf, errlen) || list_segments(s, errbuf, errlen))
        goto fail;
    if (s->nsegs && repair_last(s, errbuf, errlen))
        goto fail;
    if (resume(s, errbuf, errlen))
        goto fail;
    return s;
fail:
    destroy(s);
    return NULL;
}

void lf_spool_close(struct lf_spool *s)
{
    if (!s)
        return;
    if (s->ack_dirty)
        save_ack(s);
    destroy(s);
}

/* ---- writing ------------------------------------------------------------ */

int lf_spool_append(struct lf_spool *s, const void *rec, size_t len, uint64_t *id)
{
    if (!rec || len == 0 || len > LF_SPOOL_MAX_RECORD || HDR_SIZE + len > s->opt.max_bytes)
        return LF_EINVAL;
    if (s->next_id == UINT64_MAX)
        return LF_ELIMIT; /* ids are used up (only a forged file can get there) */
    uint64_t need = HDR_SIZE + len;
    int rc = make_room(s, need);
    if (rc)
        return rc;
    struct segment *g = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
    if (s->wfd < 0 || (g->size && g->size + need > s->opt.segment_bytes)) {
        if ((rc = roll(s)))
            return rc;
        g = &s->segs[s->nsegs - 1];
    }
    unsigned char hdr[HDR_SIZE];
    encode_header(hdr, rec, (uint32_t)len, s->next_id);
    if (write_record(s->wfd, hdr, rec, len)) {
        int e = errno;
        lf_log(LF_LOG_ERROR, COMPONENT, "write to %s/%020" PRIu64 ".seg failed: %s", s->dir,
               g->first, strerror(e));
        if (ftruncate(s->wfd, (off_t)g->size) != 0) {
            /* The bytes past g->size are never read; a new segment follows. */
            lf_log(LF_LOG_ERROR, COMPONENT,
                   "cannot cut the partial record off %s/%020" PRIu64 ".seg: %s", s->dir, g->first,
                   strerror(errno));
            seal(s);
        }
        errno = e;
        return LF_EIO;
    }
    g->size += need;
    s->total += need;
    s->wdirty = true;
    *id = s->next_id++;
    s->c.appended++;
    refresh_counters(s);
    return 0;
}

int lf_spool_commit(struct lf_spool *s)
{
    if (s->sync_failed) {
        s->sync_failed = false;
        return LF_EIO;
    }
    if (s->opt.fsync == LF_SPOOL_FSYNC_COMMIT) {
        if (s->wfd >= 0 && s->wdirty) {
            if (fsync(s->wfd) != 0) {
                lf_log(LF_LOG_ERROR, COMPONENT, "fsync of %s/%020" PRIu64 ".seg failed: %s", s->dir,
                       s->segs[s->nsegs - 1].first, strerror(errno));
                return LF_EIO;
            }
            s->wdirty = false;
        }
        if (s->dir_dirty) {
            if (fsync(s->dirfd) != 0) {
                lf_log(LF_LOG_ERROR, COMPONENT, "fsync of directory %s failed: %s", s->dir,
                       strerror(errno));
                return LF_EIO;
            }
            s->dir_dirty = false;
        }
    }
    s->committed_id = s->next_id;
    for (size_t i = s->nsegs; i-- > 0 && s->segs[i].readable != s->segs[i].size;)
        s->segs[i].readable = s->segs[i].size;
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

/* Opens the reader's segment; a segment file that vanished counts as lost
 * records and reading moves on. */
static int open_reader(struct lf_spool *s)
{
    while (s->rd.fd < 0 && s->rd.seg < s->nsegs) {
        char name[SEG_NAME_LEN + 1];
        seg_name(name, s->segs[s->rd.seg].first);
        s->rd.fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
        if (s->rd.fd >= 0)
            return 0;
        if (errno != ENOENT || s->rd.seg + 1 >= s->nsegs) {
            lf_log(LF_LOG_ERROR, COMPONENT, "cannot open %s/%s: %s", s->dir, name, strerror(errno));
            return LF_EIO;
        }
        report_damage(s, &s->rd, 0, 0, s->rd.expect, seg_end_id(s, s->rd.seg), "a vanished file");
        s->rd.seg++;
        s->rd.off = 0;
        s->rd.expect = s->segs[s->rd.seg].first;
    }
    return 0;
}

int lf_spool_read(struct lf_spool *s, const void **rec, size_t *len, uint64_t *id)
{
    for (;;) {
        if (s->rid >= s->committed_id || s->rd.seg >= s->nsegs)
            return LF_ENOENT;
        int rc = open_reader(s);
        if (rc)
            return rc;
        struct segment *g = &s->segs[s->rd.seg];
        struct rec_hdr h;
        const unsigned char *payload;
        rc = next_record(s, &s->rd, g->readable, false, &h, &payload);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            if (h.id < s->rid)
                continue; /* acknowledged already */
            s->rid = h.id + 1;
            s->c.read++;
            *rec = payload;
            *len = h.len;
            *id = h.id;
            return 0;
        }
        if (s->rd.seg + 1 >= s->nsegs || g->readable < g->size)
            return LF_ENOENT;
        close(s->rd.fd);
        s->rd = (struct cursor){
            .fd = -1, .seg = s->rd.seg + 1, .off = 0, .expect = s->segs[s->rd.seg + 1].first};
    }
}

int lf_spool_ack(struct lf_spool *s, uint64_t upto)
{
    if (upto > s->next_id)
        return LF_EINVAL;
    int rc = 0;
    if (upto > s->ack_id) {
        s->c.acked += upto - s->ack_id;
        s->ack_id = upto;
        s->ack_dirty = true;
        if (s->rid < upto)
            s->rid = upto;
    }
    if (s->nsegs && s->segs[0].first < s->ack_id)
        rc = delete_acked(s);
    if (s->rd.seg == 0 && s->rd.expect == s->ack_id && s->nsegs &&
        s->ack_pos.id != s->ack_id) /* the reader stands right at it: resume there */
        s->ack_pos = (struct position){s->segs[0].first, s->rd.off, s->ack_id};
    refresh_counters(s);
    if (s->ack_dirty && now_ms() - s->ack_saved_ms >= ACK_SAVE_MS && save_ack(s))
        rc = LF_EIO;
    return rc;
}

void lf_spool_rewind(struct lf_spool *s)
{
    if (s->rd.seg != 0 && s->rd.fd >= 0) {
        close(s->rd.fd);
        s->rd.fd = -1;
    }
    s->rd.seg = 0;
    s->rd.off = s->ack_pos.off;
    s->rd.expect = s->ack_pos.id;
    s->rid = s->ack_id;
}

bool lf_spool_empty(const struct lf_spool *s)
{
    return s->ack_id >= s->next_id;
}

uint64_t lf_spool_unacked_bytes(const struct lf_spool *s)
{
    if (s->ack_id >= s->next_id || !s->nsegs)
        return 0;
    return s->total - s->ack_pos.off;
}

const struct lf_spool_counters *lf_spool_counters(const struct lf_spool *s)
{
    return &s->c;
}

uint64_t lf_spool_report_drops(struct lf_spool *s, const char *component, const char *server,
                               bool final)
{
    int64_t now = lf_now_mono_ms();
    uint64_t dropped = s->c.dropped;
    if (dropped == s->drops_reported ||
        (!final && s->drops_report_ms && now - s->drops_report_ms < DROPS_REPORT_MS))
        return dropped;
    lf_log(LF_LOG_WARN, component,
           "spool %s is full while %s is away (when_full: drop_oldest): dropped %" PRIu64
           " of the oldest documents since the last report, %" PRIu64 " in all",
           s->dir, server, dropped - s->drops_reported, dropped);
    s->drops_reported = dropped;
    s->drops_report_ms = now;
    return dropped;
}

void lf_spool_set_full(struct lf_spool *s, enum lf_spool_full full)
{
    s->opt.full = full;
}

uint64_t lf_spool_next_id(const struct lf_spool *s)
{
    return s->next_id;
}

/* ---- documents in records ----------------------------------------------- */

int lf_spool_doc_encode(struct lf_buf *rec, const char *prefix, int64_t ts_ms, const char *id,
                        const char *json, size_t len)
{
    size_t plen = strlen(prefix);
    if (plen > 255 || len == 0)
        return LF_EINVAL;
    lf_buf_reset(rec);
    unsigned char head[2 + 255 + 8 + LF_SPOOL_DOC_ID_LEN];
    size_t n = 0;
    head[n++] = 1;
    head[n++] = (unsigned char)plen;
    memcpy(head + n, prefix, plen);
    n += plen;
    for (int i = 0; i < 8; i++)
        head[n++] = (unsigned char)((uint64_t)ts_ms >> (8 * i));
    memcpy(head + n, id, LF_SPOOL_DOC_ID_LEN);
    n += LF_SPOOL_DOC_ID_LEN;
    int rc = lf_buf_append(rec, head, n);
    return rc ? rc : lf_buf_append(rec, json, len);
}

int lf_spool_doc_decode(const unsigned char *r, size_t len, struct lf_spool_doc *d)
{
    if (len < 2 || r[0] != 1 || len < 2 + (size_t)r[1] + 8 + LF_SPOOL_DOC_ID_LEN + 1)
        return LF_ESYNTAX;
    size_t at = 2 + (size_t)r[1];
    uint64_t ts = 0;
    for (int i = 0; i < 8; i++)
        ts |= (uint64_t)r[at + i] << (8 * i);
    d->prefix = (const char *)r + 2;
    d->prefix_len = r[1];
    d->ts_ms = (int64_t)ts;
    d->id = (const char *)r + at + 8;
    at += 8 + LF_SPOOL_DOC_ID_LEN;
    d->json = (const char *)r + at;
    d->len = len - at;
    return 0;
}
