/*
 * test_spool.c - the on-disk spool: records come back in order with
 * contiguous ids across many segments and restarts; acknowledgements delete
 * segments and survive a restart; a torn tail is cut off, a flipped byte
 * costs exactly its record, garbage is skipped and counted; the full
 * policies block or drop; the lock keeps a second process out; a failed
 * write leaves no trace. The byte layout is checked against an independent
 * CRC-32C.
 */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lf.h"
#include "spool.h"

#define HDR LF_SPOOL_RECORD_OVERHEAD

struct fixture {
    char root[256];
    char dir[300]; /* root/spool: made by lf_spool_open */
    unsigned char *rec;
    size_t reclen;
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    const char *tmp = getenv("TMPDIR");
    snprintf(fx->root, sizeof(fx->root), "%s/lf_spool.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(fx->root));
    snprintf(fx->dir, sizeof(fx->dir), "%s/spool", fx->root);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    nftw(fx->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(fx->rec);
    free(fx);
    return 0;
}

static struct lf_spool *open_spool(struct fixture *fx, uint64_t max, uint64_t seg,
                                   enum lf_spool_full full)
{
    struct lf_spool_options o = {.dir = fx->dir,
                                 .max_bytes = max,
                                 .segment_bytes = seg,
                                 .fsync = LF_SPOOL_FSYNC_COMMIT,
                                 .full = full};
    char err[512] = "";
    struct lf_spool *s = lf_spool_open(&o, err, sizeof(err));
    if (!s)
        fail_msg("lf_spool_open: %s", err);
    return s;
}

/* Record i: its own length and content, so that any mix-up shows. */
static const unsigned char *make_rec(struct fixture *fx, uint64_t i, size_t len)
{
    if (fx->reclen < len) {
        free(fx->rec);
        fx->rec = malloc(len);
        assert_non_null(fx->rec);
        fx->reclen = len;
    }
    for (size_t j = 0; j < len; j++)
        fx->rec[j] = (unsigned char)(i * 131 + j * 7 + (j >> 8));
    return fx->rec;
}

static void check_rec(struct fixture *fx, const void *rec, size_t len, uint64_t i, size_t want)
{
    assert_int_equal(len, want);
    assert_memory_equal(rec, make_rec(fx, i, want), want);
}

static size_t len_of(uint64_t i)
{
    return 1 + (size_t)(i * 37 % 300);
}

static uint64_t append(struct fixture *fx, struct lf_spool *s, uint64_t i, size_t len)
{
    uint64_t id = UINT64_MAX;
    assert_int_equal(lf_spool_append(s, make_rec(fx, i, len), len, &id), 0);
    return id;
}

/* Appends records [from, to) of length len_of(i) (or fixed when len). */
static void append_range(struct fixture *fx, struct lf_spool *s, uint64_t from, uint64_t to,
                         size_t len)
{
    for (uint64_t i = from; i < to; i++)
        assert_int_equal(append(fx, s, i, len ? len : len_of(i)), i);
    assert_int_equal(lf_spool_commit(s), 0);
}

/* Reads everything there is; checks order and content; returns the count
 * and the ids in got (if not NULL). */
static size_t read_all(struct fixture *fx, struct lf_spool *s, size_t len, uint64_t *got,
                       size_t max)
{
    const void *rec;
    size_t n = 0, l;
    uint64_t id, last = 0;
    int rc;
    while ((rc = lf_spool_read(s, &rec, &l, &id)) == 0) {
        if (n)
            assert_true(id > last);
        check_rec(fx, rec, l, id, len ? len : len_of(id));
        if (got && n < max)
            got[n] = id;
        last = id;
        n++;
    }
    assert_int_equal(rc, LF_ENOENT);
    return n;
}

static int seg_filter(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n == 24 && strcmp(e->d_name + 20, ".seg") == 0;
}

/* The segment files, sorted (names sort as numbers). */
static int list_segs(struct fixture *fx, char names[][32], int max)
{
    struct dirent **v;
    int n = scandir(fx->dir, &v, seg_filter, alphasort);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        if (i < max)
            memcpy(names[i], v[i]->d_name, 25); /* seg_filter: 24 characters */
        free(v[i]);
    }
    free(v);
    return n;
}

static void seg_path(struct fixture *fx, char *out, size_t outlen, uint64_t first)
{
    snprintf(out, outlen, "%s/%020llu.seg", fx->dir, (unsigned long long)first);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void patch(const char *path, off_t off, const void *bytes, size_t n)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
    close(fd);
}

static void flip(const char *path, off_t off)
{
    unsigned char b;
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

/* ---- tests -------------------------------------------------------------- */

/* In order across many small segments, ids contiguous from 0, readable only
 * after commit, with the reader segments behind the writer. */
static void test_many_segments_in_order(void **state)
{
    struct fixture *fx = *state;
    struct lf_spool *s = open_spool(fx, 1 << 20, 512, LF_SPOOL_FULL_BLOCK);
    struct stat st;
    assert_int_equal(stat(fx->dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    const void *rec;
    size_t len;
    uint64_t id, next = 0;
    assert_int_equal(append(fx, s, 0, len_of(0)), 0);
    assert_int_equal(lf_spool_read(s, &rec, &len, &id), LF_ENOENT); /* not committed */
    assert_int_equal(lf_spool_commit(s), 0);
    for (uint64_t i = 1; i < 1000; i++) {
        assert_int_equal(append(fx, s, i, len_of(i)), i);
        if (i % 10 == 9)
            assert_int_equal(lf_spool_commit(s), 0);
        if (i % 30 == 0) { /* the reader lags a few segments behind */
            for (int k = 0; k < 7 && lf_spool_read(s, &rec, &len, &id) == 0; k++) {
                assert_int_equal(id, next);
                check_rec(fx, rec, len, id, len_of(id));
                next++;
            }
        }
    }
    while (lf_spool_read(s, &rec, &len, &id) == 0) {
        assert_int_equal(id, next);
        check_rec(fx, rec, len, id, len_of(id));
        next++;
    }
    assert_int_equal(next, 1000);
    char names[512][32];
    int nsegs = list_segs(fx, names, 512);
    assert_true(nsegs > 100);
    assert_string_equal(names[0], "00000000000000000000.seg");
    const struct lf_spool_counters *c = lf_spool_counters(s);
    assert_int_equal(c->appended, 1000);
    assert_int_equal(c->read, 1000);
    assert_int_equal(c->corrupt, 0);
    assert_int_equal(c->records_on_disk, 1000);
    assert_int_equal(lf_spool_next_id(s), 1000);
    assert_false(lf_spool_empty(s));
    lf_spool_close(s);
}

/* Acknowledging deletes the segments below, never the one being written. */
static void test_ack_deletes_segments(void **state)
{
    struct fixture *fx = *state;
    struct lf_spool *s = open_spool(fx, 1 << 20, 512, LF_SPOOL_FULL_BLOCK);
    append_range(fx, s, 0, 1000, 0);
    assert_int_equal(read_all(fx, s, 0, NULL, 0), 1000);
    char names[512][32];
    int before = list_segs(fx, names, 512);
    assert_int_equal(lf_spool_ack(s, 500), 0);
    int after = list_segs(fx, names, 512);
    assert_true(after < before && after > 1);
    uint64_t first = strtoull(names[0], NULL, 10), second = strtoull(names[1], NULL, 10);
    assert_true(first <= 500 && second > 500); /* the one holding 500 stays */
    assert_int_equal(lf_spool_counters(s)->acked, 500);
    assert_int_equal(lf_spool_ack(s, 1001), LF_EINVAL);
    assert_int_equal(lf_spool_ack(s, 400), 0); /* going back: nothing happens */
    assert_int_equal(lf_spool_ack(s, 1000), 0);
    assert_int_equal(list_segs(fx, names, 512), 1);
    assert_true(lf_spool_empty(s));
    assert_int_equal(lf_spool_unacked_bytes(s), 0);
    assert_int_equal(lf_spool_counters(s)->acked, 1000);
    assert_int_equal(append(fx, s, 1000, 10), 1000);
    assert_false(lf_spool_empty(s));
    lf_spool_close(s);
}

static uint64_t saved_ack(struct fixture *fx)
{
    char path[400], line[200] = "";
    snprintf(path, sizeof(path), "%s/ack", fx->dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    unsigned long long ack;
    assert_int_equal(sscanf(line, "lfspool-ack v1 %llu", &ack), 1);
    return ack;
}

/* A restart resumes after the acknowledged position, replays what was read
 * but not acknowledged, and goes on with the ids. */
static void test_reopen_resumes(void **state)
{
    struct fixture *fx = *state;
    struct lf_spool *s = open_spool(fx, 1 << 20, 512, LF_SPOOL_FULL_BLOCK);
    append_range(fx, s, 0, 100, 0);
    const void *rec;
    size_t len;
    uint64_t id;
    for (int i = 0; i < 60; i++)
        assert_int_equal(lf_spool_read(s, &rec, &len, &id), 0);
    assert_int_equal(lf_spool_ack(s, 10), 0); /* the first save is at once */
    assert_int_equal(saved_ack(fx), 10);
    assert_int_equal(lf_spool_ack(s, 40), 0); /* within 200 ms: saved at close */
    assert_int_equal(saved_ack(fx), 10);
    lf_spool_close(s);
    assert_int_equal(saved_ack(fx), 40);

    uint64_t got[100];
    s = open_spool(fx, 1 << 20, 512, LF_SPOOL_FULL_BLOCK);
    assert_int_equal(lf_spool_next_id(s), 100);
    assert_int_equal(read_all(fx, s, 0, got, 100), 60);
    assert_int_equal(got[0], 40);
    assert_int_equal(got[59], 99);
    assert_int_equal(append(fx, s, 100, len_of(100)), 100);
    assert_int_equal(lf_spool_commit(s), 0);
    lf_spool_close(s); /* nothing acknowledged: the same again */

    s = open_spool(fx, 1 << 20, 512, LF_SPOOL_FULL_BLOCK);
    assert_int_equal(read_all(fx, s, 0, got, 100), 61);
    assert_int_equal(got[0], 40);
    assert_true(lf_spool_unacked_bytes(s) > 0);
    assert_true(lf_spool_unacked_bytes(s) <= lf_spool_counters(s)->bytes_on_disk);
    assert_int_equal(lf_spool_ack(s, 101), 0);
    lf_spool_close(s);

    /* Everything delivered: ids still go on after a restart. */
    s = open_spool(fx, 1 << 20, 512, LF_SPOOL_FULL_BLOCK);
    assert_true(lf_spool_empty(s));
    assert_int_equal(read_all(fx, s, 0, NULL, 0), 0);
    assert_int_equal(append(fx, s, 101, len_of(101)), 101);
    assert_int_equal(lf_spool_commit(s), 0);
    assert_int_equal(read_all(fx, s, 0, got, 100), 1);
    assert_int_equal(got[0], 101);
    lf_spool_close(s);

    /* Without the position file, reading starts at the first segment. */
    char path[400];
    snprintf(path, sizeof(path), "%s/ack", fx->dir);
    assert_int_equal(unlink(path), 0);
    s = open_spool(fx, 1 << 20, 512, LF_SPOOL_FULL_BLOCK);
    char names[8][32];
    assert_true(list_segs(fx, names, 8) >= 1);
    uint64_t first = strtoull(names[0], NULL, 10);
    size_t n = read_all(fx, s, 0, got, 100);
    assert_int_equal(n, 102 - first);
    assert_int_equal(got[0], first);
    lf_spool_close(s);

    /* A damaged position file: the same, logged. */
    FILE *f = fopen(path, "w");
    fputs("lfspool-ack v1 101 101 0 101 00000000\n", f); /* wrong checksum */
    fclose(f);
    s = open_spool(fx, 1 << 20, 512, LF_SPOOL_FULL_BLOCK);
    assert_int_equal(read_all(fx, s, 0, got, 100), 102 - first);
    lf_spool_close(s);
}

/* A crash in the middle of a write: the torn record is cut off at open. */
static void test_torn_tail_repaired(void **state)
{
    struct fixture *fx = *state;
    struct lf_spool *s = open_spool(fx, 1 << 20, 0, LF_SPOOL_FULL_BLOCK);
    append_range(fx, s, 0, 20, 100);
    lf_spool_close(s);
    char path[400];
    seg_path(fx, path, sizeof(path), 0);
    assert_int_equal(file_size(path), 20 * (HDR + 100));
    assert_int_equal(truncate(path, 20 * (HDR + 100) - 50), 0);

    s = open_spool(fx, 1 << 20, 0, LF_SPOOL_FULL_BLOCK);
    assert_int_equal(file_size(path), 19 * (HDR + 100));
    assert_int_equal(lf_spool_next_id(s), 19);
    assert_int_equal(read_all(fx, s, 100, NULL, 0), 19);
    assert_int_equal(lf_spool_counters(s)->corrupt, 0);
    append_range(fx, s, 19, 21, 100);
    assert_int_equal(read_all(fx, s, 100, NULL, 0), 2);
    lf_spool_close(s);

    /* Garbage after the last record, and a header cut in half. */
    static const char junk[] = "\x89LF\x01 torn header and some garbage";
    off_t end = file_size(path);
    patch(path, end, junk, sizeof(junk) - 1);
    s = open_spool(fx, 1 << 20, 0, LF_SPOOL_FULL_BLOCK);
    assert_int_equal(file_size(path), end);
    assert_int_equal(read_all(fx, s, 100, NULL, 0), 21);
    lf_spool_close(s);
    assert_int_equal(truncate(path, 10), 0); /* not even one header */
    s = open_spool(fx, 1 << 20, 0, LF_SPOOL_FULL_BLOCK);
    assert_int_equal(file_size(path), 0);
    assert_int_equal(lf_spool_next_id(s), 0);
    assert_int_equal(read_all(fx, s, 100, NULL, 0), 0);
    lf_spool_close(s);
}

/* One flipped byte costs exactly its record, wherever it is; counted once
 * even when read again. */
static void test_flipped_bytes_skip_one_record(void **state)
{
    struct fixture *fx = *state;
    /* 124 bytes a record, 8 to a 1024-byte segment. */
    struct lf_spool *s = open_spool(fx, 1 << 20, 1024, LF_SPOOL_FULL_BLOCK);
    append_range(fx, s, 0, 50, 100);
    lf_spool_close(s);
    char path[400];
    seg_path(fx, path, sizeof(path), 8);
    flip(path, 2 * (HDR + 100) + HDR + 5); /* record 10: payload */
    seg_path(fx, path, sizeof(path), 16);
    flip(path, 4 * (HDR + 100) + 10); /* record 20: the id in its header */
    seg_path(fx, path, sizeof(path), 32);
    flip(path, 1 * (HDR + 100) + 4); /* record 33: its length */
    seg_path(fx, path, sizeof(path), 48);
    flip(path, 0 * (HDR + 100) + 60); /* record 48, in the last segment */

    s = open_spool(fx, 1 << 20, 1024, LF_SPOOL_FULL_BLOCK);
    assert_int_equal(lf_spool_next_id(s), 50); /* record 49 still counts */
    uint64_t got[64];
    assert_int_equal(read_all(fx, s, 100, got, 64), 46);
    for (size_t i = 0, want = 0; i < 46; i++, want++) {
        while (want == 10 || want == 20 || want == 33 || want == 48)
            want++;
        assert_int_equal(got[i], want);
    }
    assert_int_equal(lf_spool_counters(s)->corrupt, 4);
    lf_spool_rewind(s);
    assert_int_equal(read_all(fx, s, 100, NULL, 0), 46);
    assert_int_equal(lf_spool_counters(s)->corrupt, 4);
    append_range(fx, s, 50, 52, 100);
    assert_int_equal(read_all(fx, s, 100, got, 64), 2);
    assert_int_equal(got[0], 50);
    lf_spool_close(s);
}

/* Files that are not the spool's are left alone; a segment of garbage and a
 * vanished segment cost their records, counted. */
static void test_garbage_in_the_directory(void **state)
{
    struct fixture *fx = *state;
    struct lf_spool *s = open_spool(fx, 1 << 20, 1024, LF_SPOOL_FULL_BLOCK);
    append_range(fx, s, 0, 40, 100);
    lf_spool_close(s);

    char path[400];
    static const char *const others[] = {"notes.txt", "123.seg", "00000000000000000000.seg.tmp",
                                         "0000000000000000000x.seg"};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", fx->dir, others[i]);
        FILE *f = fopen(path, "w");
        fputs("not a segment\n", f);
        fclose(f);
    }
    snprintf(path, sizeof(path), "%s/18446744073709551615.seg", fx->dir);
    assert_int_equal(mkdir(path, 0700), 0); /* a directory by a segment's name */

    seg_path(fx, path, sizeof(path), 8); /* records 8..15: all garbage */
    off_t size = file_size(path);
    unsigned char *junk = malloc((size_t)size);
    for (off_t i = 0; i < size; i++)
        junk[i] = (unsigned char)(i * 151 + 17);
    patch(path, 0, junk, (size_t)size);
    free(junk);
    seg_path(fx, path, sizeof(path), 24); /* records 24..31: gone */
    assert_int_equal(unlink(path), 0);

    s = open_spool(fx, 1 << 20, 1024, LF_SPOOL_FULL_BLOCK);
    uint64_t got[64];
    assert_int_equal(read_all(fx, s, 100, got, 64), 24);
    assert_int_equal(got[7], 7);
    assert_int_equal(got[8], 16);
    assert_int_equal(got[16], 32);
    assert_int_equal(lf_spool_counters(s)->corrupt, 16);
    lf_spool_close(s);
    snprintf(path, sizeof(path), "%s/notes.txt", fx->dir);
    assert_int_equal(file_size(path), 14);
}

/* BLOCK: a full spool refuses, writes nothing, and takes records again once
 * acknowledgements free a segment. */
static void test_block_when_full(void **state)
{
    struct fixture *fx = *state;
    struct lf_spool *s = open_spool(fx, 4096, 1024, LF_SPOOL_FULL_BLOCK);
    uint64_t id, n = 0;
    int rc;
    while ((rc = lf_spool_append(s, make_rec(fx, n, 100), 100, &id)) == 0)
        assert_int_equal(id, n++);
    assert_int_equal(rc, LF_ELIMIT);
    assert_true(n >= 30 && n * (HDR + 100) <= 4096);
    assert_int_equal(lf_spool_commit(s), 0);
    uint64_t bytes = lf_spool_counters(s)->bytes_on_disk;
    assert_true(bytes <= 4096);
    assert_int_equal(lf_spool_append(s, make_rec(fx, n, 100), 100, &id), LF_ELIMIT);
    assert_int_equal(lf_spool_counters(s)->bytes_on_disk, bytes);
    assert_int_equal(lf_spool_next_id(s), n);
    assert_int_equal(lf_spool_append(s, fx->rec, 0, &id), LF_EINVAL);
    assert_int_equal(lf_spool_append(s, make_rec(fx, 0, 4096), 4096, &id), LF_EINVAL);

    assert_int_equal(read_all(fx, s, 100, NULL, 0), n);
    assert_int_equal(lf_spool_ack(s, 3), 0); /* part of the first segment only */
    assert_int_equal(lf_spool_append(s, make_rec(fx, n, 100), 100, &id), LF_ELIMIT);
    assert_int_equal(lf_spool_ack(s, 8), 0); /* the first segment (ids 0..7) */
    assert_int_equal(append(fx, s, n, 100), n);
    assert_int_equal(lf_spool_ack(s, n + 1), 0); /* everything, the write segment too */
    for (uint64_t i = n + 1; i < n + 30; i++)    /* its room comes back as well */
        assert_int_equal(append(fx, s, i, 100), i);
    assert_int_equal(lf_spool_counters(s)->dropped, 0);
    lf_spool_close(s);
}

/* A write segment holding only acknowledged records is not in the way. */
static void test_block_reclaims_acked_write_segment(void **state)
{
    struct fixture *fx = *state;
    struct lf_spool *s = open_spool(fx, 4096, 1024, LF_SPOOL_FULL_BLOCK);
    uint64_t id;
    assert_int_equal(append(fx, s, 0, 3000), 0);
    assert_int_equal(lf_spool_commit(s), 0);
    assert_int_equal(lf_spool_append(s, make_rec(fx, 1, 2000), 2000, &id), LF_ELIMIT);
    assert_int_equal(read_all(fx, s, 3000, NULL, 0), 1);
    assert_int_equal(lf_spool_ack(s, 1), 0);
    assert_int_equal(append(fx, s, 1, 2000), 1);
    assert_int_equal(lf_spool_commit(s), 0);
    assert_int_equal(read_all(fx, s, 2000, NULL, 0), 1);
    assert_int_equal(lf_spool_counters(s)->bytes_on_disk, HDR + 2000);
    assert_int_equal(lf_spool_counters(s)->dropped, 0);
    lf_spool_close(s);
}

/* DROP_OLDEST: the oldest segments go, counted; the reader jumps over them,
 * even from inside one. */
static void test_drop_oldest(void **state)
{
    struct fixture *fx = *state;
    struct lf_spool *s = open_spool(fx, 4096, 1024, LF_SPOOL_FULL_DROP_OLDEST);
    append_range(fx, s, 0, 20, 100);
    const void *rec;
    size_t len;
    uint64_t id;
    for (int i = 0; i < 3; i++)
        assert_int_equal(lf_spool_read(s, &rec, &len, &id), 0);
    assert_int_equal(id, 2);
    for (uint64_t i = 20; i < 200; i += 10) {
        append_range(fx, s, i, i + 10, 100);
        assert_true(lf_spool_counters(s)->bytes_on_disk <= 4096);
    }
    const struct lf_spool_counters *c = lf_spool_counters(s);
    uint64_t got[256];
    size_t n = read_all(fx, s, 100, got, 256);
    assert_true(c->dropped > 0);
    assert_int_equal(got[n - 1], 199);
    assert_int_equal(got[0], 200 - n);
    /* 0..2 were handed out before the drop: the sender has them, so they
     * are not counted as lost. */
    assert_int_equal(n + c->dropped + 3, 200);
    assert_int_equal(c->corrupt, 0);
    assert_int_equal(lf_spool_ack(s, 200), 0);
    assert_true(lf_spool_empty(s));
    lf_spool_close(s);
}

/* lf_spool_set_full: a DROP_OLDEST spool told to block refuses instead of
 * dropping, and drops again once told so. */
static void test_set_full(void **state)
{
    struct fixture *fx = *state;
    struct lf_spool *s = open_spool(fx, 4096, 1024, LF_SPOOL_FULL_DROP_OLDEST);
    lf_spool_set_full(s, LF_SPOOL_FULL_BLOCK);
    uint64_t i = 0, id;
    char rec[100];
    memset(rec, 'x', sizeof(rec));
    int rc = 0;
    for (; i < 1000 && rc == 0; i++)
        rc = lf_spool_append(s, rec, sizeof(rec), &id);
    assert_int_equal(rc, LF_ELIMIT);
    assert_int_equal(lf_spool_counters(s)->dropped, 0);
    lf_spool_set_full(s, LF_SPOOL_FULL_DROP_OLDEST);
    assert_int_equal(lf_spool_append(s, rec, sizeof(rec), &id), 0);
    assert_true(lf_spool_counters(s)->dropped > 0);
    lf_spool_close(s);
}

/* One process per directory. */
static void test_lock(void **state)
{
    struct fixture *fx = *state;
    struct lf_spool *s = open_spool(fx, 0, 0, LF_SPOOL_FULL_BLOCK);
    struct lf_spool_options o = {.dir = fx->dir};
    char err[512] = "", want[512];
    assert_null(lf_spool_open(&o, err, sizeof(err)));
    snprintf(want, sizeof(want), "spool %s is in use by another process", fx->dir);
    assert_string_equal(err, want);
    lf_spool_close(s);
    s = lf_spool_open(&o, err, sizeof(err));
    assert_non_null(s);
    lf_spool_close(s);
    lf_spool_close(NULL);
    o.dir = "";
    assert_null(lf_spool_open(&o, err, sizeof(err)));
}

/* Rewind goes back to the first unacknowledged record. */
static void test_rewind(void **state)
{
    struct fixture *fx = *state;
    struct lf_spool *s = open_spool(fx, 1 << 20, 512, LF_SPOOL_FULL_BLOCK);
    append_range(fx, s, 0, 40, 0);
    const void *rec;
    size_t len;
    uint64_t id;
    for (int i = 0; i < 5; i++)
        assert_int_equal(lf_spool_read(s, &rec, &len, &id), 0);
    lf_spool_rewind(s);
    assert_int_equal(lf_spool_read(s, &rec, &len, &id), 0);
    assert_int_equal(id, 0);
    for (int i = 0; i < 20; i++)
        assert_int_equal(lf_spool_read(s, &rec, &len, &id), 0);
    assert_int_equal(id, 20);
    assert_int_equal(lf_spool_ack(s, 13), 0);
    lf_spool_rewind(s);
    assert_int_equal(lf_spool_read(s, &rec, &len, &id), 0);
    assert_int_equal(id, 13);
    check_rec(fx, rec, len, 13, len_of(13));
    assert_int_equal(lf_spool_ack(s, 30), 0); /* past the reader: it skips ahead */
    assert_int_equal(lf_spool_read(s, &rec, &len, &id), 0);
    assert_int_equal(id, 30);
    assert_int_equal(lf_spool_counters(s)->read, 5 + 21 + 1 + 1);
    lf_spool_close(s);
}

/* 1 byte, several MiB, and sizes that are refused. */
static void test_record_sizes(void **state)
{
    struct fixture *fx = *state;
    struct lf_spool *s = open_spool(fx, 64 << 20, 4096, LF_SPOOL_FULL_BLOCK);
    size_t big = 5u << 20;
    assert_int_equal(append(fx, s, 0, 1), 0);
    assert_int_equal(append(fx, s, 1, big), 1); /* a segment of its own */
    assert_int_equal(append(fx, s, 2, 1), 2);
    assert_int_equal(append(fx, s, 3, 3u << 20), 3);
    assert_int_equal(lf_spool_commit(s), 0);
    uint64_t id;
    assert_int_equal(lf_spool_append(s, "", 0, &id), LF_EINVAL);
    assert_int_equal(lf_spool_append(s, NULL, 1, &id), LF_EINVAL);
    assert_int_equal(lf_spool_append(s, fx->rec, (size_t)LF_SPOOL_MAX_RECORD + 1, &id), LF_EINVAL);
    lf_spool_close(s);
    s = open_spool(fx, 64 << 20, 4096, LF_SPOOL_FULL_BLOCK);
    const void *rec;
    size_t len;
    static const size_t want[] = {1, 5u << 20, 1, 3u << 20};
    for (uint64_t i = 0; i < 4; i++) {
        assert_int_equal(lf_spool_read(s, &rec, &len, &id), 0);
        assert_int_equal(id, i);
        check_rec(fx, rec, len, i, want[i]);
    }
    assert_int_equal(lf_spool_read(s, &rec, &len, &id), LF_ENOENT);
    char names[8][32];
    assert_int_equal(list_segs(fx, names, 8), 4);
    lf_spool_close(s);
}

/* A write that fails half-way (the file size limit stands in for a full
 * disk) leaves nothing behind, and the spool goes on. */
static void test_failed_write_leaves_no_trace(void **state)
{
    struct fixture *fx = *state;
    struct lf_spool *s = open_spool(fx, 1 << 20, 0, LF_SPOOL_FULL_BLOCK);
    append_range(fx, s, 0, 10, 1000);
    char path[400];
    seg_path(fx, path, sizeof(path), 0);
    off_t size = file_size(path);

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)size + 1500;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    assert_int_equal(append(fx, s, 10, 1000), 10);
    uint64_t id = 77;
    int rc = lf_spool_append(s, make_rec(fx, 11, 1000), 1000, &id);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, LF_EIO);
    assert_int_equal(id, 77);
    assert_int_equal(file_size(path), size + HDR + 1000); /* the partial record is gone */
    assert_int_equal(lf_spool_next_id(s), 11);
    assert_int_equal(lf_spool_counters(s)->bytes_on_disk, (uint64_t)size + HDR + 1000);

    append_range(fx, s, 11, 13, 1000);
    assert_int_equal(read_all(fx, s, 1000, NULL, 0), 13);
    assert_int_equal(lf_spool_counters(s)->corrupt, 0);
    lf_spool_close(s);
}

/* An independent CRC-32C (bit by bit). */
static uint32_t ref_crc32c(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The byte layout documented in spool.h. */
static void test_on_disk_format(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(ref_crc32c(0, (const unsigned char *)"123456789", 9), 0xe3069283u);
    struct lf_spool *s = open_spool(fx, 0, 0, LF_SPOOL_FULL_BLOCK);
    uint64_t id;
    assert_int_equal(lf_spool_append(s, "hello", 5, &id), 0);
    assert_int_equal(lf_spool_append(s, "world!", 6, &id), 0);
    assert_int_equal(lf_spool_commit(s), 0);
    const void *rec;
    size_t len;
    assert_int_equal(lf_spool_read(s, &rec, &len, &id), 0);
    assert_int_equal(lf_spool_ack(s, 1), 0);
    lf_spool_close(s);

    char path[400];
    seg_path(fx, path, sizeof(path), 0);
    unsigned char b[64];
    FILE *f = fopen(path, "rb");
    assert_int_equal(fread(b, 1, sizeof(b), f), HDR + 5 + HDR + 6);
    fclose(f);
    static const unsigned char magic[4] = {0x89, 'L', 'F', 0x01};
    assert_memory_equal(b, magic, 4);
    assert_int_equal(le32(b + 4), 5);
    assert_int_equal(le32(b + 8), 0);
    assert_int_equal(le32(b + 12), 0);
    assert_int_equal(le32(b + 16), ref_crc32c(ref_crc32c(0, b + 4, 12), b + HDR, 5));
    assert_int_equal(le32(b + 20), ref_crc32c(0, b, 20));
    assert_memory_equal(b + HDR, "hello", 5);
    const unsigned char *r2 = b + HDR + 5;
    assert_int_equal(le32(r2 + 4), 6);
    assert_int_equal(le32(r2 + 8), 1);
    assert_memory_equal(r2 + HDR, "world!", 6);

    char line[200], want[200];
    snprintf(path, sizeof(path), "%s/ack", fx->dir);
    f = fopen(path, "r");
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    int n = snprintf(want, sizeof(want), "lfspool-ack v1 1 0 %u 1", HDR + 5);
    assert_memory_equal(line, want, (size_t)n);
    char crc[16];
    snprintf(crc, sizeof(crc), " %08x\n", ref_crc32c(0, (const unsigned char *)want, (size_t)n));
    assert_string_equal(line + n, crc);
}

/* unacked_bytes follows the reader exactly when all it read is acked. */
static void test_unacked_bytes(void **state)
{
    struct fixture *fx = *state;
    struct lf_spool *s = open_spool(fx, 1 << 20, 0, LF_SPOOL_FULL_BLOCK);
    assert_true(lf_spool_empty(s));
    assert_int_equal(lf_spool_unacked_bytes(s), 0);
    append_range(fx, s, 0, 10, 100);
    assert_int_equal(lf_spool_unacked_bytes(s), 10 * (HDR + 100));
    const void *rec;
    size_t len;
    uint64_t id;
    for (int i = 0; i < 4; i++)
        assert_int_equal(lf_spool_read(s, &rec, &len, &id), 0);
    assert_int_equal(lf_spool_ack(s, 4), 0);
    assert_int_equal(lf_spool_unacked_bytes(s), 6 * (HDR + 100));
    lf_spool_close(s);
    s = open_spool(fx, 1 << 20, 0, LF_SPOOL_FULL_BLOCK); /* the spot was saved */
    assert_int_equal(lf_spool_unacked_bytes(s), 6 * (HDR + 100));
    assert_int_equal(read_all(fx, s, 100, NULL, 0), 6);
    assert_int_equal(lf_spool_ack(s, 10), 0);
    assert_true(lf_spool_empty(s));
    assert_int_equal(lf_spool_unacked_bytes(s), 0);
    lf_spool_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_many_segments_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_deletes_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_repaired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_bytes_skip_one_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_in_the_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_when_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_reclaims_acked_write_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_leaves_no_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_on_disk_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unacked_bytes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
