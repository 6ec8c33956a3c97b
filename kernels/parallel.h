/* The thread team and the work-split rule every kernel uses.
 *
 * A forward pass opens ONE parallel region (cf_parallel_run) and calls kernels from every thread;
 * each kernel takes its slice with cf_split and the caller separates dependent steps with
 * cf_barrier (a spinning generation barrier, far cheaper than an OpenMP fork/join).
 * Kernels never barrier at their end unless their header says so.
 *
 * Determinism rule: a kernel's result for an output element never depends on nth or on which
 * thread computed it (split outputs, never a reduction). */
#ifndef CF_PARALLEL_H
#define CF_PARALLEL_H
#include <stdatomic.h>

typedef struct cf_team {
    _Alignas(64) atomic_uint count;
    _Alignas(64) atomic_uint gen;
    atomic_uint sleepers; /* threads asleep in the barrier (futex on gen) */
    int nth;
} cf_team;

typedef struct {
    int ith, nth;    /* this thread's index, team size */
    cf_team *team;   /* NULL when nth == 1 */
} cf_par;

/* A one-thread "team" for serial callers. */
extern const cf_par cf_par_serial;

/* Waits until all nth threads of the team arrive.  No-op for nth == 1.  Spins for about
 * CF_BARRIER_SPIN pause instructions (~140 us on Zen 4: a forward step's imbalance), then yields
 * the core (sched_yield) for up to CF_BARRIER_YIELD_NS, then sleeps on a futex, so a team sharing
 * its cores with other work does not burn them for long.  The yield phase keeps a VM's vCPU from
 * halting: on the 2-vCPU dev VM a futex wake-up took ~100+ us, longer than the spin, and two
 * threads fell into a convoy where every barrier waited for a wake-up (measured: 111 us per
 * barrier instead of 0.2 us in a kernel-bench loop). */
#define CF_BARRIER_SPIN 4096
#define CF_BARRIER_YIELD_NS 2000000 /* 2 ms */
void cf_barrier(const cf_par *p);

/* Runs fn on `nth` threads (an OpenMP parallel region); nth <= 0 means all cores.  The team's
 * barrier lines live in a page of their own (not on the caller's stack: docs/DESIGN.md). */
void cf_parallel_run(int nth, void (*fn)(const cf_par *p, void *arg), void *arg);

/* Number of threads that take part for `work` units when each needs at least `thresh` units:
 * clamp(work / thresh, 1, nth).  thresh <= 0 means always use all nth. */
int cf_split_nthreads(long work, long thresh, int nth);

/* How many threads cf_split gives a non-empty range: cf_split_nthreads(n * cost, ...), at most
 * one per granule of items, at least 1. */
int cf_split_used(long n, long cost, long thresh, long granule, int nth);

/* Splits n items, each `cost` work units, over the threads that take part (above, and at most
 * one per granule: a single row runs on thread 0, not on the last thread); ranges are
 * multiples of `granule` items (the last may be shorter).  Threads that do not take part get
 * an empty range [x, x). */
void cf_split(const cf_par *p, long n, long cost, long thresh, long granule, long *lo, long *hi);

/* Default team size: CINFER_THREADS, else OMP_NUM_THREADS, else the number of cores. */
int cf_default_threads(void);

#endif
