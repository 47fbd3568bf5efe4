/*
 * cli.h - the subcommands of the logferry binary.
 */
#ifndef LF_CLI_H
#define LF_CLI_H

#include "lf.h"

/* Exit codes shared by every subcommand. */
#define LF_EXIT_OK 0
#define LF_EXIT_FAILURE 1
#define LF_EXIT_USAGE 2

/* Each takes argv with argv[0] = the subcommand's name; returns an exit code. */
/* Whether `level` is a log level (error, warn, info, debug); if not, says
 * so on stderr as "logferry COMMAND: --log-level: ...". */
int lf_cli_log_level(const char *command, const char *level);

int lf_cmd_grok(int argc, char **argv);
int lf_cmd_agent(int argc, char **argv);
int lf_cmd_check(int argc, char **argv);
int lf_cmd_shipper(int argc, char **argv);
int lf_cmd_status(int argc, char **argv);

#endif
