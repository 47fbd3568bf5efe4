/*
 * tail.c - the files input: which files to follow and when to read them.
 *
 * Paths and globs are expanded at startup and every rescan_ms (and soon after
 * inotify reports a file created, moved or deleted in a watched directory);
 * `exclude` globs apply to the file name. Files are known by device and
 * inode, so a rename is followed and a new file at an old path is a new
 * file. A file seen at startup starts at start_at (or where the registry
 * says); one that appears later starts at its beginning. A file resumed from
 * its registry entry keeps the entry's content id (its lines keep their
 * _ids, whatever its path is now); any other gets a new one (tail_file.c).
 *
 * Content is known by its first bytes too (the registry's fingerprint). At
 * startup, content the registry knows that is not where it was is looked
 * for in its directory (tail_find.c) and finished from its saved offset
 * under its content id: a file truncated by copytruncate while the agent
 * was down (its copy), a file renamed away (its inode, under any name).
 * What cannot be found is reported with the bytes not read; files written
 * at the path and rotated away before the agent came back are read whole
 * (recover_lost). tail_file.c does the same for a truncation noticed while
 * running.
 *
 * inotify watches the parent directories (not the files: no descriptor per
 * file) and names the file that changed. Without inotify, or for a directory
 * it could not watch, every file is checked once a second. Either way a tick
 * each second retries reads of open files and checks their content, so a
 * missed event costs latency, never data.
 *
 * A blocked input (the pipeline refuses events) sleeps: nothing is due
 * before the retry BLOCKED_RETRY_MS later, or an acknowledgement, and the
 * inotify descriptor leaves the epoll the agent waits on, so that writes to
 * the files do not wake it; their events wait in the kernel, merged.
 *
 * At most max_open descriptors are open for followed files: to open another,
 * the least recently active file that is at its end with nothing pending is
 * closed; it is reopened by path when it grows, after checking it is still
 * the same inode (renamed while closed, it is looked for in its directory).
 * Files being finished after a rotation are never closed early, since their
 * path no longer leads to them.
 */
#define _POSIX_C_SOURCE 200809L
#define _FILE_OFFSET_BITS 64
#include "tail_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#define POLL_MS 1000
/* Soonest a rescan follows another when inotify reports new names. */
#define RESCAN_MIN_GAP_MS 100
/* When the pipeline refuses events, try again after this. */
#define BLOCKED_RETRY_MS 100
/* Lines one file may emit per run before the next file gets its turn. */
#define LINES_PER_TURN 1024
/* start_at end looks this far back for the start of the last line. */
#define END_LOOKBACK (64u << 10)
#define DEFAULT_MAX_LINE (1u << 20)
#define DEFAULT_RESCAN_MS 10000
#define DEFAULT_MAX_OPEN 256
/* A file modified this long before the registry's last save may still have
 * been written after the agent last looked at its directory. */
#define SUCCESSOR_SLACK_MS 5000
#define WATCH_MASK                                                                                 \
    (IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF |            \
     IN_MOVE_SELF)

struct watched_dir {
    int wd;
    char *path;
};

struct files_input {
    struct lf_tail t; /* first: the lf_input is its first member */
    int ifd;          /* inotify, or -1: polling */
    int epfd;         /* what the agent waits on: an epoll holding ifd */
    bool paused;      /* ifd is out of epfd: blocked, its events wait */
    struct watched_dir *dirs;
    size_t ndirs, dcap;
    size_t max_open;
    int64_t rescan_ms;
    unsigned gen;
    bool first_scan;
    bool stopped;
    bool blocked;          /* the pipeline refused an event in the last run */
    int64_t blocked_until; /* files are driven again then, or when woken */
    bool watch_limit_logged;
    struct lf_tail_path_watch *path_watch; /* one per pattern: why it finds nothing */
    size_t rr;                             /* where the next run starts, for fairness */
    int64_t now;
    int64_t next_rescan, last_rescan, next_tick, files_due;
};

static struct files_input *files_input(struct lf_input *in)
{
    return (struct files_input *)(void *)in;
}

static int64_t earliest(int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

/* ---- directories --------------------------------------------------------- */

static bool has_magic(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '*' || s[i] == '?' || s[i] == '[' || s[i] == '\\')
            return true;
    }
    return false;
}

/* The directory part of `path`: its length, or 0 for "." (no slash). */
static size_t dir_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return 0;
    return slash == path ? 1 : (size_t)(slash - path);
}

static void remember_dir(struct files_input *fi, int wd, const char *dir)
{
    for (size_t i = 0; i < fi->ndirs; i++) {
        if (fi->dirs[i].wd == wd)
            return;
    }
    if (fi->ndirs == fi->dcap) {
        size_t cap = fi->dcap ? fi->dcap * 2 : 16;
        struct watched_dir *d = realloc(fi->dirs, cap * sizeof(*d));
        if (!d)
            return;
        fi->dirs = d;
        fi->dcap = cap;
    }
    char *p = strdup(dir);
    if (p)
        fi->dirs[fi->ndirs++] = (struct watched_dir){.wd = wd, .path = p};
}

/* Returns the watch of directory dir[0..n) ("." when n is 0), or -1 when
 * files there must be polled. */
static int watch_dir(struct files_input *fi, const char *dir, size_t n)
{
    if (fi->ifd < 0)
        return -1;
    char path[4096];
    if (n >= sizeof(path))
        return -1;
    if (n)
        memcpy(path, dir, n);
    else
        path[n++] = '.';
    path[n] = '\0';
    int wd = inotify_add_watch(fi->ifd, path, WATCH_MASK);
    if (wd >= 0) {
        remember_dir(fi, wd, path);
    } else if (errno == ENOSPC && !fi->watch_limit_logged) {
        lf_log(LF_LOG_WARN, "tail",
               "%s: inotify watch limit reached (fs.inotify.max_user_watches): files in %s "
               "are polled every second",
               fi->t.name, path);
        fi->watch_limit_logged = true;
    }
    return wd;
}

static int watch_dir_of(struct files_input *fi, const char *path)
{
    return watch_dir(fi, path, dir_len(path));
}

/* Watches the directory a pattern names literally, even before the file
 * exists, so that its creation is seen at once. */
static void watch_pattern_dir(struct files_input *fi, const char *pattern)
{
    size_t n = dir_len(pattern);
    if (!has_magic(pattern, n))
        watch_dir(fi, pattern, n);
}

static void forget_watch(struct files_input *fi, int wd)
{
    for (size_t i = 0; i < fi->t.nfiles; i++) {
        if (fi->t.files[i]->wd == wd)
            fi->t.files[i]->wd = -1;
    }
    for (size_t i = 0; i < fi->ndirs; i++) {
        if (fi->dirs[i].wd == wd) {
            free(fi->dirs[i].path);
            fi->dirs[i] = fi->dirs[--fi->ndirs];
            return;
        }
    }
}

/* ---- finding files ------------------------------------------------------- */

static struct lf_tail_file *find_file(struct files_input *fi, uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < fi->t.nfiles; i++) {
        struct lf_tail_file *f = fi->t.files[i];
        /* A finished file's inode may be reused by a new file. */
        if (f->ino == ino && f->dev == dev && f->state != LF_TAIL_DONE)
            return f;
    }
    return NULL;
}

static bool excluded(const struct files_input *fi, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    for (size_t i = 0; i < fi->t.conf->nexclude; i++) {
        if (fnmatch(fi->t.conf->exclude[i], name, 0) == 0)
            return true;
    }
    return false;
}

/* Whether the file's first bytes are still those the entry was saved with:
 * a reused inode or a file rewritten from the start fails this. */
static bool fingerprint_matches(const char *path, const struct stat *st,
                                const struct lf_registry_entry *e)
{
    if (e->fp_len == 0)
        return true;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    struct stat now;
    uint32_t len = 0;
    uint64_t hash = 0;
    bool same = fstat(fd, &now) == 0 && now.st_ino == st->st_ino && now.st_dev == st->st_dev &&
                lf_tail_fingerprint(fd, e->fp_len, &len, &hash) == 0 && len == e->fp_len &&
                hash == e->fp_hash;
    close(fd);
    return same;
}

/* For start_at end: after the last newline, so that a line being written
 * right now is read whole rather than from its middle. */
static uint64_t end_offset(const char *path, const struct stat *st)
{
    uint64_t size = (uint64_t)st->st_size;
    if (size == 0)
        return 0;
    size_t n = size < END_LOOKBACK ? (size_t)size : END_LOOKBACK;
    char *b = malloc(n);
    int fd = b ? open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;
    ssize_t got = fd >= 0 ? pread(fd, b, n, (off_t)(size - n)) : -1;
    uint64_t off = size;
    if (got == (ssize_t)n) {
        size_t i = n;
        while (i > 0 && b[i - 1] != '\n')
            i--;
        if (i > 0)
            off = size - n + i;
    }
    if (fd >= 0)
        close(fd);
    free(b);
    return off;
}

int lf_tail_add(struct lf_tail *t, struct lf_tail_file *f)
{
    if (t->nfiles == t->fcap) {
        size_t cap = t->fcap ? t->fcap * 2 : 16;
        struct lf_tail_file **v = realloc(t->files, cap * sizeof(*v));
        if (!v)
            return LF_ENOMEM;
        t->files = v;
        t->fcap = cap;
    }
    t->files[t->nfiles++] = f;
    return 0;
}

static int add_file(struct files_input *fi, struct lf_tail_file *f)
{
    return lf_tail_add(&fi->t, f);
}

/* ---- content lost while the agent was away ------------------------------ */

/* lf_tail_want.taken for searches of the input itself. */
static bool taken_by_any(void *arg, uint64_t dev, uint64_t ino)
{
    return lf_tail_inode_taken(arg, NULL, dev, ino);
}

/* How many bytes of entry e's content were not read, for messages. */
static void unread_text(const struct lf_registry_entry *e, char *out, size_t len)
{
    if (!e->size_known)
        snprintf(out, len, "the bytes after offset %" PRIu64 " (its size was not recorded)",
                 e->offset);
    else
        snprintf(out, len, "%" PRIu64 " bytes (offset %" PRIu64 " of %" PRIu64 ")",
                 e->size > e->offset ? e->size - e->offset : 0, e->offset, e->size);
}

enum relocated {
    RELOC_FOLLOWED, /* found, followed from e's offset */
    RELOC_READ,     /* nothing of it was left to read */
    RELOC_LOST      /* not found, reported */
};

/*
 * The content of registry entry e is no longer where e says (its inode
 * holds other content, or its path leads elsewhere) and bytes of it may not
 * have been read: looks for it in the directory of `path` (the inode first,
 * then a copy: same first bytes, at least e->offset bytes; never
 * `skip_ino`) and follows it there read-only from e's offset, under e's
 * content id (on e itself when it is e's inode). Found fully read on e's
 * inode, e takes the file's current name. `live`: e was its path's live
 * file when the agent stopped (and may have grown after it looked).
 */
static enum relocated relocate(struct files_input *fi, struct lf_registry_entry *e,
                               const char *path, uint64_t skip_ino, bool live, const char *when)
{
    struct lf_tail_want w = {.dev = e->dev,
                             .ino = e->ino == skip_ino ? 0 : e->ino,
                             .fp_len = e->fp_len,
                             .fp_hash = e->fp_hash,
                             .min_size = e->offset,
                             .skip_ino = skip_ino,
                             .taken = taken_by_any,
                             .arg = &fi->t};
    struct lf_tail_found found;
    if ((e->fp_len || w.ino) && lf_tail_find_content(path, dir_len(path), &w, &found) == 0) {
        uint64_t size = (uint64_t)found.st.st_size;
        uint64_t off = e->offset;
        const struct lf_registry_entry *own =
            lf_registry_find(fi->t.reg, (uint64_t)found.st.st_dev, (uint64_t)found.st.st_ino);
        if (own && own != e && own->content_id == e->content_id && own->offset > off &&
            own->offset <= size)
            off = own->offset; /* found and partly read before */
        if (size == off) {
            lf_log(LF_LOG_DEBUG, "tail", "%s: %s, now %s, read to its end before", e->path, when,
                   found.path);
            if ((uint64_t)found.st.st_ino == e->ino)
                lf_registry_set_path(fi->t.reg, e, found.path);
            close(found.fd);
            free(found.path);
            return RELOC_READ;
        }
        lf_log(LF_LOG_INFO, "tail",
               "%s: %s, now %s, %" PRIu64 " bytes not read: finishing it from offset %" PRIu64
               ", content %016" PRIx64,
               e->path, when, found.path, size - off, off, e->content_id);
        struct lf_tail_file *f =
            lf_tail_file_recovered(&fi->t, found.path, found.fd, &found.st, e->content_id, off,
                                   e->fp_len, e->fp_hash, watch_dir_of(fi, found.path));
        free(found.path);
        if (!f || add_file(fi, f)) {
            lf_log(LF_LOG_ERROR, "tail", "%s: out of memory; not followed", e->path);
            fi->t.base.counters.errors++;
            lf_tail_file_destroy(f);
            return RELOC_LOST;
        }
        f->seen_gen = fi->gen;
        return RELOC_FOLLOWED;
    }
    if (e->size_known && e->size <= e->offset && !live) {
        lf_log(LF_LOG_DEBUG, "tail", "%s: %s, read to its end before", e->path, when);
        return RELOC_READ;
    }
    /* The live file of a path may have been written to after the agent
     * stopped: that much is unknown, and said. */
    char unread[128];
    unread_text(e, unread, sizeof(unread));
    lf_log(LF_LOG_WARN, "tail",
           "%s: %s and its content is not in its directory any more (compressed or deleted): %s "
           "not read when it was last seen%s are lost",
           e->path, when, unread,
           live ? ", and whatever was written to it after the agent stopped," : "");
    return e->size_known && e->size <= e->offset ? RELOC_READ : RELOC_LOST;
}

/* Where to start reading; *resumed: the entry is for what the file holds. */
static uint64_t start_offset(struct files_input *fi, const char *path, const struct stat *st,
                             struct lf_registry_entry *e, const char **why, bool *resumed)
{
    *resumed = false;
    if (e && (uint64_t)st->st_size >= e->offset && fingerprint_matches(path, st, e)) {
        /* An entry given new content when its old content left (tail_file.c)
         * has no fingerprint and no position yet. */
        *why = e->fp_len == 0 && e->offset == 0 ? "its new content" : "resumed from the registry";
        *resumed = true;
        return e->offset;
    }
    if (e) {
        /* Truncated (copytruncate) or rewritten while the agent was away:
         * what was not read may be in a copy next to it. */
        relocate(fi, e, path, (uint64_t)st->st_ino, strcmp(e->path, path) == 0,
                 "truncated, rewritten or replaced while the agent was not reading it");
        *why = "new content on a file the registry knew";
        return 0;
    }
    if (fi->first_scan && fi->t.conf->start_at == LF_START_END) {
        /* A file followed at this path before, replaced while the agent was
         * down: what was written to it since is read, like any new file. */
        if (lf_registry_find_path(fi->t.reg, path)) {
            *why = "a new file at a path followed before";
            return 0;
        }
        *why = "start_at end";
        return end_offset(path, st);
    }
    *why = fi->first_scan ? "start_at beginning" : "new file";
    return 0;
}

/* A file the globs matched again: follow renames, notice growth while
 * closed. */
static void seen_again(struct files_input *fi, struct lf_tail_file *f, const char *path,
                       const struct stat *st)
{
    if (f->seen_gen == fi->gen)
        return; /* another name of it (a link) matched first */
    f->seen_gen = fi->gen;
    if (strcmp(f->path, path) != 0) {
        struct stat old;
        if (stat(f->path, &old) != 0 || old.st_ino != st->st_ino || old.st_dev != st->st_dev)
            lf_tail_file_rename(f, path, watch_dir_of(fi, path));
    } else if (f->wd < 0) {
        f->wd = watch_dir_of(fi, path);
    }
    if (f->fd < 0 && (uint64_t)st->st_size != f->read_pos)
        f->ready = true;
}

/* The registry entry of a file this input no longer follows (finished, its
 * inode now found again) is taken over; one another input follows is
 * left alone. Returns false to skip the file. */
static bool claim_entry(struct files_input *fi, struct lf_registry_entry *e, const char *path)
{
    if (!e || !e->owner)
        return true;
    struct lf_tail_file *old = e->owner;
    if (old->tail != &fi->t) {
        lf_log(LF_LOG_DEBUG, "tail", "%s: %s: followed by another input", fi->t.name, path);
        return false;
    }
    old->entry = NULL;
    e->owner = NULL;
    return true;
}

static void consider(struct files_input *fi, const char *path)
{
    struct stat st;
    if (excluded(fi, path) || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    struct lf_tail_file *f = find_file(fi, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
    if (f) {
        seen_again(fi, f, path, &st);
        return;
    }
    struct lf_registry_entry *e =
        lf_registry_find(fi->t.reg, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
    if (!claim_entry(fi, e, path))
        return;
    const char *why;
    bool resumed;
    uint64_t off = start_offset(fi, path, &st, e, &why, &resumed);
    f = lf_tail_file_create(&fi->t, path, &st, off, watch_dir_of(fi, path), !resumed);
    if (!f || add_file(fi, f)) {
        lf_log(LF_LOG_ERROR, "tail", "%s: out of memory; not followed", path);
        fi->t.base.counters.errors++;
        lf_tail_file_destroy(f);
        return;
    }
    f->seen_gen = fi->gen;
    lf_log(LF_LOG_INFO, "tail", "%s: following from offset %" PRIu64 " (%s), content %016" PRIx64,
           path, off, why, f->content_id);
}

/* Whether e's path leads to e's inode (it was renamed there). */
static bool matched_inode(const struct lf_registry_entry *e)
{
    struct stat st;
    return stat(e->path, &st) == 0 && (uint64_t)st.st_ino == e->ino &&
           (uint64_t)st.st_dev == e->dev;
}

/* Whether one of the input's patterns matches path (as glob() would). */
static bool matched(const struct files_input *fi, const char *path)
{
    const struct lf_files_conf *conf = fi->t.conf;
    for (size_t i = 0; i < conf->npaths; i++) {
        if (fnmatch(conf->paths[i], path, FNM_PATHNAME | FNM_PERIOD) == 0)
            return !excluded(fi, path);
    }
    return false;
}

/* Compressed, by its name or its first bytes: not lines we can read. */
static bool compressed(int dirfd_, const char *name)
{
    static const char *const suffixes[] = {".gz", ".bz2", ".xz", ".zst", ".lz4", ".Z", ".zip"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strcmp(name + n - k, suffixes[i]) == 0)
            return true;
    }
    unsigned char m[4] = {0};
    int fd = openat(dirfd_, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    ssize_t got = fd >= 0 ? pread(fd, m, sizeof(m), 0) : -1;
    if (fd >= 0)
        close(fd);
    return got >= 2 && ((m[0] == 0x1f && m[1] == 0x8b) || (m[0] == 'B' && m[1] == 'Z') ||
                        (got == 4 && m[0] == 0xfd && m[1] == '7' && m[2] == 'z' && m[3] == 'X') ||
                        (got == 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f));
}

/* Rotation suffixes: app.log.1, app.log-20261206, app.log_old. */
static bool rotated_name(const char *name, const char *base)
{
    size_t n = strlen(base);
    return strncmp(name, base, n) == 0 && (name[n] == '.' || name[n] == '-' || name[n] == '_') &&
           name[n + 1] != '\0';
}

/*
 * Files written at `path` while the agent was down and rotated away before
 * it came back (app.log -> app.log.1 -> app.log.2 with a new app.log each
 * time: the middle one was never seen): regular, uncompressed files named
 * like rotations of path, that nothing follows or knows, modified since the
 * agent last saved its registry (`since`, wall ms). Read from their start.
 */
static void read_successors(struct files_input *fi, const char *path, int64_t since)
{
    size_t n = dir_len(path);
    char dir[4096];
    if (n >= sizeof(dir))
        return;
    if (n)
        memcpy(dir, path, n);
    else
        dir[n++] = '.';
    dir[n] = '\0';
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (!rotated_name(de->d_name, base) ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
            st.st_size == 0 ||
            (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 < since ||
            lf_registry_find(fi->t.reg, (uint64_t)st.st_dev, (uint64_t)st.st_ino) ||
            find_file(fi, (uint64_t)st.st_dev, (uint64_t)st.st_ino) ||
            compressed(dirfd(d), de->d_name))
            continue;
        int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
        char full[4096 + 256];
        snprintf(full, sizeof(full), "%s/%s", dir, de->d_name);
        uint32_t len = 0;
        uint64_t hash = 0;
        if (fd < 0 || lf_tail_fingerprint(fd, LF_REGISTRY_FP_MAX, &len, &hash)) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        lf_log(LF_LOG_INFO, "tail",
               "%s: written at %s while the agent was down, and rotated since: reading it from the "
               "start",
               full, path);
        struct lf_tail_file *f = lf_tail_file_recovered(&fi->t, full, fd, &st, lf_registry_new_id(),
                                                        0, len, hash, watch_dir_of(fi, full));
        if (!f || add_file(fi, f)) {
            lf_log(LF_LOG_ERROR, "tail", "%s: out of memory; not followed", full);
            lf_tail_file_destroy(f);
            continue;
        }
        f->seen_gen = fi->gen;
    }
    closedir(d);
}

/* Whether `path` is named like a rotation of a path the input follows
 * (app.log.2 of app.log): where a file recovered after a rotation is
 * finished, under a name the patterns need not match. */
static bool rotation_of_matched(const struct files_input *fi, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t base = slash ? (size_t)(slash - path) + 1 : 0;
    char *p = strdup(path);
    bool yes = false;
    for (size_t i = p ? strlen(p) : 0; p && i-- > base + 1 && !yes;) {
        if (p[i] != '.' && p[i] != '-' && p[i] != '_')
            continue;
        p[i] = '\0';
        yes = matched(fi, p) && rotated_name(path + base, p + base);
        p[i] = path[i];
    }
    free(p);
    return yes;
}

/* An entry no file claimed, of content this input was finishing after a
 * rotation (named like a rotation of one of its paths) when the agent
 * stopped, with bytes not read yet. */
static bool unfinished_rotated(const struct files_input *fi, const struct lf_registry_entry *e)
{
    if (e->owner || matched(fi, e->path) || !rotation_of_matched(fi, e->path))
        return false;
    if (e->size_known && e->offset < e->size)
        return true;
    struct stat st;
    return stat(e->path, &st) == 0 && (uint64_t)st.st_ino == e->ino &&
           (uint64_t)st.st_dev == e->dev && (uint64_t)st.st_size > e->offset;
}

/* Whether e, relocated (`how`), no longer names a file and goes. Followed on
 * its own inode, or kept under its new name, e is still the file's entry. */
static bool relocated_away(struct lf_registry_entry *e, enum relocated how)
{
    return how == RELOC_LOST || (how == RELOC_FOLLOWED && e->owner == NULL) ||
           (how == RELOC_READ && !matched_inode(e));
}

/*
 * At startup, after the first scan: registry entries of this input's paths
 * that no file claimed were rotated away (or deleted) while the agent was
 * down. Each is looked for in its directory and finished; what cannot be
 * found is reported, and the entry goes. A path whose last followed file
 * left it is also searched for files written there since (read_successors).
 *
 * Content recovered that way is followed under its rotated name (app.log.2),
 * which the patterns need not match: if the agent stopped again before it
 * was finished, its entry (unfinished_rotated) is looked for and finished
 * the same way, or reported; it would be forgotten otherwise.
 */
static void recover_lost(struct files_input *fi)
{
    struct lf_registry *r = fi->t.reg;
    /* Unfinished rotated content first: the searches for the live paths'
     * content then see it followed. */
    size_t nrot = 0, nall = lf_registry_count(r);
    struct lf_registry_entry **rot = nall ? calloc(nall, sizeof(*rot)) : NULL;
    for (size_t i = 0; rot && i < nall; i++) {
        struct lf_registry_entry *e = lf_registry_at(r, i);
        if (unfinished_rotated(fi, e))
            rot[nrot++] = e;
    }
    for (size_t i = 0; i < nrot; i++) {
        enum relocated how =
            relocate(fi, rot[i], rot[i]->path, 0, false, "not finished when the agent stopped");
        if (relocated_away(rot[i], how))
            lf_registry_remove(r, rot[i]);
    }
    free(rot);
    size_t n = lf_registry_count(r), nlost = 0;
    struct lf_registry_entry **lost = n ? calloc(n, sizeof(*lost)) : NULL;
    bool *live = n ? calloc(n, sizeof(*live)) : NULL;
    if (n && (!lost || !live)) {
        free(lost);
        free(live);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct lf_registry_entry *e = lf_registry_at(r, i);
        struct stat st;
        if (e->owner || !matched(fi, e->path) ||
            (stat(e->path, &st) == 0 && (uint64_t)st.st_ino == e->ino &&
             (uint64_t)st.st_dev == e->dev))
            continue;
        /* Was it the path's live file when the agent stopped (of the
         * entries of that path on disk, the one seen last)? Then files may
         * have come and gone there. */
        bool last = true;
        for (size_t k = 0; k < n && last; k++) {
            struct lf_registry_entry *x = lf_registry_at(r, k);
            last = x == e || !x->content_saved || strcmp(x->path, e->path) != 0 ||
                   x->seen_ms <= e->seen_ms;
        }
        live[nlost] = last;
        lost[nlost++] = e;
    }
    struct moved {
        char *path;
        int64_t since;
    } *moved = nlost ? calloc(nlost, sizeof(*moved)) : NULL;
    size_t nmoved = 0;
    for (size_t i = 0; i < nlost; i++) {
        struct lf_registry_entry *e = lost[i];
        if (live[i] && moved && (moved[nmoved].path = strdup(e->path)))
            moved[nmoved++].since = e->seen_ms - SUCCESSOR_SLACK_MS;
        struct stat st;
        uint64_t now_there = stat(e->path, &st) == 0 ? (uint64_t)st.st_ino : 0;
        enum relocated how = relocate(fi, e, e->path, now_there, live[i],
                                      "rotated or deleted while the agent was down");
        if (relocated_away(e, how))
            lf_registry_remove(r, e);
    }
    for (size_t i = 0; i < nmoved; i++) {
        read_successors(fi, moved[i].path, moved[i].since);
        free(moved[i].path);
    }
    free(moved);
    free(lost);
    free(live);
}

static void rescan(struct files_input *fi, int64_t now)
{
    const struct lf_files_conf *conf = fi->t.conf;
    fi->gen++;
    for (size_t i = 0; i < conf->npaths; i++) {
        glob_t g;
        watch_pattern_dir(fi, conf->paths[i]);
        int rc = glob(conf->paths[i], 0, NULL, &g);
        if (rc == GLOB_NOSPACE)
            lf_log(LF_LOG_ERROR, "tail", "%s: out of memory expanding %s", fi->t.name,
                   conf->paths[i]);
        for (size_t j = 0; rc == 0 && j < g.gl_pathc; j++)
            consider(fi, g.gl_pathv[j]);
        if (fi->path_watch)
            lf_tail_path_seen(&fi->path_watch[i], fi->t.name, conf->paths[i],
                              rc == 0 ? g.gl_pathc : 0, now);
        if (rc != GLOB_NOMATCH)
            globfree(&g);
    }
    /* Files the globs no longer lead to: renamed away, replaced, deleted. */
    for (size_t i = 0; i < fi->t.nfiles; i++) {
        if (fi->t.files[i]->seen_gen != fi->gen)
            lf_tail_file_check_path(fi->t.files[i]);
    }
    fi->first_scan = false;
    fi->last_rescan = now;
    fi->next_rescan = now + fi->rescan_ms;
}

static void rescan_soon(struct files_input *fi, int64_t now)
{
    int64_t at = fi->last_rescan + RESCAN_MIN_GAP_MS;
    if (at < now)
        at = now;
    if (at < fi->next_rescan)
        fi->next_rescan = at;
}

/* ---- inotify ------------------------------------------------------------- */

static void handle_event(struct files_input *fi, const struct inotify_event *ev, int64_t now)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        lf_log(LF_LOG_WARN, "tail", "%s: inotify queue overflowed; checking every file",
               fi->t.name);
        for (size_t i = 0; i < fi->t.nfiles; i++)
            fi->t.files[i]->ready = true;
        rescan_soon(fi, now);
        return;
    }
    if (ev->mask & IN_IGNORED) {
        forget_watch(fi, ev->wd);
        rescan_soon(fi, now);
        return;
    }
    if (ev->mask &
        (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF))
        rescan_soon(fi, now);
    for (size_t i = 0; i < fi->t.nfiles; i++) {
        struct lf_tail_file *f = fi->t.files[i];
        if (f->wd != ev->wd)
            continue;
        /* A rotated file has another name now: any change nearby may be it. */
        if (f->state != LF_TAIL_ACTIVE || (ev->len && strcmp(f->base, ev->name) == 0))
            f->ready = true;
    }
}

static void read_events(struct files_input *fi, int64_t now)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(fi->ifd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN)
                lf_log(LF_LOG_ERROR, "tail", "%s: reading inotify events: %s", fi->t.name,
                       strerror(errno));
            return;
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const void *)p;
            handle_event(fi, ev, now);
            p += sizeof(*ev) + ev->len;
        }
    }
}

/* ---- the tick ------------------------------------------------------------ */

/* Once a second: poll paths inotify does not cover, and drive every open
 * file (at its end, one fstat), which also checks it for truncation. */
static void tick(struct files_input *fi, int64_t now)
{
    for (size_t i = 0; i < fi->t.nfiles; i++) {
        struct lf_tail_file *f = fi->t.files[i];
        if (f->state == LF_TAIL_DONE)
            continue;
        if (f->wd < 0)
            lf_tail_file_check_path(f);
        if (f->fd >= 0 && f->state != LF_TAIL_COPY && !f->wait_acks)
            f->ready = true;
    }
    fi->next_tick = now + POLL_MS;
}

/* ---- descriptors and driving --------------------------------------------- */

/* Closes the least recently active idle file; false if there is none. */
static bool evict_one(struct files_input *fi)
{
    struct lf_tail_file *victim = NULL;
    for (size_t i = 0; i < fi->t.nfiles; i++) {
        struct lf_tail_file *f = fi->t.files[i];
        if (lf_tail_file_idle(f) && (!victim || f->active_ms < victim->active_ms))
            victim = f;
    }
    if (!victim)
        return false;
    lf_log(LF_LOG_DEBUG, "tail", "%s: closed while idle (max_open %zu)", victim->path,
           fi->max_open);
    lf_tail_file_close(victim);
    return true;
}

/* Returns 0 with the file open, or non-zero to try again later. */
static int open_file(struct files_input *fi, struct lf_tail_file *f, int64_t now)
{
    if (fi->t.nopen >= fi->max_open && !evict_one(fi))
        return LF_ELIMIT;
    int rc = lf_tail_file_open(f);
    if (rc == LF_ENOENT) {
        /* Its path leads elsewhere now: a rotation while it was closed. */
        lf_tail_file_check_path(f);
        rescan_soon(fi, now);
    }
    if (rc && rc != LF_ELIMIT)
        f->ready = false; /* retried when it changes or at the next rescan */
    return rc;
}

/* Drives one file; returns false when the pipeline is full. */
static bool drive(struct files_input *fi, struct lf_tail_file *f, int64_t now, bool *starved)
{
    if (f->fd < 0 && open_file(fi, f, now)) {
        *starved = *starved || f->ready;
        return true;
    }
    switch (lf_tail_file_drive(f, now, LINES_PER_TURN)) {
    case LF_TAIL_MORE:
        f->ready = true;
        return true;
    case LF_TAIL_BLOCKED:
        return false;
    case LF_TAIL_FAILED:
        lf_tail_file_close(f); /* reopened when it changes, or at the next rescan */
        f->ready = false;
        return true;
    default:
        f->ready = false;
        return true;
    }
}

static void drive_all(struct files_input *fi, int64_t now)
{
    size_t n = fi->t.nfiles;
    fi->blocked = false;
    fi->blocked_until = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t d = lf_tail_file_deadline(fi->t.files[i]);
        if (d >= 0 && d <= now)
            fi->t.files[i]->ready = true;
    }
    /* A second pass gives files that found no descriptor another chance
     * once the first pass has brought others to their end. */
    for (int pass = 0; pass < 2 && n; pass++) {
        bool starved = false;
        for (size_t k = 0; k < n; k++) {
            struct lf_tail_file *f = fi->t.files[(fi->rr + k) % n];
            if (!f->ready || f->state == LF_TAIL_DONE)
                continue;
            if (!drive(fi, f, now, &starved)) {
                fi->blocked = true;
                fi->blocked_until = now + BLOCKED_RETRY_MS;
                fi->rr = (fi->rr + k) % n; /* this one goes first next time */
                return;
            }
        }
        if (!starved)
            break;
    }
    if (n)
        fi->rr = (fi->rr + 1) % n;
}

static void sweep_all(struct files_input *fi, int64_t now)
{
    for (size_t i = 0; i < fi->t.nfiles;) {
        struct lf_tail_file *f = fi->t.files[i];
        if (!lf_tail_file_sweep(f, now)) {
            i++;
            continue;
        }
        lf_log(LF_LOG_DEBUG, "tail", "%s: forgotten", f->path);
        lf_tail_file_destroy(f);
        fi->t.files[i] = fi->t.files[--fi->t.nfiles];
    }
}

/* When the files need a run. While the pipeline refuses events nothing is
 * due before the retry (an acknowledgement wakes the input sooner): a
 * blocked input sleeps, it does not poll. */
/* Refused, and the output has not taken the refused batch since: once it
 * has (it acknowledged documents and made room), reading goes on at once
 * instead of after the retry, or a healthy cluster would idle. */
static bool still_blocked(struct files_input *fi)
{
    return fi->blocked && lf_pipeline_waiting(fi->t.pipe);
}

static int64_t files_due(struct files_input *fi, int64_t now)
{
    int64_t d = -1;
    for (size_t i = 0; i < fi->t.nfiles; i++) {
        struct lf_tail_file *f = fi->t.files[i];
        if (f->ready && f->fd >= 0 && f->state != LF_TAIL_DONE && f->state != LF_TAIL_COPY)
            d = now;
        d = earliest(d, lf_tail_file_deadline(f));
    }
    if (still_blocked(fi) && d >= 0 && d < fi->blocked_until)
        d = fi->blocked_until;
    return d;
}

/* While blocked, inotify's events wait in the kernel (one per file and
 * kind, merged) instead of waking the agent at every write: the descriptor
 * leaves the epoll the agent waits on, and comes back with the retry. */
static void pause_watch(struct files_input *fi, bool pause)
{
    if (fi->epfd < 0 || fi->ifd < 0 || fi->paused == pause)
        return;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fi->ifd};
    if (epoll_ctl(fi->epfd, pause ? EPOLL_CTL_DEL : EPOLL_CTL_ADD, fi->ifd, &ev) == 0)
        fi->paused = pause;
}

/* ---- the ops ------------------------------------------------------------- */

static int files_fd(struct lf_input *in)
{
    return files_input(in)->epfd;
}

static int64_t files_deadline(struct lf_input *in)
{
    struct files_input *fi = files_input(in);
    if (fi->stopped)
        return -1;
    if (fi->t.wake)
        return fi->now;
    int64_t d = earliest(fi->next_rescan, fi->next_tick);
    d = earliest(d, fi->files_due);
    d = earliest(d, lf_registry_due(fi->t.reg));
    return d < fi->now ? fi->now : d;
}

static int files_run(struct lf_input *in, int64_t now)
{
    struct files_input *fi = files_input(in);
    if (fi->stopped)
        return 0;
    fi->now = now;
    bool woken = fi->t.wake;
    fi->t.wake = false;
    /* Blocked, nothing is driven before the retry or an acknowledgement:
     * a run then costs no system call but what is due (a rescan, the tick,
     * a registry save). */
    bool drive_now = !still_blocked(fi) || woken || now >= fi->blocked_until;
    if (fi->ifd >= 0 && (!fi->paused || drive_now))
        read_events(fi, now);
    if (now >= fi->next_rescan)
        rescan(fi, now);
    if (now >= fi->next_tick)
        tick(fi, now);
    if (drive_now)
        drive_all(fi, now);
    pause_watch(fi, fi->blocked);
    if (fi->t.rescan) {
        /* A file's content moved (copytruncate): its path holds new content. */
        fi->t.rescan = false;
        rescan_soon(fi, now);
    }
    sweep_all(fi, now);
    lf_registry_checkpoint(fi->t.reg, now, false);
    fi->files_due = files_due(fi, now);
    return 0;
}

static void files_stop(struct lf_input *in)
{
    struct files_input *fi = files_input(in);
    if (fi->stopped)
        return;
    fi->stopped = true;
    for (size_t i = 0; i < fi->t.nfiles; i++)
        lf_tail_file_close(fi->t.files[i]);
    if (fi->ifd >= 0)
        close(fi->ifd);
    fi->ifd = -1;
    lf_registry_checkpoint(fi->t.reg, lf_now_mono_ms(), true);
}

static int files_checkpoint(struct lf_input *in)
{
    struct files_input *fi = files_input(in);
    return lf_registry_checkpoint(fi->t.reg, lf_now_mono_ms(), fi->stopped);
}

static size_t files_in_flight(const struct lf_input *in)
{
    const struct files_input *fi = (const struct files_input *)(const void *)in;
    size_t n = 0;
    for (size_t i = 0; i < fi->t.nfiles; i++)
        n += lf_tail_file_pending(fi->t.files[i]);
    return n;
}

static void files_destroy(struct lf_input *in)
{
    struct files_input *fi = files_input(in);
    if (!fi)
        return;
    if (fi->t.reg)
        lf_registry_checkpoint(fi->t.reg, lf_now_mono_ms(), true);
    for (size_t i = 0; i < fi->t.nfiles; i++)
        lf_tail_file_destroy(fi->t.files[i]);
    free(fi->t.files);
    free(fi->t.rbuf);
    for (size_t i = 0; i < fi->ndirs; i++)
        free(fi->dirs[i].path);
    free(fi->dirs);
    free(fi->path_watch);
    if (fi->ifd >= 0)
        close(fi->ifd);
    if (fi->epfd >= 0)
        close(fi->epfd);
    lf_event_free(&fi->t.ev);
    lf_jsonlines_destroy(fi->t.json);
    lf_registry_close(fi->t.reg);
    free(fi);
}

static size_t files_files(const struct lf_input *in, struct lf_input_file *out, size_t max)
{
    const struct lf_tail *t = &((const struct files_input *)in)->t;
    size_t n = 0;
    for (size_t i = 0; i < t->nfiles; i++) {
        const struct lf_tail_file *f = t->files[i];
        if (f->state == LF_TAIL_COPY || f->state == LF_TAIL_DONE)
            continue;
        if (n < max)
            out[n] = (struct lf_input_file){
                .path = f->path, .offset = f->pos, .size = f->size > f->pos ? f->size : f->pos};
        n++;
    }
    return n;
}

static size_t files_unmatched(const struct lf_input *in, struct lf_input_path *out, size_t max)
{
    const struct files_input *fi = (const struct files_input *)in;
    size_t n = 0;
    for (size_t i = 0; fi->path_watch && i < fi->t.conf->npaths; i++) {
        const struct lf_tail_path_watch *w = &fi->path_watch[i];
        if (w->said_state == LF_TAIL_PATH_OK)
            continue;
        if (n < max)
            out[n] = (struct lf_input_path){.pattern = fi->t.conf->paths[i], .why = w->why};
        n++;
    }
    return n;
}

static const struct lf_input_ops files_ops = {
    .name = "files",
    .fd = files_fd,
    .deadline = files_deadline,
    .run = files_run,
    .stop = files_stop,
    .checkpoint = files_checkpoint,
    .in_flight = files_in_flight,
    .destroy = files_destroy,
    .files = files_files,
    .unmatched = files_unmatched,
};

/* ---- creation ------------------------------------------------------------ */

static size_t grammar_max_line(const struct lf_agent_conf *conf, const char *name)
{
    for (size_t i = 0; name && i < conf->ngrammars; i++) {
        if (strcmp(conf->grammars[i].name, name) == 0 && conf->grammars[i].max_line)
            return (size_t)conf->grammars[i].max_line;
    }
    return DEFAULT_MAX_LINE;
}

static void setup(struct files_input *fi, const struct lf_agent_conf *conf, size_t index)
{
    const struct lf_files_conf *fc = &conf->files[index];
    struct lf_tail *t = &fi->t;
    t->base.ops = &files_ops;
    snprintf(t->name, sizeof(t->name), "files[%zu]", index);
    t->base.name = t->name;
    t->conf = fc;
    t->max_line = grammar_max_line(conf, fc->grammar);
    /* DESIGN's name for syslog lines; other grammars name their dataset. */
    const char *g = fc->grammar ? fc->grammar : "syslog";
    snprintf(t->dataset, sizeof(t->dataset), "%s%s", strcmp(g, "syslog") == 0 ? "system." : "", g);
    if (fc->json.enabled && !fc->json.apply_grammar)
        snprintf(t->dataset, sizeof(t->dataset), "json"); /* the grammar is not used */
    t->partial_wait_ms = (int64_t)fc->partial_wait_ms;
    t->rotated_idle_ms = t->partial_wait_ms + 1000;
    if (t->rotated_idle_ms < LF_TAIL_ROTATED_IDLE_MS)
        t->rotated_idle_ms = LF_TAIL_ROTATED_IDLE_MS;
    fi->max_open = fc->max_open ? fc->max_open : DEFAULT_MAX_OPEN;
    fi->rescan_ms = fc->rescan_ms ? (int64_t)fc->rescan_ms : DEFAULT_RESCAN_MS;
    fi->first_scan = true;
    t->ackq_cap = LF_TAIL_ACKQ_CAP;
    const char *cap_env = getenv("LOGFERRY_TAIL_ACKQ_CAP");
    if (cap_env && strtoul(cap_env, NULL, 10) > 0)
        t->ackq_cap = (size_t)strtoul(cap_env, NULL, 10);
    lf_event_init(&t->ev);
    /* Paths come from literals and from the grammar, which outlives t; a
     * JSON line's come from its keys, in a buffer reused for every line. */
    if (!fc->json.enabled)
        lf_event_cache_layouts(&t->ev);
}

struct lf_input *lf_input_files_create(const struct lf_agent_conf *conf, size_t index,
                                       struct lf_parser *parser, struct lf_pipeline *p,
                                       char *errbuf, size_t errlen)
{
    if (index >= conf->nfiles || !conf->files[index].npaths || !conf->data_dir) {
        snprintf(errbuf, errlen, "files[%zu]: no paths, or no data_dir", index);
        return NULL;
    }
    struct files_input *fi = calloc(1, sizeof(*fi));
    if (!fi) {
        snprintf(errbuf, errlen, "files[%zu]: out of memory", index);
        return NULL;
    }
    fi->ifd = -1;
    fi->epfd = -1;
    setup(fi, conf, index);
    fi->path_watch = calloc(conf->files[index].npaths, sizeof(*fi->path_watch));
    if (!fi->path_watch) {
        snprintf(errbuf, errlen, "files[%zu]: out of memory", index);
        files_destroy(&fi->t.base);
        return NULL;
    }
    fi->t.parser = parser;
    fi->t.pipe = p;
    if (conf->files[index].json.enabled &&
        !(fi->t.json =
              lf_jsonlines_create(&conf->files[index].json, fi->t.max_line, errbuf, errlen))) {
        files_destroy(&fi->t.base);
        return NULL;
    }
    fi->t.reg = lf_registry_open(conf->data_dir, errbuf, errlen);
    if (!fi->t.reg) {
        files_destroy(&fi->t.base);
        return NULL;
    }
    /* LOGFERRY_TAIL_POLL=1: for filesystems where inotify hears nothing
     * (NFS, some FUSE), and for tests of the fallback. */
    const char *poll_env = getenv("LOGFERRY_TAIL_POLL");
    if (poll_env && strcmp(poll_env, "1") == 0)
        lf_log(LF_LOG_INFO, "tail", "%s: polling every second (LOGFERRY_TAIL_POLL)", fi->t.name);
    else if ((fi->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
        lf_log(LF_LOG_WARN, "tail", "%s: inotify unavailable (%s): polling every second",
               fi->t.name, strerror(errno));
    if (fi->ifd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fi->ifd};
        fi->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (fi->epfd < 0 || epoll_ctl(fi->epfd, EPOLL_CTL_ADD, fi->ifd, &ev) != 0) {
            snprintf(errbuf, errlen, "%s: epoll: %s", fi->t.name, strerror(errno));
            files_destroy(&fi->t.base);
            return NULL;
        }
    }
    /* Startup is now: what start_at end means is fixed here, not at the
     * first run. */
    int64_t now = lf_now_mono_ms();
    fi->now = now;
    rescan(fi, now);
    recover_lost(fi);
    fi->files_due = now;
    fi->next_tick = now + POLL_MS;
    return &fi->t.base;
}
