/*
 * grammar_conf.c - the keys of a grammar's config section, shared by the
 * agent's and the shipper's configs.
 */
#define _POSIX_C_SOURCE 200809L
#include "lf_config.h"
#include "parser.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define G(field) offsetof(struct lf_grammar_conf, field)
#define KIB 1024ull
#define GIB (1024ull * 1024 * 1024)

const struct lf_conf_key lf_grammar_conf_keys[] = {
    {.name = "expressions",
     .type = LF_CONF_STRINGS,
     .offset = G(expressions),
     .count = G(nexpressions),
     .min = 1,
     .max = 256,
     .flags = LF_CONF_REQUIRED,
     .doc = "grok expressions tried in order on each line; the first that matches wins"},
    {.name = "patterns_dirs",
     .type = LF_CONF_STRINGS,
     .offset = G(patterns_dirs),
     .count = G(npatterns_dirs),
     .max = 64,
     .def = "[]",
     .doc = "directories of pattern files (`NAME regex` lines) loaded after the shipped ones; "
            "later definitions replace earlier ones"},
    {.name = "definitions",
     .type = LF_CONF_STRING_MAP,
     .offset = G(definition_names),
     .values = G(definition_regexes),
     .count = G(ndefinitions),
     .max = 4096,
     .def = "{}",
     .doc = "inline patterns, `NAME: regex`, loaded last"},
    {.name = "max_line",
     .type = LF_CONF_SIZE,
     .offset = G(max_line),
     .def = "1MiB",
     .min = KIB,
     .max = GIB,
     .doc = "longer lines are cut to this size and tagged `_truncated`"},
    {.name = "match_limit",
     .type = LF_CONF_UINT,
     .offset = G(match_limit),
     .def = "10000000",
     .min = 1,
     .doc = "PCRE2 match limit per expression and line: a pathological line gives up "
            "(`_groktimeout`) instead of burning CPU"},
    {.name = NULL}};

const struct lf_grammar_conf *lf_grammar_conf_find(const struct lf_grammar_conf *g, size_t n,
                                                   const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(g[i].name, name) == 0)
            return &g[i];
    return NULL;
}

void lf_grammar_conf_add_default(struct lf_grammar_conf **grammars, size_t *n,
                                 struct lf_conf_errors *errs)
{
    static const char text[] = "expressions: ['" LF_DEFAULT_GRAMMAR_EXPR "']";
    if (lf_grammar_conf_find(*grammars, *n, LF_DEFAULT_GRAMMAR))
        return;
    struct lf_grammar_conf *g = realloc(*grammars, (*n + 1) * sizeof(*g));
    if (!g) {
        lf_conf_errorf(errs, "(defaults)", 0, 0, "out of memory");
        return;
    }
    *grammars = g;
    g = &g[*n];
    memset(g, 0, sizeof(*g));
    (*n)++; /* counted now: released with the rest whatever follows */
    if (!(g->name = strdup(LF_DEFAULT_GRAMMAR))) {
        lf_conf_errorf(errs, "(defaults)", 0, 0, "out of memory");
        return;
    }
    struct lf_conf_doc *doc = lf_conf_parse_text("(built-in grammar " LF_DEFAULT_GRAMMAR ")", text,
                                                 sizeof(text) - 1, errs);
    if (doc)
        lf_conf_bind(lf_grammar_conf_keys, doc->root, doc->origin, g, errs);
    lf_conf_doc_free(doc);
}

char *lf_conf_path_under(const char *dir, const char *tail, struct lf_conf_errors *errs)
{
    size_t n = strlen(dir), t = strlen(tail);
    while (n > 0 && dir[n - 1] == '/')
        n--;
    char *s = malloc(n + t + 1);
    if (!s) {
        lf_conf_errorf(errs, "(defaults)", 0, 0, "out of memory");
        return NULL;
    }
    memcpy(s, dir, n);
    memcpy(s + n, tail, t + 1);
    return s;
}

const char *lf_conf_check_timezone(const char *s)
{
    static const char *why = "local, UTC or an offset like +01:00";
    if (strcmp(s, "local") == 0 || strcmp(s, "UTC") == 0)
        return NULL;
    if (strlen(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
        return why;
    for (int i = 1; i < 6; i++)
        if (i != 3 && (s[i] < '0' || s[i] > '9'))
            return why;
    int hh = (s[1] - '0') * 10 + (s[2] - '0'), mm = (s[4] - '0') * 10 + (s[5] - '0');
    return hh > 14 || mm > 59 || (hh == 14 && mm) ? why : NULL;
}

/* The column in the file of byte `off` of scalar n's text: exact when the
 * file's line holds the text verbatim from the scalar's start (plain, or
 * quoted without escapes before that byte), else the scalar's own column. */
static unsigned file_col(const char *origin, const struct lf_conf_node *n, size_t off)
{
    unsigned col = n->col;
    struct stat st;
    /* a regular file only: a pipe was read already, a terminal would wait */
    FILE *f = origin && stat(origin, &st) == 0 && S_ISREG(st.st_mode) ? fopen(origin, "r") : NULL;
    if (!f)
        return col;
    char line[4096];
    unsigned at = 0;
    while (at < n->line && fgets(line, sizeof(line), f))
        at++;
    fclose(f);
    size_t len = strlen(line), start = n->col - 1;
    if (at != n->line || start >= len || off > n->len)
        return col;
    size_t q = line[start] == '\'' || line[start] == '"';
    if (start + q + off <= len && memcmp(line + start + q, n->text, off) == 0)
        col = (unsigned)(start + q + off + 1);
    return col;
}

void lf_grammar_conf_check(const struct lf_grammar_conf *g, size_t n, const char *timezone,
                           const struct lf_conf_node *section, const char *origin,
                           struct lf_conf_errors *errs)
{
    /* A grammar whose keys are wrong was reported already; compiling what is
     * left of it would only say it again. */
    if (errs->count)
        return;
    for (size_t i = 0; i < n; i++) {
        char err[1200];
        struct lf_parser *p = lf_parser_create(&g[i], timezone, err, sizeof(err));
        if (p) {
            lf_parser_destroy(p);
            continue;
        }
        /* the timezone is the agent's, reported once by its own key */
        if (strncmp(err, "grammar ", 8) != 0)
            return;
        unsigned line = g[i].line, col = g[i].col, expr = 0, ecol = 0;
        const char *msg = err;
        const char *e = strstr(err, ": expression ");
        const struct lf_conf_node *exprs =
            lf_conf_get(lf_conf_get(section, g[i].name), "expressions");
        /* "grammar NAME: expression N, column C: why" points into the
         * expression: say it at that place in the file. */
        if (e && sscanf(e, ": expression %u, column %u:", &expr, &ecol) == 2 && expr >= 1 &&
            exprs && exprs->type == LF_CONF_NODE_SEQ && expr <= exprs->nkids) {
            const struct lf_conf_node *x = exprs->kids[expr - 1];
            line = x->line;
            col = ecol >= 1 ? file_col(origin, x, ecol - 1) : x->col;
        }
        const struct lf_conf_node *gn = lf_conf_get(section, g[i].name);
        const struct lf_conf_node *dirs = lf_conf_get(gn, "patterns_dirs"),
                                  *defs = lf_conf_get(gn, "definitions");
        /* a pattern directory or an inline definition: at its own place */
        for (size_t k = 0; !expr && dirs && dirs->type == LF_CONF_NODE_SEQ && k < dirs->nkids; k++)
            if (dirs->kids[k]->text && strstr(err, dirs->kids[k]->text)) {
                line = dirs->kids[k]->line;
                col = dirs->kids[k]->col;
                break;
            }
        for (size_t k = 0; !expr && defs && defs->type == LF_CONF_NODE_MAP && k < defs->nkids;
             k++) {
            char quoted[300];
            snprintf(quoted, sizeof(quoted), "inline pattern '%s'", defs->kids[k]->key);
            if (strstr(err, quoted)) {
                line = defs->kids[k]->key_line;
                col = defs->kids[k]->key_col;
                break;
            }
        }
        lf_conf_errorf(errs, origin, line, col, "grammars.%s", msg + 8);
    }
}
