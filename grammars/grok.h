/*
 * grok.h - the grok engine: named regular-expression patterns, expanded into
 * one PCRE2 pattern per expression, compiled once with the JIT and matched
 * against log lines to produce typed, nested event fields.
 *
 *   struct lf_grok_lib *lib = lf_grok_lib_create();
 *   lf_grok_lib_load_builtin(lib, err, sizeof(err));
 *   lf_grok *g = lf_grok_create(lib, exprs, n, NULL, err, sizeof(err));
 *   lf_grok_match(g, line, len, &event);
 *
 * A compiled lf_grok does not depend on the library after creation. It holds
 * the match scratch (match data, JIT stack), so one lf_grok is used by one
 * thread at a time.
 */
#ifndef LF_GROK_H
#define LF_GROK_H

#include "lf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tags added to events by the engine, as Logstash names them. */
#define LF_GROK_TAG_FAILURE "_grokparsefailure"
#define LF_GROK_TAG_TIMEOUT "_groktimeout"
#define LF_GROK_TAG_TRUNCATED "_truncated"

/* ---- pattern library --------------------------------------------------- */

struct lf_grok_lib;

/* Returns an empty library, or NULL when out of memory. */
struct lf_grok_lib *lf_grok_lib_create(void);
void lf_grok_lib_destroy(struct lf_grok_lib *lib);

/*
 * Each loader adds definitions; a name defined again replaces the earlier
 * definition. On failure the error, naming the file and line, is written to
 * errbuf; definitions read before the bad line stay loaded.
 */
/* The pattern files shipped in grammars/, compiled into the binary. */
int lf_grok_lib_load_builtin(struct lf_grok_lib *lib, char *errbuf, size_t errlen);
/* Every regular file of `dir` whose name does not start with '.' or end with
 * '~', in name order. */
int lf_grok_lib_load_dir(struct lf_grok_lib *lib, const char *dir, char *errbuf, size_t errlen);
int lf_grok_lib_load_file(struct lf_grok_lib *lib, const char *path, char *errbuf, size_t errlen);
/* Text in the pattern-file format ("NAME regex" lines, '#' comments);
 * `origin` names it in error messages. */
int lf_grok_lib_load_text(struct lf_grok_lib *lib, const char *origin, const char *text, size_t len,
                          char *errbuf, size_t errlen);
/* One inline definition. */
int lf_grok_lib_define(struct lf_grok_lib *lib, const char *name, const char *regex, char *errbuf,
                       size_t errlen);
/* Number of distinct pattern names; the regex of `name` or NULL. */
size_t lf_grok_lib_count(const struct lf_grok_lib *lib);
const char *lf_grok_lib_lookup(const struct lf_grok_lib *lib, const char *name);
/* The name of definition i (0 <= i < count), in the order first defined. */
const char *lf_grok_lib_name(const struct lf_grok_lib *lib, size_t i);

/* ---- compiled grammar -------------------------------------------------- */

struct lf_grok_options {
    uint32_t match_limit; /* PCRE2 match limit per expression and line */
    uint32_t depth_limit; /* PCRE2 depth limit (interpreter only) */
    size_t jit_stack_max; /* bytes */
    size_t max_line;      /* longer lines are matched on this many bytes */
    size_t max_pattern;   /* cap on one expanded pattern, bytes */
};

/* Safe defaults: a pathological expression gives up in about 10 ms, while a
 * 1 MiB line that makes a plain pattern backtrack once per byte (^\b\w+\b:
 * on a megabyte of letters) still gets its answer. 10M is PCRE2's own. */
#define LF_GROK_DEFAULT_MATCH_LIMIT 10000000u
#define LF_GROK_DEFAULT_DEPTH_LIMIT 10000u
#define LF_GROK_DEFAULT_JIT_STACK (1u << 20)
#define LF_GROK_DEFAULT_MAX_LINE (1u << 20)
#define LF_GROK_DEFAULT_MAX_PATTERN (1u << 20)

void lf_grok_options_default(struct lf_grok_options *opt);

struct lf_grok_stats {
    uint64_t lines;
    uint64_t matched;
    uint64_t unmatched;       /* lines no expression matched */
    uint64_t limit_hits;      /* expression attempts stopped by a limit */
    uint64_t bad_conversions; /* :int / :float values kept as strings */
    uint64_t truncated;
};

typedef struct lf_grok lf_grok;

/*
 * Expands and compiles `n` expressions, tried in this order. Returns the
 * grammar, or NULL with the reason in errbuf: an unknown pattern (which, and
 * where it is referenced), a reference cycle (the cycle), a bad field or type,
 * or a PCRE2 error with its position mapped back into the expression or the
 * pattern file line it came from. `opt` may be NULL for the defaults; a
 * field of it left at 0 takes its default.
 */
lf_grok *lf_grok_create(const struct lf_grok_lib *lib, const char *const *exprs, size_t n,
                        const struct lf_grok_options *opt, char *errbuf, size_t errlen);
void lf_grok_destroy(lf_grok *g);

/* The expanded PCRE2 pattern of expression i (NUL-terminated, owned by g). */
const char *lf_grok_pattern(const lf_grok *g, size_t i);
size_t lf_grok_count(const lf_grok *g);

/* The type a field was declared with: %{NAME:field} (or :string), :int, :float. */
enum lf_grok_field_type { LF_GROK_FIELD_STRING, LF_GROK_FIELD_INT, LF_GROK_FIELD_FLOAT };

/*
 * Declaration i (0-based) of the fields g can produce, over every expression
 * in order and, within one, in path order: its dotted path (NUL-terminated,
 * owned by g) and declared type. A field declared in several places (two
 * expressions, alternatives of one) is listed once per place, each with its
 * own type. Returns 0, or LF_ENOENT when i is past the last declaration
 * (the outputs are then left alone).
 */
int lf_grok_field(const lf_grok *g, size_t i, const char **path, size_t *path_len,
                  enum lf_grok_field_type *type);

/*
 * Matches one line. On a match, adds the captured fields to `ev` (pointing
 * into `line`, which must outlive the event's use) and returns the index of
 * the expression that matched. Returns LF_ENOMATCH when none matched, after
 * adding the _grokparsefailure tag (or, as Logstash does, only _groktimeout if
 * a limit stopped an attempt); LF_ENOMEM or LF_ELIMIT if the event cannot take the fields.
 * Empty captures are left out, as Logstash does; a field captured twice
 * becomes a list.
 */
int lf_grok_match(lf_grok *g, const char *line, size_t len, struct lf_event *ev);
/* The same without tagging a line that matches nothing (LF_ENOMATCH, a
 * limit hit included): for a second-stage grammar whose failure leaves the
 * first stage's fields standing. */
int lf_grok_try(lf_grok *g, const char *line, size_t len, struct lf_event *ev);

const struct lf_grok_stats *lf_grok_get_stats(const lf_grok *g);

#endif
