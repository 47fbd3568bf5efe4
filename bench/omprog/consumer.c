/*
 * consumer.c - the trivial omprog program bench/omprog/run.sh compares the
 * agent with: the protocol's ceiling on this machine. It answers every line
 * at once as the agent would once safe ("OK"; inside a transaction
 * "DEFER_COMMIT" for a message and "OK" for the marks) and does nothing
 * else, so what it costs is rsyslog's pipe round trip per message.
 *
 *   consumer N DONE_FILE: after the Nth message, writes "<mono ms> <cpu
 *   ticks>" to DONE_FILE (a temporary file, then a rename) and goes on.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/times.h>
#include <time.h>
#include <unistd.h>

static void answer(const char *s)
{
    size_t n = strlen(s), off = 0;
    while (off < n) {
        ssize_t w = write(1, s + off, n - off);
        if (w <= 0)
            exit(1);
        off += (size_t)w;
    }
}

int main(int argc, char **argv)
{
    long want = argc > 1 ? atol(argv[1]) : 0, seen = 0;
    const char *done = argc > 2 ? argv[2] : NULL;
    static char buf[1 << 20];
    size_t len = 0;
    int in_txn = 0;
    answer("OK\n");
    for (;;) {
        ssize_t r = read(0, buf + len, sizeof(buf) - len);
        if (r <= 0)
            return 0;
        len += (size_t)r;
        char *p = buf, *nl;
        while ((nl = memchr(p, '\n', len - (size_t)(p - buf)))) {
            *nl = '\0';
            if (strcmp(p, "BEGIN TRANSACTION") == 0) {
                in_txn = 1;
                answer("OK\n");
            } else if (strcmp(p, "COMMIT TRANSACTION") == 0) {
                in_txn = 0;
                answer("OK\n");
            } else {
                answer(in_txn ? "DEFER_COMMIT\n" : "OK\n");
                if (++seen == want && done) {
                    struct timespec ts;
                    struct tms t;
                    clock_gettime(CLOCK_MONOTONIC, &ts);
                    times(&t);
                    char tmp[4096];
                    snprintf(tmp, sizeof(tmp), "%s.tmp", done);
                    FILE *f = fopen(tmp, "w");
                    if (f) {
                        fprintf(f, "%lld %ld\n", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
                                (long)(t.tms_utime + t.tms_stime));
                        fclose(f);
                        rename(tmp, done);
                    }
                }
            }
            p = nl + 1;
        }
        len -= (size_t)(p - buf);
        memmove(buf, p, len);
        if (len == sizeof(buf))
            len = 0; /* a line longer than the buffer: not in this bench */
    }
}
