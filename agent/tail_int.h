/*
 * tail_int.h - what tail.c (the files input: globs, watches, descriptors)
 * and tail_file.c (one followed file: lines, positions, rotation) share.
 * Private to those two files.
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
/* Bytes asked of one read(); the line buffer holds max_line plus this. */
#define LF_TAIL_READ_CHUNK (64u << 10)
/* A rotated or deleted file is closed once it has not grown for this long
 * (or partial_wait plus a second, if longer): its writer may still be
 * finishing a line or a burst before it reopens its log. */
#define LF_TAIL_ROTATED_IDLE_MS 5000

/* The input; one per `inputs.files` entry of the configuration. */
struct lf_tail {
    struct lf_input base;
    const struct lf_files_conf *conf;
    struct lf_parser *parser;
    struct lf_pipeline *pipe;
    struct lf_registry *reg;
    struct lf_event ev; /* reused for every line */
    size_t max_line;
    int64_t partial_wait_ms;
    int64_t rotated_idle_ms;
    size_t nopen;          /* descriptors of followed files open now */
    size_t ackq_cap;       /* LF_TAIL_ACKQ_CAP unless overridden */
    bool wake;             /* an acknowledgement unblocked a file */
    int64_t cut_log_ms;    /* when a cut line was last reported */
    uint64_t cut_unlogged; /* cut lines since, not reported */
    char name[32];
    char dataset[96]; /* event.dataset unless the grammar captured one */
};

enum lf_tail_state {
    LF_TAIL_ACTIVE,  /* its path names it */
    LF_TAIL_ROTATED, /* renamed away or replaced: finishing it through its fd */
    LF_TAIL_DELETED, /* unlinked: finishing it, then its entry goes */
    LF_TAIL_DONE     /* closed for good; freed once nothing is in flight */
};

/* What driving a file ended with. */
enum lf_tail_run {
    LF_TAIL_IDLE,      /* at end of file, or waiting for the rest of a line */
    LF_TAIL_MORE,      /* stopped after its share of lines: run it again */
    LF_TAIL_WAIT_ACKS, /* its acknowledgement queue is full, or a truncation
                        * waits for the old content's events */
    LF_TAIL_BLOCKED,   /* the pipeline is full: stop this run for all files */
    LF_TAIL_NO_FD,     /* needs a descriptor and none is free */
    LF_TAIL_FAILED     /* read error (logged); retried later */
};

/* One followed file. */
struct lf_tail_file {
    struct lf_tail *tail;
    char *path;
    const char *base; /* the file name part of path */
    int wd;           /* inotify watch of its directory, -1: polled */
    uint64_t dev, ino;
    int fd; /* -1 while closed to stay under max_open */
    enum lf_tail_state state;

    /* Bytes read and not consumed: file offsets [pos, read_pos) minus
     * `skipped`, in buf[start, end). */
    char *buf;
    size_t cap, start, end, scan;
    uint64_t pos;      /* where the next line starts */
    uint64_t read_pos; /* where the next read() reads */
    uint64_t skipped;  /* bytes of an overlong line dropped past max_line */
    bool cutting;      /* the line at pos is longer than max_line */

    int64_t grew_ms;   /* when bytes last arrived (monotonic) */
    int64_t active_ms; /* last time it was driven, for choosing whom to close */
    bool ready;        /* drive it on the next run */
    bool wait_acks;    /* paused until acknowledgements come */
    bool trunc_wait;   /* truncated: restarts at 0 once nothing is in flight */
    unsigned seen_gen; /* the last rescan that found it */
    bool unlinked;     /* it was deleted: its registry entry goes with it */
    bool open_warned;  /* "cannot open" was logged */

    uint32_t fp_len;
    uint64_t fp_hash;

    /* The content the positions count bytes of (the registry entry's
     * content_id), and "file:<it in hex>": the source its lines' _ids are
     * made from with their offsets, so that they do not depend on the path
     * and differ for every new content at the same path. */
    uint64_t content_id;
    char source[32];
    struct lf_doc_id_seed id_seed; /* of (host, source) */
    int64_t durable_retry_ms;      /* saving a new content id failed: retry then */

    struct lf_ackq ackq; /* allocated while lines are being shipped */
    bool ackq_live;
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
 * (the file goes ROTATED/DELETED) and, while closed, growth (ready). */
void lf_tail_file_check_path(struct lf_tail_file *f);
/* Checks an open file for truncation or a rewritten start (fingerprint). */
void lf_tail_file_check_content(struct lf_tail_file *f);
/* Follows the file under a new path (a rename the globs still match). */
void lf_tail_file_rename(struct lf_tail_file *f, const char *path, int wd);

/* Events emitted and not acknowledged yet. */
size_t lf_tail_file_pending(const struct lf_tail_file *f);

/* Monotonic ms at which it needs a run without new input (partial line
 * due, rotated file to close), or -1. */
int64_t lf_tail_file_deadline(const struct lf_tail_file *f);
/* Closes a rotated or deleted file that is finished; frees the buffer and
 * queue of a file at rest. Returns true if it is DONE and nothing is in
 * flight: the caller may destroy it. */
bool lf_tail_file_sweep(struct lf_tail_file *f, int64_t now);

/* Fingerprint of the first min(size, want, LF_REGISTRY_FP_MAX) bytes of fd
 * (*len says how many). Returns 0 or LF_EIO. */
int lf_tail_fingerprint(int fd, uint32_t want, uint32_t *len, uint64_t *hash);

#endif
