/*
 * fuzz_config.c - the YAML layer and the key tables of both daemons (the
 * agent's and `logferry shipper`'s) on any bytes: parse, bind every key,
 * write the problems out, free. Problems are fine; crashes, leaks and hangs
 * are not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent_config.h"
#include "lf_config.h"
#include "shipper_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lf_conf_errors errs;
    lf_conf_errors_init(&errs);
    struct lf_conf_doc *doc = lf_conf_parse_text("fuzz.yml", (const char *)data, size, &errs);
    if (doc) {
        struct lf_agent_conf conf;
        memset(&conf, 0, sizeof(conf));
        lf_conf_bind(lf_agent_conf_keys(), doc->root, doc->origin, &conf, &errs);
        lf_conf_release(lf_agent_conf_keys(), &conf);
        struct lf_shipper_conf sconf;
        memset(&sconf, 0, sizeof(sconf));
        lf_conf_bind(lf_shipper_conf_keys(), doc->root, doc->origin, &sconf, &errs);
        lf_conf_release(lf_shipper_conf_keys(), &sconf);
        lf_conf_doc_free(doc);
    }
    char out[4096];
    lf_conf_errors_write(&errs, out, sizeof(out));
    lf_conf_errors_free(&errs);
    return 0;
}
