/*
 * shipperd.h - `logferry shipper`: Kafka topics into Elasticsearch.
 */
#ifndef LF_SHIPPERD_H
#define LF_SHIPPERD_H

struct lf_shipper_options {
    const char *config_path; /* NULL: the defaults */
    const char *log_level;   /* NULL: the config's */
};

/* Runs until SIGTERM/SIGINT; returns the exit status (0, or 1 when the
 * configuration or the setup fails). */
int lf_shipper_run(const struct lf_shipper_options *opt);

#endif
