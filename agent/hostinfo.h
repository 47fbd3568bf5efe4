/*
 * hostinfo.h - what the metrics input says about the host in every event,
 * as Metricbeat's add_host_metadata does: host.hostname, host.architecture
 * and host.os.* (type, family, platform, name, version, codename, kernel).
 * Read once at start: uname(2) and os-release(5). Private to agent/.
 */
#ifndef LF_HOSTINFO_H
#define LF_HOSTINFO_H

#include "lf.h"

struct lf_host_info {
    char hostname[256];
    char architecture[65];
    char kernel[65];
    char os_name[128];    /* NAME */
    char os_version[128]; /* VERSION */
    char os_platform[64]; /* ID */
    char os_family[64];   /* debian, redhat, suse, arch, or ID */
    char os_codename[64]; /* VERSION_CODENAME */
};

/*
 * Fills h from uname and the os-release file at os_release (NULL: the
 * standard /etc/os-release, else /usr/lib/os-release). A missing file or key
 * leaves that field empty: fields left empty are not sent.
 */
void lf_host_info_read(struct lf_host_info *h, const char *os_release);

/* Adds the non-empty host fields to ev (strings borrowed from h). Returns 0
 * or what lf_event_add returned. */
int lf_host_info_add(const struct lf_host_info *h, struct lf_event *ev);

#endif
