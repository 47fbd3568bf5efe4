/*
 * grok_match.c - matching a line against a compiled grammar and turning the
 * captured groups into typed event fields.
 *
 * The hot path allocates nothing: the match data, match context and JIT stack
 * are made once per grammar, and fields point into the line. Expressions are
 * tried in order and the first match wins; a match that runs into a PCRE2
 * limit counts as no match for that expression, so a hostile line fails fast.
 */
#include "grok_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lf_grok_options_default(struct lf_grok_options *opt)
{
    opt->match_limit = LF_GROK_DEFAULT_MATCH_LIMIT;
    opt->depth_limit = LF_GROK_DEFAULT_DEPTH_LIMIT;
    opt->jit_stack_max = LF_GROK_DEFAULT_JIT_STACK;
    opt->max_line = LF_GROK_DEFAULT_MAX_LINE;
    opt->max_pattern = LF_GROK_DEFAULT_MAX_PATTERN;
}

void lf_grok_destroy(lf_grok *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nexprs; i++) {
        grok_code_free(&g->exprs[i].code);
        grok_expansion_free(&g->exprs[i].exp);
        free(g->exprs[i].slots);
    }
    free(g->exprs);
    pcre2_match_data_free(g->md);
    pcre2_match_context_free(g->mctx);
    pcre2_jit_stack_free(g->jit_stack);
    free(g);
}

/* The captures of an expansion as one flat array in path order (what
 * add_fields walks for every line); NULL when out of memory. */
static struct grok_slot *make_slots(const struct grok_expansion *exp)
{
    struct grok_slot *slots = calloc(exp->ncaps ? exp->ncaps : 1, sizeof(*slots));
    if (!slots)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < exp->nfields; i++) {
        const struct grok_field *f = &exp->fields[i];
        for (size_t k = 0; k < f->ncaps; k++)
            slots[n++] =
                (struct grok_slot){f->caps[k].group, f->path_len, f->path, f->caps[k].type};
    }
    return slots;
}

lf_grok *lf_grok_create(const struct lf_grok_lib *lib, const char *const *exprs, size_t n,
                        const struct lf_grok_options *opt, char *errbuf, size_t errlen)
{
    if (n == 0) {
        snprintf(errbuf, errlen, "no expressions given");
        return NULL;
    }
    lf_grok *g = calloc(1, sizeof(*g));
    if (!g || !(g->exprs = calloc(n, sizeof(*g->exprs))))
        goto nomem;
    /* A limit left at 0 takes its default: 0 would disable matching. */
    lf_grok_options_default(&g->opt);
    if (opt) {
        if (opt->match_limit)
            g->opt.match_limit = opt->match_limit;
        if (opt->depth_limit)
            g->opt.depth_limit = opt->depth_limit;
        if (opt->jit_stack_max)
            g->opt.jit_stack_max = opt->jit_stack_max;
        if (opt->max_line)
            g->opt.max_line = opt->max_line;
        if (opt->max_pattern)
            g->opt.max_pattern = opt->max_pattern;
    }

    uint32_t max_groups = 0;
    for (size_t i = 0; i < n; i++) {
        struct grok_expr *e = &g->exprs[i];
        if (grok_compile_expression(lib, exprs[i], i, &g->opt, &e->exp, &e->code, errbuf, errlen))
            goto fail;
        g->nexprs++;
        if (!(e->slots = make_slots(&e->exp)))
            goto nomem;
        uint32_t groups = 0;
        pcre2_pattern_info(e->code.utf ? e->code.utf : e->code.bytes, PCRE2_INFO_CAPTURECOUNT,
                           &groups);
        if (groups > max_groups)
            max_groups = groups;
    }

    g->md = pcre2_match_data_create(max_groups + 1, NULL);
    g->mctx = pcre2_match_context_create(NULL);
    g->jit_stack = pcre2_jit_stack_create(32 * 1024, g->opt.jit_stack_max, NULL);
    if (!g->md || !g->mctx || !g->jit_stack)
        goto nomem;
    pcre2_set_match_limit(g->mctx, g->opt.match_limit);
    pcre2_set_depth_limit(g->mctx, g->opt.depth_limit);
    pcre2_jit_stack_assign(g->mctx, NULL, g->jit_stack);
    return g;

nomem:
    snprintf(errbuf, errlen, "out of memory");
fail:
    lf_grok_destroy(g);
    return NULL;
}

size_t lf_grok_count(const lf_grok *g)
{
    return g->nexprs;
}

const char *lf_grok_pattern(const lf_grok *g, size_t i)
{
    return i < g->nexprs ? g->exprs[i].exp.pattern : NULL;
}

const struct lf_grok_stats *lf_grok_get_stats(const lf_grok *g)
{
    return &g->stats;
}

/* Integer text as Logstash's :int takes it: an optional sign and digits, and
 * a fraction is cut off ("3.7" -> 3). Returns 0 if it is not such a number or
 * does not fit in 64 bits. */
static int parse_int(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    size_t digits = i;
    uint64_t v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        unsigned d = (unsigned)(s[i++] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (i == digits)
        return 0;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i != n)
        return 0;
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
        return 0;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

/* Fills `f` for a :float capture. Short text already in JSON's number form
 * with a fraction is kept as it is (no rounding, no cost); anything else goes
 * through strtod, so "42" becomes 42.0 and "1e999" stays a string. Returns 0
 * if the text is not a finite number. */
static int convert_float(const char *s, size_t n, struct lf_field *f)
{
    /* Short enough that it cannot overflow a double: passed through. */
    if (n <= 24 && !memchr(s, 'e', n) && !memchr(s, 'E', n) && lf_json_number_form(s, n) == 2) {
        f->type = LF_VAL_NUMBER;
        return 1;
    }
    char tmp[64];
    if (n == 0 || n >= sizeof(tmp))
        return 0;
    /* Leave out what strtod takes but a log number is not: hex, inf, nan. */
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789+-.eE", s[i]))
            return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(v)) /* 1e999 would be Infinity: no JSON */
        return 0;
    f->type = LF_VAL_FLOAT;
    f->v.f = v;
    return 1;
}

/* Writes the captured fields straight into the event's array: building a
 * struct on the stack and copying it costs a store-forwarding stall per
 * field, which was half the engine's own time. `top` is what the match
 * returned: groups from it on took no part, so they are not looked at. */
static int add_fields(lf_grok *g, const struct grok_expr *e, const char *line, uint32_t top,
                      struct lf_event *ev)
{
    int rc = lf_event_reserve(ev, e->exp.ncaps);
    if (rc)
        return rc;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(g->md);
    struct lf_field *out = ev->fields + ev->nfields;
    const struct grok_slot *slot = e->slots, *end = e->slots + e->exp.ncaps;
    for (; slot < end; slot++) {
        uint32_t grp = slot->group;
        if (grp >= top)
            continue;
        PCRE2_SIZE start = ov[2 * grp], stop = ov[2 * grp + 1];
        /* Groups that took no part, and empty captures, are left out. */
        if (start == PCRE2_UNSET || stop <= start)
            continue;
        out->path = slot->path;
        out->path_len = slot->path_len;
        out->type = LF_VAL_STRING;
        out->flags = 0;
        out->str = line + start;
        out->len = stop - start;
        if (slot->type == GROK_INT) {
            if (parse_int(out->str, out->len, &out->v.i))
                out->type = LF_VAL_INT;
            else
                g->stats.bad_conversions++;
        } else if (slot->type == GROK_FLOAT) {
            if (!convert_float(out->str, out->len, out))
                g->stats.bad_conversions++;
        }
        out++;
    }
    ev->nfields = (size_t)(out - ev->fields);
    return 0;
}

/* What a line is made of: ASCII only, other valid UTF-8, or not UTF-8. */
enum text_kind { TEXT_ASCII, TEXT_UTF8, TEXT_BYTES };

static enum text_kind text_kind(const char *line, size_t len)
{
    const unsigned char *s = (const unsigned char *)line;
    size_t i = 0;
    for (; i + 16 <= len; i += 16) {
        uint64_t w[2];
        memcpy(w, s + i, 16);
        if ((w[0] | w[1]) & 0x8080808080808080ull)
            break;
    }
    if (i + 16 > len && len >= 16) { /* the tail, as one overlapping read */
        uint64_t w[2];
        memcpy(w, s + len - 16, 16);
        if (!((w[0] | w[1]) & 0x8080808080808080ull))
            return TEXT_ASCII;
    }
    for (; i < len && s[i] < 0x80; i++)
        ;
    if (i == len)
        return TEXT_ASCII;
    /* Everything before i is ASCII, so i starts a character. */
    return lf_utf8_valid(line + i, len - i) ? TEXT_UTF8 : TEXT_BYTES;
}

/* Whether a group without a field (grok.c, open_capture) captured text. */
static bool captured_unset(const lf_grok *g, const struct grok_expansion *exp)
{
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(g->md);
    for (size_t k = 0; k < exp->nunset; k++) {
        uint32_t grp = exp->unset[k];
        if (ov[2 * grp] != PCRE2_UNSET && ov[2 * grp + 1] > ov[2 * grp])
            return true;
    }
    return false;
}

static int match(lf_grok *g, const char *line, size_t len, struct lf_event *ev, bool tag)
{
    int rc;
    bool limited = false;

    g->stats.lines++;
    if (len > g->opt.max_line) {
        len = g->opt.max_line;
        g->stats.truncated++;
        if ((rc = lf_event_add_tag(ev, LF_GROK_TAG_TRUNCATED)))
            return rc;
    }
    /* ASCII lines (nearly every line) and lines that are not UTF-8 take the
     * byte pattern; other UTF-8 the UTF one, without PCRE2 checking it again
     * (grok.c, compile()). */
    enum text_kind kind = text_kind(line, len);
    bool ascii = kind == TEXT_ASCII;
    bool utf = kind == TEXT_UTF8;
    for (size_t i = 0; i < g->nexprs; i++) {
        const struct grok_code *c = &g->exprs[i].code;
        const pcre2_code *re = utf || !c->bytes ? c->utf : c->bytes;
        bool jit = re == c->utf ? c->utf_jit : c->bytes_jit;
        int m = PCRE2_ERROR_NOMATCH;
        /* A UTF-only pattern cannot read a line that is not UTF-8: no match. */
        if (re && (re == c->bytes || ascii || utf))
            m = jit ? pcre2_jit_match(re, (PCRE2_SPTR)line, len, 0, 0, g->md, g->mctx)
                    : pcre2_match(re, (PCRE2_SPTR)line, len, 0,
                                  re == c->utf ? PCRE2_NO_UTF_CHECK : 0, g->md, g->mctx);
        struct grok_expr *e = &g->exprs[i];
        if (m >= 0 && captured_unset(g, &e->exp)) {
            /* Logstash cannot set such a field: it gives the event up
             * ("Invalid FieldReference") and tries no further pattern. */
            break;
        }
        if (m >= 0) {
            g->stats.matched++;
            if ((rc = add_fields(g, e, line, (uint32_t)m, ev)))
                return rc;
            return (int)i;
        }
        if (m != PCRE2_ERROR_NOMATCH) {
            /* Match, depth, heap or JIT stack limit: give up on this expression. */
            g->stats.limit_hits++;
            limited = true;
        }
    }
    /* As in Logstash: a line given up on is tagged as such, not as failed. */
    g->stats.unmatched++;
    if (!tag)
        return LF_ENOMATCH; /* a limit hit is in the stats */
    if ((rc = lf_event_add_tag(ev, limited ? LF_GROK_TAG_TIMEOUT : LF_GROK_TAG_FAILURE)))
        return rc;
    return LF_ENOMATCH;
}

int lf_grok_match(lf_grok *g, const char *line, size_t len, struct lf_event *ev)
{
    return match(g, line, len, ev, true);
}

int lf_grok_try(lf_grok *g, const char *line, size_t len, struct lf_event *ev)
{
    return match(g, line, len, ev, false);
}
