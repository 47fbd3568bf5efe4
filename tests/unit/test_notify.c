/*
 * test_notify.c - sd_notify as systemd sees it: the test binds a datagram
 * socket, names it in NOTIFY_SOCKET as systemd does, and reads what the
 * calls send: READY=1, RELOADING=1 with MONOTONIC_USEC, STOPPING=1, and
 * WATCHDOG=1 no more often than half of WATCHDOG_USEC. Skipped when built
 * without libsystemd (the calls are no-ops then).
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lf_notify.h"

static int sock = -1;
static char sock_path[108];

static int setup(void **state)
{
    (void)state;
    snprintf(sock_path, sizeof(sock_path), "/tmp/lf_notify_%ld.sock", (long)getpid());
    unlink(sock_path);
    sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, sock_path);
    if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return -1;
    setenv("NOTIFY_SOCKET", sock_path, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    close(sock);
    unlink(sock_path);
    return 0;
}

/* The next datagram, waiting up to 10 s; "" when none came. */
static const char *next_message(char *buf, size_t len, int timeout_ms)
{
    struct pollfd p = {.fd = sock, .events = POLLIN};
    buf[0] = '\0';
    if (poll(&p, 1, timeout_ms) == 1) {
        ssize_t n = recv(sock, buf, len - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
    }
    return buf;
}

static void test_states(void **state)
{
    (void)state;
    if (!lf_notify_supported())
        skip();
    char buf[256];
    lf_notify_ready();
    assert_string_equal(next_message(buf, sizeof(buf), 10000), "READY=1");

    struct timespec before, after;
    clock_gettime(CLOCK_MONOTONIC, &before);
    lf_notify_reloading();
    clock_gettime(CLOCK_MONOTONIC, &after);
    unsigned long long usec;
    assert_int_equal(
        sscanf(next_message(buf, sizeof(buf), 10000), "RELOADING=1\nMONOTONIC_USEC=%llu", &usec),
        1);
    /* systemd compares it with its own CLOCK_MONOTONIC reading. */
    assert_true(usec >= (unsigned long long)before.tv_sec * 1000000 + before.tv_nsec / 1000);
    assert_true(usec <= (unsigned long long)after.tv_sec * 1000000 + after.tv_nsec / 1000);

    lf_notify_stopping();
    assert_string_equal(next_message(buf, sizeof(buf), 10000), "STOPPING=1");
}

static void test_watchdog(void **state)
{
    (void)state;
    if (!lf_notify_supported())
        skip();
    char buf[256], pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("WATCHDOG_USEC", "2000000", 1);
    setenv("WATCHDOG_PID", pid, 1);
    assert_int_equal(lf_notify_watchdog_every_ms(), 1000);
    lf_notify_watchdog(5000);
    assert_string_equal(next_message(buf, sizeof(buf), 10000), "WATCHDOG=1");
    lf_notify_watchdog(5999); /* under half the interval since: nothing */
    assert_string_equal(next_message(buf, sizeof(buf), 200), "");
    lf_notify_watchdog(6000);
    assert_string_equal(next_message(buf, sizeof(buf), 10000), "WATCHDOG=1");
}

static void test_forget(void **state)
{
    (void)state;
    /* A child of rsyslog: its NOTIFY_SOCKET is rsyslog's, not ours. */
    lf_notify_forget();
    assert_null(getenv("NOTIFY_SOCKET"));
    lf_notify_ready();
    char buf[64];
    assert_string_equal(next_message(buf, sizeof(buf), 200), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_watchdog),
        cmocka_unit_test(test_forget),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
