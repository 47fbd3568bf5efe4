/*
 * logstash_patterns.c - Logstash's own pattern files through our engine.
 *
 * logstash-patterns-core's files are public but not ours, so they are not in
 * the tree: the test reads them from the directory $LF_LOGSTASH_PATTERNS,
 * which holds legacy/ and ecs-v1/ as upstream lays them out, and exits 77
 * (skipped) without it. For each of the two it loads every file into a
 * library of its own (as Logstash loads one set), compiles every pattern
 * name alone, and prints how many compiled and the largest compiled pattern
 * (names in $LF_LOGSTASH_KNOWN_BAD may fail: see known_bad()).
 * Then it runs the sample file given as argv[1] (our own lines):
 *
 *   # comment
 *   dir: NAME            the cases that follow use the set NAME (legacy, ecs-v1)
 *   expr: EXPR           the grammar for the cases that follow (one expression)
 *   line: TEXT           a log line
 *   want: JSON           what the event must hold: every key of JSON, nested
 *                        objects compared key by key, other values exactly
 *   want: nomatch        the line must be tagged _grokparsefailure
 *
 * Exit status 0 when every pattern compiles and every case passes.
 */
#define _POSIX_C_SOURCE 200809L
#include "grok_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SKIP 77

static const char *const sets[] = {"legacy", "ecs-v1"};
#define NSETS (sizeof(sets) / sizeof(sets[0]))

struct set {
    struct lf_grok_lib *lib;
    size_t patterns, compiled;
};

/* The larger of the two compiled patterns of expression 0. */
static size_t compiled_size(const lf_grok *g)
{
    size_t a = 0, b = 0;
    if (g->exprs[0].code.utf)
        pcre2_pattern_info(g->exprs[0].code.utf, PCRE2_INFO_SIZE, &a);
    if (g->exprs[0].code.bytes)
        pcre2_pattern_info(g->exprs[0].code.bytes, PCRE2_INFO_SIZE, &b);
    return a > b ? a : b;
}

/* Whether $LF_LOGSTASH_KNOWN_BAD (names separated by spaces) lists `name`:
 * a pattern that Logstash cannot compile either in the copy at hand, such as
 * an intermediate upstream EXIM_FLAGS with an unescaped '*' that Ruby
 * rejects ("target of repeat operator is not specified"). */
static int known_bad(const char *name)
{
    const char *list = getenv("LF_LOGSTASH_KNOWN_BAD");
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len == n && memcmp(p, name, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

/* Compiles every pattern name of the set alone; returns the failures. */
static int compile_all(const char *name, struct set *st)
{
    char err[2048];
    size_t largest = 0;
    const char *largest_name = "";
    int failures = 0;
    st->patterns = lf_grok_lib_count(st->lib);
    for (size_t i = 0; i < st->patterns; i++) {
        char expr[512];
        snprintf(expr, sizeof(expr), "%%{%s}", lf_grok_lib_name(st->lib, i));
        const char *e = expr;
        lf_grok *g = lf_grok_create(st->lib, &e, 1, NULL, err, sizeof(err));
        if (!g && known_bad(lf_grok_lib_name(st->lib, i))) {
            printf("%s: %s does not compile, as expected: %s\n", name, expr, err);
            continue;
        }
        if (!g) {
            printf("%s: %s does not compile: %s\n", name, expr, err);
            failures++;
            continue;
        }
        st->compiled++;
        size_t size = compiled_size(g);
        if (size > largest) {
            largest = size;
            largest_name = lf_grok_lib_name(st->lib, i);
        }
        lf_grok_destroy(g);
    }
    printf("%s: %zu patterns, %zu compiled, largest compiled %s %zu bytes\n", name, st->patterns,
           st->compiled, largest_name, largest);
    return failures;
}

/* Whether `want` is contained in `got`: objects key by key, the rest equal. */
static int contains(const json_t *got, const json_t *want)
{
    if (!json_is_object(want))
        return json_equal(got, want);
    if (!json_is_object(got))
        return 0;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)want, key, value)
    {
        if (!contains(json_object_get(got, key), value))
            return 0;
    }
    return 1;
}

struct run {
    const char *file;
    unsigned lineno;
    struct set *set;
    lf_grok *g;
    char line[65536];
    int have_line;
    int cases, failures;
};

static void failed(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void failed(struct run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s:%u: ", r->file, r->lineno);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    r->failures++;
}

static void check_case(struct run *r, const char *want_text)
{
    r->cases++;
    if (!r->g || !r->have_line) {
        failed(r, "want: without a compiled expr: and a line:");
        return;
    }
    r->have_line = 0;
    struct lf_event ev;
    struct lf_buf out;
    lf_event_init(&ev);
    lf_buf_init(&out, 16u << 20);
    int rc = lf_grok_match(r->g, r->line, strlen(r->line), &ev);
    json_t *got = NULL;
    if ((rc >= 0 || rc == LF_ENOMATCH) && lf_event_write_json(&ev, &out) == 0)
        got = json_loadb(out.data, out.len, 0, NULL);
    int nomatch = strcmp(want_text, "nomatch") == 0;
    json_t *want = nomatch ? json_pack("{s:[s]}", "tags", LF_GROK_TAG_FAILURE)
                           : json_loads(want_text, 0, NULL);
    char *text = got ? json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    if (!want)
        failed(r, "want: is not JSON: %s", want_text);
    else if (!got)
        failed(r, "no event for the line");
    else if (!contains(got, want) || (!nomatch && json_object_get(got, "tags")))
        failed(r, "want %s\n  got %s", want_text, text);
    free(text);
    json_decref(got);
    json_decref(want);
    lf_buf_free(&out);
    lf_event_free(&ev);
}

static void directive(struct run *r, struct set *sets_, char *text)
{
    char err[2048];
    if (strncmp(text, "dir: ", 5) == 0) {
        r->set = NULL;
        for (size_t i = 0; i < NSETS; i++)
            if (strcmp(text + 5, sets[i]) == 0)
                r->set = &sets_[i];
        if (!r->set)
            failed(r, "unknown set %s", text + 5);
    } else if (strncmp(text, "expr: ", 6) == 0) {
        lf_grok_destroy(r->g);
        r->g = NULL;
        const char *e = text + 6;
        if (!r->set)
            failed(r, "expr: before dir:");
        else if (!(r->g = lf_grok_create(r->set->lib, &e, 1, NULL, err, sizeof(err))))
            failed(r, "%s: %s", e, err);
    } else if (strncmp(text, "line: ", 6) == 0) {
        snprintf(r->line, sizeof(r->line), "%s", text + 6);
        r->have_line = 1;
    } else if (strncmp(text, "want: ", 6) == 0) {
        check_case(r, text + 6);
    } else if (text[0] && text[0] != '#') {
        failed(r, "unknown directive: %s", text);
    }
}

static int run_samples(const char *file, struct set *sets_)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        perror(file);
        return 1;
    }
    struct run *r = calloc(1, sizeof(*r));
    if (!r) {
        fclose(f);
        return 1;
    }
    r->file = file;
    char *text = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&text, &cap, f)) >= 0) {
        r->lineno++;
        if (n && text[n - 1] == '\n')
            text[--n] = '\0';
        directive(r, sets_, text);
    }
    free(text);
    fclose(f);
    lf_grok_destroy(r->g);
    printf("samples: %d cases, %d failed\n", r->cases, r->failures);
    int rc = r->failures || r->cases == 0;
    free(r);
    return rc;
}

int main(int argc, char **argv)
{
    const char *root = getenv("LF_LOGSTASH_PATTERNS");
    struct stat sb;
    if (argc != 2) {
        fprintf(stderr, "usage: LF_LOGSTASH_PATTERNS=DIR %s SAMPLES\n", argv[0]);
        return 2;
    }
    if (!root || !*root || stat(root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        printf("skipped: LF_LOGSTASH_PATTERNS does not name a directory holding "
               "logstash-patterns-core's legacy/ and ecs-v1/\n");
        return SKIP;
    }
    struct set st[NSETS] = {0};
    int failures = 0;
    char err[2048];
    for (size_t i = 0; i < NSETS; i++) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", root, sets[i]);
        st[i].lib = lf_grok_lib_create();
        if (!st[i].lib || lf_grok_lib_load_dir(st[i].lib, dir, err, sizeof(err))) {
            printf("%s: %s\n", dir, st[i].lib ? err : "out of memory");
            failures++;
            continue;
        }
        failures += compile_all(sets[i], &st[i]);
    }
    failures += run_samples(argv[1], st);
    for (size_t i = 0; i < NSETS; i++)
        lf_grok_lib_destroy(st[i].lib);
    return failures ? 1 : 0;
}
