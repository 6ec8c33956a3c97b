/* Model quantization: the per-tensor type rule, a parallel row pipeline that streams converted
 * tensors into a GGUF writer, and `cinfer quantize` (a GGUF in, a GGUF out).
 *
 * Type rule (cf_qmix_type), given a target mix:
 *   - tensors with one dimension (norms, biases) are F32 whatever the mix;
 *   - f16 / bf16 / q8_0: every matrix gets the target type;
 *   - q4_0: matrices Q4_0; output.weight (or token_embd.weight when the model has no
 *     output.weight, i.e. tied) Q6_K, as llama.cpp's Q4_0;
 *   - q4_k (llama.cpp's Q4_K_M): matrices Q4_K; output.weight / tied token_embd.weight Q6_K;
 *     blk.N.attn_v.weight and blk.N.ffn_down.weight Q6_K for the layers where
 *     N < L/8, or N >= 7L/8, or (N - L/8) % 3 == 2 (L = layer count; integer division) -- the
 *     "use_more_bits" layers; an untied token_embd.weight stays Q4_K.
 *   - a row length that is not a multiple of the chosen type's block falls back: Q6_K -> Q8_0,
 *     Q4_K -> Q4_0 (llama.cpp uses Q5_0, which cinfer does not compute), and Q8_0 / Q4_0 -> F16.
 * general.file_type: F32 0, F16 1, Q4_0 2, Q8_0 7, Q4_K_M 15, BF16 32. */
#ifndef CF_QUANTIZE_MODEL_H
#define CF_QUANTIZE_MODEL_H
#include <stdint.h>

#include "kernels/err.h"
#include "kernels/quant.h"
#include "model/gguf.h"
#include "model/gguf_write.h"

typedef enum { CF_QMIX_F32, CF_QMIX_F16, CF_QMIX_BF16, CF_QMIX_Q8_0, CF_QMIX_Q4_0, CF_QMIX_Q4_K } cf_qmix;

/* "f32|f16|bf16|q8_0|q4_0|q4_k|q4_k_m" (case-insensitive); -1 if unknown. */
int cf_qmix_parse(const char *s);
const char *cf_qmix_name(int mix);
/* general.file_type value of a mix. */
uint32_t cf_qmix_file_type(int mix);

/* Type for tensor `name` of shape ne[0..n_dims) under `mix`, in a model of n_layer blocks that
 * has (has_output = 1) or lacks an output.weight. */
int cf_qmix_type(int mix, const char *name, const int64_t *ne, int n_dims, int n_layer, int has_output);

/* Fills dst[0..n) with row `row` of a tensor (as float). Called from several threads at once. */
typedef void (*cf_row_fn)(void *ctx, int64_t row, float *dst, int64_t n);

/* Streams `rows` rows of n elements, produced by fn and converted to `type`, into w (which must be
 * positioned at that tensor), using nth threads (<= 0: all cores).  The bytes do not depend on
 * nth. */
int cf_write_rows(cf_gguf_writer *w, int type, int64_t rows, int64_t n, cf_row_fn fn, void *ctx, int nth,
                  cf_err *err);

typedef struct {
    int mix;                 /* cf_qmix */
    int nth;                 /* threads (<= 0: all cores) */
    int allow_requantize;    /* 1: quantized sources are dequantized first (lossy twice) */
    int verbose;             /* 1: one line per tensor on stderr */
} cf_quantize_opts;

typedef struct {
    int64_t n_tensors, n_quantized;
    uint64_t bytes_in, bytes_out;
    int64_t count[CF_T_COUNT]; /* tensors per output type */
} cf_quantize_stats;

/* Quantizes the model in `in` to path `out` (metadata copied, general.file_type updated,
 * general.quantization_version = 2 when any tensor is quantized). */
int cf_quantize_gguf(const cf_gguf *in, const char *out, const cf_quantize_opts *o, cf_quantize_stats *st,
                     cf_err *err);

#endif
