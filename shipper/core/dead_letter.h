/*
 * dead_letter.h - the one dead-letter writer of the outputs: a document a
 * server refused for good (a mapping conflict, a topic it may not write,
 * an index name that cannot be) is appended, with the server's verdict, to
 * an NDJSON file and synced before its input is told it is done, so that
 * nothing is dropped silently and nothing is retried forever. Refusals are
 * logged in full a few per interval, then counted, because one mapping
 * conflict can refuse every document of a stream. Private to shipper/.
 *
 * One line per document:
 *   {"@timestamp":"<UTC now>","index":"<index or prefix>"[,"topic":"<topic>"],
 *    "_id":"<id>"[,"status":<HTTP status>],"error":{"type":..,"reason":..},
 *    "document":<the document>}
 */
#ifndef LF_DEAD_LETTER_H
#define LF_DEAD_LETTER_H

#include "lf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lf_dead_letters;

/* One refused document; strings are borrowed for the call. */
struct lf_dead_letter {
    const char *index; /* the index, or the index prefix */
    const char *topic; /* Kafka's topic, or NULL */
    const char *id;
    int status; /* the server's HTTP status, 0: none */
    const char *type, *reason;
    const char *json; /* the document */
    size_t len;
};

/*
 * Opens (creating, mode 0600) the file at `path` for appending; NULL path:
 * refusals are only logged and counted. `component` names the output in
 * logs, `server` the one that refuses ("Elasticsearch", "Kafka"). Returns
 * NULL with the reason in errbuf.
 */
struct lf_dead_letters *lf_dead_letters_open(const char *path, const char *component,
                                             const char *server, char *errbuf, size_t errlen);

/* Writes what is pending (best effort), logs the count of refusals not
 * logged yet, closes and frees. Accepts NULL. */
void lf_dead_letters_close(struct lf_dead_letters *dl);

/* Adds one document and logs the refusal (rate-limited). Not durable until
 * lf_dead_letters_flush. Returns 0 or LF_ENOMEM (nothing added). */
int lf_dead_letters_add(struct lf_dead_letters *dl, const struct lf_dead_letter *d);

/* Writes and fsyncs every document added since the last flush. Returns 0
 * (the caller may now tell their inputs), or LF_EIO (logged; the documents
 * stay pending and the next flush tries again). */
int lf_dead_letters_flush(struct lf_dead_letters *dl);

/* Forgets the documents added and not flushed (the caller sends them again
 * instead). */
void lf_dead_letters_discard(struct lf_dead_letters *dl);

/* Logs the count of refusals not logged one by one, once their interval
 * is over (or now, with `now`). Cheap; call it from the output's poll. */
void lf_dead_letters_tick(struct lf_dead_letters *dl, bool now);

/* Whether documents were added and not flushed yet. */
bool lf_dead_letters_pending(const struct lf_dead_letters *dl);

#endif
