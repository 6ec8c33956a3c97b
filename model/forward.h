/* The batched forward pass.
 *
 * cf_forward runs every token of the batch (model/batch.h) through the model in one parallel
 * region: the matmuls take all rows of the batch together (each weight read once per pass),
 * attention runs per sequence over its own KV slot, and the output projection runs only over
 * the tokens that ask for logits.
 *
 *   logits: cf_batch_n_logits(b) rows x n_vocab floats, in batch order of the asking tokens
 *           (may be NULL when none asks).
 *
 * A row's logits are bitwise identical whatever the thread count and whatever else is in the
 * batch (the kernels are row-invariant and the driver never splits by batch size).  On success
 * each sequence's slot length becomes its last position + 1. */
#ifndef CF_FORWARD_H
#define CF_FORWARD_H
#include "kernels/err.h"
#include "model/batch.h"
#include "model/context.h"

int cf_forward(cf_context *c, const cf_batch *b, float *logits, cf_err *err);

/* Per-step time accumulated by cf_forward when CINFER_PROFILE is set (thread 0's view, ns). */
typedef enum {
    CF_PROF_EMBED, CF_PROF_QKV, CF_PROF_ROPE, CF_PROF_ATTN, CF_PROF_WO, CF_PROF_NORM, CF_PROF_FFN_UP,
    CF_PROF_SWIGLU, CF_PROF_FFN_DOWN, CF_PROF_OUTPUT,
    CF_PROF_BARRIER, /* thread 0 waiting at the barrier that ends each step */
    CF_PROF_COUNT
} cf_prof_step;
void cf_forward_profile(int64_t ns[CF_PROF_COUNT], int64_t *n_forward);
const char *cf_prof_name(int step);
/* Everything the profile accumulates (model/profile.h turns it into a report). */
typedef struct {
    int64_t ns[CF_PROF_COUNT]; /* thread 0's time per step, barrier waits in CF_PROF_BARRIER */
    int64_t n_forward;         /* profiled cf_forward calls */
    int64_t tokens;            /* batch tokens */
    int64_t out_rows;          /* logits rows */
    int64_t out_full_passes;   /* passes that ran the whole output product (some row wanted all logits) */
    int64_t out_full_rows;     /* rows it covered */
    int64_t out_subset_ids;    /* output-matrix rows computed one by one for logit subsets */
    int64_t kv_attended;       /* sum over tokens of the positions each attends (pos + 1) */
    int64_t wall_ns;           /* wall time inside cf_forward (incl. team start/join, checks) */
} cf_fwd_prof;
void cf_forward_prof_read(cf_fwd_prof *out);
/* Turns profiling on (zeroing the counters) or off (keeping them); default: CINFER_PROFILE. */
void cf_forward_prof_enable(int on);

#endif
