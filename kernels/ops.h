/* The small element-wise kernels a forward pass needs.  All split rows/elements across the team
 * by their thresholds (thresh_softmax, thresh_swiglu, thresh_vec, thresh_embed; units: elements)
 * and do not barrier at the end.  Each output element is computed by the same instructions
 * wherever the split falls (vector tails are masked, never scalar), so results do not depend on
 * the thread count or on the other rows.
 * Preconditions (asserted): non-NULL buffers, sizes >= 0 (n >= 1 for softmax), ld >= n. */
#ifndef CF_OPS_H
#define CF_OPS_H
#include <stdint.h>

#include "kernels/cpu.h"
#include "kernels/parallel.h"

/* In-place softmax of each of `rows` rows of n floats (max-subtracted, numerically stable;
 * -inf entries give exactly 0; each row needs one finite entry). */
void cf_softmax(const cf_par *p, float *x, int64_t rows, int64_t n);
/* out[r][i] = silu(gate[r][i]) * up[r][i] = gate / (1 + exp(-gate)) * up;
 * rows x n, strides ld_out / ld_in floats (out may alias gate or up). */
void cf_swiglu(const cf_par *p, float *out, int64_t ld_out, const float *gate, const float *up, int64_t ld_in,
               int64_t rows, int64_t n);
/* out = gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), n elements (may alias). */
void cf_gelu(const cf_par *p, float *out, const float *x, int64_t n);
/* y[i] += x[i]  (n elements) */
void cf_add(const cf_par *p, float *y, const float *x, int64_t n);
/* y[i] *= s */
void cf_scale(const cf_par *p, float *y, float s, int64_t n);
/* out[t] = dequantized row ids[t] of table (rows of dim elements of `type`, cf_row_bytes(type,
 * dim) bytes each, dequantized by cf_dequantize_row); ids are checked by the caller.
 * out: n_tok x dim.  Tokens split across the team (thresh_embed). */
void cf_embed(const cf_par *p, float *out, const void *table, int type, int64_t dim, const int32_t *ids,
              int64_t n_tok);

typedef struct {
    void (*softmax)(const cf_par *p, float *x, int64_t rows, int64_t n);
    void (*swiglu)(const cf_par *p, float *out, int64_t ld_out, const float *gate, const float *up,
                   int64_t ld_in, int64_t rows, int64_t n);
    void (*gelu)(const cf_par *p, float *out, const float *x, int64_t n);
    void (*add)(const cf_par *p, float *y, const float *x, int64_t n);
    void (*scale)(const cf_par *p, float *y, float s, int64_t n);
} cf_ops_ops;
const cf_ops_ops *cf_ops_for(cf_isa isa);

/* Work split shared by the paths (elements are independent, so any split gives the same bits):
 * element-wise ops in granules of CF_OPS_GRANULE elements; swiglu in (row, column-chunk) items. */
enum { CF_OPS_GRANULE = 256, CF_OPS_CHUNK = 1024 };

#endif
