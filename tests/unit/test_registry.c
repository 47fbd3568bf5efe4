/*
 * test_registry.c - the durable positions file: a round trip keeps every
 * field (odd paths, huge inode numbers), a save is atomic (a reader never
 * sees a partial file; a failed write leaves the old file whole), a corrupt
 * file is moved aside and what can be read of it kept, stale entries go,
 * checkpoints are rate-limited; content ids are kept, made for registries
 * from before them, and saved on demand once per new content.
 */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "input.h"
#include "lf.h"
#include "registry.h"

struct fixture {
    char root[256];
    char data_dir[320]; /* root/a/b: made by lf_registry_open */
    char file[400];
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    snprintf(fx->root, sizeof(fx->root), "/tmp/lf_registry_XXXXXX");
    assert_non_null(mkdtemp(fx->root));
    snprintf(fx->data_dir, sizeof(fx->data_dir), "%s/a/b", fx->root);
    snprintf(fx->file, sizeof(fx->file), "%s/registry.json", fx->data_dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    nftw(fx->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

static struct lf_registry *open_reg(const struct fixture *fx)
{
    char err[256] = "";
    struct lf_registry *r = lf_registry_open(fx->data_dir, err, sizeof(err));
    if (!r)
        fail_msg("lf_registry_open: %s", err);
    return r;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return s;
}

static void spit(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- round trip ---------------------------------------------------------- */

static const char odd_path[] = "/var/log/we\"ird\\name\n\twith \xff bytes.log";

static void test_round_trip(void **state)
{
    struct fixture *fx = *state;
    struct lf_registry *r = open_reg(fx);
    assert_int_equal(lf_registry_count(r), 0);
    assert_false(lf_registry_dirty(r));
    int64_t now = lf_now_wall_ms();

    struct lf_registry_entry *a = lf_registry_add(r, 2049, 1311, "/var/log/syslog", now);
    struct lf_registry_entry *b = lf_registry_add(r, 7, UINT64_MAX - 5, odd_path, now);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_equal(lf_registry_add(r, 2049, 1311, "/elsewhere", now), a);
    assert_true(lf_registry_dirty(r));
    lf_registry_set_offset(r, a, 8812);
    lf_registry_set_fingerprint(r, a, 64, 0x9d3f00aa12345678ULL);
    lf_registry_set_offset(r, b, (uint64_t)INT64_MAX);
    lf_registry_set_fingerprint(r, b, 3, lf_registry_fingerprint("abc", 3));
    assert_int_equal(lf_registry_set_path(r, a, "/var/log/syslog.renamed"), 0);

    assert_int_equal(lf_registry_save(r, now), 0);
    assert_false(lf_registry_dirty(r));
    assert_string_equal(lf_registry_path(r), fx->file);
    lf_registry_close(r);

    /* The file is plain JSON an operator can read. */
    json_error_t jerr;
    json_t *root = json_load_file(fx->file, 0, &jerr);
    assert_non_null(root);
    assert_int_equal(json_integer_value(json_object_get(root, "version")), 1);
    assert_int_equal(json_array_size(json_object_get(root, "entries")), 2);
    json_decref(root);

    r = open_reg(fx);
    assert_int_equal(lf_registry_count(r), 2);
    a = lf_registry_find(r, 2049, 1311);
    b = lf_registry_find(r, 7, UINT64_MAX - 5);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(lf_registry_find(r, 2049, 1312));
    assert_int_equal(a->offset, 8812);
    assert_int_equal(a->fp_len, 64);
    assert_true(a->fp_hash == 0x9d3f00aa12345678ULL);
    assert_string_equal(a->path, "/var/log/syslog.renamed");
    assert_true(b->offset == (uint64_t)INT64_MAX);
    assert_int_equal(b->fp_len, 3);
    assert_true(b->fp_hash == lf_registry_fingerprint("abc", 3));
    /* Invalid UTF-8 reads back as its Latin-1 reading; the rest is exact. */
    assert_memory_equal(b->path, odd_path, strlen("/var/log/we\"ird\\name\n\twith "));
    assert_int_equal(a->seen_ms, now);
    assert_false(lf_registry_dirty(r));

    lf_registry_remove(r, a);
    assert_int_equal(lf_registry_count(r), 1);
    assert_true(lf_registry_dirty(r));
    lf_registry_close(r);
}

static void test_shared_and_made(void **state)
{
    struct fixture *fx = *state;
    struct lf_registry *r1 = open_reg(fx);
    struct lf_registry *r2 = open_reg(fx);
    /* One registry per data_dir, so inputs do not overwrite each other. */
    assert_ptr_equal(r1, r2);
    struct stat st;
    assert_int_equal(stat(fx->data_dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    lf_registry_add(r1, 1, 2, "/x", lf_now_wall_ms());
    lf_registry_close(r1);
    assert_int_equal(lf_registry_count(r2), 1); /* still open */
    lf_registry_close(r2);

    /* A data_dir that cannot be made is an error with a reason. */
    char bad[512], err[256] = "";
    snprintf(bad, sizeof(bad), "%s/plainfile", fx->root);
    spit(bad, "x");
    strcat(bad, "/sub");
    assert_null(lf_registry_open(bad, err, sizeof(err)));
    assert_non_null(strstr(err, "data_dir"));
}

/* ---- atomicity ----------------------------------------------------------- */

static void test_reader_never_sees_partial(void **state)
{
    struct fixture *fx = *state;
    struct lf_registry *r = open_reg(fx);
    int64_t now = lf_now_wall_ms();
    char path[64];
    for (unsigned i = 0; i < 500; i++) {
        snprintf(path, sizeof(path), "/var/log/file-%u.log", i);
        lf_registry_add(r, 1, i + 1, path, now);
    }
    assert_int_equal(lf_registry_save(r, now), 0);

    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* The writer: saves over and over with moving offsets. */
        for (uint64_t round = 1; round <= 150; round++) {
            for (unsigned i = 0; i < 500; i++)
                lf_registry_set_offset(r, lf_registry_find(r, 1, i + 1), round * 1000 + i);
            if (lf_registry_save(r, now))
                _exit(1);
        }
        _exit(0);
    }
    unsigned reads = 0;
    int status = 0;
    for (;;) {
        pid_t done = waitpid(child, &status, WNOHANG);
        json_error_t jerr;
        json_t *root = json_load_file(fx->file, 0, &jerr);
        if (!root)
            fail_msg("partial or broken registry seen: %s", jerr.text);
        assert_int_equal(json_array_size(json_object_get(root, "entries")), 500);
        json_decref(root);
        reads++;
        if (done == child)
            break;
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(reads > 0);
    lf_registry_close(r);
}

static void test_failed_write_keeps_old_file(void **state)
{
    struct fixture *fx = *state;
    struct lf_registry *r = open_reg(fx);
    int64_t now = lf_now_wall_ms();
    lf_registry_add(r, 1, 1, "/var/log/one", now);
    assert_int_equal(lf_registry_save(r, now), 0);
    size_t old_len;
    char *old = slurp(fx->file, &old_len);

    /* Make the next file too large to write: the write fails midway. */
    char path[64];
    for (unsigned i = 2; i < 2000; i++) {
        snprintf(path, sizeof(path), "/var/log/many/file-%u.log", i);
        lf_registry_add(r, 1, i, path, now);
    }
    struct rlimit saved, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = 4096;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    int rc = lf_registry_save(r, now);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, SIG_DFL);

    assert_int_equal(rc, LF_EIO);
    assert_true(lf_registry_dirty(r));
    size_t now_len;
    char *still = slurp(fx->file, &now_len);
    assert_int_equal(now_len, old_len);
    assert_memory_equal(still, old, old_len);
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s.tmp", fx->file);
    assert_false(exists(tmp));

    /* And once there is room again, it goes through. */
    assert_int_equal(lf_registry_save(r, now), 0);
    lf_registry_close(r);
    r = open_reg(fx);
    assert_int_equal(lf_registry_count(r), 1999);
    lf_registry_close(r);
    free(old);
    free(still);
}

/* ---- corrupt files ------------------------------------------------------- */

static void expect_moved_aside(const struct fixture *fx, const char *content)
{
    char aside[512];
    snprintf(aside, sizeof(aside), "%s.corrupt", fx->file);
    assert_true(exists(aside));
    char *kept = slurp(aside, NULL);
    assert_string_equal(kept, content);
    free(kept);
    assert_false(exists(fx->file));
    unlink(aside);
}

static void test_corrupt_moved_aside(void **state)
{
    struct fixture *fx = *state;
    static const char *const garbage[] = {
        "",
        "{\"version\":1,\"entries\":[{\"dev\":1,\"ino\":2,\"off",
        "\x7f"
        "ELF\x01\x02 binary junk",
        "[1,2,3]",
        "{\"version\":99,\"entries\":[]}",
        "{\"version\":1,\"entries\":{}}",
        "{\"version\":1,\"version\":1,\"entries\":[]}",
    };
    lf_registry_close(open_reg(fx)); /* makes the directory */
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        spit(fx->file, garbage[i]);
        struct lf_registry *r = open_reg(fx);
        assert_int_equal(lf_registry_count(r), 0);
        assert_true(lf_registry_dirty(r));
        expect_moved_aside(fx, garbage[i]);
        /* Usable, and the next save writes a good file. */
        lf_registry_add(r, 1, 2, "/x", lf_now_wall_ms());
        assert_int_equal(lf_registry_save(r, lf_now_wall_ms()), 0);
        lf_registry_close(r);
        r = open_reg(fx);
        assert_int_equal(lf_registry_count(r), 1);
        lf_registry_close(r);
        unlink(fx->file);
    }
}

static void test_corrupt_entries_salvaged(void **state)
{
    struct fixture *fx = *state;
    lf_registry_close(open_reg(fx));
    char seen[32];
    snprintf(seen, sizeof(seen), "%lld", (long long)lf_now_wall_ms());
    char content[2048];
    snprintf(content, sizeof(content),
             "{\"version\":1,\"entries\":[\n"
             "{\"dev\":1,\"ino\":10,\"offset\":5,\"fp_len\":0,\"fp\":\"cbf29ce484222325\","
             "\"seen\":%s,\"path\":\"/good\"},\n"
             "{\"dev\":1,\"ino\":11,\"offset\":-5,\"fp_len\":0,\"fp\":\"cbf29ce484222325\","
             "\"seen\":%s,\"path\":\"/negative\"},\n"
             "{\"dev\":1,\"ino\":12,\"offset\":5,\"fp_len\":65,\"fp\":\"cbf29ce484222325\","
             "\"seen\":%s,\"path\":\"/fp too long\"},\n"
             "{\"dev\":1,\"ino\":13,\"offset\":5,\"fp_len\":1,\"fp\":\"-bf29ce48422232\","
             "\"seen\":%s,\"path\":\"/bad hex\"},\n"
             "{\"dev\":1,\"ino\":14,\"offset\":\"5\",\"fp_len\":0,\"fp\":\"cbf29ce484222325\","
             "\"seen\":%s,\"path\":\"/string offset\"},\n"
             "{\"dev\":1,\"ino\":10,\"offset\":9,\"fp_len\":0,\"fp\":\"cbf29ce484222325\","
             "\"seen\":%s,\"path\":\"/duplicate\"},\n"
             "42,\n"
             "{\"dev\":1,\"ino\":15,\"offset\":7,\"fp_len\":2,\"fp\":\"00000000000000ff\","
             "\"seen\":%s,\"path\":\"/also good\",\"future\":true}\n"
             "]}\n",
             seen, seen, seen, seen, seen, seen, seen);
    spit(fx->file, content);
    struct lf_registry *r = open_reg(fx);
    assert_int_equal(lf_registry_count(r), 2);
    struct lf_registry_entry *e = lf_registry_find(r, 1, 10);
    assert_non_null(e);
    assert_string_equal(e->path, "/good");
    assert_int_equal(e->offset, 5);
    e = lf_registry_find(r, 1, 15);
    assert_non_null(e);
    assert_int_equal(e->fp_hash, 0xff);
    expect_moved_aside(fx, content);
    lf_registry_close(r);
}

/* ---- cleanup and checkpoints --------------------------------------------- */

static void test_stale_entries_cleaned(void **state)
{
    struct fixture *fx = *state;
    struct lf_registry *r = open_reg(fx);
    int64_t now = lf_now_wall_ms();
    int64_t day = LF_REGISTRY_STALE_MS;
    struct lf_registry_entry *fresh = lf_registry_add(r, 1, 1, "/fresh", now - day / 2);
    struct lf_registry_entry *old = lf_registry_add(r, 1, 2, "/old", now - day - 1000);
    struct lf_registry_entry *owned = lf_registry_add(r, 1, 3, "/owned", now - 2 * day);
    struct lf_registry_entry *old2 = lf_registry_add(r, 1, 4, "/old2", now - 3 * day);
    assert_non_null(fresh);
    assert_non_null(old);
    assert_non_null(old2);
    owned->owner = r; /* followed by a live file: never stale */

    assert_int_equal(lf_registry_save(r, now), 0);
    assert_int_equal(lf_registry_count(r), 2);
    assert_non_null(lf_registry_find(r, 1, 1));
    assert_null(lf_registry_find(r, 1, 2));
    assert_null(lf_registry_find(r, 1, 4));
    assert_int_equal(owned->seen_ms, now); /* stamped by the save */
    owned->owner = NULL;
    lf_registry_close(r);

    /* Entries that went stale while the agent was down go at load. */
    char content[1024];
    snprintf(content, sizeof(content),
             "{\"version\":1,\"entries\":[\n"
             "{\"dev\":1,\"ino\":1,\"offset\":0,\"fp_len\":0,\"fp\":\"cbf29ce484222325\","
             "\"seen\":%lld,\"path\":\"/recent\"},\n"
             "{\"dev\":1,\"ino\":2,\"offset\":0,\"fp_len\":0,\"fp\":\"cbf29ce484222325\","
             "\"seen\":%lld,\"path\":\"/ancient\"}\n]}\n",
             (long long)(now - 1000), (long long)(now - 2 * day));
    spit(fx->file, content);
    r = open_reg(fx);
    assert_int_equal(lf_registry_count(r), 1);
    assert_non_null(lf_registry_find(r, 1, 1));
    assert_true(lf_registry_dirty(r));
    assert_int_equal(lf_registry_expire(r, now + 2 * day, day), 1);
    assert_int_equal(lf_registry_count(r), 0);
    lf_registry_close(r);
}

static void test_checkpoint_rate_limited(void **state)
{
    struct fixture *fx = *state;
    struct lf_registry *r = open_reg(fx);
    assert_int_equal(lf_registry_due(r), -1);
    int64_t t0 = lf_now_mono_ms();
    struct lf_registry_entry *e = lf_registry_add(r, 1, 1, "/f", lf_now_wall_ms());
    assert_true(lf_registry_due(r) <= t0);
    assert_int_equal(lf_registry_checkpoint(r, t0, false), 0);
    assert_false(lf_registry_dirty(r));
    assert_true(exists(fx->file));

    lf_registry_set_offset(r, e, 100);
    assert_int_equal(lf_registry_due(r), t0 + LF_REGISTRY_MIN_INTERVAL_MS);
    assert_int_equal(lf_registry_checkpoint(r, t0 + 10, false), 0);
    assert_true(lf_registry_dirty(r)); /* too soon: not written */
    assert_int_equal(lf_registry_checkpoint(r, t0 + 20, true), 0);
    assert_false(lf_registry_dirty(r)); /* forced (stop) */

    lf_registry_set_offset(r, e, 200);
    assert_int_equal(lf_registry_checkpoint(r, t0 + 20 + LF_REGISTRY_MIN_INTERVAL_MS, false), 0);
    assert_false(lf_registry_dirty(r));
    lf_registry_set_offset(r, e, 200); /* no change: stays clean */
    assert_false(lf_registry_dirty(r));
    lf_registry_close(r);

    r = open_reg(fx);
    assert_int_equal(lf_registry_find(r, 1, 1)->offset, 200);
    lf_registry_close(r);
}

/* ---- content ids ---------------------------------------------------------- */

static uint64_t cid_on_disk(const struct fixture *fx, uint64_t ino)
{
    json_error_t jerr;
    json_t *root = json_load_file(fx->file, 0, &jerr);
    uint64_t cid = 0;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(root, "entries"), i, x)
    {
        const char *hex = json_string_value(json_object_get(x, "content_id"));
        if ((uint64_t)json_integer_value(json_object_get(x, "ino")) == ino && hex)
            cid = strtoull(hex, NULL, 16);
    }
    json_decref(root);
    return cid;
}

static ino_t inode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

/* Every entry has a content id, saved and read back; a new content gets a
 * new one, which lf_registry_content_durable() writes once, not again. */
static void test_content_id_persisted(void **state)
{
    struct fixture *fx = *state;
    struct lf_registry *r = open_reg(fx);
    int64_t now = lf_now_wall_ms();
    struct lf_registry_entry *a = lf_registry_add(r, 1, 1, "/a", now);
    struct lf_registry_entry *b = lf_registry_add(r, 1, 2, "/b", now);
    assert_true(a->content_id != 0 && b->content_id != 0 && a->content_id != b->content_id);
    assert_false(a->content_saved);
    uint64_t ca = a->content_id, cb = b->content_id;

    /* One save covers both: b is durable without another write. */
    assert_int_equal(lf_registry_content_durable(r, a, lf_now_mono_ms()), 0);
    assert_true(a->content_saved && b->content_saved);
    assert_false(lf_registry_dirty(r));
    ino_t written = inode_of(fx->file);
    assert_int_equal(lf_registry_content_durable(r, b, lf_now_mono_ms()), 0);
    assert_int_equal(inode_of(fx->file), written); /* not written again */
    assert_true(cid_on_disk(fx, 1) == ca);
    assert_true(cid_on_disk(fx, 2) == cb);

    /* Offsets and paths move without touching the content id. */
    lf_registry_set_offset(r, a, 100);
    assert_int_equal(lf_registry_set_path(r, a, "/a.renamed"), 0);
    assert_true(a->content_id == ca && a->content_saved);

    /* New content (a truncation): a new id, saved on demand, even within
     * the checkpoint interval. */
    int64_t t0 = lf_now_mono_ms();
    assert_int_equal(lf_registry_checkpoint(r, t0, true), 0);
    lf_registry_new_content(r, a);
    assert_true(a->content_id != ca && a->content_id != 0);
    assert_false(a->content_saved);
    assert_true(lf_registry_dirty(r));
    assert_int_equal(lf_registry_checkpoint(r, t0 + 10, false), 0);
    assert_true(cid_on_disk(fx, 1) == ca); /* rate-limited: not yet */
    assert_int_equal(lf_registry_content_durable(r, a, t0 + 20), 0);
    assert_true(a->content_saved);
    uint64_t ca2 = a->content_id;
    assert_true(cid_on_disk(fx, 1) == ca2);
    lf_registry_close(r);

    r = open_reg(fx);
    a = lf_registry_find(r, 1, 1);
    b = lf_registry_find(r, 1, 2);
    assert_true(a->content_id == ca2 && b->content_id == cb);
    assert_true(a->content_saved && b->content_saved);
    assert_false(lf_registry_dirty(r));
    lf_registry_close(r);
}

/* A registry from before content ids: read, each entry given a new id that
 * is written before it is used; malformed ids make an entry malformed. */
static void test_content_id_old_registry(void **state)
{
    struct fixture *fx = *state;
    lf_registry_close(open_reg(fx));
    char content[2048];
    long long seen = (long long)lf_now_wall_ms();
    snprintf(content, sizeof(content),
             "{\"version\":1,\"entries\":[\n"
             "{\"dev\":1,\"ino\":10,\"offset\":5,\"fp_len\":0,\"fp\":\"cbf29ce484222325\","
             "\"seen\":%lld,\"path\":\"/old\"},\n"
             "{\"dev\":1,\"ino\":11,\"offset\":6,\"fp_len\":0,\"fp\":\"cbf29ce484222325\","
             "\"seen\":%lld,\"path\":\"/old too\"}\n"
             "]}\n",
             seen, seen);
    spit(fx->file, content);
    struct lf_registry *r = open_reg(fx);
    assert_int_equal(lf_registry_count(r), 2);
    assert_true(exists(fx->file)); /* not moved aside */
    struct lf_registry_entry *e = lf_registry_find(r, 1, 10);
    struct lf_registry_entry *f = lf_registry_find(r, 1, 11);
    assert_int_equal(e->offset, 5);
    assert_true(e->content_id != 0 && f->content_id != 0 && e->content_id != f->content_id);
    assert_false(e->content_saved);
    assert_true(lf_registry_dirty(r));
    assert_int_equal(lf_registry_content_durable(r, e, lf_now_mono_ms()), 0);
    assert_true(cid_on_disk(fx, 10) == e->content_id);
    assert_true(cid_on_disk(fx, 11) == f->content_id);
    uint64_t ce = e->content_id;
    lf_registry_close(r);
    r = open_reg(fx);
    assert_true(lf_registry_find(r, 1, 10)->content_id == ce);
    assert_false(lf_registry_dirty(r));
    lf_registry_close(r);
    unlink(fx->file);

    static const char *const bad[] = {"\"xyz\"", "\"0000000000000000\"", "42",
                                      "\"00000000000000001\"", "\"ABCDEF0123456789\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(content, sizeof(content),
                 "{\"version\":1,\"entries\":[\n"
                 "{\"dev\":1,\"ino\":10,\"offset\":5,\"fp_len\":0,\"fp\":\"cbf29ce484222325\","
                 "\"content_id\":\"00000000000000ab\",\"seen\":%lld,\"path\":\"/good\"},\n"
                 "{\"dev\":1,\"ino\":11,\"offset\":5,\"fp_len\":0,\"fp\":\"cbf29ce484222325\","
                 "\"content_id\":%s,\"seen\":%lld,\"path\":\"/bad\"}\n"
                 "]}\n",
                 seen, bad[i], seen);
        spit(fx->file, content);
        r = open_reg(fx);
        assert_int_equal(lf_registry_count(r), 1);
        assert_true(lf_registry_find(r, 1, 10)->content_id == 0xab);
        assert_true(lf_registry_find(r, 1, 10)->content_saved);
        expect_moved_aside(fx, content);
        lf_registry_close(r);
    }
}

/* A save that fails leaves the content id unsaved; it is not retried at
 * once (a full disk), then goes through. */
static void test_content_id_save_failure(void **state)
{
    struct fixture *fx = *state;
    struct lf_registry *r = open_reg(fx);
    int64_t now = lf_now_wall_ms();
    char path[64];
    for (unsigned i = 1; i < 2000; i++) {
        snprintf(path, sizeof(path), "/var/log/many/file-%u.log", i);
        lf_registry_add(r, 1, i, path, now);
    }
    struct lf_registry_entry *e = lf_registry_find(r, 1, 1);
    struct rlimit saved, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = 4096;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    int64_t t0 = lf_now_mono_ms();
    int rc = lf_registry_content_durable(r, e, t0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, SIG_DFL);
    assert_int_equal(rc, LF_EIO);
    assert_false(e->content_saved);
    assert_false(exists(fx->file));
    /* Too soon to try again, though it would work now. */
    assert_int_equal(lf_registry_content_durable(r, e, t0 + 10), LF_EIO);
    assert_false(exists(fx->file));
    assert_int_equal(lf_registry_content_durable(r, e, t0 + LF_REGISTRY_MIN_INTERVAL_MS), 0);
    assert_true(e->content_saved);
    assert_true(cid_on_disk(fx, 1) == e->content_id);
    lf_registry_close(r);
}

/* Ids are random: many in a row never repeat, never 0. */
static void test_content_ids_unique(void **state)
{
    (void)state;
    enum { N = 4096 };
    static uint64_t v[N];
    for (size_t i = 0; i < N; i++) {
        v[i] = lf_registry_new_id();
        assert_true(v[i] != 0);
        for (size_t k = 0; k < i; k++)
            assert_true(v[k] != v[i]);
    }
}

/* The size last seen is saved when known (it reports lost bytes), read
 * back, and unknown for entries written before sizes were; setting it does
 * not make the registry dirty. A content id set from elsewhere (a rotated
 * copy found again) is marked unsaved. Entries can be found by path and
 * walked through. */
static void test_size_and_content(void **state)
{
    struct fixture *fx = *state;
    struct lf_registry *r = open_reg(fx);
    int64_t now = lf_now_wall_ms();
    struct lf_registry_entry *a = lf_registry_add(r, 1, 10, "/a.log", now);
    struct lf_registry_entry *b = lf_registry_add(r, 1, 11, "/b.log", now);
    assert_false(a->size_known);
    lf_registry_set_offset(r, a, 100);
    lf_registry_set_size(a, 250);
    assert_int_equal(lf_registry_save(r, now), 0);
    lf_registry_set_size(a, 300);
    assert_false(lf_registry_dirty(r));
    uint64_t cid = a->content_id;
    lf_registry_set_content(r, b, cid);
    assert_true(b->content_id == cid);
    assert_false(b->content_saved);
    assert_true(lf_registry_dirty(r));
    assert_ptr_equal(lf_registry_find_path(r, "/b.log"), b);
    assert_null(lf_registry_find_path(r, "/c.log"));
    assert_ptr_equal(lf_registry_at(r, 0), a);
    assert_ptr_equal(lf_registry_at(r, 1), b);
    assert_null(lf_registry_at(r, 2));
    assert_int_equal(lf_registry_save(r, now), 0);
    lf_registry_close(r);

    r = open_reg(fx);
    a = lf_registry_find(r, 1, 10);
    b = lf_registry_find(r, 1, 11);
    assert_true(a->size_known);
    assert_int_equal(a->size, 300);
    assert_false(b->size_known);
    assert_true(b->content_id == cid && b->content_saved);
    lf_registry_close(r);
}

int main(void)
{
    lf_log_set_level(LF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_and_made, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_never_sees_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_keeps_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_moved_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_entries_salvaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_entries_cleaned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_rate_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_id_persisted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_id_old_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_id_save_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content_ids_unique, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_and_content, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
