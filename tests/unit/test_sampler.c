/*
 * test_sampler.c - the metric sampler against fake /proc trees
 * (tests/data/proc/<case>/, copied to a temporary directory so that a test
 * can rewrite a file in place between two collects, as the kernel does) and
 * against the real /proc. Every expected number is worked out by hand below
 * with Metricbeat's definitions; values go through lf_event_write_json and
 * are checked as JSON too (bytes as integers, pct and load as reals).
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_config.h"
#include "lf.h"
#include "sampler.h"

#define ALL (LF_METRIC_LOAD | LF_METRIC_MEMORY | LF_METRIC_CPU)

/* ---- fake trees -------------------------------------------------------- */

struct fixture {
    char dir[256];
    struct lf_event ev;
    char err[512];
};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Rewrites dir/name in place (same inode, like a /proc file that changes),
 * so the descriptor the sampler holds sees the new content. */
static void put_file(const char *dir, const char *name, const char *data, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        assert_true(w > 0);
        off += (size_t)w;
    }
    close(fd);
}

static void put_text(const char *dir, const char *name, const char *text)
{
    put_file(dir, name, text, strlen(text));
}

/* Copies tests/data/proc/<fixture case>/<from> to dir/<to>. */
static void put_case_file(const char *dir, const char *kase, const char *from, const char *to)
{
    const char *src = getenv("LF_SOURCE_DIR");
    assert_non_null(src);
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/proc/%s/%s", src, kase, from);
    size_t n;
    char *data = slurp(path, &n);
    if (!data)
        fail_msg("cannot read %s", path);
    put_file(dir, to, data, n);
    free(data);
}

/* A temporary directory holding the files of one fixture case. */
static void make_tree(struct fixture *fx, const char *kase)
{
    const char *src = getenv("LF_SOURCE_DIR");
    assert_non_null(src);
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/proc/%s", src, kase);
    DIR *d = opendir(path);
    if (!d)
        fail_msg("no fixture %s", path);
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            put_case_file(fx->dir, kase, de->d_name, de->d_name);
    closedir(d);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    const char *tmp = getenv("TMPDIR");
    snprintf(fx->dir, sizeof(fx->dir), "%s/lf_sampler.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(fx->dir));
    lf_event_init(&fx->ev);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    DIR *d = opendir(fx->dir);
    struct dirent *de;
    char path[600];
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", fx->dir, de->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(fx->dir);
    lf_event_free(&fx->ev);
    free(fx);
    return 0;
}

/* ---- checking fields --------------------------------------------------- */

static const struct lf_field *field(const struct lf_event *ev, const char *path)
{
    const struct lf_field *f = lf_event_get(ev, path, strlen(path));
    if (!f)
        fail_msg("no field %s", path);
    return f;
}

static void check_int(const struct lf_event *ev, const char *path, int64_t want)
{
    const struct lf_field *f = field(ev, path);
    if (f->type != LF_VAL_INT || f->v.i != want)
        fail_msg("%s: type %d value %lld, want int %lld", path, f->type, (long long)f->v.i,
                 (long long)want);
}

/* Exact: a rounded value is an integer divided by 10000, the same double
 * as the decimal literal. */
static void check_float(const struct lf_event *ev, const char *path, double want)
{
    const struct lf_field *f = field(ev, path);
    if (f->type != LF_VAL_FLOAT || f->v.f != want)
        fail_msg("%s: type %d value %.17g, want float %.17g", path, f->type, f->v.f, want);
}

static void check_string(const struct lf_event *ev, const char *path, const char *want)
{
    const struct lf_field *f = field(ev, path);
    assert_int_equal(f->type, LF_VAL_STRING);
    assert_int_equal(f->len, strlen(want));
    assert_memory_equal(f->str, want, f->len);
}

static void check_absent(const struct lf_event *ev, const char *path)
{
    if (lf_event_get(ev, path, strlen(path)))
        fail_msg("unexpected field %s", path);
}

/* ---- checking JSON ----------------------------------------------------- */

static json_t *to_json(struct lf_event *ev, struct lf_buf *out)
{
    lf_buf_init(out, 1 << 20);
    assert_int_equal(lf_event_write_json(ev, out), 0);
    json_error_t jerr;
    json_t *doc = json_loadb(out->data, out->len, 0, &jerr);
    if (!doc)
        fail_msg("invalid JSON (%s): %s", jerr.text, out->data);
    return doc;
}

/* Follows a dotted path through nested objects. */
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
    if (!v)
        fail_msg("no %s in JSON", path);
    return v;
}

static void json_expect_int(json_t *doc, const char *path, long long want)
{
    json_t *v = json_at(doc, path);
    if (!json_is_integer(v) || json_integer_value(v) != want)
        fail_msg("JSON %s is not the integer %lld", path, want);
}

static void json_expect_real(json_t *doc, const char *path, double want)
{
    json_t *v = json_at(doc, path);
    if (!json_is_real(v) || json_real_value(v) != want)
        fail_msg("JSON %s is not the real %.17g", path, want);
}

/* ---- capturing the log ------------------------------------------------- */

struct capture {
    int saved;
    FILE *file;
};

static void capture_begin(struct capture *c)
{
    fflush(stderr);
    c->file = tmpfile();
    assert_non_null(c->file);
    c->saved = dup(STDERR_FILENO);
    assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

/* Returns what was logged since capture_begin (caller frees). */
static char *capture_end(struct capture *c)
{
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    rewind(c->file);
    char *buf = calloc(1, 8192);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 8191, c->file);
    buf[n] = '\0';
    fclose(c->file);
    return buf;
}

/* ---- load -------------------------------------------------------------- */

static void test_load(void **state)
{
    struct fixture *fx = *state;
    make_tree(fx, "basic");
    struct lf_sampler *s = lf_sampler_create(fx->dir, LF_METRIC_LOAD, fx->err, sizeof(fx->err));
    assert_non_null(s);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_LOAD, &fx->ev), 0);

    /* loadavg "2.33 1.93 2.03", stat has 4 cpuN lines (the numbers of
     * Metricbeat's own load/_meta/data.json): norm = load / 4. */
    assert_int_equal(fx->ev.nfields, 8);
    check_string(&fx->ev, "event.dataset", "system.load");
    check_float(&fx->ev, "system.load.1", 2.33);
    check_float(&fx->ev, "system.load.5", 1.93);
    check_float(&fx->ev, "system.load.15", 2.03);
    check_float(&fx->ev, "system.load.norm.1", 0.5825);  /* 2.33 / 4 */
    check_float(&fx->ev, "system.load.norm.5", 0.4825);  /* 1.93 / 4 */
    check_float(&fx->ev, "system.load.norm.15", 0.5075); /* 2.03 / 4 */
    check_int(&fx->ev, "system.load.cores", 4);

    struct lf_buf out;
    json_t *doc = to_json(&fx->ev, &out);
    json_expect_real(doc, "system.load.1", 2.33);
    json_expect_real(doc, "system.load.norm.15", 0.5075);
    json_expect_int(doc, "system.load.cores", 4);
    assert_string_equal(json_string_value(json_at(doc, "event.dataset")), "system.load");
    json_decref(doc);
    lf_buf_free(&out);

    /* A CPU goes offline: the count follows /proc/stat at the next sample.
     * 2.33 / 3 = 0.77666.. -> 0.7767; 1.93 / 3 = 0.64333.. -> 0.6433;
     * 2.03 / 3 = 0.67666.. -> 0.6767. */
    put_case_file(fx->dir, "basic", "stat.3", "stat");
    lf_event_clear(&fx->ev);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_LOAD, &fx->ev), 0);
    check_int(&fx->ev, "system.load.cores", 3);
    check_float(&fx->ev, "system.load.norm.1", 0.7767);
    check_float(&fx->ev, "system.load.norm.5", 0.6433);
    check_float(&fx->ev, "system.load.norm.15", 0.6767);
    lf_sampler_destroy(s);
}

/* With the cpu set on, load takes the CPU count from the cpu set's reads of
 * /proc/stat rather than reading it a second time. */
static void test_load_cores_from_cpu_set(void **state)
{
    struct fixture *fx = *state;
    make_tree(fx, "basic");
    struct lf_sampler *s =
        lf_sampler_create(fx->dir, LF_METRIC_LOAD | LF_METRIC_CPU, fx->err, sizeof(fx->err));
    assert_non_null(s);
    put_case_file(fx->dir, "basic", "stat.3", "stat");
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_LOAD, &fx->ev), 0);
    check_int(&fx->ev, "system.load.cores", 4); /* counted at create */
    lf_event_clear(&fx->ev);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev), LF_ENOENT);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_LOAD, &fx->ev), 0);
    check_int(&fx->ev, "system.load.cores", 3);
    lf_sampler_destroy(s);
}

/* ---- memory ------------------------------------------------------------ */

static void test_memory(void **state)
{
    struct fixture *fx = *state;
    make_tree(fx, "basic");
    struct lf_sampler *s = lf_sampler_create(fx->dir, LF_METRIC_MEMORY, fx->err, sizeof(fx->err));
    assert_non_null(s);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_MEMORY, &fx->ev), 0);

    /*
     * MemTotal 8148236 kB = 8343793664 B      MemFree 512340 kB = 524636160 B
     * MemAvailable 5242880 kB = 5368709120 B
     * used = 8343793664 - 524636160 = 7819157504; / total = 0.93712.. -> 0.9371
     * actual.used = 8343793664 - 5368709120 = 2975084544; 0.35656.. -> 0.3566
     * SwapTotal 2097148 kB = 2147479552 B     SwapFree 2000000 kB = 2048000000 B
     * swap.used = 99479552; / 2147479552 = 0.046323.. -> 0.0463
     */
    /* + cached (Cached 4000000 kB = 4096000000 B) + 7 hugepages fields */
    assert_int_equal(fx->ev.nfields, 20);
    check_string(&fx->ev, "event.dataset", "system.memory");
    check_int(&fx->ev, "system.memory.cached", 4096000000);
    check_int(&fx->ev, "system.memory.hugepages.total", 0);
    check_int(&fx->ev, "system.memory.hugepages.default_size", 2097152);
    check_int(&fx->ev, "system.memory.hugepages.used.bytes", 0);
    check_float(&fx->ev, "system.memory.hugepages.used.pct", 0.0);
    check_int(&fx->ev, "system.memory.total", 8343793664);
    check_int(&fx->ev, "system.memory.free", 524636160);
    check_int(&fx->ev, "system.memory.used.bytes", 7819157504);
    check_float(&fx->ev, "system.memory.used.pct", 0.9371);
    check_int(&fx->ev, "system.memory.actual.free", 5368709120);
    check_int(&fx->ev, "system.memory.actual.used.bytes", 2975084544);
    check_float(&fx->ev, "system.memory.actual.used.pct", 0.3566);
    check_int(&fx->ev, "system.memory.swap.total", 2147479552);
    check_int(&fx->ev, "system.memory.swap.free", 2048000000);
    check_int(&fx->ev, "system.memory.swap.used.bytes", 99479552);
    check_float(&fx->ev, "system.memory.swap.used.pct", 0.0463);

    struct lf_buf out;
    json_t *doc = to_json(&fx->ev, &out);
    json_expect_int(doc, "system.memory.total", 8343793664);
    json_expect_int(doc, "system.memory.used.bytes", 7819157504);
    json_expect_real(doc, "system.memory.used.pct", 0.9371);
    json_expect_int(doc, "system.memory.actual.free", 5368709120);
    json_expect_real(doc, "system.memory.actual.used.pct", 0.3566);
    json_expect_int(doc, "system.memory.swap.used.bytes", 99479552);
    json_expect_real(doc, "system.memory.swap.used.pct", 0.0463);
    assert_non_null(strstr(out.data, "\"pct\":0.9371"));
    json_decref(doc);
    lf_buf_free(&out);
    lf_sampler_destroy(s);
}

/* A kernel before 3.14 has no MemAvailable: actual.free = MemFree + Buffers +
 * Cached. The numbers are those of Metricbeat's own test
 * (metricbeat/internal/metrics/memory/memory_test.go, TestMeminfoParse and
 * TestMeminfoPct), so this checks us against Metricbeat's expectations. */
static void test_memory_old_kernel(void **state)
{
    struct fixture *fx = *state;
    make_tree(fx, "oldkern");
    struct lf_sampler *s = lf_sampler_create(fx->dir, LF_METRIC_MEMORY, fx->err, sizeof(fx->err));
    assert_non_null(s);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_MEMORY, &fx->ev), 0);
    /* (25071456 + 2728 + 26667096) kB * 1024 = 52983070720
     * 61641404 kB * 1024 = 63120797696; - 52983070720 = 10137726976 -> 0.1606
     * used = (61641404 - 25071456) kB = 37447626752 B -> 0.5933
     * swap used = (8388604 - 8386812) kB = 1835008 B; / 8589930496 -> 0.0002 */
    check_int(&fx->ev, "system.memory.total", 63120797696);
    check_int(&fx->ev, "system.memory.actual.free", 52983070720);
    check_int(&fx->ev, "system.memory.actual.used.bytes", 10137726976);
    check_float(&fx->ev, "system.memory.actual.used.pct", 0.1606);
    check_int(&fx->ev, "system.memory.used.bytes", 37447626752);
    check_float(&fx->ev, "system.memory.used.pct", 0.5933);
    check_int(&fx->ev, "system.memory.swap.used.bytes", 1835008);
    check_float(&fx->ev, "system.memory.swap.used.pct", 0.0002);
    lf_sampler_destroy(s);
}

/* Metricbeat rounds half up, not to even; no swap leaves swap.used.pct out
 * as Metricbeat does (it is not defined). */
static void test_memory_half_up_and_no_swap(void **state)
{
    struct fixture *fx = *state;
    make_tree(fx, "halfup");
    struct lf_sampler *s = lf_sampler_create(fx->dir, LF_METRIC_MEMORY, fx->err, sizeof(fx->err));
    assert_non_null(s);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_MEMORY, &fx->ev), 0);
    /* used 1 kB of 20000 kB = 0.00005 -> 0.0001 (half up; to-even gives 0);
     * actual used 7 kB = 0.00035 -> 0.0004 (to-even also 0.0004) */
    check_int(&fx->ev, "system.memory.used.bytes", 1024);
    check_float(&fx->ev, "system.memory.used.pct", 0.0001);
    check_int(&fx->ev, "system.memory.actual.used.bytes", 7168);
    check_float(&fx->ev, "system.memory.actual.used.pct", 0.0004);
    check_int(&fx->ev, "system.memory.swap.total", 0);
    check_int(&fx->ev, "system.memory.swap.free", 0);
    check_int(&fx->ev, "system.memory.swap.used.bytes", 0);
    check_absent(&fx->ev, "system.memory.swap.used.pct");
    check_int(&fx->ev, "system.memory.cached", 0);
    check_absent(&fx->ev, "system.memory.hugepages.total"); /* no HugePages_ lines */
    assert_int_equal(fx->ev.nfields, 12);
    lf_sampler_destroy(s);
}

/* Huge pages in use are those not free plus those reserved (promised to a
 * mapping, not yet faulted in), at the default size, as Metricbeat counts. */
static void test_memory_hugepages(void **state)
{
    struct fixture *fx = *state;
    make_tree(fx, "hugepages");
    struct lf_sampler *s = lf_sampler_create(fx->dir, LF_METRIC_MEMORY, fx->err, sizeof(fx->err));
    assert_non_null(s);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_MEMORY, &fx->ev), 0);
    /* total 100, free 60, reserved 10: used 100 - 60 + 10 = 50 pages of
     * 2048 kB = 104857600 B; 50 / 100 = 0.5 */
    check_int(&fx->ev, "system.memory.hugepages.total", 100);
    check_int(&fx->ev, "system.memory.hugepages.free", 60);
    check_int(&fx->ev, "system.memory.hugepages.reserved", 10);
    check_int(&fx->ev, "system.memory.hugepages.surplus", 2);
    check_int(&fx->ev, "system.memory.hugepages.default_size", 2097152);
    check_int(&fx->ev, "system.memory.hugepages.used.bytes", 104857600);
    check_float(&fx->ev, "system.memory.hugepages.used.pct", 0.5);
    lf_sampler_destroy(s);
}

/* ---- cpu --------------------------------------------------------------- */

static void test_cpu_two_samples(void **state)
{
    struct fixture *fx = *state;
    make_tree(fx, "basic");
    struct lf_sampler *s = lf_sampler_create(fx->dir, LF_METRIC_CPU, fx->err, sizeof(fx->err));
    assert_non_null(s);

    /* The first sample only sets the baseline; the event is untouched. */
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev), LF_ENOENT);
    assert_int_equal(fx->ev.nfields, 0);

    /*
     * stat -> stat.2, "cpu " line deltas: user +600, nice +10, system +200,
     * idle +2900, iowait +150, irq +20, softirq +40, steal +80 = 4000 ticks;
     * 4 cpuN lines. X.pct = delta / 4000 * 4, X.norm.pct = delta / 4000.
     * total.pct = 4 - (2.9 + 0.15) = 0.95; total.norm.pct = 1 - (0.725 +
     * 0.0375) = 0.2375.
     */
    put_case_file(fx->dir, "basic", "stat.2", "stat");
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev), 0);
    assert_int_equal(fx->ev.nfields, 20);
    check_string(&fx->ev, "event.dataset", "system.cpu");
    check_int(&fx->ev, "system.cpu.cores", 4);
    check_float(&fx->ev, "system.cpu.user.pct", 0.6);
    check_float(&fx->ev, "system.cpu.nice.pct", 0.01);
    check_float(&fx->ev, "system.cpu.system.pct", 0.2);
    check_float(&fx->ev, "system.cpu.idle.pct", 2.9);
    check_float(&fx->ev, "system.cpu.iowait.pct", 0.15);
    check_float(&fx->ev, "system.cpu.irq.pct", 0.02);
    check_float(&fx->ev, "system.cpu.softirq.pct", 0.04);
    check_float(&fx->ev, "system.cpu.steal.pct", 0.08);
    check_float(&fx->ev, "system.cpu.total.pct", 0.95);
    check_float(&fx->ev, "system.cpu.user.norm.pct", 0.15);
    check_float(&fx->ev, "system.cpu.nice.norm.pct", 0.0025);
    check_float(&fx->ev, "system.cpu.system.norm.pct", 0.05);
    check_float(&fx->ev, "system.cpu.idle.norm.pct", 0.725);
    check_float(&fx->ev, "system.cpu.iowait.norm.pct", 0.0375);
    check_float(&fx->ev, "system.cpu.irq.norm.pct", 0.005);
    check_float(&fx->ev, "system.cpu.softirq.norm.pct", 0.01);
    check_float(&fx->ev, "system.cpu.steal.norm.pct", 0.02);
    check_float(&fx->ev, "system.cpu.total.norm.pct", 0.2375);

    struct lf_buf out;
    json_t *doc = to_json(&fx->ev, &out);
    json_expect_int(doc, "system.cpu.cores", 4);
    json_expect_real(doc, "system.cpu.total.pct", 0.95);
    json_expect_real(doc, "system.cpu.idle.pct", 2.9);
    json_expect_real(doc, "system.cpu.total.norm.pct", 0.2375);
    json_decref(doc);
    lf_buf_free(&out);

    /*
     * stat.2 -> stat.3: a CPU went offline (3 cpuN lines). Deltas: user
     * +1000, system +333, idle +1666, iowait +1, softirq +1 = 3001 ticks.
     *   user    1000/3001*3 = 0.999666.. -> 0.9997   norm 0.333222.. -> 0.3332
     *   system   333/3001*3 = 0.332889.. -> 0.3329   norm 0.110963.. -> 0.111
     *   idle    1666/3001*3 = 1.665444.. -> 1.6654   norm 0.555148.. -> 0.5551
     *   iowait     1/3001*3 = 0.000999.. -> 0.001    norm 0.000333.. -> 0.0003
     *   softirq as iowait; nice, irq, steal 0
     *   total = 3 - (1.6654 + 0.001) = 1.3336; norm 1 - (0.5551 + 0.0003) = 0.4446
     */
    put_case_file(fx->dir, "basic", "stat.3", "stat");
    lf_event_clear(&fx->ev);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev), 0);
    check_int(&fx->ev, "system.cpu.cores", 3);
    check_float(&fx->ev, "system.cpu.user.pct", 0.9997);
    check_float(&fx->ev, "system.cpu.system.pct", 0.3329);
    check_float(&fx->ev, "system.cpu.idle.pct", 1.6654);
    check_float(&fx->ev, "system.cpu.iowait.pct", 0.001);
    check_float(&fx->ev, "system.cpu.softirq.pct", 0.001);
    check_float(&fx->ev, "system.cpu.nice.pct", 0.0);
    check_float(&fx->ev, "system.cpu.irq.pct", 0.0);
    check_float(&fx->ev, "system.cpu.steal.pct", 0.0);
    check_float(&fx->ev, "system.cpu.total.pct", 1.3336);
    check_float(&fx->ev, "system.cpu.user.norm.pct", 0.3332);
    check_float(&fx->ev, "system.cpu.system.norm.pct", 0.111);
    check_float(&fx->ev, "system.cpu.idle.norm.pct", 0.5551);
    check_float(&fx->ev, "system.cpu.iowait.norm.pct", 0.0003);
    check_float(&fx->ev, "system.cpu.total.norm.pct", 0.4446);

    doc = to_json(&fx->ev, &out);
    json_expect_real(doc, "system.cpu.steal.pct", 0.0); /* "0.0": still a real */
    json_decref(doc);
    lf_buf_free(&out);

    /* No tick since the last sample: nothing to divide by. */
    lf_event_clear(&fx->ev);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev), LF_ENOENT);
    assert_int_equal(fx->ev.nfields, 0);
    /* Counters that went back (stat.3 -> stat) start a new baseline... */
    put_case_file(fx->dir, "basic", "stat", "stat");
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev), LF_ENOENT);
    /* ...from which the next interval is measured as before. */
    put_case_file(fx->dir, "basic", "stat.2", "stat");
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev), 0);
    check_float(&fx->ev, "system.cpu.total.pct", 0.95);
    lf_sampler_destroy(s);
}

/* ---- failures ---------------------------------------------------------- */

static void test_missing_files(void **state)
{
    struct fixture *fx = *state;
    make_tree(fx, "nostat"); /* loadavg and meminfo, no stat */
    char path[512];
    snprintf(path, sizeof(path), "%s/stat", fx->dir);

    struct lf_sampler *s = lf_sampler_create(fx->dir, LF_METRIC_MEMORY, fx->err, sizeof(fx->err));
    assert_non_null(s); /* memory does not need stat */
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev), LF_EINVAL); /* not opened */
    lf_sampler_destroy(s);

    assert_null(lf_sampler_create(fx->dir, LF_METRIC_CPU, fx->err, sizeof(fx->err)));
    assert_non_null(strstr(fx->err, "cpu metrics"));
    assert_non_null(strstr(fx->err, path));
    assert_non_null(strstr(fx->err, "No such file"));

    assert_null(lf_sampler_create(fx->dir, LF_METRIC_LOAD, fx->err, sizeof(fx->err)));
    assert_non_null(strstr(fx->err, "load metrics"));
    assert_non_null(strstr(fx->err, path));

    assert_null(lf_sampler_create(fx->dir, ALL, fx->err, sizeof(fx->err)));
    assert_non_null(strstr(fx->err, "load and cpu metrics"));
    assert_non_null(strstr(fx->err, path));

    char nowhere[300];
    snprintf(nowhere, sizeof(nowhere), "%s/none", fx->dir);
    assert_null(lf_sampler_create(nowhere, LF_METRIC_MEMORY, fx->err, sizeof(fx->err)));
    assert_non_null(strstr(fx->err, "memory metrics"));
    assert_non_null(strstr(fx->err, "/none/meminfo: cannot open"));

    assert_null(lf_sampler_create(fx->dir, 0, fx->err, sizeof(fx->err)));
    assert_non_null(strstr(fx->err, "metric sets"));
    assert_null(lf_sampler_create(fx->dir, 8, fx->err, sizeof(fx->err)));
}

/* Garbage is refused at create, and at collect leaves the event as it was,
 * returns LF_ESYNTAX and logs which file and why, once. */
static void check_garbage(struct fixture *fx, struct lf_sampler *s, unsigned set, const char *file,
                          const char *content, const char *why)
{
    put_text(fx->dir, file, content);
    lf_event_clear(&fx->ev);
    assert_int_equal(lf_event_add_string(&fx->ev, "message", "kept", 4), 0);
    struct capture c;
    capture_begin(&c);
    int rc = lf_sampler_collect(s, set, &fx->ev);
    int again = lf_sampler_collect(s, set, &fx->ev);
    char *log = capture_end(&c);
    if (rc != LF_ESYNTAX || again != LF_ESYNTAX)
        fail_msg("%s \"%s\": got %d, %d, want LF_ESYNTAX", file, content, rc, again);
    assert_int_equal(fx->ev.nfields, 1);
    check_string(&fx->ev, "message", "kept");
    char path[512];
    snprintf(path, sizeof(path), "%s/%s: ", fx->dir, file);
    if (!strstr(log, path) || !strstr(log, why))
        fail_msg("log for %s \"%s\" lacks \"%s\" / \"%s\": %s", file, content, path, why, log);
    const char *first = strstr(log, path);
    if (strstr(first + 1, path))
        fail_msg("logged twice: %s", log);

    /* Create refuses the same content, with the same reason. */
    assert_null(lf_sampler_create(fx->dir, set, fx->err, sizeof(fx->err)));
    if (!strstr(fx->err, path) || !strstr(fx->err, why))
        fail_msg("create error for %s lacks \"%s\": %s", file, why, fx->err);
    free(log);
}

static void test_garbage(void **state)
{
    struct fixture *fx = *state;
    make_tree(fx, "basic");
    struct lf_sampler *s = lf_sampler_create(fx->dir, ALL, fx->err, sizeof(fx->err));
    assert_non_null(s);

    check_garbage(fx, s, LF_METRIC_LOAD, "loadavg", "hello world\n", "three load averages");
    check_garbage(fx, s, LF_METRIC_LOAD, "loadavg", "0.5 0.25\n",
                  "expected three load averages, found \"0.5 0.25\"");
    check_garbage(fx, s, LF_METRIC_LOAD, "loadavg", "0.5 0.25 x.1 1/2 3\n", "three load averages");
    check_garbage(fx, s, LF_METRIC_LOAD, "loadavg", "", "empty");
    check_garbage(fx, s, LF_METRIC_MEMORY, "meminfo", "MemTotal: lots kB\nMemFree: 1 kB\n",
                  "MemTotal: not a number");
    check_garbage(fx, s, LF_METRIC_MEMORY, "meminfo", "MemFree: 10 kB\nSwapTotal: 0 kB\n",
                  "no MemTotal line");
    check_garbage(fx, s, LF_METRIC_MEMORY, "meminfo", "MemTotal: 10 kB\nMemFree: 20 kB\n",
                  "MemFree is larger");
    check_garbage(fx, s, LF_METRIC_MEMORY, "meminfo",
                  "MemTotal: 99999999999999999999 kB\nMemFree: 1 kB\n",
                  "MemTotal: value out of range");
    check_garbage(fx, s, LF_METRIC_MEMORY, "meminfo",
                  "MemTotal: 9999999999999999 kB\nMemFree: 1 kB\n",
                  "MemTotal: 9999999999999999 kB is out of range");
    check_garbage(fx, s, LF_METRIC_MEMORY, "meminfo", "MemTotal:\nMemFree: 1 kB\n",
                  "MemTotal: not a number");
    check_garbage(fx, s, LF_METRIC_CPU, "stat", "cpu  1 2 x 4 5 6 7 8\ncpu0 1\n",
                  "value 3 is not a number");
    check_garbage(fx, s, LF_METRIC_CPU, "stat", "cpu  1 2 3\ncpu0 1 2 3\n",
                  "has 3 values, want at least 4");
    check_garbage(fx, s, LF_METRIC_CPU, "stat", "intr 1 2 3\ncpu  1 2 3 4\n",
                  "is not the \"cpu \" line");
    check_garbage(fx, s, LF_METRIC_CPU, "stat", "cpu  1 2 3 4 5 6 7 8\nintr 5\n", "no per-CPU");
    check_garbage(fx, s, LF_METRIC_CPU, "stat", "cpu  1 2 3 99999999999999999999\ncpu0 1\n",
                  "value 4 out of range");
    check_garbage(fx, s, LF_METRIC_CPU, "stat", "\x01\x02\x03 binary\nmore\n",
                  "is not the \"cpu \" line: \"??? binary\"");

    /* Good content again: the sets work, and the log says so. */
    put_case_file(fx->dir, "basic", "loadavg", "loadavg");
    put_case_file(fx->dir, "basic", "meminfo", "meminfo");
    put_case_file(fx->dir, "basic", "stat", "stat");
    struct capture c;
    capture_begin(&c);
    lf_event_clear(&fx->ev);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_LOAD, &fx->ev), 0);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_MEMORY, &fx->ev), 0);
    char *log = capture_end(&c);
    assert_non_null(strstr(log, "load metrics are back"));
    assert_non_null(strstr(log, "memory metrics are back"));
    free(log);
    lf_sampler_destroy(s);
}

/* The event cannot take the fields: LF_ELIMIT, event and state unchanged. */
static void test_event_full(void **state)
{
    struct fixture *fx = *state;
    make_tree(fx, "basic");
    struct lf_sampler *s = lf_sampler_create(fx->dir, ALL, fx->err, sizeof(fx->err));
    assert_non_null(s);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev), LF_ENOENT);
    for (size_t i = 0; i < LF_EVENT_MAX_FIELDS - 5; i++)
        assert_int_equal(lf_event_add_string(&fx->ev, "message", "x", 1), 0);
    size_t n = fx->ev.nfields;
    put_case_file(fx->dir, "basic", "stat.2", "stat");
    struct capture c;
    capture_begin(&c);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_LOAD, &fx->ev), LF_ELIMIT);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_MEMORY, &fx->ev), LF_ELIMIT);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev), LF_ELIMIT);
    assert_int_equal(fx->ev.nfields, n);
    /* The cpu baseline was not consumed by the failed call. */
    lf_event_clear(&fx->ev);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev), 0);
    check_float(&fx->ev, "system.cpu.total.pct", 0.95);
    char *log = capture_end(&c);
    assert_non_null(strstr(log, "load metrics: cannot add 8 fields to the event"));
    assert_non_null(strstr(log, "cpu metrics are back"));
    free(log);
    lf_sampler_destroy(s);
}

/* ---- a /proc/stat past the buffer -------------------------------------- */

/* A stat with `ncpu` cpuN lines of about 100 bytes and an intr line of
 * `intr` counters. */
static char *big_stat(unsigned ncpu, size_t intr, size_t *len)
{
    size_t cap = 160 + (size_t)ncpu * 128 + intr * 2 + 64;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n = (size_t)snprintf(buf, cap, "cpu  %u 0 %u %u 0 0 0 0 0 0\n", 1000u * ncpu,
                                300u * ncpu, 90000u * ncpu);
    for (unsigned i = 0; i < ncpu; i++)
        n += (size_t)snprintf(buf + n, cap - n,
                              "cpu%u 1234567890 12345 234567890 9876543210 12345 0 54321 0 0 0\n",
                              i);
    n += (size_t)snprintf(buf + n, cap - n, "intr 123456");
    for (size_t i = 0; i < intr; i++) {
        buf[n++] = ' ';
        buf[n++] = '0';
    }
    n += (size_t)snprintf(buf + n, cap - n, "\nctxt 1\nbtime 2\n");
    assert_true(n < cap);
    *len = n;
    return buf;
}

static void test_stat_bigger_than_buffer(void **state)
{
    struct fixture *fx = *state;
    make_tree(fx, "basic");
    size_t n;

    /* The cpu lines fit, the file does not: a 600 KB intr line (many IRQs)
     * past the buffer does not matter. */
    char *big = big_stat(512, 300000, &n);
    assert_true(n > 600000);
    put_file(fx->dir, "stat", big, n);
    free(big);
    struct lf_sampler *s =
        lf_sampler_create(fx->dir, LF_METRIC_CPU | LF_METRIC_LOAD, fx->err, sizeof(fx->err));
    if (!s)
        fail_msg("%s", fx->err);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_LOAD, &fx->ev), 0);
    check_int(&fx->ev, "system.load.cores", 512);

    /* 4096 cpu lines (~260 KB) do not fit: refused with the reason... */
    big = big_stat(4096, 10, &n);
    put_file(fx->dir, "stat", big, n);
    struct capture c;
    capture_begin(&c);
    lf_event_clear(&fx->ev);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev), LF_ELIMIT);
    char *log = capture_end(&c);
    assert_int_equal(fx->ev.nfields, 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/stat: more cpu lines than fit in the", fx->dir);
    if (!strstr(log, path))
        fail_msg("log lacks \"%s\": %s", path, log);
    free(log);
    lf_sampler_destroy(s);

    /* ...and at create. */
    assert_null(lf_sampler_create(fx->dir, LF_METRIC_CPU, fx->err, sizeof(fx->err)));
    assert_non_null(strstr(fx->err, path));

    /* A first line longer than the whole buffer. */
    memcpy(big, "cpu  1", 6);
    memset(big + 6, '1', n - 6);
    put_file(fx->dir, "stat", big, n);
    free(big);
    assert_null(lf_sampler_create(fx->dir, LF_METRIC_CPU, fx->err, sizeof(fx->err)));
    assert_non_null(strstr(fx->err, "first line longer than the"));
}

/* ---- the real /proc ---------------------------------------------------- */

static double fnum(const struct lf_event *ev, const char *path)
{
    const struct lf_field *f = field(ev, path);
    assert_int_equal(f->type, LF_VAL_FLOAT);
    return f->v.f;
}

static int64_t inum(const struct lf_event *ev, const char *path)
{
    const struct lf_field *f = field(ev, path);
    assert_int_equal(f->type, LF_VAL_INT);
    return f->v.i;
}

static void check_between(const struct lf_event *ev, const char *path, double lo, double hi)
{
    double v = fnum(ev, path);
    if (!(v >= lo && v <= hi))
        fail_msg("%s = %g, want %g..%g", path, v, lo, hi);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_real_proc(void **state)
{
    struct fixture *fx = *state;
    struct lf_sampler *s = lf_sampler_create("/proc", ALL, fx->err, sizeof(fx->err));
    if (!s)
        fail_msg("%s", fx->err);

    assert_int_equal(lf_sampler_collect(s, LF_METRIC_LOAD, &fx->ev), 0);
    int64_t cores = inum(&fx->ev, "system.load.cores");
    assert_true(cores >= 1);
    assert_true(fnum(&fx->ev, "system.load.1") >= 0);
    check_between(&fx->ev, "system.load.norm.15", 0, 1e6);

    lf_event_clear(&fx->ev);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_MEMORY, &fx->ev), 0);
    int64_t total = inum(&fx->ev, "system.memory.total");
    assert_true(total > 0);
    assert_true(inum(&fx->ev, "system.memory.free") <= total);
    assert_true(inum(&fx->ev, "system.memory.actual.free") <= total);
    assert_true(inum(&fx->ev, "system.memory.used.bytes") > 0);
    check_between(&fx->ev, "system.memory.used.pct", 0, 1);
    check_between(&fx->ev, "system.memory.actual.used.pct", 0, 1);
    if (inum(&fx->ev, "system.memory.swap.total") > 0)
        check_between(&fx->ev, "system.memory.swap.used.pct", 0, 1);

    /* cpu: a baseline, then keep a core busy for 100 ms (ten ticks at
     * USER_HZ 100) and until the kernel has counted one, with a deadline. */
    lf_event_clear(&fx->ev);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev), LF_ENOENT);
    double deadline = mono_s() + 5, busy = mono_s() + 0.1;
    while (mono_s() < busy)
        ;
    int rc = lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev);
    while (rc == LF_ENOENT && mono_s() < deadline) {
        double until = mono_s() + 0.02;
        while (mono_s() < until)
            ;
        rc = lf_sampler_collect(s, LF_METRIC_CPU, &fx->ev);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(inum(&fx->ev, "system.cpu.cores"), cores);
    static const char *const parts[] = {"user", "nice",    "system", "idle",
                                        "irq",  "softirq", "steal"};
    char path[64];
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        snprintf(path, sizeof(path), "system.cpu.%s.pct", parts[i]);
        check_between(&fx->ev, path, 0, (double)cores);
        snprintf(path, sizeof(path), "system.cpu.%s.norm.pct", parts[i]);
        check_between(&fx->ev, path, 0, 1);
    }
    /* proc(5): iowait can decrease, which Metricbeat reports as a negative
     * share; and two shares rounded up can pass the whole by 0.0001. */
    check_between(&fx->ev, "system.cpu.iowait.norm.pct", -1, 1);
    check_between(&fx->ev, "system.cpu.total.pct", -0.0001, (double)cores + 1);
    check_between(&fx->ev, "system.cpu.total.norm.pct", -0.0001, 1.0001);
    /* We spun a core: something was busy. */
    assert_true(fnum(&fx->ev, "system.cpu.total.pct") > 0);

    struct lf_buf out;
    json_t *doc = to_json(&fx->ev, &out);
    assert_true(json_is_integer(json_at(doc, "system.cpu.cores")));
    assert_true(json_is_real(json_at(doc, "system.cpu.total.norm.pct")));
    json_decref(doc);
    lf_buf_free(&out);
    lf_sampler_destroy(s);
}

static void test_bad_arguments(void **state)
{
    struct fixture *fx = *state;
    make_tree(fx, "basic");
    struct lf_sampler *s = lf_sampler_create(fx->dir, ALL, fx->err, sizeof(fx->err));
    assert_non_null(s);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_LOAD | LF_METRIC_CPU, &fx->ev), LF_EINVAL);
    assert_int_equal(lf_sampler_collect(s, 0, &fx->ev), LF_EINVAL);
    assert_int_equal(lf_sampler_collect(s, LF_METRIC_LOAD, NULL), LF_EINVAL);
    assert_int_equal(lf_sampler_collect(NULL, LF_METRIC_LOAD, &fx->ev), LF_EINVAL);
    assert_int_equal(fx->ev.nfields, 0);
    lf_sampler_destroy(s);
    lf_sampler_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_cores_from_cpu_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_old_kernel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_half_up_and_no_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_hugepages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpu_two_samples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stat_bigger_than_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_proc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
