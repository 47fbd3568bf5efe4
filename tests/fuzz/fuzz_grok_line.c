/*
 * fuzz_grok_line.c - hostile lines against the shipped syslog grammars: any
 * bytes in, one valid JSON event out, no crash, no hang.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "grok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lf_grok *g;
    static struct lf_event ev;
    static struct lf_buf out;
    char err[1024];
    if (!g) {
        struct lf_grok_lib *lib = lf_grok_lib_create();
        const char *exprs[] = {"^%{SYSLOGLINE}$", "^%{SYSLOG5424LINE}$", "%{COMBINEDAPACHELOG}",
                               "%{WORD:metric.name}: %{NUMBER:metric.value:float}"};
        if (!lib || lf_grok_lib_load_builtin(lib, err, sizeof(err)))
            abort();
        g = lf_grok_create(lib, exprs, sizeof(exprs) / sizeof(exprs[0]), NULL, err, sizeof(err));
        lf_grok_lib_destroy(lib);
        if (!g)
            abort();
        lf_event_init(&ev);
        lf_buf_init(&out, 1u << 24);
    }
    lf_event_clear(&ev);
    lf_buf_reset(&out);
    int rc = lf_grok_match(g, (const char *)data, size, &ev);
    if (rc < 0 && rc != LF_ENOMATCH)
        abort();
    if (!lf_event_get(&ev, "message", 7) &&
        lf_event_add_string(&ev, "message", (const char *)data, size))
        abort();
    if (lf_event_write_json(&ev, &out))
        abort();
    fuzz_check_json(&out);
    return 0;
}
