/*
 * spool.h - the on-disk spool: an ordered, bounded, crash-safe queue of
 * opaque records that an output fills while Elasticsearch or Kafka is slow
 * or down, and drains in order once it is back (and first of all after a
 * restart).
 *
 * Each record gets a 64-bit id, contiguous and increasing across segments
 * and restarts. The writer appends and commits; once lf_spool_commit()
 * returned 0 the records are durable and the caller may acknowledge its
 * inputs. The reader hands records out in id order; the sender acknowledges
 * what the server took with lf_spool_ack(), which deletes whole delivered
 * segments and remembers the position across restarts. Damaged records are
 * skipped, logged and counted, never fatal.
 *
 * One process per directory (an flock on <dir>/lock). A handle is used by
 * one thread at a time: the caller serialises its calls.
 *
 * On disk, <dir>/<20-digit id of the first record>.seg files hold the
 * records back to back, each a 24-byte header then the payload:
 *
 *   off  size  field
 *     0     4  magic 89 4C 46 01 ("\x89LF" and format version 1)
 *     4     4  payload length, little endian, 1 .. LF_SPOOL_MAX_RECORD
 *     8     8  record id, little endian
 *    16     4  CRC-32C (Castagnoli) of bytes 4..15 and then the payload
 *    20     4  CRC-32C of bytes 0..19 (the header alone, so that a damaged
 *              length is never followed and a scan can resynchronise)
 *    24     n  payload
 *
 * <dir>/ack is one text line, replaced atomically (ack.tmp, fsync, rename):
 *   "lfspool-ack v1 <ack> <seg> <off> <id> <crc>\n"
 * <ack> is the first unacknowledged id; <seg>/<off>/<id> a place to resume
 * reading (segment first id, byte offset of the record with id <id> <= <ack>);
 * <crc> the CRC-32C of everything before the space preceding it, as 8
 * lowercase hex digits.
 */
#ifndef LF_SPOOL_H
#define LF_SPOOL_H

#include "lf.h"
#include "shipper.h" /* struct lf_spool_options */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest record payload, in bytes. */
#define LF_SPOOL_MAX_RECORD (64u << 20)
/* Bytes on disk per record besides its payload. */
#define LF_SPOOL_RECORD_OVERHEAD 24u

struct lf_spool_counters {
    uint64_t appended;        /* records appended by this process */
    uint64_t read;            /* records handed out by lf_spool_read (again after a rewind) */
    uint64_t acked;           /* records acknowledged by lf_spool_ack */
    uint64_t dropped;         /* records deleted to make room before they were ever read */
    uint64_t corrupt;         /* unacknowledged records lost to damage on disk */
    uint64_t bytes_on_disk;   /* size of all segment files */
    uint64_t records_on_disk; /* ids from the first segment's first on (read or not) */
};

struct lf_spool;

/*
 * Opens (creating if needed) the spool in o->dir: takes the directory lock,
 * lists the segments, cuts a torn record left by a crash off the end of the
 * last one (logged), resumes ids after the last record and reading at the
 * saved acknowledgement position (from the first segment when that file is
 * missing or damaged, logged). Files that are not the spool's are logged
 * and left alone. Returns the handle, or NULL with the reason in errbuf
 * (e.g. "spool DIR is in use by another process"); nothing is left open.
 */
struct lf_spool *lf_spool_open(const struct lf_spool_options *o, char *errbuf, size_t errlen);

/* Saves the acknowledgement position if it changed since it was last saved
 * (a failure is logged), closes everything and frees s. Records appended
 * but not committed stay on disk without a durability promise. Accepts
 * NULL. */
void lf_spool_close(struct lf_spool *s);

/*
 * Appends one record of 1 .. LF_SPOOL_MAX_RECORD bytes (copied; rec stays
 * the caller's). Returns 0 with its id in *id; LF_ELIMIT when the spool is
 * full under LF_SPOOL_FULL_BLOCK (nothing written: acknowledge and retry);
 * LF_EINVAL for an empty or oversized record, or one larger than max_bytes;
 * LF_EIO when the write failed (ENOSPC...: logged, the partial record is cut
 * back off, nothing appended). Under LF_SPOOL_FULL_DROP_OLDEST a full spool
 * deletes its oldest segments first, counting their unacknowledged records
 * as dropped and logging a warning. Not durable until lf_spool_commit().
 */
int lf_spool_append(struct lf_spool *s, const void *rec, size_t len, uint64_t *id);

/*
 * Makes every record appended so far durable and readable: with
 * LF_SPOOL_FSYNC_COMMIT it fsyncs the segments written since the last
 * commit and the directory if a segment was created; with
 * LF_SPOOL_FSYNC_NEVER it only makes them readable. Returns 0, after which
 * the caller may acknowledge its inputs, or LF_EIO (logged): the records
 * may or may not be on disk, so the caller appends them again later (a
 * duplicate in the spool is harmless: documents carry deterministic ids).
 */
int lf_spool_commit(struct lf_spool *s);

/*
 * Hands out the next committed record not handed out yet, in id order,
 * starting after the acknowledged position found at open. Returns 0 with
 * *rec, *len and *id set (*rec points into the spool's buffer, valid until the
 * next lf_spool_read or lf_spool_close); LF_ENOENT when there is nothing
 * more for now; LF_EIO on a read error (logged; the next call tries again);
 * LF_ENOMEM. Damaged data (bad checksum, impossible length, torn record,
 * missing ids) is skipped with a warning naming the segment file and
 * offset, its lost records counted as corrupt once; reading goes on at the
 * next valid record.
 */
int lf_spool_read(struct lf_spool *s, const void **rec, size_t *len, uint64_t *id);

/*
 * Acknowledges every record with an id below upto (delivered; the reader
 * skips them if it has not handed them out). Deletes the segments that hold
 * only such records (never the one being written) and saves the position
 * atomically, at most every 200 ms (the last one at close: replaying a few
 * delivered records after a crash is harmless). Returns 0; LF_EINVAL when
 * upto is past the next id to be appended (nothing changes); LF_EIO when a
 * deletion or the save failed (logged; the acknowledgement holds in memory
 * and the work is retried on the next call).
 */
int lf_spool_ack(struct lf_spool *s, uint64_t upto);

/* Moves reading back to the first unacknowledged record, for a sender that
 * lost its in-flight records and sends them again. */
void lf_spool_rewind(struct lf_spool *s);

/* Whether every record appended (committed or not) is acknowledged. */
bool lf_spool_empty(const struct lf_spool *s);

/* Bytes on disk from the first unacknowledged record on (an upper bound:
 * exact when the sender acknowledges all it read). */
uint64_t lf_spool_unacked_bytes(const struct lf_spool *s);

/* The counters, owned by s and kept current. */
const struct lf_spool_counters *lf_spool_counters(const struct lf_spool *s);

/* Logs, at most once per 10 s (and when `final`), how many records were
 * dropped since the last report, naming the spool and the server that is
 * away; returns the total dropped. */
uint64_t lf_spool_report_drops(struct lf_spool *s, const char *component, const char *server,
                               bool final);

/* Changes what a full spool does from now on: an output blocks while its
 * server answers (the data is still in the inputs' files) and drops the
 * oldest only while the server is away. */
void lf_spool_set_full(struct lf_spool *s, enum lf_spool_full full);

/* The id the next append will get. */
uint64_t lf_spool_next_id(const struct lf_spool *s);

/* ---- documents in records ----------------------------------------------- */

/*
 * The outputs (Elasticsearch, Kafka) store one document per record, so that
 * either can read what the other wrote: u8 version (1), u8 prefix length,
 * the index prefix, i64 event time (ms, little-endian), the 32-character id,
 * the JSON.
 */
struct lf_spool_doc {
    const char *prefix; /* not NUL-terminated: prefix_len bytes */
    size_t prefix_len;
    int64_t ts_ms;
    const char *id; /* LF_SPOOL_DOC_ID_LEN characters, not NUL-terminated */
    const char *json;
    size_t len;
};
#define LF_SPOOL_DOC_ID_LEN 32

/* Writes the record into rec (reset first). 0, LF_EINVAL (a prefix over
 * 255 bytes or an empty document), LF_ENOMEM or LF_ELIMIT. */
int lf_spool_doc_encode(struct lf_buf *rec, const char *prefix, int64_t ts_ms, const char *id,
                        const char *json, size_t len);
/* Reads a record (pointers into it); 0 or LF_ESYNTAX. */
int lf_spool_doc_decode(const unsigned char *rec, size_t len, struct lf_spool_doc *d);

#endif
