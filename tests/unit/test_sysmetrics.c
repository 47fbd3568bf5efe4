/*
 * test_sysmetrics.c - network, diskio, filesystem, fsstat, process_summary,
 * process and uptime against a fake /proc (tests/data/proc/system/, copied
 * to a temporary directory; process directories are written by the tests),
 * with answers worked out by hand below from Metricbeat's definitions. The
 * diskio numbers of sda are those of Metricbeat's own sample document
 * (metricbeat/module/system/diskio/_meta/data.json), so that its sectors are
 * checked to come out as its bytes. Then the same sets against the real
 * /proc, and every field they write against the index template.
 */
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent_config.h"
#include "es_template.h"
#include "lf.h"
#include "sysmetrics.h"

#define SYS_ALL                                                                                    \
    (LF_METRIC_NETWORK | LF_METRIC_DISKIO | LF_METRIC_FILESYSTEM | LF_METRIC_FSSTAT |              \
     LF_METRIC_PROCESS_SUMMARY | LF_METRIC_PROCESS | LF_METRIC_UPTIME)
#define MAX_DOCS 64

struct fixture {
    char dir[256];
    struct lf_event ev;
    char err[512];
    /* what the emit callback saw */
    json_t *docs[MAX_DOCS];
    char keys[MAX_DOCS][64];
    size_t ndocs;
    struct lf_es_template *tmpl; /* when set, every field is checked against it */
};

/* ---- the fake tree ----------------------------------------------------- */

static void put_text(struct fixture *fx, const char *rel, const char *text)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", fx->dir, rel);
    /* make the parent directories */
    for (char *p = path + strlen(fx->dir) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            fail_msg("mkdir %s: %s", path, strerror(errno));
        *p = '/';
    }
    /* in place, like a /proc file that changes under an open descriptor */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t w = write(fd, text + off, n - off);
        assert_true(w > 0);
        off += (size_t)w;
    }
    close(fd);
}

static void copy_tree(struct fixture *fx, const char *from, const char *rel)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", from, rel);
    DIR *d = opendir(path);
    if (!d)
        fail_msg("no fixture %s", path);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char sub[600], src[900];
        snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        snprintf(src, sizeof(src), "%s/%s", from, sub);
        struct stat st;
        assert_int_equal(stat(src, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            copy_tree(fx, from, sub);
            continue;
        }
        FILE *f = fopen(src, "rb");
        assert_non_null(f);
        static char buf[65536];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        put_text(fx, sub, buf);
    }
    closedir(d);
}

/* /proc/<pid>/stat with the fields the sampler reads; the rest as a real
 * kernel writes them (tpgid -1 included). */
static void put_proc(struct fixture *fx, int pid, const char *comm, char state, int ppid,
                     unsigned long utime, unsigned long stime, unsigned long start,
                     unsigned long vsize, unsigned long rss)
{
    char rel[64], text[512];
    snprintf(rel, sizeof(rel), "%d/stat", pid);
    snprintf(text, sizeof(text),
             "%d (%s) %c %d %d %d 0 -1 4194560 1200 0 3 0 %lu %lu 0 0 20 0 1 0 %lu %lu %lu "
             "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n",
             pid, comm, state, ppid, pid, pid, utime, stime, start, vsize, rss);
    put_text(fx, rel, text);
}

static void put_proc_extra(struct fixture *fx, int pid, const char *cmdline, size_t cmdlen,
                           const char *statm)
{
    char rel[64], text[256];
    snprintf(rel, sizeof(rel), "%d/cmdline", pid);
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", fx->dir, rel);
    put_text(fx, rel, ""); /* makes the directory */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(cmdline, 1, cmdlen, f);
    fclose(f);
    snprintf(rel, sizeof(rel), "%d/statm", pid);
    put_text(fx, rel, statm);
    snprintf(rel, sizeof(rel), "%d/status", pid);
    snprintf(text, sizeof(text), "Name:\tx\nUmask:\t0022\nState:\tS\nUid:\t0\t0\t0\t0\n");
    put_text(fx, rel, text);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    const char *tmp = getenv("TMPDIR");
    snprintf(fx->dir, sizeof(fx->dir), "%s/lf_sysmetrics.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(fx->dir));
    const char *src = getenv("LF_SOURCE_DIR");
    assert_non_null(src);
    char from[512];
    snprintf(from, sizeof(from), "%s/tests/data/proc/system", src);
    copy_tree(fx, from, "");
    lf_event_init(&fx->ev);
    *state = fx;
    return 0;
}

static void forget_docs(struct fixture *fx)
{
    for (size_t i = 0; i < fx->ndocs; i++)
        json_decref(fx->docs[i]);
    fx->ndocs = 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    forget_docs(fx);
    lf_event_free(&fx->ev);
    free(fx);
    return 0;
}

/* ---- what was emitted -------------------------------------------------- */

/* Checks a field's type against the template: ints are long, floats one of
 * the float types, strings keyword or date. */
static void check_declared(const struct lf_es_template *t, const struct lf_field *f)
{
    enum lf_es_ftype got;
    if (lf_es_template_type(t, f->path, f->path_len, &got) != 0)
        fail_msg("%.*s is not in the template", (int)f->path_len, f->path);
    int fits = f->type == LF_VAL_INT ? got == LF_ES_LONG
               : f->type == LF_VAL_FLOAT
                   ? got == LF_ES_SCALED_FLOAT || got == LF_ES_HALF_FLOAT || got == LF_ES_DOUBLE
                   : got == LF_ES_KEYWORD || got == LF_ES_DATE;
    if (!fits)
        fail_msg("%.*s is mapped as %s", (int)f->path_len, f->path, lf_es_ftype_name(got));
}

static int capture(void *arg, struct lf_event *ev, const char *key)
{
    struct fixture *fx = arg;
    assert_true(fx->ndocs < MAX_DOCS);
    if (fx->tmpl)
        for (size_t i = 0; i < ev->nfields; i++)
            check_declared(fx->tmpl, &ev->fields[i]);
    struct lf_buf out;
    lf_buf_init(&out, 1 << 20);
    assert_int_equal(lf_event_write_json(ev, &out), 0);
    json_error_t jerr;
    json_t *doc = json_loadb(out.data, out.len, 0, &jerr);
    if (!doc)
        fail_msg("invalid JSON (%s): %.*s", jerr.text, (int)out.len, out.data);
    lf_buf_free(&out);
    fx->docs[fx->ndocs] = doc;
    snprintf(fx->keys[fx->ndocs], sizeof(fx->keys[0]), "%s", key);
    fx->ndocs++;
    return 0;
}

static json_t *json_at(json_t *doc, const char *path)
{
    char key[128];
    const char *p = path;
    json_t *v = doc;
    while (v && *p) {
        size_t n = strcspn(p, ".");
        assert_true(n < sizeof(key));
        memcpy(key, p, n);
        key[n] = '\0';
        v = json_object_get(v, key);
        p += n + (p[n] == '.');
    }
    return v;
}

static void expect_int(json_t *doc, const char *path, long long want)
{
    json_t *v = json_at(doc, path);
    if (!json_is_integer(v) || json_integer_value(v) != want)
        fail_msg("%s: want the integer %lld, got %s%lld", path, want, v ? "" : "nothing ",
                 v ? (long long)json_integer_value(v) : 0);
}

static void expect_real(json_t *doc, const char *path, double want)
{
    json_t *v = json_at(doc, path);
    if (!json_is_real(v) || json_real_value(v) != want)
        fail_msg("%s: want the real %.17g, got %.17g", path, want, v ? json_real_value(v) : -1.0);
}

static void expect_str(json_t *doc, const char *path, const char *want)
{
    json_t *v = json_at(doc, path);
    if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
        fail_msg("%s: want \"%s\", got \"%s\"", path, want, v ? json_string_value(v) : "(none)");
}

static struct lf_sysmetrics *open_sets(struct fixture *fx, unsigned sets, unsigned top_n)
{
    struct lf_sysmetrics *m = lf_sysmetrics_create(fx->dir, sets, top_n, fx->err, sizeof(fx->err));
    if (!m)
        fail_msg("create: %s", fx->err);
    return m;
}

/* Metricbeat's Round(v, 4), for expectations that depend on the page size. */
static double round4(double v)
{
    double d = v * 10000.0;
    double f = d - (double)(long long)d;
    return (f >= 0.5 ? (double)(long long)d + 1 : (double)(long long)d) / 10000.0;
}

/* ---- network, diskio --------------------------------------------------- */

static void test_network(void **state)
{
    struct fixture *fx = *state;
    struct lf_sysmetrics *m = open_sets(fx, LF_METRIC_NETWORK, 0);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_NETWORK, 0, &fx->ev, capture, fx), 0);
    assert_int_equal(fx->ndocs, 3);
    assert_string_equal(fx->keys[0], "lo");
    assert_string_equal(fx->keys[1], "eth0");
    /* a name that fills its column runs into the first counter */
    assert_string_equal(fx->keys[2], "veth-a_very-long1");
    json_t *d = fx->docs[1];
    expect_str(d, "event.dataset", "system.network");
    expect_str(d, "system.network.name", "eth0");
    expect_int(d, "system.network.in.bytes", 9876543210);
    expect_int(d, "system.network.in.packets", 1234567);
    expect_int(d, "system.network.in.errors", 3);
    expect_int(d, "system.network.in.dropped", 17);
    expect_int(d, "system.network.out.bytes", 123456789);
    expect_int(d, "system.network.out.packets", 654321);
    expect_int(d, "system.network.out.errors", 1);
    expect_int(d, "system.network.out.dropped", 2);
    expect_int(fx->docs[2], "system.network.in.bytes", 12);
    expect_int(fx->docs[2], "system.network.out.bytes", 34);
    expect_int(fx->docs[2], "system.network.out.packets", 2);

    /* counters go on growing: the open file is read again */
    put_text(fx, "net/dev", "h1\nh2\n  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n");
    forget_docs(fx);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_NETWORK, 0, &fx->ev, capture, fx), 0);
    assert_int_equal(fx->ndocs, 1);
    expect_int(fx->docs[0], "system.network.in.dropped", 4);
    expect_int(fx->docs[0], "system.network.out.bytes", 9);
    expect_int(fx->docs[0], "system.network.out.dropped", 12);

    /* a short line is an error naming the file and the interface */
    put_text(fx, "net/dev", "h1\nh2\n  eth9: 1 2 3\n");
    forget_docs(fx);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_NETWORK, 0, &fx->ev, capture, fx),
                     LF_ESYNTAX);
    assert_int_equal(fx->ndocs, 0);
    lf_sysmetrics_destroy(m);
}

static void test_diskio(void **state)
{
    struct fixture *fx = *state;
    struct lf_sysmetrics *m = open_sets(fx, LF_METRIC_DISKIO, 0);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_DISKIO, 0, &fx->ev, capture, fx), 0);
    /* loop0 never did I/O: left out; dm-0 only wrote: kept */
    assert_int_equal(fx->ndocs, 3);
    assert_string_equal(fx->keys[0], "sda");
    assert_string_equal(fx->keys[1], "sda1");
    assert_string_equal(fx->keys[2], "dm-0");
    /* Metricbeat's data.json: 8285769 sectors * 512 = 4242313728 bytes read,
     * 18772217 * 512 = 9611375104 written */
    json_t *d = fx->docs[0];
    expect_str(d, "event.dataset", "system.diskio");
    expect_str(d, "system.diskio.name", "sda");
    expect_int(d, "system.diskio.read.count", 181371);
    expect_int(d, "system.diskio.read.bytes", 4242313728);
    expect_int(d, "system.diskio.read.time", 2744086);
    expect_int(d, "system.diskio.write.count", 352596);
    expect_int(d, "system.diskio.write.bytes", 9611375104);
    expect_int(d, "system.diskio.write.time", 10641320);
    expect_int(d, "system.diskio.io.ops", 0);
    expect_int(d, "system.diskio.io.time", 545105);
    /* the 14-field layout of older kernels */
    expect_int(fx->docs[1], "system.diskio.io.ops", 3);
    expect_int(fx->docs[1], "system.diskio.io.time", 540000);
    expect_int(fx->docs[2], "system.diskio.read.count", 0);
    expect_int(fx->docs[2], "system.diskio.write.bytes", 56 * 512);
    lf_sysmetrics_destroy(m);
}

/* ---- filesystem, fsstat ------------------------------------------------ */

static void test_filesystem_and_fsstat(void **state)
{
    struct fixture *fx = *state;
    struct lf_sysmetrics *m = open_sets(fx, LF_METRIC_FILESYSTEM | LF_METRIC_FSSTAT, 0);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_FILESYSTEM, 0, &fx->ev, capture, fx), 0);
    /* sysfs, proc, tmpfs and nfs are "nodev" in filesystems: skipped, as
     * Metricbeat's default ignore_types; /no/such dir fails statvfs. What
     * is left: the two mounts on /, the second with an escaped space. */
    assert_int_equal(fx->ndocs, 2);
    assert_string_equal(fx->keys[0], "/");
    json_t *a = fx->docs[0], *b = fx->docs[1];
    expect_str(a, "event.dataset", "system.filesystem");
    expect_str(a, "system.filesystem.device_name", "/dev/vda1");
    expect_str(a, "system.filesystem.type", "ext4");
    expect_str(a, "system.filesystem.mount_point", "/");
    expect_str(b, "system.filesystem.device_name", "/dev/my disk");
    expect_str(b, "system.filesystem.type", "xfs");

    /* The numbers are those of statvfs("/"), which the file system may
     * change between two calls (other writers): retry until they agree. */
    struct statvfs st;
    long long total = 0, free_ = 0, avail = 0;
    for (int tries = 0; tries < 100; tries++) {
        assert_int_equal(statvfs("/", &st), 0);
        unsigned long bs = st.f_frsize ? st.f_frsize : st.f_bsize;
        total = (long long)st.f_blocks * (long long)bs;
        free_ = (long long)st.f_bfree * (long long)bs;
        avail = (long long)st.f_bavail * (long long)bs;
        if (json_integer_value(json_at(a, "system.filesystem.free")) == free_ &&
            json_integer_value(json_at(a, "system.filesystem.available")) == avail)
            break;
        forget_docs(fx);
        assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_FILESYSTEM, 0, &fx->ev, capture, fx),
                         0);
        a = fx->docs[0];
    }
    expect_int(a, "system.filesystem.total", total);
    expect_int(a, "system.filesystem.free", free_);
    expect_int(a, "system.filesystem.available", avail);
    long long used = total - free_;
    expect_int(a, "system.filesystem.used.bytes", used);
    /* used / (used + available): what a non-root user can still have */
    expect_real(a, "system.filesystem.used.pct",
                used + avail ? round4((double)used / (double)(used + avail)) : 0.0);
    expect_int(a, "system.filesystem.files", (long long)st.f_files);

    forget_docs(fx);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_FSSTAT, 0, &fx->ev, capture, fx), 0);
    assert_int_equal(fx->ndocs, 1);
    assert_string_equal(fx->keys[0], "");
    json_t *s = fx->docs[0];
    expect_str(s, "event.dataset", "system.fsstat");
    expect_int(s, "system.fsstat.count", 2);
    expect_int(s, "system.fsstat.total_files", 2 * (long long)st.f_files);
    expect_int(s, "system.fsstat.total_size.total", 2 * total);
    long long sum_used = json_integer_value(json_at(s, "system.fsstat.total_size.used"));
    long long sum_free = json_integer_value(json_at(s, "system.fsstat.total_size.free"));
    assert_int_equal(sum_used + sum_free, 2 * total);

    /* A file system type that becomes nodev (a module loaded) is followed. */
    put_text(fx, "filesystems",
             "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tnfs\nnodev\text4\n\txfs\n");
    forget_docs(fx);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_FSSTAT, 0, &fx->ev, capture, fx), 0);
    expect_int(fx->docs[0], "system.fsstat.count", 1);
    expect_int(fx->docs[0], "system.fsstat.total_size.total", total);
    lf_sysmetrics_destroy(m);
}

/* ---- processes --------------------------------------------------------- */

/* The first sample (t = 1000 ms). */
static void first_processes(struct fixture *fx)
{
    put_proc(fx, 1, "systemd", 'S', 0, 100, 50, 10, 100000000, 2000);
    put_proc(fx, 42, "my (odd) proc", 'R', 1, 1000, 500, 5000, 50000000, 1000);
    put_proc(fx, 100, "bigmem", 'D', 1, 10, 0, 6000, 900000000, 100000);
    put_proc(fx, 200, "restarted", 'S', 1, 900, 0, 7000, 1000000, 10);
    put_proc_extra(fx, 42, "/usr/bin/odd\0--flag\0x y\0", 24, "12207 1000 300 10 0 500 0\n");
    put_proc_extra(fx, 100, "bigmem", 6, "219726 100000 50 1 0 99000 0\n");
    put_proc_extra(fx, 7, "", 0, "0 0 0 0 0 0 0\n");
}

/* The second (t = 11000 ms, 10 s later). */
static void second_processes(struct fixture *fx)
{
    put_proc(fx, 1, "systemd", 'S', 0, 110, 50, 10, 100000000, 2000);           /* +10 ticks */
    put_proc(fx, 42, "my (odd) proc", 'R', 1, 1300, 600, 5000, 50000000, 1000); /* +400 */
    put_proc(fx, 100, "bigmem", 'D', 1, 10, 0, 6000, 900000000, 100000);        /* +0 */
    /* pid 200 exited and the pid was taken again: its time is all new */
    put_proc(fx, 200, "restarted", 'S', 1, 50, 0, 9000, 1000000, 10); /* 50 */
    put_proc(fx, 7, "newproc", 'Z', 1, 250, 50, 9500, 0, 0);          /* new: 300 */
    put_proc(fx, 300, "kworker/0:1", 'I', 2, 0, 0, 20, 0, 0);
    put_proc(fx, 400, "stopped", 'T', 1, 0, 0, 30, 0, 0);
}

static void test_process_summary(void **state)
{
    struct fixture *fx = *state;
    first_processes(fx);
    second_processes(fx);
    put_text(fx, "555/stat", "555 (torn"); /* a process dying as we read */
    put_text(fx, "notapid/stat", "1 (x) R 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
    struct lf_sysmetrics *m = open_sets(fx, LF_METRIC_PROCESS_SUMMARY, 0);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_PROCESS_SUMMARY, 0, &fx->ev, capture, fx),
                     0);
    assert_int_equal(fx->ndocs, 1);
    json_t *d = fx->docs[0];
    expect_str(d, "event.dataset", "system.process.summary");
    /* S: 1, 200; D: 100 (uninterruptible sleep is sleeping); R: 42; Z: 7;
     * I: 300; T: 400 */
    expect_int(d, "system.process.summary.total", 7);
    expect_int(d, "system.process.summary.sleeping", 3);
    expect_int(d, "system.process.summary.running", 1);
    expect_int(d, "system.process.summary.zombie", 1);
    expect_int(d, "system.process.summary.idle", 1);
    expect_int(d, "system.process.summary.stopped", 1);
    expect_int(d, "system.process.summary.dead", 0);
    expect_int(d, "system.process.summary.unknown", 0);
    lf_sysmetrics_destroy(m);
}

static void test_process_top(void **state)
{
    struct fixture *fx = *state;
    if (sysconf(_SC_CLK_TCK) != 100 || sysconf(_SC_PAGESIZE) != 4096)
        skip(); /* the answers below are worked out for USER_HZ 100, 4 KiB pages */
    first_processes(fx);
    struct lf_sysmetrics *m = open_sets(fx, LF_METRIC_PROCESS, 1);
    /* a percentage needs two samples */
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_PROCESS, 1000, &fx->ev, capture, fx),
                     LF_ENOENT);
    assert_int_equal(fx->ndocs, 0);
    second_processes(fx);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_PROCESS, 11000, &fx->ev, capture, fx), 0);
    /* top 1 by CPU: 42 (400 ticks = 4000 ms in 10000 ms = 0.4); top 1 by
     * memory: 100 (100000 pages) */
    assert_int_equal(fx->ndocs, 2);
    assert_string_equal(fx->keys[0], "42");
    assert_string_equal(fx->keys[1], "100");
    json_t *d = fx->docs[0];
    expect_str(d, "event.dataset", "system.process");
    expect_int(d, "process.pid", 42);
    expect_int(d, "process.parent.pid", 1);
    expect_int(d, "process.pgid", 42);
    expect_str(d, "process.name", "my (odd) proc");
    expect_str(d, "process.state", "running");
    expect_str(d, "system.process.state", "running");
    expect_str(d, "process.command_line", "/usr/bin/odd --flag x y");
    expect_str(d, "system.process.cmdline", "/usr/bin/odd --flag x y");
    expect_str(d, "user.name", "root");
    /* 0.4 of one CPU; the fake stat has 2 CPUs: 0.2 normalized */
    expect_real(d, "system.process.cpu.total.pct", 0.4);
    expect_real(d, "system.process.cpu.total.norm.pct", 0.2);
    expect_real(d, "process.cpu.pct", 0.2);
    /* 1300 + 600 ticks = 19000 ms */
    expect_int(d, "system.process.cpu.total.value", 19000);
    expect_int(d, "system.process.cpu.user.ticks", 13000);
    expect_int(d, "system.process.cpu.system.ticks", 6000);
    expect_int(d, "system.process.cpu.total.ticks", 19000);
    /* btime 1700000000 + 5000 ticks (50 s) = 2023-11-14T22:14:10Z */
    expect_str(d, "system.process.cpu.start_time", "2023-11-14T22:14:10.000Z");
    expect_str(d, "process.cpu.start_time", "2023-11-14T22:14:10.000Z");
    expect_int(d, "system.process.memory.size", 50000000);
    expect_int(d, "system.process.memory.rss.bytes", 1000 * 4096);
    /* 4096000 / 8343793664 = 0.000490.. -> 0.0005 */
    expect_real(d, "system.process.memory.rss.pct", 0.0005);
    expect_real(d, "process.memory.pct", 0.0005);
    expect_int(d, "system.process.memory.share", 300 * 4096);

    d = fx->docs[1];
    expect_int(d, "process.pid", 100);
    expect_str(d, "process.state", "sleeping");
    expect_real(d, "system.process.cpu.total.pct", 0.0);
    /* 409600000 / 8343793664 = 0.04909.. -> 0.0491 */
    expect_real(d, "system.process.memory.rss.pct", 0.0491);
    expect_str(d, "process.command_line", "bigmem");

    /* top 2: by CPU 42, then 7 (new since the last sample: all its 300
     * ticks are in the interval, 0.3); by memory 100, then 1 (2000 pages) */
    forget_docs(fx);
    lf_sysmetrics_destroy(m);
    m = open_sets(fx, LF_METRIC_PROCESS, 2);
    first_processes(fx);
    put_text(fx, "7/stat", "");   /* not there yet: */
    put_text(fx, "300/stat", ""); /* an empty stat is */
    put_text(fx, "400/stat", ""); /* a process gone */
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_PROCESS, 1000, &fx->ev, capture, fx),
                     LF_ENOENT);
    second_processes(fx);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_PROCESS, 11000, &fx->ev, capture, fx), 0);
    assert_int_equal(fx->ndocs, 4);
    assert_string_equal(fx->keys[0], "42");
    assert_string_equal(fx->keys[1], "7");
    assert_string_equal(fx->keys[2], "100");
    assert_string_equal(fx->keys[3], "1");
    expect_real(fx->docs[1], "system.process.cpu.total.pct", 0.3);
    expect_str(fx->docs[1], "process.state", "zombie");
    /* a zombie has no command line: the field is left out */
    assert_null(json_at(fx->docs[1], "process.command_line"));
    expect_real(fx->docs[3], "system.process.cpu.total.pct", round4(100.0 / 10000));

    /* the restarted pid 200 counted from 0: 50 ticks = 0.05; with top 5 it
     * shows */
    forget_docs(fx);
    lf_sysmetrics_destroy(m);
    m = open_sets(fx, LF_METRIC_PROCESS, 5);
    first_processes(fx);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_PROCESS, 1000, &fx->ev, capture, fx),
                     LF_ENOENT);
    second_processes(fx);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_PROCESS, 11000, &fx->ev, capture, fx), 0);
    int seen = 0;
    for (size_t i = 0; i < fx->ndocs; i++)
        if (strcmp(fx->keys[i], "200") == 0) {
            expect_real(fx->docs[i], "system.process.cpu.total.pct", 0.05);
            seen = 1;
        }
    assert_true(seen);
    /* by CPU: 42, 7, 200, 1, then the idle ones by pid: 100; by memory:
     * 100, 1, 42, 200, then rss 0 by pid: 7. Each goes once: 5 */
    assert_int_equal(fx->ndocs, 5);
    lf_sysmetrics_destroy(m);
}

/* With process_summary on, the process set takes the table the summary
 * read just before instead of walking /proc again, and its time. */
static void test_process_shares_the_summary_walk(void **state)
{
    struct fixture *fx = *state;
    if (sysconf(_SC_CLK_TCK) != 100)
        skip();
    first_processes(fx);
    struct lf_sysmetrics *m = open_sets(fx, LF_METRIC_PROCESS | LF_METRIC_PROCESS_SUMMARY, 1);
    assert_int_equal(
        lf_sysmetrics_collect(m, LF_METRIC_PROCESS_SUMMARY, 1000, &fx->ev, capture, fx), 0);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_PROCESS, 1000, &fx->ev, capture, fx),
                     LF_ENOENT);
    second_processes(fx);
    assert_int_equal(
        lf_sysmetrics_collect(m, LF_METRIC_PROCESS_SUMMARY, 11000, &fx->ev, capture, fx), 0);
    expect_int(fx->docs[1], "system.process.summary.total", 7);
    /* changed after the summary read it: not seen by this sample */
    put_proc(fx, 42, "my (odd) proc", 'R', 1, 9000, 600, 5000, 50000000, 1000);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_PROCESS, 11200, &fx->ev, capture, fx), 0);
    assert_int_equal(fx->ndocs, 4);
    assert_string_equal(fx->keys[2], "42");
    /* 400 ticks over 10000 ms (the table's time, not 10200) */
    expect_real(fx->docs[2], "system.process.cpu.total.pct", 0.4);
    /* A table older than a second is not taken: this walks again and sees
     * 42's 7700 more ticks (77000 ms) in 12000 ms */
    forget_docs(fx);
    assert_int_equal(
        lf_sysmetrics_collect(m, LF_METRIC_PROCESS_SUMMARY, 21000, &fx->ev, capture, fx), 0);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_PROCESS, 23000, &fx->ev, capture, fx), 0);
    expect_real(fx->docs[1], "system.process.cpu.total.pct", round4(77000.0 / 12000.0));
    lf_sysmetrics_destroy(m);
}

/* top_processes: 0 reports none (the set still walks /proc). */
static void test_process_top_zero(void **state)
{
    struct fixture *fx = *state;
    first_processes(fx);
    struct lf_sysmetrics *m = open_sets(fx, LF_METRIC_PROCESS, 0);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_PROCESS, 1000, &fx->ev, capture, fx),
                     LF_ENOENT);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_PROCESS, 2000, &fx->ev, capture, fx), 0);
    assert_int_equal(fx->ndocs, 0);
    lf_sysmetrics_destroy(m);
}

/* ---- uptime, errors ---------------------------------------------------- */

static void test_uptime(void **state)
{
    struct fixture *fx = *state;
    struct lf_sysmetrics *m = open_sets(fx, LF_METRIC_UPTIME, 0);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_UPTIME, 0, &fx->ev, capture, fx), 0);
    assert_int_equal(fx->ndocs, 1);
    expect_str(fx->docs[0], "event.dataset", "system.uptime");
    expect_int(fx->docs[0], "system.uptime.duration.ms", 12345670);
    put_text(fx, "uptime", "7 1\n");
    forget_docs(fx);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_UPTIME, 0, &fx->ev, capture, fx), 0);
    expect_int(fx->docs[0], "system.uptime.duration.ms", 7000);
    put_text(fx, "uptime", "soon\n");
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_UPTIME, 0, &fx->ev, capture, fx),
                     LF_ESYNTAX);
    lf_sysmetrics_destroy(m);
}

static void test_missing_files_and_bad_arguments(void **state)
{
    struct fixture *fx = *state;
    char path[600];
    snprintf(path, sizeof(path), "%s/diskstats", fx->dir);
    unlink(path);
    assert_null(lf_sysmetrics_create(fx->dir, LF_METRIC_DISKIO, 0, fx->err, sizeof(fx->err)));
    assert_non_null(strstr(fx->err, "diskio metrics: "));
    assert_non_null(strstr(fx->err, "/diskstats: cannot open"));
    assert_null(lf_sysmetrics_create(fx->dir, LF_METRIC_LOAD, 0, fx->err, sizeof(fx->err)));
    assert_non_null(strstr(fx->err, "metric sets"));
    assert_null(lf_sysmetrics_create(fx->dir, 0, 0, fx->err, sizeof(fx->err)));
    struct lf_sysmetrics *m = open_sets(fx, LF_METRIC_UPTIME, 0);
    assert_int_equal(lf_sysmetrics_collect(m, LF_METRIC_NETWORK, 0, &fx->ev, capture, fx),
                     LF_EINVAL);
    assert_int_equal(lf_sysmetrics_collect(NULL, LF_METRIC_UPTIME, 0, &fx->ev, capture, fx),
                     LF_EINVAL);
    lf_sysmetrics_destroy(m);
    lf_sysmetrics_destroy(NULL);
}

/* ---- the real /proc, and the template ---------------------------------- */

static void test_real_proc_fields_are_declared(void **state)
{
    struct fixture *fx = *state;
    fx->tmpl = lf_es_template_create();
    assert_non_null(fx->tmpl);
    assert_int_equal(lf_es_template_add_builtin(fx->tmpl), 0);
    struct lf_sysmetrics *m = lf_sysmetrics_create(NULL, SYS_ALL, 3, fx->err, sizeof(fx->err));
    if (!m)
        fail_msg("real /proc: %s", fx->err);
    static const unsigned sets[] = {LF_METRIC_NETWORK,         LF_METRIC_DISKIO,
                                    LF_METRIC_FILESYSTEM,      LF_METRIC_FSSTAT,
                                    LF_METRIC_PROCESS_SUMMARY, LF_METRIC_UPTIME};
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        forget_docs(fx);
        int rc = lf_sysmetrics_collect(m, sets[i], lf_now_mono_ms(), &fx->ev, capture, fx);
        if (rc)
            fail_msg("set 0x%x: %s", sets[i], lf_strerror(rc));
    }
    /* process: the first sample primes, the second reports; this test
     * process is running, so there is at least one */
    assert_int_equal(
        lf_sysmetrics_collect(m, LF_METRIC_PROCESS, lf_now_mono_ms(), &fx->ev, capture, fx),
        LF_ENOENT);
    int64_t until = lf_now_mono_ms() + 20;
    while (lf_now_mono_ms() < until) /* let the clock move */
        ;
    forget_docs(fx);
    assert_int_equal(
        lf_sysmetrics_collect(m, LF_METRIC_PROCESS, lf_now_mono_ms(), &fx->ev, capture, fx), 0);
    assert_true(fx->ndocs >= 1 && fx->ndocs <= 6);
    lf_sysmetrics_destroy(m);
    lf_es_template_destroy(fx->tmpl);
    fx->tmpl = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_network, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diskio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filesystem_and_fsstat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_summary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_top, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_top_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_shares_the_summary_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uptime, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_files_and_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_proc_fields_are_declared, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
