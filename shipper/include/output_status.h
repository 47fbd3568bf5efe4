/*
 * output_status.h - what both daemons' status endpoints say about their
 * output, and the Prometheus text helpers they share: the output's counters
 * (totals since the start), pending documents, whether the server takes
 * documents, its last answer and the spool, as Prometheus families labelled
 * output="NAME" and as fields of a JSON object.
 */
#ifndef LF_OUTPUT_STATUS_H
#define LF_OUTPUT_STATUS_H

#include "lf.h"
#include "shipper.h"

#include <jansson.h>

/* "# HELP" and "# TYPE" lines of a family. */
void lf_prom_family(struct lf_buf *b, const char *name, const char *type, const char *help);
/* A label value, escaped as the text format wants (\\, \", \n). */
void lf_prom_label(struct lf_buf *b, const char *value);

/* Writes the output's families to m and its fields to jo; st is its state
 * (lf_output_state) at `now`. */
void lf_output_status_write(struct lf_buf *m, json_t *jo, const struct lf_output *out,
                            const struct lf_output_counters *totals, size_t pending,
                            const struct lf_output_state *st, int64_t now);

#endif
