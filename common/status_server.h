/*
 * status_server.h - the status endpoint of a daemon: an HTTP listener on a
 * unix socket or a loopback port (libmicrohttpd, on its own thread) serving
 * what the main loop last published:
 *
 *   GET /metrics  Prometheus text format
 *   GET /status   JSON
 *   GET /health   200 "ok", or 503 with the reason
 *
 * The main loop owns every counter; it publishes copies (lf_status_publish),
 * so the listener's thread never reads live state.
 */
#ifndef LF_STATUS_SERVER_H
#define LF_STATUS_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct lf_status_server;

/* A listen value (agent.status_listen): "off", an absolute path or
 * "unix:PATH" (a unix socket, PATH relative or not), or "HOST:PORT" with a
 * loopback HOST
 * (127.x.x.x, localhost, [::1]). Returns NULL if valid, else what is
 * expected (for config errors). */
const char *lf_status_listen_check(const char *listen);

/* Whether `listen` names a unix socket; *path is its path then. */
bool lf_status_listen_unix(const char *listen, const char **path);

/* Starts listening. Returns NULL with the reason in err. A unix socket
 * left by a dead process is replaced; one a live process answers on is an
 * error. */
struct lf_status_server *lf_status_server_start(const char *listen, char *err, size_t errlen);

/* Replaces what is served. Copies the strings; health_reason is NULL when
 * healthy. Returns 0 or LF_ENOMEM (the previous copy stays). */
int lf_status_publish(struct lf_status_server *s, const char *metrics, const char *status_json,
                      const char *health_reason);

/* Stops the listener (waits for its thread), removes its unix socket. */
void lf_status_server_stop(struct lf_status_server *s);

#endif
