/*
 * lf_notify.h - telling systemd how the daemon is doing (sd_notify(3)):
 * ready, reloading, stopping, and the watchdog's keep-alive. Every call is a
 * no-op when the process was not started by systemd with Type=notify
 * (NOTIFY_SOCKET unset) or when logferry was built without libsystemd.
 *
 * The daemons call these from their one main thread only.
 *
 * Included directly (it is not part of lf.h): #include "lf_notify.h".
 */
#ifndef LF_NOTIFY_H
#define LF_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* True when built with libsystemd, i.e. the calls below can do something. */
bool lf_notify_supported(void);
/* A program started by another service (rsyslog's omprog) inherits its
 * NOTIFY_SOCKET but must not speak for it: forget it, before any thread. */
void lf_notify_forget(void);
/* Start-up (or a reload) is over: the service is running. */
void lf_notify_ready(void);
/* A reload (SIGHUP) begins; READY follows when it is over. Carries
 * MONOTONIC_USEC, which systemd 253+ wants with RELOADING=1 (older versions
 * ignore it). */
void lf_notify_reloading(void);
/* Shutdown begins (what is read is being delivered before exit). */
void lf_notify_stopping(void);
/*
 * The watchdog keep-alive: sends WATCHDOG=1 when systemd asked for one
 * (WatchdogSec=) and half its interval has passed since the last one, so it
 * may be called on every round of a loop. now_ms is lf_now_mono_ms().
 */
void lf_notify_watchdog(int64_t now_ms);
/*
 * The longest a loop may sleep between two lf_notify_watchdog() calls, in
 * ms, or -1 when there is no watchdog.
 */
int64_t lf_notify_watchdog_every_ms(void);

#endif
