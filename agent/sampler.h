/*
 * sampler.h - system metrics from /proc, named as Metricbeat's system module
 * names them so that its Kibana dashboards graph them unchanged. Private to
 * agent/.
 *
 *   load    /proc/loadavg  -> system.load.1/5/15, system.load.norm.1/5/15
 *                             (divided by online CPUs), system.load.cores
 *   memory  /proc/meminfo  -> system.memory.total, .free, .used.bytes,
 *                             .used.pct, .actual.free (MemAvailable),
 *                             .actual.used.bytes, .actual.used.pct,
 *                             system.memory.swap.total, .free, .used.bytes,
 *                             .used.pct   (pct as a 0..1 fraction),
 *                             system.memory.cached, system.memory.hugepages.*
 *   cpu     /proc/stat     -> system.cpu.cores, system.cpu.total.pct and
 *                             system.cpu.{user,system,nice,idle,iowait,irq,
 *                             softirq,steal}.pct between two samples
 *                             (Metricbeat's scale: 0..cores), and each as
 *                             .norm.pct (0..1), as Metricbeat does by default
 *
 * Files are opened once and re-read with pread, so a sample costs a few
 * system calls and no allocation.
 */
#ifndef LF_SAMPLER_H
#define LF_SAMPLER_H

#include "lf.h"

struct lf_sampler;

/*
 * Opens the files of the metric sets in `sets` (enum lf_metricset bits) under
 * proc_root ("/proc", or a fake tree in tests; NULL means "/proc"); load
 * also reads stat, for the number of online CPUs. Each file is read once
 * here, so a missing or unparsable one fails create. Returns NULL with the
 * reason (which set, which file, why) in errbuf.
 */
struct lf_sampler *lf_sampler_create(const char *proc_root, unsigned sets, char *errbuf,
                                     size_t errlen);
void lf_sampler_destroy(struct lf_sampler *s);

/*
 * Reads one metric set now and adds its fields, and "event.dataset"
 * ("system.load", ...), to `ev` (numbers only; paths are static strings).
 * Returns 0; LF_ENOENT for cpu on the first call, or when no CPU time passed
 * since the previous one (a percentage needs two samples); LF_EIO or
 * LF_ESYNTAX if the file cannot be read or parsed, LF_ELIMIT if it outgrew
 * the sampler's buffer (the event is then left as it was, and the reason,
 * naming the file, is logged once until the set works again); LF_EINVAL for a
 * set not opened at create.
 */
int lf_sampler_collect(struct lf_sampler *s, unsigned set, struct lf_event *ev);

#endif
