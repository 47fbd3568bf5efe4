/*
 * grok.c - expands a grok expression into one PCRE2 pattern and compiles it.
 *
 * %{NAME}, %{NAME:field} and %{NAME:field:type} are replaced, recursively, by
 * the pattern's regex; a reference with a field becomes a named group. Every
 * named group, ours or the user's own (?<field>...), is renamed g<N>, because
 * PCRE2 group names allow only letters, digits and '_' while field names are
 * dotted ("host.name") or bracketed ("[host][name]"); the field plan remembers
 * which groups feed which field.
 *
 * Pattern files written for Logstash are Oniguruma regexes. Where Oniguruma
 * and PCRE2 spell a construct differently the expander translates it:
 *   (?m)        Ruby's "dot matches newline" is PCRE2's (?s)
 *   \h, \H      a hex digit in Oniguruma, horizontal space in PCRE2
 *   \uHHHH      PCRE2 has no \u; written as the character itself (UTF-8)
 *   {,n}        "0 to n" in Oniguruma, literal text in PCRE2 10.42
 *   [a[bc]]     nested classes are unions in Oniguruma, flattened here
 *   x?*         Ruby reads it as x*; PCRE2 rejects it
 * Ruby's \w, \d and \s are ASCII while its \b and POSIX classes know
 * Unicode. Nothing is compiled with PCRE2_UCP, so \w \d \s stay PCRE2's
 * compact ASCII items: the text as written is compiled in byte mode, for
 * ASCII lines (where the two meanings agree) and lines that are not UTF-8,
 * and a second text, with \b and POSIX classes written with Unicode
 * properties, in UTF mode for the other lines (compile()).
 *   (C+)+       a repeated group of one repeated character: the outer
 *               repeat is dropped, it only multiplied the ways to backtrack
 * An expression over PCRE2's 64 KiB compiled-size cap is compiled again with
 * its field-less references as calls (shared_call()).
 * Both are compiled with the options that give Logstash's meaning:
 * ^ and $ match at line breaks and '.' matches a newline (Logstash compiles
 * with Regexp::MULTILINE, and Ruby's ^ and $ are always line anchors), and
 * plain parentheses do not capture once named groups exist (Oniguruma's rule).
 *
 * While expanding, a map from output offsets back to the source (expression
 * or pattern file line) is kept, so that a PCRE2 error names the place the
 * user wrote.
 */
#define _POSIX_C_SOURCE 200809L
#include "grok_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NESTING 128
#define MAX_GROUP_NAME 32
#define MAX_INLINE 64
#define MAX_OPEN_TRACKED 64
#define MAX_SHARED 256

/* Ruby's \b and \B with Unicode word characters, for the pattern that reads
 * non-ASCII lines (PCRE2's own \b is ASCII without PCRE2_UCP). The word
 * characters are PCRE2_UCP's (\p{Xwd}: letters, numbers, '_'), which is
 * what \b meant here before UCP was left off. */
#define UWORD "\\p{Xwd}"
#define WORD_BOUNDARY "(?:(?<=" UWORD ")(?!" UWORD ")|(?<!" UWORD ")(?=" UWORD "))"
#define NOT_WORD_BOUNDARY "(?:(?<=" UWORD ")(?=" UWORD ")|(?<!" UWORD ")(?!" UWORD "))"

struct map_entry {
    size_t out;
    const struct grok_def *def; /* NULL: the expression itself */
    size_t src;
};

struct capture {
    char *path; /* NULL: a field name Logstash cannot set (see open_capture) */
    uint32_t id;
    uint8_t type;
};

struct raw_name {
    char *name;
    uint32_t id;
};

struct expander {
    const struct lf_grok_lib *lib;
    const char *expr;
    size_t expr_index;
    struct lf_buf out;
    struct map_entry *map;
    size_t nmap, map_cap;
    struct capture *caps;
    size_t ncaps, caps_cap;
    struct raw_name *raw;
    size_t nraw, raw_cap;
    const struct grok_def *stack[MAX_NESTING];
    size_t depth;
    struct grok_def inline_defs[MAX_INLINE];
    size_t ninline;
    char *errbuf;
    size_t errlen;
    bool unicode; /* the text for valid non-ASCII UTF-8 lines (see compile()) */
    bool share;   /* references written as calls (see shared_call()) */
    const struct grok_def *shared[MAX_SHARED];
    size_t nshared;
    /* The group whose ')' was written last, for nested quantifiers. */
    size_t group_body, group_close;
    bool group_simple; /* opened by '(', '(?:' or one of our '(?<gN>' */
};

static int grow_array(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, ncap * size);
    if (!p)
        return LF_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* Describes a place in the sources: "expression 2, column 7" or
 * "pattern SYSLOGBASE at grammars/syslog.grok:12:30". */
static void describe(const struct expander *x, const struct grok_def *def, size_t off, char *buf,
                     size_t len)
{
    if (!def)
        snprintf(buf, len, "expression %zu, column %zu", x->expr_index + 1, off + 1);
    else if (!def->file)
        snprintf(buf, len, "pattern %s defined in expression %zu, column %zu", def->name,
                 x->expr_index + 1, def->column + off);
    else if (def->line == 0)
        snprintf(buf, len, "inline pattern %s, column %zu", def->name, off + 1);
    else
        snprintf(buf, len, "pattern %s at %s:%u:%zu", def->name, def->file, def->line,
                 def->column + off);
}

static int fail(struct expander *x, int rc, const struct grok_def *def, size_t off, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

static int fail(struct expander *x, int rc, const struct grok_def *def, size_t off, const char *fmt,
                ...)
{
    char where[512], what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    describe(x, def, off, where, sizeof(where));
    snprintf(x->errbuf, x->errlen, "%s: %s", where, what);
    return rc;
}

/* Appends output that stands for source bytes at `src` of `def`. */
static int emit(struct expander *x, const struct grok_def *def, size_t src, const char *s, size_t n)
{
    struct map_entry *last = x->nmap ? &x->map[x->nmap - 1] : NULL;
    if (!last || last->def != def || last->src + (x->out.len - last->out) != src) {
        if (grow_array((void **)&x->map, &x->map_cap, x->nmap, sizeof(*x->map)))
            return fail(x, LF_ENOMEM, def, src, "out of memory");
        x->map[x->nmap++] = (struct map_entry){x->out.len, def, src};
    }
    int rc = lf_buf_append(&x->out, s, n);
    if (rc == LF_ELIMIT)
        return fail(x, rc, def, src, "expanded pattern is longer than %zu bytes", x->out.max);
    if (rc)
        return fail(x, rc, def, src, "out of memory");
    return 0;
}

static int emit_str(struct expander *x, const struct grok_def *def, size_t src, const char *s)
{
    return emit(x, def, src, s, strlen(s));
}

static int is_word(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static int is_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

char *grok_field_path(const char *name, size_t len, char *errbuf, size_t errlen)
{
    char *path = malloc(len + 1);
    size_t n = 0;
    if (!path) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    if (len == 0)
        goto bad;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x21 || c == '"' || c == '\\' || c == 0x7f || c == '{' || c == '}')
            goto bad;
    }
    if (name[0] == '[') {
        /* [a][b][c] -> a.b.c */
        size_t i = 0;
        while (i < len) {
            if (name[i] != '[')
                goto bad;
            size_t close = i + 1;
            while (close < len && name[close] != ']' && name[close] != '[')
                close++;
            if (close >= len || name[close] != ']' || close == i + 1)
                goto bad;
            if (n)
                path[n++] = '.';
            memcpy(path + n, name + i + 1, close - i - 1);
            n += close - i - 1;
            i = close + 1;
        }
    } else {
        for (size_t i = 0; i < len; i++) {
            if (name[i] == '[' || name[i] == ']')
                goto bad;
            if (name[i] == '.' && (i == 0 || i + 1 == len || name[i + 1] == '.'))
                goto bad;
            path[n++] = name[i];
        }
    }
    path[n] = '\0';
    return path;
bad:
    free(path);
    snprintf(errbuf, errlen,
             "invalid field name '%.*s' (use host.name or [host][name]; no empty parts, "
             "spaces, quotes or braces)",
             (int)(len > 200 ? 200 : len), name);
    return NULL;
}

/* Records a named group for `field` and writes its opening "(?<gN>".
 *
 * A field name that is not a field reference, such as the "[a][b" that
 * %{DATA:[a][b?]} leaves (upstream's ecs-v1 firewalls had one), is an error
 * in an expression the user typed. In a pattern definition it compiles, as
 * Logstash compiles it: Logstash fails the event only when that group
 * captures text ("Invalid FieldReference"), so the group is kept with no
 * field, and a match in which it captured text does not count (grok_match.c). */
static int open_capture(struct expander *x, const struct grok_def *def, size_t src,
                        const char *field, size_t field_len, uint8_t type, uint32_t *id_out)
{
    char err[300];
    char *path = grok_field_path(field, field_len, err, sizeof(err));
    if (!path && (!def || !def->file || strcmp(err, "out of memory") == 0))
        return fail(x, LF_ESYNTAX, def, src, "%s", err);
    if (x->ncaps >= 60000) {
        free(path);
        return fail(x, LF_ELIMIT, def, src, "too many captures in one expression");
    }
    if (grow_array((void **)&x->caps, &x->caps_cap, x->ncaps, sizeof(*x->caps))) {
        free(path);
        return fail(x, LF_ENOMEM, def, src, "out of memory");
    }
    uint32_t id = (uint32_t)x->ncaps;
    x->caps[x->ncaps++] = (struct capture){path, id, type};
    if (id_out)
        *id_out = id;
    char open[MAX_GROUP_NAME + 8];
    snprintf(open, sizeof(open), "(?<g%u>", (unsigned)id);
    return emit_str(x, def, src, open);
}

static const struct raw_name *find_raw(const struct expander *x, const char *name, size_t len)
{
    for (size_t i = x->nraw; i-- > 0;)
        if (strlen(x->raw[i].name) == len && memcmp(x->raw[i].name, name, len) == 0)
            return &x->raw[i];
    return NULL;
}

static int remember_raw(struct expander *x, const char *name, size_t len, uint32_t id)
{
    if (grow_array((void **)&x->raw, &x->raw_cap, x->nraw, sizeof(*x->raw)))
        return LF_ENOMEM;
    char *copy = strndup(name, len);
    if (!copy)
        return LF_ENOMEM;
    x->raw[x->nraw++] = (struct raw_name){copy, id};
    return 0;
}

/* Writes a reference to a user's group name (a backreference or a call):
 * `pre` + our name of the group + `post`. */
static int emit_group_ref(struct expander *x, const struct grok_def *def, size_t src,
                          const char *pre, const char *name, size_t len, const char *post)
{
    const struct raw_name *r = find_raw(x, name, len);
    if (!r)
        return fail(x, LF_ENOENT, def, src, "reference to unknown group '%.*s'", (int)len, name);
    char buf[MAX_GROUP_NAME + 16];
    snprintf(buf, sizeof(buf), "%sg%u%s", pre, (unsigned)r->id, post);
    return emit_str(x, def, src, buf);
}

static int expand_text(struct expander *x, const struct grok_def *def, const char *s, size_t n);

/* Characters Logstash takes in the field part of %{NAME:field:type}. */
static int is_field_char(int c)
{
    return c && (is_word(c) || strchr("@[]:.-^`\\", c) != NULL);
}

/* The end of an inline definition starting at s[i]: the '}' that closes the
 * reference, braces inside the regex balanced. Returns n if there is none. */
static size_t definition_end(const char *s, size_t n, size_t i)
{
    int depth = 0;
    for (; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n)
            i++;
        else if (s[i] == '{')
            depth++;
        else if (s[i] == '}' && depth-- == 0)
            return i;
    }
    return n;
}

/* Records %{NAME=regex} / %{NAME:field=regex}, a definition that lives as
 * long as this expansion, and returns it. */
static const struct grok_def *define_inline(struct expander *x, const struct grok_def *def,
                                            size_t at, const char *name, size_t name_len,
                                            const char *regex, size_t regex_len)
{
    if (x->ninline == MAX_INLINE) {
        fail(x, LF_ELIMIT, def, at, "more than %d inline definitions", MAX_INLINE);
        return NULL;
    }
    struct grok_def *d = &x->inline_defs[x->ninline];
    d->name = strndup(name, name_len);
    d->regex = strndup(regex, regex_len);
    if (!d->name || !d->regex) {
        free(d->name);
        free(d->regex);
        fail(x, LF_ENOMEM, def, at, "out of memory");
        return NULL;
    }
    /* Errors in it are reported at its place in the enclosing text. */
    d->file = def ? def->file : NULL;
    d->line = def ? def->line : 0;
    d->column =
        (unsigned)((def ? def->column : 1) + (size_t)(regex - (def ? def->regex : x->expr)));
    x->ninline++;
    return d;
}

static const struct grok_def *find_def(const struct expander *x, const char *name, size_t len)
{
    for (size_t k = x->ninline; k-- > 0;)
        if (strncmp(x->inline_defs[k].name, name, len) == 0 && x->inline_defs[k].name[len] == '\0')
            return &x->inline_defs[k];
    return grok_lib_find(x->lib, name, len);
}

/* Whether the text of `def`, and of every pattern it references, could
 * stand as a called group: no field, no named group, no back reference or
 * call (a called group's captures do not outlive the call), no inline
 * definition. Errs on the side of "no". */
static bool shareable(const struct expander *x, const struct grok_def *def, int depth)
{
    if (depth > MAX_NESTING || !def->file)
        return false;
    const char *s = def->regex;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '\\') {
            char c = s[i + 1];
            if (c == 'k' || c == 'g' || (c >= '1' && c <= '9'))
                return false;
            if (c)
                i++;
        } else if (s[i] == '(' && s[i + 1] == '?') {
            char c = s[i + 2];
            if (c == '\'' || c == 'P' || c == '&' || c == 'R' || (c >= '0' && c <= '9') ||
                c == '+' || c == '-' || (c == '<' && s[i + 3] != '=' && s[i + 3] != '!'))
                return false;
        } else if (s[i] == '%' && s[i + 1] == '{') {
            size_t k = i + 2;
            while (is_word((unsigned char)s[k]))
                k++;
            if (s[k] != '}')
                return false; /* a field or an inline definition */
            const struct grok_def *ref = find_def(x, s + i + 2, k - i - 2);
            if (!ref || !shareable(x, ref, depth + 1))
                return false;
            i = k;
        }
    }
    return true;
}

/*
 * %{NAME} without a field as a call, (?&dN), of a group defined once at the
 * end of the pattern. PCRE2 copies a group once per reference and once per
 * bounded repeat, so an expression of several references to a large
 * pattern (%{IP} has IPV6's sixty-odd bounded repeats) can pass PCRE2's
 * 64 KiB cap on a compiled pattern; such an expression is compiled again
 * this way (grok_compile_expression). Since PCRE2 10.30 a call is not atomic:
 * it backtracks as the group written in place would. The called group takes
 * the options in force where it is defined, so an expression that only
 * compiles this way ignores (?i) and the like around such a reference.
 * Returns 0 when it wrote the call, 1 when the reference is to be written
 * in place, or an error.
 */
static int shared_call(struct expander *x, const struct grok_def *def, size_t at,
                       const struct grok_def *ref)
{
    if (!shareable(x, ref, 0))
        return 1;
    size_t k = 0;
    while (k < x->nshared && x->shared[k] != ref)
        k++;
    if (k == x->nshared) {
        if (k == MAX_SHARED)
            return 1;
        x->shared[x->nshared++] = ref;
    }
    char call[MAX_GROUP_NAME + 8];
    snprintf(call, sizeof(call), "(?&d%zu)", k);
    x->group_simple = false;
    return emit_str(x, def, at, call);
}

/* Writes the groups that shared_call() calls: (?(DEFINE)(?<d0>...)...). */
static int define_shared(struct expander *x)
{
    if (!x->nshared)
        return 0;
    int rc = emit_str(x, NULL, strlen(x->expr), "(?(DEFINE)");
    /* A shared pattern may call others: the list grows as it is written. */
    for (size_t k = 0; !rc && k < x->nshared; k++) {
        const struct grok_def *d = x->shared[k];
        char open[MAX_GROUP_NAME + 8];
        snprintf(open, sizeof(open), "(?<d%zu>", k);
        rc = emit_str(x, d, 0, open);
        x->stack[x->depth++] = d;
        if (!rc)
            rc = expand_text(x, d, d->regex, strlen(d->regex));
        x->depth--;
        if (!rc)
            rc = emit_str(x, d, strlen(d->regex), ")");
    }
    return rc ? rc : emit_str(x, NULL, strlen(x->expr), ")");
}

/* %{NAME}, %{NAME:field}, %{NAME:field:type}, and with "=regex" an inline
 * definition, at s[i]; sets *used. As in Logstash, anything after the field
 * part up to the closing brace is ignored. */
static int expand_reference(struct expander *x, const struct grok_def *def, const char *s, size_t n,
                            size_t i, size_t *used)
{
    size_t k = i + 2;
    const char *name = s + k;
    while (k < n && is_word((unsigned char)s[k]))
        k++;
    size_t name_len = (size_t)(s + k - name);
    const char *field = NULL;
    size_t field_len = 0;
    if (k < n && s[k] == ':') {
        field = s + ++k;
        while (k < n && is_field_char((unsigned char)s[k]))
            k++;
        field_len = (size_t)(s + k - field);
    }
    const struct grok_def *ref = NULL;
    size_t close;
    if (k < n && s[k] == '=') {
        close = definition_end(s, n, k + 1);
        if (close < n && name_len &&
            !(ref = define_inline(x, def, i, name, name_len, s + k + 1, close - k - 1)))
            return LF_ESYNTAX;
    } else {
        close = k;
        while (close < n && s[close] != '}')
            close++;
    }
    if (close >= n)
        return fail(x, LF_ESYNTAX, def, i, "unterminated %%{ (missing '}')");
    *used = close + 1 - i;
    if (name_len == 0)
        return fail(x, LF_ESYNTAX, def, i,
                    "malformed reference %%{%.*s} (expected %%{NAME}, %%{NAME:field} or "
                    "%%{NAME:field:type})",
                    (int)(close - i - 2), s + i + 2);

    /* The type is whatever follows the last ':' of the field part. */
    const char *type = NULL;
    size_t type_len = 0;
    const char *colon = field ? memchr(field, ':', field_len) : NULL;
    if (colon) {
        type = colon + 1;
        type_len = (size_t)(field + field_len - type);
        field_len = (size_t)(colon - field);
    }
    uint8_t t = GROK_STRING;
    if (type) {
        if (type_len == 3 && memcmp(type, "int", 3) == 0)
            t = GROK_INT;
        else if (type_len == 5 && memcmp(type, "float", 5) == 0)
            t = GROK_FLOAT;
        else if (!(type_len == 6 && memcmp(type, "string", 6) == 0))
            return fail(x, LF_ESYNTAX, def, i,
                        "unknown type '%.*s' for field '%.*s' (expected int, float or string)",
                        (int)type_len, type, (int)field_len, field);
    }

    if (!ref)
        ref = find_def(x, name, name_len);
    if (!ref)
        return fail(x, LF_ENOENT, def, i, "unknown pattern %.*s", (int)name_len, name);
    for (size_t d = 0; d < x->depth; d++) {
        if (x->stack[d] != ref)
            continue;
        char cycle[1024];
        size_t len = 0;
        for (size_t j = d; j < x->depth && len < sizeof(cycle); j++)
            len += (size_t)snprintf(cycle + len, sizeof(cycle) - len, "%s -> ", x->stack[j]->name);
        if (len < sizeof(cycle))
            snprintf(cycle + len, sizeof(cycle) - len, "%s", ref->name);
        return fail(x, LF_ECYCLE, def, i, "pattern reference cycle: %s", cycle);
    }
    if (x->depth == MAX_NESTING)
        return fail(x, LF_ELIMIT, def, i, "patterns nested more than %d deep", MAX_NESTING);

    if (!(field && field_len) && x->share) {
        int shared = shared_call(x, def, i, ref);
        if (shared <= 0)
            return shared;
    }
    int rc = field && field_len ? open_capture(x, def, i, field, field_len, t, NULL)
                                : emit_str(x, def, i, "(?:");
    if (rc)
        return rc;
    size_t body = x->out.len;
    x->stack[x->depth++] = ref;
    rc = expand_text(x, ref, ref->regex, strlen(ref->regex));
    x->depth--;
    if (rc || (rc = emit_str(x, def, close, ")")))
        return rc;
    /* %{NAME}+ is a group repeated too. */
    x->group_simple = true;
    x->group_body = body;
    x->group_close = x->out.len - 1;
    return 0;
}

/* A group name in the user's regex: (?<name>, (?'name' or (?P<name>. */
static int expand_named_group(struct expander *x, const struct grok_def *def, const char *s,
                              size_t n, size_t i, size_t name_at, char closer, size_t *used)
{
    size_t e = name_at;
    while (e < n && s[e] != closer && s[e] != ')')
        e++;
    if (e >= n || s[e] != closer)
        return fail(x, LF_ESYNTAX, def, i, "unterminated group name");
    uint32_t id;
    int rc = open_capture(x, def, i, s + name_at, e - name_at, GROK_STRING, &id);
    if (rc)
        return rc;
    if (remember_raw(x, s + name_at, e - name_at, id))
        return fail(x, LF_ENOMEM, def, i, "out of memory");
    *used = e + 1 - i;
    return 0;
}

/* '(' at s[i]: groups that need renaming or translating; the rest is copied. */
static int expand_group(struct expander *x, const struct grok_def *def, const char *s, size_t n,
                        size_t i, size_t *used)
{
    *used = 1;
    if (i + 1 >= n || s[i + 1] != '?')
        return emit(x, def, i, "(", 1);
    size_t j = i + 2;
    char c = j < n ? s[j] : '\0';

    if (c == '#') { /* comment: copied through its ')' */
        size_t e = j;
        while (e < n && s[e] != ')')
            e++;
        *used = (e < n ? e + 1 : n) - i;
        return emit(x, def, i, s + i, *used);
    }
    if (c == '<' && j + 1 < n && s[j + 1] != '=' && s[j + 1] != '!')
        return expand_named_group(x, def, s, n, i, j + 1, '>', used);
    if (c == '\'')
        return expand_named_group(x, def, s, n, i, j + 1, '\'', used);
    if (c == 'P' && j + 1 < n && s[j + 1] == '<')
        return expand_named_group(x, def, s, n, i, j + 2, '>', used);
    if (c == '&' || (c == 'P' && j + 1 < n && (s[j + 1] == '=' || s[j + 1] == '>'))) {
        size_t at = c == '&' ? j + 1 : j + 2, e = at;
        while (e < n && s[e] != ')')
            e++;
        if (e >= n)
            return fail(x, LF_ESYNTAX, def, i, "unterminated group reference");
        *used = e + 1 - i;
        char pre[8];
        snprintf(pre, sizeof(pre), "(?%.*s", (int)(at - j), s + j);
        return emit_group_ref(x, def, i, pre, s + at, e - at, ")");
    }

    /* Option settings (?imx-imx) and (?imx-imx: ... ): Ruby's m is PCRE2's s. */
    size_t e = j;
    while (e < n && ((s[e] >= 'a' && s[e] <= 'z') || s[e] == '-'))
        e++;
    if (e > j && e < n && (s[e] == ')' || s[e] == ':')) {
        if (emit(x, def, i, "(?", 2))
            return LF_ENOMEM;
        for (size_t k = j; k < e; k++) {
            char o = s[k] == 'm' ? 's' : s[k];
            int rc = emit(x, def, k, &o, 1);
            if (rc)
                return rc;
        }
        *used = e - i;
        return 0;
    }
    *used = 2;
    return emit(x, def, i, "(?", 2);
}

/* \uHHHH or \u{H...}: the character itself, as raw UTF-8 bytes. An escape
 * such as \xc3 would be a code point of its own in UTF mode; raw bytes are
 * the character in UTF mode and its byte sequence in byte mode, grouped so a
 * quantifier after it applies to all of it. */
static int expand_unicode_escape(struct expander *x, const struct grok_def *def, const char *s,
                                 size_t n, size_t i, int in_class, size_t *used)
{
    size_t at = i + 2, e = at;
    int braced = at < n && s[at] == '{';
    if (braced)
        at++, e++;
    while (e < n && is_hex((unsigned char)s[e]) && (braced || e - at < 4))
        e++;
    if (braced ? (e == at || e - at > 6 || e >= n || s[e] != '}') : e - at != 4)
        return fail(x, LF_ESYNTAX, def, i, "\\u must be followed by four hex digits or {hex}");
    *used = e + (size_t)braced - i;
    unsigned long cp = strtoul(s + at, NULL, 16);
    char u[4];
    size_t len;
    if (cp < 0x80)
        u[0] = (char)cp, len = 1;
    else if (cp < 0x800)
        u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), len = 2;
    else if (cp < 0x10000 && (cp < 0xD800 || cp > 0xDFFF))
        u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
        u[2] = (char)(0x80 | (cp & 0x3F)), len = 3;
    else if (cp >= 0x10000 && cp <= 0x10FFFF)
        u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), len = 4;
    else
        return fail(x, LF_ESYNTAX, def, i, "\\u%.*s is not a Unicode character", (int)(e - at),
                    s + at);
    if (len == 1) {
        char esc[8];
        snprintf(esc, sizeof(esc), "\\x%02x", (unsigned)cp);
        return emit_str(x, def, i, esc);
    }
    int rc = 0;
    if (!in_class)
        rc = emit_str(x, def, i, "(?:");
    if (!rc)
        rc = emit(x, def, i, u, len);
    if (!rc && !in_class)
        rc = emit_str(x, def, i, ")");
    return rc;
}

/* A backslash escape at s[i]; in_class tells whether inside [...]. */
static int expand_escape(struct expander *x, const struct grok_def *def, const char *s, size_t n,
                         size_t i, int in_class, size_t *used)
{
    *used = 2;
    if (i + 1 >= n) {
        *used = 1;
        return emit(x, def, i, "\\", 1);
    }
    char c = s[i + 1];
    switch (c) {
    case 'Q': { /* quoted run: copied through \E */
        size_t e = i + 2;
        while (e + 1 < n && !(s[e] == '\\' && s[e + 1] == 'E'))
            e++;
        *used = (e + 1 < n ? e + 2 : n) - i;
        return emit(x, def, i, s + i, *used);
    }
    case 'h':
        return emit_str(x, def, i, in_class ? "0-9A-Fa-f" : "[0-9A-Fa-f]");
    /* \w \d \s and their negations are copied: neither pattern is compiled
     * with PCRE2_UCP, so they are ASCII, as in Ruby. \b knows Unicode in
     * Ruby; see WORD_BOUNDARY. */
    case 'b':
    case 'B':
        if (in_class || !x->unicode)
            break;
        return emit_str(x, def, i, c == 'b' ? WORD_BOUNDARY : NOT_WORD_BOUNDARY);
    case 'H':
        if (in_class)
            return fail(x, LF_ESYNTAX, def, i,
                        "\\H (not a hex digit) inside a character class has no PCRE2 equivalent");
        return emit_str(x, def, i, "[^0-9A-Fa-f]");
    case 'u':
        return expand_unicode_escape(x, def, s, n, i, in_class, used);
    case 'k':
    case 'g':
        if (!in_class && i + 2 < n && (s[i + 2] == '<' || s[i + 2] == '\'')) {
            char closer = s[i + 2] == '<' ? '>' : '\'';
            size_t at = i + 3, e = at;
            while (e < n && s[e] != closer)
                e++;
            if (e >= n)
                return fail(x, LF_ESYNTAX, def, i, "unterminated \\%c<name>", c);
            *used = e + 1 - i;
            /* Numbered references (\k<1>, \g<-1>) are left to PCRE2. */
            if (at < e && (s[at] == '-' || s[at] == '+' || (s[at] >= '0' && s[at] <= '9')))
                return emit(x, def, i, s + i, *used);
            char pre[4] = {'\\', c, '<', '\0'};
            return emit_group_ref(x, def, i, pre, s + at, e - at, ">");
        }
        break;
    }
    return emit(x, def, i, s + i, 2);
}

/* POSIX classes in Ruby know Unicode; without PCRE2_UCP they are ASCII. In
 * the pattern for non-ASCII lines they are written as the properties that
 * PCRE2_UCP gives them (pcre2pattern, "Posix character classes"); graph,
 * print and punct, which UCP treats specially, as the categories they stand
 * for. The rest (ascii, xdigit, and what has no property form) is copied. */
static int emit_posix_class(struct expander *x, const struct grok_def *def, size_t at,
                            const char *cls, size_t len)
{
    static const struct {
        const char *name, *yes, *no;
    } map[] = {
        {"alnum", "\\p{Xan}", "\\P{Xan}"},
        {"alpha", "\\p{L}", "\\P{L}"},
        {"blank", "\\h", "\\H"},
        {"cntrl", "\\p{Cc}", "\\P{Cc}"},
        {"digit", "\\p{Nd}", "\\P{Nd}"},
        {"lower", "\\p{Ll}", "\\P{Ll}"},
        {"space", "\\p{Xps}", "\\P{Xps}"},
        {"upper", "\\p{Lu}", "\\P{Lu}"},
        {"word", "\\p{Xwd}", "\\P{Xwd}"},
        /* graph: every category but separators (Z) and others (C). */
        {"graph", "\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}", "\\p{Z}\\p{C}"},
        {"print", "\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}\\p{Zs}", "\\p{Zl}\\p{Zp}\\p{C}"},
        {"punct", "\\p{P}$+<=>^`|~", NULL},
    };
    if (x->unicode && len > 4) {
        bool neg = cls[2] == '^';
        const char *name = cls + 2 + neg;
        size_t name_len = len - 4 - neg;
        for (size_t m = 0; m < sizeof(map) / sizeof(map[0]); m++) {
            const char *out = neg ? map[m].no : map[m].yes;
            if (out && strlen(map[m].name) == name_len && memcmp(map[m].name, name, name_len) == 0)
                return emit_str(x, def, at, out);
        }
    }
    return emit(x, def, at, cls, len);
}

/* Inside [...]: handles POSIX classes and Oniguruma's nested classes. */
static int expand_class(struct expander *x, const struct grok_def *def, const char *s, size_t n,
                        size_t i, size_t *used)
{
    size_t k = i;
    int depth = 0;
    int rc;
    while (k < n) {
        char c = s[k];
        size_t step = 1;
        if (c == '\\') {
            if ((rc = expand_escape(x, def, s, n, k, 1, &step)))
                return rc;
        } else if (c == '[' && (k == i || (k + 1 < n && s[k + 1] == ':'))) {
            /* The opening bracket, or a POSIX class such as [:alpha:]. */
            size_t e = k + 1;
            if (k != i) {
                e = k + 2;
                while (e + 1 < n && !(s[e] == ':' && s[e + 1] == ']'))
                    e++;
                step = (e + 1 < n ? e + 2 : n) - k;
                if ((rc = emit_posix_class(x, def, k, s + k, step)))
                    return rc;
            } else {
                /* "[", "[^", then a ']' right here is a literal. */
                if (e < n && s[e] == '^')
                    e++;
                if (e < n && s[e] == ']')
                    e++;
                step = e - k;
                depth = 1;
                if ((rc = emit(x, def, k, s + k, step)))
                    return rc;
            }
        } else if (c == '[') {
            if (k + 1 < n && s[k + 1] == '^')
                return fail(x, LF_ESYNTAX, def, k,
                            "negated nested character class (Oniguruma) has no PCRE2 equivalent");
            depth++; /* a nested class is a union: its members join the outer class */
        } else if (c == '&' && k + 1 < n && s[k + 1] == '&') {
            return fail(x, LF_ESYNTAX, def, k,
                        "character class intersection '&&' (Oniguruma) has no PCRE2 equivalent");
        } else if (c == ']') {
            if (--depth == 0) {
                if ((rc = emit(x, def, k, "]", 1)))
                    return rc;
                *used = k + 1 - i;
                return 0;
            }
        } else if ((rc = emit(x, def, k, s + k, 1))) {
            return rc;
        }
        k += step;
    }
    *used = k - i; /* unterminated: PCRE2 reports it with its position */
    return 0;
}

/* The length of one single-character item at p[0..n): a class, an escape
 * that stands for one character, '.', or a literal; 0 if it is none. */
static size_t single_char_item(const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (p[0] == '[') {
        size_t k = 1;
        if (k < n && p[k] == '^')
            k++;
        if (k < n && p[k] == ']')
            k++;
        while (k < n && p[k] != ']') {
            if (p[k] == '\\')
                k++;
            else if (p[k] == '[' && k + 1 < n && p[k + 1] == ':') {
                k += 2; /* a POSIX class: on to its ":]" */
                while (k + 1 < n && !(p[k] == ':' && p[k + 1] == ']'))
                    k++;
                k++; /* and past it, below */
            }
            k++;
        }
        return k < n ? k + 1 : 0;
    }
    if (p[0] == '\\') {
        if (n < 2)
            return 0;
        if (p[1] && strchr("dDwWsShHvVN", p[1]))
            return 2;
        if ((p[1] == 'p' || p[1] == 'P' || p[1] == 'x') && n > 2 && p[2] == '{') {
            const char *e = memchr(p, '}', n);
            return e ? (size_t)(e - p) + 1 : 0;
        }
        if (p[1] == 'x')
            return n >= 4 && is_hex((unsigned char)p[2]) && is_hex((unsigned char)p[3]) ? 4 : 0;
        return !is_word((unsigned char)p[1]) && (unsigned char)p[1] < 0x80 ? 2 : 0;
    }
    if ((unsigned char)p[0] >= 0x80 || strchr("()|?*+{}^$", p[0]))
        return 0;
    return 1;
}

/* If body[0..n) is "X+" or "X*" with X one character (possibly inside
 * "(?:...)"), returns that quantifier, else 0. */
static char simple_repeat(const char *body, size_t n)
{
    while (n > 4 && memcmp(body, "(?:", 3) == 0 && body[n - 1] == ')')
        body += 3, n -= 4;
    size_t item = single_char_item(body, n);
    if (item && item + 1 == n && (body[item] == '+' || body[item] == '*'))
        return body[item];
    return 0;
}

/*
 * A greedy quantifier at s[i] after the group just closed. A group holding
 * only a repeated character, repeated again, such as URIPROTO's
 * "([A-Za-z0-9+\-.]+)+", makes the backtracking matcher try every way of
 * splitting a run of such characters between the iterations: 2^n paths on a
 * token of n characters that is not followed by what the pattern wants. The
 * outer quantifier adds nothing to what matches ((X+)+ and X+ take the same
 * text, in the same order of preference, and the group keeps the same last
 * iteration), so it is dropped ("*" becomes "?" where the group needs one
 * character). Returns 1 and sets *used if it did so.
 */
static int simplify_nested_repeat(struct expander *x, const struct grok_def *def, const char *s,
                                  size_t n, size_t i, size_t *used, int *rc)
{
    if (!x->group_simple || x->out.len != x->group_close + 1 || (s[i] != '+' && s[i] != '*'))
        return 0;
    if (i + 1 < n && (s[i + 1] == '?' || s[i + 1] == '+'))
        return 0; /* lazy or possessive: left as written */
    char inner = simple_repeat(x->out.data + x->group_body, x->group_close - x->group_body);
    if (!inner)
        return 0;
    x->group_simple = false;
    *used = 1;
    *rc = s[i] == '*' && inner == '+' ? emit(x, def, i, "?", 1) : 0;
    return 1;
}

/* Copies a UTF-8 character at s[i], grouped when a quantifier follows, so
 * that in the byte-mode pattern the quantifier applies to all its bytes. */
static int emit_multibyte(struct expander *x, const struct grok_def *def, const char *s, size_t n,
                          size_t i, size_t *used)
{
    unsigned char c = (unsigned char)s[i];
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    for (size_t k = 1; k < len; k++)
        if (i + k >= n || ((unsigned char)s[i + k] & 0xC0) != 0x80)
            len = 1;
    *used = len;
    if (len == 1 || i + len >= n || !strchr("?*+{", s[i + len]))
        return emit(x, def, i, s + i, len);
    int rc = emit_str(x, def, i, "(?:");
    if (!rc)
        rc = emit(x, def, i, s + i, len);
    return rc ? rc : emit_str(x, def, i, ")");
}

/* Whether the group opener just written at out[at..] is one whose group is
 * only a group: '(', '(?:' or our '(?<gN>'. */
static bool plain_opener(const struct expander *x, size_t at)
{
    const char *o = x->out.data + at;
    size_t len = x->out.len - at;
    return (len == 1 && o[0] == '(') || (len == 3 && memcmp(o, "(?:", 3) == 0) ||
           (len > 4 && memcmp(o, "(?<g", 4) == 0 && o[len - 1] == '>');
}

static int expand_text(struct expander *x, const struct grok_def *def, const char *s, size_t n)
{
    /* Parentheses are checked per pattern so that an unbalanced pattern file
     * line is named, rather than the end of the whole expansion. */
    size_t open_at[MAX_OPEN_TRACKED];
    size_t body_at[MAX_OPEN_TRACKED]; /* where the group's body starts in out */
    bool plain[MAX_OPEN_TRACKED];
    size_t open = 0;
    size_t i = 0;
    int rc = 0;
    while (i < n && !rc) {
        size_t used = 1;
        if (simplify_nested_repeat(x, def, s, n, i, &used, &rc)) {
            i += used;
            continue;
        }
        size_t run = i;
        /* Copy runs of ordinary characters in one go. */
        while (run < n && !strchr("\\[()%{?+*", s[run]) && (unsigned char)s[run] < 0x80)
            run++;
        if (run > i) {
            rc = emit(x, def, i, s + i, run - i);
            i = run;
            continue;
        }
        switch (s[i]) {
        case '\\':
            rc = expand_escape(x, def, s, n, i, 0, &used);
            break;
        case '[':
            rc = expand_class(x, def, s, n, i, &used);
            break;
        case '(': {
            size_t at = x->out.len;
            rc = expand_group(x, def, s, n, i, &used);
            if (!rc && s[i + used - 1] != ')') { /* comments and calls close themselves */
                if (open < MAX_OPEN_TRACKED) {
                    open_at[open] = i;
                    body_at[open] = x->out.len;
                    plain[open] = plain_opener(x, at);
                }
                open++;
            }
            break;
        }
        case ')':
            if (open == 0)
                return fail(x, LF_ESYNTAX, def, i, "unmatched closing parenthesis");
            open--;
            rc = emit(x, def, i, ")", 1);
            x->group_simple = open < MAX_OPEN_TRACKED && plain[open];
            x->group_body = open < MAX_OPEN_TRACKED ? body_at[open] : 0;
            x->group_close = x->out.len - 1;
            break;
        case '%':
            if (i + 1 < n && s[i + 1] == '{')
                rc = expand_reference(x, def, s, n, i, &used);
            else
                rc = emit(x, def, i, "%", 1);
            break;
        case '?':
            /* Ruby reads "x?*" as "x*"; PCRE2 rejects it. */
            if (i + 1 < n && s[i + 1] == '*')
                used = 2, rc = emit(x, def, i, "*", 1);
            else
                rc = emit(x, def, i, "?", 1);
            break;
        case '{':
            if (i + 2 < n && s[i + 1] == ',' && s[i + 2] >= '0' && s[i + 2] <= '9') {
                size_t e = i + 2;
                while (e < n && s[e] >= '0' && s[e] <= '9')
                    e++;
                if (e < n && s[e] == '}') { /* {,n} means {0,n} in Oniguruma */
                    rc = emit(x, def, i, "{0", 2);
                    break;
                }
            }
            rc = emit(x, def, i, "{", 1);
            break;
        default:
            if ((unsigned char)s[i] >= 0x80)
                rc = emit_multibyte(x, def, s, n, i, &used);
            else
                rc = emit(x, def, i, s + i, 1);
        }
        i += used;
    }
    if (!rc && open)
        rc = fail(x, LF_ESYNTAX, def, open <= MAX_OPEN_TRACKED ? open_at[open - 1] : 0,
                  "missing closing parenthesis for this group");
    return rc;
}

static int compare_captures(const void *a, const void *b)
{
    const struct capture *ca = a, *cb = b;
    int c = lf_path_compare(ca->path, strlen(ca->path), cb->path, strlen(cb->path));
    if (c)
        return c;
    return ca->id < cb->id ? -1 : ca->id > cb->id;
}

/* Groups the captures by field; every path a field of its own, sorted.
 * Captures without a field (an invalid name) go to exp->unset instead. */
static int build_fields(struct expander *x, struct grok_expansion *exp)
{
    size_t kept = 0;
    for (size_t i = 0; i < x->ncaps; i++) {
        if (x->caps[i].path) {
            x->caps[kept++] = x->caps[i];
            continue;
        }
        if (!exp->unset && !(exp->unset = calloc(x->ncaps, sizeof(*exp->unset))))
            return fail(x, LF_ENOMEM, NULL, 0, "out of memory");
        exp->unset[exp->nunset++] = x->caps[i].id;
    }
    x->ncaps = kept;
    if (x->ncaps)
        qsort(x->caps, x->ncaps, sizeof(*x->caps), compare_captures);
    exp->fields = calloc(x->ncaps ? x->ncaps : 1, sizeof(*exp->fields));
    if (!exp->fields)
        return fail(x, LF_ENOMEM, NULL, 0, "out of memory");
    for (size_t i = 0; i < x->ncaps;) {
        size_t end = i + 1;
        while (end < x->ncaps && strcmp(x->caps[end].path, x->caps[i].path) == 0)
            end++;
        struct grok_field *f = &exp->fields[exp->nfields++];
        exp->ncaps += end - i;
        f->caps = calloc(end - i, sizeof(*f->caps));
        if (!f->caps)
            return fail(x, LF_ENOMEM, NULL, 0, "out of memory");
        f->path = x->caps[i].path;
        x->caps[i].path = NULL; /* moved */
        f->path_len = (uint32_t)strlen(f->path);
        for (size_t k = i; k < end; k++) {
            /* Group numbers are filled in once the pattern is compiled. */
            f->caps[f->ncaps++] = (struct grok_capture){x->caps[k].id, x->caps[k].type};
        }
        i = end;
    }
    for (size_t i = 0; i + 1 < exp->nfields; i++) {
        const struct grok_field *a = &exp->fields[i], *b = &exp->fields[i + 1];
        if (b->path_len > a->path_len && b->path[a->path_len] == '.' &&
            memcmp(a->path, b->path, a->path_len) == 0)
            return fail(x, LF_ECONFLICT, NULL, 0,
                        "field '%s' is captured both as a value and as an object ('%s')", a->path,
                        b->path);
    }
    return 0;
}

/* Maps a PCRE2 error offset in the expanded pattern back to its source. */
static void report_compile_error(struct expander *x, int code, size_t offset)
{
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(code, msg, sizeof(msg));
    if (code == PCRE2_ERROR_PATTERN_TOO_LARGE) {
        fail(x, LF_ELIMIT, NULL, 0,
             "%s: the compiled pattern is over PCRE2's 64 KiB limit (expanded pattern %zu "
             "bytes); split the expression into several expressions or reference fewer "
             "patterns",
             (const char *)msg, x->out.len);
        return;
    }
    size_t lo = 0, hi = x->nmap;
    while (hi - lo > 1) { /* last entry with out <= offset */
        size_t mid = (lo + hi) / 2;
        if (x->map[mid].out <= offset)
            lo = mid;
        else
            hi = mid;
    }
    const struct map_entry *e = x->nmap ? &x->map[lo] : NULL;
    const struct grok_def *def = e ? e->def : NULL;
    size_t src = e ? e->src + (offset - e->out) : 0;
    size_t src_len = def ? strlen(def->regex) : strlen(x->expr);
    if (src > src_len)
        src = src_len;
    fail(x, LF_ESYNTAX, def, src, "%s", (const char *)msg);
}

void grok_expansion_free(struct grok_expansion *exp)
{
    if (!exp)
        return;
    for (size_t i = 0; i < exp->nfields; i++) {
        free(exp->fields[i].path);
        free(exp->fields[i].caps);
    }
    free(exp->fields);
    free(exp->unset);
    free(exp->pattern);
    free(exp->pattern_unicode);
    memset(exp, 0, sizeof(*exp));
}

static void expander_free(struct expander *x)
{
    for (size_t i = 0; i < x->ncaps; i++)
        free(x->caps[i].path);
    for (size_t i = 0; i < x->nraw; i++)
        free(x->raw[i].name);
    for (size_t i = 0; i < x->ninline; i++) {
        free(x->inline_defs[i].name);
        free(x->inline_defs[i].regex);
    }
    free(x->caps);
    free(x->raw);
    free(x->map);
    lf_buf_free(&x->out);
}

void grok_code_free(struct grok_code *code)
{
    pcre2_code_free(code->utf);
    pcre2_code_free(code->bytes);
    memset(code, 0, sizeof(*code));
}

/* The group number PCRE2 gave our group gN, or 0. */
static uint32_t group_number(const pcre2_code *re, uint32_t id)
{
    char name[MAX_GROUP_NAME];
    snprintf(name, sizeof(name), "g%u", (unsigned)id);
    int num = pcre2_substring_number_from_name(re, (PCRE2_SPTR)name);
    return num > 0 ? (uint32_t)num : 0;
}

/*
 * Compiles the two patterns, neither with PCRE2_UCP, so that \w \d \s are
 * PCRE2's own one-byte ASCII items (spelled as classes under UCP they made
 * a chain of references overflow PCRE2's 64 KiB compiled-pattern cap):
 *   bytes  exp->pattern, no UTF: for ASCII lines, where Ruby's Unicode \b
 *          and POSIX classes mean what the ASCII ones do, and for lines that
 *          are not valid UTF-8, which UTF mode cannot read;
 *   utf    exp->pattern_unicode (or the same text), PCRE2_UTF: for other
 *          lines; \b and POSIX classes are written out with Unicode
 *          properties there.
 * Keeps whichever compile; if neither does, reports the byte-mode error.
 */
static int compile(struct expander *x, struct grok_expansion *exp, struct grok_code *code)
{
    uint32_t options = PCRE2_DOTALL | PCRE2_MULTILINE;
    if (exp->has_named_groups)
        options |= PCRE2_NO_AUTO_CAPTURE;
    int err_utf, err_bytes;
    PCRE2_SIZE off_utf, off_bytes;
    const char *utext = exp->pattern_unicode ? exp->pattern_unicode : exp->pattern;
    code->utf = pcre2_compile((PCRE2_SPTR)utext, strlen(utext), options | PCRE2_UTF, &err_utf,
                              &off_utf, NULL);
    code->bytes = pcre2_compile((PCRE2_SPTR)exp->pattern, exp->pattern_len, options, &err_bytes,
                                &off_bytes, NULL);
    if (!code->utf && !code->bytes) {
        report_compile_error(x, err_bytes, off_bytes);
        return err_bytes == PCRE2_ERROR_PATTERN_TOO_LARGE ? LF_ELIMIT : LF_ESYNTAX;
    }
    /* The rewrites add no capturing group: both number the groups alike. */
    const pcre2_code *re = code->bytes ? code->bytes : code->utf;
    for (size_t i = 0; i < exp->nfields; i++) {
        struct grok_field *f = &exp->fields[i];
        for (size_t k = 0; k < f->ncaps; k++) {
            uint32_t num = group_number(re, f->caps[k].group);
            if (!num) {
                grok_code_free(code);
                return fail(x, LF_ESYNTAX, NULL, 0, "internal error: group g%u vanished",
                            (unsigned)f->caps[k].group);
            }
            f->caps[k].group = num;
        }
    }
    for (size_t i = 0; i < exp->nunset; i++) {
        if (!(exp->unset[i] = group_number(re, exp->unset[i]))) {
            grok_code_free(code);
            return fail(x, LF_ESYNTAX, NULL, 0, "internal error: a group vanished");
        }
    }
    code->utf_jit = code->utf && pcre2_jit_compile(code->utf, PCRE2_JIT_COMPLETE) == 0;
    code->bytes_jit = code->bytes && pcre2_jit_compile(code->bytes, PCRE2_JIT_COMPLETE) == 0;
    return 0;
}

/* Expands the expression again into the text for non-ASCII lines. Sets
 * exp->pattern_unicode only if it differs from exp->pattern. */
static int expand_unicode(const struct expander *first, struct grok_expansion *exp)
{
    struct expander x = {.lib = first->lib,
                         .expr = first->expr,
                         .expr_index = first->expr_index,
                         .errbuf = first->errbuf,
                         .errlen = first->errlen,
                         .unicode = true,
                         .share = first->share};
    lf_buf_init(&x.out, first->out.max);
    int rc = expand_text(&x, NULL, x.expr, strlen(x.expr));
    if (!rc)
        rc = define_shared(&x);
    if (!rc && (x.out.len != exp->pattern_len || memcmp(x.out.data, exp->pattern, x.out.len))) {
        exp->pattern_unicode = x.out.data;
        x.out.data = NULL;
    }
    expander_free(&x);
    return rc;
}

/* Sets *too_large when it failed on PCRE2's cap on the compiled size. */
static int expand_and_compile(const struct lf_grok_lib *lib, const char *expr, size_t index,
                              const struct lf_grok_options *opt, bool share,
                              struct grok_expansion *exp, struct grok_code *code, char *errbuf,
                              size_t errlen, bool *too_large)
{
    struct expander x = {.lib = lib,
                         .expr = expr,
                         .expr_index = index,
                         .errbuf = errbuf,
                         .errlen = errlen,
                         .share = share};
    lf_buf_init(&x.out, opt->max_pattern);
    memset(exp, 0, sizeof(*exp));
    memset(code, 0, sizeof(*code));

    size_t len = strlen(expr);
    int rc = expand_text(&x, NULL, expr, len);
    if (!rc && x.out.len == 0)
        rc = fail(&x, LF_ESYNTAX, NULL, 0, "empty expression");
    if (!rc)
        rc = define_shared(&x);
    /* The end of the expression, for errors such as a missing ')'. */
    if (!rc && !grow_array((void **)&x.map, &x.map_cap, x.nmap, sizeof(*x.map)))
        x.map[x.nmap++] = (struct map_entry){x.out.len, NULL, len};
    if (!rc) {
        exp->has_named_groups = x.ncaps > 0;
        rc = build_fields(&x, exp);
    }
    if (!rc) {
        exp->pattern = x.out.data;
        exp->pattern_len = x.out.len;
        x.out.data = NULL;
        rc = expand_unicode(&x, exp);
    }
    if (!rc) {
        rc = compile(&x, exp, code);
        *too_large = rc == LF_ELIMIT;
    }
    expander_free(&x);
    if (rc)
        grok_expansion_free(exp);
    return rc;
}

int grok_compile_expression(const struct lf_grok_lib *lib, const char *expr, size_t index,
                            const struct lf_grok_options *opt, struct grok_expansion *exp,
                            struct grok_code *code, char *errbuf, size_t errlen)
{
    bool too_large = false;
    int rc =
        expand_and_compile(lib, expr, index, opt, false, exp, code, errbuf, errlen, &too_large);
    /* Over PCRE2's size cap: again with repeated references as calls. */
    if (too_large)
        rc = expand_and_compile(lib, expr, index, opt, true, exp, code, errbuf, errlen, &too_large);
    return rc;
}

int lf_grok_field(const lf_grok *g, size_t i, const char **path, size_t *path_len,
                  enum lf_grok_field_type *type)
{
    for (size_t e = 0; e < g->nexprs; e++) {
        const struct grok_expansion *exp = &g->exprs[e].exp;
        if (i >= exp->ncaps) {
            i -= exp->ncaps; /* ncaps counts the captures of all its fields */
            continue;
        }
        for (size_t k = 0; k < exp->nfields; k++) {
            const struct grok_field *f = &exp->fields[k];
            if (i >= f->ncaps) {
                i -= f->ncaps;
                continue;
            }
            *path = f->path;
            *path_len = f->path_len;
            *type = f->caps[i].type == GROK_INT     ? LF_GROK_FIELD_INT
                    : f->caps[i].type == GROK_FLOAT ? LF_GROK_FIELD_FLOAT
                                                    : LF_GROK_FIELD_STRING;
            return 0;
        }
    }
    return LF_ENOENT;
}
