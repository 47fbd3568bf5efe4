/*
 * cmd_grok.c - `logferry grok`: a grok debugger for the terminal and for
 * scripts. Lines on stdin, exactly one JSON object per line on stdout: the
 * captured fields, nested and typed, and the line itself in "message" unless
 * the expression captured "message".
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "grok.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUT_FLUSH_AT (256u * 1024)
#define MAX_EXPRESSIONS 256

static void usage(FILE *out)
{
    fprintf(out,
            "usage: logferry grok -e EXPR [-e EXPR ...] [options] < lines\n"
            "\n"
            "Matches each line of stdin against the expressions, in order (first match\n"
            "wins), and prints one JSON object per line. A line no expression matches is\n"
            "printed with \"tags\": [\"_grokparsefailure\"].\n"
            "\n"
            "  -e, --expression EXPR   a grok expression, e.g. '%%{SYSLOGLINE}'\n"
            "  -p, --patterns DIR      load pattern files from DIR after the shipped ones\n"
            "                          (repeatable; later definitions override earlier)\n"
            "  -D, --define 'NAME RE'  define one pattern inline (after -p directories)\n"
            "      --explain           print each expanded PCRE2 pattern and exit\n"
            "      --max-line BYTES    longer lines are cut and tagged _truncated\n"
            "                          (default %u)\n"
            "      --match-limit N     PCRE2 match limit per attempt (default %u)\n"
            "      --stats             print counters to stderr at the end\n"
            "  -h, --help              this text\n",
            LF_GROK_DEFAULT_MAX_LINE, LF_GROK_DEFAULT_MATCH_LIMIT);
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v == 0 || v > (1ull << 31))
        return LF_EINVAL;
    *out = (size_t)v;
    return 0;
}

struct grok_cli {
    const char *exprs[MAX_EXPRESSIONS];
    size_t nexprs;
    const char *dirs[MAX_EXPRESSIONS];
    size_t ndirs;
    const char *defines[MAX_EXPRESSIONS];
    size_t ndefines;
    int explain;
    int stats;
    struct lf_grok_options opt;
};

static int parse_args(int argc, char **argv, struct grok_cli *c)
{
    static const struct option longopts[] = {
        {"expression", required_argument, NULL, 'e'},
        {"patterns", required_argument, NULL, 'p'},
        {"define", required_argument, NULL, 'D'},
        {"explain", no_argument, NULL, 'x'},
        {"max-line", required_argument, NULL, 'm'},
        {"match-limit", required_argument, NULL, 'l'},
        {"stats", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    size_t v;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "e:p:D:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'e':
        case 'p':
        case 'D': {
            const char **list = ch == 'e' ? c->exprs : ch == 'p' ? c->dirs : c->defines;
            size_t *n = ch == 'e' ? &c->nexprs : ch == 'p' ? &c->ndirs : &c->ndefines;
            if (*n == MAX_EXPRESSIONS) {
                fprintf(stderr, "logferry grok: at most %d -%c options\n", MAX_EXPRESSIONS, ch);
                return LF_EXIT_USAGE;
            }
            list[(*n)++] = optarg;
            break;
        }
        case 'x':
            c->explain = 1;
            break;
        case 's':
            c->stats = 1;
            break;
        case 'm':
        case 'l':
            if (parse_size(optarg, &v)) {
                fprintf(stderr, "logferry grok: --%s wants a positive number, not '%s'\n",
                        ch == 'm' ? "max-line" : "match-limit", optarg);
                return LF_EXIT_USAGE;
            }
            if (ch == 'm')
                c->opt.max_line = v;
            else
                c->opt.match_limit = (uint32_t)v;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            usage(stderr);
            return LF_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "logferry grok: unexpected argument '%s'\n", argv[optind]);
        return LF_EXIT_USAGE;
    }
    if (c->nexprs == 0) {
        fprintf(stderr, "logferry grok: give at least one -e EXPR\n");
        usage(stderr);
        return LF_EXIT_USAGE;
    }
    return 0;
}

static struct lf_grok_lib *load_library(const struct grok_cli *c)
{
    char err[1024];
    struct lf_grok_lib *lib = lf_grok_lib_create();
    if (!lib) {
        fprintf(stderr, "logferry grok: out of memory\n");
        return NULL;
    }
    int rc = lf_grok_lib_load_builtin(lib, err, sizeof(err));
    for (size_t i = 0; !rc && i < c->ndirs; i++)
        rc = lf_grok_lib_load_dir(lib, c->dirs[i], err, sizeof(err));
    for (size_t i = 0; !rc && i < c->ndefines; i++) {
        const char *d = c->defines[i];
        size_t name_len = strcspn(d, " \t");
        char name[256];
        if (name_len == 0 || name_len >= sizeof(name) || !d[name_len]) {
            snprintf(err, sizeof(err), "-D '%s': expected 'NAME REGEX'", d);
            rc = LF_EINVAL;
            break;
        }
        memcpy(name, d, name_len);
        name[name_len] = '\0';
        rc = lf_grok_lib_define(lib, name, d + name_len + strspn(d + name_len, " \t"), err,
                                sizeof(err));
    }
    if (rc) {
        fprintf(stderr, "logferry grok: %s\n", err);
        lf_grok_lib_destroy(lib);
        return NULL;
    }
    return lib;
}

/* Matches one line and appends its JSON object and a newline to `out`. */
static int grok_line(lf_grok *g, struct lf_event *ev, const char *line, size_t len, int cut,
                     struct lf_buf *out)
{
    int rc;
    lf_event_clear(ev);
    if (cut && (rc = lf_event_add_tag(ev, LF_GROK_TAG_TRUNCATED)))
        return rc;
    rc = lf_grok_match(g, line, len, ev);
    if (rc < 0 && rc != LF_ENOMATCH)
        return rc;
    if (!lf_event_get(ev, "message", 7) && (rc = lf_event_add_string(ev, "message", line, len)))
        return rc;
    if ((rc = lf_event_write_json(ev, out)))
        return rc;
    return lf_buf_putc(out, '\n');
}

static int run(lf_grok *g, size_t max_line, uint64_t *cut_lines)
{
    struct lf_line_reader reader;
    struct lf_event ev;
    struct lf_buf out;
    int rc = lf_line_reader_init(&reader, STDIN_FILENO, max_line);
    lf_event_init(&ev);
    /* One event's JSON is at most ~6x the line; room for that plus a batch. */
    lf_buf_init(&out, max_line * 8 + OUT_FLUSH_AT + 65536);

    const char *line;
    size_t len;
    int cut;
    while (!rc && (rc = lf_line_reader_next(&reader, &line, &len, &cut)) == 1) {
        *cut_lines += (uint64_t)cut;
        rc = grok_line(g, &ev, line, len, cut, &out);
        if (!rc && out.len >= OUT_FLUSH_AT) {
            rc = lf_write_all(STDOUT_FILENO, out.data, out.len);
            lf_buf_reset(&out);
        }
    }
    if (rc == LF_EIO)
        fprintf(stderr, "logferry grok: %s: %s\n", "stdin/stdout", strerror(errno));
    else if (rc < 0)
        fprintf(stderr, "logferry grok: %s\n", lf_strerror(rc));
    if (rc >= 0 && out.len && (rc = lf_write_all(STDOUT_FILENO, out.data, out.len)))
        fprintf(stderr, "logferry grok: stdout: %s\n", strerror(errno));
    lf_buf_free(&out);
    lf_event_free(&ev);
    lf_line_reader_free(&reader);
    return rc < 0 ? rc : 0;
}

int lf_cmd_grok(int argc, char **argv)
{
    struct grok_cli c = {0};
    lf_grok_options_default(&c.opt);
    int rc = parse_args(argc, argv, &c);
    if (rc)
        return rc < 0 ? LF_EXIT_OK : rc;

    struct lf_grok_lib *lib = load_library(&c);
    if (!lib)
        return LF_EXIT_FAILURE;
    char err[1024];
    lf_grok *g = lf_grok_create(lib, c.exprs, c.nexprs, &c.opt, err, sizeof(err));
    lf_grok_lib_destroy(lib);
    if (!g) {
        fprintf(stderr, "logferry grok: %s\n", err);
        return LF_EXIT_FAILURE;
    }

    if (c.explain) {
        for (size_t i = 0; i < lf_grok_count(g); i++)
            printf("%s\n", lf_grok_pattern(g, i));
        lf_grok_destroy(g);
        return LF_EXIT_OK;
    }

    uint64_t cut_lines = 0;
    rc = run(g, c.opt.max_line, &cut_lines);
    if (c.stats) {
        const struct lf_grok_stats *s = lf_grok_get_stats(g);
        fprintf(stderr,
                "lines %llu matched %llu unmatched %llu limit_hits %llu bad_conversions %llu "
                "truncated %llu\n",
                (unsigned long long)s->lines, (unsigned long long)s->matched,
                (unsigned long long)s->unmatched, (unsigned long long)s->limit_hits,
                (unsigned long long)s->bad_conversions,
                (unsigned long long)(s->truncated + cut_lines));
    }
    lf_grok_destroy(g);
    return rc ? LF_EXIT_FAILURE : LF_EXIT_OK;
}
