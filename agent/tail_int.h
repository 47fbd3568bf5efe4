/*
 * tail_int.h - what tail.c (the files input: globs, watches, descriptors,
 * what was lost while the agent was down), tail_file.c (one followed file:
 * lines, positions, rotation) and tail_find.c (finding a file's content
 * again in its directory) share. Private to those files.
 */
#ifndef LF_AGENT_TAIL_INT_H
#define LF_AGENT_TAIL_INT_H

#include "input.h"
#include "registry.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/* Events a file may have in flight; a full queue pauses that file. The
 * output, not this, is what bounds memory (it holds at most its memory
 * queue unacknowledged and acknowledges spooled events at once), so the cap
 * is far above anything it lets through: the queue's memory is used only as
 * entries are pending (9 bytes each). LOGFERRY_TAIL_ACKQ_CAP overrides it,
 * for tests. */
#define LF_TAIL_ACKQ_CAP (4u << 20)
/* Bytes asked of one read(); the read buffer holds max_line plus this. */
#define LF_TAIL_READ_CHUNK (64u << 10)
/* A rotated or deleted file is closed once it has not grown for this long
 * (or partial_wait plus a second, if longer): its writer may still be
 * finishing a line or a burst before it reopens its log. */
#define LF_TAIL_ROTATED_IDLE_MS 5000

struct lf_tail_file;

/* The input; one per `inputs.files` entry of the configuration. */
struct lf_tail {
    struct lf_input base;
    const struct lf_files_conf *conf;
    struct lf_parser *parser;
    struct lf_pipeline *pipe;
    struct lf_registry *reg;
    struct lf_event ev;        /* reused for every line */
    struct lf_jsonlines *json; /* lines as JSON objects (conf->json.enabled), or NULL */
    size_t max_line;
    int64_t partial_wait_ms;
    int64_t rotated_idle_ms;
    size_t nopen;          /* descriptors of followed files open now */
    size_t ackq_cap;       /* LF_TAIL_ACKQ_CAP unless overridden */
    bool wake;             /* an acknowledgement unblocked a file */
    bool rescan;           /* a file's content moved: look at the paths soon */
    int64_t cut_log_ms;    /* when a cut line was last reported */
    uint64_t cut_unlogged; /* cut lines since, not reported */

    /* The files followed (tail.c adds and removes them). */
    struct lf_tail_file **files;
    size_t nfiles, fcap;

    /* One read buffer for every file of the input: a file holds it from
     * its drive until another file's drive takes it, so that a thousand
     * files cost one buffer, and a file driven again right away (its turn
     * ended, the pipeline refused a line) finds its bytes still there. */
    char *rbuf;
    size_t rcap;
    struct lf_tail_file *rbuf_owner;

    char name[32];
    char dataset[96]; /* event.dataset unless the grammar captured one */
};

enum lf_tail_state {
    LF_TAIL_ACTIVE,  /* its path names it */
    LF_TAIL_ROTATED, /* renamed away, replaced, or found again after it was:
                      * finishing it through its fd */
    LF_TAIL_DELETED, /* unlinked: finishing it, then its entry goes */
    LF_TAIL_COPY,    /* a copy of content another file is read for (a glob
                      * that matches the copies of copytruncate): not read */
    LF_TAIL_DONE     /* closed for good; freed once nothing is in flight */
};

/* What driving a file ended with. */
enum lf_tail_run {
    LF_TAIL_IDLE,      /* at end of file, or waiting for the rest of a line */
    LF_TAIL_MORE,      /* stopped after its share of lines: run it again */
    LF_TAIL_WAIT_ACKS, /* its acknowledgement queue is full */
    LF_TAIL_BLOCKED,   /* the pipeline is full: stop this run for all files */
    LF_TAIL_NO_FD,     /* needs a descriptor and none is free */
    LF_TAIL_FAILED     /* read error (logged); retried later */
};

/* One followed file. */
struct lf_tail_file {
    struct lf_tail *tail;
    char *path;
    const char *base; /* the file name part of path */
    size_t dir_len;   /* of path's directory part (base - path - 1, or 0) */
    /* The grammar for its lines, picked by path on the first line
     * (lf_parser_for_source); NULL until then. */
    struct lf_parser *parser;
    int wd;           /* inotify watch of its directory, -1: polled */
    uint64_t dev, ino;
    int fd; /* -1 while closed to stay under max_open */
    enum lf_tail_state state;

    /* While it holds the input's read buffer (tail->rbuf_owner), the bytes
     * read and not consumed: file offsets [pos, read_pos) minus `skipped`,
     * in rbuf[start, end). Without the buffer, read_pos is pos (what was
     * read past it is read again), unless a cut line's first max_line bytes
     * wait in cut_buf. */
    size_t start, end, scan;
    uint64_t pos;      /* where the next line starts */
    uint64_t read_pos; /* where the next read() reads */
    uint64_t skipped;  /* bytes of an overlong line dropped past max_line */
    bool cutting;      /* the line at pos is longer than max_line */
    char *cut_buf;     /* its first bytes while another file has the buffer */
    size_t cut_len;
    uint64_t seen_end; /* the furthest offset read of this content */
    uint64_t size;     /* the file's size at the last look */
    bool at_size;      /* read up to `size`: no read needed to know the end */

    int64_t grew_ms;   /* when bytes last arrived (monotonic) */
    int64_t active_ms; /* last time it was driven, for choosing whom to close */
    bool ready;        /* drive it on the next run */
    bool wait_acks;    /* paused until acknowledgements come */
    bool blocked;      /* the pipeline refused its last line */
    unsigned seen_gen; /* the last rescan that found it */
    bool unlinked;     /* it was deleted: its registry entry goes with it */
    bool open_warned;  /* "cannot open" was logged */
    bool recovered;    /* found again after it left the paths: finished, never
                        * followed as a live file */
    /* Started at 0 as new content: before its first line goes out, check
     * it is not a copy of content known already (see tail_file.c). */
    bool fresh;
    int64_t fresh_retry_ms; /* the check could not decide: try again then */

    uint32_t fp_len;
    uint64_t fp_hash;
    /* The first bytes themselves, when read here (head_len of them): a new
     * file shorter than the fingerprint is compared with them, not with
     * the file. */
    uint32_t head_len;
    char head[LF_REGISTRY_FP_MAX];

    /* The content the positions count bytes of (the registry entry's
     * content_id), and "file:<it in hex>": the source its lines' _ids are
     * made from with their offsets, so that they do not depend on the path
     * and differ for every new content at the same path. */
    uint64_t content_id;
    char source[32];
    struct lf_doc_id_seed id_seed; /* of (host, source) */
    int64_t durable_retry_ms;      /* saving a new content id failed: retry then */

    struct lf_ackq ackq; /* no memory while nothing is in flight */
    struct lf_ack_target ack;
    struct lf_registry_entry *entry;
};

/*
 * Starts following `path` (whose stat is `st`) from `offset`, recording it
 * in the registry. `new_content`: its registry entry (if any) is not for
 * what the file holds now, so the content gets a new id; otherwise the
 * entry's content id goes on. The file is not opened yet. Returns NULL when
 * out of memory.
 */
struct lf_tail_file *lf_tail_file_create(struct lf_tail *t, const char *path, const struct stat *st,
                                         uint64_t offset, int wd, bool new_content);
/*
 * Starts following content found again (lf_tail_find_content) under
 * `path`, read-only to its end: the descriptor `fd` (taken over), content
 * `content_id` from `offset`, with the fingerprint it was known by. Its
 * registry entry is the inode's own, or a new one, given that content id;
 * a fresh file or a copy of t on that inode ends. Returns NULL when out of
 * memory (fd closed).
 */
struct lf_tail_file *lf_tail_file_recovered(struct lf_tail *t, const char *path, int fd,
                                            const struct stat *st, uint64_t content_id,
                                            uint64_t offset, uint32_t fp_len, uint64_t fp_hash,
                                            int wd);
/* Closes, leaves the registry entry to the registry (or removes it for a
 * deleted file), and frees. Events still in flight must not be
 * acknowledged afterwards. NULL is fine. */
void lf_tail_file_destroy(struct lf_tail_file *f);

/* Opens the file by its path, checking it is still the same inode. Returns
 * 0, LF_ENOENT when the path is gone or names another file, LF_EIO. */
int lf_tail_file_open(struct lf_tail_file *f);
void lf_tail_file_close(struct lf_tail_file *f);
/* Whether closing it now loses nothing: open, followed by path, at end of
 * file with no partial line held. */
bool lf_tail_file_idle(const struct lf_tail_file *f);

/* Reads and emits up to `budget` lines (see enum lf_tail_run). */
enum lf_tail_run lf_tail_file_drive(struct lf_tail_file *f, int64_t now, unsigned budget);

/* Checks what its path names now: notices rename, replacement and deletion
 * (the file goes ROTATED/DELETED, or is looked for in its directory when it
 * was closed) and, while closed, growth (ready). */
void lf_tail_file_check_path(struct lf_tail_file *f);
/* Follows the file under a new path (a rename the globs still match). */
void lf_tail_file_rename(struct lf_tail_file *f, const char *path, int wd);

/* Events emitted and not acknowledged yet. */
size_t lf_tail_file_pending(const struct lf_tail_file *f);

/* Monotonic ms at which it needs a run without new input (partial line
 * due, rotated file to close), or -1. */
int64_t lf_tail_file_deadline(const struct lf_tail_file *f);
/* Closes a rotated or deleted file that is finished; frees the queue and
 * cut line of a file at rest. Returns true if it is DONE and nothing is in
 * flight: the caller may destroy it. */
bool lf_tail_file_sweep(struct lf_tail_file *f, int64_t now);

/* Whether a file of t other than `except` reads its own content from the
 * inode (a fresh file or a copy does not: a file whose content was copied
 * there takes the inode over), or another input follows it. */
bool lf_tail_inode_taken(struct lf_tail *t, const struct lf_tail_file *except, uint64_t dev,
                         uint64_t ino);

/* Fingerprint of the first min(size, want, LF_REGISTRY_FP_MAX) bytes of fd
 * (*len says how many). Returns 0 or LF_EIO. */
int lf_tail_fingerprint(int fd, uint32_t want, uint32_t *len, uint64_t *hash);

/* ---- tail.c, for tail_file.c ---------------------------------------------- */

/* Adds a file to the input (found again by tail_file.c). Returns 0 or
 * LF_ENOMEM (the caller destroys it). */
int lf_tail_add(struct lf_tail *t, struct lf_tail_file *f);

/* ---- tail_find.c: finding content again ----------------------------------- */

/* What is looked for: content known by its fingerprint, last seen on an
 * inode, of which at least `min_size` bytes must be there. */
struct lf_tail_want {
    uint64_t dev, ino; /* the inode it was on: found there first (a rename) */
    uint32_t fp_len;   /* 0: only the inode can tell */
    uint64_t fp_hash;
    uint64_t min_size;
    uint64_t skip_ino; /* never this inode (the one the content left), or 0 */
    /* Whether an inode is followed for other content already (NULL: none
     * is): such a file is not a candidate. */
    bool (*taken)(void *arg, uint64_t dev, uint64_t ino);
    void *arg;
};

/* A file found: open (read-only), its stat and path (malloc'ed). */
struct lf_tail_found {
    int fd;
    struct stat st;
    char *path;
};

/*
 * Looks among the regular files of directory dir[0..dir_len) ("." for 0)
 * for the content `w` describes: the inode it was on if that still holds
 * it, else the largest file whose first fp_len bytes hash to fp_hash. Only
 * names and sizes are looked at, and the first bytes of files large
 * enough. Returns 0 with *out filled, LF_ENOENT, or LF_EIO (the directory
 * cannot be read; logged at debug).
 */
int lf_tail_find_content(const char *dir, size_t dir_len, const struct lf_tail_want *w,
                         struct lf_tail_found *out);

/* Whether the files on fd a and fd b hold the same bytes in [0, n): both
 * at least n bytes long, the same first bytes, and the same last (up to)
 * 4 KiB before n. */
bool lf_tail_same_bytes(int a, int b, uint64_t n);

/* ---- why a path pattern leads to no file (tail_paths.c) ------------------ */

enum lf_tail_path_state {
    LF_TAIL_PATH_OK,      /* it matches files (or nothing was said yet) */
    LF_TAIL_PATH_NONE,    /* a glob that matches nothing, a literal path not there */
    LF_TAIL_PATH_MISSING, /* its directory does not exist */
    LF_TAIL_PATH_DENIED   /* the agent may not look into its directory */
};

/* What was said last about one pattern; zeroed at the start. */
struct lf_tail_path_watch {
    enum lf_tail_path_state said_state;
    char why[320];
    int64_t said_ms;      /* 0: nothing said yet */
    bool had_files;       /* it matched files once */
    int64_t bad_since_ms; /* since when it has none again (0: it has) */
};

/*
 * After a scan found `matches` files for `pattern` (of input `input`, for
 * messages): warns why a pattern leads to nothing (missing directory,
 * permission denied, no match) at the first scan and when that changes,
 * says at once when it matches files again; a new warning at most once per
 * 10 s per pattern, and one that still holds again every hour. A pattern
 * that matched files and lost them is warned only after 30 s without any
 * (a rotation empties a path for a moment), one that matches nothing from
 * the start after 5 s; a missing or denied directory at once.
 */
void lf_tail_path_seen(struct lf_tail_path_watch *w, const char *input, const char *pattern,
                       size_t matches, int64_t now_ms);

#endif
