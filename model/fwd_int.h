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

/* Checks the batch against the context (ids, slots, positions, contiguity, size) and fills
 * c->grp_* (runs of one sequence) and c->out_rows. */
int cf_fwd_plan(cf_context *c, const cf_batch *b, int *n_groups, int *n_out, cf_err *err);
/* Threads worth starting for this pass: the most any of its steps would use under the split rule
 * (more would only meet at barriers). */
int cf_fwd_team(const cf_context *c, const cf_batch *b, int n_groups, int n_out, const cf_tuning *tu, int nth);

#endif
