/*
 * cmd_setup.c - `logferry setup -c FILE`, as `filebeat setup`: installs on
 * demand what a daemon of that configuration needs in Elasticsearch (the
 * lifecycle policy of `retention`, the index template of every index
 * prefix) and, with --kibana URL, imports the shipped Kibana saved objects.
 * Idempotent: what is there already and current is left as it is, and said
 * to be so. --dry-run prints each request instead of sending it.
 *
 * The Elasticsearch side is the output's own (es_setup.c, with the output's
 * hosts, TLS and credentials); Kibana gets the same credentials and TLS
 * settings unless --kibana-* options say otherwise, as Beats do.
 */
#define _POSIX_C_SOURCE 200809L
#include "agent_config.h"
#include "cli.h"
#include "es_conf.h"
#include "es_template.h"
#include "kibana.h"
#include "shipper_config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LF_KIBANA_DIR
#define LF_KIBANA_DIR "/usr/share/logferry/kibana"
#endif

#define MAX_PREFIXES 258

static void usage(FILE *out)
{
    fprintf(out,
            "usage: logferry setup [--shipper] [--omprog] -c FILE [--dry-run [--opensearch]]\n"
            "                      [--index-management] [--dashboards --kibana URL\n"
            "                       [--kibana-objects DIR] [--kibana-username USER\n"
            "                       --kibana-password-file FILE | --kibana-api-key-file FILE]\n"
            "                       [--kibana-ca-file FILE]]\n"
            "\n"
            "Installs what the daemon of FILE needs in Elasticsearch or OpenSearch, as it\n"
            "installs it at start: per index prefix, the lifecycle policy of `retention`\n"
            "(ILM or ISM) and the index template logferry-PREFIX; then, with --kibana, the\n"
            "Kibana saved objects (data views, dashboards). What is there and current is\n"
            "left alone and said to be unchanged; a policy or template that is not\n"
            "logferry's is never replaced (template_overwrite aside). One line per thing,\n"
            "exit 0 when everything is in place.\n"
            "\n"
            "  -c, --config FILE   the agent's configuration (its output.elasticsearch)\n"
            "      --shipper       FILE is a `logferry shipper` configuration\n"
            "      --omprog        the prefixes and grammar of the agent run with --omprog\n"
            "      --dry-run       send nothing: print each request (method, URL, body)\n"
            "                      that a first setup makes\n"
            "      --opensearch    ... for OpenSearch (ISM) instead of Elasticsearch (ILM)\n"
            "      --index-management  only the policies and templates\n"
            "      --dashboards    only the Kibana saved objects (needs --kibana)\n"
            "      --kibana URL    Kibana's base URL (add /s/SPACE for a space)\n"
            "      --kibana-objects DIR\n"
            "                      the *.ndjson files to import (default %s)\n"
            "      --kibana-username USER, --kibana-password-file FILE,\n"
            "      --kibana-api-key-file FILE, --kibana-ca-file FILE\n"
            "                      Kibana's credentials and CA (default: the output's)\n"
            "  -h, --help          this text\n",
            LF_KIBANA_DIR);
}

/* The first line of a file (a secret: wiped when freed); NULL when it
 * cannot be read, said on stderr. */
static char *read_line(const char *path, const char *option)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    char *s = NULL;
    if (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            s = strdup(line);
        memset(line, 0, sizeof(line));
    }
    if (!s)
        fprintf(stderr, "logferry setup: %s: cannot read %s: %s\n", option, path,
                f ? "empty" : strerror(errno));
    if (f)
        fclose(f);
    return s;
}

static void wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

static void add_prefix(const char **prefixes, size_t *n, const char *p)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(prefixes[i], p) == 0)
            return;
    if (*n < MAX_PREFIXES)
        prefixes[(*n)++] = p;
}

/* The prefixes the daemon of l sends to, as it lists them at start. */
static size_t prefixes_of(const struct lf_cli_loaded *l, bool omprog, const char **out)
{
    size_t n = 0;
    if (l->shipper) {
        add_prefix(out, &n, l->shipper->index);
        for (size_t i = 0; i < l->shipper->nindex_prefixes; i++)
            add_prefix(out, &n, l->shipper->index_prefixes[i]);
    } else if (omprog) {
        add_prefix(out, &n, l->agent->omprog_index);
    } else {
        if (l->agent->metrics_enabled)
            add_prefix(out, &n, l->agent->metrics_index);
        for (size_t i = 0; i < l->agent->nfiles; i++)
            add_prefix(out, &n, l->agent->files[i].index);
    }
    return n;
}

struct kibana_args {
    const char *url, *dir, *username, *password_file, *api_key_file, *ca_file;
};

static int run_kibana(const struct kibana_args *ka, const struct lf_http_options *es_http,
                      bool dry_run, struct lf_es_setup_counts *counts)
{
    struct lf_http_options http = *es_http;
    char *password = NULL, *api_key = NULL;
    int rc = 0;
    if (ka->username || ka->password_file) {
        if (!ka->username || !ka->password_file) {
            fprintf(stderr, "logferry setup: --kibana-username and --kibana-password-file go "
                            "together\n");
            return -1;
        }
        if (!(password = read_line(ka->password_file, "--kibana-password-file")))
            return -1;
        http.username = ka->username;
        http.password = password;
        http.api_key = NULL;
    }
    if (ka->api_key_file) {
        if (!(api_key = read_line(ka->api_key_file, "--kibana-api-key-file"))) {
            wipe_free(password);
            return -1;
        }
        http.api_key = api_key;
        http.username = http.password = NULL;
    }
    if (ka->ca_file)
        http.ca_file = ka->ca_file;
    /* A client certificate for Elasticsearch is not Kibana's. */
    http.cert_file = http.key_file = NULL;
    struct lf_kibana_options ko = {.url = ka->url, .dir = ka->dir, .dry_run = dry_run};
    rc = lf_kibana_import(&ko, &http, stdout, counts);
    wipe_free(password);
    wipe_free(api_key);
    return rc;
}

static int run(const char *path, bool shipper, bool omprog, bool dry_run, bool opensearch,
               bool index_management, const struct kibana_args *ka)
{
    struct lf_cli_loaded l;
    if (lf_cli_load("setup", path, shipper, &l))
        return LF_EXIT_FAILURE;
    const struct lf_es_conf *es = l.shipper ? &l.shipper->es : &l.agent->es;
    if (l.agent && index_management && l.agent->output_type != LF_OUTPUT_ELASTICSEARCH) {
        fprintf(stderr,
                "logferry setup: %s: the output is not elasticsearch: templates and policies "
                "are for the daemon that writes to Elasticsearch (for Kafka, `logferry setup "
                "--shipper -c shipper.yml`); --dashboards imports only the Kibana objects\n",
                path);
        lf_cli_unload(&l);
        return LF_EXIT_USAGE;
    }
    char err[512];
    struct lf_http_options http;
    struct lf_es_conf_secrets secrets;
    if (lf_es_conf_http(es, "output.elasticsearch", &http, &secrets, err, sizeof(err))) {
        fprintf(stderr, "logferry setup: %s: %s\n", path, err);
        lf_cli_unload(&l);
        return LF_EXIT_FAILURE;
    }
    struct lf_es_setup_counts counts = {0};
    int rc = 0;
    if (index_management) {
        const char *prefixes[MAX_PREFIXES];
        char *errbuf = malloc(256u * 1024);
        struct lf_es_template *t = errbuf ? lf_cli_template(&l, omprog, errbuf, 256u * 1024) : NULL;
        if (!t) {
            fprintf(stderr, "logferry setup: %s: %s\n", path, errbuf ? errbuf : "out of memory");
            rc = -1;
        } else {
            struct lf_es_setup_options o = {.prefixes = prefixes,
                                            .nprefixes = prefixes_of(&l, omprog, prefixes),
                                            .tmpl = t,
                                            .index = es->index,
                                            .retention = es->retention,
                                            .overwrite = es->template_overwrite,
                                            .dry_run = dry_run,
                                            .assume_opensearch = opensearch};
            rc =
                lf_es_setup((const char *const *)es->hosts, es->nhosts, &http, &o, stdout, &counts);
        }
        lf_es_template_destroy(t);
        free(errbuf);
    }
    if (ka->url && run_kibana(ka, &http, dry_run, &counts))
        rc = -1;
    lf_es_conf_secrets_free(&secrets);
    lf_cli_unload(&l);
    if (!dry_run && (rc || counts.failed))
        printf("setup: FAILED (%u failed, %u installed or updated, %u unchanged)\n", counts.failed,
               counts.changed, counts.unchanged);
    else if (!dry_run && counts.changed == 0)
        printf("setup: nothing changed (%u unchanged%s)\n", counts.unchanged,
               counts.left_alone ? ", some left alone" : "");
    else if (!dry_run)
        printf("setup: %u installed or updated, %u unchanged%s\n", counts.changed, counts.unchanged,
               counts.left_alone ? ", some left alone" : "");
    return rc || counts.failed ? LF_EXIT_FAILURE : LF_EXIT_OK;
}

int lf_cmd_setup(int argc, char **argv)
{
    enum { O_DRY = 256, O_OS, O_IM, O_DASH, O_KURL, O_KDIR, O_KUSER, O_KPASS, O_KKEY, O_KCA };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"shipper", no_argument, NULL, 's'},
        {"omprog", no_argument, NULL, 'o'},
        {"dry-run", no_argument, NULL, O_DRY},
        {"opensearch", no_argument, NULL, O_OS},
        {"index-management", no_argument, NULL, O_IM},
        {"dashboards", no_argument, NULL, O_DASH},
        {"kibana", required_argument, NULL, O_KURL},
        {"kibana-objects", required_argument, NULL, O_KDIR},
        {"kibana-username", required_argument, NULL, O_KUSER},
        {"kibana-password-file", required_argument, NULL, O_KPASS},
        {"kibana-api-key-file", required_argument, NULL, O_KKEY},
        {"kibana-ca-file", required_argument, NULL, O_KCA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    struct kibana_args ka = {.dir = LF_KIBANA_DIR};
    bool shipper = false, omprog = false, dry = false, os = false, im = false, dash = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 's':
            shipper = true;
            break;
        case 'o':
            omprog = true;
            break;
        case O_DRY:
            dry = true;
            break;
        case O_OS:
            os = true;
            break;
        case O_IM:
            im = true;
            break;
        case O_DASH:
            dash = true;
            break;
        case O_KURL:
            ka.url = optarg;
            break;
        case O_KDIR:
            ka.dir = optarg;
            break;
        case O_KUSER:
            ka.username = optarg;
            break;
        case O_KPASS:
            ka.password_file = optarg;
            break;
        case O_KKEY:
            ka.api_key_file = optarg;
            break;
        case O_KCA:
            ka.ca_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return LF_EXIT_OK;
        default:
            usage(stderr);
            return LF_EXIT_USAGE;
        }
    }
    const char *bad =
        optind < argc       ? "unexpected argument"
        : !path             ? "give -c FILE"
        : omprog && shipper ? "--omprog is for agent configurations"
        : os && !dry        ? "--opensearch goes with --dry-run (otherwise the "
                              "server says what it is)"
        : dash && !ka.url   ? "--dashboards needs --kibana URL"
        : (ka.username || ka.password_file || ka.api_key_file || ka.ca_file) && !ka.url
            ? "the --kibana-* options need --kibana URL"
            : NULL;
    if (bad) {
        fprintf(stderr, "logferry setup: %s%s%s\n", bad, optind < argc ? " " : "",
                optind < argc ? argv[optind] : "");
        usage(stderr);
        return LF_EXIT_USAGE;
    }
    if (strncmp(ka.url ? ka.url : "http://", "http://", 7) != 0 &&
        strncmp(ka.url, "https://", 8) != 0) {
        fprintf(stderr,
                "logferry setup: --kibana: a URL starting with http:// or https://, "
                "not '%s'\n",
                ka.url);
        return LF_EXIT_USAGE;
    }
    /* Neither part named: both (Kibana's only with a URL). */
    if (!im && !dash) {
        im = true;
    } else if (!dash) {
        ka.url = NULL;
    }
    return run(path, shipper, omprog, dry, os, im, &ka);
}
