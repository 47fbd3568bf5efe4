/*
 * test_es_template.c - the index template: declared types and how they
 * merge or conflict, the typed fields of a compiled grammar
 * (lf_grok_field), nesting of dotted paths, the body read back with jansson,
 * byte-identical output whatever the order of declarations, the
 * fingerprint, caps, and a cross-check that every metric the sampler emits
 * is declared with the type of its JSON value.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_config.h"
#include "es_template.h"
#include "grok.h"
#include "sampler.h"

static char err[2048];

/* Writes t and parses the body; the text is left in *text if asked. */
static json_t *written(const struct lf_es_template *t, const char *wildcard, int priority,
                       struct lf_buf *text)
{
    struct lf_buf b;
    lf_buf_init(&b, 1 << 20);
    assert_int_equal(lf_es_template_write(t, wildcard, priority, &b), 0);
    json_error_t jerr;
    json_t *root = json_loadb(b.data, b.len, 0, &jerr);
    if (!root)
        fail_msg("body is not JSON (%s): %s", jerr.text, b.data);
    if (text)
        *text = b;
    else
        lf_buf_free(&b);
    return root;
}

/* The mapping object of a dotted path, or NULL. */
static json_t *mapping_of(json_t *root, const char *path)
{
    json_t *props = json_object_get(json_object_get(json_object_get(root, "template"), "mappings"),
                                    "properties");
    char part[256];
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        snprintf(part, sizeof(part), "%.*s", (int)n, p);
        json_t *node = json_object_get(props, part);
        if (!dot || !node)
            return node;
        props = json_object_get(node, "properties");
        p = dot + 1;
    }
}

static const char *type_of(json_t *root, const char *path)
{
    return json_string_value(json_object_get(mapping_of(root, path), "type"));
}

static void assert_type(const struct lf_es_template *t, const char *path, enum lf_es_ftype want)
{
    enum lf_es_ftype got;
    if (lf_es_template_type(t, path, strlen(path), &got) != 0)
        fail_msg("%s is not declared", path);
    if (got != want)
        fail_msg("%s is %s, expected %s", path, lf_es_ftype_name(got), lf_es_ftype_name(want));
}

static int add(struct lf_es_template *t, const char *path, enum lf_es_ftype type)
{
    err[0] = '\0';
    return lf_es_template_add(t, path, strlen(path), type, err, sizeof(err));
}

/* ---- builtin fields and the body --------------------------------------- */

static void test_builtin_body(void **state)
{
    (void)state;
    struct lf_es_template *t = lf_es_template_create();
    assert_non_null(t);
    assert_int_equal(lf_es_template_add_builtin(t), 0);
    /* Adding them again changes nothing. */
    size_t n = lf_es_template_count(t);
    assert_int_equal(lf_es_template_add_builtin(t), 0);
    assert_int_equal(lf_es_template_count(t), n);

    json_t *root = written(t, "logs-*", 200, NULL);
    assert_string_equal(type_of(root, "@timestamp"), "date");
    assert_string_equal(type_of(root, "message"), "text");
    assert_string_equal(type_of(root, "host.name"), "keyword");
    assert_int_equal(
        json_integer_value(json_object_get(mapping_of(root, "host.name"), "ignore_above")), 1024);
    assert_string_equal(type_of(root, "host.hostname"), "keyword");
    assert_string_equal(type_of(root, "tags"), "keyword");
    assert_string_equal(type_of(root, "agent.version"), "keyword");
    assert_string_equal(type_of(root, "event.dataset"), "keyword");
    assert_string_equal(type_of(root, "log.file.path"), "keyword");
    assert_string_equal(type_of(root, "log.offset"), "long");
    assert_string_equal(type_of(root, "log.syslog.priority"), "long");
    assert_string_equal(type_of(root, "log.syslog.facility.code"), "long");
    assert_string_equal(type_of(root, "log.syslog.severity.code"), "long");
    assert_string_equal(type_of(root, "log.syslog.severity.name"), "keyword");
    assert_string_equal(type_of(root, "process.name"), "keyword");
    assert_string_equal(type_of(root, "process.pid"), "long");
    assert_string_equal(type_of(root, "system.load.1"), "half_float");
    assert_string_equal(type_of(root, "system.load.norm.15"), "half_float");
    assert_string_equal(type_of(root, "system.load.cores"), "long");
    assert_string_equal(type_of(root, "system.memory.total"), "long");
    assert_string_equal(type_of(root, "system.memory.used.bytes"), "long");
    assert_string_equal(type_of(root, "system.memory.used.pct"), "scaled_float");
    assert_string_equal(type_of(root, "system.memory.swap.used.pct"), "scaled_float");
    assert_string_equal(type_of(root, "system.cpu.total.norm.pct"), "scaled_float");
    assert_string_equal(type_of(root, "system.cpu.cores"), "long");
    /* scaled_float needs its factor: Metricbeat's 1000 */
    assert_int_equal(json_integer_value(json_object_get(
                         mapping_of(root, "system.cpu.total.norm.pct"), "scaling_factor")),
                     1000);
    assert_null(json_object_get(mapping_of(root, "system.load.1"), "scaling_factor"));
    assert_string_equal(type_of(root, "system.network.in.bytes"), "long");
    assert_string_equal(type_of(root, "system.filesystem.used.pct"), "scaled_float");
    assert_string_equal(type_of(root, "system.filesystem.mount_point"), "keyword");
    assert_string_equal(type_of(root, "process.cpu.start_time"), "date");
    assert_string_equal(type_of(root, "metricset.period"), "long");
    /* An intermediate object has properties and no type. */
    assert_non_null(json_object_get(mapping_of(root, "system.memory"), "properties"));
    assert_null(json_object_get(mapping_of(root, "system.memory"), "type"));

    /* The frame around the mappings. */
    json_t *pat = json_object_get(root, "index_patterns");
    assert_int_equal(json_array_size(pat), 1);
    assert_string_equal(json_string_value(json_array_get(pat, 0)), "logs-*");
    assert_int_equal(json_integer_value(json_object_get(root, "priority")), 200);
    json_t *meta = json_object_get(root, "_meta");
    assert_string_equal(json_string_value(json_object_get(meta, "managed_by")), "logferry");
    assert_string_equal(json_string_value(json_object_get(meta, "logferry_version")), LF_VERSION);
    const char *fp = json_string_value(json_object_get(meta, "fingerprint"));
    assert_non_null(fp);
    assert_int_equal(strlen(fp), 16);
    assert_int_equal(strspn(fp, "0123456789abcdef"), 16);
    json_t *tmpl = json_object_get(root, "template");
    assert_int_equal(json_object_size(tmpl), 1); /* mappings only, no settings */
    json_t *mappings = json_object_get(tmpl, "mappings");
    assert_true(json_is_false(json_object_get(mappings, "date_detection")));

    /* Dynamic rules: fields named message are text, other strings keywords. */
    json_t *dyn = json_object_get(mappings, "dynamic_templates");
    assert_int_equal(json_array_size(dyn), 2);
    json_t *msg = json_object_get(json_array_get(dyn, 0), "message_as_text");
    assert_string_equal(json_string_value(json_object_get(msg, "match")), "message");
    assert_string_equal(json_string_value(json_object_get(msg, "match_mapping_type")), "string");
    assert_string_equal(json_string_value(json_object_get(json_object_get(msg, "mapping"), "type")),
                        "text");
    json_t *kw = json_object_get(json_array_get(dyn, 1), "strings_as_keyword");
    assert_string_equal(json_string_value(json_object_get(kw, "match_mapping_type")), "string");
    assert_null(json_object_get(kw, "match"));
    json_t *kwmap = json_object_get(kw, "mapping");
    assert_string_equal(json_string_value(json_object_get(kwmap, "type")), "keyword");
    assert_int_equal(json_integer_value(json_object_get(kwmap, "ignore_above")), 1024);

    json_decref(root);
    lf_es_template_destroy(t);
}

/* ---- merging and conflicts ------------------------------------------------ */

static void test_merge_and_conflicts(void **state)
{
    (void)state;
    struct lf_es_template *t = lf_es_template_create();
    assert_non_null(t);

    /* LONG and DOUBLE give DOUBLE, in either order. */
    assert_int_equal(add(t, "metric.value", LF_ES_LONG), 0);
    assert_int_equal(add(t, "metric.value", LF_ES_DOUBLE), 0);
    assert_type(t, "metric.value", LF_ES_DOUBLE);
    assert_int_equal(add(t, "metric.value", LF_ES_LONG), 0);
    assert_type(t, "metric.value", LF_ES_DOUBLE);
    assert_int_equal(add(t, "a.ratio", LF_ES_DOUBLE), 0);
    assert_int_equal(add(t, "a.ratio", LF_ES_LONG), 0);
    assert_type(t, "a.ratio", LF_ES_DOUBLE);
    /* A metric's scaled_float or half_float wins over a plain number, in
     * either order; the two narrow types together widen to double. */
    assert_int_equal(add(t, "m.pct", LF_ES_SCALED_FLOAT), 0);
    assert_int_equal(add(t, "m.pct", LF_ES_DOUBLE), 0);
    assert_type(t, "m.pct", LF_ES_SCALED_FLOAT);
    assert_int_equal(add(t, "m.load", LF_ES_LONG), 0);
    assert_int_equal(add(t, "m.load", LF_ES_HALF_FLOAT), 0);
    assert_type(t, "m.load", LF_ES_HALF_FLOAT);
    assert_int_equal(add(t, "m.load", LF_ES_SCALED_FLOAT), 0);
    assert_type(t, "m.load", LF_ES_DOUBLE);
    assert_int_equal(add(t, "m.pct", LF_ES_KEYWORD), LF_ECONFLICT);

    /* KEYWORD and TEXT both take strings: the first stays, quietly. */
    assert_int_equal(add(t, "msg", LF_ES_TEXT), 0);
    assert_int_equal(add(t, "msg", LF_ES_KEYWORD), 0);
    assert_type(t, "msg", LF_ES_TEXT);

    /* Anything else: the first stays and the conflict is reported. */
    assert_int_equal(add(t, "code", LF_ES_LONG), 0);
    assert_int_equal(add(t, "code", LF_ES_KEYWORD), LF_ECONFLICT);
    assert_non_null(strstr(err, "'code'"));
    assert_non_null(strstr(err, "long"));
    assert_non_null(strstr(err, "keyword"));
    assert_type(t, "code", LF_ES_LONG);
    assert_int_equal(add(t, "when", LF_ES_DATE), 0);
    assert_int_equal(add(t, "when", LF_ES_DOUBLE), LF_ECONFLICT);
    assert_type(t, "when", LF_ES_DATE);

    /* A value and an object at one path, whichever comes first. */
    assert_int_equal(add(t, "host.name", LF_ES_KEYWORD), 0);
    assert_int_equal(add(t, "host", LF_ES_KEYWORD), LF_ECONFLICT);
    assert_non_null(strstr(err, "'host'"));
    assert_non_null(strstr(err, "host.name"));
    assert_int_equal(add(t, "code.x.y", LF_ES_LONG), LF_ECONFLICT);
    assert_non_null(strstr(err, "'code.x.y'"));
    assert_int_equal(lf_es_template_type(t, "host", 4, &(enum lf_es_ftype){0}), LF_ENOENT);
    assert_int_equal(lf_es_template_type(t, "code.x.y", 8, &(enum lf_es_ftype){0}), LF_ENOENT);
    /* Neighbours that only share a prefix are fine. */
    assert_int_equal(add(t, "hostname", LF_ES_KEYWORD), 0);
    assert_int_equal(add(t, "host-name", LF_ES_KEYWORD), 0);
    assert_int_equal(add(t, "codes", LF_ES_LONG), 0);
    size_t n = lf_es_template_count(t);

    /* Names Elasticsearch could not take. */
    const char *bad[] = {"", ".a", "a.", "a..b", "a\nb", "caf\xe9", "tab\there"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(
            lf_es_template_add(t, bad[i], strlen(bad[i]), LF_ES_KEYWORD, err, sizeof(err)),
            LF_EINVAL);
        assert_non_null(strstr(err, "invalid field name"));
    }
    /* A path is its len bytes, not up to a NUL. */
    assert_int_equal(lf_es_template_add(t, "x.y..", 3, LF_ES_LONG, err, sizeof(err)), 0);
    assert_type(t, "x.y", LF_ES_LONG);
    assert_int_equal(lf_es_template_count(t), n + 1);

    /* The builtin set reports a clash with what is there but adds the rest. */
    struct lf_es_template *u = lf_es_template_create();
    assert_non_null(u);
    assert_int_equal(add(u, "process.pid", LF_ES_KEYWORD), 0);
    assert_int_equal(lf_es_template_add_builtin(u), LF_ECONFLICT);
    assert_type(u, "process.pid", LF_ES_KEYWORD);
    assert_type(u, "system.load.cores", LF_ES_LONG);
    lf_es_template_destroy(u);
    lf_es_template_destroy(t);
    lf_es_template_destroy(NULL);
}

/* ---- grammars ------------------------------------------------------------- */

static lf_grok *compile(const char *const *exprs, size_t n)
{
    struct lf_grok_lib *lib = lf_grok_lib_create();
    assert_non_null(lib);
    assert_int_equal(lf_grok_lib_load_builtin(lib, err, sizeof(err)), 0);
    lf_grok *g = lf_grok_create(lib, exprs, n, NULL, err, sizeof(err));
    if (!g)
        fail_msg("grammar: %s", err);
    lf_grok_lib_destroy(lib);
    return g;
}

static void test_grok_field_lists_declarations(void **state)
{
    (void)state;
    const char *exprs[] = {
        "%{SYSLOGTIMESTAMP:timestamp} %{NUMBER:metric.value:float} %{INT:n:int}",
        "(?:%{INT:x:int}|%{WORD:x}) %{WORD:[http][request][method]:string} (?<raw.name>\\d+)",
    };
    lf_grok *g = compile(exprs, 2);
    /* Expression by expression, each in path order; x once per place. */
    static const struct {
        const char *path;
        enum lf_grok_field_type type;
    } want[] = {
        {"metric.value", LF_GROK_FIELD_FLOAT}, {"n", LF_GROK_FIELD_INT},
        {"timestamp", LF_GROK_FIELD_STRING},   {"http.request.method", LF_GROK_FIELD_STRING},
        {"raw.name", LF_GROK_FIELD_STRING},    {"x", LF_GROK_FIELD_INT},
        {"x", LF_GROK_FIELD_STRING},
    };
    size_t nwant = sizeof(want) / sizeof(want[0]);
    const char *path;
    size_t len;
    enum lf_grok_field_type type;
    for (size_t i = 0; i < nwant; i++) {
        assert_int_equal(lf_grok_field(g, i, &path, &len, &type), 0);
        assert_int_equal(len, strlen(want[i].path));
        assert_memory_equal(path, want[i].path, len);
        assert_int_equal(path[len], '\0');
        assert_int_equal(type, want[i].type);
    }
    path = "untouched";
    assert_int_equal(lf_grok_field(g, nwant, &path, &len, &type), LF_ENOENT);
    assert_int_equal(lf_grok_field(g, (size_t)-1, &path, &len, &type), LF_ENOENT);
    assert_string_equal(path, "untouched");
    lf_grok_destroy(g);

    /* A grammar without fields lists none. */
    const char *plain[] = {"%{INT} %{WORD}"};
    g = compile(plain, 1);
    assert_int_equal(lf_grok_field(g, 0, &path, &len, &type), LF_ENOENT);
    lf_grok_destroy(g);
}

static void test_grammar_types_in_template(void **state)
{
    (void)state;
    const char *exprs[] = {
        "%{SYSLOGTIMESTAMP:timestamp} %{NUMBER:metric.value:float} %{INT:n:int}",
        "%{INT:http.response.status_code:int} %{NUMBER:n:float} %{GREEDYDATA:message}",
    };
    lf_grok *g = compile(exprs, 2);
    struct lf_es_template *t = lf_es_template_create();
    assert_non_null(t);
    assert_int_equal(lf_es_template_add_builtin(t), 0);
    err[0] = '\0';
    /* n is :int in one expression and :float in the other; message, a string
     * here, stays text. Neither is a conflict. */
    assert_int_equal(lf_es_template_add_grok(t, g, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    lf_grok_destroy(g);

    json_t *root = written(t, "app-*", 150, NULL);
    assert_string_equal(type_of(root, "metric.value"), "double");
    assert_string_equal(type_of(root, "http.response.status_code"), "long");
    assert_string_equal(type_of(root, "n"), "double");
    assert_string_equal(type_of(root, "timestamp"), "keyword");
    assert_string_equal(type_of(root, "message"), "text");
    assert_string_equal(type_of(root, "@timestamp"), "date");
    json_decref(root);

    /* A grammar that disagrees with what is declared: every conflict is
     * reported, the rest is still added. */
    const char *clash[] = {"%{WORD:process.pid} %{NOTSPACE:host} %{INT:bytes.sent:int}"};
    g = compile(clash, 1);
    err[0] = '\0';
    assert_int_equal(lf_es_template_add_grok(t, g, err, sizeof(err)), LF_ECONFLICT);
    assert_non_null(strstr(err, "'process.pid'"));
    assert_non_null(strstr(err, "'host'"));
    assert_non_null(strstr(err, "; "));
    assert_type(t, "process.pid", LF_ES_LONG);
    assert_type(t, "bytes.sent", LF_ES_LONG);
    assert_int_equal(lf_es_template_type(t, "host", 4, &(enum lf_es_ftype){0}), LF_ENOENT);

    /* A short errbuf is cut, not overrun. */
    char small[24];
    memset(small, 'x', sizeof(small));
    assert_int_equal(lf_es_template_add_grok(t, g, small, 16), LF_ECONFLICT);
    assert_int_equal(strlen(small), 15);
    assert_int_equal(small[16], 'x');
    lf_grok_destroy(g);
    lf_es_template_destroy(t);
}

/* ---- nesting and determinism ---------------------------------------------- */

static const struct lf_es_field_type mixed[] = {
    {"b.z", 3, LF_ES_LONG},       {"a", 1, LF_ES_KEYWORD},     {"b.a.c", 5, LF_ES_DOUBLE},
    {"b.a-b", 5, LF_ES_IP},       {"b.a.d.e", 7, LF_ES_DATE},  {"c.1", 3, LF_ES_DOUBLE},
    {"c.15", 4, LF_ES_DOUBLE},    {"c.5", 3, LF_ES_DOUBLE},    {"b.ab", 4, LF_ES_BOOLEAN},
    {"größe", 7, LF_ES_LONG},     {"b.a.d.f", 7, LF_ES_TEXT},  {"@timestamp", 10, LF_ES_DATE},
    {"c.1x.y", 6, LF_ES_KEYWORD}, {"quote\"d", 7, LF_ES_LONG},
};

static struct lf_es_template *build(bool reverse)
{
    struct lf_es_template *t = lf_es_template_create();
    assert_non_null(t);
    size_t n = sizeof(mixed) / sizeof(mixed[0]);
    for (size_t k = 0; k < n; k++) {
        const struct lf_es_field_type *f = &mixed[reverse ? n - 1 - k : k];
        assert_int_equal(lf_es_template_add(t, f->path, f->path_len, f->type, err, sizeof(err)), 0);
    }
    return t;
}

static void test_nesting_and_canonical_output(void **state)
{
    (void)state;
    struct lf_es_template *t = build(false);
    struct lf_buf text;
    json_t *root = written(t, "logs-*", 200, &text);
    assert_string_equal(type_of(root, "a"), "keyword");
    assert_string_equal(type_of(root, "b.z"), "long");
    assert_string_equal(type_of(root, "b.a.c"), "double");
    assert_string_equal(type_of(root, "b.a-b"), "ip");
    assert_string_equal(type_of(root, "b.ab"), "boolean");
    assert_string_equal(type_of(root, "b.a.d.e"), "date");
    assert_string_equal(type_of(root, "b.a.d.f"), "text");
    assert_string_equal(type_of(root, "c.1"), "double");
    assert_string_equal(type_of(root, "c.15"), "double");
    assert_string_equal(type_of(root, "c.1x.y"), "keyword");
    assert_string_equal(type_of(root, "größe"), "long");
    assert_string_equal(type_of(root, "quote\"d"), "long");
    assert_int_equal(json_object_size(json_object_get(mapping_of(root, "b"), "properties")), 4);

    /* Exactly what jansson writes with sorted keys: a canonical form. */
    char *canon = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
    assert_non_null(canon);
    assert_string_equal(text.data, canon);
    free(canon);
    json_decref(root);

    /* The same declarations in another order, or written again: same bytes. */
    struct lf_es_template *r = build(true);
    struct lf_buf again, other;
    lf_buf_init(&again, 1 << 20);
    lf_buf_init(&other, 1 << 20);
    assert_int_equal(lf_es_template_write(t, "logs-*", 200, &again), 0);
    assert_int_equal(lf_es_template_write(r, "logs-*", 200, &other), 0);
    assert_string_equal(again.data, text.data);
    assert_string_equal(other.data, text.data);

    /* The builtin set is canonical too. */
    struct lf_es_template *b = lf_es_template_create();
    assert_non_null(b);
    assert_int_equal(lf_es_template_add_builtin(b), 0);
    struct lf_buf btext;
    root = written(b, "logferry-*", 0, &btext);
    canon = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(btext.data, canon);
    free(canon);
    json_decref(root);

    lf_buf_free(&btext);
    lf_buf_free(&again);
    lf_buf_free(&other);
    lf_buf_free(&text);
    lf_es_template_destroy(b);
    lf_es_template_destroy(r);
    lf_es_template_destroy(t);
}

static void test_empty_template(void **state)
{
    (void)state;
    struct lf_es_template *t = lf_es_template_create();
    assert_non_null(t);
    json_t *root = written(t, "x-*", 1, NULL);
    json_t *props = json_object_get(json_object_get(json_object_get(root, "template"), "mappings"),
                                    "properties");
    assert_true(json_is_object(props));
    assert_int_equal(json_object_size(props), 0);
    json_decref(root);
    lf_es_template_destroy(t);
}

/* ---- fingerprint ---------------------------------------------------------- */

static uint64_t fnv1a64(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3u;
    }
    return h;
}

static void fingerprint(const struct lf_es_template *t, int priority, char out[17])
{
    struct lf_buf text;
    json_t *root = written(t, "logs-*", priority, &text);
    snprintf(out, 17, "%s",
             json_string_value(json_object_get(json_object_get(root, "_meta"), "fingerprint")));
    /* It is the hash of what follows "_meta". */
    const char *rest = strstr(text.data, "\"index_patterns\"");
    assert_non_null(rest);
    char want[17];
    snprintf(want, sizeof(want), "%016" PRIx64,
             fnv1a64(rest, text.len - (size_t)(rest - text.data)));
    assert_string_equal(out, want);
    json_decref(root);
    lf_buf_free(&text);
}

static void test_fingerprint_follows_content(void **state)
{
    (void)state;
    struct lf_es_template *t = lf_es_template_create();
    assert_non_null(t);
    assert_int_equal(lf_es_template_add_builtin(t), 0);
    char a[17], b[17], c[17], d[17];
    fingerprint(t, 200, a);
    fingerprint(t, 200, b);
    assert_string_equal(a, b);
    fingerprint(t, 201, c);
    assert_string_not_equal(a, c);
    assert_int_equal(add(t, "metric.value", LF_ES_LONG), 0);
    fingerprint(t, 200, d);
    assert_string_not_equal(a, d);
    /* A merge that changes the type changes it again. */
    assert_int_equal(add(t, "metric.value", LF_ES_DOUBLE), 0);
    fingerprint(t, 200, c);
    assert_string_not_equal(c, d);
    lf_es_template_destroy(t);
}

/* ---- caps and bad arguments ----------------------------------------------- */

static void test_limits_and_arguments(void **state)
{
    (void)state;
    struct lf_es_template *t = lf_es_template_create();
    assert_non_null(t);
    assert_int_equal(lf_es_template_add_builtin(t), 0);

    struct lf_buf b;
    lf_buf_init(&b, 256);
    assert_int_equal(lf_buf_puts(&b, "kept"), 0);
    assert_int_equal(lf_es_template_write(t, "logs-*", 200, &b), LF_ELIMIT);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.data, "kept");
    assert_int_equal(lf_es_template_write(t, "logs-*", -1, &b), LF_EINVAL);
    assert_int_equal(lf_es_template_write(t, "", 1, &b), LF_EINVAL);
    assert_int_equal(b.len, 4);
    lf_buf_free(&b);

    /* Appends after what the buffer holds; a wildcard is any JSON string. */
    lf_buf_init(&b, 1 << 20);
    assert_int_equal(lf_buf_puts(&b, "PUT\n"), 0);
    assert_int_equal(lf_es_template_write(t, "we\"ird\n-*", 0, &b), 0);
    assert_memory_equal(b.data, "PUT\n{\"_meta\":", 13);
    json_t *root = json_loads(b.data + 4, 0, NULL);
    assert_non_null(root);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(root, "index_patterns"), 0)),
        "we\"ird\n-*");
    json_decref(root);
    lf_buf_free(&b);
    lf_es_template_destroy(t);

    /* At most LF_ES_TEMPLATE_MAX_FIELDS fields. */
    t = lf_es_template_create();
    assert_non_null(t);
    char path[32];
    for (int i = 0; i < LF_ES_TEMPLATE_MAX_FIELDS; i++) {
        int n = snprintf(path, sizeof(path), "f.%05d", i);
        assert_int_equal(lf_es_template_add(t, path, (size_t)n, LF_ES_LONG, err, sizeof(err)), 0);
    }
    assert_int_equal(add(t, "one.more", LF_ES_LONG), LF_ELIMIT);
    assert_int_equal(add(t, "f.00042", LF_ES_DOUBLE), 0); /* a merge adds nothing */
    assert_int_equal(lf_es_template_count(t), LF_ES_TEMPLATE_MAX_FIELDS);
    lf_es_template_destroy(t);
}

/* ---- every metric the sampler emits is declared with its type ------------- */

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        fail_msg("cannot open %s", from);
    FILE *out = fopen(to, "wb"); /* truncates: the sampler's descriptor sees it */
    assert_non_null(out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static void test_sampler_fields_are_declared(void **state)
{
    (void)state;
    const char *src = getenv("LF_SOURCE_DIR");
    assert_non_null(src);
    const char *tmp = getenv("TMPDIR");
    char dir[256], from[512], to[512];
    snprintf(dir, sizeof(dir), "%s/lf_es_template.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    const char *files[] = {"loadavg", "meminfo", "stat"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(from, sizeof(from), "%s/tests/data/proc/basic/%s", src, files[i]);
        snprintf(to, sizeof(to), "%s/%s", dir, files[i]);
        copy_file(from, to);
    }
    struct lf_sampler *s =
        lf_sampler_create(dir, LF_METRIC_LOAD | LF_METRIC_MEMORY | LF_METRIC_CPU, err, sizeof(err));
    if (!s)
        fail_msg("sampler: %s", err);
    struct lf_event ev;
    lf_event_init(&ev);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_LOAD, &ev), 0);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_MEMORY, &ev), 0);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &ev), LF_ENOENT);
    snprintf(from, sizeof(from), "%s/tests/data/proc/basic/stat.2", src);
    snprintf(to, sizeof(to), "%s/stat", dir);
    copy_file(from, to);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &ev), 0);

    struct lf_es_template *t = lf_es_template_create();
    assert_non_null(t);
    assert_int_equal(lf_es_template_add_builtin(t), 0);
    size_t metrics = 0;
    for (size_t i = 0; i < ev.nfields; i++) {
        const struct lf_field *f = &ev.fields[i];
        enum lf_es_ftype got;
        if (lf_es_template_type(t, f->path, f->path_len, &got) != 0)
            fail_msg("%.*s is not declared", (int)f->path_len, f->path);
        enum lf_es_ftype want = f->type == LF_VAL_INT     ? LF_ES_LONG
                                : f->type == LF_VAL_FLOAT ? LF_ES_DOUBLE
                                                          : LF_ES_KEYWORD;
        /* floats map to Metricbeat's narrower float types */
        bool fits = got == want || (want == LF_ES_DOUBLE &&
                                    (got == LF_ES_SCALED_FLOAT || got == LF_ES_HALF_FLOAT));
        if (!fits)
            fail_msg("%.*s is %s, the sampler writes a %s", (int)f->path_len, f->path,
                     lf_es_ftype_name(got), lf_es_ftype_name(want));
        metrics += f->type != LF_VAL_STRING;
    }
    assert_true(metrics >= 7 + 11 + 19); /* load, memory with swap, cpu */
    lf_es_template_destroy(t);
    lf_event_free(&ev);
    lf_sampler_destroy(s);
    for (size_t i = 0; i < 3; i++) {
        snprintf(to, sizeof(to), "%s/%s", dir, files[i]);
        unlink(to);
    }
    rmdir(dir);
}

/* The legacy body: typeless for 7.0-7.7, wrapped in _doc for 6.8; _meta in
 * the mapping with a fingerprint that follows patterns, order, type and
 * mapping; the same mapping keys as the composable body. */
static void test_legacy_body(void **state)
{
    (void)state;
    struct lf_es_template *t = lf_es_template_create();
    assert_int_equal(lf_es_template_add_builtin(t), 0);
    struct lf_buf plain, typed, comp, other;
    lf_buf_init(&plain, 1 << 20);
    lf_buf_init(&typed, 1 << 20);
    lf_buf_init(&comp, 1 << 20);
    lf_buf_init(&other, 1 << 20);
    assert_int_equal(lf_es_template_write_legacy(t, "logs-*", 206, NULL, &plain), 0);
    assert_int_equal(lf_es_template_write_legacy(t, "logs-*", 206, "_doc", &typed), 0);
    assert_int_equal(lf_es_template_write_legacy(t, "logs-*", 207, NULL, &other), 0);
    assert_int_equal(lf_es_template_write(t, "logs-*", 206, &comp), 0);
    json_error_t jerr;
    json_t *p = json_loads(plain.data, 0, &jerr), *ty = json_loads(typed.data, 0, &jerr),
           *c = json_loads(comp.data, 0, &jerr), *o = json_loads(other.data, 0, &jerr);
    assert_non_null(p);
    assert_non_null(ty);
    assert_non_null(c);
    assert_non_null(o);
    /* only the keys a legacy template has */
    assert_int_equal(json_object_size(p), 3);
    assert_int_equal(json_integer_value(json_object_get(p, "order")), 206);
    assert_string_equal(json_string_value(json_array_get(json_object_get(p, "index_patterns"), 0)),
                        "logs-*");
    json_t *pm = json_object_get(p, "mappings");
    json_t *tm = json_object_get(json_object_get(ty, "mappings"), "_doc");
    assert_int_equal(json_object_size(json_object_get(ty, "mappings")), 1);
    assert_non_null(tm);
    json_t *cm = json_object_get(json_object_get(c, "template"), "mappings");
    /* the mapping is the composable one's, plus _meta */
    json_t *pm2 = json_deep_copy(pm);
    json_object_del(pm2, "_meta");
    assert_true(json_equal(pm2, cm));
    json_decref(pm2);
    json_t *meta = json_object_get(pm, "_meta");
    assert_string_equal(json_string_value(json_object_get(meta, "managed_by")), "logferry");
    const char *fp = json_string_value(json_object_get(meta, "fingerprint")),
               *fpt =
                   json_string_value(json_object_get(json_object_get(tm, "_meta"), "fingerprint")),
               *fpo = json_string_value(json_object_get(
                   json_object_get(json_object_get(o, "mappings"), "_meta"), "fingerprint"));
    assert_int_equal(strlen(fp), 16);
    assert_string_not_equal(fp, fpt);
    assert_string_not_equal(fp, fpo);
    assert_int_equal(lf_es_template_write_legacy(t, "", 1, NULL, &plain), LF_EINVAL);
    assert_int_equal(lf_es_template_write_legacy(t, "x-*", -1, NULL, &plain), LF_EINVAL);
    json_decref(p);
    json_decref(ty);
    json_decref(c);
    json_decref(o);
    lf_buf_free(&plain);
    lf_buf_free(&typed);
    lf_buf_free(&comp);
    lf_buf_free(&other);
    lf_es_template_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_body),
        cmocka_unit_test(test_merge_and_conflicts),
        cmocka_unit_test(test_grok_field_lists_declarations),
        cmocka_unit_test(test_grammar_types_in_template),
        cmocka_unit_test(test_nesting_and_canonical_output),
        cmocka_unit_test(test_empty_template),
        cmocka_unit_test(test_fingerprint_follows_content),
        cmocka_unit_test(test_limits_and_arguments),
        cmocka_unit_test(test_sampler_fields_are_declared),
        cmocka_unit_test(test_legacy_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
