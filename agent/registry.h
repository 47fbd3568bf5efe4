/*
 * registry.h - durable read positions of tailed files, kept in
 * <data_dir>/registry.json. Private to agent/ (tail.c, tail_file.c).
 *
 * An entry is keyed by device and inode, so that a renamed file keeps its
 * position; the path is there for humans. A fingerprint (a hash of the file's
 * first bytes, up to LF_REGISTRY_FP_MAX) tells a reused inode or a file
 * rewritten from the start apart from the file the offset belongs to.
 *
 * An entry also keeps the file's size when it was last looked at, so that
 * content lost while the agent was away (a rotated file compressed or
 * deleted before it was finished) can be reported with its byte count.
 *
 * Every entry also holds a content id: a random 64-bit number naming the
 * content the offset counts bytes of. The tailer makes documents' _ids from
 * it and the offset (not from the path), so a line keeps its _id across
 * renames and restarts, and new content (a new file, a truncated one) gets
 * new _ids even at the same path and offsets. A new content id must be on
 * disk before the first event of that content goes out
 * (lf_registry_content_durable()), or a crash could ship events under an id
 * that is then forgotten.
 *
 * Every file input of an agent shares one registry per data_dir (opened
 * with reference counting), so that their entries live in one file and no
 * input overwrites another's. Single-threaded, like the rest of the agent.
 *
 * The journald input keeps its journal cursor here too (see "Named
 * cursors" below).
 */
#ifndef LF_AGENT_REGISTRY_H
#define LF_AGENT_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LF_REGISTRY_FP_MAX 64
/* Entries of files not seen for this long are removed when saving. */
#define LF_REGISTRY_STALE_MS (24 * 3600 * 1000LL)
/* lf_registry_checkpoint() writes at most this often unless forced. */
#define LF_REGISTRY_MIN_INTERVAL_MS 1000

struct lf_registry_entry {
    uint64_t dev, ino;
    uint64_t offset;  /* every byte before it was shipped and acknowledged */
    uint64_t fp_hash; /* lf_registry_fingerprint() of the first fp_len bytes */
    uint32_t fp_len;
    uint64_t size;       /* the file's size at the last look, if size_known */
    bool size_known;     /* false for entries saved before sizes were */
    int64_t seen_ms;     /* wall clock: when a live input last followed it */
    uint64_t content_id; /* random, never 0: names the content (see above) */
    bool content_saved;  /* content_id is in registry.json (kept in memory only) */
    char *path;
    void *owner; /* the live file following it, or NULL; not saved */
};

struct lf_registry;

/*
 * Returns the registry of `data_dir` (creating the directory if missing),
 * loaded from registry.json, or the one already open for that directory with
 * one more reference. A corrupt file is logged and renamed to
 * registry.json.corrupt; the entries that could be read are kept. Returns
 * NULL with the reason in errbuf when the directory cannot be made or memory
 * runs out.
 */
struct lf_registry *lf_registry_open(const char *data_dir, char *errbuf, size_t errlen);
/* Drops a reference; the last one frees (without saving). NULL is fine. */
void lf_registry_close(struct lf_registry *r);

/* The registry file's path, for messages and tests. */
const char *lf_registry_path(const struct lf_registry *r);

struct lf_registry_entry *lf_registry_find(struct lf_registry *r, uint64_t dev, uint64_t ino);
/* The entry whose path is `path` (the first, if several), or NULL. */
struct lf_registry_entry *lf_registry_find_path(struct lf_registry *r, const char *path);
/* The i-th entry (i < lf_registry_count()); the order changes when entries
 * are removed. */
struct lf_registry_entry *lf_registry_at(struct lf_registry *r, size_t i);
/* Adds an entry at offset 0 with a new content id (or returns the existing
 * one). Returns NULL when out of memory. */
struct lf_registry_entry *lf_registry_add(struct lf_registry *r, uint64_t dev, uint64_t ino,
                                          const char *path, int64_t now_wall_ms);
/* Removes and frees the entry. */
void lf_registry_remove(struct lf_registry *r, struct lf_registry_entry *e);

/* Setters that mark the registry for writing. set_path returns 0 or
 * LF_ENOMEM (the old path is kept). */
void lf_registry_set_offset(struct lf_registry *r, struct lf_registry_entry *e, uint64_t offset);
void lf_registry_set_fingerprint(struct lf_registry *r, struct lf_registry_entry *e, uint32_t len,
                                 uint64_t hash);
int lf_registry_set_path(struct lf_registry *r, struct lf_registry_entry *e, const char *path);
/* Records the file's size; it is written with the next save (a size alone
 * does not make the registry dirty: it only serves loss reports). */
void lf_registry_set_size(struct lf_registry_entry *e, uint64_t size);
/* Gives the entry a new content id (not saved yet): its file now holds
 * other content than the id named. */
void lf_registry_new_content(struct lf_registry *r, struct lf_registry_entry *e);
/* Gives the entry content id `id` (not 0), marked not saved: its file was
 * found to hold content known under that id (a rotated copy). */
void lf_registry_set_content(struct lf_registry *r, struct lf_registry_entry *e, uint64_t id);

/*
 * Makes sure the entry's content id is on disk: returns 0 at once if it is,
 * else saves now (one atomic, fsync'ed write covering every entry, so many
 * new contents cost one save) and returns 0 or LF_EIO. After a failed save
 * it does not try again for LF_REGISTRY_MIN_INTERVAL_MS (returns LF_EIO at
 * once): a full disk is not hammered on every run.
 */
int lf_registry_content_durable(struct lf_registry *r, struct lf_registry_entry *e,
                                int64_t now_mono_ms);

/* A new random content id, never 0 (getrandom(2), with fallbacks that keep
 * it unique when the kernel's pool is not ready). */
uint64_t lf_registry_new_id(void);

size_t lf_registry_count(const struct lf_registry *r);
bool lf_registry_dirty(const struct lf_registry *r);

/*
 * Removes entries nobody follows that were last seen before now - max_age.
 * Returns how many were removed.
 */
size_t lf_registry_expire(struct lf_registry *r, int64_t now_wall_ms, int64_t max_age_ms);

/*
 * Writes the registry atomically: a temporary file is written and synced,
 * renamed over registry.json, and the directory synced, so that a crash
 * leaves either the old or the new file, never a mix. Entries that have an
 * owner are stamped as seen now; stale ones are expired first. Returns 0, or
 * LF_EIO/LF_ENOMEM (logged; registry.json is unchanged and the registry
 * stays dirty).
 */
int lf_registry_save(struct lf_registry *r, int64_t now_wall_ms);

/*
 * Saves if dirty and (force or at least LF_REGISTRY_MIN_INTERVAL_MS since
 * the last save). Returns 0 or what lf_registry_save() returned.
 */
int lf_registry_checkpoint(struct lf_registry *r, int64_t now_mono_ms, bool force);
/* Monotonic ms at which a checkpoint would write, or -1 if clean. */
int64_t lf_registry_due(const struct lf_registry *r);

/*
 * Named cursors: the position of a source that is not a file (the journald
 * input's journal cursor), saved in registry.json beside the files'
 * entries under "cursors". A cursor names the last entry whose event, and
 * every one before it, was acknowledged. Cursors never expire (there is one
 * per such input); an older agent ignores them (and drops them when it
 * saves).
 */
/* The cursor saved under `name`, or NULL (valid until it is set again). */
const char *lf_registry_cursor(const struct lf_registry *r, const char *name);
/* Sets (or adds) the cursor of `name` and marks the registry for writing.
 * Returns 0 or LF_ENOMEM (the old value is kept). */
int lf_registry_set_cursor(struct lf_registry *r, const char *name, const char *cursor);

/* FNV-1a over n bytes: the fingerprint hash. */
uint64_t lf_registry_fingerprint(const void *p, size_t n);

#endif
