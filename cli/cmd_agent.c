/*
 * cmd_agent.c - `logferry agent`: the per-server daemon.
 */
#define _POSIX_C_SOURCE 200809L
#include "agent.h"
#include "cli.h"

#include <getopt.h>
#include <stdio.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: logferry agent [-c FILE] [--log-level LEVEL] [--omprog]\n"
                 "\n"
                 "Samples system metrics, tails log files and ships the events to the\n"
                 "configured output (by default daily NDJSON files under the data\n"
                 "directory). SIGTERM/SIGINT: flush, save positions, exit. SIGHUP: reload.\n"
                 "\n"
                 "  -c, --config FILE       YAML configuration (default: built-in defaults)\n"
                 "      --log-level LEVEL   error, warn, info or debug (overrides the config)\n"
                 "      --omprog            be rsyslog's omprog program: messages on stdin,\n"
                 "                          answers on stdout (see packaging/rsyslog/)\n"
                 "  -h, --help              this text\n");
}

int lf_cmd_agent(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'l'},
        {"omprog", no_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct lf_agent_options opt = {0};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            opt.config_path = optarg;
            break;
        case 'l':
            if (!lf_cli_log_level("agent", optarg))
                return LF_EXIT_USAGE;
            opt.log_level = optarg;
            break;
        case 'o':
            opt.omprog = 1;
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
        fprintf(stderr, "logferry agent: unexpected argument '%s'\n", argv[optind]);
        return LF_EXIT_USAGE;
    }
    return lf_agent_run(&opt);
}
