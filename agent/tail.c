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
 * inotify watches the parent directories (not the files: no descriptor per
 * file) and names the file that changed. Without inotify, or for a directory
 * it could not watch, every file is checked once a second. Either way a tick
 * each second retries reads of open files and checks their content, so a
 * missed event costs latency, never data.
 *
 * At most max_open descriptors are open for followed files: to open another,
 * the least recently active file that is at its end with nothing pending is
 * closed; it is reopened by path when it grows, after checking it is still
 * the same inode. Files being finished after a rotation are never closed
 * early, since their path no longer leads to them.
 */
#define _POSIX_C_SOURCE 200809L
#define _FILE_OFFSET_BITS 64
#include "tail_int.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    struct watched_dir *dirs;
    size_t ndirs, dcap;
    struct lf_tail_file **files;
    size_t nfiles, fcap;
    size_t max_open;
    int64_t rescan_ms;
    unsigned gen;
    bool first_scan;
    bool stopped;
    bool blocked; /* the pipeline refused an event in the last run */
    bool watch_limit_logged;
    size_t rr; /* where the next run starts, for fairness */
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
    for (size_t i = 0; i < fi->nfiles; i++) {
        if (fi->files[i]->wd == wd)
            fi->files[i]->wd = -1;
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
    for (size_t i = 0; i < fi->nfiles; i++) {
        struct lf_tail_file *f = fi->files[i];
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

/* Where to start reading; *resumed: the entry is for what the file holds. */
static uint64_t start_offset(struct files_input *fi, const char *path, const struct stat *st,
                             const struct lf_registry_entry *e, const char **why, bool *resumed)
{
    *resumed = false;
    if (e && (uint64_t)st->st_size >= e->offset && fingerprint_matches(path, st, e)) {
        *why = "resumed from the registry";
        *resumed = true;
        return e->offset;
    }
    if (e) {
        lf_log(LF_LOG_WARN, "tail",
               "%s: registry offset %" PRIu64 " does not fit (size %" PRIu64
               ", or its first bytes changed): truncated, or a new file on a reused inode",
               path, e->offset, (uint64_t)st->st_size);
        *why = "registry entry did not match";
        return 0;
    }
    if (fi->first_scan && fi->t.conf->start_at == LF_START_END) {
        *why = "start_at end";
        return end_offset(path, st);
    }
    *why = fi->first_scan ? "start_at beginning" : "new file";
    return 0;
}

static int add_file(struct files_input *fi, struct lf_tail_file *f)
{
    if (fi->nfiles == fi->fcap) {
        size_t cap = fi->fcap ? fi->fcap * 2 : 16;
        struct lf_tail_file **v = realloc(fi->files, cap * sizeof(*v));
        if (!v)
            return LF_ENOMEM;
        fi->files = v;
        fi->fcap = cap;
    }
    fi->files[fi->nfiles++] = f;
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
        if (rc != GLOB_NOMATCH)
            globfree(&g);
    }
    /* Files the globs no longer lead to: renamed away, replaced, deleted. */
    for (size_t i = 0; i < fi->nfiles; i++) {
        if (fi->files[i]->seen_gen != fi->gen)
            lf_tail_file_check_path(fi->files[i]);
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
        for (size_t i = 0; i < fi->nfiles; i++)
            fi->files[i]->ready = true;
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
    for (size_t i = 0; i < fi->nfiles; i++) {
        struct lf_tail_file *f = fi->files[i];
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
 * file (cheap at its end: a pread, an fstat, the fingerprint), which also
 * checks it for truncation. */
static void tick(struct files_input *fi, int64_t now)
{
    for (size_t i = 0; i < fi->nfiles; i++) {
        struct lf_tail_file *f = fi->files[i];
        if (f->state == LF_TAIL_DONE)
            continue;
        if (f->wd < 0)
            lf_tail_file_check_path(f);
        if (f->fd >= 0 && !f->trunc_wait && !f->wait_acks)
            f->ready = true;
    }
    fi->next_tick = now + POLL_MS;
}

/* ---- descriptors and driving --------------------------------------------- */

/* Closes the least recently active idle file; false if there is none. */
static bool evict_one(struct files_input *fi)
{
    struct lf_tail_file *victim = NULL;
    for (size_t i = 0; i < fi->nfiles; i++) {
        struct lf_tail_file *f = fi->files[i];
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
    size_t n = fi->nfiles;
    fi->blocked = false;
    for (size_t i = 0; i < n; i++) {
        int64_t d = lf_tail_file_deadline(fi->files[i]);
        if (d >= 0 && d <= now)
            fi->files[i]->ready = true;
    }
    /* A second pass gives files that found no descriptor another chance
     * once the first pass has brought others to their end. */
    for (int pass = 0; pass < 2 && n; pass++) {
        bool starved = false;
        for (size_t k = 0; k < n; k++) {
            struct lf_tail_file *f = fi->files[(fi->rr + k) % n];
            if (!f->ready || f->state == LF_TAIL_DONE)
                continue;
            if (!drive(fi, f, now, &starved)) {
                fi->blocked = true;
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
    for (size_t i = 0; i < fi->nfiles;) {
        struct lf_tail_file *f = fi->files[i];
        if (!lf_tail_file_sweep(f, now)) {
            i++;
            continue;
        }
        lf_log(LF_LOG_DEBUG, "tail", "%s: forgotten", f->path);
        lf_tail_file_destroy(f);
        fi->files[i] = fi->files[--fi->nfiles];
    }
}

static int64_t files_due(struct files_input *fi, int64_t now)
{
    int64_t d = -1;
    for (size_t i = 0; i < fi->nfiles; i++) {
        struct lf_tail_file *f = fi->files[i];
        if (f->ready && f->fd >= 0)
            d = fi->blocked ? now + BLOCKED_RETRY_MS : now;
        d = earliest(d, lf_tail_file_deadline(f));
    }
    return d;
}

/* ---- the ops ------------------------------------------------------------- */

static int files_fd(struct lf_input *in)
{
    return files_input(in)->ifd;
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
    fi->t.wake = false;
    if (fi->ifd >= 0)
        read_events(fi, now);
    if (now >= fi->next_rescan)
        rescan(fi, now);
    if (now >= fi->next_tick)
        tick(fi, now);
    drive_all(fi, now);
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
    for (size_t i = 0; i < fi->nfiles; i++)
        lf_tail_file_close(fi->files[i]);
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
    for (size_t i = 0; i < fi->nfiles; i++)
        n += lf_tail_file_pending(fi->files[i]);
    return n;
}

static void files_destroy(struct lf_input *in)
{
    struct files_input *fi = files_input(in);
    if (!fi)
        return;
    if (fi->t.reg)
        lf_registry_checkpoint(fi->t.reg, lf_now_mono_ms(), true);
    for (size_t i = 0; i < fi->nfiles; i++)
        lf_tail_file_destroy(fi->files[i]);
    free(fi->files);
    for (size_t i = 0; i < fi->ndirs; i++)
        free(fi->dirs[i].path);
    free(fi->dirs);
    if (fi->ifd >= 0)
        close(fi->ifd);
    lf_event_free(&fi->t.ev);
    lf_registry_close(fi->t.reg);
    free(fi);
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
    /* Paths come from literals and from the grammar, which outlives t. */
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
    setup(fi, conf, index);
    fi->t.parser = parser;
    fi->t.pipe = p;
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
    /* Startup is now: what start_at end means is fixed here, not at the
     * first run. */
    int64_t now = lf_now_mono_ms();
    fi->now = now;
    rescan(fi, now);
    fi->files_due = now;
    fi->next_tick = now + POLL_MS;
    return &fi->t.base;
}
