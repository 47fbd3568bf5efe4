/*
 * grammar_conf.c - the keys of a grammar's config section, shared by the
 * agent's and the shipper's configs.
 */
#include "lf_config.h"
#include "parser.h"

#include <stddef.h>

#define G(field) offsetof(struct lf_grammar_conf, field)
#define KIB 1024ull
#define GIB (1024ull * 1024 * 1024)

const struct lf_conf_key lf_grammar_conf_keys[] = {
    {.name = "expressions",
     .type = LF_CONF_STRINGS,
     .offset = G(expressions),
     .count = G(nexpressions),
     .min = 1,
     .max = 256,
     .flags = LF_CONF_REQUIRED,
     .doc = "grok expressions tried in order on each line; the first that matches wins"},
    {.name = "patterns_dirs",
     .type = LF_CONF_STRINGS,
     .offset = G(patterns_dirs),
     .count = G(npatterns_dirs),
     .max = 64,
     .def = "[]",
     .doc = "directories of pattern files (`NAME regex` lines) loaded after the shipped ones; "
            "later definitions replace earlier ones"},
    {.name = "definitions",
     .type = LF_CONF_STRING_MAP,
     .offset = G(definition_names),
     .values = G(definition_regexes),
     .count = G(ndefinitions),
     .max = 4096,
     .def = "{}",
     .doc = "inline patterns, `NAME: regex`, loaded last"},
    {.name = "max_line",
     .type = LF_CONF_SIZE,
     .offset = G(max_line),
     .def = "1MiB",
     .min = KIB,
     .max = GIB,
     .doc = "longer lines are cut to this size and tagged `_truncated`"},
    {.name = "match_limit",
     .type = LF_CONF_UINT,
     .offset = G(match_limit),
     .def = "10000000",
     .min = 1,
     .doc = "PCRE2 match limit per expression and line: a pathological line gives up "
            "(`_groktimeout`) instead of burning CPU"},
    {.name = NULL}};
