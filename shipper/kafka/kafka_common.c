/*
 * kafka_common.c - librdkafka configurations built from ours, and
 * librdkafka's log lines routed into ours.
 */
#define _POSIX_C_SOURCE 200809L
#include "kafka_common.h"
#include "lf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lf_kafka_secret_property(const char *name)
{
    static const char *const words[] = {"password", "secret", "jaas",
                                        "key.pem",  "token",  "credentials"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(name, words[i]))
            return 1;
    return 0;
}

/* syslog levels, as librdkafka logs them, to ours. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk; /* its opaque belongs to the client's owner */
    enum lf_log_level l = level <= 3   ? LF_LOG_ERROR
                          : level == 4 ? LF_LOG_WARN
                          : level <= 6 ? LF_LOG_INFO
                                       : LF_LOG_DEBUG;
    lf_log(l, "kafka", "librdkafka %s: %s", fac, buf);
}

static int set(rd_kafka_conf_t *conf, const char *section, const char *name, const char *value,
               char *err, size_t errlen)
{
    char why[512];
    if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) == RD_KAFKA_CONF_OK)
        return 0;
    /* librdkafka's message may quote the value: leave it out for secrets. */
    if (lf_kafka_secret_property(name))
        snprintf(err, errlen, "%s.properties.%s: refused by librdkafka", section, name);
    else
        snprintf(err, errlen, "%s.properties.%s: %s", section, name, why);
    return -1;
}

rd_kafka_conf_t *lf_kafka_conf_new(const char *section, const char *const *brokers, size_t nbrokers,
                                   const char *const *def_names, const char *const *def_values,
                                   size_t ndefs, const char *const *names,
                                   const char *const *values, size_t nprops, char *err,
                                   size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    struct lf_buf list;
    lf_buf_init(&list, 64 * 1024);
    if (!conf)
        goto oom;
    for (size_t i = 0; i < nbrokers; i++)
        if ((i && lf_buf_append(&list, ",", 1)) ||
            lf_buf_append(&list, brokers[i], strlen(brokers[i])))
            goto oom;
    if (lf_buf_append(&list, "", 1))
        goto oom;
    if (set(conf, section, "bootstrap.servers", list.data, err, errlen))
        goto fail;
    rd_kafka_conf_set_log_cb(conf, log_cb);
    for (size_t i = 0; i < ndefs; i++)
        if (set(conf, section, def_names[i], def_values[i], err, errlen))
            goto fail;
    for (size_t i = 0; i < nprops; i++)
        if (set(conf, section, names[i], values[i], err, errlen))
            goto fail;
    lf_buf_free(&list);
    return conf;
oom:
    snprintf(err, errlen, "%s: out of memory", section);
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    lf_buf_free(&list);
    return NULL;
}

const char *lf_kafka_check_broker(const char *s)
{
    static const char *why = "one broker per item, host:port with a port from 1 to 65535";
    const char *colon = strrchr(s, ':');
    if (strpbrk(s, ", \t") || !colon || colon == s || !colon[1])
        return why;
    /* a listener URL ("SSL://host:9093") has a second colon; the port is last */
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    return *end || errno || port < 1 || port > 65535 || !isdigit((unsigned char)colon[1]) ? why
                                                                                          : NULL;
}

int lf_kafka_probe(const char *section, const char *const *brokers, size_t nbrokers,
                   const char *const *topics, size_t ntopics, const char *const *names,
                   const char *const *values, size_t nprops, int timeout_ms, FILE *out)
{
    char err[512];
    rd_kafka_conf_t *conf = lf_kafka_conf_new(section, brokers, nbrokers, NULL, NULL, 0, names,
                                              values, nprops, err, sizeof(err));
    if (!conf) {
        fprintf(out, "%s: FAILED: %s\n", section, err);
        return -1;
    }
    /* A producer connects nowhere until asked: the metadata request is
     * the whole probe. */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(out, "%s: FAILED: %s\n", section, err);
        return -1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    int rc = 0;
    if (e) {
        fprintf(out, "%s: FAILED: no cluster metadata from the brokers (waited up to %d s): %s\n",
                section, timeout_ms / 1000, rd_kafka_err2str(e));
        rc = -1;
    } else {
        for (int i = 0; i < md->broker_cnt; i++)
            fprintf(out, "%s: broker %d at %s:%d: OK\n", section, (int)md->brokers[i].id,
                    md->brokers[i].host, md->brokers[i].port);
        for (size_t t = 0; t < ntopics; t++) {
            const struct rd_kafka_metadata_topic *found = NULL;
            for (int i = 0; i < md->topic_cnt && !found; i++)
                if (strcmp(md->topics[i].topic, topics[t]) == 0)
                    found = &md->topics[i];
            if (found && !found->err)
                fprintf(out, "%s: topic %s: OK, %d partitions\n", section, topics[t],
                        found->partition_cnt);
            else {
                fprintf(out, "%s: topic %s: FAILED: %s\n", section, topics[t],
                        found ? rd_kafka_err2str(found->err) : "does not exist on the cluster");
                rc = -1;
            }
        }
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_destroy(rk);
    return rc;
}
