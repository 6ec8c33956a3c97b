/* The small element-wise kernels a forward pass needs.  All split rows/elements across the team
 * by their thresholds (thresh_softmax, thresh_swiglu, thresh_vec, thresh_embed) and do not
 * barrier at the end.  Results per element do not depend on the thread count. */
#ifndef CF_OPS_H
#define CF_OPS_H
#include <stdint.h>

#include "kernels/cpu.h"
#include "kernels/parallel.h"

/* In-place softmax of each of `rows` rows of n floats (max-subtracted, numerically stable). */
void cf_softmax(const cf_par *p, float *x, int64_t rows, int64_t n);
/* out[r][i] = silu(gate[r][i]) * up[r][i]; rows x n, strides ld_out / ld_in floats. */
void cf_swiglu(const cf_par *p, float *out, int64_t ld_out, const float *gate, const float *up,
               int64_t ld_in, int64_t rows, int64_t n);
/* out = gelu(x) (tanh approximation), n elements. */
void cf_gelu(const cf_par *p, float *out, const float *x, int64_t n);
/* y[i] += x[i]  (n elements) */
void cf_add(const cf_par *p, float *y, const float *x, int64_t n);
/* y[i] *= s */
void cf_scale(const cf_par *p, float *y, float s, int64_t n);
/* out[t] = dequantized row ids[t] of table (rows of dim elements of `type`); ids are checked by
 * the caller.  out: n_tok x dim. */
void cf_embed(const cf_par *p, float *out, const void *table, int type, int64_t dim,
              const int32_t *ids, int64_t n_tok);

typedef struct {
    void (*softmax)(const cf_par *p, float *x, int64_t rows, int64_t n);
    void (*swiglu)(const cf_par *p, float *out, int64_t ld_out, const float *gate, const float *up,
                   int64_t ld_in, int64_t rows, int64_t n);
    void (*gelu)(const cf_par *p, float *out, const float *x, int64_t n);
    void (*add)(const cf_par *p, float *y, const float *x, int64_t n);
    void (*scale)(const cf_par *p, float *y, float s, int64_t n);
} cf_ops_ops;
const cf_ops_ops *cf_ops_for(cf_isa isa);

#endif
