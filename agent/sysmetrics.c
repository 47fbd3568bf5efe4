/*
 * sysmetrics.c - network, diskio, filesystem, fsstat, process_summary,
 * process and uptime, read from /proc and computed as Metricbeat's system
 * module computes them (elastic/beats, metricbeat/module/system/<set>/ and
 * the libraries it calls), so that its dashboards read our documents:
 *
 *   network   /proc/net/dev counters as they are (cumulative since boot):
 *             in.{bytes,packets,errors,dropped} are the receive columns 1-4,
 *             out.* the transmit columns 9-12. Every interface, lo included.
 *   diskio    /proc/diskstats: read.count = reads completed, read.bytes =
 *             sectors read * 512 (the kernel's unit, whatever the device's),
 *             read.time = ms reading; write.* the same; io.time = ms doing
 *             I/O, io.ops = I/Os in progress. Devices that never did a read
 *             or a write (unused loop and ram devices) are left out.
 *   filesystem one event per mount of /proc/self/mounts whose type is not
 *             "nodev" in /proc/filesystems (Metricbeat's default
 *             ignore_types), from statvfs: total = blocks * frsize, free =
 *             bfree * frsize, available = bavail * frsize, used.bytes =
 *             total - free, used.pct = Round(used / (used + available)),
 *             files, free_files. A mount statvfs refuses is skipped.
 *   fsstat    count of those file systems, total_files, total_size.{free,
 *             used, total}: the sums.
 *   process_summary  one /proc/<pid>/stat per process, counted by state:
 *             R running, S and D sleeping, I idle, T and t stopped, Z
 *             zombie, X dead, anything else unknown.
 *   process   cpu.total.value = ms of user + system time (and user.ticks,
 *             system.ticks, total.ticks: the same in ms); cpu.total.pct =
 *             Round(delta value / delta wall ms) (0..cores), norm.pct the
 *             same / cores; memory.size = vsize, rss.bytes = rss pages *
 *             page size, rss.pct = Round(rss / MemTotal), share = statm's
 *             shared pages * page size. The top N by cpu.total.pct and the
 *             top N by rss go out (the union), as Metricbeat's include_top_n.
 *   uptime    duration.ms = /proc/uptime's first number in ms.
 *   Round     libbeat/common/round.go: four decimals, half rounds up.
 *
 * Cost: fixed files stay open and are re-read with one pread into a buffer
 * that grows only when a file outgrows it. The process sets open, read and
 * close one small file per process into a stack buffer; the process table is
 * two arrays kept between samples (this one and the previous), so a sample
 * allocates nothing once the process count is stable. Only the N chosen
 * processes have their cmdline, statm and owner read.
 */
#define _POSIX_C_SOURCE 200809L
#include "sysmetrics.h"
#include "agent_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define SYS_SETS                                                                                   \
    (LF_METRIC_NETWORK | LF_METRIC_DISKIO | LF_METRIC_FILESYSTEM | LF_METRIC_FSSTAT |              \
     LF_METRIC_PROCESS_SUMMARY | LF_METRIC_PROCESS | LF_METRIC_UPTIME)
#define NSETS 7
#define MSG_LEN 320
#define FILE_MAX (4u * 1024u * 1024u) /* no /proc table we read comes near */
#define PID_STAT_BUF 1024             /* a stat line is under 400 bytes */
#define CMDLINE_MAX 2048
#define ROOT_MAX 4000
/* How old a process table process_summary read may be for the process set
 * to take it instead of walking /proc again (the two run back to back). */
#define TABLE_REUSE_MS 1000

struct file {
    int fd;
    char *path;
    char *buf;
    size_t cap;
};

struct proc {
    int pid, ppid, pgid;
    char state;
    char comm[17];
    uint64_t utime, stime;
    uint64_t ticks; /* utime + stime */
    uint64_t start; /* ticks after boot */
    uint64_t vsize, rss;
    double pct; /* 0..cores, this sample */
    int picked;
};

struct lf_sysmetrics {
    unsigned sets;
    unsigned top_n;
    char *root;
    struct file netdev, diskstats, mounts, filesystems, uptime, meminfo;
    unsigned cores;
    int64_t boot_s; /* btime of /proc/stat */
    long hz, page;
    /* process: this sample's table and the previous one, sorted by pid */
    struct proc *cur, *prev;
    size_t ncur, nprev, cap_cur, cap_prev;
    int64_t prev_ms;
    int have_prev;
    int table_fresh; /* process_summary filled cur at table_ms */
    int64_t table_ms;
    struct proc **top; /* 2 * top_n */
    char *pwbuf;
    size_t pwlen;
    char msg[MSG_LEN];
    char logged[NSETS][MSG_LEN];
};

struct path {
    const char *s;
    uint32_t len;
};
/* clang-format off */
#define P(lit) {lit, sizeof(lit) - 1}
/* clang-format on */

/* ---- errors ------------------------------------------------------------ */

static int fail(struct lf_sysmetrics *m, const char *path, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct lf_sysmetrics *m, const char *path, int rc, const char *fmt, ...)
{
    int n = path ? snprintf(m->msg, sizeof(m->msg), "%s: ", path) : 0;
    if (n < 0 || (size_t)n >= sizeof(m->msg))
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->msg + n, sizeof(m->msg) - (size_t)n, fmt, ap);
    va_end(ap);
    return rc;
}

static int set_index(unsigned set)
{
    int i = 0;
    for (unsigned b = LF_METRIC_NETWORK; b && b != set; b <<= 1)
        i++;
    return i < NSETS ? i : 0;
}

static const char *const set_names[NSETS] = {"network",         "diskio",  "filesystem", "fsstat",
                                             "process_summary", "process", "uptime"};

/* Logs a failure once, not at every interval, and says when it is over. */
static void report(struct lf_sysmetrics *m, unsigned set, int rc)
{
    int i = set_index(set);
    char *last = m->logged[i];
    if (rc == 0 || rc == LF_ENOENT) {
        if (last[0]) {
            lf_log(LF_LOG_INFO, "sampler", "%s metrics are back (were failing: %s)", set_names[i],
                   last);
            last[0] = '\0';
        }
        return;
    }
    if (strcmp(last, m->msg) == 0)
        return;
    lf_log(LF_LOG_ERROR, "sampler", "%s metrics: %s (%s)", set_names[i], m->msg, lf_strerror(rc));
    memcpy(last, m->msg, sizeof(m->msg));
}

/* ---- files ------------------------------------------------------------- */

static int file_open(struct lf_sysmetrics *m, struct file *f, const char *name, size_t cap)
{
    size_t n = strlen(m->root) + 1 + strlen(name) + 1;
    f->path = malloc(n);
    f->buf = malloc(cap);
    if (!f->path || !f->buf)
        return fail(m, NULL, LF_ENOMEM, "out of memory");
    snprintf(f->path, n, "%s/%s", m->root, name);
    f->cap = cap;
    f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0)
        return fail(m, f->path, errno == ENOENT ? LF_ENOENT : LF_EIO, "cannot open: %s",
                    strerror(errno));
    return 0;
}

static void file_close(struct file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    free(f->buf);
}

/*
 * Reads the whole file with one pread from offset 0 (a /proc file is made
 * whole at each read from its start). A read that fills the buffer may have
 * been cut: the buffer doubles and the file is read again, so this happens
 * once per growth of the file, not per sample. The text is NUL-terminated.
 */
static int file_read(struct lf_sysmetrics *m, struct file *f, size_t *len)
{
    for (;;) {
        ssize_t n;
        do
            n = pread(f->fd, f->buf, f->cap - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return fail(m, f->path, LF_EIO, "read failed: %s", strerror(errno));
        if ((size_t)n < f->cap - 1) {
            f->buf[n] = '\0';
            *len = (size_t)n;
            return 0;
        }
        if (f->cap >= FILE_MAX)
            return fail(m, f->path, LF_ELIMIT, "longer than %u bytes", FILE_MAX);
        char *b = realloc(f->buf, f->cap * 2);
        if (!b)
            return fail(m, f->path, LF_ENOMEM, "out of memory");
        f->buf = b;
        f->cap *= 2;
    }
}

/* Reads a small file by path into buf (NUL-terminated); returns the length
 * or -1 (the process went away, or no permission: not an error). */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = read(fd, buf, cap - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* ---- parsing ----------------------------------------------------------- */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Parses the decimal number at *p (after blanks); -1 if there is none or it
 * does not fit in 63 bits, so that every value is a JSON long. */
static int num(const char **p, uint64_t *v)
{
    const char *q = skip_blanks(*p);
    uint64_t x = 0;
    if (!is_digit(*q))
        return -1;
    for (; is_digit(*q); q++) {
        unsigned d = (unsigned)(*q - '0');
        if (x > ((uint64_t)INT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *p = q;
    *v = x;
    return 0;
}

/* Metricbeat's common.Round(v, 4): half of the last place rounds up. */
static double mb_round(double v)
{
    double digit = 10000.0 * v, whole;
    double r = modf(digit, &whole) >= 0.5 ? ceil(digit) : floor(digit);
    return r / 10000.0;
}

/* Decodes the octal escapes (\040 for a space) of a mounts field in place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* Splits a line at blanks in place: up to max fields; returns how many. */
static int split(char *line, char **out, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        out[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

/* ---- event ------------------------------------------------------------- */

static void put_int(struct lf_event *ev, struct path p, int64_t v)
{
    ev->fields[ev->nfields++] =
        (struct lf_field){.path = p.s, .path_len = p.len, .type = LF_VAL_INT, .v.i = v};
}

static void put_float(struct lf_event *ev, struct path p, double v)
{
    ev->fields[ev->nfields++] =
        (struct lf_field){.path = p.s, .path_len = p.len, .type = LF_VAL_FLOAT, .v.f = v};
}

static void put_str(struct lf_event *ev, struct path p, const char *s)
{
    ev->fields[ev->nfields++] = (struct lf_field){
        .path = p.s, .path_len = p.len, .type = LF_VAL_STRING, .str = s, .len = strlen(s)};
}

/* Clears ev and makes room for n fields plus event.dataset. */
static int begin(struct lf_sysmetrics *m, struct lf_event *ev, size_t n, const char *dataset)
{
    static const struct path ds = P("event.dataset");
    lf_event_clear(ev);
    int rc = lf_event_reserve(ev, n + 1);
    if (rc)
        return fail(m, NULL, rc, "cannot add %zu fields to the event", n + 1);
    put_str(ev, ds, dataset);
    return 0;
}

/* ---- network ----------------------------------------------------------- */

static int collect_network(struct lf_sysmetrics *m, struct lf_event *ev, lf_sysmetrics_emit_fn emit,
                           void *arg)
{
    static const struct path name = P("system.network.name");
    static const struct path f[8] = {
        P("system.network.in.bytes"),   P("system.network.in.packets"),
        P("system.network.in.errors"),  P("system.network.in.dropped"),
        P("system.network.out.bytes"),  P("system.network.out.packets"),
        P("system.network.out.errors"), P("system.network.out.dropped")};
    static const int column[8] = {0, 1, 2, 3, 8, 9, 10, 11};
    size_t len;
    int rc = file_read(m, &m->netdev, &len);
    if (rc)
        return rc;
    char *p = m->netdev.buf;
    for (int lineno = 0; *p; lineno++) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        char *line = p;
        p = nl ? nl + 1 : p + strlen(p);
        char *colon = strchr(line, ':');
        if (lineno < 2 || !colon) /* the two header lines */
            continue;
        *colon = '\0';
        char *iface = (char *)skip_blanks(line);
        uint64_t v[16];
        const char *q = colon + 1;
        for (int i = 0; i < 16; i++)
            if (num(&q, &v[i]))
                return fail(m, m->netdev.path, LF_ESYNTAX, "%s: expected 16 counters", iface);
        rc = begin(m, ev, 9, "system.network");
        if (rc)
            return rc;
        put_str(ev, name, iface);
        for (int i = 0; i < 8; i++)
            put_int(ev, f[i], (int64_t)v[column[i]]);
        rc = emit(arg, ev, iface);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- diskio ------------------------------------------------------------ */

static int collect_diskio(struct lf_sysmetrics *m, struct lf_event *ev, lf_sysmetrics_emit_fn emit,
                          void *arg)
{
    static const struct path name = P("system.diskio.name"), rcount = P("system.diskio.read.count"),
                             rbytes = P("system.diskio.read.bytes"),
                             rtime = P("system.diskio.read.time"),
                             wcount = P("system.diskio.write.count"),
                             wbytes = P("system.diskio.write.bytes"),
                             wtime = P("system.diskio.write.time"),
                             ioops = P("system.diskio.io.ops"), iotime = P("system.diskio.io.time");
    size_t len;
    int rc = file_read(m, &m->diskstats, &len);
    if (rc)
        return rc;
    char *p = m->diskstats.buf;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        char *line = p;
        p = nl ? nl + 1 : p + strlen(p);
        char *tok[14];
        int n = split(line, tok, 14);
        if (n == 0)
            continue;
        if (n < 14)
            continue; /* a partition line of a kernel before 2.6.25 */
        uint64_t v[14] = {0};
        int bad = 0;
        for (int i = 3; i < n && !bad; i++) {
            const char *q = tok[i];
            bad = num(&q, &v[i]) || *q;
        }
        if (bad)
            return fail(m, m->diskstats.path, LF_ESYNTAX, "line for %s: expected 14 fields",
                        n > 2 ? tok[2] : "?");
        /* fields: 3 reads, 5 sectors read, 6 ms reading, 7 writes, 9 sectors
         * written, 10 ms writing, 11 I/Os in progress, 12 ms doing I/O */
        if (v[3] == 0 && v[7] == 0)
            continue;
        if (v[5] > (uint64_t)INT64_MAX / 512 || v[9] > (uint64_t)INT64_MAX / 512)
            return fail(m, m->diskstats.path, LF_ESYNTAX, "%s: sector count out of range", tok[2]);
        rc = begin(m, ev, 9, "system.diskio");
        if (rc)
            return rc;
        put_str(ev, name, tok[2]);
        put_int(ev, rcount, (int64_t)v[3]);
        put_int(ev, rbytes, (int64_t)(v[5] * 512));
        put_int(ev, rtime, (int64_t)v[6]);
        put_int(ev, wcount, (int64_t)v[7]);
        put_int(ev, wbytes, (int64_t)(v[9] * 512));
        put_int(ev, wtime, (int64_t)v[10]);
        put_int(ev, ioops, (int64_t)v[11]);
        put_int(ev, iotime, (int64_t)v[12]);
        rc = emit(arg, ev, tok[2]);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- filesystem, fsstat ------------------------------------------------ */

/* Is `type` a "nodev" line of /proc/filesystems (read in m->filesystems)? */
static int is_nodev(const struct lf_sysmetrics *m, size_t fslen, const char *type)
{
    const char *p = m->filesystems.buf, *end = p + fslen;
    size_t tlen = strlen(type);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (e - p > 5 && memcmp(p, "nodev", 5) == 0) {
            const char *t = p + 5;
            while (t < e && (*t == ' ' || *t == '\t'))
                t++;
            if ((size_t)(e - t) == tlen && memcmp(t, type, tlen) == 0)
                return 1;
        }
        p = e + 1;
    }
    return 0;
}

struct fs_sample {
    const char *device, *mount, *type;
    uint64_t total, free, avail, files, ffree;
};

typedef int (*fs_fn)(struct lf_sysmetrics *m, const struct fs_sample *fs, void *ctx);

/* Calls fn for each real file system statvfs answers for. */
static int walk_filesystems(struct lf_sysmetrics *m, fs_fn fn, void *ctx)
{
    size_t fslen, len;
    int rc = file_read(m, &m->filesystems, &fslen);
    if (!rc)
        rc = file_read(m, &m->mounts, &len);
    if (rc)
        return rc;
    char *p = m->mounts.buf;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        char *line = p;
        p = nl ? nl + 1 : p + strlen(p);
        char *tok[3];
        if (split(line, tok, 3) < 3 || is_nodev(m, fslen, tok[2]))
            continue;
        unescape(tok[0]);
        unescape(tok[1]);
        struct statvfs st;
        if (statvfs(tok[1], &st) != 0)
            continue; /* gone, or not ours to see: Metricbeat skips it too */
        uint64_t bs = st.f_frsize ? st.f_frsize : st.f_bsize;
        struct fs_sample fs = {.device = tok[0],
                               .mount = tok[1],
                               .type = tok[2],
                               .total = (uint64_t)st.f_blocks * bs,
                               .free = (uint64_t)st.f_bfree * bs,
                               .avail = (uint64_t)st.f_bavail * bs,
                               .files = st.f_files,
                               .ffree = st.f_ffree};
        if (fs.free > fs.total)
            fs.free = fs.total;
        rc = fn(m, &fs, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

struct fs_emit {
    struct lf_event *ev;
    lf_sysmetrics_emit_fn emit;
    void *arg;
};

static int emit_filesystem(struct lf_sysmetrics *m, const struct fs_sample *fs, void *ctx)
{
    static const struct path dev = P("system.filesystem.device_name"),
                             mnt = P("system.filesystem.mount_point"),
                             type = P("system.filesystem.type"),
                             total = P("system.filesystem.total"),
                             free_ = P("system.filesystem.free"),
                             avail = P("system.filesystem.available"),
                             used = P("system.filesystem.used.bytes"),
                             used_pct = P("system.filesystem.used.pct"),
                             files = P("system.filesystem.files"),
                             ffree = P("system.filesystem.free_files");
    struct fs_emit *e = ctx;
    int rc = begin(m, e->ev, 10, "system.filesystem");
    if (rc)
        return rc;
    uint64_t u = fs->total - fs->free;
    put_str(e->ev, dev, fs->device);
    put_str(e->ev, mnt, fs->mount);
    put_str(e->ev, type, fs->type);
    put_int(e->ev, total, (int64_t)fs->total);
    put_int(e->ev, free_, (int64_t)fs->free);
    put_int(e->ev, avail, (int64_t)fs->avail);
    put_int(e->ev, used, (int64_t)u);
    put_float(e->ev, used_pct, u + fs->avail ? mb_round((double)u / (double)(u + fs->avail)) : 0.0);
    put_int(e->ev, files, (int64_t)fs->files);
    put_int(e->ev, ffree, (int64_t)fs->ffree);
    return e->emit(e->arg, e->ev, fs->mount);
}

struct fs_sum {
    uint64_t count, files, free, used, total;
};

static int sum_filesystem(struct lf_sysmetrics *m, const struct fs_sample *fs, void *ctx)
{
    (void)m;
    struct fs_sum *s = ctx;
    s->count++;
    s->files += fs->files;
    s->free += fs->free;
    s->used += fs->total - fs->free;
    s->total += fs->total;
    return 0;
}

static int collect_fsstat(struct lf_sysmetrics *m, struct lf_event *ev, lf_sysmetrics_emit_fn emit,
                          void *arg)
{
    static const struct path count = P("system.fsstat.count"),
                             files = P("system.fsstat.total_files"),
                             free_ = P("system.fsstat.total_size.free"),
                             used = P("system.fsstat.total_size.used"),
                             total = P("system.fsstat.total_size.total");
    struct fs_sum s = {0};
    int rc = walk_filesystems(m, sum_filesystem, &s);
    if (!rc)
        rc = begin(m, ev, 5, "system.fsstat");
    if (rc)
        return rc;
    put_int(ev, count, (int64_t)s.count);
    put_int(ev, files, (int64_t)s.files);
    put_int(ev, free_, (int64_t)s.free);
    put_int(ev, used, (int64_t)s.used);
    put_int(ev, total, (int64_t)s.total);
    return emit(arg, ev, "");
}

/* ---- processes --------------------------------------------------------- */

/* Parses /proc/<pid>/stat text into pr; -1 if it does not look like one. */
static int parse_pid_stat(char *buf, struct proc *pr)
{
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (!open || !close || close < open || close[1] != ' ')
        return -1;
    size_t n = (size_t)(close - open - 1);
    if (n >= sizeof(pr->comm))
        n = sizeof(pr->comm) - 1;
    memcpy(pr->comm, open + 1, n);
    pr->comm[n] = '\0';
    const char *p = close + 2;
    pr->state = *p;
    if (!pr->state)
        return -1;
    p++;
    /* fields after the state, counted from 4 (ppid) as in proc(5) */
    uint64_t v;
    int64_t sv[3];
    for (int i = 0; i < 2; i++) {
        const char *q = skip_blanks(p);
        int neg = *q == '-';
        if (neg)
            q++;
        if (num(&q, &v))
            return -1;
        sv[i] = neg ? -(int64_t)v : (int64_t)v;
        p = q;
    }
    pr->ppid = (int)sv[0];
    pr->pgid = (int)sv[1];
    uint64_t f[24];
    /* fields 6..24: session tty_nr tpgid flags minflt cminflt majflt cmajflt
     * utime stime cutime cstime priority nice num_threads itrealvalue
     * starttime vsize rss */
    for (int i = 6; i <= 24; i++) {
        const char *q = skip_blanks(p);
        if (*q == '-')
            q++;
        if (num(&q, &f[i - 1]))
            return -1;
        p = q;
    }
    pr->utime = f[13];
    pr->stime = f[14];
    pr->ticks = f[13] + f[14];
    pr->start = f[21];
    pr->vsize = f[22];
    pr->rss = f[23];
    return 0;
}

static const char *state_name(char c)
{
    switch (c) {
    case 'R':
        return "running";
    case 'S':
    case 'D':
        return "sleeping";
    case 'I':
        return "idle";
    case 'T':
    case 't':
        return "stopped";
    case 'Z':
        return "zombie";
    case 'X':
    case 'x':
        return "dead";
    default:
        return "unknown";
    }
}

/* Is this directory entry a process (all digits)? */
static int pid_of(const char *name)
{
    if (!is_digit(name[0]))
        return -1;
    long v = 0;
    for (const char *p = name; *p; p++) {
        if (!is_digit(*p) || v > 1 << 24)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return (int)v;
}

typedef int (*proc_fn)(struct lf_sysmetrics *m, const struct proc *pr, void *ctx);

/* Reads /proc/<pid>/stat of every process and calls fn with it. A process
 * that exits while we read is skipped. */
static int walk_processes(struct lf_sysmetrics *m, proc_fn fn, void *ctx)
{
    DIR *d = opendir(m->root);
    if (!d)
        return fail(m, m->root, LF_EIO, "cannot list: %s", strerror(errno));
    char path[ROOT_MAX + 64];
    char buf[PID_STAT_BUF];
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        int pid = pid_of(de->d_name);
        if (pid < 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s/stat", m->root, de->d_name);
        struct proc pr = {.pid = pid};
        if (read_small(path, buf, sizeof(buf)) <= 0 || parse_pid_stat(buf, &pr))
            continue; /* gone, or a torn read of a dying process */
        rc = fn(m, &pr, ctx);
    }
    closedir(d);
    return rc;
}

static int count_state(struct lf_sysmetrics *m, const struct proc *pr, void *ctx)
{
    (void)m;
    int64_t *c = ctx;
    int k;
    switch (pr->state) {
    case 'R':
        k = 1;
        break;
    case 'S':
    case 'D':
        k = 2;
        break;
    case 'I':
        k = 3;
        break;
    case 'T':
    case 't':
        k = 4;
        break;
    case 'Z':
        k = 5;
        break;
    case 'X':
    case 'x':
        k = 6;
        break;
    default:
        k = 7;
    }
    c[k]++;
    c[0]++;
    return 0;
}

static int add_proc(struct lf_sysmetrics *m, const struct proc *pr, void *ctx);

static int collect_summary(struct lf_sysmetrics *m, int64_t now_ms, struct lf_event *ev,
                           lf_sysmetrics_emit_fn emit, void *arg)
{
    static const struct path names[8] = {
        P("system.process.summary.total"),    P("system.process.summary.running"),
        P("system.process.summary.sleeping"), P("system.process.summary.idle"),
        P("system.process.summary.stopped"),  P("system.process.summary.zombie"),
        P("system.process.summary.dead"),     P("system.process.summary.unknown")};
    int64_t c[8] = {0};
    int rc;
    if (m->sets & LF_METRIC_PROCESS) {
        /* The walk is most of the cost of both sets: read the process
         * table once, count it here, and leave it to the process set. */
        m->ncur = 0;
        rc = walk_processes(m, add_proc, NULL);
        for (size_t i = 0; !rc && i < m->ncur; i++)
            count_state(m, &m->cur[i], c);
        m->table_fresh = !rc;
        m->table_ms = now_ms;
    } else {
        rc = walk_processes(m, count_state, c);
    }
    if (!rc)
        rc = begin(m, ev, 8, "system.process.summary");
    if (rc)
        return rc;
    for (int i = 0; i < 8; i++)
        put_int(ev, names[i], c[i]);
    return emit(arg, ev, "");
}

static int add_proc(struct lf_sysmetrics *m, const struct proc *pr, void *ctx)
{
    (void)ctx;
    if (m->ncur == m->cap_cur) {
        size_t cap = m->cap_cur ? m->cap_cur * 2 : 256;
        struct proc *c = realloc(m->cur, cap * sizeof(*c));
        if (!c)
            return fail(m, NULL, LF_ENOMEM, "out of memory");
        m->cur = c;
        m->cap_cur = cap;
    }
    m->cur[m->ncur++] = *pr;
    return 0;
}

static int by_pid(const void *a, const void *b)
{
    int x = ((const struct proc *)a)->pid, y = ((const struct proc *)b)->pid;
    return (x > y) - (x < y);
}

static const struct proc *find_prev(const struct lf_sysmetrics *m, int pid)
{
    size_t lo = 0, hi = m->nprev;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->prev[mid].pid == pid)
            return &m->prev[mid];
        if (m->prev[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Does a rank before b? by_cpu: higher pct first; else higher rss first; a
 * tie goes to the lower pid, so the choice is stable. */
static int ranks_before(const struct proc *a, const struct proc *b, int by_cpu)
{
    if (by_cpu ? a->pct != b->pct : a->rss != b->rss)
        return by_cpu ? a->pct > b->pct : a->rss > b->rss;
    return a->pid < b->pid;
}

/* Keeps the top n of m->cur in top[0..n) by insertion: n is small. Returns
 * how many it holds. */
static size_t pick_top(struct lf_sysmetrics *m, struct proc **top, size_t n, int by_cpu)
{
    size_t k = 0;
    for (size_t i = 0; i < m->ncur; i++) {
        struct proc *pr = &m->cur[i];
        size_t at = k;
        while (at > 0 && ranks_before(pr, top[at - 1], by_cpu))
            at--;
        if (at >= n)
            continue;
        size_t last = k < n ? k : n - 1;
        memmove(top + at + 1, top + at, (last - at) * sizeof(*top));
        top[at] = pr;
        if (k < n)
            k++;
    }
    return k;
}

static uint64_t meminfo_total(struct lf_sysmetrics *m, int *rc)
{
    size_t len;
    *rc = file_read(m, &m->meminfo, &len);
    if (*rc)
        return 0;
    const char *p = strstr(m->meminfo.buf, "MemTotal:");
    uint64_t v;
    if (!p || (p += 9, num(&p, &v)) || v == 0 || v > (uint64_t)INT64_MAX / 1024) {
        *rc = fail(m, m->meminfo.path, LF_ESYNTAX, "no usable MemTotal line");
        return 0;
    }
    return v * 1024;
}

/* Formats ticks-after-boot as an RFC 3339 UTC time with milliseconds. */
static void format_start(const struct lf_sysmetrics *m, uint64_t ticks, char out[64])
{
    int64_t ms = m->boot_s * 1000 + (int64_t)(ticks * 1000 / (uint64_t)m->hz);
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* The command line with its NULs as spaces; "" for a kernel thread. */
static void read_cmdline(struct lf_sysmetrics *m, int pid, char *out, size_t cap)
{
    char path[ROOT_MAX + 64];
    snprintf(path, sizeof(path), "%s/%d/cmdline", m->root, pid);
    ssize_t n = read_small(path, out, cap);
    if (n <= 0) {
        out[0] = '\0';
        return;
    }
    while (n > 0 && out[n - 1] == '\0')
        n--;
    out[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (out[i] == '\0')
            out[i] = ' ';
}

/* statm's shared pages, in bytes; -1 if unreadable. */
static int64_t read_share(struct lf_sysmetrics *m, int pid)
{
    char path[ROOT_MAX + 64], buf[256];
    snprintf(path, sizeof(path), "%s/%d/statm", m->root, pid);
    if (read_small(path, buf, sizeof(buf)) <= 0)
        return -1;
    const char *p = buf;
    uint64_t v[3];
    for (int i = 0; i < 3; i++)
        if (num(&p, &v[i]))
            return -1;
    if (v[2] > (uint64_t)INT64_MAX / (uint64_t)m->page)
        return -1;
    return (int64_t)(v[2] * (uint64_t)m->page);
}

/* The owner's name (real uid of status), or "" when unknown. */
static void read_user(struct lf_sysmetrics *m, int pid, char *out, size_t cap)
{
    char path[ROOT_MAX + 64], buf[4096];
    out[0] = '\0';
    snprintf(path, sizeof(path), "%s/%d/status", m->root, pid);
    if (read_small(path, buf, sizeof(buf)) <= 0)
        return;
    const char *p = strstr(buf, "\nUid:");
    uint64_t uid;
    if (!p || (p += 5, num(&p, &uid)))
        return;
    struct passwd pw, *res = NULL;
    if (getpwuid_r((uid_t)uid, &pw, m->pwbuf, m->pwlen, &res) == 0 && res)
        snprintf(out, cap, "%s", res->pw_name);
    else
        snprintf(out, cap, "%" PRIu64, uid);
}

static int emit_process(struct lf_sysmetrics *m, const struct proc *pr, uint64_t memtotal,
                        struct lf_event *ev, lf_sysmetrics_emit_fn emit, void *arg)
{
    static const struct path pid = P("process.pid"), ppid = P("process.parent.pid"),
                             pgid = P("process.pgid"), name = P("process.name"),
                             state = P("process.state"), cmd = P("process.command_line"),
                             cpu = P("process.cpu.pct"), start = P("process.cpu.start_time"),
                             mem = P("process.memory.pct"), user = P("user.name"),
                             sstate = P("system.process.state"), scmd = P("system.process.cmdline"),
                             value = P("system.process.cpu.total.value"),
                             uticks = P("system.process.cpu.user.ticks"),
                             sticks = P("system.process.cpu.system.ticks"),
                             tticks = P("system.process.cpu.total.ticks"),
                             pct = P("system.process.cpu.total.pct"),
                             norm = P("system.process.cpu.total.norm.pct"),
                             sstart = P("system.process.cpu.start_time"),
                             size = P("system.process.memory.size"),
                             rss = P("system.process.memory.rss.bytes"),
                             rss_pct = P("system.process.memory.rss.pct"),
                             share = P("system.process.memory.share");
    char cmdline[CMDLINE_MAX], owner[64], started[64], key[24];
    read_cmdline(m, pr->pid, cmdline, sizeof(cmdline));
    read_user(m, pr->pid, owner, sizeof(owner));
    int64_t shared = read_share(m, pr->pid);
    format_start(m, pr->start, started);
    int rc = begin(m, ev, 23, "system.process");
    if (rc)
        return rc;
    uint64_t rss_bytes = pr->rss * (uint64_t)m->page;
    double mpct = mb_round((double)rss_bytes / (double)memtotal);
    double norm_pct = mb_round(pr->pct / (double)m->cores);
    put_int(ev, pid, pr->pid);
    put_int(ev, ppid, pr->ppid);
    put_int(ev, pgid, pr->pgid);
    put_str(ev, name, pr->comm);
    put_str(ev, state, state_name(pr->state));
    put_str(ev, sstate, state_name(pr->state));
    if (cmdline[0]) {
        put_str(ev, cmd, cmdline);
        put_str(ev, scmd, cmdline);
    }
    if (owner[0])
        put_str(ev, user, owner);
    put_float(ev, cpu, norm_pct);
    put_float(ev, norm, norm_pct);
    put_float(ev, pct, mb_round(pr->pct));
    /* Metricbeat's "ticks" are milliseconds, as total.value */
    uint64_t hz = (uint64_t)m->hz;
    put_int(ev, value, (int64_t)(pr->ticks * 1000 / hz));
    put_int(ev, uticks, (int64_t)(pr->utime * 1000 / hz));
    put_int(ev, sticks, (int64_t)(pr->stime * 1000 / hz));
    put_int(ev, tticks, (int64_t)(pr->ticks * 1000 / hz));
    put_str(ev, start, started);
    put_str(ev, sstart, started);
    put_int(ev, size, (int64_t)pr->vsize);
    put_int(ev, rss, (int64_t)rss_bytes);
    put_float(ev, rss_pct, mpct);
    put_float(ev, mem, mpct);
    if (shared >= 0)
        put_int(ev, share, shared);
    snprintf(key, sizeof(key), "%d", pr->pid);
    return emit(arg, ev, key);
}

static int collect_process(struct lf_sysmetrics *m, int64_t now_ms, struct lf_event *ev,
                           lf_sysmetrics_emit_fn emit, void *arg)
{
    int rc;
    uint64_t memtotal = meminfo_total(m, &rc);
    if (rc)
        return rc;
    /* The table process_summary read just before, if it did: its time is
     * the sample's. */
    if (m->table_fresh && now_ms - m->table_ms >= 0 && now_ms - m->table_ms < TABLE_REUSE_MS) {
        now_ms = m->table_ms;
    } else {
        m->ncur = 0;
        rc = walk_processes(m, add_proc, NULL);
    }
    m->table_fresh = 0;
    if (rc)
        return rc;
    qsort(m->cur, m->ncur, sizeof(*m->cur), by_pid);
    int64_t dt = now_ms - m->prev_ms;
    int ready = m->have_prev && dt > 0;
    for (size_t i = 0; ready && i < m->ncur; i++) {
        struct proc *pr = &m->cur[i];
        const struct proc *old = find_prev(m, pr->pid);
        /* A process new since the last sample spent all its time in it. */
        uint64_t before =
            old && old->start == pr->start && old->ticks <= pr->ticks ? old->ticks : 0;
        double ms = (double)(pr->ticks - before) * 1000.0 / (double)m->hz;
        pr->pct = ms / (double)dt;
    }
    size_t nb_cpu = 0, nb_mem = 0;
    if (ready && m->top_n) {
        nb_cpu = pick_top(m, m->top, m->top_n, 1);
        nb_mem = pick_top(m, m->top + m->top_n, m->top_n, 0);
    }
    for (size_t i = 0; !rc && i < nb_cpu + nb_mem; i++) {
        struct proc *pr = i < nb_cpu ? m->top[i] : m->top[m->top_n + (i - nb_cpu)];
        if (pr->picked)
            continue;
        pr->picked = 1;
        rc = emit_process(m, pr, memtotal, ev, emit, arg);
    }
    /* This sample is the next one's previous: swap the two tables. */
    struct proc *t = m->prev;
    size_t cap = m->cap_prev;
    m->prev = m->cur;
    m->nprev = m->ncur;
    m->cap_prev = m->cap_cur;
    m->cur = t;
    m->cap_cur = cap;
    m->ncur = 0;
    m->prev_ms = now_ms;
    int first = !m->have_prev;
    m->have_prev = 1;
    if (rc)
        return rc;
    return first ? LF_ENOENT : 0;
}

/* ---- uptime ------------------------------------------------------------ */

static int read_uptime_ms(struct lf_sysmetrics *m, int64_t *ms)
{
    size_t len;
    int rc = file_read(m, &m->uptime, &len);
    if (rc)
        return rc;
    const char *p = m->uptime.buf;
    uint64_t secs, frac = 0;
    int digits = 0;
    if (num(&p, &secs) || secs > (uint64_t)INT64_MAX / 1000)
        return fail(m, m->uptime.path, LF_ESYNTAX, "expected seconds since boot");
    if (*p == '.')
        for (p++; is_digit(*p); p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (uint64_t)(*p - '0');
    for (; digits < 3; digits++)
        frac *= 10;
    *ms = (int64_t)(secs * 1000 + frac);
    return 0;
}

static int collect_uptime(struct lf_sysmetrics *m, struct lf_event *ev, lf_sysmetrics_emit_fn emit,
                          void *arg)
{
    static const struct path dur = P("system.uptime.duration.ms");
    int64_t ms;
    int rc = read_uptime_ms(m, &ms);
    if (!rc)
        rc = begin(m, ev, 1, "system.uptime");
    if (rc)
        return rc;
    put_int(ev, dur, ms);
    return emit(arg, ev, "");
}

/* ---- create, collect, destroy ------------------------------------------ */

/* Cores (cpuN lines) and boot time (btime) from /proc/stat, for process. */
static int read_stat(struct lf_sysmetrics *m)
{
    struct file f = {.fd = -1};
    size_t len;
    int rc = file_open(m, &f, "stat", 64 * 1024);
    if (!rc)
        rc = file_read(m, &f, &len);
    if (!rc) {
        m->cores = 0;
        for (const char *p = f.buf; (p = strstr(p, "\ncpu")) != NULL; p += 4)
            if (is_digit(p[4]))
                m->cores++;
        const char *b = strstr(f.buf, "\nbtime");
        uint64_t v;
        if (!b || (b += 6, num(&b, &v)) || v > (uint64_t)INT64_MAX / 1000)
            rc = fail(m, f.path, LF_ESYNTAX, "no btime line");
        else
            m->boot_s = (int64_t)v;
        if (!rc && m->cores == 0)
            rc = fail(m, f.path, LF_ESYNTAX, "no cpuN line");
    }
    file_close(&f);
    return rc;
}

/* A dummy emit for the read at create. */
static int discard(void *arg, struct lf_event *ev, const char *key)
{
    (void)arg;
    (void)ev;
    (void)key;
    return 0;
}

struct lf_sysmetrics *lf_sysmetrics_create(const char *proc_root, unsigned sets, unsigned top_n,
                                           char *errbuf, size_t errlen)
{
    if (!proc_root || !*proc_root)
        proc_root = "/proc";
    if (sets == 0 || (sets & ~(unsigned)SYS_SETS)) {
        snprintf(errbuf, errlen,
                 "sampler: metric sets 0x%x: not network, diskio, filesystem, "
                 "fsstat, process_summary, process or uptime",
                 sets);
        return NULL;
    }
    if (strlen(proc_root) > ROOT_MAX) {
        snprintf(errbuf, errlen, "sampler: proc_root is longer than %d bytes", ROOT_MAX);
        return NULL;
    }
    struct lf_sysmetrics *m = calloc(1, sizeof(*m));
    if (!m || !(m->root = strdup(proc_root))) {
        free(m);
        snprintf(errbuf, errlen, "sampler: out of memory");
        return NULL;
    }
    m->sets = sets;
    m->top_n = top_n;
    m->netdev.fd = m->diskstats.fd = m->mounts.fd = m->filesystems.fd = m->uptime.fd =
        m->meminfo.fd = -1;
    m->hz = sysconf(_SC_CLK_TCK);
    m->page = sysconf(_SC_PAGESIZE);
    if (m->hz <= 0)
        m->hz = 100;
    if (m->page <= 0)
        m->page = 4096;
    long pw = sysconf(_SC_GETPW_R_SIZE_MAX);
    m->pwlen = pw > 0 ? (size_t)pw : 4096;

    /* Every file is opened and read once now, so that a missing one fails
     * here, naming its set, not at every interval. */
    const char *who = "";
    int rc = 0;
    struct lf_event ev;
    lf_event_init(&ev);
    if (!rc && (sets & LF_METRIC_NETWORK)) {
        who = "network";
        rc = file_open(m, &m->netdev, "net/dev", 4096);
        if (!rc)
            rc = collect_network(m, &ev, discard, NULL);
    }
    if (!rc && (sets & LF_METRIC_DISKIO)) {
        who = "diskio";
        rc = file_open(m, &m->diskstats, "diskstats", 4096);
        if (!rc)
            rc = collect_diskio(m, &ev, discard, NULL);
    }
    if (!rc && (sets & (LF_METRIC_FILESYSTEM | LF_METRIC_FSSTAT))) {
        who = sets & LF_METRIC_FILESYSTEM ? "filesystem" : "fsstat";
        rc = file_open(m, &m->filesystems, "filesystems", 2048);
        if (!rc)
            rc = file_open(m, &m->mounts, "self/mounts", 4096);
        if (!rc)
            rc = collect_fsstat(m, &ev, discard, NULL);
    }
    if (!rc && (sets & LF_METRIC_PROCESS_SUMMARY)) {
        who = "process_summary";
        rc = collect_summary(m, 0, &ev, discard, NULL);
        m->table_fresh = 0;
    }
    if (!rc && (sets & LF_METRIC_PROCESS)) {
        who = "process";
        m->top = calloc(2 * (size_t)(top_n ? top_n : 1), sizeof(*m->top));
        m->pwbuf = malloc(m->pwlen);
        if (!m->top || !m->pwbuf)
            rc = fail(m, NULL, LF_ENOMEM, "out of memory");
        if (!rc)
            rc = read_stat(m);
        if (!rc)
            rc = file_open(m, &m->meminfo, "meminfo", 16 * 1024);
        if (!rc) {
            int unused;
            meminfo_total(m, &unused);
            rc = unused;
        }
    }
    if (!rc && (sets & LF_METRIC_UPTIME)) {
        int64_t ms;
        who = "uptime";
        rc = file_open(m, &m->uptime, "uptime", 256);
        if (!rc)
            rc = read_uptime_ms(m, &ms);
    }
    lf_event_free(&ev);
    if (rc) {
        snprintf(errbuf, errlen, "%s metrics: %s", who, m->msg);
        lf_sysmetrics_destroy(m);
        return NULL;
    }
    return m;
}

void lf_sysmetrics_destroy(struct lf_sysmetrics *m)
{
    if (!m)
        return;
    file_close(&m->netdev);
    file_close(&m->diskstats);
    file_close(&m->mounts);
    file_close(&m->filesystems);
    file_close(&m->uptime);
    file_close(&m->meminfo);
    free(m->cur);
    free(m->prev);
    free(m->top);
    free(m->pwbuf);
    free(m->root);
    free(m);
}

int lf_sysmetrics_collect(struct lf_sysmetrics *m, unsigned set, int64_t now_ms,
                          struct lf_event *ev, lf_sysmetrics_emit_fn emit, void *arg)
{
    if (!m || !ev || !emit || !(m->sets & set))
        return LF_EINVAL;
    int rc;
    switch (set) {
    case LF_METRIC_NETWORK:
        rc = collect_network(m, ev, emit, arg);
        break;
    case LF_METRIC_DISKIO:
        rc = collect_diskio(m, ev, emit, arg);
        break;
    case LF_METRIC_FILESYSTEM: {
        struct fs_emit e = {ev, emit, arg};
        rc = walk_filesystems(m, emit_filesystem, &e);
        break;
    }
    case LF_METRIC_FSSTAT:
        rc = collect_fsstat(m, ev, emit, arg);
        break;
    case LF_METRIC_PROCESS_SUMMARY:
        rc = collect_summary(m, now_ms, ev, emit, arg);
        break;
    case LF_METRIC_PROCESS:
        rc = collect_process(m, now_ms, ev, emit, arg);
        break;
    case LF_METRIC_UPTIME:
        rc = collect_uptime(m, ev, emit, arg);
        break;
    default:
        return LF_EINVAL;
    }
    report(m, set, rc);
    return rc;
}
