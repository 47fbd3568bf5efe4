/*
 * grammar_cases.c - runs a grammar test file: lines in, expected events out.
 *
 * File format (tests/grammars/ *.test), one directive per line:
 *   # comment            ignored, as are blank lines
 *   expr: EXPR           consecutive expr: lines form the grammar for the
 *                        cases that follow (first match wins)
 *   line: TEXT           a log line, taken as it is
 *   line-c: TEXT         a log line with C escapes: \xHH \n \r \t \0 \\
 *   want: JSON           the event logferry grok prints for the line before:
 *                        the whole object, compared as JSON (key order free)
 *   source: PATH         the cases that follow go through the built-in syslog
 *                        grammar as the agent runs it on the file PATH (the
 *                        grammar picked by path, programs dispatched), in
 *                        UTC with "now" 2026-12-01; the event time, if the
 *                        line gave one, is "@ts" (ms) in want:
 *   format: NAME FIELD.. coverage: until the next format:, a case whose event
 *                        has one of the FIELDs counts as structured, else as
 *                        header only, or tagged if it is; a summary line
 *                        "coverage NAME: S structured / H header only / T
 *                        tagged" is printed at the end of the section
 *   min-structured: PCT  the section fails below PCT % structured
 * Every line: must be followed by a want:. Exit status 0 when all cases pass.
 */
#define _POSIX_C_SOURCE 200809L
#include "grok.h"
#include "parser.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXPRS 64

struct state {
    const char *file;
    unsigned lineno;
    char *exprs[MAX_EXPRS];
    size_t nexprs;
    int exprs_closed; /* a non-expr directive came: the next expr: starts anew */
    lf_grok *g;
    struct lf_grok_lib *lib;
    char *case_line;
    size_t case_len;
    unsigned case_lineno;
    int cases, failures;
    struct lf_parser *syslog; /* source: mode */
    struct lf_parser *source; /* the one picked for the path */
    char format[64];
    char *fields[16];
    size_t nfields;
    int structured, header_only, tagged;
};

static void coverage_end(struct state *st, int min_pct)
{
    if (!st->format[0])
        return;
    int n = st->structured + st->header_only + st->tagged;
    printf("coverage %s: %d structured / %d header only / %d tagged (%d lines)\n", st->format,
           st->structured, st->header_only, st->tagged, n);
    if (min_pct > 0 && (n == 0 || st->structured * 100 < min_pct * n)) {
        fprintf(stderr, "%s: format %s: %d of %d lines structured, below %d%%\n", st->file,
                st->format, st->structured, n, min_pct);
        st->failures++;
    }
    for (size_t i = 0; i < st->nfields; i++)
        free(st->fields[i]);
    st->nfields = 0;
    st->format[0] = '\0';
    st->structured = st->header_only = st->tagged = 0;
}

static void count_coverage(struct state *st, const struct lf_event *ev, const char *json)
{
    if (!st->format[0])
        return;
    if (strstr(json, "\"_grokparsefailure\"") || strstr(json, "\"_groktimeout\"")) {
        st->tagged++;
        return;
    }
    for (size_t i = 0; i < st->nfields; i++)
        if (lf_event_get(ev, st->fields[i], strlen(st->fields[i]))) {
            st->structured++;
            return;
        }
    st->header_only++;
}

static size_t unescape(const char *s, char *out)
{
    size_t n = 0;
    while (*s) {
        if (*s != '\\' || !s[1]) {
            out[n++] = *s++;
            continue;
        }
        s++;
        switch (*s) {
        case 'x': {
            unsigned v = 0;
            sscanf(s + 1, "%2x", &v);
            out[n++] = (char)v;
            s += 3;
            continue;
        }
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case '0':
            out[n++] = '\0';
            break;
        default:
            out[n++] = *s;
        }
        s++;
    }
    return n;
}

static int compile(struct state *st)
{
    char err[1024];
    lf_grok_destroy(st->g);
    st->g =
        lf_grok_create(st->lib, (const char *const *)st->exprs, st->nexprs, NULL, err, sizeof(err));
    if (!st->g) {
        fprintf(stderr, "%s:%u: grammar does not compile: %s\n", st->file, st->lineno, err);
        return -1;
    }
    return 0;
}

static void check(struct state *st, const char *want_text)
{
    struct lf_event ev;
    struct lf_buf out;
    json_error_t jerr;
    lf_event_init(&ev);
    lf_buf_init(&out, 64u << 20);
    st->cases++;

    int rc;
    int64_t ts = 0;
    if (st->source) {
        struct lf_input_counters c = {0};
        rc = lf_parser_parse(st->source, st->case_line, st->case_len, false, &ev, &ts, &c);
        struct lf_field f = {.path = "@ts", .path_len = 3, .type = LF_VAL_INT};
        f.v.i = ts;
        if (!rc && ts)
            rc = lf_event_add(&ev, &f);
    } else {
        rc = lf_grok_match(st->g, st->case_line, st->case_len, &ev);
        if (!lf_event_get(&ev, "message", 7))
            lf_event_add_string(&ev, "message", st->case_line, st->case_len);
    }
    if ((rc < 0 && rc != LF_ENOMATCH) || lf_event_write_json(&ev, &out)) {
        fprintf(stderr, "%s:%u: matching failed: %s\n", st->file, st->case_lineno, lf_strerror(rc));
        st->failures++;
        goto done;
    }
    json_t *got = json_loadb(out.data, out.len, 0, &jerr);
    if (got) {
        char *text = json_dumps(got, JSON_COMPACT);
        count_coverage(st, &ev, text ? text : "");
        free(text);
    }
    json_t *want = strcmp(want_text, "?") == 0 ? NULL : json_loads(want_text, 0, &jerr);
    if (!want && got && strcmp(want_text, "?") == 0) {
        /* Writing a new case: show what the engine gives, and fail. */
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        printf("got %u: %s\n", st->case_lineno, g ? g : "");
        free(g);
        st->failures++;
    } else if (!want) {
        fprintf(stderr, "%s:%u: want: is not JSON: %s\n", st->file, st->lineno, jerr.text);
        st->failures++;
    } else if (!got) {
        fprintf(stderr, "%s:%u: engine wrote invalid JSON (%s): %s\n", st->file, st->case_lineno,
                jerr.text, out.data);
        st->failures++;
    } else if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
        fprintf(stderr, "%s:%u: mismatch\n  want: %s\n  got:  %s\n", st->file, st->case_lineno, w,
                g);
        free(g);
        free(w);
        st->failures++;
    }
    json_decref(got);
    json_decref(want);
done:
    lf_buf_free(&out);
    lf_event_free(&ev);
}

static int directive(struct state *st, char *line)
{
    if (!*line || *line == '#')
        return 0;
    char *colon = strstr(line, ": ");
    if (!colon) {
        fprintf(stderr, "%s:%u: expected 'key: value'\n", st->file, st->lineno);
        return -1;
    }
    *colon = '\0';
    char *value = colon + 2;
    if (strcmp(line, "source") == 0) {
        if (!st->syslog) {
            char *expr[] = {LF_DEFAULT_GRAMMAR_EXPR};
            struct lf_grammar_conf gc = {.name = LF_DEFAULT_GRAMMAR, .expressions = expr,
                                         .nexpressions = 1};
            char err[1024];
            if (!(st->syslog = lf_parser_create(&gc, "UTC", err, sizeof(err)))) {
                fprintf(stderr, "%s:%u: %s\n", st->file, st->lineno, err);
                return -1;
            }
        }
        st->source = lf_parser_for_source(st->syslog, value);
        lf_parser_set_now(st->source, 1796083200000LL); /* 2026-12-01T00:00:00Z */
        st->exprs_closed = 1;
        return 0;
    }
    if (strcmp(line, "format") == 0) {
        coverage_end(st, 0);
        char *save = NULL;
        char *tok = strtok_r(value, " ", &save);
        snprintf(st->format, sizeof(st->format), "%s", tok ? tok : "?");
        while ((tok = strtok_r(NULL, " ", &save)) && st->nfields < 16)
            st->fields[st->nfields++] = strdup(tok);
        return 0;
    }
    if (strcmp(line, "min-structured") == 0) {
        coverage_end(st, atoi(value));
        return 0;
    }
    if (strcmp(line, "expr") == 0) {
        st->source = NULL;
        if (st->exprs_closed) {
            for (size_t i = 0; i < st->nexprs; i++)
                free(st->exprs[i]);
            st->nexprs = 0;
            st->exprs_closed = 0;
        }
        if (st->nexprs == MAX_EXPRS)
            return -1;
        st->exprs[st->nexprs++] = strdup(value);
        return 0;
    }
    if (!st->exprs_closed && !st->source) {
        st->exprs_closed = 1;
        if (!st->nexprs || compile(st))
            return -1;
    }
    if (strcmp(line, "line") == 0 || strcmp(line, "line-c") == 0) {
        free(st->case_line);
        st->case_line = malloc(strlen(value) + 1);
        st->case_len = line[4] ? unescape(value, st->case_line) : strlen(value);
        if (!line[4])
            memcpy(st->case_line, value, st->case_len);
        st->case_lineno = st->lineno;
        return 0;
    }
    if (strcmp(line, "want") == 0) {
        if (!st->case_line) {
            fprintf(stderr, "%s:%u: want: without a line: before it\n", st->file, st->lineno);
            return -1;
        }
        check(st, value);
        free(st->case_line);
        st->case_line = NULL;
        return 0;
    }
    fprintf(stderr, "%s:%u: unknown directive '%s'\n", st->file, st->lineno, line);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: grammar_cases FILE.test\n");
        return 2;
    }
    struct state st = {.file = argv[1]};
    char err[1024];
    st.lib = lf_grok_lib_create();
    if (!st.lib || lf_grok_lib_load_builtin(st.lib, err, sizeof(err))) {
        fprintf(stderr, "cannot load the shipped patterns: %s\n", err);
        return 1;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int bad = 0;
    while (!bad && (n = getline(&line, &cap, f)) >= 0) {
        st.lineno++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        bad = directive(&st, line) != 0;
    }
    if (!bad && st.case_line) {
        fprintf(stderr, "%s:%u: line: without want:\n", st.file, st.case_lineno);
        bad = 1;
    }
    free(line);
    fclose(f);
    free(st.case_line);
    for (size_t i = 0; i < st.nexprs; i++)
        free(st.exprs[i]);
    coverage_end(&st, 0);
    lf_grok_destroy(st.g);
    lf_parser_destroy(st.syslog);
    lf_grok_lib_destroy(st.lib);
    printf("%s: %d cases, %d failed\n", argv[1], st.cases, st.failures);
    if (!bad && st.cases == 0) {
        fprintf(stderr, "%s: no cases\n", argv[1]);
        bad = 1;
    }
    return bad || st.failures ? 1 : 0;
}
