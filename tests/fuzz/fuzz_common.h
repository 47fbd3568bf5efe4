/*
 * fuzz_common.h - shared by the libFuzzer harnesses: checks that what the
 * engine wrote is one valid JSON object on one line.
 */
#ifndef LF_FUZZ_COMMON_H
#define LF_FUZZ_COMMON_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lf.h"

static inline void fuzz_check_json(const struct lf_buf *out)
{
    json_error_t err;
    if (memchr(out->data, '\n', out->len))
        abort(); /* a line break inside one event would split the bulk body */
    json_t *v = json_loadb(out->data, out->len, JSON_ALLOW_NUL, &err);
    if (!v || !json_is_object(v))
        abort();
    json_decref(v);
}

#endif
