/*
 * main.c - the one logferry binary: picks the subcommand and hands it argv.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"agent", lf_cmd_agent, "run the per-server daemon (metrics, log files -> output)"},
    {"shipper", lf_cmd_shipper, "move Kafka topics into Elasticsearch (a consumer group member)"},
    {"grok", lf_cmd_grok, "match lines from stdin against grok expressions, print JSON"},
    {"check", lf_cmd_check, "check a configuration file and every grammar in it"},
    {"status", lf_cmd_status, "ask a running agent what it is doing (its status endpoint)"},
    {"setup", lf_cmd_setup, "install templates, lifecycle policies and Kibana objects"},
};

int lf_cli_log_level(const char *command, const char *level)
{
    enum lf_log_level l;
    if (lf_log_parse_level(level, &l) == 0)
        return 1;
    fprintf(stderr, "logferry %s: --log-level: expected error, warn, info or debug, not '%s'\n",
            command, level);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: logferry <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'logferry <command> --help' tells more. logferry %s\n", LF_VERSION);
}

int main(int argc, char **argv)
{
    lf_log_detect_journal(); /* before any thread: it sets how lines look */
    if (argc < 2) {
        usage(stderr);
        return LF_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("logferry %s\n", LF_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "logferry: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return LF_EXIT_USAGE;
}
