/*
 * test_config.c - the YAML configuration: the generic layer (tree, ${VAR},
 * binder, scalar readers, limits) and the agent's tables on top of it. Every
 * problem is checked with its exact "file:line:col: message".
 *
 * Each test writes its YAML to t.yml in a fresh temporary directory (the
 * working directory of the test), so messages start with "t.yml:".
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_config.h"
#include "lf_config.h"
#include "shipper.h"

static char tmpdir[] = "/tmp/lf_test_config.XXXXXX";
static char err[64 * 1024];
static unsigned nerr;

static int setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(tmpdir));
    assert_int_equal(chdir(tmpdir), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink("t.yml");
    rmdir("patterns");
    assert_int_equal(chdir("/"), 0);
    rmdir(tmpdir);
    return 0;
}

static void write_file(const char *text)
{
    FILE *f = fopen("t.yml", "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* Loads `text`; expects success. */
static struct lf_agent_conf *load_ok(const char *text)
{
    write_file(text);
    struct lf_agent_conf *c = lf_agent_conf_load("t.yml", err, sizeof(err), &nerr);
    if (!c)
        fprintf(stderr, "unexpected problems:\n%s", err);
    assert_non_null(c);
    assert_int_equal(nerr, 0);
    assert_string_equal(err, "");
    return c;
}

/* Loads `text`; expects failure with exactly these messages. */
static void load_fails(const char *text, const char *expected)
{
    write_file(text);
    struct lf_agent_conf *c = lf_agent_conf_load("t.yml", err, sizeof(err), &nerr);
    assert_null(c);
    if (strcmp(err, expected) != 0)
        fprintf(stderr, "expected:\n%sgot:\n%s", expected, err);
    assert_string_equal(err, expected);
    unsigned lines = 0;
    for (const char *p = expected; *p; p++)
        lines += *p == '\n';
    assert_int_equal(nerr, lines);
}

/* ---- defaults ---------------------------------------------------------- */

static void check_defaults(const struct lf_agent_conf *c)
{
    char host[HOST_NAME_MAX + 1];
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    host[HOST_NAME_MAX] = '\0';
    assert_string_equal(c->name, host);
    assert_string_equal(c->data_dir, "/var/lib/logferry");
    assert_string_equal(c->proc_root, "/proc");
    assert_string_equal(c->timezone, "local");
    assert_string_equal(c->log_level, "info");
    assert_int_equal(c->shutdown_timeout_ms, 10000);
    assert_int_equal(c->ngrammars, 1);
    const struct lf_grammar_conf *g = lf_agent_conf_grammar(c, "syslog");
    assert_non_null(g);
    assert_int_equal(g->nexpressions, 1);
    assert_string_equal(g->expressions[0], "%{LOGFERRY_SYSLOG}");
    assert_int_equal(g->npatterns_dirs, 0);
    assert_int_equal(g->ndefinitions, 0);
    assert_int_equal(g->max_line, 1048576);
    assert_int_equal(g->match_limit, 10000000);
    assert_int_equal(g->line, 0);
    assert_true(c->metrics_enabled);
    assert_int_equal(c->metrics_interval_ms, 10000);
    assert_int_equal(c->metrics_sets, LF_METRIC_LOAD | LF_METRIC_MEMORY | LF_METRIC_CPU);
    assert_int_equal(c->metrics_top_n, 5);
    assert_string_equal(c->metrics_index, "metrics");
    assert_int_equal(c->nfiles, 0);
    assert_string_equal(c->omprog_grammar, "syslog");
    assert_string_equal(c->omprog_index, "syslog");
    assert_int_equal(c->omprog_answer_timeout_ms, 30000);
    assert_int_equal(c->output_type, LF_OUTPUT_FILE);
    assert_int_equal(c->batch_max_docs, 2048);
    assert_int_equal(c->batch_max_bytes, 5 * 1048576);
    assert_int_equal(c->batch_max_age_ms, 1000);
    assert_string_equal(c->file_dir, "/var/lib/logferry/out");
    assert_int_equal(c->file_fsync, LF_FSYNC_BATCH);
    assert_false(c->file_local_dates);
    assert_false(c->stdout_bulk);
    assert_null(lf_agent_conf_grammar(c, "nginx"));
}

static void test_empty_file_is_defaults(void **state)
{
    (void)state;
    struct lf_agent_conf *c = load_ok("");
    assert_string_equal(c->path, "t.yml");
    check_defaults(c);
    lf_agent_conf_free(c);
    c = load_ok("# only a comment\n---\n...\n");
    check_defaults(c);
    lf_agent_conf_free(c);
    /* Empty sections are sections with every default. */
    c = load_ok("agent:\ninputs:\n  metrics: {}\n  files: []\noutput: ~\n");
    check_defaults(c);
    lf_agent_conf_free(c);
}

static void test_no_file_is_defaults(void **state)
{
    (void)state;
    struct lf_agent_conf *c = lf_agent_conf_load(NULL, err, sizeof(err), &nerr);
    assert_non_null(c);
    assert_int_equal(nerr, 0);
    assert_null(c->path);
    check_defaults(c);
    lf_agent_conf_free(c);
    lf_agent_conf_free(NULL);
}

/* sets takes one name without brackets, and `all`; a wrong single name
 * reads like a wrong list item. */
static void test_metric_sets_scalar_and_all(void **state)
{
    (void)state;
    struct lf_agent_conf *c = load_ok("inputs:\n  metrics:\n    sets: all\n");
    assert_int_equal(c->metrics_sets, LF_METRIC_ALL);
    lf_agent_conf_free(c);
    c = load_ok("inputs:\n  metrics:\n    sets: [cpu, all]\n");
    assert_int_equal(c->metrics_sets, LF_METRIC_ALL);
    lf_agent_conf_free(c);
    c = load_ok("inputs:\n  metrics:\n    sets: process_summary\n");
    assert_int_equal(c->metrics_sets, LF_METRIC_PROCESS_SUMMARY);
    lf_agent_conf_free(c);
    load_fails("inputs:\n  metrics:\n    sets: disk\n",
               "t.yml:3:11: inputs.metrics.sets: expected one of load, memory, cpu, network, "
               "diskio, filesystem, fsstat, process_summary, process, uptime, all, got 'disk'\n");
    load_fails("inputs:\n  metrics:\n    top_processes: 1001\n",
               "t.yml:3:20: inputs.metrics.top_processes: '1001' is out of range (0 to 1000)\n");
}

static void test_every_key(void **state)
{
    (void)state;
    /* the grammar's pattern directory must exist: loading compiles it */
    assert_int_equal(mkdir("patterns", 0700), 0);
    struct lf_agent_conf *c = load_ok("agent:\n"
                                      "  name: web01\n"
                                      "  data_dir: /srv/lf/\n"
                                      "  proc_root: /host/proc\n"
                                      "  timezone: '+01:00'\n"
                                      "  log_level: debug\n"
                                      "  shutdown_timeout: 1m30s\n"
                                      "grammars:\n"
                                      "  kv:\n"
                                      "    expressions: ['%{WORD:k}=%{MYNUM:v:int}', '%{WORD:k}']\n"
                                      "    patterns_dirs: [patterns]\n"
                                      "    definitions: {MYNUM: '[0-9]+', OTHER: x}\n"
                                      "    max_line: 64KiB\n"
                                      "    match_limit: 5000\n"
                                      "inputs:\n"
                                      "  metrics:\n"
                                      "    enabled: no\n"
                                      "    interval: 1.5s\n"
                                      "    sets: [memory, network, process]\n"
                                      "    top_processes: 3\n"
                                      "    index: m\n"
                                      "  files:\n"
                                      "    - paths: [/var/log/syslog, '/var/log/*.log']\n"
                                      "      exclude: ['*.gz']\n"
                                      "      grammar: kv\n"
                                      "      index: app\n"
                                      "      start_at: beginning\n"
                                      "      rescan: 2m\n"
                                      "      partial_wait: 0\n"
                                      "      max_open: 10\n"
                                      "    - paths: [/a]\n"
                                      "  omprog:\n"
                                      "    grammar: kv\n"
                                      "    index: rsyslog\n"
                                      "    answer_timeout: 2500ms\n"
                                      "output:\n"
                                      "  type: stdout\n"
                                      "  batch_max_docs: 10\n"
                                      "  batch_max_bytes: 1.5MB\n"
                                      "  batch_max_age: 250ms\n"
                                      "  file:\n"
                                      "    fsync: never\n"
                                      "    local_dates: On\n"
                                      "  stdout:\n"
                                      "    bulk: TRUE\n");
    assert_string_equal(c->name, "web01");
    assert_string_equal(c->data_dir, "/srv/lf/");
    assert_string_equal(c->file_dir, "/srv/lf/out");
    assert_string_equal(c->proc_root, "/host/proc");
    assert_string_equal(c->timezone, "+01:00");
    assert_string_equal(c->log_level, "debug");
    assert_int_equal(c->shutdown_timeout_ms, 90000);
    assert_int_equal(c->ngrammars, 2); /* kv, then the built-in syslog */
    const struct lf_grammar_conf *g = lf_agent_conf_grammar(c, "kv");
    assert_ptr_equal(g, &c->grammars[0]);
    assert_int_equal(g->line, 9);
    assert_int_equal(g->col, 3);
    assert_int_equal(g->nexpressions, 2);
    assert_string_equal(g->expressions[0], "%{WORD:k}=%{MYNUM:v:int}");
    assert_string_equal(g->expressions[1], "%{WORD:k}");
    assert_int_equal(g->npatterns_dirs, 1);
    assert_string_equal(g->patterns_dirs[0], "patterns");
    assert_int_equal(g->ndefinitions, 2);
    assert_string_equal(g->definition_names[0], "MYNUM");
    assert_string_equal(g->definition_regexes[0], "[0-9]+");
    assert_string_equal(g->definition_names[1], "OTHER");
    assert_string_equal(g->definition_regexes[1], "x");
    assert_int_equal(g->max_line, 65536);
    assert_int_equal(g->match_limit, 5000);
    assert_non_null(lf_agent_conf_grammar(c, "syslog"));
    assert_false(c->metrics_enabled);
    assert_int_equal(c->metrics_interval_ms, 1500);
    assert_int_equal(c->metrics_sets, LF_METRIC_MEMORY | LF_METRIC_NETWORK | LF_METRIC_PROCESS);
    assert_int_equal(c->metrics_top_n, 3);
    assert_string_equal(c->metrics_index, "m");
    assert_int_equal(c->nfiles, 2);
    const struct lf_files_conf *f = &c->files[0];
    assert_int_equal(f->npaths, 2);
    assert_string_equal(f->paths[0], "/var/log/syslog");
    assert_string_equal(f->paths[1], "/var/log/*.log");
    assert_int_equal(f->nexclude, 1);
    assert_string_equal(f->exclude[0], "*.gz");
    assert_string_equal(f->grammar, "kv");
    assert_string_equal(f->index, "app");
    assert_int_equal(f->start_at, LF_START_BEGINNING);
    assert_int_equal(f->rescan_ms, 120000);
    assert_int_equal(f->partial_wait_ms, 0);
    assert_int_equal(f->max_open, 10);
    assert_int_equal(f->line, 23);
    f = &c->files[1];
    assert_int_equal(f->npaths, 1);
    assert_int_equal(f->nexclude, 0);
    assert_string_equal(f->grammar, "syslog");
    assert_string_equal(f->index, "syslog");
    assert_int_equal(f->start_at, LF_START_END);
    assert_int_equal(f->rescan_ms, 10000);
    assert_int_equal(f->partial_wait_ms, 5000);
    assert_int_equal(f->max_open, 256);
    assert_int_equal(f->line, 31);
    assert_string_equal(c->omprog_grammar, "kv");
    assert_string_equal(c->omprog_index, "rsyslog");
    assert_int_equal(c->omprog_answer_timeout_ms, 2500);
    assert_int_equal(c->output_type, LF_OUTPUT_STDOUT);
    assert_int_equal(c->batch_max_docs, 10);
    assert_int_equal(c->batch_max_bytes, 1500000);
    assert_int_equal(c->batch_max_age_ms, 250);
    assert_int_equal(c->file_fsync, LF_FSYNC_NEVER);
    assert_true(c->file_local_dates);
    assert_true(c->stdout_bulk);
    lf_agent_conf_free(c);
}

static void test_syslog_grammar_redefined(void **state)
{
    (void)state;
    struct lf_agent_conf *c = load_ok("grammars:\n  syslog:\n    expressions: ['%{GREEDYDATA}']\n");
    assert_int_equal(c->ngrammars, 1);
    assert_string_equal(c->grammars[0].expressions[0], "%{GREEDYDATA}");
    assert_int_equal(c->grammars[0].line, 2);
    lf_agent_conf_free(c);
}

/* Scalars are text until a type reads them: no YAML 1.1 surprises. */
static void test_strings_stay_strings(void **state)
{
    (void)state;
    struct lf_agent_conf *c = load_ok("agent:\n  name: no\n  data_dir: 0755\n");
    assert_string_equal(c->name, "no");
    assert_string_equal(c->data_dir, "0755");
    assert_string_equal(c->file_dir, "0755/out");
    lf_agent_conf_free(c);
    c = load_ok("agent:\n  data_dir: /\n");
    assert_string_equal(c->file_dir, "/out");
    lf_agent_conf_free(c);
}

/* ---- YAML problems ----------------------------------------------------- */

static void test_syntax_error(void **state)
{
    (void)state;
    load_fails("agent:\n  name: a\n name: b\n",
               "t.yml:3:2: YAML syntax error: did not find expected key (while parsing a block "
               "mapping at line 1, column 1)\n");
    load_fails("agent: [a, b\n",
               "t.yml:2:1: YAML syntax error: did not find expected ',' or ']' (while parsing a "
               "flow sequence at line 1, column 8)\n");
    load_fails("agent:\n\tname: a\n",
               "t.yml:2:1: YAML syntax error: found character that cannot start any token "
               "(while scanning for the next token at line 2, column 1)\n");
    load_fails("agent: {name: \"a\xff\"}\n",
               "t.yml:1:17: not valid YAML text: invalid leading UTF-8 octet (byte 0xff)\n");
    load_fails("agent: {}\n---\nagent: {}\n",
               "t.yml:2:1: only one YAML document per file (found a second '---')\n");
}

static void test_root_not_a_map(void **state)
{
    (void)state;
    load_fails("- agent\n", "t.yml:1:1: expected a section (a map of keys), got a list\n");
    load_fails("hello\n", "t.yml:1:1: expected a section (a map of keys), got 'hello'\n");
}

static void test_duplicate_key(void **state)
{
    (void)state;
    load_fails("agent:\n  name: a\n  name: b\ninputs: {}\nagent: {}\n",
               "t.yml:3:3: duplicate key 'name' (first at line 2, column 3)\n"
               "t.yml:5:1: duplicate key 'agent' (first at line 1, column 1)\n");
}

static void test_anchors_aliases_tags(void **state)
{
    (void)state;
    load_fails("agent:\n  name: &n web\n  data_dir: *n\n  proc_root: !!str /proc\n",
               "t.yml:2:9: YAML anchors (&n) are not supported: write the value out\n"
               "t.yml:3:13: YAML aliases (*n) are not supported: write the value out\n"
               "t.yml:4:14: YAML tags (!!str) are not supported: remove the tag\n");
    load_fails("agent: !mine {name: a}\n",
               "t.yml:1:8: YAML tags (!mine) are not supported: remove the tag\n");
    /* A refused item is one problem, not one more per required key. */
    load_fails("inputs:\n  files:\n    - &f {paths: [/a]}\n    - *f\n",
               "t.yml:3:7: YAML anchors (&f) are not supported: write the value out\n"
               "t.yml:4:7: YAML aliases (*f) are not supported: write the value out\n");
}

static void test_empty_key(void **state)
{
    (void)state;
    load_fails("agent:\n  ~: a\n  name: x\n", "t.yml:2:3: a key cannot be empty or null\n");
    load_fails("agent: {null: a}\n", "t.yml:1:9: a key cannot be empty or null\n");
}

/* ---- unknown keys ------------------------------------------------------ */

static void test_unknown_keys(void **state)
{
    (void)state;
    load_fails("agnet:\n  name: a\n",
               "t.yml:1:1: unknown key 'agnet', did you mean 'agent'? (allowed: agent, grammars, "
               "inputs, output)\n");
    load_fails("inputs:\n  metrics:\n    intervall: 5s\n",
               "t.yml:3:5: inputs.metrics: unknown key 'intervall', did you mean 'interval'? "
               "(allowed: enabled, interval, sets, top_processes, index)\n");
    load_fails("inputs:\n  files:\n    - paths: [/a]\n    - paths: [/b]\n      colour: red\n",
               "t.yml:5:7: inputs.files[1]: unknown key 'colour' (allowed: paths, exclude, "
               "grammar, index, start_at, rescan, partial_wait, max_open, json)\n");
    load_fails("grammars:\n  g:\n    expressions: [x]\n    patterns: [/p]\n",
               "t.yml:4:5: grammars.g: unknown key 'patterns' (allowed: expressions, "
               "patterns_dirs, definitions, max_line, match_limit)\n");
}

/* ---- wrong types ------------------------------------------------------- */

static void test_wrong_types(void **state)
{
    (void)state;
    load_fails("agent:\n"
               "  name: {a: b}\n"
               "  data_dir: [a]\n"
               "  proc_root:\n"
               "  log_level: 3\n"
               "  shutdown_timeout: ten\n"
               "grammars:\n"
               "  g:\n"
               "    expressions: x\n"
               "    definitions: [a]\n"
               "    max_line: big\n"
               "    match_limit: 12x\n"
               "inputs:\n"
               "  metrics:\n"
               "    enabled: maybe\n"
               "    sets: {load: 1}\n"
               "  files: {paths: [/a]}\n"
               "  omprog: syslog\n"
               "output:\n"
               "  batch_max_docs: -1\n"
               "  batch_max_bytes: 5 MiB\n"
               "  stdout:\n"
               "    bulk: [true]\n",
               "t.yml:2:9: agent.name: expected a string, got a map\n"
               "t.yml:3:13: agent.data_dir: expected a path, got a list\n"
               "t.yml:4:13: agent.proc_root: expected a path, got nothing\n"
               "t.yml:5:14: agent.log_level: expected one of error, warn, info, debug, got '3'\n"
               "t.yml:6:21: agent.shutdown_timeout: expected a duration like 10s, 500ms, 2m or "
               "1h, got 'ten'\n"
               "t.yml:9:18: grammars.g.expressions: expected a list of strings, got 'x'\n"
               "t.yml:10:18: grammars.g.definitions: expected a map of names to strings, got a "
               "list\n"
               "t.yml:11:15: grammars.g.max_line: expected a size like 512KiB, 5MiB or 1GB, got "
               "'big'\n"
               "t.yml:12:18: grammars.g.match_limit: expected a whole number like 256, got "
               "'12x'\n"
               "t.yml:15:14: inputs.metrics.enabled: expected true or false, got 'maybe'\n"
               "t.yml:16:11: inputs.metrics.sets: expected a list of load, memory, cpu, network, "
               "diskio, filesystem, fsstat, process_summary, process, uptime, all, got a map\n"
               "t.yml:17:10: inputs.files: expected a list of sections, got a map\n"
               "t.yml:18:11: inputs.omprog: expected a section (a map of keys), got 'syslog'\n"
               "t.yml:20:19: output.batch_max_docs: expected a whole number like 256, got '-1'\n"
               "t.yml:21:20: output.batch_max_bytes: expected a size like 512KiB, 5MiB or 1GB, "
               "got '5 MiB'\n"
               "t.yml:23:11: output.stdout.bulk: expected true or false, got a list\n");
    load_fails("grammars: [a]\n", "t.yml:1:11: grammars: expected a map of named sections, got "
                                  "a list\n");
    load_fails("grammars:\n  g:\n    expressions: [[a], '', {b: c}]\n",
               "t.yml:3:19: grammars.g.expressions[0]: expected a string, got a list\n"
               "t.yml:3:24: grammars.g.expressions[1]: expected a string, got an empty string\n"
               "t.yml:3:28: grammars.g.expressions[2]: expected a string, got a map\n");
    load_fails("agent:\n  name: \"a\\0b\"\n", "t.yml:2:9: agent.name: 'a?b' holds a NUL byte\n");
}

static void test_bad_values(void **state)
{
    (void)state;
    load_fails("agent:\n"
               "  timezone: Europe/Paris\n"
               "  shutdown_timeout: 0.5ms\n"
               "grammars:\n"
               "  g:\n"
               "    expressions: [x]\n"
               "    max_line: 1.5B\n"
               "    match_limit: 0\n"
               "inputs:\n"
               "  metrics:\n"
               "    interval: 0s\n"
               "    sets: [load, disk]\n"
               "    index: Metrics\n"
               "  files:\n"
               "    - paths: [relative.log]\n"
               "      exclude: ['/var/*.gz']\n"
               "      start_at: middle\n"
               "      max_open: 99999999999999999999999\n"
               "output:\n"
               "  type: redis\n"
               "  batch_max_bytes: 2GiB\n"
               "  batch_max_age: 2h\n",
               "t.yml:2:13: agent.timezone: expected local, UTC or an offset like +01:00, got "
               "'Europe/Paris'\n"
               "t.yml:3:21: agent.shutdown_timeout: '0.5ms' is not a whole number of "
               "milliseconds\n"
               "t.yml:7:15: grammars.g.max_line: '1.5B' is not a whole number of bytes\n"
               "t.yml:8:18: grammars.g.match_limit: '0' is out of range (1 to 4294967295)\n"
               "t.yml:11:15: inputs.metrics.interval: '0s' is out of range (100ms to 24h)\n"
               "t.yml:12:18: inputs.metrics.sets[1]: expected one of load, memory, cpu, network, "
               "diskio, filesystem, fsstat, process_summary, process, uptime, all, got 'disk'\n"
               "t.yml:13:12: inputs.metrics.index: expected an index name (lowercase, no spaces "
               "or \\/*?\"<>|,#:, not starting with -, _ or +, at most 200 bytes), got "
               "'Metrics'\n"
               "t.yml:15:15: inputs.files[0].paths[0]: expected an absolute path or glob "
               "(starting with /), got 'relative.log'\n"
               "t.yml:16:17: inputs.files[0].exclude[0]: expected a glob on the file name, "
               "without '/', got '/var/*.gz'\n"
               "t.yml:17:17: inputs.files[0].start_at: expected one of end, beginning, got "
               "'middle'\n"
               "t.yml:18:17: inputs.files[0].max_open: '99999999999999999999999' is out of "
               "range (1 to 65536)\n"
               "t.yml:20:9: output.type: expected one of file, stdout, elasticsearch, kafka, got 'redis'\n"
               "t.yml:21:20: output.batch_max_bytes: '2GiB' is out of range (1KiB to 1GiB)\n"
               "t.yml:22:18: output.batch_max_age: '2h' is out of range (1ms to 1h)\n");
    load_fails("inputs:\n  omprog:\n    answer_timeout: 50ms\n",
               "t.yml:3:21: inputs.omprog.answer_timeout: '50ms' is out of range (100ms to 1h)\n");
    load_fails("agent:\n  timezone: '+15:00'\n",
               "t.yml:2:13: agent.timezone: expected local, UTC or an offset like +01:00, got "
               "'+15:00'\n");
}

/* ---- required keys and cross-checks ------------------------------------ */

static void test_missing_paths(void **state)
{
    (void)state;
    load_fails("inputs:\n  files:\n    - grammar: syslog\n    - paths: []\n    - paths:\n",
               "t.yml:3:7: inputs.files[0]: missing required key 'paths'\n"
               "t.yml:4:14: inputs.files[1].paths: needs at least 1 item\n"
               "t.yml:5:13: inputs.files[2].paths: needs at least 1 item\n");
    load_fails("grammars:\n  g: {}\n  h:\n",
               "t.yml:2:3: grammars.g: missing required key 'expressions'\n"
               "t.yml:3:3: grammars.h: missing required key 'expressions'\n");
}

static void test_unknown_grammar(void **state)
{
    (void)state;
    load_fails("grammars:\n  kv: {expressions: [x]}\ninputs:\n  files:\n    - paths: [/a]\n"
               "      grammar: nginx\n  omprog:\n    grammar: apache\n",
               "t.yml:6:16: inputs.files[0].grammar: no grammar named 'nginx' (defined: kv, "
               "syslog)\n"
               "t.yml:8:14: inputs.omprog.grammar: no grammar named 'apache' (defined: kv, "
               "syslog)\n");
}

static void test_several_errors_in_file_order(void **state)
{
    (void)state;
    /* Found in table order, reported in file order. */
    load_fails(
        "output:\n  type: x\ninputs:\n  metrics:\n    interval: x\nagent:\n  name: [x]\n"
        "bogus: 1\n",
        "t.yml:2:9: output.type: expected one of file, stdout, elasticsearch, kafka, got 'x'\n"
        "t.yml:5:15: inputs.metrics.interval: expected a duration like 10s, 500ms, 2m or "
        "1h, got 'x'\n"
        "t.yml:7:9: agent.name: expected a string, got a list\n"
        "t.yml:8:1: unknown key 'bogus' (allowed: agent, grammars, inputs, output)\n");
}

/* ---- environment ------------------------------------------------------- */

static void test_env_expansion(void **state)
{
    (void)state;
    setenv("LF_TEST_HOST", "web42", 1);
    setenv("LF_TEST_EMPTY", "", 1);
    unsetenv("LF_TEST_UNSET");
    struct lf_agent_conf *c = load_ok("agent:\n"
                                      "  name: ${LF_TEST_HOST}.example\n"
                                      "  data_dir: ${LF_TEST_UNSET:-/srv/${LF_TEST_HOST}}\n"
                                      "  proc_root: \"${LF_TEST_EMPTY:-/p}\"\n"
                                      "  timezone: ${LF_TEST_UNSET:-UTC}\n"
                                      "inputs:\n"
                                      "  metrics:\n"
                                      "    interval: ${LF_TEST_UNSET:-30s}\n"
                                      "grammars:\n"
                                      "  g:\n"
                                      "    expressions: ['^a$', 'x$${y}', '$$x', '$']\n");
    assert_string_equal(c->name, "web42.example");
    /* A default is expanded in turn, as in the shell. */
    assert_string_equal(c->data_dir, "/srv/web42");
    assert_string_equal(c->proc_root, "/p");
    assert_string_equal(c->timezone, "UTC");
    assert_int_equal(c->metrics_interval_ms, 30000);
    const struct lf_grammar_conf *g = lf_agent_conf_grammar(c, "g");
    assert_string_equal(g->expressions[0], "^a$");
    assert_string_equal(g->expressions[1], "x${y}");
    assert_string_equal(g->expressions[2], "$$x");
    assert_string_equal(g->expressions[3], "$");
    lf_agent_conf_free(c);
}

static void test_env_problems(void **state)
{
    (void)state;
    setenv("LF_TEST_EMPTY", "", 1);
    unsetenv("LF_TEST_UNSET");
    load_fails("agent:\n"
               "  name: web-${LF_TEST_UNSET}\n"
               "  data_dir: '/x/${LF_TEST_UNSET}'\n"
               "  proc_root: ${1BAD}\n"
               "  timezone: ${LF_TEST_UNSET\n"
               "  log_level: ${LF_TEST_EMPTY}\n"
               "  shutdown_timeout: ${LF_TEST_UNSET:-${LF_TEST_UNSET}}\n",
               "t.yml:2:13: environment variable LF_TEST_UNSET is not set (write "
               "${LF_TEST_UNSET:-default} to give a default)\n"
               "t.yml:3:17: environment variable LF_TEST_UNSET is not set (write "
               "${LF_TEST_UNSET:-default} to give a default)\n"
               "t.yml:4:14: bad variable reference '${1BAD}': expected ${NAME} or "
               "${NAME:-default}\n"
               "t.yml:5:13: unterminated '${' (write '$${' for a literal '${')\n"
               "t.yml:6:14: agent.log_level: expected one of error, warn, info, debug, got ''\n"
               "t.yml:7:38: environment variable LF_TEST_UNSET is not set (write "
               "${LF_TEST_UNSET:-default} to give a default)\n");
}

/* ---- limits ------------------------------------------------------------ */

static void test_huge_file_refused(void **state)
{
    (void)state;
    int fd = open("t.yml", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 100 * 1000 * 1000), 0);
    close(fd);
    assert_null(lf_agent_conf_load("t.yml", err, sizeof(err), &nerr));
    assert_string_equal(err, "t.yml: larger than 4 MiB: refused\n");
    assert_int_equal(nerr, 1);
}

static void test_million_keys_refused(void **state)
{
    (void)state;
    FILE *f = fopen("t.yml", "w");
    assert_non_null(f);
    for (unsigned i = 0; i < 1000000; i++)
        fprintf(f, "k%u: 1\n", i);
    fclose(f);
    assert_null(lf_agent_conf_load("t.yml", err, sizeof(err), &nerr));
    assert_string_equal(err, "t.yml: larger than 4 MiB: refused\n");

    /* Under the size cap, the node cap: 200000 items in 400 KB. */
    f = fopen("t.yml", "w");
    assert_non_null(f);
    fputs("x: [", f);
    for (unsigned i = 0; i < 200000; i++)
        fputs("1,", f);
    fputs("]\n", f);
    fclose(f);
    assert_null(lf_agent_conf_load("t.yml", err, sizeof(err), &nerr));
    assert_string_equal(err, "t.yml:1:199999: more than 100000 keys, values and items: "
                             "refused\n");
}

static void test_deep_nesting_refused(void **state)
{
    (void)state;
    char text[4096];
    size_t n = 0;
    n += (size_t)sprintf(text, "x: ");
    for (int i = 0; i < 1000; i++)
        text[n++] = '[';
    text[n] = '\0';
    load_fails(text, "t.yml:1:67: maps and lists nested deeper than 64 levels: refused\n");
}

static void test_many_errors_capped(void **state)
{
    (void)state;
    struct lf_buf b;
    lf_buf_init(&b, 1 << 20);
    for (unsigned i = 0; i < 150; i++)
        assert_int_equal(lf_buf_printf(&b, "bad%u: 1\n", i), 0);
    write_file(b.data);
    lf_buf_free(&b);
    assert_null(lf_agent_conf_load("t.yml", err, sizeof(err), &nerr));
    assert_int_equal(nerr, 150);
    assert_non_null(strstr(err, "t.yml:100:1: unknown key 'bad99'"));
    assert_null(strstr(err, "bad100"));
    assert_non_null(strstr(err, "\n(50 more problems not shown)\n"));

    /* A small errbuf holds whole lines only; the count is still right. */
    char small[100];
    assert_null(lf_agent_conf_load("t.yml", small, sizeof(small), &nerr));
    assert_string_equal(small, "t.yml:1:1: unknown key 'bad0' (allowed: agent, grammars, "
                               "inputs, output)\n");
    assert_int_equal(nerr, 150);
    char tiny[10];
    assert_null(lf_agent_conf_load("t.yml", tiny, sizeof(tiny), &nerr));
    assert_string_equal(tiny, "");
}

static void test_unreadable(void **state)
{
    (void)state;
    assert_null(lf_agent_conf_load("nonexistent.yml", err, sizeof(err), &nerr));
    assert_string_equal(err, "nonexistent.yml: cannot open: No such file or directory\n");
    assert_null(lf_agent_conf_load(".", err, sizeof(err), &nerr));
    assert_string_equal(err, ".: cannot read: is a directory\n");
}

static void test_long_value_quoted_short(void **state)
{
    (void)state;
    char text[400];
    snprintf(text, sizeof(text), "agent:\n  log_level: %0200d\n", 7);
    load_fails(text, "t.yml:2:14: agent.log_level: expected one of error, warn, info, debug, got "
                     "'000000000000000000000000000000000000000000000000000000000000...'\n");
}

/* ---- the generic layer ------------------------------------------------- */

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int rc;
        uint64_t ms;
    } cases[] = {
        {"0", 0, 0},
        {"0s", 0, 0},
        {"10s", 0, 10000},
        {"500ms", 0, 500},
        {"2m", 0, 120000},
        {"1h", 0, 3600000},
        {"1m30s", 0, 90000},
        {"1.5s", 0, 1500},
        {"0.25s", 0, 250},
        {"1.500s", 0, 1500},
        {"0.1ms", LF_EINVAL, 0},
        {"1.0001s", LF_EINVAL, 0},
        {"10", LF_ESYNTAX, 0},
        {"", LF_ESYNTAX, 0},
        {"s", LF_ESYNTAX, 0},
        {"1min", LF_ESYNTAX, 0},
        {"1 s", LF_ESYNTAX, 0},
        {".5s", LF_ESYNTAX, 0},
        {"1.s", LF_ESYNTAX, 0},
        {"-1s", LF_ESYNTAX, 0},
        {"1d", LF_ESYNTAX, 0},
        {"5124095576030h", 0, 5124095576030ull * 3600000},
        {"5124095576031h", LF_ELIMIT, 0},
        {"99999999999999999999ms", LF_ELIMIT, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t ms = 777;
        int rc = lf_conf_parse_duration(cases[i].s, &ms);
        if (rc != cases[i].rc)
            fail_msg("'%s': rc %d, expected %d", cases[i].s, rc, cases[i].rc);
        if (!rc)
            assert_int_equal(ms, cases[i].ms);
    }
}

static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int rc;
        uint64_t bytes;
    } cases[] = {
        {"0", 0, 0},
        {"512", 0, 512},
        {"64B", 0, 64},
        {"1KiB", 0, 1024},
        {"1MiB", 0, 1048576},
        {"5MiB", 0, 5242880},
        {"1GiB", 0, 1073741824},
        {"1.5MiB", 0, 1572864},
        {"0.5KiB", 0, 512},
        {"1KB", 0, 1000},
        {"10MB", 0, 10000000},
        {"2GB", 0, 2000000000},
        {"0.0000019073486328125GiB", 0, 2048},
        {"1.5B", LF_EINVAL, 0},
        {"0.1KiB", LF_EINVAL, 0},
        {"1kb", LF_ESYNTAX, 0},
        {"1 MiB", LF_ESYNTAX, 0},
        {"MiB", LF_ESYNTAX, 0},
        {"1TiB", LF_ESYNTAX, 0},
        {"-1", LF_ESYNTAX, 0},
        {"17179869184GiB", LF_ELIMIT, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 777;
        int rc = lf_conf_parse_size(cases[i].s, &v);
        if (rc != cases[i].rc)
            fail_msg("'%s': rc %d, expected %d", cases[i].s, rc, cases[i].rc);
        if (!rc)
            assert_int_equal(v, cases[i].bytes);
    }
}

static void test_bools_uints_formats(void **state)
{
    (void)state;
    bool b = false;
    const char *yes[] = {"true", "True", "TRUE", "yes", "on", "On"};
    const char *no[] = {"false", "FALSE", "no", "off"};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(lf_conf_parse_bool(yes[i], &b), 0);
        assert_true(b);
    }
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(lf_conf_parse_bool(no[i], &b), 0);
        assert_false(b);
    }
    assert_int_equal(lf_conf_parse_bool("1", &b), LF_ESYNTAX);
    assert_int_equal(lf_conf_parse_bool("y", &b), LF_ESYNTAX);
    uint64_t v;
    assert_int_equal(lf_conf_parse_uint("18446744073709551615", &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(lf_conf_parse_uint("18446744073709551616", &v), LF_ELIMIT);
    assert_int_equal(lf_conf_parse_uint("1.0", &v), LF_ESYNTAX);
    assert_int_equal(lf_conf_parse_uint("0x10", &v), LF_ESYNTAX);
    char out[32];
    lf_conf_format_duration(90000, out, sizeof(out));
    assert_string_equal(out, "90s");
    lf_conf_format_duration(7200000, out, sizeof(out));
    assert_string_equal(out, "2h");
    lf_conf_format_duration(1500, out, sizeof(out));
    assert_string_equal(out, "1500ms");
    lf_conf_format_size(5242880, out, sizeof(out));
    assert_string_equal(out, "5MiB");
    lf_conf_format_size(1500000, out, sizeof(out));
    assert_string_equal(out, "1500KB");
    lf_conf_format_size(1000, out, sizeof(out));
    assert_string_equal(out, "1KB");
    lf_conf_format_size(1023, out, sizeof(out));
    assert_string_equal(out, "1023B");
}

/* A table of every type, bound from text in memory. */
struct every {
    char *s;
    bool b;
    uint32_t u;
    uint64_t d, z;
    int e;
    unsigned flags;
    char **list;
    size_t nlist;
    char **names, **texts;
    size_t nmap;
    struct item {
        unsigned line;
        char *name;
        unsigned col;
        uint32_t n;
    } * items, *named;
    size_t nitems, nnamed;
};

static const struct lf_conf_enum colours[] = {{"red", 1}, {"green", 2}, {"blue", 4}, {NULL, 0}};
static const struct lf_conf_key item_keys[] = {
    {.name = "n", .type = LF_CONF_UINT, .offset = offsetof(struct item, n), .def = "7"},
    {.name = NULL}};
#define E(f) offsetof(struct every, f)
static const struct lf_conf_key every_keys[] = {
    {.name = "s", .type = LF_CONF_STRING, .offset = E(s), .def = "dflt", .doc = "a | pipe"},
    {.name = "b", .type = LF_CONF_BOOL, .offset = E(b)},
    {.name = "u", .type = LF_CONF_UINT, .offset = E(u), .min = 2, .max = 9, .def = "3"},
    {.name = "d", .type = LF_CONF_DURATION, .offset = E(d), .flags = LF_CONF_REQUIRED},
    {.name = "z", .type = LF_CONF_SIZE, .offset = E(z), .def = "1KiB"},
    {.name = "e", .type = LF_CONF_ENUM, .offset = E(e), .enums = colours, .def = "green"},
    {.name = "f", .type = LF_CONF_FLAGS, .offset = E(flags), .enums = colours, .def = "[red]"},
    {.name = "l", .type = LF_CONF_STRINGS, .offset = E(list), .count = E(nlist), .max = 2},
    {.name = "m",
     .type = LF_CONF_STRING_MAP,
     .offset = E(names),
     .values = E(texts),
     .count = E(nmap)},
    {.name = "items",
     .type = LF_CONF_SECTION_LIST,
     .offset = E(items),
     .count = E(nitems),
     .item_size = sizeof(struct item),
     .line_at = offsetof(struct item, line),
     .flags = LF_CONF_SET_LINE,
     .sub = item_keys},
    {.name = "named",
     .type = LF_CONF_SECTION_MAP,
     .offset = E(named),
     .count = E(nnamed),
     .item_size = sizeof(struct item),
     .name_at = offsetof(struct item, name),
     .line_at = offsetof(struct item, line),
     .col_at = offsetof(struct item, col),
     .flags = LF_CONF_SET_LINE | LF_CONF_SET_COL,
     .sub = item_keys},
    {.name = NULL}};

static void bind_text(const char *text, struct every *ev, struct lf_conf_errors *errs)
{
    memset(ev, 0, sizeof(*ev));
    lf_conf_errors_init(errs);
    struct lf_conf_doc *doc = lf_conf_parse_text("mem", text, strlen(text), errs);
    if (doc)
        lf_conf_bind(every_keys, doc->root, doc->origin, ev, errs);
    lf_conf_doc_free(doc);
}

static void test_generic_binder(void **state)
{
    (void)state;
    struct every ev;
    struct lf_conf_errors errs;
    bind_text("d: 2s\nf: [blue, red, blue]\nl: [a, b]\nm: {x: '1', y: '2'}\n"
              "items: [{n: 1}, {}]\nnamed:\n  first: {n: 5}\n  second:\n",
              &ev, &errs);
    assert_int_equal(errs.count, 0);
    assert_string_equal(ev.s, "dflt");
    assert_false(ev.b);
    assert_int_equal(ev.u, 3);
    assert_int_equal(ev.d, 2000);
    assert_int_equal(ev.z, 1024);
    assert_int_equal(ev.e, 2);
    assert_int_equal(ev.flags, 5);
    assert_int_equal(ev.nlist, 2);
    assert_int_equal(ev.nmap, 2);
    assert_string_equal(ev.names[1], "y");
    assert_string_equal(ev.texts[1], "2");
    assert_int_equal(ev.nitems, 2);
    assert_int_equal(ev.items[0].n, 1);
    assert_int_equal(ev.items[0].line, 5);
    assert_int_equal(ev.items[1].n, 7);
    assert_int_equal(ev.nnamed, 2);
    assert_string_equal(ev.named[0].name, "first");
    assert_int_equal(ev.named[0].n, 5);
    assert_int_equal(ev.named[0].line, 7);
    assert_int_equal(ev.named[0].col, 3);
    assert_string_equal(ev.named[1].name, "second");
    assert_int_equal(ev.named[1].n, 7);
    lf_conf_release(every_keys, &ev);
    assert_null(ev.s);
    assert_null(ev.items);
    assert_int_equal(ev.nitems, 0);
    lf_conf_errors_free(&errs);

    /* Partly bound on problems, and still released whole (ASan checks). */
    bind_text("s: [x]\nu: 1\nl: [a, b, c]\nitems: [{n: x}, 3]\nnamed: {a: {n: [1]}}\n"
              "m: {x: {}}\n",
              &ev, &errs);
    char out[4096];
    lf_conf_errors_write(&errs, out, sizeof(out));
    assert_string_equal(out, "mem:1:1: missing required key 'd'\n"
                             "mem:1:4: s: expected a string, got a list\n"
                             "mem:2:4: u: '1' is out of range (2 to 9)\n"
                             "mem:3:4: l: 3 items, at most 2 allowed\n"
                             "mem:4:13: items[0].n: expected a whole number like 256, got 'x'\n"
                             "mem:4:17: items[1]: expected a section (a map of keys), got '3'\n"
                             "mem:5:16: named.a.n: expected a whole number like 256, got a "
                             "list\n"
                             "mem:6:8: m.x: expected a string, got a map\n");
    assert_string_equal(ev.s, "dflt"); /* a scalar that failed takes its default */
    assert_int_equal(ev.u, 3);
    assert_int_equal(ev.items[0].n, 7);
    lf_conf_release(every_keys, &ev);
    lf_conf_errors_free(&errs);
}

static void test_tree_positions(void **state)
{
    (void)state;
    struct lf_conf_errors errs;
    lf_conf_errors_init(&errs);
    const char *text = "a:\n  b: [x, {c: d}]\n  'e f': \"g\"\n";
    struct lf_conf_doc *doc = lf_conf_parse_text("mem", text, strlen(text), &errs);
    assert_non_null(doc);
    const struct lf_conf_node *a = lf_conf_get(doc->root, "a");
    assert_int_equal(a->type, LF_CONF_NODE_MAP);
    assert_int_equal(a->key_line, 1);
    assert_int_equal(a->line, 2);
    assert_int_equal(a->col, 3);
    const struct lf_conf_node *b = lf_conf_get(a, "b");
    assert_int_equal(b->type, LF_CONF_NODE_SEQ);
    assert_int_equal(b->nkids, 2);
    assert_int_equal(b->kids[1]->col, 10);
    assert_string_equal(lf_conf_get(b->kids[1], "c")->text, "d");
    const struct lf_conf_node *e = lf_conf_get(a, "e f");
    assert_int_equal(e->key_col, 3);
    assert_int_equal(e->col, 10);
    assert_string_equal(e->text, "g");
    assert_null(lf_conf_get(b, "c"));
    assert_null(lf_conf_get(NULL, "c"));
    lf_conf_doc_free(doc);
    assert_int_equal(errs.count, 0);
    lf_conf_errors_free(&errs);
}

static void test_print_keys(void **state)
{
    (void)state;
    struct lf_buf out;
    lf_buf_init(&out, 1 << 20);
    assert_int_equal(lf_conf_write_keys(&out, every_keys), 0);
    assert_string_equal(out.data, "| key | type | default | description |\n"
                                  "|-----|------|---------|-------------|\n"
                                  "| `s` | string | `dflt` | a \\| pipe |\n"
                                  "| `b` | bool |  |  |\n"
                                  "| `u` | integer, 2 to 9 | `3` |  |\n"
                                  "| `d` | duration, 0s to 18446744073709551615ms | required |  |\n"
                                  "| `z` | size, 0B to 18446744073709551615B | `1KiB` |  |\n"
                                  "| `e` | one of: red, green, blue | `green` |  |\n"
                                  "| `f` | list of: red, green, blue | `[red]` |  |\n"
                                  "| `l` | list of strings, at most 2 |  |  |\n"
                                  "| `m` | map of strings, at most 1024 |  |  |\n"
                                  "| `items` | list of sections, at most 1024 |  |  |\n"
                                  "| `items[].n` | integer, 0 to 4294967295 | `7` |  |\n"
                                  "| `named` | map of sections, at most 1024 |  |  |\n"
                                  "| `named.<name>.n` | integer, 0 to 4294967295 | `7` |  |\n");
    lf_buf_free(&out);

    /* The agent's tables: every default in them binds (no "(default of"
     * problems), and every key is documented. */
    lf_buf_init(&out, 1 << 20);
    assert_int_equal(lf_conf_write_keys(&out, lf_agent_conf_keys()), 0);
    assert_non_null(strstr(out.data, "| `inputs.files[].paths` | list of strings, 1 to 1024 | "
                                     "required |"));
    assert_non_null(strstr(out.data, "| `grammars.<name>.max_line` | size, 1KiB to 1GiB | "
                                     "`1MiB` |"));
    assert_null(strstr(out.data, " |  |\n")); /* no key without a doc */
    lf_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_file_is_defaults),
        cmocka_unit_test(test_no_file_is_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_metric_sets_scalar_and_all),
        cmocka_unit_test(test_syslog_grammar_redefined),
        cmocka_unit_test(test_strings_stay_strings),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_root_not_a_map),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_anchors_aliases_tags),
        cmocka_unit_test(test_empty_key),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_missing_paths),
        cmocka_unit_test(test_unknown_grammar),
        cmocka_unit_test(test_several_errors_in_file_order),
        cmocka_unit_test(test_env_expansion),
        cmocka_unit_test(test_env_problems),
        cmocka_unit_test(test_huge_file_refused),
        cmocka_unit_test(test_million_keys_refused),
        cmocka_unit_test(test_deep_nesting_refused),
        cmocka_unit_test(test_many_errors_capped),
        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_long_value_quoted_short),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_bools_uints_formats),
        cmocka_unit_test(test_generic_binder),
        cmocka_unit_test(test_tree_positions),
        cmocka_unit_test(test_print_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
