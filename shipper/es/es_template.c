/*
 * es_template.c - builds the composable index template for one index
 * prefix from typed field declarations: logferry's own fields, the
 * Metricbeat system-module metrics and whatever the grammars declare with
 * :int or :float.
 *
 * Declarations are kept in one array sorted with lf_path_compare(), which
 * puts a path right before its children, so the nested "properties" objects
 * are written in one walk, and keys come out in the order jansson's
 * JSON_SORT_KEYS gives: the same declarations always give the same bytes.
 * The same order makes the two questions of a new path cheap: is it there
 * already (binary search), and would it be a value and an object at once
 * (its first successor is a child, or one of its prefixes is a value).
 *
 * Why these types: JSON numbers from grammars are long or double. The
 * metrics take Metricbeat's types, so that its dashboards and an index
 * holding both agents' documents agree: every *.pct is scaled_float with
 * scaling_factor 1000 (stored to 0.1 %; the sampler sends four decimals, so
 * the index rounds the last one), system.load.* is half_float, bytes and
 * counts are long, names keyword. Merging a grammar's long or double with
 * one of those keeps the Metricbeat type. Every keyword has ignore_above
 * 1024, as Beats does, because a term over 32766 bytes fails the whole
 * document while a long value past the limit is only left unindexed.
 * date_detection is off so that a string field that first looks like a date
 * stays a keyword, instead of rejecting every later document where it does
 * not.
 *
 * lf_es_template_for_grammars() and lf_es_template_body() put it together
 * the way the output installs it, for `logferry check --print-template`.
 */
#define _POSIX_C_SOURCE 200809L
#include "es_template.h"
#include "es_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *path;
    size_t len;
    enum lf_es_ftype type;
};

struct lf_es_template {
    struct entry *e; /* sorted by lf_path_compare */
    size_t n, cap;
    char *lifecycle; /* index.lifecycle.name written into the settings; NULL: none */
};

struct lf_es_template *lf_es_template_create(void)
{
    return calloc(1, sizeof(struct lf_es_template));
}

void lf_es_template_destroy(struct lf_es_template *t)
{
    if (t)
        free(t->lifecycle);
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->e[i].path);
    free(t->e);
    free(t);
}

const char *lf_es_ftype_name(enum lf_es_ftype type)
{
    switch (type) {
    case LF_ES_KEYWORD:
        return "keyword";
    case LF_ES_TEXT:
        return "text";
    case LF_ES_LONG:
        return "long";
    case LF_ES_DOUBLE:
        return "double";
    case LF_ES_DATE:
        return "date";
    case LF_ES_BOOLEAN:
        return "boolean";
    case LF_ES_IP:
        return "ip";
    case LF_ES_SCALED_FLOAT:
        return "scaled_float";
    case LF_ES_HALF_FLOAT:
        return "half_float";
    }
    return "keyword";
}

enum lf_es_ftype lf_es_ftype_of_grok(enum lf_grok_field_type type)
{
    switch (type) {
    case LF_GROK_FIELD_INT:
        return LF_ES_LONG;
    case LF_GROK_FIELD_FLOAT:
        return LF_ES_DOUBLE;
    default:
        return LF_ES_KEYWORD;
    }
}

/* Binary search: returns true if found; *pos is its index, or where it goes. */
static bool find(const struct lf_es_template *t, const char *path, size_t len, size_t *pos)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = lf_path_compare(t->e[mid].path, t->e[mid].len, path, len);
        if (c == 0) {
            *pos = mid;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return false;
}

#define SHOWN(len) ((int)((len) > 200 ? 200 : (len)))

static int check_path(const char *path, size_t len, char *errbuf, size_t errlen)
{
    bool ok = len > 0 && path[0] != '.' && path[len - 1] != '.' && lf_utf8_valid(path, len);
    for (size_t i = 0; ok && i < len; i++)
        ok = (unsigned char)path[i] >= 0x20 && path[i] != 0x7f &&
             !(path[i] == '.' && i + 1 < len && path[i + 1] == '.');
    if (ok)
        return 0;
    snprintf(errbuf, errlen, "invalid field name '%.*s' (empty part, control byte or bad UTF-8)",
             SHOWN(len), path);
    return LF_EINVAL;
}

/* The type a second declaration leaves, or -1 if the two do not merge. */
static int merged(enum lf_es_ftype have, enum lf_es_ftype add)
{
    if (have == add)
        return (int)have;
    bool plain_have = have == LF_ES_LONG || have == LF_ES_DOUBLE;
    bool plain_add = add == LF_ES_LONG || add == LF_ES_DOUBLE;
    bool small_have = have == LF_ES_SCALED_FLOAT || have == LF_ES_HALF_FLOAT;
    bool small_add = add == LF_ES_SCALED_FLOAT || add == LF_ES_HALF_FLOAT;
    if (plain_have && plain_add)
        return LF_ES_DOUBLE;
    /* A metric's declared type wins over a grammar's plain number, in
     * either order; two different narrow types widen to double. */
    if (small_have && plain_add)
        return (int)have;
    if (plain_have && small_add)
        return (int)add;
    if (small_have && small_add)
        return LF_ES_DOUBLE;
    if ((have == LF_ES_KEYWORD && add == LF_ES_TEXT) ||
        (have == LF_ES_TEXT && add == LF_ES_KEYWORD))
        return (int)have;
    return -1;
}

/* A value at path[0..len) next to an object there: a declared prefix of the
 * path, or a declared child (which, if any, is the first successor). */
static const struct entry *object_clash(const struct lf_es_template *t, const char *path,
                                        size_t len, size_t pos)
{
    if (pos < t->n && t->e[pos].len > len && t->e[pos].path[len] == '.' &&
        memcmp(t->e[pos].path, path, len) == 0)
        return &t->e[pos];
    for (size_t i = 0; i < len; i++) {
        size_t at;
        if (path[i] == '.' && find(t, path, i, &at))
            return &t->e[at];
    }
    return NULL;
}

int lf_es_template_add(struct lf_es_template *t, const char *path, size_t len,
                       enum lf_es_ftype type, char *errbuf, size_t errlen)
{
    int rc = check_path(path, len, errbuf, errlen);
    if (rc)
        return rc;
    size_t pos;
    if (find(t, path, len, &pos)) {
        struct entry *e = &t->e[pos];
        int m = merged(e->type, type);
        if (m >= 0) {
            e->type = (enum lf_es_ftype)m;
            return 0;
        }
        snprintf(errbuf, errlen, "field '%.*s' is mapped as %s; its declaration as %s is ignored",
                 SHOWN(len), path, lf_es_ftype_name(e->type), lf_es_ftype_name(type));
        return LF_ECONFLICT;
    }
    const struct entry *clash = object_clash(t, path, len, pos);
    if (clash) {
        snprintf(errbuf, errlen,
                 "field '%.*s' would be both a value and an object (beside '%.*s'); it is left "
                 "out",
                 SHOWN(len), path, SHOWN(clash->len), clash->path);
        return LF_ECONFLICT;
    }
    if (t->n >= LF_ES_TEMPLATE_MAX_FIELDS) {
        snprintf(errbuf, errlen, "more than %d fields in one template", LF_ES_TEMPLATE_MAX_FIELDS);
        return LF_ELIMIT;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct entry *e = realloc(t->e, cap * sizeof(*e));
        if (!e)
            goto nomem;
        t->e = e;
        t->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        goto nomem;
    memcpy(copy, path, len);
    copy[len] = '\0';
    memmove(t->e + pos + 1, t->e + pos, (t->n - pos) * sizeof(*t->e));
    t->e[pos] = (struct entry){copy, len, type};
    t->n++;
    return 0;
nomem:
    snprintf(errbuf, errlen, "out of memory");
    return LF_ENOMEM;
}

#define F(p, ty)                                                                                   \
    {                                                                                              \
        p, sizeof(p) - 1, LF_ES_##ty                                                               \
    }

/* What the agent puts in events itself: agent/pipeline.c (common fields),
 * tail_file.c, in_omprog.c (rsyslog properties), journald_map.c (journal
 * entries) and sampler.c (metrics). */
static const struct lf_es_field_type builtin[] = {
    F("@timestamp", DATE),
    F("message", TEXT),
    F("tags", KEYWORD),
    F("agent.type", KEYWORD),
    F("agent.version", KEYWORD),
    F("event.created", DATE),
    F("event.dataset", KEYWORD),
    F("event.original", KEYWORD),
    F("host.hostname", KEYWORD),
    F("host.name", KEYWORD),
    F("log.file.path", KEYWORD),
    F("log.offset", LONG),
    F("log.source.address", KEYWORD),
    F("log.syslog.appname", KEYWORD),
    F("log.syslog.facility.code", LONG),
    F("log.syslog.facility.name", KEYWORD),
    F("log.syslog.msgid", KEYWORD),
    F("log.syslog.priority", LONG),
    F("log.syslog.procid", KEYWORD),
    F("log.syslog.severity.code", LONG),
    F("log.syslog.severity.name", KEYWORD),
    F("process.name", KEYWORD),
    F("process.pid", LONG),
    F("system.syslog.structured_data", KEYWORD),
    F("system.syslog.version", KEYWORD),
    F("systemd.transport", KEYWORD),
    F("systemd.unit", KEYWORD),
    F("systemd.user_unit", KEYWORD),
    /* load: the averages and their per-core share, as Metricbeat rounds them */
    F("system.load.1", HALF_FLOAT),
    F("system.load.5", HALF_FLOAT),
    F("system.load.15", HALF_FLOAT),
    F("system.load.norm.1", HALF_FLOAT),
    F("system.load.norm.5", HALF_FLOAT),
    F("system.load.norm.15", HALF_FLOAT),
    F("system.load.cores", LONG),
    /* memory: bytes, and pct as fractions 0..1 */
    F("system.memory.total", LONG),
    F("system.memory.free", LONG),
    F("system.memory.used.bytes", LONG),
    F("system.memory.used.pct", SCALED_FLOAT),
    F("system.memory.actual.free", LONG),
    F("system.memory.actual.used.bytes", LONG),
    F("system.memory.actual.used.pct", SCALED_FLOAT),
    F("system.memory.swap.total", LONG),
    F("system.memory.swap.free", LONG),
    F("system.memory.swap.used.bytes", LONG),
    F("system.memory.swap.used.pct", SCALED_FLOAT),
    /* cpu: pct is 0..cores, norm.pct 0..1 */
    F("system.cpu.cores", LONG),
    F("system.cpu.total.pct", SCALED_FLOAT),
    F("system.cpu.total.norm.pct", SCALED_FLOAT),
    F("system.cpu.user.pct", SCALED_FLOAT),
    F("system.cpu.user.norm.pct", SCALED_FLOAT),
    F("system.cpu.nice.pct", SCALED_FLOAT),
    F("system.cpu.nice.norm.pct", SCALED_FLOAT),
    F("system.cpu.system.pct", SCALED_FLOAT),
    F("system.cpu.system.norm.pct", SCALED_FLOAT),
    F("system.cpu.idle.pct", SCALED_FLOAT),
    F("system.cpu.idle.norm.pct", SCALED_FLOAT),
    F("system.cpu.iowait.pct", SCALED_FLOAT),
    F("system.cpu.iowait.norm.pct", SCALED_FLOAT),
    F("system.cpu.irq.pct", SCALED_FLOAT),
    F("system.cpu.irq.norm.pct", SCALED_FLOAT),
    F("system.cpu.softirq.pct", SCALED_FLOAT),
    F("system.cpu.softirq.norm.pct", SCALED_FLOAT),
    F("system.cpu.steal.pct", SCALED_FLOAT),
    F("system.cpu.steal.norm.pct", SCALED_FLOAT),
    F("system.memory.cached", LONG),
    F("system.memory.hugepages.total", LONG),
    F("system.memory.hugepages.free", LONG),
    F("system.memory.hugepages.reserved", LONG),
    F("system.memory.hugepages.surplus", LONG),
    F("system.memory.hugepages.default_size", LONG),
    F("system.memory.hugepages.used.bytes", LONG),
    F("system.memory.hugepages.used.pct", SCALED_FLOAT),
    /* Metricbeat's envelope (agent/in_metrics.c, hostinfo.c) */
    F("ecs.version", KEYWORD),
    F("event.duration", LONG),
    F("event.module", KEYWORD),
    F("metricset.name", KEYWORD),
    F("metricset.period", LONG),
    F("service.type", KEYWORD),
    F("host.architecture", KEYWORD),
    F("host.os.codename", KEYWORD),
    F("host.os.family", KEYWORD),
    F("host.os.kernel", KEYWORD),
    F("host.os.name", KEYWORD),
    F("host.os.platform", KEYWORD),
    F("host.os.type", KEYWORD),
    F("host.os.version", KEYWORD),
    /* network, diskio, filesystem, fsstat, uptime (agent/sysmetrics.c) */
    F("system.network.name", KEYWORD),
    F("system.network.in.bytes", LONG),
    F("system.network.in.packets", LONG),
    F("system.network.in.errors", LONG),
    F("system.network.in.dropped", LONG),
    F("system.network.out.bytes", LONG),
    F("system.network.out.packets", LONG),
    F("system.network.out.errors", LONG),
    F("system.network.out.dropped", LONG),
    F("system.diskio.name", KEYWORD),
    F("system.diskio.read.count", LONG),
    F("system.diskio.read.bytes", LONG),
    F("system.diskio.read.time", LONG),
    F("system.diskio.write.count", LONG),
    F("system.diskio.write.bytes", LONG),
    F("system.diskio.write.time", LONG),
    F("system.diskio.io.ops", LONG),
    F("system.diskio.io.time", LONG),
    F("system.filesystem.device_name", KEYWORD),
    F("system.filesystem.mount_point", KEYWORD),
    F("system.filesystem.type", KEYWORD),
    F("system.filesystem.total", LONG),
    F("system.filesystem.free", LONG),
    F("system.filesystem.available", LONG),
    F("system.filesystem.used.bytes", LONG),
    F("system.filesystem.used.pct", SCALED_FLOAT),
    F("system.filesystem.files", LONG),
    F("system.filesystem.free_files", LONG),
    F("system.fsstat.count", LONG),
    F("system.fsstat.total_files", LONG),
    F("system.fsstat.total_size.free", LONG),
    F("system.fsstat.total_size.used", LONG),
    F("system.fsstat.total_size.total", LONG),
    F("system.uptime.duration.ms", LONG),
    /* process_summary, process */
    F("system.process.summary.total", LONG),
    F("system.process.summary.running", LONG),
    F("system.process.summary.sleeping", LONG),
    F("system.process.summary.idle", LONG),
    F("system.process.summary.stopped", LONG),
    F("system.process.summary.zombie", LONG),
    F("system.process.summary.dead", LONG),
    F("system.process.summary.unknown", LONG),
    F("process.parent.pid", LONG),
    F("process.pgid", LONG),
    F("process.state", KEYWORD),
    F("process.command_line", KEYWORD),
    F("process.cpu.pct", SCALED_FLOAT),
    F("process.cpu.start_time", DATE),
    F("process.memory.pct", SCALED_FLOAT),
    F("user.name", KEYWORD),
    F("system.process.state", KEYWORD),
    F("system.process.cmdline", KEYWORD),
    F("system.process.cpu.total.value", LONG),
    F("system.process.cpu.user.ticks", LONG),
    F("system.process.cpu.system.ticks", LONG),
    F("system.process.cpu.total.ticks", LONG),
    F("system.process.cpu.total.pct", SCALED_FLOAT),
    F("system.process.cpu.total.norm.pct", SCALED_FLOAT),
    F("system.process.cpu.start_time", DATE),
    F("system.process.memory.size", LONG),
    F("system.process.memory.rss.bytes", LONG),
    F("system.process.memory.rss.pct", SCALED_FLOAT),
    F("system.process.memory.share", LONG),
};

int lf_es_template_add_builtin(struct lf_es_template *t)
{
    char err[256];
    int result = 0;
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
        const struct lf_es_field_type *f = &builtin[i];
        int rc = lf_es_template_add(t, f->path, f->path_len, f->type, err, sizeof(err));
        if (rc == LF_ECONFLICT)
            result = rc;
        else if (rc)
            return rc;
    }
    return result;
}

/* Appends msg to errbuf after a "; ", as far as it fits. */
static void append_message(char *errbuf, size_t errlen, const char *msg, bool first)
{
    if (!errlen)
        return;
    size_t used = first ? 0 : strlen(errbuf);
    if (used < errlen)
        snprintf(errbuf + used, errlen - used, "%s%s", first ? "" : "; ", msg);
}

int lf_es_template_add_grok(struct lf_es_template *t, const lf_grok *g, char *errbuf, size_t errlen)
{
    char msg[512];
    const char *path;
    size_t len;
    enum lf_grok_field_type gt;
    int result = 0;
    for (size_t i = 0; lf_grok_field(g, i, &path, &len, &gt) == 0; i++) {
        int rc = lf_es_template_add(t, path, len, lf_es_ftype_of_grok(gt), msg, sizeof(msg));
        if (rc == LF_ECONFLICT) {
            append_message(errbuf, errlen, msg, result == 0);
            result = rc;
        } else if (rc) {
            snprintf(errbuf, errlen, "%s", msg);
            return rc;
        }
    }
    return result;
}

int lf_es_template_type(const struct lf_es_template *t, const char *path, size_t len,
                        enum lf_es_ftype *type)
{
    size_t pos;
    if (!find(t, path, len, &pos))
        return LF_ENOENT;
    *type = t->e[pos].type;
    return 0;
}

size_t lf_es_template_count(const struct lf_es_template *t)
{
    return t->n;
}

/* ---- writing ------------------------------------------------------------ */

static size_t part_end(const char *path, size_t len, size_t from)
{
    const char *dot = memchr(path + from, '.', len - from);
    return dot ? (size_t)(dot - path) : len;
}

static int write_key(struct lf_buf *b, bool comma, const char *s, size_t n)
{
    int rc = comma ? lf_buf_putc(b, ',') : 0;
    if (!rc)
        rc = lf_json_write_string(b, s, n);
    if (!rc)
        rc = lf_buf_putc(b, ':');
    return rc;
}

static int write_mapping(struct lf_buf *b, enum lf_es_ftype type)
{
    if (type == LF_ES_KEYWORD)
        return lf_buf_puts(b, "{\"ignore_above\":1024,\"type\":\"keyword\"}");
    if (type == LF_ES_SCALED_FLOAT)
        return lf_buf_puts(b, "{\"scaling_factor\":1000,\"type\":\"scaled_float\"}");
    return lf_buf_printf(b, "{\"type\":\"%s\"}", lf_es_ftype_name(type));
}

/* The sorted paths as nested "properties" objects. `open` counts the objects
 * of the previous path still open; leaving one closes its properties and
 * itself. */
static int write_properties(const struct lf_es_template *t, struct lf_buf *b)
{
    int rc = lf_buf_puts(b, "\"properties\":{");
    const struct entry *prev = NULL;
    size_t open = 0;
    for (size_t i = 0; !rc && i < t->n; i++) {
        const struct entry *e = &t->e[i];
        size_t common = 0, off = 0;
        while (common < open) {
            size_t pe = part_end(prev->path, prev->len, off);
            size_t ce = part_end(e->path, e->len, off);
            if (ce == e->len || pe != ce || memcmp(prev->path + off, e->path + off, ce - off))
                break;
            common++;
            off = ce + 1;
        }
        for (; !rc && open > common; open--)
            rc = lf_buf_puts(b, "}}");
        bool comma = prev != NULL; /* this object holds prev or its ancestor */
        size_t end;
        while (!rc && (end = part_end(e->path, e->len, off)) < e->len) {
            rc = write_key(b, comma, e->path + off, end - off);
            if (!rc)
                rc = lf_buf_puts(b, "{\"properties\":{");
            comma = false;
            open++;
            off = end + 1;
        }
        if (!rc)
            rc = write_key(b, comma, e->path + off, e->len - off);
        if (!rc)
            rc = write_mapping(b, e->type);
        prev = e;
    }
    for (; !rc && open > 0; open--)
        rc = lf_buf_puts(b, "}}");
    return rc ? rc : lf_buf_putc(b, '}');
}

/* Strings become keywords, except fields named "message", which are text
 * like the top-level one. The first rule that matches wins. */
static const char dynamic_templates[] =
    "\"dynamic_templates\":["
    "{\"message_as_text\":{\"mapping\":{\"type\":\"text\"},\"match\":\"message\","
    "\"match_mapping_type\":\"string\"}},"
    "{\"strings_as_keyword\":{\"mapping\":{\"ignore_above\":1024,\"type\":\"keyword\"},"
    "\"match_mapping_type\":\"string\"}}]";

/* The mapping's own keys, without braces: the same in both template APIs. */
static int write_mapping_keys(const struct lf_es_template *t, struct lf_buf *b)
{
    int rc = lf_buf_puts(b, "\"date_detection\":false,");
    if (!rc)
        rc = lf_buf_puts(b, dynamic_templates);
    if (!rc)
        rc = lf_buf_putc(b, ',');
    if (!rc)
        rc = write_properties(t, b);
    return rc;
}

int lf_es_template_set_lifecycle(struct lf_es_template *t, const char *policy)
{
    char *copy = NULL;
    if (policy && !(copy = strdup(policy)))
        return LF_ENOMEM;
    free(t->lifecycle);
    t->lifecycle = copy;
    return 0;
}

/* ,"settings":{...} when a lifecycle policy is set (keys sorted: it comes
 * after "mappings" in both APIs). */
static int write_settings(const struct lf_es_template *t, struct lf_buf *b)
{
    if (!t->lifecycle)
        return 0;
    int rc = lf_buf_puts(b, ",\"settings\":{\"index\":{\"lifecycle\":{\"name\":");
    if (!rc)
        rc = lf_json_write_string(b, t->lifecycle, strlen(t->lifecycle));
    if (!rc)
        rc = lf_buf_puts(b, "}}}");
    return rc;
}

/* Everything after "_meta", without the opening brace. */
static int write_rest(const struct lf_es_template *t, const char *index_wildcard, int priority,
                      struct lf_buf *b)
{
    int rc = lf_buf_puts(b, "\"index_patterns\":[");
    if (!rc)
        rc = lf_json_write_string(b, index_wildcard, strlen(index_wildcard));
    if (!rc)
        rc = lf_buf_printf(b, "],\"priority\":%d,\"template\":{\"mappings\":{", priority);
    if (!rc)
        rc = write_mapping_keys(t, b);
    if (!rc)
        rc = lf_buf_putc(b, '}');
    if (!rc)
        rc = write_settings(t, b);
    if (!rc)
        rc = lf_buf_puts(b, "}}");
    return rc;
}

uint64_t lf_es_fnv1a64(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3u;
    }
    return h;
}

int lf_es_template_write(const struct lf_es_template *t, const char *index_wildcard, int priority,
                         struct lf_buf *out)
{
    if (!index_wildcard || !*index_wildcard || priority < 0)
        return LF_EINVAL;
    size_t start = out->len;
    struct lf_buf rest;
    lf_buf_init(&rest, out->max);
    int rc = write_rest(t, index_wildcard, priority, &rest);
    if (!rc)
        rc = lf_buf_printf(out, "{\"_meta\":{\"fingerprint\":\"%016" PRIx64 "\",",
                           lf_es_fnv1a64(rest.data, rest.len));
    if (!rc)
        rc = lf_buf_puts(out, "\"logferry_version\":");
    if (!rc)
        rc = lf_json_write_string(out, LF_VERSION, strlen(LF_VERSION));
    if (!rc)
        rc = lf_buf_puts(out, ",\"managed_by\":\"logferry\"},");
    if (!rc)
        rc = lf_buf_append(out, rest.data, rest.len);
    lf_buf_free(&rest);
    if (rc && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}

/* "_meta" as both APIs carry it, with the fingerprint of `rest`. */
static int write_meta(struct lf_buf *out, const struct lf_buf *rest)
{
    int rc = lf_buf_printf(out, "\"_meta\":{\"fingerprint\":\"%016" PRIx64 "\",",
                           lf_es_fnv1a64(rest->data, rest->len));
    if (!rc)
        rc = lf_buf_puts(out, "\"logferry_version\":");
    if (!rc)
        rc = lf_json_write_string(out, LF_VERSION, strlen(LF_VERSION));
    if (!rc)
        rc = lf_buf_puts(out, ",\"managed_by\":\"logferry\"}");
    return rc;
}

int lf_es_template_write_legacy(const struct lf_es_template *t, const char *index_wildcard,
                                int order, const char *type, struct lf_buf *out)
{
    if (!index_wildcard || !*index_wildcard || order < 0)
        return LF_EINVAL;
    size_t start = out->len;
    struct lf_buf keys, fp;
    lf_buf_init(&keys, out->max);
    lf_buf_init(&fp, out->max);
    /* The fingerprint covers what the composable one does: patterns, order,
     * type and mapping. */
    int rc = write_mapping_keys(t, &keys);
    if (!rc)
        rc = lf_buf_printf(&fp, "%d/%s/%s/%s/", order, type ? type : "", index_wildcard,
                           t->lifecycle ? t->lifecycle : "");
    if (!rc)
        rc = lf_buf_append(&fp, keys.data, keys.len);
    if (!rc)
        rc = lf_buf_puts(out, "{\"index_patterns\":[");
    if (!rc)
        rc = lf_json_write_string(out, index_wildcard, strlen(index_wildcard));
    if (!rc)
        rc = lf_buf_puts(out, "],\"mappings\":{");
    if (!rc && type) {
        rc = lf_json_write_string(out, type, strlen(type));
        if (!rc)
            rc = lf_buf_puts(out, ":{");
    }
    if (!rc)
        rc = write_meta(out, &fp);
    if (!rc)
        rc = lf_buf_putc(out, ',');
    if (!rc)
        rc = lf_buf_append(out, keys.data, keys.len);
    if (!rc)
        rc = lf_buf_puts(out, type ? "}}" : "}");
    if (!rc)
        rc = lf_buf_printf(out, ",\"order\":%d", order);
    if (!rc)
        rc = write_settings(t, out);
    if (!rc)
        rc = lf_buf_putc(out, '}');
    lf_buf_free(&keys);
    lf_buf_free(&fp);
    if (rc && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}

int lf_es_template_priority(const char *index_wildcard)
{
    size_t n = strlen(index_wildcard);
    return LF_ES_TEMPLATE_PRIORITY + (int)(n < 255 ? n : 255);
}

struct lf_es_template *lf_es_template_for_grammars(const lf_grok *const *groks,
                                                   const char *const *names, size_t n, char *errbuf,
                                                   size_t errlen)
{
    struct lf_es_template *t = lf_es_template_create();
    int rc = t ? lf_es_template_add_builtin(t) : LF_ENOMEM;
    for (size_t i = 0; (!rc || rc == LF_ECONFLICT) && i < n; i++) {
        char why[512];
        if (!groks[i])
            continue;
        rc = lf_es_template_add_grok(t, groks[i], why, sizeof(why));
        /* A clash is the operator's to fix in the grammars; the template
         * still maps everything else. */
        if (rc == LF_ECONFLICT)
            lf_log(LF_LOG_WARN, "es", "grammar %s: %s", names ? names[i] : "?", why);
        else if (rc)
            snprintf(errbuf, errlen, "grammar %s: %s", names ? names[i] : "?", why);
    }
    if (rc && rc != LF_ECONFLICT) {
        if (rc == LF_ENOMEM)
            snprintf(errbuf, errlen, "out of memory");
        lf_es_template_destroy(t);
        return NULL;
    }
    return t;
}

int lf_es_template_body(const struct lf_es_template *t, const char *index_pattern,
                        const char *prefix, struct lf_buf *out, char *errbuf, size_t errlen)
{
    char err[512], wildcard[LF_ES_INDEX_MAX + 1];
    struct lf_es_index_pattern *p = lf_es_index_pattern_compile(
        index_pattern ? index_pattern : "%{prefix}-%{+YYYY.MM.dd}", err, sizeof(err));
    if (!p) {
        snprintf(errbuf, errlen, "index: %s", err);
        return strcmp(err, "out of memory") == 0 ? LF_ENOMEM : LF_EINVAL;
    }
    size_t n = lf_es_index_wildcard(p, wildcard, sizeof(wildcard), prefix);
    lf_es_index_pattern_free(p);
    if (!n) {
        snprintf(errbuf, errlen, "prefix '%s' makes no valid index name", prefix);
        return LF_EINVAL;
    }
    int rc = lf_es_template_write(t, wildcard, lf_es_template_priority(wildcard), out);
    if (rc)
        snprintf(errbuf, errlen, "cannot write the template: %s", lf_strerror(rc));
    return rc;
}

/* The _meta of a legacy template's mappings: at the top, or under the one
 * mapping type (6.8 answers with the type unless include_type_name=false). */
static json_t *legacy_meta(json_t *mappings)
{
    json_t *meta = json_object_get(mappings, "_meta");
    if (!meta && json_object_size(mappings) == 1)
        meta = json_object_get(json_object_iter_value(json_object_iter(mappings)), "_meta");
    return meta;
}

/* The _meta of a template, as GET answers it (answer) or as we write it. */
static json_t *template_meta(enum lf_es_api api, json_t *got, bool answer)
{
    if (api == LF_ES_API_COMPOSABLE)
        return answer
                   ? json_object_get(
                         json_object_get(json_array_get(json_object_get(got, "index_templates"), 0),
                                         "index_template"),
                         "_meta")
                   : json_object_get(got, "_meta");
    /* GET _template/<name> answers {"<name>": {...}} */
    json_t *t = answer ? json_object_iter_value(json_object_iter(got)) : got;
    return legacy_meta(json_object_get(t, "mappings"));
}

enum lf_es_tmpl_state lf_es_template_judge(enum lf_es_api api, const char *answer, size_t len,
                                           const char *mine, size_t mine_len)
{
    json_error_t err;
    json_t *got = json_loadb(answer, len, 0, &err);
    json_t *meta = template_meta(api, got, true);
    const char *by = json_string_value(json_object_get(meta, "managed_by"));
    enum lf_es_tmpl_state st = LF_ES_TMPL_FOREIGN;
    if (by && strcmp(by, "logferry") == 0) {
        json_t *my = json_loadb(mine, mine_len, 0, &err);
        const char *a = json_string_value(json_object_get(meta, "fingerprint"));
        const char *b =
            json_string_value(json_object_get(template_meta(api, my, false), "fingerprint"));
        st = a && b && strcmp(a, b) == 0 ? LF_ES_TMPL_CURRENT : LF_ES_TMPL_STALE;
        json_decref(my);
    }
    json_decref(got);
    return st;
}
