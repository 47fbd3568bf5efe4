/*
 * fuzz_pattern_file.c - the pattern-file parser and the expander over every
 * definition it loaded: errors are fine, crashes and leaks are not.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    struct lf_grok_lib *lib = lf_grok_lib_create();
    if (!lib)
        abort();
    lf_grok_lib_load_text(lib, "fuzz.grok", (const char *)data, size, err, sizeof(err));
    struct lf_grok_options opt;
    lf_grok_options_default(&opt);
    opt.max_pattern = 64 * 1024;
    for (size_t i = 0; i < lf_grok_lib_count(lib) && i < 16; i++) {
        char expr[300];
        snprintf(expr, sizeof(expr), "%%{%.200s:f}", lf_grok_lib_name(lib, i));
        const char *e = expr;
        lf_grok *g = lf_grok_create(lib, &e, 1, &opt, err, sizeof(err));
        if (g) {
            struct lf_event ev;
            lf_event_init(&ev);
            lf_grok_match(g, (const char *)data, size, &ev);
            lf_event_free(&ev);
            lf_grok_destroy(g);
        }
    }
    lf_grok_lib_destroy(lib);
    return 0;
}
