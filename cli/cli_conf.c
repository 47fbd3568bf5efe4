/*
 * cli_conf.c - what several subcommands do with a configuration: load it as
 * the agent's or the shipper's (printing every problem), and build the
 * index template its daemon would install, from the grammars that daemon
 * compiles (`check --print-template`, `setup`).
 */
#define _POSIX_C_SOURCE 200809L
#include "agent_config.h"
#include "cli.h"
#include "es_template.h"
#include "parser.h"
#include "shipper_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRBUF_SIZE (256u * 1024)

/* Whether an input of the agent (in omprog mode or not) uses grammar `name`:
 * the agent compiles only those, and only those shape its templates. */
static bool grammar_in_use(const struct lf_agent_conf *conf, const char *name, bool omprog)
{
    if (omprog)
        return strcmp(conf->omprog_grammar, name) == 0;
    for (size_t i = 0; i < conf->nfiles; i++)
        if (strcmp(conf->files[i].grammar, name) == 0)
            return true;
    return conf->journald_enabled && strcmp(conf->journald_grammar, name) == 0;
}

struct lf_es_template *lf_cli_template(const struct lf_cli_loaded *l, bool omprog, char *errbuf,
                                       size_t errlen)
{
    const struct lf_cli_template_source *src = &l->src;
    size_t n = src->ngrammars;
    struct lf_parser **parsers = calloc(n ? n : 1, sizeof(*parsers));
    struct lf_es_template *t = NULL;
    int rc = parsers ? 0 : LF_ENOMEM;
    if (rc)
        snprintf(errbuf, errlen, "out of memory");
    /* Compiled as the daemon compiles them: the agent only the grammars its
     * inputs use (the others stay NULL), the shipper all. */
    for (size_t i = 0; !rc && i < n; i++) {
        if (l->agent && !grammar_in_use(l->agent, src->grammars[i].name, omprog))
            continue;
        char err[1024];
        parsers[i] = lf_parser_create(&src->grammars[i], src->timezone, err, sizeof(err));
        if (!parsers[i]) {
            snprintf(errbuf, errlen, "grammar %s: %s", src->grammars[i].name, err);
            rc = LF_EINVAL;
        }
    }
    const lf_grok **all = NULL;
    const char **all_names = NULL;
    size_t nall = 0;
    if (!rc && lf_parser_groks_of(parsers, src->grammars, n, &all, &all_names, &nall)) {
        snprintf(errbuf, errlen, "out of memory");
        rc = LF_ENOMEM;
    }
    if (!rc)
        t = lf_es_template_for_grammars(all, all_names, nall, errbuf, errlen);
    free(all);
    free(all_names);
    for (size_t i = 0; parsers && i < n; i++)
        lf_parser_destroy(parsers[i]);
    free(parsers);
    return t;
}

int lf_cli_load(const char *command, const char *path, bool shipper, struct lf_cli_loaded *l)
{
    char *errbuf = malloc(ERRBUF_SIZE);
    unsigned nerrors = 0;
    memset(l, 0, sizeof(*l));
    if (!errbuf) {
        fprintf(stderr, "logferry %s: out of memory\n", command);
        return -1;
    }
    if (shipper && (l->shipper = lf_shipper_conf_load(path, errbuf, ERRBUF_SIZE, &nerrors)))
        l->src = (struct lf_cli_template_source){l->shipper->grammars, l->shipper->ngrammars,
                                                 l->shipper->timezone, l->shipper->es.index};
    if (!shipper && (l->agent = lf_agent_conf_load(path, errbuf, ERRBUF_SIZE, &nerrors)))
        l->src = (struct lf_cli_template_source){l->agent->grammars, l->agent->ngrammars,
                                                 l->agent->timezone, l->agent->es.index};
    if (!l->agent && !l->shipper) {
        fputs(errbuf, stderr);
        if (!shipper && path && strstr(errbuf, "unknown key 'shipper'"))
            fprintf(stderr, "%s: a `logferry shipper` configuration? give --shipper\n", path);
    }
    free(errbuf);
    return l->agent || l->shipper ? 0 : -1;
}

void lf_cli_unload(struct lf_cli_loaded *l)
{
    lf_agent_conf_free(l->agent);
    lf_shipper_conf_free(l->shipper);
}
