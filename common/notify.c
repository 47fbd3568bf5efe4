/*
 * notify.c - sd_notify(3) for the daemons: see lf_notify.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "lf_notify.h"

#include <stdlib.h>

void lf_notify_forget(void)
{
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

#ifdef LF_HAVE_LIBSYSTEMD

#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

/* -1: not asked yet; 0: no watchdog; else the interval systemd wants, ms. */
static int64_t watchdog_ms = -1;
static int64_t last_ping_ms = -1;

bool lf_notify_supported(void)
{
    return true;
}

void lf_notify_ready(void)
{
    sd_notify(0, "READY=1");
}

void lf_notify_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char msg[64];
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
    sd_notify(0, msg);
}

void lf_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1");
}

int64_t lf_notify_watchdog_every_ms(void)
{
    if (watchdog_ms < 0) {
        uint64_t usec = 0;
        /* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is us. */
        watchdog_ms = sd_watchdog_enabled(0, &usec) > 0 ? (int64_t)(usec / 1000) : 0;
        if (watchdog_ms == 0 && usec > 0)
            watchdog_ms = 1; /* under a millisecond: ping at every call */
    }
    return watchdog_ms ? (watchdog_ms + 1) / 2 : -1;
}

void lf_notify_watchdog(int64_t now_ms)
{
    int64_t every = lf_notify_watchdog_every_ms();
    if (every < 0 || (last_ping_ms >= 0 && now_ms - last_ping_ms < every))
        return;
    sd_notify(0, "WATCHDOG=1");
    last_ping_ms = now_ms;
}

#else /* built without libsystemd */

bool lf_notify_supported(void)
{
    return false;
}

void lf_notify_ready(void)
{
}

void lf_notify_reloading(void)
{
}

void lf_notify_stopping(void)
{
}

void lf_notify_watchdog(int64_t now_ms)
{
    (void)now_ms;
}

int64_t lf_notify_watchdog_every_ms(void)
{
    return -1;
}

#endif
