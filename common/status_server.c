/*
 * status_server.c - the status endpoint's listener (see status_server.h).
 *
 * We make the listening socket ourselves (unix or loopback TCP) and hand it
 * to libmicrohttpd, which runs one thread of its own: HTTP parsing, limits
 * and timeouts are its job. The thread reads only the published copies,
 * under a mutex held just long enough to copy one into a response.
 */
#define _POSIX_C_SOURCE 200809L
#include "status_server.h"
#include "lf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A few operators and a scraper at once; each answer is one small copy. */
#define STATUS_CONNECTIONS 16
#define STATUS_TIMEOUT_S 5

struct lf_status_server {
    struct MHD_Daemon *mhd;
    int fd;
    char *unix_path; /* removed at stop */
    pthread_mutex_t lock;
    char *metrics, *json, *health; /* health NULL: healthy */
};

bool lf_status_listen_unix(const char *listen, const char **path)
{
    /* "unix:" takes a relative path too (a data_dir such as ./data). */
    if (strncmp(listen, "unix:", 5) == 0 && listen[5]) {
        *path = listen + 5;
        return true;
    }
    if (listen[0] != '/')
        return false;
    *path = listen;
    return true;
}

/* Splits "HOST:PORT" or "[V6]:PORT". Returns false if malformed. */
static bool split_host_port(const char *listen, char *host, size_t hostlen, unsigned *port)
{
    const char *colon;
    const char *h = listen;
    size_t hlen;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return false;
        h = listen + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return false;
        hlen = (size_t)(colon - listen);
    }
    if (hlen == 0 || hlen >= hostlen)
        return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p == 0 || p > 65535)
        return false;
    *port = (unsigned)p;
    return true;
}

static bool loopback_host(const char *host)
{
    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        return true;
    struct in_addr a;
    return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

const char *lf_status_listen_check(const char *listen)
{
    static const char *expected = "`off`, a unix socket path (`/run/x.sock` or `unix:/run/x.sock`) "
                                  "or a loopback HOST:PORT (127.0.0.1:5066, [::1]:5066)";
    const char *path;
    if (strcmp(listen, "off") == 0)
        return NULL;
    if (lf_status_listen_unix(listen, &path))
        return strlen(path) < sizeof(((struct sockaddr_un *)0)->sun_path)
                   ? NULL
                   : "a unix socket path shorter than 108 bytes";
    char host[256];
    unsigned port;
    if (!split_host_port(listen, host, sizeof(host), &port))
        return expected;
    if (!loopback_host(host))
        return "a loopback address (127.x.x.x, localhost or [::1]): the status endpoint has no "
               "authentication";
    return NULL;
}

static int listen_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket", path);
            close(fd);
            return -1;
        }
        /* Someone answering there is another agent with the same data_dir. */
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            snprintf(err, errlen, "%s: another process listens there (a second agent with the "
                                  "same data_dir?)", path);
            close(fd);
            return -1;
        }
        close(fd);
        unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            snprintf(err, errlen, "socket: %s", strerror(errno));
            return -1;
        }
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int listen_tcp(const char *listen_at, char *err, size_t errlen)
{
    char host[256], port_s[8];
    unsigned port;
    if (!split_host_port(listen_at, host, sizeof(host), &port)) {
        snprintf(err, errlen, "%s: not HOST:PORT", listen_at);
        return -1;
    }
    snprintf(port_s, sizeof(port_s), "%u", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, port_s, &hints, &ai);
    if (gai) {
        snprintf(err, errlen, "%s: %s", listen_at, gai_strerror(gai));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *p = ai; p && fd < 0; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, p->ai_addr, p->ai_addrlen) != 0 || listen(fd, 16) != 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        snprintf(err, errlen, "%s: %s", listen_at, strerror(saved ? saved : EADDRNOTAVAIL));
    return fd;
}

static enum MHD_Result answer(struct lf_status_server *s, struct MHD_Connection *c,
                              unsigned code, const char *type, const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    (void)s;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **state)
{
    struct lf_status_server *s = cls;
    (void)version, (void)upload;
    /* A body is never expected: the first call for a request has it empty. */
    if (*upload_len)
        return MHD_NO;
    (void)state;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return answer(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n");
    pthread_mutex_lock(&s->lock);
    enum MHD_Result rc;
    if (strcmp(url, "/metrics") == 0)
        rc = answer(s, c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                    s->metrics ? s->metrics : "");
    else if (strcmp(url, "/status") == 0)
        rc = answer(s, c, MHD_HTTP_OK, "application/json", s->json ? s->json : "{}");
    else if (strcmp(url, "/health") == 0)
        rc = s->health ? answer(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", s->health)
                       : answer(s, c, MHD_HTTP_OK, "text/plain", "ok\n");
    else
        rc = answer(s, c, MHD_HTTP_NOT_FOUND, "text/plain", "try /metrics, /status or /health\n");
    pthread_mutex_unlock(&s->lock);
    return rc;
}

struct lf_status_server *lf_status_server_start(const char *listen_at, char *err, size_t errlen)
{
    struct lf_status_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *path;
    if (lf_status_listen_unix(listen_at, &path)) {
        s->unix_path = strdup(path);
        s->fd = s->unix_path ? listen_unix(path, err, errlen) : -1;
        if (!s->unix_path)
            snprintf(err, errlen, "out of memory");
    } else {
        s->fd = listen_tcp(listen_at, err, errlen);
    }
    if (s->fd < 0) {
        free(s->unix_path);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
                              on_request, s, MHD_OPTION_LISTEN_SOCKET, s->fd,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)STATUS_CONNECTIONS,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)STATUS_TIMEOUT_S,
                              MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(err, errlen, "%s: the HTTP listener did not start", listen_at);
        close(s->fd);
        if (s->unix_path)
            unlink(s->unix_path);
        pthread_mutex_destroy(&s->lock);
        free(s->unix_path);
        free(s);
        return NULL;
    }
    return s;
}

static int replace(char **slot, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return LF_ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

int lf_status_publish(struct lf_status_server *s, const char *metrics, const char *status_json,
                      const char *health_reason)
{
    char *m = strdup(metrics), *j = strdup(status_json);
    if (!m || !j) {
        free(m);
        free(j);
        return LF_ENOMEM;
    }
    pthread_mutex_lock(&s->lock);
    int rc = replace(&s->health, health_reason);
    if (!rc) {
        free(s->metrics);
        free(s->json);
        s->metrics = m;
        s->json = j;
        m = j = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    free(m);
    free(j);
    return rc;
}

void lf_status_server_stop(struct lf_status_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->mhd); /* closes the listening socket it was given */
    if (s->unix_path)
        unlink(s->unix_path);
    pthread_mutex_destroy(&s->lock);
    free(s->unix_path);
    free(s->metrics);
    free(s->json);
    free(s->health);
    free(s);
}
