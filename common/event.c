/*
 * event.c - an event is a flat list of dotted fields; writing it out sorts
 * the fields by path so that every object's members sit together, then walks
 * them once, opening and closing objects as the path prefix changes. Grok
 * expressions hand their fields over already sorted, so the sort is one pass.
 *
 * An input makes the same few sets of fields over and over (a tailed file:
 * one per message shape), so the sort and the keys, braces and commas come
 * out the same each time. A layout remembers them for one set: its order
 * and the JSON text between values, cut where each value goes; writing an
 * event of a known set is then a copy of each piece and its value. Layouts
 * are found by a hash of the set (a syslog file parsed by program has a few
 * dozen shapes, interleaved), in 2-way sets with the newer one first.
 */
#include "lf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 1024
#define MAX_DEPTH (PATH_MAX_LEN / 2 + 1)

/* What identifies a set of fields: by pointer, so matching costs no strcmp. */
struct layout_key {
    const char *path;
    uint32_t path_len;
    uint32_t flags;
    const char *const_str; /* LF_FIELD_CONST: the value is in the skeleton */
    size_t const_len;
};

struct lf_event_layout {
    uint32_t hash;           /* set_hash of the set */
    uint32_t n;              /* fields in the set */
    uint32_t nvalues;        /* those written per event (not constant) */
    struct layout_key *keys; /* as added */
    uint32_t *order;         /* the field whose value is written j-th */
    uint32_t *cuts;          /* value j goes at skel[cuts[j]] */
    char *skel;
    uint32_t skel_len;
};

/* Where a skeleton's values go, while it is rendered. */
struct skel_cuts {
    uint32_t *cuts, *order;
    uint32_t n;
};

void lf_event_init(struct lf_event *ev)
{
    memset(ev, 0, offsetof(struct lf_event, arena));
    ev->stable_paths = false;
    ev->layout_hit = 0;
    memset(ev->layouts, 0, sizeof(ev->layouts));
}

void lf_event_free(struct lf_event *ev)
{
    if (!ev)
        return;
    free(ev->fields);
    free(ev->order);
    for (size_t i = 0; i < LF_EVENT_LAYOUTS; i++)
        free(ev->layouts[i]);
    lf_event_init(ev);
}

static int grow(struct lf_event *ev, size_t need)
{
    if (need > LF_EVENT_MAX_FIELDS)
        return LF_ELIMIT;
    size_t cap = ev->cap ? ev->cap : 32;
    while (cap < need)
        cap *= 2;
    if (cap > LF_EVENT_MAX_FIELDS)
        cap = LF_EVENT_MAX_FIELDS;
    struct lf_field *fields = realloc(ev->fields, cap * sizeof(*fields));
    if (!fields)
        return LF_ENOMEM;
    ev->fields = fields;
    uint32_t *order = realloc(ev->order, cap * sizeof(*order));
    if (!order)
        return LF_ENOMEM;
    ev->order = order;
    ev->cap = cap;
    return 0;
}

int lf_event_add(struct lf_event *ev, const struct lf_field *f)
{
    if (f->path_len == 0 || f->path_len > PATH_MAX_LEN)
        return LF_EINVAL;
    if (ev->nfields == ev->cap) {
        int rc = grow(ev, ev->nfields + 1);
        if (rc)
            return rc;
    }
    ev->fields[ev->nfields++] = *f;
    return 0;
}

int lf_event_reserve(struct lf_event *ev, size_t n)
{
    if (ev->cap - ev->nfields >= n)
        return 0;
    return grow(ev, ev->nfields + n);
}

int lf_event_add_string(struct lf_event *ev, const char *path, const char *s, size_t n)
{
    struct lf_field f = {.path = path,
                         .path_len = (uint32_t)strlen(path),
                         .type = LF_VAL_STRING,
                         .str = s,
                         .len = n};
    return lf_event_add(ev, &f);
}

int lf_event_add_fields(struct lf_event *ev, const struct lf_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].path_len == 0 || f[i].path_len > PATH_MAX_LEN)
            return LF_EINVAL;
    int rc = lf_event_reserve(ev, n);
    if (rc)
        return rc;
    memcpy(ev->fields + ev->nfields, f, n * sizeof(*f));
    ev->nfields += n;
    return 0;
}

int lf_event_add_copy(struct lf_event *ev, const char *path, const char *s, size_t n)
{
    if (n > sizeof(ev->arena) - ev->arena_used)
        return LF_ELIMIT;
    char *copy = ev->arena + ev->arena_used;
    memcpy(copy, s, n);
    int rc = lf_event_add_string(ev, path, copy, n);
    if (!rc)
        ev->arena_used += n;
    return rc;
}

int lf_event_add_tag(struct lf_event *ev, const char *tag)
{
    struct lf_field f = {.path = "tags",
                         .path_len = 4,
                         .type = LF_VAL_STRING,
                         .flags = LF_FIELD_LIST,
                         .str = tag,
                         .len = strlen(tag)};
    return lf_event_add(ev, &f);
}

static bool same_path(const struct lf_field *f, const char *path, size_t len)
{
    return f->path_len == len && memcmp(f->path, path, len) == 0;
}

const struct lf_field *lf_event_get(const struct lf_event *ev, const char *path, size_t path_len)
{
    for (size_t i = 0; i < ev->nfields; i++)
        if (same_path(&ev->fields[i], path, path_len))
            return &ev->fields[i];
    return NULL;
}

size_t lf_event_remove(struct lf_event *ev, const char *path, size_t path_len)
{
    size_t kept = 0;
    while (kept < ev->nfields && !same_path(&ev->fields[kept], path, path_len))
        kept++; /* usually all of them: nothing to move */
    for (size_t i = kept; i < ev->nfields; i++)
        if (!same_path(&ev->fields[i], path, path_len))
            ev->fields[kept++] = ev->fields[i];
    size_t removed = ev->nfields - kept;
    ev->nfields = kept;
    return removed;
}

int lf_path_compare(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    size_t i = 0;
    while (i < n && a[i] == b[i])
        i++;
    if (i == n)
        return alen < blen ? -1 : alen > blen;
    /* '.' ranks below every other byte so children follow their parent. */
    unsigned ca = a[i] == '.' ? 0u : (unsigned char)a[i] + 1u;
    unsigned cb = b[i] == '.' ? 0u : (unsigned char)b[i] + 1u;
    return ca < cb ? -1 : 1;
}

static int compare_fields(const struct lf_field *a, const struct lf_field *b)
{
    if (a->path == b->path && a->path_len == b->path_len)
        return 0; /* the same field of a grok expression: the common case */
    return lf_path_compare(a->path, a->path_len, b->path, b->path_len);
}

/* Stable insertion sort of the index: a field already in order (the grok
 * fields arrive sorted) costs one comparison; one out of order finds its
 * place by binary search (after its equals, which keeps lists in order). */
static void sort_order(struct lf_event *ev)
{
    uint32_t *order = ev->order;
    for (size_t i = 0; i < ev->nfields; i++) {
        const struct lf_field *cur = &ev->fields[i];
        size_t lo = 0, hi = i;
        if (i > 0 && compare_fields(&ev->fields[order[i - 1]], cur) > 0) {
            hi = i - 1;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (compare_fields(&ev->fields[order[mid]], cur) > 0)
                    hi = mid;
                else
                    lo = mid + 1;
            }
        } else {
            lo = i;
        }
        memmove(order + lo + 1, order + lo, (i - lo) * sizeof(*order));
        order[lo] = (uint32_t)i;
    }
}

static bool is_child(const struct lf_field *parent, const struct lf_field *f)
{
    return f->path_len > parent->path_len && f->path[parent->path_len] == '.' &&
           memcmp(f->path, parent->path, parent->path_len) == 0;
}

/* Drops values whose path is also an object; returns how many were dropped. */
static unsigned drop_conflicts(struct lf_event *ev)
{
    unsigned dropped = 0;
    size_t n = ev->nfields;
    for (size_t k = 0; k < n;) {
        size_t end = k + 1;
        const struct lf_field *f = &ev->fields[ev->order[k]];
        while (end < n && compare_fields(f, &ev->fields[ev->order[end]]) == 0)
            end++;
        if (end < n && is_child(f, &ev->fields[ev->order[end]])) {
            for (size_t j = k; j < end; j++)
                ev->fields[ev->order[j]].path_len = 0; /* marks the field dropped */
            dropped += (unsigned)(end - k);
        }
        k = end;
    }
    if (dropped) {
        size_t kept = 0;
        for (size_t i = 0; i < n; i++)
            if (ev->fields[i].path_len)
                ev->fields[kept++] = ev->fields[i];
        ev->nfields = kept;
    }
    return dropped;
}

static int write_int(struct lf_buf *out, int64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return lf_buf_append(out, p, (size_t)(tmp + sizeof(tmp) - p));
}

static int write_value(struct lf_buf *out, const struct lf_field *f)
{
    switch (f->type) {
    case LF_VAL_INT:
        return write_int(out, f->v.i);
    case LF_VAL_FLOAT:
        return lf_json_write_double(out, f->v.f);
    case LF_VAL_NUMBER:
    case LF_VAL_JSON:
        return lf_buf_append(out, f->str, f->len);
    case LF_VAL_BOOL:
        return f->v.i ? lf_buf_append(out, "true", 4) : lf_buf_append(out, "false", 5);
    default:
        return lf_json_write_string(out, f->str, f->len);
    }
}

/* Whether a key can be copied as it is: short printable ASCII without '"'
 * or '\\' (every key a grammar or an input makes). */
static bool plain_key(const char *key, size_t len)
{
    if (len > 128)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
            return false;
    }
    return true;
}

static int write_key(struct lf_buf *out, bool *need_comma, const char *key, size_t len)
{
    int rc;
    if (plain_key(key, len)) {
        if ((rc = lf_buf_grow(out, len + 4)))
            return rc;
        char *p = out->data + out->len;
        if (*need_comma)
            *p++ = ',';
        *p++ = '"';
        memcpy(p, key, len);
        p += len;
        *p++ = '"';
        *p++ = ':';
        out->len = (size_t)(p - out->data);
        out->data[out->len] = '\0';
        *need_comma = true;
        return 0;
    }
    if (*need_comma && (rc = lf_buf_putc(out, ',')))
        return rc;
    *need_comma = true;
    if ((rc = lf_json_write_string(out, key, len)))
        return rc;
    return lf_buf_putc(out, ':');
}

/* Where the parent of a path ends: the offset of its last '.', or 0. */
static size_t parent_len(const char *p, size_t len)
{
    while (len > 0 && p[len - 1] != '.')
        len--;
    return len ? len - 1 : 0;
}

/* With `skel`, writes the skeleton only: constant values, and for every
 * other value, its offset and field instead of the value. */
static int write_fields(struct lf_event *ev, struct lf_buf *out, struct skel_cuts *skel)
{
    size_t seg_end[MAX_DEPTH];
    bool need_comma[MAX_DEPTH + 1];
    const char *open = NULL; /* path whose prefix names the open objects */
    size_t depth = 0;
    size_t n = ev->nfields;
    int rc;

    need_comma[0] = false;
    for (size_t k = 0; k < n;) {
        const struct lf_field *f = &ev->fields[ev->order[k]];
        size_t end = k + 1;
        while (end < n && compare_fields(f, &ev->fields[ev->order[end]]) == 0)
            end++;

        const char *p = f->path;
        size_t pl = parent_len(p, f->path_len);

        /* Keep the open objects this path shares, close the rest. */
        size_t keep = 0;
        while (keep < depth) {
            size_t start = keep ? seg_end[keep - 1] + 1 : 0;
            size_t e = seg_end[keep];
            if (e > pl || p[e] != '.' || memcmp(open + start, p + start, e - start) != 0)
                break;
            keep++;
        }
        for (; depth > keep; depth--)
            if ((rc = lf_buf_putc(out, '}')))
                return rc;

        /* Open the objects of this path that are not open yet. */
        size_t pos = depth ? seg_end[depth - 1] + 1 : 0;
        while (pl && pos < pl) {
            size_t e = pos;
            while (e < pl && p[e] != '.')
                e++;
            if ((rc = write_key(out, &need_comma[depth], p + pos, e - pos)) ||
                (rc = lf_buf_putc(out, '{')))
                return rc;
            seg_end[depth++] = e;
            need_comma[depth] = false;
            pos = e + 1;
        }
        open = p;

        size_t leaf = pl ? pl + 1 : 0;
        if ((rc = write_key(out, &need_comma[depth], p + leaf, f->path_len - leaf)))
            return rc;
        bool list = end - k > 1 || (f->flags & LF_FIELD_LIST);
        if (list && (rc = lf_buf_putc(out, '[')))
            return rc;
        for (size_t j = k; j < end; j++) {
            if (j > k && (rc = lf_buf_putc(out, ',')))
                return rc;
            const struct lf_field *v = &ev->fields[ev->order[j]];
            if (skel && !(v->flags & LF_FIELD_CONST)) {
                skel->cuts[skel->n] = (uint32_t)out->len;
                skel->order[skel->n++] = ev->order[j];
            } else if ((rc = write_value(out, v))) {
                return rc;
            }
        }
        if (list && (rc = lf_buf_putc(out, ']')))
            return rc;
        k = end;
    }
    for (; depth > 0; depth--)
        if ((rc = lf_buf_putc(out, '}')))
            return rc;
    return 0;
}

/* ---- layouts ------------------------------------------------------------ */

static bool layout_fits(const struct lf_event_layout *l, const struct lf_event *ev)
{
    if (!l || l->n != ev->nfields)
        return false;
    for (size_t k = 0; k < l->n; k++) {
        const struct layout_key *key = &l->keys[k];
        const struct lf_field *f = &ev->fields[k];
        if (key->path != f->path || key->path_len != f->path_len || key->flags != f->flags ||
            ((f->flags & LF_FIELD_CONST) && (key->const_str != f->str || key->const_len != f->len)))
            return false;
    }
    return true;
}

/* What layout_fits compares, folded into 32 bits. */
static uint32_t set_hash(const struct lf_event *ev)
{
    uint64_t h = ev->nfields;
    for (size_t k = 0; k < ev->nfields; k++) {
        const struct lf_field *f = &ev->fields[k];
        uint64_t v = (uint64_t)(uintptr_t)f->path ^ ((uint64_t)f->path_len << 48) ^
                     ((uint64_t)f->flags << 40);
        if (f->flags & LF_FIELD_CONST)
            v ^= (uint64_t)(uintptr_t)f->str * 31 + f->len;
        h = ((h << 7) | (h >> 57)) ^ v;
    }
    h *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32);
}

/* The first slot of the 2-way set of this hash. */
static unsigned set_of(uint32_t hash)
{
    return (hash % (LF_EVENT_LAYOUTS / 2)) * 2;
}

/* The layout for the event's set of fields, trying the last one used first
 * (a file's lines tend to come in runs of one shape); *hash is then the
 * set's hash, for make_layout. */
static struct lf_event_layout *find_layout(struct lf_event *ev, uint32_t *hash)
{
    if (layout_fits(ev->layouts[ev->layout_hit], ev))
        return ev->layouts[ev->layout_hit];
    uint32_t h = *hash = set_hash(ev);
    unsigned s = set_of(h);
    for (unsigned way = 0; way < 2; way++) {
        struct lf_event_layout *l = ev->layouts[s + way];
        if (l && l->hash == h && layout_fits(l, ev)) {
            if (way) { /* the newer one first */
                ev->layouts[s + 1] = ev->layouts[s];
                ev->layouts[s] = l;
            }
            ev->layout_hit = s;
            return l;
        }
    }
    return NULL;
}

/* Renders the skeleton of an event already sorted and free of conflicts,
 * keeping it first in its set (the older of the set's two goes). Returns
 * NULL when out of memory (the caller writes the slow way). */
static struct lf_event_layout *make_layout(struct lf_event *ev, uint32_t hash)
{
    size_t n = ev->nfields;
    struct lf_buf skel;
    lf_buf_init(&skel, 64 * 1024);
    struct skel_cuts sc = {malloc(n * sizeof(uint32_t)), malloc(n * sizeof(uint32_t)), 0};
    if (!sc.cuts || !sc.order || lf_buf_putc(&skel, '{') || write_fields(ev, &skel, &sc) ||
        lf_buf_putc(&skel, '}')) {
        free(sc.cuts);
        free(sc.order);
        lf_buf_free(&skel);
        return NULL;
    }
    /* One block: the struct, keys, order, cuts, then the text. */
    size_t size = sizeof(struct lf_event_layout) + n * sizeof(struct layout_key) +
                  2 * sc.n * sizeof(uint32_t) + skel.len;
    struct lf_event_layout *l = malloc(size);
    if (l) {
        l->hash = hash;
        l->n = (uint32_t)n;
        l->nvalues = sc.n;
        l->keys = (struct layout_key *)(l + 1);
        l->order = (uint32_t *)(l->keys + n);
        l->cuts = l->order + sc.n;
        l->skel = (char *)(l->cuts + sc.n);
        l->skel_len = (uint32_t)skel.len;
        for (size_t i = 0; i < n; i++) {
            const struct lf_field *f = &ev->fields[i];
            bool c = f->flags & LF_FIELD_CONST;
            l->keys[i] = (struct layout_key){f->path, f->path_len, f->flags, c ? f->str : NULL,
                                             c ? f->len : 0};
        }
        memcpy(l->order, sc.order, sc.n * sizeof(uint32_t));
        memcpy(l->cuts, sc.cuts, sc.n * sizeof(uint32_t));
        memcpy(l->skel, skel.data, skel.len);
        unsigned s = set_of(hash);
        free(ev->layouts[s + 1]);
        ev->layouts[s + 1] = ev->layouts[s];
        ev->layouts[s] = l;
        ev->layout_hit = s;
    }
    free(sc.cuts);
    free(sc.order);
    lf_buf_free(&skel);
    return l;
}

static int write_with_layout(const struct lf_event *ev, const struct lf_event_layout *l,
                             struct lf_buf *out)
{
    int rc = lf_buf_grow(out, l->skel_len);
    if (rc)
        return rc;
    uint32_t at = 0;
    for (uint32_t j = 0; j < l->nvalues; j++) {
        if ((rc = lf_buf_append(out, l->skel + at, l->cuts[j] - at)) ||
            (rc = write_value(out, &ev->fields[l->order[j]])))
            return rc;
        at = l->cuts[j];
    }
    return lf_buf_append(out, l->skel + at, l->skel_len - at);
}

int lf_event_write_json(struct lf_event *ev, struct lf_buf *out)
{
    int rc;

    uint32_t hash = 0;
    if (ev->stable_paths) {
        const struct lf_event_layout *l = find_layout(ev, &hash);
        if (l)
            return write_with_layout(ev, l, out);
    }
    sort_order(ev);
    unsigned dropped = drop_conflicts(ev);
    if (dropped) {
        ev->conflicts += dropped;
        if ((rc = lf_event_add_tag(ev, "_fieldconflict")))
            return rc;
        sort_order(ev);
    } else if (ev->stable_paths && ev->nfields) {
        const struct lf_event_layout *l = make_layout(ev, hash);
        if (l)
            return write_with_layout(ev, l, out);
    }
    if ((rc = lf_buf_putc(out, '{')) || (rc = write_fields(ev, out, NULL)))
        return rc;
    return lf_buf_putc(out, '}');
}
