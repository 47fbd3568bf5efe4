/*
 * fuzz_bulk_response.c - any bytes as the body of a _bulk answer. The first
 * byte says how many actions the request carried ('0' + n, n < 64), the rest
 * is the body. Besides no crash, leak or hang: a result is always complete
 * and bounded, and jansson is an independent judge - an answer it reads as
 * a well-formed bulk answer must be accepted, and every status we report
 * must be the one it sees.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "es_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t depth_of(const json_t *v)
{
    size_t d = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            size_t x = depth_of(m);
            d = x > d ? x : d;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t x = depth_of(json_array_get(v, i));
            d = x > d ? x : d;
        }
        return d + 1;
    }
    return 0;
}

/* Whether jansson's tree is an answer we must take: errors absent or a
 * boolean, items an array of exactly nitems (or, for none, left out by
 * filter_path with errors false), nesting within our bound. */
static int well_formed(const json_t *root, size_t nitems)
{
    if (!json_is_object(root) || depth_of(root) > 100)
        return 0;
    json_t *errors = json_object_get(root, "errors");
    json_t *items = json_object_get(root, "items");
    if (errors && !json_is_boolean(errors))
        return 0;
    if (!items)
        return nitems == 0 && errors && json_is_false(errors);
    return json_is_array(items) && json_array_size(items) == nitems;
}

static void check_statuses(const json_t *root, const struct lf_es_results *r)
{
    json_t *items = json_object_get(root, "items");
    for (size_t i = 0; i < r->n; i++) {
        if (r->items[i].status == 0)
            continue;
        json_t *item = json_array_get(items, i);
        if (!json_is_object(item))
            abort(); /* we saw a status where there is no object */
        void *it = json_object_iter(item);
        json_t *action = it ? json_object_iter_value(it) : NULL;
        json_t *status = json_object_get(action, "status");
        if (json_object_size(item) == 1 && json_is_integer(status) &&
            json_integer_value(status) != r->items[i].status)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct lf_es_results r; /* reused, as the output does */
    if (size == 0)
        return 0;
    size_t nitems = (uint8_t)(data[0] - '0') % 64;
    size_t len = size - 1;
    char *body = malloc(len ? len : 1); /* exact size: reads past the end are caught */
    if (!body)
        return 0;
    memcpy(body, data + 1, len);

    int rc = lf_es_parse_bulk(body, len, nitems, &r);
    if (rc != 0 && rc != LF_ESYNTAX)
        abort();
    if (rc == 0) {
        if (r.n != nitems || r.ndone + r.nduplicate + r.nretry + r.ndead != nitems)
            abort();
        for (size_t i = 0; i < r.n; i++) {
            const struct lf_es_item_result *it = &r.items[i];
            if (!it->error_type || !it->reason || strlen(it->error_type) >= LF_ES_TYPE_MAX ||
                strlen(it->reason) >= LF_ES_REASON_MAX || it->verdict > LF_ES_DEAD)
                abort();
            if (it->status != 0 && (it->status < 100 || it->status > 599))
                abort();
            if (it->verdict == LF_ES_DUPLICATE && it->status != 409)
                abort();
            if (it->verdict == LF_ES_DEAD && (it->status < 400 || it->status > 499))
                abort();
        }
    } else if (r.n != 0) {
        abort();
    }

    /* jansson reads a raw NUL after a number as the end of it ("40\0,"): not
     * JSON, so such bodies are not its to judge. */
    json_error_t err;
    json_t *root = memchr(body, '\0', len)
                       ? NULL
                       : json_loadb(body, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &err);
    if (root && well_formed(root, nitems)) {
        if (rc != 0)
            abort(); /* a good answer refused: it would be retried forever */
        check_statuses(root, &r);
    }
    json_decref(root);
    free(body);
    return 0;
}
