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
 * Every line: must be followed by a want:. Exit status 0 when all cases pass.
 */
#define _POSIX_C_SOURCE 200809L
#include "grok.h"

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
};

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

    int rc = lf_grok_match(st->g, st->case_line, st->case_len, &ev);
    if (!lf_event_get(&ev, "message", 7))
        lf_event_add_string(&ev, "message", st->case_line, st->case_len);
    if ((rc < 0 && rc != LF_ENOMATCH) || lf_event_write_json(&ev, &out)) {
        fprintf(stderr, "%s:%u: matching failed: %s\n", st->file, st->case_lineno, lf_strerror(rc));
        st->failures++;
        goto done;
    }
    json_t *got = json_loadb(out.data, out.len, 0, &jerr);
    json_t *want = json_loads(want_text, 0, &jerr);
    if (!want) {
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
    if (strcmp(line, "expr") == 0) {
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
    if (!st->exprs_closed) {
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
    lf_grok_destroy(st.g);
    lf_grok_lib_destroy(st.lib);
    printf("%s: %d cases, %d failed\n", argv[1], st.cases, st.failures);
    if (!bad && st.cases == 0) {
        fprintf(stderr, "%s: no cases\n", argv[1]);
        bad = 1;
    }
    return bad || st.failures ? 1 : 0;
}
