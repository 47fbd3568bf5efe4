/*
 * lf_config.h - YAML configuration files, read into a tree that remembers
 * where every key and value was, then bound into C structs by tables that
 * say, for each key, its type, where it goes, its default and what it is for.
 *
 *   struct lf_conf_errors errs;
 *   lf_conf_errors_init(&errs);
 *   struct lf_conf_doc *doc = lf_conf_parse_file("agent.yml", &errs);
 *   if (doc)
 *       lf_conf_bind(my_keys, doc->root, doc->origin, &my_struct, &errs);
 *   if (errs.count)
 *       lf_conf_errors_write(&errs, buf, sizeof(buf));   one problem per line
 *   ...
 *   lf_conf_release(my_keys, &my_struct);
 *   lf_conf_doc_free(doc);
 *   lf_conf_errors_free(&errs);
 *
 * Every problem is collected, not just the first, as "file:line:col: message"
 * (line and column 1-based). The same tables print the reference
 * documentation (lf_conf_write_keys), so the docs cannot drift from the code.
 *
 * YAML subset: one document of maps, lists and scalars. Anchors, aliases and
 * tags are refused, and so are duplicate keys. Scalars are text until a key's
 * type reads them, so `name: no` is the string "no" and `on` is only a bool
 * where a bool is expected. A plain empty value, `~` or `null` is "nothing".
 *
 * Included directly (it is not part of lf.h): #include "lf_config.h".
 */
#ifndef LF_CONFIG_H
#define LF_CONFIG_H

#include "lf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hard caps: hostile or runaway files are refused, never half-read. */
#define LF_CONF_MAX_FILE (4u << 20)   /* bytes of YAML */
#define LF_CONF_MAX_NODES 100000u     /* keys, values and list items together */
#define LF_CONF_MAX_DEPTH 64u         /* nested maps and lists */
#define LF_CONF_MAX_SCALAR (1u << 20) /* one value, after ${VAR} expansion */
#define LF_CONF_MAX_TEXT (16u << 20)  /* all values together, after expansion */
#define LF_CONF_MAX_ERRORS 100u       /* messages kept; later ones are counted */
#define LF_CONF_MAX_ITEMS 1024u       /* items of a list or map whose key sets no max */

/* ---- problems ---------------------------------------------------------- */

struct lf_conf_error {
    unsigned line, col; /* 0 when the problem is about the whole file */
    size_t seq;         /* order of discovery, to sort stably */
    char *text;         /* "file:line:col: message", owned */
};

struct lf_conf_errors {
    struct lf_conf_error *v;
    size_t n, cap;  /* messages kept (at most LF_CONF_MAX_ERRORS) */
    unsigned count; /* problems found, kept or not */
    int oom;        /* a message was lost for want of memory */
};

void lf_conf_errors_init(struct lf_conf_errors *e);
/* Frees every message; the collector may be initialised again. */
void lf_conf_errors_free(struct lf_conf_errors *e);
/* Records one problem at origin:line:col (line 0: "origin: message"). Never
 * fails: without memory the problem is still counted and e->oom is set. */
void lf_conf_errorf(struct lf_conf_errors *e, const char *origin, unsigned line, unsigned col,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/*
 * Writes the kept messages into buf, sorted by line and column, one per line
 * each ending in '\n', then a line saying how many more were found if some
 * were not kept. Stops before a message that does not fit; buf is always
 * NUL-terminated when len > 0. Returns the number of bytes written.
 */
size_t lf_conf_errors_write(struct lf_conf_errors *e, char *buf, size_t len);

/* ---- the document tree ------------------------------------------------- */

enum lf_conf_node_type {
    LF_CONF_NODE_NULL,   /* an empty value, ~ or null */
    LF_CONF_NODE_SCALAR, /* text */
    LF_CONF_NODE_MAP,    /* kids are the values, each with its key */
    LF_CONF_NODE_SEQ     /* kids are the items */
};

struct lf_conf_node {
    enum lf_conf_node_type type;
    unsigned line, col;         /* where the value starts */
    char *key;                  /* the key, when this node is a map's value */
    unsigned key_line, key_col; /* where the key starts */
    char *text;                 /* scalars: ${VAR} expanded, NUL-terminated */
    size_t len;                 /* of text (it may hold NUL bytes from "\0") */
    bool bad;                   /* a problem was reported here already */
    struct lf_conf_node **kids;
    size_t nkids, cap;
};

struct lf_conf_doc {
    char *origin;              /* the file name, for messages */
    struct lf_conf_node *root; /* NULL for an empty file */
    size_t nnodes;
    size_t text_bytes;
};

/*
 * Reads and parses a YAML file. Returns the document, owned by the caller
 * (lf_conf_doc_free), or NULL after adding the reason to errs: the file cannot
 * be read or is over LF_CONF_MAX_FILE, a YAML syntax error (libyaml's problem
 * and position), a cap reached, or no memory. Problems that leave the rest
 * readable (a duplicate key, an unset variable, an anchor) are added to errs
 * and the document is still returned, with the node concerned marked bad
 * (duplicates dropped), so that binding can report further problems.
 *
 * In every scalar value (not in keys) "${NAME}" is replaced by the
 * environment variable, "${NAME:-text}" by the variable or, when it is unset
 * or empty, by text; "$${" stands for a literal "${". An unset variable
 * without a default is a problem at the column of its "${".
 */
struct lf_conf_doc *lf_conf_parse_file(const char *path, struct lf_conf_errors *errs);
/* The same on text in memory; origin names it in messages. */
struct lf_conf_doc *lf_conf_parse_text(const char *origin, const char *text, size_t len,
                                       struct lf_conf_errors *errs);
/* Frees the document and every node; accepts NULL. */
void lf_conf_doc_free(struct lf_conf_doc *doc);
/* The value of `key` in a map node, or NULL (also when map is NULL or not a map). */
const struct lf_conf_node *lf_conf_get(const struct lf_conf_node *map, const char *key);

/* ---- schema tables ----------------------------------------------------- */

enum lf_conf_type {
    LF_CONF_STRING,       /* char *, non-empty, no NUL byte */
    LF_CONF_PATH,         /* char *, a string shorter than PATH_MAX */
    LF_CONF_BOOL,         /* bool: true/false, yes/no, on/off, any case */
    LF_CONF_UINT,         /* uint32_t: decimal digits */
    LF_CONF_DURATION,     /* uint64_t milliseconds: 10s, 500ms, 2m, 1h, 1m30s, 1.5s, 0 */
    LF_CONF_SIZE,         /* uint64_t bytes: 512, 64B, 5MiB, 1.5GiB, 10MB */
    LF_CONF_ENUM,         /* int (the value of `enums`), or char * with LF_CONF_AS_STRING */
    LF_CONF_FLAGS,        /* unsigned: a list of `enums` names, their values OR'ed */
    LF_CONF_STRINGS,      /* char ** at offset, size_t at count */
    LF_CONF_STRING_MAP,   /* name: text pairs; char ** at offset and values, size_t at count */
    LF_CONF_SECTION,      /* the keys of `sub`, in the struct at base + offset */
    LF_CONF_SECTION_LIST, /* a list of `sub` sections: item_size items at offset, count */
    LF_CONF_SECTION_MAP   /* name: `sub` section pairs, as a list; char *name at name_at */
};

/* Key flags. */
#define LF_CONF_REQUIRED 0x1  /* absence is a problem */
#define LF_CONF_AS_STRING 0x2 /* LF_CONF_ENUM: store the name (char *), not the value */
#define LF_CONF_SET_LINE 0x4  /* _SECTION_LIST, _MAP: fill each item's line_at */
#define LF_CONF_SET_COL 0x8   /* _SECTION_LIST, _MAP: fill each item's col_at */
/* A key this table knows only to refuse (a key of another daemon's file): its
 * presence is a problem whose message is `doc`; nothing is bound, and the
 * reference (lf_conf_write_keys) leaves it out. */
#define LF_CONF_REFUSED 0x10

struct lf_conf_enum {
    const char *name; /* NULL ends the table */
    int value;
};

/*
 * One key of a section. A table is an array ended by an entry with name NULL.
 * Offsets are from the start of the struct being filled; line_at and col_at
 * (with the flags LF_CONF_SET_LINE, LF_CONF_SET_COL) are offsets in each item
 * of an `unsigned` that receives where the item starts (a list item) or where
 * its name is (a named section).
 */
struct lf_conf_key {
    const char *name;
    enum lf_conf_type type;
    size_t offset;
    size_t count;   /* lists and maps: offset of a size_t */
    size_t values;  /* LF_CONF_STRING_MAP: offset of the char ** of texts */
    size_t name_at; /* LF_CONF_SECTION_MAP: offset of char *name in an item */
    size_t line_at; /* LF_CONF_SECTION_LIST, _MAP: see above and the flags */
    size_t col_at;
    size_t item_size;                 /* LF_CONF_SECTION_LIST, _MAP */
    const struct lf_conf_key *sub;    /* sections */
    const struct lf_conf_enum *enums; /* LF_CONF_ENUM, LF_CONF_FLAGS */
    const char *def;                  /* the default, as YAML text ("10s", "[a, b]"); NULL: none */
    const char *def_doc;              /* for the docs, when the default is worked out in code */
    const char *doc;
    uint64_t min, max; /* UINT, DURATION, SIZE: the range (max 0: the type's own);
                          lists and maps: how many items (max 0: LF_CONF_MAX_ITEMS) */
    unsigned flags;
    /* LF_CONF_STRING, _PATH, _STRINGS items: NULL if the text is acceptable,
     * else what was expected ("an absolute path"). */
    const char *(*check)(const char *text);
};

/*
 * Fills the struct at obj (zeroed by the caller beforehand) from a map node
 * following `table`: values read and range-checked, absent keys given their
 * defaults, nested sections and lists allocated. node NULL (or a null value)
 * binds every default. Each problem is added to errs with its position in
 * `origin`; binding goes on after a problem, and a scalar that failed takes its
 * default, so that later cross-checks see sane values. Whatever was filled,
 * complete or not, is owned by obj and freed by lf_conf_release().
 */
void lf_conf_bind(const struct lf_conf_key *table, const struct lf_conf_node *node,
                  const char *origin, void *obj, struct lf_conf_errors *errs);
/* Frees everything lf_conf_bind() allocated in obj and zeroes those fields. */
void lf_conf_release(const struct lf_conf_key *table, void *obj);

/*
 * The whole job for a daemon's file: reads `path` (NULL: the defaults
 * alone), binds `table` into obj (zeroed by the caller), then lets `finish`
 * (may be NULL) work out computed defaults and check across keys. Returns 0,
 * or the number of problems after writing them into errbuf, one per line as
 * "file:line:col: message" (obj's fields are then released already).
 */
unsigned lf_conf_load(const struct lf_conf_key *table, const char *path, void *obj,
                      void (*finish)(void *obj, const struct lf_conf_doc *doc,
                                     struct lf_conf_errors *errs),
                      char *errbuf, size_t errlen);

/*
 * Appends the reference of every key (dotted path, type with its range,
 * default, doc) as one Markdown table. Returns 0, LF_ENOMEM or LF_ELIMIT.
 */
int lf_conf_write_keys(struct lf_buf *out, const struct lf_conf_key *table);
/* The same reference as man(7) text: one .TP paragraph per key (for the
 * logferry.yml(5) page). Returns 0, LF_ENOMEM or LF_ELIMIT. */
int lf_conf_write_keys_roff(struct lf_buf *out, const struct lf_conf_key *table);

/* ---- scalar readers (also for command-line flags) ---------------------- */

/* Each returns 0, LF_ESYNTAX (not of that form), LF_ELIMIT (overflows
 * uint64) or LF_EINVAL (a fraction that is not a whole ms or byte). */
int lf_conf_parse_duration(const char *s, uint64_t *ms);
int lf_conf_parse_size(const char *s, uint64_t *bytes);
int lf_conf_parse_uint(const char *s, uint64_t *v);
/* Returns 0 or LF_ESYNTAX. */
int lf_conf_parse_bool(const char *s, bool *v);
/* Writes the shortest exact form ("10s", "1500ms", "5MiB", "1000KB") into out. */
void lf_conf_format_duration(uint64_t ms, char *out, size_t outlen);
void lf_conf_format_size(uint64_t bytes, char *out, size_t outlen);

#endif
