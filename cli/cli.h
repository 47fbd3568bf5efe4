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
int lf_cmd_grok(int argc, char **argv);
int lf_cmd_agent(int argc, char **argv);
int lf_cmd_check(int argc, char **argv);
int lf_cmd_shipper(int argc, char **argv);

#endif
