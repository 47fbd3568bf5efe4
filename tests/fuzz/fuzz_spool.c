/*
 * fuzz_spool.c - the spool's open and read paths on any bytes: the input
 * becomes one or two segment files (and maybe an acknowledgement file) in a
 * temporary directory; the spool opens it, reads everything, appends,
 * acknowledges, rewinds, reopens and reads again. Damage is fine (it is
 * logged and skipped); crashes, leaks, hangs, ids that go backwards and
 * appended records that do not come back are not.
 *
 * Input layout: a flags byte, then
 *   flags & 1: a length byte n and n bytes of <dir>/ack;
 *   flags & 2: 8 bytes (little endian) naming a second segment and 4 bytes
 *              where the rest is split between the two;
 *   flags & 4: the DROP_OLDEST policy instead of BLOCK;
 *   the rest: the bytes of 00000000000000000000.seg (and the second one).
 * Run it with -close_fd_mask=2 to keep the damage warnings off the terminal.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[4096];

static void clean(void)
{
    DIR *d = opendir(root);
    struct dirent *e;
    char path[4400];
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
}

static void remove_root(void)
{
    clean();
    rmdir(root);
}

static void put(const char *name, const uint8_t *p, size_t n)
{
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s", root, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        abort();
    if (n && lf_write_all(fd, p, n))
        abort();
    close(fd);
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* Reads all there is: ids only go up, lengths are sane; returns the count. */
static uint64_t drain(struct lf_spool *s, uint64_t *last_id)
{
    const void *rec;
    size_t len;
    uint64_t id, n = 0;
    unsigned sum = 0;
    int rc;
    while ((rc = lf_spool_read(s, &rec, &len, &id)) == 0) {
        if (*last_id != UINT64_MAX && id <= *last_id)
            abort();
        if (len == 0 || len > LF_SPOOL_MAX_RECORD)
            abort();
        sum += ((const uint8_t *)rec)[0] + ((const uint8_t *)rec)[len - 1];
        *last_id = id;
        n++;
    }
    if (rc != LF_ENOENT && rc != LF_EIO)
        abort();
    (void)sum;
    return n;
}

static const uint8_t big[5000];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!root[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(root, sizeof(root), "%s/lf_fuzz_spool.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(root))
            abort();
        atexit(remove_root);
    }
    clean();
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    data++, size--;
    if (flags & 1) {
        size_t n = size ? data[0] : 0;
        if (size < 1 + n)
            return 0;
        put("ack", data + 1, n);
        data += 1 + n, size -= 1 + n;
    }
    size_t split = size;
    uint64_t second = 0;
    if (flags & 2) {
        if (size < 12)
            return 0;
        second = le(data, 8);
        split = (size_t)le(data + 8, 4);
        data += 12, size -= 12;
        split = split < size ? split : size;
        if (second == 0)
            second = 1;
    }
    put("00000000000000000000.seg", data, split);
    if (flags & 2) {
        char name[32];
        snprintf(name, sizeof(name), "%020llu.seg", (unsigned long long)second);
        put(name, data + split, size - split);
    }

    struct lf_spool_options o = {.dir = root,
                                 .max_bytes = 1 << 20,
                                 .segment_bytes = 4096,
                                 .fsync = LF_SPOOL_FSYNC_NEVER,
                                 .full =
                                     flags & 4 ? LF_SPOOL_FULL_DROP_OLDEST : LF_SPOOL_FULL_BLOCK};
    char err[512];
    struct lf_spool *s = lf_spool_open(&o, err, sizeof(err));
    if (!s)
        return 0;
    uint64_t last = UINT64_MAX;
    drain(s, &last);
    lf_spool_unacked_bytes(s);

    /* What is appended now comes back, after whatever was there. */
    static const char small[] = "abc";
    const void *recs[] = {small, small, big};
    const size_t lens[] = {3, 1, sizeof(big)};
    uint64_t ids[3], got = 0, dropped = lf_spool_counters(s)->dropped;
    int appended = 0;
    for (int i = 0; i < 3; i++)
        if (lf_spool_append(s, recs[i], lens[i], &ids[appended]) == 0)
            appended++;
    if (lf_spool_commit(s) != 0)
        abort();
    const void *rec;
    size_t len;
    uint64_t id;
    while (got < (uint64_t)appended && lf_spool_read(s, &rec, &len, &id) == 0)
        if (id == ids[got])
            got++;
    if (got != (uint64_t)appended && lf_spool_counters(s)->dropped == dropped)
        abort(); /* (DROP_OLDEST may have had to take them back at once) */

    lf_spool_ack(s, lf_spool_next_id(s) / 2);
    lf_spool_rewind(s);
    last = UINT64_MAX;
    drain(s, &last);
    lf_spool_ack(s, lf_spool_next_id(s));
    if (!lf_spool_empty(s))
        abort();
    lf_spool_close(s);

    s = lf_spool_open(&o, err, sizeof(err));
    if (!s)
        return 0;
    last = UINT64_MAX;
    drain(s, &last);
    lf_spool_close(s);
    return 0;
}
