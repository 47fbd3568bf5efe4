/*
 * cmd_shipper.c - `logferry shipper`: Kafka topics into Elasticsearch.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "lf.h"
#include "shipperd.h"

#include <getopt.h>
#include <stdio.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: logferry shipper [-c FILE] [--log-level LEVEL]\n"
                 "\n"
                 "Joins a Kafka consumer group and bulk-indexes the events it reads into\n"
                 "daily Elasticsearch indices, committing a partition's offset only once\n"
                 "Elasticsearch has every event before it. SIGTERM/SIGINT: index what was\n"
                 "read (up to shipper.shutdown_timeout), commit, leave the group, exit.\n"
                 "\n"
                 "  -c, --config FILE       YAML configuration (default: built-in defaults)\n"
                 "      --log-level LEVEL   error, warn, info or debug (overrides the config)\n"
                 "  -h, --help              this text\n");
}

int lf_cmd_shipper(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct lf_shipper_options opt = {0};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            opt.config_path = optarg;
            break;
        case 'l':
            if (!lf_cli_log_level("shipper", optarg))
                return LF_EXIT_USAGE;
            opt.log_level = optarg;
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
        fprintf(stderr, "logferry shipper: unexpected argument '%s'\n", argv[optind]);
        return LF_EXIT_USAGE;
    }
    return lf_shipper_run(&opt);
}
