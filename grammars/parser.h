/*
 * parser.h - a configured grammar (named grok expressions plus their
 * settings, as the YAML config declares them) applied to lines: the agent's
 * inputs and the shipper's raw Kafka lines both use it.
 */
#ifndef LF_PARSER_H
#define LF_PARSER_H

#include "grok.h"
#include "lf.h"
#include "lf_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One grammar of the config's `grammars:` map. */
struct lf_grammar_conf {
    char *name;
    char **expressions;
    size_t nexpressions;
    char **patterns_dirs;
    size_t npatterns_dirs;
    char **definition_names; /* parallel to definition_regexes */
    char **definition_regexes;
    size_t ndefinitions;
    uint64_t max_line;
    uint32_t match_limit;
    unsigned line, col; /* where its name is in the file (0: the built-in syslog) */
};

/* The keys of one grammar's section (lf_config.h), shared by every config
 * that declares grammars. */
extern const struct lf_conf_key lf_grammar_conf_keys[];

/* The grammar every config has unless it defines one of that name. */
#define LF_DEFAULT_GRAMMAR "syslog"
#define LF_DEFAULT_GRAMMAR_EXPR "%{LOGFERRY_SYSLOG}"
/* The grammar of that name among n, or NULL. */
const struct lf_grammar_conf *lf_grammar_conf_find(const struct lf_grammar_conf *g, size_t n,
                                                   const char *name);
/*
 * When errs holds no problem yet: compiles each of the n grammars as the daemons do (lf_parser_create with
 * their timezone) and reports each one that does not compile in errs: at
 * the expression's own line and column when the problem is in one (section:
 * the `grammars` node, NULL when absent), else at the grammar's name.
 */
void lf_grammar_conf_check(const struct lf_grammar_conf *g, size_t n, const char *timezone,
                           const struct lf_conf_node *section, const char *origin,
                           struct lf_conf_errors *errs);
/* Appends the built-in syslog grammar unless one of that name is there; it
 * is bound through the same table, so it gets the same defaults. */
void lf_grammar_conf_add_default(struct lf_grammar_conf **grammars, size_t *n,
                                 struct lf_conf_errors *errs);
/* NULL if s names a zone lf_parser_create takes ("local", "UTC", "+01:00"),
 * else what is expected. */
const char *lf_conf_check_timezone(const char *s);
/* "<dir><tail>" without doubling a '/' (a default path under a data
 * directory); NULL after reporting to errs when out of memory. */
char *lf_conf_path_under(const char *dir, const char *tail, struct lf_conf_errors *errs);

/* ---- counters ---------------------------------------------------------- */

struct lf_input_counters {
    uint64_t read;      /* lines or samples taken in */
    uint64_t parsed;    /* matched a grammar expression */
    uint64_t unparsed;  /* matched none, shipped tagged */
    uint64_t emitted;   /* events handed to the pipeline */
    uint64_t acked;     /* events the output made safe */
    uint64_t truncated; /* lines cut at max_line */
    uint64_t errors;
};

/* ---- parsing lines ----------------------------------------------------- */

/*
 * A grammar ready for lines: the compiled grok expressions plus what turns a
 * match into an event's time. Built once per grammar from the config.
 */
struct lf_parser;

struct lf_parser *lf_parser_create(const struct lf_grammar_conf *gc, const char *timezone,
                                   char *errbuf, size_t errlen);
void lf_parser_destroy(struct lf_parser *p);
/* The parser for lines of the file at `path`: with the built-in syslog
 * grammar (%{LOGFERRY_SYSLOG}), a well-known non-syslog file
 * (/var/log/nginx/access.log, /var/log/dpkg.log...) gets its own grammar,
 * owned by p; anything else, and any other grammar, gets p itself. */
struct lf_parser *lf_parser_for_source(struct lf_parser *p, const char *path);
/* The compiled grammar, e.g. for the fields it declares. */
const lf_grok *lf_parser_grok(const struct lf_parser *p);
/* Every grammar this parser may run (the first stage, then, for the
 * built-in syslog grammar, each program's and each file kind's, compiled
 * now if they were not): the index template maps all their fields. Fills up
 * to max and returns how many there are. */
size_t lf_parser_groks(struct lf_parser *p, const lf_grok **out, size_t max);
/* lf_parser_groks of each of parsers[0..n) (NULL entries: none), made
 * from grammars[0..n), in two arrays the caller frees: the grammars and,
 * parallel, the name of the grammar each came from. Returns 0 or
 * LF_ENOMEM. */
int lf_parser_groks_of(struct lf_parser *const *parsers, const struct lf_grammar_conf *grammars,
                       size_t n, const lf_grok ***groks_out, const char ***names_out,
                       size_t *count);
/* Reads an ISO 8601 or syslog time the way parsed lines' timestamps are
 * read (zone, year); returns 1 with ms since the epoch, or 0. */
int lf_parser_parse_time(struct lf_parser *p, const char *s, size_t n, int64_t *ms);
/* Tests: the wall clock (ms) that year inference uses; 0 for the real one. */
void lf_parser_set_now(struct lf_parser *p, int64_t wall_ms);

/*
 * Parses one line into `ev` (whose fields then point into `line` and into the
 * event's own storage): the grammar's fields, "message" (the line, unless the
 * grammar captured one), event.original-free; the tag _grokparsefailure when
 * nothing matched; _truncated when `cut`. A captured "timestamp" (syslog
 * "Nov 21 17:02:01" with the year inferred across New Year and the zone from
 * the config, or ISO 8601) becomes the event time in *ts_ms and is removed;
 * otherwise *ts_ms is 0. Counts into `c`. Returns 0 or LF_ENOMEM/LF_ELIMIT.
 */
int lf_parser_parse(struct lf_parser *p, const char *line, size_t len, bool cut,
                    struct lf_event *ev, int64_t *ts_ms, struct lf_input_counters *c);

/*
 * Parses a message whose header came as fields (the journal's PRIORITY,
 * SYSLOG_IDENTIFIER, ...) rather than as text: with the built-in syslog
 * grammar, the grammar of `program` (process.name; NULL or unknown: the
 * grammar of other programs) on the message, whose failure to match is no
 * failure (the header fields stand, as for a syslog line); with any other
 * grammar, that grammar on the message, as lf_parser_parse. Same contract as
 * lf_parser_parse otherwise (ev cleared first, "message" added, counts).
 */
int lf_parser_parse_message(struct lf_parser *p, const char *program, size_t program_len,
                            const char *msg, size_t len, bool cut, struct lf_event *ev,
                            int64_t *ts_ms, struct lf_input_counters *c);

#endif
