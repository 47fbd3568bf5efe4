/*
 * grok_int.h - what the files of the grok engine share and nobody else sees.
 */
#ifndef LF_GROK_INT_H
#define LF_GROK_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "grok.h"

struct grok_code;

/* One named pattern and where it was defined, for error messages. */
struct grok_def {
    char *name;
    char *regex;
    const char *file; /* owned by the library's file list */
    unsigned line;
    unsigned column; /* where the regex starts on that line, 1-based */
};

struct lf_grok_lib {
    struct grok_def *defs;
    size_t ndefs, cap;
    char **files;
    size_t nfiles;
};

const struct grok_def *grok_lib_find(const struct lf_grok_lib *lib, const char *name, size_t len);

enum grok_type { GROK_STRING, GROK_INT, GROK_FLOAT };

/* One capture group that feeds a field. */
struct grok_capture {
    uint32_t group;
    uint8_t type;
};

/* One output field of an expression, with every group that may fill it. */
struct grok_field {
    char *path;
    uint32_t path_len;
    struct grok_capture *caps;
    size_t ncaps;
};

/* The result of expanding one expression. */
struct grok_expansion {
    char *pattern;
    size_t pattern_len;
    struct grok_field *fields; /* sorted by path */
    size_t nfields;
    size_t ncaps; /* groups over all fields: the most fields one match adds */
    /* Groups of a field name Logstash cannot set (%{DATA:[a][b?]} in a
     * pattern file): a match in which one captured text does not count. */
    uint32_t *unset;
    size_t nunset;
    bool has_named_groups;
    char *pattern_unicode; /* NULL: the same text as pattern (see grok.c) */
};

/*
 * Expands expression `index` (0-based) into one PCRE2 pattern and compiles
 * it; on success *code owns the compiled patterns and *exp the pattern text
 * and field plan. On failure writes the reason to errbuf and leaves nothing
 * allocated.
 */
int grok_compile_expression(const struct lf_grok_lib *lib, const char *expr, size_t index,
                            const struct lf_grok_options *opt, struct grok_expansion *exp,
                            struct grok_code *code, char *errbuf, size_t errlen);
void grok_code_free(struct grok_code *code);
void grok_expansion_free(struct grok_expansion *exp);

/* Converts a field name in dotted ("host.name") or bracket ("[host][name]")
 * form to a dotted path; returns a malloc'ed string or NULL (errbuf says
 * why). */
char *grok_field_path(const char *name, size_t len, char *errbuf, size_t errlen);

/* One expression compiled twice: for lines that are valid UTF-8 (Ruby's
 * meaning of \b and POSIX classes) and for lines that are not, which UTF
 * mode cannot match at all. Either may be NULL if the pattern compiles in
 * only one mode (a Latin-1 byte in a pattern; \x{100} without UTF). */
struct grok_code {
    pcre2_code *utf;
    pcre2_code *bytes;
    bool utf_jit, bytes_jit; /* false: the JIT could not compile it */
};

/* One capture of an expression, flattened for the match loop: its group,
 * the field it fills and the type, in the expansion's path order. */
struct grok_slot {
    uint32_t group;
    uint32_t path_len;
    const char *path; /* the field's, owned by the expansion */
    uint8_t type;
};

struct grok_expr {
    struct grok_code code;
    struct grok_expansion exp;
    struct grok_slot *slots; /* exp.ncaps of them */
};

struct lf_grok {
    struct grok_expr *exprs;
    size_t nexprs;
    struct lf_grok_options opt;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
    struct lf_grok_stats stats;
};

#endif
