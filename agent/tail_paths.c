/*
 * tail_paths.c - saying why a path pattern of the files input leads to no
 * file: a directory that does not exist, one the agent may not look into
 * (a log under /root for an agent running as a service user), or a glob
 * that simply matches nothing yet. Without it such an input is silent at
 * every log level and the operator sees no data and no reason.
 *
 * Said at the first scan and whenever the reason changes, a new warning at
 * most once per MIN_GAP_MS per pattern so that a file created and deleted
 * in a loop cannot flood the log, and repeated every REMIND_MS while it
 * lasts; that the pattern matches files again is said at once. A pattern
 * that had files and lost them is given LOST_GRACE_MS first (rotations), one
 * that never matched NONE_GRACE_MS.
 */
#define _POSIX_C_SOURCE 200809L
#include "tail_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_GAP_MS 10000
#define REMIND_MS 3600000
/* A pattern that had files and lost them is warned only if that lasts: a
 * rotation (delete, then create) leaves the path empty for a moment. */
#define LOST_GRACE_MS 30000
/* A file not there yet at start may be about to be (a rotation the agent
 * started in the middle of, a service starting with it): a few seconds. A
 * missing directory or a denied one is said at once. */
#define NONE_GRACE_MS 5000

static bool has_magic(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '*' || s[i] == '?' || s[i] == '[' || s[i] == '\\')
            return true;
    return false;
}

/* Why `pattern` matched nothing, into w->why; the state it means. */
static enum lf_tail_path_state explain(const char *pattern, char *why, size_t whylen)
{
    /* The deepest directory of the pattern without a wildcard: the one
     * whose absence or permissions explain the rest. */
    size_t dir_end = 0;
    for (const char *p = pattern; (p = strchr(p, '/')); p++) {
        if (has_magic(pattern, (size_t)(p - pattern)))
            break;
        dir_end = (size_t)(p - pattern);
    }
    char dir[4096];
    snprintf(dir, sizeof(dir), "%.*s", dir_end ? (int)dir_end : 1, dir_end ? pattern : "/");
    if (pattern[0] != '/' && !dir_end)
        snprintf(dir, sizeof(dir), ".");
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno == EACCES) {
            snprintf(why, whylen, "permission denied on the way to %s (running as uid %ld)", dir,
                     (long)geteuid());
            return LF_TAIL_PATH_DENIED;
        }
        snprintf(why, whylen, "%s: %s", dir, strerror(errno));
        return LF_TAIL_PATH_MISSING;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, whylen, "%s is not a directory", dir);
        return LF_TAIL_PATH_MISSING;
    }
    bool literal = !has_magic(pattern, strlen(pattern));
    /* Listing it (a glob) or reaching a name in it (a literal path). */
    if (access(dir, literal ? X_OK : R_OK | X_OK) != 0 && errno == EACCES) {
        snprintf(why, whylen, "permission denied: %s may not be %s (running as uid %ld)", dir,
                 literal ? "searched" : "read", (long)geteuid());
        return LF_TAIL_PATH_DENIED;
    }
    if (literal) {
        if (stat(pattern, &st) != 0 && errno == EACCES) {
            snprintf(why, whylen, "permission denied (running as uid %ld)", (long)geteuid());
            return LF_TAIL_PATH_DENIED;
        }
        snprintf(why, whylen, "no such file");
        return LF_TAIL_PATH_NONE;
    }
    snprintf(why, whylen, "matches no file");
    return LF_TAIL_PATH_NONE;
}

void lf_tail_path_seen(struct lf_tail_path_watch *w, const char *input, const char *pattern,
                       size_t matches, int64_t now_ms)
{
    char why[sizeof(w->why)] = "";
    enum lf_tail_path_state state = matches ? LF_TAIL_PATH_OK : explain(pattern, why, sizeof(why));
    if (state == LF_TAIL_PATH_OK) {
        w->had_files = true;
        w->bad_since_ms = 0;
    } else {
        if (!w->bad_since_ms)
            w->bad_since_ms = now_ms ? now_ms : 1;
        int64_t grace = w->had_files                 ? LOST_GRACE_MS
                        : state == LF_TAIL_PATH_NONE ? NONE_GRACE_MS
                                                     : 0;
        if (now_ms - w->bad_since_ms < grace)
            return;
    }
    bool same = state == w->said_state && strcmp(why, w->why) == 0;
    if (same) {
        if (state != LF_TAIL_PATH_OK && now_ms - w->said_ms >= REMIND_MS) {
            lf_log(LF_LOG_WARN, "tail", "%s: %s: %s (still; no data from it)", input, pattern, why);
            w->said_ms = now_ms;
        }
        return;
    }
    /* A new warning waits for the gap (said then, if it still holds); good
     * news does not, and a flapping pattern still logs twice per gap at most. */
    if (w->said_ms && now_ms - w->said_ms < MIN_GAP_MS && state != LF_TAIL_PATH_OK)
        return;
    if (state == LF_TAIL_PATH_OK)
        lf_log(LF_LOG_INFO, "tail", "%s: %s: matches %zu file%s now", input, pattern, matches,
               matches == 1 ? "" : "s");
    else
        lf_log(LF_LOG_WARN, "tail", "%s: %s: %s; nothing to read from it until that changes", input,
               pattern, why);
    w->said_state = state;
    snprintf(w->why, sizeof(w->why), "%s", why);
    w->said_ms = now_ms ? now_ms : 1;
}
