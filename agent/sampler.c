/*
 * sampler.c - the load, memory and cpu metric sets, read from /proc and
 * computed exactly as Metricbeat's system module computes them, so that its
 * Kibana dashboards (and Kibana's Hosts UI) read our documents unchanged.
 *
 * Where the definitions come from (elastic/beats):
 *   load    metricbeat/module/system/load/load.go and
 *           libbeat/metric/system/cpu/cpu.go (Averages, NormalizedAverages):
 *           load.N = Round(loadavg N), load.norm.N = Round(loadavg N / cores),
 *           cores = online CPUs.
 *   memory  metricbeat/internal/metrics/memory/memory_linux.go and memory.go:
 *           used.bytes = MemTotal - MemFree; actual.free = MemAvailable, or
 *           MemFree + Buffers + Cached on kernels before 3.14 that lack it;
 *           actual.used.bytes = MemTotal - actual.free; swap.used.bytes =
 *           SwapTotal - SwapFree; every pct = Round(used / total), and
 *           swap.used.pct is left out when there is no swap; cached =
 *           Cached; hugepages.{total,free,reserved,surplus} are the
 *           HugePages_* counts, default_size = Hugepagesize, used.bytes =
 *           (total - free + reserved) * default_size, used.pct = (total -
 *           free + reserved) / total (0 without huge pages).
 *   cpu     metricbeat/internal/metrics/cpu/metrics.go and metrics_linux.go:
 *           ticks = user + nice + system + idle + iowait + irq + softirq +
 *           steal of the "cpu " line (guest time is already inside user);
 *           X.pct = Round(deltaX / deltaTicks * cores) (0..cores),
 *           X.norm.pct = Round(deltaX / deltaTicks) (0..1),
 *           total.pct = Round(cores - (idle.pct + iowait.pct)) (iowait counts
 *           as idle, beats issue #7627); cores = number of "cpuN" lines.
 *           Metricbeat emits .pct and .norm.pct by default; Kibana's Hosts UI
 *           graphs system.cpu.total.norm.pct.
 *   Round   libbeat/common/round.go: four decimals, half rounds up.
 *
 * Each file is opened once and re-read with one pread into a buffer sized at
 * create. /proc files are generated whole by one read (single_open), and a
 * second read at an offset would make the kernel generate them again, so the
 * sampler never reads twice: a read that fills the buffer means the file may
 * go on. For /proc/stat only the leading cpu lines matter, so a huge "intr"
 * line past the buffer is fine; cpu lines that do not fit are an error.
 * Parsing works in place, without allocation.
 */
#define _POSIX_C_SOURCE 200809L
#include "sampler.h"
#include "agent_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOADAVG_BUF 256u          /* "%lu.%02lu x3 %u/%d %d\n" is under 80 */
#define MEMINFO_BUF (16u * 1024u) /* ~1.5 KiB today, 60 lines */
/* The cpu lines of /proc/stat: a 256-CPU machine writes at most 256 lines of
 * 218 bytes (ten 20-digit counters), 56 KiB; typical lines are ~100 bytes, so
 * this also holds a 2048-CPU machine. Pages are touched only as far as the
 * file goes. */
#define STAT_BUF (256u * 1024u)

#define ALL_SETS (LF_METRIC_LOAD | LF_METRIC_MEMORY | LF_METRIC_CPU)
#define MSG_LEN 320

enum { T_USER, T_NICE, T_SYSTEM, T_IDLE, T_IOWAIT, T_IRQ, T_SOFTIRQ, T_STEAL, T_COUNT };

struct cpu_ticks {
    uint64_t t[T_COUNT];
};

struct proc_file {
    int fd;
    char *path;
    char *buf;
    size_t cap;
};

struct lf_sampler {
    unsigned sets;
    struct proc_file loadavg, meminfo, stat;
    unsigned cores;        /* cpuN lines at the last read of stat */
    struct cpu_ticks prev; /* the previous cpu sample */
    int have_prev;
    char msg[MSG_LEN];       /* the reason of the last failure */
    char logged[3][MSG_LEN]; /* per set: the failure last logged */
};

/* A field path with its length, known at compile time. */
struct path {
    const char *s;
    uint32_t len;
};
/* clang-format off */
#define P(lit) {lit, sizeof(lit) - 1}
/* clang-format on */

/* ---- errors ------------------------------------------------------------ */

static int fail(struct lf_sampler *s, const struct proc_file *f, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records "path: reason" (or the reason alone, without a file) as the reason
 * of the current failure; returns rc. */
static int fail(struct lf_sampler *s, const struct proc_file *f, int rc, const char *fmt, ...)
{
    int n = f ? snprintf(s->msg, sizeof(s->msg), "%s: ", f->path) : 0;
    if (n < 0 || (size_t)n >= sizeof(s->msg))
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg + n, sizeof(s->msg) - (size_t)n, fmt, ap);
    va_end(ap);
    return rc;
}

static int set_index(unsigned set)
{
    return set == LF_METRIC_LOAD ? 0 : set == LF_METRIC_MEMORY ? 1 : 2;
}

static const char *set_name(unsigned set)
{
    static const char *const names[] = {"load", "memory", "cpu"};
    return names[set_index(set)];
}

/* Logs a failure once, not at every interval, and says when it is over. */
static void report(struct lf_sampler *s, unsigned set, int rc)
{
    char *last = s->logged[set_index(set)];
    if (rc == 0 || rc == LF_ENOENT) {
        if (last[0]) {
            lf_log(LF_LOG_INFO, "sampler", "%s metrics are back (were failing: %s)", set_name(set),
                   last);
            last[0] = '\0';
        }
        return;
    }
    if (strcmp(last, s->msg) == 0)
        return;
    lf_log(LF_LOG_ERROR, "sampler", "%s metrics: %s (%s)", set_name(set), s->msg, lf_strerror(rc));
    memcpy(last, s->msg, sizeof(s->msg));
}

/* ---- reading ----------------------------------------------------------- */

static int file_open(struct lf_sampler *s, struct proc_file *f, const char *root, const char *name,
                     size_t cap)
{
    size_t n = strlen(root) + 1 + strlen(name) + 1;
    f->path = malloc(n);
    f->buf = malloc(cap);
    if (!f->path || !f->buf)
        return fail(s, NULL, LF_ENOMEM, "out of memory");
    snprintf(f->path, n, "%s/%s", root, name);
    f->cap = cap;
    f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0)
        return fail(s, f, errno == ENOENT ? LF_ENOENT : LF_EIO, "cannot open: %s", strerror(errno));
    return 0;
}

static void file_close(struct proc_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    free(f->buf);
}

/*
 * Reads the file from its start with one pread. Sets *len, and *cut when the
 * buffer filled up (the file may go on past it). Returns 0, LF_EIO or
 * LF_ESYNTAX for an empty file.
 */
static int file_read(struct lf_sampler *s, struct proc_file *f, size_t *len, int *cut)
{
    ssize_t n;
    do
        n = pread(f->fd, f->buf, f->cap, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return fail(s, f, LF_EIO, "read failed: %s", strerror(errno));
    if (n == 0)
        return fail(s, f, LF_ESYNTAX, "empty");
    *len = (size_t)n;
    *cut = (size_t)n == f->cap;
    return 0;
}

/* ---- parsing ----------------------------------------------------------- */

/* Lines of a buffer. When the buffer was cut, a last line without newline may
 * go on past it, so it is not returned and `partial` is set instead. */
struct lines {
    const char *p, *end;
    int cut, partial;
};

static int next_line(struct lines *it, const char **b, const char **e)
{
    if (it->p >= it->end)
        return 0;
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    if (!nl) {
        if (it->cut) {
            it->partial = 1;
            return 0;
        }
        nl = it->end;
    }
    *b = it->p;
    *e = nl;
    it->p = nl < it->end ? nl + 1 : nl;
    return 1;
}

static const char *skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Parses decimal digits at *p into *v; returns 0, -1 if there is no digit,
 * or -2 if the value does not fit in 64 bits. */
static int parse_u64(const char **p, const char *end, uint64_t *v)
{
    const char *q = *p;
    uint64_t x = 0;
    if (q >= end || !is_digit(*q))
        return -1;
    for (; q < end && is_digit(*q); q++) {
        unsigned d = (unsigned)(*q - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -2;
        x = x * 10 + d;
    }
    *p = q;
    *v = x;
    return 0;
}

/*
 * Parses "12.34" exactly as Go's ParseFloat would: with at most 15 digits
 * the digits form an integer below 2^53 and the power of ten is exact, so
 * one division gives the correctly rounded double. Locale-independent.
 */
static int parse_decimal(const char **p, const char *end, double *v)
{
    static const double tens[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    const char *q = *p;
    uint64_t m = 0;
    int digits = 0, frac = 0;
    for (; q < end && is_digit(*q); q++, digits++)
        m = m * 10 + (uint64_t)(*q - '0');
    if (digits == 0)
        return -1;
    if (q < end && *q == '.') {
        for (q++; q < end && is_digit(*q); q++, digits++, frac++)
            m = m * 10 + (uint64_t)(*q - '0');
        if (frac == 0)
            return -1;
    }
    if (digits > 15)
        return -1;
    *v = (double)m / tens[frac];
    *p = q;
    return 0;
}

#define EXCERPT 41

/* Copies the start of the first line of [b, e) for a message: at most 40
 * bytes, anything unprintable as '?', so a log line stays one line. */
static const char *excerpt(char out[EXCERPT], const char *b, const char *e)
{
    size_t n = 0;
    for (; b < e && *b != '\n' && n < EXCERPT - 1; b++)
        out[n++] = *b >= 0x20 && *b < 0x7f ? *b : '?';
    out[n] = '\0';
    return out;
}

/* Metricbeat's common.Round(v, 4): half of the last place rounds up. */
static double mb_round(double v)
{
    double digit = 10000.0 * v, whole;
    double r = modf(digit, &whole) >= 0.5 ? ceil(digit) : floor(digit);
    return r / 10000.0;
}

/* ---- event ------------------------------------------------------------- */

static void put_int(struct lf_field *f, struct path p, int64_t v)
{
    *f = (struct lf_field){.path = p.s, .path_len = p.len, .type = LF_VAL_INT, .v.i = v};
}

static void put_float(struct lf_field *f, struct path p, double v)
{
    *f = (struct lf_field){.path = p.s, .path_len = p.len, .type = LF_VAL_FLOAT, .v.f = v};
}

static void put_dataset(struct lf_field *f, const char *name)
{
    *f = (struct lf_field){.path = "event.dataset",
                           .path_len = sizeof("event.dataset") - 1,
                           .type = LF_VAL_STRING,
                           .str = name,
                           .len = strlen(name)};
}

/* Makes room for n fields first, so that a failure leaves the event and the
 * sampler as they were. */
static int reserve(struct lf_sampler *s, struct lf_event *ev, size_t n)
{
    int rc = lf_event_reserve(ev, n);
    if (rc)
        return fail(s, NULL, rc, "cannot add %zu fields to the event", n);
    return 0;
}

/* ---- load -------------------------------------------------------------- */

static int read_loadavg(struct lf_sampler *s, double load[3])
{
    struct proc_file *f = &s->loadavg;
    size_t len;
    int cut;
    int rc = file_read(s, f, &len, &cut);
    if (rc)
        return rc;
    if (cut)
        return fail(s, f, LF_ELIMIT, "longer than the %zu-byte buffer", f->cap);
    const char *p = f->buf, *end = f->buf + len;
    for (int i = 0; i < 3; i++) {
        p = skip_blanks(p, end);
        if (parse_decimal(&p, end, &load[i]) || p == end || (*p != ' ' && *p != '\t')) {
            char what[EXCERPT];
            return fail(s, f, LF_ESYNTAX, "expected three load averages, found \"%s\"",
                        excerpt(what, f->buf, end));
        }
    }
    return 0;
}

/* Returns 1 if [b, e) starts like a "cpuN" line, 0 if not, -1 if it is too
 * short to tell. */
static int cpu_line_start(const char *b, const char *e)
{
    static const char want[] = "cpu";
    for (int i = 0; i < 4; i++) {
        if (b + i >= e)
            return -1;
        if (i < 3 ? b[i] != want[i] : !is_digit(b[i]))
            return 0;
    }
    return 1;
}

/*
 * Reads the aggregate cpu line and counts the cpuN lines that follow it.
 * Stops at the first line that is not a cpu line; only that part of the file
 * has to fit in the buffer.
 */
static int read_stat(struct lf_sampler *s, struct cpu_ticks *ticks, unsigned *cores)
{
    struct proc_file *f = &s->stat;
    size_t len;
    int cut;
    int rc = file_read(s, f, &len, &cut);
    if (rc)
        return rc;
    struct lines it = {.p = f->buf, .end = f->buf + len, .cut = cut};
    const char *b, *e;
    if (!next_line(&it, &b, &e))
        return fail(s, f, LF_ELIMIT, "first line longer than the %zu-byte buffer", f->cap);
    if (e - b < 4 || memcmp(b, "cpu ", 4) != 0) {
        char what[EXCERPT];
        return fail(s, f, LF_ESYNTAX, "first line is not the \"cpu \" line: \"%s\"",
                    excerpt(what, b, e));
    }
    struct cpu_ticks t = {{0}};
    int n = 0;
    for (const char *p = skip_blanks(b + 4, e); p < e; p = skip_blanks(p, e), n++) {
        uint64_t v;
        int bad = parse_u64(&p, e, &v);
        if (bad || (p < e && *p != ' ' && *p != '\t'))
            return fail(s, f, LF_ESYNTAX, "\"cpu \" line: value %d %s", n + 1,
                        bad == -2 ? "out of range" : "is not a number");
        if (n < T_COUNT)
            t.t[n] = v;
    }
    if (n < 4)
        return fail(s, f, LF_ESYNTAX, "\"cpu \" line has %d values, want at least 4", n);
    unsigned count = 0;
    while (next_line(&it, &b, &e) && cpu_line_start(b, e) == 1)
        count++;
    /* The line the buffer ends in: its start may say it is past the cpu
     * lines (the long "intr" line of a machine with many interrupts). */
    if (it.partial && cpu_line_start(it.p, it.end) != 0)
        return fail(s, f, LF_ELIMIT, "more cpu lines than fit in the %zu-byte buffer", f->cap);
    if (count == 0)
        return fail(s, f, LF_ESYNTAX, "no per-CPU \"cpuN\" lines");
    *ticks = t;
    *cores = count;
    return 0;
}

static int collect_load(struct lf_sampler *s, struct lf_event *ev)
{
    static const struct path one = P("system.load.1"), five = P("system.load.5"),
                             fifteen = P("system.load.15"), n1 = P("system.load.norm.1"),
                             n5 = P("system.load.norm.5"), n15 = P("system.load.norm.15"),
                             cores = P("system.load.cores");
    double load[3];
    int rc = reserve(s, ev, 8);
    if (!rc)
        rc = read_loadavg(s, load);
    /* With the cpu set on, its reads of /proc/stat keep the count fresh (one
     * interval old at most) and a sample of all sets reads the file once. */
    if (!rc && !(s->sets & LF_METRIC_CPU)) {
        struct cpu_ticks t;
        rc = read_stat(s, &t, &s->cores);
    }
    if (rc)
        return rc;
    double n = (double)s->cores;
    struct lf_field *f = ev->fields + ev->nfields;
    put_dataset(f++, "system.load");
    put_float(f++, one, mb_round(load[0]));
    put_float(f++, five, mb_round(load[1]));
    put_float(f++, fifteen, mb_round(load[2]));
    put_float(f++, n1, mb_round(load[0] / n));
    put_float(f++, n5, mb_round(load[1] / n));
    put_float(f++, n15, mb_round(load[2] / n));
    put_int(f++, cores, (int64_t)s->cores);
    ev->nfields = (size_t)(f - ev->fields);
    return 0;
}

/* ---- memory ------------------------------------------------------------ */

enum {
    M_TOTAL,
    M_FREE,
    M_AVAIL,
    M_BUFFERS,
    M_CACHED,
    M_SWAP_TOTAL,
    M_SWAP_FREE,
    M_HP_TOTAL,
    M_HP_FREE,
    M_HP_RSVD,
    M_HP_SURP,
    M_HP_SIZE,
    M_COUNT
};

struct meminfo {
    uint64_t v[M_COUNT]; /* bytes */
    unsigned have;       /* bit per M_* found */
};

static int read_meminfo(struct lf_sampler *s, struct meminfo *m)
{
    static const struct path keys[M_COUNT] = {
        P("MemTotal"),       P("MemFree"),        P("MemAvailable"),   P("Buffers"),
        P("Cached"),         P("SwapTotal"),      P("SwapFree"),       P("HugePages_Total"),
        P("HugePages_Free"), P("HugePages_Rsvd"), P("HugePages_Surp"), P("Hugepagesize")};
    struct proc_file *f = &s->meminfo;
    size_t len;
    int cut;
    int rc = file_read(s, f, &len, &cut);
    if (rc)
        return rc;
    struct lines it = {.p = f->buf, .end = f->buf + len, .cut = cut};
    const char *b, *e;
    m->have = 0;
    while (m->have != (1u << M_COUNT) - 1 && next_line(&it, &b, &e)) {
        const char *colon = memchr(b, ':', (size_t)(e - b));
        if (!colon)
            continue;
        size_t klen = (size_t)(colon - b);
        int k = 0;
        while (k < M_COUNT && (keys[k].len != klen || memcmp(keys[k].s, b, klen) != 0))
            k++;
        if (k == M_COUNT || (m->have & (1u << k)))
            continue;
        const char *p = skip_blanks(colon + 1, e);
        uint64_t v;
        int bad = parse_u64(&p, e, &v);
        if (bad)
            return fail(s, f, LF_ESYNTAX, "%s: %s", keys[k].s,
                        bad == -2 ? "value out of range" : "not a number");
        p = skip_blanks(p, e);
        if (e - p >= 2 && p[0] == 'k' && p[1] == 'B') {
            if (v > (uint64_t)INT64_MAX / 1024)
                return fail(s, f, LF_ESYNTAX, "%s: %" PRIu64 " kB is out of range", keys[k].s, v);
            v *= 1024;
        } else if (v > (uint64_t)INT64_MAX) {
            return fail(s, f, LF_ESYNTAX, "%s: value out of range", keys[k].s);
        }
        m->v[k] = v;
        m->have |= 1u << k;
    }
    /* A line not found may lie past the buffer. */
    if (it.partial && m->have != (1u << M_COUNT) - 1)
        return fail(s, f, LF_ELIMIT, "longer than the %zu-byte buffer", f->cap);
    unsigned need = 1u << M_TOTAL | 1u << M_FREE;
    if ((m->have & need) != need)
        return fail(s, f, LF_ESYNTAX, "no %s line",
                    m->have & (1u << M_TOTAL) ? "MemFree" : "MemTotal");
    if (m->v[M_TOTAL] == 0)
        return fail(s, f, LF_ESYNTAX, "MemTotal is 0");
    if (m->v[M_FREE] > m->v[M_TOTAL])
        return fail(s, f, LF_ESYNTAX, "MemFree is larger than MemTotal");
    return 0;
}

static int collect_memory(struct lf_sampler *s, struct lf_event *ev)
{
    static const struct path total = P("system.memory.total"), free_ = P("system.memory.free"),
                             used = P("system.memory.used.bytes"),
                             used_pct = P("system.memory.used.pct"),
                             afree = P("system.memory.actual.free"),
                             aused = P("system.memory.actual.used.bytes"),
                             aused_pct = P("system.memory.actual.used.pct"),
                             stotal = P("system.memory.swap.total"),
                             sfree = P("system.memory.swap.free"),
                             sused = P("system.memory.swap.used.bytes"),
                             sused_pct = P("system.memory.swap.used.pct"),
                             cached = P("system.memory.cached"),
                             hp_total = P("system.memory.hugepages.total"),
                             hp_free = P("system.memory.hugepages.free"),
                             hp_rsvd = P("system.memory.hugepages.reserved"),
                             hp_surp = P("system.memory.hugepages.surplus"),
                             hp_size = P("system.memory.hugepages.default_size"),
                             hp_used = P("system.memory.hugepages.used.bytes"),
                             hp_used_pct = P("system.memory.hugepages.used.pct");
    struct meminfo m;
    int rc = reserve(s, ev, 21);
    if (!rc)
        rc = read_meminfo(s, &m);
    if (rc)
        return rc;
    uint64_t t = m.v[M_TOTAL];
    uint64_t mused = t - m.v[M_FREE];
    uint64_t actual_free = m.have & (1u << M_AVAIL)
                               ? m.v[M_AVAIL]
                               : m.v[M_FREE] + (m.have & (1u << M_BUFFERS) ? m.v[M_BUFFERS] : 0) +
                                     (m.have & (1u << M_CACHED) ? m.v[M_CACHED] : 0);
    uint64_t actual_used = actual_free < t ? t - actual_free : 0;

    struct lf_field *f = ev->fields + ev->nfields;
    put_dataset(f++, "system.memory");
    put_int(f++, total, (int64_t)t);
    put_int(f++, free_, (int64_t)m.v[M_FREE]);
    put_int(f++, used, (int64_t)mused);
    put_float(f++, used_pct, mb_round((double)mused / (double)t));
    put_int(f++, afree, (int64_t)actual_free);
    put_int(f++, aused, (int64_t)actual_used);
    put_float(f++, aused_pct, mb_round((double)actual_used / (double)t));
    unsigned swap = 1u << M_SWAP_TOTAL | 1u << M_SWAP_FREE;
    if ((m.have & swap) == swap) {
        uint64_t st = m.v[M_SWAP_TOTAL], sf = m.v[M_SWAP_FREE];
        if (sf > st) /* seen in the wild; Metricbeat then takes all swap as free */
            sf = st;
        put_int(f++, stotal, (int64_t)st);
        put_int(f++, sfree, (int64_t)sf);
        put_int(f++, sused, (int64_t)(st - sf));
        if (st)
            put_float(f++, sused_pct, mb_round((double)(st - sf) / (double)st));
    }
    if (m.have & (1u << M_CACHED))
        put_int(f++, cached, (int64_t)m.v[M_CACHED]);
    unsigned hp =
        1u << M_HP_TOTAL | 1u << M_HP_FREE | 1u << M_HP_RSVD | 1u << M_HP_SURP | 1u << M_HP_SIZE;
    if ((m.have & hp) == hp) {
        /* Metricbeat: pages in use are those not free plus those reserved
         * for mappings not yet faulted in; bytes at the default size. */
        uint64_t ht = m.v[M_HP_TOTAL], hf = m.v[M_HP_FREE], hr = m.v[M_HP_RSVD];
        uint64_t hused = hf <= ht ? ht - hf + hr : hr;
        uint64_t size = m.v[M_HP_SIZE];
        put_int(f++, hp_total, (int64_t)ht);
        put_int(f++, hp_free, (int64_t)hf);
        put_int(f++, hp_rsvd, (int64_t)hr);
        put_int(f++, hp_surp, (int64_t)m.v[M_HP_SURP]);
        put_int(f++, hp_size, (int64_t)size);
        put_int(f++, hp_used,
                size && hused > (uint64_t)INT64_MAX / size ? INT64_MAX : (int64_t)(hused * size));
        put_float(f++, hp_used_pct, ht ? mb_round((double)hused / (double)ht) : 0.0);
    }
    ev->nfields = (size_t)(f - ev->fields);
    return 0;
}

/* ---- cpu --------------------------------------------------------------- */

static uint64_t ticks_total(const struct cpu_ticks *t)
{
    uint64_t sum = 0;
    for (int i = 0; i < T_COUNT; i++)
        sum += t->t[i];
    return sum;
}

/* Metricbeat's cpuMetricTimeDelta: a counter that went back gives a negative
 * share, as there. */
static double share(uint64_t prev, uint64_t cur, uint64_t delta, double ncpu)
{
    double pct = (double)(int64_t)(cur - prev) / (double)delta;
    return mb_round(pct * ncpu);
}

static int collect_cpu(struct lf_sampler *s, struct lf_event *ev)
{
    static const struct path pct[T_COUNT] = {
        P("system.cpu.user.pct"),    P("system.cpu.nice.pct"),   P("system.cpu.system.pct"),
        P("system.cpu.idle.pct"),    P("system.cpu.iowait.pct"), P("system.cpu.irq.pct"),
        P("system.cpu.softirq.pct"), P("system.cpu.steal.pct")};
    static const struct path norm[T_COUNT] = {
        P("system.cpu.user.norm.pct"),    P("system.cpu.nice.norm.pct"),
        P("system.cpu.system.norm.pct"),  P("system.cpu.idle.norm.pct"),
        P("system.cpu.iowait.norm.pct"),  P("system.cpu.irq.norm.pct"),
        P("system.cpu.softirq.norm.pct"), P("system.cpu.steal.norm.pct")};
    static const struct path total = P("system.cpu.total.pct"),
                             total_norm = P("system.cpu.total.norm.pct"),
                             cores = P("system.cpu.cores");
    struct cpu_ticks cur;
    unsigned ncores;
    int rc = reserve(s, ev, 4 + 2 * T_COUNT);
    if (!rc)
        rc = read_stat(s, &cur, &ncores);
    if (rc)
        return rc;
    s->cores = ncores;
    uint64_t now = ticks_total(&cur), before = ticks_total(&s->prev);
    int first = !s->have_prev;
    struct cpu_ticks prev = s->prev;
    s->prev = cur;
    s->have_prev = 1;
    /* No previous sample, no tick since it, or counters that went back (a
     * restored snapshot): no interval to divide by. The next call has one. */
    if (first || now <= before)
        return LF_ENOENT;

    uint64_t delta = now - before;
    double n = (double)ncores;
    double p[T_COUNT], q[T_COUNT];
    for (int i = 0; i < T_COUNT; i++) {
        p[i] = share(prev.t[i], cur.t[i], delta, n);
        q[i] = share(prev.t[i], cur.t[i], delta, 1.0);
    }
    struct lf_field *f = ev->fields + ev->nfields;
    put_dataset(f++, "system.cpu");
    put_int(f++, cores, (int64_t)ncores);
    put_float(f++, total, mb_round(n - (p[T_IDLE] + p[T_IOWAIT])));
    put_float(f++, total_norm, mb_round(1.0 - (q[T_IDLE] + q[T_IOWAIT])));
    for (int i = 0; i < T_COUNT; i++) {
        put_float(f++, pct[i], p[i]);
        put_float(f++, norm[i], q[i]);
    }
    ev->nfields = (size_t)(f - ev->fields);
    return 0;
}

/* ---- create, collect, destroy ------------------------------------------ */

/* Which sets use each file, named for messages. */
static const char *users(unsigned sets)
{
    switch (sets & ALL_SETS) {
    case LF_METRIC_LOAD:
        return "load";
    case LF_METRIC_MEMORY:
        return "memory";
    case LF_METRIC_CPU:
        return "cpu";
    default:
        return "load and cpu";
    }
}

struct lf_sampler *lf_sampler_create(const char *proc_root, unsigned sets, char *errbuf,
                                     size_t errlen)
{
    if (!proc_root || !*proc_root)
        proc_root = "/proc";
    if (sets == 0 || (sets & ~(unsigned)ALL_SETS)) {
        snprintf(errbuf, errlen, "sampler: metric sets 0x%x: want a mix of load, memory, cpu",
                 sets);
        return NULL;
    }
    struct lf_sampler *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(errbuf, errlen, "sampler: out of memory");
        return NULL;
    }
    s->sets = sets;
    s->loadavg.fd = s->meminfo.fd = s->stat.fd = -1;

    /* Each file is opened and read once now, so that a missing or unreadable
     * file fails here, naming the set it belongs to, not at every interval. */
    unsigned stat_users = sets & (LF_METRIC_LOAD | LF_METRIC_CPU);
    const char *who = "";
    int rc = 0;
    struct cpu_ticks t;
    if (!rc && (sets & LF_METRIC_LOAD)) {
        double load[3];
        who = users(LF_METRIC_LOAD);
        rc = file_open(s, &s->loadavg, proc_root, "loadavg", LOADAVG_BUF);
        if (!rc)
            rc = read_loadavg(s, load);
    }
    if (!rc && (sets & LF_METRIC_MEMORY)) {
        struct meminfo m;
        who = users(LF_METRIC_MEMORY);
        rc = file_open(s, &s->meminfo, proc_root, "meminfo", MEMINFO_BUF);
        if (!rc)
            rc = read_meminfo(s, &m);
    }
    if (!rc && stat_users) {
        who = users(stat_users);
        rc = file_open(s, &s->stat, proc_root, "stat", STAT_BUF);
        if (!rc)
            rc = read_stat(s, &t, &s->cores);
    }
    if (rc) {
        snprintf(errbuf, errlen, "%s metrics: %s", who, s->msg);
        lf_sampler_destroy(s);
        return NULL;
    }
    return s;
}

void lf_sampler_destroy(struct lf_sampler *s)
{
    if (!s)
        return;
    file_close(&s->loadavg);
    file_close(&s->meminfo);
    file_close(&s->stat);
    free(s);
}

int lf_sampler_collect(struct lf_sampler *s, unsigned set, struct lf_event *ev)
{
    if (!s || !ev || !(s->sets & set))
        return LF_EINVAL;
    int rc;
    switch (set) {
    case LF_METRIC_LOAD:
        rc = collect_load(s, ev);
        break;
    case LF_METRIC_MEMORY:
        rc = collect_memory(s, ev);
        break;
    case LF_METRIC_CPU:
        rc = collect_cpu(s, ev);
        break;
    default:
        return LF_EINVAL;
    }
    report(s, set, rc);
    return rc;
}
