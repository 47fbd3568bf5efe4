/*
 * io.c - writing a whole buffer to a descriptor, whatever write() does:
 * short writes, EINTR, and EAGAIN on a non-blocking descriptor.
 */
#define _POSIX_C_SOURCE 200809L
#include "lf.h"

#include <errno.h>
#include <poll.h>
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
