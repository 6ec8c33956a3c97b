/* Scale convention of the Q8_0-kind 8-bit activations (the activations of Q8_0 and Q4_0 weights;
 * blocks of 32, see kernels/matmul.h), process-wide.
 *
 * Both conventions give the same precision; they differ only in which rounding of the scale the
 * quants are computed against, which decides whether our logits track a given reference runtime
 * bit for bit or only statistically (on the random-weight test models one flipped quant moves a
 * row's NMSE by ~1e-4, so a different convention alone costs ~1e-3):
 *   CF_ACT_SCALE_F16  (default): q = rne(x * (127 / amax)), d = f16(amax / 127): llama.cpp's
 *                      block_q8_0 (quants from the unrounded scale, scale stored as f16).
 *   CF_ACT_SCALE_BF16: d = bf16(amax / 127), q = rne(x / d): ik_llama.cpp's block_q8_2 (scale
 *                      rounded to bf16 first, quants from the rounded scale).  A block whose d
 *                      is below FLT_MIN is stored as zeros.
 * amax = max |x| over the block; a block of zeros (or with a non-finite value) stores d = 0, q = 0.
 * Every ISA level quantizes to the same bytes under either convention (tested).
 *
 * The initial value comes from CINFER_ACT_SCALE=f16|bf16 (read on first use); cf_act_scale_set
 * overrides it.  Set it before a forward pass, not during one. */
#ifndef CF_ACT_SCALE_H
#define CF_ACT_SCALE_H
#include "kernels/err.h"

typedef enum { CF_ACT_SCALE_F16 = 0, CF_ACT_SCALE_BF16 = 1 } cf_act_scale;

cf_act_scale cf_act_scale_get(void);
void cf_act_scale_set(cf_act_scale s);
/* "f16" / "bf16" (case-insensitive) -> convention; -1 if neither. */
int cf_act_scale_parse(const char *s);
const char *cf_act_scale_name(cf_act_scale s);
/* Applies CINFER_ACT_SCALE if set (also done implicitly on first cf_act_scale_get); an unknown
 * value is an error naming the variable. */
int cf_act_scale_init(cf_err *err);

#endif
