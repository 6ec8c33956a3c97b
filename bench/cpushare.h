/* How much of the machine other processes used while we measured: a shared or busy machine
 * makes thread-team timings noise, and a load average taken before a run cannot tell. */
#ifndef CF_CPUSHARE_H
#define CF_CPUSHARE_H

typedef struct {
    double busy_s; /* machine-wide busy CPU seconds (/proc/stat: user nice system irq softirq steal) */
    double self_s; /* this process's CPU seconds (all threads, user + system) */
    double wall_s; /* monotonic clock */
    int ok;        /* 0 when /proc/stat could not be read */
} cpu_snap;

void cpu_snap_take(cpu_snap *s);
/* Share (0..1) of the machine's CPU capacity (ncores x wall time) between a and b used by other
 * processes and by the hypervisor (steal); -1 when unknown.  /proc/stat counts in 10 ms ticks:
 * meaningful over seconds. */
double cpu_others_share(const cpu_snap *a, const cpu_snap *b, int ncores);

#endif
