/* Rotary position embedding, both layouts, in place.
 *   CF_ROPE_NORM: interleaved pairs (x[2i], x[2i+1])   (llama / GGUF "normal")
 *   CF_ROPE_NEOX: halves (x[i], x[i + n_rot/2])         (qwen3, NeoX)
 * theta(pos, i) = pos * freq_scale * freq_base^(-2i/n_rot), i < n_rot/2; dims >= n_rot untouched.
 *   (y0, y1) = (x0 cos(theta) - x1 sin(theta), x0 sin(theta) + x1 cos(theta))
 * x: n_tok rows, each n_heads x head_dim floats (row stride ld floats); pos[t] per token.
 * Tokens x heads split across the team (thresh_rope, elements; the fused norm+rope uses
 * thresh_qknorm); no barrier at the end.  A row's result depends only on that row and pos[t].
 *
 * Angle precision (better than llama.cpp's all-float evaluation): the inverse frequencies are a
 * double-precision multiplicative recurrence of base^(-2/n_rot), theta is formed and reduced
 * modulo 2*pi in double, and only the reduced angle in [-pi, pi] is rounded to float before
 * sin/cos.  The error against a double-precision reference therefore stays ~1e-7 (relative to
 * |x|) at every position, including pos >= 32768, instead of growing with pos.
 * Preconditions (asserted): n_rot even, 0 < n_rot <= head_dim, mode NORM or NEOX,
 * freq_base > 0, ld >= n_heads * head_dim. */
#ifndef CF_ROPE_H
#define CF_ROPE_H
#include <stdint.h>

#include "kernels/cpu.h"
#include "kernels/parallel.h"

enum { CF_ROPE_NORM = 0, CF_ROPE_NEOX = 2 };

typedef struct {
    int mode;         /* CF_ROPE_NORM or CF_ROPE_NEOX */
    int n_rot;        /* rotated dims (even, <= head_dim) */
    float freq_base;  /* e.g. 10000, 1000000 */
    float freq_scale; /* linear position scaling, 1 = none */
} cf_rope_cfg;

void cf_rope(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim,
             const int32_t *pos, const cf_rope_cfg *cfg);
/* Fused per-head RMSNorm (weight w[head_dim] or NULL, eps) then RoPE, as qwen3 does for Q and K;
 * equal (within rounding) to cf_headnorm followed by cf_rope. */
void cf_headnorm_rope(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim,
                      const float *w, float eps, const int32_t *pos, const cf_rope_cfg *cfg);

typedef struct {
    void (*rope)(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim,
                 const int32_t *pos, const cf_rope_cfg *cfg);
    void (*headnorm_rope)(const cf_par *p, float *x, int64_t n_tok, int64_t ld, int n_heads, int head_dim,
                          const float *w, float eps, const int32_t *pos, const cf_rope_cfg *cfg);
} cf_rope_ops;
const cf_rope_ops *cf_rope_ops_for(cf_isa isa);

#endif
