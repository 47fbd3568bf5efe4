/*
 * config.c - YAML configuration files (see lf_config.h): libyaml's event
 * stream built into a small tree that remembers where each key and value
 * was, ${VAR} expansion, the table-driven binder that fills C structs and
 * collects every problem as "file:line:col: message", and the Markdown
 * reference printed from the same tables.
 *
 * The tree is built from events rather than with yaml_parser_load() so that
 * anchors, aliases, tags, depth and size are judged as they arrive, before
 * anything is allocated for them.
 */
#define _POSIX_C_SOURCE 200809L
#include "lf_config.h"

#include <yaml.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define CONF_PATH_MAX 512 /* the dotted key path shown in messages */
#define SHOWN_MAX 60      /* bytes of a bad value quoted in a message */

/* ---- problems ---------------------------------------------------------- */

void lf_conf_errors_init(struct lf_conf_errors *e)
{
    memset(e, 0, sizeof(*e));
}

void lf_conf_errors_free(struct lf_conf_errors *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].text);
    free(e->v);
    memset(e, 0, sizeof(*e));
}

static void add_error(struct lf_conf_errors *e, const char *origin, unsigned line, unsigned col,
                      const char *msg)
{
    char text[1600];
    e->count++;
    if (e->n >= LF_CONF_MAX_ERRORS)
        return;
    if (line)
        snprintf(text, sizeof(text), "%s:%u:%u: %s", origin, line, col, msg);
    else
        snprintf(text, sizeof(text), "%s: %s", origin, msg);
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        struct lf_conf_error *v = realloc(e->v, cap * sizeof(*v));
        if (!v) {
            e->oom = 1;
            return;
        }
        e->v = v;
        e->cap = cap;
    }
    char *t = strdup(text);
    if (!t) {
        e->oom = 1;
        return;
    }
    e->v[e->n] = (struct lf_conf_error){.line = line, .col = col, .seq = e->n, .text = t};
    e->n++;
}

void lf_conf_errorf(struct lf_conf_errors *e, const char *origin, unsigned line, unsigned col,
                    const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    add_error(e, origin, line, col, msg);
}

static int cmp_error(const void *a, const void *b)
{
    const struct lf_conf_error *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Appends s and a newline if both fit (with the terminator); 0 or -1. */
static int put_line(char *buf, size_t len, size_t *used, const char *s)
{
    size_t n = strlen(s);
    if (len - *used < n + 2)
        return -1;
    memcpy(buf + *used, s, n);
    buf[*used + n] = '\n';
    *used += n + 1;
    buf[*used] = '\0';
    return 0;
}

size_t lf_conf_errors_write(struct lf_conf_errors *e, char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0)
        return 0;
    buf[0] = '\0';
    if (e->n > 1)
        qsort(e->v, e->n, sizeof(e->v[0]), cmp_error);
    for (size_t i = 0; i < e->n; i++)
        if (put_line(buf, len, &used, e->v[i].text))
            return used;
    char more[128];
    if (e->count > e->n) {
        snprintf(more, sizeof(more), "(%u more problems not shown)", e->count - (unsigned)e->n);
        put_line(buf, len, &used, more);
    }
    if (e->oom)
        put_line(buf, len, &used, "(out of memory: some problems could not be described)");
    return used;
}

/*
 * Copies at most SHOWN_MAX bytes of s[0..n) for quoting in a message: control
 * bytes become '?', a cut value ends in "...", and a cut never splits a
 * UTF-8 sequence.
 */
static const char *shown(const char *s, size_t n, char out[SHOWN_MAX + 4])
{
    size_t m = n;
    if (m > SHOWN_MAX) {
        m = SHOWN_MAX;
        while (m > 0 && ((unsigned char)s[m] & 0xC0) == 0x80)
            m--;
    }
    for (size_t i = 0; i < m; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (m < n) {
        memcpy(out + m, "...", 4);
    } else {
        out[m] = '\0';
    }
    return out;
}

/* ---- scalar readers ---------------------------------------------------- */

/*
 * Reads "digits[.digits]" at *s: the integer part into *intpart, the digits of
 * the fraction (not converted, so that scale() stays exact) into *frac and
 * *nfrac. Returns 0, LF_ESYNTAX or LF_ELIMIT; on success *s is past the number.
 */
static int read_decimal(const char **s, uint64_t *intpart, const char **frac, size_t *nfrac)
{
    const char *p = *s;
    uint64_t v = 0;
    if (!isdigit((unsigned char)*p))
        return LF_ESYNTAX;
    for (; isdigit((unsigned char)*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
            return LF_ELIMIT;
        v = v * 10 + d;
    }
    *frac = NULL;
    *nfrac = 0;
    if (*p == '.') {
        p++;
        *frac = p;
        while (isdigit((unsigned char)*p))
            p++;
        *nfrac = (size_t)(p - *frac);
        if (*nfrac == 0)
            return LF_ESYNTAX;
    }
    *intpart = v;
    *s = p;
    return 0;
}

/* intpart.frac * unit, exactly; LF_EINVAL when not a whole number. */
static int scale(uint64_t intpart, const char *frac, size_t nfrac, uint64_t unit, uint64_t *out)
{
    uint64_t whole;
    if (__builtin_mul_overflow(intpart, unit, &whole))
        return LF_ELIMIT;
    /* Trailing zeros do not matter; more than 19 significant digits of a
     * fraction cannot give a whole number with units up to 2^30 anyway. */
    while (nfrac > 0 && frac[nfrac - 1] == '0')
        nfrac--;
    if (nfrac == 0) {
        *out = whole;
        return 0;
    }
    if (nfrac > 19) /* 10^19 is the largest power of ten in 64 bits */
        return LF_EINVAL;
    uint64_t f = 0, pow = 1;
    for (size_t i = 0; i < nfrac; i++) {
        f = f * 10 + (uint64_t)(frac[i] - '0');
        pow *= 10;
    }
    /* f * unit may overflow for long fractions: split unit = q*pow + r. */
    uint64_t q = unit / pow, r = unit % pow, part, rem;
    if (__builtin_mul_overflow(f, q, &part))
        return LF_ELIMIT;
    /* f < pow and r < pow <= 10^19: f * r may overflow 64 bits; use 128. */
    unsigned __int128 fr = (unsigned __int128)f * r;
    if (fr % pow)
        return LF_EINVAL;
    rem = (uint64_t)(fr / pow);
    if (__builtin_add_overflow(part, rem, &part) || __builtin_add_overflow(whole, part, out))
        return LF_ELIMIT;
    return 0;
}

int lf_conf_parse_duration(const char *s, uint64_t *ms)
{
    static const struct {
        const char *name;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return 0;
    }
    uint64_t total = 0;
    if (!*s)
        return LF_ESYNTAX;
    while (*s) {
        uint64_t ip, v;
        const char *frac;
        size_t nfrac;
        int rc = read_decimal(&s, &ip, &frac, &nfrac);
        if (rc)
            return rc;
        size_t u;
        for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
            size_t n = strlen(units[u].name);
            if (strncmp(s, units[u].name, n) == 0 && !isalpha((unsigned char)s[n]))
                break;
        }
        if (u == sizeof(units) / sizeof(units[0]))
            return LF_ESYNTAX;
        s += strlen(units[u].name);
        if ((rc = scale(ip, frac, nfrac, units[u].ms, &v)))
            return rc;
        if (__builtin_add_overflow(total, v, &total))
            return LF_ELIMIT;
    }
    *ms = total;
    return 0;
}

int lf_conf_parse_size(const char *s, uint64_t *bytes)
{
    static const struct {
        const char *name;
        uint64_t mult;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"KiB", 1ull << 10},
                 {"MiB", 1ull << 20},
                 {"GiB", 1ull << 30},
                 {"KB", 1000},
                 {"MB", 1000000},
                 {"GB", 1000000000}};
    uint64_t ip;
    const char *frac;
    size_t nfrac;
    int rc = read_decimal(&s, &ip, &frac, &nfrac);
    if (rc)
        return rc;
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
        if (strcmp(s, units[u].name) == 0)
            return scale(ip, frac, nfrac, units[u].mult, bytes);
    return LF_ESYNTAX;
}

int lf_conf_parse_uint(const char *s, uint64_t *v)
{
    const char *frac;
    size_t nfrac;
    int rc = read_decimal(&s, v, &frac, &nfrac);
    if (rc)
        return rc;
    return *s || frac ? LF_ESYNTAX : 0;
}

static int equal_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

int lf_conf_parse_bool(const char *s, bool *v)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (equal_nocase(s, yes[i])) {
            *v = true;
            return 0;
        }
        if (equal_nocase(s, no[i])) {
            *v = false;
            return 0;
        }
    }
    return LF_ESYNTAX;
}

void lf_conf_format_duration(uint64_t ms, char *out, size_t outlen)
{
    if (ms == 0)
        snprintf(out, outlen, "0s");
    else if (ms % 3600000 == 0)
        snprintf(out, outlen, "%lluh", (unsigned long long)(ms / 3600000));
    else if (ms % 60000 == 0)
        snprintf(out, outlen, "%llum", (unsigned long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(out, outlen, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(out, outlen, "%llums", (unsigned long long)ms);
}

void lf_conf_format_size(uint64_t bytes, char *out, size_t outlen)
{
    static const struct {
        const char *name;
        uint64_t mult;
    } units[] = {{"GiB", 1ull << 30}, {"MiB", 1ull << 20}, {"KiB", 1ull << 10},
                 {"GB", 1000000000},  {"MB", 1000000},     {"KB", 1000}};
    for (size_t u = 0; bytes && u < sizeof(units) / sizeof(units[0]); u++) {
        if (bytes % units[u].mult == 0) {
            snprintf(out, outlen, "%llu%s", (unsigned long long)(bytes / units[u].mult),
                     units[u].name);
            return;
        }
    }
    snprintf(out, outlen, "%lluB", (unsigned long long)bytes);
}

/* ---- parsing: events to a tree ----------------------------------------- */

struct frame {
    struct lf_conf_node *node;
    char *key; /* a map's key waiting for its value */
    unsigned key_line, key_col;
    bool have_key;
    bool key_bad; /* the waiting key was refused: drop its value */
};

struct parser {
    const char *origin;
    const char *text;
    size_t len;
    struct lf_conf_errors *errs;
    struct lf_conf_doc *doc;
    struct frame stack[LF_CONF_MAX_DEPTH];
    size_t depth;
    int ndocs;
};

static void perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void perr(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    add_error(p->errs, p->origin, line, col, msg);
}

static unsigned mark_line(const yaml_mark_t *m)
{
    return m->line >= UINT_MAX ? UINT_MAX : (unsigned)m->line + 1;
}

static unsigned mark_col(const yaml_mark_t *m)
{
    return m->column >= UINT_MAX ? UINT_MAX : (unsigned)m->column + 1;
}

static void node_free(struct lf_conf_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->key);
    free(n->text);
    free(n);
}

void lf_conf_doc_free(struct lf_conf_doc *doc)
{
    if (!doc)
        return;
    node_free(doc->root);
    free(doc->origin);
    free(doc);
}

const struct lf_conf_node *lf_conf_get(const struct lf_conf_node *map, const char *key)
{
    if (!map || map->type != LF_CONF_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->nkids; i++)
        if (strcmp(map->kids[i]->key, key) == 0)
            return map->kids[i];
    return NULL;
}

/* Returns a new node, or NULL after reporting (cap reached, no memory). */
static struct lf_conf_node *node_new(struct parser *p, enum lf_conf_node_type type,
                                     const yaml_mark_t *m)
{
    if (++p->doc->nnodes > LF_CONF_MAX_NODES) {
        perr(p, mark_line(m), mark_col(m), "more than %u keys, values and items: refused",
             LF_CONF_MAX_NODES);
        return NULL;
    }
    struct lf_conf_node *n = calloc(1, sizeof(*n));
    if (!n) {
        perr(p, mark_line(m), mark_col(m), "out of memory");
        return NULL;
    }
    n->type = type;
    n->line = mark_line(m);
    n->col = mark_col(m);
    return n;
}

static int kids_push(struct lf_conf_node *parent, struct lf_conf_node *kid)
{
    if (parent->nkids == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 4;
        struct lf_conf_node **k = realloc(parent->kids, cap * sizeof(*k));
        if (!k)
            return LF_ENOMEM;
        parent->kids = k;
        parent->cap = cap;
    }
    parent->kids[parent->nkids++] = kid;
    return 0;
}

/* Hangs a finished node under the open map or list, or makes it the root.
 * Takes the node in every case; returns 0 or -1 (fatal). */
static int attach(struct parser *p, struct lf_conf_node *n)
{
    if (p->depth == 0) {
        p->doc->root = n;
        return 0;
    }
    struct frame *top = &p->stack[p->depth - 1];
    if (top->node->type == LF_CONF_NODE_MAP) {
        top->have_key = false;
        if (top->key_bad) {
            top->key_bad = false;
            node_free(n);
            return 0;
        }
        n->key = top->key;
        n->key_line = top->key_line;
        n->key_col = top->key_col;
        top->key = NULL;
    }
    if (kids_push(top->node, n)) {
        perr(p, n->line, n->col, "out of memory");
        node_free(n);
        return -1;
    }
    return 0;
}

static bool is_null(const char *s, size_t n)
{
    return n == 0 || (n == 1 && s[0] == '~') ||
           (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) || !memcmp(s, "NULL", 4)));
}

/* Reports an anchor or a tag on a node; returns 1 if the node is bad. */
static int refuse_decorations(struct parser *p, const yaml_event_t *ev, const yaml_char_t *anchor,
                              const yaml_char_t *tag)
{
    unsigned line = mark_line(&ev->start_mark), col = mark_col(&ev->start_mark);
    char s[SHOWN_MAX + 4];
    if (anchor)
        perr(p, line, col, "YAML anchors (&%s) are not supported: write the value out",
             shown((const char *)anchor, strlen((const char *)anchor), s));
    if (!tag)
        return 0;
    const char *t = (const char *)tag, *prefix = "tag:yaml.org,2002:";
    if (strncmp(t, prefix, strlen(prefix)) == 0) {
        t += strlen(prefix);
        perr(p, line, col, "YAML tags (!!%s) are not supported: remove the tag",
             shown(t, strlen(t), s));
    } else {
        perr(p, line, col, "YAML tags (%s) are not supported: remove the tag",
             shown(t, strlen(t), s));
    }
    return 1;
}

/* Where a variable reference at byte i of a scalar is in the file. */
struct scalar_pos {
    unsigned line, col;
    bool exact; /* col + i is the reference's column (one-line scalar) */
};

static int is_name_start(int c)
{
    return isalpha(c) || c == '_';
}

#define EXPAND_MAX_NESTING 8

/* Reports a failed append to the expansion buffer; sets *fatal for no memory. */
static int expand_failed(struct parser *p, const struct scalar_pos *at, int rc, int *fatal)
{
    if (rc == LF_ELIMIT) {
        perr(p, at->line, at->col, "value longer than %u bytes after expanding variables",
             LF_CONF_MAX_SCALAR);
    } else {
        perr(p, at->line, at->col, "out of memory");
        *fatal = 1;
    }
    return -1;
}

/*
 * Appends s[0..n) to b with ${NAME} and ${NAME:-default} replaced; a default
 * is expanded in turn, so ${A:-${B:-x}} works as in the shell. `off` is where
 * s starts in the scalar, for columns. Returns 0, or -1 after reporting (an
 * unset variable, a malformed reference, the cap, no memory: *fatal).
 */
static int expand_into(struct parser *p, struct lf_buf *b, const char *s, size_t n,
                       const struct scalar_pos *at, size_t off, int nesting, int *fatal)
{
    char shown_buf[SHOWN_MAX + 4];
    size_t i = 0;
    int rc;
    while (i < n) {
        unsigned col = at->exact ? at->col + (unsigned)(off + i) : at->col;
        if (s[i] == '$' && i + 2 < n && s[i + 1] == '$' && s[i + 2] == '{') {
            if ((rc = lf_buf_append(b, "${", 2)))
                return expand_failed(p, at, rc, fatal);
            i += 3;
            continue;
        }
        if (s[i] != '$' || i + 1 >= n || s[i + 1] != '{') {
            if ((rc = lf_buf_putc(b, s[i++])))
                return expand_failed(p, at, rc, fatal);
            continue;
        }
        /* The '}' that closes this reference, past nested ones. */
        size_t close = n, level = 1;
        for (size_t j = i + 2; j < n; j++) {
            if (s[j] == '$' && j + 1 < n && s[j + 1] == '{') {
                level++;
                j++;
            } else if (s[j] == '}' && --level == 0) {
                close = j;
                break;
            }
        }
        if (close == n) {
            perr(p, at->line, col, "unterminated '${' (write '$${' for a literal '${')");
            return -1;
        }
        size_t name_start = i + 2, k = name_start;
        while (k < close && (isalnum((unsigned char)s[k]) || s[k] == '_'))
            k++;
        size_t name_len = k - name_start;
        bool has_default = k + 1 < close && s[k] == ':' && s[k + 1] == '-';
        if (name_len == 0 || name_len > 255 || !is_name_start((unsigned char)s[name_start]) ||
            (k != close && !has_default)) {
            perr(p, at->line, col,
                 "bad variable reference '%s': expected ${NAME} or ${NAME:-default}",
                 shown(s + i, close + 1 - i, shown_buf));
            return -1;
        }
        char name[256];
        memcpy(name, s + name_start, name_len);
        name[name_len] = '\0';
        const char *value = getenv(name);
        if (has_default && (!value || !*value)) {
            if (nesting >= EXPAND_MAX_NESTING) {
                perr(p, at->line, col, "variables nested deeper than %d levels",
                     EXPAND_MAX_NESTING);
                return -1;
            }
            if (expand_into(p, b, s + k + 2, close - (k + 2), at, off + k + 2, nesting + 1, fatal))
                return -1;
        } else if (!value) {
            perr(p, at->line, col,
                 "environment variable %s is not set (write ${%s:-default} to give a default)",
                 name, name);
            return -1;
        } else if ((rc = lf_buf_puts(b, value))) {
            return expand_failed(p, at, rc, fatal);
        }
        i = close + 1;
    }
    return 0;
}

/* The scalar s[0..n) expanded into a new string (its length in *outlen), or
 * NULL after reporting. */
static char *expand(struct parser *p, const char *s, size_t n, const struct scalar_pos *at,
                    size_t *outlen, int *fatal)
{
    struct lf_buf b;
    lf_buf_init(&b, LF_CONF_MAX_SCALAR);
    int rc = lf_buf_grow(&b, n);
    if (rc) {
        expand_failed(p, at, rc, fatal);
        return NULL;
    }
    if (expand_into(p, &b, s, n, at, 0, 0, fatal)) {
        lf_buf_free(&b);
        return NULL;
    }
    *outlen = b.len;
    b.data[b.len] = '\0'; /* grown above even when n is 0 */
    return b.data;
}

static int on_scalar_value(struct parser *p, const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    bool bad = refuse_decorations(p, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
    struct lf_conf_node *node = node_new(
        p, plain && is_null(v, n) ? LF_CONF_NODE_NULL : LF_CONF_NODE_SCALAR, &ev->start_mark);
    if (!node)
        return -1;
    node->bad = bad;
    if (node->type == LF_CONF_NODE_SCALAR) {
        /* Columns inside a value are exact only on one line without escapes. */
        bool one_line = ev->start_mark.line == ev->end_mark.line;
        struct scalar_pos at = {
            node->line, node->col,
            one_line && (plain || ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE)};
        if (at.exact && !plain)
            at.col++; /* past the opening quote */
        int fatal = 0;
        if (n > LF_CONF_MAX_SCALAR) {
            perr(p, node->line, node->col, "value longer than %u bytes", LF_CONF_MAX_SCALAR);
            node->bad = true;
        } else {
            node->text = expand(p, v, n, &at, &node->len, &fatal);
        }
        if (fatal) {
            node_free(node);
            return -1;
        }
        if (!node->text) {
            node->bad = true;
            node->text = calloc(1, 1);
            node->len = 0;
            if (!node->text) {
                perr(p, node->line, node->col, "out of memory");
                node_free(node);
                return -1;
            }
        }
        p->doc->text_bytes += node->len;
        if (p->doc->text_bytes > LF_CONF_MAX_TEXT) {
            perr(p, node->line, node->col, "more than %u bytes of values: refused",
                 LF_CONF_MAX_TEXT);
            node_free(node);
            return -1;
        }
    }
    return attach(p, node);
}

static int on_key(struct parser *p, struct frame *top, const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    unsigned line = mark_line(&ev->start_mark), col = mark_col(&ev->start_mark);
    top->have_key = true;
    top->key_line = line;
    top->key_col = col;
    top->key_bad = refuse_decorations(p, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && is_null(v, n)) {
        perr(p, line, col, "a key cannot be empty or null");
        top->key_bad = true;
    } else if (memchr(v, '\0', n) || n > 1024) {
        perr(p, line, col, "a key cannot hold a NUL byte or be longer than 1024 bytes");
        top->key_bad = true;
    }
    if (++p->doc->nnodes > LF_CONF_MAX_NODES) {
        perr(p, line, col, "more than %u keys, values and items: refused", LF_CONF_MAX_NODES);
        return -1;
    }
    if (top->key_bad)
        return 0;
    top->key = strdup(v);
    if (!top->key) {
        perr(p, line, col, "out of memory");
        return -1;
    }
    return 0;
}

static int on_start(struct parser *p, const yaml_event_t *ev, enum lf_conf_node_type type)
{
    unsigned line = mark_line(&ev->start_mark), col = mark_col(&ev->start_mark);
    struct frame *top = p->depth ? &p->stack[p->depth - 1] : NULL;
    if (top && top->node->type == LF_CONF_NODE_MAP && !top->have_key) {
        perr(p, line, col, "a key must be a plain value, not a map or a list");
        return -1;
    }
    if (p->depth == LF_CONF_MAX_DEPTH) {
        perr(p, line, col, "maps and lists nested deeper than %u levels: refused",
             LF_CONF_MAX_DEPTH);
        return -1;
    }
    const yaml_char_t *anchor =
        type == LF_CONF_NODE_MAP ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    const yaml_char_t *tag =
        type == LF_CONF_NODE_MAP ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
    bool bad = refuse_decorations(p, ev, anchor, tag);
    struct lf_conf_node *node = node_new(p, type, &ev->start_mark);
    if (!node)
        return -1;
    node->bad = bad;
    p->stack[p->depth++] = (struct frame){.node = node};
    return 0;
}

struct key_ref {
    const char *key;
    size_t idx;
};

static int cmp_key_ref(const void *a, const void *b)
{
    const struct key_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Reports and drops every repeated key of a map, keeping the first. Sorting
 * keeps this O(n log n) for maps with many keys. Returns 0 or -1 (no memory). */
static int drop_duplicates(struct parser *p, struct lf_conf_node *map)
{
    size_t n = map->nkids;
    if (n < 2)
        return 0;
    struct key_ref *refs = malloc(n * sizeof(*refs));
    bool *drop = calloc(n, sizeof(*drop));
    if (!refs || !drop) {
        free(refs);
        free(drop);
        perr(p, map->line, map->col, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        refs[i] = (struct key_ref){map->kids[i]->key, i};
    qsort(refs, n, sizeof(*refs), cmp_key_ref);
    size_t first = 0;
    char s[SHOWN_MAX + 4];
    for (size_t i = 1; i < n; i++) {
        if (strcmp(refs[i].key, refs[first].key) != 0) {
            first = i;
            continue;
        }
        const struct lf_conf_node *dup = map->kids[refs[i].idx], *orig = map->kids[refs[first].idx];
        perr(p, dup->key_line, dup->key_col, "duplicate key '%s' (first at line %u, column %u)",
             shown(dup->key, strlen(dup->key), s), orig->key_line, orig->key_col);
        drop[refs[i].idx] = true;
    }
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (drop[i])
            node_free(map->kids[i]);
        else
            map->kids[j++] = map->kids[i];
    }
    map->nkids = j;
    free(refs);
    free(drop);
    return 0;
}

static int on_end(struct parser *p)
{
    struct frame f = p->stack[--p->depth];
    free(f.key); /* NULL unless the map ended after a key, which libyaml does not allow */
    if (f.node->type == LF_CONF_NODE_MAP && drop_duplicates(p, f.node)) {
        node_free(f.node);
        return -1;
    }
    return attach(p, f.node);
}

/* Returns 0, or -1 when parsing must stop (the reason was reported). */
static int on_event(struct parser *p, const yaml_event_t *ev)
{
    struct frame *top = p->depth ? &p->stack[p->depth - 1] : NULL;
    char s[SHOWN_MAX + 4];
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++p->ndocs > 1) {
            perr(p, mark_line(&ev->start_mark), mark_col(&ev->start_mark),
                 "only one YAML document per file (found a second '---')");
            return -1;
        }
        return 0;
    case YAML_ALIAS_EVENT: {
        const char *a = (const char *)ev->data.alias.anchor;
        perr(p, mark_line(&ev->start_mark), mark_col(&ev->start_mark),
             "YAML aliases (*%s) are not supported: write the value out", shown(a, strlen(a), s));
        if (top && top->node->type == LF_CONF_NODE_MAP && !top->have_key) {
            top->have_key = true; /* an alias as a key: drop the pair */
            top->key_bad = true;
            return 0;
        }
        struct lf_conf_node *n = node_new(p, LF_CONF_NODE_NULL, &ev->start_mark);
        if (!n)
            return -1;
        n->bad = true;
        return attach(p, n);
    }
    case YAML_SCALAR_EVENT:
        if (top && top->node->type == LF_CONF_NODE_MAP && !top->have_key)
            return on_key(p, top, ev);
        return on_scalar_value(p, ev);
    case YAML_MAPPING_START_EVENT:
        return on_start(p, ev, LF_CONF_NODE_MAP);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(p, ev, LF_CONF_NODE_SEQ);
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        return on_end(p);
    default:
        return 0;
    }
}

/* The line and column of byte `off` of the text (libyaml's reader errors give
 * only an offset). */
static void offset_position(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            ++*line;
            *col = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            ++*col;
        }
    }
}

static void syntax_error(struct parser *p, const yaml_parser_t *yp)
{
    unsigned line, col;
    switch (yp->error) {
    case YAML_MEMORY_ERROR:
        perr(p, 0, 0, "out of memory while reading YAML");
        return;
    case YAML_READER_ERROR:
        offset_position(p->text, p->len, yp->problem_offset, &line, &col);
        if (yp->problem_value != -1)
            perr(p, line, col, "not valid YAML text: %s (byte 0x%02x)", yp->problem,
                 (unsigned)yp->problem_value & 0xffu);
        else
            perr(p, line, col, "not valid YAML text: %s", yp->problem);
        return;
    default:
        line = mark_line(&yp->problem_mark);
        col = mark_col(&yp->problem_mark);
        if (yp->context)
            perr(p, line, col, "YAML syntax error: %s (%s at line %u, column %u)",
                 yp->problem ? yp->problem : "unknown problem", yp->context,
                 mark_line(&yp->context_mark), mark_col(&yp->context_mark));
        else
            perr(p, line, col, "YAML syntax error: %s",
                 yp->problem ? yp->problem : "unknown problem");
        return;
    }
}

struct lf_conf_doc *lf_conf_parse_text(const char *origin, const char *text, size_t len,
                                       struct lf_conf_errors *errs)
{
    struct parser p = {.origin = origin, .text = text, .len = len, .errs = errs};
    yaml_parser_t yp;
    if (len > LF_CONF_MAX_FILE) {
        lf_conf_errorf(errs, origin, 0, 0, "larger than %u MiB: refused", LF_CONF_MAX_FILE >> 20);
        return NULL;
    }
    p.doc = calloc(1, sizeof(*p.doc));
    if (!p.doc || !(p.doc->origin = strdup(origin)) || !yaml_parser_initialize(&yp)) {
        lf_conf_errorf(errs, origin, 0, 0, "out of memory");
        lf_conf_doc_free(p.doc);
        return NULL;
    }
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    int failed = 0, done = 0;
    while (!done && !failed) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&yp, &ev)) {
            syntax_error(&p, &yp);
            failed = 1;
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        failed = on_event(&p, &ev) != 0;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&yp);
    while (p.depth > 0) {
        struct frame *f = &p.stack[--p.depth];
        free(f->key);
        node_free(f->node);
    }
    if (failed) {
        lf_conf_doc_free(p.doc);
        return NULL;
    }
    return p.doc;
}

struct lf_conf_doc *lf_conf_parse_file(const char *path, struct lf_conf_errors *errs)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lf_conf_errorf(errs, path, 0, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    int have_stat = fstat(fd, &st) == 0;
    if (have_stat && S_ISDIR(st.st_mode)) {
        lf_conf_errorf(errs, path, 0, 0, "cannot read: is a directory");
        close(fd);
        return NULL;
    }
    if (have_stat && S_ISREG(st.st_mode) && st.st_size > (off_t)LF_CONF_MAX_FILE) {
        lf_conf_errorf(errs, path, 0, 0, "larger than %u MiB: refused", LF_CONF_MAX_FILE >> 20);
        close(fd);
        return NULL;
    }
    /* Read at most one byte past the cap: pipes and /proc files have no size. */
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    int rc = buf ? 0 : LF_ENOMEM;
    while (!rc) {
        if (len == cap) {
            if (cap > LF_CONF_MAX_FILE) {
                rc = LF_ELIMIT;
                break;
            }
            size_t ncap = cap * 2 > LF_CONF_MAX_FILE + 1 ? LF_CONF_MAX_FILE + 1 : cap * 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = LF_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = LF_EIO;
        else if (r == 0)
            break;
        else
            len += (size_t)r;
    }
    int saved = errno;
    close(fd);
    struct lf_conf_doc *doc = NULL;
    if (rc == LF_EIO)
        lf_conf_errorf(errs, path, 0, 0, "cannot read: %s", strerror(saved));
    else if (rc == LF_ELIMIT || len > LF_CONF_MAX_FILE)
        lf_conf_errorf(errs, path, 0, 0, "larger than %u MiB: refused", LF_CONF_MAX_FILE >> 20);
    else if (rc)
        lf_conf_errorf(errs, path, 0, 0, "out of memory");
    else
        doc = lf_conf_parse_text(path, buf, len, errs);
    free(buf);
    return doc;
}

/* ---- binding ----------------------------------------------------------- */

struct binder {
    const char *origin;
    struct lf_conf_errors *errs;
    char path[CONF_PATH_MAX]; /* dotted path of the key being bound */
    size_t plen;
};

static void berr(struct binder *b, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void berr(struct binder *b, unsigned line, unsigned col, const char *fmt, ...)
{
    char msg[1200];
    int n = 0;
    if (b->plen)
        n = snprintf(msg, sizeof(msg), "%s: ", b->path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    add_error(b->errs, b->origin, line, col, msg);
}

static size_t path_push(struct binder *b, const char *sep, const char *name, size_t index)
{
    size_t old = b->plen;
    int n;
    char s[SHOWN_MAX + 4];
    if (name)
        n = snprintf(b->path + old, sizeof(b->path) - old, "%s%s", old ? sep : "",
                     shown(name, strlen(name), s));
    else
        n = snprintf(b->path + old, sizeof(b->path) - old, "[%zu]", index);
    if (n > 0)
        b->plen = old + (size_t)n < sizeof(b->path) ? old + (size_t)n : sizeof(b->path) - 1;
    return old;
}

static void path_pop(struct binder *b, size_t old)
{
    b->plen = old;
    b->path[old] = '\0';
}

static void *at(void *base, size_t off)
{
    return (char *)base + off;
}

static void join_enums(const struct lf_conf_enum *e, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (; e && e->name; e++) {
        int n = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", e->name);
        if (n < 0 || (size_t)n >= outlen - used)
            break;
        used += (size_t)n;
    }
}

/* What a key of this type wants, for "expected X, got Y". */
static const char *expected(const struct lf_conf_key *k, enum lf_conf_type type, char *buf,
                            size_t len)
{
    char list[400];
    switch (type) {
    case LF_CONF_STRING:
        return "a string";
    case LF_CONF_PATH:
        return "a path";
    case LF_CONF_BOOL:
        return "true or false";
    case LF_CONF_UINT:
        return "a whole number like 256";
    case LF_CONF_DURATION:
        return "a duration like 10s, 500ms, 2m or 1h";
    case LF_CONF_SIZE:
        return "a size like 512KiB, 5MiB or 1GB";
    case LF_CONF_ENUM:
        join_enums(k->enums, list, sizeof(list));
        snprintf(buf, len, "one of %s", list);
        return buf;
    case LF_CONF_FLAGS:
        join_enums(k->enums, list, sizeof(list));
        snprintf(buf, len, "a list of %s", list);
        return buf;
    case LF_CONF_STRINGS:
        return "a list of strings";
    case LF_CONF_STRING_MAP:
        return "a map of names to strings";
    case LF_CONF_SECTION:
        return "a section (a map of keys)";
    case LF_CONF_SECTION_LIST:
        return "a list of sections";
    case LF_CONF_SECTION_MAP:
        return "a map of named sections";
    }
    return "?";
}

static const char *got(const struct lf_conf_node *v, char *buf)
{
    char s[SHOWN_MAX + 4];
    if (!v || v->type == LF_CONF_NODE_NULL)
        return "nothing";
    if (v->type == LF_CONF_NODE_MAP)
        return "a map";
    if (v->type == LF_CONF_NODE_SEQ)
        return "a list";
    snprintf(buf, SHOWN_MAX + 8, "'%s'", shown(v->text, v->len, s));
    return buf;
}

static void type_error(struct binder *b, const struct lf_conf_key *k, enum lf_conf_type type,
                       const struct lf_conf_node *v)
{
    char e[500], g[SHOWN_MAX + 8];
    berr(b, v->line, v->col, "expected %s, got %s", expected(k, type, e, sizeof(e)), got(v, g));
}

static bool is_scalar_type(enum lf_conf_type t)
{
    return t <= LF_CONF_ENUM;
}

static void format_value(enum lf_conf_type type, uint64_t v, char *out, size_t len)
{
    if (type == LF_CONF_DURATION)
        lf_conf_format_duration(v, out, len);
    else if (type == LF_CONF_SIZE)
        lf_conf_format_size(v, out, len);
    else
        snprintf(out, len, "%llu", (unsigned long long)v);
}

static uint64_t type_max(const struct lf_conf_key *k)
{
    if (k->max)
        return k->max;
    return k->type == LF_CONF_UINT ? UINT32_MAX : UINT64_MAX;
}

struct scalar {
    const char *s; /* strings; the name of an enum value */
    uint64_t u;
    bool b;
    int e;
};

/* Reads scalar node v as `type` under key k. Returns 0 or -1 after reporting. */
static int read_scalar(struct binder *b, const struct lf_conf_key *k, enum lf_conf_type type,
                       const struct lf_conf_node *v, struct scalar *out)
{
    if (v->type != LF_CONF_NODE_SCALAR) {
        type_error(b, k, type, v);
        return -1;
    }
    const char *t = v->text;
    char s[SHOWN_MAX + 4];
    int rc = 0;
    switch (type) {
    case LF_CONF_STRING:
    case LF_CONF_PATH:
        if (v->len == 0) {
            berr(b, v->line, v->col, "expected %s, got an empty string",
                 type == LF_CONF_PATH ? "a path" : "a string");
            return -1;
        }
        if (strlen(t) != v->len) {
            berr(b, v->line, v->col, "'%s' holds a NUL byte", shown(t, v->len, s));
            return -1;
        }
        if (type == LF_CONF_PATH && v->len >= PATH_MAX) {
            berr(b, v->line, v->col, "path longer than %d bytes", PATH_MAX - 1);
            return -1;
        }
        if (k->check) {
            const char *why = k->check(t);
            if (why) {
                berr(b, v->line, v->col, "expected %s, got '%s'", why, shown(t, v->len, s));
                return -1;
            }
        }
        out->s = t;
        return 0;
    case LF_CONF_BOOL:
        if (lf_conf_parse_bool(t, &out->b)) {
            type_error(b, k, type, v);
            return -1;
        }
        return 0;
    case LF_CONF_ENUM:
        for (const struct lf_conf_enum *e = k->enums; e && e->name; e++) {
            if (strcmp(e->name, t) == 0) {
                out->e = e->value;
                out->s = e->name;
                return 0;
            }
        }
        type_error(b, k, type, v);
        return -1;
    case LF_CONF_UINT:
        rc = lf_conf_parse_uint(t, &out->u);
        break;
    case LF_CONF_DURATION:
        rc = lf_conf_parse_duration(t, &out->u);
        break;
    case LF_CONF_SIZE:
        rc = lf_conf_parse_size(t, &out->u);
        break;
    default:
        type_error(b, k, type, v);
        return -1;
    }
    if (rc == LF_EINVAL) {
        berr(b, v->line, v->col, "'%s' is not a whole number of %s", shown(t, v->len, s),
             type == LF_CONF_DURATION ? "milliseconds" : "bytes");
        return -1;
    }
    if (rc == LF_ESYNTAX) {
        type_error(b, k, type, v);
        return -1;
    }
    uint64_t max = type_max(k);
    if (rc == LF_ELIMIT || out->u < k->min || out->u > max) {
        char lo[32], hi[32];
        format_value(type, k->min, lo, sizeof(lo));
        format_value(type, max, hi, sizeof(hi));
        berr(b, v->line, v->col, "'%s' is out of range (%s to %s)", shown(t, v->len, s), lo, hi);
        return -1;
    }
    return 0;
}

static void oom(struct binder *b, const struct lf_conf_node *v)
{
    berr(b, v ? v->line : 0, v ? v->col : 0, "out of memory");
}

static int bind_scalar(struct binder *b, const struct lf_conf_key *k, const struct lf_conf_node *v,
                       void *base)
{
    struct scalar s;
    if (read_scalar(b, k, k->type, v, &s))
        return -1;
    void *p = at(base, k->offset);
    if (k->type == LF_CONF_STRING || k->type == LF_CONF_PATH ||
        (k->type == LF_CONF_ENUM && (k->flags & LF_CONF_AS_STRING))) {
        char *d = strdup(s.s);
        if (!d) {
            oom(b, v);
            return -1;
        }
        char **field = p;
        free(*field);
        *field = d;
    } else if (k->type == LF_CONF_ENUM) {
        memcpy(p, &s.e, sizeof(int));
    } else if (k->type == LF_CONF_BOOL) {
        *(bool *)p = s.b;
    } else if (k->type == LF_CONF_UINT) {
        *(uint32_t *)p = (uint32_t)s.u;
    } else {
        *(uint64_t *)p = s.u;
    }
    return 0;
}

/* Checks the item count of a list or map; v may be a null node (0 items). */
static int check_count(struct binder *b, const struct lf_conf_key *k, const struct lf_conf_node *v,
                       size_t n)
{
    uint64_t max = k->max ? k->max : LF_CONF_MAX_ITEMS;
    if (n > max) {
        berr(b, v->line, v->col, "%zu items, at most %llu allowed", n, (unsigned long long)max);
        return -1;
    }
    if (n < k->min) {
        berr(b, v->line, v->col, "needs at least %llu item%s", (unsigned long long)k->min,
             k->min == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

/* Whether v is a container of `want` type (a null value counts as empty);
 * reports otherwise. */
static int want_container(struct binder *b, const struct lf_conf_key *k,
                          const struct lf_conf_node *v, enum lf_conf_node_type want)
{
    if (v->type == want || v->type == LF_CONF_NODE_NULL)
        return 0;
    type_error(b, k, k->type, v);
    return -1;
}

static int bind_strings(struct binder *b, const struct lf_conf_key *k, const struct lf_conf_node *v,
                        void *base)
{
    if (want_container(b, k, v, LF_CONF_NODE_SEQ) || check_count(b, k, v, v->nkids))
        return -1;
    size_t n = v->nkids, m = 0;
    char **arr = n ? calloc(n, sizeof(*arr)) : NULL;
    if (n && !arr) {
        oom(b, v);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const struct lf_conf_node *item = v->kids[i];
        struct scalar s;
        size_t mark = path_push(b, "", NULL, i);
        if (item->bad || read_scalar(b, k, LF_CONF_STRING, item, &s))
            rc = -1;
        else if (!(arr[m] = strdup(s.s)))
            oom(b, item), rc = -1;
        else
            m++;
        path_pop(b, mark);
    }
    *(char ***)at(base, k->offset) = arr;
    *(size_t *)at(base, k->count) = m;
    return rc;
}

static int bind_flags(struct binder *b, const struct lf_conf_key *k, const struct lf_conf_node *v,
                      void *base)
{
    /* One name alone ("sets: all") reads as a list of one. */
    if (v->type == LF_CONF_NODE_SCALAR) {
        struct scalar s;
        if (read_scalar(b, k, LF_CONF_ENUM, v, &s))
            return -1;
        *(unsigned *)at(base, k->offset) = (unsigned)s.e;
        return 0;
    }
    if (want_container(b, k, v, LF_CONF_NODE_SEQ) || check_count(b, k, v, v->nkids))
        return -1;
    unsigned bits = 0;
    int rc = 0;
    for (size_t i = 0; i < v->nkids; i++) {
        struct scalar s;
        size_t mark = path_push(b, "", NULL, i);
        if (v->kids[i]->bad || read_scalar(b, k, LF_CONF_ENUM, v->kids[i], &s))
            rc = -1;
        else
            bits |= (unsigned)s.e;
        path_pop(b, mark);
    }
    if (!rc)
        *(unsigned *)at(base, k->offset) = bits;
    return rc;
}

static int bind_string_map(struct binder *b, const struct lf_conf_key *k,
                           const struct lf_conf_node *v, void *base)
{
    if (want_container(b, k, v, LF_CONF_NODE_MAP) || check_count(b, k, v, v->nkids))
        return -1;
    size_t n = v->nkids, m = 0;
    char **names = n ? calloc(n, sizeof(*names)) : NULL;
    char **texts = n ? calloc(n, sizeof(*texts)) : NULL;
    if (n && (!names || !texts)) {
        free(names);
        free(texts);
        oom(b, v);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const struct lf_conf_node *item = v->kids[i];
        struct scalar s;
        size_t mark = path_push(b, ".", item->key, 0);
        if (item->bad || read_scalar(b, k, LF_CONF_STRING, item, &s)) {
            rc = -1;
        } else if (!(names[m] = strdup(item->key)) || !(texts[m] = strdup(s.s))) {
            free(names[m]);
            names[m] = NULL;
            oom(b, item);
            rc = -1;
        } else {
            m++;
        }
        path_pop(b, mark);
    }
    *(char ***)at(base, k->offset) = names;
    *(char ***)at(base, k->values) = texts;
    *(size_t *)at(base, k->count) = m;
    return rc;
}

static void bind_table(struct binder *b, const struct lf_conf_key *t,
                       const struct lf_conf_node *node, unsigned line, unsigned col, void *base);

static void set_position(const struct lf_conf_key *k, void *item, unsigned line, unsigned col)
{
    if (k->flags & LF_CONF_SET_LINE)
        *(unsigned *)at(item, k->line_at) = line;
    if (k->flags & LF_CONF_SET_COL)
        *(unsigned *)at(item, k->col_at) = col;
}

static int bind_section_list(struct binder *b, const struct lf_conf_key *k,
                             const struct lf_conf_node *v, void *base)
{
    bool named = k->type == LF_CONF_SECTION_MAP;
    if (want_container(b, k, v, named ? LF_CONF_NODE_MAP : LF_CONF_NODE_SEQ) ||
        check_count(b, k, v, v->nkids))
        return -1;
    size_t n = v->nkids;
    char *arr = n ? calloc(n, k->item_size) : NULL;
    if (n && !arr) {
        oom(b, v);
        return -1;
    }
    /* Stored first, so that whatever the items get is released with them. */
    *(void **)at(base, k->offset) = arr;
    *(size_t *)at(base, k->count) = n;
    for (size_t i = 0; i < n; i++) {
        const struct lf_conf_node *item = v->kids[i];
        void *obj = arr + i * k->item_size;
        size_t mark = path_push(b, ".", named ? item->key : NULL, i);
        if (named) {
            set_position(k, obj, item->key_line, item->key_col);
            if (!(*(char **)at(obj, k->name_at) = strdup(item->key)))
                oom(b, item);
            bind_table(b, k->sub, item, item->key_line, item->key_col, obj);
        } else {
            set_position(k, obj, item->line, item->col);
            bind_table(b, k->sub, item, item->line, item->col, obj);
        }
        path_pop(b, mark);
    }
    return 0;
}

/* Binds v (present in the file, or parsed from a default) to key k. Returns
 * 0 or -1 after reporting. */
static int bind_value(struct binder *b, const struct lf_conf_key *k, const struct lf_conf_node *v,
                      void *base)
{
    switch (k->type) {
    case LF_CONF_STRINGS:
        return bind_strings(b, k, v, base);
    case LF_CONF_FLAGS:
        return bind_flags(b, k, v, base);
    case LF_CONF_STRING_MAP:
        return bind_string_map(b, k, v, base);
    case LF_CONF_SECTION:
        bind_table(b, k->sub, v, v->line, v->col, at(base, k->offset));
        return 0;
    case LF_CONF_SECTION_LIST:
    case LF_CONF_SECTION_MAP:
        return bind_section_list(b, k, v, base);
    default:
        return bind_scalar(b, k, v, base);
    }
}

/* Gives an absent key its default: parsed from the YAML text in the table,
 * or for a section, the defaults of its own keys. */
static void bind_absent(struct binder *b, const struct lf_conf_key *k, void *base, unsigned line,
                        unsigned col)
{
    if (k->type == LF_CONF_SECTION && !k->def) {
        bind_table(b, k->sub, NULL, line, col, at(base, k->offset));
        return;
    }
    if (!k->def)
        return;
    char origin[CONF_PATH_MAX + 32];
    snprintf(origin, sizeof(origin), "(default of %s)", b->path);
    struct lf_conf_doc *doc = lf_conf_parse_text(origin, k->def, strlen(k->def), b->errs);
    if (!doc)
        return;
    static const struct lf_conf_node nothing = {.type = LF_CONF_NODE_NULL, .line = 1, .col = 1};
    const char *saved = b->origin;
    b->origin = doc->origin;
    bind_value(b, k, doc->root ? doc->root : &nothing, base);
    b->origin = saved;
    lf_conf_doc_free(doc);
}

/* Damerau-Levenshtein distance (adjacent swaps count one), capped at 9. */
static unsigned distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 40 || m > 40)
        return 9;
    unsigned d[41][41];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (unsigned)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (unsigned)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            unsigned cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            unsigned v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[n][m] > 9 ? 9 : d[n][m];
}

static void unknown_key(struct binder *b, const struct lf_conf_key *t,
                        const struct lf_conf_node *kid)
{
    char allowed[600], hint[100] = "", s[SHOWN_MAX + 4];
    size_t used = 0;
    unsigned best = 3;
    const char *suggest = NULL;
    allowed[0] = '\0';
    for (const struct lf_conf_key *k = t; k->name; k++) {
        int n = snprintf(allowed + used, sizeof(allowed) - used, "%s%s", used ? ", " : "", k->name);
        if (n > 0 && (size_t)n < sizeof(allowed) - used)
            used += (size_t)n;
        unsigned d = distance(kid->key, k->name);
        if (d < best && d < strlen(k->name)) {
            best = d;
            suggest = k->name;
        }
    }
    if (suggest)
        snprintf(hint, sizeof(hint), ", did you mean '%s'?", suggest);
    berr(b, kid->key_line, kid->key_col, "unknown key '%s'%s (allowed: %s)",
         shown(kid->key, strlen(kid->key), s), hint, allowed);
}

static void bind_table(struct binder *b, const struct lf_conf_key *t,
                       const struct lf_conf_node *node, unsigned line, unsigned col, void *base)
{
    bool wrong = false; /* reported already: one problem, not one more per required key */
    if (node && node->bad) {
        wrong = true;
        node = NULL;
    }
    if (node && node->type == LF_CONF_NODE_MAP) {
        for (size_t i = 0; i < node->nkids; i++) {
            const struct lf_conf_key *k = t;
            while (k->name && strcmp(k->name, node->kids[i]->key) != 0)
                k++;
            if (!k->name)
                unknown_key(b, t, node->kids[i]);
        }
    } else if (node && node->type != LF_CONF_NODE_NULL) {
        char g[SHOWN_MAX + 8];
        berr(b, node->line, node->col, "expected a section (a map of keys), got %s", got(node, g));
        wrong = true;
        node = NULL;
    }
    for (const struct lf_conf_key *k = t; k->name; k++) {
        const struct lf_conf_node *v = lf_conf_get(node, k->name);
        if (k->flags & LF_CONF_REFUSED) {
            size_t mark = path_push(b, ".", k->name, 0);
            if (v)
                berr(b, v->key_line, v->key_col, "%s", k->doc);
            path_pop(b, mark);
            continue;
        }
        if (!v && (k->flags & LF_CONF_REQUIRED)) {
            if (wrong)
                continue;
            berr(b, line, col, "missing required key '%s'", k->name);
            continue;
        }
        size_t mark = path_push(b, ".", k->name, 0);
        if (!v || v->bad)
            bind_absent(b, k, base, line, col);
        else if (bind_value(b, k, v, base) && is_scalar_type(k->type))
            bind_absent(b, k, base, line, col);
        path_pop(b, mark);
    }
}

void lf_conf_bind(const struct lf_conf_key *table, const struct lf_conf_node *node,
                  const char *origin, void *obj, struct lf_conf_errors *errs)
{
    struct binder b = {.origin = origin, .errs = errs};
    bind_table(&b, table, node, 1, 1, obj);
}

static void free_strings(char **arr, size_t n)
{
    for (size_t i = 0; arr && i < n; i++)
        free(arr[i]);
    free(arr);
}

void lf_conf_release(const struct lf_conf_key *table, void *obj)
{
    for (const struct lf_conf_key *k = table; k->name; k++) {
        if (k->flags & LF_CONF_REFUSED)
            continue;
        void *p = at(obj, k->offset);
        switch (k->type) {
        case LF_CONF_STRING:
        case LF_CONF_PATH:
            free(*(char **)p);
            *(char **)p = NULL;
            break;
        case LF_CONF_ENUM:
            if (k->flags & LF_CONF_AS_STRING) {
                free(*(char **)p);
                *(char **)p = NULL;
            }
            break;
        case LF_CONF_STRINGS:
            free_strings(*(char ***)p, *(size_t *)at(obj, k->count));
            *(char ***)p = NULL;
            *(size_t *)at(obj, k->count) = 0;
            break;
        case LF_CONF_STRING_MAP:
            free_strings(*(char ***)p, *(size_t *)at(obj, k->count));
            free_strings(*(char ***)at(obj, k->values), *(size_t *)at(obj, k->count));
            *(char ***)p = NULL;
            *(char ***)at(obj, k->values) = NULL;
            *(size_t *)at(obj, k->count) = 0;
            break;
        case LF_CONF_SECTION:
            lf_conf_release(k->sub, p);
            break;
        case LF_CONF_SECTION_LIST:
        case LF_CONF_SECTION_MAP: {
            char *arr = *(char **)p;
            size_t n = *(size_t *)at(obj, k->count);
            for (size_t i = 0; arr && i < n; i++) {
                lf_conf_release(k->sub, arr + i * k->item_size);
                if (k->type == LF_CONF_SECTION_MAP)
                    free(*(char **)at(arr + i * k->item_size, k->name_at));
            }
            free(arr);
            *(char **)p = NULL;
            *(size_t *)at(obj, k->count) = 0;
            break;
        }
        default:
            break;
        }
    }
}

/* ---- the Markdown reference -------------------------------------------- */

/* Appends s with '|' escaped, as a table cell needs. */
static int put_cell(struct lf_buf *out, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++)
        rc = *s == '|' ? lf_buf_puts(out, "\\|") : lf_buf_putc(out, *s);
    return rc;
}

static void describe_type(const struct lf_conf_key *k, char *buf, size_t len)
{
    char lo[32], hi[32], list[400];
    const char *names[] = {"string",          "path",           "bool",    "integer",
                           "duration",        "size",           "enum",    "list",
                           "list of strings", "map of strings", "section", "list of sections",
                           "map of sections"};
    switch (k->type) {
    case LF_CONF_UINT:
    case LF_CONF_DURATION:
    case LF_CONF_SIZE:
        format_value(k->type, k->min, lo, sizeof(lo));
        format_value(k->type, type_max(k), hi, sizeof(hi));
        snprintf(buf, len, "%s, %s to %s", names[k->type], lo, hi);
        return;
    case LF_CONF_ENUM:
        join_enums(k->enums, list, sizeof(list));
        snprintf(buf, len, "one of: %s", list);
        return;
    case LF_CONF_FLAGS:
        join_enums(k->enums, list, sizeof(list));
        snprintf(buf, len, "list of: %s", list);
        return;
    case LF_CONF_STRINGS:
    case LF_CONF_STRING_MAP:
    case LF_CONF_SECTION_LIST:
    case LF_CONF_SECTION_MAP:
        if (k->min)
            snprintf(buf, len, "%s, %llu to %llu", names[k->type], (unsigned long long)k->min,
                     (unsigned long long)(k->max ? k->max : LF_CONF_MAX_ITEMS));
        else
            snprintf(buf, len, "%s, at most %llu", names[k->type],
                     (unsigned long long)(k->max ? k->max : LF_CONF_MAX_ITEMS));
        return;
    default:
        snprintf(buf, len, "%s", names[k->type]);
        return;
    }
}

static int write_rows(struct lf_buf *out, const struct lf_conf_key *t, const char *prefix)
{
    int rc = 0;
    for (const struct lf_conf_key *k = t; k->name && !rc; k++) {
        char path[CONF_PATH_MAX], type[500];
        if (k->flags & LF_CONF_REFUSED)
            continue; /* not a key of this file: its doc says so when it is used */
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", k->name);
        describe_type(k, type, sizeof(type));
        rc = lf_buf_printf(out, "| `%s` | %s | ", path, type);
        if (!rc && k->def) {
            rc = lf_buf_putc(out, '`');
            rc = rc ? rc : put_cell(out, k->def);
            rc = rc ? rc : lf_buf_putc(out, '`');
        } else if (!rc && k->def_doc) {
            rc = put_cell(out, k->def_doc);
        } else if (!rc) {
            rc = lf_buf_puts(out, (k->flags & LF_CONF_REQUIRED) ? "required" : "");
        }
        rc = rc ? rc : lf_buf_puts(out, " | ");
        rc = rc ? rc : put_cell(out, k->doc ? k->doc : "");
        rc = rc ? rc : lf_buf_puts(out, " |\n");
        if (rc || !k->sub)
            continue;
        if (k->type == LF_CONF_SECTION_LIST)
            strncat(path, "[]", sizeof(path) - strlen(path) - 1);
        else if (k->type == LF_CONF_SECTION_MAP)
            strncat(path, ".<name>", sizeof(path) - strlen(path) - 1);
        rc = write_rows(out, k->sub, path);
    }
    return rc;
}

int lf_conf_write_keys(struct lf_buf *out, const struct lf_conf_key *table)
{
    int rc = lf_buf_puts(out, "| key | type | default | description |\n"
                              "|-----|------|---------|-------------|\n");
    return rc ? rc : write_rows(out, table, "");
}

/* ---- the same reference as man(7) roff --------------------------------- */

/* Appends s as roff text: backslashes escaped, `code` in bold (where '-' is
 * a real minus, so that it copies), a leading '.' or '\'' made literal. */
static int put_roff(struct lf_buf *out, const char *s, bool bold)
{
    int rc = 0;
    if (*s == '.' || *s == '\'')
        rc = lf_buf_puts(out, "\\&");
    if (bold)
        rc = rc ? rc : lf_buf_puts(out, "\\fB");
    for (; *s && !rc; s++) {
        if (*s == '\\')
            rc = lf_buf_puts(out, "\\e");
        else if (*s == '`')
            rc = lf_buf_puts(out, (bold = !bold) ? "\\fB" : "\\fR");
        else if (*s == '-' && bold)
            rc = lf_buf_puts(out, "\\-");
        else
            rc = lf_buf_putc(out, *s);
    }
    if (!rc && bold)
        rc = lf_buf_puts(out, "\\fR");
    return rc;
}

static int write_roff(struct lf_buf *out, const struct lf_conf_key *t, const char *prefix)
{
    int rc = 0;
    for (const struct lf_conf_key *k = t; k->name && !rc; k++) {
        char path[CONF_PATH_MAX], type[500];
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", k->name);
        describe_type(k, type, sizeof(type));
        rc = lf_buf_puts(out, ".TP\n");
        rc = rc ? rc : put_roff(out, path, true);
        rc = rc ? rc : lf_buf_puts(out, "\n");
        rc = rc ? rc : put_roff(out, type, false);
        if (!rc && k->def) {
            rc = lf_buf_puts(out, "; default: ");
            rc = rc ? rc : put_roff(out, k->def, true);
        } else if (!rc && k->def_doc) {
            rc = lf_buf_puts(out, "; default: ");
            rc = rc ? rc : put_roff(out, k->def_doc, false);
        } else if (!rc && (k->flags & LF_CONF_REQUIRED)) {
            rc = lf_buf_puts(out, "; required");
        }
        if (!rc && k->doc && *k->doc) {
            rc = lf_buf_puts(out, "\n.br\n");
            rc = rc ? rc : put_roff(out, k->doc, false);
        }
        rc = rc ? rc : lf_buf_puts(out, "\n");
        if (rc || !k->sub)
            continue;
        if (k->type == LF_CONF_SECTION_LIST)
            strncat(path, "[]", sizeof(path) - strlen(path) - 1);
        else if (k->type == LF_CONF_SECTION_MAP)
            strncat(path, ".<name>", sizeof(path) - strlen(path) - 1);
        rc = write_roff(out, k->sub, path);
    }
    return rc;
}

int lf_conf_write_keys_roff(struct lf_buf *out, const struct lf_conf_key *table)
{
    return write_roff(out, table, "");
}

unsigned lf_conf_load(const struct lf_conf_key *table, const char *path, void *obj,
                      void (*finish)(void *obj, const struct lf_conf_doc *doc,
                                     struct lf_conf_errors *errs),
                      char *errbuf, size_t errlen)
{
    static const char defaults[] = "(defaults)";
    struct lf_conf_errors errs;
    struct lf_conf_doc *doc = NULL;
    lf_conf_errors_init(&errs);
    if (!path || (doc = lf_conf_parse_file(path, &errs))) {
        lf_conf_bind(table, doc ? doc->root : NULL, doc ? doc->origin : defaults, obj, &errs);
        if (finish)
            finish(obj, doc, &errs);
    }
    unsigned n = errs.count;
    if (n) {
        lf_conf_errors_write(&errs, errbuf, errlen);
        lf_conf_release(table, obj); /* computed defaults live in table fields too */
    } else if (errlen) {
        errbuf[0] = '\0';
    }
    lf_conf_doc_free(doc);
    lf_conf_errors_free(&errs);
    return n;
}
