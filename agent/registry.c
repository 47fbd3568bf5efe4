/*
 * registry.c - the durable read positions of tailed files (see registry.h).
 *
 * The file is one JSON object, an entry per line so that an operator can
 * read and diff it:
 *
 *   {"version":1,"entries":[
 *   {"dev":2049,"ino":1311,"offset":8812,"fp_len":64,"fp":"9d3f...","content_id":"5be0...","size":9100,"seen":1763744521000,"path":"/var/log/syslog"}
 *   ]}
 *
 * "size" (the file's size at the last look) came later too, without a new
 * version: an entry without it has an unknown size.
 *
 * "content_id" is the content id, 16 lowercase hex digits (see
 * registry.h). It came without a new "version": an older agent ignores it.
 * Entries written before it existed (no "content_id") are read as they were
 * and given a new content id, marked unsaved so that it is written before
 * their first event. The lines such a file ships after the upgrade get _ids
 * made from that id, not from the path as before, so a line that was shipped
 * but not yet acknowledged when the old agent stopped is indexed a second
 * time (once, at the upgrade).
 *
 * "cursors" (after "entries"; also without a new version) holds the named
 * cursors of inputs that are not files, one per line:
 *
 *   "cursors":[
 *   {"name":"journald:system","cursor":"s=9dc4...;i=1a2;b=...;m=...;t=...;x=..."}
 *   ]
 *
 * 64-bit unsigned numbers past INT64_MAX (rare inode numbers) are written as
 * their two's complement and read back the same way, so nothing is lost.
 * Reading uses jansson; writing is done by hand because a path may hold
 * bytes that are not UTF-8 (lf_json_write_string keeps them readable).
 */
#define _POSIX_C_SOURCE 200809L
#include "registry.h"

#include "input.h"
#include "lf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REGISTRY_NAME "registry.json"
#define REGISTRY_VERSION 1
/* A registry this large is not one we wrote; the cap keeps memory bounded. */
#define REGISTRY_MAX_BYTES (512u << 20)

/* A named cursor (registry.h). */
struct named_cursor {
    char *name, *value;
};

struct lf_registry {
    char *dir;
    char *path;     /* <dir>/registry.json */
    char *tmp_path; /* <dir>/registry.json.tmp */
    struct lf_registry_entry **v;
    size_t n, cap;
    struct named_cursor *cursors;
    size_t ncursors;
    bool dirty;
    bool save_failed; /* the last save did not go through */
    int64_t saved_mono_ms;
    unsigned refs;
    struct lf_registry *next;
};

/* Open registries, one per data_dir, shared by the file inputs. */
static struct lf_registry *open_registries;

uint64_t lf_registry_fingerprint(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* splitmix64: spreads a counter or clock into well-mixed bits. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static bool read_urandom(void *p, size_t n)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t got;
    do
        got = read(fd, p, n);
    while (got < 0 && errno == EINTR);
    close(fd);
    return got == (ssize_t)n;
}

uint64_t lf_registry_new_id(void)
{
    static uint64_t counter;
    uint64_t id = 0;
    ssize_t n;
    /* GRND_NONBLOCK: at early boot, before the pool is ready, fall back
     * rather than stall the agent; uniqueness is what matters here. */
    do
        n = getrandom(&id, sizeof(id), GRND_NONBLOCK);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(id) && !read_urandom(&id, sizeof(id))) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        id = mix64((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^
             mix64((uint64_t)getpid() << 32 ^ ++counter) ^ mix64((uint64_t)(uintptr_t)&id);
    }
    return id ? id : 1;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, name);
    return s;
}

/* mkdir -p: every missing component, so a fresh host needs no setup. */
static int make_dirs(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return LF_ENOMEM;
    int rc = 0;
    for (char *s = p + 1; !rc; s++) {
        bool end = *s == '\0';
        if (*s != '/' && !end)
            continue;
        *s = '\0';
        if (mkdir(p, 0750) != 0 && errno != EEXIST)
            rc = LF_EIO;
        if (end)
            break;
        *s = '/';
    }
    free(p);
    struct stat st;
    if (!rc && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = LF_EIO;
    return rc;
}

static void entry_free(struct lf_registry_entry *e)
{
    if (e) {
        free(e->path);
        free(e);
    }
}

static void registry_free(struct lf_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        entry_free(r->v[i]);
    free(r->v);
    for (size_t i = 0; i < r->ncursors; i++) {
        free(r->cursors[i].name);
        free(r->cursors[i].value);
    }
    free(r->cursors);
    free(r->dir);
    free(r->path);
    free(r->tmp_path);
    free(r);
}

static int append_entry(struct lf_registry *r, struct lf_registry_entry *e)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct lf_registry_entry **v = realloc(r->v, cap * sizeof(*v));
        if (!v)
            return LF_ENOMEM;
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = e;
    return 0;
}

/* ---- loading ------------------------------------------------------------ */

static bool get_u64(json_t *obj, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* Exactly 16 lowercase hex digits. */
static bool parse_hex64(const char *hex, uint64_t *out)
{
    uint64_t h = 0;
    size_t i;
    for (i = 0; hex[i] && i < 16; i++) {
        char c = hex[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        h = h << 4 | (uint64_t)d;
    }
    if (i != 16 || hex[i])
        return false;
    *out = h;
    return true;
}

static bool parse_fp(json_t *obj, struct lf_registry_entry *e)
{
    uint64_t len, h;
    json_t *fp = json_object_get(obj, "fp");
    if (!get_u64(obj, "fp_len", &len) || len > LF_REGISTRY_FP_MAX || !json_is_string(fp) ||
        !parse_hex64(json_string_value(fp), &h))
        return false;
    e->fp_len = (uint32_t)len;
    e->fp_hash = h;
    return true;
}

/* "content_id": absent in registries from before content ids (a new one is
 * made, not saved yet); present, it must be well-formed and not 0. */
static bool parse_cid(json_t *obj, struct lf_registry_entry *e, bool *legacy)
{
    json_t *cid = json_object_get(obj, "content_id");
    if (!cid) {
        e->content_id = lf_registry_new_id();
        e->content_saved = false;
        *legacy = true;
        return true;
    }
    e->content_saved = true;
    return json_is_string(cid) && parse_hex64(json_string_value(cid), &e->content_id) &&
           e->content_id != 0;
}

/* Returns a new entry, or NULL when `obj` is not a well-formed entry. */
static struct lf_registry_entry *parse_entry(json_t *obj, bool *legacy)
{
    struct lf_registry_entry *e = calloc(1, sizeof(*e));
    json_t *path = json_object_get(obj, "path");
    uint64_t seen;
    if (!e || !json_is_object(obj) || !get_u64(obj, "dev", &e->dev) ||
        !get_u64(obj, "ino", &e->ino) || !get_u64(obj, "offset", &e->offset) ||
        (int64_t)e->offset < 0 || !get_u64(obj, "seen", &seen) || !parse_fp(obj, e) ||
        !parse_cid(obj, e, legacy) || !json_is_string(path))
        goto bad;
    e->seen_ms = (int64_t)seen;
    e->size_known = get_u64(obj, "size", &e->size);
    e->path = strdup(json_string_value(path));
    if (e->path)
        return e;
bad:
    entry_free(e);
    return NULL;
}

/* Adds the well-formed named cursors of root's "cursors" (absent: none);
 * returns how many were not. */
static size_t load_cursors(struct lf_registry *r, json_t *root)
{
    json_t *cursors = json_object_get(root, "cursors");
    if (!cursors)
        return 0;
    if (!json_is_array(cursors))
        return 1;
    size_t bad = 0, i;
    json_t *item;
    bool dirty = r->dirty; /* what is read is on disk already */
    json_array_foreach(cursors, i, item)
    {
        json_t *name = json_object_get(item, "name"), *value = json_object_get(item, "cursor");
        if (!json_is_string(name) || !json_is_string(value) || !json_string_value(name)[0] ||
            lf_registry_cursor(r, json_string_value(name)) ||
            lf_registry_set_cursor(r, json_string_value(name), json_string_value(value)))
            bad++;
    }
    r->dirty = dirty;
    return bad;
}

/* Adds the well-formed entries of `root`; returns how many were not, or
 * SIZE_MAX when root is not a registry of this version at all. */
static size_t load_entries(struct lf_registry *r, json_t *root)
{
    json_t *version = json_object_get(root, "version");
    json_t *entries = json_object_get(root, "entries");
    if (!json_is_object(root) || !json_is_integer(version) ||
        json_integer_value(version) != REGISTRY_VERSION || !json_is_array(entries))
        return SIZE_MAX;
    size_t bad = 0, legacy = 0, i;
    json_t *item;
    json_array_foreach(entries, i, item)
    {
        bool old = false;
        struct lf_registry_entry *e = parse_entry(item, &old);
        if (e && !lf_registry_find(r, e->dev, e->ino) && append_entry(r, e) == 0) {
            legacy += old;
            continue;
        }
        entry_free(e);
        bad++;
    }
    bad += load_cursors(r, root);
    if (legacy) {
        lf_log(LF_LOG_INFO, "registry",
               "%s: %zu entries from before content ids got new ones (their next lines get "
               "new _ids)",
               r->path, legacy);
        r->dirty = true;
    }
    return bad;
}

/* Keeps a copy of a file we could not read for the operator, out of the
 * way of the next save. */
static void move_aside(struct lf_registry *r, const char *why)
{
    char aside[4096];
    snprintf(aside, sizeof(aside), "%s.corrupt", r->path);
    if (rename(r->path, aside) != 0) {
        lf_log(LF_LOG_ERROR, "registry", "%s: %s; cannot move it aside: %s", r->path, why,
               strerror(errno));
        return;
    }
    lf_log(LF_LOG_ERROR, "registry",
           "%s: %s; moved to %s, %zu entries kept (files without one start as new)", r->path, why,
           aside, r->n);
    r->dirty = true;
}

static void load(struct lf_registry *r)
{
    int fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            lf_log(LF_LOG_ERROR, "registry", "%s: %s; starting empty", r->path, strerror(errno));
        return;
    }
    struct stat st;
    json_error_t jerr;
    json_t *root = NULL;
    char why[256] = "";
    if (fstat(fd, &st) != 0 || st.st_size > (off_t)REGISTRY_MAX_BYTES)
        snprintf(why, sizeof(why), "unreadable or larger than %u bytes", REGISTRY_MAX_BYTES);
    else if (!(root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr)))
        snprintf(why, sizeof(why), "line %d: %s", jerr.line, jerr.text);
    close(fd);
    size_t bad = root ? load_entries(r, root) : 0;
    if (bad == SIZE_MAX)
        snprintf(why, sizeof(why), "not a version %d registry", REGISTRY_VERSION);
    else if (bad)
        snprintf(why, sizeof(why), "%zu malformed entries", bad);
    json_decref(root);
    if (why[0])
        move_aside(r, why);
    else
        lf_log(LF_LOG_DEBUG, "registry", "%s: %zu entries", r->path, r->n);
}

struct lf_registry *lf_registry_open(const char *data_dir, char *errbuf, size_t errlen)
{
    for (struct lf_registry *o = open_registries; o; o = o->next) {
        if (strcmp(o->dir, data_dir) == 0) {
            o->refs++;
            return o;
        }
    }
    struct lf_registry *r = calloc(1, sizeof(*r));
    if (!r || !(r->dir = strdup(data_dir)) || !(r->path = join(data_dir, REGISTRY_NAME)) ||
        !(r->tmp_path = join(data_dir, REGISTRY_NAME ".tmp"))) {
        snprintf(errbuf, errlen, "registry: out of memory");
        registry_free(r);
        return NULL;
    }
    int rc = make_dirs(data_dir);
    if (rc) {
        snprintf(errbuf, errlen, "data_dir %s: %s", data_dir,
                 rc == LF_EIO ? strerror(errno) : lf_strerror(rc));
        registry_free(r);
        return NULL;
    }
    load(r);
    if (lf_registry_expire(r, lf_now_wall_ms(), LF_REGISTRY_STALE_MS))
        r->dirty = true;
    r->refs = 1;
    r->saved_mono_ms = 0; /* monotonic time is well past a second by now */
    r->next = open_registries;
    open_registries = r;
    return r;
}

void lf_registry_close(struct lf_registry *r)
{
    if (!r || --r->refs)
        return;
    for (struct lf_registry **p = &open_registries; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    registry_free(r);
}

const char *lf_registry_path(const struct lf_registry *r)
{
    return r->path;
}

/* ---- entries ------------------------------------------------------------ */

struct lf_registry_entry *lf_registry_find(struct lf_registry *r, uint64_t dev, uint64_t ino)
{
    /* Linear: thousands of files at most, looked up when a file is found. */
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i]->ino == ino && r->v[i]->dev == dev)
            return r->v[i];
    }
    return NULL;
}

struct lf_registry_entry *lf_registry_find_path(struct lf_registry *r, const char *path)
{
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->v[i]->path, path) == 0)
            return r->v[i];
    }
    return NULL;
}

struct lf_registry_entry *lf_registry_at(struct lf_registry *r, size_t i)
{
    return i < r->n ? r->v[i] : NULL;
}

struct lf_registry_entry *lf_registry_add(struct lf_registry *r, uint64_t dev, uint64_t ino,
                                          const char *path, int64_t now_wall_ms)
{
    struct lf_registry_entry *e = lf_registry_find(r, dev, ino);
    if (e)
        return e;
    e = calloc(1, sizeof(*e));
    if (!e || !(e->path = strdup(path)) || append_entry(r, e)) {
        entry_free(e);
        return NULL;
    }
    e->dev = dev;
    e->ino = ino;
    e->seen_ms = now_wall_ms;
    e->fp_hash = lf_registry_fingerprint("", 0);
    e->content_id = lf_registry_new_id();
    e->content_saved = false;
    r->dirty = true;
    return e;
}

void lf_registry_remove(struct lf_registry *r, struct lf_registry_entry *e)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i] == e) {
            r->v[i] = r->v[--r->n];
            entry_free(e);
            r->dirty = true;
            return;
        }
    }
}

void lf_registry_set_offset(struct lf_registry *r, struct lf_registry_entry *e, uint64_t offset)
{
    if (e->offset != offset) {
        e->offset = offset;
        r->dirty = true;
    }
}

void lf_registry_set_fingerprint(struct lf_registry *r, struct lf_registry_entry *e, uint32_t len,
                                 uint64_t hash)
{
    if (e->fp_len != len || e->fp_hash != hash) {
        e->fp_len = len;
        e->fp_hash = hash;
        r->dirty = true;
    }
}

int lf_registry_set_path(struct lf_registry *r, struct lf_registry_entry *e, const char *path)
{
    if (strcmp(e->path, path) == 0)
        return 0;
    char *p = strdup(path);
    if (!p)
        return LF_ENOMEM;
    free(e->path);
    e->path = p;
    r->dirty = true;
    return 0;
}

void lf_registry_set_size(struct lf_registry_entry *e, uint64_t size)
{
    e->size = size;
    e->size_known = true;
}

void lf_registry_set_content(struct lf_registry *r, struct lf_registry_entry *e, uint64_t id)
{
    if (e->content_id == id || id == 0)
        return;
    e->content_id = id;
    e->content_saved = false;
    r->dirty = true;
}

void lf_registry_new_content(struct lf_registry *r, struct lf_registry_entry *e)
{
    uint64_t id;
    do
        id = lf_registry_new_id();
    while (id == e->content_id);
    e->content_id = id;
    e->content_saved = false;
    r->dirty = true;
}

int lf_registry_content_durable(struct lf_registry *r, struct lf_registry_entry *e,
                                int64_t now_mono_ms)
{
    if (e->content_saved)
        return 0;
    if (r->save_failed && now_mono_ms - r->saved_mono_ms < LF_REGISTRY_MIN_INTERVAL_MS)
        return LF_EIO;
    r->saved_mono_ms = now_mono_ms;
    return lf_registry_save(r, lf_now_wall_ms());
}

const char *lf_registry_cursor(const struct lf_registry *r, const char *name)
{
    for (size_t i = 0; i < r->ncursors; i++)
        if (strcmp(r->cursors[i].name, name) == 0)
            return r->cursors[i].value;
    return NULL;
}

int lf_registry_set_cursor(struct lf_registry *r, const char *name, const char *cursor)
{
    size_t i = 0;
    while (i < r->ncursors && strcmp(r->cursors[i].name, name) != 0)
        i++;
    if (i < r->ncursors && strcmp(r->cursors[i].value, cursor) == 0)
        return 0;
    char *value = strdup(cursor);
    if (!value)
        return LF_ENOMEM;
    if (i == r->ncursors) {
        char *n = strdup(name);
        struct named_cursor *v = n ? realloc(r->cursors, (i + 1) * sizeof(*v)) : NULL;
        if (!v) {
            free(n);
            free(value);
            return LF_ENOMEM;
        }
        r->cursors = v;
        r->cursors[i] = (struct named_cursor){.name = n, .value = NULL};
        r->ncursors++;
    }
    free(r->cursors[i].value);
    r->cursors[i].value = value;
    r->dirty = true;
    return 0;
}

size_t lf_registry_count(const struct lf_registry *r)
{
    return r->n;
}

bool lf_registry_dirty(const struct lf_registry *r)
{
    return r->dirty;
}

size_t lf_registry_expire(struct lf_registry *r, int64_t now_wall_ms, int64_t max_age_ms)
{
    size_t removed = 0;
    for (size_t i = 0; i < r->n;) {
        struct lf_registry_entry *e = r->v[i];
        if (e->owner || now_wall_ms - e->seen_ms < max_age_ms) {
            i++;
            continue;
        }
        lf_log(LF_LOG_INFO, "registry",
               "forgetting %s (dev %" PRIu64 " inode %" PRIu64 "): not seen for %" PRId64 " s",
               e->path, e->dev, e->ino, (now_wall_ms - e->seen_ms) / 1000);
        r->v[i] = r->v[--r->n];
        entry_free(e);
        r->dirty = true;
        removed++;
    }
    return removed;
}

/* ---- saving ------------------------------------------------------------- */

static int format(struct lf_registry *r, struct lf_buf *b)
{
    int rc = lf_buf_printf(b, "{\"version\":%d,\"entries\":[\n", REGISTRY_VERSION);
    for (size_t i = 0; i < r->n && !rc; i++) {
        const struct lf_registry_entry *e = r->v[i];
        rc = lf_buf_printf(b,
                           "%s{\"dev\":%" PRId64 ",\"ino\":%" PRId64 ",\"offset\":%" PRIu64
                           ",\"fp_len\":%" PRIu32 ",\"fp\":\"%016" PRIx64
                           "\",\"content_id\":\"%016" PRIx64 "\",",
                           i ? ",\n" : "", (int64_t)e->dev, (int64_t)e->ino, e->offset, e->fp_len,
                           e->fp_hash, e->content_id);
        if (!rc && e->size_known)
            rc = lf_buf_printf(b, "\"size\":%" PRIu64 ",", e->size);
        if (!rc)
            rc = lf_buf_printf(b, "\"seen\":%" PRId64 ",\"path\":", e->seen_ms);
        if (!rc)
            rc = lf_json_write_string(b, e->path, strlen(e->path));
        if (!rc)
            rc = lf_buf_putc(b, '}');
    }
    if (!rc)
        rc = lf_buf_puts(b, "\n]");
    if (!rc && r->ncursors)
        rc = lf_buf_puts(b, ",\"cursors\":[\n");
    for (size_t i = 0; i < r->ncursors && !rc; i++) {
        rc = lf_buf_puts(b, i ? ",\n{\"name\":" : "{\"name\":");
        if (!rc)
            rc = lf_json_write_string(b, r->cursors[i].name, strlen(r->cursors[i].name));
        if (!rc)
            rc = lf_buf_puts(b, ",\"cursor\":");
        if (!rc)
            rc = lf_json_write_string(b, r->cursors[i].value, strlen(r->cursors[i].value));
        if (!rc)
            rc = lf_buf_putc(b, '}');
    }
    if (!rc && r->ncursors)
        rc = lf_buf_puts(b, "\n]");
    if (!rc)
        rc = lf_buf_puts(b, "}\n");
    return rc;
}

/* The rename is only durable once the directory itself is on disk. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return LF_EIO;
    int rc = fsync(fd) == 0 ? 0 : LF_EIO;
    close(fd);
    return rc;
}

static int write_file(struct lf_registry *r, const struct lf_buf *b, const char **step)
{
    *step = "open";
    int fd = open(r->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return LF_EIO;
    int rc = lf_write_all(fd, b->data, b->len);
    *step = rc ? "write" : "fsync";
    if (!rc && fsync(fd) != 0)
        rc = LF_EIO;
    if (close(fd) != 0 && !rc) {
        *step = "close";
        rc = LF_EIO;
    }
    if (!rc && rename(r->tmp_path, r->path) != 0) {
        *step = "rename";
        rc = LF_EIO;
    }
    if (rc) {
        int saved = errno;
        unlink(r->tmp_path);
        errno = saved;
        return rc;
    }
    *step = "fsync of the directory";
    return sync_dir(r->dir);
}

int lf_registry_save(struct lf_registry *r, int64_t now_wall_ms)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i]->owner)
            r->v[i]->seen_ms = now_wall_ms;
    }
    lf_registry_expire(r, now_wall_ms, LF_REGISTRY_STALE_MS);
    struct lf_buf b;
    lf_buf_init(&b, REGISTRY_MAX_BYTES);
    const char *step = "format";
    int rc = format(r, &b);
    if (!rc)
        rc = write_file(r, &b, &step);
    if (rc) {
        lf_log(LF_LOG_ERROR, "registry", "%s: %s failed: %s", r->path, step,
               rc == LF_EIO ? strerror(errno) : lf_strerror(rc));
    } else {
        r->dirty = false;
        /* Every content id is on disk now. */
        for (size_t i = 0; i < r->n; i++)
            r->v[i]->content_saved = true;
    }
    r->save_failed = rc != 0;
    lf_buf_free(&b);
    return rc;
}

int lf_registry_checkpoint(struct lf_registry *r, int64_t now_mono_ms, bool force)
{
    if (!r->dirty)
        return 0;
    if (!force && now_mono_ms - r->saved_mono_ms < LF_REGISTRY_MIN_INTERVAL_MS)
        return 0;
    /* Counted as an attempt even when it fails, so a full disk is retried
     * once a second rather than on every acknowledgement. */
    r->saved_mono_ms = now_mono_ms;
    return lf_registry_save(r, lf_now_wall_ms());
}

int64_t lf_registry_due(const struct lf_registry *r)
{
    return r->dirty ? r->saved_mono_ms + LF_REGISTRY_MIN_INTERVAL_MS : -1;
}
