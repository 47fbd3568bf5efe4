/*
 * spooler.h - the spool as the outputs use it, written once for the
 * Elasticsearch and the Kafka output: documents in, documents read back in
 * order and settled as the server takes them, what a full spool does while
 * the server is away or answering, and the log lines an operator reads
 * (spooling starts, drops, drained). Private to shipper/.
 *
 * The output decides when to spool (its server is away or behind) and
 * when to read back; the spooler keeps the spool's read side (an lf_ackq
 * of records read and not settled: the spool's acknowledged position moves
 * over its settled prefix only) and its policy.
 */
#ifndef LF_SPOOLER_H
#define LF_SPOOLER_H

#include "shipper.h"
#include "spool.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lf_spooler;

/*
 * Opens the spool of `o` (see lf_spool_open); `component` names the output
 * in logs and `server` the server it feeds ("Elasticsearch", "Kafka"), both
 * static strings. Returns NULL with the reason in errbuf.
 */
struct lf_spooler *lf_spooler_open(const struct lf_spool_options *o, const char *component,
                                   const char *server, char *errbuf, size_t errlen);
/* Logs what is left to say (drops), closes the spool. Accepts NULL. */
void lf_spooler_close(struct lf_spooler *sp);

/* Bytes a document takes in the spool, its record header included. */
uint64_t lf_spooler_need(size_t prefix_len, size_t json_len);
/* Whether the spool could ever take such a document (a record over
 * LF_SPOOL_MAX_RECORD or larger than the whole spool never fits). */
bool lf_spooler_fits(const struct lf_spooler *sp, size_t prefix_len, size_t json_len);
/* The spool's size. */
uint64_t lf_spooler_max(const struct lf_spooler *sp);

/*
 * Whether `need` more bytes may be appended now. `away`: the server does
 * not answer; only then does `when_full: drop_oldest` drop the oldest
 * records to make room. While it answers, a full spool refuses instead
 * (the inputs' files still hold their data). Sets the spool's policy for
 * the appends that follow.
 */
bool lf_spooler_room(struct lf_spooler *sp, uint64_t need, bool away);

/* Appends one document (not durable until lf_spooler_commit). Returns 0,
 * LF_ELIMIT (full), LF_EINVAL (cannot be a record), LF_EIO or LF_ENOMEM. */
int lf_spooler_put(struct lf_spooler *sp, const char *prefix, int64_t ts_ms, const char *id,
                   const char *json, size_t len);
/* Makes what was put durable; then the caller acknowledges its inputs.
 * `why` says, the first time, why spooling started ("Elasticsearch is
 * unreachable"). Returns 0 or LF_EIO (put them again later). */
int lf_spooler_commit(struct lf_spooler *sp, const char *why);

/* Whether committed records may wait to be read, and the read side has
 * room to track them. */
bool lf_spooler_readable(const struct lf_spooler *sp);
/*
 * Reads the next document, in order; *seq is what lf_spooler_settle takes
 * once the server has it (or refused it for good). Records that are not
 * documents are skipped (logged). Returns 0, LF_ENOENT (nothing more now),
 * LF_ELIMIT (too many read and not settled), LF_EIO or LF_ENOMEM.
 */
int lf_spooler_take(struct lf_spooler *sp, struct lf_spool_doc *d, uint64_t *seq);
/* Takes back the last lf_spooler_take (the caller could not keep it) and
 * makes reading start again at the first unsettled record, once the
 * caller has settled or dropped what it holds: duplicates, nothing lost. */
void lf_spooler_untake(struct lf_spooler *sp);
/* The server has the document read as `seq`. */
void lf_spooler_settle(struct lf_spooler *sp, uint64_t seq);
/* Records read and not settled. */
size_t lf_spooler_out(const struct lf_spooler *sp);

/* Whether documents were spooled and not all delivered yet. */
bool lf_spooler_holding(const struct lf_spooler *sp);
/*
 * The periodic log lines (drops, one summary per interval; "drained" once
 * everything is delivered); `final` logs drops now. Returns the number of
 * documents dropped so far (the output's `dropped` counter).
 */
uint64_t lf_spooler_tick(struct lf_spooler *sp, bool final);

/* The spool itself, for what the spooler does not wrap (counters). */
struct lf_spool *lf_spooler_spool(struct lf_spooler *sp);
/* Bytes on disk not delivered yet (an upper bound). */
uint64_t lf_spooler_backlog_bytes(const struct lf_spooler *sp);

#endif
