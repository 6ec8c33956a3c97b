#include "kernels/parallel.h"

#include <omp.h>
#include <sched.h>
#include <stdlib.h>
#ifdef __linux__
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "kernels/clock.h"
#include "kernels/cpu.h"

const cf_par cf_par_serial = {0, 1, 0};

enum { TEAM_PAGE = 4096 }; /* a team gets one page (cf_parallel_run) */
_Static_assert(sizeof(cf_team) <= TEAM_PAGE, "a team fits its page");

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#ifdef __linux__
static void futex_wait(atomic_uint *a, unsigned val) {
    syscall(SYS_futex, (unsigned *)a, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}
static void futex_wake_all(atomic_uint *a) { syscall(SYS_futex, (unsigned *)a, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0); }
#endif

void cf_barrier(const cf_par *p) {
    if (p->nth <= 1) return;
    cf_team *t = p->team;
    unsigned gen = atomic_load_explicit(&t->gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&t->count, 1, memory_order_acq_rel) == (unsigned)p->nth - 1) {
        atomic_store_explicit(&t->count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&t->gen, 1, memory_order_seq_cst);
#ifdef __linux__
        if (atomic_load_explicit(&t->sleepers, memory_order_seq_cst)) futex_wake_all(&t->gen);
#endif
        return;
    }
    int64_t t_yield = 0;
    for (unsigned spins = 0; atomic_load_explicit(&t->gen, memory_order_acquire) == gen; spins++) {
        if (spins < CF_BARRIER_SPIN) {
            cpu_relax();
            continue;
        }
        /* then yield for a while: the core stays awake (a futex sleep lets a VM halt the vCPU, and
         * its wake-up can take longer than the spin above, so two threads can fall into a convoy
         * where every barrier costs a wake-up), while other runnable work still gets the core */
        int64_t now = cf_now_ns();
        if (!t_yield) t_yield = now;
        if (now - t_yield < CF_BARRIER_YIELD_NS) {
            sched_yield();
            continue;
        }
#ifdef __linux__
        /* announce, re-check (the releaser bumps gen before reading sleepers), then sleep while
         * gen is unchanged; spurious wake-ups just loop */
        atomic_fetch_add_explicit(&t->sleepers, 1, memory_order_seq_cst);
        if (atomic_load_explicit(&t->gen, memory_order_seq_cst) == gen) futex_wait(&t->gen, gen);
        atomic_fetch_sub_explicit(&t->sleepers, 1, memory_order_seq_cst);
#else
        sched_yield();
#endif
    }
}

int cf_default_threads(void) {
    const char *s = getenv("CINFER_THREADS");
    if (!s || !*s) s = getenv("OMP_NUM_THREADS");
    if (s && *s) {
        int n = atoi(s);
        if (n > 0) return n;
    }
    return cf_cpu()->n_cores;
}

void cf_parallel_run(int nth, void (*fn)(const cf_par *p, void *arg), void *arg) {
    if (nth <= 0) nth = cf_default_threads();
    if (nth == 1) {
        fn(&cf_par_serial, arg);
        return;
    }
    /* The team's lines get a page of their own: on the caller's stack, beside frames thread 0
     * writes every call, they made its serial calls in a team up to 25% slower than alone when the
     * vCPUs sat on different core complexes (docs/DESIGN.md, "A team's barrier lines"). */
    cf_team stack_team, *team = aligned_alloc(TEAM_PAGE, TEAM_PAGE);
    if (!team) team = &stack_team; /* correct, only slower */
    atomic_init(&team->count, 0);
    atomic_init(&team->gen, 0);
    atomic_init(&team->sleepers, 0);
    team->nth = nth;
#pragma omp parallel num_threads(nth)
    {
        cf_par p = {omp_get_thread_num(), omp_get_num_threads(), team};
        if (p.nth == 1) p.team = 0;
        fn(&p, arg);
    }
    if (team != &stack_team) free(team);
}

int cf_split_nthreads(long work, long thresh, int nth) {
    if (nth <= 1) return 1;
    if (thresh <= 0) return nth;
    long k = work / thresh;
    if (k < 1) return 1;
    return k < nth ? (int)k : nth;
}

int cf_split_used(long n, long cost, long thresh, long granule, int nth) {
    if (granule < 1) granule = 1;
    long chunks = (n + granule - 1) / granule;
    int used = cf_split_nthreads(n * (cost > 0 ? cost : 1), thresh, nth);
    return used > chunks ? (chunks > 0 ? (int)chunks : 1) : used; /* fewer granules than threads: the first take them */
}

void cf_split(const cf_par *p, long n, long cost, long thresh, long granule, long *lo, long *hi) {
    if (granule < 1) granule = 1;
    long chunks = (n + granule - 1) / granule;
    int used = cf_split_used(n, cost, thresh, granule, p->nth);
    if (p->ith >= used) {
        *lo = *hi = n;
        return;
    }
    long c0 = chunks * p->ith / used, c1 = chunks * (p->ith + 1) / used;
    long a = c0 * granule, b = c1 * granule;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}
