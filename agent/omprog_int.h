/*
 * omprog_int.h - the parts of `logferry agent --omprog` (agent/in_omprog.c)
 * that live in files of their own: what a line becomes (omprog_props.c) and
 * the journal of the open transaction (omprog_journal.c). Private to agent/.
 */
#ifndef LF_AGENT_OMPROG_INT_H
#define LF_AGENT_OMPROG_INT_H

#include "input.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- a line's fields (omprog_props.c) ----------------------------------- */

/* Room for "rsyslog.<key>" paths of one message. */
#define PATH_SCRATCH 4096
/* Members of a JSON line kept, at most (rsyslog has about 50 properties). */
#define MAX_PAIRS 256

/* One member of a JSON line: key and value point into the decoded strings
 * (a number's value is its text in the line). */
enum jtype { J_STRING, J_NUMBER, J_TRUE, J_FALSE, J_NULL, J_NESTED };
struct jpair {
    const char *key, *val;
    size_t klen, vlen;
    enum jtype type;
};

struct lf_omprog_props {
    struct lf_parser *parser; /* the configured grammar (not owned) */
    struct lf_parser *body;   /* LOGFERRY_MESSAGE, with the default grammar */
    struct lf_event *ev;      /* where fields go (not owned) */
    struct lf_input_counters *counters;
    struct lf_jsonlines *json; /* msg as a JSON object (inputs.omprog.json), or NULL */
    char *jstr;                /* strings of the JSON line, decoded: max_line bytes */
    struct jpair *pairs;
    size_t npairs;
    char paths[PATH_SCRATCH];
    size_t paths_used;
};

/*
 * Sets up the reader of lines for grammar gc (whose parser is `parser`):
 * fields go to ev, counts to counters. Returns 0, or LF_ENOMEM / LF_EINVAL
 * with the reason in errbuf; lf_omprog_props_free() is due either way.
 */
int lf_omprog_props_init(struct lf_omprog_props *o, const struct lf_grammar_conf *gc,
                         const char *timezone, struct lf_parser *parser, struct lf_event *ev,
                         struct lf_input_counters *counters, char *errbuf, size_t errlen);
void lf_omprog_props_free(struct lf_omprog_props *o);
/* Decodes the msg property of JSON lines as a JSON object (conf, borrowed,
 * outlives o) instead of parsing it with the grammar. Returns 0, or
 * LF_ENOMEM with the reason in errbuf. */
int lf_omprog_props_set_json(struct lf_omprog_props *o, const struct lf_jsonlines_conf *conf,
                             size_t max_line, char *errbuf, size_t errlen);

/*
 * Fills o->ev from one line (cut: it was longer than max_line): a JSON
 * object as rsyslog properties, anything else through the grammar. *ts gets
 * the event time in ms, or 0. Returns 0 or the parser's error.
 */
int lf_omprog_props_parse(struct lf_omprog_props *o, const char *line, size_t len, bool cut,
                          int64_t *ts);

/* Two 64-bit hashes of a line, the same on every machine: a document's id
 * is made from them, so that a line rsyslog sends again gets the same one. */
void lf_omprog_hash_line(const char *s, size_t n, uint64_t *a, uint64_t *b);

/* ---- the journal of the open transaction (omprog_journal.c) ------------- */

struct lf_omprog_journal;

/*
 * Opens (creating dir and it) `<dir>/omprog.journal`, locked against a
 * second agent on the same directory. Lines a previous instance journaled
 * and never saw committed are moved to `<dir>/omprog.replay` first, and are
 * handed out by lf_omprog_journal_replay_next(). Returns 0 with *out set, or
 * a negative LF_E* with the reason in errbuf.
 */
int lf_omprog_journal_open(const char *dir, struct lf_omprog_journal **out, char *errbuf,
                           size_t errlen);

/*
 * Appends one line (cut: it was cut at max_line) to the open transaction's
 * record. A memory store into a shared mapping, no system call: it survives
 * the agent being killed (the page cache has it), not the machine crashing
 * (neither does rsyslog's in-memory queue). Returns 0, or LF_ELIMIT when the
 * journal cannot grow.
 */
int lf_omprog_journal_append(struct lf_omprog_journal *j, const char *line, size_t len, bool cut);

/* Forgets the journaled lines: their transaction is committed, or rsyslog
 * was told it failed and sends its messages again. */
void lf_omprog_journal_clear(struct lf_omprog_journal *j);

/* Lines journaled since the last clear. */
size_t lf_omprog_journal_lines(const struct lf_omprog_journal *j);

/*
 * The next line to replay (journaled by an instance that did not live to see
 * it committed): returns true with *line, *len and *cut set (valid until
 * lf_omprog_journal_replay_done()), false when there is none left.
 */
bool lf_omprog_journal_replay_next(struct lf_omprog_journal *j, const char **line, size_t *len,
                                   bool *cut);

/* Every replayed line is safe: the replay file is removed. */
void lf_omprog_journal_replay_done(struct lf_omprog_journal *j);

/* Lines in the replay (handed out or not) and not yet done with. */
size_t lf_omprog_journal_replay_size(const struct lf_omprog_journal *j);

/* Unmaps and unlocks; `clear` forgets the journaled lines first. NULL: no-op. */
void lf_omprog_journal_close(struct lf_omprog_journal *j, bool clear);

#endif
