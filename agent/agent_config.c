/*
 * agent_config.c - the agent's YAML configuration: the key tables (types,
 * defaults, ranges, docs; see agent_config.h for the file's shape), the
 * defaults worked out in code (host name, output directory, the built-in
 * syslog grammar) and the checks that span keys, such as every input naming
 * a grammar that exists.
 *
 * The tables are also what `logferry check --print-keys` prints and what
 * docs/CONFIGURATION.md is made from.
 */
#define _POSIX_C_SOURCE 200809L
#include "agent_config.h"
#include "lf_config.h"
#include "es_conf.h"
#include "shipper.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ORIGIN_DEFAULTS "(defaults)"
#define DEFAULT_GRAMMAR "syslog"
#define DEFAULT_GRAMMAR_EXPR "%{LOGFERRY_SYSLOG}"

/* Enums are bound through an int. */
_Static_assert(sizeof(enum lf_start_at) == sizeof(int), "enum size");
_Static_assert(sizeof(enum lf_output_type) == sizeof(int), "enum size");

/* ---- value checks ------------------------------------------------------ */

/* "local", "UTC" or a fixed offset "+HH:MM" / "-HH:MM" up to 14 hours. */
static const char *check_timezone(const char *s)
{
    static const char *why = "local, UTC or an offset like +01:00";
    if (strcmp(s, "local") == 0 || strcmp(s, "UTC") == 0)
        return NULL;
    if (strlen(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
        return why;
    for (int i = 1; i < 6; i++)
        if (i != 3 && !isdigit((unsigned char)s[i]))
            return why;
    int hh = (s[1] - '0') * 10 + (s[2] - '0'), mm = (s[4] - '0') * 10 + (s[5] - '0');
    return hh > 14 || mm > 59 || (hh == 14 && mm) ? why : NULL;
}

/* Elasticsearch's rules for index names, for the prefix of daily indices
 * ("syslog" becomes "syslog-2026.11.21"). */
static const char *check_index(const char *s)
{
    static const char *why = "an index name (lowercase, no spaces or \\/*?\"<>|,#:, "
                             "not starting with -, _ or +, at most 200 bytes)";
    if (strlen(s) > 200 || strchr("-_+", s[0]) || !strcmp(s, ".") || !strcmp(s, ".."))
        return why;
    for (const char *p = s; *p; p++)
        if (isupper((unsigned char)*p) || strchr(" \\/*?\"<>|,#:\t", *p))
            return why;
    return NULL;
}

static const char *check_absolute(const char *s)
{
    return s[0] == '/' ? NULL : "an absolute path or glob (starting with /)";
}

static const char *check_file_name_glob(const char *s)
{
    return strchr(s, '/') ? "a glob on the file name, without '/'" : NULL;
}

/* ---- the tables -------------------------------------------------------- */

#define A(field) offsetof(struct lf_agent_conf, field)
#define G(field) offsetof(struct lf_grammar_conf, field)
#define F(field) offsetof(struct lf_files_conf, field)

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define GIB (1024ull * 1024 * 1024)
#define SECOND 1000ull
#define HOUR 3600000ull

static const struct lf_conf_enum log_levels[] = {{"error", LF_LOG_ERROR},
                                                 {"warn", LF_LOG_WARN},
                                                 {"info", LF_LOG_INFO},
                                                 {"debug", LF_LOG_DEBUG},
                                                 {NULL, 0}};
static const struct lf_conf_enum metric_sets[] = {
    {"load", LF_METRIC_LOAD}, {"memory", LF_METRIC_MEMORY}, {"cpu", LF_METRIC_CPU}, {NULL, 0}};
static const struct lf_conf_enum start_ats[] = {
    {"end", LF_START_END}, {"beginning", LF_START_BEGINNING}, {NULL, 0}};
static const struct lf_conf_enum output_types[] = {{"file", LF_OUTPUT_FILE},
                                                   {"stdout", LF_OUTPUT_STDOUT},
                                                   {"elasticsearch", LF_OUTPUT_ELASTICSEARCH},
                                                   {NULL, 0}};
static const struct lf_conf_enum fsync_policies[] = {
    {"batch", LF_FSYNC_BATCH}, {"never", LF_FSYNC_NEVER}, {NULL, 0}};

static const struct lf_conf_key agent_keys[] = {
    {.name = "name",
     .type = LF_CONF_STRING,
     .offset = A(name),
     .def_doc = "the host name (`gethostname()`)",
     .doc = "`host.name` of every event"},
    {.name = "data_dir",
     .type = LF_CONF_PATH,
     .offset = A(data_dir),
     .def = "/var/lib/logferry",
     .doc = "where the agent keeps read positions (the registry) and its spool"},
    {.name = "proc_root",
     .type = LF_CONF_PATH,
     .offset = A(proc_root),
     .def = "/proc",
     .doc = "where /proc is mounted (a container may see the host's elsewhere)"},
    {.name = "timezone",
     .type = LF_CONF_STRING,
     .offset = A(timezone),
     .def = "local",
     .check = check_timezone,
     .doc = "zone of timestamps that carry none (classic syslog): `local`, `UTC` or an offset "
            "like `+01:00`"},
    {.name = "log_level",
     .type = LF_CONF_ENUM,
     .offset = A(log_level),
     .def = "info",
     .enums = log_levels,
     .flags = LF_CONF_AS_STRING,
     .doc = "the most verbose messages the agent writes to stderr"},
    {.name = "shutdown_timeout",
     .type = LF_CONF_DURATION,
     .offset = A(shutdown_timeout_ms),
     .def = "10s",
     .max = HOUR,
     .doc = "on SIGTERM, how long to try delivering what was read before exiting"},
    {.name = NULL}};

static const struct lf_conf_key metrics_keys[] = {
    {.name = "enabled",
     .type = LF_CONF_BOOL,
     .offset = A(metrics_enabled),
     .def = "true",
     .doc = "sample load and memory from /proc"},
    {.name = "interval",
     .type = LF_CONF_DURATION,
     .offset = A(metrics_interval_ms),
     .def = "10s",
     .min = 100,
     .max = 24 * HOUR,
     .doc = "time between two samples"},
    {.name = "sets",
     .type = LF_CONF_FLAGS,
     .offset = A(metrics_sets),
     .enums = metric_sets,
     .def = "[load, memory, cpu]",
     .min = 1,
     .doc = "which metric sets: `system.load.*`, `system.memory.*`, `system.cpu.*`"},
    {.name = "index",
     .type = LF_CONF_STRING,
     .offset = A(metrics_index),
     .def = "metrics",
     .check = check_index,
     .doc = "index prefix: events go to `<index>-YYYY.MM.dd`"},
    {.name = NULL}};

static const struct lf_conf_key files_keys[] = {
    {.name = "paths",
     .type = LF_CONF_STRINGS,
     .offset = F(paths),
     .count = F(npaths),
     .min = 1,
     .max = 1024,
     .flags = LF_CONF_REQUIRED,
     .check = check_absolute,
     .doc = "absolute paths and globs (`/var/log/*.log`) of the files to tail"},
    {.name = "exclude",
     .type = LF_CONF_STRINGS,
     .offset = F(exclude),
     .count = F(nexclude),
     .max = 1024,
     .def = "[]",
     .check = check_file_name_glob,
     .doc = "globs on the file name (`*.gz`) of files the paths match but not to tail"},
    {.name = "grammar",
     .type = LF_CONF_STRING,
     .offset = F(grammar),
     .def = DEFAULT_GRAMMAR,
     .doc = "the name of the grammar (under `grammars`) that parses the lines"},
    {.name = "index",
     .type = LF_CONF_STRING,
     .offset = F(index),
     .def = "syslog",
     .check = check_index,
     .doc = "index prefix: events go to `<index>-YYYY.MM.dd`"},
    {.name = "start_at",
     .type = LF_CONF_ENUM,
     .offset = F(start_at),
     .enums = start_ats,
     .def = "end",
     .doc = "where to start in a file seen for the first time at startup; files that appear "
            "later are read from their beginning, known files from their saved position"},
    {.name = "rescan",
     .type = LF_CONF_DURATION,
     .offset = F(rescan_ms),
     .def = "10s",
     .min = 100,
     .max = 24 * HOUR,
     .doc = "how often the globs are expanded again to find new files"},
    {.name = "partial_wait",
     .type = LF_CONF_DURATION,
     .offset = F(partial_wait_ms),
     .def = "5s",
     .max = HOUR,
     .doc = "how long a last line without a newline waits for the rest of it"},
    {.name = "max_open",
     .type = LF_CONF_UINT,
     .offset = F(max_open),
     .def = "256",
     .min = 1,
     .max = 65536,
     .doc = "file descriptors this input keeps open at most"},
    {.name = NULL}};

static const struct lf_conf_key omprog_keys[] = {
    {.name = "grammar",
     .type = LF_CONF_STRING,
     .offset = A(omprog_grammar),
     .def = DEFAULT_GRAMMAR,
     .doc = "the grammar of the messages rsyslog hands over (`logferry agent --omprog`)"},
    {.name = "index",
     .type = LF_CONF_STRING,
     .offset = A(omprog_index),
     .def = "syslog",
     .check = check_index,
     .doc = "index prefix: events go to `<index>-YYYY.MM.dd`"},
    {.name = NULL}};

static const struct lf_conf_key inputs_keys[] = {
    {.name = "metrics",
     .type = LF_CONF_SECTION,
     .sub = metrics_keys,
     .doc = "the load and memory sampler"},
    {.name = "files",
     .type = LF_CONF_SECTION_LIST,
     .offset = A(files),
     .count = A(nfiles),
     .item_size = sizeof(struct lf_files_conf),
     .line_at = F(line),
     .sub = files_keys,
     .flags = LF_CONF_SET_LINE,
     .max = 256,
     .def_doc = "none",
     .doc = "files to tail, each entry with its own settings"},
    {.name = "omprog",
     .type = LF_CONF_SECTION,
     .sub = omprog_keys,
     .doc = "messages from rsyslog's omprog action"},
    {.name = NULL}};

static const struct lf_conf_key file_output_keys[] = {
    {.name = "dir",
     .type = LF_CONF_PATH,
     .offset = A(file_dir),
     .def_doc = "`<data_dir>/out`",
     .doc = "where the daily NDJSON files are written"},
    {.name = "fsync",
     .type = LF_CONF_ENUM,
     .offset = A(file_fsync),
     .enums = fsync_policies,
     .def = "batch",
     .doc = "`batch`: a batch is acknowledged once fsync'ed; `never`: once written "
            "(a crash may lose what the kernel had not written)"},
    {.name = "local_dates",
     .type = LF_CONF_BOOL,
     .offset = A(file_local_dates),
     .def = "false",
     .doc = "name daily files by the local date instead of the UTC date"},
    {.name = NULL}};

static const struct lf_conf_key stdout_output_keys[] = {
    {.name = "bulk",
     .type = LF_CONF_BOOL,
     .offset = A(stdout_bulk),
     .def = "false",
     .doc = "also print the `_bulk` action line before each event"},
    {.name = NULL}};

static const struct lf_conf_key output_keys[] = {
    {.name = "type",
     .type = LF_CONF_ENUM,
     .offset = A(output_type),
     .enums = output_types,
     .def = "file",
     .doc = "where events go"},
    {.name = "batch_max_docs",
     .type = LF_CONF_UINT,
     .offset = A(batch_max_docs),
     .def = "2048",
     .min = 1,
     .max = 1000000,
     .doc = "a batch is sent when it holds this many events"},
    {.name = "batch_max_bytes",
     .type = LF_CONF_SIZE,
     .offset = A(batch_max_bytes),
     .def = "5MiB",
     .min = KIB,
     .max = GIB,
     .doc = "... or this many bytes of JSON"},
    {.name = "batch_max_age",
     .type = LF_CONF_DURATION,
     .offset = A(batch_max_age_ms),
     .def = "1s",
     .min = 1,
     .max = HOUR,
     .doc = "... or when its first event is this old"},
    {.name = "file",
     .type = LF_CONF_SECTION,
     .sub = file_output_keys,
     .doc = "`type: file`: daily NDJSON files `<index>-YYYY.MM.dd.ndjson`"},
    {.name = "stdout",
     .type = LF_CONF_SECTION,
     .sub = stdout_output_keys,
     .doc = "`type: stdout`: one event per line on standard output"},
    {.name = "elasticsearch",
     .type = LF_CONF_SECTION,
     .sub = lf_es_conf_keys,
     .offset = A(es),
     .doc = "`type: elasticsearch`: `_bulk` into daily indices"},
    {.name = NULL}};

static const struct lf_conf_key top_keys[] = {
    {.name = "agent", .type = LF_CONF_SECTION, .sub = agent_keys, .doc = "the agent itself"},
    {.name = "grammars",
     .type = LF_CONF_SECTION_MAP,
     .offset = A(grammars),
     .count = A(ngrammars),
     .item_size = sizeof(struct lf_grammar_conf),
     .name_at = G(name),
     .line_at = G(line),
     .col_at = G(col),
     .sub = lf_grammar_conf_keys,
     .max = 256,
     .flags = LF_CONF_SET_LINE | LF_CONF_SET_COL,
     .def_doc = "`syslog` (`['" DEFAULT_GRAMMAR_EXPR "']`), always there unless redefined",
     .doc = "named grammars that inputs refer to by name"},
    {.name = "inputs",
     .type = LF_CONF_SECTION,
     .sub = inputs_keys,
     .doc = "where events come from"},
    {.name = "output",
     .type = LF_CONF_SECTION,
     .sub = output_keys,
     .doc = "where events go, and how they are batched"},
    {.name = NULL}};

const struct lf_conf_key *lf_agent_conf_keys(void)
{
    return top_keys;
}

/* ---- defaults worked out in code --------------------------------------- */

const struct lf_grammar_conf *lf_agent_conf_grammar(const struct lf_agent_conf *conf,
                                                    const char *name)
{
    for (size_t i = 0; i < conf->ngrammars; i++)
        if (strcmp(conf->grammars[i].name, name) == 0)
            return &conf->grammars[i];
    return NULL;
}

/* Appends the built-in syslog grammar unless the file defines one of that
 * name; it is bound through the same table as the file's grammars, so it
 * gets the same defaults. Problems (none expected) go to errs. */
static void add_default_grammar(struct lf_agent_conf *conf, struct lf_conf_errors *errs)
{
    static const char text[] = "expressions: ['" DEFAULT_GRAMMAR_EXPR "']";
    if (lf_agent_conf_grammar(conf, DEFAULT_GRAMMAR))
        return;
    struct lf_grammar_conf *g = realloc(conf->grammars, (conf->ngrammars + 1) * sizeof(*g));
    if (!g) {
        lf_conf_errorf(errs, ORIGIN_DEFAULTS, 0, 0, "out of memory");
        return;
    }
    conf->grammars = g;
    g = &conf->grammars[conf->ngrammars];
    memset(g, 0, sizeof(*g));
    conf->ngrammars++; /* counted now: released with the rest whatever follows */
    if (!(g->name = strdup(DEFAULT_GRAMMAR))) {
        lf_conf_errorf(errs, ORIGIN_DEFAULTS, 0, 0, "out of memory");
        return;
    }
    struct lf_conf_doc *doc =
        lf_conf_parse_text("(built-in grammar " DEFAULT_GRAMMAR ")", text, sizeof(text) - 1, errs);
    if (doc)
        lf_conf_bind(lf_grammar_conf_keys, doc->root, doc->origin, g, errs);
    lf_conf_doc_free(doc);
}

/* "<data_dir><tail>", without doubling a trailing '/'. */
static char *under_data_dir(const struct lf_agent_conf *conf, const char *tail,
                            struct lf_conf_errors *errs)
{
    size_t n = strlen(conf->data_dir), t = strlen(tail);
    while (n > 0 && conf->data_dir[n - 1] == '/')
        n--;
    char *s = malloc(n + t + 1);
    if (!s) {
        lf_conf_errorf(errs, ORIGIN_DEFAULTS, 0, 0, "out of memory");
        return NULL;
    }
    memcpy(s, conf->data_dir, n);
    memcpy(s + n, tail, t + 1);
    return s;
}

/* Host name and output directory, when the file does not give them. */
static void fill_computed(struct lf_agent_conf *conf, struct lf_conf_errors *errs)
{
    if (!conf->name) {
        char host[HOST_NAME_MAX + 1];
        if (gethostname(host, sizeof(host)) != 0)
            strcpy(host, "localhost");
        host[HOST_NAME_MAX] = '\0';
        if (!(conf->name = strdup(host)))
            lf_conf_errorf(errs, ORIGIN_DEFAULTS, 0, 0, "out of memory");
    }
    if (!conf->file_dir && conf->data_dir) {
        /* "<data_dir>/out", without doubling a trailing '/' */
        size_t n = strlen(conf->data_dir);
        while (n > 0 && conf->data_dir[n - 1] == '/')
            n--;
        if ((conf->file_dir = malloc(n + sizeof("/out")))) {
            memcpy(conf->file_dir, conf->data_dir, n);
            memcpy(conf->file_dir + n, "/out", sizeof("/out"));
        } else {
            lf_conf_errorf(errs, ORIGIN_DEFAULTS, 0, 0, "out of memory");
        }
    }
    if (!conf->es.dead_letter && conf->data_dir)
        conf->es.dead_letter = under_data_dir(conf, "/dead-letter.ndjson", errs);
    if (!conf->es.spool.dir && conf->data_dir)
        conf->es.spool.dir = under_data_dir(conf, "/spool", errs);
    add_default_grammar(conf, errs);
}

/* ---- checks across keys ------------------------------------------------ */

/* Reports `grammar` (the value of key in the section node) if no grammar has
 * that name. A grammar left at its default is the built-in one, always there. */
static void check_grammar_ref(const struct lf_agent_conf *conf, const char *origin,
                              const struct lf_conf_node *section, const char *where,
                              const char *grammar, struct lf_conf_errors *errs)
{
    if (!grammar || lf_agent_conf_grammar(conf, grammar))
        return;
    const struct lf_conf_node *v = lf_conf_get(section, "grammar");
    char names[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < conf->ngrammars; i++) {
        int n = snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "",
                         conf->grammars[i].name);
        if (n < 0 || (size_t)n >= sizeof(names) - used)
            break;
        used += (size_t)n;
    }
    lf_conf_errorf(errs, origin, v ? v->line : 0, v ? v->col : 0,
                   "%s.grammar: no grammar named '%s' (defined: %s)", where, grammar, names);
}

static void cross_check(const struct lf_agent_conf *conf, const struct lf_conf_doc *doc,
                        struct lf_conf_errors *errs)
{
    const struct lf_conf_node *root = doc ? doc->root : NULL;
    const struct lf_conf_node *inputs = lf_conf_get(root, "inputs");
    const struct lf_conf_node *files = lf_conf_get(inputs, "files");
    const char *origin = doc ? doc->origin : ORIGIN_DEFAULTS;
    for (size_t i = 0; i < conf->nfiles; i++) {
        char where[64];
        snprintf(where, sizeof(where), "inputs.files[%zu]", i);
        const struct lf_conf_node *item =
            files && files->type == LF_CONF_NODE_SEQ && i < files->nkids ? files->kids[i] : NULL;
        check_grammar_ref(conf, origin, item, where, conf->files[i].grammar, errs);
    }
    check_grammar_ref(conf, origin, lf_conf_get(inputs, "omprog"), "inputs.omprog",
                      conf->omprog_grammar, errs);
}

/* ---- loading ----------------------------------------------------------- */

void lf_agent_conf_free(struct lf_agent_conf *conf)
{
    if (!conf)
        return;
    lf_conf_release(top_keys, conf); /* computed defaults live in table fields too */
    free(conf->path);
    free(conf);
}

struct lf_agent_conf *lf_agent_conf_load(const char *path, char *errbuf, size_t errlen,
                                         unsigned *nerrors)
{
    struct lf_conf_errors errs;
    struct lf_conf_doc *doc = NULL;
    lf_conf_errors_init(&errs);
    struct lf_agent_conf *conf = calloc(1, sizeof(*conf));
    if (!conf || (path && !(conf->path = strdup(path)))) {
        lf_conf_errorf(&errs, path ? path : ORIGIN_DEFAULTS, 0, 0, "out of memory");
        goto done;
    }
    if (path && !(doc = lf_conf_parse_file(path, &errs)))
        goto done;
    lf_conf_bind(top_keys, doc ? doc->root : NULL, doc ? doc->origin : ORIGIN_DEFAULTS, conf,
                 &errs);
    fill_computed(conf, &errs);
    cross_check(conf, doc, &errs);
done:
    if (nerrors)
        *nerrors = errs.count;
    if (errs.count) {
        lf_conf_errors_write(&errs, errbuf, errlen);
        lf_agent_conf_free(conf);
        conf = NULL;
    } else if (errlen) {
        errbuf[0] = '\0';
    }
    lf_conf_doc_free(doc);
    lf_conf_errors_free(&errs);
    return conf;
}
