/* Synthetic models: a real tokenizer (every tokenizer.* key of a vocab GGUF, copied as is) and
 * seeded random weights, with the tensor names, shapes, order and metadata keys of llama.cpp's
 * llama / qwen3 GGUFs -- for benchmarks at realistic shapes.
 *
 * Weights (measured on ../shared/models/synth-*.gguf and reproduced here): Gaussian,
 *   matrices            N(0, 1/sqrt(ne[0]))    (ne[0] = the matmul's input length)
 *   token_embd          N(0, 0.02)
 *   output (untied)     N(0, 1/sqrt(n_embd))
 *   norms (incl. q/k)   1 + N(0, 0.1)
 * so RMS-normed activations stay near 1 and logits are spread but finite.
 *
 * The values depend only on (seed, tensor, row): the same seed gives the same file whatever the
 * thread count.  Tensor types follow quantize_model.h's rule for the chosen mix (f16, q8_0,
 * q4_0, q4_k = Q4_K_M); norms are F32.  Rows are generated, quantized and streamed to the file
 * chunk by chunk on all threads, so memory stays small whatever the model size.
 *
 * Metadata written, in this order: general.architecture, general.name, general.file_type,
 * <arch>.context_length, .embedding_length, .block_count, .feed_forward_length,
 * .attention.head_count, .attention.head_count_kv, .attention.layer_norm_rms_epsilon,
 * .rope.freq_base, then llama: .rope.dimension_count, .vocab_size; qwen3: .attention.key_length,
 * .attention.value_length; then the vocab's tokenizer.* keys; general.quantization_version = 2
 * for quantized mixes.
 * Tensors: token_embd, output_norm, [output], then per layer attn_norm, attn_q, attn_k, attn_v,
 * [qwen3: attn_q_norm, attn_k_norm], attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down. */
#ifndef CF_SYNTH_H
#define CF_SYNTH_H
#include <stdint.h>

#include "kernels/err.h"
#include "model/gguf.h"

/* Caps on the shape (CF_ELIMIT). */
#define CF_SYNTH_MAX_DIM    65536
#define CF_SYNTH_MAX_LAYERS 1024
#define CF_SYNTH_MAX_HEADS  1024

typedef struct {
    const char *arch;        /* "llama" or "qwen3" */
    int dim, layers, heads, kv_heads, ffn;
    int head_dim;            /* 0: dim / heads */
    int mix;                 /* cf_qmix (quantize_model.h): F16, Q8_0, Q4_0 or Q4_K */
    uint64_t seed;
    int64_t ctx;             /* <arch>.context_length; 0: 4096 */
    int tied;                /* 1: no output.weight */
    double rope_base;        /* 0: 10000 (llama) / 1000000 (qwen3) */
    double norm_eps;         /* 0: 1e-6 */
    const char *name;        /* general.name; NULL: "synth-<arch>-<dim>x<layers>-v<vocab>-seed<S>" */
    int nth;                 /* threads; <= 0: all cores */
} cf_synth_opts;

typedef struct {
    int64_t n_vocab, n_params, n_tensors;
    uint64_t bytes;          /* tensor data */
} cf_synth_stats;

/* Checks the options (shape relations, caps); err names the bad option. */
int cf_synth_check(const cf_synth_opts *o, cf_err *err);
/* Writes the model to path (via PATH.tmp).  vocab: an opened GGUF with tokenizer.ggml.tokens. */
int cf_synth_write(const cf_gguf *vocab, const cf_synth_opts *o, const char *path, cf_synth_stats *st,
                   cf_err *err);

#endif
