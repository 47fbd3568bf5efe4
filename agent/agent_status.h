/*
 * agent_status.h - what a running agent says about itself: once a second
 * the main loop's counters are turned into the status endpoint's documents
 * (Prometheus text, JSON, health), and while a backlog or the spool is
 * being caught up a progress line is logged every few seconds.
 */
#ifndef LF_AGENT_STATUS_H
#define LF_AGENT_STATUS_H

#include "input.h"

#include <stddef.h>
#include <stdint.h>

struct lf_agent_status;

/* What the agent hands over at each update; counters are totals since the
 * agent started (SIGHUP does not reset them). */
struct lf_agent_view {
    struct lf_input *const *inputs;
    const struct lf_input_counters *input_totals; /* parallel to inputs */
    size_t ninputs;
    const struct lf_output *out;
    const struct lf_output_counters *output_totals;
    const char *output_name;
    size_t output_pending;
    bool reading_waits; /* the output refused the open batch */
};

/* `listen` as agent.status_listen (NULL: <data_dir>/status.sock, "off": no
 * listener, progress lines still logged). Returns NULL with the reason. */
struct lf_agent_status *lf_agent_status_create(const char *listen, const char *data_dir,
                                               uint64_t unhealthy_after_ms, char *err,
                                               size_t errlen);

/* Called every loop turn; works at most once a second. */
void lf_agent_status_update(struct lf_agent_status *st, const struct lf_agent_view *v,
                            int64_t now_mono_ms);

/* When the next update is due (monotonic ms): the loop wakes for it. */
int64_t lf_agent_status_due(const struct lf_agent_status *st);

void lf_agent_status_destroy(struct lf_agent_status *st);

#endif
