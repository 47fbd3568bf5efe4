/*
 * tail_find.c - finding a file's content again in its directory, after a
 * rotation moved it away from the path it was followed by (see
 * lf_tail_find_content in tail_int.h).
 *
 * Content is known by its fingerprint (a hash of its first bytes, kept in
 * the registry) and the inode it was last seen on. A rename keeps the inode;
 * a copy (copytruncate) has the same first bytes on another inode. The
 * search is bounded: one directory, regular files only, a stat of each name,
 * and a read of the first bytes of those at least as large as the position
 * the content was read up to (at most MAX_OPENED of them).
 */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#define _FILE_OFFSET_BITS 64
#include "tail_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Candidates whose first bytes are read, at most, per search. */
#define MAX_OPENED 64
/* Names looked at, at most, per search: a directory of a million files is
 * not a log directory, and the search must stay cheap. */
#define MAX_NAMES 100000
/* Bytes compared at the end of a common prefix (lf_tail_same_bytes). */
#define SAME_WINDOW 4096

static char *join(const char *dir, size_t dir_len, const char *name)
{
    size_t n = strlen(name);
    char *p = malloc(dir_len + n + 2);
    if (!p)
        return NULL;
    if (dir_len) {
        memcpy(p, dir, dir_len);
        p[dir_len] = '/';
        memcpy(p + dir_len + 1, name, n + 1);
    } else {
        memcpy(p, name, n + 1);
    }
    return p;
}

/* Opens name in dirfd if it is the regular file `st` says and its first
 * bytes are the wanted ones. Returns the descriptor or -1. */
static int open_if_same(int dirfd, const char *name, const struct stat *st,
                        const struct lf_tail_want *w)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    struct stat now;
    uint32_t len = 0;
    uint64_t hash = 0;
    bool same = fstat(fd, &now) == 0 && now.st_ino == st->st_ino && now.st_dev == st->st_dev &&
                S_ISREG(now.st_mode);
    if (same && w->fp_len)
        same = lf_tail_fingerprint(fd, w->fp_len, &len, &hash) == 0 && len == w->fp_len &&
               hash == w->fp_hash;
    if (!same) {
        close(fd);
        return -1;
    }
    return fd;
}

int lf_tail_find_content(const char *dir, size_t dir_len, const struct lf_tail_want *w,
                         struct lf_tail_found *out)
{
    char *dpath = dir_len ? strndup(dir, dir_len) : strdup(".");
    DIR *d = dpath ? opendir(dpath) : NULL;
    if (!d) {
        lf_log(LF_LOG_DEBUG, "tail", "%s: cannot look for rotated files: %s", dpath ? dpath : "?",
               strerror(errno));
        free(dpath);
        return LF_EIO;
    }
    free(dpath);
    int dirfd_ = dirfd(d);
    int best = -1;
    struct stat best_st;
    char best_name[256];
    bool best_is_inode = false;
    unsigned opened = 0, names = 0;
    struct dirent *de;
    while ((de = readdir(d)) && names++ < MAX_NAMES && !best_is_inode) {
        if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
            continue;
        if (strlen(de->d_name) >= sizeof(best_name))
            continue;
        struct stat st;
        if (fstatat(dirfd_, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            (uint64_t)st.st_dev != w->dev || (uint64_t)st.st_size < w->min_size ||
            (uint64_t)st.st_ino == w->skip_ino)
            continue;
        bool is_inode = (uint64_t)st.st_ino == w->ino;
        /* Without a fingerprint only its own inode can be the content. */
        if (!is_inode && (w->fp_len == 0 || (best >= 0 && st.st_size <= best_st.st_size)))
            continue;
        if (w->taken && w->taken(w->arg, (uint64_t)st.st_dev, (uint64_t)st.st_ino))
            continue;
        if (!is_inode && opened >= MAX_OPENED)
            continue;
        opened++;
        int fd = open_if_same(dirfd_, de->d_name, &st, w);
        if (fd < 0)
            continue;
        if (best >= 0)
            close(best);
        best = fd;
        best_st = st;
        best_is_inode = is_inode;
        snprintf(best_name, sizeof(best_name), "%s", de->d_name);
    }
    closedir(d);
    if (best < 0)
        return LF_ENOENT;
    out->path = join(dir, dir_len, best_name);
    if (!out->path) {
        close(best);
        return LF_ENOMEM;
    }
    out->fd = best;
    out->st = best_st;
    return 0;
}

static bool read_at(int fd, char *b, size_t n, uint64_t off)
{
    while (n) {
        ssize_t got = pread(fd, b, n, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return false;
        b += got;
        n -= (size_t)got;
        off += (uint64_t)got;
    }
    return true;
}

bool lf_tail_same_bytes(int a, int b, uint64_t n)
{
    char x[SAME_WINDOW], y[SAME_WINDOW];
    size_t head = n < LF_REGISTRY_FP_MAX ? (size_t)n : LF_REGISTRY_FP_MAX;
    if (!read_at(a, x, head, 0) || !read_at(b, y, head, 0) || memcmp(x, y, head) != 0)
        return false;
    size_t tail = n < SAME_WINDOW ? (size_t)n : SAME_WINDOW;
    return read_at(a, x, tail, n - tail) && read_at(b, y, tail, n - tail) &&
           memcmp(x, y, tail) == 0;
}
