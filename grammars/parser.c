/*
 * parser.c - a configured grammar applied to a line: the grok match, the
 * message, the tags, and the event time taken from the line.
 *
 * Syslog timestamps ("Nov 21 17:02:01") have no year and no zone: the year is
 * the current one unless that puts the line more than a month in the future
 * (a December line read in January), and the zone is the configured one.
 * ISO 8601 timestamps carry their own zone, or take the configured one.
 */
#define _POSIX_C_SOURCE 200809L
#include "parser.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum zone_kind { ZONE_LOCAL, ZONE_FIXED };

/*
 * The built-in syslog grammar (a grammar whose one expression is
 * %{LOGFERRY_SYSLOG}) runs in two stages instead of as one alternation of
 * every program's messages: a strict, anchored header
 * (LOGFERRY_SYSLOG_HEADER) and then, on the header's "message", the grammar
 * of the program the header named. A message its program's grammar does not
 * take keeps the header's fields, untagged. Each second-stage grammar is
 * small, so a line pays for its own program's capture groups only.
 */
#define DISPATCH_EXPRESSION "%{LOGFERRY_SYSLOG}"
#define HEADER_EXPRESSION "%{LOGFERRY_SYSLOG_HEADER}"

struct program_grammar {
    const char *name; /* process.name; ending in '/': a prefix ("postfix/smtpd") */
    size_t len;       /* strlen(name), so that finding one costs no strlen */
    const char *expr;
};
#define PROGRAM(name, expr)                                                                        \
    {                                                                                              \
        name, sizeof(name) - 1, expr                                                               \
    }

static const struct program_grammar programs[] = {
    PROGRAM("sshd", "^(?:%{SSHD_MESSAGES}|%{PAM_MESSAGE})$"),
    PROGRAM("sudo", "^(?:%{SUDO_MESSAGE}|%{PAM_MESSAGE})$"),
    PROGRAM("su", "^(?:%{SU_MESSAGE}|%{PAM_MESSAGE})$"),
    PROGRAM("CRON", "^(?:%{CRON_MESSAGE}|%{PAM_MESSAGE})$"),
    PROGRAM("cron", "^(?:%{CRON_MESSAGE}|%{PAM_MESSAGE})$"),
    PROGRAM("crond", "^(?:%{CRON_MESSAGE}|%{PAM_MESSAGE})$"),
    PROGRAM("systemd", "^%{SYSTEMD_MESSAGES}$"),
    PROGRAM("systemd-logind", "^%{LOGIND_MESSAGE}$"),
    PROGRAM("kernel", "^%{KERNEL_LINE}$"),
    PROGRAM("useradd", "^%{SHADOW_MESSAGE}$"),
    PROGRAM("groupadd", "^%{SHADOW_MESSAGE}$"),
    PROGRAM("usermod", "^%{SHADOW_MESSAGE}$"),
    PROGRAM("userdel", "^%{SHADOW_MESSAGE}$"),
    PROGRAM("groupdel", "^%{SHADOW_MESSAGE}$"),
    PROGRAM("gpasswd", "^%{SHADOW_MESSAGE}$"),
    PROGRAM("passwd", "^(?:%{SHADOW_MESSAGE}|%{PAM_MESSAGE})$"),
    PROGRAM("chpasswd", "^(?:%{SHADOW_MESSAGE}|%{PAM_MESSAGE})$"),
    PROGRAM("chage", "^%{SHADOW_MESSAGE}$"),
    PROGRAM("login", "^%{PAM_MESSAGE}$"),
    PROGRAM("postfix/", "^%{POSTFIX_MESSAGES}$"),
    PROGRAM("dovecot", "^%{DOVECOT_MESSAGE}$"),
    PROGRAM("haproxy", "^%{HAPROXY_MESSAGE}$"),
    PROGRAM("nginx", "^%{NGINXACCESS_SYSLOG}$"),
};
#define NPROGRAMS (sizeof(programs) / sizeof(programs[0]))
/* Any other program: logger(1) metrics and PAM, as LOGFERRY_SYSLOG had. */
#define OTHER_PROGRAM_EXPRESSION "^(?:%{METRIC}|%{PAM_MESSAGE})$"

/* Files whose lines are not syslog: their path picks their grammar (the
 * whole path is matched, '*' crossing '/'; rotated ".1" names included). */
struct source_grammar {
    const char *glob;
    const char *expr;
};

static const struct source_grammar sources[] = {
    {"*/nginx/*access*", "^%{NGINX_ACCESSLOG}$"},
    {"*/nginx/*error*", "^%{NGINX_ERRORLOG}$"},
    {"*/apache2/*access*", "^%{APACHE_ACCESSLOG}$"},
    {"*/apache2/*error*", "^%{APACHE_ERRORLOG}$"},
    {"*/httpd/*access*", "^%{APACHE_ACCESSLOG}$"},
    {"*/httpd/*error*", "^%{APACHE_ERRORLOG}$"},
    {"*/dpkg.log*", "^%{DPKG_LOG}$"},
    {"*/apt/history.log*", "^%{APT_HISTORY}$"},
};
#define NSOURCES (sizeof(sources) / sizeof(sources[0]))

struct lf_parser {
    lf_grok *grok;
    /* Two-stage syslog only (NULL otherwise): the library the later stages
     * are compiled from, on first use; what they are; options. */
    struct lf_grok_lib *lib;
    struct lf_grok_options opt;
    lf_grok *program_groks[NPROGRAMS + 1]; /* the last: any other program */
    bool program_failed[NPROGRAMS + 1];    /* did not compile: header only */
    struct lf_parser *source_parsers[NSOURCES];
    bool source_failed[NSOURCES];
    char name[64]; /* the grammar's, for messages */
    enum zone_kind zone;
    int64_t fixed_offset_s; /* ZONE_FIXED: seconds east of UTC */
    /* Local-time offsets are looked up once per hour of the calendar. */
    int64_t cached_hour_key;
    int64_t cached_offset_s;
    int64_t now_override_ms;
    int64_t year_of_s; /* the second the cached year is for */
    int64_t year;
};

void lf_parser_set_now(struct lf_parser *p, int64_t wall_ms)
{
    p->now_override_ms = wall_ms;
}

static int parse_timezone(struct lf_parser *p, const char *tz, char *errbuf, size_t errlen)
{
    if (!tz || strcmp(tz, "local") == 0) {
        p->zone = ZONE_LOCAL;
        return 0;
    }
    p->zone = ZONE_FIXED;
    if (strcmp(tz, "UTC") == 0 || strcmp(tz, "Z") == 0) {
        p->fixed_offset_s = 0;
        return 0;
    }
    int h, m;
    char sign;
    if (sscanf(tz, "%c%2d:%2d", &sign, &h, &m) == 3 && (sign == '+' || sign == '-') &&
        strlen(tz) == 6 && h <= 14 && m < 60) {
        p->fixed_offset_s = (sign == '-' ? -1 : 1) * (h * 3600 + m * 60);
        return 0;
    }
    snprintf(errbuf, errlen, "timezone '%s': expected local, UTC or +HH:MM", tz);
    return LF_EINVAL;
}

static bool is_dispatch(const struct lf_grammar_conf *gc)
{
    return gc->nexpressions == 1 && strcmp(gc->expressions[0], DISPATCH_EXPRESSION) == 0;
}

static struct lf_parser *parser_new(const char *name, const char *timezone, char *errbuf,
                                    size_t errlen)
{
    struct lf_parser *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    p->cached_hour_key = INT64_MIN;
    snprintf(p->name, sizeof(p->name), "%s", name);
    if (parse_timezone(p, timezone, errbuf, errlen)) {
        free(p);
        return NULL;
    }
    return p;
}

struct lf_parser *lf_parser_create(const struct lf_grammar_conf *gc, const char *timezone,
                                   char *errbuf, size_t errlen)
{
    struct lf_parser *p = parser_new(gc->name, timezone, errbuf, errlen);
    struct lf_grok_lib *lib = lf_grok_lib_create();
    if (!p || !lib) {
        if (p)
            snprintf(errbuf, errlen, "out of memory");
        goto fail;
    }
    char err[1024];
    int rc = lf_grok_lib_load_builtin(lib, err, sizeof(err));
    for (size_t i = 0; !rc && i < gc->npatterns_dirs; i++)
        rc = lf_grok_lib_load_dir(lib, gc->patterns_dirs[i], err, sizeof(err));
    for (size_t i = 0; !rc && i < gc->ndefinitions; i++)
        rc = lf_grok_lib_define(lib, gc->definition_names[i], gc->definition_regexes[i], err,
                                sizeof(err));
    if (rc) {
        snprintf(errbuf, errlen, "grammar %s: %s", gc->name, err);
        goto fail;
    }
    lf_grok_options_default(&p->opt);
    if (gc->max_line)
        p->opt.max_line = (size_t)gc->max_line;
    if (gc->match_limit)
        p->opt.match_limit = gc->match_limit;
    const char *header[] = {HEADER_EXPRESSION};
    bool dispatch = is_dispatch(gc);
    p->grok = dispatch ? lf_grok_create(lib, header, 1, &p->opt, err, sizeof(err))
                       : lf_grok_create(lib, (const char *const *)gc->expressions, gc->nexpressions,
                                        &p->opt, err, sizeof(err));
    if (!p->grok) {
        snprintf(errbuf, errlen, "grammar %s: %s", gc->name, err);
        goto fail;
    }
    if (dispatch) {
        p->lib = lib; /* kept for the second stages */
        return p;
    }
    lf_grok_lib_destroy(lib);
    return p;
fail:
    lf_grok_lib_destroy(lib);
    lf_parser_destroy(p);
    return NULL;
}

void lf_parser_destroy(struct lf_parser *p)
{
    if (!p)
        return;
    lf_grok_destroy(p->grok);
    for (size_t i = 0; i <= NPROGRAMS; i++)
        lf_grok_destroy(p->program_groks[i]);
    for (size_t i = 0; i < NSOURCES; i++)
        lf_parser_destroy(p->source_parsers[i]);
    lf_grok_lib_destroy(p->lib);
    free(p);
}

/* The parser of source i, compiled on first use; NULL when it does not
 * compile (a pattern the user redefined: said once, at `path`). */
static struct lf_parser *source_parser(struct lf_parser *p, size_t i, const char *path)
{
    if (p->source_parsers[i] || p->source_failed[i])
        return p->source_parsers[i];
    char err[1024];
    struct lf_parser *c = parser_new(p->name, "local", err, sizeof(err));
    if (!c)
        return NULL;
    c->zone = p->zone;
    c->fixed_offset_s = p->fixed_offset_s;
    c->grok = lf_grok_create(p->lib, &sources[i].expr, 1, &p->opt, err, sizeof(err));
    if (!c->grok) {
        lf_log(LF_LOG_ERROR, "grammar", "grammar %s, for %s: %s", p->name, path, err);
        lf_parser_destroy(c);
        p->source_failed[i] = true;
        return NULL;
    }
    return p->source_parsers[i] = c;
}

struct lf_parser *lf_parser_for_source(struct lf_parser *p, const char *path)
{
    if (!p->lib || !path)
        return p;
    for (size_t i = 0; i < NSOURCES; i++) {
        if (fnmatch(sources[i].glob, path, 0) != 0)
            continue;
        /* Without its grammar the file keeps syslog parsing. */
        struct lf_parser *c = source_parser(p, i, path);
        return c ? c : p;
    }
    return p;
}

/*
 * A program's grammar is an anchored alternation, "^(?:A|B|...)$", each
 * branch often an alternation of its own ("%{SSHD_MESSAGES}"). PCRE2 spends
 * some 27 instructions per capture group of a pattern on every match,
 * whether the group takes part or not, so one pattern of every message kind
 * (80 groups for postfix) costs more in groups than in matching. Tried as
 * one expression per branch, "^(?:A)$" then "^(?:B)$"..., a line pays for
 * the groups of the branches tried only, and the result is the same: an
 * ordered alternation under anchors takes the first branch that matches.
 * Only the form "(?:...)" spanning a whole reference's definition is split,
 * and a branch only when it is itself such a reference.
 */
#define MAX_BRANCHES 64
#define MAX_SPLIT_DEPTH 4

struct branches {
    char *expr[MAX_BRANCHES];
    size_t n;
    bool failed; /* too many, or out of memory: compile unsplit */
};

/* The index of the ']' closing the class opened at s[open], or n. */
static size_t class_close(const char *s, size_t n, size_t open)
{
    size_t j = open + 1;
    if (j < n && s[j] == '^')
        j++;
    if (j < n && s[j] == ']') /* a ']' first is literal */
        j++;
    for (; j < n && s[j] != ']'; j++) {
        if (s[j] == '\\')
            j++;
        else if (s[j] == '[' && j + 1 < n && s[j + 1] == ':') /* [:alpha:] */
            for (j += 2; j < n && s[j] != ']'; j++)
                ;
    }
    return j < n ? j : n;
}

/* The index of the ')' closing the group opened at s[open], or n. Escapes,
 * classes and nested groups are skipped; \Q...\E is not read (n). */
static size_t group_close(const char *s, size_t n, size_t open)
{
    int depth = 0;
    for (size_t i = open; i < n; i++) {
        if (s[i] == '\\') {
            if (i + 1 < n && (s[i + 1] == 'Q' || s[i + 1] == 'E'))
                return n;
            i++;
        } else if (s[i] == '[') {
            i = class_close(s, n, i);
        } else if (s[i] == '(') {
            depth++;
        } else if (s[i] == ')' && --depth == 0) {
            return i;
        }
    }
    return n;
}

static void add_branch(struct branches *b, const char *s, size_t n)
{
    if (b->n == MAX_BRANCHES) {
        b->failed = true;
        return;
    }
    char *e = malloc(n + 7);
    if (!e) {
        b->failed = true;
        return;
    }
    memcpy(e, "^(?:", 4);
    memcpy(e + 4, s, n);
    memcpy(e + 4 + n, ")$", 3);
    b->expr[b->n++] = e;
}

static void split_alternation(const struct lf_grok_lib *lib, const char *s, size_t n, int depth,
                              struct branches *b);

/* s[0..n) as branches: a reference to a definition that is one "(?:...)"
 * holding a '|' is split, anything else is one branch. */
static void split_branch(const struct lf_grok_lib *lib, const char *s, size_t n, int depth,
                         struct branches *b)
{
    if (depth < MAX_SPLIT_DEPTH && n > 3 && memcmp(s, "%{", 2) == 0 && s[n - 1] == '}' &&
        !memchr(s, ':', n) && n - 3 < 128) {
        char name[128];
        memcpy(name, s + 2, n - 3);
        name[n - 3] = '\0';
        const char *def = lf_grok_lib_lookup(lib, name);
        size_t len = def ? strlen(def) : 0;
        if (len > 4 && memcmp(def, "(?:", 3) == 0 && group_close(def, len, 0) == len - 1) {
            split_alternation(lib, def + 3, len - 4, depth + 1, b);
            return;
        }
    }
    add_branch(b, s, n);
}

/* The top-level branches of the alternation s[0..n) (a group's inside). */
static void split_alternation(const struct lf_grok_lib *lib, const char *s, size_t n, int depth,
                              struct branches *b)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && s[i + 1] != 'Q')
            i++;
        else if (s[i] == '[')
            i = class_close(s, n, i);
        else if (s[i] == '(')
            i = group_close(s, n, i);
        else if (s[i] == '|') {
            split_branch(lib, s + start, i - start, depth, b);
            start = i + 1;
        }
        if (i >= n || (s[i] == '\\' && s[i + 1] == 'Q')) { /* unbalanced or unreadable */
            b->failed = true;
            return;
        }
    }
    split_branch(lib, s + start, n - start, depth, b);
}

/* Compiles a program's expression as one expression per branch when it is
 * "^(?:...)$" or "^%{NAME}$" with NAME an alternation; else, or when that
 * does not compile, as it is. */
static lf_grok *compile_program(struct lf_parser *p, const char *expr, char *err, size_t errlen)
{
    struct branches b = {.n = 0};
    size_t n = strlen(expr);
    if (n > 3 && expr[0] == '^' && expr[n - 1] == '$') {
        if (memcmp(expr + 1, "(?:", 3) == 0 && group_close(expr, n - 1, 1) == n - 2)
            split_alternation(p->lib, expr + 4, n - 6, 0, &b);
        else
            split_branch(p->lib, expr + 1, n - 2, 0, &b);
    }
    lf_grok *g = NULL;
    if (!b.failed && b.n > 1)
        g = lf_grok_create(p->lib, (const char *const *)b.expr, b.n, &p->opt, err, errlen);
    for (size_t i = 0; i < b.n; i++)
        free(b.expr[i]);
    return g ? g : lf_grok_create(p->lib, &expr, 1, &p->opt, err, errlen);
}

/* The second-stage grammar i (NPROGRAMS: any other program), compiled on
 * first use; NULL when it did not compile. */
static lf_grok *program_grok_at(struct lf_parser *p, size_t i, const char *name, size_t n)
{
    if (p->program_groks[i] || p->program_failed[i])
        return p->program_groks[i];
    const char *expr = i < NPROGRAMS ? programs[i].expr : OTHER_PROGRAM_EXPRESSION;
    char err[1024];
    if (!(p->program_groks[i] = compile_program(p, expr, err, sizeof(err)))) {
        p->program_failed[i] = true;
        lf_log(LF_LOG_ERROR, "grammar", "grammar %s, messages of %.*s: %s", p->name, (int)n, name,
               err);
    }
    return p->program_groks[i];
}

/* The second-stage grammar of this program. */
static lf_grok *program_grok(struct lf_parser *p, const char *name, size_t n)
{
    size_t i;
    for (i = 0; i < NPROGRAMS; i++) {
        const struct program_grammar *g = &programs[i];
        if (n < g->len || name[0] != g->name[0])
            continue;
        if (g->name[g->len - 1] == '/' ? n > g->len && memcmp(name, g->name, g->len) == 0
                                       : n == g->len && memcmp(name, g->name, n) == 0)
            break;
    }
    return program_grok_at(p, i, name, n);
}

size_t lf_parser_groks(struct lf_parser *p, const lf_grok **out, size_t max)
{
    size_t n = 0;
    const lf_grok *g = p->grok;
    if (g && n++ < max)
        out[n - 1] = g;
    for (size_t i = 0; p->lib && i <= NPROGRAMS; i++) {
        const char *name = i < NPROGRAMS ? programs[i].name : "(other programs)";
        if ((g = program_grok_at(p, i, name, strlen(name))) && n++ < max)
            out[n - 1] = g;
    }
    for (size_t i = 0; p->lib && i < NSOURCES; i++) {
        struct lf_parser *c = source_parser(p, i, sources[i].glob);
        if (c && (g = c->grok) && n++ < max)
            out[n - 1] = g;
    }
    return n;
}

int lf_parser_groks_of(struct lf_parser *const *parsers, const struct lf_grammar_conf *grammars,
                       size_t n, const lf_grok ***groks_out, const char ***names_out, size_t *count)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += parsers[i] ? lf_parser_groks(parsers[i], NULL, 0) : 0;
    const lf_grok **groks = calloc(total ? total : 1, sizeof(*groks));
    const char **gnames = calloc(total ? total : 1, sizeof(*gnames));
    if (!groks || !gnames) {
        free(groks);
        free(gnames);
        return LF_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!parsers[i])
            continue;
        size_t m = lf_parser_groks(parsers[i], groks + k, total - k);
        for (size_t j = 0; j < m && k < total; j++)
            gnames[k++] = grammars[i].name;
    }
    *groks_out = groks;
    *names_out = gnames;
    *count = k;
    return 0;
}

/* The second stage: the program's fields from the header's message. */
static int dispatch(struct lf_parser *p, struct lf_event *ev)
{
    const struct lf_field *prog = lf_event_get(ev, "process.name", 12);
    const struct lf_field *msg = lf_event_get(ev, "message", 7);
    if (!prog || prog->type != LF_VAL_STRING || !msg || msg->type != LF_VAL_STRING)
        return 0;
    const char *s = msg->str;
    size_t n = msg->len;
    lf_grok *g = program_grok(p, prog->str, prog->len);
    if (!g)
        return 0;
    int rc = lf_grok_try(g, s, n, ev);
    return rc == LF_ENOMATCH ? 0 : rc < 0 ? rc : 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * algorithm), so that no libc time function runs per line. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Seconds east of UTC that the configured zone has at this local time. */
static int64_t zone_offset(struct lf_parser *p, int64_t local_s)
{
    if (p->zone == ZONE_FIXED)
        return p->fixed_offset_s;
    int64_t hour_key = local_s / 3600;
    if (hour_key != p->cached_hour_key) {
        time_t guess = (time_t)local_s;
        struct tm tm;
        gmtime_r(&guess, &tm);
        tm.tm_isdst = -1;
        time_t utc = mktime(&tm); /* local wall time -> UTC */
        p->cached_offset_s = utc == (time_t)-1 ? 0 : local_s - (int64_t)utc;
        p->cached_hour_key = hour_key;
    }
    return p->cached_offset_s;
}

static int digits(const char *s, size_t n, size_t at, size_t count, int *out)
{
    if (at + count > n)
        return 0;
    int v = 0;
    for (size_t i = at; i < at + count; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static int month_number(const char *s)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (strncmp(names + 3 * i, s, 3) == 0)
            return i + 1;
    return 0;
}

/* "Nov 21 17:02:01" or "Nov  1 17:02:01", optionally ".123" after. */
static int parse_syslog_time(struct lf_parser *p, const char *s, size_t n, int64_t now_ms,
                             int64_t *ms)
{
    int mon, day, hh, mm, ss;
    if (n < 15 || !(mon = month_number(s)) || s[3] != ' ')
        return 0;
    size_t at = s[4] == ' ' ? 5 : 4;
    if (!digits(s, n, at, at == 5 ? 1 : 2, &day) || s[at + (at == 5 ? 1 : 2)] != ' ')
        return 0;
    at += (at == 5 ? 1 : 2) + 1;
    if (!digits(s, n, at, 2, &hh) || s[at + 2] != ':' || !digits(s, n, at + 3, 2, &mm) ||
        s[at + 5] != ':' || !digits(s, n, at + 6, 2, &ss))
        return 0;
    int frac_ms = 0;
    if (!(at + 8 < n && s[at + 8] == '.' && digits(s, n, at + 9, 3, &frac_ms)))
        frac_ms = 0;
    if (now_ms / 1000 != p->year_of_s) {
        time_t now = (time_t)(now_ms / 1000);
        struct tm tm;
        gmtime_r(&now, &tm);
        p->year = tm.tm_year + 1900;
        p->year_of_s = now_ms / 1000;
    }
    int64_t year = p->year;
    for (int attempt = 0; attempt < 2; attempt++, year--) {
        int64_t local_s =
            days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400 + hh * 3600 + mm * 60 + ss;
        int64_t utc_ms = (local_s - zone_offset(p, local_s)) * 1000 + frac_ms;
        if (utc_ms <= now_ms + 31LL * 86400 * 1000) { /* not a month in the future */
            *ms = utc_ms;
            return 1;
        }
    }
    return 0;
}

/* "2026-11-21T17:02:01", fraction, "Z" / "+01:00" / "+0100" / none; also
 * nginx's "2026/11/21 17:02:01" and apt's "2026-11-21  17:02:01". */
static int parse_iso_time(struct lf_parser *p, const char *s, size_t n, int64_t *ms)
{
    int y, mo, d, hh, mi, ss = 0;
    if (n < 16 || (s[4] != '-' && s[4] != '/') || s[7] != s[4])
        return 0;
    size_t t = 10; /* the date-time separator: 'T' or spaces */
    if (s[t] == 'T')
        t++;
    else
        while (t < n && s[t] == ' ')
            t++;
    if (t == 10 || t > 12)
        return 0;
    if (!digits(s, n, 0, 4, &y) || !digits(s, n, 5, 2, &mo) || !digits(s, n, 8, 2, &d) ||
        !digits(s, n, t, 2, &hh) || t + 2 >= n || s[t + 2] != ':' || !digits(s, n, t + 3, 2, &mi) ||
        mo < 1 || mo > 12 || d < 1 || d > 31)
        return 0;
    size_t at = t + 5;
    if (at < n && s[at] == ':') {
        if (!digits(s, n, at + 1, 2, &ss))
            return 0;
        at += 3;
    }
    int64_t frac_ms = 0;
    if (at < n && (s[at] == '.' || s[at] == ',')) {
        at++;
        int scale = 100;
        while (at < n && s[at] >= '0' && s[at] <= '9') {
            frac_ms += (s[at] - '0') * scale;
            scale /= 10;
            at++;
        }
    }
    int64_t local_s =
        days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mi * 60 + ss;
    int64_t offset;
    if (at == n) {
        offset = zone_offset(p, local_s);
    } else if (s[at] == 'Z' && at + 1 == n) {
        offset = 0;
    } else if ((s[at] == '+' || s[at] == '-') && n - at >= 3) {
        int oh, om = 0;
        if (!digits(s, n, at + 1, 2, &oh))
            return 0;
        size_t m = at + 3;
        if (m < n && s[m] == ':')
            m++;
        if (m < n && !digits(s, n, m, 2, &om))
            return 0;
        offset = (s[at] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    } else {
        return 0;
    }
    *ms = (local_s - offset) * 1000 + frac_ms;
    return 1;
}

/* The access logs' "21/Nov/2026:17:02:01 +0000". */
static int parse_http_time(const char *s, size_t n, int64_t *ms)
{
    int d, y, hh, mi, ss, oh, om, mo;
    if (n != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[20] != ' ' ||
        (s[21] != '+' && s[21] != '-') || !digits(s, n, 0, 2, &d) || !(mo = month_number(s + 3)) ||
        !digits(s, n, 7, 4, &y) || !digits(s, n, 12, 2, &hh) || !digits(s, n, 15, 2, &mi) ||
        !digits(s, n, 18, 2, &ss) || !digits(s, n, 22, 2, &oh) || !digits(s, n, 24, 2, &om))
        return 0;
    int64_t local_s =
        days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mi * 60 + ss;
    *ms = (local_s - (s[21] == '-' ? -1 : 1) * (oh * 3600 + om * 60)) * 1000;
    return 1;
}

/* Apache's error log: "Sat Nov 21 17:02:01.123456 2026", local time. */
static int parse_ctime(struct lf_parser *p, const char *s, size_t n, int64_t *ms)
{
    int mo, d, hh, mi, ss, y, frac = 0;
    if (n < 24 || s[3] != ' ' || !(mo = month_number(s + 4)) || s[7] != ' ' ||
        !digits(s, n, 8, 2, &d) || s[10] != ' ' || !digits(s, n, 11, 2, &hh) ||
        !digits(s, n, 14, 2, &mi) || !digits(s, n, 17, 2, &ss))
        return 0;
    size_t at = 19;
    if (s[at] == '.') {
        digits(s, n, at + 1, 3, &frac);
        for (at++; at < n && s[at] >= '0' && s[at] <= '9'; at++)
            ;
    }
    if (at + 5 != n || s[at] != ' ' || !digits(s, n, at + 1, 4, &y))
        return 0;
    int64_t local_s =
        days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mi * 60 + ss;
    *ms = (local_s - zone_offset(p, local_s)) * 1000 + frac;
    return 1;
}

int lf_parser_parse(struct lf_parser *p, const char *line, size_t len, bool cut,
                    struct lf_event *ev, int64_t *ts_ms, struct lf_input_counters *c)
{
    int rc;
    lf_event_clear(ev);
    *ts_ms = 0;
    c->read++;
    if (cut) {
        c->truncated++;
        if ((rc = lf_event_add_tag(ev, LF_GROK_TAG_TRUNCATED)))
            return rc;
    }
    rc = lf_grok_match(p->grok, line, len, ev);
    if (rc == LF_ENOMATCH)
        c->unparsed++;
    else if (rc >= 0)
        c->parsed++;
    else
        return rc;
    if (rc >= 0 && p->lib && (rc = dispatch(p, ev)))
        return rc;
    if (!lf_event_get(ev, "message", 7) && (rc = lf_event_add_string(ev, "message", line, len)))
        return rc;

    const struct lf_field *t = lf_event_get(ev, "timestamp", 9);
    if (t && t->type == LF_VAL_STRING) {
        int64_t ms;
        int64_t now = p->now_override_ms ? p->now_override_ms : lf_now_wall_coarse_ms();
        if (parse_syslog_time(p, t->str, t->len, now, &ms) ||
            parse_iso_time(p, t->str, t->len, &ms) || parse_http_time(t->str, t->len, &ms) ||
            parse_ctime(p, t->str, t->len, &ms)) {
            *ts_ms = ms;
            lf_event_remove(ev, "timestamp", 9);
        }
    }
    return 0;
}

int lf_parser_parse_time(struct lf_parser *p, const char *s, size_t n, int64_t *ms)
{
    int64_t now = p->now_override_ms ? p->now_override_ms : lf_now_wall_coarse_ms();
    return parse_iso_time(p, s, n, ms) || parse_syslog_time(p, s, n, now, ms);
}

const lf_grok *lf_parser_grok(const struct lf_parser *p)
{
    return p->grok;
}

int lf_parser_parse_message(struct lf_parser *p, const char *program, size_t program_len,
                            const char *msg, size_t len, bool cut, struct lf_event *ev,
                            int64_t *ts_ms, struct lf_input_counters *c)
{
    if (!p->lib)
        return lf_parser_parse(p, msg, len, cut, ev, ts_ms, c);
    int rc;
    lf_event_clear(ev);
    *ts_ms = 0;
    c->read++;
    c->parsed++; /* the header is there: the fields the caller adds */
    if (cut) {
        c->truncated++;
        if ((rc = lf_event_add_tag(ev, LF_GROK_TAG_TRUNCATED)))
            return rc;
    }
    lf_grok *g = program ? program_grok(p, program, program_len)
                         : program_grok_at(p, NPROGRAMS, "(no program)", 12);
    if (g && (rc = lf_grok_try(g, msg, len, ev)) < 0 && rc != LF_ENOMATCH)
        return rc;
    if (!lf_event_get(ev, "message", 7) && (rc = lf_event_add_string(ev, "message", msg, len)))
        return rc;
    /* The header's time is the caller's: a time in the message is left. */
    lf_event_remove(ev, "timestamp", 9);
    return 0;
}
