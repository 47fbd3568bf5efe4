/*
 * bench_grok.c - how much the grok engine costs over PCRE2 itself.
 *
 * Loads a corpus into memory, then times over the same lines:
 *   scan   finding the line ends (the floor of any line-based work)
 *   pcre2  a bare pcre2_jit_match loop of the expression's compiled pattern
 *   grok   lf_grok_match: match and build the event (typed fields)
 *   json   grok + the original line as message + writing the JSON line,
 *          which is all `logferry grok` does per line after reading it
 *   parser lf_parser_parse with EXPR as a configured grammar, as the agent
 *          runs it (so %{LOGFERRY_SYSLOG} runs as header + program stages)
 *   pjson  parser + writing the JSON line
 * and prints lines/s, MB/s, ns/line and the ratios grok / pcre2 and
 * json / pcre2. Each figure
 * is the best of several rounds. Peeks at the compiled pattern through the
 * engine's private header, as only a benchmark should.
 *
 *   bench_grok CORPUS [EXPR] [ROUNDS]
 */
#define _POSIX_C_SOURCE 200809L
#include "grok_int.h"
#include "parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct line {
    const char *p;
    size_t len;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *load(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc(*size + 1);
    if (!data || fread(data, 1, *size, f) != *size) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    return data;
}

static size_t split(const char *data, size_t size, struct line **out)
{
    size_t n = 0, cap = 1 << 20;
    struct line *lines = malloc(cap * sizeof(*lines));
    const char *p = data, *end = data + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        if (n == cap)
            lines = realloc(lines, (cap *= 2) * sizeof(*lines));
        lines[n++] = (struct line){p, (size_t)(eol - p)};
        p = eol + 1;
    }
    *out = lines;
    return n;
}

static void report(const char *what, double secs, size_t lines, size_t bytes)
{
    printf("%-6s %8.3f s  %10.0f lines/s  %8.1f MB/s  %7.1f ns/line\n", what, secs,
           (double)lines / secs, (double)bytes / secs / 1e6, secs * 1e9 / (double)lines);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_grok CORPUS [EXPR] [ROUNDS]\n");
        return 2;
    }
    const char *expr = argc > 2 ? argv[2] : "%{SYSLOGLINE}";
    int rounds = argc > 3 ? atoi(argv[3]) : 3;
    size_t size;
    char *data = load(argv[1], &size);
    struct line *lines;
    size_t n = split(data, size, &lines);

    char err[1024];
    struct lf_grok_lib *lib = lf_grok_lib_create();
    if (lf_grok_lib_load_builtin(lib, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    lf_grok *g = lf_grok_create(lib, &expr, 1, NULL, err, sizeof(err));
    lf_grok_lib_destroy(lib);
    if (!g) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /* What ASCII lines take (grok_match.c). */
    pcre2_code *code = g->exprs[0].code.bytes ? g->exprs[0].code.bytes : g->exprs[0].code.utf;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    struct lf_event ev;
    struct lf_buf out;
    lf_event_init(&ev);
    lf_buf_init(&out, 1u << 30);

    char *exprs[] = {(char *)expr};
    struct lf_grammar_conf gc = {.name = "bench", .expressions = exprs, .nexpressions = 1};
    struct lf_parser *parser = lf_parser_create(&gc, "UTC", err, sizeof(err));
    if (!parser) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct lf_input_counters counters = {0};
    double best_scan = 1e9, best_pcre = 1e9, best_grok = 1e9, best_json = 1e9;
    double best_parser = 1e9, best_pjson = 1e9;
    size_t matched_bare = 0, sink = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        const char *p = data, *end = data + size;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            sink += (size_t)(nl ? nl - p : end - p);
            p = nl ? nl + 1 : end;
        }
        double t1 = now();
        matched_bare = 0;
        for (size_t i = 0; i < n; i++)
            matched_bare +=
                pcre2_jit_match(code, (PCRE2_SPTR)lines[i].p, lines[i].len, 0, 0, md, g->mctx) >= 0;
        double t2 = now();
        for (size_t i = 0; i < n; i++) {
            lf_event_clear(&ev);
            lf_grok_match(g, lines[i].p, lines[i].len, &ev);
            sink += ev.nfields;
        }
        double t3 = now();
        for (size_t i = 0; i < n; i++) {
            lf_event_clear(&ev);
            lf_grok_match(g, lines[i].p, lines[i].len, &ev);
            if (!lf_event_get(&ev, "message", 7))
                lf_event_add_string(&ev, "message", lines[i].p, lines[i].len);
            lf_event_write_json(&ev, &out);
            lf_buf_putc(&out, '\n');
            if (out.len > (1u << 18)) {
                sink += out.len;
                lf_buf_reset(&out);
            }
        }
        double t4 = now();
        int64_t ts;
        for (size_t i = 0; i < n; i++) {
            lf_parser_parse(parser, lines[i].p, lines[i].len, false, &ev, &ts, &counters);
            sink += ev.nfields;
        }
        double t5 = now();
        for (size_t i = 0; i < n; i++) {
            lf_parser_parse(parser, lines[i].p, lines[i].len, false, &ev, &ts, &counters);
            lf_event_write_json(&ev, &out);
            lf_buf_putc(&out, '\n');
            if (out.len > (1u << 18)) {
                sink += out.len;
                lf_buf_reset(&out);
            }
        }
        double t6 = now();
        if (t5 - t4 < best_parser)
            best_parser = t5 - t4;
        if (t6 - t5 < best_pjson)
            best_pjson = t6 - t5;
        if (t4 - t3 < best_json)
            best_json = t4 - t3;
        if (t1 - t0 < best_scan)
            best_scan = t1 - t0;
        if (t2 - t1 < best_pcre)
            best_pcre = t2 - t1;
        if (t3 - t2 < best_grok)
            best_grok = t3 - t2;
    }
    const struct lf_grok_stats *st = lf_grok_get_stats(g);
    printf("corpus %s: %zu lines, %.1f MB; expression %s (JIT %s)\n", argv[1], n,
           (double)size / 1e6, expr,
           (code == g->exprs[0].code.bytes ? g->exprs[0].code.bytes_jit : g->exprs[0].code.utf_jit)
               ? "on"
               : "off");
    printf("matched: bare %zu, grok %llu per round\n", matched_bare,
           (unsigned long long)(st->matched / (2u * (unsigned)rounds)));
    report("scan", best_scan, n, size);
    report("pcre2", best_pcre, n, size);
    report("grok", best_grok, n, size);
    report("json", best_json, n, size);
    report("parser", best_parser, n, size);
    report("pjson", best_pjson, n, size);
    printf("ratio grok/pcre2 = %.2f (match + typed event; target <= 1.5)\n", best_grok / best_pcre);
    printf("ratio json/pcre2 = %.2f (match + event + JSON line)\n", best_json / best_pcre);
    printf("(best of %d rounds; sink %zu)\n", rounds, sink % 10);
    lf_buf_free(&out);
    lf_event_free(&ev);
    pcre2_match_data_free(md);
    lf_grok_destroy(g);
    lf_parser_destroy(parser);
    free(lines);
    free(data);
    return 0;
}
