/*
 * shipper_status.h - what a running `logferry shipper` says about itself on
 * its status endpoint (/metrics, /status, /health; common/status_server.h):
 * the output, and each partition's consumption, commits and lag. The loop
 * hands over a view once a second.
 */
#ifndef LF_SHIPPER_STATUS_H
#define LF_SHIPPER_STATUS_H

#include "shipper.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lf_shipper_part_view {
    const char *topic;
    int32_t partition;
    uint64_t consumed, indexed, failed;
    size_t in_flight;
    int64_t committed; /* -1: nothing yet */
    int64_t lag;       /* -1: unknown */
    bool paused;
};

struct lf_shipper_view {
    const struct lf_output *out;
    size_t pending;
    const struct lf_shipper_part_view *parts;
    size_t nparts;
    uint64_t consumed;
    bool held_back; /* the output refused: consumption waits */
};

struct lf_shipper_status;

/* listen as shipper.status_listen (NULL: <data_dir>/status.sock, "off").
 * Returns NULL with the reason. */
struct lf_shipper_status *lf_shipper_status_create(const char *listen, const char *data_dir,
                                                   uint64_t unhealthy_after_ms, char *err,
                                                   size_t errlen);
/* When the next update is due (monotonic ms). */
int64_t lf_shipper_status_due(const struct lf_shipper_status *st);
void lf_shipper_status_update(struct lf_shipper_status *st, const struct lf_shipper_view *v,
                              int64_t now);
void lf_shipper_status_destroy(struct lf_shipper_status *st);

#endif
