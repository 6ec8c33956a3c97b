#include "bench/handoff.h"

#include <stdatomic.h>
#include <stdint.h>

#include "bench/kbench.h"
#include "kernels/clock.h"
#include "kernels/cpu.h"
#include "kernels/parallel.h"

enum { TRIPS = 200, MAX_BATCHES = KB_MEDIAN_MAX };

typedef struct {
    _Alignas(64) atomic_uint line; /* the line that travels */
    _Alignas(64) int batches;
    double ns[MAX_BATCHES];
} pp_t;

static void pp_fn(const cf_par *p, void *arg) {
    pp_t *x = arg;
    if (p->nth < 2) { /* no second thread was given: nothing to measure */
        for (int b = 0; b < x->batches; b++) x->ns[b] = -1;
        return;
    }
    if (p->ith > 1) return;
    for (int b = 0; b < x->batches; b++) {
        cf_barrier(p);
        int64_t t0 = cf_now_ns();
        unsigned base = (unsigned)b * 2u * TRIPS;
        for (unsigned i = 0; i < TRIPS; i++) {
            unsigned want = base + 2u * i + (unsigned)p->ith; /* thread 0 moves on even values */
            while (atomic_load_explicit(&x->line, memory_order_acquire) != want) {
            }
            atomic_store_explicit(&x->line, want + 1, memory_order_release);
        }
        if (p->ith == 0) x->ns[b] = (double)(cf_now_ns() - t0) / TRIPS;
        /* thread 1's last store (base + 2 TRIPS) starts the next batch */
        while (atomic_load_explicit(&x->line, memory_order_acquire) != base + 2u * TRIPS) {
        }
    }
}

double cf_handoff_ns(int batches, double *min_ns) {
    if (min_ns) *min_ns = -1;
    if (cf_cpu()->n_cores < 2) return -1;
    if (batches < 1) batches = 1;
    if (batches > MAX_BATCHES) batches = MAX_BATCHES;
    pp_t x;
    atomic_init(&x.line, 0);
    x.batches = batches;
    cf_parallel_run(2, pp_fn, &x);
    double mn = x.ns[0];
    for (int b = 1; b < batches; b++)
        if (x.ns[b] < mn) mn = x.ns[b];
    if (min_ns) *min_ns = mn;
    return kb_median(x.ns, batches);
}
