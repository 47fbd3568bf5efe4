/*
 * io.c - the operating system's side: writing a whole buffer to a
 * descriptor whatever write() does (short writes, EINTR, EAGAIN), mkdir -p,
 * the signal descriptor of a daemon's loop, and its malloc settings.
 */
#define _POSIX_C_SOURCE 200809L
#include "lf.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

int lf_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
                return LF_EIO;
        } else if (n == 0 || errno != EINTR) {
            return LF_EIO;
        }
    }
    return 0;
}

int lf_mkdir_p(const char *dir, unsigned mode, char *failed, size_t failed_len)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(path)) {
        errno = ENAMETOOLONG;
        snprintf(failed, failed_len, "%s", dir);
        return LF_EIO;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, (mode_t)mode) != 0 && errno != EEXIST) {
            snprintf(failed, failed_len, "%s", path);
            return LF_EIO;
        }
        path[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    if (errno == 0 || S_ISREG(st.st_mode))
        errno = ENOTDIR;
    snprintf(failed, failed_len, "%s", dir);
    return LF_EIO;
}

int lf_signalfd_open(void)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Measured: on the omprog path those faults were a tenth of the agent's CPU
 * (bench/omprog); in `logferry shipper`, 60k faults and a third of the
 * fetch thread's CPU per million lines (bench/kafka). */
void lf_malloc_keep_buffers(void)
{
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}
