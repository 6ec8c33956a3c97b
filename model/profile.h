/* Where the time of a token goes: the forward pass's per-step profile (model/forward.h,
 * cf_fwd_prof) turned into time per kernel family per token, each with the bytes and operations
 * it must move/do, achieved GB/s and GOP/s, and % of the machine limit that bounds it.
 *
 *   cf_fwd_prof mark;  cf_profile_start(&mark);          // enables profiling, zeroes counters
 *   ... cf_forward calls (and the sampler), timed as wall_s, sampling as sample_s ...
 *   cf_prof_report r;  cf_profile_build(&r, ctx, &mark, wall_s, sample_s, &limits);
 *   cf_profile_print(stderr, &r);
 *
 * Rows (per evaluated token): "matmul <type>" per weight type (QKV, Wo, FFN, output projections;
 * a step's time is shared among the weight types it reads by bytes; includes quantizing its
 * activations), "attention", "rope+kv" (Q/K norm, RoPE, KV store), "norms" (embedding,
 * residual + RMSNorm + activation quantization), "ops" (SwiGLU + quantization), "sampling"
 * (given by the caller: the sampler incl. constraint masks), "barrier wait" (thread 0 waiting
 * for the team at the end of each step: imbalance + sync cost) and "team start/join" (time in
 * cf_forward outside its parallel steps: the fork/join of the team and batch checks).
 * Every row is measured (none is wall minus the others); `sum_ns` is their sum and `wall_ns`
 * the caller's wall time per token, so the two agree only if nothing is missing.
 *
 * Bytes and ops are model-derived: weights are read once per forward pass; attention reads K and
 * V of every attended position; % of limit = (the roofline time: max(bytes / bandwidth,
 * ops / peak)) / measured time; the bound named is the larger term (int8 peak for quantized
 * matmuls, FP32 for the rest). */
#ifndef CF_PROFILE_H
#define CF_PROFILE_H
#include <stdio.h>

#include "model/context.h"
#include "model/forward.h"

typedef struct {
    double dram_gbs, fp32_gflops, int8_gops; /* bench/roofline.h at the run's thread count */
    int nth;
} cf_prof_limits;

enum { CF_PROF_MAX_ROWS = 16 };

typedef struct {
    char name[32];
    double ns;        /* per token */
    double bytes;     /* per token */
    double ops;       /* per token */
    double gbs, gops; /* achieved */
    const char *bound;/* "dram", "int8", "fp32" or "" (no model: barrier, start/join) */
    double pct;       /* % of the bound's limit, < 0 if none */
} cf_prof_row;

typedef struct {
    cf_prof_row rows[CF_PROF_MAX_ROWS];
    int n;
    double tokens;      /* evaluated tokens over the profiled span */
    double forwards;
    double sum_ns;      /* sum of rows, per token */
    double wall_ns;     /* caller's wall time per token */
    int bottleneck;     /* row with the most time */
    cf_prof_limits lim;
} cf_prof_report;

/* Turns profiling on (zeroing the counters) and records the starting point in *mark. */
void cf_profile_start(cf_fwd_prof *mark);
/* Builds the report over the span since mark.  wall_s: caller's wall time over the span;
 * sample_s: sampler time over the span (< 0: not measured, no sampling row).  Returns 0, or -1 if
 * no token was profiled. */
int cf_profile_build(cf_prof_report *r, const cf_context *c, const cf_fwd_prof *mark, double wall_s,
                     double sample_s, const cf_prof_limits *lim);
/* The table, the sum vs wall line and the bottleneck line. */
void cf_profile_print(FILE *f, const cf_prof_report *r, const char *title);

#endif
