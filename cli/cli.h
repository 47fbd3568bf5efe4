/*
 * cli.h - the subcommands of the logferry binary.
 */
#ifndef LF_CLI_H
#define LF_CLI_H

#include "lf.h"

#include <stdbool.h>
#include <stddef.h>

/* Exit codes shared by every subcommand. */
#define LF_EXIT_OK 0
#define LF_EXIT_FAILURE 1
#define LF_EXIT_USAGE 2

/* Each takes argv with argv[0] = the subcommand's name; returns an exit code. */
/* Whether `level` is a log level (error, warn, info, debug); if not, says
 * so on stderr as "logferry COMMAND: --log-level: ...". */
int lf_cli_log_level(const char *command, const char *level);

/* ---- configurations (cli_conf.c) ---------------------------------------- */

struct lf_agent_conf;
struct lf_shipper_conf;
struct lf_grammar_conf;
struct lf_es_template;

/* What a template is built from, whichever daemon's configuration. */
struct lf_cli_template_source {
    const struct lf_grammar_conf *grammars;
    size_t ngrammars;
    const char *timezone;
    const char *index_pattern;
};

/* Either daemon's configuration. */
struct lf_cli_loaded {
    struct lf_agent_conf *agent;
    struct lf_shipper_conf *shipper;
    struct lf_cli_template_source src;
};

/* Loads path (NULL: the defaults) as the agent's or, with `shipper`, the
 * shipper's; prints every problem to stderr and returns -1 when it cannot.
 * Free with lf_cli_unload. */
int lf_cli_load(const char *command, const char *path, bool shipper, struct lf_cli_loaded *l);
void lf_cli_unload(struct lf_cli_loaded *l);

/* The template l's daemon installs: the agent's from the grammars its
 * inputs use (those of inputs.omprog with `omprog`), the shipper's from all.
 * Returns it (the caller destroys it), or NULL with the reason in errbuf. */
struct lf_es_template *lf_cli_template(const struct lf_cli_loaded *l, bool omprog, char *errbuf,
                                       size_t errlen);

int lf_cmd_grok(int argc, char **argv);
int lf_cmd_agent(int argc, char **argv);
int lf_cmd_check(int argc, char **argv);
int lf_cmd_shipper(int argc, char **argv);
int lf_cmd_status(int argc, char **argv);
int lf_cmd_setup(int argc, char **argv);

#endif
