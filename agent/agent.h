/*
 * agent.h - the per-server daemon: inputs (metric sampler, file tailer,
 * rsyslog omprog) -> grammars -> events -> batches -> output, with
 * acknowledgements flowing back so positions advance only for safe events.
 */
#ifndef LF_AGENT_H
#define LF_AGENT_H

#include "lf.h"

struct lf_agent_options {
    const char *config_path; /* NULL: defaults */
    const char *log_level;   /* overrides the config's, or NULL */
    int omprog;              /* only the rsyslog omprog input, on stdin/stdout */
};

/* Runs until SIGTERM/SIGINT, or in omprog mode until stdin ends; returns an
 * exit code. */
int lf_agent_run(const struct lf_agent_options *opt);

#endif
