/* A context: a model plus what running it needs — the KV cache (one slot per sequence), the
 * scratch buffers for the largest batch (allocated once), and the thread count.
 *
 * Memory: weights are the model's mmap; KV = 2 * n_layer * n_seq * n_ctx * kv_dim * (2|4) bytes;
 * scratch ~ n_batch * (4*n_embd + 2*q_dim + 2*kv_dim + 3*n_ff) floats plus activation buffers. */
#ifndef CF_CONTEXT_H
#define CF_CONTEXT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/attn.h"
#include "kernels/err.h"
#include "model/kvcache.h"
#include "model/model.h"

typedef struct {
    int64_t n_ctx;     /* positions per sequence; 0: min(model's context_length, 4096) */
    int n_seq;         /* sequence slots; 0: 1 */
    int n_batch;       /* most tokens in one forward pass; 0: 512 */
    int kv_type;       /* CF_T_F16 or CF_T_F32 (start from cf_ctx_default(): F32 is 0) */
    int n_threads;     /* 0: cf_default_threads() */
} cf_ctx_params;

/* Defaults: n_ctx 0 (from model), n_seq 1, n_batch 512, kv_type F16, n_threads 0. */
cf_ctx_params cf_ctx_default(void);

typedef struct cf_context {
    const cf_model *m;
    cf_ctx_params p;
    cf_kvcache kv;
    int q_dim, kv_dim, qkv_ld;
    /* scratch, n_batch rows each */
    float *x;          /* residual stream [n_embd] */
    float *xn;         /* normed input of the next matmul [n_embd] */
    float *qkv;        /* Q | K | V per row [qkv_ld] */
    float *att;        /* attention output [q_dim] */
    float *gate, *up;  /* FFN [n_ff] each */
    float *h;          /* swiglu(gate, up) [n_ff] */
    float *tmp;        /* projection outputs to add to the residual [n_embd] */
    void *act[3];      /* quantized activations, act_bytes each */
    size_t act_bytes;
    /* per-forward bookkeeping, n_batch entries each */
    int32_t *grp_row0, *grp_n, *grp_seq;  /* runs of one sequence's tokens in the batch */
    int32_t *out_rows;                    /* batch rows that want logits, ascending */
    int32_t *sub_rows;                    /* indices into out_rows whose logits are a subset (cf_batch.only) */
    void *act_row;                        /* one single-row activation buffer per thread (subset logits) */
    size_t act_row_bytes;
    int act_row_n;
    cf_attn_seq *attn;                    /* one per group, rebuilt per layer */
    size_t scratch_bytes;
} cf_context;

int cf_context_init(cf_context *c, const cf_model *m, const cf_ctx_params *p, cf_err *err);
void cf_context_free(cf_context *c);
/* Forgets sequence slot s (s < 0: all) so it can be reused. */
void cf_context_clear_seq(cf_context *c, int s);
/* Filled positions of slot s. */
int64_t cf_context_seq_len(const cf_context *c, int s);
/* One line each for weights, KV cache and scratch (MiB). */
void cf_context_print_mem(const cf_context *c, FILE *f);

#endif
