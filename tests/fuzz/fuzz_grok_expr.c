/*
 * fuzz_grok_expr.c - compile + match: the first line of the input is a grok
 * expression, the rest are log lines matched against it. Nothing may crash,
 * leak or hang, and every event must be valid JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "grok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct lf_grok_lib *lib;
    char err[1024];
    if (!lib) {
        lib = lf_grok_lib_create();
        if (!lib || lf_grok_lib_load_builtin(lib, err, sizeof(err)))
            abort();
    }
    const uint8_t *nl = memchr(data, '\n', size);
    size_t expr_len = nl ? (size_t)(nl - data) : size;
    char *expr = malloc(expr_len + 1);
    memcpy(expr, data, expr_len);
    expr[expr_len] = '\0';

    struct lf_grok_options opt;
    lf_grok_options_default(&opt);
    opt.match_limit = 100000; /* keep each run short */
    opt.max_pattern = 64 * 1024;
    const char *e = expr;
    lf_grok *g =
        strlen(expr) == expr_len ? lf_grok_create(lib, &e, 1, &opt, err, sizeof(err)) : NULL;
    if (g) {
        struct lf_event ev;
        struct lf_buf out;
        lf_event_init(&ev);
        lf_buf_init(&out, 1u << 24);
        const char *p = nl ? (const char *)nl + 1 : (const char *)data + size;
        const char *end = (const char *)data + size;
        while (p < end) {
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            size_t len = (size_t)((eol ? eol : end) - p);
            lf_event_clear(&ev);
            lf_buf_reset(&out);
            int rc = lf_grok_match(g, p, len, &ev);
            if (rc < 0 && rc != LF_ENOMATCH)
                abort();
            if (lf_event_write_json(&ev, &out))
                abort();
            fuzz_check_json(&out);
            p += len + 1;
        }
        lf_buf_free(&out);
        lf_event_free(&ev);
        lf_grok_destroy(g);
    }
    free(expr);
    return 0;
}
