/* Private to the forward pass (model/forward.c, fwd_matmul.c, fwd_plan.c): not an API. */
#ifndef CF_FWD_INT_H
#define CF_FWD_INT_H
#include <stdint.h>

#include "kernels/err.h"
#include "kernels/matmul.h"
#include "kernels/parallel.h"
#include "kernels/tuning.h"
#include "model/batch.h"
#include "model/context.h"

/* One product Y = act * W^T of a step (all jobs of a step share M and K). */
typedef struct {
    const cf_wmat *w;
    const void *act;   /* quantized activations for w's type */
    float *y;
    int64_t ldy;
} cf_fwd_mm_job;

/* Runs the jobs on this thread's share: the rows of all the weights laid end to end, cut into
 * one contiguous range per taking-part thread, balanced by weight bytes; the kernel runs
 * serially on each sub-range (row-invariant kernels: the split never changes a value).
 * thresh: thresh_matmul (MACs per thread).  No barrier at the end. */
void cf_fwd_mm_run(const cf_par *p, const cf_fwd_mm_job *jobs, int nj, int64_t M, long thresh);
void cf_fwd_mm_one(const cf_par *p, const cf_wmat *w, const void *act, int64_t M, float *y, int64_t ldy,
                   long thresh);
/* Jobs whose weights have the same shape: this thread computes the same rows [*n0, *n1) of each
 * (output columns of each product), cut at multiples of gran rows (a multiple of 16) and spread
 * over the team as cf_split does (thresh in MACs); so what follows elementwise on those columns
 * (SwiGLU of gate and up, the quantization of the result) can run on the same thread, on data
 * in its own cache.  An empty range when this thread has none.  No barrier. */
void cf_fwd_mm_cols(const cf_par *p, const cf_fwd_mm_job *jobs, int nj, int64_t M, long thresh, int64_t gran,
                    int64_t *n0, int64_t *n1);

/* Checks the batch against the context (ids, slots, positions, contiguity, size, logit subsets)
 * and fills c->grp_* (runs of one sequence), c->out_rows and c->sub_rows.  n_full: output rows
 * [0, n_full) take the whole output matmul (the last row without a subset and all before it);
 * n_sub: rows with a subset (c->sub_rows, indices into out_rows; some may lie below n_full). */
int cf_fwd_plan(cf_context *c, const cf_batch *b, int *n_groups, int *n_out, int *n_full, int *n_sub, cf_err *err);
/* Logits of the output rows with a subset (cf_batch.only): each row -INFINITY but for its ids,
 * those computed one output-matrix row at a time from the final normed activations (c->xn, one
 * row per output row) requantized one row at a time (c->act_row: this thread's buffer).  Rows
 * split over the team whole (a row's values never depend on the split or on the other rows:
 * bitwise those of the full output matmul).  No barrier. */
void cf_fwd_out_subset(const cf_par *p, cf_context *c, const cf_batch *b, int n_sub, float *logits);
/* Threads worth starting for this pass: the most any of its steps would use under the split rule
 * (more would only meet at barriers). */
int cf_fwd_team(const cf_context *c, const cf_batch *b, int n_groups, int n_out, const cf_tuning *tu, int nth);

#endif
