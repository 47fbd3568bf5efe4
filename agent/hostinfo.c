/*
 * hostinfo.c - host.hostname, host.architecture and host.os.* from uname(2)
 * and os-release(5), named as Beats' add_host_metadata names them.
 */
#define _POSIX_C_SOURCE 200809L
#include "hostinfo.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

/* Copies the value of KEY=value (quotes removed) into out. */
static void take_value(const char *v, char *out, size_t cap)
{
    size_t n = strcspn(v, "\n");
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v++;
        n -= 2;
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

/* The family of a distribution id, or NULL if not one we know. */
static const char *family_of(const char *id, size_t n)
{
    static const struct {
        const char *id, *family;
    } known[] = {{"debian", "debian"},    {"ubuntu", "debian"}, {"rhel", "redhat"},
                 {"centos", "redhat"},    {"fedora", "redhat"}, {"rocky", "redhat"},
                 {"almalinux", "redhat"}, {"amzn", "redhat"},   {"ol", "redhat"},
                 {"suse", "suse"},        {"sles", "suse"},     {"opensuse", "suse"},
                 {"arch", "arch"}};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strlen(known[i].id) == n && memcmp(known[i].id, id, n) == 0)
            return known[i].family;
    return NULL;
}

void lf_host_info_read(struct lf_host_info *h, const char *os_release)
{
    memset(h, 0, sizeof(*h));
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(h->hostname, sizeof(h->hostname), "%s", u.nodename);
        snprintf(h->architecture, sizeof(h->architecture), "%s", u.machine);
        snprintf(h->kernel, sizeof(h->kernel), "%s", u.release);
    }
    FILE *f = fopen(os_release ? os_release : "/etc/os-release", "re");
    if (!f && !os_release)
        f = fopen("/usr/lib/os-release", "re");
    if (!f)
        return;
    char line[512], like[256] = "";
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "NAME=", 5) == 0)
            take_value(line + 5, h->os_name, sizeof(h->os_name));
        else if (strncmp(line, "VERSION=", 8) == 0)
            take_value(line + 8, h->os_version, sizeof(h->os_version));
        else if (strncmp(line, "ID=", 3) == 0)
            take_value(line + 3, h->os_platform, sizeof(h->os_platform));
        else if (strncmp(line, "ID_LIKE=", 8) == 0)
            take_value(line + 8, like, sizeof(like));
        else if (strncmp(line, "VERSION_CODENAME=", 17) == 0)
            take_value(line + 17, h->os_codename, sizeof(h->os_codename));
    }
    fclose(f);
    /* The family: the id's own, else the first known id it is like. */
    const char *fam = family_of(h->os_platform, strlen(h->os_platform));
    for (const char *p = like; !fam && *p;) {
        size_t n = strcspn(p, " ");
        fam = family_of(p, n);
        p += n;
        p += strspn(p, " ");
    }
    snprintf(h->os_family, sizeof(h->os_family), "%s", fam ? fam : h->os_platform);
}

int lf_host_info_add(const struct lf_host_info *h, struct lf_event *ev)
{
    static const struct {
        const char *path;
        size_t off;
    } fields[] = {
        {"host.hostname", offsetof(struct lf_host_info, hostname)},
        {"host.architecture", offsetof(struct lf_host_info, architecture)},
        {"host.os.kernel", offsetof(struct lf_host_info, kernel)},
        {"host.os.name", offsetof(struct lf_host_info, os_name)},
        {"host.os.version", offsetof(struct lf_host_info, os_version)},
        {"host.os.platform", offsetof(struct lf_host_info, os_platform)},
        {"host.os.family", offsetof(struct lf_host_info, os_family)},
        {"host.os.codename", offsetof(struct lf_host_info, os_codename)},
    };
    int rc = lf_event_add_string(ev, "host.os.type", "linux", 5);
    for (size_t i = 0; !rc && i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *v = (const char *)h + fields[i].off;
        if (*v)
            rc = lf_event_add_string(ev, fields[i].path, v, strlen(v));
    }
    return rc;
}
