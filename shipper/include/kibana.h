/*
 * kibana.h - `logferry setup --kibana URL`: the saved objects logferry ships
 * (data views, dashboards: NDJSON files as Kibana's export writes them)
 * imported into Kibana with its saved objects API (es_kibana.c).
 */
#ifndef LF_KIBANA_H
#define LF_KIBANA_H

#include "es_conf.h"
#include "shipper.h"

#include <stdbool.h>
#include <stdio.h>

struct lf_kibana_options {
    const char *url; /* Kibana's base URL, with a space's /s/<id> if wanted */
    const char *dir; /* every *.ndjson in it, in name order */
    bool dry_run;    /* send nothing: print each import request */
};

/* Largest NDJSON file imported, as Kibana's default savedObjects.maxImportPayloadBytes. */
#define LF_KIBANA_MAX_FILE (26214400u)

/*
 * Checks Kibana (GET /api/status), then, for each NDJSON file of o->dir,
 * reads its objects back (POST /api/saved_objects/_bulk_get): when every one
 * is there with the same attributes and references the file is
 * "unchanged", else it is imported with overwrite=true (multipart/form-data,
 * kbn-xsrf), and Kibana's verdict is reported object by object when it
 * refuses any. `http` holds the credentials and TLS settings (the caller
 * defaults them to the Elasticsearch output's). One line per file to out;
 * failures as "METHOD URL: FAILED: why" or "FILE: FAILED: type/id: why".
 * Returns 0, or -1 when anything failed (counts->failed).
 */
int lf_kibana_import(const struct lf_kibana_options *o, const struct lf_http_options *http,
                     FILE *out, struct lf_es_setup_counts *counts);

#endif
