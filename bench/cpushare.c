#include "bench/cpushare.h"

#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "kernels/clock.h"

void cpu_snap_take(cpu_snap *s) {
    s->ok = 0;
    s->busy_s = s->self_s = 0;
    s->wall_s = cf_now_s();
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        s->self_s = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
                    1e-6 * (double)ru.ru_stime.tv_usec;
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return;
    unsigned long long v[8] = {0}; /* user nice system idle iowait irq softirq steal */
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                   &v[7]);
    fclose(f);
    if (n < 4) return;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0) hz = 100;
    s->busy_s = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)hz;
    s->ok = 1;
}

double cpu_others_share(const cpu_snap *a, const cpu_snap *b, int ncores) {
    double wall = b->wall_s - a->wall_s;
    if (!a->ok || !b->ok || wall <= 0 || ncores < 1) return -1;
    double others = (b->busy_s - a->busy_s) - (b->self_s - a->self_s);
    if (others < 0) others = 0;
    double share = others / (wall * ncores);
    return share > 1 ? 1 : share;
}
