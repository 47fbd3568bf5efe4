/*
 * cmd_check.c - `logferry check -c FILE`: reads the agent's configuration
 * as the agent would, then compiles every grammar in it with the grok
 * engine, and says "FILE: OK" or lists every problem as
 * "FILE:LINE:COL: message". Meant for operators before a reload and for
 * configuration management before it ships a file.
 *
 * `--connect` then reaches what the configuration sends to (or, for the
 * shipper, reads from), like `filebeat test output`: GET / on each
 * Elasticsearch host, cluster metadata from the Kafka brokers, whether the
 * file output's directory is writable. One line per thing reached.
 *
 * `--print-keys` prints the reference of every key from the same tables the
 * agent reads with (docs/CONFIGURATION.md is made from it).
 *
 * `--print-template PREFIX` prints the composable index template the agent
 * would install for that index prefix, built the way the agent builds it
 * (its built-in fields, then the typed fields of the grammars its inputs
 * use, in the configuration's order), so that an operator who manages
 * templates can load it by hand: the same bytes, the same fingerprint.
 */
#define _POSIX_C_SOURCE 200809L
#include "agent_config.h"
#include "cli.h"
#include "es_conf.h"
#include "es_template.h"
#include "grok.h"
#include "input.h"
#include "kafka_common.h"
#include "lf_config.h"
#include "parser.h"
#include "shipper_config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ERRBUF_SIZE (256u * 1024)

static void usage(FILE *out)
{
    fprintf(out, "usage: logferry check [--shipper] [--connect] -c FILE\n"
                 "       logferry check [--shipper] --print-keys[=FORMAT]\n"
                 "       logferry check [--shipper] --print-template PREFIX [-c FILE] [--omprog]\n"
                 "\n"
                 "Checks an agent configuration: YAML syntax, every key, type and range, and\n"
                 "that every grammar compiles with its pattern directories and definitions.\n"
                 "Prints 'FILE: OK' and exits 0, or prints every problem to stderr as\n"
                 "FILE:LINE:COL: message and exits 1.\n"
                 "\n"
                 "  -c, --config FILE   the configuration to check\n"
                 "      --connect       then reach the output (and the shipper's Kafka input):\n"
                 "                      GET / on each Elasticsearch host (server, version and\n"
                 "                      template API, or why not), cluster metadata from the\n"
                 "                      Kafka brokers (brokers, whether the topics exist),\n"
                 "                      whether the file output's directory is writable; one\n"
                 "                      line each on stdout, exit 0 only if everything answered\n"
                 "      --print-keys[=FORMAT]\n"
                 "                      print every key, its type, default and meaning as a\n"
                 "                      Markdown table (FORMAT markdown, the default) or as\n"
                 "                      man page paragraphs (roff, for logferry.yml(5))\n"
                 "      --print-template PREFIX\n"
                 "                      print the index template the agent installs for\n"
                 "                      PREFIX (the body of PUT _index_template/logferry-PREFIX),\n"
                 "                      with the grammars the inputs of FILE use (the\n"
                 "                      defaults without -c)\n"
                 "      --omprog        ... as the agent run with --omprog builds it (the\n"
                 "                      grammar of inputs.omprog)\n"
                 "      --shipper       FILE is a `logferry shipper` configuration (keys,\n"
                 "                      templates: every grammar it declares)\n"
                 "  -h, --help          this text\n");
}

static int print_keys(bool shipper, bool roff)
{
    struct lf_buf out;
    lf_buf_init(&out, 1u << 20);
    const struct lf_conf_key *table = shipper ? lf_shipper_conf_keys() : lf_agent_conf_keys();
    int rc = roff ? lf_conf_write_keys_roff(&out, table) : lf_conf_write_keys(&out, table);
    if (!rc && fwrite(out.data, 1, out.len, stdout) != out.len)
        rc = LF_EIO;
    if (!rc && fflush(stdout))
        rc = LF_EIO;
    if (rc)
        fprintf(stderr, "logferry check: cannot print the keys: %s\n", lf_strerror(rc));
    lf_buf_free(&out);
    return rc ? LF_EXIT_FAILURE : LF_EXIT_OK;
}

/* Prints the template for prefix; errors go to errbuf. */
static int write_template(const struct lf_cli_loaded *l, const char *prefix, bool omprog,
                          char *errbuf)
{
    struct lf_buf out;
    lf_buf_init(&out, 64u << 20);
    struct lf_es_template *t = lf_cli_template(l, omprog, errbuf, ERRBUF_SIZE);
    int rc = t ? 0 : LF_EINVAL;
    /* With a retention, the template names the prefix's ILM policy, as the
     * output writes it for Elasticsearch (OpenSearch's has no setting). */
    const struct lf_es_conf *es = l->agent ? &l->agent->es : &l->shipper->es;
    char policy[300];
    snprintf(policy, sizeof(policy), "logferry-%s", prefix);
    if (!rc && es->retention && lf_es_template_set_lifecycle(t, policy)) {
        snprintf(errbuf, ERRBUF_SIZE, "out of memory");
        rc = LF_ENOMEM;
    }
    if (!rc)
        rc = lf_es_template_body(t, l->src.index_pattern, prefix, &out, errbuf, ERRBUF_SIZE);
    if (!rc && (lf_buf_putc(&out, '\n') || fwrite(out.data, 1, out.len, stdout) != out.len ||
                fflush(stdout))) {
        snprintf(errbuf, ERRBUF_SIZE, "cannot print the template");
        rc = LF_EIO;
    }
    lf_buf_free(&out);
    lf_es_template_destroy(t);
    return rc;
}

static int print_template(const char *path, const char *prefix, bool omprog, bool shipper)
{
    struct lf_cli_loaded l;
    if (lf_cli_load("check", path, shipper, &l))
        return LF_EXIT_FAILURE;
    char *errbuf = malloc(ERRBUF_SIZE);
    int rc = LF_ENOMEM;
    if (errbuf)
        rc = write_template(&l, prefix, omprog, errbuf);
    if (rc)
        fprintf(stderr, "%s: %s\n", path ? path : "(defaults)", errbuf ? errbuf : "out of memory");
    free(errbuf);
    lf_cli_unload(&l);
    return rc ? LF_EXIT_FAILURE : LF_EXIT_OK;
}

/* How long a Kafka probe waits for the cluster's metadata. */
#define KAFKA_PROBE_TIMEOUT_MS 10000

/* Whether the file output can write into dir: it is writable, or it does
 * not exist and its nearest existing parent is (the agent creates it). */
static int probe_dir(const char *dir)
{
    if (access(dir, W_OK | X_OK) == 0) {
        printf("output.file: %s: writable; nothing to connect to\n", dir);
        return 0;
    }
    int e = errno;
    if (e == ENOENT) {
        /* The nearest ancestor that exists: "." for a relative name. */
        char *parent = strdup(dir);
        if (!parent) {
            printf("output.file: %s: FAILED: out of memory\n", dir);
            return -1;
        }
        const char *at = parent;
        for (;;) {
            char *slash = strrchr(parent, '/');
            if (!slash) {
                at = ".";
                break;
            }
            if (slash == parent) {
                at = "/";
                break;
            }
            *slash = '\0';
            if (access(parent, F_OK) == 0)
                break;
        }
        bool ok = access(at, W_OK | X_OK) == 0;
        if (ok)
            printf("output.file: %s: does not exist yet, can be created in %s; nothing to "
                   "connect to\n",
                   dir, at);
        else
            printf("output.file: %s: FAILED: does not exist and %s is not writable\n", dir, at);
        free(parent);
        return ok ? 0 : -1;
    }
    printf("output.file: %s: FAILED: %s\n", dir, strerror(e));
    return -1;
}

/* The journal inputs.journald reads: what it holds, whether the saved
 * cursor is in it. */
static int probe_journal(const struct lf_agent_conf *c)
{
    char line[1024];
    int rc = lf_input_journald_probe(c, line, sizeof(line));
    printf("%s\n", line);
    return rc ? -1 : 0;
}

static int connect_output(const struct lf_agent_conf *c);

static int connect_agent(const struct lf_agent_conf *c)
{
    int in = c->journald_enabled ? probe_journal(c) : 0;
    int out = connect_output(c);
    return in || out ? -1 : 0;
}

static int connect_output(const struct lf_agent_conf *c)
{
    switch (c->output_type) {
    case LF_OUTPUT_STDOUT:
        printf("output.stdout: nothing to connect to\n");
        return 0;
    case LF_OUTPUT_FILE:
        return probe_dir(c->file_dir);
    case LF_OUTPUT_ELASTICSEARCH:
        return lf_es_conf_probe(&c->es, "output.elasticsearch", stdout);
    case LF_OUTPUT_KAFKA: {
        const char *topics[] = {c->kafka.topic};
        return lf_kafka_probe(
            "output.kafka", (const char *const *)c->kafka.brokers, c->kafka.nbrokers, topics, 1,
            (const char *const *)c->kafka.prop_names, (const char *const *)c->kafka.prop_values,
            c->kafka.nprops, KAFKA_PROBE_TIMEOUT_MS, stdout);
    }
    }
    return -1;
}

static int connect_shipper(const struct lf_shipper_conf *c)
{
    int in = lf_kafka_probe("inputs.kafka", (const char *const *)c->brokers, c->nbrokers,
                            (const char *const *)c->topics, c->ntopics,
                            (const char *const *)c->prop_names, (const char *const *)c->prop_values,
                            c->nprops, KAFKA_PROBE_TIMEOUT_MS, stdout);
    int out = lf_es_conf_probe(&c->es, "output.elasticsearch", stdout);
    return in || out ? -1 : 0;
}

static int check_file(const char *path, bool shipper, bool connect)
{
    struct lf_cli_loaded l;
    if (lf_cli_load("check", path, shipper, &l))
        return LF_EXIT_FAILURE;
    /* Loading did every check the daemon does at start (grammars too). */
    printf("%s: OK\n", path);
    int rc = 0;
    if (connect) {
        fflush(stdout); /* librdkafka may log to stderr meanwhile */
        rc = l.agent ? connect_agent(l.agent) : connect_shipper(l.shipper);
    }
    lf_cli_unload(&l);
    return rc ? LF_EXIT_FAILURE : LF_EXIT_OK;
}

int lf_cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"print-keys", optional_argument, NULL, 'k'},
        {"print-template", required_argument, NULL, 't'},
        {"omprog", no_argument, NULL, 'o'},
        {"shipper", no_argument, NULL, 's'},
        {"connect", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *prefix = NULL;
    int keys = 0, omprog = 0, shipper = 0, roff = 0, connect = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'k':
            keys = 1;
            if (optarg && strcmp(optarg, "roff") == 0) {
                roff = 1;
            } else if (optarg && strcmp(optarg, "markdown") != 0) {
                fprintf(stderr, "logferry check: --print-keys=FORMAT: markdown or roff, not '%s'\n",
                        optarg);
                return LF_EXIT_USAGE;
            }
            break;
        case 't':
            prefix = optarg;
            break;
        case 'o':
            omprog = 1;
            break;
        case 's':
            shipper = 1;
            break;
        case 'C':
            connect = 1;
            break;
        case 'h':
            usage(stdout);
            return LF_EXIT_OK;
        default:
            usage(stderr);
            return LF_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "logferry check: unexpected argument '%s'\n", argv[optind]);
        return LF_EXIT_USAGE;
    }
    if (prefix && keys) {
        fprintf(stderr, "logferry check: --print-template and --print-keys go alone\n");
        return LF_EXIT_USAGE;
    }
    if (omprog && !prefix) {
        fprintf(stderr, "logferry check: --omprog goes with --print-template\n");
        return LF_EXIT_USAGE;
    }
    if (omprog && shipper) {
        fprintf(stderr, "logferry check: --omprog is for agent configurations\n");
        return LF_EXIT_USAGE;
    }
    if (connect && (prefix || keys || !path)) {
        fprintf(stderr, "logferry check: --connect goes with -c FILE alone\n");
        return LF_EXIT_USAGE;
    }
    if (prefix)
        return print_template(path, prefix, omprog, shipper);
    if (!path && !keys) {
        fprintf(stderr, "logferry check: give -c FILE, --print-keys or --print-template PREFIX\n");
        usage(stderr);
        return LF_EXIT_USAGE;
    }
    int rc = keys ? print_keys(shipper, roff) : LF_EXIT_OK;
    if (rc == LF_EXIT_OK && path)
        rc = check_file(path, shipper, connect);
    return rc;
}
