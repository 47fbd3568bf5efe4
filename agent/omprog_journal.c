/*
 * omprog_journal.c - the lines of rsyslog's open transaction, kept where a
 * killed agent cannot lose them.
 *
 * Why: with useTransactions="on" the agent answers every message
 * DEFER_COMMIT at once and COMMIT TRANSACTION "OK" only once the whole batch
 * is safe. rsyslog sends the batch again when COMMIT is not answered OK or
 * the program dies after receiving COMMIT, but NOT when the program dies
 * before COMMIT was sent: then the messages already answered DEFER_COMMIT
 * are never sent again (rsyslog issue #2420; seen with rsyslogd 8.2302, see
 * docs/OMPROG.md). Those lines are journaled here before their answer, and
 * the next instance ships them (same _id: a copy rsyslog did send again is
 * absorbed by Elasticsearch).
 *
 * How: the journal file is mapped MAP_SHARED and a line is a memcpy into
 * the mapping, no system call per message. The pages belong to the page
 * cache, so a SIGKILL loses nothing that was stored before the answer went
 * out. A machine crash may lose the open transaction's lines, as it loses
 * rsyslog's in-memory queue.
 *
 * Layout: an 8-byte magic, then records: u32 length + 1 (bit 31: the line
 * was cut), u32 check (low bits of the line hash), the bytes, zero padding to 8.
 * A zero length ends the records: it is written after a record's bytes and
 * before its length, so a record is whole or absent whatever instant the
 * agent dies at. The replay file has the same layout, written with write(2)
 * at startup, and is removed once every replayed line is safe.
 */
#define _GNU_SOURCE /* mremap */
#include "omprog_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "LFOMJ001"
#define HDR 8
#define REC_HDR 8
#define CUT_BIT 0x80000000u
#define INITIAL_SIZE (1u << 20)
/* A transaction is rsyslog's batch (queue.dequeueBatchSize messages): far
 * below this. Past it the transaction is failed, and sent again by rsyslog. */
#define MAX_SIZE ((size_t)256 << 20)

struct lf_omprog_journal {
    int fd;
    char *path, *replay_path;
    char *map;
    size_t map_len;
    size_t used; /* end of the last record */
    size_t lines;
    /* the replay: records read at open */
    char *replay;
    size_t replay_len, replay_off, replay_lines;
};

static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static uint32_t check_of(const char *s, size_t n)
{
    uint64_t a, b;
    lf_omprog_hash_line(s, n, &a, &b);
    return (uint32_t)a;
}

static uint32_t get32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void put32(char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* The length of the valid records in buf (from HDR), counting them. */
static size_t valid_records(const char *buf, size_t len, size_t *count)
{
    size_t off = HDR;
    *count = 0;
    if (len < HDR || memcmp(buf, MAGIC, HDR) != 0)
        return 0;
    while (off + REC_HDR <= len) {
        uint32_t n = get32(buf + off) & ~CUT_BIT;
        if (n-- == 0 || off + REC_HDR + n > len ||
            get32(buf + off + 4) != check_of(buf + off + REC_HDR, n))
            break;
        off += pad8(REC_HDR + n);
        (*count)++;
    }
    return off;
}

/* The whole of a file, or NULL (absent: *len 0). */
static char *slurp(int fd, size_t *len)
{
    struct stat st;
    *len = 0;
    if (fstat(fd, &st) != 0 || st.st_size <= 0)
        return NULL;
    char *buf = malloc((size_t)st.st_size);
    if (!buf)
        return NULL;
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    *len = got;
    return buf;
}

/* Moves what the journal file holds to the end of the replay file. */
static int move_to_replay(struct lf_omprog_journal *j, char *errbuf, size_t errlen)
{
    size_t len, count;
    char *buf = slurp(j->fd, &len);
    size_t end = buf ? valid_records(buf, len, &count) : 0;
    int rc = 0;
    if (end > HDR && count > 0) {
        int rfd = open(j->replay_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        size_t rlen = 0, rcount;
        char *rbuf = rfd >= 0 ? slurp(rfd, &rlen) : NULL;
        size_t rend = rbuf ? valid_records(rbuf, rlen, &rcount) : 0;
        free(rbuf);
        if (rfd < 0 || (rend == 0 && pwrite(rfd, MAGIC, HDR, 0) != HDR) ||
            pwrite(rfd, buf + HDR, end - HDR, (off_t)(rend ? rend : HDR)) != (ssize_t)(end - HDR) ||
            ftruncate(rfd, (off_t)((rend ? rend : HDR) + end - HDR)) != 0 || fdatasync(rfd) != 0) {
            snprintf(errbuf, errlen, "omprog: %s: %s", j->replay_path, strerror(errno));
            rc = LF_EIO;
        } else {
            lf_log(LF_LOG_WARN, "omprog",
                   "%zu messages of a transaction a previous instance did not commit are "
                   "shipped again",
                   count);
        }
        if (rfd >= 0)
            close(rfd);
    }
    free(buf);
    return rc;
}

static void load_replay(struct lf_omprog_journal *j)
{
    int rfd = open(j->replay_path, O_RDONLY | O_CLOEXEC);
    if (rfd < 0)
        return;
    size_t len;
    j->replay = slurp(rfd, &len);
    close(rfd);
    j->replay_len = j->replay ? valid_records(j->replay, len, &j->replay_lines) : 0;
    j->replay_off = HDR;
    if (j->replay_lines == 0)
        lf_omprog_journal_replay_done(j);
}

static int map_file(struct lf_omprog_journal *j, size_t len)
{
    if (ftruncate(j->fd, (off_t)len) != 0)
        return LF_EIO;
    void *m = j->map ? mremap(j->map, j->map_len, len, MREMAP_MAYMOVE)
                     : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd, 0);
    if (m == MAP_FAILED)
        return LF_ENOMEM;
    j->map = m;
    j->map_len = len;
    return 0;
}

int lf_omprog_journal_open(const char *dir, struct lf_omprog_journal **out, char *errbuf,
                           size_t errlen)
{
    char failed[512];
    *out = NULL;
    if (lf_mkdir_p(dir, 0750, failed, sizeof(failed)) != 0) {
        snprintf(errbuf, errlen, "omprog: cannot create %s: %s", failed, strerror(errno));
        return LF_EIO;
    }
    struct lf_omprog_journal *j = calloc(1, sizeof(*j));
    size_t n = strlen(dir);
    if (!j || !(j->path = malloc(n + 32)) || !(j->replay_path = malloc(n + 32))) {
        if (j)
            free(j->path);
        free(j);
        snprintf(errbuf, errlen, "omprog: out of memory");
        return LF_ENOMEM;
    }
    snprintf(j->path, n + 32, "%s/omprog.journal", dir);
    snprintf(j->replay_path, n + 32, "%s/omprog.replay", dir);
    j->fd = open(j->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int rc = 0;
    if (j->fd < 0) {
        snprintf(errbuf, errlen, "omprog: %s: %s", j->path, strerror(errno));
        rc = LF_EIO;
    } else if (flock(j->fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(errbuf, errlen,
                 "omprog: %s is in use by another `logferry agent --omprog` (one agent per "
                 "data_dir: forceSingleInstance=\"on\")",
                 j->path);
        rc = LF_EINVAL;
    } else if (!(rc = move_to_replay(j, errbuf, errlen))) {
        rc = map_file(j, INITIAL_SIZE);
        if (rc)
            snprintf(errbuf, errlen, "omprog: %s: %s", j->path, strerror(errno));
    }
    if (rc) {
        lf_omprog_journal_close(j, false);
        return rc;
    }
    memcpy(j->map, MAGIC, HDR);
    lf_omprog_journal_clear(j);
    load_replay(j);
    *out = j;
    return 0;
}

int lf_omprog_journal_append(struct lf_omprog_journal *j, const char *line, size_t len, bool cut)
{
    size_t rec = pad8(REC_HDR + len);
    if (len >= CUT_BIT - 1)
        return LF_ELIMIT;
    size_t need = j->used + rec + REC_HDR;
    if (need > j->map_len) {
        size_t next = j->map_len * 2;
        while (next < need)
            next *= 2;
        if (next > MAX_SIZE || map_file(j, next) != 0)
            return LF_ELIMIT;
    }
    char *r = j->map + j->used;
    memcpy(r + REC_HDR, line, len);
    memset(r + REC_HDR + len, 0, rec - REC_HDR - len);
    put32(r + 4, check_of(line, len));
    put32(r + rec, 0); /* the end, before the length makes the record count */
    put32(r, (uint32_t)(len + 1) | (cut ? CUT_BIT : 0));
    j->used += rec;
    j->lines++;
    return 0;
}

void lf_omprog_journal_clear(struct lf_omprog_journal *j)
{
    if (!j || !j->map)
        return;
    put32(j->map + HDR, 0);
    j->used = HDR;
    j->lines = 0;
}

size_t lf_omprog_journal_lines(const struct lf_omprog_journal *j)
{
    return j ? j->lines : 0;
}

bool lf_omprog_journal_replay_next(struct lf_omprog_journal *j, const char **line, size_t *len,
                                   bool *cut)
{
    if (!j || !j->replay || j->replay_off >= j->replay_len)
        return false;
    uint32_t n = get32(j->replay + j->replay_off);
    *line = j->replay + j->replay_off + REC_HDR;
    *len = (n & ~CUT_BIT) - 1;
    *cut = (n & CUT_BIT) != 0;
    j->replay_off += pad8(REC_HDR + *len);
    return true;
}

void lf_omprog_journal_replay_done(struct lf_omprog_journal *j)
{
    if (!j)
        return;
    if (j->replay || j->replay_lines == 0)
        unlink(j->replay_path);
    free(j->replay);
    j->replay = NULL;
    j->replay_len = j->replay_off = j->replay_lines = 0;
}

size_t lf_omprog_journal_replay_size(const struct lf_omprog_journal *j)
{
    return j ? j->replay_lines : 0;
}

void lf_omprog_journal_close(struct lf_omprog_journal *j, bool clear)
{
    if (!j)
        return;
    if (clear)
        lf_omprog_journal_clear(j);
    if (j->map)
        munmap(j->map, j->map_len);
    if (j->fd >= 0)
        close(j->fd); /* and the lock with it */
    free(j->replay);
    free(j->path);
    free(j->replay_path);
    free(j);
}
