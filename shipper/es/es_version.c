/*
 * es_version.c - which server GET / describes, and which template API and
 * bulk dialect logferry speaks to it.
 *
 * What tells the flavour: version.distribution ("opensearch"); an OpenSearch
 * with compatibility.override_main_response_version reports number 7.10.2,
 * with or without the distribution, but keeps its tagline, so the tagline
 * counts too. The X-Elastic-Product header (Elasticsearch 7.14 and later
 * send it; OpenSearch never does) settles a disagreement in favour of
 * Elasticsearch.
 *
 * What each can take: composable index templates (_index_template) came
 * with Elasticsearch 7.8 and every OpenSearch; 7.0-7.7 have only the legacy
 * _template API, typeless; 6.8 needs a mapping type in legacy templates and
 * "_type" in bulk actions. Anything older is refused. A major newer than
 * those we know is used as the newest we know, with a warning: refusing it
 * would stop every shipper of a fleet on the day the cluster is upgraded.
 */
#include "es_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The newest majors logferry was tested with. */
#define ES_NEWEST_MAJOR 9
#define OPENSEARCH_NEWEST_MAJOR 3

/* "7.10.2", "8.0.0-SNAPSHOT" -> 7, 10; false when it does not start with a number. */
static bool parse_version(const char *number, int *major, int *minor)
{
    char *end;
    long ma = strtol(number, &end, 10);
    if (end == number || ma < 0 || ma > 1000)
        return false;
    long mi = *end == '.' ? strtol(end + 1, NULL, 10) : 0;
    *major = (int)ma;
    *minor = mi < 0 || mi > 1000 ? 0 : (int)mi;
    return true;
}

enum lf_es_api lf_es_server_judge(const char *number, const char *distribution, const char *tagline,
                                  const char *product, struct lf_es_server *s, char *why,
                                  size_t whylen)
{
    memset(s, 0, sizeof(*s));
    why[0] = '\0';
    if (!number || !parse_version(number, &s->major, &s->minor)) {
        snprintf(why, whylen,
                 "GET / answered without a version.number logferry can read (%s): not "
                 "Elasticsearch or OpenSearch?",
                 number ? number : "none");
        return LF_ES_API_NONE;
    }
    bool elastic_header = product && strcmp(product, "Elasticsearch") == 0;
    s->opensearch = !elastic_header && ((distribution && strcmp(distribution, "opensearch") == 0) ||
                                        (tagline && strstr(tagline, "OpenSearch")));
    if (s->opensearch) {
        /* OpenSearch 1.x and 2.x may pose as Elasticsearch 7.10.2 for old
         * clients; every OpenSearch has composable templates. */
        s->compat = s->major == 7 && s->minor == 10;
        if (s->compat)
            snprintf(s->name, sizeof(s->name), "OpenSearch (compatibility mode: reports %.16s)",
                     number);
        else
            snprintf(s->name, sizeof(s->name), "OpenSearch %.32s", number);
        if (s->compat || (s->major >= 1 && s->major <= OPENSEARCH_NEWEST_MAJOR))
            return LF_ES_API_COMPOSABLE;
        if (s->major > OPENSEARCH_NEWEST_MAJOR) {
            s->future = true;
            return LF_ES_API_COMPOSABLE;
        }
        snprintf(why, whylen, "%s is not supported: logferry needs OpenSearch 1.0 or later",
                 s->name);
        return LF_ES_API_NONE;
    }
    snprintf(s->name, sizeof(s->name), "Elasticsearch %.32s", number);
    if (s->major > ES_NEWEST_MAJOR) {
        s->future = true;
        return LF_ES_API_COMPOSABLE;
    }
    if (s->major >= 8 || (s->major == 7 && s->minor >= 8))
        return LF_ES_API_COMPOSABLE;
    if (s->major == 7)
        return LF_ES_API_LEGACY;
    if (s->major == 6 && s->minor >= 8)
        return LF_ES_API_LEGACY_TYPED;
    snprintf(why, whylen,
             "%s is too old: logferry needs Elasticsearch 6.8 or later (or OpenSearch); upgrade "
             "the cluster, or ship to a file output meanwhile",
             s->name);
    return LF_ES_API_NONE;
}
