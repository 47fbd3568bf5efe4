/*
 * test_tail.c - the files input driven as the agent's main loop would, with
 * the real parser and pipeline: where reading starts, partial and overlong
 * lines, every kind of rotation, restarts and crashes resuming exactly at
 * the acknowledged position, back-pressure, and more files than max_open.
 *
 * The output is the stdout sink writing into a file, or, where the test
 * needs to withhold acknowledgements or refuse batches, a small output
 * defined here. Every test checks each line arrived exactly once.
 *
 * Document ids: the test output writes each document with its _id, so that
 * tests can check ids are made from the file's content id (kept in the
 * registry) and offset: the same across renames and restarts, new for new
 * content; and, when asked, that every document it is given has its
 * content id in registry.json on disk already.
 */
#define _POSIX_C_SOURCE 200809L
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
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "input.h"
#include "lf.h"
#include "shipper.h"

#define WAIT_MS 15000 /* generous: sanitizer builds on a busy machine */

/* ---- an output that can refuse batches and withhold acknowledgements ---- */

struct held {
    struct lf_ack_target *t;
    uint64_t seq;
};

struct test_out {
    struct lf_output base;
    int fd;
    int refuse; /* submits still to refuse with LF_ELIMIT */
    bool hold;  /* keep acknowledgements until released */
    struct held *held;
    size_t nheld, cap;
    unsigned refused;
    const char *verify_data;   /* data_dir: check content ids are on disk */
    size_t verified;           /* documents checked so */
    void (*on_submit)(void *); /* run once, at the next submit */
    void *on_submit_arg;
};

/* Each document with its _id as the first member. */
static void write_docs(int fd, const struct lf_batch *b)
{
    for (size_t i = 0; i < b->ndocs; i++) {
        const struct lf_doc *d = &b->docs[i];
        const char *doc = b->buf.data + d->off;
        assert_true(d->len > 2 && doc[0] == '{' && doc[1] != '}');
        char head[64];
        int n = snprintf(head, sizeof(head), "{\"_id\":\"%s\",", d->id);
        assert_int_equal(write(fd, head, (size_t)n), n);
        assert_int_equal(write(fd, doc + 1, d->len - 1), (ssize_t)(d->len - 1));
        assert_int_equal(write(fd, "\n", 1), 1);
    }
}

/* Whether `id` is the _id of the line at `off` of content `cid`. */
static bool id_from(const char *id, uint64_t cid, int64_t off)
{
    char src[32], want[LF_DOC_ID_LEN + 1];
    snprintf(src, sizeof(src), "file:%016" PRIx64, cid);
    lf_doc_id(want, "testhost", src, (uint64_t)off);
    return strcmp(id, want) == 0;
}

/* The content ids in <data>/registry.json; returns how many (at most max). */
static size_t registry_cids(const char *data, uint64_t *out, size_t max)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/registry.json", data);
    json_error_t jerr;
    json_t *root = json_load_file(p, 0, &jerr);
    size_t n = 0, i;
    json_t *x;
    json_array_foreach(json_object_get(root, "entries"), i, x)
    {
        const char *hex = json_string_value(json_object_get(x, "content_id"));
        if (hex && n < max)
            out[n++] = strtoull(hex, NULL, 16);
    }
    json_decref(root);
    return n;
}

/* Every document's content id must be on disk before it goes out: else a
 * crash could forget the id its lines were shipped under. */
static void verify_durable(struct test_out *o, const struct lf_batch *b)
{
    uint64_t cids[64];
    size_t n = registry_cids(o->verify_data, cids, 64);
    for (size_t i = 0; i < b->ndocs; i++) {
        const struct lf_doc *d = &b->docs[i];
        json_error_t jerr;
        json_t *doc = json_loadb(b->buf.data + d->off, d->len, 0, &jerr);
        assert_non_null(doc);
        int64_t off = json_integer_value(json_object_get(json_object_get(doc, "log"), "offset"));
        json_decref(doc);
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = id_from(d->id, cids[k], off);
        if (!found)
            fail_msg("document at offset %" PRId64 " shipped before its content id was saved", off);
        o->verified++;
    }
}

static int tout_submit(struct lf_output *base, struct lf_batch *b)
{
    struct test_out *o = (struct test_out *)base;
    if (o->on_submit) {
        void (*fn)(void *) = o->on_submit;
        o->on_submit = NULL;
        fn(o->on_submit_arg);
    }
    if (o->refuse > 0) {
        o->refuse--;
        o->refused++;
        return LF_ELIMIT;
    }
    if (o->verify_data)
        verify_durable(o, b);
    write_docs(o->fd, b);
    base->counters.submitted += b->ndocs;
    if (!o->hold) {
        lf_output_ack_batch(base, b);
        return 0;
    }
    for (size_t i = 0; i < b->ndocs; i++) {
        if (o->nheld == o->cap) {
            o->cap = o->cap ? o->cap * 2 : 1024;
            o->held = realloc(o->held, o->cap * sizeof(*o->held));
            assert_non_null(o->held);
        }
        o->held[o->nheld++] = (struct held){b->docs[i].ack, b->docs[i].seq};
    }
    return 0;
}

static int tout_poll(struct lf_output *base, int timeout_ms)
{
    (void)base;
    (void)timeout_ms;
    return 0;
}

static size_t tout_pending(const struct lf_output *base)
{
    return ((const struct test_out *)base)->nheld;
}

static void tout_destroy(struct lf_output *base)
{
    struct test_out *o = (struct test_out *)base;
    free(o->held);
    free(o);
}

static const struct lf_output_ops tout_ops = {
    .name = "test",
    .submit = tout_submit,
    .poll = tout_poll,
    .pending = tout_pending,
    .destroy = tout_destroy,
};

/* Acknowledges everything held, in order. */
static void tout_release(struct test_out *o)
{
    size_t n = o->nheld;
    o->nheld = 0;
    for (size_t i = 0; i < n; i++)
        o->held[i].t->safe(o->held[i].t, o->held[i].seq);
}

/* ---- the environment ----------------------------------------------------- */

struct env {
    char root[128];
    char logs[160];
    char data[160];
    char out_path[160];
    char glob[192];
    char *paths[1];
    char *excludes[1];
    char *expressions[1];
    struct lf_grammar_conf gc;
    struct lf_files_conf fc;
    struct lf_agent_conf conf;
    struct lf_parser *parser;
    int out_fd;
    struct lf_output *out;
    struct test_out *tout; /* when the output is the test one */
    struct lf_pipeline *pipe;
    struct lf_input *in;
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static struct env *env_new(enum lf_start_at start, bool test_output)
{
    struct env *e = calloc(1, sizeof(*e));
    snprintf(e->root, sizeof(e->root), "/tmp/lf_tail_XXXXXX");
    assert_non_null(mkdtemp(e->root));
    snprintf(e->logs, sizeof(e->logs), "%s/logs", e->root);
    snprintf(e->data, sizeof(e->data), "%s/data", e->root);
    snprintf(e->out_path, sizeof(e->out_path), "%s/out.ndjson", e->root);
    snprintf(e->glob, sizeof(e->glob), "%s/*.log", e->logs);
    assert_int_equal(mkdir(e->logs, 0755), 0);
    e->paths[0] = e->glob;
    e->excludes[0] = "*.gz.log";
    e->expressions[0] = "^%{WORD:t} %{INT:n:int}$";
    e->gc = (struct lf_grammar_conf){
        .name = "t", .expressions = e->expressions, .nexpressions = 1, .max_line = 1 << 20};
    e->fc = (struct lf_files_conf){.paths = e->paths,
                                   .npaths = 1,
                                   .exclude = e->excludes,
                                   .nexclude = 1,
                                   .grammar = "t",
                                   .index = "test",
                                   .start_at = start,
                                   .rescan_ms = 100,
                                   .partial_wait_ms = 300,
                                   .max_open = 64};
    e->conf.data_dir = e->data;
    e->conf.grammars = &e->gc;
    e->conf.ngrammars = 1;
    e->conf.files = &e->fc;
    e->conf.nfiles = 1;
    e->out_fd = open(e->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    assert_true(e->out_fd >= 0);
    char err[256];
    if (test_output) {
        e->tout = calloc(1, sizeof(*e->tout));
        e->tout->base.ops = &tout_ops;
        e->tout->fd = e->out_fd;
        e->out = &e->tout->base;
    } else {
        e->out = lf_out_stdout_create(e->out_fd, false, err, sizeof(err));
    }
    assert_non_null(e->out);
    e->pipe = lf_pipeline_create_for_test(e->out, "testhost");
    assert_non_null(e->pipe);
    return e;
}

static void env_start(struct env *e)
{
    char err[512] = "";
    if (!e->parser)
        e->parser = lf_parser_create(&e->gc, "UTC", err, sizeof(err));
    if (!e->parser)
        fail_msg("parser: %s", err);
    e->in = lf_input_files_create(&e->conf, 0, e->parser, e->pipe, err, sizeof(err));
    if (!e->in)
        fail_msg("files input: %s", err);
}

/* One turn of a main loop: run, send, checkpoint, then wait for inotify or
 * the input's deadline (at most 20 ms). */
static void pump_once(struct env *e)
{
    struct lf_input *in = e->in;
    assert_int_equal(in->ops->run(in, lf_now_mono_ms()), 0);
    lf_pipeline_flush(e->pipe);
    lf_output_poll(e->out, 0);
    in->ops->checkpoint(in);
    int timeout = 20;
    int64_t d = in->ops->deadline(in);
    if (d >= 0 && d - lf_now_mono_ms() < timeout)
        timeout = d <= lf_now_mono_ms() ? 0 : (int)(d - lf_now_mono_ms());
    struct pollfd pfd = {.fd = in->ops->fd(in), .events = POLLIN};
    poll(&pfd, pfd.fd >= 0 ? 1 : 0, timeout);
}

static void env_stop(struct env *e)
{
    if (!e->in)
        return;
    e->in->ops->stop(e->in);
    lf_pipeline_flush(e->pipe);
    e->in->ops->checkpoint(e->in);
    e->in->ops->destroy(e->in);
    e->in = NULL;
}

static void env_free(struct env *e)
{
    env_stop(e);
    if (e->tout)
        e->tout->nheld = 0; /* their files are gone: never acknowledge */
    lf_pipeline_destroy(e->pipe);
    lf_output_destroy(e->out);
    lf_parser_destroy(e->parser);
    close(e->out_fd);
    nftw(e->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(e);
}

/* ---- what came out ------------------------------------------------------- */

struct rec {
    char *id; /* NULL: not the test output */
    char *msg;
    size_t len;
    int64_t off;
    char *path;
    char *dataset;
    bool cut;
};

struct recs {
    struct rec *v;
    size_t n;
};

static void recs_free(struct recs *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].id);
        free(r->v[i].msg);
        free(r->v[i].path);
        free(r->v[i].dataset);
    }
    free(r->v);
    r->v = NULL;
    r->n = 0;
}

static bool has_tag(json_t *doc, const char *tag)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "tags"), i, t)
    {
        if (strcmp(json_string_value(t), tag) == 0)
            return true;
    }
    return false;
}

static void add_rec(struct recs *r, json_t *doc)
{
    json_t *msg = json_object_get(doc, "message");
    json_t *log = json_object_get(doc, "log");
    json_t *off = json_object_get(log, "offset");
    json_t *path = json_object_get(json_object_get(log, "file"), "path");
    assert_true(json_is_string(msg) && json_is_integer(off) && json_is_string(path));
    r->v = realloc(r->v, (r->n + 1) * sizeof(*r->v));
    struct rec *x = &r->v[r->n++];
    x->len = json_string_length(msg);
    x->msg = malloc(x->len + 1);
    memcpy(x->msg, json_string_value(msg), x->len + 1);
    x->off = json_integer_value(off);
    x->path = strdup(json_string_value(path));
    x->cut = has_tag(doc, "_truncated");
    json_t *ds = json_object_get(json_object_get(doc, "event"), "dataset");
    x->dataset = json_is_string(ds) ? strdup(json_string_value(ds)) : NULL;
    json_t *id = json_object_get(doc, "_id");
    x->id = json_is_string(id) ? strdup(json_string_value(id)) : NULL;
}

/* Every document written so far, in order. */
static struct recs load(const struct env *e)
{
    struct recs r = {0};
    FILE *f = fopen(e->out_path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_error_t jerr;
        json_t *doc = json_loadb(line, (size_t)n, 0, &jerr);
        if (!doc)
            fail_msg("bad output line: %s", jerr.text);
        add_rec(&r, doc);
        json_decref(doc);
    }
    free(line);
    fclose(f);
    return r;
}

/* Documents written so far (one per line; load() checks them). */
static size_t count_out(const struct env *e)
{
    int fd = open(e->out_path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    char buf[1 << 16];
    size_t n = 0;
    ssize_t got;
    while ((got = read(fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + got - p))); p++)
            n++;
    }
    close(fd);
    return n;
}

/* Pumps until at least n documents are out; returns how many are. */
static size_t pump_until(struct env *e, size_t n)
{
    int64_t end = lf_now_mono_ms() + WAIT_MS;
    size_t got;
    while ((got = count_out(e)) < n && lf_now_mono_ms() < end)
        pump_once(e);
    return got;
}

/* Keeps pumping for ms, so that anything extra would show up. */
static size_t pump_for(struct env *e, int64_t ms)
{
    int64_t end = lf_now_mono_ms() + ms;
    while (lf_now_mono_ms() < end)
        pump_once(e);
    return count_out(e);
}

static size_t count_msg(const struct recs *r, const char *msg)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += strcmp(r->v[i].msg, msg) == 0;
    return n;
}

static const struct rec *find_msg(const struct recs *r, const char *msg)
{
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->v[i].msg, msg) == 0)
            return &r->v[i];
    }
    fail_msg("no event with message '%s'", msg);
    return NULL;
}

/* "tag from" .. "tag to" each exactly `times` times. */
static void expect_each(const struct recs *r, const char *tag, int from, int to, size_t times)
{
    char msg[64];
    for (int i = from; i <= to; i++) {
        snprintf(msg, sizeof(msg), "%s %d", tag, i);
        size_t n = count_msg(r, msg);
        if (n != times)
            fail_msg("'%s' came %zu times, expected %zu", msg, n, times);
    }
}

/* ---- writing logs -------------------------------------------------------- */

static void log_path(const struct env *e, const char *name, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", e->logs, name);
}

static int open_log(const struct env *e, const char *name)
{
    char p[256];
    log_path(e, name, p, sizeof(p));
    int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    return fd;
}

static void put(int fd, const char *s, size_t n)
{
    assert_int_equal(write(fd, s, n), (ssize_t)n);
}

static void puts_fd(int fd, const char *s)
{
    put(fd, s, strlen(s));
}

static void lines(int fd, const char *tag, int from, int to)
{
    char buf[64];
    for (int i = from; i <= to; i++) {
        int n = snprintf(buf, sizeof(buf), "%s %d\n", tag, i);
        put(fd, buf, (size_t)n);
    }
}

/* Appends lines to a file by name, opening and closing it. */
static void append(const struct env *e, const char *name, const char *tag, int from, int to)
{
    int fd = open_log(e, name);
    lines(fd, tag, from, to);
    close(fd);
}

/* The registry as written, or NULL if there is none yet. */
static json_t *registry_json(const struct env *e)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/registry.json", e->data);
    json_error_t jerr;
    return json_load_file(p, 0, &jerr);
}

/* The registry's offset for the file now at `name`, or -1. */
static int64_t registry_offset(const struct env *e, const char *name)
{
    char p[256];
    struct stat st;
    log_path(e, name, p, sizeof(p));
    json_t *root = registry_json(e);
    if (!root || stat(p, &st) != 0) {
        json_decref(root);
        return -1;
    }
    int64_t off = -1;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(root, "entries"), i, x)
    {
        if ((ino_t)json_integer_value(json_object_get(x, "ino")) == st.st_ino)
            off = json_integer_value(json_object_get(x, "offset"));
    }
    json_decref(root);
    return off;
}

/* The registry's content id for the file now at `name`, or 0. */
static uint64_t registry_cid(const struct env *e, const char *name)
{
    char p[256];
    struct stat st;
    log_path(e, name, p, sizeof(p));
    json_t *root = registry_json(e);
    if (!root || stat(p, &st) != 0) {
        json_decref(root);
        return 0;
    }
    uint64_t cid = 0;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(root, "entries"), i, x)
    {
        const char *hex = json_string_value(json_object_get(x, "content_id"));
        if ((ino_t)json_integer_value(json_object_get(x, "ino")) == st.st_ino && hex)
            cid = strtoull(hex, NULL, 16);
    }
    json_decref(root);
    return cid;
}

/* Every document with a message "tag N" has the _id of content cid. */
static void expect_ids(const struct recs *r, const char *tag, uint64_t cid)
{
    size_t n = strlen(tag);
    for (size_t i = 0; i < r->n; i++) {
        const struct rec *x = &r->v[i];
        if (strncmp(x->msg, tag, n) != 0 || x->msg[n] != ' ')
            continue;
        assert_non_null(x->id);
        if (!id_from(x->id, cid, x->off))
            fail_msg("'%s' at offset %" PRId64 " has _id %s, not one of content %016" PRIx64,
                     x->msg, x->off, x->id, cid);
    }
}

static size_t registry_entries(const struct env *e)
{
    json_t *root = registry_json(e);
    assert_non_null(root);
    size_t n = json_array_size(json_object_get(root, "entries"));
    json_decref(root);
    return n;
}

static int64_t file_size(const struct env *e, const char *name)
{
    char p[256];
    struct stat st;
    log_path(e, name, p, sizeof(p));
    assert_int_equal(stat(p, &st), 0);
    return (int64_t)st.st_size;
}

/* Descriptors this process has open on files under the logs directory. */
static size_t open_log_fds(const struct env *e)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        char link[320], target[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
        ssize_t len = readlink(link, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        n += strncmp(target, e->logs, strlen(e->logs)) == 0 && target[strlen(e->logs)] == '/';
    }
    closedir(d);
    return n;
}

/* ---- where reading starts ------------------------------------------------ */

static void test_start_end_and_new_files(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_END, false);
    append(e, "a.log", "pre", 1, 3);
    append(e, "skip.gz.log", "gz", 1, 3); /* excluded */
    int w = open_log(e, "a.log");
    puts_fd(w, "half of a line being writ"); /* startup falls inside it */
    env_start(e);
    assert_true(e->in->ops->fd(e->in) >= 0); /* inotify */
    assert_int_equal(pump_for(e, 200), 0);

    puts_fd(w, "ten\n");
    lines(w, "new", 1, 2);
    assert_int_equal(pump_until(e, 3), 3);
    append(e, "late.log", "late", 1, 2); /* appears later: from its start */
    assert_int_equal(pump_until(e, 5), 5);
    assert_int_equal(pump_for(e, 200), 5);

    struct recs r = load(e);
    expect_each(&r, "new", 1, 2, 1);
    expect_each(&r, "late", 1, 2, 1);
    /* The line being written at startup is read whole, not from the middle. */
    const struct rec *x = find_msg(&r, "half of a line being written");
    assert_int_equal(x->off, 18);
    assert_int_equal(find_msg(&r, "new 1")->off, 18 + 29);
    assert_int_equal(find_msg(&r, "late 1")->off, 0);
    assert_int_equal(find_msg(&r, "late 2")->off, 7);
    char p[256];
    log_path(e, "late.log", p, sizeof(p));
    assert_string_equal(find_msg(&r, "late 2")->path, p);
    assert_string_equal(find_msg(&r, "late 2")->dataset, "t"); /* the grammar's name */
    assert_int_equal(e->in->counters.emitted, 5);
    assert_int_equal(e->in->counters.parsed, 4);
    assert_int_equal(e->in->counters.unparsed, 1);
    recs_free(&r);
    close(w);
    env_free(e);
}

static void test_start_beginning(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, false);
    append(e, "a.log", "b", 1, 3);
    env_start(e);
    assert_int_equal(pump_until(e, 3), 3);
    append(e, "a.log", "b", 4, 5);
    assert_int_equal(pump_until(e, 5), 5);
    assert_int_equal(pump_for(e, 200), 5);
    struct recs r = load(e);
    for (size_t i = 0; i < 5; i++) {
        char want[32];
        snprintf(want, sizeof(want), "b %zu", i + 1);
        assert_string_equal(r.v[i].msg, want); /* in file order */
        assert_int_equal(r.v[i].off, (int64_t)(i * 4));
    }
    recs_free(&r);
    assert_int_equal(e->in->ops->in_flight(e->in), 0);
    assert_int_equal(e->in->counters.acked, 5);
    env_free(e);
}

/* ---- lines --------------------------------------------------------------- */

static void test_partial_last_line(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, false);
    int w = open_log(e, "a.log");
    puts_fd(w, "p 1\np 2");
    env_start(e);
    int64_t t0 = lf_now_mono_ms();
    assert_int_equal(pump_until(e, 1), 1);
    /* "p 2" waits for its newline, up to partial_wait (300 ms). */
    assert_int_equal(pump_for(e, 100), 1);
    assert_int_equal(pump_until(e, 2), 2);
    assert_true(lf_now_mono_ms() - t0 >= 290);

    /* Its bytes are consumed: what follows is a line of its own. */
    puts_fd(w, "x\n");
    assert_int_equal(pump_until(e, 3), 3);
    /* A line completed within the wait is one line. */
    puts_fd(w, "qu");
    assert_int_equal(pump_for(e, 60), 3);
    puts_fd(w, "ick 9\n");
    assert_int_equal(pump_until(e, 4), 4);
    assert_int_equal(pump_for(e, 400), 4);

    struct recs r = load(e);
    assert_string_equal(r.v[0].msg, "p 1");
    assert_string_equal(r.v[1].msg, "p 2");
    assert_int_equal(r.v[1].off, 4);
    assert_string_equal(r.v[2].msg, "x");
    assert_int_equal(r.v[2].off, 7);
    assert_string_equal(r.v[3].msg, "quick 9");
    assert_int_equal(r.v[3].off, 9);
    recs_free(&r);
    close(w);
    /* The registry holds the position after everything, partial included. */
    env_stop(e);
    assert_int_equal(registry_offset(e, "a.log"), 17);
    env_free(e);
}

static void test_long_lines_cut(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, false);
    const size_t max = 1 << 20, big = max + max / 2;
    char *xs = malloc(big);
    memset(xs, 'x', big);
    int w = open_log(e, "a.log");
    lines(w, "s", 1, 1);
    put(w, xs, big);
    puts_fd(w, "\n");
    lines(w, "s", 2, 2);
    env_start(e);
    assert_int_equal(pump_until(e, 3), 3);

    /* The second one arrives in pieces, read in between. */
    memset(xs, 'y', big);
    put(w, xs, 600 << 10);
    assert_int_equal(pump_for(e, 50), 3);
    put(w, xs, 600 << 10);
    assert_int_equal(pump_for(e, 50), 3);
    put(w, xs, 10);
    puts_fd(w, "\n");
    lines(w, "s", 3, 3);
    assert_int_equal(pump_until(e, 5), 5);
    assert_int_equal(pump_for(e, 200), 5);

    struct recs r = load(e);
    assert_string_equal(r.v[0].msg, "s 1");
    assert_int_equal(r.v[1].len, max);
    assert_true(r.v[1].cut);
    assert_int_equal(r.v[1].off, 4);
    assert_int_equal(r.v[1].msg[max - 1], 'x');
    assert_string_equal(r.v[2].msg, "s 2");
    assert_false(r.v[2].cut);
    assert_int_equal(r.v[2].off, 4 + (int64_t)big + 1);
    int64_t second = 4 + (int64_t)big + 1 + 4;
    assert_int_equal(r.v[3].len, max);
    assert_true(r.v[3].cut);
    assert_int_equal(r.v[3].off, second);
    assert_int_equal(r.v[3].msg[0], 'y');
    assert_string_equal(r.v[4].msg, "s 3");
    assert_int_equal(r.v[4].off, second + (1200 << 10) + 10 + 1);
    assert_int_equal(e->in->counters.truncated, 2);
    recs_free(&r);
    close(w);
    env_stop(e);
    assert_int_equal(registry_offset(e, "a.log"), second + (1200 << 10) + 11 + 4);
    free(xs);
    env_free(e);
}

/* ---- rotation ------------------------------------------------------------ */

static void rename_log(const struct env *e, const char *from, const char *to)
{
    char a[256], b[256];
    log_path(e, from, a, sizeof(a));
    snprintf(b, sizeof(b), "%s/%s", e->logs, to);
    assert_int_equal(rename(a, b), 0);
}

static void test_rename_and_create_while_writing(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, false);
    int old = open_log(e, "a.log");
    lines(old, "r", 1, 50);
    env_start(e);
    assert_int_equal(pump_until(e, 50), 50);

    rename_log(e, "a.log", "a.log.1"); /* out of the glob */
    lines(old, "r", 51, 60);           /* the writer has not reopened yet */
    assert_int_equal(pump_until(e, 60), 60);
    int cur = open_log(e, "a.log");
    lines(cur, "n", 1, 20);
    lines(old, "r", 61, 70); /* still finishing the old one */
    assert_int_equal(pump_until(e, 90), 90);
    lines(cur, "n", 21, 25);
    assert_int_equal(pump_until(e, 95), 95);
    assert_int_equal(pump_for(e, 300), 95);

    struct recs r = load(e);
    expect_each(&r, "r", 1, 70, 1);
    expect_each(&r, "n", 1, 25, 1);
    assert_int_equal(find_msg(&r, "n 1")->off, 0);
    char p[256];
    log_path(e, "a.log", p, sizeof(p));
    assert_string_equal(find_msg(&r, "r 70")->path, p); /* known by its old name */
    recs_free(&r);
    close(old);
    close(cur);
    env_free(e);
}

static void test_new_file_before_old_finished(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, false);
    int old = open_log(e, "a.log");
    lines(old, "o", 1, 3);
    env_start(e);
    assert_int_equal(pump_until(e, 3), 3);
    /* All of this happens before the input runs again. */
    lines(old, "o", 4, 6);
    rename_log(e, "a.log", "a.log.1");
    int cur = open_log(e, "a.log");
    lines(cur, "n", 1, 3);
    lines(old, "o", 7, 8);
    assert_int_equal(pump_until(e, 11), 11);
    assert_int_equal(pump_for(e, 300), 11);
    struct recs r = load(e);
    expect_each(&r, "o", 1, 8, 1);
    expect_each(&r, "n", 1, 3, 1);
    recs_free(&r);
    close(old);
    close(cur);
    env_free(e);
}

static void test_rename_within_glob_followed(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, false);
    int w = open_log(e, "a.log");
    lines(w, "g", 1, 3);
    env_start(e);
    assert_int_equal(pump_until(e, 3), 3);
    rename_log(e, "a.log", "b.log"); /* still matched: same file, new name */
    lines(w, "g", 4, 5);
    assert_int_equal(pump_until(e, 5), 5);
    assert_int_equal(pump_for(e, 300), 5);
    struct recs r = load(e);
    expect_each(&r, "g", 1, 5, 1);
    recs_free(&r);
    close(w);
    env_free(e);
}

static void test_copytruncate(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, false);
    char p[256];
    log_path(e, "a.log", p, sizeof(p));
    append(e, "a.log", "c", 1, 5);
    env_start(e);
    assert_int_equal(pump_until(e, 5), 5);

    /* Truncated below the read position. */
    assert_int_equal(truncate(p, 0), 0);
    append(e, "a.log", "d", 1, 3);
    assert_int_equal(pump_until(e, 8), 8);
    /* Truncated and refilled past the read position before the input ran:
     * only the first bytes tell. */
    assert_int_equal(truncate(p, 0), 0);
    append(e, "a.log", "e", 1, 10);
    assert_int_equal(pump_until(e, 18), 18);
    assert_int_equal(pump_for(e, 1200), 18); /* a tick included */

    struct recs r = load(e);
    expect_each(&r, "c", 1, 5, 1);
    expect_each(&r, "d", 1, 3, 1);
    expect_each(&r, "e", 1, 10, 1);
    assert_int_equal(find_msg(&r, "d 1")->off, 0);
    assert_int_equal(find_msg(&r, "e 1")->off, 0);
    assert_int_equal(find_msg(&r, "e 10")->off, 36);
    recs_free(&r);
    env_stop(e);
    assert_int_equal(registry_offset(e, "a.log"), 41);
    env_free(e);
}

/* Truncated while the old content's events are unacknowledged: the new
 * content is read at once, under its own position (0 until its own events
 * are acknowledged); the old content's acknowledgements move nothing. */
static void test_copytruncate_with_events_in_flight(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, true);
    e->tout->hold = true;
    char p[256];
    log_path(e, "a.log", p, sizeof(p));
    append(e, "a.log", "c", 1, 5);
    env_start(e);
    assert_int_equal(pump_until(e, 5), 5);
    assert_int_equal(truncate(p, 0), 0);
    append(e, "a.log", "d", 1, 3);
    assert_int_equal(pump_until(e, 8), 8);
    assert_int_equal(e->in->ops->in_flight(e->in), 8);
    e->in->ops->checkpoint(e->in);
    assert_int_equal(registry_offset(e, "a.log"), 0);

    tout_release(e->tout);
    e->tout->hold = false;
    assert_int_equal(pump_for(e, 300), 8);
    struct recs r = load(e);
    expect_each(&r, "c", 1, 5, 1);
    expect_each(&r, "d", 1, 3, 1);
    assert_int_equal(find_msg(&r, "d 1")->off, 0);
    recs_free(&r);
    env_stop(e);
    assert_int_equal(registry_offset(e, "a.log"), 12);
    env_free(e);
}

/* Lines of BIG_PAD bytes of padding: a batch reaches its max_bytes (5 MiB)
 * after some 850 of them, in the middle of one drive of the file. */
#define BIG_PAD 6000

static void big_lines(const struct env *e, const char *name, int mode, const char *tag, int from,
                      int to)
{
    char p[256];
    log_path(e, name, p, sizeof(p));
    int fd = open(p, O_WRONLY | O_CREAT | mode | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    char *buf = malloc(BIG_PAD + 64);
    assert_non_null(buf);
    for (int i = from; i <= to; i++) {
        int n = snprintf(buf, 64, "%s %d ", tag, i);
        memset(buf + n, 'x', BIG_PAD);
        buf[n + BIG_PAD] = '\n';
        put(fd, buf, (size_t)n + BIG_PAD + 1);
    }
    free(buf);
    close(fd);
}

/* Parses "tag N xxx...x" with its whole padding; false for anything else. */
static bool big_line_of(const char *msg, size_t len, char *tag, int *n)
{
    int used = 0;
    if (sscanf(msg, "%c %d %n", tag, n, &used) != 2 || used == 0 || len != (size_t)used + BIG_PAD)
        return false;
    for (size_t i = (size_t)used; i < len; i++) {
        if (msg[i] != 'x')
            return false;
    }
    return true;
}

static void truncate_and_refill(void *arg)
{
    const struct env *e = arg;
    /* copytruncate's truncate, then a writer fast enough (or an input slow
     * enough: a long fsync of the output) that the new content is past the
     * input's read position before its next read. */
    big_lines(e, "a.log", O_TRUNC, "d", 1, 1100);
}

/* Truncated and refilled past the read position while the file is being
 * driven (here: while the output writes a batch the drive filled): the
 * next read at the old position must not take the new content's bytes
 * for the old content's (a cut line, then new lines under the old content
 * id at wrong offsets, and again once the rewrite is noticed). */
static void test_truncated_and_refilled_while_reading(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, true);
    big_lines(e, "a.log", O_APPEND, "c", 1, 1000);
    e->tout->on_submit = truncate_and_refill;
    e->tout->on_submit_arg = e;
    env_start(e);
    pump_until(e, 1100 + 1);
    assert_null(e->tout->on_submit); /* it ran */
    pump_for(e, 1200);               /* a tick included */
    uint64_t cid = registry_cid(e, "a.log");
    assert_true(cid != 0);

    struct recs r = load(e);
    int64_t d_off[1101];
    d_off[1] = 0;
    for (int n = 1; n < 1100; n++)
        d_off[n + 1] = d_off[n] + snprintf(NULL, 0, "d %d ", n) + BIG_PAD + 1;
    int c_seen[1001] = {0}, d_seen[1101] = {0}, c_max = 0;
    for (size_t i = 0; i < r.n; i++) {
        const struct rec *x = &r.v[i];
        char tag;
        int n;
        if (!big_line_of(x->msg, x->len, &tag, &n) || (tag != 'c' && tag != 'd') || n < 1 ||
            n > (tag == 'c' ? 1000 : 1100))
            fail_msg("garbled line at offset %" PRId64 ": '%.40s' (%zu bytes)", x->off, x->msg,
                     x->len);
        assert_non_null(x->id);
        if (tag == 'c') {
            c_seen[n]++;
            c_max = n > c_max ? n : c_max;
            if (id_from(x->id, cid, x->off))
                fail_msg("'c %d' has an _id of the new content", n);
        } else {
            d_seen[n]++;
            if (x->off != d_off[n])
                fail_msg("'d %d' at offset %" PRId64 ", not %" PRId64, n, x->off, d_off[n]);
            if (!id_from(x->id, cid, x->off))
                fail_msg("'d %d' at offset %" PRId64 " not under the new content id", n, x->off);
        }
    }
    /* The old content's lines read before the truncation: each once, from
     * the first on; the new content's: each once. */
    assert_true(c_max > 0);
    for (int n = 1; n <= c_max; n++) {
        if (c_seen[n] != 1)
            fail_msg("'c %d' came %d times", n, c_seen[n]);
    }
    for (int n = 1; n <= 1100; n++) {
        if (d_seen[n] != 1)
            fail_msg("'d %d' came %d times", n, d_seen[n]);
    }
    recs_free(&r);
    env_stop(e);
    env_free(e);
}

static void test_delete_and_recreate(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, false);
    char p[256];
    log_path(e, "a.log", p, sizeof(p));
    int old = open_log(e, "a.log");
    lines(old, "x", 1, 5);
    env_start(e);
    assert_int_equal(pump_until(e, 5), 5);
    assert_int_equal(unlink(p), 0);
    lines(old, "x", 6, 7); /* into the deleted file: still read */
    assert_int_equal(pump_until(e, 7), 7);
    append(e, "a.log", "y", 1, 3);
    assert_int_equal(pump_until(e, 10), 10);
    assert_int_equal(pump_for(e, 300), 10);
    struct recs r = load(e);
    expect_each(&r, "x", 1, 7, 1);
    expect_each(&r, "y", 1, 3, 1);
    assert_int_equal(find_msg(&r, "y 1")->off, 0);
    recs_free(&r);
    close(old);
    env_free(e);
}

/* A deleted file with events in flight stays until they are acknowledged;
 * then it and its registry entry go. */
static void test_deleted_file_waits_for_acks(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, true);
    e->tout->hold = true;
    char p[256];
    log_path(e, "a.log", p, sizeof(p));
    append(e, "a.log", "z", 1, 3);
    env_start(e);
    assert_int_equal(pump_until(e, 3), 3);
    assert_int_equal(unlink(p), 0);
    /* Longer than the rotated-file idle time (5 s): its descriptor goes. */
    int64_t end = lf_now_mono_ms() + 7000;
    while (lf_now_mono_ms() < end && open_log_fds(e) > 0)
        pump_once(e);
    assert_int_equal(open_log_fds(e), 0);
    assert_int_equal(e->in->ops->in_flight(e->in), 3);

    tout_release(e->tout);
    assert_int_equal(e->in->ops->in_flight(e->in), 0);
    pump_for(e, 50);
    env_stop(e);
    assert_int_equal(registry_entries(e), 0);
    assert_int_equal(count_out(e), 3);
    env_free(e);
}

/* ---- restarts ------------------------------------------------------------ */

static void test_restart_resumes_exactly(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, false);
    append(e, "a.log", "k", 1, 5);
    env_start(e);
    assert_int_equal(pump_until(e, 5), 5);
    env_stop(e);
    assert_int_equal(registry_offset(e, "a.log"), 20);

    append(e, "a.log", "k", 6, 8);
    e->fc.start_at = LF_START_END; /* the registry wins over start_at */
    env_start(e);
    assert_int_equal(pump_until(e, 8), 8);
    assert_int_equal(pump_for(e, 300), 8);
    struct recs r = load(e);
    expect_each(&r, "k", 1, 8, 1);
    assert_int_equal(find_msg(&r, "k 6")->off, 20);
    recs_free(&r);
    env_free(e);
}

static void test_crash_resumes_exactly(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, false);
    append(e, "a.log", "k", 1, 5);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* Read, get acknowledged, checkpoint, and die without stopping. */
        env_start(e);
        int64_t end = lf_now_mono_ms() + WAIT_MS;
        while (lf_now_mono_ms() < end) {
            pump_once(e);
            if (count_out(e) == 5 && registry_offset(e, "a.log") == 20)
                raise(SIGKILL);
        }
        _exit(2);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(count_out(e), 5);

    append(e, "a.log", "k", 6, 8);
    env_start(e);
    assert_int_equal(pump_until(e, 8), 8);
    assert_int_equal(pump_for(e, 300), 8);
    struct recs r = load(e);
    expect_each(&r, "k", 1, 8, 1);
    recs_free(&r);
    env_free(e);
}

static void test_unacknowledged_read_again(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, true);
    e->tout->hold = true;
    append(e, "a.log", "u", 1, 5);
    env_start(e);
    assert_int_equal(pump_until(e, 5), 5);
    assert_int_equal(e->in->ops->in_flight(e->in), 5);
    env_stop(e);
    e->tout->nheld = 0; /* lost with the process */
    assert_int_equal(registry_offset(e, "a.log"), 0);

    e->tout->hold = false;
    e->fc.start_at = LF_START_END;
    env_start(e);
    assert_int_equal(pump_until(e, 10), 10);
    assert_int_equal(pump_for(e, 300), 10);
    struct recs r = load(e);
    expect_each(&r, "u", 1, 5, 2);
    recs_free(&r);
    env_stop(e);
    assert_int_equal(registry_offset(e, "a.log"), 20);
    env_free(e);
}

/* The same inode holding other content (rewritten in place, or reused):
 * the fingerprint tells, and the file is read from its start. */
static void test_rewritten_file_not_resumed(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, false);
    append(e, "a.log", "f", 1, 5);
    env_start(e);
    assert_int_equal(pump_until(e, 5), 5);
    env_stop(e);
    char p[256];
    log_path(e, "a.log", p, sizeof(p));
    int fd = open(p, O_WRONLY | O_TRUNC);
    lines(fd, "g", 1, 10);
    close(fd);
    env_start(e);
    assert_int_equal(pump_until(e, 15), 15);
    assert_int_equal(pump_for(e, 300), 15);
    struct recs r = load(e);
    expect_each(&r, "f", 1, 5, 1);
    expect_each(&r, "g", 1, 10, 1);
    recs_free(&r);
    env_free(e);
}

/* ---- document ids: one content id per content ------------------------------ */

/* A test output that checks every document's content id is on disk. */
static struct env *ids_env(void)
{
    struct env *e = env_new(LF_START_BEGINNING, true);
    e->tout->verify_data = e->data;
    return e;
}

/* The same content keeps its content id, and so its lines' _ids, when the
 * file is renamed (live, and while the agent is down) and across restarts. */
static void test_content_id_survives_rename_and_restart(void **state)
{
    (void)state;
    struct env *e = ids_env();
    int w = open_log(e, "a.log");
    lines(w, "s", 1, 3);
    env_start(e);
    assert_int_equal(pump_until(e, 3), 3);
    uint64_t cid = registry_cid(e, "a.log");
    assert_true(cid != 0);

    rename_log(e, "a.log", "b.log"); /* still matched */
    lines(w, "s", 4, 5);
    assert_int_equal(pump_until(e, 5), 5);
    env_stop(e);
    assert_true(registry_cid(e, "b.log") == cid);

    rename_log(e, "b.log", "c.log"); /* while stopped */
    lines(w, "s", 6, 7);
    env_start(e);
    assert_int_equal(pump_until(e, 7), 7);
    assert_int_equal(pump_for(e, 300), 7);
    env_stop(e);
    assert_true(registry_cid(e, "c.log") == cid);

    struct recs r = load(e);
    expect_each(&r, "s", 1, 7, 1);
    expect_ids(&r, "s", cid);
    char p[256];
    log_path(e, "c.log", p, sizeof(p));
    assert_string_equal(find_msg(&r, "s 7")->path, p); /* the path is the current one */
    recs_free(&r);
    assert_true(e->tout->verified == 7);
    close(w);
    env_free(e);
}

/* Truncated (copytruncate): the new content gets a new content id, so its
 * lines never take the _ids of the old lines at the same offsets. */
static void test_content_id_new_after_truncate(void **state)
{
    (void)state;
    struct env *e = ids_env();
    char p[256];
    log_path(e, "a.log", p, sizeof(p));
    append(e, "a.log", "c", 1, 5);
    env_start(e);
    assert_int_equal(pump_until(e, 5), 5);
    uint64_t c1 = registry_cid(e, "a.log");
    assert_true(c1 != 0);

    assert_int_equal(truncate(p, 0), 0);
    append(e, "a.log", "d", 1, 3);
    assert_int_equal(pump_until(e, 8), 8);
    uint64_t c2 = registry_cid(e, "a.log");
    assert_true(c2 != 0 && c2 != c1);

    /* Truncated and refilled past the read position: the fingerprint. */
    assert_int_equal(truncate(p, 0), 0);
    append(e, "a.log", "e", 1, 10);
    assert_int_equal(pump_until(e, 18), 18);
    assert_int_equal(pump_for(e, 300), 18);
    env_stop(e);
    uint64_t c3 = registry_cid(e, "a.log");
    assert_true(c3 != 0 && c3 != c1 && c3 != c2);

    struct recs r = load(e);
    expect_each(&r, "c", 1, 5, 1);
    expect_each(&r, "d", 1, 3, 1);
    expect_each(&r, "e", 1, 10, 1);
    expect_ids(&r, "c", c1);
    expect_ids(&r, "d", c2);
    expect_ids(&r, "e", c3);
    assert_int_equal(find_msg(&r, "d 1")->off, 0);
    assert_string_not_equal(find_msg(&r, "c 1")->id, find_msg(&r, "d 1")->id);
    assert_string_not_equal(find_msg(&r, "d 1")->id, find_msg(&r, "e 1")->id);
    recs_free(&r);
    assert_true(e->tout->verified == 18);
    env_free(e);
}

/* A new file at the same path, after a delete or a rename: a new content id,
 * while the old file's last lines keep the old one. */
static void new_file_at_same_path(bool by_rename)
{
    struct env *e = ids_env();
    char p[256];
    log_path(e, "a.log", p, sizeof(p));
    int old = open_log(e, "a.log");
    lines(old, "x", 1, 3);
    env_start(e);
    assert_int_equal(pump_until(e, 3), 3);
    uint64_t c1 = registry_cid(e, "a.log");
    assert_true(c1 != 0);
    if (by_rename)
        rename_log(e, "a.log", "a.log.1"); /* out of the glob */
    else
        assert_int_equal(unlink(p), 0);
    lines(old, "x", 4, 5); /* the writer has not reopened yet */
    assert_int_equal(pump_until(e, 5), 5);
    int cur = open_log(e, "a.log");
    lines(cur, "y", 1, 3);
    lines(old, "x", 6, 6);
    assert_int_equal(pump_until(e, 9), 9);
    assert_int_equal(pump_for(e, 300), 9);
    uint64_t c2 = registry_cid(e, "a.log");
    assert_true(c2 != 0 && c2 != c1);

    struct recs r = load(e);
    expect_each(&r, "x", 1, 6, 1);
    expect_each(&r, "y", 1, 3, 1);
    expect_ids(&r, "x", c1);
    expect_ids(&r, "y", c2);
    assert_int_equal(find_msg(&r, "y 1")->off, 0);
    assert_string_not_equal(find_msg(&r, "x 1")->id, find_msg(&r, "y 1")->id);
    recs_free(&r);
    close(old);
    close(cur);
    env_free(e);
}

static void test_content_id_new_after_delete_and_recreate(void **state)
{
    (void)state;
    new_file_at_same_path(false);
}

static void test_content_id_new_after_rename_and_create(void **state)
{
    (void)state;
    new_file_at_same_path(true);
}

/* A crash after the content id was saved and before anything was shipped
 * (the output refuses every batch): the restart resumes the same content
 * under the same id. */
static void test_crash_between_save_and_first_emit(void **state)
{
    (void)state;
    struct env *e = ids_env();
    append(e, "a.log", "q", 1, 3);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        e->tout->refuse = INT_MAX;
        env_start(e);
        int64_t end = lf_now_mono_ms() + WAIT_MS;
        while (lf_now_mono_ms() < end) {
            pump_once(e);
            if (registry_cid(e, "a.log") != 0 && e->tout->refused > 0)
                raise(SIGKILL);
        }
        _exit(2);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(count_out(e), 0);
    uint64_t cid = registry_cid(e, "a.log");
    assert_true(cid != 0);
    assert_int_equal(registry_offset(e, "a.log"), 0);

    env_start(e);
    assert_int_equal(pump_until(e, 3), 3);
    assert_int_equal(pump_for(e, 300), 3);
    env_stop(e);
    assert_true(registry_cid(e, "a.log") == cid);
    struct recs r = load(e);
    expect_each(&r, "q", 1, 3, 1);
    expect_ids(&r, "q", cid);
    recs_free(&r);
    env_free(e);
}

/* Lines shipped and not acknowledged when the agent dies, the file renamed
 * before it is back: read again under the new path, with the same _ids
 * (Elasticsearch keeps one of each). */
static void test_crash_then_rename_same_ids(void **state)
{
    (void)state;
    struct env *e = ids_env();
    append(e, "a.log", "k", 1, 5);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        e->tout->hold = true; /* shipped, never acknowledged */
        env_start(e);
        int64_t end = lf_now_mono_ms() + WAIT_MS;
        while (lf_now_mono_ms() < end) {
            pump_once(e);
            if (count_out(e) == 5)
                raise(SIGKILL);
        }
        _exit(2);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(count_out(e), 5);
    uint64_t cid = registry_cid(e, "a.log");
    assert_true(cid != 0);
    assert_int_equal(registry_offset(e, "a.log"), 0);

    rename_log(e, "a.log", "b.log");
    append(e, "b.log", "k", 6, 7);
    env_start(e);
    assert_int_equal(pump_until(e, 12), 12);
    assert_int_equal(pump_for(e, 300), 12);
    env_stop(e);
    assert_true(registry_cid(e, "b.log") == cid);
    struct recs r = load(e);
    expect_each(&r, "k", 1, 5, 2);
    expect_each(&r, "k", 6, 7, 1);
    expect_ids(&r, "k", cid);
    char p[256];
    log_path(e, "b.log", p, sizeof(p));
    assert_string_equal(r.v[5].path, p);
    recs_free(&r);
    env_free(e);
}

/* ---- content found again after a rotation ---------------------------------- */

/* Follows only the live file a.log, as users often configure it: rotated
 * names are not matched. */
static void live_path_only(struct env *e)
{
    snprintf(e->glob, sizeof(e->glob), "%s/a.log", e->logs);
}

/* cp FROM TO (as copytruncate does), then truncate FROM. */
static void copy_log(const struct env *e, const char *from, const char *to)
{
    char a[256], b[256];
    log_path(e, from, a, sizeof(a));
    log_path(e, to, b, sizeof(b));
    int in = open(a, O_RDONLY | O_CLOEXEC), out = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(in >= 0 && out >= 0);
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        put(out, buf, (size_t)n);
    close(in);
    close(out);
}

static void copytruncate_log(const struct env *e, const char *from, const char *to)
{
    char a[256];
    copy_log(e, from, to);
    log_path(e, from, a, sizeof(a));
    assert_int_equal(truncate(a, 0), 0);
}

/* What the agent logs (stderr) between start and stop, in a file. */
struct captured {
    int saved;
    char path[200];
};

static void capture_start(const struct env *e, struct captured *c)
{
    snprintf(c->path, sizeof(c->path), "%s/stderr.log", e->root);
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    fflush(stderr);
    c->saved = dup(2);
    assert_true(c->saved >= 0);
    dup2(fd, 2);
    close(fd);
}

/* Stops capturing; returns whether the log has a line with all of the
 * given words (NULL-terminated), echoing it to the real stderr. */
static bool capture_stop(struct captured *c, ...)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    FILE *f = fopen(c->path, "r");
    assert_non_null(f);
    char line[2048];
    bool found = false;
    while (fgets(line, sizeof(line), f)) {
        fputs(line, stderr);
        va_list ap;
        va_start(ap, c);
        bool all = true;
        for (const char *w; (w = va_arg(ap, const char *));)
            all = all && strstr(line, w) != NULL;
        va_end(ap);
        found = found || all;
    }
    fclose(f);
    return found;
}

/* copytruncate while the agent is behind (the output refuses everything):
 * what it had not read is finished from the copy, under the content id it
 * had and from the offset it had reached, then the new content from 0. The
 * copy's name matches no path. */
static void test_copytruncate_while_behind(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, true);
    e->tout->verify_data = e->data;
    append(e, "a.log", "c", 1, 3);
    env_start(e);
    assert_int_equal(pump_until(e, 3), 3);
    uint64_t cid = registry_cid(e, "a.log");
    assert_true(cid != 0);
    e->tout->refuse = INT_MAX;
    append(e, "a.log", "c", 4, 3000);
    pump_for(e, 300); /* reads some, then blocked */
    assert_true(e->tout->refused > 0);
    copytruncate_log(e, "a.log", "a.log.1");
    append(e, "a.log", "n", 1, 3);
    e->tout->refuse = 0;
    assert_int_equal(pump_until(e, 3003), 3003);
    assert_int_equal(pump_for(e, 300), 3003);
    struct recs r = load(e);
    expect_each(&r, "c", 1, 3000, 1);
    expect_each(&r, "n", 1, 3, 1);
    expect_ids(&r, "c", cid); /* one content, whichever file it came from */
    uint64_t live = registry_cid(e, "a.log");
    assert_true(live != 0 && live != cid);
    expect_ids(&r, "n", live);
    char p[256];
    log_path(e, "a.log.1", p, sizeof(p));
    assert_string_equal(find_msg(&r, "c 3000")->path, p);
    assert_int_equal(find_msg(&r, "n 1")->off, 0);
    recs_free(&r);
    env_stop(e);
    assert_int_equal(registry_offset(e, "a.log.1"), file_size(e, "a.log.1"));
    assert_int_equal(registry_offset(e, "a.log"), file_size(e, "a.log"));
    env_free(e);
}

/* copytruncate while the agent is stopped, with only the live path
 * configured: the copy is found by its first bytes and finished from the
 * saved offset, the live file read from 0. */
static void test_copytruncate_while_stopped(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_END, true);
    live_path_only(e);
    append(e, "a.log", "old", 1, 2); /* before start_at end */
    env_start(e);
    append(e, "a.log", "c", 1, 5);
    assert_int_equal(pump_until(e, 5), 5);
    uint64_t cid = registry_cid(e, "a.log");
    env_stop(e);
    append(e, "a.log", "c", 6, 9);
    copytruncate_log(e, "a.log", "a.log.1");
    append(e, "a.log", "n", 1, 2);
    env_start(e);
    assert_int_equal(pump_until(e, 11), 11);
    assert_int_equal(pump_for(e, 300), 11);
    struct recs r = load(e);
    expect_each(&r, "c", 1, 9, 1);
    expect_each(&r, "n", 1, 2, 1);
    expect_each(&r, "old", 1, 2, 0);
    expect_ids(&r, "c", cid);
    recs_free(&r);
    env_free(e);
}

/* The agent killed, the file rotated twice by rename (a.log -> a.log.1 ->
 * a.log.2, a new a.log each time), only a.log configured: the file it was
 * reading is found by its inode under its new name and finished with the
 * same ids, the file that came and went in between (never seen) is read
 * from its start, then the live one. */
static void test_rename_rotation_twice_while_killed(void **state)
{
    (void)state;
    struct env *e = ids_env();
    live_path_only(e);
    append(e, "a.log", "k", 1, 5);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        env_start(e);
        int64_t end = lf_now_mono_ms() + WAIT_MS;
        while (lf_now_mono_ms() < end) {
            pump_once(e);
            if (count_out(e) == 5 && registry_offset(e, "a.log") == 20)
                raise(SIGKILL);
        }
        _exit(2);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    uint64_t cid = registry_cid(e, "a.log");
    append(e, "a.log", "k", 6, 8);
    rename_log(e, "a.log", "a.log.1");
    append(e, "a.log", "m", 1, 3);
    rename_log(e, "a.log.1", "a.log.2");
    rename_log(e, "a.log", "a.log.1");
    append(e, "a.log", "n", 1, 2);
    append(e, "a.log.2.gz", "z", 1, 2); /* an old compressed one: not ours */
    env_start(e);
    assert_int_equal(pump_until(e, 13), 13);
    assert_int_equal(pump_for(e, 300), 13);
    struct recs r = load(e);
    expect_each(&r, "k", 1, 8, 1);
    expect_each(&r, "m", 1, 3, 1);
    expect_each(&r, "n", 1, 2, 1);
    expect_ids(&r, "k", cid);
    assert_int_equal(find_msg(&r, "k 6")->off, 20);
    char p[256];
    log_path(e, "a.log.2", p, sizeof(p));
    assert_string_equal(find_msg(&r, "k 8")->path, p);
    recs_free(&r);
    env_stop(e);
    /* A restart reads nothing again. */
    env_start(e);
    assert_int_equal(pump_for(e, 300), 13);
    env_free(e);
}

/* Sets the registry offset of the file now at `name` (as if the agent had
 * stopped before the lines after it were acknowledged). */
static void set_registry_offset(const struct env *e, const char *name, int64_t off)
{
    char p[256], reg[256];
    struct stat st;
    log_path(e, name, p, sizeof(p));
    assert_int_equal(stat(p, &st), 0);
    json_t *root = registry_json(e);
    assert_non_null(root);
    size_t i, hits = 0;
    json_t *x;
    json_array_foreach(json_object_get(root, "entries"), i, x)
    {
        if ((ino_t)json_integer_value(json_object_get(x, "ino")) == st.st_ino) {
            json_object_set_new(x, "offset", json_integer(off));
            hits++;
        }
    }
    assert_int_equal(hits, 1);
    snprintf(reg, sizeof(reg), "%s/registry.json", e->data);
    assert_int_equal(json_dump_file(root, reg, 0), 0);
    json_decref(root);
}

/* Content found again after a rotation while the agent was down is followed
 * under its rotated name, which the paths do not match. Stopped again before
 * it was finished, and rotated once more, its entry is looked for and
 * finished at the next start, not forgotten (the torture trial
 * killed_rotate, long: agents killed while behind). */
static void test_unfinished_rotated_resumed(void **state)
{
    (void)state;
    struct env *e = ids_env();
    live_path_only(e);
    append(e, "a.log", "k", 1, 5);
    env_start(e);
    assert_int_equal(pump_until(e, 5), 5);
    env_stop(e);
    uint64_t cid = registry_cid(e, "a.log");
    append(e, "a.log", "k", 6, 8);
    rename_log(e, "a.log", "a.log.1");
    append(e, "a.log", "n", 1, 2);
    env_start(e);
    assert_int_equal(pump_until(e, 10), 10);
    env_stop(e);
    /* As if it had stopped before k 6..8 were acknowledged. */
    set_registry_offset(e, "a.log.1", 20);
    rename_log(e, "a.log.1", "a.log.2");
    rename_log(e, "a.log", "a.log.1");
    append(e, "a.log", "p", 1, 1);
    env_start(e);
    assert_int_equal(pump_until(e, 14), 14);
    assert_int_equal(pump_for(e, 300), 14);
    struct recs r = load(e);
    expect_each(&r, "k", 1, 5, 1);
    expect_each(&r, "k", 6, 8, 2); /* again, under the same _ids */
    expect_each(&r, "n", 1, 2, 1);
    expect_each(&r, "p", 1, 1, 1);
    expect_ids(&r, "k", cid);
    recs_free(&r);
    env_stop(e);
    /* Finished now: a restart reads nothing again. */
    env_start(e);
    assert_int_equal(pump_for(e, 300), 14);
    env_free(e);
}

/* Rotated while the agent was down and compressed (or deleted) before it
 * came back: the bytes it had not read are reported with their count. */
static void test_lost_while_stopped_reported(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, false);
    live_path_only(e);
    append(e, "a.log", "k", 1, 5);
    env_start(e);
    assert_int_equal(pump_until(e, 5), 5);
    env_stop(e);
    append(e, "a.log", "k", 6, 8); /* 12 bytes never read */
    char p[256];
    log_path(e, "a.log", p, sizeof(p));
    assert_int_equal(unlink(p), 0);
    append(e, "a.log", "n", 1, 2);
    struct captured c;
    capture_start(e, &c);
    lf_log_set_level(LF_LOG_WARN);
    env_start(e);
    pump_until(e, 7);
    pump_for(e, 200);
    env_stop(e);
    lf_log_set_level(getenv("LF_TEST_VERBOSE") ? LF_LOG_DEBUG : LF_LOG_ERROR);
    /* Offset 20 of a file of 20 bytes at the last look: its size then. */
    assert_true(capture_stop(&c, " warn ", "a.log", "lost", NULL));
    assert_int_equal(count_out(e), 7);
    assert_int_equal(registry_entries(e), 1);
    env_free(e);
}

/* A glob that matches the copies copytruncate makes: a copy of the file
 * being read is not read again; truncated while the agent is behind, the
 * copy is finished where it had stopped. Each line once. */
static void test_glob_matching_copies_no_duplicates(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, true);
    append(e, "a.log", "c", 1, 10);
    env_start(e);
    assert_int_equal(pump_until(e, 10), 10);
    /* A copy while the original is live: nothing to read in it. */
    copy_log(e, "a.log", "a-1.log");
    append(e, "a.log", "c", 11, 12);
    assert_int_equal(pump_until(e, 12), 12);
    assert_int_equal(pump_for(e, 300), 12);
    /* Behind, then copytruncate to a matched name. */
    e->tout->refuse = INT_MAX;
    append(e, "a.log", "c", 13, 2000);
    pump_for(e, 300);
    copytruncate_log(e, "a.log", "a-2.log");
    append(e, "a.log", "n", 1, 3);
    e->tout->refuse = 0;
    assert_int_equal(pump_until(e, 2003), 2003);
    assert_int_equal(pump_for(e, 1200), 2003); /* a rescan and a tick included */
    struct recs r = load(e);
    expect_each(&r, "c", 1, 2000, 1);
    expect_each(&r, "n", 1, 3, 1);
    recs_free(&r);
    env_stop(e);
    /* A restart with all of them there reads nothing again. */
    env_start(e);
    assert_int_equal(pump_for(e, 500), 2003);
    env_free(e);
}

/* Blocked (the pipeline refuses), the input sleeps: nothing is due before
 * the retry, a run before it drives nothing, and the retry reads on. */
static void test_blocked_input_sleeps(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, true);
    e->tout->refuse = INT_MAX;
    e->fc.rescan_ms = 60000; /* no rescan due in between */
    append(e, "a.log", "b", 1, 5000);
    env_start(e);
    int64_t end = lf_now_mono_ms() + WAIT_MS;
    while (e->tout->refused == 0 && lf_now_mono_ms() < end)
        pump_once(e);
    assert_true(e->tout->refused > 0);
    struct lf_input *in = e->in;
    int64_t now = lf_now_mono_ms();
    assert_int_equal(in->ops->run(in, now), 0);
    uint64_t emitted = in->counters.emitted;
    /* Not "now": the second's tick or the registry's save may come
     * before the retry, nothing comes at once (the refused lines used to
     * keep a deadline in the past: the agent's loop spun). */
    int64_t d = in->ops->deadline(in);
    assert_true(d > now);
    /* Writes to the file do not wake it: its descriptor is quiet. */
    append(e, "a.log", "b", 5001, 5010);
    struct pollfd pfd = {.fd = in->ops->fd(in), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 30), 0);
    e->tout->refuse = 0;
    assert_int_equal(pump_until(e, 5010), 5010);
    assert_true(in->counters.emitted > emitted);
    struct recs r = load(e);
    expect_each(&r, "b", 1, 5010, 1);
    recs_free(&r);
    env_free(e);
}

/* ---- back-pressure and many files ---------------------------------------- */

static void test_pipeline_full_loses_nothing(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, true);
    e->tout->refuse = 3;
    int w = open_log(e, "a.log");
    lines(w, "b", 1, 5000);
    close(w);
    env_start(e);
    assert_int_equal(pump_until(e, 5000), 5000);
    assert_int_equal(pump_for(e, 200), 5000);
    assert_int_equal(e->tout->refused, 3);
    struct recs r = load(e);
    for (size_t i = 0; i < r.n; i++) {
        char want[32];
        snprintf(want, sizeof(want), "b %zu", i + 1);
        assert_string_equal(r.v[i].msg, want);
    }
    recs_free(&r);
    assert_int_equal(e->in->counters.read, 5000);
    assert_int_equal(e->in->counters.emitted, 5000);
    assert_int_equal(e->in->counters.acked, 5000);
    env_free(e);
}

/* A file with as many events in flight as its cap pauses until some are
 * acknowledged (the cap is in the millions; the test lowers it). */
static void test_ack_queue_full_pauses_file(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, true);
    e->tout->hold = true;
    int w = open_log(e, "a.log");
    lines(w, "q", 1, 20000);
    close(w);
    setenv("LOGFERRY_TAIL_ACKQ_CAP", "16384", 1);
    env_start(e);
    unsetenv("LOGFERRY_TAIL_ACKQ_CAP");
    assert_int_equal(pump_until(e, 16384), 16384);
    assert_int_equal(pump_for(e, 200), 16384); /* paused: nothing acknowledged */
    assert_int_equal(e->in->ops->in_flight(e->in), 16384);
    int64_t end = lf_now_mono_ms() + WAIT_MS;
    while (count_out(e) < 20000 && lf_now_mono_ms() < end) {
        tout_release(e->tout);
        pump_once(e);
    }
    tout_release(e->tout);
    assert_int_equal(pump_for(e, 200), 20000);
    struct recs r = load(e);
    expect_each(&r, "q", 1, 20000, 1);
    recs_free(&r);
    env_stop(e);
    assert_int_equal(registry_offset(e, "a.log"), file_size(e, "a.log"));
    env_free(e);
}

/* An output that holds many events unacknowledged (a slow cluster, a
 * memory queue) does not stop the file: far more than the old fixed queue
 * of 16,384 go out, and the position follows the acknowledgements. */
static void test_many_in_flight_keep_reading(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, true);
    e->tout->hold = true;
    int w = open_log(e, "a.log");
    lines(w, "h", 1, 40000);
    close(w);
    env_start(e);
    assert_int_equal(pump_until(e, 40000), 40000);
    assert_int_equal(e->in->ops->in_flight(e->in), 40000);
    tout_release(e->tout);
    assert_int_equal(e->in->ops->in_flight(e->in), 0);
    pump_for(e, 50);
    env_stop(e);
    assert_int_equal(registry_offset(e, "a.log"), file_size(e, "a.log"));
    struct recs r = load(e);
    expect_each(&r, "h", 1, 40000, 1);
    recs_free(&r);
    env_free(e);
}

static void test_more_files_than_max_open(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, false);
    e->fc.max_open = 2;
    char name[32], tag[8];
    for (int f = 0; f < 6; f++) {
        snprintf(name, sizeof(name), "m%d.log", f);
        snprintf(tag, sizeof(tag), "m%d", f);
        append(e, name, tag, 1, 5);
    }
    env_start(e);
    size_t most = 0;
    for (int round = 1; round <= 3; round++) {
        if (round > 1) {
            for (int f = 0; f < 6; f++) {
                snprintf(name, sizeof(name), "m%d.log", f);
                snprintf(tag, sizeof(tag), "m%d", f);
                append(e, name, tag, round * 5 - 4, round * 5);
            }
        }
        int64_t end = lf_now_mono_ms() + WAIT_MS;
        while (count_out(e) < (size_t)(30 * round) && lf_now_mono_ms() < end) {
            pump_once(e);
            size_t n = open_log_fds(e);
            most = n > most ? n : most;
        }
        assert_int_equal(count_out(e), 30 * round);
    }
    assert_int_equal(pump_for(e, 300), 90);
    assert_true(most <= 2);
    struct recs r = load(e);
    for (int f = 0; f < 6; f++) {
        snprintf(tag, sizeof(tag), "m%d", f);
        expect_each(&r, tag, 1, 15, 1);
    }
    recs_free(&r);
    env_free(e);
}

/* Two inputs whose globs overlap share one registry; a file both match is
 * read by one of them only, and a restart re-reads nothing. */
static void test_two_inputs_share_registry(void **state)
{
    (void)state;
    struct env *e = env_new(LF_START_BEGINNING, false);
    char glob2[256];
    snprintf(glob2, sizeof(glob2), "%s/a.*", e->logs);
    char *paths2[] = {glob2};
    struct lf_files_conf fcs[2] = {e->fc, e->fc};
    fcs[1].paths = paths2;
    fcs[1].index = "other";
    e->conf.files = fcs;
    e->conf.nfiles = 2;
    append(e, "a.log", "a", 1, 3);   /* both */
    append(e, "b.log", "b", 1, 3);   /* the first only */
    append(e, "a.other", "o", 1, 3); /* the second only */
    for (int round = 0; round < 2; round++) {
        env_start(e);
        char err[256];
        struct lf_input *second =
            lf_input_files_create(&e->conf, 1, e->parser, e->pipe, err, sizeof(err));
        assert_non_null(second);
        size_t want = round == 0 ? 9 : 12;
        if (round == 1)
            append(e, "a.log", "a", 4, 6);
        int64_t end = lf_now_mono_ms() + WAIT_MS;
        while (count_out(e) < want && lf_now_mono_ms() < end) {
            second->ops->run(second, lf_now_mono_ms());
            pump_once(e);
            second->ops->checkpoint(second);
        }
        end = lf_now_mono_ms() + 300;
        while (lf_now_mono_ms() < end) {
            second->ops->run(second, lf_now_mono_ms());
            pump_once(e);
        }
        assert_int_equal(count_out(e), want);
        second->ops->stop(second);
        env_stop(e);
        second->ops->destroy(second);
        assert_int_equal(registry_entries(e), 3);
    }
    struct recs r = load(e);
    expect_each(&r, "a", 1, 6, 1);
    expect_each(&r, "b", 1, 3, 1);
    expect_each(&r, "o", 1, 3, 1);
    recs_free(&r);
    e->conf.files = &e->fc;
    e->conf.nfiles = 1;
    env_free(e);
}

/* ---- without inotify ----------------------------------------------------- */

static void test_polling_fallback(void **state)
{
    (void)state;
    setenv("LOGFERRY_TAIL_POLL", "1", 1);
    struct env *e = env_new(LF_START_BEGINNING, false);
    int old = open_log(e, "a.log");
    lines(old, "p", 1, 3);
    env_start(e);
    unsetenv("LOGFERRY_TAIL_POLL");
    assert_int_equal(e->in->ops->fd(e->in), -1);
    assert_int_equal(pump_until(e, 3), 3);
    lines(old, "p", 4, 5);
    assert_int_equal(pump_until(e, 5), 5);
    rename_log(e, "a.log", "a.log.1");
    int cur = open_log(e, "a.log");
    lines(cur, "n", 1, 2);
    lines(old, "p", 6, 6);
    assert_int_equal(pump_until(e, 8), 8);
    assert_int_equal(pump_for(e, 1200), 8);
    struct recs r = load(e);
    expect_each(&r, "p", 1, 6, 1);
    expect_each(&r, "n", 1, 2, 1);
    recs_free(&r);
    close(old);
    close(cur);
    env_free(e);
}

int main(void)
{
    lf_log_set_level(getenv("LF_TEST_VERBOSE") ? LF_LOG_DEBUG : LF_LOG_ERROR);
    /* LF_TEST_FILTER=test_copytruncate*: some tests only. */
    if (getenv("LF_TEST_FILTER"))
        cmocka_set_test_filter(getenv("LF_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_end_and_new_files),
        cmocka_unit_test(test_start_beginning),
        cmocka_unit_test(test_partial_last_line),
        cmocka_unit_test(test_long_lines_cut),
        cmocka_unit_test(test_rename_and_create_while_writing),
        cmocka_unit_test(test_new_file_before_old_finished),
        cmocka_unit_test(test_rename_within_glob_followed),
        cmocka_unit_test(test_copytruncate),
        cmocka_unit_test(test_copytruncate_with_events_in_flight),
        cmocka_unit_test(test_truncated_and_refilled_while_reading),
        cmocka_unit_test(test_delete_and_recreate),
        cmocka_unit_test(test_deleted_file_waits_for_acks),
        cmocka_unit_test(test_restart_resumes_exactly),
        cmocka_unit_test(test_crash_resumes_exactly),
        cmocka_unit_test(test_unacknowledged_read_again),
        cmocka_unit_test(test_rewritten_file_not_resumed),
        cmocka_unit_test(test_content_id_survives_rename_and_restart),
        cmocka_unit_test(test_content_id_new_after_truncate),
        cmocka_unit_test(test_content_id_new_after_delete_and_recreate),
        cmocka_unit_test(test_content_id_new_after_rename_and_create),
        cmocka_unit_test(test_crash_between_save_and_first_emit),
        cmocka_unit_test(test_crash_then_rename_same_ids),
        cmocka_unit_test(test_copytruncate_while_behind),
        cmocka_unit_test(test_copytruncate_while_stopped),
        cmocka_unit_test(test_rename_rotation_twice_while_killed),
        cmocka_unit_test(test_unfinished_rotated_resumed),
        cmocka_unit_test(test_lost_while_stopped_reported),
        cmocka_unit_test(test_glob_matching_copies_no_duplicates),
        cmocka_unit_test(test_blocked_input_sleeps),
        cmocka_unit_test(test_pipeline_full_loses_nothing),
        cmocka_unit_test(test_ack_queue_full_pauses_file),
        cmocka_unit_test(test_many_in_flight_keep_reading),
        cmocka_unit_test(test_more_files_than_max_open),
        cmocka_unit_test(test_two_inputs_share_registry),
        cmocka_unit_test(test_polling_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
