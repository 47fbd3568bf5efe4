/*
 * cmd_status.c - `logferry status`: asks a running agent's status endpoint
 * (agent.status_listen of its configuration, or --listen) what it is doing
 * and prints it for a person: each input and its files with how far behind
 * they are, the output, the spool, and how long catching up should take at
 * the rate seen. --json prints the endpoint's document as it is.
 */
#define _POSIX_C_SOURCE 200809L
#include "agent_config.h"
#include "cli.h"
#include "shipper_config.h"
#include "status_server.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: logferry status [--shipper] [-c FILE | --listen ADDR] [--json | --health]\n"
                 "  -c, --config FILE  the agent's configuration (default /etc/logferry/agent.yml)\n"
                 "  --shipper          ask a shipper (default config /etc/logferry/shipper.yml)\n"
                 "  --listen ADDR      the endpoint itself: a unix socket path or HOST:PORT\n"
                 "  --json             print the /status document as the agent gives it\n"
                 "  --health           print /health; exit 0 when healthy, 1 when not\n");
}

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    return lf_buf_append(ctx, p, size * n) ? 0 : size * n;
}

/* GETs `path` from the endpoint; returns the HTTP status, or 0 with the
 * reason on stderr. */
static long fetch(const char *listen, const char *path, struct lf_buf *body)
{
    CURL *c = curl_easy_init();
    if (!c) {
        fprintf(stderr, "logferry status: cannot start libcurl\n");
        return 0;
    }
    char url[512];
    const char *sock;
    if (lf_status_listen_unix(listen, &sock)) {
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
        snprintf(url, sizeof(url), "http://localhost%s", path);
    } else {
        snprintf(url, sizeof(url), "http://%s%s", listen, path);
    }
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf(stderr, "logferry status: %s: %s (is the agent running, with this "
                        "configuration?)\n",
                listen, err[0] ? err : curl_easy_strerror(rc));
    curl_easy_cleanup(c);
    return status;
}

static void human_bytes(char *out, size_t len, double b)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    while (b >= 1024 && u < 4)
        b /= 1024, u++;
    snprintf(out, len, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

static json_int_t num(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static void print_status(const json_t *doc)
{
    char b1[32], b2[32];
    const json_t *out = json_object_get(doc, "output");
    printf("logferry %s, pid %lld, up %.0f s: %s\n",
           json_string_value(json_object_get(doc, "version")), (long long)num(doc, "pid"),
           json_real_value(json_object_get(doc, "uptime_s")),
           json_is_true(json_object_get(doc, "healthy"))
               ? "healthy"
               : json_string_value(json_object_get(doc, "unhealthy_because")));
    size_t i;
    const json_t *in;
    json_array_foreach(json_object_get(doc, "inputs"), i, in) {
        printf("input %s: read %lld, parsed %lld, unparsed %lld, acknowledged %lld\n",
               json_string_value(json_object_get(in, "name")), (long long)num(in, "read"),
               (long long)num(in, "parsed"), (long long)num(in, "unparsed"),
               (long long)num(in, "acked"));
        size_t u;
        const json_t *path;
        json_array_foreach(json_object_get(in, "paths_without_files"), u, path)
            printf("  %s: no file: %s\n", json_string_value(json_object_get(path, "pattern")),
                   json_string_value(json_object_get(path, "why")));
        const json_t *jr = json_object_get(in, "journal");
        if (jr) {
            const char *acked = json_string_value(json_object_get(jr, "acked_time"));
            const char *cursor = json_string_value(json_object_get(jr, "cursor"));
            printf("  %s: %lld entries in flight, safe up to %s\n  cursor %s\n",
                   json_string_value(json_object_get(jr, "journal")), (long long)num(jr, "pending"),
                   acked ? acked : "(nothing acknowledged since the start)",
                   cursor ? cursor : "(none saved)");
        }
        const json_t *files = json_object_get(in, "files");
        if (!files)
            continue;
        human_bytes(b1, sizeof(b1), (double)num(in, "bytes_behind"));
        printf("  %lld file%s followed, %s behind\n", (long long)num(in, "files_followed"),
               num(in, "files_followed") == 1 ? "" : "s", b1);
        size_t k;
        const json_t *f;
        json_array_foreach(files, k, f) {
            human_bytes(b1, sizeof(b1), (double)num(f, "behind"));
            human_bytes(b2, sizeof(b2), (double)num(f, "size"));
            printf("    %s  offset %lld of %s, %s behind\n",
                   json_string_value(json_object_get(f, "path")), (long long)num(f, "offset"), b2,
                   b1);
        }
    }
    const json_t *parts = json_object_get(doc, "partitions");
    if (parts)
        printf("consumed %lld, lag %lld over %zu partition%s\n", (long long)num(doc, "consumed"),
               (long long)num(doc, "lag"), json_array_size(parts),
               json_array_size(parts) == 1 ? "" : "s");
    json_array_foreach(parts, i, in) {
        printf("  %s/%lld: consumed %lld, indexed %lld, in flight %lld, committed %lld, lag %lld%s\n",
               json_string_value(json_object_get(in, "topic")), (long long)num(in, "partition"),
               (long long)num(in, "consumed"), (long long)num(in, "indexed"),
               (long long)num(in, "in_flight"), (long long)num(in, "committed"),
               (long long)num(in, "lag"),
               json_is_true(json_object_get(in, "paused")) ? " (paused)" : "");
    }
    double age = json_real_value(json_object_get(out, "last_answer_age_s"));
    printf("output %s: %s", json_string_value(json_object_get(out, "type")),
           json_is_true(json_object_get(out, "available")) ? "available" : "UNAVAILABLE");
    if (!json_is_true(json_object_get(out, "available")))
        printf(" for %.0f s", json_real_value(json_object_get(out, "unavailable_for_s")));
    if (age >= 0)
        printf(", last answer %.1f s ago", age);
    printf("\n  submitted %lld, acknowledged %lld, pending %lld, retried %lld, dead letters "
           "%lld, spooled %lld, dropped %lld\n",
           (long long)num(out, "submitted"), (long long)num(out, "acked"),
           (long long)num(out, "pending"), (long long)num(out, "retried"),
           (long long)num(out, "failed"), (long long)num(out, "spooled"),
           (long long)num(out, "dropped"));
    human_bytes(b1, sizeof(b1), (double)num(out, "spool_bytes"));
    printf("  spool: %s not delivered%s\n", b1,
           json_is_true(json_object_get(out, "reading_waits")) ? "; reading waits for the output"
                                                                : "");
}

/* Two samples a second apart give the rate; the backlog over it, the time. */
static void print_catch_up(const json_t *a, const json_t *b)
{
    double dt = json_real_value(json_object_get(b, "uptime_s")) -
                json_real_value(json_object_get(a, "uptime_s"));
    const json_t *oa = json_object_get(a, "output"), *ob = json_object_get(b, "output");
    double docs = (double)(num(ob, "acked") - num(oa, "acked"));
    double bytes = (double)(num(ob, "bytes") - num(oa, "bytes"));
    double behind = (double)num(b, "bytes_behind") + (double)num(ob, "spool_bytes");
    if (dt <= 0)
        return;
    if (json_object_get(b, "partitions")) { /* a shipper: its lag is in messages */
        double lag = (double)num(b, "lag");
        if (lag <= 0)
            printf("caught up (%.0f documents/s acknowledged)\n", docs / dt);
        else if (docs <= 0)
            printf("%.0f messages to catch up; nothing acknowledged in the last %.1f s\n", lag, dt);
        else
            printf("%.0f messages to catch up at %.0f documents/s: about %.0f s\n", lag,
                   docs / dt, lag / (docs / dt));
        return;
    }
    char b1[32];
    human_bytes(b1, sizeof(b1), behind);
    if (behind <= 0) {
        printf("caught up (%.0f documents/s acknowledged)\n", docs / dt);
    } else if (docs <= 0 || bytes <= 0) {
        printf("%s to catch up; nothing acknowledged in the last %.1f s\n", b1, dt);
    } else {
        /* Document bytes and file bytes differ (JSON vs lines); near enough
         * for an estimate. */
        printf("%s to catch up at %.0f documents/s: about %.0f s\n", b1, docs / dt,
               behind / (bytes / dt));
    }
}

int lf_cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"health", no_argument, NULL, 'H'},
                                         {"shipper", no_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL, *listen = NULL;
    bool as_json = false, health = false, shipper = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'l': listen = optarg; break;
        case 'j': as_json = true; break;
        case 'H': health = true; break;
        case 's': shipper = true; break;
        case 'h': usage(stdout); return LF_EXIT_OK;
        default: usage(stderr); return LF_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return LF_EXIT_USAGE;
    }
    if (!config)
        config = shipper ? "/etc/logferry/shipper.yml" : "/etc/logferry/agent.yml";
    char path[4096];
    if (!listen) {
        char err[8192];
        unsigned nerr = 0;
        const char *at = NULL, *dir = NULL;
        struct lf_agent_conf *ac = NULL;
        struct lf_shipper_conf *sc = NULL;
        if (shipper && (sc = lf_shipper_conf_load(config, err, sizeof(err), &nerr)))
            at = sc->status_listen, dir = sc->data_dir;
        else if (!shipper && (ac = lf_agent_conf_load(config, err, sizeof(err), &nerr)))
            at = ac->status_listen, dir = ac->data_dir;
        if (!ac && !sc) {
            fprintf(stderr, "%slogferry status: cannot read %s\n", err, config);
            return LF_EXIT_FAILURE;
        }
        if (at)
            snprintf(path, sizeof(path), "%s", at);
        else
            snprintf(path, sizeof(path), "unix:%s/status.sock", dir);
        lf_agent_conf_free(ac);
        lf_shipper_conf_free(sc);
        if (strcmp(path, "off") == 0) {
            fprintf(stderr, "logferry status: %s turns the status endpoint off (%s.status_listen)\n",
                    config, shipper ? "shipper" : "agent");
            return LF_EXIT_FAILURE;
        }
        listen = path;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = LF_EXIT_FAILURE;
    struct lf_buf body, later;
    lf_buf_init(&body, 64u << 20);
    lf_buf_init(&later, 64u << 20);
    long status = fetch(listen, health ? "/health" : "/status", &body);
    if (status && health) {
        fwrite(body.data, 1, body.len, stdout);
        rc = status == 200 ? LF_EXIT_OK : LF_EXIT_FAILURE;
    } else if (status == 200 && as_json) {
        fwrite(body.data, 1, body.len, stdout);
        putchar('\n');
        rc = LF_EXIT_OK;
    } else if (status == 200) {
        json_error_t jerr;
        json_t *a = json_loadb(body.data, body.len, 0, &jerr);
        if (!a) {
            fprintf(stderr, "logferry status: the endpoint's answer is not JSON: %s\n", jerr.text);
        } else {
            print_status(a);
            /* The agent publishes once a second: a second look gives rates. */
            struct timespec pause = {1, 200 * 1000000};
            nanosleep(&pause, NULL);
            json_t *b = NULL;
            if (fetch(listen, "/status", &later) == 200)
                b = json_loadb(later.data, later.len, 0, &jerr);
            if (b)
                print_catch_up(a, b);
            json_decref(b);
            json_decref(a);
            rc = LF_EXIT_OK;
        }
    } else if (status) {
        fprintf(stderr, "logferry status: %s answered HTTP %ld\n", listen, status);
    }
    lf_buf_free(&body);
    lf_buf_free(&later);
    curl_global_cleanup();
    return rc;
}
