/* Kernel-benchmark harness: kb_push for the families, and the timing of one case in one thread
 * team (see bench_kernels.c for the sweep and the report).
 *
 * Timing: inside one cf_parallel_run team, the case's threshold is set for the mode (auto: as
 * in force, serial: huge, parallel: 0) through cf_tuning_mut() and restored at the end; a
 * warm-up, then batches of calls, each call followed by cf_barrier as a forward pass would.
 * Every thread times its own part of each call; a call's time is the slowest thread's part
 * (the critical path, excluding the barrier wait), and a batch's mean per call is one sample.
 * Reported: the median sample, plus the wall time per call including the barrier.
 * Per-call intervals use the time-stamp counter where there is one (clock_gettime costs ~80 ns
 * on some VMs), calibrated against the monotonic clock over the measurement, with the cost of
 * reading the counter itself subtracted. */
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bench/kbench.h"
#include "kernels/clock.h"
#include "kernels/tuning.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
/* Fenced rdtsc: rdtsc alone may execute before the previous instructions retire, and stores
 * still queued (the barrier's release of a line the other threads spin on) would delay the
 * call's own stores, so a call's interval would absorb the tail of the barrier before it.
 * mfence drains the store buffer (at the end: the call's own stores count), lfence orders. */
static inline int64_t ticks(void) {
    _mm_mfence();
    _mm_lfence();
    int64_t t = (int64_t)__rdtsc();
    _mm_lfence();
    return t;
}
#else
static inline int64_t ticks(void) { return cf_now_ns(); }
#endif

double kb_median(const double *v, int n) {
    double s[KB_MEDIAN_MAX];
    int k = 0;
    for (int i = 0; i < n && i < KB_MEDIAN_MAX; i++)
        if (v[i] == v[i]) s[k++] = v[i]; /* skip NaN */
    if (!k) return NAN;
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && s[j] < s[j - 1]; j--) {
            double t = s[j];
            s[j] = s[j - 1], s[j - 1] = t;
        }
    return k % 2 ? s[k / 2] : 0.5 * (s[k / 2 - 1] + s[k / 2]);
}

void *kb_alloc(size_t bytes) {
    size_t b = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, b ? b : 64);
    if (p) memset(p, 0, b ? b : 64);
    return p;
}

kb_case *kb_push(kb_case **cases, int *n, int *cap) {
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 32;
        kb_case *p = realloc(*cases, sizeof(kb_case) * nc);
        if (!p) return NULL;
        *cases = p;
        *cap = nc;
    }
    kb_case *c = &(*cases)[(*n)++];
    memset(c, 0, sizeof *c);
    return c;
}

enum { MAX_TH = 256, MAX_SAMPLES = 2000, MIN_SAMPLES = 5 };
#define TARGET_BATCH_NS 50000.0 /* aim for samples of >= 50 us */
/* Threshold that keeps any work serial, small enough that kernels may multiply it safely. */
#define FORCE_SERIAL (1L << 48)

typedef struct {
    kb_case *c;
    int tidx;   /* tuning parameter governing the split, -1 if none */
    long value; /* its value during this measurement */
    double min_time;
    int batch;
    atomic_int stop;
    struct {
        _Alignas(64) int64_t ns;
    } part[2][MAX_TH]; /* per-thread ticks of the current call, double-buffered by call parity */
    double tick_ns;    /* ns per tick */
    int64_t tick_cost; /* ticks one back-to-back ticks() pair measures */
    double samp[MAX_SAMPLES], wall[MAX_SAMPLES];
    int ns;
} tctx;

int kb_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void time_fn(const cf_par *p, void *arg) {
    tctx *x = arg;
    kb_case *c = x->c;
    long saved = 0;
    if (p->ith == 0 && x->tidx >= 0) {
        saved = cf_tuning_value(cf_tuning_get(), x->tidx);
        cf_tuning_set_value(cf_tuning_mut(), x->tidx, x->value);
    }
    cf_barrier(p);
    /* warm-up: two calls, then at least 10% of the measuring time */
    int64_t w0 = cf_now_ns();
    for (int k = 0;; k++) {
        int64_t t0 = cf_now_ns();
        c->run(p, c);
        cf_barrier(p);
        if (p->ith == 0) {
            int64_t now = cf_now_ns();
            double est = (double)(now - t0);
            int done = k >= 1 && (now - w0 >= x->min_time * 0.1e9 || k >= 50);
            if (done) {
                double b = TARGET_BATCH_NS / (est > 1 ? est : 1);
                x->batch = b < 1 ? 1 : b > 10000 ? 10000 : (int)b;
            }
            atomic_store(&x->stop, done);
        }
        cf_barrier(p);
        if (atomic_load(&x->stop)) break;
    }
    cf_barrier(p);
    if (p->ith == 0) {
        atomic_store(&x->stop, 0);
        int64_t best = INT64_MAX;
        for (int k = 0; k < 200; k++) {
            int64_t a = ticks(), b = ticks();
            if (b - a < best) best = b - a;
        }
        x->tick_cost = best;
    }
    cf_barrier(p);
    int64_t start = cf_now_ns(), tick0 = ticks();
    for (unsigned call = 0;;) {
        int64_t b0 = cf_now_ns();
        double crit = 0;
        for (int k = 0; k < x->batch; k++, call++) {
            int64_t t0 = ticks();
            c->run(p, c);
            x->part[call & 1][p->ith].ns = ticks() - t0 - x->tick_cost;
            cf_barrier(p);
            if (p->ith == 0) {
                int64_t m = 0;
                for (int i = 0; i < p->nth; i++)
                    if (x->part[call & 1][i].ns > m) m = x->part[call & 1][i].ns;
                crit += (double)m;
            }
        }
        if (p->ith == 0) {
            int64_t now = cf_now_ns();
            x->samp[x->ns] = crit / x->batch; /* ticks, converted below */
            x->wall[x->ns] = (double)(now - b0) / x->batch;
            x->ns++;
            int enough = x->ns >= MIN_SAMPLES && (double)(now - start) >= x->min_time * 1e9;
            atomic_store(&x->stop, enough || x->ns >= MAX_SAMPLES);
        }
        cf_barrier(p);
        if (atomic_load(&x->stop)) break;
    }
    if (p->ith == 0) {
        int64_t dt = cf_now_ns() - start, dk = ticks() - tick0;
        x->tick_ns = dk > 0 ? (double)dt / (double)dk : 1.0;
    }
    if (p->ith == 0 && x->tidx >= 0) cf_tuning_set_value(cf_tuning_mut(), x->tidx, saved);
}

/* Times case c on a team of nth threads in `mode` (0 auto, 1 forced serial, 2 forced parallel).
 * Returns the median critical-path ns per call; *min_ns the fastest sample (what the kernel does
 * undisturbed: useful when other processes compete); *wall_ns gets the median wall ns per call
 * including the barrier, *samples the number of samples. */
double kb_time_case(kb_case *c, int nth, int mode, double min_time, double *min_ns, double *wall_ns,
                    int *samples) {
    if (nth > MAX_TH) nth = MAX_TH;
    /* 64-byte aligned (calloc gives 16): part[] entries must own their cache lines, or a thread's
     * write shares a line with fields the other threads read every call (false sharing that came
     * and went with the heap's layout) */
    size_t xb = (sizeof(tctx) + 63) / 64 * 64;
    tctx *x = aligned_alloc(64, xb);
    if (!x) return -1;
    memset(x, 0, xb);
    x->c = c;
    x->tidx = c->thresh ? cf_tuning_find(c->thresh) : -1;
    x->value = x->tidx < 0 ? 0
               : mode == 1 ? FORCE_SERIAL
               : mode == 2 ? 0
                           : cf_tuning_value(cf_tuning_get(), x->tidx);
    x->min_time = min_time;
    atomic_init(&x->stop, 0);
    cf_parallel_run(nth, time_fn, x);
    qsort(x->samp, x->ns, sizeof(double), kb_cmp_double);
    qsort(x->wall, x->ns, sizeof(double), kb_cmp_double);
    double r = x->ns ? x->samp[x->ns / 2] * x->tick_ns : -1;
    if (x->ns && r < 0) r = 0;
    if (wall_ns) *wall_ns = x->ns ? x->wall[x->ns / 2] : -1;
    if (min_ns) *min_ns = x->ns ? (x->samp[0] * x->tick_ns > 0 ? x->samp[0] * x->tick_ns : 0) : -1;
    if (samples) *samples = x->ns;
    free(x);
    return r;
}
