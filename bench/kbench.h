/* Kernel benchmark cases: each kernel family describes one case per (kernel, size, type); the
 * harness (bench/kbench.c, `cinfer bench kernels`) verifies every case against the reference,
 * then times it per thread count and reports ns/op, GB/s or GOP/s, % of the machine's limit,
 * speedup vs 1 thread and the threshold in force. */
#ifndef CF_KBENCH_H
#define CF_KBENCH_H
#include <stddef.h>

#include "kernels/parallel.h"

typedef enum {
    KB_LIMIT_BW = 0,    /* bandwidth bound: compare bytes/s with measured DRAM (or cache) read */
    KB_LIMIT_FP32 = 1,  /* compare flop/s with the FP32 FMA peak */
    KB_LIMIT_INT8 = 2,  /* compare op/s with the int8 dot-product peak */
} kb_limit;

typedef struct kb_case kb_case;
struct kb_case {
    char kernel[32];        /* family/kernel name, e.g. "rmsnorm", "matmul" */
    char size[96];          /* human-readable size, e.g. "M=1 N=4096 K=4096" */
    char type[16];          /* weight / cache type, or "" */
    double bytes;           /* bytes moved per call (inputs read + outputs written) */
    double ops;             /* arithmetic ops per call (a multiply-add counts 2) */
    kb_limit limit;         /* which machine limit this case is judged against */
    long work;              /* work in the threshold's unit */
    const char *thresh;     /* tuning parameter name governing the split, e.g. "thresh_rmsnorm" */
    void *state;            /* inputs/outputs, owned by the case */
    /* Compares the active ISA path with the reference on this case's inputs; 0 = ok, else fills
     * msg.  Called single-threaded. */
    int (*verify)(kb_case *c, char *msg, size_t cap);
    /* One call of the kernel, by every thread of a team (the harness barriers after it). */
    void (*run)(const cf_par *p, kb_case *c);
    void (*free)(kb_case *c);
};

/* A family appends its cases for a sweep (quick = sub-minute subset); returns 0 or -1. */
typedef int (*kb_family_fn)(int quick, kb_case **cases, int *n, int *cap);
/* Helper for families: grows the array and returns a zeroed slot. */
kb_case *kb_push(kb_case **cases, int *n, int *cap);

/* Zeroed buffer for a case's operands (free() releases it): 64-byte aligned and a whole number
 * of cache lines, so no other allocation (another operand, the timing harness's per-thread slots)
 * shares a line with it: a heap neighbour written by one thread and read by another every call
 * made tiny 2-thread calls read 10-25% slower, by a layout that changed from run to run. */
void *kb_alloc(size_t bytes);

/* The families (bench/kb_*.c). */
int kb_family_norm(int quick, kb_case **cases, int *n, int *cap);
int kb_family_rope(int quick, kb_case **cases, int *n, int *cap);
int kb_family_attn(int quick, kb_case **cases, int *n, int *cap);
int kb_family_ops(int quick, kb_case **cases, int *n, int *cap);
int kb_family_matmul(int quick, kb_case **cases, int *n, int *cap);
/* Median critical-path ns per call of c on nth threads in mode 0 auto (threshold in force) /
 * 1 forced serial / 2 forced parallel; *min_ns the fastest batch, *wall_ns per call including the
 * barrier that follows it, *samples the number of batches (bench/kbench.c). */
double kb_time_case(kb_case *c, int nth, int mode, double min_time, double *min_ns, double *wall_ns,
                    int *samples);

/* Median of v[0..n) ignoring NaN (n <= KB_MEDIAN_MAX; the mean of the middle two when even);
 * NaN when nothing is left: the statistic of the benches' and the tuner's interleaved rounds. */
enum { KB_MEDIAN_MAX = 16 };
double kb_median(const double *v, int n);
/* qsort comparator for doubles, ascending. */
int kb_cmp_double(const void *a, const void *b);

#endif
