/*
 * sysmetrics.h - the metric sets of Metricbeat's system module that give one
 * event per thing (interface, disk, mount, process) or need a walk of /proc,
 * named, typed and computed as Metricbeat does. Private to agent/; load,
 * memory and cpu are in sampler.h.
 *
 *   network          /proc/net/dev     -> system.network.{name, in.*, out.*}
 *   diskio           /proc/diskstats   -> system.diskio.{name, read.*, write.*, io.*}
 *   filesystem       /proc/self/mounts, statvfs -> system.filesystem.*
 *   fsstat           the same, summed  -> system.fsstat.*
 *   process_summary  /proc/<pid>/stat  -> system.process.summary.*
 *   process          /proc/<pid>/stat, statm, cmdline, status -> the top N
 *                    processes by CPU and by memory: process.*, system.process.*
 *   uptime           /proc/uptime      -> system.uptime.duration.ms
 *
 * Everything comes from /proc (under proc_root): Metricbeat reads nothing of
 * these sets from /sys. Pseudo file systems are the "nodev" types of
 * /proc/filesystems, as Metricbeat's default filesystem.ignore_types.
 */
#ifndef LF_SYSMETRICS_H
#define LF_SYSMETRICS_H

#include "lf.h"

struct lf_sysmetrics;

/*
 * Called once per event: `ev` holds the set's fields and event.dataset;
 * `key` names the thing (interface, device, mount point, pid) or is "" for
 * a set with one event, so that the caller can tell documents apart. The
 * strings in `ev` live until the callback returns. A non-zero return stops
 * the walk and is returned by lf_sysmetrics_collect.
 */
typedef int (*lf_sysmetrics_emit_fn)(void *arg, struct lf_event *ev, const char *key);

/*
 * Opens the sets in `sets` (enum lf_metricset bits of the sets above) under
 * proc_root (NULL: "/proc"); top_n is how many processes the process set
 * reports by CPU and by memory each (the union goes out). Each file is read
 * once here, so a missing one fails create. NULL with the reason in errbuf.
 */
struct lf_sysmetrics *lf_sysmetrics_create(const char *proc_root, unsigned sets, unsigned top_n,
                                           char *errbuf, size_t errlen);
void lf_sysmetrics_destroy(struct lf_sysmetrics *m);

/*
 * Samples one set at now_ms (a monotonic clock: the process set divides CPU
 * time by the time between two samples) and calls emit for each event, after
 * clearing ev. Returns 0; LF_ENOENT for process on its first call (a
 * percentage needs two samples); LF_EIO, LF_ESYNTAX or LF_ELIMIT when a file
 * cannot be read or parsed (the reason is logged once until it works again);
 * LF_EINVAL for a set not opened; or what emit returned.
 */
int lf_sysmetrics_collect(struct lf_sysmetrics *m, unsigned set, int64_t now_ms,
                          struct lf_event *ev, lf_sysmetrics_emit_fn emit, void *arg);

#endif
