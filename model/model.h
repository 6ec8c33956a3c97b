/* A loaded model: hyperparameters and weight views into the mmap'ed GGUF (weights are never
 * copied; only F16/BF16 norm vectors, a few KB, are widened to f32).
 *
 * Every tensor the forward pass uses is checked at load for presence, type and shape, with an
 * error naming the tensor.  Shapes are GGUF's: ne[0] is the row length (the matmul K).
 *   token_embd   [n_embd, n_vocab]        any type cf_embed reads
 *   output       [n_embd, n_vocab]        optional (absent: tied to token_embd)
 *   output_norm  [n_embd]
 *   blk.L.attn_norm [n_embd], attn_q [n_embd, n_head*head_dim], attn_k / attn_v
 *        [n_embd, n_head_kv*head_dim], attn_output [n_head*head_dim, n_embd],
 *        attn_q_norm / attn_k_norm [head_dim] (qwen3), ffn_norm [n_embd],
 *        ffn_gate / ffn_up [n_embd, n_ff], ffn_down [n_ff, n_embd] */
#ifndef CF_MODEL_H
#define CF_MODEL_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"
#include "kernels/matmul.h"
#include "model/arch.h"
#include "model/gguf.h"

typedef struct {
    const float *attn_norm, *ffn_norm;   /* [n_embd] */
    const float *q_norm, *k_norm;        /* [head_dim] or NULL (arch without Q/K norm) */
    cf_wmat wq, wk, wv, wo;              /* attention projections */
    cf_wmat w_gate, w_up, w_down;        /* SwiGLU FFN */
} cf_layer;

typedef struct {
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
    int n_rot;               /* rotated dims per head (<= head_dim) */
    int64_t n_ctx_train;     /* <arch>.context_length (0 if absent) */
    float norm_eps, rope_base, rope_scale;
} cf_hparams;

typedef struct {
    cf_gguf gguf;            /* owns the map */
    const cf_arch *arch;
    cf_hparams hp;
    cf_layer *layers;        /* n_layer */
    const void *tok_embd;    /* n_vocab rows of tok_embd_type */
    int tok_embd_type;
    const float *output_norm;
    cf_wmat output;          /* tied: views token_embd */
    int tied;
    size_t weight_bytes;     /* bytes of all tensors the forward pass reads */
    int64_t n_params;        /* elements of those tensors */
    float **owned;           /* widened norm vectors (freed with the model) */
    int n_owned, cap_owned;
    void *pack;              /* PK16 copies of the Q4_0/Q8_0/Q4_K/Q6_K matrices (cf_model_pack), or NULL */
    size_t pack_bytes;
    char name[128];          /* general.name or the file name */
    int file_type;           /* general.file_type, -1 if absent */
} cf_model;

/* Opens path (mmap), reads hyperparameters and binds every weight.  On error the model is left
 * closed (nothing to free) and err says what and where. */
int cf_model_load(cf_model *m, const char *path, cf_err *err);
/* Same over a GGUF already opened (takes ownership of g, also on error). */
int cf_model_from_gguf(cf_model *m, cf_gguf *g, cf_err *err);
void cf_model_free(cf_model *m);

/* Builds the PK16 packed copy of every Q4_0 / Q8_0 / Q4_K / Q6_K matrix the forward pass multiplies by (see
 * kernels/matmul.h) and points their cf_wmat.pack at it, when the active ISA reads packed
 * weights and tuning mm_pack is on; called by the loaders.  Out of memory only leaves the model
 * unpacked (same results, slower decode).  Returns the bytes packed. */
size_t cf_model_pack(cf_model *m);

/* Dominant weight type (most bytes among the layer matrices), for reports. */
int cf_model_main_type(const cf_model *m);

#endif
